//! The journal: a durable, append-only log of accepted webhooks.
//!
//! The receiver appends one [`NewEntry`] per accepted request and answers 200 only once
//! [`JournalWriter::append`] has resolved, which means the entry is on disk. The emitter and
//! replay read entries back with a [`JournalReader`] positioned after a bookmark. Both sides
//! see only these two traits, so another backend (say a replicated stream) can slot in beside
//! [`local`] without touching the receiver or the emitter.
//!
//! An entry keeps what is needed to re-emit exactly the same records later: its first record
//! [`Sequence`] (record `i` of the entry has `first_sequence + i`), the time it was received,
//! the captured headers and the raw body bytes.

pub mod format;
pub mod local;
pub mod nats;
pub mod retention;

use std::path::PathBuf;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use tokio::sync::watch;

use crate::sequence::Sequence;

pub use local::LocalJournal;

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

/// A header captured with a request (name in lower case).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub name: String,
    pub value: Bytes,
}

/// One accepted request, as handed to the journal.
#[derive(Clone, Debug)]
pub struct NewEntry {
    pub received_at: DateTime<Utc>,
    /// How many records the body splits into (the receiver has validated it).
    pub record_count: u32,
    pub headers: Vec<Header>,
    pub body: Bytes,
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

impl Entry {
    /// The sequence of the entry's last record.
    pub fn last_sequence(&self) -> Sequence {
        self.first_sequence
            .offset(u64::from(self.record_count.max(1)) - 1)
    }
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
    #[error("journal is closed")]
    Closed,
    /// A shared journal (NATS) cannot be reached or did not acknowledge in time.
    #[error("journal unavailable: {0}")]
    Unavailable(String),
    /// The journal cannot take this entry, whatever the retries.
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
