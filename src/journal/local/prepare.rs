//! Zeroing the active segment ahead of the writer, on a thread of its own.
//!
//! `fdatasync` after an append that grows a file must also write the file's inode (its size
//! changed); after a write over blocks the file already has, it writes the data alone. So a
//! background thread keeps the active segment written with zeros (and synced) a few megabytes
//! beyond where the writer is; the writer's batches then land on existing blocks. Readers and
//! recovery take a zero frame header for the end of the entries.
//!
//! This is a hint for speed, never for durability: `fdatasync` persists whatever size a write
//! needs, so a batch that lands beyond the zeroed part (the preparer fell behind, or failed
//! for a full disk) is only slower. The one rule is that zeros never land on data: the
//! preparer writes only beyond the file's end (`end`), under a lock the writer takes whenever
//! its batch goes past the zeroed part, and when it rolls to a new segment or cuts a failed
//! batch off.
//!
//! It also readies the next segment while the writer fills this one: a file outside the
//! segments' names ([`NEXT_SEGMENT`]), zeroed and synced [`AHEAD`] bytes long. At the roll the
//! writer gives it a header and its name ([`Preparer::take_next`]) instead of creating a file
//! then, which stalled every commit for a few milliseconds (a new inode, its size growing with
//! each batch until the zeroing caught up).

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

/// The preparer keeps at least this much zeroed beyond the writer's position...
const AHEAD: u64 = 4 << 20;
/// ... adding this much at a time, synced before the next: a writer's `fdatasync` flushes the
/// file's dirty zeros too, so a large chunk stalled commits (4 MB: p99 9-94 ms at 17k req/s;
/// 256 KB: 2.2-3.2 ms, against 1.9-2.2 ms without zeroing ahead).
const CHUNK: u64 = 256 << 10;
/// Zeros per `write` call.
const ZEROS: usize = 256 << 10;
/// The name of the next segment while it is readied; not a segment's name, so readers,
/// recovery and retention never see it. A crash may leave one: it is prepared again.
pub(super) const NEXT_SEGMENT: &str = "next-segment.tmp";
/// Between two chunks of the next segment.
const PACE: Duration = Duration::from_millis(20);
/// After the writer takes the next segment, before the preparer starts another: the first
/// commits in the new segment have the disk to themselves.
const QUIET: Duration = Duration::from_millis(100);
/// After a failed preparation (a full disk), the preparer waits this long before trying again.
const BACKOFF: Duration = Duration::from_secs(1);
/// How long the preparer sleeps without news from the writer (a missed wake-up costs this).
const POLL: Duration = Duration::from_millis(50);

/// What the writer and the preparer share.
pub(super) struct Prepared {
    state: Mutex<State>,
    wake: Condvar,
    /// Bytes `[0, zeroed)` of the active segment exist on disk with a synced size: a write
    /// below it does not change the file's size.
    zeroed: AtomicU64,
    /// Where the writer's next batch goes in the active segment.
    position: AtomicU64,
}

struct State {
    /// Another handle on the active segment (positioned writes only: the writer's cursor is
    /// its own).
    file: Option<File>,
    /// The active segment's size: zeros are added from here.
    end: u64,
    /// The preparer zeroes no further than this (the segment's roll-over size).
    limit: u64,
    /// The next segment, once ready.
    next: Option<NextSegment>,
    /// No next segment is started before this.
    next_after: Instant,
    /// Segments the writer has moved to since the start.
    rolls: u64,
    stop: bool,
}

/// A file zeroed and synced for the writer's next segment, still under [`NEXT_SEGMENT`].
pub(super) struct NextSegment {
    pub file: File,
    pub path: PathBuf,
    /// Its size: all zeros.
    pub len: u64,
}

/// The writer's hold on the preparer; dropping it stops the thread and waits for it, so that
/// nothing writes to the journal once its writer is gone.
pub(super) struct Preparer {
    shared: Arc<Prepared>,
    thread: Option<thread::JoinHandle<()>>,
}

/// The writer's permission to write `[at, at + len)` of the active segment past the zeroed
/// part: the preparer waits until it is dropped.
pub(super) struct Beyond<'a> {
    state: MutexGuard<'a, State>,
    until: u64,
}

impl Drop for Beyond<'_> {
    fn drop(&mut self) {
        self.state.end = self.state.end.max(self.until);
    }
}

impl Preparer {
    /// Starts zeroing ahead in `file` (the active segment of the journal in `dir`, `len` bytes
    /// written, rolled over at `limit`), and readying the next segment as long as that leaves
    /// `min_free` bytes free on the disk.
    pub(super) fn start(
        dir: &Path,
        file: &File,
        len: u64,
        limit: u64,
        min_free: u64,
    ) -> io::Result<Preparer> {
        let size = file.metadata()?.len();
        let shared = Arc::new(Prepared {
            state: Mutex::new(State {
                file: Some(file.try_clone()?),
                end: size,
                limit,
                next: None,
                next_after: Instant::now(),
                rolls: 0,
                stop: false,
            }),
            wake: Condvar::new(),
            zeroed: AtomicU64::new(size),
            position: AtomicU64::new(len),
        });
        let thread_shared = Arc::clone(&shared);
        let dir = dir.to_path_buf();
        let thread = thread::Builder::new()
            .name("journal-prepare".into())
            .spawn(move || run(&thread_shared, &dir, min_free))?;
        Ok(Preparer {
            shared,
            thread: Some(thread),
        })
    }

    /// Whether a batch of `len` bytes at `at` lands on blocks already zeroed (and so may be
    /// written without asking).
    pub(super) fn covers(&self, at: u64, len: u64) -> bool {
        at.saturating_add(len) <= self.shared.zeroed.load(Ordering::Acquire)
    }

    /// Waits for the zeroing in progress, if any, and keeps the preparer off the file while
    /// the returned guard lives: for a batch that goes past the zeroed part, to `at + len`.
    pub(super) fn beyond(&self, at: u64, len: u64) -> Beyond<'_> {
        Beyond {
            state: lock(&self.shared.state),
            until: at.saturating_add(len),
        }
    }

    /// The writer's position after a batch; wakes the preparer when it is running low.
    pub(super) fn advanced(&self, position: u64) {
        self.shared.position.store(position, Ordering::Release);
        if self.shared.zeroed.load(Ordering::Acquire) < position.saturating_add(AHEAD) {
            self.shared.wake.notify_one();
        }
    }

    /// Runs `cut`, which cuts the file back to `len` (a failed batch undone), with the
    /// preparer off the file; nothing beyond `len` counts as zeroed after it.
    pub(super) fn cut<T>(&self, len: u64, cut: impl FnOnce() -> T) -> T {
        let mut state = lock(&self.shared.state);
        let result = cut();
        state.end = len;
        self.shared.zeroed.fetch_min(len, Ordering::AcqRel);
        self.shared.position.store(len, Ordering::Release);
        result
    }

    /// The next segment, if it is ready, with `header` written and synced at its start, then
    /// renamed to `path` (which must not exist); the preparer readies another a moment later.
    /// Renamed under the lock, so that the preparer cannot create the next one at the old name
    /// first. An error means the file was not renamed.
    pub(super) fn take_next(&self, header: &[u8], path: &Path) -> Option<io::Result<NextSegment>> {
        let mut state = lock(&self.shared.state);
        let next = state.next.take()?;
        state.next_after = Instant::now() + QUIET;
        let adopted = next
            .file
            .write_all_at(header, 0)
            .and_then(|()| next.file.sync_data())
            .and_then(|()| match fs::symlink_metadata(path) {
                Ok(_) => Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{} exists", path.display()),
                )),
                Err(e) if e.kind() == io::ErrorKind::NotFound => fs::rename(&next.path, path),
                Err(e) => Err(e),
            })
            .map(|()| NextSegment {
                path: path.to_path_buf(),
                ..next
            });
        drop(state);
        self.shared.wake.notify_one();
        Some(adopted)
    }

    /// The writer moved to a new segment of `size` bytes, the first `len` of them written and
    /// the rest zeros: zero ahead in that one.
    pub(super) fn rolled(&self, file: &File, len: u64, size: u64) -> io::Result<()> {
        let file = file.try_clone()?;
        let mut state = lock(&self.shared.state);
        state.file = Some(file);
        state.rolls += 1;
        state.end = size;
        self.shared.zeroed.store(size, Ordering::Release);
        self.shared.position.store(len, Ordering::Release);
        drop(state);
        self.shared.wake.notify_one();
        Ok(())
    }
}

#[cfg(test)]
impl Preparer {
    /// What the preparer shares, for tests that wait on it.
    pub(super) fn shared(&self) -> Arc<Prepared> {
        Arc::clone(&self.shared)
    }
}

#[cfg(test)]
impl Prepared {
    /// Whether the next segment is ready to be taken.
    pub(super) fn next_ready(&self) -> bool {
        lock(&self.state).next.is_some()
    }
}

impl Drop for Preparer {
    fn drop(&mut self) {
        lock(&self.shared.state).stop = true;
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // A panic while holding the lock leaves nothing half-done that matters (the offsets are
    // rechecked): go on with the state as it is.
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The preparer thread: zero a chunk whenever the writer has less than [`AHEAD`] in front;
/// otherwise a chunk of the next segment until it is ready.
fn run(shared: &Prepared, dir: &Path, min_free: u64) {
    let zeros = vec![0u8; ZEROS];
    let next = dir.join(NEXT_SEGMENT);
    // The next segment while it is zeroed: its file and how far.
    let mut readying: Option<(File, u64)> = None;
    let mut next_chunk_at = Instant::now();
    // The roll during which readying failed (a full disk): none until the next one.
    let mut failed_during: Option<u64> = None;
    let mut state = lock(&shared.state);
    loop {
        if state.stop {
            // A clean stop leaves nothing behind in the journal directory.
            drop((readying, state.next.take()));
            let _ = fs::remove_file(&next);
            return;
        }
        let wanted = shared
            .position
            .load(Ordering::Acquire)
            .saturating_add(AHEAD);
        let room = state.limit.saturating_sub(state.end);
        if state.file.is_none() || state.end >= wanted || room == 0 {
            let now = Instant::now();
            let due = next_chunk_at.max(state.next_after);
            let wants_next = state.next.is_none() && failed_during != Some(state.rolls);
            if wants_next && now >= due {
                // Off the lock: the writer never waits for the next segment (it makes its own
                // if this one is not ready). Chunks [`PACE`] apart, since commits wait behind
                // these writes on the disk.
                let (len, rolls) = (AHEAD.min(state.limit), state.rolls);
                drop(state);
                let step = ready_next(&mut readying, dir, &next, &zeros, len, min_free);
                state = lock(&shared.state);
                next_chunk_at = Instant::now() + PACE;
                match step {
                    Ok(ready) => state.next = ready,
                    Err(e) => {
                        // A full disk, say: what was zeroed goes back, and the writer makes
                        // its own segment at the next roll.
                        log::debug!("journal: cannot ready the next segment: {e}");
                        readying = None;
                        let _ = fs::remove_file(&next);
                        failed_during = Some(rolls);
                    }
                }
                continue;
            }
            let wait_for = match wants_next {
                true => due.saturating_duration_since(now).min(POLL),
                false => POLL,
            };
            state = wait(shared, state, wait_for);
            continue;
        }
        state = zero_ahead(shared, state, &zeros, room);
    }
}

/// Zeroes one chunk more of the active segment, with the lock held: the writer takes it only
/// to go past `zeroed`, and then must wait for these zeros anyway.
fn zero_ahead<'a>(
    shared: &'a Prepared,
    mut state: MutexGuard<'a, State>,
    zeros: &[u8],
    room: u64,
) -> MutexGuard<'a, State> {
    let at = state.end;
    let len = CHUNK.min(room);
    let file = state
        .file
        .as_ref()
        .expect("the caller checked that there is one");
    match zero(file, zeros, at, len) {
        Ok(()) => {
            state.end = at + len;
            shared.zeroed.store(at + len, Ordering::Release);
            state
        }
        Err(e) => {
            // A full disk, say. The writer goes on appending (more slowly); the file may
            // have grown partly: whatever it holds past `end` is zeros or nothing.
            log::debug!("journal: cannot zero ahead of the writer: {e}");
            wait(shared, state, BACKOFF)
        }
    }
}

/// Waits for news from the writer, at most `timeout`.
fn wait<'a>(
    shared: &'a Prepared,
    state: MutexGuard<'a, State>,
    timeout: Duration,
) -> MutexGuard<'a, State> {
    shared
        .wake
        .wait_timeout(state, timeout)
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .0
}

/// One chunk more of the next segment at `path` in `dir` (created first, if the disk can
/// spare it and `min_free` bytes), up to `len` bytes; the segment once it is all there.
fn ready_next(
    readying: &mut Option<(File, u64)>,
    dir: &Path,
    path: &Path,
    zeros: &[u8],
    len: u64,
    min_free: u64,
) -> io::Result<Option<NextSegment>> {
    let (file, done) = match readying {
        Some(readying) => readying,
        None => {
            // Room for it and for the active segment's zeros ahead, beyond what is kept free.
            super::check_free_space(dir, min_free, 2 * AHEAD).map_err(io::Error::other)?;
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(path)?;
            readying.insert((file, 0))
        }
    };
    let chunk = CHUNK.min(len - *done);
    zero(file, zeros, *done, chunk)?;
    *done += chunk;
    if *done < len {
        return Ok(None);
    }
    Ok(readying.take().map(|(file, len)| NextSegment {
        file,
        path: path.to_path_buf(),
        len,
    }))
}

/// Writes `len` zeros at `at` and syncs them, size included.
fn zero(file: &File, zeros: &[u8], at: u64, len: u64) -> io::Result<()> {
    let mut done = 0;
    while done < len {
        let n = (len - done).min(zeros.len() as u64) as usize;
        file.write_all_at(&zeros[..n], at + done)?;
        done += n as u64;
    }
    file.sync_data()
}
