//! The route file and the route mapping on a real Internet table (RIPE NCC RIS, 2026-05-11): every IPv4 route mapped under 64:ff9b::/96 into one FIB.
//!
//! Both families of `shared/data/ris-20260511` (1,042,325 IPv4 + 246,175
//! IPv6 prefixes) are written as one route file (IPv4 lines `P via
//! 192.0.2.1`, IPv6 lines `P via 2001:db8:ffff::1`), parsed with the
//! mapper, loaded into a [`Fib::with_translation_prefix`], and sampled
//! lookups are checked against a per-length hash map built from the raw
//! data with its own RFC 6052 /96 arithmetic. Though all routes share one
//! next hop, each gets a FIB next-hop index hashed from its position (1024
//! of them, as many peers' next hops would be), so a lookup that lands on
//! the wrong prefix is caught.
//!
//! The data folder is required: a missing folder fails the test, naming it.
//! Run with `--release -- --nocapture` for the parse timing on 1.29M lines.
#![cfg(feature = "legacy-ip")]

use std::collections::HashMap;
use std::io::Read;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Instant;

use netstack::fib::{Fib, MAX_NEXT_HOPS, NextHopIndex};
use netstack::route_file::{self, NextHop, Options};
use netstack::translation::address_mapping::{NON_GLOBAL_BLOCKS, TranslationPrefix};
use netstack::translation::route_mapping::{NextHopTable, RouteMapper};
use smoltcp::wire::Ipv6Address;

const DATA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/data/ris-20260511"
);
/// 64:ff9b::/96, as bits.
const WELL_KNOWN_PREFIX: u128 = 0x0064_ff9b << 96;
/// Destinations checked against the reference.
const SAMPLES: usize = 5_000;

fn read_gzip(name: &str) -> String {
    let folder = Path::new(DATA);
    assert!(
        folder.is_dir(),
        "the RIS data folder is missing: {} (expected the project's shared/ beside the repository)",
        folder.display()
    );
    let path: PathBuf = folder.join(name);
    let file = std::fs::File::open(&path)
        .unwrap_or_else(|error| panic!("RIS data file {}: {error}", path.display()));
    let mut text = String::new();
    flate2::read::GzDecoder::new(file)
        .read_to_string(&mut text)
        .unwrap_or_else(|error| panic!("reading {}: {error}", path.display()));
    text
}

/// The FIB next-hop index of the route at `position`.
fn next_hop_of(position: usize) -> NextHopIndex {
    let hash = (position as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
    (hash % MAX_NEXT_HOPS.min(1024) as u64) as NextHopIndex
}

fn mask(length: u8) -> u128 {
    if length == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(length))
    }
}

/// Longest match by probing one hash map per prefix length, longest first.
struct Reference {
    by_length: Vec<HashMap<u128, NextHopIndex>>,
}

impl Reference {
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
}

/// xorshift64*, seeded.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// The raw data's prefix as (IPv6 bits, length), IPv4 mapped under the
/// well-known prefix by this test's own arithmetic (RFC 6052 §2.2, /96).
fn raw_prefix(text: &str) -> (u128, u8) {
    let (address, length) = text.split_once('/').expect("prefix has a length");
    let length: u8 = length.parse().expect("prefix length");
    if address.contains(':') {
        (address.parse::<Ipv6Address>().unwrap().to_bits(), length)
    } else {
        let address: Ipv4Addr = address.parse().expect("IPv4 address");
        (
            WELL_KNOWN_PREFIX | u128::from(address.to_bits()),
            96 + length,
        )
    }
}

fn non_global(text: &str) -> bool {
    let Some((address, length)) = text.split_once('/') else {
        return false;
    };
    let (Ok(address), Ok(length)) = (address.parse::<Ipv4Addr>(), length.parse::<u8>()) else {
        return false;
    };
    NON_GLOBAL_BLOCKS
        .iter()
        .any(|block| block.contains_prefix(address, length))
}

#[test]
fn full_table_maps_parses_and_looks_up() {
    let started = Instant::now();
    let ipv4 = read_gzip("ipv4.txt.gz");
    let ipv6 = read_gzip("ipv6.txt.gz");
    let mut file = String::with_capacity(ipv4.len() * 2 + ipv6.len() * 2);
    let mut raw: Vec<&str> = Vec::new();
    for prefix in ipv4.lines() {
        file.push_str(prefix);
        file.push_str(" via 192.0.2.1\n");
        raw.push(prefix);
    }
    for prefix in ipv6.lines() {
        file.push_str(prefix);
        file.push_str(" via 2001:db8:ffff::1\n");
        raw.push(prefix);
    }
    let ipv4_count = ipv4.lines().count();
    let ipv6_count = raw.len() - ipv4_count;
    eprintln!(
        "read {} IPv4 + {} IPv6 prefixes, {} bytes of route file, in {:?}",
        ipv4_count,
        ipv6_count,
        file.len(),
        started.elapsed()
    );

    let next_hops = NextHopTable::parse("192.0.2.1 2001:db8::1\n").unwrap();
    let options = Options {
        mapper: Some(RouteMapper::new(TranslationPrefix::WELL_KNOWN, next_hops)),
        ..Options::default()
    };
    let parsing = Instant::now();
    let parsed = route_file::parse(&file, &options);
    eprintln!(
        "parsed {} lines into {} routes in {:?}",
        parsed.statistics.lines,
        parsed.routes.len(),
        parsing.elapsed()
    );
    assert!(parsed.is_ok(), "first errors: {:#?}", parsed.errors);
    assert_eq!(parsed.statistics.lines, raw.len());
    let rejected_non_global = raw[..ipv4_count].iter().filter(|p| non_global(p)).count();
    assert_eq!(
        parsed
            .statistics
            .rejected
            .non_global_under_well_known_prefix,
        rejected_non_global
    );
    assert_eq!(parsed.statistics.rejected.next_hop_not_in_table, 0);
    assert_eq!(
        parsed.statistics.mapped.via,
        ipv4_count - rejected_non_global
    );
    assert_eq!(parsed.statistics.ipv6.via, ipv6_count);
    // The compiled form of the same file (`route_file::compiled`) decodes
    // to the same routes and counts, in (prefix, length) order per family.
    let compiling = Instant::now();
    let compiled = route_file::compiled::compile(&file, 10).expect("the table compiles");
    let compiled_at = compiling.elapsed();
    let decoding = Instant::now();
    let decoded =
        route_file::compiled::decode(&compiled, &options).expect("the compiled table decodes");
    eprintln!(
        "compiled into {} bytes in {compiled_at:?}, decoded in {:?}",
        compiled.len(),
        decoding.elapsed()
    );
    assert_eq!(decoded.statistics, parsed.statistics);
    // IPv6 routes first, then the mapped ones, each in ascending order.
    let in_file_order = |parsed: &route_file::Parsed| -> Vec<(bool, u128, u8, NextHop)> {
        parsed
            .routes
            .iter()
            .zip(&parsed.mapped)
            .map(|(route, mapped)| {
                (
                    *mapped,
                    route.prefix.address().to_bits(),
                    route.prefix.prefix_len(),
                    route.next_hop,
                )
            })
            .collect()
    };
    let decoded_routes = in_file_order(&decoded);
    let mut expected_routes = in_file_order(&parsed);
    expected_routes.sort_by_key(|route| (route.0, route.1, route.2));
    assert!(
        decoded_routes == expected_routes,
        "the decoded routes are the parsed ones, in order"
    );
    drop((compiled, decoded, decoded_routes, expected_routes));

    let ipv6_next_hop: Ipv6Address = "2001:db8::1".parse().unwrap();
    assert!(parsed.routes[..10].iter().all(|route| route.next_hop
        == NextHop::Via {
            address: ipv6_next_hop,
            port: None
        }));

    // The FIB: route i gets next-hop index next_hop_of(i).
    let loading = Instant::now();
    let mut fib = Fib::with_translation_prefix(TranslationPrefix::WELL_KNOWN.cidr());
    fib.load(
        parsed
            .routes
            .iter()
            .enumerate()
            .map(|(index, route)| (route.prefix, next_hop_of(index))),
    );
    assert_eq!(fib.len(), parsed.routes.len());
    eprintln!("loaded the FIB in {:?}", loading.elapsed());

    // The reference, from the raw data. Routes keep the file order, so the
    // kept raw prefixes line up with the parsed routes.
    let kept: Vec<(u128, u8)> = raw
        .iter()
        .filter(|prefix| !non_global(prefix))
        .map(|prefix| raw_prefix(prefix))
        .collect();
    assert_eq!(kept.len(), parsed.routes.len());
    let mut reference = Reference {
        by_length: (0..=128).map(|_| HashMap::new()).collect(),
    };
    for (index, &(bits, length)) in kept.iter().enumerate() {
        let route = parsed.routes[index].prefix;
        assert_eq!(
            (route.address().to_bits(), route.prefix_len()),
            (bits, length),
            "route {index} ({})",
            raw[index]
        );
        reference.by_length[usize::from(length)].insert(bits & mask(length), next_hop_of(index));
    }

    // Sampled lookups: inside random mapped IPv4 routes (most of them),
    // inside random IPv6 routes, and anywhere under the pool.
    let mut random = Random(0x5eed_6052);
    let mapped_routes = parsed.statistics.mapped.total();
    let mut checked = 0;
    let mut found = 0;
    for sample in 0..SAMPLES {
        let destination = match sample % 5 {
            0..=2 => {
                let (bits, length) = kept[(random.next() as usize) % mapped_routes];
                bits | (u128::from(random.next() as u32) & !mask(length))
            }
            3 => {
                let (bits, length) = kept[mapped_routes + (random.next() as usize) % ipv6_count];
                bits | ((u128::from(random.next()) << 64 | u128::from(random.next()))
                    & !mask(length))
            }
            _ => WELL_KNOWN_PREFIX | u128::from(random.next() as u32),
        };
        let expected = reference.lookup(destination);
        assert_eq!(
            fib.lookup(Ipv6Address::from_bits(destination)),
            expected,
            "lookup of {}",
            Ipv6Address::from_bits(destination)
        );
        checked += 1;
        found += usize::from(expected.is_some());
    }
    eprintln!(
        "{checked} lookups checked ({found} matched a route); total {:?}",
        started.elapsed()
    );
}
