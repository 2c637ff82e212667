//! Column names as every target keeps them: at most [`MAX_COLUMN_BYTES`], a longer name
//! shortened the same way wherever it is written (the schema's declarations and RECORD lines).

use sha2::{Digest, Sha256};

/// The longest column name every target keeps as it is: PostgreSQL cuts identifiers at 63
/// bytes, and pipelinewise-target-postgres shortens names of 63 characters or more
/// (`flatten_key`: `lll…l_c1948307` → `lc194830`).
pub const MAX_COLUMN_BYTES: usize = 62;

/// Siblings of siblings a field may have (`a__st__st…`): the most whose suffixes fit in a
/// shortened name.
pub const MAX_SIBLING_DEPTH: u8 = 12;

/// `head`'s first bytes (whole characters), `_` and 8 hex digits of the SHA-256 of `whole`,
/// then `tail`: a name of exactly [`MAX_COLUMN_BYTES`] or fewer bytes.
pub fn shortened(head: &str, whole: &str, tail: &str) -> String {
    let digest = Sha256::digest(whole.as_bytes());
    let hex: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    let keep = MAX_COLUMN_BYTES.saturating_sub(9 + tail.len());
    format!("{}_{hex}{tail}", prefix_within(head, keep))
}

/// The column of a field's sibling: `column` followed by `suffix` `depth` times; when that
/// is over [`MAX_COLUMN_BYTES`], [`shortened`] with the suffixes kept at the end.
pub fn sibling_column(column: &str, suffix: &str, depth: u8) -> String {
    let suffixes = suffix.repeat(usize::from(depth));
    let whole = format!("{column}{suffixes}");
    if whole.len() <= MAX_COLUMN_BYTES {
        whole
    } else {
        shortened(column, &whole, &suffixes)
    }
}

/// The longest prefix of `s` within `max_bytes` that ends on a character boundary.
pub fn prefix_within(s: &str, max_bytes: usize) -> &str {
    let mut end = s.len().min(max_bytes);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sibling_of_a_long_column_keeps_within_the_limit_and_its_suffix() {
        assert_eq!(sibling_column("amount", "__st", 2), "amount__st__st");
        let long = "é".repeat(31); // 62 bytes, the longest column there is
        for depth in 1..=MAX_SIBLING_DEPTH {
            let sibling = sibling_column(&long, "__st", depth);
            assert!(sibling.len() <= MAX_COLUMN_BYTES, "{sibling}");
            assert!(
                sibling.ends_with(&"__st".repeat(usize::from(depth))),
                "{sibling}"
            );
            assert!(sibling.starts_with('é'), "{sibling}");
        }
        // Two long columns alike in their first bytes keep apart by the digest.
        let other = format!("{}x", "é".repeat(30));
        assert_ne!(
            sibling_column(&long, "__in", 1),
            sibling_column(&other, "__in", 1)
        );
    }
}
