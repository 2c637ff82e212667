//! tap-webhooks: a Singer tap that receives incoming webhooks.
//!
//! Module map, in the order data flows through them:
//!
//! - [`config`]: the `--config` file, validated once into a [`config::Config`].
//! - [`receiver`]: the HTTP routes (warp): authenticate, limit, validate, journal, reply.
//!   - [`body`]: reads a request body within a deadline, decompressed, within the size limit.
//!   - [`admission`]: the byte budget of bodies in flight (429 when a body does not fit).
//!   - [`signature`]: provider signatures (GitHub, Stripe, Shopify, Slack, Standard Webhooks).
//!   - [`idempotency`]: delivery ids already journaled, so redeliveries are stored once.
//! - [`reply`]: HTTP replies every listener shares (JSON bodies, Retry-After, 404, 503).
//! - [`server`]: the accept loop, connection limits, timeouts and graceful shutdown.
//! - [`journal`]: the durable append-only log every accepted webhook is written to before 200.
//! - [`replay`]: captured payload files, or the journal again, → the emitter (the `replay`
//!   command): inputs in a stable order, payloads streamed, capture times, resume, progress.
//! - [`convert`]: the one conversion path, payload bytes → records → RECORD lines.
//! - [`schema`]: the stream's JSON Schema, inferred from records and persisted.
//! - [`catalog`]: `--discover` output, and field selection and pinned types from `--catalog`.
//! - [`emitter`]: payloads (journal entries, replayed files) → Singer messages and bookmarks.
//! - [`singer`]: Singer message framing (SCHEMA/RECORD/STATE) and the `--state` bookmark.
//! - [`tokens`]: webhook URL tokens (only their SHA-256 digests are stored), followed live.
//! - [`lifecycle`]: the stop signal and in-flight accounting shared by the parts of a run.
//! - [`commands`]: wires the parts together for each command (sync, listen, serve, token).
//! - [`cli`]: the command line, parsed into validated options; [`about`] for `--about`.
//! - [`ops`]: `/healthz`, `/readyz` and `/metrics`, on the listener or a separate address.
//! - [`telemetry`]: Prometheus metrics for `/metrics` and Singer `METRIC` lines.
//! - [`sequence`], [`fsutil`], [`logging`]: small shared pieces.

pub mod about;
pub mod admission;
pub mod body;
pub mod catalog;
pub mod cli;
pub mod commands;
pub mod config;
pub mod convert;
pub mod emitter;
pub mod fsutil;
pub mod idempotency;
pub mod journal;
pub mod lifecycle;
pub mod logging;
pub mod ops;
pub mod receiver;
pub mod replay;
pub mod reply;
pub mod schema;
pub mod sequence;
pub mod server;
pub mod signature;
pub mod singer;
pub mod telemetry;
pub mod tokens;
