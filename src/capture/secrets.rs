//! What is a credential: never journaled, captured, recorded or shown.

use std::sync::LazyLock;

use aho_corasick::AhoCorasick;

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
