//! Why a webhook request was not accepted: each [`Refusal`] is one HTTP status and a JSON
//! `{"error": ...}` body, with `Allow`, `Retry-After` or `Connection: close` where it needs one.

use std::time::Duration;

use http::header::{ALLOW, CONNECTION};
use http::{HeaderValue, StatusCode};
use warp::reply::Response;

use crate::convert::StreamKeyError;
use crate::convert::media::MediaError;
use crate::convert::payload::PayloadError;
use crate::http::body::BodyError;
use crate::http::reply::{RetryAfter, error_response};
use crate::journal::JournalError;
use crate::senders::signature::SignatureError;

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
