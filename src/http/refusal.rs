//! Why a webhook request was not accepted: each [`Refusal`] is one HTTP status and a JSON
//! `{"error": ...}` body, with `Allow`, `Retry-After` or `Connection: close` where it needs one.
//! Each refusal is also one WARN line ([`RefusalLog`]), so that a provider's dashboard full of
//! 401s has its explanation in the tap's log.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::header::{ALLOW, CONNECTION};
use http::{HeaderValue, StatusCode};
use warp::reply::Response;

use crate::convert::StreamKeyError;
use crate::convert::media::MediaError;
use crate::convert::payload::PayloadError;
use crate::http::body::BodyError;
use crate::journal::JournalError;
use crate::reply::{RetryAfter, error_response};
use crate::senders::signature::{Scheme, SignatureError};
use crate::tokens::TokenId;

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
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("the secret of Asana's handshake could not be kept; the tap's log says why")]
    SecretNotKept,
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
            Refusal::Forbidden(_) => StatusCode::FORBIDDEN,
            Refusal::SecretNotKept => StatusCode::INTERNAL_SERVER_ERROR,
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
            Refusal::Journal(JournalError::Unavailable(_)) => {
                RetryAfter::Overloaded.apply(&mut response)
            }
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
    pub fn from_body(e: BodyError, limit: u64) -> Self {
        match e {
            BodyError::TooLarge => Refusal::TooLarge { limit },
            BodyError::Timeout(after) => Refusal::Timeout(after),
            BodyError::Overloaded => Refusal::BodiesInFlight,
            BodyError::UnsupportedCoding(_) => Refusal::UnsupportedMediaType(e.to_string()),
            BodyError::Read(_) | BodyError::Corrupt { .. } => Refusal::BadRequest(e.to_string()),
        }
    }
}

impl From<StreamKeyError> for Refusal {
    fn from(e: StreamKeyError) -> Self {
        Refusal::Unprocessable(e.to_string())
    }
}

/// What the WARN line of a refusal says besides the refusal itself.
pub struct RefusalContext<'a> {
    /// The token's id (never the token), when the token was known.
    pub token_id: Option<&'a TokenId>,
    pub remote: Option<SocketAddr>,
    /// The delivery id, when the request has one.
    pub delivery_id: Option<&'a [u8]>,
    /// The signature scheme, for the usual causes of a signature refusal.
    pub scheme: Option<&'a Scheme>,
}

/// Longest delivery id shown in a refusal's line.
const MAX_SHOWN_DELIVERY_ID: usize = 128;

impl Refusal {
    /// The refusal's WARN line: status, reason (with the journal's own error, which the sender
    /// is not told, and a signature refusal's usual causes), token id, remote address and
    /// delivery id.
    pub fn log_line(&self, context: &RefusalContext<'_>) -> String {
        let mut line = format!("refused a webhook: {} {self}", self.status().as_u16());
        match self {
            Refusal::Journal(e) => line.push_str(&format!(" ({e})")),
            Refusal::Signature(e) => line.push_str(usual_causes(e, context.scheme)),
            _ => {}
        }
        match context.token_id {
            Some(id) => line.push_str(&format!("; token {id}")),
            None => line.push_str("; token unknown"),
        }
        if let Some(remote) = context.remote {
            line.push_str(&format!(", from {remote}"));
        }
        if let Some(id) = context.delivery_id {
            let shown = String::from_utf8_lossy(&id[..id.len().min(MAX_SHOWN_DELIVERY_ID)]);
            line.push_str(&format!(", delivery {shown:?}"));
        }
        line
    }
}

/// What usually makes a valid delivery fail its signature check.
fn usual_causes(e: &SignatureError, scheme: Option<&Scheme>) -> &'static str {
    let timestamped = scheme.is_some_and(Scheme::timestamped);
    match e {
        SignatureError::Expired { .. } => {
            " (usual causes: this host's clock is off, or an old delivery was replayed)"
        }
        SignatureError::Missing(_) => {
            " (usual causes: the provider is not set to sign, the wrong scheme is configured, \
             or a proxy dropped the header)"
        }
        _ if timestamped => {
            " (usual causes: the secret differs from the provider's, a proxy changed the \
             body, or this host's clock is off)"
        }
        _ => " (usual causes: the secret differs from the provider's, or a proxy changed the body)",
    }
}

/// Refusals' WARN lines, at most [`LINES_PER_SECOND`] a second; the ones left out are
/// counted in one line once the second is over.
#[derive(Default)]
pub struct RefusalLog {
    window: Arc<Mutex<LogWindow>>,
}

/// At most this many refusal lines are logged each second.
pub const LINES_PER_SECOND: u32 = 10;

#[derive(Default)]
struct LogWindow {
    start: Option<Instant>,
    logged: u32,
    left_out: u64,
}

/// What to do with one refusal's line.
#[derive(Debug, PartialEq, Eq)]
enum Admit {
    /// Log it, after the count of the lines left out in the second before, if any.
    Log { left_out: u64 },
    /// Leave it out; `first` when it is the first left out this second (the count is due
    /// at `until`).
    LeaveOut { first: bool, until: Instant },
}

impl RefusalLog {
    /// Logs the line `line` makes, within the rate limit.
    pub fn warn(&self, line: impl FnOnce() -> String) {
        match self.admit(Instant::now()) {
            Admit::Log { left_out } => {
                log_left_out(left_out);
                log::warn!("{}", line());
            }
            Admit::LeaveOut { first: true, until } => {
                // The count is logged when the second is over, even if no refusal follows.
                if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                    let window = Arc::clone(&self.window);
                    runtime.spawn(async move {
                        tokio::time::sleep_until(until.into()).await;
                        log_left_out(take_left_out(&window));
                    });
                }
            }
            Admit::LeaveOut { .. } => {}
        }
    }

    fn admit(&self, now: Instant) -> Admit {
        let mut w = self.window.lock().unwrap_or_else(|p| p.into_inner());
        let mut left_out = 0;
        let start = match w.start {
            Some(start) if now.duration_since(start) < Duration::from_secs(1) => start,
            _ => {
                left_out = std::mem::take(&mut w.left_out);
                w.logged = 0;
                w.start = Some(now);
                now
            }
        };
        if w.logged < LINES_PER_SECOND {
            w.logged += 1;
            return Admit::Log { left_out };
        }
        w.left_out += 1;
        Admit::LeaveOut {
            first: w.left_out == 1,
            until: start + Duration::from_secs(1),
        }
    }
}

fn take_left_out(window: &Mutex<LogWindow>) -> u64 {
    std::mem::take(&mut window.lock().unwrap_or_else(|p| p.into_inner()).left_out)
}

fn log_left_out(left_out: u64) {
    if left_out > 0 {
        log::warn!(
            "{left_out} more refused webhooks were not logged (at most {LINES_PER_SECOND} \
             lines a second)"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_lines_a_second_then_the_rest_counted_once() {
        let log = RefusalLog::default();
        let t0 = Instant::now();
        for _ in 0..LINES_PER_SECOND {
            assert_eq!(log.admit(t0), Admit::Log { left_out: 0 });
        }
        let until = t0 + Duration::from_secs(1);
        assert_eq!(log.admit(t0), Admit::LeaveOut { first: true, until });
        for _ in 0..4 {
            assert_eq!(
                log.admit(t0),
                Admit::LeaveOut {
                    first: false,
                    until
                }
            );
        }
        // The next second's first line comes after the count of the 5 left out.
        assert_eq!(log.admit(until), Admit::Log { left_out: 5 });
        assert_eq!(log.admit(until), Admit::Log { left_out: 0 });
        // Counted by the flush instead: nothing left to count after.
        let later = until + Duration::from_secs(1);
        for _ in 0..LINES_PER_SECOND + 2 {
            log.admit(later);
        }
        assert_eq!(take_left_out(&log.window), 2);
        let next = later + Duration::from_secs(1);
        assert_eq!(log.admit(next), Admit::Log { left_out: 0 });
    }

    #[test]
    fn the_line_names_status_reason_token_id_remote_and_delivery() {
        let refusal = Refusal::Signature(SignatureError::Mismatch("X-Hub-Signature-256".into()));
        let context = RefusalContext {
            token_id: None,
            remote: Some("127.0.0.1:5555".parse().unwrap()),
            delivery_id: Some(b"d-1"),
            scheme: Some(&Scheme::Github),
        };
        assert_eq!(
            refusal.log_line(&context),
            "refused a webhook: 401 invalid signature: no signature in X-Hub-Signature-256 \
             matches the body (usual causes: the secret differs from the provider's, or a proxy \
             changed the body); token unknown, from 127.0.0.1:5555, delivery \"d-1\""
        );
        let context = RefusalContext {
            scheme: Some(&Scheme::Stripe),
            ..context
        };
        assert!(refusal.log_line(&context).contains("clock"));
    }
}
