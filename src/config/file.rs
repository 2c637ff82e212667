//! The settings as the user writes them: [`ConfigFile`] is the single definition of the accepted
//! settings (field docs, serde defaults, `deny_unknown_fields`). The parser, the JSON Schema
//! printed by `--about` ([`settings_schema`]) and the environment overrides (`env`) all
//! come from it, so the settings listed are exactly those accepted.

use std::collections::BTreeMap;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use crate::reply::ReplySetting;
use crate::senders::handshake::HandshakeSetting;
use crate::senders::signature::SignatureSetting;

/// Environment variables `TAP_WEBHOOKS_<SETTING>` override settings (Meltano's convention).
pub const ENV_PREFIX: &str = "TAP_WEBHOOKS_";

/// The settings file as written by the user. Every key not listed here is an error.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "tap-webhooks settings")]
pub struct ConfigFile {
    /// Integration name; its snake_case form (`incoming_webhooks`) is the schema name offered
    /// to targets.
    #[serde(default = "defaults::name")]
    pub name: String,
    /// A top-level field name (at most 50 characters, not `_sdc_…`) or a list of them; every
    /// record must have it, non-null, scalar and not `""`. Absent: each record gets a generated
    /// `__sdc_primary_key`.
    #[serde(default)]
    pub primary_key: Option<PrimaryKeySetting>,
    /// Listen address, `host:port`.
    #[serde(default = "defaults::bind")]
    pub bind: String,
    /// Serve `/healthz`, `/readyz` and `/metrics` on this separate `host:port` (for example
    /// `127.0.0.1:9090`) instead of the webhook listener, keeping them off the public interface;
    /// the inspector (a live page at `/` and its JSON API under `/api/`) is served there too.
    #[serde(default)]
    pub ops_bind: Option<String>,
    /// Bearer token that `/api/` and `/metrics` on `ops_bind` require (at least 16
    /// characters). Required when `ops_bind` is not a loopback address.
    #[serde(default)]
    #[schemars(extend("secret" = true, "writeOnly" = true))]
    pub ops_token: Option<crate::senders::signature::Secret>,
    /// The inspector shows request bodies and the records they became. `false`: only their
    /// sizes, headers and counts.
    #[serde(default = "defaults::inspect_bodies")]
    pub inspect_bodies: bool,
    /// Base URL printed in webhook URLs, for a proxy or a public host name
    /// (`https://hooks.example.com`). Default: from `bind`.
    #[serde(default)]
    pub public_url: Option<String>,
    /// Directory of the journal, token store and persisted schema, relative to the working
    /// directory.
    #[serde(default = "defaults::data_dir")]
    pub data_dir: PathBuf,
    /// Largest accepted request body, in bytes (after decompression): Stitch's 20 MB limit.
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
    /// End a sync cleanly after emitting this many records (the rest comes next run).
    #[serde(default)]
    pub max_records: Option<u64>,
    /// Key every record by `__sdc_primary_key`, so that upserting targets keep every version;
    /// the configured `primary_key` stays a required column.
    #[serde(default)]
    pub append_only: bool,
    /// Also write `_sdc_sequence` under this name (for example `webhook_sequence`), for targets
    /// that drop or overwrite `_sdc_` columns (meltanolabs-target-postgres and other Meltano
    /// SDK targets).
    #[serde(default)]
    pub sequence_alias: Option<String>,
    /// Also write `_sdc_received_at` under this name (for example `webhook_received_at`), for
    /// the same targets.
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
    /// older than this many hours (docs/operations.md, "Journal retention").
    #[serde(default = "defaults::journal_retention_hours")]
    pub journal_retention_hours: f64,
    /// How often a sync logs a Singer `METRIC` line with the records it emitted, in seconds
    /// (one is always logged at the end).
    #[serde(default = "defaults::metrics_interval_seconds")]
    pub metrics_interval_seconds: f64,
    /// How long a stopping listener waits for requests in flight, in seconds.
    #[serde(default = "defaults::shutdown_grace_seconds")]
    pub shutdown_grace_seconds: f64,
    /// A provider preset (`github`, `stripe`, `shopify`, `slack`, ...; `tap-webhooks senders`
    /// lists them): its route, captured headers, delivery-id header, per-event keys, signature
    /// scheme, handshake and reply, under the settings given here (which win; `signature` is
    /// merged key by key, so `{"sender": "github", "signature": {"secret": "..."}}` is a whole
    /// config). `tap-webhooks senders NAME --format json` prints what one sets.
    #[serde(default)]
    pub sender: Option<String>,
    /// Verify each webhook's signature: `{"scheme": "github", "secret": "..."}`, or any
    /// sender's scheme described with the kinds `hmac`, `header`, `basic` and `ed25519`.
    /// Missing, invalid or expired signatures get 401 (docs/senders.md, "Signatures").
    #[serde(default)]
    pub signature: Option<SignatureSetting>,
    /// Answer one provider's URL check, besides Slack's, Zoom's, Okta's and `HEAD`, which are
    /// always answered: `{"kind": "meta" | "twitch" | "discord" | "microsoft-graph" | "asana" |
    /// "dropbox" | "ebay" | "monday" | "woocommerce" | "notion" | "xero", "verify_token":
    /// "..."}` (`verify_token`: meta and ebay). Handshakes are never recorded
    /// (docs/senders.md, "Handshakes").
    #[serde(default)]
    pub handshake: Option<HandshakeSetting>,
    /// The reply to an accepted webhook, for senders that require one:
    /// `{"status": 200, "content_type": "text/plain", "body": "[accepted]"}` (Adyen). Default:
    /// 200 with `{"status": "ok", "records": N}`. Refusals keep their JSON error bodies.
    #[serde(default)]
    pub reply: Option<ReplySetting>,
    /// Header whose value identifies a delivery (`X-GitHub-Delivery`, `X-Shopify-Webhook-Id`,
    /// `webhook-id`, ...). A delivery whose id was already journaled is answered 200 and not
    /// journaled or emitted again.
    #[serde(default)]
    pub idempotency_header: Option<String>,
    /// How long delivery ids are remembered for `idempotency_header`, in hours (longer than
    /// Stripe's 3 days of retries and Shopify's 4 hours).
    #[serde(default = "defaults::idempotency_window_hours")]
    pub idempotency_window_hours: f64,
    /// At most this many delivery ids are remembered (about 100 bytes each); the oldest are
    /// forgotten first.
    #[serde(default = "defaults::idempotency_max_ids")]
    pub idempotency_max_ids: u64,
    /// Accept exactly the tokens with these SHA-256 digests (hex of the SHA-256 of the token
    /// text) instead of the token store, for immutable deployments. The `token` commands then
    /// change nothing (docs/operations.md, "Immutable deployments").
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
    /// A safety net far above real concurrency: memory is bounded by
    /// `max_inflight_body_bytes`.
    #[serde(default = "defaults::max_concurrent_requests")]
    pub max_concurrent_requests: u32,
    /// Bytes of request bodies held at once, over all requests (at least `max_body_bytes`);
    /// a body that does not fit gets 429 with `Retry-After`. This bounds the memory a burst
    /// takes: small webhooks are never refused for their number, large ones once a few are in
    /// flight.
    #[serde(default = "defaults::max_inflight_body_bytes")]
    pub max_inflight_body_bytes: u64,
    /// Open connections at most. A connection beyond it closes the longest-idle one, or gets
    /// 503 with `Retry-After` when every connection is busy.
    #[serde(default = "defaults::max_connections")]
    pub max_connections: u32,
    /// Top-level fields a record may have (each becomes a column); more get 422.
    #[serde(default = "defaults::max_fields")]
    pub max_fields: u32,
    /// Most columns a stream gets, the tap's `_sdc` columns included (10 to 1600; PostgreSQL
    /// allows 1,600 per table). Once a stream has this many, a record's new fields go into its JSON column
    /// `_sdc_overflow` instead of new columns (and a WARN names them).
    #[serde(default = "defaults::max_columns")]
    pub max_columns: u32,
    /// Origins whose pages may post webhooks from a browser (CORS):
    /// `["https://www.example.com"]` or `["*"]`. Empty: no CORS (`OPTIONS` gets 405)
    /// (docs/senders.md, "Website forms").
    #[serde(default)]
    pub cors_origins: Vec<String>,
    /// Record refused requests (400, 401, 413, 415, 422) as records of the stream
    /// `_rejections`: status, reason, headers, body size, SHA-256 and first 4 KB
    /// (docs/senders.md, "Rejections").
    #[serde(default)]
    pub rejections: bool,
    /// At most this many rejections are recorded a second; the others are counted in the
    /// next record's `suppressed`.
    #[serde(default = "defaults::rejections_per_second")]
    pub rejections_per_second: u32,
    /// The default stream: records no `route` sends elsewhere (Stitch's single table).
    #[serde(default = "defaults::stream")]
    pub stream: String,
    /// How a request picks its stream: `{"header": "X-GitHub-Event"}`, `{"field": "type"}` (a
    /// top-level body field; for an array, per record) or `{"path": true}`
    /// (`POST /webhooks/<token>/<name>`). No value: the default stream
    /// (docs/streams-and-schema.md).
    #[serde(default)]
    pub route: Option<RouteSetting>,
    /// A route value that would create a stream past this many goes to the default stream (one
    /// WARN per value); streams named in `streams` are always made.
    #[serde(default = "defaults::max_streams")]
    pub max_streams: u32,
    /// Per-stream overrides: `{"push": {"primary_key": "after", "append_only": true}}`; the
    /// top-level `primary_key` and `append_only` apply to streams without their own.
    #[serde(default)]
    pub streams: BTreeMap<String, StreamSetting>,
    /// Header names or globs (`"X-GitHub-*"`, `"*"`) copied into the record field
    /// `_sdc_headers`. A credential (`Authorization`, API keys, signatures, the token) shows as
    /// `<redacted: N bytes>`; a header named exactly, not by a glob, is kept as sent.
    #[serde(default)]
    pub capture_headers: Vec<String>,
    /// Copy the query parameters into the record field `_sdc_query`.
    #[serde(default)]
    pub capture_query: bool,
    /// Where webhooks are journaled: `{"kind": "local"}` (segment files in `data_dir`, the
    /// default) or `{"kind": "nats", "servers": [...], "stream": "...", "replicas": 3}` (a
    /// replicated NATS JetStream stream shared by many receivers; docs/scaling-out.md).
    #[serde(default)]
    pub journal: Option<JournalSetting>,
}

/// `route`: exactly one of `header`, `field`, `path`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RouteSetting {
    /// A request header (any case), such as `X-GitHub-Event`.
    #[serde(default)]
    pub header: Option<String>,
    /// A body field, such as Stripe's `type`: a top-level field, or a dotted path to one
    /// below it (`event.type`; a number picks an array element:
    /// `notificationItems.0.NotificationRequestItem.eventCode`).
    #[serde(default)]
    pub field: Option<String>,
    /// `true`: the `<name>` of `POST /webhooks/<token>/<name>`.
    #[serde(default)]
    pub path: Option<bool>,
}

/// `streams.<name>`: what differs for one stream.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StreamSetting {
    /// This stream's key field(s), instead of the top-level `primary_key`.
    #[serde(default)]
    pub primary_key: Option<PrimaryKeySetting>,
    /// This stream's `append_only`, instead of the top-level one.
    #[serde(default)]
    pub append_only: Option<bool>,
}

/// The `journal` setting.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum JournalSetting {
    Local {},
    Nats(Box<crate::journal::nats::NatsSetting>),
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

    pub fn rejections_per_second() -> u32 {
        50
    }

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
    pub fn inspect_bodies() -> bool {
        true
    }
    pub fn journal_segment_bytes() -> u64 {
        64 * 1024 * 1024
    }
    pub fn shutdown_grace_seconds() -> f64 {
        30.0
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
        1024
    }
    pub fn max_inflight_body_bytes() -> u64 {
        64_000_000
    }
    pub fn max_connections() -> u32 {
        512
    }
    pub fn max_fields() -> u32 {
        1000
    }
    pub fn max_columns() -> u32 {
        crate::schema::columns::DEFAULT_MAX_COLUMNS as u32
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
    pub fn stream() -> String {
        "data".to_owned()
    }
    pub fn max_streams() -> u32 {
        100
    }
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
