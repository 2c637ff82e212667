//! The inspector: what arrives, seen live on the operations listener (`ops_bind`).
//!
//! The receiver tells an [`Inspector`] of each delivery once it is journaled
//! ([`Inspector::delivered`]) and of each refusal ([`Inspector::refused`]); it keeps the last
//! ones in bounded rings ([`rings`]). [`api`] serves them as JSON under `/api/`, with the
//! tap's status, each stream's columns from the persisted schemas, tokens, and one delivery
//! read back from the journal with the records it becomes ([`detail`]); [`page`] serves the
//! one page at `/` that shows them. [`summary`] describes a journal entry in one line, for
//! `tail` and the page alike.
//!
//! Nothing here holds a token or a signature: the journaled headers never had them, and a
//! refused request's reason and body are cut and cleaned of the token it presented.

pub mod api;
pub mod detail;
pub mod page;
pub mod pretty;
pub mod rings;
pub mod summary;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::StatusCode;

use crate::capture::{Header, secrets};
pub use crate::config::ops::{InspectorSettings, OpsToken};
use crate::convert::payload::Fields;
use crate::convert::routing::{Route, StreamSettings};
use crate::sequence::Sequence;
use crate::tokens::TokenId;
use rings::{BODY_PREFIX_BYTES, Delivery, MAX_TEXT_BYTES, Refused, Rings, cut, cut_bytes};

/// What the receiver knows of a delivery before it is journaled, beside its counts. Borrowed
/// where it can be: an accepted request costs the inspector no copy but its delivery id's.
#[derive(Debug)]
pub struct Arrival<'a> {
    pub delivery_id: Option<Box<str>>,
    pub routed: Routed,
    pub content_type: Option<&'a [u8]>,
    pub token_id: Option<&'a TokenId>,
}

/// The streams a body's records are routed to, with their counts (`None`: the default
/// stream). The first is kept inline: most bodies go to one stream.
#[derive(Debug, Default)]
pub struct Routed {
    first: Option<(Option<String>, u32)>,
    more: Vec<(Option<String>, u32)>,
}

impl Routed {
    /// Counts the records of one chunk of a body. A header or path route sends every record of
    /// a body to one stream, found from the first; a field route is followed record by record.
    pub fn count(&mut self, streams: &StreamSettings, headers: &[Header], records: &[Fields<'_>]) {
        let Some(first) = records.first() else {
            return;
        };
        let n = records.len() as u32;
        match &streams.route {
            None => self.add(None, n),
            Some(Route::Header(_) | Route::Path) => self.add(streams.route(headers, first), n),
            Some(Route::Field(_)) => {
                for record in records {
                    self.add(streams.route(headers, record), 1);
                }
            }
        }
    }

    fn add(&mut self, stream: Option<String>, n: u32) {
        match &mut self.first {
            None => self.first = Some((stream, n)),
            Some((s, count)) if *s == stream => *count += n,
            Some(_) => match self.more.iter_mut().find(|(s, _)| *s == stream) {
                Some((_, count)) => *count += n,
                None => self.more.push((stream, n)),
            },
        }
    }

    /// The streams (`None`: the default one) and their record counts, the first record's first.
    pub fn iter(&self) -> impl Iterator<Item = (Option<&str>, u32)> {
        self.first
            .iter()
            .chain(&self.more)
            .map(|(s, n)| (s.as_deref(), *n))
    }
}

/// The inspector's memory, fed by the receiver and read by the API.
pub struct Inspector {
    rings: Mutex<Rings>,
    default_stream: Arc<str>,
    settings: InspectorSettings,
    /// Kept beside the journal's own: the configured delivery id header comes first.
    idempotency_header: Option<String>,
    started_at: DateTime<Utc>,
    started: Instant,
}

impl Inspector {
    pub fn new(
        settings: InspectorSettings,
        default_stream: &str,
        idempotency_header: Option<String>,
    ) -> Self {
        Inspector {
            rings: Mutex::new(Rings::new()),
            default_stream: Arc::from(default_stream),
            settings,
            idempotency_header,
            started_at: Utc::now(),
            started: Instant::now(),
        }
    }

    pub fn settings(&self) -> &InspectorSettings {
        &self.settings
    }

    pub fn started_at(&self) -> DateTime<Utc> {
        self.started_at
    }

    pub fn uptime_seconds(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    fn lock(&self) -> MutexGuard<'_, Rings> {
        self.rings.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reads what is remembered, under the lock (keep `f` short: the receiver waits on it).
    pub fn read<T>(&self, f: impl FnOnce(&Rings) -> T) -> T {
        f(&self.lock())
    }

    /// What a delivery's journaled headers say identifies it (see [`summary::delivery_id`]).
    pub fn delivery_id(&self, headers: &[Header]) -> Option<Box<str>> {
        summary::delivery_id(headers, self.idempotency_header.as_deref())
            .map(|id| cut_bytes(id, MAX_TEXT_BYTES))
    }

    /// A delivery of `records` records and `bytes` bytes, received at `received_at` and
    /// journaled at `sequence`.
    pub fn delivered(
        &self,
        arrival: Arrival<'_>,
        sequence: Sequence,
        received_at: DateTime<Utc>,
        records: u32,
        bytes: u64,
    ) {
        let mut rings = self.lock();
        let mut first = None;
        let mut streams = 0usize;
        for (stream, n) in arrival.routed.iter() {
            let name = stream.unwrap_or(&self.default_stream);
            let kept = rings.count(name, &self.default_stream, n, received_at, sequence);
            first.get_or_insert(kept);
            streams += 1;
        }
        let content_type = arrival.content_type.map(|t| rings.content_types.get(t));
        let token_id = arrival
            .token_id
            .map(|t| rings.token_ids.get(t.as_str().as_bytes()));
        rings.push_delivery(Delivery {
            sequence,
            received_at,
            stream: first.unwrap_or_else(|| Arc::clone(&self.default_stream)),
            other_streams: streams.saturating_sub(1).min(usize::from(u16::MAX)) as u16,
            records,
            bytes,
            content_type,
            delivery_id: arrival.delivery_id,
            token_id,
        });
    }

    /// A refused request. `token` is the token it presented, kept out of what is remembered.
    pub fn refused(&self, refusal: Refusal<'_>) {
        let token = refusal.token.and_then(secrets::Token::new);
        let redact = |text: &str| secrets::redact_text(text, token.as_ref()).into_owned();
        let body_prefix = refusal
            .body
            .filter(|_| self.settings.inspect_bodies)
            .map(|body| {
                let head = &body[..body.len().min(BODY_PREFIX_BYTES)];
                cut(&redact(&String::from_utf8_lossy(head)), BODY_PREFIX_BYTES)
            });
        let refused = Refused {
            id: 0,
            at: Utc::now(),
            status: refusal.status,
            reason: cut(&redact(refusal.reason), MAX_TEXT_BYTES),
            remote_addr: refusal.remote_addr,
            token_id: refusal.token_id.cloned(),
            body_bytes: refusal.body.map(|b| b.len() as u64),
            body_prefix,
        };
        self.lock().push_refusal(refused);
    }
}

/// What the receiver knows of a refused request.
pub struct Refusal<'a> {
    pub status: StatusCode,
    pub reason: &'a str,
    pub remote_addr: Option<SocketAddr>,
    pub token_id: Option<&'a TokenId>,
    pub body: Option<&'a Bytes>,
    /// The token presented (in the path or a header), never remembered.
    pub token: Option<&'a str>,
}
