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
//! The folder, in import order: [`kinds`] (types and what a pin accepts), [`columns`] (the
//! `_sdc` columns), [`catalog`] (`--catalog` and `--discover`), then the tracker here.

pub mod catalog;
pub mod columns;
pub mod kinds;

pub use catalog::{Catalog, CatalogError};
pub use columns::Columns;
pub use kinds::{Kind, Mismatch};

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use crate::fsutil;
use crate::payload::Fields;
use crate::singer::FieldAction;
use columns::sdc_properties;
use kinds::{ValueType, value_name};

/// The persisted, cumulative schema of stream `data`.
#[derive(Debug, Default, Serialize, Deserialize)]
struct SchemaFile {
    version: u32,
    fields: BTreeMap<String, Kind>,
}

const SCHEMA_FILE_VERSION: u32 = 2;

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
            (crate::streams::normalise(stream).as_deref() == Some(stream))
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

/// The schema of the stream as records pass: declarations, catalog pins and selection.
#[derive(Debug)]
pub struct SchemaTracker {
    path: Option<PathBuf>,
    fields: BTreeMap<String, Kind>,
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
        let fields = match std::fs::read(&path) {
            Ok(bytes) => {
                let file: SchemaFile =
                    serde_json::from_slice(&bytes).map_err(|source| SchemaError::Parse {
                        path: path.clone(),
                        source,
                    })?;
                file.fields
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                new = true;
                BTreeMap::new()
            }
            Err(source) => return Err(SchemaError::Read { path, source }),
        };
        let mut tracker = SchemaTracker {
            path: Some(path),
            fields,
            columns,
            catalog,
            dirty: new && new_is_dirty,
        };
        tracker.apply_catalog_seeds();
        Ok(tracker)
    }

    /// A tracker that persists nothing.
    pub fn in_memory(columns: Columns, catalog: Catalog) -> Self {
        let mut tracker = SchemaTracker {
            path: None,
            fields: BTreeMap::new(),
            columns,
            catalog,
            dirty: false,
        };
        tracker.apply_catalog_seeds();
        tracker
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

    /// Widens declarations to accept `record`; true if the schema changed (a new SCHEMA must
    /// precede the record). Fails if a catalog-pinned field gets a value it cannot take.
    pub fn observe(&mut self, record: &Fields<'_>) -> Result<bool, Mismatch> {
        let mut changed = false;
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
            let schema = match self.catalog.pin(&name) {
                Some(pin) => pin.schema.clone(),
                None => self.fields[&name].schema(),
            };
            properties.insert(name, schema);
        }
        for (name, schema) in sdc_properties(&self.columns) {
            properties.insert(name, schema);
        }
        json!({"type": "object", "properties": properties})
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
        p.records
            .iter()
            .fold(false, |c, r| t.observe(r).unwrap() | c)
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
        assert_eq!(declared(&t, "id"), json!(["null", "string"]));
        assert!(!observe(&mut t, r#"{"id":12345678901234567}"#));
        let raw = RawValue::from_string("12345678901234567".into()).unwrap();
        assert_eq!(t.action("id", &raw), FieldAction::Stringify);
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
