//! Hostile requests, round three: what a refusal logs (one line each, rate-limited, never the
//! token), log lines a request tries to forge, multipart file names in every form a sender
//! uses, and the smaller points (a positional "handshake", JSON text sequences, forms that
//! open with a bracket, other methods on the operations endpoints).
//!
//! What only stderr and stdout show runs on the real binary; replies alone on the listener in
//! this process.

use std::time::Instant;

use crate::common::*;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

fn github_signature(secret: &str, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn post_as(
    tap: &impl Listener,
    content_type: &str,
    headers: &[(&str, &[u8])],
    body: Vec<u8>,
) -> Reply {
    let mut request = tap
        .client()
        .post(tap.url())
        .header("content-type", content_type)
        .body(body);
    for (name, value) in headers {
        request = request.header(
            *name,
            reqwest::header::HeaderValue::from_bytes(value).unwrap(),
        );
    }
    tap.send(request)
}

/// The WARNING lines of refusals in `stderr`.
fn refusal_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.starts_with("WARNING refused a webhook: "))
        .collect()
}

/// The sum of the "N more refused webhooks were not logged" lines in `stderr`.
fn left_out(stderr: &str) -> u64 {
    stderr
        .lines()
        .filter_map(|l| l.strip_prefix("WARNING "))
        .filter_map(|l| l.split_once(" more refused webhooks were not logged"))
        .map(|(n, _)| n.parse::<u64>().unwrap())
        .sum()
}

#[test]
fn each_refusal_is_one_warning_with_status_reason_token_id_remote_and_delivery_id() {
    let secret = "gh-secret-1";
    let mut h = Harness::new(json!({
        "signature": {"scheme": "github", "secret": secret},
        "idempotency_header": "X-GitHub-Delivery",
    }));
    let tap = h.start(&[]);
    let listed = h.token_command(&["list", "--json"]);
    let list: Value = serde_json::from_slice(&listed.stdout).unwrap();
    let token_id = list[0]["id"].as_str().unwrap().to_owned();
    let body = r#"{"id":1}"#;
    let forged = github_signature("not-the-secret", body);
    let bad = post_as(
        &tap,
        "application/json",
        &[
            ("x-hub-signature-256", forged.as_bytes()),
            ("x-github-delivery", b"d-1"),
        ],
        body.into(),
    );
    assert_eq!(bad.status, 401);
    let unknown = tap.send(
        tap.client()
            .post(format!("{}/webhooks/{}", tap.base, "f".repeat(64)))
            .header("x-github-delivery", "d-2")
            .body(body),
    );
    assert_eq!(unknown.status, 401);
    let unsupported = post_as(&tap, "image/png", &[], b"png".to_vec());
    assert_eq!(unsupported.status, 415);
    let lines = wait_for("three refusal lines", || {
        let err = tap.stderr();
        (refusal_lines(&err).len() >= 3).then_some(err)
    });
    let lines = refusal_lines(&lines);
    let signature = lines[0];
    assert!(
        signature.starts_with("WARNING refused a webhook: 401 invalid signature: "),
        "{signature}"
    );
    for part in [
        "usual causes: the secret differs from the provider's, or a proxy changed the body",
        &format!("; token {token_id}"),
        ", from 127.0.0.1:",
        ", delivery \"d-1\"",
    ] {
        assert!(signature.contains(part), "{part:?} not in {signature}");
    }
    assert!(
        lines[1].contains("401 unknown or revoked token; token unknown, from 127.0.0.1:"),
        "{}",
        lines[1]
    );
    assert!(lines[1].contains("delivery \"d-2\""), "{}", lines[1]);
    assert!(
        lines[2].contains("415 Content-Type \"image/png\" is not supported"),
        "{}",
        lines[2]
    );
    tap.terminate();
    let done = tap.wait();
    // Never the token, nor the forged signature.
    let token = h.token.clone().unwrap();
    assert_eq!(
        done.stderr.matches(&token).count(),
        1,
        "only the one-time URL"
    );
    assert!(!done.stderr.contains(&forged[7..]));
}

#[test]
fn a_storm_of_refusals_logs_about_ten_lines_a_second_and_counts_the_rest() {
    let mut h = Harness::new(json!({}));
    let tap = h.start(&[]);
    let bogus = format!("{}/webhooks/{}", tap.base, "0".repeat(64));
    let started = Instant::now();
    const STORM: u64 = 60;
    for _ in 0..STORM {
        let reply = tap.send(tap.client().post(&bogus).body("{}"));
        assert_eq!(reply.status, 401);
    }
    let elapsed = started.elapsed().as_secs() + 1;
    // The count comes once the second is over, with no further refusal to bring it.
    let stderr = wait_for_explained(
        "every refusal logged or counted",
        || {
            let err = tap.stderr();
            (refusal_lines(&err).len() as u64 + left_out(&err) == STORM).then_some(err)
        },
        || tap.stderr(),
    );
    let logged = refusal_lines(&stderr).len() as u64;
    assert!(
        logged <= 10 * (elapsed + 1),
        "{logged} lines in {elapsed} s:\n{stderr}"
    );
    assert!(left_out(&stderr) > 0, "{stderr}");
    assert!(stderr.contains("(at most 10 lines a second)"), "{stderr}");
}

#[test]
fn a_request_cannot_forge_a_log_line_or_send_terminal_escapes() {
    let mut h = Harness::new(json!({"idempotency_header": "X-Delivery"}));
    let tap = h.start(&[]);
    let confirm = json!({
        "Type": "SubscriptionConfirmation",
        "MessageId": "m-1",
        "TopicArn": "arn:aws:sns:us-west-2:1:T\nERROR forged topic",
        "SubscribeURL": "https://sns.example/?Token=1\u{1b}[31m\nERROR forged log line\r\u{2028}\u{202e}",
    });
    let reply = post_as(
        &tap,
        "text/plain",
        &[("x-amz-sns-message-type", b"SubscriptionConfirmation")],
        confirm.to_string().into_bytes(),
    );
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    // A refusal whose delivery id holds bytes that are not text, and a right-to-left override.
    let refused = post_as(
        &tap,
        "application/json",
        &[("x-delivery", b"d\xe2\x80\xae\xff-1")],
        b"{broken".to_vec(),
    );
    assert_eq!(refused.status, 400);
    wait_for("the refusal line", || {
        (!refusal_lines(&tap.stderr()).is_empty()).then_some(())
    });
    tap.terminate();
    let done = tap.wait();
    let stderr = done.stderr;
    for forged in ["\u{1b}", "\r", "\u{2028}", "\u{202e}"] {
        assert!(!stderr.contains(forged), "{forged:?} in stderr:\n{stderr}");
    }
    for line in stderr.lines() {
        assert!(
            !line.starts_with("ERROR forged"),
            "a forged line:\n{stderr}"
        );
        let level = line.split(' ').next().unwrap();
        assert!(
            ["INFO", "WARNING", "ERROR", "DEBUG", "CRITICAL"].contains(&level),
            "a line that is not the tap's own: {line:?}"
        );
    }
    let sns = stderr
        .lines()
        .find(|l| l.contains("awaits confirmation"))
        .unwrap();
    assert!(
        sns.contains(r"Token=1\u{1b}[31m\nERROR forged log line\r\u{2028}\u{202e}"),
        "{sns}"
    );
    let refusal = refusal_lines(&stderr)[0];
    assert!(refusal.contains(r#"delivery "d\u{202e}"#), "{refusal}");
}

/// A multipart part given by its raw header lines and content.
fn multipart(parts: &[(&[u8], &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (headers, content) in parts {
        out.extend_from_slice(b"--b0undary\r\n");
        out.extend_from_slice(headers);
        out.extend_from_slice(b"\r\n\r\n");
        out.extend_from_slice(content);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"--b0undary--\r\n");
    out
}

#[test]
fn multipart_file_bytes_are_never_emitted_whatever_form_the_file_name_takes() {
    let mut h = Harness::new(json!({}));
    let tap = h.start(&[]);
    let binary: Vec<u8> = (0..=255).collect();
    let sha = hex::encode(Sha256::digest(&binary));
    // (Content-Disposition and Content-Type lines, file name the record shows).
    let forms: [(&[u8], Value); 6] = [
        (b"Content-Disposition: form-data; name=\"plain\"; filename=\"a.bin\"", json!("a.bin")),
        (b"Content-Disposition: form-data; name=\"ext\"; filename*=UTF-8''%E2%82%AC.bin", json!("\u{20ac}.bin")),
        (b"Content-Disposition: form-data; name=\"latin\"; filename=\"caf\xe9.bin\"", json!("caf\u{fffd}.bin")),
        (b"Content-Disposition: form-data; name=\"pct\"; filename=\"%E2%82%AC.bin\"", json!("\u{20ac}.bin")),
        (b"Content-Disposition: form-data; name=\"both\"; filename=\"fallback.bin\"; filename*=iso-8859-1''caf%E9.bin", json!("caf\u{e9}.bin")),
        (b"Content-Disposition: form-data; name=\"typed\"\r\nContent-Type: application/octet-stream", Value::Null),
    ];
    let mut parts: Vec<(&[u8], &[u8])> = forms
        .iter()
        .map(|(headers, _)| (*headers, binary.as_slice()))
        .collect();
    parts.push((
        b"Content-Disposition: form-data; name=\"n\xefme\"",
        b"text field",
    ));
    let reply = post_as(
        &tap,
        "multipart/form-data; boundary=b0undary",
        &[],
        multipart(&parts),
    );
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let record = tap.wait_for_records(1)[0].clone();
    let names = ["plain", "ext", "latin", "pct", "both", "typed"];
    for (name, (_, filename)) in names.iter().zip(&forms) {
        let file = &record[*name];
        assert_eq!(file["filename"], *filename, "{name}: {record}");
        assert_eq!(file["size"], 256, "{name}: {record}");
        assert_eq!(file["sha256"], sha.as_str(), "{name}: {record}");
    }
    assert_eq!(record["n\u{fffd}me"], "text field", "{record}");
    tap.terminate();
    let done = tap.wait();
    // No run of the file's bytes, as lossy text or escaped, reached stdout.
    let out = done.stdout_text();
    assert!(!out.contains("\\u0001\\u0002\\u0003"), "{out}");
    assert!(!out.contains("\u{fffd}\u{fffd}\u{fffd}"), "{out}");
    assert!(!out.contains("x_empty"), "{out}");
}

#[test]
fn smaller_points_handshake_shapes_json_sequences_bracketed_forms_and_ops_methods() {
    let mut h = Harness::new(json!({"ops_bind": "127.0.0.1:0"}));
    let tap = h.serve_in_process();
    // A positional array is a body like any other, not Slack's handshake.
    let positional = tap.post(r#"["url_verification","c3"]"#);
    assert_eq!(positional.status, 422, "{:?}", positional.body);
    assert!(positional.body.get("challenge").is_none());
    // RFC 7464 framing: each text after RS, pretty-printed texts included.
    let seq = post_as(
        &tap,
        "application/json-seq",
        &[],
        b"\x1e{\"s\":1}\n\x1e{\n \"s\": 2\n}\n".to_vec(),
    );
    assert_eq!(seq.status, 200, "{:?}", seq.body);
    assert_eq!(seq.body["records"], 2);
    // A form whose first field name opens with a bracket.
    let form = post_as(
        &tap,
        "application/x-www-form-urlencoded",
        &[],
        b"[x]=1&y=2".to_vec(),
    );
    assert_eq!(form.status, 200, "{:?}", form.body);
    // Other methods on the operations endpoints: 405 with Allow; other paths a 404 naming them.
    let ops = tap.ops_base.clone().unwrap();
    for path in ["healthz", "readyz", "metrics"] {
        let reply = tap.send(tap.client().post(format!("{ops}/{path}")).body("{}"));
        assert_eq!(reply.status, 405, "{path}");
        assert_eq!(reply.headers["allow"], "GET, HEAD", "{path}");
        let delete = tap.send(tap.client().delete(format!("{ops}/{path}")));
        assert_eq!(delete.status, 405, "{path}");
    }
    let unknown = tap.send(tap.client().get(format!("{ops}/nope")));
    assert_eq!(unknown.status, 404);
    let error = unknown.body["error"].as_str().unwrap();
    assert!(
        error.contains("/healthz") && !error.contains("webhooks"),
        "{error}"
    );
    tap.stop();
    let records = h.drain(None).records();
    let values: Vec<&Value> = records
        .iter()
        .map(|r| r.get("s").or(r.get("[x]")).unwrap())
        .collect();
    assert_eq!(values, [&json!(1), &json!(2), &json!("1")]);
    assert_eq!(records[2]["y"], "2");
}

#[test]
fn ops_endpoints_on_the_webhook_listener_answer_other_methods_with_405() {
    let mut h = Harness::new(json!({}));
    let tap = h.serve_in_process();
    let reply = tap.send(
        tap.client()
            .post(format!("{}/healthz", tap.base))
            .body("{}"),
    );
    assert_eq!(reply.status, 405);
    assert_eq!(reply.headers["allow"], "GET, HEAD");
    assert_eq!(tap.post("{}").status, 200);
    tap.stop();
}
