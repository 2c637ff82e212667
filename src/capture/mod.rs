//! Request metadata kept with a webhook: which headers are journaled with it, which are
//! captured into its records (`capture_headers`, `capture_query`), and which never are.
//!
//! The receiver journals every request's headers ([`journal_headers`]), bounded, with the
//! credentials among them redacted ([`secrets`]), plus two pseudo-headers: [`PATH_NAME`] (the
//! `<name>` of `POST /webhooks/<token>/<name>`) and [`QUERY`] (the query string). Routing and
//! capture are applied when records are emitted, so `replay --journal` under a new
//! `capture_headers` re-extracts all of history; the credential policy is applied again there.

use std::borrow::Cow;
use std::collections::BTreeMap;

use bytes::Bytes;
use http::HeaderMap;

mod names;
pub mod secrets;

pub use names::{Header, header_name};
use secrets::{Secrets, Token, is_credential_value, is_placeholder, is_secret_name};

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

/// Header names or globs (`capture_headers`), lower case, and the credential policy they are
/// applied under: a header named exactly (not by a glob) is kept on purpose.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HeaderPatterns {
    patterns: Vec<String>,
    secrets: Secrets,
}

impl HeaderPatterns {
    pub fn new(patterns: Vec<String>) -> Self {
        let patterns: Vec<String> = patterns
            .into_iter()
            .map(|p| p.to_ascii_lowercase())
            .collect();
        let mut secrets = Secrets::default();
        for exact in patterns.iter().filter(|p| !p.contains('*')) {
            secrets.keep(exact);
        }
        HeaderPatterns { patterns, secrets }
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// The credential policy of the config.
    pub fn secrets(&self) -> &Secrets {
        &self.secrets
    }

    pub fn secrets_mut(&mut self) -> &mut Secrets {
        &mut self.secrets
    }

    /// Whether the header `name` (lower case) is captured (a credential redacted).
    pub fn matches(&self, name: &str) -> bool {
        !name.starts_with(':')
            && self
                .patterns
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

/// What a request shows of itself, for [`journal_headers`].
pub struct Metadata<'r> {
    pub headers: &'r HeaderMap,
    /// The idempotency header, which the caller journals itself under its configured name.
    pub journaled: Option<&'r str>,
    /// The token presented (in the path or `Authorization`).
    pub token: Option<&'r str>,
    pub path_name: Option<&'r str>,
    pub query: Option<&'r str>,
}

/// Appends to `out` the headers of a request kept in its journal entry: every header but
/// `journaled`, in order, within [`MAX_JOURNALED_HEADERS`] and [`MAX_JOURNALED_HEADER_BYTES`],
/// a credential's value (and any holding the token) replaced by its placeholder. Then the path
/// name and query pseudo-headers. The values share one buffer (this runs for every request).
pub fn journal_headers(out: &mut Vec<Header>, request: &Metadata<'_>, secrets: &Secrets) {
    let headers = request.headers;
    let token = request.token.and_then(Token::new);
    let query = request
        .query
        .filter(|q| !q.is_empty())
        .map(|q| journal_query(q, token.as_ref()))
        .filter(|q| q.len() <= MAX_HEADER_VALUE_BYTES);
    let path_name = request.path_name;
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
    let mut keep = |out: &mut Vec<Header>, name: Cow<'static, str>, value: Shown<'_>| {
        match value {
            Shown::Value(value) => values.extend_from_slice(value),
            Shown::Redacted(len) => secrets::push_placeholder(&mut values, len),
        }
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
        if request.journaled == Some(name) {
            continue;
        }
        let journal_name = header_name(name.as_bytes());
        // A name senders send on most requests (borrowed) is no credential's: only its value
        // is looked at.
        let by_shape = match journal_name {
            Cow::Borrowed(_) => secrets.redacts_value(name, value),
            Cow::Owned(_) => secrets.redacts(name, value),
        };
        let shown = match by_shape || token.as_ref().is_some_and(|t| t.is_in(value)) {
            true => Shown::Redacted(value.len()),
            false if value.len() > MAX_HEADER_VALUE_BYTES => continue,
            false => Shown::Value(value),
        };
        let size = name.len() + shown.len();
        if out.len() - first >= MAX_JOURNALED_HEADERS || bytes + size > MAX_JOURNALED_HEADER_BYTES {
            continue;
        }
        bytes += size;
        keep(out, journal_name, shown);
    }
    if let Some(name) = path_name {
        keep(out, Cow::Borrowed(PATH_NAME), Shown::Value(name.as_bytes()));
    }
    if let Some(query) = query {
        keep(out, Cow::Borrowed(QUERY), Shown::Value(query.as_bytes()));
    }
    let values = Bytes::from(values);
    let mut start = 0;
    for (header, &end) in out[first..].iter_mut().zip(&ends) {
        header.value = values.slice(start..end);
        start = end;
    }
}

/// A header value as journaled.
enum Shown<'v> {
    Value(&'v [u8]),
    /// A credential of this many bytes: its placeholder.
    Redacted(usize),
}

impl Shown<'_> {
    fn len(&self) -> usize {
        match self {
            Shown::Value(v) => v.len(),
            Shown::Redacted(_) => "<redacted: 00000 bytes>".len(),
        }
    }
}

/// The query string as journaled: a parameter whose name or value is a credential, or whose
/// value holds the token, has its value replaced by the placeholder.
fn journal_query<'q>(query: &'q str, token: Option<&Token<'_>>) -> Cow<'q, str> {
    let secret = |pair: &str| {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decoded = |text: &str| {
            form_urlencoded::parse(text.as_bytes())
                .next()
                .map(|(name, _)| name.into_owned())
                .unwrap_or_default()
        };
        let shown = decoded(value);
        token.is_some_and(|t| t.is_in(pair.as_bytes()))
            || is_secret_name(&decoded(name))
            || is_credential_value(shown.as_bytes())
    };
    if !query.split('&').any(secret) {
        return Cow::Borrowed(query);
    }
    let mut out = form_urlencoded::Serializer::new(String::new());
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = form_urlencoded::parse(pair.as_bytes())
            .next()
            .unwrap_or_default();
        match secret(pair) {
            true => out.append_pair(&name, &secrets::placeholder(value.len())),
            false => out.append_pair(&name, &value),
        };
    }
    Cow::Owned(out.finish())
}

/// `_sdc_headers`: the captured headers as a JSON object (names lower case, values strings, a
/// repeated header an array of them, a credential its placeholder), or `None` when none is
/// captured.
pub fn captured_headers(headers: &[Header], patterns: &HeaderPatterns) -> Option<String> {
    let mut grouped: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for header in headers {
        if patterns.matches(&header.name) {
            let value = &header.value;
            let shown =
                match !is_placeholder(value) && patterns.secrets.redacts(&header.name, value) {
                    true => secrets::placeholder(value.len()),
                    false => String::from_utf8_lossy(value).into_owned(),
                };
            grouped.entry(&header.name).or_default().push(shown);
        }
    }
    (!grouped.is_empty()).then(|| object_json(grouped))
}

/// `_sdc_query`: the query parameters as a JSON object (a credential its placeholder), or
/// `None` when there are none.
pub fn captured_query(headers: &[Header]) -> Option<String> {
    let query = headers.iter().find(|h| h.name == QUERY)?;
    let mut grouped: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in form_urlencoded::parse(&query.value) {
        let secret = !is_placeholder(value.as_bytes())
            && (is_secret_name(&name) || is_credential_value(value.as_bytes()));
        let shown = match secret {
            true => secrets::placeholder(value.len()),
            false => value.into_owned(),
        };
        grouped.entry(name.into_owned()).or_default().push(shown);
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
    fn globs_match_header_names_and_exact_names_are_kept_on_purpose() {
        let p = HeaderPatterns::new(vec!["X-GitHub-*".into(), "user-agent".into()]);
        assert!(p.matches("x-github-event"));
        assert!(p.matches("user-agent"));
        assert!(!p.matches("x-hub-signature"));
        let all = HeaderPatterns::new(vec!["*".into(), "X-Api-Key".into()]);
        assert!(all.matches("x-anything"));
        assert!(!all.matches(PATH_NAME));
        assert!(!all.secrets().redacts("x-api-key", b"k"));
        assert!(all.secrets().redacts("x-other-key", b"k"));
        assert!(glob_match(b"a*b*c", b"axxbyyc"));
        assert!(!glob_match(b"a*b*c", b"axxbyy"));
    }

    fn journaled(map: &HeaderMap, token: &str, query: &str) -> Vec<Header> {
        let mut h = Vec::new();
        let request = Metadata {
            headers: map,
            journaled: None,
            token: Some(token),
            path_name: Some("orders"),
            query: Some(query),
        };
        journal_headers(&mut h, &request, &Secrets::default());
        h
    }

    fn value<'h>(h: &'h [Header], name: &str) -> Option<&'h [u8]> {
        h.iter().find(|h| h.name == name).map(|h| &h.value[..])
    }

    #[test]
    fn journaled_headers_hold_placeholders_for_credentials_and_are_bounded() {
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
        let h = journaled(&map, "tok123", "a=1&token=tok123&b=2&api_key=k1");
        assert_eq!(value(&h, "x-github-event"), Some(&b"push"[..]));
        for (name, len) in [
            ("authorization", 13),
            ("cookie", 3),
            ("x-hub-signature-256", 9),
            ("x-gitlab-token", 3),
            ("x-echo", 17),
        ] {
            assert_eq!(
                value(&h, name),
                Some(secrets::placeholder(len).as_bytes()),
                "{name}"
            );
        }
        assert_eq!(value(&h, "x-big"), None);
        assert!(h.len() <= MAX_JOURNALED_HEADERS + 2);
        assert_eq!(
            value(&h, QUERY),
            Some(&b"a=1&token=%3Credacted%3A+6+bytes%3E&b=2&api_key=%3Credacted%3A+2+bytes%3E"[..])
        );
        assert_eq!(
            captured_query(&h).unwrap(),
            r#"{"a":"1","api_key":"<redacted: 2 bytes>","b":"2","token":"<redacted: 6 bytes>"}"#
        );
        assert_eq!(value(&h, PATH_NAME), Some(&b"orders"[..]));
        // A query without credentials is journaled as sent.
        let h = journaled(&HeaderMap::new(), "tok123", "a=1&b=%20x");
        assert_eq!(value(&h, QUERY), Some(&b"a=1&b=%20x"[..]));
    }

    #[test]
    fn captured_headers_are_an_object_with_repeats_as_arrays_and_credentials_redacted() {
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
            // Journaled before the policy, or redacted already.
            h("x-api-key", "k-123"),
            h("authorization", "<redacted: 13 bytes>"),
        ];
        let all = HeaderPatterns::new(vec!["*".into()]);
        assert_eq!(
            captured_headers(&headers, &all).unwrap(),
            r#"{"authorization":"<redacted: 13 bytes>","user-agent":"GitHub-Hookshot/1","x-api-key":"<redacted: 5 bytes>","x-github-event":"push","x-tag":["a","b"]}"#
        );
        let none = HeaderPatterns::new(vec!["x-shopify-*".into()]);
        assert_eq!(captured_headers(&headers, &none), None);
    }
}
