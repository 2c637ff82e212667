//! Header names as a journal entry keeps them: the names senders send on most requests are
//! shared, any other copied.

use std::borrow::Cow;

use bytes::Bytes;

/// A header captured with a request (name in lower case).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// Borrowed from [`KNOWN_HEADER_NAMES`] when it is one of them ([`header_name`]).
    pub name: Cow<'static, str>,
    pub value: Bytes,
}

/// Header names webhook senders send on most requests: journaled and read back without
/// allocating a copy of the name ([`header_name`]).
const KNOWN_HEADER_NAMES: &[&str] = &[
    "accept",
    "accept-encoding",
    "connection",
    "content-encoding",
    "content-length",
    "content-type",
    "expect",
    "host",
    "user-agent",
    "traceparent",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-real-ip",
    "x-request-id",
    "x-github-delivery",
    "x-github-event",
    "x-github-hook-id",
    "x-github-hook-installation-target-id",
    "x-github-hook-installation-target-type",
    "x-gitlab-event",
    "x-gitlab-event-uuid",
    "x-gitlab-instance",
    "x-gitlab-webhook-uuid",
    "x-shopify-api-version",
    "x-shopify-shop-domain",
    "x-shopify-topic",
    "x-shopify-triggered-at",
    "x-shopify-webhook-id",
    "x-shopify-event-id",
    "webhook-id",
    "webhook-timestamp",
    "idempotency-key",
    "x-amz-sns-message-id",
    "x-amz-sns-message-type",
    "x-amz-sns-topic-arn",
    "x-slack-request-timestamp",
    "x-slack-retry-num",
    "x-slack-retry-reason",
];

/// A header name as a journal entry keeps it: one of [`KNOWN_HEADER_NAMES`] borrowed, any
/// other copied (bytes that are not UTF-8 replaced).
pub fn header_name(name: &[u8]) -> Cow<'static, str> {
    match KNOWN_HEADER_NAMES
        .iter()
        .find(|known| known.as_bytes() == name)
    {
        Some(known) => Cow::Borrowed(known),
        None => Cow::Owned(String::from_utf8_lossy(name).into_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_known_header_name_is_a_credentials() {
        // The journal skips the name check for these (it runs for every header).
        for name in KNOWN_HEADER_NAMES {
            assert!(!super::super::secrets::is_secret_name(name), "{name}");
            assert!(matches!(header_name(name.as_bytes()), Cow::Borrowed(_)));
        }
    }
}
