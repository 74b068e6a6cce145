//! RFC 7757 Explicit Address Mappings (EAM): a bounded table of IPv4 prefix ↔ IPv6 prefix pairs that SIIT consults before RFC 6052.
//!
//! # The algorithm (RFC 7757 §3.3)
//! IPv4 → IPv6: find the entry whose IPv4 prefix holds the address, keep
//! the address bits after that prefix (the suffix), put the entry's IPv6
//! prefix in front and pad with zero bits to 128. IPv6 → IPv4: the same
//! with the columns swapped, dropping the IPv6 suffix bits that do not fit
//! in 32. An address no entry covers falls through to RFC 6052 (the
//! caller's `pool6`; see `stateless_addresses`).
//!
//! # Entries (RFC 7757 §3.2)
//! An entry ([`ExplicitAddressMapping`]) is valid when neither prefix has
//! bits set after its length and the IPv4 suffix (32 − IPv4 length) is no
//! longer than the IPv6 suffix (128 − IPv6 length), which §3.2 requires
//! ("MUST have an identical or smaller number of suffix bits"). The table
//! accepts the RFC's rule so that its Figure 1 and Appendix B examples run
//! as written; the configuration is stricter and asks for equal suffix
//! lengths (see `translation::config`), because with a longer IPv6 suffix
//! many IPv6 addresses share one IPv4 address and answers come back to a
//! different one.
//!
//! # Overlap (RFC 7757 §5)
//! §5 explains that overlapping or identical prefixes in either column make
//! the two directions disagree (its Figure 2: an IPv6 address translates to
//! an IPv4 address that translates back to a *different* IPv6 address), says
//! a translator MAY warn about overlaps, and leaves identical IPv6 prefixes
//! with unspecified behaviour (MAY refuse them). Two prefixes overlap only
//! when one contains the other; such a pair is either redundant (the inner
//! entry maps exactly as the outer one would) or asymmetric for some
//! addresses. pure6 therefore refuses every overlap, identical or nested, in
//! either column ([`TableError`]): the mapping stays a bijection between the
//! covered ranges (for equal suffix lengths) and a lookup result never
//! depends on which of two entries wins. The cost is that the "IVI plus
//! exceptions" style of Figure 2 cannot be configured.
//!
//! # Structure: two sorted index vectors, binary search
//! With no overlaps, the prefixes of one column are disjoint ranges of the
//! address space, so the longest-prefix match of §3.3 is *the only* entry
//! whose prefix holds the address: the last entry (sorted by network
//! address) whose network is not above the address, if it contains it. The
//! table keeps the entries once, sorted by IPv4 network, and a vector of
//! entry indices sorted by IPv6 network; each lookup is one binary search
//! (`partition_point`), allocation-free, O(log n), n at most
//! [`MAXIMUM_ENTRIES`]. A trie or per-length hash tables would pay off only
//! for overlapping prefixes, which are refused. Building sorts once
//! (O(n log n)); the table is built from the configuration and not changed
//! while packets flow.

use alloc::vec::Vec;
use core::fmt;
use core::net::{Ipv4Addr, Ipv6Addr};

use smoltcp::wire::Ipv6Cidr;

use super::route_mapping::Ipv4Prefix;

/// The most entries a table holds.
pub const MAXIMUM_ENTRIES: usize = 65_536;

/// The mask of the first `length` bits of an IPv4 address (0..=32).
const fn ipv4_mask(length: u8) -> u32 {
    if length == 0 {
        0
    } else if length >= 32 {
        u32::MAX
    } else {
        u32::MAX << (32 - length as u32)
    }
}

/// The mask of the first `length` bits of an IPv6 address (0..=128).
const fn ipv6_mask(length: u8) -> u128 {
    if length == 0 {
        0
    } else if length >= 128 {
        u128::MAX
    } else {
        u128::MAX << (128 - length as u32)
    }
}

/// One row of the table (RFC 7757 §3.1): an IPv4 prefix and an IPv6 prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ExplicitAddressMapping {
    ipv4: Ipv4Prefix,
    /// `ipv4`'s network address as bits.
    ipv4_network: u32,
    ipv4_length: u8,
    ipv6_network: u128,
    ipv6_length: u8,
    /// `ipv6_mask(ipv6_length)`, kept: every translated packet tests and
    /// maps addresses with it, and a 128-bit shift by a variable amount
    /// costs more than the load.
    ipv6_mask: u128,
}

/// Why a pair of prefixes is not a valid [`ExplicitAddressMapping`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MappingError {
    /// The IPv6 length is above 128.
    Ipv6PrefixLength(u8),
    /// The IPv6 prefix has bits set after its length.
    Ipv6HostBitsSet,
    /// The IPv4 suffix is longer than the IPv6 suffix (RFC 7757 §3.2).
    SuffixTooLong {
        /// 32 − IPv4 prefix length.
        ipv4_suffix: u8,
        /// 128 − IPv6 prefix length.
        ipv6_suffix: u8,
    },
}

impl fmt::Display for MappingError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MappingError::Ipv6PrefixLength(length) => {
                write!(formatter, "IPv6 prefix length /{length} is above 128")
            }
            MappingError::Ipv6HostBitsSet => {
                formatter.write_str("the IPv6 prefix has bits set after its length")
            }
            MappingError::SuffixTooLong {
                ipv4_suffix,
                ipv6_suffix,
            } => write!(
                formatter,
                "the IPv4 prefix leaves {ipv4_suffix} suffix bits but the IPv6 prefix only \
                 {ipv6_suffix}; RFC 7757 §3.2 requires the IPv4 suffix to be no longer"
            ),
        }
    }
}

impl core::error::Error for MappingError {}

impl ExplicitAddressMapping {
    /// The mapping `ipv4` ↔ `ipv6`, if valid (see [`MappingError`]).
    pub fn new(ipv4: Ipv4Prefix, ipv6: Ipv6Cidr) -> Result<ExplicitAddressMapping, MappingError> {
        let ipv6_length = ipv6.prefix_len();
        if ipv6_length > 128 {
            return Err(MappingError::Ipv6PrefixLength(ipv6_length));
        }
        let ipv6_network = ipv6.address().to_bits();
        if ipv6_network & !ipv6_mask(ipv6_length) != 0 {
            return Err(MappingError::Ipv6HostBitsSet);
        }
        let ipv4_suffix = 32 - ipv4.length();
        let ipv6_suffix = 128 - ipv6_length;
        if ipv4_suffix > ipv6_suffix {
            return Err(MappingError::SuffixTooLong {
                ipv4_suffix,
                ipv6_suffix,
            });
        }
        Ok(ExplicitAddressMapping {
            ipv4,
            ipv4_network: ipv4.network().to_bits(),
            ipv4_length: ipv4.length(),
            ipv6_network,
            ipv6_length,
            ipv6_mask: ipv6_mask(ipv6_length),
        })
    }

    /// The IPv4 prefix.
    pub fn ipv4(&self) -> Ipv4Prefix {
        self.ipv4
    }

    /// The IPv6 prefix.
    pub fn ipv6(&self) -> Ipv6Cidr {
        Ipv6Cidr::new(Ipv6Addr::from_bits(self.ipv6_network), self.ipv6_length)
    }

    /// 32 − the IPv4 prefix length.
    pub fn ipv4_suffix_length(&self) -> u8 {
        32 - self.ipv4_length
    }

    /// 128 − the IPv6 prefix length.
    pub fn ipv6_suffix_length(&self) -> u8 {
        128 - self.ipv6_length
    }

    /// Whether the IPv4 prefix holds `address`.
    #[inline]
    pub fn contains_ipv4(&self, address: Ipv4Addr) -> bool {
        address.to_bits() & ipv4_mask(self.ipv4_length) == self.ipv4_network
    }

    /// Whether the IPv6 prefix holds `address`.
    #[inline]
    pub fn contains_ipv6(&self, address: Ipv6Addr) -> bool {
        address.to_bits() & self.ipv6_mask == self.ipv6_network
    }

    /// RFC 7757 §3.3.1 steps 3-6 for an address inside the IPv4 prefix:
    /// the IPv4 suffix right after the IPv6 prefix, zero-padded to 128.
    #[inline]
    pub fn map_ipv4(&self, address: Ipv4Addr) -> Ipv6Addr {
        let suffix = u128::from(address.to_bits() & !ipv4_mask(self.ipv4_length));
        // A single IPv4 address (the usual host mapping) carries no bits
        // over: the IPv6 prefix itself, without the shift.
        if suffix == 0 {
            return Ipv6Addr::from_bits(self.ipv6_network);
        }
        let shift = u32::from(
            self.ipv6_suffix_length()
                .saturating_sub(self.ipv4_suffix_length()),
        );
        Ipv6Addr::from_bits(self.ipv6_network | suffix.checked_shl(shift).unwrap_or(0))
    }

    /// RFC 7757 §3.3.2 steps 3-6 for an address inside the IPv6 prefix:
    /// the first 32 − IPv4 length bits of the IPv6 suffix after the IPv4
    /// prefix; later bits are dropped.
    #[inline]
    pub fn map_ipv6(&self, address: Ipv6Addr) -> Ipv4Addr {
        // A single IPv4 address (the usual host mapping) keeps no bits.
        if self.ipv4_length >= 32 {
            return Ipv4Addr::from_bits(self.ipv4_network);
        }
        let suffix = address.to_bits() & !self.ipv6_mask;
        let shift = u32::from(
            self.ipv6_suffix_length()
                .saturating_sub(self.ipv4_suffix_length()),
        );
        let kept = suffix.checked_shr(shift).unwrap_or(0) as u32;
        Ipv4Addr::from_bits(self.ipv4_network | (kept & !ipv4_mask(self.ipv4_length)))
    }

    fn ipv4_overlaps(&self, other: &ExplicitAddressMapping) -> bool {
        let mask = ipv4_mask(self.ipv4_length.min(other.ipv4_length));
        self.ipv4_network & mask == other.ipv4_network & mask
    }

    fn ipv6_overlaps(&self, other: &ExplicitAddressMapping) -> bool {
        let mask = ipv6_mask(self.ipv6_length.min(other.ipv6_length));
        self.ipv6_network & mask == other.ipv6_network & mask
    }
}

impl fmt::Display for ExplicitAddressMapping {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{} ↔ {}", self.ipv4(), self.ipv6())
    }
}

/// Why a list of mappings cannot form a table. Indices are positions in
/// the list given to [`ExplicitAddressMappingTable::new`]; `later` is the
/// larger one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableError {
    /// More than [`MAXIMUM_ENTRIES`] entries; `index` is the first one too many.
    TooManyEntries {
        /// The first entry beyond the limit.
        index: usize,
    },
    /// Two IPv4 prefixes overlap (one contains the other, or they are equal).
    OverlappingIpv4 {
        /// The entry listed first.
        earlier: usize,
        /// The entry listed second.
        later: usize,
    },
    /// Two IPv6 prefixes overlap (one contains the other, or they are equal).
    OverlappingIpv6 {
        /// The entry listed first.
        earlier: usize,
        /// The entry listed second.
        later: usize,
    },
}

impl TableError {
    /// The index of the entry the error is reported at.
    pub fn index(&self) -> usize {
        match *self {
            TableError::TooManyEntries { index } => index,
            TableError::OverlappingIpv4 { later, .. }
            | TableError::OverlappingIpv6 { later, .. } => later,
        }
    }
}

/// Which algorithm produced a translated address: RFC 7757 §4.2.2's
/// intrinsic hairpinning asks whether an address "was translated using the
/// algorithm in RFC 6052".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MappingMethod {
    /// An explicit address mapping (RFC 7757).
    Explicit,
    /// The translation prefix `pool6` (RFC 6052).
    TranslationPrefix,
}

/// The Explicit Address Mapping Table (RFC 7757 §3.1): at most
/// [`MAXIMUM_ENTRIES`] entries, no two overlapping in either column.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExplicitAddressMappingTable {
    /// The entries, sorted by IPv4 network.
    by_ipv4: Vec<ExplicitAddressMapping>,
    /// Indices into `by_ipv4`, sorted by IPv6 network.
    by_ipv6: Vec<u32>,
    /// The first and last IPv4 address the entries cover (as bits; 0 and
    /// 0 for an empty table): [`ExplicitAddressMappingTable::ipv4_to_ipv6`]
    /// finds an address outside in no entry without the search (the
    /// outer source of most packets from IPv4). Lookups of addresses the
    /// table usually holds (the 6→4 way's checks) search directly.
    ipv4_span: (u32, u32),
}

impl ExplicitAddressMappingTable {
    /// An empty table.
    pub fn new_empty() -> ExplicitAddressMappingTable {
        ExplicitAddressMappingTable::default()
    }

    /// A table of `entries`, or the first problem (see [`TableError`]).
    /// Of several overlapping pairs, the one whose later entry comes first
    /// in `entries` is reported.
    pub fn new(
        entries: Vec<ExplicitAddressMapping>,
    ) -> Result<ExplicitAddressMappingTable, TableError> {
        if entries.len() > MAXIMUM_ENTRIES {
            return Err(TableError::TooManyEntries {
                index: MAXIMUM_ENTRIES,
            });
        }
        // Sort positions by each column; with (network, length) as the key
        // a prefix comes right before the first prefix it contains, so any
        // overlap shows up between neighbours in this order.
        let mut ipv4_order: Vec<usize> = (0..entries.len()).collect();
        ipv4_order.sort_unstable_by_key(|&index| {
            (
                entries[index].ipv4_network,
                entries[index].ipv4_length,
                index,
            )
        });
        let mut ipv6_order: Vec<usize> = (0..entries.len()).collect();
        ipv6_order.sort_unstable_by_key(|&index| {
            (
                entries[index].ipv6_network,
                entries[index].ipv6_length,
                index,
            )
        });
        let mut worst: Option<TableError> = None;
        let mut consider = |error: TableError| {
            if worst.is_none_or(|known| error.index() < known.index()) {
                worst = Some(error);
            }
        };
        for pair in ipv4_order.windows(2) {
            if let [first, second] = *pair
                && entries[first].ipv4_overlaps(&entries[second])
            {
                consider(TableError::OverlappingIpv4 {
                    earlier: first.min(second),
                    later: first.max(second),
                });
            }
        }
        for pair in ipv6_order.windows(2) {
            if let [first, second] = *pair
                && entries[first].ipv6_overlaps(&entries[second])
            {
                consider(TableError::OverlappingIpv6 {
                    earlier: first.min(second),
                    later: first.max(second),
                });
            }
        }
        if let Some(error) = worst {
            return Err(error);
        }
        let by_ipv4: Vec<ExplicitAddressMapping> =
            ipv4_order.iter().map(|&index| entries[index]).collect();
        let mut by_ipv6: Vec<u32> = (0..by_ipv4.len())
            .map(|position| u32::try_from(position).unwrap_or(u32::MAX))
            .collect();
        by_ipv6.sort_unstable_by_key(|&position| {
            by_ipv4
                .get(position as usize)
                .map_or(u128::MAX, |entry| entry.ipv6_network)
        });
        // Sorted and not overlapping: the last entry ends last.
        let ipv4_span = match (by_ipv4.first(), by_ipv4.last()) {
            (Some(first), Some(last)) => (
                first.ipv4_network,
                last.ipv4_network | !ipv4_mask(last.ipv4_length),
            ),
            _ => (0, 0),
        };
        Ok(ExplicitAddressMappingTable {
            by_ipv4,
            by_ipv6,
            ipv4_span,
        })
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.by_ipv4.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.by_ipv4.is_empty()
    }

    /// The entries, sorted by IPv4 prefix.
    pub fn entries(&self) -> &[ExplicitAddressMapping] {
        &self.by_ipv4
    }

    /// The entry whose IPv4 prefix holds `address` (RFC 7757 §3.3.1 step
    /// 1; with no overlaps it is the longest match).
    #[inline]
    pub fn find_ipv4(&self, address: Ipv4Addr) -> Option<&ExplicitAddressMapping> {
        let bits = address.to_bits();
        let after = self
            .by_ipv4
            .partition_point(|entry| entry.ipv4_network <= bits);
        let entry = self.by_ipv4.get(after.checked_sub(1)?)?;
        entry.contains_ipv4(address).then_some(entry)
    }

    /// The entry whose IPv6 prefix holds `address` (RFC 7757 §3.3.2 step 1).
    #[inline]
    pub fn find_ipv6(&self, address: Ipv6Addr) -> Option<&ExplicitAddressMapping> {
        self.find_ipv6_inline(address)
    }

    /// [`ExplicitAddressMappingTable::find_ipv6`], always inlined: the
    /// search of [`ExplicitAddressMappingTable::ipv6_to_ipv4`], which
    /// maps the source of most packets to the uplink.
    #[inline(always)]
    fn find_ipv6_inline(&self, address: Ipv6Addr) -> Option<&ExplicitAddressMapping> {
        let bits = address.to_bits();
        // The last entry (in IPv6 order) whose network is at most `bits`,
        // the only one that can hold it (the prefixes do not overlap), or
        // the first when none is: a binary search written out, since
        // `partition_point` with its closure was not inlined. A table of
        // one entry takes no step.
        let entry_at = |index: usize| {
            let position = *self.by_ipv6.get(index)?;
            self.by_ipv4.get(position as usize)
        };
        let mut base = 0;
        let mut size = self.by_ipv6.len();
        while size > 1 {
            let half = size / 2;
            if entry_at(base + half)?.ipv6_network <= bits {
                base += half;
            }
            size -= half;
        }
        let entry = entry_at(base)?;
        entry.contains_ipv6(address).then_some(entry)
    }

    /// RFC 7757 §3.3.1: the IPv6 address of `address`, or `None` when no
    /// entry covers it (the caller then uses RFC 6052).
    #[inline]
    pub fn ipv4_to_ipv6(&self, address: Ipv4Addr) -> Option<Ipv6Addr> {
        if !self.may_hold_ipv4(address) {
            return None;
        }
        self.find_ipv4(address).map(|entry| entry.map_ipv4(address))
    }

    /// Whether `address` lies between the first and last IPv4 address the
    /// entries cover: outside, no entry holds it (no search needed).
    #[inline(always)]
    pub fn may_hold_ipv4(&self, address: Ipv4Addr) -> bool {
        (self.ipv4_span.0..=self.ipv4_span.1).contains(&address.to_bits())
    }

    /// RFC 7757 §3.3.2: the IPv4 address of `address`, or `None` when no
    /// entry covers it. Inlined whole for the usual host mapping (an IPv4
    /// /32, no bits to carry over); other lengths call `map_ipv6`.
    #[inline(always)]
    pub fn ipv6_to_ipv4(&self, address: Ipv6Addr) -> Option<Ipv4Addr> {
        let entry = self.find_ipv6_inline(address)?;
        if entry.ipv4_length >= 32 {
            return Some(Ipv4Addr::from_bits(entry.ipv4_network));
        }
        Some(entry.map_ipv6(address))
    }

    /// Whether an IPv4 prefix of the table holds `address` ("found in the
    /// EAMT", RFC 7757 §4.2.2 conditions A3 and B3).
    #[inline]
    pub fn contains_ipv4(&self, address: Ipv4Addr) -> bool {
        self.find_ipv4(address).is_some()
    }

    /// Whether an IPv6 prefix of the table holds `address`.
    pub fn contains_ipv6(&self, address: Ipv6Addr) -> bool {
        self.find_ipv6(address).is_some()
    }

    /// The first entry whose IPv4 prefix overlaps `network/length`.
    pub fn overlapping_ipv4(&self, prefix: Ipv4Prefix) -> Option<&ExplicitAddressMapping> {
        let network = prefix.network().to_bits();
        let length = prefix.length();
        self.by_ipv4.iter().find(|entry| {
            let mask = ipv4_mask(entry.ipv4_length.min(length));
            entry.ipv4_network & mask == network & mask
        })
    }

    /// The first entry whose IPv6 prefix overlaps `prefix`.
    pub fn overlapping_ipv6(&self, prefix: Ipv6Cidr) -> Option<&ExplicitAddressMapping> {
        let network = prefix.address().to_bits();
        let length = prefix.prefix_len().min(128);
        self.by_ipv4.iter().find(|entry| {
            let mask = ipv6_mask(entry.ipv6_length.min(length));
            entry.ipv6_network & mask == network & mask
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    fn ipv4(text: &str) -> Ipv4Addr {
        text.parse().unwrap()
    }

    fn ipv6(text: &str) -> Ipv6Addr {
        text.parse().unwrap()
    }

    /// `a.b.c.d[/len]` ↔ `x::y[/len]`, lengths defaulting to /32 and /128
    /// (RFC 7757 §3.2).
    fn mapping(ipv4_text: &str, ipv6_text: &str) -> ExplicitAddressMapping {
        let (address4, length4) = ipv4_text.split_once('/').unwrap_or((ipv4_text, "32"));
        let (address6, length6) = ipv6_text.split_once('/').unwrap_or((ipv6_text, "128"));
        ExplicitAddressMapping::new(
            Ipv4Prefix::new(ipv4(address4), length4.parse().unwrap()).unwrap(),
            Ipv6Cidr::new(ipv6(address6), length6.parse().unwrap()),
        )
        .unwrap()
    }

    /// RFC 7757 §3.2 Figure 1.
    fn figure_1() -> ExplicitAddressMappingTable {
        ExplicitAddressMappingTable::new(vec![
            mapping("192.0.2.1", "2001:db8:aaaa::"),
            mapping("192.0.2.2/32", "2001:db8:bbbb::b/128"),
            mapping("192.0.2.16/28", "2001:db8:cccc::/124"),
            mapping("192.0.2.128/26", "2001:db8:dddd::/64"),
            mapping("192.0.2.192/29", "2001:db8:eeee:8::/62"),
            mapping("192.0.2.224/31", "64:ff9b::/127"),
        ])
        .unwrap()
    }

    /// RFC 7757 Appendix B, Figure 7 (the rows the EAMT translates; the
    /// last row of the figure, 192.0.2.248, falls through to RFC 6052).
    const APPENDIX_B: [(&str, &str); 9] = [
        ("192.0.2.1", "2001:db8:aaaa::"),
        ("192.0.2.2", "2001:db8:bbbb::b"),
        ("192.0.2.16", "2001:db8:cccc::"),
        ("192.0.2.24", "2001:db8:cccc::8"),
        ("192.0.2.31", "2001:db8:cccc::f"),
        ("192.0.2.128", "2001:db8:dddd::"),
        ("192.0.2.152", "2001:db8:dddd:0:6000::"),
        ("192.0.2.183", "2001:db8:dddd:0:dc00::"),
        ("192.0.2.191", "2001:db8:dddd:0:fc00::"),
    ];

    #[test]
    fn appendix_b_ipv4_to_ipv6() {
        let table = figure_1();
        for (address4, address6) in APPENDIX_B {
            assert_eq!(
                table.ipv4_to_ipv6(ipv4(address4)),
                Some(ipv6(address6)),
                "{address4}"
            );
        }
        assert_eq!(
            table.ipv4_to_ipv6(ipv4("192.0.2.195")),
            Some(ipv6("2001:db8:eeee:9:8000::"))
        );
        assert_eq!(
            table.ipv4_to_ipv6(ipv4("192.0.2.225")),
            Some(ipv6("64:ff9b::1"))
        );
        // Not in the table: RFC 6052 takes over (the caller's job).
        assert_eq!(table.ipv4_to_ipv6(ipv4("192.0.2.248")), None);
        assert_eq!(table.ipv4_to_ipv6(ipv4("192.0.2.3")), None);
        assert_eq!(table.ipv4_to_ipv6(ipv4("192.0.2.32")), None);
        assert_eq!(table.ipv4_to_ipv6(ipv4("0.0.0.0")), None);
        assert_eq!(table.ipv4_to_ipv6(ipv4("255.255.255.255")), None);
    }

    #[test]
    fn appendix_b_ipv6_to_ipv4() {
        let table = figure_1();
        for (address4, address6) in APPENDIX_B {
            assert_eq!(
                table.ipv6_to_ipv4(ipv6(address6)),
                Some(ipv4(address4)),
                "{address6}"
            );
        }
        assert_eq!(
            table.ipv6_to_ipv4(ipv6("2001:db8:eeee:9:8000::")),
            Some(ipv4("192.0.2.195"))
        );
        assert_eq!(
            table.ipv6_to_ipv4(ipv6("64:ff9b::1")),
            Some(ipv4("192.0.2.225"))
        );
        assert_eq!(
            table.ipv6_to_ipv4(ipv6("64:ff9b::")),
            Some(ipv4("192.0.2.224"))
        );
        assert_eq!(table.ipv6_to_ipv4(ipv6("64:ff9b::2")), None);
        assert_eq!(table.ipv6_to_ipv4(ipv6("2001:db8:aaaa::1")), None);
        assert_eq!(table.ipv6_to_ipv4(ipv6("::")), None);
        assert_eq!(
            table.ipv6_to_ipv4(ipv6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")),
            None
        );
    }

    #[test]
    fn ipv6_suffix_bits_beyond_32_are_dropped() {
        // §3.3.2 step 5: 2001:db8:dddd::/64 ↔ 192.0.2.128/26 keeps only the
        // first 6 bits of the interface identifier.
        let table = figure_1();
        assert_eq!(
            table.ipv6_to_ipv4(ipv6("2001:db8:dddd:0:6000::1")),
            Some(ipv4("192.0.2.152"))
        );
        assert_eq!(
            table.ipv6_to_ipv4(ipv6("2001:db8:dddd:0:3ff:ffff:ffff:ffff")),
            Some(ipv4("192.0.2.128"))
        );
    }

    #[test]
    fn equal_suffix_lengths_copy_every_bit_both_ways() {
        let table = ExplicitAddressMappingTable::new(vec![
            mapping("198.51.100.0/24", "2001:db8:1::/120"),
            mapping("203.0.113.0/28", "2001:db8:2::ff0/124"),
            mapping("0.0.0.0/0", "2001:db8:3::/96"),
        ]);
        // 0.0.0.0/0 overlaps everything.
        assert_eq!(
            table,
            Err(TableError::OverlappingIpv4 {
                earlier: 0,
                later: 2
            })
        );
        let table = ExplicitAddressMappingTable::new(vec![
            mapping("198.51.100.0/24", "2001:db8:1::/120"),
            mapping("203.0.113.0/28", "2001:db8:2::ff0/124"),
        ])
        .unwrap();
        for host in 0..=255u8 {
            let address4 = Ipv4Addr::new(198, 51, 100, host);
            let address6 = table.ipv4_to_ipv6(address4).unwrap();
            assert_eq!(address6.to_bits() & 0xff, u128::from(host));
            assert_eq!(table.ipv6_to_ipv4(address6), Some(address4));
        }
        assert_eq!(
            table.ipv4_to_ipv6(ipv4("203.0.113.15")),
            Some(ipv6("2001:db8:2::fff"))
        );
        assert_eq!(
            table.ipv6_to_ipv4(ipv6("2001:db8:2::ff3")),
            Some(ipv4("203.0.113.3"))
        );
        assert_eq!(table.ipv6_to_ipv4(ipv6("2001:db8:2::fef")), None);
        assert_eq!(table.ipv4_to_ipv6(ipv4("203.0.113.16")), None);
    }

    #[test]
    fn whole_address_space_entries() {
        let table =
            ExplicitAddressMappingTable::new(vec![mapping("0.0.0.0/0", "2001:db8::/96")]).unwrap();
        assert_eq!(
            table.ipv4_to_ipv6(ipv4("255.255.255.255")),
            Some(ipv6("2001:db8::ffff:ffff"))
        );
        assert_eq!(
            table.ipv6_to_ipv4(ipv6("2001:db8::1.2.3.4")),
            Some(ipv4("1.2.3.4"))
        );
        let table = ExplicitAddressMappingTable::new(vec![mapping("10.0.0.0/8", "::/0")]).unwrap();
        assert_eq!(
            table.ipv6_to_ipv4(ipv6("ffff::")),
            Some(ipv4("10.255.255.0"))
        );
        assert_eq!(table.ipv4_to_ipv6(ipv4("10.0.0.1")), Some(ipv6("0:100::")));
    }

    #[test]
    fn hairpinning_lookups() {
        // RFC 7757 Appendix B.1: 2001:db8:aaaa:: writes to
        // 64:ff9b::192.0.2.2. The source maps by EAM #1 to 192.0.2.1; the
        // destination (mapped with RFC 6052) is found in the EAMT
        // (condition A3), so the packet goes back to IPv6 with EAM #2.
        let table = figure_1();
        assert_eq!(
            table.ipv6_to_ipv4(ipv6("2001:db8:aaaa::")),
            Some(ipv4("192.0.2.1"))
        );
        assert!(table.contains_ipv4(ipv4("192.0.2.2")));
        assert_eq!(
            table.ipv4_to_ipv6(ipv4("192.0.2.2")),
            Some(ipv6("2001:db8:bbbb::b"))
        );
        assert!(!table.contains_ipv4(ipv4("192.0.2.248")));
        assert!(table.contains_ipv6(ipv6("2001:db8:bbbb::b")));
        assert!(!table.contains_ipv6(ipv6("2001:db8:bbbb::c")));
    }

    #[test]
    fn entry_validation() {
        let prefix4 = |text: &str, length| Ipv4Prefix::new(ipv4(text), length).unwrap();
        let cidr6 = |text: &str, length| Ipv6Cidr::new(ipv6(text), length);
        assert_eq!(
            ExplicitAddressMapping::new(prefix4("192.0.2.0", 24), cidr6("2001:db8::", 121)),
            Err(MappingError::SuffixTooLong {
                ipv4_suffix: 8,
                ipv6_suffix: 7
            })
        );
        assert_eq!(
            ExplicitAddressMapping::new(prefix4("192.0.2.0", 24), cidr6("2001:db8::1", 120)),
            Err(MappingError::Ipv6HostBitsSet)
        );
        // Longer IPv6 suffixes are the RFC's rule (Figure 1 row 4).
        let entry =
            ExplicitAddressMapping::new(prefix4("192.0.2.128", 26), cidr6("2001:db8:dddd::", 64))
                .unwrap();
        assert_eq!(entry.ipv4_suffix_length(), 6);
        assert_eq!(entry.ipv6_suffix_length(), 64);
        assert_eq!(entry.to_string(), "192.0.2.128/26 ↔ 2001:db8:dddd::/64");
        assert!(ExplicitAddressMapping::new(prefix4("0.0.0.0", 0), cidr6("::", 96)).is_ok());
    }

    #[test]
    fn overlaps_are_refused_in_both_columns() {
        // RFC 7757 §5 Figure 2: nested IPv4 prefixes.
        assert_eq!(
            ExplicitAddressMappingTable::new(vec![
                mapping("0.0.0.0/0", "2001:db8:ff00::/40"),
                mapping("198.51.100.64/32", "2001:db8::abcd/128"),
            ]),
            Err(TableError::OverlappingIpv4 {
                earlier: 0,
                later: 1
            })
        );
        // Figure 3: identical IPv6 prefixes.
        assert_eq!(
            ExplicitAddressMappingTable::new(vec![
                mapping("198.51.100.8/32", "2001:db8::1/128"),
                mapping("198.51.100.9/32", "2001:db8::1/128"),
            ]),
            Err(TableError::OverlappingIpv6 {
                earlier: 0,
                later: 1
            })
        );
        // The inner prefix listed first, with unrelated entries around.
        assert_eq!(
            ExplicitAddressMappingTable::new(vec![
                mapping("192.0.2.1", "2001:db8:1::1"),
                mapping("203.0.113.0/24", "2001:db8:2::/120"),
                mapping("192.0.2.2", "2001:db8:1::2"),
                mapping("198.51.100.7", "2001:db8:2::/128"),
            ]),
            Err(TableError::OverlappingIpv6 {
                earlier: 1,
                later: 3
            })
        );
        // Identical IPv4 prefixes.
        assert_eq!(
            ExplicitAddressMappingTable::new(vec![
                mapping("192.0.2.1", "2001:db8:1::1"),
                mapping("192.0.2.1", "2001:db8:1::2"),
            ])
            .map_err(|error| error.index()),
            Err(1)
        );
        // Of two overlapping pairs, the one found first in the list.
        assert_eq!(
            ExplicitAddressMappingTable::new(vec![
                mapping("192.0.2.0/24", "2001:db8:1::/120"),
                mapping("198.51.100.1", "2001:db8:9::1"),
                mapping("198.51.100.1", "2001:db8:9::2"),
                mapping("192.0.2.7", "2001:db8:7::7"),
            ]),
            Err(TableError::OverlappingIpv4 {
                earlier: 1,
                later: 2
            })
        );
    }

    #[test]
    fn adjacent_prefixes_do_not_overlap() {
        let table = ExplicitAddressMappingTable::new(vec![
            mapping("192.0.2.0/25", "2001:db8::/121"),
            mapping("192.0.2.128/25", "2001:db8::80/121"),
        ])
        .unwrap();
        assert_eq!(
            table.ipv4_to_ipv6(ipv4("192.0.2.127")),
            Some(ipv6("2001:db8::7f"))
        );
        assert_eq!(
            table.ipv4_to_ipv6(ipv4("192.0.2.128")),
            Some(ipv6("2001:db8::80"))
        );
        assert_eq!(
            table.ipv6_to_ipv4(ipv6("2001:db8::ff")),
            Some(ipv4("192.0.2.255"))
        );
    }

    #[test]
    fn the_bound_is_enforced() {
        let entries: Vec<ExplicitAddressMapping> = (0..=MAXIMUM_ENTRIES as u32)
            .map(|index| {
                ExplicitAddressMapping::new(
                    Ipv4Prefix::new(Ipv4Addr::from_bits(0x0a00_0000 + index), 32).unwrap(),
                    Ipv6Cidr::new(
                        Ipv6Addr::from_bits((0x2001_0db8 << 96) + u128::from(index)),
                        128,
                    ),
                )
                .unwrap()
            })
            .collect();
        assert_eq!(
            ExplicitAddressMappingTable::new(entries.clone()),
            Err(TableError::TooManyEntries {
                index: MAXIMUM_ENTRIES
            })
        );
        let table = ExplicitAddressMappingTable::new(entries[..MAXIMUM_ENTRIES].to_vec()).unwrap();
        assert_eq!(table.len(), MAXIMUM_ENTRIES);
        assert_eq!(
            table.ipv4_to_ipv6(ipv4("10.0.255.255")),
            Some(ipv6("2001:db8::ffff"))
        );
        assert_eq!(
            table.ipv6_to_ipv4(ipv6("2001:db8::1234")),
            Some(ipv4("10.0.18.52"))
        );
        assert_eq!(table.ipv4_to_ipv6(ipv4("10.1.0.0")), None);
    }

    /// RFC 7757 §3.3.2 step 1 ("the longest prefix match ... the EAMT"):
    /// the search of `ipv6_to_ipv4` (a binary search written out) finds
    /// the entry a scan of every entry finds, or none, for tables of 0 to
    /// 9 entries of several prefix lengths listed out of IPv6 order, and
    /// addresses below, inside, between, at the edges of and above them.
    #[test]
    fn rfc7757_3_3_2_search_matches_a_scan() {
        // (IPv6 prefix's second-to-last 16-bit group, IPv6 length, IPv4
        // network, IPv4 length): /112s and /120s with gaps between them.
        let specs: [(u16, u8, u32, u8); 9] = [
            (0x0700, 120, 0xc000_0200, 24),
            (0x0100, 112, 0x0a00_0000, 16),
            (0x0500, 112, 0x0a01_0000, 16),
            (0x0200, 120, 0xc633_6400, 24),
            (0x0900, 112, 0x0a02_0000, 16),
            (0x0300, 112, 0x0a03_0000, 16),
            (0x0800, 120, 0xcb00_7100, 24),
            (0x0400, 120, 0xc612_0000, 24),
            (0x0600, 112, 0x0a04_0000, 16),
        ];
        let entry = |&(group, length, network, ipv4_length): &(u16, u8, u32, u8)| {
            ExplicitAddressMapping::new(
                Ipv4Prefix::new(Ipv4Addr::from_bits(network), ipv4_length).unwrap(),
                Ipv6Cidr::new(
                    Ipv6Addr::from_bits((0x2001_0db8 << 96) | u128::from(group) << 16),
                    length,
                ),
            )
            .unwrap()
        };
        let mut probes = vec![0, u128::MAX, 0x2001_0db8 << 96];
        for &(group, ..) in &specs {
            let start = (0x2001_0db8 << 96) | u128::from(group) << 16;
            for offset in [0, 1, 0x80, 0xff, 0x100, 0xffff, 0x1_0000] {
                probes.push(start + offset);
            }
            probes.push(start - 1);
        }
        for size in 0..=specs.len() {
            let entries: Vec<_> = specs[..size].iter().map(entry).collect();
            let table = ExplicitAddressMappingTable::new(entries.clone()).unwrap();
            for &bits in &probes {
                let address = Ipv6Addr::from_bits(bits);
                let scanned = entries
                    .iter()
                    .find(|entry| entry.contains_ipv6(address))
                    .map(|entry| entry.map_ipv6(address));
                assert_eq!(table.ipv6_to_ipv4(address), scanned, "{size}: {address}");
            }
        }
    }

    #[test]
    fn overlap_queries() {
        let table = figure_1();
        let prefix4 = |text: &str, length| Ipv4Prefix::new(ipv4(text), length).unwrap();
        assert_eq!(
            table
                .overlapping_ipv4(prefix4("192.0.2.0", 24))
                .map(|entry| entry.ipv4().to_string()),
            Some("192.0.2.1/32".to_string())
        );
        assert!(
            table
                .overlapping_ipv4(prefix4("198.51.100.0", 24))
                .is_none()
        );
        assert!(
            table
                .overlapping_ipv6(Ipv6Cidr::new(ipv6("64:ff9b::"), 96))
                .is_some()
        );
        assert!(
            table
                .overlapping_ipv6(Ipv6Cidr::new(ipv6("2001:db8:64::"), 96))
                .is_none()
        );
        assert!(ExplicitAddressMappingTable::new_empty().is_empty());
    }

    /// RFC 7757 §3.3.1 step 1 at the edges of the table: the first and
    /// last address its entries cover are found, the addresses just
    /// outside and in a gap between entries are not (the span checked
    /// before the search), and an empty table finds nothing.
    #[test]
    fn rfc7757_3_3_1_lookup_at_the_edges_of_the_table() {
        let table = ExplicitAddressMappingTable::new(vec![
            mapping("198.51.100.8/29", "2001:db8:6::/125"),
            mapping("192.0.2.0/24", "2001:db8:4::/120"),
        ])
        .unwrap();
        assert_eq!(
            table.ipv4_to_ipv6(ipv4("192.0.2.0")),
            Some(ipv6("2001:db8:4::"))
        );
        assert_eq!(
            table.ipv4_to_ipv6(ipv4("198.51.100.15")),
            Some(ipv6("2001:db8:6::7"))
        );
        for outside in [
            "192.0.1.255",
            "195.0.0.1",
            "198.51.100.7",
            "198.51.100.16",
            "0.0.0.0",
        ] {
            assert_eq!(table.ipv4_to_ipv6(ipv4(outside)), None, "{outside}");
        }
        let empty = ExplicitAddressMappingTable::new(vec![]).unwrap();
        assert_eq!(empty.ipv4_to_ipv6(ipv4("0.0.0.0")), None);
        assert_eq!(
            ExplicitAddressMappingTable::new_empty().ipv4_to_ipv6(ipv4("0.0.0.0")),
            None
        );
    }
}
