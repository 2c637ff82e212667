//! The `hmac` kind: any provider's HMAC described as data (algorithm, encoding, what is
//! signed, where the signature and its timestamp are).
//!
//! Keys are turned into keyed MAC states once at start; a delivery clones one per key and
//! feeds it the template's parts in order.

use ::hmac::{Hmac, KeyInit, Mac};
use schemars::JsonSchema;
use serde::Deserialize;
use sha1::Sha1;
use sha2::{Sha256, Sha512};
use subtle::{Choice, ConstantTimeEq};

use super::keys::{Key, KeyEncoding};
use super::template::{Template, Values, parse_time};
use super::{
    Encoding, HeaderSource, SignatureError, Signed, Verifier, decode, parse_prefixed, require, text,
};

/// The hash of an `hmac` scheme.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    Sha1,
    #[default]
    Sha256,
    Sha512,
}

/// How the signature header is laid out: `prefix` followed by the encoded MAC, or a list of
/// `name=value` items (see `pairs`) such as `t=1,v1=ab`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    #[default]
    Plain,
    Pairs,
}

/// How `"format": "pairs"` reads the signature header.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Pairs {
    /// Between items (each item is trimmed); default `,`.
    #[serde(default = "comma")]
    pub separator: String,
    /// Between an item's name and its value; default `=`.
    #[serde(default = "equals")]
    pub assign: String,
    /// The name of the item holding the signed timestamp (`t`), if there is one.
    #[serde(default)]
    pub timestamp: Option<String>,
    /// The name of the items holding signatures; default `v1`. Every one is tried.
    #[serde(default = "v1")]
    pub signature: String,
}

fn comma() -> String {
    ",".into()
}
fn equals() -> String {
    "=".into()
}
fn v1() -> String {
    "v1".into()
}

impl Default for Pairs {
    fn default() -> Self {
        Pairs {
            separator: comma(),
            assign: equals(),
            timestamp: None,
            signature: v1(),
        }
    }
}

/// A validated `hmac` scheme.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HmacScheme {
    /// Lower case.
    pub header: String,
    pub algorithm: Algorithm,
    pub encoding: Encoding,
    pub prefix: String,
    pub key_encoding: KeyEncoding,
    pub key_prefix: Option<String>,
    pub message: Template,
    /// Lower case.
    pub timestamp_header: Option<String>,
    /// A top-level body field holding the time of sending (signed as part of the body).
    pub timestamp_field: Option<String>,
    /// Lower case.
    pub id_header: Option<String>,
    /// `None`: plain.
    pub pairs: Option<Pairs>,
}

impl HmacScheme {
    /// Checks that what the template signs can be found; the error is the message after
    /// `signature: `.
    pub fn validate(&self) -> Result<(), String> {
        let pair_time = self.pairs.as_ref().and_then(|p| p.timestamp.as_ref());
        match (
            self.message.uses_timestamp(),
            &self.timestamp_header,
            pair_time,
        ) {
            (_, Some(_), Some(_)) => {
                return Err("set timestamp_header or pairs.timestamp, not both".into());
            }
            (true, None, None) => {
                return Err("message signs {timestamp}: set timestamp_header (or, with \
                     format pairs, pairs.timestamp)"
                    .into());
            }
            (false, Some(_), _) => {
                return Err(
                    "timestamp_header is set but message has no {timestamp}: add it where the \
                     provider signs it"
                        .into(),
                );
            }
            _ => {}
        }
        if self.timestamp_field.is_some()
            && (self.timestamp_header.is_some() || pair_time.is_some())
        {
            return Err(
                "timestamp_field is for a time inside the body: leave out timestamp_header \
                 and pairs.timestamp"
                    .into(),
            );
        }
        match (self.message.uses_id(), &self.id_header) {
            (true, None) => return Err("message signs {id}: set id_header".into()),
            (false, Some(_)) => {
                return Err(
                    "id_header is set but message has no {id}: add it where the \
                     provider signs it"
                        .into(),
                );
            }
            _ => {}
        }
        if let Some(pairs) = &self.pairs {
            if pairs.separator.is_empty() || pairs.assign.is_empty() {
                return Err("pairs: separator and assign must not be empty".into());
            }
            if !self.prefix.is_empty() {
                return Err(
                    "prefix applies to format plain; with pairs, the signature item's \
                     name is pairs.signature"
                        .into(),
                );
            }
        }
        Ok(())
    }

    /// Whether a timestamp is signed (and so checked against the tolerance).
    pub fn timestamped(&self) -> bool {
        self.message.uses_timestamp()
            || self.pairs.as_ref().is_some_and(|p| p.timestamp.is_some())
            || self.timestamp_field.is_some()
    }
}

/// A key's MAC state after the key, cloned for each delivery.
#[derive(Clone)]
pub(super) enum Keyed {
    Sha1(Hmac<Sha1>),
    Sha256(Hmac<Sha256>),
    Sha512(Hmac<Sha512>),
}

impl std::fmt::Debug for Keyed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keyed(<redacted>)")
    }
}

impl Keyed {
    pub(super) fn new(algorithm: Algorithm, key: &Key) -> Keyed {
        const ANY: &str = "HMAC takes any key length";
        match algorithm {
            Algorithm::Sha1 => Keyed::Sha1(Hmac::new_from_slice(&key.0).expect(ANY)),
            Algorithm::Sha256 => Keyed::Sha256(Hmac::new_from_slice(&key.0).expect(ANY)),
            Algorithm::Sha512 => Keyed::Sha512(Hmac::new_from_slice(&key.0).expect(ANY)),
        }
    }

    /// Whether the MAC of `parts` is any of `signatures` (every one compared).
    pub(super) fn matches<P: AsRef<[u8]>>(&self, parts: &[P], signatures: &[Vec<u8>]) -> Choice {
        match self {
            Keyed::Sha1(mac) => compare(&mac_of(mac, parts), signatures),
            Keyed::Sha256(mac) => compare(&mac_of(mac, parts), signatures),
            Keyed::Sha512(mac) => compare(&mac_of(mac, parts), signatures),
        }
    }

    /// The MAC of `parts`.
    #[cfg(test)]
    pub(super) fn mac(&self, parts: &[&[u8]]) -> Vec<u8> {
        match self {
            Keyed::Sha1(mac) => mac_of(mac, parts).to_vec(),
            Keyed::Sha256(mac) => mac_of(mac, parts).to_vec(),
            Keyed::Sha512(mac) => mac_of(mac, parts).to_vec(),
        }
    }
}

fn mac_of<M: Mac + Clone, P: AsRef<[u8]>>(keyed: &M, parts: &[P]) -> ::hmac::digest::Output<M> {
    let mut mac = keyed.clone();
    for part in parts {
        mac.update(part.as_ref());
    }
    mac.finalize().into_bytes()
}

fn compare(expected: &[u8], signatures: &[Vec<u8>]) -> Choice {
    let mut matched = Choice::from(0);
    for signature in signatures {
        matched |= expected.ct_eq(signature);
    }
    matched
}

/// Verifies a delivery against an `hmac` scheme.
pub(super) fn verify(
    v: &Verifier,
    scheme: &HmacScheme,
    headers: &(impl HeaderSource + ?Sized),
    body: &[u8],
    signed: &Signed<'_>,
    now: i64,
) -> Result<(), SignatureError> {
    let value = require(headers, &scheme.header)?;
    let (signatures, pair_time) = match &scheme.pairs {
        None => (
            vec![parse_prefixed(value, &scheme.prefix, scheme.encoding)?],
            None,
        ),
        Some(pairs) => parse_pairs(value, pairs, scheme.encoding, &scheme.header)?,
    };
    let timestamp = match (&scheme.timestamp_header, pair_time) {
        (_, Some(text)) => Some(text),
        (Some(name), None) => Some(require(headers, name)?),
        (None, None) => None,
    };
    let when = match timestamp {
        Some(text) if scheme.timestamped() => Some(parse_time(text, "the signed timestamp")?),
        _ => None,
    };
    let id = match &scheme.id_header {
        Some(name) => Some(require(headers, name)?),
        None => None,
    };
    let values = Values {
        body,
        timestamp,
        id,
        signed,
    };
    let parts = scheme.message.resolve(headers, &values)?;
    let mut matched = Choice::from(0);
    for keyed in &v.keyed {
        matched |= keyed.matches(&parts, &signatures);
    }
    if !bool::from(matched) {
        return Err(SignatureError::Mismatch(scheme.header.clone()));
    }
    if let Some(field) = &scheme.timestamp_field {
        return v.check_time(body_time(body, field)?, now);
    }
    match when {
        Some(when) => v.check_time(when, now),
        None => Ok(()),
    }
}

/// The time in a top-level field of a JSON body (a number or a string).
fn body_time(body: &[u8], field: &str) -> Result<i64, SignatureError> {
    let missing = || SignatureError::Malformed(format!("the body has no {field} timestamp"));
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|_| missing())?;
    let text = match value.get(field).ok_or_else(missing)? {
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::String(s) => s.clone(),
        _ => return Err(missing()),
    };
    parse_time(text.as_bytes(), field)
}

/// The signatures in a header, and its timestamp's text.
type Found<'v> = (Vec<Vec<u8>>, Option<&'v [u8]>);

/// The signatures (and the timestamp, when named) of a header of `name<assign>value` items.
fn parse_pairs<'v>(
    value: &'v [u8],
    pairs: &Pairs,
    encoding: Encoding,
    header: &str,
) -> Result<Found<'v>, SignatureError> {
    let value = text(value, header)?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for item in value.split(pairs.separator.as_str()) {
        let Some((name, val)) = item.trim().split_once(pairs.assign.as_str()) else {
            continue;
        };
        let val = val.trim();
        if pairs.timestamp.as_deref() == Some(name.trim()) {
            timestamp = Some(val.as_bytes());
        } else if name.trim() == pairs.signature
            && let Some(signature) = decode(val, encoding)
        {
            signatures.push(signature);
        }
    }
    if signatures.is_empty() {
        return Err(SignatureError::Malformed(format!(
            "{header} has no {} signature",
            pairs.signature
        )));
    }
    if let (Some(name), None) = (&pairs.timestamp, timestamp) {
        return Err(SignatureError::Malformed(format!(
            "{header} has no {name} timestamp"
        )));
    }
    Ok((signatures, timestamp))
}
