//! Which stream a record goes to, and each stream's keys.
//!
//! Routing is a pure function of the settings, the request's journaled headers and the record
//! ([`StreamSettings::route`]), applied when records are emitted, never when they are received:
//! so `replay --journal` under a new `route` re-extracts all of history.

use std::collections::BTreeMap;

use crate::capture::{Header, HeaderPatterns, PATH_NAME};
use crate::convert::payload::Fields;

/// Longest stream name (PostgreSQL's identifier limit).
pub const MAX_STREAM_NAME_CHARS: usize = 63;

/// How a request picks its stream (`route`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// The value of this header (lower case).
    Header(String),
    /// The value of this top-level field of each record.
    Field(String),
    /// The `<name>` of `POST /webhooks/<token>/<name>`.
    Path,
}

/// Per-stream overrides (`streams.<name>`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamOverride {
    pub primary_key: Option<Vec<String>>,
    pub append_only: Option<bool>,
}

/// What a stream's records are keyed by.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamKeys {
    /// Configured key fields (checked in every record of the stream).
    pub primary_key: Vec<String>,
    /// Records get `__sdc_primary_key` (no key fields, or `append_only`).
    pub generated_key: bool,
}

/// The stream settings of a config.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamSettings {
    /// The default stream (`stream`).
    pub default: String,
    pub route: Option<Route>,
    pub max_streams: usize,
    pub overrides: BTreeMap<String, StreamOverride>,
    /// Top-level `primary_key` and `append_only`, for streams without their own.
    pub primary_key: Vec<String>,
    pub append_only: bool,
    pub capture_headers: HeaderPatterns,
    pub capture_query: bool,
}

impl Default for StreamSettings {
    fn default() -> Self {
        StreamSettings {
            default: "data".into(),
            route: None,
            max_streams: 100,
            overrides: BTreeMap::new(),
            primary_key: Vec::new(),
            append_only: false,
            capture_headers: HeaderPatterns::default(),
            capture_query: false,
        }
    }
}

impl StreamSettings {
    /// The keys of `stream`: its own `primary_key`/`append_only`, else the top-level ones.
    pub fn keys(&self, stream: &str) -> StreamKeys {
        let own = self.overrides.get(stream);
        let primary_key = own
            .and_then(|o| o.primary_key.clone())
            .unwrap_or_else(|| self.primary_key.clone());
        let append_only = own.and_then(|o| o.append_only).unwrap_or(self.append_only);
        StreamKeys {
            generated_key: primary_key.is_empty() || append_only,
            primary_key,
        }
    }

    /// Whether records can go to more than one stream or carry key fields of their stream's
    /// own: then keys are checked per record, after routing.
    pub fn keys_vary(&self) -> bool {
        self.overrides.values().any(|o| o.primary_key.is_some())
    }

    /// Whether `stream` may be sent to the default stream by `max_streams`: streams named in
    /// `streams` are declared by the user and never are.
    pub fn may_overflow(&self, stream: &str) -> bool {
        stream != self.default && !self.overrides.contains_key(stream)
    }

    /// The key fields a record routed to `stream` must carry when it is received (each with
    /// the stream that needs them): its stream's, and the default stream's when they differ
    /// and `max_streams` may send the record there, so that no accepted record lacks the key
    /// of the stream it ends in.
    pub fn required_keys<'a>(&'a self, stream: &'a str) -> Vec<(&'a str, Vec<String>)> {
        let own = self.keys(stream).primary_key;
        let default = self
            .may_overflow(stream)
            .then(|| self.keys(&self.default).primary_key)
            .filter(|default| *default != own);
        let mut required = vec![(stream, own)];
        required.extend(default.map(|keys| (self.default.as_str(), keys)));
        required
    }

    /// The normalised route value of a record, before the `max_streams` cap: `None` means the
    /// default stream.
    pub fn route(&self, headers: &[Header], record: &Fields<'_>) -> Option<String> {
        match self.route.as_ref()? {
            Route::Header(name) => {
                let value = headers.iter().find(|h| h.name == *name)?;
                normalise(&String::from_utf8_lossy(&value.value))
            }
            Route::Path => {
                let value = headers.iter().find(|h| h.name == PATH_NAME)?;
                normalise(&String::from_utf8_lossy(&value.value))
            }
            Route::Field(name) => match record.get(name) {
                Some(raw) => normalise(&field_text(raw)?),
                None => normalise(&nested_text(record, name)?),
            },
        }
    }

    /// Whether a request's metadata is written into its records.
    pub fn captures(&self) -> bool {
        !self.capture_headers.is_empty() || self.capture_query
    }
}

/// The text of a scalar field value used as a route value; objects, arrays and null give none.
fn field_text(raw: &str) -> Option<String> {
    match raw.as_bytes().first()? {
        b'"' => serde_json::from_str::<String>(raw).ok(),
        b'{' | b'[' | b'n' => None,
        _ => Some(raw.to_owned()),
    }
}

/// The text of a scalar below the top level, named by a dotted path (`event.type`; a number
/// picks an array element). Only a route naming a path that is no top-level field pays for it.
fn nested_text(record: &Fields<'_>, path: &str) -> Option<String> {
    let (top, rest) = path.split_once('.')?;
    let value: serde_json::Value = serde_json::from_str(record.get(top)?).ok()?;
    let pointer: String = rest
        .split('.')
        .map(|part| format!("/{}", part.replace('~', "~0").replace('/', "~1")))
        .collect();
    match value.pointer(&pointer)? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A route value made a stream name every target accepts as a table name: lower case, each
/// run of characters outside `[a-z0-9_]` one `_`, leading and trailing `_` trimmed, a leading
/// digit prefixed with `_`, at most 63 characters. `None` when nothing is left.
pub fn normalise(value: &str) -> Option<String> {
    let mut out = String::with_capacity(value.len().min(MAX_STREAM_NAME_CHARS + 1));
    let mut gap = false;
    for c in value.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' {
            if gap && !out.is_empty() {
                out.push('_');
            }
            gap = false;
            out.push(c);
        } else {
            gap = true;
        }
        if out.len() > 2 * MAX_STREAM_NAME_CHARS {
            break;
        }
    }
    let trimmed = out.trim_matches('_');
    if trimmed.is_empty() {
        return None;
    }
    let mut name = String::with_capacity(trimmed.len() + 1);
    if trimmed.starts_with(|c: char| c.is_ascii_digit()) {
        name.push('_');
    }
    name.push_str(trimmed);
    name.truncate(MAX_STREAM_NAME_CHARS);
    let name = name.trim_end_matches('_');
    (!name.is_empty()).then(|| name.to_owned())
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::convert::payload::RecordRules;
    use crate::convert::visit::parse_payload;

    #[test]
    fn route_values_are_normalised_to_table_names() {
        let n = |s: &str| normalise(s);
        assert_eq!(n("orders/create").as_deref(), Some("orders_create"));
        assert_eq!(
            n("customer.subscription.updated").as_deref(),
            Some("customer_subscription_updated")
        );
        assert_eq!(n("Pull-Request").as_deref(), Some("pull_request"));
        assert_eq!(n("  --Push!! ").as_deref(), Some("push"));
        assert_eq!(n("2fa.enabled").as_deref(), Some("_2fa_enabled"));
        assert_eq!(n("__a__b__").as_deref(), Some("a__b"));
        assert_eq!(n("Éclair ünïcode").as_deref(), Some("clair_n_code"));
        assert_eq!(n("!!!"), None);
        assert_eq!(n(""), None);
        let long = n(&"x".repeat(500)).unwrap();
        assert_eq!(long.len(), 63);
        assert_eq!(n(&format!("{}-y", "a".repeat(62))).unwrap().len(), 62);
    }

    #[test]
    fn a_route_field_may_be_a_dotted_path_below_the_top_level() {
        let body = br#"[{"event":{"type":"charge:confirmed"}},{"items":[{"item":{"code":"AUTHORISATION"}}]},{"event":{"type":{"x":1}}},{"event.type":"literal"},{"event":7}]"#;
        let p = parse_payload(body, &RecordRules::default()).unwrap();
        let route = |path: &str| StreamSettings {
            route: Some(Route::Field(path.into())),
            ..Default::default()
        };
        let by_event = route("event.type");
        let got: Vec<Option<String>> = p.records.iter().map(|r| by_event.route(&[], r)).collect();
        // A top-level field of that very name wins over the path.
        let want = [Some("charge_confirmed"), None, None, Some("literal"), None];
        assert_eq!(got, want.map(|w| w.map(String::from)));
        let by_item = route("items.0.item.code");
        assert_eq!(
            by_item.route(&[], &p.records[1]),
            Some("authorisation".into())
        );
        assert_eq!(route("items.1.item.code").route(&[], &p.records[1]), None);
    }

    #[test]
    fn routes_come_from_header_field_or_path() {
        let body = br#"[{"type":"invoice.paid"},{"type":7},{"type":{"a":1}},{"x":1}]"#;
        let p = parse_payload(body, &RecordRules::default()).unwrap();
        let by_field = StreamSettings {
            route: Some(Route::Field("type".into())),
            ..Default::default()
        };
        let got: Vec<Option<String>> = p.records.iter().map(|r| by_field.route(&[], r)).collect();
        assert_eq!(
            got,
            [Some("invoice_paid".into()), Some("_7".into()), None, None]
        );
        let headers = vec![
            Header {
                name: "x-github-event".into(),
                value: Bytes::from_static(b"pull_request"),
            },
            Header {
                name: PATH_NAME.into(),
                value: Bytes::from_static(b"Orders"),
            },
        ];
        let by_header = StreamSettings {
            route: Some(Route::Header("x-github-event".into())),
            ..Default::default()
        };
        assert_eq!(
            by_header.route(&headers, &p.records[0]).as_deref(),
            Some("pull_request")
        );
        let by_path = StreamSettings {
            route: Some(Route::Path),
            ..Default::default()
        };
        assert_eq!(
            by_path.route(&headers, &p.records[0]).as_deref(),
            Some("orders")
        );
        assert_eq!(by_path.route(&[], &p.records[0]), None);
    }

    #[test]
    fn stream_keys_fall_back_to_the_top_level_ones() {
        let mut s = StreamSettings {
            primary_key: vec!["id".into()],
            ..Default::default()
        };
        s.overrides.insert(
            "push".into(),
            StreamOverride {
                primary_key: Some(vec!["after".into()]),
                append_only: Some(true),
            },
        );
        assert_eq!(
            s.keys("push"),
            StreamKeys {
                primary_key: vec!["after".into()],
                generated_key: true
            }
        );
        assert_eq!(
            s.keys("issues"),
            StreamKeys {
                primary_key: vec!["id".into()],
                generated_key: false
            }
        );
    }
}
