//! The receiver: HTTP routes that turn a webhook request into a durable journal entry.
//!
//! `POST /webhooks/<token>` (or `POST /webhooks` with `Authorization: Bearer <token>`) goes
//! through named steps, each a function of its own, and is answered 200 only once its entry is
//! durable:
//!
//! 1. `admit`: not stopping, the token (`authenticate`), the stream name in the path, content
//!    type and encoding, declared length, a concurrency permit;
//! 2. `read_body`: deadline, decompression, size, its bytes reserved in the listener's
//!    [`InflightBytes`] budget as its buffer grows;
//! 3. `verify`: the provider's signature;
//! 4. `convert`: through the one conversion path ([`Converter`]); a handshake is answered
//!    here, records are checked and counted;
//! 5. `claim`: the delivery id (a redelivery is answered as one);
//! 6. `append`: the entry to the journal, waiting until it is durable;
//! 7. the answer.
//!
//! Every refusal is a [`Refusal`]: one status and a JSON `{"error": ...}` body. Nothing is
//! written unless every step passed. `HEAD` (a URL check) is answered 200 once the token is
//! known, and `GET` only for Okta's challenge.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::Stream;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use tokio::sync::{Semaphore, SemaphorePermit};
use warp::filters::BoxedFilter;
use warp::path::{FullPath, Tail};
use warp::reply::Response;
use warp::{Buf, Filter};

use crate::capture::{self, Header};
use crate::convert::Converter;
use crate::convert::handoff::{Handoff, Split};
use crate::convert::media::{self, Kind};
use crate::convert::payload::{Payload, RecordRules};
use crate::convert::routing::StreamSettings;
use crate::convert::visit::VisitError;
use crate::cors::Cors;
use crate::http::admission::{InflightBytes, Reservation};
use crate::http::auth::bearer_token;
use crate::http::body::{self, Coding};
use crate::http::refusal::{RefusalContext, RefusalLog};
use crate::inspector::{Arrival, Inspector, Routed};
use crate::journal::{self, JournalWriter, NewEntry, OnDurable};
use crate::lifecycle::Lifecycle;
use crate::rejections::{self, Refused, Rejections};
use crate::reply::{self, SuccessReply, not_found_after};
use crate::senders::handshake::{self, Handshakes};
use crate::senders::idempotency::{self, Claim, ClaimGuard, SeenIds};
use crate::senders::signature::asana::LearnedSecrets;
use crate::senders::signature::{Signed, Verifier};
use crate::telemetry;
use crate::tokens::{LiveTokens, TokenId};

mod answer;
mod inspect;

pub use crate::http::refusal::Refusal;
pub use crate::senders::idempotency::Idempotency;

/// Everything a request handler needs, shared by all connections.
pub struct WebhookHandler {
    pub journal: Arc<dyn JournalWriter>,
    pub tokens: Arc<LiveTokens>,
    pub rules: RecordRules,
    pub max_body_bytes: u64,
    pub lifecycle: Arc<Lifecycle>,
    pub signature: Option<Verifier>,
    pub idempotency: Option<Idempotency>,
    pub body_read_timeout: Duration,
    /// Top-level fields a record may have.
    pub max_fields: usize,
    /// One permit per request handled at once.
    pub permits: Semaphore,
    /// The bytes of bodies held at once.
    pub body_bytes: Arc<InflightBytes>,
    /// The base of the URLs senders call (`public_url`, else from `bind`): Twilio signs the URL.
    pub public_url: String,
    /// `cors_origins`.
    pub cors: Option<Cors>,
    /// `rejections: true`: refusals are journaled as `_rejections` records.
    pub rejections: Option<Rejections>,
    /// Streams: per-stream keys are checked here, after routing, exactly as the emitter does.
    pub streams: StreamSettings,
    /// Where the split of each durable body goes when this process's emitter takes them.
    pub handoff: Option<Arc<Handoff>>,
    /// Each refusal's WARN line, within its rate limit.
    pub refusal_log: RefusalLog,
    /// Told of every delivery and refusal, with `ops_bind`.
    pub inspector: Option<Arc<Inspector>>,
    /// `handshake`: the configured provider's URL check.
    pub handshake: Option<Handshakes>,
    /// Asana's secrets, learned from its handshakes (with `handshake` kind `asana`).
    pub learned: Option<LearnedSecrets>,
    /// `reply`: the success reply.
    pub reply: Option<SuccessReply>,
}

/// The HTTP routes of a listener: the webhook routes, then `extra` (the operations endpoints,
/// when they share this listener), then 404 for anything else.
pub fn routes(
    handler: Arc<WebhookHandler>,
    extra: Option<BoxedFilter<(Response,)>>,
) -> BoxedFilter<(Response,)> {
    // `/webhooks`, `/webhooks/<token>` and `/webhooks/<token>/<name>` (the name is journaled:
    // it picks the stream with `"route": {"path": true}`). One filter, read in the handler:
    // no allocation, and no rejection built for the forms a request is not.
    let query = warp::query::raw().or(warp::any().map(String::new)).unify();
    let webhook = warp::path("webhooks")
        .and(warp::path::tail())
        .and_then(|tail: Tail| async move {
            match split_webhook_path(tail.as_str()) {
                Some(_) => Ok(tail),
                None => Err(warp::reject::not_found()),
            }
        })
        .and(warp::method())
        .and(warp::header::headers_cloned())
        .and(warp::path::full())
        .and(query)
        .and(warp::body::stream())
        .then(
            move |tail: Tail,
                  method: Method,
                  headers: HeaderMap,
                  path: FullPath,
                  query: String,
                  body| {
                let handler = Arc::clone(&handler);
                async move {
                    let (token, name) = split_webhook_path(tail.as_str()).unwrap_or_default();
                    let request = Request {
                        token,
                        method: &method,
                        headers: &headers,
                        target: Target {
                            path: path.as_str(),
                            query: &query,
                            name,
                        },
                    };
                    handler.handle(request, body).await
                }
            },
        )
        .boxed();
    let webhook = match extra {
        Some(extra) => webhook.or(extra).unify().boxed(),
        None => webhook,
    };
    not_found_after(webhook)
}

/// The token and name of a webhook path after `/webhooks/` (`""`, `<token>` or
/// `<token>/<name>`, a trailing `/` allowed); `None` for any other path (404).
fn split_webhook_path(tail: &str) -> Option<(Option<&str>, Option<&str>)> {
    let tail = tail.strip_suffix('/').unwrap_or(tail);
    if tail.is_empty() {
        return Some((None, None));
    }
    let mut parts = tail.split('/');
    let token = parts.next().filter(|t| !t.is_empty())?;
    match (parts.next(), parts.next()) {
        (None, _) => Some((Some(token), None)),
        (Some(name), None) if !name.is_empty() => Some((Some(token), Some(name))),
        _ => None,
    }
}

/// One webhook request, as the routes saw it.
struct Request<'a> {
    /// The token in the path, if any.
    token: Option<&'a str>,
    method: &'a Method,
    headers: &'a HeaderMap,
    target: Target<'a>,
}

/// What a request had shown before it was refused, for its rejection record.
#[derive(Default)]
struct Seen {
    token_id: Option<TokenId>,
    body: Option<Bytes>,
}

/// The request's path and query, as the sender called them.
#[derive(Clone, Copy)]
struct Target<'a> {
    path: &'a str,
    query: &'a str,
    /// The `<name>` of `/webhooks/<token>/<name>`.
    name: Option<&'a str>,
}

/// Longest `<name>` accepted in `/webhooks/<token>/<name>`.
const MAX_PATH_NAME_BYTES: usize = 255;

/// What the admission step found out about a request before its body is read.
struct Admitted<'a> {
    coding: Coding,
    kind: Kind,
    content_type: Option<&'a HeaderValue>,
    declared_length: Option<u64>,
}

/// A body converted and checked: what its journal entry needs.
struct Prepared {
    record_count: u32,
    /// The headers journaled with it (the delivery id first, when there is one).
    headers: Vec<Header>,
    /// The delivery id (`idempotency_header`), when the request has one.
    delivery_id: Option<Bytes>,
    split: Option<Split>,
    /// The streams of its records, for the inspector.
    routed: Option<Routed>,
}

/// What the claim on a request's delivery id gave.
enum Claimed<'h> {
    /// No `idempotency_header`, or no id in the request.
    NoId,
    /// The id was journaled already: a redelivery.
    Duplicate,
    /// This request journals the id (or releases it by dropping the claim).
    First {
        claim: ClaimGuard,
        id: Bytes,
        seen: &'h Arc<SeenIds>,
    },
}

impl WebhookHandler {
    /// Answers one request on a webhook path: a preflight, or the steps of [`receive`], with
    /// CORS headers, the refusal's record and the request counters.
    ///
    /// [`receive`]: WebhookHandler::receive
    async fn handle<S, B>(&self, request: Request<'_>, body: S) -> Response
    where
        S: Stream<Item = Result<B, warp::Error>>,
        B: Buf,
    {
        let headers = request.headers;
        if let Some(cors) = self
            .cors
            .as_ref()
            .filter(|_| *request.method == Method::OPTIONS)
        {
            return cors.preflight(headers);
        }
        let mut seen = Seen::default();
        let mut response = match self.receive(&request, body, &mut seen).await {
            Ok(response) => response,
            Err(refusal) => {
                self.log_refusal(&request, &refusal, &seen);
                self.inspect_refusal(&request, &refusal, &seen);
                self.record_rejection(&request, &refusal, seen).await;
                refusal.into_response()
            }
        };
        if let Some(cors) = &self.cors {
            cors.decorate(headers, &mut response);
        }
        if response.status() == StatusCode::OK {
            telemetry::hot_path().ok.increment(1);
        } else {
            metrics::counter!(telemetry::REQUESTS, "status" => response.status().as_u16().to_string())
                .increment(1);
        }
        response
    }

    /// The refusal's WARN line (within the rate limit), its credentials redacted.
    fn log_refusal(&self, request: &Request<'_>, refusal: &Refusal, seen: &Seen) {
        self.refusal_log.warn(|| {
            let secrets = self.streams.capture_headers.secrets();
            let delivery =
                idempotency::delivery_id_shown(request.headers, self.idempotency.as_ref())
                    .filter(|(name, id)| !secrets.redacts(name, id));
            let context = RefusalContext {
                token_id: seen.token_id.as_ref(),
                remote: reply::remote_addr(),
                delivery_id: delivery.map(|(_, id)| id),
                scheme: self.signature.as_ref().map(Verifier::scheme),
            };
            let line = refusal.log_line(&context);
            let token = presented_token(request).and_then(capture::secrets::Token::new);
            capture::secrets::redact_text(&line, token.as_ref()).into_owned()
        });
    }

    /// Journals a refusal as a `_rejections` record (`rejections: true`), within the rate
    /// limit. Failures are logged: the sender gets its refusal either way.
    async fn record_rejection(&self, request: &Request<'_>, refusal: &Refusal, seen: Seen) {
        let Some(rejections) = &self.rejections else {
            return;
        };
        if !rejections::recorded(refusal.status()) {
            return;
        }
        let refused = Refused {
            status: refusal.status(),
            reason: &refusal.to_string(),
            remote_addr: reply::remote_addr(),
            token_id: seen.token_id.as_ref(),
            headers: request.headers,
            body: seen.body.as_ref(),
            declared_length: content_length(request.headers).ok().flatten(),
            token: presented_token(request),
            secrets: self.streams.capture_headers.secrets(),
        };
        let Some(entry) = rejections.entry(&refused, Utc::now()) else {
            return;
        };
        if let Err(e) = self.journal.append(entry).await {
            log::warn!("a refused request could not be recorded in _rejections: {e}");
        }
    }

    /// The steps of a webhook request, from its method to the answer.
    async fn receive<S, B>(
        &self,
        request: &Request<'_>,
        body: S,
        seen: &mut Seen,
    ) -> Result<Response, Refusal>
    where
        S: Stream<Item = Result<B, warp::Error>>,
        B: Buf,
    {
        if *request.method != Method::POST {
            return self.probe(request);
        }
        let _in_flight = self
            .lifecycle
            .begin_request()
            .ok_or(Refusal::ShuttingDown)?;
        seen.token_id = Some(self.authenticate(request.token, request.headers)?);
        if let Some(reply) = self.early(request).await? {
            return Ok(reply);
        }
        let admitted = self.admit(request)?;
        let _permit = self.permit()?;
        // Held until the reply: the body is journaled (and freed) by then.
        let mut reservation = self.body_bytes.reservation();
        let body = self.read_body(body, &admitted, &mut reservation).await?;
        if self.rejections.is_some() || self.inspector.is_some() {
            seen.body = Some(body.clone());
        }
        if let Some(learned) = &self.learned {
            learned
                .verify(request.headers, &body)
                .await
                .map_err(Refusal::Signature)?;
        }
        let received_at = Utc::now();
        let mut prepared = match self.convert(request, &admitted, &body, received_at)? {
            Ok(prepared) => prepared,
            Err(reply) => return Ok(reply),
        };
        let claimed = self.claim(prepared.delivery_id.clone()).await;
        if let Claimed::Duplicate = claimed {
            return Ok(self.success_duplicate());
        }
        let arrival = self.arrival(&mut prepared, &admitted, seen);
        self.append(prepared, claimed, body, received_at, arrival)
            .await
    }

    /// Admission, before the body is read: the stream name in the path, the content type and
    /// encoding, and the declared length.
    fn admit<'r>(&self, request: &Request<'r>) -> Result<Admitted<'r>, Refusal> {
        if request
            .target
            .name
            .is_some_and(|n| n.is_empty() || n.len() > MAX_PATH_NAME_BYTES)
        {
            return Err(Refusal::BadRequest(format!(
                "the stream name in /webhooks/<token>/<name> must be 1 to {MAX_PATH_NAME_BYTES} \
                 bytes"
            )));
        }
        let headers = request.headers;
        let coding =
            body::coding(headers).map_err(|e| Refusal::UnsupportedMediaType(e.to_string()))?;
        let content_type = headers.get(CONTENT_TYPE);
        let kind = media::kind(content_type.map(HeaderValue::as_bytes))?;
        let declared_length = content_length(headers)?;
        if declared_length.is_some_and(|n| n > self.max_body_bytes) {
            return Err(Refusal::TooLarge {
                limit: self.max_body_bytes,
            });
        }
        Ok(Admitted {
            coding,
            kind,
            content_type,
            declared_length,
        })
    }

    /// One of the permits of requests handled at once.
    fn permit(&self) -> Result<SemaphorePermit<'_>, Refusal> {
        self.permits.try_acquire().map_err(|_| Refusal::Overloaded)
    }

    /// Reads the body within the deadline, decompressed, within the size limit and the
    /// listener's budget of body bytes in flight.
    async fn read_body<S, B>(
        &self,
        body: S,
        admitted: &Admitted<'_>,
        reservation: &mut Reservation,
    ) -> Result<Bytes, Refusal>
    where
        S: Stream<Item = Result<B, warp::Error>>,
        B: Buf,
    {
        body::read(
            body,
            admitted.coding,
            self.max_body_bytes,
            admitted.declared_length,
            self.body_read_timeout,
            reservation,
        )
        .await
        .map_err(|e| Refusal::from_body(e, self.max_body_bytes))
    }

    /// The body through the one conversion path, its signature verified on the way: a
    /// handshake's reply (`Err`), or what its entry needs.
    fn convert(
        &self,
        request: &Request<'_>,
        admitted: &Admitted<'_>,
        body: &Bytes,
        received_at: DateTime<Utc>,
    ) -> Result<Result<Prepared, Response>, Refusal> {
        let converter = Converter::new(&self.rules, &self.streams);
        let json = Converter::json(&admitted.kind, body)?;
        // Detected once; answered before the signature check only when sent unsigned.
        let handshake = converter.handshake(&json);
        if let Some(unsigned) = handshake.as_ref().filter(|h| h.unsigned()) {
            return self.answer(unsigned).map(Err);
        }
        self.verify(request, admitted, body, &json, received_at)?;
        if let Some(handshake) = handshake {
            return self.answer(&handshake).map(Err);
        }
        let (headers, delivery_id) = self.journal_headers(request, admitted)?;
        let mut split = None;
        let mut routed = self.inspector.as_ref().map(|_| Routed::default());
        let converted = converter.visit(&json, &mut |chunk| {
            converter.check_stream_keys(&chunk, &headers)?;
            self.check_widths(chunk.payload)?;
            if let Some(routed) = routed.as_mut() {
                routed.count(&self.streams, &headers, &chunk.payload.records);
            }
            // Only a payload of one chunk is handed over: the emitter reads larger ones in
            // chunks itself, so that no body holds all its records at once.
            if chunk.whole && self.handoff.is_some() {
                split = Split::of(chunk.payload, &json);
            }
            Ok::<(), Refusal>(())
        });
        let record_count = match converted {
            Ok(count) => count,
            Err(VisitError::Payload(e)) => return Err(e.into()),
            Err(VisitError::Visitor(refusal)) => return Err(refusal),
        };
        handshake::note_sns_subscription(request.headers, &json);
        let record_count = u32::try_from(record_count)
            .map_err(|_| Refusal::Unprocessable("too many records in one body".into()))?;
        Ok(Ok(Prepared {
            record_count,
            headers,
            delivery_id,
            split,
            routed,
        }))
    }

    /// Refuses records wider than `max_fields`.
    fn check_widths(&self, payload: &Payload<'_>) -> Result<(), Refusal> {
        match payload.records.iter().map(|r| r.fields.len()).max() {
            Some(widest) if widest > self.max_fields => Err(Refusal::Unprocessable(format!(
                "a record has {widest} top-level fields; at most {} (max_fields)",
                self.max_fields
            ))),
            _ => Ok(()),
        }
    }

    /// Verifies the provider's signature, when one is configured.
    fn verify(
        &self,
        request: &Request<'_>,
        admitted: &Admitted<'_>,
        body: &Bytes,
        json: &[u8],
        received_at: DateTime<Utc>,
    ) -> Result<(), Refusal> {
        let Some(verifier) = &self.signature else {
            return Ok(());
        };
        let target = request.target;
        let url = verifier.scheme().signs_url().then(|| match target.query {
            "" => format!("{}{}", self.public_url, target.path),
            query => format!("{}{}?{query}", self.public_url, target.path),
        });
        let signed = Signed {
            method: Some(request.method.as_str()),
            url: url.as_deref(),
            json: Some(json),
            form: admitted.kind == Kind::Form,
        };
        verifier
            .verify_request(request.headers, body, &signed, received_at.timestamp())
            .map_err(Refusal::Signature)
    }

    /// The headers journaled with the entry, and the delivery id: the delivery id first (under its configured
    /// name), then every header but the secret ones, so that routing and capture can be
    /// changed later and applied to history (`replay --journal`); the content type where the
    /// body's kind needs it to be read back.
    fn journal_headers(
        &self,
        request: &Request<'_>,
        admitted: &Admitted<'_>,
    ) -> Result<(Vec<Header>, Option<Bytes>), Refusal> {
        let headers = request.headers;
        let mut kept = Vec::new();
        let mut delivery_id = None;
        if let Some(idempotency) = &self.idempotency
            && let Some(id) = idempotency
                .delivery_id(headers)
                .map_err(|e| Refusal::BadRequest(e.to_string()))?
        {
            let id = Bytes::copy_from_slice(id);
            kept.push(Header {
                name: journal::header_name(idempotency.header.as_bytes()),
                value: id.clone(),
            });
            delivery_id = Some(id);
        }
        let metadata = capture::Metadata {
            headers,
            journaled: self.idempotency.as_ref().map(|i| i.header.as_str()),
            token: presented_token(request),
            path_name: request.target.name,
            query: Some(request.target.query),
        };
        capture::journal_headers(&mut kept, &metadata, self.streams.capture_headers.secrets());
        if let (true, Some(value)) = (admitted.kind.needs_content_type(), admitted.content_type)
            && !kept.iter().any(|h| h.name == media::CONTENT_TYPE_HEADER)
        {
            kept.push(Header {
                name: media::CONTENT_TYPE_HEADER.into(),
                value: Bytes::copy_from_slice(value.as_bytes()),
            });
        }
        Ok((kept, delivery_id))
    }

    /// Claims the request's delivery id (`idempotency_header`): the first delivery of an id
    /// goes on, a redelivery of one journaled is a duplicate.
    async fn claim(&self, id: Option<Bytes>) -> Claimed<'_> {
        let (Some(idempotency), Some(id)) = (&self.idempotency, id) else {
            return Claimed::NoId;
        };
        match idempotency.seen.claim(&id).await {
            Claim::Duplicate => Claimed::Duplicate,
            Claim::First(claim) => Claimed::First {
                claim,
                id,
                seen: &idempotency.seen,
            },
        }
    }

    /// Appends the entry and waits until it is durable; then answers 200.
    async fn append(
        &self,
        prepared: Prepared,
        claimed: Claimed<'_>,
        body: Bytes,
        received_at: DateTime<Utc>,
        arrival: Option<Arrival<'_>>,
    ) -> Result<Response, Refusal> {
        let Prepared {
            record_count,
            headers,
            split,
            ..
        } = prepared;
        if record_count == 0 {
            return Ok(self.success(0));
        }
        let body_len = body.len();
        let (claim, remembered) = match claimed {
            Claimed::First { claim, id, seen } => (Some(claim), Some((seen, id))),
            Claimed::NoId | Claimed::Duplicate => (None, None),
        };
        let appended = self
            .journal
            .append(NewEntry {
                received_at,
                record_count,
                headers,
                body,
                on_durable: self.on_durable(claim, split, received_at),
            })
            .await
            .map_err(Refusal::Journal)?;
        if appended.duplicate {
            // The journal held it already (a NATS journal's own deduplication): the hook was
            // not called and the claim went back, so remember the id here.
            if let Some((seen, id)) = remembered {
                seen.remember(&id, received_at);
            }
            return Ok(self.success_duplicate());
        }
        if let (Some(inspector), Some(arrival)) = (&self.inspector, arrival) {
            let (sequence, bytes) = (appended.first_sequence, body_len as u64);
            inspector.delivered(arrival, sequence, received_at, record_count, bytes);
        }
        let counters = telemetry::hot_path();
        counters.records_received.increment(u64::from(record_count));
        counters.bytes_received.increment(body_len as u64);
        self.lifecycle.touch();
        Ok(self.success(record_count))
    }

    /// What the journal does once the entry is durable: marks the delivery id journaled and
    /// hands the split over to the emitter of this process (before it tells the emitter). The
    /// local journal does so even if the request is gone by then (its sender hung up): the
    /// entry is written all the same, so a retry must find the id taken. (A NATS append goes
    /// with the request; a retry of one that reached the stream is its duplicate there.)
    fn on_durable(
        &self,
        claim: Option<ClaimGuard>,
        split: Option<Split>,
        received_at: DateTime<Utc>,
    ) -> OnDurable {
        let handoff = self.handoff.as_ref().zip(split);
        match (handoff, claim) {
            (None, None) => OnDurable::default(),
            (handoff, claim) => {
                let handoff = handoff.map(|(handoff, split)| (Arc::clone(handoff), split));
                OnDurable::new(move |first| {
                    if let Some(claim) = claim {
                        claim.journaled(received_at);
                    }
                    if let Some((handoff, split)) = handoff {
                        handoff.give(first, split);
                    }
                })
            }
        }
    }

    fn authenticate(&self, in_path: Option<&str>, headers: &HeaderMap) -> Result<TokenId, Refusal> {
        let presented = match in_path {
            Some(token) => token,
            None => bearer_token(headers).map_err(Refusal::Unauthorized)?,
        };
        self.tokens
            .verify(presented)
            .ok_or(Refusal::Unauthorized("unknown or revoked token"))
    }
}

/// The token a request presented: in its path, or as `Authorization: Bearer <token>`.
fn presented_token<'r>(request: &Request<'r>) -> Option<&'r str> {
    request.token.or_else(|| bearer_token(request.headers).ok())
}

fn content_length(headers: &HeaderMap) -> Result<Option<u64>, Refusal> {
    match headers.get(CONTENT_LENGTH) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .map(Some)
            .ok_or_else(|| Refusal::BadRequest("Content-Length is not a number".into())),
    }
}
