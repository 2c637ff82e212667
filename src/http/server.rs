//! The accept loop around the routes: connection limits, timeouts and graceful shutdown.
//!
//! When the run stops, the listener keeps accepting (new requests get 503) until the requests
//! in flight have finished or the grace period is over; then it closes, and open connections
//! are shut down gracefully.
//!
//! Idle and slow connections cannot crowd out real webhooks: a client has
//! `header_read_timeout` to send each request's headers (which also closes idle keep-alive
//! connections), and at most `max_connections` are open. A connection beyond that closes the
//! one idle the longest (a connection with no request in a handler); if every connection is
//! busy, the newcomer gets 503 with `Retry-After`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hyper::server::conn::http1;
use hyper::service::Service;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use warp::filters::BoxedFilter;
use warp::reply::Response;

use crate::lifecycle::Lifecycle;
use crate::reply;

/// How long open connections get to finish once the listener has closed.
const CONNECTION_CLOSE_GRACE: Duration = Duration::from_secs(5);
/// How long an evicted connection gets to finish writing a response before it is dropped.
const EVICTION_GRACE: Duration = Duration::from_secs(1);

/// Connection settings of a listener.
#[derive(Clone, Debug)]
pub struct ServerLimits {
    pub header_read_timeout: Duration,
    pub max_connections: usize,
}

/// One open connection, as the accept loop sees it.
struct Conn {
    state: Mutex<ConnState>,
    evict: Notify,
}

struct ConnState {
    /// Requests of this connection in a handler.
    busy: usize,
    evicted: bool,
    idle_since: Instant,
}

impl Conn {
    fn lock(&self) -> std::sync::MutexGuard<'_, ConnState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Marks a request as in a handler, unless the connection is being evicted.
    fn begin(self: &Arc<Self>) -> Option<Busy> {
        let mut state = self.lock();
        if state.evicted {
            return None;
        }
        state.busy += 1;
        Some(Busy(Arc::clone(self)))
    }
}

struct Busy(Arc<Conn>);

impl Drop for Busy {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.busy -= 1;
        state.idle_since = Instant::now();
    }
}

/// The open connections.
#[derive(Default)]
struct Registry {
    next_id: u64,
    open: HashMap<u64, Arc<Conn>>,
}

impl Registry {
    /// Makes room for one more connection: true if there is room (evicting the connection
    /// idle the longest if needed), false if every connection is busy.
    fn make_room(&mut self, max: usize) -> bool {
        let mut counted = 0;
        let mut victim: Option<(Instant, &Arc<Conn>)> = None;
        for conn in self.open.values() {
            let state = conn.lock();
            if state.evicted {
                continue;
            }
            counted += 1;
            if state.busy == 0 && victim.is_none_or(|(since, _)| state.idle_since < since) {
                victim = Some((state.idle_since, conn));
            }
        }
        if counted < max {
            return true;
        }
        match victim {
            Some((_, conn)) => {
                conn.lock().evicted = true;
                conn.evict.notify_one();
                log::debug!("{counted} connections open: closing the one idle the longest");
                true
            }
            None => false,
        }
    }
}

/// Serves `routes` on `listener` until the run stops and its requests have drained.
pub async fn serve(
    listener: TcpListener,
    routes: BoxedFilter<(Response,)>,
    lifecycle: Arc<Lifecycle>,
    grace: Duration,
    limits: ServerLimits,
) {
    let registry = Arc::new(Mutex::new(Registry::default()));
    let (closing_tx, closing) = watch::channel(false);
    let (open_tx, mut open_rx) = watch::channel(0usize);
    let open_tx = Arc::new(open_tx);
    let drained = async {
        lifecycle.stopped().await;
        lifecycle.drained(grace).await
    };
    let mut drained = std::pin::pin!(drained);
    loop {
        tokio::select! {
            left = &mut drained => {
                if left > 0 {
                    log::warn!("{left} requests still in flight after the grace period; closing");
                }
                break;
            }
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    let conn = admit_connection(&registry, &open_tx, limits.max_connections);
                    match conn {
                        Some((id, conn)) => {
                            let task = reply::with_peer(Some(peer), connection(
                                stream,
                                routes.clone(),
                                conn,
                                closing.clone(),
                                limits.header_read_timeout,
                            ));
                            let (registry, open_tx) = (Arc::clone(&registry), Arc::clone(&open_tx));
                            tokio::spawn(async move {
                                task.await;
                                let mut registry =
                                    registry.lock().unwrap_or_else(|p| p.into_inner());
                                registry.open.remove(&id);
                                open_tx.send_replace(registry.open.len());
                            });
                        }
                        None => {
                            tokio::spawn(refuse_connection(stream));
                        }
                    }
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    log::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }
    drop(listener);
    closing_tx.send_replace(true);
    if tokio::time::timeout(CONNECTION_CLOSE_GRACE, open_rx.wait_for(|n| *n == 0))
        .await
        .is_err()
    {
        log::debug!("some connections did not close in time");
    }
}

/// Registers a new connection, making room by closing idle ones if `max_connections` are
/// open; `None` when there is no room (the connection is refused).
fn admit_connection(
    registry: &Mutex<Registry>,
    open_tx: &watch::Sender<usize>,
    max_connections: usize,
) -> Option<(u64, Arc<Conn>)> {
    let mut registry = registry.lock().unwrap_or_else(|p| p.into_inner());
    if !registry.make_room(max_connections) {
        return None;
    }
    let conn = Arc::new(Conn {
        state: Mutex::new(ConnState {
            busy: 0,
            evicted: false,
            idle_since: Instant::now(),
        }),
        evict: Notify::new(),
    });
    let id = registry.next_id;
    registry.next_id += 1;
    registry.open.insert(id, Arc::clone(&conn));
    open_tx.send_replace(registry.open.len());
    Some((id, conn))
}

/// RFC 9112 §3.2: an HTTP/1.1 request without a Host header, or any request with more than
/// one, gets 400 (hyper does not check: hyperium/hyper#3777).
fn host_count_wrong<B>(request: &hyper::Request<B>) -> bool {
    match request
        .headers()
        .get_all(hyper::header::HOST)
        .iter()
        .count()
    {
        0 => request.version() == hyper::Version::HTTP_11,
        1 => false,
        _ => true,
    }
}

/// Serves one connection until it ends, is evicted or the listener closes.
async fn connection(
    stream: TcpStream,
    routes: BoxedFilter<(Response,)>,
    conn: Arc<Conn>,
    mut closing: watch::Receiver<bool>,
    header_read_timeout: Duration,
) {
    let inner = TowerToHyperService::new(warp::service(routes));
    let tracked = Arc::clone(&conn);
    let service = hyper::service::service_fn(move |request: http::Request<_>| {
        let host_missing = host_count_wrong(&request);
        let busy = tracked.begin();
        let handled = (busy.is_some() && !host_missing).then(|| inner.call(request));
        async move {
            match (busy, handled) {
                (Some(busy), Some(handled)) => {
                    let response = handled.await;
                    drop(busy);
                    response
                }
                (Some(_), None) => Ok(reply::error_response(
                    hyper::StatusCode::BAD_REQUEST,
                    "a request must have one Host header (HTTP/1.1: exactly one)",
                )),
                _ => Ok(reply::too_many_connections()),
            }
        }
    });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout)
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service);
    let mut connection = std::pin::pin!(connection);
    let grace = tokio::select! {
        ended = connection.as_mut() => {
            if let Err(e) = ended {
                log::debug!("connection ended with an error: {e}");
            }
            return;
        }
        _ = conn.evict.notified() => EVICTION_GRACE,
        _ = closing.wait_for(|c| *c) => CONNECTION_CLOSE_GRACE,
    };
    // Finish a response being written, then close; an idle connection closes at once.
    connection.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout(grace, connection).await;
}

/// Answers a connection beyond `max_connections` when none can be closed for it. Written by hand:
/// the connection is not served, so that it costs nothing but this write.
async fn refuse_connection(mut stream: TcpStream) {
    let response = reply::too_many_connections_http1();
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = stream.write_all(&response).await;
        let _ = stream.shutdown().await;
    })
    .await;
}
