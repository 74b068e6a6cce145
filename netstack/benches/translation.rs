//! Translation cost per packet through `Router::receive` (RFC 7915 SIIT both ways), beside plain IPv6 forwarding of the same packets in the same run.
//!
//! Run with `CARGO_TARGET_DIR=/work/target-bench cargo bench -p netstack --bench translation`.
//!
//! The router has three ports: `lan` (IPv6, the host 2001:db8:1::a as a
//! static neighbor, EAM 198.51.100.10), `uplink` (IPv4 192.0.2.1/24, the
//! gateway 192.0.2.254 as a static ARP entry, pool6 2001:db8:64::/96) and
//! `wan` (IPv6, default route through a static neighbor). Every neighbor is
//! static, so no Neighbor Discovery or ARP happens while measuring.
//!
//! Three shapes, each sized on its IPv6 side:
//! - `udp_64`: UDP, 64 bytes as IPv6 (44 as IPv4);
//! - `tcp_1500`: TCP, 1500 bytes as IPv6 (1480 as IPv4, Don't Fragment);
//! - `icmp_error`: Destination Unreachable (port) quoting a UDP packet,
//!   128 bytes as IPv6 (88 as IPv4), the quoted packet translated too.
//!
//! Each shape is timed four ways: `6to4` (lan → uplink, translated),
//! `4to6` (uplink → lan, translated), and the plain IPv6 forwarding of the
//! same IPv6 packet in each direction (`forward_out`: lan → wan,
//! `forward_in`: wan → lan), so the translation/forwarding ratio reads off
//! one run. Each iteration hands one frame to `Router::receive` and drains
//! the one frame it returns (the kernel would copy it to the NIC).

use std::hint::black_box;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use etherparse::{Icmpv4Type, Icmpv6Type, PacketBuilder, icmpv4, icmpv6};
use netstack::config;
use netstack::router::{NicInfo, PortIndex, Router};
use smoltcp::time::Instant;

const LAN: PortIndex = PortIndex(0);
const UPLINK: PortIndex = PortIndex(1);
const WAN: PortIndex = PortIndex(2);
const ROUTER_MACS: [[u8; 6]; 3] = [
    [0x52, 0x54, 0, 0, 0, 0x10],
    [0x52, 0x54, 0, 0, 0, 0x11],
    [0x52, 0x54, 0, 0, 0, 0x12],
];
const HOST_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0a];
const IPV4_GATEWAY_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0xfe];
const IPV6_GATEWAY_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0xfd];

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

[[port]]
name = "wan"
addresses = ["2001:db8:ff::1/64"]

[[route]]
prefix = "::/0"
via = "2001:db8:ff::fe"

[[neighbor]]
port = "lan"
address = "2001:db8:1::a"
mac = "02:00:00:00:00:0a"

[[neighbor]]
port = "wan"
address = "2001:db8:ff::fe"
mac = "02:00:00:00:00:fd"

[translation]
pool6 = "2001:db8:64::/96"

[[translation.eam]]
ipv4 = "198.51.100.10/32"
ipv6 = "2001:db8:1::a/128"
"#;

const NOW: Instant = Instant::from_millis_const(1000);
const HOST_IPV4: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 10);
const SERVER: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 80);
/// A server on the IPv6 side, reached through `wan`.
const IPV6_SERVER: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x77, 0, 0, 0, 0, 0x50);

fn host() -> Ipv6Addr {
    Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0xa)
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

fn router() -> Router {
    let config = config::parse(CONFIG).expect("the bench config parses");
    let nics = ROUTER_MACS.map(|mac| NicInfo { mac });
    Router::with_seed(&config, &nics, 7).unwrap()
}

/// The packet shapes, named as the bench names them.
#[derive(Clone, Copy)]
enum Shape {
    Udp64,
    Tcp1500,
    IcmpError,
}

impl Shape {
    fn name(self) -> &'static str {
        match self {
            Shape::Udp64 => "udp_64",
            Shape::Tcp1500 => "tcp_1500",
            Shape::IcmpError => "icmp_error",
        }
    }

    /// The frame of this shape from `source` to `destination` (IPv6); an
    /// ICMP error quotes a packet from `destination` back to `source`.
    fn ipv6_frame(
        self,
        ethernet: ([u8; 6], [u8; 6]),
        source: Ipv6Addr,
        destination: Ipv6Addr,
    ) -> Vec<u8> {
        let ip = PacketBuilder::ethernet2(ethernet.0, ethernet.1).ipv6(
            source.octets(),
            destination.octets(),
            64,
        );
        let mut frame = Vec::new();
        match self {
            Shape::Udp64 => ip.udp(40000, 53).write(&mut frame, &[0x5a; 16]),
            Shape::Tcp1500 => ip
                .tcp(40000, 443, 1, 65535)
                .ack(1)
                .write(&mut frame, &[0x5a; 1440]),
            Shape::IcmpError => {
                // The packet `destination` sent to `source`, refused there.
                let mut quoted = Vec::new();
                PacketBuilder::ipv6(destination.octets(), source.octets(), 60)
                    .udp(53, 40000)
                    .write(&mut quoted, &[0x5a; 32])
                    .unwrap();
                ip.icmpv6(Icmpv6Type::DestinationUnreachable(
                    icmpv6::DestUnreachableCode::Port,
                ))
                .write(&mut frame, &quoted)
            }
        }
        .unwrap();
        assert_eq!(frame.len(), 14 + self.ipv6_length());
        frame
    }

    /// The frame of this shape from `source` to `destination` (IPv4).
    fn ipv4_frame(self, source: Ipv4Addr, destination: Ipv4Addr) -> Vec<u8> {
        // etherparse sets Don't Fragment, so nothing is fragmented.
        let ip = PacketBuilder::ethernet2(IPV4_GATEWAY_MAC, ROUTER_MACS[1]).ipv4(
            source.octets(),
            destination.octets(),
            64,
        );
        let mut frame = Vec::new();
        match self {
            Shape::Udp64 => ip.udp(53, 40000).write(&mut frame, &[0x5a; 16]),
            Shape::Tcp1500 => ip
                .tcp(443, 40000, 1, 65535)
                .ack(1)
                .write(&mut frame, &[0x5a; 1440]),
            Shape::IcmpError => {
                let mut quoted = Vec::new();
                PacketBuilder::ipv4(destination.octets(), source.octets(), 60)
                    .udp(40000, 53)
                    .write(&mut quoted, &[0x5a; 32])
                    .unwrap();
                ip.icmpv4(Icmpv4Type::DestinationUnreachable(
                    icmpv4::DestUnreachableHeader::Port,
                ))
                .write(&mut frame, &quoted)
            }
        }
        .unwrap();
        assert_eq!(frame.len(), 14 + self.ipv4_length());
        frame
    }

    /// 20 bytes less, 40 for an ICMP error (its quoted header shrinks too).
    fn ipv4_length(self) -> usize {
        match self {
            Shape::IcmpError => self.ipv6_length() - 40,
            _ => self.ipv6_length() - 20,
        }
    }

    fn ipv6_length(self) -> usize {
        match self {
            Shape::Udp64 => 64,
            Shape::Tcp1500 => 1500,
            Shape::IcmpError => 128,
        }
    }
}

/// Times `frame` received on `port`, after checking it leaves on `egress`
/// as a frame of `length` bytes.
fn bench_frame(
    criterion: &mut Criterion,
    name: &str,
    port: PortIndex,
    frame: &[u8],
    egress: PortIndex,
    length: usize,
) {
    let mut router = router();
    let sent: Vec<(PortIndex, usize)> = router
        .receive(port, frame, NOW)
        .map(|transmit| (transmit.port, transmit.frame.len()))
        .collect();
    assert_eq!(sent, [(egress, length)], "{name}: one frame, on {egress:?}");
    let mut group = criterion.benchmark_group("translation");
    group.throughput(Throughput::Elements(1));
    group.bench_function(name, |bencher| {
        bencher.iter(|| {
            let mut outgoing = router.receive(port, black_box(frame), NOW);
            black_box(outgoing.next().map(|transmit| transmit.frame.len()))
        })
    });
    group.finish();
    let counters = router.port_counters(port).unwrap();
    assert_eq!(counters.dropped.total(), 0, "{name}: nothing dropped");
}

fn translation(criterion: &mut Criterion) {
    for shape in [Shape::Udp64, Shape::Tcp1500, Shape::IcmpError] {
        let ipv6 = 14 + shape.ipv6_length();
        let ipv4 = 14 + shape.ipv4_length();
        let from_host = (HOST_MAC, ROUTER_MACS[0]);
        let from_wan = (IPV6_GATEWAY_MAC, ROUTER_MACS[2]);
        let name = shape.name();
        bench_frame(
            criterion,
            &format!("{name}/forward_out"),
            LAN,
            &shape.ipv6_frame(from_host, host(), IPV6_SERVER),
            WAN,
            ipv6,
        );
        bench_frame(
            criterion,
            &format!("{name}/6to4"),
            LAN,
            &shape.ipv6_frame(from_host, host(), mapped(SERVER)),
            UPLINK,
            ipv4,
        );
        bench_frame(
            criterion,
            &format!("{name}/forward_in"),
            WAN,
            &shape.ipv6_frame(from_wan, IPV6_SERVER, host()),
            LAN,
            ipv6,
        );
        bench_frame(
            criterion,
            &format!("{name}/4to6"),
            UPLINK,
            &shape.ipv4_frame(SERVER, HOST_IPV4),
            LAN,
            ipv6,
        );
    }
}

/// Twelve benchmarks in about 40 seconds.
fn configuration() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50)
}

criterion_group! {
    name = benches;
    config = configuration();
    targets = translation
}
criterion_main!(benches);
