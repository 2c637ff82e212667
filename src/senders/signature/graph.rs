//! Microsoft Graph change notifications carry no signature: each notification in the body's
//! `value` array holds the `clientState` given when the subscription was created, which only
//! Graph and the subscriber know. Every notification must carry one of the configured secrets
//! (compared in constant time), lifecycle notifications included. Specified in "Receive change
//! notifications through webhooks" of the Microsoft Graph documentation.

use serde::Deserialize;
use subtle::{Choice, ConstantTimeEq};

use super::SignatureError;

#[derive(Deserialize)]
struct Batch {
    value: Vec<Notification>,
}

#[derive(Deserialize)]
struct Notification {
    #[serde(rename = "clientState")]
    client_state: Option<String>,
}

/// Passes when every notification of `body` carries a `clientState` equal to one of `secrets`.
pub fn verify<'k>(
    secrets: impl Iterator<Item = &'k [u8]> + Clone,
    body: &[u8],
) -> Result<(), SignatureError> {
    let batch: Batch = serde_json::from_slice(body).map_err(|_| {
        SignatureError::Malformed(
            "the body is not Microsoft Graph notifications (JSON with a `value` array)".into(),
        )
    })?;
    if batch.value.is_empty() {
        return Err(SignatureError::Malformed(
            "the body's `value` array holds no notification".into(),
        ));
    }
    for (i, notification) in batch.value.iter().enumerate() {
        let Some(state) = &notification.client_state else {
            return Err(SignatureError::Malformed(format!(
                "notification {} has no clientState",
                i + 1
            )));
        };
        let mut matched = Choice::from(0);
        for secret in secrets.clone() {
            matched |= state.as_bytes().ct_eq(secret);
        }
        if !bool::from(matched) {
            return Err(SignatureError::Malformed(format!(
                "notification {}'s clientState is not the subscription's (signature.secret)",
                i + 1
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRETS: [&[u8]; 2] = [b"old-state", b"secretClientValue"];

    fn check(body: &str) -> Result<(), SignatureError> {
        verify(SECRETS.iter().copied(), body.as_bytes())
    }

    #[test]
    fn every_notification_must_carry_a_configured_client_state() {
        let ok = r#"{"value": [{"clientState": "secretClientValue", "changeType": "created"},
                              {"clientState": "old-state", "lifecycleEvent": "reauthorizationRequired"}]}"#;
        assert_eq!(check(ok), Ok(()));
        let one_bad = r#"{"value": [{"clientState": "secretClientValue"}, {"clientState": "x"}]}"#;
        let e = check(one_bad).unwrap_err().to_string();
        assert!(
            e.starts_with("invalid signature: notification 2's clientState"),
            "{e}"
        );
        let missing = r#"{"value": [{"changeType": "created"}]}"#;
        assert!(
            check(missing)
                .unwrap_err()
                .to_string()
                .contains("no clientState")
        );
    }

    #[test]
    fn other_bodies_are_refused() {
        for body in ["", "[]", "{}", r#"{"value": []}"#, r#"{"value": [1]}"#] {
            assert!(check(body).is_err(), "{body}");
        }
    }
}
