//! Body → records: decoding (identity, gzip, deflate), splitting into records, schema
//! inference and RECORD output. Properties: no panic; every RECORD line is one valid JSON
//! object; a refused payload is refused the same way on a second parse; no column name the
//! stream declares or a record carries is empty, in the `_sdc` namespace (the tap's own
//! columns aside), over 62 bytes, or folded together with another by targets.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::collections::HashMap;
use tap_webhooks::convert::payload::{self, RecordRules};
use tap_webhooks::convert::visit;
use tap_webhooks::http::body::{self, Coding};
use tap_webhooks::keys::RecordKey;

use tap_webhooks::schema::names::{MAX_COLUMN_BYTES, fold};
use tap_webhooks::schema::{Catalog, Columns, SchemaTracker};
use tap_webhooks::sequence::Sequence;
use tap_webhooks::singer::{self, RecordMeta};

/// The field names of a RECORD line's record, as written (repeats kept).
#[derive(serde::Deserialize)]
struct RecordKeys {
    #[serde(deserialize_with = "keys")]
    record: Vec<String>,
}

fn keys<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    struct Keys;
    impl<'de> serde::de::Visitor<'de> for Keys {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Vec<String>, A::Error> {
            let mut out = Vec::new();
            while let Some(key) = map.next_key::<String>()? {
                map.next_value::<serde::de::IgnoredAny>()?;
                out.push(key);
            }
            Ok(out)
        }
    }
    d.deserialize_map(Keys)
}

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
        handshake: None,
    };
    let payload = match visit::parse_payload(&decoded, &rules) {
        Ok(payload) => payload,
        Err(e) => {
            let again = visit::parse_payload(&decoded, &rules).unwrap_err();
            assert_eq!(e.is_malformed(), again.is_malformed());
            return;
        }
    };
    let columns = Columns {
        generated_key: rules.primary_key.is_empty(),
        primary_key: rules.primary_key.clone(),
        sequence_alias: None,
        received_at_alias: Some("received".to_owned()),
        max_columns: if selector & 0x40 != 0 { 12 } else { 1000 },
        headers: selector & 0x20 != 0,
        query: selector & 0x10 != 0,
    };
    let mut schema = SchemaTracker::in_memory(columns, Catalog::default());
    let mut out = Vec::new();
    let mut actions = Vec::new();
    const TAP_COLUMNS: [&str; 7] = [
        "_sdc_sequence",
        "_sdc_received_at",
        "__sdc_primary_key",
        "_sdc_overflow",
        "_sdc_headers",
        "_sdc_query",
        "received",
    ];
    for (i, record) in payload.records.iter().enumerate() {
        let named = schema.name(record);
        let sequence = Sequence::new(1_700_000_000_000_000_000 + i as u64);
        if schema.observe(&named, sequence, &mut actions).is_err() {
            continue;
        }
        // What `observe` found for each field is what `action` gives once it is declared.
        for (i, (name, raw)) in named.fields.fields.iter().enumerate() {
            assert_eq!(
                actions[i],
                schema.action(name, raw, &named.fields, sequence)
            );
        }
        let meta = RecordMeta {
            sequence,
            received_at: "2026-01-01T00:00:00.000000Z",
            key: Some(RecordKey::derive(b"fuzz", sequence)),
            sequence_alias: None,
            received_at_alias: Some("received"),
            overflow: &named.overflow,
            headers: (selector & 0x20 != 0).then_some(r#"{"x-github-event":"push"}"#),
            query: (selector & 0x10 != 0).then_some(r#"{"source":"fuzz"}"#),
        };
        out.clear();
        singer::write_record(&mut out, "data", &named.fields, &meta, |i, _, _| actions[i]);
        let line = out
            .strip_suffix(b"\n")
            .expect("a RECORD line ends with a newline");
        let message: serde_json::Value =
            serde_json::from_slice(line).expect("a RECORD line is JSON");
        assert_eq!(message["type"], "RECORD");
        assert!(message["record"].is_object());
        let keys: RecordKeys = serde_json::from_slice(line).expect("a RECORD line is JSON");
        assert_columns(keys.record.iter());
    }
    let declared = schema.json_schema();
    assert_columns(
        declared["properties"]
            .as_object()
            .expect("properties")
            .keys(),
    );

    fn assert_columns<'a>(names: impl Iterator<Item = &'a String>) {
        let mut folds: HashMap<String, &str> = HashMap::new();
        for name in names {
            assert!(!name.is_empty(), "an empty column name");
            assert!(name.len() <= MAX_COLUMN_BYTES, "{name:?} is too long");
            assert!(
                !payload::is_reserved_field(name) || TAP_COLUMNS.contains(&name.as_str()),
                "{name:?} is in the _sdc namespace"
            );
            assert!(!name.chars().any(char::is_control), "{name:?}");
            if let Some(other) = folds.insert(fold(name), name) {
                panic!("{name:?} and {other:?} fold together");
            }
        }
    }
});
