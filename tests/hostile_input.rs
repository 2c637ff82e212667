//! Hostile input: compressed bodies and bombs, deep nesting, invalid UTF-8, huge field counts,
//! slow clients, floods of requests and of idle connections.
//!
//! What the listener answers is tested on the listener started in this process; what needs the
//! process itself runs the real binary: its peak memory under a gzip bomb, surviving deep
//! nesting, and hundreds of sockets (which in this process would count twice against its limit
//! of open files).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::common::*;
use flate2::Compression;
use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};
use serde_json::{Value, json};

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut e = ZlibEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn raw_deflate(data: &[u8]) -> Vec<u8> {
    let mut e = DeflateEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn post_bytes(tap: &impl Listener, encoding: Option<&str>, body: Vec<u8>) -> Reply {
    let mut request = tap
        .client()
        .post(tap.url())
        .header("content-type", "application/json")
        .body(body);
    if let Some(encoding) = encoding {
        request = request.header("content-encoding", encoding);
    }
    tap.send(request)
}

fn peak_rss_bytes(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

/// A raw connection with a read deadline, so a test never hangs on it.
fn connect(tap: &impl Listener) -> TcpStream {
    let s = TcpStream::connect(tap.addr()).unwrap();
    s.set_read_timeout(Some(DEADLINE)).unwrap();
    s
}

/// Reads until the end of a response head (`\r\n\r\n`).
fn read_head(s: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// Starts a request whose handler is running and waiting for the body: with
/// `Expect: 100-continue`, the server answers `100 Continue` only once the handler reads it.
fn request_in_handler(tap: &impl Listener, body_len: usize) -> TcpStream {
    let mut s = connect(tap);
    write!(
        s,
        "POST /webhooks/{} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {body_len}\r\nExpect: 100-continue\r\n\r\n",
        tap.token()
    )
    .unwrap();
    let interim = read_head(&mut s);
    assert!(interim.starts_with("HTTP/1.1 100"), "{interim}");
    s
}

fn read_to_end(mut s: TcpStream) -> String {
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn gzip_and_deflate_bodies_are_accepted_and_limited_after_decompression() {
    let mut h = Harness::new(json!({"max_body_bytes": 1000}));
    let tap = h.serve_in_process();
    let body = |n: usize, tag: &str| format!(r#"{{"tag":"{tag}","pad":"{}"}}"#, "a".repeat(n));
    let fits = body(900, "gzip");
    let reply = post_bytes(&tap, Some("gzip"), gzip(fits.as_bytes()));
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(
        post_bytes(&tap, Some("deflate"), zlib(body(900, "zlib").as_bytes())).status,
        200
    );
    assert_eq!(
        post_bytes(
            &tap,
            Some("deflate"),
            raw_deflate(body(900, "raw").as_bytes())
        )
        .status,
        200
    );
    // Small on the wire, over the limit once inflated.
    let big = gzip(body(5000, "big").as_bytes());
    assert!(big.len() < 1000);
    let reply = post_bytes(&tap, Some("gzip"), big);
    assert_eq!(reply.status, 413, "{:?}", reply.body);
    assert_eq!(
        post_bytes(&tap, Some("deflate"), zlib(body(5000, "big").as_bytes())).status,
        413
    );
    let mut cut = gzip(body(100, "cut").as_bytes());
    cut.truncate(cut.len() - 5);
    let reply = post_bytes(&tap, Some("gzip"), cut);
    assert_eq!(reply.status, 400, "{:?}", reply.body);
    assert!(reply.body["error"].as_str().unwrap().contains("gzip"));
    assert_eq!(
        post_bytes(&tap, Some("gzip"), b"{\"not\":\"gzip\"}".to_vec()).status,
        400
    );
    assert_eq!(post_bytes(&tap, Some("br"), b"{}".to_vec()).status, 415);

    tap.stop();
    let records = h.drain(None).records();
    assert_eq!(records.len(), 3, "refusals wrote nothing");
    assert_eq!(records[0]["pad"].as_str().unwrap().len(), 900);
    let tags: Vec<Value> = records.iter().map(|r| r["tag"].clone()).collect();
    assert_eq!(tags, [json!("gzip"), json!("zlib"), json!("raw")]);
}

#[test]
fn a_gzip_bomb_gets_413_quickly_and_without_the_memory_of_the_inflated_body() {
    let mut h = Harness::new(json!({}));
    let tap = h.start(&[]);
    // 1 GiB of spaces as 1024 gzip members of 1 MiB each: about 1 MB on the wire.
    let member = gzip(&vec![b' '; 1 << 20]);
    let bomb: Vec<u8> = member.repeat(1024);
    assert!(bomb.len() < 2 << 20, "{}", bomb.len());
    let started = Instant::now();
    let reply = post_bytes(&tap, Some("gzip"), bomb);
    let took = started.elapsed();
    assert_eq!(reply.status, 413, "{:?}", reply.body);
    assert!(took < Duration::from_secs(10), "took {took:?}");
    let peak = peak_rss_bytes(tap.pid());
    assert!(
        peak < 200 << 20,
        "peak RSS {} MB for a 1 GiB bomb",
        peak >> 20
    );
    assert_eq!(tap.post(r#"{"after":"bomb"}"#).status, 200);
    tap.terminate();
    assert_eq!(tap.wait().records().len(), 1);
}

#[test]
fn json_nested_100000_levels_gets_400_without_a_stack_overflow() {
    let mut h = Harness::new(json!({}));
    let tap = h.start(&[]);
    let depth = 100_000;
    let bodies = [
        format!("{}{}", "[".repeat(depth), "]".repeat(depth)),
        format!(r#"{{"a":{}{}}}"#, "[".repeat(depth), "]".repeat(depth)),
        format!(
            r#"[{{"a":{}1{}}}]"#,
            r#"{"b":"#.repeat(depth),
            "}".repeat(depth)
        ),
        format!("[{}{}]", "[".repeat(depth), "]".repeat(depth)),
    ];
    for body in bodies {
        let reply = tap.post(&body);
        assert_eq!(reply.status, 400, "{:?}", reply.body);
    }
    // Still serving.
    assert_eq!(tap.post(r#"{"still":"alive"}"#).status, 200);
    tap.terminate();
    let done = tap.wait();
    assert!(done.status.success());
    assert_eq!(done.records().len(), 1);
}

#[test]
fn invalid_utf8_unpaired_surrogates_and_numbers_beyond_a_double_get_400() {
    let mut h = Harness::new(json!({}));
    let tap = h.serve_in_process();
    for body in [
        &b"{\"s\":\"\xff\xfe\"}"[..],
        b"{\"\xc3\x28\":1}",
        b"{\"overlong\":\"\xc0\xaf\"}",
        b"{\"surrogate\":\"\xed\xa0\x80\"}",
        b"[{\"a\":1},{\"b\":\"\x80\"}]",
        // Escaped, but no text either: an unpaired UTF-16 surrogate (found by fuzzing).
        b"{\"s\":\"\\ud999 99\"}",
        // A number no double holds (found by fuzzing too).
        b"{\"n\":56.555E010003}",
    ] {
        let reply = post_bytes(&tap, None, body.to_vec());
        assert_eq!(reply.status, 400, "{:?}", String::from_utf8_lossy(body));
    }
    tap.stop();
    assert!(h.drain(None).records().is_empty());
}

#[test]
fn a_huge_number_of_fields_gets_422_quickly_and_duplicate_keys_cost_linear_time() {
    let mut h = Harness::new(json!({}));
    let tap = h.serve_in_process();
    let mut wide = String::from("{");
    for i in 0..200_000 {
        wide.push_str(&format!(r#""f{i}":{i},"#));
    }
    wide.pop();
    wide.push('}');
    let started = Instant::now();
    let reply = tap.post(&wide);
    assert_eq!(reply.status, 422, "{:?}", reply.body);
    assert!(
        reply.body["error"]
            .as_str()
            .unwrap()
            .contains("200000 top-level fields; at most 1000"),
        "{:?}",
        reply.body
    );
    assert!(started.elapsed() < Duration::from_secs(10));

    // 200 000 repetitions of one key: one field, last value wins, in linear time.
    let mut repeated = String::from("{");
    for i in 0..200_000 {
        repeated.push_str(&format!(r#""k":{i},"#));
    }
    repeated.pop();
    repeated.push('}');
    let started = Instant::now();
    assert_eq!(tap.post(&repeated).status, 200);
    assert!(started.elapsed() < Duration::from_secs(10));

    let mut at_limit = String::from("{");
    for i in 0..1000 {
        at_limit.push_str(&format!(r#""g{i}":{i},"#));
    }
    at_limit.pop();
    at_limit.push('}');
    assert_eq!(tap.post(&at_limit).status, 200);
    tap.stop();
    let records = h.drain(None).records();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["k"], 199_999);
}

#[test]
fn slow_headers_and_slow_bodies_are_cut_off_while_other_clients_are_served() {
    let mut h = Harness::new(json!({
        "header_read_timeout_seconds": 1,
        "body_read_timeout_seconds": 1
    }));
    let tap = h.serve_in_process();

    // Slowloris: headers never finished. The connection is closed after the header timeout.
    let mut slow_headers = connect(&tap);
    slow_headers
        .write_all(b"POST /webhooks/x HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    // A body that never arrives in full: 408 after the body timeout.
    let mut slow_body = connect(&tap);
    write!(
        slow_body,
        "POST /webhooks/{} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"a\":",
        tap.token
    )
    .unwrap();
    let started = Instant::now();

    // Meanwhile, a normal webhook is served at once.
    assert_eq!(tap.post(r#"{"normal":true}"#).status, 200);

    let response = read_to_end(slow_body);
    assert!(response.starts_with("HTTP/1.1 408"), "{response}");
    assert!(response.contains("connection: close"), "{response}");
    assert!(response.contains(r#""error""#), "{response}");
    // Closed by the server (a read that timed out would take the 60 s read deadline).
    let mut rest = Vec::new();
    let _ = slow_headers.read_to_end(&mut rest);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(10), "took {took:?}");

    // An idle keep-alive connection is closed after the header timeout too.
    let idle = connect(&tap);
    assert_eq!(read_to_end(idle), "");
    tap.stop();
    assert_eq!(h.drain(None).records().len(), 1);
}

#[test]
fn requests_beyond_max_concurrent_requests_get_429_with_retry_after() {
    let mut h = Harness::new(json!({"max_concurrent_requests": 2}));
    let tap = h.serve_in_process();
    let body = br#"{"slow":true}"#;
    let mut first = request_in_handler(&tap, body.len());
    let mut second = request_in_handler(&tap, body.len());
    let refused = tap.post(r#"{"third":true}"#);
    assert_eq!(refused.status, 429, "{:?}", refused.body);
    assert_eq!(refused.headers["retry-after"], "1");
    assert!(refused.body["error"].as_str().unwrap().contains("retry"));

    first.write_all(body).unwrap();
    second.write_all(body).unwrap();
    assert!(read_head(&mut first).starts_with("HTTP/1.1 200"));
    assert!(read_head(&mut second).starts_with("HTTP/1.1 200"));
    // Permits are returned: the next request goes through.
    assert_eq!(tap.post(r#"{"after":true}"#).status, 200);
    tap.stop();
    assert_eq!(h.drain(None).records().len(), 3);
}

#[test]
fn hundreds_of_idle_and_half_open_connections_do_not_stop_valid_webhooks() {
    let mut h = Harness::new(json!({}));
    let tap = h.start(&[]);
    // More idle sockets than max_connections (512), plus slowloris sockets mid-headers.
    let mut idle: Vec<TcpStream> = (0..600).map(|_| connect(&tap)).collect();
    let half_open: Vec<TcpStream> = (0..200)
        .map(|_| {
            let mut s = connect(&tap);
            s.write_all(b"POST /webhooks/x HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                .unwrap();
            s
        })
        .collect();
    let started = Instant::now();
    let c = client();
    for i in 0..20 {
        let r = c
            .post(tap.url())
            .header("content-type", "application/json")
            .body(format!(r#"{{"i":{i}}}"#))
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let took = started.elapsed();
    // Well before the 10 s header timeout could have freed anything.
    assert!(took < Duration::from_secs(5), "took {took:?}");
    // The longest-idle connections were the ones closed to make room.
    let mut oldest = idle.remove(0);
    oldest
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0u8; 1];
    assert!(matches!(oldest.read(&mut buf), Ok(0) | Err(_)));
    drop(idle);
    drop(half_open);
    tap.terminate();
    assert_eq!(tap.wait().records().len(), 20);
}

#[test]
fn a_connection_beyond_max_connections_gets_503_when_all_are_busy() {
    let mut h = Harness::new(json!({"max_connections": 2}));
    let tap = h.serve_in_process();
    let body = br#"{"busy":true}"#;
    let mut busy: Vec<TcpStream> = (0..2)
        .map(|_| request_in_handler(&tap, body.len()))
        .collect();
    let mut extra = connect(&tap);
    let _ = extra.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    let response = read_to_end(extra);
    assert!(response.starts_with("HTTP/1.1 503"), "{response}");
    assert!(response.contains("retry-after: 1"), "{response}");
    assert!(response.contains("too many connections"), "{response}");
    for s in &mut busy {
        s.write_all(body).unwrap();
        assert!(read_head(s).starts_with("HTTP/1.1 200"));
    }
    drop(busy);
    wait_for("a free connection", || {
        let r = client().get(format!("{}/healthz", tap.base)).send().ok()?;
        (r.status() == 200).then_some(())
    });
    tap.stop();
    assert_eq!(h.drain(None).records().len(), 2);
}

/// RFC 9112 §3.2: an HTTP/1.1 request without a Host header, or any request with two, is
/// answered 400 and nothing is journaled; HTTP/1.0 needs none. (hyper answers these 200 on
/// its own: hyperium/hyper#3777.)
#[test]
fn http11_requests_without_exactly_one_host_get_400() {
    let mut h = Harness::new(json!({}));
    let tap = h.start(&[]);
    let path = tap.url();
    let path = &path[path.find("/webhooks/").unwrap()..];
    let body = r#"{"id":"smuggled"}"#;
    let send = |version: &str, hosts: &[&str]| -> String {
        let mut s = connect(&tap);
        let mut request = format!("POST {path} {version}\r\n");
        for host in hosts {
            request.push_str(&format!("Host: {host}\r\n"));
        }
        request.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ));
        s.write_all(request.as_bytes()).unwrap();
        read_head(&mut s)
    };
    for hosts in [
        &[][..],
        &["a.example", "b.example"],
        &["a.example", "a.example"],
    ] {
        let head = send("HTTP/1.1", hosts);
        assert!(head.starts_with("HTTP/1.1 400"), "{hosts:?}: {head}");
    }
    assert!(send("HTTP/1.1", &["a.example"]).starts_with("HTTP/1.1 200"));
    assert!(send("HTTP/1.0", &[]).contains(" 200 "));
    assert!(send("HTTP/1.0", &["a.example", "b.example"]).contains(" 400 "));
    let records = tap.wait_for_records(2);
    tap.terminate();
    let done = tap.wait();
    assert!(done.status.success(), "{}", done.stderr);
    assert_eq!(
        done.records().len(),
        2,
        "only the two valid requests: {records:?}"
    );
}
