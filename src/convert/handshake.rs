//! Handshake bodies: a provider checking a webhook URL (Slack's `url_verification`, Zoom's
//! `endpoint.url_validation`, and with a `handshake` kind configured: Twitch, Discord,
//! monday.com, WooCommerce, Notion, Xero). Such a body gives no records, whichever way it
//! arrives; the receiver answers it ([`crate::senders::handshake`]).

use std::sync::LazyLock;

use memchr::memmem;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value};

/// Handshake bodies are small; a larger body is not one (and is not parsed twice).
const MAX_HANDSHAKE_BYTES: usize = 16 << 10;

/// The `kind` of the `handshake` setting: the provider whose URL check is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum HandshakeKind {
    /// Meta (Facebook, WhatsApp, Instagram): `GET ?hub.mode=subscribe&hub.verify_token=V&hub.challenge=C`
    /// → `C` when V is `verify_token`.
    Meta,
    /// Twitch EventSub `webhook_callback_verification` → the challenge, as text/plain.
    Twitch,
    /// Discord's PING: an interactions endpoint's `{"type": 1}` → `{"type": 1}`, a webhook
    /// events URL's `{"type": 0}` → 204.
    Discord,
    /// Microsoft Graph `?validationToken=T` → `T`, as text/plain.
    MicrosoftGraph,
    /// Asana `X-Hook-Secret` → echoed; the secret is kept to verify `X-Hook-Signature`.
    Asana,
    /// Dropbox `GET ?challenge=C` → `C`, as text/plain.
    Dropbox,
    /// eBay `GET ?challenge_code=C` → `{"challengeResponse": hex SHA-256(C + verify_token +
    /// endpoint URL)}`.
    Ebay,
    /// monday.com `{"challenge": C}` → echoed.
    Monday,
    /// WooCommerce's ping `webhook_id=N` → 200.
    Woocommerce,
    /// Notion's `{"verification_token": ...}` → 200, the token logged at WARN.
    Notion,
    /// Xero's intent to receive (`"events": []`) → 200 when its signature is valid.
    Xero,
}

/// A handshake found in a body.
#[derive(Debug, PartialEq, Eq)]
pub enum Handshake {
    SlackUrlVerification {
        challenge: String,
    },
    ZoomUrlValidation {
        plain_token: String,
    },
    TwitchVerification {
        challenge: String,
    },
    /// An interactions endpoint's PING (`type` 1).
    DiscordPing,
    /// A webhook events URL's PING (`type` 0; its events are `type` 1 with an `event`).
    DiscordEventsPing,
    MondayChallenge {
        challenge: String,
    },
    WoocommercePing,
    NotionVerification {
        token: String,
    },
    XeroIntent,
}

impl HandshakeKind {
    /// What a body of this kind's handshake always contains: the cheap scan before parsing.
    fn marker(self) -> Option<&'static memmem::Finder<'static>> {
        static CHALLENGE: LazyLock<memmem::Finder<'static>> =
            LazyLock::new(|| memmem::Finder::new("challenge"));
        static TYPE: LazyLock<memmem::Finder<'static>> =
            LazyLock::new(|| memmem::Finder::new("type"));
        static WEBHOOK_ID: LazyLock<memmem::Finder<'static>> =
            LazyLock::new(|| memmem::Finder::new("webhook_id"));
        static VERIFICATION: LazyLock<memmem::Finder<'static>> =
            LazyLock::new(|| memmem::Finder::new("verification_token"));
        static EVENTS: LazyLock<memmem::Finder<'static>> =
            LazyLock::new(|| memmem::Finder::new("events"));
        Some(match self {
            HandshakeKind::Twitch | HandshakeKind::Monday => &CHALLENGE,
            HandshakeKind::Discord => &TYPE,
            HandshakeKind::Woocommerce => &WEBHOOK_ID,
            HandshakeKind::Notion => &VERIFICATION,
            HandshakeKind::Xero => &EVENTS,
            _ => return None,
        })
    }
}

/// The handshake a JSON body is, if it is one: Slack's and Zoom's always, the others only
/// under their configured `kind`.
#[inline]
pub fn detect(json: &[u8], kind: Option<HandshakeKind>) -> Option<Handshake> {
    // One cheap scan first: almost no body is a handshake, and this runs on every payload.
    // Slack's and Zoom's names both contain "url_v". Only this part is inlined where bodies
    // are converted; the rest is a call, rarely made.
    // The searcher is built once: building it costs as much as a search of a small body.
    static URL_V: LazyLock<memmem::Finder<'static>> =
        LazyLock::new(|| memmem::Finder::new("url_v"));
    if json.len() > MAX_HANDSHAKE_BYTES || (kind.is_none() && URL_V.find(json).is_none()) {
        return None;
    }
    detect_further(json, kind, &URL_V)
}

/// [`detect`] past its cheap scan (or under a configured kind).
#[inline(never)]
fn detect_further(
    json: &[u8],
    kind: Option<HandshakeKind>,
    url_v: &memmem::Finder<'static>,
) -> Option<Handshake> {
    let marked = kind
        .and_then(HandshakeKind::marker)
        .filter(|m| m.find(json).is_some());
    if marked.is_none() && url_v.find(json).is_none() {
        return None;
    }
    // A handshake is an object: serde would also read a struct from an array of its fields in
    // order (`["url_verification", "c3"]`), which is a record like any other.
    if json.trim_ascii_start().first() != Some(&b'{') {
        return None;
    }
    if let (Some(kind), Some(_)) = (kind, marked)
        && let Some(found) = of_kind(json, kind)
    {
        return Some(found);
    }
    slack_or_zoom(json)
}

#[inline(never)]
fn slack_or_zoom(json: &[u8]) -> Option<Handshake> {
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

/// The configured kind's handshake, read from an object body that holds its marker.
#[inline(never)]
fn of_kind(json: &[u8], kind: HandshakeKind) -> Option<Handshake> {
    let object: Map<String, Value> = serde_json::from_slice(json).ok()?;
    let text = |name: &str| object.get(name).and_then(Value::as_str).map(str::to_owned);
    match kind {
        // A notification carries `event`, a revocation no `challenge`.
        HandshakeKind::Twitch if object.get("subscription").is_some_and(Value::is_object) => {
            Some(Handshake::TwitchVerification {
                challenge: text("challenge")?,
            })
        }
        // Webhook events carry `event` (and are `type` 1 too): records.
        HandshakeKind::Discord if !object.contains_key("event") => {
            match object.get("type").and_then(Value::as_u64) {
                Some(1) => Some(Handshake::DiscordPing),
                Some(0) => Some(Handshake::DiscordEventsPing),
                _ => None,
            }
        }
        HandshakeKind::Monday if object.len() == 1 => Some(Handshake::MondayChallenge {
            challenge: text("challenge")?,
        }),
        // The form `webhook_id=N`, read as `{"webhook_id": "N"}`.
        HandshakeKind::Woocommerce if object.len() == 1 && text("webhook_id").is_some() => {
            Some(Handshake::WoocommercePing)
        }
        HandshakeKind::Notion if object.len() == 1 => Some(Handshake::NotionVerification {
            token: text("verification_token")?,
        }),
        HandshakeKind::Xero
            if object
                .get("events")
                .and_then(Value::as_array)
                .is_some_and(Vec::is_empty) =>
        {
            Some(Handshake::XeroIntent)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slack_and_zoom_handshakes_are_recognized_and_others_not() {
        assert_eq!(
            detect(
                br#"{"token":"t","challenge":"abc","type":"url_verification"}"#,
                None
            ),
            Some(Handshake::SlackUrlVerification {
                challenge: "abc".into()
            })
        );
        let zoom = br#"{"payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},"event_ts":1654503849680,"event":"endpoint.url_validation"}"#;
        assert_eq!(
            detect(zoom, Some(HandshakeKind::Monday)),
            Some(Handshake::ZoomUrlValidation {
                plain_token: "qgg8vlvZRS6UYooatFL8Aw".into()
            })
        );
        let none = [
            &br#"{"type":"event_callback","text":"url_verification"}"#[..],
            br#"[{"type":"url_verification","challenge":"x"}]"#,
            br#"{"event":"meeting.started"}"#,
            br#"["url_verification","c3"]"#,
            br#" ["endpoint.url_validation",{"plainToken":"p"}]"#,
        ];
        for body in none {
            assert_eq!(detect(body, None), None);
        }
    }

    #[test]
    fn kind_handshakes_are_recognized_only_under_their_kind() {
        use HandshakeKind::*;
        let twitch = br#"{"challenge":"pogchamp-kappa-360noscope-vohiyo","subscription":{"id":"f1c2a387-161a-49f9-a165-0f21d7a4e1c4","status":"webhook_callback_verification_pending","type":"channel.follow"}}"#;
        let cases: [(&[u8], HandshakeKind, Handshake); 7] = [
            (
                twitch,
                Twitch,
                Handshake::TwitchVerification {
                    challenge: "pogchamp-kappa-360noscope-vohiyo".into(),
                },
            ),
            (
                br#"{"application_id":"1","id":"2","token":"t","type":1,"version":1}"#,
                Discord,
                Handshake::DiscordPing,
            ),
            (
                br#"{"version":1,"application_id":"1234560123453231555","type":0}"#,
                Discord,
                Handshake::DiscordEventsPing,
            ),
            (
                br#"{"challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}"#,
                Monday,
                Handshake::MondayChallenge {
                    challenge: "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P".into(),
                },
            ),
            (br#"{"webhook_id":"5"}"#, Woocommerce, Handshake::WoocommercePing),
            (
                br#"{"verification_token":"secret_tMrlL1qK5vuQAh1b6cZGhFChZTSYJlce98V0pYn7yBl"}"#,
                Notion,
                Handshake::NotionVerification {
                    token: "secret_tMrlL1qK5vuQAh1b6cZGhFChZTSYJlce98V0pYn7yBl".into(),
                },
            ),
            (
                br#"{"events":[],"lastEventSequence":0,"firstEventSequence":0,"entropy":"S0m3r4Nd0mt3xt"}"#,
                Xero,
                Handshake::XeroIntent,
            ),
        ];
        for (body, kind, handshake) in cases {
            assert_eq!(detect(body, Some(kind)), Some(handshake), "{kind:?}");
            assert_eq!(detect(body, None), None, "{kind:?} without its kind");
            let other = if kind == Meta { Asana } else { Meta };
            assert_eq!(detect(body, Some(other)), None, "{kind:?} under {other:?}");
        }
        // Ordinary deliveries of the same providers stay records.
        let records: [(&[u8], HandshakeKind); 6] = [
            (
                br#"{"subscription":{"type":"channel.follow"},"event":{"user_id":"1234"}}"#,
                Twitch,
            ),
            (br#"{"type":2,"data":{"name":"ping"}}"#, Discord),
            (
                br#"{"version":1,"application_id":"1","type":1,"event":{"type":"APPLICATION_AUTHORIZED"}}"#,
                Discord,
            ),
            (
                br#"{"challenge":"c","event":{"type":"create_item"}}"#,
                Monday,
            ),
            (
                br#"{"webhook_id":"5","id":12,"status":"processing"}"#,
                Woocommerce,
            ),
            (br#"{"events":[{"eventType":"CREATE"}]}"#, Xero),
        ];
        for (body, kind) in records {
            assert_eq!(detect(body, Some(kind)), None, "{kind:?}");
        }
    }
}
