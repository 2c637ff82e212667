//! Catalogs: what `--discover` prints, and what `--catalog` (or `--properties`) changes.
//!
//! A catalog given to a sync can deselect fields (`"selected": false` on a field's
//! breadcrumb; key and `_sdc` columns cannot be deselected) and declare property types. A
//! property whose schema is one of the inferred declarations (see [`super::kinds::Kind`])
//! declares a field not emitted yet with that type from the start (values that do not fit go
//! to its siblings, as for inferred types); a field already emitted keeps its type. Any other
//! property schema is a pin: it is declared exactly as given, values are converted to it
//! where that loses nothing (a number to a string, `"12"` to 12 for an integer), and a value
//! that cannot be converted stops the sync with an error naming the field.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;

use serde_json::{Value, json};

use super::columns::{Columns, sdc_properties};
use super::kinds::{Accept, Kind};
use crate::convert::payload::{GENERATED_KEY_FIELD, OVERFLOW_FIELD, is_reserved_field};

/// A property type pinned by the catalog.
#[derive(Clone, Debug)]
pub struct Pin {
    pub schema: Value,
    pub accept: Accept,
}

/// What a `--catalog` asks of one stream. The default selects everything and pins nothing.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    stream_deselected: bool,
    /// Ordered, so that its `Debug` (a settings fingerprint) is stable.
    deselected: BTreeSet<String>,
    pins: BTreeMap<String, Pin>,
    seeds: BTreeMap<String, Kind>,
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("{path}: cannot read catalog: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: catalog is not valid JSON: {source}")]
    Parse {
        path: String,
        source: serde_json::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

impl Catalog {
    /// The entry of stream `name` in a whole catalog.
    pub fn from_value(catalog: &Value, name: &str) -> Result<Catalog, String> {
        let streams = catalog["streams"]
            .as_array()
            .ok_or("catalog has no \"streams\" array")?;
        let stream = streams
            .iter()
            .find(|s| s["tap_stream_id"] == name || s["stream"] == name)
            .ok_or_else(|| format!("catalog has no stream {name:?}"))?;
        Ok(Self::from_stream(stream))
    }

    /// The selection and pins of one catalog stream entry.
    pub fn from_stream(stream: &Value) -> Catalog {
        let mut out = Catalog::default();
        for entry in stream["metadata"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            let breadcrumb: Vec<&str> = entry["breadcrumb"]
                .as_array()
                .map(|b| b.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let selected = entry["metadata"]["selected"].as_bool();
            match breadcrumb.as_slice() {
                [] => out.stream_deselected = selected == Some(false),
                ["properties", field] if selected == Some(false) => {
                    out.deselected.insert((*field).to_owned());
                }
                _ => {}
            }
        }
        if let Some(properties) = stream["schema"]["properties"].as_object() {
            for (name, schema) in properties {
                if is_reserved_field(name) {
                    continue;
                }
                match Kind::from_schema(schema) {
                    Some(kind) => {
                        out.seeds.insert(name.clone(), kind);
                    }
                    None => {
                        out.pins.insert(
                            name.clone(),
                            Pin {
                                schema: schema.clone(),
                                accept: Accept::of_schema(schema),
                            },
                        );
                    }
                }
            }
        }
        out
    }

    /// Removes catalog entries for the tap's own added columns (aliases included).
    pub fn without_columns(mut self, columns: &Columns) -> Self {
        for (name, _) in sdc_properties(columns) {
            self.seeds.remove(&name);
            self.pins.remove(&name);
            self.deselected.remove(&name);
        }
        self
    }

    /// False when the catalog deselects the stream itself.
    pub fn is_stream_selected(&self) -> bool {
        !self.stream_deselected
    }

    pub fn is_field_selected(&self, name: &str) -> bool {
        !self.deselected.contains(name)
    }

    pub fn pin(&self, name: &str) -> Option<&Pin> {
        self.pins.get(name)
    }

    pub fn pinned_names(&self) -> impl Iterator<Item = &String> {
        self.pins.keys()
    }

    pub fn seeds(&self) -> impl Iterator<Item = (&String, &Kind)> {
        self.seeds.iter()
    }
}

/// A `--catalog` with several streams: each stream's [`Catalog`] by name. A stream the
/// catalog does not list (one first seen after the catalog was made) is selected.
#[derive(Clone, Debug, Default)]
pub struct Catalogs {
    streams: BTreeMap<String, Catalog>,
}

impl Catalogs {
    pub fn load(path: &Path) -> Result<Catalogs, CatalogError> {
        let shown = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| CatalogError::Read {
            path: shown.clone(),
            source,
        })?;
        let value: Value =
            serde_json::from_slice(&bytes).map_err(|source| CatalogError::Parse {
                path: shown.clone(),
                source,
            })?;
        Self::from_value(&value).map_err(|message| CatalogError::Invalid {
            path: shown,
            message,
        })
    }

    pub fn from_value(catalog: &Value) -> Result<Catalogs, String> {
        let streams = catalog["streams"]
            .as_array()
            .ok_or("catalog has no \"streams\" array")?;
        let mut out = Catalogs::default();
        for stream in streams {
            let Some(name) = stream["tap_stream_id"]
                .as_str()
                .or_else(|| stream["stream"].as_str())
            else {
                return Err("a catalog stream has no tap_stream_id".into());
            };
            out.streams
                .insert(name.to_owned(), Catalog::from_stream(stream));
        }
        Ok(out)
    }

    /// The catalog of `stream` (everything selected if the catalog does not list it).
    pub fn stream(&self, stream: &str) -> Catalog {
        self.streams.get(stream).cloned().unwrap_or_default()
    }

    pub fn is_stream_selected(&self, stream: &str) -> bool {
        self.streams
            .get(stream)
            .is_none_or(Catalog::is_stream_selected)
    }

    /// Whether some stream is deselected.
    pub fn deselects_a_stream(&self) -> bool {
        !self.streams.values().all(Catalog::is_stream_selected)
    }
}

/// One stream's entry in the catalog `--discover` prints: `json_schema` is its persisted
/// schema ([`super::SchemaTracker::json_schema`]).
pub fn discover_stream(
    stream: &str,
    json_schema: Value,
    columns: &Columns,
    key_properties: &[String],
    schema_name: &str,
) -> Value {
    let automatic: HashSet<String> = sdc_properties(columns)
        .into_iter()
        .map(|(name, _)| name)
        .chain(columns.primary_key.iter().cloned())
        .chain(key_properties.iter().cloned())
        .chain([GENERATED_KEY_FIELD.to_owned(), OVERFLOW_FIELD.to_owned()])
        .collect();
    let mut metadata = vec![json!({
        "breadcrumb": [],
        "metadata": {
            "inclusion": "available",
            "selected-by-default": true,
            "table-key-properties": key_properties,
            "forced-replication-method": "INCREMENTAL",
            "schema-name": schema_name,
        }
    })];
    if let Some(properties) = json_schema["properties"].as_object() {
        for name in properties.keys() {
            let inclusion = if automatic.contains(name) {
                "automatic"
            } else {
                "available"
            };
            metadata.push(json!({
                "breadcrumb": ["properties", name],
                "metadata": {"inclusion": inclusion, "selected-by-default": true}
            }));
        }
    }
    json!({
        "tap_stream_id": stream,
        "stream": stream,
        "schema": json_schema,
        "key_properties": key_properties,
        "metadata": metadata,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_seeds_and_selection_are_read_from_the_catalog() {
        let catalog = json!({"streams": [{
            "tap_stream_id": "data", "stream": "data",
            "schema": {"type": "object", "properties": {
                "amount": {"type": ["null", "string"]},
                "created": {"type": ["null", "string"], "format": "date-time"},
                "count": {"type": ["integer", "null"], "maximum": 2147483647},
                "_sdc_sequence": {"type": ["integer"]}
            }},
            "metadata": [
                {"breadcrumb": [], "metadata": {"selected": true}},
                {"breadcrumb": ["properties", "secret"], "metadata": {"selected": false}}
            ]
        }]});
        let c = Catalog::from_value(&catalog, "data").unwrap();
        assert!(c.is_stream_selected());
        assert!(!c.is_field_selected("secret"));
        assert!(c.is_field_selected("amount"));
        assert_eq!(
            c.seeds().collect::<Vec<_>>(),
            [(&"amount".to_owned(), &Kind::String)]
        );
        assert_eq!(c.pin("created").unwrap().accept, Accept::DateTime);
        assert_eq!(c.pin("count").unwrap().accept, Accept::Integer);
        assert!(c.pin("_sdc_sequence").is_none());
    }

    #[test]
    fn catalogs_select_per_stream_and_unlisted_streams_are_selected() {
        let c = Catalogs::from_value(&json!({"streams": [
            {"tap_stream_id": "push", "metadata": [{"breadcrumb": [], "metadata": {"selected": false}}]},
            {"tap_stream_id": "issues", "metadata": [
                {"breadcrumb": ["properties", "body"], "metadata": {"selected": false}}]}
        ]}))
        .unwrap();
        assert!(!c.is_stream_selected("push"));
        assert!(c.is_stream_selected("issues"));
        assert!(c.is_stream_selected("never_listed"));
        assert!(!c.stream("issues").is_field_selected("body"));
    }

    #[test]
    fn a_catalog_without_stream_data_is_refused() {
        let e = Catalog::from_value(&json!({"streams": [{"tap_stream_id": "other"}]}), "data")
            .unwrap_err();
        assert!(e.contains("no stream \"data\""), "{e}");
    }
}
