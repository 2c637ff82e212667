//! The columns the tap adds to every record besides the provider's fields: `_sdc_sequence`,
//! `_sdc_received_at`, `__sdc_primary_key` (their names are in [`crate::convert::payload`], which drops
//! them from payloads) and the aliases the config asks for.

use serde_json::Value;

use crate::convert::payload::{
    GENERATED_KEY_FIELD, HEADERS_FIELD, QUERY_FIELD, RECEIVED_AT_FIELD, SEQUENCE_FIELD,
};

/// The JSON Schema of the columns the tap adds (`schemas/sdc.json`).
pub const SDC_SCHEMA: &str = include_str!("../../schemas/sdc.json");

/// Most columns a stream gets by default, the tap's own included (PostgreSQL allows 1,600 per
/// table, and pipelinewise adds one at each type change).
pub const DEFAULT_MAX_COLUMNS: usize = 1000;

/// Columns the tap adds besides the provider's fields, and the stream's column budget, from
/// the config.
#[derive(Clone, Debug)]
pub struct Columns {
    /// Configured primary key fields.
    pub primary_key: Vec<String>,
    /// Add `__sdc_primary_key`.
    pub generated_key: bool,
    /// Also write `_sdc_sequence` under this name.
    pub sequence_alias: Option<String>,
    /// Also write `_sdc_received_at` under this name.
    pub received_at_alias: Option<String>,
    /// Most columns a stream has, these included; new fields past it go into
    /// `_sdc_overflow`.
    pub max_columns: usize,
    /// Add `_sdc_headers` (`capture_headers`).
    pub headers: bool,
    /// Add `_sdc_query` (`capture_query`).
    pub query: bool,
}

impl Default for Columns {
    fn default() -> Self {
        Columns {
            primary_key: Vec::new(),
            generated_key: false,
            sequence_alias: None,
            received_at_alias: None,
            max_columns: DEFAULT_MAX_COLUMNS,
            headers: false,
            query: false,
        }
    }
}

/// The `_sdc` columns (from `schemas/sdc.json`) and their aliases, by name.
pub fn sdc_properties(columns: &Columns) -> Vec<(String, Value)> {
    let sdc: Value = serde_json::from_str(SDC_SCHEMA).expect("schemas/sdc.json is valid JSON");
    let mut out = Vec::new();
    let Some(properties) = sdc["properties"].as_object() else {
        return out;
    };
    for (name, schema) in properties {
        if (name == GENERATED_KEY_FIELD && !columns.generated_key)
            || (name == HEADERS_FIELD && !columns.headers)
            || (name == QUERY_FIELD && !columns.query)
        {
            continue;
        }
        let mut schema = schema.clone();
        if let Some(obj) = schema.as_object_mut() {
            obj.remove("description");
        }
        let alias = match name.as_str() {
            SEQUENCE_FIELD => columns.sequence_alias.as_ref(),
            RECEIVED_AT_FIELD => columns.received_at_alias.as_ref(),
            _ => None,
        };
        if let Some(alias) = alias {
            out.push((alias.clone(), schema.clone()));
        }
        out.push((name.clone(), schema));
    }
    out
}
