//! IPv4 → IPv6 (RFC 7915 §4): the IPv4 header becomes an IPv6 header (§4.1), a Fragment Header when the packet is a fragment, then the payload (§4.2 ICMP, §4.5 transport checksums).

use core::net::{Ipv4Addr, Ipv6Addr};

use smoltcp::wire::{IpProtocol, Ipv6Packet};

use super::icmp::{icmpv4_type, icmpv6_type};
use super::{
    FRAGMENT_HEADER_LENGTH, Fragmentation, IPV4_HEADER_LENGTH, IPV6_HEADER_LENGTH, Ipv4ToIpv6Path,
    MAXIMUM_ICMPV6_ERROR, Translated, TranslationError, adjust_transport_checksum, icmp,
    ipv6_pseudo_header_sum, is_illegal_ipv4_source, protocol, pseudo_header_sum, read_u16,
    write_u16,
};
use crate::translation::checksum::{
    combine, copy_native_sum, fold, native_sum, native_words, sum, sum_ipv4, sum_ipv6,
    sum_ipv6_bits,
};
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

/// The common cases of §4, both of an unfragmented packet with a 20-byte
/// header (§4.1 with no options to look at), a valid header checksum and
/// both addresses mapped, that the next hop takes without fragmenting (DF
/// set and it fits, or DF clear and it fits `lowest_ipv6_mtu`):
/// - TCP or UDP from a source that §4.1 does not call illegal, its
///   transport header whole and, for UDP, a checksum that is not zero
///   (§4.5: nothing to compute);
/// - an ICMPv4 Destination Unreachable (codes with a §4.2 translation,
///   Fragmentation Needed included) or Time Exceeded with a valid
///   checksum and no RFC 4884 extension, quoting an option-free,
///   unfragmented IPv4 header of TCP, UDP or an ICMP echo whose addresses
///   are mapped (§4.3), whole (not cut to 1280 bytes).
///
/// Decided in two steps, so that a router routes, sizes and resolves the
/// output before the rest of the packet is looked at, and nothing of the
/// translation has to be kept while it does (RFC 7915 leaves the order
/// free): [`PlainIpv4ToIpv6::new`] checks the outer IPv4 header and maps
/// the destination, which gives the IPv6 destination, Hop Limit and
/// length; [`PlainIpv4ToIpv6::write`] maps the source, checks the rest
/// and writes the bytes [`translate`] would give (and, with
/// [`PlainIpv4ToIpv6::decrement_hop_limit`], the forward step after it),
/// without parsing options or walking the general ICMP code, or declines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlainIpv4ToIpv6 {
    /// The IPv6 destination (§4.1).
    destination: Ipv6Addr,
    /// The IPv6 Payload Length: the IPv4 payload's, 20 more for an ICMP
    /// error (its quoted IPv4 header becomes an IPv6 one).
    payload_length: u16,
    /// TCP, UDP or ICMPv6 (§4.1 "Next Header").
    next_header: u8,
    /// The Hop Limit [`PlainIpv4ToIpv6::write`] writes (the TTL).
    hop_limit: u8,
}

/// The ICMP header and the quoted IPv4 header, where the quoted packet's
/// data starts in an ICMPv4 error.
const QUOTED_DATA_OFFSET: usize = 8 + IPV4_HEADER_LENGTH;

impl PlainIpv4ToIpv6 {
    /// The first step: `packet`'s outer header is that of a plain case
    /// and its destination is mapped; or `None`, when it is anything but
    /// a plain case: then [`translate`] gives the answer (a refusal, a
    /// fragmentation, options, other ICMP, a zero UDP checksum). `None`
    /// is no refusal. [`PlainIpv4ToIpv6::write`] checks the rest.
    #[inline]
    pub fn new(
        packet: &[u8],
        addresses: &impl AddressTranslator,
        settings: &TranslationSettings,
        path: &Ipv4ToIpv6Path,
    ) -> Option<PlainIpv4ToIpv6> {
        let header: &[u8; IPV4_HEADER_LENGTH] =
            packet.get(..IPV4_HEADER_LENGTH)?.try_into().ok()?;
        let protocol_number = header[9];
        let total_length = usize::from(u16::from_be_bytes([header[2], header[3]]));
        let flags_and_offset = u16::from_be_bytes([header[6], header[7]]);
        // Version 4 without options (IHL 5), not a fragment (MF and the
        // offset clear), a header checksum that verifies (RFC 1812
        // §5.2.2, as `Ipv4Repr::parse` checks).
        if header[0] != 0x45
            || flags_and_offset & 0x3fff != 0
            || fold(native_words(header)) != 0xffff
        {
            return None;
        }
        let upper = packet.get(IPV4_HEADER_LENGTH..total_length)?;
        // §4.1: too big for the next hop is refused with DF set, and
        // fragmented with DF clear above `lowest_ipv6_mtu`.
        let fits = usize::from(if flags_and_offset & 0x4000 != 0 {
            path.ipv6_next_hop_mtu
        } else {
            settings.lowest_ipv6_mtu.min(path.ipv6_next_hop_mtu)
        });
        let (next_header, payload_length) = match protocol_number {
            protocol::TCP | protocol::UDP => {
                let smallest = if protocol_number == protocol::TCP {
                    20
                } else {
                    8
                };
                let source4 = Ipv4Addr::new(header[12], header[13], header[14], header[15]);
                if upper.len() < smallest
                    || (protocol_number == protocol::UDP && upper[6..8] == [0, 0])
                    || IPV6_HEADER_LENGTH + upper.len() > fits
                    || is_illegal_ipv4_source(source4)
                {
                    return None;
                }
                (protocol_number, upper.len())
            }
            protocol::ICMP => {
                // The error quotes the rest of the message (checked by
                // `write_icmp_error`): a quoted IPv4 header becomes an
                // IPv6 one, 20 bytes more. §4.1 "Source Address": an
                // error's source is translated even when illegal.
                if !matches!(
                    upper.first(),
                    Some(&(icmpv4_type::DESTINATION_UNREACHABLE | icmpv4_type::TIME_EXCEEDED))
                ) || IPV6_HEADER_LENGTH + upper.len() + 20 > fits
                {
                    return None;
                }
                (protocol::ICMPV6, upper.len() + 20)
            }
            _ => return None,
        };
        let destination4 = Ipv4Addr::new(header[16], header[17], header[18], header[19]);
        let destination = addresses
            .ipv4_to_ipv6(destination4, AddressRole::Destination)
            .ok()?;
        Some(PlainIpv4ToIpv6 {
            destination,
            payload_length: u16::try_from(payload_length).ok()?,
            next_header,
            hop_limit: header[8],
        })
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

    /// The second step: writes the IPv6 packet at the start of `output`,
    /// which holds [`PlainIpv4ToIpv6::length`] bytes, when the rest of
    /// `packet` (the one [`PlainIpv4ToIpv6::new`] was given, with the same
    /// `addresses`, `settings` and `path`) is a plain case too: the source
    /// is mapped, and an ICMP error is one of the plain shapes. Returns
    /// false otherwise (nothing is refused: [`translate`] gives the
    /// answer), having written part of `output` or, if `output` is too
    /// short, nothing.
    #[inline(always)]
    pub fn write(
        &self,
        packet: &[u8],
        addresses: &impl AddressTranslator,
        settings: &TranslationSettings,
        path: &Ipv4ToIpv6Path,
        output: &mut [u8],
    ) -> bool {
        let length = usize::from(self.payload_length);
        let Some(output) = output.get_mut(..IPV6_HEADER_LENGTH + length) else {
            return false;
        };
        let Some(header4) = packet.first_chunk::<IPV4_HEADER_LENGTH>() else {
            return false;
        };
        let source4 = Ipv4Addr::new(header4[12], header4[13], header4[14], header4[15]);
        let destination4 = Ipv4Addr::new(header4[16], header4[17], header4[18], header4[19]);
        let Ok(source) = addresses.ipv4_to_ipv6(source4, AddressRole::Source) else {
            return false;
        };
        let destination = self.destination;
        let (header, body) = output.split_at_mut(IPV6_HEADER_LENGTH);
        let ipv6_header = PlainIpv6Header {
            source,
            destination,
            traffic_class: traffic_class(header4[1], settings),
            next_header: self.next_header,
            hop_limit: self.hop_limit,
            payload_length: self.payload_length,
        };
        if self.next_header == protocol::ICMPV6 {
            // The header first: the ICMP error's sums read its addresses
            // back, and nothing of it is kept while the body is written.
            ipv6_header.write(header);
            // The message less the 20 bytes its quoted header grows by.
            let Some(message) = packet.get(IPV4_HEADER_LENGTH..IPV4_HEADER_LENGTH + length - 20)
            else {
                return false;
            };
            let Some((_, outer)) = header.split_first_chunk::<8>() else {
                return false;
            };
            let Ok(outer) = <&[u8; 32]>::try_from(outer) else {
                return false;
            };
            write_icmp_error(
                message,
                [source4, destination4],
                outer,
                addresses,
                settings,
                path,
                body,
            )
        } else {
            let Some(upper) = packet.get(IPV4_HEADER_LENGTH..IPV4_HEADER_LENGTH + length) else {
                return false;
            };
            body.copy_from_slice(upper);
            adjust_transport_checksum(
                body,
                self.next_header,
                [sum_ipv4(source4), sum_ipv4(destination4)],
                [sum_ipv6_bits(source), sum_ipv6_bits(destination)],
            );
            ipv6_header.write(header);
            true
        }
    }
}

/// The fields of an IPv6 header without extension headers.
struct PlainIpv6Header {
    source: Ipv6Addr,
    destination: Ipv6Addr,
    traffic_class: u8,
    next_header: u8,
    hop_limit: u8,
    payload_length: u16,
}

impl PlainIpv6Header {
    /// Writes the 40 bytes (version 6, flow label 0, §4.1).
    #[inline(always)]
    fn write(&self, header: &mut [u8]) {
        let Some(header) = header.get_mut(..IPV6_HEADER_LENGTH) else {
            return;
        };
        let first = 0x6000_0000u32 | u32::from(self.traffic_class) << 20;
        header[..4].copy_from_slice(&first.to_be_bytes());
        header[4..6].copy_from_slice(&self.payload_length.to_be_bytes());
        header[6] = self.next_header;
        header[7] = self.hop_limit;
        header[8..24].copy_from_slice(&self.source.octets());
        header[24..40].copy_from_slice(&self.destination.octets());
    }
}

/// The plain case of [`icmp::icmpv4_to_icmpv6`] for the ICMPv4 `message`
/// whose outer addresses are `outer4` and, as written in the IPv6 header,
/// `outer` (source, then destination): writes the ICMPv6 message into
/// `output` (which holds it exactly) and returns true, or returns false
/// for anything else (having written part of `output`).
///
/// Each part is written as soon as it is known, and its words added to
/// the checksum's sum then, so little is kept to the end: the header but
/// for the checksum, the quoted packet's IPv6 header from its fields, its
/// data (copied and summed in one pass; the sum as it arrived also
/// verifies the ICMPv4 checksum, so the message is not summed again),
/// the words the transport or echo checksum adjustment changed (§4.3, RFC
/// 1624), and the pseudo-header of the outer IPv6 addresses (§4.2). A sum
/// with the pseudo-header in it is never zero, so it is the value summing
/// the written bytes gives.
#[inline(always)]
fn write_icmp_error(
    message: &[u8],
    outer4: [Ipv4Addr; 2],
    outer: &[u8; 32],
    addresses: &impl AddressTranslator,
    settings: &TranslationSettings,
    path: &Ipv4ToIpv6Path,
    output: &mut [u8],
) -> bool {
    // The ICMP header and the quoted IPv4 header are whole.
    let Some((head, data)) = message.split_first_chunk::<QUOTED_DATA_OFFSET>() else {
        return false;
    };
    let Some((head_out, copied)) = output.split_first_chunk_mut::<{ 8 + IPV6_HEADER_LENGTH }>()
    else {
        return false;
    };
    if copied.len() != data.len() {
        return false;
    }
    // §4.2: Destination Unreachable and Time Exceeded; an RFC 4884
    // length attribute (byte 5) takes the general way.
    let (message_type, code) = (head[0], head[1]);
    let translated = match message_type {
        icmpv4_type::DESTINATION_UNREACHABLE => icmp::destination_unreachable_4_to_6(code),
        icmpv4_type::TIME_EXCEEDED => Some((icmpv6_type::TIME_EXCEEDED, code)),
        _ => None,
    };
    let Some((new_type, new_code)) = translated else {
        return false;
    };
    let quoted = &head[8..];
    // The quoted header: version 4, no options (byte 0), not a fragment
    // (MF and the offset clear: bytes 6 and 7), tested as one word.
    let Some(quoted_start) = quoted.first_chunk::<8>() else {
        return false;
    };
    if head[5] != 0 || u64::from_le_bytes(*quoted_start) & 0xff3f_0000_0000_00ff != 0x45 {
        return false;
    }
    let quoted_total_length = u16::from_be_bytes([quoted[2], quoted[3]]);
    // The quoted data is the rest of the message: bytes beyond the quoted
    // Total Length (left out by `translate`) take the general way.
    let Some(upper_length) = quoted_total_length.checked_sub(IPV4_HEADER_LENGTH as u16) else {
        return false;
    };
    if data.len() > usize::from(upper_length) {
        return false;
    }
    let (quoted_protocol, next_header) = match quoted[9] {
        protocol::TCP => (protocol::TCP, protocol::TCP),
        protocol::UDP => (protocol::UDP, protocol::UDP),
        protocol::ICMP
            if matches!(
                data.first(),
                Some(&(icmpv4_type::ECHO_REQUEST | icmpv4_type::ECHO_REPLY))
            ) =>
        {
            (protocol::ICMP, protocol::ICMPV6)
        }
        _ => return false,
    };
    // Not cut to fit 1280 bytes (RFC 4443 §2.4(c)).
    if 8 + IPV6_HEADER_LENGTH + data.len() > MAXIMUM_ICMPV6_ERROR - IPV6_HEADER_LENGTH {
        return false;
    }
    let (header, quoted_header) = head_out.split_at_mut(8);
    // The ICMPv6 header, its checksum 0 for now, and its words.
    let second_word = match new_type {
        icmpv6_type::PACKET_TOO_BIG => {
            let mtu = u16::from_be_bytes([head[6], head[7]]);
            icmp::packet_too_big_mtu_4_to_6(mtu, quoted_total_length, path)
        }
        // 3/2 → 4/1 pointing at the IPv6 Next Header (§4.2).
        icmpv6_type::PARAMETER_PROBLEM => 6,
        _ => 0,
    };
    header.copy_from_slice(&icmp::error_header(
        new_type,
        new_code,
        second_word.to_be_bytes(),
    ));
    let mut total = u64::from(u16::from_be_bytes([new_type, new_code]))
        + u64::from(second_word >> 16)
        + u64::from(second_word & 0xffff);
    // The quoted IPv6 header's first 8 bytes (§4.3: its TTL kept).
    let traffic_class = traffic_class(quoted[1], settings);
    let quoted_first = 0x6000_0000u32 | u32::from(traffic_class) << 20;
    quoted_header[..4].copy_from_slice(&quoted_first.to_be_bytes());
    quoted_header[4..6].copy_from_slice(&upper_length.to_be_bytes());
    quoted_header[6] = next_header;
    quoted_header[7] = quoted[8];
    total += u64::from(quoted_first >> 16)
        + u64::from(upper_length)
        + u64::from(u16::from_be_bytes([next_header, quoted[8]]));
    // The data, and the message's checksum verified (see the module docs
    // of `stateless`): both sums in the machine's byte order (see
    // `native_words`), then the data's as big-endian words.
    let quoted_data_sum = copy_native_sum(data, copied);
    if fold(native_words(head) + u64::from(quoted_data_sum)) != 0xffff {
        return false;
    }
    total += u64::from(quoted_data_sum.to_be());
    // §4.3: the quoted addresses, usually the outer ones swapped; their
    // sum, in either order, that of the outer ones.
    let (outer_source, outer_destination) = outer.split_at(16);
    let outer_address_sum = u16::from_be(native_sum(outer));
    let quoted_source4 = Ipv4Addr::new(quoted[12], quoted[13], quoted[14], quoted[15]);
    let quoted_destination4 = Ipv4Addr::new(quoted[16], quoted[17], quoted[18], quoted[19]);
    let quoted_address_sum = if addresses.ignores_role()
        && quoted_source4 == outer4[1]
        && quoted_destination4 == outer4[0]
    {
        quoted_header[8..24].copy_from_slice(outer_destination);
        quoted_header[24..40].copy_from_slice(outer_source);
        outer_address_sum
    } else {
        let address = |bytes: &[u8]| Ipv6Addr::from(<[u8; 16]>::try_from(bytes).unwrap_or([0; 16]));
        let outer = [
            (outer4[0], address(outer_source)),
            (outer4[1], address(outer_destination)),
        ];
        let Some(source) = known_or_mapped(quoted_source4, AddressRole::Source, outer, addresses)
        else {
            return false;
        };
        let Some(destination) = known_or_mapped(
            quoted_destination4,
            AddressRole::Destination,
            outer,
            addresses,
        ) else {
            return false;
        };
        quoted_header[8..24].copy_from_slice(&source.octets());
        quoted_header[24..40].copy_from_slice(&destination.octets());
        address_pair_sum(source, destination)
    };
    total += u64::from(quoted_address_sum);
    // Runs of the adjustment and the pseudo-header: the two addresses'
    // sum, and 0.
    let quoted_sums = [quoted_address_sum, 0];
    // The data words the adjustment changes: (old, new) twice.
    if quoted_protocol == protocol::ICMP {
        // The quoted echo's type, and its checksum for the type and the
        // ICMPv6 pseudo-header.
        let old_type = copied[0];
        let new_type = icmp::echo_type_4_to_6(old_type);
        copied[0] = new_type;
        // A lone type byte sums as the word (type, 0).
        let code = copied.get(1).copied().unwrap_or(0);
        let old_word = u16::from_be_bytes([old_type, code]);
        let new_word = u16::from_be_bytes([new_type, code]);
        total += u64::from(!old_word) + u64::from(new_word);
        if let Some(checksum) = read_u16(copied, 2) {
            let adjusted = combine(&[
                !checksum,
                !old_word,
                new_word,
                pseudo_header_sum(quoted_sums, protocol::ICMPV6, usize::from(upper_length)),
            ]);
            copied[2..4].copy_from_slice(&(!adjusted).to_be_bytes());
            total += u64::from(!checksum) + u64::from(!adjusted);
        }
    } else {
        // The quoted IPv4 addresses sum as one word, as only their sum
        // enters a checksum.
        let old_sum = u16::from_be(fold(
            u64::from(u32::from_ne_bytes(quoted_source4.octets()))
                + u64::from(u32::from_ne_bytes(quoted_destination4.octets())),
        ));
        if let Some((old, new)) =
            adjust_transport_checksum(copied, quoted_protocol, [old_sum, 0], quoted_sums)
        {
            total += u64::from(!old) + u64::from(new);
        }
    }
    // The pseudo-header; its length (at most 1240) is one word.
    total += u64::from(outer_address_sum)
        + (8 + IPV6_HEADER_LENGTH + data.len()) as u64
        + u64::from(protocol::ICMPV6);
    header[2..4].copy_from_slice(&(!fold(total)).to_be_bytes());
    true
}

/// The IPv4 → IPv6 mapping of an address quoted in an ICMPv4 error: the
/// outer header's answer when it is one of the outer addresses and the
/// translator ignores roles, else asked.
#[inline(always)]
fn known_or_mapped(
    address: Ipv4Addr,
    role: AddressRole,
    outer: [(Ipv4Addr, Ipv6Addr); 2],
    addresses: &impl AddressTranslator,
) -> Option<Ipv6Addr> {
    if addresses.ignores_role() {
        if address == outer[1].0 {
            return Some(outer[1].1);
        }
        if address == outer[0].0 {
            return Some(outer[0].1);
        }
    }
    addresses.ipv4_to_ipv6(address, role).ok()
}

/// The one's complement sum of two IPv6 addresses' 32 bytes ([`sum_ipv6_bits`]
/// of both, folded once).
#[inline(always)]
fn address_pair_sum(first: Ipv6Addr, second: Ipv6Addr) -> u16 {
    let words = |address: Ipv6Addr| {
        let bits = address.to_bits();
        u64::from((bits >> 96) as u32)
            + u64::from((bits >> 64) as u32)
            + u64::from((bits >> 32) as u32)
            + u64::from(bits as u32)
    };
    fold(words(first) + words(second))
}

/// §4.1 "Traffic Class" from the Type of Service, by the policy.
#[inline(always)]
fn traffic_class(type_of_service: u8, settings: &TranslationSettings) -> u8 {
    match settings.traffic_class {
        TrafficClassPolicy::Copy => type_of_service,
        TrafficClassPolicy::Zero => 0,
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
