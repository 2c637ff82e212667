//! Configuration: `--config` files and `TAP_WEBHOOKS_<SETTING>` environment variables,
//! validated once on load.
//!
//! - [`file`](mod@file): the settings as written ([`ConfigFile`]), the single definition behind the
//!   parser, `--about` and the environment overrides;
//! - `env`: `TAP_WEBHOOKS_<SETTING>` variables, read by their settings' types;
//! - `load`: files and variables merged, errors naming where a value came from;
//! - `mistakes`: suggestions for misspelt keys, placeholders refused where secrets belong;
//! - `parts`: each part of a [`Config`] built and validated in its own function;
//! - here: [`Config`], what the rest of the program sees (validated, defaults applied, types
//!   that cannot be misread), and the settings of the parts built on it.

mod env;
pub mod file;
mod load;
mod mistakes;
pub mod ops;
mod parts;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub use env::{EnvSettings, var_name};
pub use file::{ConfigFile, ENV_PREFIX, PrimaryKeySetting, settings_schema};
pub use parts::{MAX_KEY_NAME_CHARS, snake_case};

use crate::convert::payload::{GENERATED_KEY_FIELD, RecordRules};
use crate::convert::routing::StreamSettings;
use crate::emitter::{EmitterSettings, StateCadence};
use crate::journal::{Journal, JournalConfig};
use crate::reply::SuccessReply;
use crate::schema::Columns;
use crate::senders::handshake::Handshakes;
use crate::senders::signature::Verifier;
use parts::{Addresses, Invalid};

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
    /// Most columns a stream gets (`_sdc` included); then `_sdc_overflow`.
    pub max_columns: usize,
    pub append_only: bool,
    pub sequence_alias: Option<String>,
    pub received_at_alias: Option<String>,
    pub journal_segment_bytes: u64,
    pub min_free_disk_bytes: u64,
    pub journal_retention: Duration,
    pub metrics_interval: Duration,
    pub shutdown_grace: Duration,
    pub signature: Option<Verifier>,
    /// `handshake`: one provider's URL check answered.
    pub handshake: Option<Handshakes>,
    /// `reply`: the success reply; `None`: the JSON default.
    pub reply: Option<SuccessReply>,
    pub idempotency: Option<IdempotencySettings>,
    /// Token digests from `token_sha256`: the token store is not used.
    pub token_digests: Option<Vec<[u8; 32]>>,
    pub limits: Limits,
    /// Streams, routing and request metadata.
    pub streams: StreamSettings,
    /// `journal` of kind `nats`; `None`: the local journal in `data_dir`.
    pub nats: Option<crate::journal::nats::NatsSettings>,
    /// `cors_origins`; `None` when empty.
    pub cors: Option<crate::cors::Cors>,
    /// `rejections_per_second` when `rejections` is on.
    pub rejections_per_second: Option<u32>,
    /// `ops_token` and `inspect_bodies`.
    pub inspector: ops::InspectorSettings,
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
    /// Bytes of request bodies held at once (`max_inflight_body_bytes`, raised to
    /// `max_body_bytes` if below it, so that one body of the largest size always fits).
    pub max_inflight_body_bytes: u64,
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
    /// A `TAP_WEBHOOKS_<SETTING>` variable whose value the setting cannot take.
    #[error("{var}: {message}")]
    Env { var: String, message: String },
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
    fn build(mut file: ConfigFile) -> Result<Config, Invalid> {
        let schema_name = parts::schema_name(&file.name)?;
        let primary_key = parts::primary_key(file.primary_key.take())?;
        parts::aliases(&file, &primary_key)?;
        let streams = parts::streams(&mut file, &primary_key)?;
        let Addresses {
            bind,
            ops_bind,
            public_url,
        } = Addresses::from_file(&file)?;
        parts::check_sizes(&file)?;
        let limits = Limits::from_file(&file)?;
        let idempotency = IdempotencySettings::from_file(&file)?;
        let token_digests = parts::token_digests(file.token_sha256.as_deref())?;
        let nats = parts::nats_journal(&mut file, idempotency.as_ref())?;
        let signature = parts::signature(file.signature.take())?;
        let handshake = parts::handshake(file.handshake.take(), signature.as_ref())?;
        let reply = parts::reply(file.reply.take())?;
        let cors = crate::cors::Cors::new(&file.cors_origins).map_err(|message| Invalid {
            key: "cors_origins",
            message,
        })?;
        let rejections_per_second = parts::rejections(&file)?;
        let inspector = parts::inspector(&mut file, ops_bind)?;
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
            max_run: parts::optional_interval("max_run_seconds", file.max_run_seconds)?,
            idle_timeout: parts::optional_interval(
                "idle_timeout_seconds",
                file.idle_timeout_seconds,
            )?,
            max_records: file.max_records,
            max_columns: parts::max_columns(file.max_columns)?,
            append_only: file.append_only,
            sequence_alias: file.sequence_alias,
            received_at_alias: file.received_at_alias,
            journal_segment_bytes: file.journal_segment_bytes,
            min_free_disk_bytes: file.min_free_disk_bytes,
            journal_retention: parts::retention(file.journal_retention_hours)?,
            metrics_interval: parts::interval(
                "metrics_interval_seconds",
                file.metrics_interval_seconds,
            )?,
            shutdown_grace: parts::interval("shutdown_grace_seconds", file.shutdown_grace_seconds)?,
            signature,
            handshake,
            reply,
            idempotency,
            token_digests,
            limits,
            streams,
            nats,
            cors,
            rejections_per_second,
            inspector,
        })
    }

    /// What the emitter needs: record rules, the default stream's key properties and `_sdc`
    /// columns, the stream settings, limits.
    pub fn emitter_settings(&self) -> EmitterSettings {
        // The default stream's keys: the top-level ones unless `streams` overrides them.
        let keys = self.streams.keys(&self.streams.default);
        let generated_key = keys.generated_key;
        EmitterSettings {
            rules: self.record_rules(),
            key_properties: if generated_key {
                vec![GENERATED_KEY_FIELD.to_owned()]
            } else {
                keys.primary_key.clone()
            },
            columns: Columns {
                primary_key: keys.primary_key,
                generated_key,
                sequence_alias: self.sequence_alias.clone(),
                received_at_alias: self.received_at_alias.clone(),
                max_columns: self.max_columns,
                headers: !self.streams.capture_headers.is_empty(),
                query: self.streams.capture_query,
            },
            streams: self.streams.clone(),
            forced_stream: None,
            max_records: self.max_records,
            state_cadence: StateCadence::default(),
            metric_interval: self.metrics_interval,
        }
    }

    /// How a payload becomes records (the receiver and the emitter apply the same rules).
    /// When streams have keys of their own, keys are checked per record after routing
    /// instead ([`StreamSettings::keys_vary`]).
    pub fn record_rules(&self) -> RecordRules {
        RecordRules {
            primary_key: if self.streams.keys_vary() {
                Vec::new()
            } else {
                self.primary_key.clone()
            },
            handshake: self.handshake.as_ref().map(|h| h.kind),
        }
    }

    /// Where and how the journal is kept.
    pub fn journal_config(&self) -> JournalConfig {
        match &self.nats {
            Some(settings) => JournalConfig::Nats {
                data_dir: self.data_dir.clone(),
                settings: Box::new(settings.clone()),
            },
            None => JournalConfig::Local {
                data_dir: self.data_dir.clone(),
                segment_bytes: self.journal_segment_bytes,
                min_free_bytes: self.min_free_disk_bytes,
            },
        }
    }

    /// The journal's handle (opening it takes no lock; a writer does).
    pub fn journal(&self) -> Journal {
        Journal::new(self.journal_config())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn load(json: &str) -> Result<Config, ConfigError> {
        Config::from_json(json.as_bytes(), "c.json")
    }

    #[test]
    fn sender_settings_validate() {
        let c = load("{}").unwrap();
        assert!(c.cors.is_none() && c.rejections_per_second.is_none());
        let c = load(r#"{"cors_origins": ["*"], "rejections": true}"#).unwrap();
        assert!(c.cors.is_some());
        assert_eq!(c.rejections_per_second, Some(50));
        let e = load(r#"{"cors_origins": ["example.com"]}"#).unwrap_err();
        assert!(e.to_string().contains("cors_origins"), "{e}");
        let e = load(r#"{"rejections": true, "rejections_per_second": 0}"#).unwrap_err();
        assert!(e.to_string().contains("rejections_per_second"), "{e}");
        let e = load(r#"{"signature": {"scheme": "sendgrid", "secret": "x"}}"#).unwrap_err();
        assert!(e.to_string().contains("public_key"), "{e}");
        let e = load(r#"{"signature": {"scheme": "github", "secret": "x", "public_key": "y"}}"#)
            .unwrap_err();
        assert!(e.to_string().contains("sendgrid only"), "{e}");
        for scheme in ["twilio", "zoom", "mailgun"] {
            let c = load(&format!(
                r#"{{"signature": {{"scheme": "{scheme}", "secret": "s"}}}}"#
            ))
            .unwrap();
            assert_eq!(c.signature.unwrap().scheme().name(), scheme);
        }
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
        assert_eq!(c.limits.max_concurrent_requests, 1024);
        assert_eq!(c.limits.max_inflight_body_bytes, 64_000_000);
    }

    #[test]
    fn the_body_budget_holds_at_least_one_largest_body() {
        let c = load(r#"{"max_inflight_body_bytes": 1000}"#).unwrap();
        assert_eq!(c.limits.max_inflight_body_bytes, 20_000_000);
        let c = load(r#"{"max_inflight_body_bytes": 500000000}"#).unwrap();
        assert_eq!(c.limits.max_inflight_body_bytes, 500_000_000);
        let e = load(r#"{"max_inflight_body_bytes": 0}"#)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("max_inflight_body_bytes: must be at least 1"),
            "{e}"
        );
    }

    #[test]
    fn unknown_key_is_named() {
        let e = load(r#"{"primry_key": "id"}"#).unwrap_err().to_string();
        assert!(e.starts_with("c.json:1:"), "{e}");
        assert!(
            e.ends_with("unknown field `primry_key`; did you mean `primary_key`?"),
            "{e}"
        );
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
        let env = EnvSettings::read(vars.into_iter()).unwrap().values;
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
        let handshake = &schema["properties"]["handshake"]["properties"];
        assert_eq!(handshake["verify_token"]["secret"], true);
        assert_eq!(handshake["verify_token"]["writeOnly"], true);
    }

    #[test]
    fn stream_settings_validate_and_the_examples_load() {
        let c = load(
            r#"{"route": {"header": "X-GitHub-Event"}, "primary_key": "id",
            "streams": {"push": {"primary_key": ["after"]}}, "capture_headers": ["X-GitHub-*"]}"#,
        )
        .unwrap();
        assert_eq!(
            c.streams.route,
            Some(crate::convert::routing::Route::Header(
                "x-github-event".into()
            ))
        );
        assert_eq!(c.streams.keys("push").primary_key, ["after"]);
        assert_eq!(c.streams.keys("issues").primary_key, ["id"]);
        assert!(
            c.record_rules().primary_key.is_empty(),
            "checked per stream"
        );
        for (bad, message) in [
            (
                r#"{"route": {"header": "a", "field": "b"}}"#,
                "exactly one of",
            ),
            (r#"{"route": {"path": false}}"#, "exactly one of"),
            (r#"{"stream": "Data"}"#, "not a stream name"),
            (r#"{"streams": {"Push": {}}}"#, "not a stream name"),
            (
                r#"{"streams": {"push": {"primary_key": []}}}"#,
                "push.primary_key",
            ),
            (r#"{"max_streams": 0}"#, "max_streams"),
            (r#"{"capture_headers": ["bad header"]}"#, "capture_headers"),
        ] {
            let e = load(bad).unwrap_err().to_string();
            assert!(e.contains(message), "{bad}: {e}");
        }
        assert_eq!(load("{}").unwrap().streams, StreamSettings::default());
    }

    #[test]
    fn an_ops_bind_others_can_reach_needs_an_ops_token() {
        let e = load(r#"{"ops_bind": "0.0.0.0:9090"}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("ops_bind") && e.contains("set ops_token"), "{e}");
        let c = load(r#"{"ops_bind": "127.0.0.1:9090"}"#).unwrap();
        assert!(c.inspector.ops_token.is_none() && c.inspector.inspect_bodies);
        let c = load(
            r#"{"ops_bind": "0.0.0.0:9090", "ops_token": "0123456789abcdef0123",
                "inspect_bodies": false}"#,
        )
        .unwrap();
        let token = c.inspector.ops_token.as_ref().unwrap();
        assert!(token.accepts("0123456789abcdef0123") && !c.inspector.inspect_bodies);
        assert!(!format!("{c:?}").contains("0123456789abcdef"));
        let e = load(r#"{"ops_bind": "0.0.0.0:9090", "ops_token": "short"}"#).unwrap_err();
        assert!(
            e.to_string().contains("ops_token: is shorter than 16"),
            "{e}"
        );
        let e = load(r#"{"ops_token": "0123456789abcdef0123"}"#).unwrap_err();
        assert!(
            e.to_string()
                .contains("ops_token: is only used with ops_bind"),
            "{e}"
        );
        assert_eq!(
            settings_schema()["properties"]["ops_token"]["writeOnly"],
            true
        );
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
