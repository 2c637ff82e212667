//! The plugin definition for Meltano Hub, `meltano-hub/extractors/tap-webhooks/<variant>.yml`,
//! generated from what `tap-webhooks --about --format json` prints (the settings definition),
//! and a test that fails while the checked-in file differs from it.
//!
//! Each top-level setting is one Hub setting: Meltano passes settings to `serve --config ENV`
//! as `TAP_WEBHOOKS_<SETTING>` variables, which the tap reads for top-level settings only, so
//! nested objects (`signature`, `route`) stay single `object` settings rather than dotted
//! names. A setting holding a secret anywhere is `sensitive` (Meltano keeps it out of
//! meltano.yml and redacts it). YAML is written by PyYAML's `safe_dump` with its defaults
//! (sorted keys, 80 columns), as the Hub's own files are, from the pinned Meltano venv.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::common::targets::venv_exe;
use crate::common::wheel::{repository, run_ok};
use crate::common::*;
use serde_json::{Map, Value, json};

/// The Hub's variant: the publisher's namespace. The repository has no public home yet.
const VARIANT: &str = "tap-webhooks";
const REGENERATE: &str = "TAP_WEBHOOKS_REGENERATE=1 cargo test --test tests meltano_hub:: (after source scripts/test-env.sh)";

pub fn path() -> PathBuf {
    repository().join(format!("meltano-hub/extractors/tap-webhooks/{VARIANT}.yml"))
}

/// The Hub definition of the plugin, from the binary's `--about`.
pub fn definition() -> Value {
    let out = run_ok(
        "tap-webhooks --about --format json",
        Command::new(bin()).args(["--about", "--format", "json"]),
    );
    let about: Value = serde_json::from_slice(&out.stdout).expect("--about prints JSON");
    let mut capabilities: Vec<Value> = about["capabilities"].as_array().unwrap().clone();
    capabilities.sort_by_key(|c| c.as_str().unwrap_or_default().to_owned());
    let settings: Vec<Value> = about["settings"]["properties"]
        .as_object()
        .expect("--about lists settings")
        .iter()
        .map(|(name, schema)| setting(name, schema))
        .collect();
    let mut definition = json!({
        "name": about["name"],
        "namespace": "tap_webhooks",
        "variant": VARIANT,
        "label": "Webhooks",
        "description": about["description"],
        "keywords": ["webhooks", "http"],
        "pip_url": "tap-webhooks",
        "executable": "tap-webhooks",
        "capabilities": capabilities,
        "settings": settings,
        "commands": {
            "serve": {
                "args": "serve --config ENV",
                "description": "Receive webhooks continuously into the journal; syncs emit what it journaled",
            }
        },
    });
    if let Some(repo) = option_env!("CARGO_PKG_REPOSITORY").filter(|r| !r.is_empty()) {
        definition["repo"] = json!(repo);
    }
    definition
}

/// One setting: name, label, description, kind (with options), default and sensitivity.
fn setting(name: &str, schema: &Value) -> Value {
    let mut s = Map::new();
    s.insert("name".into(), json!(name));
    s.insert("label".into(), json!(label(name)));
    let description = schema["description"].as_str().unwrap_or_default();
    let description = description.split_whitespace().collect::<Vec<_>>().join(" ");
    s.insert("description".into(), json!(description));
    let secret = schema.to_string().contains("\"secret\":true");
    let types = types(schema);
    let kind = match types.as_slice() {
        [one] => one.as_str(),
        many if many.iter().any(|t| t == "object") => "object",
        many if many.iter().any(|t| t == "string") => "string",
        _ => "string",
    };
    let kind = match kind {
        "number" => "decimal",
        "string" if secret => "password",
        "string" if schema["enum"].is_array() => "options",
        other => other,
    };
    s.insert("kind".into(), json!(kind));
    if let Some(values) = schema["enum"].as_array() {
        let options: Vec<Value> = values
            .iter()
            .map(|v| json!({"label": label(v.as_str().unwrap_or_default()), "value": v}))
            .collect();
        s.insert("options".into(), json!(options));
    }
    if let Some(default) = schema.get("default").filter(|d| !d.is_null()) {
        s.insert("value".into(), default.clone());
    }
    if secret {
        s.insert("sensitive".into(), json!(true));
    }
    Value::Object(s)
}

/// The JSON types a setting may take, `null` left out (an absent setting is its default).
fn types(schema: &Value) -> Vec<String> {
    let mut out: Vec<String> = match &schema["type"] {
        Value::String(t) => vec![t.clone()],
        Value::Array(ts) => ts
            .iter()
            .filter_map(|t| t.as_str().map(str::to_owned))
            .collect(),
        _ => ["anyOf", "oneOf"]
            .iter()
            .filter_map(|k| schema[k].as_array())
            .flatten()
            .flat_map(types)
            .collect(),
    };
    out.retain(|t| t != "null");
    out.dedup();
    out
}

/// `max_body_bytes` → `Max Body Bytes`, with acronyms as they are written.
fn label(name: &str) -> String {
    name.split(['_', '-'])
        .map(|word| match word {
            "url" => "URL".to_owned(),
            "id" => "ID".to_owned(),
            "ids" => "IDs".to_owned(),
            "sha256" => "SHA-256".to_owned(),
            "cors" => "CORS".to_owned(),
            "nats" => "NATS".to_owned(),
            "http" => "HTTP".to_owned(),
            "hmac" => "HMAC".to_owned(),
            _ => {
                let mut c = word.chars();
                c.next()
                    .map(|f| f.to_uppercase().chain(c).collect())
                    .unwrap_or_default()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `definition` as the Hub's YAML, under a comment saying where it comes from.
pub fn yaml(definition: &Value) -> String {
    let mut child = Command::new(venv_exe("meltano", "python"))
        .args([
            "-c",
            "import json, sys, yaml; sys.stdout.write(yaml.safe_dump(json.load(sys.stdin)))",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run python");
    let input = definition.to_string();
    let mut stdin = child.stdin.take().unwrap();
    let writer =
        std::thread::spawn(move || std::io::Write::write_all(&mut stdin, input.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    format!(
        "# Meltano Hub plugin definition of tap-webhooks, generated from its settings definition\n\
         # (`tap-webhooks --about`). Regenerate: {REGENERATE}\n{}",
        String::from_utf8(out.stdout).unwrap()
    )
}

#[test]
fn the_meltano_hub_definition_is_the_one_generated_from_the_settings_definition() {
    let expected = yaml(&definition());
    let path = path();
    if std::env::var_os("TAP_WEBHOOKS_REGENERATE").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &expected).unwrap();
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == expected,
        "{} is stale: regenerate it with {REGENERATE}\n--- generated:\n{expected}",
        path.display()
    );
}

#[test]
fn every_setting_of_the_hub_definition_has_a_label_a_description_and_a_kind_meltano_knows() {
    let definition = definition();
    let kinds = [
        "string", "integer", "boolean", "decimal", "password", "options", "array", "object",
    ];
    for s in definition["settings"].as_array().unwrap() {
        assert!(!s["label"].as_str().unwrap().is_empty(), "{s}");
        assert!(!s["description"].as_str().unwrap().is_empty(), "{s}");
        assert!(kinds.contains(&s["kind"].as_str().unwrap()), "{s}");
    }
    let by_name = |n: &str| {
        definition["settings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == n)
            .unwrap_or_else(|| panic!("no setting {n}"))
            .clone()
    };
    assert_eq!(
        by_name("signature")["sensitive"],
        true,
        "the signing secret is sensitive"
    );
    assert_eq!(by_name("listen")["kind"], "boolean");
    assert_eq!(by_name("listen")["value"], true);
    assert_eq!(by_name("max_fields")["kind"], "integer");
    assert_eq!(by_name("journal_retention_hours")["kind"], "decimal");
    assert_eq!(by_name("public_url")["label"], "Public URL");
    assert_eq!(by_name("bind")["sensitive"], Value::Null);
}
