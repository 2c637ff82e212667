//! Every sender preset against deliveries made as its provider makes them.
//!
//! Each preset has a script, `tests/vectors/<group>/<preset>.py`, run in the venv
//! `.venvs/vectors-<group>` (its provider SDKs pinned in `tests/python/vectors-<group>.txt`).
//! `python <script> config` prints the tap's config overrides; the tap starts on them; then
//! `python <script> deliveries <webhook URL>` prints the deliveries to send, made by the
//! provider's SDK (and checked by the SDK's own verify function inside the script) or taken
//! from examples the provider publishes (the script names its source). Each delivery says the
//! status it must get, the reply or error it must carry and the records it gives; the tap
//! must emit exactly their sum.

use std::path::PathBuf;
use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Deserialize;
use serde_json::Value;

use crate::common::targets::venv_exe;
use crate::common::*;

/// One delivery a script prints.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Delivery {
    name: String,
    #[serde(default = "post")]
    method: String,
    url: String,
    #[serde(default)]
    headers: serde_json::Map<String, Value>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    body_base64: Option<String>,
    status: u16,
    #[serde(default)]
    records: usize,
    /// The reply's `error` starts with this.
    #[serde(default)]
    error: Option<String>,
    /// The reply's body: JSON compared as JSON, other text exactly.
    #[serde(default)]
    reply: Option<String>,
    /// Headers the reply must carry, with these values.
    #[serde(default)]
    reply_headers: serde_json::Map<String, Value>,
    /// The stream the delivery's records go to.
    #[serde(default)]
    stream: Option<String>,
}

fn post() -> String {
    "POST".into()
}

fn script(group: &str, preset: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors")
        .join(group)
        .join(format!("{preset}.py"));
    assert!(
        path.exists(),
        "sender {preset} has no vectors: {} is missing",
        path.display()
    );
    path
}

fn run_script(group: &str, preset: &str, args: &[&str]) -> Value {
    let python = venv_exe(&format!("vectors-{group}"), "python");
    let out = Command::new(&python)
        .arg(script(group, preset))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    assert!(
        out.status.success(),
        "{preset}.py {} failed:\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{preset}.py {} printed no JSON ({e}):\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn send(tap: &Tap, d: &Delivery) -> Reply {
    let method = reqwest::Method::from_bytes(d.method.as_bytes()).expect("method");
    let body = match (&d.body, &d.body_base64) {
        (Some(text), None) => text.as_bytes().to_vec(),
        (None, Some(b64)) => BASE64.decode(b64).expect("body_base64"),
        (None, None) => Vec::new(),
        (Some(_), Some(_)) => panic!("{}: body and body_base64 both given", d.name),
    };
    let mut request = tap.client().request(method, &d.url).body(body);
    for (name, value) in &d.headers {
        request = request.header(
            name.as_str(),
            value.as_str().expect("header values are text"),
        );
    }
    tap.send(request)
}

fn check(preset: &str, d: &Delivery, reply: &Reply) {
    let what = format!("{preset} / {}", d.name);
    assert_eq!(
        reply.status, d.status,
        "{what}: status; reply {:?}",
        reply.body
    );
    if let Some(error) = &d.error {
        let got = reply.body["error"].as_str().unwrap_or_default();
        assert!(
            got.starts_with(error.as_str()),
            "{what}: error {got:?}, want {error:?}…"
        );
    }
    if let Some(want) = &d.reply {
        let want = serde_json::from_str(want).unwrap_or_else(|_| Value::String(want.clone()));
        assert_eq!(reply.body, want, "{what}: reply body");
    }
    for (name, value) in &d.reply_headers {
        let got = reply
            .headers
            .get(name.as_str())
            .and_then(|v| v.to_str().ok());
        assert_eq!(got, value.as_str(), "{what}: reply header {name}");
    }
}

/// Runs one preset's vectors through the real binary.
fn vectors(group: &str, preset: &str) {
    let config = run_script(group, preset, &["config"]);
    assert_eq!(
        config["sender"], preset,
        "{preset}.py's config names its sender"
    );
    let mut h = Harness::new(config);
    let tap = h.start(&[]);
    let deliveries: Vec<Delivery> =
        serde_json::from_value(run_script(group, preset, &["deliveries", &tap.url()]))
            .unwrap_or_else(|e| panic!("{preset}.py deliveries: {e}"));
    assert!(!deliveries.is_empty(), "{preset}.py gives no deliveries");
    if deliveries
        .iter()
        .any(|d| d.error.as_deref() == Some("invalid signature"))
    {
        assert!(
            deliveries.iter().any(|d| d.status == 200 && d.records > 0),
            "{preset}: a signing preset's vectors hold a genuine delivery"
        );
    }
    let mut expected = 0;
    for d in &deliveries {
        check(preset, d, &send(&tap, d));
        expected += d.records;
        if d.records > 0 {
            tap.wait_for_records(expected);
            if let Some(stream) = &d.stream {
                let records: Vec<Value> = tap
                    .messages()
                    .into_iter()
                    .filter(|m| m["type"] == "RECORD")
                    .collect();
                for record in &records[expected - d.records..expected] {
                    assert_eq!(
                        record["stream"],
                        stream.as_str(),
                        "{preset} / {}: stream",
                        d.name
                    );
                }
            }
        }
    }
    tap.terminate();
    let done = tap.wait();
    assert_eq!(
        done.records().len(),
        expected,
        "{preset}: records emitted\n{}",
        done.stderr
    );
}

macro_rules! presets {
    ($($group:ident: [$($preset:ident),* $(,)?];)*) => {
        $($(
            #[test]
            fn $preset() {
                vectors(stringify!($group), &stringify!($preset).replace('_', "-"));
            }
        )*)*

        /// Every preset the tap defines has its test here, and every test its preset.
        #[test]
        fn every_preset_has_vectors() {
            let mut tested = vec![$($(stringify!($preset).replace('_', "-")),*),*];
            tested.sort();
            let out = Command::new(bin())
                .args(["senders", "--format", "json"])
                .output()
                .expect("tap-webhooks senders");
            let listed: Vec<Value> = serde_json::from_slice(&out.stdout).expect("JSON");
            let defined: Vec<String> = listed
                .iter()
                .map(|p| p["name"].as_str().expect("name").to_owned())
                .collect();
            assert_eq!(defined, tested);
            assert!(defined.len() >= 45, "{} presets", defined.len());
        }
    };
}

presets! {
    code: [
        github, gitlab, bitbucket, gitea, jira, linear, sentry, vercel, circleci,
        terraform_cloud, pagerduty, segment, notion, webflow,
    ];
    commerce: [
        stripe, shopify, square, paddle, adyen, razorpay, paystack, coinbase_commerce,
        gocardless, lemonsqueezy, woocommerce, xero, mux, calendly,
    ];
    messaging: [
        slack, twilio, sendgrid, mailgun, mandrill, postmark, zoom, discord, meta, twitch,
        line, intercom, typeform, cal_com,
    ];
    platform: [
        okta, sns, standard_webhooks, svix, clerk, resend, workos, hubspot, zendesk, dropbox,
        microsoft_graph, asana, trello, monday,
    ];
}
