//! `kill -9` while clients post concurrently: every webhook answered 200 is emitted by the
//! killed run or by the next one started with the last STATE the killed run printed. The same
//! under full load (64 clients), and with the process dying between a batch's write and its
//! fdatasync (a fault only test builds obey, see `TAP_WEBHOOKS_TEST_CRASH_BEFORE_FSYNC`).

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use crate::common::*;
use serde_json::{Value, json};

/// How a round's first run ends.
#[derive(Clone, Copy, Debug)]
enum Crash {
    /// kill -9 once this many more webhooks (than at the first STATE) are acknowledged.
    Kill9 { after: usize },
    /// The process aborts itself when this batch is written and not yet fsync'd.
    BeforeFsync { batch: u64 },
}

fn crash_round(round: usize, clients: usize, crash: Crash) {
    let mut h = Harness::new(json!({}));
    let mut command = h.command(&[]);
    if let Crash::BeforeFsync { batch } = crash {
        command.env("TAP_WEBHOOKS_TEST_CRASH_BEFORE_FSYNC", batch.to_string());
    }
    let tap = h.start_command(command);
    let url = tap.url();
    let acked: Arc<Mutex<HashSet<(u64, u64)>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let posters: Vec<_> = (0..clients as u64)
        .map(|c| {
            let (url, acked, stop) = (url.clone(), Arc::clone(&acked), Arc::clone(&stop));
            thread::spawn(move || {
                let client = client();
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    // Every third request is an array of two records.
                    let (body, ids) = if n.is_multiple_of(3) {
                        (
                            format!(r#"[{{"c":{c},"n":{n}}},{{"c":{c},"n":{}}}]"#, n + 1),
                            vec![n, n + 1],
                        )
                    } else {
                        (format!(r#"{{"c":{c},"n":{n}}}"#), vec![n])
                    };
                    n += ids.len() as u64;
                    match client
                        .post(&url)
                        .header("content-type", "application/json")
                        .body(body)
                        .send()
                    {
                        Ok(r) if r.status() == 200 => {
                            let mut acked = acked.lock().unwrap();
                            for id in ids {
                                acked.insert((c, id));
                            }
                        }
                        Ok(r) => panic!("unexpected status {}", r.status()),
                        Err(_) => break, // the tap was killed
                    }
                }
            })
        })
        .collect();

    let first = match crash {
        Crash::Kill9 { after } => {
            // Let the run print at least one STATE, then kill it at a point that differs
            // between rounds.
            wait_for("a STATE", || last_state(&tap.messages()));
            let target = acked.lock().unwrap().len() + after;
            wait_for("acknowledged webhooks", || {
                (acked.lock().unwrap().len() >= target).then_some(())
            });
            tap.kill9()
        }
        Crash::BeforeFsync { .. } => {
            let first = tap.wait();
            assert!(!first.status.success(), "the fault did not end the run");
            assert!(
                first.stderr.contains("test fault: the process aborts"),
                "{}",
                first.stderr
            );
            first
        }
    };
    stop.store(true, Ordering::Relaxed);
    for c in posters {
        c.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();

    let first_messages = first.messages();
    let state = last_state(&first_messages);
    if let Crash::Kill9 { .. } = crash {
        assert!(state.is_some());
    }
    h.set_config(json!({"listen": false}));
    let second = match &state {
        Some(state) => h.run(&["--state", h.state_file(state).to_str().unwrap()]),
        None => h.run(&[]),
    };
    assert!(second.status.success(), "{}", second.stderr);

    let key = |r: &Value| (r["c"].as_u64().unwrap(), r["n"].as_u64().unwrap());
    let emitted: HashSet<(u64, u64)> = first
        .records()
        .iter()
        .chain(second.records().iter())
        .map(key)
        .collect();
    let lost: Vec<_> = acked.difference(&emitted).collect();
    assert!(
        lost.is_empty(),
        "round {round}: {} acknowledged webhooks lost, e.g. {:?}",
        lost.len(),
        &lost[..lost.len().min(5)]
    );

    eprintln!(
        "round {round} ({clients} clients, {crash:?}): {} acknowledged, {} emitted before the crash, {} after restart",
        acked.len(),
        first.records().len(),
        second.records().len()
    );
    // The second run starts strictly after the bookmark and re-emits nothing before it.
    if let Some(bookmark) = state
        .as_ref()
        .and_then(|s| s["bookmarks"]["data"]["sequence"].as_u64())
    {
        assert!(
            second
                .records()
                .iter()
                .all(|r| r["_sdc_sequence"].as_u64().unwrap() > bookmark)
        );
    }
    // Within the second run, no record twice.
    let second_keys: Vec<_> = second.records().iter().map(key).collect();
    let unique: HashSet<_> = second_keys.iter().collect();
    assert_eq!(unique.len(), second_keys.len());
}

#[test]
fn kill_9_while_clients_post_loses_no_acknowledged_webhook() {
    for round in 0..4 {
        crash_round(
            round,
            8,
            Crash::Kill9 {
                after: 50 + 100 * round,
            },
        );
    }
}

#[test]
fn kill_9_under_full_load_loses_no_acknowledged_webhook() {
    for round in 0..2 {
        crash_round(
            round,
            64,
            Crash::Kill9 {
                after: 500 + 1000 * round,
            },
        );
    }
}

#[test]
fn a_crash_between_a_batch_write_and_its_fsync_loses_no_acknowledged_webhook() {
    for (round, batch) in [40, 200].into_iter().enumerate() {
        crash_round(round, 32, Crash::BeforeFsync { batch });
    }
}
