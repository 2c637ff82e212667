//! Webhook URL tokens.
//!
//! A token is 256 bits from the OS random source, shown once (in the URL) when created. The
//! token store keeps only each token's SHA-256 digest, an id, and when it was created and last
//! used; a listener compares the digest of a presented token against the stored digests in
//! constant time.
//!
//! There is one [`Store`], opened for the journal in use: beside a local journal, the file
//! `data_dir/tokens.json` (`file`); with a NATS journal, its key-value bucket, shared by
//! every receiver (`nats`). The `token` commands and running listeners share it; a listener
//! holds the tokens it accepts as [`LiveTokens`], which [`Store::follow`] keeps up to date, so
//! that a revoked token is refused from the first request after `token revoke` returns.

mod file;
mod live;
mod nats;
mod token;

use std::future::Future;
use std::sync::Arc;

use crate::journal::JournalConfig;
use file::FileStore;
use nats::SharedTokens;

pub use live::LiveTokens;
pub use token::{
    MAX_ACTIVE_TOKENS, StoredToken, Token, TokenError, TokenId, TokenSet, webhook_url,
};

/// The token store of a journal; [`Store::open`] picks it.
pub struct Store(Kind);

enum Kind {
    File(FileStore),
    Shared(Box<SharedTokens>),
}

impl Store {
    /// The store that goes with `journal`: the file in its `data_dir`, or the bucket of a NATS
    /// journal (connecting to it).
    pub fn open(journal: &JournalConfig) -> Result<Self, TokenError> {
        Ok(Store(match journal {
            JournalConfig::Local { data_dir, .. } => Kind::File(FileStore::new(data_dir)),
            JournalConfig::Nats { settings, .. } => {
                Kind::Shared(Box::new(SharedTokens::open(settings)?))
            }
        }))
    }

    /// Active tokens, oldest first.
    pub fn list(&self) -> Result<Vec<StoredToken>, TokenError> {
        match &self.0 {
            Kind::File(store) => store.list(),
            Kind::Shared(shared) => shared.list(),
        }
    }

    /// Creates a token; refused when [`MAX_ACTIVE_TOKENS`] are active.
    pub fn create(&self) -> Result<(TokenId, Token), TokenError> {
        match &self.0 {
            Kind::File(store) => store.create(),
            Kind::Shared(shared) => shared.create(),
        }
    }

    /// Creates the first token if none was ever made; `None` if one was.
    pub fn create_first(&self) -> Result<Option<(TokenId, Token)>, TokenError> {
        match &self.0 {
            Kind::File(store) => store.create_first(),
            Kind::Shared(shared) => shared.create_first(),
        }
    }

    /// Revokes the token `id`: once this returns, no listener accepts it.
    pub fn revoke(&self, id: &str) -> Result<StoredToken, TokenError> {
        match &self.0 {
            Kind::File(store) => store.revoke(id),
            Kind::Shared(shared) => shared.revoke(id),
        }
    }

    /// The tokens accepted now, for a listener; [`Store::follow`] keeps them up to date.
    pub fn live(&self) -> Result<LiveTokens, TokenError> {
        match &self.0 {
            Kind::File(store) => LiveTokens::follow(store.clone()),
            Kind::Shared(shared) => shared.live(),
        }
    }

    /// Keeps `live` equal to the store's tokens and writes their last-use times back, until
    /// `stop` resolves.
    pub async fn follow(self, live: Arc<LiveTokens>, stop: impl Future<Output = ()>) {
        match self.0 {
            Kind::File(_) => live::keep_up(live, stop).await,
            Kind::Shared(shared) => shared.follow(live, stop).await,
        }
    }
}
