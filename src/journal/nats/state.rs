//! Shared state in a JetStream key-value bucket (`journal.state_bucket`): webhook tokens, so
//! that `token new|list|revoke` work from any machine and every receiver follows them, and
//! the newest bookmark a sync acknowledged, for retention.
//!
//! Keys: `tokens.<id>` → the token's JSON record (id, SHA-256, created, last used; never the
//! token), `tokens-initialized` (set once the first token was made, so that only one receiver
//! ever prints a first URL), `acknowledged` → the acknowledged bookmark in decimal.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{kv, stream};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;

use super::{Connection, NatsSettings, unavailable};
use crate::journal::JournalError;
use crate::sequence::Sequence;
use crate::tokens::{self, LiveTokens, StoredToken, Token, TokenError, TokenId, TokenSet};

const TOKEN_PREFIX: &str = "tokens.";
const TOKENS_INITIALIZED: &str = "tokens-initialized";
const ACKNOWLEDGED: &str = "acknowledged";

/// The state bucket.
#[derive(Clone)]
pub struct StateBucket {
    kv: kv::Store,
    name: String,
}

fn shared(what: &str, e: impl std::fmt::Display) -> TokenError {
    TokenError::Shared(format!("{what}: {e}"))
}

impl StateBucket {
    /// Opens the bucket, creating it (with the journal's replicas) when missing.
    pub async fn open(connection: &Connection) -> Result<Self, JournalError> {
        let settings = &connection.settings;
        let name = settings.state_bucket.clone();
        if let Ok(kv) = connection.js.get_key_value(&name).await {
            return Ok(StateBucket { kv, name });
        }
        // The bucket's stream, as `create_key_value` would make it: that call first reads the
        // account info in a shape nats-server 2.9 does not send, so the stream is created here.
        let created = connection
            .js
            .create_stream(stream::Config {
                name: format!("KV_{name}"),
                description: Some("tap-webhooks tokens and acknowledged bookmarks".into()),
                subjects: vec![format!("$KV.{name}.>")],
                max_messages_per_subject: 1,
                max_bytes: -1,
                max_messages: -1,
                max_message_size: 64 << 10,
                storage: stream::StorageType::File,
                allow_rollup: true,
                deny_delete: true,
                allow_direct: true,
                num_replicas: settings.replicas,
                discard: stream::DiscardPolicy::New,
                ..Default::default()
            })
            .await;
        // Created now, or by another tap at the same moment: open it.
        let kv = connection.js.get_key_value(&name).await.map_err(|e| {
            let created = created.err().map(|c| format!(" (creating it: {c})"));
            unavailable(
                &format!(
                    "opening key-value bucket {name}{}",
                    created.unwrap_or_default()
                ),
                e,
            )
        })?;
        Ok(StateBucket { kv, name })
    }

    /// Active tokens, oldest first.
    pub async fn list(&self) -> Result<Vec<StoredToken>, TokenError> {
        let mut keys = self
            .kv
            .keys()
            .await
            .map_err(|e| shared(&format!("listing bucket {}", self.name), e))?;
        let mut names = Vec::new();
        while let Some(key) = keys.next().await {
            let key = key.map_err(|e| shared(&format!("listing bucket {}", self.name), e))?;
            if key.starts_with(TOKEN_PREFIX) {
                names.push(key);
            }
        }
        let mut tokens = Vec::with_capacity(names.len());
        for key in names {
            let Some(value) = self
                .kv
                .get(&key)
                .await
                .map_err(|e| shared(&format!("reading {key} of bucket {}", self.name), e))?
            else {
                continue;
            };
            let token: StoredToken = serde_json::from_slice(&value)
                .map_err(|e| shared(&format!("{key} of bucket {}", self.name), e))?;
            tokens.push(token);
        }
        tokens.sort_by_key(|t| t.created_at);
        Ok(tokens)
    }

    /// The digests a receiver accepts now.
    pub async fn token_set(&self) -> Result<TokenSet, TokenError> {
        TokenSet::from_stored(&self.list().await?)
    }

    /// Creates a token; refused when [`tokens::MAX_ACTIVE_TOKENS`] are active.
    pub async fn create(&self) -> Result<(TokenId, Token), TokenError> {
        if self.list().await?.len() >= tokens::MAX_ACTIVE_TOKENS {
            return Err(TokenError::TooMany);
        }
        let (token, stored) = tokens::new_token()?;
        let value = serde_json::to_vec(&stored).map_err(|e| shared("encoding a token", e))?;
        self.kv
            .create(format!("{TOKEN_PREFIX}{}", stored.id), Bytes::from(value))
            .await
            .map_err(|e| shared(&format!("storing a token in bucket {}", self.name), e))?;
        let _ = self
            .kv
            .put(TOKENS_INITIALIZED, Bytes::from_static(b"1"))
            .await;
        Ok((stored.id, token))
    }

    /// Creates the first token if none was ever made; `None` if one was. Only one receiver
    /// of many starting together wins.
    pub async fn create_first(&self) -> Result<Option<(TokenId, Token)>, TokenError> {
        match self
            .kv
            .create(TOKENS_INITIALIZED, Bytes::from_static(b"1"))
            .await
        {
            Ok(_) => self.create().await.map(Some),
            Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => Ok(None),
            Err(e) => Err(shared(&format!("writing bucket {}", self.name), e)),
        }
    }

    /// Revokes the token `id`; every receiver's watch sees it at once.
    pub async fn revoke(&self, id: &str) -> Result<StoredToken, TokenError> {
        let key = format!("{TOKEN_PREFIX}{id}");
        let valid_key = !id.is_empty()
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        let value = if valid_key {
            self.kv
                .get(&key)
                .await
                .map_err(|e| shared(&format!("reading bucket {}", self.name), e))?
        } else {
            None
        };
        let Some(value) = value else {
            return Err(TokenError::UnknownId(id.to_owned()));
        };
        let stored: StoredToken = serde_json::from_slice(&value).map_err(|e| shared(&key, e))?;
        self.kv
            .purge(&key)
            .await
            .map_err(|e| shared(&format!("revoking {id} in bucket {}", self.name), e))?;
        Ok(stored)
    }

    /// Writes last-use times back (later times win; a lost race is simply retried next time).
    pub async fn record_use(&self, used: &HashMap<TokenId, DateTime<Utc>>) {
        for (id, at) in used {
            let key = format!("{TOKEN_PREFIX}{id}");
            let Ok(Some(entry)) = self.kv.entry(&key).await else {
                continue;
            };
            if entry.operation != kv::Operation::Put {
                continue;
            }
            let Ok(mut stored) = serde_json::from_slice::<StoredToken>(&entry.value) else {
                continue;
            };
            if stored.last_used_at.is_some_and(|before| before >= *at) {
                continue;
            }
            stored.last_used_at = Some(*at);
            if let Ok(value) = serde_json::to_vec(&stored) {
                let _ = self
                    .kv
                    .update(&key, Bytes::from(value), entry.revision)
                    .await;
            }
        }
    }

    /// The newest bookmark a sync acknowledged.
    pub async fn acknowledged(&self) -> Result<Option<Sequence>, JournalError> {
        let value = self
            .kv
            .get(ACKNOWLEDGED)
            .await
            .map_err(|e| unavailable(&format!("reading bucket {}", self.name), e))?;
        Ok(value.and_then(|v| {
            std::str::from_utf8(&v)
                .ok()?
                .trim()
                .parse()
                .ok()
                .map(Sequence::new)
        }))
    }

    /// Records that everything up to `bookmark` was loaded (kept if newer than the current).
    pub async fn acknowledge(&self, bookmark: Sequence) -> Result<(), JournalError> {
        let value = || Bytes::from(bookmark.to_string());
        for _ in 0..10 {
            let entry = self
                .kv
                .entry(ACKNOWLEDGED)
                .await
                .map_err(|e| unavailable(&format!("reading bucket {}", self.name), e))?;
            let written = match entry.filter(|e| e.operation == kv::Operation::Put) {
                None => self.kv.create(ACKNOWLEDGED, value()).await.is_ok(),
                Some(entry) => {
                    let current = std::str::from_utf8(&entry.value)
                        .ok()
                        .and_then(|s| s.trim().parse::<u64>().ok());
                    if current.is_some_and(|c| c >= bookmark.get()) {
                        return Ok(());
                    }
                    self.kv
                        .update(ACKNOWLEDGED, value(), entry.revision)
                        .await
                        .is_ok()
                }
            };
            if written {
                return Ok(());
            }
        }
        Err(JournalError::Unavailable(format!(
            "bucket {}: could not record the acknowledged bookmark (too many concurrent writers)",
            self.name
        )))
    }

    /// Keeps `live` equal to the bucket's tokens until `stop` resolves: a watch reloads them
    /// on every change (a revoke reaches every receiver within milliseconds), a full reload
    /// runs every 5 s and after a reconnect, and last-use times are written back every 10 s
    /// and once more at the end.
    async fn follow(self, live: Arc<LiveTokens>, stop: impl Future<Output = ()>) {
        tokio::pin!(stop);
        let mut flush = tokio::time::interval(Duration::from_secs(10));
        let mut tokens = Vec::new();
        loop {
            let watch = self.kv.watch(format!("{TOKEN_PREFIX}>")).await;
            self.reload(&live, &mut tokens).await;
            let mut full = tokio::time::interval(Duration::from_secs(5));
            match watch {
                Ok(mut watch) => loop {
                    tokio::select! {
                        _ = &mut stop => {
                            self.record_use(&live.take_used()).await;
                            return;
                        }
                        event = watch.next() => match event {
                            Some(Ok(entry)) => self.apply(&live, &mut tokens, &entry),
                            Some(Err(e)) => {
                                log::warn!("token watch on bucket {}: {e}; restarting it", self.name);
                                break;
                            }
                            None => break,
                        },
                        _ = full.tick() => self.reload(&live, &mut tokens).await,
                        _ = flush.tick() => self.record_use(&live.take_used()).await,
                    }
                },
                Err(e) => log::warn!("cannot watch the tokens in bucket {}: {e}", self.name),
            }
            tokio::select! {
                _ = &mut stop => return,
                _ = tokio::time::sleep(Duration::from_millis(250)) => {}
            }
        }
    }

    /// Applies one watched change at once, without another round trip: a revoke (a purge of
    /// the key) removes the token from the set before the next request is checked.
    fn apply(&self, live: &LiveTokens, tokens: &mut Vec<StoredToken>, entry: &kv::Entry) {
        let Some(id) = entry.key.strip_prefix(TOKEN_PREFIX) else {
            return;
        };
        tokens.retain(|t| t.id.as_str() != id);
        if entry.operation == kv::Operation::Put {
            match serde_json::from_slice::<StoredToken>(&entry.value) {
                Ok(token) => tokens.push(token),
                Err(e) => log::warn!("{} of bucket {}: {e}", entry.key, self.name),
            }
        }
        match TokenSet::from_stored(tokens) {
            Ok(set) => live.replace(set),
            Err(e) => log::warn!("{e}"),
        }
    }

    /// Reloads every token into `tokens` and `live`.
    async fn reload(&self, live: &LiveTokens, tokens: &mut Vec<StoredToken>) {
        let loaded = self
            .list()
            .await
            .and_then(|list| TokenSet::from_stored(&list).map(|set| (list, set)));
        match loaded {
            Ok((list, set)) => {
                *tokens = list;
                live.replace(set);
            }
            // Keep the last known set: while NATS cannot be reached nothing is accepted anyway
            // (publishing fails), and a revoke cannot be missed, as it needs NATS too.
            Err(e) => log::warn!("cannot reload the tokens: {e}"),
        }
    }
}

/// The webhook tokens of a NATS journal (its state bucket), shared by every receiver: for
/// the `token` commands and for listeners, which follow them live.
#[derive(Clone)]
pub struct SharedTokens {
    bucket: StateBucket,
}

fn token_error(e: JournalError) -> TokenError {
    TokenError::Shared(e.to_string())
}

impl SharedTokens {
    /// Connects (or reuses the process's connection) and opens the bucket.
    pub fn open(settings: &NatsSettings) -> Result<Self, TokenError> {
        let connection = super::shared_connection(settings).map_err(token_error)?;
        let bucket = super::block_on(async move { StateBucket::open(&connection).await })
            .map_err(token_error)?;
        Ok(SharedTokens { bucket })
    }

    /// Active tokens, oldest first.
    pub fn list(&self) -> Result<Vec<StoredToken>, TokenError> {
        let bucket = self.bucket.clone();
        super::block_on(async move { Ok(bucket.list().await) }).map_err(token_error)?
    }

    /// Creates a token; refused when two are active.
    pub fn create(&self) -> Result<(TokenId, Token), TokenError> {
        let bucket = self.bucket.clone();
        super::block_on(async move { Ok(bucket.create().await) }).map_err(token_error)?
    }

    /// Creates the first token if none was ever made (by any receiver); `None` if one was.
    pub fn create_first(&self) -> Result<Option<(TokenId, Token)>, TokenError> {
        let bucket = self.bucket.clone();
        super::block_on(async move { Ok(bucket.create_first().await) }).map_err(token_error)?
    }

    /// Revokes a token; every listener refuses it within milliseconds.
    pub fn revoke(&self, id: &str) -> Result<StoredToken, TokenError> {
        let bucket = self.bucket.clone();
        let id = id.to_owned();
        super::block_on(async move { Ok(bucket.revoke(&id).await) }).map_err(token_error)?
    }

    /// The tokens accepted now, as a set a listener keeps up to date with [`Self::follow`].
    pub fn live(&self) -> Result<LiveTokens, TokenError> {
        let bucket = self.bucket.clone();
        let set =
            super::block_on(async move { Ok(bucket.token_set().await) }).map_err(token_error)??;
        Ok(LiveTokens::fixed(set))
    }

    /// Keeps `live` equal to the bucket's tokens until `stop` resolves.
    pub async fn follow(self, live: Arc<LiveTokens>, stop: impl Future<Output = ()>) {
        self.bucket.follow(live, stop).await
    }
}

/// Applies retention once; returns the sequence purged below (0: nothing purged).
pub async fn apply_retention(
    connection: &Connection,
    keep: Duration,
    now: DateTime<Utc>,
) -> Result<u64, JournalError> {
    let bucket = StateBucket::open(connection).await?;
    let Some(acked) = bucket.acknowledged().await? else {
        return Ok(0);
    };
    let Some(holding) = connection.layout.message_holding(acked) else {
        return Ok(0);
    };
    let mut stream = connection.stream.clone();
    let info = stream
        .info()
        .await
        .map_err(|e| unavailable("reading the stream", e))?;
    let first = info.state.first_sequence;
    // Messages before the one holding the bookmark are wholly acknowledged; the last message
    // of the stream always stays (as the local journal keeps its last segment).
    let limit = holding.min(info.state.last_sequence);
    if limit <= first {
        return Ok(0);
    }
    let cutoff = now - chrono::Duration::from_std(keep).unwrap_or(chrono::Duration::MAX);
    // The last message in [first, limit) received at or before the cutoff: binary search on
    // the stream's own timestamps (they grow with the sequence, give or take clock skew
    // between leaders, which only makes retention keep a little more).
    let old_enough = async |n: u64| -> Result<bool, JournalError> {
        match connection.stream.get_raw_message(n).await {
            Ok(message) => Ok(message.time <= cutoff),
            Err(e)
                if e.kind()
                    == async_nats::jetstream::stream::RawMessageErrorKind::NoMessageFound =>
            {
                Ok(true)
            }
            Err(e) => Err(unavailable("reading the stream", e)),
        }
    };
    let (mut lo, mut hi) = (first, limit); // answer: first n in [first, limit] not old enough
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if old_enough(mid).await? {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if lo <= first {
        return Ok(0);
    }
    stream
        .purge()
        .sequence(lo)
        .await
        .map_err(|e| unavailable("purging the stream", e))?;
    Ok(lo)
}
