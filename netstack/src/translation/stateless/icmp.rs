//! ICMP translation (RFC 7915 §4.2, §4.3, §5.2, §5.3): type and code tables, Packet Too Big arithmetic, pointer tables, the packet inside an error, RFC 4884 extensions.

use core::net::{Ipv4Addr, Ipv6Addr};

use smoltcp::wire::IpProtocol;

use super::ipv4_to_ipv6::{write_fragment_header, write_ipv6_header};
use super::ipv6_to_ipv4::{ipv6_address, walk_header_chain};
use super::{
    DONT_FRAGMENT_THRESHOLD, FRAGMENT_HEADER_LENGTH, IPV4_HEADER_LENGTH, IPV6_HEADER_LENGTH,
    Ipv4ToIpv6Path, Ipv6ToIpv4Path, MAXIMUM_ICMPV4_ERROR, MAXIMUM_ICMPV6_ERROR, MINIMUM_IPV6_MTU,
    TranslationError, adjust_transport_checksum, ipv6_pseudo_header_sum, protocol, read_u16,
    read_u32,
};
use crate::translation::checksum::{
    combine, fold, native_sum, native_words, sum, sum_ipv4, sum_ipv6,
};
use crate::translation::icmpv4::{HEADER_LENGTH as ICMP_HEADER, Icmpv4Message, Icmpv4Packet};
use crate::translation::ipv4::{Ipv4Packet, Ipv4Repr};
use crate::translation::{AddressRole, AddressTranslator, TrafficClassPolicy, TranslationSettings};

/// RFC 1191 §7, Table 7-1: the MTU plateaus, largest first.
pub(super) const PLATEAUS: [u16; 11] = [
    65535, 32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68,
];

/// RFC 4884 §4: with an extension, the original datagram field is at least
/// 128 bytes.
const MINIMUM_ORIGINAL_DATAGRAM: usize = 128;

/// ICMPv6 types (RFC 4443 §2.1).
pub(super) mod icmpv6_type {
    pub const DESTINATION_UNREACHABLE: u8 = 1;
    pub const PACKET_TOO_BIG: u8 = 2;
    pub const TIME_EXCEEDED: u8 = 3;
    pub const PARAMETER_PROBLEM: u8 = 4;
    pub const ECHO_REQUEST: u8 = 128;
    pub const ECHO_REPLY: u8 = 129;
}

/// ICMPv4 types (RFC 792).
pub(super) mod icmpv4_type {
    pub const ECHO_REPLY: u8 = 0;
    pub const DESTINATION_UNREACHABLE: u8 = 3;
    pub const ECHO_REQUEST: u8 = 8;
    pub const TIME_EXCEEDED: u8 = 11;
    pub const PARAMETER_PROBLEM: u8 = 12;
}

/// The ICMPv4 → ICMPv6 code of Destination Unreachable (§4.2): the new
/// (type, code), `None` for "silently drop". A table indexed by the code
/// (codes 14 and above 15 are dropped), read without a branch per code.
#[inline]
pub(super) fn destination_unreachable_4_to_6(code: u8) -> Option<(u8, u8)> {
    use icmpv6_type::*;
    const UNREACHABLE: Option<(u8, u8)> = Some((DESTINATION_UNREACHABLE, 0));
    const PROHIBITED: Option<(u8, u8)> = Some((DESTINATION_UNREACHABLE, 1));
    const TABLE: [Option<(u8, u8)>; 16] = [
        UNREACHABLE,                        // 0: net unreachable
        UNREACHABLE,                        // 1: host unreachable
        Some((PARAMETER_PROBLEM, 1)),       // 2: protocol unreachable
        Some((DESTINATION_UNREACHABLE, 4)), // 3: port unreachable
        Some((PACKET_TOO_BIG, 0)),          // 4: fragmentation needed
        UNREACHABLE,                        // 5: source route failed
        UNREACHABLE,                        // 6..=8
        UNREACHABLE,
        UNREACHABLE,
        PROHIBITED, // 9, 10: administratively prohibited
        PROHIBITED,
        UNREACHABLE, // 11, 12: for type of service
        UNREACHABLE,
        PROHIBITED, // 13: communication administratively prohibited
        None,       // 14: host precedence violation
        PROHIBITED, // 15: precedence cutoff in effect
    ];
    TABLE.get(usize::from(code)).copied().flatten()
}

/// §4.2 Figure 3: the ICMPv6 pointer for an ICMPv4 pointer, `None` for
/// "not listed" or "n/a".
pub(super) fn pointer_4_to_6(pointer: u8) -> Option<u32> {
    match pointer {
        0 => Some(0),
        1 => Some(1),
        2 | 3 => Some(4),
        8 => Some(7),
        9 => Some(6),
        12..=15 => Some(8),
        16..=19 => Some(24),
        _ => None,
    }
}

/// The ICMPv6 → ICMPv4 code of Destination Unreachable (§5.2).
pub(super) fn destination_unreachable_6_to_4(code: u8) -> Option<u8> {
    match code {
        0 => Some(1),
        1 => Some(10),
        2 | 3 => Some(1),
        4 => Some(3),
        _ => None,
    }
}

/// §5.2 Figure 6: the ICMPv4 pointer for an ICMPv6 pointer.
pub(super) fn pointer_6_to_4(pointer: u32) -> Option<u8> {
    match pointer {
        0 => Some(0),
        1 => Some(1),
        4 | 5 => Some(2),
        6 => Some(9),
        7 => Some(8),
        8..=23 => Some(12),
        24..=39 => Some(16),
        _ => None,
    }
}

/// §4.2 "Fragmentation Needed": the Packet Too Big MTU,
/// `max(1280, min(MTU + 20, MTU_of_IPv6_nexthop, MTU_of_IPv4_nexthop + 20))`,
/// with the RFC 1191 plateau below the quoted Total Length (and at least
/// 1280) as the MTU when the ICMPv4 MTU field is 0; when no plateau
/// qualifies the result is 1280.
pub(super) fn packet_too_big_mtu_4_to_6(
    reported_mtu: u16,
    quoted_total_length: u16,
    path: &Ipv4ToIpv6Path,
) -> u32 {
    let ipv4_mtu = if reported_mtu == 0 {
        PLATEAUS
            .iter()
            .copied()
            .find(|&plateau| plateau < quoted_total_length && plateau >= MINIMUM_IPV6_MTU)
            // No plateau qualifies: the value that yields exactly 1280.
            .unwrap_or(MINIMUM_IPV6_MTU - 20)
    } else {
        reported_mtu
    };
    let value = (u32::from(ipv4_mtu) + 20)
        .min(u32::from(path.ipv6_next_hop_mtu))
        .min(u32::from(path.ipv4_link_mtu) + 20);
    value.max(u32::from(MINIMUM_IPV6_MTU))
}

/// §5.2 "Packet Too Big": the ICMPv4 MTU,
/// `min(MTU − 20, MTU_of_IPv4_nexthop, MTU_of_IPv6_nexthop − 20)`, with 28
/// instead of 20 when the quoted packet has a Fragment Header.
pub(super) fn packet_too_big_mtu_6_to_4(
    reported_mtu: u32,
    quoted_has_fragment_header: bool,
    path: &Ipv6ToIpv4Path,
) -> u16 {
    let difference = if quoted_has_fragment_header { 28 } else { 20 };
    let value = reported_mtu
        .saturating_sub(difference)
        .min(u32::from(path.ipv4_next_hop_mtu))
        .min(u32::from(path.ipv6_link_mtu).saturating_sub(difference));
    u16::try_from(value).unwrap_or(u16::MAX)
}

/// An ICMP error's first 8 bytes (either family): type, code, a zero
/// checksum to fill in, and the type's second word (MTU, pointer or
/// unused).
#[inline(always)]
pub(super) fn error_header(message_type: u8, code: u8, second_word: [u8; 4]) -> [u8; 8] {
    let [first, second, third, fourth] = second_word;
    [message_type, code, 0, 0, first, second, third, fourth]
}

/// Splits the data of an error message into the original datagram and
/// the RFC 4884 extension structure: `length_bytes` is the length
/// attribute in bytes; 0, or more than the data holds, means no extension
/// (RFC 4884 §5: treat as a message without extensions).
fn split_extension(data: &[u8], length_bytes: usize) -> (&[u8], &[u8]) {
    if length_bytes == 0 || length_bytes > data.len() {
        (data, &[])
    } else {
        data.split_at(length_bytes)
    }
}

/// The translated header of a quoted packet (at most IPv6 + Fragment
/// Header), its data and what to fix in the data once copied.
struct QuotedPacket<'a> {
    header: [u8; IPV6_HEADER_LENGTH + FRAGMENT_HEADER_LENGTH],
    header_length: usize,
    data: &'a [u8],
    /// The data starts with the upper-layer header.
    is_first: bool,
    protocol: u8,
    /// The length of the upper-layer message per the header fields (for
    /// the ICMPv6 pseudo-header).
    upper_length: usize,
    has_fragment_header: bool,
}

/// Lays out an ICMP error: the 8-byte header, the translated quoted
/// packet (truncated to `limit` bytes of message), and the RFC 4884
/// extension when `extension_unit` is `Some` (4 or 8) and it fits.
/// Returns the message length and the range of copied quoted data.
fn assemble_error(
    output: &mut [u8],
    header: [u8; ICMP_HEADER],
    quoted_header: &[u8],
    quoted_data: &[u8],
    extension: &[u8],
    extension_unit: Option<(usize, usize)>,
    limit: usize,
) -> Result<(usize, usize, usize), TranslationError> {
    let quoted_length = quoted_header.len() + quoted_data.len();
    let mut extension_layout = None;
    if let Some((unit, attribute_index)) = extension_unit.filter(|_| !extension.is_empty()) {
        let padded = quoted_length
            .div_ceil(unit)
            .saturating_mul(unit)
            .max(MINIMUM_ORIGINAL_DATAGRAM);
        if ICMP_HEADER + padded + extension.len() <= limit {
            extension_layout = Some((padded, unit, attribute_index));
        }
    }
    let (message_length, copied_quoted) = match extension_layout {
        Some((padded, _, _)) => (ICMP_HEADER + padded + extension.len(), quoted_length),
        None => {
            let copied = quoted_length.min(limit.saturating_sub(ICMP_HEADER));
            (ICMP_HEADER + copied, copied)
        }
    };
    let message = output
        .get_mut(..message_length)
        .ok_or(TranslationError::OutputTooSmall)?;
    message[..ICMP_HEADER].copy_from_slice(&header);
    let body = &mut message[ICMP_HEADER..];
    let header_copied = quoted_header.len().min(copied_quoted);
    body[..header_copied].copy_from_slice(&quoted_header[..header_copied]);
    let data_copied = copied_quoted - header_copied;
    body[header_copied..copied_quoted].copy_from_slice(&quoted_data[..data_copied]);
    if let Some((padded, unit, attribute_index)) = extension_layout {
        body[copied_quoted..padded].fill(0);
        body[padded..].copy_from_slice(extension);
        message[attribute_index] = u8::try_from(padded / unit).unwrap_or(0);
    }
    let data_start = ICMP_HEADER + header_copied;
    Ok((message_length, data_start, data_copied))
}

/// ICMPv4 → ICMPv6 (§4.2, §4.3) into `output`; returns the ICMPv6 length.
pub(super) fn icmpv4_to_icmpv6(
    message: &[u8],
    output: &mut [u8],
    source: Ipv6Addr,
    destination: Ipv6Addr,
    addresses: &impl AddressTranslator,
    settings: &TranslationSettings,
    path: &Ipv4ToIpv6Path,
) -> Result<usize, TranslationError> {
    let packet = Icmpv4Packet::new_checked(message).map_err(|_| TranslationError::TruncatedIcmp)?;
    if !packet.verify_checksum() {
        return Err(TranslationError::BadIcmpChecksum);
    }
    let message_type = message[0];
    let code = message[1];
    let unsupported = TranslationError::UnsupportedIcmpType { message_type, code };
    let length = match packet.message_type() {
        Icmpv4Message::EchoRequest | Icmpv4Message::EchoReply => {
            let echo = output
                .get_mut(..message.len())
                .ok_or(TranslationError::OutputTooSmall)?;
            echo.copy_from_slice(message);
            echo[0] = if message_type == icmpv4_type::ECHO_REQUEST {
                icmpv6_type::ECHO_REQUEST
            } else {
                icmpv6_type::ECHO_REPLY
            };
            message.len()
        }
        Icmpv4Message::DestinationUnreachable
        | Icmpv4Message::TimeExceeded
        | Icmpv4Message::ParameterProblem => {
            let (new_type, new_code) = match packet.message_type() {
                Icmpv4Message::DestinationUnreachable => {
                    destination_unreachable_4_to_6(code).ok_or(unsupported)?
                }
                Icmpv4Message::TimeExceeded => (icmpv6_type::TIME_EXCEEDED, code),
                _ if code == 0 || code == 2 => (icmpv6_type::PARAMETER_PROBLEM, 0),
                _ => return Err(unsupported),
            };
            let data = packet.data();
            let (datagram, extension) =
                split_extension(data, usize::from(packet.extension_length()) * 4);
            let quoted = translate_quoted_ipv4(datagram, addresses, settings)?;
            let second_word: [u8; 4] = match (new_type, packet.message_type()) {
                (icmpv6_type::PACKET_TOO_BIG, _) => {
                    let quoted_total_length = read_u16(datagram, 2).unwrap_or(0);
                    packet_too_big_mtu_4_to_6(packet.next_hop_mtu(), quoted_total_length, path)
                        .to_be_bytes()
                }
                // 3/2 → 4/1 pointing at the IPv6 Next Header (§4.2).
                (icmpv6_type::PARAMETER_PROBLEM, Icmpv4Message::DestinationUnreachable) => {
                    6u32.to_be_bytes()
                }
                (icmpv6_type::PARAMETER_PROBLEM, _) => pointer_4_to_6(packet.pointer())
                    .ok_or(TranslationError::UntranslatablePointer)?
                    .to_be_bytes(),
                _ => [0; 4],
            };
            let header = error_header(new_type, new_code, second_word);
            // RFC 4884 §4.6: only Destination Unreachable and Time Exceeded
            // carry extensions in ICMPv6 (length attribute in byte 4, 8-byte
            // units).
            let extension_unit = matches!(
                new_type,
                icmpv6_type::DESTINATION_UNREACHABLE | icmpv6_type::TIME_EXCEEDED
            )
            .then_some((8, 4));
            let (length, data_start, data_copied) = assemble_error(
                output,
                header,
                &quoted.header[..quoted.header_length],
                quoted.data,
                extension,
                extension_unit,
                MAXIMUM_ICMPV6_ERROR - IPV6_HEADER_LENGTH,
            )?;
            fix_quoted_ipv4_data(
                &mut output[data_start..data_start + data_copied],
                &quoted,
                datagram,
            );
            length
        }
        _ => return Err(unsupported),
    };
    let icmp = &mut output[..length];
    icmp[2] = 0;
    icmp[3] = 0;
    let total = combine(&[
        ipv6_pseudo_header_sum(source, destination, protocol::ICMPV6, length),
        sum(icmp),
    ]);
    icmp[2..4].copy_from_slice(&(!total).to_be_bytes());
    Ok(length)
}

/// §4.3: the IPv4 packet quoted in an ICMPv4 error as an IPv6 header (and
/// Fragment Header when it is a fragment); the TTL is kept.
fn translate_quoted_ipv4<'a>(
    datagram: &'a [u8],
    addresses: &impl AddressTranslator,
    settings: &TranslationSettings,
) -> Result<QuotedPacket<'a>, TranslationError> {
    let inner = Ipv4Packet::new_unchecked(datagram);
    inner
        .check_header()
        .map_err(|_| TranslationError::InnerPacketUnusable)?;
    if inner.version() != 4 {
        return Err(TranslationError::InnerPacketUnusable);
    }
    let header_length = inner.header_length();
    let total_length = usize::from(inner.total_length());
    let data = &datagram[header_length..total_length.min(datagram.len())];
    let protocol_number = u8::from(inner.protocol());
    let is_fragment = inner.is_fragment();
    let is_first = inner.fragment_offset() == 0;
    if protocol_number == protocol::ICMP
        && is_first
        && let Some(&message_type) = data.first()
    {
        if Icmpv4Message::from(message_type).is_error() {
            return Err(TranslationError::NestedIcmpError);
        }
        if message_type != icmpv4_type::ECHO_REQUEST && message_type != icmpv4_type::ECHO_REPLY {
            return Err(TranslationError::InnerPacketUnusable);
        }
    }
    let source = addresses
        .ipv4_to_ipv6(inner.source_address(), AddressRole::Source)
        .map_err(TranslationError::UntranslatableInnerAddress)?;
    let destination = addresses
        .ipv4_to_ipv6(inner.destination_address(), AddressRole::Destination)
        .map_err(TranslationError::UntranslatableInnerAddress)?;
    let next_header = if protocol_number == protocol::ICMP {
        protocol::ICMPV6
    } else {
        protocol_number
    };
    let upper_length = total_length - header_length;
    let fragment_length = if is_fragment {
        FRAGMENT_HEADER_LENGTH
    } else {
        0
    };
    let payload_length = u16::try_from(upper_length + fragment_length).unwrap_or(u16::MAX);
    let mut header = [0u8; IPV6_HEADER_LENGTH + FRAGMENT_HEADER_LENGTH];
    write_ipv6_header(
        &mut header,
        match settings.traffic_class {
            TrafficClassPolicy::Copy => inner.traffic_class(),
            TrafficClassPolicy::Zero => 0,
        },
        payload_length,
        if is_fragment {
            protocol::FRAGMENT
        } else {
            next_header
        },
        inner.time_to_live(),
        source,
        destination,
    );
    if is_fragment {
        write_fragment_header(
            &mut header[IPV6_HEADER_LENGTH..],
            next_header,
            inner.fragment_offset(),
            inner.more_fragments(),
            u32::from(inner.identification()),
        );
    }
    Ok(QuotedPacket {
        header,
        header_length: IPV6_HEADER_LENGTH + fragment_length,
        data,
        is_first,
        protocol: protocol_number,
        upper_length,
        has_fragment_header: is_fragment,
    })
}

/// Adjusts the copied data of a quoted IPv4 packet now carried as IPv6:
/// transport checksums for the address change, an echo's type and
/// checksum (type change, ICMPv6 pseudo-header added).
fn fix_quoted_ipv4_data(copied: &mut [u8], quoted: &QuotedPacket<'_>, datagram: &[u8]) {
    if !quoted.is_first {
        return;
    }
    let old_source = datagram.get(12..16).unwrap_or(&[]);
    let old_destination = datagram.get(16..20).unwrap_or(&[]);
    let new_source = &quoted.header[8..24];
    let new_destination = &quoted.header[24..40];
    if quoted.protocol == protocol::ICMP {
        let Some(&old_type) = copied.first() else {
            return;
        };
        let new_type = echo_type_4_to_6(old_type);
        copied[0] = new_type;
        if let Some(checksum) = read_u16(copied, 2) {
            let code = copied[1];
            let pseudo = ipv6_pseudo_header_sum(
                ipv6_address(new_source),
                ipv6_address(new_destination),
                protocol::ICMPV6,
                quoted.upper_length,
            );
            let total = combine(&[
                !checksum,
                !sum(&[old_type, code]),
                sum(&[new_type, code]),
                pseudo,
            ]);
            copied[2..4].copy_from_slice(&(!total).to_be_bytes());
        }
    } else {
        adjust_transport_checksum(
            copied,
            quoted.protocol,
            [sum(old_source), sum(old_destination)],
            [sum(new_source), sum(new_destination)],
        );
    }
}

/// The outer header's IPv6 addresses of an ICMPv6 message, and their IPv4
/// mappings, which an error's inner packet quotes again, swapped (§5.4):
/// reused for it rather than looked up twice, when the translator
/// [ignores roles](AddressTranslator::ignores_role) (else none are kept).
/// Only mappings go in, never an RFC 6791 pool source.
#[derive(Clone, Copy, Debug)]
pub(super) struct OuterAddresses {
    source: Ipv6Addr,
    destination: Ipv6Addr,
    mapped: [Option<Ipv4Addr>; 2],
}

impl OuterAddresses {
    /// `source` and `destination`, with the mappings found for them.
    #[inline]
    pub(super) fn new(
        addresses: &impl AddressTranslator,
        source: (Ipv6Addr, Option<Ipv4Addr>),
        destination: (Ipv6Addr, Option<Ipv4Addr>),
    ) -> OuterAddresses {
        let mapped = if addresses.ignores_role() {
            [source.1, destination.1]
        } else {
            [None, None]
        };
        OuterAddresses {
            source: source.0,
            destination: destination.0,
            mapped,
        }
    }

    #[inline]
    fn ipv4_for(&self, ipv6: Ipv6Addr) -> Option<Ipv4Addr> {
        if ipv6 == self.destination {
            self.mapped[1]
        } else if ipv6 == self.source {
            self.mapped[0]
        } else {
            None
        }
    }
}

/// ICMPv6 → ICMPv4 (§5.2, §5.3) into `output`; returns the ICMPv4 length.
pub(super) fn icmpv6_to_icmpv4(
    message: &[u8],
    output: &mut [u8],
    outer: OuterAddresses,
    addresses: &impl AddressTranslator,
    settings: &TranslationSettings,
    path: &Ipv6ToIpv4Path,
) -> Result<usize, TranslationError> {
    let (source, destination) = (outer.source, outer.destination);
    if message.len() < ICMP_HEADER {
        return Err(TranslationError::TruncatedIcmp);
    }
    let total = combine(&[
        ipv6_pseudo_header_sum(source, destination, protocol::ICMPV6, message.len()),
        sum(message),
    ]);
    if total != 0xffff {
        return Err(TranslationError::BadIcmpChecksum);
    }
    let message_type = message[0];
    let code = message[1];
    let unsupported = TranslationError::UnsupportedIcmpType { message_type, code };
    let length = match message_type {
        icmpv6_type::ECHO_REQUEST | icmpv6_type::ECHO_REPLY => {
            let echo = output
                .get_mut(..message.len())
                .ok_or(TranslationError::OutputTooSmall)?;
            echo.copy_from_slice(message);
            echo[0] = if message_type == icmpv6_type::ECHO_REQUEST {
                icmpv4_type::ECHO_REQUEST
            } else {
                icmpv4_type::ECHO_REPLY
            };
            message.len()
        }
        icmpv6_type::DESTINATION_UNREACHABLE
        | icmpv6_type::PACKET_TOO_BIG
        | icmpv6_type::TIME_EXCEEDED
        | icmpv6_type::PARAMETER_PROBLEM => {
            let (new_type, new_code) = match message_type {
                icmpv6_type::DESTINATION_UNREACHABLE => (
                    icmpv4_type::DESTINATION_UNREACHABLE,
                    destination_unreachable_6_to_4(code).ok_or(unsupported)?,
                ),
                icmpv6_type::PACKET_TOO_BIG => (icmpv4_type::DESTINATION_UNREACHABLE, 4),
                icmpv6_type::TIME_EXCEEDED => (icmpv4_type::TIME_EXCEEDED, code),
                _ => match code {
                    0 => (icmpv4_type::PARAMETER_PROBLEM, 0),
                    1 => (icmpv4_type::DESTINATION_UNREACHABLE, 2),
                    _ => return Err(unsupported),
                },
            };
            let body = &message[ICMP_HEADER..];
            // RFC 4884 §4: ICMPv6 Destination Unreachable and Time Exceeded
            // carry the length attribute in byte 4, in 8-byte units.
            let carries_extension = matches!(
                message_type,
                icmpv6_type::DESTINATION_UNREACHABLE | icmpv6_type::TIME_EXCEEDED
            );
            let length_bytes = if carries_extension {
                usize::from(message[4]) * 8
            } else {
                0
            };
            let (datagram, extension) = split_extension(body, length_bytes);
            let quoted = translate_quoted_ipv6(datagram, outer, addresses, settings)?;
            let second_word: [u8; 4] = match (message_type, new_type) {
                (icmpv6_type::PACKET_TOO_BIG, _) => {
                    let reported = read_u32(message, 4).unwrap_or(0);
                    let mtu = packet_too_big_mtu_6_to_4(reported, quoted.has_fragment_header, path);
                    let bytes = mtu.to_be_bytes();
                    [0, 0, bytes[0], bytes[1]]
                }
                (_, icmpv4_type::PARAMETER_PROBLEM) => {
                    let pointer = read_u32(message, 4).unwrap_or(u32::MAX);
                    [
                        pointer_6_to_4(pointer).ok_or(TranslationError::UntranslatablePointer)?,
                        0,
                        0,
                        0,
                    ]
                }
                _ => [0; 4],
            };
            let header = error_header(new_type, new_code, second_word);
            // ICMPv4 carries the attribute in byte 5, 4-byte units; only
            // for messages that came with one (not Packet Too Big, not
            // Parameter Problem, RFC 4884 §4.6).
            let extension_unit = carries_extension.then_some((4, 5));
            let (length, data_start, data_copied) = assemble_error(
                output,
                header,
                &quoted.header[..quoted.header_length],
                quoted.data,
                extension,
                extension_unit,
                MAXIMUM_ICMPV4_ERROR - IPV4_HEADER_LENGTH,
            )?;
            fix_quoted_ipv6_data(
                &mut output[data_start..data_start + data_copied],
                &quoted,
                datagram,
            );
            length
        }
        _ => return Err(unsupported),
    };
    let mut icmp = Icmpv4Packet::new_unchecked(&mut output[..length]);
    icmp.fill_checksum();
    Ok(length)
}

/// §5.3: the IPv6 packet quoted in an ICMPv6 error as an IPv4 header; the
/// Hop Limit is kept as the TTL, extension headers are skipped, a Fragment
/// Header becomes the IPv4 fragment fields.
fn translate_quoted_ipv6<'a>(
    datagram: &'a [u8],
    outer: OuterAddresses,
    addresses: &impl AddressTranslator,
    settings: &TranslationSettings,
) -> Result<QuotedPacket<'a>, TranslationError> {
    let fixed = datagram
        .get(..IPV6_HEADER_LENGTH)
        .ok_or(TranslationError::InnerPacketUnusable)?;
    if fixed[0] >> 4 != 6 {
        return Err(TranslationError::InnerPacketUnusable);
    }
    let payload_length = usize::from(read_u16(fixed, 4).unwrap_or(0));
    let available_end = (IPV6_HEADER_LENGTH + payload_length).min(datagram.len());
    let available = &datagram[IPV6_HEADER_LENGTH..available_end];
    let chain = walk_header_chain(fixed[6], available, true).map_err(|error| match error {
        TranslationError::ExtensionHeaderAfterFragment => error,
        _ => TranslationError::InnerPacketUnusable,
    })?;
    let data = &available[chain.upper_offset..];
    let is_first = chain.fragment.is_none_or(|fragment| fragment.offset == 0);
    if chain.protocol == protocol::ICMPV6
        && is_first
        && let Some(&message_type) = data.first()
    {
        if message_type < 128 {
            return Err(TranslationError::NestedIcmpError);
        }
        if message_type != icmpv6_type::ECHO_REQUEST && message_type != icmpv6_type::ECHO_REPLY {
            return Err(TranslationError::InnerPacketUnusable);
        }
    }
    let inner_source = ipv6_address(&fixed[8..24]);
    let source = match outer.ipv4_for(inner_source) {
        Some(known) => known,
        None => addresses
            .ipv6_to_ipv4(inner_source, AddressRole::Source)
            .map_err(TranslationError::UntranslatableInnerAddress)?,
    };
    let inner_destination = ipv6_address(&fixed[24..40]);
    let destination = match outer.ipv4_for(inner_destination) {
        Some(known) => known,
        None => addresses
            .ipv6_to_ipv4(inner_destination, AddressRole::Destination)
            .map_err(TranslationError::UntranslatableInnerAddress)?,
    };
    let upper_length = payload_length
        .checked_sub(chain.upper_offset)
        .ok_or(TranslationError::InnerPacketUnusable)?;
    let ipv4_payload_length = upper_length.min(usize::from(u16::MAX) - IPV4_HEADER_LENGTH);
    let total_length = IPV4_HEADER_LENGTH + ipv4_payload_length;
    let (identification, dont_fragment, more_fragments, fragment_offset) = match chain.fragment {
        Some(fragment) => (
            fragment.identification as u16,
            false,
            fragment.more_fragments,
            fragment.offset,
        ),
        None => (0, total_length > DONT_FRAGMENT_THRESHOLD, false, 0),
    };
    let protocol_number = if chain.protocol == protocol::ICMPV6 {
        protocol::ICMP
    } else {
        chain.protocol
    };
    let traffic_class = (fixed[0] << 4) | (fixed[1] >> 4);
    let repr = Ipv4Repr {
        source_address: source,
        destination_address: destination,
        protocol: IpProtocol::from(protocol_number),
        payload_length: ipv4_payload_length,
        time_to_live: fixed[7],
        traffic_class: match settings.traffic_class {
            TrafficClassPolicy::Copy => traffic_class,
            TrafficClassPolicy::Zero => 0,
        },
        identification,
        dont_fragment,
        more_fragments,
        fragment_offset,
    };
    let mut header = [0u8; IPV6_HEADER_LENGTH + FRAGMENT_HEADER_LENGTH];
    repr.emit(&mut Ipv4Packet::new_unchecked(
        &mut header[..IPV4_HEADER_LENGTH],
    ));
    Ok(QuotedPacket {
        header,
        header_length: IPV4_HEADER_LENGTH,
        data,
        is_first,
        protocol: chain.protocol,
        upper_length,
        has_fragment_header: chain.fragment.is_some(),
    })
}

/// Adjusts the copied data of a quoted IPv6 packet now carried as IPv4:
/// transport checksums for the address change, an echo's type and
/// checksum (type change, ICMPv6 pseudo-header removed).
fn fix_quoted_ipv6_data(copied: &mut [u8], quoted: &QuotedPacket<'_>, datagram: &[u8]) {
    if !quoted.is_first {
        return;
    }
    let old_source = datagram.get(8..24).unwrap_or(&[]);
    let old_destination = datagram.get(24..40).unwrap_or(&[]);
    let new_source = &quoted.header[12..16];
    let new_destination = &quoted.header[16..20];
    if quoted.protocol == protocol::ICMPV6 {
        let Some(&old_type) = copied.first() else {
            return;
        };
        let new_type = echo_type_6_to_4(old_type);
        copied[0] = new_type;
        if let Some(checksum) = read_u16(copied, 2) {
            let code = copied[1];
            let pseudo = ipv6_pseudo_header_sum(
                ipv6_address(old_source),
                ipv6_address(old_destination),
                protocol::ICMPV6,
                quoted.upper_length,
            );
            let updated = echo_checksum_6_to_4(checksum, [old_type, new_type], code, pseudo);
            copied[2..4].copy_from_slice(&updated.to_be_bytes());
        }
    } else {
        // Typed sums (fixed lengths, no byte loop); a missing address sums
        // to 0 either way.
        let ipv4_sum = |bytes: &[u8]| {
            <[u8; 4]>::try_from(bytes).map_or(0, |octets| sum_ipv4(Ipv4Addr::from(octets)))
        };
        adjust_transport_checksum(
            copied,
            quoted.protocol,
            [
                sum_ipv6(ipv6_address(old_source)),
                sum_ipv6(ipv6_address(old_destination)),
            ],
            [ipv4_sum(new_source), ipv4_sum(new_destination)],
        );
    }
}

/// The ICMPv6 type of a quoted ICMPv4 echo (§4.2, §4.3): Echo Request 8
/// → 128, anything else (Echo Reply 0) → 129.
#[inline]
pub(super) fn echo_type_4_to_6(old_type: u8) -> u8 {
    if old_type == icmpv4_type::ECHO_REQUEST {
        icmpv6_type::ECHO_REQUEST
    } else {
        icmpv6_type::ECHO_REPLY
    }
}

/// The ICMPv4 type of a quoted ICMPv6 echo (§5.2, §5.3): Echo Request 128
/// → 8, anything else (Echo Reply 129) → 0.
#[inline]
fn echo_type_6_to_4(old_type: u8) -> u8 {
    if old_type == icmpv6_type::ECHO_REQUEST {
        icmpv4_type::ECHO_REQUEST
    } else {
        icmpv4_type::ECHO_REPLY
    }
}

/// The checksum of a quoted ICMPv6 echo once it is ICMPv4 (§5.3): the
/// `[old, new]` type and the ICMPv6 pseudo-header (sum `pseudo`) taken
/// out, incrementally (RFC 1624 equation 3).
#[inline]
fn echo_checksum_6_to_4(checksum: u16, types: [u8; 2], code: u8, pseudo: u16) -> u16 {
    !combine(&[
        !checksum,
        !sum(&[types[0], code]),
        sum(&[types[1], code]),
        !pseudo,
    ])
}

/// `accumulator + word` with the carry out of bit 63 added back in (2^64 ≡
/// 1 modulo 0xffff, RFC 1071 §2 (C)): 0 only when both are.
#[inline(always)]
pub(super) fn add_with_carry(accumulator: u64, word: u64) -> u64 {
    let (total, carry) = accumulator.overflowing_add(word);
    total + u64::from(carry)
}

/// The one's complement sum of `bytes` (`LENGTH` a multiple of 8) as
/// 64-bit words in the machine's byte order, unfolded: half the additions
/// of [`native_words`], for the fixed-size parts of a per-packet sum. 0
/// only when every byte is.
#[inline(always)]
pub(super) fn wide_words<const LENGTH: usize>(bytes: &[u8; LENGTH]) -> u64 {
    let (words, _) = bytes.as_chunks::<8>();
    words.iter().fold(0, |total, word| {
        add_with_carry(total, u64::from_ne_bytes(*word))
    })
}

/// Where the quoted packet's data starts in an ICMPv6 error without
/// extension headers in it: the 8-byte ICMPv6 header, then the quoted
/// IPv6 header.
pub(super) const PLAIN_ERROR_DATA: usize = ICMP_HEADER + IPV6_HEADER_LENGTH;

/// The most bytes of quoted data an ICMPv4 error of [`write_plain_error`]
/// carries: what fits 576 bytes (RFC 1812 §4.3.2.3) after the IPv4
/// header, the ICMPv4 header and the quoted IPv4 header.
pub(super) const PLAIN_ERROR_LARGEST_DATA: usize =
    MAXIMUM_ICMPV4_ERROR - IPV4_HEADER_LENGTH - ICMP_HEADER - IPV4_HEADER_LENGTH;

/// The length of the ICMPv4 message [`write_plain_error`] writes with
/// `data_length` bytes of quoted data.
pub(super) const fn plain_error_length(data_length: usize) -> usize {
    ICMP_HEADER + IPV4_HEADER_LENGTH + data_length
}

/// The common ICMPv6 error of §5.2 and §5.3: Destination Unreachable
/// (codes 0–4), Packet Too Big, Time Exceeded, Parameter Problem (code 0
/// with a pointer of Figure 6, or code 1), without an RFC 4884 extension,
/// quoting an unfragmented UDP, TCP or ICMPv6 echo packet with no
/// extension header whose addresses map, written as ICMPv4 straight into
/// `output` (exactly [`plain_error_length`] of `data_length` bytes): the
/// message [`icmpv6_to_icmpv4`] gives. `message` is the ICMPv6 message
/// (the outer payload); `outer_bytes` are the outer source and
/// destination addresses as the packet holds them, `outer_address_words`
/// their [`wide_words`], `outer` the same with their mappings; `data_length` is how many bytes of the quoted packet's
/// data are copied (all there are, or what fits 576 bytes, RFC 1812
/// §4.3.2.3).
///
/// The quoted data is copied first (the one call on the common way, with
/// nothing worked out yet to keep across it) and summed, the ICMPv6
/// checksum verified from that sum and the headers' words, the headers
/// written and the ICMPv4 checksum worked out from the same sums, and a
/// word or two of the copy patched. `None` for anything else (then
/// [`icmpv6_to_icmpv4`] gives the answer: a refusal, an extension, a
/// quoted fragment or extension header, a nested error, a bad checksum);
/// `output` may then hold part of a message.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(super) fn write_plain_error(
    message: &[u8],
    output: &mut [u8],
    data_length: usize,
    outer_bytes: &[u8; 32],
    outer_address_words: u64,
    outer: OuterAddresses,
    addresses: &impl AddressTranslator,
    settings: &TranslationSettings,
    path: &Ipv6ToIpv4Path,
) -> Option<()> {
    let (icmpv6_header, datagram) = message.split_first_chunk::<ICMP_HEADER>()?;
    let (fixed, after) = datagram.split_first_chunk::<IPV6_HEADER_LENGTH>()?;
    let copied = after.get(..data_length)?;
    let tail = &after[data_length..];
    let (header_output, rest) = output.split_first_chunk_mut::<ICMP_HEADER>()?;
    let (quoted_output, copy_output) = rest.split_first_chunk_mut::<IPV4_HEADER_LENGTH>()?;
    let copy_output = copy_output.get_mut(..data_length)?;
    copy_output.copy_from_slice(copied);
    let [message_type, code, _, _, length_attribute, ..] = *icmpv6_header;
    let second = u32::from_be_bytes([
        icmpv6_header[4],
        icmpv6_header[5],
        icmpv6_header[6],
        icmpv6_header[7],
    ]);
    // §5.2; a nonzero RFC 4884 length attribute (byte 4 of Destination
    // Unreachable and Time Exceeded) is left to the general way.
    let (new_type, new_code, second_word) = match message_type {
        icmpv6_type::DESTINATION_UNREACHABLE if length_attribute == 0 => (
            icmpv4_type::DESTINATION_UNREACHABLE,
            destination_unreachable_6_to_4(code)?,
            [0; 4],
        ),
        icmpv6_type::TIME_EXCEEDED if length_attribute == 0 => {
            (icmpv4_type::TIME_EXCEEDED, code, [0; 4])
        }
        icmpv6_type::PACKET_TOO_BIG => {
            let mtu = packet_too_big_mtu_6_to_4(second, false, path).to_be_bytes();
            (
                icmpv4_type::DESTINATION_UNREACHABLE,
                4,
                [0, 0, mtu[0], mtu[1]],
            )
        }
        icmpv6_type::PARAMETER_PROBLEM => match code {
            0 => (
                icmpv4_type::PARAMETER_PROBLEM,
                0,
                [pointer_6_to_4(second)?, 0, 0, 0],
            ),
            1 => (icmpv4_type::DESTINATION_UNREACHABLE, 2, [0; 4]),
            _ => return None,
        },
        _ => return None,
    };

    // §5.3: the quoted packet, cut where its Payload Length says (the
    // caller's `data_length` is no longer).
    let inner_protocol = fixed[6];
    let upper_length = usize::from(u16::from_be_bytes([fixed[4], fixed[5]]));
    // Where the checksum is, and the quoted packet's IPv4 protocol.
    let (checksum_offset, ipv4_protocol) = match inner_protocol {
        protocol::UDP => (6, IpProtocol::Udp),
        protocol::TCP => (16, IpProtocol::Tcp),
        protocol::ICMPV6
            if copied.len() >= 4
                && matches!(
                    copied[0],
                    icmpv6_type::ECHO_REQUEST | icmpv6_type::ECHO_REPLY
                ) =>
        {
            (2, IpProtocol::Icmp)
        }
        _ => return None,
    };
    // Sums of pieces add up to the sum of the whole only when each piece
    // but the last has an even length (RFC 1071 §2 (A)).
    if fixed[0] >> 4 != 6 || (!data_length.is_multiple_of(2) && !tail.is_empty()) {
        return None;
    }

    let inner_bytes: &[u8; 32] = fixed[8..40].try_into().ok()?;
    let inner_address_words = wide_words(inner_bytes);

    // The ICMPv6 checksum, verified as the general way does (see the
    // module docs of `stateless`): the pseudo-header (RFC 8200 §8.1: the
    // outer addresses, the length and Next Header), the ICMPv6 header and
    // the quoted IPv6 header, the copied data and what follows it. Summed
    // in the machine's byte order, as `sum` does (RFC 1071 §2 (B): the
    // sum of the swapped words is the swapped sum; 0xffff is its own
    // swap), eight bytes at a time with end-around carries (§2 (C)).
    // Never 0 (Next Header 58 is in it), so the fold is the value summing
    // the bytes gives.
    let copied_native = native_sum(copied);
    let small_words = native_words(&(message.len() as u32).to_be_bytes())
        + native_words(&u32::from(protocol::ICMPV6).to_be_bytes())
        + u64::from(copied_native)
        + if tail.is_empty() {
            0
        } else {
            u64::from(native_sum(tail))
        };
    let verified = fold(
        [
            wide_words(icmpv6_header),
            wide_words(fixed.first_chunk::<8>()?),
            inner_address_words,
            small_words,
        ]
        .into_iter()
        .fold(outer_address_words, add_with_carry),
    );
    if verified != 0xffff {
        return None;
    }

    // The quoted addresses, mapped: the outer ones swapped (an error
    // about a packet the outer destination sent) reuse the outer
    // mappings when the translator ignores roles (one compare of the
    // bytes), anything else goes through `outer` and the translator.
    let (inner_source, inner_destination) = if inner_bytes[..16] == outer_bytes[16..]
        && inner_bytes[16..] == outer_bytes[..16]
        && let [Some(source), Some(destination)] = outer.mapped
    {
        (destination, source)
    } else {
        let inner_source6 = ipv6_address(&inner_bytes[..16]);
        let inner_destination6 = ipv6_address(&inner_bytes[16..]);
        (
            match outer.ipv4_for(inner_source6) {
                Some(known) => known,
                None => addresses
                    .ipv6_to_ipv4(inner_source6, AddressRole::Source)
                    .ok()?,
            },
            match outer.ipv4_for(inner_destination6) {
                Some(known) => known,
                None => addresses
                    .ipv6_to_ipv4(inner_destination6, AddressRole::Destination)
                    .ok()?,
            },
        )
    };
    let new_address_words =
        native_words(&inner_source.octets()) + native_words(&inner_destination.octets());

    // The patched words of the copy (§5.3: the inner checksum follows the
    // address change; an echo's type and pseudo-header change too), in
    // the machine's byte order like every sum here, and what they change
    // in the ICMPv4 checksum.
    let native = |bytes: &[u8]| u16::from_ne_bytes([bytes[0], bytes[1]]);
    let patched_sum = if inner_protocol == protocol::ICMPV6 {
        let inner_source6 = ipv6_address(&inner_bytes[..16]);
        let inner_destination6 = ipv6_address(&inner_bytes[16..]);
        let old_type = copied[0];
        let new_type = echo_type_6_to_4(old_type);
        let pseudo = ipv6_pseudo_header_sum(
            inner_source6,
            inner_destination6,
            protocol::ICMPV6,
            upper_length,
        );
        let checksum = u16::from_be_bytes([copied[2], copied[3]]);
        let new_checksum = echo_checksum_6_to_4(checksum, [old_type, new_type], copied[1], pseudo);
        let new_word = [new_type, copied[1]];
        copy_output[..2].copy_from_slice(&new_word);
        copy_output[2..4].copy_from_slice(&new_checksum.to_be_bytes());
        u64::from(!native(&copied[..2]))
            + u64::from(native(&new_word))
            + u64::from(!native(&copied[2..4]))
            + u64::from(native(&new_checksum.to_be_bytes()))
    } else if let Some(old) = copied.get(checksum_offset..checksum_offset + 2) {
        // RFC 1624 equation 3 holds in either byte order, and so do a UDP
        // 0 and 0xffff: `updated_transport_checksum`'s answer. The old
        // addresses are taken off as the 64-bit complement of their
        // unfolded sum (2^64 - 1 is a multiple of 0xffff, so it is their
        // negative modulo 0xffff too), the new ones added unfolded: a sum
        // of the same value modulo 0xffff, and not 0 while a new address
        // is not 0.0.0.0, as the general way's is not; both new addresses
        // 0.0.0.0 go the general way.
        if new_address_words == 0 {
            return None;
        }
        let checksum = native(old);
        let new_checksum = if inner_protocol == protocol::UDP && checksum == 0 {
            0
        } else {
            let updated = !fold(add_with_carry(
                u64::from(!checksum) + new_address_words,
                !inner_address_words,
            ));
            if inner_protocol == protocol::UDP && updated == 0 {
                0xffff
            } else {
                updated
            }
        };
        copy_output[checksum_offset..checksum_offset + 2]
            .copy_from_slice(&new_checksum.to_ne_bytes());
        u64::from(!checksum) + u64::from(new_checksum)
    } else {
        0
    };

    let payload_length = upper_length.min(usize::from(u16::MAX) - IPV4_HEADER_LENGTH);
    Ipv4Repr {
        source_address: inner_source,
        destination_address: inner_destination,
        protocol: ipv4_protocol,
        payload_length,
        time_to_live: fixed[7],
        traffic_class: match settings.traffic_class {
            TrafficClassPolicy::Copy => (u16::from_be_bytes([fixed[0], fixed[1]]) >> 4) as u8,
            TrafficClassPolicy::Zero => 0,
        },
        identification: 0,
        dont_fragment: IPV4_HEADER_LENGTH + payload_length > DONT_FRAGMENT_THRESHOLD,
        more_fragments: false,
        fragment_offset: 0,
    }
    .write_header(quoted_output);

    // The ICMPv4 checksum: the header, the quoted IPv4 header (whose words
    // sum to 0xffff, nothing modulo 0xffff, with its checksum) and the
    // copied data as patched. The type is never 0, so the folded sum is
    // never 0 and is the value summing the bytes gives.
    let mut header = error_header(new_type, new_code, second_word);
    let total = fold(native_words(&header) + u64::from(copied_native) + patched_sum);
    header[2..4].copy_from_slice(&(!total).to_ne_bytes());
    *header_output = header;
    Some(())
}
