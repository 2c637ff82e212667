//! `--about`: name, version, capabilities and settings, in the shapes Meltano SDK taps print.
//! The settings are the JSON Schema of [`crate::config::ConfigFile`], the same definition
//! the config parser uses; the markdown format is the configuration reference
//! (docs/configuration.md).

mod reference;
pub mod senders;

use serde_json::{Value, json};

use crate::config::settings_schema;

pub const CAPABILITIES: [&str; 4] = ["catalog", "discover", "state", "about"];
const DESCRIPTION: &str = "Singer tap for incoming webhooks: receives JSON webhooks over HTTP, \
     journals them durably and emits Singer SCHEMA, RECORD and STATE messages.";

/// How `--about` is printed (`--format`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum AboutFormat {
    #[default]
    Text,
    Json,
    Markdown,
}

pub fn about_json() -> Value {
    json!({
        "name": env!("CARGO_PKG_NAME"),
        "description": DESCRIPTION,
        "version": env!("CARGO_PKG_VERSION"),
        "capabilities": CAPABILITIES,
        "settings": settings_schema(),
    })
}

/// The settings as (name, default shown as text, description, secret).
fn settings_rows(about: &Value) -> Vec<(String, String, String, bool)> {
    let mut rows = Vec::new();
    if let Some(props) = about["settings"]["properties"].as_object() {
        for (name, p) in props {
            let default = match p.get("default") {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(s)) => s.clone(),
                Some(v) => v.to_string(),
            };
            let description = p["description"].as_str().unwrap_or("").replace('\n', " ");
            let secret =
                p["secret"].as_bool().unwrap_or(false) || p.to_string().contains("\"secret\":true");
            rows.push((name.clone(), default, description, secret));
        }
    }
    rows
}

pub fn render(format: AboutFormat) -> String {
    let about = about_json();
    match format {
        AboutFormat::Json => serde_json::to_string_pretty(&about).expect("JSON serializes"),
        AboutFormat::Markdown => reference::markdown(&about, DESCRIPTION, &CAPABILITIES)
            .trim_end()
            .to_owned(),
        AboutFormat::Text => {
            let mut out = format!(
                "Name: {}\nDescription: {}\nVersion: {}\nCapabilities: {}\nSettings:\n",
                about["name"].as_str().unwrap_or_default(),
                DESCRIPTION,
                about["version"].as_str().unwrap_or_default(),
                CAPABILITIES.join(", ")
            );
            for (name, default, description, secret) in settings_rows(&about) {
                let default = if default.is_empty() {
                    String::new()
                } else {
                    format!(" (default: {default})")
                };
                let secret = if secret { " [secret]" } else { "" };
                out.push_str(&format!("  {name}{default}{secret}: {description}\n"));
            }
            out
        }
    }
}
