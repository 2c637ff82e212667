//! Mistakes that would otherwise pass unnoticed: a misspelt key gets a suggestion, and a
//! placeholder left where a secret belongs is refused, naming the key.

use serde_json::Value;

/// How alike two names must be (Jaro-Winkler) to suggest one for the other.
const ALIKE: f64 = 0.85;

/// The candidate most like `word`, if one is alike enough to be what was meant.
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let word = word.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(&word, &c.to_lowercase()), c))
        .filter(|(score, _)| *score >= ALIKE)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// serde's "unknown field `x`, expected one of `a`, `b`, ..." (or "unknown variant"), with
/// the long list replaced by a suggestion when one is close. `None` for other messages.
pub fn explain_unknown(message: &str) -> Option<String> {
    let (what, rest) = ["unknown field `", "unknown variant `"]
        .into_iter()
        .find_map(|prefix| Some((prefix, message.strip_prefix(prefix)?)))?;
    let (word, expected) = rest.split_once('`')?;
    // The candidates are the other `quoted` words.
    let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    let head = format!("{what}{word}`");
    Some(match suggest(word, candidates.iter().copied()) {
        Some(near) => format!("{head}; did you mean `{near}`?"),
        None if candidates.len() > 12 => format!(
            "{head}; `tap-webhooks --about` lists the settings (also in docs/configuration.md)"
        ),
        None => format!("{head}{expected}"),
    })
}

/// Why `secret` looks like a placeholder rather than a secret, or `None`.
pub fn placeholder(secret: &str) -> Option<String> {
    let text = secret.trim().to_lowercase();
    // Providers' own prefixes (Stripe's `whsec_`, Shopify's `shpss_`) say nothing.
    let bare = ["whsec_", "shpss_"]
        .iter()
        .find_map(|p| text.strip_prefix(p))
        .unwrap_or(&text);
    const STARTS: [&str; 12] = [
        "replace-with",
        "replace_with",
        "replace with",
        "replace-me",
        "replace_me",
        "replaceme",
        "your-",
        "your_",
        "your ",
        "insert-",
        "insert_",
        "put-your",
    ];
    const WHOLE: [&str; 12] = [
        "changeme",
        "change-me",
        "change_me",
        "placeholder",
        "secret",
        "mysecret",
        "my-secret",
        "password",
        "todo",
        "tbd",
        "fixme",
        "example",
    ];
    if let Some(start) = STARTS.iter().find(|s| bare.starts_with(*s)) {
        return Some(format!("it starts with `{start}`"));
    }
    if WHOLE.contains(&bare) {
        return Some(format!("it is `{bare}`"));
    }
    let enclosed = [("<", ">"), ("{{", "}}"), ("[", "]")]
        .iter()
        .any(|(open, close)| bare.len() > 2 && bare.starts_with(open) && bare.ends_with(close));
    if enclosed {
        return Some("it is written in brackets, as placeholders are".into());
    }
    let variable = bare.strip_prefix('$').map(|v| v.trim_matches(['{', '}']));
    if variable
        .is_some_and(|v| !v.is_empty() && v.chars().all(|c| c == '_' || c.is_ascii_alphanumeric()))
    {
        return Some(
            "it is the name of an environment variable: config files do not expand them (give \
             the whole setting in a TAP_WEBHOOKS_<SETTING> variable instead)"
                .into(),
        );
    }
    if bare.len() >= 3
        && bare
            .chars()
            .all(|c| matches!(c, 'x' | '*' | '.' | '-' | '_'))
    {
        return Some("it is only `x`, `*` or `.` characters".into());
    }
    None
}

/// The first value of a setting marked secret in `schema` that is a placeholder: its key
/// path (`signature.secrets[1]`) and why.
pub fn placeholder_secret(config: &Value, schema: &Value) -> Option<(String, String)> {
    let Value::Object(map) = config else {
        return None;
    };
    for (key, value) in map {
        let Some(sub) = subschema(schema, key) else {
            continue;
        };
        if sub["secret"] == true {
            let strings: Vec<(String, &str)> = match value {
                Value::String(s) => vec![(key.clone(), s.as_str())],
                Value::Array(items) => items
                    .iter()
                    .enumerate()
                    .filter_map(|(i, v)| Some((format!("{key}[{i}]"), v.as_str()?)))
                    .collect(),
                _ => Vec::new(),
            };
            for (path, s) in strings {
                if let Some(why) = placeholder(s) {
                    return Some((path, why));
                }
            }
        } else if let Some((path, why)) = placeholder_secret(value, sub) {
            return Some((format!("{key}.{path}"), why));
        }
    }
    None
}

/// The schema of `key` in an object schema: its property, its `additionalProperties`, or the
/// property in one of its `anyOf`/`oneOf` members.
fn subschema<'a>(schema: &'a Value, key: &str) -> Option<&'a Value> {
    if let Some(sub) = schema["properties"].get(key) {
        return Some(sub);
    }
    if schema["additionalProperties"].is_object() {
        return Some(&schema["additionalProperties"]);
    }
    ["anyOf", "oneOf"]
        .iter()
        .filter_map(|k| schema[*k].as_array())
        .flatten()
        .find_map(|member| subschema(member, key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_misspelt_key_gets_the_key_it_is_most_like() {
        let m = "unknown field `primary_kye`, expected one of `name`, `primary_key`, `bind`";
        assert_eq!(
            explain_unknown(m).unwrap(),
            "unknown field `primary_kye`; did you mean `primary_key`?"
        );
        let m = "unknown variant `githb`, expected one of `github`, `stripe`";
        assert_eq!(
            explain_unknown(m).unwrap(),
            "unknown variant `githb`; did you mean `github`?"
        );
        // Nothing close: a short list stays, a long one gives way to where to look.
        let m = "unknown field `zzz`, expected `header` or `field`";
        assert_eq!(explain_unknown(m).unwrap(), m);
        let many: Vec<String> = (0..20).map(|i| format!("`key{i}`")).collect();
        let m = format!("unknown field `zzz`, expected one of {}", many.join(", "));
        assert!(explain_unknown(&m).unwrap().contains("--about"));
        assert_eq!(explain_unknown("invalid type: string"), None);
        assert_eq!(suggest("gitlab", ["github"]), None);
    }

    #[test]
    fn placeholders_are_recognised_and_real_secrets_are_not() {
        for p in [
            "replace-with-the-webhook-secret",
            "whsec_replace_with_the_endpoint_secret",
            "changeme",
            "<secret>",
            "{{ secret }}",
            "xxx",
            "whsec_********",
            "...",
            "$GITHUB_WEBHOOK_SECRET",
            "${SECRET}",
            "Your-Signing-Secret",
        ] {
            assert!(placeholder(p).is_some(), "{p}");
        }
        for s in [
            "x",
            "s3cr3t-github-signing-key-4f1d",
            "whsec_c2VjcmV0LWtleQ",
            "8f742231b10e8888abcd99yyyzzz85a5",
            "shpss_abc",
            "xoxb-1234",
        ] {
            assert_eq!(placeholder(s), None, "{s}");
        }
    }

    #[test]
    fn only_settings_marked_secret_are_checked() {
        let schema = json!({"properties": {
            "name": {"type": "string"},
            "signature": {"anyOf": [{"properties": {
                "secret": {"secret": true}, "secrets": {"secret": true}}}, {"type": "null"}]}}});
        let config = json!({"name": "changeme", "signature": {"secrets": ["ok-1f2e", "xxxx"]}});
        let (path, why) = placeholder_secret(&config, &schema).unwrap();
        assert_eq!(path, "signature.secrets[1]");
        assert!(why.contains('x'), "{why}");
        assert_eq!(
            placeholder_secret(&json!({"name": "changeme"}), &schema),
            None
        );
    }
}
