//! The segment files of the local journal.
//!
//! A segment file `<first sequence, 20 digits>.twj` starts with a 32-byte header:
//! magic `TWHJSEG1`, the 16-byte journal id, the segment's first sequence (u64 LE) and 8 zero
//! bytes. Entries follow, each a [`frame`](crate::journal::frame).

use crate::journal::JournalId;
use crate::sequence::Sequence;

pub const SEGMENT_MAGIC: &[u8; 8] = b"TWHJSEG1";
pub const SEGMENT_HEADER_LEN: u64 = 32;
pub const SEGMENT_SUFFIX: &str = ".twj";

/// The file name of the segment whose first sequence is `first`.
pub fn segment_file_name(first: Sequence) -> String {
    format!("{:020}{SEGMENT_SUFFIX}", first.get())
}

/// The first sequence encoded in a segment file name, if it is one.
pub fn parse_segment_file_name(name: &str) -> Option<Sequence> {
    let digits = name.strip_suffix(SEGMENT_SUFFIX)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().map(Sequence::new)
}

pub fn encode_segment_header(id: JournalId, first: Sequence) -> [u8; SEGMENT_HEADER_LEN as usize] {
    let mut header = [0u8; SEGMENT_HEADER_LEN as usize];
    header[..8].copy_from_slice(SEGMENT_MAGIC);
    header[8..24].copy_from_slice(&id.0);
    header[24..32].copy_from_slice(&first.get().to_le_bytes());
    header
}

/// Decodes a segment header into the journal id and the first sequence.
pub fn decode_segment_header(bytes: &[u8]) -> Result<(JournalId, Sequence), String> {
    if bytes.len() < SEGMENT_HEADER_LEN as usize {
        return Err(format!(
            "segment header is {} bytes, expected 32",
            bytes.len()
        ));
    }
    if &bytes[..8] != SEGMENT_MAGIC {
        return Err("not a tap-webhooks journal segment (bad magic)".into());
    }
    let mut id = [0u8; 16];
    id.copy_from_slice(&bytes[8..24]);
    let first = u64::from_le_bytes(bytes[24..32].try_into().expect("8 bytes"));
    Ok((JournalId(id), Sequence::new(first)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_names_sort_by_sequence() {
        let name = segment_file_name(Sequence::new(1_790_000_000_000_000_000));
        assert_eq!(name, "01790000000000000000.twj");
        assert_eq!(
            parse_segment_file_name(&name),
            Some(Sequence::new(1_790_000_000_000_000_000))
        );
        assert_eq!(parse_segment_file_name("LOCK"), None);
    }
}
