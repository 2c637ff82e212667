//! Reading settings: config files merged in order (later keys win), `TAP_WEBHOOKS_<SETTING>`
//! variables on top, then one validation. An error names where the value at fault came from:
//! `file:line:column` when one file is read alone, else the file or the variable that set
//! the key.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::senders::presets;

use super::env::{EnvSettings, var_name};
use super::file::{ConfigFile, settings_schema};
use super::parts::Invalid;
use super::{Config, ConfigError, ConfigSource, mistakes};

impl Config {
    /// Reads and validates one config file (environment overrides included).
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Self::load_sources(&[ConfigSource::File(path.to_owned())])
    }

    /// Reads config files in order (later keys win), then applies `TAP_WEBHOOKS_<SETTING>`
    /// environment variables on top, and validates the result.
    pub fn load_sources(sources: &[ConfigSource]) -> Result<Config, ConfigError> {
        let env = EnvSettings::read(std::env::vars())?;
        for line in &env.unknown {
            log::warn!("{line}");
        }
        if !env.values.is_empty() {
            let names: Vec<&str> = env.values.keys().map(String::as_str).collect();
            log::info!(
                "settings from the environment (TAP_WEBHOOKS_<SETTING>): {}",
                names.join(", ")
            );
        }
        let files: Vec<&PathBuf> = sources
            .iter()
            .filter_map(|s| match s {
                ConfigSource::File(path) => Some(path),
                ConfigSource::Env => None,
            })
            .collect();
        // One file and no overrides: parse it as written, so that errors give line and column.
        if let ([path], true) = (files.as_slice(), env.values.is_empty()) {
            return Self::from_json(&read(path)?, &path.display().to_string());
        }
        let mut merged = Map::new();
        let mut origins = Origins::default();
        for path in files {
            let shown = path.display().to_string();
            let Value::Object(map) = parse_object(&read(path)?, &shown)? else {
                unreachable!("parse_object returns objects");
            };
            for (key, value) in map {
                origins.of.insert(key.clone(), shown.clone());
                merged.insert(key, value);
            }
            origins.all.push(shown);
        }
        if !env.values.is_empty() {
            origins.all.push("environment".into());
        }
        for (key, value) in env.values {
            origins.of.insert(key.clone(), var_name(&key));
            merged.insert(key, value);
        }
        Self::from_merged(Value::Object(merged), &origins)
    }

    /// Parses and validates config JSON; `origin` names the source in errors, which give the
    /// line and column.
    pub fn from_json(text: &[u8], origin: &str) -> Result<Config, ConfigError> {
        let value = parse_object(text, origin)?;
        if value.get("sender").is_some() {
            // A preset's settings have no line in this file: errors name the key instead.
            let origins = Origins {
                all: vec![origin.to_owned()],
                ..Origins::default()
            };
            return Self::from_merged(value, &origins);
        }
        let mut de = serde_json::Deserializer::from_slice(text);
        let file: ConfigFile = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let (path, inner) = (path_text(e.path()), e.into_inner());
            parse_error(origin, &path, &inner)
        })?;
        check_secrets(&value, |_| origin)?;
        Self::build(file).map_err(|Invalid { key, message }| ConfigError::Invalid {
            path: origin.to_owned(),
            key,
            message,
        })
    }

    /// Validates settings merged from several sources.
    fn from_merged(mut value: Value, origins: &Origins) -> Result<Config, ConfigError> {
        let origins = apply_preset(&mut value, origins)?;
        let origins = origins.as_ref();
        let file: ConfigFile = serde_path_to_error::deserialize(&value).map_err(|e| {
            let path = path_text(e.path());
            let inner = e.into_inner();
            // The key at fault: the path's first part, or the unknown key itself.
            let message = inner.to_string();
            let key = path
                .split(['.', '['])
                .next()
                .filter(|k| !k.is_empty())
                .or_else(|| message.strip_prefix("unknown field `")?.split('`').next())
                .unwrap_or_default();
            parse_error(origins.of(key), &path, &inner)
        })?;
        check_secrets(&value, |key| origins.of(key))?;
        Self::build(file).map_err(|Invalid { key, message }| {
            let top = key.split(['.', '[']).next().unwrap_or(key);
            ConfigError::Invalid {
                path: origins.of(top).to_owned(),
                key,
                message,
            }
        })
    }
}

/// Merges the preset `sender` names under the settings (see [`presets::apply`]); the keys it
/// gave are then said to come from it, in errors and in one INFO line.
fn apply_preset<'o>(
    value: &mut Value,
    origins: &'o Origins,
) -> Result<Cow<'o, Origins>, ConfigError> {
    let Value::Object(map) = value else {
        return Ok(Cow::Borrowed(origins));
    };
    let applied = presets::apply(map).map_err(|e| ConfigError::Parse {
        path: origins.of("sender").to_owned(),
        message: format!("{}: {}", e.key, e.message),
    })?;
    let Some(applied) = applied else {
        return Ok(Cow::Borrowed(origins));
    };
    let mut owned = origins.clone();
    let shown = format!("{} (sender {})", origins.of("sender"), applied.name);
    for key in &applied.from_preset {
        owned.of.insert(key.clone(), shown.clone());
    }
    for line in &applied.warnings {
        log::warn!("{line}");
    }
    let mut taken = applied.from_preset.clone();
    taken.extend(
        applied
            .merged
            .iter()
            .map(|k| format!("{k} (merged with yours)")),
    );
    if taken.is_empty() {
        taken.push("no settings".into());
    }
    log::info!(
        "sender {}: {} from its preset (`tap-webhooks senders {}` shows them)",
        applied.name,
        taken.join(", "),
        applied.name
    );
    Ok(Cow::Owned(owned))
}

/// Which source set each top-level key.
#[derive(Clone, Default)]
struct Origins {
    of: BTreeMap<String, String>,
    /// Every source, for an error no one key explains.
    all: Vec<String>,
}

impl Origins {
    fn of(&self, key: &str) -> &str {
        match self.of.get(key) {
            Some(origin) => origin,
            None if self.all.is_empty() => "environment",
            None => self.all.last().map_or("config", String::as_str),
        }
    }
}

fn read(path: &Path) -> Result<Vec<u8>, ConfigError> {
    std::fs::read(path).map_err(|source| ConfigError::Read {
        path: path.display().to_string(),
        source,
    })
}

/// The text as a JSON object, or an error at its line and column.
fn parse_object(text: &[u8], origin: &str) -> Result<Value, ConfigError> {
    match serde_json::from_slice::<Value>(text) {
        Ok(value @ Value::Object(_)) => Ok(value),
        Ok(_) => Err(ConfigError::Parse {
            path: origin.to_owned(),
            message: "config must be a JSON object ({...})".into(),
        }),
        Err(e) => Err(parse_error(origin, "", &e)),
    }
}

/// A serde error as `origin[:line:column]: path: message`, with a suggestion for a misspelt
/// key or value.
fn parse_error(origin: &str, path: &str, e: &serde_json::Error) -> ConfigError {
    let full = e.to_string();
    let position = format!(" at line {} column {}", e.line(), e.column());
    let bare = full.strip_suffix(&position).unwrap_or(&full).to_owned();
    // serde_path_to_error's path ends with the unknown key itself: name it once.
    let unknown = bare
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split('`').next());
    let path = match unknown.and_then(|key| path.strip_suffix(key)) {
        Some(parent) => parent.trim_end_matches('.'),
        None => path,
    };
    let message = mistakes::explain_unknown(&bare).unwrap_or(bare.clone());
    ConfigError::Parse {
        path: if e.line() > 0 {
            format!("{origin}:{}:{}", e.line(), e.column())
        } else {
            origin.to_owned()
        },
        message: if path.is_empty() {
            message
        } else {
            format!("{path}: {message}")
        },
    }
}

/// A deserializer's path as the user wrote it (`streams.push.primary_key`, `secrets[1]`),
/// leaving out the parts it could not follow.
fn path_text(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Enum { .. } | Segment::Unknown => {}
        }
    }
    out
}

/// Refuses a placeholder where a secret belongs, naming the key and its source.
fn check_secrets<'a>(value: &Value, origin: impl Fn(&str) -> &'a str) -> Result<(), ConfigError> {
    let Some((path, why)) = mistakes::placeholder_secret(value, &settings_schema()) else {
        return Ok(());
    };
    let top = path.split(['.', '[']).next().unwrap_or(&path);
    Err(ConfigError::Parse {
        path: origin(top).to_owned(),
        message: format!(
            "{path}: this looks like a placeholder, not a secret ({why}): set the secret your \
             provider shows, in the file or in the environment ({})",
            var_name(top)
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(json: &str) -> String {
        Config::from_json(json.as_bytes(), "t.json")
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn a_syntax_error_gives_file_line_and_column_and_no_question_mark() {
        let e = load("{\n  \"name\": \"x\",\n}\n");
        assert_eq!(e, "t.json:3:1: trailing comma");
        let e = load("{\n  \"max_body_bytes\": \"big\"\n}");
        assert!(
            e.starts_with("t.json:2:")
                && e.contains(": max_body_bytes: invalid type: string \"big\""),
            "{e}"
        );
        assert!(!e.contains("at line"), "{e}");
        let e = load(r#"{"route": {"heder": "X-A"}}"#);
        assert!(
            e.ends_with(": route: unknown field `heder`; did you mean `header`?"),
            "{e}"
        );
        assert_eq!(load("[1]"), "t.json: config must be a JSON object ({...})");
    }

    #[test]
    fn merged_sources_name_the_source_of_the_key_at_fault() {
        let mut origins = Origins::default();
        origins.of.insert("bind".into(), "TAP_WEBHOOKS_BIND".into());
        origins.of.insert("primry_key".into(), "b.json".into());
        origins.all = vec!["a.json".into(), "b.json".into(), "environment".into()];
        let merged =
            |json: serde_json::Value| Config::from_merged(json, &origins).unwrap_err().to_string();
        let e = merged(serde_json::json!({"bind": "nonsense"}));
        assert!(e.starts_with("TAP_WEBHOOKS_BIND: bind: "), "{e}");
        let e = merged(serde_json::json!({"primry_key": "id"}));
        assert_eq!(
            e,
            "b.json: unknown field `primry_key`; did you mean `primary_key`?"
        );
    }

    #[test]
    fn a_placeholder_secret_is_refused_naming_the_key() {
        let e = load(
            r#"{"signature": {"scheme": "github", "secret": "replace-with-the-webhook-secret"}}"#,
        );
        assert!(
            e.starts_with("t.json: signature.secret: this looks like a placeholder")
                && e.contains("TAP_WEBHOOKS_SIGNATURE")
                && !e.contains("the-webhook-secret"),
            "{e}"
        );
        let e =
            load(r#"{"signature": {"scheme": "stripe", "secrets": ["whsec_abc", "<secret>"]}}"#);
        assert!(e.contains("signature.secrets[1]"), "{e}");
    }
}
