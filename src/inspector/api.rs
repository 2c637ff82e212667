//! The inspector's JSON API under `/api/` (documented in `docs/inspector.md`): `status`,
//! `streams`, `deliveries`, `deliveries/<sequence>`, `refusals` and `tokens`. The page polls
//! it; scripts may too. With `ops_token` every call needs `Authorization: Bearer <ops_token>`.
//!
//! Sequences are strings: they are nanoseconds since 1970, beyond the integers a JavaScript
//! number holds exactly. What takes a file system walk or a NATS request (the journal's size,
//! what syncs acknowledged, the persisted schemas, the token store) is read in a blocking task
//! at most every [`SLOW_EVERY`], however many pages poll.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{SecondsFormat, Utc};
use http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_SECURITY_POLICY, X_CONTENT_TYPE_OPTIONS};
use http::{HeaderMap, HeaderValue, StatusCode};
use serde_json::{Value, json};
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::Response;

use super::Inspector;
use super::OpsToken;
use super::detail;
use super::rings::{Delivery, MEMORY_BOUND_BYTES, RATE_SECONDS, Refused, Rings};
use crate::config::Config;
use crate::convert::Converter;
use crate::journal::{Journal, JournalWriter};
use crate::lifecycle::Lifecycle;
use crate::reply::{error_response, json_response};
use crate::schema::catalog;
use crate::sequence::{Sequence, now_nanos};
use crate::telemetry;

/// How often the slow parts of the replies are read again.
pub const SLOW_EVERY: Duration = Duration::from_secs(3);
/// Items a list returns by default, and at most.
const DEFAULT_LIMIT: usize = 50;
/// Seconds per point of a stream's sparkline.
const RATE_STEP_SECONDS: usize = 5;

/// What the API reads.
pub struct Api {
    pub inspector: Arc<Inspector>,
    pub config: Config,
    pub journal: Arc<dyn JournalWriter>,
    pub store: Journal,
    pub lifecycle: Arc<Lifecycle>,
    /// A listening sync: the bookmark is this process's emitter's; else (`serve`) what syncs
    /// acknowledged.
    pub emitting: bool,
    slow: Mutex<Option<(Instant, Arc<Slow>)>>,
}

/// The parts of the replies read at most every [`SLOW_EVERY`].
struct Slow {
    journal_bytes: Result<u64, String>,
    acknowledged: Option<Sequence>,
    /// Catalog entries of the streams with a persisted schema.
    schemas: Result<Vec<Value>, String>,
    tokens: Result<Vec<Value>, String>,
}

impl Api {
    pub fn new(
        inspector: Arc<Inspector>,
        config: Config,
        journal: Arc<dyn JournalWriter>,
        store: Journal,
        lifecycle: Arc<Lifecycle>,
        emitting: bool,
    ) -> Self {
        Api {
            inspector,
            config,
            journal,
            store,
            lifecycle,
            emitting,
            slow: Mutex::new(None),
        }
    }

    /// The slow parts, read again in a blocking task when older than [`SLOW_EVERY`].
    async fn slow(self: &Arc<Self>) -> Arc<Slow> {
        if let Some((at, slow)) = &*self.slow.lock().unwrap_or_else(|p| p.into_inner())
            && at.elapsed() < SLOW_EVERY
        {
            return Arc::clone(slow);
        }
        let api = Arc::clone(self);
        let read = tokio::task::spawn_blocking(move || api.read_slow()).await;
        let slow = Arc::new(read.unwrap_or_else(|e| Slow {
            journal_bytes: Err(e.to_string()),
            acknowledged: None,
            schemas: Err(e.to_string()),
            tokens: Err(e.to_string()),
        }));
        *self.slow.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((Instant::now(), Arc::clone(&slow)));
        slow
    }

    fn read_slow(&self) -> Slow {
        let config = &self.config;
        let settings = config.emitter_settings();
        let schemas = catalog::discover_streams(
            &config.data_dir,
            &settings.streams,
            &settings.columns,
            &config.schema_name,
        );
        let tokens =
            crate::tokens::listed(config.token_digests.as_deref(), &config.journal_config());
        Slow {
            journal_bytes: self.store.size_on_disk().map_err(|e| e.to_string()),
            acknowledged: if self.emitting {
                None
            } else {
                self.store.acknowledged()
            },
            schemas: schemas.map_err(|e| e.to_string()),
            tokens: tokens
                .map(|listed| listed.iter().map(|t| t.json()).collect())
                .map_err(|e| e.to_string()),
        }
    }

    async fn status(self: Arc<Self>) -> Response {
        let slow = self.slow().await;
        let progress = telemetry::progress();
        if let Some(acknowledged) = slow.acknowledged {
            progress.set_consumed(acknowledged.get());
        }
        let committed = progress.committed.load(Ordering::Relaxed);
        let consumed = progress.consumed.load(Ordering::Relaxed);
        let backlog = committed.saturating_sub(consumed);
        let lag = if backlog == 0 || consumed == 0 {
            0
        } else {
            now_nanos().saturating_sub(consumed)
        };
        let not_ready = self.lifecycle.not_ready(self.journal.as_ref());
        let inspector = &self.inspector;
        let (delivered, refused) = inspector.read(|r| (r.delivered_total, r.refused_total));
        reply(&json!({
            "name": self.config.name,
            "version": env!("CARGO_PKG_VERSION"),
            "started_at": inspector.started_at().to_rfc3339_opts(SecondsFormat::Secs, true),
            "uptime_seconds": inspector.uptime_seconds(),
            "mode": if self.emitting { "sync" } else { "serve" },
            "ready": not_ready.is_none(),
            "not_ready": not_ready,
            "journal": {
                "kind": if self.config.nats.is_some() { "nats" } else { "local" },
                "bytes": slow.journal_bytes.as_ref().ok(),
                "error": slow.journal_bytes.as_ref().err(),
                "committed_sequence": (committed > 0).then(|| committed.to_string()),
            },
            "emitter": {
                "bookmark": (consumed > 0).then(|| consumed.to_string()),
                "bookmark_of": if self.emitting { "this sync" } else { "acknowledged by syncs" },
                "backlog_seconds": backlog as f64 / 1e9,
                "lag_seconds": lag as f64 / 1e9,
            },
            "inspect_bodies": inspector.settings().inspect_bodies,
            "deliveries_total": delivered,
            "refusals_total": refused,
            "memory_bound_bytes": MEMORY_BOUND_BYTES,
        }))
    }

    async fn streams(self: Arc<Self>) -> Response {
        let slow = self.slow().await;
        let now = Utc::now().timestamp();
        let mut streams: Vec<Value> = self.inspector.read(|rings| stream_rows(rings, now));
        let schemas = slow.schemas.as_deref().unwrap_or_default();
        for entry in schemas {
            let name = entry["stream"].as_str().unwrap_or_default();
            let row = match streams.iter_mut().find(|s| s["name"] == name) {
                Some(row) => row,
                None => {
                    streams.push(empty_row(name));
                    streams.last_mut().expect("pushed")
                }
            };
            row["key_properties"] = entry["key_properties"].clone();
            row["columns"] = columns(&entry["schema"]);
        }
        let default = &self.config.streams.default;
        streams.sort_by_key(|s| {
            (
                s["name"] != **default,
                s["name"].as_str().map(str::to_owned),
            )
        });
        reply(&json!({
            "streams": streams,
            "schemas_error": slow.schemas.as_ref().err(),
        }))
    }

    fn deliveries(&self, query: &str) -> Response {
        let (after, limit) = page(query);
        let after = after.and_then(|a| a.parse::<u64>().ok()).map(Sequence::new);
        let items: Vec<Value> = self.inspector.read(|rings| {
            rings
                .deliveries
                .iter()
                .rev()
                .take_while(|d| after.is_none_or(|after| d.sequence > after))
                .take(limit)
                .map(delivery_json)
                .collect()
        });
        reply(&json!({ "deliveries": items }))
    }

    fn refusals(&self, query: &str) -> Response {
        let (after, limit) = page(query);
        let after = after.and_then(|a| a.parse::<u64>().ok()).unwrap_or(0);
        let bodies = self.inspector.settings().inspect_bodies;
        let items: Vec<Value> = self.inspector.read(|rings| {
            rings
                .refusals
                .iter()
                .rev()
                .take_while(|r| r.id > after)
                .take(limit)
                .map(|r| refusal_json(r, bodies))
                .collect()
        });
        reply(&json!({ "refusals": items }))
    }

    async fn delivery(self: Arc<Self>, sequence: String) -> Response {
        let Ok(sequence) = sequence.parse::<u64>().map(Sequence::new) else {
            return error_reply(
                StatusCode::BAD_REQUEST,
                "a sequence is a number of 19 digits",
            );
        };
        let api = Arc::clone(&self);
        let found = tokio::task::spawn_blocking(move || {
            let entry =
                tokio::runtime::Handle::current().block_on(detail::find(&api.store, sequence))?;
            let rules = api.config.record_rules();
            let converter = Converter::new(&rules, &api.config.streams);
            let bodies = api.inspector.settings().inspect_bodies;
            Ok::<_, crate::journal::JournalError>(
                entry.map(|entry| detail::describe(&entry, &converter, bodies)),
            )
        })
        .await;
        match found {
            Ok(Ok(Some(value))) => reply(&value),
            Ok(Ok(None)) => error_reply(
                StatusCode::NOT_FOUND,
                &format!(
                    "no journal entry starts at sequence {sequence}: retention may have deleted it"
                ),
            ),
            Ok(Err(e)) => error_reply(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
            Err(e) => error_reply(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        }
    }

    async fn tokens(self: Arc<Self>) -> Response {
        let slow = self.slow().await;
        match &slow.tokens {
            Ok(tokens) => reply(&json!({ "tokens": tokens })),
            Err(e) => error_reply(StatusCode::SERVICE_UNAVAILABLE, e),
        }
    }
}

/// The routes of `/api/`, each behind the `ops_token` when there is one.
pub fn routes(api: Arc<Api>) -> BoxedFilter<(Response,)> {
    let query = warp::query::raw().or(warp::any().map(String::new)).unify();
    let token = api.inspector.settings().ops_token.clone();
    let guarded = warp::get()
        .and(warp::path("api"))
        .and(warp::header::headers_cloned())
        .map(move |headers: HeaderMap| {
            OpsToken::refusal(token.as_ref(), headers.get(AUTHORIZATION))
        });
    let endpoints = {
        let (a, b, c, d, e, f) = (
            Arc::clone(&api),
            Arc::clone(&api),
            Arc::clone(&api),
            Arc::clone(&api),
            Arc::clone(&api),
            api,
        );
        let status = warp::path!("status").then(move || Arc::clone(&a).status());
        let streams = warp::path!("streams").then(move || Arc::clone(&b).streams());
        let deliveries = warp::path!("deliveries")
            .and(query)
            .map(move |q: String| c.deliveries(&q));
        let delivery = warp::path!("deliveries" / String).then(move |s| Arc::clone(&d).delivery(s));
        let refusals = warp::path!("refusals")
            .and(query)
            .map(move |q: String| e.refusals(&q));
        let tokens = warp::path!("tokens").then(move || Arc::clone(&f).tokens());
        status
            .or(streams)
            .unify()
            .or(deliveries)
            .unify()
            .or(delivery)
            .unify()
            .or(refusals)
            .unify()
            .or(tokens)
            .unify()
            .or(warp::any().map(|| error_reply(StatusCode::NOT_FOUND, "no such API")))
            .unify()
    };
    guarded
        .and(endpoints)
        .map(|refused: Option<Response>, answer: Response| refused.unwrap_or(answer))
        .boxed()
}

/// `after` and `limit` of a list's query string.
fn page(query: &str) -> (Option<String>, usize) {
    let mut after = None;
    let mut limit = DEFAULT_LIMIT;
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        match &*key {
            "after" => after = Some(value.into_owned()),
            "limit" => limit = value.parse().unwrap_or(DEFAULT_LIMIT).clamp(1, 1000),
            _ => {}
        }
    }
    (after, limit)
}

/// A JSON reply that no browser caches, sniffs or runs anything from.
fn reply(value: &Value) -> Response {
    harden(json_response(StatusCode::OK, value))
}

fn error_reply(status: StatusCode, message: &str) -> Response {
    harden(error_response(status, message))
}

fn harden(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
    );
    response
}

fn time(t: chrono::DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn delivery_json(d: &Delivery) -> Value {
    json!({
        "sequence": d.sequence.to_string(),
        "received_at": time(d.received_at),
        "stream": &*d.stream,
        "other_streams": d.other_streams,
        "records": d.records,
        "bytes": d.bytes,
        "content_type": d.content_type.as_deref(),
        "delivery_id": d.delivery_id.as_deref(),
        "token_id": d.token_id.as_deref(),
    })
}

fn refusal_json(r: &Refused, bodies: bool) -> Value {
    json!({
        "id": r.id,
        "at": time(r.at),
        "status": r.status.as_u16(),
        "reason": &*r.reason,
        "remote_addr": r.remote_addr.map(|a| a.to_string()),
        "token_id": r.token_id.as_ref().map(|t| t.as_str()),
        "body_bytes": r.body_bytes,
        "body_prefix": r.body_prefix.as_deref().filter(|_| bodies),
    })
}

/// The streams counted since start, with their sparklines: records a second, averaged over
/// steps of [`RATE_STEP_SECONDS`], oldest first.
fn stream_rows(rings: &Rings, now: i64) -> Vec<Value> {
    rings
        .streams
        .iter()
        .map(|(name, stats)| {
            let points: Vec<f64> = stats
                .rates
                .window(now)
                .chunks(RATE_STEP_SECONDS)
                .map(|step| step.iter().map(|&n| f64::from(n)).sum::<f64>() / step.len() as f64)
                .collect();
            let mut row = empty_row(name);
            row["records"] = json!(stats.records);
            row["deliveries"] = json!(stats.deliveries);
            row["last_delivery_at"] = json!(stats.last_delivery.map(|(at, _)| time(at)));
            row["last_sequence"] = json!(stats.last_delivery.map(|(_, s)| s.to_string()));
            row["rate"] = json!({"step_seconds": RATE_STEP_SECONDS, "points": points});
            row
        })
        .collect()
}

fn empty_row(name: &str) -> Value {
    json!({
        "name": name,
        "records": 0,
        "deliveries": 0,
        "last_delivery_at": null,
        "last_sequence": null,
        "rate": {"step_seconds": RATE_STEP_SECONDS, "points": vec![0.0; RATE_SECONDS / RATE_STEP_SECONDS]},
        "key_properties": [],
        "columns": [],
    })
}

/// A stream's columns and their types, from its JSON Schema: the provider's fields first, then
/// the tap's (`_sdc…`).
fn columns(schema: &Value) -> Value {
    let Some(properties) = schema["properties"].as_object() else {
        return json!([]);
    };
    let mut columns: Vec<(&String, String)> = properties
        .iter()
        .map(|(name, property)| (name, type_name(property)))
        .collect();
    columns.sort_by_key(|(name, _)| (name.starts_with('_'), (*name).clone()));
    columns
        .into_iter()
        .map(|(name, kind)| json!({"name": name, "type": kind}))
        .collect()
}

/// `string`, `integer`, `string (date-time)`, `number|string`: a property's types without
/// `null`.
fn type_name(property: &Value) -> String {
    let types: Vec<&str> = match &property["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts
            .iter()
            .filter_map(Value::as_str)
            .filter(|t| *t != "null")
            .collect(),
        _ => Vec::new(),
    };
    let mut name = if types.is_empty() {
        "any".to_owned()
    } else {
        types.join("|")
    };
    if let Some(format) = property["format"].as_str() {
        name += &format!(" ({format})");
    }
    name
}
