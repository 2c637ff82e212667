//! Bodies up to the 20 MB limit are accepted, journaled and emitted intact, with peak memory a
//! small multiple of the body size.

use std::io::{Read, Write};
use std::net::TcpStream;

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
