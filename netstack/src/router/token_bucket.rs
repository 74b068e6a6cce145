//! A token bucket rate limiter driven by the time passed in (RFC 4443 §2.4(f)).
//!
//! RFC 4443 §2.4(f) asks for a token bucket rather than a fixed "one per T"
//! timer, so that bursts such as traceroute's work: the bucket holds up to
//! `burst` tokens, refills at `rate_per_second`, and each event takes one.
//! Tokens are kept in millionths, so refill is exact to the microsecond.

use smoltcp::time::Instant;

/// One token, in the bucket's fixed-point unit.
const ONE_TOKEN: u64 = 1_000_000;

/// A token bucket; starts full.
#[derive(Clone, Debug)]
pub(super) struct TokenBucket {
    rate_per_second: u64,
    capacity: u64,
    tokens: u64,
    last_refill: Option<Instant>,
}

impl TokenBucket {
    /// A full bucket of `burst` tokens refilled at `rate_per_second`.
    pub(super) fn new(rate_per_second: u32, burst: u32) -> TokenBucket {
        let capacity = u64::from(burst) * ONE_TOKEN;
        TokenBucket {
            rate_per_second: u64::from(rate_per_second),
            capacity,
            tokens: capacity,
            last_refill: None,
        }
    }

    /// Takes one token at time `now`; `false` when the bucket is empty.
    /// Time going backwards refills nothing.
    pub(super) fn take(&mut self, now: Instant) -> bool {
        if let Some(last) = self.last_refill
            && now > last
        {
            let elapsed = (now - last).total_micros();
            // Microseconds × tokens per second = millionths of a token.
            let added = elapsed.saturating_mul(self.rate_per_second);
            self.tokens = self.tokens.saturating_add(added).min(self.capacity);
        }
        if self.last_refill.is_none_or(|last| now > last) {
            self.last_refill = Some(now);
        }
        if self.tokens >= ONE_TOKEN {
            self.tokens -= ONE_TOKEN;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    //! RFC 4443 §2.4(f): burst B, then N per second.
    use super::*;

    #[test]
    fn burst_then_rate() {
        let mut bucket = TokenBucket::new(10, 10);
        let start = Instant::from_secs(100);
        for _ in 0..10 {
            assert!(bucket.take(start));
        }
        assert!(!bucket.take(start));
        // 10 per second: one token every 100 ms.
        assert!(!bucket.take(start + smoltcp::time::Duration::from_millis(99)));
        assert!(bucket.take(start + smoltcp::time::Duration::from_millis(100)));
        assert!(!bucket.take(start + smoltcp::time::Duration::from_millis(150)));
        // A long pause refills only up to the burst.
        let later = start + smoltcp::time::Duration::from_secs(3600);
        for _ in 0..10 {
            assert!(bucket.take(later));
        }
        assert!(!bucket.take(later));
        // Time going backwards does not refill or panic.
        assert!(!bucket.take(start));
    }

    #[test]
    fn zero_disables() {
        let mut bucket = TokenBucket::new(0, 0);
        assert!(!bucket.take(Instant::from_secs(1)));
        assert!(!bucket.take(Instant::from_secs(100_000)));
    }
}
