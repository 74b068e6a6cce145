//! Test frames built and parsed with etherparse, an independent packet library, so the router is not checked against its own codecs.

use alloc::vec::Vec;
use core::net::Ipv6Addr;

use etherparse::icmpv6::{NdpOptionSlice, NeighborAdvertisementPayloadSlice};
use etherparse::{Icmpv6Type, LinkSlice, NetSlice, PacketBuilder, SlicedPacket, TransportSlice};
use smoltcp::time::Instant;

use super::{NicInfo, PortIndex, Router, solicited_node_address};
use crate::config::Config;
use crate::counters::DropReason;

/// The router's NIC: QEMU's default MAC.
pub const ROUTER_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
/// The router's EUI-64 link-local address for [`ROUTER_MAC`].
pub const ROUTER_LINK_LOCAL: Ipv6Addr =
    Ipv6Addr::new(0xfe80, 0, 0, 0, 0x5054, 0x00ff, 0xfe12, 0x3456);
/// A host on the link.
pub const HOST_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
/// The host's link-local address.
pub const HOST_LINK_LOCAL: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 2);
/// The only port of [`test_router`].
pub const PORT: PortIndex = PortIndex(0);

/// A router with the default config and one NIC with [`ROUTER_MAC`].
pub fn test_router() -> Router {
    Router::new(&Config::default(), &[NicInfo { mac: ROUTER_MAC }]).unwrap()
}

/// Any time; the router does not time anything yet.
pub fn now() -> Instant {
    Instant::from_millis(1_000)
}

/// Asserts that `frame`, received by a fresh [`test_router`], is answered
/// with nothing and counted as dropped for `reason` (and nothing else).
#[track_caller]
pub fn assert_dropped(frame: &[u8], reason: DropReason) {
    let mut router = test_router();
    let replies = router.receive(PORT, frame, now()).count();
    let counters = router.port_counters(PORT).unwrap();
    let dropped: Vec<(&str, u64)> = counters
        .dropped
        .iter()
        .filter(|(_, value)| *value != 0)
        .collect();
    assert_eq!(dropped, [(reason.name(), 1)], "wrong verdict");
    assert_eq!(replies, 0);
    assert_eq!(
        (counters.received, counters.consumed, counters.transmitted),
        (1, 0, 0)
    );
}

/// An Echo Request frame's fields.
#[derive(Clone, Debug)]
pub struct EchoRequest {
    pub source_mac: [u8; 6],
    pub destination_mac: [u8; 6],
    pub source: Ipv6Addr,
    pub destination: Ipv6Addr,
    pub hop_limit: u8,
    pub identifier: u16,
    pub sequence: u16,
    pub data: Vec<u8>,
}

impl Default for EchoRequest {
    /// From the host to the router's link-local address.
    fn default() -> Self {
        EchoRequest {
            source_mac: HOST_MAC,
            destination_mac: ROUTER_MAC,
            source: HOST_LINK_LOCAL,
            destination: ROUTER_LINK_LOCAL,
            hop_limit: 64,
            identifier: 0x1234,
            sequence: 1,
            data: b"pure6 echo test data".to_vec(),
        }
    }
}

/// Builds an Echo Request frame (RFC 4443 §4.1).
pub fn echo_request_frame(request: &EchoRequest) -> Vec<u8> {
    let builder = PacketBuilder::ethernet2(request.source_mac, request.destination_mac)
        .ipv6(
            request.source.octets(),
            request.destination.octets(),
            request.hop_limit,
        )
        .icmpv6_echo_request(request.identifier, request.sequence);
    let mut frame = Vec::with_capacity(builder.size(request.data.len()));
    builder.write(&mut frame, &request.data).unwrap();
    frame
}

/// A Neighbor Solicitation frame's fields.
#[derive(Clone, Debug)]
pub struct NeighborSolicitation {
    pub source_mac: [u8; 6],
    pub destination_mac: [u8; 6],
    pub source: Ipv6Addr,
    pub destination: Ipv6Addr,
    pub hop_limit: u8,
    pub code: u8,
    pub target: Ipv6Addr,
    /// Emitted as a Source Link-Layer Address option first.
    pub source_link_layer: Option<[u8; 6]>,
    /// Appended after it, unchecked.
    pub raw_options: Vec<u8>,
}

impl Default for NeighborSolicitation {
    /// Address resolution of the router's link-local address by the host,
    /// sent to the solicited-node group (RFC 4861 §7.2.2).
    fn default() -> Self {
        let group = solicited_node_address(ROUTER_LINK_LOCAL);
        NeighborSolicitation {
            source_mac: HOST_MAC,
            destination_mac: super::multicast_mac(group).0,
            source: HOST_LINK_LOCAL,
            destination: group,
            hop_limit: 255,
            code: 0,
            target: ROUTER_LINK_LOCAL,
            source_link_layer: Some(HOST_MAC),
            raw_options: Vec::new(),
        }
    }
}

impl NeighborSolicitation {
    /// Duplicate address detection for the router's address: source ::, no
    /// Source Link-Layer Address option (RFC 4862 §5.4.2).
    pub fn duplicate_address_detection() -> Self {
        NeighborSolicitation {
            source: Ipv6Addr::UNSPECIFIED,
            source_link_layer: None,
            ..NeighborSolicitation::default()
        }
    }
}

/// Builds a Neighbor Solicitation frame (RFC 4861 §4.3).
pub fn neighbor_solicitation_frame(solicitation: &NeighborSolicitation) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&solicitation.target.octets());
    if let Some(mac) = solicitation.source_link_layer {
        body.extend_from_slice(&[1, 1]);
        body.extend_from_slice(&mac);
    }
    body.extend_from_slice(&solicitation.raw_options);
    let builder = PacketBuilder::ethernet2(solicitation.source_mac, solicitation.destination_mac)
        .ipv6(
            solicitation.source.octets(),
            solicitation.destination.octets(),
            solicitation.hop_limit,
        )
        .icmpv6_raw(135, solicitation.code, [0; 4]);
    let mut frame = Vec::with_capacity(builder.size(body.len()));
    builder.write(&mut frame, &body).unwrap();
    frame
}

/// Inserts an 8-byte-multiple extension header right after the IPv6 header
/// of `frame`: `header[0]` (its Next Header) is set to the frame's next
/// header, and the IPv6 Next Header becomes `protocol`. The ICMPv6 checksum
/// stays valid: the pseudo-header covers only the upper-layer length.
pub fn with_extension_header(frame: &[u8], protocol: u8, header: &[u8]) -> Vec<u8> {
    assert_eq!(header.len() % 8, 0);
    let mut header = header.to_vec();
    header[0] = frame[20];
    let mut result = frame[..54].to_vec();
    result[20] = protocol;
    let payload_length = u16::from_be_bytes([frame[18], frame[19]]) + header.len() as u16;
    result[18..20].copy_from_slice(&payload_length.to_be_bytes());
    result.extend_from_slice(&header);
    result.extend_from_slice(&frame[54..]);
    result
}

/// Recomputes the ICMPv6 checksum of a frame with no extension headers.
pub fn fix_icmpv6_checksum(frame: &mut [u8]) {
    let source: [u8; 16] = frame[22..38].try_into().unwrap();
    let destination: [u8; 16] = frame[38..54].try_into().unwrap();
    frame[56] = 0;
    frame[57] = 0;
    let message = &frame[54..];
    let mut sum: u32 = 0;
    let mut add = |bytes: &[u8]| {
        for pair in bytes.chunks(2) {
            let high = u32::from(pair[0]) << 8;
            let low = pair.get(1).copied().map_or(0, u32::from);
            sum += high | low;
        }
    };
    add(&source);
    add(&destination);
    add(&(message.len() as u32).to_be_bytes());
    add(&[0, 0, 0, 58]);
    add(message);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    let checksum = !(sum as u16);
    frame[56..58].copy_from_slice(&checksum.to_be_bytes());
}

/// The Ethernet and IPv6 fields of a reply, parsed with etherparse, after
/// checking that its ICMPv6 checksum is valid.
struct ParsedFrame<'a> {
    source_mac: [u8; 6],
    destination_mac: [u8; 6],
    source: Ipv6Addr,
    destination: Ipv6Addr,
    hop_limit: u8,
    icmp: etherparse::Icmpv6Slice<'a>,
}

fn parse_icmpv6_frame(frame: &[u8]) -> ParsedFrame<'_> {
    let packet = SlicedPacket::from_ethernet(frame).expect("etherparse rejects the frame");
    let Some(LinkSlice::Ethernet2(ethernet)) = packet.link else {
        panic!("not Ethernet II");
    };
    let Some(NetSlice::Ipv6(ipv6)) = packet.net else {
        panic!("not IPv6");
    };
    let Some(TransportSlice::Icmpv6(icmp)) = packet.transport else {
        panic!("not ICMPv6");
    };
    let header = ipv6.header();
    assert_eq!(
        usize::from(header.payload_length()) + 40 + 14,
        frame.len(),
        "IPv6 length disagrees with the frame"
    );
    assert!(
        icmp.is_checksum_valid(header.source(), header.destination()),
        "bad ICMPv6 checksum"
    );
    ParsedFrame {
        source_mac: ethernet.source(),
        destination_mac: ethernet.destination(),
        source: header.source_addr(),
        destination: header.destination_addr(),
        hop_limit: header.hop_limit(),
        icmp,
    }
}

/// Asserts that `frame` is Ethernet + IPv6 + ICMPv6 with a valid checksum.
#[track_caller]
pub fn assert_valid_icmpv6_frame(frame: &[u8]) {
    parse_icmpv6_frame(frame);
}

/// A parsed Echo Reply.
#[derive(Debug)]
pub struct EchoReply {
    pub source_mac: [u8; 6],
    pub destination_mac: [u8; 6],
    pub source: Ipv6Addr,
    pub destination: Ipv6Addr,
    pub hop_limit: u8,
    pub identifier: u16,
    pub sequence: u16,
    pub data: Vec<u8>,
}

/// Parses an Echo Reply frame with etherparse (checksum verified).
#[track_caller]
pub fn parse_echo_reply(frame: &[u8]) -> EchoReply {
    let parsed = parse_icmpv6_frame(frame);
    let Icmpv6Type::EchoReply(echo) = parsed.icmp.icmp_type() else {
        panic!("not an Echo Reply: {:?}", parsed.icmp.icmp_type());
    };
    EchoReply {
        source_mac: parsed.source_mac,
        destination_mac: parsed.destination_mac,
        source: parsed.source,
        destination: parsed.destination,
        hop_limit: parsed.hop_limit,
        identifier: echo.id,
        sequence: echo.seq,
        data: parsed.icmp.payload().to_vec(),
    }
}

/// A parsed Neighbor Advertisement.
#[derive(Debug)]
pub struct NeighborAdvertisement {
    pub source_mac: [u8; 6],
    pub destination_mac: [u8; 6],
    pub source: Ipv6Addr,
    pub destination: Ipv6Addr,
    pub hop_limit: u8,
    pub router: bool,
    pub solicited: bool,
    pub override_flag: bool,
    pub target: Ipv6Addr,
    pub target_link_layer: Option<[u8; 6]>,
}

/// Parses a Neighbor Advertisement frame with etherparse (checksum verified).
#[track_caller]
pub fn parse_neighbor_advertisement(frame: &[u8]) -> NeighborAdvertisement {
    let parsed = parse_icmpv6_frame(frame);
    let Icmpv6Type::NeighborAdvertisement(header) = parsed.icmp.icmp_type() else {
        panic!(
            "not a Neighbor Advertisement: {:?}",
            parsed.icmp.icmp_type()
        );
    };
    assert_eq!(parsed.icmp.code_u8(), 0);
    let body = NeighborAdvertisementPayloadSlice::from_slice(parsed.icmp.payload()).unwrap();
    let mut target_link_layer = None;
    for option in body.options_iterator() {
        if let NdpOptionSlice::TargetLinkLayerAddress(option) = option.unwrap() {
            target_link_layer = Some(option.link_layer_address().try_into().unwrap());
        }
    }
    NeighborAdvertisement {
        source_mac: parsed.source_mac,
        destination_mac: parsed.destination_mac,
        source: parsed.source,
        destination: parsed.destination,
        hop_limit: parsed.hop_limit,
        router: header.router,
        solicited: header.solicited,
        override_flag: header.r#override,
        target: body.target_address(),
        target_link_layer,
    }
}

#[allow(dead_code)] // every field is parsed; each test reads the ones it checks
/// A parsed ICMPv6 error message (RFC 4443 §3): addresses, type, code, the
/// 32-bit field (unused, MTU or pointer), and the quoted invoking packet.
#[derive(Debug)]
pub struct IcmpErrorReply {
    pub source_mac: [u8; 6],
    pub destination_mac: [u8; 6],
    pub source: Ipv6Addr,
    pub destination: Ipv6Addr,
    pub hop_limit: u8,
    pub message_type: u8,
    pub code: u8,
    pub field: u32,
    pub invoking: Vec<u8>,
    /// The whole IPv6 packet length.
    pub packet_length: usize,
}

/// Parses an ICMPv6 error frame with etherparse (checksum verified).
#[track_caller]
pub fn parse_icmp_error(frame: &[u8]) -> IcmpErrorReply {
    let parsed = parse_icmpv6_frame(frame);
    let header = parsed.icmp.header();
    let bytes = header.to_bytes();
    let message_type = bytes[0];
    assert!(
        message_type < 128,
        "not an ICMPv6 error: type {message_type}"
    );
    IcmpErrorReply {
        source_mac: parsed.source_mac,
        destination_mac: parsed.destination_mac,
        source: parsed.source,
        destination: parsed.destination,
        hop_limit: parsed.hop_limit,
        message_type,
        code: bytes[1],
        field: u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]),
        invoking: parsed.icmp.payload().to_vec(),
        packet_length: frame.len() - 14,
    }
}
