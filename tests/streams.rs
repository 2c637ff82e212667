//! Streams and request metadata, through the real binary and HTTP:
//! routing by header, body field and path; per-stream schemas, keys and bookmarks; captured
//! headers and query; catalog selection per stream; history re-extracted by `replay --journal`.

use std::collections::BTreeSet;
use std::process::Command;

use crate::common::*;
use serde_json::{Value, json};

/// Posts `body` with `headers` to the tap's webhook URL (plus `suffix`, e.g. `/orders`).
fn post_with(tap: &Tap, suffix: &str, headers: &[(&str, &str)], body: &str) -> Reply {
    let mut request = tap
        .client()
        .post(format!("{}{suffix}", tap.url()))
        .header("content-type", "application/json")
        .body(body.to_owned());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    tap.send(request)
}

fn github(tap: &Tap, event: Option<&str>, body: Value) {
    let mut headers = vec![
        ("x-github-delivery", "d-1"),
        ("user-agent", "GitHub-Hookshot/abc"),
    ];
    if let Some(event) = event {
        headers.push(("x-github-event", event));
    }
    let reply = post_with(tap, "", &headers, &body.to_string());
    assert_eq!(reply.status, 200, "{:?}", reply.body);
}

fn streams_of(messages: &[Value]) -> BTreeSet<String> {
    messages
        .iter()
        .filter(|m| m["type"] == "RECORD")
        .map(|m| m["stream"].as_str().unwrap().to_owned())
        .collect()
}

fn names(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn replay(h: &Harness, args: &[&str]) -> Finished {
    let mut cmd = Command::new(bin());
    cmd.arg("replay")
        .arg("--config")
        .arg(&h.config_path)
        .args(args);
    let done = Tap::spawn(cmd).wait();
    assert!(done.status.success(), "replay failed:\n{}", done.stderr);
    done
}

fn github_config() -> Value {
    json!({"route": {"header": "X-GitHub-Event"}, "capture_headers": ["X-GitHub-*"]})
}

/// Four GitHub-style deliveries: push, issues, pull_request and one without the header.
fn post_github_deliveries(tap: &Tap) {
    github(
        tap,
        Some("push"),
        json!({"ref": "refs/heads/main", "after": "abc123", "commits": [1]}),
    );
    github(
        tap,
        Some("issues"),
        json!({"action": "opened", "issue": {"number": 7}}),
    );
    github(
        tap,
        Some("pull_request"),
        json!({"action": "closed", "number": 3, "merged": true}),
    );
    github(tap, None, json!({"zen": "Keep it logically awesome."}));
}

#[test]
fn github_deliveries_split_by_x_github_event_into_one_stream_each() {
    let mut h = Harness::new(github_config());
    let tap = h.start_serve();
    post_github_deliveries(&tap);
    let done = h.drain(None);
    let msgs = done.messages();
    assert_singer_stream(&msgs);
    assert_eq!(
        streams_of(&msgs),
        names(&["push", "issues", "pull_request", "data"])
    );
    let push = stream_records(&msgs, "push");
    assert_eq!(push.len(), 1);
    assert_eq!(push[0]["ref"], "refs/heads/main");
    assert_eq!(push[0]["_sdc_headers"]["x-github-event"], "push");
    assert_eq!(push[0]["_sdc_headers"]["x-github-delivery"], "d-1");
    assert!(
        push[0]["_sdc_headers"].get("user-agent").is_none(),
        "only X-GitHub-* is captured"
    );
    // Fields of one event type never leak into another's table.
    let issues = last_schema(&msgs, "issues").unwrap();
    let props = issues["schema"]["properties"].as_object().unwrap();
    assert!(props.contains_key("issue") && !props.contains_key("ref"));
    assert_eq!(
        props["_sdc_headers"]["type"],
        json!(["null", "object"]),
        "{issues}"
    );
    assert_eq!(
        stream_records(&msgs, "data")[0]["zen"],
        "Keep it logically awesome."
    );
    // One bookmark per stream, all at the last record.
    let state = last_state(&msgs).unwrap();
    let last = msgs
        .iter()
        .filter(|m| m["type"] == "RECORD")
        .map(|m| m["record"]["_sdc_sequence"].as_u64().unwrap())
        .max()
        .unwrap();
    for stream in ["push", "issues", "pull_request", "data"] {
        assert_eq!(state["bookmarks"][stream]["sequence"], last, "{state}");
    }
    // --discover lists the default stream and every stream seen.
    let discovered = h.run(&["--discover"]);
    assert!(discovered.status.success(), "{}", discovered.stderr);
    let catalog: Value = serde_json::from_slice(&discovered.stdout).unwrap();
    let listed: BTreeSet<String> = catalog["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["tap_stream_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(listed, names(&["push", "issues", "pull_request", "data"]));
}

#[test]
fn state_per_stream_and_a_restart_with_it_emits_nothing_twice() {
    let mut h = Harness::new(github_config());
    let tap = h.start_serve();
    post_github_deliveries(&tap);
    let first = h.drain(None);
    let state = last_state(&first.messages()).unwrap();
    let again = h.drain(Some(&state));
    assert!(again.records().is_empty(), "{}", again.stdout_text());
    github(
        &tap,
        Some("issues"),
        json!({"action": "closed", "issue": {"number": 7}}),
    );
    let third = h.drain(Some(&last_state(&again.messages()).unwrap()));
    let msgs = third.messages();
    assert_eq!(streams_of(&msgs), names(&["issues"]));
    assert_eq!(stream_records(&msgs, "issues")[0]["action"], "closed");

    // A state from before streams (only `data`) is understood: nothing before it comes back.
    let old = json!({"bookmarks": {"data": {"sequence": state["bookmarks"]["data"]["sequence"]}}});
    let from_old = h.drain(Some(&old));
    assert_eq!(streams_of(&from_old.messages()), names(&["issues"]));
}

#[test]
fn stripe_events_split_by_type_including_a_mixed_array() {
    let mut h = Harness::new(json!({"route": {"field": "type"}}));
    let tap = h.start_serve();
    let mixed = json!([
        {"id": "evt_1", "type": "customer.subscription.updated", "data": {"object": {"id": "sub_1"}}},
        {"id": "evt_2", "type": "invoice.paid", "data": {"object": {"amount_paid": 500}}},
        {"id": "evt_3", "type": "customer.subscription.updated", "data": {"object": {"id": "sub_2"}}},
        {"id": "evt_4", "object": "event"}
    ]);
    assert_eq!(tap.post(&mixed.to_string()).status, 200);
    let one = json!({"id": "evt_5", "type": "invoice.paid"});
    assert_eq!(tap.post(&one.to_string()).status, 200);
    let msgs = h.drain(None).messages();
    assert_singer_stream(&msgs);
    let subs = stream_records(&msgs, "customer_subscription_updated");
    assert_eq!(
        subs.iter().map(|r| r["id"].clone()).collect::<Vec<_>>(),
        [json!("evt_1"), json!("evt_3")]
    );
    let invoices = stream_records(&msgs, "invoice_paid");
    assert_eq!(invoices.len(), 2);
    assert_eq!(stream_records(&msgs, "data")[0]["id"], "evt_4");
    // Each record keeps its own sequence in the entry, whichever stream it went to.
    let seqs: Vec<u64> = [&subs[0], &invoices[0], &subs[1]]
        .iter()
        .map(|r| r["_sdc_sequence"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [seqs[0], seqs[0] + 1, seqs[0] + 2]);
}

#[test]
fn path_routing_takes_the_name_after_the_token() {
    let mut h = Harness::new(json!({"route": {"path": true}}));
    let tap = h.start_serve();
    assert_eq!(
        post_with(&tap, "/Orders-Create", &[], r#"{"id":1}"#).status,
        200
    );
    assert_eq!(post_with(&tap, "/refunds", &[], r#"{"id":2}"#).status, 200);
    assert_eq!(post_with(&tap, "", &[], r#"{"id":3}"#).status, 200);
    let wrong = tap.send(
        tap.client()
            .post(format!(
                "{}/webhooks/{}/refunds",
                tap.base(),
                "0".repeat(64)
            ))
            .body("{}"),
    );
    assert_eq!(wrong.status, 401);
    let msgs = h.drain(None).messages();
    assert_eq!(stream_records(&msgs, "orders_create")[0]["id"], 1);
    assert_eq!(stream_records(&msgs, "refunds")[0]["id"], 2);
    assert_eq!(stream_records(&msgs, "data")[0]["id"], 3);
}

#[test]
fn each_stream_has_its_own_key_and_a_record_without_it_is_refused_whole() {
    let mut h = Harness::new(json!({
        "route": {"field": "type"},
        "primary_key": "id",
        "streams": {"push": {"primary_key": "after"}, "audit": {"append_only": true}}
    }));
    let tap = h.start_serve();
    let ok = json!([
        {"type": "push", "after": "abc", "id": null},
        {"type": "issue", "id": 9},
        {"type": "audit", "id": 1}
    ]);
    assert_eq!(tap.post(&ok.to_string()).status, 200);
    let bad = json!([{"type": "issue", "id": 10}, {"type": "push", "id": 11}]);
    let reply = tap.post(&bad.to_string());
    assert_eq!(reply.status, 422, "{:?}", reply.body);
    let error = reply.body["error"].as_str().unwrap();
    assert!(
        error.contains("push") && error.contains("\"after\" is missing"),
        "{error}"
    );
    let msgs = h.drain(None).messages();
    assert_eq!(
        last_schema(&msgs, "push").unwrap()["key_properties"],
        json!(["after"])
    );
    assert_eq!(
        last_schema(&msgs, "issue").unwrap()["key_properties"],
        json!(["id"])
    );
    assert_eq!(
        last_schema(&msgs, "audit").unwrap()["key_properties"],
        json!(["__sdc_primary_key"])
    );
    assert!(stream_records(&msgs, "audit")[0]["__sdc_primary_key"].is_string());
    let issues = stream_records(&msgs, "issue");
    assert_eq!(
        issues.len(),
        1,
        "the refused array left nothing: {issues:?}"
    );
}

#[test]
fn captured_headers_and_query_never_hold_secrets_even_with_a_star() {
    let mut h = Harness::new(json!({"capture_headers": ["*"], "capture_query": true}));
    let tap = h.start_serve();
    let token = tap.token().to_owned();
    let reply = tap.send(
        tap.client()
            .post(format!("{}/webhooks?a=1&b=2&b=3&t={token}", tap.base()))
            .header("authorization", format!("Bearer {token}"))
            .header("proxy-authorization", "Basic c2VjcmV0")
            .header("cookie", "session=s3cr3t")
            .header("x-echo", format!("token={token}"))
            .header("x-shopify-topic", "orders/create")
            .header("content-type", "application/json")
            .body(r#"{"id":1}"#),
    );
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let msgs = h.drain(None).messages();
    let record = &records(&msgs)[0];
    let headers = record["_sdc_headers"].as_object().unwrap();
    assert_eq!(headers["x-shopify-topic"], "orders/create");
    assert_eq!(headers["content-type"], "application/json");
    // Shown redacted: that they were sent, and their length, never their value.
    for (secret, value) in [
        ("authorization", format!("Bearer {token}")),
        ("proxy-authorization", "Basic c2VjcmV0".to_owned()),
        ("cookie", "session=s3cr3t".to_owned()),
        ("x-echo", format!("token={token}")),
    ] {
        assert_eq!(
            headers[secret],
            format!("<redacted: {} bytes>", value.len()),
            "{secret}: {record}"
        );
    }
    assert_eq!(
        record["_sdc_query"],
        json!({"a": "1", "b": ["2", "3"], "t": "<redacted: 64 bytes>"})
    );
    let line = serde_json::to_string(&msgs).unwrap();
    assert!(!line.contains(&token) && !line.contains("s3cr3t") && !line.contains("c2VjcmV0"));
    // Not in the journal either.
    for file in files_under(&h.data_dir().join("journal")) {
        let bytes = std::fs::read(&file).unwrap();
        for secret in [token.as_bytes(), b"s3cr3t", b"c2VjcmV0"] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret),
                "{} holds a secret",
                file.display()
            );
        }
    }
}

#[test]
fn odd_route_values_become_table_names_and_max_streams_caps_them() {
    let mut h = Harness::new(json!({"route": {"header": "X-Event"}, "max_streams": 3}));
    let tap = h.start_serve();
    for (event, id) in [
        ("Pull Request!!", 1),
        ("2FA.Enabled", 2),
        ("!!!", 3),
        ("extra", 4),
        ("extra", 5),
        ("pull-request", 6),
    ] {
        let reply = post_with(
            &tap,
            "",
            &[("x-event", event)],
            &json!({"id": id}).to_string(),
        );
        assert_eq!(reply.status, 200);
    }
    let done = h.drain(None);
    let msgs = done.messages();
    assert_singer_stream(&msgs);
    let ids = |stream| -> Vec<Value> {
        stream_records(&msgs, stream)
            .iter()
            .map(|r| r["id"].clone())
            .collect()
    };
    assert_eq!(ids("pull_request"), [json!(1), json!(6)]);
    assert_eq!(ids("_2fa_enabled"), [json!(2)]);
    // "!!!" has no name; "extra" would be stream 4 of at most 3.
    assert_eq!(ids("data"), [json!(3), json!(4), json!(5)]);
    assert_eq!(
        done.stderr.matches("past max_streams").count(),
        1,
        "{}",
        done.stderr
    );
}

#[test]
fn declared_streams_pass_max_streams_and_overflowing_records_carry_the_default_key() {
    let mut h = Harness::new(json!({
        "route": {"field": "type"},
        "max_streams": 1,
        "primary_key": "id",
        "streams": {"data": {"primary_key": "uuid"}, "push": {"primary_key": "after"}}
    }));
    let tap = h.start_serve();
    // "push" is named in `streams`: made although the cap is reached.
    let push = json!({"type": "push", "after": "abc"});
    assert_eq!(tap.post(&push.to_string()).status, 200);
    // "issue" would overflow into "data", whose key is "uuid": refused without it...
    let reply = tap.post(&json!({"type": "issue", "id": 1}).to_string());
    assert_eq!(reply.status, 422, "{:?}", reply.body);
    let error = reply.body["error"].as_str().unwrap();
    assert!(
        error.contains("stream data") && error.contains("max_streams"),
        "{error}"
    );
    // ...and with it, accepted and emitted into "data" under that key.
    let issue = json!({"type": "issue", "id": 2, "uuid": "u-2"});
    assert_eq!(tap.post(&issue.to_string()).status, 200);
    let done = h.drain(None);
    let msgs = done.messages();
    assert_singer_stream(&msgs);
    assert_eq!(stream_records(&msgs, "push")[0]["after"], "abc");
    let data = stream_records(&msgs, "data");
    assert_eq!(data.len(), 1, "{data:?}");
    assert_eq!(data[0]["uuid"], "u-2");
    assert_eq!(
        last_schema(&msgs, "data").unwrap()["key_properties"],
        json!(["uuid"])
    );
    assert_eq!(done.stderr.matches("past max_streams").count(), 1);
}

/// GitHub deliveries journaled and drained under `github_config`, and the catalog
/// `--discover` then prints.
fn github_deliveries_discovered() -> (Harness, Value) {
    let mut h = Harness::new(github_config());
    let tap = h.start_serve();
    post_github_deliveries(&tap);
    h.drain(None);
    let discovered = h.run(&["--discover"]);
    let catalog = serde_json::from_slice(&discovered.stdout).unwrap();
    (h, catalog)
}

/// A sync that drains the journal (no listening) with `catalog`; it must succeed.
fn drain_with_catalog(h: &Harness, catalog: &Value) -> Finished {
    let catalog_path = h.state_file(catalog);
    let mut cmd = h.command(&["--catalog", catalog_path.to_str().unwrap()]);
    cmd.env("TAP_WEBHOOKS_LISTEN", "false");
    let done = Tap::spawn(cmd).wait();
    assert!(done.status.success(), "{}", done.stderr);
    done
}

#[test]
fn a_catalog_deselecting_one_stream_skips_it_without_losing_it() {
    let (h, mut catalog) = github_deliveries_discovered();
    for stream in catalog["streams"].as_array_mut().unwrap() {
        if stream["tap_stream_id"] == "push" {
            stream["metadata"][0]["metadata"]["selected"] = json!(false);
        }
    }
    let done = drain_with_catalog(&h, &catalog);
    let msgs = done.messages();
    assert_eq!(
        streams_of(&msgs),
        names(&["issues", "pull_request", "data"])
    );
    let state = last_state(&msgs).unwrap();
    assert!(
        state["bookmarks"]["push"].get("sequence").is_none(),
        "{state}"
    );
    // Selected again, push's records are still there; the others are not emitted twice.
    let later = h.drain(Some(&state));
    assert_eq!(streams_of(&later.messages()), names(&["push"]));
}

#[test]
fn a_catalog_deselects_a_column_in_one_stream_only() {
    let (h, mut catalog) = github_deliveries_discovered();
    let issues = catalog["streams"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|s| s["tap_stream_id"] == "issues")
        .expect("issues discovered");
    let action = issues["metadata"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|m| m["breadcrumb"] == json!(["properties", "action"]))
        .expect("issues.action in the catalog");
    action["metadata"]["selected"] = json!(false);
    let done = drain_with_catalog(&h, &catalog);
    let msgs = done.messages();
    let issue = &stream_records(&msgs, "issues")[0];
    assert!(issue.get("action").is_none(), "{issue}");
    assert_eq!(issue["issue"]["number"], 7);
    assert_eq!(stream_records(&msgs, "pull_request")[0]["action"], "closed");
    assert!(
        last_schema(&msgs, "issues").unwrap()["schema"]["properties"]
            .get("action")
            .is_none()
    );
}

#[test]
fn replay_journal_re_extracts_an_unrouted_journal_under_new_route_and_capture() {
    let mut h = Harness::new(json!({}));
    let tap = h.start_serve();
    post_github_deliveries(&tap);
    let before = h.drain(None).messages();
    assert_eq!(streams_of(&before), names(&["data"]));
    assert!(records(&before)[0].get("_sdc_headers").is_none());
    drop(tap);
    h.set_config(github_config());
    let after = replay(&h, &["--journal"]).messages();
    assert_singer_stream(&after);
    assert_eq!(
        streams_of(&after),
        names(&["push", "issues", "pull_request", "data"])
    );
    let push = &stream_records(&after, "push")[0];
    assert_eq!(push["_sdc_headers"]["x-github-event"], "push");
    assert_eq!(push["_sdc_sequence"], records(&before)[0]["_sdc_sequence"]);
}

#[test]
fn replayed_files_route_by_field_and_stream_forces_one() {
    let h = Harness::new(json!({"route": {"field": "type"}}));
    let file = h.tmp.path().join("events.ndjson");
    std::fs::write(
        &file,
        "{\"type\":\"invoice.paid\",\"id\":1}\n[{\"type\":\"charge.failed\",\"id\":2},{\"id\":3}]\n",
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let routed = replay(&h, &[path]).messages();
    assert_singer_stream(&routed);
    assert_eq!(
        streams_of(&routed),
        names(&["invoice_paid", "charge_failed", "data"])
    );
    assert!(
        !h.data_dir().join("streams").exists(),
        "a file replay saves no schema"
    );
    let again = replay(&h, &[path]).messages();
    assert_eq!(again, routed, "the same files give the same output");
    let forced = replay(&h, &["--stream", "events", path]).messages();
    assert_eq!(streams_of(&forced), names(&["events"]));
    assert_eq!(records(&forced).len(), 3);
}
