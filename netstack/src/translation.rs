//! The border translator: the only place IPv4 exists (legacy-ip builds only).
//!
//! ARCHITECTURE.md rule 1: this module, compiled only with the `legacy-ip`
//! feature, is the one part of the router that names an IPv4 type.
//! - [`address_mapping`]: RFC 6052 IPv4-embedded IPv6 addresses, the
//!   translation prefix `pool6` and the well-known-prefix rule (§3.1);
//! - [`route_mapping`]: IPv4 routes mapped under `pool6` into the one IPv6
//!   routing table (ARCHITECTURE.md rule 2), with next hops rewritten
//!   through a next-hop table, and the IPv4 lines of the route file;
//! - [`checksum`], [`ipv4`], [`icmpv4`], [`arp`]: the Internet checksum
//!   and the IPv4, ICMPv4 and ARP codecs, in smoltcp's Packet/Repr style
//!   (smoltcp itself is built for IPv6 only);
//! - [`stateless`]: the RFC 7915 translator, both directions;
//! - [`explicit_address_mapping`] and [`stateless_addresses`]: the RFC 7757
//!   EAM table and SIIT's [`AddressTranslator`] (EAM, then `pool6`, and the
//!   RFC 6791 pool);
//! - [`config`]: the `[translation]` table and the uplink's `[port.ipv4]`;
//! - [`uplink`]: the IPv4 uplink port, ARP on top of the router's neighbor
//!   cache, and the hand-off between the forward path and the translator.
//!
//! The packet translators (RFC 7915 SIIT, RFC 6146 NAT64) ask an
//! [`AddressTranslator`] for every address they rewrite, outer headers and
//! the inner packets of ICMP errors alike, and are tuned by
//! [`TranslationSettings`].

use core::net::{Ipv4Addr, Ipv6Addr};

pub mod address_mapping;
pub mod arp;
pub mod checksum;
pub mod config;
pub mod explicit_address_mapping;
pub mod icmpv4;
pub mod ipv4;
pub mod nat64;
pub mod route_mapping;
pub mod stateless;
pub mod stateless_addresses;
pub mod uplink;

/// Where an address stands in the header being translated. Inner packets
/// of ICMP errors use the role the address has in the inner header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressRole {
    /// The source address.
    Source,
    /// The destination address.
    Destination,
}

/// Why an address could not be translated. Each maps to a drop counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressError {
    /// Neither an explicit address mapping (RFC 7757) nor `pool6`
    /// (RFC 6052) covers the address.
    NotMapped,
    /// A non-global IPv4 address under the well-known prefix 64:ff9b::/96
    /// (RFC 6052 §3.1).
    NonGlobalUnderWellKnownPrefix,
}

/// The address side of stateless translation: RFC 7915 §4.1 and §5.1 leave
/// the mapping of each address to "the address translation algorithm",
/// which for pure6 is the RFC 7757 EAM table first, then RFC 6052 `pool6`.
pub trait AddressTranslator {
    /// The IPv4 address for an IPv6 address leaving toward IPv4.
    fn ipv6_to_ipv4(&self, address: Ipv6Addr, role: AddressRole) -> Result<Ipv4Addr, AddressError>;

    /// The IPv6 address for an IPv4 address arriving from IPv4.
    fn ipv4_to_ipv6(&self, address: Ipv4Addr, role: AddressRole) -> Result<Ipv6Addr, AddressError>;

    /// The IPv4 source for an ICMPv6 error whose IPv6 source has no IPv4
    /// mapping (RFC 7915 §5.1, RFC 6791): an address of the RFC 6791 pool,
    /// chosen from `source` so that one router always gets the same one.
    /// `None` drops the error.
    fn icmp_error_source(&self, source: Ipv6Addr) -> Option<Ipv4Addr>;

    /// Whether each mapping depends on the address alone, not on its
    /// [`AddressRole`]: an answer found for an address in one role is then
    /// the answer in the other, and an ICMP error's inner packet, which
    /// quotes the outer addresses swapped (RFC 7915 §4.4, §5.4), reuses the
    /// outer header's answers. `false` unless the translator says so.
    fn ignores_role(&self) -> bool {
        false
    }

    /// Whether the translator answers ARP for `address` (RFC 826) because
    /// it stands for something behind the translator: the IPv4 side of an
    /// explicit address mapping, or an RFC 6791 pool address.
    fn owns(&self, address: Ipv4Addr) -> bool {
        let _ = address;
        false
    }
}

/// What to do with an IPv4 UDP datagram whose checksum is zero (RFC 7915
/// §4.5: IPv6 forbids it, RFC 8200 §8.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UdpZeroChecksum {
    /// Compute the checksum for unfragmented datagrams; drop fragments
    /// (their checksum cannot be computed without reassembly).
    #[default]
    Compute,
    /// Drop every such datagram.
    Drop,
}

/// How the IPv4 Type of Service and the IPv6 Traffic Class are translated
/// (RFC 7915 §4.1 "Traffic Class", §5.1 "Type of Service").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TrafficClassPolicy {
    /// Copy the byte (the RFC's default).
    #[default]
    Copy,
    /// Write zero (the RFC's configurable alternative).
    Zero,
}

/// Operator settings of the stateless translator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TranslationSettings {
    /// The smallest MTU of any IPv6 link behind the translator (RFC 7915
    /// §4.1, §6): IPv4 packets without DF are fragmented to fit it. At
    /// least 1280. (Packet Too Big is floored at 1280, not at this value:
    /// see `stateless`'s module docs.)
    pub lowest_ipv6_mtu: u16,
    /// UDP zero checksum policy.
    pub udp_zero_checksum: UdpZeroChecksum,
    /// Traffic Class / Type of Service policy.
    pub traffic_class: TrafficClassPolicy,
    /// Whether a refused packet is answered with ICMP (RFC 7915 §4.4:
    /// ICMPv4 3/13; §5.4: ICMPv6 1/1), within the router's ICMP error rate
    /// limit. The answers RFC 7915 asks for specifically (Packet Too Big,
    /// Fragmentation Needed, source route failed, Parameter Problem) are
    /// sent either way.
    pub refusal_errors: bool,
}

impl Default for TranslationSettings {
    fn default() -> TranslationSettings {
        TranslationSettings {
            lowest_ipv6_mtu: 1280,
            udp_zero_checksum: UdpZeroChecksum::default(),
            traffic_class: TrafficClassPolicy::default(),
            refusal_errors: true,
        }
    }
}
