//! Handshake bodies: a provider checking a webhook URL (Slack's `url_verification`, Zoom's
//! `endpoint.url_validation`). Such a body gives no records, whichever way it arrives; the
//! receiver answers it ([`crate::senders::handshake`]).

use std::sync::LazyLock;

use memchr::memmem;
use serde::Deserialize;

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
    // A handshake is an object: serde would also read a struct from an array of its fields in
    // order (`["url_verification", "c3"]`), which is a record like any other.
    if json.trim_ascii_start().first() != Some(&b'{') {
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
        assert_eq!(detect(br#"["url_verification","c3"]"#), None);
        assert_eq!(
            detect(br#" ["endpoint.url_validation",{"plainToken":"p"}]"#),
            None
        );
    }
}
