//! The flow of a packet for NAT64 (RFC 6146 §3.4, §3.5): its protocol and transport addresses, read from the packet or, for an ICMP error, from the packet it quotes; and the in-place rewrite of the port or ICMP identifier that the session translates.
//!
//! NAT64 reuses the stateless RFC 7915 core for the headers: the port (or
//! ICMP query identifier, §3.5.3) is rewritten in a copy of the received
//! packet first, with the transport checksum updated incrementally
//! (RFC 1624), and the copy is then translated with the session's
//! addresses (see `engine`). For an ICMP error the rewrite is in the
//! quoted packet, and the ICMP checksum is updated too, since the core
//! verifies it.
//!
//! The flow is always told from the session's point of view:
//! - from IPv6: `local` is the IPv6 host's (X', x), `remote` is the
//!   destination (Y', y) under pool6; for an ICMPv6 error about a packet
//!   Y' sent to X', the quoted packet's destination and source;
//! - from IPv4: `local` is the pool4 transport address (T, t) the packet
//!   is for, `remote` is its source (Z, z); for an ICMPv4 error, the quoted
//!   packet's source and destination.

use core::net::{Ipv4Addr, Ipv6Addr};

use super::super::checksum::update_word;

/// IANA protocol numbers used here.
mod number {
    pub const HOP_BY_HOP: u8 = 0;
    pub const ICMP: u8 = 1;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    pub const ROUTING: u8 = 43;
    pub const FRAGMENT: u8 = 44;
    pub const ICMPV6: u8 = 58;
    pub const DESTINATION_OPTIONS: u8 = 60;
}

/// The protocols NAT64 keeps state for (RFC 6146 §1: TCP, UDP, ICMP query).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Nat64Protocol {
    /// TCP: ports.
    Tcp,
    /// UDP: ports.
    Udp,
    /// ICMP Echo: the identifier stands for both ports (§3.5.3).
    Icmp,
}

/// Why a packet has no NAT64 flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowError {
    /// The IP header, an extension header or the transport header is cut off.
    Truncated,
    /// A protocol NAT64 does not translate (RFC 6146 §1.2: only TCP, UDP
    /// and ICMP).
    UnsupportedProtocol,
    /// An ICMP message that is neither Echo nor an error RFC 7915
    /// translates.
    UnsupportedIcmp,
    /// A fragment other than the first: it carries no ports.
    NonFirstFragment,
}

/// A packet's NAT64 flow (see the module documentation for the sides).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flow<A> {
    /// The protocol.
    pub protocol: Nat64Protocol,
    /// The session's near side: (X', x) from IPv6, (T, t) from IPv4.
    pub local: (A, u16),
    /// The far side: (Y', y) from IPv6, (Z, z) from IPv4.
    pub remote: (A, u16),
    /// The TCP flags byte (0 for UDP and ICMP, and for ICMP errors).
    pub tcp_flags: u8,
    /// The packet is an ICMP error and the flow is its quoted packet's.
    pub is_icmp_error: bool,
    /// Where the local port or identifier is: its offset in the packet,
    /// and (for errors) the offset of the ICMP checksum to keep right.
    rewrite: Rewrite,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Rewrite {
    /// Offset of the 16-bit port or identifier to rewrite.
    port: usize,
    /// Offset of the checksum that covers it, if any (the transport or
    /// ICMP checksum), or `None` when it lies beyond the quoted bytes.
    transport_checksum: Option<usize>,
    /// For errors: the offset of the outer ICMP checksum.
    outer_icmp_checksum: Option<usize>,
}

fn read_u16(bytes: &[u8], offset: usize) -> Option<u16> {
    let pair = bytes.get(offset..offset + 2)?;
    Some(u16::from_be_bytes([pair[0], pair[1]]))
}

fn ipv6_address(bytes: &[u8], offset: usize) -> Option<Ipv6Addr> {
    let octets: [u8; 16] = bytes.get(offset..offset + 16)?.try_into().ok()?;
    Some(Ipv6Addr::from(octets))
}

fn ipv4_address(bytes: &[u8], offset: usize) -> Option<Ipv4Addr> {
    let octets: [u8; 4] = bytes.get(offset..offset + 4)?.try_into().ok()?;
    Some(Ipv4Addr::from(octets))
}

/// An IPv6 header at `start`: the upper-layer protocol, its offset, and
/// whether it is a non-first fragment.
fn walk_ipv6(packet: &[u8], start: usize) -> Result<(u8, usize, bool), FlowError> {
    let mut next_header = *packet.get(start + 6).ok_or(FlowError::Truncated)?;
    let mut offset = start + 40;
    let mut non_first_fragment = false;
    for _ in 0..8 {
        match next_header {
            number::HOP_BY_HOP | number::ROUTING | number::DESTINATION_OPTIONS => {
                let length = usize::from(*packet.get(offset + 1).ok_or(FlowError::Truncated)?);
                next_header = *packet.get(offset).ok_or(FlowError::Truncated)?;
                offset += (length + 1) * 8;
            }
            number::FRAGMENT => {
                let fragment_offset = read_u16(packet, offset + 2).ok_or(FlowError::Truncated)?;
                non_first_fragment = fragment_offset & 0xfff8 != 0;
                next_header = *packet.get(offset).ok_or(FlowError::Truncated)?;
                offset += 8;
            }
            _ => return Ok((next_header, offset, non_first_fragment)),
        }
    }
    Err(FlowError::UnsupportedProtocol)
}

/// The transport part of a flow at `offset` in `packet`: protocol, source
/// and destination port (both the identifier for Echo), TCP flags, and the
/// offset of the checksum. `icmp_echo` is the Echo Request/Reply types of
/// the family. `quoted` relaxes the length rule: only the ports must be
/// present.
fn transport(
    packet: &[u8],
    protocol: u8,
    offset: usize,
    icmp_number: u8,
    echo_types: [u8; 2],
    quoted: bool,
) -> Result<(Nat64Protocol, u16, u16, u8, usize), FlowError> {
    match protocol {
        number::TCP | number::UDP => {
            let source = read_u16(packet, offset).ok_or(FlowError::Truncated)?;
            let destination = read_u16(packet, offset + 2).ok_or(FlowError::Truncated)?;
            let (kind, checksum, minimum) = if protocol == number::TCP {
                (Nat64Protocol::Tcp, offset + 16, 20)
            } else {
                (Nat64Protocol::Udp, offset + 6, 8)
            };
            if !quoted && packet.len() < offset + minimum {
                return Err(FlowError::Truncated);
            }
            let flags = if protocol == number::TCP {
                packet.get(offset + 13).copied().unwrap_or(0)
            } else {
                0
            };
            Ok((kind, source, destination, flags, checksum))
        }
        number if number == icmp_number => {
            let message_type = *packet.get(offset).ok_or(FlowError::Truncated)?;
            if !echo_types.contains(&message_type) {
                return Err(FlowError::UnsupportedIcmp);
            }
            let identifier = read_u16(packet, offset + 4).ok_or(FlowError::Truncated)?;
            Ok((Nat64Protocol::Icmp, identifier, identifier, 0, offset + 2))
        }
        _ => Err(FlowError::UnsupportedProtocol),
    }
}

const ICMPV6_ECHO: [u8; 2] = [128, 129];
const ICMPV4_ECHO: [u8; 2] = [8, 0];

/// ICMPv6 errors RFC 7915 §5.2 translates: Destination Unreachable,
/// Packet Too Big, Time Exceeded, Parameter Problem.
fn is_icmpv6_error(message_type: u8) -> bool {
    matches!(message_type, 1..=4)
}

/// ICMPv4 errors RFC 7915 §4.2 translates: Destination Unreachable, Time
/// Exceeded, Parameter Problem.
fn is_icmpv4_error(message_type: u8) -> bool {
    matches!(message_type, 3 | 11 | 12)
}

/// What identifies a fragment's datagram, and where the fragment sits in
/// it (RFC 791 §3.2, RFC 8200 §4.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FragmentFacts {
    /// The datagram: (source, destination, protocol, Identification); an
    /// IPv4 address is stored as its 32 bits.
    pub source: u128,
    /// See `source`.
    pub destination: u128,
    /// The upper-layer protocol (the Fragment header's Next Header).
    pub protocol: u8,
    /// The Identification (16 bits in IPv4, 32 in IPv6).
    pub identification: u32,
    /// The fragment's data offset in the datagram, in bytes.
    pub offset: usize,
    /// The More Fragments flag.
    pub more: bool,
    /// The fragment's data length (after the IP header and, in IPv6, the
    /// Fragment header).
    pub data_length: usize,
}

impl FragmentFacts {
    /// Whether this is a real fragment (not a whole packet, nor an IPv6
    /// atomic fragment).
    pub fn is_fragment(&self) -> bool {
        self.offset != 0 || self.more
    }
}

/// The fragment facts of an IPv6 packet with a Fragment header, or `None`.
#[inline]
pub fn ipv6_fragment(packet: &[u8]) -> Option<FragmentFacts> {
    let next_header = *packet.get(6)?;
    // Most packets have no extension header at all.
    if !matches!(
        next_header,
        number::HOP_BY_HOP | number::ROUTING | number::DESTINATION_OPTIONS | number::FRAGMENT
    ) {
        return None;
    }
    ipv6_extension_fragment(packet, next_header)
}

/// [`ipv6_fragment`] past the first Next Header.
fn ipv6_extension_fragment(packet: &[u8], mut next_header: u8) -> Option<FragmentFacts> {
    let end = 40 + usize::from(read_u16(packet, 4)?);
    let mut offset = 40;
    for _ in 0..8 {
        match next_header {
            number::HOP_BY_HOP | number::ROUTING | number::DESTINATION_OPTIONS => {
                let length = usize::from(*packet.get(offset + 1)?);
                next_header = *packet.get(offset)?;
                offset += (length + 1) * 8;
            }
            number::FRAGMENT => {
                let word = read_u16(packet, offset + 2)?;
                let identification =
                    u32::from_be_bytes(packet.get(offset + 4..offset + 8)?.try_into().ok()?);
                return Some(FragmentFacts {
                    source: ipv6_address(packet, 8)?.to_bits(),
                    destination: ipv6_address(packet, 24)?.to_bits(),
                    protocol: *packet.get(offset)?,
                    identification,
                    offset: usize::from(word & 0xfff8),
                    more: word & 1 != 0,
                    data_length: end.checked_sub(offset + 8)?,
                });
            }
            _ => return None,
        }
    }
    None
}

/// The fragment facts of an IPv4 fragment, or `None` for a whole packet
/// (offset 0, More Fragments clear).
#[inline]
pub fn ipv4_fragment(packet: &[u8]) -> Option<FragmentFacts> {
    let word = read_u16(packet, 6)?;
    if word & 0x3fff == 0 {
        return None;
    }
    let header_length = usize::from(*packet.first()? & 0x0f) * 4;
    Some(FragmentFacts {
        source: u128::from(ipv4_address(packet, 12)?.to_bits()),
        destination: u128::from(ipv4_address(packet, 16)?.to_bits()),
        protocol: *packet.get(9)?,
        identification: u32::from(read_u16(packet, 4)?),
        offset: usize::from(word & 0x1fff) * 8,
        more: word & 0x2000 != 0,
        data_length: usize::from(read_u16(packet, 2)?).checked_sub(header_length)?,
    })
}

/// The flow of an IPv6 packet (RFC 6146 §3.4 "tuple" from IPv6).
pub fn ipv6_flow(packet: &[u8]) -> Result<Flow<Ipv6Addr>, FlowError> {
    let (protocol, offset, non_first) = walk_ipv6(packet, 0)?;
    if non_first {
        return Err(FlowError::NonFirstFragment);
    }
    let source = ipv6_address(packet, 8).ok_or(FlowError::Truncated)?;
    let destination = ipv6_address(packet, 24).ok_or(FlowError::Truncated)?;
    if protocol == number::ICMPV6 {
        let message_type = *packet.get(offset).ok_or(FlowError::Truncated)?;
        if is_icmpv6_error(message_type) {
            // The quoted packet went from the remote Y' to the local X'.
            let inner = offset + 8;
            let (inner_protocol, inner_offset, inner_non_first) = walk_ipv6(packet, inner)?;
            if inner_non_first {
                return Err(FlowError::NonFirstFragment);
            }
            let inner_source = ipv6_address(packet, inner + 8).ok_or(FlowError::Truncated)?;
            let inner_destination = ipv6_address(packet, inner + 24).ok_or(FlowError::Truncated)?;
            let (kind, source_port, destination_port, _, checksum) = transport(
                packet,
                inner_protocol,
                inner_offset,
                number::ICMPV6,
                ICMPV6_ECHO,
                true,
            )?;
            // An Echo quoted in an error: the identifier is the local one.
            let port_offset = if kind == Nat64Protocol::Icmp {
                inner_offset + 4
            } else {
                inner_offset + 2
            };
            return Ok(Flow {
                protocol: kind,
                local: (inner_destination, destination_port),
                remote: (inner_source, source_port),
                tcp_flags: 0,
                is_icmp_error: true,
                rewrite: Rewrite {
                    port: port_offset,
                    transport_checksum: (checksum + 2 <= packet.len()).then_some(checksum),
                    outer_icmp_checksum: Some(offset + 2),
                },
            });
        }
    }
    let (kind, source_port, destination_port, flags, checksum) =
        transport(packet, protocol, offset, number::ICMPV6, ICMPV6_ECHO, false)?;
    let port_offset = if kind == Nat64Protocol::Icmp {
        offset + 4
    } else {
        offset
    };
    Ok(Flow {
        protocol: kind,
        local: (source, source_port),
        remote: (destination, destination_port),
        tcp_flags: flags,
        is_icmp_error: false,
        rewrite: Rewrite {
            port: port_offset,
            transport_checksum: Some(checksum),
            outer_icmp_checksum: None,
        },
    })
}

/// The flow of an IPv4 packet (RFC 6146 §3.4 "tuple" from IPv4). The
/// header must be valid (the caller parsed it).
pub fn ipv4_flow(packet: &[u8]) -> Result<Flow<Ipv4Addr>, FlowError> {
    let header_length = usize::from(*packet.first().ok_or(FlowError::Truncated)? & 0x0f) * 4;
    let fragment = read_u16(packet, 6).ok_or(FlowError::Truncated)?;
    if fragment & 0x1fff != 0 {
        return Err(FlowError::NonFirstFragment);
    }
    let protocol = *packet.get(9).ok_or(FlowError::Truncated)?;
    let source = ipv4_address(packet, 12).ok_or(FlowError::Truncated)?;
    let destination = ipv4_address(packet, 16).ok_or(FlowError::Truncated)?;
    let offset = header_length;
    if protocol == number::ICMP {
        let message_type = *packet.get(offset).ok_or(FlowError::Truncated)?;
        if is_icmpv4_error(message_type) {
            // The quoted packet went from the local T to the remote Z.
            let inner = offset + 8;
            let inner_header_length =
                usize::from(*packet.get(inner).ok_or(FlowError::Truncated)? & 0x0f) * 4;
            let inner_fragment = read_u16(packet, inner + 6).ok_or(FlowError::Truncated)?;
            if inner_fragment & 0x1fff != 0 {
                return Err(FlowError::NonFirstFragment);
            }
            let inner_protocol = *packet.get(inner + 9).ok_or(FlowError::Truncated)?;
            let inner_source = ipv4_address(packet, inner + 12).ok_or(FlowError::Truncated)?;
            let inner_destination = ipv4_address(packet, inner + 16).ok_or(FlowError::Truncated)?;
            let inner_offset = inner + inner_header_length;
            let (kind, source_port, destination_port, _, checksum) = transport(
                packet,
                inner_protocol,
                inner_offset,
                number::ICMP,
                ICMPV4_ECHO,
                true,
            )?;
            let port_offset = if kind == Nat64Protocol::Icmp {
                inner_offset + 4
            } else {
                inner_offset
            };
            return Ok(Flow {
                protocol: kind,
                local: (inner_source, source_port),
                remote: (inner_destination, destination_port),
                tcp_flags: 0,
                is_icmp_error: true,
                rewrite: Rewrite {
                    port: port_offset,
                    transport_checksum: (checksum + 2 <= packet.len()).then_some(checksum),
                    outer_icmp_checksum: Some(offset + 2),
                },
            });
        }
    }
    let (kind, source_port, destination_port, flags, checksum) =
        transport(packet, protocol, offset, number::ICMP, ICMPV4_ECHO, false)?;
    let port_offset = if kind == Nat64Protocol::Icmp {
        offset + 4
    } else {
        offset + 2
    };
    Ok(Flow {
        protocol: kind,
        local: (destination, destination_port),
        remote: (source, source_port),
        tcp_flags: flags,
        is_icmp_error: false,
        rewrite: Rewrite {
            port: port_offset,
            transport_checksum: Some(checksum),
            outer_icmp_checksum: None,
        },
    })
}

impl<A> Flow<A> {
    /// Writes `port` over the flow's local port (or identifier) in
    /// `packet`, the packet the flow was read from, and updates the
    /// checksums that cover it (RFC 1624): the transport or ICMP checksum,
    /// and for an error also the outer ICMP checksum, which covers the
    /// quoted bytes. A UDP checksum of zero (none) stays zero.
    pub fn rewrite_local_port(&self, packet: &mut [u8], port: u16) {
        let Some(old) = read_u16(packet, self.rewrite.port) else {
            return;
        };
        if old == port {
            return;
        }
        packet[self.rewrite.port..self.rewrite.port + 2].copy_from_slice(&port.to_be_bytes());
        let mut inner_checksum_change = None;
        if let Some(offset) = self.rewrite.transport_checksum
            && let Some(checksum) = read_u16(packet, offset)
        {
            let no_udp_checksum = self.protocol == Nat64Protocol::Udp && checksum == 0;
            if !no_udp_checksum {
                let mut updated = update_word(checksum, old, port);
                // RFC 1624 equation 3 may give 0x0000 for a sum whose
                // other form is 0xffff; in UDP, 0 means "no checksum"
                // (refused from IPv6, recomputed or refused from IPv4), so
                // a computed zero is sent as 0xffff (RFC 768).
                if self.protocol == Nat64Protocol::Udp && updated == 0 {
                    updated = 0xffff;
                }
                packet[offset..offset + 2].copy_from_slice(&updated.to_be_bytes());
                inner_checksum_change = Some((checksum, updated));
            }
        }
        if let Some(offset) = self.rewrite.outer_icmp_checksum
            && let Some(mut checksum) = read_u16(packet, offset)
        {
            checksum = update_word(checksum, old, port);
            if let Some((before, after)) = inner_checksum_change {
                checksum = update_word(checksum, before, after);
            }
            packet[offset..offset + 2].copy_from_slice(&checksum.to_be_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use etherparse::{PacketBuilder, SlicedPacket, TransportSlice};

    const HOST: [u8; 16] = [
        0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a,
    ];
    const REMOTE: [u8; 16] = [
        0x20, 0x01, 0x0d, 0xb8, 0, 0x64, 0, 0, 0, 0, 0, 0, 203, 0, 113, 80,
    ];

    fn udp6(payload: &[u8]) -> Vec<u8> {
        let mut bytes = Vec::new();
        PacketBuilder::ipv6(HOST, REMOTE, 64)
            .udp(40000, 53)
            .write(&mut bytes, payload)
            .unwrap();
        bytes
    }

    #[test]
    fn udp_flow_from_ipv6_and_port_rewrite_keeps_the_checksum_right() {
        let mut packet = udp6(b"query");
        let flow = ipv6_flow(&packet).unwrap();
        assert_eq!(flow.protocol, Nat64Protocol::Udp);
        assert_eq!(flow.local, (Ipv6Addr::from(HOST), 40000));
        assert_eq!(flow.remote, (Ipv6Addr::from(REMOTE), 53));
        assert!(!flow.is_icmp_error);
        flow.rewrite_local_port(&mut packet, 61001);
        let sliced = SlicedPacket::from_ip(&packet).unwrap();
        let Some(TransportSlice::Udp(udp)) = sliced.transport else {
            panic!("UDP")
        };
        assert_eq!(udp.source_port(), 61001);
        let Some(etherparse::NetSlice::Ipv6(ipv6)) = sliced.net else {
            panic!("IPv6")
        };
        let expected = udp
            .to_header()
            .calc_checksum_ipv6(&ipv6.header().to_header(), udp.payload())
            .unwrap();
        assert_eq!(udp.checksum(), expected);
    }

    #[test]
    fn a_udp_checksum_that_updates_to_zero_is_sent_as_all_ones() {
        // Among all payload words, one makes the RFC 1624 update come out
        // as 0x0000: it must be written 0xffff (RFC 768), and verify.
        let mut zero_cases = 0;
        for word in 0..=u16::MAX {
            let mut packet = udp6(&word.to_be_bytes());
            let before = u16::from_be_bytes([packet[46], packet[47]]);
            if update_word(before, 40000, 61001) == 0 {
                zero_cases += 1;
                let flow = ipv6_flow(&packet).unwrap();
                flow.rewrite_local_port(&mut packet, 61001);
                let sliced = SlicedPacket::from_ip(&packet).unwrap();
                let Some(TransportSlice::Udp(udp)) = sliced.transport else {
                    panic!("UDP")
                };
                assert_eq!(udp.checksum(), 0xffff);
                let Some(etherparse::NetSlice::Ipv6(ipv6)) = sliced.net else {
                    panic!("IPv6")
                };
                let expected = udp
                    .to_header()
                    .calc_checksum_ipv6(&ipv6.header().to_header(), udp.payload())
                    .unwrap();
                assert_eq!(udp.checksum(), expected);
            }
        }
        assert!(zero_cases > 0, "the case was reached");
    }

    #[test]
    fn tcp_flow_from_ipv4_names_the_pool4_side_local() {
        let mut packet = Vec::new();
        PacketBuilder::ipv4([203, 0, 113, 80], [192, 0, 2, 1], 64)
            .tcp(80, 61001, 1, 1000)
            .syn()
            .ack(5)
            .write(&mut packet, b"")
            .unwrap();
        let flow = ipv4_flow(&packet).unwrap();
        assert_eq!(flow.protocol, Nat64Protocol::Tcp);
        assert_eq!(flow.local, (Ipv4Addr::new(192, 0, 2, 1), 61001));
        assert_eq!(flow.remote, (Ipv4Addr::new(203, 0, 113, 80), 80));
        assert_eq!(flow.tcp_flags & 0x12, 0x12, "SYN and ACK");
        flow.rewrite_local_port(&mut packet, 40000);
        let sliced = SlicedPacket::from_ip(&packet).unwrap();
        let Some(TransportSlice::Tcp(tcp)) = sliced.transport else {
            panic!("TCP")
        };
        assert_eq!(tcp.destination_port(), 40000);
        let Some(etherparse::NetSlice::Ipv4(ipv4)) = sliced.net else {
            panic!("IPv4")
        };
        let expected = tcp
            .to_header()
            .calc_checksum_ipv4(&ipv4.header().to_header(), tcp.payload())
            .unwrap();
        assert_eq!(tcp.checksum(), expected);
    }

    #[test]
    fn echo_identifier_is_both_ports() {
        let mut packet = Vec::new();
        PacketBuilder::ipv6(HOST, REMOTE, 64)
            .icmpv6_echo_request(0x4242, 1)
            .write(&mut packet, b"ping")
            .unwrap();
        let flow = ipv6_flow(&packet).unwrap();
        assert_eq!(flow.protocol, Nat64Protocol::Icmp);
        assert_eq!(flow.local.1, 0x4242);
        assert_eq!(flow.remote.1, 0x4242);
        flow.rewrite_local_port(&mut packet, 7);
        let sliced = SlicedPacket::from_ip(&packet).unwrap();
        let Some(TransportSlice::Icmpv6(icmp)) = sliced.transport else {
            panic!("ICMPv6")
        };
        let Some(etherparse::NetSlice::Ipv6(ipv6)) = sliced.net else {
            panic!("IPv6")
        };
        let header = ipv6.header();
        let expected = icmp
            .icmp_type()
            .calc_checksum(header.source(), header.destination(), icmp.payload())
            .unwrap();
        assert!(
            matches!(icmp.icmp_type(), etherparse::Icmpv6Type::EchoRequest(echo) if echo.id == 7)
        );
        assert_eq!(icmp.checksum(), expected);
    }

    #[test]
    fn icmpv4_error_flow_is_its_quoted_packet_and_both_checksums_follow_the_rewrite() {
        // The remote answers our translated datagram T:61001 -> Z:53 with
        // port unreachable.
        let mut quoted = Vec::new();
        PacketBuilder::ipv4([192, 0, 2, 1], [203, 0, 113, 80], 63)
            .udp(61001, 53)
            .write(&mut quoted, b"query")
            .unwrap();
        let mut packet = Vec::new();
        PacketBuilder::ipv4([203, 0, 113, 80], [192, 0, 2, 1], 64)
            .icmpv4(etherparse::Icmpv4Type::DestinationUnreachable(
                etherparse::icmpv4::DestUnreachableHeader::Port,
            ))
            .write(&mut packet, &quoted)
            .unwrap();
        let flow = ipv4_flow(&packet).unwrap();
        assert!(flow.is_icmp_error);
        assert_eq!(flow.protocol, Nat64Protocol::Udp);
        assert_eq!(flow.local, (Ipv4Addr::new(192, 0, 2, 1), 61001));
        assert_eq!(flow.remote, (Ipv4Addr::new(203, 0, 113, 80), 53));
        flow.rewrite_local_port(&mut packet, 40000);
        let sliced = SlicedPacket::from_ip(&packet).unwrap();
        let Some(TransportSlice::Icmpv4(icmp)) = sliced.transport else {
            panic!("ICMPv4")
        };
        assert_eq!(
            icmp.checksum(),
            icmp.icmp_type().calc_checksum(icmp.payload()),
            "outer ICMPv4 checksum"
        );
        let inner = SlicedPacket::from_ip(icmp.payload()).unwrap();
        let Some(TransportSlice::Udp(udp)) = inner.transport else {
            panic!("quoted UDP")
        };
        assert_eq!(udp.source_port(), 40000);
        let Some(etherparse::NetSlice::Ipv4(ipv4)) = inner.net else {
            panic!("quoted IPv4")
        };
        let expected = udp
            .to_header()
            .calc_checksum_ipv4(&ipv4.header().to_header(), udp.payload())
            .unwrap();
        assert_eq!(udp.checksum(), expected, "quoted UDP checksum");
    }

    #[test]
    fn non_first_fragments_and_other_protocols_have_no_flow() {
        let mut packet = Vec::new();
        PacketBuilder::ipv4([203, 0, 113, 80], [192, 0, 2, 1], 64)
            .udp(53, 61001)
            .write(&mut packet, b"x")
            .unwrap();
        packet[6] = 0x00;
        packet[7] = 0x10;
        assert_eq!(ipv4_flow(&packet), Err(FlowError::NonFirstFragment));
        let mut other = udp6(b"x");
        other[6] = 132; // SCTP
        assert_eq!(ipv6_flow(&other), Err(FlowError::UnsupportedProtocol));
        for length in 0..other.len() {
            let _ = ipv6_flow(&other[..length]);
            let _ = ipv4_flow(&packet[..length.min(packet.len())]);
        }
    }
}
