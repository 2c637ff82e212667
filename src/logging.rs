//! Singer-style logs: `LEVEL message` lines on stderr. stdout carries Singer messages only.
//!
//! Every line is [`escape`]d as it is written: a value from a request (a URL in an SNS
//! confirmation, a refusal's reason) can neither start a line of its own nor send a terminal
//! escape sequence, whichever call site logs it.

use std::borrow::Cow;
use std::fmt::Write as _;
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
        write_line(level, &record.args().to_string());
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
    write_line("CRITICAL", &message.to_string());
}

/// Writes `LEVEL message` and a newline, in one write so that concurrent lines never
/// interleave.
fn write_line(level: &str, message: &str) {
    let line = format!("{level} {}\n", escape(message));
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// `text` with its control characters (newlines, ESC, DEL, C1), line and paragraph
/// separators and bidirectional overrides written as escapes (`\n`, `\u{1b}`), so that it
/// stays on one line and shows as it is.
pub fn escape(text: &str) -> Cow<'_, str> {
    let needs = |c: char| {
        c.is_control()
            || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    // The common case: plain ASCII text with no control character.
    if text.bytes().all(|b| (0x20..0x7f).contains(&b)) || !text.chars().any(needs) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_and_line_breaks_are_escaped() {
        assert!(matches!(escape("plain text: 1/2"), Cow::Borrowed(_)));
        assert!(matches!(escape("café"), Cow::Borrowed(_)));
        assert_eq!(
            escape(
                "https://x/?a=\u{1b}[31m\nERROR forged log line\r\t\u{7f}\u{85}\u{2028}\u{202e}é"
            ),
            "https://x/?a=\\u{1b}[31m\\nERROR forged log line\\r\\t\\u{7f}\\u{85}\\u{2028}\\u{202e}é"
        );
    }
}
