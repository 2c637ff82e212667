//! Request metadata kept with a webhook: which headers are journaled with it, which are
//! captured into its records (`capture_headers`, `capture_query`), and which never are.
//!
//! The receiver journals every request's headers ([`journal_headers`]), bounded and without
//! the secret ones ([`secrets`]), plus two pseudo-headers: [`PATH_NAME`] (the `<name>` of
//! `POST /webhooks/<token>/<name>`) and [`QUERY`] (the query string). Routing and capture are
//! applied when records are emitted, so `replay --journal` under a new `capture_headers`
//! re-extracts all of history.

use std::borrow::Cow;
use std::collections::BTreeMap;

use bytes::Bytes;
use http::HeaderMap;

mod names;
pub mod secrets;

pub use names::{Header, header_name};
use secrets::{SECRET_HEADERS, is_secret_header};

/// Pseudo-header holding the `<name>` of `POST /webhooks/<token>/<name>`.
pub const PATH_NAME: &str = ":path-name";
/// Pseudo-header holding the request's query string (without the token).
pub const QUERY: &str = ":query";

/// At most this many headers of a request are journaled.
pub const MAX_JOURNALED_HEADERS: usize = 64;
/// A header value longer than this is not journaled (never cut: a cut value would mislead).
pub const MAX_HEADER_VALUE_BYTES: usize = 2048;
/// The journaled headers of a request, names and values, take at most this many bytes.
pub const MAX_JOURNALED_HEADER_BYTES: usize = 16 << 10;

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
        keep(out, header_name(name.as_bytes()), value);
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

/// A JSON string, escaped as serde_json escapes it.
fn write_json_string(out: &mut Vec<u8>, s: &str) {
    serde_json::to_writer(out, s).expect("writing to a Vec cannot fail");
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
}
