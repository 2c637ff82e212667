//! Types: the kind a field is declared with, the JSON type of a value, which column a value
//! goes to (the field, or its sibling named by type), and what a catalog-pinned property
//! accepts. Pure decisions, no state: the tracker and the catalog both build on them.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::singer::FieldAction;

/// The type a field is declared with, when inferred from values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Integer,
    Number,
    Boolean,
    String,
    /// An object or an array, stored as JSON.
    Json,
}

/// The JSON type of a raw value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueType {
    Null,
    Boolean,
    /// An integer within a signed 64-bit integer (PostgreSQL's `bigint`).
    Integer,
    /// An integer beyond 64 bits: no integer column holds it exactly.
    BigInteger,
    Number,
    String,
    Object,
    Array,
}

impl ValueType {
    pub fn of(text: &str) -> ValueType {
        match text.as_bytes().first() {
            Some(b'n') => ValueType::Null,
            Some(b't' | b'f') => ValueType::Boolean,
            Some(b'"') => ValueType::String,
            Some(b'{') => ValueType::Object,
            Some(b'[') => ValueType::Array,
            _ if text.bytes().any(|b| matches!(b, b'.' | b'e' | b'E')) => ValueType::Number,
            // 18 digits (and a sign) always fit; only longer ones need the parse.
            _ if text.len() > 18 && text.parse::<i64>().is_err() => ValueType::BigInteger,
            _ => ValueType::Integer,
        }
    }
}

/// The column a value of a field goes to when the field's declared kind does not take it:
/// the sibling `<field><suffix>` (Stitch's convention), declared with `kind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sibling {
    pub suffix: &'static str,
    pub kind: Kind,
    /// Written as a JSON string holding the value's JSON text (an integer beyond 64 bits).
    pub as_text: bool,
}

impl Sibling {
    /// The sibling a non-null value goes to.
    pub fn of(value: ValueType) -> Option<Sibling> {
        let (suffix, kind, as_text) = match value {
            ValueType::Null => return None,
            ValueType::String => ("__st", Kind::String, false),
            ValueType::BigInteger => ("__st", Kind::String, true),
            ValueType::Integer => ("__in", Kind::Integer, false),
            ValueType::Number => ("__nu", Kind::Number, false),
            ValueType::Boolean => ("__bo", Kind::Boolean, false),
            ValueType::Object | ValueType::Array => ("__js", Kind::Json, false),
        };
        Some(Sibling {
            suffix,
            kind,
            as_text,
        })
    }
}

impl Kind {
    /// The kind a field is declared with at its first non-null value. An integer beyond 64
    /// bits still makes an integer field (its own value goes to the `__st` sibling).
    pub(super) fn first(value: ValueType) -> Option<Kind> {
        Some(match value {
            ValueType::Null => return None,
            ValueType::Integer | ValueType::BigInteger => Kind::Integer,
            ValueType::Number => Kind::Number,
            ValueType::Boolean => Kind::Boolean,
            ValueType::String => Kind::String,
            ValueType::Object | ValueType::Array => Kind::Json,
        })
    }

    /// Whether a value goes into a column of this kind as it is: its JSON type is the
    /// column's (an integer is also a number), or it is null.
    pub(super) fn fits(self, value: ValueType) -> bool {
        matches!(
            (self, value),
            (_, ValueType::Null)
                | (Kind::Integer, ValueType::Integer)
                | (
                    Kind::Number,
                    ValueType::Integer | ValueType::BigInteger | ValueType::Number
                )
                | (Kind::Boolean, ValueType::Boolean)
                | (Kind::String, ValueType::String)
                | (Kind::Json, ValueType::Object | ValueType::Array)
        )
    }

    /// The property schema the kind is declared with.
    pub fn schema(self) -> Value {
        match self {
            Kind::Integer => json!({"type": ["null", "integer"]}),
            Kind::Number => json!({"type": ["null", "number"]}),
            Kind::Boolean => json!({"type": ["null", "boolean"]}),
            Kind::String => json!({"type": ["null", "string"]}),
            Kind::Json => json!({"type": ["null", "object", "array"]}),
        }
    }

    /// The kind whose declaration `schema` is, if it is one of them exactly (type order and
    /// a missing "null" aside).
    pub fn from_schema(schema: &Value) -> Option<Kind> {
        let obj = schema.as_object()?;
        if obj.keys().any(|k| k != "type") {
            return None;
        }
        let types: BTreeSet<&str> = match &obj["type"] {
            Value::String(t) => [t.as_str()].into(),
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => return None,
        };
        let types: Vec<&str> = types.into_iter().filter(|t| *t != "null").collect();
        Some(match types.as_slice() {
            ["integer"] => Kind::Integer,
            ["number"] => Kind::Number,
            ["boolean"] => Kind::Boolean,
            ["string"] => Kind::String,
            ["array", "object"] => Kind::Json,
            _ => return None,
        })
    }
}

/// A value that a catalog-pinned type does not accept.
#[derive(Debug, thiserror::Error)]
#[error("field {field:?} is pinned by the catalog as {expected}, but a record has {found}")]
pub struct Mismatch {
    pub field: String,
    pub expected: String,
    pub found: &'static str,
}

pub(super) fn value_name(value: ValueType) -> &'static str {
    match value {
        ValueType::Null => "null",
        ValueType::Boolean => "a boolean",
        ValueType::Integer => "an integer",
        ValueType::BigInteger => "an integer beyond 64 bits",
        ValueType::Number => "a number",
        ValueType::String => "a string",
        ValueType::Object => "an object",
        ValueType::Array => "an array",
    }
}

/// What values a pinned property accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Accept {
    Anything,
    /// Strings, plus values of the other listed kinds as they are; anything else becomes a
    /// string.
    String {
        also: Vec<Kind>,
    },
    Integer,
    Number,
    Boolean,
    DateTime,
    Json,
}

impl fmt::Display for Accept {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Accept::Anything => "anything",
            Accept::String { .. } => "a string",
            Accept::Integer => "an integer",
            Accept::Number => "a number",
            Accept::Boolean => "a boolean",
            Accept::DateTime => "an RFC 3339 date-time string",
            Accept::Json => "an object or an array",
        })
    }
}

impl Accept {
    pub(super) fn of_schema(schema: &Value) -> Accept {
        let types: BTreeSet<&str> = match schema.get("type") {
            Some(Value::String(t)) => [t.as_str()].into(),
            Some(Value::Array(ts)) => ts
                .iter()
                .filter_map(Value::as_str)
                .filter(|t| *t != "null")
                .collect(),
            _ => return Accept::Anything,
        };
        let types: BTreeSet<&str> = types.into_iter().filter(|t| *t != "null").collect();
        let only =
            |allowed: &[&str]| !types.is_empty() && types.iter().all(|t| allowed.contains(t));
        if types.len() == 1 && types.contains("string") {
            if schema.get("format").and_then(Value::as_str) == Some("date-time") {
                return Accept::DateTime;
            }
            return Accept::String { also: Vec::new() };
        }
        if only(&["integer"]) {
            Accept::Integer
        } else if only(&["integer", "number"]) {
            Accept::Number
        } else if only(&["boolean"]) {
            Accept::Boolean
        } else if only(&["object", "array"]) {
            Accept::Json
        } else if types.contains("string") {
            let also = types
                .iter()
                .filter_map(|t| match *t {
                    "integer" => Some(Kind::Integer),
                    "number" => Some(Kind::Number),
                    "boolean" => Some(Kind::Boolean),
                    "object" | "array" => Some(Kind::Json),
                    _ => None,
                })
                .collect();
            Accept::String { also }
        } else {
            Accept::Anything
        }
    }
}

impl Accept {
    /// How a value of a pinned field is written; `Skip` means it does not fit.
    pub fn action(&self, value: ValueType, text: &str) -> FieldAction {
        if value == ValueType::Null {
            return FieldAction::Raw;
        }
        let inner = || serde_json::from_str::<String>(text).ok();
        match self {
            Accept::Anything => FieldAction::Raw,
            Accept::String { also } => {
                if value == ValueType::String || also.iter().any(|k| k.fits(value)) {
                    FieldAction::Raw
                } else {
                    FieldAction::Stringify
                }
            }
            Accept::Integer => match value {
                ValueType::Integer => FieldAction::Raw,
                ValueType::String if inner().is_some_and(|s| s.parse::<i64>().is_ok()) => {
                    FieldAction::Unquote
                }
                _ => FieldAction::Skip,
            },
            Accept::Number => match value {
                ValueType::Integer | ValueType::BigInteger | ValueType::Number => FieldAction::Raw,
                ValueType::String
                    if inner().is_some_and(|s| {
                        matches!(serde_json::from_str::<Value>(&s), Ok(Value::Number(_)))
                    }) =>
                {
                    FieldAction::Unquote
                }
                _ => FieldAction::Skip,
            },
            Accept::Boolean => match value {
                ValueType::Boolean => FieldAction::Raw,
                ValueType::String if inner().is_some_and(|s| s == "true" || s == "false") => {
                    FieldAction::Unquote
                }
                _ => FieldAction::Skip,
            },
            Accept::DateTime => match value {
                ValueType::String
                    if inner()
                        .is_some_and(|s| chrono::DateTime::parse_from_rfc3339(&s).is_ok()) =>
                {
                    FieldAction::Raw
                }
                _ => FieldAction::Skip,
            },
            Accept::Json => match value {
                ValueType::Object | ValueType::Array => FieldAction::Raw,
                _ => FieldAction::Skip,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_schemas_map_back_to_kinds() {
        for kind in [
            Kind::Integer,
            Kind::Number,
            Kind::Boolean,
            Kind::String,
            Kind::Json,
        ] {
            assert_eq!(Kind::from_schema(&kind.schema()), Some(kind));
        }
        assert_eq!(
            Kind::from_schema(&json!({"type": "string", "format": "date-time"})),
            None
        );
    }
}
