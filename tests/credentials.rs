//! The credential policy, tried as a careless sender and an attacker would: credentials in
//! twenty header names, fifteen query parameter names and the usual value shapes (`Bearer`,
//! `Basic`, a JWT, the webhook token itself in upper case and percent-encoded), sent with
//! accepted and refused deliveries, JSON and form bodies, with `capture_headers: ["*"]`,
//! `capture_query: true` and `rejections: true`. None may show on stdout, stderr, in any file
//! under `data_dir` or in an operations reply; each is shown as `<redacted: N bytes>` where
//! capture was asked for. A header named exactly in `capture_headers` is kept, with a warning.
//!
//! The real binary runs the listening sync: its stdout, stderr and files are what is checked.

use std::collections::BTreeMap;

use crate::common::*;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::json;
use sha2::Sha256;

const SECRET: &str = "hmac-secret-Zr81";

fn sign(body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// A credential value unique to `what`: alphanumerics and `-`, so that no encoding changes it.
fn cred(what: &str) -> String {
    format!("cr3d-{what}-7Qx")
}

const JWT_HEAD: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

fn jwt(what: &str) -> String {
    format!(
        "{JWT_HEAD}.eyJzdWIiOiJ0YXAifQ.{}",
        cred(what).replace('-', "_")
    )
}

/// The headers sent with every request: (name, value, the secret part of the value).
fn credential_headers(token: &str) -> Vec<(&'static str, String, String)> {
    let by_name = [
        "x-api-key",
        "x-access-key",
        "x-private-key",
        "x-credential",
        "x-session-id",
        "x-amz-security-token",
        "x-otp",
        "x-gitlab-token",
        "x-webhook-secret",
        "x-auth-token",
        "x-csrf-token",
        "x-xsrf-token",
        "x-password",
        "cookie",
        "x-hub-signature-256",
    ];
    let mut headers: Vec<(&'static str, String, String)> = by_name
        .iter()
        .map(|name| (*name, cred(name), cred(name)))
        .collect();
    let shaped = [
        ("authorization", "Bearer", "authorization"),
        ("proxy-authorization", "Basic", "proxy"),
        ("x-echo", "Bearer", "echo"),
        ("x-note", "Basic", "note"),
    ];
    for (name, scheme, what) in shaped {
        headers.push((name, format!("{scheme} {}", cred(what)), cred(what)));
    }
    headers.push((
        "x-jwt-assertion",
        jwt("assertion"),
        cred("assertion").replace('-', "_"),
    ));
    headers.push(("x-trace", jwt("trace"), cred("trace").replace('-', "_")));
    // The live token, echoed by a proxy in other headers, in other cases and encodings.
    let upper = token.to_ascii_uppercase();
    let encoded: String = token.bytes().map(|b| format!("%{b:02X}")).collect();
    headers.push((
        "x-forwarded-authorization",
        format!("Bearer {token}"),
        token.into(),
    ));
    headers.push(("x-original-uri", format!("/webhooks/{upper}"), upper));
    headers.push(("x-rewritten-url", format!("/webhooks/{encoded}"), encoded));
    headers
}

/// The query parameters sent with every request.
const QUERY_NAMES: [&str; 15] = [
    "api_key",
    "apiKey",
    "access_token",
    "password",
    "passwd",
    "client_secret",
    "sig",
    "signature",
    "auth",
    "session_id",
    "jwt",
    "key",
    "otp",
    "csrf_token",
    "hmac",
];

fn query(token: &str) -> (String, Vec<String>) {
    let mut pairs: Vec<String> = QUERY_NAMES
        .iter()
        .map(|name| format!("{name}={}", cred(&format!("q-{name}"))))
        .collect();
    let mut secrets: Vec<String> = QUERY_NAMES
        .iter()
        .map(|name| cred(&format!("q-{name}")))
        .collect();
    pairs.push(format!("x=Bearer%20{}", cred("q-bearer")));
    secrets.push(cred("q-bearer"));
    pairs.push(format!("echo={}", token.to_ascii_uppercase()));
    pairs.push("page=2".into());
    (pairs.join("&"), secrets)
}

/// Sends one request and returns its status.
fn send(
    tap: &Tap,
    query: &str,
    headers: &[(&'static str, String, String)],
    (content_type, body): (&str, &str),
    signature: &str,
) -> u16 {
    let mut request = tap
        .client()
        .post(format!("{}?{query}", tap.url()))
        .header("content-type", content_type)
        .header("x-github-event", "push")
        .header("x-checksum", signature)
        .body(body.to_owned());
    for (name, value, _) in headers {
        request = request.header(*name, value);
    }
    tap.send(request).status
}

#[test]
fn credentials_in_headers_queries_and_bodies_never_reach_output_logs_files_or_replies() {
    let mut h = Harness::new(json!({
        "capture_headers": ["*"],
        "capture_query": true,
        "rejections": true,
        "signature": {"scheme": "hmac-sha256", "secret": SECRET, "header": "X-Checksum"},
    }));
    let tap = h.start(&[]);
    let token = tap.token.clone();
    let headers = credential_headers(&token);
    let (query, query_secrets) = query(&token);
    let json_body = r#"{"id":1,"kind":"json"}"#;
    let form_body = "id=2&kind=form";
    let tried = [
        // (what, content type and body, signature, expected status)
        (
            "json, signed",
            ("application/json", json_body),
            sign(json_body),
            200,
        ),
        (
            "form, signed",
            ("application/x-www-form-urlencoded", form_body),
            sign(form_body),
            200,
        ),
        (
            "json, forged",
            ("application/json", json_body),
            cred("checksum"),
            401,
        ),
        (
            "form, forged",
            ("application/x-www-form-urlencoded", form_body),
            cred("checksum"),
            401,
        ),
        (
            "json, broken",
            ("application/json", "{\"id\":"),
            sign("{\"id\":"),
            400,
        ),
    ];
    for (what, body, signature, status) in &tried {
        assert_eq!(
            send(&tap, &query, &headers, *body, signature),
            *status,
            "{what}"
        );
    }
    // A refused body that holds the token, in upper case: its prefix is recorded.
    let holding = format!(r#"{{"echo":"{}"}}"#, token.to_ascii_uppercase());
    let refused = ("application/json", holding.as_str());
    assert_eq!(send(&tap, "", &headers, refused, "0"), 401);
    // The token only in Authorization (POST /webhooks), and an unknown token.
    let bearer = tap.send(
        tap.client()
            .post(format!("{}/webhooks", tap.base))
            .header("authorization", format!("Bearer {token}"))
            .header("x-checksum", sign(json_body))
            .header("x-echo", format!("token={token}"))
            .body(json_body),
    );
    assert_eq!(bearer.status, 200, "{:?}", bearer.body);
    let unknown = tap.send(
        tap.client()
            .post(format!("{}/webhooks/{}", tap.base, cred("unknown-token")))
            .header("x-api-key", cred("x-api-key"))
            .body(json_body),
    );
    assert_eq!(unknown.status, 401);

    let mut replies = String::new();
    for path in ["healthz", "readyz", "metrics"] {
        let reply = tap
            .client()
            .get(format!("{}/{path}", tap.base))
            .send()
            .unwrap();
        replies.push_str(&reply.text().unwrap());
    }
    // 3 accepted, 5 refused.
    let records = tap.wait_for_records(3 + 5);
    let done = {
        tap.terminate();
        tap.wait()
    };
    assert!(done.status.success(), "{}", done.stderr);

    // Nowhere: stdout, stderr (but the first start's one-time URL), files, replies.
    let mut needles: Vec<String> = headers
        .iter()
        .map(|(_, _, secret)| secret.clone())
        .collect();
    needles.extend(query_secrets);
    needles.extend([cred("checksum"), cred("unknown-token"), SECRET.to_owned()]);
    needles.extend([sign(json_body), sign(form_body)]);
    let one_time_url = format!("/webhooks/{token}");
    assert_eq!(done.stderr.matches(&token).count(), 1, "{}", done.stderr);
    let mut places: BTreeMap<String, String> = BTreeMap::new();
    places.insert("stdout".into(), done.stdout_text());
    places.insert("stderr".into(), done.stderr.replacen(&one_time_url, "", 1));
    places.insert("operations replies".into(), replies);
    for file in files_under(&h.data_dir()) {
        let bytes = std::fs::read(&file).unwrap();
        places.insert(
            file.display().to_string(),
            String::from_utf8_lossy(&bytes).into_owned(),
        );
    }
    for (place, text) in &places {
        for needle in &needles {
            assert!(!text.contains(needle.as_str()), "{place} holds {needle}");
        }
    }
    // What capture shows: each credential redacted, the data beside it kept.
    let messages = done.messages();
    let accepted = stream_records(&messages, "data");
    assert_eq!(accepted.len(), 3, "{records:?}");
    let first = &accepted[0];
    assert_eq!(first["_sdc_headers"]["x-github-event"], "push");
    for (name, value, _) in &headers {
        assert_eq!(
            first["_sdc_headers"][*name],
            format!("<redacted: {} bytes>", value.len()),
            "{name}: {first}"
        );
    }
    assert_eq!(first["_sdc_query"]["page"], "2");
    for name in QUERY_NAMES {
        assert!(
            first["_sdc_query"][name]
                .as_str()
                .unwrap()
                .starts_with("<redacted: "),
            "{name}: {first}"
        );
    }
    let rejections = stream_records(&messages, "_rejections");
    assert_eq!(rejections.len(), 5, "{rejections:?}");
    let api_key = format!("<redacted: {} bytes>", cred("x-api-key").len());
    assert!(
        rejections
            .iter()
            .all(|r| r["_sdc_headers"]["x-api-key"] == api_key)
    );
    assert!(
        rejections
            .iter()
            .any(|r| r["body_prefix"] == r#"{"echo":"<token>"}"#),
        "{rejections:?}"
    );

    // The refusals were logged, without their credentials.
    let warned = done
        .stderr
        .lines()
        .filter(|l| l.contains("refused a webhook: "))
        .count();
    assert_eq!(warned, 5, "{}", done.stderr);
}

#[test]
fn a_header_named_exactly_in_capture_headers_is_kept_with_a_warning() {
    let mut h = Harness::new(json!({"capture_headers": ["X-Api-Key", "X-GitHub-*"]}));
    let tap = h.start(&[]);
    let reply = tap.send(
        tap.client()
            .post(tap.url())
            .header("x-api-key", "kept-on-purpose")
            .header("x-github-event", "push")
            .header("x-github-token", "not-named-exactly")
            .body("{}"),
    );
    assert_eq!(reply.status, 200);
    let record = &tap.wait_for_records(1)[0];
    assert_eq!(
        record["_sdc_headers"],
        json!({
            "x-api-key": "kept-on-purpose",
            "x-github-event": "push",
            "x-github-token": "<redacted: 17 bytes>",
        })
    );
    tap.terminate();
    let done = tap.wait();
    let warnings: Vec<&str> = done
        .stderr
        .lines()
        .filter(|l| l.starts_with("WARNING capture_headers names"))
        .collect();
    assert_eq!(warnings.len(), 1, "{}", done.stderr);
    assert!(warnings[0].contains("x-api-key"), "{}", warnings[0]);
}
