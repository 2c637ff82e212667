//! The emitter: payloads (journal entries or replayed files) → Singer messages.
//!
//! It writes the stream's SCHEMA first, then a RECORD per record (a new cumulative SCHEMA
//! before any record that adds a field or widens a type), a STATE as records flow (every
//! second live; every so many records in a replay, so that replays are deterministic), and
//! always a final STATE. The STATE bookmark names the last record written, so a run started
//! with it emits nothing twice and loses nothing.
//!
//! Every payload, whatever its origin, goes through [`Emitter::parse`] and
//! [`Emitter::emit_records`]; only the [`Origin`] (sequence, time, key source, place) differs.

use std::io::{self, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;
use tokio::sync::watch;

use crate::handshake;
use crate::journal::{Entry, JournalError, JournalReader};
use crate::keys::KeySource;
use crate::lifecycle::{Lifecycle, StopReason};
use crate::media;
use crate::payload::{self, Payload, PayloadError, RecordRules};
use crate::rejections;
use crate::schema::{Columns, Mismatch, SchemaError, SchemaTracker};
use crate::sequence::Sequence;
use crate::singer::{self, Bookmark, Output, RecordMeta, ReplayPosition, STREAM, State};
use crate::telemetry;

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
        error: crate::media::MediaError,
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
    pub key_properties: Vec<String>,
    /// The columns the tap adds (generated key, aliases).
    pub columns: Columns,
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

pub struct Emitter<W: Write> {
    out: Output<W>,
    schema: SchemaTracker,
    state: State,
    settings: EmitterSettings,
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
        let bookmark = Bookmark::Replay(state.replay_position());
        Self::with_bookmark(out, schema, state, bookmark, settings)
    }

    fn with_bookmark(
        out: W,
        schema: SchemaTracker,
        state: State,
        bookmark: Bookmark,
        settings: EmitterSettings,
    ) -> Self {
        Emitter {
            out: Output::new(out),
            schema,
            bookmark,
            state,
            settings,
            emitted: 0,
            since_state: 0,
            last_state: Instant::now(),
            written_state: None,
            since_metric: 0,
            last_metric: Instant::now(),
            received_at: (i64::MIN, String::new()),
            rejections_schema_sent: false,
        }
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

    /// Declares every column the entries `reader` holds now will need, so that a backlog is
    /// preceded by one SCHEMA instead of one per new column (targets flush or re-check on
    /// each). The entries are read again by the reader that writes them. Declares no further
    /// than writing will go: up to `max_records`, a value a pinned field cannot take, or an
    /// entry that cannot be converted (unless `skip_invalid`, where writing skips it too).
    /// Call before [`Emitter::start`].
    pub async fn declare_backlog(
        &mut self,
        reader: &mut dyn JournalReader,
        skip_invalid: bool,
    ) -> Result<(), EmitError> {
        let after = self.bookmark();
        let mut budget = self
            .settings
            .max_records
            .map_or(u64::MAX, |max| max.saturating_sub(self.emitted));
        'entries: while let Some(entry) = reader.next_entry().await? {
            let payload = match self.parse(&entry.body) {
                Ok(payload) => payload,
                Err(_) if skip_invalid => continue,
                Err(_) => break,
            };
            let skip = records_before(after, entry.first_sequence);
            for (i, record) in payload.records.iter().enumerate().skip(skip) {
                let sequence = entry.first_sequence.offset(i as u64);
                if budget == 0 {
                    break 'entries;
                }
                let named = self.schema.name(record);
                if self.schema.observe(&named, sequence).is_err() {
                    break 'entries;
                }
                budget -= 1;
            }
        }
        self.schema.persist()?;
        Ok(())
    }

    /// Writes the stream's SCHEMA; the first message of every run.
    pub fn start(&mut self) -> io::Result<()> {
        self.out
            .schema(&self.schema.json_schema(), &self.settings.key_properties);
        self.out.flush()
    }

    /// Splits a JSON payload into records under this emitter's rules, exactly as a webhook
    /// body is: a handshake (a provider checking the URL) gives none.
    pub fn parse<'a>(&self, body: &'a [u8]) -> Result<Payload<'a>, PayloadError> {
        if handshake::detect(body).is_some() {
            return Ok(Payload {
                records: Vec::new(),
            });
        }
        payload::parse_payload(body, &self.settings.rules)
    }

    /// Writes the records of one journal entry that lie after the bookmark. The body is read
    /// as the media type kept with it (none: JSON), exactly as the receiver read it.
    pub fn emit_entry(&mut self, entry: &Entry) -> Result<Flow, EmitError> {
        if rejections::is_rejection(&entry.headers) {
            return self.emit_rejection(entry);
        }
        let sequence = entry.first_sequence;
        let json = media::kind_of_entry(
            entry
                .headers
                .iter()
                .map(|h| (h.name.as_str(), h.value.as_ref())),
        )
        .and_then(|kind| media::to_json(&kind, &entry.body))
        .map_err(|error| EmitError::Media { sequence, error })?;
        let payload = self
            .parse(&json)
            .map_err(|error| EmitError::Entry { sequence, error })?;
        let skip = match self.bookmark {
            Bookmark::Journal(after) => records_before(after, entry.first_sequence),
            Bookmark::Replay(_) => 0,
        };
        let origin = Origin {
            first_sequence: entry.first_sequence,
            received_at: entry.received_at,
            keys: KeySource::Journal(&entry.journal_id.0),
            place: Place::Journal,
            skip,
        };
        self.emit_records(&payload, &origin)
    }

    /// Writes the records of one parsed payload, after the first `origin.skip`.
    pub fn emit_records(
        &mut self,
        payload: &Payload<'_>,
        origin: &Origin<'_>,
    ) -> Result<Flow, EmitError> {
        let nanos = origin.received_at.timestamp_nanos_opt().unwrap_or(0);
        if self.received_at.0 != nanos {
            self.received_at = (
                nanos,
                origin
                    .received_at
                    .to_rfc3339_opts(SecondsFormat::Micros, true),
            );
        }
        let keys = (self.settings.columns.generated_key && payload.records.len() > origin.skip)
            .then(|| origin.keys.keys());
        for (i, record) in payload.records.iter().enumerate().skip(origin.skip) {
            if self.limit_reached() {
                return Ok(Flow::LimitReached);
            }
            let sequence = origin.first_sequence.offset(i as u64);
            let record = self.schema.name(record);
            let changed = self
                .schema
                .observe(&record, sequence)
                .map_err(|mismatch| EmitError::Mismatch { sequence, mismatch })?;
            if changed {
                self.schema.persist()?;
                self.out
                    .schema(&self.schema.json_schema(), &self.settings.key_properties);
            }
            let columns = &self.settings.columns;
            let meta = RecordMeta {
                sequence,
                received_at: &self.received_at.1,
                key: keys.as_ref().map(|k| k.key(i, sequence)),
                sequence_alias: columns.sequence_alias.as_deref(),
                received_at_alias: columns.received_at_alias.as_deref(),
                overflow: &record.overflow,
            };
            let schema = &self.schema;
            let fields: &crate::payload::Fields<'_> = &record.fields;
            singer::write_record(&mut self.out, STREAM, fields, &meta, |name, value| {
                schema.action(name, value, fields, sequence)
            });
            self.bookmark = origin.place.bookmark(i, sequence);
            self.emitted += 1;
            self.since_state += 1;
            self.out.maybe_flush()?;
        }
        let written = payload.records.len().saturating_sub(origin.skip) as u64;
        telemetry::per_request().records_emitted.increment(written);
        self.since_metric += written;
        if let Bookmark::Journal(Some(sequence)) = self.bookmark {
            telemetry::progress().set_consumed(sequence.get());
        }
        if self.limit_reached() {
            return Ok(Flow::LimitReached);
        }
        Ok(Flow::Continue)
    }

    /// Writes a rejection entry (one record) to the `_rejections` stream, with that stream's
    /// fixed SCHEMA before the first one of the run.
    fn emit_rejection(&mut self, entry: &Entry) -> Result<Flow, EmitError> {
        let sequence = entry.first_sequence;
        if matches!(self.bookmark, Bookmark::Journal(Some(b)) if b >= sequence) {
            return Ok(Flow::Continue);
        }
        if self.limit_reached() {
            return Ok(Flow::LimitReached);
        }
        let payload = payload::parse_payload(&entry.body, &RecordRules::default())
            .map_err(|error| EmitError::Entry { sequence, error })?;
        if !self.rejections_schema_sent {
            self.out.schema_of(
                rejections::STREAM,
                &rejections::schema(&self.settings.columns),
                &[payload::GENERATED_KEY_FIELD.to_owned()],
            );
            self.rejections_schema_sent = true;
        }
        let received_at = entry
            .received_at
            .to_rfc3339_opts(SecondsFormat::Micros, true);
        let keys = KeySource::Journal(&entry.journal_id.0).keys();
        let columns = &self.settings.columns;
        for (i, record) in payload.records.iter().enumerate() {
            let meta = RecordMeta {
                sequence: sequence.offset(i as u64),
                received_at: &received_at,
                key: Some(keys.key(i, sequence.offset(i as u64))),
                sequence_alias: columns.sequence_alias.as_deref(),
                received_at_alias: columns.received_at_alias.as_deref(),
                overflow: &[],
            };
            singer::write_record(&mut self.out, rejections::STREAM, record, &meta, |_, _| {
                singer::FieldAction::Raw
            });
            self.bookmark = Bookmark::Journal(Some(sequence.offset(i as u64)));
            self.emitted += 1;
            self.since_state += 1;
        }
        self.out.maybe_flush()?;
        Ok(if self.limit_reached() {
            Flow::LimitReached
        } else {
            Flow::Continue
        })
    }

    fn limit_reached(&self) -> bool {
        self.settings
            .max_records
            .is_some_and(|max| self.emitted >= max)
    }

    /// Writes a STATE if records were written and the cadence says one is due. Call it
    /// between payloads.
    pub fn tick(&mut self) -> io::Result<()> {
        let due = match self.settings.state_cadence {
            StateCadence::Interval(every) => {
                self.since_state > 0 && self.last_state.elapsed() >= every
            }
            StateCadence::Records(every) => self.since_state >= every.max(1),
        };
        if due {
            self.checkpoint()?;
        }
        if self.since_metric > 0 && self.last_metric.elapsed() >= self.settings.metric_interval {
            self.report_metric();
        }
        Ok(())
    }

    /// Logs a Singer `METRIC` line with the records written since the last one.
    fn report_metric(&mut self) {
        telemetry::singer_counter("record_count", self.since_metric);
        self.since_metric = 0;
        self.last_metric = Instant::now();
    }

    /// Writes a STATE now if records were written since the last one.
    pub fn checkpoint(&mut self) -> io::Result<()> {
        if self.since_state > 0 {
            self.write_state();
            self.out.flush()?;
        }
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
        let value = self.state.value_with(&self.bookmark);
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
        Ok(self.emitted)
    }
}

/// How many records of an entry starting at `first` lie at or before the bookmark `after`.
fn records_before(after: Option<Sequence>, first: Sequence) -> usize {
    match after {
        Some(b) if b >= first => usize::try_from(b.get() - first.get() + 1).unwrap_or(usize::MAX),
        _ => 0,
    }
}

/// Emits every entry the reader has now, then stops (drain mode, `listen: false`).
pub async fn drain<W: Write>(
    emitter: &mut Emitter<W>,
    reader: &mut dyn JournalReader,
) -> Result<Flow, EmitError> {
    while let Some(entry) = reader.next_entry().await? {
        if emitter.emit_entry(&entry)? == Flow::LimitReached {
            return Ok(Flow::LimitReached);
        }
        emitter.tick()?;
    }
    emitter.flush()?;
    Ok(Flow::Continue)
}

/// Follows the journal while the listener runs: emits entries as they are committed, until
/// the listener has closed and everything committed before that has been emitted.
pub async fn follow<W: Write>(
    emitter: &mut Emitter<W>,
    reader: &mut dyn JournalReader,
    mut committed: watch::Receiver<Option<Sequence>>,
    lifecycle: &Lifecycle,
) -> Result<(), EmitError> {
    loop {
        let finished = lifecycle.is_closed();
        committed.borrow_and_update();
        let drained_at = Instant::now();
        if drain(emitter, reader).await? == Flow::LimitReached {
            lifecycle.request_stop(StopReason::MaxRecords);
            return Ok(());
        }
        if finished {
            return Ok(());
        }
        let due = emitter.next_due();
        tokio::select! {
            _ = committed.changed() => {
                tokio::time::sleep_until((drained_at + FOLLOW_INTERVAL).into()).await;
            }
            _ = lifecycle.closed() => {}
            _ = sleep_until(due) => emitter.tick()?,
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::JournalId;
    use bytes::Bytes;
    use serde_json::Value;

    fn entry(first: u64, body: &str, count: u32) -> Entry {
        Entry {
            journal_id: JournalId([1; 16]),
            first_sequence: Sequence::new(first),
            record_count: count,
            received_at: chrono::DateTime::from_timestamp_nanos(1_790_000_000_000_000_000),
            headers: vec![],
            body: Bytes::from(body.to_owned()),
        }
    }

    fn lines(out: &[u8]) -> Vec<Value> {
        out.split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect()
    }

    fn settings() -> EmitterSettings {
        EmitterSettings {
            key_properties: vec!["__sdc_primary_key".into()],
            columns: Columns {
                generated_key: true,
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn run(state: State, entries: &[Entry], settings: EmitterSettings) -> Vec<Value> {
        let mut out = Vec::new();
        let schema = SchemaTracker::in_memory(settings.columns.clone(), Default::default());
        let mut e = Emitter::new(&mut out, schema, state, settings);
        e.start().unwrap();
        for entry in entries {
            if e.emit_entry(entry).unwrap() == Flow::LimitReached {
                break;
            }
        }
        e.finish().unwrap();
        lines(&out)
    }

    #[test]
    fn schema_precedes_records_and_state_is_last() {
        let msgs = run(
            State::default(),
            &[
                entry(100, r#"{"id":1}"#, 1),
                entry(200, r#"[{"id":2},{"id":3,"url":"u"}]"#, 2),
            ],
            settings(),
        );
        let types: Vec<&str> = msgs.iter().map(|m| m["type"].as_str().unwrap()).collect();
        assert_eq!(
            types,
            [
                "SCHEMA", "SCHEMA", "RECORD", "RECORD", "SCHEMA", "RECORD", "STATE"
            ]
        );
        assert_eq!(msgs[5]["record"]["_sdc_sequence"], 201);
        assert_eq!(msgs[6]["value"]["bookmarks"]["data"]["sequence"], 201);
    }

    #[test]
    fn the_same_state_is_never_written_twice_in_a_row() {
        let mut s = settings();
        s.state_cadence = StateCadence::Records(1);
        let mut out = Vec::new();
        let schema = SchemaTracker::in_memory(s.columns.clone(), Default::default());
        let mut e = Emitter::new(&mut out, schema, State::default(), s);
        e.start().unwrap();
        for entry in [entry(100, r#"{"id":1}"#, 1), entry(200, r#"{"id":2}"#, 1)] {
            e.emit_entry(&entry).unwrap();
            e.tick().unwrap();
        }
        e.checkpoint().unwrap();
        e.finish().unwrap();
        let msgs = lines(&out);
        let states: Vec<&Value> = msgs.iter().filter(|m| m["type"] == "STATE").collect();
        assert_eq!(states.len(), 2, "{msgs:?}");
        assert_eq!(states[1]["value"]["bookmarks"]["data"]["sequence"], 200);
        assert_eq!(msgs.last().unwrap()["type"], "STATE");
    }

    #[test]
    fn bookmark_inside_an_entry_skips_exactly_the_records_before_it() {
        let state =
            State::from_value(serde_json::json!({"bookmarks": {"data": {"sequence": 200}}}))
                .unwrap();
        let msgs = run(
            state,
            &[entry(200, r#"[{"id":2},{"id":3}]"#, 2)],
            settings(),
        );
        let records: Vec<&Value> = msgs.iter().filter(|m| m["type"] == "RECORD").collect();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0]["record"]["id"], 3);
    }

    #[test]
    fn replayed_payloads_get_their_origin_and_a_state_every_n_records() {
        let mut s = settings();
        s.state_cadence = StateCadence::Records(2);
        let mut out = Vec::new();
        let schema = SchemaTracker::in_memory(s.columns.clone(), Default::default());
        let mut e = Emitter::replaying(&mut out, schema, State::default(), s);
        e.start().unwrap();
        let file: Arc<str> = Arc::from("a.ndjson");
        for (line, body) in [(1, r#"{"a":1}"#), (3, r#"[{"a":2},{"a":3}]"#)] {
            let payload = e.parse(body.as_bytes()).unwrap();
            let origin = Origin {
                first_sequence: Sequence::new(line * 100),
                received_at: chrono::DateTime::from_timestamp(1_790_000_000, 0).unwrap(),
                keys: KeySource::Capture {
                    line,
                    payload: body.as_bytes(),
                },
                place: Place::File { file: &file, line },
                skip: 0,
            };
            e.emit_records(&payload, &origin).unwrap();
            e.tick().unwrap();
        }
        drop(e);
        let msgs = lines(&out);
        let types: Vec<&str> = msgs.iter().map(|m| m["type"].as_str().unwrap()).collect();
        assert_eq!(
            types,
            ["SCHEMA", "SCHEMA", "RECORD", "RECORD", "RECORD", "STATE"],
            "no STATE after one record, one after three"
        );
        assert_eq!(msgs[4]["record"]["_sdc_sequence"], 301);
        assert_eq!(
            msgs[4]["record"]["_sdc_received_at"],
            "2026-09-21T14:13:20.000000Z"
        );
        assert_eq!(
            msgs[5]["value"],
            serde_json::json!({"bookmarks": {"data": {"replay":
                {"file": "a.ndjson", "line": 3, "record": 1, "sequence": 301}}}})
        );
    }

    #[test]
    fn max_records_stops_mid_entry_with_an_exact_bookmark() {
        let mut s = settings();
        s.max_records = Some(2);
        let msgs = run(
            State::default(),
            &[entry(10, r#"[{"a":1},{"a":2},{"a":3}]"#, 3)],
            s,
        );
        let records = msgs.iter().filter(|m| m["type"] == "RECORD").count();
        assert_eq!(records, 2);
        assert_eq!(
            msgs.last().unwrap()["value"]["bookmarks"]["data"]["sequence"],
            11
        );
    }
}
