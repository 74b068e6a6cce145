//! The address side of SIIT (RFC 7915 §6): explicit address mappings first, then `pool6`, the well-known-prefix rule, and the RFC 6791 pool for ICMP errors from untranslatable IPv6 sources.
//!
//! [`StatelessAddresses`] implements [`AddressTranslator`]:
//! - every address is looked up in the RFC 7757 table first
//!   ([`ExplicitAddressMappingTable`]); only when no entry covers it does
//!   the RFC 6052 translation prefix `pool6` apply (RFC 7757 §3.3 step 2).
//!   The decision is made per address: a packet may have one address
//!   mapped each way (RFC 7757 §1);
//! - under the well-known prefix `64:ff9b::/96`, non-global IPv4 addresses
//!   are refused in both directions (RFC 6052 §3.1: "MUST NOT translate"),
//!   unless the configuration switches the rule off (only for labs that use
//!   documentation addresses under the well-known prefix);
//! - [`AddressTranslator::icmp_error_source`] answers from the RFC 6791
//!   pool ([`IcmpErrorPool`]), falling back to the uplink's own IPv4
//!   address (RFC 6791 §4: "the IPv4 interface address ... of the
//!   translator").
//!
//! # Choosing from the RFC 6791 pool
//! RFC 6791 §5 RECOMMENDS choosing the source at random so that two
//! errors of one traceroute rarely show the same address (a false loop).
//! pure6 instead hashes the IPv6 source of the ICMPv6 error with a key:
//! - one IPv6 router always appears as the same IPv4 address, which is what
//!   §3.1 asks of the pool ("distinguish between different IPv6 network
//!   origination"), and a traceroute shows each hop once instead of a new
//!   address per probe (which looks like load balancing);
//! - two different routers share an address with the same probability
//!   (1 / pool size) as with random choice, so false loops are as rare;
//! - the result depends only on the packet and the key, so the router stays
//!   deterministic in host tests and replays (ARCHITECTURE.md rule 5).
//!
//! # Hairpinning (RFC 7757 §4)
//! The packet translators need more than an address: the
//! `*_with_method` functions say whether an address was mapped by EAM or
//! by RFC 6052 (§4.2.2 conditions A2 and B2),
//! [`StatelessAddresses::is_explicitly_mapped_ipv4`] answers A3 and
//! B3, and
//! [`StatelessAddresses::ipv4_to_ipv6_by_translation_prefix`] is
//! the RFC 6052-only translation that the simple hairpinning rules of
//! §4.2.1 prescribe for some addresses.

use alloc::vec::Vec;
use core::fmt;
use core::net::{Ipv4Addr, Ipv6Addr};

use super::address_mapping::{TranslationPrefix, is_allowed_under_well_known_prefix};
use super::explicit_address_mapping::{ExplicitAddressMappingTable, MappingMethod};
use super::route_mapping::Ipv4Prefix;
use super::{AddressError, AddressRole, AddressTranslator};

/// The most prefixes in the RFC 6791 pool.
pub const MAXIMUM_ICMP_ERROR_POOL_PREFIXES: usize = 64;

/// The mask of the first `length` bits of an IPv4 address.
fn ipv4_mask(length: u8) -> u32 {
    u32::MAX
        .checked_shl(32 - u32::from(length.min(32)))
        .unwrap_or(0)
}

/// Whether two IPv4 prefixes share an address.
pub fn ipv4_prefixes_overlap(first: Ipv4Prefix, second: Ipv4Prefix) -> bool {
    let mask = ipv4_mask(first.length().min(second.length()));
    first.network().to_bits() & mask == second.network().to_bits() & mask
}

/// Whether `prefix` holds `address`.
pub fn ipv4_prefix_contains(prefix: Ipv4Prefix, address: Ipv4Addr) -> bool {
    address.to_bits() & ipv4_mask(prefix.length()) == prefix.network().to_bits()
}

/// Whether `address` can never be a unicast host: 0.0.0.0/8 ("this
/// network"), 127.0.0.0/8 (loopback), 224.0.0.0/4 (multicast) or
/// 240.0.0.0/4 (reserved, with the limited broadcast address) (RFC 1812
/// §5.3.7, RFC 6890).
pub fn is_never_unicast(address: Ipv4Addr) -> bool {
    let first = address.octets()[0];
    first == 0 || first == 127 || first >= 224
}

/// Why a list of prefixes cannot be an [`IcmpErrorPool`]; indices are
/// positions in the list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IcmpErrorPoolError {
    /// More than [`MAXIMUM_ICMP_ERROR_POOL_PREFIXES`] prefixes.
    TooManyPrefixes {
        /// The first prefix beyond the limit.
        index: usize,
    },
    /// A prefix holds an address that can never be a source (see
    /// [`is_never_unicast`]).
    NotUnicast {
        /// The prefix.
        index: usize,
    },
    /// Two prefixes overlap.
    Overlap {
        /// The prefix listed first.
        earlier: usize,
        /// The prefix listed second.
        later: usize,
    },
}

impl fmt::Display for IcmpErrorPoolError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IcmpErrorPoolError::TooManyPrefixes { .. } => write!(
                formatter,
                "the RFC 6791 pool has at most {MAXIMUM_ICMP_ERROR_POOL_PREFIXES} prefixes"
            ),
            IcmpErrorPoolError::NotUnicast { .. } => formatter.write_str(
                "holds addresses that cannot be a source (0.0.0.0/8, 127.0.0.0/8, \
                 multicast or 240.0.0.0/4)",
            ),
            IcmpErrorPoolError::Overlap { earlier, .. } => {
                write!(formatter, "overlaps pool entry {earlier}")
            }
        }
    }
}

/// The RFC 6791 pool: public IPv4 addresses the translator uses as the
/// source of ICMPv4 errors translated from ICMPv6 errors whose IPv6 source
/// has no IPv4 mapping (an IPv6 router on the path).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IcmpErrorPool {
    prefixes: Vec<Ipv4Prefix>,
    /// The number of addresses in all prefixes (at most 64 × 2^32).
    size: u64,
}

impl IcmpErrorPool {
    /// A pool of `prefixes` (every address of each prefix, network and
    /// broadcast addresses included: they are sources, not a subnet).
    pub fn new(prefixes: Vec<Ipv4Prefix>) -> Result<IcmpErrorPool, IcmpErrorPoolError> {
        if prefixes.len() > MAXIMUM_ICMP_ERROR_POOL_PREFIXES {
            return Err(IcmpErrorPoolError::TooManyPrefixes {
                index: MAXIMUM_ICMP_ERROR_POOL_PREFIXES,
            });
        }
        for (index, prefix) in prefixes.iter().enumerate() {
            let last =
                Ipv4Addr::from_bits(prefix.network().to_bits() | !ipv4_mask(prefix.length()));
            if is_never_unicast(prefix.network()) || is_never_unicast(last) {
                return Err(IcmpErrorPoolError::NotUnicast { index });
            }
            if let Some(earlier) = prefixes[..index]
                .iter()
                .position(|earlier| ipv4_prefixes_overlap(*earlier, *prefix))
            {
                return Err(IcmpErrorPoolError::Overlap {
                    earlier,
                    later: index,
                });
            }
        }
        let size = prefixes
            .iter()
            .map(|prefix| 1u64 << (32 - u32::from(prefix.length())))
            .sum();
        Ok(IcmpErrorPool { prefixes, size })
    }

    /// The prefixes, in configuration order.
    pub fn prefixes(&self) -> &[Ipv4Prefix] {
        &self.prefixes
    }

    /// Whether the pool is empty.
    pub fn is_empty(&self) -> bool {
        self.prefixes.is_empty()
    }

    /// The number of addresses in the pool.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Whether `address` is in the pool.
    pub fn contains(&self, address: Ipv4Addr) -> bool {
        self.prefixes
            .iter()
            .any(|prefix| ipv4_prefix_contains(*prefix, address))
    }

    /// The address number `hash` modulo the pool size, counting through
    /// the prefixes in order; `None` for an empty pool.
    pub fn select(&self, hash: u64) -> Option<Ipv4Addr> {
        let mut index = hash.checked_rem(self.size)?;
        for prefix in &self.prefixes {
            let count = 1u64 << (32 - u32::from(prefix.length()));
            if index < count {
                let offset = u32::try_from(index).ok()?;
                return Some(Ipv4Addr::from_bits(
                    prefix.network().to_bits().wrapping_add(offset),
                ));
            }
            index -= count;
        }
        None
    }
}

/// A keyed 64-bit mix of an IPv6 address (SplitMix64's finaliser, applied
/// twice); not cryptographic, only well spread.
fn keyed_hash(address: Ipv6Addr, key: u64) -> u64 {
    fn finalise(mut value: u64) -> u64 {
        value ^= value >> 30;
        value = value.wrapping_mul(0xbf58_476d_1ce4_e5b9);
        value ^= value >> 27;
        value = value.wrapping_mul(0x94d0_49bb_1331_11eb);
        value ^ (value >> 31)
    }
    let bits = address.to_bits();
    let high = (bits >> 64) as u64;
    let low = bits as u64;
    finalise(finalise(high ^ key).wrapping_add(low ^ key.rotate_left(29)))
}

/// SIIT's address translator: EAM, then `pool6`, plus the RFC 6791 pool
/// and the uplink's IPv4 address (see the [module documentation](self)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatelessAddresses {
    explicit: ExplicitAddressMappingTable,
    pool6: Option<TranslationPrefix>,
    well_known_prefix_rule: bool,
    icmp_error_pool: IcmpErrorPool,
    /// The uplink's IPv4 address and prefix length.
    uplink: Option<(Ipv4Addr, u8)>,
    hash_key: u64,
    /// The lowest and highest IPv4 address [`StatelessAddresses::owns_ipv4`]
    /// can answer yes for (`(u32::MAX, 0)` when it owns none): most
    /// destinations fall outside and need no table walk.
    owned_span: (u32, u32),
    /// Whether no EAM IPv6 prefix overlaps `pool6`: then an address under
    /// `pool6` has no explicit mapping, and IPv6 → IPv4 skips the table.
    pool6_apart_from_explicit: bool,
    /// The prefix bits of `pool6` when every address under it maps by
    /// its last 32 bits alone: a /96 apart from the EAM table, and not the
    /// well-known prefix while its rule is on (RFC 6052 §3.1 then refuses
    /// some). IPv6 → IPv4 answers these inline.
    plain_pool6: Option<u128>,
}

impl StatelessAddresses {
    /// A translator with the table `explicit` and the translation prefix
    /// `pool6` (if any); the well-known-prefix rule on, no RFC 6791 pool,
    /// no uplink address, hash key 0.
    pub fn new(
        explicit: ExplicitAddressMappingTable,
        pool6: Option<TranslationPrefix>,
    ) -> StatelessAddresses {
        let pool6_apart_from_explicit =
            pool6.is_some_and(|pool6| explicit.overlapping_ipv6(pool6.cidr()).is_none());
        StatelessAddresses {
            explicit,
            pool6,
            pool6_apart_from_explicit,
            plain_pool6: None,
            well_known_prefix_rule: true,
            icmp_error_pool: IcmpErrorPool::default(),
            uplink: None,
            hash_key: 0,
            owned_span: (u32::MAX, 0),
        }
        .with_owned_span()
        .with_plain_pool6()
    }

    /// The same translator with `plain_pool6` worked out again.
    fn with_plain_pool6(mut self) -> StatelessAddresses {
        self.plain_pool6 = self
            .pool6
            .filter(|pool6| {
                self.pool6_apart_from_explicit
                    && pool6.length() == 96
                    && !(self.well_known_prefix_rule && pool6.is_well_known())
            })
            .map(|pool6| pool6.cidr().address().to_bits());
        self
    }

    /// The same translator with `owned_span` worked out again from the
    /// uplink address, the IPv4 side of the EAM table and the RFC 6791 pool.
    fn with_owned_span(mut self) -> StatelessAddresses {
        let uplink = self
            .uplink_address()
            .and_then(|address| Ipv4Prefix::new(address, 32));
        let explicit = self.explicit.entries().iter().map(|entry| entry.ipv4());
        let pool = self.icmp_error_pool.prefixes().iter().copied();
        self.owned_span = uplink.into_iter().chain(explicit).chain(pool).fold(
            (u32::MAX, 0),
            |(lowest, highest), prefix| {
                let first = prefix.network().to_bits();
                let last = first | !ipv4_mask(prefix.length());
                (lowest.min(first), highest.max(last))
            },
        );
        self
    }

    /// The same translator with the RFC 6052 §3.1 rule switched off:
    /// non-global IPv4 addresses are translated under `64:ff9b::/96` too.
    /// Only for labs with documentation addresses (ARCHITECTURE.md,
    /// "Test addressing").
    pub fn without_well_known_prefix_rule(mut self) -> StatelessAddresses {
        self.well_known_prefix_rule = false;
        self.with_plain_pool6()
    }

    /// The same translator with the RFC 6791 pool `pool`.
    pub fn with_icmp_error_pool(mut self, pool: IcmpErrorPool) -> StatelessAddresses {
        self.icmp_error_pool = pool;
        self.with_owned_span()
    }

    /// The same translator with the uplink's IPv4 address
    /// `address/prefix_length` (the ICMP error source without a pool, an
    /// owned address, and the directed broadcast it never translates).
    pub fn with_uplink_address(
        mut self,
        address: Ipv4Addr,
        prefix_length: u8,
    ) -> StatelessAddresses {
        self.uplink = Some((address, prefix_length.min(32)));
        self.with_owned_span()
    }

    /// The same translator with the key of the RFC 6791 pool hash (from
    /// the router's seeded random number generator).
    pub fn with_hash_key(mut self, key: u64) -> StatelessAddresses {
        self.hash_key = key;
        self
    }

    /// The explicit address mappings.
    pub fn explicit_address_mappings(&self) -> &ExplicitAddressMappingTable {
        &self.explicit
    }

    /// The translation prefix, if configured.
    pub fn pool6(&self) -> Option<TranslationPrefix> {
        self.pool6
    }

    /// Whether the RFC 6052 §3.1 rule is enforced.
    pub fn well_known_prefix_rule(&self) -> bool {
        self.well_known_prefix_rule
    }

    /// The RFC 6791 pool.
    pub fn icmp_error_pool(&self) -> &IcmpErrorPool {
        &self.icmp_error_pool
    }

    /// The uplink's IPv4 address, if configured.
    pub fn uplink_address(&self) -> Option<Ipv4Addr> {
        self.uplink.map(|(address, _)| address)
    }

    /// Whether `ipv4` may be written under `pool6`: always, except a
    /// non-global address under the well-known prefix while the rule is on.
    #[inline]
    fn allowed_under(&self, pool6: TranslationPrefix, ipv4: Ipv4Addr) -> Result<(), AddressError> {
        if self.well_known_prefix_rule
            && pool6.is_well_known()
            && !is_allowed_under_well_known_prefix(ipv4)
        {
            Err(AddressError::NonGlobalUnderWellKnownPrefix)
        } else {
            Ok(())
        }
    }

    /// IPv6 → IPv4 (RFC 7757 §3.3.2, then RFC 6052 §2.3), saying which
    /// algorithm mapped the address.
    #[inline]
    pub fn ipv6_to_ipv4_with_method(
        &self,
        address: Ipv6Addr,
    ) -> Result<(Ipv4Addr, MappingMethod), AddressError> {
        // The table comes first (RFC 7757 §3.3.2 step 1), but it cannot
        // hold an address under a pool6 that no entry overlaps: such an
        // address goes straight to RFC 6052 (one prefix test, not two).
        if let Some(pool6) = self.pool6
            && self.pool6_apart_from_explicit
            && pool6.contains(address)
        {
            return self.by_translation_prefix(pool6, address);
        }
        if let Some(ipv4) = self.explicit.ipv6_to_ipv4(address) {
            return Ok((ipv4, MappingMethod::Explicit));
        }
        let pool6 = self.pool6.ok_or(AddressError::NotMapped)?;
        self.by_translation_prefix(pool6, address)
    }

    /// RFC 6052 §2.3: the IPv4 address embedded in `address` under `pool6`.
    #[inline(always)]
    fn by_translation_prefix(
        &self,
        pool6: TranslationPrefix,
        address: Ipv6Addr,
    ) -> Result<(Ipv4Addr, MappingMethod), AddressError> {
        let ipv4 = pool6
            .extract(address)
            .map_err(|_| AddressError::NotMapped)?;
        self.allowed_under(pool6, ipv4)?;
        Ok((ipv4, MappingMethod::TranslationPrefix))
    }

    /// [`StatelessAddresses::ipv6_to_ipv4_with_method`] without the method,
    /// as a call: the part of `ipv6_to_ipv4` not inlined, for a translator
    /// without a plain pool6. The address comes back as its bits: a
    /// `Result<u32, _>` is returned in one register, where a
    /// `Result<Ipv4Addr, _>` is assembled byte by byte.
    #[inline(never)]
    fn ipv6_to_ipv4_out_of_line(&self, address: Ipv6Addr) -> Result<u32, AddressError> {
        self.ipv6_to_ipv4_with_method(address)
            .map(|(ipv4, _)| ipv4.to_bits())
    }

    /// IPv4 → IPv6 (RFC 7757 §3.3.1, then RFC 6052 §2.3), saying which
    /// algorithm mapped the address.
    #[inline]
    pub fn ipv4_to_ipv6_with_method(
        &self,
        address: Ipv4Addr,
    ) -> Result<(Ipv6Addr, MappingMethod), AddressError> {
        if let Some(ipv6) = self.explicit.ipv4_to_ipv6(address) {
            return Ok((ipv6, MappingMethod::Explicit));
        }
        self.ipv4_to_ipv6_by_translation_prefix(address)
            .map(|ipv6| (ipv6, MappingMethod::TranslationPrefix))
    }

    /// IPv4 → IPv6 with RFC 6052 only, ignoring the EAM table: RFC 7757
    /// §4.2.1's simple hairpinning rules require it for the outer source of
    /// a packet that is not an ICMPv4 error, for the inner destination of an
    /// ICMPv4 error, and for its outer source when that equals the inner
    /// destination.
    #[inline]
    pub fn ipv4_to_ipv6_by_translation_prefix(
        &self,
        address: Ipv4Addr,
    ) -> Result<Ipv6Addr, AddressError> {
        let pool6 = self.pool6.ok_or(AddressError::NotMapped)?;
        self.allowed_under(pool6, address)?;
        Ok(pool6.embed(address))
    }

    /// [`AddressTranslator::ipv4_to_ipv6`] past its inline case.
    #[inline(never)]
    fn ipv4_to_ipv6_out_of_line(&self, address: Ipv4Addr) -> Result<Ipv6Addr, AddressError> {
        self.ipv4_to_ipv6_with_method(address).map(|(ipv6, _)| ipv6)
    }

    /// Whether an explicit address mapping covers the IPv4 `address` ("is
    /// found in the EAMT", RFC 7757 §4.2.2 A3 and B3).
    pub fn is_explicitly_mapped_ipv4(&self, address: Ipv4Addr) -> bool {
        self.explicit.contains_ipv4(address)
    }

    /// Whether the translator owns the IPv4 `address` and answers ARP for
    /// it on the uplink: the uplink's own address, the IPv4 side of every
    /// explicit address mapping (the IPv6 hosts' IPv4 faces) and the RFC
    /// 6791 pool.
    #[inline]
    pub fn owns_ipv4(&self, address: Ipv4Addr) -> bool {
        let (lowest, highest) = self.owned_span;
        if !(lowest..=highest).contains(&address.to_bits()) {
            return false;
        }
        self.uplink_address() == Some(address)
            || self.explicit.contains_ipv4(address)
            || self.icmp_error_pool.contains(address)
    }

    /// The directed broadcast address of the uplink prefix, if it has one
    /// (prefixes of /30 and shorter; RFC 3021 /31s have none).
    fn directed_broadcast(&self) -> Option<Ipv4Addr> {
        let (address, length) = self.uplink?;
        (length <= 30).then(|| Ipv4Addr::from_bits(address.to_bits() | !ipv4_mask(length)))
    }

    /// Whether a packet to the IPv4 `address` received on the uplink may be
    /// translated to IPv6: not 0.0.0.0/8, loopback, multicast, 240.0.0.0/4
    /// or the limited broadcast ([`is_never_unicast`]), not the uplink's
    /// directed broadcast (RFC 1812 §5.3.5.2), and not addressed to the
    /// translator itself (its uplink address or an RFC 6791 pool address).
    /// EAM addresses are translatable: they stand for IPv6 hosts.
    pub fn is_translatable_ipv4_destination(&self, address: Ipv4Addr) -> bool {
        !is_never_unicast(address)
            && Some(address) != self.directed_broadcast()
            && self.uplink_address() != Some(address)
            && !self.icmp_error_pool.contains(address)
    }

    /// Whether the IPv4 source `address` of a packet received on the
    /// uplink may be translated (RFC 7915 §4.1 "Source Address": illegal
    /// sources, RFC 1812 §5.3.7, are dropped): not [`is_never_unicast`],
    /// not the directed broadcast, and not one of the translator's own
    /// addresses (a spoofed or looped packet). Inner packets of ICMP errors
    /// are translated without this check (RFC 7915 §4.1).
    pub fn is_translatable_ipv4_source(&self, address: Ipv4Addr) -> bool {
        self.is_translatable_ipv4_destination(address)
    }
}

impl AddressTranslator for StatelessAddresses {
    /// Inline with a plain `pool6`: an address under it (RFC 6052 §2.3:
    /// its last 32 bits, the commonest destination) or the EAM table's
    /// search (the commonest source; a call there kept the caller's state
    /// in memory across it, 17 to 19 instructions a packet more on the
    /// plain 6→4 paths). Out of line otherwise.
    #[inline(always)]
    fn ipv6_to_ipv4(
        &self,
        address: Ipv6Addr,
        _role: AddressRole,
    ) -> Result<Ipv4Addr, AddressError> {
        let bits = address.to_bits();
        if let Some(prefix) = self.plain_pool6 {
            if bits >> 32 == prefix >> 32 {
                return Ok(Ipv4Addr::from_bits(bits as u32));
            }
            // Not under the plain pool6, so RFC 6052 does not map it: the
            // table alone decides (RFC 7757 §3.3.2).
            return self
                .explicit
                .ipv6_to_ipv4(address)
                .ok_or(AddressError::NotMapped);
        }
        self.ipv6_to_ipv4_out_of_line(address)
            .map(Ipv4Addr::from_bits)
    }

    /// Inline for an address outside every EAM entry under a plain
    /// `pool6` (RFC 7757 §3.3.1 finds no entry, RFC 6052 §2.3 puts it in
    /// the last 32 bits; `plain_pool6` is never the well-known prefix
    /// under its §3.1 rule), the commonest source from IPv4; out of line
    /// otherwise.
    #[inline(always)]
    fn ipv4_to_ipv6(
        &self,
        address: Ipv4Addr,
        _role: AddressRole,
    ) -> Result<Ipv6Addr, AddressError> {
        if let Some(prefix) = self.plain_pool6
            && !self.explicit.may_hold_ipv4(address)
        {
            return Ok(Ipv6Addr::from_bits(prefix | u128::from(address.to_bits())));
        }
        self.ipv4_to_ipv6_out_of_line(address)
    }

    /// EAM and pool6 map an address the same in either role.
    #[inline]
    fn ignores_role(&self) -> bool {
        true
    }

    fn icmp_error_source(&self, source: Ipv6Addr) -> Option<Ipv4Addr> {
        self.icmp_error_pool
            .select(keyed_hash(source, self.hash_key))
            .or(self.uplink_address())
    }

    #[inline]
    fn owns(&self, address: Ipv4Addr) -> bool {
        self.owns_ipv4(address)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::translation::explicit_address_mapping::ExplicitAddressMapping;
    use alloc::collections::BTreeSet;
    use alloc::vec;
    use smoltcp::wire::Ipv6Cidr;

    fn ipv4(text: &str) -> Ipv4Addr {
        text.parse().unwrap()
    }

    fn ipv6(text: &str) -> Ipv6Addr {
        text.parse().unwrap()
    }

    fn prefix4(text: &str) -> Ipv4Prefix {
        text.parse().unwrap()
    }

    fn mapping(ipv4_text: &str, ipv6_text: &str) -> ExplicitAddressMapping {
        let (address6, length6) = ipv6_text.split_once('/').unwrap();
        ExplicitAddressMapping::new(
            prefix4(ipv4_text),
            Ipv6Cidr::new(ipv6(address6), length6.parse().unwrap()),
        )
        .unwrap()
    }

    /// RFC 7757 Figure 1 with the RFC 6052 prefix of its Appendix B.
    fn appendix_b() -> StatelessAddresses {
        let table = ExplicitAddressMappingTable::new(vec![
            mapping("192.0.2.1/32", "2001:db8:aaaa::/128"),
            mapping("192.0.2.2/32", "2001:db8:bbbb::b/128"),
            mapping("192.0.2.16/28", "2001:db8:cccc::/124"),
            mapping("192.0.2.128/26", "2001:db8:dddd::/64"),
            mapping("192.0.2.192/29", "2001:db8:eeee:8::/62"),
            mapping("192.0.2.224/31", "64:ff9b::/127"),
        ])
        .unwrap();
        // Appendix B translates 192.0.2.248 (documentation space) under
        // the well-known prefix, so the RFC 6052 §3.1 rule is off here.
        StatelessAddresses::new(table, Some(TranslationPrefix::WELL_KNOWN))
            .without_well_known_prefix_rule()
    }

    fn site() -> StatelessAddresses {
        let table =
            ExplicitAddressMappingTable::new(vec![mapping("198.51.100.0/28", "2001:db8:1::/124")])
                .unwrap();
        StatelessAddresses::new(table, Some("2001:db8:64::/96".parse().unwrap()))
            .with_uplink_address(ipv4("192.0.2.1"), 24)
    }

    /// The inline answers of `ipv6_to_ipv4` and `ipv4_to_ipv6` for a
    /// plain pool6 (a /96 apart from the EAM table) are the general ones
    /// (RFC 6052 §2.3, RFC 7757 §3.3.1, §3.3.2), IPv4 addresses at the
    /// edges of the EAM table and private ones included; an EAM under
    /// pool6 (Appendix B's 64:ff9b::/127), the well-known prefix with its
    /// rule on (RFC 6052 §3.1) and a shorter prefix are left to the
    /// general way.
    #[test]
    fn inline_pool6_mapping_matches_the_general_one() {
        let overlapping =
            ExplicitAddressMappingTable::new(vec![mapping("192.0.2.9/32", "2001:db8:64::1/128")])
                .unwrap();
        let translators = [
            site(),
            appendix_b(),
            StatelessAddresses::new(
                ExplicitAddressMappingTable::default(),
                Some(TranslationPrefix::WELL_KNOWN),
            ),
            StatelessAddresses::new(overlapping, Some("2001:db8:64::/96".parse().unwrap())),
            StatelessAddresses::new(
                ExplicitAddressMappingTable::default(),
                Some("2001:db8:100::/64".parse().unwrap()),
            ),
            StatelessAddresses::new(
                ExplicitAddressMappingTable::default(),
                Some(TranslationPrefix::WELL_KNOWN),
            )
            .without_well_known_prefix_rule(),
        ];
        assert!(translators[0].plain_pool6.is_some());
        assert!(translators[1].plain_pool6.is_none());
        assert!(translators[2].plain_pool6.is_none());
        assert!(translators[3].plain_pool6.is_none());
        assert!(translators[4].plain_pool6.is_none());
        assert!(translators[5].plain_pool6.is_some());
        let addresses = [
            "2001:db8:64::cb00:7150",
            "2001:db8:64::1",
            "2001:db8:64::a00:1",
            "64:ff9b::c000:2f8",
            "64:ff9b::a00:1",
            "64:ff9b::cb00:7150",
            "2001:db8:1::a",
            "2001:db8:100:0:cb:0:7150:0",
            "2001:db8:aaaa::",
            "2001:db8:99::1",
        ];
        for translator in &translators {
            for text in addresses {
                let address = ipv6(text);
                assert_eq!(
                    translator.ipv6_to_ipv4(address, AddressRole::Destination),
                    translator
                        .ipv6_to_ipv4_with_method(address)
                        .map(|(ipv4, _)| ipv4),
                    "{text}"
                );
            }
            for text in [
                "203.0.113.80",
                "198.51.100.0",
                "198.51.100.15",
                "198.51.100.16",
                "198.51.99.255",
                "192.0.2.9",
                "192.0.2.225",
                "10.0.0.1",
                "0.0.0.0",
                "255.255.255.255",
            ] {
                let address = ipv4(text);
                assert_eq!(
                    translator.ipv4_to_ipv6(address, AddressRole::Source),
                    translator
                        .ipv4_to_ipv6_with_method(address)
                        .map(|(ipv6, _)| ipv6),
                    "{text}"
                );
            }
        }
    }

    #[test]
    fn explicit_mappings_come_before_pool6() {
        let translator = appendix_b();
        // Appendix B, Figure 7: row 6 sits inside 64:ff9b::/96 and wins.
        assert_eq!(
            translator.ipv4_to_ipv6(ipv4("192.0.2.225"), AddressRole::Source),
            Ok(ipv6("64:ff9b::1"))
        );
        assert_eq!(
            translator.ipv4_to_ipv6_with_method(ipv4("192.0.2.248")),
            Ok((ipv6("64:ff9b::c000:2f8"), MappingMethod::TranslationPrefix))
        );
        assert_eq!(
            translator.ipv4_to_ipv6_with_method(ipv4("192.0.2.152")),
            Ok((ipv6("2001:db8:dddd:0:6000::"), MappingMethod::Explicit))
        );
        assert_eq!(
            translator.ipv6_to_ipv4_with_method(ipv6("64:ff9b::1")),
            Ok((ipv4("192.0.2.225"), MappingMethod::Explicit))
        );
        assert_eq!(
            translator.ipv6_to_ipv4_with_method(ipv6("64:ff9b::c000:2f8")),
            Ok((ipv4("192.0.2.248"), MappingMethod::TranslationPrefix))
        );
        // Neither EAM nor pool6.
        assert_eq!(
            translator.ipv6_to_ipv4(ipv6("2001:db8:ffff::1"), AddressRole::Destination),
            Err(AddressError::NotMapped)
        );
        assert!(!translator.pool6_apart_from_explicit);
        // A pool6 apart from every EAM prefix: addresses under it skip the
        // table and still map the same.
        let apart = site();
        assert!(apart.pool6_apart_from_explicit);
        assert_eq!(
            apart.ipv6_to_ipv4_with_method(ipv6("2001:db8:64::cb00:7150")),
            Ok((ipv4("203.0.113.80"), MappingMethod::TranslationPrefix))
        );
        assert_eq!(
            apart.ipv6_to_ipv4_with_method(ipv6("2001:db8:1::a")),
            Ok((ipv4("198.51.100.10"), MappingMethod::Explicit))
        );
    }

    /// `ignores_role` is a promise the translator relies on when an ICMP
    /// error's inner packet reuses the outer header's mappings (RFC 7915
    /// §4.4, §5.4): every answer, mapped or refused, is the same in either
    /// role.
    #[test]
    fn mappings_do_not_depend_on_the_role() {
        for translator in [appendix_b(), site()] {
            assert!(translator.ignores_role());
            for text in [
                "192.0.2.1",
                "192.0.2.17",
                "192.0.2.225",
                "192.0.2.248",
                "198.51.100.3",
                "10.0.0.1",
                "203.0.113.9",
            ] {
                let address = ipv4(text);
                assert_eq!(
                    translator.ipv4_to_ipv6(address, AddressRole::Source),
                    translator.ipv4_to_ipv6(address, AddressRole::Destination),
                    "{text}"
                );
            }
            for text in [
                "2001:db8:aaaa::",
                "2001:db8:cccc::5",
                "64:ff9b::1",
                "64:ff9b::c000:2f8",
                "64:ff9b::a00:1",
                "2001:db8:1::3",
                "2001:db8:64::cb00:7109",
                "2001:db8:64::a00:1",
                "2001:db8:ffff::1",
            ] {
                let address = ipv6(text);
                assert_eq!(
                    translator.ipv6_to_ipv4(address, AddressRole::Source),
                    translator.ipv6_to_ipv4(address, AddressRole::Destination),
                    "{text}"
                );
            }
        }
    }

    #[test]
    fn appendix_b_1_hairpinning_lookups() {
        // 2001:db8:aaaa:: → 64:ff9b::192.0.2.2 becomes 192.0.2.1 →
        // 192.0.2.2; the destination came from RFC 6052 (A2) and is in the
        // EAMT (A3), so it goes back to IPv6: source by RFC 6052
        // (§4.2.1 rule 1), destination by EAM.
        let translator = appendix_b();
        assert_eq!(
            translator.ipv6_to_ipv4_with_method(ipv6("2001:db8:aaaa::")),
            Ok((ipv4("192.0.2.1"), MappingMethod::Explicit))
        );
        let (destination, method) = translator
            .ipv6_to_ipv4_with_method(ipv6("64:ff9b::192.0.2.2"))
            .unwrap();
        assert_eq!(
            (destination, method),
            (ipv4("192.0.2.2"), MappingMethod::TranslationPrefix)
        );
        assert!(translator.is_explicitly_mapped_ipv4(destination));
        assert_eq!(
            translator.ipv4_to_ipv6_by_translation_prefix(ipv4("192.0.2.1")),
            Ok(ipv6("64:ff9b::192.0.2.1"))
        );
        assert_eq!(
            translator.ipv4_to_ipv6(destination, AddressRole::Destination),
            Ok(ipv6("2001:db8:bbbb::b"))
        );
    }

    #[test]
    fn well_known_prefix_rule() {
        let table =
            ExplicitAddressMappingTable::new(vec![mapping("203.0.113.0/24", "2001:db8:1::/120")])
                .unwrap();
        let translator =
            StatelessAddresses::new(table.clone(), Some(TranslationPrefix::WELL_KNOWN));
        assert!(translator.well_known_prefix_rule());
        for (address4, address6) in [
            ("10.1.2.3", "64:ff9b::a01:203"),
            ("192.168.0.1", "64:ff9b::c0a8:1"),
            ("198.51.100.1", "64:ff9b::c633:6401"),
        ] {
            assert_eq!(
                translator.ipv4_to_ipv6(ipv4(address4), AddressRole::Source),
                Err(AddressError::NonGlobalUnderWellKnownPrefix),
                "{address4}"
            );
            assert_eq!(
                translator.ipv6_to_ipv4(ipv6(address6), AddressRole::Destination),
                Err(AddressError::NonGlobalUnderWellKnownPrefix),
                "{address6}"
            );
        }
        assert_eq!(
            translator.ipv4_to_ipv6(ipv4("8.8.8.8"), AddressRole::Source),
            Ok(ipv6("64:ff9b::808:808"))
        );
        // EAM addresses are not RFC 6052 addresses: the rule does not apply.
        assert_eq!(
            translator.ipv4_to_ipv6(ipv4("203.0.113.9"), AddressRole::Destination),
            Ok(ipv6("2001:db8:1::9"))
        );
        // Off: translated like any other address.
        let lab = translator.without_well_known_prefix_rule();
        assert_eq!(
            lab.ipv4_to_ipv6(ipv4("10.1.2.3"), AddressRole::Source),
            Ok(ipv6("64:ff9b::a01:203"))
        );
        // A network-specific prefix carries any address.
        let specific = StatelessAddresses::new(table, Some("2001:db8:64::/96".parse().unwrap()));
        assert_eq!(
            specific.ipv6_to_ipv4(ipv6("2001:db8:64::a01:203"), AddressRole::Source),
            Ok(ipv4("10.1.2.3"))
        );
    }

    #[test]
    fn without_pool6_only_explicit_mappings_translate() {
        let table =
            ExplicitAddressMappingTable::new(vec![mapping("203.0.113.0/24", "2001:db8:1::/120")])
                .unwrap();
        let translator = StatelessAddresses::new(table, None);
        assert_eq!(
            translator.ipv4_to_ipv6(ipv4("203.0.113.1"), AddressRole::Source),
            Ok(ipv6("2001:db8:1::1"))
        );
        assert_eq!(
            translator.ipv4_to_ipv6(ipv4("8.8.8.8"), AddressRole::Source),
            Err(AddressError::NotMapped)
        );
        assert_eq!(
            translator.ipv6_to_ipv4(ipv6("64:ff9b::808:808"), AddressRole::Destination),
            Err(AddressError::NotMapped)
        );
        assert_eq!(
            translator.ipv4_to_ipv6_by_translation_prefix(ipv4("203.0.113.1")),
            Err(AddressError::NotMapped)
        );
    }

    #[test]
    fn pool6_with_a_set_u_octet_is_not_mapped() {
        let translator = StatelessAddresses::new(
            ExplicitAddressMappingTable::new_empty(),
            Some("2001:db8:122:300::/56".parse().unwrap()),
        );
        assert_eq!(
            translator.ipv6_to_ipv4(ipv6("2001:db8:122:3c0:100:221::"), AddressRole::Source),
            Err(AddressError::NotMapped)
        );
        assert_eq!(
            translator.ipv6_to_ipv4(ipv6("2001:db8:122:3c0:0:221::"), AddressRole::Source),
            Ok(ipv4("192.0.2.33"))
        );
    }

    #[test]
    fn icmp_error_source_is_stable_per_source_and_spread() {
        let pool =
            IcmpErrorPool::new(vec![prefix4("192.0.2.200/30"), prefix4("203.0.113.7/32")]).unwrap();
        assert_eq!(pool.size(), 5);
        let translator = site().with_icmp_error_pool(pool).with_hash_key(0x1234);
        let mut seen = BTreeSet::new();
        for router in 0..200u128 {
            let source = Ipv6Addr::from_bits((0x2001_0db8_0005 << 80) | router);
            let chosen = translator.icmp_error_source(source).unwrap();
            assert_eq!(translator.icmp_error_source(source), Some(chosen));
            assert!(translator.icmp_error_pool().contains(chosen), "{chosen}");
            seen.insert(chosen);
        }
        // Every address of the pool is used by some router.
        assert_eq!(seen.len(), 5);
        // Another key, another (still stable) choice for some sources.
        let rekeyed = translator.clone().with_hash_key(0x9876);
        assert!((0..50u128).any(|router| {
            let source = Ipv6Addr::from_bits((0x2001_0db8_0005 << 80) | router);
            rekeyed.icmp_error_source(source) != translator.icmp_error_source(source)
        }));
    }

    #[test]
    fn icmp_error_source_falls_back_to_the_uplink_address() {
        let source = ipv6("2001:db8:5::1");
        assert_eq!(site().icmp_error_source(source), Some(ipv4("192.0.2.1")));
        let without_uplink = StatelessAddresses::new(
            ExplicitAddressMappingTable::new_empty(),
            Some(TranslationPrefix::WELL_KNOWN),
        );
        assert_eq!(without_uplink.icmp_error_source(source), None);
    }

    #[test]
    fn pool_selection_walks_the_prefixes() {
        let pool =
            IcmpErrorPool::new(vec![prefix4("192.0.2.200/30"), prefix4("203.0.113.7/32")]).unwrap();
        assert_eq!(pool.select(0), Some(ipv4("192.0.2.200")));
        assert_eq!(pool.select(3), Some(ipv4("192.0.2.203")));
        assert_eq!(pool.select(4), Some(ipv4("203.0.113.7")));
        assert_eq!(pool.select(5), Some(ipv4("192.0.2.200")));
        assert_eq!(pool.select(u64::MAX), Some(ipv4("192.0.2.200")));
        assert_eq!(IcmpErrorPool::default().select(7), None);
        let whole = IcmpErrorPool::new(vec![prefix4("1.0.0.0/8"), prefix4("2.0.0.0/8")]).unwrap();
        assert_eq!(whole.select(1 << 24), Some(ipv4("2.0.0.0")));
    }

    #[test]
    fn pool_validation() {
        assert_eq!(
            IcmpErrorPool::new(vec![prefix4("192.0.2.0/24"), prefix4("192.0.2.200/30")]),
            Err(IcmpErrorPoolError::Overlap {
                earlier: 0,
                later: 1
            })
        );
        for bad in [
            "0.0.0.0/0",
            "127.0.0.1/32",
            "224.0.0.0/4",
            "255.255.255.255/32",
            "0.1.2.3/32",
        ] {
            assert_eq!(
                IcmpErrorPool::new(vec![prefix4("192.0.2.1/32"), prefix4(bad)]),
                Err(IcmpErrorPoolError::NotUnicast { index: 1 }),
                "{bad}"
            );
        }
        let many: Vec<Ipv4Prefix> = (0..=MAXIMUM_ICMP_ERROR_POOL_PREFIXES as u32)
            .map(|index| Ipv4Prefix::new(Ipv4Addr::from_bits(0x0100_0000 + index), 32).unwrap())
            .collect();
        assert_eq!(
            IcmpErrorPool::new(many),
            Err(IcmpErrorPoolError::TooManyPrefixes {
                index: MAXIMUM_ICMP_ERROR_POOL_PREFIXES
            })
        );
    }

    #[test]
    fn owned_addresses() {
        let translator = site()
            .with_icmp_error_pool(IcmpErrorPool::new(vec![prefix4("203.0.113.200/30")]).unwrap());
        for owned in [
            "192.0.2.1",
            "198.51.100.0",
            "198.51.100.15",
            "203.0.113.203",
        ] {
            assert!(translator.owns_ipv4(ipv4(owned)), "{owned}");
        }
        // Inside the span of owned addresses, and just outside it (the
        // quick no of `owned_span`).
        for other in [
            "192.0.2.2",
            "198.51.100.16",
            "203.0.113.199",
            "8.8.8.8",
            "192.0.2.0",
            "203.0.113.204",
            "0.0.0.0",
            "255.255.255.255",
        ] {
            assert!(!translator.owns_ipv4(ipv4(other)), "{other}");
        }
        let nothing = StatelessAddresses::new(ExplicitAddressMappingTable::new_empty(), None);
        for other in ["0.0.0.0", "192.0.2.1", "255.255.255.255"] {
            assert!(!nothing.owns_ipv4(ipv4(other)), "{other}");
        }
    }

    #[test]
    fn translatable_destinations() {
        let translator = site()
            .with_icmp_error_pool(IcmpErrorPool::new(vec![prefix4("203.0.113.200/30")]).unwrap());
        for yes in [
            "198.51.100.3",
            "8.8.8.8",
            "192.0.2.7",
            "192.0.2.0",
            "223.255.255.255",
        ] {
            assert!(
                translator.is_translatable_ipv4_destination(ipv4(yes)),
                "{yes}"
            );
        }
        for no in [
            "0.0.0.0",
            "0.1.2.3",
            "127.0.0.1",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "192.0.2.255",
            "192.0.2.1",
            "203.0.113.201",
        ] {
            assert!(
                !translator.is_translatable_ipv4_destination(ipv4(no)),
                "{no}"
            );
            assert!(!translator.is_translatable_ipv4_source(ipv4(no)), "{no}");
        }
        // A /31 has no directed broadcast (RFC 3021).
        let point_to_point = StatelessAddresses::new(
            ExplicitAddressMappingTable::new_empty(),
            Some(TranslationPrefix::WELL_KNOWN),
        )
        .with_uplink_address(ipv4("192.0.2.0"), 31);
        assert!(point_to_point.is_translatable_ipv4_destination(ipv4("192.0.2.1")));
        assert!(!point_to_point.is_translatable_ipv4_destination(ipv4("192.0.2.0")));
    }

    #[test]
    fn prefix_helpers() {
        assert!(ipv4_prefixes_overlap(
            prefix4("0.0.0.0/0"),
            prefix4("1.2.3.4/32")
        ));
        assert!(!ipv4_prefixes_overlap(
            prefix4("10.0.0.0/9"),
            prefix4("10.128.0.0/9")
        ));
        assert!(ipv4_prefix_contains(
            prefix4("10.0.0.0/8"),
            ipv4("10.255.0.1")
        ));
        assert!(!ipv4_prefix_contains(
            prefix4("10.0.0.0/8"),
            ipv4("11.0.0.0")
        ));
        assert!(ipv4_prefix_contains(prefix4("0.0.0.0/0"), ipv4("11.0.0.0")));
    }
}
