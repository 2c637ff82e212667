//! Replay progress: a bar on stderr when stderr is a terminal (bytes and records per second,
//! ETA), nothing of it otherwise; a summary line at the end either way.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Redraw the bar at most this often (checked every few payloads).
const REDRAW: Duration = Duration::from_millis(100);
const CHECK_EVERY: u32 = 256;

pub struct Meter {
    bar: Option<ProgressBar>,
    started: Instant,
    last_draw: Instant,
    /// Bytes read from disk (compressed for gzip), shared with the input readers.
    read: Arc<AtomicU64>,
    since_check: u32,
    pub files: u64,
    pub records: u64,
    /// Payload bytes (decompressed).
    pub bytes: u64,
    pub skipped: u64,
}

/// What a replay did, for the summary line.
#[derive(Debug)]
pub struct Summary {
    pub files: u64,
    pub records: u64,
    pub bytes: u64,
    pub skipped: u64,
    pub elapsed: Duration,
}

impl Meter {
    /// `total`: bytes to read from disk, when known.
    pub fn new(total: Option<u64>) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let (bar, template) = match total {
                Some(total) => (
                    ProgressBar::new(total),
                    "[{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {bytes_per_sec} \
                     {msg} ETA {eta}",
                ),
                None => (
                    ProgressBar::new_spinner(),
                    "{spinner} [{elapsed_precise}] {bytes} {bytes_per_sec} {msg}",
                ),
            };
            bar.set_draw_target(ProgressDrawTarget::stderr_with_hz(10));
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style);
            }
            bar
        });
        let now = Instant::now();
        Meter {
            bar,
            started: now,
            last_draw: now,
            read: Arc::new(AtomicU64::new(0)),
            since_check: 0,
            files: 0,
            records: 0,
            bytes: 0,
            skipped: 0,
        }
    }

    /// The counter input readers add the bytes they read to.
    pub fn read_counter(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.read)
    }

    /// Counts bytes read outside the input readers (journal replay).
    pub fn add_read(&self, bytes: u64) {
        self.read.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Called after each payload; redraws now and then.
    pub fn payload(&mut self, records: u64) {
        self.records += records;
        self.since_check += 1;
        if self.bar.is_some() && self.since_check >= CHECK_EVERY {
            self.since_check = 0;
            if self.last_draw.elapsed() >= REDRAW {
                self.draw();
            }
        }
    }

    fn draw(&mut self) {
        let Some(bar) = &self.bar else { return };
        self.last_draw = Instant::now();
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        bar.set_position(self.read.load(Ordering::Relaxed));
        bar.set_message(format!(
            "{} records ({:.0}/s)",
            self.records,
            self.records as f64 / secs
        ));
    }

    /// Runs `f` (which logs) with the bar out of the way.
    pub fn suspend<T>(&self, f: impl FnOnce() -> T) -> T {
        match &self.bar {
            Some(bar) => bar.suspend(f),
            None => f(),
        }
    }

    /// Clears the bar and returns the figures.
    pub fn finish(mut self) -> Summary {
        self.draw();
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        Summary {
            files: self.files,
            records: self.records,
            bytes: self.bytes,
            skipped: self.skipped,
            elapsed: self.started.elapsed(),
        }
    }
}

impl Summary {
    /// Logs the summary line: `replayed 2 files: 1000 records, 600000 bytes in 0.01 s
    /// (60.0 MB/s, 100000 records/s)`, or for a replay that `failed`, `replay of 2 files
    /// failed after 1000 records, ...` (a WARN; the error follows).
    pub fn log(&self, what: &str, succeeded: bool) {
        if succeeded {
            log::info!("replayed {what}: {}", self.figures());
        } else {
            log::warn!("replay of {what} failed after {}", self.figures());
        }
    }

    fn figures(&self) -> String {
        let secs = self.elapsed.as_secs_f64();
        let per_sec = |n: u64| if secs > 0.0 { n as f64 / secs } else { 0.0 };
        let mut line = format!(
            "{} records, {} bytes in {secs:.2} s ({:.1} MB/s, {:.0} records/s)",
            self.records,
            self.bytes,
            per_sec(self.bytes) / 1e6,
            per_sec(self.records),
        );
        if self.skipped > 0 {
            line.push_str(&format!("; skipped {} invalid payloads", self.skipped));
        }
        line
    }
}
