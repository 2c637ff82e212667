//! `multipart/form-data` bodies (Mailgun routes, SendGrid Inbound Parse) → JSON.
//!
//! Text parts are form fields, as in [`form`](super::form); each file part (a part with a
//! `filename`) becomes `{"filename", "content_type", "size", "sha256"}`: its bytes are hashed
//! and counted, never emitted. Parsing is `multer`'s; the body is already in memory within
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
            let name = Cow::Owned(field.name().unwrap_or("").to_owned());
            let value = match field.file_name() {
                Some(filename) => {
                    let filename = filename.to_owned();
                    let content_type = field.content_type().map(|m| m.to_string());
                    let (mut size, mut hash) = (0u64, Sha256::new());
                    while let Some(bytes) = field.chunk().await.map_err(malformed)? {
                        size += bytes.len() as u64;
                        hash.update(&bytes);
                    }
                    Value::Json(file_json(
                        &filename,
                        content_type.as_deref(),
                        size,
                        &hex::encode(hash.finalize()),
                    ))
                }
                None => {
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
fn file_json(filename: &str, content_type: Option<&str>, size: u64, sha256: &str) -> String {
    let mut out = Vec::with_capacity(128 + filename.len());
    out.extend_from_slice(b"{\"filename\":");
    push_json_string(&mut out, filename);
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
