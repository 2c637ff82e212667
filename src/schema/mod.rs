//! The stream's JSON Schema: the `_sdc` columns plus every top-level field seen, inferred
//! from values, only ever widened, and persisted in `data_dir/schema.json`.
//!
//! SQL targets fix a column's type when they create it: pipelinewise-target-postgres renames
//! the column and starts a new one when a SCHEMA changes its type, meltanolabs-target-postgres
//! refuses to alter it, and Meltano SDK targets fail on a record that does not validate. So a
//! field is declared, at its first non-null value, with the widest type that still gives a
//! useful column, and later values are made to fit where that loses nothing:
//!
//! | first value | declared | pipelinewise | meltanolabs |
//! | --- | --- | --- | --- |
//! | number (integer or not) | `["null","number"]` | double precision | decimal |
//! | string | `["null","string"]` | varchar | text |
//! | boolean | `["null","boolean"]` | boolean | boolean |
//! | object or array | `["null","object","array"]` | jsonb | jsonb |
//!
//! Integers are declared `number` because `integer` → `number` would be a type change (a new
//! column in pipelinewise, rounding in meltanolabs). Configured primary key fields are
//! declared `string` before any value arrives, since targets create the key column from the
//! first SCHEMA; integer keys are then written as text. A value that does not fit its field's
//! type widens the field to `string` (a new SCHEMA), and from then on every value of that
//! field is written as a string: JSON text for objects, arrays, numbers and booleans.
//! `date-time` is never inferred, since no value proves the next one will be a date; a
//! catalog can pin it (see [`catalog`]). Null values of a field not yet declared are
//! left out of the record: they load as NULL either way.
//!
//! Payload field names become column names through [`names`] (escaped, never folded together
//! by a target), before anything else here sees them: declarations, pins and selection are by
//! column. A stream has at most `max_columns` columns; a new field past that goes into the
//! JSON column `_sdc_overflow` of its record.
//!
//! The folder, in import order: [`kinds`] (types and what a pin accepts), [`columns`] (the
//! `_sdc` columns), [`names`] (payload names → columns), [`catalog`] (`--catalog` and
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
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use crate::fsutil;
use crate::payload::{self, Fields, OVERFLOW_FIELD};
use crate::singer::FieldAction;
use columns::sdc_properties;
use kinds::{ValueType, value_name};
use names::Names;

/// The persisted, cumulative schema of stream `data`.
#[derive(Debug, Default, Serialize, Deserialize)]
struct SchemaFile {
    version: u32,
    /// Declared columns (provider fields, by column name).
    fields: BTreeMap<String, Kind>,
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
    pub overflow: Vec<(Cow<'a, str>, &'a RawValue)>,
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

/// The schema of the stream as records pass: declarations, catalog pins and selection.
#[derive(Debug)]
pub struct SchemaTracker {
    path: Option<PathBuf>,
    fields: BTreeMap<String, Kind>,
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
        let path = data_dir.join("schema.json");
        let file = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| SchemaError::Parse {
                path: path.clone(),
                source,
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => SchemaFile::default(),
            Err(source) => return Err(SchemaError::Read { path, source }),
        };
        Ok(Self::build(Some(path), file, columns, catalog))
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
            path,
            fields: BTreeMap::new(),
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
            let kind = self.fields.get(&column).map_or(kind, |k| k.join(kind));
            self.fields.insert(column, kind);
        }
    }

    /// The same declarations, never saved: a replay of files starts from what the data_dir
    /// knows (so it never declares a column narrower than a sync did) and leaves it unchanged
    /// (so replaying the same files again gives the same output).
    pub fn detached(mut self) -> Self {
        self.path = None;
        self
    }

    /// A catalog type that is one of the inferred kinds says "at least this wide"; key fields
    /// are declared from the start.
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
            let widened = self.fields.get(&name).map_or(kind, |k| k.join(kind));
            if self.fields.insert(name, widened) != Some(widened) {
                self.dirty = true;
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
                "stream data has {} columns (max_columns): fields {overflowed:?} go into {OVERFLOW_FIELD}",
                self.columns.max_columns
            );
        }
        Named {
            fields: Cow::Owned(fields),
            overflow,
        }
    }

    /// Widens declarations to accept `record`; true if the schema changed (a new SCHEMA must
    /// precede the record). Fails if a catalog-pinned field gets a value it cannot take.
    pub fn observe(&mut self, record: &Named<'_, '_>) -> Result<bool, Mismatch> {
        let mut changed = false;
        if !record.overflow.is_empty() && !self.overflow {
            self.overflow = true;
            changed = true;
        }
        let record: &Fields<'_> = &record.fields;
        for (name, raw) in &record.fields {
            let name = name.as_ref();
            if !self.is_selected(name) {
                continue;
            }
            let value = ValueType::of(raw);
            if let Some(pin) = self.catalog.pin(name) {
                if pin.accept.action(value, raw) == FieldAction::Skip {
                    return Err(Mismatch {
                        field: name.to_owned(),
                        expected: pin.accept.to_string(),
                        found: value_name(value),
                    });
                }
                continue;
            }
            let Some(kind) = Kind::first(value) else {
                continue;
            };
            match self.fields.get_mut(name) {
                Some(declared) if declared.fits(value) => {}
                Some(declared) => {
                    *declared = declared.join(kind);
                    changed = true;
                }
                None => {
                    self.fields.insert(name.to_owned(), kind);
                    changed = true;
                }
            }
        }
        self.dirty |= changed;
        Ok(changed)
    }

    /// How the value of `name` is written into a RECORD.
    pub fn action(&self, name: &str, raw: &RawValue) -> FieldAction {
        if !self.is_selected(name) {
            return FieldAction::Skip;
        }
        let value = ValueType::of(raw);
        if let Some(pin) = self.catalog.pin(name) {
            return pin.accept.action(value, raw);
        }
        match self.fields.get(name) {
            None => FieldAction::Skip,
            Some(Kind::String) if value == ValueType::Number || value == ValueType::Integer => {
                if self.is_key(name) {
                    FieldAction::Canonical
                } else {
                    FieldAction::Stringify
                }
            }
            Some(_) if value == ValueType::Null => FieldAction::Raw,
            Some(Kind::String) if value != ValueType::String => FieldAction::Stringify,
            Some(_) => FieldAction::Raw,
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
            fields: self.fields.clone(),
            names: self.names.renamed(),
            overflow: self.overflow,
        };
        let bytes = serde_json::to_vec_pretty(&file).expect("schema serializes");
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
mod tests {
    use super::*;
    use crate::payload::{RecordRules, parse_payload};

    fn tracker() -> SchemaTracker {
        SchemaTracker::in_memory(
            Columns {
                generated_key: true,
                ..Default::default()
            },
            Catalog::default(),
        )
    }

    fn observe(t: &mut SchemaTracker, body: &str) -> bool {
        let p = parse_payload(body.as_bytes(), &RecordRules::default()).unwrap();
        p.records.iter().fold(false, |c, r| {
            let named = t.name(r);
            t.observe(&named).unwrap() | c
        })
    }

    /// The RECORD a body's first record gives, after observing it.
    fn record(t: &mut SchemaTracker, body: &str) -> Value {
        let p = parse_payload(body.as_bytes(), &RecordRules::default()).unwrap();
        let named = t.name(&p.records[0]);
        t.observe(&named).unwrap();
        let meta = crate::singer::RecordMeta {
            sequence: crate::sequence::Sequence::new(1),
            received_at: "t",
            key: None,
            sequence_alias: None,
            received_at_alias: None,
            overflow: &named.overflow,
        };
        let mut out = Vec::new();
        crate::singer::write_record(&mut out, "data", &named.fields, &meta, |n, v| {
            t.action(n, v)
        });
        serde_json::from_slice::<Value>(&out).unwrap()["record"].clone()
    }

    #[test]
    fn payload_names_in_the_metadata_namespace_empty_or_folded_together_get_their_own_columns() {
        let mut t = tracker();
        let r = record(
            &mut t,
            r#"{"id":"victim","_sdc_deleted_at":"2020-01-01T00:00:00Z","_SDC_SEQUENCE":5,
                "__SDC_PRIMARY_KEY":"x","":"empty","pullRequest":1,"pullrequest":2}"#,
        );
        assert_eq!(r["x_sdc_deleted_at"], "2020-01-01T00:00:00Z");
        assert_eq!(r["x_SDC_SEQUENCE"], 5);
        assert_eq!(r["x__SDC_PRIMARY_KEY"], "x");
        assert_eq!(r["x_empty"], "empty");
        assert_eq!(r["pullRequest"], 1);
        assert_eq!(r["pullrequest__2"], 2);
        assert!(r.get("_sdc_deleted_at").is_none());
        assert_eq!(r["_sdc_sequence"], 1);
        let properties = t.json_schema()["properties"].clone();
        assert!(properties.get("").is_none() && properties.get("pullrequest").is_none());
        let again = record(&mut t, r#"{"pullrequest":3,"pullRequest":4}"#);
        assert_eq!(
            (&again["pullrequest__2"], &again["pullRequest"]),
            (&json!(3), &json!(4))
        );
    }

    #[test]
    fn names_persist_and_an_old_schema_file_with_bad_names_moves_them() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("schema.json"),
            r#"{"version":2,"fields":{"":"string","Tag":"boolean","tag":"string","ok":"number"}}"#,
        )
        .unwrap();
        let mut t =
            SchemaTracker::load(dir.path(), Columns::default(), Catalog::default()).unwrap();
        let r = record(&mut t, r#"{"":"e","tag":"v","Tag":true,"ok":1}"#);
        assert_eq!(
            r,
            json!({"x_empty":"e","tag__2":"v","Tag":true,"ok":1,
            "_sdc_sequence":1,"_sdc_received_at":"t"})
        );
        t.persist().unwrap();
        let mut again =
            SchemaTracker::load(dir.path(), Columns::default(), Catalog::default()).unwrap();
        assert_eq!(record(&mut again, r#"{"tag":"w"}"#)["tag__2"], "w");
    }

    #[test]
    fn payload_fields_named_like_an_alias_get_a_column_of_their_own() {
        let mut t = SchemaTracker::in_memory(
            Columns {
                sequence_alias: Some("webhook_sequence".into()),
                ..Default::default()
            },
            Catalog::default(),
        );
        let r = record(&mut t, r#"{"Webhook_Sequence":1,"webhook_sequence":2}"#);
        assert_eq!(r["Webhook_Sequence__2"], 1);
        assert_eq!(r["webhook_sequence__3"], 2);
    }

    #[test]
    fn past_max_columns_new_fields_go_into_one_overflow_column() {
        let mut t = SchemaTracker::in_memory(
            Columns {
                generated_key: true,
                max_columns: 10,
                ..Default::default()
            },
            Catalog::default(),
        );
        let body = (0..20)
            .map(|i| format!(r#""f{i}":{i}"#))
            .collect::<Vec<_>>()
            .join(",");
        let r = record(&mut t, &format!("{{{body}}}"));
        let properties = t.json_schema()["properties"].as_object().unwrap().clone();
        assert_eq!(properties.len(), 10, "{:?}", properties.keys());
        assert_eq!(
            properties["_sdc_overflow"]["type"],
            json!(["null", "object", "array"])
        );
        assert_eq!(r["f5"], 5);
        assert_eq!(r["_sdc_overflow"]["f6"], 6);
        assert_eq!(r["_sdc_overflow"]["f19"], 19);
        assert_eq!(
            r.as_object().unwrap().len(),
            9,
            "6 fields, overflow, 2 _sdc (no key here)"
        );
        let r = record(&mut t, r#"{"f0":"known","new":1}"#);
        assert_eq!(r["f0"], "known");
        assert_eq!(r["_sdc_overflow"], json!({"new":1}));
    }

    #[test]
    fn key_columns_are_non_null_and_numeric_keys_canonical() {
        let mut t = SchemaTracker::in_memory(
            Columns {
                primary_key: vec!["id".into()],
                ..Default::default()
            },
            Catalog::default(),
        );
        assert_eq!(declared(&t, "id"), json!(["string"]));
        assert_eq!(record(&mut t, r#"{"id":42.0}"#)["id"], "42");
        assert_eq!(record(&mut t, r#"{"id":4.2e1,"ID":1}"#)["id"], "42");
        assert_eq!(record(&mut t, r#"{"id":"42"}"#)["id"], "42");
        assert_eq!(record(&mut t, r#"{"ID":7}"#)["ID__2"], 7);
    }

    fn declared(t: &SchemaTracker, field: &str) -> Value {
        t.json_schema()["properties"][field]["type"].clone()
    }

    #[test]
    fn integers_and_decimals_share_one_number_declaration() {
        let mut t = tracker();
        assert!(observe(&mut t, r#"{"amount":10}"#));
        assert!(!observe(&mut t, r#"{"amount":10.5}"#));
        assert!(!observe(&mut t, r#"{"amount":-3e2}"#));
        assert_eq!(declared(&t, "amount"), json!(["null", "number"]));
    }

    #[test]
    fn objects_and_arrays_are_json_and_a_scalar_after_them_widens_to_string() {
        let mut t = tracker();
        observe(&mut t, r#"{"meta":{"a":1},"tags":["x"]}"#);
        assert_eq!(declared(&t, "meta"), json!(["null", "object", "array"]));
        assert!(
            !observe(&mut t, r#"{"meta":[1,2]}"#),
            "an array fits a JSON field"
        );
        assert!(observe(&mut t, r#"{"meta":"plain"}"#));
        assert_eq!(declared(&t, "meta"), json!(["null", "string"]));
        let raw = RawValue::from_string(r#"{"a":1}"#.into()).unwrap();
        assert_eq!(t.action("meta", &raw), FieldAction::Stringify);
    }

    #[test]
    fn mixed_scalars_widen_to_string_and_nothing_else_changes_the_schema() {
        let mut t = tracker();
        observe(&mut t, r#"{"v":1,"flag":true,"s":"x"}"#);
        assert!(
            !observe(&mut t, r#"{"s":5}"#),
            "a number fits a string field as a string"
        );
        assert!(observe(&mut t, r#"{"v":"one"}"#));
        assert!(observe(&mut t, r#"{"flag":"yes"}"#));
        assert_eq!(declared(&t, "v"), json!(["null", "string"]));
        assert_eq!(declared(&t, "flag"), json!(["null", "string"]));
        assert!(!observe(&mut t, r#"{"v":2,"flag":false,"s":null}"#));
    }

    #[test]
    fn nulls_of_unknown_fields_are_not_declared_and_left_out() {
        let mut t = tracker();
        assert!(!observe(&mut t, r#"{"gone":null}"#));
        let null = RawValue::from_string("null".into()).unwrap();
        assert_eq!(t.action("gone", &null), FieldAction::Skip);
        observe(&mut t, r#"{"gone":"now"}"#);
        assert_eq!(t.action("gone", &null), FieldAction::Raw);
    }

    #[test]
    fn primary_key_fields_are_declared_before_any_value_as_strings() {
        let mut t = SchemaTracker::in_memory(
            Columns {
                primary_key: vec!["id".into()],
                ..Default::default()
            },
            Catalog::default(),
        );
        assert_eq!(declared(&t, "id"), json!(["string"]));
        assert!(!observe(&mut t, r#"{"id":12345678901234567}"#));
        let raw = RawValue::from_string("12345678901234567".into()).unwrap();
        assert_eq!(t.action("id", &raw), FieldAction::Canonical);
        assert!(
            t.json_schema()["properties"]
                .get("__sdc_primary_key")
                .is_none()
        );
    }

    #[test]
    fn the_persisted_schema_never_narrows_on_restart() {
        let dir = tempfile::tempdir().unwrap();
        let mut t =
            SchemaTracker::load(dir.path(), Columns::default(), Catalog::default()).unwrap();
        observe(&mut t, r#"{"v":"text","n":1}"#);
        observe(&mut t, r#"{"v":1}"#);
        t.persist().unwrap();
        let mut again =
            SchemaTracker::load(dir.path(), Columns::default(), Catalog::default()).unwrap();
        assert!(!observe(&mut again, r#"{"v":2,"n":3}"#));
        assert_eq!(declared(&again, "v"), json!(["null", "string"]));
    }

    #[test]
    fn sdc_columns_and_aliases_are_declared() {
        let t = SchemaTracker::in_memory(
            Columns {
                generated_key: true,
                sequence_alias: Some("webhook_sequence".into()),
                received_at_alias: Some("webhook_received_at".into()),
                ..Default::default()
            },
            Catalog::default(),
        );
        let p = t.json_schema()["properties"].clone();
        assert_eq!(p["_sdc_sequence"], p["webhook_sequence"]);
        assert_eq!(p["_sdc_received_at"]["format"], "date-time");
        assert_eq!(p["webhook_received_at"]["format"], "date-time");
        assert!(p["__sdc_primary_key"].is_object());
    }
}
