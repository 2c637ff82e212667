//! Wires the parts together for each command: a sync (listening or draining), `serve`, and the
//! `token` commands.

use std::io::Stdout;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

use crate::catalog::{Catalog, CatalogError};
use crate::config::{Config, ConfigError};
use crate::convert::{GENERATED_KEY_FIELD, RecordRules};
use crate::emitter::{self, EmitError, Emitter, EmitterSettings, StateCadence};
use crate::idempotency::SeenIds;
use crate::journal::{self, JournalError, JournalReader, JournalWriter, LocalJournal, retention};
use crate::lifecycle::{Lifecycle, StopReason};
use crate::ops::{self, Ops};
use crate::receiver::{self, Idempotency, Receiver};
use crate::replay::ReplayError;
use crate::schema::{Columns, SchemaError, SchemaTracker};
use crate::sequence::Sequence;
use crate::server;
use crate::singer::{State, StateError};
use crate::tokens::{self, LiveTokens, TokenError, TokenSet, TokenStore};

/// How often a listener rereads the token store even if its file stamp did not change.
const TOKEN_RELOAD_INTERVAL: Duration = Duration::from_secs(1);
/// How often a listener writes tokens' last-use times back to the store.
const TOKEN_LAST_USED_INTERVAL: Duration = Duration::from_secs(10);

/// Everything that ends a command with a non-zero exit code.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    Emit(#[from] EmitError),
    #[error(transparent)]
    Schema(#[from] SchemaError),
    #[error(transparent)]
    Tokens(#[from] TokenError),
    #[error(transparent)]
    Replay(#[from] ReplayError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("{context}: {source}")]
    Io {
        context: &'static str,
        source: std::io::Error,
    },
}

impl RunError {
    /// 2 for what the user must fix in the command line, config or state; 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            RunError::Config(_)
            | RunError::State(_)
            | RunError::Catalog(_)
            | RunError::Usage(_) => 2,
            RunError::Replay(e) => e.exit_code(),
            RunError::Tokens(e) if e.is_usage() => 2,
            _ => 1,
        }
    }
}

/// Makes large buffers (request bodies, journal frames) go back to the OS when freed. glibc's
/// malloc otherwise raises its mmap threshold to the largest block freed so far and keeps such
/// blocks in the arena of each thread that freed one: after a few 20 MB bodies memory would
/// stay at several times that, however few are in flight. Call once, first thing.
pub fn return_large_buffers_to_the_os() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; called before other threads start.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

/// What the emitter needs, derived from the config.
pub fn emitter_settings(config: &Config) -> EmitterSettings {
    let generated_key = config.primary_key.is_empty() || config.append_only;
    EmitterSettings {
        rules: record_rules(config),
        key_properties: if generated_key {
            vec![GENERATED_KEY_FIELD.to_owned()]
        } else {
            config.primary_key.clone()
        },
        columns: Columns {
            primary_key: config.primary_key.clone(),
            generated_key,
            sequence_alias: config.sequence_alias.clone(),
            received_at_alias: config.received_at_alias.clone(),
        },
        max_records: config.max_records,
        state_cadence: StateCadence::default(),
        metric_interval: config.metrics_interval,
    }
}

fn record_rules(config: &Config) -> RecordRules {
    RecordRules {
        primary_key: config.primary_key.clone(),
    }
}

/// A sync: SCHEMA, the journal backlog after the state's bookmark, then (with `listen`) the
/// live stream until a stop condition; always a final STATE.
pub fn sync(config: &Config, state: State, catalog: Catalog) -> Result<(), RunError> {
    let settings = emitter_settings(config);
    if config.nats.is_some() {
        // The local journal makes `data_dir`; with NATS it holds only the persisted schema.
        crate::fsutil::ensure_dir(&config.data_dir).map_err(|source| RunError::Io {
            context: "creating data_dir",
            source,
        })?;
    }
    if let Some(bookmark) = state.bookmark() {
        apply_retention(config, bookmark);
    }
    if !catalog.is_stream_selected() {
        log::warn!("the catalog deselects stream data: nothing to emit");
        let mut out = crate::singer::Output::new(std::io::stdout());
        out.state(&state.with_bookmark(state.bookmark()));
        return out.flush().map_err(|e| RunError::Emit(e.into()));
    }
    let catalog = catalog.without_columns(&settings.columns);
    let schema = SchemaTracker::load(&config.data_dir, settings.columns.clone(), catalog)?;
    let emitter = Emitter::new(std::io::stdout(), schema, state.clone(), settings);
    if config.listen {
        listening_run(config, Some((emitter, state.bookmark())), "sync")
    } else {
        drain_run(emitter, state.bookmark(), config)
    }
}

/// `serve`: the receiver alone, journaling webhooks; nothing on stdout.
pub fn serve(config: &Config) -> Result<(), RunError> {
    listening_run(config, None, "serve")
}

fn drain_run(
    mut emitter: Emitter<Stdout>,
    after: Option<Sequence>,
    config: &Config,
) -> Result<(), RunError> {
    let runtime = current_thread_runtime()?;
    let mut reader: Box<dyn JournalReader> = match &config.nats {
        Some(settings) => {
            let connection = runtime.block_on(journal::nats::connect(settings, "sync"))?;
            Box::new(journal::nats::NatsReader::new(connection, after))
        }
        None => Box::new(journal::local::open_reader(&config.data_dir, after)),
    };
    emitter.start().map_err(EmitError::from)?;
    let drained = runtime.block_on(emitter::drain(&mut emitter, reader.as_mut()));
    let emitted = emitter.emitted();
    let finished = emitter.finish();
    drained?;
    finished.map_err(EmitError::from)?;
    log::info!("emitted {emitted} records from the journal");
    Ok(())
}

type EmitterJob = (Emitter<Stdout>, Option<Sequence>);

fn listening_run(config: &Config, emit: Option<EmitterJob>, holder: &str) -> Result<(), RunError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|source| RunError::Io {
            context: "starting the async runtime",
            source,
        })?;
    crate::telemetry::install();
    runtime.block_on(async {
        let mut nats = None;
        let journal: Arc<dyn JournalWriter> = match &config.nats {
            Some(settings) => {
                let connection = journal::nats::connect(settings, holder).await?;
                journal::nats::state::spawn_retention(&connection, config.journal_retention);
                nats = Some(connection.clone());
                Arc::new(journal::nats::NatsJournal::new(connection))
            }
            None => {
                let journal =
                    LocalJournal::open(&config.data_dir, config.journal_settings(), holder)?;
                spawn_retention(config);
                Arc::new(journal)
            }
        };
        let listener = TcpListener::bind(config.bind)
            .await
            .map_err(|source| RunError::Bind {
                addr: config.bind,
                source,
            })?;
        let bound = listener.local_addr().map_err(|source| RunError::Io {
            context: "reading the bound address",
            source,
        })?;
        log::info!("listening on http://{bound}");
        set_backlog_baseline(config, emit.as_ref().and_then(|(_, after)| *after));
        let (tokens, token_upkeep) = match &nats {
            Some(connection) if config.token_digests.is_none() => {
                shared_tokens(config, connection, bound).await?
            }
            _ => {
                let tokens = prepare_tokens(config, bound)?;
                let upkeep = spawn_token_upkeep(&tokens);
                (tokens, upkeep)
            }
        };
        let idempotency = prepare_idempotency(config)?;

        let lifecycle = Arc::new(Lifecycle::new());
        spawn_signal_handler(&lifecycle)?;
        if emit.is_some() {
            spawn_end_conditions(config, &lifecycle);
        }

        let (done_tx, done_rx) = watch::channel(false);
        let emitter_thread = match emit {
            Some((emitter, after)) => {
                let reader = journal.reader(after)?;
                Some(spawn_emitter(
                    emitter,
                    reader,
                    journal.committed(),
                    done_rx,
                    Arc::clone(&lifecycle),
                )?)
            }
            None => None,
        };

        let receiver = Arc::new(Receiver {
            journal: Arc::clone(&journal),
            tokens: Arc::clone(&tokens),
            rules: record_rules(config),
            max_body_bytes: config.max_body_bytes,
            lifecycle: Arc::clone(&lifecycle),
            signature: config.signature.clone(),
            idempotency,
            body_read_timeout: config.limits.body_read_timeout,
            max_fields: config.limits.max_fields,
            permits: Semaphore::new(config.limits.max_concurrent_requests),
        });
        let ops = ops::routes(Arc::new(Ops {
            journal: Arc::clone(&journal),
            lifecycle: Arc::clone(&lifecycle),
            data_dir: config.data_dir.clone(),
        }));
        let limits = server::ServerLimits {
            header_read_timeout: config.limits.header_read_timeout,
            max_connections: config.limits.max_connections,
        };
        match config.ops_bind {
            None => {
                let routes = receiver::routes(receiver, Some(ops));
                server::serve(
                    listener,
                    routes,
                    Arc::clone(&lifecycle),
                    config.shutdown_grace,
                    limits,
                )
                .await;
            }
            Some(ops_addr) => {
                let ops_listener =
                    TcpListener::bind(ops_addr)
                        .await
                        .map_err(|source| RunError::Bind {
                            addr: ops_addr,
                            source,
                        })?;
                if let Ok(addr) = ops_listener.local_addr() {
                    log::info!("operations endpoints on http://{addr}");
                }
                let ops_limits = server::ServerLimits {
                    max_connections: 64,
                    ..limits.clone()
                };
                tokio::join!(
                    server::serve(
                        listener,
                        receiver::routes(receiver, None),
                        Arc::clone(&lifecycle),
                        config.shutdown_grace,
                        limits,
                    ),
                    server::serve(
                        ops_listener,
                        receiver::not_found_after(ops),
                        Arc::clone(&lifecycle),
                        config.shutdown_grace,
                        ops_limits,
                    ),
                );
            }
        }
        done_tx.send_replace(true);
        token_upkeep.abort();
        let flushing = Arc::clone(&tokens);
        let _ = tokio::task::spawn_blocking(move || flushing.flush_last_used()).await;

        match emitter_thread {
            Some(handle) => {
                let joined = tokio::task::spawn_blocking(move || handle.join())
                    .await
                    .map_err(|e| RunError::Io {
                        context: "waiting for the emitter",
                        source: std::io::Error::other(e.to_string()),
                    })?;
                let emitted = joined.map_err(|_| RunError::Io {
                    context: "the emitter thread",
                    source: std::io::Error::other("panicked"),
                })??;
                log::info!("emitted {emitted} records");
            }
            None => log::info!("stopped"),
        }
        Ok(())
    })
}

/// Where the backlog gauges count from until records are emitted or acknowledged: the run's
/// bookmark, else what a sync acknowledged, else the start of the journal.
fn set_backlog_baseline(config: &Config, bookmark: Option<Sequence>) {
    let journal_start = || {
        journal::local::list_segments(&journal::local::journal_dir(&config.data_dir))
            .ok()?
            .first()
            .map(|(first, _)| Sequence::new(first.get().saturating_sub(1)))
    };
    if let Some(baseline) = bookmark
        .or_else(|| retention::acknowledged(&config.data_dir))
        .or_else(journal_start)
    {
        crate::telemetry::progress().set_consumed(baseline.get());
    }
}

/// Records `bookmark` as loaded (the orchestrator passes back states its target confirmed)
/// and deletes the journal segments that retention then allows. Old segments are never
/// written again, so this is safe while another process holds the journal.
fn apply_retention(config: &Config, bookmark: Sequence) {
    if let Some(settings) = &config.nats {
        journal::nats::state::acknowledge(settings, bookmark);
        return;
    }
    let applied = retention::acknowledge(&config.data_dir, bookmark).and_then(|()| {
        retention::apply(
            &config.data_dir,
            config.journal_retention,
            std::time::SystemTime::now(),
        )
    });
    match applied {
        Ok(deleted) => {
            for path in deleted {
                log::info!("journal retention: deleted {}", path.display());
            }
        }
        Err(e) => log::warn!("journal retention failed: {e}"),
    }
}

/// Deletes journal segments the retention policy allows, at start and then every minute.
fn spawn_retention(config: &Config) {
    let data_dir = config.data_dir.clone();
    let keep = config.journal_retention;
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            tick.tick().await;
            let dir = data_dir.clone();
            let outcome = tokio::task::spawn_blocking(move || {
                retention::apply(&dir, keep, std::time::SystemTime::now())
            })
            .await;
            match outcome {
                Ok(Ok(deleted)) => {
                    for path in deleted {
                        log::info!("journal retention: deleted {}", path.display());
                    }
                }
                Ok(Err(e)) => log::warn!("journal retention failed: {e}"),
                Err(e) => log::warn!("journal retention failed: {e}"),
            }
        }
    });
}

/// The tokens a listener accepts: `token_sha256` from the config, or the token store, where
/// on the very first start (no store yet) a token is created and its URL printed, once.
fn prepare_tokens(config: &Config, bound: SocketAddr) -> Result<Arc<LiveTokens>, RunError> {
    if let Some(digests) = &config.token_digests {
        log::info!(
            "accepting the {} tokens of token_sha256 (the token store is not used)",
            digests.len()
        );
        return Ok(Arc::new(LiveTokens::fixed(TokenSet::from_digests(digests))));
    }
    let store = TokenStore::new(&config.data_dir);
    if let Some((id, token)) = store.create_first()? {
        let url = tokens::webhook_url(&config.url_base(bound), &token);
        log::info!("created webhook URL {id}; it is shown only this once, keep it secret: {url}");
    }
    let live = LiveTokens::follow(store)?;
    if live.is_empty() {
        log::warn!(
            "no active webhook URL: every webhook gets 401 until `tap-webhooks token new` creates one"
        );
    }
    Ok(Arc::new(live))
}

/// The tokens of the NATS state bucket, followed by a watch; on the very first start of any
/// receiver (no token ever made), one is created and its URL printed, once.
async fn shared_tokens(
    config: &Config,
    connection: &journal::nats::Connection,
    bound: SocketAddr,
) -> Result<(Arc<LiveTokens>, tokio::task::JoinHandle<()>), RunError> {
    let bucket = journal::nats::state::StateBucket::open(connection).await?;
    if let Some((id, token)) = bucket.create_first().await? {
        let url = tokens::webhook_url(&config.url_base(bound), &token);
        log::info!("created webhook URL {id}; it is shown only this once, keep it secret: {url}");
    }
    let live = Arc::new(LiveTokens::fixed(bucket.token_set().await?));
    if live.is_empty() {
        log::warn!(
            "no active webhook URL: every webhook gets 401 until `tap-webhooks token new` creates one"
        );
    }
    let upkeep = bucket.follow(Arc::clone(&live));
    Ok((live, upkeep))
}

/// Rereads the token store every second (a backstop to the per-request stamp check) and
/// writes last-use times back every few seconds.
fn spawn_token_upkeep(tokens: &Arc<LiveTokens>) -> tokio::task::JoinHandle<()> {
    let tokens = Arc::clone(tokens);
    tokio::spawn(async move {
        let mut reload = tokio::time::interval(TOKEN_RELOAD_INTERVAL);
        let mut flush = tokio::time::interval(TOKEN_LAST_USED_INTERVAL);
        loop {
            let work: fn(&LiveTokens) = tokio::select! {
                _ = reload.tick() => |t| t.refresh(true),
                _ = flush.tick() => LiveTokens::flush_last_used,
            };
            let tokens = Arc::clone(&tokens);
            let _ = tokio::task::spawn_blocking(move || work(&tokens)).await;
        }
    })
}

/// The seen-id window of `idempotency_header`, rebuilt from the journal entries received
/// within it.
fn prepare_idempotency(config: &Config) -> Result<Option<Idempotency>, RunError> {
    let Some(settings) = &config.idempotency else {
        return Ok(None);
    };
    if config.nats.is_some() {
        // The stream's duplicate window dedupes across receivers (and restarts); the set here
        // only answers this receiver's own redeliveries without a round trip.
        return Ok(Some(Idempotency {
            header: settings.header.clone(),
            seen: SeenIds::new(settings.window, settings.max_ids),
        }));
    }
    let seen = SeenIds::new(settings.window, settings.max_ids);
    let since = seen.window_start(chrono::Utc::now());
    let since = Sequence::new(since.timestamp_nanos_opt().unwrap_or(0).max(0) as u64);
    journal::local::scan_entry_heads(&config.data_dir, since, |head| {
        if let Some(id) = head.headers.iter().find(|h| h.name == settings.header) {
            seen.remember(&id.value, head.received_at);
        }
    })?;
    log::info!(
        "idempotency on {}: {} delivery ids from the journal remembered (window {} h, at most {})",
        settings.header,
        seen.len(),
        settings.window.as_secs_f64() / 3600.0,
        settings.max_ids
    );
    Ok(Some(Idempotency {
        header: settings.header.clone(),
        seen,
    }))
}

fn spawn_emitter(
    mut emitter: Emitter<Stdout>,
    mut reader: Box<dyn JournalReader>,
    committed: watch::Receiver<Option<Sequence>>,
    done: watch::Receiver<bool>,
    lifecycle: Arc<Lifecycle>,
) -> Result<thread::JoinHandle<Result<u64, RunError>>, RunError> {
    thread::Builder::new()
        .name("emitter".into())
        .spawn(move || {
            let runtime = current_thread_runtime()?;
            let followed = runtime.block_on(async {
                emitter.start()?;
                emitter::follow(&mut emitter, reader.as_mut(), committed, done, &lifecycle).await
            });
            match followed {
                Ok(()) => Ok(emitter.finish().map_err(EmitError::from)?),
                Err(e) => {
                    lifecycle.request_stop(StopReason::EmitterStopped);
                    if !matches!(e, EmitError::Output(_)) {
                        // Leave a STATE at the last record written, so a fixed run resumes there.
                        let _ = emitter.finish();
                    }
                    Err(e.into())
                }
            }
        })
        .map_err(|source| RunError::Io {
            context: "starting the emitter thread",
            source,
        })
}

fn current_thread_runtime() -> Result<tokio::runtime::Runtime, RunError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| RunError::Io {
            context: "starting the async runtime",
            source,
        })
}

/// SIGTERM or SIGINT stops the run cleanly. A second SIGINT (Ctrl-C pressed again) exits at
/// once: everything acknowledged is in the journal, and the next run emits it. Repeated
/// SIGTERMs, as a supervisor and a process group may both send, are ignored.
fn spawn_signal_handler(lifecycle: &Arc<Lifecycle>) -> Result<(), RunError> {
    use tokio::signal::unix::{SignalKind, signal};
    let io = |source| RunError::Io {
        context: "installing signal handlers",
        source,
    };
    let mut term = signal(SignalKind::terminate()).map_err(io)?;
    let mut int = signal(SignalKind::interrupt()).map_err(io)?;
    let lifecycle = Arc::clone(lifecycle);
    tokio::spawn(async move {
        let mut interrupts = 0;
        loop {
            let name = tokio::select! {
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
fn spawn_end_conditions(config: &Config, lifecycle: &Arc<Lifecycle>) {
    if let Some(max_run) = config.max_run {
        let lifecycle = Arc::clone(lifecycle);
        tokio::spawn(async move {
            tokio::time::sleep(max_run).await;
            lifecycle.request_stop(StopReason::MaxRunSeconds);
        });
    }
    if let Some(idle) = config.idle_timeout {
        let lifecycle = Arc::clone(lifecycle);
        tokio::spawn(async move {
            loop {
                let deadline = lifecycle.last_activity() + idle;
                if std::time::Instant::now() >= deadline {
                    lifecycle.request_stop(StopReason::IdleTimeout);
                    return;
                }
                tokio::time::sleep_until(deadline.into()).await;
            }
        });
    }
}

/// A `token` subcommand.
#[derive(Debug)]
pub enum TokenCommand {
    New,
    List { json: bool },
    Revoke { id: String },
}

/// `token new`: the URL alone on stdout (its last line); `token list`: ids and times, never a
/// token; `token revoke`: gone for running listeners from their next request.
pub fn token(config: &Config, command: TokenCommand) -> Result<(), RunError> {
    let store = TokenStore::new(&config.data_dir);
    let shared = config
        .nats
        .as_ref()
        .filter(|_| config.token_digests.is_none());
    match command {
        TokenCommand::New | TokenCommand::Revoke { .. } if config.token_digests.is_some() => {
            Err(TokenError::ReadOnly.into())
        }
        TokenCommand::New => {
            let (id, token) = match shared {
                Some(settings) => {
                    journal::nats::state::with_bucket(settings, async |b| b.create().await)?
                }
                None => store.create()?,
            };
            log::info!(
                "created webhook URL {id}; it is printed on stdout only this once, keep it secret"
            );
            println!(
                "{}",
                tokens::webhook_url(&config.url_base(config.bind), &token)
            );
            Ok(())
        }
        TokenCommand::Revoke { id } => {
            let revoked = match shared {
                Some(settings) => {
                    journal::nats::state::with_bucket(settings, async |b| b.revoke(&id).await)?
                }
                None => store.revoke(&id)?,
            };
            log::info!(
                "revoked {}; running listeners refuse it from their next request",
                revoked.id
            );
            Ok(())
        }
        TokenCommand::List { json } => {
            let rows: Vec<(String, Option<String>, Option<String>)> = match &config.token_digests {
                Some(digests) => TokenSet::from_digests(digests)
                    .ids()
                    .map(|id| (id.to_string(), None, None))
                    .collect(),
                None => match shared {
                    Some(settings) => {
                        journal::nats::state::with_bucket(settings, async |b| b.list().await)?
                    }
                    None => store.list()?,
                }
                .into_iter()
                .map(|t| {
                    let time = |t: chrono::DateTime<chrono::Utc>| {
                        t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                    };
                    (
                        t.id.to_string(),
                        Some(time(t.created_at)),
                        t.last_used_at.map(time),
                    )
                })
                .collect(),
            };
            if json {
                let list: Vec<serde_json::Value> = rows
                    .iter()
                    .map(|(id, created, used)| {
                        serde_json::json!({"id": id, "created_at": created, "last_used_at": used})
                    })
                    .collect();
                println!("{}", serde_json::Value::Array(list));
            } else {
                println!("{:<14} {:<22} LAST USED", "ID", "CREATED");
                for (id, created, used) in rows {
                    println!(
                        "{id:<14} {:<22} {}",
                        created.as_deref().unwrap_or("(config)"),
                        used.as_deref().unwrap_or("never")
                    );
                }
            }
            Ok(())
        }
    }
}

/// `--discover`: the catalog of stream `data` with the persisted schema.
pub fn discover(config: &Config) -> Result<(), RunError> {
    let settings = emitter_settings(config);
    let schema = SchemaTracker::load(
        &config.data_dir,
        settings.columns.clone(),
        Catalog::default(),
    )?;
    let catalog = crate::catalog::discover(
        &schema,
        &settings.columns,
        &settings.key_properties,
        &config.schema_name,
    );
    println!("{catalog}");
    Ok(())
}
