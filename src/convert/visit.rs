//! Reading a payload's records a chunk at a time, so that a body of millions of small records
//! never holds them all: memory stays bounded by the chunk, whatever the number of records.
//!
//! [`visit_payload`] parses the body once, borrowing every field from it, and hands the records
//! to a visitor in order, at most [`CHUNK_RECORDS`] records or [`CHUNK_FIELDS`] fields at a
//! time. Each record is checked as [`parse_payload`] checks it,
//! and errors are judged as it judges them: malformed JSON first, then an element that is not an
//! object, then a record that fails its checks, in order. The last chunk is handed over only
//! once the whole body has been read, so a payload of one chunk (nearly all) is visited only if
//! it is valid whole; a larger one may have had earlier chunks visited before a later error is
//! found.

use std::borrow::Cow;
use std::convert::Infallible;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::payload::{Fields, Payload, PayloadError, RecordRules, check_record, too_deep_or};

macro_rules! scalar_visits {
    ($wrap:expr) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($wrap("a boolean"))
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($wrap("a number"))
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($wrap("a number"))
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($wrap("a number"))
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok($wrap("a string"))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($wrap("null"))
        }
    };
}

/// Most records handed to a visitor at once.
pub const CHUNK_RECORDS: usize = 4096;
/// Most fields handed to a visitor at once (a chunk of a few wide records).
pub const CHUNK_FIELDS: usize = 1 << 16;

/// Records of a payload handed to a visitor: `payload.records[j]` is record `first + j`. The
/// visitor may take them (they borrow from the body, not from the chunk).
pub struct Chunk<'p, 'a> {
    pub payload: &'p mut Payload<'a>,
    pub first: usize,
    /// The chunk holds every record of the payload.
    pub whole: bool,
}

/// Why visiting a payload stopped.
#[derive(Debug)]
pub enum VisitError<E> {
    /// The payload cannot become records.
    Payload(PayloadError),
    /// The visitor stopped (the rest of the body was not read).
    Visitor(E),
}

impl Chunk<'_, '_> {
    /// Whether its records are named by their index in refusals (not when the payload is one
    /// record).
    pub fn indexed(&self) -> bool {
        !self.whole || self.payload.records.len() > 1
    }
}

impl<E> From<PayloadError> for VisitError<E> {
    fn from(e: PayloadError) -> Self {
        VisitError::Payload(e)
    }
}

/// Splits a body into records: an object is one record, an array of objects one each.
/// All-or-nothing: one bad element refuses the whole payload. Holds every record at once: the
/// paths that take webhooks read payloads a chunk at a time instead ([`visit_payload`]).
pub fn parse_payload<'a>(body: &'a [u8], rules: &RecordRules) -> Result<Payload<'a>, PayloadError> {
    collect(|each| visit_payload(body, rules, each))
}

/// Every record a visit hands over, in one payload.
pub fn collect<'a>(
    visit: impl FnOnce(
        &mut dyn FnMut(Chunk<'_, 'a>) -> Result<(), Infallible>,
    ) -> Result<usize, VisitError<Infallible>>,
) -> Result<Payload<'a>, PayloadError> {
    let mut records = Vec::new();
    let visited = visit(&mut |chunk: Chunk<'_, 'a>| {
        records.append(&mut chunk.payload.records);
        Ok(())
    });
    match visited {
        Ok(_) => Ok(Payload { records }),
        Err(VisitError::Payload(e)) => Err(e),
        Err(VisitError::Visitor(never)) => match never {},
    }
}

/// Reads the records of `body` (an object, or an array of objects) in order, handing them to
/// `each` a chunk at a time; returns how many there are.
pub fn visit_payload<'a, E>(
    body: &'a [u8],
    rules: &RecordRules,
    each: &mut dyn FnMut(Chunk<'_, 'a>) -> Result<(), E>,
) -> Result<usize, VisitError<E>> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let mut visit = Visit {
        rules,
        each,
        chunk: Payload {
            records: Vec::new(),
        },
        fields: 0,
        first: 0,
        count: 0,
        is_array: false,
        shape: None,
        invalid: None,
        stopped: None,
    };
    let mut de = serde_json::Deserializer::from_slice(body);
    let read = TopSeed(&mut visit)
        .deserialize(&mut de)
        .and_then(|top| de.end().map(|()| top));
    if let Some(stopped) = visit.stopped.take() {
        return Err(VisitError::Visitor(stopped));
    }
    if let Some(found) = read.map_err(PayloadError::Malformed)? {
        visit.shape = Some(PayloadError::NotARecord(found));
    }
    if let Some(shape) = visit.shape.take() {
        return Err(too_deep_or(body, shape).into());
    }
    visit.flush(true);
    if let Some(stopped) = visit.stopped.take() {
        return Err(VisitError::Visitor(stopped));
    }
    match visit.invalid.take() {
        Some(invalid) => Err(invalid.into()),
        None => Ok(visit.count),
    }
}

/// The state of one visit.
struct Visit<'r, 'v, 'a, E> {
    rules: &'r RecordRules,
    each: &'v mut dyn FnMut(Chunk<'_, 'a>) -> Result<(), E>,
    /// The records read and not yet handed over.
    chunk: Payload<'a>,
    /// Fields in `chunk`.
    fields: usize,
    /// The index of `chunk`'s first record.
    first: usize,
    count: usize,
    is_array: bool,
    /// The first element that is not an object.
    shape: Option<PayloadError>,
    /// The first record that failed its checks.
    invalid: Option<PayloadError>,
    /// The visitor's error.
    stopped: Option<E>,
}

impl<'a, E> Visit<'_, '_, 'a, E> {
    /// Whether nothing more is handed over (an error is known): records are still read, so that
    /// malformed JSON further on is what is reported, but not kept.
    fn failed(&self) -> bool {
        self.shape.is_some() || self.invalid.is_some()
    }

    fn push(&mut self, record: Fields<'a>) -> Result<(), Stop> {
        self.count += 1;
        if self.failed() {
            return Ok(());
        }
        self.fields += record.fields.len();
        self.chunk.records.push(record);
        if self.chunk.records.len() >= CHUNK_RECORDS || self.fields >= CHUNK_FIELDS {
            self.flush(false);
        }
        match self.stopped {
            Some(_) => Err(Stop),
            None => Ok(()),
        }
    }

    fn not_a_record(&mut self, found: &'static str) {
        let index = self.count;
        self.count += 1;
        if self.shape.is_none() {
            self.shape = Some(PayloadError::ElementNotARecord { index, found });
        }
    }

    /// Checks the records read so far and hands them over; `last`: the body has been read.
    fn flush(&mut self, last: bool) {
        if self.failed() {
            self.chunk.records.clear();
            return;
        }
        for (j, record) in self.chunk.records.iter().enumerate() {
            let index = self.is_array.then_some(self.first + j);
            if let Err(e) = check_record(record, self.rules, index) {
                self.invalid = Some(e);
                self.chunk.records.clear();
                return;
            }
        }
        let taken = self.chunk.records.len();
        let chunk = Chunk {
            payload: &mut self.chunk,
            first: self.first,
            whole: last && self.first == 0,
        };
        if let Err(e) = (self.each)(chunk) {
            self.stopped = Some(e);
        }
        self.first += taken;
        self.chunk.records.clear();
        self.fields = 0;
    }
}

/// The visitor stopped: the parse ends here (not an error of the body).
struct Stop;

/// Reads the top of a payload into a [`Visit`].
struct TopSeed<'s, 'r, 'v, 'a, E>(&'s mut Visit<'r, 'v, 'a, E>);

/// `Some(what it is)` for a top that is neither an object nor an array.
type TopShape = Option<&'static str>;

impl<'de, V> DeserializeSeed<'de> for TopSeed<'_, '_, '_, 'de, V> {
    type Value = TopShape;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<TopShape, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, V> Visitor<'de> for TopSeed<'_, '_, '_, 'de, V> {
    type Value = TopShape;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object or an array of objects")
    }
    scalar_visits!(Some);
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<TopShape, A::Error> {
        let fields = visit_fields(map)?;
        self.0
            .push(fields)
            .map_err(|Stop| de::Error::custom("stopped"))?;
        Ok(None)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<TopShape, A::Error> {
        self.0.is_array = true;
        while let Some(element) = seq.next_element::<Element<'de>>()? {
            match element {
                Element::Object(fields) => {
                    self.0
                        .push(fields)
                        .map_err(|Stop| de::Error::custom("stopped"))?;
                }
                Element::Other(found) => self.0.not_a_record(found),
            }
        }
        Ok(None)
    }
}

// Deserialization into borrowed fields.

enum Element<'a> {
    Object(Fields<'a>),
    Other(&'static str),
}

/// A field name, borrowed unless it had escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

fn visit_fields<'de, A: MapAccess<'de>>(mut map: A) -> Result<Fields<'de>, A::Error> {
    let mut fields: Vec<(Cow<'de, str>, &'de str)> =
        Vec::with_capacity(map.size_hint().unwrap_or(16));
    while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
        let value: &'de RawValue = map.next_value()?;
        fields.push((key, value.get()));
    }
    Ok(Fields {
        fields: dedupe_last_wins(fields),
    })
}

/// Keeps each key at its first position with its last value, as JSON parsers in Python and
/// JavaScript do. Linear in the number of fields, however many a hostile body has.
fn dedupe_last_wins<'a>(fields: Vec<(Cow<'a, str>, &'a str)>) -> Vec<(Cow<'a, str>, &'a str)> {
    // Few fields (most payloads): comparing each name with those before it is cheaper than
    // hashing them all.
    const FEW: usize = 32;
    if fields.len() <= FEW
        && !(1..fields.len()).any(|i| fields[..i].iter().any(|(k, _)| *k == fields[i].0))
    {
        return fields;
    }
    let mut first_at: std::collections::HashMap<&str, usize> =
        std::collections::HashMap::with_capacity(fields.len());
    let mut last_value: Vec<Option<&'a str>> = vec![None; fields.len()];
    let mut duplicates = false;
    for (i, (key, value)) in fields.iter().enumerate() {
        let at = *first_at.entry(key.as_ref()).or_insert(i);
        duplicates |= at != i;
        last_value[at] = Some(*value);
    }
    if !duplicates {
        return fields;
    }
    let keep: Vec<bool> = last_value.iter().map(Option::is_some).collect();
    fields
        .into_iter()
        .zip(keep)
        .zip(last_value)
        .filter_map(|(((key, _), keep), value)| keep.then(|| (key, value.expect("kept"))))
        .collect()
}

impl<'de> Deserialize<'de> for Element<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ElementVisitor;
        impl<'de> Visitor<'de> for ElementVisitor {
            type Value = Element<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            scalar_visits!(Element::Other);
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Element<'de>, A::Error> {
                visit_fields(map).map(Element::Object)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Element<'de>, A::Error> {
                // Skip the nested array as raw text: no recursion, whatever its depth.
                while seq.next_element::<&'de RawValue>()?.is_some() {}
                Ok(Element::Other("an array"))
            }
        }
        d.deserialize_any(ElementVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::Converter;
    use crate::convert::payload::{canonical_number, is_reserved_field};
    use crate::convert::routing::StreamSettings;

    fn rules(keys: &[&str]) -> RecordRules {
        RecordRules {
            primary_key: keys.iter().map(|k| k.to_string()).collect(),
            handshake: None,
        }
    }

    fn names(p: &Payload<'_>) -> Vec<Vec<String>> {
        p.records
            .iter()
            .map(|r| r.fields.iter().map(|(k, _)| k.to_string()).collect())
            .collect()
    }

    #[test]
    fn object_is_one_record_and_array_is_one_each() {
        let p = parse_payload(br#"{"id":1,"a":{"b":[1,2]}}"#, &rules(&[])).unwrap();
        assert_eq!(names(&p), [["id", "a"]]);
        let p = parse_payload(br#"[{"id":1},{"id":2,"x":null}]"#, &rules(&["id"])).unwrap();
        assert_eq!(names(&p), vec![vec!["id"], vec!["id", "x"]]);
    }

    #[test]
    fn refusals_name_what_is_wrong() {
        let e = parse_payload(b"{\"id\":", &rules(&[])).unwrap_err();
        assert!(e.is_malformed());
        assert!(e.to_string().contains("line 1 column 6"), "{e}");
        let e = parse_payload(b"\"hi\"", &rules(&[])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "body must be a JSON object or an array of objects, not a string"
        );
        let e = parse_payload(br#"[{"id":1},[1]]"#, &rules(&[])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "element 1 of the array must be an object, not an array"
        );
        let e = parse_payload(br#"[{"id":1},{"id":null}]"#, &rules(&["id"])).unwrap_err();
        assert_eq!(e.to_string(), "element 1: primary key field \"id\" is null");
        let e = parse_payload(br#"{"id":{"a":1}}"#, &rules(&["id"])).unwrap_err();
        assert!(!e.is_malformed());
        assert!(e.to_string().contains("an object"), "{e}");
        let e = parse_payload(br#"{"x":1}"#, &rules(&["id"])).unwrap_err();
        assert_eq!(e.to_string(), "primary key field \"id\" is missing");
    }

    #[test]
    fn deep_nesting_is_refused_without_recursion() {
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        let e = parse_payload(deep.as_bytes(), &rules(&[])).unwrap_err();
        assert!(matches!(e, PayloadError::TooDeep), "{e}");
        let deep_top = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(parse_payload(deep_top.as_bytes(), &rules(&[])).is_err());
        let ok = format!("{{\"a\":{}{}}}", "[".repeat(100), "]".repeat(100));
        assert!(parse_payload(ok.as_bytes(), &rules(&[])).is_ok());
    }

    #[test]
    fn unpaired_surrogates_and_numbers_beyond_a_double_are_malformed() {
        let no_key = RecordRules::default();
        for body in [
            r#"{"s":"\ud999 tail"}"#,
            r#"{"s":"\udc00"}"#,
            r#"{"s":["\ud83d\u0041"]}"#,
            r#"{"s":{"k":"x\\\ud800"}}"#,
            r#"{"a":1,"a":56.555E010003}"#,
            r#"{"n":[-1e309]}"#,
            r#"{"s":"\"","n":1e999}"#,
            r#"{"s":["\\\"\\",{"t":"\u00e9\ud800x"}]}"#,
        ] {
            let e = parse_payload(body.as_bytes(), &no_key).unwrap_err();
            assert!(e.is_malformed(), "{body}: {e}");
        }
        for body in [
            r#"{"s":"\ud83d\ude00 \u00e9 \\ud800"}"#,
            r#"{"s":"\\\\"}"#,
            r#"{"n":[1e308,-1.5e-400,123456789012345678901234567890,"1e999"]}"#,
            r#"{"s":"a\"1e999\"b \ud83d\ude00","t":"\ud83d\ude00"}"#,
        ] {
            assert!(parse_payload(body.as_bytes(), &no_key).is_ok(), "{body}");
        }
    }

    #[test]
    fn duplicate_keys_keep_the_last_value_and_reserved_fields_are_kept_for_escaping() {
        let p = parse_payload(br#"{"a":1,"b":2,"a":3,"_sdc_sequence":5}"#, &rules(&[])).unwrap();
        let r = &p.records[0];
        assert_eq!(names(&p), [["a", "b", "_sdc_sequence"]]);
        assert_eq!(r.get("a").unwrap(), "3");
    }

    #[test]
    fn the_metadata_namespace_is_any_case() {
        for name in ["_sdc_x", "_SDC_SEQUENCE", "__sdc_primary_key", "__SdC_"] {
            assert!(is_reserved_field(name), "{name}");
        }
        for name in ["_sdc", "sdc_x", "x_sdc_x", "___sdc_x", "", "_sdč_"] {
            assert!(!is_reserved_field(name), "{name}");
        }
    }

    #[test]
    fn empty_string_keys_are_refused_like_missing_ones() {
        let e = parse_payload(br#"{"id":""}"#, &rules(&["id"])).unwrap_err();
        assert!(!e.is_malformed());
        assert_eq!(e.to_string(), "primary key field \"id\" is an empty string");
        assert!(parse_payload(br#"{"id":" "}"#, &rules(&["id"])).is_ok());
        assert!(parse_payload(br#"{"id":1e999999}"#, &rules(&["id"])).is_err());
    }

    #[test]
    fn numeric_keys_have_one_canonical_form() {
        for (raw, canonical) in [
            ("42", "42"),
            ("42.0", "42"),
            ("4.2e1", "42"),
            ("420E-1", "42"),
            ("0.0042e+4", "42"),
            ("1.50", "1.5"),
            ("-0.0", "0"),
            ("-0", "0"),
            ("0", "0"),
            ("-12.5e-3", "-0.0125"),
            ("820982911946154508", "820982911946154508"),
            ("1e3", "1000"),
            ("007", "7"),
        ] {
            assert_eq!(canonical_number(raw).as_deref(), Some(canonical), "{raw}");
        }
        assert_eq!(canonical_number("1e401"), None);
        assert_eq!(canonical_number("1e99999999999"), None);
    }

    fn array_of(n: usize, element: &str) -> String {
        let mut body = String::from("[");
        for i in 0..n {
            if i > 0 {
                body.push(',');
            }
            body.push_str(&element.replace("{i}", &i.to_string()));
        }
        body.push(']');
        body
    }

    /// (first, records, whole) of each chunk visited.
    fn chunks(body: &str) -> Result<Vec<(usize, usize, bool)>, VisitError<()>> {
        let mut seen = Vec::new();
        visit_payload(body.as_bytes(), &RecordRules::default(), &mut |c| {
            seen.push((c.first, c.payload.records.len(), c.whole));
            Ok(())
        })?;
        Ok(seen)
    }

    #[test]
    fn a_large_payload_is_visited_a_chunk_at_a_time_in_order() {
        let n = 2 * CHUNK_RECORDS + 5;
        let seen = chunks(&array_of(n, "{}")).unwrap();
        assert_eq!(
            seen,
            [
                (0, CHUNK_RECORDS, false),
                (CHUNK_RECORDS, CHUNK_RECORDS, false),
                (2 * CHUNK_RECORDS, 5, false)
            ]
        );
        assert_eq!(chunks(&array_of(3, "{}")).unwrap(), [(0, 3, true)]);
        assert_eq!(chunks("{\"a\":1}").unwrap(), [(0, 1, true)]);
        assert_eq!(chunks("[]").unwrap(), [(0, 0, true)]);
        // Wide records end a chunk early.
        let wide = format!(
            "{{{}}}",
            (0..1000)
                .map(|f| format!("\"f{f}\":{f}"))
                .collect::<Vec<_>>()
                .join(",")
        );
        let seen = chunks(&array_of(70, &wide)).unwrap();
        assert_eq!(seen[0], (0, CHUNK_FIELDS / 1000 + 1, false));
    }

    #[test]
    fn errors_are_judged_as_in_a_whole_parse() {
        let n = CHUNK_RECORDS + 10;
        // Malformed JSON at the end wins over a bad element and a bad key before it.
        let mut body = array_of(n, r#"{"id":{i}}"#);
        body.insert_str(1, r#"{"id":null},7,"#);
        body.push('x');
        let rules = RecordRules {
            primary_key: vec!["id".into()],
            handshake: None,
        };
        let visit = |body: &str| visit_payload(body.as_bytes(), &rules, &mut |_| Ok::<(), ()>(()));
        assert!(matches!(
            visit(&body),
            Err(VisitError::Payload(PayloadError::Malformed(_)))
        ));
        body.pop();
        // Then the element that is not an object, wherever it is.
        let e = visit(&body).unwrap_err();
        assert!(
            matches!(
                e,
                VisitError::Payload(PayloadError::ElementNotARecord { index: 1, .. })
            ),
            "{e:?}"
        );
        // Then the first record that fails its checks.
        let body = body.replacen("7,", "", 1);
        let e = visit(&body).unwrap_err();
        assert!(
            matches!(
                e,
                VisitError::Payload(PayloadError::BadKey { index: Some(0), .. })
            ),
            "{e:?}"
        );
    }

    #[test]
    fn records_sees_no_record_of_a_large_payload_that_is_invalid_further_on() {
        let rules = RecordRules::default();
        let streams = StreamSettings::default();
        let converter = Converter::new(&rules, &streams);
        let mut body = array_of(3 * CHUNK_RECORDS, "{}");
        body.insert_str(body.len() - 1, ",5");
        let mut visited = 0;
        let result = converter.records(body.as_bytes(), &mut |c| {
            visited += c.payload.records.len();
            Ok::<(), ()>(())
        });
        assert!(matches!(result, Err(VisitError::Payload(_))));
        assert_eq!(visited, 0);
        body = array_of(3 * CHUNK_RECORDS, "{}");
        let count = converter
            .records(body.as_bytes(), &mut |c| {
                visited += c.payload.records.len();
                Ok::<(), ()>(())
            })
            .unwrap();
        assert_eq!((count, visited), (3 * CHUNK_RECORDS, 3 * CHUNK_RECORDS));
    }
}
