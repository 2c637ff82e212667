//! `replay`: captured files and the journal, through the real binary.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use crate::common::*;
use serde_json::{Value, json};

/// Runs `tap-webhooks replay --config C ARGS...` to its end.
fn replay(h: &Harness, args: &[&str]) -> Finished {
    Tap::spawn(replay_command(h, args)).wait()
}

fn replay_command(h: &Harness, args: &[&str]) -> Command {
    let mut cmd = Command::new(bin());
    cmd.arg("replay")
        .arg("--config")
        .arg(&h.config_path)
        .args(args);
    cmd
}

/// Runs a replay with `input` on a pipe as stdin.
fn replay_stdin(h: &Harness, args: &[&str], input: &[u8]) -> Finished {
    let mut child = replay_command(h, args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().expect("wait");
    writer.join().expect("writer").expect("write stdin");
    Finished {
        status: out.status,
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn ok(done: Finished) -> Finished {
    assert!(done.status.success(), "replay failed:\n{}", done.stderr);
    assert_singer_stream(&done.messages());
    done
}

fn write(path: &Path, content: &[u8]) -> PathBuf {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).unwrap();
    }
    fs::write(path, content).unwrap();
    path.to_owned()
}

fn gzip(content: &[u8], mtime: u32) -> Vec<u8> {
    let mut gz = flate2::GzBuilder::new()
        .mtime(mtime)
        .write(Vec::new(), flate2::Compression::fast());
    gz.write_all(content).unwrap();
    gz.finish().unwrap()
}

fn set_mtime(path: &Path, unix_seconds: u64) {
    File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(unix_seconds))
        .unwrap();
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Provider fields only (the `_sdc` columns removed).
fn fields(records: &[Value]) -> Vec<Value> {
    records
        .iter()
        .map(|r| {
            let mut r = r.clone();
            let obj = r.as_object_mut().unwrap();
            obj.retain(|k, _| !k.starts_with("_sdc") && k != "__sdc_primary_key");
            r
        })
        .collect()
}

fn column(records: &[Value], name: &str) -> Vec<Value> {
    records.iter().map(|r| r[name].clone()).collect()
}

/// RECORD lines exactly as printed.
fn record_lines(out: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(out)
        .lines()
        .filter(|l| l.starts_with(r#"{"type":"RECORD""#))
        .map(str::to_owned)
        .collect()
}

const CAPTURE: &str = concat!(
    r#"{"id":"evt_1","type":"charge.succeeded","amount":1200}"#,
    "\n\n",
    r#"[{"id":"evt_2","type":"a"},{"id":"evt_3","type":"b","extra":true}]"#,
    "\r\n",
    r#"{"id":"evt_4","type":"charge.refunded","amount":1200}"#,
    "\n",
);

#[test]
fn ndjson_gives_one_payload_per_line_with_arrays_split_and_times_from_the_file() {
    let h = Harness::new(json!({}));
    let file = write(&h.tmp.path().join("capture.ndjson"), CAPTURE.as_bytes());
    set_mtime(&file, 1_780_000_000);
    let done = ok(replay(&h, &[s(&file)]));
    let records = done.records();
    assert_eq!(
        column(&records, "id"),
        [
            json!("evt_1"),
            json!("evt_2"),
            json!("evt_3"),
            json!("evt_4")
        ]
    );
    assert_eq!(records[2]["extra"], true);
    // Received at the file's modification time; sequences count up from it in input order.
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r["_sdc_received_at"], "2026-05-28T20:26:40.000000Z");
        assert_eq!(r["_sdc_sequence"], 1_780_000_000_000_000_000u64 + i as u64);
    }
    let keys: HashSet<&str> = records
        .iter()
        .map(|r| r["__sdc_primary_key"].as_str().unwrap())
        .collect();
    assert_eq!(keys.len(), 4, "one key per record");
    assert!(
        done.stderr.contains("replayed 1 file: 4 records"),
        "{}",
        done.stderr
    );
    assert_eq!(
        last_state(&done.messages()).unwrap()["bookmarks"]["data"]["replay"],
        json!({"file": s(&file), "line": 4, "record": 0, "sequence": 1_780_000_000_000_000_003u64})
    );
}

#[test]
fn a_json_file_is_one_payload_pretty_printed_object_or_array() {
    let h = Harness::new(json!({"primary_key": "id"}));
    let one = write(
        &h.tmp.path().join("one.json"),
        b"{\n  \"id\": 1,\n  \"nested\": {\"a\": [1, 2]}\n}\n",
    );
    let many = write(&h.tmp.path().join("many.json"), br#"[{"id":2},{"id":3}]"#);
    let done = ok(replay(&h, &[s(&one), s(&many)]));
    assert_eq!(
        fields(&done.records()),
        [
            json!({"id": "1", "nested": {"a": [1, 2]}}),
            json!({"id": "2"}),
            json!({"id": "3"})
        ],
        "key fields are declared strings before any value arrives"
    );
    assert!(done.stdout.split(|&b| b == b'\n').count() > 3);
    assert!(
        done.records()
            .iter()
            .all(|r| r.get("__sdc_primary_key").is_none()),
        "a configured primary key replaces the generated one"
    );
}

#[test]
fn a_directory_is_read_recursively_in_name_order() {
    let h = Harness::new(json!({}));
    let dir = h.tmp.path().join("captures");
    write(&dir.join("b.ndjson"), b"{\"n\":4}\n");
    write(&dir.join("a/2.json"), b"{\"n\":2}");
    write(&dir.join("a/1/x.jsonl"), b"{\"n\":1}\n");
    write(&dir.join("a-z.ndjson.gz"), &gzip(b"{\"n\":3}\n", 0));
    write(&dir.join("README.md"), b"not a payload");
    write(&dir.join(".hidden.json"), b"{\"n\":99}");
    let done = ok(replay(&h, &[s(&dir)]));
    assert_eq!(
        column(&done.records(), "n"),
        [json!(1), json!(2), json!(3), json!(4)]
    );
    assert!(done.stderr.contains("replayed 4 files"), "{}", done.stderr);
}

#[test]
fn stdin_and_gzip_give_the_same_records_and_keys_as_the_plain_file() {
    let h = Harness::new(json!({}));
    let plain = write(&h.tmp.path().join("c.ndjson"), CAPTURE.as_bytes());
    let gz = write(
        &h.tmp.path().join("c.ndjson.gz"),
        &gzip(CAPTURE.as_bytes(), 0),
    );
    let at = ["--received-at", "2026-01-02T03:04:05Z"];
    let from_file = ok(replay(&h, &[&at[..], &[s(&plain)]].concat()));
    let from_gz = ok(replay(&h, &[&at[..], &[s(&gz)]].concat()));
    let from_stdin = ok(replay_stdin(
        &h,
        &[&at[..], &["-"]].concat(),
        CAPTURE.as_bytes(),
    ));
    let gz_on_stdin = ok(replay_stdin(
        &h,
        &[&at[..], &["-"]].concat(),
        &gzip(CAPTURE.as_bytes(), 0),
    ));
    assert_eq!(from_file.records().len(), 4);
    assert_eq!(
        from_file.records()[0]["_sdc_received_at"],
        "2026-01-02T03:04:05.000000Z"
    );
    for other in [&from_gz, &from_stdin, &gz_on_stdin] {
        assert_eq!(other.records(), from_file.records());
    }
}

#[test]
fn a_gzip_capture_time_gives_received_at_and_a_pipe_without_one_gets_the_epoch() {
    let h = Harness::new(json!({}));
    let gz = write(
        &h.tmp.path().join("c.ndjson.gz"),
        &gzip(b"{\"a\":1}\n", 1_700_000_000),
    );
    set_mtime(&gz, 1_780_000_000);
    let done = ok(replay(&h, &[s(&gz)]));
    assert_eq!(
        done.records()[0]["_sdc_received_at"],
        "2023-11-14T22:13:20.000000Z"
    );

    let piped = ok(replay_stdin(&h, &["-"], b"{\"a\":1}\n"));
    assert_eq!(
        piped.records()[0]["_sdc_received_at"],
        "1970-01-01T00:00:00.000000Z"
    );
    assert!(piped.stderr.contains("--received-at"), "{}", piped.stderr);
}

#[test]
fn replaying_the_same_inputs_twice_gives_byte_identical_output() {
    let h = Harness::new(json!({}));
    let dir = h.tmp.path().join("in");
    write(&dir.join("a.ndjson"), CAPTURE.as_bytes());
    write(
        &dir.join("b.json"),
        br#"{"late_field":"x","amount":"12.00"}"#,
    );
    let first = ok(replay(&h, &[s(&dir)]));
    let second = ok(replay(&h, &[s(&dir)]));
    assert_eq!(first.records().len(), 5);
    assert!(first.stdout == second.stdout, "outputs differ");
    assert!(
        !h.data_dir().join("schema.json").exists(),
        "a file replay saves nothing in data_dir"
    );
}

#[test]
fn a_file_replay_starts_from_the_types_syncs_declared_and_leaves_them_unchanged() {
    let mut h = Harness::new(json!({}));
    let tap = h.start(&[]);
    assert_eq!(tap.post(r#"{"amount":"12.00"}"#).status, 200);
    tap.wait_for_records(1);
    tap.terminate();
    assert!(tap.wait().status.success());
    let persisted = fs::read(h.data_dir().join("schema.json")).unwrap();

    let file = write(
        &h.tmp.path().join("c.ndjson"),
        b"{\"amount\":1200,\"new\":true}\n",
    );
    let done = ok(replay(&h, &[s(&file)]));
    let first_schema = &done.messages()[0];
    assert_eq!(
        first_schema["schema"]["properties"]["amount"]["type"],
        json!(["null", "string"]),
        "the column keeps the type the sync gave it"
    );
    assert_eq!(
        done.records()[0]["amount__in"],
        1200,
        "an integer goes to its sibling"
    );
    assert_eq!(done.records()[0]["new"], true);
    assert_eq!(
        fs::read(h.data_dir().join("schema.json")).unwrap(),
        persisted,
        "the persisted schema is left as it was"
    );
}

#[test]
fn journal_replay_re_emits_the_live_records_byte_for_byte() {
    let mut h = Harness::new(json!({}));
    let tap = h.start(&[]);
    for body in [
        r#"{"id":1,"event":"send"}"#,
        r#"[{"id":2},{"id":3,"url":"http://hi.com"}]"#,
        r#"{"id":4,"event":"click","ip":"54.88.76.97"}"#,
    ] {
        assert_eq!(tap.post(body).status, 200);
    }
    tap.wait_for_records(4);
    tap.terminate();
    let live = tap.wait();
    assert!(live.status.success(), "{}", live.stderr);

    let reset = ok(replay(&h, &["--journal"]));
    assert_eq!(record_lines(&reset.stdout), record_lines(&live.stdout));
    assert_eq!(record_lines(&reset.stdout).len(), 4);
    let bookmark = last_state(&reset.messages()).unwrap();
    assert_eq!(bookmark, last_state(&live.messages()).unwrap());
    assert!(
        reset.stderr.contains("replayed the journal: 4 records"),
        "{}",
        reset.stderr
    );

    // From a bookmark, only what comes after it.
    let after_first = live.records()[0]["_sdc_sequence"].clone();
    let state = h.state_file(&json!({"bookmarks": {"data": {"sequence": after_first}}}));
    let rest = ok(replay(&h, &["--journal", "--state", s(&state)]));
    assert_eq!(record_lines(&rest.stdout), record_lines(&live.stdout)[1..]);
}

#[test]
fn a_run_given_the_state_continues_after_it_even_inside_an_array() {
    let mut h = Harness::new(json!({"max_records": 3}));
    let dir = h.tmp.path().join("in");
    write(&dir.join("a.ndjson"), CAPTURE.as_bytes());
    write(
        &dir.join("b.ndjson"),
        b"{\"id\":\"evt_5\"}\n{\"id\":\"evt_6\"}\n",
    );
    let stopped = ok(replay(&h, &[s(&dir)]));
    assert_eq!(
        column(&stopped.records(), "id"),
        [json!("evt_1"), json!("evt_2"), json!("evt_3")]
    );
    let state = last_state(&stopped.messages()).unwrap();
    assert_eq!(state["bookmarks"]["data"]["replay"]["line"], 3);
    assert_eq!(state["bookmarks"]["data"]["replay"]["record"], 1);

    h.set_config(json!({}));
    let state_file = h.state_file(&state);
    let resumed = ok(replay(&h, &["--state", s(&state_file), s(&dir)]));
    let full = ok(replay(&h, &[s(&dir)]));
    let mut joined = record_lines(&stopped.stdout);
    joined.extend(record_lines(&resumed.stdout));
    assert_eq!(joined, record_lines(&full.stdout));
    assert_eq!(joined.len(), 6);

    // Given the final STATE, nothing is left to emit.
    let done_state = h.state_file(&last_state(&resumed.messages()).unwrap());
    let nothing = ok(replay(&h, &["--state", s(&done_state), s(&dir)]));
    assert!(nothing.records().is_empty());
}

#[test]
fn an_invalid_line_stops_the_replay_naming_file_line_and_column_and_the_state_resumes() {
    let h = Harness::new(json!({}));
    let file = h.tmp.path().join("bad.ndjson");
    let good = "{\"n\":1}\n{\"n\":2}\n";
    write(&file, format!("{good}{{\"n\":3,\n{{\"n\":4}}\n").as_bytes());
    let failed = replay(&h, &[s(&file)]);
    assert!(!failed.status.success());
    let critical = failed
        .stderr
        .lines()
        .find(|l| l.starts_with("CRITICAL"))
        .unwrap_or_else(|| panic!("no CRITICAL line:\n{}", failed.stderr));
    assert!(
        critical.contains(&format!("{}:3:7: malformed JSON", s(&file))),
        "{critical}"
    );
    assert_eq!(column(&failed.records(), "n"), [json!(1), json!(2)]);
    let messages = failed.messages();
    assert_eq!(
        messages.last().unwrap()["type"],
        "STATE",
        "nothing after it"
    );
    assert_eq!(
        last_state(&messages).unwrap()["bookmarks"]["data"]["replay"]["line"],
        2
    );

    // Fixed, and resumed from the STATE before the error: the rest, and only the rest.
    write(
        &file,
        format!("{good}{{\"n\":3}}\n{{\"n\":4}}\n").as_bytes(),
    );
    let state = h.state_file(&last_state(&messages).unwrap());
    let resumed = ok(replay(&h, &["--state", s(&state), s(&file)]));
    assert_eq!(column(&resumed.records(), "n"), [json!(3), json!(4)]);
}

#[test]
fn a_replay_counts_records_once_per_stream_and_a_failed_one_says_it_failed() {
    let h = Harness::new(json!({"route": {"field": "type"}}));
    let routed = "{\"type\":\"push\"}\n[{\"type\":\"push\"},{\"type\":\"issues\"}]\n{\"n\":1}\n";
    let file = write(&h.tmp.path().join("routed.ndjson"), routed.as_bytes());
    let done = ok(replay(&h, &[s(&file)]));
    let mut counts = record_counts(&done.stderr);
    counts.sort();
    assert_eq!(
        counts,
        [("data".into(), 1), ("issues".into(), 1), ("push".into(), 2)],
        "{}",
        done.stderr
    );
    assert!(
        done.stderr.contains("replayed 1 file: 4 records"),
        "{}",
        done.stderr
    );

    let bad = write(&h.tmp.path().join("bad.ndjson"), b"{\"n\":1}\n{\"n\":\n");
    let failed = replay(&h, &[s(&bad)]);
    assert!(!failed.status.success());
    assert!(
        failed
            .stderr
            .contains("replay of 1 file failed after 1 records"),
        "{}",
        failed.stderr
    );
    assert!(!failed.stderr.contains("replayed"), "{}", failed.stderr);
    assert_eq!(record_counts(&failed.stderr), [("data".into(), 1)]);
}

#[test]
fn the_replay_bookmark_is_under_the_default_stream_and_an_old_data_one_resumes() {
    let h = Harness::new(json!({"stream": "events", "max_records": 1}));
    let file = write(&h.tmp.path().join("two.ndjson"), b"{\"n\":1}\n{\"n\":2}\n");
    let first = ok(replay(&h, &[s(&file)]));
    assert_eq!(column(&first.records(), "n"), [json!(1)]);
    let state = last_state(&first.messages()).unwrap();
    assert_eq!(state["bookmarks"]["events"]["replay"]["line"], 1, "{state}");
    assert!(state["bookmarks"].get("data").is_none(), "{state}");
    let resumed = ok(replay(&h, &["--state", s(&h.state_file(&state)), s(&file)]));
    assert_eq!(column(&resumed.records(), "n"), [json!(2)]);
    // A state from when the one stream was `data` resumes too.
    let old = json!({"bookmarks": {"data": {"replay": state["bookmarks"]["events"]["replay"]}}});
    let resumed = ok(replay(&h, &["--state", s(&h.state_file(&old)), s(&file)]));
    assert_eq!(column(&resumed.records(), "n"), [json!(2)]);
}

#[test]
fn skip_invalid_logs_each_bad_payload_counts_them_and_goes_on() {
    let h = Harness::new(json!({"primary_key": "id", "max_body_bytes": 100}));
    let file = h.tmp.path().join("mixed.ndjson");
    let long = format!("{{\"id\":9,\"pad\":\"{}\"}}", "x".repeat(200));
    let text = format!(
        "{{\"id\":1}}\nnot json\n{{\"name\":\"no id\"}}\n[{{\"id\":2}},7]\n{long}\n{{\"id\":3}}\n"
    );
    write(&file, text.as_bytes());
    let done = ok(replay(&h, &["--skip-invalid", s(&file)]));
    assert_eq!(column(&done.records(), "id"), [json!("1"), json!("3")]);
    for (line, reason) in [
        (2, "malformed JSON"),
        (3, "primary key field \"id\" is missing"),
        (4, "element 1 of the array must be an object"),
        (5, "larger than max_body_bytes"),
    ] {
        let at = format!("WARNING {}:{line}:", s(&file));
        let warning = done
            .stderr
            .lines()
            .find(|l| l.starts_with(&at))
            .unwrap_or_else(|| panic!("no warning for line {line}:\n{}", done.stderr));
        assert!(warning.contains(reason), "{warning}");
    }
    assert!(
        done.stderr.contains("skipped 4 invalid payloads"),
        "{}",
        done.stderr
    );
}

#[test]
fn empty_input_emits_a_schema_and_a_state_and_succeeds() {
    let h = Harness::new(json!({}));
    let empty = write(&h.tmp.path().join("empty.ndjson"), b"");
    let blank = write(&h.tmp.path().join("blank.json"), b"\n  \n");
    let dir = h.tmp.path().join("nothing");
    fs::create_dir_all(&dir).unwrap();
    for args in [vec![s(&empty), s(&blank)], vec![s(&dir)]] {
        let done = ok(replay(&h, &args));
        let types: Vec<Value> = done.messages().iter().map(|m| m["type"].clone()).collect();
        assert_eq!(types, [json!("SCHEMA"), json!("STATE")], "{args:?}");
        assert!(done.stderr.contains(": 0 records"), "{}", done.stderr);
    }
    let journal = ok(replay(&h, &["--journal"]));
    assert!(journal.records().is_empty());
}

#[test]
fn bad_arguments_name_the_problem_and_exit_2() {
    let h = Harness::new(json!({}));
    let txt = write(&h.tmp.path().join("notes.txt"), b"{}");
    let missing = h.tmp.path().join("missing.ndjson");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec![s(&txt)], "cannot tell the format"),
        (vec![s(&missing)], "missing.ndjson: cannot read"),
        (vec!["--received-at", "yesterday", "-"], "--received-at"),
    ];
    for (args, expected) in cases {
        let done = replay(&h, &args);
        assert_eq!(done.status.code(), Some(2), "{args:?}: {}", done.stderr);
        assert!(done.stderr.contains(expected), "{args:?}: {}", done.stderr);
        assert!(done.stdout.is_empty(), "{args:?}");
    }
    let neither = replay(&h, &[]);
    assert_eq!(neither.status.code(), Some(2));
    let other = write(&h.tmp.path().join("other.ndjson"), b"{}\n");
    let state = h.state_file(&json!({"bookmarks": {"data": {"replay": {
        "file": "elsewhere.ndjson", "line": 1, "record": 0, "sequence": 5}}}}));
    let done = replay(&h, &["--state", s(&state), s(&other)]);
    assert_eq!(done.status.code(), Some(2));
    assert!(
        done.stderr.contains("not among the inputs"),
        "{}",
        done.stderr
    );
}

#[test]
fn a_catalog_applies_to_a_replay_and_a_value_it_refuses_stops_at_file_and_line() {
    let h = Harness::new(json!({}));
    let catalog = h.tmp.path().join("catalog.json");
    let schema = json!({"type": "object", "properties": {
        "created_at": {"type": ["null", "string"], "format": "date-time"},
        "secret": {"type": ["null", "string"]}
    }});
    let metadata = json!([
        {"breadcrumb": [], "metadata": {"selected": true}},
        {"breadcrumb": ["properties", "secret"], "metadata": {"selected": false}}
    ]);
    let streams = json!({"streams": [{"tap_stream_id": "data", "stream": "data",
        "schema": schema, "metadata": metadata}]});
    write(&catalog, streams.to_string().as_bytes());
    let file = write(
        &h.tmp.path().join("c.ndjson"),
        concat!(
            r#"{"created_at":"2026-11-29T10:00:00Z","secret":"s","n":1}"#,
            "\n",
            r#"{"created_at":"yesterday","n":2}"#,
            "\n",
            r#"{"n":3}"#,
            "\n"
        )
        .as_bytes(),
    );
    let done = replay(&h, &["--catalog", s(&catalog), s(&file)]);
    assert_eq!(done.status.code(), Some(1), "{}", done.stderr);
    assert!(
        done.stderr.contains(&format!(
            "CRITICAL {}:2:1: field \"created_at\" is pinned",
            s(&file)
        )),
        "{}",
        done.stderr
    );
    let records = done.records();
    assert_eq!(column(&records, "n"), [json!(1)], "nothing after it");
    assert!(
        records[0].get("secret").is_none(),
        "deselected field left out"
    );
    assert_eq!(
        done.messages()[0]["schema"]["properties"]["created_at"]["format"],
        "date-time"
    );
}
