//! The configs of examples/ run as shipped, as the docs tell a user to run them: the file
//! unchanged, the signing secret from the environment (`TAP_WEBHOOKS_SIGNATURE`), the
//! machine's own values (data_dir, port) as `TAP_WEBHOOKS_*` variables. Each provider's example
//! is refused without its secret, discovers, receives signed deliveries of that provider under
//! `serve`, and its sync loads into PostgreSQL through both targets with the example target
//! configs (only the connection changed to the test database).

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::common::targets::{Pg, pg, run_target};
use crate::common::*;

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

fn hmac_sha256(key: &str, message: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(message.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// One delivery: its headers (signature included) and body.
type Delivery = (Vec<(&'static str, String)>, String);

/// A provider's example and what its deliveries must become.
struct Example {
    /// examples/<file>.json; also the schema name (its `name` in snake case).
    file: &'static str,
    sender: &'static str,
    secret: &'static str,
    /// Signed deliveries, as the provider sends them.
    deliveries: fn(secret: &str) -> Vec<Delivery>,
    /// A table, a column of it and the values the deliveries put there.
    table: &'static str,
    column: &'static str,
    values: &'static [&'static str],
}

/// The tap on `examples/<file>.json`, with this machine's settings in the environment (and
/// the secret, unless `None`).
fn tap(ex: &Example, h: &Harness, args: &[&str], secret: Option<&str>) -> Command {
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .arg("--config")
        .arg(examples().join(format!("{}.json", ex.file)))
        .env("TAP_WEBHOOKS_DATA_DIR", h.data_dir())
        .env("TAP_WEBHOOKS_BIND", "127.0.0.1:0")
        .env("TAP_WEBHOOKS_MIN_FREE_DISK_BYTES", "0")
        .env_remove("TAP_WEBHOOKS_LISTEN")
        .env_remove("TAP_WEBHOOKS_SIGNATURE");
    if let Some(secret) = secret {
        cmd.env(
            "TAP_WEBHOOKS_SIGNATURE",
            json!({"secret": secret}).to_string(),
        );
    }
    cmd
}

/// An example target config with the connection of the test database `db`.
fn target_config(file: &str, db_key: &str, pg: &Pg, db: &str, schema: &str) -> Value {
    let path = examples().join("targets").join(file);
    let mut config: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    // The GitHub walkthrough uses the file as it is: its schema is the example's.
    assert_eq!(config["default_target_schema"], "github", "{file}");
    config["host"] = json!(pg.host);
    config["port"] = json!(pg.port);
    config["user"] = json!(pg.user);
    config[db_key] = json!(db);
    config["default_target_schema"] = json!(schema);
    config
}

fn example_runs_as_shipped(ex: &Example) {
    let mut h = Harness::new(json!({}));
    let path = examples().join(format!("{}.json", ex.file));
    let shipped: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(
        shipped["sender"], ex.sender,
        "the example is its sender's preset"
    );
    assert!(
        shipped.get("signature").is_none(),
        "the secret comes from the environment, never from the example"
    );

    // Without the secret in the environment the example is refused, naming what is missing.
    let out = tap(ex, &h, &["--discover"], None).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("signature") && stderr.contains("secret"),
        "{stderr}"
    );

    let out = tap(ex, &h, &["--discover"], Some(ex.secret))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let catalog: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(catalog["streams"][0]["stream"], "data", "{catalog}");

    // Deliveries as the provider signs them, received by `serve`.
    let serve = h.start_command(tap(ex, &h, &["serve"], Some(ex.secret)));
    for (headers, body) in (ex.deliveries)(ex.secret) {
        let mut request = serve
            .client()
            .post(serve.url())
            .header("content-type", "application/json")
            .body(body.clone());
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let reply = serve.send(request);
        assert_eq!(reply.status, 200, "{body}: {:?}", reply.body);
    }
    serve.terminate();
    let stopped = serve.wait();
    assert!(stopped.status.success(), "{}", stopped.stderr);

    // A scheduled sync, loaded by each target.
    let mut sync = tap(ex, &h, &[], Some(ex.secret));
    sync.env("TAP_WEBHOOKS_LISTEN", "false");
    let done = Tap::spawn(sync).wait();
    assert!(done.status.success(), "{}", done.stderr);
    let records = stream_records(&done.messages(), ex.table);
    assert_eq!(records.len(), ex.values.len(), "{}", done.stdout_text());

    let pg = pg();
    let schema = ex.file;
    let query = format!(
        "SELECT {} FROM {schema}.{} ORDER BY webhook_sequence",
        ex.column, ex.table
    );
    let db = pg.create_database(&format!("example_{}_pw", ex.file));
    let config = target_config(
        "pipelinewise-target-postgres.json",
        "dbname",
        &pg,
        &db,
        schema,
    );
    run_target(
        "pipelinewise-target-postgres",
        "target-postgres",
        &config,
        &done.stdout,
        h.tmp.path(),
    );
    assert_eq!(pg.rows(&db, &query).concat(), ex.values, "pipelinewise");

    let db = pg.create_database(&format!("example_{}_ml", ex.file));
    let config = target_config(
        "meltanolabs-target-postgres.json",
        "database",
        &pg,
        &db,
        schema,
    );
    run_target(
        "meltanolabs-target-postgres",
        "target-postgres",
        &config,
        &done.stdout,
        h.tmp.path(),
    );
    assert_eq!(pg.rows(&db, &query).concat(), ex.values, "meltanolabs");
    // The aliases keep the tap's sequence and receive time, which this target drops.
    let kept = pg.rows(
        &db,
        &format!(
            "SELECT webhook_sequence, extract(epoch FROM webhook_received_at)::numeric(20,6) \
             FROM {schema}.{} ORDER BY webhook_sequence",
            ex.table
        ),
    );
    assert_eq!(kept.len(), records.len());
    for (row, record) in kept.iter().zip(&records) {
        assert_eq!(row[0], record["_sdc_sequence"].to_string());
        let received: chrono::DateTime<chrono::Utc> = record["_sdc_received_at"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let epoch = format!("{:.6}", received.timestamp_micros() as f64 / 1e6);
        assert_eq!(
            row[1], epoch,
            "webhook_received_at is when the tap received it"
        );
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn delivery_id() -> String {
    format!("{:032x}", rand_u128())
}

fn rand_u128() -> u128 {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).unwrap();
    u128::from_le_bytes(bytes)
}

#[test]
fn the_github_example_runs_as_shipped() {
    example_runs_as_shipped(&Example {
        file: "github",
        sender: "github",
        secret: "gh-example-secret-5d1c",
        deliveries: |secret| {
            [
                (
                    "push",
                    r#"{"ref":"refs/heads/main","after":"9f2c1e","commits":[]}"#,
                ),
                (
                    "push",
                    r#"{"ref":"refs/heads/dev","after":"77ab03","commits":[]}"#,
                ),
                (
                    "ping",
                    r#"{"zen":"Keep it logically awesome.","hook_id":1}"#,
                ),
            ]
            .into_iter()
            .map(|(event, body)| {
                let signature = format!("sha256={}", hex::encode(hmac_sha256(secret, body)));
                let headers = vec![
                    ("X-GitHub-Event", event.to_owned()),
                    ("X-GitHub-Delivery", delivery_id()),
                    ("X-Hub-Signature-256", signature),
                ];
                (headers, body.to_owned())
            })
            .collect()
        },
        table: "push",
        column: "after",
        values: &["9f2c1e", "77ab03"],
    });
}

#[test]
fn the_stripe_example_runs_as_shipped() {
    example_runs_as_shipped(&Example {
        file: "stripe",
        sender: "stripe",
        secret: "whsec_example5d1c8e",
        deliveries: |secret| {
            [
                r#"{"id":"evt_1","type":"invoice.paid","data":{"object":{"amount_paid":1000}}}"#,
                r#"{"id":"evt_2","type":"invoice.paid","data":{"object":{"amount_paid":250}}}"#,
            ]
            .into_iter()
            .map(|body| {
                let t = now();
                let v1 = hex::encode(hmac_sha256(secret, &format!("{t}.{body}")));
                let headers = vec![("Stripe-Signature", format!("t={t},v1={v1}"))];
                (headers, body.to_owned())
            })
            .collect()
        },
        table: "invoice_paid",
        column: "id",
        values: &["evt_1", "evt_2"],
    });
}

#[test]
fn the_shopify_example_runs_as_shipped() {
    example_runs_as_shipped(&Example {
        file: "shopify",
        sender: "shopify",
        secret: "shpss_example5d1c8e",
        deliveries: |secret| {
            [
                r#"{"id":820982911946154508,"email":"jon@example.com","total_price":"199.00"}"#,
                r#"{"id":820982911946154509,"email":"ann@example.com","total_price":"5.50"}"#,
            ]
            .into_iter()
            .map(|body| {
                let headers = vec![
                    ("X-Shopify-Topic", "orders/create".to_owned()),
                    ("X-Shopify-Webhook-Id", delivery_id()),
                    ("X-Shopify-Shop-Domain", "example.myshopify.com".to_owned()),
                    (
                        "X-Shopify-Hmac-Sha256",
                        BASE64.encode(hmac_sha256(secret, body)),
                    ),
                ];
                (headers, body.to_owned())
            })
            .collect()
        },
        table: "orders_create",
        column: "id",
        values: &["820982911946154508", "820982911946154509"],
    });
}

#[test]
fn the_slack_example_runs_as_shipped() {
    example_runs_as_shipped(&Example {
        file: "slack",
        sender: "slack",
        secret: "8f742231b10e8888abcd99example5d1c",
        deliveries: |secret| {
            [
                // Answered and never recorded.
                r#"{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV","type":"url_verification"}"#,
                r#"{"type":"event_callback","event_id":"Ev01","event":{"type":"message","text":"hi"}}"#,
                r#"{"type":"event_callback","event_id":"Ev02","event":{"type":"message","text":"ho"}}"#,
            ]
            .into_iter()
            .map(|body| {
                let t = now();
                let signature = hex::encode(hmac_sha256(secret, &format!("v0:{t}:{body}")));
                let headers = vec![
                    ("X-Slack-Request-Timestamp", t.to_string()),
                    ("X-Slack-Signature", format!("v0={signature}")),
                ];
                (headers, body.to_owned())
            })
            .collect()
        },
        table: "event_callback",
        column: "event_id",
        values: &["Ev01", "Ev02"],
    });
}
