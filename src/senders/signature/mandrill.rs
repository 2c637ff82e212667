//! Mandrill (Mailchimp Transactional): `X-Mandrill-Signature` holds base64 HMAC-SHA1 of the
//! webhook URL exactly as entered in Mandrill, followed by each POST field's name and value,
//! fields sorted by name, with no delimiter, as Mailchimp's reference code computes it (the
//! `mandrill` preset's `spec` links it).
//!
//! Unlike Twilio's, the URL is not retried without or with its port: Mandrill signs the URL
//! as entered. Mandrill posts a form (`mandrill_events=<JSON>`); any other body is refused,
//! since a signature over the URL alone would vouch for any body.

use super::{HeaderSource, SignatureError, Signed, Verifier, providers};

pub const MANDRILL_HEADER: &str = "x-mandrill-signature";

/// Verifies a Mandrill delivery: `body` is the raw form body, `signed.url` the URL as called.
pub(super) fn mandrill(
    v: &Verifier,
    headers: &(impl HeaderSource + ?Sized),
    body: &[u8],
    signed: &Signed<'_>,
) -> Result<(), SignatureError> {
    let (signature, url) = providers::signature_and_url(headers, MANDRILL_HEADER, signed)?;
    if !signed.form {
        return Err(SignatureError::Malformed(
            "Mandrill signs form fields; the body is not application/x-www-form-urlencoded".into(),
        ));
    }
    let mut fields = crate::convert::media::form::pairs(body)
        .map_err(|e| SignatureError::Malformed(e.to_string()))?;
    // By name only, keeping a repeated name's values in body order (a stable sort).
    fields.sort_by(|a, b| a.0.cmp(&b.0));
    let matched = providers::url_and_fields_match(v, &[url], &fields, &signature);
    if bool::from(matched) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch(MANDRILL_HEADER.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Scheme, Secret};
    use super::*;

    const URL: &str = "https://hooks.example.com/webhooks/mandrill?source=mc";
    const KEY: &str = "dQ3ZPp4Xo6wGqfm-ZKE4_w";

    /// The signature by Mailchimp's reference algorithm, written out independently: the URL,
    /// then `name` + `value` of each field sorted by name.
    fn reference(key: &str, url: &str, fields: &[(&str, &str)]) -> String {
        use base64::Engine;
        use hmac::{Hmac, KeyInit, Mac};
        use sha1::Sha1;
        let mut sorted = fields.to_vec();
        sorted.sort();
        let mut data = url.to_owned();
        for (name, value) in sorted {
            data.push_str(name);
            data.push_str(value);
        }
        let mut mac = Hmac::<Sha1>::new_from_slice(key.as_bytes()).unwrap();
        mac.update(data.as_bytes());
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    }

    fn check(url: &str, body: &[u8], form: bool, sig: &str) -> Result<(), SignatureError> {
        let delivery = (url, body, form);
        providers::url_signed(Scheme::Mandrill, KEY, "X-Mandrill-Signature", delivery, sig)
    }

    #[test]
    fn form_fields_are_signed_sorted_by_name_after_the_url() {
        let events =
            r#"[{"event":"send","_id":"exampleaaaaaaaaaaaaaaaaaaaaaaaaa","ts":1365109999}]"#;
        let sig = reference(KEY, URL, &[("mandrill_events", events), ("a_first", "1")]);
        let body = format!(
            "mandrill_events={}&a_first=1",
            form_urlencoded::byte_serialize(events.as_bytes()).collect::<String>()
        );
        assert_eq!(check(URL, body.as_bytes(), true, &sig), Ok(()));
        // Another URL (a trailing slash), a changed field, a JSON body: refused.
        let slash = URL.replace("?", "/?");
        assert!(matches!(
            check(&slash, body.as_bytes(), true, &sig),
            Err(SignatureError::Mismatch(_))
        ));
        let tampered = body.replace("send", "sent");
        assert!(matches!(
            check(URL, tampered.as_bytes(), true, &sig),
            Err(SignatureError::Mismatch(_))
        ));
        assert!(matches!(
            check(URL, events.as_bytes(), false, &sig),
            Err(SignatureError::Malformed(_))
        ));
    }

    #[test]
    fn a_missing_or_garbled_header_is_refused() {
        let v = Verifier::new(Scheme::Mandrill, &[Secret::new(KEY.into())], 300).unwrap();
        let none: &[(&str, &[u8])] = &[];
        let signed = Signed {
            url: Some(URL),
            form: true,
            ..Default::default()
        };
        assert!(matches!(
            v.verify_request(none, b"a=1", &signed, 0),
            Err(SignatureError::Missing(_))
        ));
        assert!(matches!(
            check(URL, b"a=1", true, "not base64!"),
            Err(SignatureError::Malformed(_))
        ));
    }
}
