//! Choosing the IPv4 transport address (T, t) of a new NAT64 BIB entry from `pool4` (RFC 6146 §3.5.1.1, §3.5.2.3, §3.5.3) with RFC 6056 Algorithm 3, "Simple Hash-Based Port Selection".
//!
//! # Address: paired pooling
//! RFC 6146 says a new BIB entry for the IPv6 host X' SHOULD take the IPv4
//! address T that X' already has in another BIB entry (§3.5.1.1 UDP,
//! §3.5.2.3 TCP "in any of the BIBs", §3.5.3 ICMP), i.e. RFC 4787 REQ-2's
//! "paired" address pooling (RECOMMENDED). The allocator gets there without
//! a lookup: T is chosen by a keyed hash of X' alone, so every entry of one
//! host lands on the same address while that address has ports to lend. The
//! caller may also name the address X' already holds
//! ([`AllocationRequest::preferred_address`]; e.g. a static BIB entry); it is
//! tried first when it is in the pool. Only when the paired address has no
//! suitable port left does the search move on to the following addresses
//! of the pool, in order (the RFC's SHOULD gives way, rather than dropping
//! the packet).
//!
//! # Port: RFC 6056 Algorithm 3, class and parity
//! On one address, a search walks the candidate ports (the protocol's
//! [`PortRange`] of that address, cut to one port class and, for UDP, one
//! parity) as RFC 6056 §3.3.3 does: it starts at
//! `offset = F(X', x, protocol, T, secret) mod count` and steps by one
//! candidate, wrapping, until `is_in_use` says a port is free. The order of
//! searches on one address:
//!
//! | Protocol | Searches, in order |
//! |---|---|
//! | UDP | s's class and parity; s's class, other parity; then, only if s < 1024: 1024–65535 with s's parity, then the other parity |
//! | TCP | s's class; then, only if s < 1024: 1024–65535 |
//! | ICMP | the whole identifier range (no class, no parity: §3.5.3 "any available value") |
//!
//! - **Class** (0–1023 / 1024–65535): SHOULD for UDP and TCP (§3.5.1.1,
//!   §3.5.2.3, RFC 4787 REQ-3 a). The RFC then allows (MAY) another range.
//!   A well-known source port falls back to 1024–65535; a source port of
//!   1024 or more never gets a well-known port, because servers that trust
//!   "privileged" source ports (NFS, the r-commands) would then trust any
//!   IPv6 process.
//! - **Parity**: SHOULD for UDP (§3.5.1.1, RFC 4787 §4.2.2 REQ-4), kept
//!   before the address moves; not asked for TCP (§3.5.2.3) nor ICMP.
//! - **Uniqueness** (T, t) MUST NOT be in use in the same BIB: that is
//!   `is_in_use`, the caller's BIB lookup.
//!
//! # The hash F
//! SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF",
//! INDOCRYPT 2012), written here from the paper, keyed with the
//! allocator's 128-bit secret (RFC 6056 §3.4: about 128 bits; drawn from
//! the router's seeded generator). RFC 6056 asks for a cryptographic hash
//! "like MD5"; SipHash is a PRF made for short inputs. Two messages, with a
//! tag byte so they are independent:
//! - address: `0x01 ‖ X'` (17 bytes) → the pair address number
//!   `⌊hash × address_count / 2^64⌋`;
//! - port offset: `0x02 ‖ protocol number ‖ X' ‖ x (big-endian) ‖ T`
//!   (24 bytes).
//!
//! RFC 6056's F takes the remote endpoint; under RFC 6146's
//! endpoint-independent mapping (MUST, RFC 4787 REQ-1) the BIB entry is the
//! same for every destination, so the inputs are the source (X', x), the
//! protocol and the local address T instead. Algorithm 3's global
//! `next_ephemeral` counter is dropped (it restarts at 0 for each
//! allocation): the source port in F already separates a host's
//! connections, a host that comes back from the same port gets the same
//! (T, t) when it is free, and the counter would leak how many bindings the
//! NAT64 makes (RFC 6056 §3.3.3).
//!
//! # Bounds
//! An allocation calls `is_in_use` at most `maximum_probes` times
//! ([`DEFAULT_MAXIMUM_PROBES`] = 4096) and visits at most that many
//! addresses; one search is cut at a quarter of it, so the paired address's
//! searches all get their turn and the next address still gets some. With
//! linear stepping from a keyed offset, a search of 1024 probes finds a free
//! port unless the candidates near its start are about 97 % taken. `None`
//! means pool4 is exhausted for this request: the caller counts it, drops
//! the packet and SHOULD send ICMPv6 Destination Unreachable, code 3
//! (§3.5.1.1, §3.5.2.3).

use core::net::{Ipv4Addr, Ipv6Addr};

use super::flow::Nat64Protocol;
use super::pool4::{FIRST_NON_WELL_KNOWN_PORT, Pool4, PortRange};

/// The default bound on `is_in_use` calls per allocation.
pub const DEFAULT_MAXIMUM_PROBES: u32 = 4096;

/// What the allocator is asked for: the (T, t) of a new BIB entry for
/// (X', x).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AllocationRequest {
    /// The BIB (TCP, UDP or ICMP query).
    pub protocol: Nat64Protocol,
    /// X': the IPv6 host.
    pub source: Ipv6Addr,
    /// x: its source port, or its ICMP identifier i1.
    pub source_port: u16,
    /// The IPv4 address X' already has in some BIB entry, if the caller
    /// knows one; tried first when it is in `pool4`.
    pub preferred_address: Option<Ipv4Addr>,
}

/// The chosen (T, t).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Allocation {
    /// T.
    pub address: Ipv4Addr,
    /// t (the ICMP identifier i2 for ICMP).
    pub port: u16,
    /// How many times `is_in_use` was called (at least 1).
    pub probes: u32,
}

/// The RFC 6056 Algorithm 3 allocator (see the [module
/// documentation](self)): a secret key and a probe bound.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortAllocator {
    key: [u64; 2],
    maximum_probes: u32,
}

/// The port class of RFC 6146 §3.5.1.1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    /// 0–1023.
    WellKnown,
    /// 1024–65535.
    Other,
    /// No class rule (ICMP identifiers).
    Any,
}

impl Class {
    fn of(port: u16) -> Class {
        if port < FIRST_NON_WELL_KNOWN_PORT {
            Class::WellKnown
        } else {
            Class::Other
        }
    }

    fn bounds(self) -> (u16, u16) {
        match self {
            Class::WellKnown => (0, FIRST_NON_WELL_KNOWN_PORT - 1),
            Class::Other => (FIRST_NON_WELL_KNOWN_PORT, u16::MAX),
            Class::Any => (0, u16::MAX),
        }
    }
}

/// One search's rule: a class and, if set, a parity (0 even, 1 odd).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Rule {
    class: Class,
    parity: Option<u16>,
}

/// The candidates of one search: `first + stride × i` for `i < count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Candidates {
    first: u32,
    stride: u32,
    count: u32,
}

impl Candidates {
    /// The ports of `range` that follow `rule`, if any.
    fn new(range: PortRange, rule: Rule) -> Option<Candidates> {
        let (low, high) = rule.class.bounds();
        let range = range.intersect(low, high)?;
        let last = u32::from(range.last());
        let mut first = u32::from(range.first());
        let stride = match rule.parity {
            Some(parity) => {
                if first % 2 != u32::from(parity) {
                    first += 1;
                }
                2
            }
            None => 1,
        };
        if first > last {
            return None;
        }
        Some(Candidates {
            first,
            stride,
            count: (last - first) / stride + 1,
        })
    }

    /// Candidate number `index` (`index < count`).
    fn port(&self, index: u32) -> Option<u16> {
        u16::try_from(self.first + self.stride * index).ok()
    }
}

/// The searches for `protocol` and source port `source_port`, in order
/// (the table in the module documentation); unused slots are `None`.
fn rules(protocol: Nat64Protocol, source_port: u16) -> [Option<Rule>; 4] {
    let class = Class::of(source_port);
    let may_leave_class = class == Class::WellKnown;
    match protocol {
        Nat64Protocol::Icmp => [
            Some(Rule {
                class: Class::Any,
                parity: None,
            }),
            None,
            None,
            None,
        ],
        Nat64Protocol::Tcp => [
            Some(Rule {
                class,
                parity: None,
            }),
            may_leave_class.then_some(Rule {
                class: Class::Other,
                parity: None,
            }),
            None,
            None,
        ],
        Nat64Protocol::Udp => {
            let parity = source_port % 2;
            let other_parity = 1 - parity;
            [
                Some(Rule {
                    class,
                    parity: Some(parity),
                }),
                Some(Rule {
                    class,
                    parity: Some(other_parity),
                }),
                may_leave_class.then_some(Rule {
                    class: Class::Other,
                    parity: Some(parity),
                }),
                may_leave_class.then_some(Rule {
                    class: Class::Other,
                    parity: Some(other_parity),
                }),
            ]
        }
    }
}

/// The protocol number used in the hash (any distinct byte per BIB).
fn protocol_number(protocol: Nat64Protocol) -> u8 {
    match protocol {
        Nat64Protocol::Tcp => 6,
        Nat64Protocol::Udp => 17,
        Nat64Protocol::Icmp => 1,
    }
}

const ADDRESS_TAG: u8 = 0x01;
const PORT_TAG: u8 = 0x02;

impl PortAllocator {
    /// An allocator keyed with the 128-bit secret `key` (SipHash's k0 and
    /// k1), bounded by [`DEFAULT_MAXIMUM_PROBES`].
    pub fn new(key: [u64; 2]) -> PortAllocator {
        PortAllocator {
            key,
            maximum_probes: DEFAULT_MAXIMUM_PROBES,
        }
    }

    /// The same allocator bounded by `maximum_probes` `is_in_use` calls per
    /// allocation (at least 1).
    pub fn with_maximum_probes(mut self, maximum_probes: u32) -> PortAllocator {
        self.maximum_probes = maximum_probes.max(1);
        self
    }

    /// The bound on `is_in_use` calls per allocation.
    pub fn maximum_probes(&self) -> u32 {
        self.maximum_probes
    }

    /// The pool address the IPv6 host `source` is paired with: the first
    /// address its allocations try (unless a preferred address is given).
    pub fn paired_address(&self, pool: &Pool4, source: Ipv6Addr) -> Option<Ipv4Addr> {
        pool.address(self.paired_index(pool, source))
            .map(|(address, _)| address)
    }

    fn paired_index(&self, pool: &Pool4, source: Ipv6Addr) -> u64 {
        let mut message = [0u8; 17];
        message[0] = ADDRESS_TAG;
        message[1..].copy_from_slice(&source.octets());
        let hash = siphash_2_4(self.key, &message);
        ((u128::from(hash) * u128::from(pool.address_count())) >> 64) as u64
    }

    /// F: the keyed offset of the search for `request` on `address`.
    fn offset(&self, request: &AllocationRequest, address: Ipv4Addr) -> u64 {
        let mut message = [0u8; 24];
        message[0] = PORT_TAG;
        message[1] = protocol_number(request.protocol);
        message[2..18].copy_from_slice(&request.source.octets());
        message[18..20].copy_from_slice(&request.source_port.to_be_bytes());
        message[20..24].copy_from_slice(&address.octets());
        siphash_2_4(self.key, &message)
    }

    /// The (T, t) for a new BIB entry of `request`, or `None` when no free
    /// one was found within the bounds (pool4 exhausted for this request).
    /// `is_in_use(T, t)` tells whether the BIB of `request.protocol` already
    /// holds (T, t). See the [module documentation](self) for the order.
    pub fn allocate(
        &self,
        pool: &Pool4,
        request: &AllocationRequest,
        mut is_in_use: impl FnMut(Ipv4Addr, u16) -> bool,
    ) -> Option<Allocation> {
        let address_count = pool.address_count();
        let start = request
            .preferred_address
            .and_then(|address| pool.index_of(address))
            .unwrap_or_else(|| self.paired_index(pool, request.source));
        let search_limit = (self.maximum_probes / 4).max(1);
        let rules = rules(request.protocol, request.source_port);
        let mut probes = 0u32;
        let addresses_to_visit = address_count.min(u64::from(self.maximum_probes));
        for step in 0..addresses_to_visit {
            let index = start.wrapping_add(step).checked_rem(address_count)?;
            let (address, entry) = pool.address(index)?;
            let range = entry.range(request.protocol);
            let offset = self.offset(request, address);
            for rule in rules.iter().flatten() {
                let Some(candidates) = Candidates::new(range, *rule) else {
                    continue;
                };
                let remaining = self.maximum_probes.saturating_sub(probes);
                let limit = candidates.count.min(search_limit).min(remaining);
                // RFC 6056 Algorithm 3: port = min + (next + offset) % num,
                // next counting the tries.
                let first = offset.checked_rem(u64::from(candidates.count))? as u32;
                for next in 0..limit {
                    let mut candidate = first + next;
                    if candidate >= candidates.count {
                        candidate -= candidates.count;
                    }
                    let port = candidates.port(candidate)?;
                    probes += 1;
                    if !is_in_use(address, port) {
                        return Some(Allocation {
                            address,
                            port,
                            probes,
                        });
                    }
                }
                if probes >= self.maximum_probes {
                    return None;
                }
            }
        }
        None
    }
}

/// SipHash-2-4 of `message` under the key (k0, k1) (Aumasson and Bernstein
/// 2012, §2): 2 compression rounds per 8-byte word, 4 finalization rounds.
fn siphash_2_4(key: [u64; 2], message: &[u8]) -> u64 {
    let [k0, k1] = key;
    let mut state = [
        k0 ^ 0x736f_6d65_7073_6575,
        k1 ^ 0x646f_7261_6e64_6f6d,
        k0 ^ 0x6c79_6765_6e65_7261,
        k1 ^ 0x7465_6462_7974_6573,
    ];
    let mut words = message.chunks_exact(8);
    for word in &mut words {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        compress(&mut state, u64::from_le_bytes(bytes), 2);
    }
    // The last word: the remaining bytes, and the length modulo 256 in the
    // top byte.
    let mut bytes = [0u8; 8];
    let rest = words.remainder();
    bytes[..rest.len()].copy_from_slice(rest);
    bytes[7] = message.len() as u8;
    compress(&mut state, u64::from_le_bytes(bytes), 2);
    state[2] ^= 0xff;
    for _ in 0..4 {
        sip_round(&mut state);
    }
    state[0] ^ state[1] ^ state[2] ^ state[3]
}

/// One message word `m`: v3 ^= m, `rounds` SipRounds, v0 ^= m.
fn compress(state: &mut [u64; 4], word: u64, rounds: usize) {
    state[3] ^= word;
    for _ in 0..rounds {
        sip_round(state);
    }
    state[0] ^= word;
}

/// SipRound (the paper's Figure 2.1).
fn sip_round(state: &mut [u64; 4]) {
    let [mut v0, mut v1, mut v2, mut v3] = *state;
    v0 = v0.wrapping_add(v1);
    v1 = v1.rotate_left(13);
    v1 ^= v0;
    v0 = v0.rotate_left(32);
    v2 = v2.wrapping_add(v3);
    v3 = v3.rotate_left(16);
    v3 ^= v2;
    v0 = v0.wrapping_add(v3);
    v3 = v3.rotate_left(21);
    v3 ^= v0;
    v2 = v2.wrapping_add(v1);
    v1 = v1.rotate_left(17);
    v1 ^= v2;
    v2 = v2.rotate_left(32);
    *state = [v0, v1, v2, v3];
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::translation::nat64::pool4::Pool4Entry;
    use crate::translation::route_mapping::Ipv4Prefix;
    use alloc::collections::BTreeSet;
    use alloc::vec;
    use alloc::vec::Vec;
    use core::cell::Cell;

    const KEY: [u64; 2] = [0x0706_0504_0302_0100, 0x0f0e_0d0c_0b0a_0908];

    fn prefix(text: &str) -> Ipv4Prefix {
        let (address, length) = text.split_once('/').unwrap_or((text, "32"));
        Ipv4Prefix::new(address.parse().unwrap(), length.parse().unwrap()).unwrap()
    }

    fn range(first: u16, last: u16) -> PortRange {
        PortRange::new(first, last).unwrap()
    }

    fn pool(entries: &[(&str, PortRange)]) -> Pool4 {
        Pool4::new(
            entries
                .iter()
                .map(|(text, ports)| Pool4Entry::new(prefix(text), *ports, *ports, *ports))
                .collect(),
        )
        .unwrap()
    }

    fn single_address() -> Pool4 {
        pool(&[("192.0.2.1", PortRange::ALL_BUT_ZERO)])
    }

    fn host(number: u32) -> Ipv6Addr {
        Ipv6Addr::new(
            0x2001,
            0xdb8,
            0,
            0,
            0,
            0,
            (number >> 16) as u16,
            number as u16,
        )
    }

    fn request(protocol: Nat64Protocol, source: Ipv6Addr, source_port: u16) -> AllocationRequest {
        AllocationRequest {
            protocol,
            source,
            source_port,
            preferred_address: None,
        }
    }

    fn free(_: Ipv4Addr, _: u16) -> bool {
        false
    }

    /// A BIB stand-in: allocate `count` entries, each marked in use.
    fn fill(
        allocator: &PortAllocator,
        pool: &Pool4,
        requests: impl Iterator<Item = AllocationRequest>,
        used: &mut BTreeSet<(Ipv4Addr, u16)>,
    ) -> Vec<Option<Allocation>> {
        requests
            .map(|request| {
                let allocation = allocator.allocate(pool, &request, |address, port| {
                    used.contains(&(address, port))
                });
                if let Some(allocation) = allocation {
                    assert!(used.insert((allocation.address, allocation.port)));
                }
                allocation
            })
            .collect()
    }

    // ----- the hash -----

    #[test]
    fn siphash_matches_the_paper_test_vector() {
        // SipHash paper, Appendix A: key 00 01 .. 0f, message 00 01 .. 0e.
        let message: Vec<u8> = (0..15).collect();
        assert_eq!(siphash_2_4(KEY, &message), 0xa129_ca61_49be_45e5);
    }

    #[test]
    #[allow(deprecated)]
    fn siphash_matches_the_core_implementation_for_every_length() {
        // core's deprecated `SipHasher` is SipHash-2-4 over the bytes written.
        use core::hash::{Hasher, SipHasher};
        let message: Vec<u8> = (0..64u8).map(|byte| byte.wrapping_mul(37)).collect();
        for key in [KEY, [0, 0], [u64::MAX, 0x1234_5678_9abc_def0]] {
            for length in 0..=message.len() {
                let mut reference = SipHasher::new_with_keys(key[0], key[1]);
                reference.write(&message[..length]);
                assert_eq!(siphash_2_4(key, &message[..length]), reference.finish());
            }
        }
    }

    // ----- determinism and keys -----

    #[test]
    fn allocation_is_deterministic_for_a_key() {
        let pool = pool(&[("192.0.2.0/28", PortRange::ALL_BUT_ZERO)]);
        let first = PortAllocator::new(KEY);
        let second = PortAllocator::new(KEY);
        for number in 0..100 {
            let request = request(Nat64Protocol::Tcp, host(number), 40_000 + number as u16);
            assert_eq!(
                first.allocate(&pool, &request, free),
                second.allocate(&pool, &request, free)
            );
        }
    }

    #[test]
    fn different_keys_give_different_starting_points() {
        let pool = pool(&[("192.0.2.0/28", PortRange::ALL_BUT_ZERO)]);
        let first = PortAllocator::new(KEY);
        let second = PortAllocator::new([KEY[0] ^ 1, KEY[1]]);
        let mut same_port = 0;
        let mut same_address = 0;
        for number in 0..200 {
            let request = request(Nat64Protocol::Udp, host(number), 5000);
            let one = first.allocate(&pool, &request, free).unwrap();
            let other = second.allocate(&pool, &request, free).unwrap();
            same_port += usize::from(one.port == other.port);
            same_address += usize::from(one.address == other.address);
        }
        // Independent picks: about 200/32000 equal ports, 200/16 addresses.
        assert!(same_port <= 2, "{same_port}");
        assert!(same_address <= 30, "{same_address}");
    }

    // ----- class and parity (RFC 6146 §3.5.1.1, §3.5.2.3; RFC 4787) -----

    #[test]
    fn udp_keeps_class_and_parity() {
        let allocator = PortAllocator::new(KEY);
        let pool = single_address();
        for source_port in [
            1, 2, 53, 123, 1022, 1023, 1024, 1025, 5004, 5005, 65534, 65535,
        ] {
            for number in 0..50 {
                let allocation = allocator
                    .allocate(
                        &pool,
                        &request(Nat64Protocol::Udp, host(number), source_port),
                        free,
                    )
                    .unwrap();
                assert_eq!(
                    allocation.port % 2,
                    source_port % 2,
                    "parity of {source_port}"
                );
                assert_eq!(
                    allocation.port < 1024,
                    source_port < 1024,
                    "class of {source_port}"
                );
                assert_ne!(allocation.port, 0);
                assert_eq!(allocation.probes, 1);
            }
        }
    }

    #[test]
    fn tcp_keeps_class_but_not_necessarily_parity() {
        let allocator = PortAllocator::new(KEY);
        let pool = single_address();
        let mut parities = [0usize; 2];
        for number in 0..200 {
            for source_port in [22, 50_000] {
                let allocation = allocator
                    .allocate(
                        &pool,
                        &request(Nat64Protocol::Tcp, host(number), source_port),
                        free,
                    )
                    .unwrap();
                assert_eq!(allocation.port < 1024, source_port < 1024);
                parities[usize::from(allocation.port % 2)] += 1;
            }
        }
        assert!(parities[0] > 100 && parities[1] > 100, "{parities:?}");
    }

    #[test]
    fn icmp_identifiers_use_their_range_without_class_or_parity() {
        let allocator = PortAllocator::new(KEY);
        let pool = Pool4::new(vec![Pool4Entry::new(
            prefix("192.0.2.1"),
            PortRange::ALL_BUT_ZERO,
            PortRange::ALL_BUT_ZERO,
            range(0, 7),
        )])
        .unwrap();
        let mut used = BTreeSet::new();
        let allocations = fill(
            &allocator,
            &pool,
            (0..9).map(|number| request(Nat64Protocol::Icmp, host(number), 2)),
            &mut used,
        );
        let identifiers: BTreeSet<u16> = allocations.iter().flatten().map(|a| a.port).collect();
        // All eight identifiers (both parities, identifier 0 too), then none.
        assert_eq!(identifiers, (0..8).collect());
        assert_eq!(allocations[8], None);
    }

    #[test]
    fn in_use_ports_are_skipped_in_order() {
        let allocator = PortAllocator::new(KEY);
        let pool = single_address();
        let wanted = request(Nat64Protocol::Udp, host(1), 5004);
        let first = allocator.allocate(&pool, &wanted, free).unwrap();
        // Taking the first choice moves to the next candidate of the same
        // parity (Algorithm 3's next_ephemeral + 1), wrapping in the class.
        let second = allocator
            .allocate(&pool, &wanted, |address, port| {
                (address, port) == (first.address, first.port)
            })
            .unwrap();
        let expected = if first.port >= 65534 {
            1024
        } else {
            first.port + 2
        };
        assert_eq!((second.port, second.probes), (expected, 2));
        // A whole run taken.
        let taken =
            |_: Ipv4Addr, port: u16| port >= first.port && port < first.port.saturating_add(20);
        let third = allocator.allocate(&pool, &wanted, taken).unwrap();
        assert!(!taken(third.address, third.port));
        assert_eq!(third.port % 2, 0);
    }

    #[test]
    fn udp_gives_up_parity_before_class() {
        let allocator = PortAllocator::new(KEY);
        let pool = pool(&[("192.0.2.1", range(1000, 1100))]);
        let even_taken = |_: Ipv4Addr, port: u16| port.is_multiple_of(2);
        // 5004 is even and in the upper class: every even port is taken, so
        // an odd one of 1024-1100.
        let allocation = allocator
            .allocate(
                &pool,
                &request(Nat64Protocol::Udp, host(1), 5004),
                even_taken,
            )
            .unwrap();
        assert!(allocation.port % 2 == 1 && (1024..=1100).contains(&allocation.port));
        // Every upper port taken: a source port >= 1024 never gets a
        // well-known one.
        let upper_taken = |_: Ipv4Addr, port: u16| port >= 1024;
        assert_eq!(
            allocator.allocate(
                &pool,
                &request(Nat64Protocol::Udp, host(1), 5004),
                upper_taken
            ),
            None
        );
        assert_eq!(
            allocator.allocate(
                &pool,
                &request(Nat64Protocol::Tcp, host(1), 5004),
                upper_taken
            ),
            None
        );
    }

    #[test]
    fn a_well_known_source_port_may_fall_back_to_the_upper_class() {
        let allocator = PortAllocator::new(KEY);
        let pool = pool(&[("192.0.2.1", range(1000, 1100))]);
        let lower_taken = |_: Ipv4Addr, port: u16| port < 1024;
        for protocol in [Nat64Protocol::Udp, Nat64Protocol::Tcp] {
            let allocation = allocator
                .allocate(&pool, &request(protocol, host(1), 111), lower_taken)
                .unwrap();
            assert!(allocation.port >= 1024);
            if protocol == Nat64Protocol::Udp {
                assert_eq!(allocation.port % 2, 1, "parity kept in the other class");
            }
        }
        // And if the range has no well-known port at all.
        let upper_only = pool_of_range(range(20_000, 20_010));
        let allocation = allocator
            .allocate(&upper_only, &request(Nat64Protocol::Udp, host(1), 53), free)
            .unwrap();
        assert!((20_000..=20_010).contains(&allocation.port) && allocation.port % 2 == 1);
    }

    fn pool_of_range(ports: PortRange) -> Pool4 {
        pool(&[("192.0.2.1", ports)])
    }

    #[test]
    fn a_full_range_returns_none() {
        let allocator = PortAllocator::new(KEY);
        let pool = pool(&[("192.0.2.0/31", range(3000, 3009))]);
        let mut used = BTreeSet::new();
        let allocations = fill(
            &allocator,
            &pool,
            (0..25)
                .map(|number| request(Nat64Protocol::Tcp, host(number % 3), 4000 + number as u16)),
            &mut used,
        );
        // Two addresses × ten ports, then exhaustion.
        assert_eq!(allocations.iter().flatten().count(), 20);
        assert!(allocations[20..].iter().all(Option::is_none));
        assert_eq!(used.len(), 20);
        let calls = Cell::new(0u32);
        let result = allocator.allocate(
            &pool,
            &request(Nat64Protocol::Tcp, host(9), 4000),
            |address, port| {
                calls.set(calls.get() + 1);
                used.contains(&(address, port))
            },
        );
        assert_eq!(
            (result, calls.get()),
            (None, 20),
            "each candidate probed once"
        );
    }

    #[test]
    fn the_probe_count_is_bounded() {
        // A pool of 256 addresses × 64511 ports, all taken.
        let pool = pool(&[("198.51.100.0/24", PortRange::ALL_BUT_ZERO)]);
        for maximum in [1, 10, 1000, DEFAULT_MAXIMUM_PROBES] {
            let allocator = PortAllocator::new(KEY).with_maximum_probes(maximum);
            for protocol in [Nat64Protocol::Udp, Nat64Protocol::Tcp, Nat64Protocol::Icmp] {
                for source_port in [80, 5004] {
                    let calls = Cell::new(0u32);
                    let result = allocator.allocate(
                        &pool,
                        &request(protocol, host(7), source_port),
                        |_, _| {
                            calls.set(calls.get() + 1);
                            true
                        },
                    );
                    assert_eq!(result, None);
                    assert_eq!(calls.get(), maximum, "{protocol:?} {source_port}");
                }
            }
        }
        assert_eq!(
            PortAllocator::new(KEY)
                .with_maximum_probes(0)
                .maximum_probes(),
            1
        );
    }

    #[test]
    fn addresses_without_candidates_are_bounded_too() {
        // A /8 whose TCP range is only well-known ports: a source port of
        // 1024 or more has no candidate anywhere; no probe, quick None.
        let pool = pool(&[("11.0.0.0/8", range(1, 1023))]);
        let allocator = PortAllocator::new(KEY);
        let calls = Cell::new(0u32);
        let result = allocator.allocate(
            &pool,
            &request(Nat64Protocol::Tcp, host(1), 40_000),
            |_, _| {
                calls.set(calls.get() + 1);
                false
            },
        );
        assert_eq!((result, calls.get()), (None, 0));
    }

    // ----- addresses (paired pooling, RFC 4787 REQ-2) -----

    #[test]
    fn one_host_keeps_one_address() {
        let allocator = PortAllocator::new(KEY);
        let pool = pool(&[("192.0.2.0/29", PortRange::ALL_BUT_ZERO)]);
        for number in 0..50 {
            let paired = allocator.paired_address(&pool, host(number)).unwrap();
            for (protocol, source_port) in [
                (Nat64Protocol::Tcp, 40_000),
                (Nat64Protocol::Tcp, 40_001),
                (Nat64Protocol::Udp, 5004),
                (Nat64Protocol::Udp, 53),
                (Nat64Protocol::Icmp, 1),
            ] {
                let allocation = allocator
                    .allocate(&pool, &request(protocol, host(number), source_port), free)
                    .unwrap();
                assert_eq!(allocation.address, paired);
            }
        }
    }

    #[test]
    fn the_preferred_address_is_tried_first() {
        let allocator = PortAllocator::new(KEY);
        let pool = pool(&[("192.0.2.0/29", PortRange::ALL_BUT_ZERO)]);
        let paired = allocator.paired_address(&pool, host(1)).unwrap();
        let other = Ipv4Addr::from_bits(paired.to_bits() ^ 1);
        let mut wanted = request(Nat64Protocol::Udp, host(1), 5004);
        wanted.preferred_address = Some(other);
        assert_eq!(
            allocator.allocate(&pool, &wanted, free).unwrap().address,
            other
        );
        // Not in the pool: ignored.
        wanted.preferred_address = Some(Ipv4Addr::new(203, 0, 113, 1));
        assert_eq!(
            allocator.allocate(&pool, &wanted, free).unwrap().address,
            paired
        );
    }

    #[test]
    fn a_full_paired_address_spills_to_the_next() {
        let allocator = PortAllocator::new(KEY);
        let pool = pool(&[("192.0.2.0/30", range(2000, 2099))]);
        let paired = allocator.paired_address(&pool, host(1)).unwrap();
        let paired_full = |address: Ipv4Addr, _: u16| address == paired;
        let allocation = allocator
            .allocate(
                &pool,
                &request(Nat64Protocol::Udp, host(1), 5004),
                paired_full,
            )
            .unwrap();
        let next = pool
            .address((pool.index_of(paired).unwrap() + 1) % pool.address_count())
            .unwrap()
            .0;
        assert_eq!(allocation.address, next);
        assert_eq!(allocation.port % 2, 0);
        // 100 ports: 50 even + 50 odd probed on the paired address first.
        assert_eq!(allocation.probes, 101);
    }

    #[test]
    fn hosts_spread_evenly_over_the_addresses() {
        let allocator = PortAllocator::new(KEY);
        let pool = pool(&[
            ("192.0.2.0/30", PortRange::ALL_BUT_ZERO),
            ("198.51.100.8/29", PortRange::ALL_BUT_ZERO),
        ]);
        let mut counts = [0u32; 12];
        for number in 0..12_000 {
            let address = allocator.paired_address(&pool, host(number)).unwrap();
            let index = pool.index_of(address).unwrap() as usize;
            counts[index] += 1;
        }
        for count in counts {
            assert!((800..=1200).contains(&count), "{counts:?}");
        }
    }

    // ----- distribution (RFC 6056 §3.3.3: offsets spread over the range) -----

    #[test]
    fn first_choices_are_spread_evenly_over_the_range() {
        let allocator = PortAllocator::new(KEY);
        let pool = single_address();
        // 64 buckets of the upper class, 64 000 hosts each opening one flow.
        let mut buckets = [0u32; 64];
        let bucket_width = (65_536 - 1024) / 64;
        for number in 0..64_000u32 {
            let allocation = allocator
                .allocate(
                    &pool,
                    &request(
                        Nat64Protocol::Tcp,
                        host(number),
                        40_000 + (number % 7) as u16,
                    ),
                    free,
                )
                .unwrap();
            let bucket = ((u32::from(allocation.port) - 1024) / bucket_width).min(63);
            buckets[bucket as usize] += 1;
        }
        // Expected 1000 per bucket; a chi-square over 63 degrees of freedom
        // stays far below 130 for a uniform pick.
        let chi_square: f64 = buckets
            .iter()
            .map(|count| {
                let difference = f64::from(*count) - 1000.0;
                difference * difference / 1000.0
            })
            .sum();
        assert!(chi_square < 130.0, "{chi_square} {buckets:?}");
    }

    #[test]
    fn a_busy_pool_still_hands_out_every_port_once() {
        // Two addresses × 500 ports; 1000 bindings of 40 hosts fill it
        // exactly, each (T, t) once, and port rules hold where they could.
        let allocator = PortAllocator::new(KEY);
        let pool = pool(&[("192.0.2.0/31", range(2000, 2499))]);
        let mut used = BTreeSet::new();
        let allocations = fill(
            &allocator,
            &pool,
            (0..1001u32).map(|number| {
                request(
                    Nat64Protocol::Udp,
                    host(number % 40),
                    10_000 + number as u16,
                )
            }),
            &mut used,
        );
        assert_eq!(allocations.iter().flatten().count(), 1000);
        assert_eq!(allocations[1000], None);
        for allocation in allocations.iter().flatten() {
            assert!((2000..=2499).contains(&allocation.port));
            assert!(allocation.probes <= DEFAULT_MAXIMUM_PROBES);
        }
    }
}
