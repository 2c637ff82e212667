//! Idempotency: a delivery whose id (the `idempotency_header` value) was already journaled is
//! answered 200 and not journaled again.
//!
//! [`SeenIds`] remembers the ids of journaled deliveries for a window (`idempotency_window_hours`,
//! and at most `idempotency_max_ids` of them, the oldest forgotten first). The id is stored in
//! the journal entry's headers, so on start the set is rebuilt from the entries received within
//! the window and survives restarts. Concurrent deliveries with the same id cannot both be
//! journaled: the first [`claim`](SeenIds::claim)s the id, later ones wait for it to be
//! journaled (then they are duplicates) or to fail (then the next one claims it).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use http::HeaderMap;
use sha2::{Digest, Sha256};
use tokio::sync::watch;

/// `idempotency_header` and the ids seen.
pub struct Idempotency {
    /// Lower case.
    pub header: String,
    pub seen: Arc<SeenIds>,
}

/// Ids longer than this are not ids: such a header is refused.
pub const MAX_IDEMPOTENCY_ID_BYTES: usize = 1024;

/// A delivery id header that holds no id.
#[derive(Debug, thiserror::Error)]
#[error("{header} must be 1 to {MAX_IDEMPOTENCY_ID_BYTES} bytes")]
pub struct BadDeliveryId {
    header: String,
}

impl Idempotency {
    /// The request's delivery id, if it has one.
    pub fn delivery_id<'h>(
        &self,
        headers: &'h HeaderMap,
    ) -> Result<Option<&'h [u8]>, BadDeliveryId> {
        let Some(value) = headers
            .get(self.header.as_str())
            .or_else(|| headers.get(shopify_alias(&self.header)?.as_str()))
        else {
            return Ok(None);
        };
        let id = value.as_bytes();
        if id.is_empty() || id.len() > MAX_IDEMPOTENCY_ID_BYTES {
            return Err(BadDeliveryId {
                header: self.header.clone(),
            });
        }
        Ok(Some(id))
    }
}

/// Headers providers put a delivery's id in, for a refusal's log line when no
/// `idempotency_header` is set.
const DELIVERY_ID_HEADERS: [&str; 6] = [
    "x-github-delivery",
    "x-gitlab-event-uuid",
    "x-shopify-webhook-id",
    "webhook-id",
    "x-amz-sns-message-id",
    "x-request-id",
];

/// The request's delivery id and the header holding it, for a refusal's log line: `idempotency_header`'s, else one of
/// [`DELIVERY_ID_HEADERS`].
pub fn delivery_id_shown<'h>(
    headers: &'h HeaderMap,
    idempotency: Option<&'h Idempotency>,
) -> Option<(&'h str, &'h [u8])> {
    if let Some(idempotency) = idempotency {
        let id = idempotency.delivery_id(headers).ok().flatten()?;
        return Some((idempotency.header.as_str(), id));
    }
    DELIVERY_ID_HEADERS
        .iter()
        .find_map(|name| Some((*name, headers.get(*name)?.as_bytes())))
}

/// Shopify's headers are sent as `X-Shopify-*` or, newer, `Shopify-*`: the other name of
/// `name` (lower case), if it is a Shopify header.
fn shopify_alias(name: &str) -> Option<String> {
    match name.strip_prefix("x-shopify-") {
        Some(rest) => Some(format!("shopify-{rest}")),
        None => name
            .strip_prefix("shopify-")
            .map(|rest| format!("x-shopify-{rest}")),
    }
}

/// Ids are kept as 128 bits of their SHA-256: fixed size, whatever a sender puts in the header.
type IdKey = [u8; 16];

fn key(id: &[u8]) -> IdKey {
    let digest = Sha256::digest(id);
    let mut key = [0u8; 16];
    key.copy_from_slice(&digest[..16]);
    key
}

enum Slot {
    /// Being journaled by a request; resolves to whether it was.
    Pending(watch::Receiver<Option<bool>>),
    Journaled,
}

struct Inner {
    slots: HashMap<IdKey, Slot>,
    /// Journaled ids, oldest first, with when they were received.
    order: VecDeque<(IdKey, DateTime<Utc>)>,
}

/// The ids of recently journaled deliveries.
pub struct SeenIds {
    inner: Mutex<Inner>,
    window: Duration,
    max_ids: usize,
}

/// What a claim found.
pub enum Claim {
    /// Nobody journaled this id: journal it, then [`ClaimGuard::journaled`].
    First(ClaimGuard),
    /// Already journaled.
    Duplicate,
}

/// The right to journal one id. Dropped without [`journaled`](ClaimGuard::journaled), the id is
/// released for a retry. It can go with the entry to the journal
/// ([`crate::journal::OnDurable`]), so that an entry written after its sender hung up still
/// counts as journaled.
pub struct ClaimGuard {
    seen: Arc<SeenIds>,
    key: IdKey,
    done: Option<watch::Sender<Option<bool>>>,
}

impl ClaimGuard {
    /// The delivery is in the journal: later deliveries with this id are duplicates.
    pub fn journaled(mut self, received_at: DateTime<Utc>) {
        let mut inner = self.seen.lock();
        inner.slots.insert(self.key, Slot::Journaled);
        inner.order.push_back((self.key, received_at));
        self.seen.prune(&mut inner, Utc::now());
        drop(inner);
        if let Some(done) = self.done.take() {
            done.send_replace(Some(true));
        }
    }
}

impl Drop for ClaimGuard {
    fn drop(&mut self) {
        if let Some(done) = self.done.take() {
            let mut inner = self.seen.lock();
            // Its own claim only: the id may have been remembered as journaled meanwhile (a
            // NATS journal that found the delivery a duplicate).
            if matches!(inner.slots.get(&self.key), Some(Slot::Pending(rx)) if rx.same_channel(&done.subscribe()))
            {
                inner.slots.remove(&self.key);
            }
            drop(inner);
            done.send_replace(Some(false));
        }
    }
}

impl SeenIds {
    pub fn new(window: Duration, max_ids: usize) -> Self {
        SeenIds {
            inner: Mutex::new(Inner {
                slots: HashMap::new(),
                order: VecDeque::new(),
            }),
            window,
            max_ids: max_ids.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Notes an id read back from the journal (entries in the order they were journaled).
    pub fn remember(&self, id: &[u8], received_at: DateTime<Utc>) {
        let key = key(id);
        let mut inner = self.lock();
        if !matches!(
            inner.slots.insert(key, Slot::Journaled),
            Some(Slot::Journaled)
        ) {
            inner.order.push_back((key, received_at));
        }
        self.prune(&mut inner, Utc::now());
    }

    /// How many ids are remembered.
    pub fn len(&self) -> usize {
        self.lock().order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The oldest time still inside the window.
    pub fn window_start(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now - chrono::Duration::from_std(self.window).unwrap_or(chrono::Duration::MAX)
    }

    fn prune(&self, inner: &mut Inner, now: DateTime<Utc>) {
        let oldest = self.window_start(now);
        while let Some(&(key, at)) = inner.order.front() {
            if inner.order.len() <= self.max_ids && at >= oldest {
                break;
            }
            inner.order.pop_front();
            inner.slots.remove(&key);
        }
    }

    /// Claims `id` for journaling, waiting while another request holds it.
    pub async fn claim(self: &Arc<Self>, id: &[u8]) -> Claim {
        let key = key(id);
        loop {
            let mut pending = {
                let mut inner = self.lock();
                self.prune(&mut inner, Utc::now());
                match inner.slots.get(&key) {
                    Some(Slot::Journaled) => return Claim::Duplicate,
                    Some(Slot::Pending(rx)) => rx.clone(),
                    None => {
                        let (tx, rx) = watch::channel(None);
                        inner.slots.insert(key, Slot::Pending(rx));
                        return Claim::First(ClaimGuard {
                            seen: Arc::clone(self),
                            key,
                            done: Some(tx),
                        });
                    }
                }
            };
            // Journaled → duplicate on the next pass; failed or abandoned → claim it.
            let _ = pending.wait_for(Option::is_some).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_second_claim_waits_for_the_first_and_is_a_duplicate() {
        let seen = Arc::new(SeenIds::new(Duration::from_secs(3600), 10));
        let Claim::First(first) = seen.claim(b"evt_1").await else {
            panic!("first claim")
        };
        let second = seen.claim(b"evt_1");
        let mut second = std::pin::pin!(second);
        assert!(futures_util::FutureExt::now_or_never(second.as_mut()).is_none());
        first.journaled(Utc::now());
        assert!(matches!(second.await, Claim::Duplicate));
    }

    #[tokio::test]
    async fn a_failed_claim_lets_the_next_delivery_through() {
        let seen = Arc::new(SeenIds::new(Duration::from_secs(3600), 10));
        let Claim::First(first) = seen.claim(b"evt_1").await else {
            panic!("first claim")
        };
        drop(first);
        assert!(matches!(seen.claim(b"evt_1").await, Claim::First(_)));
    }

    /// A NATS journal found the delivery a duplicate: the id is remembered while a waiting
    /// delivery holds a claim on it, and stays remembered (and counted) when that one fails.
    #[tokio::test]
    async fn an_id_remembered_while_claimed_stays_remembered() {
        let seen = Arc::new(SeenIds::new(Duration::from_secs(3600), 10));
        let Claim::First(first) = seen.claim(b"evt_1").await else {
            panic!("first claim")
        };
        seen.remember(b"evt_1", Utc::now());
        assert_eq!(seen.len(), 1);
        drop(first);
        assert!(matches!(seen.claim(b"evt_1").await, Claim::Duplicate));
        assert_eq!(seen.len(), 1);
    }

    #[tokio::test]
    async fn the_window_is_bounded_by_count_and_age() {
        let seen = Arc::new(SeenIds::new(Duration::from_secs(3600), 2));
        let now = Utc::now();
        seen.remember(b"old", now - chrono::Duration::hours(2));
        assert_eq!(seen.len(), 0, "older than the window");
        for id in [&b"a"[..], b"b", b"c"] {
            seen.remember(id, now);
        }
        assert_eq!(seen.len(), 2);
        assert!(matches!(seen.claim(b"a").await, Claim::First(_)));
        assert!(matches!(seen.claim(b"c").await, Claim::Duplicate));
    }
}
