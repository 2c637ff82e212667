//! The accept loop around the routes: connection settings and graceful shutdown.
//!
//! When the run stops, the listener keeps accepting (new requests get 503) until the requests
//! in flight have finished or the grace period is over; then it closes, and open connections
//! are shut down gracefully.

use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use warp::filters::BoxedFilter;
use warp::reply::Response;

use crate::lifecycle::Lifecycle;

/// How long a client may take to send its request headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// How long open connections get to finish once the listener has closed.
const CONNECTION_CLOSE_GRACE: Duration = Duration::from_secs(5);

/// Serves `routes` on `listener` until the run stops and its requests have drained.
pub async fn serve(
    listener: TcpListener,
    routes: BoxedFilter<(Response,)>,
    lifecycle: Arc<Lifecycle>,
    grace: Duration,
) {
    let graceful = GracefulShutdown::new();
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
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    let service = TowerToHyperService::new(warp::service(routes.clone()));
                    let connection = http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(HEADER_READ_TIMEOUT)
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(stream), service);
                    let connection = graceful.watch(connection);
                    tokio::spawn(async move {
                        if let Err(e) = connection.await {
                            log::debug!("connection ended with an error: {e}");
                        }
                    });
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
    if tokio::time::timeout(CONNECTION_CLOSE_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        log::debug!("some connections did not close in time");
    }
}
