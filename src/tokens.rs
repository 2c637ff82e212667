//! Webhook URL tokens.
//!
//! A token is 256 bits from the OS random source, shown once (in the URL) when created. The
//! token store `data_dir/tokens.json` keeps only each token's SHA-256 digest, an id, and
//! when it was created; a listener compares the digest of a presented token against the
//! stored digests in constant time.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::fsutil;

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

#[derive(Debug, Default, Serialize, Deserialize)]
struct StoreFile {
    version: u32,
    tokens: Vec<StoredToken>,
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
    #[error("no active token has id {0}")]
    UnknownId(String),
    #[error("cannot get random bytes from the OS: {0}")]
    Random(String),
}

/// The token store of a `data_dir`.
pub struct TokenStore {
    path: PathBuf,
}

impl TokenStore {
    pub fn new(data_dir: &Path) -> Self {
        TokenStore {
            path: data_dir.join("tokens.json"),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self, source: std::io::Error) -> TokenError {
        TokenError::Io {
            path: self.path.clone(),
            source,
        }
    }

    fn read(&self) -> Result<StoreFile, TokenError> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| TokenError::Parse {
                path: self.path.clone(),
                source,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(StoreFile {
                version: 1,
                tokens: Vec::new(),
            }),
            Err(e) => Err(self.io(e)),
        }
    }

    fn write(&self, file: &StoreFile) -> Result<(), TokenError> {
        if let Some(dir) = self.path.parent() {
            fsutil::ensure_dir(dir).map_err(|e| self.io(e))?;
        }
        let bytes = serde_json::to_vec_pretty(file).expect("token store serializes");
        fsutil::write_atomic(&self.path, &bytes).map_err(|e| self.io(e))
    }

    /// Active tokens, oldest first.
    pub fn list(&self) -> Result<Vec<StoredToken>, TokenError> {
        Ok(self.read()?.tokens)
    }

    /// Creates a token; refused when [`MAX_ACTIVE_TOKENS`] are active.
    pub fn create(&self) -> Result<(TokenId, Token), TokenError> {
        let mut file = self.read()?;
        if file.tokens.len() >= MAX_ACTIVE_TOKENS {
            return Err(TokenError::TooMany);
        }
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| TokenError::Random(e.to_string()))?;
        let token = Token(hex::encode(secret));
        let mut id_bytes = [0u8; 4];
        getrandom::fill(&mut id_bytes).map_err(|e| TokenError::Random(e.to_string()))?;
        let id = TokenId(format!("tok_{}", hex::encode(id_bytes)));
        file.version = 1;
        file.tokens.push(StoredToken {
            id: id.clone(),
            sha256: hex::encode(Sha256::digest(token.0.as_bytes())),
            created_at: Utc::now(),
            last_used_at: None,
        });
        self.write(&file)?;
        Ok((id, token))
    }

    /// The digests a listener accepts now.
    pub fn token_set(&self) -> Result<TokenSet, TokenError> {
        let tokens = self.list()?;
        let mut entries = Vec::with_capacity(tokens.len());
        for token in tokens {
            let mut digest = [0u8; 32];
            if hex::decode_to_slice(&token.sha256, &mut digest).is_err() {
                return Err(TokenError::Parse {
                    path: self.path.clone(),
                    source: serde::de::Error::custom(format!(
                        "token {} has a malformed sha256",
                        token.id
                    )),
                });
            }
            entries.push((token.id, digest));
        }
        Ok(TokenSet { entries })
    }
}

/// The tokens a listener accepts, as digests.
#[derive(Clone, Debug, Default)]
pub struct TokenSet {
    entries: Vec<(TokenId, [u8; 32])>,
}

impl TokenSet {
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

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The URL a provider posts to.
pub fn webhook_url(base: &str, token: &Token) -> String {
    format!("{}/webhooks/{}", base.trim_end_matches('/'), token.expose())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_digests_are_stored_and_tokens_verify() {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::new(dir.path());
        let (id, token) = store.create().unwrap();
        assert_eq!(token.expose().len(), 64);
        let stored = std::fs::read_to_string(store.path()).unwrap();
        assert!(!stored.contains(token.expose()));
        let set = store.token_set().unwrap();
        assert_eq!(set.verify(token.expose()), Some(&id));
        assert_eq!(set.verify("nope"), None);
        assert!(!format!("{token:?}").contains(token.expose()));
    }

    #[test]
    fn a_third_token_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::new(dir.path());
        store.create().unwrap();
        store.create().unwrap();
        assert!(matches!(store.create(), Err(TokenError::TooMany)));
    }
}
