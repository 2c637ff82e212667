//! Provider signatures: HMAC-SHA256 over the raw body, as GitHub, Stripe, Shopify, Slack and
//! Standard Webhooks sign their deliveries (plus a generic header scheme); Twilio, Zoom,
//! Mailgun and SendGrid, whose schemes sign more than the body, are in [`providers`].
//!
//! A [`Verifier`] is built once from the `signature` setting. It holds one or more keys (several
//! during a secret rotation), checks every signature a header carries against every key with
//! constant-time comparisons, and for schemes with a timestamp refuses deliveries outside the
//! tolerance (replays). The header parsers are public so that the fuzz target can reach them.
//! Keys never appear in `Debug` output or in errors.

mod graph;
mod providers;
mod sns;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use schemars::JsonSchema;
use serde::Deserialize;
use sha2::Sha256;
use subtle::{Choice, ConstantTimeEq};

type HmacSha256 = Hmac<Sha256>;

/// The `scheme` of the `signature` setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SchemeName {
    /// `X-Hub-Signature-256: sha256=<hex>` over the body.
    Github,
    /// `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>]` over `<t>.<body>`.
    Stripe,
    /// `X-Shopify-Hmac-Sha256: <base64>` over the body.
    Shopify,
    /// `X-Slack-Signature: v0=<hex>` over `v0:<X-Slack-Request-Timestamp>:<body>`.
    Slack,
    /// `webhook-signature: v1,<base64> ...` over `<webhook-id>.<webhook-timestamp>.<body>`.
    StandardWebhooks,
    /// A header (`header`) holding `prefix` + hex or base64 (`encoding`) of the HMAC of the body.
    HmacSha256,
    /// `X-Twilio-Signature: <base64>` HMAC-SHA1 over the URL Twilio called and the sorted form fields.
    Twilio,
    /// `x-zm-signature: v0=<hex>` over `v0:<x-zm-request-timestamp>:<body>`.
    Zoom,
    /// `signature.{timestamp,token,signature}` in the body: HMAC-SHA256 of timestamp + token.
    Mailgun,
    /// `X-Twilio-Email-Event-Webhook-Signature`: ECDSA P-256 over timestamp + body
    /// (`public_key`, not `secret`).
    Sendgrid,
    /// Microsoft Graph: every notification's `clientState` equals the secret.
    MicrosoftGraph,
    /// AWS SNS: RSA signature of the message under the certificate in `public_key` (PEM).
    Sns,
}

/// How the generic scheme encodes the MAC.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    #[default]
    Hex,
    Base64,
}

/// A secret from the config. Shown as `<redacted>` by `Debug`, never serialized.
#[derive(Clone, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(text: String) -> Self {
        Secret(text)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// The `signature` setting.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignatureSetting {
    /// The provider's signing scheme.
    pub scheme: SchemeName,
    /// The provider's signing secret (Standard Webhooks: `whsec_...`).
    #[serde(default)]
    #[schemars(extend("secret" = true, "writeOnly" = true))]
    pub secret: Option<Secret>,
    /// Several secrets, any of which may sign: for rotating the secret without downtime.
    #[serde(default)]
    #[schemars(extend("secret" = true, "writeOnly" = true))]
    pub secrets: Vec<Secret>,
    /// Stripe, Slack, Standard Webhooks, Zoom, Mailgun and SendGrid: largest accepted distance between the signed
    /// timestamp and now, in seconds (replay protection).
    #[serde(default = "default_tolerance_seconds")]
    pub tolerance_seconds: u64,
    /// `hmac-sha256` only: the header carrying the signature.
    #[serde(default)]
    pub header: Option<String>,
    /// `hmac-sha256` only: text before the encoded MAC, such as `sha256=`.
    #[serde(default)]
    pub prefix: Option<String>,
    /// `hmac-sha256` only: `hex` (default) or `base64`.
    #[serde(default)]
    pub encoding: Option<Encoding>,
    /// `sendgrid` only: the Verification Key SendGrid shows (base64), instead of a secret.
    #[serde(default)]
    pub public_key: Option<String>,
}

fn default_tolerance_seconds() -> u64 {
    300
}

impl SignatureSetting {
    /// Validates the setting into a verifier; the error is the message after `signature: `.
    pub fn verifier(self) -> Result<Verifier, String> {
        let setting = self;
        let generic_only = [
            ("header", setting.header.is_some()),
            ("prefix", setting.prefix.is_some()),
            ("encoding", setting.encoding.is_some()),
        ];
        let scheme = match setting.scheme {
            SchemeName::Github => Scheme::Github,
            SchemeName::Stripe => Scheme::Stripe,
            SchemeName::Shopify => Scheme::Shopify,
            SchemeName::Slack => Scheme::Slack,
            SchemeName::StandardWebhooks => Scheme::StandardWebhooks,
            SchemeName::Twilio => Scheme::Twilio,
            SchemeName::Zoom => Scheme::Zoom,
            SchemeName::Mailgun => Scheme::Mailgun,
            SchemeName::Sendgrid => Scheme::Sendgrid,
            SchemeName::MicrosoftGraph => Scheme::MicrosoftGraph,
            SchemeName::Sns => Scheme::Sns,
            SchemeName::HmacSha256 => {
                let header = setting.header.ok_or(
                    "scheme hmac-sha256 needs `header`, the header carrying the signature",
                )?;
                if http::HeaderName::from_bytes(header.as_bytes()).is_err() {
                    return Err(format!("header: {header:?} is not a header name"));
                }
                Scheme::Generic {
                    header: header.to_ascii_lowercase(),
                    prefix: setting.prefix.unwrap_or_default(),
                    encoding: setting.encoding.unwrap_or_default(),
                }
            }
        };
        if !matches!(scheme, Scheme::Generic { .. })
            && let Some((key, _)) = generic_only.iter().find(|(_, set)| *set)
        {
            return Err(format!(
                "{key} applies to scheme hmac-sha256 only; {} has fixed headers",
                scheme.name()
            ));
        }
        let mut secrets = setting.secrets;
        secrets.extend(setting.secret);
        if matches!(scheme, Scheme::Sendgrid | Scheme::Sns) {
            if !secrets.is_empty() {
                let name = scheme.name();
                return Err(format!(
                    "scheme {name} verifies with `public_key`, not a secret"
                ));
            }
            secrets.extend(setting.public_key.map(Secret::new));
        } else if setting.public_key.is_some() {
            return Err("public_key applies to scheme sns or sendgrid only".into());
        }
        Verifier::new(scheme, &secrets, setting.tolerance_seconds)
    }
}

/// The header names each scheme reads (lower case, as HTTP/1 header maps store them).
pub const GITHUB_HEADER: &str = "x-hub-signature-256";
pub const STRIPE_HEADER: &str = "stripe-signature";
pub const SHOPIFY_HEADER: &str = "x-shopify-hmac-sha256";
/// Shopify's newer name for the same header (both are sent or accepted by its libraries).
pub const SHOPIFY_HEADER_NEW: &str = "shopify-hmac-sha256";
pub const SLACK_SIGNATURE_HEADER: &str = "x-slack-signature";
pub const SLACK_TIMESTAMP_HEADER: &str = "x-slack-request-timestamp";
pub const STANDARD_ID_HEADER: &str = "webhook-id";
pub const STANDARD_TIMESTAMP_HEADER: &str = "webhook-timestamp";
pub const STANDARD_SIGNATURE_HEADER: &str = "webhook-signature";

/// A validated scheme.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scheme {
    Github,
    Stripe,
    Shopify,
    Slack,
    StandardWebhooks,
    Generic {
        /// Lower case.
        header: String,
        prefix: String,
        encoding: Encoding,
    },
    Twilio,
    Zoom,
    Mailgun,
    Sendgrid,
    MicrosoftGraph,
    Sns,
}

impl Scheme {
    /// The scheme's name as written in the config.
    pub fn name(&self) -> &'static str {
        match self {
            Scheme::Github => "github",
            Scheme::Stripe => "stripe",
            Scheme::Shopify => "shopify",
            Scheme::Slack => "slack",
            Scheme::StandardWebhooks => "standard-webhooks",
            Scheme::Generic { .. } => "hmac-sha256",
            Scheme::Twilio => "twilio",
            Scheme::Zoom => "zoom",
            Scheme::Mailgun => "mailgun",
            Scheme::Sendgrid => "sendgrid",
            Scheme::MicrosoftGraph => "microsoft-graph",
            Scheme::Sns => "sns",
        }
    }
}

/// An HMAC key. `Debug` shows nothing of it.
#[derive(Clone)]
struct Key(Vec<u8>);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(<redacted>)")
    }
}

/// Why a delivery's signature was refused. Each becomes 401; the message says which.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing signature: no {0} header")]
    Missing(String),
    #[error("invalid signature: {0}")]
    Malformed(String),
    #[error("invalid signature: no signature in {0} matches the body")]
    Mismatch(String),
    #[error(
        "expired signature: timestamp is {skew} seconds away from now; at most {tolerance} allowed"
    )]
    Expired { skew: i128, tolerance: u64 },
}

/// Checks deliveries against one scheme and one or more keys.
#[derive(Clone, Debug)]
pub struct Verifier {
    scheme: Scheme,
    keys: Vec<Key>,
    /// SendGrid's public keys (its scheme has no secret).
    public_keys: Vec<providers::PublicKey>,
    /// AWS SNS's signing certificates (its scheme has no secret).
    certificates: Vec<sns::Certificate>,
    tolerance_seconds: u64,
}

/// What a scheme may sign besides the headers and the raw body.
#[derive(Clone, Copy, Debug, Default)]
pub struct Signed<'a> {
    /// The URL the provider called (`public_url` + path and query): Twilio signs it.
    pub url: Option<&'a str>,
    /// The body as JSON (after form or multipart conversion): Mailgun signs fields in it.
    pub json: Option<&'a [u8]>,
    /// The body is `application/x-www-form-urlencoded`: Twilio signs its fields.
    pub form: bool,
}

/// Read access to request headers by lower-case name.
pub trait HeaderSource {
    fn header(&self, name: &str) -> Option<&[u8]>;
}

impl HeaderSource for http::HeaderMap {
    fn header(&self, name: &str) -> Option<&[u8]> {
        self.get(name).map(|v| v.as_bytes())
    }
}

impl HeaderSource for [(&str, &[u8])] {
    fn header(&self, name: &str) -> Option<&[u8]> {
        self.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }
}

impl Verifier {
    /// A verifier for `scheme` with `secrets` (at least one). Standard Webhooks secrets are
    /// `whsec_` + base64 of the key; the others are used as given.
    pub fn new(
        scheme: Scheme,
        secrets: &[Secret],
        tolerance_seconds: u64,
    ) -> Result<Verifier, String> {
        if matches!(scheme, Scheme::Sendgrid | Scheme::Sns) {
            let (public_keys, certificates) = if scheme == Scheme::Sns {
                let pem: Vec<&str> = secrets.iter().map(Secret::expose).collect();
                (Vec::new(), sns::certificates(&pem.concat())?)
            } else {
                (providers::public_keys(secrets)?, Vec::new())
            };
            return Ok(Verifier {
                scheme,
                keys: Vec::new(),
                public_keys,
                certificates,
                tolerance_seconds,
            });
        }
        if secrets.is_empty() {
            return Err("give the provider's signing secret in `secret` (or `secrets`)".into());
        }
        let mut keys = Vec::with_capacity(secrets.len());
        for (i, secret) in secrets.iter().enumerate() {
            let text = secret.expose();
            if text.is_empty() {
                return Err(format!("secret {} is empty", i + 1));
            }
            let key = if scheme == Scheme::StandardWebhooks {
                let encoded = text.strip_prefix("whsec_").unwrap_or(text);
                // The reference library accepts the secret with or without base64 padding.
                BASE64_ANY_PADDING.decode(encoded).map_err(|_| {
                    format!(
                        "secret {} is not a Standard Webhooks secret (whsec_ followed by base64)",
                        i + 1
                    )
                })?
            } else {
                text.as_bytes().to_vec()
            };
            keys.push(Key(key));
        }
        Ok(Verifier {
            scheme,
            keys,
            public_keys: Vec::new(),
            certificates: Vec::new(),
            tolerance_seconds,
        })
    }

    pub fn scheme(&self) -> &Scheme {
        &self.scheme
    }

    /// The first key, for Zoom's URL validation handshake (signed with the same secret).
    pub fn zoom_secret(&self) -> Option<&[u8]> {
        match self.scheme {
            Scheme::Zoom => self.keys.first().map(|k| k.0.as_slice()),
            _ => None,
        }
    }

    /// Verifies `body` as received with `headers`, at Unix time `now`.
    pub fn verify(
        &self,
        headers: &(impl HeaderSource + ?Sized),
        body: &[u8],
        now: i64,
    ) -> Result<(), SignatureError> {
        self.verify_request(headers, body, &Signed::default(), now)
    }

    /// Verifies a delivery: `body` as received with `headers`, and what else the scheme signs.
    pub fn verify_request(
        &self,
        headers: &(impl HeaderSource + ?Sized),
        body: &[u8],
        signed: &Signed<'_>,
        now: i64,
    ) -> Result<(), SignatureError> {
        match &self.scheme {
            Scheme::Twilio => providers::twilio(self, headers, body, signed),
            Scheme::Zoom => providers::zoom(self, headers, body, now),
            Scheme::Mailgun => providers::mailgun(self, signed.json.unwrap_or(body), now),
            Scheme::Sendgrid => providers::sendgrid(self, headers, body, now),
            Scheme::MicrosoftGraph => graph::verify(self.keys.iter().map(|k| k.0.as_slice()), body),
            Scheme::Sns => sns::verify(&self.certificates, body, now, self.tolerance_seconds),
            Scheme::Github => {
                let value = require(headers, GITHUB_HEADER)?;
                let signature = parse_prefixed(value, "sha256=", Encoding::Hex)?;
                self.check(&[&[], body], &[signature], GITHUB_HEADER)
            }
            Scheme::Shopify => {
                let value = headers
                    .header(SHOPIFY_HEADER)
                    .or_else(|| headers.header(SHOPIFY_HEADER_NEW))
                    .ok_or_else(|| SignatureError::Missing(SHOPIFY_HEADER.to_owned()))?;
                let signature = parse_prefixed(value, "", Encoding::Base64)?;
                self.check(&[&[], body], &[signature], SHOPIFY_HEADER)
            }
            Scheme::Generic {
                header,
                prefix,
                encoding,
            } => {
                let value = require(headers, header)?;
                let signature = parse_prefixed(value, prefix, *encoding)?;
                self.check(&[&[], body], &[signature], header)
            }
            Scheme::Stripe => {
                let value = require(headers, STRIPE_HEADER)?;
                let parsed = parse_stripe(value)?;
                let mut prefix = parsed.timestamp_text.as_bytes().to_vec();
                prefix.push(b'.');
                self.check(&[&prefix, body], &parsed.signatures, STRIPE_HEADER)?;
                self.check_time(parsed.timestamp, now)
            }
            Scheme::Slack => {
                let value = require(headers, SLACK_SIGNATURE_HEADER)?;
                let timestamp_text = require(headers, SLACK_TIMESTAMP_HEADER)?;
                let timestamp = parse_timestamp(timestamp_text, SLACK_TIMESTAMP_HEADER)?;
                let signature = parse_prefixed(value, "v0=", Encoding::Hex)?;
                let mut prefix = b"v0:".to_vec();
                prefix.extend_from_slice(timestamp_text);
                prefix.push(b':');
                self.check(&[&prefix, body], &[signature], SLACK_SIGNATURE_HEADER)?;
                self.check_time(timestamp, now)
            }
            Scheme::StandardWebhooks => {
                let id = require(headers, STANDARD_ID_HEADER)?;
                let timestamp_text = require(headers, STANDARD_TIMESTAMP_HEADER)?;
                let value = require(headers, STANDARD_SIGNATURE_HEADER)?;
                let timestamp = parse_timestamp(timestamp_text, STANDARD_TIMESTAMP_HEADER)?;
                let signatures = parse_standard_signatures(value)?;
                let mut prefix = id.to_vec();
                prefix.push(b'.');
                prefix.extend_from_slice(timestamp_text);
                prefix.push(b'.');
                self.check(&[&prefix, body], &signatures, STANDARD_SIGNATURE_HEADER)?;
                self.check_time(timestamp, now)
            }
        }
    }

    /// Passes if any of `signatures` is the HMAC of the concatenated `content` under any key.
    /// Every pair is compared, in constant time, whatever matched earlier.
    fn check(
        &self,
        content: &[&[u8]],
        signatures: &[Vec<u8>],
        header: &str,
    ) -> Result<(), SignatureError> {
        let mut matched = Choice::from(0);
        for key in &self.keys {
            let mut mac = HmacSha256::new_from_slice(&key.0).expect("HMAC takes any key length");
            for part in content {
                mac.update(part);
            }
            let expected = mac.finalize().into_bytes();
            for signature in signatures {
                matched |= expected.as_slice().ct_eq(signature.as_slice());
            }
        }
        if bool::from(matched) {
            Ok(())
        } else {
            Err(SignatureError::Mismatch(header.to_owned()))
        }
    }

    fn check_time(&self, timestamp: i64, now: i64) -> Result<(), SignatureError> {
        let skew = i128::from(now) - i128::from(timestamp);
        if skew.unsigned_abs() > u128::from(self.tolerance_seconds) {
            return Err(SignatureError::Expired {
                skew,
                tolerance: self.tolerance_seconds,
            });
        }
        Ok(())
    }
}

fn require<'h>(
    headers: &'h (impl HeaderSource + ?Sized),
    name: &str,
) -> Result<&'h [u8], SignatureError> {
    headers
        .header(name)
        .ok_or_else(|| SignatureError::Missing(name.to_owned()))
}

fn text<'a>(value: &'a [u8], what: &str) -> Result<&'a str, SignatureError> {
    std::str::from_utf8(value)
        .map(str::trim)
        .map_err(|_| SignatureError::Malformed(format!("{what} is not text")))
}

/// `prefix` + hex or base64 of a MAC, as GitHub, Shopify, Slack and the generic scheme send.
pub fn parse_prefixed(
    value: &[u8],
    prefix: &str,
    encoding: Encoding,
) -> Result<Vec<u8>, SignatureError> {
    let value = text(value, "the signature header")?;
    let encoded = value
        .get(..prefix.len())
        .filter(|p| p.eq_ignore_ascii_case(prefix))
        .map(|_| &value[prefix.len()..])
        .ok_or_else(|| SignatureError::Malformed(format!("does not start with {prefix:?}")))?;
    decode(encoded, encoding).ok_or_else(|| {
        SignatureError::Malformed(match encoding {
            Encoding::Hex => "the signature is not hex".to_owned(),
            Encoding::Base64 => "the signature is not base64".to_owned(),
        })
    })
}

/// Standard base64 that takes the text with or without its `=` padding.
const BASE64_ANY_PADDING: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

fn decode(encoded: &str, encoding: Encoding) -> Option<Vec<u8>> {
    match encoding {
        Encoding::Hex => hex::decode(encoded).ok(),
        Encoding::Base64 => BASE64.decode(encoded).ok(),
    }
}

/// A Unix timestamp in seconds, as Slack and Standard Webhooks send it.
pub fn parse_timestamp(value: &[u8], header: &str) -> Result<i64, SignatureError> {
    let value = text(value, header)?;
    if value.is_empty() || value.len() > 18 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SignatureError::Malformed(format!(
            "{header} is not a Unix timestamp"
        )));
    }
    value
        .parse()
        .map_err(|_| SignatureError::Malformed(format!("{header} is not a Unix timestamp")))
}

/// A parsed `Stripe-Signature` header.
#[derive(Debug, PartialEq, Eq)]
pub struct StripeHeader {
    pub timestamp: i64,
    /// The `t=` value exactly as sent: it is part of the signed content.
    pub timestamp_text: String,
    /// Every `v1=` signature; other schemes (`v0=`) are ignored, as Stripe's libraries do.
    pub signatures: Vec<Vec<u8>>,
}

/// `t=<unix>,v1=<hex>[,v1=<hex>...]`.
pub fn parse_stripe(value: &[u8]) -> Result<StripeHeader, SignatureError> {
    let value = text(value, STRIPE_HEADER)?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for item in value.split(',') {
        let Some((key, val)) = item.split_once('=') else {
            continue;
        };
        match key.trim() {
            "t" => {
                let val = val.trim();
                timestamp = Some((parse_timestamp(val.as_bytes(), "t=")?, val.to_owned()));
            }
            "v1" => {
                if let Ok(signature) = hex::decode(val.trim()) {
                    signatures.push(signature);
                }
            }
            _ => {}
        }
    }
    let (timestamp, timestamp_text) = timestamp
        .ok_or_else(|| SignatureError::Malformed("Stripe-Signature has no t= timestamp".into()))?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed(
            "Stripe-Signature has no v1= signature".into(),
        ));
    }
    Ok(StripeHeader {
        timestamp,
        timestamp_text,
        signatures,
    })
}

/// `v1,<base64>` signatures separated by spaces; other versions are ignored.
pub fn parse_standard_signatures(value: &[u8]) -> Result<Vec<Vec<u8>>, SignatureError> {
    let value = text(value, STANDARD_SIGNATURE_HEADER)?;
    let signatures: Vec<Vec<u8>> = value
        .split_ascii_whitespace()
        .filter_map(|item| item.strip_prefix("v1,"))
        .filter_map(|encoded| BASE64.decode(encoded).ok())
        .collect();
    if signatures.is_empty() {
        return Err(SignatureError::Malformed(
            "webhook-signature has no v1, signature".into(),
        ));
    }
    Ok(signatures)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> Secret {
        Secret(s.to_owned())
    }

    fn mac_hex(key: &[u8], content: &[u8]) -> String {
        let mut mac = HmacSha256::new_from_slice(key).unwrap();
        mac.update(content);
        hex::encode(mac.finalize().into_bytes())
    }

    #[test]
    fn secrets_never_show_in_debug() {
        let v = Verifier::new(Scheme::Github, &[secret("hunter2hunter2")], 300).unwrap();
        let shown = format!("{v:?} {:?}", secret("hunter2hunter2"));
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn any_of_several_keys_and_signatures_passes() {
        let v = Verifier::new(Scheme::Stripe, &[secret("old"), secret("new")], 300).unwrap();
        let body = br#"{"id":"evt_1"}"#;
        let sig = mac_hex(b"new", b"1000.{\"id\":\"evt_1\"}");
        let header = format!("t=1000,v1={},v1={sig},v0=abc", "00".repeat(32));
        let headers: &[(&str, &[u8])] = &[("Stripe-Signature", header.as_bytes())];
        assert_eq!(v.verify(headers, body, 1100), Ok(()));
        assert!(matches!(
            v.verify(headers, body, 1400),
            Err(SignatureError::Expired { skew: 400, .. })
        ));
        assert!(matches!(
            v.verify(headers, b"{}", 1000),
            Err(SignatureError::Mismatch(_))
        ));
    }

    #[test]
    fn header_parsers_refuse_garbage_without_panicking() {
        assert!(parse_stripe(b"t=,v1=00").is_err());
        assert!(parse_stripe(b"v1=00").is_err());
        assert!(parse_stripe(b"t=99999999999999999999999,v1=00").is_err());
        assert!(parse_stripe(b"t=1,v0=00").is_err());
        assert!(parse_standard_signatures(b"v2,AAAA").is_err());
        assert!(parse_prefixed(b"sha256=zz", "sha256=", Encoding::Hex).is_err());
        assert!(parse_prefixed("é".as_bytes(), "sha256=", Encoding::Hex).is_err());
        assert!(parse_prefixed(b"\xff", "", Encoding::Base64).is_err());
        assert!(parse_timestamp(b"-5", "t").is_err());
    }

    #[test]
    fn standard_webhooks_secret_must_be_base64() {
        assert!(Verifier::new(Scheme::StandardWebhooks, &[secret("whsec_!!")], 300).is_err());
        assert!(Verifier::new(Scheme::StandardWebhooks, &[secret("whsec_AAAA")], 300).is_ok());
        assert!(Verifier::new(Scheme::Github, &[], 300).is_err());
    }

    #[test]
    fn standard_webhooks_secret_without_padding_is_the_same_key() {
        // "secret-key" is 10 bytes: base64 with "==" padding.
        let padded = Verifier::new(
            Scheme::StandardWebhooks,
            &[secret("whsec_c2VjcmV0LWtleQ==")],
            300,
        )
        .unwrap();
        let bare = Verifier::new(
            Scheme::StandardWebhooks,
            &[secret("whsec_c2VjcmV0LWtleQ")],
            300,
        )
        .unwrap();
        assert_eq!(padded.keys[0].0, b"secret-key");
        assert_eq!(bare.keys[0].0, b"secret-key");
    }

    #[test]
    fn shopify_signature_is_read_from_either_header_name() {
        let v = Verifier::new(Scheme::Shopify, &[secret("shpss_1")], 300).unwrap();
        let body = br#"{"id":1}"#;
        let mut mac = HmacSha256::new_from_slice(b"shpss_1").unwrap();
        mac.update(body);
        let sig = BASE64.encode(mac.finalize().into_bytes());
        for name in ["X-Shopify-Hmac-Sha256", "Shopify-Hmac-Sha256"] {
            let headers: &[(&str, &[u8])] = &[(name, sig.as_bytes())];
            assert_eq!(v.verify(headers, body, 0), Ok(()), "{name}");
        }
        let none: &[(&str, &[u8])] = &[];
        assert!(matches!(
            v.verify(none, body, 0),
            Err(SignatureError::Missing(_))
        ));
    }
}
