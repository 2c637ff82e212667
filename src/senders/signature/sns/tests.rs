//! Messages signed by tests/vectors/platform/sns.py's self-made certificate at 2025-12-06
//! 00:00:00 UTC (accepted by AWS's npm validator, sns-validator 0.3.5, too).

use super::*;

const V1: &str = r#"{"Type": "Notification", "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324", "TopicArn": "arn:aws:sns:us-west-2:123456789012:MyTopic", "Message": "Hello world!", "Timestamp": "2025-12-06T00:00:00.000Z", "UnsubscribeURL": "https://sns.us-west-2.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=arn:aws:sns:us-west-2:123456789012:MyTopic:c9135db0-26c4-47ec-8998-413945fb5a96", "Subject": "My First Message", "SignatureVersion": "1", "SigningCertURL": "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem", "Signature": "Hu/5Kz499Phpy2VWrBU3wi1/cUkNq25AuGdPBP29XJOhjIbE/XrESQkju8Tfn+/q7TQTJu9gpd2zHsAuVb7QBltSOndcoALeUHds3wpjc34NDDD/4feLuw3e3W2qJzEIOFgxE5vcV8fz5WMVqlqLc3uOOtkCQmSkE28X9aV4O8xLJh1jSJfFomxVyvUlSpoxW2Vw/WZrD/kspWVh/Tv8M2zgSqmCeSxvOp26b4B6TD/aZAA3VFOahyDo5mc0HHOEtI02gOekS/XcG7rLzbxcI7BJqSBY1fyvaHwtfM33IooVOhKJAtazivWisKjzyqmFbhhnj6j1QOUvLTn8vuGleQ=="}"#;
const V2: &str = r#"{"Type": "Notification", "MessageId": "da41e39f-ea4d-435a-b922-c6aae3915ebe", "TopicArn": "arn:aws:sns:us-west-2:123456789012:MyTopic", "Message": "Hello world!", "Timestamp": "2025-12-06T00:00:00.000Z", "UnsubscribeURL": "https://sns.us-west-2.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=arn:aws:sns:us-west-2:123456789012:MyTopic:c9135db0-26c4-47ec-8998-413945fb5a96", "SignatureVersion": "2", "SigningCertURL": "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem", "Signature": "XWKNAe/G6d3MvdH9jg4ttUBCFDob+Dl62Iiu175KqNvMAHF9YsXS2PJSC5Q9sXfXDuXoxcGD49adshq3yWhdUOztZnps2D/bZSijrUW2nZKSOcpJIGCTYTQ8ag0URFdMDo6o3uiRNqJH+DXC4vjF06c4P2qSktcQoAlTNRjZZfRTFKudmnqZ7StpdJtp5jSbP6jdzcivwQIR7ytL7mWOHNQHjnpm2z1+syUM7Em7AGchiVZudvvB5pkXp1NNf4B+8oj75c64Lk+y7R903AXfi5ZZDeQfl/5/mzee7gbk9GfkG8J5JwLkuNu0mBQlINL1ToA/74/SzUkkd8n7OZamfg=="}"#;
const CONFIRMATION: &str = r#"{"Type": "SubscriptionConfirmation", "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b", "Token": "2336412f37fb687f5d51e6e241d09c805a5a57b30d712f794cc5f6a988666d92768dd60a747ba6f3beb71854e285d6ad02428b09ceece29417f1f02d609c582afbacc99c583a916b9981dd2728f4ae6fdb82efd087cc3b7849e05798d2d2785c03b0879594eeac82c01f235d0e717736", "TopicArn": "arn:aws:sns:us-west-2:123456789012:MyTopic", "Message": "You have chosen to subscribe to the topic arn:aws:sns:us-west-2:123456789012:MyTopic.\nTo confirm the subscription, visit the SubscribeURL included in this message.", "SubscribeURL": "https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-west-2:123456789012:MyTopic&Token=2336412f37fb687f5d51e6e241d09c805a5a57b30d712f794cc5f6a988666d92768dd60a747ba6f3beb71854e285d6ad02428b09ceece29417f1f02d609c582afbacc99c583a916b9981dd2728f4ae6fdb82efd087cc3b7849e05798d2d2785c03b0879594eeac82c01f235d0e717736", "Timestamp": "2025-12-06T00:00:00.000Z", "SignatureVersion": "1", "SigningCertURL": "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem", "Signature": "IqBaYEemd56PJXu5O/WXbRqXmMxCnEsTacr6DlZgRfoUievo99jEW3cREZCeHB8/vieqoVKsPoVr3G/yqHMklXePYzRUIdTOHBpvFeNhm10xmhE9zghOyQKs0YBKni+BheTjAi7XUP+7J7WvCEPfD2d8/ijM89Zxp7I5ctBi2LWW3g1O+4fTq8JsRgtwRZxxf6uuNu0SX4pFkZmcqWh0KCOOn/hHFpdiblcD7ViQ20CorrcOZRVDEGdb8aOsB5GW8VEeYzxbFCv6BAOWNIPHOtJQb/qLPT6+ptTHS33FvLM3kqu0d45qinLvHq5BRLILEmMX81hrdPKU5aMZFqI4Ew=="}"#;
const CERT: &str = "-----BEGIN CERTIFICATE-----\n\
MIIC/DCCAeSgAwIBAgIUDM8pKcm3Uw+ur9qelYJ5GhYr6eQwDQYJKoZIhvcNAQEL\n\
BQAwODE2MDQGA1UEAwwtc25zLnVzLXdlc3QtMi5hbWF6b25hd3MuY29tICh0ZXN0\n\
LCBzZWxmLW1hZGUpMB4XDTI2MDEwMTAwMDAwMFoXDTM2MDEwMTAwMDAwMFowODE2\n\
MDQGA1UEAwwtc25zLnVzLXdlc3QtMi5hbWF6b25hd3MuY29tICh0ZXN0LCBzZWxm\n\
LW1hZGUpMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAuYy6yrdfMFns\n\
5E8qJ9LWyuI9GVp3ePZHhI8XugVoEFMVvStvldcHqXxcPZHw0i9BE2D9ICUEmK+9\n\
qV/HzGCzIdQ6kkGKhAY+3XDs6dpEbVl95ttZvIsvhjlE4pdO9D54yvs56o7ff6NX\n\
OQVXfmgKBIhEAVTxcjkTBSXmrue3O/Uvsj2r6iHDGWEplFKU0rWY+heTHFTCNvv3\n\
7JWdGz2QOUgfi0CGb1GCMtftB3h7GtczfwWKqYk1aMDVNNgFbaC2zhyt1r0/4gS9\n\
g9ptfGfeIBialaVo1oeYbxgxtc3YW1vUnbX5y/Wqfon23nUmluCnBfZk1fjqNuHc\n\
O0KL34YVZwIDAQABMA0GCSqGSIb3DQEBCwUAA4IBAQBrLyIkSTjXRIGl6KWv5pE6\n\
liPSw1Hem3qm0W3Vr4KWf8ZQCFYkEExYYeSxQzLq2xAoiUDkkxbFeRSGbDG9r3Nv\n\
TE0wbCp3AEFRGXPr7iEzuUixPRk9woiZXAiEkL0g8NvJZuWhvH4anJWpJLFG8jYl\n\
aM4hbXjlSGaDcK7D3T9UxlClKQdE8jjVrms/2esKG84Q4n0FE+5MbKP54fdyJbUl\n\
vzD27FCZNtj5j1IHmZc3t32GrrCzH7/hr+iepdp0drRSoZpwTAkJNLgSsVvFt1Gs\n\
oR3Y/L5W5pmxOu+wkO213OGkxxVDVIq/rHh+0YaPepczooxlPUpmjEkNQWrpFeLg\n\
-----END CERTIFICATE-----\n";

const AT: i64 = 1_764_979_200;

fn certs() -> Vec<Certificate> {
    certificates(CERT).unwrap()
}

#[test]
fn versions_1_and_2_and_confirmations_verify() {
    for message in [V1, V2, CONFIRMATION] {
        assert_eq!(verify(&certs(), message.as_bytes(), AT + 10, 3600), Ok(()));
    }
}

#[test]
fn a_changed_field_or_another_certificate_is_refused() {
    let changed = V1.replace("Hello world!", "Hello world?");
    let e = verify(&certs(), changed.as_bytes(), AT, 3600).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("invalid signature: no configured certificate"),
        "{e}"
    );
    assert!(
        e.to_string().contains("SimpleNotificationService-f3ec"),
        "{e}"
    );
    // A signed field that is absent is not the same message.
    let unsubjected = V1.replace(r#""Subject": "My First Message", "#, "");
    assert!(verify(&certs(), unsubjected.as_bytes(), AT, 3600).is_err());
    let downgraded = V2.replace(r#""SignatureVersion": "2""#, r#""SignatureVersion": "1""#);
    assert!(verify(&certs(), downgraded.as_bytes(), AT, 3600).is_err());
}

#[test]
fn a_message_outside_the_tolerance_is_expired() {
    assert!(matches!(
        verify(&certs(), V1.as_bytes(), AT + 3601, 3600),
        Err(SignatureError::Expired { skew: 3601, .. })
    ));
}

#[test]
fn garbage_is_refused_without_panicking() {
    for body in [
        "",
        "[]",
        r#"{"Type": "Notification"}"#,
        r#"{"Type": "Other", "SignatureVersion": "1", "Signature": "AA=="}"#,
        r#"{"Type": "Notification", "SignatureVersion": "3"}"#,
        r#"{"Type": "Notification", "SignatureVersion": "1", "Signature": "!!"}"#,
    ] {
        assert!(
            verify(&certs(), body.as_bytes(), AT, 3600).is_err(),
            "{body}"
        );
    }
}

#[test]
fn the_certificate_setting_is_checked() {
    assert!(certificates("").unwrap_err().contains("SigningCertURL"));
    assert!(
        certificates("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").is_err()
    );
    let two = format!("{CERT}{CERT}");
    assert_eq!(certificates(&two).unwrap().len(), 2);
}
