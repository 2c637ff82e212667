use super::*;
use crate::journal::JournalId;
use bytes::Bytes;
use serde_json::Value;

fn entry(first: u64, body: &str, count: u32) -> Entry {
    Entry {
        journal_id: JournalId([1; 16]),
        first_sequence: Sequence::new(first),
        record_count: count,
        received_at: chrono::DateTime::from_timestamp_nanos(1_790_000_000_000_000_000),
        headers: vec![],
        body: Bytes::from(body.to_owned()),
    }
}

fn lines(out: &[u8]) -> Vec<Value> {
    out.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect()
}

fn settings() -> EmitterSettings {
    EmitterSettings {
        key_properties: vec!["__sdc_primary_key".into()],
        columns: Columns {
            generated_key: true,
            ..Default::default()
        },
        ..Default::default()
    }
}

fn run(state: State, entries: &[Entry], settings: EmitterSettings) -> Vec<Value> {
    let mut out = Vec::new();
    let schema = SchemaTracker::in_memory(settings.columns.clone(), Default::default());
    let mut e = Emitter::new(&mut out, schema, state, settings);
    e.start().unwrap();
    for entry in entries {
        if e.emit_entry(entry).unwrap() == Flow::LimitReached {
            break;
        }
    }
    e.finish().unwrap();
    lines(&out)
}

#[test]
fn schema_precedes_records_and_state_is_last() {
    let msgs = run(
        State::default(),
        &[
            entry(100, r#"{"id":1}"#, 1),
            entry(200, r#"[{"id":2},{"id":3,"url":"u"}]"#, 2),
        ],
        settings(),
    );
    let types: Vec<&str> = msgs.iter().map(|m| m["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "SCHEMA", "SCHEMA", "RECORD", "RECORD", "SCHEMA", "RECORD", "STATE"
        ]
    );
    assert_eq!(msgs[5]["record"]["_sdc_sequence"], 201);
    assert_eq!(msgs[6]["value"]["bookmarks"]["data"]["sequence"], 201);
}

#[test]
fn the_same_state_is_never_written_twice_in_a_row() {
    let mut s = settings();
    s.state_cadence = StateCadence::Records(1);
    let mut out = Vec::new();
    let schema = SchemaTracker::in_memory(s.columns.clone(), Default::default());
    let mut e = Emitter::new(&mut out, schema, State::default(), s);
    e.start().unwrap();
    for entry in [entry(100, r#"{"id":1}"#, 1), entry(200, r#"{"id":2}"#, 1)] {
        e.emit_entry(&entry).unwrap();
        e.tick().unwrap();
    }
    e.checkpoint().unwrap();
    e.finish().unwrap();
    let msgs = lines(&out);
    let states: Vec<&Value> = msgs.iter().filter(|m| m["type"] == "STATE").collect();
    assert_eq!(states.len(), 2, "{msgs:?}");
    assert_eq!(states[1]["value"]["bookmarks"]["data"]["sequence"], 200);
    assert_eq!(msgs.last().unwrap()["type"], "STATE");
}

#[test]
fn bookmark_inside_an_entry_skips_exactly_the_records_before_it() {
    let state =
        State::from_value(serde_json::json!({"bookmarks": {"data": {"sequence": 200}}})).unwrap();
    let msgs = run(
        state,
        &[entry(200, r#"[{"id":2},{"id":3}]"#, 2)],
        settings(),
    );
    let records: Vec<&Value> = msgs.iter().filter(|m| m["type"] == "RECORD").collect();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["record"]["id"], 3);
}

#[test]
fn replayed_payloads_get_their_origin_and_a_state_every_n_records() {
    let mut s = settings();
    s.state_cadence = StateCadence::Records(2);
    let mut out = Vec::new();
    let schema = SchemaTracker::in_memory(s.columns.clone(), Default::default());
    let mut e = Emitter::replaying(&mut out, schema, State::default(), s);
    e.start().unwrap();
    let file: Arc<str> = Arc::from("a.ndjson");
    for (line, body) in [(1, r#"{"a":1}"#), (3, r#"[{"a":2},{"a":3}]"#)] {
        let payload = e.parse(body.as_bytes()).unwrap();
        let origin = Origin {
            first_sequence: Sequence::new(line * 100),
            received_at: chrono::DateTime::from_timestamp(1_790_000_000, 0).unwrap(),
            keys: KeySource::Capture {
                line,
                payload: body.as_bytes(),
            },
            place: Place::File { file: &file, line },
            skip: 0,
            headers: &[],
        };
        e.emit_records(&payload, &origin).unwrap();
        e.tick().unwrap();
    }
    drop(e);
    let msgs = lines(&out);
    let types: Vec<&str> = msgs.iter().map(|m| m["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        ["SCHEMA", "SCHEMA", "RECORD", "RECORD", "RECORD", "STATE"],
        "no STATE after one record, one after three"
    );
    assert_eq!(msgs[4]["record"]["_sdc_sequence"], 301);
    assert_eq!(
        msgs[4]["record"]["_sdc_received_at"],
        "2026-09-21T14:13:20.000000Z"
    );
    assert_eq!(
        msgs[5]["value"],
        serde_json::json!({"bookmarks": {"data": {"replay":
            {"file": "a.ndjson", "line": 3, "record": 1, "sequence": 301}}}})
    );
}

fn routed(first: u64, event: &str, body: &str, count: u32) -> Entry {
    let mut e = entry(first, body, count);
    e.headers = vec![Header {
        name: "x-event".into(),
        value: Bytes::from(event.to_owned()),
    }];
    e
}

fn routed_settings() -> EmitterSettings {
    let mut s = settings();
    s.streams.route = Some(crate::convert::routing::Route::Header("x-event".into()));
    s
}

#[test]
fn routed_records_get_their_own_stream_schema_and_bookmark() {
    let entries = [
        routed(10, "push", r#"{"ref":"main"}"#, 1),
        routed(20, "Issues!", r#"[{"n":1},{"n":2}]"#, 2),
        routed(30, "", r#"{"other":true}"#, 1),
    ];
    let msgs = run(State::default(), &entries, routed_settings());
    let schema = |stream: &str| {
        msgs.iter()
            .rev()
            .find(|m| m["type"] == "SCHEMA" && m["stream"] == stream)
            .unwrap()["schema"]["properties"]
            .clone()
    };
    assert!(schema("push").get("ref").is_some() && schema("push").get("n").is_none());
    assert!(schema("issues").get("n").is_some() && schema("issues").get("ref").is_none());
    let streams: Vec<&str> = msgs
        .iter()
        .filter(|m| m["type"] == "RECORD")
        .map(|m| m["stream"].as_str().unwrap())
        .collect();
    assert_eq!(streams, ["push", "issues", "issues", "data"]);
    let state = &msgs.last().unwrap()["value"]["bookmarks"];
    for stream in ["push", "issues", "data"] {
        assert_eq!(state[stream]["sequence"], 30, "{state}");
    }
}

#[test]
fn a_resumed_run_skips_per_stream_and_a_stream_the_state_does_not_name_is_caught_up() {
    let entries = [
        routed(10, "push", r#"{"a":1}"#, 1),
        routed(20, "issues", r#"{"a":2}"#, 1),
        routed(30, "push", r#"{"a":3}"#, 1),
    ];
    // issues is behind; push and (unnamed) others are at 30.
    let state = State::from_value(serde_json::json!({"bookmarks": {
        "push": {"sequence": 30}, "issues": {"sequence": 10}}}))
    .unwrap();
    let msgs = run(state, &entries, routed_settings());
    let records: Vec<(&str, &Value)> = msgs
        .iter()
        .filter(|m| m["type"] == "RECORD")
        .map(|m| (m["stream"].as_str().unwrap(), &m["record"]["a"]))
        .collect();
    assert_eq!(records, [("issues", &Value::from(2))]);
}

#[test]
fn max_records_stops_mid_entry_with_an_exact_bookmark() {
    let mut s = settings();
    s.max_records = Some(2);
    let msgs = run(
        State::default(),
        &[entry(10, r#"[{"a":1},{"a":2},{"a":3}]"#, 3)],
        s,
    );
    let records = msgs.iter().filter(|m| m["type"] == "RECORD").count();
    assert_eq!(records, 2);
    assert_eq!(
        msgs.last().unwrap()["value"]["bookmarks"]["data"]["sequence"],
        11
    );
}
