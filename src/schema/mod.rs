//! The stream's JSON Schema: the `_sdc` columns plus every top-level field seen, inferred
//! from values, persisted in `data_dir/schema.json`, and never changed once emitted.
//!
//! SQL targets fix a column's type when they create it: pipelinewise-target-postgres renames
//! the column and starts a new one when a SCHEMA changes its type, and
//! meltanolabs-target-postgres refuses the whole load. So a field is declared at its first
//! non-null value with that value's type, and that declaration stays:
//!
//! | first value | declared | pipelinewise | meltanolabs |
//! | --- | --- | --- | --- |
//! | integer | `["null","integer"]` | numeric (exact) | bigint |
//! | other number | `["null","number"]` | double precision | numeric |
//! | string | `["null","string"]` | varchar | text |
//! | boolean | `["null","boolean"]` | boolean | boolean |
//! | object or array | `["null","object","array"]` | jsonb | jsonb |
//!
//! A later value that does not fit goes, as it is, into a sibling column named by its type
//! (Stitch's convention, [`kinds::Sibling`]): `<field>__st` string, `__in` integer, `__nu`
//! number, `__bo` boolean, `__js` object or array; an integer beyond 64 bits goes to `__st` as
//! its digits (a sibling of a long field keeps within 62 bytes: its name is shortened as a long
//! field name is, the suffix kept at the end). A sibling is a new column, announced by a
//! cumulative SCHEMA, which every target
//! supports. Which column a value goes to depends only on the declarations and the record, so
//! a replay of the journal writes the same records as the live run did.
//!
//! Configured primary key fields are declared `string` before any value arrives (targets
//! create the key column from the first SCHEMA); integer keys are written as text. A catalog
//! declaration that is one of the kinds above declares an undeclared field that way from the
//! start (see [`catalog`]). A persisted declaration is never narrowed or changed: fields an
//! older version widened to `string` or `number` stay so. `date-time` is never inferred, since
//! no value proves the next one will be a date. Null values of a field not yet declared are
//! left out of the record: they load as NULL either way.
//!
//! Payload field names become column names through [`names`] (escaped, never folded together
//! by a target), before anything else here sees them: declarations, pins and selection are by
//! column. A stream has at most `max_columns` columns; a new field past that goes into the
//! JSON column `_sdc_overflow` of its record.
//!
//! The folder, in import order: [`kinds`] (types, siblings, what a pin accepts), [`columns`]
//! (the `_sdc` columns), [`names`] (payload names → columns), [`catalog`] (`--catalog` and
//! `--discover`), then the tracker here.

pub mod catalog;
pub mod columns;
pub mod kinds;
pub mod names;

pub use catalog::{Catalog, CatalogError};
pub use columns::Columns;
pub use kinds::{Kind, Mismatch};

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::convert::payload::{self, Fields, OVERFLOW_FIELD};
use crate::fsutil;
use crate::sequence::Sequence;
use crate::singer::FieldAction;
use crate::singer::columns::{MAX_SIBLING_DEPTH, sibling_column};
use columns::sdc_properties;
use kinds::{Sibling, ValueType, value_name};
use names::Names;

/// The persisted, cumulative schema of one stream.
#[derive(Debug, Default, Serialize, Deserialize)]
struct SchemaFile {
    version: u32,
    fields: BTreeMap<String, Kind>,
    /// The sequence of the record that declared each field (absent: declared before any).
    #[serde(default)]
    declared_at: BTreeMap<String, u64>,
    /// Payload names written under a column of another name (see [`names`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    names: BTreeMap<String, String>,
    /// Whether `_sdc_overflow` has been declared.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    overflow: bool,
}

const SCHEMA_FILE_VERSION: u32 = 3;

/// Overflowed field names remembered for warnings (each is warned about once per run).
const WARNED_NAMES: usize = 10_000;

/// A record under its column names: the fields that have (or get) a column, and those that go
/// into `_sdc_overflow` under their payload names.
#[derive(Debug)]
pub struct Named<'r, 'a> {
    /// Borrowed when every field is its own column (the common case).
    pub fields: Cow<'r, Fields<'a>>,
    pub overflow: Vec<(Cow<'a, str>, &'a str)>,
}

/// Where the schemas of streams other than the default one are kept, under `data_dir`.
const STREAMS_DIR: &str = "streams";

/// The streams other than `default` whose schema `data_dir` has persisted, by name.
pub fn persisted_streams(data_dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(data_dir.join(STREAMS_DIR)) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            let stream = name.strip_suffix(".json")?;
            (crate::convert::routing::normalise(stream).as_deref() == Some(stream))
                .then(|| stream.to_owned())
        })
        .collect();
    names.sort();
    names
}

#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("{path}: cannot read the persisted schema: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path}: the persisted schema is not valid ({source}); move it aside to start a new one"
    )]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{path}: cannot save the schema: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The column a value goes to.
struct Placement {
    /// `Raw` into the field itself, or `Sibling`.
    action: FieldAction,
    /// The column to declare before the value is written, if it is not declared yet.
    new_column: Option<(String, Kind)>,
}

impl Placement {
    fn new(action: FieldAction, column: String, kind: Kind) -> Self {
        Placement {
            action,
            new_column: Some((column, kind)),
        }
    }

    fn declared(action: FieldAction) -> Self {
        Placement {
            action,
            new_column: None,
        }
    }
}

/// The schema of the stream as records pass: declarations, catalog pins and selection.
#[derive(Debug)]
pub struct SchemaTracker {
    /// The stream's name, for messages.
    stream: String,
    path: Option<PathBuf>,
    /// Looked up for every field of every record, twice (declaring, writing): foldhash, and
    /// ordered only where a SCHEMA or the schema file is made.
    fields: foldhash::HashMap<String, Kind>,
    /// The sequence of the record that declared a field; a null of the field in an earlier
    /// record is left out, as it was when that record was first written.
    declared_at: foldhash::HashMap<String, u64>,
    names: Names,
    overflow: bool,
    /// Columns the tap adds (`_sdc`, aliases), counted against `max_columns`.
    tap_columns: usize,
    warned: HashSet<String>,
    columns: Columns,
    catalog: Catalog,
    dirty: bool,
}

impl SchemaTracker {
    /// Loads the persisted schema of `data_dir` (empty if none).
    pub fn load(data_dir: &Path, columns: Columns, catalog: Catalog) -> Result<Self, SchemaError> {
        Self::load_file(data_dir.join("schema.json"), columns, catalog, false)
    }

    /// Loads the persisted schema of stream `stream`: `data_dir/schema.json` for the default
    /// stream (where it always was), `data_dir/streams/<stream>.json` for the others. A new
    /// stream's file is written at the first [`SchemaTracker::persist`], so that
    /// `--discover` lists it from then on.
    pub fn load_stream(
        data_dir: &Path,
        stream: &str,
        default: &str,
        columns: Columns,
        catalog: Catalog,
    ) -> Result<Self, SchemaError> {
        if stream == default {
            return Self::load(data_dir, columns, catalog);
        }
        let path = data_dir.join(STREAMS_DIR).join(format!("{stream}.json"));
        Self::load_file(path, columns, catalog, true)
    }

    fn load_file(
        path: PathBuf,
        columns: Columns,
        catalog: Catalog,
        new_is_dirty: bool,
    ) -> Result<Self, SchemaError> {
        let mut new = false;
        let file = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| SchemaError::Parse {
                path: path.clone(),
                source,
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                new = true;
                SchemaFile::default()
            }
            Err(source) => return Err(SchemaError::Read { path, source }),
        };
        let mut tracker = Self::build(Some(path), file, columns, catalog);
        tracker.dirty |= new && new_is_dirty;
        Ok(tracker)
    }

    /// A tracker that persists nothing.
    pub fn in_memory(columns: Columns, catalog: Catalog) -> Self {
        Self::build(None, SchemaFile::default(), columns, catalog)
    }

    fn build(path: Option<PathBuf>, file: SchemaFile, columns: Columns, catalog: Catalog) -> Self {
        let mut names = Names::default();
        let tap = sdc_properties(&columns);
        for (name, _) in &tap {
            names.reserve(name);
        }
        for name in [
            payload::SEQUENCE_FIELD,
            payload::RECEIVED_AT_FIELD,
            payload::GENERATED_KEY_FIELD,
            OVERFLOW_FIELD,
        ] {
            names.reserve(name);
        }
        for key in &columns.primary_key {
            names.claim(key);
        }
        let mut tracker = SchemaTracker {
            stream: String::new(),
            path,
            fields: foldhash::HashMap::default(),
            declared_at: file.declared_at.into_iter().collect(),
            names,
            overflow: file.overflow,
            tap_columns: tap.len(),
            warned: HashSet::new(),
            columns,
            catalog,
            dirty: false,
        };
        tracker.restore(file.fields, &file.names);
        tracker.apply_catalog_seeds();
        tracker
    }

    /// Takes the persisted declarations and names. A column a schema file from before names
    /// were escaped declares under a name the rules no longer give (`""`, `_sdc_…`, a case
    /// duplicate) moves to the column its name gets now.
    fn restore(&mut self, fields: BTreeMap<String, Kind>, renamed: &BTreeMap<String, String>) {
        let targets: HashSet<&String> = renamed.values().collect();
        for (name, column) in renamed {
            self.names.restore(name, column);
        }
        for (column, kind) in fields {
            let column = if targets.contains(&column) {
                column
            } else {
                let claimed = self.names.claim(&column);
                if claimed != column {
                    self.dirty = true;
                }
                claimed
            };
            self.fields.entry(column).or_insert(kind);
        }
    }

    /// The same tracker, named `stream` in its messages.
    pub fn for_stream(mut self, stream: &str) -> Self {
        stream.clone_into(&mut self.stream);
        self
    }

    /// The same declarations, never saved: a replay of files starts from what the data_dir
    /// knows (so it never declares a column narrower than a sync did) and leaves it unchanged
    /// (so replaying the same files again gives the same output).
    pub fn detached(mut self) -> Self {
        self.path = None;
        self
    }

    /// Key fields are declared from the start, and so are fields the catalog declares with
    /// one of the inferred kinds; a persisted declaration is never changed.
    fn apply_catalog_seeds(&mut self) {
        let pinned: Vec<String> = self.catalog.pinned_names().cloned().collect();
        for name in pinned.iter().chain(self.catalog.seeds().map(|(k, _)| k)) {
            self.names.claim(name);
        }
        for key in self.columns.primary_key.clone() {
            if !self.fields.contains_key(&key) && self.catalog.pin(&key).is_none() {
                self.fields.insert(key, Kind::String);
                self.dirty = true;
            }
        }
        let seeds: Vec<(String, Kind)> =
            self.catalog.seeds().map(|(k, v)| (k.clone(), *v)).collect();
        for (name, kind) in seeds {
            match self.fields.get(&name) {
                None => {
                    self.fields.insert(name, kind);
                    self.dirty = true;
                }
                Some(declared) if *declared != kind => log::warn!(
                    "catalog declares field {name:?} as {kind:?}, but it was emitted as \
                     {declared:?} before: it stays {declared:?} (a column never changes type)"
                ),
                Some(_) => {}
            }
        }
    }

    fn is_key(&self, name: &str) -> bool {
        // Key fields cannot be deselected.
        self.columns.primary_key.iter().any(|k| k == name)
    }

    fn is_selected(&self, name: &str) -> bool {
        self.is_key(name) || self.catalog.is_field_selected(name)
    }

    /// Whether a new column fits the budget, keeping one for `_sdc_overflow`.
    fn has_room(&self) -> bool {
        let used = self.tap_columns + self.names.len() + 1;
        used < self.columns.max_columns
    }

    /// Puts a record under its column names (see [`names`]), giving new names their column,
    /// or `_sdc_overflow` once the stream has `max_columns`. Fields that cannot be written
    /// (deselected, a null of a field without a column) are left out.
    pub fn name<'r, 'a>(&mut self, record: &'r Fields<'a>) -> Named<'r, 'a> {
        let first_other = record
            .fields
            .iter()
            .position(|(name, _)| self.names.column(name) != Some(name.as_ref()));
        let Some(first_other) = first_other else {
            return Named {
                fields: Cow::Borrowed(record),
                overflow: Vec::new(),
            };
        };
        let mut fields = Fields {
            fields: record.fields[..first_other].to_vec(),
        };
        let mut overflow = Vec::new();
        let mut overflowed = Vec::new();
        for (name, raw) in &record.fields[first_other..] {
            if let Some(column) = self.names.column(name) {
                let column = if column == name.as_ref() {
                    name.clone()
                } else {
                    Cow::Owned(column.to_owned())
                };
                fields.fields.push((column, *raw));
                continue;
            }
            if ValueType::of(raw) == ValueType::Null {
                continue;
            }
            let column = self.names.propose(name);
            if !self.is_selected(&column) {
                continue;
            }
            if self.has_room() {
                let column = self.names.assign(name);
                fields.fields.push((Cow::Owned(column), *raw));
            } else {
                if self.warned.len() < WARNED_NAMES && self.warned.insert(name.to_string()) {
                    overflowed.push(name.as_ref());
                }
                overflow.push((name.clone(), *raw));
            }
        }
        if !overflowed.is_empty() {
            log::warn!(
                "stream {:?} has {} columns (max_columns): fields {overflowed:?} go into \
                 {OVERFLOW_FIELD}",
                self.stream,
                self.columns.max_columns
            );
        }
        Named {
            fields: Cow::Owned(fields),
            overflow,
        }
    }

    /// Declares what `record` (with sequence `sequence`) needs (new fields, new siblings); true
    /// if the schema changed (a new SCHEMA must precede the record). Fails if a catalog-pinned
    /// field gets a value it cannot take. `actions` gets how each field of the record is
    /// written, in order: what [`SchemaTracker::action`] gives once the record is declared,
    /// found by the same lookups that declare it (this runs for every field of every record).
    pub fn observe(
        &mut self,
        record: &Named<'_, '_>,
        sequence: Sequence,
        actions: &mut Vec<FieldAction>,
    ) -> Result<bool, Mismatch> {
        actions.clear();
        let mut changed = false;
        if !record.overflow.is_empty() && !self.overflow {
            self.overflow = true;
            changed = true;
        }
        let record: &Fields<'_> = &record.fields;
        for (name, raw) in &record.fields {
            let action = self.observe_field(name, raw, record, sequence, &mut changed)?;
            actions.push(action);
        }
        self.dirty |= changed;
        Ok(changed)
    }

    /// Declares what field `name` of `record` needs; returns how it is written.
    fn observe_field(
        &mut self,
        name: &str,
        raw: &str,
        record: &Fields<'_>,
        sequence: Sequence,
        changed: &mut bool,
    ) -> Result<FieldAction, Mismatch> {
        if !self.is_selected(name) {
            return Ok(FieldAction::Skip);
        }
        let value = ValueType::of(raw);
        if let Some(pin) = self.catalog.pin(name) {
            let action = pin.accept.action(value, raw);
            if action == FieldAction::Skip {
                return Err(Mismatch {
                    field: name.to_owned(),
                    expected: pin.accept.to_string(),
                    found: value_name(value),
                });
            }
            return Ok(action);
        }
        if value == ValueType::Null {
            // A null declares nothing.
            return Ok(self.null_action(name, sequence));
        }
        let key = self.is_key(name);
        if key && self.fields.contains_key(name) {
            return Ok(self.action(name, raw, record, sequence));
        }
        // Twice for a first value beyond 64 bits: the field, then its sibling.
        loop {
            match self.place(name, value, record) {
                None => return Ok(FieldAction::Skip),
                Some(Placement {
                    new_column: Some((column, kind)),
                    ..
                }) => {
                    if column != name {
                        // A sibling: a column no payload name may fold into.
                        self.names.reserve(&column);
                    }
                    self.declared_at.insert(column.clone(), sequence.get());
                    self.fields.insert(column, kind);
                    *changed = true;
                }
                Some(Placement { .. }) if key => {
                    return Ok(self.action(name, raw, record, sequence));
                }
                Some(Placement { action, .. }) => return Ok(action),
            }
        }
    }

    /// Where a non-null value of the unpinned field `name` goes: the field itself when it is
    /// not declared yet or its kind fits the value; else the value's sibling `<name><suffix>`,
    /// or, if that name is taken (declared with another kind, pinned, a field of this very
    /// record, or folding together with another column), the suffix again. `None` for a null, or a sibling that is deselected.
    fn place(&self, name: &str, value: ValueType, record: &Fields<'_>) -> Option<Placement> {
        let kind = Kind::first(value)?;
        match self.fields.get(name) {
            None => return Some(Placement::new(FieldAction::Raw, name.to_owned(), kind)),
            Some(declared) if declared.fits(value) => {
                return Some(Placement::declared(FieldAction::Raw));
            }
            Some(_) => {}
        }
        let Sibling {
            suffix,
            kind,
            as_text,
        } = Sibling::of(value)?;
        for depth in 1..=MAX_SIBLING_DEPTH {
            let column = sibling_column(name, suffix, depth);
            let action = FieldAction::Sibling {
                suffix,
                depth,
                as_text,
            };
            if record.get(&column).is_some()
                || self.catalog.pin(&column).is_some()
                || self.names.folds_onto_another(&column)
            {
                continue;
            }
            if !self.is_selected(&column) {
                return None;
            }
            match self.fields.get(&column) {
                None => return Some(Placement::new(action, column, kind)),
                Some(declared) if *declared == kind => return Some(Placement::declared(action)),
                Some(_) => {}
            }
        }
        log::warn!("field {name:?}: no free sibling column name; value left out");
        None
    }

    /// How the value of `name` in `record` (with sequence `sequence`) is written into a
    /// RECORD. It depends only on the record and the declarations, so a replay writes what
    /// the first run wrote: a null is written only in records from the one that declared the
    /// field on.
    pub fn action(
        &self,
        name: &str,
        raw: &str,
        record: &Fields<'_>,
        sequence: Sequence,
    ) -> FieldAction {
        if !self.is_selected(name) {
            return FieldAction::Skip;
        }
        let value = ValueType::of(raw);
        if let Some(pin) = self.catalog.pin(name) {
            return pin.accept.action(value, raw);
        }
        let declared = self.fields.get(name);
        match declared {
            None => FieldAction::Skip,
            Some(_) if value == ValueType::Null => self.null_action(name, sequence),
            Some(Kind::String)
                if self.is_key(name) && matches!(value, ValueType::Integer | ValueType::Number) =>
            {
                FieldAction::Canonical
            }
            Some(Kind::String) if self.is_key(name) && value != ValueType::String => {
                FieldAction::Stringify
            }
            Some(kind) if self.is_key(name) || kind.fits(value) => FieldAction::Raw,
            Some(_) => match self.place(name, value, record) {
                Some(Placement {
                    action,
                    new_column: None,
                }) => action,
                // Not declared: observe() did not see this record.
                _ => FieldAction::Skip,
            },
        }
    }

    /// A null of the selected, unpinned field `name` is written only in records from the one
    /// that declared the field on.
    fn null_action(&self, name: &str, sequence: Sequence) -> FieldAction {
        if !self.fields.contains_key(name) {
            return FieldAction::Skip;
        }
        match self.declared_at.get(name) {
            Some(at) if *at > sequence.get() => FieldAction::Skip,
            _ => FieldAction::Raw,
        }
    }

    /// Saves the schema if it changed since the last save.
    pub fn persist(&mut self) -> Result<(), SchemaError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        if !self.dirty {
            return Ok(());
        }
        let file = SchemaFile {
            version: SCHEMA_FILE_VERSION,
            fields: self.fields.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            declared_at: self
                .declared_at
                .iter()
                .map(|(k, v)| (k.clone(), *v))
                .collect(),
            names: self.names.renamed(),
            overflow: self.overflow,
        };
        let bytes = serde_json::to_vec_pretty(&file).expect("schema serializes");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| SchemaError::Write {
                path: dir.to_owned(),
                source,
            })?;
        }
        fsutil::write_atomic(path, &bytes).map_err(|source| SchemaError::Write {
            path: path.clone(),
            source,
        })?;
        self.dirty = false;
        Ok(())
    }

    /// Names of the declared provider fields (persisted or pinned), selected ones only.
    pub fn field_names(&self) -> BTreeSet<String> {
        self.fields
            .keys()
            .chain(self.catalog.pinned_names())
            .filter(|n| self.is_selected(n))
            .cloned()
            .collect()
    }

    /// The JSON Schema of the stream.
    pub fn json_schema(&self) -> Value {
        let mut properties = Map::new();
        for name in self.field_names() {
            let mut schema = match self.catalog.pin(&name) {
                Some(pin) => pin.schema.clone(),
                None => self.fields[&name].schema(),
            };
            if self.is_key(&name) {
                non_null(&mut schema);
            }
            properties.insert(name, schema);
        }
        if self.overflow {
            properties.insert(OVERFLOW_FIELD.to_owned(), Kind::Json.schema());
        }
        for (name, schema) in sdc_properties(&self.columns) {
            properties.insert(name, schema);
        }
        json!({"type": "object", "properties": properties})
    }
}

/// Key columns are declared non-null: targets make them NOT NULL.
fn non_null(schema: &mut Value) {
    if let Some(Value::Array(types)) = schema.get_mut("type") {
        types.retain(|t| t != "null");
    }
}

#[cfg(test)]
mod tests;
