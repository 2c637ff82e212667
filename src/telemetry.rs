//! Observability: Prometheus metrics (rendered by `GET /metrics`) and Singer `METRIC` lines.
//!
//! Counters and histograms are recorded through the `metrics` facade where things happen (the
//! receiver, the journal writer, the emitter); gauges that compare positions (backlog, lag)
//! are computed when `/metrics` is scraped, from [`Positions`].

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

pub const REQUESTS: &str = "tap_webhooks_http_requests_total";
pub const RECORDS_RECEIVED: &str = "tap_webhooks_records_received_total";
pub const BYTES_RECEIVED: &str = "tap_webhooks_received_bytes_total";
pub const FSYNC_SECONDS: &str = "tap_webhooks_journal_fsync_seconds";
pub const COMMIT_ENTRIES: &str = "tap_webhooks_journal_commit_entries";
pub const RECORDS_EMITTED: &str = "tap_webhooks_records_emitted_total";
/// Journal entries the emitter wrote, by `split`: `handed` (the receiver's split was used) or
/// `parsed` (the body was parsed again).
pub const EMITTER_ENTRIES: &str = "tap_webhooks_emitter_entries_total";
pub const COMMITTED_SEQUENCE: &str = "tap_webhooks_journal_committed_sequence";
pub const BACKLOG_SECONDS: &str = "tap_webhooks_journal_backlog_seconds";
pub const EMITTER_LAG_SECONDS: &str = "tap_webhooks_emitter_lag_seconds";

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The metrics recorded for every webhook and every journal commit, registered once:
/// `metrics::counter!`/`histogram!` look their key up in the registry each time (a hash of
/// the name and labels, and a label string built for the status), which cost ~3% of the CPU
/// per request.
pub struct HotPath {
    /// [`REQUESTS`] with `status="200"`; other statuses go through the macro.
    pub ok: metrics::Counter,
    pub records_received: metrics::Counter,
    pub bytes_received: metrics::Counter,
    pub records_emitted: metrics::Counter,
    /// [`EMITTER_ENTRIES`] with `split="handed"` and `split="parsed"`.
    pub entries_handed: metrics::Counter,
    pub entries_parsed: metrics::Counter,
    /// [`FSYNC_SECONDS`] and [`COMMIT_ENTRIES`], recorded by the journal writer per commit.
    pub fsync_seconds: metrics::Histogram,
    pub commit_entries: metrics::Histogram,
}

static HOT_PATH: OnceLock<HotPath> = OnceLock::new();

/// The hot-path metrics. Registered with the recorder installed at the time of the first
/// call: [`install`] makes that call, so they record once metrics are on.
pub fn hot_path() -> &'static HotPath {
    HOT_PATH.get_or_init(|| HotPath {
        ok: metrics::counter!(REQUESTS, "status" => "200"),
        records_received: metrics::counter!(RECORDS_RECEIVED),
        bytes_received: metrics::counter!(BYTES_RECEIVED),
        records_emitted: metrics::counter!(RECORDS_EMITTED),
        entries_handed: metrics::counter!(EMITTER_ENTRIES, "split" => "handed"),
        entries_parsed: metrics::counter!(EMITTER_ENTRIES, "split" => "parsed"),
        fsync_seconds: metrics::histogram!(FSYNC_SECONDS),
        commit_entries: metrics::histogram!(COMMIT_ENTRIES),
    })
}

/// Installs the Prometheus recorder (once per process).
pub fn install() {
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full(FSYNC_SECONDS.into()),
                &[
                    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0,
                ],
            )
            .and_then(|b| {
                b.set_buckets_for_metric(
                    Matcher::Full(COMMIT_ENTRIES.into()),
                    &[
                        1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 1024.0, 4096.0,
                    ],
                )
            });
        match builder.and_then(PrometheusBuilder::install_recorder) {
            Ok(handle) => {
                describe();
                hot_path();
                spawn_upkeep(handle.clone());
                Some(handle)
            }
            Err(e) => {
                log::warn!("metrics are unavailable: {e}");
                None
            }
        }
    });
}

/// Histogram samples are kept raw until they are folded into their buckets, which a scrape of
/// `/metrics` does, and otherwise only this upkeep: without it, an unscraped tap grows by every
/// commit's samples (~140 KB a second under full load), without bound.
const UPKEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

fn spawn_upkeep(handle: PrometheusHandle) {
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_INTERVAL);
                handle.run_upkeep();
            }
        });
    if let Err(e) = spawned {
        log::warn!("cannot start the metrics upkeep thread: {e}");
    }
}

fn describe() {
    metrics::describe_counter!(REQUESTS, "Webhook requests answered, by HTTP status.");
    metrics::describe_counter!(
        RECORDS_RECEIVED,
        "Records in accepted (journaled) webhooks."
    );
    metrics::describe_counter!(BYTES_RECEIVED, "Body bytes of accepted webhooks.");
    metrics::describe_histogram!(FSYNC_SECONDS, "Time to write and fsync one journal commit.");
    metrics::describe_histogram!(
        COMMIT_ENTRIES,
        "Webhooks sharing one journal commit (group commit)."
    );
    metrics::describe_counter!(RECORDS_EMITTED, "RECORD messages written to stdout.");
    metrics::describe_gauge!(
        COMMITTED_SEQUENCE,
        "Highest durable record sequence (ns since the Unix epoch)."
    );
    metrics::describe_gauge!(
        BACKLOG_SECONDS,
        "Span of journaled records not yet emitted (or, under serve, not yet acknowledged by a sync), in seconds."
    );
    metrics::describe_gauge!(
        EMITTER_LAG_SECONDS,
        "Age of the oldest journaled record not yet emitted or acknowledged; 0 when caught up."
    );
}

/// The process's positions, for the backlog and lag gauges.
pub fn progress() -> &'static Positions {
    static PROGRESS: Positions = Positions {
        committed: AtomicU64::new(0),
        consumed: AtomicU64::new(0),
    };
    &PROGRESS
}

/// Positions that backlog and lag are computed from.
#[derive(Debug, Default)]
pub struct Positions {
    /// Highest durable record sequence.
    pub committed: AtomicU64,
    /// Last record sequence emitted in this process, or acknowledged by a sync's state.
    pub consumed: AtomicU64,
}

impl Positions {
    pub fn set_committed(&self, sequence: u64) {
        self.committed.fetch_max(sequence, Ordering::Relaxed);
    }

    pub fn set_consumed(&self, sequence: u64) {
        self.consumed.fetch_max(sequence, Ordering::Relaxed);
    }
}

/// The Prometheus text of every metric, with the position gauges updated first.
pub fn render(progress: &Positions, now_nanos: u64) -> String {
    let committed = progress.committed.load(Ordering::Relaxed);
    let consumed = progress.consumed.load(Ordering::Relaxed);
    let backlog = committed.saturating_sub(consumed);
    // The oldest record not yet consumed was journaled shortly after `consumed`.
    let lag = if backlog == 0 || consumed == 0 {
        0
    } else {
        now_nanos.saturating_sub(consumed)
    };
    metrics::gauge!(COMMITTED_SEQUENCE).set(committed as f64);
    metrics::gauge!(BACKLOG_SECONDS).set(backlog as f64 / 1e9);
    metrics::gauge!(EMITTER_LAG_SECONDS).set(lag as f64 / 1e9);
    HANDLE
        .get()
        .and_then(Option::as_ref)
        .map(PrometheusHandle::render)
        .unwrap_or_default()
}

/// A Singer metric line on stderr, tagged with the stream it counts (Singer's `endpoint` tag):
/// `INFO METRIC: {"type":"counter","metric":"record_count","value":N,"tags":{"endpoint":"push"}}`.
pub fn singer_counter(metric: &str, stream: &str, value: u64) {
    let line = serde_json::json!({
        "type": "counter",
        "metric": metric,
        "value": value,
        "tags": {"endpoint": stream},
    });
    log::info!("METRIC: {line}");
}
