//! Handshakes: requests a provider sends to check a webhook URL, answered and never recorded.
//!
//! - Slack `{"type": "url_verification", "challenge": C}` → `{"challenge": C}`.
//! - Zoom `{"event": "endpoint.url_validation", "payload": {"plainToken": P}}` →
//!   `{"plainToken": P, "encryptedToken": hex HMAC-SHA256(secret, P)}`.
//! - Okta's one-time `GET` with `X-Okta-Verification-Challenge: V` → `{"verification": V}`.
//!
//! [`detect`] is part of the one conversion path: a body that is a handshake gives no records
//! whether it arrives over HTTP, from the journal or from a replayed file.

use std::sync::LazyLock;

use hmac::{Hmac, KeyInit, Mac};
use http::HeaderMap;
use memchr::memmem;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Sha256;

/// Okta's verification header.
pub const OKTA_CHALLENGE_HEADER: &str = "x-okta-verification-challenge";

/// Handshake bodies are small; a larger body is not one (and is not parsed twice).
const MAX_HANDSHAKE_BYTES: usize = 16 << 10;

/// A handshake found in a body.
#[derive(Debug, PartialEq, Eq)]
pub enum Handshake {
    SlackUrlVerification { challenge: String },
    ZoomUrlValidation { plain_token: String },
}

/// The handshake a JSON body is, if it is one.
pub fn detect(json: &[u8]) -> Option<Handshake> {
    // One cheap scan first: almost no body is a handshake, and this runs on every payload.
    // Both names contain "url_v".
    // The searcher is built once: building it costs as much as a search of a small body.
    static URL_V: LazyLock<memmem::Finder<'static>> =
        LazyLock::new(|| memmem::Finder::new("url_v"));
    if json.len() > MAX_HANDSHAKE_BYTES || URL_V.find(json).is_none() {
        return None;
    }
    if memmem::find(json, b"url_verification").is_some() {
        #[derive(Deserialize)]
        struct Slack {
            #[serde(rename = "type")]
            kind: String,
            challenge: String,
        }
        let v: Slack = serde_json::from_slice(json).ok()?;
        return (v.kind == "url_verification").then_some(Handshake::SlackUrlVerification {
            challenge: v.challenge,
        });
    }
    if memmem::find(json, b"endpoint.url_validation").is_some() {
        #[derive(Deserialize)]
        struct Zoom {
            event: String,
            payload: ZoomPayload,
        }
        #[derive(Deserialize)]
        struct ZoomPayload {
            #[serde(rename = "plainToken")]
            plain_token: String,
        }
        let v: Zoom = serde_json::from_slice(json).ok()?;
        return (v.event == "endpoint.url_validation").then_some(Handshake::ZoomUrlValidation {
            plain_token: v.payload.plain_token,
        });
    }
    None
}

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
    fn slack_and_zoom_handshakes_are_recognized_and_others_not() {
        assert_eq!(
            detect(br#"{"token":"t","challenge":"abc","type":"url_verification"}"#),
            Some(Handshake::SlackUrlVerification {
                challenge: "abc".into()
            })
        );
        let zoom = br#"{"payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},"event_ts":1654503849680,"event":"endpoint.url_validation"}"#;
        assert_eq!(
            detect(zoom),
            Some(Handshake::ZoomUrlValidation {
                plain_token: "qgg8vlvZRS6UYooatFL8Aw".into()
            })
        );
        assert_eq!(
            detect(br#"{"type":"event_callback","text":"url_verification"}"#),
            None
        );
        assert_eq!(
            detect(br#"[{"type":"url_verification","challenge":"x"}]"#),
            None
        );
        assert_eq!(detect(br#"{"event":"meeting.started"}"#), None);
    }

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
