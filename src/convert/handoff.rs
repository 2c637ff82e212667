//! The receiver's split of a payload, handed to the emitter of the same process so that it
//! does not parse the body a second time.
//!
//! The receiver parses every body to check it and count its records ([`crate::convert::visit::parse_payload`]); the
//! emitter reads the entry back from the journal and needs the same split. A [`Split`] keeps
//! that split as byte offsets into the JSON text (a parsed payload borrows from the body, so it
//! cannot outlive the request). The receiver attaches its split to the entry it appends
//! ([`crate::journal::OnDurable`]): the journal's writer gives it to the [`Handoff`] under the
//! entry's first sequence once the entry is durable, before it tells the emitter that the entry
//! is there. The emitter takes it when it reaches that entry and rebuilds the records from the
//! bytes it read, without parsing.
//!
//! It is only a shortcut: the journal stays the record of what was accepted, and the emitter
//! parses whatever has no split (a full hand-off while the emitter lags, the backlog, another
//! receiver's entries in a shared journal, an entry a NATS journal's reader reached before
//! its append was acknowledged here, replay). A split that does not fit the bytes it is
//! applied to is not used.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Mutex;

use crate::convert::payload::{Fields, Payload};
use crate::sequence::Sequence;

/// A payload's records as offsets into the JSON text they were parsed from.
#[derive(Debug)]
pub struct Split {
    /// Length of that text: a split is only applied to text of the same length.
    len: usize,
    fields: Vec<SplitField>,
    /// Where each record's fields end in `fields`.
    record_ends: Vec<u32>,
}

#[derive(Debug)]
struct SplitField {
    /// The name as the text holds it, or decoded (a name with escapes).
    name: Result<Range<u32>, Box<str>>,
    value: Range<u32>,
}

impl Split {
    /// The split of `payload`, parsed from `json`; `None` if a part of it does not lie in
    /// `json` (it always does for [`crate::convert::visit::parse_payload`]'s result).
    pub fn of(payload: &Payload<'_>, json: &[u8]) -> Option<Split> {
        let base = json.as_ptr() as usize;
        let at = |text: &str| -> Option<Range<u32>> {
            let start = (text.as_ptr() as usize).checked_sub(base)?;
            let end = start.checked_add(text.len())?;
            (end <= json.len()).then_some(u32::try_from(start).ok()?..u32::try_from(end).ok()?)
        };
        let mut fields = Vec::with_capacity(payload.records.iter().map(|r| r.fields.len()).sum());
        let mut record_ends = Vec::with_capacity(payload.records.len());
        for record in &payload.records {
            for (name, value) in &record.fields {
                let name = match name {
                    Cow::Borrowed(name) => Ok(at(name)?),
                    Cow::Owned(name) => Err(name.as_str().into()),
                };
                fields.push(SplitField {
                    name,
                    value: at(value)?,
                });
            }
            record_ends.push(u32::try_from(fields.len()).ok()?);
        }
        Some(Split {
            len: json.len(),
            fields,
            record_ends,
        })
    }

    /// The records again, borrowing from `json` (the text this split was made from). `None`
    /// if the split does not fit `json`: the caller parses it instead. The records are not
    /// checked again: the receiver checked them under the same rules as the emitter (one
    /// config, one process).
    pub fn payload<'a>(&self, json: &'a [u8]) -> Option<Payload<'a>> {
        if json.len() != self.len {
            return None;
        }
        // One check of the whole text; each part is then a slice at character boundaries.
        let json = std::str::from_utf8(json).ok()?;
        let text = |range: &Range<u32>| json.get(range.start as usize..range.end as usize);
        let mut records = Vec::with_capacity(self.record_ends.len());
        let mut start = 0;
        for &end in &self.record_ends {
            let mut record = Fields {
                fields: Vec::with_capacity((end as usize).saturating_sub(start)),
            };
            for field in self.fields.get(start..end as usize)? {
                let name = match &field.name {
                    Ok(range) => Cow::Borrowed(text(range)?),
                    Err(name) => Cow::Owned(name.to_string()),
                };
                record.fields.push((name, text(&field.value)?));
            }
            records.push(record);
            start = end as usize;
        }
        Some(Payload { records })
    }

    /// Fields and records it holds: what its memory grows with (a few dozen bytes each).
    fn parts(&self) -> usize {
        self.fields.len() + self.record_ends.len()
    }
}

/// The receiver's splits of durable entries, waiting for the emitter, by the first sequence of
/// their entry. Bounded in splits and in the fields they hold: while the emitter lags, further
/// splits are not kept (those entries are parsed again).
pub struct Handoff {
    waiting: Mutex<Waiting>,
    capacity: Capacity,
}

#[derive(Default)]
struct Waiting {
    splits: BTreeMap<Sequence, Split>,
    parts: usize,
}

/// How much a [`Handoff`] keeps at most.
#[derive(Clone, Copy, Debug)]
pub struct Capacity {
    pub splits: usize,
    /// Fields and records, all splits together.
    pub parts: usize,
}

/// 4,096 splits, 1 Mi fields (some 32 MB, for bodies as wide as `max_fields` allows).
pub const HANDOFF_CAPACITY: Capacity = Capacity {
    splits: 4096,
    parts: 1 << 20,
};

impl Default for Handoff {
    fn default() -> Self {
        Handoff::with_capacity(HANDOFF_CAPACITY)
    }
}

impl Handoff {
    pub fn with_capacity(capacity: Capacity) -> Self {
        Handoff {
            waiting: Mutex::new(Waiting::default()),
            capacity,
        }
    }

    fn waiting(&self) -> std::sync::MutexGuard<'_, Waiting> {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keeps `split` for the entry whose first sequence is `first`, which is durable.
    pub fn give(&self, first: Sequence, split: Split) {
        let mut waiting = self.waiting();
        let parts = waiting.parts + split.parts();
        if waiting.splits.len() < self.capacity.splits && parts <= self.capacity.parts {
            waiting.parts = parts;
            if let Some(replaced) = waiting.splits.insert(first, split) {
                waiting.parts -= replaced.parts();
            }
        }
    }

    /// The split of the entry whose first sequence is `first`, if it was given; splits of
    /// earlier entries are dropped (the emitter has passed them).
    pub fn take(&self, first: Sequence) -> Option<Split> {
        let mut waiting = self.waiting();
        let split = waiting.splits.remove(&first);
        let mut freed = split.as_ref().map_or(0, Split::parts);
        while let Some(entry) = waiting.splits.first_entry() {
            if *entry.key() >= first {
                break;
            }
            freed += entry.remove().parts();
        }
        waiting.parts -= freed;
        split
    }

    /// Splits waiting.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.waiting().splits.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::payload::RecordRules;
    use crate::convert::visit::parse_payload;

    fn rules(keys: &[&str]) -> RecordRules {
        RecordRules {
            primary_key: keys.iter().map(|k| k.to_string()).collect(),
            handshake: None,
        }
    }

    /// What the emitter gets from a split is what parsing the same bytes gives.
    #[test]
    fn a_split_rebuilds_exactly_what_parsing_gives() {
        let bodies: [&[u8]; 6] = [
            br#"{"id":1,"a":{"b":[1,2]},"s":"x\"y"}"#,
            br#"[{"id":1},{"id":2,"x":null},{"id":3,"caf\u00e9":"\u00e9t\u00e9"}]"#,
            "\u{feff}{\"id\":\"é\",\"n\":12345678901234567890}".as_bytes(),
            br#"{"id":1,"id":2,"b":true}"#,
            br#"{"id":7,"na\"me":[{"deep":{"x":1}}],"e":{}}"#,
            br#"  {"id" : 1 ,  "spaced" : [ 1 , 2 ] }  "#,
        ];
        for body in bodies {
            let parsed = parse_payload(body, &rules(&["id"])).unwrap();
            let split = Split::of(&parsed, body).expect("every part lies in the body");
            let rebuilt = split.payload(body).unwrap();
            assert_eq!(
                format!("{:?}", rebuilt.records),
                format!("{:?}", parsed.records),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn a_split_is_not_applied_to_other_bytes() {
        let body = br#"[{"id":1},{"x":2}]"#;
        let split = Split::of(&parse_payload(body, &rules(&[])).unwrap(), body).unwrap();
        assert!(split.payload(br#"[{"id":1},{"x":2}] "#).is_none());
        // Same length, but the offsets cut a character in two: parsed instead.
        let other = "[{\"id\":1},{\"\u{e9}\":}]".as_bytes();
        assert_eq!(other.len(), body.len());
        assert!(split.payload(other).is_none());
    }

    #[test]
    fn the_handoff_keeps_what_the_emitter_has_not_passed_and_is_bounded() {
        let body = br#"{"id":1}"#;
        let split = || Split::of(&parse_payload(body, &rules(&[])).unwrap(), body).unwrap();
        let handoff = Handoff::with_capacity(Capacity {
            splits: 3,
            parts: 100,
        });
        for s in [5, 7, 9, 11] {
            handoff.give(Sequence::new(s), split());
        }
        assert_eq!(handoff.len(), 3, "the fourth is not kept");
        assert!(handoff.take(Sequence::new(6)).is_none());
        assert!(handoff.take(Sequence::new(9)).is_some());
        assert!(handoff.len() == 0, "5 and 7 were passed: dropped");
        assert!(handoff.take(Sequence::new(11)).is_none());
        // Bounded by the fields held too: a split of 60 fields, then one of 50, does not fit
        // in 100 until the first is taken.
        let wide = |n: usize| {
            let fields: Vec<String> = (0..n).map(|i| format!(r#""f{i}":{i}"#)).collect();
            let body = format!("{{{}}}", fields.join(","));
            Split::of(
                &parse_payload(body.as_bytes(), &rules(&[])).unwrap(),
                body.as_bytes(),
            )
            .unwrap()
        };
        handoff.give(Sequence::new(20), wide(60));
        handoff.give(Sequence::new(21), wide(50));
        assert_eq!(handoff.len(), 1);
        assert!(handoff.take(Sequence::new(20)).is_some());
        handoff.give(Sequence::new(21), wide(50));
        assert!(handoff.take(Sequence::new(21)).is_some());
    }
}
