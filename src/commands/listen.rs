//! The listener of a listening sync or of `serve`: journal, routes, background tasks and (for
//! a sync) the emitter thread, started together and stopped by one [`Lifecycle`].
//!
//! [`start`] returns once the listener is bound, with its address and the webhook URL created
//! on a first start, so a program (or a test) can run it in-process on port 0 and stop it
//! with [`Listening::stop`]. The command line waits on it with [`Listening::wait`].

use std::io::Stdout;
use std::net::SocketAddr;
use std::sync::{Arc, mpsc};
use std::thread;

use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::Response;

use super::{RunError, background, current_thread_runtime};
use crate::config::Config;
use crate::convert::handoff::Handoff;
use crate::emitter::{self, EmitError, Emitter};
use crate::http::admission::InflightBytes;
use crate::http::ops::{self, Ops};
use crate::http::receiver::{self, Idempotency, WebhookHandler};
use crate::http::server;
use crate::inspector::Inspector;
use crate::inspector::api::{self, Api};
use crate::inspector::page;
use crate::journal::{Journal, JournalWriter};
use crate::lifecycle::{Lifecycle, StopReason};
use crate::senders::handshake::HandshakeKind;
use crate::senders::idempotency::SeenIds;
use crate::senders::signature::asana::LearnedSecrets;
use crate::sequence::Sequence;
use crate::tokens::{self, LiveTokens, Store, TokenSet};

/// The emitter of a listening sync and the bookmark it starts after.
pub type EmitterJob = (Emitter<Stdout>, Option<Sequence>);

/// How a listener runs.
pub struct ListenOptions {
    /// The emitter of a listening sync; `None` for `serve` (nothing on stdout).
    pub emit: Option<EmitterJob>,
    /// What holds the journal, named in the error another writer gets.
    pub holder: &'static str,
    /// SIGTERM and SIGINT stop the run (the command line). Off for a program that embeds the
    /// listener and stops it with [`Listening::stop`].
    pub signals: bool,
}

impl ListenOptions {
    /// The command line's: signals handled, no emitter.
    pub fn command(holder: &'static str) -> Self {
        ListenOptions {
            emit: None,
            holder,
            signals: true,
        }
    }
}

/// What a started listener reports once it is bound.
struct Started {
    addr: SocketAddr,
    ops_addr: Option<SocketAddr>,
    created_url: Option<String>,
}

/// A running listener.
pub struct Listening {
    /// The webhook listener's address (the real port when `bind` asked for port 0).
    pub addr: SocketAddr,
    /// The operations endpoints' address, with `ops_bind`.
    pub ops_addr: Option<SocketAddr>,
    /// The webhook URL created on the first start of this `data_dir`, if this start made one.
    pub created_url: Option<String>,
    lifecycle: Arc<Lifecycle>,
    thread: thread::JoinHandle<Result<(), RunError>>,
}

impl Listening {
    /// Stops the run as SIGTERM would (requests in flight finish, the emitter drains) and
    /// waits for it to end.
    pub fn stop(self) -> Result<(), RunError> {
        self.lifecycle.request_stop(StopReason::Requested);
        self.wait()
    }

    /// Waits for the run to end by itself (a signal, an end condition, an error).
    pub fn wait(self) -> Result<(), RunError> {
        join(self.thread)
    }
}

fn join(thread: thread::JoinHandle<Result<(), RunError>>) -> Result<(), RunError> {
    thread
        .join()
        .map_err(|_| RunError::io("the listener thread", std::io::Error::other("panicked")))?
}

/// Starts a listener on its own thread and returns once it is bound (or failed to start).
pub fn start(config: &Config, options: ListenOptions) -> Result<Listening, RunError> {
    let config = config.clone();
    let lifecycle = Arc::new(Lifecycle::new());
    let (started_tx, started_rx) = mpsc::sync_channel(1);
    let run_lifecycle = Arc::clone(&lifecycle);
    let thread = thread::Builder::new()
        .name("listener".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .map_err(|source| RunError::io("starting the async runtime", source))?;
            crate::telemetry::install();
            runtime.block_on(run(&config, options, run_lifecycle, started_tx))
        })
        .map_err(|source| RunError::io("starting the listener thread", source))?;
    match started_rx.recv() {
        Ok(started) => Ok(Listening {
            addr: started.addr,
            ops_addr: started.ops_addr,
            created_url: started.created_url,
            lifecycle,
            thread,
        }),
        // The thread ended before it was bound: its result says why.
        Err(_) => match join(thread) {
            Err(e) => Err(e),
            Ok(()) => Err(RunError::io(
                "starting the listener",
                std::io::Error::other("it ended before it was bound"),
            )),
        },
    }
}

async fn run(
    config: &Config,
    options: ListenOptions,
    lifecycle: Arc<Lifecycle>,
    started: mpsc::SyncSender<Started>,
) -> Result<(), RunError> {
    let store = config.journal();
    let journal = store.open_writer(options.holder)?;
    let mut tasks = JoinSet::new();
    background::retention(&mut tasks, config, &lifecycle);
    let listeners = Listeners::bind(config).await?;
    warn_of_kept_credentials(config);
    warn_of_unverified_handshake(config);
    set_backlog_baseline(&store, options.emit.as_ref().and_then(|(_, after)| *after));
    let (tokens, created_url, token_store) = prepare_tokens(config, listeners.addr)?;
    let idempotency = prepare_idempotency(config, &store)?;

    if options.signals {
        background::handle_signals(&mut tasks, &lifecycle)?;
    }
    // The receiver's splits go to this process's emitter; without one, nobody takes them.
    let emitting = options.emit.is_some();
    let handoff = emitting.then(|| Arc::new(Handoff::default()));
    let inspector = inspector(config);
    let emitter_thread = match options.emit {
        Some((emitter, after)) => {
            background::end_conditions(&mut tasks, config, &lifecycle);
            Some(spawn_emitter(
                emitter.with_handoff(handoff.clone()),
                Arc::clone(&journal),
                after,
                Arc::clone(&lifecycle),
            )?)
        }
        None => None,
    };
    if let Some(token_store) = token_store {
        background::token_upkeep(&mut tasks, token_store, &tokens, &lifecycle);
    }

    let handler = WebhookHandler {
        journal: Arc::clone(&journal),
        tokens,
        rules: config.record_rules(),
        max_body_bytes: config.max_body_bytes,
        lifecycle: Arc::clone(&lifecycle),
        signature: config.signature.clone(),
        idempotency,
        body_read_timeout: config.limits.body_read_timeout,
        max_fields: config.limits.max_fields,
        permits: Semaphore::new(config.limits.max_concurrent_requests),
        streams: config.streams.clone(),
        body_bytes: InflightBytes::new(config.limits.max_inflight_body_bytes),
        public_url: config.url_base(listeners.addr),
        cors: config.cors.clone(),
        rejections: config
            .rejections_per_second
            .map(crate::rejections::Rejections::new),
        handoff,
        refusal_log: Default::default(),
        inspector: inspector.clone(),
        handshake: config.handshake.clone(),
        learned: learned_secrets(config)?,
        reply: config.reply.clone(),
    };
    let ops = ops_routes(config, journal, store, &lifecycle, inspector, emitting);
    let _ = started.send(Started {
        addr: listeners.addr,
        ops_addr: listeners.ops.as_ref().map(|(_, addr)| *addr),
        created_url,
    });
    listeners.serve(config, handler, ops, &lifecycle).await;
    lifecycle.close();
    while tasks.join_next().await.is_some() {}
    join_emitter(emitter_thread).await
}

/// Asana's secrets learned before, with `handshake` kind `asana`.
fn learned_secrets(config: &Config) -> Result<Option<LearnedSecrets>, RunError> {
    if config.handshake.as_ref().map(|h| h.kind) != Some(HandshakeKind::Asana) {
        return Ok(None);
    }
    LearnedSecrets::open(&config.journal_config())
        .map(Some)
        .map_err(|e| RunError::io("reading Asana's learned secrets", std::io::Error::other(e)))
}

/// Discord and Xero send badly signed checks too, and expect 401: without `signature` their
/// URL check fails.
fn warn_of_unverified_handshake(config: &Config) {
    let Some(kind) = config.handshake.as_ref().map(|h| h.kind) else {
        return;
    };
    if matches!(kind, HandshakeKind::Discord | HandshakeKind::Xero) && config.signature.is_none() {
        log::warn!(
            "handshake kind {} without signature: {} checks that badly signed requests get \
             401, so its URL check fails; set signature",
            kind.name(),
            if kind == HandshakeKind::Discord {
                "Discord"
            } else {
                "Xero"
            }
        );
    }
}

/// A WARN for each credential header `capture_headers` keeps on purpose.
fn warn_of_kept_credentials(config: &Config) {
    for name in config.streams.capture_headers.secrets().kept_credentials() {
        log::warn!(
            "capture_headers names {name}, a credential: it is journaled and emitted as sent"
        );
    }
}

/// The inspector the receiver tells of each delivery and refusal, with `ops_bind`.
fn inspector(config: &Config) -> Option<Arc<Inspector>> {
    config.ops_bind?;
    let idempotency = config.idempotency.as_ref().map(|i| i.header.clone());
    let settings = config.inspector.clone();
    let inspector = Inspector::new(settings, &config.streams.default, idempotency);
    Some(Arc::new(inspector))
}

/// The operations endpoints, and the inspector beside them with `ops_bind`.
fn ops_routes(
    config: &Config,
    journal: Arc<dyn JournalWriter>,
    store: Journal,
    lifecycle: &Arc<Lifecycle>,
    inspector: Option<Arc<Inspector>>,
    emitting: bool,
) -> BoxedFilter<(Response,)> {
    let ops = ops::routes(Arc::new(Ops {
        journal: Arc::clone(&journal),
        lifecycle: Arc::clone(lifecycle),
        store: store.clone(),
        token: config.inspector.ops_token.clone(),
    }));
    let Some(inspector) = inspector else {
        return ops;
    };
    let api = Api::new(
        inspector,
        config.clone(),
        journal,
        store,
        Arc::clone(lifecycle),
        emitting,
    );
    ops.or(api::routes(Arc::new(api)))
        .unify()
        .or(page::routes())
        .unify()
        .boxed()
}

/// The bound listeners: the webhooks', and the operations endpoints' with `ops_bind`.
struct Listeners {
    webhooks: TcpListener,
    addr: SocketAddr,
    ops: Option<(TcpListener, SocketAddr)>,
}

impl Listeners {
    async fn bind(config: &Config) -> Result<Self, RunError> {
        let webhooks = bind(config.bind).await?;
        let addr = local_addr(&webhooks)?;
        let ops = match config.ops_bind {
            Some(ops_addr) => {
                let listener = bind(ops_addr).await?;
                let addr = local_addr(&listener)?;
                Some((listener, addr))
            }
            None => None,
        };
        log::info!("listening on http://{addr}");
        if let Some((_, ops_addr)) = &ops {
            log::info!("inspector and operations endpoints on http://{ops_addr}");
        }
        Ok(Listeners {
            webhooks,
            addr,
            ops,
        })
    }

    /// Serves the webhook routes (with the operations endpoints beside them, unless those
    /// have a listener of their own) until the run stops.
    async fn serve(
        self,
        config: &Config,
        handler: WebhookHandler,
        ops: BoxedFilter<(Response,)>,
        lifecycle: &Arc<Lifecycle>,
    ) {
        let limits = server::ServerLimits {
            header_read_timeout: config.limits.header_read_timeout,
            max_connections: config.limits.max_connections,
        };
        let grace = config.shutdown_grace;
        let handler = Arc::new(handler);
        let Some((ops_listener, _)) = self.ops else {
            let routes = receiver::routes(handler, Some(ops));
            server::serve(self.webhooks, routes, Arc::clone(lifecycle), grace, limits).await;
            return;
        };
        let ops_limits = server::ServerLimits {
            max_connections: 64,
            ..limits.clone()
        };
        tokio::join!(
            server::serve(
                self.webhooks,
                receiver::routes(handler, None),
                Arc::clone(lifecycle),
                grace,
                limits,
            ),
            server::serve(
                ops_listener,
                ops::listener_routes(ops),
                Arc::clone(lifecycle),
                grace,
                ops_limits,
            ),
        );
    }
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, RunError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| RunError::Bind { addr, source })
}

fn local_addr(listener: &TcpListener) -> Result<SocketAddr, RunError> {
    listener
        .local_addr()
        .map_err(|source| RunError::io("reading the bound address", source))
}

/// Waits for the emitter of a listening sync, if there is one, and logs how it ended.
async fn join_emitter(
    emitter_thread: Option<thread::JoinHandle<Result<u64, RunError>>>,
) -> Result<(), RunError> {
    let Some(handle) = emitter_thread else {
        log::info!("stopped");
        return Ok(());
    };
    let joined = tokio::task::spawn_blocking(move || handle.join())
        .await
        .map_err(|e| RunError::io("waiting for the emitter", std::io::Error::other(e)))?;
    let emitted = joined
        .map_err(|_| RunError::io("the emitter thread", std::io::Error::other("panicked")))??;
    log::info!("emitted {emitted} records");
    Ok(())
}

/// Where the backlog gauges count from until records are emitted or acknowledged: the run's
/// bookmark, else what a sync acknowledged, else the start of the journal.
fn set_backlog_baseline(journal: &Journal, bookmark: Option<Sequence>) {
    let journal_start = || {
        journal
            .first_sequence()
            .ok()
            .flatten()
            .map(|first| Sequence::new(first.get().saturating_sub(1)))
    };
    if let Some(baseline) = bookmark
        .or_else(|| journal.acknowledged())
        .or_else(journal_start)
    {
        crate::telemetry::progress().set_consumed(baseline.get());
    }
}

/// The accepted tokens, the URL created on a first start, and the store to follow.
type PreparedTokens = (Arc<LiveTokens>, Option<String>, Option<Store>);

/// The tokens a listener accepts: `token_sha256` from the config, or the journal's token
/// store (returned to be followed), where on the very first start (no token ever made) a
/// token is created and its URL printed, once.
fn prepare_tokens(config: &Config, bound: SocketAddr) -> Result<PreparedTokens, RunError> {
    if let Some(digests) = &config.token_digests {
        log::info!(
            "accepting the {} tokens of token_sha256 (the token store is not used)",
            digests.len()
        );
        let fixed = LiveTokens::fixed(TokenSet::from_digests(digests));
        return Ok((Arc::new(fixed), None, None));
    }
    let store = Store::open(&config.journal_config())?;
    let created_url = store.create_first()?.map(|(id, token)| {
        let url = tokens::webhook_url(&config.url_base(bound), &token);
        log::info!("created webhook URL {id}; it is shown only this once, keep it secret: {url}");
        url
    });
    let live = store.live()?;
    if live.is_empty() {
        log::warn!(
            "no active webhook URL: every webhook gets 401 until `tap-webhooks token new` creates one"
        );
    }
    Ok((Arc::new(live), created_url, Some(store)))
}

/// The seen-id window of `idempotency_header`, rebuilt from the journal entries received
/// within it.
fn prepare_idempotency(
    config: &Config,
    journal: &Journal,
) -> Result<Option<Idempotency>, RunError> {
    let Some(settings) = &config.idempotency else {
        return Ok(None);
    };
    let seen = SeenIds::new(settings.window, settings.max_ids);
    let since = seen.window_start(chrono::Utc::now());
    let since = Sequence::new(since.timestamp_nanos_opt().unwrap_or(0).max(0) as u64);
    journal.scan_entry_heads(since, |head| {
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
        seen: Arc::new(seen),
    }))
}

/// The emitter of a listening sync, on its own thread (stdout writes block), reading the
/// journal after `after` through the writer (durable entries only). It reads the backlog
/// twice: once to declare its columns (one SCHEMA), then to write it and follow.
fn spawn_emitter(
    mut emitter: Emitter<Stdout>,
    journal: Arc<dyn JournalWriter>,
    after: Option<Sequence>,
    lifecycle: Arc<Lifecycle>,
) -> Result<thread::JoinHandle<Result<u64, RunError>>, RunError> {
    let mut reader = journal.reader(after)?;
    let committed = journal.committed();
    thread::Builder::new()
        .name("emitter".into())
        .spawn(move || {
            let runtime = current_thread_runtime()?;
            let followed = runtime.block_on(async {
                let mut open = |start| journal.reader(start);
                emitter.declare_backlog(&mut open, after, false).await?;
                drop(journal);
                emitter.start()?;
                emitter::follow(&mut emitter, reader.as_mut(), committed, &lifecycle).await
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
        .map_err(|source| RunError::io("starting the emitter thread", source))
}
