//! Stateful NAT64 (RFC 6146) through the router's public API with virtual time: sessions opened from IPv6, answers from IPv4, filtering, TCP, ICMP query and errors, timers.
//!
//! Frames are built and parsed with etherparse, an independent library.
#![cfg(feature = "legacy-ip")]

use std::net::{Ipv4Addr, Ipv6Addr};

use etherparse::{Icmpv4Type, Icmpv6Type, NetSlice, PacketBuilder, SlicedPacket, TransportSlice};
use netstack::config;
use netstack::router::{NicInfo, PortIndex, Router};
use smoltcp::time::Instant;

const LAN: PortIndex = PortIndex(0);
const UPLINK: PortIndex = PortIndex(1);
const ROUTER_MACS: [[u8; 6]; 2] = [[0x52, 0x54, 0, 0, 0, 0x10], [0x52, 0x54, 0, 0, 0, 0x11]];
const HOST_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0b];
const GATEWAY_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0xfe];

/// One IPv6 host without an EAM behind pool4 = the uplink address; short
/// UDP and ICMP timeouts so the timer tests run in virtual seconds.
const CONFIG: &str = r#"
[icmp]
rate_limit_per_second = 100
burst = 100

[[port]]
name = "lan"
addresses = ["2001:db8:1::1/64"]

[[port]]
name = "uplink"
[port.ipv4]
address = "192.0.2.1/24"
gateway = "192.0.2.254"
[[port.ipv4.neighbor]]
address = "192.0.2.254"
mac = "02:00:00:00:00:fe"

[[neighbor]]
port = "lan"
address = "2001:db8:1::b"
mac = "02:00:00:00:00:0b"

[[neighbor]]
port = "lan"
address = "2001:db8:1::c"
mac = "02:00:00:00:00:0c"

[translation]
pool6 = "2001:db8:64::/96"

[nat64]
pool4 = [{ prefix = "192.0.2.1", tcp = "1024-65535", udp = "1024-65535", icmp = "1-65535" }]
allow_short_timeouts = true
udp_timeout_seconds = 10
icmp_timeout_seconds = 10
"#;

const SERVER: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 80);
const POOL4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);

fn host() -> Ipv6Addr {
    "2001:db8:1::b".parse().unwrap()
}

fn mapped(address: Ipv4Addr) -> Ipv6Addr {
    let [a, b, c, d] = address.octets();
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

fn router() -> Router {
    let config = config::parse(CONFIG).expect("the test config parses");
    let nics: Vec<NicInfo> = ROUTER_MACS.iter().map(|&mac| NicInfo { mac }).collect();
    Router::with_seed(&config, &nics, 11).unwrap()
}

fn at(seconds: i64) -> Instant {
    Instant::from_secs(seconds)
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

fn udp_from_host(source_port: u16, payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::new();
    PacketBuilder::ethernet2(HOST_MAC, ROUTER_MACS[0])
        .ipv6(host().octets(), mapped(SERVER).octets(), 64)
        .udp(source_port, 53)
        .write(&mut frame, payload)
        .unwrap();
    frame
}

fn udp_from_server(destination_port: u16, payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::new();
    PacketBuilder::ethernet2(GATEWAY_MAC, ROUTER_MACS[1])
        .ipv4(SERVER.octets(), POOL4.octets(), 60)
        .udp(53, destination_port)
        .write(&mut frame, payload)
        .unwrap();
    frame
}

/// The one IPv4 UDP datagram sent on the uplink: its source port.
fn sent_udp_source_port(sent: &[(PortIndex, Vec<u8>)]) -> u16 {
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].0, UPLINK);
    let sliced = SlicedPacket::from_ethernet(&sent[0].1).unwrap();
    let Some(NetSlice::Ipv4(ipv4)) = &sliced.net else {
        panic!("not IPv4")
    };
    let header = ipv4.header().to_header();
    assert_eq!(header.source, POOL4.octets(), "the pool4 address");
    assert_eq!(header.destination, SERVER.octets());
    let Some(TransportSlice::Udp(udp)) = &sliced.transport else {
        panic!("not UDP")
    };
    let expected = udp
        .to_header()
        .calc_checksum_ipv4(&header, udp.payload())
        .unwrap();
    assert_eq!(
        udp.checksum(),
        expected,
        "UDP checksum after the port rewrite"
    );
    udp.source_port()
}

fn counter(router: &Router, name: &str) -> u64 {
    router
        .counters(UPLINK)
        .find(|(counter, _)| *counter == name)
        .map_or(0, |(_, value)| value)
}

#[test]
fn udp_session_from_ipv6_and_the_answer_from_ipv4() {
    let mut router = router();
    let sent = frames(&mut router, LAN, &udp_from_host(40000, b"query"), at(0));
    let port = sent_udp_source_port(&sent);
    assert!(
        port >= 1024,
        "the port keeps its range class (RFC 6146 §3.5.1.1)"
    );
    assert_eq!(port % 2, 0, "and its parity (RFC 4787 REQ-3)");

    let sent = frames(
        &mut router,
        UPLINK,
        &udp_from_server(port, b"answer"),
        at(1),
    );
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].0, LAN);
    let sliced = SlicedPacket::from_ethernet(&sent[0].1).unwrap();
    let Some(NetSlice::Ipv6(ipv6)) = &sliced.net else {
        panic!("not IPv6")
    };
    let header = ipv6.header().to_header();
    assert_eq!(Ipv6Addr::from(header.source), mapped(SERVER));
    assert_eq!(Ipv6Addr::from(header.destination), host());
    let Some(TransportSlice::Udp(udp)) = &sliced.transport else {
        panic!("not UDP")
    };
    assert_eq!(udp.destination_port(), 40000, "the host's own port again");
    assert_eq!(udp.payload(), b"answer");
    let expected = udp
        .to_header()
        .calc_checksum_ipv6(&header, udp.payload())
        .unwrap();
    assert_eq!(udp.checksum(), expected);
}

#[test]
fn endpoint_independent_mapping_reuses_the_binding() {
    let mut router = router();
    let first = sent_udp_source_port(&frames(
        &mut router,
        LAN,
        &udp_from_host(40000, b"a"),
        at(0),
    ));
    // The same host port toward another server: the same (T, t) (RFC 6146 §3.5.1.1).
    let mut frame = Vec::new();
    PacketBuilder::ethernet2(HOST_MAC, ROUTER_MACS[0])
        .ipv6(
            host().octets(),
            mapped(Ipv4Addr::new(198, 51, 100, 9)).octets(),
            64,
        )
        .udp(40000, 123)
        .write(&mut frame, b"b")
        .unwrap();
    let sent = frames(&mut router, LAN, &frame, at(1));
    let sliced = SlicedPacket::from_ethernet(&sent[0].1).unwrap();
    let Some(TransportSlice::Udp(udp)) = &sliced.transport else {
        panic!("not UDP")
    };
    assert_eq!(udp.source_port(), first);
    // And a third server may answer through it (endpoint-independent filtering).
    let mut answer = Vec::new();
    PacketBuilder::ethernet2(GATEWAY_MAC, ROUTER_MACS[1])
        .ipv4([198, 18, 0, 1], POOL4.octets(), 60)
        .udp(9999, first)
        .write(&mut answer, b"c")
        .unwrap();
    let sent = frames(&mut router, UPLINK, &answer, at(2));
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].0, LAN);
}

#[test]
fn unsolicited_ipv4_is_dropped_and_counted() {
    let mut router = router();
    let sent = frames(
        &mut router,
        UPLINK,
        &udp_from_server(50000, b"hello?"),
        at(0),
    );
    assert!(sent.iter().all(|(port, _)| *port != LAN), "{sent:?}");
    assert_eq!(counter(&router, "nat64_no_binding"), 1);
}

#[test]
fn udp_session_expires_after_its_timeout() {
    let mut router = router();
    let port = sent_udp_source_port(&frames(
        &mut router,
        LAN,
        &udp_from_host(40000, b"q"),
        at(0),
    ));
    // Within the 10 s lifetime: answered.
    let sent = frames(&mut router, UPLINK, &udp_from_server(port, b"a"), at(5));
    assert_eq!(sent.len(), 1);
    // The answer refreshed it to 15 s; at 30 s it is gone.
    let _: Vec<_> = router.poll(at(30)).map(|transmit| transmit.port).collect();
    let sent = frames(&mut router, UPLINK, &udp_from_server(port, b"late"), at(30));
    assert!(sent.iter().all(|(port, _)| *port != LAN), "{sent:?}");
    assert_eq!(counter(&router, "nat64_no_binding"), 1);
}

#[test]
fn tcp_needs_a_syn_from_ipv6_to_open() {
    let mut router = router();
    let mut ack_only = Vec::new();
    PacketBuilder::ethernet2(HOST_MAC, ROUTER_MACS[0])
        .ipv6(host().octets(), mapped(SERVER).octets(), 64)
        .tcp(40001, 80, 1, 1000)
        .ack(1)
        .write(&mut ack_only, b"")
        .unwrap();
    let sent = frames(&mut router, LAN, &ack_only, at(0));
    assert!(sent.iter().all(|(port, _)| *port != UPLINK), "{sent:?}");
    assert_eq!(counter(&router, "nat64_tcp_without_session"), 1);

    let mut syn = Vec::new();
    PacketBuilder::ethernet2(HOST_MAC, ROUTER_MACS[0])
        .ipv6(host().octets(), mapped(SERVER).octets(), 64)
        .tcp(40001, 80, 1, 1000)
        .syn()
        .write(&mut syn, b"")
        .unwrap();
    let sent = frames(&mut router, LAN, &syn, at(1));
    assert_eq!(sent.len(), 1, "{sent:?}");
    let sliced = SlicedPacket::from_ethernet(&sent[0].1).unwrap();
    let Some(NetSlice::Ipv4(ipv4)) = &sliced.net else {
        panic!("not IPv4")
    };
    let Some(TransportSlice::Tcp(tcp)) = &sliced.transport else {
        panic!("not TCP")
    };
    assert!(tcp.syn());
    let expected = tcp
        .to_header()
        .calc_checksum_ipv4(&ipv4.header().to_header(), tcp.payload())
        .unwrap();
    assert_eq!(tcp.checksum(), expected);
    let port = tcp.source_port();

    let mut syn_ack = Vec::new();
    PacketBuilder::ethernet2(GATEWAY_MAC, ROUTER_MACS[1])
        .ipv4(SERVER.octets(), POOL4.octets(), 60)
        .tcp(80, port, 7, 1000)
        .syn()
        .ack(2)
        .write(&mut syn_ack, b"")
        .unwrap();
    let sent = frames(&mut router, UPLINK, &syn_ack, at(2));
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].0, LAN);
    let sliced = SlicedPacket::from_ethernet(&sent[0].1).unwrap();
    let Some(TransportSlice::Tcp(tcp)) = &sliced.transport else {
        panic!("not TCP")
    };
    assert_eq!(tcp.destination_port(), 40001);
    assert!(tcp.syn() && tcp.ack());
}

#[test]
fn ping_through_nat64_rewrites_the_identifier_both_ways() {
    let mut router = router();
    let mut request = Vec::new();
    PacketBuilder::ethernet2(HOST_MAC, ROUTER_MACS[0])
        .ipv6(host().octets(), mapped(SERVER).octets(), 64)
        .icmpv6_echo_request(0x0042, 1)
        .write(&mut request, b"ping")
        .unwrap();
    let sent = frames(&mut router, LAN, &request, at(0));
    assert_eq!(sent.len(), 1, "{sent:?}");
    let sliced = SlicedPacket::from_ethernet(&sent[0].1).unwrap();
    let Some(TransportSlice::Icmpv4(icmp)) = &sliced.transport else {
        panic!("not ICMPv4")
    };
    let Icmpv4Type::EchoRequest(echo) = icmp.icmp_type() else {
        panic!("not an echo request")
    };
    assert_eq!(
        icmp.checksum(),
        icmp.icmp_type().calc_checksum(icmp.payload())
    );
    let identifier = echo.id;

    let mut reply = Vec::new();
    PacketBuilder::ethernet2(GATEWAY_MAC, ROUTER_MACS[1])
        .ipv4(SERVER.octets(), POOL4.octets(), 60)
        .icmpv4_echo_reply(identifier, 1)
        .write(&mut reply, b"ping")
        .unwrap();
    let sent = frames(&mut router, UPLINK, &reply, at(1));
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].0, LAN);
    let sliced = SlicedPacket::from_ethernet(&sent[0].1).unwrap();
    let Some(TransportSlice::Icmpv6(icmp)) = &sliced.transport else {
        panic!("not ICMPv6")
    };
    assert!(matches!(icmp.icmp_type(), Icmpv6Type::EchoReply(echo) if echo.id == 0x0042));
}

#[test]
fn icmpv4_error_about_a_session_reaches_the_host_with_its_own_port() {
    let mut router = router();
    let port = sent_udp_source_port(&frames(
        &mut router,
        LAN,
        &udp_from_host(40002, b"q"),
        at(0),
    ));
    // The server says port unreachable, quoting what it got.
    let mut quoted = Vec::new();
    PacketBuilder::ipv4(POOL4.octets(), SERVER.octets(), 63)
        .udp(port, 53)
        .write(&mut quoted, b"q")
        .unwrap();
    let mut error = Vec::new();
    PacketBuilder::ethernet2(GATEWAY_MAC, ROUTER_MACS[1])
        .ipv4(SERVER.octets(), POOL4.octets(), 60)
        .icmpv4(Icmpv4Type::DestinationUnreachable(
            etherparse::icmpv4::DestUnreachableHeader::Port,
        ))
        .write(&mut error, &quoted)
        .unwrap();
    let sent = frames(&mut router, UPLINK, &error, at(1));
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].0, LAN);
    let sliced = SlicedPacket::from_ethernet(&sent[0].1).unwrap();
    let Some(TransportSlice::Icmpv6(icmp)) = &sliced.transport else {
        panic!("not ICMPv6")
    };
    assert!(matches!(
        icmp.icmp_type(),
        Icmpv6Type::DestinationUnreachable(etherparse::icmpv6::DestUnreachableCode::Port)
    ));
    let inner = SlicedPacket::from_ip(icmp.payload()).unwrap();
    let Some(NetSlice::Ipv6(inner_ipv6)) = &inner.net else {
        panic!("quoted IPv6")
    };
    assert_eq!(Ipv6Addr::from(inner_ipv6.header().source()), host());
    let Some(TransportSlice::Udp(udp)) = &inner.transport else {
        panic!("quoted UDP")
    };
    assert_eq!(udp.source_port(), 40002, "the host's port, not pool4's");
}

#[test]
fn the_uplink_address_in_pool4_still_answers_ping() {
    let mut router = router();
    let mut request = Vec::new();
    PacketBuilder::ethernet2(GATEWAY_MAC, ROUTER_MACS[1])
        .ipv4(SERVER.octets(), POOL4.octets(), 60)
        .icmpv4_echo_request(0x0999, 1)
        .write(&mut request, b"hello router")
        .unwrap();
    let sent = frames(&mut router, UPLINK, &request, at(0));
    assert_eq!(sent.len(), 1, "{sent:?}");
    let sliced = SlicedPacket::from_ethernet(&sent[0].1).unwrap();
    let Some(TransportSlice::Icmpv4(icmp)) = &sliced.transport else {
        panic!("not ICMPv4")
    };
    assert!(matches!(icmp.icmp_type(), Icmpv4Type::EchoReply(_)));
}

#[test]
fn hairpinning_between_two_ipv6_hosts_through_pool4() {
    // RFC 6146 §3.8: host c reaches host b at b's pool4 transport address
    // under pool6; the packet turns around inside the translator, and b
    // sees c under pool6 at c's own pool4 transport address.
    let mut router = router();
    let b_port = sent_udp_source_port(&frames(
        &mut router,
        LAN,
        &udp_from_host(40000, b"open"),
        at(0),
    ));
    let host_c: Ipv6Addr = "2001:db8:1::c".parse().unwrap();
    let mut frame = Vec::new();
    PacketBuilder::ethernet2([0x02, 0, 0, 0, 0, 0x0c], ROUTER_MACS[0])
        .ipv6(host_c.octets(), mapped(POOL4).octets(), 64)
        .udp(50000, b_port)
        .write(&mut frame, b"hairpin")
        .unwrap();
    let sent = frames(&mut router, LAN, &frame, at(1));
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].0, LAN, "turned around, never on the uplink");
    let sliced = SlicedPacket::from_ethernet(&sent[0].1).unwrap();
    let Some(NetSlice::Ipv6(ipv6)) = &sliced.net else {
        panic!("not IPv6")
    };
    let header = ipv6.header().to_header();
    assert_eq!(Ipv6Addr::from(header.destination), host());
    assert_eq!(
        Ipv6Addr::from(header.source),
        mapped(POOL4),
        "c as pool4 under pool6"
    );
    let Some(TransportSlice::Udp(udp)) = &sliced.transport else {
        panic!("not UDP")
    };
    assert_eq!(udp.destination_port(), 40000, "b's own port");
    assert_ne!(udp.source_port(), 50000, "c's pool4 port, not its own");
    let expected = udp
        .to_header()
        .calc_checksum_ipv6(&header, udp.payload())
        .unwrap();
    assert_eq!(udp.checksum(), expected);
}

#[test]
fn icmpv6_error_from_the_host_reaches_the_server_as_icmpv4() {
    // The server's datagram reaches the host, whose port is closed: the
    // host's ICMPv6 port unreachable goes back through the session (§3.5.3).
    let mut router = router();
    let port = sent_udp_source_port(&frames(
        &mut router,
        LAN,
        &udp_from_host(40003, b"q"),
        at(0),
    ));
    let mut quoted = Vec::new();
    PacketBuilder::ipv6(mapped(SERVER).octets(), host().octets(), 59)
        .udp(53, 40003)
        .write(&mut quoted, b"answer")
        .unwrap();
    let mut error = Vec::new();
    PacketBuilder::ethernet2(HOST_MAC, ROUTER_MACS[0])
        .ipv6(host().octets(), mapped(SERVER).octets(), 64)
        .icmpv6(Icmpv6Type::DestinationUnreachable(
            etherparse::icmpv6::DestUnreachableCode::Port,
        ))
        .write(&mut error, &quoted)
        .unwrap();
    let sent = frames(&mut router, LAN, &error, at(1));
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].0, UPLINK);
    let sliced = SlicedPacket::from_ethernet(&sent[0].1).unwrap();
    let Some(TransportSlice::Icmpv4(icmp)) = &sliced.transport else {
        panic!("not ICMPv4")
    };
    assert!(matches!(
        icmp.icmp_type(),
        Icmpv4Type::DestinationUnreachable(etherparse::icmpv4::DestUnreachableHeader::Port)
    ));
    assert_eq!(
        icmp.checksum(),
        icmp.icmp_type().calc_checksum(icmp.payload())
    );
    let inner = SlicedPacket::from_ip(icmp.payload()).unwrap();
    let Some(NetSlice::Ipv4(inner_ipv4)) = &inner.net else {
        panic!("quoted IPv4")
    };
    assert_eq!(inner_ipv4.header().destination(), POOL4.octets());
    let Some(TransportSlice::Udp(udp)) = &inner.transport else {
        panic!("quoted UDP")
    };
    assert_eq!(
        udp.destination_port(),
        port,
        "the pool4 port the server used"
    );
}

/// The router with `keys` added to its `[nat64]` table.
fn router_with(keys: &str) -> Router {
    let config = config::parse(&format!("{CONFIG}{keys}")).expect("the test config parses");
    let nics: Vec<NicInfo> = ROUTER_MACS.iter().map(|&mac| NicInfo { mac }).collect();
    Router::with_seed(&config, &nics, 11).unwrap()
}

const PEER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 9);

fn tcp_from_ipv4(source: Ipv4Addr, source_port: u16, port: u16, syn: bool) -> Vec<u8> {
    let mut frame = Vec::new();
    let builder = PacketBuilder::ethernet2(GATEWAY_MAC, ROUTER_MACS[1])
        .ipv4(source.octets(), POOL4.octets(), 60)
        .tcp(source_port, port, 500, 1000);
    let builder = if syn { builder.syn() } else { builder.ack(1) };
    builder.write(&mut frame, b"").unwrap();
    frame
}

fn syn_from_host(source_port: u16, destination: Ipv4Addr, destination_port: u16) -> Vec<u8> {
    let mut frame = Vec::new();
    PacketBuilder::ethernet2(HOST_MAC, ROUTER_MACS[0])
        .ipv6(host().octets(), mapped(destination).octets(), 64)
        .tcp(source_port, destination_port, 1, 1000)
        .syn()
        .write(&mut frame, b"")
        .unwrap();
    frame
}

/// The TCP source port of the one segment sent on the uplink.
fn sent_tcp_source_port(sent: &[(PortIndex, Vec<u8>)]) -> u16 {
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].0, UPLINK);
    let sliced = SlicedPacket::from_ethernet(&sent[0].1).unwrap();
    let Some(TransportSlice::Tcp(tcp)) = &sliced.transport else {
        panic!("not TCP")
    };
    tcp.source_port()
}

/// RFC 6146 §3.5.2.2 (CLOSED and a V4 SYN under address-dependent
/// filtering; V4 INIT and a V6 SYN) and RFC 5382 REQ-4: an inbound SYN the filter refuses is held,
/// not answered; the IPv6 host's SYN to the same peer within
/// TCP_INCOMING_SYN opens the connection (simultaneous open) and the held
/// SYN is forgotten, so no ICMP follows.
#[test]
fn held_inbound_syn_meets_the_ipv6_syn_of_a_simultaneous_open() {
    let mut router = router_with("filtering = \"address-dependent\"\n");
    // The host's BIB entry (T, t), made by a connection to another server.
    let port = sent_tcp_source_port(&frames(
        &mut router,
        LAN,
        &syn_from_host(40001, SERVER, 80),
        at(0),
    ));
    let sent = frames(
        &mut router,
        UPLINK,
        &tcp_from_ipv4(PEER, 5000, port, true),
        at(10),
    );
    assert!(sent.is_empty(), "held, not answered: {sent:?}");
    assert_eq!(counter(&router, "nat64_incoming_syn_held"), 1);
    assert_eq!(counter(&router, "nat64_filtered"), 0);

    let sent = frames(&mut router, LAN, &syn_from_host(40001, PEER, 5000), at(13));
    assert_eq!(sent_tcp_source_port(&sent), port, "the same binding");
    assert_eq!(counter(&router, "nat64_incoming_syn_simultaneous_open"), 1);

    // The peer's next segment passes the filter now, and the connection is
    // established: an ACK without SYN goes through.
    let sent = frames(
        &mut router,
        UPLINK,
        &tcp_from_ipv4(PEER, 5000, port, false),
        at(14),
    );
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].0, LAN);
    let sent: Vec<_> = router.poll(at(30)).map(|transmit| transmit.port).collect();
    assert!(sent.is_empty(), "no Port Unreachable: {sent:?}");
    assert_eq!(counter(&router, "nat64_incoming_syn_expired"), 0);
    let session = router
        .nat64_sessions(100)
        .into_iter()
        .find(|line| line.contains("198.51.100.9:5000"))
        .expect("the session with the peer");
    assert!(session.contains("ESTABLISHED"), "{session}");
}

/// RFC 6146 §3.5.2.2 (V4 INIT expiry) and RFC 5382 REQ-4: an inbound SYN
/// with no BIB entry is held TCP_INCOMING_SYN (6 s) and then answered with
/// ICMPv4 Port Unreachable (3/3) quoting it, counted.
#[test]
fn held_inbound_syn_expires_into_port_unreachable() {
    let mut router = router();
    let syn = tcp_from_ipv4(SERVER, 80, 3000, true);
    assert!(frames(&mut router, UPLINK, &syn, at(0)).is_empty());
    // A retransmission while it is held changes nothing.
    assert!(frames(&mut router, UPLINK, &syn, at(1)).is_empty());
    assert_eq!(counter(&router, "nat64_incoming_syn_held"), 1);
    assert_eq!(counter(&router, "nat64_incoming_syn_already_held"), 1);
    assert_eq!(router.poll(Instant::from_millis(5_999)).count(), 0);

    let sent: Vec<(PortIndex, Vec<u8>)> = router
        .poll(at(6))
        .map(|transmit| (transmit.port, transmit.frame.to_vec()))
        .collect();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].0, UPLINK);
    let sliced = SlicedPacket::from_ethernet(&sent[0].1).unwrap();
    assert_eq!(
        sent[0].1[..6],
        GATEWAY_MAC,
        "back to the SYN's previous hop"
    );
    let Some(NetSlice::Ipv4(ipv4)) = &sliced.net else {
        panic!("not IPv4")
    };
    assert_eq!(ipv4.header().source(), POOL4.octets());
    assert_eq!(ipv4.header().destination(), SERVER.octets());
    let Some(TransportSlice::Icmpv4(icmp)) = &sliced.transport else {
        panic!("not ICMPv4")
    };
    assert_eq!(
        icmp.icmp_type(),
        Icmpv4Type::DestinationUnreachable(etherparse::icmpv4::DestUnreachableHeader::Port)
    );
    assert_eq!(icmp.payload(), &syn[14..], "the held SYN, whole");
    assert_eq!(counter(&router, "nat64_incoming_syn_expired"), 1);
    assert_eq!(router.poll(at(12)).count(), 0, "answered once");
}

/// RFC 5382 REQ-4 "unless prohibited by local security policy", and
/// RFC 6146 §3.5.2.2's policy of silently dropping externally initiated
/// connections.
#[test]
fn held_syn_policy_switches() {
    let mut quiet = router_with("incoming_syn_unreachable = false\n");
    assert!(
        frames(
            &mut quiet,
            UPLINK,
            &tcp_from_ipv4(SERVER, 80, 3000, true),
            at(0)
        )
        .is_empty()
    );
    assert_eq!(quiet.poll(at(6)).count(), 0);
    assert_eq!(counter(&quiet, "nat64_incoming_syn_expired"), 1);

    // Dropped at once and silently (REQ-4: no answer within 6 s).
    let mut closed = router_with("held_incoming_syns = 0\n");
    let sent = frames(
        &mut closed,
        UPLINK,
        &tcp_from_ipv4(SERVER, 80, 3000, true),
        at(0),
    );
    assert!(sent.is_empty(), "{sent:?}");
    assert_eq!(counter(&closed, "nat64_incoming_syn_held"), 0);
    assert_eq!(counter(&closed, "nat64_incoming_syn_dropped"), 1);
    assert_eq!(counter(&closed, "translation_nat64_silent"), 1);
    assert_eq!(closed.poll(at(6)).count(), 0);
}

/// The UDP datagram `source_port` → `destination_port` carrying `payload`,
/// IPv4 from `source` to pool4, cut into fragments of `chunk` data bytes
/// (a multiple of 8), each in an Ethernet frame from the gateway.
fn ipv4_fragments(
    source: Ipv4Addr,
    source_port: u16,
    destination_port: u16,
    payload: &[u8],
    chunk: usize,
) -> Vec<Vec<u8>> {
    let mut whole = Vec::new();
    PacketBuilder::ipv4(source.octets(), POOL4.octets(), 60)
        .udp(source_port, destination_port)
        .write(&mut whole, payload)
        .unwrap();
    let data = &whole[20..];
    data.chunks(chunk)
        .enumerate()
        .map(|(index, piece)| {
            let offset = index * chunk;
            let more = offset + piece.len() < data.len();
            let mut header = etherparse::Ipv4Header::from_slice(&whole).unwrap().0;
            header.identification = 0x5151;
            header.dont_fragment = false;
            header.more_fragments = more;
            header.fragment_offset =
                etherparse::IpFragOffset::try_new((offset / 8) as u16).unwrap();
            header.set_payload_len(piece.len()).unwrap();
            header.header_checksum = header.calc_header_checksum();
            let mut frame = Vec::new();
            etherparse::Ethernet2Header {
                source: GATEWAY_MAC,
                destination: ROUTER_MACS[1],
                ether_type: etherparse::EtherType::IPV4,
            }
            .write(&mut frame)
            .unwrap();
            header.write(&mut frame).unwrap();
            frame.extend_from_slice(piece);
            frame
        })
        .collect()
}

/// The UDP datagram from the host's `source_port` to SERVER:53 under pool6
/// carrying `payload`, cut into IPv6 fragments of `chunk` data bytes (a
/// multiple of 8), each in an Ethernet frame from the host.
fn ipv6_fragments(source_port: u16, payload: &[u8], chunk: usize) -> Vec<Vec<u8>> {
    let mut whole = Vec::new();
    PacketBuilder::ipv6(host().octets(), mapped(SERVER).octets(), 64)
        .udp(source_port, 53)
        .write(&mut whole, payload)
        .unwrap();
    let data = &whole[40..];
    data.chunks(chunk)
        .enumerate()
        .map(|(index, piece)| {
            let offset = index * chunk;
            let more = offset + piece.len() < data.len();
            let mut frame = Vec::new();
            frame.extend_from_slice(&ROUTER_MACS[0]);
            frame.extend_from_slice(&HOST_MAC);
            frame.extend_from_slice(&[0x86, 0xdd]);
            frame.extend_from_slice(&whole[..4]);
            frame.extend_from_slice(&((8 + piece.len()) as u16).to_be_bytes());
            frame.extend_from_slice(&[44, 64]);
            frame.extend_from_slice(&whole[8..40]);
            frame.extend_from_slice(&[17, 0]);
            frame.extend_from_slice(&((offset as u16) | u16::from(more)).to_be_bytes());
            frame.extend_from_slice(&0x0005_1515_u32.to_be_bytes());
            frame.extend_from_slice(piece);
            frame
        })
        .collect()
}

/// Reassembles the fragments among `sent` with etherparse's defragmenter
/// (an independent receiver): the whole UDP datagram and the IP slice of
/// its first fragment.
fn reassemble(sent: &[(PortIndex, Vec<u8>)]) -> (Vec<u8>, Vec<u8>) {
    let mut pool = etherparse::defrag::IpDefragPool::<(), ()>::new();
    let mut first = None;
    let mut whole = None;
    for (_, frame) in sent {
        let sliced = SlicedPacket::from_ethernet(frame).unwrap();
        let (is_first, ip) = match &sliced.net {
            Some(NetSlice::Ipv4(ipv4)) => (
                ipv4.header().fragments_offset().value() == 0,
                frame[14..].to_vec(),
            ),
            // The translator writes the Fragment header right after the
            // IPv6 header (RFC 7915 §4.1).
            Some(NetSlice::Ipv6(_)) => (
                frame[20] == 44 && u16::from_be_bytes([frame[56], frame[57]]) & 0xfff8 == 0,
                frame[14..].to_vec(),
            ),
            _ => panic!("not IP"),
        };
        if is_first {
            first = Some(ip);
        }
        if let Some(payload) = pool.process_sliced_packet(&sliced, (), ()).unwrap() {
            whole = Some(payload.payload);
        }
    }
    (
        whole.expect("the datagram reassembles"),
        first.expect("a first fragment"),
    )
}

/// RFC 6146 §3.4: fragments from IPv4 arriving out of order (last first)
/// are held until the first one finds the session, then all go to the
/// IPv6 host translated (RFC 7915 §4.1 Fragment headers); the host
/// reassembles a datagram with its own port and a valid UDP checksum
/// (the incremental port update of the first fragment holds for the whole
/// datagram).
#[test]
fn out_of_order_ipv4_fragments_reach_the_ipv6_host_reassemblable() {
    let mut router = router();
    let port = sent_udp_source_port(&frames(
        &mut router,
        LAN,
        &udp_from_host(40000, b"q"),
        at(0),
    ));
    let payload: Vec<u8> = (0..1400u32).map(|index| index as u8).collect();
    let fragments = ipv4_fragments(SERVER, 53, port, &payload, 504);
    assert_eq!(fragments.len(), 3);
    assert!(frames(&mut router, UPLINK, &fragments[2], at(1)).is_empty());
    assert!(frames(&mut router, UPLINK, &fragments[1], at(1)).is_empty());
    assert_eq!(counter(&router, "nat64_fragment_held"), 2);
    let sent = frames(&mut router, UPLINK, &fragments[0], at(1));
    assert_eq!(sent.len(), 3, "the first and the two held: {sent:?}");
    assert!(sent.iter().all(|(out, _)| *out == LAN));
    assert_eq!(counter(&router, "nat64_fragment_released"), 2);
    let (datagram, _) = reassemble(&sent);
    let (udp, data) = etherparse::UdpHeader::from_slice(&datagram).unwrap();
    assert_eq!(udp.destination_port, 40000, "the host's own port");
    assert_eq!(data, &payload[..]);
    let checksum = udp
        .calc_checksum_ipv6_raw(mapped(SERVER).octets(), host().octets(), data)
        .unwrap();
    assert_eq!(udp.checksum, checksum, "valid over the whole datagram");

    // A later fragment of a known datagram passes straight through.
    let again = ipv4_fragments(SERVER, 53, port, &payload, 504);
    let sent = frames(&mut router, UPLINK, &again[1], at(1));
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].0, LAN);
}

/// RFC 6146 §3.4 from IPv6: out-of-order fragments (the first last) open
/// the session with their first fragment and leave as IPv4 fragments
/// (RFC 7915 §5.1.1) that reassemble into the datagram from the pool4
/// port, with a valid checksum.
#[test]
fn out_of_order_ipv6_fragments_reach_the_ipv4_server_reassemblable() {
    let mut router = router();
    let payload: Vec<u8> = (0..1400u32).map(|index| (index * 7) as u8).collect();
    let fragments = ipv6_fragments(40002, &payload, 504);
    assert_eq!(fragments.len(), 3);
    assert!(frames(&mut router, LAN, &fragments[1], at(0)).is_empty());
    assert!(frames(&mut router, LAN, &fragments[2], at(0)).is_empty());
    let sent = frames(&mut router, LAN, &fragments[0], at(0));
    assert_eq!(sent.len(), 3, "{sent:?}");
    assert!(sent.iter().all(|(out, _)| *out == UPLINK));
    let (datagram, first) = reassemble(&sent);
    let header = etherparse::Ipv4HeaderSlice::from_slice(&first).unwrap();
    assert_eq!(header.source(), POOL4.octets());
    assert_eq!(header.destination(), SERVER.octets());
    let (udp, data) = etherparse::UdpHeader::from_slice(&datagram).unwrap();
    assert!(udp.source_port >= 1024);
    assert_eq!(udp.destination_port, 53);
    assert_eq!(data, &payload[..]);
    let checksum = udp
        .calc_checksum_ipv4_raw(POOL4.octets(), SERVER.octets(), data)
        .unwrap();
    assert_eq!(udp.checksum, checksum, "valid over the whole datagram");
}

/// RFC 6146 §3.4 (FRAGMENT_MIN): a fragment whose first never comes is
/// kept fragment_timeout_seconds (2 s), then dropped and counted.
#[test]
fn a_fragment_whose_first_never_comes_times_out() {
    let mut router = router();
    let fragments = ipv4_fragments(SERVER, 53, 4000, &[0x5a; 600], 504);
    assert!(frames(&mut router, UPLINK, &fragments[1], at(0)).is_empty());
    assert_eq!(counter(&router, "nat64_fragment_held"), 1);
    assert_eq!(router.poll(Instant::from_millis(1_999)).count(), 0);
    assert_eq!(counter(&router, "nat64_fragment_timeout"), 0);
    assert_eq!(
        router.poll(at(2)).count(),
        0,
        "no ICMP: the first never came"
    );
    assert_eq!(counter(&router, "nat64_fragment_timeout"), 1);
    // A fragment overlapping a held one is dropped, counted.
    let overlapping = ipv4_fragments(SERVER, 53, 4000, &[0x5a; 1400], 512);
    assert!(frames(&mut router, UPLINK, &fragments[1], at(3)).is_empty());
    assert!(frames(&mut router, UPLINK, &overlapping[1], at(3)).is_empty());
    assert_eq!(counter(&router, "nat64_fragment_overlap"), 1);
}

/// RFC 6146 §3.5.2.2 (ESTABLISHED, lifetime expires): the NAT64 probes
/// the IPv6 endpoint — an empty segment, sequence and acknowledgment
/// numbers 0, only ACK set — and moves the session to TRANS; the host's
/// answer brings it back to ESTABLISHED (TRANS + a non-RST segment), and
/// with no answer it ends after TCP_TRANS.
#[test]
fn an_idle_established_session_is_probed_then_kept_or_closed() {
    let mut router =
        router_with("tcp_established_timeout_seconds = 20\ntcp_transitory_timeout_seconds = 10\n");
    let port = sent_tcp_source_port(&frames(
        &mut router,
        LAN,
        &syn_from_host(40001, SERVER, 80),
        at(0),
    ));
    let mut syn_ack = Vec::new();
    PacketBuilder::ethernet2(GATEWAY_MAC, ROUTER_MACS[1])
        .ipv4(SERVER.octets(), POOL4.octets(), 60)
        .tcp(80, port, 7, 1000)
        .syn()
        .ack(2)
        .write(&mut syn_ack, b"")
        .unwrap();
    assert_eq!(frames(&mut router, UPLINK, &syn_ack, at(1)).len(), 1);
    assert!(
        tcp_session(&router).contains("ESTABLISHED"),
        "{}",
        tcp_session(&router)
    );

    assert_eq!(
        router.poll(at(20)).count(),
        0,
        "not yet: 20 s after the SYN+ACK"
    );
    let sent: Vec<(PortIndex, Vec<u8>)> = router
        .poll(at(22))
        .map(|transmit| (transmit.port, transmit.frame.to_vec()))
        .collect();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].0, LAN);
    let sliced = SlicedPacket::from_ethernet(&sent[0].1).unwrap();
    let Some(NetSlice::Ipv6(ipv6)) = &sliced.net else {
        panic!("not IPv6")
    };
    let header = ipv6.header().to_header();
    assert_eq!(Ipv6Addr::from(header.source), mapped(SERVER));
    assert_eq!(Ipv6Addr::from(header.destination), host());
    let Some(TransportSlice::Tcp(tcp)) = &sliced.transport else {
        panic!("not TCP")
    };
    assert_eq!((tcp.source_port(), tcp.destination_port()), (80, 40001));
    assert_eq!((tcp.sequence_number(), tcp.acknowledgment_number()), (0, 0));
    assert!(tcp.ack() && !tcp.syn() && !tcp.fin() && !tcp.rst() && !tcp.psh());
    assert!(tcp.payload().is_empty());
    let expected = tcp.to_header().calc_checksum_ipv6(&header, &[]).unwrap();
    assert_eq!(tcp.checksum(), expected);
    assert_eq!(counter(&router, "nat64_tcp_probe_sent"), 1);
    assert!(
        tcp_session(&router).contains("TRANS"),
        "{}",
        tcp_session(&router)
    );

    // The host answers with an ACK: forwarded, ESTABLISHED again.
    let mut ack = Vec::new();
    PacketBuilder::ethernet2(HOST_MAC, ROUTER_MACS[0])
        .ipv6(host().octets(), mapped(SERVER).octets(), 64)
        .tcp(40001, 80, 2, 1000)
        .ack(8)
        .write(&mut ack, b"")
        .unwrap();
    assert_eq!(
        sent_tcp_source_port(&frames(&mut router, LAN, &ack, at(23))),
        port
    );
    assert!(
        tcp_session(&router).contains("ESTABLISHED"),
        "{}",
        tcp_session(&router)
    );

    // Idle again: probed at 43..44 s, no answer, gone 10 s later.
    assert_eq!(router.poll(at(45)).count(), 1);
    assert_eq!(counter(&router, "nat64_tcp_probe_sent"), 2);
    router.poll(at(56)).count();
    assert!(tcp_session(&router).is_empty());
}

/// The router's one TCP session, as listed (empty without one).
fn tcp_session(router: &Router) -> String {
    router
        .nat64_sessions(100)
        .into_iter()
        .find(|line| line.starts_with("tcp"))
        .unwrap_or_default()
}
