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
//! input order is kept and the caller can let the last one win. Input
//! already in order (a compiled route file's) is left as it is after one
//! pass that checks it.

use alloc::vec::Vec;

use super::trie::Key;

/// Sort `routes` by `(key, length)`, keeping the input order among equal
/// pairs. Uses a scratch array as long as `routes`.
pub(super) fn sort_routes<K: Key + Default, V: Copy + Default>(routes: &mut Vec<(K, u8, V)>) {
    let count = routes.len();
    // Already sorted (a compiled route file is): a stable sort changes
    // nothing. Sorted but for a short tail (a compiled file's routes and
    // then the config's few): sort the tail and merge it in.
    let Some(descent) = routes
        .windows(2)
        .position(|pair| (pair[0].0, pair[0].1) > (pair[1].0, pair[1].1))
    else {
        return;
    };
    let sorted_prefix = descent + 1;
    if count - sorted_prefix <= count / 16 {
        merge_tail(routes, sorted_prefix);
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
    let mut scratch: Vec<(K, u8, V)> = alloc::vec![(K::default(), 0, V::default()); count];
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
/// Sort `routes[sorted_prefix..]` (short) and merge it into the sorted
/// `routes[..sorted_prefix]`, stably: among equal pairs the tail's
/// routes, which came later, stay after the prefix's.
fn merge_tail<K: Key, V: Copy>(routes: &mut Vec<(K, u8, V)>, sorted_prefix: usize) {
    let mut tail = routes.split_off(sorted_prefix);
    tail.sort_by_key(|route| (route.0, route.1));
    let mut prefix_end = sorted_prefix;
    let mut tail_end = tail.len();
    routes.extend_from_slice(&tail);
    let mut write = routes.len();
    while tail_end > 0 {
        write -= 1;
        if prefix_end > 0
            && (routes[prefix_end - 1].0, routes[prefix_end - 1].1)
                > (tail[tail_end - 1].0, tail[tail_end - 1].1)
        {
            routes[write] = routes[prefix_end - 1];
            prefix_end -= 1;
        } else {
            routes[write] = tail[tail_end - 1];
            tail_end -= 1;
        }
    }
}

fn digit<K: Key>(key: K, byte: usize) -> usize {
    key.bits_at(K::BITS - 8 * (byte as u8 + 1), 8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_random::Random;

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

    #[test]
    fn sorted_input_and_a_short_unsorted_tail_sort_stably() {
        let mut random = Random(0x5eed_0f7a_11ed);
        for count in [2, 3, 17, 100, 5000] {
            for tail in [0, 1, 2, count / 16] {
                // A sorted run with repeated pairs, then a random tail
                // whose pairs also repeat those of the run.
                let mut routes: Vec<(u32, u8, u32)> = (0..count - tail)
                    .map(|index| ((random.next() as u32) & 0xff00_0000, 24, index as u32))
                    .collect();
                routes.sort_by_key(|route| (route.0, route.1));
                for (position, route) in routes.iter_mut().enumerate() {
                    route.2 = position as u32;
                }
                for index in count - tail..count {
                    let key = (random.next() as u32) & 0xff00_0000;
                    let length = if random.next().is_multiple_of(2) {
                        24
                    } else {
                        8
                    };
                    routes.push((key, length, index as u32));
                }
                let mut expected = routes.clone();
                expected.sort_by_key(|route| (route.0, route.1));
                sort_routes(&mut routes);
                assert_eq!(routes, expected, "{count} routes, tail {tail}");
            }
        }
    }
}
