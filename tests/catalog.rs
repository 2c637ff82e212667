//! `--discover`, `--catalog` (field selection, pinned types) and the persisted schema.

use crate::common::*;
use serde_json::{Value, json};

/// Starts a tap on `h`, posts `bodies`, stops it.
fn post_all(h: &mut Harness, args: &[&str], bodies: &[&str]) -> Finished {
    let tap = h.start(args);
    for body in bodies {
        assert_eq!(tap.post(body).status, 200, "{body}");
    }
    tap.wait_for_records(bodies.len());
    tap.terminate();
    let done = tap.wait();
    assert!(done.status.success(), "{}", done.stderr);
    done
}

fn discover(h: &Harness, args: &[&str]) -> Value {
    let done = h.run(&[&["--discover"], args].concat());
    assert!(done.status.success(), "{}", done.stderr);
    serde_json::from_slice(&done.stdout).expect("the catalog is JSON")
}

fn metadata_of(stream: &Value, breadcrumb: Value) -> &Value {
    &stream["metadata"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["breadcrumb"] == breadcrumb)
        .unwrap_or_else(|| panic!("no metadata for {breadcrumb}"))["metadata"]
}

#[test]
fn discover_prints_a_catalog_meltano_accepts_with_or_without_state() {
    let mut h = Harness::new(json!({"name": "Stitch Incoming Webhooks", "primary_key": "id"}));
    post_all(&mut h, &[], &[r#"{"id":"a","amount":5,"meta":{"x":1}}"#]);
    let state = h.state_file(&json!({"bookmarks": {"data": {"sequence": 1}}}));
    for args in [vec![], vec!["--state", state.to_str().unwrap()]] {
        let catalog = discover(&h, &args);
        let streams = catalog["streams"].as_array().unwrap();
        assert_eq!(streams.len(), 1);
        let s = &streams[0];
        assert_eq!(
            (s["stream"].clone(), s["tap_stream_id"].clone()),
            (json!("data"), json!("data"))
        );
        assert_eq!(s["key_properties"], json!(["id"]));
        assert_eq!(s["schema"]["type"], "object");
        assert_eq!(
            s["schema"]["properties"]["amount"]["type"],
            json!(["null", "integer"])
        );
        assert_eq!(
            s["schema"]["properties"]["meta"]["type"],
            json!(["null", "object", "array"])
        );
        let top = metadata_of(s, json!([]));
        assert_eq!(top["inclusion"], "available");
        assert_eq!(top["selected-by-default"], true);
        assert_eq!(top["table-key-properties"], json!(["id"]));
        assert_eq!(top["forced-replication-method"], "INCREMENTAL");
        assert_eq!(top["schema-name"], "stitch_incoming_webhooks");
        for field in ["id", "_sdc_sequence", "_sdc_received_at"] {
            assert_eq!(
                metadata_of(s, json!(["properties", field]))["inclusion"],
                "automatic",
                "{field}"
            );
        }
        assert_eq!(
            metadata_of(s, json!(["properties", "amount"]))["inclusion"],
            "available"
        );
        // Every property has metadata and every metadata breadcrumb names a property.
        let props = s["schema"]["properties"].as_object().unwrap();
        assert_eq!(s["metadata"].as_array().unwrap().len(), props.len() + 1);
    }
}

#[test]
fn discover_before_any_webhook_declares_the_key_and_sdc_columns() {
    let h = Harness::new(json!({}));
    let catalog = discover(&h, &[]);
    let props = &catalog["streams"][0]["schema"]["properties"];
    assert!(props["__sdc_primary_key"].is_object());
    assert_eq!(
        catalog["streams"][0]["key_properties"],
        json!(["__sdc_primary_key"])
    );
    assert_eq!(
        metadata_of(
            &catalog["streams"][0],
            json!(["properties", "__sdc_primary_key"])
        )["inclusion"],
        "automatic"
    );
}

#[test]
fn a_catalog_deselects_fields_but_never_keys_or_sdc_columns() {
    let mut h = Harness::new(json!({"primary_key": "id"}));
    let first = post_all(
        &mut h,
        &[],
        &[r#"{"id":"a","email":"x@example.com","plan":"pro"}"#],
    );
    let mut catalog = discover(&h, &[]);
    for m in catalog["streams"][0]["metadata"].as_array_mut().unwrap() {
        if [
            json!(["properties", "email"]),
            json!(["properties", "id"]),
            json!(["properties", "_sdc_sequence"]),
        ]
        .contains(&m["breadcrumb"])
        {
            m["metadata"]["selected"] = json!(false);
        }
    }
    let path = h.tmp.path().join("catalog.json");
    std::fs::write(&path, catalog.to_string()).unwrap();
    let mut state = h.state_file(&last_state(&first.messages()).unwrap());
    for flag in ["--catalog", "--properties"] {
        let done = post_all(
            &mut h,
            &[
                flag,
                path.to_str().unwrap(),
                "--state",
                state.to_str().unwrap(),
            ],
            &[r#"{"id":"b","email":"y@example.com","plan":"free"}"#],
        );
        state = h.state_file(&last_state(&done.messages()).unwrap());
        let messages = done.messages();
        assert_singer_stream(&messages);
        let record = &done.records()[0];
        assert!(record.get("email").is_none(), "{record}");
        assert_eq!(record["plan"], "free");
        assert_eq!(record["id"], "b", "key columns cannot be deselected");
        assert!(record["_sdc_sequence"].is_u64());
        let schema = &messages[0]["schema"]["properties"];
        assert!(
            schema.get("email").is_none()
                && schema.get("id").is_some()
                && schema.get("_sdc_sequence").is_some()
        );
    }
}

#[test]
fn a_catalog_pins_property_types_and_a_value_that_cannot_fit_stops_the_sync() {
    let mut h = Harness::new(json!({}));
    let catalog = json!({"streams": [{
        "tap_stream_id": "data", "stream": "data",
        "schema": {"type": "object", "properties": {
            "created_at": {"type": ["null", "string"], "format": "date-time"},
            "count": {"type": ["null", "integer"], "maximum": 2147483647},
            "note": {"type": ["null", "string"]}
        }},
        "metadata": [{"breadcrumb": [], "metadata": {"selected": true}}]
    }]});
    let path = h.tmp.path().join("catalog.json");
    std::fs::write(&path, catalog.to_string()).unwrap();
    let catalog_args = ["--catalog", path.to_str().unwrap()];
    let done = post_all(
        &mut h,
        &catalog_args,
        &[r#"{"created_at":"2026-11-29T10:00:00Z","count":"42","note":7}"#],
    );
    let messages = done.messages();
    let props = &messages[0]["schema"]["properties"];
    assert_eq!(
        props["created_at"],
        json!({"type": ["null", "string"], "format": "date-time"})
    );
    assert_eq!(props["count"]["maximum"], 2147483647);
    assert_eq!(
        props["note"]["type"],
        json!(["null", "string"]),
        "a canonical type is a seed"
    );
    let record = &done.records()[0];
    assert_eq!(
        record["count"], 42,
        "a string of digits fits a pinned integer"
    );
    assert_eq!(
        record["note__in"], 7,
        "a seed declares the type; a value that does not fit goes to its sibling"
    );
    let state = last_state(&messages).unwrap();

    // A value the pinned type cannot take stops the sync, naming the field; nothing after it.
    let tap = h.start(
        &[
            &catalog_args[..],
            &["--state", h.state_file(&state).to_str().unwrap()],
        ]
        .concat(),
    );
    assert_eq!(
        tap.post(r#"{"created_at":"yesterday","count":1}"#).status,
        200
    );
    let done = tap.wait();
    assert_eq!(done.status.code(), Some(1), "{}", done.stderr);
    assert!(done.stderr.contains("CRITICAL"), "{}", done.stderr);
    assert!(
        done.stderr
            .contains("\"created_at\" is pinned by the catalog as an RFC 3339 date-time string"),
        "{}",
        done.stderr
    );
    assert!(done.records().is_empty());
    assert_eq!(
        last_state(&done.messages()).unwrap(),
        state,
        "the STATE before it resumes there"
    );
}

#[test]
fn a_restart_with_the_persisted_schema_never_changes_a_type() {
    let mut h = Harness::new(json!({}));
    let first = post_all(&mut h, &[], &[r#"{"v":1,"n":1}"#, r#"{"v":"one"}"#]);
    let last_schema = first
        .messages()
        .into_iter()
        .rev()
        .find(|m| m["type"] == "SCHEMA")
        .unwrap();
    assert_eq!(
        last_schema["schema"]["properties"]["v"]["type"],
        json!(["null", "integer"])
    );
    assert_eq!(
        last_schema["schema"]["properties"]["v__st"]["type"],
        json!(["null", "string"])
    );

    // Only integers this time: the first SCHEMA already has v__st, and nothing changes.
    let state = h.state_file(&last_state(&first.messages()).unwrap());
    let second = post_all(
        &mut h,
        &["--state", state.to_str().unwrap()],
        &[r#"{"v":2,"n":3}"#],
    );
    let messages = second.messages();
    let schemas: Vec<&Value> = messages.iter().filter(|m| m["type"] == "SCHEMA").collect();
    assert_eq!(schemas.len(), 1, "no new SCHEMA");
    assert_eq!(schemas[0]["schema"], last_schema["schema"]);
    assert_eq!(second.records()[0]["v"], 2);

    // Discovery shows the same persisted schema.
    let catalog = discover(&h, &[]);
    assert_eq!(catalog["streams"][0]["schema"], schemas[0]["schema"]);
}
