//! Payloads: a body split into records, each a list of its top-level fields, and the checks
//! every record passes.
//!
//! Webhook bodies, journal entries and replayed files are all read by
//! [`crate::convert::visit`] (and written by [`crate::singer::write_record`]), so the same
//! payload gives the same record whatever its origin. Reading borrows from the body: each
//! top-level field keeps its value as raw JSON text (a `&str`, read through serde_json's
//! `RawValue`), which is only checked (nesting
//! depth) and later copied out compacted; it is never built into a tree. A live entry's split
//! can also come from the receiver ([`crate::convert::handoff`]) instead of a second parse.

use std::borrow::Cow;

/// Columns the tap adds to every record.
pub const SEQUENCE_FIELD: &str = "_sdc_sequence";
pub const RECEIVED_AT_FIELD: &str = "_sdc_received_at";
pub const GENERATED_KEY_FIELD: &str = "__sdc_primary_key";
/// The JSON object column holding a record's fields once its stream has `max_columns`.
pub const OVERFLOW_FIELD: &str = "_sdc_overflow";
/// The request metadata columns (`capture_headers`, `capture_query`). A payload field of the
/// same name is replaced by the tap's value only when the tap writes one.
pub const HEADERS_FIELD: &str = "_sdc_headers";
pub const QUERY_FIELD: &str = "_sdc_query";

/// Deepest nesting accepted in a payload. Deeper documents are refused with 400: they are
/// not data anyone loads, and Python-based targets fail on them.
pub const MAX_DEPTH: usize = 128;

/// Whether `name` is in the Singer metadata namespace (`_sdc_…` or `__sdc_…`, any case), which
/// belongs to the tap and the targets: payload fields with such names are written under an
/// escaped name ([`crate::schema::names`]).
pub fn is_reserved_field(name: &str) -> bool {
    let bytes = name.as_bytes();
    let starts = |prefix: &[u8]| {
        bytes
            .get(..prefix.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
    };
    starts(b"_sdc_") || starts(b"__sdc_")
}

/// What the records of a payload must satisfy.
#[derive(Clone, Debug, Default)]
pub struct RecordRules {
    /// Configured key fields: present, non-null and scalar in every record.
    pub primary_key: Vec<String>,
    /// The configured `handshake` kind: its handshake bodies give no records.
    pub handshake: Option<crate::convert::handshake::HandshakeKind>,
}

/// A payload split into records, borrowing from the body.
#[derive(Debug)]
pub struct Payload<'a> {
    pub records: Vec<Fields<'a>>,
}

/// The top-level fields of one record, in payload order, keys unique (last value wins). Each
/// value is its raw JSON text, valid JSON as the body holds it.
#[derive(Clone, Debug, Default)]
pub struct Fields<'a> {
    pub fields: Vec<(Cow<'a, str>, &'a str)>,
}

impl<'a> Fields<'a> {
    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.fields.iter().find(|(k, _)| k == name).map(|(_, v)| *v)
    }
}

/// Why a payload cannot become records.
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    #[error("malformed JSON: {0}")]
    Malformed(serde_json::Error),
    #[error("JSON nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    #[error(
        "malformed JSON: a string has an unpaired UTF-16 surrogate escape (\\u{0}), which is not text"
    )]
    LoneSurrogate(String),
    #[error("malformed JSON: number {0} is beyond the range of a double")]
    NumberOutOfRange(String),
    #[error("body must be a JSON object or an array of objects, not {0}")]
    NotARecord(&'static str),
    #[error("element {index} of the array must be an object, not {found}")]
    ElementNotARecord { index: usize, found: &'static str },
    #[error("{}primary key field {key:?} is {problem}", at(*.index))]
    BadKey {
        index: Option<usize>,
        key: String,
        problem: &'static str,
    },
}

fn at(index: Option<usize>) -> String {
    index.map_or_else(String::new, |i| format!("element {i}: "))
}

impl PayloadError {
    /// True for documents that are not valid JSON (400); false for valid JSON that cannot be
    /// a record (422).
    pub fn is_malformed(&self) -> bool {
        matches!(
            self,
            PayloadError::Malformed(_)
                | PayloadError::TooDeep
                | PayloadError::LoneSurrogate(_)
                | PayloadError::NumberOutOfRange(_)
        )
    }
}

/// Checks one record of a payload (element `index` of an array) as [`parse_payload`] does:
/// no value nested too deep, no scalar a strict reader would refuse, the configured key.
pub(super) fn check_record(
    record: &Fields<'_>,
    rules: &RecordRules,
    index: Option<usize>,
) -> Result<(), PayloadError> {
    for (_, value) in &record.fields {
        if may_be_too_deep(value) && nesting_depth(value) >= MAX_DEPTH {
            return Err(PayloadError::TooDeep);
        }
        check_scalars(value)?;
    }
    check_keys(record, rules, index)
}

/// Refuses what serde_json lets through in raw values but decodes to no value: `\uD800`–`\uDFFF`
/// escapes that do not form a pair (no text), and numbers beyond the range of a double (which
/// strict readers reject and others read as infinity). Assumes valid JSON.
fn check_scalars(raw: &str) -> Result<(), PayloadError> {
    let bytes = raw.as_bytes();
    let hex_at = |i: usize| -> Option<u16> {
        let digits = bytes.get(i..i + 4)?;
        u16::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
    };
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                // Through the string to its closing quote, jumping from escape to escape: this
                // runs over every payload twice (receiver and emitter), so it must be cheap.
                i += 1;
                while let Some(at) = bytes
                    .get(i..)
                    .and_then(|rest| memchr::memchr2(b'"', b'\\', rest))
                {
                    i += at;
                    if bytes[i] == b'"' {
                        break;
                    }
                    if bytes.get(i + 1) != Some(&b'u') {
                        i += 2;
                        continue;
                    }
                    let unit = hex_at(i + 2).unwrap_or(0);
                    if (0xD800..=0xDBFF).contains(&unit) {
                        let low = (bytes.get(i + 6..i + 8) == Some(&b"\\u"[..]))
                            .then(|| hex_at(i + 8))
                            .flatten();
                        if !low.is_some_and(|low| (0xDC00..=0xDFFF).contains(&low)) {
                            return Err(PayloadError::LoneSurrogate(format!("{unit:04x}")));
                        }
                        i += 12;
                        continue;
                    }
                    if (0xDC00..=0xDFFF).contains(&unit) {
                        return Err(PayloadError::LoneSurrogate(format!("{unit:04x}")));
                    }
                    i += 6;
                }
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i < bytes.len()
                    && matches!(bytes[i], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
                {
                    i += 1;
                }
                let number = &raw[start..i];
                let may_overflow =
                    number.len() > 300 || number.bytes().any(|c| c == b'e' || c == b'E');
                if may_overflow && !number.parse::<f64>().is_ok_and(f64::is_finite) {
                    let shown: String = number.chars().take(40).collect();
                    return Err(PayloadError::NumberOutOfRange(shown));
                }
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

/// Whether a value (valid JSON) may nest [`MAX_DEPTH`] deep: only if it has that many opening
/// brackets, and so at least twice that many bytes. A quick count spares the exact scan.
fn may_be_too_deep(raw: &str) -> bool {
    raw.len() >= 2 * MAX_DEPTH
        && raw.bytes().filter(|&b| b == b'{' || b == b'[').count() >= MAX_DEPTH
}

/// A document nested deeper than [`MAX_DEPTH`] is refused as too deep (400) whatever its
/// shape, so that depth is judged the same everywhere.
pub(super) fn too_deep_or(body: &[u8], shape: PayloadError) -> PayloadError {
    if nesting_depth_bytes(body) > MAX_DEPTH {
        PayloadError::TooDeep
    } else {
        shape
    }
}

fn check_keys(
    record: &Fields<'_>,
    rules: &RecordRules,
    index: Option<usize>,
) -> Result<(), PayloadError> {
    check_record_keys(record, &rules.primary_key, index)
}

/// Checks that `record` (element `index` of an array) has every field of `primary_key`,
/// non-null and scalar. Used after routing, when each stream has its own key.
pub fn check_record_keys(
    record: &Fields<'_>,
    primary_key: &[String],
    index: Option<usize>,
) -> Result<(), PayloadError> {
    for key in primary_key {
        let problem = match record.get(key).map(|v| v.as_bytes()[0]) {
            None => "missing",
            Some(b'n') => "null",
            Some(b'{') => "an object; keys must be scalars",
            Some(b'[') => "an array; keys must be scalars",
            Some(b'"') if record.get(key) == Some("\"\"") => "an empty string",
            Some(b'-' | b'0'..=b'9') => match record.get(key).map(canonical_number) {
                Some(None) => "a number with an exponent beyond ±400; keys must be written out",
                _ => continue,
            },
            Some(_) => continue,
        };
        return Err(PayloadError::BadKey {
            index,
            key: key.clone(),
            problem,
        });
    }
    Ok(())
}

/// Largest exponent a numeric key may have: its canonical form is written out in full.
const MAX_KEY_EXPONENT: i64 = 400;

/// The one form a numeric key is written in (as a string): plain decimal, no exponent, no
/// leading zeros, no trailing zeros after the point, no point for a whole number, `0` for
/// minus zero. `42`, `42.0`, `4.2e1` and `420E-1` all give `42`; `1.50` gives `1.5`. Exact
/// on the digits (a 64-bit id keeps every digit). `None` for an exponent beyond ±400, or text
/// that is not a JSON number.
pub fn canonical_number(raw: &str) -> Option<String> {
    let (negative, rest) = match raw.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, raw),
    };
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(at) => {
            let exp = rest[at + 1..].strip_prefix('+').unwrap_or(&rest[at + 1..]);
            let exp: i64 = if exp.len() > 6 {
                return None;
            } else {
                exp.parse().ok()?
            };
            (&rest[..at], exp)
        }
        None => (rest, 0),
    };
    if exponent.abs() > MAX_KEY_EXPONENT {
        return None;
    }
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty() || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    // digits × 10^(point - digits.len()): the point sits `point` digits from the left.
    let digits: String = format!("{int}{frac}");
    let point = int.len() as i64 + exponent;
    let lead = digits.bytes().take_while(|&b| b == b'0').count();
    let digits = &digits[lead..];
    let point = point - lead as i64;
    let digits = digits.trim_end_matches('0');
    if digits.is_empty() {
        return Some("0".to_owned());
    }
    let mut out = String::with_capacity(digits.len() + 2);
    if negative {
        out.push('-');
    }
    let len = digits.len() as i64;
    if point <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-point) as usize));
        out.push_str(digits);
    } else if point >= len {
        out.push_str(digits);
        out.extend(std::iter::repeat_n('0', (point - len) as usize));
    } else {
        out.push_str(&digits[..point as usize]);
        out.push('.');
        out.push_str(&digits[point as usize..]);
    }
    Some(out)
}

/// Nesting depth of a JSON text (0 for a scalar). Assumes valid JSON.
fn nesting_depth(raw: &str) -> usize {
    nesting_depth_bytes(raw.as_bytes())
}

fn nesting_depth_bytes(bytes: &[u8]) -> usize {
    let bytes = bytes.trim_ascii_start();
    if !matches!(bytes.first(), Some(b'{' | b'[')) {
        return 0;
    }
    let (mut depth, mut max, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &b in bytes {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                max = max.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}
