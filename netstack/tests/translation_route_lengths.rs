//! IPv4 routes under every RFC 6052 prefix length: the mapped IPv6 lengths, checked against Figure 1 bit by bit.
#![cfg(feature = "legacy-ip")]

use std::net::Ipv4Addr;

use netstack::route_file::{NextHop, RejectReason};
use netstack::translation::address_mapping::TranslationPrefix;
use netstack::translation::route_mapping::{
    Ipv4Prefix, Ipv4Route, Ipv4Target, MappedNextHop, NextHopTable, RouteMapper,
};
use smoltcp::wire::{Ipv6Address, Ipv6Cidr};

/// One pool6 of each allowed length (RFC 6052 §2.4, Table 1).
const POOLS: [&str; 6] = [
    "2001:db8::/32",
    "2001:db8:100::/40",
    "2001:db8:122::/48",
    "2001:db8:122:300::/56",
    "2001:db8:122:344::/64",
    "2001:db8:122:344::/96",
];

const IPV4_LENGTHS: [u8; 11] = [0, 1, 7, 8, 9, 16, 23, 24, 25, 31, 32];

/// RFC 6052 §2.2 Figure 1 as (first IPv6 bit, number of IPv4 bits) runs.
fn figure_1(pool6_length: u8) -> &'static [(u8, u8)] {
    match pool6_length {
        32 => &[(32, 32)],
        40 => &[(40, 24), (72, 8)],
        48 => &[(48, 16), (72, 16)],
        56 => &[(56, 8), (72, 24)],
        64 => &[(72, 32)],
        96 => &[(96, 32)],
        _ => unreachable!(),
    }
}

/// Where IPv4 bit `index` lands, read from Figure 1.
fn position_of_ipv4_bit(pool6_length: u8, index: u8) -> u8 {
    let mut remaining = index;
    for &(start, count) in figure_1(pool6_length) {
        if remaining < count {
            return start + remaining;
        }
        remaining -= count;
    }
    unreachable!()
}

/// The expected IPv6 length: one past the last IPv4 bit of the prefix.
fn reference_length(pool6_length: u8, ipv4_length: u8) -> u8 {
    if ipv4_length == 0 {
        pool6_length
    } else {
        position_of_ipv4_bit(pool6_length, ipv4_length - 1) + 1
    }
}

/// The table in route_mapping's module documentation, row by row:
/// mapped length for IPv4 lengths 0, 1, 7, 8, 9, 16, 23, 24, 25, 31, 32.
const DERIVED_TABLE: [(u8, [u8; 11]); 6] = [
    (32, [32, 33, 39, 40, 41, 48, 55, 56, 57, 63, 64]),
    (40, [40, 41, 47, 48, 49, 56, 63, 64, 73, 79, 80]),
    (48, [48, 49, 55, 56, 57, 64, 79, 80, 81, 87, 88]),
    (56, [56, 57, 63, 64, 73, 80, 87, 88, 89, 95, 96]),
    (64, [64, 73, 79, 80, 81, 88, 95, 96, 97, 103, 104]),
    (96, [96, 97, 103, 104, 105, 112, 119, 120, 121, 127, 128]),
];

fn mapper(pool6: TranslationPrefix) -> RouteMapper {
    let mut next_hops = NextHopTable::new();
    next_hops.insert(
        Ipv4Addr::new(192, 0, 2, 1),
        MappedNextHop::Address {
            address: "2001:db8:ffff::1".parse().unwrap(),
            port: None,
        },
    );
    RouteMapper::new(pool6, next_hops)
}

fn contains(prefix: Ipv6Cidr, address: Ipv6Address) -> bool {
    prefix.contains_addr(&address)
}

#[test]
fn mapped_lengths_match_figure_1_and_the_documented_table() {
    for (pool6_text, (table_pool6_length, row)) in POOLS.iter().zip(DERIVED_TABLE) {
        let pool6: TranslationPrefix = pool6_text.parse().unwrap();
        assert_eq!(pool6.length(), table_pool6_length);
        for (&ipv4_length, &expected) in IPV4_LENGTHS.iter().zip(row.iter()) {
            let reference = reference_length(pool6.length(), ipv4_length);
            assert_eq!(
                expected, reference,
                "documented table, /{ipv4_length} under {pool6}"
            );
            assert_eq!(
                pool6.mapped_prefix_length(ipv4_length),
                reference,
                "/{ipv4_length} under {pool6}"
            );
            // A mapped prefix never ends inside the u octet (bits 64..71).
            assert!(
                !(65..72).contains(&reference),
                "/{ipv4_length} under {pool6}"
            );
        }
    }
}

#[test]
fn mapped_prefixes_cover_exactly_the_embedded_addresses() {
    let network = Ipv4Addr::new(198, 51, 100, 0);
    for pool6_text in POOLS {
        let pool6: TranslationPrefix = pool6_text.parse().unwrap();
        let mapper = mapper(pool6);
        for ipv4_length in IPV4_LENGTHS {
            let mask = if ipv4_length == 0 {
                0
            } else {
                u32::MAX << (32 - ipv4_length)
            };
            let prefix =
                Ipv4Prefix::new(Ipv4Addr::from_bits(network.to_bits() & mask), ipv4_length)
                    .unwrap();
            let route = mapper
                .map(&Ipv4Route {
                    prefix,
                    target: Ipv4Target::Via(Ipv4Addr::new(192, 0, 2, 1)),
                })
                .unwrap();
            let mapped = route.prefix;
            assert_eq!(
                mapped.prefix_len(),
                reference_length(pool6.length(), ipv4_length)
            );
            assert_eq!(
                mapped.address(),
                pool6.embed(prefix.network()),
                "network of {prefix} under {pool6}"
            );
            assert!(matches!(route.next_hop, NextHop::Via { .. }));
            // Inside: the first, last and some middle addresses of the IPv4 prefix.
            let first = prefix.network().to_bits();
            let last = first | !mask;
            for inside in [first, last, first | (!mask & 0x5a5a_5a5a)] {
                let embedded = pool6.embed(Ipv4Addr::from_bits(inside));
                assert!(contains(mapped, embedded), "{embedded} in {mapped}");
            }
            // Outside: flip each bit of the IPv4 prefix.
            for bit in 0..ipv4_length {
                let outside = first ^ (0x8000_0000 >> bit);
                let embedded = pool6.embed(Ipv4Addr::from_bits(outside));
                assert!(!contains(mapped, embedded), "{embedded} not in {mapped}");
            }
            if ipv4_length == 0 {
                assert_eq!(mapped, pool6.cidr(), "an IPv4 /0 is pool6 itself");
            }
        }
    }
}

#[test]
fn design_example_under_the_well_known_prefix() {
    // ARCHITECTURE.md rule 2. 198.51.100.0/24 and 192.0.2.1 are
    // documentation addresses, which RFC 6052 §3.1 keeps out of
    // 64:ff9b::/96; the rule is off to check the example as written.
    let mapper = mapper(TranslationPrefix::WELL_KNOWN).without_well_known_prefix_rule();
    let route = mapper
        .map(&Ipv4Route {
            prefix: "198.51.100.0/24".parse().unwrap(),
            target: Ipv4Target::Via(Ipv4Addr::new(192, 0, 2, 1)),
        })
        .unwrap();
    assert_eq!(
        route.to_string(),
        "64:ff9b::c633:6400/120 via 2001:db8:ffff::1"
    );

    // With the rule on (the default) the same route is refused.
    let strict = self::mapper(TranslationPrefix::WELL_KNOWN);
    assert_eq!(
        strict.map(&Ipv4Route {
            prefix: "198.51.100.0/24".parse().unwrap(),
            target: Ipv4Target::Via(Ipv4Addr::new(192, 0, 2, 1)),
        }),
        Err(RejectReason::NonGlobalUnderWellKnownPrefix)
    );
}
