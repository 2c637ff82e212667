//! The `ed25519` kind: a provider's public key verifies an Ed25519 signature over a
//! `message` template (Discord: `X-Signature-Ed25519` over `{timestamp}{body}`), with
//! `ed25519-dalek`'s strict verification (no malleable or small-order signatures).
//!
//! Ed25519 hashes the message twice, so the parts are joined into one buffer first.

use ed25519_dalek::{Signature, VerifyingKey};

use super::template::{Template, Values, parse_time};
use super::{Encoding, HeaderSource, SignatureError, Signed, Verifier, parse_prefixed, require};

/// A validated `ed25519` scheme.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ed25519Scheme {
    /// Lower case.
    pub header: String,
    pub encoding: Encoding,
    pub message: Template,
    /// Lower case.
    pub timestamp_header: Option<String>,
    pub public_key: VerifyingKey,
}

/// The public key from its hex text; the error is the message after `signature: `.
pub fn public_key(hex_text: &str) -> Result<VerifyingKey, String> {
    let bytes: [u8; 32] = hex::decode(hex_text.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or(
            "public_key is not an Ed25519 public key: 64 hex digits, as the provider shows it",
        )?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| {
        "public_key is not a valid Ed25519 point; copy it again from the provider".into()
    })
}

impl Ed25519Scheme {
    /// Checks that what the template signs can be found.
    pub fn validate(&self) -> Result<(), String> {
        if self.message.uses_id() {
            return Err("scheme ed25519 has no id_header: remove {id} from message".into());
        }
        match (self.message.uses_timestamp(), &self.timestamp_header) {
            (true, None) => Err("message signs {timestamp}: set timestamp_header".into()),
            (false, Some(_)) => Err(
                "timestamp_header is set but message has no {timestamp}: add it where the \
                 provider signs it"
                    .into(),
            ),
            _ => Ok(()),
        }
    }
}

/// Verifies a delivery against an `ed25519` scheme.
pub(super) fn verify(
    v: &Verifier,
    scheme: &Ed25519Scheme,
    headers: &(impl HeaderSource + ?Sized),
    body: &[u8],
    signed: &Signed<'_>,
    now: i64,
) -> Result<(), SignatureError> {
    let value = require(headers, &scheme.header)?;
    let bytes = parse_prefixed(value, "", scheme.encoding)?;
    let signature = Signature::from_slice(&bytes).map_err(|_| {
        SignatureError::Malformed(format!("{} is not a 64-byte signature", scheme.header))
    })?;
    let timestamp = match &scheme.timestamp_header {
        Some(name) => Some(require(headers, name)?),
        None => None,
    };
    let when = timestamp
        .map(|t| parse_time(t, "the signed timestamp"))
        .transpose()?;
    let values = Values {
        body,
        timestamp,
        id: None,
        signed,
    };
    let message = scheme.message.resolve(headers, &values)?.concat();
    scheme
        .public_key
        .verify_strict(&message, &signature)
        .map_err(|_| SignatureError::Mismatch(scheme.header.clone()))?;
    match when {
        Some(when) => v.check_time(when, now),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::Scheme;
    use super::*;

    fn scheme(public: &str, message: &str, timestamp_header: Option<&str>) -> Verifier {
        let scheme = Ed25519Scheme {
            header: "x-signature-ed25519".into(),
            encoding: Encoding::Hex,
            message: Template::parse(message).unwrap(),
            timestamp_header: timestamp_header.map(str::to_owned),
            public_key: public_key(public).unwrap(),
        };
        scheme.validate().unwrap();
        Verifier::new(Scheme::Ed25519(Box::new(scheme)), &[], 300).unwrap()
    }

    /// RFC 8032 section 7.1, tests 1 and 2.
    #[test]
    fn rfc8032_vectors_verify_and_a_changed_byte_does_not() {
        let v = scheme(
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
            "{body}",
            None,
        );
        let sig = "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b";
        let headers = [("X-Signature-Ed25519", sig.as_bytes())];
        assert_eq!(v.verify(&headers[..], b"", 0), Ok(()));
        assert!(matches!(
            v.verify(&headers[..], b"\0", 0),
            Err(SignatureError::Mismatch(_))
        ));
        let v = scheme(
            "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
            "{body}",
            None,
        );
        let sig = "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00";
        let headers = [("X-Signature-Ed25519", sig.as_bytes())];
        assert_eq!(v.verify(&headers[..], &[0x72], 0), Ok(()));
        assert!(v.verify(&headers[..], &[0x73], 0).is_err());
    }

    #[test]
    fn a_signed_timestamp_is_part_of_the_message_and_checked() {
        use ed25519_dalek::{Signer, SigningKey};
        let key = SigningKey::from_bytes(&[7; 32]);
        let public = hex::encode(key.verifying_key().as_bytes());
        let v = scheme(&public, "{timestamp}{body}", Some("X-Signature-Timestamp"));
        let body = br#"{"type":1}"#;
        let sig = hex::encode(key.sign(&[b"1700000000", &body[..]].concat()).to_bytes());
        let headers = [
            ("X-Signature-Ed25519", sig.as_bytes()),
            ("X-Signature-Timestamp", &b"1700000000"[..]),
        ];
        assert_eq!(v.verify(&headers[..], body, 1_700_000_100), Ok(()));
        assert!(matches!(
            v.verify(&headers[..], body, 1_700_000_400),
            Err(SignatureError::Expired { .. })
        ));
        assert!(public_key("abcd").is_err());
        assert!(public_key(&"zz".repeat(32)).is_err());
    }
}
