//! The emitter: payloads (journal entries or replayed files) → Singer messages.
//!
//! It writes the stream's SCHEMA first, then a RECORD per record (a new cumulative SCHEMA
//! before any record that adds a field or widens a type), a STATE as records flow (every
//! second live; every so many records in a replay, so that replays are deterministic), and
//! always a final STATE. The STATE bookmark names the last record written, so a run started
//! with it emits nothing twice and loses nothing.
//!
//! Every payload, whatever its origin, goes through [`Emitter::parse`] and
//! [`Emitter::emit_records`]; only the [`Origin`] (sequence, time, key source, place, request
//! headers) differs.
//!
//! Streams: each record is routed when it is emitted
//! ([`StreamSettings::route`]), so the same journal gives the streams the current settings
//! say. Each stream has its own [`SchemaTracker`] (its own columns, persisted apart), its own
//! key properties and its own bookmark; its SCHEMA is written before its first record of the
//! run. Streams are created as route values appear, up to `max_streams`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;
use tokio::sync::watch;

use crate::capture;
use crate::convert::Converter;
use crate::convert::handoff::Handoff;
use crate::convert::payload::{self, GENERATED_KEY_FIELD, Payload, PayloadError, RecordRules};
use crate::convert::routing::StreamSettings;
use crate::convert::visit::VisitError;
use crate::journal::{Entry, EntryKind, Header, JournalError, JournalReader};
use crate::keys::{KeySource, PayloadKeys};
use crate::lifecycle::{Lifecycle, StopReason};
use crate::rejections;
use crate::schema::catalog::Catalogs;
use crate::schema::{Columns, Mismatch, SchemaError, SchemaTracker, persisted_streams};
use crate::sequence::Sequence;
use crate::singer::{self, Bookmark, FieldAction, Output, RecordMeta, ReplayPosition, State};
use crate::telemetry;

mod backlog;
mod follow;
mod routing;

pub use follow::{drain, follow};

/// STATE cadence while records flow.
pub const STATE_INTERVAL: Duration = Duration::from_secs(1);

/// While webhooks keep coming, a live emitter reads the journal at most this often: one
/// wake-up per interval rather than one per commit leaves the CPU to the receivers, whose
/// answers senders are waiting for, and writes larger batches. The first webhook after a
/// quiet spell is emitted at once. (Longer intervals make the emitter's bursts long enough to
/// show in the receivers' p99 on a small machine.)
pub const FOLLOW_INTERVAL: Duration = Duration::from_millis(2);

/// When the emitter writes a STATE while records flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateCadence {
    /// At least this often (live runs: the target sees progress even when traffic is slow).
    Interval(Duration),
    /// After this many records, at the next payload boundary (replays: the output depends on
    /// the input only, never on timing).
    Records(u64),
}

impl Default for StateCadence {
    fn default() -> Self {
        StateCadence::Interval(STATE_INTERVAL)
    }
}

/// Where the records of one payload come from: everything that decides their `_sdc` columns
/// and the bookmark after them.
#[derive(Clone, Copy, Debug)]
pub struct Origin<'a> {
    /// The sequence of the payload's first record; record `i` has `first_sequence + i`.
    pub first_sequence: Sequence,
    pub received_at: DateTime<Utc>,
    pub keys: KeySource<'a>,
    pub place: Place<'a>,
    /// Records at the start of the payload an earlier run already emitted.
    pub skip: usize,
    /// The request's journaled headers (none for a replayed file): routing and capture.
    pub headers: &'a [Header],
}

/// Where a payload sits, for the STATE bookmark.
#[derive(Clone, Copy, Debug)]
pub enum Place<'a> {
    /// In the journal: the bookmark is the record's sequence.
    Journal,
    /// In a replayed file, starting on `line`.
    File { file: &'a Arc<str>, line: u64 },
}

impl Place<'_> {
    fn bookmark(&self, index: usize, sequence: Sequence) -> Bookmark {
        match *self {
            Place::Journal => Bookmark::Journal(Some(sequence)),
            Place::File { file, line } => Bookmark::Replay(Some(ReplayPosition {
                file: Arc::clone(file),
                line,
                record: u32::try_from(index).unwrap_or(u32::MAX),
                sequence,
            })),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EmitError {
    #[error("cannot write to stdout: {0}")]
    Output(#[from] io::Error),
    #[error(
        "journal entry with sequence {sequence} cannot be converted under the current config: \
         {error}; the STATE before it resumes here once the config accepts it"
    )]
    Entry {
        sequence: Sequence,
        error: PayloadError,
    },
    #[error(
        "journal entry with sequence {sequence} cannot be read: {error}; the STATE before it \
         resumes here"
    )]
    Media {
        sequence: Sequence,
        error: crate::convert::media::MediaError,
    },
    #[error(
        "record with sequence {sequence}: {mismatch}; change the catalog, and the STATE before it \
         resumes here"
    )]
    Mismatch {
        sequence: Sequence,
        mismatch: Mismatch,
    },
    #[error(transparent)]
    Schema(#[from] SchemaError),
    #[error(transparent)]
    Journal(#[from] JournalError),
}

/// What the emitter needs to know from the config.
#[derive(Clone, Debug, Default)]
pub struct EmitterSettings {
    pub rules: RecordRules,
    /// The default stream's key properties.
    pub key_properties: Vec<String>,
    /// The columns the tap adds (generated key, aliases, request metadata).
    pub columns: Columns,
    /// Streams, routing and request metadata.
    pub streams: StreamSettings,
    /// Every record goes to this stream (`replay --stream`), whatever the route says.
    pub forced_stream: Option<String>,
    pub max_records: Option<u64>,
    pub state_cadence: StateCadence,
    /// How often a Singer `METRIC` line reports the records written since the last one.
    pub metric_interval: Duration,
}

/// Whether emitting goes on after an entry or a payload.
#[derive(Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// `max_records` records have been written; nothing more will be.
    LimitReached,
}

/// Where the streams a run meets get their schemas.
#[derive(Clone, Debug, Default)]
pub struct StreamSchemas {
    /// The `data_dir` whose persisted schemas are loaded; `None`: in memory.
    pub data_dir: Option<PathBuf>,
    /// Save what is learnt (a sync, a journal replay), or not (a file replay).
    pub persist: bool,
    pub catalogs: Catalogs,
}

/// One stream of a run.
struct StreamOut {
    name: String,
    schema: SchemaTracker,
    key_properties: Vec<String>,
    /// Checked in every record when keys differ between streams.
    primary_key: Vec<String>,
    generated_key: bool,
    selected: bool,
    /// Its SCHEMA has been written in this run.
    announced: bool,
    /// Records written since its last `METRIC` line.
    since_metric: u64,
}

/// The per-stream bookmarks of the state a run resumes from, until the run is past them.
struct Resume {
    /// `None`: a stream named in the state with nothing emitted (deselected so far).
    floors: HashMap<String, Option<Sequence>>,
    /// The furthest bookmark: a stream the state does not name is that far.
    max: Sequence,
}

/// What the records of one payload share while they are written.
struct RecordContext<'o, 'a> {
    origin: &'o Origin<'a>,
    /// The payload's generated keys, derived on the first record that needs one.
    keys: Option<PayloadKeys>,
    /// `_sdc_headers` and `_sdc_query`.
    metadata: (Option<String>, Option<String>),
    is_array: bool,
    keys_vary: bool,
}

pub struct Emitter<W: Write> {
    out: Output<W>,
    /// Index 0 is the default stream.
    streams: Vec<StreamOut>,
    by_name: HashMap<String, usize>,
    schemas: StreamSchemas,
    /// Stream names that exist (persisted or met in this run), for `max_streams`.
    existing: HashSet<String>,
    /// Route values sent to the default stream by `max_streams` (warned once each).
    overflowed: HashSet<String>,
    resume: Option<Resume>,
    state: State,
    settings: Arc<EmitterSettings>,
    bookmark: Bookmark,
    emitted: u64,
    since_state: u64,
    last_state: Instant,
    /// The value of the last STATE written, so that the same STATE is never written twice
    /// in a row.
    written_state: Option<Value>,
    since_metric: u64,
    last_metric: Instant,
    received_at: (i64, String),
    /// Whether this run has written the `_rejections` SCHEMA.
    rejections_schema_sent: bool,
    /// How far the persisted schemas have seen the journal.
    observed: backlog::ObservedMark,
    /// How each field of the record being written is written (reused from record to record).
    actions: Vec<FieldAction>,
    /// The receiver's splits of live entries (a listening sync), so they are not parsed again.
    handoff: Option<Arc<Handoff>>,
}

impl<W: Write> Emitter<W> {
    /// An emitter of journal entries, resuming after the state's `sequence` bookmark.
    pub fn new(out: W, schema: SchemaTracker, state: State, settings: EmitterSettings) -> Self {
        let bookmark = Bookmark::Journal(state.bookmark());
        Self::with_bookmark(out, schema, state, bookmark, settings)
    }

    /// An emitter of replayed files: its STATE carries the state's `replay` bookmark forward.
    pub fn replaying(
        out: W,
        schema: SchemaTracker,
        state: State,
        settings: EmitterSettings,
    ) -> Self {
        let bookmark = Bookmark::Replay(state.replay_position(&settings.streams.default));
        Self::with_bookmark(out, schema, state, bookmark, settings)
    }

    fn with_bookmark(
        out: W,
        schema: SchemaTracker,
        state: State,
        bookmark: Bookmark,
        settings: EmitterSettings,
    ) -> Self {
        let sequences = state.stream_sequences();
        let resume = match (&bookmark, sequences.values().flatten().max()) {
            (Bookmark::Journal(_), Some(&max)) => Some(Resume {
                floors: sequences.into_iter().collect(),
                max,
            }),
            _ => None,
        };
        let default = settings.streams.default.clone();
        let mut emitter = Emitter {
            out: Output::new(out),
            streams: Vec::new(),
            by_name: HashMap::new(),
            schemas: StreamSchemas::default(),
            existing: HashSet::from([default.clone()]),
            overflowed: HashSet::new(),
            resume,
            bookmark,
            state,
            settings: Arc::new(settings),
            emitted: 0,
            since_state: 0,
            last_state: Instant::now(),
            written_state: None,
            since_metric: 0,
            last_metric: Instant::now(),
            received_at: (i64::MIN, String::new()),
            rejections_schema_sent: false,
            observed: backlog::ObservedMark::default(),
            actions: Vec::new(),
            handoff: None,
        };
        let stream = emitter.stream_out(default, schema);
        emitter.by_name.insert(stream.name.clone(), 0);
        emitter.streams.push(stream);
        emitter
    }

    /// Takes the receiver's splits from `handoff` (a listening sync): an entry whose split was
    /// given is not parsed again.
    pub fn with_handoff(mut self, handoff: Option<Arc<Handoff>>) -> Self {
        self.handoff = handoff;
        self
    }

    /// The journal bookmark: every record up to this sequence has been written.
    pub fn bookmark(&self) -> Option<Sequence> {
        match &self.bookmark {
            Bookmark::Journal(sequence) => *sequence,
            Bookmark::Replay(position) => position.as_ref().map(|p| p.sequence),
        }
    }

    pub fn emitted(&self) -> u64 {
        self.emitted
    }

    /// Where the file replay this emitter continues stopped, if it does continue one.
    pub fn replay_position(&self) -> Option<ReplayPosition> {
        match &self.bookmark {
            Bookmark::Replay(position) => position.clone(),
            Bookmark::Journal(_) => None,
        }
    }

    /// Writes the default stream's SCHEMA; the first message of every run.
    pub fn start(&mut self) -> io::Result<()> {
        if self.streams[0].selected {
            self.announce(0);
        }
        self.out.flush()
    }

    fn announce(&mut self, stream: usize) {
        let s = &mut self.streams[stream];
        s.announced = true;
        self.out
            .schema(&s.name, &s.schema.json_schema(), &s.key_properties);
    }

    /// The one conversion path, under this emitter's settings.
    pub fn converter(&self) -> Converter<'_> {
        Converter::new(&self.settings.rules, &self.settings.streams)
    }

    /// Splits a JSON payload into records under this emitter's rules, exactly as a webhook
    /// body is: a handshake (a provider checking the URL) gives none.
    pub fn parse<'a>(&self, body: &'a [u8]) -> Result<Payload<'a>, PayloadError> {
        self.converter().payload(body)
    }

    /// Writes the records of one journal entry that lie after the bookmark. The body is read
    /// as the media type kept with it (none: JSON), exactly as the receiver read it.
    pub fn emit_entry(&mut self, entry: &Entry) -> Result<Flow, EmitError> {
        self.observed.last_entry = Some(entry.journal_id);
        if entry.kind() == EntryKind::Rejection {
            return self.emit_rejection(entry);
        }
        let sequence = entry.first_sequence;
        let json = Converter::entry_json(&entry.headers, &entry.body)
            .map_err(|error| EmitError::Media { sequence, error })?;
        let origin = Origin {
            first_sequence: entry.first_sequence,
            received_at: entry.received_at,
            keys: KeySource::Journal(&entry.journal_id.0),
            place: Place::Journal,
            skip: 0,
            headers: &entry.headers,
        };
        let handed = self
            .handoff
            .as_ref()
            .and_then(|handoff| handoff.take(sequence))
            .and_then(|split| split.payload(&json));
        let counters = telemetry::hot_path();
        match handed {
            Some(payload) => {
                counters.entries_handed.increment(1);
                self.emit_records(&payload, &origin)
            }
            None => {
                counters.entries_parsed.increment(1);
                self.emit_json(&json, &origin)
            }
        }
    }

    /// Writes the records of a JSON payload, converted a chunk at a time (a body of millions
    /// of records never holds them all), after the first `origin.skip`.
    fn emit_json(&mut self, json: &[u8], origin: &Origin<'_>) -> Result<Flow, EmitError> {
        let settings = Arc::clone(&self.settings);
        let converter = Converter::new(&settings.rules, &settings.streams);
        let mut context = None;
        let visited = converter.records(json, &mut |chunk| {
            let context =
                context.get_or_insert_with(|| self.record_context(origin, chunk.indexed()));
            match self.emit_chunk(chunk.payload, chunk.first, context) {
                Ok(Flow::Continue) => Ok(()),
                // Stops reading: nothing more is written.
                Ok(Flow::LimitReached) => Err(None),
                Err(e) => Err(Some(e)),
            }
        });
        match visited {
            Ok(_) => Ok(if self.limit_reached() {
                Flow::LimitReached
            } else {
                Flow::Continue
            }),
            Err(VisitError::Visitor(None)) => Ok(Flow::LimitReached),
            Err(VisitError::Visitor(Some(e))) => Err(e),
            Err(VisitError::Payload(error)) => Err(EmitError::Entry {
                sequence: origin.first_sequence,
                error,
            }),
        }
    }

    /// Writes the records of one parsed payload, after the first `origin.skip`.
    pub fn emit_records(
        &mut self,
        payload: &Payload<'_>,
        origin: &Origin<'_>,
    ) -> Result<Flow, EmitError> {
        let mut context = self.record_context(origin, payload.records.len() > 1);
        self.emit_chunk(payload, 0, &mut context)
    }

    /// What the records of a payload share while they are written.
    fn record_context<'o, 'a>(
        &mut self,
        origin: &'o Origin<'a>,
        indexed: bool,
    ) -> RecordContext<'o, 'a> {
        let nanos = origin.received_at.timestamp_nanos_opt().unwrap_or(0);
        if self.received_at.0 != nanos {
            self.received_at = (
                nanos,
                origin
                    .received_at
                    .to_rfc3339_opts(SecondsFormat::Micros, true),
            );
        }
        RecordContext {
            origin,
            keys: None,
            metadata: self.request_metadata(origin.headers),
            is_array: indexed,
            keys_vary: self.settings.streams.keys_vary(),
        }
    }

    /// Writes the records of a payload's chunk, whose first is record `first` of the payload,
    /// skipping the payload's first `origin.skip`.
    fn emit_chunk(
        &mut self,
        payload: &Payload<'_>,
        first: usize,
        context: &mut RecordContext<'_, '_>,
    ) -> Result<Flow, EmitError> {
        let origin = context.origin;
        let mut written = 0u64;
        for (j, record) in payload.records.iter().enumerate() {
            let i = first + j;
            if i < origin.skip {
                continue;
            }
            if self.limit_reached() {
                return Ok(Flow::LimitReached);
            }
            let sequence = origin.first_sequence.offset(i as u64);
            let stream = self.route(origin.headers, record)?;
            if self.already_emitted(stream, sequence) {
                continue;
            }
            if !self.streams[stream].selected {
                // Skipped, not lost: the journal keeps it.
                self.bookmark = origin.place.bookmark(i, sequence);
                self.since_state += 1;
                continue;
            }
            self.write_one(stream, record, i, sequence, context)?;
            written += 1;
        }
        telemetry::hot_path().records_emitted.increment(written);
        self.since_metric += written;
        if let Bookmark::Journal(Some(sequence)) = self.bookmark {
            telemetry::progress().set_consumed(sequence.get());
        }
        if self.limit_reached() {
            return Ok(Flow::LimitReached);
        }
        Ok(Flow::Continue)
    }

    /// `_sdc_headers` and `_sdc_query` of a payload's records, when they are columns.
    fn request_metadata(&self, headers: &[Header]) -> (Option<String>, Option<String>) {
        let columns = &self.settings.columns;
        let captured = columns
            .headers
            .then(|| capture::captured_headers(headers, &self.settings.streams.capture_headers))
            .flatten();
        let query = columns
            .query
            .then(|| capture::captured_query(headers))
            .flatten();
        (captured, query)
    }

    /// Writes record `i` of a payload (with `sequence`) to `stream`: its key checked, its
    /// columns observed (a new SCHEMA first when they changed), then its RECORD.
    fn write_one(
        &mut self,
        stream: usize,
        record: &payload::Fields<'_>,
        i: usize,
        sequence: Sequence,
        context: &mut RecordContext<'_, '_>,
    ) -> Result<(), EmitError> {
        if context.keys_vary {
            payload::check_record_keys(
                record,
                &self.streams[stream].primary_key,
                context.is_array.then_some(i),
            )
            .map_err(|error| EmitError::Entry { sequence, error })?;
        }
        let s = &mut self.streams[stream];
        let record = s.schema.name(record);
        let changed = s
            .schema
            .observe(&record, sequence, &mut self.actions)
            .map_err(|mismatch| EmitError::Mismatch { sequence, mismatch })?;
        if changed {
            s.schema.persist()?;
        }
        if changed || !s.announced {
            self.announce(stream);
        }
        let s = &self.streams[stream];
        let origin = context.origin;
        let key = if s.generated_key {
            let keys = context.keys.get_or_insert_with(|| origin.keys.keys());
            Some(keys.key(i, sequence))
        } else {
            None
        };
        let columns = &self.settings.columns;
        let meta = RecordMeta {
            sequence,
            received_at: &self.received_at.1,
            key,
            sequence_alias: columns.sequence_alias.as_deref(),
            received_at_alias: columns.received_at_alias.as_deref(),
            overflow: &record.overflow,
            headers: context.metadata.0.as_deref(),
            query: context.metadata.1.as_deref(),
        };
        let actions = &self.actions;
        singer::write_record(&mut self.out, &s.name, &record.fields, &meta, |i, _, _| {
            actions[i]
        });
        self.bookmark = origin.place.bookmark(i, sequence);
        self.streams[stream].since_metric += 1;
        self.emitted += 1;
        self.since_state += 1;
        self.out.maybe_flush()?;
        Ok(())
    }

    fn limit_reached(&self) -> bool {
        self.settings
            .max_records
            .is_some_and(|max| self.emitted >= max)
    }

    /// Writes a STATE if records were written and the cadence says one is due. Call it
    /// between payloads.
    pub fn tick(&mut self) -> io::Result<()> {
        // One clock read for both: this runs after every entry.
        let now = Instant::now();
        let due = match self.settings.state_cadence {
            StateCadence::Interval(every) => {
                self.since_state > 0 && now.saturating_duration_since(self.last_state) >= every
            }
            StateCadence::Records(every) => self.since_state >= every.max(1),
        };
        if due {
            self.checkpoint()?;
        }
        if self.since_metric > 0
            && now.saturating_duration_since(self.last_metric) >= self.settings.metric_interval
        {
            self.report_metric();
        }
        Ok(())
    }

    /// Logs a Singer `METRIC` line per stream with the records written to it since the last
    /// one; when none were, one line for the default stream says so.
    fn report_metric(&mut self) {
        let none = self.since_metric == 0;
        for (i, s) in self.streams.iter_mut().enumerate() {
            if s.since_metric > 0 || (none && i == 0) {
                telemetry::singer_counter("record_count", &s.name, s.since_metric);
                s.since_metric = 0;
            }
        }
        self.since_metric = 0;
        self.last_metric = Instant::now();
    }

    /// Writes a STATE now if records were written since the last one.
    pub fn checkpoint(&mut self) -> io::Result<()> {
        if self.since_state > 0 {
            self.write_state();
            self.out.flush()?;
        }
        self.save_observed(false);
        Ok(())
    }

    /// When the next STATE or METRIC line is due by time, if records are waiting for one.
    pub fn next_due(&self) -> Option<Instant> {
        let state = match self.settings.state_cadence {
            StateCadence::Interval(every) => {
                (self.since_state > 0).then(|| self.last_state + every)
            }
            StateCadence::Records(_) => None,
        };
        let metric =
            (self.since_metric > 0).then(|| self.last_metric + self.settings.metric_interval);
        state.into_iter().chain(metric).min()
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Writes a STATE, unless the last one written says the same.
    fn write_state(&mut self) {
        let default = self.streams[0].name.as_str();
        let value = match &self.bookmark {
            Bookmark::Journal(sequence) => {
                // Every selected stream is as far as the run; a deselected one keeps its own.
                let mut streams: BTreeMap<&str, Option<Sequence>> = BTreeMap::new();
                let known = self.state.stream_sequences();
                let rejections = self.rejections_schema_sent.then_some(rejections::STREAM);
                for name in known
                    .keys()
                    .map(String::as_str)
                    .chain(self.stream_names())
                    .chain(rejections)
                {
                    let selected = self.schemas.catalogs.is_stream_selected(name);
                    streams.insert(name, sequence.filter(|_| selected));
                }
                self.state.value_with_streams(streams, None)
            }
            Bookmark::Replay(position) => self
                .state
                .value_with_streams([(default, None)], position.as_ref().map(|p| (default, p))),
        };
        if self.written_state.as_ref() != Some(&value) {
            self.out.state(&value);
            self.written_state = Some(value);
        }
        self.since_state = 0;
        self.last_state = Instant::now();
    }

    /// Writes the final STATE and flushes; returns the number of records written.
    pub fn finish(mut self) -> io::Result<u64> {
        self.report_metric();
        self.write_state();
        self.out.flush()?;
        self.save_observed(true);
        Ok(self.emitted)
    }
}

#[cfg(test)]
mod tests;
