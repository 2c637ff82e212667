//! Handshakes: requests a provider sends to check a webhook URL, answered and never recorded.
//!
//! Always answered:
//! - Slack `{"type": "url_verification", "challenge": C}` → `{"challenge": C}`.
//! - Zoom `{"event": "endpoint.url_validation", "payload": {"plainToken": P}}` →
//!   `{"plainToken": P, "encryptedToken": hex HMAC-SHA256(secret, P)}`.
//! - Okta's one-time `GET` with `X-Okta-Verification-Challenge: V` → `{"verification": V}`.
//! - AWS SNS `SubscriptionConfirmation`: recorded, and its `SubscribeURL` logged.
//!
//! With the `handshake` setting, one provider's more ([`HandshakeKind`]): `GET` checks (Meta,
//! Dropbox, eBay, [`Handshakes::on_get`]), checks before the body is read (Microsoft Graph, Asana,
//! [`Handshakes::before_body`]) and handshake bodies ([`Handshake::own_reply`]).
//!
//! Recognising a handshake body is part of the one conversion path
//! ([`crate::convert::handshake`]): it gives no records whether it arrives over HTTP, from the
//! journal or from a replayed file. Answering it is here.

use hmac::{Hmac, KeyInit, Mac};
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderValue, StatusCode};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use warp::reply::Response;

use crate::senders::signature::Secret;

pub use crate::convert::handshake::{Handshake, HandshakeKind};

/// Okta's verification header.
pub const OKTA_CHALLENGE_HEADER: &str = "x-okta-verification-challenge";
/// Asana's handshake header: the secret that signs later deliveries.
pub const ASANA_SECRET_HEADER: &str = "x-hook-secret";

/// The `handshake` setting.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HandshakeSetting {
    /// The provider whose URL check is answered (docs/senders.md, "Handshakes").
    pub kind: HandshakeKind,
    /// `meta` and `ebay` only: the verify token typed into the provider's dashboard with the
    /// URL (eBay: 32 to 80 letters, digits, `_` or `-`).
    #[serde(default)]
    #[schemars(extend("secret" = true, "writeOnly" = true))]
    pub verify_token: Option<Secret>,
}

/// The validated `handshake` setting.
#[derive(Clone, Debug)]
pub struct Handshakes {
    pub kind: HandshakeKind,
    verify_token: Option<Secret>,
}

impl HandshakeSetting {
    /// Validates the setting; the error is the message after `handshake: `.
    pub fn validate(self) -> Result<Handshakes, String> {
        let kind = self.kind;
        let needs_token = matches!(kind, HandshakeKind::Meta | HandshakeKind::Ebay);
        match (&self.verify_token, needs_token) {
            (None, true) => {
                return Err(format!(
                    "kind {} needs verify_token: the Verify Token you type into the {} \
                     dashboard with the webhook URL",
                    kind.name(),
                    if kind == HandshakeKind::Meta {
                        "app's Webhooks"
                    } else {
                        "eBay developer"
                    }
                ));
            }
            (Some(_), false) => {
                return Err(format!(
                    "verify_token: kind {} checks none (only meta and ebay do); remove it",
                    kind.name()
                ));
            }
            (Some(token), true) if kind == HandshakeKind::Ebay => check_ebay_token(token)?,
            _ => {}
        }
        Ok(Handshakes {
            kind,
            verify_token: self.verify_token,
        })
    }
}

/// eBay refuses a verification token outside 32 to 80 of `[A-Za-z0-9_-]`: say so at start.
fn check_ebay_token(token: &Secret) -> Result<(), String> {
    let t = token.expose();
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    if (32..=80).contains(&t.len()) && t.chars().all(allowed) {
        Ok(())
    } else {
        Err(format!(
            "verify_token: eBay takes 32 to 80 letters, digits, _ or - (this one has {} \
             characters{})",
            t.chars().count(),
            if t.chars().all(allowed) {
                ""
            } else {
                ", and others"
            }
        ))
    }
}

impl HandshakeKind {
    /// The name as written in the setting.
    pub fn name(self) -> &'static str {
        match self {
            HandshakeKind::Meta => "meta",
            HandshakeKind::Twitch => "twitch",
            HandshakeKind::Discord => "discord",
            HandshakeKind::MicrosoftGraph => "microsoft-graph",
            HandshakeKind::Asana => "asana",
            HandshakeKind::Dropbox => "dropbox",
            HandshakeKind::Ebay => "ebay",
            HandshakeKind::Monday => "monday",
            HandshakeKind::Woocommerce => "woocommerce",
            HandshakeKind::Notion => "notion",
            HandshakeKind::Xero => "xero",
        }
    }
}

/// A handshake's reply: a success status, a body and its content type.
#[derive(Debug)]
pub struct Answer {
    status: StatusCode,
    content_type: Option<&'static str>,
    pub body: String,
    /// Dropbox asks for `X-Content-Type-Options: nosniff`.
    nosniff: bool,
}

impl Answer {
    /// A plain-text reply (the challenge echoed), as Twitch, Microsoft Graph and Meta expect.
    fn text(body: &str) -> Self {
        Answer {
            status: StatusCode::OK,
            content_type: Some("text/plain"),
            body: body.to_owned(),
            nosniff: false,
        }
    }

    fn json(value: &Value) -> Self {
        Answer {
            status: StatusCode::OK,
            content_type: Some("application/json"),
            body: value.to_string(),
            nosniff: false,
        }
    }

    /// No body (Xero requires none; Discord's events PING is answered 204).
    fn empty(status: StatusCode) -> Self {
        Answer {
            status,
            content_type: None,
            body: String::new(),
            nosniff: false,
        }
    }

    pub fn into_response(self) -> Response {
        let mut response = Response::new(self.body.into());
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        if let Some(content_type) = self.content_type {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        }
        if self.nosniff {
            headers.insert(
                "x-content-type-options",
                HeaderValue::from_static("nosniff"),
            );
        }
        response
    }
}

impl Handshake {
    /// The reply. Zoom's needs its webhook secret token: `None` when none is configured.
    /// WooCommerce's ping and Notion's verification get the ordinary success reply (`None`
    /// from [`Handshake::own_reply`]).
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
            _ => None,
        }
    }

    /// The reply of a handshake that has one of its own (not Slack's or Zoom's, which
    /// [`Handshake::reply`] gives): `None` for those answered with the success reply.
    pub fn own_reply(&self) -> Option<Answer> {
        match self {
            Handshake::TwitchVerification { challenge } => Some(Answer::text(challenge)),
            Handshake::DiscordPing => Some(Answer::json(&json!({"type": 1}))),
            Handshake::MondayChallenge { challenge } => {
                Some(Answer::json(&json!({ "challenge": challenge })))
            }
            Handshake::DiscordEventsPing => Some(Answer::empty(StatusCode::NO_CONTENT)),
            Handshake::XeroIntent => Some(Answer::empty(StatusCode::OK)),
            Handshake::NotionVerification { token } => {
                // The user must paste it into Notion (to activate the subscription) and into
                // the config (Notion signs with it): the log is the only place it shows.
                log::warn!(
                    "Notion sent its verification_token {token}: paste it into Notion's \
                     webhook subscription form (Verify) and into signature.secret"
                );
                None
            }
            _ => None,
        }
    }

    /// Answered before the signature check: Notion sends its verification token unsigned
    /// (it signs with that token afterwards), WooCommerce its ping (`webhook_id=N`, no
    /// signature header) when a webhook is saved.
    pub fn unsigned(&self) -> bool {
        matches!(
            self,
            Handshake::NotionVerification { .. } | Handshake::WoocommercePing
        )
    }
}

/// What a `GET` of a configured kind is.
pub enum GetCheck {
    /// Not this kind's check: the request is refused as any `GET` (405).
    None,
    /// The check, and its reply.
    Reply(Answer),
    /// Meta's check with a verify token that does not match (403).
    WrongToken,
}

impl Handshakes {
    /// A `GET` (Meta, Dropbox, eBay). `endpoint` is the URL as configured (`public_url` and
    /// the path), which eBay hashes.
    pub fn on_get(&self, query: &str, endpoint: &str) -> GetCheck {
        let param = |name: &str| {
            form_urlencoded::parse(query.as_bytes())
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        };
        let token = self.verify_token.as_ref().map(Secret::expose);
        match self.kind {
            HandshakeKind::Meta => {
                let (Some(challenge), Some(mode)) = (param("hub.challenge"), param("hub.mode"))
                else {
                    return GetCheck::None;
                };
                let given = param("hub.verify_token").unwrap_or_default();
                let matches =
                    token.is_some_and(|t| bool::from(t.as_bytes().ct_eq(given.as_bytes())));
                match (mode == "subscribe", matches) {
                    (true, true) => GetCheck::Reply(Answer::text(&challenge)),
                    (true, false) => GetCheck::WrongToken,
                    (false, _) => GetCheck::None,
                }
            }
            HandshakeKind::Dropbox => match param("challenge") {
                Some(challenge) => GetCheck::Reply(Answer {
                    nosniff: true,
                    ..Answer::text(&challenge)
                }),
                None => GetCheck::None,
            },
            HandshakeKind::Ebay => match (param("challenge_code"), token) {
                (Some(code), Some(token)) => {
                    let digest = Sha256::new()
                        .chain_update(code.as_bytes())
                        .chain_update(token.as_bytes())
                        .chain_update(endpoint.as_bytes())
                        .finalize();
                    let body = json!({ "challengeResponse": hex::encode(digest) });
                    GetCheck::Reply(Answer::json(&body))
                }
                _ => GetCheck::None,
            },
            _ => GetCheck::None,
        }
    }

    /// A `POST` answered before its body is read: Microsoft Graph's `?validationToken=T`
    /// (its body is empty), Asana's `X-Hook-Secret`.
    pub fn before_body(&self, query: &str, headers: &HeaderMap) -> Option<Early> {
        match self.kind {
            HandshakeKind::MicrosoftGraph => form_urlencoded::parse(query.as_bytes())
                .find(|(k, _)| k == "validationToken")
                .map(|(_, token)| Early::Reply(Answer::text(&token))),
            HandshakeKind::Asana => headers
                .get(ASANA_SECRET_HEADER)
                .map(|secret| Early::AsanaSecret(secret.clone())),
            _ => None,
        }
    }
}

/// A request answered before its body is read.
pub enum Early {
    Reply(Answer),
    /// Asana's handshake: keep the secret, then echo it.
    AsanaSecret(HeaderValue),
}

/// Asana's handshake reply: its secret echoed in the header.
pub fn asana_reply(secret: HeaderValue) -> Response {
    let mut response = Answer::empty(StatusCode::OK).into_response();
    response.headers_mut().insert(ASANA_SECRET_HEADER, secret);
    response
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

    fn setting(json: &str) -> Result<Handshakes, String> {
        serde_json::from_str::<HandshakeSetting>(json)
            .map_err(|e| e.to_string())?
            .validate()
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

    #[test]
    fn verify_tokens_are_required_where_checked_and_refused_elsewhere() {
        let e = setting(r#"{"kind": "meta"}"#).unwrap_err();
        assert!(e.starts_with("kind meta needs verify_token"), "{e}");
        let e = setting(r#"{"kind": "twitch", "verify_token": "x"}"#).unwrap_err();
        assert!(
            e.starts_with("verify_token: kind twitch checks none"),
            "{e}"
        );
        let e = setting(r#"{"kind": "ebay", "verify_token": "short"}"#).unwrap_err();
        assert!(e.contains("32 to 80"), "{e}");
        let e = setting(r#"{"kind": "zoom"}"#).unwrap_err();
        assert!(e.contains("unknown variant"), "{e}");
        assert!(
            format!(
                "{:?}",
                setting(r#"{"kind": "meta", "verify_token": "v-7f3a"}"#)
            )
            .contains("redacted")
        );
    }

    #[test]
    fn ebay_challenge_response_is_the_sha256_of_code_token_and_endpoint() {
        // eBay's documented computation (developer.ebay.com, "Marketplace account deletion"):
        // SHA-256 over challengeCode, verificationToken and endpoint, in that order, in hex.
        let token = "a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6_-ab";
        let h = setting(&format!(r#"{{"kind": "ebay", "verify_token": "{token}"}}"#)).unwrap();
        let endpoint = "https://hooks.example.com/webhooks/t0k";
        let GetCheck::Reply(reply) = h.on_get("challenge_code=a8628072", endpoint) else {
            panic!("no reply");
        };
        let expected = hex::encode(Sha256::digest(format!("a8628072{token}{endpoint}")));
        assert_eq!(
            reply.body,
            json!({ "challengeResponse": expected }).to_string()
        );
        assert!(matches!(h.on_get("", endpoint), GetCheck::None));
    }

    #[test]
    fn meta_checks_the_verify_token() {
        let h = setting(r#"{"kind": "meta", "verify_token": "meatyhamhock"}"#).unwrap();
        let ok = "hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=meatyhamhock";
        let GetCheck::Reply(reply) = h.on_get(ok, "") else {
            panic!("no reply");
        };
        assert_eq!(reply.body, "1158201444");
        let wrong = "hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=other";
        assert!(matches!(h.on_get(wrong, ""), GetCheck::WrongToken));
        assert!(matches!(h.on_get("x=1", ""), GetCheck::None));
    }
}
