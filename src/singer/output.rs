//! Singer output: every SCHEMA, RECORD and STATE line on stdout is written here.
//!
//! Types are UPPERCASE and nothing else is ever written to stdout. RECORD lines are built by
//! [`write_record`] straight from the payload's raw field values, into an [`Output`] buffer
//! (or any [`Sink`]): no tree is built, and a large value is passed straight through.

use std::borrow::Cow;
use std::io::{self, Write};

use serde_json::Value;

use crate::convert::payload::{
    self, Fields, HEADERS_FIELD, OVERFLOW_FIELD, QUERY_FIELD, RECEIVED_AT_FIELD, SEQUENCE_FIELD,
};
use crate::keys::RecordKey;
use crate::sequence::Sequence;

/// Buffered Singer output. Messages are appended to an in-memory buffer and written out by
/// [`Output::flush`] (or when the buffer grows large), so that a batch of records costs one
/// `write` call. A large field value is written straight from the payload instead of being
/// copied into the buffer (see [`Sink`]); a write error then is kept and returned by the next
/// flush.
pub struct Output<W: Write> {
    out: W,
    buf: Vec<u8>,
    error: Option<io::Error>,
}

const FLUSH_AT: usize = 1 << 20;
/// Values at least this long bypass the buffer.
const PASS_THROUGH: usize = 256 << 10;

impl<W: Write> Output<W> {
    pub fn new(out: W) -> Self {
        Output {
            out,
            buf: Vec::with_capacity(FLUSH_AT + (64 << 10)),
            error: None,
        }
    }

    /// `{"type":"SCHEMA","stream":"push","schema":...,"key_properties":[...]}`
    pub fn schema(&mut self, stream: &str, schema: &Value, key_properties: &[String]) {
        self.buf.extend_from_slice(br#"{"type":"SCHEMA","stream":"#);
        write_json_string(&mut self.buf, stream);
        self.buf.extend_from_slice(br#","schema":"#);
        self.push_json(schema);
        self.buf.extend_from_slice(br#","key_properties":"#);
        self.push_json(&key_properties);
        self.buf.extend_from_slice(b"}\n");
    }

    /// `{"type":"STATE","value":...}`
    pub fn state(&mut self, value: &Value) {
        self.buf.extend_from_slice(br#"{"type":"STATE","value":"#);
        self.push_json(value);
        self.buf.extend_from_slice(b"}\n");
    }

    fn push_json(&mut self, value: &impl serde::Serialize) {
        serde_json::to_writer(&mut self.buf, value).expect("writing to a Vec cannot fail");
    }

    /// Writes the buffer out if it has grown large.
    pub fn maybe_flush(&mut self) -> io::Result<()> {
        if self.buf.len() >= FLUSH_AT || self.error.is_some() {
            self.flush()?;
        }
        Ok(())
    }

    pub fn flush(&mut self) -> io::Result<()> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        if !self.buf.is_empty() {
            self.out.write_all(&self.buf)?;
            self.buf.clear();
            if self.buf.capacity() > 4 * FLUSH_AT {
                self.buf = Vec::with_capacity(FLUSH_AT + (64 << 10));
            }
        }
        self.out.flush()
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

/// RECORD lines are built in the buffer ([`write_record`]); a long value is
/// written out after the buffer rather than copied into it, and a long line that is built in
/// pieces (a large pretty-printed value being compacted) is written out as it grows.
impl<W: Write> Sink for Output<W> {
    fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    fn append(&mut self, bytes: &[u8]) {
        if bytes.len() < PASS_THROUGH {
            self.buf.extend_from_slice(bytes);
            if self.buf.len() < 4 * FLUSH_AT {
                return;
            }
        }
        if self.error.is_none() {
            let written = self.out.write_all(&self.buf).and_then(|()| {
                if bytes.len() < PASS_THROUGH {
                    Ok(())
                } else {
                    self.out.write_all(bytes)
                }
            });
            self.error = written.err();
        }
        self.buf.clear();
    }
}

/// The columns the tap adds to one record.
pub struct RecordMeta<'a> {
    pub sequence: Sequence,
    /// RFC 3339 UTC, already formatted (shared by all records of an entry).
    pub received_at: &'a str,
    pub key: Option<RecordKey>,
    /// Also write the sequence under this name.
    pub sequence_alias: Option<&'a str>,
    /// Also write the received time under this name.
    pub received_at_alias: Option<&'a str>,
    /// Fields without a column (the stream has `max_columns`), written as one JSON object
    /// under `_sdc_overflow`, by their payload names.
    pub overflow: &'a [(Cow<'a, str>, &'a str)],
    /// `_sdc_headers` and `_sdc_query`: JSON objects, already written (shared by all records
    /// of a request).
    pub headers: Option<&'a str>,
    pub query: Option<&'a str>,
}

/// How one provider field's value is written into a RECORD (decided by the schema).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldAction {
    /// Left out (deselected, or a null of a field with no type yet).
    Skip,
    /// Copied as it is (compacted).
    Raw,
    /// Written as a JSON string holding the value's JSON text.
    Stringify,
    /// A string holding a number or boolean, written as that number or boolean.
    Unquote,
    /// A number written as a string in its one canonical form (key fields:
    /// [`crate::convert::payload::canonical_number`]).
    Canonical,
    /// Copied as it is (or, with `as_text`, as a JSON string holding its JSON text) into the
    /// sibling column named `<field><suffix>`, the suffix repeated `depth` times, shortened
    /// when long ([`super::columns::sibling_column`]; see [`crate::schema::kinds::Sibling`]).
    Sibling {
        suffix: &'static str,
        depth: u8,
        as_text: bool,
    },
}

/// Where RECORD lines are written: a buffer, plus a way to hand over long runs of bytes (a
/// large field value) that a buffered writer may pass straight through instead of copying, so
/// that a 20 MB payload is not held twice.
pub trait Sink {
    /// The buffer short pieces are appended to.
    fn buffer(&mut self) -> &mut Vec<u8>;

    /// Appends `bytes` after what the buffer holds.
    fn append(&mut self, bytes: &[u8]) {
        self.buffer().extend_from_slice(bytes);
    }
}

impl Sink for Vec<u8> {
    fn buffer(&mut self) -> &mut Vec<u8> {
        self
    }
}

/// Appends one RECORD message line (with its newline) to `out`. `action` decides how each
/// provider field is written, given its index in `record`, its name and its value.
pub fn write_record<S: Sink + ?Sized>(
    out: &mut S,
    stream: &str,
    record: &Fields<'_>,
    meta: &RecordMeta<'_>,
    action: impl Fn(usize, &str, &str) -> FieldAction,
) {
    let buf = out.buffer();
    buf.extend_from_slice(br#"{"type":"RECORD","stream":"#);
    write_json_string(buf, stream);
    buf.extend_from_slice(br#","record":{"#);
    for (i, (name, value)) in record.fields.iter().enumerate() {
        if meta.replaces(name) {
            continue;
        }
        let action = action(i, name, value);
        if action != FieldAction::Skip {
            write_field(out, name, value, action);
        }
    }
    if !meta.overflow.is_empty() {
        write_overflow(out, meta.overflow);
    }
    write_tap_columns(out.buffer(), meta);
}

impl RecordMeta<'_> {
    /// Whether a provider field of this name gives way to a column the tap writes itself.
    #[inline]
    fn replaces(&self, name: &str) -> bool {
        self.sequence_alias == Some(name)
            || self.received_at_alias == Some(name)
            || (self.headers.is_some() && name == HEADERS_FIELD)
            || (self.query.is_some() && name == QUERY_FIELD)
    }
}

/// `"column":value,` for one provider field, written as `action` says.
// Inlined, as when it was part of write_record: it runs for every field of every record.
#[inline(always)]
fn write_field<S: Sink + ?Sized>(out: &mut S, name: &str, value: &str, action: FieldAction) {
    let buf = out.buffer();
    match action {
        FieldAction::Sibling { suffix, depth, .. } => {
            write_json_string(buf, &super::columns::sibling_column(name, suffix, depth));
        }
        _ => write_json_string(buf, name),
    }
    buf.push(b':');
    match action {
        FieldAction::Skip => {}
        FieldAction::Raw | FieldAction::Sibling { as_text: false, .. } => write_compact(out, value),
        FieldAction::Stringify | FieldAction::Sibling { as_text: true, .. } => {
            let mut text = Vec::with_capacity(value.len());
            write_compact(&mut text, value);
            let text = String::from_utf8(text).expect("compacted JSON is UTF-8");
            write_json_string(out.buffer(), &text);
        }
        FieldAction::Unquote => match serde_json::from_str::<String>(value) {
            Ok(inner) => out.buffer().extend_from_slice(inner.as_bytes()),
            Err(_) => write_compact(out, value),
        },
        FieldAction::Canonical => match payload::canonical_number(value) {
            Some(number) => write_json_string(out.buffer(), &number),
            None => write_json_string(out.buffer(), value),
        },
    }
    out.buffer().push(b',');
}

/// `"_sdc_overflow":{...},`: the fields without a column, by their payload names.
fn write_overflow<S: Sink + ?Sized>(out: &mut S, overflow: &[(Cow<'_, str>, &str)]) {
    write_json_string(out.buffer(), OVERFLOW_FIELD);
    out.buffer().extend_from_slice(b":{");
    for (name, value) in overflow {
        write_json_string(out.buffer(), name);
        out.buffer().push(b':');
        write_compact(out, value);
        out.buffer().push(b',');
    }
    out.buffer().pop();
    out.buffer().extend_from_slice(b"},");
}

/// The tap's columns (sequence, received time, their aliases, headers, query, key), which
/// close the record, and `time_extracted`, which closes the line.
#[inline(always)]
fn write_tap_columns(out: &mut Vec<u8>, meta: &RecordMeta<'_>) {
    let mut sequence = itoa::Buffer::new();
    let sequence = sequence.format(meta.sequence.get());
    for name in meta.sequence_alias.into_iter().chain([SEQUENCE_FIELD]) {
        write_json_string(out, name);
        out.push(b':');
        out.extend_from_slice(sequence.as_bytes());
        out.push(b',');
    }
    for name in meta
        .received_at_alias
        .into_iter()
        .chain([RECEIVED_AT_FIELD])
    {
        write_json_string(out, name);
        out.extend_from_slice(b":\"");
        out.extend_from_slice(meta.received_at.as_bytes());
        out.extend_from_slice(b"\",");
    }
    for (name, object) in [(HEADERS_FIELD, meta.headers), (QUERY_FIELD, meta.query)] {
        if let Some(object) = object {
            write_json_string(out, name);
            out.push(b':');
            out.extend_from_slice(object.as_bytes());
            out.push(b',');
        }
    }
    out.pop();
    if let Some(key) = meta.key {
        out.extend_from_slice(br#","__sdc_primary_key":""#);
        key.write_to(out);
        out.push(b'"');
    }
    out.extend_from_slice(br#"},"time_extracted":""#);
    out.extend_from_slice(meta.received_at.as_bytes());
    out.extend_from_slice(b"\"}\n");
}

/// Writes a JSON string literal.
pub fn write_json_string(out: &mut Vec<u8>, s: &str) {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        serde_json::to_writer(&mut *out, s).expect("writing to a Vec cannot fail");
    }
}

/// Copies valid JSON text without insignificant whitespace, so that a pretty-printed payload
/// still gives one line per message. Strings are skipped over with `memchr`, and runs without
/// whitespace are copied whole: this sits on the path of every record.
pub fn write_compact<S: Sink + ?Sized>(out: &mut S, raw: &str) {
    let bytes = raw.as_bytes();
    if !bytes
        .iter()
        .any(|b| matches!(b, b' ' | b'\n' | b'\r' | b'\t'))
    {
        out.append(bytes);
        return;
    }
    let (mut run, mut i) = (0, 0);
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                // To the closing quote, jumping over escapes.
                i += 1;
                while let Some(at) = bytes
                    .get(i..)
                    .and_then(|rest| memchr::memchr2(b'"', b'\\', rest))
                {
                    i += at + 1;
                    if bytes[i - 1] == b'"' {
                        break;
                    }
                    i += 1; // the escaped byte
                }
            }
            b' ' | b'\n' | b'\r' | b'\t' => {
                out.append(&bytes[run..i]);
                i += 1;
                run = i;
            }
            _ => i += 1,
        }
    }
    out.append(bytes.get(run..).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::payload::RecordRules;
    use crate::convert::visit::parse_payload;
    use serde_json::json;

    /// Counts the writes it gets, to see large values bypass the buffer.
    struct Counting<'a>(&'a mut Vec<u8>, &'a mut usize);

    impl Write for Counting<'_> {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            *self.1 += 1;
            self.0.extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn large_values_bypass_the_buffer_and_give_the_same_line() {
        let big = "x".repeat(PASS_THROUGH * 3);
        let pretty = format!("[{}]", vec!["1"; 2 * FLUSH_AT].join(", "));
        // A compact value is passed through; a pretty one is compacted into the buffer, which
        // is written out as it grows.
        for (body, most_buffered) in [
            (format!(r#"{{"a":1,"big":"{big}","b":2}}"#), PASS_THROUGH),
            (
                format!(r#"{{"a":1,"big":{pretty},"b":2}}"#),
                4 * FLUSH_AT + 1,
            ),
        ] {
            let payload = parse_payload(body.as_bytes(), &RecordRules::default()).unwrap();
            let meta = RecordMeta {
                sequence: Sequence::new(1),
                received_at: "t",
                key: None,
                sequence_alias: None,
                received_at_alias: None,
                overflow: &[],
                headers: None,
                query: None,
            };
            let raw = |_, _: &str, _: &str| FieldAction::Raw;
            let mut expected = Vec::new();
            write_record(&mut expected, "data", &payload.records[0], &meta, raw);
            let (mut written, mut writes) = (Vec::new(), 0);
            let mut out = Output::new(Counting(&mut written, &mut writes));
            out.state(&json!({}));
            write_record(&mut out, "data", &payload.records[0], &meta, raw);
            assert!(out.buf.len() < most_buffered);
            out.flush().unwrap();
            drop(out);
            assert!(writes >= 2);
            assert_eq!(
                written[..].strip_prefix(&b"{\"type\":\"STATE\",\"value\":{}}\n"[..]),
                Some(&expected[..])
            );
        }
    }

    #[test]
    fn a_failed_pass_through_write_is_reported_by_the_next_flush() {
        struct Broken;
        impl Write for Broken {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut out = Output::new(Broken);
        out.append(&vec![b'1'; PASS_THROUGH]);
        assert_eq!(
            out.maybe_flush().unwrap_err().kind(),
            io::ErrorKind::BrokenPipe
        );
    }

    fn rules(keys: &[&str]) -> RecordRules {
        RecordRules {
            primary_key: keys.iter().map(|k| k.to_string()).collect(),
            handshake: None,
        }
    }

    #[test]
    fn record_line_is_compact_and_carries_the_sdc_columns() {
        let body = b"{ \"id\" : 1,\n \"note\": \"a  b\\\"\\n\",\n \"nested\": { \"x\": [1, 2] } }";
        let p = parse_payload(body, &rules(&[])).unwrap();
        let mut out = Vec::new();
        let key = RecordKey::derive(b"j", Sequence::new(7));
        let meta = RecordMeta {
            sequence: Sequence::new(1_790_000_000_000_000_007),
            received_at: "2026-09-21T10:00:00.000000Z",
            key: Some(key),
            sequence_alias: Some("seq"),
            received_at_alias: None,
            overflow: &[],
            headers: Some(r#"{"x-github-event":"push"}"#),
            query: None,
        };
        write_record(
            &mut out,
            "data",
            &p.records[0],
            &meta,
            |_, name, _| match name {
                "id" => FieldAction::Stringify,
                _ => FieldAction::Raw,
            },
        );
        let line = String::from_utf8(out).unwrap();
        assert!(line.ends_with('\n') && line.matches('\n').count() == 1);
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["type"], "RECORD");
        assert_eq!(v["record"]["note"], "a  b\"\n");
        assert_eq!(v["record"]["nested"]["x"][1], 2);
        assert_eq!(v["record"]["_sdc_sequence"], 1_790_000_000_000_000_007u64);
        assert_eq!(v["record"]["seq"], 1_790_000_000_000_000_007u64);
        assert_eq!(v["record"]["id"], "1");
        assert_eq!(v["record"]["__sdc_primary_key"], key.to_string());
        assert_eq!(v["record"]["_sdc_headers"]["x-github-event"], "push");
        assert!(v["record"].get("_sdc_query").is_none());
        assert_eq!(v["time_extracted"], "2026-09-21T10:00:00.000000Z");
    }

    #[test]
    fn compact_copy_drops_whitespace_outside_strings_only() {
        let cases = [
            ("[1, 2]", "[1,2]"),
            ("{ \"a b\" : \"c  d\" }", "{\"a b\":\"c  d\"}"),
            (
                r#"{"q": "say \"hi there\"", "e": "\\", "n": [ ]}"#,
                r#"{"q":"say \"hi there\"","e":"\\","n":[]}"#,
            ),
            ("\"x \\\\\" ", "\"x \\\\\""),
            ("\t{\r\n\"k\":\n null}\n", "{\"k\":null}"),
            ("\"no-space\"", "\"no-space\""),
        ];
        for (raw, compact) in cases {
            let mut out = Vec::new();
            write_compact(&mut out, raw);
            assert_eq!(String::from_utf8(out).unwrap(), compact, "{raw:?}");
        }
    }

    #[test]
    fn stringify_keeps_the_json_text_and_unquote_restores_numbers() {
        let p = parse_payload(
            br#"{"o":{"a": [1, "x"]},"n":"12.5","b":"true"}"#,
            &rules(&[]),
        )
        .unwrap();
        let meta = RecordMeta {
            sequence: Sequence::new(1),
            received_at: "t",
            key: None,
            sequence_alias: None,
            received_at_alias: None,
            overflow: &[],
            headers: None,
            query: Some(r#"{"a":"1"}"#),
        };
        let mut out = Vec::new();
        write_record(
            &mut out,
            "data",
            &p.records[0],
            &meta,
            |_, name, _| match name {
                "o" => FieldAction::Stringify,
                _ => FieldAction::Unquote,
            },
        );
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["record"]["o"], r#"{"a":[1,"x"]}"#);
        assert_eq!(v["record"]["n"], 12.5);
        assert_eq!(v["record"]["b"], true);
    }
}
