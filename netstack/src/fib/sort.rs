//! Sorting a table's routes for [`super::Fib::load`]: a stable radix sort
//! by `(key, length)`.
//!
//! A full table is about a million routes in file order, which is nearly
//! but not quite sorted (the 2026-05-11 RIS IPv4 dump has 89k descents).
//! A comparison sort spends some twenty comparisons of 128-bit keys per
//! route; a least-significant-digit radix sort over bytes spends one read
//! and one write per route and per byte that is not the same in every
//! route, which for IPv4 is at most five passes, for IPv6 (prefixes of
//! at most 64 bits) about nine. It is stable, so among equal prefixes the
//! input order is kept and the caller can let the last one win.

use alloc::vec::Vec;

use super::trie::Key;

/// Sort `routes` by `(key, length)`, keeping the input order among equal
/// pairs. Uses a scratch array as long as `routes`.
pub(super) fn sort_routes<K: Key + Default>(routes: &mut Vec<(K, u8, u32)>) {
    let count = routes.len();
    if count < 2 {
        return;
    }
    // Digit 0 is the length, digit 1 + i the key's byte i counted from the
    // least significant one.
    let digits = 1 + usize::from(K::BITS / 8);
    let mut histograms: Vec<[u32; 256]> = alloc::vec![[0; 256]; digits];
    for &(key, length, _) in routes.iter() {
        histograms[0][usize::from(length)] += 1;
        for (byte, histogram) in histograms[1..].iter_mut().enumerate() {
            histogram[digit(key, byte)] += 1;
        }
    }
    let mut scratch: Vec<(K, u8, u32)> = alloc::vec![(K::default(), 0, 0); count];
    for (index, histogram) in histograms.iter().enumerate() {
        // A digit every route shares does not reorder anything.
        if histogram.iter().any(|&bucket| bucket as usize == count) {
            continue;
        }
        let mut starts = [0usize; 256];
        let mut total = 0;
        for (start, &bucket) in starts.iter_mut().zip(histogram) {
            *start = total;
            total += bucket as usize;
        }
        for &route in routes.iter() {
            let value = if index == 0 {
                usize::from(route.1)
            } else {
                digit(route.0, index - 1)
            };
            scratch[starts[value]] = route;
            starts[value] += 1;
        }
        core::mem::swap(routes, &mut scratch);
    }
}

/// Byte `byte` of `key`, counted from the least significant one.
#[inline(always)]
fn digit<K: Key>(key: K, byte: usize) -> usize {
    key.bits_at(K::BITS - 8 * (byte as u8 + 1), 8)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator (xorshift).
    struct Random(u64);

    impl Random {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    #[test]
    fn sorts_like_a_stable_comparison_sort() {
        let mut random = Random(0x9e37_79b9_7f4a_7c15);
        for count in [0, 1, 2, 3, 100, 5000] {
            // Few distinct keys and lengths: many equal pairs whose input
            // order (the third field) must survive.
            let ipv4: Vec<(u32, u8, u32)> = (0..count)
                .map(|index| {
                    let key = (random.next() as u32) & 0xff0f_00ff;
                    (key, (random.next() % 4) as u8 + 20, index)
                })
                .collect();
            let ipv6: Vec<(u128, u8, u32)> = (0..count)
                .map(|index| {
                    let key = u128::from(random.next() & 0x00ff_0000_0000_00f0) << 64;
                    (key, (random.next() % 3) as u8 + 40, index)
                })
                .collect();
            let mut expected = ipv4.clone();
            expected.sort_by_key(|route| (route.0, route.1));
            let mut sorted = ipv4;
            sort_routes(&mut sorted);
            assert_eq!(sorted, expected);
            let mut expected = ipv6.clone();
            expected.sort_by_key(|route| (route.0, route.1));
            let mut sorted = ipv6;
            sort_routes(&mut sorted);
            assert_eq!(sorted, expected);
        }
    }
}
