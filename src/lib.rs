//! tap-webhooks: a Singer tap that receives incoming webhooks.
//!
//! Module map, in the order data flows through them:
//!
//! - [`cli`]: the command line, parsed into validated options; [`about`] for `--about`.
//! - [`config`]: the `--config` file ([`config::file`](mod@config::file), the one definition
//!   of the settings), validated once into a [`config::Config`], which builds each part's settings.
//! - [`commands`]: wires the parts together for each command: [`commands::sync`],
//!   [`commands::listen`] (startable in-process), [`commands::serve`], [`commands::token`].
//! - [`http`]: the HTTP side. [`http::server`] (accept loop, connection limits, timeouts,
//!   graceful shutdown), [`http::receiver`] (a webhook request as named steps: admit,
//!   authenticate, read, verify, convert, claim, append, answer), [`http::refusal`] (each
//!   refusal one status), [`http::body`], [`http::admission`] (the byte budget of bodies in
//!   flight), [`http::auth`] (Bearer tokens: the webhook token in a header, `ops_token`),
//!   [`http::ops`] (`/healthz`, `/readyz`, `/metrics`).
//! - [`reply`]: HTTP replies every listener shares (JSON bodies, Retry-After, 404, 503, the
//!   success reply `reply` sets);
//!   [`cors`]: `cors_origins`, preflights and `Access-Control-Allow-Origin`.
//! - [`senders`]: what providers do differently: [`senders::signature`] (the kinds `hmac`,
//!   `header`, `basic` and `ed25519`, and GitHub, Stripe, Shopify, Slack, Standard Webhooks,
//!   Twilio, Zoom, Mailgun, SendGrid, Mandrill, Adyen, Microsoft Graph, AWS SNS),
//!   [`senders::handshake`] (URL checks answered and never
//!   recorded, the `handshake` kinds, SNS confirmations), Asana's learned secrets
//!   ([`senders::signature::asana`]), [`senders::presets`] (the `sender` presets, as data),
//!   [`senders::idempotency`] (delivery ids already journaled).
//! - [`capture`]: request metadata: the headers journaled with a webhook and captured into its
//!   records, and [`capture::secrets`], what is a credential and never kept.
//! - [`rejections`]: refused requests as records of the `_rejections` stream.
//! - [`inspector`]: what arrives, live on the operations listener: the last deliveries and
//!   refusals in bounded rings, a JSON API under `/api/` and a page at `/`; one-line entry
//!   summaries for `tail`.
//! - [`journal`]: the durable append-only log every accepted webhook is written to before 200,
//!   one [`journal::Journal`] face over its backends (local segment files, a replicated NATS
//!   JetStream stream).
//! - [`convert`]: the one conversion path, body → records, used by the receiver, the emitter
//!   and replay alike: [`convert::media`] (content types → JSON), [`convert::payload`] (the
//!   parser, and the `_sdc` field names), [`convert::routing`] (streams and their keys),
//!   [`convert::handoff`] (the receiver's conversion cached for the emitter).
//! - [`keys`]: `__sdc_primary_key`, derived from a record's journal entry or capture.
//! - [`schema`]: each stream's JSON Schema, inferred from records and persisted:
//!   [`schema::kinds`] (types, what a pin accepts), [`schema::columns`] (the `_sdc` columns),
//!   [`schema::catalog`] (`--catalog` selection and pins, `--discover`), the tracker itself.
//! - [`emitter`]: journal entries and replayed payloads → Singer messages and bookmarks.
//! - [`replay`]: captured payload files, or the journal again, → the emitter (the `replay`
//!   command): inputs in a stable order, payloads streamed, capture times, resume, progress.
//! - [`singer`]: every Singer line on stdout ([`singer::output`]: SCHEMA, RECORD, STATE) and
//!   the `--state` bookmark ([`singer::state`]).
//! - [`tokens`]: webhook URL tokens (only their SHA-256 digests are stored, in `data_dir` or
//!   the NATS key-value bucket), followed live.
//! - [`lifecycle`]: the run's one shutdown mechanism: stop signal, requests in flight, closing.
//! - [`telemetry`]: Prometheus metrics for `/metrics` and Singer `METRIC` lines.
//! - [`sequence`], [`fsutil`], [`logging`]: small shared pieces.

pub mod about;
pub mod capture;
pub mod cli;
pub mod commands;
pub mod config;
pub mod convert;
pub mod cors;
pub mod emitter;
pub mod fsutil;
pub mod http;
pub mod inspector;
pub mod journal;
pub mod keys;
pub mod lifecycle;
pub mod logging;
pub mod rejections;
pub mod replay;
pub mod reply;
pub mod schema;
pub mod senders;
pub mod sequence;
pub mod singer;
pub mod telemetry;
pub mod tokens;
