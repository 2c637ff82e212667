//! Provider signatures. Any sender's scheme is described as data with the kinds `hmac` (an
//! HMAC over a `message` template, in [`hmac`]), `header` and `basic` (a shared secret, in
//! `shared`) and `ed25519`; the named schemes of GitHub, Stripe, Shopify, Slack and Standard
//! Webhooks are here, and Twilio, Zoom, Mailgun and SendGrid, whose schemes sign more than the
//! body, are in [`providers`].
//!
//! A [`Verifier`] is built once from the `signature` setting (`setting`). It holds one or more
//! keys (several during a secret rotation), checks every signature a header carries against
//! every key with constant-time comparisons, and for schemes with a timestamp refuses
//! deliveries outside the tolerance (replays). Keys never appear in `Debug` output or in errors.

mod adyen;
pub mod asana;
pub mod ed25519;
mod graph;
pub mod hmac;
mod keys;
mod mandrill;
mod parse;
mod providers;
mod setting;
mod shared;
mod sns;
pub mod template;

use schemars::JsonSchema;
use serde::Deserialize;
use subtle::Choice;

pub use keys::{KeyEncoding, Secret};
pub use parse::{
    StripeHeader, parse_prefixed, parse_standard_signatures, parse_stripe, parse_timestamp,
};
pub use setting::{SchemeName, SignatureSetting};

use keys::Key;
use parse::decode;

/// How a signature is encoded (`base64url`: URL-safe base64, padding optional).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    #[default]
    Hex,
    Base64,
    Base64url,
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
    Mandrill,
    Hmac(Box<hmac::HmacScheme>),
    Header {
        /// Lower case.
        header: String,
        prefix: String,
    },
    Basic,
    Ed25519(Box<ed25519::Ed25519Scheme>),
    Adyen,
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
            Scheme::Mandrill => "mandrill",
            Scheme::Hmac(_) => "hmac",
            Scheme::Header { .. } => "header",
            Scheme::Basic => "basic",
            Scheme::Ed25519(_) => "ed25519",
            Scheme::Adyen => "adyen",
            Scheme::MicrosoftGraph => "microsoft-graph",
            Scheme::Sns => "sns",
        }
    }

    /// Whether a timestamp is signed (a clock off makes valid deliveries fail).
    pub fn timestamped(&self) -> bool {
        match self {
            Scheme::Stripe
            | Scheme::Slack
            | Scheme::StandardWebhooks
            | Scheme::Zoom
            | Scheme::Mailgun
            | Scheme::Sendgrid
            | Scheme::Sns => true,
            Scheme::Hmac(h) => h.timestamped(),
            Scheme::Ed25519(e) => e.timestamp_header.is_some(),
            _ => false,
        }
    }

    /// Whether it signs the URL the provider called (the receiver then builds it).
    pub fn signs_url(&self) -> bool {
        match self {
            Scheme::Twilio | Scheme::Mandrill => true,
            Scheme::Hmac(h) => h.message.uses_url(),
            Scheme::Ed25519(e) => e.message.uses_url(),
            _ => false,
        }
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
    #[error("invalid signature: {0} does not hold the configured credentials")]
    WrongSecret(String),
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
    /// The keys as HMAC states after the key (the `hmac` kind's algorithm; SHA-256 for the
    /// named schemes), cloned for each delivery.
    keyed: Vec<hmac::Keyed>,
    /// SendGrid's public keys (its scheme has no secret).
    public_keys: Vec<providers::PublicKey>,
    /// AWS SNS's signing certificates (its scheme has no secret).
    certificates: Vec<sns::Certificate>,
    tolerance_seconds: u64,
}

/// What a scheme may sign besides the headers and the raw body.
#[derive(Clone, Copy, Debug, Default)]
pub struct Signed<'a> {
    /// The request method: `{method}` in a template.
    pub method: Option<&'a str>,
    /// The URL the provider called (`public_url` + path and query): Twilio and `{url}` sign
    /// it. Given when [`Scheme::signs_url`].
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
    /// A verifier for `scheme` with `secrets` (at least one; none for `ed25519`), named
    /// `secrets[i]` in errors.
    pub fn new(
        scheme: Scheme,
        secrets: &[Secret],
        tolerance_seconds: u64,
    ) -> Result<Verifier, String> {
        Self::with_named(scheme, &setting::unnamed(secrets), tolerance_seconds)
    }

    /// A verifier for `scheme` with secrets named as in the config (`secret`, `secrets[0]`).
    fn with_named(
        scheme: Scheme,
        secrets: &keys::Named<'_>,
        tolerance_seconds: u64,
    ) -> Result<Verifier, String> {
        let mut verifier = Verifier {
            scheme,
            keys: Vec::new(),
            keyed: Vec::new(),
            public_keys: Vec::new(),
            certificates: Vec::new(),
            tolerance_seconds,
        };
        match &verifier.scheme {
            Scheme::Sendgrid => {
                let texts: Vec<Secret> = secrets.iter().map(|(_, s)| (*s).clone()).collect();
                verifier.public_keys = providers::public_keys(&texts)?;
                return Ok(verifier);
            }
            Scheme::Sns => {
                let pem: Vec<&str> = secrets.iter().map(|(_, s)| s.expose()).collect();
                verifier.certificates = sns::certificates(&pem.concat())?;
                return Ok(verifier);
            }
            Scheme::Ed25519(_) => return Ok(verifier),
            _ if secrets.is_empty() => {
                return Err("give the provider's signing secret in `secret` (or `secrets`)".into());
            }
            _ => {}
        }
        for (name, secret) in secrets {
            let key = match &verifier.scheme {
                // Standard Webhooks secrets are `whsec_` + base64 of the key.
                Scheme::StandardWebhooks => {
                    keys::decode(name, secret, KeyEncoding::Base64, Some("whsec_"))?
                }
                Scheme::Hmac(h) => {
                    keys::decode(name, secret, h.key_encoding, h.key_prefix.as_deref())
                        .map_err(|e| format!("{e}, or set key_encoding to how it is written"))?
                }
                // Adyen shows its HMAC key as hex.
                Scheme::Adyen => keys::decode(name, secret, KeyEncoding::Hex, None)?,
                Scheme::Header { .. } | Scheme::Basic => {
                    let key = keys::decode(name, secret, KeyEncoding::Utf8, None)?;
                    shared::digest(&key.0)
                }
                _ => keys::decode(name, secret, KeyEncoding::Utf8, None)?,
            };
            // The MAC states after the key, made once here: the hmac kind's algorithm, and
            // HMAC-SHA256 for the named schemes (`check`).
            match &verifier.scheme {
                Scheme::Hmac(h) => verifier.keyed.push(hmac::Keyed::new(h.algorithm, &key)),
                Scheme::Header { .. } | Scheme::Basic => {}
                _ => verifier
                    .keyed
                    .push(hmac::Keyed::new(hmac::Algorithm::Sha256, &key)),
            }
            verifier.keys.push(key);
        }
        Ok(verifier)
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
            Scheme::Mandrill => mandrill::mandrill(self, headers, body, signed),
            Scheme::Hmac(scheme) => hmac::verify(self, scheme, headers, body, signed, now),
            Scheme::Header { header, prefix } => shared::header(self, headers, header, prefix),
            Scheme::Basic => shared::basic(self, headers),
            Scheme::Adyen => adyen::verify(self, signed.json.unwrap_or(body)),
            Scheme::Ed25519(scheme) => ed25519::verify(self, scheme, headers, body, signed, now),
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
        for keyed in &self.keyed {
            matched |= keyed.matches(content, signatures);
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

#[cfg(test)]
mod tests;
