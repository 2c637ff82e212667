//! The settings of the operations listener's inspector: `ops_token` and `inspect_bodies`.

/// `ops_token` and `inspect_bodies`.
#[derive(Clone, Debug)]
pub struct InspectorSettings {
    pub ops_token: Option<OpsToken>,
    pub inspect_bodies: bool,
}

impl Default for InspectorSettings {
    fn default() -> Self {
        InspectorSettings {
            ops_token: None,
            inspect_bodies: true,
        }
    }
}

/// The `ops_token`, kept as its SHA-256 only; [`OpsToken::refusal`] (in the HTTP room) answers
/// a request without it.
#[derive(Clone)]
pub struct OpsToken([u8; 32]);

impl OpsToken {
    pub fn new(token: &str) -> Self {
        use sha2::{Digest, Sha256};
        OpsToken(Sha256::digest(token.as_bytes()).into())
    }

    /// Whether `presented` is the token (digests compared in constant time).
    pub fn accepts(&self, presented: &str) -> bool {
        use sha2::{Digest, Sha256};
        use subtle::ConstantTimeEq;
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        digest.ct_eq(&self.0).into()
    }
}

impl std::fmt::Debug for OpsToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OpsToken(<redacted>)")
    }
}
