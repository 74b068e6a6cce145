//! `pool4`: the IPv4 addresses stateful NAT64 shares among IPv6 hosts, each with the TCP and UDP port ranges and the ICMP identifier range it lends (RFC 6146 §3.5.1.1, §3.5.2.3, §3.5.3).
//!
//! A [`Pool4`] is a validated list of [`Pool4Entry`]s: an IPv4 prefix (a
//! single address is a /32) and, per protocol, the inclusive
//! [`PortRange`] the allocator ([`super::port_allocation`]) may hand out on
//! every address of the prefix. A range may straddle the well-known
//! (0–1023) and the other (1024–65535) port classes: the allocator keeps a
//! port's class and parity within whatever the range offers.
//!
//! Validation ([`Pool4::new`]): at least one entry and at most
//! [`MAXIMUM_POOL4_ENTRIES`]; no prefix holds an address that can never be a
//! unicast source (0.0.0.0/8, 127.0.0.0/8, multicast, 240.0.0.0/4); no two
//! prefixes share an address (each (address, protocol) has one range); TCP
//! and UDP ranges exclude port 0 (not a usable source port, RFC 4787 §4.2.1
//! notes its handling is undefined). A range whose first port is after its
//! last is refused by [`PortRange::new`].
//!
//! If `pool4` holds the router's own uplink address, its ranges should leave
//! out the ports the router's own endpoints use.

use alloc::vec::Vec;
use core::fmt;
use core::net::Ipv4Addr;

use super::super::route_mapping::Ipv4Prefix;
use super::super::stateless_addresses::{
    ipv4_prefix_contains, ipv4_prefixes_overlap, is_never_unicast,
};
use super::flow::Nat64Protocol;

/// The most entries a [`Pool4`] holds.
pub const MAXIMUM_POOL4_ENTRIES: usize = 64;

/// The first port of the "other" class: ports below are well-known
/// (0–1023), ports from here on are registered or dynamic (RFC 6146
/// §3.5.1.1, RFC 4787 REQ-3 a, RFC 6056 §2.1).
pub const FIRST_NON_WELL_KNOWN_PORT: u16 = 1024;

/// An inclusive range of ports (or ICMP identifiers): `first..=last`, never
/// empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PortRange {
    first: u16,
    last: u16,
}

/// Why a [`PortRange`] or a [`Pool4`] range was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PortRangeError {
    /// The first port is after the last: the range would be empty.
    FirstAfterLast {
        /// The first port given.
        first: u16,
        /// The last port given.
        last: u16,
    },
}

impl fmt::Display for PortRangeError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PortRangeError::FirstAfterLast { first, last } => write!(
                formatter,
                "the port range {first}-{last} is empty (its first port is after its last)"
            ),
        }
    }
}

impl PortRange {
    /// Every value: the default ICMP identifier range (§3.5.3: "any
    /// available value").
    pub const ALL: PortRange = PortRange {
        first: 0,
        last: u16::MAX,
    };

    /// 1–65535: the default TCP and UDP range (every port but 0), so that
    /// well-known source ports can keep their class (§3.5.1.1).
    pub const ALL_BUT_ZERO: PortRange = PortRange {
        first: 1,
        last: u16::MAX,
    };

    /// `first..=last`, if `first <= last`.
    pub const fn new(first: u16, last: u16) -> Result<PortRange, PortRangeError> {
        if first > last {
            Err(PortRangeError::FirstAfterLast { first, last })
        } else {
            Ok(PortRange { first, last })
        }
    }

    /// The first port.
    pub const fn first(&self) -> u16 {
        self.first
    }

    /// The last port.
    pub const fn last(&self) -> u16 {
        self.last
    }

    /// How many ports the range holds (1 to 65536).
    pub const fn port_count(&self) -> u32 {
        self.last as u32 - self.first as u32 + 1
    }

    /// Whether `port` is in the range.
    pub const fn contains(&self, port: u16) -> bool {
        self.first <= port && port <= self.last
    }

    /// The part of the range inside `first..=last`, if any.
    pub(super) fn intersect(&self, first: u16, last: u16) -> Option<PortRange> {
        let first = self.first.max(first);
        let last = self.last.min(last);
        PortRange::new(first, last).ok()
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}-{}", self.first, self.last)
    }
}

/// One `pool4` entry: a prefix and the range each protocol may use on each
/// of its addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Pool4Entry {
    prefix: Ipv4Prefix,
    tcp: PortRange,
    udp: PortRange,
    icmp: PortRange,
}

impl Pool4Entry {
    /// An entry; checked when the [`Pool4`] is built.
    pub const fn new(
        prefix: Ipv4Prefix,
        tcp: PortRange,
        udp: PortRange,
        icmp: PortRange,
    ) -> Pool4Entry {
        Pool4Entry {
            prefix,
            tcp,
            udp,
            icmp,
        }
    }

    /// An entry with the default ranges: TCP and UDP 1–65535, ICMP 0–65535.
    pub const fn with_default_ranges(prefix: Ipv4Prefix) -> Pool4Entry {
        Pool4Entry::new(
            prefix,
            PortRange::ALL_BUT_ZERO,
            PortRange::ALL_BUT_ZERO,
            PortRange::ALL,
        )
    }

    /// The prefix.
    pub const fn prefix(&self) -> Ipv4Prefix {
        self.prefix
    }

    /// The range `protocol` may use on each address of the prefix.
    pub const fn range(&self, protocol: Nat64Protocol) -> PortRange {
        match protocol {
            Nat64Protocol::Tcp => self.tcp,
            Nat64Protocol::Udp => self.udp,
            Nat64Protocol::Icmp => self.icmp,
        }
    }

    /// How many addresses the prefix holds (1 to 2^32).
    pub fn address_count(&self) -> u64 {
        1u64 << (32 - u32::from(self.prefix.length().min(32)))
    }
}

/// Why [`Pool4::new`] refused a list of entries; `index` is the entry's
/// position in the list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Pool4Error {
    /// No entry: stateful NAT64 needs at least one IPv4 address (§3).
    Empty,
    /// More than [`MAXIMUM_POOL4_ENTRIES`] entries.
    TooManyEntries,
    /// The prefix holds an address that can never be a unicast source.
    NotUnicast {
        /// The entry.
        index: usize,
    },
    /// The prefix shares addresses with an earlier entry's.
    Overlap {
        /// The earlier entry.
        earlier: usize,
        /// The entry that overlaps it.
        later: usize,
    },
    /// A TCP or UDP range includes port 0.
    PortZero {
        /// The entry.
        index: usize,
        /// The protocol whose range includes port 0.
        protocol: Nat64Protocol,
    },
}

impl fmt::Display for Pool4Error {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pool4Error::Empty => formatter.write_str("pool4 needs at least one IPv4 address"),
            Pool4Error::TooManyEntries => write!(
                formatter,
                "pool4 has at most {MAXIMUM_POOL4_ENTRIES} entries"
            ),
            Pool4Error::NotUnicast { index } => write!(
                formatter,
                "pool4 entry {index} holds addresses that cannot be a source \
                 (0.0.0.0/8, 127.0.0.0/8, multicast or 240.0.0.0/4)"
            ),
            Pool4Error::Overlap { earlier, later } => {
                write!(formatter, "pool4 entry {later} overlaps entry {earlier}")
            }
            Pool4Error::PortZero { index, protocol } => write!(
                formatter,
                "pool4 entry {index}: the {} port range includes port 0",
                match protocol {
                    Nat64Protocol::Tcp => "TCP",
                    Nat64Protocol::Udp => "UDP",
                    Nat64Protocol::Icmp => "ICMP",
                }
            ),
        }
    }
}

/// A validated `pool4` (see the [module documentation](self)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pool4 {
    entries: Vec<Pool4Entry>,
    /// The number of addresses in all entries (at most 64 × 2^32).
    address_count: u64,
}

impl Pool4 {
    /// A pool of `entries`, in this order (the order numbers the addresses
    /// for [`Pool4::address`]).
    pub fn new(entries: Vec<Pool4Entry>) -> Result<Pool4, Pool4Error> {
        if entries.is_empty() {
            return Err(Pool4Error::Empty);
        }
        if entries.len() > MAXIMUM_POOL4_ENTRIES {
            return Err(Pool4Error::TooManyEntries);
        }
        for (index, entry) in entries.iter().enumerate() {
            let prefix = entry.prefix;
            let last = last_address(prefix);
            if is_never_unicast(prefix.network()) || is_never_unicast(last) {
                return Err(Pool4Error::NotUnicast { index });
            }
            if let Some(earlier) = entries
                .iter()
                .take(index)
                .position(|earlier| ipv4_prefixes_overlap(earlier.prefix, prefix))
            {
                return Err(Pool4Error::Overlap {
                    earlier,
                    later: index,
                });
            }
            for protocol in [Nat64Protocol::Tcp, Nat64Protocol::Udp] {
                if entry.range(protocol).contains(0) {
                    return Err(Pool4Error::PortZero { index, protocol });
                }
            }
        }
        let address_count = entries.iter().map(Pool4Entry::address_count).sum();
        Ok(Pool4 {
            entries,
            address_count,
        })
    }

    /// The entries, in configuration order.
    pub fn entries(&self) -> &[Pool4Entry] {
        &self.entries
    }

    /// The number of addresses in the pool (at least 1).
    pub fn address_count(&self) -> u64 {
        self.address_count
    }

    /// Whether `address` is in the pool.
    pub fn contains(&self, address: Ipv4Addr) -> bool {
        self.entry_of(address).is_some()
    }

    /// The entry holding `address`.
    pub fn entry_of(&self, address: Ipv4Addr) -> Option<&Pool4Entry> {
        self.entries
            .iter()
            .find(|entry| ipv4_prefix_contains(entry.prefix, address))
    }

    /// The range `protocol` may use on `address`, if the address is in the
    /// pool.
    pub fn range(&self, address: Ipv4Addr, protocol: Nat64Protocol) -> Option<PortRange> {
        self.entry_of(address).map(|entry| entry.range(protocol))
    }

    /// Whether `port` of `protocol` on `address` belongs to the pool.
    pub fn contains_port(&self, address: Ipv4Addr, protocol: Nat64Protocol, port: u16) -> bool {
        self.range(address, protocol)
            .is_some_and(|range| range.contains(port))
    }

    /// The address number `index` (counting through the entries in order)
    /// and its entry; `None` past the end.
    pub fn address(&self, index: u64) -> Option<(Ipv4Addr, &Pool4Entry)> {
        let mut index = index;
        for entry in &self.entries {
            let count = entry.address_count();
            if index < count {
                let offset = u32::try_from(index).ok()?;
                let address =
                    Ipv4Addr::from_bits(entry.prefix.network().to_bits().wrapping_add(offset));
                return Some((address, entry));
            }
            index -= count;
        }
        None
    }

    /// The number of `address` in the pool (the inverse of
    /// [`Pool4::address`]).
    pub fn index_of(&self, address: Ipv4Addr) -> Option<u64> {
        let mut before = 0u64;
        for entry in &self.entries {
            if ipv4_prefix_contains(entry.prefix, address) {
                let offset = address
                    .to_bits()
                    .wrapping_sub(entry.prefix.network().to_bits());
                return Some(before + u64::from(offset));
            }
            before += entry.address_count();
        }
        None
    }
}

/// The last address of `prefix`.
fn last_address(prefix: Ipv4Prefix) -> Ipv4Addr {
    let host_bits = match prefix.length() {
        0 => u32::MAX,
        length @ 1..=32 => u32::MAX.checked_shr(u32::from(length)).unwrap_or(0),
        _ => 0,
    };
    Ipv4Addr::from_bits(prefix.network().to_bits() | host_bits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    fn prefix(text: &str) -> Ipv4Prefix {
        let (address, length) = text.split_once('/').unwrap_or((text, "32"));
        Ipv4Prefix::new(address.parse().unwrap(), length.parse().unwrap()).unwrap()
    }

    fn range(first: u16, last: u16) -> PortRange {
        PortRange::new(first, last).unwrap()
    }

    #[test]
    fn port_ranges_are_never_empty() {
        assert_eq!(
            PortRange::new(2000, 1000),
            Err(PortRangeError::FirstAfterLast {
                first: 2000,
                last: 1000
            })
        );
        let single = range(53, 53);
        assert_eq!(
            (
                single.port_count(),
                single.contains(53),
                single.contains(54)
            ),
            (1, true, false)
        );
        assert_eq!(PortRange::ALL.port_count(), 65_536);
        assert_eq!(PortRange::ALL_BUT_ZERO.port_count(), 65_535);
        assert_eq!(
            range(1000, 2000).intersect(0, 1023),
            Some(range(1000, 1023))
        );
        assert_eq!(
            range(1000, 2000).intersect(1024, 65535),
            Some(range(1024, 2000))
        );
        assert_eq!(range(2000, 3000).intersect(0, 1023), None);
        assert_eq!(
            PortRange::new(5, 1).unwrap_err().to_string(),
            "the port range 5-1 is empty (its first port is after its last)"
        );
    }

    #[test]
    fn a_valid_pool_numbers_its_addresses_in_order() {
        let pool = Pool4::new(vec![
            Pool4Entry::with_default_ranges(prefix("192.0.2.1")),
            Pool4Entry::new(
                prefix("198.51.100.0/30"),
                range(1024, 65535),
                range(2000, 3000),
                range(0, 99),
            ),
        ])
        .unwrap();
        assert_eq!(pool.address_count(), 5);
        let addresses: Vec<Ipv4Addr> = (0..6)
            .filter_map(|index| pool.address(index).map(|(address, _)| address))
            .collect();
        assert_eq!(
            addresses,
            [
                Ipv4Addr::new(192, 0, 2, 1),
                Ipv4Addr::new(198, 51, 100, 0),
                Ipv4Addr::new(198, 51, 100, 1),
                Ipv4Addr::new(198, 51, 100, 2),
                Ipv4Addr::new(198, 51, 100, 3),
            ]
        );
        for (index, address) in addresses.iter().enumerate() {
            assert_eq!(pool.index_of(*address), Some(index as u64));
        }
        assert_eq!(pool.index_of(Ipv4Addr::new(192, 0, 2, 2)), None);
        let third = Ipv4Addr::new(198, 51, 100, 2);
        assert_eq!(
            pool.range(third, Nat64Protocol::Udp),
            Some(range(2000, 3000))
        );
        assert!(pool.contains_port(third, Nat64Protocol::Icmp, 0));
        assert!(!pool.contains_port(third, Nat64Protocol::Icmp, 100));
        assert!(!pool.contains(Ipv4Addr::new(203, 0, 113, 1)));
    }

    #[test]
    fn invalid_pools_are_refused_with_the_entry() {
        assert_eq!(Pool4::new(Vec::new()), Err(Pool4Error::Empty));
        let too_many = (0..=MAXIMUM_POOL4_ENTRIES)
            .map(|index| {
                let address = Ipv4Addr::from_bits(0xcb00_7100 + index as u32);
                Pool4Entry::with_default_ranges(Ipv4Prefix::new(address, 32).unwrap())
            })
            .collect();
        assert_eq!(Pool4::new(too_many), Err(Pool4Error::TooManyEntries));
        for bad in [
            "127.0.0.1",
            "0.0.0.0/8",
            "224.0.0.0/4",
            "255.255.255.255",
            "128.0.0.0/1",
        ] {
            assert_eq!(
                Pool4::new(vec![Pool4Entry::with_default_ranges(prefix(bad))]),
                Err(Pool4Error::NotUnicast { index: 0 }),
                "{bad}"
            );
        }
        assert_eq!(
            Pool4::new(vec![
                Pool4Entry::with_default_ranges(prefix("192.0.2.0/24")),
                Pool4Entry::with_default_ranges(prefix("198.51.100.7")),
                Pool4Entry::with_default_ranges(prefix("192.0.2.128/25")),
            ]),
            Err(Pool4Error::Overlap {
                earlier: 0,
                later: 2
            })
        );
        let udp_zero = Pool4Entry::new(
            prefix("192.0.2.1"),
            PortRange::ALL_BUT_ZERO,
            range(0, 10),
            PortRange::ALL,
        );
        let error = Pool4::new(vec![udp_zero]).unwrap_err();
        assert_eq!(
            error,
            Pool4Error::PortZero {
                index: 0,
                protocol: Nat64Protocol::Udp
            }
        );
        assert_eq!(
            error.to_string(),
            "pool4 entry 0: the UDP port range includes port 0"
        );
        // ICMP identifier 0 is fine; ranges may mix the port classes.
        let mixed = Pool4Entry::new(
            prefix("192.0.2.1"),
            range(1000, 2000),
            range(1, 1023),
            PortRange::ALL,
        );
        assert!(Pool4::new(vec![mixed]).is_ok());
    }
}
