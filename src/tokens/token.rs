//! What a token is: its id, its secret, its stored record, and the set a listener checks
//! presented tokens against.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// At most this many tokens are active at once (Stitch's rule): create, switch, revoke.
pub const MAX_ACTIVE_TOKENS: usize = 2;

/// The public name of a token, safe to show and log.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TokenId(String);

impl TokenId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for TokenId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A token's secret value. Never stored, never logged: `Debug` shows nothing of it.
pub struct Token(String);

impl Token {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StoredToken {
    pub id: TokenId,
    /// Hex SHA-256 of the token.
    pub sha256: String,
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub last_used_at: Option<DateTime<Utc>>,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: token store is not valid: {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error(
        "{MAX_ACTIVE_TOKENS} webhook URLs are already active; revoke one first (`tap-webhooks token list`, then `tap-webhooks token revoke ID`)"
    )]
    TooMany,
    #[error("no active token has id {0} (see `tap-webhooks token list`)")]
    UnknownId(String),
    #[error(
        "the token store is read-only: this config accepts the tokens listed in token_sha256; edit that list instead"
    )]
    ReadOnly,
    #[error("cannot get random bytes from the OS: {0}")]
    Random(String),
    /// The shared token store (a NATS key-value bucket) failed.
    #[error("shared token store: {0}")]
    Shared(String),
}

impl TokenError {
    /// True for errors the user fixes by running another command.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            TokenError::TooMany | TokenError::UnknownId(_) | TokenError::ReadOnly
        )
    }
}

/// A new token (256 random bits) and its stored record (its SHA-256, never the token).
pub(super) fn new_token() -> Result<(Token, StoredToken), TokenError> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| TokenError::Random(e.to_string()))?;
    let token = Token(hex::encode(secret));
    let mut id_bytes = [0u8; 4];
    getrandom::fill(&mut id_bytes).map_err(|e| TokenError::Random(e.to_string()))?;
    let stored = StoredToken {
        id: TokenId(format!("tok_{}", hex::encode(id_bytes))),
        sha256: hex::encode(Sha256::digest(token.0.as_bytes())),
        created_at: Utc::now(),
        last_used_at: None,
    };
    Ok((token, stored))
}

/// The tokens a listener accepts, as digests.
#[derive(Clone, Debug, Default)]
pub struct TokenSet {
    entries: Vec<(TokenId, [u8; 32])>,
}

impl TokenSet {
    /// Tokens given by digest in the config (`token_sha256`); ids are `cfg_` and the start of
    /// the digest.
    pub fn from_digests(digests: &[[u8; 32]]) -> Self {
        TokenSet {
            entries: digests
                .iter()
                .map(|d| (TokenId(format!("cfg_{}", hex::encode(&d[..4]))), *d))
                .collect(),
        }
    }

    /// The id of the token `presented`, if it is active. Compares against every digest in
    /// constant time, so timing says nothing about which bytes matched.
    pub fn verify(&self, presented: &str) -> Option<&TokenId> {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let mut found = None;
        for (id, stored) in &self.entries {
            if bool::from(stored.ct_eq(&digest)) {
                found = Some(id);
            }
        }
        found
    }

    /// The set of stored tokens (a malformed digest is an error naming the token).
    pub fn from_stored(tokens: &[StoredToken]) -> Result<Self, TokenError> {
        Self::checked(tokens, TokenError::Shared)
    }

    /// The set of stored tokens; a malformed digest is the error `malformed` makes of a
    /// message naming the token.
    pub(super) fn checked(
        tokens: &[StoredToken],
        malformed: impl Fn(String) -> TokenError,
    ) -> Result<Self, TokenError> {
        let mut entries = Vec::with_capacity(tokens.len());
        for token in tokens {
            let mut digest = [0u8; 32];
            if hex::decode_to_slice(&token.sha256, &mut digest).is_err() {
                return Err(malformed(format!(
                    "token {} has a malformed sha256",
                    token.id
                )));
            }
            entries.push((token.id.clone(), digest));
        }
        Ok(TokenSet { entries })
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn ids(&self) -> impl Iterator<Item = &TokenId> {
        self.entries.iter().map(|(id, _)| id)
    }
}

/// The URL a provider posts to.
pub fn webhook_url(base: &str, token: &Token) -> String {
    format!("{}/webhooks/{}", base.trim_end_matches('/'), token.expose())
}
