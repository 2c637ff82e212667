//! `replay`: captured payload files, or this `data_dir`'s journal, → Singer messages, through
//! the emitter exactly as webhook bodies go (see [`crate::emitter::Emitter::emit_records`]).
//!
//! Files are read in order (`input`), split into payloads (`payloads`) and each payload
//! gets, as a webhook body would, its records' `_sdc` columns from an [`Origin`]:
//!
//! - `_sdc_received_at`: `--received-at` if given, else the file's capture time (the gzip
//!   header's MTIME when set, else the file's modification time), else (a pipe on stdin) the
//!   Unix epoch. All payloads of a file share it.
//! - `_sdc_sequence`: that time in nanoseconds, but never below the previous record's plus
//!   one, so sequences increase strictly through the replay in input order.
//! - `__sdc_primary_key`: derived from the payload's bytes, the line it starts on and the
//!   record's index in it ([`KeySource::Capture`]): the same capture gives the same keys
//!   whatever the file is called or however it is compressed.
//!
//! The schema starts from what `data_dir` has persisted, so a replay never changes the type of
//! a column a sync declared, and a file replay never saves what it learns: the output depends
//! on the inputs, the config, the catalog and that persisted schema only, and replaying the
//! same files again gives byte-identical output. A journal replay is the journal's own
//! history: it saves the schema and is bookmarked by `sequence`, exactly like a sync.
//!
//! STATE: after every [`STATE_EVERY_RECORDS`] records (at a payload boundary), at the end of
//! each file and at the end, with the last record's place (`bookmarks.<default stream>.replay`).

mod input;
mod meter;
mod payloads;

use std::io::{self, Stdout};
use std::path::PathBuf;

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::convert::payload::PayloadError;
use crate::emitter::{EmitError, Emitter, Flow, Origin, Place, StateCadence, StreamSchemas};
use crate::journal::{Journal, JournalError};
use crate::keys::KeySource;
use crate::schema::catalog::Catalogs;
use crate::schema::{SchemaError, SchemaTracker};
use crate::sequence::{Sequence, SequenceClock};
use crate::singer::{ReplayPosition, State};

use input::Input;
use meter::Meter;
use payloads::{Item, Payloads};

/// A replay writes a STATE after this many records (at the next payload boundary).
pub const STATE_EVERY_RECORDS: u64 = 10_000;

/// What to replay, from the command line.
#[derive(Clone, Debug)]
pub struct ReplayOptions {
    pub source: ReplaySource,
    /// Log and count invalid payloads and go on, instead of stopping at the first.
    pub skip_invalid: bool,
    /// `--stream`: every record goes to this stream.
    pub stream: Option<String>,
}

#[derive(Clone, Debug)]
pub enum ReplaySource {
    /// `.json`/`.ndjson`/`.jsonl` files (optionally gzipped), directories, `-` for stdin.
    Files {
        paths: Vec<PathBuf>,
        /// Overrides every file's capture time.
        received_at: Option<DateTime<Utc>>,
    },
    /// This `data_dir`'s journal.
    Journal,
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("{file}: cannot read: {source}")]
    Open { file: String, source: io::Error },
    #[error(
        "{file}: cannot tell the format from the name: use .json (one payload), .ndjson or \
         .jsonl (one payload per line), optionally with .gz"
    )]
    UnknownFormat { file: String },
    #[error("{file} is given twice (directly or inside a directory)")]
    Duplicate { file: String },
    #[error(
        "--state: the replay bookmark's file is {file:?}, which is not among the inputs; \
         replay the same inputs to resume, or leave out --state to start over"
    )]
    BookmarkNotInInputs { file: String },
    #[error("{file}:{line}: cannot read: {source}")]
    Read {
        file: String,
        line: u64,
        source: io::Error,
    },
    #[error(
        "{file}:{line}:{column}: {reason}; nothing after it was emitted: fix it and rerun with \
         the last STATE to resume, or pass --skip-invalid"
    )]
    Invalid {
        file: String,
        line: u64,
        column: u64,
        reason: String,
    },
    #[error(transparent)]
    Emit(#[from] EmitError),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    Schema(#[from] SchemaError),
}

impl ReplayError {
    /// 2 for what the user must fix in the command line or state; 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            ReplayError::Open { .. }
            | ReplayError::UnknownFormat { .. }
            | ReplayError::Duplicate { .. }
            | ReplayError::BookmarkNotInInputs { .. } => 2,
            _ => 1,
        }
    }
}

impl From<io::Error> for ReplayError {
    fn from(e: io::Error) -> Self {
        ReplayError::Emit(EmitError::Output(e))
    }
}

/// Runs a replay to the end of its input; always ends with a STATE (unless stdout failed).
pub fn run(
    config: &Config,
    state: State,
    catalogs: Catalogs,
    options: ReplayOptions,
) -> Result<(), ReplayError> {
    let inputs = match &options.source {
        ReplaySource::Files { paths, .. } => Some(input::expand(paths)?),
        ReplaySource::Journal => None,
    };
    let mut settings = config.emitter_settings();
    settings.state_cadence = StateCadence::Records(STATE_EVERY_RECORDS);
    settings.forced_stream = options.stream.clone();
    let default = settings.streams.default.clone();
    let catalog = catalogs.stream(&default).without_columns(&settings.columns);
    config.journal().prepare_data_dir()?;
    let schema = SchemaTracker::load(&config.data_dir, settings.columns.clone(), catalog)?;
    let files = matches!(options.source, ReplaySource::Files { .. });
    let schemas = StreamSchemas {
        data_dir: Some(config.data_dir.clone()),
        persist: !files,
        catalogs,
    };
    match (options.source, inputs) {
        (ReplaySource::Files { received_at, .. }, Some(inputs)) => {
            let emitter = Emitter::replaying(io::stdout(), schema.detached(), state, settings)
                .with_schemas(schemas);
            replay_files(config, emitter, &inputs, received_at, options.skip_invalid)
        }
        _ => {
            let catalogs = &schemas.catalogs;
            let after = state.resume_after(|stream| catalogs.is_stream_selected(stream));
            let emitter = Emitter::new(io::stdout(), schema, state, settings).with_schemas(schemas);
            replay_journal(config, emitter, after, options.skip_invalid)
        }
    }
}

fn replay_files(
    config: &Config,
    mut emitter: Emitter<Stdout>,
    inputs: &[Input],
    received_at: Option<DateTime<Utc>>,
    skip_invalid: bool,
) -> Result<(), ReplayError> {
    let resume = emitter.replay_position();
    let start = match &resume {
        Some(position) => inputs
            .iter()
            .position(|i| i.name == position.file)
            .ok_or_else(|| ReplayError::BookmarkNotInInputs {
                file: position.file.to_string(),
            })?,
        None => 0,
    };
    let total = inputs[start..].iter().map(|i| i.size).sum::<Option<u64>>();
    let mut replay = FileReplay {
        emitter: &mut emitter,
        meter: Meter::new(total),
        clock: SequenceClock::starting_after(resume.as_ref().map(|p| p.sequence)),
        resume,
        received_at,
        skip_invalid,
        limit: config.max_body_bytes,
    };
    let result = replay
        .emitter
        .start()
        .map_err(ReplayError::from)
        .and_then(|()| replay.all(&inputs[start..]));
    let summary = replay.meter.finish();
    let finished = finish(emitter, &result);
    let result = result.and(finished);
    let files = match summary.files {
        1 => "1 file".to_owned(),
        n => format!("{n} files"),
    };
    summary.log(&files, result.is_ok());
    result
}

struct FileReplay<'a> {
    emitter: &'a mut Emitter<Stdout>,
    meter: Meter,
    clock: SequenceClock,
    /// Where an earlier run stopped, until the replay is past it.
    resume: Option<ReplayPosition>,
    received_at: Option<DateTime<Utc>>,
    skip_invalid: bool,
    limit: u64,
}

impl FileReplay<'_> {
    fn all(&mut self, inputs: &[Input]) -> Result<(), ReplayError> {
        for (i, input) in inputs.iter().enumerate() {
            if self.file(input)? == Flow::LimitReached {
                log::info!("max_records reached; the STATE resumes after the last record");
                break;
            }
            if i + 1 < inputs.len() {
                // The last file's STATE is the final one.
                self.emitter.checkpoint()?;
            }
        }
        Ok(())
    }

    fn file(&mut self, input: &Input) -> Result<Flow, ReplayError> {
        let opened =
            input::open(input, self.meter.read_counter()).map_err(|source| ReplayError::Open {
                file: input.name.to_string(),
                source,
            })?;
        self.meter.files += 1;
        let received_at = self.capture_time(input, opened.captured_at);
        let mut payloads = Payloads::new(opened.reader, input.format, self.limit);
        let mut resume = self.resume.take();
        let mut flow = Flow::Continue;
        loop {
            let reading = payloads.next_line();
            let item = payloads.next_item().map_err(|source| ReplayError::Read {
                file: input.name.to_string(),
                line: reading,
                source,
            })?;
            let (line, body) = match item {
                None => break,
                Some(Item::TooLarge { line, .. }) => {
                    let reason = format!(
                        "payload is larger than max_body_bytes ({} bytes)",
                        self.limit
                    );
                    self.invalid(input, line, 1, reason)?;
                    continue;
                }
                Some(Item::Payload { line, body }) => (line, body),
            };
            let Some(start) = resume_at(&mut resume, line) else {
                continue;
            };
            let at = Payload {
                input,
                line,
                body,
                start,
            };
            match self.payload(&at, received_at)? {
                None => {}
                Some(Flow::Continue) => self.emitter.tick()?,
                Some(Flow::LimitReached) => {
                    flow = Flow::LimitReached;
                    break;
                }
            }
        }
        self.meter.bytes += payloads.bytes();
        Ok(flow)
    }

    /// A file's `_sdc_received_at`: `--received-at`, else its capture time, else the epoch.
    fn capture_time(&self, input: &Input, captured_at: Option<DateTime<Utc>>) -> Received {
        let at = match self.received_at.or(captured_at) {
            Some(at) => at,
            None => {
                log::warn!(
                    "{}: no capture time (a pipe) and no --received-at: its records get \
                     _sdc_received_at 1970-01-01T00:00:00Z",
                    input.name
                );
                DateTime::UNIX_EPOCH
            }
        };
        Received {
            at,
            nanos: at.timestamp_nanos_opt().unwrap_or(0).max(0) as u64,
        }
    }

    /// Emits the records of one payload; `None` if it was invalid and skipped.
    fn payload(
        &mut self,
        at: &Payload<'_>,
        received: Received,
    ) -> Result<Option<Flow>, ReplayError> {
        let (line, body) = (at.line, at.body);
        let payload = match self.emitter.parse(body) {
            Ok(payload) => payload,
            Err(error) => {
                let (at_line, column, reason) = locate(line, body, &error);
                self.invalid(at.input, at_line, column, reason)?;
                return Ok(None);
            }
        };
        let count = payload.records.len() as u64;
        let first_sequence = match at.start.first {
            Some(first) => {
                self.clock = SequenceClock::starting_after(Some(first.offset(count.max(1) - 1)));
                first
            }
            None => self.clock.allocate(count, received.nanos),
        };
        let origin = Origin {
            first_sequence,
            received_at: received.at,
            keys: KeySource::Capture {
                line,
                payload: body,
            },
            place: Place::File {
                file: &at.input.name,
                line,
            },
            skip: at.start.skip,
            headers: &[],
        };
        let emitted_before = self.emitter.emitted();
        let flow = match self.emitter.emit_records(&payload, &origin) {
            // A catalog-pinned type refused a value: the records before it are written and
            // bookmarked, so this stops the replay even with --skip-invalid.
            Err(EmitError::Mismatch { mismatch, .. }) => {
                let (line, column) = start_of(line, body);
                return Err(ReplayError::Invalid {
                    file: at.input.name.to_string(),
                    line,
                    column,
                    reason: mismatch.to_string(),
                });
            }
            other => other?,
        };
        self.meter.payload(self.emitter.emitted() - emitted_before);
        Ok(Some(flow))
    }

    /// An invalid payload: an error, or with `--skip-invalid` a warning and a count.
    fn invalid(
        &mut self,
        input: &Input,
        line: u64,
        column: u64,
        reason: String,
    ) -> Result<(), ReplayError> {
        if !self.skip_invalid {
            return Err(ReplayError::Invalid {
                file: input.name.to_string(),
                line,
                column,
                reason,
            });
        }
        self.meter.skipped += 1;
        self.meter
            .suspend(|| log::warn!("{}:{line}:{column}: {reason}; skipped", input.name));
        Ok(())
    }
}

/// A file's capture time, as `_sdc_received_at` and in nanoseconds (where sequences start).
#[derive(Clone, Copy)]
struct Received {
    at: DateTime<Utc>,
    nanos: u64,
}

/// One payload of a file, where it is and where emitting it starts.
struct Payload<'a> {
    input: &'a Input,
    line: u64,
    body: &'a [u8],
    start: Start,
}

/// Where emitting a payload starts: after the records an earlier run emitted.
#[derive(Clone, Copy, Default)]
struct Start {
    /// Records at the start of the payload already emitted.
    skip: usize,
    /// The payload's first sequence, as the earlier run gave it.
    first: Option<Sequence>,
}

/// Where the payload starting on `line` resumes, given the place an earlier run stopped
/// (cleared once passed); `None` for a payload that run emitted whole.
fn resume_at(resume: &mut Option<ReplayPosition>, line: u64) -> Option<Start> {
    let Some(position) = resume else {
        return Some(Start::default());
    };
    if line < position.line {
        return None;
    }
    let start = if line == position.line {
        Start {
            skip: position.record as usize + 1,
            first: Some(Sequence::new(
                position
                    .sequence
                    .get()
                    .saturating_sub(u64::from(position.record)),
            )),
        }
    } else {
        Start::default()
    };
    *resume = None;
    Some(start)
}

/// File line, column and reason of a payload error. A JSON syntax error has its own place in
/// the payload; any other refusal is placed where the payload starts.
fn locate(line: u64, body: &[u8], error: &PayloadError) -> (u64, u64, String) {
    if let PayloadError::Malformed(e) = error
        && e.line() > 0
    {
        let message = e.to_string();
        let suffix = format!(" at line {} column {}", e.line(), e.column());
        let message = message.strip_suffix(&suffix).unwrap_or(&message);
        return (
            line + e.line() as u64 - 1,
            e.column() as u64,
            format!("malformed JSON: {message}"),
        );
    }
    let (line, column) = start_of(line, body);
    (line, column, error.to_string())
}

/// File line and column where a payload starting on `line` begins (past leading whitespace).
fn start_of(line: u64, body: &[u8]) -> (u64, u64) {
    let leading = &body[..body
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(body.len())];
    let newlines = leading.iter().filter(|&&b| b == b'\n').count() as u64;
    let column = leading.iter().rev().take_while(|&&b| b != b'\n').count() as u64 + 1;
    (line + newlines, column)
}

fn replay_journal(
    config: &Config,
    mut emitter: Emitter<Stdout>,
    after: Option<Sequence>,
    skip_invalid: bool,
) -> Result<(), ReplayError> {
    let journal = Journal::new(config.journal_config());
    let mut reader = journal.reader(after)?;
    let total = journal.size_on_disk().ok();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| JournalError::io("starting the async runtime", e))?;
    let mut meter = Meter::new(total);
    let mut skipped = 0u64;
    let mut emit_all = || -> Result<(), ReplayError> {
        runtime.block_on(emitter.declare_backlog(
            &mut |start| journal.reader(start),
            after,
            skip_invalid,
        ))?;
        emitter.start()?;
        while let Some(entry) = runtime.block_on(reader.next_entry())? {
            meter.add_read(entry.body.len() as u64);
            meter.bytes += entry.body.len() as u64;
            let before = emitter.emitted();
            match emitter.emit_entry(&entry) {
                Err(EmitError::Entry { sequence, error }) if skip_invalid => {
                    skipped += 1;
                    meter.suspend(|| {
                        log::warn!("journal entry with sequence {sequence}: {error}; skipped")
                    });
                }
                Err(EmitError::Media { sequence, error }) if skip_invalid => {
                    skipped += 1;
                    meter.suspend(|| {
                        log::warn!("journal entry with sequence {sequence}: {error}; skipped")
                    });
                }
                Err(e) => return Err(e.into()),
                Ok(Flow::LimitReached) => {
                    meter.payload(emitter.emitted() - before);
                    log::info!("max_records reached; the STATE resumes after the last record");
                    return Ok(());
                }
                Ok(Flow::Continue) => {}
            }
            meter.payload(emitter.emitted() - before);
            emitter.tick()?;
        }
        Ok(())
    };
    let result = emit_all();
    meter.skipped = skipped;
    let summary = meter.finish();
    let finished = finish(emitter, &result);
    let result = result.and(finished);
    summary.log("the journal", result.is_ok());
    result
}

/// Writes the final STATE, at the last record written, unless stdout itself failed.
fn finish(emitter: Emitter<Stdout>, result: &Result<(), ReplayError>) -> Result<(), ReplayError> {
    if matches!(result, Err(ReplayError::Emit(EmitError::Output(_)))) {
        return Ok(());
    }
    emitter.finish().map(drop).map_err(ReplayError::from)
}
