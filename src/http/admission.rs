//! Admission by memory: request bodies in flight share one byte budget
//! (`max_inflight_body_bytes`).
//!
//! What a burst of webhooks costs is the memory of their bodies, not their number: a thousand
//! 600-byte events take less than one 20 MB export. So the receiver reserves a body's bytes
//! before holding them — its declared `Content-Length` up front, and, while it is read, each
//! growth of its buffer (a chunked or compressed body) — and a request whose bytes do not fit
//! gets 429 with `Retry-After`. Small webhooks are refused only when the budget is truly spent;
//! a burst of large bodies is refused once a few are in flight. The reservation is returned
//! when the request ends (the body is journaled and freed by then).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The byte budget shared by all requests of a listener.
#[derive(Debug)]
pub struct InflightBytes {
    limit: u64,
    used: AtomicU64,
}

impl InflightBytes {
    /// A budget of `limit` bytes.
    pub fn new(limit: u64) -> Arc<Self> {
        Arc::new(InflightBytes {
            limit,
            used: AtomicU64::new(0),
        })
    }

    /// An empty reservation against this budget.
    pub fn reservation(self: &Arc<Self>) -> Reservation {
        Reservation {
            budget: Some(Arc::clone(self)),
            bytes: 0,
        }
    }

    /// Bytes reserved now.
    pub fn in_use(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    fn try_take(&self, bytes: u64) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                let after = used.checked_add(bytes)?;
                (after <= self.limit).then_some(after)
            })
            .is_ok()
    }

    fn give_back(&self, bytes: u64) {
        self.used.fetch_sub(bytes, Ordering::AcqRel);
    }
}

/// Bytes one request holds of an [`InflightBytes`] budget; returned when dropped.
#[derive(Debug)]
pub struct Reservation {
    budget: Option<Arc<InflightBytes>>,
    bytes: u64,
}

impl Reservation {
    /// A reservation that is never refused (decoding outside a listener).
    pub fn unlimited() -> Self {
        Reservation {
            budget: None,
            bytes: 0,
        }
    }

    /// Grows the reservation to `total` bytes (nothing if it holds that much already);
    /// `false`, holding what it held, if the budget cannot spare the difference.
    pub fn grow_to(&mut self, total: u64) -> bool {
        let Some(budget) = &self.budget else {
            return true;
        };
        if total <= self.bytes {
            return true;
        }
        if !budget.try_take(total - self.bytes) {
            return false;
        }
        self.bytes = total;
        true
    }

    /// Bytes held.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if let Some(budget) = &self.budget {
            budget.give_back(self.bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_share_the_budget_and_give_it_back() {
        let budget = InflightBytes::new(100);
        let mut a = budget.reservation();
        let mut b = budget.reservation();
        assert!(a.grow_to(60));
        assert!(a.grow_to(50), "shrinking asks for nothing");
        assert_eq!(a.bytes(), 60);
        assert!(!b.grow_to(41), "60 + 41 > 100");
        assert_eq!(b.bytes(), 0, "a refused growth holds nothing more");
        assert!(b.grow_to(40));
        assert_eq!(budget.in_use(), 100);
        drop(a);
        assert_eq!(budget.in_use(), 40);
        assert!(b.grow_to(100));
        drop(b);
        assert_eq!(budget.in_use(), 0);
        assert!(Reservation::unlimited().grow_to(u64::MAX));
    }
}
