//! Secrets as written in the config, and the key bytes they stand for.
//!
//! A base64 key is read the way the providers' reference libraries read it: with or without
//! its `=` padding, and with non-canonical trailing bits (the Standard Webhooks library pads
//! and decodes with Python's `base64.b64decode`, which ignores both). A secret that is not
//! in its scheme's encoding is refused at start, naming its key.

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use schemars::JsonSchema;
use serde::Deserialize;

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

/// Key material: an HMAC key, or the digest a shared secret is compared through. `Debug`
/// shows nothing of it.
#[derive(Clone)]
pub(super) struct Key(pub(super) Vec<u8>);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(<redacted>)")
    }
}

/// How a secret's text encodes the key bytes: its UTF-8 bytes are the key, or base64 of
/// it (padding optional), or hex.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum KeyEncoding {
    #[default]
    Utf8,
    Base64,
    Hex,
}

/// Standard base64 as the providers' libraries read it: padding optional, trailing bits
/// ignored.
pub(super) const BASE64_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// URL-safe base64, padding optional.
pub(super) const BASE64URL_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// The secrets of a setting, each with the key that holds it (`secret`, `secrets[0]`, ...).
pub(super) type Named<'s> = [(String, &'s Secret)];

/// The key bytes of `secret` (named `name` in errors): `prefix` removed when present, then
/// decoded.
pub(super) fn decode(
    name: &str,
    secret: &Secret,
    encoding: KeyEncoding,
    prefix: Option<&str>,
) -> Result<Key, String> {
    let text = secret.expose();
    let bare = prefix.and_then(|p| text.strip_prefix(p)).unwrap_or(text);
    // A text key is used exactly as given; an encoded one may have stray spaces.
    let bare = match encoding {
        KeyEncoding::Utf8 => bare,
        _ => bare.trim(),
    };
    if bare.is_empty() {
        return Err(format!(
            "{name} is empty; give the provider's signing secret"
        ));
    }
    let decoded = match encoding {
        KeyEncoding::Utf8 => Some(bare.as_bytes().to_vec()),
        KeyEncoding::Base64 => BASE64_LENIENT.decode(bare).ok(),
        KeyEncoding::Hex => hex::decode(bare).ok(),
    };
    let expected = match encoding {
        KeyEncoding::Utf8 => "text",
        KeyEncoding::Base64 => "base64",
        KeyEncoding::Hex => "hex",
    };
    match decoded {
        Some(key) if !key.is_empty() => Ok(Key(key)),
        _ => Err(format!(
            "{name} is not {expected}{}; copy the secret exactly as the provider shows it",
            prefix.map(|p| format!(" after {p:?}")).unwrap_or_default()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(text: &str, encoding: KeyEncoding, prefix: Option<&str>) -> Result<Vec<u8>, String> {
        decode("secret", &Secret::new(text.into()), encoding, prefix).map(|k| k.0)
    }

    #[test]
    fn base64_keys_are_read_as_the_reference_libraries_read_them() {
        // standardwebhooks 1.3.0 (PyPI) reads this secret as these bytes: unpadded, and its
        // last character carries non-zero trailing bits.
        assert_eq!(
            hex::encode(
                key(
                    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS",
                    KeyEncoding::Base64,
                    Some("whsec_")
                )
                .unwrap()
            ),
            "31f290f6bf06298aab4f08d43c3f082cf648a362da2da4"
        );
        assert_eq!(
            key("c2VjcmV0LWtleQ==", KeyEncoding::Base64, None).unwrap(),
            b"secret-key"
        );
        assert_eq!(
            key("c2VjcmV0LWtleQ", KeyEncoding::Base64, None).unwrap(),
            b"secret-key"
        );
    }

    #[test]
    fn a_secret_in_the_wrong_encoding_is_refused_naming_its_key() {
        let e = decode(
            "secrets[1]",
            &Secret::new("whsec_!!".into()),
            KeyEncoding::Base64,
            Some("whsec_"),
        )
        .unwrap_err();
        assert!(
            e.starts_with("secrets[1] is not base64 after \"whsec_\""),
            "{e}"
        );
        let e = key("abcz", KeyEncoding::Hex, None).unwrap_err();
        assert!(e.starts_with("secret is not hex"), "{e}");
        assert!(key("", KeyEncoding::Utf8, None).is_err());
        assert!(key("whsec_", KeyEncoding::Base64, Some("whsec_")).is_err());
        assert_eq!(key("0aFF", KeyEncoding::Hex, None).unwrap(), [10, 255]);
        assert_eq!(key(" x ", KeyEncoding::Utf8, None).unwrap(), b" x ");
    }
}
