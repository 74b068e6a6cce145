//! ICMPv6 error messages the router originates: when, from which address, how large, how often (RFC 4443 §2.2, §2.4, §3).
//!
//! - **Never** (§2.4(e)) in response to an ICMPv6 error message or a
//!   Redirect, to a packet sent to an IPv6 multicast address or to a
//!   link-layer multicast or broadcast address (except Packet Too Big and
//!   Parameter Problem code 2 for an option whose action bits are `10`),
//!   or to a packet whose source is :: or multicast. Counted as
//!   `icmp_error_suppressed`.
//! - **Rate limited** (§2.4(f)) by one router-wide token bucket
//!   (`[icmp] rate_limit_per_second`, `burst`); refused errors are counted
//!   as `icmp_error_rate_limited`. Rules (e) and (f) come before anything
//!   else.
//! - **Source address** (§2.2): the invoking packet's destination when that
//!   is one of the router's unicast addresses (MUST). Otherwise the
//!   ingress port's address chosen as in RFC 6724 in short: link-local
//!   toward a link-local source; a global address of the ingress port whose
//!   prefix holds the invoking source, else its first global address;
//!   else the first global address of any port (so that traceroute from
//!   afar sees a routable hop); else the ingress port's link-local address.
//! - **Destination**: the invoking packet's source, routed like any packet:
//!   the FIB names the port and neighbor toward it, and the error goes
//!   there when that neighbor's link-layer address is known (any state
//!   but INCOMPLETE), so asymmetric return paths work. When the FIB has no
//!   usable route or the neighbor is not resolved yet, the error goes back
//!   out of the ingress port to the frame's Ethernet source (the previous
//!   hop), which always knows the way back; an error is never queued
//!   behind address resolution.
//! - **Size** (§2.4(c)): the invoking packet is included as far as the
//!   error stays within 1280 bytes (IPv6 header + 8 + 1232 bytes).

use core::net::Ipv6Addr;

use smoltcp::time::Instant;
use smoltcp::wire::{ETHERNET_HEADER_LEN, IPV6_HEADER_LEN, Icmpv6Packet, Ipv6Packet};

use smoltcp::wire::EthernetAddress;

use super::{
    DEFAULT_HOP_LIMIT, LinkInfo, NeighborState, NextHop, PortIndex, Router, emit_ipv6_headers,
};
use crate::counters::PortEvent;

/// The largest ICMPv6 error packet, IPv6 header included (RFC 4443 §2.4(c)).
pub const MAXIMUM_ERROR_PACKET: usize = 1280;

/// Type, code, checksum and the 32-bit field.
const ICMP_ERROR_HEADER: usize = 8;

/// An ICMPv6 error to send (RFC 4443 §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum IcmpError {
    /// Type 1 with a code (0 no route, 2 beyond scope, 3 address unreachable, 6 reject route).
    DestinationUnreachable(u8),
    /// Type 2 with the egress MTU.
    PacketTooBig(u32),
    /// Type 3 code 0: hop limit exceeded in transit.
    HopLimitExceeded,
    /// Type 4 with a code and a pointer into the invoking packet.
    ParameterProblem {
        /// 0 erroneous header field, 1 unrecognized Next Header, 2 unrecognized option.
        code: u8,
        /// Offset of the problem from the start of the invoking packet.
        pointer: u32,
        /// Code 2 for an option whose action bits are `10`: sent even for
        /// a multicast destination (RFC 8200 §4.2, RFC 4443 §2.4(e)).
        multicast_allowed: bool,
    },
}

impl IcmpError {
    fn type_code_field(self) -> (u8, u8, u32) {
        match self {
            IcmpError::DestinationUnreachable(code) => (1, code, 0),
            IcmpError::PacketTooBig(mtu) => (2, 0, mtu),
            IcmpError::HopLimitExceeded => (3, 0, 0),
            IcmpError::ParameterProblem { code, pointer, .. } => (4, code, pointer),
        }
    }

    fn event(self) -> PortEvent {
        match self {
            IcmpError::DestinationUnreachable(_) => PortEvent::IcmpDestinationUnreachableSent,
            IcmpError::PacketTooBig(_) => PortEvent::IcmpPacketTooBigSent,
            IcmpError::HopLimitExceeded => PortEvent::IcmpTimeExceededSent,
            IcmpError::ParameterProblem { .. } => PortEvent::IcmpParameterProblemSent,
        }
    }

    /// Whether RFC 4443 §2.4(e) lets this error answer a packet sent to a
    /// multicast address.
    fn allowed_for_multicast(self) -> bool {
        match self {
            IcmpError::PacketTooBig(_) => true,
            IcmpError::ParameterProblem {
                code: 2,
                multicast_allowed,
                ..
            } => multicast_allowed,
            _ => false,
        }
    }
}

/// Whether `packet` (an IPv6 packet) carries an ICMPv6 error message or a
/// Redirect, looking past extension headers (RFC 4443 §2.4(e.1), (e.2)).
/// Unknown or truncated chains count as "not an error".
fn is_icmp_error_or_redirect(packet: &[u8]) -> bool {
    let Some(&first) = packet.get(6) else {
        return false;
    };
    let mut protocol = first;
    let mut offset = IPV6_HEADER_LEN;
    // A chain longer than this is not worth walking for this rule.
    for _ in 0..8 {
        match protocol {
            0 | 43 | 60 => {
                let (Some(&next), Some(&length)) = (packet.get(offset), packet.get(offset + 1))
                else {
                    return false;
                };
                protocol = next;
                offset += (usize::from(length) + 1) * 8;
            }
            44 => {
                let (Some(&next), Some(&high), Some(&low)) = (
                    packet.get(offset),
                    packet.get(offset + 2),
                    packet.get(offset + 3),
                ) else {
                    return false;
                };
                // Only the first fragment holds the ICMPv6 header.
                if u16::from_be_bytes([high, low]) & 0xfff8 != 0 {
                    return false;
                }
                protocol = next;
                offset += 8;
            }
            58 => {
                return packet
                    .get(offset)
                    .is_some_and(|&message_type| message_type < 128 || message_type == 137);
            }
            _ => return false,
        }
    }
    false
}

impl Router {
    /// Sends `error` about `invoking` (an IPv6 packet received on
    /// `link.port`) if RFC 4443 §2.4(e) and the rate limit allow, counting
    /// what happened on the ingress port.
    pub(super) fn send_icmp_error(
        &mut self,
        link: LinkInfo,
        invoking: &[u8],
        error: IcmpError,
        now: Instant,
    ) {
        if invoking.len() < IPV6_HEADER_LEN || link.port.0 >= self.ports.len() {
            return;
        }
        let header = Ipv6Packet::new_unchecked(invoking);
        let invoking_source = header.src_addr();
        let invoking_destination = header.dst_addr();
        let suppressed = invoking_source.is_unspecified()
            || invoking_source.is_multicast()
            || ((invoking_destination.is_multicast() || link.multicast)
                && !error.allowed_for_multicast())
            || is_icmp_error_or_redirect(invoking);
        let counters = &mut self.ports[link.port.0].counters;
        if suppressed {
            counters.count(PortEvent::IcmpErrorSuppressed);
            return;
        }
        if !self.icmp_errors.take(now) {
            counters.count(PortEvent::IcmpErrorRateLimited);
            return;
        }
        let source = self.error_source(link, invoking_source, invoking_destination);
        let (egress, destination_mac) = self.error_path(link, invoking_source, now);
        let port = &self.ports[egress.0];
        let included = invoking
            .len()
            .min(MAXIMUM_ERROR_PACKET - IPV6_HEADER_LEN - ICMP_ERROR_HEADER);
        let icmp_length = ICMP_ERROR_HEADER + included;
        let Some(frame) = emit_ipv6_headers(
            &mut self.transmit,
            egress,
            port.mac,
            destination_mac,
            source,
            invoking_source,
            DEFAULT_HOP_LIMIT,
            icmp_length,
        ) else {
            self.ports[link.port.0]
                .counters
                .count(PortEvent::TransmitDeferred);
            return;
        };
        let message = &mut frame[ETHERNET_HEADER_LEN + IPV6_HEADER_LEN..];
        let (message_type, code, field) = error.type_code_field();
        message[0] = message_type;
        message[1] = code;
        message[2..4].fill(0);
        message[4..8].copy_from_slice(&field.to_be_bytes());
        message[ICMP_ERROR_HEADER..].copy_from_slice(&invoking[..included]);
        Icmpv6Packet::new_unchecked(message).fill_checksum(&source, &invoking_source);
        self.ports[link.port.0].counters.count(error.event());
        // Toward a translated (IPv4) source the error leaves as ICMPv4.
        #[cfg(feature = "legacy-ip")]
        if let Some(gateway) = self.translated_route(invoking_source) {
            self.translate_last_error(link, gateway, now);
        }
    }

    /// The port and next-hop MAC an error toward `destination` leaves by
    /// (see the module documentation).
    fn error_path(
        &self,
        link: LinkInfo,
        destination: Ipv6Addr,
        now: Instant,
    ) -> (PortIndex, EthernetAddress) {
        let previous_hop = (link.port, link.source_mac);
        if destination.is_unicast_link_local() {
            return previous_hop;
        }
        let next_hop = self
            .fib
            .lookup(destination)
            .and_then(|index| self.next_hops.get(index as usize).copied());
        let (port, neighbor) = match next_hop {
            Some(NextHop::Connected { port }) => (port, destination),
            Some(NextHop::Gateway { port, address }) => (port, address),
            _ => return previous_hop,
        };
        let Some(egress) = self.ports.get(port.0) else {
            return previous_hop;
        };
        match (
            egress.neighbors.state(neighbor, now),
            egress.neighbors.link_layer(neighbor),
        ) {
            (Some(state), Some((mac, _))) if state != NeighborState::Incomplete => (port, mac),
            _ => previous_hop,
        }
    }

    /// The source address of an error (see the module documentation).
    fn error_source(
        &self,
        link: LinkInfo,
        invoking_source: Ipv6Addr,
        invoking_destination: Ipv6Addr,
    ) -> Ipv6Addr {
        let ingress = &self.ports[link.port.0];
        if ingress.owns(invoking_destination)
            || self.ports.iter().any(|port| {
                !invoking_destination.is_unicast_link_local() && port.owns(invoking_destination)
            })
        {
            return invoking_destination;
        }
        if invoking_source.is_unicast_link_local() || !ingress.settings.addresses.is_empty() {
            return ingress.source_for(invoking_source);
        }
        self.ports
            .iter()
            .find_map(|port| port.settings.addresses.first())
            .map_or(ingress.settings.link_local, |address| address.address())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_or_redirect_detection() {
        let mut packet = [0u8; 48];
        packet[0] = 0x60;
        packet[6] = 58;
        for (message_type, expected) in [
            (1u8, true),
            (127, true),
            (128, false),
            (137, true),
            (135, false),
        ] {
            packet[40] = message_type;
            assert_eq!(
                is_icmp_error_or_redirect(&packet),
                expected,
                "type {message_type}"
            );
        }
        // Behind a Hop-by-Hop header.
        let mut chained = [0u8; 56];
        chained[6] = 0;
        chained[40] = 58;
        chained[48] = 3;
        assert!(is_icmp_error_or_redirect(&chained));
        // UDP, and truncated chains.
        packet[6] = 17;
        assert!(!is_icmp_error_or_redirect(&packet));
        assert!(!is_icmp_error_or_redirect(&chained[..44]));
        assert!(!is_icmp_error_or_redirect(&[]));
    }
}
