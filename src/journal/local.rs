//! The journal as segment files in `data_dir/journal`, written by one thread with group commit.
//!
//! Appends go over a channel to a writer thread. It takes every request waiting, writes them
//! in one go, calls `fdatasync` once and only then completes their futures: many concurrent
//! requests share one fsync, and a batch is as large as what queued up during the last one.
//! A `LOCK` file (`flock`) ensures one writer per journal; readers need no lock.
//!
//! On open, the writer scans the last segment; a torn tail left by a crash (a frame cut short
//! or failing its checksum) is copied aside to `torn-<segment>-<offset>.bin` and truncated.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;

use futures_util::future::BoxFuture;
use tokio::sync::{oneshot, watch};

use super::format::{self, Frame, SEGMENT_HEADER_LEN};
use super::{Appended, Entry, JournalError, JournalId, JournalReader, JournalWriter, NewEntry};
use crate::fsutil;
use crate::sequence::{self, Sequence, SequenceClock};
use crate::telemetry;

/// Entries at most per commit, and bytes at most per commit (a larger single entry still
/// goes through alone).
const MAX_BATCH_ENTRIES: usize = 4096;
const MAX_BATCH_BYTES: usize = 32 << 20;
/// Bodies at least this large are written straight from their buffer rather than copied.
const COPY_BODY_BELOW: usize = 64 << 10;

/// The journal directory inside a `data_dir`.
pub fn journal_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("journal")
}

/// How a local journal writes.
#[derive(Clone, Copy, Debug)]
pub struct JournalSettings {
    /// Size at which a new segment file is started.
    pub segment_bytes: u64,
    /// Writes are refused (so that the receiver answers 503) when the file system holding the
    /// journal would have less than this many bytes free after them.
    pub min_free_bytes: u64,
}

/// The writer handle of a local journal.
pub struct LocalJournal {
    dir: PathBuf,
    settings: JournalSettings,
    poisoned: Arc<AtomicBool>,
    requests: mpsc::Sender<AppendRequest>,
    committed: watch::Receiver<Option<Sequence>>,
}

struct AppendRequest {
    entry: NewEntry,
    reply: oneshot::Sender<Result<Appended, JournalError>>,
}

impl LocalJournal {
    /// Opens (creating if needed) the journal of `data_dir` for writing: takes the lock,
    /// recovers from a torn tail and starts the writer thread. `holder` describes this process
    /// in the lock file, for the error another process gets.
    pub fn open(
        data_dir: &Path,
        settings: JournalSettings,
        holder: &str,
    ) -> Result<Self, JournalError> {
        let dir = journal_dir(data_dir);
        fsutil::ensure_dir(&dir)
            .map_err(|e| JournalError::io("creating the journal directory", e))?;
        let lock = take_lock(&dir, holder)?;
        let state = recover(&dir)?;
        if let Some(committed) = state.committed {
            telemetry::progress().set_committed(committed.get());
        }
        let (committed_tx, committed) = watch::channel(state.committed);
        let (requests, rx) = mpsc::channel();
        let poisoned = Arc::new(AtomicBool::new(false));
        let writer = Writer {
            dir: dir.clone(),
            id: state.id,
            settings,
            active: state.active,
            clock: state.clock,
            committed: committed_tx,
            scratch: Vec::with_capacity(COPY_BODY_BELOW * 4),
            poisoned: Arc::clone(&poisoned),
            _lock: lock,
        };
        thread::Builder::new()
            .name("journal-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| JournalError::io("starting the journal writer thread", e))?;
        Ok(LocalJournal {
            dir,
            settings,
            poisoned,
            requests,
            committed,
        })
    }
}

impl JournalWriter for LocalJournal {
    fn append(&self, entry: NewEntry) -> BoxFuture<'static, Result<Appended, JournalError>> {
        let (reply, done) = oneshot::channel();
        let sent = self.requests.send(AppendRequest { entry, reply });
        Box::pin(async move {
            sent.map_err(|_| JournalError::Closed)?;
            done.await.map_err(|_| JournalError::Closed)?
        })
    }

    fn committed(&self) -> watch::Receiver<Option<Sequence>> {
        self.committed.clone()
    }

    fn check_writable(&self) -> Result<(), JournalError> {
        if self.poisoned.load(Ordering::SeqCst) {
            return Err(JournalError::Poisoned);
        }
        check_free_space(&self.dir, self.settings.min_free_bytes, 0)
    }

    fn reader(&self, after: Option<Sequence>) -> Result<Box<dyn JournalReader>, JournalError> {
        Ok(Box::new(LocalReader::new(
            self.dir.clone(),
            after,
            Some(self.committed.clone()),
        )))
    }
}

/// Opens a reader of the journal in `data_dir` without taking the lock: it sees every entry
/// completely written, whether or not another process is appending.
pub fn open_reader(data_dir: &Path, after: Option<Sequence>) -> LocalReader {
    LocalReader::new(journal_dir(data_dir), after, None)
}

/// Calls `f` with the metadata of every entry whose first sequence is at least `since`, in
/// order, reading headers only (bodies are skipped). For a journal this process has opened for
/// writing, so that a torn tail has been cut already.
pub fn scan_entry_heads(
    data_dir: &Path,
    since: Sequence,
    mut f: impl FnMut(format::EntryHead),
) -> Result<(), JournalError> {
    let dir = journal_dir(data_dir);
    let segments = list_segments(&dir)
        .map_err(|e| JournalError::io(format!("listing {}", dir.display()), e))?;
    // The segment holding `since` is the last one starting at or before it.
    let start = segments
        .iter()
        .rposition(|(first, _)| *first <= since)
        .unwrap_or(0);
    for (_, path) in &segments[start..] {
        let mut file = match File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(JournalError::io(format!("opening {}", path.display()), e)),
        };
        read_segment_header(path, &mut file)?;
        let mut reader = BufReader::with_capacity(64 << 10, file);
        while let Some(head) = format::read_entry_head(&mut reader)
            .map_err(|e| JournalError::io(format!("reading {}", path.display()), e))?
        {
            if head.first_sequence >= since {
                f(head);
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Lock

/// Holds the exclusive lock on a journal directory for as long as it lives.
struct JournalLock {
    _file: File,
}

fn take_lock(dir: &Path, holder: &str) -> Result<JournalLock, JournalError> {
    let path = dir.join("LOCK");
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| JournalError::io(format!("opening {}", path.display()), e))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            return Err(JournalError::Locked {
                dir: dir.to_owned(),
                holder: if holder.is_empty() {
                    "unknown process".to_owned()
                } else {
                    holder.to_owned()
                },
            });
        }
        Err(fs::TryLockError::Error(e)) => {
            return Err(JournalError::io(format!("locking {}", path.display()), e));
        }
    }
    let description = format!(
        "pid {} ({holder}), since {}",
        std::process::id(),
        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    file.set_len(0)
        .and_then(|()| file.seek(SeekFrom::Start(0)))
        .and_then(|_| file.write_all(description.as_bytes()))
        .map_err(|e| JournalError::io(format!("writing {}", path.display()), e))?;
    Ok(JournalLock { _file: file })
}

// ---------------------------------------------------------------------------------------------
// Recovery

struct ActiveSegment {
    path: PathBuf,
    file: File,
    len: u64,
}

struct Recovered {
    id: JournalId,
    active: ActiveSegment,
    clock: SequenceClock,
    committed: Option<Sequence>,
}

/// Segment files of a journal directory, ordered by first sequence.
pub fn list_segments(dir: &Path) -> io::Result<Vec<(Sequence, PathBuf)>> {
    let mut segments = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(segments),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        if let Some(first) = entry
            .file_name()
            .to_str()
            .and_then(format::parse_segment_file_name)
        {
            segments.push((first, entry.path()));
        }
    }
    segments.sort();
    Ok(segments)
}

fn read_segment_header(
    path: &Path,
    file: &mut File,
) -> Result<(JournalId, Sequence), JournalError> {
    let mut header = [0u8; SEGMENT_HEADER_LEN as usize];
    let mut got = 0;
    while got < header.len() {
        match file.read(&mut header[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(JournalError::io(format!("reading {}", path.display()), e)),
        }
    }
    format::decode_segment_header(&header[..got]).map_err(|reason| JournalError::Corrupt {
        segment: path.to_owned(),
        offset: 0,
        reason,
    })
}

fn recover(dir: &Path) -> Result<Recovered, JournalError> {
    let io_err =
        |what: &str, path: &Path, e| JournalError::io(format!("{what} {}", path.display()), e);
    let mut segments = list_segments(dir).map_err(|e| io_err("listing", dir, e))?;

    // A crash while creating a segment can leave it shorter than its header: nothing was ever
    // appended to it, so it is removed.
    while let Some((_, path)) = segments.last() {
        let len = fs::metadata(path)
            .map_err(|e| io_err("reading", path, e))?
            .len();
        if len >= SEGMENT_HEADER_LEN {
            break;
        }
        log::warn!(
            "removing incomplete journal segment {} ({len} bytes)",
            path.display()
        );
        fs::remove_file(path).map_err(|e| io_err("removing", path, e))?;
        segments.pop();
    }

    let Some((_, last_path)) = segments.last().cloned() else {
        let id = JournalId::random().map_err(|e| JournalError::io("generating a journal id", e))?;
        let first = Sequence::new(sequence::now_nanos());
        let active = create_segment(dir, id, first)?;
        return Ok(Recovered {
            id,
            active,
            clock: SequenceClock::starting_after(Some(Sequence::new(
                first.get().saturating_sub(1),
            ))),
            committed: None,
        });
    };

    // Every segment must belong to the same journal. (Retention in another process may
    // delete an old segment meanwhile.)
    let mut id = None;
    for (_, path) in &segments {
        let mut file = match File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_err("opening", path, e)),
        };
        let (segment_id, _) = read_segment_header(path, &mut file)?;
        match id {
            None => id = Some(segment_id),
            Some(id) if id != segment_id => {
                return Err(JournalError::Corrupt {
                    segment: path.clone(),
                    offset: 0,
                    reason: format!("belongs to journal {segment_id}, not {id}"),
                });
            }
            Some(_) => {}
        }
    }
    let id = id.expect("at least one segment");

    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&last_path)
        .map_err(|e| io_err("opening", &last_path, e))?;
    let (_, header_first) = read_segment_header(&last_path, &mut file)?;
    let file_len = file
        .metadata()
        .map_err(|e| io_err("reading", &last_path, e))?
        .len();

    // Scan the last segment for its valid end and its last sequence.
    let mut reader = BufReader::with_capacity(1 << 20, &mut file);
    let mut end = SEGMENT_HEADER_LEN;
    let mut last: Option<Sequence> = None;
    let mut torn = None;
    loop {
        match format::read_frame(&mut reader).map_err(|e| io_err("reading", &last_path, e))? {
            Frame::End => break,
            Frame::Invalid(reason) => {
                torn = Some(reason);
                break;
            }
            Frame::Payload(payload) => {
                let len = payload.len() as u64 + format::FRAME_HEADER_LEN as u64;
                let entry = format::decode_payload(id, payload).map_err(|reason| {
                    JournalError::Corrupt {
                        segment: last_path.clone(),
                        offset: end,
                        reason,
                    }
                })?;
                last = Some(entry.last_sequence());
                end += len;
            }
        }
    }
    drop(reader);

    if let Some(reason) = torn {
        let dropped = file_len - end;
        let aside = dir.join(format!(
            "torn-{}-{end}.bin",
            last_path
                .file_stem()
                .map_or_else(String::new, |s| s.to_string_lossy().into_owned())
        ));
        file.seek(SeekFrom::Start(end))
            .and_then(|_| {
                let mut tail = Vec::new();
                (&mut file).take(dropped).read_to_end(&mut tail)?;
                fs::write(&aside, &tail)
            })
            .map_err(|e| io_err("saving the torn tail of", &last_path, e))?;
        file.set_len(end)
            .and_then(|()| file.sync_all())
            .map_err(|e| io_err("truncating", &last_path, e))?;
        log::warn!(
            "journal {}: dropped a torn tail of {dropped} bytes at offset {end} ({reason}); these \
             bytes were never acknowledged and are kept in {}",
            last_path.display(),
            aside.display()
        );
    }
    file.seek(SeekFrom::Start(end))
        .map_err(|e| io_err("seeking", &last_path, e))?;

    // With no entry in the last segment, its first sequence still bounds everything before it.
    let floor = last.unwrap_or(Sequence::new(header_first.get().saturating_sub(1)));
    let committed = if last.is_some() || segments.len() > 1 {
        Some(floor)
    } else {
        None
    };
    Ok(Recovered {
        id,
        active: ActiveSegment {
            path: last_path,
            file,
            len: end,
        },
        clock: SequenceClock::starting_after(Some(floor)),
        committed,
    })
}

fn create_segment(
    dir: &Path,
    id: JournalId,
    first: Sequence,
) -> Result<ActiveSegment, JournalError> {
    let path = dir.join(format::segment_file_name(first));
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| JournalError::io(format!("creating {}", path.display()), e))?;
    file.write_all(&format::encode_segment_header(id, first))
        .and_then(|()| file.sync_all())
        .and_then(|()| fsutil::sync_dir(dir))
        .map_err(|e| JournalError::io(format!("writing {}", path.display()), e))?;
    Ok(ActiveSegment {
        path,
        file,
        len: SEGMENT_HEADER_LEN,
    })
}

/// Fails with [`JournalError::DiskFull`] if writing `extra` bytes in `dir` would leave less
/// than `min_free` bytes free (0 turns the check off).
// statvfs field types differ between platforms.
#[allow(clippy::useless_conversion)]
fn check_free_space(dir: &Path, min_free: u64, extra: u64) -> Result<(), JournalError> {
    if min_free == 0 {
        return Ok(());
    }
    let stat = nix::sys::statvfs::statvfs(dir).map_err(|e| {
        JournalError::io(
            format!("checking free space of {}", dir.display()),
            e.into(),
        )
    })?;
    let available =
        u64::from(stat.blocks_available()).saturating_mul(u64::from(stat.fragment_size()));
    let required = min_free.saturating_add(extra);
    if available < required {
        return Err(JournalError::DiskFull {
            available,
            required,
        });
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Writer thread

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
    _lock: JournalLock,
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
                    for (request, first) in batch.drain(..).zip(firsts) {
                        let _ = request.reply.send(Ok(Appended {
                            first_sequence: first,
                            record_count: request.entry.record_count,
                            duplicate: false,
                        }));
                    }
                }
                Err(e) => {
                    if matches!(e, JournalError::DiskFull { .. }) {
                        log::warn!("{e}");
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
            self.active = create_segment(&self.dir, self.id, firsts[0])?;
        }
        let start = self.active.len;
        let began = std::time::Instant::now();
        match self.write_batch(batch, &firsts) {
            Ok(written) => {
                metrics::histogram!(telemetry::FSYNC_SECONDS).record(began.elapsed().as_secs_f64());
                metrics::histogram!(telemetry::COMMIT_ENTRIES).record(batch.len() as f64);
                self.active.len = start + written;
                // The bodies are on disk: free them before the emitter, told below, reads
                // them back, so that a large body is not held twice.
                for request in batch.iter_mut() {
                    request.entry.body = bytes::Bytes::new();
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
                let undo = self
                    .active
                    .file
                    .set_len(start)
                    .and_then(|()| self.active.file.seek(SeekFrom::Start(start)).map(|_| ()))
                    .and_then(|()| self.active.file.sync_data());
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
        scratch.clear();
        let mut written = 0;
        for (request, &first) in batch.iter().zip(firsts) {
            let body = &request.entry.body;
            written += format::encode_frame_prefix(&request.entry, first, scratch);
            if body.len() < COPY_BODY_BELOW {
                scratch.extend_from_slice(body);
            } else {
                file.write_all(scratch)?;
                scratch.clear();
                file.write_all(body)?;
            }
        }
        file.write_all(scratch)?;
        file.sync_data()?;
        if scratch.capacity() > 8 * MAX_BATCH_BYTES / 4 {
            *scratch = Vec::with_capacity(COPY_BODY_BELOW * 4);
        }
        Ok(written)
    }
}

// ---------------------------------------------------------------------------------------------
// Reader

/// Reads entries in order from segment files. With a `bound` (the writer's committed
/// sequence) it delivers only durable entries; without one it delivers every entry whose frame
/// is complete and valid, and treats an incomplete frame at the end of the last segment as
/// "not written yet".
pub struct LocalReader {
    dir: PathBuf,
    after: Option<Sequence>,
    bound: Option<watch::Receiver<Option<Sequence>>>,
    position: Option<Position>,
}

struct Position {
    first: Sequence,
    path: PathBuf,
    id: JournalId,
    file: BufReader<File>,
    offset: u64,
}

impl LocalReader {
    fn new(
        dir: PathBuf,
        after: Option<Sequence>,
        bound: Option<watch::Receiver<Option<Sequence>>>,
    ) -> Self {
        LocalReader {
            dir,
            after,
            bound,
            position: None,
        }
    }

    /// Blocking version of [`JournalReader::next_entry`].
    pub fn next_entry_blocking(&mut self) -> Result<Option<Entry>, JournalError> {
        let bound = match &self.bound {
            None => None,
            Some(bound) => match *bound.borrow() {
                None => return Ok(None),
                Some(b) if self.after.is_some_and(|after| after >= b) => return Ok(None),
                Some(b) => Some(b),
            },
        };
        loop {
            if self.position.is_none() && !self.open_first_segment()? {
                return Ok(None);
            }
            let position = self.position.as_mut().expect("opened above");
            let frame = format::read_frame(&mut position.file)
                .map_err(|e| JournalError::io(format!("reading {}", position.path.display()), e))?;
            match frame {
                Frame::Payload(payload) => {
                    let len = payload.len() as u64 + format::FRAME_HEADER_LEN as u64;
                    let entry = format::decode_payload(position.id, payload).map_err(|reason| {
                        JournalError::Corrupt {
                            segment: position.path.clone(),
                            offset: position.offset,
                            reason,
                        }
                    })?;
                    if bound.is_some_and(|b| entry.first_sequence > b) {
                        self.rewind()?;
                        return Ok(None);
                    }
                    position.offset += len;
                    if self
                        .after
                        .is_some_and(|after| entry.last_sequence() <= after)
                    {
                        continue;
                    }
                    self.after = Some(entry.last_sequence());
                    return Ok(Some(entry));
                }
                Frame::End => {
                    if !self.advance_segment()? {
                        self.rewind()?;
                        return Ok(None);
                    }
                }
                Frame::Invalid(reason) => {
                    // Corrupt if a later segment exists (this one is sealed); otherwise a frame
                    // still being written, or a torn tail the writer will cut on its next open.
                    let current = self.position.as_ref().expect("opened above");
                    let later = list_segments(&self.dir)
                        .map_err(|e| {
                            JournalError::io(format!("listing {}", self.dir.display()), e)
                        })?
                        .into_iter()
                        .any(|(first, _)| first > current.first);
                    if later {
                        return Err(JournalError::Corrupt {
                            segment: current.path.clone(),
                            offset: current.offset,
                            reason,
                        });
                    }
                    self.rewind()?;
                    return Ok(None);
                }
            }
        }
    }

    /// Positions the reader at the segment holding the record after `after`.
    fn open_first_segment(&mut self) -> Result<bool, JournalError> {
        let segments = list_segments(&self.dir)
            .map_err(|e| JournalError::io(format!("listing {}", self.dir.display()), e))?;
        let chosen = match self.after {
            None => segments.first(),
            Some(after) => segments
                .iter()
                .rev()
                .find(|(first, _)| *first <= after.offset(1))
                .or(segments.first()),
        };
        let Some((first, path)) = chosen.cloned() else {
            return Ok(false);
        };
        self.open_segment(first, path)
    }

    /// Moves to the segment after the current one; false if there is none.
    fn advance_segment(&mut self) -> Result<bool, JournalError> {
        let current = self.position.as_ref().expect("positioned").first;
        let segments = list_segments(&self.dir)
            .map_err(|e| JournalError::io(format!("listing {}", self.dir.display()), e))?;
        match segments.into_iter().find(|(first, _)| *first > current) {
            Some((first, path)) => self.open_segment(first, path),
            None => Ok(false),
        }
    }

    fn open_segment(&mut self, first: Sequence, path: PathBuf) -> Result<bool, JournalError> {
        let mut file = match File::open(&path) {
            Ok(file) => file,
            // Deleted by retention between listing and opening: list again next time.
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(JournalError::io(format!("opening {}", path.display()), e)),
        };
        let (id, _) = read_segment_header(&path, &mut file)?;
        self.position = Some(Position {
            first,
            path,
            id,
            file: BufReader::with_capacity(256 << 10, file),
            offset: SEGMENT_HEADER_LEN,
        });
        Ok(true)
    }

    /// Returns to the start of the frame at the current offset, to read it again later.
    fn rewind(&mut self) -> Result<(), JournalError> {
        if let Some(position) = self.position.as_mut() {
            position
                .file
                .seek(SeekFrom::Start(position.offset))
                .map_err(|e| JournalError::io(format!("seeking {}", position.path.display()), e))?;
        }
        Ok(())
    }
}

impl JournalReader for LocalReader {
    fn next_entry(&mut self) -> BoxFuture<'_, Result<Option<Entry>, JournalError>> {
        let result = self.next_entry_blocking();
        Box::pin(std::future::ready(result))
    }
}
