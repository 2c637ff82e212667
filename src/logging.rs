//! Singer-style logs: `LEVEL message` lines on stderr. stdout carries Singer messages only.

use std::io::Write;

use log::{Level, LevelFilter, Log, Metadata, Record};

struct StderrLogger;

static LOGGER: StderrLogger = StderrLogger;

impl Log for StderrLogger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.target().starts_with("tap_webhooks")
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let level = match record.level() {
            Level::Error => "ERROR",
            Level::Warn => "WARNING",
            Level::Info => "INFO",
            Level::Debug => "DEBUG",
            Level::Trace => "TRACE",
        };
        // One write per line so that concurrent lines never interleave.
        let line = format!("{level} {}\n", record.args());
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    fn flush(&self) {}
}

/// Installs the stderr logger. `TAP_WEBHOOKS_LOG_LEVEL` (error, warn, info, debug) sets the level.
pub fn init() {
    let level = match std::env::var("TAP_WEBHOOKS_LOG_LEVEL")
        .unwrap_or_default()
        .to_ascii_lowercase()
        .as_str()
    {
        "error" | "critical" => LevelFilter::Error,
        "warn" | "warning" => LevelFilter::Warn,
        "debug" => LevelFilter::Debug,
        "trace" => LevelFilter::Trace,
        _ => LevelFilter::Info,
    };
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(level);
    }
}

/// The line Singer expects on stderr before a non-zero exit.
pub fn critical(message: &dyn std::fmt::Display) {
    let line = format!("CRITICAL {message}\n");
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}
