//! Adyen: the signature travels inside the payload. Each `NotificationRequestItem` of a
//! notification carries `additionalData.hmacSignature`, the base64 HMAC-SHA256 under the
//! hex-encoded HMAC key of
//! `pspReference:originalReference:merchantAccountCode:merchantReference:value:currency:eventCode:success`
//! (a missing field is empty; nothing is escaped). Every item of a batch must verify.
//!
//! Specified by <https://docs.adyen.com/development-resources/webhooks/secure-webhooks/verify-hmac-signatures/>
//! and the reference library's `Adyen/util.py` (`generate_notification_sig`).

use serde::Deserialize;
use serde_json::Value;

use super::{Encoding, SignatureError, Verifier, parse_prefixed};

/// Where the signature is, for error messages.
const WHERE: &str = "notificationItems[].NotificationRequestItem.additionalData.hmacSignature";

/// The fields signed, in order.
const SIGNED: [&str; 8] = [
    "pspReference",
    "originalReference",
    "merchantAccountCode",
    "merchantReference",
    "value",
    "currency",
    "eventCode",
    "success",
];

#[derive(Deserialize)]
struct Notification {
    #[serde(rename = "notificationItems")]
    items: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    #[serde(rename = "NotificationRequestItem")]
    item: serde_json::Map<String, Value>,
}

/// Verifies every item of a JSON notification.
pub(super) fn verify(v: &Verifier, json: &[u8]) -> Result<(), SignatureError> {
    let notification: Notification = serde_json::from_slice(json).map_err(|_| {
        SignatureError::Missing(format!("{WHERE} (a JSON notification from Adyen)"))
    })?;
    if notification.items.is_empty() {
        return Err(SignatureError::Malformed(
            "notificationItems is empty".into(),
        ));
    }
    for Item { item } in &notification.items {
        let signature = item
            .get("additionalData")
            .and_then(|data| data.get("hmacSignature"))
            .and_then(Value::as_str)
            .ok_or_else(|| SignatureError::Missing(WHERE.to_owned()))?;
        let signature = parse_prefixed(signature.as_bytes(), "", Encoding::Base64)?;
        v.check(&[signing_string(item).as_bytes()], &[signature], WHERE)?;
    }
    Ok(())
}

/// The signed fields' text joined by `:`; `value` and `currency` come from `amount`.
fn signing_string(item: &serde_json::Map<String, Value>) -> String {
    let amount = item.get("amount");
    let field = |name: &str| match name {
        "value" | "currency" => amount.and_then(|a| a.get(name)),
        _ => item.get(name),
    };
    let text = |value: Option<&Value>| match value {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    };
    SIGNED
        .iter()
        .map(|name| text(field(name)))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::super::{Scheme, Secret};
    use super::*;

    /// The key and a notification Adyen signed, from the reference library's test fixtures
    /// (`test/mocks/util/colon_notification.json`, key in `test/UtilTest.py`).
    const KEY: &str = "74F490DD33F7327BAECC88B2947C011FC02D014A473AAA33A8EC93E4DC069174";
    const ITEM: &str = r#"{"additionalData":{"authCode":"039404","hmacSignature":"2EQYm7YJpKO4EtHSPu55SQTyWf8dkW5u2nD1tJFpViA="},
        "amount":{"currency":"EUR","value":1000},"eventCode":"AUTHORISATION",
        "eventDate":"2023-01-10T13:40:54+01:00","merchantAccountCode":"AntoniStroinski",
        "merchantReference":":slashes are fun","pspReference":"M8NB66SBZSGLNK82",
        "reason":"039404:1111:03/2030","success":"true"}"#;

    fn notification(items: &[&str]) -> Vec<u8> {
        let items: Vec<String> = items
            .iter()
            .map(|i| format!(r#"{{"NotificationRequestItem":{i}}}"#))
            .collect();
        format!(
            r#"{{"live":"false","notificationItems":[{}]}}"#,
            items.join(",")
        )
        .into_bytes()
    }

    fn verifier(key: &str) -> Verifier {
        Verifier::new(Scheme::Adyen, &[Secret::new(key.into())], 300).unwrap()
    }

    #[test]
    fn the_signing_string_is_the_documented_fields_in_order() {
        // From the reference library's `test_notification_request_item_hmac`.
        let item: serde_json::Map<String, Value> = serde_json::from_str(
            r#"{"pspReference":"7914073381342284","merchantReference":"TestPayment-1407325143704",
            "merchantAccountCode":"TestMerchant","amount":{"currency":"EUR","value":1130},
            "eventCode":"AUTHORISATION","success":"true","paymentMethod":"visa"}"#,
        )
        .unwrap();
        assert_eq!(
            signing_string(&item),
            "7914073381342284::TestMerchant:TestPayment-1407325143704:1130:EUR:AUTHORISATION:true"
        );
        let signature = "coqCmt/IZ4E3CzPvMY8zTjQVL5hYJUiBRg8UU+iCWo0=";
        let mut signed = item.clone();
        signed.insert(
            "additionalData".into(),
            serde_json::json!({ "hmacSignature": signature }),
        );
        let body = notification(&[&Value::Object(signed).to_string()]);
        verifier("44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056")
            .verify(&[][..], &body, 0)
            .unwrap();
    }

    #[test]
    fn a_notification_adyen_signed_verifies_and_a_changed_one_does_not() {
        verifier(KEY)
            .verify(&[][..], &notification(&[ITEM]), 0)
            .unwrap();
        let changed = ITEM.replace(r#""value":1000"#, r#""value":1001"#);
        let err = verifier(KEY)
            .verify(&[][..], &notification(&[&changed]), 0)
            .unwrap_err();
        assert!(matches!(err, SignatureError::Mismatch(_)), "{err}");
        // Every item of a batch must verify, not only the first.
        let err = verifier(KEY)
            .verify(&[][..], &notification(&[ITEM, &changed]), 0)
            .unwrap_err();
        assert!(matches!(err, SignatureError::Mismatch(_)), "{err}");
    }

    #[test]
    fn notifications_without_a_signature_are_refused_saying_where_it_belongs() {
        let unsigned = ITEM.replace("hmacSignature", "other");
        for body in [
            notification(&[&unsigned]),
            br#"{"notificationItems":"x"}"#.to_vec(),
            b"pspReference=1".to_vec(),
        ] {
            let err = verifier(KEY).verify(&[][..], &body, 0).unwrap_err();
            assert!(err.to_string().contains("hmacSignature"), "{err}");
        }
        let err = verifier(KEY)
            .verify(&[][..], &notification(&[]), 0)
            .unwrap_err();
        assert!(
            err.to_string().contains("notificationItems is empty"),
            "{err}"
        );
    }

    #[test]
    fn a_key_that_is_not_hex_is_refused_at_start() {
        let err = Verifier::new(Scheme::Adyen, &[Secret::new("not-hex".into())], 300).unwrap_err();
        assert!(err.contains("is not hex"), "{err}");
    }
}
