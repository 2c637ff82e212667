//! The one conversion path: a body, with the content type and headers it came with, → records.
//!
//! The receiver (to check a request before it is journaled), the emitter (journal entries, live
//! and backlog) and replay (captured files, the journal again) all convert through
//! [`Converter`]; nothing else decodes a body, so a payload gives the same records whichever
//! way it arrives. The steps:
//!
//! 1. the body's media type → JSON text ([`media`]);
//! 2. a handshake (a provider checking the URL) gives no records ([`handshake`]);
//! 3. the JSON → records of raw top-level fields, with the configured key checked
//!    ([`payload`]);
//! 4. each record's stream ([`routing`]) and, where streams have keys of their own, that
//!    stream's key.
//!
//! [`handoff`] caches the receiver's conversion of a live body for the emitter of the same
//! process, so that it is not parsed twice.

use std::borrow::Cow;

use crate::capture::Header;

pub mod handoff;
pub mod handshake;
pub mod media;
pub mod payload;
pub mod routing;
pub mod visit;

use handshake::Handshake;
use media::{Kind, MediaError};
use payload::{Payload, PayloadError, RecordRules};
use routing::StreamSettings;
use visit::{Chunk, VisitError};

/// What a JSON body is.
#[derive(Debug)]
pub enum Converted {
    /// A provider checking the URL: answered, never recorded.
    Handshake(Handshake),
    /// This many records, handed to the visitor.
    Records(usize),
}

/// A record that lacks the key of the stream it is routed to.
#[derive(Debug, thiserror::Error)]
#[error("{whose}: {error}")]
pub struct StreamKeyError {
    whose: String,
    pub error: PayloadError,
}

/// The settings that decide what a body becomes, borrowed from whoever holds them (the
/// receiver, the emitter).
#[derive(Clone, Copy, Debug)]
pub struct Converter<'s> {
    pub rules: &'s RecordRules,
    pub streams: &'s StreamSettings,
}

impl<'s> Converter<'s> {
    pub fn new(rules: &'s RecordRules, streams: &'s StreamSettings) -> Self {
        Converter { rules, streams }
    }

    /// A body as JSON text, read as its media type says (borrowed when it already is JSON).
    pub fn json<'b>(kind: &Kind, body: &'b [u8]) -> Result<Cow<'b, [u8]>, MediaError> {
        media::to_json(kind, body)
    }

    /// A journal entry's body as JSON text, read as the content type journaled with it says
    /// (none: JSON), exactly as the receiver read it.
    pub fn entry_json<'b>(headers: &[Header], body: &'b [u8]) -> Result<Cow<'b, [u8]>, MediaError> {
        let kind =
            media::kind_of_entry(headers.iter().map(|h| (h.name.as_ref(), h.value.as_ref())))?;
        Self::json(&kind, body)
    }

    /// JSON text → a handshake, or records under the configured rules, handed to `each` a
    /// chunk at a time (so that no body holds all its records at once).
    pub fn convert<'a, E>(
        &self,
        json: &'a [u8],
        each: &mut dyn FnMut(Chunk<'_, 'a>) -> Result<(), E>,
    ) -> Result<Converted, VisitError<E>> {
        if let Some(handshake) = self.handshake(json) {
            return Ok(Converted::Handshake(handshake));
        }
        self.visit(json, each).map(Converted::Records)
    }

    /// The handshake JSON text is (under the configured kind), if it is one: [`Self::convert`]
    /// in two steps, for the receiver, which answers some handshakes before their signature.
    pub fn handshake(&self, json: &[u8]) -> Option<Handshake> {
        handshake::detect(json, self.rules.handshake)
    }

    /// JSON text that is no handshake → records, handed to `each` a chunk at a time.
    pub fn visit<'a, E>(
        &self,
        json: &'a [u8],
        each: &mut dyn FnMut(Chunk<'_, 'a>) -> Result<(), E>,
    ) -> Result<usize, VisitError<E>> {
        visit::visit_payload(json, self.rules, each)
    }

    /// JSON text → records handed to `each` a chunk at a time; a handshake gives none. A
    /// payload of more than one chunk is read through once first: `each` sees no record of a
    /// payload that cannot be converted whole.
    pub fn records<'a, E>(
        &self,
        json: &'a [u8],
        each: &mut dyn FnMut(Chunk<'_, 'a>) -> Result<(), E>,
    ) -> Result<usize, VisitError<E>> {
        let mut large = false;
        let first_try = self.convert(json, &mut |chunk| {
            if !chunk.whole {
                large = true;
                return Err(None);
            }
            each(chunk).map_err(Some)
        });
        match first_try {
            Ok(Converted::Handshake(_)) => Ok(0),
            Ok(Converted::Records(count)) => Ok(count),
            Err(VisitError::Visitor(None)) if large => {
                visit::visit_payload(json, self.rules, &mut |_| Ok::<(), E>(()))?;
                visit::visit_payload(json, self.rules, each)
            }
            Err(VisitError::Visitor(Some(e))) => Err(VisitError::Visitor(e)),
            Err(VisitError::Visitor(None)) => unreachable!("only a large payload stops early"),
            Err(VisitError::Payload(e)) => Err(VisitError::Payload(e)),
        }
    }

    /// JSON text → all its records at once (a handshake gives none). Bounded only by the
    /// body: for captured files, not for webhooks.
    pub fn payload<'a>(&self, json: &'a [u8]) -> Result<Payload<'a>, PayloadError> {
        visit::collect(|each| self.records(json, each))
    }

    /// Checks, where streams have keys of their own, that each record of a chunk of a payload
    /// carries the key of the stream it is routed to, and the default stream's where
    /// `max_streams` may send it there: no accepted record lacks the key of the stream it
    /// ends in.
    pub fn check_stream_keys(
        &self,
        chunk: &Chunk<'_, '_>,
        headers: &[Header],
    ) -> Result<(), StreamKeyError> {
        if !self.streams.keys_vary() {
            return Ok(());
        }
        let indexed = chunk.indexed();
        for (j, record) in chunk.payload.records.iter().enumerate() {
            let i = chunk.first + j;
            let stream = self
                .streams
                .route(headers, record)
                .unwrap_or_else(|| self.streams.default.clone());
            for (name, keys) in self.streams.required_keys(&stream) {
                let Err(error) = payload::check_record_keys(record, &keys, indexed.then_some(i))
                else {
                    continue;
                };
                let whose = if name == stream {
                    format!("stream {name}")
                } else {
                    format!("stream {name} (where max_streams may send stream {stream})")
                };
                return Err(StreamKeyError { whose, error });
            }
        }
        Ok(())
    }
}
