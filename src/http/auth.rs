//! Bearer tokens, as every listener reads them: the webhook token a sender may send in
//! `Authorization` instead of the path, and `ops_token`, which the operations listener's
//! `/api/` and `/metrics` require when it is set.

use http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderValue, StatusCode};
use warp::reply::Response;

pub use crate::inspector::OpsToken;
use crate::reply::error_response;

/// The token of `Authorization: Bearer <token>`, or why there is none.
pub fn bearer_token(headers: &HeaderMap) -> Result<&str, &'static str> {
    let value = headers
        .get(AUTHORIZATION)
        .ok_or("no token: post to /webhooks/<token> or send Authorization: Bearer <token>")?;
    bearer(value)
}

fn bearer(value: &HeaderValue) -> Result<&str, &'static str> {
    let value = value
        .to_str()
        .map_err(|_| "Authorization header is not valid text")?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(token.trim())
        }
        _ => Err("Authorization must be: Bearer <token>"),
    }
}

impl OpsToken {
    /// The 401 to answer unless `authorization` carries the token (`None`: go on).
    pub fn refusal(
        token: Option<&OpsToken>,
        authorization: Option<&HeaderValue>,
    ) -> Option<Response> {
        let token = token?;
        let refused = |message: &str| {
            let mut response = error_response(StatusCode::UNAUTHORIZED, message);
            response.headers_mut().insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"tap-webhooks operations\""),
            );
            Some(response)
        };
        match authorization.map(bearer) {
            None => refused("send the ops_token as Authorization: Bearer <ops_token>"),
            Some(Err(message)) => refused(message),
            Some(Ok(presented)) if token.accepts(presented) => None,
            Some(Ok(_)) => refused("wrong ops_token"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ops_token_is_checked_as_a_bearer_token() {
        let token = OpsToken::new("s3cr3t-s3cr3t-s3cr3t");
        let header = |v: &'static str| HeaderValue::from_static(v);
        assert!(OpsToken::refusal(None, None).is_none());
        assert!(
            OpsToken::refusal(Some(&token), Some(&header("Bearer s3cr3t-s3cr3t-s3cr3t"))).is_none()
        );
        for wrong in [None, Some(header("Bearer nope")), Some(header("Basic abc"))] {
            let refused = OpsToken::refusal(Some(&token), wrong.as_ref()).unwrap();
            assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
            assert!(refused.headers().contains_key(WWW_AUTHENTICATE));
        }
        assert!(!format!("{token:?}").contains("s3cr3t"));
    }
}
