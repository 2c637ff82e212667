//! Request media types: which kind of body a request carries, and that body as JSON text.
//!
//! The journal keeps the raw body and, for anything but JSON, the request's `Content-Type`
//! (an entry without one is JSON). The receiver, the emitter and replay all turn a body into
//! JSON with [`to_json`], so the same request gives the same records from any source:
//!
//! - JSON (`application/json`, `*/*+json`, `text/json`, no Content-Type) and `text/plain`
//!   (AWS SNS): the body as is;
//! - NDJSON (`application/x-ndjson`, `application/jsonl`, ...): one JSON value per line, as
//!   an array, so that one bad line refuses the whole body; `application/json-seq` likewise,
//!   each value after an RS byte (RFC 7464);
//! - `application/x-www-form-urlencoded`: see [`form`];
//! - `multipart/form-data`: see [`multipart`].

pub mod form;
pub mod multipart;

use std::borrow::Cow;

use serde_json::value::RawValue;

/// The journal header that records a body's media type (lower case, as HTTP/1 stores it).
pub const CONTENT_TYPE_HEADER: &str = "content-type";

/// Form fields or multipart parts one body may have. A body with more is refused: nobody
/// posts that many, and each costs memory.
pub const MAX_FORM_FIELDS: usize = 10_000;

/// What a request body is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    Json,
    /// `text/plain`: JSON sent with a text type (AWS SNS).
    Text,
    Ndjson,
    /// `application/json-seq` (RFC 7464).
    JsonSeq,
    Form,
    Multipart {
        boundary: String,
    },
}

impl Kind {
    /// Whether the journal must keep the Content-Type to read the body again.
    pub fn needs_content_type(&self) -> bool {
        !matches!(self, Kind::Json)
    }
}

/// Why a body cannot be read as JSON.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum MediaError {
    /// 415.
    #[error(
        "Content-Type {0:?} is not supported; send JSON, NDJSON, text/plain JSON, a form or \
         multipart/form-data"
    )]
    Unsupported(String),
    /// 400.
    #[error("{0}")]
    Malformed(String),
    /// 422.
    #[error("{0}")]
    TooManyFields(String),
}

/// The kind of body a `Content-Type` value announces (absent: JSON).
pub fn kind(content_type: Option<&[u8]>) -> Result<Kind, MediaError> {
    let Some(value) = content_type else {
        return Ok(Kind::Json);
    };
    // The usual value, decided by one comparison (this runs for every request and every
    // emitted entry).
    if value.eq_ignore_ascii_case(b"application/json") {
        return Ok(Kind::Json);
    }
    let shown = || String::from_utf8_lossy(value).into_owned();
    let text = std::str::from_utf8(value).map_err(|_| MediaError::Unsupported(shown()))?;
    let essence = text.split(';').next().unwrap_or("").trim();
    let is = |name: &str| essence.eq_ignore_ascii_case(name);
    // `application/<anything>+json`, compared without a lower-case copy (this runs for every
    // request and every emitted entry).
    let structured_json = essence.len() >= "application/+json".len()
        && essence.as_bytes()[.."application/".len()].eq_ignore_ascii_case(b"application/")
        && essence.as_bytes()[essence.len() - "+json".len()..].eq_ignore_ascii_case(b"+json");
    if is("application/json") || is("text/json") || structured_json {
        Ok(Kind::Json)
    } else if is("text/plain") {
        Ok(Kind::Text)
    } else if [
        "application/x-ndjson",
        "application/ndjson",
        "application/jsonl",
        "application/x-jsonl",
        "application/jsonlines",
        "application/x-jsonlines",
    ]
    .iter()
    .any(|n| is(n))
    {
        Ok(Kind::Ndjson)
    } else if is("application/json-seq") {
        Ok(Kind::JsonSeq)
    } else if is("application/x-www-form-urlencoded") {
        Ok(Kind::Form)
    } else if is("multipart/form-data") {
        let boundary = multer::parse_boundary(text).map_err(|_| {
            MediaError::Malformed(
                "multipart/form-data needs a boundary parameter in its Content-Type".into(),
            )
        })?;
        if boundary.is_empty() || boundary.len() > 200 {
            return Err(MediaError::Malformed(
                "the multipart boundary must be 1 to 200 characters".into(),
            ));
        }
        Ok(Kind::Multipart { boundary })
    } else {
        Err(MediaError::Unsupported(shown()))
    }
}

/// The body as JSON text, borrowed when it already is JSON.
pub fn to_json<'a>(kind: &Kind, body: &'a [u8]) -> Result<Cow<'a, [u8]>, MediaError> {
    match kind {
        Kind::Json | Kind::Text => Ok(Cow::Borrowed(body)),
        Kind::Ndjson => ndjson(body).map(Cow::Owned),
        Kind::JsonSeq => json_seq(body).map(Cow::Owned),
        Kind::Form => form::to_json(body),
        Kind::Multipart { boundary } => multipart::to_json(body, boundary).map(Cow::Owned),
    }
}

/// The kind of a journaled body, from the headers kept with it.
pub fn kind_of_entry<'h>(
    headers: impl IntoIterator<Item = (&'h str, &'h [u8])>,
) -> Result<Kind, MediaError> {
    let content_type = headers
        .into_iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(CONTENT_TYPE_HEADER))
        .map(|(_, value)| value);
    kind(content_type)
}

/// NDJSON → a JSON array of its lines (blank lines skipped). Each line must be one JSON
/// value by itself, so a line such as `{"a":1},{"b":2}` is refused rather than split.
fn ndjson(body: &[u8]) -> Result<Vec<u8>, MediaError> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let mut out = Vec::with_capacity(body.len() + 2);
    out.push(b'[');
    let mut first = true;
    for (number, line) in body.split(|&b| b == b'\n').enumerate() {
        let line = line.trim_ascii();
        if line.is_empty() {
            continue;
        }
        if serde_json::from_slice::<&RawValue>(line).is_err() {
            // Not one value: say which line, with serde's reason when it has one.
            let reason = match serde_json::from_slice::<serde::de::IgnoredAny>(line) {
                Err(e) => e.to_string(),
                Ok(_) => "not one JSON value".to_owned(),
            };
            return Err(MediaError::Malformed(format!(
                "malformed JSON on NDJSON line {}: {reason}",
                number + 1
            )));
        }
        if !first {
            out.push(b',');
        }
        first = false;
        out.extend_from_slice(line);
    }
    out.push(b']');
    Ok(out)
}

/// The record separator that opens each text of a JSON sequence (RFC 7464).
const RS: u8 = 0x1e;

/// A JSON text sequence → a JSON array of its texts, each after an RS byte (its own line
/// breaks and blanks allowed). A body without any RS is read as NDJSON, as senders that
/// label lines so mean. One bad text refuses the whole body.
fn json_seq(body: &[u8]) -> Result<Vec<u8>, MediaError> {
    if !body.contains(&RS) {
        return ndjson(body);
    }
    let mut out = Vec::with_capacity(body.len() + 2);
    out.push(b'[');
    for (number, text) in body.split(|&b| b == RS).enumerate() {
        let text = text.trim_ascii();
        if text.is_empty() {
            continue;
        }
        if serde_json::from_slice::<&RawValue>(text).is_err() {
            return Err(MediaError::Malformed(format!(
                "malformed JSON in text {number} of the JSON sequence (each text follows an \
                 RS byte, 0x1E)"
            )));
        }
        if out.len() > 1 {
            out.push(b',');
        }
        out.extend_from_slice(text);
    }
    out.push(b']');
    Ok(out)
}

/// Writes `text` as a JSON string.
pub(crate) fn push_json_string(out: &mut Vec<u8>, text: &str) {
    serde_json::to_writer(&mut *out, text).expect("writing to a Vec cannot fail");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(kind: &Kind, body: &str) -> String {
        String::from_utf8(to_json(kind, body.as_bytes()).unwrap().into_owned()).unwrap()
    }

    #[test]
    fn content_types_name_their_kind() {
        let k = |s: &str| kind(Some(s.as_bytes()));
        assert_eq!(k("application/json; charset=utf-8"), Ok(Kind::Json));
        assert_eq!(k("application/cloudevents+json"), Ok(Kind::Json));
        assert_eq!(k("Text/Plain; charset=UTF-8"), Ok(Kind::Text));
        assert_eq!(k("application/x-ndjson"), Ok(Kind::Ndjson));
        assert_eq!(k("application/jsonl"), Ok(Kind::Ndjson));
        assert_eq!(k("application/json-seq"), Ok(Kind::JsonSeq));
        assert_eq!(k("application/x-www-form-urlencoded"), Ok(Kind::Form));
        assert_eq!(
            k("multipart/form-data; boundary=\"abc def\""),
            Ok(Kind::Multipart {
                boundary: "abc def".into()
            })
        );
        assert!(matches!(
            k("multipart/form-data"),
            Err(MediaError::Malformed(_))
        ));
        assert!(matches!(k("image/png"), Err(MediaError::Unsupported(_))));
        assert_eq!(kind(None), Ok(Kind::Json));
    }

    #[test]
    fn ndjson_lines_become_an_array_and_a_bad_line_refuses_all() {
        assert_eq!(
            json(&Kind::Ndjson, "{\"a\":1}\r\n\n  {\"b\":2}\n"),
            r#"[{"a":1},{"b":2}]"#
        );
        assert_eq!(json(&Kind::Ndjson, ""), "[]");
        let e = to_json(&Kind::Ndjson, b"{\"a\":1}\n{\"a\":1},{\"b\":2}\n").unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
        assert!(to_json(&Kind::Ndjson, b"{\"a\":").is_err());
    }

    #[test]
    fn json_sequences_are_split_on_their_record_separators() {
        assert_eq!(
            json(
                &Kind::JsonSeq,
                "\x1e{\"a\":1}\n\x1e{\n  \"b\": 2\n}\n\x1e\n"
            ),
            "[{\"a\":1},{\n  \"b\": 2\n}]"
        );
        // Without RS bytes: lines.
        assert_eq!(
            json(&Kind::JsonSeq, "{\"a\":1}\n{\"b\":2}\n"),
            r#"[{"a":1},{"b":2}]"#
        );
        let e = to_json(&Kind::JsonSeq, b"\x1e{\"a\":1}\n\x1e{\"a\":\n").unwrap_err();
        assert!(e.to_string().contains("text 2"), "{e}");
        assert!(to_json(&Kind::JsonSeq, b"junk\x1e{}\n").is_err());
    }

    #[test]
    fn journal_entries_without_a_content_type_are_json() {
        assert_eq!(kind_of_entry([]), Ok(Kind::Json));
        let headers = [("content-type", &b"application/x-www-form-urlencoded"[..])];
        assert_eq!(kind_of_entry(headers), Ok(Kind::Form));
    }
}
