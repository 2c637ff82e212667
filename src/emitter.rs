//! The emitter: journal entries after a bookmark → Singer messages.
//!
//! It writes the stream's SCHEMA first, then a RECORD per record (a new cumulative SCHEMA
//! before any record that adds a field or widens a type), a STATE at least every second while
//! records flow, and always a final STATE. The STATE bookmark is the sequence of the last
//! record written, so a run started with it emits nothing twice and loses nothing.

use std::io::{self, Write};
use std::time::{Duration, Instant};

use chrono::SecondsFormat;
use tokio::sync::watch;

use crate::convert::{self, PayloadError, RecordKey, RecordMeta, RecordRules};
use crate::journal::{Entry, JournalError, JournalReader};
use crate::lifecycle::{Lifecycle, StopReason};
use crate::schema::{Columns, Mismatch, SchemaError, SchemaTracker};
use crate::sequence::Sequence;
use crate::singer::{Output, STREAM, State};

/// STATE cadence while records flow.
pub const STATE_INTERVAL: Duration = Duration::from_secs(1);

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
}

#[derive(Debug, PartialEq, Eq)]
pub enum Progress {
    Continue,
    /// `max_records` records have been written; nothing more will be.
    LimitReached,
}

pub struct Emitter<W: Write> {
    out: Output<W>,
    schema: SchemaTracker,
    state: State,
    settings: EmitterSettings,
    bookmark: Option<Sequence>,
    emitted: u64,
    since_state: u64,
    last_state: Instant,
    received_at: (i64, String),
}

impl<W: Write> Emitter<W> {
    pub fn new(out: W, schema: SchemaTracker, state: State, settings: EmitterSettings) -> Self {
        Emitter {
            out: Output::new(out),
            schema,
            bookmark: state.bookmark(),
            state,
            settings,
            emitted: 0,
            since_state: 0,
            last_state: Instant::now(),
            received_at: (i64::MIN, String::new()),
        }
    }

    pub fn bookmark(&self) -> Option<Sequence> {
        self.bookmark
    }

    pub fn emitted(&self) -> u64 {
        self.emitted
    }

    /// Writes the stream's SCHEMA; the first message of every run.
    pub fn start(&mut self) -> io::Result<()> {
        self.out
            .schema(&self.schema.json_schema(), &self.settings.key_properties);
        self.out.flush()
    }

    /// Writes the records of one entry that lie after the bookmark.
    pub fn emit_entry(&mut self, entry: &Entry) -> Result<Progress, EmitError> {
        let payload =
            convert::parse_payload(&entry.body, &self.settings.rules).map_err(|error| {
                EmitError::Entry {
                    sequence: entry.first_sequence,
                    error,
                }
            })?;
        let nanos = entry.received_at.timestamp_nanos_opt().unwrap_or(0);
        if self.received_at.0 != nanos {
            self.received_at = (
                nanos,
                entry
                    .received_at
                    .to_rfc3339_opts(SecondsFormat::Micros, true),
            );
        }
        for (i, record) in payload.records.iter().enumerate() {
            let sequence = entry.first_sequence.offset(i as u64);
            if self.bookmark.is_some_and(|b| sequence <= b) {
                continue;
            }
            if self
                .settings
                .max_records
                .is_some_and(|max| self.emitted >= max)
            {
                return Ok(Progress::LimitReached);
            }
            let changed = self
                .schema
                .observe(record)
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
                key: columns
                    .generated_key
                    .then(|| RecordKey::derive(&entry.journal_id.0, sequence)),
                sequence_alias: columns.sequence_alias.as_deref(),
                received_at_alias: columns.received_at_alias.as_deref(),
            };
            let schema = &self.schema;
            convert::write_record(self.out.buffer(), STREAM, record, &meta, |name, value| {
                schema.action(name, value)
            });
            self.bookmark = Some(sequence);
            self.emitted += 1;
            self.since_state += 1;
            self.out.maybe_flush()?;
        }
        if self
            .settings
            .max_records
            .is_some_and(|max| self.emitted >= max)
        {
            return Ok(Progress::LimitReached);
        }
        Ok(Progress::Continue)
    }

    /// Writes a STATE if records were written and a second has passed since the last one.
    pub fn tick(&mut self) -> io::Result<()> {
        if self.since_state > 0 && self.last_state.elapsed() >= STATE_INTERVAL {
            self.write_state();
            self.out.flush()?;
        }
        Ok(())
    }

    /// When the next STATE is due, if records are waiting for one.
    pub fn state_due(&self) -> Option<Instant> {
        (self.since_state > 0).then(|| self.last_state + STATE_INTERVAL)
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    fn write_state(&mut self) {
        self.out.state(&self.state.with_bookmark(self.bookmark));
        self.since_state = 0;
        self.last_state = Instant::now();
    }

    /// Writes the final STATE and flushes; returns the number of records written.
    pub fn finish(mut self) -> io::Result<u64> {
        self.write_state();
        self.out.flush()?;
        Ok(self.emitted)
    }
}

/// Emits every entry the reader has now, then stops (drain mode, `listen: false`).
pub async fn drain<W: Write>(
    emitter: &mut Emitter<W>,
    reader: &mut dyn JournalReader,
) -> Result<Progress, EmitError> {
    while let Some(entry) = reader.next_entry().await? {
        if emitter.emit_entry(&entry)? == Progress::LimitReached {
            return Ok(Progress::LimitReached);
        }
        emitter.tick()?;
    }
    emitter.flush()?;
    Ok(Progress::Continue)
}

/// Follows the journal while the listener runs: emits entries as they are committed, until
/// `receiver_done` is set and everything committed before it has been emitted.
pub async fn follow<W: Write>(
    emitter: &mut Emitter<W>,
    reader: &mut dyn JournalReader,
    mut committed: watch::Receiver<Option<Sequence>>,
    mut receiver_done: watch::Receiver<bool>,
    lifecycle: &Lifecycle,
) -> Result<(), EmitError> {
    loop {
        let finished = *receiver_done.borrow_and_update();
        committed.borrow_and_update();
        if drain(emitter, reader).await? == Progress::LimitReached {
            lifecycle.request_stop(StopReason::MaxRecords);
            return Ok(());
        }
        if finished {
            return Ok(());
        }
        let due = emitter.state_due();
        tokio::select! {
            _ = committed.changed() => {}
            _ = receiver_done.changed() => {}
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
            if e.emit_entry(entry).unwrap() == Progress::LimitReached {
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
