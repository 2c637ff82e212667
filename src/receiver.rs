//! The receiver: HTTP routes that turn a webhook request into a durable journal entry.
//!
//! `POST /webhooks/<token>` (or `POST /webhooks` with `Authorization: Bearer <token>`) is
//! authenticated, limited and validated, split into records with the same code the emitter
//! uses, appended to the journal, and answered 200 only once the entry is durable. Every
//! refusal is a [`Refusal`], which maps to exactly one status and a JSON `{"error": ...}` body.

use std::sync::{Arc, RwLock};

use bytes::{BufMut, Bytes, BytesMut};
use chrono::Utc;
use futures_util::{Stream, StreamExt};
use http::header::{
    ALLOW, AUTHORIZATION, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER,
};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use serde_json::json;
use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::{Buf, Filter};

use crate::convert::{self, PayloadError, RecordRules};
use crate::journal::{JournalError, JournalWriter, NewEntry};
use crate::lifecycle::Lifecycle;
use crate::tokens::TokenSet;

/// Why a request was not accepted. Each variant is one HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("not found: webhooks are posted to /webhooks/<token>")]
    NotFound,
    #[error("method not allowed: webhooks must be sent with POST")]
    MethodNotAllowed,
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("body is larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unprocessable(String),
    #[error("the tap is shutting down; retry shortly")]
    ShuttingDown,
    #[error("the webhook could not be stored; retry later")]
    Journal(JournalError),
}

/// Seconds a sender is asked to wait before retrying a 503.
const RETRY_AFTER_SECONDS: &str = "5";

impl Refusal {
    pub fn status(&self) -> StatusCode {
        match self {
            Refusal::NotFound => StatusCode::NOT_FOUND,
            Refusal::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Refusal::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Refusal::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Refusal::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Refusal::BadRequest(_) => StatusCode::BAD_REQUEST,
            Refusal::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Refusal::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
            Refusal::Journal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn into_response(self) -> Response {
        let mut response = json_response(self.status(), &json!({"error": self.to_string()}));
        let headers = response.headers_mut();
        match self {
            Refusal::MethodNotAllowed => {
                headers.insert(ALLOW, HeaderValue::from_static("POST"));
            }
            Refusal::ShuttingDown => {
                headers.insert(RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_SECONDS));
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

pub fn json_response(status: StatusCode, body: &serde_json::Value) -> Response {
    let mut response = Response::new(serde_json::to_vec(body).expect("JSON serializes").into());
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// Everything a request handler needs, shared by all connections.
pub struct Receiver {
    pub journal: Arc<dyn JournalWriter>,
    pub tokens: RwLock<TokenSet>,
    pub rules: RecordRules,
    pub max_body_bytes: u64,
    pub lifecycle: Arc<Lifecycle>,
}

/// The HTTP routes of a listener.
pub fn routes(receiver: Arc<Receiver>) -> BoxedFilter<(Response,)> {
    let token_in_path = warp::path!("webhooks" / String).map(Some);
    let no_token_in_path = warp::path!("webhooks").map(|| None);
    let webhook = token_in_path
        .or(no_token_in_path)
        .unify()
        .and(warp::method())
        .and(warp::header::headers_cloned())
        .and(warp::body::stream())
        .then(
            move |token: Option<String>, method: Method, headers: HeaderMap, body| {
                let receiver = Arc::clone(&receiver);
                async move {
                    match receiver.receive(token, &method, &headers, body).await {
                        Ok(response) => response,
                        Err(refusal) => refusal.into_response(),
                    }
                }
            },
        );
    let healthz =
        warp::path!("healthz").map(|| json_response(StatusCode::OK, &json!({"status": "ok"})));
    let not_found = warp::any().map(|| Refusal::NotFound.into_response());
    webhook.or(healthz).unify().or(not_found).unify().boxed()
}

impl Receiver {
    async fn receive<S, B>(
        &self,
        token: Option<String>,
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
        self.authenticate(token.as_deref(), headers)?;
        check_content_type(headers)?;
        let declared_length = content_length(headers)?;
        if declared_length.is_some_and(|n| n > self.max_body_bytes) {
            return Err(Refusal::TooLarge {
                limit: self.max_body_bytes,
            });
        }
        let body = read_body(body, self.max_body_bytes, declared_length).await?;
        let received_at = Utc::now();
        let record_count = convert::parse_payload(&body, &self.rules)?.records.len();
        if record_count == 0 {
            return Ok(accepted(0));
        }
        let record_count = u32::try_from(record_count)
            .map_err(|_| Refusal::Unprocessable("too many records in one body".into()))?;
        self.journal
            .append(NewEntry {
                received_at,
                record_count,
                headers: Vec::new(),
                body,
            })
            .await
            .map_err(Refusal::Journal)?;
        self.lifecycle.touch();
        Ok(accepted(record_count))
    }

    fn authenticate(&self, in_path: Option<&str>, headers: &HeaderMap) -> Result<(), Refusal> {
        let presented = match in_path {
            Some(token) => token,
            None => bearer_token(headers)?,
        };
        let tokens = self
            .tokens
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match tokens.verify(presented) {
            Some(_) => Ok(()),
            None => Err(Refusal::Unauthorized("unknown or revoked token")),
        }
    }
}

fn accepted(records: u32) -> Response {
    json_response(StatusCode::OK, &json!({"status": "ok", "records": records}))
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
    if let Some(encoding) = headers.get(CONTENT_ENCODING) {
        let encoding = encoding.to_str().unwrap_or("").trim();
        if !encoding.eq_ignore_ascii_case("identity") {
            return Err(Refusal::UnsupportedMediaType(format!(
                "Content-Encoding {encoding:?} is not supported"
            )));
        }
    }
    let Some(value) = headers.get(CONTENT_TYPE) else {
        return Ok(());
    };
    let value = value.to_str().unwrap_or("");
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let json = essence == "application/json"
        || essence == "text/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"));
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

/// Reads a body, refusing it as soon as it exceeds `limit` (whether or not its length was
/// declared), so that memory never exceeds the limit.
async fn read_body<S, B>(body: S, limit: u64, declared: Option<u64>) -> Result<Bytes, Refusal>
where
    S: Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    let mut body = std::pin::pin!(body);
    let mut buf = BytesMut::with_capacity(declared.unwrap_or(8 << 10).min(limit) as usize);
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| Refusal::BadRequest(format!("cannot read the body: {e}")))?;
        if (buf.len() + chunk.remaining()) as u64 > limit {
            return Err(Refusal::TooLarge { limit });
        }
        buf.put(chunk);
    }
    Ok(buf.freeze())
}
