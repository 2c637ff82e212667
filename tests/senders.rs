//! Senders beyond one JSON object, end to end on the real binary: every
//! body kind of the contract's table, HEAD, the handshakes, the signatures of Twilio, Zoom,
//! Mailgun and SendGrid, the signature kinds `hmac`, `header`, `basic` and `ed25519`, and the
//! three defects found with real deliveries.
//!
//! Signatures are computed here with the `hmac`/`sha1`/`p256`/`ed25519-dalek` crates directly, following each
//! provider's documentation, or taken from the providers' own library tests.

use crate::common::*;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// POSTs `body` as `content_type` with extra `headers` to the tap's URL.
fn post_as(tap: &Tap, content_type: &str, headers: &[(&str, String)], body: &[u8]) -> Reply {
    post_to(tap, &tap.url(), content_type, headers, body)
}

const BOUNDARY: &str = "----tapboundary7MA4YWxkTrZu0gW";

/// A multipart/form-data body: (name, Some((filename, content type)), content).
/// A part: name, file name and content type (for a file), content.
type Part<'a> = (&'a str, Option<(&'a str, &'a str)>, &'a [u8]);

fn multipart(parts: &[Part<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, file, content) in parts {
        out.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        let disposition = match file {
            Some((filename, ct)) => format!(
                "Content-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\nContent-Type: {ct}\r\n\r\n"
            ),
            None => format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n"),
        };
        out.extend_from_slice(disposition.as_bytes());
        out.extend_from_slice(content);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    out
}

fn multipart_type() -> String {
    format!("multipart/form-data; boundary={BOUNDARY}")
}

#[test]
fn every_body_kind_of_the_contract_becomes_the_same_records_live_and_from_the_journal() {
    let mut h = Harness::new(json!({}));
    let tap = h.start(&[]);
    let ok = |reply: Reply, records: u64| {
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        assert_eq!(reply.body["records"], records, "{:?}", reply.body);
    };
    // NDJSON: one record per line; one bad line refuses all.
    ok(
        post_as(
            &tap,
            "application/x-ndjson",
            &[],
            b"{\"n\":1}\n\n{\"n\":2}\r\n{\"n\":3}",
        ),
        3,
    );
    ok(post_as(&tap, "application/jsonl", &[], b"{\"n\":4}\n"), 1);
    let bad = post_as(&tap, "application/x-ndjson", &[], b"{\"n\":5}\n{\"n\":\n");
    assert_eq!(bad.status, 400, "{:?}", bad.body);
    assert!(bad.body["error"].as_str().unwrap().contains("line 2"));
    // AWS SNS: JSON sent as text/plain; a SubscriptionConfirmation is recorded and its URL
    // logged at WARN.
    ok(
        post_as(
            &tap,
            "text/plain; charset=UTF-8",
            &[],
            br#"{"Type":"Notification","MessageId":"m-1","Message":"hi"}"#,
        ),
        1,
    );
    let confirm = r#"{"Type":"SubscriptionConfirmation","MessageId":"m-2","TopicArn":"arn:aws:sns:us-west-2:123456789012:MyTopic","SubscribeURL":"https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&Token=2336412f37"}"#;
    ok(
        post_as(
            &tap,
            "text/plain",
            &[("x-amz-sns-message-type", "SubscriptionConfirmation".into())],
            confirm.as_bytes(),
        ),
        1,
    );
    // curl -d '{...}': form-typed but wholly JSON.
    ok(
        post_as(
            &tap,
            "application/x-www-form-urlencoded",
            &[],
            br#"{"id":2,"via":"curl"}"#,
        ),
        1,
    );
    // Form fields (Twilio, Slack slash commands): strings; a repeated field an array.
    ok(
        post_as(
            &tap,
            "application/x-www-form-urlencoded",
            &[],
            b"MessageSid=SM1&From=%2B15551230000&Body=Hello+world&MediaUrl=a&MediaUrl=b",
        ),
        1,
    );
    // One field holding JSON (GitHub form mode, Slack interactivity, Mandrill): unwrapped.
    ok(
        post_as(
            &tap,
            "application/x-www-form-urlencoded",
            &[],
            b"payload=%7B%22action%22%3A%22opened%22%2C%22number%22%3A7%7D",
        ),
        1,
    );
    ok(
        post_as(
            &tap,
            "application/x-www-form-urlencoded",
            &[],
            b"mandrill_events=%5B%7B%22event%22%3A%22send%22%2C%22_id%22%3A%22a1%22%7D%2C%7B%22event%22%3A%22open%22%2C%22_id%22%3A%22a2%22%7D%5D",
        ),
        2,
    );
    // multipart/form-data (Mailgun routes, SendGrid Inbound Parse): text parts are fields, a
    // file part is described, its bytes never emitted.
    let attachment = b"SECRET-ATTACHMENT-BYTES-0123456789";
    let body = multipart(&[
        ("from", None, b"Bob <bob@example.com>"),
        ("subject", None, "Caf\u{e9} order".as_bytes()),
        (
            "attachment-1",
            Some(("invoice.pdf", "application/pdf")),
            attachment,
        ),
    ]);
    ok(post_as(&tap, &multipart_type(), &[], &body), 1);
    let cut = &body[..body.len() - 10];
    assert_eq!(post_as(&tap, &multipart_type(), &[], cut).status, 400);
    assert_eq!(post_as(&tap, "image/png", &[], b"\x89PNG").status, 415);

    tap.wait_for_records(12);
    let done = stop(tap);
    let live = done.records();
    assert!(
        done.stderr.contains("WARN")
            && done
                .stderr
                .contains("https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription"),
        "{}",
        done.stderr
    );
    let expected = vec![
        json!({"n": 1}),
        json!({"n": 2}),
        json!({"n": 3}),
        json!({"n": 4}),
        json!({"Type": "Notification", "MessageId": "m-1", "Message": "hi"}),
        serde_json::from_str::<Value>(confirm).unwrap(),
        json!({"id": 2, "via": "curl"}),
        json!({"MessageSid": "SM1", "From": "+15551230000", "Body": "Hello world",
               "MediaUrl": ["a", "b"]}),
        json!({"action": "opened", "number": 7}),
        json!({"event": "send", "_id": "a1"}),
        json!({"event": "open", "_id": "a2"}),
        // Twilio's `From` came first in this stream: `from` folds into it in pipelinewise and
        // DuckDB, so it gets its own column (README "Field names").
        json!({"from__2": "Bob <bob@example.com>", "subject": "Caf\u{e9} order",
               "attachment-1": {"filename": "invoice.pdf", "content_type": "application/pdf",
                                "size": attachment.len(),
                                "sha256": hex::encode(Sha256::digest(attachment))}}),
    ];
    assert_eq!(provider_fields(&live), expected);
    assert!(!done.stdout_text().contains("SECRET-ATTACHMENT"));

    // The journal kept each body's media type: a replay gives exactly the same records.
    let replayed = run_replay(&h, &["--journal"]);
    assert!(replayed.status.success(), "{}", replayed.stderr);
    let again = replayed.records();
    assert_eq!(provider_fields(&again), expected);
    assert_eq!(live, again[..live.len()]);
}

#[test]
fn head_is_200_for_a_live_token_and_get_stays_405() {
    let mut h = Harness::new(json!({}));
    let tap = h.start(&[]);
    let head = tap.send(tap.client().head(tap.url()));
    assert_eq!(head.status, 200);
    let unknown = format!("{}/webhooks/{}", tap.base, "ab".repeat(32));
    assert_eq!(tap.send(tap.client().head(&unknown)).status, 401);
    let get = tap.send(tap.client().get(tap.url()));
    assert_eq!(get.status, 405);
    assert_eq!(get.headers["allow"], "POST, HEAD");
    let done = stop(tap);
    assert!(done.records().is_empty());
}

#[test]
fn handshakes_are_answered_and_never_recorded_live_or_replayed() {
    let secret = "zoom-secret-token-abc";
    let mut h = Harness::new(json!({"signature": {"scheme": "zoom", "secret": secret}}));
    let tap = h.start(&[]);
    let zoom_headers = |body: &str| {
        let ts = now().to_string();
        let sig = hex::encode(hmac_sha256(
            secret.as_bytes(),
            &[b"v0:", ts.as_bytes(), b":", body.as_bytes()],
        ));
        vec![
            ("x-zm-request-timestamp", ts),
            ("x-zm-signature", format!("v0={sig}")),
        ]
    };
    // Zoom's endpoint.url_validation (signed like every Zoom request).
    let validation = r#"{"payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},"event_ts":1654503849680,"event":"endpoint.url_validation"}"#;
    let reply = post_as(
        &tap,
        "application/json",
        &zoom_headers(validation),
        validation.as_bytes(),
    );
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(
        reply.body,
        json!({"plainToken": "qgg8vlvZRS6UYooatFL8Aw",
               "encryptedToken": hex::encode(hmac_sha256(secret.as_bytes(), &[b"qgg8vlvZRS6UYooatFL8Aw"]))})
    );
    // Okta's one-time GET.
    let okta = tap.send(
        tap.client()
            .get(tap.url())
            .header("X-Okta-Verification-Challenge", "Xz3b8-ofhN_SN7SClHuXV"),
    );
    assert_eq!(okta.status, 200);
    assert_eq!(okta.body, json!({"verification": "Xz3b8-ofhN_SN7SClHuXV"}));
    // An ordinary Zoom event is recorded.
    let event = r#"{"event":"meeting.started","payload":{"object":{"id":"1"}}}"#;
    let reply = post_as(
        &tap,
        "application/json",
        &zoom_headers(event),
        event.as_bytes(),
    );
    assert_eq!(reply.status, 200);
    let done = stop(tap);
    assert_eq!(
        provider_fields(&done.records()),
        vec![json!({"event": "meeting.started", "payload": {"object": {"id": "1"}}})]
    );

    // Without a zoom secret the validation cannot be answered: a clear 400, nothing recorded.
    let mut h2 = Harness::new(json!({}));
    let tap = h2.start(&[]);
    let reply = post_as(&tap, "application/json", &[], validation.as_bytes());
    assert_eq!(reply.status, 400);
    assert!(reply.body["error"].as_str().unwrap().contains("zoom"));
    assert!(stop(tap).records().is_empty());

    // Replaying captured handshakes (Slack, Zoom) gives no record; the event beside them does.
    let capture = h.tmp.path().join("captured.ndjson");
    std::fs::write(
        &capture,
        format!(
            "{}\n{validation}\n{{\"id\":1}}\n",
            r#"{"token":"t","challenge":"c","type":"url_verification"}"#
        ),
    )
    .unwrap();
    let replayed = run_replay(&h, &[capture.to_str().unwrap()]);
    assert!(replayed.status.success(), "{}", replayed.stderr);
    assert_eq!(provider_fields(&replayed.records()), vec![json!({"id": 1})]);
}

/// Twilio's signature: base64 HMAC-SHA1(auth token, URL + sorted field names and values).
fn twilio_signature(token: &str, url: &str, form: &[(&str, &str)]) -> String {
    let mut sorted = form.to_vec();
    sorted.sort();
    let mut content = url.to_owned();
    for (name, value) in sorted {
        content.push_str(name);
        content.push_str(value);
    }
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(token.as_bytes()).unwrap();
    mac.update(content.as_bytes());
    BASE64.encode(mac.finalize().into_bytes())
}

fn form_encode(form: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish()
}

#[test]
fn twilio_signatures_cover_the_public_url_and_the_form_fields() {
    let token = "twilio-auth-token-1";
    let public = "https://hooks.example.com";
    let mut h = Harness::new(json!({
        "public_url": public,
        "signature": {"scheme": "twilio", "secret": token}
    }));
    let tap = h.start(&[]);
    let url = format!("{public}/webhooks/{}?source=sms", tap.token);
    let form = [
        ("MessageSid", "SM123"),
        ("From", "+15551230000"),
        ("Body", "Hi & bye"),
        ("To", "+15559870000"),
    ];
    let body = form_encode(&form);
    let send = |sig: Option<String>, body: &str| {
        let mut request = tap
            .client()
            .post(format!("{}?source=sms", tap.url()))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_owned());
        if let Some(sig) = sig {
            request = request.header("X-Twilio-Signature", sig);
        }
        tap.send(request)
    };
    let valid = twilio_signature(token, &url, &form);
    assert_eq!(send(Some(valid.clone()), &body).status, 200);
    // Tampered field, URL without the query, missing header, wrong token.
    let tampered = body.replace("SM123", "SM124");
    let reply = send(Some(valid.clone()), &tampered);
    assert_eq!(reply.status, 401);
    assert!(
        reply.body["error"]
            .as_str()
            .unwrap()
            .starts_with("invalid signature")
    );
    let no_query = format!("{public}/webhooks/{}", tap.token);
    assert_eq!(
        send(Some(twilio_signature(token, &no_query, &form)), &body).status,
        401
    );
    let missing = send(None, &body);
    assert_eq!(missing.status, 401);
    assert!(
        missing.body["error"]
            .as_str()
            .unwrap()
            .contains("x-twilio-signature")
    );
    assert_eq!(
        send(Some(twilio_signature("other", &url, &form)), &body).status,
        401
    );
    let done = stop(tap);
    assert_eq!(
        provider_fields(&done.records()),
        vec![
            json!({"MessageSid": "SM123", "From": "+15551230000", "Body": "Hi & bye", "To": "+15559870000"})
        ]
    );
}

#[test]
fn zoom_signatures_are_verified_with_tolerance() {
    let secret = "zoom-secret";
    let mut h = Harness::new(json!({"signature": {"scheme": "zoom", "secret": secret}}));
    let tap = h.start(&[]);
    let body = r#"{"event":"meeting.ended","payload":{"object":{"id":"9"}}}"#;
    let headers = |ts: i64, key: &str, body: &str| {
        let sig = hex::encode(hmac_sha256(
            key.as_bytes(),
            &[b"v0:", ts.to_string().as_bytes(), b":", body.as_bytes()],
        ));
        vec![
            ("x-zm-request-timestamp", ts.to_string()),
            ("x-zm-signature", format!("v0={sig}")),
        ]
    };
    let t = now();
    let post = |h: &[(&str, String)], b: &str| post_as(&tap, "application/json", h, b.as_bytes());
    assert_eq!(post(&headers(t, secret, body), body).status, 200);
    let tampered = body.replace('9', "8");
    let r = post(&headers(t, secret, body), &tampered);
    assert_eq!(
        (
            r.status,
            r.body["error"]
                .as_str()
                .unwrap()
                .starts_with("invalid signature")
        ),
        (401, true)
    );
    let r = post(&headers(t - 600, secret, body), body);
    assert_eq!(
        (
            r.status,
            r.body["error"]
                .as_str()
                .unwrap()
                .starts_with("expired signature")
        ),
        (401, true)
    );
    let r = post(&[], body);
    assert_eq!(
        (
            r.status,
            r.body["error"]
                .as_str()
                .unwrap()
                .starts_with("missing signature")
        ),
        (401, true)
    );
    assert_eq!(stop(tap).records().len(), 1);
}

#[test]
fn mailgun_signatures_are_read_from_json_webhooks_and_multipart_routes() {
    let key = "mailgun-signing-key";
    let mut h = Harness::new(json!({"signature": {"scheme": "mailgun", "secret": key}}));
    let tap = h.start(&[]);
    let sign = |ts: i64, token: &str| {
        hex::encode(hmac_sha256(
            key.as_bytes(),
            &[ts.to_string().as_bytes(), token.as_bytes()],
        ))
    };
    let t = now();
    let webhook = |ts: i64, sig: &str| {
        json!({"signature": {"timestamp": ts.to_string(), "token": "tok-1", "signature": sig},
               "event-data": {"event": "delivered", "id": "ev-1"}})
        .to_string()
    };
    let post = |b: &str| post_as(&tap, "application/json", &[], b.as_bytes());
    assert_eq!(post(&webhook(t, &sign(t, "tok-1"))).status, 200);
    let r = post(&webhook(t, &sign(t, "tok-2")));
    assert_eq!(
        (
            r.status,
            r.body["error"]
                .as_str()
                .unwrap()
                .starts_with("invalid signature")
        ),
        (401, true)
    );
    let stale = t - 3600;
    let r = post(&webhook(stale, &sign(stale, "tok-1")));
    assert_eq!(
        (
            r.status,
            r.body["error"]
                .as_str()
                .unwrap()
                .starts_with("expired signature")
        ),
        (401, true)
    );
    let r = post(r#"{"event-data":{}}"#);
    assert_eq!(
        (
            r.status,
            r.body["error"]
                .as_str()
                .unwrap()
                .starts_with("missing signature")
        ),
        (401, true)
    );
    // A route's multipart post: the fields are form parts.
    let ts = t.to_string();
    let sig = sign(t, "tok-3");
    let body = multipart(&[
        ("recipient", None, b"orders@example.com"),
        ("timestamp", None, ts.as_bytes()),
        ("token", None, b"tok-3"),
        ("signature", None, sig.as_bytes()),
        ("attachment-1", Some(("a.csv", "text/csv")), b"a,b\n1,2\n"),
    ]);
    assert_eq!(post_as(&tap, &multipart_type(), &[], &body).status, 200);
    let forged = String::from_utf8(body.clone())
        .unwrap()
        .replace("tok-3", "tok-4");
    assert_eq!(
        post_as(&tap, &multipart_type(), &[], forged.as_bytes()).status,
        401
    );
    let done = stop(tap);
    let records = provider_fields(&done.records());
    assert_eq!(records.len(), 2);
    assert_eq!(records[1]["recipient"], "orders@example.com");
    assert_eq!(records[1]["attachment-1"]["size"], 8);
}

/// sendgrid-python's test/unit/test_eventwebhook.py.
const SENDGRID_KEY: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g==";
const SENDGRID_SIGNATURE: &str = "MEUCIGHQVtGj+Y3LkG9fLcxf3qfI10QysgDWmMOVmxG0u6ZUAiEAyBiXDWzM+uOe5W0JuG+luQAbPIqHh89M15TluLtEZtM=";
const SENDGRID_BODY: &str = "[{\"email\":\"hello@world.com\",\"event\":\"dropped\",\"reason\":\"Bounced Address\",\"sg_event_id\":\"ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA\",\"sg_message_id\":\"LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0\",\"smtp-id\":\"<LRzXl_NHStOGhQ4kofSm_A@ismtpd0039p1iad1.sendgrid.net>\",\"timestamp\":1600112492}]\r\n";

#[test]
fn sendgrid_signatures_are_verified_with_its_published_vector_and_computed_ones() {
    use p256::ecdsa::signature::Signer;
    use p256::ecdsa::{DerSignature, SigningKey};
    use p256::pkcs8::EncodePublicKey;

    // SendGrid's own vector (signed in 2020): accepted with a tolerance that reaches back.
    let tolerance = (now() - 1_600_112_502 + 3600) as u64;
    let mut h = Harness::new(json!({
        "signature": {"scheme": "sendgrid", "public_key": SENDGRID_KEY, "tolerance_seconds": tolerance}
    }));
    let tap = h.start(&[]);
    let headers = |sig: &str, ts: &str| {
        vec![
            ("X-Twilio-Email-Event-Webhook-Signature", sig.to_owned()),
            ("X-Twilio-Email-Event-Webhook-Timestamp", ts.to_owned()),
        ]
    };
    let post = |h: &[(&str, String)], b: &[u8]| post_as(&tap, "application/json", h, b);
    let r = post(
        &headers(SENDGRID_SIGNATURE, "1600112502"),
        SENDGRID_BODY.as_bytes(),
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["records"], 1);
    assert_eq!(
        post(
            &headers(SENDGRID_SIGNATURE, "1600112503"),
            SENDGRID_BODY.as_bytes()
        )
        .status,
        401
    );
    assert_eq!(
        post(&headers(SENDGRID_SIGNATURE, "1600112502"), b"[{\"a\":1}]").status,
        401
    );
    assert_eq!(post(&[], SENDGRID_BODY.as_bytes()).status, 401);
    assert_eq!(stop(tap).records().len(), 1);

    // A key of our own, with the default tolerance.
    let signing = SigningKey::from_slice(&[7u8; 32]).unwrap();
    let public = signing.verifying_key().to_public_key_der().unwrap();
    let mut h = Harness::new(json!({
        "signature": {"scheme": "sendgrid", "public_key": BASE64.encode(public.as_bytes())}
    }));
    let tap = h.start(&[]);
    let body = br#"[{"email":"a@example.com","event":"delivered","sg_event_id":"e1"}]"#;
    let sign = |ts: i64, body: &[u8]| {
        let content = [ts.to_string().as_bytes(), body].concat();
        let sig: DerSignature = signing.sign(&content);
        BASE64.encode(sig.as_bytes())
    };
    let t = now();
    let post = |h: &[(&str, String)], b: &[u8]| post_as(&tap, "application/json", h, b);
    assert_eq!(
        post(&headers(&sign(t, body), &t.to_string()), body).status,
        200
    );
    let stale = t - 3600;
    let r = post(&headers(&sign(stale, body), &stale.to_string()), body);
    assert_eq!(
        (
            r.status,
            r.body["error"]
                .as_str()
                .unwrap()
                .starts_with("expired signature")
        ),
        (401, true)
    );
    let r = post(
        &headers(&sign(t, body), &t.to_string()),
        &body[..body.len() - 2],
    );
    assert_eq!(
        (
            r.status,
            r.body["error"]
                .as_str()
                .unwrap()
                .starts_with("invalid signature")
        ),
        (401, true)
    );
    assert_eq!(stop(tap).records().len(), 1);
}

#[test]
fn shopify_deliveries_with_the_new_header_names_are_verified_and_deduplicated() {
    let secret = "shpss_abc";
    let mut h = Harness::new(json!({
        "signature": {"scheme": "shopify", "secret": secret},
        "idempotency_header": "X-Shopify-Webhook-Id"
    }));
    let tap = h.start(&[]);
    let body = br#"{"id":820982911946154500,"email":"jon@example.com"}"#;
    let sig = BASE64.encode(hmac_sha256(secret.as_bytes(), &[body]));
    let new_names = vec![
        ("Shopify-Hmac-Sha256", sig.clone()),
        ("Shopify-Topic", "orders/create".to_owned()),
        (
            "Shopify-Webhook-Id",
            "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043".to_owned(),
        ),
    ];
    let r = post_as(&tap, "application/json", &new_names, body);
    assert_eq!(r.status, 200, "{:?}", r.body);
    // The same delivery again under the old names: recognised as a redelivery.
    let old_names = vec![
        ("X-Shopify-Hmac-Sha256", sig),
        (
            "X-Shopify-Webhook-Id",
            "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043".to_owned(),
        ),
    ];
    let r = post_as(&tap, "application/json", &old_names, body);
    assert_eq!((r.status, r.body["duplicate"].clone()), (200, json!(true)));
    assert_eq!(stop(tap).records().len(), 1);
}

#[test]
fn a_standard_webhooks_secret_without_padding_is_accepted() {
    // 10 bytes of key: base64 "c2VjcmV0LWtleQ==", written without its padding.
    let mut h = Harness::new(json!({
        "signature": {"scheme": "standard-webhooks", "secret": "whsec_c2VjcmV0LWtleQ"}
    }));
    let tap = h.start(&[]);
    let ts = now().to_string();
    let body = br#"{"type":"invoice.paid"}"#;
    let sig = BASE64.encode(hmac_sha256(
        b"secret-key",
        &[b"msg_1.", ts.as_bytes(), b".", body],
    ));
    let headers = vec![
        ("webhook-id", "msg_1".to_owned()),
        ("webhook-timestamp", ts),
        ("webhook-signature", format!("v1,{sig}")),
    ];
    assert_eq!(
        post_as(&tap, "application/json", &headers, body).status,
        200
    );
    assert_eq!(stop(tap).records().len(), 1);
}

/// Peak resident memory of a process (VmHWM), in bytes.
fn peak_rss_bytes(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

#[test]
fn hostile_forms_and_multipart_bodies_get_4xx_quickly_with_bounded_memory() {
    let mut h = Harness::new(json!({}));
    let tap = h.start(&[]);
    let baseline = peak_rss_bytes(tap.pid());
    let mut many_parts = Vec::new();
    for i in 0..100_000 {
        many_parts.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"f{i}\"\r\n\r\nv\r\n")
                .as_bytes(),
        );
    }
    many_parts.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    let huge_header = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"a\"\r\nX-Pad: {}\r\n\r\nv\r\n--{BOUNDARY}--\r\n",
        "p".repeat(1 << 20)
    );
    let unclosed = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n{}",
        "v".repeat(5 << 20)
    );
    let million_fields = "a=1&".repeat(1_000_000);
    let million_names: String = (0..1_000_000).map(|i| format!("f{i}=1&")).collect();
    let cases: Vec<(&str, String, Vec<u8>, u16)> = vec![
        ("100k multipart parts", multipart_type(), many_parts, 422),
        (
            "a 1 MB part header",
            multipart_type(),
            huge_header.into_bytes(),
            400,
        ),
        (
            "a boundary never closed",
            multipart_type(),
            unclosed.into_bytes(),
            400,
        ),
        (
            "1M form fields, one name",
            "application/x-www-form-urlencoded".into(),
            million_fields.into_bytes(),
            422,
        ),
        (
            "1M form fields, distinct names",
            "application/x-www-form-urlencoded".into(),
            million_names.into_bytes(),
            422,
        ),
    ];
    for (what, content_type, body, status) in cases {
        let size = body.len();
        let started = std::time::Instant::now();
        let reply = post_as(&tap, &content_type, &[], &body);
        let took = started.elapsed();
        eprintln!(
            "{what}: {size} bytes -> {} in {took:?}: {}",
            reply.status, reply.body
        );
        assert_eq!(reply.status, status, "{what}: {:?}", reply.body);
        assert!(
            took < std::time::Duration::from_secs(5),
            "{what}: took {took:?}"
        );
        assert_eq!(tap.post(r#"{"alive":true}"#).status, 200, "{what}");
    }
    let peak = peak_rss_bytes(tap.pid());
    eprintln!(
        "peak RSS {} MB (baseline {} MB)",
        peak >> 20,
        baseline >> 20
    );
    assert!(peak < 200 << 20, "peak RSS {} MB", peak >> 20);
    let done = stop(tap);
    assert_eq!(done.records().len(), 5);
}

#[test]
fn cors_preflights_are_answered_for_listed_origins_only() {
    let site = "https://www.example.com";
    let mut h = Harness::new(json!({"cors_origins": [site]}));
    let tap = h.start(&[]);
    let preflight = |origin: &str| {
        tap.send(
            tap.client()
                .request(reqwest::Method::OPTIONS, tap.url())
                .header("Origin", origin)
                .header("Access-Control-Request-Method", "POST")
                .header("Access-Control-Request-Headers", "content-type"),
        )
    };
    let allowed = preflight(site);
    assert_eq!(allowed.status, 204);
    assert_eq!(allowed.headers["access-control-allow-origin"], site);
    assert_eq!(allowed.headers["access-control-allow-methods"], "POST");
    assert_eq!(
        allowed.headers["access-control-allow-headers"],
        "content-type"
    );
    assert!(allowed.headers.contains_key("access-control-max-age"));
    let denied = preflight("https://evil.example.net");
    assert_eq!(denied.status, 403);
    assert!(!denied.headers.contains_key("access-control-allow-origin"));
    // The form post itself: its reply names the origin, so the page can read it.
    let post = |origin: &str| {
        tap.send(
            tap.client()
                .post(tap.url())
                .header("Origin", origin)
                .header("content-type", "application/x-www-form-urlencoded")
                .body("email=a%40example.com&plan=pro"),
        )
    };
    let reply = post(site);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.headers["access-control-allow-origin"], site);
    let other = post("https://evil.example.net");
    assert!(!other.headers.contains_key("access-control-allow-origin"));
    let done = stop(tap);
    assert_eq!(done.records().len(), 2);

    // Without cors_origins: no CORS.
    let mut h = Harness::new(json!({}));
    let tap = h.start(&[]);
    let r = tap.send(
        tap.client()
            .request(reqwest::Method::OPTIONS, tap.url())
            .header("Origin", site),
    );
    assert_eq!(r.status, 405);
    assert!(!r.headers.contains_key("access-control-allow-origin"));
    stop(tap);
}

#[test]
fn refusals_become_rate_limited_rejection_records_without_the_token() {
    let secret = "gh-secret";
    let mut h = Harness::new(json!({
        "signature": {"scheme": "github", "secret": secret},
        "rejections": true,
        "rejections_per_second": 3
    }));
    let tap = h.start(&[]);
    let body = r#"{"action":"opened","number":1}"#;
    let good = format!(
        "sha256={}",
        hex::encode(hmac_sha256(secret.as_bytes(), &[body.as_bytes()]))
    );
    let forged = format!(
        "sha256={}",
        hex::encode(hmac_sha256(b"rotated", &[body.as_bytes()]))
    );
    let post = |sig: &str| {
        post_as(
            &tap,
            "application/json",
            &[
                ("X-Hub-Signature-256", sig.to_owned()),
                ("User-Agent", "GitHub-Hookshot/abc".to_owned()),
            ],
            body.as_bytes(),
        )
    };
    assert_eq!(post(&good).status, 200);
    // An unknown token: recorded without it.
    let bogus = "cd".repeat(32);
    let r = tap.send(
        tap.client()
            .post(format!("{}/webhooks/{bogus}", tap.base))
            .header("content-type", "application/json")
            .body(format!(r#"{{"echo":"{bogus}"}}"#)),
    );
    assert_eq!(r.status, 401);
    let mut refused = 1u64;
    for _ in 0..10 {
        assert_eq!(post(&forged).status, 401, "a refusal stays a refusal");
        refused += 1;
    }
    // Keep refusing, one at a time, until a record carries the count of those not recorded.
    let rejection_records = |tap: &Tap| -> Vec<Value> {
        tap.messages()
            .into_iter()
            .filter(|m| m["type"] == "RECORD" && m["stream"] == "_rejections")
            .map(|m| m["record"].clone())
            .collect()
    };
    wait_for("a record with suppressed > 0", || {
        let records = rejection_records(&tap);
        let seen: u64 = records.len() as u64
            + records
                .iter()
                .map(|r| r["suppressed"].as_u64().unwrap())
                .sum::<u64>();
        if seen == refused && records.iter().any(|r| r["suppressed"].as_u64() > Some(0)) {
            return Some(());
        }
        assert_eq!(post(&forged).status, 401);
        refused += 1;
        std::thread::sleep(std::time::Duration::from_millis(50));
        None
    });
    let done = stop(tap);
    let messages = done.messages();
    let schema = messages
        .iter()
        .find(|m| m["type"] == "SCHEMA" && m["stream"] == "_rejections")
        .expect("a _rejections SCHEMA");
    assert_eq!(schema["key_properties"], json!(["__sdc_primary_key"]));
    let records: Vec<&Value> = messages
        .iter()
        .filter(|m| m["type"] == "RECORD" && m["stream"] == "_rejections")
        .map(|m| &m["record"])
        .collect();
    let total: u64 = records.len() as u64
        + records
            .iter()
            .map(|r| r["suppressed"].as_u64().unwrap())
            .sum::<u64>();
    assert_eq!(total, refused, "every refusal recorded or counted");
    assert!(
        records.len() < refused as usize,
        "the rate limit left some out"
    );
    let list: Value = serde_json::from_slice(&h.token_command(&["list", "--json"]).stdout).unwrap();
    let token_id = list[0]["id"].as_str().unwrap();
    // The first refusal of a second is always recorded.
    assert!(records[0]["token_id"].is_null());
    let first = records[1];
    assert_eq!(first["status"], 401);
    assert!(
        first["reason"]
            .as_str()
            .unwrap()
            .starts_with("invalid signature")
    );
    assert_eq!(first["token_id"], token_id);
    assert!(
        first["remote_addr"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1:")
    );
    assert_eq!(first["body_size"], body.len());
    assert_eq!(
        first["body_sha256"],
        hex::encode(Sha256::digest(body.as_bytes()))
    );
    assert_eq!(first["body_prefix"], body);
    assert_eq!(first["_sdc_headers"]["user-agent"], "GitHub-Hookshot/abc");
    assert!(
        !first["_sdc_headers"]["x-hub-signature-256"]
            .as_str()
            .unwrap()
            .contains(&forged[7..])
    );
    assert!(first["_sdc_sequence"].is_u64() && first["_sdc_received_at"].is_string());
    let unknown = records
        .iter()
        .find(|r| r["token_id"].is_null())
        .expect("the unknown token's refusal");
    assert_eq!(unknown["reason"], "unknown or revoked token");
    let out = done.stdout_text();
    assert!(!out.contains(&bogus), "a presented token is never recorded");
    assert!(
        !out.contains(h.token.as_deref().unwrap()),
        "the token is never recorded"
    );
    assert_eq!(
        messages
            .iter()
            .filter(|m| m["type"] == "RECORD" && m["stream"] == "data")
            .count(),
        1
    ); // `--discover` lists the stream, with the schema the sync sent.
    let discovered = h.run(&["--discover"]);
    assert!(discovered.status.success(), "{}", discovered.stderr);
    let catalog: Value = serde_json::from_slice(&discovered.stdout).unwrap();
    let entry = catalog["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["tap_stream_id"] == "_rejections")
        .unwrap_or_else(|| panic!("_rejections not discovered: {catalog}"));
    assert_eq!(entry["schema"], schema["schema"]);
    assert_eq!(entry["key_properties"], json!(["__sdc_primary_key"]));
}

/// The reply's status and whether its `error` starts with `prefix`.
fn refused(reply: &Reply, prefix: &str) -> (u16, bool) {
    let error = reply.body["error"].as_str().unwrap_or_default();
    (reply.status, error.starts_with(prefix))
}

#[test]
fn hmac_kind_verifies_a_template_over_the_url_with_pairs_and_refuses_stale_ones() {
    let secret = "c2VjcmV0LWtleS1vZi1hbnktc2VuZGVy";
    let mut h = Harness::new(json!({"capture_headers": ["X-Payload-*"], "signature": {
        "scheme": "hmac", "header": "X-Payload-Mac", "algorithm": "sha512", "encoding": "base64",
        "key_encoding": "base64", "message": "{timestamp}.{method}.{url}.{body}",
        "format": "pairs", "pairs": {"separator": ";", "timestamp": "ts", "signature": "h1"},
        "secret": secret
    }}));
    let tap = h.start(&[]);
    let key = BASE64.decode(secret).unwrap();
    let url = format!("{}?source=shop", tap.url());
    let sign = |ts: i64, body: &[u8]| {
        let mut mac = Hmac::<sha2::Sha512>::new_from_slice(&key).unwrap();
        for part in [format!("{ts}.POST.{url}.").as_bytes(), body] {
            mac.update(part);
        }
        let sig = BASE64.encode(mac.finalize().into_bytes());
        vec![("X-Payload-Mac", format!("ts={ts}; h1={sig}"))]
    };
    let post = |headers: &[(&str, String)], body: &[u8]| {
        let mut request = tap.client().post(&url).body(body.to_vec());
        request = request.header("content-type", "application/json");
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        tap.send(request)
    };
    let body = br#"{"event":"order.paid","id":"ord_1"}"#;
    let t = now();
    assert_eq!(post(&sign(t, body), body).status, 200);
    let tampered = br#"{"event":"order.paid","id":"ord_2"}"#;
    assert_eq!(
        refused(&post(&sign(t, body), tampered), "invalid signature"),
        (401, true)
    );
    assert_eq!(
        refused(&post(&sign(t - 600, body), body), "expired signature"),
        (401, true)
    );
    // The URL is signed: the same delivery to another query is refused.
    let other = tap.send(
        tap.client()
            .post(tap.url())
            .header("content-type", "application/json")
            .header("X-Payload-Mac", &sign(t, body)[0].1)
            .body(body.to_vec()),
    );
    assert_eq!(refused(&other, "invalid signature"), (401, true));
    // The signature header is a credential, whatever its name.
    let records = stop(tap).records();
    assert_eq!(records.len(), 1);
    let captured = records[0]["_sdc_headers"]["x-payload-mac"]
        .as_str()
        .unwrap();
    assert!(captured.starts_with("<redacted: "), "{captured}");
}

#[test]
fn header_kind_accepts_the_shared_secret_only() {
    let mut h = Harness::new(json!({"signature": {
        "scheme": "header", "header": "X-Gitlab-Token", "secrets": ["old-token", "glpat-s3cret"]
    }}));
    let tap = h.start(&[]);
    let body = br#"{"object_kind":"push","after":"da1560886d4f094c3e6c9ef40349f7d38b5d27d7"}"#;
    let post = |token: &str, body: &[u8]| {
        post_as(
            &tap,
            "application/json",
            &[("X-Gitlab-Token", token.to_owned())],
            body,
        )
    };
    assert_eq!(post("glpat-s3cret", body).status, 200);
    assert_eq!(
        refused(&post("glpat-s3creT", body), "invalid signature"),
        (401, true)
    );
    assert_eq!(
        refused(
            &post_as(&tap, "application/json", &[], body),
            "missing signature"
        ),
        (401, true)
    );
    let done = stop(tap);
    assert_eq!(done.records().len(), 1);
    assert!(!done.stderr.contains("glpat-s3cre"), "{}", done.stderr);
}

#[test]
fn basic_kind_checks_credentials_with_the_token_in_the_url() {
    let mut h = Harness::new(json!({"signature": {
        "scheme": "basic", "username": "postmark", "password": "pa:ss word"
    }}));
    let tap = h.start(&[]);
    let body = br#"{"RecordType":"Delivery","MessageID":"883953f4-6105-42a2-a16a-77a8eac79483"}"#;
    let basic = |user: &str, password: &str| {
        let credentials = BASE64.encode(format!("{user}:{password}"));
        vec![("Authorization", format!("Basic {credentials}"))]
    };
    let post = |headers: &[(&str, String)]| post_as(&tap, "application/json", headers, body);
    assert_eq!(post(&basic("postmark", "pa:ss word")).status, 200);
    assert_eq!(
        refused(&post(&basic("postmark", "pa:ss worD")), "invalid signature"),
        (401, true)
    );
    assert_eq!(refused(&post(&[]), "missing signature"), (401, true));
    // The token as a Bearer token leaves no room for Basic credentials: the reply says so.
    let bearer = tap.send(
        tap.client()
            .post(format!("{}/webhooks", tap.base()))
            .header("content-type", "application/json")
            .header("Authorization", format!("Bearer {}", tap.token()))
            .body(body.to_vec()),
    );
    let error = bearer.body["error"].as_str().unwrap_or_default();
    assert_eq!(bearer.status, 401);
    assert!(
        error.contains("put the webhook token in the URL"),
        "{error}"
    );
    assert_eq!(stop(tap).records().len(), 1);
}

#[test]
fn ed25519_kind_verifies_discord_style_signatures_and_refuses_stale_ones() {
    use ed25519_dalek::{Signer, SigningKey};
    // RFC 8032 section 7.1, test 1's secret key.
    let key = SigningKey::from_bytes(
        &hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
            .unwrap()
            .try_into()
            .unwrap(),
    );
    let mut h = Harness::new(json!({"signature": {
        "scheme": "ed25519", "header": "X-Signature-Ed25519",
        "timestamp_header": "X-Signature-Timestamp", "message": "{timestamp}{body}",
        "public_key": hex::encode(key.verifying_key().as_bytes())
    }}));
    let tap = h.start(&[]);
    let sign = |ts: i64, body: &[u8]| {
        let message = [ts.to_string().as_bytes(), body].concat();
        vec![
            (
                "X-Signature-Ed25519",
                hex::encode(key.sign(&message).to_bytes()),
            ),
            ("X-Signature-Timestamp", ts.to_string()),
        ]
    };
    let body = br#"{"type":2,"id":"786008729715212338","data":{"name":"blep"}}"#;
    let post =
        |headers: &[(&str, String)], body: &[u8]| post_as(&tap, "application/json", headers, body);
    let t = now();
    assert_eq!(post(&sign(t, body), body).status, 200);
    let tampered = br#"{"type":2,"id":"786008729715212339","data":{"name":"blep"}}"#;
    assert_eq!(
        refused(&post(&sign(t, body), tampered), "invalid signature"),
        (401, true)
    );
    assert_eq!(
        refused(&post(&sign(t - 600, body), body), "expired signature"),
        (401, true)
    );
    assert_eq!(stop(tap).records().len(), 1);
}
