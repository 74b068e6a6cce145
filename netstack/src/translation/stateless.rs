//! The RFC 7915 stateless IP/ICMP translator (SIIT) core: one IP packet in, the translated packet out, both directions.
//!
//! [`translate_ipv4_to_ipv6`] implements RFC 7915 §4 (§4.1 header, §4.2
//! ICMPv4 → ICMPv6, §4.3 ICMP error payloads, §4.5 transport checksums),
//! [`translate_ipv6_to_ipv4`] implements §5 (§5.1 header, §5.1.1 fragment
//! header, §5.2 ICMPv6 → ICMPv4, §5.3 error payloads, §5.5 checksums). The
//! addresses come from an [`AddressTranslator`] (§6: RFC 7757 EAM, RFC 6052,
//! RFC 6791 for ICMPv6 errors from untranslatable sources). [`fragment_ipv6`]
//! and [`fragment_ipv4`] split a translated packet when [`Translated`] says
//! it must be (§4.1 "lowest-ipv6-mtu", §5.1.1 last paragraph).
//! [`PlainIpv6ToIpv4`] is §5 for the common case alone (unfragmented TCP or
//! UDP without extension headers that fits the next hop), decided before
//! anything is written so a router can translate straight into its
//! transmit frame; it writes what [`translate_ipv6_to_ipv4`] writes.
//! [`PlainIcmpv6ErrorToIpv4`] is the same for the common ICMPv6 error
//! (§5.2 Destination Unreachable, Packet Too Big, Time Exceeded, Parameter
//! Problem without an RFC 4884 extension, quoting a UDP, TCP or echo
//! packet without extension headers, §5.3), its source mapped or from
//! the RFC 6791 pool, in two steps: the outer header and the size are
//! decided first, the message is checked and written into the output in
//! the second (which may still decline).
//! [`PlainIpv4ToIpv6`] is the mirror of both for §4: unfragmented TCP or UDP with
//! no IPv4 options, a nonzero UDP checksum and no fragmentation needed
//! (§4.1, §4.5), and the common ICMPv4 error (§4.2 Destination Unreachable,
//! Fragmentation Needed or Time Exceeded without RFC 4884 extensions,
//! quoting an option-free, unfragmented TCP, UDP or echo header, §4.3),
//! in two steps: the outer header and destination first (what a router
//! routes and sizes on), the rest when it writes; it writes what
//! [`translate_ipv4_to_ipv6`] writes, and can take the forwarding
//! router's hop-limit decrement into the same write.
//!
//! Both translate functions take a complete IP packet (no link header) and
//! a caller-provided output buffer; they never allocate and never panic.
//! Each way a packet is refused is a [`TranslationError`] variant, meant to
//! be one drop counter of the router; [`TranslationError::icmp_answer`]
//! names the ICMP error the router should send back where RFC 7915 asks for
//! one (rate-limited, and never about an ICMP error: RFC 1812 §4.3.2.7,
//! RFC 4443 §2.4(e)).
//!
//! Decisions where the RFC leaves room:
//! - **TTL / Hop Limit** is copied; the router decrements it as part of
//!   forwarding (§4.1, §5.1 allow before or after translation).
//! - **Checksums.** TCP and UDP checksums are updated incrementally for the
//!   pseudo-header change (RFC 1624 equation 3), never verified: a segment
//!   that arrives with a wrong checksum leaves with a wrong checksum, so the
//!   end host still detects the corruption. ICMP must be recomputed (ICMPv6
//!   has a pseudo-header, ICMPv4 none, §4.2, §5.2), so the ICMP checksum is
//!   verified first and a message with a wrong checksum is dropped
//!   ([`TranslationError::BadIcmpChecksum`]): recomputing would turn a
//!   corrupted message into a valid one. Non-first fragments carry no
//!   transport header and are copied as they are.
//! - **UDP with a zero checksum** from IPv4 follows [`UdpZeroChecksum`](super::UdpZeroChecksum)
//!   (§4.5); first fragments with a zero checksum are always dropped
//!   ([`TranslationError::FragmentedUdpZeroChecksum`]). From IPv6, a zero
//!   UDP checksum is invalid (RFC 8200 §8.1) and is dropped
//!   ([`TranslationError::Ipv6UdpZeroChecksum`]) rather than forwarded as
//!   an IPv4 "no checksum".
//! - **Inner packets of ICMP errors** (§4.3, §5.3) are translated with the
//!   same address translator, their TTL / Hop Limit untouched; their
//!   transport checksum is adjusted incrementally for the address change
//!   (and, for an inner echo, for the type and pseudo-header change) when
//!   the checksum field is inside the quoted bytes, so the quoted packet
//!   matches what its sender sent; it is never verified. The result is cut
//!   so the outer packet is at most 1280 bytes (ICMPv6, RFC 4443 §2.4(c))
//!   or 576 bytes (ICMPv4, RFC 1812 §4.3.2.3).
//! - **RFC 4884 extensions** are carried with the length attribute
//!   rewritten (4-byte units in ICMPv4, 8-byte units in ICMPv6, the
//!   original datagram field zero-padded to at least 128 bytes). They are
//!   dropped when the translated type cannot carry them (Packet Too Big,
//!   Parameter Problem, RFC 4884 §4.6) and, as the whole structure, when
//!   they would not fit the size limit (§4.2 says "truncated"; a cut
//!   extension structure fails its own checksum, so it is left out).
//! - **Packet Too Big floor** is 1280 (§4.2, §5, RFC 8021 §4), not
//!   `lowest_ipv6_mtu`: reporting a larger value than an IPv4 link can carry
//!   would black-hole the flow, while 1280 makes the IPv6 sender use packets
//!   that become DF-clear IPv4 packets (§5.1, ≤ 1260 bytes).

use core::net::{Ipv4Addr, Ipv6Addr};

use super::checksum::{fold, sum_ipv6};
use super::{AddressError, AddressTranslator, TranslationSettings};
use crate::translation::ipv4::Ipv4Error;

mod fragment;
mod icmp;
mod ipv4_to_ipv6;
mod ipv6_to_ipv4;
#[cfg(test)]
mod tests;

pub use fragment::{fragment_ipv4, fragment_ipv6};
pub use ipv4_to_ipv6::PlainIpv4ToIpv6;
pub use ipv6_to_ipv4::{PlainIcmpv6ErrorToIpv4, PlainIpv6ToIpv4};

/// The smallest IPv6 link MTU (RFC 8200 §5), the floor of every Packet Too
/// Big the translator produces (RFC 7915 §4.2, §5; RFC 8021 §4).
pub const MINIMUM_IPV6_MTU: u16 = 1280;

/// Translated IPv4 packets up to this size leave with DF clear, larger
/// ones with DF set (RFC 7915 §5 and §5.1 "Flags"; 1280 − 20).
pub const DONT_FRAGMENT_THRESHOLD: usize = 1260;

/// The largest ICMPv6 error the translator emits, whole packet (RFC 4443
/// §2.4(c)).
pub const MAXIMUM_ICMPV6_ERROR: usize = 1280;

/// The largest ICMPv4 error the translator emits, whole packet (RFC 1812
/// §4.3.2.3).
pub const MAXIMUM_ICMPV4_ERROR: usize = 576;

/// What the caller knows about the path of an IPv4 → IPv6 packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4ToIpv6Path {
    /// The MTU of the IPv6 next hop of the translated packet: a DF packet
    /// that does not fit is refused with
    /// [`TranslationError::FragmentationNeeded`] (§4.1); it is also
    /// "MTU_of_IPv6_nexthop" of the Packet Too Big arithmetic (§4.2).
    pub ipv6_next_hop_mtu: u16,
    /// The MTU of the IPv4 link the packet arrived on, toward the original
    /// destination of the packet an ICMPv4 "fragmentation needed" is about:
    /// "MTU_of_IPv4_nexthop" of §4.2. `u16::MAX` when unknown.
    pub ipv4_link_mtu: u16,
}

impl Default for Ipv4ToIpv6Path {
    fn default() -> Ipv4ToIpv6Path {
        Ipv4ToIpv6Path {
            ipv6_next_hop_mtu: 1500,
            ipv4_link_mtu: 1500,
        }
    }
}

/// What the caller knows about the path of an IPv6 → IPv4 packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv6ToIpv4Path {
    /// The MTU of the IPv4 next hop: a larger DF packet is refused with
    /// [`TranslationError::PacketTooBig`], a larger DF-clear one is
    /// returned for [`fragment_ipv4`] (§5.1, §5.1.1). It is also
    /// "MTU_of_IPv4_nexthop" of the Packet Too Big arithmetic (§5.2).
    pub ipv4_next_hop_mtu: u16,
    /// The MTU of the IPv6 link the packet arrived on:
    /// "MTU_of_IPv6_nexthop" of §5.2. `u16::MAX` when unknown.
    pub ipv6_link_mtu: u16,
    /// The Identification of the IPv4 header when the IPv6 packet has no
    /// Fragment Header: "set according to a Fragment Identification
    /// generator at the translator" (§5.1). The caller draws a fresh value
    /// per packet, unique per (source, destination, protocol) for the
    /// datagram lifetime (RFC 6864 §4.3).
    pub identification: u16,
    /// Whether the translator forwards the packet and so owes the
    /// decrement of §5.1 "Time to Live": the IPv4 header is written with
    /// the hop limit minus one (never below zero) instead of a copy, which
    /// spares the caller a second checksum update.
    pub decrement_time_to_live: bool,
}

impl Default for Ipv6ToIpv4Path {
    fn default() -> Ipv6ToIpv4Path {
        Ipv6ToIpv4Path {
            ipv4_next_hop_mtu: 1500,
            ipv6_link_mtu: 1500,
            identification: 0,
            decrement_time_to_live: false,
        }
    }
}

/// How a translated packet must be split before it is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fragmentation {
    /// The largest fragment, whole packet.
    pub maximum_size: u16,
    /// For [`fragment_ipv6`] when the packet has no Fragment Header yet:
    /// the IPv4 Identification in the low 16 bits, zero above (§4.1).
    pub identification: u32,
}

/// A translated packet in the output buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Translated {
    /// The length of the packet at the start of the output buffer.
    pub length: usize,
    /// `Some` when the packet is larger than its path allows and may be
    /// fragmented: pass it to [`fragment_ipv6`] (4 → 6, §4.1) or
    /// [`fragment_ipv4`] (6 → 4, §5.1.1).
    pub fragmentation: Option<Fragmentation>,
}

/// An ICMP error the router should send to the source of a refused packet,
/// as RFC 7915 asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IcmpAnswer {
    /// ICMPv4 Destination Unreachable, code 4, with the next-hop MTU
    /// (§4.1, RFC 1191 §4).
    FragmentationNeeded {
        /// The next-hop MTU to report.
        mtu: u16,
    },
    /// ICMPv4 Destination Unreachable code 5, Source Route Failed (§4.1).
    SourceRouteFailed,
    /// ICMPv6 Packet Too Big (§5.1, RFC 4443 §3.2).
    PacketTooBig {
        /// The MTU to report, at least 1280.
        mtu: u32,
    },
    /// ICMPv6 Parameter Problem (§5.1 routing header).
    ParameterProblem {
        /// The code (0: erroneous header field).
        code: u8,
        /// The offset in the invoking packet.
        pointer: u32,
    },
}

/// Why a packet was not translated: one drop counter each.
///
/// Unless the variant says otherwise the packet is dropped silently. For
/// drops because an address has no mapping, RFC 7915 §4.4 / §5.4 suggest
/// (SHOULD, configurable) ICMPv4 3/13 or ICMPv6 1/1 to the sender, never
/// about an ICMPv4 error or any ICMPv6 message; that is the router's
/// policy, see [`TranslationError::is_address_failure`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TranslationError {
    /// The IPv4 header failed validation (RFC 1812 §5.2.2): counter
    /// "bad IPv4 header".
    BadIpv4Header(Ipv4Error),
    /// The IPv4 options are malformed (an option runs past the header):
    /// they cannot be checked for a source route.
    BadIpv4Options,
    /// An unexpired loose or strict source route option (§4.1): answer
    /// ICMPv4 3/5 ([`IcmpAnswer::SourceRouteFailed`]).
    SourceRoute,
    /// The IPv6 header is shorter than 40 bytes, not version 6, or a
    /// jumbogram (payload length 0).
    BadIpv6Header,
    /// The packet is shorter than its IPv4 Total Length or IPv6 Payload
    /// Length says.
    Truncated,
    /// An IPv6 extension header runs past the packet.
    TruncatedExtensionHeader,
    /// A Routing header with Segments Left ≠ 0 (§5.1): answer ICMPv6 4/0
    /// pointing at Segments Left ([`IcmpAnswer::ParameterProblem`]).
    RoutingHeader {
        /// Offset of the Segments Left byte in the packet.
        pointer: u32,
    },
    /// The Fragment Header is followed by another extension header
    /// (§5.1.1 "SHOULD be dropped and logged").
    ExtensionHeaderAfterFragment,
    /// The source is not a legal source (0.0.0.0/8, 127/8, multicast,
    /// 240/4; ::, ::1, multicast): §4.1, §5.1, RFC 1812 §5.3.7.
    IllegalSource,
    /// The source address has no mapping (§6).
    UntranslatableSource(AddressError),
    /// The destination address has no mapping (§6).
    UntranslatableDestination(AddressError),
    /// An address of the packet inside an ICMP error has no mapping.
    UntranslatableInnerAddress(AddressError),
    /// A fragmented ICMP message (§1.2: not translated).
    FragmentedIcmp,
    /// A protocol whose number means something else in the other family
    /// (ICMP of the wrong version, or an IPv6 extension header number such
    /// as 0, 43, 44, 51 or 60): copying it as §4.1 / §5.1 say would make
    /// receivers misparse the packet, so it is refused (a pure6 decision).
    UntranslatableProtocol {
        /// The protocol number.
        protocol: u8,
    },
    /// An ICMP type or code RFC 7915 §4.2 / §5.2 says to drop silently
    /// (obsolete, single-hop, unknown).
    UnsupportedIcmpType {
        /// The type.
        message_type: u8,
        /// The code.
        code: u8,
    },
    /// A Parameter Problem pointer that Figure 3 / Figure 6 does not list
    /// or lists as "n/a" (§4.2, §5.2).
    UntranslatablePointer,
    /// The ICMP message is shorter than its header.
    TruncatedIcmp,
    /// The ICMP checksum is wrong (see the module docs).
    BadIcmpChecksum,
    /// An ICMP error quotes an ICMP error (§4.3, §5.3: one level only).
    NestedIcmpError,
    /// The packet quoted in an ICMP error is not a usable IP header of the
    /// other family, or its extension header chain is cut off.
    InnerPacketUnusable,
    /// The TCP or UDP header is cut off in an unfragmented packet or a
    /// first fragment: its checksum cannot be updated.
    TruncatedTransportHeader,
    /// An unfragmented IPv4 UDP datagram with checksum 0 and the policy
    /// [`UdpZeroChecksum::Drop`](super::UdpZeroChecksum::Drop) (§4.5 option 1).
    UdpZeroChecksum,
    /// A first fragment of an IPv4 UDP datagram with checksum 0 (§4.5:
    /// a stateless translator cannot compute it).
    FragmentedUdpZeroChecksum,
    /// An IPv6 UDP datagram with checksum 0 (RFC 8200 §8.1).
    Ipv6UdpZeroChecksum,
    /// The translated IPv4 packet would exceed 65535 bytes.
    TooLargeForIpv4,
    /// A DF IPv4 packet that does not fit the IPv6 next hop (§4.1): answer
    /// ICMPv4 3/4 ([`IcmpAnswer::FragmentationNeeded`]).
    FragmentationNeeded {
        /// The IPv4 MTU to report: the IPv6 next-hop MTU less the header
        /// growth.
        mtu: u16,
    },
    /// An IPv4 packet with DF that does not fit the IPv4 next hop (§5.1):
    /// answer ICMPv6 Packet Too Big ([`IcmpAnswer::PacketTooBig`]).
    PacketTooBig {
        /// The MTU to report: IPv4 next-hop MTU + 20, at least 1280.
        mtu: u32,
    },
    /// The output or scratch buffer is too small for the result (a caller
    /// bug or a configuration limit, not the packet's fault).
    OutputTooSmall,
    /// Fragmenting: the maximum size leaves no room for 8 data bytes.
    FragmentSizeTooSmall,
    /// Fragmenting: the packet is not a fragmentable translator output (DF
    /// set, extension headers, bad lengths).
    NotFragmentable,
    /// Fragmenting: the pieces would overlap (a non-last fragment whose
    /// length is not a multiple of 8) or end beyond 65535 bytes.
    FragmentOutOfRange,
}

impl TranslationError {
    /// The ICMP error RFC 7915 asks the router to send for this refusal,
    /// if any (the router still applies its rate limit and the "never
    /// about an ICMP error" rules).
    pub fn icmp_answer(&self) -> Option<IcmpAnswer> {
        match *self {
            TranslationError::SourceRoute => Some(IcmpAnswer::SourceRouteFailed),
            TranslationError::RoutingHeader { pointer } => {
                Some(IcmpAnswer::ParameterProblem { code: 0, pointer })
            }
            TranslationError::FragmentationNeeded { mtu } => {
                Some(IcmpAnswer::FragmentationNeeded { mtu })
            }
            TranslationError::PacketTooBig { mtu } => Some(IcmpAnswer::PacketTooBig { mtu }),
            _ => None,
        }
    }

    /// Whether the outer source or destination had no mapping: the drops
    /// for which §4.4 / §5.4 suggest the default error (ICMPv4 3/13,
    /// ICMPv6 1/1) if the operator enables it.
    pub fn is_address_failure(&self) -> bool {
        matches!(
            self,
            TranslationError::UntranslatableSource(_)
                | TranslationError::UntranslatableDestination(_)
        )
    }
}

/// The IPv4 → IPv6 translation of one packet (RFC 7915 §4) into `output`.
///
/// `packet` is a whole IPv4 packet (bytes after Total Length, link
/// padding, are ignored). On success the IPv6 packet is at the start of
/// `output`; see [`Translated::fragmentation`].
pub fn translate_ipv4_to_ipv6(
    packet: &[u8],
    output: &mut [u8],
    addresses: &impl AddressTranslator,
    settings: &TranslationSettings,
    path: &Ipv4ToIpv6Path,
) -> Result<Translated, TranslationError> {
    ipv4_to_ipv6::translate(packet, output, addresses, settings, path)
}

/// The IPv6 → IPv4 translation of one packet (RFC 7915 §5) into `output`.
///
/// `packet` is a whole IPv6 packet (bytes after Payload Length are
/// ignored). On success the IPv4 packet is at the start of `output`; see
/// [`Translated::fragmentation`].
pub fn translate_ipv6_to_ipv4(
    packet: &[u8],
    output: &mut [u8],
    addresses: &impl AddressTranslator,
    settings: &TranslationSettings,
    path: &Ipv6ToIpv4Path,
) -> Result<Translated, TranslationError> {
    ipv6_to_ipv4::translate(packet, output, addresses, settings, path)
}

/// Protocol numbers the translator looks at (IANA "Assigned Internet
/// Protocol Numbers").
pub(crate) mod protocol {
    pub const HOP_BY_HOP: u8 = 0;
    pub const ICMP: u8 = 1;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    pub const ROUTING: u8 = 43;
    pub const FRAGMENT: u8 = 44;
    pub const AUTHENTICATION: u8 = 51;
    pub const ICMPV6: u8 = 58;
    pub const DESTINATION_OPTIONS: u8 = 60;
    pub const MOBILITY: u8 = 135;
    pub const HOST_IDENTITY: u8 = 139;
    pub const SHIM6: u8 = 140;
    pub const EXPERIMENT_1: u8 = 253;
    pub const EXPERIMENT_2: u8 = 254;

    /// Whether `value` is an IPv6 extension header other than ESP (RFC
    /// 7915 §5.1.1: "an extension header (except ESP, but including AH)";
    /// the IANA IPv6 Extension Header Types registry, RFC 7045 §2).
    pub fn is_extension_header(value: u8) -> bool {
        matches!(
            value,
            HOP_BY_HOP
                | ROUTING
                | FRAGMENT
                | AUTHENTICATION
                | DESTINATION_OPTIONS
                | MOBILITY
                | HOST_IDENTITY
                | SHIM6
                | EXPERIMENT_1
                | EXPERIMENT_2
        )
    }
}

/// The IPv6 header length.
const IPV6_HEADER_LENGTH: usize = 40;
/// The IPv6 Fragment Header length.
const FRAGMENT_HEADER_LENGTH: usize = 8;
/// The IPv4 header length the translator emits (no options).
const IPV4_HEADER_LENGTH: usize = 20;

/// A big-endian u16 at `offset`, if the bytes are there.
fn read_u16(bytes: &[u8], offset: usize) -> Option<u16> {
    let pair = bytes.get(offset..offset.checked_add(2)?)?;
    Some(u16::from_be_bytes([pair[0], pair[1]]))
}

/// A big-endian u32 at `offset`, if the bytes are there.
fn read_u32(bytes: &[u8], offset: usize) -> Option<u32> {
    let quad = bytes.get(offset..offset.checked_add(4)?)?;
    Some(u32::from_be_bytes([quad[0], quad[1], quad[2], quad[3]]))
}

/// Writes a big-endian u16 at `offset` when the bytes are there.
fn write_u16(bytes: &mut [u8], offset: usize, value: u16) {
    if let Some(pair) = bytes.get_mut(offset..offset.saturating_add(2)) {
        pair.copy_from_slice(&value.to_be_bytes());
    }
}

/// `checksum` after runs of words whose sums were `old` were replaced by
/// runs whose sums are `new` (RFC 1624 equation 3 generalised to runs of
/// different lengths: `HC' = ~(~HC + Σ~m + Σm')`); each run has an even
/// length, as every address does.
fn adjust_checksum(checksum: u16, old: &[u16], new: &[u16]) -> u16 {
    // One fold at the end gives what folding after every addition gives:
    // both are 0 only when every term is.
    let mut total = u64::from(!checksum);
    for run in old {
        total += u64::from(!run);
    }
    for run in new {
        total += u64::from(*run);
    }
    !fold(total)
}

/// The one's complement sum of an IPv6 pseudo-header (RFC 8200 §8.1).
fn ipv6_pseudo_header_sum(
    source: Ipv6Addr,
    destination: Ipv6Addr,
    next_header: u8,
    length: usize,
) -> u16 {
    pseudo_header_sum(
        [sum_ipv6(source), sum_ipv6(destination)],
        next_header,
        length,
    )
}

/// [`ipv6_pseudo_header_sum`] for addresses whose sums are already known.
#[inline(always)]
fn pseudo_header_sum(address_sums: [u16; 2], next_header: u8, length: usize) -> u16 {
    let length = u32::try_from(length).unwrap_or(u32::MAX);
    fold(
        u64::from(address_sums[0])
            + u64::from(address_sums[1])
            + u64::from(length >> 16)
            + u64::from(length & 0xffff)
            + u64::from(next_header),
    )
}

/// Where a transport header keeps its checksum, for the protocols whose
/// checksum covers a pseudo-header with the addresses (§4.5, §5.5).
fn transport_checksum_offset(protocol: u8) -> Option<usize> {
    match protocol {
        protocol::TCP => Some(16),
        protocol::UDP => Some(6),
        _ => None,
    }
}

/// Rewrites the TCP or UDP checksum in `segment` (the transport header and
/// what follows) for the address change, if the checksum field is there:
/// `old_addresses` and `new_addresses` are the sums ([`sum`]) of the
/// source and destination addresses before and after.
/// A UDP checksum of 0 ("none") stays 0; an update that yields 0 is sent as
/// 0xffff for UDP (RFC 768, RFC 8200 §8.1). Returns the checksum before
/// and after (for a caller that sums the segment into another checksum),
/// `None` when there was no field to update.
#[inline(always)]
fn adjust_transport_checksum(
    segment: &mut [u8],
    protocol: u8,
    old_addresses: [u16; 2],
    new_addresses: [u16; 2],
) -> Option<(u16, u16)> {
    let offset = transport_checksum_offset(protocol)?;
    let checksum = read_u16(segment, offset)?;
    let updated = updated_transport_checksum(protocol, checksum, old_addresses, new_addresses);
    write_u16(segment, offset, updated);
    Some((checksum, updated))
}

/// The value [`adjust_transport_checksum`] writes over the TCP or UDP
/// `checksum`: a UDP 0 stays 0, an update that yields 0 is 0xffff for UDP.
#[inline(always)]
fn updated_transport_checksum(
    protocol: u8,
    checksum: u16,
    old_addresses: [u16; 2],
    new_addresses: [u16; 2],
) -> u16 {
    if protocol == protocol::UDP && checksum == 0 {
        return 0;
    }
    let updated = adjust_checksum(checksum, &old_addresses, &new_addresses);
    if protocol == protocol::UDP && updated == 0 {
        0xffff
    } else {
        updated
    }
}

/// Whether an IPv4 source is illegal for forwarding (RFC 1812 §5.3.7,
/// RFC 7915 §4.1): 0.0.0.0/8, 127.0.0.0/8, multicast, 240.0.0.0/4 (with
/// the limited broadcast address).
fn is_illegal_ipv4_source(address: Ipv4Addr) -> bool {
    let first = address.octets()[0];
    first == 0 || first == 127 || first >= 224
}

/// Whether an IPv6 source is illegal (RFC 7915 §5.1 "e.g., ::1"; RFC 4291
/// §2.5.2, §2.5.3, §2.7): unspecified, loopback, multicast.
fn is_illegal_ipv6_source(address: Ipv6Addr) -> bool {
    address.is_unspecified() || address.is_loopback() || address.is_multicast()
}
