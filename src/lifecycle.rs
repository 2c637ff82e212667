//! The one shutdown mechanism of a run, shared by the receiver, the emitter and every
//! background task: the stop signal, in-flight accounting and the listener's closing.
//!
//! A run stops for one [`StopReason`]. From then on the receiver refuses new requests with 503
//! while requests already in flight finish (and are journaled); once none is left the listener
//! closes ([`Lifecycle::close`]): nothing more is appended, the emitter drains what was
//! committed, and the background tasks (token upkeep, retention, signals) end and are joined.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, watch};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    Signal(&'static str),
    MaxRunSeconds,
    IdleTimeout,
    MaxRecords,
    /// The emitter could not go on (stdout closed, an entry it cannot convert).
    EmitterStopped,
    /// The listener failed.
    ListenerFailed,
    /// The program embedding the listener asked it to stop.
    Requested,
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StopReason::Signal(name) => write!(f, "received {name}"),
            StopReason::MaxRunSeconds => f.write_str("max_run_seconds reached"),
            StopReason::IdleTimeout => f.write_str("idle_timeout_seconds reached with no webhook"),
            StopReason::MaxRecords => f.write_str("max_records reached"),
            StopReason::EmitterStopped => f.write_str("the emitter stopped"),
            StopReason::ListenerFailed => f.write_str("the listener failed"),
            StopReason::Requested => f.write_str("stop requested"),
        }
    }
}

pub struct Lifecycle {
    stop: watch::Sender<Option<StopReason>>,
    /// Set once the listener has closed: no entry is appended after it.
    closed: watch::Sender<bool>,
    /// Requests in flight: an atomic (not a watch) because every request changes it twice;
    /// `idle` is notified when it drops to zero.
    in_flight: AtomicUsize,
    idle: Notify,
    started: Instant,
    /// Nanoseconds after `started` of the last accepted webhook.
    last_webhook: AtomicU64,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Self::new()
    }
}

impl Lifecycle {
    /// Why the tap is not ready (stopping, or the journal cannot be written), if it is not.
    pub fn not_ready(&self, journal: &dyn crate::journal::JournalWriter) -> Option<String> {
        match self.stop_reason() {
            Some(reason) => Some(format!("stopping: {reason}")),
            None => journal.check_writable().err().map(|e| e.to_string()),
        }
    }

    pub fn new() -> Self {
        Lifecycle {
            stop: watch::channel(None).0,
            closed: watch::channel(false).0,
            in_flight: AtomicUsize::new(0),
            idle: Notify::new(),
            started: Instant::now(),
            last_webhook: AtomicU64::new(0),
        }
    }

    /// Asks the run to stop. The first reason is kept and logged; later calls do nothing.
    pub fn request_stop(&self, reason: StopReason) {
        let first = self.stop.send_if_modified(|current| {
            if current.is_none() {
                *current = Some(reason);
                true
            } else {
                false
            }
        });
        if first {
            log::info!("stopping: {reason}");
        }
    }

    pub fn stop_reason(&self) -> Option<StopReason> {
        *self.stop.borrow()
    }

    /// Resolves once a stop has been requested.
    pub async fn stopped(&self) -> StopReason {
        let mut rx = self.stop.subscribe();
        let reason = rx
            .wait_for(Option::is_some)
            .await
            .map(|r| r.expect("waited for Some"));
        reason.unwrap_or(StopReason::ListenerFailed)
    }

    /// Marks the listener as closed: every request has been answered, nothing more is
    /// appended to the journal.
    pub fn close(&self) {
        self.closed.send_replace(true);
    }

    /// Resolves once the listener has closed (at once if it has).
    pub async fn closed(&self) {
        let mut rx = self.closed.subscribe();
        let _ = rx.wait_for(|closed| *closed).await;
    }

    /// Whether the listener has closed.
    pub fn is_closed(&self) -> bool {
        *self.closed.borrow()
    }

    /// Registers a request in flight, or `None` if the run is stopping (answer 503).
    pub fn begin_request(&self) -> Option<InFlight<'_>> {
        // Count first, then check: a stop that waits for zero in flight cannot miss us.
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        let guard = InFlight(self);
        if self.stop.borrow().is_some() {
            return None;
        }
        Some(guard)
    }

    /// Resolves when no request is in flight, or after `grace`; returns how many were left.
    pub async fn drained(&self, grace: Duration) -> usize {
        let idle = async {
            loop {
                let notified = self.idle.notified();
                let mut notified = std::pin::pin!(notified);
                // Registered before the check, so a drop to zero in between is not missed.
                notified.as_mut().enable();
                if self.in_flight.load(Ordering::SeqCst) == 0 {
                    return;
                }
                notified.await;
            }
        };
        let _ = tokio::time::timeout(grace, idle).await;
        self.in_flight.load(Ordering::SeqCst)
    }

    /// Records that a webhook was accepted (for `idle_timeout_seconds`).
    pub fn touch(&self) {
        let nanos = self.started.elapsed().as_nanos().min(u128::from(u64::MAX)) as u64;
        self.last_webhook.fetch_max(nanos, Ordering::Relaxed);
    }

    /// When the last webhook was accepted (the start of the run if none was).
    pub fn last_activity(&self) -> Instant {
        self.started + Duration::from_nanos(self.last_webhook.load(Ordering::Relaxed))
    }
}

/// A request in flight; dropping it ends it.
pub struct InFlight<'a>(&'a Lifecycle);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stopping_refuses_new_requests_and_waits_for_those_in_flight() {
        let life = Lifecycle::new();
        let first = life.begin_request().expect("running");
        life.request_stop(StopReason::MaxRecords);
        life.request_stop(StopReason::IdleTimeout);
        assert_eq!(life.stop_reason(), Some(StopReason::MaxRecords));
        assert!(life.begin_request().is_none());
        assert_eq!(life.drained(Duration::from_millis(20)).await, 1);
        drop(first);
        assert_eq!(life.drained(Duration::from_secs(5)).await, 0);
    }
}
