//! `--about --format markdown`: the configuration reference, made from the settings' JSON
//! Schema. docs/configuration.md is this output, checked in (a test compares them).

use serde_json::Value;

use crate::config::ENV_PREFIX;

/// The command that writes docs/configuration.md.
pub const REGENERATE: &str = "cargo run -- --about --format markdown > docs/configuration.md";

/// The whole reference: the top-level settings, then a section for each setting made of keys.
pub fn markdown(about: &Value, description: &str, capabilities: &[&str]) -> String {
    let name = about["name"].as_str().unwrap_or_default();
    let settings = &about["settings"];
    let mut out = format!(
        "# `{name}` settings\n\n\
         <!-- Generated from the settings definition (src/config/file.rs) by \
         `{name} --about --format markdown`; do not edit. Regenerate with `{REGENERATE}`. -->\n\n\
         {description}\n\nCapabilities: {}.\n\n",
        capabilities
            .iter()
            .map(|c| format!("`{c}`"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    out.push_str(&format!(
        "Settings come from the JSON file given with `--config` (repeat it to merge several \
         files, later ones winning), and from environment variables `{ENV_PREFIX}<SETTING>` \
         (`{ENV_PREFIX}LISTEN=false`), which override the files. A variable of a string setting \
         is taken as written; others are read as JSON (`true`, `5`, `[\"a\", \"b\"]`, \
         `{{\"scheme\": \"github\", \"secret\": \"...\"}}`). `--config ENV` reads the environment \
         alone. Every setting is optional. An unknown key, a value of the wrong type and a \
         placeholder where a secret belongs are errors that name the key. Secrets (marked \
         *secret*) are never logged.\n\n\
         ## Settings\n\n"
    ));
    let Some(properties) = settings["properties"].as_object() else {
        return out;
    };
    table(&mut out, "", &Value::Null, properties.iter());
    for (key, schema) in properties {
        section(&mut out, key, schema);
    }
    out
}

/// A table of settings, each row: name (with `prefix`), type, default (or "required"),
/// description.
fn table<'a>(
    out: &mut String,
    prefix: &str,
    required: &Value,
    rows: impl Iterator<Item = (&'a String, &'a Value)>,
) {
    out.push_str("| Setting | Type | Default | Description |\n|:--|:--|:--|:--|\n");
    let required: Vec<&str> = required
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    for (key, schema) in rows {
        let default = if required.contains(&key.as_str()) {
            "required".to_owned()
        } else {
            default_text(schema)
        };
        let secret = if schema["secret"] == true {
            " *secret*"
        } else {
            ""
        };
        out.push_str(&format!(
            "| `{prefix}{key}` | {} | {} | {}{secret} |\n",
            type_text(schema),
            default,
            cell(schema["description"].as_str().unwrap_or(""))
        ));
    }
    out.push('\n');
}

/// A section for a setting made of keys (`signature`, `route`, `journal`, `streams.<name>`).
fn section(out: &mut String, key: &str, schema: &Value) {
    let object = non_null(schema);
    if let Some(properties) = object["properties"].as_object() {
        out.push_str(&format!("## `{key}`\n\n{}\n\n", text(schema)));
        table(
            out,
            &format!("{key}."),
            &object["required"],
            properties.iter(),
        );
        for (name, sub) in properties {
            values(out, &format!("{key}.{name}"), sub);
        }
    } else if let Some(properties) = object["additionalProperties"]["properties"].as_object() {
        out.push_str(&format!("## `{key}.<name>`\n\n{}\n\n", text(schema)));
        let item = &object["additionalProperties"];
        table(
            out,
            &format!("{key}.<name>."),
            &item["required"],
            properties.iter(),
        );
    } else if let Some(variants) = object["oneOf"].as_array() {
        out.push_str(&format!("## `{key}`\n\n{}\n\n", text(schema)));
        for variant in variants {
            let kind = variant["properties"]["kind"]["const"]
                .as_str()
                .unwrap_or("?");
            let keys: Vec<(&String, &Value)> = variant["properties"]
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(k, _)| *k != "kind")
                .collect();
            if keys.is_empty() {
                out.push_str(&format!(
                    "`{{\"kind\": \"{kind}\"}}` has no other keys.\n\n"
                ));
                continue;
            }
            out.push_str(&format!("### `{key}` with `\"kind\": \"{kind}\"`\n\n"));
            if let Some(doc) = variant["description"].as_str() {
                out.push_str(&format!("{}\n\n", one_line(doc)));
            }
            table(
                out,
                &format!("{key}."),
                &variant["required"],
                keys.into_iter(),
            );
        }
    }
}

/// The values a key may take, when each has a description (`signature.scheme`).
fn values(out: &mut String, key: &str, schema: &Value) {
    let Some(variants) = schema["oneOf"].as_array() else {
        return;
    };
    if !variants.iter().all(|v| v["description"].is_string()) {
        return;
    }
    out.push_str(&format!("`{key}` is one of:\n\n"));
    for v in variants {
        out.push_str(&format!(
            "- `{}`: {}\n",
            v["const"].as_str().unwrap_or("?"),
            one_line(v["description"].as_str().unwrap_or(""))
        ));
    }
    out.push('\n');
}

/// The schema without its `null` alternative (`Option` settings).
fn non_null(schema: &Value) -> &Value {
    match schema["anyOf"].as_array() {
        Some(members) => members
            .iter()
            .find(|m| m["type"] != "null")
            .unwrap_or(schema),
        None => schema,
    }
}

/// The JSON type(s) a setting takes, in words.
fn type_text(schema: &Value) -> String {
    if let Some(values) = schema["enum"].as_array() {
        return values
            .iter()
            .filter(|v| !v.is_null())
            .map(|v| format!("`{v}`"))
            .collect::<Vec<_>>()
            .join(" or ");
    }
    if let Some(c) = schema.get("const") {
        return format!("`{c}`");
    }
    let mut parts = Vec::new();
    for key in ["anyOf", "oneOf"] {
        for member in schema[key].as_array().into_iter().flatten() {
            if member["type"] != "null" {
                let t = type_text(member);
                if !parts.contains(&t) {
                    parts.push(t);
                }
            }
        }
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    for t in types.into_iter().filter(|t| *t != "null") {
        let word = match (t, schema["items"]["type"].as_str()) {
            ("array", Some(item)) => format!("array of {item}s"),
            (t, _) => t.to_owned(),
        };
        if !parts.contains(&word) {
            parts.push(word);
        }
    }
    // A choice of constants (`scheme`) reads better as "string".
    if !parts.is_empty() && parts.iter().all(|p| p.starts_with('`')) {
        return "string".into();
    }
    parts.join(" or ")
}

fn default_text(schema: &Value) -> String {
    match schema.get("default") {
        None | Some(Value::Null) => String::new(),
        // Seconds and hours are floats in the code, whole numbers to a reader.
        Some(Value::Number(n))
            if n.as_f64()
                .is_some_and(|f| f.fract() == 0.0 && f.abs() < 1e15) =>
        {
            format!("`{}`", n.as_f64().unwrap_or_default() as i64)
        }
        Some(v) => format!("`{}`", cell(&v.to_string())),
    }
}

fn text(schema: &Value) -> String {
    one_line(schema["description"].as_str().unwrap_or(""))
}

/// Doc comments wrap lines; markdown cells cannot.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn cell(text: &str) -> String {
    one_line(text).replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn types_read_as_words() {
        assert_eq!(type_text(&json!({"type": ["string", "null"]})), "string");
        assert_eq!(
            type_text(&json!({"type": "array", "items": {"type": "string"}})),
            "array of strings"
        );
        assert_eq!(
            type_text(&json!({"anyOf": [{"anyOf": [{"type": "string"},
                {"type": "array", "items": {"type": "string"}}]}, {"type": "null"}]})),
            "string or array of strings"
        );
        assert_eq!(
            type_text(&json!({"enum": ["hex", "base64", null]})),
            "`\"hex\"` or `\"base64\"`"
        );
        assert_eq!(
            type_text(&json!({"oneOf": [{"const": "a", "type": "string"}]})),
            "string"
        );
    }

    /// docs/configuration.md is the reference as the code prints it.
    #[test]
    fn the_checked_in_configuration_reference_is_the_generated_one() {
        let checked_in = include_str!("../../docs/configuration.md");
        let generated = format!(
            "{}\n",
            crate::about::render(crate::about::AboutFormat::Markdown)
        );
        assert!(
            checked_in == generated,
            "docs/configuration.md differs from what the settings definition gives: regenerate \
             it with `{REGENERATE}`"
        );
    }
}
