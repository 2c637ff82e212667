//! The token store of a NATS journal: keys of its state bucket (`journal.state_bucket`), so
//! that `token new|list|revoke` work from any machine and every receiver follows them.
//!
//! Keys: `tokens.<id>` → the token's JSON record (id, SHA-256, created, last used; never the
//! token), `tokens-initialized` (set once the first token was made, so that only one receiver
//! ever prints a first URL), and `tokens-active`, the ids of the active tokens and of those
//! being made. The limit of active tokens is counted on that one key alone, which is written
//! only at the revision it was read at ([`StateBucket::write_at`]): two `token new` on two
//! machines cannot both pass it, even when a replica answering their reads lags behind (the
//! bucket's reads are direct gets, which any replica may answer). A revoke purges the token,
//! then takes its id out.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::kv;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use super::live::LiveTokens;
use super::token::{
    MAX_ACTIVE_TOKENS, StoredToken, Token, TokenError, TokenId, TokenSet, new_token,
};
use crate::journal::JournalError;
use crate::journal::nats::{NatsSettings, StateBucket, block_on};

const TOKEN_PREFIX: &str = "tokens.";
const TOKENS_INITIALIZED: &str = "tokens-initialized";
const ACTIVE_TOKENS: &str = "tokens-active";
/// A claim whose token was never stored counts this long: a `token new` that died between
/// the two leaves one that stops counting by itself.
const CLAIM_GRACE_SECONDS: i64 = 60;
/// Claims lost to others at once before `token new` gives up.
const MAX_CLAIM_ATTEMPTS: usize = 100;

/// The environment variable of a test fault (debug builds only): `token new` waits, between
/// reading the tokens and writing its claim, until this Unix time in milliseconds, so that a
/// test can have many write at the same moment.
#[cfg(debug_assertions)]
pub const CLAIM_AT_ENV: &str = "TAP_WEBHOOKS_TEST_TOKEN_CLAIM_AT_MS";

/// The environment variable of a test fault (debug builds only): reads of the tokens miss
/// those made in the last this many milliseconds, as from a replica lagging that far behind.
#[cfg(debug_assertions)]
pub const LAGGING_READS_ENV: &str = "TAP_WEBHOOKS_TEST_LAGGING_TOKEN_READS_MS";

#[cfg(debug_assertions)]
fn test_fault_ms(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// The test fault of [`CLAIM_AT_ENV`]; nothing in a release build.
async fn slow_claim() {
    #[cfg(debug_assertions)]
    if let Some(at) = test_fault_ms(CLAIM_AT_ENV) {
        let now = Utc::now().timestamp_millis().max(0) as u64;
        tokio::time::sleep(Duration::from_millis(at.saturating_sub(now))).await;
    }
}

/// The test fault of [`LAGGING_READS_ENV`]: whether a token made at `created` is missed by a
/// read; never in a release build.
fn missed_by_lag(created: DateTime<Utc>) -> bool {
    #[cfg(debug_assertions)]
    if let Some(ms) = test_fault_ms(LAGGING_READS_ENV) {
        return Utc::now() - created < chrono::TimeDelta::milliseconds(ms as i64);
    }
    let _ = created;
    false
}

/// An id in `tokens-active`: a token stored, or being made (counted for
/// [`CLAIM_GRACE_SECONDS`] until it is stored).
#[derive(Debug, Serialize, Deserialize)]
struct Claim {
    id: TokenId,
    at: DateTime<Utc>,
}

/// The tokens' keys of a state bucket.
#[derive(Clone)]
struct TokenBucket {
    state: StateBucket,
}

fn shared(what: &str, e: impl std::fmt::Display) -> TokenError {
    TokenError::Shared(format!("{what}: {e}"))
}

impl TokenBucket {
    /// Active tokens, oldest first.
    async fn list(&self) -> Result<Vec<StoredToken>, TokenError> {
        let mut keys = self
            .state
            .kv()
            .keys()
            .await
            .map_err(|e| shared(&format!("listing bucket {}", self.state.name()), e))?;
        let mut names = Vec::new();
        while let Some(key) = keys.next().await {
            let key =
                key.map_err(|e| shared(&format!("listing bucket {}", self.state.name()), e))?;
            if key.starts_with(TOKEN_PREFIX) {
                names.push(key);
            }
        }
        let mut tokens = Vec::with_capacity(names.len());
        for key in names {
            let Some(value) = self.state.kv().get(&key).await.map_err(|e| {
                shared(&format!("reading {key} of bucket {}", self.state.name()), e)
            })?
            else {
                continue;
            };
            let token: StoredToken = serde_json::from_slice(&value)
                .map_err(|e| shared(&format!("{key} of bucket {}", self.state.name()), e))?;
            if !missed_by_lag(token.created_at) {
                tokens.push(token);
            }
        }
        tokens.sort_by_key(|t| t.created_at);
        Ok(tokens)
    }

    /// The digests a receiver accepts now.
    async fn token_set(&self) -> Result<TokenSet, TokenError> {
        TokenSet::from_stored(&self.list().await?)
    }

    /// Creates a token; refused when [`MAX_ACTIVE_TOKENS`] are active.
    async fn create(&self) -> Result<(TokenId, Token), TokenError> {
        let (token, stored) = new_token()?;
        self.claim(&stored.id).await?;
        let value = serde_json::to_vec(&stored).map_err(|e| shared("encoding a token", e))?;
        self.state
            .kv()
            .create(format!("{TOKEN_PREFIX}{}", stored.id), Bytes::from(value))
            .await
            .map_err(|e| {
                shared(
                    &format!("storing a token in bucket {}", self.state.name()),
                    e,
                )
            })?;
        let _ = self
            .state
            .kv()
            .put(TOKENS_INITIALIZED, Bytes::from_static(b"1"))
            .await;
        Ok((stored.id, token))
    }

    /// Claims a place for the token `id` among the active ones, or refuses when
    /// [`MAX_ACTIVE_TOKENS`] are active or being made. The count is that of `tokens-active`
    /// alone, written only at the revision it was read at: of two `token new` that read the
    /// same ids, one write fails and that one reads again.
    async fn claim(&self, id: &TokenId) -> Result<(), TokenError> {
        for attempt in 0..MAX_CLAIM_ATTEMPTS {
            if attempt > 0 {
                // Another wrote first, or this read came from a replica behind: back off a
                // little, longer each time, so that a lagging replica can catch up.
                tokio::time::sleep(Duration::from_millis(5 * attempt.min(20) as u64)).await;
            }
            let (claims, revision) = self.claims().await?;
            let mut claims = self.still_active(claims).await?;
            if claims.len() >= MAX_ACTIVE_TOKENS {
                return Err(TokenError::TooMany);
            }
            claims.push(Claim {
                id: id.clone(),
                at: Utc::now(),
            });
            slow_claim().await;
            if self.write_claims(&claims, revision).await? {
                return Ok(());
            }
        }
        Err(self.claims_error(&"other token commands kept claiming at once; try again"))
    }

    /// The ids of `claims` still active: a token revoked (purged; a lagging replica may still
    /// show it, which only counts it a moment longer) or never stored after its grace is
    /// dropped. A stale read never drops one, as only a revoke leaves a purge behind.
    async fn still_active(&self, claims: Vec<Claim>) -> Result<Vec<Claim>, TokenError> {
        let now = Utc::now();
        let mut active = Vec::with_capacity(claims.len() + 1);
        for claim in claims {
            let key = format!("{TOKEN_PREFIX}{}", claim.id);
            let entry = self
                .state
                .kv()
                .entry(&key)
                .await
                .map_err(|e| self.claims_error(&e))?;
            let keep = match entry {
                Some(entry) if !missed_by_lag(claim.at) => entry.operation == kv::Operation::Put,
                _ => (now - claim.at).num_seconds() < CLAIM_GRACE_SECONDS,
            };
            if keep {
                active.push(claim);
            }
        }
        Ok(active)
    }

    /// Takes the id of a revoked token out of `tokens-active`, after its purge. A failure
    /// leaves an id that the next `token new` drops, as its token is purged.
    async fn release(&self, id: &TokenId) {
        for _ in 0..MAX_CLAIM_ATTEMPTS {
            let Ok((mut claims, revision)) = self.claims().await else {
                return;
            };
            claims.retain(|c| c.id != *id);
            if !matches!(self.write_claims(&claims, revision).await, Ok(false)) {
                return;
            }
        }
    }

    /// The ids of `tokens-active` and the revision they were read at (`None`: never written).
    /// Never written or deleted, they are the tokens stored (a bucket of an earlier version).
    async fn claims(&self) -> Result<(Vec<Claim>, Option<u64>), TokenError> {
        let (value, revision) =
            (self.state.read_at(ACTIVE_TOKENS).await).map_err(TokenError::Shared)?;
        let claims = match value {
            Some(value) => serde_json::from_slice(&value).map_err(|e| self.claims_error(&e))?,
            None => (self.list().await?.into_iter())
                .map(|t| Claim {
                    id: t.id,
                    at: t.created_at,
                })
                .collect(),
        };
        Ok((claims, revision))
    }

    /// Writes the claims if the key is still at `revision`; `false` if another wrote first.
    async fn write_claims(
        &self,
        claims: &[Claim],
        revision: Option<u64>,
    ) -> Result<bool, TokenError> {
        let value = Bytes::from(serde_json::to_vec(claims).map_err(|e| self.claims_error(&e))?);
        (self.state.write_at(ACTIVE_TOKENS, value, revision).await).map_err(TokenError::Shared)
    }

    fn claims_error(&self, e: &dyn std::fmt::Display) -> TokenError {
        shared(
            &format!("claiming a token in bucket {}", self.state.name()),
            e,
        )
    }

    /// Creates the first token if none was ever made; `None` if one was. Only one receiver
    /// of many starting together wins.
    async fn create_first(&self) -> Result<Option<(TokenId, Token)>, TokenError> {
        match self
            .state
            .kv()
            .create(TOKENS_INITIALIZED, Bytes::from_static(b"1"))
            .await
        {
            Ok(_) => self.create().await.map(Some),
            Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => Ok(None),
            Err(e) => Err(shared(&format!("writing bucket {}", self.state.name()), e)),
        }
    }

    /// Revokes the token `id`; every receiver's watch sees it at once.
    async fn revoke(&self, id: &str) -> Result<StoredToken, TokenError> {
        let key = format!("{TOKEN_PREFIX}{id}");
        let valid_key = !id.is_empty()
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        let value = if valid_key {
            self.state
                .kv()
                .get(&key)
                .await
                .map_err(|e| shared(&format!("reading bucket {}", self.state.name()), e))?
        } else {
            None
        };
        let Some(value) = value else {
            return Err(TokenError::UnknownId(id.to_owned()));
        };
        let stored: StoredToken = serde_json::from_slice(&value).map_err(|e| shared(&key, e))?;
        self.state
            .kv()
            .purge(&key)
            .await
            .map_err(|e| shared(&format!("revoking {id} in bucket {}", self.state.name()), e))?;
        self.release(&stored.id).await;
        Ok(stored)
    }

    /// Writes last-use times back (later times win; a lost race is simply retried next time).
    async fn record_use(&self, used: &HashMap<TokenId, DateTime<Utc>>) {
        for (id, at) in used {
            let key = format!("{TOKEN_PREFIX}{id}");
            let Ok(Some(entry)) = self.state.kv().entry(&key).await else {
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
                    .state
                    .kv()
                    .update(&key, Bytes::from(value), entry.revision)
                    .await;
            }
        }
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
            let watch = self.state.kv().watch(format!("{TOKEN_PREFIX}>")).await;
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
                                log::warn!("token watch on bucket {}: {e}; restarting it", self.state.name());
                                break;
                            }
                            None => break,
                        },
                        _ = full.tick() => self.reload(&live, &mut tokens).await,
                        _ = flush.tick() => self.record_use(&live.take_used()).await,
                    }
                },
                Err(e) => log::warn!(
                    "cannot watch the tokens in bucket {}: {e}",
                    self.state.name()
                ),
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
                Err(e) => log::warn!("{} of bucket {}: {e}", entry.key, self.state.name()),
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
    bucket: TokenBucket,
}

fn token_error(e: JournalError) -> TokenError {
    TokenError::Shared(e.to_string())
}

impl SharedTokens {
    /// Connects (or reuses the process's connection) and opens the bucket.
    pub fn open(settings: &NatsSettings) -> Result<Self, TokenError> {
        let bucket = StateBucket::open_shared(settings).map_err(token_error)?;
        Ok(SharedTokens {
            bucket: TokenBucket { state: bucket },
        })
    }

    /// Active tokens, oldest first.
    pub fn list(&self) -> Result<Vec<StoredToken>, TokenError> {
        let bucket = self.bucket.clone();
        block_on(async move { Ok(bucket.list().await) }).map_err(token_error)?
    }

    /// Creates a token; refused when two are active.
    pub fn create(&self) -> Result<(TokenId, Token), TokenError> {
        let bucket = self.bucket.clone();
        block_on(async move { Ok(bucket.create().await) }).map_err(token_error)?
    }

    /// Creates the first token if none was ever made (by any receiver); `None` if one was.
    pub fn create_first(&self) -> Result<Option<(TokenId, Token)>, TokenError> {
        let bucket = self.bucket.clone();
        block_on(async move { Ok(bucket.create_first().await) }).map_err(token_error)?
    }

    /// Revokes a token; every listener refuses it within milliseconds.
    pub fn revoke(&self, id: &str) -> Result<StoredToken, TokenError> {
        let bucket = self.bucket.clone();
        let id = id.to_owned();
        block_on(async move { Ok(bucket.revoke(&id).await) }).map_err(token_error)?
    }

    /// The tokens accepted now, as a set a listener keeps up to date with [`Self::follow`].
    pub fn live(&self) -> Result<LiveTokens, TokenError> {
        let bucket = self.bucket.clone();
        let set = block_on(async move { Ok(bucket.token_set().await) }).map_err(token_error)??;
        Ok(LiveTokens::fixed(set))
    }

    /// Keeps `live` equal to the bucket's tokens until `stop` resolves.
    pub async fn follow(self, live: Arc<LiveTokens>, stop: impl Future<Output = ()>) {
        self.bucket.follow(live, stop).await
    }
}
