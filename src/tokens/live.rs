//! The tokens a running listener accepts, and how they are kept up to date.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::file::{FileStamp, FileStore, Watched};
use super::token::{TokenError, TokenId, TokenSet};

/// How often a listener rereads the token file even if its stamp did not change.
const RELOAD_INTERVAL: Duration = Duration::from_secs(1);
/// How often a listener writes tokens' last-use times back to the file.
const LAST_USED_INTERVAL: Duration = Duration::from_secs(10);

/// The tokens a running listener accepts: the token store, followed as it changes, or a fixed
/// set from the config.
pub struct LiveTokens {
    store: Option<FileStore>,
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
    pub fn follow(store: FileStore) -> Result<Self, TokenError> {
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

/// Rereads the token file every second (a backstop to the per-request stamp check) and
/// writes last-use times back every few seconds, and a last time once `stop` resolved.
pub(super) async fn keep_up(live: Arc<LiveTokens>, stop: impl Future<Output = ()>) {
    tokio::pin!(stop);
    let mut reload = tokio::time::interval(RELOAD_INTERVAL);
    let mut flush = tokio::time::interval(LAST_USED_INTERVAL);
    loop {
        let work: fn(&LiveTokens) = tokio::select! {
            _ = &mut stop => break,
            _ = reload.tick() => |t| t.refresh(true),
            _ = flush.tick() => LiveTokens::flush_last_used,
        };
        let tokens = Arc::clone(&live);
        let _ = tokio::task::spawn_blocking(move || work(&tokens)).await;
    }
    let _ = tokio::task::spawn_blocking(move || live.flush_last_used()).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_set_follows_creation_and_revocation_and_records_use() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path());
        let (first_id, first) = store.create().unwrap();
        let live = LiveTokens::follow(FileStore::new(dir.path())).unwrap();
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
