//! How one entry is framed, by both backends: the local journal appends frames to its segment
//! files, and a NATS journal publishes one frame per stream message.
//!
//! ```text
//! length u32 LE | crc32 u32 LE of the payload | payload
//! payload = version u8 (1) | kind u8 (0: webhook) | header count u16 | first sequence u64
//!         | record count u32 | received at, Unix ns i64 | headers | body
//! header  = name length u16 | name | value length u32 | value
//! ```
//!
//! All integers are little endian. A frame whose length runs past its end or whose checksum
//! does not match is a torn write (at the tail of a segment) or corruption (anywhere else).
//!
//! Segments are zeroed ahead of the writer (so that an append's `fdatasync` need not update
//! the file's size), so a frame header of eight zero bytes is the end of the entries, as the
//! end of the file is: no frame has length 0.

use std::io::{self, Read};

use bytes::Bytes;
use chrono::{DateTime, Utc};

use super::{Entry, EntryHead, Header, JournalId, NewEntry, header_name};
use crate::sequence::Sequence;

pub const FRAME_HEADER_LEN: usize = 8;
const PAYLOAD_VERSION: u8 = 1;
const KIND_WEBHOOK: u8 = 0;
const PAYLOAD_FIXED_LEN: usize = 1 + 1 + 2 + 8 + 4 + 8;

/// The length [`encode_frame_prefix`] returns for `entry`, without encoding it.
pub fn frame_len(entry: &NewEntry) -> u64 {
    let header_count = entry.headers.len().min(u16::MAX as usize);
    let headers: u64 = entry
        .headers
        .iter()
        .take(header_count)
        .map(|h| {
            2 + h.name.len().min(u16::MAX as usize) as u64
                + 4
                + h.value.len().min(u32::MAX as usize) as u64
        })
        .sum();
    (FRAME_HEADER_LEN + PAYLOAD_FIXED_LEN) as u64 + headers + entry.body.len() as u64
}

/// Writes the frame header and the payload up to the body into `out`; the caller writes the
/// body right after. Returns the total frame length (header, prefix and body).
pub fn encode_frame_prefix(entry: &NewEntry, first: Sequence, out: &mut Vec<u8>) -> u64 {
    let start = out.len();
    out.extend_from_slice(&[0u8; FRAME_HEADER_LEN]);
    out.push(PAYLOAD_VERSION);
    out.push(KIND_WEBHOOK);
    let header_count = entry.headers.len().min(u16::MAX as usize);
    out.extend_from_slice(&(header_count as u16).to_le_bytes());
    out.extend_from_slice(&first.get().to_le_bytes());
    out.extend_from_slice(&entry.record_count.to_le_bytes());
    let received = entry.received_at.timestamp_nanos_opt().unwrap_or(0);
    out.extend_from_slice(&received.to_le_bytes());
    for header in entry.headers.iter().take(header_count) {
        let name = &header.name.as_bytes()[..header.name.len().min(u16::MAX as usize)];
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(name);
        let value = &header.value[..header.value.len().min(u32::MAX as usize)];
        out.extend_from_slice(&(value.len() as u32).to_le_bytes());
        out.extend_from_slice(value);
    }
    let payload_len = (out.len() - start - FRAME_HEADER_LEN) as u64 + entry.body.len() as u64;
    let mut crc = crc32fast::Hasher::new();
    crc.update(&out[start + FRAME_HEADER_LEN..]);
    crc.update(&entry.body);
    out[start..start + 4].copy_from_slice(&(payload_len as u32).to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.finalize().to_le_bytes());
    FRAME_HEADER_LEN as u64 + payload_len
}

/// What reading one frame found.
pub enum Frame {
    /// A whole frame with a valid checksum; the payload.
    Payload(Bytes),
    /// End of file exactly at a frame boundary.
    End,
    /// A frame that is cut short or fails its checksum.
    Invalid(String),
}

/// Reads one frame. `Invalid` leaves the reader at an unspecified position.
pub fn read_frame(reader: &mut impl Read) -> io::Result<Frame> {
    let mut header = [0u8; FRAME_HEADER_LEN];
    let got = read_full(reader, &mut header)?;
    if got == 0 {
        return Ok(Frame::End);
    }
    if header[..got].iter().all(|&b| b == 0) {
        // Zeroed ahead of the writer: nothing written here yet.
        return Ok(Frame::End);
    }
    if got < FRAME_HEADER_LEN {
        return Ok(Frame::Invalid(format!(
            "frame header cut short after {got} bytes"
        )));
    }
    let len = u64::from(u32::from_le_bytes(header[..4].try_into().expect("4 bytes")));
    let crc = u32::from_le_bytes(header[4..].try_into().expect("4 bytes"));
    if len < PAYLOAD_FIXED_LEN as u64 {
        return Ok(Frame::Invalid(format!("frame length {len} is too small")));
    }
    let mut payload = vec![0u8; len as usize];
    let got = read_full(reader, &mut payload)?;
    if got < payload.len() {
        return Ok(Frame::Invalid(format!(
            "frame of {len} bytes cut short after {got} bytes"
        )));
    }
    if crc32fast::hash(&payload) != crc {
        return Ok(Frame::Invalid("checksum mismatch".into()));
    }
    Ok(Frame::Payload(Bytes::from(payload)))
}

/// Header values longer than this are skipped by [`read_entry_head`].
const MAX_SCANNED_HEADER_LEN: u64 = 64 << 10;

/// Reads the next frame's metadata and seeks past its body, without checking the checksum:
/// for scans that only need headers (such as rebuilding the idempotency window) over a journal
/// whose torn tail the writer has already cut. `Ok(None)` at the end of the segment or at a
/// frame that does not fit (the rest is left unread).
pub fn read_entry_head<R: Read + io::Seek>(
    reader: &mut io::BufReader<R>,
) -> io::Result<Option<EntryHead>> {
    let mut header = [0u8; FRAME_HEADER_LEN + PAYLOAD_FIXED_LEN];
    if read_full(reader, &mut header)? < header.len() {
        return Ok(None);
    }
    let len = u64::from(u32::from_le_bytes(header[..4].try_into().expect("4 bytes")));
    let p = &header[FRAME_HEADER_LEN..];
    if len < PAYLOAD_FIXED_LEN as u64 || p[0] != PAYLOAD_VERSION || p[1] != KIND_WEBHOOK {
        return Ok(None);
    }
    let header_count = u16::from_le_bytes([p[2], p[3]]);
    let first = u64::from_le_bytes(p[4..12].try_into().expect("8 bytes"));
    let received_ns = i64::from_le_bytes(p[16..24].try_into().expect("8 bytes"));
    let mut consumed = PAYLOAD_FIXED_LEN as u64;
    let mut headers = Vec::with_capacity(usize::from(header_count).min(16));
    for _ in 0..header_count {
        let mut name_len = [0u8; 2];
        if read_full(reader, &mut name_len)? < 2 {
            return Ok(None);
        }
        let name_len = u64::from(u16::from_le_bytes(name_len));
        if consumed + 2 + name_len + 4 > len {
            return Ok(None);
        }
        let mut name = vec![0u8; name_len as usize];
        let mut value_len = [0u8; 4];
        if read_full(reader, &mut name)? < name.len() || read_full(reader, &mut value_len)? < 4 {
            return Ok(None);
        }
        let value_len = u64::from(u32::from_le_bytes(value_len));
        consumed += 2 + name_len + 4;
        if consumed + value_len > len {
            return Ok(None);
        }
        consumed += value_len;
        if value_len > MAX_SCANNED_HEADER_LEN {
            // Not checksummed here: never trust a length enough to allocate it.
            reader.seek_relative(value_len as i64)?;
            continue;
        }
        let mut value = vec![0u8; value_len as usize];
        if read_full(reader, &mut value)? < value.len() {
            return Ok(None);
        }
        headers.push(Header {
            name: header_name(&name),
            value: Bytes::from(value),
        });
    }
    let rest = i64::try_from(len - consumed).map_err(io::Error::other)?;
    reader.seek_relative(rest)?;
    Ok(Some(EntryHead {
        first_sequence: Sequence::new(first),
        received_at: DateTime::<Utc>::from_timestamp_nanos(received_ns),
        headers,
    }))
}

/// Decodes a checksummed payload into an entry.
pub fn decode_payload(journal_id: JournalId, payload: Bytes) -> Result<Entry, String> {
    let p = &payload[..];
    if p.len() < PAYLOAD_FIXED_LEN {
        return Err("payload too short".into());
    }
    if p[0] != PAYLOAD_VERSION {
        return Err(format!("unknown entry version {}", p[0]));
    }
    if p[1] != KIND_WEBHOOK {
        return Err(format!("unknown entry kind {}", p[1]));
    }
    let header_count = u16::from_le_bytes([p[2], p[3]]);
    let first = u64::from_le_bytes(p[4..12].try_into().expect("8 bytes"));
    let record_count = u32::from_le_bytes(p[12..16].try_into().expect("4 bytes"));
    let received_ns = i64::from_le_bytes(p[16..24].try_into().expect("8 bytes"));
    let mut at = PAYLOAD_FIXED_LEN;
    let mut headers = Vec::with_capacity(header_count as usize);
    for _ in 0..header_count {
        let name_len = u16::from_le_bytes(take(p, &mut at, 2)?.try_into().expect("2")) as usize;
        let name = header_name(take(p, &mut at, name_len)?);
        let value_len = u32::from_le_bytes(take(p, &mut at, 4)?.try_into().expect("4")) as usize;
        let value_start = at;
        take(p, &mut at, value_len)?;
        headers.push(Header {
            name,
            value: payload.slice(value_start..at),
        });
    }
    Ok(Entry {
        journal_id,
        first_sequence: Sequence::new(first),
        record_count,
        received_at: DateTime::<Utc>::from_timestamp_nanos(received_ns),
        headers,
        body: payload.slice(at..),
    })
}

/// Decodes a frame that makes up a whole message (a NATS journal's), checking its length and
/// checksum.
pub fn decode_message(journal_id: JournalId, message: Bytes) -> Result<Entry, String> {
    if message.len() < FRAME_HEADER_LEN {
        return Err(format!("{} bytes: not a tap-webhooks entry", message.len()));
    }
    let len = u32::from_le_bytes(message[..4].try_into().expect("4 bytes")) as usize;
    let crc = u32::from_le_bytes(message[4..8].try_into().expect("4 bytes"));
    if len != message.len() - FRAME_HEADER_LEN {
        return Err(format!(
            "entry length {len} does not match the message ({} bytes)",
            message.len()
        ));
    }
    if crc32fast::hash(&message[FRAME_HEADER_LEN..]) != crc {
        return Err("checksum mismatch".into());
    }
    decode_payload(journal_id, message.slice(FRAME_HEADER_LEN..))
}

fn take<'a>(p: &'a [u8], at: &mut usize, n: usize) -> Result<&'a [u8], String> {
    let end = at
        .checked_add(n)
        .filter(|&end| end <= p.len())
        .ok_or_else(|| "header runs past the end of the entry".to_owned())?;
    let slice = &p[*at..end];
    *at = end;
    Ok(slice)
}

/// Reads until `buf` is full or the reader is at its end; returns the bytes read.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(body: &str) -> NewEntry {
        NewEntry {
            received_at: DateTime::<Utc>::from_timestamp_nanos(1_700_000_000_123_456_789),
            record_count: 2,
            headers: vec![Header {
                name: "x-github-delivery".into(),
                value: Bytes::from_static(b"abc-123"),
            }],
            body: Bytes::from(body.to_owned()),
            on_durable: Default::default(),
        }
    }

    #[test]
    fn frame_round_trips() {
        let e = entry(r#"[{"a":1},{"a":2}]"#);
        let mut buf = Vec::new();
        let len = encode_frame_prefix(&e, Sequence::new(42), &mut buf);
        buf.extend_from_slice(&e.body);
        assert_eq!(len as usize, buf.len());
        let Frame::Payload(p) = read_frame(&mut &buf[..]).unwrap() else {
            panic!("expected a frame")
        };
        let id = JournalId([7; 16]);
        let back = decode_payload(id, p).unwrap();
        assert_eq!(back.first_sequence, Sequence::new(42));
        assert_eq!(back.record_count, 2);
        assert_eq!(back.received_at, e.received_at);
        assert_eq!(back.headers, e.headers);
        assert_eq!(back.body, e.body);
        assert_eq!(back.journal_id, id);
    }

    #[test]
    fn entry_heads_are_read_without_the_body() {
        let mut buf = Vec::new();
        for (i, body) in ["{}", r#"{"a":"a longer body"}"#].iter().enumerate() {
            let e = entry(body);
            encode_frame_prefix(&e, Sequence::new(10 + i as u64), &mut buf);
            buf.extend_from_slice(&e.body);
        }
        let mut cursor = io::BufReader::new(io::Cursor::new(&buf));
        let first = read_entry_head(&mut cursor).unwrap().unwrap();
        assert_eq!(first.first_sequence, Sequence::new(10));
        assert_eq!(first.headers, entry("").headers);
        let second = read_entry_head(&mut cursor).unwrap().unwrap();
        assert_eq!(second.first_sequence, Sequence::new(11));
        assert!(read_entry_head(&mut cursor).unwrap().is_none());
    }

    #[test]
    fn torn_and_flipped_frames_are_invalid() {
        let e = entry("{}");
        let mut buf = Vec::new();
        encode_frame_prefix(&e, Sequence::new(1), &mut buf);
        buf.extend_from_slice(&e.body);
        for cut in 1..buf.len() {
            assert!(
                matches!(read_frame(&mut &buf[..cut]).unwrap(), Frame::Invalid(_)),
                "cut {cut}"
            );
        }
        let mut flipped = buf.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(matches!(
            read_frame(&mut &flipped[..]).unwrap(),
            Frame::Invalid(_)
        ));
        assert!(matches!(read_frame(&mut &[][..]).unwrap(), Frame::End));
    }
}
