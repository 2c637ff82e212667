//! The journal as segment files in `data_dir/journal`, written by one thread with group commit.
//!
//! Appends go over a channel to a writer thread. It takes every request waiting, writes them
//! in one go, calls `fdatasync` once and only then completes their futures: many concurrent
//! requests share one fsync, and a batch is as large as what queued up during the last one.
//! A `LOCK` file (`flock`) ensures one writer per journal; readers need no lock.
//!
//! On open, the writer scans the last segment; a torn tail left by a crash (a frame cut short
//! or failing its checksum) is copied aside to `torn-<segment>-<offset>.bin` and truncated.
//!
//! Here: the backend, the writer handle, the lock and segment files; [`segment`] (segment
//! names and headers; the entries in them are [`frame`]s), [`recover`] (on open), [`writer`]
//! (the thread), [`prepare`] (zeroing segments ahead of it), [`reader`] and [`retention`].

mod prepare;
mod reader;
mod recover;
mod retention;
mod segment;
#[cfg(test)]
mod tests;
mod writer;

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, SystemTime};

use futures_util::future::BoxFuture;
use tokio::sync::{oneshot, watch};

use super::frame;
use super::{
    Appended, Backend, EntryHead, JournalError, JournalId, JournalReader, JournalWriter, NewEntry,
};
use crate::fsutil;
use crate::sequence::Sequence;
use crate::telemetry;
use reader::LocalReader;
use segment::SEGMENT_HEADER_LEN;
use writer::{AppendRequest, Faults};

/// The journal directory inside a `data_dir`.
fn journal_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("journal")
}

/// The local backend of [`super::Journal`]: the journal directory of a `data_dir`.
pub(super) struct LocalBackend {
    dir: PathBuf,
    settings: JournalSettings,
}

impl LocalBackend {
    pub(super) fn new(data_dir: &Path, settings: JournalSettings) -> Self {
        LocalBackend {
            dir: journal_dir(data_dir),
            settings,
        }
    }

    fn list_segments(&self) -> Result<Vec<(Sequence, PathBuf)>, JournalError> {
        list_segments(&self.dir)
            .map_err(|e| JournalError::io(format!("listing {}", self.dir.display()), e))
    }
}

impl Backend for LocalBackend {
    /// Nothing to do: the writer makes `data_dir` with the journal, and what is kept beside it
    /// makes it too when it writes.
    fn prepare_data_dir(&self) -> Result<(), JournalError> {
        Ok(())
    }

    fn open_writer(&self, holder: &str) -> Result<Arc<dyn JournalWriter>, JournalError> {
        Ok(Arc::new(LocalJournal::open(
            self.dir.clone(),
            self.settings,
            holder,
        )?))
    }

    fn reader(&self, after: Option<Sequence>) -> Result<Box<dyn JournalReader>, JournalError> {
        Ok(Box::new(LocalReader::new(self.dir.clone(), after, None)))
    }

    fn scan_entry_heads(
        &self,
        since: Sequence,
        f: &mut dyn FnMut(EntryHead),
    ) -> Result<(), JournalError> {
        scan_entry_heads(&self.dir, since, f)
    }

    fn acknowledge(&self, bookmark: Sequence) -> Result<(), JournalError> {
        retention::acknowledge(&self.dir, bookmark).map_err(|e| {
            JournalError::io(
                format!(
                    "recording the acknowledged bookmark in {}",
                    self.dir.display()
                ),
                e,
            )
        })
    }

    fn acknowledged(&self) -> Option<Sequence> {
        retention::acknowledged(&self.dir)
    }

    fn apply_retention(
        &self,
        keep: Duration,
        now: SystemTime,
    ) -> Result<Vec<String>, JournalError> {
        let deleted = retention::apply(&self.dir, keep, now).map_err(|e| {
            JournalError::io(
                format!("deleting old segments of {}", self.dir.display()),
                e,
            )
        })?;
        Ok(deleted
            .into_iter()
            .map(|path| path.display().to_string())
            .collect())
    }

    fn first_sequence(&self) -> Result<Option<Sequence>, JournalError> {
        Ok(self.list_segments()?.first().map(|(first, _)| *first))
    }

    fn size_on_disk(&self) -> Result<u64, JournalError> {
        let mut total = 0;
        for (_, path) in self.list_segments()? {
            match fs::metadata(&path) {
                Ok(metadata) => total += metadata.len(),
                // Deleted by retention since the listing.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(JournalError::io(format!("reading {}", path.display()), e));
                }
            }
        }
        Ok(total)
    }
}

/// How a local journal writes.
#[derive(Clone, Copy, Debug)]
pub(super) struct JournalSettings {
    /// Size at which a new segment file is started.
    pub segment_bytes: u64,
    /// Writes are refused (so that the receiver answers 503) when the file system holding the
    /// journal would have less than this many bytes free after them.
    pub min_free_bytes: u64,
}

/// The writer handle of a local journal.
struct LocalJournal {
    dir: PathBuf,
    settings: JournalSettings,
    poisoned: Arc<AtomicBool>,
    /// Set while the last write failed for lack of space.
    out_of_space: Arc<AtomicBool>,
    requests: mpsc::Sender<AppendRequest>,
    committed: watch::Receiver<Option<Sequence>>,
    /// What the preparer shares, for tests that wait on it.
    #[cfg(test)]
    prepared: Arc<prepare::Prepared>,
}

impl LocalJournal {
    /// Opens (creating if needed) the journal in `dir` for writing: takes the lock,
    /// recovers from a torn tail and starts the writer thread. `holder` describes this process
    /// in the lock file, for the error another process gets.
    fn open(dir: PathBuf, settings: JournalSettings, holder: &str) -> Result<Self, JournalError> {
        Self::open_with(dir, settings, holder, Arc::new(Faults::from_env()))
    }

    /// [`LocalJournal::open`], with failures for a test to inject.
    fn open_with(
        dir: PathBuf,
        settings: JournalSettings,
        holder: &str,
        faults: Arc<Faults>,
    ) -> Result<Self, JournalError> {
        fsutil::ensure_dir(&dir)
            .map_err(|e| JournalError::io("creating the journal directory", e))?;
        let lock = take_lock(&dir, holder)?;
        let recovered = recover::recover(&dir)?;
        if let Some(committed) = recovered.committed {
            telemetry::progress().set_committed(committed.get());
        }
        let started = writer::start(dir.clone(), settings, lock, recovered, faults)?;
        Ok(LocalJournal {
            dir,
            settings,
            poisoned: started.poisoned,
            out_of_space: started.out_of_space,
            requests: started.requests,
            committed: started.committed,
            #[cfg(test)]
            prepared: started.prepared,
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
        if self.out_of_space.load(Ordering::SeqCst) {
            // Writable again once a write succeeds: the next append, or this probe (so that a
            // receiver taken out of rotation for a full disk comes back without traffic).
            probe_space(&self.dir)?;
            self.out_of_space.store(false, Ordering::SeqCst);
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

/// Calls `f` with the metadata of every entry whose first sequence is at least `since`, in
/// order, reading headers only (bodies are skipped). For a journal this process has opened for
/// writing, so that a torn tail has been cut already.
fn scan_entry_heads(
    dir: &Path,
    since: Sequence,
    f: &mut dyn FnMut(EntryHead),
) -> Result<(), JournalError> {
    let segments = list_segments(dir)
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
        while let Some(head) = frame::read_entry_head(&mut reader)
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
// Segment files

/// The segment the writer appends to.
struct ActiveSegment {
    path: PathBuf,
    file: File,
    len: u64,
}

/// Segment files of a journal directory, ordered by first sequence.
pub(super) fn list_segments(dir: &Path) -> io::Result<Vec<(Sequence, PathBuf)>> {
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
            .and_then(segment::parse_segment_file_name)
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
    segment::decode_segment_header(&header[..got]).map_err(|reason| JournalError::Corrupt {
        segment: path.to_owned(),
        offset: 0,
        reason,
    })
}

fn create_segment(
    dir: &Path,
    id: JournalId,
    first: Sequence,
) -> Result<ActiveSegment, JournalError> {
    let path = dir.join(segment::segment_file_name(first));
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| JournalError::io(format!("creating {}", path.display()), e))?;
    if let Err(e) = file
        .write_all(&segment::encode_segment_header(id, first))
        .and_then(|()| file.sync_all())
        .and_then(|()| fsutil::sync_dir(dir))
    {
        // A full disk, say: the next batch tries again under another name, and no segment
        // without a header is left between the others.
        let _ = fs::remove_file(&path);
        return Err(JournalError::io(format!("writing {}", path.display()), e));
    }
    Ok(ActiveSegment {
        path,
        file,
        len: SEGMENT_HEADER_LEN,
    })
}

/// The preparer's next segment as the one that starts at `first`, if it is ready (see
/// [`prepare`]): its header written and synced, then its name, then the directory synced, as
/// [`create_segment`] does, without a new file's cost during a commit. Returns the segment and
/// its size (zeros past the header), or `None` for the writer to create the segment itself.
fn adopt_segment(
    dir: &Path,
    id: JournalId,
    first: Sequence,
    preparer: &prepare::Preparer,
) -> Result<Option<(ActiveSegment, u64)>, JournalError> {
    let path = dir.join(segment::segment_file_name(first));
    let mut next = match preparer.take_next(&segment::encode_segment_header(id, first), &path) {
        None => return Ok(None),
        Some(Ok(next)) => next,
        Some(Err(e)) => {
            log::warn!(
                "journal: cannot take the readied segment as {} ({e}); creating it instead",
                path.display()
            );
            return Ok(None);
        }
    };
    // Named now, so a reader may have opened it: after a failure the name is not used again
    // (the batch fails; the next one starts a segment of its own, under a later sequence).
    match fsutil::sync_dir(dir).and_then(|()| next.file.seek(SeekFrom::Start(SEGMENT_HEADER_LEN))) {
        Ok(_) => Ok(Some((
            ActiveSegment {
                path: next.path,
                file: next.file,
                len: SEGMENT_HEADER_LEN,
            },
            next.len,
        ))),
        Err(e) => {
            let _ = fs::remove_file(&next.path);
            Err(JournalError::io(format!("starting {}", path.display()), e))
        }
    }
}

/// Bytes the space probe writes: more than a typical batch of webhooks.
const PROBE_BYTES: usize = 256 << 10;

/// Writes and syncs [`PROBE_BYTES`] in a scratch file of `dir`, then removes it: whether a
/// journal write would find space now.
fn probe_space(dir: &Path) -> Result<(), JournalError> {
    let path = dir.join("space-probe.tmp");
    let written = File::create(&path).and_then(|mut file| {
        file.write_all(&[0u8; PROBE_BYTES])?;
        file.sync_data()
    });
    let removed = fs::remove_file(&path);
    match written.and(removed) {
        Ok(()) => Ok(()),
        Err(e) if writer::is_no_space(&e) => Err(JournalError::NoSpace(format!(
            "writing {}: {e}",
            path.display()
        ))),
        Err(e) => Err(JournalError::io(format!("writing {}", path.display()), e)),
    }
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
