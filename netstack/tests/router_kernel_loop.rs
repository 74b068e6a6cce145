//! The router driven only through its public API, the way the kernel's poll loop drives it.

use etherparse::{Icmpv6Type, PacketBuilder, SlicedPacket, TransportSlice};
use netstack::config::{self, DEFAULT_CONFIG};
use netstack::counters::DropReason;
use netstack::router::{NicInfo, PortIndex, Router};
use smoltcp::time::Instant;

const HOST_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x99];

#[test]
fn ping_each_port_of_a_default_router() {
    let config = config::parse(DEFAULT_CONFIG).expect("the embedded default parses");
    let nics = [
        NicInfo {
            mac: [0x52, 0x54, 0, 0, 0, 1],
        },
        NicInfo {
            mac: [0x52, 0x54, 0, 0, 0, 2],
        },
    ];
    let mut router = Router::new(&config, &nics).expect("two NICs fit");
    assert_eq!(router.port_count(), 2);

    for port in router.port_indices().collect::<Vec<_>>() {
        let link_local = router.port_link_local(port).unwrap();
        let host = "fe80::99".parse::<std::net::Ipv6Addr>().unwrap();
        let builder = PacketBuilder::ethernet2(HOST_MAC, nics[port.0].mac)
            .ipv6(host.octets(), link_local.octets(), 64)
            .icmpv6_echo_request(1, 2);
        let mut frame = Vec::new();
        builder.write(&mut frame, b"hello").unwrap();

        let sent: Vec<(PortIndex, Vec<u8>)> = router
            .receive(port, &frame, Instant::from_millis(10))
            .map(|transmit| (transmit.port, transmit.frame.to_vec()))
            .collect();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].0, port);
        let reply = SlicedPacket::from_ethernet(&sent[0].1).unwrap();
        let Some(TransportSlice::Icmpv6(icmp)) = reply.transport else {
            panic!("not ICMPv6");
        };
        assert!(matches!(icmp.icmp_type(), Icmpv6Type::EchoReply(_)));
        assert_eq!(icmp.payload(), b"hello");
        assert_eq!(router.poll(Instant::from_millis(20)).count(), 0);
    }

    assert_eq!(router.port_name(PortIndex(0)), Some("port0"));
    assert_eq!(router.port_name(PortIndex(1)), Some("port1"));
    let counters: Vec<(&str, u64)> = router
        .counters(PortIndex(1))
        .filter(|(_, value)| *value != 0)
        .collect();
    assert_eq!(
        counters,
        [
            ("received", 1),
            ("transmitted", 1),
            ("consumed", 1),
            ("out_requests", 1)
        ]
    );

    // A frame for the other port's MAC is not for this one.
    let garbage = [0u8; 60];
    assert_eq!(
        router
            .receive(PortIndex(0), &garbage, Instant::from_millis(30))
            .count(),
        0
    );
    let totals = router.totals();
    assert_eq!(totals.received, 3);
    assert_eq!(totals.dropped.get(DropReason::NotForUs), 1);
}
