//! `kill -9` while clients post concurrently: every webhook answered 200 is emitted by the
//! killed run or by the next one started with the last STATE the killed run printed.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use crate::common::*;
use serde_json::{Value, json};

const CLIENTS: usize = 8;

fn crash_round(round: usize) {
    let mut h = Harness::new(json!({}));
    let tap = h.start(&[]);
    let url = tap.url();
    let acked: Arc<Mutex<HashSet<(u64, u64)>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..CLIENTS as u64)
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

    // Let the run print at least one STATE, then kill it at a different point each round.
    wait_for("a STATE", || last_state(&tap.messages()));
    let target = acked.lock().unwrap().len() + 50 + 100 * round;
    wait_for("acknowledged webhooks", || {
        (acked.lock().unwrap().len() >= target).then_some(())
    });
    let first = tap.kill9();
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();

    let first_messages = first.messages();
    let state = last_state(&first_messages);
    assert!(state.is_some());
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
        "round {round}: {} acknowledged, {} emitted before kill -9, {} after restart",
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
        crash_round(round);
    }
}
