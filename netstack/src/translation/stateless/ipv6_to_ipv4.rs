//! IPv6 → IPv4 (RFC 7915 §5): extension headers skipped (§5.1), the Fragment Header mapped to IPv4 fragment fields (§5.1.1), DF and Identification set per §5.1 (RFC 8021: no atomic fragments), then the payload (§5.2 ICMP, §5.5 transport checksums).

use smoltcp::wire::IpProtocol;

use super::{
    DONT_FRAGMENT_THRESHOLD, FRAGMENT_HEADER_LENGTH, Fragmentation, IPV4_HEADER_LENGTH,
    IPV6_HEADER_LENGTH, Ipv6ToIpv4Path, MINIMUM_IPV6_MTU, Translated, TranslationError,
    adjust_transport_checksum, icmp, is_illegal_ipv6_source, protocol, read_u16,
};
use crate::translation::checksum::{sum_ipv4, sum_ipv6};
use crate::translation::ipv4::{Ipv4Packet, Ipv4Repr};
use crate::translation::{AddressRole, AddressTranslator, TrafficClassPolicy, TranslationSettings};

/// The fields of an IPv6 Fragment Header (RFC 8200 §4.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct FragmentFields {
    /// The 32-bit Identification.
    pub identification: u32,
    /// The offset in bytes.
    pub offset: u16,
    /// M.
    pub more_fragments: bool,
}

impl FragmentFields {
    /// Whether this is a real fragment, not an atomic one (offset 0, M 0).
    pub fn is_fragmented(&self) -> bool {
        self.offset != 0 || self.more_fragments
    }
}

/// The result of walking an extension header chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct HeaderChain {
    /// The first Next Header that is not skipped (§5.1 "Protocol").
    pub protocol: u8,
    /// Where the upper-layer data starts, from the start of the IPv6
    /// payload (all skipped headers and the Fragment Header before it).
    pub upper_offset: usize,
    /// The Fragment Header, if any.
    pub fragment: Option<FragmentFields>,
}

/// Walks the extension headers of an IPv6 payload (§5.1, §5.1.1).
///
/// Hop-by-Hop, Destination Options and Routing headers with Segments Left
/// 0 are skipped; a Routing header with Segments Left ≠ 0 is refused unless
/// `quoted` (the packet inside an ICMP error, which the translator does not
/// forward). The walk ends after a Fragment Header, whose Next Header must
/// not be another extension header (ESP excepted).
pub(super) fn walk_header_chain(
    first_next_header: u8,
    payload: &[u8],
    quoted: bool,
) -> Result<HeaderChain, TranslationError> {
    let mut next_header = first_next_header;
    let mut offset = 0usize;
    loop {
        match next_header {
            protocol::HOP_BY_HOP | protocol::DESTINATION_OPTIONS | protocol::ROUTING => {
                let length_units = *payload
                    .get(offset + 1)
                    .ok_or(TranslationError::TruncatedExtensionHeader)?;
                let length = (usize::from(length_units) + 1) * 8;
                if offset + length > payload.len() {
                    return Err(TranslationError::TruncatedExtensionHeader);
                }
                if next_header == protocol::ROUTING && !quoted && payload[offset + 3] != 0 {
                    let pointer = IPV6_HEADER_LENGTH + offset + 3;
                    return Err(TranslationError::RoutingHeader {
                        pointer: u32::try_from(pointer).unwrap_or(u32::MAX),
                    });
                }
                next_header = payload[offset];
                offset += length;
            }
            protocol::FRAGMENT => {
                let header = payload
                    .get(offset..offset + FRAGMENT_HEADER_LENGTH)
                    .ok_or(TranslationError::TruncatedExtensionHeader)?;
                let following = header[0];
                if protocol::is_extension_header(following) {
                    return Err(TranslationError::ExtensionHeaderAfterFragment);
                }
                let word = u16::from_be_bytes([header[2], header[3]]);
                return Ok(HeaderChain {
                    protocol: following,
                    upper_offset: offset + FRAGMENT_HEADER_LENGTH,
                    fragment: Some(FragmentFields {
                        identification: u32::from_be_bytes([
                            header[4], header[5], header[6], header[7],
                        ]),
                        offset: word & !7,
                        more_fragments: word & 1 != 0,
                    }),
                });
            }
            other => {
                return Ok(HeaderChain {
                    protocol: other,
                    upper_offset: offset,
                    fragment: None,
                });
            }
        }
    }
}

pub(super) fn translate(
    packet: &[u8],
    output: &mut [u8],
    addresses: &impl AddressTranslator,
    settings: &TranslationSettings,
    path: &Ipv6ToIpv4Path,
) -> Result<Translated, TranslationError> {
    let fixed: &[u8; IPV6_HEADER_LENGTH] = packet
        .get(..IPV6_HEADER_LENGTH)
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or(TranslationError::BadIpv6Header)?;
    if fixed[0] >> 4 != 6 {
        return Err(TranslationError::BadIpv6Header);
    }
    let payload_length = usize::from(read_u16(fixed, 4).unwrap_or(0));
    let first_next_header = fixed[6];
    if payload_length == 0 && first_next_header == protocol::HOP_BY_HOP {
        // A jumbogram (RFC 2675): IPv4 cannot carry it.
        return Err(TranslationError::BadIpv6Header);
    }
    let payload = packet
        .get(IPV6_HEADER_LENGTH..IPV6_HEADER_LENGTH + payload_length)
        .ok_or(TranslationError::Truncated)?;
    let source6 = ipv6_address(&fixed[8..24]);
    let destination6 = ipv6_address(&fixed[24..40]);

    let chain = walk_header_chain(first_next_header, payload, false)?;
    let upper = &payload[chain.upper_offset..];
    let is_fragmented = chain
        .fragment
        .is_some_and(|fragment| fragment.is_fragmented());
    let is_first = chain.fragment.is_none_or(|fragment| fragment.offset == 0);
    let is_icmp_error = chain.protocol == protocol::ICMPV6
        && !is_fragmented
        && upper
            .first()
            .is_some_and(|&message_type| message_type < 128);

    if is_illegal_ipv6_source(source6) {
        return Err(TranslationError::IllegalSource);
    }
    let (source, source_mapped) = match addresses.ipv6_to_ipv4(source6, AddressRole::Source) {
        Ok(address) => (address, true),
        // §5.1 / RFC 6791: an ICMPv6 error from an IPv6 router without an
        // IPv4 form gets a source from the RFC 6791 pool.
        Err(error) if is_icmp_error => (
            addresses
                .icmp_error_source(source6)
                .ok_or(TranslationError::UntranslatableSource(error))?,
            false,
        ),
        Err(error) => return Err(TranslationError::UntranslatableSource(error)),
    };
    let destination = addresses
        .ipv6_to_ipv4(destination6, AddressRole::Destination)
        .map_err(TranslationError::UntranslatableDestination)?;
    if chain.protocol == protocol::ICMPV6 && is_fragmented {
        return Err(TranslationError::FragmentedIcmp);
    }
    // Copying these (§5.1 "Protocol") would make a packet IPv4 receivers
    // misread: ICMPv4 inside IPv6 (its checksum rules differ), and
    // IPv6-only headers such as AH over the IPv6 header.
    if chain.protocol == protocol::ICMP || protocol::is_extension_header(chain.protocol) {
        return Err(TranslationError::UntranslatableProtocol {
            protocol: chain.protocol,
        });
    }

    let body = output
        .get_mut(IPV4_HEADER_LENGTH..)
        .ok_or(TranslationError::OutputTooSmall)?;
    let (protocol_number, body_length) = if chain.protocol == protocol::ICMPV6 {
        let length = icmp::icmpv6_to_icmpv4(
            upper,
            body,
            icmp::OuterAddresses::new(
                addresses,
                (source6, source_mapped.then_some(source)),
                (destination6, Some(destination)),
            ),
            addresses,
            settings,
            path,
        )?;
        (protocol::ICMP, length)
    } else {
        let body = body
            .get_mut(..upper.len())
            .ok_or(TranslationError::OutputTooSmall)?;
        body.copy_from_slice(upper);
        if is_first {
            translate_transport(
                body,
                chain.protocol,
                [sum_ipv6(source6), sum_ipv6(destination6)],
                [sum_ipv4(source), sum_ipv4(destination)],
            )?;
        }
        (chain.protocol, upper.len())
    };
    let total_length = IPV4_HEADER_LENGTH + body_length;
    if total_length > usize::from(u16::MAX) {
        return Err(TranslationError::TooLargeForIpv4);
    }

    // §5.1 "Identification" and "Flags" (RFC 8021: DF from the 1260-byte
    // threshold, no atomic fragments); §5.1.1 for fragments.
    let mut header = ipv4_header(
        fixed,
        source,
        destination,
        protocol_number,
        body_length,
        settings,
        path,
    );
    if let Some(fragment) = chain.fragment {
        header.identification = fragment.identification as u16;
        header.dont_fragment = false;
        header.more_fragments = fragment.more_fragments;
        header.fragment_offset = fragment.offset;
    }
    let next_hop_mtu = path.ipv4_next_hop_mtu;
    let mut fragmentation = None;
    if total_length > usize::from(next_hop_mtu) {
        if header.dont_fragment {
            let mtu = (u32::from(next_hop_mtu) + 20).max(u32::from(MINIMUM_IPV6_MTU));
            return Err(TranslationError::PacketTooBig { mtu });
        }
        // §5.1.1 last paragraph: a packet that fits IPv6's 1280 but not the
        // IPv4 next hop MUST be fragmented in IPv4.
        fragmentation = Some(Fragmentation {
            maximum_size: next_hop_mtu,
            identification: u32::from(header.identification),
        });
    }

    let header_bytes = output
        .get_mut(..IPV4_HEADER_LENGTH)
        .ok_or(TranslationError::OutputTooSmall)?;
    header.emit(&mut Ipv4Packet::new_unchecked(header_bytes));
    Ok(Translated {
        length: total_length,
        fragmentation,
    })
}

/// The common case of §5 decided before anything is written: an
/// unfragmented TCP or UDP packet with no extension header (§5.1 with the
/// fixed header only, §5.5), both addresses mapped, that fits the IPv4 next
/// hop. [`PlainIpv6ToIpv4::write`] then gives the bytes [`translate`] would
/// give, without walking a header chain or looking at ICMP; the caller can
/// size and resolve the output first (RFC 7915 leaves the order free).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlainIpv6ToIpv4 {
    /// The IPv4 header [`translate`] writes, but for its Identification,
    /// drawn later.
    header: Ipv4Repr,
    /// The sums of the IPv6 source and destination, then of the IPv4 ones,
    /// for the transport checksum (§5.5).
    address_sums: ([u16; 2], [u16; 2]),
}

impl PlainIpv6ToIpv4 {
    /// The translation of `packet`, or `None` when it is anything but the
    /// plain case: then [`translate`] gives the answer (a refusal, a
    /// fragmentation, ICMP, extension headers). `None` is no refusal.
    #[inline]
    pub fn new(
        packet: &[u8],
        addresses: &impl AddressTranslator,
        settings: &TranslationSettings,
        path: &Ipv6ToIpv4Path,
    ) -> Option<PlainIpv6ToIpv4> {
        let fixed: &[u8; IPV6_HEADER_LENGTH] = packet.get(..IPV6_HEADER_LENGTH)?.try_into().ok()?;
        let protocol_number = fixed[6];
        let smallest = match protocol_number {
            protocol::TCP => 20,
            protocol::UDP => 8,
            _ => return None,
        };
        let segment_length = usize::from(u16::from_be_bytes([fixed[4], fixed[5]]));
        let upper = packet.get(IPV6_HEADER_LENGTH..IPV6_HEADER_LENGTH + segment_length)?;
        // Cut off, or a zero UDP checksum (RFC 8200 §8.1): refused by
        // `translate`. Larger than the next hop: fragmented or refused there.
        if fixed[0] >> 4 != 6
            || upper.len() < smallest
            || (protocol_number == protocol::UDP && upper[6..8] == [0, 0])
            || IPV4_HEADER_LENGTH + upper.len() > usize::from(path.ipv4_next_hop_mtu)
        {
            return None;
        }
        let source6 = ipv6_address(&fixed[8..24]);
        if is_illegal_ipv6_source(source6) {
            return None;
        }
        let destination6 = ipv6_address(&fixed[24..40]);
        let source = addresses.ipv6_to_ipv4(source6, AddressRole::Source).ok()?;
        let destination = addresses
            .ipv6_to_ipv4(destination6, AddressRole::Destination)
            .ok()?;
        Some(PlainIpv6ToIpv4 {
            header: ipv4_header(
                fixed,
                source,
                destination,
                protocol_number,
                upper.len(),
                settings,
                path,
            ),
            address_sums: (
                [sum_ipv6(source6), sum_ipv6(destination6)],
                [sum_ipv4(source), sum_ipv4(destination)],
            ),
        })
    }

    /// The IPv4 destination.
    #[inline]
    pub fn destination(&self) -> core::net::Ipv4Addr {
        self.header.destination_address
    }

    /// The length of the IPv4 packet.
    #[inline]
    pub fn length(&self) -> usize {
        IPV4_HEADER_LENGTH + self.header.payload_length
    }

    /// Writes the IPv4 packet, Identification `identification` (§5.1), at
    /// the start of `output`, which holds [`PlainIpv6ToIpv4::length`]
    /// bytes; `packet` is the one this translation was made from. Returns
    /// false, writing nothing, if `output` is too short.
    #[inline(always)]
    pub fn write(&self, packet: &[u8], identification: u16, output: &mut [u8]) -> bool {
        let length = self.header.payload_length;
        let (Some(upper), Some(output)) = (
            packet.get(IPV6_HEADER_LENGTH..IPV6_HEADER_LENGTH + length),
            output.get_mut(..IPV4_HEADER_LENGTH + length),
        ) else {
            return false;
        };
        let (header, body) = output.split_at_mut(IPV4_HEADER_LENGTH);
        let Ok(header) = <&mut [u8; IPV4_HEADER_LENGTH]>::try_from(header) else {
            return false;
        };
        Ipv4Repr {
            identification,
            ..self.header
        }
        .write_header(header);
        body.copy_from_slice(upper);
        let (old_addresses, new_addresses) = self.address_sums;
        adjust_transport_checksum(
            body,
            u8::from(self.header.protocol),
            old_addresses,
            new_addresses,
        );
        true
    }
}

/// [`PlainIpv6ToIpv4`]'s counterpart for the common ICMPv6 error, in two
/// steps so that a router can find the neighbor and take the transmit
/// frame between them, and the translation then runs straight into the
/// frame with nothing kept across a call. [`PlainIcmpv6ErrorToIpv4::new`]
/// decides what the outer header and the size need: an ICMPv6 error type
/// (below 128) from a mapped source or, for one without a mapping, the
/// RFC 6791 pool (§5.1), to a mapped destination, whose ICMPv4 form fits
/// the IPv4 next hop. [`PlainIcmpv6ErrorToIpv4::write`] then takes the
/// message itself when it is of the common shape (Destination
/// Unreachable, Packet Too Big, Time Exceeded or Parameter Problem as
/// `icmp::write_plain_error` takes it, §5.2, §5.3) and writes the bytes
/// [`translate`] would give. `None` from the first and false from the
/// second are no refusal: [`translate`] gives the answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlainIcmpv6ErrorToIpv4 {
    /// The IPv4 source's bits: the mapping of the IPv6 one, or from the
    /// RFC 6791 pool. (Bits, not an `Ipv4Addr`: a `u32` is kept and moved
    /// as a word, four bytes were assembled one by one.)
    source: u32,
    /// The IPv4 destination's bits.
    destination: u32,
    /// The outer IPv6 addresses' 64-bit words summed (the pseudo-header's
    /// part of the ICMPv6 checksum, RFC 8200 §8.1), taken while they are
    /// at hand: one word kept until the message is written, not four.
    outer_address_words: u64,
    /// How many bytes of the quoted packet's data are copied: all there
    /// are, or what fits 576 bytes (RFC 1812 §4.3.2.3).
    data_length: u16,
    /// Whether the IPv4 source is from the RFC 6791 pool.
    pool_source: bool,
}

impl PlainIcmpv6ErrorToIpv4 {
    /// The outer translation of `packet`, or `None` when it cannot be the
    /// common ICMPv6 error: then [`translate`] gives the answer.
    #[inline]
    pub fn new(
        packet: &[u8],
        addresses: &impl AddressTranslator,
        path: &Ipv6ToIpv4Path,
    ) -> Option<PlainIcmpv6ErrorToIpv4> {
        let fixed: &[u8; IPV6_HEADER_LENGTH] = packet.get(..IPV6_HEADER_LENGTH)?.try_into().ok()?;
        let message_length = usize::from(u16::from_be_bytes([fixed[4], fixed[5]]));
        let message = packet.get(IPV6_HEADER_LENGTH..IPV6_HEADER_LENGTH + message_length)?;
        // The ICMPv6 header and the quoted IPv6 header, whole.
        let quoted = message.get(..icmp::PLAIN_ERROR_DATA)?;
        if fixed[0] >> 4 != 6 || fixed[6] != protocol::ICMPV6 || quoted[0] >= 128 {
            return None;
        }
        // §5.3: the quoted data, cut where the quoted Payload Length says
        // and to what fits 576 bytes.
        let upper_length = usize::from(u16::from_be_bytes([quoted[12], quoted[13]]));
        let data_length = upper_length
            .min(message_length - icmp::PLAIN_ERROR_DATA)
            .min(icmp::PLAIN_ERROR_LARGEST_DATA);
        if IPV4_HEADER_LENGTH + icmp::plain_error_length(data_length)
            > usize::from(path.ipv4_next_hop_mtu)
        {
            return None;
        }
        let source6 = ipv6_address(&fixed[8..24]);
        if is_illegal_ipv6_source(source6) {
            return None;
        }
        // §5.1 / RFC 6791, as in `translate`.
        let (source, pool_source) = match addresses.ipv6_to_ipv4(source6, AddressRole::Source) {
            Ok(address) => (address, false),
            Err(_) => (addresses.icmp_error_source(source6)?, true),
        };
        let destination6 = ipv6_address(&packet[24..40]);
        let destination = addresses
            .ipv6_to_ipv4(destination6, AddressRole::Destination)
            .ok()?;
        Some(PlainIcmpv6ErrorToIpv4 {
            source: source.to_bits(),
            destination: destination.to_bits(),
            outer_address_words: icmp::wide_words::<32>(fixed[8..40].try_into().ok()?),
            data_length: data_length as u16,
            pool_source,
        })
    }

    /// The IPv4 destination.
    #[inline]
    pub fn destination(&self) -> core::net::Ipv4Addr {
        core::net::Ipv4Addr::from_bits(self.destination)
    }

    /// The length of the IPv4 packet.
    #[inline]
    pub fn length(&self) -> usize {
        IPV4_HEADER_LENGTH + icmp::plain_error_length(usize::from(self.data_length))
    }

    /// Whether the IPv4 source is from the RFC 6791 pool (the IPv6 source
    /// has no mapping), not the source's mapping.
    #[inline]
    pub fn has_pool_source(&self) -> bool {
        self.pool_source
    }

    /// Writes the IPv4 packet, Identification `identification` (§5.1), at
    /// the start of `output`, which holds [`PlainIcmpv6ErrorToIpv4::length`]
    /// bytes; `packet` is the one this translation was made from, with the
    /// same `addresses` and `path`. False when the message is not of the
    /// common shape (see [`PlainIcmpv6ErrorToIpv4`]; `output` may then
    /// hold part of a packet), or, writing nothing, when `output` or
    /// `packet` is too short.
    #[inline]
    pub fn write(
        &self,
        packet: &[u8],
        addresses: &impl AddressTranslator,
        settings: &TranslationSettings,
        path: &Ipv6ToIpv4Path,
        identification: u16,
        output: &mut [u8],
    ) -> bool {
        let body_length = icmp::plain_error_length(usize::from(self.data_length));
        let (Some(fixed), Some(output)) = (
            packet.first_chunk::<IPV6_HEADER_LENGTH>(),
            output.get_mut(..IPV4_HEADER_LENGTH + body_length),
        ) else {
            return false;
        };
        let message_length = usize::from(u16::from_be_bytes([fixed[4], fixed[5]]));
        let Some(message) = packet.get(IPV6_HEADER_LENGTH..IPV6_HEADER_LENGTH + message_length)
        else {
            return false;
        };
        let Some((header, body)) = output.split_first_chunk_mut::<IPV4_HEADER_LENGTH>() else {
            return false;
        };
        Ipv4Repr {
            identification,
            ..ipv4_header(
                fixed,
                core::net::Ipv4Addr::from_bits(self.source),
                core::net::Ipv4Addr::from_bits(self.destination),
                protocol::ICMP,
                body_length,
                settings,
                path,
            )
        }
        .write_header(header);
        let Ok(outer_address_bytes) = <&[u8; 32]>::try_from(&fixed[8..40]) else {
            return false;
        };
        let outer = icmp::OuterAddresses::new(
            addresses,
            (
                ipv6_address(&outer_address_bytes[..16]),
                (!self.pool_source).then(|| core::net::Ipv4Addr::from_bits(self.source)),
            ),
            (
                ipv6_address(&outer_address_bytes[16..]),
                Some(core::net::Ipv4Addr::from_bits(self.destination)),
            ),
        );
        icmp::write_plain_error(
            message,
            body,
            usize::from(self.data_length),
            outer_address_bytes,
            self.outer_address_words,
            outer,
            addresses,
            settings,
            path,
        )
        .is_some()
    }
}

/// The IPv4 header of an unfragmented translation of the IPv6 header
/// `fixed` (§5.1): TTL from the hop limit (less one when the path says
/// so), the traffic class by the policy, DF above the RFC 8021 threshold,
/// Identification from the path.
#[inline(always)]
fn ipv4_header(
    fixed: &[u8; IPV6_HEADER_LENGTH],
    source: core::net::Ipv4Addr,
    destination: core::net::Ipv4Addr,
    protocol_number: u8,
    body_length: usize,
    settings: &TranslationSettings,
    path: &Ipv6ToIpv4Path,
) -> Ipv4Repr {
    let hop_limit = fixed[7];
    Ipv4Repr {
        source_address: source,
        destination_address: destination,
        protocol: IpProtocol::from(protocol_number),
        payload_length: body_length,
        time_to_live: if path.decrement_time_to_live {
            hop_limit.saturating_sub(1)
        } else {
            hop_limit
        },
        traffic_class: match settings.traffic_class {
            TrafficClassPolicy::Copy => (u16::from_be_bytes([fixed[0], fixed[1]]) >> 4) as u8,
            TrafficClassPolicy::Zero => 0,
        },
        identification: path.identification,
        dont_fragment: IPV4_HEADER_LENGTH + body_length > DONT_FRAGMENT_THRESHOLD,
        more_fragments: false,
        fragment_offset: 0,
    }
}

/// §5.5: the TCP / UDP checksum of an unfragmented packet or first
/// fragment, for the new pseudo-header.
fn translate_transport(
    segment: &mut [u8],
    protocol_number: u8,
    old_addresses: [u16; 2],
    new_addresses: [u16; 2],
) -> Result<(), TranslationError> {
    match protocol_number {
        protocol::TCP if segment.len() < 20 => Err(TranslationError::TruncatedTransportHeader),
        protocol::UDP => match read_u16(segment, 6) {
            None => Err(TranslationError::TruncatedTransportHeader),
            Some(0) => Err(TranslationError::Ipv6UdpZeroChecksum),
            Some(_) => {
                adjust_transport_checksum(segment, protocol_number, old_addresses, new_addresses);
                Ok(())
            }
        },
        _ => {
            adjust_transport_checksum(segment, protocol_number, old_addresses, new_addresses);
            Ok(())
        }
    }
}

/// An IPv6 address from 16 bytes (shorter input gives zeros).
#[inline]
pub(super) fn ipv6_address(bytes: &[u8]) -> core::net::Ipv6Addr {
    let mut octets = [0u8; 16];
    let length = bytes.len().min(16);
    octets[..length].copy_from_slice(&bytes[..length]);
    core::net::Ipv6Addr::from(octets)
}
