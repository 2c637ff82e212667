//! The token store of a local journal: `data_dir/tokens.json`.
//!
//! The `token` commands and a running listener share the file: every read-modify-write holds
//! `data_dir/tokens.lock` (`flock`) and replaces the file atomically, so readers never see a
//! half-written store and no update is lost. A listener ([`LiveTokens`](super::LiveTokens))
//! checks the file's stamp on every request and reloads it when it changed, so a new token
//! works and a revoked one is refused from the first request after the command returns; it
//! also rereads the store every second as a backstop. Last use is kept in memory and written
//! back lazily.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::token::{
    MAX_ACTIVE_TOKENS, StoredToken, Token, TokenError, TokenId, TokenSet, new_token,
};
use crate::fsutil;

#[derive(Debug, Default, Serialize, Deserialize)]
struct StoreFile {
    version: u32,
    tokens: Vec<StoredToken>,
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
pub(super) struct Watched {
    file: File,
    pub(super) stamp: FileStamp,
}

impl Watched {
    pub(super) fn unchanged(&self) -> bool {
        self.file
            .metadata()
            .is_ok_and(|m| m.nlink() > 0 && FileStamp::of(&m) == self.stamp)
    }
}

/// The token store of a `data_dir`: `tokens.json`.
#[derive(Clone)]
pub struct FileStore {
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

impl FileStore {
    pub fn new(data_dir: &Path) -> Self {
        FileStore {
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
    pub(super) fn watch(&self) -> Option<Watched> {
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
        TokenSet::checked(&self.list()?, |message| TokenError::Parse {
            path: self.path.clone(),
            source: serde::de::Error::custom(message),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_digests_are_stored_and_tokens_verify() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path());
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
        let store = FileStore::new(dir.path());
        store.create().unwrap();
        store.create().unwrap();
        assert!(matches!(store.create(), Err(TokenError::TooMany)));
    }
}
