//! Forwarding: packets not addressed to the router go out of the port the FIB names, to a neighbor resolved by Neighbor Discovery (RFC 8200 §3–§5, RFC 4291 §2.5, RFC 4443 §3, RFC 4861 §7.2.2).
//!
//! In order, each failure naming its counter:
//! 1. The source is :: (`source_unspecified_not_forwarded`, RFC 4291
//!    §2.5.2), the destination is :: or ::1 (`invalid_destination_address`,
//!    §2.5.2, §2.5.3), or the source is link-local
//!    (`link_local_not_forwarded`, §2.5.6; answered with Destination
//!    Unreachable code 2, beyond scope of source address, RFC 4443 §3.1).
//!    Link-local and multicast destinations never reach this module.
//! 2. A Hop-by-Hop Options header is processed (RFC 8200 §4.3): unknown
//!    options by their action bits, Parameter Problem code 2 where §4.2
//!    asks (`unrecognized_option`). Routing headers are not looked at: they
//!    are for the destination (RFC 8200 §4.4, RFC 5095).
//! 3. Hop limit 0 or 1: Time Exceeded code 0 (`hop_limit_exceeded`,
//!    RFC 8200 §3, RFC 4443 §3.3).
//! 4. FIB longest-prefix match: no route → Destination Unreachable code 0
//!    (`no_route`); blackhole → silent (`route_blackhole`); reject →
//!    Destination Unreachable code 6, reject route to destination
//!    (`route_reject`, RFC 4443 §3.1; 6 rather than 1 because the drop
//!    comes from a route, not a filter).
//! 5. Longer than the egress MTU: Packet Too Big with that MTU
//!    (`packet_too_big`, RFC 4443 §3.2; routers never fragment, RFC 8200 §5).
//! 6. The next hop (the route's gateway, or the destination itself on a
//!    connected prefix) is resolved in the egress port's neighbor cache;
//!    the hop limit is decremented and the frame built with the
//!    neighbor's MAC. An unresolved neighbor gets a multicast solicitation
//!    and the packet waits (at most three per neighbor); when resolution
//!    fails, each waiting packet gets Destination Unreachable code 3
//!    (`address_resolution_failed`, RFC 4861 §7.2.2). Drops for lack of
//!    room send no error (RFC 4443 §3.1: not for congestion).
//!
//! Not done: Redirects (RFC 4861 §8.2) for packets leaving through their
//! ingress port toward a better on-link first hop; such packets are simply
//! forwarded.

use core::net::Ipv6Addr;

use smoltcp::time::Instant;
use smoltcp::wire::{ETHERNET_HEADER_LEN, EthernetAddress, IPV6_HEADER_LEN, Ipv6Packet};

use super::icmp_error::IcmpError;
use super::neighbor_cache::{Resolution, TimerAction};
use super::pending::PendingOrigin;
use super::{
    HOP_BY_HOP, LinkInfo, NextHop, Outcome, PortIndex, Router, check_options, neighbor_discovery,
};
use crate::counters::{DropReason, PortEvent};
use crate::fib::NextHopIndex;

/// Byte offset of the Hop Limit in the IPv6 header.
pub(super) const HOP_LIMIT_OFFSET: usize = 7;

/// Whether the IPv6 packet `packet` passes the checks at the start of
/// [`Router::forward`] as it stands, with nothing to refuse or answer
/// (RFC 4291 §2.5.2, §2.5.6; RFC 8200 §3, §4.3): a specified, not
/// link-local source, a destination neither unspecified nor loopback, no
/// Hop-by-Hop Options, a hop limit above 1. A fast path that builds the
/// packet itself (4→6 translation into the transmit frame) asks this and
/// otherwise hands the packet to `forward`, which gives the answer; keep
/// the two together.
#[cfg(feature = "legacy-ip")]
pub(super) fn passes_forward_checks(packet: &[u8]) -> bool {
    let Some(header) = packet.get(..IPV6_HEADER_LEN) else {
        return false;
    };
    let header = Ipv6Packet::new_unchecked(header);
    let (source, destination) = (header.src_addr(), header.dst_addr());
    !source.is_unspecified()
        && !source.is_unicast_link_local()
        && !destination.is_unspecified()
        && !destination.is_loopback()
        && u8::from(header.next_header()) != HOP_BY_HOP
        && header.hop_limit() > 1
}

impl Router {
    /// Forwards `packet` (a complete IPv6 packet received on `link.port`,
    /// not addressed to the router) along `route`.
    pub(super) fn forward(
        &mut self,
        link: LinkInfo,
        packet: &[u8],
        route: Option<NextHopIndex>,
        now: Instant,
    ) -> Result<Outcome, DropReason> {
        let header = Ipv6Packet::new_unchecked(packet);
        let source = header.src_addr();
        let destination = header.dst_addr();
        if source.is_unspecified() {
            return Err(DropReason::SourceUnspecifiedNotForwarded);
        }
        if destination.is_unspecified() || destination.is_loopback() {
            return Err(DropReason::InvalidDestinationAddress);
        }
        if source.is_unicast_link_local() {
            self.send_icmp_error(link, packet, IcmpError::DestinationUnreachable(2), now);
            return Err(DropReason::LinkLocalNotForwarded);
        }
        if u8::from(header.next_header()) == HOP_BY_HOP {
            let options = packet
                .get(IPV6_HEADER_LEN..IPV6_HEADER_LEN + 2)
                .map(|start| (usize::from(start[1]) + 1) * 8)
                .and_then(|length| packet.get(IPV6_HEADER_LEN + 2..IPV6_HEADER_LEN + length))
                .ok_or(DropReason::TruncatedExtensionHeader)?;
            if let Err(problem) = check_options(options, IPV6_HEADER_LEN + 2) {
                if let Some(error) = problem.error {
                    self.send_icmp_error(link, packet, error, now);
                }
                return Err(problem.reason);
            }
        }
        if header.hop_limit() <= 1 {
            self.send_icmp_error(link, packet, IcmpError::HopLimitExceeded, now);
            return Err(DropReason::HopLimitExceeded);
        }
        let next_hop = route.and_then(|index| self.next_hops.get(index as usize).copied());
        let (egress, neighbor) = match next_hop {
            None => {
                self.send_icmp_error(link, packet, IcmpError::DestinationUnreachable(0), now);
                return Err(DropReason::NoRoute);
            }
            Some(NextHop::Blackhole) => return Err(DropReason::RouteBlackhole),
            Some(NextHop::Reject) => {
                self.send_icmp_error(link, packet, IcmpError::DestinationUnreachable(6), now);
                return Err(DropReason::RouteReject);
            }
            // Never in the FIB: own addresses are answered before it (the
            // `own_addresses` set). Should one appear, it is dropped, not a panic.
            Some(NextHop::Local) => return Err(DropReason::InvalidDestinationAddress),
            Some(NextHop::Connected { port }) => (port, destination),
            Some(NextHop::Gateway { port, address }) => (port, address),
            #[cfg(feature = "legacy-ip")]
            Some(NextHop::Translate { gateway }) => {
                return self.forward_to_ipv4(link, packet, gateway, now);
            }
            // Only legacy-ip builds install translator routes.
            #[cfg(not(feature = "legacy-ip"))]
            Some(NextHop::Translate { .. }) => return Err(DropReason::NoRoute),
        };
        let Some(egress_port) = self.ports.get_mut(egress.0) else {
            return Err(DropReason::UnknownPort);
        };
        let mtu = egress_port.settings.mtu;
        if packet.len() > usize::from(mtu) {
            self.send_icmp_error(link, packet, IcmpError::PacketTooBig(u32::from(mtu)), now);
            return Err(DropReason::PacketTooBig);
        }
        let resolution =
            egress_port
                .neighbors
                .resolve(neighbor, now, &mut egress_port.counters.events)?;
        match resolution {
            Resolution::Ready(mac) => {
                let source_mac = egress_port.mac;
                self.emit_forwarded(egress, source_mac, mac, packet)?;
                Ok(Outcome::Forwarded)
            }
            Resolution::Solicit(slot) => {
                self.solicit(egress, neighbor, None);
                self.queue_packet(link, egress, slot, packet, true)
            }
            Resolution::Queue(slot) => self.queue_packet(link, egress, slot, packet, true),
        }
    }

    /// Builds the forwarded frame: Ethernet header, then the packet with
    /// its hop limit decremented (the caller checked it is at least 2).
    fn emit_forwarded(
        &mut self,
        egress: PortIndex,
        source_mac: EthernetAddress,
        destination_mac: EthernetAddress,
        packet: &[u8],
    ) -> Result<(), DropReason> {
        let frame = self
            .transmit
            .push_forwarded(egress, ETHERNET_HEADER_LEN + packet.len())
            .ok_or(DropReason::TransmitAreaFull)?;
        write_ethernet_header(frame, source_mac, destination_mac, ETHERTYPE_IPV6);
        let body = &mut frame[ETHERNET_HEADER_LEN..];
        body.copy_from_slice(packet);
        body[HOP_LIMIT_OFFSET] = body[HOP_LIMIT_OFFSET].saturating_sub(1);
        Ok(())
    }

    /// Sends a solicitation for `target` on `port`: multicast to its
    /// solicited-node group, or unicast to `mac` (a probe).
    pub(super) fn solicit(
        &mut self,
        port: PortIndex,
        target: Ipv6Addr,
        mac: Option<EthernetAddress>,
    ) {
        let Some(egress) = self.ports.get(port.0) else {
            return;
        };
        #[cfg(feature = "legacy-ip")]
        let sent = if crate::translation::uplink::is_ipv4_neighbor(target) {
            // ARP requests on the uplink count as solicitations and probes.
            self.solicit_ipv4(port, target, mac)
        } else {
            neighbor_discovery::emit_solicitation(egress, port, target, mac, &mut self.transmit)
        };
        #[cfg(not(feature = "legacy-ip"))]
        let sent =
            neighbor_discovery::emit_solicitation(egress, port, target, mac, &mut self.transmit);
        let counters = &mut self.ports[port.0].counters;
        counters.count(match (sent, mac) {
            (false, _) => PortEvent::TransmitDeferred,
            (true, None) => PortEvent::NeighborSolicitationsSent,
            (true, Some(_)) => PortEvent::NeighborProbesSent,
        });
    }

    /// Queues `packet` (hop limit decremented) on the INCOMPLETE entry in
    /// `slot` of `egress`'s cache.
    /// `decrement_hop_limit` is false for packets that are not IPv6 (the
    /// translator decremented their TTL already).
    pub(super) fn queue_packet(
        &mut self,
        link: LinkInfo,
        egress: PortIndex,
        slot: usize,
        packet: &[u8],
        decrement_hop_limit: bool,
    ) -> Result<Outcome, DropReason> {
        let origin = PendingOrigin {
            ingress: link.port,
            previous_hop: link.source_mac,
            link_multicast: link.multicast,
        };
        let id = self
            .pending
            .store(packet, origin)
            .ok_or(DropReason::PendingPacketsFull)?;
        if decrement_hop_limit && let Some(bytes) = self.pending.bytes_mut(id) {
            bytes[HOP_LIMIT_OFFSET] = bytes[HOP_LIMIT_OFFSET].saturating_sub(1);
        }
        let port = &mut self.ports[egress.0];
        port.counters.count(PortEvent::PacketsQueued);
        if let Some(pushed_out) = port.neighbors.enqueue(slot, id)
            && let Some(origin) = self.pending.release(pushed_out)
            && let Some(ingress) = self.ports.get_mut(origin.ingress.0)
        {
            ingress
                .counters
                .dropped
                .increment(DropReason::NeighborQueueOverflow);
        }
        Ok(Outcome::Queued)
    }

    /// Sends the packets queued on `slot` of `port`'s cache, now resolved,
    /// counting each as forwarded on its ingress port.
    pub(super) fn release_pending(&mut self, port: PortIndex, slot: usize) {
        let Some(egress) = self.ports.get_mut(port.0) else {
            return;
        };
        let list = egress.neighbors.take_pending(slot);
        let Some(destination_mac) = egress.neighbors.mac(slot) else {
            return;
        };
        #[cfg(feature = "legacy-ip")]
        let ethertype = egress
            .neighbors
            .address(slot)
            .map_or(ETHERTYPE_IPV6, super::border::ethertype_for);
        #[cfg(not(feature = "legacy-ip"))]
        let ethertype = ETHERTYPE_IPV6;
        let source_mac = egress.mac;
        for id in list {
            let verdict = match self.pending.get(id) {
                Some((packet, _)) => {
                    match self
                        .transmit
                        .push_forwarded(port, ETHERNET_HEADER_LEN + packet.len())
                    {
                        Some(frame) => {
                            write_ethernet_header(frame, source_mac, destination_mac, ethertype);
                            frame[ETHERNET_HEADER_LEN..].copy_from_slice(packet);
                            Ok(())
                        }
                        None => Err(DropReason::TransmitAreaFull),
                    }
                }
                None => continue,
            };
            if let Some(origin) = self.pending.release(id)
                && let Some(ingress) = self.ports.get_mut(origin.ingress.0)
            {
                let counters = &mut ingress.counters;
                match verdict {
                    Ok(()) => counters.forwarded = counters.forwarded.wrapping_add(1),
                    Err(reason) => counters.dropped.increment(reason),
                }
            }
        }
    }

    /// Runs the neighbor cache timers of `port` (RFC 4861 §7.2.2, §7.3.3).
    pub(super) fn poll_neighbors(&mut self, port: PortIndex, now: Instant) {
        let Some(cache_port) = self.ports.get_mut(port.0) else {
            return;
        };
        if !cache_port.neighbors.due(now) {
            return;
        }
        for slot in 0..cache_port.neighbors.capacity() {
            let can_send = self.transmit.has_room();
            let port_state = &mut self.ports[port.0];
            let action = port_state.neighbors.timer(slot, now, can_send);
            match action {
                TimerAction::None => {}
                TimerAction::Deferred => port_state.counters.count(PortEvent::TransmitDeferred),
                TimerAction::Solicit { target } => self.solicit(port, target, None),
                TimerAction::Probe { target, mac } => self.solicit(port, target, Some(mac)),
                TimerAction::Failed(list) => {
                    port_state.counters.count(if list.is_empty() {
                        PortEvent::NeighborProbeFailed
                    } else {
                        PortEvent::NeighborResolutionFailed
                    });
                    for id in list {
                        self.fail_pending(id, now);
                    }
                }
            }
        }
    }

    /// Answers a queued packet whose resolution failed with Destination
    /// Unreachable code 3 and frees it (RFC 4861 §7.2.2).
    fn fail_pending(&mut self, id: u16, now: Instant) {
        let Some((packet, origin)) = self.pending.get(id) else {
            return;
        };
        // A packet translated for an IPv4 neighbor is IPv4 by now: there is
        // no IPv6 packet left to quote, so it is only counted.
        if packet.first().is_some_and(|byte| byte >> 4 != 6) {
            self.pending.release(id);
            if let Some(ingress) = self.ports.get_mut(origin.ingress.0) {
                ingress
                    .counters
                    .dropped
                    .increment(DropReason::AddressResolutionFailed);
            }
            return;
        }
        let mut invoking = [0u8; super::icmp_error::MAXIMUM_ERROR_PACKET];
        let length = packet.len().min(invoking.len());
        invoking[..length].copy_from_slice(&packet[..length]);
        // The error quotes the packet as it would have left (hop limit decremented).
        let link = LinkInfo {
            port: origin.ingress,
            source_mac: origin.previous_hop,
            multicast: origin.link_multicast,
        };
        self.pending.release(id);
        self.send_icmp_error(
            link,
            &invoking[..length],
            IcmpError::DestinationUnreachable(3),
            now,
        );
        if let Some(ingress) = self.ports.get_mut(origin.ingress.0) {
            ingress
                .counters
                .dropped
                .increment(DropReason::AddressResolutionFailed);
        }
    }
}

/// The Ethertype of IPv6 (RFC 2464).
pub(super) const ETHERTYPE_IPV6: [u8; 2] = [0x86, 0xdd];

/// Writes an Ethernet header (RFC 894) at the start of `frame`.
#[inline(always)]
pub(super) fn write_ethernet_header(
    frame: &mut [u8],
    source_mac: EthernetAddress,
    destination_mac: EthernetAddress,
    ethertype: [u8; 2],
) {
    frame[0..6].copy_from_slice(destination_mac.as_bytes());
    frame[6..12].copy_from_slice(source_mac.as_bytes());
    frame[12..14].copy_from_slice(&ethertype);
}
