//! The named schemes' unit tests.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use ::hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::*;

type HmacSha256 = Hmac<Sha256>;

fn secret(s: &str) -> Secret {
    Secret::new(s.to_owned())
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

/// A verifier from a `signature` setting as a user writes it.
fn from_setting(setting: serde_json::Value) -> Result<Verifier, String> {
    let setting: SignatureSetting = serde_json::from_value(setting).map_err(|e| e.to_string())?;
    setting.verifier()
}

#[test]
fn hmac_kind_verifies_githubs_documented_example() {
    // docs.github.com, "Validating webhook deliveries", "Testing the webhook payload
    // validation".
    let v = from_setting(serde_json::json!({
        "scheme": "hmac", "header": "X-Hub-Signature-256", "prefix": "sha256=",
        "secret": "It's a Secret to Everybody"
    }))
    .unwrap();
    let sig = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    let headers: &[(&str, &[u8])] = &[("X-Hub-Signature-256", sig.as_bytes())];
    assert_eq!(v.verify(headers, b"Hello, World!", 0), Ok(()));
    assert!(matches!(
        v.verify(headers, b"Hello, World?", 0),
        Err(SignatureError::Mismatch(_))
    ));
    let github = Verifier::new(Scheme::Github, &[secret("It's a Secret to Everybody")], 0).unwrap();
    assert_eq!(github.verify(headers, b"Hello, World!", 0), Ok(()));
}

#[test]
fn hmac_kind_verifies_the_standard_webhooks_vectors() {
    // The Standard Webhooks spec's test vector, and the same delivery signed by
    // standardwebhooks 1.3.0 (PyPI) with an unpadded, non-canonical secret.
    let body = br#"{"test": 2432232314}"#;
    for (secret, sig) in [
        (
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        ),
        (
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS",
            "v1,LVOXivKoo4FWasi/IaHvzhE/u+7/cu2AME+zS/nXqzk=",
        ),
    ] {
        let headers: &[(&str, &[u8])] = &[
            ("webhook-id", b"msg_p5jXN8AQM9LWM0D4loKWxJek"),
            ("webhook-timestamp", b"1614265330"),
            ("webhook-signature", sig.as_bytes()),
        ];
        let v = from_setting(serde_json::json!({
            "scheme": "hmac", "header": "webhook-signature", "encoding": "base64",
            "key_encoding": "base64", "key_prefix": "whsec_",
            "message": "{id}.{timestamp}.{body}", "id_header": "webhook-id",
            "timestamp_header": "webhook-timestamp", "format": "pairs",
            "pairs": {"separator": " ", "assign": ",", "signature": "v1"},
            "secret": secret
        }))
        .unwrap();
        assert_eq!(v.verify(headers, body, 1614265330), Ok(()), "{secret}");
        assert!(matches!(
            v.verify(headers, body, 1614265330 + 301),
            Err(SignatureError::Expired { .. })
        ));
        let named = Verifier::new(Scheme::StandardWebhooks, &[self::secret(secret)], 300).unwrap();
        assert_eq!(named.verify(headers, body, 1614265330), Ok(()), "{secret}");
    }
}

#[test]
fn hmac_kind_reads_stripe_like_pairs_with_any_separator_and_algorithm() {
    let body = br#"{"id":"evt_1"}"#;
    for (algorithm, separator, expected_len) in
        [("sha256", ",", 32), ("sha1", ";", 20), ("sha512", ",", 64)]
    {
        let v = from_setting(serde_json::json!({
            "scheme": "hmac", "header": "X-Sig", "algorithm": algorithm,
            "message": "{timestamp}.{body}", "format": "pairs",
            "pairs": {"separator": separator, "timestamp": "ts", "signature": "h1"},
            "secrets": ["old", "new"]
        }))
        .unwrap();
        let Scheme::Hmac(h) = v.scheme() else {
            panic!()
        };
        let keyed = hmac::Keyed::new(h.algorithm, &keys::Key(b"new".to_vec()));
        let mac = keyed_hex(&keyed, b"1700000000.{\"id\":\"evt_1\"}");
        assert_eq!(mac.len(), expected_len * 2);
        let header = format!("ts=1700000000{separator} h1=00{separator}h1={mac}");
        let headers: &[(&str, &[u8])] = &[("X-Sig", header.as_bytes())];
        assert_eq!(v.verify(headers, body, 1700000100), Ok(()), "{algorithm}");
        assert!(matches!(
            v.verify(headers, body, 1700000400),
            Err(SignatureError::Expired { .. })
        ));
        let no_time = header.replace("ts=", "tx=");
        let headers: &[(&str, &[u8])] = &[("X-Sig", no_time.as_bytes())];
        assert!(matches!(
            v.verify(headers, body, 1700000100),
            Err(SignatureError::Malformed(_))
        ));
    }
}

fn keyed_hex(keyed: &hmac::Keyed, content: &[u8]) -> String {
    hex::encode(keyed.mac(&[content]))
}

#[test]
fn hmac_kind_signs_method_url_headers_and_query() {
    let v = from_setting(serde_json::json!({
        "scheme": "hmac", "header": "X-Sig", "encoding": "base64url",
        "message": "{method} {url}|{header:X-Shop}|{query:a}|{body}",
        "key_encoding": "hex", "secret": "00ff"
    }))
    .unwrap();
    let url = "https://tap.example/webhooks/tok?a=b%20c";
    let keyed = hmac::Keyed::new(hmac::Algorithm::Sha256, &keys::Key(vec![0, 255]));
    let mac = keyed.mac(&[format!("POST {url}|shop1|b c|{{}}").as_bytes()]);
    let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac);
    let headers: &[(&str, &[u8])] = &[("X-Sig", sig.as_bytes()), ("X-Shop", b"shop1")];
    let signed = Signed {
        method: Some("POST"),
        url: Some(url),
        ..Default::default()
    };
    assert_eq!(v.verify_request(headers, b"{}", &signed, 0), Ok(()));
    let other = Signed {
        method: Some("PUT"),
        ..signed
    };
    assert!(v.verify_request(headers, b"{}", &other, 0).is_err());
    assert!(matches!(
        v.verify_request(&headers[..1], b"{}", &signed, 0),
        Err(SignatureError::Missing(_))
    ));
    assert!(v.scheme().signs_url());
}

#[test]
fn settings_errors_name_the_key_and_say_what_to_do() {
    let error = |setting: serde_json::Value| from_setting(setting).unwrap_err();
    let e = error(
        serde_json::json!({"scheme": "hmac", "header": "X", "message": "{foo}{body}", "secret": "s"}),
    );
    assert_eq!(
        e,
        "message: unknown placeholder {foo}; use {body}, {timestamp}, {id}, {method}, {url}, \
         {header:Name}, {query:Name}"
    );
    let e = error(
        serde_json::json!({"scheme": "hmac", "header": "X", "key_encoding": "hex",
        "secrets": ["00", "0g"]}),
    );
    assert!(e.starts_with("secrets[1] is not hex"), "{e}");
    let e = error(serde_json::json!({"scheme": "standard-webhooks", "secret": "whsec_!!"}));
    assert!(
        e.starts_with("secret is not base64 after \"whsec_\""),
        "{e}"
    );
    let e = error(serde_json::json!({"scheme": "github", "algorithm": "sha1", "secret": "s"}));
    assert_eq!(
        e,
        "algorithm applies to scheme hmac only; remove it (github does not use it)"
    );
    let e = error(serde_json::json!({"scheme": "hmac", "secret": "s"}));
    assert!(e.contains("needs `header`"), "{e}");
    let e = error(
        serde_json::json!({"scheme": "hmac", "header": "X", "message": "{timestamp}{body}", "secret": "s"}),
    );
    assert!(e.contains("set timestamp_header"), "{e}");
    let e = error(
        serde_json::json!({"scheme": "hmac", "header": "X", "timestamp_header": "T", "secret": "s"}),
    );
    assert!(e.contains("no {timestamp}"), "{e}");
    let e = error(serde_json::json!({"scheme": "hmac", "header": "X", "pairs": {}, "secret": "s"}));
    assert!(e.contains("format pairs"), "{e}");
    let e = error(serde_json::json!({"scheme": "basic", "username": "u", "secret": "s"}));
    assert!(e.contains("`username` and `password`"), "{e}");
    let e = error(serde_json::json!({"scheme": "basic", "username": "u"}));
    assert!(e.contains("needs `username` and `password`"), "{e}");
    let e = error(serde_json::json!({"scheme": "ed25519", "header": "X"}));
    assert!(e.contains("needs `public_key`"), "{e}");
    let e = error(serde_json::json!({"scheme": "header", "header": "X"}));
    assert!(e.contains("signing secret"), "{e}");
    assert!(
        from_setting(serde_json::json!({"scheme": "basic", "username": "u", "password": "p"}))
            .is_ok()
    );
}

#[test]
fn hmac_kind_expresses_the_stripe_and_slack_schemes() {
    let body = br#"{"id":"evt_1"}"#;
    let stripe_sig = mac_hex(b"whsec_k", b"1700000000.{\"id\":\"evt_1\"}");
    let stripe_header = format!("t=1700000000,v1={stripe_sig},v0=00");
    let slack_sig = format!("v0={}", mac_hex(b"sk", b"v0:1700000000:{\"id\":\"evt_1\"}"));
    let cases = [
        (
            Scheme::Stripe,
            "whsec_k",
            serde_json::json!({"scheme": "hmac", "header": "Stripe-Signature",
                "message": "{timestamp}.{body}", "format": "pairs",
                "pairs": {"timestamp": "t", "signature": "v1"}, "secret": "whsec_k"}),
            vec![("Stripe-Signature", stripe_header.as_bytes())],
        ),
        (
            Scheme::Slack,
            "sk",
            serde_json::json!({"scheme": "hmac", "header": "X-Slack-Signature", "prefix": "v0=",
                "message": "v0:{timestamp}:{body}",
                "timestamp_header": "X-Slack-Request-Timestamp", "secret": "sk"}),
            vec![
                ("X-Slack-Signature", slack_sig.as_bytes()),
                ("X-Slack-Request-Timestamp", &b"1700000000"[..]),
            ],
        ),
    ];
    for (scheme, key, setting, headers) in cases {
        let named = Verifier::new(scheme.clone(), &[secret(key)], 300).unwrap();
        let kind = from_setting(setting).unwrap();
        assert!(kind.scheme().timestamped(), "{scheme:?}");
        for v in [&named, &kind] {
            assert_eq!(
                v.verify(&headers[..], body, 1700000100),
                Ok(()),
                "{scheme:?}"
            );
            assert!(v.verify(&headers[..], b"{}", 1700000100).is_err());
            assert!(matches!(
                v.verify(&headers[..], body, 1700000400),
                Err(SignatureError::Expired { .. })
            ));
        }
    }
}

#[test]
fn hmac_kind_checks_a_time_inside_the_signed_body() {
    let v = from_setting(serde_json::json!({
        "scheme": "hmac", "header": "Linear-Signature", "secret": "s3cr3t-linear",
        "timestamp_field": "webhookTimestamp", "tolerance_seconds": 60
    }))
    .unwrap();
    let now = 1_700_000_000_i64;
    let send = |body: &str| {
        let sig = mac_hex(b"s3cr3t-linear", body.as_bytes());
        let headers: &[(&str, &[u8])] = &[("Linear-Signature", sig.as_bytes())];
        v.verify(headers, body.as_bytes(), now)
    };
    let at = |ms: i64| format!(r#"{{"type":"Issue","webhookTimestamp":{ms}}}"#);
    assert_eq!(send(&at(now * 1000 - 30_000)), Ok(()));
    assert!(matches!(
        send(&at(now * 1000 - 600_000)),
        Err(SignatureError::Expired { .. })
    ));
    assert!(matches!(
        send(r#"{"type":"Issue"}"#),
        Err(SignatureError::Malformed(_))
    ));
    let both = from_setting(serde_json::json!({
        "scheme": "hmac", "header": "X-S", "secret": "s3cr3t-linear", "message": "{timestamp}{body}",
        "timestamp_header": "X-T", "timestamp_field": "t"
    }));
    assert!(both.unwrap_err().contains("timestamp_field"));
}
