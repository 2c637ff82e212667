//! The receiver: HTTP routes that turn a webhook request into a durable journal entry.
//!
//! `POST /webhooks/<token>` (or `POST /webhooks` with `Authorization: Bearer <token>`) is
//! authenticated, limited and validated, split into records with the same code the emitter
//! uses, appended to the journal, and answered 200 only once the entry is durable. Every
//! refusal is a [`Refusal`], which maps to exactly one status and a JSON `{"error": ...}` body.
//!
//! The order of checks: method, stopping, token, content type and encoding, declared length,
//! a concurrency permit, the body (deadline, decompression, size, its bytes reserved in the
//! listener's [`InflightBytes`] budget as its buffer grows), its conversion to JSON
//! ([`media`]), the provider signature, handshakes ([`handshake`]), the idempotency id, the
//! records, then the journal. Nothing is written unless every check passed. `HEAD` (a URL
//! check) is answered 200 once the token is known, and `GET` only for Okta's challenge.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use futures_util::Stream;
use http::header::{ALLOW, AUTHORIZATION, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::Semaphore;
use warp::filters::BoxedFilter;
use warp::path::Tail;
use warp::reply::Response;
use warp::{Buf, Filter};

use crate::admission::InflightBytes;
use crate::body::{self, BodyError};
use crate::cors::Cors;
use crate::handoff::{Handoff, Split};
use crate::handshake::{self, Handshake};
use crate::idempotency::{Claim, SeenIds};
use crate::journal::{self, Header, JournalError, JournalWriter, NewEntry, OnDurable};
use crate::lifecycle::Lifecycle;
use crate::media::{self, MediaError};
use crate::payload::{self, PayloadError, RecordRules};
use crate::rejections::{self, Refused, Rejections};
use crate::reply::{RemoteAddr, RetryAfter, error_response, json_response, not_found_after};
use crate::signature::{SignatureError, Signed, Verifier};
use crate::streams::{self, StreamSettings};
use crate::telemetry;
use crate::tokens::{LiveTokens, TokenId};

/// Why a request was not accepted. Each variant is one HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("method not allowed: webhooks must be sent with POST")]
    MethodNotAllowed,
    #[error(
        "Zoom's URL validation needs the webhook's secret token: set signature {{\"scheme\": \"zoom\", \"secret\": ...}}"
    )]
    NoZoomSecret,
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error(transparent)]
    Signature(SignatureError),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("body is larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("{0}")]
    BadRequest(String),
    #[error("the body was not received within {0:?}; send it faster or in one go")]
    Timeout(Duration),
    #[error("{0}")]
    Unprocessable(String),
    #[error("too many webhooks at once; retry shortly")]
    Overloaded,
    #[error("too many bytes of webhook bodies in flight; retry shortly")]
    BodiesInFlight,
    #[error("the tap is shutting down; retry shortly")]
    ShuttingDown,
    #[error("{}", journal_message(.0))]
    Journal(JournalError),
}

/// What a sender is told about a journal failure (details go to the log, not the sender).
fn journal_message(e: &JournalError) -> &'static str {
    match e {
        JournalError::DiskFull { .. } | JournalError::NoSpace(_) => {
            "the tap's disk is nearly full; retry later"
        }
        JournalError::Unavailable(_) => "the journal cannot be reached; retry shortly",
        JournalError::Rejected(_) => {
            "the webhook has more records than the journal takes in one request; split it"
        }
        _ => "the webhook could not be stored; retry later",
    }
}

impl Refusal {
    pub fn status(&self) -> StatusCode {
        match self {
            Refusal::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Refusal::Unauthorized(_) | Refusal::Signature(_) => StatusCode::UNAUTHORIZED,
            Refusal::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Refusal::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Refusal::BadRequest(_) | Refusal::NoZoomSecret => StatusCode::BAD_REQUEST,
            Refusal::Timeout(_) => StatusCode::REQUEST_TIMEOUT,
            Refusal::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Refusal::Overloaded | Refusal::BodiesInFlight => StatusCode::TOO_MANY_REQUESTS,
            Refusal::ShuttingDown | Refusal::Journal(JournalError::Unavailable(_)) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Refusal::Journal(e) if e.is_out_of_space() => StatusCode::SERVICE_UNAVAILABLE,
            Refusal::Journal(JournalError::Rejected(_)) => StatusCode::UNPROCESSABLE_ENTITY,
            Refusal::Journal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn into_response(self) -> Response {
        let mut response = error_response(self.status(), &self.to_string());
        match self {
            Refusal::MethodNotAllowed => {
                response
                    .headers_mut()
                    .insert(ALLOW, HeaderValue::from_static("POST, HEAD"));
            }
            Refusal::ShuttingDown => RetryAfter::Stopping.apply(&mut response),
            Refusal::Overloaded => RetryAfter::Overloaded.apply(&mut response),
            Refusal::BodiesInFlight => {
                RetryAfter::Overloaded.apply(&mut response);
                // The body may be partly read: the connection cannot be reused.
                response
                    .headers_mut()
                    .insert(CONNECTION, HeaderValue::from_static("close"));
            }
            // The rest of the body is not read: the connection cannot be reused.
            Refusal::Timeout(_) | Refusal::TooLarge { .. } => {
                response
                    .headers_mut()
                    .insert(CONNECTION, HeaderValue::from_static("close"));
            }
            Refusal::Journal(e) if e.is_out_of_space() => RetryAfter::DiskFull.apply(&mut response),
            Refusal::Journal(JournalError::Unavailable(e)) => {
                log::warn!("refusing a webhook with 503: {e}");
                RetryAfter::Overloaded.apply(&mut response)
            }
            Refusal::Journal(JournalError::Rejected(e)) => {
                log::warn!("refusing a webhook with 422: {e}")
            }
            Refusal::Journal(e) => log::error!("refusing a webhook with 500: {e}"),
            _ => {}
        }
        response
    }
}

impl From<PayloadError> for Refusal {
    fn from(e: PayloadError) -> Self {
        if e.is_malformed() {
            Refusal::BadRequest(e.to_string())
        } else {
            Refusal::Unprocessable(e.to_string())
        }
    }
}

impl From<MediaError> for Refusal {
    fn from(e: MediaError) -> Self {
        match e {
            MediaError::Unsupported(_) => Refusal::UnsupportedMediaType(e.to_string()),
            MediaError::Malformed(_) => Refusal::BadRequest(e.to_string()),
            MediaError::TooManyFields(_) => Refusal::Unprocessable(e.to_string()),
        }
    }
}

impl Refusal {
    fn from_body(e: BodyError, limit: u64) -> Self {
        match e {
            BodyError::TooLarge => Refusal::TooLarge { limit },
            BodyError::Timeout(after) => Refusal::Timeout(after),
            BodyError::Overloaded => Refusal::BodiesInFlight,
            BodyError::UnsupportedCoding(_) => Refusal::UnsupportedMediaType(e.to_string()),
            BodyError::Read(_) | BodyError::Corrupt { .. } => Refusal::BadRequest(e.to_string()),
        }
    }
}

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
}

/// `idempotency_header` and the ids seen.
pub struct Idempotency {
    /// Lower case.
    pub header: String,
    pub seen: Arc<SeenIds>,
}

/// Ids longer than this are not ids: such a header is refused.
const MAX_IDEMPOTENCY_ID_BYTES: usize = 1024;

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
        .and(warp::ext::optional::<RemoteAddr>())
        .and(warp::body::stream())
        .then(
            move |tail: Tail,
                  method: Method,
                  headers: HeaderMap,
                  path: warp::path::FullPath,
                  query: String,
                  remote: Option<RemoteAddr>,
                  body| {
                let handler = Arc::clone(&handler);
                async move {
                    let (token, name) = split_webhook_path(tail.as_str()).unwrap_or_default();
                    let target = Target {
                        path: path.as_str(),
                        query: &query,
                        name,
                    };
                    if let Some(cors) = handler.cors.as_ref().filter(|_| method == Method::OPTIONS) {
                        return cors.preflight(&headers);
                    }
                    let mut seen = Seen::default();
                    let mut response = match handler
                        .receive(token, &method, &headers, target, body, &mut seen)
                        .await
                    {
                        Ok(response) => response,
                        Err(refusal) => {
                            if let Some(r) = &handler.rejections
                                && rejections::recorded(refusal.status())
                            {
                                let refused = Refused {
                                    status: refusal.status(),
                                    reason: &refusal.to_string(),
                                    remote_addr: remote.map(|r| r.0),
                                    token_id: seen.token_id.as_ref(),
                                    headers: &headers,
                                    body: seen.body.as_ref(),
                                    declared_length: content_length(&headers).ok().flatten(),
                                    token,
                                };
                                handler.record_rejection(r, &refused).await;
                            }
                            refusal.into_response()
                        }
                    };
                    if let Some(cors) = &handler.cors {
                        cors.decorate(&headers, &mut response);
                    }
                    if response.status() == StatusCode::OK {
                        telemetry::hot_path().ok.increment(1);
                    } else {
                        metrics::counter!(telemetry::REQUESTS, "status" => response.status().as_u16().to_string())
                            .increment(1);
                    }
                    response
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

impl WebhookHandler {
    /// Journals a refusal as a `_rejections` record, within the rate limit. Failures are
    /// logged: the sender gets its refusal either way.
    async fn record_rejection(&self, rejections: &Rejections, refused: &Refused<'_>) {
        let Some(entry) = rejections.entry(refused, Utc::now()) else {
            return;
        };
        if let Err(e) = self.journal.append(entry).await {
            log::warn!("a refused request could not be recorded in _rejections: {e}");
        }
    }

    async fn receive<S, B>(
        &self,
        token: Option<&str>,
        method: &Method,
        headers: &HeaderMap,
        target: Target<'_>,
        body: S,
        seen: &mut Seen,
    ) -> Result<Response, Refusal>
    where
        S: Stream<Item = Result<B, warp::Error>>,
        B: Buf,
    {
        match *method {
            Method::POST => {}
            // A provider checking the URL first (Mandrill): the token must be a live one.
            Method::HEAD => {
                self.authenticate(token, headers)?;
                return Ok(Response::new(Vec::new().into()));
            }
            Method::GET => {
                let challenge = headers
                    .get(handshake::OKTA_CHALLENGE_HEADER)
                    .ok_or(Refusal::MethodNotAllowed)?;
                self.authenticate(token, headers)?;
                return Ok(json_response(
                    StatusCode::OK,
                    &handshake::okta_reply(challenge.as_bytes()),
                ));
            }
            _ => return Err(Refusal::MethodNotAllowed),
        }
        let _in_flight = self
            .lifecycle
            .begin_request()
            .ok_or(Refusal::ShuttingDown)?;
        seen.token_id = Some(self.authenticate(token, headers)?);
        if target
            .name
            .is_some_and(|n| n.is_empty() || n.len() > MAX_PATH_NAME_BYTES)
        {
            return Err(Refusal::BadRequest(format!(
                "the stream name in /webhooks/<token>/<name> must be 1 to {MAX_PATH_NAME_BYTES} \
                 bytes"
            )));
        }
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
        let _permit = self
            .permits
            .try_acquire()
            .map_err(|_| Refusal::Overloaded)?;
        // Held until the reply: the body is journaled (and freed) by then.
        let mut reservation = self.body_bytes.reservation();
        let body = body::read(
            body,
            coding,
            self.max_body_bytes,
            declared_length,
            self.body_read_timeout,
            &mut reservation,
        )
        .await
        .map_err(|e| Refusal::from_body(e, self.max_body_bytes))?;
        if self.rejections.is_some() {
            seen.body = Some(body.clone());
        }
        let received_at = Utc::now();
        let json = media::to_json(&kind, &body)?;
        if let Some(verifier) = &self.signature {
            let url = match target.query {
                "" => format!("{}{}", self.public_url, target.path),
                query => format!("{}{}?{query}", self.public_url, target.path),
            };
            let signed = Signed {
                url: Some(&url),
                json: Some(&json),
                form: kind == media::Kind::Form,
            };
            verifier
                .verify_request(headers, &body, &signed, received_at.timestamp())
                .map_err(Refusal::Signature)?;
        }
        if let Some(handshake) = handshake::detect(&json) {
            return self.answer(&handshake);
        }
        if headers
            .get("x-amz-sns-message-type")
            .is_some_and(|v| v.as_bytes() == b"SubscriptionConfirmation")
        {
            sns_subscription(&json);
        }
        // The claim on the delivery id, and the id with where it is remembered.
        let (claim, seen_id, mut captured) = match self.delivery_id(headers)? {
            Some((idempotency, id)) => match idempotency.seen.claim(id).await {
                Claim::Duplicate => return Ok(duplicate()),
                Claim::First(claim) => {
                    let id = Bytes::copy_from_slice(id);
                    let header = Header {
                        name: journal::header_name(idempotency.header.as_bytes()),
                        value: id.clone(),
                    };
                    (Some(claim), Some((&idempotency.seen, id)), vec![header])
                }
            },
            None => (None, None, Vec::new()),
        };
        // Every header but the secret ones, so that routing and capture can be changed later
        // and applied to history (`replay --journal`).
        let presented = match token {
            Some(token) => Some(token),
            None => bearer_token(headers).ok(),
        };
        streams::journal_headers(
            &mut captured,
            headers,
            self.idempotency.as_ref().map(|i| i.header.as_str()),
            presented,
            target.name,
            Some(target.query),
        );
        let (record_count, split) = {
            let payload = payload::parse_payload(&json, &self.rules)?;
            if self.streams.keys_vary() {
                let is_array = payload.records.len() > 1;
                for (i, record) in payload.records.iter().enumerate() {
                    let stream = self
                        .streams
                        .route(&captured, record)
                        .unwrap_or_else(|| self.streams.default.clone());
                    for (name, keys) in self.streams.required_keys(&stream) {
                        let Err(e) =
                            payload::check_record_keys(record, &keys, is_array.then_some(i))
                        else {
                            continue;
                        };
                        let whose = if name == stream {
                            format!("stream {name}")
                        } else {
                            format!("stream {name} (where max_streams may send stream {stream})")
                        };
                        return Err(Refusal::Unprocessable(format!("{whose}: {e}")));
                    }
                }
            }
            if let Some(widest) = payload.records.iter().map(|r| r.fields.len()).max()
                && widest > self.max_fields
            {
                return Err(Refusal::Unprocessable(format!(
                    "a record has {widest} top-level fields; at most {} (max_fields)",
                    self.max_fields
                )));
            }
            let split = self
                .handoff
                .as_ref()
                .and_then(|_| Split::of(&payload, &json));
            (payload.records.len(), split)
        };
        if record_count == 0 {
            return Ok(accepted(0));
        }
        let record_count = u32::try_from(record_count)
            .map_err(|_| Refusal::Unprocessable("too many records in one body".into()))?;
        if let (true, Some(value)) = (kind.needs_content_type(), content_type)
            && !captured
                .iter()
                .any(|h| h.name == media::CONTENT_TYPE_HEADER)
        {
            captured.push(Header {
                name: media::CONTENT_TYPE_HEADER.into(),
                value: Bytes::copy_from_slice(value.as_bytes()),
            });
        }
        drop(json);
        let body_len = body.len();
        // Once the entry is durable, the journal marks the delivery id journaled and hands the
        // split over to the emitter of this process (before it tells the emitter). The local
        // journal does so even if this request is gone by then (its sender hung up): the entry
        // is written all the same, so a retry must find the id taken. (A NATS append goes
        // with the request; a retry of one that reached the stream is its duplicate there.)
        let handoff = self.handoff.as_ref().zip(split);
        let on_durable = match (handoff, claim) {
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
        };
        let appended = self
            .journal
            .append(NewEntry {
                received_at,
                record_count,
                headers: captured,
                body,
                on_durable,
            })
            .await
            .map_err(Refusal::Journal)?;
        if appended.duplicate {
            // The journal held it already (a NATS journal's own deduplication): the hook was
            // not called and the claim went back, so remember the id here.
            if let Some((seen, id)) = seen_id {
                seen.remember(&id, received_at);
            }
            return Ok(duplicate());
        }
        let counters = telemetry::hot_path();
        counters.records_received.increment(u64::from(record_count));
        counters.bytes_received.increment(body_len as u64);
        self.lifecycle.touch();
        Ok(accepted(record_count))
    }

    /// The reply to a handshake; nothing is journaled.
    fn answer(&self, handshake: &Handshake) -> Result<Response, Refusal> {
        let zoom_secret = self.signature.as_ref().and_then(Verifier::zoom_secret);
        let reply = handshake.reply(zoom_secret).ok_or(Refusal::NoZoomSecret)?;
        Ok(json_response(StatusCode::OK, &reply))
    }

    /// The delivery id, when `idempotency_header` is set and the request has one.
    fn delivery_id<'h>(
        &self,
        headers: &'h HeaderMap,
    ) -> Result<Option<(&Idempotency, &'h [u8])>, Refusal> {
        let Some(idempotency) = &self.idempotency else {
            return Ok(None);
        };
        let Some(value) = headers
            .get(idempotency.header.as_str())
            .or_else(|| headers.get(shopify_alias(&idempotency.header)?.as_str()))
        else {
            return Ok(None);
        };
        let id = value.as_bytes();
        if id.is_empty() || id.len() > MAX_IDEMPOTENCY_ID_BYTES {
            return Err(Refusal::BadRequest(format!(
                "{} must be 1 to {MAX_IDEMPOTENCY_ID_BYTES} bytes",
                idempotency.header
            )));
        }
        Ok(Some((idempotency, id)))
    }

    fn authenticate(&self, in_path: Option<&str>, headers: &HeaderMap) -> Result<TokenId, Refusal> {
        let presented = match in_path {
            Some(token) => token,
            None => bearer_token(headers)?,
        };
        self.tokens
            .verify(presented)
            .ok_or(Refusal::Unauthorized("unknown or revoked token"))
    }
}

fn accepted(records: u32) -> Response {
    // Built without a JSON tree: this is the answer to nearly every request.
    let mut body = Vec::with_capacity(40);
    body.extend_from_slice(br#"{"status":"ok","records":"#);
    body.extend_from_slice(itoa::Buffer::new().format(records).as_bytes());
    body.push(b'}');
    let mut response = Response::new(body.into());
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// A redelivery of a journaled webhook: acknowledged again, stored once.
fn duplicate() -> Response {
    json_response(
        StatusCode::OK,
        &json!({"status": "ok", "records": 0, "duplicate": true}),
    )
}

/// AWS SNS asks to confirm a subscription (`x-amz-sns-message-type: SubscriptionConfirmation`)
/// with a URL to visit: the user must see it. The message is recorded too, like any other.
fn sns_subscription(json: &[u8]) {
    #[derive(Deserialize)]
    struct Confirmation {
        #[serde(rename = "Type")]
        kind: String,
        #[serde(rename = "SubscribeURL")]
        subscribe_url: String,
        #[serde(rename = "TopicArn", default)]
        topic_arn: String,
    }
    if let Ok(c) = serde_json::from_slice::<Confirmation>(json)
        && c.kind == "SubscriptionConfirmation"
    {
        log::warn!(
            "AWS SNS subscription to {:?} awaits confirmation: visit its SubscribeURL {}",
            c.topic_arn,
            c.subscribe_url
        );
    }
}

/// Shopify's headers are sent as `X-Shopify-*` or, newer, `Shopify-*`: the other name of
/// `name` (lower case), if it is a Shopify header.
pub fn shopify_alias(name: &str) -> Option<String> {
    match name.strip_prefix("x-shopify-") {
        Some(rest) => Some(format!("shopify-{rest}")),
        None => name
            .strip_prefix("shopify-")
            .map(|rest| format!("x-shopify-{rest}")),
    }
}

fn bearer_token(headers: &HeaderMap) -> Result<&str, Refusal> {
    let missing = Refusal::Unauthorized(
        "no token: post to /webhooks/<token> or send Authorization: Bearer <token>",
    );
    let value = headers.get(AUTHORIZATION).ok_or(missing)?;
    let value = value
        .to_str()
        .map_err(|_| Refusal::Unauthorized("Authorization header is not valid text"))?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(token.trim())
        }
        _ => Err(Refusal::Unauthorized(
            "Authorization must be: Bearer <token>",
        )),
    }
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
