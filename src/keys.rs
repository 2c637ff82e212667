//! `__sdc_primary_key`: record keys derived from where a record comes from (a journal entry,
//! or a payload replayed from a file), so that emitting the same record again gives the same key.

use std::fmt;

use sha2::{Digest, Sha256};

use crate::sequence::Sequence;

/// `__sdc_primary_key`: a UUID (version 8, RFC 9562) derived from where the record comes
/// from, so that emitting the same entry again gives the same key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct RecordKey([u8; 16]);

const KEY_DOMAIN: &[u8] = b"tap-webhooks record key\0";

impl RecordKey {
    /// The key of the record with `sequence` in the journal `origin`.
    pub fn derive(origin: &[u8], sequence: Sequence) -> Self {
        KeySource::Journal(origin).keys().key(0, sequence)
    }

    fn from_digest(digest: &[u8]) -> Self {
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        bytes[6] = (bytes[6] & 0x0f) | 0x80; // version 8
        bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 9562 variant
        RecordKey(bytes)
    }

    /// Appends the key in its 36-character hyphenated form.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                out.push(b'-');
            }
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0x0f)]);
        }
    }
}

impl fmt::Display for RecordKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = Vec::with_capacity(36);
        self.write_to(&mut out);
        f.write_str(std::str::from_utf8(&out).map_err(|_| fmt::Error)?)
    }
}

/// What the `__sdc_primary_key` of a payload's records is derived from.
#[derive(Clone, Copy, Debug)]
pub enum KeySource<'a> {
    /// A journal entry: the journal's id, and each record's sequence (unique in a journal).
    Journal(&'a [u8]),
    /// A payload replayed from a file: the payload's bytes and the line it starts on, and each
    /// record's index in the payload. Neither the file's name nor the time matters, so the same
    /// capture gives the same keys however it is replayed (renamed, gzipped, from stdin).
    Capture { line: u64, payload: &'a [u8] },
}

impl KeySource<'_> {
    /// Prepares the keys of one payload's records (hashing the payload once).
    pub fn keys(&self) -> PayloadKeys {
        let mut prefix = Sha256::new();
        prefix.update(KEY_DOMAIN);
        match self {
            KeySource::Journal(id) => {
                prefix.update(id);
                PayloadKeys {
                    prefix,
                    by_sequence: true,
                }
            }
            KeySource::Capture { line, payload } => {
                prefix.update(b"capture\0");
                prefix.update(line.to_be_bytes());
                prefix.update(Sha256::digest(payload));
                PayloadKeys {
                    prefix,
                    by_sequence: false,
                }
            }
        }
    }
}

/// The keys of one payload's records.
#[derive(Clone)]
pub struct PayloadKeys {
    prefix: Sha256,
    by_sequence: bool,
}

impl PayloadKeys {
    /// The key of the record at `index` in the payload, whose sequence is `sequence`.
    pub fn key(&self, index: usize, sequence: Sequence) -> RecordKey {
        let n = if self.by_sequence {
            sequence.get()
        } else {
            index as u64
        };
        let mut hasher = self.prefix.clone();
        hasher.update(n.to_be_bytes());
        RecordKey::from_digest(&hasher.finalize())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_keys_depend_on_payload_line_and_index_only() {
        let key = |line, payload: &[u8], index| {
            KeySource::Capture { line, payload }
                .keys()
                .key(index, Sequence::new(9))
        };
        let a = key(3, br#"{"id":1}"#, 0);
        assert_eq!(a, key(3, br#"{"id":1}"#, 0));
        assert_eq!(
            a,
            KeySource::Capture {
                line: 3,
                payload: br#"{"id":1}"#
            }
            .keys()
            .key(0, Sequence::new(12345)),
            "the sequence does not enter a capture key"
        );
        assert_ne!(a, key(4, br#"{"id":1}"#, 0));
        assert_ne!(a, key(3, br#"{"id":2}"#, 0));
        assert_ne!(a, key(3, br#"{"id":1}"#, 1));
        assert_ne!(a, RecordKey::derive(b"j", Sequence::new(0)));
    }

    #[test]
    fn record_keys_are_stable_uuids_unique_per_sequence() {
        let a = RecordKey::derive(b"j", Sequence::new(1));
        assert_eq!(a, RecordKey::derive(b"j", Sequence::new(1)));
        assert_ne!(a, RecordKey::derive(b"j", Sequence::new(2)));
        assert_ne!(a, RecordKey::derive(b"k", Sequence::new(1)));
        let s = a.to_string();
        assert_eq!(s.len(), 36);
        // Pinned: journal keys must never change, or a reset would duplicate rows.
        assert_eq!(
            RecordKey::derive(b"j", Sequence::new(7)).to_string(),
            "d51d4092-701c-801b-9c9e-87134c04cad4"
        );
        assert_eq!(&s[14..15], "8");
    }
}
