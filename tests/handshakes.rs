//! The `handshake` kinds and the `reply` setting, end to end on the real binary: each
//! provider's URL check sent as the provider sends it, its reply checked, and no record from
//! it, live, from `replay --journal` or from a replayed file.
//!
//! Sources of the requests (payloads and headers as documented):
//! - Meta: developers.facebook.com/docs/graph-api/webhooks/getting-started ("Verification
//!   Requests"; `hub.challenge=1158201444`, `hub.verify_token=meatyhamhock`).
//! - Twitch: dev.twitch.tv/docs/eventsub/handling-webhook-events ("Responding to a challenge
//!   request"), its example body and `Twitch-Eventsub-*` headers; the signature is
//!   `sha256=` hex HMAC-SHA256(secret, message id + timestamp + body), computed here.
//! - Discord: discord.com/developers/docs/interactions/overview ("Receiving an Interaction",
//!   PING `type: 1` answered with `{"type": 1}`; Ed25519 over timestamp + body).
//! - Microsoft Graph: learn.microsoft.com/graph/change-notifications-delivery-webhooks
//!   ("Notification endpoint validation": `POST ?validationToken=...`, `text/plain`, empty body).
//! - Asana: developers.asana.com/reference/createwebhook (the handshake, its `X-Hook-Secret`
//!   `b537207f…`) and developers.asana.com/docs/webhooks-guide (`X-Hook-Signature`: hex
//!   HMAC-SHA256 of the body; the example event).
//! - Dropbox: dropbox.com/developers/reference/webhooks ("Verification request").
//! - eBay: developer.ebay.com/marketplace-account-deletion (`challenge_code`, the
//!   `challengeResponse` hash of code, verification token and endpoint).
//! - monday.com: developer.monday.com/api-reference/reference/webhooks (`{"challenge": ...}`).
//! - WooCommerce: `WC_Webhook::deliver_ping` (woocommerce/includes/class-wc-webhook.php):
//!   a form body `webhook_id=N`, no signature.
//! - Notion: developers.notion.com/reference/webhooks (the one-time `verification_token`).
//! - Xero: developer.xero.com/documentation/webhooks/configuring-your-server ("Intent to
//!   receive": `x-xero-signature`, base64 HMAC-SHA256 of the body; 200 with no body, 401 when
//!   the signature is wrong).

use crate::common::*;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

fn post(tap: &Tap, url: &str, content_type: &str, headers: &[(&str, String)], body: &str) -> Reply {
    post_to(tap, url, content_type, headers, body)
}

fn get(tap: &Tap, query: &str) -> Reply {
    tap.send(tap.client().get(format!("{}?{query}", tap.url())))
}

/// `tap-webhooks replay --config <config> <args>`, which must succeed.
fn replay(h: &Harness, args: &[&str]) -> Finished {
    let done = run_replay(h, args);
    assert!(done.status.success(), "{}", done.stderr);
    done
}

fn content_type(reply: &Reply) -> &str {
    reply
        .headers
        .get("content-type")
        .map_or("", |v| v.to_str().unwrap())
}

/// An ordinary delivery, recorded: proves a tap that answered a handshake records the rest.
const ORDINARY: &str = r#"{"id":"evt_1","kind":"ordinary"}"#;

/// Stops the tap; its records and the journal's, replayed, are exactly [`ORDINARY`].
fn assert_only_the_ordinary_delivery_recorded(h: &Harness, tap: Tap) -> Finished {
    let done = stop(tap);
    let ordinary: Value = serde_json::from_str(ORDINARY).unwrap();
    assert_eq!(
        provider_fields(&done.records()),
        vec![ordinary.clone()],
        "live"
    );
    let replayed = replay(h, &["--journal"]);
    assert_eq!(
        provider_fields(&replayed.records()),
        vec![ordinary],
        "replay --journal"
    );
    done
}

const TWITCH_CHALLENGE: &str = r#"{"challenge":"pogchamp-kappa-360noscope-vohiyo","subscription":{"id":"f1c2a387-161a-49f9-a165-0f21d7a4e1c4","status":"webhook_callback_verification_pending","type":"channel.follow","version":"2","cost":1,"condition":{"broadcaster_user_id":"12826"},"transport":{"method":"webhook","callback":"https://example.com/webhooks/callback"},"created_at":"2019-11-16T10:11:12.634234626Z"}}"#;
const DISCORD_PING: &str = r#"{"app_permissions":"442368","application_id":"1039303418372767786","authorizing_integration_owners":{},"entitlements":[],"id":"1234567890123456789","token":"aW50ZXJhY3Rpb246MTIzNDU2Nzg5MDEyMzQ1Njc4OTpzZWNyZXQ","type":1,"user":{"id":"53908232506183680","username":"mason"},"version":1}"#;
const MONDAY_CHALLENGE: &str =
    r#"{"challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}"#;
const NOTION_VERIFICATION: &str =
    r#"{"verification_token":"secret_tMrlL1qK5vuQAh1b6cZGhFChZTSYJlce98V0pYn7yBl"}"#;
const XERO_INTENT: &str =
    r#"{"events":[],"lastEventSequence":0,"firstEventSequence":0,"entropy":"S0m3r4Nd0mt3xt"}"#;

/// Twitch's headers for `body`, signed with `secret` as its docs compute it.
fn twitch_headers(secret: &str, kind: &str, body: &str) -> Vec<(&'static str, String)> {
    let id = "e76c6bd4-55c9-4987-8304-da1588d8988b";
    let timestamp = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    let signature = hex::encode(hmac_sha256(
        secret.as_bytes(),
        &[id.as_bytes(), timestamp.as_bytes(), body.as_bytes()],
    ));
    vec![
        ("Twitch-Eventsub-Message-Id", id.to_owned()),
        ("Twitch-Eventsub-Message-Retry", "0".to_owned()),
        ("Twitch-Eventsub-Message-Type", kind.to_owned()),
        (
            "Twitch-Eventsub-Message-Signature",
            format!("sha256={signature}"),
        ),
        ("Twitch-Eventsub-Message-Timestamp", timestamp),
        (
            "Twitch-Eventsub-Subscription-Type",
            "channel.follow".to_owned(),
        ),
        ("Twitch-Eventsub-Subscription-Version", "2".to_owned()),
    ]
}

#[test]
fn body_handshakes_are_answered_live_and_never_recorded() {
    struct Case {
        kind: &'static str,
        content_type: &'static str,
        headers: Vec<(&'static str, String)>,
        body: &'static str,
        reply: Value,
        reply_type: &'static str,
    }
    let cases = [
        Case {
            kind: "twitch",
            content_type: "application/json",
            headers: twitch_headers("s3cre7", "webhook_callback_verification", TWITCH_CHALLENGE),
            body: TWITCH_CHALLENGE,
            reply: json!("pogchamp-kappa-360noscope-vohiyo"),
            reply_type: "text/plain",
        },
        Case {
            kind: "discord",
            content_type: "application/json",
            headers: vec![],
            body: DISCORD_PING,
            reply: json!({"type": 1}),
            reply_type: "application/json",
        },
        Case {
            kind: "monday",
            content_type: "application/json",
            headers: vec![],
            body: MONDAY_CHALLENGE,
            reply: serde_json::from_str(MONDAY_CHALLENGE).unwrap(),
            reply_type: "application/json",
        },
        Case {
            kind: "woocommerce",
            content_type: "application/x-www-form-urlencoded",
            headers: vec![],
            body: "webhook_id=5",
            reply: json!({"status": "ok", "records": 0}),
            reply_type: "application/json",
        },
        Case {
            kind: "notion",
            content_type: "application/json",
            headers: vec![],
            body: NOTION_VERIFICATION,
            reply: json!({"status": "ok", "records": 0}),
            reply_type: "application/json",
        },
    ];
    for case in cases {
        let mut h = Harness::new(json!({"handshake": {"kind": case.kind}}));
        let tap = h.start(&[]);
        let reply = post(
            &tap,
            &tap.url(),
            case.content_type,
            &case.headers,
            case.body,
        );
        assert_eq!(reply.status, 200, "{}: {:?}", case.kind, reply.body);
        assert_eq!(reply.body, case.reply, "{}", case.kind);
        assert_eq!(content_type(&reply), case.reply_type, "{}", case.kind);
        assert_eq!(tap.post(ORDINARY).status, 200);
        let done = assert_only_the_ordinary_delivery_recorded(&h, tap);
        let unverified = done
            .stderr
            .contains("handshake kind discord without signature: Discord checks");
        assert_eq!(unverified, case.kind == "discord", "{}", done.stderr);
        if case.kind == "notion" {
            assert!(
                done.stderr.contains(
                    "WARNING Notion sent its verification_token \
                     secret_tMrlL1qK5vuQAh1b6cZGhFChZTSYJlce98V0pYn7yBl: paste it into Notion"
                ),
                "{}",
                done.stderr
            );
        }
    }
}

#[test]
fn handshake_bodies_give_no_records_from_the_journal_or_from_files() {
    // Journaled while no handshake was configured (so recorded then), they give no record
    // once their kind is: the one conversion path recognises them, whichever way they come.
    let bodies = [
        ("twitch", TWITCH_CHALLENGE),
        ("discord", DISCORD_PING),
        ("monday", MONDAY_CHALLENGE),
        ("notion", NOTION_VERIFICATION),
        ("xero", XERO_INTENT),
    ];
    let mut h = Harness::new(json!({}));
    let tap = h.start(&[]);
    for (_, body) in bodies {
        assert_eq!(tap.post(body).status, 200);
    }
    let form = post(
        &tap,
        &tap.url(),
        "application/x-www-form-urlencoded",
        &[],
        "webhook_id=5",
    );
    assert_eq!(form.status, 200);
    assert_eq!(tap.post(ORDINARY).status, 200);
    assert_eq!(stop(tap).records().len(), bodies.len() + 2);
    let file = h.tmp.path().join("captured.ndjson");
    let lines: Vec<&str> = bodies.iter().map(|(_, b)| *b).chain([ORDINARY]).collect();
    std::fs::write(&file, lines.join("\n")).unwrap();
    let kinds = bodies.iter().map(|(k, _)| *k).chain(["woocommerce"]);
    for kind in kinds {
        h.set_config(json!({"handshake": {"kind": kind}}));
        let journal = provider_fields(&replay(&h, &["--journal"]).records());
        assert_eq!(journal.len(), bodies.len() + 1, "{kind}: {journal:?}");
        let files = provider_fields(&replay(&h, &[file.to_str().unwrap()]).records());
        let expected = if kind == "woocommerce" { 0 } else { 1 };
        assert_eq!(files.len(), lines.len() - expected, "{kind}: {files:?}");
        let gone = |records: &[Value]| {
            !records.iter().any(|r| match kind {
                "woocommerce" => r.get("webhook_id").is_some(),
                _ => {
                    let body = bodies.iter().find(|(k, _)| *k == kind).unwrap().1;
                    *r == serde_json::from_str::<Value>(body).unwrap()
                }
            })
        };
        assert!(gone(&journal), "{kind} from the journal: {journal:?}");
        assert!(gone(&files), "{kind} from a file: {files:?}");
    }
}

#[test]
fn signed_challenges_are_answered_only_once_their_signature_is_checked() {
    // Twitch: `sha256=` hex HMAC-SHA256 over message id + timestamp + body, as the `hmac` kind
    // describes it.
    let mut h = Harness::new(json!({
        "handshake": {"kind": "twitch"},
        "signature": {"scheme": "hmac", "secret": "s3cre7",
                      "header": "Twitch-Eventsub-Message-Signature", "prefix": "sha256=",
                      "message": "{id}{timestamp}{body}",
                      "id_header": "Twitch-Eventsub-Message-Id",
                      "timestamp_header": "Twitch-Eventsub-Message-Timestamp"}
    }));
    let tap = h.start(&[]);
    let headers = twitch_headers("s3cre7", "webhook_callback_verification", TWITCH_CHALLENGE);
    let reply = post(
        &tap,
        &tap.url(),
        "application/json",
        &headers,
        TWITCH_CHALLENGE,
    );
    assert_eq!(
        (reply.status, content_type(&reply)),
        (200, "text/plain"),
        "{:?}",
        reply.body
    );
    assert_eq!(reply.body, json!("pogchamp-kappa-360noscope-vohiyo"));
    let forged = twitch_headers("guess", "webhook_callback_verification", TWITCH_CHALLENGE);
    let refused = post(
        &tap,
        &tap.url(),
        "application/json",
        &forged,
        TWITCH_CHALLENGE,
    );
    assert_eq!(refused.status, 401, "{:?}", refused.body);
    let ordinary = twitch_headers("s3cre7", "notification", ORDINARY);
    assert_eq!(
        post(&tap, &tap.url(), "application/json", &ordinary, ORDINARY).status,
        200
    );
    assert_only_the_ordinary_delivery_recorded(&h, tap);

    // Discord: Ed25519 over timestamp + body (discord.com/developers/docs/interactions/overview,
    // "Setting Up an Endpoint"); a PING with a bad signature must get 401.
    let key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    let public_key = hex::encode(key.verifying_key().to_bytes());
    let mut h = Harness::new(json!({
        "handshake": {"kind": "discord"},
        "signature": {"scheme": "ed25519", "public_key": public_key,
                      "header": "X-Signature-Ed25519", "timestamp_header": "X-Signature-Timestamp",
                      "message": "{timestamp}{body}"}
    }));
    let tap = h.start(&[]);
    let discord = |body: &str, signed: &str| {
        use ed25519_dalek::Signer;
        let ts = chrono::Utc::now().timestamp().to_string();
        let signature = key.sign(format!("{ts}{signed}").as_bytes());
        let headers = [
            ("X-Signature-Ed25519", hex::encode(signature.to_bytes())),
            ("X-Signature-Timestamp", ts),
        ];
        post(&tap, &tap.url(), "application/json", &headers, body)
    };
    let reply = discord(DISCORD_PING, DISCORD_PING);
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body, json!({"type": 1}));
    let tampered = DISCORD_PING.replace("mason", "mallory");
    assert_eq!(discord(&tampered, DISCORD_PING).status, 401);
    // A webhook events URL: its PING is `type` 0, answered 204; its events, `type` 1 with an
    // `event` (docs.discord.com/developers/events/webhook-events), are records.
    let events_ping = r#"{"version":1,"application_id":"1234560123453231555","type":0}"#;
    let reply = discord(events_ping, events_ping);
    assert_eq!((reply.status, reply.body.clone()), (204, json!("")));
    let event = r#"{"version":1,"application_id":"1234560123453231555","type":1,"event":{"type":"APPLICATION_AUTHORIZED","timestamp":"2024-10-18T14:42:53.064834","data":{"integration_type":1,"scopes":["applications.commands"],"user":{"id":"111178765189277770","username":"nelly"}}}}"#;
    assert_eq!(discord(event, event).status, 200);
    let done = stop(tap);
    let event: Value = serde_json::from_str(event).unwrap();
    assert_eq!(provider_fields(&done.records()), vec![event.clone()]);
    assert_eq!(
        provider_fields(&replay(&h, &["--journal"]).records()),
        vec![event]
    );
}

#[test]
fn xero_intent_to_receive_is_its_signature_check() {
    let key =
        "nyWmqIe+ps6EwcNrQzqLe2ZHgRxVqJcU4f9jWVbNdNHkSYz6I4tLqLkOwqDkoq3+SpFQn3NXqhMbUtzdzpF1Qw==";
    let mut h = Harness::new(json!({
        "handshake": {"kind": "xero"},
        "signature": {"scheme": "hmac", "secret": key, "header": "x-xero-signature",
                      "encoding": "base64"}
    }));
    let tap = h.start(&[]);
    let sign = |body: &str| BASE64.encode(hmac_sha256(key.as_bytes(), &[body.as_bytes()]));
    let good = post(
        &tap,
        &tap.url(),
        "application/json",
        &[("x-xero-signature", sign(XERO_INTENT))],
        XERO_INTENT,
    );
    assert_eq!(good.status, 200, "{:?}", good.body);
    assert_eq!(good.body, json!(""), "Xero requires no body");
    let bad = post(
        &tap,
        &tap.url(),
        "application/json",
        &[("x-xero-signature", sign("something else"))],
        XERO_INTENT,
    );
    assert_eq!(bad.status, 401);
    assert!(
        bad.body["error"]
            .as_str()
            .unwrap()
            .starts_with("invalid signature")
    );
    let ordinary = post(
        &tap,
        &tap.url(),
        "application/json",
        &[("x-xero-signature", sign(ORDINARY))],
        ORDINARY,
    );
    assert_eq!(ordinary.status, 200);
    assert_only_the_ordinary_delivery_recorded(&h, tap);
}

#[test]
fn get_handshakes_of_meta_dropbox_and_ebay_are_answered() {
    // Meta: the verify token must match.
    let mut h =
        Harness::new(json!({"handshake": {"kind": "meta", "verify_token": "meatyhamhock"}}));
    let tap = h.start(&[]);
    let ok = get(
        &tap,
        "hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=meatyhamhock",
    );
    assert_eq!((ok.status, content_type(&ok)), (200, "text/plain"));
    assert_eq!(ok.body, json!(1158201444), "the challenge echoed exactly");
    let wrong = get(
        &tap,
        "hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=guess",
    );
    assert_eq!(wrong.status, 403);
    assert!(
        wrong.body["error"]
            .as_str()
            .unwrap()
            .starts_with("hub.verify_token does not match handshake.verify_token")
    );
    assert_eq!(get(&tap, "other=1").status, 405, "a GET that is no check");
    let bad_token = tap.send(tap.client().get(format!(
        "{}/webhooks/{}?hub.mode=subscribe&hub.challenge=1&hub.verify_token=meatyhamhock",
        tap.base,
        "0".repeat(64)
    )));
    assert_eq!(bad_token.status, 401, "the URL's token is checked first");
    assert_eq!(tap.post(ORDINARY).status, 200);
    let done = assert_only_the_ordinary_delivery_recorded(&h, tap);
    assert!(!done.stderr.contains("meatyhamhock"), "{}", done.stderr);

    // Dropbox: the challenge echoed, not sniffed.
    let mut h = Harness::new(json!({"handshake": {"kind": "dropbox"}}));
    let tap = h.start(&[]);
    let reply = get(&tap, "challenge=6b2c1ec8-1aeb-4a6e-8d3d-1e0d6f8dc0a5");
    assert_eq!((reply.status, content_type(&reply)), (200, "text/plain"));
    assert_eq!(reply.body, json!("6b2c1ec8-1aeb-4a6e-8d3d-1e0d6f8dc0a5"));
    assert_eq!(reply.headers["x-content-type-options"], "nosniff");
    assert_eq!(tap.post(ORDINARY).status, 200);
    assert_only_the_ordinary_delivery_recorded(&h, tap);

    // eBay: SHA-256 of the code, the verify token and the endpoint as configured there.
    let token = "tap-webhooks_verification-token_0123456789";
    let mut h = Harness::new(json!({
        "handshake": {"kind": "ebay", "verify_token": token},
        "public_url": "https://hooks.example.com"
    }));
    let tap = h.start(&[]);
    let code = "a8628072-3d33-45ee-9004-bee86830a22d";
    let reply = get(&tap, &format!("challenge_code={code}"));
    let endpoint = format!("https://hooks.example.com/webhooks/{}", tap.token);
    let expected = hex::encode(Sha256::digest(format!("{code}{token}{endpoint}")));
    assert_eq!(
        (reply.status, content_type(&reply)),
        (200, "application/json")
    );
    assert_eq!(reply.body, json!({"challengeResponse": expected}));
    assert_eq!(tap.post(ORDINARY).status, 200);
    assert_only_the_ordinary_delivery_recorded(&h, tap);
}

#[test]
fn microsoft_graph_validation_token_is_echoed_as_text() {
    let mut h = Harness::new(json!({"handshake": {"kind": "microsoft-graph"}}));
    let tap = h.start(&[]);
    let token = "Validation: Testing client application reachability for subscription Request-Id: 9f2a4c3e-1b6d-4c1e-8f5a-7e2d9b0c4a11";
    let url = format!(
        "{}?{}",
        tap.url(),
        form_urlencoded::Serializer::new(String::new())
            .append_pair("validationToken", token)
            .finish()
    );
    let reply = post(&tap, &url, "text/plain; charset=utf-8", &[], "");
    assert_eq!((reply.status, content_type(&reply)), (200, "text/plain"));
    assert_eq!(reply.body, json!(token), "the token, URL-decoded");
    assert_eq!(tap.post(ORDINARY).status, 200);
    assert_only_the_ordinary_delivery_recorded(&h, tap);
}

const ASANA_EVENT: &str = r#"{"events":[{"user":{"gid":"1516","resource_type":"user"},"created_at":"2018-03-01T14:49:06.000Z","action":"changed","resource":{"gid":"1337","resource_type":"task","resource_subtype":"default_task"},"parent":null,"change":{"field":"assignee","action":"changed"}}]}"#;

#[test]
fn asana_secret_is_learned_from_its_handshake_and_survives_a_restart() {
    let secret = "b537207f20cbfa02357cf448134da559e8bd39d61597dcd5631b8012eae53e81";
    let signed = |key: &str| {
        vec![(
            "X-Hook-Signature",
            hex::encode(hmac_sha256(key.as_bytes(), &[ASANA_EVENT.as_bytes()])),
        )]
    };
    let mut h = Harness::new(json!({"handshake": {"kind": "asana"}}));
    let tap = h.start(&[]);
    let early = post(
        &tap,
        &tap.url(),
        "application/json",
        &signed(secret),
        ASANA_EVENT,
    );
    assert_eq!(early.status, 401);
    assert!(
        early.body["error"]
            .as_str()
            .unwrap()
            .contains("no secret was learned from Asana's X-Hook-Secret handshake yet")
    );
    // The handshake: a POST with the header and no body.
    let handshake = tap.send(tap.client().post(tap.url()).header("X-Hook-Secret", secret));
    assert_eq!(handshake.status, 200, "{:?}", handshake.body);
    assert_eq!(handshake.headers["x-hook-secret"], secret);
    let kept = h.data_dir().join("asana-secrets.json");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&kept).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "only its owner reads the secret");
    // Signed with the learned secret, with another, and not at all.
    let statuses = |tap: &Tap| {
        let send = |headers: &[(&str, String)]| {
            post(tap, &tap.url(), "application/json", headers, ASANA_EVENT).status
        };
        [send(&signed(secret)), send(&signed("other")), send(&[])]
    };
    assert_eq!(statuses(&tap), [200, 401, 401]);
    let done = stop(tap);
    assert_eq!(done.records().len(), 1);
    assert!(!done.stderr.contains(secret), "{}", done.stderr);

    // Restarted: the secret is still known.
    let tap = h.start(&[]);
    assert_eq!(statuses(&tap), [200, 401, 401]);
    let done = stop(tap);
    assert_eq!(
        done.records().len(),
        2,
        "the backlog (no --state) and the new one"
    );
    let replayed = replay(&h, &["--journal"]);
    assert_eq!(replayed.records().len(), 2, "two deliveries, no handshake");
}

#[test]
fn reply_sets_the_success_reply_and_refusals_keep_json() {
    let mut h = Harness::new(json!({
        "reply": {"status": 200, "content_type": "text/plain", "body": "[accepted]"},
        "idempotency_header": "X-Delivery"
    }));
    let tap = h.start(&[]);
    let send = |body: &str| {
        post(
            &tap,
            &tap.url(),
            "application/json",
            &[("X-Delivery", "d-1".into())],
            body,
        )
    };
    for attempt in ["first", "redelivery"] {
        let reply = send(ORDINARY);
        assert_eq!(reply.status, 200, "{attempt}");
        assert_eq!(reply.body, json!("[accepted]"), "{attempt}");
        assert_eq!(content_type(&reply), "text/plain", "{attempt}");
    }
    let refused = tap.post("{not json");
    assert_eq!(refused.status, 400);
    assert_eq!(content_type(&refused), "application/json");
    assert!(refused.body["error"].is_string());
    assert_only_the_ordinary_delivery_recorded(&h, tap);

    // Bad settings are refused at start, naming the key.
    let refusals = [
        (
            json!({"reply": {"status": 302}}),
            "reply: status: 302 is not a success status",
        ),
        (
            json!({"reply": {"content_type": "text/plain\u{7f}"}}),
            "reply: content_type:",
        ),
        (
            json!({"handshake": {"kind": "meta"}}),
            "handshake: kind meta needs verify_token",
        ),
        (
            json!({"handshake": {"kind": "asana"}, "signature": {"scheme": "github", "secret": "s-9f8e7d"}}),
            "signature: handshake kind asana verifies X-Hook-Signature",
        ),
    ];
    for (config, message) in refusals {
        h.set_config(config);
        let done = h.run(&[]);
        assert_eq!(done.status.code(), Some(2), "{}", done.stderr);
        assert!(done.stderr.contains(message), "{message}: {}", done.stderr);
    }
}

#[test]
fn asana_secret_learned_by_one_receiver_is_known_to_every_receiver_on_nats() {
    let cluster = crate::common::nats::Cluster::start(1);
    let mut h = Harness::new(json!({
        "journal": cluster.journal("ASANA", 1),
        "handshake": {"kind": "asana"}
    }));
    let secret = "9bd2e44d5e0c8f7a1b3c6d2e4f5a7b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6";
    let signature = hex::encode(hmac_sha256(secret.as_bytes(), &[ASANA_EVENT.as_bytes()]));
    let deliver = |tap: &Tap| {
        let headers = [("X-Hook-Signature", signature.clone())];
        post(tap, &tap.url(), "application/json", &headers, ASANA_EVENT)
    };
    let a = h.start_serve();
    let b = h.start_serve();
    let handshake = a.send(a.client().post(a.url()).header("X-Hook-Secret", secret));
    assert_eq!(handshake.status, 200, "{:?}", handshake.body);
    assert_eq!(handshake.headers["x-hook-secret"], secret);
    let through_b = deliver(&b);
    assert_eq!(
        through_b.status, 200,
        "the other receiver: {:?}",
        through_b.body
    );
    assert!(
        !h.data_dir().join("asana-secrets.json").exists(),
        "kept in the bucket, not beside"
    );
    for tap in [a, b] {
        stop(tap);
    }
    let c = h.start_serve();
    assert_eq!(deliver(&c).status, 200, "a receiver started afterwards");
    stop(c);
    let replayed = replay(&h, &["--journal"]);
    assert_eq!(replayed.records().len(), 2, "two deliveries, no handshake");
}

/// Two receivers on one NATS journal learn two more Asana webhooks' secrets at the same moment
/// (a debug-only fault, TAP_WEBHOOKS_TEST_SLOW_SECRET_WRITE_MS, holds each between reading the
/// bucket and writing it back): every secret is kept, and each verifies at either receiver.
/// Written without the revision check, the second write dropped the first secret. A cluster of
/// three: there, a nats-server before 2.9.21 checks the revision before the write is replicated.
#[test]
fn asana_secrets_learned_at_once_on_nats_are_all_kept() {
    let cluster = crate::common::nats::Cluster::start(3);
    let mut h = Harness::new(json!({
        "journal": cluster.journal("ASANA2", 3),
        "handshake": {"kind": "asana"}
    }));
    let slow_serve = |h: &mut Harness| {
        let mut cmd = h.serve_command();
        cmd.env("TAP_WEBHOOKS_TEST_SLOW_SECRET_WRITE_MS", "400");
        h.start_command(cmd)
    };
    let a = slow_serve(&mut h);
    let b = slow_serve(&mut h);
    let secrets = [
        "0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8091a2b3",
        "1f0e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0",
        "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9",
    ];
    // A first webhook's secret, alone; then two at once, each rewriting the bucket's list.
    let first = a.send(a.client().post(a.url()).header("X-Hook-Secret", secrets[0]));
    assert_eq!(first.status, 200, "{:?}", first.body);
    std::thread::scope(|scope| {
        for (tap, secret) in [(&a, secrets[1]), (&b, secrets[2])] {
            scope.spawn(move || {
                let reply = tap.send(tap.client().post(tap.url()).header("X-Hook-Secret", secret));
                assert_eq!(reply.status, 200, "{:?}", reply.body);
            });
        }
    });
    for secret in secrets {
        let signature = hex::encode(hmac_sha256(secret.as_bytes(), &[ASANA_EVENT.as_bytes()]));
        for tap in [&a, &b] {
            let headers = [("X-Hook-Signature", signature.clone())];
            let reply = post(tap, &tap.url(), "application/json", &headers, ASANA_EVENT);
            assert_eq!(reply.status, 200, "secret {secret:.8}…: {:?}", reply.body);
        }
    }
    for tap in [a, b] {
        stop(tap);
    }
}
