//! What a listener runs beside its routes: signal handling, the end conditions, journal
//! retention and token upkeep. Each task ends when the run's [`Lifecycle`] says so and is
//! joined by the listener before it returns: no task outlives its run.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::task::JoinSet;

use super::RunError;
use crate::config::Config;
use crate::journal::JournalError;
use crate::lifecycle::{Lifecycle, StopReason};
use crate::sequence::Sequence;
use crate::tokens::{LiveTokens, Store};

/// How often retention looks for segments it may delete.
const RETENTION_INTERVAL: Duration = Duration::from_secs(60);

/// SIGTERM or SIGINT stops the run cleanly. A second SIGINT (Ctrl-C pressed again) exits at
/// once: everything acknowledged is in the journal, and the next run emits it. Repeated
/// SIGTERMs, as a supervisor and a process group may both send, are ignored.
pub fn handle_signals(tasks: &mut JoinSet<()>, lifecycle: &Arc<Lifecycle>) -> Result<(), RunError> {
    use tokio::signal::unix::{SignalKind, signal};
    let io = |source| RunError::io("installing signal handlers", source);
    let mut term = signal(SignalKind::terminate()).map_err(io)?;
    let mut int = signal(SignalKind::interrupt()).map_err(io)?;
    let lifecycle = Arc::clone(lifecycle);
    tasks.spawn(async move {
        let mut interrupts = 0;
        loop {
            let name = tokio::select! {
                _ = lifecycle.closed() => return,
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => {
                    interrupts += 1;
                    "SIGINT"
                }
            };
            if interrupts > 1 {
                log::warn!("second SIGINT: exiting now; the next run emits what is journaled");
                std::process::exit(130);
            }
            lifecycle.request_stop(StopReason::Signal(name));
        }
    });
    Ok(())
}

/// `max_run_seconds` and `idle_timeout_seconds`.
pub fn end_conditions(tasks: &mut JoinSet<()>, config: &Config, lifecycle: &Arc<Lifecycle>) {
    if let Some(max_run) = config.max_run {
        let lifecycle = Arc::clone(lifecycle);
        tasks.spawn(async move {
            tokio::select! {
                _ = lifecycle.stopped() => {}
                _ = tokio::time::sleep(max_run) => lifecycle.request_stop(StopReason::MaxRunSeconds),
            }
        });
    }
    if let Some(idle) = config.idle_timeout {
        let lifecycle = Arc::clone(lifecycle);
        tasks.spawn(async move {
            loop {
                let deadline = lifecycle.last_activity() + idle;
                if std::time::Instant::now() >= deadline {
                    lifecycle.request_stop(StopReason::IdleTimeout);
                    return;
                }
                tokio::select! {
                    _ = lifecycle.stopped() => return,
                    _ = tokio::time::sleep_until(deadline.into()) => {}
                }
            }
        });
    }
}

/// Records `bookmark` as loaded (the orchestrator passes back states its target confirmed)
/// and deletes the journal segments that retention then allows. Old segments are never
/// written again, so this is safe while another process holds the journal.
pub fn apply_retention(config: &Config, bookmark: Sequence) {
    let journal = config.journal();
    let applied = journal
        .acknowledge(bookmark)
        .and_then(|()| journal.apply_retention(config.journal_retention, SystemTime::now()));
    log_retention(applied);
}

/// Deletes journal segments the retention policy allows, at start and then every minute,
/// until the run stops.
pub fn retention(tasks: &mut JoinSet<()>, config: &Config, lifecycle: &Arc<Lifecycle>) {
    let journal = config.journal();
    let keep = config.journal_retention;
    let lifecycle = Arc::clone(lifecycle);
    tasks.spawn(async move {
        let mut tick = tokio::time::interval(RETENTION_INTERVAL);
        loop {
            tokio::select! {
                _ = lifecycle.stopped() => return,
                _ = tick.tick() => {}
            }
            let journal = journal.clone();
            let outcome = tokio::task::spawn_blocking(move || {
                journal.apply_retention(keep, SystemTime::now())
            })
            .await
            .unwrap_or_else(|e| {
                Err(JournalError::io(
                    "journal retention",
                    std::io::Error::other(e),
                ))
            });
            log_retention(outcome);
        }
    });
}

fn log_retention(outcome: Result<Vec<String>, JournalError>) {
    match outcome {
        Ok(deleted) => {
            for deleted in deleted {
                log::info!("journal retention: deleted {deleted}");
            }
        }
        Err(e) => log::warn!("journal retention failed: {e}"),
    }
}

/// Keeps the listener's tokens equal to the token store's until the listener closed.
pub fn token_upkeep(
    tasks: &mut JoinSet<()>,
    store: Store,
    tokens: &Arc<LiveTokens>,
    lifecycle: &Arc<Lifecycle>,
) {
    let tokens = Arc::clone(tokens);
    let lifecycle = Arc::clone(lifecycle);
    tasks.spawn(async move { store.follow(tokens, lifecycle.closed()).await });
}
