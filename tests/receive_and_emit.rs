//! The tap end to end: real binary, real HTTP on port 0, real journal on disk. What the
//! listener alone answers (Bearer tokens, refusals) is tested on the listener started in this
//! process, its journal then drained by the real binary.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::TcpStream;

use crate::common::*;
use serde_json::{Value, json};

#[test]
fn object_and_array_bodies_become_records() {
    let mut h = Harness::new(json!({}));
    let tap = h.start(&[]);
    let r = tap.post(r#"{"id":1,"event":"send"}"#);
    assert_eq!((r.status, r.body["records"].clone()), (200, json!(1)));
    let r = tap.post(r#"[{"id":2},{"id":3,"nested":{"a":[1,{"b":null}]}}]"#);
    assert_eq!((r.status, r.body["records"].clone()), (200, json!(2)));
    let records = tap.wait_for_records(3);
    let ids: Vec<Value> = records.iter().map(|r| r["id"].clone()).collect();
    assert_eq!(ids, [json!(1), json!(2), json!(3)]);
    assert_eq!(records[2]["nested"], json!({"a": [1, {"b": null}]}));
    tap.terminate();
    let done = tap.wait();
    assert!(done.status.success(), "{}", done.stderr);
    assert_singer_stream(&done.messages());
}

#[test]
fn the_seeds_three_events_land_in_one_stream_with_missing_fields_absent() {
    let mut h = Harness::new(json!({"primary_key": "id"}));
    let tap = h.start(&[]);
    for body in [
        r#"{"id":1,"timestamp":1481730892,"event":"send"}"#,
        r#"{"id":2,"action":"add","type":"whitelist"}"#,
        r#"{"id":3,"timestamp":1481732465,"event":"click","ip":"54.88.76.97","url":"http://hi.com"}"#,
    ] {
        assert_eq!(tap.post(body).status, 200);
    }
    tap.wait_for_records(3);
    tap.terminate();
    let done = tap.wait();
    let messages = done.messages();
    assert_singer_stream(&messages);
    let records = done.records();
    assert_eq!(records[0]["event"], "send");
    assert!(records[0].get("action").is_none() && records[0].get("url").is_none());
    assert_eq!(records[1]["type"], "whitelist");
    assert!(records[1].get("timestamp").is_none());
    assert_eq!(records[2]["url"], "http://hi.com");
    let last_schema = messages
        .iter()
        .rev()
        .find(|m| m["type"] == "SCHEMA")
        .unwrap();
    for field in ["id", "timestamp", "event", "action", "type", "ip", "url"] {
        assert!(
            last_schema["schema"]["properties"].get(field).is_some(),
            "{field} declared"
        );
    }
    assert_eq!(last_schema["key_properties"], json!(["id"]));
    assert!(records.iter().all(|r| r.get("__sdc_primary_key").is_none()));
}

#[test]
fn bearer_token_authenticates_post_to_webhooks() {
    let mut h = Harness::new(json!({}));
    let tap = h.serve_in_process();
    let url = format!("{}/webhooks", tap.base);
    let ok = tap.send(
        tap.client()
            .post(&url)
            .bearer_auth(&tap.token)
            .header("content-type", "application/json")
            .body(r#"{"via":"bearer"}"#),
    );
    assert_eq!(ok.status, 200, "{:?}", ok.body);
    let missing = tap.send(tap.client().post(&url).body("{}"));
    assert_eq!(missing.status, 401);
    assert!(missing.body["error"].as_str().unwrap().contains("Bearer"));
    let wrong = tap.send(
        tap.client()
            .post(&url)
            .bearer_auth("0".repeat(64))
            .body("{}"),
    );
    assert_eq!(wrong.status, 401);
    tap.stop();
    let records = h.drain(None).records();
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["via"], "bearer");
}

/// Every refusal has its status and a JSON error body, and writes nothing.
#[test]
fn each_refusal_has_its_status_a_json_error_and_writes_nothing() {
    let mut h = Harness::new(json!({"primary_key": "id", "max_body_bytes": 1000}));
    let tap = h.serve_in_process();
    let url = tap.url();
    let c = tap.client();
    let json_post = |body: &str| {
        c.post(&url)
            .header("content-type", "application/json")
            .body(body.to_owned())
    };

    let cases: Vec<(&str, reqwest::blocking::RequestBuilder, u16)> = vec![
        ("malformed JSON", json_post(r#"{"id":1,"#), 400),
        (
            "invalid UTF-8",
            json_post("").body(b"{\"id\":1,\"s\":\"\xff\xfe\"}".to_vec()),
            400,
        ),
        (
            "unknown token",
            c.post(format!("{}/webhooks/{}", tap.base, "ab".repeat(32)))
                .body("{}"),
            401,
        ),
        ("GET", c.get(&url), 405),
        ("PUT", c.put(&url).body(r#"{"id":1}"#), 405),
        (
            "too large by Content-Length",
            json_post(&format!(r#"{{"id":1,"pad":"{}"}}"#, "x".repeat(2000))),
            413,
        ),
        (
            "an image",
            c.post(&url)
                .header("content-type", "image/png")
                .body("id=1"),
            415,
        ),
        ("a string", json_post(r#""hello""#), 422),
        (
            "array with a bad element",
            json_post(r#"[{"id":1},{"id":2},7]"#),
            422,
        ),
        ("key missing", json_post(r#"{"name":"x"}"#), 422),
        (
            "key null in one element",
            json_post(r#"[{"id":1},{"id":null}]"#),
            422,
        ),
        ("key is an object", json_post(r#"{"id":{"a":1}}"#), 422),
        (
            "unknown path",
            c.post(format!("{}/hooks", tap.base)).body("{}"),
            404,
        ),
    ];
    for (what, request, status) in cases {
        let reply = tap.send(request);
        assert_eq!(reply.status, status, "{what}: {:?}", reply.body);
        let error = reply.body["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{what}: JSON error body: {:?}", reply.body));
        assert!(!error.is_empty());
        if status == 405 {
            assert_eq!(reply.headers["allow"], "POST, HEAD", "{what}");
        }
    }
    // Error messages name the problem.
    let reply = tap.send(json_post(r#"[{"id":1},{"id":null}]"#));
    assert_eq!(
        reply.body["error"],
        "element 1: primary key field \"id\" is null"
    );

    // A body without Content-Length (chunked) is cut off at the limit while streaming.
    let chunked = chunked_post(&tap, &format!(r#"{{"id":1,"pad":"{}"}}"#, "y".repeat(5000)));
    assert!(chunked.starts_with("HTTP/1.1 413"), "{chunked}");
    assert!(chunked.contains(r#""error""#), "{chunked}");
    let small_chunked = chunked_post(&tap, r#"{"id":"chunked"}"#);
    assert!(small_chunked.starts_with("HTTP/1.1 200"), "{small_chunked}");

    assert_eq!(tap.post(r#"{"id":"last"}"#).status, 200);
    tap.stop();
    let ids: Vec<Value> = h
        .drain(None)
        .records()
        .iter()
        .map(|r| r["id"].clone())
        .collect();
    assert_eq!(
        ids,
        [json!("chunked"), json!("last")],
        "only accepted requests were written"
    );
}

/// POSTs `body` with `Transfer-Encoding: chunked` over a raw socket; returns the response.
fn chunked_post(tap: &impl Listener, body: &str) -> String {
    let mut s = TcpStream::connect(tap.addr()).unwrap();
    let head = format!(
        "POST /webhooks/{} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        tap.token()
    );
    s.write_all(head.as_bytes()).unwrap();
    for chunk in body.as_bytes().chunks(700) {
        let _ = s.write_all(format!("{:x}\r\n", chunk.len()).as_bytes());
        let _ = s.write_all(chunk);
        let _ = s.write_all(b"\r\n");
    }
    let _ = s.write_all(b"0\r\n\r\n");
    let mut response = String::new();
    let _ = s.read_to_string(&mut response);
    response
}

#[test]
fn generated_keys_are_unique_and_stable_when_the_journal_is_emitted_again() {
    let mut h = Harness::new(json!({}));
    let tap = h.start(&[]);
    assert_eq!(tap.post(r#"[{"a":1},{"a":1},{"a":1}]"#).status, 200);
    assert_eq!(tap.post(r#"{"a":1}"#).status, 200);
    let first: Vec<Value> = tap.wait_for_records(4);
    tap.terminate();
    assert!(tap.wait().status.success());
    let keys: HashSet<String> = first
        .iter()
        .map(|r| r["__sdc_primary_key"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(keys.len(), 4, "unique per record");

    // Emitting the same journal again (no state) gives the same keys and sequences.
    h.set_config(json!({"listen": false}));
    let again = h.run(&[]);
    assert!(again.status.success(), "{}", again.stderr);
    let pairs = |rs: &[Value]| -> Vec<(Value, Value)> {
        rs.iter()
            .map(|r| (r["__sdc_primary_key"].clone(), r["_sdc_sequence"].clone()))
            .collect()
    };
    assert_eq!(pairs(&again.records()), pairs(&first));
    let schema = &again.messages()[0];
    assert_eq!(schema["key_properties"], json!(["__sdc_primary_key"]));
}

#[test]
fn append_only_keys_by_generated_key_and_still_requires_the_configured_key() {
    let mut h = Harness::new(json!({"primary_key": "id", "append_only": true}));
    let tap = h.start(&[]);
    assert_eq!(tap.post(r#"{"id":7,"v":1}"#).status, 200);
    assert_eq!(tap.post(r#"{"v":2}"#).status, 422);
    let r = tap.wait_for_records(1);
    // Key fields are declared string from the first SCHEMA, so integer keys come as text.
    assert_eq!(r[0]["id"], "7");
    assert!(r[0]["__sdc_primary_key"].is_string());
    assert_eq!(
        tap.messages()[0]["key_properties"],
        json!(["__sdc_primary_key"])
    );
}

#[test]
fn sequences_increase_strictly_across_a_restart_and_state_resumes_exactly() {
    let mut h = Harness::new(json!({}));
    let tap = h.start(&[]);
    for i in 0..5 {
        assert_eq!(
            tap.post(&format!(r#"[{{"run":1,"i":{i}}},{{"run":1,"i":{i}}}]"#))
                .status,
            200
        );
    }
    tap.wait_for_records(10);
    tap.terminate();
    let first = tap.wait();
    assert!(first.status.success());
    let state = last_state(&first.messages()).expect("a STATE");
    assert_eq!(first.messages().last().unwrap()["type"], "STATE");

    // Journaled while no sync is running: the next run must emit exactly these.
    h.set_config(json!({}));
    let state_path = h.state_file(&state);
    let tap = h.start(&["--state", state_path.to_str().unwrap()]);
    for i in 0..3 {
        assert_eq!(tap.post(&format!(r#"{{"run":2,"i":{i}}}"#)).status, 200);
    }
    tap.wait_for_records(3);
    tap.terminate();
    let second = tap.wait();
    assert!(second.status.success());
    let second_records = second.records();
    assert_eq!(second_records.len(), 3, "nothing re-emitted, nothing lost");
    assert!(second_records.iter().all(|r| r["run"] == 2));

    let seqs: Vec<u64> = first
        .records()
        .iter()
        .chain(second_records.iter())
        .map(|r| r["_sdc_sequence"].as_u64().unwrap())
        .collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "strictly increasing: {seqs:?}"
    );
    assert!(
        seqs.iter().all(|s| s.to_string().len() == 19),
        "19 digits: {seqs:?}"
    );
}

#[test]
fn drain_mode_emits_the_backlog_after_the_state_and_exits() {
    let mut h = Harness::new(json!({}));
    let tap = h.start(&[]);
    for i in 0..4 {
        assert_eq!(tap.post(&format!(r#"{{"i":{i}}}"#)).status, 200);
    }
    let live = tap.wait_for_records(4);
    tap.terminate();
    assert!(tap.wait().status.success());

    h.set_config(json!({"listen": false}));
    let bookmark = json!({"bookmarks": {"data": {"sequence": live[1]["_sdc_sequence"]}}});
    let done = h.run(&["--state", h.state_file(&bookmark).to_str().unwrap()]);
    assert!(done.status.success(), "{}", done.stderr);
    let is: Vec<Value> = done.records().iter().map(|r| r["i"].clone()).collect();
    assert_eq!(is, [json!(2), json!(3)]);
    assert_eq!(
        last_state(&done.messages()).unwrap()["bookmarks"]["data"]["sequence"],
        live[3]["_sdc_sequence"]
    );

    // Caught up: a drain with the final state emits SCHEMA and STATE only.
    let state = last_state(&done.messages()).unwrap();
    let empty = h.run(&["--state", h.state_file(&state).to_str().unwrap()]);
    let types: Vec<Value> = empty.messages().iter().map(|m| m["type"].clone()).collect();
    assert_eq!(types, [json!("SCHEMA"), json!("STATE")]);
}

#[test]
fn max_records_ends_the_sync_cleanly_and_the_rest_comes_next_run() {
    let mut h = Harness::new(json!({"max_records": 3}));
    let tap = h.start(&[]);
    assert_eq!(tap.post(r#"[{"i":0},{"i":1}]"#).status, 200);
    assert_eq!(tap.post(r#"[{"i":2},{"i":3}]"#).status, 200);
    let done = tap.wait();
    assert!(done.status.success(), "{}", done.stderr);
    assert_eq!(done.records().len(), 3);
    assert_eq!(done.messages().last().unwrap()["type"], "STATE");
    assert!(done.stderr.contains("max_records reached"));

    h.set_config(json!({"listen": false}));
    let state = last_state(&done.messages()).unwrap();
    let rest = h.run(&["--state", h.state_file(&state).to_str().unwrap()]);
    let is: Vec<Value> = rest.records().iter().map(|r| r["i"].clone()).collect();
    assert_eq!(is, [json!(3)]);
}

#[test]
fn max_run_seconds_and_idle_timeout_end_the_sync_with_exit_0() {
    let mut h = Harness::new(json!({"max_run_seconds": 0.5}));
    let done = h.start(&[]).wait();
    assert!(done.status.success());
    assert!(
        done.stderr.contains("max_run_seconds reached"),
        "{}",
        done.stderr
    );
    assert_eq!(done.messages().last().unwrap()["type"], "STATE");

    h.set_config(json!({"idle_timeout_seconds": 1.0}));
    let tap = h.start(&[]);
    assert_eq!(tap.post(r#"{"a":1}"#).status, 200);
    let done = tap.wait();
    assert!(done.status.success());
    assert!(
        done.stderr.contains("idle_timeout_seconds"),
        "{}",
        done.stderr
    );
    assert_eq!(done.records().len(), 1);
}

/// A sync that ends after its interval STATE was written does not write the same STATE again.
#[test]
fn a_sync_that_ends_writes_its_final_state_once() {
    let mut h = Harness::new(json!({}));
    let tap = h.start(&[]);
    assert_eq!(tap.post(r#"{"a":1}"#).status, 200);
    // The interval STATE (a second after the record) is out before the sync ends.
    wait_for("the interval STATE", || {
        tap.messages()
            .iter()
            .any(|m| m["type"] == "STATE")
            .then_some(())
    });
    tap.terminate();
    let done = tap.wait();
    assert!(done.status.success(), "{}", done.stderr);
    let messages = done.messages();
    assert_eq!(messages.last().unwrap()["type"], "STATE");
    for pair in messages.windows(2) {
        assert!(
            !(pair[0]["type"] == "STATE" && pair[0] == pair[1]),
            "the same STATE twice in a row: {}",
            pair[0]
        );
    }
    assert_eq!(
        messages.iter().filter(|m| m["type"] == "STATE").count(),
        1,
        "{messages:?}"
    );
}

/// SIGTERM: new requests get 503, the request in flight finishes and is emitted, STATE last,
/// exit 0.
#[test]
fn sigterm_refuses_new_requests_finishes_those_in_flight_and_exits_0_with_state_last() {
    let mut h = Harness::new(json!({}));
    let tap = h.start(&[]);
    assert_eq!(tap.post(r#"{"phase":"before"}"#).status, 200);

    // A request in flight: with `Expect: 100-continue`, hyper answers `100 Continue` only
    // when the handler starts reading the body, so the request is in flight from then on.
    let body = br#"{"phase":"in flight"}"#;
    let mut slow = TcpStream::connect(tap.addr()).unwrap();
    write!(
        slow,
        "POST /webhooks/{} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        tap.token,
        body.len()
    )
    .unwrap();
    let mut interim = Vec::new();
    let mut byte = [0u8; 1];
    while !interim.ends_with(b"\r\n\r\n") {
        slow.read_exact(&mut byte).unwrap();
        interim.push(byte[0]);
    }
    assert!(
        interim.starts_with(b"HTTP/1.1 100"),
        "{}",
        String::from_utf8_lossy(&interim)
    );

    tap.terminate();
    let refused = wait_for("503 while stopping", || {
        let r = tap.post(r#"{"phase":"during stop"}"#);
        (r.status == 503).then_some(r)
    });
    assert_eq!(refused.headers["retry-after"], "5");
    assert!(
        refused.body["error"]
            .as_str()
            .unwrap()
            .contains("shutting down")
    );

    slow.write_all(body).unwrap();
    let mut response = String::new();
    slow.read_to_string(&mut response).ok();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");

    let done = tap.wait();
    assert!(done.status.success(), "{}", done.stderr);
    let messages = done.messages();
    assert_eq!(messages.last().unwrap()["type"], "STATE");
    let phases: HashSet<String> = done
        .records()
        .iter()
        .map(|r| r["phase"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        phases.contains("before") && phases.contains("in flight"),
        "{phases:?}"
    );
    // Whatever was accepted during the stop (200) was emitted; what got 503 was not.
    let last_seq = last_state(&messages).unwrap()["bookmarks"]["data"]["sequence"].clone();
    assert_eq!(last_seq, done.records().last().unwrap()["_sdc_sequence"]);
}

#[test]
fn a_second_writer_on_the_same_data_dir_is_refused_naming_the_holder() {
    let mut h = Harness::new(json!({}));
    let tap = h.start(&[]);
    assert_second_writer_refused(&h, &format!("pid {} (sync)", tap.pid()));
}

#[test]
fn bad_config_is_one_line_on_stderr_and_exit_2() {
    let h = Harness::new(json!({"primary_key": "k".repeat(51)}));
    let done = h.run(&[]);
    assert_eq!(done.status.code(), Some(2));
    let lines: Vec<&str> = done.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", done.stderr);
    assert!(
        lines[0].starts_with("CRITICAL ")
            && lines[0].contains("primary_key")
            && lines[0].contains("at most 50"),
        "{}",
        lines[0]
    );

    let h = Harness::new(json!({"colour": "blue"}));
    let done = h.run(&[]);
    assert_eq!(done.status.code(), Some(2));
    assert!(
        done.stderr.contains("unknown field `colour`"),
        "{}",
        done.stderr
    );
    assert!(done.stdout.is_empty());
}

#[test]
fn a_journal_write_failure_answers_500_and_nothing_is_acknowledged() {
    // Tiny segments: every commit past the first few KB creates a new segment file.
    let mut h = Harness::new(json!({"journal_segment_bytes": 4096}));
    let tap = h.start(&[]);
    let pad = "p".repeat(1500);
    for i in 0..4 {
        assert_eq!(
            tap.post(&format!(r#"{{"i":{i},"pad":"{pad}"}}"#)).status,
            200
        );
    }
    tap.wait_for_records(4);
    // Remove the journal directory: creating the next segment fails.
    std::fs::remove_dir_all(h.data_dir().join("journal")).unwrap();
    let failed = (0..4)
        .map(|i| tap.post(&format!(r#"{{"i":{},"pad":"{pad}"}}"#, 10 + i)))
        .find(|r| r.status != 200)
        .expect("a write fails once the segment is full");
    assert_eq!(failed.status, 500, "{:?}", failed.body);
    assert!(
        failed.body["error"]
            .as_str()
            .unwrap()
            .contains("could not be stored")
    );
    tap.terminate();
    let done = tap.wait();
    let acked = done.records().len();
    assert!(done.stderr.contains("ERROR"), "{}", done.stderr);
    // Only requests answered 200 were emitted.
    assert!((4..=7).contains(&acked), "{acked}");
}

#[test]
fn a_torn_tail_is_truncated_on_restart_and_acknowledged_entries_survive() {
    let mut h = Harness::new(json!({}));
    let tap = h.start(&[]);
    for i in 0..3 {
        assert_eq!(tap.post(&format!(r#"{{"i":{i}}}"#)).status, 200);
    }
    tap.wait_for_records(3);
    tap.terminate();
    assert!(tap.wait().status.success());

    // Half a frame after the last entry (over the zeros prepared ahead of the writer), as a
    // crash in the middle of a write would leave.
    let journal = h.data_dir().join("journal");
    let segment = std::fs::read_dir(&journal)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "twj"))
        .unwrap();
    let bytes = std::fs::read(&segment).unwrap();
    // After the 32-byte segment header, frames of `length u32 LE | crc u32 | payload`.
    let mut end = 32;
    while end + 4 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[end..end + 4].try_into().unwrap()) as usize;
        if len == 0 {
            break;
        }
        end += 8 + len;
    }
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&segment)
        .unwrap();
    std::os::unix::fs::FileExt::write_all_at(
        &f,
        &[200, 0, 0, 0, 1, 2, 3, 4, b'{', b'"'],
        end as u64,
    )
    .unwrap();
    drop(f);

    let tap = h.start(&[]);
    assert!(tap.stderr().contains("torn tail"), "{}", tap.stderr());
    assert_eq!(tap.post(r#"{"i":3}"#).status, 200);
    tap.wait_for_records(4);
    tap.terminate();
    let done = tap.wait();
    let is: Vec<Value> = done.records().iter().map(|r| r["i"].clone()).collect();
    assert_eq!(is, [json!(0), json!(1), json!(2), json!(3)]);
}

#[test]
fn first_start_prints_the_url_once_and_later_starts_never_do() {
    let mut h = Harness::new(json!({}));
    let tap = h.start(&[]);
    let token = h.token.clone().unwrap();
    assert_eq!(tap.stderr().matches(&token).count(), 1);
    tap.terminate();
    let done = tap.wait();
    assert!(!String::from_utf8_lossy(&done.stdout).contains(&token));

    let tap = h.start(&[]);
    assert_eq!(tap.post("{}").status, 200, "the first token still works");
    tap.terminate();
    let done = tap.wait();
    assert!(!done.stderr.contains("/webhooks/"), "{}", done.stderr);
    // Only the digest is stored.
    for entry in files_under(&h.data_dir()) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(&token),
            "{}",
            entry.display()
        );
    }
}
