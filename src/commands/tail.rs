//! `tail`: the journal's deliveries, one line each: the last few, then with `--follow` each new
//! one as it is written, until Ctrl-C. Read-only beside a running tap, like
//! `replay --journal`: it takes no lock and writes nothing, with either journal.
//!
//! A local journal's sequences are the times entries were written, so the last deliveries are
//! found by reading the last minute, then hour, day and month before the whole journal. A NATS
//! journal is read from its first message.

use std::collections::VecDeque;
use std::io::Write;
use std::time::Duration;

use super::RunError;
use crate::config::Config;
use crate::convert::Converter;
use crate::inspector::summary::Summary;
use crate::journal::{EntryKind, Journal, JournalError, JournalReader};
use crate::rejections;
use crate::sequence::{Sequence, now_nanos};

/// How often `--follow` looks for new entries.
const FOLLOW_EVERY: Duration = Duration::from_millis(200);

/// How far back the last deliveries are looked for, in turn (a local journal).
const WINDOWS_SECONDS: [u64; 4] = [60, 3600, 86_400, 30 * 86_400];

/// `tail`'s options.
#[derive(Debug, Clone)]
pub struct TailOptions {
    pub follow: bool,
    /// Only deliveries with a record in this stream (`_rejections`: the refusals recorded).
    pub stream: Option<String>,
    pub json: bool,
    /// The last deliveries printed first.
    pub lines: usize,
}

/// `tail` from the command line.
pub fn run(config: &Config, options: &TailOptions) -> Result<(), RunError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| RunError::io("starting the async runtime", source))?;
    runtime.block_on(tail(config, options, &mut std::io::stdout()))
}

/// Writes the lines to `out`; ends at the journal's end, or with `--follow` on Ctrl-C (or when
/// `out` is closed).
pub async fn tail(
    config: &Config,
    options: &TailOptions,
    out: &mut impl Write,
) -> Result<(), RunError> {
    let tailer = Tailer::new(config, options);
    let journal = config.journal();
    let (last, mut reader) = tailer.last(&journal).await?;
    if last.is_empty() {
        let which = match &options.stream {
            Some(stream) => format!(" with a record in stream {stream}"),
            None => String::new(),
        };
        log::info!(
            "no delivery{which} in the journal ({}){}",
            tailer.place(),
            if options.follow {
                "; waiting for one"
            } else {
                ""
            }
        );
    }
    for summary in &last {
        if !tailer.print(summary, out) {
            return Ok(());
        }
    }
    if !options.follow {
        return Ok(());
    }
    let stop = tokio::signal::ctrl_c();
    tokio::pin!(stop);
    loop {
        let next = tokio::select! {
            _ = &mut stop => return Ok(()),
            next = reader.next_entry() => next?,
        };
        match next {
            Some(entry) => {
                if let Some(summary) = tailer.summary(&entry)
                    && !tailer.print(&summary, out)
                {
                    return Ok(());
                }
            }
            None => tokio::select! {
                _ = &mut stop => return Ok(()),
                _ = tokio::time::sleep(FOLLOW_EVERY) => {}
            },
        }
    }
}

/// What turns entries into lines.
struct Tailer<'c> {
    config: &'c Config,
    options: &'c TailOptions,
    rules: crate::convert::payload::RecordRules,
}

impl<'c> Tailer<'c> {
    fn new(config: &'c Config, options: &'c TailOptions) -> Self {
        Tailer {
            config,
            options,
            rules: config.record_rules(),
        }
    }

    /// The summary of an entry the options ask for, else `None`.
    fn summary(&self, entry: &crate::journal::Entry) -> Option<Summary> {
        let wanted = self.options.stream.as_deref();
        let rejection = entry.kind() == EntryKind::Rejection;
        if rejection != (wanted == Some(rejections::STREAM)) {
            return None;
        }
        let converter = Converter::new(&self.rules, &self.config.streams);
        let idempotency = self.config.idempotency.as_ref().map(|i| i.header.as_str());
        let summary = Summary::of(entry, &converter, idempotency);
        if wanted.is_some_and(|w| !summary.streams.iter().any(|s| s == w)) {
            return None;
        }
        Some(if self.config.inspector.inspect_bodies {
            summary
        } else {
            summary.without_body()
        })
    }

    /// Where the journal is, for messages.
    fn place(&self) -> String {
        match &self.config.nats {
            Some(nats) => format!("NATS stream {}", nats.stream),
            None => self.config.data_dir.display().to_string(),
        }
    }

    /// Prints one line; false once `out` is closed (a pipe to `head`).
    fn print(&self, summary: &Summary, out: &mut impl Write) -> bool {
        let line = if self.options.json {
            summary.json().to_string()
        } else {
            summary.line()
        };
        writeln!(out, "{line}").and_then(|()| out.flush()).is_ok()
    }

    /// The last `lines` deliveries, and a reader positioned after everything read.
    async fn last(
        &self,
        journal: &Journal,
    ) -> Result<(VecDeque<Summary>, Box<dyn JournalReader>), JournalError> {
        let now = now_nanos();
        let windows: Vec<Option<Sequence>> = if self.config.nats.is_some() {
            vec![None]
        } else {
            WINDOWS_SECONDS
                .iter()
                .map(|s| Some(Sequence::new(now.saturating_sub(s * 1_000_000_000))))
                .chain([None])
                .collect()
        };
        let mut found = VecDeque::new();
        let mut reader = journal.reader(None)?;
        for after in windows {
            found.clear();
            reader = journal.reader(after)?;
            while let Some(entry) = reader.next_entry().await? {
                if let Some(summary) = self.summary(&entry) {
                    if found.len() == self.options.lines {
                        found.pop_front();
                    }
                    if self.options.lines > 0 {
                        found.push_back(summary);
                    }
                }
            }
            if found.len() >= self.options.lines {
                break;
            }
        }
        Ok((found, reader))
    }
}
