//! The stream's JSON Schema: the `_sdc` columns plus every top-level field seen, inferred
//! from values and only ever widened.
//!
//! Targets create a column for each declared property and drop undeclared ones, and some
//! flush or rename columns when a SCHEMA changes, so the schema changes only when a record
//! brings a new field or a value the declaration does not accept. The schema is persisted in
//! `data_dir/schema.json`, so a later run starts from the same declarations.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::convert::{Fields, GENERATED_KEY_FIELD};
use crate::fsutil;

/// The JSON Schema of the columns the tap adds (`schemas/sdc.json`).
pub const SDC_SCHEMA: &str = include_str!("../schemas/sdc.json");

/// A JSON type a field has been declared with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JsonType {
    Boolean,
    Number,
    String,
    Object,
    Array,
}

impl JsonType {
    /// The type of a raw JSON value; `None` for null.
    pub fn of(raw: &str) -> Option<JsonType> {
        match raw.as_bytes().first()? {
            b'n' => None,
            b't' | b'f' => Some(JsonType::Boolean),
            b'"' => Some(JsonType::String),
            b'{' => Some(JsonType::Object),
            b'[' => Some(JsonType::Array),
            _ => Some(JsonType::Number),
        }
    }

    fn name(self) -> &'static str {
        match self {
            JsonType::Boolean => "boolean",
            JsonType::Number => "number",
            JsonType::String => "string",
            JsonType::Object => "object",
            JsonType::Array => "array",
        }
    }
}

/// How one field is declared: the set of JSON types it accepts (besides null).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldType {
    pub types: Vec<JsonType>,
}

impl FieldType {
    /// Widens the declaration to accept `ty`; true if it changed.
    fn widen(&mut self, ty: JsonType) -> bool {
        if self.types.contains(&ty) {
            return false;
        }
        self.types.push(ty);
        self.types.sort();
        true
    }

    fn json_schema(&self) -> Value {
        let mut types = vec![Value::from("null")];
        types.extend(self.types.iter().map(|t| Value::from(t.name())));
        let mut schema = Map::new();
        schema.insert("type".into(), Value::Array(types));
        if self.types.contains(&JsonType::Array) {
            schema.insert("items".into(), json!({}));
        }
        Value::Object(schema)
    }
}

/// The persisted, cumulative schema of stream `data`.
#[derive(Debug, Default, Serialize, Deserialize)]
struct SchemaFile {
    version: u32,
    fields: BTreeMap<String, FieldType>,
}

#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("{path}: cannot read the persisted schema: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: the persisted schema is not valid: {source}")]
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

/// The schema of the stream as records pass: tracks declarations and says when they change.
#[derive(Debug)]
pub struct SchemaTracker {
    path: Option<PathBuf>,
    file: SchemaFile,
    generated_key: bool,
    dirty: bool,
}

impl SchemaTracker {
    /// Loads the persisted schema of `data_dir` (empty if none). `generated_key` adds the
    /// `__sdc_primary_key` column.
    pub fn load(data_dir: &Path, generated_key: bool) -> Result<Self, SchemaError> {
        let path = data_dir.join("schema.json");
        let file = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| SchemaError::Parse {
                path: path.clone(),
                source,
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => SchemaFile {
                version: 1,
                fields: BTreeMap::new(),
            },
            Err(source) => return Err(SchemaError::Read { path, source }),
        };
        Ok(SchemaTracker {
            path: Some(path),
            file,
            generated_key,
            dirty: false,
        })
    }

    /// A tracker that persists nothing (for tests and dry runs).
    pub fn in_memory(generated_key: bool) -> Self {
        SchemaTracker {
            path: None,
            file: SchemaFile {
                version: 1,
                fields: BTreeMap::new(),
            },
            generated_key,
            dirty: false,
        }
    }

    /// Widens declarations to accept `record`; true if the schema changed (a new SCHEMA must
    /// precede the record).
    pub fn observe(&mut self, record: &Fields<'_>) -> bool {
        let mut changed = false;
        for (name, value) in &record.fields {
            let Some(ty) = JsonType::of(value.get()) else {
                continue;
            };
            match self.file.fields.get_mut(name.as_ref()) {
                Some(field) => changed |= field.widen(ty),
                None => {
                    self.file
                        .fields
                        .insert(name.to_string(), FieldType { types: vec![ty] });
                    changed = true;
                }
            }
        }
        self.dirty |= changed;
        changed
    }

    /// Widens these declarations to accept everything `other` declares; true if any changed.
    /// A replay of files infers its schema on its own and then merges it here, so that later
    /// syncs never declare a column narrower than the replay did.
    pub fn absorb(&mut self, other: &SchemaTracker) -> bool {
        let mut changed = false;
        for (name, field) in &other.file.fields {
            let mine = self.file.fields.entry(name.clone()).or_insert_with(|| {
                changed = true;
                FieldType::default()
            });
            for ty in &field.types {
                changed |= mine.widen(*ty);
            }
        }
        self.dirty |= changed;
        changed
    }

    /// Whether a field has been declared. Null values of undeclared fields are left out of
    /// records: their type is unknown until a non-null value arrives.
    pub fn is_declared(&self, name: &str) -> bool {
        self.file.fields.contains_key(name)
    }

    /// Saves the schema if it changed since the last save.
    pub fn persist(&mut self) -> Result<(), SchemaError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        if !self.dirty {
            return Ok(());
        }
        let bytes = serde_json::to_vec_pretty(&self.file).expect("schema serializes");
        fsutil::write_atomic(path, &bytes).map_err(|source| SchemaError::Write {
            path: path.clone(),
            source,
        })?;
        self.dirty = false;
        Ok(())
    }

    /// The JSON Schema of the stream.
    pub fn json_schema(&self) -> Value {
        let sdc: Value = serde_json::from_str(SDC_SCHEMA).expect("schemas/sdc.json is valid JSON");
        let mut properties = Map::new();
        for (name, field) in &self.file.fields {
            properties.insert(name.clone(), field.json_schema());
        }
        if let Some(sdc_properties) = sdc["properties"].as_object() {
            for (name, schema) in sdc_properties {
                if name == GENERATED_KEY_FIELD && !self.generated_key {
                    continue;
                }
                let mut schema = schema.clone();
                if let Some(obj) = schema.as_object_mut() {
                    obj.remove("description");
                }
                properties.insert(name.clone(), schema);
            }
        }
        json!({"type": "object", "properties": properties})
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::{RecordRules, parse_payload};

    fn observe(t: &mut SchemaTracker, body: &str) -> bool {
        let p = parse_payload(body.as_bytes(), &RecordRules::default()).unwrap();
        p.records.iter().fold(false, |c, r| t.observe(r) | c)
    }

    #[test]
    fn schema_changes_only_for_new_fields_or_wider_types() {
        let mut t = SchemaTracker::in_memory(true);
        assert!(observe(&mut t, r#"{"id":1,"event":"send"}"#));
        assert!(!observe(&mut t, r#"{"id":2,"event":"click"}"#));
        assert!(!observe(&mut t, r#"{"id":2.5,"gone":null}"#));
        assert!(!t.is_declared("gone"));
        assert!(observe(&mut t, r#"{"url":"http://hi.com"}"#));
        assert!(observe(&mut t, r#"{"id":"x"}"#));
        let s = t.json_schema();
        assert_eq!(
            s["properties"]["id"]["type"],
            json!(["null", "number", "string"])
        );
        assert_eq!(s["properties"]["_sdc_sequence"]["type"], json!(["integer"]));
        assert!(s["properties"]["__sdc_primary_key"].is_object());
    }

    #[test]
    fn absorbing_another_schema_only_widens() {
        let mut live = SchemaTracker::in_memory(true);
        observe(&mut live, r#"{"id":1,"note":"a"}"#);
        let mut replayed = SchemaTracker::in_memory(true);
        observe(&mut replayed, r#"{"id":"x","url":"u"}"#);
        assert!(live.absorb(&replayed));
        assert!(!live.absorb(&replayed));
        let s = live.json_schema();
        assert_eq!(
            s["properties"]["id"]["type"],
            json!(["null", "number", "string"])
        );
        assert!(live.is_declared("note") && live.is_declared("url"));
    }

    #[test]
    fn schema_persists_between_runs() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = SchemaTracker::load(dir.path(), false).unwrap();
        observe(&mut t, r#"{"amount":1,"tags":["a"]}"#);
        t.persist().unwrap();
        let mut again = SchemaTracker::load(dir.path(), false).unwrap();
        assert!(!observe(&mut again, r#"{"amount":3,"tags":[]}"#));
        assert!(
            again.json_schema()["properties"]
                .get("__sdc_primary_key")
                .is_none()
        );
    }
}
