//! Parsers of the signature headers the named schemes read. Public so that the fuzz target
//! can reach them.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::keys::BASE64URL_LENIENT;
use super::{Encoding, STANDARD_SIGNATURE_HEADER, STRIPE_HEADER, SignatureError, text};

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
            Encoding::Base64url => "the signature is not base64url".to_owned(),
        })
    })
}

/// The bytes of an encoded signature.
pub(super) fn decode(encoded: &str, encoding: Encoding) -> Option<Vec<u8>> {
    match encoding {
        Encoding::Hex => hex::decode(encoded).ok(),
        Encoding::Base64 => BASE64.decode(encoded).ok(),
        Encoding::Base64url => BASE64URL_LENIENT.decode(encoded).ok(),
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
