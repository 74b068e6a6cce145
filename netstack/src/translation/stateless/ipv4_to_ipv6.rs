//! IPv4 → IPv6 (RFC 7915 §4): the IPv4 header becomes an IPv6 header (§4.1), a Fragment Header when the packet is a fragment, then the payload (§4.2 ICMP, §4.5 transport checksums).

use core::net::{Ipv4Addr, Ipv6Addr};

use smoltcp::wire::{IpProtocol, Ipv6Packet};

use super::{
    FRAGMENT_HEADER_LENGTH, Fragmentation, IPV4_HEADER_LENGTH, IPV6_HEADER_LENGTH, Ipv4ToIpv6Path,
    Translated, TranslationError, adjust_transport_checksum, icmp, ipv6_pseudo_header_sum,
    is_illegal_ipv4_source, protocol, read_u16, write_u16,
};
use crate::translation::checksum::{combine, sum, sum_ipv4, sum_ipv6, verifies};
use crate::translation::icmpv4::Icmpv4Message;
use crate::translation::ipv4::{Ipv4Packet, Ipv4Repr};
use crate::translation::{
    AddressRole, AddressTranslator, TrafficClassPolicy, TranslationSettings, UdpZeroChecksum,
};

/// The IPv4 option types that carry a source route (RFC 791 §3.1).
const LOOSE_SOURCE_ROUTE: u8 = 131;
const STRICT_SOURCE_ROUTE: u8 = 137;

pub(super) fn translate(
    packet: &[u8],
    output: &mut [u8],
    addresses: &impl AddressTranslator,
    settings: &TranslationSettings,
    path: &Ipv4ToIpv6Path,
) -> Result<Translated, TranslationError> {
    let ipv4 = Ipv4Packet::new_checked(packet).map_err(TranslationError::BadIpv4Header)?;
    let header = Ipv4Repr::parse(&ipv4).map_err(TranslationError::BadIpv4Header)?;
    check_options(ipv4.options())?;
    let payload = ipv4.payload();
    let protocol_number = u8::from(header.protocol);
    let is_fragment = header.more_fragments || header.fragment_offset != 0;
    let is_icmp_error = protocol_number == protocol::ICMP
        && !is_fragment
        && payload
            .first()
            .is_some_and(|&message_type| Icmpv4Message::from(message_type).is_error());
    // §4.1 "Source Address": illegal sources are dropped, except in ICMPv4
    // errors, translated "for the purpose of trouble shooting".
    if !is_icmp_error && is_illegal_ipv4_source(header.source_address) {
        return Err(TranslationError::IllegalSource);
    }
    let source = addresses
        .ipv4_to_ipv6(header.source_address, AddressRole::Source)
        .map_err(TranslationError::UntranslatableSource)?;
    let destination = addresses
        .ipv4_to_ipv6(header.destination_address, AddressRole::Destination)
        .map_err(TranslationError::UntranslatableDestination)?;
    if protocol_number == protocol::ICMP && is_fragment {
        return Err(TranslationError::FragmentedIcmp);
    }
    // Copied (§4.1 "Next Header"), an IPv6 extension header number or
    // ICMPv6 would make IPv6 receivers parse the IPv4 payload as a header
    // or as ICMPv6 with the wrong checksum: refused instead.
    if protocol_number == protocol::ICMPV6 || protocol::is_extension_header(protocol_number) {
        return Err(TranslationError::UntranslatableProtocol {
            protocol: protocol_number,
        });
    }

    let header_length = IPV6_HEADER_LENGTH
        + if is_fragment {
            FRAGMENT_HEADER_LENGTH
        } else {
            0
        };
    let body = output
        .get_mut(header_length..)
        .ok_or(TranslationError::OutputTooSmall)?;
    let next_header = if protocol_number == protocol::ICMP {
        protocol::ICMPV6
    } else {
        protocol_number
    };
    let body_length = if protocol_number == protocol::ICMP {
        icmp::icmpv4_to_icmpv6(
            payload,
            body,
            source,
            destination,
            addresses,
            settings,
            path,
        )?
    } else {
        let body = body
            .get_mut(..payload.len())
            .ok_or(TranslationError::OutputTooSmall)?;
        body.copy_from_slice(payload);
        if header.fragment_offset == 0 {
            translate_transport(
                body,
                protocol_number,
                is_fragment,
                [
                    sum_ipv4(header.source_address),
                    sum_ipv4(header.destination_address),
                ],
                source,
                destination,
                settings.udp_zero_checksum,
            )?;
        }
        payload.len()
    };
    let length = header_length + body_length;
    let payload_length =
        u16::try_from(length - IPV6_HEADER_LENGTH).map_err(|_| TranslationError::OutputTooSmall)?;

    // §4.1: DF set and too big for the next hop → "fragmentation needed"
    // with the IPv4 size that would fit.
    let next_hop_mtu = usize::from(path.ipv6_next_hop_mtu);
    if header.dont_fragment && length > next_hop_mtu {
        let growth = header_length.saturating_sub(ipv4.header_length());
        let mtu = next_hop_mtu
            .saturating_sub(growth)
            .saturating_add(ipv4.header_length().saturating_sub(header_length));
        return Err(TranslationError::FragmentationNeeded {
            mtu: u16::try_from(mtu).unwrap_or(u16::MAX),
        });
    }
    // §4.1: DF clear and bigger than lowest-ipv6-mtu → SHOULD fragment.
    let limit = settings.lowest_ipv6_mtu.min(path.ipv6_next_hop_mtu);
    let fragmentation =
        (!header.dont_fragment && length > usize::from(limit)).then_some(Fragmentation {
            maximum_size: limit,
            identification: u32::from(header.identification),
        });

    let traffic_class = match settings.traffic_class {
        TrafficClassPolicy::Copy => header.traffic_class,
        TrafficClassPolicy::Zero => 0,
    };
    write_ipv6_header(
        output,
        traffic_class,
        payload_length,
        if is_fragment {
            protocol::FRAGMENT
        } else {
            next_header
        },
        header.time_to_live,
        source,
        destination,
    );
    if is_fragment {
        write_fragment_header(
            &mut output[IPV6_HEADER_LENGTH..],
            next_header,
            header.fragment_offset,
            header.more_fragments,
            u32::from(header.identification),
        );
    }
    Ok(Translated {
        length,
        fragmentation,
    })
}

/// The common case of §4 decided before anything is written: an
/// unfragmented TCP or UDP packet with a 20-byte header (§4.1 with no
/// options to look at), a valid header checksum, both addresses mapped, a
/// source that §4.1 does not call illegal, a transport header whole and,
/// for UDP, a checksum that is not zero (§4.5: nothing to compute), that
/// the next hop takes without fragmenting (DF set and it fits, or DF
/// clear and it fits `lowest_ipv6_mtu`). [`PlainIpv4ToIpv6::write`] then
/// gives the bytes [`translate`] would give (and, with
/// [`PlainIpv4ToIpv6::decrement_hop_limit`], the forward step after it),
/// without parsing ICMP or options; the caller can route, size and
/// resolve the output first (RFC 7915 leaves the order free).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlainIpv4ToIpv6 {
    /// The IPv6 source (§4.1 "Source Address").
    source: Ipv6Addr,
    /// The IPv6 destination (§4.1 "Destination Address").
    destination: Ipv6Addr,
    /// §4.1 "Traffic Class", by the policy.
    traffic_class: u8,
    /// §4.1 "Next Header": the IPv4 Protocol, TCP or UDP.
    next_header: u8,
    /// §4.1 "Hop Limit": the TTL, less what the caller took off.
    hop_limit: u8,
    /// §4.1 "Payload Length": the IPv4 Total Length less 20.
    payload_length: u16,
    /// The sums of the IPv4 source and destination, then of the IPv6 ones,
    /// for the transport checksum (§4.5).
    address_sums: ([u16; 2], [u16; 2]),
}

impl PlainIpv4ToIpv6 {
    /// The translation of `packet`, or `None` when it is anything but the
    /// plain case: then [`translate`] gives the answer (a refusal, a
    /// fragmentation, options, ICMP, a zero UDP checksum). `None` is no
    /// refusal.
    #[inline]
    pub fn new(
        packet: &[u8],
        addresses: &impl AddressTranslator,
        settings: &TranslationSettings,
        path: &Ipv4ToIpv6Path,
    ) -> Option<PlainIpv4ToIpv6> {
        let header: &[u8; IPV4_HEADER_LENGTH] =
            packet.get(..IPV4_HEADER_LENGTH)?.try_into().ok()?;
        let next_header = header[9];
        let smallest = match next_header {
            protocol::TCP => 20,
            protocol::UDP => 8,
            _ => return None,
        };
        let total_length = usize::from(u16::from_be_bytes([header[2], header[3]]));
        let flags_and_offset = u16::from_be_bytes([header[6], header[7]]);
        let dont_fragment = flags_and_offset & 0x4000 != 0;
        // Version 4 without options (IHL 5), not a fragment (MF and the
        // offset clear), a header checksum that verifies (RFC 1812
        // §5.2.2, as `Ipv4Repr::parse` checks).
        if header[0] != 0x45 || flags_and_offset & 0x3fff != 0 || !verifies(header) {
            return None;
        }
        let upper = packet.get(IPV4_HEADER_LENGTH..total_length)?;
        let length = IPV6_HEADER_LENGTH + upper.len();
        let fits = if dont_fragment {
            path.ipv6_next_hop_mtu
        } else {
            settings.lowest_ipv6_mtu.min(path.ipv6_next_hop_mtu)
        };
        if upper.len() < smallest
            || (next_header == protocol::UDP && upper[6..8] == [0, 0])
            || length > usize::from(fits)
        {
            return None;
        }
        let source4 = Ipv4Addr::new(header[12], header[13], header[14], header[15]);
        if is_illegal_ipv4_source(source4) {
            return None;
        }
        let destination4 = Ipv4Addr::new(header[16], header[17], header[18], header[19]);
        let source = addresses.ipv4_to_ipv6(source4, AddressRole::Source).ok()?;
        let destination = addresses
            .ipv4_to_ipv6(destination4, AddressRole::Destination)
            .ok()?;
        Some(PlainIpv4ToIpv6 {
            source,
            destination,
            traffic_class: match settings.traffic_class {
                TrafficClassPolicy::Copy => header[1],
                TrafficClassPolicy::Zero => 0,
            },
            next_header,
            hop_limit: header[8],
            payload_length: u16::try_from(upper.len()).ok()?,
            address_sums: (
                [sum_ipv4(source4), sum_ipv4(destination4)],
                [sum_ipv6(source), sum_ipv6(destination)],
            ),
        })
    }

    /// The IPv6 source.
    #[inline]
    pub fn source(&self) -> Ipv6Addr {
        self.source
    }

    /// The IPv6 destination.
    #[inline]
    pub fn destination(&self) -> Ipv6Addr {
        self.destination
    }

    /// The Hop Limit [`PlainIpv4ToIpv6::write`] writes.
    #[inline]
    pub fn hop_limit(&self) -> u8 {
        self.hop_limit
    }

    /// Takes one off the Hop Limit (never below zero): the forward step
    /// of a router, written with the header instead of after it (§4.1
    /// allows the decrement before or after translating).
    #[inline]
    pub fn decrement_hop_limit(&mut self) {
        self.hop_limit = self.hop_limit.saturating_sub(1);
    }

    /// The length of the IPv6 packet.
    #[inline]
    pub fn length(&self) -> usize {
        IPV6_HEADER_LENGTH + usize::from(self.payload_length)
    }

    /// Writes the IPv6 packet at the start of `output`, which holds
    /// [`PlainIpv4ToIpv6::length`] bytes; `packet` is the one this
    /// translation was made from. Returns false, writing nothing, if
    /// `output` is too short.
    #[inline(always)]
    pub fn write(&self, packet: &[u8], output: &mut [u8]) -> bool {
        let length = usize::from(self.payload_length);
        let (Some(upper), Some(output)) = (
            packet.get(IPV4_HEADER_LENGTH..IPV4_HEADER_LENGTH + length),
            output.get_mut(..IPV6_HEADER_LENGTH + length),
        ) else {
            return false;
        };
        let (header, body) = output.split_at_mut(IPV6_HEADER_LENGTH);
        // Version 6, the traffic class, flow label 0 (§4.1).
        let first = 0x6000_0000u32 | u32::from(self.traffic_class) << 20;
        header[..4].copy_from_slice(&first.to_be_bytes());
        header[4..6].copy_from_slice(&self.payload_length.to_be_bytes());
        header[6] = self.next_header;
        header[7] = self.hop_limit;
        header[8..24].copy_from_slice(&self.source.octets());
        header[24..40].copy_from_slice(&self.destination.octets());
        body.copy_from_slice(upper);
        let (old_addresses, new_addresses) = self.address_sums;
        adjust_transport_checksum(body, self.next_header, old_addresses, new_addresses);
        true
    }
}

/// Finds an unexpired source route option (§4.1: MUST drop, SHOULD answer
/// 3/5). A source route is unexpired while its pointer is not beyond the
/// option (RFC 791 §3.1 "Loose Source and Record Route").
fn check_options(options: &[u8]) -> Result<(), TranslationError> {
    let mut index = 0;
    while let Some(&kind) = options.get(index) {
        match kind {
            0 => return Ok(()),
            1 => index += 1,
            _ => {
                let length = usize::from(
                    *options
                        .get(index + 1)
                        .ok_or(TranslationError::BadIpv4Options)?,
                );
                if length < 2 || index + length > options.len() {
                    return Err(TranslationError::BadIpv4Options);
                }
                if kind == LOOSE_SOURCE_ROUTE || kind == STRICT_SOURCE_ROUTE {
                    let pointer = *options
                        .get(index + 2)
                        .filter(|_| length >= 3)
                        .ok_or(TranslationError::BadIpv4Options)?;
                    if usize::from(pointer) <= length {
                        return Err(TranslationError::SourceRoute);
                    }
                }
                index += length;
            }
        }
    }
    Ok(())
}

/// §4.5: the TCP / UDP checksum of an unfragmented packet or first
/// fragment, for the new pseudo-header.
fn translate_transport(
    segment: &mut [u8],
    protocol_number: u8,
    is_fragment: bool,
    old_addresses: [u16; 2],
    source: Ipv6Addr,
    destination: Ipv6Addr,
    policy: UdpZeroChecksum,
) -> Result<(), TranslationError> {
    match protocol_number {
        protocol::TCP => {
            if segment.len() < 20 {
                return Err(TranslationError::TruncatedTransportHeader);
            }
        }
        protocol::UDP => {
            let checksum =
                read_u16(segment, 6).ok_or(TranslationError::TruncatedTransportHeader)?;
            if checksum == 0 {
                if is_fragment {
                    return Err(TranslationError::FragmentedUdpZeroChecksum);
                }
                if policy == UdpZeroChecksum::Drop {
                    return Err(TranslationError::UdpZeroChecksum);
                }
                // §4.5 option 2: compute the UDP checksum (erratum 6955).
                let total = combine(&[
                    ipv6_pseudo_header_sum(source, destination, protocol::UDP, segment.len()),
                    sum(segment),
                ]);
                let computed = match !total {
                    0 => 0xffff,
                    value => value,
                };
                write_u16(segment, 6, computed);
                return Ok(());
            }
        }
        _ => return Ok(()),
    }
    adjust_transport_checksum(
        segment,
        protocol_number,
        old_addresses,
        [sum_ipv6(source), sum_ipv6(destination)],
    );
    Ok(())
}

/// Writes a 40-byte IPv6 header at the start of `output` (which holds it).
pub(super) fn write_ipv6_header(
    output: &mut [u8],
    traffic_class: u8,
    payload_length: u16,
    next_header: u8,
    hop_limit: u8,
    source: Ipv6Addr,
    destination: Ipv6Addr,
) {
    if let Some(header) = output.get_mut(..IPV6_HEADER_LENGTH) {
        header.fill(0);
        let mut packet = Ipv6Packet::new_unchecked(header);
        packet.set_version(6);
        packet.set_traffic_class(traffic_class);
        packet.set_flow_label(0);
        packet.set_payload_len(payload_length);
        packet.set_next_header(IpProtocol::from(next_header));
        packet.set_hop_limit(hop_limit);
        packet.set_src_addr(source);
        packet.set_dst_addr(destination);
    }
}

/// Writes an 8-byte Fragment Header (RFC 8200 §4.5) at the start of
/// `output` (which holds it); `offset` in bytes, a multiple of 8.
pub(super) fn write_fragment_header(
    output: &mut [u8],
    next_header: u8,
    offset: u16,
    more_fragments: bool,
    identification: u32,
) {
    if let Some(header) = output.get_mut(..FRAGMENT_HEADER_LENGTH) {
        header[0] = next_header;
        header[1] = 0;
        let word = (offset & !7) | u16::from(more_fragments);
        header[2..4].copy_from_slice(&word.to_be_bytes());
        header[4..8].copy_from_slice(&identification.to_be_bytes());
    }
}
