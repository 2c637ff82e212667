//! Refused requests as records (`rejections: true`), so that a signature storm or a rotated
//! secret shows in the warehouse the same day.
//!
//! A refusal (400, 401, 413, 415, 422) is journaled like a webhook, as one entry of the kind
//! [`EntryKind::Rejection`](crate::journal::EntryKind) whose body is the rejection record: `status`, `reason`,
//! `remote_addr`, `token_id` (never the token), `_sdc_headers`, `body_size`, `body_sha256`,
//! `body_prefix` (first 4 KB, lossy UTF-8) and `suppressed`; credentials (by the policy of
//! [`crate::capture::secrets`]) are redacted in the headers, the reason and the body prefix. The emitter writes such entries
//! to the stream [`STREAM`] with its own fixed SCHEMA ([`schema`]). At most `per_second` are
//! journaled each second; the others are only counted, in the next one's `suppressed`. The
//! sender's answer is the refusal whatever happens here.

use std::net::SocketAddr;
use std::sync::Mutex;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{HeaderMap, StatusCode};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::capture::secrets::{self, Secrets, Token};
use crate::journal::NewEntry;
use crate::schema::columns::{Columns, sdc_properties};
use crate::tokens::TokenId;

/// The stream rejections are emitted to.
pub const STREAM: &str = "_rejections";

/// The start of a refused body kept in the record.
const BODY_PREFIX_BYTES: usize = 4096;
/// Headers kept in a record, at most (and this many bytes of each value).
const MAX_HEADERS: usize = 64;
const MAX_HEADER_VALUE_BYTES: usize = 1024;

/// Whether a refusal with this status is recorded.
pub fn recorded(status: StatusCode) -> bool {
    matches!(status.as_u16(), 400 | 401 | 413 | 415 | 422)
}

/// The rate limit and its count of rejections not journaled.
#[derive(Debug)]
pub struct Rejections {
    per_second: u32,
    window: Mutex<Window>,
}

#[derive(Debug, Default)]
struct Window {
    second: i64,
    count: u32,
    suppressed: u64,
}

/// What is known of a refused request.
pub struct Refused<'a> {
    pub status: StatusCode,
    pub reason: &'a str,
    pub remote_addr: Option<SocketAddr>,
    pub token_id: Option<&'a TokenId>,
    pub headers: &'a HeaderMap,
    /// The body, when it was read; else its declared length.
    pub body: Option<&'a Bytes>,
    pub declared_length: Option<u64>,
    /// The token presented, to keep it out of everything recorded.
    pub token: Option<&'a str>,
    /// The credential policy.
    pub secrets: &'a Secrets,
}

impl Rejections {
    pub fn new(per_second: u32) -> Self {
        Rejections {
            per_second,
            window: Mutex::new(Window::default()),
        }
    }

    /// The journal entry for a refusal, or `None` when this second's quota is spent (it is
    /// then counted in the next entry's `suppressed`).
    pub fn entry(&self, refused: &Refused<'_>, now: DateTime<Utc>) -> Option<NewEntry> {
        let suppressed = {
            let mut w = self.window.lock().unwrap_or_else(|p| p.into_inner());
            if w.second != now.timestamp() {
                w.second = now.timestamp();
                w.count = 0;
            }
            if w.count >= self.per_second {
                w.suppressed += 1;
                return None;
            }
            w.count += 1;
            std::mem::take(&mut w.suppressed)
        };
        Some(NewEntry::rejection(now, record(refused, suppressed)))
    }
}

/// The rejection record, as JSON.
fn record(r: &Refused<'_>, suppressed: u64) -> Vec<u8> {
    let token = r.token.and_then(Token::new);
    let redact = |text: &str| secrets::redact_text(text, token.as_ref()).into_owned();
    let mut headers = Map::new();
    for (name, value) in r.headers.iter().take(MAX_HEADERS) {
        let name = name.as_str();
        let value = value.as_bytes();
        let shown = match r.secrets.redacts(name, value)
            || token.as_ref().is_some_and(|t| t.is_in(value))
        {
            true => secrets::placeholder(value.len()),
            false => redact(&String::from_utf8_lossy(
                &value[..value.len().min(MAX_HEADER_VALUE_BYTES)],
            )),
        };
        match headers.get_mut(name) {
            Some(Value::Array(values)) => values.push(Value::String(shown)),
            Some(first) => *first = json!([first.take(), shown]),
            None => {
                headers.insert(name.to_owned(), Value::String(shown));
            }
        }
    }
    let (body_size, body_sha256, body_prefix) = match r.body {
        Some(body) => (
            Some(body.len() as u64),
            Some(hex::encode(Sha256::digest(body))),
            Some(redact(&String::from_utf8_lossy(
                &body[..body.len().min(BODY_PREFIX_BYTES)],
            ))),
        ),
        None => (r.declared_length, None, None),
    };
    let value = json!({
        "status": r.status.as_u16(),
        "reason": redact(r.reason),
        "remote_addr": r.remote_addr.map(|a| a.to_string()),
        "token_id": r.token_id.map(|t| t.as_str().to_owned()),
        "_sdc_headers": headers,
        "body_size": body_size,
        "body_sha256": body_sha256,
        "body_prefix": body_prefix,
        "suppressed": suppressed,
    });
    serde_json::to_vec(&value).expect("JSON serializes")
}

/// The stream's JSON Schema: fixed fields plus the tap's `_sdc` columns.
pub fn schema(columns: &Columns) -> Value {
    let nullable = |t: &str| json!({"type": ["null", t]});
    let mut properties = Map::new();
    properties.insert("status".into(), json!({"type": ["integer"]}));
    for name in [
        "reason",
        "remote_addr",
        "token_id",
        "body_sha256",
        "body_prefix",
    ] {
        properties.insert(name.into(), nullable("string"));
    }
    properties.insert("_sdc_headers".into(), nullable("object"));
    properties.insert("body_size".into(), nullable("integer"));
    properties.insert("suppressed".into(), nullable("integer"));
    let columns = Columns {
        generated_key: true,
        ..columns.clone()
    };
    for (name, schema) in sdc_properties(&columns) {
        properties.insert(name, schema);
    }
    json!({"type": "object", "properties": properties})
}

#[cfg(test)]
mod tests {
    use super::*;

    static SECRETS: Secrets = Secrets::new();

    fn refused<'a>(headers: &'a HeaderMap, body: &'a Bytes) -> Refused<'a> {
        Refused {
            status: StatusCode::UNAUTHORIZED,
            reason: "invalid signature",
            remote_addr: None,
            token_id: None,
            headers,
            body: Some(body),
            declared_length: None,
            token: Some("tok123"),
            secrets: &SECRETS,
        }
    }

    #[test]
    fn at_most_per_second_and_the_rest_counted_in_the_next() {
        let r = Rejections::new(2);
        let (h, b) = (HeaderMap::new(), Bytes::from_static(b"{}"));
        let t0 = DateTime::from_timestamp(1_000, 0).unwrap();
        assert!(r.entry(&refused(&h, &b), t0).is_some());
        assert!(r.entry(&refused(&h, &b), t0).is_some());
        assert!(r.entry(&refused(&h, &b), t0).is_none());
        assert!(r.entry(&refused(&h, &b), t0).is_none());
        let next = r
            .entry(
                &refused(&h, &b),
                DateTime::from_timestamp(1_001, 0).unwrap(),
            )
            .unwrap();
        let v: Value = serde_json::from_slice(&next.body).unwrap();
        assert_eq!(v["suppressed"], 2);
        assert_eq!(next.kind(), crate::journal::EntryKind::Rejection);
    }

    #[test]
    fn secrets_are_not_recorded() {
        let mut h = HeaderMap::new();
        h.insert("authorization", "Bearer tok123".parse().unwrap());
        h.insert("x-hub-signature-256", "sha256=abcd".parse().unwrap());
        h.insert("referer", "https://x/webhooks/tok123".parse().unwrap());
        h.insert("x-api-key", "k-1".parse().unwrap());
        h.insert("x-gitlab-token", "glt-1".parse().unwrap());
        h.insert("x-forwarded-authorization", "Bearer fwd-1".parse().unwrap());
        h.insert("x-echo", "Basic ZWNobw==".parse().unwrap());
        h.insert("user-agent", "GitHub-Hookshot/abc".parse().unwrap());
        let b = Bytes::from_static(b"token TOK123 in the body, Bearer body-1");
        let body = record(&refused(&h, &b), 0);
        let text = String::from_utf8(body).unwrap();
        for secret in [
            "tok123", "TOK123", "abcd", "k-1", "glt-1", "fwd-1", "ZWNobw", "body-1",
        ] {
            assert!(!text.contains(secret), "{secret}: {text}");
        }
        assert!(text.contains("<token>"), "{text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["_sdc_headers"]["x-api-key"], "<redacted: 3 bytes>");
        assert_eq!(v["_sdc_headers"]["user-agent"], "GitHub-Hookshot/abc");
    }
}
