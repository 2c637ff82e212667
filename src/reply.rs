//! HTTP replies every listener shares: JSON replies, `Retry-After` values, the 404 after a
//! set of routes, and the reply to a connection refused before it is served. The receiver,
//! the accept loop and the operations endpoints all take them from here.

use std::future::Future;
use std::net::SocketAddr;

use http::header::{CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderValue, StatusCode};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::Response;

tokio::task_local! {
    /// The peer address of the connection being served (set by the server for each
    /// connection's task; a request handler runs within it).
    static PEER: Option<SocketAddr>;
}

/// Runs a connection's future with its peer address known to [`remote_addr`] (a task-local
/// costs nothing per request, unlike a request extension).
pub async fn with_peer<F: Future>(peer: Option<SocketAddr>, connection: F) -> F::Output {
    PEER.scope(peer, connection).await
}

/// The peer address of the connection the current request came on, when known.
pub fn remote_addr() -> Option<SocketAddr> {
    PEER.try_with(|peer| *peer).ok().flatten()
}

/// How long a sender is asked to wait before retrying, by reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryAfter {
    /// The run is stopping (503), or the tap is not ready.
    Stopping,
    /// The disk holding the journal is nearly full (503).
    DiskFull,
    /// Too many requests or connections at once (429, 503).
    Overloaded,
}

impl RetryAfter {
    /// The header value, in seconds.
    pub fn seconds(self) -> &'static str {
        match self {
            RetryAfter::Stopping => "5",
            RetryAfter::DiskFull => "30",
            RetryAfter::Overloaded => "1",
        }
    }

    /// Adds the header to `response`.
    pub fn apply(self, response: &mut Response) {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from_static(self.seconds()));
    }
}

/// A reply with a JSON body.
pub fn json_response(status: StatusCode, body: &serde_json::Value) -> Response {
    let mut response = Response::new(serde_json::to_vec(body).expect("JSON serializes").into());
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// A refusal: `{"error": message}` with `status`.
pub fn error_response(status: StatusCode, message: &str) -> Response {
    json_response(status, &json!({ "error": message }))
}

/// A webhook accepted: its records counted.
pub fn accepted(records: u32) -> Response {
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

/// The `reply` setting: the success reply some senders require (Adyen: `[accepted]`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplySetting {
    /// Status of the success reply: 200 to 299.
    #[serde(default = "default_status")]
    pub status: u16,
    /// Its `Content-Type`. Default: `text/plain` when `body` is given.
    #[serde(default)]
    pub content_type: Option<String>,
    /// Its body, exactly (for example `[accepted]`). Default: none.
    #[serde(default)]
    pub body: Option<String>,
}

fn default_status() -> u16 {
    200
}

/// The validated `reply`: what every accepted webhook (a redelivery too) is answered.
/// Refusals keep their JSON error bodies.
#[derive(Clone, Debug)]
pub struct SuccessReply {
    status: StatusCode,
    content_type: Option<HeaderValue>,
    body: bytes::Bytes,
}

impl ReplySetting {
    /// Validates the setting; the error is the message after `reply: `.
    pub fn validate(self) -> Result<SuccessReply, String> {
        let status = StatusCode::from_u16(self.status)
            .ok()
            .filter(StatusCode::is_success)
            .ok_or_else(|| {
                format!(
                    "status: {} is not a success status (200 to 299)",
                    self.status
                )
            })?;
        let body = self.body.unwrap_or_default();
        if matches!(status.as_u16(), 204 | 205) && !body.is_empty() {
            return Err(format!(
                "body: a {status} reply has no body; remove body or use 200"
            ));
        }
        let content_type = match (self.content_type, body.is_empty()) {
            (Some(text), _) => Some(HeaderValue::from_str(&text).map_err(|_| {
                format!("content_type: {text:?} is not a header value (for example text/plain)")
            })?),
            (None, false) => Some(HeaderValue::from_static("text/plain")),
            (None, true) => None,
        };
        Ok(SuccessReply {
            status,
            content_type,
            body: body.into(),
        })
    }
}

impl SuccessReply {
    pub fn response(&self) -> Response {
        let mut response = Response::new(self.body.clone().into());
        *response.status_mut() = self.status;
        if let Some(content_type) = &self.content_type {
            response
                .headers_mut()
                .insert(CONTENT_TYPE, content_type.clone());
        }
        response
    }
}

/// A redelivery of a journaled webhook: acknowledged again, stored once.
pub fn duplicate() -> Response {
    json_response(
        StatusCode::OK,
        &json!({"status": "ok", "records": 0, "duplicate": true}),
    )
}

/// What an unknown path is told.
pub const NOT_FOUND: &str = "not found: webhooks are posted to /webhooks/<token>";
/// What a connection beyond `max_connections` is told.
pub const TOO_MANY_CONNECTIONS: &str = "too many connections; retry shortly";

/// `routes`, then a JSON 404 for any other path.
pub fn not_found_after(routes: BoxedFilter<(Response,)>) -> BoxedFilter<(Response,)> {
    let not_found = warp::any().map(|| error_response(StatusCode::NOT_FOUND, NOT_FOUND));
    routes.or(not_found).unify().boxed()
}

/// 503 for a request on a connection that is being closed to make room.
pub fn too_many_connections() -> Response {
    let mut response = error_response(StatusCode::SERVICE_UNAVAILABLE, TOO_MANY_CONNECTIONS);
    RetryAfter::Overloaded.apply(&mut response);
    response
}

/// The same 503 as raw HTTP/1.1 bytes, for a connection refused before it is served (so that
/// it costs nothing but this write).
pub fn too_many_connections_http1() -> Vec<u8> {
    let status = StatusCode::SERVICE_UNAVAILABLE;
    let body = json!({ "error": TOO_MANY_CONNECTIONS }).to_string();
    format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\nretry-after: {}\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        status.as_str(),
        status.canonical_reason().unwrap_or(""),
        RetryAfter::Overloaded.seconds(),
        body.len()
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(json: &str) -> Result<SuccessReply, String> {
        serde_json::from_str::<ReplySetting>(json)
            .map_err(|e| e.to_string())?
            .validate()
    }

    #[test]
    fn success_replies_validate() {
        let r = reply(r#"{"body": "[accepted]"}"#).unwrap().response();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()[CONTENT_TYPE], "text/plain");
        let r = reply(r#"{"status": 204}"#).unwrap().response();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        assert!(r.headers().get(CONTENT_TYPE).is_none());
        let e = reply(r#"{"status": 302}"#).unwrap_err();
        assert!(e.starts_with("status: 302 is not a success status"), "{e}");
        let e = reply(r#"{"status": 204, "body": "x"}"#).unwrap_err();
        assert!(
            e.starts_with("body: a 204 No Content reply has no body"),
            "{e}"
        );
        let e = reply(r#"{"content_type": "text/plain\n"}"#).unwrap_err();
        assert!(e.starts_with("content_type:"), "{e}");
        assert!(
            reply(r#"{"stauts": 200}"#)
                .unwrap_err()
                .contains("unknown field")
        );
    }
}
