//! `Sequence`: a record's place in the total order of a `data_dir`.
//!
//! A sequence is a Unix epoch in nanoseconds (19 digits, like Stitch's `_sdc_sequence`), made
//! strictly increasing by never going below the previous one plus one. Each record of a journal
//! entry gets its own sequence, so `MAX(_sdc_sequence)` per key always finds one latest version.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Sequence(u64);

impl Sequence {
    pub const fn new(value: u64) -> Self {
        Sequence(value)
    }

    pub const fn get(self) -> u64 {
        self.0
    }

    /// The sequence `n` records after this one.
    pub const fn offset(self, n: u64) -> Self {
        Sequence(self.0 + n)
    }
}

impl fmt::Display for Sequence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Hands out sequences: wall-clock nanoseconds, but never less than the last one plus one.
#[derive(Debug)]
pub struct SequenceClock {
    next: u64,
}

impl SequenceClock {
    /// A clock that will never hand out a sequence below `floor`.
    pub fn starting_after(last: Option<Sequence>) -> Self {
        SequenceClock {
            next: last.map_or(0, |s| s.0 + 1),
        }
    }

    /// Reserves `count` consecutive sequences (at least one) and returns the first.
    pub fn allocate(&mut self, count: u64, now_nanos: u64) -> Sequence {
        let first = self.next.max(now_nanos);
        self.next = first + count.max(1);
        Sequence(first)
    }
}

/// Nanoseconds since the Unix epoch, from the system clock.
pub fn now_nanos() -> u64 {
    let now = chrono::Utc::now();
    now.timestamp_nanos_opt().map_or(0, |n| n.max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocation_is_strictly_increasing_even_when_the_clock_goes_back() {
        let mut clock = SequenceClock::starting_after(None);
        let a = clock.allocate(3, 1_000);
        let b = clock.allocate(1, 900);
        let c = clock.allocate(1, 5_000);
        assert_eq!(a.get(), 1_000);
        assert_eq!(b.get(), 1_003);
        assert_eq!(c.get(), 5_000);
    }

    #[test]
    fn restart_continues_after_the_last_sequence() {
        let mut clock = SequenceClock::starting_after(Some(Sequence::new(10_000)));
        assert_eq!(clock.allocate(1, 5).get(), 10_001);
    }
}
