//! Schemes that sign more than the body: Twilio (the URL and the form fields, HMAC-SHA1),
//! Zoom (Slack-like, its own headers), Mailgun (fields in the body), SendGrid (ECDSA P-256,
//! RustCrypto's `p256`). Same guarantees as the others: every key and signature compared in
//! constant time, and a timestamp outside the tolerance refused.

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use p256::ecdsa::signature::MultipartVerifier;
use p256::ecdsa::{DerSignature, VerifyingKey};
use p256::pkcs8::DecodePublicKey;
use serde::Deserialize;
use serde_json::Value;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};

use super::keys::BASE64_LENIENT;
use super::{
    Encoding, HeaderSource, SignatureError, Signed, Verifier, parse_prefixed, parse_timestamp,
    require,
};

pub const TWILIO_HEADER: &str = "x-twilio-signature";
pub const ZOOM_SIGNATURE_HEADER: &str = "x-zm-signature";
pub const ZOOM_TIMESTAMP_HEADER: &str = "x-zm-request-timestamp";
pub const SENDGRID_SIGNATURE_HEADER: &str = "x-twilio-email-event-webhook-signature";
pub const SENDGRID_TIMESTAMP_HEADER: &str = "x-twilio-email-event-webhook-timestamp";

/// A SendGrid verification key. `Debug` shows no key material (it is public, but long).
#[derive(Clone)]
pub struct PublicKey(VerifyingKey);

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PublicKey(P-256)")
    }
}

/// SendGrid's "Verification Key": base64 of a DER SubjectPublicKeyInfo (a PEM block works too).
pub fn public_keys(texts: &[super::Secret]) -> Result<Vec<PublicKey>, String> {
    if texts.is_empty() {
        return Err(
            "scheme sendgrid needs `public_key`, the Verification Key SendGrid shows".into(),
        );
    }
    texts
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let bare: String = text
                .expose()
                .lines()
                .filter(|l| !l.starts_with("-----"))
                .flat_map(|l| l.chars())
                .filter(|c| !c.is_whitespace())
                .collect();
            let der = BASE64_LENIENT
                .decode(bare)
                .map_err(|_| format!("public key {} is not base64", i + 1))?;
            VerifyingKey::from_public_key_der(&der)
                .map(PublicKey)
                .map_err(|_| format!("public key {} is not a P-256 public key (DER SPKI)", i + 1))
        })
        .collect()
}

/// The base64 signature in `header` and the URL the provider called (Twilio, Mandrill).
pub(super) fn signature_and_url<'s>(
    headers: &(impl HeaderSource + ?Sized),
    header: &str,
    signed: &Signed<'s>,
) -> Result<(Vec<u8>, &'s str), SignatureError> {
    let value = require(headers, header)?;
    let signature = parse_prefixed(value, "", Encoding::Base64)?;
    let url = signed
        .url
        .ok_or_else(|| SignatureError::Malformed("the request URL is unknown".into()))?;
    Ok((signature, url))
}

/// Whether `signature` is the HMAC-SHA1, under any key, of one of `urls` followed by each
/// field's name and value, in the order given (Twilio, Mandrill). Every pair is compared.
pub(super) fn url_and_fields_match(
    v: &Verifier,
    urls: &[&str],
    fields: &[crate::convert::media::form::Pair<'_>],
    signature: &[u8],
) -> Choice {
    let mut tail = Vec::new();
    for (name, value) in fields {
        tail.extend_from_slice(name.as_bytes());
        tail.extend_from_slice(value.as_bytes());
    }
    let mut matched = Choice::from(0);
    for key in &v.keys {
        for url in urls {
            let mut mac = Hmac::<Sha1>::new_from_slice(&key.0).expect("HMAC takes any key length");
            mac.update(url.as_bytes());
            mac.update(&tail);
            matched |= mac.finalize().into_bytes().as_slice().ct_eq(signature);
        }
    }
    matched
}

/// Twilio: base64 HMAC-SHA1 of the URL followed by each form field's name and value, sorted
/// (names, then a name's values), as Twilio's libraries compute it. The URL is tried with and
/// without its port, as they do. A JSON body is signed through the URL's `bodySHA256`.
pub(super) fn twilio(
    v: &Verifier,
    headers: &(impl HeaderSource + ?Sized),
    body: &[u8],
    signed: &Signed<'_>,
) -> Result<(), SignatureError> {
    let (signature, url) = signature_and_url(headers, TWILIO_HEADER, signed)?;
    let body_hash = query_value(url, "bodySHA256");
    let mut fields: Vec<crate::convert::media::form::Pair<'_>> = match (&body_hash, signed.form) {
        (None, true) => crate::convert::media::form::pairs(body)
            .map_err(|e| SignatureError::Malformed(e.to_string()))?,
        _ => Vec::new(),
    };
    fields.sort();
    fields.dedup();
    let (without_port, with_port) = url_port_variants(url);
    let mut matched = url_and_fields_match(v, &[&without_port, &with_port], &fields, &signature);
    if let Some(expected) = body_hash {
        let actual = hex::encode(Sha256::digest(body));
        matched &= actual
            .as_bytes()
            .ct_eq(expected.to_ascii_lowercase().as_bytes());
    }
    if bool::from(matched) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch(TWILIO_HEADER.to_owned()))
    }
}

/// A query parameter's value (not decoded: Twilio's body hash is hex).
fn query_value<'u>(url: &'u str, name: &str) -> Option<&'u str> {
    let query = url.split_once('?')?.1;
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

/// The URL without its port, and with it (the scheme's default when it has none).
fn url_port_variants(url: &str) -> (String, String) {
    let Some((scheme, rest)) = url.split_once("://") else {
        return (url.to_owned(), url.to_owned());
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let port_at = match authority.rfind(':') {
        Some(i) if !authority[i..].contains(']') => Some(i),
        _ => None,
    };
    let host = port_at.map_or(authority, |i| &authority[..i]);
    let with_port = match port_at {
        Some(_) => url.to_owned(),
        None => {
            let port = if scheme.eq_ignore_ascii_case("https") {
                443
            } else {
                80
            };
            format!("{scheme}://{host}:{port}{tail}")
        }
    };
    (format!("{scheme}://{host}{tail}"), with_port)
}

/// Zoom: `x-zm-signature: v0=<hex>` over `v0:<x-zm-request-timestamp>:<body>`.
pub(super) fn zoom(
    v: &Verifier,
    headers: &(impl HeaderSource + ?Sized),
    body: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    let value = require(headers, ZOOM_SIGNATURE_HEADER)?;
    let timestamp_text = require(headers, ZOOM_TIMESTAMP_HEADER)?;
    let timestamp = parse_timestamp(timestamp_text, ZOOM_TIMESTAMP_HEADER)?;
    let signature = parse_prefixed(value, "v0=", Encoding::Hex)?;
    let mut prefix = b"v0:".to_vec();
    prefix.extend_from_slice(timestamp_text);
    prefix.push(b':');
    v.check(&[&prefix, body], &[signature], ZOOM_SIGNATURE_HEADER)?;
    v.check_time(seconds(timestamp), now)
}

/// A timestamp in seconds, or in milliseconds when it is too large to be seconds.
fn seconds(timestamp: i64) -> i64 {
    if timestamp > 100_000_000_000 {
        timestamp / 1000
    } else {
        timestamp
    }
}

/// Mailgun: hex HMAC-SHA256(key, timestamp + token), from the body's `signature` object
/// (webhooks, JSON) or its top-level `timestamp`, `token` and `signature` fields (routes, forms).
pub(super) fn mailgun(v: &Verifier, json: &[u8], now: i64) -> Result<(), SignatureError> {
    #[derive(Deserialize)]
    struct Fields {
        signature: Option<Value>,
        timestamp: Option<Value>,
        token: Option<Value>,
    }
    const WHERE: &str = "signature.timestamp, signature.token and signature.signature in the body";
    let missing = || SignatureError::Missing(WHERE.to_owned());
    let fields: Fields = serde_json::from_slice(json).map_err(|_| missing())?;
    let (timestamp, token, signature) = match fields.signature {
        Some(Value::Object(mut inner)) => (
            inner.remove("timestamp"),
            inner.remove("token"),
            inner.remove("signature"),
        ),
        signature => (fields.timestamp, fields.token, signature),
    };
    let text = |v: Option<Value>| match v {
        Some(Value::String(s)) => Some(s),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let (timestamp, token, signature) = (
        text(timestamp).ok_or_else(missing)?,
        text(token).ok_or_else(missing)?,
        text(signature).ok_or_else(missing)?,
    );
    let when = parse_timestamp(timestamp.as_bytes(), "signature.timestamp")?;
    let signature = hex::decode(signature.trim())
        .map_err(|_| SignatureError::Malformed("signature.signature is not hex".into()))?;
    v.check(
        &[timestamp.as_bytes(), token.as_bytes()],
        &[signature],
        "signature.signature",
    )?;
    v.check_time(when, now)
}

/// SendGrid: ECDSA P-256 with SHA-256 over the timestamp header's text followed by the body.
pub(super) fn sendgrid(
    v: &Verifier,
    headers: &(impl HeaderSource + ?Sized),
    body: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    let value = require(headers, SENDGRID_SIGNATURE_HEADER)?;
    let timestamp_text = require(headers, SENDGRID_TIMESTAMP_HEADER)?;
    let timestamp = parse_timestamp(timestamp_text, SENDGRID_TIMESTAMP_HEADER)?;
    let der = parse_prefixed(value, "", Encoding::Base64)?;
    let signature = DerSignature::from_bytes(&der).map_err(|_| {
        SignatureError::Malformed(format!(
            "{SENDGRID_SIGNATURE_HEADER} is not a DER signature"
        ))
    })?;
    let mut ok = false;
    for key in &v.public_keys {
        ok |= key
            .0
            .multipart_verify(&[timestamp_text, body], &signature)
            .is_ok();
    }
    if !ok {
        return Err(SignatureError::Mismatch(
            SENDGRID_SIGNATURE_HEADER.to_owned(),
        ));
    }
    v.check_time(timestamp, now)
}

/// Verifies a delivery of a scheme that signs the URL (Twilio, Mandrill) under one secret:
/// the signature `sig` in `header`, over `(url, body, whether the body is a form)`.
#[cfg(test)]
pub(super) fn url_signed(
    scheme: super::Scheme,
    secret: &str,
    header: &str,
    (url, body, form): (&str, &[u8], bool),
    sig: &str,
) -> Result<(), SignatureError> {
    let v = Verifier::new(scheme, &[super::Secret::new(secret.into())], 300).expect("verifier");
    let headers: &[(&str, &[u8])] = &[(header, sig.as_bytes())];
    let signed = Signed {
        url: Some(url),
        form,
        ..Default::default()
    };
    v.verify_request(headers, body, &signed, 0)
}

#[cfg(test)]
mod tests {
    use super::super::{Scheme, Secret};
    use super::*;

    fn secret(s: &str) -> Secret {
        serde_json::from_value(Value::String(s.to_owned())).unwrap()
    }

    /// twilio-python's tests/unit/test_request_validator.py: token "12345".
    const TWILIO_URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";
    const TWILIO_FORM: &[u8] =
        b"CallSid=CA1234567890ABCDE&Digits=1234&From=%2B14158675309&To=%2B18005551212&Caller=%2B14158675309";

    fn twilio_check(url: &str, body: &[u8], form: bool, sig: &str) -> Result<(), SignatureError> {
        url_signed(
            Scheme::Twilio,
            "12345",
            "X-Twilio-Signature",
            (url, body, form),
            sig,
        )
    }

    #[test]
    fn twilio_vectors_from_its_python_library_verify() {
        assert_eq!(
            twilio_check(
                TWILIO_URL,
                TWILIO_FORM,
                true,
                "RSOYDt4T1cUTdK1PDd93/VVr8B8="
            ),
            Ok(())
        );
        // Repeated fields: sorted values.
        assert_eq!(
            twilio_check(
                TWILIO_URL,
                b"Sid=CA123&SidAccount=AC123&Digits=5678&Digits=1234",
                true,
                "IK+Dwps556ElfBT0I3Rgjkr1wJU="
            ),
            Ok(())
        );
        // Signed with the default port; called with another port, signed without.
        assert_eq!(
            twilio_check(
                TWILIO_URL,
                TWILIO_FORM,
                true,
                "kvajT1Ptam85bY51eRf/AJRuM3w="
            ),
            Ok(())
        );
        let with_port = TWILIO_URL.replace(".com", ".com:1234");
        assert_eq!(
            twilio_check(
                &with_port,
                TWILIO_FORM,
                true,
                "RSOYDt4T1cUTdK1PDd93/VVr8B8="
            ),
            Ok(())
        );
        let http = TWILIO_URL.replace("https", "http");
        assert_eq!(
            twilio_check(&http, TWILIO_FORM, true, "0ZXoZLH/DfblKGATFgpif+LLRf4="),
            Ok(())
        );
        // A JSON body signed through bodySHA256.
        let url = format!(
            "{TWILIO_URL}&bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
        );
        let body = br#"{"property": "value", "boolean": true}"#;
        assert_eq!(
            twilio_check(&url, body, false, "a9nBmqA0ju/hNViExpshrM61xv4="),
            Ok(())
        );
        assert!(twilio_check(&url, b"{}", false, "a9nBmqA0ju/hNViExpshrM61xv4=").is_err());
        // Tampered field, missing header.
        let tampered = [TWILIO_FORM, b"&Extra=1"].concat();
        assert!(matches!(
            twilio_check(TWILIO_URL, &tampered, true, "RSOYDt4T1cUTdK1PDd93/VVr8B8="),
            Err(SignatureError::Mismatch(_))
        ));
    }

    /// sendgrid-python's test/unit/test_eventwebhook.py.
    const SENDGRID_KEY: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g==";
    const SENDGRID_SIGNATURE: &str = "MEUCIGHQVtGj+Y3LkG9fLcxf3qfI10QysgDWmMOVmxG0u6ZUAiEAyBiXDWzM+uOe5W0JuG+luQAbPIqHh89M15TluLtEZtM=";
    const SENDGRID_BODY: &str = "[{\"email\":\"hello@world.com\",\"event\":\"dropped\",\"reason\":\"Bounced Address\",\"sg_event_id\":\"ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA\",\"sg_message_id\":\"LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0\",\"smtp-id\":\"<LRzXl_NHStOGhQ4kofSm_A@ismtpd0039p1iad1.sendgrid.net>\",\"timestamp\":1600112492}]\r\n";

    #[test]
    fn sendgrid_vector_from_its_python_library_verifies() {
        let v = Verifier::new(Scheme::Sendgrid, &[secret(SENDGRID_KEY)], 300).unwrap();
        let headers: &[(&str, &[u8])] = &[
            (
                "X-Twilio-Email-Event-Webhook-Signature",
                SENDGRID_SIGNATURE.as_bytes(),
            ),
            ("X-Twilio-Email-Event-Webhook-Timestamp", b"1600112502"),
        ];
        assert_eq!(
            v.verify(headers, SENDGRID_BODY.as_bytes(), 1600112600),
            Ok(())
        );
        assert!(matches!(
            v.verify(headers, b"payload", 1600112600),
            Err(SignatureError::Mismatch(_))
        ));
        assert!(matches!(
            v.verify(headers, SENDGRID_BODY.as_bytes(), 1600112502 + 301),
            Err(SignatureError::Expired { .. })
        ));
        let other = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEqTxd43gyp8IOEto2LdIfjRQrIbsd4SXZkLW6jDutdhXSJCWHw8REntlo7aNDthvj+y7GjUuFDb/R1NGe1OPzpA==";
        let v = Verifier::new(Scheme::Sendgrid, &[secret(other)], 300).unwrap();
        assert!(
            v.verify(headers, SENDGRID_BODY.as_bytes(), 1600112600)
                .is_err()
        );
        assert!(Verifier::new(Scheme::Sendgrid, &[secret("AAAA")], 300).is_err());
        assert!(Verifier::new(Scheme::Sendgrid, &[], 300).is_err());
    }

    #[test]
    fn mailgun_reads_the_signature_from_json_or_form_fields() {
        let v = Verifier::new(Scheme::Mailgun, &[secret("key-1")], 300).unwrap();
        let mut mac = Hmac::<Sha256>::new_from_slice(b"key-1").unwrap();
        mac.update(b"1529006854tok");
        let sig = hex::encode(mac.finalize().into_bytes());
        let webhook = format!(
            r#"{{"signature":{{"timestamp":"1529006854","token":"tok","signature":"{sig}"}},"event-data":{{}}}}"#
        );
        let route = format!(r#"{{"timestamp":"1529006854","token":"tok","signature":"{sig}"}}"#);
        for json in [&webhook, &route] {
            let signed = Signed {
                json: Some(json.as_bytes()),
                ..Default::default()
            };
            let none: &[(&str, &[u8])] = &[];
            assert_eq!(v.verify_request(none, b"", &signed, 1529006900), Ok(()));
            assert!(matches!(
                v.verify_request(none, b"", &signed, 1529006854 + 400),
                Err(SignatureError::Expired { .. })
            ));
        }
        let none: &[(&str, &[u8])] = &[];
        assert!(matches!(
            v.verify(none, br#"{"a":1}"#, 0),
            Err(SignatureError::Missing(_))
        ));
        let tampered = route.replace(r#""tok""#, r#""tak""#);
        assert!(matches!(
            v.verify(none, tampered.as_bytes(), 1529006900),
            Err(SignatureError::Mismatch(_))
        ));
    }

    #[test]
    fn url_port_variants_add_and_remove_the_port() {
        assert_eq!(
            url_port_variants("https://a.com/x?y=1"),
            (
                "https://a.com/x?y=1".into(),
                "https://a.com:443/x?y=1".into()
            )
        );
        assert_eq!(
            url_port_variants("http://[::1]:8080/w"),
            ("http://[::1]/w".into(), "http://[::1]:8080/w".into())
        );
    }
}
