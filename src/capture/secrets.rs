//! The credential policy: what request metadata is a credential, never journaled, captured,
//! recorded in `_rejections` or logged as it was sent.
//!
//! - By name, word by word (`X-Api-Key`, `apiKey`, `x-auth-token`, `x-session-id`, but not
//!   `keep-alive` or `x-github-hook-installation-target-id`): [`is_secret_name`].
//! - By value: `Bearer …`, `Basic …`, a JWT ([`is_credential_value`]), and the webhook token
//!   the request presented, in any case or percent-encoding ([`Token`]).
//! - The configured signature header (`signature.header`), whatever its name.
//!
//! A credential is shown as [`placeholder`] (`<redacted: N bytes>`) where capture was asked
//! for, never its value. A header named exactly (not by a glob) in `capture_headers` is the
//! user's choice and kept ([`Secrets::keep`]); the token never is.
//!
//! This runs for every header of every request: a name is one automaton scan, a value a few
//! byte comparisons; only a value long enough to hold the token is looked at more closely.

use std::borrow::Cow;
use std::ops::Range;
use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, AhoCorasickKind};
use memchr::memmem;

/// Where in a name a word marks a credential.
#[derive(Clone, Copy)]
enum At {
    /// Anywhere: the word is unusual enough (`x-csrftoken`, `sessionid`).
    Anywhere,
    /// At the end of a word (`x-api-key`, `apikey`, `apiKey`, `keys`; not `keyboard`).
    WordEnd,
}

/// The words of credential names.
const NAME_WORDS: [(&str, At); 20] = [
    ("authorization", At::Anywhere),
    ("authentication", At::Anywhere),
    ("cookie", At::Anywhere),
    ("token", At::Anywhere),
    ("secret", At::Anywhere),
    ("password", At::Anywhere),
    ("passwd", At::Anywhere),
    ("signature", At::Anywhere),
    ("credential", At::Anywhere),
    ("session", At::Anywhere),
    ("bearer", At::Anywhere),
    ("hmac", At::Anywhere),
    ("jwt", At::Anywhere),
    ("csrf", At::Anywhere),
    ("xsrf", At::Anywhere),
    ("key", At::WordEnd),
    ("sig", At::WordEnd),
    ("auth", At::WordEnd),
    ("otp", At::WordEnd),
    ("pwd", At::WordEnd),
];

/// Names that hold one of the words but are data senders send: delivery ids and event names.
const DATA_NAMES: [&str; 3] = ["idempotency-key", "x-idempotency-key", "x-event-key"];

/// Whether a header or query parameter name is a credential's (any case).
pub fn is_secret_name(name: &str) -> bool {
    // One automaton for all the words (this runs for every header of every request).
    static WORDS: LazyLock<AhoCorasick> = LazyLock::new(|| {
        // A DFA: a few instructions a byte, with the short names headers have.
        AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .kind(Some(AhoCorasickKind::DFA))
            .build(NAME_WORDS.map(|(word, _)| word))
            .expect("fixed patterns")
    });
    let bytes = name.as_bytes();
    // Most names hold none of the words: one quick scan says so.
    if !WORDS.is_match(bytes) {
        return false;
    }
    let secret =
        WORDS
            .find_overlapping_iter(bytes)
            .any(|m| match NAME_WORDS[m.pattern().as_usize()].1 {
                At::Anywhere => true,
                At::WordEnd => ends_word(bytes, m.end()),
            });
    secret && !DATA_NAMES.iter().any(|d| d.eq_ignore_ascii_case(name))
}

/// Whether a word of `name` ends at `end`: the name ends, or a separator, a digit or an upper
/// case letter after a lower case one follows (`apiKey2`, `apiKeyId`); a plural `s` may come
/// first.
fn ends_word(name: &[u8], end: usize) -> bool {
    let boundary = |at: usize| match name.get(at) {
        None => true,
        Some(b) if !b.is_ascii_alphabetic() => true,
        Some(b) => b.is_ascii_uppercase() && name[at - 1].is_ascii_lowercase(),
    };
    boundary(end) || (matches!(name.get(end), Some(b's' | b'S')) && boundary(end + 1))
}

/// Whether a value is a credential by its shape: `Bearer …`, `Basic …`, or one holding a JWT.
pub fn is_credential_value(value: &[u8]) -> bool {
    let starts = |prefix: &[u8]| {
        value.len() > prefix.len() && value[..prefix.len()].eq_ignore_ascii_case(prefix)
    };
    starts(b"bearer ") || starts(b"basic ") || first_jwt(value, 0).is_some()
}

/// The shortest JWT taken for one: `eyJ…` (a JSON header in base64url), a payload and a
/// signature, dot-separated.
const MIN_JWT_BYTES: usize = 24;

/// Where the first JWT at or after `from` is in `text`.
fn first_jwt(text: &[u8], from: usize) -> Option<Range<usize>> {
    static START: LazyLock<memmem::Finder<'static>> = LazyLock::new(|| memmem::Finder::new("eyJ"));
    if text.len() < from + MIN_JWT_BYTES {
        return None;
    }
    let mut at = from;
    while let Some(found) = START.find(&text[at..]) {
        let start = at + found;
        let end = jwt_end(text, start);
        if let Some(end) = end.filter(|end| end - start >= MIN_JWT_BYTES) {
            return Some(start..end);
        }
        at = start + 3;
    }
    None
}

/// The end of a JWT starting at `start` (three base64url parts, the last possibly empty).
fn jwt_end(text: &[u8], start: usize) -> Option<usize> {
    let part = |from: usize| {
        from + text[from..]
            .iter()
            .take_while(|&&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            .count()
    };
    let header = part(start);
    if text.get(header) != Some(&b'.') {
        return None;
    }
    let payload = part(header + 1);
    if payload == header + 1 || text.get(payload) != Some(&b'.') {
        return None;
    }
    Some(part(payload + 1))
}

/// What a credential is shown as: its length, never its value.
pub fn placeholder(len: usize) -> String {
    format!("<redacted: {len} bytes>")
}

/// Appends [`placeholder`] to `out`.
pub fn push_placeholder(out: &mut Vec<u8>, len: usize) {
    out.extend_from_slice(b"<redacted: ");
    out.extend_from_slice(itoa::Buffer::new().format(len).as_bytes());
    out.extend_from_slice(b" bytes>");
}

/// Whether a value is a [`placeholder`] already (read back from the journal).
pub fn is_placeholder(value: &[u8]) -> bool {
    value.starts_with(b"<redacted: ") && value.ends_with(b" bytes>")
}

/// The credential policy of a config: the rules above, plus the headers kept on purpose and
/// the configured signature header.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Secrets {
    /// Header names kept on purpose (lower case): named exactly in `capture_headers`, or the
    /// `route` header.
    kept: Vec<String>,
    /// The configured signature header (lower case).
    signature_header: Option<String>,
}

impl Secrets {
    /// The policy alone: nothing kept on purpose, no signature header of its own.
    pub const fn new() -> Self {
        Secrets {
            kept: Vec::new(),
            signature_header: None,
        }
    }

    /// Keeps the header `name` (any case) as sent: the user named it.
    pub fn keep(&mut self, name: &str) {
        let name = name.to_ascii_lowercase();
        if !self.kept.contains(&name) {
            self.kept.push(name);
        }
    }

    /// Treats the header `name` (any case) as a credential: it carries a signature.
    pub fn set_signature_header(&mut self, name: &str) {
        self.signature_header = Some(name.to_ascii_lowercase());
    }

    /// The headers kept on purpose that would otherwise be credentials (for a warning).
    pub fn kept_credentials(&self) -> impl Iterator<Item = &str> {
        self.kept
            .iter()
            .map(String::as_str)
            .filter(|name| self.signature_header.as_deref() == Some(name) || is_secret_name(name))
    }

    fn is_kept(&self, name: &str) -> bool {
        !self.kept.is_empty() && self.kept.iter().any(|k| k == name)
    }

    /// Whether the header `name` (lower case) with `value` is shown redacted: a credential by
    /// its name or its value's shape, unless kept on purpose. (The token is looked for apart:
    /// [`Token`].)
    pub fn redacts(&self, name: &str, value: &[u8]) -> bool {
        self.redacts_value(name, value) || (is_secret_name(name) && !self.is_kept(name))
    }

    /// [`redacts`](Secrets::redacts) for a name known to be no credential's (one senders send
    /// on most requests): the signature header, or a credential by its value's shape.
    pub fn redacts_value(&self, name: &str, value: &[u8]) -> bool {
        (self.signature_header.as_deref() == Some(name) || is_credential_value(value))
            && !self.is_kept(name)
    }
}

/// The webhook token a request presented, found in values in any case or percent-encoding.
#[derive(Clone, Debug)]
pub struct Token<'t> {
    /// In lower case.
    text: Cow<'t, str>,
    /// All hex digits, as the tap's tokens are.
    hex: bool,
}

impl<'t> Token<'t> {
    /// `None` for an empty token.
    pub fn new(text: &'t str) -> Option<Self> {
        (!text.is_empty()).then(|| Token {
            text: match text.bytes().any(|b| b.is_ascii_uppercase()) {
                true => Cow::Owned(text.to_ascii_lowercase()),
                false => Cow::Borrowed(text),
            },
            hex: text.bytes().all(|b| b.is_ascii_hexdigit()),
        })
    }

    /// Whether `value` holds the token.
    pub fn is_in(&self, value: &[u8]) -> bool {
        if value.len() < self.text.len() {
            return false;
        }
        match self.hex {
            true => hex_runs(value, self.text.len()).any(|run| self.in_run(&value[run])),
            false => self.in_normalised(value),
        }
    }

    /// Whether a run of hex digits and `%` holds the (hex) token.
    fn in_run(&self, run: &[u8]) -> bool {
        match run.iter().any(|b| *b == b'%' || b.is_ascii_uppercase()) {
            false => memmem::find(run, self.text.as_bytes()).is_some(),
            true => self.in_normalised(run),
        }
    }

    /// Where `text` holds the token: for a hex token, each run of hex digits and `%` holding it
    /// (its case and encoding can only stay within such a run); for another, its copies in any
    /// case, or all the text when it holds one percent-encoded.
    fn spans(&self, text: &[u8]) -> Vec<Range<usize>> {
        if self.hex {
            return hex_runs(text, self.text.len())
                .filter(|run| self.in_run(&text[run.clone()]))
                .collect();
        }
        let lower = text.to_ascii_lowercase();
        let needle = self.text.as_bytes();
        let copies: Vec<Range<usize>> = memmem::find_iter(&lower, needle)
            .map(|at| at..at + needle.len())
            .collect();
        if copies.is_empty() && self.in_normalised(text) {
            return std::iter::once(0..text.len()).collect();
        }
        copies
    }

    /// Whether `text`, percent-decoded (up to three times) and in lower case, holds the token.
    fn in_normalised(&self, text: &[u8]) -> bool {
        let needle = self.text.as_bytes();
        let mut decoded: Vec<u8> = text.to_ascii_lowercase();
        for _ in 0..3 {
            if memmem::find(&decoded, needle).is_some() {
                return true;
            }
            if !decoded.contains(&b'%') {
                return false;
            }
            decoded = percent_encoding::percent_decode(&decoded)
                .collect::<Vec<u8>>()
                .to_ascii_lowercase();
        }
        memmem::find(&decoded, needle).is_some()
    }
}

/// The runs of hex digits and `%` in `text` at least `min` bytes long.
fn hex_runs(text: &[u8], min: usize) -> impl Iterator<Item = Range<usize>> + '_ {
    let mut at = 0;
    std::iter::from_fn(move || {
        while at < text.len() {
            let start = at + text[at..].iter().position(|b| is_hex_or_percent(*b))?;
            let len = text[start..]
                .iter()
                .take_while(|b| is_hex_or_percent(**b))
                .count();
            at = start + len;
            if len >= min {
                return Some(start..at);
            }
        }
        None
    })
}

fn is_hex_or_percent(b: u8) -> bool {
    b.is_ascii_hexdigit() || b == b'%'
}

/// Free text from a request (a refused body's start, a refusal reason, a log line) with its
/// credentials replaced: the token by `<token>`, a `Bearer`/`Basic` credential and a JWT by
/// [`placeholder`].
pub fn redact_text<'a>(text: &'a str, token: Option<&Token<'_>>) -> Cow<'a, str> {
    let bytes = text.as_bytes();
    let mut spans: Vec<(Range<usize>, bool)> = Vec::new();
    if let Some(token) = token.filter(|t| bytes.len() >= t.text.len()) {
        spans.extend(token.spans(bytes).into_iter().map(|span| (span, true)));
    }
    spans.extend(scheme_credentials(bytes).map(|span| (span, false)));
    let mut from = 0;
    while let Some(jwt) = first_jwt(bytes, from) {
        from = jwt.end;
        spans.push((jwt, false));
    }
    if spans.is_empty() {
        return Cow::Borrowed(text);
    }
    spans.sort_by_key(|(span, _)| (span.start, std::cmp::Reverse(span.end)));
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (span, is_token) in spans {
        if span.start < at {
            continue;
        }
        // Spans end at ASCII bytes (or the text's end): the cuts are character boundaries.
        out.push_str(&text[at..span.start]);
        match is_token {
            true => out.push_str("<token>"),
            false => out.push_str(&placeholder(span.len())),
        }
        at = span.end;
    }
    out.push_str(&text[at..]);
    Cow::Owned(out)
}

/// The credentials after `Bearer ` or `Basic ` (any case) in `text`.
fn scheme_credentials(text: &[u8]) -> impl Iterator<Item = Range<usize>> + '_ {
    static SCHEMES: LazyLock<AhoCorasick> = LazyLock::new(|| {
        AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(["bearer ", "basic "])
            .expect("fixed patterns")
    });
    SCHEMES.find_iter(text).filter_map(|m| {
        let len = text[m.end()..]
            .iter()
            .take_while(|&&b| b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b))
            .count();
        (len > 0).then(|| m.end()..m.end() + len)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "6f1c0a9be2d34f5a8c7b1e0d9f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c";

    #[test]
    fn credential_names_are_found_word_by_word_and_data_names_are_not() {
        let secret = [
            "authorization",
            "proxy-authorization",
            "x-forwarded-authorization",
            "cookie",
            "x-api-key",
            "apikey",
            "api_key",
            "apiKey",
            "APIKEY",
            "x-access-key",
            "x-private-key",
            "x-keys",
            "x-credential",
            "x-credentials",
            "x-session-id",
            "sessionid",
            "x-amz-security-token",
            "access_token",
            "accessToken",
            "x-gitlab-token",
            "x-webhook-secret",
            "client_secret",
            "x-auth-token",
            "x-auth",
            "oauth",
            "x-authentication",
            "password",
            "passwd",
            "pwd",
            "x-otp",
            "totp",
            "x-jwt-assertion",
            "x-csrf-token",
            "x-xsrf-token",
            "x-hub-signature-256",
            "stripe-signature",
            "webhook-signature",
            "x-shopify-hmac-sha256",
            "x-sig",
            "sig",
            "x-bearer",
        ];
        for name in secret {
            assert!(is_secret_name(name), "{name} is a credential's name");
        }
        let data = [
            "keep-alive",
            "x-github-hook-installation-target-id",
            "x-github-hook-installation-target-type",
            "x-github-event",
            "x-github-delivery",
            "x-shopify-webhook-id",
            "x-shopify-topic",
            "webhook-id",
            "webhook-timestamp",
            "idempotency-key",
            "x-event-key",
            "user-agent",
            "content-type",
            "x-request-id",
            "x-author",
            "x-keyboard-layout",
            "x-signal",
            "x-design",
            "x-gitlab-event-uuid",
            "x-slack-request-timestamp",
            "x-amz-sns-topic-arn",
            "traceparent",
            "a",
            "",
        ];
        for name in data {
            assert!(!is_secret_name(name), "{name} is data");
        }
    }

    #[test]
    fn credential_values_are_found_by_their_shape() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJlLXBhcnQ";
        for value in [
            "Bearer abc",
            "bearer abc",
            "BASIC dXNlcjpwYXNz",
            jwt,
            &format!("token={jwt}; path=/"),
        ] {
            assert!(is_credential_value(value.as_bytes()), "{value}");
        }
        for value in [
            "GitHub-Hookshot/abc",
            "Bearer",
            "basic",
            "application/json",
            "eyJ",
            "eyJhbGciOiJIUzI1NiJ9 only one part here",
        ] {
            assert!(!is_credential_value(value.as_bytes()), "{value}");
        }
    }

    #[test]
    fn the_token_is_found_in_any_case_and_percent_encoding() {
        let token = Token::new(TOKEN).unwrap();
        let upper = TOKEN.to_ascii_uppercase();
        let encoded: String = TOKEN.bytes().map(|b| format!("%{b:02X}")).collect();
        let twice = encoded.replace('%', "%25");
        for value in [
            TOKEN.to_owned(),
            format!("/webhooks/{upper}?x=1"),
            format!("https://x/webhooks/{encoded}"),
            format!("u={twice}"),
            format!("Bearer {TOKEN}"),
        ] {
            assert!(token.is_in(value.as_bytes()), "{value}");
        }
        assert!(!token.is_in(&TOKEN.as_bytes()[1..]));
        assert!(
            !token.is_in(b"sha256=00112233445566778899aabbccddeeff00112233445566778899aabbccddee")
        );
        let odd = Token::new("Not-Hex-Token").unwrap();
        assert!(odd.is_in(b"x not-hex-token y"));
        assert!(odd.is_in(b"x Not%2DHex%2DToken y"));
        assert!(Token::new("").is_none());
    }

    #[test]
    fn text_keeps_everything_but_its_credentials() {
        let token = Token::new(TOKEN);
        let token = token.as_ref();
        let upper = TOKEN.to_ascii_uppercase();
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJlLXBhcnQ";
        let text = format!(
            "{{\"url\":\"/webhooks/{upper}\",\"auth\":\"Bearer abc.def\",\"id\":\"{jwt}\",\"n\":\"é\"}}"
        );
        let shown = redact_text(&text, token);
        assert_eq!(
            shown,
            format!(
                "{{\"url\":\"/webhooks/<token>\",\"auth\":\"Bearer {}\",\"id\":\"{}\",\"n\":\"é\"}}",
                placeholder(7),
                placeholder(jwt.len())
            )
        );
        assert!(matches!(
            redact_text("nothing to hide here", token),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn kept_headers_are_shown_and_the_signature_header_is_not() {
        let mut secrets = Secrets::default();
        assert!(secrets.redacts("x-api-key", b"k"));
        assert!(secrets.redacts("x-anything", b"Bearer abc"));
        assert!(!secrets.redacts("x-checksum", b"abc"));
        secrets.keep("X-Api-Key");
        secrets.keep("x-github-event");
        secrets.set_signature_header("X-Checksum");
        assert!(!secrets.redacts("x-api-key", b"k"));
        assert!(secrets.redacts("x-checksum", b"abc"));
        assert_eq!(
            secrets.kept_credentials().collect::<Vec<_>>(),
            ["x-api-key"]
        );
        assert_eq!(placeholder(12), "<redacted: 12 bytes>");
        let mut out = Vec::new();
        push_placeholder(&mut out, 12);
        assert!(is_placeholder(&out) && !is_placeholder(b"<redacted"));
    }
}
