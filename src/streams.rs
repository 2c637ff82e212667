//! Streams and request metadata (DESIGN.md section 6): which stream a record goes to, each
//! stream's keys, and the request headers and query kept with it.
//!
//! Routing is a pure function of the settings, the request's journaled headers and the record
//! ([`StreamSettings::route`]), applied when records are emitted, never when they are received:
//! so `replay --journal` under a new `route` or `capture_headers` re-extracts all of history.
//! For that the receiver journals every request's headers ([`journal_headers`]), bounded and
//! without the secret ones, plus two pseudo-headers: [`PATH_NAME`] (the `<name>` of
//! `POST /webhooks/<token>/<name>`) and [`QUERY`] (the query string).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::LazyLock;

use aho_corasick::AhoCorasick;
use bytes::Bytes;
use http::HeaderMap;

use crate::journal::{self, Header};
use crate::payload::Fields;
use crate::singer::output::write_json_string;

/// Pseudo-header holding the `<name>` of `POST /webhooks/<token>/<name>`.
pub const PATH_NAME: &str = ":path-name";
/// Pseudo-header holding the request's query string (without the token).
pub const QUERY: &str = ":query";

/// Headers never journaled nor captured, whatever `capture_headers` says.
pub const SECRET_HEADERS: [&str; 3] = ["authorization", "proxy-authorization", "cookie"];

/// Parts of header names that mark a credential or a value derived from one (provider
/// signatures, GitLab's `X-Gitlab-Token`, API keys): such headers are never journaled either.
const SECRET_NAME_PARTS: [&str; 7] = [
    "signature",
    "hmac",
    "token",
    "secret",
    "api-key",
    "apikey",
    "password",
];

/// Whether a header (lower-case name) is a credential: never journaled nor captured.
pub fn is_secret_header(name: &str) -> bool {
    // One automaton for all the parts (this runs for every header of every request).
    static PARTS: LazyLock<AhoCorasick> =
        LazyLock::new(|| AhoCorasick::new(SECRET_NAME_PARTS).expect("fixed patterns"));
    SECRET_HEADERS.contains(&name) || PARTS.is_match(name)
}

/// At most this many headers of a request are journaled.
pub const MAX_JOURNALED_HEADERS: usize = 64;
/// A header value longer than this is not journaled (never cut: a cut value would mislead).
pub const MAX_HEADER_VALUE_BYTES: usize = 2048;
/// The journaled headers of a request, names and values, take at most this many bytes.
pub const MAX_JOURNALED_HEADER_BYTES: usize = 16 << 10;
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

/// Header names or globs (`capture_headers`), lower case.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HeaderPatterns(Vec<String>);

impl HeaderPatterns {
    pub fn new(patterns: Vec<String>) -> Self {
        HeaderPatterns(
            patterns
                .into_iter()
                .map(|p| p.to_ascii_lowercase())
                .collect(),
        )
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether the header `name` (lower case) is captured. Secret headers never are.
    pub fn matches(&self, name: &str) -> bool {
        !name.starts_with(':')
            && !SECRET_HEADERS.contains(&name)
            && self
                .0
                .iter()
                .any(|p| glob_match(p.as_bytes(), name.as_bytes()))
    }
}

/// `*` matches any run of characters (none included); everything else itself.
fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
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
            Route::Field(name) => normalise(&field_text(record.get(name)?)?),
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

/// Appends to `out` the headers of a request kept in its journal entry: every header but the
/// secret ones and any holding the token, in order, within [`MAX_JOURNALED_HEADERS`] and
/// [`MAX_JOURNALED_HEADER_BYTES`]; not `journaled` (the idempotency header, which the caller
/// journals itself, under its configured name). Then the path name and query pseudo-headers.
/// The values share one buffer (this runs for every request).
pub fn journal_headers(
    out: &mut Vec<Header>,
    headers: &HeaderMap,
    journaled: Option<&str>,
    token: Option<&str>,
    path_name: Option<&str>,
    query: Option<&str>,
) {
    // Built only for a value long enough to hold the token (building it costs more than the
    // search, and the headers senders send on every request are short).
    let token = token.filter(|t| !t.is_empty());
    let finder = std::cell::OnceCell::new();
    let holds_token = |value: &[u8]| {
        token.is_some_and(|t| {
            value.len() >= t.len()
                && finder
                    .get_or_init(|| memchr::memmem::Finder::new(t.as_bytes()))
                    .find(value)
                    .is_some()
        })
    };
    let query = query
        .filter(|q| !q.is_empty())
        .map(|q| without_token(q, token))
        .filter(|q| !q.is_empty() && q.len() <= MAX_HEADER_VALUE_BYTES);
    let mut values = Vec::with_capacity(
        headers.values().map(|v| v.len()).sum::<usize>()
            + path_name.map_or(0, str::len)
            + query.as_ref().map_or(0, |q| q.len()),
    );
    // The headers go into `out` with empty values, and where each value ends in `values`
    // here; then every value becomes a slice of that one buffer.
    let first = out.len();
    out.reserve(headers.len().min(MAX_JOURNALED_HEADERS) + 2);
    let mut ends = [0usize; MAX_JOURNALED_HEADERS + 2];
    let mut keep = |out: &mut Vec<Header>, name: Cow<'static, str>, value: &[u8]| {
        values.extend_from_slice(value);
        ends[out.len() - first] = values.len();
        out.push(Header {
            name,
            value: Bytes::new(),
        });
    };
    let mut bytes = 0usize;
    for (name, value) in headers {
        let name = name.as_str();
        let value = value.as_bytes();
        if journaled == Some(name) || is_secret_header(name) || holds_token(value) {
            continue;
        }
        let size = name.len() + value.len();
        if value.len() > MAX_HEADER_VALUE_BYTES
            || out.len() - first >= MAX_JOURNALED_HEADERS
            || bytes + size > MAX_JOURNALED_HEADER_BYTES
        {
            continue;
        }
        bytes += size;
        keep(out, journal::header_name(name.as_bytes()), value);
    }
    if let Some(name) = path_name {
        keep(out, Cow::Borrowed(PATH_NAME), name.as_bytes());
    }
    if let Some(query) = query {
        keep(out, Cow::Borrowed(QUERY), query.as_bytes());
    }
    let values = Bytes::from(values);
    let mut start = 0;
    for (header, &end) in out[first..].iter_mut().zip(&ends) {
        header.value = values.slice(start..end);
        start = end;
    }
}

/// The query string without parameters whose value is the token.
fn without_token<'q>(query: &'q str, token: Option<&str>) -> Cow<'q, str> {
    let Some(token) = token.filter(|t| !t.is_empty() && query.contains(*t)) else {
        return Cow::Borrowed(query);
    };
    Cow::Owned(
        query
            .split('&')
            .filter(|pair| {
                let value = pair.split_once('=').map_or("", |(_, v)| v);
                !value.contains(token) && !pair.contains(token)
            })
            .collect::<Vec<_>>()
            .join("&"),
    )
}

/// `_sdc_headers`: the captured headers as a JSON object (names lower case, values strings, a
/// repeated header an array of them), or `None` when none is captured.
pub fn captured_headers(headers: &[Header], patterns: &HeaderPatterns) -> Option<String> {
    let mut grouped: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for header in headers {
        if patterns.matches(&header.name) {
            grouped
                .entry(&header.name)
                .or_default()
                .push(String::from_utf8_lossy(&header.value).into_owned());
        }
    }
    (!grouped.is_empty()).then(|| object_json(grouped))
}

/// `_sdc_query`: the query parameters as a JSON object, or `None` when there are none.
pub fn captured_query(headers: &[Header]) -> Option<String> {
    let query = headers.iter().find(|h| h.name == QUERY)?;
    let mut grouped: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in form_urlencoded::parse(&query.value) {
        grouped
            .entry(name.into_owned())
            .or_default()
            .push(value.into_owned());
    }
    (!grouped.is_empty()).then(|| object_json(grouped))
}

/// `{"name": "value", "repeated": ["a", "b"]}`.
fn object_json<K: AsRef<str>>(grouped: BTreeMap<K, Vec<String>>) -> String {
    let mut out = Vec::with_capacity(64);
    out.push(b'{');
    for (i, (name, values)) in grouped.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_json_string(&mut out, name.as_ref());
        out.push(b':');
        match values.as_slice() {
            [one] => write_json_string(&mut out, one),
            many => {
                out.push(b'[');
                for (j, v) in many.iter().enumerate() {
                    if j > 0 {
                        out.push(b',');
                    }
                    write_json_string(&mut out, v);
                }
                out.push(b']');
            }
        }
    }
    out.push(b'}');
    String::from_utf8(out).expect("JSON built from strings is UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::{RecordRules, parse_payload};

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
    fn globs_match_header_names_but_never_secrets() {
        let p = HeaderPatterns::new(vec!["X-GitHub-*".into(), "user-agent".into()]);
        assert!(p.matches("x-github-event"));
        assert!(p.matches("user-agent"));
        assert!(!p.matches("x-hub-signature"));
        let all = HeaderPatterns::new(vec!["*".into()]);
        assert!(all.matches("x-anything"));
        for secret in SECRET_HEADERS {
            assert!(!all.matches(secret));
        }
        assert!(!all.matches(PATH_NAME));
        assert!(glob_match(b"a*b*c", b"axxbyyc"));
        assert!(!glob_match(b"a*b*c", b"axxbyy"));
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
    fn journaled_headers_leave_out_secrets_and_the_token_and_are_bounded() {
        let mut map = HeaderMap::new();
        map.insert("authorization", "Bearer tok123".parse().unwrap());
        map.insert("cookie", "a=b".parse().unwrap());
        map.insert("x-github-event", "push".parse().unwrap());
        map.insert("x-hub-signature-256", "sha256=ab".parse().unwrap());
        map.insert("x-gitlab-token", "glt".parse().unwrap());
        map.insert("x-echo", "has tok123 inside".parse().unwrap());
        map.insert("x-big", "v".repeat(5000).parse().unwrap());
        for i in 0..200 {
            map.append(
                http::HeaderName::from_bytes(format!("x-h{i}").as_bytes()).unwrap(),
                "1".parse().unwrap(),
            );
        }
        let mut h = Vec::new();
        journal_headers(
            &mut h,
            &map,
            None,
            Some("tok123"),
            Some("orders"),
            Some("a=1&token=tok123&b=2"),
        );
        let names: Vec<&str> = h.iter().map(|h| h.name.as_ref()).collect();
        assert!(names.contains(&"x-github-event"));
        for gone in [
            "authorization",
            "cookie",
            "x-echo",
            "x-big",
            "x-hub-signature-256",
            "x-gitlab-token",
        ] {
            assert!(!names.contains(&gone), "{gone}");
        }
        assert!(h.len() <= MAX_JOURNALED_HEADERS + 2);
        let query = h.iter().find(|h| h.name == QUERY).unwrap();
        assert_eq!(&query.value[..], b"a=1&b=2");
        assert_eq!(
            captured_query(&h).unwrap(),
            r#"{"a":"1","b":"2"}"#.to_owned()
        );
        assert_eq!(
            h.iter().find(|h| h.name == PATH_NAME).unwrap().value,
            "orders"
        );
    }

    #[test]
    fn captured_headers_are_an_object_with_repeats_as_arrays() {
        let h = |n: &'static str, v: &str| Header {
            name: n.into(),
            value: Bytes::copy_from_slice(v.as_bytes()),
        };
        let headers = vec![
            h("x-github-event", "push"),
            h("x-tag", "a"),
            h("x-tag", "b"),
            h("user-agent", "GitHub-Hookshot/1"),
            h(PATH_NAME, "x"),
        ];
        let all = HeaderPatterns::new(vec!["*".into()]);
        assert_eq!(
            captured_headers(&headers, &all).unwrap(),
            r#"{"user-agent":"GitHub-Hookshot/1","x-github-event":"push","x-tag":["a","b"]}"#
        );
        let none = HeaderPatterns::new(vec!["x-shopify-*".into()]);
        assert_eq!(captured_headers(&headers, &none), None);
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
