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

/// Every destination of one stride-8 node's 256 slots, plus a child below
/// each, checked against the reference: exercises leaf runs that cross the
/// 64-slot chunk boundaries, chunks of 0..=8 runs (the first four are held
/// inline, the rest in the shared leaf array) and chunks made of children.
#[test]
fn dense_nodes_match_the_reference_slot_by_slot() {
    let mut random = Random(0x5EED_0004);
    // A node at offset 40 (routes /41../48) and one at 104 under pool6.
    let bases = [
        (0x2001_0db8_0100_0000_0000_0000_0000_0000u128, 40u8),
        (0x0064_ff9b_0000_0000_0000_0000_c633_0000, 112),
    ];
    for round in 0..30 {
        for mut fib in tables() {
            for &(base, offset) in &bases {
                let mut reference = Reference::default();
                let density = 1 + random.below(1 + round * 8);
                for _ in 0..density {
                    let length = offset + 1 + random.below(8) as u8;
                    let bits = base | (random.bits() & !mask(offset));
                    let next_hop = random.below(6) as NextHopIndex;
                    assert_eq!(
                        fib.insert(cidr(bits, length), next_hop),
                        reference.insert(bits, length, next_hop)
                    );
                }
                // Children: routes one level deeper under some slots.
                for _ in 0..random.below(20) {
                    let bits = base | (random.bits() & !mask(offset));
                    let length = offset + 9 + random.below(8) as u8;
                    fib.insert(cidr(bits, length), 7);
                    reference.insert(bits, length, 7);
                }
                if random.below(2) == 0 {
                    fib.insert(cidr(base, offset - 3), 8);
                    reference.insert(base, offset - 3, 8);
                }
                let check = |fib: &Fib, reference: &Reference, random: &mut Random| {
                    for slot in 0..256u128 {
                        let shift = 128 - u32::from(offset) - 8;
                        let destination =
                            base | (slot << shift) | (random.bits() & ((1u128 << shift) - 1));
                        assert_eq!(
                            fib.lookup(Ipv6Address::from_bits(destination)),
                            reference.lookup(destination),
                            "slot {slot} of {}",
                            Ipv6Address::from_bits(base)
                        );
                    }
                };
                check(&fib, &reference, &mut random);
                // Remove half, one by one, checking the node as it thins.
                let routes = reference.routes.clone();
                for (index, &(bits, length, _)) in routes.iter().enumerate() {
                    if index % 2 == 0 {
                        assert_eq!(
                            fib.remove(cidr(bits, length)),
                            reference.remove(bits, length)
                        );
                        if index % 8 == 0 {
                            check(&fib, &reference, &mut random);
                        }
                    }
                }
                check(&fib, &reference, &mut random);
                check_contents(&fib, &reference);
                fib.clear();
            }
        }
    }
}

/// Next hops are interned into 16-bit codes shared by routes, recycled
/// when their last route goes; many distinct next hops stay distinct.
#[test]
fn distinct_next_hops_are_kept_apart_and_recycled() {
    let mut random = Random(0x5EED_0005);
    for mut fib in tables() {
        let mut reference = Reference::default();
        for round in 0..4u32 {
            for index in 0..3000u32 {
                let (bits, length) = random_prefix(&mut random);
                // Large, scattered next hop values, new ones every round.
                let next_hop = index.wrapping_mul(2_654_435_761) ^ (round << 30);
                if next_hop == u32::MAX {
                    continue;
                }
                assert_eq!(
                    fib.insert(cidr(bits, length), next_hop),
                    reference.insert(bits, length, next_hop)
                );
            }
            check_lookups(&fib, &reference, &mut random, 500);
            check_contents(&fib, &reference);
            let mut distinct: Vec<NextHopIndex> =
                reference.routes.iter().map(|route| route.2).collect();
            distinct.sort_unstable();
            distinct.dedup();
            assert_eq!(fib.next_hop_count(), distinct.len());
            for (bits, length, _) in reference.routes.clone() {
                if random.below(3) != 0 {
                    assert_eq!(
                        fib.remove(cidr(bits, length)),
                        reference.remove(bits, length)
                    );
                }
            }
        }
        for (bits, length, _) in reference.routes.clone() {
            fib.remove(cidr(bits, length));
        }
        assert_eq!(fib.next_hop_count(), 0);
    }
}

/// At most `MAX_NEXT_HOPS` distinct next hops can be in use at once:
/// `try_insert` refuses one more and changes nothing; freeing one makes room.
#[test]
fn the_next_hop_cap_is_reported_not_overrun() {
    use netstack::fib::{MAX_NEXT_HOPS, TooManyNextHops};
    let mut fib = Fib::new();
    let base = 0x2001_0db8u128 << 96;
    fib.load(
        (0..MAX_NEXT_HOPS as u128).map(|index| (cidr(base | (index << 64), 64), index as u32)),
    );
    assert_eq!(fib.next_hop_count(), MAX_NEXT_HOPS);
    let extra = cidr(0x2001_0db9u128 << 96, 48);
    assert_eq!(fib.try_insert(extra, 1 << 20), Err(TooManyNextHops));
    assert_eq!(fib.get(extra), None);
    assert_eq!(fib.len(), MAX_NEXT_HOPS);
    // A next hop already in use is always accepted.
    assert_eq!(fib.try_insert(extra, 5), Ok(None));
    assert_eq!(fib.remove(cidr(base | (7 << 64), 64)), Some(7));
    assert_eq!(fib.try_insert(extra, 1 << 20), Ok(Some(5)));
    assert_eq!(
        fib.lookup(Ipv6Address::from_bits(0x2001_0db9u128 << 96)),
        Some(1 << 20)
    );
}

/// Churn that leaves freed runs behind makes the table compact itself;
/// lookups stay exact across compactions and memory stays bounded.
#[test]
fn update_churn_compacts_automatically() {
    let mut random = Random(0x5EED_0006);
    let mut fib = Fib::with_translation_prefix(cidr(0x0064_ff9b << 96, 96));
    let mut reference = Reference::default();
    let mut peak = 0;
    for step in 0..40_000u32 {
        // /44../48 routes under a handful of /32s and /24s under pool6.
        let (bits, length) = if random.below(2) == 0 {
            let bits = (0x2001_0db0u128 + random.below(8) as u128) << 96
                | u128::from(random.next() as u16) << 80;
            (bits, 44 + random.below(5) as u8)
        } else {
            let bits = (0x0064_ff9bu128 << 96) | u128::from(random.next() as u32 & 0x0fff_ff00);
            (bits, 96 + 20 + random.below(5) as u8)
        };
        if random.below(2) == 0 {
            assert_eq!(
                fib.insert(cidr(bits, length), step % 50),
                reference.insert(bits, length, step % 50)
            );
        } else {
            assert_eq!(
                fib.remove(cidr(bits, length)),
                reference.remove(bits, length)
            );
        }
        peak = peak.max(fib.memory_bytes());
        if step % 5000 == 0 {
            check_lookups(&fib, &reference, &mut random, 200);
        }
    }
    check_lookups(&fib, &reference, &mut random, 2000);
    check_contents(&fib, &reference);
    assert!(fib.compactions() > 0, "no automatic compaction happened");
    let mut compacted = Fib::with_translation_prefix(cidr(0x0064_ff9b << 96, 96));
    compacted.load(fib.iter());
    assert!(
        peak < 2 * compacted.memory_bytes(),
        "{peak} vs {}",
        compacted.memory_bytes()
    );
}

/// A /16 with routes longer than /24 under many of its 256 /24s is loaded
/// as a *full root* (a child at every slot, so lookups skip reading it).
/// Routes on and around each stride boundary (/16, /17, /23../25, /31../33,
/// /40, /48, /128), next to empty padding children, must match the
/// reference slot by slot, before and through updates that thin the root
/// out until it goes away with its last route, and after refilling it.
#[test]
fn full_roots_match_the_reference_through_updates() {
    let mut random = Random(0x5EED_0007);
    // A dense /16, a sparse /16 beside it (stays narrow) and pool6.
    let dense = 0x2a03_0000u128 << 96;
    let sparse = 0x2a04_0000u128 << 96;
    let lengths = [16, 17, 23, 24, 25, 31, 32, 33, 40, 47, 48, 64, 128];
    let random_route = |random: &mut Random, base: u128, slots: u64| {
        let slot = u128::from(random.below(slots)) << 104;
        let length = lengths[random.below(lengths.len() as u64) as usize];
        let bits = (base | slot | (random.bits() & !mask(24))) & mask(length);
        (bits, length)
    };
    for round in 0..12u64 {
        for mut fib in tables() {
            let mut reference = Reference::default();
            let mut routes = Vec::new();
            // 8 children make a root full: vary the count around that.
            let children = 4 + round * 2;
            for _ in 0..children * 6 {
                let (bits, length) = random_route(&mut random, dense, children);
                let next_hop = random.below(6) as NextHopIndex;
                routes.push((cidr(bits, length), next_hop));
                reference.insert(bits, length, next_hop);
            }
            for _ in 0..20 {
                let (bits, length) = random_route(&mut random, sparse, 3);
                routes.push((cidr(bits, length), 9));
                reference.insert(bits, length, 9);
            }
            if round % 3 == 0 {
                routes.push((cidr(0, 0), 11));
                reference.insert(0, 0, 11);
                routes.push((cidr(0x2a00u128 << 112, 8), 12));
                reference.insert(0x2a00u128 << 112, 8, 12);
            }
            fib.load(routes);
            let check = |fib: &Fib, reference: &Reference, random: &mut Random| {
                for base in [dense, sparse] {
                    for slot in 0..256u128 {
                        for _ in 0..2 {
                            let destination = base | (slot << 104) | (random.bits() & !mask(24));
                            assert_eq!(
                                fib.lookup(Ipv6Address::from_bits(destination)),
                                reference.lookup(destination),
                                "{}",
                                Ipv6Address::from_bits(destination)
                            );
                        }
                    }
                }
                check_lookups(fib, reference, random, 200);
            };
            check(&fib, &reference, &mut random);
            check_contents(&fib, &reference);
            let full_roots = fib.statistics().full_roots;
            assert!(full_roots <= 1, "only the dense /16 may be full");
            if children >= 12 {
                assert_eq!(full_roots, 1, "{children} children");
            }
            // Thin out: remove every route in random order, with inserts
            // now and then (also under slots that had no child).
            let mut step = 0;
            while !reference.routes.is_empty() {
                step += 1;
                if random.below(5) == 0 {
                    let (bits, length) = random_route(&mut random, dense, 256);
                    assert_eq!(
                        fib.insert(cidr(bits, length), 13),
                        reference.insert(bits, length, 13)
                    );
                    if random.below(2) == 0 {
                        assert_eq!(
                            fib.remove(cidr(bits, length)),
                            reference.remove(bits, length)
                        );
                    }
                } else {
                    let at = random.below(reference.routes.len() as u64) as usize;
                    let (bits, length, _) = reference.routes[at];
                    assert_eq!(
                        fib.remove(cidr(bits, length)),
                        reference.remove(bits, length)
                    );
                }
                if step % 16 == 0 {
                    check(&fib, &reference, &mut random);
                }
            }
            assert!(fib.is_empty());
            assert_eq!(
                fib.statistics().nodes,
                0,
                "the full root went with its last route"
            );
            assert_eq!(fib.statistics().full_roots, 0);
            // The emptied table takes routes again (a narrow root now).
            for _ in 0..40 {
                let (bits, length) = random_route(&mut random, dense, 256);
                assert_eq!(
                    fib.insert(cidr(bits, length), 14),
                    reference.insert(bits, length, 14)
                );
            }
            check(&fib, &reference, &mut random);
            check_contents(&fib, &reference);
        }
    }
}
