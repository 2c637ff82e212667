//! Settings from `TAP_WEBHOOKS_<SETTING>` environment variables (Meltano's convention). Each
//! value is read by its setting's type, so a bad one is refused naming its variable; a
//! variable with the prefix that names no setting is reported rather than ignored.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::ConfigError;
use super::file::{ENV_PREFIX, settings_schema};
use super::mistakes::suggest;

/// Variables with the prefix that are read, but are not settings.
const NOT_SETTINGS: [&str; 1] = ["LOG_LEVEL"];
/// Test hooks (`TAP_WEBHOOKS_TEST_…`) are not settings either.
const TEST_HOOKS: &str = "TEST_";

/// What the environment gave: settings, and variables that look like settings but are not.
#[derive(Debug, Default)]
pub struct EnvSettings {
    /// Setting name → value.
    pub values: Map<String, Value>,
    /// A line for each `TAP_WEBHOOKS_<X>` variable that names no setting.
    pub unknown: Vec<String>,
}

/// The variable that sets `key`.
pub fn var_name(key: &str) -> String {
    format!("{ENV_PREFIX}{}", key.to_uppercase())
}

impl EnvSettings {
    /// Reads the settings among `vars`. Meltano's plugin extras (`TAP_WEBHOOKS__SELECT`,
    /// double underscore) are not settings and are left alone.
    pub fn read(vars: impl Iterator<Item = (String, String)>) -> Result<Self, ConfigError> {
        let schema = settings_schema();
        let properties = schema["properties"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let mut out = EnvSettings::default();
        for (name, text) in vars {
            let Some(setting) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            if setting.starts_with('_')
                || setting.starts_with(TEST_HOOKS)
                || NOT_SETTINGS.contains(&setting)
            {
                continue;
            }
            let key = setting.to_lowercase();
            let Some(property) = properties.get(&key) else {
                let hint = suggest(&key, properties.keys().map(String::as_str))
                    .map(|k| format!(" (did you mean {}?)", var_name(k)))
                    .unwrap_or_default();
                out.unknown.push(format!(
                    "environment variable {name} is not a setting and is ignored{hint}; \
                     `tap-webhooks --about` lists the settings"
                ));
                continue;
            };
            let value = read_value(&text, property).map_err(|message| ConfigError::Env {
                var: name.clone(),
                message,
            })?;
            out.values.insert(key, value);
        }
        Ok(out)
    }
}

/// A variable's text as the setting's type: a string setting takes the text as is, others
/// read it as JSON (`true`, `5`, `["a","b"]`, `{...}`); a setting that may be a string too
/// falls back to the text.
fn read_value(text: &str, property: &Value) -> Result<Value, String> {
    let mut types = BTreeSet::new();
    json_types(property, &mut types);
    let nullable = types.remove("null");
    if types.is_empty() || types.iter().all(|t| *t == "string") {
        return Ok(Value::String(text.to_owned()));
    }
    let parsed = serde_json::from_str::<Value>(text);
    match &parsed {
        Ok(value) if fits(value, &types, nullable) => return Ok(value.clone()),
        _ if types.contains("string") => return Ok(Value::String(text.to_owned())),
        _ => {}
    }
    let expected = types
        .iter()
        .map(|t| describe(t))
        .collect::<Vec<_>>()
        .join(" or ");
    // Echo the text only where no secret can be in it.
    let holds_secret = property.to_string().contains("\"secret\":true");
    Err(match parsed {
        Err(e) if types.contains("object") || types.contains("array") => {
            format!("not JSON ({e}); expected {expected}")
        }
        _ if holds_secret => format!("expected {expected}"),
        _ => format!("expected {expected}, not {text:?}"),
    })
}

/// The JSON types a setting's schema allows.
fn json_types<'a>(schema: &'a Value, out: &mut BTreeSet<&'a str>) {
    match &schema["type"] {
        Value::String(t) => {
            out.insert(t);
        }
        Value::Array(ts) => out.extend(ts.iter().filter_map(Value::as_str)),
        _ => {}
    }
    for key in ["anyOf", "oneOf"] {
        for member in schema[key].as_array().into_iter().flatten() {
            json_types(member, out);
        }
    }
}

fn fits(value: &Value, types: &BTreeSet<&str>, nullable: bool) -> bool {
    match value {
        Value::Null => nullable,
        Value::Bool(_) => types.contains("boolean"),
        Value::Number(n) if n.is_i64() || n.is_u64() => {
            types.contains("integer") || types.contains("number")
        }
        Value::Number(_) => types.contains("number"),
        Value::String(_) => types.contains("string"),
        Value::Array(_) => types.contains("array"),
        Value::Object(_) => types.contains("object"),
    }
}

fn describe(json_type: &str) -> &'static str {
    match json_type {
        "boolean" => "a boolean (true or false)",
        "integer" => "an integer (such as 5)",
        "number" => "a number (such as 2.5)",
        "array" => r#"a JSON array (such as ["a", "b"])"#,
        "object" => r#"a JSON object (such as {"key": "value"})"#,
        _ => "a string",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(vars: &[(&str, &str)]) -> Result<EnvSettings, ConfigError> {
        EnvSettings::read(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())))
    }

    #[test]
    fn a_bad_value_names_its_variable_and_the_expected_type() {
        let e = read(&[("TAP_WEBHOOKS_LISTEN", "no")])
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            r#"TAP_WEBHOOKS_LISTEN: expected a boolean (true or false), not "no""#
        );
        let e = read(&[("TAP_WEBHOOKS_MAX_RECORDS", "2.5")])
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("TAP_WEBHOOKS_MAX_RECORDS: expected an integer"),
            "{e}"
        );
        let e = read(&[("TAP_WEBHOOKS_ROUTE", "X-GitHub-Event")])
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("TAP_WEBHOOKS_ROUTE: not JSON") && e.contains("a JSON object"),
            "{e}"
        );
        // A value that may hold a secret is never echoed.
        let e = read(&[("TAP_WEBHOOKS_SIGNATURE", "\"hunter2\"")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("a JSON object") && !e.contains("hunter2"), "{e}");
    }

    #[test]
    fn values_are_read_by_type_and_strings_are_taken_as_written() {
        let env = read(&[
            ("TAP_WEBHOOKS_NAME", "123"),
            ("TAP_WEBHOOKS_MAX_RUN_SECONDS", "1.5"),
            ("TAP_WEBHOOKS_PRIMARY_KEY", "id"),
            ("TAP_WEBHOOKS_CAPTURE_HEADERS", r#"["X-A"]"#),
        ])
        .unwrap();
        assert_eq!(env.values["name"], "123");
        assert_eq!(env.values["max_run_seconds"], 1.5);
        assert_eq!(env.values["primary_key"], "id");
        assert_eq!(env.values["capture_headers"], serde_json::json!(["X-A"]));
        assert!(env.unknown.is_empty());
    }

    #[test]
    fn a_variable_naming_no_setting_is_reported_but_meltano_extras_are_not() {
        let env = read(&[
            ("TAP_WEBHOOKS_LISTN", "false"),
            ("TAP_WEBHOOKS__SELECT", "[]"),
            ("TAP_WEBHOOKS__LOAD_SCHEMA", "x"),
            ("TAP_WEBHOOKS_LOG_LEVEL", "debug"),
            ("TAP_WEBHOOKS_TEST_VENVS", "/x"),
        ])
        .unwrap();
        assert!(env.values.is_empty());
        assert_eq!(env.unknown.len(), 1, "{:?}", env.unknown);
        assert!(
            env.unknown[0].contains("TAP_WEBHOOKS_LISTN is not a setting")
                && env.unknown[0].contains("did you mean TAP_WEBHOOKS_LISTEN?"),
            "{}",
            env.unknown[0]
        );
    }
}
