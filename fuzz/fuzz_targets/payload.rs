//! Body → records: decoding (identity, gzip, deflate), splitting into records, schema
//! inference and RECORD output. Properties: no panic; every RECORD line is one valid JSON
//! object; a refused payload is refused the same way on a second parse.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tap_webhooks::body::{self, Coding};
use tap_webhooks::keys::RecordKey;
use tap_webhooks::payload::{self, RecordRules};
use tap_webhooks::schema::{Catalog, Columns, SchemaTracker};
use tap_webhooks::singer::{self, RecordMeta};
use tap_webhooks::sequence::Sequence;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let coding = match selector % 3 {
        0 => Coding::Identity,
        1 => Coding::Gzip,
        _ => Coding::Deflate,
    };
    let Ok(decoded) = body::decode(coding, rest, 1 << 20) else {
        return;
    };
    let rules = RecordRules {
        primary_key: if selector & 0x80 != 0 {
            vec!["id".to_owned()]
        } else {
            Vec::new()
        },
    };
    let payload = match payload::parse_payload(&decoded, &rules) {
        Ok(payload) => payload,
        Err(e) => {
            let again = payload::parse_payload(&decoded, &rules).unwrap_err();
            assert_eq!(e.is_malformed(), again.is_malformed());
            return;
        }
    };
    let columns = Columns {
        generated_key: rules.primary_key.is_empty(),
        primary_key: rules.primary_key.clone(),
        sequence_alias: None,
        received_at_alias: Some("received".to_owned()),
    };
    let mut schema = SchemaTracker::in_memory(columns, Catalog::default());
    let mut out = Vec::new();
    for (i, record) in payload.records.iter().enumerate() {
        let _ = schema.observe(record);
        let sequence = Sequence::new(1_700_000_000_000_000_000 + i as u64);
        let meta = RecordMeta {
            sequence,
            received_at: "2026-01-01T00:00:00.000000Z",
            key: Some(RecordKey::derive(b"fuzz", sequence)),
            sequence_alias: None,
            received_at_alias: Some("received"),
        };
        out.clear();
        singer::write_record(&mut out, "data", record, &meta, |name, raw| {
            schema.action(name, raw)
        });
        let line = out
            .strip_suffix(b"\n")
            .expect("a RECORD line ends with a newline");
        let message: serde_json::Value =
            serde_json::from_slice(line).expect("a RECORD line is JSON");
        assert_eq!(message["type"], "RECORD");
        assert!(message["record"].is_object());
    }
    let _ = schema.json_schema();
});
