//! The IPv4 uplink port of a border router: its IPv4 address, ARP (RFC 826) kept in the router's neighbor cache, and the hand-off between the IPv6 forward path and the RFC 7915 translator.
//!
//! The router itself stays IPv4-free (ARCHITECTURE.md rule 1): everything it
//! learns from or hands to this module is IPv6-shaped.
//!
//! - **Neighbors.** IPv4 neighbors live in the uplink port's ordinary
//!   neighbor cache, keyed by their IPv4-mapped IPv6 address
//!   (`::ffff:a.b.c.d`, RFC 4291 §2.5.5.2), the way Linux keeps ARP and NDP
//!   in one neighbour subsystem. The cache's states and timers (RFC 4861
//!   §7.3) serve ARP unchanged: an ARP reply is a solicited, overriding
//!   advertisement (→ REACHABLE); a request for one of our addresses
//!   teaches the sender like a solicitation's link-layer option (→ STALE,
//!   RFC 826 "merge" plus the "?Am I the target protocol address?" add);
//!   any other request or gratuitous ARP only refreshes an existing entry
//!   (RFC 826 merge without add). Retransmissions and unicast probes are
//!   ARP requests, broadcast or unicast (RFC 1122 §2.3.2.1 allows unicast
//!   polls).
//! - **Answering ARP.** The translator answers for every IPv4 address it
//!   owns: the uplink address, the IPv4 side of each explicit address
//!   mapping and the RFC 6791 pool (`AddressTranslator` side).
//! - **6→4.** A route whose next hop is `translate via G` (an IPv4 gateway
//!   written as its `pool6`-embedded IPv6 address, see `route_mapping`), or
//!   on-link on the uplink's IPv4 prefix (`G` = `::`), hands the IPv6
//!   packet here after the forward path checked and decremented its hop
//!   limit; this module translates it and names the neighbor to resolve.
//!   The common cases are decided before anything is written, so the
//!   router can resolve the neighbor and write straight into the transmit
//!   frame: plain TCP and UDP (`Uplink::plain_outbound`) and the common
//!   ICMPv6 error, whose message is checked and translated only once the
//!   frame is taken (`Uplink::plain_icmp_error_outbound`, then
//!   `Uplink::write_plain_icmp_error`).
//! - **4→6.** IPv4 received on the uplink port is validated (RFC 1812
//!   §5.2.2), checked against what a translator must not translate (IPv4
//!   broadcast and multicast, the translator's own addresses, RFC 7915 §1.3
//!   / RFC 7757 §3.4), and translated; the IPv6 result re-enters the router's
//!   forward path like any received packet, so its TTL is decremented there
//!   as the hop limit.

use core::net::{Ipv4Addr, Ipv6Addr};

use smoltcp::time::Instant;
use smoltcp::wire::EthernetAddress;

use super::address_mapping::TranslationPrefix;
use super::arp::{ArpOperation, ArpPacket, ArpRepr, PACKET_LENGTH};
use super::icmpv4::{Icmpv4Message, Icmpv4Packet};
use super::ipv4::{Ipv4Packet, Ipv4Repr};
use super::stateless::{
    self, Ipv4ToIpv6Path, Ipv6ToIpv4Path, PlainIcmpv6ErrorToIpv4, PlainIpv4ToIpv6, PlainIpv6ToIpv4,
    Translated, TranslationError,
};
use super::{AddressError, AddressRole, AddressTranslator, TranslationSettings};

/// The TTL of packets the translator originates (RFC 1700's default, as
/// hosts use).
const OWN_TIME_TO_LIVE: u8 = 64;

/// The largest ICMPv4 error, whole packet (RFC 1812 §4.3.2.3).
const MAXIMUM_ICMPV4_ERROR: usize = 576;

/// Whether `address` can be the source of a host's packet: not 0.0.0.0/8,
/// loopback, multicast, or 240.0.0.0/4 (RFC 1812 §4.3.2.7, §5.3.7).
fn is_unicast_source(address: Ipv4Addr) -> bool {
    let first = address.octets()[0];
    first != 0 && first != 127 && first < 224
}

/// The IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) under which the router's
/// neighbor cache keeps the IPv4 neighbor `address`.
#[inline]
pub fn neighbor_key(address: Ipv4Addr) -> Ipv6Addr {
    // `to_ipv6_mapped`'s value, built from the bits rather than from the
    // octets one by one (per packet on the fast paths to the uplink).
    Ipv6Addr::from_bits(0xffff_0000_0000 | u128::from(address.to_bits()))
}

/// Whether a neighbor cache key stands for an IPv4 neighbor (one reached by
/// ARP and sent IPv4 frames).
pub fn is_ipv4_neighbor(key: Ipv6Addr) -> bool {
    key.to_ipv4_mapped().is_some()
}

/// The uplink's static ARP entries (`[[port.ipv4.neighbor]]`) as neighbor
/// cache keys and MAC addresses.
pub fn static_neighbors(
    config: &super::config::UplinkConfig,
) -> impl Iterator<Item = (Ipv6Addr, EthernetAddress)> + '_ {
    config.neighbors.iter().map(|neighbor| {
        (
            neighbor_key(neighbor.address),
            EthernetAddress(neighbor.mac),
        )
    })
}

/// The uplink and its translator as the config describes them, or `None`
/// without an uplink port or a `[translation]` table. `keys` (from the
/// router's seed) key the RFC 6791 pool choice and NAT64's tables and port
/// allocation; `largest_packet` sizes NAT64's copy buffer.
pub fn from_config(
    config: &crate::config::Config,
    keys: [u64; 5],
    largest_packet: usize,
) -> Option<(
    usize,
    Uplink<super::stateless_addresses::StatelessAddresses>,
)> {
    let (port, uplink) = config.uplink()?;
    let translation = config.translation.as_ref()?;
    let addresses = translation.address_translator(Some(uplink), keys[0]);
    let mut built = Uplink::new(
        uplink.address,
        uplink.prefix_length,
        Some(translation.pool6),
        addresses,
        translation.settings,
    );
    if let Some(nat64_config) = &config.nat64
        && let Some(nat64) = super::nat64::engine::Nat64::new(
            nat64_config,
            translation.pool6,
            translation.well_known_prefix_rule,
            [keys[1], keys[2], keys[3], keys[4]],
            largest_packet,
            Instant::ZERO,
        )
    {
        built = built.with_nat64(nat64);
    }
    Some((port, built))
}

/// The addresses of a hairpin's second pass: IPv4 sources go under `pool6`
/// only (RFC 7757 §4.2.1), everything else as usual.
struct HairpinAddresses<'a, A> {
    addresses: &'a A,
    pool6: Option<TranslationPrefix>,
}

impl<A: AddressTranslator> AddressTranslator for HairpinAddresses<'_, A> {
    fn ipv6_to_ipv4(&self, address: Ipv6Addr, role: AddressRole) -> Result<Ipv4Addr, AddressError> {
        self.addresses.ipv6_to_ipv4(address, role)
    }

    fn ipv4_to_ipv6(&self, address: Ipv4Addr, role: AddressRole) -> Result<Ipv6Addr, AddressError> {
        if role == AddressRole::Destination {
            return self.addresses.ipv4_to_ipv6(address, role);
        }
        let pool6 = self.pool6.ok_or(AddressError::NotMapped)?;
        if pool6.is_well_known()
            && !super::address_mapping::is_allowed_under_well_known_prefix(address)
        {
            return Err(AddressError::NonGlobalUnderWellKnownPrefix);
        }
        Ok(pool6.embed(address))
    }

    fn icmp_error_source(&self, source: Ipv6Addr) -> Option<Ipv4Addr> {
        self.addresses.icmp_error_source(source)
    }

    fn owns(&self, address: Ipv4Addr) -> bool {
        self.addresses.owns(address)
    }
}

/// The path of IPv4 from the uplink: too big for the IPv6 egress is found
/// by the forward path, whose Packet Too Big comes back as Fragmentation
/// Needed, so the translator itself imposes no MTU.
const INBOUND_PATH: Ipv4ToIpv6Path = Ipv4ToIpv6Path {
    ipv6_next_hop_mtu: u16::MAX,
    ipv4_link_mtu: u16::MAX,
};

/// Who takes an IPv4 packet from the uplink ([`Uplink::inbound_taker`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum InboundTaker {
    /// Nobody: dropped for this reason.
    Refused(TranslationDrop),
    /// Stateful NAT64 (a pool4 destination).
    Nat64,
    /// The stateless translator.
    Stateless,
}

/// The destination of an IPv4 packet from the uplink in both forms
/// ([`Uplink::stateless_inbound_destination`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InboundDestination {
    ipv4: Ipv4Addr,
    /// The IPv6 destination of the translated packet.
    pub ipv6: Ipv6Addr,
}

/// An address translator whose mapping of one IPv4 destination is known
/// already ([`Uplink::translate_inbound_to`]); mappings are pure, so the
/// answer is the one the translator would give.
struct KnownDestination<'a, A> {
    addresses: &'a A,
    destination: InboundDestination,
}

impl<A: AddressTranslator> AddressTranslator for KnownDestination<'_, A> {
    fn ipv6_to_ipv4(&self, address: Ipv6Addr, role: AddressRole) -> Result<Ipv4Addr, AddressError> {
        self.addresses.ipv6_to_ipv4(address, role)
    }

    #[inline]
    fn ipv4_to_ipv6(&self, address: Ipv4Addr, role: AddressRole) -> Result<Ipv6Addr, AddressError> {
        // An ICMPv4 error's inner packet quotes the destination again as
        // its source: the same answer when roles make no difference.
        if (role == AddressRole::Destination || self.addresses.ignores_role())
            && address == self.destination.ipv4
        {
            return Ok(self.destination.ipv6);
        }
        self.addresses.ipv4_to_ipv6(address, role)
    }

    fn icmp_error_source(&self, source: Ipv6Addr) -> Option<Ipv4Addr> {
        self.addresses.icmp_error_source(source)
    }

    fn owns(&self, address: Ipv4Addr) -> bool {
        self.addresses.owns(address)
    }
}

/// Where an outbound packet goes next: the `gateway` a route names (`::`
/// for on-link), or the neighbor key worked out from it already.
#[derive(Clone, Copy)]
enum NextHop {
    Route(Ipv6Addr),
    Neighbor(Ipv6Addr),
}

/// What an ARP packet received on the uplink asks of the router.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArpInput {
    /// A request for one of the translator's addresses: learn the sender
    /// (a new entry may be created) and send `reply` back to it.
    RequestForUs {
        /// The sender's neighbor cache key.
        sender: Ipv6Addr,
        /// The sender's MAC address.
        sender_mac: EthernetAddress,
        /// The ARP payload of the reply (28 bytes).
        reply: [u8; PACKET_LENGTH],
    },
    /// A request for someone else, or a gratuitous announcement: refresh
    /// the sender's entry if there is one; create none.
    Refresh {
        /// The sender's neighbor cache key.
        sender: Ipv6Addr,
        /// The sender's MAC address.
        sender_mac: EthernetAddress,
    },
    /// A reply: the sender's address resolved (a solicited, overriding
    /// advertisement).
    Reply {
        /// The sender's neighbor cache key.
        sender: Ipv6Addr,
        /// The sender's MAC address.
        sender_mac: EthernetAddress,
    },
}

/// Why an ARP packet was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArpDrop {
    /// Not an Ethernet/IPv4 request or reply, or truncated.
    Malformed,
    /// A sender address that no neighbor can have: 0.0.0.0 (an RFC 5227
    /// probe, which needs no answer from a router that is not probing),
    /// broadcast, multicast, or one of our own addresses (a conflict).
    UnusableSender,
}

crate::counters! {
    /// Why the translator refused a packet (counted on the uplink port, in
    /// addition to the port's `translation_refused` drop).
    pub enum TranslationDrop, counts TranslationDropCounts {
        /// The IPv4 header failed RFC 1812 §5.2.2 validation, or its options are malformed.
        BadIpv4Header => "translation_bad_ipv4_header",
        /// The IPv6 header or its extension headers are malformed or cut off.
        BadIpv6Header => "translation_bad_ipv6_header",
        /// A source-routed IPv4 packet (RFC 7915 §4.1).
        SourceRoute => "translation_source_route",
        /// A Routing header with segments left (RFC 7915 §5.1).
        RoutingHeader => "translation_routing_header",
        /// An extension header after the Fragment header (RFC 7915 §5.1.1).
        ExtensionHeaderAfterFragment => "translation_extension_header_after_fragment",
        /// A source no host may use (RFC 7915 §4.1, §5.1).
        IllegalSource => "translation_illegal_source",
        /// No EAM or pool6 mapping for the source (RFC 7915 §6).
        UntranslatableSource => "translation_untranslatable_source",
        /// No EAM or pool6 mapping for the destination (RFC 7915 §6).
        UntranslatableDestination => "translation_untranslatable_destination",
        /// A non-global IPv4 address under 64:ff9b::/96 (RFC 6052 §3.1).
        NonGlobalUnderWellKnownPrefix => "translation_non_global_under_well_known_prefix",
        /// A fragmented ICMP message (RFC 7915 §1.2).
        FragmentedIcmp => "translation_fragmented_icmp",
        /// ICMP of the wrong family, or an IPv6 extension header number as a protocol.
        UntranslatableProtocol => "translation_untranslatable_protocol",
        /// An ICMP type RFC 7915 §4.2 / §5.2 drops.
        UnsupportedIcmp => "translation_unsupported_icmp",
        /// A malformed ICMP message, or one with a bad checksum.
        BadIcmp => "translation_bad_icmp",
        /// An ICMP error whose quoted packet cannot be translated (RFC 7915 §4.3, §5.3).
        BadIcmpInnerPacket => "translation_bad_icmp_inner_packet",
        /// A TCP or UDP header cut off.
        TruncatedTransportHeader => "translation_truncated_transport_header",
        /// UDP with a zero checksum the policy refuses (RFC 7915 §4.5, RFC 8200 §8.1).
        UdpZeroChecksum => "translation_udp_zero_checksum",
        /// Too large to translate or fragment.
        TooLarge => "translation_too_large",
        /// A Don't Fragment packet larger than the next hop (answered with
        /// ICMPv6 Packet Too Big).
        PacketTooBig => "translation_packet_too_big",
        /// Addressed to IPv4 broadcast or multicast (never translated).
        Ipv4BroadcastOrMulticast => "translation_ipv4_broadcast_or_multicast",
        /// Addressed to the uplink's own IPv4 address with nothing listening.
        Ipv4ForTranslator => "translation_ipv4_for_translator",
        /// A route's gateway is not an address under pool6.
        BadGateway => "translation_bad_gateway",
        /// Refused by NAT64 (the reason is in the `nat64_*` counters).
        Nat64 => "translation_nat64_refused",
        /// Refused by NAT64 without any ICMP answer: an unsolicited inbound
        /// SYN that could not be held (RFC 5382 REQ-4, REQ-4a).
        Nat64Silent => "translation_nat64_silent",
        /// Held by NAT64 (an unsolicited inbound SYN, RFC 6146 §3.5.2.2, or
        /// a fragment waiting for its first), or a retransmission of a held
        /// SYN: not answered now; the `nat64_*` counters say what became of it.
        Nat64Held => "translation_nat64_held",
        /// An ARP packet pure6 does not handle or a sender no neighbor can have.
        BadArp => "translation_bad_arp",
    }
}

impl TranslationDrop {
    /// The counter for a refusal of the RFC 7915 translator.
    pub fn from_error(error: &TranslationError) -> TranslationDrop {
        use super::AddressError::NonGlobalUnderWellKnownPrefix as NonGlobal;
        match error {
            TranslationError::BadIpv4Header(_) | TranslationError::BadIpv4Options => {
                TranslationDrop::BadIpv4Header
            }
            TranslationError::BadIpv6Header
            | TranslationError::Truncated
            | TranslationError::TruncatedExtensionHeader => TranslationDrop::BadIpv6Header,
            TranslationError::SourceRoute => TranslationDrop::SourceRoute,
            TranslationError::RoutingHeader { .. } => TranslationDrop::RoutingHeader,
            TranslationError::ExtensionHeaderAfterFragment => {
                TranslationDrop::ExtensionHeaderAfterFragment
            }
            TranslationError::IllegalSource => TranslationDrop::IllegalSource,
            TranslationError::UntranslatableSource(NonGlobal)
            | TranslationError::UntranslatableDestination(NonGlobal)
            | TranslationError::UntranslatableInnerAddress(NonGlobal) => {
                TranslationDrop::NonGlobalUnderWellKnownPrefix
            }
            TranslationError::UntranslatableSource(_) => TranslationDrop::UntranslatableSource,
            TranslationError::UntranslatableDestination(_) => {
                TranslationDrop::UntranslatableDestination
            }
            TranslationError::UntranslatableInnerAddress(_)
            | TranslationError::NestedIcmpError
            | TranslationError::InnerPacketUnusable => TranslationDrop::BadIcmpInnerPacket,
            TranslationError::FragmentedIcmp => TranslationDrop::FragmentedIcmp,
            TranslationError::UntranslatableProtocol { .. } => {
                TranslationDrop::UntranslatableProtocol
            }
            TranslationError::UnsupportedIcmpType { .. }
            | TranslationError::UntranslatablePointer => TranslationDrop::UnsupportedIcmp,
            TranslationError::TruncatedIcmp | TranslationError::BadIcmpChecksum => {
                TranslationDrop::BadIcmp
            }
            TranslationError::TruncatedTransportHeader => TranslationDrop::TruncatedTransportHeader,
            TranslationError::UdpZeroChecksum
            | TranslationError::FragmentedUdpZeroChecksum
            | TranslationError::Ipv6UdpZeroChecksum => TranslationDrop::UdpZeroChecksum,
            TranslationError::PacketTooBig { .. }
            | TranslationError::FragmentationNeeded { .. } => TranslationDrop::PacketTooBig,
            TranslationError::TooLargeForIpv4
            | TranslationError::OutputTooSmall
            | TranslationError::FragmentSizeTooSmall
            | TranslationError::NotFragmentable
            | TranslationError::FragmentOutOfRange => TranslationDrop::TooLarge,
        }
    }
}

/// An IPv6 packet translated to IPv4 for the uplink ([`Uplink::translate_outbound`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outbound {
    /// The IPv4 packet at the start of the output buffer, and whether it
    /// must be fragmented ([`stateless::fragment_ipv4`]).
    pub translated: Translated,
    /// The neighbor cache key of the IPv4 next hop.
    pub neighbor: Ipv6Addr,
    /// The IPv4 destination is one of the translator's own mapped
    /// addresses (an EAM): translate it back to IPv6 and forward it there
    /// (hairpinning, RFC 7757 §4.2).
    pub hairpin: bool,
}

/// A 6→4 translation decided before it is written: [`PlainIpv6ToIpv4`]
/// (TCP, UDP) or [`PlainIcmpv6ErrorToIpv4`] (an ICMPv6 error).
pub trait PlainTranslation: Copy {
    /// The IPv4 destination.
    fn destination(&self) -> Ipv4Addr;
    /// The length of the IPv4 packet.
    fn length(&self) -> usize;
}

impl PlainTranslation for PlainIpv6ToIpv4 {
    #[inline(always)]
    fn destination(&self) -> Ipv4Addr {
        PlainIpv6ToIpv4::destination(self)
    }

    #[inline(always)]
    fn length(&self) -> usize {
        PlainIpv6ToIpv4::length(self)
    }
}

impl PlainTranslation for PlainIcmpv6ErrorToIpv4 {
    #[inline(always)]
    fn destination(&self) -> Ipv4Addr {
        PlainIcmpv6ErrorToIpv4::destination(self)
    }

    #[inline(always)]
    fn length(&self) -> usize {
        PlainIcmpv6ErrorToIpv4::length(self)
    }
}

/// An IPv6 packet for the uplink in a common case, decided but not yet
/// written ([`Uplink::plain_outbound`], [`Uplink::plain_icmp_error_outbound`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlainOutbound<T = PlainIpv6ToIpv4> {
    translation: T,
    /// The neighbor cache key of the IPv4 next hop.
    pub neighbor: Ipv6Addr,
}

impl<T: PlainTranslation> PlainOutbound<T> {
    /// The length of the IPv4 packet.
    #[inline]
    pub fn length(&self) -> usize {
        self.translation.length()
    }
}

impl PlainOutbound<PlainIpv6ToIpv4> {
    /// Writes the IPv4 packet translated from `packet` (the one given to
    /// [`Uplink::plain_outbound`]) at the start of `output`, which holds
    /// [`PlainOutbound::length`] bytes, with Identification
    /// `identification`; false, nothing written, if `output` is shorter.
    #[inline(always)]
    pub fn write(&self, packet: &[u8], identification: u16, output: &mut [u8]) -> bool {
        self.translation.write(packet, identification, output)
    }
}

/// Why an outbound packet was refused, and the ICMPv6 error to answer with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The counter.
    pub reason: TranslationDrop,
    /// The translator's error, for its ICMP answer
    /// ([`TranslationError::icmp_answer`]); `None` for the uplink's own
    /// refusals.
    pub error: Option<TranslationError>,
}

impl From<TranslationError> for Refusal {
    fn from(error: TranslationError) -> Refusal {
        Refusal {
            reason: TranslationDrop::from_error(&error),
            error: Some(error),
        }
    }
}

impl From<super::nat64::engine::Nat64Refusal> for Refusal {
    fn from(refusal: super::nat64::engine::Nat64Refusal) -> Refusal {
        Refusal {
            reason: match refusal.error {
                Some(error) => TranslationDrop::from_error(&error),
                None if refusal.reason.is_held() => TranslationDrop::Nat64Held,
                None if refusal.reason.is_silent() => TranslationDrop::Nat64Silent,
                None => TranslationDrop::Nat64,
            },
            error: refusal.error,
        }
    }
}

impl From<TranslationDrop> for Refusal {
    fn from(reason: TranslationDrop) -> Refusal {
        Refusal {
            reason,
            error: None,
        }
    }
}

/// The path of a plain 6→4 translation ([`Uplink::plain_outbound`]): as
/// `Uplink::outbound`'s, the Identification drawn when written.
#[inline(always)]
fn plain_path(ipv4_mtu: u16) -> Ipv6ToIpv4Path {
    Ipv6ToIpv4Path {
        ipv4_next_hop_mtu: ipv4_mtu,
        ipv6_link_mtu: u16::MAX,
        identification: 0,
        decrement_time_to_live: true,
    }
}

/// The IPv4 side of the uplink port and the translator behind it.
#[derive(Debug)]
pub struct Uplink<A> {
    address: Ipv4Addr,
    prefix_length: u8,
    /// The directed broadcast address of the uplink's prefix (RFC 919,
    /// RFC 1812 §5.3.5.2) as bits, or the limited broadcast's when the
    /// prefix has none (a /31 or /32): worked out once, as every packet
    /// from the uplink is checked against it.
    directed_broadcast: u32,
    pool6: Option<TranslationPrefix>,
    /// The top 96 bits of `pool6` when it is a /96 (the usual length): a
    /// gateway under it is its last 32 bits, found with one compare per
    /// packet instead of `TranslationPrefix::extract`.
    pool6_96: Option<u128>,
    addresses: A,
    settings: TranslationSettings,
    counts: TranslationDropCounts,
    /// Stateful NAT64 for IPv6 sources without an explicit mapping.
    nat64: Option<super::nat64::engine::Nat64>,
}

impl<A> core::fmt::Display for Uplink<A> {
    /// `192.0.2.1/24, pool6 2001:db8:64::/96`: what a boot log shows.
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(formatter, "{}/{}", self.address, self.prefix_length)?;
        if let Some(pool6) = self.pool6 {
            write!(formatter, ", pool6 {}", pool6.cidr())?;
        }
        Ok(())
    }
}

impl<A: AddressTranslator> Uplink<A> {
    /// An uplink whose IPv4 address is `address`/`prefix_length`, whose
    /// `translate via` gateways are written under `pool6`, translating with
    /// `addresses` and `settings`.
    pub fn new(
        address: Ipv4Addr,
        prefix_length: u8,
        pool6: Option<TranslationPrefix>,
        addresses: A,
        settings: TranslationSettings,
    ) -> Uplink<A> {
        let prefix_length = prefix_length.min(32);
        Uplink {
            address,
            prefix_length,
            directed_broadcast: if prefix_length < 31 {
                address.to_bits() | u32::MAX >> prefix_length
            } else {
                u32::MAX
            },
            pool6,
            pool6_96: pool6
                .filter(|pool6| pool6.length() == 96)
                .map(|pool6| pool6.cidr().address().to_bits() >> 32),
            addresses,
            settings,
            counts: TranslationDropCounts::new(),
            nat64: None,
        }
    }

    /// The same uplink with stateful NAT64.
    pub fn with_nat64(mut self, nat64: super::nat64::engine::Nat64) -> Uplink<A> {
        self.nat64 = Some(nat64);
        self
    }

    /// NAT64, if configured.
    pub fn nat64(&self) -> Option<&super::nat64::engine::Nat64> {
        self.nat64.as_ref()
    }

    /// Runs NAT64's session timers.
    pub fn poll(&mut self, now: Instant) {
        if let Some(nat64) = &mut self.nat64 {
            nat64.poll(now);
        }
    }

    /// The next probe of an ESTABLISHED NAT64 session whose lifetime ran
    /// out (RFC 6146 §3.5.2.2), an IPv6 packet written into `output` (at
    /// least [`super::nat64::engine::PROBE_LENGTH`] bytes) for the router to
    /// route like a translated one; its length.
    pub fn next_probe(&mut self, output: &mut [u8]) -> Option<usize> {
        self.nat64.as_mut()?.next_probe(output)
    }

    /// Whether NAT64 has held fragments to send now (see
    /// [`Uplink::next_released_outbound`], [`Uplink::next_released_inbound`]).
    #[inline]
    pub fn releasing_fragments(&self) -> bool {
        self.nat64
            .as_ref()
            .is_some_and(|nat64| nat64.releasing_fragments())
    }

    /// The next fragment received from IPv6 that NAT64 held until the first
    /// fragment of its datagram went through (RFC 6146 §3.4), translated
    /// into `output` like [`Uplink::translate_outbound`]; `None` when none
    /// is left. Call it after each outbound translation until `None`.
    pub fn next_released_outbound(
        &mut self,
        gateway: Ipv6Addr,
        ipv4_mtu: u16,
        identification: u16,
        output: &mut [u8],
        now: Instant,
    ) -> Option<Result<Outbound, Refusal>> {
        let path = Ipv6ToIpv4Path {
            ipv4_next_hop_mtu: ipv4_mtu,
            ipv6_link_mtu: u16::MAX,
            identification,
            decrement_time_to_live: true,
        };
        let released = self.nat64.as_mut()?.next_released_fragment(
            false,
            output,
            &self.settings,
            &path,
            now,
        )?;
        let result = released.map_err(Refusal::from).and_then(|translated| {
            self.finish_outbound(translated, NextHop::Route(gateway), output)
        });
        if let Err(refusal) = &result {
            self.counts.increment(refusal.reason);
        }
        Some(result)
    }

    /// The next fragment received from IPv4 that NAT64 held until the first
    /// fragment of its datagram went through (RFC 6146 §3.4), translated
    /// into `output` like [`Uplink::translate_inbound`]; `None` when none is
    /// left. Call it after each inbound translation until `None`.
    pub fn next_released_inbound(
        &mut self,
        output: &mut [u8],
        now: Instant,
    ) -> Option<Result<Translated, Refusal>> {
        let path = Ipv6ToIpv4Path {
            ipv4_next_hop_mtu: u16::MAX,
            ipv6_link_mtu: u16::MAX,
            identification: 0,
            decrement_time_to_live: false,
        };
        let released = self.nat64.as_mut()?.next_released_fragment(
            true,
            output,
            &self.settings,
            &path,
            now,
        )?;
        let result = released.map_err(Refusal::from);
        if let Err(refusal) = &result {
            self.counts.increment(refusal.reason);
        }
        Some(result)
    }

    /// The next unsolicited inbound SYN NAT64 held whose time ran out by
    /// `now` (RFC 6146 §3.5.2.2 V4 INIT expiry), copied into `output`: its
    /// length and the link-layer address it came from. The caller answers
    /// it with ICMPv4 Port Unreachable ([`Uplink::icmp_error`], code 3).
    pub fn next_expired_syn(
        &mut self,
        now: Instant,
        output: &mut [u8],
    ) -> Option<(usize, EthernetAddress)> {
        let (length, sender) = self.nat64.as_mut()?.next_expired_syn(now, output)?;
        Some((length, EthernetAddress(sender)))
    }

    /// Whether `destination` is for NAT64 (a pool4 address).
    fn is_nat64_destination(&self, destination: Ipv4Addr) -> bool {
        self.nat64
            .as_ref()
            .is_some_and(|nat64| nat64.contains_ipv4(destination))
    }

    /// The address translator.
    pub fn addresses(&self) -> &A {
        &self.addresses
    }

    /// The translator's settings.
    pub fn settings(&self) -> &TranslationSettings {
        &self.settings
    }

    /// The refusals counted so far.
    pub fn counts(&self) -> &TranslationDropCounts {
        &self.counts
    }

    /// Counts a refusal.
    pub fn count(&mut self, reason: TranslationDrop) {
        self.counts.increment(reason);
    }

    /// The neighbor cache key of the IPv4 gateway a `translate via` route
    /// names (its `pool6`-embedded address), or `None` for `::` (on-link:
    /// the key depends on the destination) or an address not under pool6.
    /// The /96 compare is always inline: a few instructions on the
    /// per-packet path to the uplink (out of line it cost a call and its
    /// spills, 65 instructions per ICMPv6 error translated); any other
    /// `pool6` length extracts the address out of line.
    #[inline(always)]
    pub fn gateway_neighbor(&self, gateway: Ipv6Addr) -> Option<Ipv6Addr> {
        if gateway.is_unspecified() {
            return None;
        }
        if let Some(neighbor) = self.neighbor_under_pool6_96(gateway) {
            return Some(neighbor);
        }
        self.gateway_neighbor_by_extraction(gateway)
    }

    /// The neighbor key of `gateway` when `pool6` is a /96 holding it
    /// (RFC 6052 §2.3: its last 32 bits), with one compare.
    #[inline(always)]
    fn neighbor_under_pool6_96(&self, gateway: Ipv6Addr) -> Option<Ipv6Addr> {
        let bits = gateway.to_bits();
        let prefix = self.pool6_96?;
        (bits >> 32 == prefix).then(|| neighbor_key(Ipv4Addr::from_bits(bits as u32)))
    }

    /// [`Uplink::gateway_neighbor`] under a `pool6` of any length (RFC
    /// 6052 §2.3), out of line.
    #[inline(never)]
    fn gateway_neighbor_by_extraction(&self, gateway: Ipv6Addr) -> Option<Ipv6Addr> {
        let pool6 = self.pool6?;
        pool6.extract(gateway).ok().map(neighbor_key)
    }

    /// RFC 7915 §5: translates the IPv6 `packet` (hop limit already checked
    /// and not yet decremented) into `output` for the IPv4 next hop that a
    /// route names: `gateway` is the `pool6`-embedded IPv4 gateway, or `::`
    /// for a destination on the uplink's link. The TTL of the result is
    /// decremented here (the forward step of RFC 7915 §5.1 "Time to Live").
    pub fn translate_outbound(
        &mut self,
        packet: &[u8],
        gateway: Ipv6Addr,
        ipv4_mtu: u16,
        identification: u16,
        output: &mut [u8],
        now: Instant,
    ) -> Result<Outbound, Refusal> {
        self.counted_outbound(
            packet,
            NextHop::Route(gateway),
            ipv4_mtu,
            identification,
            output,
            now,
        )
    }

    /// [`Uplink::translate_outbound`] toward a gateway whose neighbor key
    /// the caller has from [`Uplink::gateway_neighbor`] already (it is not
    /// worked out again).
    pub fn translate_outbound_to_neighbor(
        &mut self,
        packet: &[u8],
        neighbor: Ipv6Addr,
        ipv4_mtu: u16,
        identification: u16,
        output: &mut [u8],
        now: Instant,
    ) -> Result<Outbound, Refusal> {
        self.counted_outbound(
            packet,
            NextHop::Neighbor(neighbor),
            ipv4_mtu,
            identification,
            output,
            now,
        )
    }

    /// [`Uplink::outbound`], counting a refusal by its reason.
    #[inline]
    fn counted_outbound(
        &mut self,
        packet: &[u8],
        next_hop: NextHop,
        ipv4_mtu: u16,
        identification: u16,
        output: &mut [u8],
        now: Instant,
    ) -> Result<Outbound, Refusal> {
        let result = self.outbound(packet, next_hop, ipv4_mtu, identification, output, now);
        if let Err(refusal) = &result {
            self.counts.increment(refusal.reason);
        }
        result
    }

    /// [`Uplink::translate_outbound`] for the common case, decided before
    /// anything is written: a plain TCP or UDP packet
    /// ([`PlainIpv6ToIpv4`]: no extension headers, fits `ipv4_mtu`, both
    /// addresses mapped) whose source is the stateless translator's (an
    /// EAM or pool6 source; NAT64 takes the rest), to a destination that
    /// is neither broadcast, multicast nor one of the translator's own
    /// (hairpinning), through a gateway under pool6 or on-link (`::`).
    /// The caller resolves the neighbor, then writes the packet straight
    /// into its frame ([`PlainOutbound::write`]); the bytes are those
    /// [`Uplink::translate_outbound`] gives. `None` is no refusal and
    /// counts nothing: the general way gives the answer.
    #[inline]
    pub fn plain_outbound(
        &self,
        packet: &[u8],
        gateway: Ipv6Addr,
        ipv4_mtu: u16,
    ) -> Option<PlainOutbound> {
        let translation = PlainIpv6ToIpv4::new(
            packet,
            &self.addresses,
            &self.settings,
            &plain_path(ipv4_mtu),
        )?;
        self.plain_next_hop(translation, gateway)
    }

    /// [`Uplink::plain_outbound`] for an ICMPv6 error, its first step
    /// ([`PlainIcmpv6ErrorToIpv4::new`]: the outer header and the size,
    /// §5.1): from a mapped source, or from one without a mapping when
    /// there is no NAT64 (the source then comes from the RFC 6791 pool;
    /// with NAT64, NAT64 takes it, as `Uplink::outbound` decides). The
    /// caller resolves the neighbor and takes a frame of
    /// [`PlainOutbound::length`] bytes, then
    /// [`Uplink::write_plain_icmp_error`] translates the message into it
    /// or declines. `None` is no refusal and counts nothing.
    #[inline]
    pub fn plain_icmp_error_outbound(
        &self,
        packet: &[u8],
        gateway: Ipv6Addr,
        ipv4_mtu: u16,
    ) -> Option<PlainOutbound<PlainIcmpv6ErrorToIpv4>> {
        let translation =
            PlainIcmpv6ErrorToIpv4::new(packet, &self.addresses, &plain_path(ipv4_mtu))?;
        if translation.has_pool_source() && self.nat64.is_some() {
            return None;
        }
        self.plain_next_hop(translation, gateway)
    }

    /// The second step of [`Uplink::plain_icmp_error_outbound`] (the same
    /// `packet` and `ipv4_mtu`): writes the IPv4 packet at the start of
    /// `output`, which holds [`PlainOutbound::length`] bytes, with
    /// Identification `identification`, when the ICMPv6 message is of the
    /// common shape (§5.2, §5.3: see [`PlainIcmpv6ErrorToIpv4`]); the
    /// bytes are those [`Uplink::translate_outbound`] gives. False (no
    /// refusal, nothing counted; `output` may hold part of a packet) for
    /// anything else: the general way gives the answer.
    #[inline]
    pub fn write_plain_icmp_error(
        &self,
        plain: &PlainOutbound<PlainIcmpv6ErrorToIpv4>,
        packet: &[u8],
        ipv4_mtu: u16,
        identification: u16,
        output: &mut [u8],
    ) -> bool {
        plain.translation.write(
            packet,
            &self.addresses,
            &self.settings,
            &plain_path(ipv4_mtu),
            identification,
            output,
        )
    }

    /// The checks of `Uplink::finish_outbound` for a plain translation:
    /// `None` for a broadcast, multicast or own (hairpinned) destination,
    /// else the neighbor key of `gateway` (or of the destination, on-link).
    #[inline(always)]
    fn plain_next_hop<T: PlainTranslation>(
        &self,
        translation: T,
        gateway: Ipv6Addr,
    ) -> Option<PlainOutbound<T>> {
        let destination = translation.destination();
        if self.is_broadcast_or_multicast(destination) || self.owns(destination) {
            return None;
        }
        let neighbor = if gateway.is_unspecified() {
            neighbor_key(destination)
        } else {
            self.gateway_neighbor(gateway)?
        };
        Some(PlainOutbound {
            translation,
            neighbor,
        })
    }

    fn outbound(
        &mut self,
        packet: &[u8],
        gateway: NextHop,
        ipv4_mtu: u16,
        identification: u16,
        output: &mut [u8],
        now: Instant,
    ) -> Result<Outbound, Refusal> {
        let path = Ipv6ToIpv4Path {
            ipv4_next_hop_mtu: ipv4_mtu,
            ipv6_link_mtu: u16::MAX,
            identification,
            decrement_time_to_live: true,
        };
        // SIIT for sources with an explicit mapping, NAT64 for the rest
        // (asked only when NAT64 exists: the core maps the source again).
        let stateless_source = |addresses: &A| {
            packet
                .get(8..24)
                .and_then(|bytes| <[u8; 16]>::try_from(bytes).ok())
                .is_some_and(|source| {
                    addresses
                        .ipv6_to_ipv4(Ipv6Addr::from(source), AddressRole::Source)
                        .is_ok()
                })
        };
        let translated = match &mut self.nat64 {
            Some(nat64) if !stateless_source(&self.addresses) => nat64
                .translate_outbound(packet, output, &self.settings, &path, now)
                .map_err(Refusal::from)?,
            _ => stateless::translate_ipv6_to_ipv4(
                packet,
                output,
                &self.addresses,
                &self.settings,
                &path,
            )?,
        };
        self.finish_outbound(translated, gateway, output)
    }

    /// The uplink's part of a translated outbound packet: never to IPv4
    /// broadcast or multicast, hairpinning noticed and the next hop named
    /// (the TTL was decremented as the header was written: the path said
    /// `decrement_time_to_live`).
    #[inline(always)]
    fn finish_outbound(
        &self,
        translated: Translated,
        gateway: NextHop,
        output: &mut [u8],
    ) -> Result<Outbound, Refusal> {
        let ipv4 = Ipv4Packet::new_unchecked(&output[..translated.length]);
        let destination = ipv4.destination_address();
        if self.is_broadcast_or_multicast(destination) {
            return Err(TranslationDrop::Ipv4BroadcastOrMulticast.into());
        }
        let hairpin = self.owns(destination);
        let neighbor = match gateway {
            NextHop::Neighbor(neighbor) => neighbor,
            NextHop::Route(gateway) if gateway.is_unspecified() => neighbor_key(destination),
            NextHop::Route(gateway) => self
                .pool6
                .and_then(|pool6| pool6.extract(gateway).ok())
                .map(neighbor_key)
                .ok_or(TranslationDrop::BadGateway)?,
        };
        Ok(Outbound {
            translated,
            neighbor,
            hairpin,
        })
    }

    /// RFC 7915 §4: translates the IPv4 `packet` received on the uplink from
    /// `sender` into `output`, to be forwarded as IPv6 (the forward path
    /// decrements the hop limit). Packets to IPv4 broadcast or multicast, or
    /// to the uplink address itself, are refused: they are not for the IPv6
    /// side. A refusal [`TranslationDrop::Nat64Held`] is no loss: NAT64
    /// keeps the packet (see [`Uplink::next_expired_syn`]).
    pub fn translate_inbound(
        &mut self,
        packet: &[u8],
        sender: EthernetAddress,
        output: &mut [u8],
        now: Instant,
    ) -> Result<Translated, Refusal> {
        let result = self.inbound(packet, Some(sender.0), output, now);
        if let Err(refusal) = &result {
            self.counts.increment(refusal.reason);
        }
        result
    }

    fn inbound(
        &mut self,
        packet: &[u8],
        sender: Option<[u8; 6]>,
        output: &mut [u8],
        now: Instant,
    ) -> Result<Translated, Refusal> {
        let header = Ipv4Packet::new_checked(packet)
            .map_err(|error| Refusal::from(TranslationError::BadIpv4Header(error)))?;
        match self.inbound_taker(header.destination_address()) {
            InboundTaker::Refused(reason) => Err(reason.into()),
            InboundTaker::Nat64 => {
                let Some(nat64) = &mut self.nat64 else {
                    return Err(TranslationDrop::Ipv4ForTranslator.into());
                };
                // NAT64 reads ports before the core validates the header.
                Ipv4Repr::parse(&header)
                    .map_err(|error| Refusal::from(TranslationError::BadIpv4Header(error)))?;
                nat64
                    .translate_inbound(packet, sender, output, &self.settings, now)
                    .map_err(Refusal::from)
            }
            InboundTaker::Stateless => Ok(stateless::translate_ipv4_to_ipv6(
                packet,
                output,
                &self.addresses,
                &self.settings,
                &INBOUND_PATH,
            )?),
        }
    }

    /// Who takes IPv4 addressed to `destination` on the uplink: nobody for
    /// broadcast and multicast (RFC 7915 §4) or the uplink's own address
    /// (unless pool4 holds it), NAT64 for pool4 (RFC 6146 §3.5), the
    /// stateless translator for the rest (EAM and pool6, RFC 7757).
    #[inline]
    fn inbound_taker(&self, destination: Ipv4Addr) -> InboundTaker {
        if self.is_broadcast_or_multicast(destination) {
            InboundTaker::Refused(TranslationDrop::Ipv4BroadcastOrMulticast)
        } else if self.is_nat64_destination(destination) {
            InboundTaker::Nat64
        } else if destination == self.address {
            InboundTaker::Refused(TranslationDrop::Ipv4ForTranslator)
        } else {
            InboundTaker::Stateless
        }
    }

    /// The IPv6 destination the IPv4 `packet` received on the uplink will
    /// have once translated (RFC 7915 §4.1 "Destination Address"), when the
    /// stateless translator is the one to take it (not NAT64's pool4, not
    /// the uplink address, not broadcast or multicast): the router routes
    /// on it before translating, straight into the transmit frame. `None`
    /// sends the packet the general way ([`Uplink::translate_inbound`]).
    #[inline]
    pub fn stateless_inbound_destination(&self, packet: &[u8]) -> Option<InboundDestination> {
        let header: &[u8; 20] = packet.get(..20)?.try_into().ok()?;
        if header[0] >> 4 != 4 {
            return None;
        }
        let destination = Ipv4Addr::new(header[16], header[17], header[18], header[19]);
        if self.inbound_taker(destination) != InboundTaker::Stateless {
            return None;
        }
        let ipv6 = self
            .addresses
            .ipv4_to_ipv6(destination, AddressRole::Destination)
            .ok()?;
        Some(InboundDestination {
            ipv4: destination,
            ipv6,
        })
    }

    /// [`Uplink::translate_inbound`] for the common case, decided from the
    /// outer header before anything is written: a plain TCP or UDP packet
    /// or ICMPv4 error ([`PlainIpv4ToIpv6`]: no options, not a fragment
    /// and not to be fragmented, a nonzero UDP checksum, the destination
    /// mapped) that the stateless translator takes (not NAT64's pool4, not
    /// the uplink address, not broadcast or multicast). The caller routes
    /// on its destination, resolves the neighbor, reserves a frame of its
    /// length and has [`Uplink::write_plain_inbound`] write the packet
    /// straight into it; the bytes are those [`Uplink::translate_inbound`]
    /// gives. `None` is no refusal and counts nothing: the general way
    /// gives the answer.
    #[inline]
    pub fn plain_inbound(&self, packet: &[u8]) -> Option<PlainIpv4ToIpv6> {
        let destination = packet.get(16..20)?;
        let destination = Ipv4Addr::new(
            destination[0],
            destination[1],
            destination[2],
            destination[3],
        );
        if self.inbound_taker(destination) != InboundTaker::Stateless {
            return None;
        }
        PlainIpv4ToIpv6::new(packet, &self.addresses, &self.settings, &INBOUND_PATH)
    }

    /// Writes the translation of `packet`, whose [`Uplink::plain_inbound`]
    /// is `plain`, at the start of `output` ([`PlainIpv4ToIpv6::write`]).
    /// False when the rest of the packet is no plain case (its source not
    /// mapped, an ICMP error of another shape): no refusal, nothing
    /// counted, part of `output` perhaps written; the general way gives
    /// the answer.
    #[inline(always)]
    pub fn write_plain_inbound(
        &self,
        plain: &PlainIpv4ToIpv6,
        packet: &[u8],
        output: &mut [u8],
    ) -> bool {
        plain.write(
            packet,
            &self.addresses,
            &self.settings,
            &INBOUND_PATH,
            output,
        )
    }

    /// [`Uplink::translate_inbound`] for a packet whose
    /// [`Uplink::stateless_inbound_destination`] is `destination` (its
    /// mapping is not looked up again). An `output` too small is not
    /// counted: the caller tries again the general way.
    pub fn translate_inbound_to(
        &mut self,
        packet: &[u8],
        destination: InboundDestination,
        output: &mut [u8],
    ) -> Result<Translated, Refusal> {
        let addresses = KnownDestination {
            addresses: &self.addresses,
            destination,
        };
        let result = stateless::translate_ipv4_to_ipv6(
            packet,
            output,
            &addresses,
            &self.settings,
            &INBOUND_PATH,
        )
        .map_err(Refusal::from);
        if let Err(refusal) = &result
            && refusal.error != Some(TranslationError::OutputTooSmall)
        {
            self.counts.increment(refusal.reason);
        }
        result
    }

    /// The second pass of a hairpinned packet (RFC 7757 §4.2.2): the IPv4
    /// `packet` that [`Uplink::translate_outbound`] produced for one of the
    /// translator's own EAM addresses, translated back to IPv6 into
    /// `output` with the source written under `pool6`, not through the EAM
    /// (§4.2.1 rule 1), so the answer comes back the same way. The TTL the
    /// first pass took off is given back (§4.2.2: the second pass does not
    /// decrement; the forward path decrements once).
    ///
    /// Deviation: in a hairpinned ICMPv4 error every source address, outer
    /// and inner, is written under `pool6` (rules 2 and 3 would keep the
    /// inner source on its EAM).
    pub fn translate_hairpin(
        &mut self,
        packet: &[u8],
        output: &mut [u8],
        now: Instant,
    ) -> Result<Translated, Refusal> {
        // RFC 6146 §3.8: a NAT64 hairpin is an IPv4 packet to pool4.
        let destination = Ipv4Packet::new_checked(packet)
            .map(|header| header.destination_address())
            .ok();
        let result =
            if destination.is_some_and(|destination| self.is_nat64_destination(destination)) {
                self.inbound(packet, None, output, now)
            } else {
                let hairpin = HairpinAddresses {
                    addresses: &self.addresses,
                    pool6: self.pool6,
                };
                stateless::translate_ipv4_to_ipv6(
                    packet,
                    output,
                    &hairpin,
                    &self.settings,
                    &INBOUND_PATH,
                )
                .map_err(Refusal::from)
            };
        match result {
            Ok(translated) => {
                if let Some(hop_limit) = output.get_mut(7) {
                    *hop_limit = hop_limit.saturating_add(1);
                }
                Ok(translated)
            }
            Err(refusal) => {
                self.counts.increment(refusal.reason);
                Err(refusal)
            }
        }
    }

    /// The Echo Reply to an ICMPv4 Echo Request for the uplink address
    /// (RFC 792, RFC 1122 §3.2.2.6: data returned unchanged), written into
    /// `output`; `None` if `packet` is anything else or does not fit.
    /// The reply goes back to the link-layer sender of the request.
    pub fn answer_echo(&self, packet: &[u8], output: &mut [u8]) -> Option<usize> {
        // Most packets are for others: decide on the destination field
        // before validating anything.
        if packet.get(16..20) != Some(&self.address.octets()[..]) {
            return None;
        }
        let header = Ipv4Packet::new_checked(packet).ok()?;
        let repr = Ipv4Repr::parse(&header).ok()?;
        if repr.destination_address != self.address
            || repr.protocol != smoltcp::wire::IpProtocol::Icmp
            || header.is_fragment()
            || !is_unicast_source(repr.source_address)
        {
            return None;
        }
        let request = Icmpv4Packet::new_checked(header.payload()).ok()?;
        if request.message_type() != Icmpv4Message::EchoRequest
            || request.code() != 0
            || !request.verify_checksum()
        {
            return None;
        }
        let message = header.payload();
        let length = super::ipv4::HEADER_LENGTH + message.len();
        let output = output.get_mut(..length)?;
        let reply_header = Ipv4Repr {
            source_address: self.address,
            destination_address: repr.source_address,
            protocol: smoltcp::wire::IpProtocol::Icmp,
            payload_length: message.len(),
            time_to_live: OWN_TIME_TO_LIVE,
            traffic_class: repr.traffic_class,
            identification: repr.identification,
            dont_fragment: false,
            more_fragments: false,
            fragment_offset: 0,
        };
        let mut reply = Ipv4Packet::new_unchecked(&mut output[..]);
        reply_header.emit(&mut reply);
        let body = reply.payload_mut();
        body.copy_from_slice(message);
        let mut icmp = Icmpv4Packet::new_unchecked(body);
        icmp.set_message_type(Icmpv4Message::EchoReply);
        icmp.fill_checksum();
        Some(length)
    }

    /// The ICMPv4 error (type 3, `code`, `next_hop_mtu` for code 4) from the
    /// uplink address about the received IPv4 `invoking` packet, written
    /// into `output` (RFC 7915 §4.4: 3/13 for a refused packet; §4.1: 3/5
    /// for a source route, 3/4 when too big). `None` where RFC 1812
    /// §4.3.2.7 forbids an error: about an ICMPv4 error, a non-first
    /// fragment, a packet to broadcast or multicast, or from a source that
    /// is not a unicast host; also for a header that does not parse.
    /// The error quotes as much of the packet as keeps it within 576 bytes
    /// (RFC 1812 §4.3.2.3).
    pub fn icmp_error(
        &self,
        invoking: &[u8],
        code: u8,
        next_hop_mtu: u16,
        output: &mut [u8],
    ) -> Option<usize> {
        let header = Ipv4Packet::new_checked(invoking).ok()?;
        let repr = Ipv4Repr::parse(&header).ok()?;
        if header.fragment_offset() != 0
            || self.is_broadcast_or_multicast(repr.destination_address)
            || !is_unicast_source(repr.source_address)
            || self.is_broadcast_or_multicast(repr.source_address)
        {
            return None;
        }
        if repr.protocol == smoltcp::wire::IpProtocol::Icmp {
            let message_type = header.payload().first().copied()?;
            if Icmpv4Message::from(message_type).is_error() {
                return None;
            }
        }
        let invoking = &invoking[..usize::from(header.total_length())];
        let quoted = invoking
            .len()
            .min(MAXIMUM_ICMPV4_ERROR - super::ipv4::HEADER_LENGTH - super::icmpv4::HEADER_LENGTH);
        let message_length = super::icmpv4::HEADER_LENGTH + quoted;
        let length = super::ipv4::HEADER_LENGTH + message_length;
        let output = output.get_mut(..length)?;
        Ipv4Repr {
            source_address: self.address,
            destination_address: repr.source_address,
            protocol: smoltcp::wire::IpProtocol::Icmp,
            payload_length: message_length,
            time_to_live: OWN_TIME_TO_LIVE,
            traffic_class: 0,
            identification: 0,
            dont_fragment: false,
            more_fragments: false,
            fragment_offset: 0,
        }
        .emit(&mut Ipv4Packet::new_unchecked(&mut output[..]));
        let body = &mut output[super::ipv4::HEADER_LENGTH..];
        body[..super::icmpv4::HEADER_LENGTH].fill(0);
        body[super::icmpv4::HEADER_LENGTH..].copy_from_slice(&invoking[..quoted]);
        let mut icmp = Icmpv4Packet::new_unchecked(body);
        icmp.set_message_type(Icmpv4Message::DestinationUnreachable);
        icmp.set_code(code);
        icmp.set_next_hop_mtu(next_hop_mtu);
        icmp.fill_checksum();
        Some(length)
    }

    /// Whether the translator answers ARP for `address` and takes packets
    /// to it: the uplink address, EAM and RFC 6791 pool addresses.
    #[inline]
    pub fn owns(&self, address: Ipv4Addr) -> bool {
        address == self.address
            || self.addresses.owns(address)
            || self.is_nat64_destination(address)
    }

    /// The uplink's own IPv4 address.
    pub fn address(&self) -> Ipv4Addr {
        self.address
    }

    /// Whether `address` is on the uplink's link (inside its prefix).
    pub fn is_on_link(&self, address: Ipv4Addr) -> bool {
        let mask = u32::MAX
            .checked_shl(32 - u32::from(self.prefix_length))
            .unwrap_or(0);
        u32::from(address) & mask == u32::from(self.address) & mask
    }

    /// Whether a packet to `destination` is for the link or nobody, never
    /// to be translated: limited or directed broadcast, multicast,
    /// 0.0.0.0/8 (RFC 1812 §5.3.7, RFC 7915 §1.3 leaves these alone).
    #[inline]
    pub fn is_broadcast_or_multicast(&self, destination: Ipv4Addr) -> bool {
        let bits = destination.to_bits();
        bits == u32::MAX || bits == self.directed_broadcast || bits >> 28 == 0xe || bits >> 24 == 0
    }

    /// Reads an ARP packet received on the uplink port. `owns` says which
    /// IPv4 addresses the translator answers for (besides the uplink
    /// address itself); `own_mac` is the port's MAC address.
    pub fn receive_arp(
        &self,
        payload: &[u8],
        own_mac: EthernetAddress,
    ) -> Result<ArpInput, ArpDrop> {
        self.receive_arp_owned_by(payload, own_mac, |address| self.owns(address))
    }

    fn receive_arp_owned_by(
        &self,
        payload: &[u8],
        own_mac: EthernetAddress,
        owns: impl Fn(Ipv4Addr) -> bool,
    ) -> Result<ArpInput, ArpDrop> {
        let packet = ArpPacket::new_checked(payload).map_err(|_| ArpDrop::Malformed)?;
        let repr = ArpRepr::parse(&packet).map_err(|_| ArpDrop::Malformed)?;
        let sender_address = repr.sender_protocol_address;
        let ours = |address: Ipv4Addr| address == self.address || owns(address);
        if sender_address.is_unspecified()
            || self.is_broadcast_or_multicast(sender_address)
            || ours(sender_address)
            || repr.sender_hardware_address.is_multicast()
        {
            return Err(ArpDrop::UnusableSender);
        }
        let sender = neighbor_key(sender_address);
        let sender_mac = repr.sender_hardware_address;
        match repr.operation {
            ArpOperation::Request if ours(repr.target_protocol_address) => {
                let mut reply = [0u8; PACKET_LENGTH];
                repr.reply(own_mac)
                    .emit(&mut ArpPacket::new_unchecked(&mut reply[..]));
                Ok(ArpInput::RequestForUs {
                    sender,
                    sender_mac,
                    reply,
                })
            }
            ArpOperation::Request => Ok(ArpInput::Refresh { sender, sender_mac }),
            ArpOperation::Reply => Ok(ArpInput::Reply { sender, sender_mac }),
        }
    }

    /// The ARP request for the IPv4 neighbor `target` (a neighbor cache
    /// key), from the uplink address and `own_mac`; `None` if `target` is
    /// not an IPv4 neighbor key. Broadcast it, or unicast it to the cached
    /// MAC to poll an entry (RFC 1122 §2.3.2.1).
    pub fn arp_request(
        &self,
        target: Ipv6Addr,
        own_mac: EthernetAddress,
    ) -> Option<[u8; PACKET_LENGTH]> {
        let target_address = target.to_ipv4_mapped()?;
        let mut request = [0u8; PACKET_LENGTH];
        ArpRepr {
            operation: ArpOperation::Request,
            sender_hardware_address: own_mac,
            sender_protocol_address: self.address,
            target_hardware_address: EthernetAddress([0; 6]),
            target_protocol_address: target_address,
        }
        .emit(&mut ArpPacket::new_unchecked(&mut request[..]));
        Some(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{ArpEthIpv4Packet, ArpOperation as EtherparseOperation};

    const ROUTER_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x01]);
    const HOST_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x10];
    const EAM_ADDRESS: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 7);

    /// Maps only the EAM 198.51.100.7 <-> 2001:db8:1::7.
    #[derive(Clone, Copy, Debug)]
    struct EamOnly;

    const EAM_IPV6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 7);

    impl AddressTranslator for EamOnly {
        fn ipv6_to_ipv4(
            &self,
            address: Ipv6Addr,
            _: super::super::AddressRole,
        ) -> Result<Ipv4Addr, super::super::AddressError> {
            (address == EAM_IPV6)
                .then_some(EAM_ADDRESS)
                .ok_or(super::super::AddressError::NotMapped)
        }

        fn ipv4_to_ipv6(
            &self,
            address: Ipv4Addr,
            _: super::super::AddressRole,
        ) -> Result<Ipv6Addr, super::super::AddressError> {
            (address == EAM_ADDRESS)
                .then_some(EAM_IPV6)
                .ok_or(super::super::AddressError::NotMapped)
        }

        fn icmp_error_source(&self, _: Ipv6Addr) -> Option<Ipv4Addr> {
            None
        }

        fn owns(&self, address: Ipv4Addr) -> bool {
            address == EAM_ADDRESS
        }
    }

    fn uplink_with_prefix(prefix_length: u8) -> Uplink<EamOnly> {
        Uplink::new(
            Ipv4Addr::new(192, 0, 2, 1),
            prefix_length,
            None,
            EamOnly,
            TranslationSettings::default(),
        )
    }

    fn uplink() -> Uplink<EamOnly> {
        uplink_with_prefix(24)
    }

    fn arp(operation: EtherparseOperation, sender: [u8; 4], target: [u8; 4]) -> [u8; 28] {
        ArpEthIpv4Packet {
            operation,
            sender_mac: HOST_MAC,
            sender_ipv4: sender,
            target_mac: [0; 6],
            target_ipv4: target,
        }
        .to_bytes()
    }

    #[test]
    fn requests_for_the_uplink_and_for_mapped_addresses_are_answered() {
        for target in [[192, 0, 2, 1], EAM_ADDRESS.octets()] {
            let request = arp(EtherparseOperation::REQUEST, [192, 0, 2, 10], target);
            let Ok(ArpInput::RequestForUs {
                sender,
                sender_mac,
                reply,
            }) = uplink().receive_arp(&request, ROUTER_MAC)
            else {
                panic!("request for {target:?} not answered");
            };
            assert_eq!(sender, "::ffff:192.0.2.10".parse::<Ipv6Addr>().unwrap());
            assert_eq!(sender_mac, EthernetAddress(HOST_MAC));
            let parsed = etherparse::ArpPacket::from_slice(&reply)
                .unwrap()
                .try_eth_ipv4()
                .unwrap();
            assert_eq!(parsed.operation, EtherparseOperation::REPLY);
            assert_eq!(parsed.sender_mac, ROUTER_MAC.0);
            assert_eq!(parsed.sender_ipv4, target);
            assert_eq!(parsed.target_mac, HOST_MAC);
            assert_eq!(parsed.target_ipv4, [192, 0, 2, 10]);
        }
    }

    #[test]
    fn other_requests_only_refresh_and_replies_resolve() {
        let request = arp(
            EtherparseOperation::REQUEST,
            [192, 0, 2, 10],
            [192, 0, 2, 20],
        );
        assert!(matches!(
            uplink().receive_arp(&request, ROUTER_MAC),
            Ok(ArpInput::Refresh { .. })
        ));
        let reply = arp(EtherparseOperation::REPLY, [192, 0, 2, 254], [192, 0, 2, 1]);
        assert_eq!(
            uplink().receive_arp(&reply, ROUTER_MAC),
            Ok(ArpInput::Reply {
                sender: neighbor_key(Ipv4Addr::new(192, 0, 2, 254)),
                sender_mac: EthernetAddress(HOST_MAC),
            })
        );
    }

    #[test]
    fn probes_conflicts_and_broadcast_senders_are_dropped() {
        for sender in [
            [0, 0, 0, 0],
            [192, 0, 2, 1],
            [192, 0, 2, 255],
            [224, 0, 0, 1],
        ] {
            let request = arp(EtherparseOperation::REQUEST, sender, [192, 0, 2, 1]);
            assert_eq!(
                uplink().receive_arp(&request, ROUTER_MAC),
                Err(ArpDrop::UnusableSender),
                "sender {sender:?}"
            );
        }
        assert_eq!(
            uplink().receive_arp(&[0; 10], ROUTER_MAC),
            Err(ArpDrop::Malformed)
        );
    }

    #[test]
    fn requests_come_from_the_uplink_address() {
        let target = neighbor_key(Ipv4Addr::new(192, 0, 2, 254));
        let request = uplink().arp_request(target, ROUTER_MAC).unwrap();
        let parsed = etherparse::ArpPacket::from_slice(&request)
            .unwrap()
            .try_eth_ipv4()
            .unwrap();
        assert_eq!(parsed.operation, EtherparseOperation::REQUEST);
        assert_eq!(parsed.sender_ipv4, [192, 0, 2, 1]);
        assert_eq!(parsed.target_ipv4, [192, 0, 2, 254]);
        assert!(
            uplink()
                .arp_request("2001:db8::1".parse().unwrap(), ROUTER_MAC)
                .is_none()
        );
    }

    #[test]
    fn on_link_and_broadcast() {
        let uplink = uplink();
        assert!(uplink.is_on_link(Ipv4Addr::new(192, 0, 2, 200)));
        assert!(!uplink.is_on_link(Ipv4Addr::new(192, 0, 3, 1)));
        assert!(uplink.is_broadcast_or_multicast(Ipv4Addr::new(192, 0, 2, 255)));
        assert!(uplink.is_broadcast_or_multicast(Ipv4Addr::BROADCAST));
        assert!(uplink.is_broadcast_or_multicast(Ipv4Addr::new(239, 1, 1, 1)));
        assert!(!uplink.is_broadcast_or_multicast(Ipv4Addr::new(198, 51, 100, 2)));
        assert!(uplink_with_prefix(0).is_on_link(Ipv4Addr::new(8, 8, 8, 8)));
        assert!(is_ipv4_neighbor(neighbor_key(Ipv4Addr::new(192, 0, 2, 1))));
        assert!(!is_ipv4_neighbor("fe80::1".parse().unwrap()));
    }
}
