//! Presets described for people: `tap-webhooks senders` and the docs' sender table.

use serde_json::{Map, Value};

use super::{Preset, all};

/// What a preset verifies, in a few words.
pub fn verifies(preset: &Preset) -> String {
    let Some(Value::Object(s)) = preset.settings.get("signature") else {
        let kind = preset.settings.get("handshake").and_then(|h| h.get("kind"));
        if kind.and_then(Value::as_str) == Some("asana") {
            return "HMAC-SHA256 of the body in `X-Hook-Signature`, with the secret its \
                    handshake gives"
                .into();
        }
        return "no signature (the provider does not sign; the URL's token alone)".into();
    };
    let text = |k: &str| s.get(k).and_then(Value::as_str);
    let header = text("header").unwrap_or("");
    match text("scheme").unwrap_or("") {
        "hmac" => {
            let algorithm = text("algorithm").unwrap_or("sha256").to_ascii_uppercase();
            let signed = match text("message") {
                Some(m) if m != "{body}" => format!("`{m}`"),
                _ => "the body".to_owned(),
            };
            let timed = if signs_time(s) { ", timestamped" } else { "" };
            format!("HMAC-{algorithm} of {signed} in `{header}`{timed}")
        }
        "header" => format!("shared secret in `{header}`"),
        "basic" => "HTTP Basic credentials".into(),
        "ed25519" => format!("Ed25519 signature in `{header}`, timestamped"),
        other => named_scheme(other).to_owned(),
    }
}

/// The schemes no template covers, in a few words.
fn named_scheme(scheme: &str) -> &'static str {
    match scheme {
        "github" => "HMAC-SHA256 of the body in `X-Hub-Signature-256`",
        "stripe" => "HMAC-SHA256 of `{t}.{body}` in `Stripe-Signature`, timestamped",
        "shopify" => "HMAC-SHA256 of the body in `X-Shopify-Hmac-Sha256` or `Shopify-Hmac-Sha256`",
        "slack" => "HMAC-SHA256 of `v0:{timestamp}:{body}` in `X-Slack-Signature`, timestamped",
        "standard-webhooks" => {
            "HMAC-SHA256 of `{id}.{timestamp}.{body}` in `webhook-signature`, timestamped"
        }
        "twilio" => "HMAC-SHA1 of the URL and the sorted form fields in `X-Twilio-Signature`",
        "mandrill" => "HMAC-SHA1 of the URL and the sorted form fields in `X-Mandrill-Signature`",
        "zoom" => "HMAC-SHA256 of `v0:{timestamp}:{body}` in `x-zm-signature`, timestamped",
        "mailgun" => "HMAC-SHA256 of the timestamp and token in the body, timestamped",
        "sendgrid" => {
            "ECDSA P-256 signature of the timestamp and body in \
             `X-Twilio-Email-Event-Webhook-Signature`, timestamped"
        }
        "adyen" => "HMAC-SHA256 of each notification's payment fields, inside the body",
        "microsoft-graph" => "`clientState` in every notification",
        "sns" => "RSA signature of the message under AWS's certificate, timestamped",
        _ => "its own scheme",
    }
}

fn signs_time(s: &Map<String, Value>) -> bool {
    s.contains_key("timestamp_header")
        || s.contains_key("timestamp_field")
        || s.get("pairs").and_then(|p| p.get("timestamp")).is_some()
}

/// The handshake a preset answers, or `-`.
pub fn handshake(preset: &Preset) -> String {
    preset
        .settings
        .get("handshake")
        .and_then(|h| h.get("kind"))
        .and_then(Value::as_str)
        .map_or_else(|| "-".to_owned(), str::to_owned)
}

/// Where a preset routes records: `header X`, `field x`, or `-`.
pub fn route(preset: &Preset) -> String {
    let Some(Value::Object(route)) = preset.settings.get("route") else {
        return "-".into();
    };
    route.iter().next().map_or_else(
        || "-".into(),
        |(k, v)| format!("{k} `{}`", v.as_str().unwrap_or("")),
    )
}

/// One preset for `tap-webhooks senders --format json`.
pub fn summary(preset: &Preset) -> Value {
    serde_json::json!({
        "name": preset.name,
        "title": preset.title,
        "verifies": verifies(preset).replace('`', ""),
        "handshake": preset.settings.get("handshake").and_then(|h| h.get("kind")),
        "spec": preset.spec,
        "settings": super::implied_config(preset),
    })
}

/// `tap-webhooks senders`: one line per preset.
pub fn text_table() -> String {
    let rows: Vec<[String; 4]> = all()
        .iter()
        .map(|p| [p.name.clone(), p.title.clone(), verifies(p), handshake(p)])
        .collect();
    let width = |i: usize| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0);
    let (w0, w1) = (width(0).max(6), width(1).max(8));
    let mut out = format!(
        "{:w0$}  {:w1$}  {}\n",
        "SENDER", "PROVIDER", "VERIFIES (HANDSHAKE)"
    );
    for [name, title, verifies, handshake] in rows {
        let handshake = if handshake == "-" {
            String::new()
        } else {
            format!(" (handshake: {handshake})")
        };
        let verifies = verifies.replace('`', "");
        out.push_str(&format!("{name:w0$}  {title:w1$}  {verifies}{handshake}\n"));
    }
    out.push_str(
        "\n`tap-webhooks senders NAME --format json` prints the settings a sender implies.\n",
    );
    out
}

/// The docs' sender table (Markdown), generated from the definitions.
pub fn markdown_table() -> String {
    let mut out = String::from(
        "| `sender` | Provider | Verifies | Handshake | Routes by | Specified in |\n\
         | --- | --- | --- | --- | --- | --- |\n",
    );
    for p in all() {
        let spec: Vec<String> = p
            .spec
            .iter()
            .enumerate()
            .map(|(i, url)| format!("[{}]({url})", i + 1))
            .collect();
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {} |\n",
            p.name,
            p.title,
            verifies(p),
            handshake(p),
            route(p),
            spec.join(" ")
        ));
    }
    out
}
