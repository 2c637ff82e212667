//! Admission under load, with the default settings: many concurrent small webhooks are all
//! accepted; a burst of large bodies is admitted only as far as `max_inflight_body_bytes`
//! allows (the rest get 429 before their body is read), so memory stays bounded.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use crate::common::*;
use serde_json::json;

fn peak_rss_bytes(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

/// Reads one response head (status line and headers); returns the status and the head.
fn read_response_head(reader: &mut BufReader<TcpStream>) -> (u16, String) {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line).expect("reading a response");
        assert!(n > 0, "connection closed before a response; got {head:?}");
        head.push_str(&line);
        if line == "\r\n" {
            break;
        }
    }
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not a response: {head:?}"));
    (status, head)
}

/// Skips a response body of `Content-Length` bytes.
fn skip_body(reader: &mut BufReader<TcpStream>, head: &str) {
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    std::io::Read::read_exact(reader, &mut body).expect("reading a response body");
}

#[test]
fn a_burst_of_128_concurrent_small_webhooks_is_accepted_with_default_settings() {
    let mut h = Harness::new(json!({}));
    let tap = h.start(&[]);
    const SENDERS: usize = 128;
    const EACH: usize = 20;
    let barrier = Arc::new(Barrier::new(SENDERS));
    let token = tap.token.clone();
    let addr = tap.addr();
    let senders: Vec<_> = (0..SENDERS)
        .map(|sender| {
            let barrier = Arc::clone(&barrier);
            let (token, addr) = (token.clone(), addr.clone());
            thread::spawn(move || {
                let stream = TcpStream::connect(&addr).unwrap();
                stream.set_nodelay(true).unwrap();
                stream
                    .set_read_timeout(Some(Duration::from_secs(60)))
                    .unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut writer = stream;
                barrier.wait();
                let mut statuses = Vec::new();
                for i in 0..EACH {
                    // A ~600-byte event, as a real sender would post it.
                    let body = format!(
                        r#"{{"id":"evt_{sender}_{i}","type":"charge.succeeded","data":{{"object":{{"amount":2000,"currency":"usd","description":"{}"}}}}}}"#,
                        "x".repeat(480)
                    );
                    write!(
                        writer,
                        "POST /webhooks/{token} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    )
                    .unwrap();
                    let (status, head) = read_response_head(&mut reader);
                    skip_body(&mut reader, &head);
                    statuses.push(status);
                }
                statuses
            })
        })
        .collect();
    let statuses: Vec<u16> = senders
        .into_iter()
        .flat_map(|s| s.join().unwrap())
        .collect();
    let refused = statuses.iter().filter(|&&s| s != 200).count();
    assert_eq!(
        refused,
        0,
        "{refused} of {} small webhooks refused (statuses {:?})",
        statuses.len(),
        statuses
            .iter()
            .filter(|&&s| s != 200)
            .take(5)
            .collect::<Vec<_>>()
    );
    tap.wait_for_records(SENDERS * EACH);
    tap.terminate();
    assert_eq!(tap.wait().records().len(), SENDERS * EACH);
}

#[test]
fn a_burst_of_128_large_bodies_is_admitted_within_the_byte_budget() {
    let mut h = Harness::new(json!({}));
    let tap = h.start(&[]);
    // 128 bodies of ~19.9 MB (2.5 GB together) at once, each announced with
    // `Expect: 100-continue` as curl does for large bodies: one admitted gets `100 Continue`
    // and sends its body; one refused gets 429 without sending it.
    let mut body = String::from(r#"{"id":"big","blob":""#);
    body.push_str(&"b".repeat(19_900_000));
    body.push_str(r#""}"#);
    let body = Arc::new(body);
    const SENDERS: usize = 128;
    let barrier = Arc::new(Barrier::new(SENDERS));
    let senders: Vec<_> = (0..SENDERS)
        .map(|_| {
            let (barrier, body) = (Arc::clone(&barrier), Arc::clone(&body));
            let (token, addr) = (tap.token.clone(), tap.addr());
            thread::spawn(move || {
                let stream = TcpStream::connect(&addr).unwrap();
                stream
                    .set_read_timeout(Some(Duration::from_secs(120)))
                    .unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut writer = stream;
                barrier.wait();
                write!(
                    writer,
                    "POST /webhooks/{token} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                )
                .unwrap();
                let (status, head) = read_response_head(&mut reader);
                if status != 100 {
                    return (status, head);
                }
                writer.write_all(body.as_bytes()).unwrap();
                read_response_head(&mut reader)
            })
        })
        .collect();
    let results: Vec<(u16, String)> = senders.into_iter().map(|s| s.join().unwrap()).collect();
    let accepted = results.iter().filter(|(s, _)| *s == 200).count();
    let refused: Vec<&String> = results
        .iter()
        .filter(|(s, _)| *s == 429)
        .map(|(_, head)| head)
        .collect();
    assert_eq!(
        accepted + refused.len(),
        SENDERS,
        "every request is 200 or 429: {:?}",
        results
            .iter()
            .filter(|(s, _)| *s != 200 && *s != 429)
            .collect::<Vec<_>>()
    );
    assert!(accepted >= 1, "no large body was admitted");
    assert!(
        !refused.is_empty(),
        "all {SENDERS} large bodies were admitted at once"
    );
    for head in &refused {
        assert!(
            head.to_ascii_lowercase().contains("retry-after: 1"),
            "{head}"
        );
    }
    let peak = peak_rss_bytes(tap.pid());
    eprintln!(
        "{accepted} of {SENDERS} 20 MB bodies admitted, {} refused with 429; peak RSS {} MB",
        refused.len(),
        peak >> 20
    );
    // The default budget is 64 MB of bodies (three of these); 128 of them would be 2.5 GB.
    assert!(
        peak < 400 << 20,
        "peak RSS {} MB: memory is not bounded by the body budget",
        peak >> 20
    );
    // Once the burst is over, the budget is free again: a large body is admitted at once.
    let reply = tap.post(&body);
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    // Counted by line starts: parsing 20 MB records again and again would be slow.
    let record_lines = |out: &[u8]| {
        out.split(|&b| b == b'\n')
            .filter(|l| l.starts_with(br#"{"type":"RECORD""#))
            .count()
    };
    wait_for("every admitted body emitted", || {
        (record_lines(&tap.stdout()) > accepted).then_some(())
    });
    tap.terminate();
    assert_eq!(record_lines(&tap.wait().stdout), accepted + 1);
}
