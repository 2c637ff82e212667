//! The `"journal": {"kind": "nats", ...}` setting, as written and as validated.

use std::path::PathBuf;
use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;

/// `journal` with `"kind": "nats"`: a replicated NATS JetStream stream.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NatsSetting {
    /// NATS server URLs, `nats://host:4222` (or `tls://`); any of the cluster's servers, the
    /// client learns the others.
    pub servers: Vec<String>,
    /// The JetStream stream holding the journal (created when missing).
    #[serde(default = "default_stream")]
    pub stream: String,
    /// The subject messages are published on; default `<stream>.entries`.
    #[serde(default)]
    pub subject: Option<String>,
    /// Copies of every message (1, 3 or 5); a publish is acknowledged once a majority stored it.
    #[serde(default = "default_replicas")]
    pub replicas: u8,
    /// A NATS credentials file (`.creds`: user JWT and NKey seed).
    #[serde(default)]
    pub credentials_file: Option<PathBuf>,
    /// A file holding a NATS authentication token.
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    /// A PEM file of CA certificates to trust for `tls://` servers.
    #[serde(default)]
    pub tls_ca_file: Option<PathBuf>,
    /// Seconds to wait for a connection to NATS.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_seconds: f64,
    /// Seconds to wait for JetStream's acknowledgement of a publish before answering 503.
    #[serde(default = "default_publish_timeout")]
    pub publish_timeout_seconds: f64,
    /// The stream's duplicate window in seconds (`Nats-Msg-Id` dedupe across receivers).
    /// Default: `idempotency_window_hours` when `idempotency_header` is set, else 120.
    #[serde(default)]
    pub duplicate_window_seconds: Option<f64>,
    /// The JetStream key-value bucket holding webhook tokens and acknowledged bookmarks;
    /// default `<stream>_STATE`.
    #[serde(default)]
    pub state_bucket: Option<String>,
}

fn default_stream() -> String {
    "TAP_WEBHOOKS".to_owned()
}
fn default_replicas() -> u8 {
    3
}
fn default_connect_timeout() -> f64 {
    5.0
}
fn default_publish_timeout() -> f64 {
    5.0
}

/// The validated NATS journal settings.
#[derive(Debug, Clone)]
pub struct NatsSettings {
    pub servers: Vec<String>,
    pub stream: String,
    pub subject: String,
    pub replicas: usize,
    pub credentials_file: Option<PathBuf>,
    pub token_file: Option<PathBuf>,
    pub tls_ca_file: Option<PathBuf>,
    pub connect_timeout: Duration,
    pub publish_timeout: Duration,
    pub duplicate_window: Duration,
    pub state_bucket: String,
    /// The largest body a receiver accepts (`max_body_bytes`): the stream and the servers must
    /// take a message this large plus the entry's metadata.
    pub max_body_bytes: u64,
    /// Lower-case `idempotency_header`, whose value becomes the `Nats-Msg-Id`.
    pub idempotency_header: Option<String>,
}

/// Bytes a message carries beyond the body: the entry's metadata (captured headers are
/// bounded by the idempotency id's limit) and the NATS headers.
pub const MESSAGE_OVERHEAD_BYTES: u64 = 16 << 10;

impl NatsSettings {
    /// The largest message the journal publishes.
    pub fn max_message_bytes(&self) -> u64 {
        self.max_body_bytes + MESSAGE_OVERHEAD_BYTES
    }
}

/// Validates the setting; `Err` is a message naming the bad key (under `journal`).
pub fn validate(
    setting: NatsSetting,
    max_body_bytes: u64,
    idempotency: Option<(&str, Duration)>,
) -> Result<NatsSettings, String> {
    check_servers(&setting.servers)?;
    if !is_name(&setting.stream) {
        return Err(format!(
            "stream: {:?} is not a JetStream stream name (letters, digits, - and _)",
            setting.stream
        ));
    }
    let subject = setting
        .subject
        .unwrap_or_else(|| format!("{}.entries", setting.stream));
    if !is_literal_subject(&subject) {
        return Err(format!(
            "subject: {subject:?} is not a literal NATS subject (tokens separated by '.', no \
             spaces or wildcards)"
        ));
    }
    if ![1, 3, 5].contains(&setting.replicas) {
        return Err(format!("replicas: {} is not 1, 3 or 5", setting.replicas));
    }
    if setting.credentials_file.is_some() && setting.token_file.is_some() {
        return Err("credentials_file and token_file: set one, not both".into());
    }
    let connect_timeout = seconds("connect_timeout_seconds", setting.connect_timeout_seconds)?;
    let publish_timeout = seconds("publish_timeout_seconds", setting.publish_timeout_seconds)?;
    let duplicate_window = match (setting.duplicate_window_seconds, idempotency) {
        (Some(value), _) => seconds("duplicate_window_seconds", value)?,
        (None, Some((_, window))) => window.max(Duration::from_secs(1)),
        (None, None) => Duration::from_secs(120),
    };
    let state_bucket = setting
        .state_bucket
        .unwrap_or_else(|| format!("{}_STATE", setting.stream));
    if !is_name(&state_bucket) {
        return Err(format!(
            "state_bucket: {state_bucket:?} is not a bucket name (letters, digits, - and _)"
        ));
    }
    let max_message = max_body_bytes + MESSAGE_OVERHEAD_BYTES;
    if max_message > i32::MAX as u64 {
        return Err(format!(
            "max_body_bytes {max_body_bytes} is too large for a NATS message (at most {})",
            i32::MAX as u64 - MESSAGE_OVERHEAD_BYTES
        ));
    }
    Ok(NatsSettings {
        servers: setting.servers,
        stream: setting.stream,
        subject,
        replicas: usize::from(setting.replicas),
        credentials_file: setting.credentials_file,
        token_file: setting.token_file,
        tls_ca_file: setting.tls_ca_file,
        connect_timeout,
        publish_timeout,
        duplicate_window,
        state_bucket,
        max_body_bytes,
        idempotency_header: idempotency.map(|(header, _)| header.to_owned()),
    })
}

fn check_servers(servers: &[String]) -> Result<(), String> {
    if servers.is_empty() {
        return Err(
            "servers: list at least one NATS server URL, e.g. nats://127.0.0.1:4222".into(),
        );
    }
    for server in servers {
        if server.trim().is_empty() || server.contains(char::is_whitespace) {
            return Err(format!("servers: {server:?} is not a NATS server URL"));
        }
    }
    Ok(())
}

/// The setting `key` in seconds, as a duration.
fn seconds(key: &str, value: f64) -> Result<Duration, String> {
    if value.is_finite() && value > 0.0 && value < 1e7 {
        Ok(Duration::from_secs_f64(value))
    } else {
        Err(format!(
            "{key}: {value} is not a positive number of seconds"
        ))
    }
}

fn is_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 200
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn is_literal_subject(subject: &str) -> bool {
    !subject.is_empty()
        && subject.split('.').all(|token| {
            !token.is_empty()
                && token
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && b != b'*' && b != b'>')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setting(json: &str) -> NatsSetting {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn defaults_and_checks() {
        let s = validate(setting(r#"{"servers": ["nats://a:4222"]}"#), 1000, None).unwrap();
        assert_eq!(s.stream, "TAP_WEBHOOKS");
        assert_eq!(s.subject, "TAP_WEBHOOKS.entries");
        assert_eq!(s.replicas, 3);
        assert_eq!(s.state_bucket, "TAP_WEBHOOKS_STATE");
        assert_eq!(s.duplicate_window, Duration::from_secs(120));
        let s = validate(
            setting(r#"{"servers": ["nats://a:4222"]}"#),
            1000,
            Some(("x-id", Duration::from_secs(7200))),
        )
        .unwrap();
        assert_eq!(s.duplicate_window, Duration::from_secs(7200));
        for (bad, key) in [
            (r#"{"servers": []}"#, "servers"),
            (r#"{"servers": ["a"], "stream": "a.b"}"#, "stream"),
            (r#"{"servers": ["a"], "subject": "a.*"}"#, "subject"),
            (r#"{"servers": ["a"], "replicas": 2}"#, "replicas"),
            (
                r#"{"servers": ["a"], "publish_timeout_seconds": 0}"#,
                "publish_timeout",
            ),
        ] {
            let e = validate(setting(bad), 1000, None).unwrap_err();
            assert!(e.starts_with(key), "{bad}: {e}");
        }
    }
}
