//! Signature header parsers and verifiers of every scheme (and the hmac kind), on arbitrary
//! headers and bodies. Properties: no panic; a forged input never verifies; a delivery signed
//! as GitHub signs it always verifies.
#![no_main]

use hmac::{Hmac, KeyInit, Mac};
use libfuzzer_sys::fuzz_target;
use sha2::Sha256;
use tap_webhooks::senders::signature::{self, Encoding, Scheme, Secret, Verifier};

const SECRET: &str = "whsec_c2VjcmV0LWtleS1mb3ItZnV6emluZw==";

fn secret() -> Secret {
    serde_json::from_str(&format!("\"{SECRET}\"")).unwrap()
}

fuzz_target!(|data: &[u8]| {
    // Parts separated by 0xFF: header values, then the body.
    let parts: Vec<&[u8]> = data.split(|&b| b == 0xFF).collect();
    let part = |i: usize| parts.get(i).copied().unwrap_or_default();
    let body = parts.last().copied().unwrap_or_default();

    let _ = signature::parse_stripe(part(0));
    let _ = signature::parse_standard_signatures(part(0));
    let _ = signature::parse_timestamp(part(0), "t");
    let _ = signature::parse_prefixed(part(0), "sha256=", Encoding::Hex);
    let _ = signature::parse_prefixed(part(0), "", Encoding::Base64);

    let schemes = [
        Scheme::Github,
        Scheme::Stripe,
        Scheme::Shopify,
        Scheme::Slack,
        Scheme::StandardWebhooks,
        Scheme::Generic {
            header: "x-signature".into(),
            prefix: "v1=".into(),
            encoding: Encoding::Base64,
        },
    ];
    let names = [
        signature::GITHUB_HEADER,
        signature::STRIPE_HEADER,
        signature::SHOPIFY_HEADER,
        signature::SLACK_SIGNATURE_HEADER,
        signature::SLACK_TIMESTAMP_HEADER,
        signature::STANDARD_ID_HEADER,
        signature::STANDARD_TIMESTAMP_HEADER,
        signature::STANDARD_SIGNATURE_HEADER,
        "x-signature",
    ];
    let headers: Vec<(&str, &[u8])> = names
        .iter()
        .enumerate()
        .filter(|(i, _)| parts.len() > i + 1)
        .map(|(i, name)| (*name, part(i)))
        .collect();
    let now = 1_700_000_000;
    for scheme in schemes {
        let verifier = Verifier::new(scheme, &[secret()], 300).unwrap();
        // Random bytes are (overwhelmingly) not a valid MAC under the secret.
        assert!(verifier.verify(headers.as_slice(), body, now).is_err());
    }

    // The hmac kind: a template read from pairs (`t=...,v1=...`) and another header.
    let setting: signature::SignatureSetting = serde_json::from_value(serde_json::json!({
        "scheme": "hmac", "header": "x-signature", "message": "{id}.{timestamp}.{body}",
        "id_header": "webhook-id", "format": "pairs", "pairs": {"timestamp": "t"},
        "algorithm": "sha512", "encoding": "base64url", "secret": SECRET
    }))
    .unwrap();
    let verifier = setting.verifier().unwrap();
    assert!(verifier.verify(headers.as_slice(), body, now).is_err());

    // The same body signed the way GitHub signs it passes.
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    let good = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    let signed: [(&str, &[u8]); 1] = [(signature::GITHUB_HEADER, good.as_bytes())];
    let github = Verifier::new(Scheme::Github, &[secret()], 300).unwrap();
    assert!(github.verify(&signed[..], body, now).is_ok());
});
