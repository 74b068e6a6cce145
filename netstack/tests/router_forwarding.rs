//! Forwarding through the public API with virtual time: NDP resolution across ports, ICMPv6 errors (RFC 4443), Router Advertisements (RFC 4861 §6.2), and RFC 6583 bounds.
//!
//! Frames are built and parsed with etherparse, an independent library.

use std::net::Ipv6Addr;

use etherparse::icmpv6::{NdpOptionSlice, RouterAdvertisementPayloadSlice};
use etherparse::{Icmpv6Type, NetSlice, PacketBuilder, SlicedPacket, TransportSlice};
use netstack::config;
use netstack::counters::{DropReason, PortEvent};
use netstack::router::{NeighborState, NextHop, NicInfo, PortIndex, Router};
use smoltcp::time::Instant;

const LAN0: PortIndex = PortIndex(0);
const LAN1: PortIndex = PortIndex(1);
const WAN0: PortIndex = PortIndex(2);
const ROUTER_MACS: [[u8; 6]; 3] = [
    [0x52, 0x54, 0, 0, 0, 0x10],
    [0x52, 0x54, 0, 0, 0, 0x11],
    [0x52, 0x54, 0, 0, 0, 0x12],
];
const HOST_A_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0a];
const HOST_C_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0c];
const GATEWAY_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0xfe];

const CONFIG: &str = r#"
[icmp]
rate_limit_per_second = 10
burst = 10

[neighbor_cache]
capacity = 64
incomplete_limit = 16

[[port]]
name = "lan0"
addresses = ["2001:db8:1::1/64"]

[[port]]
name = "lan1"
addresses = ["2001:db8:2::1/64"]
[port.router_advertisements]
enabled = true
max_interval_seconds = 600

[[port]]
name = "wan0"
mtu = 1280
addresses = ["2001:db8:ff::1/64"]

[[route]]
prefix = "2001:db8:100::/48"
via = "fe80::fe"
port = "wan0"

[[route]]
prefix = "2001:db8:dead::/48"
kind = "blackhole"

[[route]]
prefix = "2001:db8:beef::/48"
kind = "reject"

[[neighbor]]
port = "wan0"
address = "fe80::fe"
mac = "02:00:00:00:00:fe"
"#;

fn address(text: &str) -> Ipv6Addr {
    text.parse().unwrap()
}

fn host_a() -> Ipv6Addr {
    address("2001:db8:1::a")
}

fn host_c() -> Ipv6Addr {
    address("2001:db8:2::c")
}

fn router() -> Router {
    let config = config::parse(CONFIG).expect("the test config parses");
    let nics: Vec<NicInfo> = ROUTER_MACS.iter().map(|&mac| NicInfo { mac }).collect();
    Router::with_seed(&config, &nics, 42).unwrap()
}

fn at(milliseconds: i64) -> Instant {
    Instant::from_millis(milliseconds)
}

/// A UDP packet from host A on lan0 to `destination`.
fn udp_from_a(destination: Ipv6Addr, hop_limit: u8, payload_length: usize) -> Vec<u8> {
    let builder = PacketBuilder::ethernet2(HOST_A_MAC, ROUTER_MACS[0])
        .ipv6(host_a().octets(), destination.octets(), hop_limit)
        .udp(4000, 5000);
    let payload = vec![0x5a; payload_length];
    let mut frame = Vec::with_capacity(builder.size(payload.len()));
    builder.write(&mut frame, &payload).unwrap();
    frame
}

/// A Neighbor Advertisement from `source` (MAC `mac`) on `port`.
fn neighbor_advertisement(
    port: PortIndex,
    source: Ipv6Addr,
    mac: [u8; 6],
    solicited: bool,
    override_flag: bool,
) -> Vec<u8> {
    let flags = (0x40 * u8::from(solicited)) | (0x20 * u8::from(override_flag));
    let mut body = source.octets().to_vec();
    body.extend_from_slice(&[2, 1]);
    body.extend_from_slice(&mac);
    // To the router's EUI-64 link-local address on the port.
    let link_local = config::eui64_link_local(ROUTER_MACS[port.0]);
    let builder = PacketBuilder::ethernet2(mac, ROUTER_MACS[port.0])
        .ipv6(source.octets(), link_local.octets(), 255)
        .icmpv6_raw(136, 0, [flags, 0, 0, 0]);
    let mut frame = Vec::new();
    builder.write(&mut frame, &body).unwrap();
    frame
}

fn receive(
    router: &mut Router,
    port: PortIndex,
    frame: &[u8],
    now: Instant,
) -> Vec<(PortIndex, Vec<u8>)> {
    router
        .receive(port, frame, now)
        .map(|transmit| (transmit.port, transmit.frame.to_vec()))
        .collect()
}

/// The frames of a poll other than Router Advertisements.
fn poll_without_advertisements(router: &mut Router, now: Instant) -> Vec<(PortIndex, Vec<u8>)> {
    let mut frames = poll(router, now);
    frames.retain(|(_, frame)| frame.get(14 + 40) != Some(&134));
    frames
}

fn poll(router: &mut Router, now: Instant) -> Vec<(PortIndex, Vec<u8>)> {
    router
        .poll(now)
        .map(|transmit| (transmit.port, transmit.frame.to_vec()))
        .collect()
}

/// The IPv6 fields and ICMPv6 message of a frame, checksum verified.
struct Parsed {
    destination_mac: [u8; 6],
    source: Ipv6Addr,
    destination: Ipv6Addr,
    hop_limit: u8,
    icmp_type: u8,
    icmp_code: u8,
    field: u32,
    payload: Vec<u8>,
}

fn parse_icmp(frame: &[u8]) -> Parsed {
    let packet = SlicedPacket::from_ethernet(frame).expect("etherparse parses the frame");
    let Some(NetSlice::Ipv6(ipv6)) = packet.net else {
        panic!("not IPv6");
    };
    let Some(TransportSlice::Icmpv6(icmp)) = packet.transport else {
        panic!("not ICMPv6");
    };
    let header = ipv6.header();
    assert!(icmp.is_checksum_valid(header.source(), header.destination()));
    let bytes = icmp.header().to_bytes();
    Parsed {
        destination_mac: frame[0..6].try_into().unwrap(),
        source: header.source_addr(),
        destination: header.destination_addr(),
        hop_limit: header.hop_limit(),
        icmp_type: bytes[0],
        icmp_code: bytes[1],
        field: u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]),
        payload: icmp.payload().to_vec(),
    }
}

/// Resolves host C on lan1 by answering the router's solicitation.
fn resolve_host_c(router: &mut Router, now: Instant) {
    let sent = receive(router, LAN0, &udp_from_a(host_c(), 64, 10), now);
    assert_eq!(sent.len(), 1);
    let answer = neighbor_advertisement(LAN1, host_c(), HOST_C_MAC, true, true);
    let released = receive(router, LAN1, &answer, now);
    assert_eq!(released.len(), 1);
}

/// RFC 4861 §7.2.2: a multicast solicitation, the packet queued, then
/// released by the advertisement; later packets go straight out.
#[test]
fn forwards_a_to_c_across_ports_with_address_resolution() {
    let mut router = router();
    let packet = udp_from_a(host_c(), 64, 100);
    let sent = receive(&mut router, LAN0, &packet, at(1000));
    assert_eq!(sent.len(), 1, "one solicitation, the packet waits");
    let (port, solicitation) = &sent[0];
    assert_eq!(*port, LAN1);
    let parsed = parse_icmp(solicitation);
    assert_eq!(parsed.icmp_type, 135);
    assert_eq!(parsed.destination, address("ff02::1:ff00:c"));
    assert_eq!(parsed.destination_mac, [0x33, 0x33, 0xff, 0, 0, 0x0c]);
    assert_eq!(parsed.hop_limit, 255);
    assert_eq!(parsed.source, address("2001:db8:2::1"));
    assert_eq!(&parsed.payload[..16], &host_c().octets());
    assert_eq!(
        &parsed.payload[16..18],
        &[1, 1],
        "Source Link-Layer Address option"
    );
    assert_eq!(&parsed.payload[18..24], &ROUTER_MACS[1]);
    assert_eq!(router.pending_packets(LAN0), 1);
    assert_eq!(
        router.neighbor_state(LAN1, host_c(), at(1000)),
        Some(NeighborState::Incomplete)
    );

    let answer = neighbor_advertisement(LAN1, host_c(), HOST_C_MAC, true, true);
    let released = receive(&mut router, LAN1, &answer, at(1010));
    assert_eq!(released.len(), 1);
    let (port, forwarded) = &released[0];
    assert_eq!(*port, LAN1);
    assert_eq!(&forwarded[0..6], &HOST_C_MAC);
    assert_eq!(&forwarded[6..12], &ROUTER_MACS[1]);
    assert_eq!(forwarded[14 + 7], 63, "hop limit decremented");
    assert_eq!(forwarded[14 + 8..], packet[14 + 8..], "the rest unchanged");
    assert_eq!(forwarded[14..14 + 7], packet[14..14 + 7]);
    assert_eq!(
        router.neighbor_state(LAN1, host_c(), at(1010)),
        Some(NeighborState::Reachable)
    );
    assert_eq!(router.neighbor_mac(LAN1, host_c()), Some(HOST_C_MAC));

    // Now resolved: straight through.
    let sent = receive(&mut router, LAN0, &packet, at(1020));
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, LAN1);
    assert_eq!(sent[0].1[14 + 7], 63);

    let lan0 = router.port_counters(LAN0).unwrap();
    assert_eq!(
        (lan0.received, lan0.forwarded, lan0.dropped.total()),
        (2, 2, 0)
    );
    assert_eq!(router.pending_packets(LAN0), 0);
    let lan1 = router.port_counters(LAN1).unwrap();
    assert_eq!(lan1.events.get(PortEvent::OutForwarded), 2);
    assert_eq!(lan1.events.get(PortEvent::NeighborSolicitationsSent), 1);
    assert_eq!(lan1.consumed, 1, "the advertisement");
}

/// RFC 8200 §3, RFC 4443 §3.3 and §2.2: Time Exceeded code 0 from the
/// ingress port's global address, quoting the packet.
#[test]
fn hop_limit_one_gets_time_exceeded_from_the_ingress_address() {
    let mut router = router();
    for hop_limit in [0u8, 1] {
        let packet = udp_from_a(host_c(), hop_limit, 20);
        let sent = receive(&mut router, LAN0, &packet, at(0));
        assert_eq!(sent.len(), 1);
        let (port, frame) = &sent[0];
        assert_eq!(*port, LAN0);
        let error = parse_icmp(frame);
        assert_eq!((error.icmp_type, error.icmp_code), (3, 0));
        assert_eq!(error.source, address("2001:db8:1::1"));
        assert_eq!(error.destination, host_a());
        assert_eq!(error.destination_mac, HOST_A_MAC);
        assert_eq!(error.payload, packet[14..]);
    }
    let counters = router.port_counters(LAN0).unwrap();
    assert_eq!(counters.dropped.get(DropReason::HopLimitExceeded), 2);
    assert_eq!(counters.events.get(PortEvent::IcmpTimeExceededSent), 2);
    // Hop limit 2 is forwarded (to resolution).
    assert_eq!(
        receive(&mut router, LAN0, &udp_from_a(host_c(), 2, 20), at(0)).len(),
        1
    );
    assert_eq!(router.pending_packets(LAN0), 1);
}

/// RFC 4443 §3.2, RFC 8200 §5: too big for the 1280-byte wan0 → Packet
/// Too Big with MTU 1280, at most 1280 bytes, no fragmentation.
#[test]
fn oversize_toward_1280_port_gets_packet_too_big() {
    let mut router = router();
    let destination = address("2001:db8:100::7");
    // 40 + 8 + 1233 = 1281 bytes.
    let packet = udp_from_a(destination, 64, 1233);
    let sent = receive(&mut router, LAN0, &packet, at(0));
    assert_eq!(sent.len(), 1);
    let error = parse_icmp(&sent[0].1);
    assert_eq!(
        (error.icmp_type, error.icmp_code, error.field),
        (2, 0, 1280)
    );
    assert_eq!(sent[0].1.len() - 14, 1280, "the error fills 1280 bytes");
    assert_eq!(error.payload, packet[14..14 + 1232]);
    assert_eq!(
        router
            .port_counters(LAN0)
            .unwrap()
            .dropped
            .get(DropReason::PacketTooBig),
        1
    );
    // Exactly 1280 goes through, to the static neighbor.
    let packet = udp_from_a(destination, 64, 1232);
    let sent = receive(&mut router, LAN0, &packet, at(0));
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, WAN0);
    assert_eq!(&sent[0].1[0..6], &GATEWAY_MAC);
}

/// RFC 4443 §3.1: no route → code 0; reject route → code 6; blackhole →
/// silence. Each counted.
#[test]
fn no_route_reject_and_blackhole() {
    let mut router = router();
    for (destination, code) in [("2001:db8:9999::1", 0u8), ("2001:db8:beef::1", 6)] {
        let sent = receive(
            &mut router,
            LAN0,
            &udp_from_a(address(destination), 64, 8),
            at(0),
        );
        assert_eq!(sent.len(), 1);
        let error = parse_icmp(&sent[0].1);
        assert_eq!((error.icmp_type, error.icmp_code), (1, code));
        assert_eq!(error.destination, host_a());
    }
    assert!(
        receive(
            &mut router,
            LAN0,
            &udp_from_a(address("2001:db8:dead::1"), 64, 8),
            at(0)
        )
        .is_empty()
    );
    let counters = router.port_counters(LAN0).unwrap();
    assert_eq!(counters.dropped.get(DropReason::NoRoute), 1);
    assert_eq!(counters.dropped.get(DropReason::RouteReject), 1);
    assert_eq!(counters.dropped.get(DropReason::RouteBlackhole), 1);
    assert_eq!(
        counters
            .events
            .get(PortEvent::IcmpDestinationUnreachableSent),
        2
    );
    let statistics = counters.ip6_statistics();
    assert_eq!(statistics.in_no_routes, 2);
    assert_eq!(statistics.in_discards, 1);
}

/// RFC 4291 §2.5.6: link-local destinations are never forwarded; packets
/// to the router's own global addresses on any port are for the router.
#[test]
fn link_local_not_forwarded_and_own_addresses_local() {
    let mut router = router();
    assert!(
        receive(
            &mut router,
            LAN0,
            &udp_from_a(address("fe80::c"), 64, 8),
            at(0)
        )
        .is_empty()
    );
    assert_eq!(
        router
            .port_counters(LAN0)
            .unwrap()
            .dropped
            .get(DropReason::LinkLocalNotForwarded),
        1
    );
    // An echo request to lan1's address, arriving on lan0, is answered.
    let builder = PacketBuilder::ethernet2(HOST_A_MAC, ROUTER_MACS[0])
        .ipv6(host_a().octets(), address("2001:db8:2::1").octets(), 64)
        .icmpv6_echo_request(1, 1);
    let mut frame = Vec::new();
    builder.write(&mut frame, b"ping").unwrap();
    let sent = receive(&mut router, LAN0, &frame, at(0));
    assert_eq!(sent.len(), 1);
    let reply = parse_icmp(&sent[0].1);
    assert_eq!(reply.icmp_type, 129);
    assert_eq!(reply.source, address("2001:db8:2::1"));
}

/// The router's own addresses win over every route, even a /128 route of
/// the address itself, and hosts beside them in the connected /64 are
/// still forwarded (own addresses are checked before the FIB, not stored
/// in it).
#[test]
fn own_addresses_win_over_routes_to_them() {
    let config = format!(
        "{CONFIG}\n[[route]]\nprefix = \"2001:db8:2::1/128\"\nkind = \"blackhole\"\n\n\
         [[route]]\nprefix = \"2001:db8:ff::/60\"\nkind = \"reject\"\n"
    );
    let config = config::parse(&config).expect("the config parses");
    let nics: Vec<NicInfo> = ROUTER_MACS.iter().map(|&mac| NicInfo { mac }).collect();
    let mut router = Router::with_seed(&config, &nics, 42).unwrap();
    assert_eq!(router.route(address("2001:db8:2::1")), Some(NextHop::Local));
    assert_eq!(
        router.route(address("2001:db8:ff::1")),
        Some(NextHop::Local)
    );
    assert_eq!(
        router.route(address("2001:db8:1::a")),
        Some(NextHop::Connected { port: LAN0 })
    );
    for own in ["2001:db8:2::1", "2001:db8:ff::1"] {
        let builder = PacketBuilder::ethernet2(HOST_A_MAC, ROUTER_MACS[0])
            .ipv6(host_a().octets(), address(own).octets(), 64)
            .icmpv6_echo_request(1, 1);
        let mut frame = Vec::new();
        builder.write(&mut frame, b"ping").unwrap();
        let sent = receive(&mut router, LAN0, &frame, at(0));
        assert_eq!(sent.len(), 1, "{own} answers");
        let reply = parse_icmp(&sent[0].1);
        assert_eq!((reply.icmp_type, reply.source), (129, address(own)));
    }
    // A host next to the router's address on lan1 is forwarded (solicited).
    let sent = receive(
        &mut router,
        LAN0,
        &udp_from_a(address("2001:db8:2::2"), 64, 8),
        at(0),
    );
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, LAN1);
    assert_eq!(parse_icmp(&sent[0].1).icmp_type, 135);
    let dropped = &router.port_counters(LAN0).unwrap().dropped;
    assert_eq!(dropped.get(DropReason::RouteBlackhole), 0);
    assert_eq!(dropped.get(DropReason::RouteReject), 0);
}

/// RFC 4861 §7.2.2: three solicitations one RetransTimer apart, then
/// Destination Unreachable code 3 for the queued packets (rate limited).
#[test]
fn failed_resolution_answers_address_unreachable() {
    let mut router = router();
    let missing = address("2001:db8:2::99");
    let packet = udp_from_a(missing, 64, 30);
    assert_eq!(receive(&mut router, LAN0, &packet, at(0)).len(), 1);
    assert!(
        receive(&mut router, LAN0, &packet, at(10)).is_empty(),
        "queued, no new solicitation"
    );
    assert!(poll_without_advertisements(&mut router, at(999)).is_empty());
    for second in 1..=2 {
        let sent = poll_without_advertisements(&mut router, at(second * 1000));
        assert_eq!(sent.len(), 1);
        assert_eq!(parse_icmp(&sent[0].1).icmp_type, 135);
    }
    let sent = poll_without_advertisements(&mut router, at(3000));
    assert_eq!(sent.len(), 2, "one error per queued packet");
    for (port, frame) in &sent {
        assert_eq!(*port, LAN0);
        let error = parse_icmp(frame);
        assert_eq!((error.icmp_type, error.icmp_code), (1, 3));
        assert_eq!(error.destination, host_a());
        assert_eq!(error.source, address("2001:db8:1::1"));
        assert_eq!(error.payload[7], 63, "quoted as it would have left");
    }
    assert_eq!(router.neighbor_state(LAN1, missing, at(3000)), None);
    let counters = router.port_counters(LAN0).unwrap();
    assert_eq!(counters.dropped.get(DropReason::AddressResolutionFailed), 2);
    assert_eq!(
        counters.received,
        counters.consumed + counters.forwarded + counters.dropped.total()
    );
    assert_eq!(
        router
            .port_counters(LAN1)
            .unwrap()
            .events
            .get(PortEvent::NeighborResolutionFailed),
        1
    );
}

/// RFC 4443 §2.4(f): a token bucket of 10, refilled at 10 per second.
#[test]
fn icmp_errors_are_rate_limited() {
    let mut router = router();
    let packet = udp_from_a(host_c(), 1, 8);
    let sent: usize = (0..25)
        .map(|_| receive(&mut router, LAN0, &packet, at(0)).len())
        .sum();
    assert_eq!(sent, 10);
    let counters = router.port_counters(LAN0).unwrap();
    assert_eq!(counters.events.get(PortEvent::IcmpErrorRateLimited), 15);
    assert_eq!(counters.dropped.get(DropReason::HopLimitExceeded), 25);
    // 100 ms later, one more.
    assert_eq!(receive(&mut router, LAN0, &packet, at(100)).len(), 1);
    assert!(receive(&mut router, LAN0, &packet, at(100)).is_empty());
}

/// RFC 4443 §2.4(e): no error for an ICMPv6 error, or for a packet to a
/// link-layer multicast address.
#[test]
fn no_error_about_errors() {
    let mut router = router();
    let builder = PacketBuilder::ethernet2(HOST_A_MAC, ROUTER_MACS[0])
        .ipv6(host_a().octets(), host_c().octets(), 1)
        .icmpv6_raw(1, 0, [0; 4]);
    let mut frame = Vec::new();
    builder.write(&mut frame, &[0; 48]).unwrap();
    assert!(receive(&mut router, LAN0, &frame, at(0)).is_empty());
    let mut broadcast = udp_from_a(host_c(), 1, 8);
    broadcast[0..6].copy_from_slice(&[0xff; 6]);
    assert!(receive(&mut router, LAN0, &broadcast, at(0)).is_empty());
    let counters = router.port_counters(LAN0).unwrap();
    assert_eq!(counters.events.get(PortEvent::IcmpErrorSuppressed), 2);
    assert_eq!(counters.dropped.get(DropReason::HopLimitExceeded), 2);
}

/// RFC 4861 §6.2.4, §6.2.6: the first advertisements come at most 16 s
/// apart, later ones in [min, max]; a solicitation is answered within
/// 0.5 s but never sooner than 3 s after the previous multicast one.
#[test]
fn router_advertisement_timing_and_contents() {
    let mut router = router();
    let mut times = Vec::new();
    let mut now = 0i64;
    while times.len() < 6 && now < 3_000_000 {
        for (port, frame) in poll(&mut router, at(now)) {
            assert_eq!(port, LAN1, "only lan1 advertises");
            times.push(now);
            let parsed = parse_icmp(&frame);
            assert_eq!(parsed.icmp_type, 134);
            assert_eq!(parsed.destination, address("ff02::1"));
            assert_eq!(parsed.source, config::eui64_link_local(ROUTER_MACS[1]));
            assert_eq!(parsed.hop_limit, 255);
        }
        now += 100;
    }
    assert_eq!(times[0], 0, "the first at the first poll");
    for pair in times.windows(2).take(2) {
        assert!(pair[1] - pair[0] <= 16_000, "initial interval {pair:?}");
    }
    for pair in times.windows(2).skip(3) {
        let interval = pair[1] - pair[0];
        assert!(
            (198_000..=600_100).contains(&interval),
            "interval {interval}"
        );
    }

    // Contents, parsed with etherparse.
    let mut router = self::router();
    let sent = poll(&mut router, at(0));
    let packet = SlicedPacket::from_ethernet(&sent[0].1).unwrap();
    let Some(TransportSlice::Icmpv6(icmp)) = packet.transport else {
        panic!();
    };
    let Icmpv6Type::RouterAdvertisement(header) = icmp.icmp_type() else {
        panic!("not a Router Advertisement");
    };
    assert_eq!(header.cur_hop_limit, 64);
    assert_eq!(header.router_lifetime, 1800);
    let payload = RouterAdvertisementPayloadSlice::from_slice(icmp.payload()).unwrap();
    let mut seen = (false, false, false);
    for option in payload.options_iterator() {
        match option.unwrap() {
            NdpOptionSlice::SourceLinkLayerAddress(option) => {
                assert_eq!(option.link_layer_address(), ROUTER_MACS[1]);
                seen.0 = true;
            }
            NdpOptionSlice::Mtu(option) => {
                assert_eq!(option.mtu(), 1500);
                seen.1 = true;
            }
            NdpOptionSlice::PrefixInformation(option) => {
                assert_eq!(option.prefix_length(), 64);
                assert_eq!(option.prefix(), address("2001:db8:2::").octets());
                assert!(option.on_link() && option.autonomous_address_configuration());
                assert_eq!(option.valid_lifetime(), 2_592_000);
                assert_eq!(option.preferred_lifetime(), 604_800);
                seen.2 = true;
            }
            other => panic!("unexpected option {other:?}"),
        }
    }
    assert_eq!(seen, (true, true, true));

    // A solicitation 1 s after that RA: answered at 3 s + up to 0.5 s.
    let builder = PacketBuilder::ethernet2(HOST_C_MAC, [0x33, 0x33, 0, 0, 0, 2])
        .ipv6(
            address("fe80::c").octets(),
            address("ff02::2").octets(),
            255,
        )
        .icmpv6_raw(133, 0, [0; 4]);
    let mut solicitation = Vec::new();
    builder
        .write(&mut solicitation, &[1, 1, 2, 0, 0, 0, 0, 0x0c])
        .unwrap();
    assert!(receive(&mut router, LAN1, &solicitation, at(1000)).is_empty());
    assert_eq!(
        router.neighbor_state(LAN1, address("fe80::c"), at(1000)),
        Some(NeighborState::Stale)
    );
    let mut answered = None;
    for now in (1000..=4000).step_by(10) {
        if !poll(&mut router, at(now)).is_empty() {
            answered = Some(now);
            break;
        }
    }
    let answered = answered.expect("the solicitation is answered");
    assert!((3000..=3500).contains(&answered), "answered at {answered}");
    assert_eq!(
        router
            .port_counters(LAN1)
            .unwrap()
            .events
            .get(PortEvent::RouterSolicitationsReceived),
        1
    );
}

/// RFC 6583: a scan of random addresses in lan1's /64 leaves the REACHABLE
/// neighbor in place, and the cache and the queues stay bounded.
#[test]
fn scan_of_a_64_leaves_reachable_entries_and_memory_bounded() {
    let mut router = router();
    resolve_host_c(&mut router, at(0));
    let mut state = 0x1234_5678_9abc_def1u64;
    for round in 0..5000i64 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let target = Ipv6Addr::from_bits((0x2001_0db8_0002_0000u128 << 64) | u128::from(state));
        let now = at(round);
        receive(&mut router, LAN0, &udp_from_a(target, 64, 8), now);
        if round % 50 == 0 {
            poll(&mut router, now);
        }
        let usage = router.neighbor_cache_usage(LAN1).unwrap();
        assert!(usage.entries <= usage.capacity);
        assert!(usage.incomplete <= 16);
    }
    assert_eq!(
        router.neighbor_state(LAN1, host_c(), at(5000)),
        Some(NeighborState::Reachable)
    );
    // Host C is still reached directly.
    let sent = receive(&mut router, LAN0, &udp_from_a(host_c(), 64, 8), at(5000));
    assert!(
        sent.iter()
            .any(|(port, frame)| *port == LAN1 && frame[0..6] == HOST_C_MAC)
    );
    let counters = router.port_counters(LAN0).unwrap();
    assert!(counters.dropped.get(DropReason::NeighborIncompleteLimit) > 0);
    // Every scan packet ended or is pending.
    assert_eq!(
        counters.received,
        counters.consumed
            + counters.forwarded
            + counters.dropped.total()
            + router.pending_packets(LAN0)
    );
}

/// Random and truncated frames through a multi-port router never panic,
/// and every frame gets exactly one verdict.
#[test]
fn garbage_never_panics() {
    let mut router = router();
    resolve_host_c(&mut router, at(0));
    let templates = [
        udp_from_a(host_c(), 64, 40),
        udp_from_a(address("2001:db8:100::1"), 2, 40),
        neighbor_advertisement(LAN0, host_a(), HOST_A_MAC, false, true),
    ];
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    // resolve_host_c received one frame on lan0.
    let mut received = 1u64;
    for round in 0..20_000u64 {
        let template = &templates[(round % 3) as usize];
        let mut frame = template.clone();
        match round % 4 {
            0 => frame.truncate((next() as usize) % (frame.len() + 1)),
            1 => {
                for _ in 0..1 + next() % 4 {
                    let position = (next() as usize) % frame.len();
                    frame[position] ^= next() as u8 | 1;
                }
            }
            2 => {
                // Extension-header-shaped noise after the IPv6 header.
                frame[20] = [0u8, 43, 44, 60][(next() % 4) as usize];
                for byte in frame.iter_mut().skip(54).take(16) {
                    *byte = next() as u8;
                }
            }
            _ => frame = (0..next() % 200).map(|_| next() as u8).collect(),
        }
        let now = at(round as i64);
        for (_, reply) in receive(&mut router, LAN0, &frame, now) {
            assert!(reply.len() >= 54);
        }
        received += 1;
        poll(&mut router, now);
    }
    poll(&mut router, at(1_000_000));
    let counters = router.port_counters(LAN0).unwrap();
    assert_eq!(counters.received, received);
    assert_eq!(
        counters.received,
        counters.consumed
            + counters.forwarded
            + counters.dropped.total()
            + router.pending_packets(LAN0)
    );
}

/// A UDP packet from `source`, arriving from the gateway on wan0.
fn udp_from_gateway(source: Ipv6Addr, destination: Ipv6Addr, hop_limit: u8) -> Vec<u8> {
    let builder = PacketBuilder::ethernet2(GATEWAY_MAC, ROUTER_MACS[WAN0.0])
        .ipv6(source.octets(), destination.octets(), hop_limit)
        .udp(4000, 5000);
    let mut frame = Vec::new();
    builder.write(&mut frame, &[0x5a; 16]).unwrap();
    frame
}

/// RFC 4443 §2.2 and the icmp_error module: an error is routed to the
/// invoking source like any packet, so an asymmetric path works (C's
/// packet came in on wan0, C lives on lan1); when the neighbor toward the
/// source is not resolved, the error goes back to the previous hop instead
/// of waiting for resolution.
#[test]
fn icmp_errors_follow_the_route_to_the_source_not_the_way_the_packet_came() {
    let mut router = router();
    resolve_host_c(&mut router, at(0));

    let sent = receive(
        &mut router,
        WAN0,
        &udp_from_gateway(host_c(), host_a(), 1),
        at(10),
    );
    assert_eq!(sent.len(), 1);
    let (port, frame) = &sent[0];
    assert_eq!(*port, LAN1, "routed toward C, not back to wan0");
    let error = parse_icmp(frame);
    assert_eq!((error.icmp_type, error.icmp_code), (3, 0));
    assert_eq!(error.destination, host_c());
    assert_eq!(error.destination_mac, HOST_C_MAC);

    let unresolved = address("2001:db8:2::99");
    let sent = receive(
        &mut router,
        WAN0,
        &udp_from_gateway(unresolved, host_a(), 1),
        at(20),
    );
    assert_eq!(sent.len(), 1);
    let (port, frame) = &sent[0];
    assert_eq!(*port, WAN0, "unresolved neighbor: back to the previous hop");
    let error = parse_icmp(frame);
    assert_eq!(error.destination, unresolved);
    assert_eq!(error.destination_mac, GATEWAY_MAC);
}

#[test]
fn tcp_to_the_router_is_answered_with_a_reset() {
    // RFC 9293 §3.10.7.1: no port is open, so a SYN gets <SEQ=0><ACK=SEG.SEQ+1><CTL=RST,ACK>
    // and a segment with ACK gets <SEQ=SEG.ACK><CTL=RST>; a reset gets nothing.
    let mut router = router();
    let router_address = address("2001:db8:1::1");
    let segment = |build: &dyn Fn(
        etherparse::PacketBuilderStep<etherparse::TcpHeader>,
    ) -> etherparse::PacketBuilderStep<etherparse::TcpHeader>| {
        let builder = PacketBuilder::ethernet2(HOST_A_MAC, ROUTER_MACS[0])
            .ipv6(host_a().octets(), router_address.octets(), 64)
            .tcp(40000, 22, 1000, 64000);
        let mut frame = Vec::new();
        build(builder).write(&mut frame, b"").unwrap();
        frame
    };
    let replies: Vec<Vec<u8>> = router
        .receive(LAN0, &segment(&|builder| builder.syn()), at(0))
        .map(|transmit| transmit.frame.to_vec())
        .collect();
    assert_eq!(replies.len(), 1);
    let sliced = SlicedPacket::from_ethernet(&replies[0]).unwrap();
    let Some(NetSlice::Ipv6(ipv6)) = &sliced.net else {
        panic!("not IPv6")
    };
    assert_eq!(Ipv6Addr::from(ipv6.header().source()), router_address);
    assert_eq!(Ipv6Addr::from(ipv6.header().destination()), host_a());
    let Some(TransportSlice::Tcp(tcp)) = &sliced.transport else {
        panic!("not TCP")
    };
    assert!(tcp.rst() && tcp.ack() && !tcp.syn());
    assert_eq!((tcp.source_port(), tcp.destination_port()), (22, 40000));
    assert_eq!(tcp.sequence_number(), 0);
    assert_eq!(tcp.acknowledgment_number(), 1001, "SEG.SEQ + 1 for the SYN");
    let expected = tcp
        .to_header()
        .calc_checksum_ipv6(&ipv6.header().to_header(), tcp.payload())
        .unwrap();
    assert_eq!(tcp.checksum(), expected);

    let replies: Vec<Vec<u8>> = router
        .receive(LAN0, &segment(&|builder| builder.ack(777)), at(1))
        .map(|transmit| transmit.frame.to_vec())
        .collect();
    let sliced = SlicedPacket::from_ethernet(&replies[0]).unwrap();
    let Some(TransportSlice::Tcp(tcp)) = &sliced.transport else {
        panic!("not TCP")
    };
    assert!(tcp.rst() && !tcp.ack());
    assert_eq!(tcp.sequence_number(), 777, "SEG.ACK");

    let replies = router
        .receive(LAN0, &segment(&|builder| builder.rst()), at(2))
        .count();
    assert_eq!(replies, 0, "a reset is never answered");
    let counters: Vec<(&str, u64)> = router.counters(LAN0).collect();
    assert!(counters.contains(&("tcp_resets_sent", 2)), "{counters:?}");
    assert!(counters.contains(&("no_tcp_listener", 3)), "{counters:?}");
}
