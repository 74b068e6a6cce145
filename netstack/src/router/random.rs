//! A small seeded pseudo-random generator (SplitMix64) for timer jitter and hash keys; deterministic for a given seed.
//!
//! Randomness is passed in (ARCHITECTURE.md rule 5): the router is built
//! with a seed, so host tests and pcap replay are reproducible. SplitMix64
//! (Steele, Lea and Flood, OOPSLA 2014) is not cryptographic; the hash key
//! it derives is secret only as long as the seed is (the kernel should
//! seed from a hardware source).

use smoltcp::time::Duration;

/// SplitMix64: a 64-bit state advanced by a constant, then mixed.
#[derive(Clone, Debug)]
pub(super) struct Random {
    state: u64,
}

impl Random {
    /// A generator seeded with `seed`.
    pub(super) fn new(seed: u64) -> Random {
        Random { state: seed }
    }

    /// The next 64 random bits.
    pub(super) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut value = self.state;
        value = (value ^ (value >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        value = (value ^ (value >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        value ^ (value >> 31)
    }

    /// A number uniform in `0..bound` (0 when `bound` is 0), by the
    /// multiply-shift method.
    pub(super) fn below(&mut self, bound: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(bound)) >> 64) as u64
    }

    /// A duration uniform in `[minimum, maximum]`, at millisecond resolution.
    pub(super) fn duration_between(&mut self, minimum: Duration, maximum: Duration) -> Duration {
        let low = minimum.total_millis();
        let high = maximum.total_millis().max(low);
        Duration::from_millis(low + self.below(high - low + 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_in_range() {
        let mut first = Random::new(7);
        let mut second = Random::new(7);
        for _ in 0..100 {
            assert_eq!(first.next_u64(), second.next_u64());
        }
        let minimum = Duration::from_millis(500);
        let maximum = Duration::from_millis(1500);
        let mut seen_low = false;
        let mut seen_high = false;
        for _ in 0..10_000 {
            let value = first.duration_between(minimum, maximum);
            assert!(value >= minimum && value <= maximum);
            seen_low |= value < Duration::from_millis(600);
            seen_high |= value > Duration::from_millis(1400);
        }
        assert!(seen_low && seen_high);
        assert_eq!(first.below(0), 0);
    }
}
