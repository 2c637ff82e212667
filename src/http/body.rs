//! Request bodies: read within a deadline, decompressed while streaming (`Content-Encoding:
//! gzip` or `deflate`), and limited to `max_body_bytes` after decompression.
//!
//! Compressed chunks are inflated as they arrive into a buffer that refuses to grow past the
//! limit, so a gzip bomb is refused as soon as its output passes the limit: memory stays
//! within the limit and the time within what inflating the limit takes. Each growth of that
//! buffer is charged to the request's [`Reservation`] of the listener's body-byte budget
//! first; a body that does not fit is refused with [`BodyError::Overloaded`].

use std::io::{self, Write};
use std::time::Duration;

use bytes::{Buf, Bytes};
use flate2::write::{DeflateDecoder, MultiGzDecoder, ZlibDecoder};
use futures_util::{Stream, StreamExt};
use http::HeaderMap;
use http::header::CONTENT_ENCODING;

use crate::http::admission::Reservation;

/// A body's `Content-Encoding`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Coding {
    Identity,
    Gzip,
    /// HTTP's `deflate` is zlib-wrapped; raw deflate streams, which some senders use, are
    /// accepted too.
    Deflate,
}

/// Why a body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("Content-Encoding {0:?} is not supported; send identity, gzip or deflate")]
    UnsupportedCoding(String),
    #[error("body is larger than the limit")]
    TooLarge,
    #[error("the bodies in flight already take the memory allowed (max_inflight_body_bytes)")]
    Overloaded,
    #[error("the body was not received within {0:?}")]
    Timeout(Duration),
    #[error("cannot read the body: {0}")]
    Read(String),
    #[error("the {coding} body cannot be decompressed: {message}")]
    Corrupt {
        coding: &'static str,
        message: String,
    },
}

/// The coding named by `Content-Encoding` (absent: identity).
pub fn coding(headers: &HeaderMap) -> Result<Coding, BodyError> {
    let Some(value) = headers.get(CONTENT_ENCODING) else {
        return Ok(Coding::Identity);
    };
    let text = value.to_str().unwrap_or("").trim();
    // A list of codings is applied in order; only one real coding is supported.
    let mut found = Coding::Identity;
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let this = match item.to_ascii_lowercase().as_str() {
            "identity" => continue,
            "gzip" | "x-gzip" => Coding::Gzip,
            "deflate" => Coding::Deflate,
            _ => return Err(BodyError::UnsupportedCoding(text.to_owned())),
        };
        if found != Coding::Identity {
            return Err(BodyError::UnsupportedCoding(text.to_owned()));
        }
        found = this;
    }
    Ok(found)
}

/// Reads a body in `coding` within `deadline`, refusing it as soon as its decoded size passes
/// `limit`, or its buffer cannot grow within `reservation`.
pub async fn read<S, B>(
    body: S,
    coding: Coding,
    limit: u64,
    declared: Option<u64>,
    deadline: Duration,
    reservation: &mut Reservation,
) -> Result<Bytes, BodyError>
where
    S: Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let initial = match coding {
        Coding::Identity => declared.map_or(8 << 10, |n| n.min(limit as u64) as usize),
        _ => 64 << 10,
    };
    let mut decoder = Decoder::new(
        coding,
        LimitedBuf::charged(limit, initial.min(limit), reservation)?,
    );
    let reading = async {
        let mut body = std::pin::pin!(body);
        // Compressed bytes on the wire are limited too: a compressed body never needs more.
        let mut wire = 0usize;
        while let Some(chunk) = body.next().await {
            let mut chunk = chunk.map_err(|e| BodyError::Read(e.to_string()))?;
            wire += chunk.remaining();
            if wire > limit {
                return Err(BodyError::TooLarge);
            }
            while chunk.has_remaining() {
                let part = chunk.chunk();
                let n = part.len();
                decoder.write(part)?;
                chunk.advance(n);
            }
        }
        Ok(())
    };
    match tokio::time::timeout(deadline, reading).await {
        Err(_) => return Err(BodyError::Timeout(deadline)),
        Ok(read) => read?,
    }
    decoder.finish()
}

/// Decodes pure bytes (no I/O): for tests and the fuzz target.
pub fn decode(coding: Coding, bytes: &[u8], limit: usize) -> Result<Bytes, BodyError> {
    let mut decoder = Decoder::new(coding, LimitedBuf::new(limit, 0));
    decoder.write(bytes)?;
    decoder.finish()
}

/// A buffer that refuses to grow past its limit, and grows no further than needed near it;
/// its capacity is charged to a reservation, when it has one.
struct LimitedBuf<'r> {
    buf: Vec<u8>,
    limit: usize,
    reservation: Option<&'r mut Reservation>,
}

/// The marker error of a [`LimitedBuf`] that would pass its limit.
#[derive(Debug)]
struct Overflow;

impl std::fmt::Display for Overflow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("body is larger than the limit")
    }
}

impl std::error::Error for Overflow {}

/// The marker error of a [`LimitedBuf`] whose reservation cannot grow.
#[derive(Debug)]
struct OverBudget;

impl std::fmt::Display for OverBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the bodies in flight already take the memory allowed")
    }
}

impl std::error::Error for OverBudget {}

impl<'r> LimitedBuf<'r> {
    fn new(limit: usize, capacity: usize) -> Self {
        LimitedBuf {
            buf: Vec::with_capacity(capacity),
            limit,
            reservation: None,
        }
    }

    /// A buffer whose capacity, from the first byte, is charged to `reservation`.
    fn charged(
        limit: usize,
        capacity: usize,
        reservation: &'r mut Reservation,
    ) -> Result<Self, BodyError> {
        if !reservation.grow_to(capacity as u64) {
            return Err(BodyError::Overloaded);
        }
        Ok(LimitedBuf {
            buf: Vec::with_capacity(capacity),
            limit,
            reservation: Some(reservation),
        })
    }
}

impl Write for LimitedBuf<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let needed = self.buf.len() + data.len();
        if needed > self.limit {
            return Err(io::Error::other(Overflow));
        }
        if needed > self.buf.capacity() {
            let target = (self.buf.capacity() * 2).max(needed).min(self.limit);
            if let Some(reservation) = self.reservation.as_deref_mut()
                && !reservation.grow_to(target as u64)
            {
                return Err(io::Error::other(OverBudget));
            }
            self.buf.reserve_exact(target - self.buf.len());
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

enum Decoder<'r> {
    Identity(LimitedBuf<'r>),
    Gzip(Box<MultiGzDecoder<LimitedBuf<'r>>>),
    /// `deflate` before its first two bytes have shown whether it is zlib-wrapped.
    DeflateStart(LimitedBuf<'r>, Vec<u8>),
    Zlib(Box<ZlibDecoder<LimitedBuf<'r>>>),
    RawDeflate(Box<DeflateDecoder<LimitedBuf<'r>>>),
}

impl<'r> Decoder<'r> {
    fn new(coding: Coding, out: LimitedBuf<'r>) -> Self {
        match coding {
            Coding::Identity => Decoder::Identity(out),
            Coding::Gzip => Decoder::Gzip(Box::new(MultiGzDecoder::new(out))),
            Coding::Deflate => Decoder::DeflateStart(out, Vec::with_capacity(2)),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Decoder::Identity(_) => "identity",
            Decoder::Gzip(_) => "gzip",
            _ => "deflate",
        }
    }

    fn write(&mut self, data: &[u8]) -> Result<(), BodyError> {
        let name = self.name();
        let written = match self {
            Decoder::Identity(out) => out.write_all(data),
            Decoder::Gzip(d) => d.write_all(data),
            Decoder::Zlib(d) => d.write_all(data),
            Decoder::RawDeflate(d) => d.write_all(data),
            Decoder::DeflateStart(out, start) => {
                start.extend_from_slice(data);
                if start.len() < 2 {
                    return Ok(());
                }
                let start = std::mem::take(start);
                let out = std::mem::replace(out, LimitedBuf::new(0, 0));
                *self = if is_zlib_header(start[0], start[1]) {
                    Decoder::Zlib(Box::new(ZlibDecoder::new(out)))
                } else {
                    Decoder::RawDeflate(Box::new(DeflateDecoder::new(out)))
                };
                return self.write(&start);
            }
        };
        written.map_err(|e| classify(name, e))
    }

    fn finish(self) -> Result<Bytes, BodyError> {
        let name = self.name();
        let out = match self {
            Decoder::Identity(out) => Ok(out),
            Decoder::Gzip(d) => d.finish(),
            Decoder::Zlib(d) => d.finish(),
            Decoder::RawDeflate(d) => d.finish(),
            Decoder::DeflateStart(out, start) if start.is_empty() => Ok(out),
            Decoder::DeflateStart(..) => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "stream cut short",
            )),
        };
        out.map(|out| Bytes::from(out.buf))
            .map_err(|e| classify(name, e))
    }
}

/// RFC 1950: compression method 8 and a header checksum divisible by 31.
fn is_zlib_header(cmf: u8, flg: u8) -> bool {
    cmf & 0x0f == 8 && cmf >> 4 <= 7 && (u16::from(cmf) << 8 | u16::from(flg)) % 31 == 0
}

fn classify(coding: &'static str, e: io::Error) -> BodyError {
    if e.get_ref().is_some_and(|inner| inner.is::<Overflow>()) {
        BodyError::TooLarge
    } else if e.get_ref().is_some_and(|inner| inner.is::<OverBudget>()) {
        BodyError::Overloaded
    } else {
        BodyError::Corrupt {
            coding,
            message: e.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};

    fn compress(coding: &str, data: &[u8]) -> Vec<u8> {
        match coding {
            "gzip" => {
                let mut e = GzEncoder::new(Vec::new(), Compression::default());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            "zlib" => {
                let mut e = ZlibEncoder::new(Vec::new(), Compression::default());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            _ => {
                let mut e = DeflateEncoder::new(Vec::new(), Compression::default());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
        }
    }

    #[test]
    fn gzip_zlib_and_raw_deflate_decode() {
        let data = br#"{"id":1,"text":"hello hello hello"}"#;
        assert_eq!(
            decode(Coding::Gzip, &compress("gzip", data), 1000).unwrap(),
            &data[..]
        );
        assert_eq!(
            decode(Coding::Deflate, &compress("zlib", data), 1000).unwrap(),
            &data[..]
        );
        assert_eq!(
            decode(Coding::Deflate, &compress("raw", data), 1000).unwrap(),
            &data[..]
        );
    }

    #[test]
    fn the_limit_applies_after_decompression() {
        let bomb = compress("gzip", &vec![b' '; 1 << 20]);
        assert!(bomb.len() < 4096);
        assert!(matches!(
            decode(Coding::Gzip, &bomb, 1000),
            Err(BodyError::TooLarge)
        ));
        assert!(decode(Coding::Gzip, &bomb, 1 << 20).is_ok());
    }

    #[test]
    fn a_body_grows_only_within_its_reservation() {
        let budget = crate::http::admission::InflightBytes::new(100_000);
        let mut reservation = budget.reservation();
        let mut decoder = Decoder::new(
            Coding::Identity,
            LimitedBuf::charged(1 << 20, 8 << 10, &mut reservation).unwrap(),
        );
        decoder.write(&[b'a'; 60_000]).unwrap();
        assert!(matches!(
            decoder.write(&[b'a'; 60_000]),
            Err(BodyError::Overloaded)
        ));
        drop(decoder);
        assert_eq!(reservation.bytes(), 60_000);
        drop(reservation);
        assert_eq!(budget.in_use(), 0);
        let mut other = budget.reservation();
        assert!(matches!(
            LimitedBuf::charged(1 << 20, 100_001, &mut other),
            Err(BodyError::Overloaded)
        ));
    }

    #[test]
    fn truncated_or_garbage_streams_are_corrupt() {
        let gz = compress("gzip", b"{\"a\":1}");
        assert!(matches!(
            decode(Coding::Gzip, &gz[..gz.len() - 4], 1000),
            Err(BodyError::Corrupt { .. })
        ));
        assert!(matches!(
            decode(Coding::Gzip, b"not gzip at all", 1000),
            Err(BodyError::Corrupt { .. })
        ));
        assert!(decode(Coding::Deflate, b"x", 1000).is_err());
    }

    #[test]
    fn content_encoding_lists_are_understood() {
        let mut h = HeaderMap::new();
        assert_eq!(coding(&h).unwrap(), Coding::Identity);
        h.insert(CONTENT_ENCODING, "gzip".parse().unwrap());
        assert_eq!(coding(&h).unwrap(), Coding::Gzip);
        h.insert(CONTENT_ENCODING, "identity, deflate".parse().unwrap());
        assert_eq!(coding(&h).unwrap(), Coding::Deflate);
        h.insert(CONTENT_ENCODING, "gzip, gzip".parse().unwrap());
        assert!(coding(&h).is_err());
        h.insert(CONTENT_ENCODING, "br".parse().unwrap());
        assert!(coding(&h).is_err());
    }
}
