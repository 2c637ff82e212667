//! Bodies up to the 20 MB limit are accepted, journaled and emitted intact, with peak memory a
//! small multiple of the body size.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::common::*;
use serde_json::json;

fn peak_rss_bytes(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

#[test]
fn a_body_just_under_20_mb_is_accepted_and_emitted_intact() {
    let mut h = Harness::new(json!({}));
    let tap = h.start(&[]);
    // Many fields with mixed values, just under the 20 000 000 byte default limit.
    let item =
        r#"{"sku":"ABC-123","qty":3,"price":19.99,"tags":["a","b"],"note":"a note with spaces"}"#;
    let mut body = String::from(r#"{"id":"big","items":["#);
    while body.len() + item.len() + 10 < 19_999_000 {
        body.push_str(item);
        body.push(',');
    }
    body.pop();
    body.push_str("]}");
    let size = body.len() as u64;
    assert!(size > 19_900_000 && size < 20_000_000);
    let reply = tap.post(&body);
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let records = tap.wait_for_records(1);
    let expected: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(records[0]["items"], expected["items"]);

    let peak = peak_rss_bytes(tap.pid());
    eprintln!(
        "peak RSS with a {size}-byte body: {} MB ({:.1}x the body)",
        peak >> 20,
        peak as f64 / size as f64
    );
    assert!(
        peak < 5 * size,
        "peak RSS {peak} bytes is more than 5x the body"
    );

    // One byte over the limit is refused from the headers alone: no body byte is sent.
    let mut s = TcpStream::connect(tap.addr()).unwrap();
    write!(
        s,
        "POST /webhooks/{} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 20000001\r\n\r\n",
        tap.token
    )
    .unwrap();
    let mut response = vec![0u8; 512];
    let n = s.read(&mut response).unwrap();
    let response = String::from_utf8_lossy(&response[..n]);
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    assert!(
        response.contains("larger than the limit of 20000000 bytes"),
        "{response}"
    );
}

/// Resident memory now and at its peak, in bytes.
fn rss_bytes(pid: i32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb = |name: &str| -> u64 {
        let line = status.lines().find(|l| l.starts_with(name)).unwrap();
        line.split_whitespace()
            .nth(1)
            .unwrap()
            .parse::<u64>()
            .unwrap()
            * 1024
    };
    (kb("VmRSS:"), kb("VmHWM:"))
}

/// `[{},{},…]`: the most records a body of `size` bytes can hold.
fn empty_records(size: usize) -> (String, usize) {
    let n = (size - 2) / 3;
    let mut body = String::with_capacity(size);
    body.push('[');
    body.push_str(&"{},".repeat(n));
    body.pop();
    body.push(']');
    (body, n)
}

/// A listening sync whose stdout is counted, not kept: its RECORD lines, as they come.
struct CountedTap {
    child: std::process::Child,
    records: Arc<AtomicUsize>,
    stderr: Arc<Mutex<String>>,
    url: String,
}

impl CountedTap {
    fn start(h: &Harness) -> CountedTap {
        let mut child = h
            .command(&[])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let records = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&records);
        let stdout = BufReader::new(child.stdout.take().unwrap());
        std::thread::spawn(move || {
            for line in stdout.split(b'\n') {
                if line.unwrap().starts_with(br#"{"type":"RECORD""#) {
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let into = Arc::clone(&stderr);
        let lines = BufReader::new(child.stderr.take().unwrap());
        std::thread::spawn(move || {
            for line in lines.lines() {
                let mut text = into.lock().unwrap();
                text.push_str(&line.unwrap());
                text.push('\n');
            }
        });
        let url = wait_for("the listener and its first webhook URL", || {
            let err = stderr.lock().unwrap();
            let at = err.find("/webhooks/")?;
            let rest = &err[at..];
            let token: String = rest["/webhooks/".len()..]
                .chars()
                .take_while(|c| c.is_ascii_hexdigit())
                .collect();
            let base = err.split("listening on ").nth(1)?.lines().next()?;
            (token.len() == 64).then(|| format!("{base}/webhooks/{token}"))
        });
        CountedTap {
            child,
            records,
            stderr,
            url,
        }
    }
}

impl Drop for CountedTap {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn bodies_of_millions_of_records_stay_within_three_times_the_inflight_budget() {
    // A budget that holds two bodies at once. What is measured is the growth above the memory
    // the tap started with (a debug build's own memory is large beside a small budget). Before
    // bodies were read a chunk at a time, each record took some 60 bytes: 1.3 M records a body
    // grew the tap by some 80 MB each.
    const MAX_BODY: usize = 4_000_000;
    const BUDGET: u64 = 8_000_000;
    let h = Harness::new(json!({
        "max_body_bytes": MAX_BODY,
        "max_inflight_body_bytes": BUDGET,
    }));
    let tap = CountedTap::start(&h);
    let pid = tap.child.id() as i32;
    let (start_rss, _) = rss_bytes(pid);
    let (body, n) = empty_records(MAX_BODY - 10);
    // One body alone, then two at once.
    let post = |client: &reqwest::blocking::Client| {
        client
            .post(&tap.url)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .ok()
            .filter(|r| r.status() == 200)
            .and_then(|r| serde_json::from_str::<serde_json::Value>(&r.text().ok()?).ok())
    };
    let reply = post(&client()).expect("the first body accepted");
    assert_eq!(reply["records"], n);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| wait_for("a body accepted", || post(&client())));
        }
    });
    // Writing four million records takes a debug build a while on a busy machine.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(600);
    while tap.records.load(Ordering::Relaxed) < 3 * n {
        assert!(
            std::time::Instant::now() < deadline,
            "{} of {} records written in 10 minutes\n{}",
            tap.records.load(Ordering::Relaxed),
            3 * n,
            tap.stderr.lock().unwrap()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let (_, peak) = rss_bytes(pid);
    let growth = peak.saturating_sub(start_rss);
    eprintln!(
        "{n} records a body, 3 bodies: peak RSS {} MB, {} MB above the start ({:.2}x the budget)",
        peak >> 20,
        growth >> 20,
        growth as f64 / BUDGET as f64
    );
    assert!(
        growth <= 3 * BUDGET,
        "peak RSS grew by {growth} bytes, more than 3x max_inflight_body_bytes ({BUDGET})"
    );
}
