//! `/healthz`, `/readyz`, `/metrics` (on the listener or `ops_bind`), the disk-space guard,
//! and Singer METRIC lines.
//!
//! Metrics are read from the real binary: the metrics recorder is one per process, so a
//! listener in this process would count the other tests' requests too. Only `ops_bind`, which
//! counts nothing, is tested in process.

use crate::common::*;
use serde_json::json;

fn get(tap: &impl Listener, url: String) -> Reply {
    tap.send(tap.client().get(url))
}

/// The value of a Prometheus sample line `name{labels} value`.
fn sample(metrics: &str, name_and_labels: &str) -> Option<f64> {
    metrics
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name_and_labels))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

#[test]
fn metrics_count_requests_records_bytes_commits_and_emitted_records() {
    let mut h = Harness::new(json!({}));
    let tap = h.start(&[]);
    let bodies = [r#"{"a":1}"#, r#"[{"a":2},{"a":3}]"#];
    for body in bodies {
        assert_eq!(tap.post(body).status, 200);
    }
    assert_eq!(tap.post("{bad").status, 400);
    tap.wait_for_records(3);
    let metrics = wait_for("the emitted records in /metrics", || {
        let reply = get(&tap, format!("{}/metrics", tap.base));
        assert_eq!(reply.status, 200);
        assert_eq!(
            reply.headers["content-type"],
            "text/plain; version=0.0.4; charset=utf-8"
        );
        let text = reply.body.as_str().unwrap().to_owned();
        (sample(&text, "tap_webhooks_records_emitted_total") == Some(3.0)).then_some(text)
    });
    assert_eq!(
        sample(
            &metrics,
            r#"tap_webhooks_http_requests_total{status="200"}"#
        ),
        Some(2.0),
        "{metrics}"
    );
    assert_eq!(
        sample(
            &metrics,
            r#"tap_webhooks_http_requests_total{status="400"}"#
        ),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        sample(&metrics, "tap_webhooks_records_received_total"),
        Some(3.0),
        "{metrics}"
    );
    let bytes: usize = bodies.iter().map(|b| b.len()).sum();
    assert_eq!(
        sample(&metrics, "tap_webhooks_received_bytes_total"),
        Some(bytes as f64),
        "{metrics}"
    );
    let commits = sample(&metrics, "tap_webhooks_journal_fsync_seconds_count").unwrap();
    assert!((1.0..=2.0).contains(&commits), "{metrics}");
    assert!(
        metrics.contains("tap_webhooks_journal_fsync_seconds_bucket{le=\"0.001\"}"),
        "{metrics}"
    );
    // Caught up: no backlog, no lag.
    assert_eq!(
        sample(&metrics, "tap_webhooks_journal_backlog_seconds"),
        Some(0.0),
        "{metrics}"
    );
    assert_eq!(
        sample(&metrics, "tap_webhooks_emitter_lag_seconds"),
        Some(0.0),
        "{metrics}"
    );
    assert!(sample(&metrics, "tap_webhooks_journal_committed_sequence").unwrap() > 1.7e18);
}

/// The emitter takes the receiver's split of every live entry instead of parsing the body
/// again: the journal hands each split over once its entry is durable, before it tells the
/// emitter, so that even entries committed together from concurrent senders, and drained at
/// once, are never parsed twice. Each entry is counted once.
#[test]
fn the_emitter_writes_live_entries_from_the_receivers_split() {
    let mut h = Harness::new(json!({}));
    let tap = h.start(&[]);
    let (senders, each) = (8, 10);
    let n = senders * each;
    std::thread::scope(|scope| {
        for s in 0..senders {
            let tap = &tap;
            scope.spawn(move || {
                for k in 0..each {
                    let i = s * each + k + 1;
                    // A name with an escape (decoded, not a slice of the body) and a value
                    // with one.
                    let body = format!(
                        r#"[{{"id":{i},"a\u0062":"x\"y","nested":{{"a":[1,2]}}}},{{"id":-{i}}}]"#
                    );
                    assert_eq!(tap.post(&body).status, 200);
                }
            });
        }
    });
    tap.wait_for_records(2 * n);
    let metrics = get(&tap, format!("{}/metrics", tap.base));
    let metrics = metrics.body.as_str().unwrap();
    let handed = sample(
        metrics,
        r#"tap_webhooks_emitter_entries_total{split="handed"}"#,
    );
    let parsed = sample(
        metrics,
        r#"tap_webhooks_emitter_entries_total{split="parsed"}"#,
    );
    let (handed, parsed) = (handed.unwrap_or(0.0), parsed.unwrap_or(0.0));
    assert_eq!(
        (handed, parsed),
        (n as f64, 0.0),
        "every live entry is written from the receiver's split: {metrics}"
    );
    let records = tap.records();
    assert_eq!(records.len(), 2 * n);
    // Each body's two records, in order, whichever order the bodies were committed in.
    for pair in records.chunks(2) {
        let id = pair[0]["id"].as_i64().unwrap();
        assert!(id > 0, "{pair:?}");
        assert_eq!(pair[0]["ab"], "x\"y", "{pair:?}");
        assert_eq!(pair[0]["nested"], json!({"a": [1, 2]}), "{pair:?}");
        assert_eq!(pair[1]["id"], -id, "{pair:?}");
    }
    let mut ids: Vec<i64> = records
        .iter()
        .step_by(2)
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, (1..=n as i64).collect::<Vec<_>>());
}

#[test]
fn under_serve_the_backlog_is_what_no_sync_has_acknowledged() {
    let mut h = Harness::new(json!({}));
    let serve = h.start_serve();
    assert_eq!(serve.post(r#"{"a":1}"#).status, 200);
    assert_eq!(serve.post(r#"{"a":2}"#).status, 200);
    let backlog = |tap: &Tap| {
        let text = get(tap, format!("{}/metrics", tap.base))
            .body
            .as_str()
            .unwrap()
            .to_owned();
        (
            sample(&text, "tap_webhooks_journal_backlog_seconds").unwrap(),
            sample(&text, "tap_webhooks_emitter_lag_seconds").unwrap(),
        )
    };
    let (before, lag) = backlog(&serve);
    assert!(before > 0.0 && lag > 0.0, "{before} {lag}");
    // A sync that starts from the state after both records acknowledges them.
    let all = h.drain(None);
    h.drain(last_state(&all.messages()).as_ref());
    assert_eq!(backlog(&serve), (0.0, 0.0));
}

#[test]
fn readyz_says_ready_and_why_not() {
    let mut h = Harness::new(json!({}));
    let tap = h.start(&[]);
    let health = get(&tap, format!("{}/healthz", tap.base));
    assert_eq!(
        (health.status, health.body["status"].clone()),
        (200, json!("ok"))
    );
    let ready = get(&tap, format!("{}/readyz", tap.base));
    assert_eq!(
        (ready.status, ready.body["status"].clone()),
        (200, json!("ready"))
    );
    tap.terminate();
    assert!(tap.wait().status.success());

    // The disk guard: not ready, and webhooks get 503 with Retry-After and are not written.
    h.set_config(json!({"min_free_disk_bytes": u64::MAX / 2}));
    let tap = h.start(&[]);
    let ready = get(&tap, format!("{}/readyz", tap.base));
    assert_eq!(ready.status, 503);
    assert!(
        ready.body["error"]
            .as_str()
            .unwrap()
            .contains("nearly full"),
        "{:?}",
        ready.body
    );
    let refused = tap.post(r#"{"a":1}"#);
    assert_eq!(refused.status, 503, "{:?}", refused.body);
    assert_eq!(refused.headers["retry-after"], "30");
    assert!(
        refused.body["error"]
            .as_str()
            .unwrap()
            .contains("disk is nearly full")
    );
    tap.terminate();
    let done = tap.wait();
    assert!(done.records().is_empty());
}

#[test]
fn ops_bind_moves_the_operations_endpoints_off_the_webhook_listener() {
    let mut h = Harness::new(json!({"ops_bind": "127.0.0.1:0"}));
    let tap = h.serve_in_process();
    let ops_base = tap
        .ops_base
        .clone()
        .expect("ops_bind gives an operations address");
    for path in ["healthz", "readyz", "metrics"] {
        assert_eq!(
            get(&tap, format!("{}/{path}", tap.base)).status,
            404,
            "{path} on the webhook port"
        );
        assert_eq!(
            get(&tap, format!("{ops_base}/{path}")).status,
            200,
            "{path} on the ops port"
        );
    }
    // Webhooks are not taken on the operations port.
    let on_ops = tap.send(
        tap.client()
            .post(format!("{ops_base}/webhooks/{}", tap.token))
            .body("{}"),
    );
    assert_eq!(on_ops.status, 404);
    assert_eq!(tap.post("{}").status, 200);
    tap.stop();
}

#[test]
fn syncs_log_singer_metric_lines_that_add_up_to_the_records_emitted() {
    let mut h = Harness::new(json!({"metrics_interval_seconds": 0.05}));
    let tap = h.start(&[]);
    for i in 0..3 {
        assert_eq!(tap.post(&format!(r#"{{"i":{i}}}"#)).status, 200);
    }
    // Records are flowing: a METRIC line comes within the interval, without waiting for more.
    wait_for("a METRIC line", || {
        tap.stderr().contains("INFO METRIC: ").then_some(())
    });
    for i in 3..5 {
        assert_eq!(tap.post(&format!(r#"{{"i":{i}}}"#)).status, 200);
    }
    tap.wait_for_records(5);
    tap.terminate();
    let done = tap.wait();
    let counts: Vec<u64> = done
        .stderr
        .lines()
        .filter_map(|l| l.strip_prefix("INFO METRIC: "))
        .map(|m| serde_json::from_str::<serde_json::Value>(m).unwrap())
        .inspect(|m| {
            assert_eq!(m["type"], "counter");
            assert_eq!(m["metric"], "record_count");
            assert_eq!(m["tags"]["endpoint"], "data");
        })
        .map(|m| m["value"].as_u64().unwrap())
        .collect();
    assert!(counts.len() >= 2, "{}", done.stderr);
    assert_eq!(counts.iter().sum::<u64>(), 5);

    // A drain logs one at the end.
    let drained = h.drain(None);
    assert!(drained.stderr.contains(r#"INFO METRIC: {"metric":"record_count","tags":{"endpoint":"data"},"type":"counter","value":5}"#), "{}", drained.stderr);
}

#[test]
fn metric_lines_are_tagged_with_the_stream_their_records_went_to() {
    let mut h = Harness::new(json!({"route": {"field": "type"}}));
    let tap = h.start(&[]);
    for body in [
        r#"{"type":"push","i":1}"#,
        r#"[{"type":"push","i":2},{"type":"issues","i":3}]"#,
        r#"{"i":4}"#,
    ] {
        assert_eq!(tap.post(body).status, 200);
    }
    tap.wait_for_records(4);
    tap.terminate();
    let live = tap.wait();
    // One line per stream for the run: `{"endpoint":"push"}` counts push's records only.
    let expected: [(String, u64); 3] =
        [("data".into(), 1), ("issues".into(), 1), ("push".into(), 2)];
    let mut counts = record_counts(&live.stderr);
    counts.sort();
    assert_eq!(counts, expected, "{}", live.stderr);

    let drained = h.drain(None);
    let mut counts = record_counts(&drained.stderr);
    counts.sort();
    assert_eq!(counts, expected, "{}", drained.stderr);
    assert!(drained.stderr.contains(r#"INFO METRIC: {"metric":"record_count","tags":{"endpoint":"push"},"type":"counter","value":2}"#), "{}", drained.stderr);
}
