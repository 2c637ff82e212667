//! Column names: which column each payload field name is written under, per stream.
//!
//! A payload may carry any string as a field name; a target cannot take every one. So a name
//! becomes its column through these rules, in order (README "Field names"):
//!
//! 1. Control characters, `"` and `%` are replaced by `_` (`"a\nb"` → `a_b`): pipelinewise
//!    targets quote names without escaping `"`; SQLAlchemy (meltanolabs) doubles `%` in DDL and
//!    then misses the column.
//! 2. An empty name becomes `x_empty`.
//! 3. A name in the Singer metadata namespace (starting with `_sdc_` or `__sdc_`, any case)
//!    gets an `x` in front: `_sdc_deleted_at` → `x_sdc_deleted_at`. That namespace is the
//!    tap's and the targets' (a payload `_sdc_deleted_at` would make `hard_delete` targets
//!    delete the row).
//! 4. A name over [`MAX_COLUMN_BYTES`] (62) bytes keeps its first 53 bytes (whole characters)
//!    plus `_` and 8 hex digits of the SHA-256 of the full name.
//! 5. A name that targets would fold into an existing column ([`fold`]: case, and the
//!    characters SQL targets replace or drop) gets the first free suffix `__2`, `__3`, ….
//!
//! The first name to claim a column keeps it; the mapping is persisted with the schema, so a
//! name maps to the same column forever, and a replay gives the same columns as the live run.

use std::borrow::Cow;
use std::collections::BTreeMap;

// Looked up for every field of every record: foldhash (seeded per process), not SipHash.
use foldhash::{HashMap, HashSet};

use crate::convert::payload::is_reserved_field;
use crate::singer::columns::{prefix_within, shortened};

pub use crate::singer::columns::MAX_COLUMN_BYTES;

/// The column an empty field name is written under.
pub const EMPTY_NAME_COLUMN: &str = "x_empty";

/// Payload names → columns for one stream, and every column name taken.
#[derive(Debug, Default)]
pub struct Names {
    /// Payload names written under a column of another name (persisted).
    renamed: HashMap<String, String>,
    /// Payload names that are their own column.
    identity: HashSet<String>,
    /// Every column taken (the tap's included), by its [`fold`].
    taken: HashMap<String, String>,
}

impl Names {
    /// The column of a payload name already mapped.
    pub fn column<'n>(&'n self, name: &str) -> Option<&'n str> {
        if let Some(known) = self.identity.get(name) {
            return Some(known);
        }
        self.renamed.get(name).map(String::as_str)
    }

    /// Reserves a column no payload name maps to (the tap's `_sdc` columns and aliases).
    pub fn reserve(&mut self, column: &str) {
        self.taken
            .entry(fold(column))
            .or_insert_with(|| column.to_owned());
    }

    /// Whether `column` folds together with a column of another name already taken (a
    /// sibling must not: `a__st` beside a payload's `A__ST`).
    pub fn folds_onto_another(&self, column: &str) -> bool {
        self.taken
            .get(&fold(column))
            .is_some_and(|taken| taken != column)
    }

    /// Maps a name to a column of its own name if the rules allow (keys, catalog properties);
    /// otherwise as [`Names::assign`] does. Returns its column.
    pub fn claim(&mut self, name: &str) -> String {
        match self.column(name) {
            Some(column) => column.to_owned(),
            None => self.assign(name),
        }
    }

    /// A persisted mapping, taken as it is.
    pub fn restore(&mut self, name: &str, column: &str) {
        self.taken
            .entry(fold(column))
            .or_insert_with(|| column.to_owned());
        if name == column {
            self.identity.insert(name.to_owned());
        } else {
            self.renamed.insert(name.to_owned(), column.to_owned());
        }
    }

    /// The column a new name would get, without taking it.
    pub fn propose(&self, name: &str) -> String {
        let base = escape(name);
        if !self.taken.contains_key(&fold(&base)) {
            return base.into_owned();
        }
        (2u32..)
            .map(|n| with_suffix(&base, n))
            .find(|candidate| !self.taken.contains_key(&fold(candidate)))
            .expect("some suffix is free")
    }

    /// Maps a new name to its column (see the module doc) and takes that column.
    pub fn assign(&mut self, name: &str) -> String {
        let column = self.propose(name);
        self.restore(name, &column);
        column
    }

    /// Payload names written under another column, for the persisted schema.
    pub fn renamed(&self) -> BTreeMap<String, String> {
        self.renamed
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Columns given to payload names.
    pub fn len(&self) -> usize {
        self.identity.len() + self.renamed.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Rules 1–4 of the module doc: a name any target can take, outside the `_sdc` namespace.
pub fn escape(name: &str) -> Cow<'_, str> {
    let replaced = |c: char| c.is_control() || c == '"' || c == '%';
    let mut out: Cow<'_, str> = if name.chars().any(replaced) {
        Cow::Owned(
            name.chars()
                .map(|c| if replaced(c) { '_' } else { c })
                .collect(),
        )
    } else {
        Cow::Borrowed(name)
    };
    if out.is_empty() {
        out = Cow::Borrowed(EMPTY_NAME_COLUMN);
    }
    if is_reserved_field(&out) {
        out = Cow::Owned(format!("x{out}"));
    }
    if out.len() > MAX_COLUMN_BYTES {
        out = Cow::Owned(shortened(&out, name, ""));
    }
    out
}

/// `base__n`, `base` shortened (whole characters) so that the whole fits in a column name.
fn with_suffix(base: &str, n: u32) -> String {
    let suffix = format!("__{n}");
    format!(
        "{}{suffix}",
        prefix_within(base, MAX_COLUMN_BYTES - suffix.len())
    )
}

/// The key two column names collide on in some target: lowercase (pipelinewise, DuckDB), and
/// what Meltano SDK targets do to names (drop characters outside `[a-z0-9_.- ]`, trim spaces,
/// `.`, `-` and space to `_`, `_` before a leading digit). Never finer than any of them.
pub fn fold(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 1);
    for c in name.trim().chars().flat_map(char::to_lowercase) {
        match c {
            'a'..='z' | '0'..='9' | '_' => out.push(c),
            '-' | '.' | ' ' => out.push('_'),
            _ => {}
        }
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_names_empty_names_and_control_characters_are_escaped() {
        let mut n = Names::default();
        assert_eq!(n.assign("_sdc_deleted_at"), "x_sdc_deleted_at");
        assert_eq!(n.assign("__SDC_PRIMARY_KEY"), "x__SDC_PRIMARY_KEY");
        assert_eq!(n.assign(""), "x_empty");
        assert_eq!(n.assign("a\nb\"c%d"), "a_b_c_d");
        assert_eq!(n.assign("plain"), "plain");
        assert_eq!(n.column("_sdc_deleted_at"), Some("x_sdc_deleted_at"));
        assert_eq!(n.column("plain"), Some("plain"));
        assert_eq!(n.column("other"), None);
    }

    #[test]
    fn long_names_keep_a_prefix_and_a_digest_within_62_bytes() {
        let long = "é".repeat(40);
        let column = escape(&long);
        assert!(column.len() <= MAX_COLUMN_BYTES, "{column}");
        assert!(column.starts_with("éé"));
        assert_ne!(escape(&format!("{long}x")), column);
        assert_eq!(escape(&long), column, "deterministic");
    }

    #[test]
    fn names_targets_fold_together_get_distinct_columns_first_come_first_kept() {
        let mut n = Names::default();
        n.reserve("_sdc_sequence");
        assert_eq!(n.assign("pullRequest"), "pullRequest");
        assert_eq!(n.assign("pullrequest"), "pullrequest__2");
        assert_eq!(n.assign("PULLREQUEST"), "PULLREQUEST__3");
        assert_eq!(n.assign("pullrequest__2"), "pullrequest__2__2");
        assert_eq!(n.assign("a-b"), "a-b");
        assert_eq!(n.assign("a_b"), "a_b__2");
        assert_eq!(n.assign("x_SDC_SEQUENCE"), "x_SDC_SEQUENCE");
        assert_eq!(n.assign("_sdc_sequence"), "x_sdc_sequence__2");
        let long = "k".repeat(70);
        let first = n.assign(&long.to_uppercase());
        let second = n.assign(&long);
        assert!(second.len() <= MAX_COLUMN_BYTES && first.len() <= MAX_COLUMN_BYTES);
        assert_ne!(fold(&first), fold(&second));
    }

    #[test]
    fn restored_mappings_hold_and_new_names_avoid_them() {
        let mut n = Names::default();
        n.restore("pullRequest", "pullRequest");
        n.restore("pullrequest", "pullrequest__2");
        assert_eq!(n.claim("pullrequest"), "pullrequest__2");
        assert_eq!(n.claim("pullrequest__2"), "pullrequest__2__2");
        assert_eq!(n.renamed().len(), 2);
    }
}
