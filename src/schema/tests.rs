use super::*;
use crate::convert::payload::RecordRules;
use crate::convert::visit::parse_payload;
use crate::singer::{RecordMeta, write_record};
use std::sync::atomic::{AtomicU64, Ordering};

/// Sequences for the test records, increasing.
fn next_sequence() -> Sequence {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    Sequence::new(NEXT.fetch_add(1, Ordering::Relaxed))
}

fn tracker() -> SchemaTracker {
    SchemaTracker::in_memory(
        Columns {
            generated_key: true,
            ..Default::default()
        },
        Catalog::default(),
    )
}

fn observe(t: &mut SchemaTracker, body: &str) -> bool {
    let p = parse_payload(body.as_bytes(), &RecordRules::default()).unwrap();
    p.records.iter().fold(false, |c, r| {
        let named = t.name(r);
        t.observe(&named, next_sequence(), &mut Vec::new()).unwrap() | c
    })
}

/// Observes a named record and returns its fields' write actions, checking that each is what
/// [`SchemaTracker::action`] finds afterwards (the emitter writes with the former; a replay
/// check uses the latter).
fn observe_checked(
    t: &mut SchemaTracker,
    named: &Named<'_, '_>,
    sequence: Sequence,
) -> Vec<FieldAction> {
    let mut actions = Vec::new();
    t.observe(named, sequence, &mut actions).unwrap();
    for (i, (name, raw)) in named.fields.fields.iter().enumerate() {
        let again = t.action(name, raw, &named.fields, sequence);
        assert_eq!(actions[i], again, "field {name}");
    }
    actions
}

/// Observes a one-record body and returns its provider fields as written in the RECORD.
fn emit(t: &mut SchemaTracker, body: &str) -> Map<String, Value> {
    let p = parse_payload(body.as_bytes(), &RecordRules::default()).unwrap();
    let sequence = next_sequence();
    let named = t.name(&p.records[0]);
    observe_checked(t, &named, sequence);
    emit_again(t, body, sequence)
}

/// Writes a record again, as a replay does, without observing it.
fn emit_again(t: &mut SchemaTracker, body: &str, sequence: Sequence) -> Map<String, Value> {
    let p = parse_payload(body.as_bytes(), &RecordRules::default()).unwrap();
    let named = t.name(&p.records[0]);
    let meta = RecordMeta {
        sequence,
        received_at: "t",
        key: None,
        sequence_alias: None,
        received_at_alias: None,
        overflow: &named.overflow,
        headers: None,
        query: None,
    };
    let mut out = Vec::new();
    let record: &Fields<'_> = &named.fields;
    write_record(&mut out, "data", record, &meta, |_, name, raw| {
        t.action(name, raw, record, sequence)
    });
    let line: Value = serde_json::from_slice(&out).unwrap();
    let mut fields = line["record"].as_object().unwrap().clone();
    fields.retain(|k, _| !k.starts_with("_sdc"));
    fields
}

/// The RECORD a body's first record gives, after observing it.
fn record(t: &mut SchemaTracker, body: &str) -> Value {
    let p = parse_payload(body.as_bytes(), &RecordRules::default()).unwrap();
    let named = t.name(&p.records[0]);
    let sequence = next_sequence();
    let actions = observe_checked(t, &named, sequence);
    let meta = crate::singer::RecordMeta {
        sequence,
        received_at: "t",
        key: None,
        sequence_alias: None,
        received_at_alias: None,
        overflow: &named.overflow,
        headers: None,
        query: None,
    };
    let mut out = Vec::new();
    let fields: &Fields<'_> = &named.fields;
    crate::singer::write_record(&mut out, "data", fields, &meta, |i, _, _| actions[i]);
    serde_json::from_slice::<Value>(&out).unwrap()["record"].clone()
}

#[test]
fn payload_names_in_the_metadata_namespace_empty_or_folded_together_get_their_own_columns() {
    let mut t = tracker();
    let r = record(
        &mut t,
        r#"{"id":"victim","_sdc_deleted_at":"2020-01-01T00:00:00Z","_SDC_SEQUENCE":5,
            "__SDC_PRIMARY_KEY":"x","":"empty","pullRequest":1,"pullrequest":2}"#,
    );
    assert_eq!(r["x_sdc_deleted_at"], "2020-01-01T00:00:00Z");
    assert_eq!(r["x_SDC_SEQUENCE"], 5);
    assert_eq!(r["x__SDC_PRIMARY_KEY"], "x");
    assert_eq!(r["x_empty"], "empty");
    assert_eq!(r["pullRequest"], 1);
    assert_eq!(r["pullrequest__2"], 2);
    assert!(r.get("_sdc_deleted_at").is_none());
    assert!(r["_sdc_sequence"].is_u64());
    let properties = t.json_schema()["properties"].clone();
    assert!(properties.get("").is_none() && properties.get("pullrequest").is_none());
    let again = record(&mut t, r#"{"pullrequest":3,"pullRequest":4}"#);
    assert_eq!(
        (&again["pullrequest__2"], &again["pullRequest"]),
        (&json!(3), &json!(4))
    );
}

#[test]
fn names_persist_and_an_old_schema_file_with_bad_names_moves_them() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("schema.json"),
        r#"{"version":2,"fields":{"":"string","Tag":"boolean","tag":"string","ok":"number"}}"#,
    )
    .unwrap();
    let mut t = SchemaTracker::load(dir.path(), Columns::default(), Catalog::default()).unwrap();
    let r = record(&mut t, r#"{"":"e","tag":"v","Tag":true,"ok":1}"#);
    assert_eq!(
        r,
        json!({"x_empty":"e","tag__2":"v","Tag":true,"ok":1,
        "_sdc_sequence":r["_sdc_sequence"],"_sdc_received_at":"t"})
    );
    t.persist().unwrap();
    let mut again =
        SchemaTracker::load(dir.path(), Columns::default(), Catalog::default()).unwrap();
    assert_eq!(record(&mut again, r#"{"tag":"w"}"#)["tag__2"], "w");
}

#[test]
fn payload_fields_named_like_an_alias_get_a_column_of_their_own() {
    let mut t = SchemaTracker::in_memory(
        Columns {
            sequence_alias: Some("webhook_sequence".into()),
            ..Default::default()
        },
        Catalog::default(),
    );
    let r = record(&mut t, r#"{"Webhook_Sequence":1,"webhook_sequence":2}"#);
    assert_eq!(r["Webhook_Sequence__2"], 1);
    assert_eq!(r["webhook_sequence__3"], 2);
}

#[test]
fn past_max_columns_new_fields_go_into_one_overflow_column() {
    let mut t = SchemaTracker::in_memory(
        Columns {
            generated_key: true,
            max_columns: 10,
            ..Default::default()
        },
        Catalog::default(),
    );
    let body = (0..20)
        .map(|i| format!(r#""f{i}":{i}"#))
        .collect::<Vec<_>>()
        .join(",");
    let r = record(&mut t, &format!("{{{body}}}"));
    let properties = t.json_schema()["properties"].as_object().unwrap().clone();
    assert_eq!(properties.len(), 10, "{:?}", properties.keys());
    assert_eq!(
        properties["_sdc_overflow"]["type"],
        json!(["null", "object", "array"])
    );
    assert_eq!(r["f5"], 5);
    assert_eq!(r["_sdc_overflow"]["f6"], 6);
    assert_eq!(r["_sdc_overflow"]["f19"], 19);
    assert_eq!(
        r.as_object().unwrap().len(),
        9,
        "6 fields, overflow, 2 _sdc (no key here)"
    );
    let r = record(&mut t, r#"{"f0":7,"new":1}"#);
    assert_eq!(r["f0"], 7);
    assert_eq!(r["_sdc_overflow"], json!({"new":1}));
}

#[test]
fn key_columns_are_non_null_and_numeric_keys_canonical() {
    let mut t = SchemaTracker::in_memory(
        Columns {
            primary_key: vec!["id".into()],
            ..Default::default()
        },
        Catalog::default(),
    );
    assert_eq!(declared(&t, "id"), json!(["string"]));
    assert_eq!(record(&mut t, r#"{"id":42.0}"#)["id"], "42");
    assert_eq!(record(&mut t, r#"{"id":4.2e1,"ID":1}"#)["id"], "42");
    assert_eq!(record(&mut t, r#"{"id":"42"}"#)["id"], "42");
    assert_eq!(record(&mut t, r#"{"ID":7}"#)["ID__2"], 7);
}

fn declared(t: &SchemaTracker, field: &str) -> Value {
    t.json_schema()["properties"][field]["type"].clone()
}

fn fields(pairs: Value) -> Map<String, Value> {
    pairs.as_object().unwrap().clone()
}

#[test]
fn integers_are_integer_and_a_later_decimal_goes_to_the_nu_sibling() {
    let mut t = tracker();
    assert_eq!(
        emit(&mut t, r#"{"amount":10}"#),
        fields(json!({"amount":10}))
    );
    assert_eq!(declared(&t, "amount"), json!(["null", "integer"]));
    assert_eq!(
        emit(&mut t, r#"{"amount":10.5}"#),
        fields(json!({"amount__nu":10.5}))
    );
    assert!(!observe(&mut t, r#"{"amount":-3e2}"#), "the sibling exists");
    assert_eq!(declared(&t, "amount"), json!(["null", "integer"]));
    assert_eq!(declared(&t, "amount__nu"), json!(["null", "number"]));
    assert_eq!(emit(&mut t, r#"{"amount":7}"#), fields(json!({"amount":7})));
}

#[test]
fn a_number_field_takes_integers_and_integers_beyond_64_bits_go_to_st_as_digits() {
    let mut t = tracker();
    emit(&mut t, r#"{"price":1.5,"id":1}"#);
    assert_eq!(emit(&mut t, r#"{"price":2}"#), fields(json!({"price":2})));
    let max = i64::MAX.to_string();
    let min = i64::MIN.to_string();
    let body = format!(r#"{{"id":{max},"n":{min}}}"#);
    let written = emit(&mut t, &body);
    assert_eq!(written["id"].to_string(), max, "exact");
    assert_eq!(written["n"].to_string(), min, "exact");
    let beyond = "9223372036854775809"; // 2^63 + 1
    let written = emit(&mut t, &format!(r#"{{"id":{beyond},"n":-{beyond}}}"#));
    assert_eq!(
        written,
        fields(json!({"id__st": beyond, "n__st": format!("-{beyond}")}))
    );
    assert_eq!(declared(&t, "id"), json!(["null", "integer"]));
    assert_eq!(declared(&t, "id__st"), json!(["null", "string"]));
    // First value beyond 64 bits: the field is still an integer field.
    let written = emit(&mut t, r#"{"big":123456789012345678901234}"#);
    assert_eq!(
        written,
        fields(json!({"big__st": "123456789012345678901234"}))
    );
    assert_eq!(declared(&t, "big"), json!(["null", "integer"]));
}

#[test]
fn a_sibling_of_a_field_of_the_longest_name_is_declared_and_written_within_the_limit() {
    use crate::singer::columns::MAX_COLUMN_BYTES;
    // Found by the `payload` fuzz target: `<62 bytes>__st` was 66 bytes, which PostgreSQL
    // cuts and pipelinewise-target-postgres renames.
    let mut t = tracker();
    let name = "a".repeat(MAX_COLUMN_BYTES);
    emit(&mut t, &format!(r#"{{"{name}":1}}"#));
    let written = emit(&mut t, &format!(r#"{{"{name}":"one"}}"#));
    let (column, value) = written.iter().next().expect("one field");
    assert_eq!(value, "one");
    assert!(column.len() <= MAX_COLUMN_BYTES, "{column}");
    assert!(
        column.starts_with("aaaa") && column.ends_with("__st"),
        "{column}"
    );
    assert_eq!(declared(&t, column), json!(["null", "string"]));
    assert_eq!(declared(&t, &name), json!(["null", "integer"]));
}

#[test]
fn a_sibling_never_folds_together_with_another_column() {
    // `a__st` beside `A__ST` would be one column in pipelinewise and DuckDB (lower case).
    let mut t = tracker();
    emit(&mut t, r#"{"A__ST":"x","a":1}"#);
    let written = emit(&mut t, r#"{"a":"text"}"#);
    assert_eq!(written, fields(json!({"a__st__st": "text"})));
    assert_eq!(declared(&t, "a__st__st"), json!(["null", "string"]));
    let schema = t.json_schema();
    let properties = schema["properties"].as_object().unwrap();
    let folds: std::collections::HashSet<String> =
        properties.keys().map(|k| super::names::fold(k)).collect();
    assert_eq!(folds.len(), properties.len(), "{properties:?}");
}

#[test]
fn objects_and_strings_each_keep_their_column() {
    let mut t = tracker();
    emit(&mut t, r#"{"meta":{"a":1},"tags":["x"]}"#);
    assert_eq!(declared(&t, "meta"), json!(["null", "object", "array"]));
    assert!(
        !observe(&mut t, r#"{"meta":[1,2]}"#),
        "an array fits a JSON field"
    );
    assert_eq!(
        emit(&mut t, r#"{"meta":"plain"}"#),
        fields(json!({"meta__st":"plain"}))
    );
    assert_eq!(declared(&t, "meta"), json!(["null", "object", "array"]));
    assert_eq!(
        emit(&mut t, r#"{"meta":{"b":2}}"#),
        fields(json!({"meta":{"b":2}}))
    );
    // The other way round: a string field, then an object.
    emit(&mut t, r#"{"workflow":".github/ci.yml"}"#);
    assert_eq!(
        emit(&mut t, r#"{"workflow":{"id":1}}"#),
        fields(json!({"workflow__js":{"id":1}}))
    );
}

#[test]
fn every_conflict_goes_to_the_sibling_of_its_type_and_nothing_becomes_text() {
    let mut t = tracker();
    emit(&mut t, r#"{"v":1,"flag":true,"s":"x","ts":1700000000}"#);
    let written = emit(
        &mut t,
        r#"{"v":"one","flag":"yes","s":5,"ts":"2023-11-14"}"#,
    );
    assert_eq!(
        written,
        fields(json!({"v__st":"one","flag__st":"yes","s__in":5,"ts__st":"2023-11-14"}))
    );
    let written = emit(&mut t, r#"{"s":false,"flag":2.5,"v":null}"#);
    assert_eq!(
        written,
        fields(json!({"s__bo":false,"flag__nu":2.5,"v":null}))
    );
    for (field, kind) in [("v", "integer"), ("flag", "boolean"), ("s", "string")] {
        assert_eq!(declared(&t, field), json!(["null", kind]), "{field}");
    }
    assert!(!observe(&mut t, r#"{"v":2,"flag":false,"s":"y","ts":"x"}"#));
}

#[test]
fn a_sibling_name_a_record_already_uses_gets_the_suffix_again() {
    let mut t = tracker();
    emit(&mut t, r#"{"tag":true}"#);
    let written = emit(&mut t, r#"{"tag":"v1","tag__st":"mine"}"#);
    assert_eq!(
        written,
        fields(json!({"tag__st__st":"v1","tag__st":"mine"}))
    );
    // A declared field of that name with another kind is skipped over the same way.
    emit(&mut t, r#"{"n__in":"text","n":"a"}"#);
    assert_eq!(emit(&mut t, r#"{"n":3}"#), fields(json!({"n__in__in":3})));
}

#[test]
fn nulls_before_a_field_is_declared_are_left_out_and_stay_so_in_a_replay() {
    let mut t = tracker();
    assert!(!observe(&mut t, r#"{"gone":null}"#));
    let before = next_sequence();
    assert_eq!(emit_again(&mut t, r#"{"gone":null}"#, before), Map::new());
    emit(&mut t, r#"{"gone":"now"}"#);
    assert_eq!(
        emit(&mut t, r#"{"gone":null}"#),
        fields(json!({"gone":null}))
    );
    assert_eq!(
        emit_again(&mut t, r#"{"gone":null}"#, before),
        Map::new(),
        "a replay of the earlier record writes it as it was"
    );
}

#[test]
fn primary_key_fields_are_declared_before_any_value_as_strings() {
    let mut t = SchemaTracker::in_memory(
        Columns {
            primary_key: vec!["id".into()],
            ..Default::default()
        },
        Catalog::default(),
    );
    assert_eq!(
        declared(&t, "id"),
        json!(["string"]),
        "key columns are non-null"
    );
    assert!(!observe(&mut t, r#"{"id":12345678901234567}"#));
    assert_eq!(
        emit(&mut t, r#"{"id":12345678901234567}"#),
        fields(json!({"id":"12345678901234567"}))
    );
    assert!(
        t.json_schema()["properties"]
            .get("__sdc_primary_key")
            .is_none()
    );
}

#[test]
fn a_persisted_schema_is_never_narrowed_or_changed_on_restart() {
    let dir = tempfile::tempdir().unwrap();
    // A schema file from before this rule: v widened to string, n a number.
    std::fs::write(
        dir.path().join("schema.json"),
        r#"{"version":2,"fields":{"v":"string","n":"number","j":"json"}}"#,
    )
    .unwrap();
    let catalog = Catalog::from_value(
        &json!({"streams": [{"tap_stream_id": "data",
        "schema": {"properties": {"n": {"type": ["null", "integer"]},
                                  "fresh": {"type": ["null", "number"]}}}}]}),
        "data",
    )
    .unwrap();
    let mut t = SchemaTracker::load(dir.path(), Columns::default(), catalog).unwrap();
    assert_eq!(
        declared(&t, "n"),
        json!(["null", "number"]),
        "persisted wins"
    );
    assert_eq!(
        declared(&t, "fresh"),
        json!(["null", "number"]),
        "a catalog declaration declares an unseen field from the start"
    );
    assert_eq!(
        emit(&mut t, r#"{"v":"x","n":3,"fresh":4}"#),
        fields(json!({"v":"x","n":3,"fresh":4}))
    );
    // New conflicts follow the new rule.
    assert_eq!(
        emit(&mut t, r#"{"v":2,"j":"s"}"#),
        fields(json!({"v__in":2,"j__st":"s"}))
    );
    t.persist().unwrap();
    let again = SchemaTracker::load(dir.path(), Columns::default(), Catalog::default()).unwrap();
    assert_eq!(declared(&again, "v"), json!(["null", "string"]));
    assert_eq!(declared(&again, "v__in"), json!(["null", "integer"]));
    assert_eq!(declared(&again, "n"), json!(["null", "number"]));
}

#[test]
fn sdc_columns_and_aliases_are_declared() {
    let t = SchemaTracker::in_memory(
        Columns {
            generated_key: true,
            sequence_alias: Some("webhook_sequence".into()),
            received_at_alias: Some("webhook_received_at".into()),
            ..Default::default()
        },
        Catalog::default(),
    );
    let p = t.json_schema()["properties"].clone();
    assert_eq!(p["_sdc_sequence"], p["webhook_sequence"]);
    assert_eq!(p["_sdc_received_at"]["format"], "date-time");
    assert_eq!(p["webhook_received_at"]["format"], "date-time");
    assert!(p["__sdc_primary_key"].is_object());
}
