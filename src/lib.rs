//! tap-webhooks: a Singer tap that receives incoming webhooks.
//!
//! Module map, in the order data flows through them:
//!
//! - [`config`]: the `--config` file ([`config::file`](mod@config::file), the one definition
//!   of the settings), validated once into a [`config::Config`], which builds each part's settings.
//! - [`receiver`]: the HTTP routes (warp): authenticate, limit, validate, journal, reply.
//!   - [`body`]: reads a request body within a deadline, decompressed, within the size limit.
//!   - [`admission`]: the byte budget of bodies in flight (429 when a body does not fit).
//!   - [`media`]: the body's media type (JSON, NDJSON, form, multipart) → JSON text; used by
//!     the emitter and replay too.
//!   - [`handshake`]: URL checks (Slack, Zoom, Okta) answered and never recorded.
//!   - [`signature`]: provider signatures (GitHub, Stripe, Shopify, Slack, Standard Webhooks,
//!     Twilio, Zoom, Mailgun, SendGrid).
//!   - [`idempotency`]: delivery ids already journaled, so redeliveries are stored once.
//!   - [`cors`]: preflights and `Access-Control-Allow-Origin` for browser forms.
//!   - [`rejections`]: refused requests as records of the `_rejections` stream.
//! - [`reply`]: HTTP replies every listener shares (JSON bodies, Retry-After, 404, 503).
//! - [`server`]: the accept loop, connection limits, timeouts and graceful shutdown.
//! - [`journal`]: the durable append-only log every accepted webhook is written to before 200,
//!   one [`journal::Journal`] face over its backends (local segment files, a replicated NATS
//!   JetStream stream).
//! - [`replay`]: captured payload files, or the journal again, → the emitter (the `replay`
//!   command): inputs in a stable order, payloads streamed, capture times, resume, progress.
//! - [`payload`]: the one parser, payload bytes → records of raw top-level fields; the `_sdc`
//!   field names.
//! - [`keys`]: `__sdc_primary_key`, derived from a record's journal entry or capture.
//! - [`schema`]: the stream's JSON Schema, inferred from records and persisted:
//!   [`schema::kinds`] (types, what a pin accepts), [`schema::columns`] (the `_sdc` columns),
//!   [`schema::catalog`] (`--catalog` selection and pins, `--discover`), the tracker itself.
//! - [`emitter`]: payloads (journal entries, replayed files) → Singer messages and bookmarks.
//! - [`singer`]: every Singer line on stdout ([`singer::output`]: SCHEMA, RECORD, STATE) and
//!   the `--state` bookmark ([`singer::state`]).
//! - [`tokens`]: webhook URL tokens (only their SHA-256 digests are stored, in `data_dir` or
//!   the NATS key-value bucket), followed live.
//! - [`lifecycle`]: the run's one shutdown mechanism: stop signal, requests in flight, closing.
//! - [`commands`]: wires the parts together for each command: [`commands::sync`],
//!   [`commands::listen`] (startable in-process), [`commands::serve`], [`commands::token`].
//! - [`cli`]: the command line, parsed into validated options; [`about`] for `--about`.
//! - [`ops`]: `/healthz`, `/readyz` and `/metrics`, on the listener or a separate address.
//! - [`telemetry`]: Prometheus metrics for `/metrics` and Singer `METRIC` lines.
//! - [`sequence`], [`fsutil`], [`logging`]: small shared pieces.

pub mod about;
pub mod capture;
pub mod cli;
pub mod commands;
pub mod config;
pub mod convert;
pub mod emitter;
pub mod fsutil;
pub mod http;
pub mod journal;
pub mod keys;
pub mod lifecycle;
pub mod logging;
pub mod rejections;
pub mod replay;
pub mod schema;
pub mod senders;
pub mod sequence;
pub mod singer;
pub mod telemetry;
pub mod tokens;
