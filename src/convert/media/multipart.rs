//! `multipart/form-data` bodies (Mailgun routes, SendGrid Inbound Parse) → JSON.
//!
//! Text parts are form fields, as in [`form`](super::form); each file part becomes
//! `{"filename", "content_type", "size", "sha256"}`: its bytes are hashed and counted, never
//! emitted. A part is a file when it has a file name in any form (`filename`, `filename*`, or
//! bytes that are not UTF-8) or a content type that is not text. Names are read from the
//! part's `Content-Disposition` here ([`Disposition`]): RFC 5987 `filename*` and `name*`
//! decoded, a percent-encoded `filename` (RFC 7578) decoded, and a name that is not UTF-8
//! kept with its bad bytes replaced, never emptied. Parsing is `multer`'s; the body is already in memory within
//! `max_body_bytes`, so it is handed over as one chunk and the parse completes in one poll
//! (linear in the body: each boundary is searched for once). At most
//! [`MAX_FORM_FIELDS`](super::MAX_FORM_FIELDS) parts are read.

use std::borrow::Cow;
use std::future::Future;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::form::{Fields, Value};
use super::{MediaError, push_json_string};

/// The headers of one part (`Content-Disposition`, `Content-Type`...) take a few hundred
/// bytes; more is not a form.
pub const MAX_PART_HEADER_BYTES: usize = 16 << 10;

/// A multipart body as JSON text.
pub fn to_json(body: &[u8], boundary: &str) -> Result<Vec<u8>, MediaError> {
    let chunk = Bytes::copy_from_slice(body);
    let stream = futures_util::stream::once(std::future::ready(Ok::<_, std::io::Error>(chunk)));
    let mut multipart = multer::Multipart::new(stream, boundary);
    let parse = async move {
        let mut fields = Fields::default();
        while let Some(mut field) = multipart.next_field().await.map_err(malformed)? {
            let header_bytes: usize = field
                .headers()
                .iter()
                .map(|(name, value)| name.as_str().len() + value.len())
                .sum();
            if header_bytes > MAX_PART_HEADER_BYTES {
                return Err(MediaError::Malformed(format!(
                    "malformed multipart body: a part's headers are {header_bytes} bytes; at \
                     most {MAX_PART_HEADER_BYTES}"
                )));
            }
            let headers = field.headers();
            let disposition = headers
                .get(http::header::CONTENT_DISPOSITION)
                .map(|v| Disposition::parse(v.as_bytes()))
                .unwrap_or_default();
            let content_type = headers
                .get(http::header::CONTENT_TYPE)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_owned());
            let name = Cow::Owned(disposition.name.clone().unwrap_or_default());
            let is_file = disposition.filename.is_some()
                || content_type.as_deref().is_some_and(|ct| !is_text(ct));
            let value = match is_file {
                true => {
                    let (mut size, mut hash) = (0u64, Sha256::new());
                    while let Some(bytes) = field.chunk().await.map_err(malformed)? {
                        size += bytes.len() as u64;
                        hash.update(&bytes);
                    }
                    Value::Json(file_json(
                        disposition.filename.as_deref(),
                        content_type.as_deref(),
                        size,
                        &hex::encode(hash.finalize()),
                    ))
                }
                false => {
                    let mut text = Vec::new();
                    while let Some(bytes) = field.chunk().await.map_err(malformed)? {
                        text.extend_from_slice(&bytes);
                    }
                    Value::Text(Cow::Owned(String::from_utf8_lossy(&text).into_owned()))
                }
            };
            fields.push(name, value)?;
        }
        Ok(fields.finish())
    };
    // Everything is in memory: the parse never waits.
    let mut parse = std::pin::pin!(parse);
    match parse.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(result) => result,
        Poll::Pending => Err(MediaError::Malformed(
            "malformed multipart body: it ends before its closing boundary".into(),
        )),
    }
}

/// Whether a part's content type is text (its bytes then a form field's value).
fn is_text(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence.starts_with("text/")
        || essence.ends_with("+json")
        || essence.ends_with("+xml")
        || matches!(
            essence.as_str(),
            "application/json" | "application/xml" | "application/x-www-form-urlencoded"
        )
}

/// The names in a part's `Content-Disposition`, decoded.
#[derive(Debug, Default, PartialEq, Eq)]
struct Disposition {
    name: Option<String>,
    /// From `filename*` when it has one, else `filename`.
    filename: Option<String>,
}

impl Disposition {
    /// `form-data; name="a"; filename="b"`: parameter names in any case, values a token or a
    /// quoted string (`\"` and `\\` unescaped), `name*`/`filename*` an RFC 5987 ext-value.
    fn parse(value: &[u8]) -> Self {
        let mut d = Disposition::default();
        let (mut filename, mut filename_ext) = (None, None);
        let mut rest = value;
        // Skip the disposition type.
        while let Some(at) = rest.iter().position(|&b| b == b';') {
            rest = &rest[at + 1..];
            let Some((param, raw, after)) = parameter(rest) else {
                break;
            };
            rest = after;
            match param.to_ascii_lowercase().as_slice() {
                b"name" => d.name = d.name.or_else(|| Some(lossy(raw))),
                b"name*" => d.name = ext_value(&raw).or(d.name),
                b"filename" => filename = filename.or_else(|| Some(file_name(&raw))),
                b"filename*" => filename_ext = filename_ext.or_else(|| ext_value(&raw)),
                _ => {}
            }
        }
        d.filename = filename_ext.or(filename);
        d
    }
}

/// One `name=value` parameter at the start of `text`: the name, the value (unquoted) and
/// what follows it.
fn parameter(text: &[u8]) -> Option<(&[u8], Vec<u8>, &[u8])> {
    let text = text.trim_ascii_start();
    let eq = text.iter().position(|&b| b == b'=' || b == b';')?;
    if text[eq] != b'=' {
        return Some((text[..eq].trim_ascii(), Vec::new(), &text[eq..]));
    }
    let name = text[..eq].trim_ascii();
    let value = text[eq + 1..].trim_ascii_start();
    if let Some(quoted) = value.strip_prefix(b"\"") {
        let mut out = Vec::with_capacity(quoted.len());
        let mut i = 0;
        while i < quoted.len() {
            match quoted[i] {
                b'"' => return Some((name, out, &quoted[i + 1..])),
                b'\\' if matches!(quoted.get(i + 1), Some(b'"' | b'\\')) => {
                    out.push(quoted[i + 1]);
                    i += 2;
                    continue;
                }
                b => out.push(b),
            }
            i += 1;
        }
        // No closing quote: the value runs to the end.
        return Some((name, out, &[]));
    }
    let end = value.iter().position(|&b| b == b';').unwrap_or(value.len());
    Some((name, value[..end].trim_ascii().to_vec(), &value[end..]))
}

fn lossy(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// A `filename` value: percent-decoded when it is percent-encoded UTF-8 (RFC 7578 allows
/// it), else as sent (bytes that are not UTF-8 replaced).
fn file_name(raw: &[u8]) -> String {
    let encoded = raw.contains(&b'%')
        && raw.iter().enumerate().all(|(i, &b)| {
            b != b'%'
                || raw
                    .get(i + 1..i + 3)
                    .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
        });
    if encoded {
        let decoded: Vec<u8> = percent_encoding::percent_decode(raw).collect();
        if let Ok(text) = String::from_utf8(decoded) {
            return text;
        }
    }
    lossy(raw.to_vec())
}

/// An RFC 5987 ext-value, `charset'language'percent-encoded`: UTF-8 or ISO-8859-1 (any other
/// charset read as UTF-8, bad bytes replaced). `None` when it is not one.
fn ext_value(raw: &[u8]) -> Option<String> {
    let mut parts = raw.splitn(3, |&b| b == b'\'');
    let (charset, _language, encoded) = (parts.next()?, parts.next()?, parts.next()?);
    let bytes: Vec<u8> = percent_encoding::percent_decode(encoded).collect();
    Some(match charset.eq_ignore_ascii_case(b"iso-8859-1") {
        true => bytes.iter().map(|&b| char::from(b)).collect(),
        false => lossy(bytes),
    })
}

fn malformed(e: multer::Error) -> MediaError {
    let reason = match e {
        multer::Error::IncompleteStream | multer::Error::IncompleteFieldData { .. } => {
            "it ends before its closing boundary".to_owned()
        }
        multer::Error::IncompleteHeaders => "a part's headers are cut short".to_owned(),
        other => other.to_string(),
    };
    MediaError::Malformed(format!("malformed multipart body: {reason}"))
}

/// A file part's description.
fn file_json(
    filename: Option<&str>,
    content_type: Option<&str>,
    size: u64,
    sha256: &str,
) -> String {
    let mut out = Vec::with_capacity(128 + filename.map_or(0, str::len));
    out.extend_from_slice(b"{\"filename\":");
    match filename {
        Some(name) => push_json_string(&mut out, name),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"content_type\":");
    match content_type {
        Some(ct) => push_json_string(&mut out, ct),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"size\":");
    out.extend_from_slice(size.to_string().as_bytes());
    out.extend_from_slice(b",\"sha256\":\"");
    out.extend_from_slice(sha256.as_bytes());
    out.extend_from_slice(b"\"}");
    String::from_utf8(out).expect("JSON text is UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (name, file name and content type, content).
    type Part<'a> = (&'a str, Option<(&'a str, &'a str)>, &'a str);

    fn body(parts: &[Part<'_>]) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, file, content) in parts {
            out.extend_from_slice(b"--XyZ\r\n");
            match file {
                Some((filename, ct)) => out.extend_from_slice(
                    format!(
                        "Content-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\nContent-Type: {ct}\r\n\r\n"
                    )
                    .as_bytes(),
                ),
                None => out.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
                ),
            }
            out.extend_from_slice(content.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"--XyZ--\r\n");
        out
    }

    #[test]
    fn text_parts_are_fields_and_files_are_described() {
        let b = body(&[
            ("from", None, "Bob <bob@example.com>"),
            ("to", None, "a@example.com"),
            ("to", None, "b@example.com"),
            ("attachment-1", Some(("a.txt", "text/plain")), "hello"),
        ]);
        let json: serde_json::Value = serde_json::from_slice(&to_json(&b, "XyZ").unwrap()).unwrap();
        assert_eq!(json["from"], "Bob <bob@example.com>");
        assert_eq!(
            json["to"],
            serde_json::json!(["a@example.com", "b@example.com"])
        );
        assert_eq!(
            json["attachment-1"],
            serde_json::json!({"filename": "a.txt", "content_type": "text/plain", "size": 5,
                "sha256": "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"})
        );
    }

    /// A body of parts given by their raw header lines and content.
    fn raw_body(parts: &[(&[u8], &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (headers, content) in parts {
            out.extend_from_slice(b"--XyZ\r\n");
            out.extend_from_slice(headers);
            out.extend_from_slice(b"\r\n\r\n");
            out.extend_from_slice(content);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"--XyZ--\r\n");
        out
    }

    #[test]
    fn a_part_is_a_file_whatever_form_its_file_name_takes_or_by_its_type() {
        let binary: Vec<u8> = (0..=255).collect();
        let sha = hex::encode(Sha256::digest(&binary));
        let b = raw_body(&[
            (
                b"Content-Disposition: form-data; name=\"a\"; filename*=UTF-8''%E2%82%AC.bin",
                &binary,
            ),
            (
                b"Content-Disposition: form-data; name=\"b\"; filename=\"caf\xe9.bin\"",
                &binary,
            ),
            (
                b"Content-Disposition: form-data; name=\"c\"; filename=\"%E2%82%AC.bin\"",
                &binary,
            ),
            (
                b"Content-Disposition: form-data; NAME=d; FILENAME*=iso-8859-1'fr'caf%E9.bin; filename=\"x.bin\"",
                &binary,
            ),
            (
                b"Content-Disposition: form-data; name=\"e\"\r\nContent-Type: application/octet-stream",
                &binary,
            ),
            (
                b"Content-Disposition: form-data; name=\"f;\\\"q\\\"\"; filename=\"\"",
                b"",
            ),
            (b"Content-Disposition: form-data; name=\"n\xefm\"", b"text"),
            (
                b"Content-Disposition: form-data; name=\"g\"\r\nContent-Type: text/plain; charset=utf-8",
                b"plain",
            ),
        ]);
        let json: serde_json::Value = serde_json::from_slice(&to_json(&b, "XyZ").unwrap()).unwrap();
        for (field, filename) in [
            ("a", "\u{20ac}.bin"),
            ("b", "caf\u{fffd}.bin"),
            ("c", "\u{20ac}.bin"),
            ("d", "caf\u{e9}.bin"),
        ] {
            assert_eq!(json[field]["filename"], filename, "{json}");
            assert_eq!(json[field]["size"], 256, "{json}");
            assert_eq!(json[field]["sha256"], sha.as_str(), "{json}");
        }
        assert_eq!(json["e"]["filename"], serde_json::Value::Null);
        assert_eq!(json["e"]["content_type"], "application/octet-stream");
        assert_eq!(json["e"]["size"], 256);
        assert_eq!(json["f;\"q\""]["filename"], "");
        assert_eq!(json["f;\"q\""]["size"], 0);
        assert_eq!(json["n\u{fffd}m"], "text");
        assert_eq!(json["g"], "plain");
        // No byte of a file is emitted, whatever its name looks like.
        let text = String::from_utf8_lossy(&to_json(&b, "XyZ").unwrap()).into_owned();
        assert!(
            !text.contains('\u{1}') && !text.contains("\\u0001"),
            "{text}"
        );
    }

    #[test]
    fn a_sole_json_part_is_unwrapped_like_a_form_field() {
        let b = body(&[("payload", None, r#"{"a":1}"#)]);
        assert_eq!(to_json(&b, "XyZ").unwrap(), br#"{"a":1}"#);
    }

    #[test]
    fn huge_part_headers_are_refused() {
        let name = "n".repeat(MAX_PART_HEADER_BYTES);
        let b = body(&[(&name, None, "x")]);
        let e = to_json(&b, "XyZ").unwrap_err();
        assert!(e.to_string().contains("headers are"), "{e}");
    }

    #[test]
    fn broken_bodies_are_refused() {
        let b = body(&[("from", None, "x")]);
        let cut = &b[..b.len() - 9];
        assert!(matches!(to_json(cut, "XyZ"), Err(MediaError::Malformed(_))));
        assert!(matches!(
            to_json(b"no boundary here", "XyZ"),
            Err(MediaError::Malformed(_))
        ));
        assert!(matches!(
            to_json(&b, "other"),
            Err(MediaError::Malformed(_))
        ));
        assert!(to_json(b"", "XyZ").is_err());
    }
}
