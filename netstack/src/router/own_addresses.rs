//! The router's own global addresses, checked before the FIB is asked.
//!
//! A packet is for the router when its destination is one of the port
//! addresses of the config (link-local addresses and joined groups are
//! checked on the receiving port, in `Router::handle_ipv6`). These used to
//! be /128 routes in the FIB. On a LAN the router's address always lies in
//! the /64 of its hosts, so that /128 sat below the connected route and
//! every lookup of a host there walked the trie down toward it: 14 nodes
//! instead of 6, 272 of the 1,056 instructions of forwarding a packet to a
//! host on the LAN (callgrind, `udp_64/forward_in` of the translation
//! bench). Kept apart, they cost a filter test on every packet and never
//! lengthen a lookup, and they still win over every route, as a /128
//! inserted last did.
//!
//! The set is a handful of addresses: a 64-bit filter (one bit per
//! address, chosen by a multiplicative hash) rejects almost every
//! destination in a few instructions, and the rest compare with each
//! address.

use alloc::vec::Vec;

use smoltcp::wire::Ipv6Address;

/// The router's own addresses (see the module documentation).
#[derive(Debug, Clone, Default)]
pub(super) struct OwnAddresses {
    addresses: Vec<u128>,
    filter: u64,
}

impl OwnAddresses {
    /// The set of `addresses` (duplicates kept once).
    pub(super) fn new(addresses: impl IntoIterator<Item = Ipv6Address>) -> OwnAddresses {
        let mut own = OwnAddresses::default();
        for address in addresses {
            let bits = address.to_bits();
            if !own.addresses.contains(&bits) {
                own.addresses.push(bits);
                own.filter |= filter_bit(bits);
            }
        }
        own
    }

    /// Whether `address` is one of the router's own.
    #[inline(always)]
    pub(super) fn contains(&self, address: Ipv6Address) -> bool {
        let bits = address.to_bits();
        self.filter & filter_bit(bits) != 0 && self.addresses.contains(&bits)
    }

    /// The addresses, in config order.
    pub(super) fn iter(&self) -> impl Iterator<Item = Ipv6Address> + '_ {
        self.addresses
            .iter()
            .map(|bits| Ipv6Address::from_bits(*bits))
    }
}

/// The filter bit of an address: the top 6 bits of a multiplicative hash
/// (Knuth's golden-ratio constant) of its two halves folded together.
#[inline(always)]
fn filter_bit(bits: u128) -> u64 {
    let folded = (bits as u64) ^ ((bits >> 64) as u64);
    1 << (folded.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 58)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(text: &str) -> Ipv6Address {
        text.parse().unwrap()
    }

    #[test]
    fn holds_exactly_its_addresses() {
        let own = OwnAddresses::new([
            address("2001:db8:1::1"),
            address("2001:db8:ff::1"),
            address("2001:db8:1::1"),
        ]);
        assert_eq!(own.iter().count(), 2, "a duplicate is kept once");
        assert!(own.contains(address("2001:db8:1::1")));
        assert!(own.contains(address("2001:db8:ff::1")));
        for other in 0..=0xffffu16 {
            let candidate = Ipv6Address::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, other);
            assert_eq!(own.contains(candidate), other == 1, "{candidate}");
        }
        assert!(!own.contains(address("2001:db8:1::1:0:0:1")));
        assert!(!OwnAddresses::default().contains(address("::")));
    }

    #[test]
    fn the_filter_spreads_neighbouring_addresses() {
        // Hosts numbered next to the router's own address mostly miss the
        // filter, so they are rejected without comparing.
        let own = OwnAddresses::new([address("2001:db8:1::1")]);
        let passing = (2..=1025u16)
            .filter(|host| {
                let bits = Ipv6Address::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, *host).to_bits();
                own.filter & filter_bit(bits) != 0
            })
            .count();
        assert!(passing < 64, "{passing} of 1024 pass the filter");
    }
}
