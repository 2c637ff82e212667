//! The inspector on `ops_bind`: its JSON API, its page's headers, who may read it, what it never
//! shows; and `tap-webhooks tail`, beside a running tap, with the local and the NATS journal.
//! The page in a real browser is tested in `browser.rs`.

use std::time::Duration;

use crate::common::nats::Cluster;
use crate::common::*;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

const GITHUB_PUSH: &str = include_str!("fixtures/github/push.json");
const STRIPE_EVENT: &str = include_str!("fixtures/stripe/event_account_updated_custom.json");
const SECRET: &str = "whsec-inspector-test-0123456789";

/// The operations address a running binary logged.
pub fn ops_base(tap: &Tap) -> String {
    wait_for("the operations address", || {
        let err = tap.stderr();
        let at = err.find("inspector and operations endpoints on http://")?;
        let rest = &err[at + "inspector and operations endpoints on ".len()..];
        Some(rest[..rest.find('\n')?].to_owned())
    })
}

/// `GET base/path`, with `token` as a Bearer token when given.
fn get(tap: &impl Listener, url: &str, token: Option<&str>) -> Reply {
    let mut request = tap.client().get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    tap.send(request)
}

fn github_signature(body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// POSTs a GitHub push, signed, with its event and delivery headers.
fn post_github(tap: &impl Listener, body: &str, delivery: &str, signature: &str) -> Reply {
    tap.send(
        tap.client()
            .post(tap.url())
            .header("content-type", "application/json")
            .header("X-GitHub-Event", "push")
            .header("X-GitHub-Delivery", delivery)
            .header("X-Hub-Signature-256", signature)
            .body(body.to_owned()),
    )
}

/// A listening sync with the inspector on, routing GitHub events by their header.
fn start_inspected(h: &mut Harness) -> (Tap, String) {
    let tap = h.start(&[]);
    let ops = ops_base(&tap);
    (tap, ops)
}

fn deliveries(tap: &impl Listener, ops: &str) -> Vec<Value> {
    let reply = get(tap, &format!("{ops}/api/deliveries"), None);
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    reply.body["deliveries"].as_array().unwrap().clone()
}

#[test]
fn the_api_shows_deliveries_refusals_streams_status_and_tokens() {
    let mut h = Harness::new(json!({
        "ops_bind": "127.0.0.1:0",
        "route": {"header": "X-GitHub-Event"},
        "signature": {"scheme": "github", "secret": SECRET},
    }));
    let (tap, ops) = start_inspected(&mut h);
    let signed = post_github(&tap, GITHUB_PUSH, "d-1", &github_signature(GITHUB_PUSH));
    assert_eq!(signed.status, 200, "{:?}", signed.body);
    let forged = post_github(&tap, GITHUB_PUSH, "d-2", "sha256=00ff");
    assert_eq!(forged.status, 401);
    tap.wait_for_records(1);

    let listed = deliveries(&tap, &ops);
    assert_eq!(listed.len(), 1, "{listed:?}");
    let d = &listed[0];
    assert_eq!(d["stream"], "push");
    assert_eq!(d["records"], 1);
    assert_eq!(d["bytes"], GITHUB_PUSH.len());
    assert_eq!(d["content_type"], "application/json");
    assert_eq!(d["delivery_id"], "d-1");
    assert!(d["token_id"].as_str().unwrap().starts_with("tok_"), "{d}");
    let sequence = d["sequence"].as_str().unwrap().to_owned();
    assert_eq!(sequence.len(), 19, "a sequence is nanoseconds, as a string");
    // Polling with `after` gives only what is newer.
    let newer = get(
        &tap,
        &format!("{ops}/api/deliveries?after={sequence}"),
        None,
    );
    assert_eq!(newer.body["deliveries"], json!([]));

    let refusals = get(&tap, &format!("{ops}/api/refusals"), None).body;
    let r = &refusals["refusals"][0];
    assert_eq!(r["status"], 401);
    assert!(r["reason"].as_str().unwrap().contains("signature"), "{r}");
    assert!(r["remote_addr"].as_str().unwrap().starts_with("127.0.0.1:"));
    assert_eq!(r["token_id"], d["token_id"]);
    assert_eq!(r["body_bytes"], GITHUB_PUSH.len());
    assert!(GITHUB_PUSH.starts_with(r["body_prefix"].as_str().unwrap()));

    // The stream's count, rate and, once the sync persisted it, its columns and types.
    let push = wait_for("the push stream's columns", || {
        let streams = get(&tap, &format!("{ops}/api/streams"), None).body;
        let push = streams["streams"]
            .as_array()?
            .iter()
            .find(|s| s["name"] == "push")?
            .clone();
        (!push["columns"].as_array()?.is_empty()).then_some(push)
    });
    assert_eq!(push["records"], 1);
    assert_eq!(push["deliveries"], 1);
    assert_eq!(push["last_sequence"], sequence.as_str());
    let points = push["rate"]["points"].as_array().unwrap();
    assert_eq!(
        points.len() as u64 * push["rate"]["step_seconds"].as_u64().unwrap(),
        300
    );
    assert!(points.iter().any(|p| p.as_f64().unwrap() > 0.0), "{push}");
    let column = |name: &str| {
        push["columns"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .map(|c| c["type"].as_str().unwrap().to_owned())
    };
    assert_eq!(column("ref").as_deref(), Some("string"));
    assert_eq!(column("created").as_deref(), Some("boolean"));
    assert_eq!(
        column("_sdc_received_at").as_deref(),
        Some("string (date-time)")
    );

    let status = wait_for("the emitter's bookmark in /api/status", || {
        let status = get(&tap, &format!("{ops}/api/status"), None).body;
        (status["emitter"]["bookmark"] == sequence.as_str()).then_some(status)
    });
    assert_eq!(status["name"], "Incoming Webhooks");
    assert_eq!(status["mode"], "sync");
    assert_eq!(status["ready"], true);
    assert_eq!(status["journal"]["kind"], "local");
    assert!(status["journal"]["bytes"].as_u64().unwrap() > 0);
    assert_eq!(status["deliveries_total"], 1);
    assert_eq!(status["refusals_total"], 1);
    assert!(status["memory_bound_bytes"].as_u64().unwrap() < 512 * 1024);

    let tokens = get(&tap, &format!("{ops}/api/tokens"), None).body;
    assert_eq!(tokens["tokens"][0]["id"], d["token_id"]);
    assert!(tokens["tokens"][0]["created_at"].is_string());
    assert_eq!(
        tokens["tokens"][0].as_object().unwrap().len(),
        3,
        "id and times only: {tokens}"
    );
    // Only on the operations listener.
    let on_webhooks = get(&tap, &format!("{}/api/status", tap.base), None);
    assert_eq!(on_webhooks.status, 404);
}

#[test]
fn a_delivery_shows_its_headers_body_and_the_records_it_became() {
    let mut h = Harness::new(json!({
        "ops_bind": "127.0.0.1:0",
        "route": {"field": "type"},
    }));
    let (tap, ops) = start_inspected(&mut h);
    let events = format!(r#"[{STRIPE_EVENT}, {{"type": "charge.failed", "id": "ch_2"}}]"#);
    assert_eq!(tap.post(&events).status, 200);
    let big = json!({"type": "big", "filler": "x".repeat(100_000)}).to_string();
    assert_eq!(tap.post(&big).status, 200);
    let listed = wait_for("two deliveries", || {
        let listed = deliveries(&tap, &ops);
        (listed.len() == 2).then_some(listed)
    });
    let stripe = &listed[1];
    assert_eq!(stripe["stream"], "account_updated");
    assert_eq!(stripe["other_streams"], 1);

    let url = format!(
        "{ops}/api/deliveries/{}",
        stripe["sequence"].as_str().unwrap()
    );
    let detail = get(&tap, &url, None).body;
    assert_eq!(detail["kind"], "webhook");
    assert_eq!(detail["records"], 2);
    let headers = detail["headers"].as_array().unwrap();
    assert!(
        headers.iter().any(|h| h["name"] == "content-type"),
        "{headers:?}"
    );
    let body = &detail["body"];
    assert_eq!(body["format"], "json");
    assert_eq!(body["truncated"], false);
    let text = body["text"].as_str().unwrap();
    assert!(text.starts_with("[\n  {\n    \""), "indented: {text:.80}");
    let parsed: Value = serde_json::from_str(text).unwrap();
    assert_eq!(parsed[1]["id"], "ch_2");
    let converted = &detail["converted"];
    assert_eq!(converted["total"], 2);
    assert_eq!(converted["shown"][0]["stream"], "account_updated");
    assert_eq!(converted["shown"][1]["stream"], "charge_failed");
    let record: Value =
        serde_json::from_str(converted["shown"][1]["record"].as_str().unwrap()).unwrap();
    assert_eq!(record, json!({"type": "charge.failed", "id": "ch_2"}));

    // A body over 64 KB is cut there; the journal keeps it whole.
    let url = format!(
        "{ops}/api/deliveries/{}",
        listed[0]["sequence"].as_str().unwrap()
    );
    let detail = get(&tap, &url, None).body;
    assert_eq!(detail["body"]["truncated"], true);
    let text = detail["body"]["text"].as_str().unwrap();
    assert!(
        text.len() <= 64 * 1024 && text.len() > 60 * 1024,
        "{}",
        text.len()
    );
    assert_eq!(detail["bytes"], big.len());

    let missing = get(
        &tap,
        &format!("{ops}/api/deliveries/1000000000000000000"),
        None,
    );
    assert_eq!(missing.status, 404);
    assert!(
        missing.body["error"]
            .as_str()
            .unwrap()
            .contains("retention")
    );
    assert_eq!(
        get(&tap, &format!("{ops}/api/deliveries/abc"), None).status,
        400
    );
}

#[test]
fn no_token_signature_or_secret_reaches_an_api_reply() {
    let mut h = Harness::new(json!({
        "ops_bind": "127.0.0.1:0",
        "signature": {"scheme": "github", "secret": SECRET},
        "capture_headers": ["*"],
    }));
    let (tap, ops) = start_inspected(&mut h);
    let token = tap.token.clone();
    let signature = github_signature(GITHUB_PUSH);
    assert_eq!(
        post_github(&tap, GITHUB_PUSH, "d-1", &signature).status,
        200
    );
    // The token in a header instead of the path, and in the query and a header of its own.
    let by_header = tap.send(
        tap.client()
            .post(format!("{}/webhooks?t={token}", tap.base))
            .bearer_auth(&token)
            .header("X-Hub-Signature-256", &signature)
            .header("X-Echo", format!("echo {token}"))
            .header("content-type", "application/json")
            .body(GITHUB_PUSH),
    );
    assert_eq!(by_header.status, 200, "{:?}", by_header.body);
    // Refused with the token in the path and in the body.
    let refused = tap.send(
        tap.client()
            .post(tap.url())
            .header("X-Hub-Signature-256", "sha256=0badc0de")
            .body(format!(r#"{{"echo": "{token}"}}"#)),
    );
    assert_eq!(refused.status, 401);
    let unknown = format!("{}/webhooks/{}", tap.base, "f".repeat(64));
    assert_eq!(tap.send(tap.client().post(unknown).body("{}")).status, 401);
    tap.wait_for_records(2);

    let mut replies = Vec::new();
    for path in ["status", "streams", "deliveries", "refusals", "tokens"] {
        replies.push(
            get(&tap, &format!("{ops}/api/{path}"), None)
                .body
                .to_string(),
        );
    }
    for d in deliveries(&tap, &ops) {
        let url = format!("{ops}/api/deliveries/{}", d["sequence"].as_str().unwrap());
        replies.push(get(&tap, &url, None).body.to_string());
    }
    assert_eq!(replies.len(), 7);
    for reply in &replies {
        for secret in [token.as_str(), &signature[7..], "0badc0de", SECRET] {
            assert!(!reply.contains(secret), "{secret} in {reply}");
        }
    }
    // Credential headers are journaled as placeholders at most (`capture_headers: ["*"]`).
    for detail in &replies[5..] {
        let detail: Value = serde_json::from_str(detail).unwrap();
        for header in detail["headers"].as_array().unwrap() {
            let name = header["name"].as_str().unwrap();
            let value = header["value"].as_str().unwrap();
            if ["authorization", "x-hub-signature-256", "x-echo"].contains(&name) {
                assert!(value.starts_with("<redacted: "), "{detail}");
            }
        }
    }
    assert!(
        replies[3].contains("<token>"),
        "the refused body, token replaced"
    );
}

#[test]
fn inspect_bodies_false_hides_bodies_and_records() {
    let mut h = Harness::new(json!({"ops_bind": "127.0.0.1:0", "inspect_bodies": false}));
    let (tap, ops) = start_inspected(&mut h);
    assert_eq!(tap.post(r#"{"card": "4242-secret-body"}"#).status, 200);
    assert_eq!(tap.post(r#"{"card": "4242-refused-body""#).status, 400);
    let listed = wait_for("a delivery", || {
        let listed = deliveries(&tap, &ops);
        (!listed.is_empty()).then_some(listed)
    });
    let url = format!(
        "{ops}/api/deliveries/{}",
        listed[0]["sequence"].as_str().unwrap()
    );
    let detail = get(&tap, &url, None).body;
    assert_eq!(detail["bodies_hidden"], true);
    assert_eq!(detail["body"], Value::Null);
    assert_eq!(detail["converted"], Value::Null);
    assert!(!detail["headers"].as_array().unwrap().is_empty());
    let refusals = get(&tap, &format!("{ops}/api/refusals"), None).body;
    assert_eq!(refusals["refusals"][0]["body_prefix"], Value::Null);
    assert!(refusals["refusals"][0]["body_bytes"].as_u64().unwrap() > 0);
    for reply in [detail.to_string(), refusals.to_string()] {
        assert!(!reply.contains("4242"), "{reply}");
    }
    let tailed = tail_command(&h, &[]);
    assert!(tailed.status.success(), "{}", tailed.stderr);
    assert!(
        !tailed.stdout_text().contains("4242"),
        "{}",
        tailed.stdout_text()
    );
    assert!(tailed.stdout_text().contains("body hidden"));
}

#[test]
fn an_ops_bind_others_can_reach_needs_an_ops_token() {
    let h = Harness::new(json!({"ops_bind": "0.0.0.0:0"}));
    let refused = h.run(&[]);
    assert_eq!(refused.status.code(), Some(2), "{}", refused.stderr);
    assert!(refused.stderr.contains("ops_bind"), "{}", refused.stderr);
    assert!(
        refused.stderr.contains("set ops_token"),
        "{}",
        refused.stderr
    );

    let ops_token = "ops-token-0123456789abcdef";
    let mut h = Harness::new(json!({"ops_bind": "0.0.0.0:0", "ops_token": ops_token}));
    let tap = h.start_serve();
    let ops = ops_base(&tap).replace("0.0.0.0", "127.0.0.1");
    for path in ["api/status", "api/deliveries", "metrics"] {
        let url = format!("{ops}/{path}");
        let without = get(&tap, &url, None);
        assert_eq!(without.status, 401, "{path}");
        assert!(without.headers.contains_key("www-authenticate"), "{path}");
        assert_eq!(get(&tap, &url, Some("wrong-token-0123456789")).status, 401);
        assert_eq!(get(&tap, &url, Some(ops_token)).status, 200, "{path}");
    }
    // Probes and the page itself (which asks for the token) need none.
    for path in ["healthz", "readyz", "", "inspector.js"] {
        assert_eq!(
            get(&tap, &format!("{ops}/{path}"), None).status,
            200,
            "{path}"
        );
    }
    assert!(!tap.stderr().contains(ops_token));
}

#[test]
fn the_page_allows_only_its_own_scripts() {
    let mut h = Harness::new(json!({"ops_bind": "127.0.0.1:0"}));
    let tap = h.serve_in_process();
    let ops = tap.ops_base.clone().unwrap();
    let page = get(&tap, &format!("{ops}/"), None);
    assert_eq!(page.status, 200);
    assert_eq!(page.headers["content-type"], "text/html; charset=utf-8");
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert_eq!(page.headers["x-content-type-options"], "nosniff");
    let html = page.body.as_str().unwrap();
    // One script, from this origin; no inline script, no external asset.
    assert_eq!(html.matches("<script").count(), 1);
    assert!(html.contains(r#"<script src="/inspector.js" defer></script>"#));
    assert!(!html.contains("http://") && !html.contains("https://"));
    for (path, kind) in [
        ("inspector.js", "text/javascript"),
        ("inspector.css", "text/css"),
    ] {
        let asset = get(&tap, &format!("{ops}/{path}"), None);
        assert_eq!(asset.status, 200);
        assert!(
            asset.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with(kind)
        );
        // Nothing is fetched from elsewhere (the SVG namespace is a name, not an address).
        let text = asset
            .body
            .as_str()
            .unwrap()
            .replace("http://www.w3.org/2000/svg", "");
        assert!(
            !text.contains("innerHTML") && !text.contains("http"),
            "{path}"
        );
    }
    let api = get(&tap, &format!("{ops}/api/status"), None);
    assert_eq!(api.headers["cache-control"], "no-store");
    assert_eq!(api.body["mode"], "serve");
    tap.stop();
}

/// `tap-webhooks tail --config <config> <args>`, run to its end.
fn tail_command(h: &Harness, args: &[&str]) -> Finished {
    let mut cmd = std::process::Command::new(bin());
    cmd.arg("tail")
        .arg("--config")
        .arg(&h.config_path)
        .args(args);
    Tap::spawn(cmd).wait()
}

/// Posts the three deliveries the tail tests look for.
fn post_three(tap: &impl Listener) {
    let github = tap.send(
        tap.client()
            .post(tap.url())
            .header("X-GitHub-Event", "push")
            .header("X-GitHub-Delivery", "gh-1")
            .body(GITHUB_PUSH),
    );
    assert_eq!(github.status, 200, "{:?}", github.body);
    assert_eq!(tap.post(STRIPE_EVENT).status, 200);
    // A right-to-left override would reorder what a terminal shows after it.
    assert_eq!(
        tap.post("[{\"a\": \"x\\n\u{202e}y\"}, {\"b\": 2}]").status,
        200
    );
}

fn check_tail_lines(stdout: &str) {
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(
        lines[0].contains("  push ") && lines[0].contains("1 record"),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains("id=gh-1") && lines[0].contains(r#"{"ref":"refs/tags/simple-tag""#));
    assert!(lines[0].contains(&format!("{:.1} KB", GITHUB_PUSH.len() as f64 / 1e3)));
    assert!(
        lines[1].contains("  data ") && lines[1].contains("id=-"),
        "{}",
        lines[1]
    );
    assert!(lines[2].contains("2 records"), "{}", lines[2]);
    assert!(lines[2].contains(r"\u{202e}"), "{}", lines[2]);
    assert!(!stdout.contains('\u{1b}') && !stdout.contains('\u{202e}'));
}

#[test]
fn tail_prints_one_line_per_delivery_beside_a_running_tap_and_follows() {
    let mut h = Harness::new(json!({"route": {"header": "X-GitHub-Event"}}));
    let tap = h.start_serve();
    post_three(&tap);

    // Read-only beside the running tap, which holds the journal.
    let tailed = tail_command(&h, &[]);
    assert!(tailed.status.success(), "{}", tailed.stderr);
    check_tail_lines(&tailed.stdout_text());
    let json_lines = tail_command(&h, &["--json", "-n", "2"]).stdout_text();
    let objects: Vec<Value> = json_lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(objects.len(), 2);
    assert_eq!(objects[0]["stream"], "data");
    assert_eq!(objects[1]["records"], 2);
    assert_eq!(
        objects[1]["body_start"],
        "[{\"a\":\"x\\n\u{202e}y\"},{\"b\":2}]"
    );
    let push_only = tail_command(&h, &["--stream", "push"]).stdout_text();
    assert_eq!(push_only.lines().count(), 1, "{push_only}");

    let mut cmd = std::process::Command::new(bin());
    cmd.args(["tail", "--follow", "-n", "1", "--config"])
        .arg(&h.config_path);
    let follower = Tap::spawn(cmd);
    wait_for("the last delivery", || {
        (String::from_utf8_lossy(&follower.stdout()).lines().count() == 1).then_some(())
    });
    assert_eq!(tap.post(r#"{"late": true}"#).status, 200);
    let seen = std::time::Instant::now();
    wait_for("the new delivery in tail --follow", || {
        String::from_utf8_lossy(&follower.stdout())
            .contains(r#"{"late":true}"#)
            .then_some(())
    });
    assert!(seen.elapsed() < Duration::from_secs(5));
    follower.signal(nix::sys::signal::Signal::SIGINT);
    let done = follower.wait();
    assert!(done.status.success(), "{}", done.stderr);
    tap.terminate();
    assert!(tap.wait().status.success());
}

#[test]
fn tail_and_the_inspector_read_a_nats_journal_too() {
    let cluster = Cluster::start(1);
    let mut h = Harness::new(json!({
        "journal": cluster.journal("TAIL", 1),
        "route": {"header": "X-GitHub-Event"},
        "ops_bind": "127.0.0.1:0",
    }));
    let tap = h.start_serve();
    post_three(&tap);
    let tailed = tail_command(&h, &[]);
    assert!(tailed.status.success(), "{}", tailed.stderr);
    check_tail_lines(&tailed.stdout_text());

    // A delivery read back from the stream, and the stream's size.
    let ops = ops_base(&tap);
    let listed = deliveries(&tap, &ops);
    assert_eq!(listed.len(), 3);
    let url = format!(
        "{ops}/api/deliveries/{}",
        listed[2]["sequence"].as_str().unwrap()
    );
    let detail = get(&tap, &url, None).body;
    assert_eq!(detail["records"], 1, "{detail}");
    assert!(
        detail["body"]["text"]
            .as_str()
            .unwrap()
            .contains("refs/tags/simple-tag")
    );
    assert_eq!(detail["converted"]["shown"][0]["stream"], "push");
    let status = get(&tap, &format!("{ops}/api/status"), None).body;
    assert_eq!(status["journal"]["kind"], "nats");
    assert!(status["journal"]["bytes"].as_u64().unwrap() > 0, "{status}");
    tap.terminate();
    assert!(tap.wait().status.success());
}
