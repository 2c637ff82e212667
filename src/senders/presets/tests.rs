use serde_json::{Map, Value, json};

use super::*;

fn config(v: Value) -> Map<String, Value> {
    v.as_object().expect("object").clone()
}

#[test]
fn every_preset_parses_and_holds_only_settings_a_user_writes() {
    let mut names = std::collections::BTreeSet::new();
    for p in all() {
        assert!(names.insert(p.name.as_str()), "{} is defined twice", p.name);
        assert!(
            p.name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
            "{}: names are lower case with hyphens",
            p.name
        );
        assert!(
            !p.spec.is_empty(),
            "{}: spec names where it is specified",
            p.name
        );
        for key in p.settings.keys() {
            assert!(
                allowed_settings().contains(&key.as_str()),
                "{}: `{key}` is not a setting a preset may hold",
                p.name
            );
        }
        if let Some(Value::Object(s)) = p.settings.get("signature") {
            for k in CREDENTIALS {
                assert!(!s.contains_key(k), "{}: a preset holds no {k}", p.name);
            }
        }
    }
}

#[test]
fn an_unknown_sender_names_the_closest_presets() {
    let e = find("githb").unwrap_err();
    assert!(e.contains("did you mean") && e.contains("`github`"), "{e}");
    assert!(e.contains("tap-webhooks senders"), "{e}");
    let e = find("zzzzzzzz").unwrap_err();
    assert!(!e.contains("did you mean"), "{e}");
}

#[test]
fn nothing_happens_without_sender_and_a_bad_sender_is_named() {
    let mut c = config(json!({"route": {"header": "X"}}));
    assert!(apply(&mut c).unwrap().is_none());
    let mut c = config(json!({"sender": 3}));
    assert_eq!(apply(&mut c).unwrap_err().key, "sender");
    let mut c = config(json!({"sender": "no-such-provider"}));
    let e = apply(&mut c).unwrap_err();
    assert!(
        e.message.contains("unknown sender `no-such-provider`"),
        "{e:?}"
    );
}

/// GitHub's: it signs with the `hmac` kind and needs its secret.
fn a_signing_preset() -> &'static Preset {
    let p = find("github").expect("the github preset");
    assert_eq!(p.settings["signature"]["scheme"], "hmac");
    assert!(p.secret_hint.is_some());
    p
}

#[test]
fn explicit_settings_win_and_signature_is_merged_key_by_key() {
    let p = a_signing_preset();
    let mut c = config(json!({
        "sender": p.name,
        "capture_headers": ["X-Mine"],
        "signature": {"secret": "s3cr3t-value", "tolerance_seconds": 60},
    }));
    let applied = apply(&mut c).unwrap().unwrap();
    assert_eq!(c["capture_headers"], json!(["X-Mine"]));
    assert!(!applied.from_preset.contains(&"capture_headers".to_owned()));
    let preset_sig = p.settings["signature"].as_object().unwrap();
    let sig = c["signature"].as_object().unwrap();
    assert_eq!(sig["secret"], json!("s3cr3t-value"));
    assert_eq!(sig["tolerance_seconds"], json!(60));
    assert_eq!(sig["header"], preset_sig["header"]);
    assert_eq!(sig["scheme"], json!("hmac"));
}

#[test]
fn another_scheme_replaces_the_presets_and_null_turns_it_off_with_a_warning() {
    let p = a_signing_preset();
    let mine = json!({"scheme": "hmac-sha256", "header": "X-Mine", "secret": "abc-def-ghi"});
    let mut c = config(json!({"sender": p.name, "signature": mine}));
    apply(&mut c).unwrap();
    assert_eq!(c["signature"], mine);
    let mut c = config(json!({"sender": p.name, "signature": null}));
    let applied = apply(&mut c).unwrap().unwrap();
    assert_eq!(c["signature"], Value::Null);
    assert!(applied.warnings[0].contains("not verified"), "{applied:?}");
}

#[test]
fn a_signing_preset_without_its_secret_says_where_the_provider_shows_it() {
    let p = a_signing_preset();
    for given in [
        json!({"sender": p.name}),
        json!({"sender": p.name, "signature": {}}),
    ] {
        let e = apply(&mut config(given)).unwrap_err();
        assert_eq!(e.key, "signature.secret");
        assert!(
            e.message.contains(p.secret_hint.as_deref().unwrap()),
            "{}",
            e.message
        );
    }
}

#[test]
fn the_implied_config_has_a_placeholder_where_the_secret_goes() {
    let p = a_signing_preset();
    let implied = implied_config(p);
    let secret = implied["signature"]["secret"].as_str().unwrap();
    assert!(secret.starts_with('<') && secret.ends_with('>'), "{secret}");
    let meta = implied_config(find("meta").unwrap());
    let token = meta["handshake"]["verify_token"].as_str().unwrap();
    assert!(token.starts_with('<') && token.ends_with('>'), "{token}");
}

#[test]
fn the_credential_key_is_the_one_the_scheme_takes() {
    let key = |scheme: &str| credential_key(&config(json!({ "scheme": scheme })));
    assert_eq!(key("hmac"), "secret");
    assert_eq!(key("basic"), "password");
    for scheme in ["ed25519", "sendgrid", "sns"] {
        assert_eq!(key(scheme), "public_key", "{scheme}");
    }
    assert_eq!(key("no-such-scheme"), "secret");
}
