//! Baseline for `scripts/bench.sh`: the least a webhook receiver can do. A warp server (the
//! same stack as the tap) that answers `POST /webhooks/<anything>` by parsing the body with
//! serde_json, wrapping it in a Singer RECORD line and writing the line to stdout. No journal,
//! no fsync, no authentication, no schema, no state: what the tap is measured against.
//!
//! Usage: `minimal_server [ADDR] > out` (ADDR defaults to 127.0.0.1:0); prints
//! `listening on http://ADDR` on stderr once bound.

use std::io::Write;
use std::net::SocketAddr;

use bytes::Bytes;
use http::StatusCode;
use warp::Filter;
use warp::reply::Response;

const LIMIT: u64 = 20_000_000;

fn reply(status: StatusCode, body: &'static str) -> Response {
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

fn record(body: Bytes) -> Response {
    let value: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(value) => value,
        Err(_) => return reply(StatusCode::BAD_REQUEST, r#"{"error":"malformed JSON"}"#),
    };
    let mut line = Vec::with_capacity(body.len() + 64);
    line.extend_from_slice(br#"{"type":"RECORD","stream":"data","record":"#);
    serde_json::to_writer(&mut line, &value).expect("writing to a Vec cannot fail");
    line.extend_from_slice(b"}\n");
    if std::io::stdout().lock().write_all(&line).is_err() {
        return reply(StatusCode::INTERNAL_SERVER_ERROR, r#"{"error":"stdout"}"#);
    }
    reply(StatusCode::OK, r#"{"status":"ok","records":1}"#)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".into())
        .parse()
        .map_err(std::io::Error::other)?;
    let routes = warp::post()
        .and(warp::path!("webhooks" / String))
        .and(warp::body::content_length_limit(LIMIT))
        .and(warp::body::bytes())
        .map(|_token: String, body: Bytes| record(body));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    eprintln!("listening on http://{}", listener.local_addr()?);
    warp::serve(routes).incoming(listener).run().await;
    Ok(())
}
