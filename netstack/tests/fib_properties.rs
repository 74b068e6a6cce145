//! Property tests of `netstack::fib::Fib` against a naive reference: a list
//! of routes searched linearly for the longest match.
//!
//! Seeded xorshift loops with bounded counts keep the run deterministic and
//! fast in debug builds. Prefixes cluster around a few bases so that routes
//! nest, overlap and share nodes; lengths cover 0..=128 (default and host
//! routes included), natively and under the pool6 fast path.

use netstack::fib::{Fib, NextHopIndex};
use smoltcp::wire::{Ipv6Address, Ipv6Cidr};

/// xorshift64*: small, seeded, good enough to pick test cases.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
    fn bits(&mut self) -> u128 {
        (u128::from(self.next()) << 64) | u128::from(self.next())
    }
}

fn mask(length: u8) -> u128 {
    if length == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(length))
    }
}

/// The reference: routes in a list, longest match by linear search.
#[derive(Default)]
struct Reference {
    routes: Vec<(u128, u8, NextHopIndex)>,
}

impl Reference {
    fn insert(&mut self, bits: u128, length: u8, next_hop: NextHopIndex) -> Option<NextHopIndex> {
        let bits = bits & mask(length);
        for route in &mut self.routes {
            if route.0 == bits && route.1 == length {
                return Some(core::mem::replace(&mut route.2, next_hop));
            }
        }
        self.routes.push((bits, length, next_hop));
        None
    }
    fn remove(&mut self, bits: u128, length: u8) -> Option<NextHopIndex> {
        let bits = bits & mask(length);
        let at = self
            .routes
            .iter()
            .position(|route| route.0 == bits && route.1 == length)?;
        Some(self.routes.swap_remove(at).2)
    }
    fn lookup(&self, destination: u128) -> Option<NextHopIndex> {
        self.routes
            .iter()
            .filter(|route| destination & mask(route.1) == route.0)
            .max_by_key(|route| route.1)
            .map(|route| route.2)
    }
}

/// Bases that routes cluster around: native space, the well-known pool6, a
/// network-specific pool6, and the all-zero and all-one corners.
const BASES: [u128; 5] = [
    0x2001_0db8_0000_0000_0000_0000_0000_0000,
    0x0064_ff9b_0000_0000_0000_0000_c000_0200,
    0x2001_0db8_0064_0000_0000_0000_c633_6400,
    0,
    u128::MAX,
];

/// A random prefix: near a base, with a length that hits the interesting
/// boundaries (0, 16, 24, 96..=128) more often than chance.
fn random_prefix(random: &mut Random) -> (u128, u8) {
    let base = BASES[random.below(BASES.len() as u64) as usize];
    let length = match random.below(8) {
        0 => [0, 1, 16, 17, 24, 25, 128, 127][random.below(8) as usize],
        1..=3 => 96 + random.below(33) as u8,
        _ => random.below(129) as u8,
    };
    // Keep the first bits of the base, randomize a few after them.
    let keep = length.saturating_sub(random.below(12) as u8);
    let bits = (base & mask(keep)) | (random.bits() & !mask(keep));
    (bits, length)
}

/// A destination inside or just beside a known prefix, or anywhere.
fn random_destination(random: &mut Random, reference: &Reference) -> u128 {
    if reference.routes.is_empty() || random.below(8) == 0 {
        let (bits, length) = random_prefix(random);
        return bits | (random.bits() & !mask(length));
    }
    let route = reference.routes[random.below(reference.routes.len() as u64) as usize];
    let inside = route.0 | (random.bits() & !mask(route.1));
    match random.below(4) {
        // Flip the last prefix bit: just outside the route.
        0 if route.1 > 0 => inside ^ (1u128 << (128 - u32::from(route.1))),
        // The first or last address of the route.
        1 => route.0,
        2 => route.0 | !mask(route.1),
        _ => inside,
    }
}

fn cidr(bits: u128, length: u8) -> Ipv6Cidr {
    Ipv6Cidr::new(Ipv6Address::from_bits(bits), length)
}

fn tables() -> Vec<Fib> {
    vec![
        Fib::new(),
        Fib::with_translation_prefix(cidr(0x0064_ff9b << 96, 96)),
        Fib::with_translation_prefix(cidr(0x2001_0db8_0064 << 80, 96)),
    ]
}

fn check_lookups(fib: &Fib, reference: &Reference, random: &mut Random, count: usize) {
    for _ in 0..count {
        let destination = random_destination(random, reference);
        assert_eq!(
            fib.lookup(Ipv6Address::from_bits(destination)),
            reference.lookup(destination),
            "lookup of {} with {} routes",
            Ipv6Address::from_bits(destination),
            reference.routes.len()
        );
    }
}

fn check_contents(fib: &Fib, reference: &Reference) {
    assert_eq!(fib.len(), reference.routes.len());
    let mut listed: Vec<(u128, u8, NextHopIndex)> = fib
        .iter()
        .map(|(prefix, next_hop)| (prefix.address().to_bits(), prefix.prefix_len(), next_hop))
        .collect();
    listed.sort_unstable();
    let mut expected = reference.routes.clone();
    expected.sort_unstable();
    assert_eq!(listed, expected);
}

#[test]
fn random_prefix_sets_match_the_reference() {
    let mut random = Random(0x5EED_0001);
    for round in 0..100 {
        for mut fib in tables() {
            let mut reference = Reference::default();
            let count = 1 + random.below(if round % 4 == 0 { 400 } else { 60 });
            for _ in 0..count {
                let (bits, length) = random_prefix(&mut random);
                let next_hop = random.below(16) as NextHopIndex;
                assert_eq!(
                    fib.insert(cidr(bits, length), next_hop),
                    reference.insert(bits, length, next_hop)
                );
            }
            check_lookups(&fib, &reference, &mut random, 300);
            check_contents(&fib, &reference);
        }
    }
}

#[test]
fn random_insert_and_remove_sequences_match_the_reference() {
    let mut random = Random(0x5EED_0002);
    for _ in 0..20 {
        for mut fib in tables() {
            let mut reference = Reference::default();
            for step in 0..600 {
                let remove_existing = !reference.routes.is_empty() && random.below(5) < 2;
                if remove_existing {
                    let at = random.below(reference.routes.len() as u64) as usize;
                    let (bits, length, _) = reference.routes[at];
                    // Host bits set on purpose: removal masks them too.
                    let noisy = bits | (random.bits() & !mask(length));
                    assert_eq!(
                        fib.remove(cidr(noisy, length)),
                        reference.remove(bits, length)
                    );
                } else if random.below(6) == 0 {
                    let (bits, length) = random_prefix(&mut random);
                    assert_eq!(
                        fib.remove(cidr(bits, length)),
                        reference.remove(bits, length)
                    );
                } else {
                    let (bits, length) = random_prefix(&mut random);
                    let next_hop = random.below(8) as NextHopIndex;
                    assert_eq!(
                        fib.insert(cidr(bits, length), next_hop),
                        reference.insert(bits, length, next_hop)
                    );
                }
                if step % 25 == 0 {
                    check_lookups(&fib, &reference, &mut random, 40);
                }
            }
            check_lookups(&fib, &reference, &mut random, 400);
            check_contents(&fib, &reference);
            // Emptying the table prunes every node.
            for (bits, length, _) in reference.routes.clone() {
                assert!(fib.remove(cidr(bits, length)).is_some());
            }
            assert!(fib.is_empty());
            assert_eq!(fib.statistics().nodes, 0);
            assert_eq!(fib.lookup(Ipv6Address::from_bits(random.bits())), None);
        }
    }
}

#[test]
fn bulk_load_matches_incremental_inserts() {
    let mut random = Random(0x5EED_0003);
    for _ in 0..40 {
        for mut fib in tables() {
            let mut reference = Reference::default();
            let mut routes = Vec::new();
            for _ in 0..1 + random.below(300) {
                let (bits, length) = random_prefix(&mut random);
                let next_hop = random.below(32) as NextHopIndex;
                // Host bits and duplicates on purpose: the last one wins.
                let noisy = bits | (random.bits() & !mask(length));
                routes.push((cidr(noisy, length), next_hop));
                reference.insert(bits, length, next_hop);
            }
            fib.load(routes);
            check_lookups(&fib, &reference, &mut random, 300);
            check_contents(&fib, &reference);
            // And it stays updatable.
            for _ in 0..100 {
                let (bits, length) = random_prefix(&mut random);
                if random.below(2) == 0 {
                    assert_eq!(
                        fib.remove(cidr(bits, length)),
                        reference.remove(bits, length)
                    );
                } else {
                    assert_eq!(
                        fib.insert(cidr(bits, length), 99),
                        reference.insert(bits, length, 99)
                    );
                }
            }
            check_lookups(&fib, &reference, &mut random, 300);
            check_contents(&fib, &reference);
        }
    }
}
