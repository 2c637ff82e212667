//! Operations endpoints: `GET /healthz` (the process is up), `GET /readyz` (the journal can
//! be written and the run is not stopping) and `GET /metrics` (Prometheus text).
//!
//! They take no token, but for `/metrics` when `ops_token` is set. By default they are served
//! on the webhook listener; with `ops_bind` they move to a separate address (for example
//! `127.0.0.1:9090`), keeping them off the public interface, beside the inspector
//! ([`listener_routes`]). Another method on their paths gets 405 with `Allow`.

use std::sync::Arc;

use http::header::{ALLOW, AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderValue, StatusCode};
use serde_json::json;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::Response;

use crate::http::auth::OpsToken;
use crate::journal::{Journal, JournalWriter};
use crate::lifecycle::Lifecycle;
use crate::reply::{RetryAfter, error_response, json_response};
use crate::{sequence, telemetry};

/// What the endpoints look at.
pub struct Ops {
    pub journal: Arc<dyn JournalWriter>,
    pub lifecycle: Arc<Lifecycle>,
    /// The journal's handle, for what the syncs acknowledged.
    pub store: Journal,
    /// Required of `/metrics` when set (`ops_token`).
    pub token: Option<OpsToken>,
}

impl Ops {
    fn readiness(&self) -> Response {
        match self.lifecycle.not_ready(self.journal.as_ref()) {
            None => json_response(StatusCode::OK, &json!({"status": "ready"})),
            Some(error) => {
                let mut response = json_response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &json!({"status": "not ready", "error": error}),
                );
                RetryAfter::Stopping.apply(&mut response);
                response
            }
        }
    }

    fn metrics(&self) -> Response {
        // Under `serve`, what the syncs acknowledged is how far the data got.
        if let Some(acknowledged) = self.store.acknowledged() {
            telemetry::progress().set_consumed(acknowledged.get());
        }
        let mut response =
            Response::new(telemetry::render(telemetry::progress(), sequence::now_nanos()).into());
        response.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        );
        response
    }
}

/// The routes of the operations endpoints.
pub fn routes(ops: Arc<Ops>) -> BoxedFilter<(Response,)> {
    let read = || warp::get().or(warp::head()).unify();
    let healthz = warp::path!("healthz")
        .and(read())
        .map(|| json_response(StatusCode::OK, &json!({"status": "ok"})));
    let ready = Arc::clone(&ops);
    let readyz = warp::path!("readyz")
        .and(read())
        .map(move || ready.readiness());
    let metrics = warp::path!("metrics")
        .and(read())
        .and(warp::header::headers_cloned())
        .map(move |headers: http::HeaderMap| {
            OpsToken::refusal(ops.token.as_ref(), headers.get(AUTHORIZATION))
                .unwrap_or_else(|| ops.metrics())
        });
    let other_method = warp::path!("healthz")
        .or(warp::path!("readyz"))
        .unify()
        .or(warp::path!("metrics"))
        .unify()
        .map(method_not_allowed);
    healthz
        .or(readyz)
        .unify()
        .or(metrics)
        .unify()
        .or(other_method)
        .unify()
        .boxed()
}

/// What an unknown path on the operations listener is told.
pub const NOT_FOUND: &str = "not found: the operations endpoints are /healthz, /readyz and \
     /metrics (and, with ops_bind, the inspector: / and /api/)";

/// The routes of a listener of their own (`ops_bind`): the endpoints' [`routes`], then a 404
/// naming them.
pub fn listener_routes(routes: BoxedFilter<(Response,)>) -> BoxedFilter<(Response,)> {
    let not_found = warp::any().map(|| error_response(StatusCode::NOT_FOUND, NOT_FOUND));
    routes.or(not_found).unify().boxed()
}

fn method_not_allowed() -> Response {
    let mut response = error_response(
        StatusCode::METHOD_NOT_ALLOWED,
        "method not allowed: the operations endpoints answer GET and HEAD",
    );
    response
        .headers_mut()
        .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
    response
}
