//! The receiver: HTTP routes that turn a webhook request into a durable journal entry.
//!
//! `POST /webhooks/<token>` (or `POST /webhooks` with `Authorization: Bearer <token>`) is
//! authenticated, limited and validated, split into records with the same code the emitter
//! uses, appended to the journal, and answered 200 only once the entry is durable. Every
//! refusal is a [`Refusal`], which maps to exactly one status and a JSON `{"error": ...}` body.
//!
//! The order of checks: method, stopping, token, content type and encoding, declared length,
//! a concurrency permit, the body (deadline, decompression, size), the provider signature,
//! Slack's `url_verification` challenge, the idempotency id, the records, then the journal.
//! Nothing is written unless every check passed.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures_util::Stream;
use http::header::{ALLOW, AUTHORIZATION, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::Semaphore;
use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::{Buf, Filter};

use crate::body::{self, BodyError};
use crate::idempotency::{Claim, SeenIds};
use crate::journal::{JournalError, JournalWriter, NewEntry};
use crate::lifecycle::Lifecycle;
use crate::payload::{self, PayloadError, RecordRules};
use crate::reply::{RetryAfter, error_response, json_response, not_found_after};
use crate::signature::{SignatureError, Verifier};
use crate::streams::{self, StreamSettings};
use crate::telemetry;
use crate::tokens::LiveTokens;

/// Why a request was not accepted. Each variant is one HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("method not allowed: webhooks must be sent with POST")]
    MethodNotAllowed,
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
    #[error("the tap is shutting down; retry shortly")]
    ShuttingDown,
    #[error("{}", journal_message(.0))]
    Journal(JournalError),
}

/// What a sender is told about a journal failure (details go to the log, not the sender).
fn journal_message(e: &JournalError) -> &'static str {
    match e {
        JournalError::DiskFull { .. } => "the tap's disk is nearly full; retry later",
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
            Refusal::BadRequest(_) => StatusCode::BAD_REQUEST,
            Refusal::Timeout(_) => StatusCode::REQUEST_TIMEOUT,
            Refusal::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Refusal::Overloaded => StatusCode::TOO_MANY_REQUESTS,
            Refusal::ShuttingDown | Refusal::Journal(JournalError::DiskFull { .. }) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Refusal::Journal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn into_response(self) -> Response {
        let mut response = error_response(self.status(), &self.to_string());
        match self {
            Refusal::MethodNotAllowed => {
                response
                    .headers_mut()
                    .insert(ALLOW, HeaderValue::from_static("POST"));
            }
            Refusal::ShuttingDown => RetryAfter::Stopping.apply(&mut response),
            Refusal::Overloaded => RetryAfter::Overloaded.apply(&mut response),
            // The rest of the body is not read: the connection cannot be reused.
            Refusal::Timeout(_) | Refusal::TooLarge { .. } => {
                response
                    .headers_mut()
                    .insert(CONNECTION, HeaderValue::from_static("close"));
            }
            Refusal::Journal(JournalError::DiskFull { .. }) => {
                RetryAfter::DiskFull.apply(&mut response)
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

impl Refusal {
    fn from_body(e: BodyError, limit: u64) -> Self {
        match e {
            BodyError::TooLarge => Refusal::TooLarge { limit },
            BodyError::Timeout(after) => Refusal::Timeout(after),
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
    /// Streams: per-stream keys are checked here, after routing, exactly as the emitter does.
    pub streams: StreamSettings,
}

/// `idempotency_header` and the ids seen.
pub struct Idempotency {
    /// Lower case.
    pub header: String,
    pub seen: SeenIds,
}

/// Ids longer than this are not ids: such a header is refused.
const MAX_IDEMPOTENCY_ID_BYTES: usize = 1024;

/// The HTTP routes of a listener: the webhook routes, then `extra` (the operations endpoints,
/// when they share this listener), then 404 for anything else.
pub fn routes(
    handler: Arc<WebhookHandler>,
    extra: Option<BoxedFilter<(Response,)>>,
) -> BoxedFilter<(Response,)> {
    let token_and_name = warp::path!("webhooks" / String / String)
        .map(|token, name| (Some(token), Some(name)))
        .untuple_one();
    let token_in_path = warp::path!("webhooks" / String).map(|token| (Some(token), None));
    let no_token_in_path = warp::path!("webhooks").map(|| (None, None));
    let query = warp::query::raw()
        .map(Some)
        .or(warp::any().map(|| None))
        .unify();
    let webhook = token_and_name
        .or(token_in_path.untuple_one())
        .unify()
        .or(no_token_in_path.untuple_one())
        .unify()
        .and(query)
        .and(warp::method())
        .and(warp::header::headers_cloned())
        .and(warp::body::stream())
        .then(
            move |token: Option<String>,
                  name: Option<String>,
                  query: Option<String>,
                  method: Method,
                  headers: HeaderMap,
                  body| {
                let handler = Arc::clone(&handler);
                async move {
                    let url = RequestUrl {
                        token,
                        path_name: name,
                        query,
                    };
                    let response = match handler.receive(url, &method, &headers, body).await {
                        Ok(response) => response,
                        Err(refusal) => refusal.into_response(),
                    };
                    if response.status() == StatusCode::OK {
                        telemetry::per_request().ok.increment(1);
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

/// What the URL of a webhook request says.
struct RequestUrl {
    token: Option<String>,
    /// The `<name>` of `/webhooks/<token>/<name>`.
    path_name: Option<String>,
    query: Option<String>,
}

/// Longest `<name>` accepted in `/webhooks/<token>/<name>`.
const MAX_PATH_NAME_BYTES: usize = 255;

impl WebhookHandler {
    async fn receive<S, B>(
        &self,
        url: RequestUrl,
        method: &Method,
        headers: &HeaderMap,
        body: S,
    ) -> Result<Response, Refusal>
    where
        S: Stream<Item = Result<B, warp::Error>>,
        B: Buf,
    {
        if method != Method::POST {
            return Err(Refusal::MethodNotAllowed);
        }
        let _in_flight = self
            .lifecycle
            .begin_request()
            .ok_or(Refusal::ShuttingDown)?;
        let token = url.token.as_deref();
        self.authenticate(token, headers)?;
        if url
            .path_name
            .as_ref()
            .is_some_and(|n| n.is_empty() || n.len() > MAX_PATH_NAME_BYTES)
        {
            return Err(Refusal::BadRequest(format!(
                "the stream name in /webhooks/<token>/<name> must be 1 to {MAX_PATH_NAME_BYTES} \
                 bytes"
            )));
        }
        let coding =
            body::coding(headers).map_err(|e| Refusal::UnsupportedMediaType(e.to_string()))?;
        check_content_type(headers)?;
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
        let body = body::read(
            body,
            coding,
            self.max_body_bytes,
            declared_length,
            self.body_read_timeout,
        )
        .await
        .map_err(|e| Refusal::from_body(e, self.max_body_bytes))?;
        let received_at = Utc::now();
        if let Some(verifier) = &self.signature {
            verifier
                .verify(headers, &body, received_at.timestamp())
                .map_err(Refusal::Signature)?;
        }
        if let Some(challenge) = url_verification(&body) {
            return Ok(json_response(
                StatusCode::OK,
                &json!({ "challenge": challenge }),
            ));
        }
        let claim = match self.delivery_id(headers)? {
            Some((idempotency, id)) => match idempotency.seen.claim(id).await {
                Claim::Duplicate => return Ok(duplicate()),
                Claim::First(claim) => Some(claim),
            },
            None => None,
        };
        // Every header but the secret ones, so that routing and capture can be changed later
        // and applied to history (`replay --journal`).
        let bearer = match token {
            Some(_) => None,
            None => bearer_token(headers).ok(),
        };
        let captured = streams::journal_headers(
            headers,
            self.idempotency.as_ref().map(|i| i.header.as_str()),
            token.or(bearer),
            url.path_name.as_deref(),
            url.query.as_deref(),
        );
        let record_count = {
            let payload = payload::parse_payload(&body, &self.rules)?;
            if self.streams.keys_vary() {
                let is_array = payload.records.len() > 1;
                for (i, record) in payload.records.iter().enumerate() {
                    let stream = self
                        .streams
                        .route(&captured, record)
                        .unwrap_or_else(|| self.streams.default.clone());
                    let keys = self.streams.keys(&stream);
                    payload::check_record_keys(record, &keys.primary_key, is_array.then_some(i))
                        .map_err(|e| Refusal::Unprocessable(format!("stream {stream}: {e}")))?;
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
            payload.records.len()
        };
        if record_count == 0 {
            return Ok(accepted(0));
        }
        let record_count = u32::try_from(record_count)
            .map_err(|_| Refusal::Unprocessable("too many records in one body".into()))?;
        let body_len = body.len();
        self.journal
            .append(NewEntry {
                received_at,
                record_count,
                headers: captured,
                body,
            })
            .await
            .map_err(Refusal::Journal)?;
        if let Some(claim) = claim {
            claim.journaled(received_at);
        }
        let counters = telemetry::per_request();
        counters.records_received.increment(u64::from(record_count));
        counters.bytes_received.increment(body_len as u64);
        self.lifecycle.touch();
        Ok(accepted(record_count))
    }

    /// The delivery id, when `idempotency_header` is set and the request has one.
    fn delivery_id<'h>(
        &self,
        headers: &'h HeaderMap,
    ) -> Result<Option<(&Idempotency, &'h [u8])>, Refusal> {
        let Some(idempotency) = &self.idempotency else {
            return Ok(None);
        };
        let Some(value) = headers.get(idempotency.header.as_str()) else {
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

    fn authenticate(&self, in_path: Option<&str>, headers: &HeaderMap) -> Result<(), Refusal> {
        let presented = match in_path {
            Some(token) => token,
            None => bearer_token(headers)?,
        };
        match self.tokens.verify(presented) {
            Some(_) => Ok(()),
            None => Err(Refusal::Unauthorized("unknown or revoked token")),
        }
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

/// Slack's `{"type": "url_verification", "challenge": "..."}`: the challenge to echo back.
fn url_verification(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct UrlVerification {
        #[serde(rename = "type")]
        kind: String,
        challenge: String,
    }
    // Cheap test first: almost no body is a challenge, and a parse costs a scan of the body.
    if body.len() > 16 << 10 || memchr::memmem::find(body, b"url_verification").is_none() {
        return None;
    }
    let v: UrlVerification = serde_json::from_slice(body).ok()?;
    (v.kind == "url_verification").then_some(v.challenge)
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

/// JSON media types: `application/json`, `application/<x>+json`, `text/json`; a missing
/// Content-Type is accepted and the body parsed as JSON.
fn check_content_type(headers: &HeaderMap) -> Result<(), Refusal> {
    let Some(value) = headers.get(CONTENT_TYPE) else {
        return Ok(());
    };
    let value = value.to_str().unwrap_or("");
    let essence = value.split(';').next().unwrap_or("").trim().as_bytes();
    let starts = |prefix: &[u8]| {
        essence
            .get(..prefix.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
    };
    let ends = |suffix: &[u8]| {
        essence.len() >= suffix.len()
            && essence[essence.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
    };
    let json = essence.eq_ignore_ascii_case(b"application/json")
        || essence.eq_ignore_ascii_case(b"text/json")
        || (starts(b"application/") && ends(b"+json"));
    if json {
        Ok(())
    } else {
        Err(Refusal::UnsupportedMediaType(format!(
            "Content-Type {value:?} is not JSON; send application/json"
        )))
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
