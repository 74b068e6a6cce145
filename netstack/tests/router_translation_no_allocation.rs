//! Translating a packet through `Router::receive` (RFC 7915, both ways, and stateful NAT64 on established sessions) performs no heap allocation: a counting global allocator watches the border's hot path.
//!
//! Same method as `router_no_allocation.rs`: the counting allocator is
//! `stats_alloc`'s instrumented `System`, and this file holds exactly one
//! test, so no other test thread allocates while it measures. The
//! neighbors (the lan host, the IPv4 gateway) are static, so the caches
//! are warm from the start.
#![cfg(feature = "legacy-ip")]

use std::alloc::System;
use std::net::{Ipv4Addr, Ipv6Addr};

use etherparse::{Icmpv4Type, Icmpv6Type, PacketBuilder, icmpv4, icmpv6};
use netstack::config;
use netstack::router::{NicInfo, PortIndex, Router};
use smoltcp::time::Instant;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static ALLOCATOR: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Allocations (and reallocations) counted between two points.
fn allocations(region: &Region<'_, System>) -> usize {
    let change = region.change();
    change.allocations + change.reallocations
}

const LAN: PortIndex = PortIndex(0);
const UPLINK: PortIndex = PortIndex(1);
const ROUTER_MACS: [[u8; 6]; 2] = [[0x52, 0x54, 0, 0, 0, 0x10], [0x52, 0x54, 0, 0, 0, 0x11]];
const HOST_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0a];
const GATEWAY_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0xfe];

const CONFIG: &str = r#"
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
address = "2001:db8:1::a"
mac = "02:00:00:00:00:0a"

[translation]
pool6 = "2001:db8:64::/96"

[[translation.eam]]
ipv4 = "198.51.100.10/32"
ipv6 = "2001:db8:1::a/128"
"#;

const HOST: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0xa);
const HOST_IPV4: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 10);
const SERVER: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 80);
/// SERVER under pool6.
const MAPPED_SERVER: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x64, 0, 0, 0, 0xcb00, 0x7150);

/// The lan host's frames toward the IPv4 server: UDP small and large,
/// TCP, and an ICMPv6 error quoting a packet the server sent.
fn ipv6_frames() -> Vec<Vec<u8>> {
    let ip = || {
        PacketBuilder::ethernet2(HOST_MAC, ROUTER_MACS[0]).ipv6(
            HOST.octets(),
            MAPPED_SERVER.octets(),
            64,
        )
    };
    let mut frames = vec![Vec::new(); 4];
    ip().udp(40000, 53).write(&mut frames[0], &[1; 16]).unwrap();
    ip().udp(40000, 53)
        .write(&mut frames[1], &[1; 1500 - 48])
        .unwrap();
    ip().tcp(40000, 443, 1, 65535)
        .ack(1)
        .write(&mut frames[2], &[1; 1440])
        .unwrap();
    let mut quoted = Vec::new();
    PacketBuilder::ipv6(MAPPED_SERVER.octets(), HOST.octets(), 60)
        .udp(53, 40000)
        .write(&mut quoted, &[1; 32])
        .unwrap();
    ip().icmpv6(Icmpv6Type::DestinationUnreachable(
        icmpv6::DestUnreachableCode::Port,
    ))
    .write(&mut frames[3], &quoted)
    .unwrap();
    frames
}

/// The IPv4 server's frames toward the lan host, the same shapes.
fn ipv4_frames() -> Vec<Vec<u8>> {
    let ip = || {
        PacketBuilder::ethernet2(GATEWAY_MAC, ROUTER_MACS[1]).ipv4(
            SERVER.octets(),
            HOST_IPV4.octets(),
            64,
        )
    };
    let mut frames = vec![Vec::new(); 4];
    ip().udp(53, 40000).write(&mut frames[0], &[1; 16]).unwrap();
    ip().udp(53, 40000)
        .write(&mut frames[1], &[1; 1480 - 28])
        .unwrap();
    ip().tcp(443, 40000, 1, 65535)
        .ack(1)
        .write(&mut frames[2], &[1; 1440])
        .unwrap();
    let mut quoted = Vec::new();
    PacketBuilder::ipv4(HOST_IPV4.octets(), SERVER.octets(), 60)
        .udp(40000, 53)
        .write(&mut quoted, &[1; 32])
        .unwrap();
    ip().icmpv4(Icmpv4Type::DestinationUnreachable(
        icmpv4::DestUnreachableHeader::Port,
    ))
    .write(&mut frames[3], &quoted)
    .unwrap();
    frames
}

/// The ports of the frames one received frame sends.
fn sent(router: &mut Router, port: PortIndex, frame: &[u8], now: Instant) -> Vec<PortIndex> {
    router
        .receive(port, frame, now)
        .map(|transmit| transmit.port)
        .collect()
}

#[test]
fn translation_does_not_allocate() {
    let config = config::parse(CONFIG).unwrap();
    let nics = ROUTER_MACS.map(|mac| NicInfo { mac });
    let mut router = Router::with_seed(&config, &nics, 7).unwrap();
    let now = Instant::from_secs(1);
    let outbound = ipv6_frames();
    let inbound = ipv4_frames();
    // An IPv6 packet whose hop limit runs out on its way to IPv4 (the
    // ICMPv6 error goes to the lan), and an IPv4 one whose TTL runs out
    // (the ICMPv6 error is translated into ICMPv4 Time Exceeded).
    let mut expired_outbound = outbound[0].clone();
    expired_outbound[14 + 7] = 1;
    let mut expired_inbound = Vec::new();
    PacketBuilder::ethernet2(GATEWAY_MAC, ROUTER_MACS[1])
        .ipv4(SERVER.octets(), HOST_IPV4.octets(), 1)
        .udp(53, 40000)
        .write(&mut expired_inbound, &[1; 16])
        .unwrap();

    // Every frame is translated and leaves by the other port (the first
    // pass also fills whatever grows lazily, outside the measured region).
    for frame in &outbound {
        assert_eq!(sent(&mut router, LAN, frame, now), [UPLINK]);
    }
    for frame in &inbound {
        assert_eq!(sent(&mut router, UPLINK, frame, now), [LAN]);
    }
    assert_eq!(sent(&mut router, LAN, &expired_outbound, now), [LAN]);
    assert_eq!(sent(&mut router, UPLINK, &expired_inbound, now), [UPLINK]);

    // The counter works: one allocation is seen.
    let region = Region::new(ALLOCATOR);
    drop(std::hint::black_box(Box::new(7u64)));
    assert_eq!(allocations(&region), 1);

    let region = Region::new(ALLOCATOR);
    let mut translated = 0;
    for _ in 0..1000 {
        for frame in &outbound {
            translated += router.receive(LAN, frame, now).count();
        }
        for frame in &inbound {
            translated += router.receive(UPLINK, frame, now).count();
        }
        // ICMP errors the router itself sends, toward either family.
        router.receive(LAN, &expired_outbound, now).count();
        router.receive(UPLINK, &expired_inbound, now).count();
        router.poll(now).count();
    }
    let counted = allocations(&region);
    assert_eq!(translated, 8000);
    assert_eq!(counted, 0, "heap allocations while translating");

    nat64_established_flows_do_not_allocate();
}

/// Stateful NAT64 (RFC 6146) with the same neighbors: pool4 is the uplink
/// address.
const NAT64_CONFIG: &str = r#"
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
address = "2001:db8:1::a"
mac = "02:00:00:00:00:0a"

[translation]
pool6 = "2001:db8:64::/96"

[nat64]
pool4 = [{ prefix = "192.0.2.1", tcp = "1024-65535", udp = "1024-65535", icmp = "1-65535" }]
"#;

const POOL4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);

/// The source port (or ICMP identifier) of the one IPv4 frame sent.
fn translated_port(router: &mut Router, frame: &[u8], now: Instant) -> u16 {
    let sent: Vec<Vec<u8>> = router
        .receive(LAN, frame, now)
        .map(|transmit| {
            assert_eq!(transmit.port, UPLINK);
            transmit.frame.to_vec()
        })
        .collect();
    assert_eq!(sent.len(), 1);
    let header_length = usize::from(sent[0][14] & 0x0f) * 4;
    let transport = 14 + header_length;
    if sent[0][14 + 9] == 1 {
        // ICMP Echo: the identifier.
        u16::from_be_bytes([sent[0][transport + 4], sent[0][transport + 5]])
    } else {
        u16::from_be_bytes([sent[0][transport], sent[0][transport + 1]])
    }
}

/// Once UDP, TCP and ICMP Echo sessions exist, their packets both ways
/// (and the session timers' polls) allocate nothing.
fn nat64_established_flows_do_not_allocate() {
    let config = config::parse(NAT64_CONFIG).unwrap();
    let nics = ROUTER_MACS.map(|mac| NicInfo { mac });
    let mut router = Router::with_seed(&config, &nics, 7).unwrap();
    let now = Instant::from_secs(1);
    let from_host = || {
        PacketBuilder::ethernet2(HOST_MAC, ROUTER_MACS[0]).ipv6(
            HOST.octets(),
            MAPPED_SERVER.octets(),
            64,
        )
    };
    let from_server = || {
        PacketBuilder::ethernet2(GATEWAY_MAC, ROUTER_MACS[1]).ipv4(
            SERVER.octets(),
            POOL4.octets(),
            64,
        )
    };

    // UDP, small and large.
    let mut udp_small = Vec::new();
    from_host()
        .udp(40000, 53)
        .write(&mut udp_small, &[1; 16])
        .unwrap();
    let mut udp_large = Vec::new();
    from_host()
        .udp(40000, 53)
        .write(&mut udp_large, &[1; 1500 - 48])
        .unwrap();
    let udp_port = translated_port(&mut router, &udp_small, now);
    // TCP: SYN, SYN+ACK, then ACKs with data both ways (ESTABLISHED).
    let mut syn = Vec::new();
    from_host()
        .tcp(40001, 443, 1, 65535)
        .syn()
        .write(&mut syn, &[])
        .unwrap();
    let tcp_port = translated_port(&mut router, &syn, now);
    let mut syn_ack = Vec::new();
    from_server()
        .tcp(443, tcp_port, 7, 65535)
        .syn()
        .ack(2)
        .write(&mut syn_ack, &[])
        .unwrap();
    assert_eq!(sent(&mut router, UPLINK, &syn_ack, now), [LAN]);
    let mut tcp_out = Vec::new();
    from_host()
        .tcp(40001, 443, 2, 65535)
        .ack(8)
        .write(&mut tcp_out, &[1; 1440])
        .unwrap();
    let mut tcp_in = Vec::new();
    from_server()
        .tcp(443, tcp_port, 8, 65535)
        .ack(1442)
        .write(&mut tcp_in, &[1; 1440])
        .unwrap();
    // ICMP Echo.
    let mut echo_request = Vec::new();
    from_host()
        .icmpv6_echo_request(0x0042, 1)
        .write(&mut echo_request, &[1; 56])
        .unwrap();
    let identifier = translated_port(&mut router, &echo_request, now);
    let mut echo_reply = Vec::new();
    from_server()
        .icmpv4_echo_reply(identifier, 1)
        .write(&mut echo_reply, &[1; 56])
        .unwrap();
    let mut udp_in = Vec::new();
    from_server()
        .udp(53, udp_port)
        .write(&mut udp_in, &[1; 16])
        .unwrap();

    let outbound = [&udp_small, &udp_large, &tcp_out, &echo_request];
    let inbound = [&udp_in, &tcp_in, &echo_reply];
    // A first pass outside the measured region.
    for frame in outbound {
        assert_eq!(sent(&mut router, LAN, frame, now), [UPLINK]);
    }
    for frame in inbound {
        assert_eq!(sent(&mut router, UPLINK, frame, now), [LAN]);
    }

    let region = Region::new(ALLOCATOR);
    let mut translated = 0;
    for round in 0..1000u64 {
        // Virtual time advances, so the session timers run too.
        let now = Instant::from_millis(1000 + round as i64 * 50);
        for frame in outbound {
            translated += router.receive(LAN, frame, now).count();
        }
        for frame in inbound {
            translated += router.receive(UPLINK, frame, now).count();
        }
        router.poll(now).count();
    }
    let counted = allocations(&region);
    assert_eq!(translated, 7000);
    assert_eq!(counted, 0, "heap allocations on established NAT64 flows");
}
