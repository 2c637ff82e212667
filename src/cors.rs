//! CORS for forms posted from a browser (`cors_origins`).
//!
//! With origins configured, an `OPTIONS` preflight on a webhook path from a listed origin is
//! answered 204 with `Access-Control-Allow-*`, and webhook replies to a listed origin carry
//! `Access-Control-Allow-Origin` (so the page can read the answer). Other origins get 403 on
//! preflight and no CORS headers. Without `cors_origins` there is no CORS at all (`OPTIONS`
//! is 405 like any other method).

use http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_HEADERS, ORIGIN, VARY,
};
use http::{HeaderMap, HeaderValue, StatusCode};
use warp::reply::Response;

use crate::reply::error_response;

/// How long a browser may cache a preflight answer, in seconds.
const MAX_AGE_SECONDS: &str = "86400";
/// Request headers a page may send when its preflight does not list any.
const DEFAULT_ALLOWED_HEADERS: &str = "content-type, authorization";
/// A preflight's `Access-Control-Request-Headers` longer than this is not echoed.
const MAX_REQUEST_HEADERS_BYTES: usize = 1024;

/// The validated `cors_origins` setting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cors {
    /// `["*"]`: any origin.
    any: bool,
    /// Lower case, without a trailing `/`.
    origins: Vec<String>,
}

impl Cors {
    /// `None` for an empty list. Each origin is `*` or `http(s)://host[:port]`.
    pub fn new(origins: &[String]) -> Result<Option<Cors>, String> {
        if origins.is_empty() {
            return Ok(None);
        }
        let mut cors = Cors {
            any: false,
            origins: Vec::new(),
        };
        for origin in origins {
            if origin == "*" {
                cors.any = true;
                continue;
            }
            let trimmed = origin.trim_end_matches('/').to_ascii_lowercase();
            let rest = trimmed
                .strip_prefix("https://")
                .or_else(|| trimmed.strip_prefix("http://"));
            match rest {
                Some(host) if !host.is_empty() && !host.contains(['/', '?', '#', ' ']) => {
                    cors.origins.push(trimmed)
                }
                _ => {
                    return Err(format!(
                        "{origin:?} is not an origin: write \"https://www.example.com\" (scheme, \
                         host and port only) or \"*\""
                    ));
                }
            }
        }
        Ok(Some(cors))
    }

    /// The request's `Origin`, if it is allowed.
    fn allowed<'h>(&self, request: &'h HeaderMap) -> Option<&'h HeaderValue> {
        let origin = request.get(ORIGIN)?;
        let text = origin.to_str().ok()?.trim_end_matches('/');
        (self.any || self.origins.iter().any(|o| o.eq_ignore_ascii_case(text))).then_some(origin)
    }

    /// The answer to an `OPTIONS` preflight.
    pub fn preflight(&self, request: &HeaderMap) -> Response {
        let Some(origin) = self.allowed(request) else {
            return error_response(
                StatusCode::FORBIDDEN,
                "this origin is not in cors_origins; add it to post from its pages",
            );
        };
        let mut response = Response::new(Vec::new().into());
        *response.status_mut() = StatusCode::NO_CONTENT;
        let allow_headers = request
            .get(ACCESS_CONTROL_REQUEST_HEADERS)
            .filter(|v| v.len() <= MAX_REQUEST_HEADERS_BYTES)
            .cloned()
            .unwrap_or(HeaderValue::from_static(DEFAULT_ALLOWED_HEADERS));
        let headers = response.headers_mut();
        self.set_origin(headers, origin);
        headers.insert(
            ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("POST"),
        );
        headers.insert(ACCESS_CONTROL_ALLOW_HEADERS, allow_headers);
        headers.insert(
            ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static(MAX_AGE_SECONDS),
        );
        response
    }

    /// Adds `Access-Control-Allow-Origin` to a webhook reply when the origin is allowed.
    pub fn decorate(&self, request: &HeaderMap, response: &mut Response) {
        if let Some(origin) = self.allowed(request) {
            self.set_origin(response.headers_mut(), origin);
        }
    }

    fn set_origin(&self, headers: &mut HeaderMap, origin: &HeaderValue) {
        if self.any {
            headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        } else {
            headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
            headers.insert(VARY, HeaderValue::from_static("Origin"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(origin: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(ORIGIN, HeaderValue::from_str(origin).unwrap());
        h
    }

    #[test]
    fn listed_origins_only_and_bad_settings_refused() {
        let cors = Cors::new(&["https://www.Example.com/".into()])
            .unwrap()
            .unwrap();
        assert_eq!(
            cors.preflight(&request("https://www.example.com")).status(),
            204
        );
        assert_eq!(
            cors.preflight(&request("https://evil.example")).status(),
            403
        );
        assert_eq!(cors.preflight(&HeaderMap::new()).status(), 403);
        assert_eq!(Cors::new(&[]).unwrap(), None);
        assert!(Cors::new(&["www.example.com".into()]).is_err());
        assert!(Cors::new(&["https://a.com/path".into()]).is_err());
        let any = Cors::new(&["*".into()]).unwrap().unwrap();
        let r = any.preflight(&request("https://anything.test"));
        assert_eq!(r.headers()[ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    }
}
