//! Configuration: `--config` files and `TAP_WEBHOOKS_<SETTING>` environment variables,
//! validated once on load.
//!
//! [`ConfigFile`] is the single definition of the accepted settings: field docs, serde
//! defaults and `deny_unknown_fields`. The parser, the JSON Schema printed by `--about`
//! ([`settings_schema`]) and the environment overrides all come from it, so the settings
//! listed are exactly the settings accepted. [`Config`] is what the rest of the program sees:
//! validated, with defaults applied and types that cannot be misread.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::signature::{Encoding, Scheme, SchemeName, Secret, Verifier};

/// Environment variables `TAP_WEBHOOKS_<SETTING>` override settings (Meltano's convention).
pub const ENV_PREFIX: &str = "TAP_WEBHOOKS_";

/// Stitch's rule for primary key field names.
pub const MAX_KEY_NAME_CHARS: usize = 50;

/// The settings file as written by the user. Every key not listed here is an error.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "tap-webhooks settings")]
pub struct ConfigFile {
    /// Integration name; its snake_case form is the schema name offered to targets.
    #[serde(default = "defaults::name")]
    pub name: String,
    /// A top-level field name (at most 50 characters) or a list of them. Absent: each record
    /// gets a generated `__sdc_primary_key`.
    #[serde(default)]
    pub primary_key: Option<PrimaryKeySetting>,
    /// Listen address, `host:port`.
    #[serde(default = "defaults::bind")]
    pub bind: String,
    /// Serve `/healthz`, `/readyz` and `/metrics` on this separate `host:port` (for example
    /// `127.0.0.1:9090`) instead of the webhook listener, keeping them off the public interface.
    #[serde(default)]
    pub ops_bind: Option<String>,
    /// Base URL printed in webhook URLs (for a proxy or a public host name). Default: from `bind`.
    #[serde(default)]
    pub public_url: Option<String>,
    /// Directory of the journal, token store and persisted schema.
    #[serde(default = "defaults::data_dir")]
    pub data_dir: PathBuf,
    /// Largest accepted request body, in bytes (after decompression).
    #[serde(default = "defaults::max_body_bytes")]
    pub max_body_bytes: u64,
    /// Run the HTTP listener during a sync. `false`: emit the journal backlog and exit.
    #[serde(default = "defaults::listen")]
    pub listen: bool,
    /// End a listening sync cleanly after this many seconds.
    #[serde(default)]
    pub max_run_seconds: Option<f64>,
    /// End a listening sync cleanly when no webhook has arrived for this many seconds.
    #[serde(default)]
    pub idle_timeout_seconds: Option<f64>,
    /// End a sync cleanly after emitting this many records.
    #[serde(default)]
    pub max_records: Option<u64>,
    /// Key every record by `__sdc_primary_key`, so that upserting targets keep every version.
    #[serde(default)]
    pub append_only: bool,
    /// Also write `_sdc_sequence` under this name, for targets that drop or overwrite `_sdc_`
    /// columns (meltanolabs-target-postgres and other Meltano SDK targets).
    #[serde(default)]
    pub sequence_alias: Option<String>,
    /// Also write `_sdc_received_at` under this name, for the same targets.
    #[serde(default)]
    pub received_at_alias: Option<String>,
    /// Size at which the journal starts a new segment file, in bytes.
    #[serde(default = "defaults::journal_segment_bytes")]
    pub journal_segment_bytes: u64,
    /// Refuse webhooks with 503 when the journal's disk would have less than this many bytes
    /// free (0 turns the check off).
    #[serde(default = "defaults::min_free_disk_bytes")]
    pub min_free_disk_bytes: u64,
    /// Journal segments are deleted once a sync's `--state` shows them loaded and they are
    /// older than this many hours.
    #[serde(default = "defaults::journal_retention_hours")]
    pub journal_retention_hours: f64,
    /// How often a sync logs a Singer `METRIC` line with the records it emitted, in seconds
    /// (one is always logged at the end).
    #[serde(default = "defaults::metrics_interval_seconds")]
    pub metrics_interval_seconds: f64,
    /// How long a stopping listener waits for requests in flight, in seconds.
    #[serde(default = "defaults::shutdown_grace_seconds")]
    pub shutdown_grace_seconds: f64,
    /// Verify each webhook's signature over the raw body:
    /// `{"scheme": "github" | "stripe" | "shopify" | "slack" | "standard-webhooks" |
    /// "hmac-sha256", "secret": "..."}`. Missing, invalid or expired signatures get 401.
    #[serde(default)]
    pub signature: Option<SignatureSetting>,
    /// Header whose value identifies a delivery (`X-GitHub-Delivery`, `X-Shopify-Webhook-Id`,
    /// `webhook-id`, ...). A delivery whose id was already journaled is answered 200 and not
    /// journaled or emitted again.
    #[serde(default)]
    pub idempotency_header: Option<String>,
    /// How long delivery ids are remembered for `idempotency_header`, in hours.
    #[serde(default = "defaults::idempotency_window_hours")]
    pub idempotency_window_hours: f64,
    /// At most this many delivery ids are remembered (about 100 bytes each); the oldest are
    /// forgotten first.
    #[serde(default = "defaults::idempotency_max_ids")]
    pub idempotency_max_ids: u64,
    /// Accept exactly the tokens with these SHA-256 digests (hex of the SHA-256 of the token
    /// text) instead of the token store, for immutable deployments. The `token` commands then
    /// change nothing.
    #[serde(default)]
    pub token_sha256: Option<Vec<String>>,
    /// Seconds a client has to send its request headers; also how long an idle keep-alive
    /// connection stays open.
    #[serde(default = "defaults::header_read_timeout_seconds")]
    pub header_read_timeout_seconds: f64,
    /// Seconds a client has to send a whole request body once its headers are in; 408 after.
    #[serde(default = "defaults::body_read_timeout_seconds")]
    pub body_read_timeout_seconds: f64,
    /// Webhook requests handled at once; more get 429 with `Retry-After` instead of queueing.
    #[serde(default = "defaults::max_concurrent_requests")]
    pub max_concurrent_requests: u32,
    /// Open connections at most. A connection beyond it closes the longest-idle one, or gets
    /// 503 with `Retry-After` when every connection is busy.
    #[serde(default = "defaults::max_connections")]
    pub max_connections: u32,
    /// Top-level fields a record may have (each becomes a column); more get 422.
    #[serde(default = "defaults::max_fields")]
    pub max_fields: u32,
    /// Where webhooks are journaled: `{"kind": "local"}` (segment files in `data_dir`, the
    /// default) or `{"kind": "nats", "servers": [...], "stream": "...", "replicas": 3}` (a
    /// replicated NATS JetStream stream shared by many receivers).
    #[serde(default)]
    pub journal: Option<JournalSetting>,
}

/// The `journal` setting.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum JournalSetting {
    Local {},
    Nats(Box<crate::journal::nats::NatsSetting>),
}

/// The `signature` setting.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignatureSetting {
    /// The provider's signing scheme.
    pub scheme: SchemeName,
    /// The provider's signing secret (Standard Webhooks: `whsec_...`).
    #[serde(default)]
    #[schemars(extend("secret" = true, "writeOnly" = true))]
    pub secret: Option<Secret>,
    /// Several secrets, any of which may sign: for rotating the secret without downtime.
    #[serde(default)]
    #[schemars(extend("secret" = true, "writeOnly" = true))]
    pub secrets: Vec<Secret>,
    /// Stripe, Slack and Standard Webhooks: largest accepted distance between the signed
    /// timestamp and now, in seconds (replay protection).
    #[serde(default = "defaults::tolerance_seconds")]
    pub tolerance_seconds: u64,
    /// `hmac-sha256` only: the header carrying the signature.
    #[serde(default)]
    pub header: Option<String>,
    /// `hmac-sha256` only: text before the encoded MAC, such as `sha256=`.
    #[serde(default)]
    pub prefix: Option<String>,
    /// `hmac-sha256` only: `hex` (default) or `base64`.
    #[serde(default)]
    pub encoding: Option<Encoding>,
}

/// `primary_key` may be one field name or a list of them.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum PrimaryKeySetting {
    One(String),
    Many(Vec<String>),
}

mod defaults {
    use std::path::PathBuf;

    pub fn name() -> String {
        "Incoming Webhooks".to_owned()
    }
    pub fn bind() -> String {
        "127.0.0.1:8080".to_owned()
    }
    pub fn data_dir() -> PathBuf {
        PathBuf::from(".tap-webhooks")
    }
    pub fn max_body_bytes() -> u64 {
        20_000_000
    }
    pub fn listen() -> bool {
        true
    }
    pub fn journal_segment_bytes() -> u64 {
        64 * 1024 * 1024
    }
    pub fn shutdown_grace_seconds() -> f64 {
        30.0
    }
    pub fn tolerance_seconds() -> u64 {
        300
    }
    pub fn idempotency_window_hours() -> f64 {
        72.0
    }
    pub fn idempotency_max_ids() -> u64 {
        1_000_000
    }
    pub fn header_read_timeout_seconds() -> f64 {
        10.0
    }
    pub fn body_read_timeout_seconds() -> f64 {
        60.0
    }
    pub fn max_concurrent_requests() -> u32 {
        64
    }
    pub fn max_connections() -> u32 {
        512
    }
    pub fn max_fields() -> u32 {
        1000
    }
    pub fn metrics_interval_seconds() -> f64 {
        60.0
    }
    pub fn min_free_disk_bytes() -> u64 {
        256_000_000
    }
    pub fn journal_retention_hours() -> f64 {
        168.0
    }
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub name: String,
    /// `name` in snake_case: the schema name offered to targets.
    pub schema_name: String,
    /// Configured key fields; empty when records are keyed by `__sdc_primary_key`.
    pub primary_key: Vec<String>,
    pub bind: SocketAddr,
    pub ops_bind: Option<SocketAddr>,
    pub public_url: Option<String>,
    pub data_dir: PathBuf,
    pub max_body_bytes: u64,
    pub listen: bool,
    pub max_run: Option<Duration>,
    pub idle_timeout: Option<Duration>,
    pub max_records: Option<u64>,
    pub append_only: bool,
    pub sequence_alias: Option<String>,
    pub received_at_alias: Option<String>,
    pub journal_segment_bytes: u64,
    pub min_free_disk_bytes: u64,
    pub journal_retention: Duration,
    pub metrics_interval: Duration,
    pub shutdown_grace: Duration,
    pub signature: Option<Verifier>,
    pub idempotency: Option<IdempotencySettings>,
    /// Token digests from `token_sha256`: the token store is not used.
    pub token_digests: Option<Vec<[u8; 32]>>,
    pub limits: Limits,
    /// `journal` of kind `nats`; `None`: the local journal in `data_dir`.
    pub nats: Option<crate::journal::nats::NatsSettings>,
}

/// `idempotency_header` and its window.
#[derive(Debug, Clone)]
pub struct IdempotencySettings {
    /// Lower case.
    pub header: String,
    pub window: Duration,
    pub max_ids: usize,
}

/// Limits that protect the listener from slow, numerous or oversized clients.
#[derive(Debug, Clone)]
pub struct Limits {
    pub header_read_timeout: Duration,
    pub body_read_timeout: Duration,
    pub max_concurrent_requests: usize,
    pub max_connections: usize,
    pub max_fields: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read config file: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    #[error("{path}: {key}: {message}")]
    Invalid {
        path: String,
        key: &'static str,
        message: String,
    },
}

/// Where settings come from: a JSON file, or the environment alone (`--config ENV`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigSource {
    File(PathBuf),
    Env,
}

impl ConfigSource {
    /// `ENV` names the environment; anything else is a file path.
    pub fn parse(arg: &str) -> Self {
        if arg == "ENV" {
            ConfigSource::Env
        } else {
            ConfigSource::File(PathBuf::from(arg))
        }
    }
}

impl Config {
    /// Reads and validates one config file (environment overrides included).
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Self::load_sources(&[ConfigSource::File(path.to_owned())])
    }

    /// Reads config files in order (later keys win), then applies `TAP_WEBHOOKS_<SETTING>`
    /// environment variables on top, and validates the result.
    pub fn load_sources(sources: &[ConfigSource]) -> Result<Config, ConfigError> {
        let env = env_overrides(std::env::vars())?;
        let files: Vec<&PathBuf> = sources
            .iter()
            .filter_map(|s| match s {
                ConfigSource::File(path) => Some(path),
                ConfigSource::Env => None,
            })
            .collect();
        for key in env.keys() {
            log::info!(
                "setting {key} from the environment ({ENV_PREFIX}{})",
                key.to_uppercase()
            );
        }
        // One file and no overrides: parse it directly, so that errors give line and column.
        if let ([path], true) = (files.as_slice(), env.is_empty()) {
            let shown = path.display().to_string();
            let text = read(path)?;
            return Self::from_json(&text, &shown);
        }
        let mut merged = Map::new();
        let mut origin = Vec::new();
        for path in files {
            let shown = path.display().to_string();
            let text = read(path)?;
            match serde_json::from_slice::<Value>(&text) {
                Ok(Value::Object(map)) => merged.extend(map),
                Ok(_) => {
                    return Err(ConfigError::Parse {
                        path: shown,
                        message: "config must be a JSON object".into(),
                    });
                }
                Err(e) => {
                    return Err(ConfigError::Parse {
                        path: shown,
                        message: e.to_string(),
                    });
                }
            }
            origin.push(shown);
        }
        if !env.is_empty() {
            origin.push("environment".into());
        }
        merged.extend(env);
        let origin = if origin.is_empty() {
            "environment".to_owned()
        } else {
            origin.join(" + ")
        };
        Self::from_json(
            &serde_json::to_vec(&merged).expect("JSON serializes"),
            &origin,
        )
    }

    /// Parses and validates config JSON; `origin` names the source in errors.
    pub fn from_json(text: &[u8], origin: &str) -> Result<Config, ConfigError> {
        let mut de = serde_json::Deserializer::from_slice(text);
        let file: ConfigFile = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let at = e.path().to_string();
            let inner = e.into_inner();
            let message = if at == "." || at.is_empty() {
                inner.to_string()
            } else {
                format!("{at}: {inner}")
            };
            ConfigError::Parse {
                path: origin.to_owned(),
                message,
            }
        })?;
        de.end().map_err(|e| ConfigError::Parse {
            path: origin.to_owned(),
            message: e.to_string(),
        })?;
        Self::validate(file, origin)
    }

    fn validate(file: ConfigFile, origin: &str) -> Result<Config, ConfigError> {
        let invalid = |key: &'static str, message: String| ConfigError::Invalid {
            path: origin.to_owned(),
            key,
            message,
        };

        let schema_name = snake_case(&file.name);
        if schema_name.is_empty() {
            return Err(invalid(
                "name",
                format!(
                    "{:?} has no letters or digits to make a schema name",
                    file.name
                ),
            ));
        }

        let primary_key = match file.primary_key {
            None => Vec::new(),
            Some(PrimaryKeySetting::One(k)) => vec![k],
            Some(PrimaryKeySetting::Many(ks)) => {
                if ks.is_empty() {
                    return Err(invalid(
                        "primary_key",
                        "empty list; leave primary_key out to use a generated __sdc_primary_key"
                            .into(),
                    ));
                }
                ks
            }
        };
        for (i, key) in primary_key.iter().enumerate() {
            let chars = key.chars().count();
            if chars == 0 {
                return Err(invalid("primary_key", "field name is empty".into()));
            }
            if chars > MAX_KEY_NAME_CHARS {
                return Err(invalid(
                    "primary_key",
                    format!("{key:?} is {chars} characters; at most {MAX_KEY_NAME_CHARS}"),
                ));
            }
            if crate::convert::is_reserved_field(key) {
                return Err(invalid(
                    "primary_key",
                    format!("{key:?} is a column the tap adds itself"),
                ));
            }
            if primary_key[..i].contains(key) {
                return Err(invalid("primary_key", format!("{key:?} is listed twice")));
            }
        }

        for (key, alias) in [
            ("sequence_alias", &file.sequence_alias),
            ("received_at_alias", &file.received_at_alias),
        ] {
            let Some(alias) = alias else { continue };
            let problem = if alias.is_empty() || alias.len() > 63 {
                Some("must be 1 to 63 characters (a PostgreSQL column name)")
            } else if alias.starts_with("_sdc") || crate::convert::is_reserved_field(alias) {
                Some("must not start with _sdc: targets drop or overwrite those columns")
            } else if primary_key.contains(alias) {
                Some("is a primary key field")
            } else {
                None
            };
            if let Some(problem) = problem {
                return Err(invalid(key, format!("{alias:?} {problem}")));
            }
        }
        if file.sequence_alias.is_some() && file.sequence_alias == file.received_at_alias {
            return Err(invalid(
                "received_at_alias",
                "is the same as sequence_alias".into(),
            ));
        }

        let bind = resolve_bind(&file.bind).map_err(|m| invalid("bind", m))?;
        let ops_bind = match &file.ops_bind {
            None => None,
            Some(ops) => Some(resolve_bind(ops).map_err(|m| invalid("ops_bind", m))?),
        };
        if ops_bind.is_some_and(|ops| ops == bind && bind.port() != 0) {
            return Err(invalid("ops_bind", "is the same address as bind".into()));
        }

        let public_url = match file.public_url {
            None => None,
            Some(url) => {
                let trimmed = url.trim_end_matches('/').to_owned();
                if !(trimmed.starts_with("http://") || trimmed.starts_with("https://")) {
                    return Err(invalid(
                        "public_url",
                        format!("{url:?} must start with http:// or https://"),
                    ));
                }
                Some(trimmed)
            }
        };

        if file.data_dir.as_os_str().is_empty() {
            return Err(invalid("data_dir", "is empty".into()));
        }
        if file.max_body_bytes == 0 || file.max_body_bytes > u64::from(u32::MAX) {
            return Err(invalid(
                "max_body_bytes",
                format!("{} is out of range 1..={}", file.max_body_bytes, u32::MAX),
            ));
        }
        if file.journal_segment_bytes < 4096 {
            return Err(invalid(
                "journal_segment_bytes",
                format!(
                    "{} is below the minimum of 4096",
                    file.journal_segment_bytes
                ),
            ));
        }
        if file.max_records == Some(0) {
            return Err(invalid("max_records", "must be at least 1".into()));
        }

        let signature = match file.signature {
            None => None,
            Some(setting) => {
                Some(signature_verifier(setting).map_err(|m| invalid("signature", m))?)
            }
        };
        let idempotency = match file.idempotency_header {
            None => None,
            Some(header) => {
                if http::HeaderName::from_bytes(header.as_bytes()).is_err() {
                    return Err(invalid(
                        "idempotency_header",
                        format!("{header:?} is not a header name"),
                    ));
                }
                let window = seconds(
                    "idempotency_window_hours",
                    Some(file.idempotency_window_hours * 3600.0),
                )
                .map_err(|_| {
                    invalid(
                        "idempotency_window_hours",
                        format!(
                            "{} is not a positive number of hours",
                            file.idempotency_window_hours
                        ),
                    )
                })?
                .unwrap_or_default();
                if file.idempotency_max_ids == 0 {
                    return Err(invalid("idempotency_max_ids", "must be at least 1".into()));
                }
                Some(IdempotencySettings {
                    header: header.to_ascii_lowercase(),
                    window,
                    max_ids: usize::try_from(file.idempotency_max_ids).unwrap_or(usize::MAX),
                })
            }
        };
        let token_digests = match file.token_sha256 {
            None => None,
            Some(list) => {
                let mut digests = Vec::with_capacity(list.len());
                for (i, text) in list.iter().enumerate() {
                    let mut digest = [0u8; 32];
                    if hex::decode_to_slice(text.trim(), &mut digest).is_err() {
                        return Err(invalid(
                            "token_sha256",
                            format!("entry {} is not 64 hex digits", i + 1),
                        ));
                    }
                    digests.push(digest);
                }
                Some(digests)
            }
        };
        let limit_count = |key: &'static str, n: u32| {
            if n == 0 {
                Err(invalid(key, "must be at least 1".into()))
            } else {
                Ok(n as usize)
            }
        };
        let limit_seconds = |key: &'static str, s: f64| {
            seconds(key, Some(s))
                .map(Option::unwrap_or_default)
                .map_err(|m| invalid(key, m))
        };
        let limits = Limits {
            header_read_timeout: limit_seconds(
                "header_read_timeout_seconds",
                file.header_read_timeout_seconds,
            )?,
            body_read_timeout: limit_seconds(
                "body_read_timeout_seconds",
                file.body_read_timeout_seconds,
            )?,
            max_concurrent_requests: limit_count(
                "max_concurrent_requests",
                file.max_concurrent_requests,
            )?,
            max_connections: limit_count("max_connections", file.max_connections)?,
            max_fields: limit_count("max_fields", file.max_fields)?,
        };

        let nats = match file.journal {
            None | Some(JournalSetting::Local {}) => None,
            Some(JournalSetting::Nats(setting)) => Some(
                crate::journal::nats::settings::validate(
                    *setting,
                    file.max_body_bytes,
                    idempotency.as_ref().map(|i| (i.header.as_str(), i.window)),
                )
                .map_err(|m| invalid("journal", m))?,
            ),
        };

        Ok(Config {
            name: file.name,
            schema_name,
            primary_key,
            bind,
            ops_bind,
            public_url,
            data_dir: file.data_dir,
            max_body_bytes: file.max_body_bytes,
            listen: file.listen,
            max_run: seconds("max_run_seconds", file.max_run_seconds)
                .map_err(|m| invalid("max_run_seconds", m))?,
            idle_timeout: seconds("idle_timeout_seconds", file.idle_timeout_seconds)
                .map_err(|m| invalid("idle_timeout_seconds", m))?,
            max_records: file.max_records,
            append_only: file.append_only,
            sequence_alias: file.sequence_alias,
            received_at_alias: file.received_at_alias,
            journal_segment_bytes: file.journal_segment_bytes,
            min_free_disk_bytes: file.min_free_disk_bytes,
            journal_retention: if file.journal_retention_hours.is_finite()
                && (0.0..1e7).contains(&file.journal_retention_hours)
            {
                Duration::from_secs_f64(file.journal_retention_hours * 3600.0)
            } else {
                return Err(invalid(
                    "journal_retention_hours",
                    format!(
                        "{} is not a number of hours from 0 up",
                        file.journal_retention_hours
                    ),
                ));
            },
            metrics_interval: seconds(
                "metrics_interval_seconds",
                Some(file.metrics_interval_seconds),
            )
            .map_err(|m| invalid("metrics_interval_seconds", m))?
            .unwrap_or_default(),
            shutdown_grace: seconds("shutdown_grace_seconds", Some(file.shutdown_grace_seconds))
                .map_err(|m| invalid("shutdown_grace_seconds", m))?
                .unwrap_or_default(),
            signature,
            idempotency,
            token_digests,
            limits,
            nats,
        })
    }

    /// How the local journal writes.
    pub fn journal_settings(&self) -> crate::journal::local::JournalSettings {
        crate::journal::local::JournalSettings {
            segment_bytes: self.journal_segment_bytes,
            min_free_bytes: self.min_free_disk_bytes,
        }
    }

    /// The base of printed webhook URLs: `public_url`, else `http://` and the bound address.
    pub fn url_base(&self, bound: SocketAddr) -> String {
        match &self.public_url {
            Some(url) => url.clone(),
            None if bound.ip().is_unspecified() => format!("http://127.0.0.1:{}", bound.port()),
            None => format!("http://{bound}"),
        }
    }
}

/// Validates the `signature` setting into a verifier.
fn signature_verifier(setting: SignatureSetting) -> Result<Verifier, String> {
    let generic_only = [
        ("header", setting.header.is_some()),
        ("prefix", setting.prefix.is_some()),
        ("encoding", setting.encoding.is_some()),
    ];
    let scheme = match setting.scheme {
        SchemeName::Github => Scheme::Github,
        SchemeName::Stripe => Scheme::Stripe,
        SchemeName::Shopify => Scheme::Shopify,
        SchemeName::Slack => Scheme::Slack,
        SchemeName::StandardWebhooks => Scheme::StandardWebhooks,
        SchemeName::HmacSha256 => {
            let header = setting
                .header
                .ok_or("scheme hmac-sha256 needs `header`, the header carrying the signature")?;
            if http::HeaderName::from_bytes(header.as_bytes()).is_err() {
                return Err(format!("header: {header:?} is not a header name"));
            }
            Scheme::Generic {
                header: header.to_ascii_lowercase(),
                prefix: setting.prefix.unwrap_or_default(),
                encoding: setting.encoding.unwrap_or_default(),
            }
        }
    };
    if !matches!(scheme, Scheme::Generic { .. })
        && let Some((key, _)) = generic_only.iter().find(|(_, set)| *set)
    {
        return Err(format!(
            "{key} applies to scheme hmac-sha256 only; {} has fixed headers",
            scheme.name()
        ));
    }
    let mut secrets = setting.secrets;
    secrets.extend(setting.secret);
    Verifier::new(scheme, &secrets, setting.tolerance_seconds)
}

fn read(path: &Path) -> Result<Vec<u8>, ConfigError> {
    std::fs::read(path).map_err(|source| ConfigError::Read {
        path: path.display().to_string(),
        source,
    })
}

/// The JSON Schema of the settings (draft 7, subschemas inlined), as `--about` prints it.
pub fn settings_schema() -> Value {
    let generator = schemars::generate::SchemaSettings::draft07()
        .with(|s| {
            s.meta_schema = None;
            s.inline_subschemas = true;
        })
        .into_generator();
    generator.into_root_schema_for::<ConfigFile>().to_value()
}

/// Settings given as `TAP_WEBHOOKS_<SETTING>` variables, as JSON values. A setting whose type
/// is only "string" takes the text as is; others are read as JSON (`true`, `5`,
/// `["a","b"]`, `{...}`) and fall back to the text.
pub fn env_overrides(
    vars: impl Iterator<Item = (String, String)>,
) -> Result<Map<String, Value>, ConfigError> {
    let schema = settings_schema();
    let properties = schema["properties"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let mut out = Map::new();
    for (name, value) in vars {
        let Some(setting) = name.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        let key = setting.to_lowercase();
        let Some(property) = properties.get(&key) else {
            continue;
        };
        let string_only = match &property["type"] {
            Value::String(t) => t == "string",
            Value::Array(ts) => ts.iter().all(|t| t == "string" || t == "null"),
            _ => false,
        };
        let parsed = if string_only {
            Value::String(value)
        } else {
            serde_json::from_str(&value).unwrap_or(Value::String(value))
        };
        out.insert(key, parsed);
    }
    Ok(out)
}

fn seconds(_key: &str, value: Option<f64>) -> Result<Option<Duration>, String> {
    match value {
        None => Ok(None),
        Some(s) if s.is_finite() && s > 0.0 && s < 1e9 => Ok(Some(Duration::from_secs_f64(s))),
        Some(s) => Err(format!("{s} is not a positive number of seconds")),
    }
}

fn resolve_bind(bind: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = bind.parse::<SocketAddr>() {
        return Ok(addr);
    }
    match bind.to_socket_addrs() {
        Ok(mut addrs) => addrs
            .next()
            .ok_or_else(|| format!("{bind:?} resolves to no address")),
        Err(_) => Err(format!(
            "{bind:?} is not host:port (for example 127.0.0.1:8080)"
        )),
    }
}

/// "Stitch Incoming Webhooks" → "stitch_incoming_webhooks".
pub fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut pending_sep = false;
    for c in name.chars() {
        if c.is_alphanumeric() {
            if pending_sep && !out.is_empty() {
                out.push('_');
            }
            pending_sep = false;
            out.extend(c.to_lowercase());
        } else {
            pending_sep = true;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(json: &str) -> Result<Config, ConfigError> {
        Config::from_json(json.as_bytes(), "c.json")
    }

    #[test]
    fn defaults_follow_the_design() {
        let c = load("{}").unwrap();
        assert_eq!(c.name, "Incoming Webhooks");
        assert_eq!(c.schema_name, "incoming_webhooks");
        assert!(c.primary_key.is_empty());
        assert_eq!(c.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(c.data_dir, PathBuf::from(".tap-webhooks"));
        assert_eq!(c.max_body_bytes, 20_000_000);
        assert!(c.listen);
        assert!(!c.append_only);
    }

    #[test]
    fn unknown_key_is_named() {
        let e = load(r#"{"primry_key": "id"}"#).unwrap_err().to_string();
        assert!(e.starts_with("c.json: "), "{e}");
        assert!(e.contains("unknown field `primry_key`"), "{e}");
    }

    #[test]
    fn wrong_type_names_the_key() {
        let e = load(r#"{"max_body_bytes": "big"}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("max_body_bytes: invalid type"), "{e}");
    }

    #[test]
    fn primary_key_longer_than_50_characters_is_refused() {
        let long = "k".repeat(51);
        let e = load(&format!(r#"{{"primary_key": "{long}"}}"#))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("primary_key") && e.contains("51 characters; at most 50"),
            "{e}"
        );
        assert!(load(&format!(r#"{{"primary_key": "{}"}}"#, "k".repeat(50))).is_ok());
    }

    #[test]
    fn primary_key_may_be_a_list() {
        let c = load(r#"{"primary_key": ["account", "id"]}"#).unwrap();
        assert_eq!(c.primary_key, ["account", "id"]);
        assert!(load(r#"{"primary_key": []}"#).is_err());
        assert!(load(r#"{"primary_key": ["id", "id"]}"#).is_err());
        assert!(load(r#"{"primary_key": "_sdc_sequence"}"#).is_err());
    }

    #[test]
    fn bad_bind_and_trailing_garbage_are_refused() {
        assert!(
            load(r#"{"bind": "nonsense"}"#)
                .unwrap_err()
                .to_string()
                .contains("bind")
        );
        assert!(load(r#"{} x"#).is_err());
    }

    #[test]
    fn environment_overrides_use_the_settings_types() {
        let vars = [
            ("TAP_WEBHOOKS_NAME", "123"),
            ("TAP_WEBHOOKS_MAX_RECORDS", "5"),
            ("TAP_WEBHOOKS_LISTEN", "false"),
            ("TAP_WEBHOOKS_PRIMARY_KEY", "id"),
            ("TAP_WEBHOOKS_LOG_LEVEL", "debug"),
            ("OTHER", "x"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        let env = env_overrides(vars.into_iter()).unwrap();
        assert_eq!(env["name"], "123");
        assert_eq!(env["max_records"], 5);
        assert_eq!(env["listen"], false);
        assert_eq!(env["primary_key"], "id");
        assert_eq!(env.len(), 4, "only known settings: {env:?}");
    }

    #[test]
    fn the_settings_schema_lists_every_setting_with_its_default() {
        let schema = settings_schema();
        let props = schema["properties"].as_object().unwrap();
        assert_eq!(props["max_body_bytes"]["default"], 20_000_000);
        assert_eq!(props["bind"]["default"], "127.0.0.1:8080");
        assert!(
            props["primary_key"]["description"]
                .as_str()
                .unwrap()
                .contains("50 characters")
        );
        assert_eq!(schema["additionalProperties"], false);
    }

    #[test]
    fn signature_settings_validate_and_secrets_never_show() {
        let c = load(
            r#"{"signature": {"scheme": "stripe", "secrets": ["sk_one_4f2a", "sk_two_9c1b"]},
                "idempotency_header": "X-GitHub-Delivery"}"#,
        )
        .unwrap();
        assert_eq!(c.signature.as_ref().unwrap().scheme().name(), "stripe");
        assert_eq!(c.idempotency.as_ref().unwrap().header, "x-github-delivery");
        assert_eq!(
            c.idempotency.as_ref().unwrap().window,
            Duration::from_secs(72 * 3600)
        );
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("sk_one") && !shown.contains("sk_two"),
            "{shown}"
        );

        let e = load(r#"{"signature": {"scheme": "github", "secret": "x", "extra": 1}}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `extra`"), "{e}");
        let e = load(r#"{"token_sha256": ["abc"]}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("token_sha256") && e.contains("64 hex"), "{e}");
        let e = load(r#"{"max_connections": 0}"#).unwrap_err().to_string();
        assert!(e.contains("max_connections: must be at least 1"), "{e}");
        let e = load(r#"{"idempotency_header": "bad header"}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a header name"), "{e}");
    }

    #[test]
    fn the_settings_schema_marks_signing_secrets_secret() {
        let schema = settings_schema();
        let signature = &schema["properties"]["signature"]["properties"];
        for key in ["secret", "secrets"] {
            assert_eq!(signature[key]["secret"], true, "{key}");
            assert_eq!(signature[key]["writeOnly"], true, "{key}");
        }
    }

    #[test]
    fn snake_case_makes_schema_names() {
        assert_eq!(
            snake_case("Stitch Incoming Webhooks"),
            "stitch_incoming_webhooks"
        );
        assert_eq!(snake_case("  My-Hooks (prod) "), "my_hooks_prod");
    }
}
