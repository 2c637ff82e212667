//! Webhook URLs and security: the token lifecycle on a running listener, provider signatures
//! built the way each provider signs, idempotency across restarts, Slack's challenge, and no
//! token or secret left in `data_dir` or the logs.
//!
//! Signatures are checked on the listener started in this process, then the journal is drained
//! by the real binary; the token commands, restarts, exit codes and logs use the real binary.
//!
//! Signatures here are computed with the `hmac` crate directly (and `base64`), following each
//! provider's documentation, never with the tap's own verification code.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

use crate::common::*;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// POSTs `body` with `headers` to the tap's URL.
fn post_with(tap: &impl Listener, headers: &[(&str, String)], body: &str) -> Reply {
    let mut request = tap
        .client()
        .post(tap.url())
        .header("content-type", "application/json")
        .body(body.to_owned());
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    tap.send(request)
}

fn error_of(reply: &Reply) -> String {
    reply.body["error"].as_str().unwrap_or_default().to_owned()
}

/// Stops the in-process listener and drains its journal with the real binary.
fn journaled(h: &Harness, tap: InProcess) -> Finished {
    tap.stop();
    h.drain(None)
}

/// Stops the tap and returns the records it emitted.
fn stop(tap: Tap) -> Finished {
    tap.terminate();
    let done = tap.wait();
    assert!(done.status.success(), "{}", done.stderr);
    done
}

fn token_of(url: &str) -> String {
    url.trim().rsplit('/').next().unwrap().to_owned()
}

#[test]
fn token_new_list_and_revoke_take_effect_on_a_running_listener_without_losing_a_request() {
    let mut h = Harness::new(json!({}));
    let tap = h.start(&[]);
    let first = h.token.clone().unwrap();
    assert_eq!(tap.post(r#"{"n":0}"#).status, 200);

    // A second URL: printed once, as the last line of stdout, and accepted at once.
    let created = h.token_command(&["new"]);
    assert!(created.status.success(), "{}", created.stderr);
    let stdout = created.stdout_text();
    let url = stdout.lines().last().unwrap();
    assert!(url.contains("/webhooks/"), "{stdout}");
    let second = token_of(url);
    assert_eq!(second.len(), 64);
    assert!(!created.stderr.contains(&second), "token only on stdout");
    let second_url = format!("{}/webhooks/{second}", tap.base);
    let post_to = |url: &str, body: &str| {
        tap.send(
            tap.client()
                .post(url)
                .header("content-type", "application/json")
                .body(body.to_owned()),
        )
    };
    assert_eq!(post_to(&second_url, r#"{"n":1}"#).status, 200);

    // A third is refused with a message to revoke first (exit 2).
    let third = h.token_command(&["new"]);
    assert_eq!(third.status.code(), Some(2), "{}", third.stderr);
    assert!(
        third.stderr.contains("revoke one first"),
        "{}",
        third.stderr
    );
    assert!(third.stdout.is_empty());

    // list: ids and times, never a token.
    let listed = h.token_command(&["list", "--json"]);
    assert!(listed.status.success(), "{}", listed.stderr);
    let list: Value = serde_json::from_slice(&listed.stdout).unwrap();
    let list = list.as_array().unwrap().clone();
    assert_eq!(list.len(), 2);
    for entry in &list {
        let keys: Vec<&String> = entry.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["created_at", "id", "last_used_at"]);
        assert!(entry["id"].as_str().unwrap().starts_with("tok_"));
        assert!(entry["created_at"].is_string());
    }
    let text = h.token_command(&["list"]);
    for out in [text.stdout_text(), listed.stdout_text()] {
        assert!(!out.contains(&first) && !out.contains(&second), "{out}");
    }
    let first_id = list[0]["id"].as_str().unwrap().to_owned();

    // While the first token is revoked, a client keeps posting with the second: not one of its
    // requests may fail. After `revoke` returns, the first token is refused at once.
    let stop_posting = Arc::new(AtomicBool::new(false));
    let poster = {
        let stop_posting = Arc::clone(&stop_posting);
        let second_url = second_url.clone();
        thread::spawn(move || {
            let client = client();
            let mut statuses = Vec::new();
            let mut n = 0;
            while !stop_posting.load(Ordering::Relaxed) || n < 20 {
                let r = client
                    .post(&second_url)
                    .header("content-type", "application/json")
                    .body(format!(r#"{{"during_revoke":{n}}}"#))
                    .send()
                    .unwrap();
                statuses.push(r.status().as_u16());
                n += 1;
            }
            statuses
        })
    };
    let revoked = h.token_command(&["revoke", &first_id]);
    assert!(revoked.status.success(), "{}", revoked.stderr);
    let refused = tap.post(r#"{"n":"revoked"}"#);
    assert_eq!(refused.status, 401, "revoked token refused at once");
    assert!(error_of(&refused).contains("revoked"));
    stop_posting.store(true, Ordering::Relaxed);
    let statuses = poster.join().unwrap();
    assert!(statuses.iter().all(|&s| s == 200), "{statuses:?}");
    assert_eq!(post_to(&second_url, r#"{"n":2}"#).status, 200);

    // An unknown id is a clear error, exit 2.
    let unknown = h.token_command(&["revoke", "tok_00000000"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        unknown
            .stderr
            .contains("no active token has id tok_00000000")
    );

    let done = stop(tap);
    assert_eq!(done.records().len(), 3 + statuses.len());

    // Last use is written back by the listener (at the latest when it stops).
    let list: Value = serde_json::from_slice(&h.token_command(&["list", "--json"]).stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert!(list[0]["last_used_at"].is_string(), "{list}");

    // A restart with one token left creates none and prints no URL.
    let tap = h.start(&[]);
    let url = format!("{}/webhooks/{second}", tap.base);
    let reply = tap.send(tap.client().post(url).body(r#"{"n":3}"#));
    assert_eq!(reply.status, 200);
    let done = stop(tap);
    assert!(!done.stderr.contains("/webhooks/"), "{}", done.stderr);
}

#[test]
fn revoking_every_token_leaves_a_listener_that_accepts_nothing_until_token_new() {
    let mut h = Harness::new(json!({}));
    let tap = h.start(&[]);
    let list: Value = serde_json::from_slice(&h.token_command(&["list", "--json"]).stdout).unwrap();
    let id = list[0]["id"].as_str().unwrap().to_owned();
    assert!(h.token_command(&["revoke", &id]).status.success());
    assert_eq!(tap.post("{}").status, 401);
    stop(tap);

    // Not a first start: no token is created behind the user's back. (Logged once the tokens
    // are loaded, which may be after "listening on".)
    let tap = h.start(&[]);
    wait_for("the no-active-URL warning", || {
        tap.stderr().contains("no active webhook URL").then_some(())
    });
    assert!(!tap.stderr().contains("/webhooks/"), "{}", tap.stderr());
    let created = h.token_command(&["new"]);
    let token = token_of(created.stdout_text().lines().last().unwrap());
    let reply = tap.send(
        tap.client()
            .post(format!("{}/webhooks/{token}", tap.base))
            .body("{}"),
    );
    assert_eq!(reply.status, 200);
    stop(tap);
}

#[test]
fn token_sha256_in_config_makes_the_store_read_only() {
    let token = "ab".repeat(32);
    let digest = hex::encode(Sha256::digest(token.as_bytes()));
    let mut h = Harness::new(json!({"token_sha256": [digest]}));
    h.token = Some(token.clone());
    let tap = h.start(&[]);
    assert_eq!(tap.post(r#"{"a":1}"#).status, 200);
    let other = tap.send(
        tap.client()
            .post(format!("{}/webhooks/{}", tap.base, "cd".repeat(32)))
            .body("{}"),
    );
    assert_eq!(other.status, 401);
    for args in [&["new"][..], &["revoke", "cfg_x"][..]] {
        let done = h.token_command(args);
        assert_eq!(done.status.code(), Some(2));
        assert!(done.stderr.contains("read-only"), "{}", done.stderr);
    }
    let listed = h.token_command(&["list", "--json"]);
    assert!(
        listed.stdout_text().contains("cfg_"),
        "{}",
        listed.stdout_text()
    );
    stop(tap);
    assert!(!h.data_dir().join("tokens.json").exists());
}

// ---------------------------------------------------------------------------------------------
// Signatures, one test per provider: valid, invalid, missing (and expired where timed).

const BODY: &str = r#"{"id":"evt_1","kind":"signed"}"#;

/// Checks that the refusals wrote nothing: only the accepted bodies were emitted.
fn assert_only_accepted(done: &Finished, accepted: usize) {
    let records = done.records();
    assert_eq!(records.len(), accepted, "{records:?}");
}

fn assert_refused(reply: &Reply, says: &str) {
    assert_eq!(reply.status, 401, "{:?}", reply.body);
    let error = error_of(reply);
    assert!(
        error.starts_with(says),
        "{error:?} should start with {says:?}"
    );
}

#[test]
fn github_signatures_are_verified() {
    let secret = "gh-secret-Zq8";
    let mut h = Harness::new(json!({"signature": {"scheme": "github", "secret": secret}}));
    let tap = h.serve_in_process();
    let sign = |body: &str| {
        format!(
            "sha256={}",
            hex::encode(hmac_sha256(secret.as_bytes(), &[body.as_bytes()]))
        )
    };
    let ok = post_with(&tap, &[("X-Hub-Signature-256", sign(BODY))], BODY);
    assert_eq!(ok.status, 200, "{:?}", ok.body);
    let tampered = post_with(
        &tap,
        &[("X-Hub-Signature-256", sign(BODY))],
        r#"{"id":"evt_1","kind":"forged"}"#,
    );
    assert_refused(&tampered, "invalid signature");
    let wrong_key = format!(
        "sha256={}",
        hex::encode(hmac_sha256(b"other", &[BODY.as_bytes()]))
    );
    assert_refused(
        &post_with(&tap, &[("X-Hub-Signature-256", wrong_key)], BODY),
        "invalid signature",
    );
    assert_refused(
        &post_with(&tap, &[("X-Hub-Signature-256", "sha256=zz".into())], BODY),
        "invalid signature",
    );
    let missing = post_with(&tap, &[], BODY);
    assert_refused(&missing, "missing signature");
    assert!(error_of(&missing).contains("x-hub-signature-256"));
    assert_only_accepted(&journaled(&h, tap), 1);
}

#[test]
fn stripe_signatures_are_verified_with_tolerance_and_several_v1() {
    let secret = "whsec_stripe_test_secret";
    let mut h = Harness::new(json!({"signature": {"scheme": "stripe", "secret": secret}}));
    let tap = h.serve_in_process();
    let sign = |t: i64, key: &str| {
        hex::encode(hmac_sha256(
            key.as_bytes(),
            &[t.to_string().as_bytes(), b".", BODY.as_bytes()],
        ))
    };
    let t = now();
    let header = format!("t={t},v1={},v0={}", sign(t, secret), "ab".repeat(32));
    let ok = post_with(&tap, &[("Stripe-Signature", header)], BODY);
    assert_eq!(ok.status, 200, "{:?}", ok.body);
    // Rolling secrets: Stripe sends one v1 per secret; any match passes.
    let rolled = format!("t={t},v1={},v1={}", sign(t, "old-secret"), sign(t, secret));
    assert_eq!(
        post_with(&tap, &[("Stripe-Signature", rolled)], BODY).status,
        200
    );
    let wrong = format!("t={t},v1={}", sign(t, "not-the-secret"));
    assert_refused(
        &post_with(&tap, &[("Stripe-Signature", wrong)], BODY),
        "invalid signature",
    );
    // The timestamp is signed: changing it breaks the signature.
    let moved = format!("t={},v1={}", t + 1, sign(t, secret));
    assert_refused(
        &post_with(&tap, &[("Stripe-Signature", moved)], BODY),
        "invalid signature",
    );
    let old = t - 301;
    let expired = format!("t={old},v1={}", sign(old, secret));
    assert_refused(
        &post_with(&tap, &[("Stripe-Signature", expired)], BODY),
        "expired signature",
    );
    assert_refused(&post_with(&tap, &[], BODY), "missing signature");
    assert_only_accepted(&journaled(&h, tap), 2);
}

#[test]
fn shopify_signatures_are_verified_and_several_secrets_may_sign() {
    let (old, new) = ("shpss_old_secret", "shpss_new_secret");
    let mut h = Harness::new(json!({"signature": {"scheme": "shopify", "secrets": [old, new]}}));
    let tap = h.serve_in_process();
    let sign = |key: &str| BASE64.encode(hmac_sha256(key.as_bytes(), &[BODY.as_bytes()]));
    for key in [old, new] {
        let ok = post_with(&tap, &[("X-Shopify-Hmac-Sha256", sign(key))], BODY);
        assert_eq!(ok.status, 200, "{:?}", ok.body);
    }
    assert_refused(
        &post_with(&tap, &[("X-Shopify-Hmac-Sha256", sign("third"))], BODY),
        "invalid signature",
    );
    assert_refused(
        &post_with(&tap, &[("X-Shopify-Hmac-Sha256", "%%%".into())], BODY),
        "invalid signature",
    );
    assert_refused(&post_with(&tap, &[], BODY), "missing signature");
    assert_only_accepted(&journaled(&h, tap), 2);
}

#[test]
fn slack_signatures_are_verified_and_the_url_verification_challenge_is_answered() {
    let secret = "8f742231b10e8888abcd99yyyzzz85a5";
    let mut h = Harness::new(json!({"signature": {"scheme": "slack", "secret": secret}}));
    let tap = h.serve_in_process();
    let sign = |ts: i64, body: &str| {
        format!(
            "v0={}",
            hex::encode(hmac_sha256(
                secret.as_bytes(),
                &[b"v0:", ts.to_string().as_bytes(), b":", body.as_bytes()]
            ))
        )
    };
    let signed = |ts: i64, body: &str| {
        vec![
            ("X-Slack-Request-Timestamp", ts.to_string()),
            ("X-Slack-Signature", sign(ts, body)),
        ]
    };
    let t = now();
    assert_eq!(post_with(&tap, &signed(t, BODY), BODY).status, 200);
    let mut forged = signed(t, BODY);
    forged[0].1 = (t - 1).to_string();
    assert_refused(&post_with(&tap, &forged, BODY), "invalid signature");
    let stale = t - 6 * 60;
    assert_refused(
        &post_with(&tap, &signed(stale, BODY), BODY),
        "expired signature",
    );
    let no_timestamp = vec![("X-Slack-Signature", sign(t, BODY))];
    let reply = post_with(&tap, &no_timestamp, BODY);
    assert_refused(&reply, "missing signature");
    assert!(error_of(&reply).contains("x-slack-request-timestamp"));
    assert_refused(&post_with(&tap, &[], BODY), "missing signature");

    // Slack's challenge: echoed back (when signed), never journaled.
    let challenge = r#"{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
    let reply = post_with(&tap, &signed(t, challenge), challenge);
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.body,
        json!({"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"})
    );
    assert_eq!(reply.headers["content-type"], "application/json");
    assert_refused(&post_with(&tap, &[], challenge), "missing signature");
    assert_only_accepted(&journaled(&h, tap), 1);
}

#[test]
fn standard_webhooks_signatures_are_verified() {
    let key = b"standard-webhooks-key-32-bytes!!";
    let secret = format!("whsec_{}", BASE64.encode(key));
    let mut h = Harness::new(json!({
        "signature": {"scheme": "standard-webhooks", "secret": secret, "tolerance_seconds": 120}
    }));
    let tap = h.serve_in_process();
    let sign = |id: &str, ts: i64, k: &[u8]| {
        format!(
            "v1,{}",
            BASE64.encode(hmac_sha256(
                k,
                &[
                    id.as_bytes(),
                    b".",
                    ts.to_string().as_bytes(),
                    b".",
                    BODY.as_bytes()
                ]
            ))
        )
    };
    let headers = |id: &str, ts: i64, signature: String| {
        vec![
            ("webhook-id", id.to_owned()),
            ("webhook-timestamp", ts.to_string()),
            ("webhook-signature", signature),
        ]
    };
    let t = now();
    let ok = post_with(&tap, &headers("msg_1", t, sign("msg_1", t, key)), BODY);
    assert_eq!(ok.status, 200, "{:?}", ok.body);
    // Several space-separated signatures (key rotation): one valid is enough.
    let several = format!(
        "v1,{} {} v2,abc",
        BASE64.encode([0u8; 32]),
        sign("msg_2", t, key)
    );
    assert_eq!(
        post_with(&tap, &headers("msg_2", t, several), BODY).status,
        200
    );
    // The id is signed.
    assert_refused(
        &post_with(&tap, &headers("msg_3", t, sign("msg_1", t, key)), BODY),
        "invalid signature",
    );
    assert_refused(
        &post_with(
            &tap,
            &headers("msg_4", t, sign("msg_4", t, b"another key")),
            BODY,
        ),
        "invalid signature",
    );
    // Well past the tolerance: a second may tick between this now() and the server's.
    let future = t + 600;
    assert_refused(
        &post_with(
            &tap,
            &headers("msg_5", future, sign("msg_5", future, key)),
            BODY,
        ),
        "expired signature",
    );
    let mut no_id = headers("msg_6", t, sign("msg_6", t, key));
    no_id.remove(0);
    assert_refused(&post_with(&tap, &no_id, BODY), "missing signature");
    assert_only_accepted(&journaled(&h, tap), 2);
}

#[test]
fn generic_hmac_sha256_signatures_are_verified() {
    let mut h = Harness::new(json!({"signature": {
        "scheme": "hmac-sha256", "secret": "generic", "header": "X-Signature",
        "prefix": "hmac=", "encoding": "base64"
    }}));
    let tap = h.serve_in_process();
    let good = format!(
        "hmac={}",
        BASE64.encode(hmac_sha256(b"generic", &[BODY.as_bytes()]))
    );
    assert_eq!(post_with(&tap, &[("X-Signature", good)], BODY).status, 200);
    let bad = format!(
        "hmac={}",
        BASE64.encode(hmac_sha256(b"nope", &[BODY.as_bytes()]))
    );
    assert_refused(
        &post_with(&tap, &[("X-Signature", bad)], BODY),
        "invalid signature",
    );
    assert_only_accepted(&journaled(&h, tap), 1);
}

#[test]
fn a_bad_signature_setting_is_a_config_error() {
    for (setting, says) in [
        (json!({"scheme": "github"}), "secret"),
        (
            json!({"scheme": "gitlab", "secret": "x"}),
            "unknown variant",
        ),
        (json!({"scheme": "hmac-sha256", "secret": "x"}), "header"),
        (
            json!({"scheme": "github", "secret": "x", "header": "X-A"}),
            "header applies to schemes hmac, hmac-sha256, header and ed25519 only; remove it",
        ),
        (
            json!({"scheme": "standard-webhooks", "secret": "whsec_!!!"}),
            "base64",
        ),
    ] {
        let h = Harness::new(json!({ "signature": setting }));
        let done = h.run(&[]);
        assert_eq!(done.status.code(), Some(2), "{setting}: {}", done.stderr);
        assert!(
            done.stderr.contains("signature") && done.stderr.contains(says),
            "{setting}: {}",
            done.stderr
        );
        assert!(!done.stderr.contains("\"x\""), "{}", done.stderr);
    }
}

// ---------------------------------------------------------------------------------------------
// Idempotency

#[test]
fn a_redelivery_is_acknowledged_but_journaled_once_even_concurrently_and_after_a_restart() {
    let mut h = Harness::new(json!({"idempotency_header": "X-GitHub-Delivery"}));
    let tap = h.start(&[]);
    let deliver = |tap: &Tap, id: &str, body: &str| {
        post_with(tap, &[("X-GitHub-Delivery", id.to_owned())], body)
    };
    let first = deliver(&tap, "d-1", r#"{"delivery":"d-1"}"#);
    assert_eq!(first.body, json!({"status": "ok", "records": 1}));
    let again = deliver(&tap, "d-1", r#"{"delivery":"d-1"}"#);
    assert_eq!(again.status, 200);
    assert_eq!(again.body["duplicate"], true);
    assert_eq!(
        deliver(&tap, "d-2", r#"{"delivery":"d-2"}"#).body["records"],
        1
    );
    // No header: no deduplication.
    assert_eq!(tap.post(r#"{"delivery":"none"}"#).status, 200);
    assert_eq!(tap.post(r#"{"delivery":"none"}"#).status, 200);

    // Sixteen concurrent deliveries of one id: all acknowledged, one journaled.
    let barrier = Arc::new(Barrier::new(16));
    let url = tap.url();
    let replies: Vec<Value> = (0..16)
        .map(|_| {
            let barrier = Arc::clone(&barrier);
            let url = url.clone();
            thread::spawn(move || {
                let client = client();
                barrier.wait();
                let r = client
                    .post(&url)
                    .header("X-GitHub-Delivery", "d-3")
                    .body(r#"{"delivery":"d-3"}"#)
                    .send()
                    .unwrap();
                assert_eq!(r.status(), 200);
                serde_json::from_str::<Value>(&r.text().unwrap()).unwrap()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect();
    let stored = replies.iter().filter(|r| r["records"] == 1).count();
    assert_eq!(stored, 1, "{replies:?}");
    let done = stop(tap);
    let state = last_state(&done.messages()).unwrap();

    // After a restart the window is rebuilt from the journal.
    let state_path = h.state_file(&state);
    let tap = h.start(&["--state", state_path.to_str().unwrap()]);
    // Logged once the window is rebuilt, which may be just after "listening on".
    wait_for("the rebuilt idempotency window", || {
        tap.stderr().contains("3 delivery ids").then_some(())
    });
    assert_eq!(
        deliver(&tap, "d-1", r#"{"delivery":"d-1"}"#).body["duplicate"],
        true
    );
    assert_eq!(
        deliver(&tap, "d-3", r#"{"delivery":"d-3"}"#).body["duplicate"],
        true
    );
    assert_eq!(
        deliver(&tap, "d-4", r#"{"delivery":"d-4"}"#).body["records"],
        1
    );
    stop(tap);

    // The whole journal holds each delivery once.
    h.set_config(json!({"listen": false, "idempotency_header": "X-GitHub-Delivery"}));
    let all = h.run(&[]);
    let mut counts: HashMap<String, usize> = HashMap::new();
    for r in all.records() {
        *counts
            .entry(r["delivery"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    let expected: HashMap<String, usize> =
        [("d-1", 1), ("d-2", 1), ("d-3", 1), ("d-4", 1), ("none", 2)]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
    assert_eq!(counts, expected);
}

/// A sender that hangs up while its delivery waits for the disk, then retries (what a
/// provider does after its timeout): the first delivery is written all the same, so the retry
/// is answered as a duplicate and the record is emitted once.
#[test]
fn a_delivery_whose_sender_hung_up_before_the_reply_still_counts_as_journaled() {
    let mut h = Harness::new(json!({"idempotency_header": "X-GitHub-Delivery"}));
    let mut command = h.command(&[]);
    // Every commit waits 3 s before its fsync (a fault only test builds obey).
    command.env("TAP_WEBHOOKS_TEST_SLOW_FSYNC_MS", "3000");
    let tap = h.start_command(command);
    let hung_up = tap
        .client()
        .post(tap.url())
        .header("content-type", "application/json")
        .header("X-GitHub-Delivery", "d-1")
        .body(r#"{"delivery":"d-1"}"#)
        .timeout(std::time::Duration::from_secs(1))
        .send();
    assert!(
        hung_up.as_ref().is_err_and(reqwest::Error::is_timeout),
        "the first delivery was to time out at the sender: {hung_up:?}"
    );
    let deliver = |id: &str| {
        post_with(
            &tap,
            &[("X-GitHub-Delivery", id.to_owned())],
            &format!(r#"{{"delivery":"{id}"}}"#),
        )
    };
    let retry = deliver("d-1");
    assert_eq!(retry.status, 200);
    assert_eq!(retry.body["duplicate"], true, "{:?}", retry.body);
    // Journaled after any second copy of d-1 would have been: once d-2 is out, so is that.
    assert_eq!(deliver("d-2").body["records"], 1);
    tap.wait_for_records(2);
    let deliveries: Vec<Value> = tap
        .records()
        .iter()
        .map(|r| r["delivery"].clone())
        .collect();
    assert_eq!(deliveries, [json!("d-1"), json!("d-2")]);
}

#[test]
fn a_refused_delivery_does_not_mark_its_id_as_seen() {
    let mut h = Harness::new(json!({"idempotency_header": "webhook-id", "primary_key": "id"}));
    let tap = h.serve_in_process();
    let deliver = |body: &str| post_with(&tap, &[("webhook-id", "msg_9".into())], body);
    assert_eq!(deliver(r#"{"no_id":true}"#).status, 422);
    let retried = deliver(r#"{"id":9}"#);
    assert_eq!(retried.body, json!({"status": "ok", "records": 1}));
    assert_eq!(deliver(r#"{"id":9}"#).body["duplicate"], true);
    assert_only_accepted(&journaled(&h, tap), 1);
}

// ---------------------------------------------------------------------------------------------
// Nothing secret at rest or in logs

#[test]
fn no_token_or_secret_is_in_data_dir_or_the_logs_after_a_full_lifecycle() {
    let secret = "s3cr3t-github-signing-key-4f1d";
    let mut h = Harness::new(json!({
        "signature": {"scheme": "github", "secret": secret},
        "idempotency_header": "X-GitHub-Delivery",
    }));
    let mut logs = String::new();
    let mut tokens = Vec::new();
    let tap = h.start(&[]);
    tokens.push(h.token.clone().unwrap());
    let sign = |body: &str| {
        format!(
            "sha256={}",
            hex::encode(hmac_sha256(secret.as_bytes(), &[body.as_bytes()]))
        )
    };
    let signatures: Vec<String> = (0..3).map(|i| sign(&format!(r#"{{"i":{i}}}"#))).collect();
    for (i, signature) in signatures.iter().enumerate() {
        let reply = post_with(
            &tap,
            &[
                ("X-Hub-Signature-256", signature.clone()),
                ("X-GitHub-Delivery", format!("del-{i}")),
            ],
            &format!(r#"{{"i":{i}}}"#),
        );
        assert_eq!(reply.status, 200, "{:?}", reply.body);
    }
    assert_eq!(post_with(&tap, &[], "{}").status, 401);
    let created = h.token_command(&["new"]);
    logs.push_str(&created.stderr);
    tokens.push(token_of(created.stdout_text().lines().last().unwrap()));
    let listed = h.token_command(&["list", "--json"]);
    logs.push_str(&listed.stderr);
    logs.push_str(&listed.stdout_text());
    let list: Value = serde_json::from_slice(&listed.stdout).unwrap();
    let revoked = h.token_command(&["revoke", list[0]["id"].as_str().unwrap()]);
    logs.push_str(&revoked.stderr);
    let done = stop(tap);
    // The first start prints the first URL once, by design; nothing else may show a token.
    let first_start = done.stderr.replacen(&tokens[0], "<the one-time URL>", 1);
    logs.push_str(&first_start);
    logs.push_str(&String::from_utf8_lossy(&done.stdout));

    let mut secrets: Vec<String> = tokens.clone();
    secrets.push(secret.to_owned());
    secrets.extend(
        signatures
            .iter()
            .map(|s| s.trim_start_matches("sha256=").to_owned()),
    );
    for needle in &secrets {
        assert!(
            !logs.contains(needle.as_str()),
            "logs show {needle}:\n{logs}"
        );
    }
    let files = files_under(&h.data_dir());
    assert!(files.iter().any(|f| f.ends_with("tokens.json")));
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        for needle in &secrets {
            assert!(
                !text.contains(needle.as_str()),
                "{} holds {needle}",
                file.display()
            );
        }
    }
}
