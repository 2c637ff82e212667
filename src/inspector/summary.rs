//! One journal entry in one line: time, stream, records, size, delivery id and the body's first
//! characters (escaped, so a body cannot move the cursor or hide text in a terminal). For
//! `tail`; the delivery id is found the same way for the page.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::capture::Header;
use crate::convert::Converter;
use crate::convert::routing::StreamSettings;
use crate::journal::{Entry, EntryKind};
use crate::rejections;
use crate::sequence::Sequence;
use crate::singer::output::write_compact;

use super::Routed;

/// How surely a header identifies a delivery, at well-known senders (lower is surer): GitHub,
/// GitLab, Shopify, Standard Webhooks, Svix, Bitbucket and SNS, then generic ones. Matched by
/// length first: this runs for every header of every request.
fn delivery_id_rank(name: &str) -> Option<u8> {
    let rank = match name.len() {
        7 => name == "svix-id",
        10 => name == "webhook-id",
        11 => name == "x-hook-uuid",
        12 => return (name == "x-request-id").then_some(9),
        14 => name == "x-request-uuid",
        15 => return (name == "idempotency-key").then_some(8),
        17 => name == "x-github-delivery",
        19 => name == "x-gitlab-event-uuid",
        20 => name == "x-shopify-webhook-id" || name == "x-amz-sns-message-id",
        _ => false,
    };
    rank.then_some(1)
}

/// The delivery id among a request's journaled headers: the configured `idempotency_header`'s,
/// else a well-known sender's, else a generic one (`Idempotency-Key`, `X-Request-Id`).
pub fn delivery_id<'h>(headers: &'h [Header], configured: Option<&str>) -> Option<&'h [u8]> {
    if let Some(name) = configured
        && let Some(h) = headers.iter().find(|h| h.name == name)
    {
        return Some(&h.value);
    }
    let mut best: Option<(u8, &[u8])> = None;
    for header in headers {
        if let Some(rank) = delivery_id_rank(&header.name)
            && best.is_none_or(|(b, _)| rank < b)
        {
            best = Some((rank, &header.value));
        }
    }
    best.map(|(_, id)| id)
}

/// Characters of the body a line shows.
pub const BODY_START_CHARS: usize = 80;

/// What a line says of one entry.
#[derive(Debug)]
pub struct Summary {
    pub sequence: Sequence,
    pub received_at: DateTime<Utc>,
    /// The streams its records go to, that of its first record first.
    pub streams: Vec<String>,
    pub records: u32,
    pub bytes: usize,
    pub delivery_id: Option<String>,
    /// `None` when bodies are hidden (`inspect_bodies: false`).
    pub body_start: Option<String>,
}

impl Summary {
    /// The summary of `entry`, its records routed as the emitter would route them (a body that
    /// cannot be converted under the current settings counts in the default stream).
    pub fn of(entry: &Entry, converter: &Converter<'_>, configured_id: Option<&str>) -> Self {
        let streams: &StreamSettings = converter.streams;
        let names = match entry.kind() {
            EntryKind::Rejection => vec![rejections::STREAM.to_owned()],
            EntryKind::Webhook => {
                let mut routed = Routed::default();
                if let Ok(json) = Converter::entry_json(&entry.headers, &entry.body) {
                    let _ = converter.records(&json, &mut |chunk| {
                        routed.count(streams, &entry.headers, &chunk.payload.records);
                        Ok::<(), ()>(())
                    });
                }
                let mut names: Vec<String> = routed
                    .iter()
                    .map(|(s, _)| s.unwrap_or(&streams.default).to_owned())
                    .collect();
                if names.is_empty() {
                    names.push(streams.default.clone());
                }
                names
            }
        };
        Summary {
            sequence: entry.first_sequence,
            received_at: entry.received_at,
            streams: names,
            records: entry.record_count,
            bytes: entry.body.len(),
            delivery_id: delivery_id(&entry.headers, configured_id)
                .map(|id| escape(&String::from_utf8_lossy(id), 128)),
            body_start: Some(body_start(&entry.body)),
        }
    }

    /// Without the body's first characters.
    pub fn without_body(mut self) -> Self {
        self.body_start = None;
        self
    }

    /// One line: `TIME  STREAM  N records  SIZE  id=ID  BODY…`.
    pub fn line(&self) -> String {
        let mut stream = self.streams.first().cloned().unwrap_or_default();
        if self.streams.len() > 1 {
            stream += &format!(" +{}", self.streams.len() - 1);
        }
        let records = match self.records {
            1 => "1 record".to_owned(),
            n => format!("{n} records"),
        };
        format!(
            "{}  {stream:<16} {records:>11}  {:>9}  id={}  {}",
            self.received_at
                .to_rfc3339_opts(SecondsFormat::Millis, true),
            human_bytes(self.bytes),
            self.delivery_id.as_deref().unwrap_or("-"),
            match &self.body_start {
                Some(start) => escape(start, BODY_START_CHARS + 1),
                None => "(body hidden: inspect_bodies is false)".to_owned(),
            },
        )
    }

    /// The same as a JSON object (`sequence` as a string: it exceeds what JSON numbers keep
    /// exactly in JavaScript).
    pub fn json(&self) -> Value {
        json!({
            "sequence": self.sequence.to_string(),
            "received_at": self.received_at.to_rfc3339_opts(SecondsFormat::Micros, true),
            "stream": self.streams.first(),
            "streams": self.streams,
            "records": self.records,
            "bytes": self.bytes,
            "delivery_id": self.delivery_id,
            "body_start": self.body_start,
        })
    }
}

/// The first characters of a body, without the whitespace between JSON tokens (an indented
/// body still shows its content), cut to [`BODY_START_CHARS`] and a `…`.
pub fn body_start(body: &[u8]) -> String {
    let head = String::from_utf8_lossy(&body[..body.len().min(BODY_START_CHARS * 32)]);
    let mut compact = Vec::with_capacity(head.len());
    write_compact(&mut compact, &head);
    let compact = String::from_utf8_lossy(&compact);
    let mut chars = compact.char_indices();
    match chars.nth(BODY_START_CHARS) {
        Some((end, _)) => format!("{}…", &compact[..end]),
        None => compact.into_owned(),
    }
}

/// `1.2 KB`, `830 B`, `4.0 MB`.
pub fn human_bytes(n: usize) -> String {
    match n {
        n if n < 1000 => format!("{n} B"),
        n if n < 1_000_000 => format!("{:.1} KB", n as f64 / 1e3),
        n => format!("{:.1} MB", n as f64 / 1e6),
    }
}

/// At most `max` characters of `text` on one line: control characters (newlines, escape
/// sequences) and the bidirectional overrides that reorder what a terminal shows are written
/// as `\n`, `\u{1b}`…; `…` marks a cut.
pub fn escape(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max * 2));
    for (i, c) in text.chars().enumerate() {
        if i == max {
            out.push('…');
            break;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || is_bidi_control(c) => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_start_drops_whitespace_between_tokens_only() {
        assert_eq!(body_start(b"{\n  \"a b\": [1, 2]\n}"), r#"{"a b":[1,2]}"#);
        let long = format!(r#"{{"text":"{}"}}"#, "x".repeat(200));
        let start = body_start(long.as_bytes());
        assert_eq!(start.chars().count(), BODY_START_CHARS + 1);
        assert!(start.ends_with('…'));
    }

    #[test]
    fn escape_keeps_one_line_and_no_terminal_controls() {
        assert_eq!(
            escape("a\nb\x1b[2J\u{202e}c", 80),
            "a\\nb\\u{1b}[2J\\u{202e}c"
        );
        assert_eq!(escape("abcdef", 3), "abc…");
        assert_eq!(escape("abc", 3), "abc");
    }

    #[test]
    fn the_configured_delivery_id_header_comes_first() {
        let header = |name: &'static str, value: &'static str| Header {
            name: name.into(),
            value: bytes::Bytes::from_static(value.as_bytes()),
        };
        let headers = [
            header("x-request-id", "r1"),
            header("x-my-id", "m1"),
            header("x-github-delivery", "g1"),
        ];
        assert_eq!(delivery_id(&headers, None), Some(&b"g1"[..]));
        assert_eq!(delivery_id(&headers[..2], None), Some(&b"r1"[..]));
        assert_eq!(delivery_id(&headers, Some("x-my-id")), Some(&b"m1"[..]));
        assert_eq!(delivery_id(&headers[1..2], None), None);
    }
}
