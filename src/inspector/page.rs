//! The inspector's page at `/`: one HTML page, its stylesheet and its script, built into the
//! binary (no external assets: it works on a machine without internet). The script polls the
//! JSON API and writes every value it shows as text (`textContent`), never as HTML, so a body
//! holding `<script>` is shown, not run; and the Content-Security-Policy allows scripts from
//! this origin's `/inspector.js` only, no inline script.

use http::HeaderValue;
use http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::Response;

const INDEX_HTML: &str = include_str!("page/index.html");
const SCRIPT: &str = include_str!("page/inspector.js");
const STYLE: &str = include_str!("page/inspector.css");

/// Same-origin scripts, styles and API calls only; nothing inline, no frames, no forms.
pub const CONTENT_SECURITY_POLICY_VALUE: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// `/`, `/inspector.js` and `/inspector.css`.
pub fn routes() -> BoxedFilter<(Response,)> {
    let index = warp::path::end().map(|| asset(INDEX_HTML, "text/html; charset=utf-8"));
    let script =
        warp::path!("inspector.js").map(|| asset(SCRIPT, "text/javascript; charset=utf-8"));
    let style = warp::path!("inspector.css").map(|| asset(STYLE, "text/css; charset=utf-8"));
    warp::get()
        .and(index.or(script).unify().or(style).unify())
        .boxed()
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut response = Response::new(body.into());
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY_VALUE),
    );
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}
