//! Request bodies of every media kind → JSON text (forms, multipart, NDJSON), then records.
//! Properties: no panic and no hang; what a conversion gives is one valid JSON document,
//! the same on a second conversion; a form or multipart body that converts always gives
//! exactly one record or is refused as JSON would be.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tap_webhooks::convert::media::{self, Kind};
use tap_webhooks::convert::payload::RecordRules;
use tap_webhooks::convert::visit;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let kind = match selector % 4 {
        0 => Kind::Form,
        1 => Kind::Multipart {
            boundary: "XyZ".to_owned(),
        },
        2 => Kind::Ndjson,
        _ => {
            // A Content-Type from the input itself: the parser of the header must not panic.
            let (header, rest) = body.split_at(body.len().min(usize::from(selector >> 2)));
            match media::kind(Some(header)) {
                Ok(kind) => {
                    let _ = media::to_json(&kind, rest);
                }
                Err(_) => {}
            }
            return;
        }
    };
    let Ok(json) = media::to_json(&kind, body) else {
        return;
    };
    let again = media::to_json(&kind, body).expect("a second conversion succeeds too");
    assert_eq!(json, again);
    let form_like = matches!(kind, Kind::Form | Kind::Multipart { .. });
    // A form body that is JSON itself is passed through as is (the JSON parser judges it).
    let unmarked = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let wholly_json = matches!(unmarked.trim_ascii_start().first(), Some(b'{' | b'['));
    if !(kind == Kind::Form && wholly_json) {
        serde_json::from_slice::<serde::de::IgnoredAny>(&json)
            .expect("a converted body is one JSON document");
    }
    if let Ok(payload) = visit::parse_payload(&json, &RecordRules::default())
        && form_like
        && !wholly_json
        && !json.starts_with(b"[")
    {
        assert_eq!(payload.records.len(), 1);
    }
});
