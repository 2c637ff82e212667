//! The NATS JetStream journal, end to end: real `nats-server` clusters on loopback ports,
//! real `tap-webhooks` receivers and syncs over HTTP. Needs `nats-server` (`apt-get install
//! nats-server`); without it these tests fail with that message.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::thread;
use std::time::{Duration, Instant};

use crate::common::nats::Cluster;
use crate::common::{self, Harness, Listener, Tap, client, last_state, wait_for};
use serde_json::{Value, json};

const SENDERS: usize = 8;

/// (sender, n, part) of each record a sender posted.
type Key = (u64, u64, u64);

fn key(record: &Value) -> Key {
    (
        record["sender"].as_u64().expect("sender"),
        record["n"].as_u64().expect("n"),
        record["part"].as_u64().unwrap_or(0),
    )
}

/// A body for request `n` of `sender`: every fifth one an array of three records.
fn body(sender: usize, n: usize) -> (String, Vec<Key>) {
    let (s, n) = (sender as u64, n as u64);
    if n % 5 == 4 {
        let records: Vec<Value> = (0..3)
            .map(|part| json!({"sender": s, "n": n, "part": part}))
            .collect();
        (
            Value::Array(records).to_string(),
            (0..3).map(|part| (s, n, part)).collect(),
        )
    } else {
        (json!({"sender": s, "n": n}).to_string(), vec![(s, n, 0)])
    }
}

/// Checks a sync's records: strictly increasing `_sdc_sequence`, no record twice, and every
/// acknowledged record present. Returns how many records there were.
fn check_emitted(records: &[Value], acknowledged: &HashSet<Key>) -> usize {
    let mut seen = HashSet::new();
    let mut last = 0u64;
    for record in records {
        let sequence = record["_sdc_sequence"].as_u64().expect("_sdc_sequence");
        assert!(
            sequence > last,
            "_sdc_sequence not increasing: {sequence} after {last}"
        );
        assert_eq!(sequence.to_string().len(), 19, "19 digits: {sequence}");
        last = sequence;
        assert!(seen.insert(key(record)), "emitted twice: {record}");
    }
    let missing: Vec<&Key> = acknowledged.difference(&seen).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged records missing, e.g. {:?}",
        missing.len(),
        missing.iter().take(5).collect::<Vec<_>>()
    );
    records.len()
}

#[test]
fn two_receivers_under_load_lose_nothing_when_nodes_and_a_receiver_die() {
    let mut cluster = Cluster::start(3);
    let mut h = Harness::new(json!({"journal": cluster.journal("LOAD", 3)}));
    let a = h.start_serve();
    let b = h.start_serve();
    let token = a.token.clone();
    let urls = [
        Arc::new(RwLock::new(a.url())),
        Arc::new(RwLock::new(b.url())),
    ];

    let acknowledged = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let senders: Vec<_> = (0..SENDERS)
        .map(|sender| {
            let urls = urls.clone();
            let (acknowledged, stop) = (Arc::clone(&acknowledged), Arc::clone(&stop));
            thread::spawn(move || {
                let http = client();
                let mut acked: Vec<Key> = Vec::new();
                let mut statuses: HashMap<u16, usize> = HashMap::new();
                let mut n = 0;
                while !stop.load(Ordering::SeqCst) {
                    let (body, keys) = body(sender, n);
                    let url = urls[(sender + n) % 2].read().unwrap().clone();
                    let status = http
                        .post(&url)
                        .header("content-type", "application/json")
                        .body(body)
                        .send()
                        .map(|r| r.status().as_u16())
                        .unwrap_or(0);
                    *statuses.entry(status).or_default() += 1;
                    if status == 200 {
                        acked.extend(keys);
                        acknowledged.fetch_add(1, Ordering::SeqCst);
                    }
                    n += 1;
                }
                (acked, statuses)
            })
        })
        .collect();

    // Waits until `more` further requests have been acknowledged: the system makes progress.
    let progress = |what: &str, more: usize| {
        let target = acknowledged.load(Ordering::SeqCst) + more;
        wait_for(what, || {
            (acknowledged.load(Ordering::SeqCst) >= target).then_some(())
        });
    };
    progress("load to start", 200);

    // A follower dies and comes back.
    let follower = cluster.follower("LOAD");
    cluster.kill9(follower);
    progress("progress with a follower down", 200);
    cluster.restart(follower);
    progress("progress after the follower is back", 100);

    // The stream leader dies: a new one is elected among the other two.
    let leader = wait_for("the stream leader", || cluster.stream_leader("LOAD"));
    cluster.kill9(leader);
    progress("progress after the leader died", 200);

    // A receiver dies mid-load and is replaced.
    let b_died = b.kill9();
    assert!(!b_died.stderr.contains("panicked"), "{}", b_died.stderr);
    let b = h.start_serve();
    *urls[1].write().unwrap() = b.url();
    progress("progress with the new receiver", 200);

    cluster.restart(leader);
    progress("progress with every node back", 200);
    stop.store(true, Ordering::SeqCst);

    let mut acked = HashSet::new();
    let mut statuses: HashMap<u16, usize> = HashMap::new();
    for sender in senders {
        let (keys, counts) = sender.join().expect("sender");
        acked.extend(keys);
        for (status, count) in counts {
            *statuses.entry(status).or_default() += count;
        }
    }
    eprintln!("statuses: {statuses:?}");
    for status in statuses.keys() {
        assert!(
            [0, 200, 503].contains(status),
            "unexpected status {status}: {statuses:?}"
        );
    }

    // A drain emits every acknowledged record once, in increasing sequence.
    let first = h.drain(None);
    let records = first.records();
    let emitted = check_emitted(&records, &acked);
    assert!(emitted >= acked.len());

    // Its STATE resumes after everything: nothing again.
    let state = last_state(&first.messages()).expect("a STATE");
    assert_eq!(h.drain(Some(&state)).records(), Vec::<Value>::new());

    // replay --journal twice: the same bytes, the same records as the sync.
    let replay = |h: &Harness| {
        let mut cmd = std::process::Command::new(common::bin());
        cmd.args(["replay", "--journal", "--config"])
            .arg(&h.config_path);
        let done = Tap::spawn(cmd).wait();
        assert!(done.status.success(), "{}", done.stderr);
        done.stdout
    };
    let once = replay(&h);
    assert_eq!(once, replay(&h), "two journal replays differ");
    let replayed = common::records(&common::parse_lines(&once));
    assert_eq!(replayed.len(), records.len());
    for (r, s) in replayed.iter().zip(&records) {
        assert_eq!(r["_sdc_sequence"], s["_sdc_sequence"]);
        assert_eq!(r["__sdc_primary_key"], s["__sdc_primary_key"]);
    }

    drop((a, b, token));
}

#[test]
fn redeliveries_across_receivers_are_stored_once_and_a_revoke_reaches_every_receiver() {
    let cluster = Cluster::start(3);
    let mut h = Harness::new(json!({
        "journal": cluster.journal("SHARED", 3),
        "idempotency_header": "X-Delivery",
    }));
    let a = h.start_serve();
    let b = h.start_serve();

    // The same delivery through both receivers, several times: stored once.
    let deliver = |tap: &Tap, id: &str, n: u64| {
        tap.send(
            tap.client()
                .post(tap.url())
                .header("content-type", "application/json")
                .header("X-Delivery", id)
                .body(json!({"delivery": id, "n": n}).to_string()),
        )
    };
    let first = deliver(&a, "d-1", 1);
    assert_eq!(first.status, 200, "{:?}", first.body);
    for tap in [&b, &a, &b] {
        let again = deliver(tap, "d-1", 1);
        assert_eq!(again.status, 200, "{:?}", again.body);
        assert_eq!(again.body["duplicate"], true, "{:?}", again.body);
    }
    // Concurrent redeliveries of new ids through both receivers.
    let threads: Vec<_> = (0..6)
        .map(|i| {
            let (ua, ub) = (a.url(), b.url());
            thread::spawn(move || {
                let http = client();
                for url in [ua, ub] {
                    let id = format!("d-{}", 2 + i / 2);
                    let status = http
                        .post(url)
                        .header("content-type", "application/json")
                        .header("X-Delivery", &id)
                        .body(json!({"delivery": id, "n": i}).to_string())
                        .send()
                        .map(|r| r.status().as_u16())
                        .unwrap_or(0);
                    assert_eq!(status, 200);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("sender");
    }
    let records = h.drain(None).records();
    let mut deliveries: Vec<&str> = records
        .iter()
        .map(|r| r["delivery"].as_str().expect("delivery"))
        .collect();
    deliveries.sort();
    assert_eq!(deliveries, ["d-1", "d-2", "d-3", "d-4"], "{records:?}");

    // A listening sync (here a third process) emits the backlog, then what any receiver takes.
    let sync = h.start(&[]);
    sync.wait_for_records(4);
    assert_eq!(deliver(&b, "d-5", 5).status, 200);
    let live = sync.wait_for_records(5);
    assert_eq!(live[4]["delivery"], "d-5");
    sync.terminate();
    let finished = sync.wait();
    assert!(finished.status.success(), "{}", finished.stderr);
    assert_eq!(finished.records().len(), 5);

    // A token made by the CLI (another process, as on another machine) works on both ...
    let made = h.token_command(&["new"]);
    assert!(made.status.success(), "{}", made.stderr);
    let url = made.stdout_text().trim().lines().last().unwrap().to_owned();
    let second = url.rsplit('/').next().unwrap().to_owned();
    let post_with = |tap: &Tap, token: &str| {
        tap.send(
            tap.client()
                .post(format!("{}/webhooks/{token}", tap.base))
                .header("content-type", "application/json")
                .body("{\"x\": 1}"),
        )
        .status
    };
    for tap in [&a, &b] {
        wait_for("the new token to be accepted", || {
            (post_with(tap, &second) == 200).then_some(())
        });
    }
    let listed = h.token_command(&["list", "--json"]);
    assert!(listed.status.success(), "{}", listed.stderr);
    let list: Value = serde_json::from_slice(&listed.stdout).expect("JSON list");
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");
    assert!(
        !listed.stdout_text().contains(&second),
        "a token was listed"
    );
    let id = list
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .find(|id| {
            // The id made last is the one `token new` just printed in its log.
            made.stderr.contains(id.as_str())
        })
        .expect("the new token's id");

    // ... and its revoke is refused by both within a second.
    let revoked = h.token_command(&["revoke", &id]);
    assert!(revoked.status.success(), "{}", revoked.stderr);
    let at = Instant::now();
    for tap in [&a, &b] {
        loop {
            let status = post_with(tap, &second);
            if status == 401 {
                break;
            }
            assert_eq!(status, 200);
            assert!(
                at.elapsed() < Duration::from_secs(1),
                "a receiver still accepts a revoked token after {:?}",
                at.elapsed()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }
    assert!(at.elapsed() < Duration::from_secs(1));
    // The first token still works everywhere.
    assert_eq!(post_with(&a, &a.token), 200);
    assert_eq!(post_with(&b, &b.token), 200);
}

#[test]
fn with_the_whole_cluster_down_receivers_answer_503_and_recover_by_themselves() {
    let mut cluster = Cluster::start(3);
    let mut h = Harness::new(json!({"journal": cluster.journal("OUTAGE", 3)}));
    let a = h.start_serve();
    let ready = |tap: &Tap| {
        tap.client()
            .get(format!("{}/readyz", tap.base))
            .send()
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    };
    assert_eq!(a.post(r#"{"phase": "before"}"#).status, 200);
    assert_eq!(ready(&a), 200);

    cluster.kill_all();
    let refused = a.post(r#"{"phase": "during"}"#);
    assert_eq!(refused.status, 503, "{:?}", refused.body);
    assert!(refused.headers.contains_key("retry-after"));
    wait_for("/readyz to say not ready", || {
        (ready(&a) == 503).then_some(())
    });

    for i in 0..3 {
        cluster.restart(i);
    }
    cluster.wait_ready();
    // The same receiver, never restarted, takes webhooks again.
    wait_for("the receiver to accept webhooks again", || {
        (a.post(r#"{"phase": "after"}"#).status == 200).then_some(())
    });
    wait_for("/readyz to say ready", || (ready(&a) == 200).then_some(()));

    let records = h.drain(None).records();
    let phases: Vec<&str> = records
        .iter()
        .map(|r| r["phase"].as_str().unwrap())
        .collect();
    assert_eq!(phases.first(), Some(&"before"));
    assert_eq!(phases.last(), Some(&"after"));
}

#[test]
fn a_single_node_stream_takes_20_mb_bodies_and_purges_what_syncs_acknowledged() {
    let cluster = Cluster::start(1);
    let mut h = Harness::new(json!({
        "journal": cluster.journal("SOLO", 1),
        "journal_retention_hours": 0,
    }));
    let a = h.start_serve();

    // A body just under max_body_bytes (20,000,000) fits the stream and the server.
    let filler = "x".repeat(19_900_000);
    let big = a.post(&json!({"n": 0, "filler": filler}).to_string());
    assert_eq!(big.status, 200, "{:?}", big.body);
    for n in 1..4 {
        assert_eq!(a.post(&json!({"n": n}).to_string()).status, 200);
    }
    let first = h.drain(None);
    let ns: Vec<u64> = first
        .records()
        .iter()
        .map(|r| r["n"].as_u64().unwrap())
        .collect();
    assert_eq!(ns, [0, 1, 2, 3]);
    assert_eq!(
        first.records()[0]["filler"].as_str().map(str::len),
        Some(19_900_000)
    );
    let state = last_state(&first.messages()).expect("a STATE");

    // A sync with that STATE acknowledges it; retention (0 h) then purges every message
    // before the one holding the bookmark, so a full replay starts there.
    assert_eq!(a.post(r#"{"n": 4}"#).status, 200);
    let second = h.drain(Some(&state));
    let ns: Vec<u64> = second
        .records()
        .iter()
        .map(|r| r["n"].as_u64().unwrap())
        .collect();
    assert_eq!(ns, [4]);
    assert!(
        second.stderr.contains("journal retention"),
        "{}",
        second.stderr
    );
    let replay = {
        let mut cmd = std::process::Command::new(common::bin());
        cmd.args(["replay", "--journal", "--config"])
            .arg(&h.config_path);
        Tap::spawn(cmd).wait()
    };
    assert!(replay.status.success(), "{}", replay.stderr);
    let ns: Vec<u64> = replay
        .records()
        .iter()
        .map(|r| r["n"].as_u64().unwrap())
        .collect();
    assert_eq!(ns, [3, 4], "replay after retention");
}

#[test]
fn a_server_whose_max_payload_is_too_small_is_named_at_start() {
    // A plain nats-server keeps the default max_payload of 1 MB.
    let dir = tempfile::tempdir().unwrap();
    let port = common::nats::free_port();
    let mut server = std::process::Command::new(common::nats::nats_server())
        .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
        .arg(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let h = Harness::new(json!({"journal": {
        "kind": "nats", "servers": [format!("nats://127.0.0.1:{port}")], "replicas": 1,
        "connect_timeout_seconds": 10,
    }}));
    let done = wait_for("the receiver to refuse to start", || {
        let done = Tap::spawn(h.serve_command()).wait();
        (!done.stderr.contains("cannot connect")).then_some(done)
    });
    let _ = server.kill();
    let _ = server.wait();
    assert!(!done.status.success());
    assert!(done.stderr.contains("max_payload"), "{}", done.stderr);
}

#[test]
fn ten_token_new_at_once_on_a_cluster_leave_at_most_two_active_tokens() {
    let cluster = Cluster::start(3);
    let h = Harness::new(json!({"journal": cluster.journal("TOKENS", 3)}));
    let first = h.token_command(&["new"]);
    assert!(first.status.success(), "{}", first.stderr);
    // Ten more, as from ten machines at once: only one finds a free place. Each waits between
    // reading the tokens and writing until one moment (a test fault), so that all ten read the
    // same and write together. (A clustered nats-server before 2.9.21 let two writes at one
    // revision both pass: nats-server issue 4320; CI's Debian nats-server is 2.9.10.)
    let claim_at = (std::time::SystemTime::now() + Duration::from_secs(2))
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        .to_string();
    let runs: Vec<_> = thread::scope(|s| {
        let handles: Vec<_> = (0..10)
            .map(|_| {
                s.spawn(|| {
                    let mut cmd = std::process::Command::new(crate::common::bin());
                    cmd.args(["token", "new", "--config"])
                        .arg(&h.config_path)
                        .env("TAP_WEBHOOKS_TEST_TOKEN_CLAIM_AT_MS", &claim_at);
                    Tap::spawn(cmd).wait()
                })
            })
            .collect();
        handles.into_iter().map(|t| t.join().unwrap()).collect()
    });
    let made = runs.iter().filter(|r| r.status.success()).count();
    let refused: Vec<_> = runs.iter().filter(|r| !r.status.success()).collect();
    for r in &refused {
        assert!(r.stderr.contains("revoke"), "{}", r.stderr);
    }
    let stderrs: Vec<&str> = runs.iter().map(|r| r.stderr.as_str()).collect();
    assert_eq!(made, 1, "{stderrs:#?}");
    let listed = h.token_command(&["list", "--json"]);
    assert!(listed.status.success(), "{}", listed.stderr);
    let list: Value = serde_json::from_slice(&listed.stdout).expect("JSON list");
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");
}

#[test]
fn a_token_new_reading_from_a_lagging_replica_still_counts_every_active_token() {
    let (_cluster, h) = cluster_with_two_tokens();
    // A third, whose reads of the tokens miss both (a test fault: as from a replica lagging a
    // minute behind), is still refused: the limit is counted on one key written at the
    // revision it was read at. Before, it counted the tokens it could read and passed.
    let lagging_token_new = || {
        let mut cmd = std::process::Command::new(crate::common::bin());
        cmd.args(["token", "new", "--config"])
            .arg(&h.config_path)
            .env("TAP_WEBHOOKS_TEST_LAGGING_TOKEN_READS_MS", "60000");
        Tap::spawn(cmd).wait()
    };
    let third = lagging_token_new();
    assert!(!third.status.success(), "a third token was made");
    assert!(
        third.stderr.contains("revoke one first"),
        "{}",
        third.stderr
    );
    // A revoke frees a place at once, even for that reader.
    let listed = h.token_command(&["list", "--json"]);
    let list: Value = serde_json::from_slice(&listed.stdout).expect("JSON list");
    let id = list[0]["id"].as_str().expect("an id").to_owned();
    let revoked = h.token_command(&["revoke", &id]);
    assert!(revoked.status.success(), "{}", revoked.stderr);
    let after = lagging_token_new();
    assert!(after.status.success(), "{}", after.stderr);
}

#[test]
fn a_bucket_without_the_active_tokens_key_counts_the_tokens_it_holds() {
    let (cluster, h) = cluster_with_two_tokens();
    // A bucket an earlier version wrote has its tokens but no `tokens-active` key.
    let url = cluster.urls()[0].clone();
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(async move {
            let client = async_nats::connect(url).await.expect("connect");
            let kv = async_nats::jetstream::new(client)
                .get_key_value("TOKENS_STATE")
                .await
                .expect("the state bucket");
            kv.purge("tokens-active").await.expect("purge");
        });
    let third = h.token_command(&["new"]);
    assert!(!third.status.success(), "a third token was made");
    assert!(
        third.stderr.contains("revoke one first"),
        "{}",
        third.stderr
    );
}

/// A three-node cluster whose state bucket holds the two active tokens allowed.
fn cluster_with_two_tokens() -> (Cluster, Harness) {
    let cluster = Cluster::start(3);
    let h = Harness::new(json!({"journal": cluster.journal("TOKENS", 3)}));
    for _ in 0..2 {
        let made = h.token_command(&["new"]);
        assert!(made.status.success(), "{}", made.stderr);
    }
    (cluster, h)
}
