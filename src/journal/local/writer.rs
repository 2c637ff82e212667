//! The writer thread: group commit. It takes every append request waiting, writes them in one
//! go, calls `fdatasync` once and only then completes their futures. A second thread
//! ([`super::prepare`]) zeroes the active segment ahead of it, so that the `fdatasync` of a
//! batch need not update the file's size.

use std::io::{self, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;

use tokio::sync::{oneshot, watch};

use super::prepare::Preparer;
use super::recover::Recovered;
use super::segment::SEGMENT_HEADER_LEN;
use super::{
    ActiveSegment, JournalLock, JournalSettings, adopt_segment, check_free_space, create_segment,
};
use crate::journal::frame;
use crate::journal::{Appended, JournalError, JournalId, NewEntry};
use crate::sequence::{self, Sequence, SequenceClock};
use crate::telemetry;

/// Entries at most per commit, and bytes at most per commit (a larger single entry still
/// goes through alone).
const MAX_BATCH_ENTRIES: usize = 4096;
const MAX_BATCH_BYTES: usize = 32 << 20;
/// Bodies at least this large are written straight from their buffer rather than copied.
const COPY_BODY_BELOW: usize = 64 << 10;

pub(super) struct AppendRequest {
    pub entry: NewEntry,
    pub reply: oneshot::Sender<Result<Appended, JournalError>>,
}

/// Failures a test injects into the writer; empty in release builds.
#[derive(Default)]
pub(super) struct Faults {
    /// Every batch fails after its bytes are written, before its fsync.
    #[cfg(test)]
    pub fail_write: AtomicBool,
    /// Undoing a failed batch fails too.
    #[cfg(test)]
    pub fail_undo: AtomicBool,
    /// For the crash tests of the real binary: the process aborts (no destructor, no flush, as
    /// with kill -9) when its
    /// batch number this (counted from 1) is written and not yet fsync'd. Set from
    /// [`CRASH_BEFORE_FSYNC_ENV`], read only by builds with debug assertions (the test
    /// builds), so that no release build can be made to crash by its environment.
    #[cfg(debug_assertions)]
    pub crash_before_fsync: Option<u64>,
    #[cfg(debug_assertions)]
    pub batches: std::sync::atomic::AtomicU64,
    /// For tests of the real binary that need a webhook to wait for the disk: every batch
    /// waits this long between its write and its fsync. Set from [`SLOW_FSYNC_ENV`] (debug
    /// builds only, like the crash).
    #[cfg(debug_assertions)]
    pub slow_fsync: Option<std::time::Duration>,
}

/// The environment variable of [`Faults::crash_before_fsync`] (debug builds only).
#[cfg(debug_assertions)]
pub const CRASH_BEFORE_FSYNC_ENV: &str = "TAP_WEBHOOKS_TEST_CRASH_BEFORE_FSYNC";
/// The environment variable of [`Faults::slow_fsync`], in milliseconds (debug builds only).
#[cfg(debug_assertions)]
pub const SLOW_FSYNC_ENV: &str = "TAP_WEBHOOKS_TEST_SLOW_FSYNC_MS";

impl Faults {
    /// The faults the environment asks for: none, unless this is a debug build and
    /// [`CRASH_BEFORE_FSYNC_ENV`] names a batch or [`SLOW_FSYNC_ENV`] a wait.
    pub fn from_env() -> Self {
        #[cfg(debug_assertions)]
        {
            let crash_before_fsync = std::env::var(CRASH_BEFORE_FSYNC_ENV)
                .ok()
                .and_then(|v| v.parse().ok());
            if let Some(n) = crash_before_fsync {
                log::warn!("test fault: the process aborts before the fsync of batch {n}");
            }
            let slow_fsync = std::env::var(SLOW_FSYNC_ENV)
                .ok()
                .and_then(|v| v.parse().ok())
                .map(std::time::Duration::from_millis);
            if let Some(wait) = slow_fsync {
                log::warn!("test fault: every batch waits {wait:?} before its fsync");
            }
            Faults {
                crash_before_fsync,
                slow_fsync,
                ..Faults::default()
            }
        }
        #[cfg(not(debug_assertions))]
        Faults::default()
    }

    fn write(&self) -> io::Result<()> {
        #[cfg(test)]
        if self.fail_write.load(Ordering::SeqCst) {
            return Err(io::Error::other("injected write failure"));
        }
        #[cfg(debug_assertions)]
        if let Some(n) = self.crash_before_fsync {
            let batch = self.batches.fetch_add(1, Ordering::SeqCst) + 1;
            if batch >= n {
                // As kill -9 would: no destructor, no flush, nothing after this line.
                std::process::abort();
            }
        }
        #[cfg(debug_assertions)]
        if let Some(wait) = self.slow_fsync {
            std::thread::sleep(wait);
        }
        Ok(())
    }

    fn undo(&self) -> io::Result<()> {
        #[cfg(test)]
        if self.fail_undo.load(Ordering::SeqCst) {
            return Err(io::Error::other("injected undo failure"));
        }
        Ok(())
    }
}

/// What the handle keeps of a started writer thread.
pub(super) struct Started {
    pub requests: mpsc::Sender<AppendRequest>,
    pub committed: watch::Receiver<Option<Sequence>>,
    /// Set once a failed write could not be undone.
    pub poisoned: Arc<AtomicBool>,
    /// Set while the last write failed for lack of space; cleared by the next that succeeds.
    pub out_of_space: Arc<AtomicBool>,
    /// What the preparer shares, for tests that wait on it.
    #[cfg(test)]
    pub prepared: Arc<super::prepare::Prepared>,
}

/// Starts the writer thread of the journal in `dir`, going on from `recovered`. It holds
/// `lock` until every handle is dropped.
pub(super) fn start(
    dir: PathBuf,
    settings: JournalSettings,
    lock: JournalLock,
    recovered: Recovered,
    faults: Arc<Faults>,
) -> Result<Started, JournalError> {
    let (committed_tx, committed) = watch::channel(recovered.committed);
    let (requests, rx) = mpsc::channel();
    let poisoned = Arc::new(AtomicBool::new(false));
    let out_of_space = Arc::new(AtomicBool::new(false));
    let preparer = Preparer::start(
        &dir,
        &recovered.active.file,
        recovered.active.len,
        settings.segment_bytes,
        settings.min_free_bytes,
    )
    .map_err(|e| JournalError::io("starting the journal's preparer thread", e))?;
    #[cfg(test)]
    let prepared = preparer.shared();
    let writer = Writer {
        preparer,
        out_of_space: Arc::clone(&out_of_space),
        dir,
        id: recovered.id,
        settings,
        active: recovered.active,
        clock: recovered.clock,
        committed: committed_tx,
        scratch: Vec::with_capacity(COPY_BODY_BELOW * 4),
        poisoned: Arc::clone(&poisoned),
        faults,
        _lock: lock,
    };
    thread::Builder::new()
        .name("journal-writer".into())
        .spawn(move || writer.run(rx))
        .map_err(|e| JournalError::io("starting the journal writer thread", e))?;
    Ok(Started {
        requests,
        committed,
        poisoned,
        out_of_space,
        #[cfg(test)]
        prepared,
    })
}

struct Writer {
    dir: PathBuf,
    id: JournalId,
    settings: JournalSettings,
    active: ActiveSegment,
    clock: SequenceClock,
    committed: watch::Sender<Option<Sequence>>,
    scratch: Vec<u8>,
    /// Set once a failed write could not be undone; shared with the handle for health checks.
    poisoned: Arc<AtomicBool>,
    /// Set while the last write failed for lack of space; shared with the handle.
    out_of_space: Arc<AtomicBool>,
    faults: Arc<Faults>,
    /// Zeroes the active segment ahead of the batches.
    preparer: Preparer,
    _lock: JournalLock,
}

/// A write the file system refused for lack of space becomes [`JournalError::NoSpace`].
fn classify(e: JournalError) -> JournalError {
    match e {
        JournalError::Io { context, source } if is_no_space(&source) => {
            JournalError::NoSpace(format!("{context}: {source}"))
        }
        e => e,
    }
}

/// `ENOSPC` or `EDQUOT`.
pub(super) fn is_no_space(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::StorageFull
        || matches!(e.raw_os_error(), Some(libc::ENOSPC | libc::EDQUOT))
}

impl Writer {
    fn run(mut self, requests: mpsc::Receiver<AppendRequest>) {
        let mut batch = Vec::new();
        while let Ok(first) = requests.recv() {
            let mut bytes = first.entry.body.len();
            batch.push(first);
            while batch.len() < MAX_BATCH_ENTRIES && bytes < MAX_BATCH_BYTES {
                match requests.try_recv() {
                    Ok(request) => {
                        bytes += request.entry.body.len();
                        batch.push(request);
                    }
                    Err(_) => break,
                }
            }
            match self.commit(&mut batch) {
                Ok(firsts) => {
                    self.out_of_space.store(false, Ordering::SeqCst);
                    for (request, first) in batch.drain(..).zip(firsts) {
                        let _ = request.reply.send(Ok(Appended {
                            first_sequence: first,
                            record_count: request.entry.record_count,
                            duplicate: false,
                        }));
                    }
                }
                Err(e) => {
                    let e = classify(e);
                    if e.is_out_of_space() {
                        log::warn!("{e}");
                        self.out_of_space.store(true, Ordering::SeqCst);
                    } else {
                        log::error!("{e}");
                    }
                    let message = e.to_string();
                    for request in batch.drain(..) {
                        let error = match &e {
                            _ if self.is_poisoned() => JournalError::Poisoned,
                            JournalError::DiskFull {
                                available,
                                required,
                            } => JournalError::DiskFull {
                                available: *available,
                                required: *required,
                            },
                            JournalError::NoSpace(what) => JournalError::NoSpace(what.clone()),
                            _ => JournalError::io("appending", io::Error::other(message.clone())),
                        };
                        let _ = request.reply.send(Err(error));
                    }
                }
            }
        }
    }

    /// Writes a batch and makes it durable; returns each entry's first sequence.
    fn commit(&mut self, batch: &mut [AppendRequest]) -> Result<Vec<Sequence>, JournalError> {
        if self.is_poisoned() {
            return Err(JournalError::Poisoned);
        }
        self.check_free_space(batch)?;
        let now = sequence::now_nanos();
        let firsts: Vec<Sequence> = batch
            .iter()
            .map(|r| self.clock.allocate(u64::from(r.entry.record_count), now))
            .collect();
        if self.active.len >= self.settings.segment_bytes {
            let size;
            (self.active, size) =
                match adopt_segment(&self.dir, self.id, firsts[0], &self.preparer)? {
                    Some(adopted) => adopted,
                    None => (
                        create_segment(&self.dir, self.id, firsts[0])?,
                        SEGMENT_HEADER_LEN,
                    ),
                };
            self.preparer
                .rolled(&self.active.file, self.active.len, size)
                .map_err(|e| {
                    JournalError::io(format!("opening {}", self.active.path.display()), e)
                })?;
        }
        let start = self.active.len;
        let began = std::time::Instant::now();
        match self.write_batch(batch, &firsts) {
            Ok(written) => {
                let metrics = telemetry::hot_path();
                metrics.fsync_seconds.record(began.elapsed().as_secs_f64());
                metrics.commit_entries.record(batch.len() as f64);
                self.active.len = start + written;
                self.preparer.advanced(self.active.len);
                // The bodies are on disk: free them before the emitter, told below, reads
                // them back, so that a large body is not held twice. What each entry hands
                // over once durable is there before the emitter is told.
                for (request, &first) in batch.iter_mut().zip(&firsts) {
                    request.entry.body = bytes::Bytes::new();
                    request.entry.on_durable.call(first);
                }
                let last = batch
                    .last()
                    .zip(firsts.last())
                    .map(|(r, first)| first.offset(u64::from(r.entry.record_count.max(1)) - 1));
                if let Some(last) = last {
                    telemetry::progress().set_committed(last.get());
                }
                self.committed.send_replace(last);
                Ok(firsts)
            }
            Err(e) => {
                // Undo the partial batch so that later entries never follow garbage.
                let (faults, file) = (&self.faults, &mut self.active.file);
                let undo = self.preparer.cut(start, || {
                    faults
                        .undo()
                        .and_then(|()| file.set_len(start))
                        .and_then(|()| file.seek(SeekFrom::Start(start)).map(|_| ()))
                        .and_then(|()| file.sync_data())
                });
                if let Err(undo) = undo {
                    log::error!(
                        "journal {}: cannot undo a failed write ({undo}); refusing further writes",
                        self.active.path.display()
                    );
                    self.poisoned.store(true, Ordering::SeqCst);
                }
                Err(JournalError::io(
                    format!("writing {}", self.active.path.display()),
                    e,
                ))
            }
        }
    }

    fn is_poisoned(&self) -> bool {
        self.poisoned.load(Ordering::SeqCst)
    }

    /// Refuses a batch that would leave less than `min_free_bytes` on the journal's disk.
    fn check_free_space(&self, batch: &[AppendRequest]) -> Result<(), JournalError> {
        let batch_bytes: u64 = batch.iter().map(|r| r.entry.body.len() as u64 + 256).sum();
        check_free_space(&self.dir, self.settings.min_free_bytes, batch_bytes)
    }

    fn write_batch(&mut self, batch: &[AppendRequest], firsts: &[Sequence]) -> io::Result<u64> {
        let file = &mut self.active.file;
        let scratch = &mut self.scratch;
        // Past the zeroed part, the preparer must stay off the file until this batch is in.
        let len = batch.iter().map(|r| frame::frame_len(&r.entry)).sum();
        let _beyond = (!self.preparer.covers(self.active.len, len))
            .then(|| self.preparer.beyond(self.active.len, len));
        scratch.clear();
        let mut written = 0;
        for (request, &first) in batch.iter().zip(firsts) {
            let body = &request.entry.body;
            written += frame::encode_frame_prefix(&request.entry, first, scratch);
            if body.len() < COPY_BODY_BELOW {
                scratch.extend_from_slice(body);
            } else {
                file.write_all(scratch)?;
                scratch.clear();
                file.write_all(body)?;
            }
        }
        file.write_all(scratch)?;
        debug_assert_eq!(written, len);
        drop(_beyond);
        self.faults.write()?;
        file.sync_data()?;
        if scratch.capacity() > 8 * MAX_BATCH_BYTES / 4 {
            *scratch = Vec::with_capacity(COPY_BODY_BELOW * 4);
        }
        Ok(written)
    }
}
