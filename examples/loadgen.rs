//! HTTP load generator for `scripts/bench.sh`: N keep-alive connections POSTing the same body,
//! latencies in an HDR histogram.
//!
//! - Closed loop (default): each connection sends its next request as soon as the previous
//!   answer is in; the rate is the most the server sustains at that concurrency.
//! - Open loop (`--rate R`): requests are due at a fixed rate, R per second, whatever the
//!   server does. A connection free before a request is due sends it when its timer fires and
//!   the latency counts from then (so the timer's own millisecond granularity is not blamed on
//!   the server); a request that is already late when a connection frees up (all connections
//!   were busy: the server fell behind) counts from when it was due, so queueing shows in the
//!   latency (no coordinated omission).
//!
//! It speaks just enough HTTP/1.1 for this (a fixed request; responses with Content-Length),
//! over raw tokio sockets, so that it costs the shared CPU as little as possible.
//!
//! Usage: `loadgen URL BODY_FILE [--connections N] [--duration S] [--warmup S] [--rate R]
//!         [--threads T] [--max-requests N] [--header 'Name: value']...`
//!
//! `--header` adds a header to every request; `{seq}` in its value becomes a number unique to
//! each request (20 digits), for a delivery-id header that must not repeat.
//!
//! Prints one line: `requests=… errors=… seconds=… rps=… p50_us=… p90_us=… p99_us=…
//! p999_us=… max_us=… mean_us=…` (errors: non-2xx answers and broken connections).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Options {
    addr: SocketAddr,
    /// The request, split where each request's `{seq}` goes (one part when there is none).
    request: Arc<Vec<Vec<u8>>>,
    connections: usize,
    duration: Duration,
    warmup: Duration,
    rate: Option<f64>,
    threads: usize,
    max_requests: Option<u64>,
}

fn usage() -> io::Error {
    io::Error::other(
        "usage: loadgen URL BODY_FILE [--connections N] [--duration S] [--warmup S] [--rate R] \
         [--threads T] [--max-requests N] [--header 'Name: value']...",
    )
}

fn parse_options() -> io::Result<Options> {
    let mut args = std::env::args().skip(1);
    let url = args.next().ok_or_else(usage)?;
    let body_file = args.next().ok_or_else(usage)?;
    let rest = url.strip_prefix("http://").ok_or_else(usage)?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let addr: SocketAddr = authority.parse().map_err(io::Error::other)?;
    let body = std::fs::read(&body_file)?;
    let mut options = Options {
        addr,
        request: Arc::new(Vec::new()),
        connections: 32,
        duration: Duration::from_secs(10),
        warmup: Duration::from_secs(1),
        rate: None,
        threads: 1,
        max_requests: None,
    };
    let mut headers = String::new();
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(usage)?;
        if flag == "--header" {
            headers.push_str(&value);
            headers.push_str("\r\n");
            continue;
        }
        let number = || value.parse::<f64>().map_err(|_| usage());
        match flag.as_str() {
            "--connections" => options.connections = number()?.max(1.0) as usize,
            "--duration" => options.duration = Duration::from_secs_f64(number()?),
            "--warmup" => options.warmup = Duration::from_secs_f64(number()?),
            "--rate" => options.rate = Some(number()?).filter(|r| *r > 0.0),
            "--threads" => options.threads = number()?.max(1.0) as usize,
            "--max-requests" => options.max_requests = Some(number()? as u64),
            _ => return Err(usage()),
        }
    }
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\n\
         {headers}Content-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(&body);
    options.request = Arc::new(split_seq(&request));
    Ok(options)
}

/// The request cut at each `{seq}`.
fn split_seq(request: &[u8]) -> Vec<Vec<u8>> {
    let mut parts = Vec::new();
    let mut rest = request;
    while let Some(at) = find(rest, b"{seq}") {
        parts.push(rest[..at].to_vec());
        rest = &rest[at + 5..];
    }
    parts.push(rest.to_vec());
    parts
}

/// What one connection measured.
struct Tally {
    latencies: Histogram<u64>,
    requests: u64,
    errors: u64,
}

/// One request/response exchange on a keep-alive connection. Returns the status code and
/// whether the server keeps the connection open.
async fn exchange(
    stream: &mut TcpStream,
    request: &[u8],
    buf: &mut Vec<u8>,
) -> io::Result<(u16, bool)> {
    stream.write_all(request).await?;
    buf.clear();
    let head_end = loop {
        if let Some(at) = find(buf, b"\r\n\r\n") {
            break at + 4;
        }
        read_more(stream, buf).await?;
    };
    let head = std::str::from_utf8(&buf[..head_end]).map_err(io::Error::other)?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| io::Error::other("bad status line"))?;
    let mut length = None;
    let mut keep_alive = true;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = value.parse::<usize>().ok();
        } else if name.eq_ignore_ascii_case("connection") && value.eq_ignore_ascii_case("close") {
            keep_alive = false;
        }
    }
    let length = length.ok_or_else(|| io::Error::other("response without Content-Length"))?;
    while buf.len() < head_end + length {
        read_more(stream, buf).await?;
    }
    Ok((status, keep_alive))
}

async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<()> {
    buf.reserve(4096);
    let n = stream.read_buf(buf).await?;
    if n == 0 {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

async fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

struct Plan {
    options: Arc<Options>,
    /// Measurement starts here (after the warm-up) and ends at `end`.
    measure_from: Instant,
    end: Instant,
    /// Open loop: the start of the schedule and the next ticket.
    start: Instant,
    tickets: AtomicU64,
    /// Requests sent in the measured window, against `max_requests`.
    sent: AtomicU64,
    /// The next `{seq}`.
    sequence: AtomicU64,
}

/// The request with each `{seq}` filled in (borrowed as is when it has none).
fn fill_seq<'a>(parts: &'a [Vec<u8>], sequence: &AtomicU64) -> std::borrow::Cow<'a, [u8]> {
    if let [whole] = parts {
        return std::borrow::Cow::Borrowed(whole);
    }
    let n = sequence.fetch_add(1, Ordering::Relaxed);
    let mut out = parts[0].clone();
    for part in &parts[1..] {
        out.extend_from_slice(format!("{n:020}").as_bytes());
        out.extend_from_slice(part);
    }
    std::borrow::Cow::Owned(out)
}

async fn connection(plan: Arc<Plan>, mut stream: TcpStream) -> Tally {
    let options = &plan.options;
    let mut tally = Tally {
        latencies: Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid bounds"),
        requests: 0,
        errors: 0,
    };
    let mut buf = Vec::with_capacity(8192);
    let mut broken = false;
    loop {
        let began = match options.rate {
            None => Instant::now(),
            Some(rate) => {
                let ticket = plan.tickets.fetch_add(1, Ordering::Relaxed);
                let due = plan.start + Duration::from_secs_f64(ticket as f64 / rate);
                let now = Instant::now();
                if now >= due {
                    due
                } else {
                    tokio::time::sleep_until(due.into()).await;
                    Instant::now()
                }
            }
        };
        if began >= plan.end {
            break;
        }
        let measured = began >= plan.measure_from;
        if measured
            && let Some(max) = options.max_requests
            && plan.sent.fetch_add(1, Ordering::Relaxed) >= max
        {
            break;
        }
        if broken {
            match connect(options.addr).await {
                Ok(s) => stream = s,
                Err(_) => {
                    tally.errors += u64::from(measured);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            }
        }
        let request = fill_seq(&options.request, &plan.sequence);
        let outcome = exchange(&mut stream, &request, &mut buf).await;
        let done = Instant::now();
        let ok = match outcome {
            Ok((status, keep_alive)) => {
                broken = !keep_alive;
                (200..300).contains(&status)
            }
            Err(_) => {
                broken = true;
                false
            }
        };
        if measured {
            tally.requests += 1;
            if ok {
                let micros = done.duration_since(began).as_micros().max(1) as u64;
                tally.latencies.saturating_record(micros);
            } else {
                tally.errors += 1;
            }
        }
    }
    tally
}

fn main() -> io::Result<()> {
    let options = Arc::new(parse_options()?);
    let runtime = if options.threads > 1 {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(options.threads)
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    };
    runtime.block_on(async {
        let mut streams = Vec::with_capacity(options.connections);
        for _ in 0..options.connections {
            streams.push(connect(options.addr).await?);
        }
        let start = Instant::now();
        let plan = Arc::new(Plan {
            options: Arc::clone(&options),
            measure_from: start + options.warmup,
            end: start + options.warmup + options.duration,
            start,
            tickets: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            sequence: AtomicU64::new(0),
        });
        let tasks: Vec<_> = streams
            .into_iter()
            .map(|s| tokio::spawn(connection(Arc::clone(&plan), s)))
            .collect();
        let mut total = Tally {
            latencies: Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid bounds"),
            requests: 0,
            errors: 0,
        };
        for task in tasks {
            let tally = task.await.map_err(io::Error::other)?;
            total
                .latencies
                .add(&tally.latencies)
                .map_err(io::Error::other)?;
            total.requests += tally.requests;
            total.errors += tally.errors;
        }
        // The measured window ends at `end`, or earlier when --max-requests cut it short.
        let finished = Instant::now().min(plan.end);
        let seconds = finished
            .saturating_duration_since(plan.measure_from)
            .as_secs_f64()
            .max(1e-9);
        let ok = total.requests - total.errors;
        let h = &total.latencies;
        println!(
            "requests={} errors={} seconds={:.3} rps={:.1} p50_us={} p90_us={} p99_us={} \
             p999_us={} max_us={} mean_us={:.0}",
            total.requests,
            total.errors,
            seconds,
            ok as f64 / seconds,
            h.value_at_quantile(0.50),
            h.value_at_quantile(0.90),
            h.value_at_quantile(0.99),
            h.value_at_quantile(0.999),
            h.max(),
            h.mean(),
        );
        Ok(())
    })
}
