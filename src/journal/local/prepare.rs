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

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

/// The preparer keeps at least this much zeroed beyond the writer's position...
const AHEAD: u64 = 4 << 20;
/// ... adding this much at a time, synced before the next: a writer's `fdatasync` flushes the
/// file's dirty zeros too, so a large chunk stalled commits (4 MB: p99 9-94 ms at 17k req/s;
/// 256 KB: 2.2-3.2 ms, against 1.9-2.2 ms without zeroing ahead).
const CHUNK: u64 = 256 << 10;
/// Zeros per `write` call.
const ZEROS: usize = 256 << 10;
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
    stop: bool,
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
    /// Starts zeroing ahead in `file` (the active segment, `len` bytes written, rolled over at
    /// `limit`).
    pub(super) fn start(file: &File, len: u64, limit: u64) -> io::Result<Preparer> {
        let size = file.metadata()?.len();
        let shared = Arc::new(Prepared {
            state: Mutex::new(State {
                file: Some(file.try_clone()?),
                end: size,
                limit,
                stop: false,
            }),
            wake: Condvar::new(),
            zeroed: AtomicU64::new(size),
            position: AtomicU64::new(len),
        });
        let thread_shared = Arc::clone(&shared);
        let thread = thread::Builder::new()
            .name("journal-prepare".into())
            .spawn(move || run(&thread_shared))?;
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

    /// The writer moved to a new segment, `len` bytes long: zero ahead in that one.
    pub(super) fn rolled(&self, file: &File, len: u64) -> io::Result<()> {
        let file = file.try_clone()?;
        let mut state = lock(&self.shared.state);
        state.file = Some(file);
        state.end = len;
        self.shared.zeroed.store(len, Ordering::Release);
        self.shared.position.store(len, Ordering::Release);
        drop(state);
        self.shared.wake.notify_one();
        Ok(())
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

/// The preparer thread: zero a chunk whenever the writer has less than [`AHEAD`] in front.
fn run(shared: &Prepared) {
    let zeros = vec![0u8; ZEROS];
    let mut state = lock(&shared.state);
    loop {
        if state.stop {
            return;
        }
        let wanted = shared
            .position
            .load(Ordering::Acquire)
            .saturating_add(AHEAD);
        let room = state.limit.saturating_sub(state.end);
        if state.file.is_none() || state.end >= wanted || room == 0 {
            state = shared
                .wake
                .wait_timeout(state, POLL)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
            continue;
        }
        // Zeroed with the lock held: the writer takes it only to go past `zeroed`, and then
        // must wait for these zeros anyway.
        let at = state.end;
        let len = CHUNK.min(room);
        let file = state.file.as_ref().expect("checked above");
        match zero(file, &zeros, at, len) {
            Ok(()) => {
                state.end = at + len;
                shared.zeroed.store(at + len, Ordering::Release);
            }
            Err(e) => {
                // A full disk, say. The writer goes on appending (more slowly); the file may
                // have grown partly: whatever it holds past `end` is zeros or nothing.
                log::debug!("journal: cannot zero ahead of the writer: {e}");
                state = shared
                    .wake
                    .wait_timeout(state, BACKOFF)
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .0;
            }
        }
    }
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
