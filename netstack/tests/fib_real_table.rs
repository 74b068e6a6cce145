//! The FIB on a real Internet table: RIPE NCC RIS, one full-table peer on
//! 2026-05-11 (`shared/data/ris-20260511`), both families in one IPv6 table
//! with IPv4 mapped under 64:ff9b::/96, checked against a per-length hash
//! map reference before and after replaying the day's update streams.
//!
//! The data folder is required: a missing folder fails the test, naming it.

use std::collections::{HashMap, HashSet};
use std::io::BufRead;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Instant;

use netstack::fib::{Fib, NextHopIndex};
use smoltcp::wire::{Ipv6Address, Ipv6Cidr};

const DATA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/data/ris-20260511"
);
/// The translation prefix the IPv4 routes are mapped under.
const POOL6: u128 = 0x0064_ff9b << 96;
/// Updates replayed per family; the whole day is 1.39M IPv4 + 1.24M IPv6.
/// Debug builds replay a bounded prefix to stay near 30 s; an optimized
/// test profile replays everything.
const UPDATE_LIMIT: usize = if cfg!(debug_assertions) {
    300_000
} else {
    usize::MAX
};

fn data_file(name: &str) -> PathBuf {
    let folder = Path::new(DATA);
    assert!(
        folder.is_dir(),
        "the RIS data folder is missing: {} (expected the project's shared/ beside the repository)",
        folder.display()
    );
    let path = folder.join(name);
    assert!(path.is_file(), "RIS data file missing: {}", path.display());
    path
}

fn lines(name: &str) -> impl Iterator<Item = String> {
    let file = std::fs::File::open(data_file(name)).expect("open RIS data file");
    std::io::BufReader::new(flate2::read::GzDecoder::new(file))
        .lines()
        .map(|line| line.expect("read RIS data line"))
}

/// `a.b.c.d/len` under POOL6, or an IPv6 `prefix/len`, as bits and length.
fn parse_prefix(text: &str) -> (u128, u8) {
    let (address, length) = text.split_once('/').expect("prefix has a length");
    let length: u8 = length.parse().expect("prefix length");
    if address.contains(':') {
        let address: Ipv6Address = address.parse().expect("IPv6 address");
        (address.to_bits(), length)
    } else {
        let address: Ipv4Addr = address.parse().expect("IPv4 address");
        (POOL6 | u128::from(address.to_bits()), 96 + length)
    }
}

fn mask(length: u8) -> u128 {
    if length == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(length))
    }
}

fn cidr(bits: u128, length: u8) -> Ipv6Cidr {
    Ipv6Cidr::new(Ipv6Address::from_bits(bits), length)
}

/// A next hop that differs between neighbouring prefixes, as many peers'
/// next hops would (1024 of them).
fn next_hop_of(bits: u128, length: u8, salt: u64) -> NextHopIndex {
    let mut hash = (bits as u64) ^ ((bits >> 64) as u64) ^ u64::from(length) ^ salt;
    hash = hash.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (hash >> 54) as NextHopIndex
}

/// Longest match by probing one hash map per prefix length, longest first.
#[derive(Default)]
struct Reference {
    by_length: Vec<HashMap<u128, NextHopIndex>>,
}

impl Reference {
    fn new() -> Reference {
        Reference {
            by_length: (0..=128).map(|_| HashMap::new()).collect(),
        }
    }
    fn insert(&mut self, bits: u128, length: u8, next_hop: NextHopIndex) -> Option<NextHopIndex> {
        self.by_length[usize::from(length)].insert(bits & mask(length), next_hop)
    }
    fn remove(&mut self, bits: u128, length: u8) -> Option<NextHopIndex> {
        self.by_length[usize::from(length)].remove(&(bits & mask(length)))
    }
    fn len(&self) -> usize {
        self.by_length.iter().map(HashMap::len).sum()
    }
    fn lookup(&self, destination: u128) -> Option<NextHopIndex> {
        (0..=128u8).rev().find_map(|length| {
            let routes = &self.by_length[usize::from(length)];
            if routes.is_empty() {
                None
            } else {
                routes.get(&(destination & mask(length))).copied()
            }
        })
    }
    fn routes(&self) -> Vec<(u128, u8)> {
        let mut routes = Vec::with_capacity(self.len());
        for (length, map) in self.by_length.iter().enumerate() {
            routes.extend(map.keys().map(|&bits| (bits, length as u8)));
        }
        routes.sort_unstable();
        routes
    }
}

/// xorshift64*, seeded: picks the sampled destinations.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// 100k destinations inside table routes (random host bits), plus 10k
/// random ones under 2000::/3 and under pool6, all checked.
fn cross_check(fib: &Fib, reference: &Reference, random: &mut Random, when: &str) {
    let routes = reference.routes();
    let mut destinations = Vec::with_capacity(120_000);
    for _ in 0..100_000 {
        let (bits, length) = routes[random.next() as usize % routes.len()];
        let host = (u128::from(random.next()) << 64) | u128::from(random.next());
        destinations.push(bits | (host & !mask(length)));
    }
    for _ in 0..10_000 {
        let host = (u128::from(random.next()) << 64) | u128::from(random.next());
        destinations.push((0x2 << 124) | (host >> 3));
        destinations.push(POOL6 | (host & 0xffff_ffff));
    }
    for destination in destinations {
        assert_eq!(
            fib.lookup(Ipv6Address::from_bits(destination)),
            reference.lookup(destination),
            "{when}: lookup of {}",
            Ipv6Address::from_bits(destination)
        );
    }
}

#[test]
fn full_table_and_a_day_of_updates_match_the_reference() {
    let started = Instant::now();
    let mut reference = Reference::new();
    let mut table = Vec::new();
    for name in ["ipv4.txt.gz", "ipv6.txt.gz"] {
        for line in lines(name) {
            let (bits, length) = parse_prefix(line.trim());
            let next_hop = next_hop_of(bits, length, 0);
            reference.insert(bits, length, next_hop);
            table.push((cidr(bits, length), next_hop));
        }
    }
    assert!(table.len() > 1_280_000, "only {} routes read", table.len());
    let mut fib = Fib::with_translation_prefix(cidr(POOL6, 96));
    fib.load(table);
    fib.shrink_to_fit();
    assert_eq!(fib.len(), reference.len());
    assert!(
        fib.memory_bytes() <= 16 * fib.len(),
        "{} bytes per route after a full load (target: at most 16)",
        fib.memory_bytes() as f64 / fib.len() as f64
    );
    eprintln!(
        "loaded {} routes in {:?}; {} bytes, {:.1} bytes per route, {:?}",
        fib.len(),
        started.elapsed(),
        fib.memory_bytes(),
        fib.memory_bytes() as f64 / fib.len() as f64,
        fib.statistics()
    );
    let mut random = Random(0x2026_0511);
    cross_check(&fib, &reference, &mut random, "after load");

    let replay_started = Instant::now();
    let mut replayed = 0;
    let mut touched = HashSet::new();
    for name in ["updates-ipv4.txt.gz", "updates-ipv6.txt.gz"] {
        for (index, line) in lines(name).take(UPDATE_LIMIT).enumerate() {
            let (kind, prefix) = line.split_once(' ').expect("update is `A|W prefix`");
            let (bits, length) = parse_prefix(prefix.trim());
            let prefix = cidr(bits, length);
            match kind {
                "A" => {
                    let next_hop = next_hop_of(bits, length, index as u64);
                    assert_eq!(
                        fib.insert(prefix, next_hop),
                        reference.insert(bits, length, next_hop),
                        "announce {prefix}"
                    );
                }
                "W" => assert_eq!(
                    fib.remove(prefix),
                    reference.remove(bits, length),
                    "withdraw {prefix}"
                ),
                other => panic!("unknown update kind {other:?} in {name}"),
            }
            touched.insert((bits & mask(length), length));
            replayed += 1;
        }
    }
    eprintln!(
        "replayed {replayed} updates ({} distinct prefixes) in {:?}",
        touched.len(),
        replay_started.elapsed()
    );
    assert_eq!(fib.len(), reference.len());
    eprintln!(
        "after the updates: {} bytes, {:.1} bytes per route, {:?}",
        fib.memory_bytes(),
        fib.memory_bytes() as f64 / fib.len() as f64,
        fib.statistics()
    );
    let mut compacted = fib.clone();
    compacted.compact();
    eprintln!(
        "compacted: {:.1} bytes per route; {} automatic compactions during the replay",
        compacted.memory_bytes() as f64 / compacted.len() as f64,
        fib.compactions()
    );
    // Freed runs and spare capacity stay bounded (automatic compaction at
    // a quarter of waste): memory never nears double the compact size.
    assert!(
        fib.memory_bytes() < compacted.memory_bytes() * 3 / 2,
        "{} bytes after the updates vs {} compacted",
        fib.memory_bytes(),
        compacted.memory_bytes()
    );
    cross_check(&compacted, &reference, &mut random, "after compacting");
    // Every prefix the updates touched agrees exactly, and lookups agree.
    for &(bits, length) in &touched {
        let exact = reference.by_length[usize::from(length)].get(&bits).copied();
        assert_eq!(fib.get(cidr(bits, length)), exact);
    }
    cross_check(&fib, &reference, &mut random, "after updates");
    eprintln!("total {:?}", started.elapsed());
}
