//! The router: takes received Ethernet frames, gives back the frames to transmit, and counts a verdict for every frame.
//!
//! The kernel's loop is only: hand each received frame to
//! [`Router::receive`], transmit what the returned [`Outgoing`] yields, and
//! call [`Router::poll`] for timers. Time is passed in, never read.
//!
//! # What this slice does
//! Each port has one link-local address and is reachable on it:
//! - Ethernet input (RFC 2464): frames to the port's MAC, broadcast, and the
//!   33:33 multicast MACs of the groups the port has joined (all-nodes
//!   ff02::1, all-routers ff02::2, the solicited-node group of its address;
//!   RFC 4291 §2.7.1, §2.8) are accepted; everything else is dropped.
//! - IPv6 input (RFC 8200 §3, §4): version, Payload Length (longer than the
//!   frame: dropped; shorter: the frame is trimmed, which removes Ethernet
//!   padding), extension headers walked in order.
//! - Neighbor Solicitations for the link-local address are answered (the
//!   `neighbor_discovery` module; RFC 4861 §7.1.1, §7.2.3, §7.2.4, RFC 6980
//!   §5).
//! - Echo Requests are answered with Echo Replies (the `echo` module;
//!   RFC 4443 §4.2).
//! - ICMPv6 checksums are verified on input and computed on output
//!   (RFC 4443 §2.3).
//!
//! Everything else is dropped with a named [`DropReason`]; later slices
//! replace some of those reasons (forwarding, ICMPv6 errors, reassembly).
//!
//! # Memory
//! Replies are built in a transmit area allocated once in [`Router::new`]:
//! [`TRANSMIT_AREA_FRAMES`] slots of the largest port MTU plus 14 bytes.
//! [`Router::receive`] and [`Router::poll`] reuse it on every call and do no
//! heap allocation.

mod echo;
mod neighbor_discovery;
#[cfg(test)]
mod test_frames;
mod transmit;

use alloc::vec::Vec;
use core::fmt;
use core::net::Ipv6Addr;

use smoltcp::phy::ChecksumCapabilities;
use smoltcp::time::Instant;
use smoltcp::wire::{
    ETHERNET_HEADER_LEN, EthernetAddress, EthernetFrame, EthernetProtocol, EthernetRepr,
    IPV6_HEADER_LEN, Icmpv6Packet, Icmpv6Repr, IpProtocol, Ipv6Packet, Ipv6Repr,
};

use crate::config::{Config, PortSettings};
use crate::counters::{DropReason, PortCounters};
use transmit::TransmitArea;

/// The most ports (NICs) one router drives.
pub const MAX_PORTS: usize = 8;

/// How many frames one call to [`Router::receive`] or [`Router::poll`] can return.
pub const TRANSMIT_AREA_FRAMES: usize = 8;

/// The hop limit of packets the router originates, other than Neighbor
/// Discovery (the IANA default, RFC 8200 §3 refers to it).
pub const DEFAULT_HOP_LIMIT: u8 = 64;

/// The hop limit Neighbor Discovery messages are sent and received with
/// (RFC 4861 §7.1.1, §7.1.2).
pub const NEIGHBOR_DISCOVERY_HOP_LIMIT: u8 = 255;

/// The all-nodes link-local multicast address ff02::1 (RFC 4291 §2.7.1).
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

/// The all-routers link-local multicast address ff02::2 (RFC 4291 §2.7.1).
pub const ALL_ROUTERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 2);

/// The number of a port: the index of its NIC in the list given to [`Router::new`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PortIndex(pub usize);

impl fmt::Display for PortIndex {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}", self.0)
    }
}

/// What the router needs to know about a NIC the kernel found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NicInfo {
    /// The NIC's MAC address.
    pub mac: [u8; 6],
}

/// Why a router could not be built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RouterError {
    /// More NICs than [`MAX_PORTS`].
    TooManyNics {
        /// How many NICs the kernel offered.
        count: usize,
    },
}

impl fmt::Display for RouterError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RouterError::TooManyNics { count } => write!(
                formatter,
                "{count} NICs, but a router drives at most {MAX_PORTS} ports"
            ),
        }
    }
}

impl core::error::Error for RouterError {}

/// One frame for the kernel to transmit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transmit<'a> {
    /// The port to send it on.
    pub port: PortIndex,
    /// A complete Ethernet frame, without the frame check sequence.
    pub frame: &'a [u8],
}

/// The frames to transmit after one call to [`Router::receive`] or
/// [`Router::poll`], borrowed from the router's transmit area.
#[derive(Clone, Debug)]
pub struct Outgoing<'a> {
    area: &'a TransmitArea,
    next: usize,
}

impl<'a> Iterator for Outgoing<'a> {
    type Item = Transmit<'a>;

    fn next(&mut self) -> Option<Transmit<'a>> {
        let (port, frame) = self.area.frame(self.next)?;
        self.next += 1;
        Some(Transmit { port, frame })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let remaining = self.area.len().saturating_sub(self.next);
        (remaining, Some(remaining))
    }
}

impl ExactSizeIterator for Outgoing<'_> {}

/// A port: its settings, the multicast groups it has joined, its counters.
#[derive(Debug)]
struct Port {
    settings: PortSettings,
    mac: EthernetAddress,
    /// ff02::1, ff02::2 and the solicited-node group of the link-local address.
    groups: [Ipv6Addr; 3],
    counters: PortCounters,
}

impl Port {
    fn new(settings: PortSettings) -> Port {
        let groups = [
            ALL_NODES,
            ALL_ROUTERS,
            solicited_node_address(settings.link_local),
        ];
        Port {
            mac: EthernetAddress(settings.mac),
            settings,
            groups,
            counters: PortCounters::new(),
        }
    }

    /// Whether the port accepts a frame sent to `destination` (RFC 2464 §7:
    /// 33:33 followed by the low 32 bits of the IPv6 group).
    fn accepts_mac(&self, destination: EthernetAddress) -> bool {
        destination == self.mac
            || destination.is_broadcast()
            || self
                .groups
                .iter()
                .any(|group| multicast_mac(*group) == destination)
    }

    /// Whether `destination` is an address of this port: its link-local
    /// address or a group it has joined.
    fn accepts_address(&self, destination: Ipv6Addr) -> bool {
        destination == self.settings.link_local || self.groups.contains(&destination)
    }
}

/// The router: its ports, their counters, and the transmit area.
#[derive(Debug)]
pub struct Router {
    ports: Vec<Port>,
    /// Frames that cannot be attributed to a port (an unknown port index).
    unattributed: PortCounters,
    transmit: TransmitArea,
    /// The time of the latest call to `receive` or `poll`.
    last_time: Instant,
}

impl Router {
    /// Builds a router with one port per NIC, in order, with the settings
    /// [`Config::port_settings`] resolves for it.
    ///
    /// NICs beyond the configured ports get default settings (the kernel
    /// logs that); configured ports with no NIC are left out (the kernel
    /// reports them, see [`Config::ports_without_nic`]). More than
    /// [`MAX_PORTS`] NICs is an error.
    pub fn new(config: &Config, nics: &[NicInfo]) -> Result<Router, RouterError> {
        if nics.len() > MAX_PORTS {
            return Err(RouterError::TooManyNics { count: nics.len() });
        }
        let ports: Vec<Port> = nics
            .iter()
            .enumerate()
            .map(|(index, nic)| Port::new(config.port_settings(index, nic.mac)))
            .collect();
        let largest_mtu = ports
            .iter()
            .map(|port| usize::from(port.settings.mtu))
            .max()
            .unwrap_or(usize::from(crate::config::MINIMUM_MTU));
        Ok(Router {
            ports,
            unattributed: PortCounters::new(),
            transmit: TransmitArea::new(TRANSMIT_AREA_FRAMES, largest_mtu + ETHERNET_HEADER_LEN),
            last_time: Instant::ZERO,
        })
    }

    /// Handles one frame received on `port` at time `now`, and returns the
    /// frames to transmit in response.
    ///
    /// The frame ends in exactly one verdict, counted on `port`: consumed by
    /// the router, or dropped for a [`DropReason`]. A frame for a port the
    /// router does not have is counted as [`DropReason::UnknownPort`] in
    /// [`Router::totals`]. Never panics, whatever the bytes.
    pub fn receive(&mut self, port: PortIndex, frame: &[u8], now: Instant) -> Outgoing<'_> {
        self.last_time = now;
        self.transmit.clear();
        let Some(ingress) = self.ports.get_mut(port.0) else {
            self.unattributed.received = self.unattributed.received.wrapping_add(1);
            self.unattributed.dropped.increment(DropReason::UnknownPort);
            return self.outgoing();
        };
        ingress.counters.received = ingress.counters.received.wrapping_add(1);
        let ingress = &*ingress;
        let verdict = handle_frame(ingress, port, frame, &mut self.transmit);
        let counters = &mut self.ports[port.0].counters;
        match verdict {
            Ok(()) => counters.consumed = counters.consumed.wrapping_add(1),
            Err(reason) => counters.dropped.increment(reason),
        }
        self.count_transmitted();
        self.outgoing()
    }

    /// Runs the router's timers at time `now` and returns the frames they
    /// send. Nothing is timed yet (neighbor cache and Router Advertisements
    /// come later), so this returns no frames, but the kernel loop calls it
    /// already.
    pub fn poll(&mut self, now: Instant) -> Outgoing<'_> {
        self.last_time = now;
        self.transmit.clear();
        self.count_transmitted();
        self.outgoing()
    }

    /// The time passed to the latest [`Router::receive`] or [`Router::poll`].
    pub fn last_time(&self) -> Instant {
        self.last_time
    }

    /// How many ports the router has (one per NIC).
    pub fn port_count(&self) -> usize {
        self.ports.len()
    }

    /// Every port's index, in order.
    pub fn port_indices(&self) -> impl Iterator<Item = PortIndex> + use<> {
        (0..self.ports.len()).map(PortIndex)
    }

    /// The resolved settings of `port` (name, MTU, link-local address, MAC).
    pub fn port_settings(&self, port: PortIndex) -> Option<&PortSettings> {
        self.ports.get(port.0).map(|port| &port.settings)
    }

    /// The name of `port`.
    pub fn port_name(&self, port: PortIndex) -> Option<&str> {
        self.port_settings(port)
            .map(|settings| settings.name.as_str())
    }

    /// The link-local address of `port`.
    pub fn port_link_local(&self, port: PortIndex) -> Option<Ipv6Addr> {
        self.port_settings(port).map(|settings| settings.link_local)
    }

    /// The counters of `port`.
    pub fn port_counters(&self, port: PortIndex) -> Option<&PortCounters> {
        self.ports.get(port.0).map(|port| &port.counters)
    }

    /// `(name, value)` for every counter of `port`, zeros included (see
    /// [`PortCounters::iter`]); empty for a port the router does not have.
    pub fn counters(&self, port: PortIndex) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        self.port_counters(port)
            .into_iter()
            .flat_map(PortCounters::iter)
    }

    /// The sum of every port's counters, plus frames handed in for a port
    /// the router does not have.
    pub fn totals(&self) -> PortCounters {
        let mut totals = self.unattributed;
        for port in &self.ports {
            totals.add(&port.counters);
        }
        totals
    }

    fn outgoing(&self) -> Outgoing<'_> {
        Outgoing {
            area: &self.transmit,
            next: 0,
        }
    }

    fn count_transmitted(&mut self) {
        for index in 0..self.transmit.len() {
            if let Some((port, _)) = self.transmit.frame(index)
                && let Some(egress) = self.ports.get_mut(port.0)
            {
                egress.counters.transmitted = egress.counters.transmitted.wrapping_add(1);
            }
        }
    }
}

/// A verdict short of forwarding: `Ok` is consumed by the router.
type Verdict = Result<(), DropReason>;

/// An IPv6 packet addressed to the router, after the IPv6 header checks.
struct LocalPacket<'a> {
    port: &'a Port,
    port_index: PortIndex,
    /// The Ethernet source of the frame.
    source_mac: EthernetAddress,
    source: Ipv6Addr,
    destination: Ipv6Addr,
    hop_limit: u8,
    /// Whether a Fragment header preceded the upper-layer header.
    fragment_header: bool,
    /// The upper-layer message (the IPv6 payload after the extension headers).
    upper_layer: &'a [u8],
}

/// Ethernet input (RFC 2464, RFC 894 for the ethertype field).
fn handle_frame(
    port: &Port,
    port_index: PortIndex,
    frame: &[u8],
    area: &mut TransmitArea,
) -> Verdict {
    if frame.len() < ETHERNET_HEADER_LEN {
        return Err(DropReason::TruncatedEthernet);
    }
    if frame.len() > usize::from(port.settings.mtu) + ETHERNET_HEADER_LEN {
        return Err(DropReason::OversizedFrame);
    }
    let ethernet = EthernetFrame::new_unchecked(frame);
    let source_mac = ethernet.src_addr();
    if source_mac.is_multicast() {
        return Err(DropReason::InvalidSourceMac);
    }
    if !port.accepts_mac(ethernet.dst_addr()) {
        return Err(DropReason::NotForUs);
    }
    match ethernet.ethertype() {
        EthernetProtocol::Ipv6 => {
            handle_ipv6(port, port_index, source_mac, ethernet.payload(), area)
        }
        // IPv4 and ARP belong to the translator's uplink ports (legacy-ip);
        // no port is an uplink yet.
        EthernetProtocol::Ipv4 | EthernetProtocol::Arp => Err(DropReason::Ipv4NotEnabled),
        EthernetProtocol::Unknown(_) => Err(DropReason::UnknownEthertype),
    }
}

/// IPv6 input (RFC 8200 §3; RFC 4291 §2.5.3, §2.7 for source checks).
fn handle_ipv6(
    port: &Port,
    port_index: PortIndex,
    source_mac: EthernetAddress,
    packet: &[u8],
    area: &mut TransmitArea,
) -> Verdict {
    if packet.len() < IPV6_HEADER_LEN {
        return Err(DropReason::TruncatedIpv6);
    }
    let header = Ipv6Packet::new_unchecked(packet);
    if header.version() != 6 {
        return Err(DropReason::BadIpVersion);
    }
    let total_length = IPV6_HEADER_LEN + usize::from(header.payload_len());
    // Longer than the frame: drop. Shorter: trim (Ethernet pads short frames).
    let Some(packet) = packet.get(..total_length) else {
        return Err(DropReason::Ipv6LengthExceedsFrame);
    };
    let source = header.src_addr();
    let destination = header.dst_addr();
    if source.is_multicast() || source.is_loopback() {
        return Err(DropReason::InvalidSourceAddress);
    }
    if !port.accepts_address(destination) {
        return Err(DropReason::DestinationNotLocal);
    }
    let UpperLayer {
        protocol,
        offset,
        fragment_header,
    } = walk_extension_headers(u8::from(header.next_header()), &packet[IPV6_HEADER_LEN..])?;
    let local = LocalPacket {
        port,
        port_index,
        source_mac,
        source,
        destination,
        hop_limit: header.hop_limit(),
        fragment_header,
        upper_layer: &packet[IPV6_HEADER_LEN + offset..],
    };
    match IpProtocol::from(protocol) {
        IpProtocol::Icmpv6 => handle_icmpv6(&local, area),
        // RFC 8200 §4.7: nothing follows; the packet is done with.
        IpProtocol::Ipv6NoNxt => Ok(()),
        _ => Err(DropReason::UnrecognizedNextHeader),
    }
}

/// Where the upper-layer header starts, after the extension headers.
#[derive(Debug, PartialEq, Eq)]
struct UpperLayer {
    protocol: u8,
    /// Offset in the IPv6 payload.
    offset: usize,
    fragment_header: bool,
}

const HOP_BY_HOP: u8 = 0;
const ROUTING: u8 = 43;
const FRAGMENT: u8 = 44;
const DESTINATION_OPTIONS: u8 = 60;

/// Walks the extension headers of a packet addressed to the router
/// (RFC 8200 §4): Hop-by-Hop only first, options processed by their action
/// bits (§4.2), a Routing header with Segments Left 0 skipped (§4.4; no
/// type is implemented, RFC 5095 §3), a Fragment header accepted only as an
/// atomic fragment (offset 0, M = 0; RFC 8200 §4.5) since reassembly is not
/// implemented.
fn walk_extension_headers(first: u8, payload: &[u8]) -> Result<UpperLayer, DropReason> {
    let mut protocol = first;
    let mut offset = 0usize;
    let mut fragment_header = false;
    loop {
        match protocol {
            HOP_BY_HOP | DESTINATION_OPTIONS | ROUTING => {
                if protocol == HOP_BY_HOP && offset != 0 {
                    return Err(DropReason::HopByHopNotFirst);
                }
                let header = payload
                    .get(offset..offset + 2)
                    .ok_or(DropReason::TruncatedExtensionHeader)?;
                let length = (usize::from(header[1]) + 1) * 8;
                let header = payload
                    .get(offset..offset + length)
                    .ok_or(DropReason::TruncatedExtensionHeader)?;
                if protocol == ROUTING {
                    // Segments Left is the fourth byte.
                    if header[3] != 0 {
                        return Err(DropReason::RoutingHeaderNotSupported);
                    }
                } else {
                    check_options(&header[2..])?;
                }
                protocol = header[0];
                offset += length;
            }
            FRAGMENT => {
                let header = payload
                    .get(offset..offset + 8)
                    .ok_or(DropReason::TruncatedExtensionHeader)?;
                // Fragment Offset (13 bits) and M (lowest bit) in bytes 2..4.
                let offset_and_more = u16::from_be_bytes([header[2], header[3]]);
                if offset_and_more & 0xfff9 != 0 {
                    return Err(DropReason::FragmentReassemblyNotSupported);
                }
                fragment_header = true;
                protocol = header[0];
                offset += 8;
            }
            _ => {
                return Ok(UpperLayer {
                    protocol,
                    offset,
                    fragment_header,
                });
            }
        }
    }
}

/// Checks the options of a Hop-by-Hop or Destination Options header
/// (RFC 8200 §4.2): Pad1 and PadN are understood; an unrecognized option is
/// skipped when its two high bits are 00 and discards the packet otherwise.
fn check_options(mut options: &[u8]) -> Result<(), DropReason> {
    const PAD1: u8 = 0;
    const PADN: u8 = 1;
    while let Some(&option_type) = options.first() {
        if option_type == PAD1 {
            options = &options[1..];
            continue;
        }
        let length = usize::from(*options.get(1).ok_or(DropReason::TruncatedExtensionHeader)?);
        if options.len() < 2 + length {
            return Err(DropReason::TruncatedExtensionHeader);
        }
        if option_type != PADN && option_type & 0xc0 != 0 {
            return Err(DropReason::UnrecognizedOption);
        }
        options = &options[2 + length..];
    }
    Ok(())
}

/// ICMPv6 input (RFC 4443 §2.1–§2.4): length, checksum, then by type.
fn handle_icmpv6(packet: &LocalPacket<'_>, area: &mut TransmitArea) -> Verdict {
    const NEIGHBOR_DISCOVERY_TYPES: core::ops::RangeInclusive<u8> = 133..=137;
    const ECHO_REQUEST: u8 = 128;
    const NEIGHBOR_SOLICITATION: u8 = 135;

    // Type, code, checksum.
    if packet.upper_layer.len() < 4 {
        return Err(DropReason::TruncatedIcmpv6);
    }
    let icmp = Icmpv6Packet::new_unchecked(packet.upper_layer);
    if !icmp.verify_checksum(&packet.source, &packet.destination) {
        return Err(DropReason::BadIcmpv6Checksum);
    }
    let message_type = packet.upper_layer[0];
    if NEIGHBOR_DISCOVERY_TYPES.contains(&message_type) && packet.fragment_header {
        return Err(DropReason::NdpFragmented);
    }
    match message_type {
        ECHO_REQUEST => echo::answer_echo_request(packet, area),
        NEIGHBOR_SOLICITATION => neighbor_discovery::answer_neighbor_solicitation(packet, area),
        _ => Err(DropReason::Icmpv6TypeNotHandled),
    }
}

/// Builds an Ethernet + IPv6 + ICMPv6 frame into the transmit area, with the
/// ICMPv6 checksum computed (RFC 4443 §2.3). Every byte of the frame is
/// written.
struct Icmpv6Reply<'a> {
    port: PortIndex,
    source_mac: EthernetAddress,
    destination_mac: EthernetAddress,
    source: Ipv6Addr,
    destination: Ipv6Addr,
    hop_limit: u8,
    message: Icmpv6Repr<'a>,
}

impl Icmpv6Reply<'_> {
    fn emit(&self, area: &mut TransmitArea) -> Verdict {
        let icmp_length = self.message.buffer_len();
        let ip = Ipv6Repr {
            src_addr: self.source,
            dst_addr: self.destination,
            next_header: IpProtocol::Icmpv6,
            payload_len: icmp_length,
            hop_limit: self.hop_limit,
        };
        let ethernet = EthernetRepr {
            src_addr: self.source_mac,
            dst_addr: self.destination_mac,
            ethertype: EthernetProtocol::Ipv6,
        };
        let length = ethernet.buffer_len() + ip.buffer_len() + icmp_length;
        let frame = area
            .push(self.port, length)
            .ok_or(DropReason::TransmitAreaFull)?;
        let mut ethernet_frame = EthernetFrame::new_unchecked(&mut *frame);
        ethernet.emit(&mut ethernet_frame);
        let mut ip_packet = Ipv6Packet::new_unchecked(ethernet_frame.payload_mut());
        ip.emit(&mut ip_packet);
        let mut icmp_packet = Icmpv6Packet::new_unchecked(ip_packet.payload_mut());
        self.message.emit(
            &self.source,
            &self.destination,
            &mut icmp_packet,
            &ChecksumCapabilities::default(),
        );
        Ok(())
    }
}

/// The solicited-node multicast address of `address`: ff02::1:ff00:0/104
/// followed by its low 24 bits (RFC 4291 §2.7.1).
pub fn solicited_node_address(address: Ipv6Addr) -> Ipv6Addr {
    let low = address.octets();
    Ipv6Addr::from([
        0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff, low[13], low[14], low[15],
    ])
}

/// Whether `address` is a solicited-node multicast address (RFC 4291 §2.7.1).
pub fn is_solicited_node_address(address: Ipv6Addr) -> bool {
    address.octets()[..13] == [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff]
}

/// The Ethernet address of an IPv6 multicast group: 33:33 followed by the
/// group's low 32 bits (RFC 2464 §7).
pub fn multicast_mac(group: Ipv6Addr) -> EthernetAddress {
    let octets = group.octets();
    EthernetAddress([0x33, 0x33, octets[12], octets[13], octets[14], octets[15]])
}

#[cfg(test)]
mod tests {
    //! Input validation: every way a frame can be malformed ends in a named
    //! drop, never a panic. NDP and echo behaviour is tested in their modules.
    use super::test_frames::*;
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;

    #[test]
    fn solicited_node_and_multicast_mac() {
        let address: Ipv6Addr = "fe80::5054:ff:fe12:3456".parse().unwrap();
        let group = solicited_node_address(address);
        assert_eq!(group, "ff02::1:ff12:3456".parse::<Ipv6Addr>().unwrap());
        assert!(is_solicited_node_address(group));
        assert!(!is_solicited_node_address(ALL_NODES));
        assert_eq!(
            multicast_mac(group),
            EthernetAddress([0x33, 0x33, 0xff, 0x12, 0x34, 0x56])
        );
    }

    #[test]
    fn too_many_nics_is_an_error() {
        let nics = vec![NicInfo { mac: ROUTER_MAC }; MAX_PORTS + 1];
        assert_eq!(
            Router::new(&Config::default(), &nics).unwrap_err(),
            RouterError::TooManyNics { count: 9 }
        );
        assert!(Router::new(&Config::default(), &nics[..MAX_PORTS]).is_ok());
    }

    #[test]
    fn ports_take_config_then_defaults() {
        let config =
            crate::config::parse("[[port]]\nname = \"lan0\"\nlink_local = \"fe80::1\"\n").unwrap();
        let router = Router::new(
            &config,
            &[
                NicInfo { mac: ROUTER_MAC },
                NicInfo {
                    mac: [2, 0, 0, 0, 0, 9],
                },
            ],
        )
        .unwrap();
        assert_eq!(router.port_count(), 2);
        assert_eq!(router.port_name(PortIndex(0)), Some("lan0"));
        assert_eq!(router.port_name(PortIndex(1)), Some("port1"));
        assert_eq!(
            router.port_link_local(PortIndex(1)),
            Some("fe80::ff:fe00:9".parse().unwrap())
        );
        assert_eq!(router.port_name(PortIndex(2)), None);
        assert_eq!(router.counters(PortIndex(2)).count(), 0);
    }

    #[test]
    fn unknown_port_is_counted_not_panicking() {
        let mut router = test_router();
        let frame = echo_request_frame(&EchoRequest::default());
        assert_eq!(router.receive(PortIndex(7), &frame, now()).count(), 0);
        assert_eq!(router.totals().dropped.get(DropReason::UnknownPort), 1);
        assert_eq!(router.totals().received, 1);
    }

    #[test]
    fn poll_returns_nothing_yet() {
        let mut router = test_router();
        assert_eq!(router.poll(Instant::from_millis(5)).count(), 0);
        assert_eq!(router.last_time(), Instant::from_millis(5));
    }

    #[test]
    fn ipv4_and_arp_not_enabled() {
        for ethertype in [0x0800u16, 0x0806] {
            let mut frame = echo_request_frame(&EchoRequest::default());
            frame[12..14].copy_from_slice(&ethertype.to_be_bytes());
            assert_dropped(&frame, DropReason::Ipv4NotEnabled);
        }
    }

    #[test]
    fn unknown_ethertype() {
        for ethertype in [0x8100u16, 0x88cc, 0x0000] {
            let mut frame = echo_request_frame(&EchoRequest::default());
            frame[12..14].copy_from_slice(&ethertype.to_be_bytes());
            assert_dropped(&frame, DropReason::UnknownEthertype);
        }
    }

    #[test]
    fn destination_mac_filter() {
        // Another host's unicast MAC.
        let mut frame = echo_request_frame(&EchoRequest::default());
        frame[0..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x77]);
        assert_dropped(&frame, DropReason::NotForUs);
        // A multicast group the port has not joined (MLDv2 routers, ff02::16).
        frame[0..6].copy_from_slice(&[0x33, 0x33, 0, 0, 0, 0x16]);
        assert_dropped(&frame, DropReason::NotForUs);
        // An IPv4 multicast MAC.
        frame[0..6].copy_from_slice(&[0x01, 0x00, 0x5e, 0, 0, 1]);
        assert_dropped(&frame, DropReason::NotForUs);
        // Broadcast and all-nodes are accepted.
        for accepted in [
            [0xff; 6],
            [0x33, 0x33, 0, 0, 0, 1],
            [0x33, 0x33, 0, 0, 0, 2],
        ] {
            frame[0..6].copy_from_slice(&accepted);
            let mut router = test_router();
            assert_eq!(router.receive(PORT, &frame, now()).count(), 1);
        }
    }

    #[test]
    fn multicast_source_mac() {
        let mut frame = echo_request_frame(&EchoRequest::default());
        frame[6..12].copy_from_slice(&[0xff; 6]);
        assert_dropped(&frame, DropReason::InvalidSourceMac);
    }

    #[test]
    fn ip_version_not_6() {
        for version in [0u8, 4, 5, 7, 15] {
            let mut frame = echo_request_frame(&EchoRequest::default());
            frame[14] = (version << 4) | (frame[14] & 0x0f);
            assert_dropped(&frame, DropReason::BadIpVersion);
        }
    }

    #[test]
    fn payload_length_longer_than_frame() {
        let mut frame = echo_request_frame(&EchoRequest::default());
        let length = u16::from_be_bytes([frame[18], frame[19]]) + 1;
        frame[18..20].copy_from_slice(&length.to_be_bytes());
        assert_dropped(&frame, DropReason::Ipv6LengthExceedsFrame);
    }

    #[test]
    fn payload_length_shorter_than_frame_is_trimmed() {
        // Ethernet padding and trailing garbage after the IPv6 packet are ignored
        // (the ICMPv6 checksum would fail if they were not).
        let request = EchoRequest::default();
        let mut frame = echo_request_frame(&request);
        frame.extend_from_slice(&[0xee; 20]);
        let mut router = test_router();
        let replies: Vec<_> = router.receive(PORT, &frame, now()).collect();
        assert_eq!(replies.len(), 1);
        let reply = parse_echo_reply(replies[0].frame);
        assert_eq!(reply.data, request.data);
    }

    #[test]
    fn oversized_frame() {
        let request = EchoRequest {
            data: vec![0x5a; 1500 - 40 - 8 + 1],
            ..EchoRequest::default()
        };
        assert_dropped(&echo_request_frame(&request), DropReason::OversizedFrame);
        // Exactly MTU + 14 is accepted.
        let request = EchoRequest {
            data: vec![0x5a; 1500 - 40 - 8],
            ..EchoRequest::default()
        };
        let mut router = test_router();
        let frame = echo_request_frame(&request);
        assert_eq!(frame.len(), 1514);
        assert_eq!(router.receive(PORT, &frame, now()).count(), 1);
    }

    #[test]
    fn invalid_source_address() {
        for source in ["ff02::1", "::1"] {
            let request = EchoRequest {
                source: source.parse().unwrap(),
                ..EchoRequest::default()
            };
            assert_dropped(
                &echo_request_frame(&request),
                DropReason::InvalidSourceAddress,
            );
        }
    }

    #[test]
    fn destination_not_local() {
        for destination in ["2001:db8::1", "fe80::99", "ff02::16", "ff02::1:ff00:99"] {
            let request = EchoRequest {
                destination: destination.parse().unwrap(),
                ..EchoRequest::default()
            };
            assert_dropped(
                &echo_request_frame(&request),
                DropReason::DestinationNotLocal,
            );
        }
    }

    #[test]
    fn unrecognized_next_header() {
        // UDP (17) and TCP (6): no sockets yet.
        for protocol in [17u8, 6, 50, 253] {
            let mut frame = echo_request_frame(&EchoRequest::default());
            frame[20] = protocol;
            assert_dropped(&frame, DropReason::UnrecognizedNextHeader);
        }
    }

    #[test]
    fn no_next_header_is_consumed() {
        let mut frame = echo_request_frame(&EchoRequest::default());
        frame[20] = 59;
        let mut router = test_router();
        assert_eq!(router.receive(PORT, &frame, now()).count(), 0);
        assert_eq!(router.port_counters(PORT).unwrap().consumed, 1);
    }

    #[test]
    fn extension_headers() {
        let request = EchoRequest::default();
        // Hop-by-Hop with PadN, then Destination Options with Pad1s and an
        // unknown skippable option (type 0x1e): answered.
        let hop_by_hop = [0, 0, 1, 4, 0, 0, 0, 0];
        let destination_options = [0, 0, 0, 0, 0x1e, 2, 0xaa, 0xbb];
        let frame = with_extension_header(
            &with_extension_header(&echo_request_frame(&request), 60, &destination_options),
            0,
            &hop_by_hop,
        );
        let mut router = test_router();
        let replies: Vec<_> = router.receive(PORT, &frame, now()).collect();
        assert_eq!(replies.len(), 1);
        assert_eq!(parse_echo_reply(replies[0].frame).data, request.data);

        // Unknown option with action bits 01: discard.
        let discard = [0, 0, 0x5e, 4, 0, 0, 0, 0];
        let frame = with_extension_header(&echo_request_frame(&request), 60, &discard);
        assert_dropped(&frame, DropReason::UnrecognizedOption);

        // Hop-by-Hop after another extension header.
        let frame = with_extension_header(
            &with_extension_header(&echo_request_frame(&request), 0, &hop_by_hop),
            60,
            &destination_options,
        );
        assert_dropped(&frame, DropReason::HopByHopNotFirst);

        // Routing header with Segments Left 1 (type 0, RFC 5095).
        let routing = [0, 0, 0, 1, 0, 0, 0, 0];
        let frame = with_extension_header(&echo_request_frame(&request), 43, &routing);
        assert_dropped(&frame, DropReason::RoutingHeaderNotSupported);
        // Segments Left 0: skipped, answered.
        let routing = [0, 0, 0, 0, 0, 0, 0, 0];
        let frame = with_extension_header(&echo_request_frame(&request), 43, &routing);
        assert_eq!(test_router().receive(PORT, &frame, now()).count(), 1);

        // A non-atomic fragment: no reassembly yet.
        let first_fragment = [0, 0, 0, 1, 0, 0, 0, 7];
        let frame = with_extension_header(&echo_request_frame(&request), 44, &first_fragment);
        assert_dropped(&frame, DropReason::FragmentReassemblyNotSupported);
        // An atomic fragment is processed as a whole packet (RFC 8200 §4.5).
        let atomic = [0, 0, 0, 0, 0, 0, 0, 7];
        let frame = with_extension_header(&echo_request_frame(&request), 44, &atomic);
        assert_eq!(test_router().receive(PORT, &frame, now()).count(), 1);

        // Header length running past the packet.
        let long = [0, 200, 1, 4, 0, 0, 0, 0];
        let frame = with_extension_header(&echo_request_frame(&request), 0, &long);
        assert_dropped(&frame, DropReason::TruncatedExtensionHeader);
        // An option running past its header.
        let long_option = [0, 0, 0, 0, 0, 0x1e, 9, 0];
        let frame = with_extension_header(&echo_request_frame(&request), 0, &long_option);
        assert_dropped(&frame, DropReason::TruncatedExtensionHeader);
    }

    #[test]
    fn truncated_icmpv6() {
        // IPv6 payload of 3 bytes.
        let mut frame = echo_request_frame(&EchoRequest::default());
        frame.truncate(14 + 40 + 3);
        frame[18..20].copy_from_slice(&3u16.to_be_bytes());
        assert_dropped(&frame, DropReason::TruncatedIcmpv6);
    }

    #[test]
    fn bad_checksum() {
        let mut frame = echo_request_frame(&EchoRequest::default());
        frame[14 + 40 + 2] ^= 0x01;
        assert_dropped(&frame, DropReason::BadIcmpv6Checksum);
        // A corrupted payload byte breaks the checksum as well.
        let mut frame = echo_request_frame(&EchoRequest::default());
        let last = frame.len() - 1;
        frame[last] ^= 0x80;
        assert_dropped(&frame, DropReason::BadIcmpv6Checksum);
    }

    #[test]
    fn unhandled_icmpv6_type() {
        // An Echo Reply to the router: valid, but nothing waits for it yet.
        let mut frame = echo_request_frame(&EchoRequest::default());
        frame[14 + 40] = 129;
        fix_icmpv6_checksum(&mut frame);
        assert_dropped(&frame, DropReason::Icmpv6TypeNotHandled);
    }

    /// Every prefix of valid frames, including the empty one, ends in one
    /// counted verdict and never panics.
    #[test]
    fn every_truncation_is_counted() {
        let frames = [
            echo_request_frame(&EchoRequest::default()),
            neighbor_solicitation_frame(&NeighborSolicitation::default()),
            neighbor_solicitation_frame(&NeighborSolicitation::duplicate_address_detection()),
        ];
        for frame in &frames {
            let mut router = test_router();
            for length in 0..frame.len() {
                let replies = router.receive(PORT, &frame[..length], now()).count();
                assert_eq!(
                    replies, 0,
                    "a truncated frame of {length} bytes was answered"
                );
            }
            let counters = router.port_counters(PORT).unwrap();
            assert_eq!(counters.received, frame.len() as u64);
            assert_eq!(counters.dropped.total(), frame.len() as u64);
            assert_eq!(
                counters.dropped.get(DropReason::TruncatedEthernet),
                ETHERNET_HEADER_LEN as u64
            );
            assert_eq!(
                counters.dropped.get(DropReason::TruncatedIpv6),
                IPV6_HEADER_LEN as u64
            );
        }
    }

    /// Deterministic pseudo-random frames (xorshift64): never a panic, always
    /// exactly one verdict, and replies only for valid requests.
    #[test]
    fn random_frames_never_panic() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let templates = [
            echo_request_frame(&EchoRequest::default()),
            neighbor_solicitation_frame(&NeighborSolicitation::default()),
        ];
        let mut router = test_router();
        let mut frame = Vec::with_capacity(1600);
        let rounds = 4000u64;
        for round in 0..rounds {
            frame.clear();
            if round % 2 == 0 {
                // Pure noise, with a plausible header half the time.
                let length = (next() % 1600) as usize;
                frame.extend((0..length).map(|_| next() as u8));
                if round % 4 == 0 && frame.len() >= 14 {
                    frame[0..6].copy_from_slice(&ROUTER_MAC);
                    frame[12..14].copy_from_slice(&[0x86, 0xdd]);
                    if frame.len() > 14 {
                        frame[14] = 0x60;
                    }
                }
            } else {
                // A valid frame with a few bytes flipped.
                frame.extend_from_slice(&templates[(round / 2 % 2) as usize]);
                for _ in 0..(next() % 4) {
                    let position = (next() as usize) % frame.len();
                    frame[position] ^= next() as u8 | 1;
                }
            }
            for reply in router.receive(PORT, &frame, now()) {
                // Whatever is sent parses and has a valid checksum.
                assert_valid_icmpv6_frame(reply.frame);
            }
        }
        let counters = router.port_counters(PORT).unwrap();
        assert_eq!(counters.received, rounds);
        assert_eq!(counters.consumed + counters.dropped.total(), rounds);
    }
}
