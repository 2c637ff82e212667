//! Webhook URL tokens.
//!
//! A token is 256 bits from the OS random source, shown once (in the URL) when created. The
//! token store `data_dir/tokens.json` keeps only each token's SHA-256 digest, an id, and
//! when it was created and last used; a listener compares the digest of a presented token
//! against the stored digests in constant time.
//!
//! The `token` commands and a running listener share the store: every read-modify-write holds
//! `data_dir/tokens.lock` (`flock`) and replaces the file atomically, so readers never see a
//! half-written store and no update is lost. A listener ([`LiveTokens`]) checks the store's
//! file stamp on every request and reloads it when it changed, so a new token works and a
//! revoked one is refused from the first request after the command returns; it also rereads
//! the store every second as a backstop. Last use is kept in memory and written back lazily.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

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

/// What identifies one version of the store file: an atomic replace changes the inode, and
/// any write changes the size or the times.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileStamp {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl FileStamp {
    fn of(m: &std::fs::Metadata) -> Self {
        FileStamp {
            dev: m.dev(),
            ino: m.ino(),
            len: m.len(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        }
    }
}

/// The store file as last loaded, held open: whether it is still the store, unchanged, is one
/// `fstat` away, where a stamp of the path costs a path lookup on every request. Every change
/// shows on the open file: a write changes its size or times, and the atomic replace (or a
/// removal, or a rename) unlinks it or changes its ctime.
struct Watched {
    file: File,
    stamp: FileStamp,
}

impl Watched {
    fn unchanged(&self) -> bool {
        self.file
            .metadata()
            .is_ok_and(|m| m.nlink() > 0 && FileStamp::of(&m) == self.stamp)
    }
}

/// The token store of a `data_dir`.
pub struct TokenStore {
    path: PathBuf,
    lock_path: PathBuf,
}

/// Holds `tokens.lock` while alive.
struct StoreLock(File);

impl Drop for StoreLock {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

impl TokenStore {
    pub fn new(data_dir: &Path) -> Self {
        TokenStore {
            path: data_dir.join("tokens.json"),
            lock_path: data_dir.join("tokens.lock"),
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

    /// Takes the store's lock, waiting for another command or the listener to finish.
    fn lock(&self) -> Result<StoreLock, TokenError> {
        if let Some(dir) = self.path.parent() {
            fsutil::ensure_dir(dir).map_err(|e| self.io(e))?;
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&self.lock_path)
            .map_err(|e| self.io(e))?;
        file.lock().map_err(|e| self.io(e))?;
        Ok(StoreLock(file))
    }

    /// Whether a store was ever written (a listener creates the first token only if not).
    pub fn exists(&self) -> bool {
        self.path.exists()
    }

    /// The stamp of the store file now, `None` if there is none.
    pub fn stamp(&self) -> Option<FileStamp> {
        std::fs::metadata(&self.path)
            .ok()
            .map(|m| FileStamp::of(&m))
    }

    /// Opens the store file and stamps what was opened.
    fn watch(&self) -> Option<Watched> {
        let file = File::open(&self.path).ok()?;
        let stamp = FileStamp::of(&file.metadata().ok()?);
        Some(Watched { file, stamp })
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
        let bytes = serde_json::to_vec_pretty(file).expect("token store serializes");
        fsutil::write_atomic(&self.path, &bytes).map_err(|e| self.io(e))
    }

    /// Active tokens, oldest first.
    pub fn list(&self) -> Result<Vec<StoredToken>, TokenError> {
        Ok(self.read()?.tokens)
    }

    /// Creates a token; refused when [`MAX_ACTIVE_TOKENS`] are active.
    pub fn create(&self) -> Result<(TokenId, Token), TokenError> {
        let _lock = self.lock()?;
        self.create_locked()
    }

    /// Creates the first token if no store was ever written; `None` if one was.
    pub fn create_first(&self) -> Result<Option<(TokenId, Token)>, TokenError> {
        let _lock = self.lock()?;
        if self.exists() {
            return Ok(None);
        }
        self.create_locked().map(Some)
    }

    fn create_locked(&self) -> Result<(TokenId, Token), TokenError> {
        let mut file = self.read()?;
        if file.tokens.len() >= MAX_ACTIVE_TOKENS {
            return Err(TokenError::TooMany);
        }
        let (token, stored) = loop {
            let (token, stored) = new_token()?;
            if !file.tokens.iter().any(|t| t.id == stored.id) {
                break (token, stored);
            }
        };
        let id = stored.id.clone();
        file.version = 1;
        file.tokens.push(stored);
        self.write(&file)?;
        Ok((id, token))
    }

    /// Revokes the token `id`: once this returns, no listener accepts it.
    pub fn revoke(&self, id: &str) -> Result<StoredToken, TokenError> {
        let _lock = self.lock()?;
        let mut file = self.read()?;
        let at = file
            .tokens
            .iter()
            .position(|t| t.id.as_str() == id)
            .ok_or_else(|| TokenError::UnknownId(id.to_owned()))?;
        let revoked = file.tokens.remove(at);
        file.version = 1;
        self.write(&file)?;
        Ok(revoked)
    }

    /// Writes last-use times back, for tokens still active; later times win.
    pub fn record_use(&self, used: &HashMap<TokenId, DateTime<Utc>>) -> Result<(), TokenError> {
        if used.is_empty() {
            return Ok(());
        }
        let _lock = self.lock()?;
        let mut file = self.read()?;
        let mut changed = false;
        for token in &mut file.tokens {
            if let Some(&at) = used.get(&token.id)
                && token.last_used_at.is_none_or(|before| before < at)
            {
                token.last_used_at = Some(at);
                changed = true;
            }
        }
        if changed {
            self.write(&file)?;
        }
        Ok(())
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

/// A new token (256 random bits) and its stored record (its SHA-256, never the token).
pub fn new_token() -> Result<(Token, StoredToken), TokenError> {
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
        let mut entries = Vec::with_capacity(tokens.len());
        for token in tokens {
            let mut digest = [0u8; 32];
            hex::decode_to_slice(&token.sha256, &mut digest).map_err(|_| {
                TokenError::Shared(format!("token {} has a malformed sha256", token.id))
            })?;
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

/// The tokens a running listener accepts: the token store, followed as it changes, or a fixed
/// set from the config.
pub struct LiveTokens {
    store: Option<TokenStore>,
    current: RwLock<Loaded>,
    used: Mutex<HashMap<TokenId, DateTime<Utc>>>,
}

struct Loaded {
    stamp: Option<FileStamp>,
    /// The file `stamp` was taken from, when there is one.
    watched: Option<Watched>,
    set: Arc<TokenSet>,
}

impl LiveTokens {
    /// Follows the store of `data_dir`.
    pub fn follow(store: TokenStore) -> Result<Self, TokenError> {
        let watched = store.watch();
        let stamp = watched.as_ref().map(|w| w.stamp);
        let set = store.token_set()?;
        Ok(LiveTokens {
            store: Some(store),
            current: RwLock::new(Loaded {
                stamp,
                watched,
                set: Arc::new(set),
            }),
            used: Mutex::new(HashMap::new()),
        })
    }

    /// A fixed set (from `token_sha256`).
    pub fn fixed(set: TokenSet) -> Self {
        LiveTokens {
            store: None,
            current: RwLock::new(Loaded {
                stamp: None,
                watched: None,
                set: Arc::new(set),
            }),
            used: Mutex::new(HashMap::new()),
        }
    }

    /// The id of `presented` if it is active now; notes its use.
    pub fn verify(&self, presented: &str) -> Option<TokenId> {
        self.refresh(false);
        let set = Arc::clone(&self.current.read().unwrap_or_else(|p| p.into_inner()).set);
        let id = set.verify(presented)?.clone();
        let now = Utc::now();
        let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        match used.get_mut(&id) {
            Some(last) => *last = now,
            None => {
                used.insert(id.clone(), now);
            }
        }
        Some(id)
    }

    /// Reloads the store if its file changed since the last load, or always with `force`.
    /// A store that cannot be read accepts no token until it can (fail closed).
    pub fn refresh(&self, force: bool) {
        let Some(store) = &self.store else {
            return;
        };
        if !force {
            let current = self.current.read().unwrap_or_else(|p| p.into_inner());
            if current.watched.as_ref().is_some_and(Watched::unchanged)
                || (current.watched.is_none() && current.stamp == store.stamp())
            {
                return;
            }
        }
        let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
        // Stamp first, then content: a change after the read is seen next time.
        let watched = store.watch();
        let stamp = watched.as_ref().map(|w| w.stamp);
        if !force && current.stamp == stamp {
            current.watched = watched;
            return;
        }
        let set = match store.token_set() {
            Ok(set) => set,
            Err(e) => {
                if current.stamp != stamp || !current.set.is_empty() {
                    log::error!("cannot reload the token store; accepting no token: {e}");
                }
                TokenSet::default()
            }
        };
        let changed = {
            let old: Vec<&TokenId> = current.set.ids().collect();
            let new: Vec<&TokenId> = set.ids().collect();
            old != new
        };
        if changed {
            let ids: Vec<&str> = set.ids().map(TokenId::as_str).collect();
            log::info!("webhook tokens reloaded; active: [{}]", ids.join(", "));
        }
        *current = Loaded {
            stamp,
            watched,
            set: Arc::new(set),
        };
    }

    /// Replaces the accepted set (for a store followed from outside, such as a NATS bucket).
    pub fn replace(&self, set: TokenSet) {
        let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
        let changed = !current.set.ids().eq(set.ids());
        if changed {
            let ids: Vec<&str> = set.ids().map(TokenId::as_str).collect();
            log::info!("webhook tokens reloaded; active: [{}]", ids.join(", "));
        }
        current.set = Arc::new(set);
    }

    /// The last-use times noted since the last call.
    pub fn take_used(&self) -> HashMap<TokenId, DateTime<Utc>> {
        std::mem::take(&mut *self.used.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Writes the last-use times noted since the last call to the store.
    pub fn flush_last_used(&self) {
        let Some(store) = &self.store else {
            return;
        };
        let used = std::mem::take(&mut *self.used.lock().unwrap_or_else(|p| p.into_inner()));
        if let Err(e) = store.record_use(&used) {
            log::warn!("cannot record when tokens were last used: {e}");
        }
    }

    pub fn is_empty(&self) -> bool {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .set
            .is_empty()
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

    #[test]
    fn a_live_set_follows_creation_and_revocation_and_records_use() {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::new(dir.path());
        let (first_id, first) = store.create().unwrap();
        let live = LiveTokens::follow(TokenStore::new(dir.path())).unwrap();
        assert_eq!(live.verify(first.expose()), Some(first_id.clone()));
        let (second_id, second) = store.create().unwrap();
        assert_eq!(live.verify(second.expose()), Some(second_id));
        store.revoke(first_id.as_str()).unwrap();
        assert_eq!(live.verify(first.expose()), None);
        live.flush_last_used();
        let listed = store.list().unwrap();
        assert_eq!(listed.len(), 1);
        assert!(listed[0].last_used_at.is_some());
        assert!(matches!(
            store.revoke("tok_nope"),
            Err(TokenError::UnknownId(_))
        ));
    }
}
