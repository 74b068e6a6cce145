//! The router's side of the border translator (legacy-ip builds): ARP and IPv4 frames on the uplink port, `translate via` next hops, and IPv4 neighbors in the neighbor cache.
//!
//! Like the rest of the router this module names no IPv4 type: the
//! translator ([`crate::translation::uplink`]) hands it IPv6-shaped neighbor
//! keys and byte buffers (ARCHITECTURE.md rule 1).
//!
//! - ARP on the uplink port teaches the port's neighbor cache (see
//!   `translation::uplink` for the mapping of ARP onto RFC 4861 states).
//! - IPv4 received on the uplink is translated (RFC 7915 §4) and the IPv6
//!   result takes the ordinary path: own addresses, or the forward path
//!   with its hop-limit check, FIB lookup, MTU check and ICMPv6 errors.
//!   DF-clear packets larger than `lowest_ipv6_mtu` are fragmented first
//!   (RFC 7915 §4.1).
//! - A route whose next hop is the translator (`NextHop::Translate`) sends
//!   the packet here after the forward path's checks: it is translated
//!   (RFC 7915 §5), resolved by ARP and sent as IPv4; an IPv4 destination
//!   that is one of the translator's own EAM addresses is translated back
//!   and forwarded as IPv6 (hairpinning, RFC 7757 §4.2).
//! - ICMPv6 errors the router sends toward a translated source take the
//!   same way out, so an IPv4 sender gets ICMPv4 (Time Exceeded,
//!   Fragmentation Needed with the MTU less 20, ...).
//!
//! Fast paths: the common packets are translated straight into their
//! transmit frame. From the uplink, first the plain cases
//! (`Uplink::plain_inbound`, `stateless::PlainIpv4ToIpv6`: unfragmented
//! TCP and UDP without options, and ICMPv4 Destination Unreachable or Time
//! Exceeded quoting such a packet or an echo, RFC 7915 §4.1–§4.3, §4.5)
//! in two steps: from the outer header alone, before a byte is written,
//! routed on the translated destination, checked as the forward path
//! checks (hop limit, MTU, own and link-local destination, a resolved
//! neighbor) and a frame of exact size reserved; then the rest of the
//! packet checked and translated straight into that frame with the hop
//! limit already decremented, and the source checked (a decline gives
//! the frame back). Nothing of the translation is kept across the FIB,
//! neighbor and frame calls, where it would be spilled to the stack
//! (`Router::forward_plain_from_ipv4`). Then any IPv4 for a stateless
//! destination whose IPv6 neighbor is resolved, translated by the general
//! translator into the frame and checked afterwards
//! (`Router::forward_from_ipv4`). To the uplink, plain unfragmented TCP
//! and UDP (no extension headers, both addresses mapped, fits the uplink
//! MTU, not hairpinned, ARP entry usable: `Uplink::plain_outbound`) and
//! the common ICMPv6 error (RFC 7915 §5.2 Destination Unreachable, Packet
//! Too Big, Time Exceeded, Parameter Problem, no RFC 4884 extension,
//! quoting an unfragmented UDP, TCP or echo packet without extension
//! headers, §5.3, cut to 576 bytes; its source mapped, or from the RFC
//! 6791 pool when there is no NAT64). The ICMPv6 error is taken in two
//! steps, so that nothing the translation works out is kept across a
//! call: the outer header, the size and the neighbor first
//! (`Uplink::plain_icmp_error_outbound`), then the frame is taken and the
//! message checked and translated straight into it
//! (`Uplink::write_plain_icmp_error`), the frame handed back if it
//! declines. Then any other packet to a resolved gateway (in a frame of the IPv6
//! packet's size, or 576 bytes for an ICMPv4 error grown by RFC 4884
//! padding). Everything else, and whatever a fast path declines, takes
//! the general path, which gives the same bytes and counters
//! (`tests/router_translation_fast_paths.rs` compares the two, with
//! `Router::use_translation_fast_paths(false)` on one router).
//!
//! Each direction has its own scratch buffer, taken for the duration of
//! one translation; a nested use of a buffer already taken (only possible
//! with a looping configuration) finds it empty and refuses the packet, so
//! recursion is bounded and nothing allocates.

use alloc::vec;
use alloc::vec::Vec;
use core::net::Ipv6Addr;

use smoltcp::time::Instant;
use smoltcp::wire::{ETHERNET_HEADER_LEN, EthernetAddress, Ipv6Packet};

use super::forwarding::{
    ETHERTYPE_IPV6, HOP_LIMIT_OFFSET, passes_forward_checks, write_ethernet_header,
};
use super::icmp_error::IcmpError;
use super::neighbor_cache::{Advertisement, LearnedFrom, Resolution};
use super::transmit::TransmitArea;
use super::{LinkInfo, NextHop, Outcome, PortIndex, Router};
use crate::counters::{DropReason, PortEvent};
use crate::translation::stateless::{self, IcmpAnswer, TranslationError};
use crate::translation::uplink::{ArpInput, PlainOutbound, Refusal, TranslationDrop, Uplink};

/// The address translator the border uses.
pub(super) type BorderAddresses = crate::translation::stateless_addresses::StatelessAddresses;

/// Ethertype of ARP (RFC 826).
const ETHERTYPE_ARP: [u8; 2] = [0x08, 0x06];

/// The IPv6 Next Header of ICMPv6 (RFC 4443).
const ICMPV6: u8 = 58;

/// Ethertype of IPv4 (RFC 894).
const ETHERTYPE_IPV4: [u8; 2] = [0x08, 0x00];

/// The border translator attached to the uplink port.
#[derive(Debug)]
pub(super) struct Border {
    pub(super) port: PortIndex,
    pub(super) uplink: Uplink<BorderAddresses>,
    inbound: Vec<u8>,
    outbound: Vec<u8>,
    errors: Vec<u8>,
    fragments: Vec<u8>,
    /// Whether the fast paths (IPv4 from the uplink translated into the
    /// transmit frame, and plain TCP/UDP to it) are tried before the
    /// general one; off only in tests that compare the two.
    fast_paths: bool,
}

impl Border {
    /// A border on `port` whose buffers hold packets of up to `largest_packet` bytes.
    pub(super) fn new(
        port: PortIndex,
        uplink: Uplink<BorderAddresses>,
        largest_packet: usize,
    ) -> Border {
        // A translated packet grows by at most 20 (header) + 8 (fragment header).
        let length = largest_packet + 64;
        Border {
            port,
            uplink,
            inbound: vec![0; length],
            outbound: vec![0; length],
            errors: vec![0; length],
            fragments: vec![0; length],
            fast_paths: true,
        }
    }
}

impl Router {
    /// Switches the border translator's fast paths off (or on again): every
    /// packet then takes the general path, whose results the fast paths
    /// must reproduce byte for byte. For tests that compare the two; a
    /// router without a border ignores it.
    #[doc(hidden)]
    pub fn use_translation_fast_paths(&mut self, on: bool) {
        if let Some(border) = self.border.as_mut() {
            border.fast_paths = on;
        }
    }

    /// Attaches the border translator the config describes (an uplink port
    /// and a `[translation]` table) and installs the uplink's IPv4 routes
    /// under `pool6` and its static ARP entries. An uplink on a port with
    /// no NIC is left out, like the port's other settings.
    pub(super) fn install_border(
        &mut self,
        config: &crate::config::Config,
        largest_packet: usize,
    ) -> Result<(), super::RouterError> {
        let keys = core::array::from_fn(|_| self.random.next_u64());
        let Some((port, uplink)) =
            crate::translation::uplink::from_config(config, keys, largest_packet)
        else {
            return Ok(());
        };
        if port >= self.ports.len() {
            return Ok(());
        }
        self.border = Some(Border::new(PortIndex(port), uplink, largest_packet));
        self.use_translation_fast_path(config);
        for route in config.uplink_routes_under_pool6() {
            if let crate::route_file::NextHop::Translate { gateway } = route.next_hop {
                let index = self.next_hop_index(NextHop::Translate { gateway });
                self.fib
                    .try_insert(route.prefix, index)
                    .map_err(|_| super::RouterError::TooManyNextHops)?;
            }
        }
        if let Some((_, uplink)) = config.uplink() {
            for (key, mac) in crate::translation::uplink::static_neighbors(uplink) {
                self.ports[port].neighbors.add_static(key, mac);
            }
        }
        Ok(())
    }

    /// Rebuilds the FIB with its IPv4 fast path for destinations under
    /// pool6 (`Fib::with_translation_prefix`, as a router built from a route
    /// file has): a 32-bit lookup instead of a walk down to the /96.
    fn use_translation_fast_path(&mut self, config: &crate::config::Config) {
        let Some(pool6) = config
            .translation
            .as_ref()
            .map(|translation| translation.pool6.cidr())
        else {
            return;
        };
        if self.fib.translation_prefix().is_some() {
            return;
        }
        let routes: Vec<_> = self.fib.iter().collect();
        let mut fib = crate::fib::Fib::with_translation_prefix(pool6);
        fib.load(routes);
        self.fib = fib;
    }

    /// ARP received on `link.port` (RFC 826).
    pub(super) fn handle_arp(
        &mut self,
        link: LinkInfo,
        payload: &[u8],
        now: Instant,
    ) -> Result<Outcome, DropReason> {
        let Some(border) = self
            .border
            .as_mut()
            .filter(|border| border.port == link.port)
        else {
            return Err(DropReason::Ipv4NotEnabled);
        };
        let port = &mut self.ports[link.port.0];
        let input = match border.uplink.receive_arp(payload, port.mac) {
            Ok(input) => input,
            Err(_) => {
                border.uplink.count(TranslationDrop::BadArp);
                return Err(DropReason::TranslationRefused);
            }
        };
        let events = &mut port.counters.events;
        let resolved = match input {
            ArpInput::RequestForUs {
                sender,
                sender_mac,
                reply,
            } => {
                let resolved = port.neighbors.learn(
                    sender,
                    sender_mac,
                    LearnedFrom::NeighborSolicitation,
                    now,
                    events,
                );
                let source_mac = port.mac;
                match self
                    .transmit
                    .push(link.port, ETHERNET_HEADER_LEN + reply.len())
                {
                    Some(frame) => {
                        write_ethernet_header(frame, source_mac, sender_mac, ETHERTYPE_ARP);
                        frame[ETHERNET_HEADER_LEN..].copy_from_slice(&reply);
                        port.counters.count(PortEvent::NeighborAdvertisementsSent);
                    }
                    None => port.counters.count(PortEvent::TransmitDeferred),
                }
                resolved
            }
            ArpInput::Refresh { sender, sender_mac } => {
                if port.neighbors.find(sender).is_some() {
                    port.neighbors.learn(
                        sender,
                        sender_mac,
                        LearnedFrom::NeighborSolicitation,
                        now,
                        events,
                    )
                } else {
                    None
                }
            }
            ArpInput::Reply { sender, sender_mac } => {
                events.increment(PortEvent::NeighborAdvertisementsReceived);
                let advertisement = Advertisement {
                    mac: Some(sender_mac),
                    router: false,
                    solicited: true,
                    override_flag: true,
                };
                port.neighbors
                    .advertisement(sender, advertisement, now, events)
            }
        };
        if let Some(slot) = resolved {
            self.release_pending(link.port, slot);
        }
        Ok(Outcome::Consumed)
    }

    /// IPv4 received on `link.port`: translated to IPv6 and routed
    /// (RFC 7915 §4).
    pub(super) fn handle_uplink_ipv4(
        &mut self,
        link: LinkInfo,
        packet: &[u8],
        now: Instant,
    ) -> Result<Outcome, DropReason> {
        if self
            .border
            .as_ref()
            .is_none_or(|border| border.port != link.port)
        {
            return Err(DropReason::Ipv4NotEnabled);
        }
        if let Some(verdict) = self.forward_from_ipv4(link, packet, now) {
            return verdict;
        }
        let Some(border) = self.border.as_mut() else {
            return Err(DropReason::Ipv4NotEnabled);
        };
        let mut buffer = core::mem::take(&mut border.inbound);
        if let Some(length) = border.uplink.answer_echo(packet, &mut buffer) {
            let verdict = self.send_to_previous_hop(link, &buffer[..length]);
            if let Some(border) = self.border.as_mut() {
                border.inbound = buffer;
            }
            return verdict;
        }
        let result = border
            .uplink
            .translate_inbound(packet, link.source_mac, &mut buffer, now);
        // One read of the translated destination and one FIB lookup serve
        // both the loop check and the forward path.
        let destination = result
            .is_ok()
            .then(|| Ipv6Packet::new_unchecked(&buffer[..]).dst_addr());
        let route = destination.and_then(|destination| self.fib.lookup(destination));
        let verdict = match result {
            // NAT64 keeps it (RFC 6146 §3.5.2.2, §3.4).
            Err(refusal) if refusal.reason == TranslationDrop::Nat64Held => Ok(Outcome::Consumed),
            Err(refusal) => self.answer_inbound_refusal(link, packet, &refusal, now),
            // An IPv4 destination whose IPv6 form routes back into the
            // translator (an address under pool6 with no EAM) is not for
            // the IPv6 side: refused like an unmapped one, not looped.
            Ok(translated)
                if route.is_some_and(|index| {
                    matches!(
                        self.next_hops.get(index as usize),
                        Some(NextHop::Translate { .. })
                    )
                }) && !destination
                    .is_some_and(|destination| self.own_addresses.contains(destination)) =>
            {
                let _ = translated;
                let refusal = Refusal::from(TranslationDrop::UntranslatableDestination);
                if let Some(border) = self.border.as_mut() {
                    border.uplink.count(refusal.reason);
                    let answer =
                        inbound_answer(&refusal, border.uplink.settings().refusal_errors, packet);
                    if let Some((code, mtu)) = answer {
                        self.send_icmpv4_error(link, packet, code, mtu, now);
                    }
                }
                Err(DropReason::TranslationRefused)
            }
            Ok(translated) => match translated.fragmentation {
                None => self.route_translated_along(link, &buffer[..translated.length], route, now),
                Some(fragmentation) => {
                    self.route_fragments(link, &buffer[..translated.length], fragmentation, now)
                }
            },
        };
        if let Some(border) = self.border.as_mut() {
            border.inbound = buffer;
        }
        if result.is_ok() {
            self.release_inbound_fragments(link, now);
        }
        verdict
    }

    /// The common case of IPv4 from the uplink, done the way 6→4 is: the
    /// IPv6 destination is known before translating, so the route and the
    /// neighbor are found first and the packet is translated straight into
    /// the transmit frame (no second copy). `None` when the packet needs
    /// more than that (NAT64, the router's own addresses, a route back into
    /// the translator, an unresolved neighbor, fragments, anything the
    /// forward path would refuse or answer): nothing was done or counted
    /// and the general path takes it. A translator refusal is answered
    /// here, as the general path would.
    #[inline(always)]
    fn forward_from_ipv4(
        &mut self,
        link: LinkInfo,
        packet: &[u8],
        now: Instant,
    ) -> Option<Result<Outcome, DropReason>> {
        let border = self.border.as_mut().filter(|border| border.fast_paths)?;
        if let Some(plain) = border.uplink.plain_inbound(packet)
            && let Some(verdict) = self.forward_plain_from_ipv4(link, packet, plain, now)
        {
            return Some(verdict);
        }
        let border = self.border.as_mut()?;
        let destination = border.uplink.stateless_inbound_destination(packet)?;
        let address = destination.ipv6;
        if address.is_multicast()
            || address.is_unicast_link_local()
            || address.is_unspecified()
            || address.is_loopback()
        {
            return None;
        }
        let (egress, neighbor) =
            forward_neighbor(&self.fib, &self.next_hops, &self.own_addresses, address)?;
        let port = self.ports.get(egress.0)?;
        let mtu = usize::from(port.settings.mtu);
        let mac = port.neighbors.usable_mac(neighbor, now)?;
        let source_mac = port.mac;
        // The result grows by at most two headers (outer and, in an ICMP
        // error, inner) of 20 bytes and a Fragment Header; more than the
        // egress MTU would be refused by the forward path anyway.
        let bound = (packet.len() + 56).min(mtu);
        let frame = self
            .transmit
            .push_forwarded(egress, ETHERNET_HEADER_LEN + bound)?;
        let result = border.uplink.translate_inbound_to(
            packet,
            destination,
            &mut frame[ETHERNET_HEADER_LEN..],
        );
        match result {
            Ok(translated)
                if translated.fragmentation.is_none()
                    && frame
                        .get(ETHERNET_HEADER_LEN..ETHERNET_HEADER_LEN + translated.length)
                        .is_some_and(passes_forward_checks) =>
            {
                write_ethernet_header(frame, source_mac, mac, ETHERTYPE_IPV6);
                frame[ETHERNET_HEADER_LEN + HOP_LIMIT_OFFSET] -= 1;
                self.transmit
                    .shrink_last(ETHERNET_HEADER_LEN + translated.length);
                self.release_inbound_fragments(link, now);
                Some(Ok(Outcome::Forwarded))
            }
            Err(refusal) if refusal.error != Some(TranslationError::OutputTooSmall) => {
                self.transmit.pop_last();
                Some(self.answer_inbound_refusal(link, packet, &refusal, now))
            }
            _ => {
                self.transmit.pop_last();
                None
            }
        }
    }

    /// The commonest IPv4 from the uplink, plain TCP, UDP or ICMPv4 error
    /// ([`Uplink::plain_inbound`]), done the way plain 6→4 is: what the
    /// forward path checks on the destination, hop limit and size is
    /// decided from the outer header before a byte is written (no IPv6
    /// header to parse afterwards), the route and neighbor found and the
    /// frame of exact size reserved; only then is the rest of the packet
    /// looked at, translated straight into the frame with the hop limit
    /// already decremented (so nothing of the translation is kept across
    /// the FIB, neighbor and frame calls), and its source checked. `None`
    /// when the forward path would do more than send it (own address or a
    /// route back into the translator, hop limit exceeded, too big,
    /// unresolved neighbor, ...) or the rest is no plain case: nothing was
    /// done or counted (a frame reserved is given back) and the other
    /// paths take it.
    #[inline(always)]
    fn forward_plain_from_ipv4(
        &mut self,
        link: LinkInfo,
        packet: &[u8],
        mut plain: stateless::PlainIpv4ToIpv6,
        now: Instant,
    ) -> Option<Result<Outcome, DropReason>> {
        let destination = plain.destination();
        // `route_translated_along` and `passes_forward_checks`, on the
        // bits: a multicast (ff00::/8), link-local (fe80::/10),
        // unspecified or loopback destination.
        let destination_bits = destination.to_bits();
        if plain.hop_limit() <= 1
            || destination_bits >> 120 == 0xff
            || destination_bits >> 118 == 0x3fa
            || destination_bits <= 1
        {
            return None;
        }
        let (egress, neighbor) =
            forward_neighbor(&self.fib, &self.next_hops, &self.own_addresses, destination)?;
        let port = self.ports.get(egress.0)?;
        let length = plain.length();
        if length > usize::from(port.settings.mtu) {
            return None;
        }
        let mac = port.neighbors.usable_mac(neighbor, now)?;
        let source_mac = port.mac;
        let border = self.border.as_ref()?;
        let frame = self
            .transmit
            .push_forwarded(egress, ETHERNET_HEADER_LEN + length)?;
        plain.decrement_hop_limit();
        let (ethernet, translated) = frame.split_at_mut(ETHERNET_HEADER_LEN);
        // `passes_forward_checks` on the source: unspecified or
        // link-local (fe80::/10).
        if !border
            .uplink
            .write_plain_inbound(&plain, packet, translated)
            || translated
                .get(8..24)
                .and_then(|source| <[u8; 16]>::try_from(source).ok())
                .map(u128::from_be_bytes)
                .is_none_or(|source| source == 0 || source >> 118 == 0x3fa)
        {
            self.transmit.pop_last();
            return None;
        }
        write_ethernet_header(ethernet, source_mac, mac, ETHERTYPE_IPV6);
        self.release_inbound_fragments(link, now);
        Some(Ok(Outcome::Forwarded))
    }

    /// The answer to an IPv4 packet the translator refused (see
    /// [`inbound_answer`]); NAT64 holding it is no refusal.
    fn answer_inbound_refusal(
        &mut self,
        link: LinkInfo,
        packet: &[u8],
        refusal: &Refusal,
        now: Instant,
    ) -> Result<Outcome, DropReason> {
        if refusal.reason == TranslationDrop::Nat64Held {
            return Ok(Outcome::Consumed);
        }
        let refusal_errors = self
            .border
            .as_ref()
            .is_some_and(|border| border.uplink.settings().refusal_errors);
        if let Some((code, mtu)) = inbound_answer(refusal, refusal_errors, packet) {
            self.send_icmpv4_error(link, packet, code, mtu, now);
        }
        Err(DropReason::TranslationRefused)
    }

    /// Routes the fragments from IPv4 that NAT64 held until the first
    /// fragment of their datagram, just translated, went through (RFC 6146
    /// §3.4).
    #[inline(always)]
    fn release_inbound_fragments(&mut self, link: LinkInfo, now: Instant) {
        if self
            .border
            .as_ref()
            .is_some_and(|border| border.uplink.releasing_fragments())
        {
            self.route_released_inbound(link, now);
        }
    }

    #[cold]
    #[inline(never)]
    fn route_released_inbound(&mut self, link: LinkInfo, now: Instant) {
        loop {
            let Some(border) = self.border.as_mut() else {
                return;
            };
            if !border.uplink.releasing_fragments() {
                return;
            }
            let mut buffer = core::mem::take(&mut border.inbound);
            let released = border.uplink.next_released_inbound(&mut buffer, now);
            if let Some(Ok(translated)) = released {
                let _ = match translated.fragmentation {
                    None => self.route_translated(link, &buffer[..translated.length], now),
                    Some(fragmentation) => {
                        self.route_fragments(link, &buffer[..translated.length], fragmentation, now)
                    }
                };
            }
            if let Some(border) = self.border.as_mut() {
                border.inbound = buffer;
            }
            if released.is_none() {
                return;
            }
        }
    }

    /// Sends the fragments from IPv6 that NAT64 held until the first
    /// fragment of their datagram, just translated, went through (RFC 6146
    /// §3.4).
    #[inline(always)]
    fn release_outbound_fragments(&mut self, link: LinkInfo, gateway: Ipv6Addr, now: Instant) {
        if self
            .border
            .as_ref()
            .is_some_and(|border| border.uplink.releasing_fragments())
        {
            self.send_released_outbound(link, gateway, now);
        }
    }

    #[cold]
    #[inline(never)]
    fn send_released_outbound(&mut self, link: LinkInfo, gateway: Ipv6Addr, now: Instant) {
        loop {
            if !self
                .border
                .as_ref()
                .is_some_and(|border| border.uplink.releasing_fragments())
            {
                return;
            }
            let identification = self.random.next_u64() as u16;
            let Some(border) = self.border.as_mut() else {
                return;
            };
            let egress = border.port;
            let Some(mtu) = self.ports.get(egress.0).map(|port| port.settings.mtu) else {
                return;
            };
            let mut buffer = core::mem::take(&mut border.outbound);
            let released = border.uplink.next_released_outbound(
                gateway,
                mtu,
                identification,
                &mut buffer,
                now,
            );
            if let Some(Ok(outbound)) = released {
                let _ = self.send_outbound(link, egress, outbound, &buffer, now);
            }
            if let Some(border) = self.border.as_mut() {
                border.outbound = buffer;
            }
            if released.is_none() {
                return;
            }
        }
    }

    /// Sends a translated outbound packet (at the start of `buffer`):
    /// hairpinned back to IPv6, or to its IPv4 neighbor, fragmented if
    /// needed.
    fn send_outbound(
        &mut self,
        link: LinkInfo,
        egress: PortIndex,
        outbound: crate::translation::uplink::Outbound,
        buffer: &[u8],
        now: Instant,
    ) -> Result<Outcome, DropReason> {
        let translated = &buffer[..outbound.translated.length];
        if outbound.hairpin {
            self.hairpin(link, translated, now)
        } else {
            match outbound.translated.fragmentation {
                None => self.send_ipv4(link, egress, outbound.neighbor, translated, now),
                Some(fragmentation) => self.send_ipv4_fragments(
                    link,
                    egress,
                    outbound.neighbor,
                    translated,
                    fragmentation,
                    now,
                ),
            }
        }
    }

    /// Sends an IPv4 packet the translator originated back to the
    /// link-layer sender of the packet it answers.
    fn send_to_previous_hop(
        &mut self,
        link: LinkInfo,
        packet: &[u8],
    ) -> Result<Outcome, DropReason> {
        let source_mac = self.ports[link.port.0].mac;
        let frame = self
            .transmit
            .push(link.port, ETHERNET_HEADER_LEN + packet.len())
            .ok_or(DropReason::TransmitAreaFull)?;
        write_ethernet_header(frame, source_mac, link.source_mac, ETHERTYPE_IPV4);
        frame[ETHERNET_HEADER_LEN..].copy_from_slice(packet);
        Ok(Outcome::Consumed)
    }

    /// ICMPv4 Destination Unreachable `code` about the received IPv4
    /// `invoking` packet, to its sender (RFC 7915 §4.1, §4.4), within the
    /// router's ICMP error rate limit.
    fn send_icmpv4_error(
        &mut self,
        link: LinkInfo,
        invoking: &[u8],
        code: u8,
        next_hop_mtu: u16,
        now: Instant,
    ) {
        if link.multicast {
            return;
        }
        let Some(border) = self.border.as_mut() else {
            return;
        };
        let mut buffer = core::mem::take(&mut border.errors);
        if let Some(length) = border
            .uplink
            .icmp_error(invoking, code, next_hop_mtu, &mut buffer)
        {
            if self.icmp_errors.take(now) {
                if self.send_to_previous_hop(link, &buffer[..length]).is_ok() {
                    self.ports[link.port.0]
                        .counters
                        .count(PortEvent::IcmpDestinationUnreachableSent);
                }
            } else {
                self.ports[link.port.0]
                    .counters
                    .count(PortEvent::IcmpErrorRateLimited);
            }
        }
        if let Some(border) = self.border.as_mut() {
            border.errors = buffer;
        }
    }

    /// Splits a translated IPv6 packet (RFC 7915 §4.1) and routes each
    /// fragment; the verdict is the first fragment's.
    fn route_fragments(
        &mut self,
        link: LinkInfo,
        packet: &[u8],
        fragmentation: stateless::Fragmentation,
        now: Instant,
    ) -> Result<Outcome, DropReason> {
        self.for_each_fragment(
            |scratch, emit| stateless::fragment_ipv6(packet, fragmentation, scratch, emit),
            |router, fragment| router.route_translated(link, fragment, now),
        )
    }

    /// A translated IPv6 packet takes the path of a received one: to the
    /// router's own addresses, or forwarded.
    fn route_translated(
        &mut self,
        link: LinkInfo,
        packet: &[u8],
        now: Instant,
    ) -> Result<Outcome, DropReason> {
        let route = self
            .fib
            .lookup(Ipv6Packet::new_unchecked(packet).dst_addr());
        self.route_translated_along(link, packet, route, now)
    }

    /// [`Router::route_translated`] with the FIB's `route` for the
    /// packet's destination already looked up.
    fn route_translated_along(
        &mut self,
        link: LinkInfo,
        packet: &[u8],
        route: Option<crate::fib::NextHopIndex>,
        now: Instant,
    ) -> Result<Outcome, DropReason> {
        let destination = Ipv6Packet::new_unchecked(packet).dst_addr();
        if destination.is_multicast() {
            return Err(DropReason::MulticastNotForwarded);
        }
        if destination.is_unicast_link_local() {
            return Err(DropReason::LinkLocalNotForwarded);
        }
        if self.own_addresses.contains(destination) {
            return self
                .handle_local(link, packet, now)
                .map(|()| Outcome::Consumed);
        }
        self.forward(link, packet, route, now)
    }

    /// Sends the IPv6 `packet` (received on `link`, hop limit checked) out
    /// of the uplink as IPv4 toward `gateway` (`::` for on-link), RFC 7915 §5.
    pub(super) fn forward_to_ipv4(
        &mut self,
        link: LinkInfo,
        packet: &[u8],
        gateway: Ipv6Addr,
        now: Instant,
    ) -> Result<Outcome, DropReason> {
        let identification = self.random.next_u64() as u16;
        let Some(border) = self.border.as_mut() else {
            return Err(DropReason::NoRoute);
        };
        let egress = border.port;
        let Some(port) = self.ports.get(egress.0) else {
            return Err(DropReason::UnknownPort);
        };
        let mtu = port.settings.mtu;
        // The commonest cases, plain TCP or UDP and the common ICMPv6
        // error, to a neighbor whose MAC is known: decided first, then
        // written straight into a frame of its exact size (see
        // `Uplink::plain_outbound`).
        if border.fast_paths {
            let sent = if packet.get(6) == Some(&ICMPV6) {
                // The port again, not `port` from above: with that one
                // held across this branch LLVM spills more, 1,060 → 1,156
                // instructions for icmp_error/6to4 (callgrind).
                self.ports.get(egress.0).is_some_and(|port| {
                    send_plain_icmp_error(
                        &mut self.transmit,
                        port,
                        &border.uplink,
                        egress,
                        packet,
                        gateway,
                        identification,
                        now,
                    )
                })
            } else {
                border
                    .uplink
                    .plain_outbound(packet, gateway, mtu)
                    .is_some_and(|plain| {
                        send_plain(
                            &mut self.transmit,
                            port,
                            egress,
                            &plain,
                            packet,
                            identification,
                            now,
                        )
                    })
            };
            if sent {
                self.release_outbound_fragments(link, gateway, now);
                return Ok(Outcome::Forwarded);
            }
        }
        // Else a gateway whose MAC is known: translate straight into the
        // transmit frame, and shorten the frame to what was written. The
        // result is never longer than the IPv6 packet, but for an ICMPv4
        // error whose RFC 4884 extension pads the quoted packet to 128
        // bytes (RFC 4884 §4): at most 576 bytes (RFC 1812 §4.3.2.3).
        if border.fast_paths
            && let Some(neighbor) = border.uplink.gateway_neighbor(gateway)
            && let Some(mac) = port.neighbors.usable_mac(neighbor, now)
        {
            let source_mac = port.mac;
            let largest = packet.len().max(stateless::MAXIMUM_ICMPV4_ERROR);
            if let Some(frame) = self
                .transmit
                .push_forwarded(egress, ETHERNET_HEADER_LEN + largest)
            {
                let result = border.uplink.translate_outbound_to_neighbor(
                    packet,
                    neighbor,
                    mtu,
                    identification,
                    &mut frame[ETHERNET_HEADER_LEN..],
                    now,
                );
                match result {
                    Ok(outbound)
                        if !outbound.hairpin && outbound.translated.fragmentation.is_none() =>
                    {
                        write_ethernet_header(frame, source_mac, mac, ETHERTYPE_IPV4);
                        self.transmit
                            .shrink_last(ETHERNET_HEADER_LEN + outbound.translated.length);
                        self.release_outbound_fragments(link, gateway, now);
                        return Ok(Outcome::Forwarded);
                    }
                    // NAT64 keeps it (RFC 6146 §3.4).
                    Err(refusal) if refusal.reason == TranslationDrop::Nat64Held => {
                        self.transmit.pop_last();
                        return Ok(Outcome::Consumed);
                    }
                    Ok(_) => {
                        // Hairpinning or fragments: the general path below.
                        self.transmit.pop_last();
                    }
                    Err(refusal) => {
                        self.transmit.pop_last();
                        self.answer_outbound_refusal(link, packet, refusal, now);
                        return Err(DropReason::TranslationRefused);
                    }
                }
            }
        }
        let Some(border) = self.border.as_mut() else {
            return Err(DropReason::NoRoute);
        };
        let mut buffer = core::mem::take(&mut border.outbound);
        let result = border.uplink.translate_outbound(
            packet,
            gateway,
            mtu,
            identification,
            &mut buffer,
            now,
        );
        let verdict = match result {
            Ok(outbound) => self.send_outbound(link, egress, outbound, &buffer, now),
            Err(_) => Err(DropReason::TranslationRefused),
        };
        if let Some(border) = self.border.as_mut() {
            border.outbound = buffer;
        }
        match result {
            Ok(_) => self.release_outbound_fragments(link, gateway, now),
            // NAT64 keeps it (RFC 6146 §3.4).
            Err(refusal) if refusal.reason == TranslationDrop::Nat64Held => {
                return Ok(Outcome::Consumed);
            }
            // With the buffer back: an ICMPv6 error to a source that is
            // itself reached through the translator is translated with it.
            Err(refusal) => self.answer_outbound_refusal(link, packet, refusal, now),
        }
        verdict
    }

    /// The ICMPv6 answer to an IPv6 packet the translator refused: what
    /// RFC 7915 asks for specifically (Packet Too Big, Parameter Problem),
    /// else 1/1 when `refusal_errors` is on (§5.4), never about ICMPv6.
    fn answer_outbound_refusal(
        &mut self,
        link: LinkInfo,
        packet: &[u8],
        refusal: Refusal,
        now: Instant,
    ) {
        match refusal.error.as_ref().and_then(|error| error.icmp_answer()) {
            Some(IcmpAnswer::PacketTooBig { mtu }) => {
                self.send_icmp_error(link, packet, IcmpError::PacketTooBig(mtu), now)
            }
            Some(IcmpAnswer::ParameterProblem { code, pointer }) => self.send_icmp_error(
                link,
                packet,
                IcmpError::ParameterProblem {
                    code,
                    pointer,
                    multicast_allowed: false,
                },
                now,
            ),
            _ => {
                let refusal_errors = self
                    .border
                    .as_ref()
                    .is_some_and(|border| border.uplink.settings().refusal_errors);
                // RFC 7915 §5.4: 1/1, never about an ICMPv6 message.
                if refusal_errors
                    && refusal.reason != TranslationDrop::BadIpv6Header
                    && packet.get(6) != Some(&58)
                {
                    self.send_icmp_error(link, packet, IcmpError::DestinationUnreachable(1), now);
                }
            }
        }
    }

    /// RFC 7757 §4.2: an IPv4 packet for one of the translator's own EAM
    /// addresses goes back through 4→6 translation and is forwarded as IPv6.
    fn hairpin(
        &mut self,
        link: LinkInfo,
        ipv4_packet: &[u8],
        now: Instant,
    ) -> Result<Outcome, DropReason> {
        let Some(border) = self.border.as_mut() else {
            return Err(DropReason::TranslationRefused);
        };
        let mut buffer = core::mem::take(&mut border.inbound);
        let verdict = match border
            .uplink
            .translate_hairpin(ipv4_packet, &mut buffer, now)
        {
            Err(_) => Err(DropReason::TranslationRefused),
            Ok(translated) => self.route_translated(link, &buffer[..translated.length], now),
        };
        if let Some(border) = self.border.as_mut() {
            border.inbound = buffer;
        }
        verdict
    }

    fn send_ipv4_fragments(
        &mut self,
        link: LinkInfo,
        egress: PortIndex,
        neighbor: Ipv6Addr,
        packet: &[u8],
        fragmentation: stateless::Fragmentation,
        now: Instant,
    ) -> Result<Outcome, DropReason> {
        self.for_each_fragment(
            |scratch, emit| stateless::fragment_ipv4(packet, fragmentation, scratch, emit),
            |router, fragment| router.send_ipv4(link, egress, neighbor, fragment, now),
        )
    }

    /// Runs `fragmenter` with the border's fragment buffer and hands each
    /// fragment to `each`; the verdict is the first fragment's, and a
    /// fragmenter's refusal is counted.
    fn for_each_fragment(
        &mut self,
        fragmenter: impl FnOnce(
            &mut [u8],
            &mut dyn FnMut(&[u8]),
        )
            -> Result<usize, crate::translation::stateless::TranslationError>,
        mut each: impl FnMut(&mut Router, &[u8]) -> Result<Outcome, DropReason>,
    ) -> Result<Outcome, DropReason> {
        let Some(border) = self.border.as_mut() else {
            return Err(DropReason::TranslationRefused);
        };
        let mut scratch = core::mem::take(&mut border.fragments);
        let mut verdict: Option<Result<Outcome, DropReason>> = None;
        let result = fragmenter(&mut scratch, &mut |fragment| {
            let fragment_verdict = each(self, fragment);
            verdict.get_or_insert(fragment_verdict);
        });
        if let Some(border) = self.border.as_mut() {
            border.fragments = scratch;
            if let Err(error) = &result {
                border.uplink.count(TranslationDrop::from_error(error));
            }
        }
        match (result, verdict) {
            (Ok(_), Some(verdict)) => verdict,
            _ => Err(DropReason::TranslationRefused),
        }
    }

    /// Sends an IPv4 packet to the IPv4 `neighbor` on `egress`, resolving
    /// it by ARP first (queued meanwhile, like IPv6).
    fn send_ipv4(
        &mut self,
        link: LinkInfo,
        egress: PortIndex,
        neighbor: Ipv6Addr,
        packet: &[u8],
        now: Instant,
    ) -> Result<Outcome, DropReason> {
        let Some(egress_port) = self.ports.get_mut(egress.0) else {
            return Err(DropReason::UnknownPort);
        };
        let resolution =
            egress_port
                .neighbors
                .resolve(neighbor, now, &mut egress_port.counters.events)?;
        match resolution {
            Resolution::Ready(mac) => {
                let source_mac = egress_port.mac;
                let frame = self
                    .transmit
                    .push_forwarded(egress, ETHERNET_HEADER_LEN + packet.len())
                    .ok_or(DropReason::TransmitAreaFull)?;
                write_ethernet_header(frame, source_mac, mac, ethertype_for(neighbor));
                frame[ETHERNET_HEADER_LEN..].copy_from_slice(packet);
                Ok(Outcome::Forwarded)
            }
            Resolution::Solicit(slot) => {
                self.solicit(egress, neighbor, None);
                self.queue_packet(link, egress, slot, packet, false)
            }
            Resolution::Queue(slot) => self.queue_packet(link, egress, slot, packet, false),
        }
    }

    /// Sends an ARP request for the IPv4 neighbor `target` on `port`:
    /// broadcast, or unicast to `mac` (a probe). Returns whether it was sent.
    pub(super) fn solicit_ipv4(
        &mut self,
        port: PortIndex,
        target: Ipv6Addr,
        mac: Option<EthernetAddress>,
    ) -> bool {
        let Some(border) = self.border.as_ref() else {
            return false;
        };
        let Some(egress) = self.ports.get(port.0) else {
            return false;
        };
        let Some(request) = border.uplink.arp_request(target, egress.mac) else {
            return false;
        };
        let source_mac = egress.mac;
        let Some(frame) = self
            .transmit
            .push(port, ETHERNET_HEADER_LEN + request.len())
        else {
            return false;
        };
        write_ethernet_header(
            frame,
            source_mac,
            mac.unwrap_or(EthernetAddress::BROADCAST),
            ETHERTYPE_ARP,
        );
        frame[ETHERNET_HEADER_LEN..].copy_from_slice(&request);
        true
    }

    /// If `destination` (the source of a packet being answered with an
    /// ICMPv6 error) is reached through the translator, the gateway of
    /// that route.
    pub(super) fn translated_route(&self, destination: Ipv6Addr) -> Option<Ipv6Addr> {
        self.border.as_ref()?;
        if self.own_addresses.contains(destination) {
            return None;
        }
        let index = self.fib.lookup(destination)?;
        match self.next_hops.get(index as usize) {
            Some(NextHop::Translate { gateway }) => Some(*gateway),
            _ => None,
        }
    }

    /// Sends an ICMPv6 error built in the transmit area's last frame out
    /// through the translator instead (see [`Router::translated_route`]).
    pub(super) fn translate_last_error(&mut self, link: LinkInfo, gateway: Ipv6Addr, now: Instant) {
        let Some(border) = self.border.as_mut() else {
            return;
        };
        let mut buffer = core::mem::take(&mut border.errors);
        let length = match self.transmit.pop_last() {
            Some(frame) if frame.len() > ETHERNET_HEADER_LEN => {
                let packet = &frame[ETHERNET_HEADER_LEN..];
                let length = packet.len().min(buffer.len());
                buffer[..length].copy_from_slice(&packet[..length]);
                length
            }
            _ => 0,
        };
        if length > 0 {
            let _ = self.forward_to_ipv4(link, &buffer[..length], gateway, now);
        }
        if let Some(border) = self.border.as_mut() {
            border.errors = buffer;
        }
    }

    /// The translator's counters, for the uplink port.
    pub(super) fn translation_counters(
        &self,
        port: PortIndex,
    ) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        self.border
            .as_ref()
            .filter(|border| border.port == port)
            .into_iter()
            .flat_map(|border| {
                let nat64 = border.uplink.nat64();
                border
                    .uplink
                    .counts()
                    .iter()
                    .chain(nat64.into_iter().flat_map(|nat64| nat64.counts().iter()))
                    .chain(
                        nat64
                            .into_iter()
                            .flat_map(|nat64| nat64.table().events().iter()),
                    )
                    .chain(nat64.into_iter().flat_map(|nat64| nat64.events().iter()))
            })
    }

    /// The NAT64 sessions alive now, if the border runs stateful NAT64
    /// (for benchmarks and status listings; read only).
    pub fn nat64_session_count(&self) -> Option<usize> {
        let nat64 = self.border.as_ref()?.uplink.nat64()?;
        Some(nat64.table().session_count())
    }

    /// The bytes the NAT64 BIB and session table holds, all allocated when
    /// the router was built ([`crate::translation::nat64::table::Nat64Table::memory_bytes`]),
    /// if the border runs stateful NAT64.
    pub fn nat64_memory_bytes(&self) -> Option<usize> {
        let nat64 = self.border.as_ref()?.uplink.nat64()?;
        Some(nat64.table().memory_bytes())
    }

    /// Runs the border translator's timers: NAT64 session expiry with the
    /// probes of ESTABLISHED sessions, and the ICMPv4 Port Unreachable for
    /// each held inbound SYN whose TCP_INCOMING_SYN ran out (RFC 6146
    /// §3.5.2.2, RFC 5382 REQ-4), through the router's ICMP error rate
    /// limit; at most
    /// [`EXPIRED_SYNS_PER_POLL`] of those per call, and no more than the
    /// transmit area holds (the rest wait for the next call).
    pub(super) fn poll_border(&mut self, now: Instant) {
        let Some(border) = self.border.as_mut() else {
            return;
        };
        border.uplink.poll(now);
        let port = border.port;
        let mut held = [0u8; crate::translation::nat64::held_syn::HELD_SYN_BYTES];
        for _ in 0..EXPIRED_SYNS_PER_POLL {
            // The rest wait for the next poll rather than go unanswered.
            if !self.transmit.has_room() {
                return;
            }
            let Some(border) = self.border.as_mut() else {
                return;
            };
            let Some((length, sender)) = border.uplink.next_expired_syn(now, &mut held) else {
                break;
            };
            let link = LinkInfo {
                port,
                source_mac: sender,
                multicast: false,
            };
            self.send_icmpv4_error(link, &held[..length], 3, 0, now);
        }
        // The probes of ESTABLISHED sessions whose lifetime ran out
        // (§3.5.2.2), routed to their IPv6 hosts as if from the uplink.
        let mut probe = [0u8; crate::translation::nat64::engine::PROBE_LENGTH];
        let link = LinkInfo {
            port,
            source_mac: EthernetAddress([0; 6]),
            multicast: false,
        };
        while self.transmit.has_room() {
            let Some(border) = self.border.as_mut() else {
                return;
            };
            let Some(length) = border.uplink.next_probe(&mut probe) else {
                return;
            };
            let _ = self.route_translated(link, &probe[..length], now);
        }
    }
}

/// The most expired held SYNs one [`Router::poll`] answers (the rest wait
/// for the next poll; the ICMP rate limit lets few through anyway).
const EXPIRED_SYNS_PER_POLL: usize = 256;

/// The egress port and the neighbor for an IPv6 `destination` whose route
/// is connected or through a gateway, as the fast paths from the uplink
/// send; `None` for the router's own addresses, no route or any other
/// next hop (the translator, a blackhole), which the general path handles.
#[inline(always)]
fn forward_neighbor(
    fib: &crate::fib::Fib,
    next_hops: &[NextHop],
    own_addresses: &super::own_addresses::OwnAddresses,
    destination: Ipv6Addr,
) -> Option<(PortIndex, Ipv6Addr)> {
    if own_addresses.contains(destination) {
        return None;
    }
    match next_hops.get(fib.lookup(destination)? as usize)? {
        NextHop::Connected { port } => Some((*port, destination)),
        NextHop::Gateway { port, address } => Some((*port, *address)),
        _ => None,
    }
}

/// The ICMPv4 answer (code, next-hop MTU) to an IPv4 packet the translator
/// refused: what RFC 7915 asks for specifically, else 3/13 (§4.4) when
/// `refusal_errors` is on; none for malformed headers and broadcast or
/// multicast, and 3/3 (port unreachable, RFC 1122 §3.2.2.1) for UDP to the
/// translator's own address.
fn inbound_answer(refusal: &Refusal, refusal_errors: bool, packet: &[u8]) -> Option<(u8, u16)> {
    match refusal.error.as_ref().and_then(|error| error.icmp_answer()) {
        Some(IcmpAnswer::SourceRouteFailed) => return Some((5, 0)),
        Some(IcmpAnswer::FragmentationNeeded { mtu }) => return Some((4, mtu)),
        _ => {}
    }
    match refusal.reason {
        TranslationDrop::BadIpv4Header
        | TranslationDrop::Ipv4BroadcastOrMulticast
        | TranslationDrop::Nat64Silent => None,
        // Protocol 17 at byte 9: UDP to the uplink address.
        TranslationDrop::Ipv4ForTranslator => (packet.get(9) == Some(&17)).then_some((3, 0)),
        _ => refusal_errors.then_some((13, 0)),
    }
}

/// The ethertype of frames to `neighbor`: IPv4 for IPv4 neighbors.
pub(super) fn ethertype_for(neighbor: Ipv6Addr) -> [u8; 2] {
    if crate::translation::uplink::is_ipv4_neighbor(neighbor) {
        ETHERTYPE_IPV4
    } else {
        ETHERTYPE_IPV6
    }
}

/// An ICMPv6 error of the common shape toward `gateway` (`::` for
/// on-link) out of `port` (the uplink, index `egress`), translated into a
/// transmit frame;
/// false, nothing queued, for anything the general path takes. In the
/// order that keeps nothing alive across a call: the outer header and
/// the size ([`Uplink::plain_icmp_error_outbound`], whose source mapping
/// may be a call), the neighbor's MAC and the frame, then the whole
/// message straight into the frame with no call on the common way
/// ([`Uplink::write_plain_icmp_error`]), the frame handed back if that
/// declines. Inlined into `Router::forward_to_ipv4`: out of line (as it
/// was while the translation kept its state across the calls, when each
/// inlined decline reloaded that function's arguments, about 70
/// instructions a packet) it cost 22 instructions a packet more in
/// arguments, saved registers and reloads; inline, the TCP/UDP path of
/// `forward_to_ipv4` measured 26 more (859 → 885 for udp_64/6to4).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn send_plain_icmp_error(
    transmit: &mut TransmitArea,
    port: &super::Port,
    uplink: &Uplink<BorderAddresses>,
    egress: PortIndex,
    packet: &[u8],
    gateway: Ipv6Addr,
    identification: u16,
    now: Instant,
) -> bool {
    let mtu = port.settings.mtu;
    let Some(plain) = uplink.plain_icmp_error_outbound(packet, gateway, mtu) else {
        return false;
    };
    send_ipv4_frame(
        transmit,
        port,
        egress,
        plain.neighbor,
        plain.length(),
        now,
        |translated| uplink.write_plain_icmp_error(&plain, packet, mtu, identification, translated),
    )
}

/// Writes a plain TCP or UDP translation into a transmit frame on
/// `egress` when its neighbor's MAC is usable; false (nothing queued)
/// otherwise, for the general path to take the packet.
#[inline(always)]
fn send_plain(
    transmit: &mut TransmitArea,
    port: &super::Port,
    egress: PortIndex,
    plain: &PlainOutbound,
    packet: &[u8],
    identification: u16,
    now: Instant,
) -> bool {
    send_ipv4_frame(
        transmit,
        port,
        egress,
        plain.neighbor,
        plain.length(),
        now,
        |translated| plain.write(packet, identification, translated),
    )
}

/// The send step the plain 6→4 paths share: when `neighbor`'s MAC on
/// `port` is usable, reserves a frame for `length` bytes of IPv4 on
/// `egress`, writes its Ethernet header and lets `write` fill the rest,
/// handing the frame back if it declines. False, nothing queued,
/// otherwise.
#[inline(always)]
fn send_ipv4_frame(
    transmit: &mut TransmitArea,
    port: &super::Port,
    egress: PortIndex,
    neighbor: Ipv6Addr,
    length: usize,
    now: Instant,
    write: impl FnOnce(&mut [u8]) -> bool,
) -> bool {
    let Some(mac) = port.neighbors.usable_mac(neighbor, now) else {
        return false;
    };
    let Some(frame) = transmit.push_forwarded(egress, ETHERNET_HEADER_LEN + length) else {
        return false;
    };
    write_ethernet_header(frame, port.mac, mac, ETHERTYPE_IPV4);
    if write(&mut frame[ETHERNET_HEADER_LEN..]) {
        return true;
    }
    transmit.pop_last();
    false
}
