//! The journal: a durable, append-only log of accepted webhooks.
//!
//! The receiver appends one [`NewEntry`] per accepted request and answers 200 only once
//! [`JournalWriter::append`] has resolved, which means the entry is on disk. The emitter and
//! replay read entries back with a [`JournalReader`] positioned after a bookmark. Both sides
//! see only these two traits.
//!
//! Everything else about a journal goes through one handle, [`Journal`], built from a
//! [`JournalConfig`]: preparing `data_dir`, opening the writer, readers that take no lock
//! (drains, replay), the header scan that rebuilds the idempotency window, retention and size.
//! Each backend is a private module implementing `Backend`: `local` (segment files in
//! `data_dir/journal`) and `nats` (a replicated NATS JetStream stream shared by many
//! receivers); both store an entry as one `frame`. Nothing outside this module knows a
//! backend's files or names.
//!
//! An entry keeps what is needed to re-emit exactly the same records later: its first record
//! [`Sequence`] (record `i` of the entry has `first_sequence + i`), the time it was received,
//! the captured headers and the raw body bytes.

mod frame;
mod local;
pub mod nats;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use tokio::sync::watch;

pub use crate::capture::{Header, header_name};
use crate::sequence::Sequence;

/// Where and how a journal is kept, built from the config
/// ([`crate::config::Config::journal_config`]): one variant per backend.
#[derive(Clone, Debug)]
pub enum JournalConfig {
    /// Segment files in `data_dir/journal`.
    Local {
        data_dir: PathBuf,
        /// Size at which a new segment file is started.
        segment_bytes: u64,
        /// Writes are refused (so that the receiver answers 503) when the file system holding
        /// the journal would have less than this many bytes free after them.
        min_free_bytes: u64,
    },
    /// A replicated NATS JetStream stream (see [`nats`]).
    Nats {
        /// Holds what the tap keeps beside the journal (the persisted schemas).
        data_dir: PathBuf,
        settings: Box<nats::NatsSettings>,
    },
}

/// One journal, whatever its backend. Cheap to clone. Building it touches nothing; the
/// methods do.
#[derive(Clone)]
pub struct Journal {
    backend: Arc<dyn Backend>,
}

impl Journal {
    pub fn new(config: JournalConfig) -> Self {
        let backend: Arc<dyn Backend> = match config {
            JournalConfig::Local {
                data_dir,
                segment_bytes,
                min_free_bytes,
            } => Arc::new(local::LocalBackend::new(
                &data_dir,
                local::JournalSettings {
                    segment_bytes,
                    min_free_bytes,
                },
            )),
            JournalConfig::Nats { data_dir, settings } => {
                Arc::new(nats::NatsBackend::new(data_dir, *settings))
            }
        };
        Journal { backend }
    }

    /// Makes `data_dir` ready for what a sync or a replay keeps there beside the journal (the
    /// persisted schemas), whichever backend holds the journal.
    pub fn prepare_data_dir(&self) -> Result<(), JournalError> {
        self.backend.prepare_data_dir()
    }

    /// Opens the journal for writing (creating it if needed). One writer per journal:
    /// another process holding it gives [`JournalError::Locked`]. `holder` describes this
    /// process to that other one.
    pub fn open_writer(&self, holder: &str) -> Result<Arc<dyn JournalWriter>, JournalError> {
        self.backend.open_writer(holder)
    }

    /// A reader of the entries with records after `after`, taking no lock: it sees every
    /// entry completely written, whether or not another process is appending. For drains
    /// and replay; a writer's own [`JournalWriter::reader`] sees only durable entries.
    pub fn reader(&self, after: Option<Sequence>) -> Result<Box<dyn JournalReader>, JournalError> {
        self.backend.reader(after)
    }

    /// Calls `f` with the metadata of every entry whose first sequence is at least `since`,
    /// in order, without reading bodies. Call it after [`Journal::open_writer`], so that a
    /// torn tail has been dealt with.
    pub fn scan_entry_heads(
        &self,
        since: Sequence,
        mut f: impl FnMut(EntryHead),
    ) -> Result<(), JournalError> {
        self.backend.scan_entry_heads(since, &mut f)
    }

    /// Records that a sync's target has loaded everything up to `bookmark` (kept only if
    /// newer than what is recorded). Nothing is deleted before some sync acknowledged it.
    pub fn acknowledge(&self, bookmark: Sequence) -> Result<(), JournalError> {
        self.backend.acknowledge(bookmark)
    }

    /// The newest bookmark a sync has acknowledged, if any.
    pub fn acknowledged(&self) -> Option<Sequence> {
        self.backend.acknowledged()
    }

    /// Deletes what retention allows: acknowledged, and untouched for `keep` at `now`.
    /// Returns a description of each piece deleted, for the log.
    pub fn apply_retention(
        &self,
        keep: Duration,
        now: SystemTime,
    ) -> Result<Vec<String>, JournalError> {
        self.backend.apply_retention(keep, now)
    }

    /// The lowest sequence the journal may still hold (everything before it is gone), or
    /// `None` while it has never been written.
    pub fn first_sequence(&self) -> Result<Option<Sequence>, JournalError> {
        self.backend.first_sequence()
    }

    /// Bytes the journal takes in storage.
    pub fn size_on_disk(&self) -> Result<u64, JournalError> {
        self.backend.size_on_disk()
    }
}

/// What a backend implements; [`Journal`] documents each method.
trait Backend: Send + Sync + 'static {
    fn prepare_data_dir(&self) -> Result<(), JournalError>;
    fn open_writer(&self, holder: &str) -> Result<Arc<dyn JournalWriter>, JournalError>;
    fn reader(&self, after: Option<Sequence>) -> Result<Box<dyn JournalReader>, JournalError>;
    fn scan_entry_heads(
        &self,
        since: Sequence,
        f: &mut dyn FnMut(EntryHead),
    ) -> Result<(), JournalError>;
    fn acknowledge(&self, bookmark: Sequence) -> Result<(), JournalError>;
    fn acknowledged(&self) -> Option<Sequence>;
    fn apply_retention(&self, keep: Duration, now: SystemTime)
    -> Result<Vec<String>, JournalError>;
    fn first_sequence(&self) -> Result<Option<Sequence>, JournalError>;
    fn size_on_disk(&self) -> Result<u64, JournalError>;
}

/// Identifies one journal; mixed into generated record keys so that two journals never
/// generate the same `__sdc_primary_key`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct JournalId(pub [u8; 16]);

impl JournalId {
    pub fn random() -> std::io::Result<Self> {
        let mut id = [0u8; 16];
        getrandom::fill(&mut id).map_err(std::io::Error::other)?;
        Ok(JournalId(id))
    }
}

impl std::fmt::Display for JournalId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

/// One accepted request, as handed to the journal.
#[derive(Debug)]
pub struct NewEntry {
    pub received_at: DateTime<Utc>,
    /// How many records the body splits into (the receiver has validated it).
    pub record_count: u32,
    pub headers: Vec<Header>,
    pub body: Bytes,
    /// Called once the entry is durable (see [`OnDurable`]); not journaled.
    pub on_durable: OnDurable,
}

/// What an appended entry's writer calls with the entry's first sequence once the entry is
/// durable, before it tells the journal's readers ([`JournalWriter::committed`]). The
/// receiver hands over its split of the body ([`crate::convert::handoff`]), which is then there when a
/// reader of the local journal reaches the entry, since that reader stops at `committed` (a
/// NATS journal's reader follows the stream itself and may get there first). And it marks
/// the delivery id journaled ([`crate::senders::idempotency`]); the local journal does so even if the
/// request is gone by then, since its writer writes what was queued.
/// It is not called for an entry that fails or that the journal already held (a duplicate);
/// dropped instead, it releases what it holds.
///
/// The local journal calls it on its writer thread, between a batch's `fdatasync` and the
/// replies: it must be quick. A panic in it is caught and logged, so that it cannot take the
/// writer down with a durable batch unanswered.
#[derive(Default)]
pub struct OnDurable(Option<Box<dyn FnOnce(Sequence) + Send>>);

impl OnDurable {
    pub fn new(f: impl FnOnce(Sequence) + Send + 'static) -> Self {
        OnDurable(Some(Box::new(f)))
    }

    /// Calls it, once: later calls do nothing.
    pub fn call(&mut self, first: Sequence) {
        if let Some(f) = self.0.take()
            && std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(first))).is_err()
        {
            log::error!("the hand-over of the entry at sequence {first} panicked");
        }
    }
}

impl std::fmt::Debug for OnDurable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "OnDurable(set)"
        } else {
            "OnDurable(none)"
        })
    }
}

/// One journaled request, as read back.
#[derive(Clone, Debug)]
pub struct Entry {
    pub journal_id: JournalId,
    pub first_sequence: Sequence,
    pub record_count: u32,
    pub received_at: DateTime<Utc>,
    pub headers: Vec<Header>,
    pub body: Bytes,
}

/// What a journal entry holds. Decided here, once, for every reader.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    /// An accepted webhook: its request's headers and body.
    Webhook,
    /// A refused request (`rejections: true`): its body is the `_rejections` record.
    Rejection,
}

/// The header that marks a rejection entry (not an HTTP header name: `:` is not allowed in
/// one, so no request can carry it).
const REJECTION_MARKER: &str = ":rejection";

impl NewEntry {
    /// The entry of a refused request, whose body is its `_rejections` record.
    pub fn rejection(received_at: DateTime<Utc>, record: Vec<u8>) -> NewEntry {
        NewEntry {
            received_at,
            record_count: 1,
            headers: vec![Header {
                name: REJECTION_MARKER.into(),
                value: Bytes::new(),
            }],
            body: Bytes::from(record),
            on_durable: OnDurable::default(),
        }
    }

    pub fn kind(&self) -> EntryKind {
        EntryKind::of(&self.headers)
    }
}

impl EntryKind {
    fn of(headers: &[Header]) -> EntryKind {
        if headers.iter().any(|h| h.name == REJECTION_MARKER) {
            EntryKind::Rejection
        } else {
            EntryKind::Webhook
        }
    }
}

impl Entry {
    pub fn kind(&self) -> EntryKind {
        EntryKind::of(&self.headers)
    }

    /// The sequence of the entry's last record.
    pub fn last_sequence(&self) -> Sequence {
        self.first_sequence
            .offset(u64::from(self.record_count.max(1)) - 1)
    }
}

/// An entry's metadata, read without its body (see [`Journal::scan_entry_heads`]).
pub struct EntryHead {
    pub first_sequence: Sequence,
    pub received_at: DateTime<Utc>,
    pub headers: Vec<Header>,
}

/// What a durable append returns.
#[derive(Clone, Copy, Debug)]
pub struct Appended {
    pub first_sequence: Sequence,
    pub record_count: u32,
    /// The journal already held this delivery (a shared journal's own dedupe by delivery id):
    /// nothing new was stored.
    pub duplicate: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("journal I/O error: {context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("journal is corrupt: {segment}: offset {offset}: {reason}")]
    Corrupt {
        segment: PathBuf,
        offset: u64,
        reason: String,
    },
    #[error(
        "journal {dir} is held by another tap-webhooks process ({holder}); stop it, or use \
         listen: false to read its journal while it runs"
    )]
    Locked { dir: PathBuf, holder: String },
    #[error(
        "journal refused the write: an earlier write failed and could not be undone; restart the tap"
    )]
    Poisoned,
    #[error(
        "the disk holding the journal is nearly full: {available} bytes free, {required} needed \
         (min_free_disk_bytes)"
    )]
    DiskFull { available: u64, required: u64 },
    /// The file system refused a write for lack of space (`ENOSPC`, `EDQUOT`): temporary,
    /// nothing of the refused write was kept.
    #[error("the disk holding the journal is full: {0}")]
    NoSpace(String),
    #[error("journal is closed")]
    Closed,
    /// A shared journal (NATS) cannot be reached or did not acknowledge in time.
    #[error("journal unavailable: {0}")]
    Unavailable(String),
    /// The journal cannot take this entry, however often it is retried.
    #[error("{0}")]
    Rejected(String),
    #[error("journal is corrupt: stream {stream}: message {sequence}: {reason}")]
    CorruptMessage {
        stream: String,
        sequence: u64,
        reason: String,
    },
}

impl JournalError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        JournalError::Io {
            context: context.into(),
            source,
        }
    }

    /// Whether the write may succeed later without anyone repairing anything (the disk was
    /// full): the receiver answers 503 with `Retry-After` rather than 500.
    pub fn is_out_of_space(&self) -> bool {
        matches!(
            self,
            JournalError::DiskFull { .. } | JournalError::NoSpace(_)
        )
    }
}

/// The write side: one per journal, held by the process that owns it.
pub trait JournalWriter: Send + Sync + 'static {
    /// Appends one entry. Resolves once the entry is durable (or the write failed).
    fn append(&self, entry: NewEntry) -> BoxFuture<'static, Result<Appended, JournalError>>;

    /// The highest record sequence known durable; changes after every commit.
    fn committed(&self) -> watch::Receiver<Option<Sequence>>;

    /// Whether a write could succeed now (for readiness checks).
    fn check_writable(&self) -> Result<(), JournalError>;

    /// A reader of the durable entries with records after `after`.
    fn reader(&self, after: Option<Sequence>) -> Result<Box<dyn JournalReader>, JournalError>;
}

/// The read side: entries in sequence order, starting after a bookmark.
pub trait JournalReader: Send {
    /// The next entry holding a record after the bookmark, or `None` when there is none yet.
    fn next_entry(&mut self) -> BoxFuture<'_, Result<Option<Entry>, JournalError>>;
}
