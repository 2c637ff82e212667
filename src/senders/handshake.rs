//! Handshakes: requests a provider sends to check a webhook URL, answered and never recorded.
//!
//! - Slack `{"type": "url_verification", "challenge": C}` → `{"challenge": C}`.
//! - Zoom `{"event": "endpoint.url_validation", "payload": {"plainToken": P}}` →
//!   `{"plainToken": P, "encryptedToken": hex HMAC-SHA256(secret, P)}`.
//! - Okta's one-time `GET` with `X-Okta-Verification-Challenge: V` → `{"verification": V}`.
//! - AWS SNS `SubscriptionConfirmation`: recorded, and its `SubscribeURL` logged.
//!
//! Recognising a handshake body is part of the one conversion path
//! ([`crate::convert::handshake`]): it gives no records whether it arrives over HTTP, from the
//! journal or from a replayed file. Answering it is here.

use hmac::{Hmac, KeyInit, Mac};
use http::HeaderMap;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Sha256;

pub use crate::convert::handshake::Handshake;

/// Okta's verification header.
pub const OKTA_CHALLENGE_HEADER: &str = "x-okta-verification-challenge";

impl Handshake {
    /// The reply body. Zoom's needs its webhook secret token: `None` when none is configured.
    pub fn reply(&self, zoom_secret: Option<&[u8]>) -> Option<Value> {
        match self {
            Handshake::SlackUrlVerification { challenge } => {
                Some(json!({ "challenge": challenge }))
            }
            Handshake::ZoomUrlValidation { plain_token } => {
                let mut mac = Hmac::<Sha256>::new_from_slice(zoom_secret?)
                    .expect("HMAC takes any key length");
                mac.update(plain_token.as_bytes());
                Some(json!({
                    "plainToken": plain_token,
                    "encryptedToken": hex::encode(mac.finalize().into_bytes()),
                }))
            }
        }
    }
}

/// Okta's reply to its verification `GET`.
pub fn okta_reply(challenge: &[u8]) -> Value {
    json!({ "verification": String::from_utf8_lossy(challenge) })
}

/// AWS SNS asks to confirm a subscription (`x-amz-sns-message-type: SubscriptionConfirmation`)
/// with a URL to visit: the user must see it. The message is recorded too, like any other.
pub fn note_sns_subscription(headers: &HeaderMap, json: &[u8]) {
    #[derive(Deserialize)]
    struct Confirmation {
        #[serde(rename = "Type")]
        kind: String,
        #[serde(rename = "SubscribeURL")]
        subscribe_url: String,
        #[serde(rename = "TopicArn", default)]
        topic_arn: String,
    }
    if headers
        .get("x-amz-sns-message-type")
        .is_none_or(|v| v.as_bytes() != b"SubscriptionConfirmation")
    {
        return;
    }
    if let Ok(c) = serde_json::from_slice::<Confirmation>(json)
        && c.kind == "SubscriptionConfirmation"
    {
        log::warn!(
            "AWS SNS subscription to {:?} awaits confirmation: visit its SubscribeURL {}",
            c.topic_arn,
            c.subscribe_url
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zoom_reply_is_the_hmac_of_the_plain_token() {
        let h = Handshake::ZoomUrlValidation {
            plain_token: "qgg8vlvZRS6UYooatFL8Aw".into(),
        };
        assert_eq!(h.reply(None), None);
        let reply = h.reply(Some(b"secret")).unwrap();
        let mut mac = Hmac::<Sha256>::new_from_slice(b"secret").unwrap();
        mac.update(b"qgg8vlvZRS6UYooatFL8Aw");
        assert_eq!(
            reply["encryptedToken"],
            hex::encode(mac.finalize().into_bytes())
        );
        assert_eq!(reply["plainToken"], "qgg8vlvZRS6UYooatFL8Aw");
    }
}
