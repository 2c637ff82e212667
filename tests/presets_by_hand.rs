//! The github, stripe and shopify presets give what the hand-written configs (examples/github.json,
//! examples/stripe.json and examples/shopify.json before presets, kept in tests/fixtures as
//! `<name>-by-hand.json`) give: the same catalog, and the same records of real deliveries (the
//! same streams, keys and captured headers, a redelivery stored once).
use std::path::PathBuf;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};

use crate::common::*;

fn file(path: &str) -> Vec<u8> {
    std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn hmac_sha256(key: &str, parts: &[&[u8]]) -> Vec<u8> {
    let mut mac =
        <hmac::Hmac<sha2::Sha256> as hmac::KeyInit>::new_from_slice(key.as_bytes()).expect("key");
    for part in parts {
        hmac::Mac::update(&mut mac, part);
    }
    hmac::Mac::finalize(mac).into_bytes().to_vec()
}

/// One delivery: its headers and body.
type Send = (Vec<(&'static str, String)>, Vec<u8>);

/// What a config makes of `sends`: the catalog and the records, less what differs by the
/// moment (received time, sequence).
fn outcome(config: Value, sends: &[Send], records: usize) -> (Value, Vec<Value>) {
    let mut h = Harness::new(config);
    let discover = h.run(&["--discover"]);
    assert!(discover.status.success(), "{}", discover.stderr);
    let catalog: Value = serde_json::from_slice(&discover.stdout).expect("catalog");
    let tap = h.start(&[]);
    for (headers, body) in sends {
        let mut request = tap
            .client()
            .post(tap.url())
            .header("content-type", "application/json")
            .body(body.clone());
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let reply = tap.send(request);
        assert_eq!(reply.status, 200, "{:?}", reply.body);
    }
    tap.wait_for_records(records);
    tap.terminate();
    let done = tap.wait();
    let records = done
        .messages()
        .into_iter()
        .filter(|m| m["type"] == "RECORD")
        .map(|mut m| {
            for moving in [
                "_sdc_received_at",
                "_sdc_sequence",
                "webhook_sequence",
                "webhook_received_at",
                "__sdc_primary_key",
            ] {
                m["record"].as_object_mut().expect("record").remove(moving);
            }
            m.as_object_mut().expect("message").remove("time_extracted");
            m
        })
        .collect();
    (catalog, records)
}

/// The example's config and the preset's (with the example's own naming settings) give the
/// same outcome.
fn same_outcome(example: &str, sender: &str, secret: &str, sends: &[Send], records: usize) {
    let mut by_hand: Value =
        serde_json::from_slice(&file(&format!("tests/fixtures/{example}-by-hand.json")))
            .expect("JSON");
    by_hand["signature"]["secret"] = secret.into();
    let preset = json!({
        "name": by_hand["name"],
        "sender": sender,
        "signature": {"secret": secret},
        "sequence_alias": by_hand["sequence_alias"],
        "received_at_alias": by_hand["received_at_alias"],
    });
    let (catalog_a, records_a) = outcome(by_hand, sends, records);
    let (catalog_b, records_b) = outcome(preset, sends, records);
    assert_eq!(records_a.len(), records, "{example}: records by hand");
    assert!(
        catalog_a == catalog_b,
        "{example}: the catalogs differ:\n{catalog_a}\n{catalog_b}"
    );
    assert_eq!(records_a.len(), records_b.len(), "{example}: records");
    for (a, b) in records_a.iter().zip(&records_b) {
        assert!(a == b, "{example}: records differ:\n{a}\n{b}");
    }
}

#[test]
fn the_stripe_preset_gives_what_the_stripe_example_gives() {
    let secret = "whsec_example5d1c8e";
    let now = chrono::Utc::now().timestamp().to_string();
    let sends: Vec<Send> = [
        "event_account_updated_custom.json",
        "event_external_account_bank_account_created.json",
        "event_account_application_authorized.json",
    ]
    .iter()
    .map(|name| {
        let body = file(&format!("tests/fixtures/stripe/{name}"));
        let v1 = hex::encode(hmac_sha256(secret, &[now.as_bytes(), b".", &body]));
        (vec![("Stripe-Signature", format!("t={now},v1={v1}"))], body)
    })
    .collect();
    same_outcome("stripe", "stripe", secret, &sends, 3);
}

#[test]
fn the_shopify_preset_gives_what_the_shopify_example_gives() {
    let secret = "shpss_example5d1c8e";
    let sends: Vec<Send> = [
        ("orders/create", "orders_create.json", "w-1"),
        ("products/create", "products_create.json", "w-2"),
        ("orders/create", "orders_create.json", "w-1"),
        ("customers/create", "customers_create.json", "w-3"),
    ]
    .iter()
    .map(|(topic, name, id)| {
        let body = file(&format!("tests/fixtures/shopify/{name}"));
        let headers = vec![
            ("X-Shopify-Topic", topic.to_string()),
            ("X-Shopify-Webhook-Id", id.to_string()),
            ("X-Shopify-Shop-Domain", "example.myshopify.com".to_owned()),
            ("X-Shopify-Triggered-At", "2025-01-02T03:04:05Z".to_owned()),
            ("X-Shopify-API-Version", "2025-01".to_owned()),
            (
                "X-Shopify-Hmac-Sha256",
                BASE64.encode(hmac_sha256(secret, &[&body])),
            ),
        ];
        (headers, body)
    })
    .collect();
    // The redelivery (same X-Shopify-Webhook-Id) is stored once.
    same_outcome("shopify", "shopify", secret, &sends, 3);
}

/// `{"sender": "github", "signature": {"secret": …}}` is a whole GitHub config.
#[test]
fn the_github_preset_gives_what_the_github_example_gives() {
    let secret = "It's a Secret to Everybody";
    let sends: Vec<Send> = [
        ("push", "push.json", "d-1"),
        ("issues", "issues-opened.json", "d-2"),
        ("push", "push.json", "d-1"),
        ("star", "star-created.json", "d-3"),
    ]
    .iter()
    .map(|(event, name, delivery)| {
        let body = file(&format!("tests/fixtures/github/{name}"));
        let signature = hex::encode(hmac_sha256(secret, &[&body]));
        let headers = vec![
            ("X-GitHub-Event", event.to_string()),
            ("X-GitHub-Delivery", delivery.to_string()),
            ("X-GitHub-Hook-ID", "42".to_owned()),
            ("X-Hub-Signature-256", format!("sha256={signature}")),
        ];
        (headers, body)
    })
    .collect();
    same_outcome("github", "github", secret, &sends, 3);
}
