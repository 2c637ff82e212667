//! The `signature` setting as written, and its validation into a [`Verifier`].

use schemars::JsonSchema;
use serde::Deserialize;

use super::ed25519::{self, Ed25519Scheme};
use super::hmac::{Algorithm, Format, HmacScheme, Pairs};
use super::keys::{KeyEncoding, Secret};
use super::template::Template;
use super::{Encoding, Scheme, Verifier};

/// The `scheme` of the `signature` setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SchemeName {
    /// Any HMAC, described by `header`, `algorithm`, `encoding`, `prefix`, `key_encoding`,
    /// `message`, `timestamp_header`, `id_header` and `format`.
    Hmac,
    /// The secret itself in `header` (after `prefix`), compared in constant time.
    Header,
    /// HTTP Basic credentials (`username`, `password`) in `Authorization`; the webhook token
    /// then goes in the URL path.
    Basic,
    /// An Ed25519 signature (hex) in `header` over `message`, checked with `public_key`.
    Ed25519,
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
    /// `additionalData.hmacSignature` in each notification item: base64 HMAC-SHA256 under a
    /// hex key of the item's payment fields.
    Adyen,
    /// `X-Mandrill-Signature: <base64>` HMAC-SHA1 over the URL and the form fields sorted by name.
    Mandrill,
    /// Microsoft Graph: every notification's `clientState` equals the secret.
    MicrosoftGraph,
    /// AWS SNS: RSA signature of the message under the certificate in `public_key` (PEM).
    Sns,
}

/// The `signature` setting.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignatureSetting {
    /// The provider's signing scheme: `hmac`, `header`, `basic` or `ed25519` for any sender,
    /// or a named provider scheme.
    pub scheme: SchemeName,
    /// The provider's signing secret (Standard Webhooks: `whsec_...`).
    #[serde(default)]
    #[schemars(extend("secret" = true, "writeOnly" = true))]
    pub secret: Option<Secret>,
    /// Several secrets, any of which may sign: for rotating the secret without downtime.
    #[serde(default)]
    #[schemars(extend("secret" = true, "writeOnly" = true))]
    pub secrets: Vec<Secret>,
    /// Schemes with a signed timestamp: largest accepted distance between it and now, in
    /// seconds (replay protection).
    #[serde(default = "default_tolerance_seconds")]
    pub tolerance_seconds: u64,
    /// `hmac`, `hmac-sha256`, `header`, `ed25519`: the header carrying the signature (or, for
    /// `header`, the secret).
    #[serde(default)]
    pub header: Option<String>,
    /// `hmac` (format plain), `hmac-sha256`, `header`: text before the signature or secret,
    /// such as `sha256=`; default none.
    #[serde(default)]
    pub prefix: Option<String>,
    /// `hmac`, `hmac-sha256`, `ed25519`: how the signature is encoded, `hex` (default),
    /// `base64` or `base64url`.
    #[serde(default)]
    pub encoding: Option<Encoding>,
    /// `hmac`: the hash, `sha1`, `sha256` (default) or `sha512`.
    #[serde(default)]
    pub algorithm: Option<Algorithm>,
    /// `hmac`: how the secret's text encodes the key, `utf8` (default), `base64` or `hex`.
    #[serde(default)]
    pub key_encoding: Option<KeyEncoding>,
    /// `hmac`: text removed from the start of each secret before decoding, when present
    /// (`whsec_`).
    #[serde(default)]
    pub key_prefix: Option<String>,
    /// `hmac`, `ed25519`: what is signed, a template over {body}, {timestamp}, {id},
    /// {method}, {url} (`public_url` + path + query), {header:Name} and {query:Name};
    /// everything else is literal. Default `{body}`.
    #[serde(default)]
    pub message: Option<String>,
    /// `hmac`, `ed25519`: the header holding {timestamp} (Unix seconds or milliseconds, or
    /// RFC 3339), checked against `tolerance_seconds`.
    #[serde(default)]
    pub timestamp_header: Option<String>,
    /// `hmac`: a top-level field of the JSON body holding the time of sending (Unix seconds or
    /// milliseconds, or RFC 3339), checked against `tolerance_seconds` once the signature
    /// matches: for senders that sign only the body and put the time inside it (Linear's
    /// `webhookTimestamp`).
    #[serde(default)]
    pub timestamp_field: Option<String>,
    /// `hmac`: the header holding {id}.
    #[serde(default)]
    pub id_header: Option<String>,
    /// `hmac`: `plain` (default: `prefix` + the encoded MAC) or `pairs` (a list of
    /// `name=value` items, read as `pairs` says).
    #[serde(default)]
    pub format: Option<Format>,
    /// `hmac` with format `pairs`: the items' `separator` (`,`), `assign` (`=`), the
    /// `timestamp` item's name (none) and the `signature` items' name (`v1`).
    #[serde(default)]
    pub pairs: Option<Pairs>,
    /// `basic`: the user name the sender sends.
    #[serde(default)]
    pub username: Option<String>,
    /// `basic`: the password the sender sends.
    #[serde(default)]
    #[schemars(extend("secret" = true, "writeOnly" = true))]
    pub password: Option<Secret>,
    /// `sendgrid`: the Verification Key SendGrid shows (base64); `ed25519`: the provider's
    /// public key (hex); `sns`: the PEM certificate from `SigningCertURL` (several PEM blocks
    /// during a rotation). Instead of a secret.
    #[serde(default)]
    pub public_key: Option<String>,
}

fn default_tolerance_seconds() -> u64 {
    300
}

/// Which schemes each optional key applies to.
const APPLIES: [(&str, &[SchemeName]); 15] = {
    use SchemeName::*;
    [
        ("header", &[Hmac, HmacSha256, Header, Ed25519]),
        ("prefix", &[Hmac, HmacSha256, Header]),
        ("encoding", &[Hmac, HmacSha256, Ed25519]),
        ("algorithm", &[Hmac]),
        ("key_encoding", &[Hmac]),
        ("key_prefix", &[Hmac]),
        ("message", &[Hmac, Ed25519]),
        ("timestamp_header", &[Hmac, Ed25519]),
        ("timestamp_field", &[Hmac]),
        ("id_header", &[Hmac]),
        ("format", &[Hmac]),
        ("pairs", &[Hmac]),
        ("username", &[Basic]),
        ("password", &[Basic]),
        ("public_key", &[Ed25519, Sns, Sendgrid]),
    ]
};

impl SchemeName {
    /// The key that holds what verifies this scheme's deliveries: `public_key` or `password`
    /// where the scheme takes one of those (as [`APPLIES`] says), else `secret`.
    pub fn credential(self) -> &'static str {
        ["public_key", "password"]
            .into_iter()
            .find(|key| {
                APPLIES
                    .iter()
                    .any(|(applies, schemes)| applies == key && schemes.contains(&self))
            })
            .unwrap_or("secret")
    }

    /// The name as written in the config.
    pub fn name(self) -> &'static str {
        match self {
            SchemeName::Hmac => "hmac",
            SchemeName::Header => "header",
            SchemeName::Basic => "basic",
            SchemeName::Ed25519 => "ed25519",
            SchemeName::Github => "github",
            SchemeName::Stripe => "stripe",
            SchemeName::Shopify => "shopify",
            SchemeName::Slack => "slack",
            SchemeName::StandardWebhooks => "standard-webhooks",
            SchemeName::HmacSha256 => "hmac-sha256",
            SchemeName::Twilio => "twilio",
            SchemeName::Zoom => "zoom",
            SchemeName::Mailgun => "mailgun",
            SchemeName::Sendgrid => "sendgrid",
            SchemeName::Adyen => "adyen",
            SchemeName::Mandrill => "mandrill",
            SchemeName::MicrosoftGraph => "microsoft-graph",
            SchemeName::Sns => "sns",
        }
    }
}

impl SignatureSetting {
    /// The header whose value is a credential (never journaled or captured as sent).
    pub fn credential_header(&self) -> Option<&str> {
        match self.scheme {
            SchemeName::Hmac
            | SchemeName::HmacSha256
            | SchemeName::Header
            | SchemeName::Ed25519 => self.header.as_deref(),
            _ => None,
        }
    }

    /// Validates the setting into a verifier; the error is the message after `signature: `.
    pub fn verifier(self) -> Result<Verifier, String> {
        self.check_keys()?;
        let scheme = self.scheme()?;
        let mut named: Vec<(String, &Secret)> = Vec::new();
        named.extend(self.secret.iter().map(|s| ("secret".to_owned(), s)));
        named.extend(
            self.secrets
                .iter()
                .enumerate()
                .map(|(i, s)| (format!("secrets[{i}]"), s)),
        );
        let basic;
        match self.scheme {
            SchemeName::Sendgrid | SchemeName::Sns | SchemeName::Ed25519 | SchemeName::Basic
                if !named.is_empty() =>
            {
                let instead = match self.scheme {
                    SchemeName::Basic => "`username` and `password`",
                    _ => "`public_key`",
                };
                return Err(format!(
                    "scheme {} verifies with {instead}, not a secret",
                    scheme.name()
                ));
            }
            SchemeName::Sendgrid | SchemeName::Sns => {
                let key = self.public_key.map(Secret::new);
                return Verifier::new(scheme, key.as_slice(), self.tolerance_seconds);
            }
            SchemeName::Basic => {
                basic = self.basic_credentials()?;
                named.push(("password".to_owned(), &basic));
            }
            _ => {}
        }
        Verifier::with_named(scheme, &named, self.tolerance_seconds)
    }

    /// Refuses keys that do not apply to the scheme.
    fn check_keys(&self) -> Result<(), String> {
        let set = [
            self.header.is_some(),
            self.prefix.is_some(),
            self.encoding.is_some(),
            self.algorithm.is_some(),
            self.key_encoding.is_some(),
            self.key_prefix.is_some(),
            self.message.is_some(),
            self.timestamp_header.is_some(),
            self.timestamp_field.is_some(),
            self.id_header.is_some(),
            self.format.is_some(),
            self.pairs.is_some(),
            self.username.is_some(),
            self.password.is_some(),
            self.public_key.is_some(),
        ];
        for ((key, schemes), set) in APPLIES.iter().zip(set) {
            if set && !schemes.contains(&self.scheme) {
                let names: Vec<&str> = schemes.iter().map(|s| s.name()).collect();
                let schemes = match names.split_last() {
                    Some((last, [])) => format!("scheme {last}"),
                    Some((last, rest)) => format!("schemes {} and {last}", rest.join(", ")),
                    None => "no scheme".into(),
                };
                return Err(format!(
                    "{key} applies to {schemes} only; remove it ({} does not use it)",
                    self.scheme.name()
                ));
            }
        }
        Ok(())
    }

    /// The scheme with its parameters.
    fn scheme(&self) -> Result<Scheme, String> {
        Ok(match self.scheme {
            SchemeName::Github => Scheme::Github,
            SchemeName::Stripe => Scheme::Stripe,
            SchemeName::Shopify => Scheme::Shopify,
            SchemeName::Slack => Scheme::Slack,
            SchemeName::StandardWebhooks => Scheme::StandardWebhooks,
            SchemeName::Twilio => Scheme::Twilio,
            SchemeName::Zoom => Scheme::Zoom,
            SchemeName::Mailgun => Scheme::Mailgun,
            SchemeName::MicrosoftGraph => Scheme::MicrosoftGraph,
            SchemeName::Sns => Scheme::Sns,
            SchemeName::Sendgrid => Scheme::Sendgrid,
            SchemeName::Adyen => Scheme::Adyen,
            SchemeName::Mandrill => Scheme::Mandrill,
            SchemeName::Basic => Scheme::Basic,
            SchemeName::HmacSha256 => Scheme::Generic {
                header: self.header_name()?,
                prefix: self.prefix.clone().unwrap_or_default(),
                encoding: self.encoding.unwrap_or_default(),
            },
            SchemeName::Header => Scheme::Header {
                header: self.header_name()?,
                prefix: self.prefix.clone().unwrap_or_default(),
            },
            SchemeName::Hmac => Scheme::Hmac(Box::new(self.hmac()?)),
            SchemeName::Ed25519 => Scheme::Ed25519(Box::new(self.ed25519()?)),
        })
    }

    fn hmac(&self) -> Result<HmacScheme, String> {
        let pairs = match (self.format.unwrap_or_default(), &self.pairs) {
            (Format::Plain, None) => None,
            (Format::Plain, Some(_)) => {
                return Err("pairs applies to format pairs; set \"format\": \"pairs\"".into());
            }
            (Format::Pairs, pairs) => Some(pairs.clone().unwrap_or_default()),
        };
        let scheme = HmacScheme {
            header: self.header_name()?,
            algorithm: self.algorithm.unwrap_or_default(),
            encoding: self.encoding.unwrap_or_default(),
            prefix: self.prefix.clone().unwrap_or_default(),
            key_encoding: self.key_encoding.unwrap_or_default(),
            key_prefix: self.key_prefix.clone(),
            message: self.template()?,
            timestamp_header: optional_header("timestamp_header", &self.timestamp_header)?,
            timestamp_field: self.timestamp_field.clone(),
            id_header: optional_header("id_header", &self.id_header)?,
            pairs,
        };
        scheme.validate()?;
        Ok(scheme)
    }

    fn ed25519(&self) -> Result<Ed25519Scheme, String> {
        let public_key = self
            .public_key
            .as_deref()
            .ok_or("scheme ed25519 needs `public_key`, the provider's public key (hex)")?;
        let scheme = Ed25519Scheme {
            header: self.header_name()?,
            encoding: self.encoding.unwrap_or_default(),
            message: self.template()?,
            timestamp_header: optional_header("timestamp_header", &self.timestamp_header)?,
            public_key: ed25519::public_key(public_key)?,
        };
        scheme.validate()?;
        Ok(scheme)
    }

    fn template(&self) -> Result<Template, String> {
        match &self.message {
            None => Ok(Template::body()),
            Some(text) => Template::parse(text).map_err(|e| format!("message: {e}")),
        }
    }

    /// `username:password`, as HTTP Basic sends them.
    fn basic_credentials(&self) -> Result<Secret, String> {
        let (Some(username), Some(password)) = (&self.username, &self.password) else {
            return Err(
                "scheme basic needs `username` and `password`, the credentials the \
                 sender is set to send"
                    .into(),
            );
        };
        if username.is_empty() || username.contains(':') {
            return Err("username must be non-empty and without ':' (HTTP Basic)".into());
        }
        if password.expose().is_empty() {
            return Err("password is empty".into());
        }
        Ok(Secret::new(format!("{username}:{}", password.expose())))
    }

    /// `header`, required, lower case.
    fn header_name(&self) -> Result<String, String> {
        let header = self.header.as_ref().ok_or_else(|| {
            format!(
                "scheme {} needs `header`, the header carrying the signature",
                self.scheme.name()
            )
        })?;
        optional_header("header", &Some(header.clone())).map(|h| h.unwrap_or_default())
    }
}

/// A header name setting, lower case.
fn optional_header(key: &str, name: &Option<String>) -> Result<Option<String>, String> {
    match name {
        None => Ok(None),
        Some(name) if http::HeaderName::from_bytes(name.as_bytes()).is_ok() => {
            Ok(Some(name.to_ascii_lowercase()))
        }
        Some(name) => Err(format!("{key}: {name:?} is not a header name")),
    }
}

/// The secrets named as in the config when none is given a name: `secrets[i]`.
pub(super) fn unnamed(secrets: &[Secret]) -> Vec<(String, &Secret)> {
    secrets
        .iter()
        .enumerate()
        .map(|(i, s)| (format!("secrets[{i}]"), s))
        .collect()
}
