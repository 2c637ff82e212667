//! What the inspector remembers, in memory and bounded: the last deliveries and refusals, and
//! per stream its counts and the records of each of the last minutes' seconds.
//!
//! Every string kept is cut to a fixed length and every collection has a fixed capacity, so the
//! whole takes at most [`MEMORY_BOUND_BYTES`] whatever arrives (a test fills it with the
//! largest items and checks). Bodies are not kept: a delivery's sequence reads its body back
//! from the journal.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use http::StatusCode;

use crate::sequence::Sequence;
use crate::tokens::TokenId;

/// Deliveries remembered.
pub const DELIVERIES: usize = 200;
/// Refusals remembered.
pub const REFUSALS: usize = 100;
/// Streams counted; a route value beyond them is counted in the default stream, as
/// `max_streams` sends it there.
pub const STREAMS: usize = 128;
/// Seconds of per-second counts kept for each stream's sparkline.
pub const RATE_SECONDS: usize = 300;
/// Longest text kept of a content type, delivery id, reason, token id or stream name.
pub const MAX_TEXT_BYTES: usize = 128;
/// Longest refused body prefix kept.
pub const BODY_PREFIX_BYTES: usize = 512;

/// At most this many bytes are held by [`Rings`], its structures and every string in it.
pub const MEMORY_BOUND_BYTES: usize = DELIVERIES * (size_of::<Delivery>() + 4 * MAX_TEXT_BYTES)
    + REFUSALS * (size_of::<Refused>() + 3 * MAX_TEXT_BYTES + BODY_PREFIX_BYTES)
    + STREAMS * (STREAM_NODE_BYTES + MAX_TEXT_BYTES + size_of::<StreamStats>() + RATE_SECONDS * 4)
    + 2 * INTERNED * (size_of::<Arc<str>>() + MAX_TEXT_BYTES);

const _: () = assert!(
    MEMORY_BOUND_BYTES < 512 * 1024,
    "the rings hold at most 512 KiB"
);

/// What one entry of the streams' map takes beyond its value, at most (a B-tree node holds
/// up to 11 keys and values, at least 5, plus its edges).
const STREAM_NODE_BYTES: usize = (size_of::<Arc<str>>() + 2 * size_of::<usize>()) * 3;

/// Text cut to at most `max` bytes, at a character boundary.
pub fn cut(text: &str, max: usize) -> Box<str> {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].into()
}

/// Bytes shown as text: invalid UTF-8 replaced, cut to `max` bytes.
pub fn cut_bytes(bytes: &[u8], max: usize) -> Box<str> {
    let head = &bytes[..bytes.len().min(max)];
    cut(&String::from_utf8_lossy(head), max)
}

/// An accepted webhook, once journaled.
#[derive(Clone, Debug)]
pub struct Delivery {
    pub sequence: Sequence,
    pub received_at: DateTime<Utc>,
    /// The stream of its first record.
    pub stream: Arc<str>,
    /// Streams its other records went to (with `route: {"field": ...}`).
    pub other_streams: u16,
    pub records: u32,
    pub bytes: u64,
    /// Shared with the deliveries before it that had the same ([`Interned`]).
    pub content_type: Option<Arc<str>>,
    pub delivery_id: Option<Box<str>>,
    pub token_id: Option<Arc<str>>,
}

/// The last few distinct values of a short text that repeats from delivery to delivery (a
/// content type, a token id), so that a delivery shares one instead of copying it.
#[derive(Debug, Default)]
pub struct Interned {
    recent: VecDeque<Arc<str>>,
}

/// Values an [`Interned`] keeps.
const INTERNED: usize = 8;

impl Interned {
    /// The kept value for `bytes` (cut to [`MAX_TEXT_BYTES`]), made if it is new.
    pub fn get(&mut self, bytes: &[u8]) -> Arc<str> {
        if let Some(kept) = self.recent.iter().find(|k| k.as_bytes() == bytes) {
            return Arc::clone(kept);
        }
        let kept: Arc<str> = Arc::from(cut_bytes(bytes, MAX_TEXT_BYTES));
        if self.recent.len() == INTERNED {
            self.recent.pop_back();
        }
        self.recent.push_front(Arc::clone(&kept));
        kept
    }
}

/// A refused request.
#[derive(Clone, Debug)]
pub struct Refused {
    /// Numbers refusals in the order they happened, from 1.
    pub id: u64,
    pub at: DateTime<Utc>,
    pub status: StatusCode,
    pub reason: Box<str>,
    pub remote_addr: Option<SocketAddr>,
    pub token_id: Option<TokenId>,
    /// Bytes of the body read, when it was read.
    pub body_bytes: Option<u64>,
    pub body_prefix: Option<Box<str>>,
}

/// Records per second over the last [`RATE_SECONDS`] seconds.
#[derive(Clone, Debug)]
pub struct Rates {
    counts: Box<[u32; RATE_SECONDS]>,
    /// The newest second counted (Unix time).
    newest: i64,
}

impl Default for Rates {
    fn default() -> Self {
        Rates {
            counts: Box::new([0; RATE_SECONDS]),
            newest: 0,
        }
    }
}

impl Rates {
    fn slot(second: i64) -> usize {
        second.rem_euclid(RATE_SECONDS as i64) as usize
    }

    /// Moves the window forward to `second`, clearing the seconds it passes.
    fn advance(&mut self, second: i64) {
        if second <= self.newest {
            return;
        }
        let gap = (second - self.newest).min(RATE_SECONDS as i64);
        for s in (second - gap + 1)..=second {
            self.counts[Self::slot(s)] = 0;
        }
        self.newest = second;
    }

    pub fn add(&mut self, second: i64, records: u32) {
        self.advance(second);
        if second > self.newest - RATE_SECONDS as i64 {
            let slot = &mut self.counts[Self::slot(second)];
            *slot = slot.saturating_add(records);
        }
    }

    /// The counts of the `RATE_SECONDS` seconds up to `now`, oldest first.
    pub fn window(&self, now: i64) -> Vec<u32> {
        (now - RATE_SECONDS as i64 + 1..=now)
            .map(|s| {
                if s > self.newest || s <= self.newest - RATE_SECONDS as i64 {
                    0
                } else {
                    self.counts[Self::slot(s)]
                }
            })
            .collect()
    }
}

/// One stream, since the process started.
#[derive(Clone, Debug)]
pub struct StreamStats {
    /// Its name, as the map's key holds it.
    pub name: Arc<str>,
    pub records: u64,
    pub deliveries: u64,
    pub last_delivery: Option<(DateTime<Utc>, Sequence)>,
    pub rates: Rates,
}

impl StreamStats {
    /// Counts a delivery of `records`; returns the stream's name.
    fn add(&mut self, records: u32, at: DateTime<Utc>, seq: Sequence) -> Arc<str> {
        self.records += u64::from(records);
        self.deliveries += 1;
        self.last_delivery = Some((at, seq));
        self.rates.add(at.timestamp(), records);
        Arc::clone(&self.name)
    }
}

/// Everything remembered, behind the inspector's one lock.
#[derive(Debug, Default)]
pub struct Rings {
    pub deliveries: VecDeque<Delivery>,
    pub refusals: VecDeque<Refused>,
    pub streams: BTreeMap<Arc<str>, StreamStats>,
    pub refused_total: u64,
    pub delivered_total: u64,
    pub content_types: Interned,
    pub token_ids: Interned,
}

impl Rings {
    pub fn new() -> Self {
        Rings {
            deliveries: VecDeque::with_capacity(DELIVERIES),
            refusals: VecDeque::with_capacity(REFUSALS),
            ..Rings::default()
        }
    }

    /// Counts `records` of a delivery in stream `name` (in `fallback` once [`STREAMS`] are
    /// counted); returns the stream's name as kept.
    pub fn count(
        &mut self,
        name: &str,
        fallback: &Arc<str>,
        records: u32,
        at: DateTime<Utc>,
        seq: Sequence,
    ) -> Arc<str> {
        if let Some(stats) = self.streams.get_mut(name) {
            return stats.add(records, at, seq);
        }
        let kept: Arc<str> = if self.streams.len() < STREAMS - 1 || name == &**fallback {
            Arc::from(cut(name, MAX_TEXT_BYTES))
        } else {
            Arc::clone(fallback)
        };
        let stats = self
            .streams
            .entry(Arc::clone(&kept))
            .or_insert_with(|| StreamStats {
                name: kept,
                records: 0,
                deliveries: 0,
                last_delivery: None,
                rates: Rates::default(),
            });
        stats.add(records, at, seq)
    }

    pub fn push_delivery(&mut self, delivery: Delivery) {
        if self.deliveries.len() == DELIVERIES {
            self.deliveries.pop_front();
        }
        self.deliveries.push_back(delivery);
        self.delivered_total += 1;
    }

    pub fn push_refusal(&mut self, mut refused: Refused) {
        self.refused_total += 1;
        refused.id = self.refused_total;
        if self.refusals.len() == REFUSALS {
            self.refusals.pop_front();
        }
        self.refusals.push_back(refused);
    }

    /// Bytes held now: the structures and every string in them (what
    /// [`MEMORY_BOUND_BYTES`] bounds).
    pub fn heap_bytes(&self) -> usize {
        let text = |t: &Option<Box<str>>| t.as_ref().map_or(0, |t| t.len());
        let token = |t: &Option<TokenId>| t.as_ref().map_or(0, |t| t.as_str().len());
        let shared = |t: &Option<Arc<str>>| t.as_ref().map_or(0, |t| t.len());
        let deliveries: usize = self
            .deliveries
            .iter()
            .map(|d| {
                size_of::<Delivery>()
                    + d.stream.len()
                    + shared(&d.content_type)
                    + text(&d.delivery_id)
                    + shared(&d.token_id)
            })
            .sum();
        let refusals: usize = self
            .refusals
            .iter()
            .map(|r| {
                size_of::<Refused>() + r.reason.len() + text(&r.body_prefix) + token(&r.token_id)
            })
            .sum();
        let streams: usize = self
            .streams
            .keys()
            .map(|name| {
                STREAM_NODE_BYTES + name.len() + size_of::<StreamStats>() + RATE_SECONDS * 4
            })
            .sum();
        let interned = (self.content_types.recent.iter())
            .chain(&self.token_ids.recent)
            .map(|t| size_of::<Arc<str>>() + t.len())
            .sum::<usize>();
        deliveries + refusals + streams + interned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(second: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(second, 0).unwrap()
    }

    #[test]
    fn rates_count_each_second_and_forget_what_left_the_window() {
        let mut rates = Rates::default();
        rates.add(1_000, 3);
        rates.add(1_000, 2);
        rates.add(1_002, 7);
        let window = rates.window(1_002);
        assert_eq!(window.len(), RATE_SECONDS);
        assert_eq!(&window[RATE_SECONDS - 3..], [5, 0, 7]);
        // A second long gone is not counted; the window moves on.
        rates.add(500, 9);
        assert_eq!(rates.window(1_002).iter().sum::<u32>(), 12);
        rates.add(1_002 + RATE_SECONDS as i64, 1);
        let later = rates.window(1_002 + RATE_SECONDS as i64);
        assert_eq!(later.iter().sum::<u32>(), 1, "older seconds cleared");
        assert_eq!(rates.window(5_000).iter().sum::<u32>(), 0, "nothing lately");
    }

    #[test]
    fn text_is_cut_at_a_character_boundary() {
        assert_eq!(&*cut("héllo", 2), "h");
        assert_eq!(&*cut("héllo", 3), "hé");
        assert_eq!(&*cut_bytes(b"ab\xffcd", 3), "ab");
    }

    /// The rings filled past their capacity with the largest items stay within the bound.
    #[test]
    fn the_rings_stay_within_their_memory_bound() {
        let mut rings = Rings::new();
        let default: Arc<str> = Arc::from("data");
        let long = "x".repeat(10 * MAX_TEXT_BYTES);
        for i in 0..(STREAMS * 3) as i64 {
            let name = format!("{i}{long}");
            rings.count(&name, &default, 1, at(i), Sequence::new(i as u64));
        }
        assert_eq!(rings.streams.len(), STREAMS);
        for i in 0..DELIVERIES * 3 {
            let content_type = rings.content_types.get(format!("{i}{long}").as_bytes());
            let token_id = rings.token_ids.get(format!("{i}{long}").as_bytes());
            rings.push_delivery(Delivery {
                sequence: Sequence::new(i as u64),
                received_at: at(0),
                stream: Arc::clone(&default),
                other_streams: 0,
                records: 1,
                bytes: 1,
                content_type: Some(content_type),
                delivery_id: Some(cut(&long, MAX_TEXT_BYTES)),
                token_id: Some(token_id),
            });
        }
        for _ in 0..REFUSALS * 3 {
            rings.push_refusal(Refused {
                id: 0,
                at: at(0),
                status: StatusCode::UNAUTHORIZED,
                reason: cut(&long, MAX_TEXT_BYTES),
                remote_addr: None,
                token_id: None,
                body_bytes: Some(1 << 20),
                body_prefix: Some(cut(&long, BODY_PREFIX_BYTES)),
            });
        }
        assert_eq!(rings.deliveries.len(), DELIVERIES);
        assert_eq!(rings.refusals.len(), REFUSALS);
        assert_eq!(rings.refusals.back().unwrap().id, REFUSALS as u64 * 3);
        let held = rings.heap_bytes();
        assert!(held <= MEMORY_BOUND_BYTES, "{held} > {MEMORY_BOUND_BYTES}");
    }
}
