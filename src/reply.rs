//! HTTP replies every listener shares: JSON replies, `Retry-After` values, the 404 after a
//! set of routes, and the reply to a connection refused before it is served. The receiver,
//! the accept loop and the operations endpoints all take them from here.

use std::future::Future;
use std::net::SocketAddr;

use http::header::{CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderValue, StatusCode};
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
