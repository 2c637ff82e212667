//! Signature header parsers and verifiers of every scheme (and the hmac kind), and the
//! verifier of every sender preset that signs, on arbitrary headers and bodies. Properties:
//! no panic; a forged input never verifies; a delivery signed as GitHub signs it always
//! verifies.
#![no_main]

use hmac::{Hmac, KeyInit, Mac};
use libfuzzer_sys::fuzz_target;
use sha2::Sha256;
use std::sync::LazyLock;
use tap_webhooks::senders::presets;
use tap_webhooks::senders::signature::{
    self, Encoding, HeaderSource, Scheme, Secret, Signed, Verifier,
};

const SECRET: &str = "whsec_c2VjcmV0LWtleS1mb3ItZnV6emluZw==";

fn secret() -> Secret {
    serde_json::from_str(&format!("\"{SECRET}\"")).unwrap()
}

/// Credentials a preset's scheme may take, tried in order: a Standard Webhooks secret (also a
/// plain secret), a hex key (Adyen), the public key of RFC 8032's first Ed25519 test vector,
/// a Basic password.
const CREDENTIALS: [(&str, &str); 4] = [
    ("secret", SECRET),
    (
        "secret",
        "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
    ),
    (
        "public_key",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
    ),
    ("password", "fuzz-password"),
];

/// The verifier of every preset that signs, with the first credential it takes (a preset
/// whose scheme takes none of them, such as SNS's certificate, is left out).
static PRESET_VERIFIERS: LazyLock<Vec<Verifier>> = LazyLock::new(|| {
    let mut verifiers = Vec::new();
    for preset in presets::all() {
        let Some(setting) = preset.settings.get("signature") else {
            continue;
        };
        for (key, value) in CREDENTIALS {
            let mut setting = setting.clone();
            setting[key] = value.into();
            let parsed = serde_json::from_value::<signature::SignatureSetting>(setting);
            if let Ok(verifier) = parsed.map_err(|e| e.to_string()).and_then(|s| s.verifier()) {
                verifiers.push(verifier);
                break;
            }
        }
    }
    assert!(
        verifiers.len() >= 40,
        "only {} presets verify",
        verifiers.len()
    );
    verifiers
});

/// Every header a scheme asks for, taken from the input's parts by the name's hash.
struct AnyHeaders<'a>(&'a [&'a [u8]]);

impl HeaderSource for AnyHeaders<'_> {
    fn header(&self, name: &str) -> Option<&[u8]> {
        let hash = name
            .bytes()
            .fold(0usize, |h, b| h.wrapping_mul(31) ^ usize::from(b));
        self.0.get(hash % (self.0.len() + 1)).copied()
    }
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

    // Every preset's scheme, with what else it may sign (the URL, the method, the body as JSON
    // or as a form).
    let signed = Signed {
        method: Some("POST"),
        url: Some("https://hooks.example.com/webhooks/tok_0123?via=fuzz"),
        json: Some(body),
        form: data.first().is_some_and(|b| b & 1 == 1),
    };
    let any = AnyHeaders(&parts);
    for verifier in PRESET_VERIFIERS.iter() {
        let _ = verifier.verify_request(&any, body, &signed, now);
    }

    // The same body signed the way GitHub signs it passes.
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    let good = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    let signed: [(&str, &[u8]); 1] = [(signature::GITHUB_HEADER, good.as_bytes())];
    let github = Verifier::new(Scheme::Github, &[secret()], 300).unwrap();
    assert!(github.verify(&signed[..], body, now).is_ok());
});
