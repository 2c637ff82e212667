//! Sender presets: one setting, `sender`, gives a provider's route, captured headers, delivery
//! id, per-event keys, signature scheme, handshake and success reply.
//!
//! Presets are data: one JSON file per group of providers (`code.json`, `commerce.json`,
//! `messaging.json`, `platform.json`), each entry holding settings exactly as a user writes
//! them, its title, where its scheme is specified (`spec`) and where the provider shows its
//! secret (`secret_hint`). [`apply`] merges a preset under a config: every setting the user
//! gives wins; `signature` and `handshake` are merged key by key unless the user names another
//! `scheme` or `kind`.

pub mod describe;

use std::sync::LazyLock;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::senders::signature::SchemeName;

/// The group files, in the order the docs list them.
const GROUPS: [(&str, &str); 4] = [
    ("code", include_str!("code.json")),
    ("commerce", include_str!("commerce.json")),
    ("messaging", include_str!("messaging.json")),
    ("platform", include_str!("platform.json")),
];

/// The settings a preset may hold.
const SETTINGS: [&str; 9] = [
    "primary_key",
    "max_streams",
    "route",
    "capture_headers",
    "idempotency_header",
    "streams",
    "signature",
    "handshake",
    "reply",
];

/// Keys of `signature` that hold what verifies: one is required when the preset signs.
const CREDENTIALS: [&str; 4] = ["secret", "secrets", "public_key", "password"];

/// One provider's preset.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preset {
    pub name: String,
    pub title: String,
    /// Where the provider specifies what the preset does (docs pages, SDK sources).
    pub spec: Vec<String>,
    /// Where the provider's dashboard shows the secret: "give {hint} in signature.secret".
    #[serde(default)]
    pub secret_hint: Option<String>,
    pub settings: Map<String, Value>,
}

static PRESETS: LazyLock<Vec<Preset>> = LazyLock::new(|| {
    let mut all: Vec<Preset> = GROUPS
        .iter()
        .flat_map(|(group, text)| {
            serde_json::from_str::<Vec<Preset>>(text)
                .unwrap_or_else(|e| panic!("src/senders/presets/{group}.json: {e}"))
        })
        .collect();
    all.sort_by(|a, b| a.name.cmp(&b.name));
    all
});

/// Every preset, sorted by name.
pub fn all() -> &'static [Preset] {
    &PRESETS
}

/// The preset named `name`, or an error naming the closest ones.
pub fn find(name: &str) -> Result<&'static Preset, String> {
    if let Some(preset) = all().iter().find(|p| p.name == name) {
        return Ok(preset);
    }
    let mut near: Vec<(f64, &str)> = all()
        .iter()
        .map(|p| (strsim::jaro_winkler(name, &p.name), p.name.as_str()))
        .filter(|(score, _)| *score > 0.75)
        .collect();
    near.sort_by(|a, b| b.0.total_cmp(&a.0));
    let names: Vec<String> = near.iter().take(3).map(|(_, n)| format!("`{n}`")).collect();
    let hint = match names.as_slice() {
        [] => String::new(),
        [one] => format!("; did you mean {one}?"),
        more => format!("; did you mean one of {}?", more.join(", ")),
    };
    Err(format!(
        "unknown sender `{name}`{hint} (`tap-webhooks senders` lists them all)"
    ))
}

/// What [`apply`] did, for the config's error messages and start-up log.
#[derive(Debug, Default)]
pub struct Applied {
    /// The preset's name.
    pub name: String,
    /// Top-level settings that came from the preset (not given by the user).
    pub from_preset: Vec<String>,
    /// `signature` or `handshake` objects the user gave, completed from the preset's.
    pub merged: Vec<String>,
    /// Lines to log at WARN once at start.
    pub warnings: Vec<String>,
}

/// Why a preset could not be applied: the setting at fault and what to do.
#[derive(Debug, PartialEq, Eq)]
pub struct PresetError {
    pub key: String,
    pub message: String,
}

/// Merges the preset `config["sender"]` names under `config`. Nothing happens without `sender`.
pub fn apply(config: &mut Map<String, Value>) -> Result<Option<Applied>, PresetError> {
    let Some(sender) = config.get("sender") else {
        return Ok(None);
    };
    let name = sender.as_str().ok_or_else(|| PresetError {
        key: "sender".into(),
        message: "expected a preset name (a string); `tap-webhooks senders` lists them".into(),
    })?;
    let preset = find(name).map_err(|message| PresetError {
        key: "sender".into(),
        message,
    })?;
    let mut applied = Applied {
        name: preset.name.clone(),
        ..Applied::default()
    };
    for (key, value) in &preset.settings {
        match config.get_mut(key.as_str()) {
            None => {
                config.insert(key.clone(), value.clone());
                applied.from_preset.push(key.clone());
            }
            Some(given) => {
                if merge_object(key, given, value) {
                    applied.merged.push(key.clone());
                }
            }
        }
    }
    check_credentials(preset, config, &mut applied)?;
    Ok(Some(applied))
}

/// `signature` and `handshake` objects take the preset's keys the user left out, unless the
/// user names another scheme or kind (then theirs replaces the preset's). Other settings are
/// the user's alone. Whether the user's object was completed.
fn merge_object(key: &str, given: &mut Value, preset: &Value) -> bool {
    let tag = match key {
        "signature" => "scheme",
        "handshake" => "kind",
        _ => return false,
    };
    let (Value::Object(given), Value::Object(preset)) = (given, preset) else {
        return false;
    };
    if given.get(tag).is_some_and(|t| Some(t) != preset.get(tag)) {
        return false;
    }
    for (k, v) in preset {
        given.entry(k.clone()).or_insert_with(|| v.clone());
    }
    true
}

/// A preset that verifies needs its credential; `"signature": null` turns verification off
/// with a warning.
fn check_credentials(
    preset: &Preset,
    config: &Map<String, Value>,
    applied: &mut Applied,
) -> Result<(), PresetError> {
    let Some(Value::Object(signs)) = preset.settings.get("signature") else {
        return Ok(());
    };
    match config.get("signature") {
        Some(Value::Null) => {
            applied.warnings.push(format!(
                "signature: null: deliveries from {} are not verified (sender {}); anyone who \
                 has the webhook URL can send records",
                preset.title, preset.name
            ));
            Ok(())
        }
        Some(Value::Object(given)) if given.get("scheme") == signs.get("scheme") => {
            let Some(hint) = &preset.secret_hint else {
                return Ok(());
            };
            if CREDENTIALS.iter().any(|k| given.contains_key(*k)) {
                return Ok(());
            }
            let key = credential_key(signs);
            Err(PresetError {
                key: format!("signature.{key}"),
                message: format!(
                    "sender {} verifies {}'s signatures and needs this: set it to {hint} (in \
                     the config file, or in TAP_WEBHOOKS_SIGNATURE as {{\"{key}\": \"…\"}}); \
                     \"signature\": null turns verification off",
                    preset.name, preset.title
                ),
            })
        }
        _ => Ok(()),
    }
}

/// The `signature` key that holds what verifies, for the scheme `signature` names.
fn credential_key(signature: &Map<String, Value>) -> &'static str {
    signature
        .get("scheme")
        .and_then(|s| SchemeName::deserialize(s).ok())
        .map_or("secret", SchemeName::credential)
}

/// The settings a preset implies, as a config a user can copy: its settings, with a
/// placeholder where the secret goes.
pub fn implied_config(preset: &Preset) -> Value {
    let mut settings = preset.settings.clone();
    if let (Some(Value::Object(signature)), Some(hint)) =
        (settings.get_mut("signature"), &preset.secret_hint)
    {
        let key = credential_key(signature);
        signature.insert(key.into(), Value::String(format!("<{hint}>")));
    }
    if let Some(Value::Object(handshake)) = settings.get_mut("handshake")
        && matches!(
            handshake.get("kind").and_then(Value::as_str),
            Some("meta" | "ebay")
        )
    {
        handshake.insert(
            "verify_token".into(),
            Value::String("<the verify token you give the provider with the URL>".into()),
        );
    }
    Value::Object(settings)
}

/// The settings a preset may hold, for the unit test that checks the data.
pub fn allowed_settings() -> &'static [&'static str] {
    &SETTINGS
}

#[cfg(test)]
mod tests;
