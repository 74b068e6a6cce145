//! The border translator through the router's public API with virtual time: ARP on the uplink (RFC 826), SIIT both ways (RFC 7915, RFC 7757 EAM, RFC 6052 pool6), and ICMP errors that cross the families.
//!
//! Frames are built and parsed with etherparse, an independent library.
#![cfg(feature = "legacy-ip")]

use std::net::{Ipv4Addr, Ipv6Addr};

use etherparse::{
    ArpEthIpv4Packet, ArpOperation, EtherType, Icmpv4Type, Icmpv6Type, LinkSlice, NetSlice,
    PacketBuilder, SlicedPacket, TransportSlice,
};
use netstack::config;
use netstack::router::{NicInfo, PortIndex, Router};
use smoltcp::time::Instant;

const LAN: PortIndex = PortIndex(0);
const UPLINK: PortIndex = PortIndex(1);
const ROUTER_MACS: [[u8; 6]; 2] = [[0x52, 0x54, 0, 0, 0, 0x10], [0x52, 0x54, 0, 0, 0, 0x11]];
const HOST_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0a];
const GATEWAY_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0xfe];

/// lan: IPv6 host 2001:db8:1::a (EAM 198.51.100.10), and 2001:db8:1::b with
/// no mapping. uplink: 192.0.2.1/24, gateway 192.0.2.254. pool6 is a
/// network-specific prefix, so documentation IPv4 addresses may be used
/// under it (ARCHITECTURE.md, "Test addressing").
const CONFIG: &str = r#"
[icmp]
rate_limit_per_second = 100
burst = 100

[[port]]
name = "lan"
mtu = 1280
addresses = ["2001:db8:1::1/64"]

[[port]]
name = "uplink"
[port.ipv4]
address = "192.0.2.1/24"
gateway = "192.0.2.254"

[[neighbor]]
port = "lan"
address = "2001:db8:1::a"
mac = "02:00:00:00:00:0a"

[translation]
pool6 = "2001:db8:64::/96"

[[translation.eam]]
ipv4 = "198.51.100.10/32"
ipv6 = "2001:db8:1::a/128"

[[translation.eam]]
ipv4 = "198.51.100.11/32"
ipv6 = "2001:db8:1::c/128"

[[neighbor]]
port = "lan"
address = "2001:db8:1::c"
mac = "02:00:00:00:00:0c"
"#;

fn host() -> Ipv6Addr {
    "2001:db8:1::a".parse().unwrap()
}

/// `server` under pool6.
fn mapped(server: Ipv4Addr) -> Ipv6Addr {
    let [a, b, c, d] = server.octets();
    Ipv6Addr::new(
        0x2001,
        0xdb8,
        0x64,
        0,
        0,
        0,
        u16::from_be_bytes([a, b]),
        u16::from_be_bytes([c, d]),
    )
}

const SERVER: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 80);
const HOST_IPV4: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 10);

fn router() -> Router {
    let config = config::parse(CONFIG).expect("the test config parses");
    let nics: Vec<NicInfo> = ROUTER_MACS.iter().map(|&mac| NicInfo { mac }).collect();
    Router::with_seed(&config, &nics, 7).unwrap()
}

fn at(milliseconds: i64) -> Instant {
    Instant::from_millis(milliseconds)
}

fn frames(
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

fn udp_from_host(
    source: Ipv6Addr,
    destination: Ipv6Addr,
    hop_limit: u8,
    payload: &[u8],
) -> Vec<u8> {
    let builder = PacketBuilder::ethernet2(HOST_MAC, ROUTER_MACS[0])
        .ipv6(source.octets(), destination.octets(), hop_limit)
        .udp(40000, 53);
    let mut frame = Vec::new();
    builder.write(&mut frame, payload).unwrap();
    frame
}

fn udp_from_server(destination: Ipv4Addr, ttl: u8, payload: &[u8]) -> Vec<u8> {
    let builder = PacketBuilder::ethernet2(GATEWAY_MAC, ROUTER_MACS[1])
        .ipv4(SERVER.octets(), destination.octets(), ttl)
        .udp(53, 40000);
    let mut frame = Vec::new();
    builder.write(&mut frame, payload).unwrap();
    frame
}

fn arp_frame(
    operation: ArpOperation,
    sender: Ipv4Addr,
    target: Ipv4Addr,
    destination_mac: [u8; 6],
) -> Vec<u8> {
    let mut frame = Vec::new();
    frame.extend_from_slice(&destination_mac);
    frame.extend_from_slice(&GATEWAY_MAC);
    frame.extend_from_slice(&EtherType::ARP.0.to_be_bytes());
    let target_mac = if operation == ArpOperation::REPLY {
        ROUTER_MACS[1]
    } else {
        [0; 6]
    };
    frame.extend_from_slice(
        &ArpEthIpv4Packet {
            operation,
            sender_mac: GATEWAY_MAC,
            sender_ipv4: sender.octets(),
            target_mac,
            target_ipv4: target.octets(),
        }
        .to_bytes(),
    );
    frame
}

fn parse_arp(frame: &[u8]) -> ArpEthIpv4Packet {
    let sliced = SlicedPacket::from_ethernet(frame).expect("an Ethernet frame");
    match sliced.net {
        Some(NetSlice::Arp(arp)) => arp.to_packet().try_eth_ipv4().expect("Ethernet/IPv4 ARP"),
        other => panic!("not ARP: {other:?}"),
    }
}

/// Teaches the router the gateway's MAC: the gateway asks for the uplink
/// address (RFC 826: the target learns the sender).
fn resolve_gateway(router: &mut Router, now: Instant) {
    let request = arp_frame(
        ArpOperation::REQUEST,
        Ipv4Addr::new(192, 0, 2, 254),
        Ipv4Addr::new(192, 0, 2, 1),
        [0xff; 6],
    );
    let _ = frames(router, UPLINK, &request, now);
}

#[test]
fn arp_requests_for_the_uplink_and_eam_addresses_are_answered() {
    let mut router = router();
    for target in [Ipv4Addr::new(192, 0, 2, 1), HOST_IPV4] {
        let request = arp_frame(
            ArpOperation::REQUEST,
            Ipv4Addr::new(192, 0, 2, 254),
            target,
            [0xff; 6],
        );
        let sent = frames(&mut router, UPLINK, &request, at(0));
        assert_eq!(sent.len(), 1, "one reply for {target}");
        assert_eq!(sent[0].0, UPLINK);
        let reply = parse_arp(&sent[0].1);
        assert_eq!(reply.operation, ArpOperation::REPLY);
        assert_eq!(reply.sender_mac, ROUTER_MACS[1]);
        assert_eq!(reply.sender_ipv4, target.octets());
        assert_eq!(reply.target_mac, GATEWAY_MAC);
    }
    let other = arp_frame(
        ArpOperation::REQUEST,
        Ipv4Addr::new(192, 0, 2, 254),
        Ipv4Addr::new(192, 0, 2, 77),
        [0xff; 6],
    );
    assert!(
        frames(&mut router, UPLINK, &other, at(0)).is_empty(),
        "not ours: no answer"
    );
}

#[test]
fn ipv6_to_ipv4_waits_for_arp_then_leaves_translated() {
    let mut router = router();
    let packet = udp_from_host(host(), mapped(SERVER), 64, b"query");
    let sent = frames(&mut router, LAN, &packet, at(0));
    assert_eq!(sent.len(), 1, "an ARP request for the gateway");
    let request = parse_arp(&sent[0].1);
    assert_eq!(&sent[0].1[..6], &[0xff; 6]);
    assert_eq!(request.operation, ArpOperation::REQUEST);
    assert_eq!(request.sender_ipv4, [192, 0, 2, 1]);
    assert_eq!(request.target_ipv4, [192, 0, 2, 254]);

    let reply = arp_frame(
        ArpOperation::REPLY,
        Ipv4Addr::new(192, 0, 2, 254),
        Ipv4Addr::new(192, 0, 2, 1),
        ROUTER_MACS[1],
    );
    let sent = frames(&mut router, UPLINK, &reply, at(10));
    assert_eq!(sent.len(), 1, "the queued packet leaves");
    let (port, frame) = &sent[0];
    assert_eq!(*port, UPLINK);
    let sliced = SlicedPacket::from_ethernet(frame).unwrap();
    let Some(LinkSlice::Ethernet2(ethernet)) = &sliced.link else {
        panic!()
    };
    assert_eq!(ethernet.destination(), GATEWAY_MAC);
    assert_eq!(ethernet.ether_type(), EtherType::IPV4);
    let Some(NetSlice::Ipv4(ipv4)) = &sliced.net else {
        panic!("not IPv4")
    };
    let header = ipv4.header().to_header();
    assert_eq!(header.source, HOST_IPV4.octets(), "EAM source");
    assert_eq!(header.destination, SERVER.octets(), "pool6 destination");
    assert_eq!(header.time_to_live, 63);
    assert_eq!(header.header_checksum, header.calc_header_checksum());
    let Some(TransportSlice::Udp(udp)) = &sliced.transport else {
        panic!("not UDP")
    };
    assert_eq!(udp.payload(), b"query");
    let expected = udp
        .to_header()
        .calc_checksum_ipv4(&header, udp.payload())
        .unwrap();
    assert_eq!(
        udp.checksum(),
        expected,
        "UDP checksum valid after translation"
    );
}

#[test]
fn ipv4_to_ipv6_reaches_the_eam_host() {
    let mut router = router();
    let packet = udp_from_server(HOST_IPV4, 50, b"answer");
    let sent = frames(&mut router, UPLINK, &packet, at(0));
    assert_eq!(sent.len(), 1);
    let (port, frame) = &sent[0];
    assert_eq!(*port, LAN);
    let sliced = SlicedPacket::from_ethernet(frame).unwrap();
    let Some(NetSlice::Ipv6(ipv6)) = &sliced.net else {
        panic!("not IPv6")
    };
    let header = ipv6.header().to_header();
    assert_eq!(Ipv6Addr::from(header.source), mapped(SERVER));
    assert_eq!(Ipv6Addr::from(header.destination), host());
    assert_eq!(
        header.hop_limit, 49,
        "TTL copied, then decremented by forwarding"
    );
    let Some(TransportSlice::Udp(udp)) = &sliced.transport else {
        panic!("not UDP")
    };
    assert_eq!(udp.payload(), b"answer");
    let expected = udp
        .to_header()
        .calc_checksum_ipv6(&header, udp.payload())
        .unwrap();
    assert_eq!(udp.checksum(), expected);
}

/// RFC 4861 §7.2.2 after RFC 7915 §4: an IPv4 packet for an EAM host whose
/// MAC is not known yet waits for Neighbor Discovery like any forwarded
/// packet, then leaves translated with the hop limit decremented once.
#[test]
fn ipv4_to_an_unresolved_ipv6_host_waits_for_neighbor_discovery() {
    let unresolved: Ipv6Addr = "2001:db8:1::d".parse().unwrap();
    let config = format!(
        "{CONFIG}\n[[translation.eam]]\nipv4 = \"198.51.100.13/32\"\nipv6 = \"{unresolved}/128\"\n"
    );
    let config = config::parse(&config).expect("the test config parses");
    let nics: Vec<NicInfo> = ROUTER_MACS.iter().map(|&mac| NicInfo { mac }).collect();
    let mut router = Router::with_seed(&config, &nics, 7).unwrap();
    let packet = udp_from_server(Ipv4Addr::new(198, 51, 100, 13), 50, b"queued");
    let sent = frames(&mut router, UPLINK, &packet, at(0));
    assert_eq!(sent.len(), 1, "only the solicitation leaves");
    let (port, frame) = &sent[0];
    assert_eq!(*port, LAN);
    let sliced = SlicedPacket::from_ethernet(frame).unwrap();
    let Some(TransportSlice::Icmpv6(icmp)) = &sliced.transport else {
        panic!("not ICMPv6")
    };
    assert_eq!(icmp.type_u8(), 135, "a Neighbor Solicitation");
    assert_eq!(&icmp.payload()[..16], &unresolved.octets());

    let host_mac = [0x02, 0, 0, 0, 0, 0x0d];
    let mut body = unresolved.octets().to_vec();
    body.extend_from_slice(&[2, 1]);
    body.extend_from_slice(&host_mac);
    let link_local = config::eui64_link_local(ROUTER_MACS[LAN.0]);
    let mut advertisement = Vec::new();
    PacketBuilder::ethernet2(host_mac, ROUTER_MACS[LAN.0])
        .ipv6(unresolved.octets(), link_local.octets(), 255)
        .icmpv6_raw(136, 0, [0x60, 0, 0, 0])
        .write(&mut advertisement, &body)
        .unwrap();
    let released = frames(&mut router, LAN, &advertisement, at(10));
    assert_eq!(released.len(), 1, "the queued packet");
    let (port, frame) = &released[0];
    assert_eq!(*port, LAN);
    assert_eq!(&frame[..6], &host_mac);
    let sliced = SlicedPacket::from_ethernet(frame).unwrap();
    let Some(NetSlice::Ipv6(ipv6)) = &sliced.net else {
        panic!("not IPv6")
    };
    let header = ipv6.header().to_header();
    assert_eq!(Ipv6Addr::from(header.source), mapped(SERVER));
    assert_eq!(Ipv6Addr::from(header.destination), unresolved);
    assert_eq!(header.hop_limit, 49);
    let Some(TransportSlice::Udp(udp)) = &sliced.transport else {
        panic!("not UDP")
    };
    assert_eq!(udp.payload(), b"queued");
}

#[test]
fn ipv4_ttl_expiry_is_answered_with_icmpv4_time_exceeded() {
    let mut router = router();
    resolve_gateway(&mut router, at(0));
    let packet = udp_from_server(HOST_IPV4, 1, b"x");
    let sent = frames(&mut router, UPLINK, &packet, at(1));
    assert_eq!(sent.len(), 1, "{sent:?}");
    let (port, frame) = &sent[0];
    assert_eq!(*port, UPLINK);
    let sliced = SlicedPacket::from_ethernet(frame).unwrap();
    let Some(NetSlice::Ipv4(ipv4)) = &sliced.net else {
        panic!("not IPv4")
    };
    assert_eq!(ipv4.header().destination(), SERVER.octets());
    let Some(TransportSlice::Icmpv4(icmp)) = &sliced.transport else {
        panic!("not ICMPv4")
    };
    assert!(
        matches!(icmp.icmp_type(), Icmpv4Type::TimeExceeded(_)),
        "{:?}",
        icmp.icmp_type()
    );
}

#[test]
fn too_big_for_the_ipv6_link_is_answered_with_fragmentation_needed() {
    let mut router = router();
    resolve_gateway(&mut router, at(0));
    // 1400 bytes with DF toward a 1280-byte IPv6 link.
    let builder = PacketBuilder::ethernet2(GATEWAY_MAC, ROUTER_MACS[1])
        .ipv4(SERVER.octets(), HOST_IPV4.octets(), 64)
        .udp(53, 40000);
    let mut frame = Vec::new();
    builder.write(&mut frame, &[0u8; 1372]).unwrap();
    // etherparse sets DF by default? Make sure it is set (flags byte 20).
    frame[14 + 6] |= 0x40;
    let checksum_offset = 14 + 10;
    frame[checksum_offset..checksum_offset + 2].fill(0);
    let checksum = etherparse::Ipv4HeaderSlice::from_slice(&frame[14..])
        .unwrap()
        .to_header()
        .calc_header_checksum();
    frame[checksum_offset..checksum_offset + 2].copy_from_slice(&checksum.to_be_bytes());
    let sent = frames(&mut router, UPLINK, &frame, at(1));
    assert_eq!(sent.len(), 1, "{sent:?}");
    let sliced = SlicedPacket::from_ethernet(&sent[0].1).unwrap();
    let Some(TransportSlice::Icmpv4(icmp)) = &sliced.transport else {
        panic!("not ICMPv4")
    };
    match icmp.icmp_type() {
        Icmpv4Type::DestinationUnreachable(
            etherparse::icmpv4::DestUnreachableHeader::FragmentationNeeded { next_hop_mtu },
        ) => {
            assert_eq!(
                next_hop_mtu, 1260,
                "1280 less the 20 bytes the header shrinks by"
            );
        }
        other => panic!("not fragmentation needed: {other:?}"),
    }
}

#[test]
fn unmapped_ipv6_source_is_refused_and_counted() {
    let mut router = router();
    resolve_gateway(&mut router, at(0));
    let packet = udp_from_host("2001:db8:1::b".parse().unwrap(), mapped(SERVER), 64, b"x");
    let sent = frames(&mut router, LAN, &packet, at(1));
    assert!(
        sent.iter().all(|(port, _)| *port != UPLINK),
        "nothing leaves as IPv4"
    );
    let counters: Vec<(&str, u64)> = router.counters(UPLINK).collect();
    assert!(
        counters.contains(&("translation_untranslatable_source", 1)),
        "{counters:?}"
    );
    // RFC 7915 §5.4: answered with ICMPv6 1/1 (administratively prohibited).
    assert_eq!(sent.len(), 1, "{sent:?}");
    let sliced = SlicedPacket::from_ethernet(&sent[0].1).unwrap();
    let Some(TransportSlice::Icmpv6(icmp)) = &sliced.transport else {
        panic!("not ICMPv6")
    };
    assert!(
        matches!(
            icmp.icmp_type(),
            Icmpv6Type::DestinationUnreachable(etherparse::icmpv6::DestUnreachableCode::Prohibited)
        ),
        "{:?}",
        icmp.icmp_type()
    );
}

#[test]
fn the_uplink_address_answers_ping() {
    let mut router = router();
    let builder = PacketBuilder::ethernet2(GATEWAY_MAC, ROUTER_MACS[1])
        .ipv4(SERVER.octets(), [192, 0, 2, 1], 64)
        .icmpv4_echo_request(0x1234, 7);
    let mut frame = Vec::new();
    builder.write(&mut frame, b"ping data").unwrap();
    let sent = frames(&mut router, UPLINK, &frame, at(0));
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(&sent[0].1[..6], &GATEWAY_MAC, "back to the previous hop");
    let sliced = SlicedPacket::from_ethernet(&sent[0].1).unwrap();
    let Some(NetSlice::Ipv4(ipv4)) = &sliced.net else {
        panic!("not IPv4")
    };
    let header = ipv4.header().to_header();
    assert_eq!(header.source, [192, 0, 2, 1]);
    assert_eq!(header.destination, SERVER.octets());
    assert_eq!(header.header_checksum, header.calc_header_checksum());
    let Some(TransportSlice::Icmpv4(icmp)) = &sliced.transport else {
        panic!("not ICMPv4")
    };
    assert!(
        matches!(icmp.icmp_type(), Icmpv4Type::EchoReply(echo) if echo.id == 0x1234 && echo.seq == 7)
    );
    assert_eq!(icmp.payload(), b"ping data");
    assert_eq!(
        icmp.checksum(),
        icmp.icmp_type().calc_checksum(icmp.payload())
    );
}

#[test]
fn ipv4_to_an_unmapped_address_is_answered_with_administratively_prohibited() {
    let mut router = router();
    // 198.51.100.99 has no EAM; IPv4 destinations reach IPv6 only through EAMs.
    let packet = udp_from_server(Ipv4Addr::new(198, 51, 100, 99), 64, b"x");
    let sent = frames(&mut router, UPLINK, &packet, at(0));
    assert_eq!(sent.len(), 1, "{sent:?}");
    let sliced = SlicedPacket::from_ethernet(&sent[0].1).unwrap();
    let Some(TransportSlice::Icmpv4(icmp)) = &sliced.transport else {
        panic!("not ICMPv4")
    };
    assert!(
        matches!(
            icmp.icmp_type(),
            Icmpv4Type::DestinationUnreachable(
                etherparse::icmpv4::DestUnreachableHeader::FilterProhibited
            )
        ),
        "{:?}",
        icmp.icmp_type()
    );
    // The quoted packet is the refused one.
    assert_eq!(&icmp.payload()[..20], &packet[14..34]);
}

#[test]
fn hairpinning_between_two_eam_hosts_keeps_both_directions_translated() {
    // RFC 7757 §4.2 and Appendix B.1: host a sends to host c's IPv4
    // address under pool6; the translator turns it around without letting
    // it out of the uplink, and c sees a pool6 source, so its answer comes
    // back through the translator too.
    let mut router = router();
    let host_c: Ipv6Addr = "2001:db8:1::c".parse().unwrap();
    let c_under_pool6 = mapped(Ipv4Addr::new(198, 51, 100, 11));
    let packet = udp_from_host(host(), c_under_pool6, 64, b"hairpin");
    let sent = frames(&mut router, LAN, &packet, at(0));
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].0, LAN, "turned around, never on the uplink");
    let sliced = SlicedPacket::from_ethernet(&sent[0].1).unwrap();
    let Some(NetSlice::Ipv6(ipv6)) = &sliced.net else {
        panic!("not IPv6")
    };
    let header = ipv6.header().to_header();
    assert_eq!(Ipv6Addr::from(header.destination), host_c);
    assert_eq!(
        Ipv6Addr::from(header.source),
        mapped(HOST_IPV4),
        "a's IPv4 address under pool6 (§4.2.1 rule 1), not a's own address"
    );
    assert_eq!(header.hop_limit, 63, "decremented once (§4.2.2)");
    let Some(TransportSlice::Udp(udp)) = &sliced.transport else {
        panic!("not UDP")
    };
    let expected = udp
        .to_header()
        .calc_checksum_ipv6(&header, udp.payload())
        .unwrap();
    assert_eq!(udp.checksum(), expected);

    // c answers the pool6 address it saw: back to a, through the translator.
    let answer_builder = PacketBuilder::ethernet2([0x02, 0, 0, 0, 0, 0x0c], ROUTER_MACS[0])
        .ipv6(host_c.octets(), mapped(HOST_IPV4).octets(), 64)
        .udp(53, 40000);
    let mut answer = Vec::new();
    answer_builder.write(&mut answer, b"back").unwrap();
    let sent = frames(&mut router, LAN, &answer, at(1));
    assert_eq!(sent.len(), 1, "{sent:?}");
    let sliced = SlicedPacket::from_ethernet(&sent[0].1).unwrap();
    let Some(NetSlice::Ipv6(ipv6)) = &sliced.net else {
        panic!("not IPv6")
    };
    assert_eq!(Ipv6Addr::from(ipv6.header().destination()), host());
    assert_eq!(Ipv6Addr::from(ipv6.header().source()), c_under_pool6);
}

/// RFC 7915 §4.4 and §5.4: the administrator may turn off the ICMP errors
/// for refused packets (`refusal_errors = false`). Both refusals above are
/// then dropped and counted, with nothing sent either way.
#[test]
fn refusal_errors_off_drops_and_counts_without_an_answer() {
    let config = config::parse(
        &CONFIG.replace("[translation]\n", "[translation]\nrefusal_errors = false\n"),
    )
    .expect("the test config parses");
    let nics: Vec<NicInfo> = ROUTER_MACS.iter().map(|&mac| NicInfo { mac }).collect();
    let mut router = Router::with_seed(&config, &nics, 7).unwrap();
    resolve_gateway(&mut router, at(0));

    let outbound = udp_from_host("2001:db8:1::b".parse().unwrap(), mapped(SERVER), 64, b"x");
    let sent = frames(&mut router, LAN, &outbound, at(1));
    assert!(sent.is_empty(), "no ICMPv6 1/1 when switched off: {sent:?}");
    let counters: Vec<(&str, u64)> = router.counters(UPLINK).collect();
    assert!(
        counters.contains(&("translation_untranslatable_source", 1)),
        "{counters:?}"
    );

    let inbound = udp_from_server(Ipv4Addr::new(198, 51, 100, 99), 64, b"x");
    let sent = frames(&mut router, UPLINK, &inbound, at(2));
    assert!(
        sent.is_empty(),
        "no ICMPv4 3/13 when switched off: {sent:?}"
    );
    let after: Vec<(&str, u64)> = router.counters(UPLINK).collect();
    for counted in [
        ("translation_untranslatable_destination", 1),
        ("translation_refused", 1),
        ("icmp_destination_unreachable_sent", 0),
    ] {
        assert!(after.contains(&counted), "{counted:?} in {after:?}");
    }
}
