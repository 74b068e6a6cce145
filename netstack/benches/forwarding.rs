//! Forwarding cost per packet through `Router::receive`: 64- and 1500-byte packets, a 1,000-route FIB, a warm neighbor cache.
//!
//! Run with `CARGO_TARGET_DIR=/work/target-h5 cargo bench -p netstack --bench forwarding`.
//! Each iteration hands one frame to `Router::receive` and drains the one
//! forwarded frame it returns (the kernel would copy it to the NIC).
//! Destinations are spread over the 1,000 routes, so the FIB lookup is not
//! a single cached path; time is constant, so the neighbor stays REACHABLE.

use std::fmt::Write as _;
use std::hint::black_box;
use std::net::Ipv6Addr;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use etherparse::PacketBuilder;
use netstack::config;
use netstack::router::{NicInfo, PortIndex, Router};
use smoltcp::time::Instant;

const ROUTER_MACS: [[u8; 6]; 2] = [[0x52, 0x54, 0, 0, 0, 1], [0x52, 0x54, 0, 0, 0, 2]];
const HOST_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0x0a];
const GATEWAY_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0xfe];
const ROUTES: u32 = 1000;
const DESTINATIONS: usize = 256;

/// Route `index`: 2001:db8:(index):/48 through the gateway, by halves
/// over two next hops so the next-hop table is not trivial.
fn route_prefix(index: u32) -> Ipv6Addr {
    Ipv6Addr::new(
        0x2400,
        (index >> 8) as u16,
        (index & 0xff) as u16 * 0x100,
        0,
        0,
        0,
        0,
        0,
    )
}

fn router() -> Router {
    let mut text = String::from(
        "[[port]]\nname = \"lan0\"\naddresses = [\"2001:db8:1::1/64\"]\n\
         [[port]]\nname = \"wan0\"\naddresses = [\"2001:db8:ff::1/64\"]\n",
    );
    for index in 0..ROUTES {
        let via = if index % 2 == 0 {
            "2001:db8:ff::fe"
        } else {
            "2001:db8:ff::fd"
        };
        writeln!(
            text,
            "[[route]]\nprefix = \"{}/40\"\nvia = \"{via}\"",
            route_prefix(index)
        )
        .unwrap();
    }
    let config = config::parse(&text).expect("the bench config parses");
    let nics = ROUTER_MACS.map(|mac| NicInfo { mac });
    let mut router = Router::new(&config, &nics).unwrap();
    // Warm the neighbor cache: resolve both gateways.
    for gateway in ["2001:db8:ff::fe", "2001:db8:ff::fd"] {
        let gateway: Ipv6Addr = gateway.parse().unwrap();
        let mut advertisement = Vec::new();
        // An unsolicited advertisement for an unknown entry is ignored, so
        // first a packet toward it creates the INCOMPLETE entry.
        let index = if gateway.segments()[7] == 0xfe { 0 } else { 1 };
        router
            .receive(PortIndex(0), &frame(route_prefix(index), 64), NOW)
            .count();
        PacketBuilder::ethernet2(GATEWAY_MAC, ROUTER_MACS[1])
            .ipv6(
                gateway.octets(),
                "2001:db8:ff::1".parse::<Ipv6Addr>().unwrap().octets(),
                255,
            )
            .icmpv6_raw(136, 0, [0x60, 0, 0, 0])
            .write(
                &mut advertisement,
                &[&gateway.octets()[..], &[2, 1], &GATEWAY_MAC].concat(),
            )
            .unwrap();
        assert_eq!(router.receive(PortIndex(1), &advertisement, NOW).count(), 1);
    }
    router
}

const NOW: Instant = Instant::from_millis_const(1000);

/// A UDP frame to `destination` of `size` IPv6 bytes.
fn frame(destination: Ipv6Addr, size: usize) -> Vec<u8> {
    let builder = PacketBuilder::ethernet2(HOST_MAC, ROUTER_MACS[0])
        .ipv6(
            "2001:db8:1::a".parse::<Ipv6Addr>().unwrap().octets(),
            destination.octets(),
            64,
        )
        .udp(1, 2);
    let mut frame = Vec::new();
    builder.write(&mut frame, &vec![0u8; size - 48]).unwrap();
    frame
}

fn forwarding(criterion: &mut Criterion) {
    let mut group = criterion.benchmark_group("forwarding");
    for size in [64usize, 1500] {
        let mut router = router();
        let frames: Vec<Vec<u8>> = (0..DESTINATIONS)
            .map(|index| {
                let route = (index as u32 * 7919) % ROUTES;
                let mut destination = route_prefix(route).segments();
                destination[7] = index as u16 + 1;
                frame(Ipv6Addr::from(destination), size)
            })
            .collect();
        // Every frame is forwarded, none waits or is dropped.
        for frame in &frames {
            assert_eq!(router.receive(PortIndex(0), frame, NOW).count(), 1);
        }
        group.throughput(Throughput::Elements(1));
        let mut next = 0usize;
        group.bench_function(format!("{size}_bytes"), |bencher| {
            bencher.iter(|| {
                let frame = &frames[next % DESTINATIONS];
                next = next.wrapping_add(1);
                let mut outgoing = router.receive(PortIndex(0), black_box(frame), NOW);
                black_box(outgoing.next().map(|transmit| transmit.frame.len()))
            })
        });
        let counters = router.port_counters(PortIndex(0)).unwrap();
        assert_eq!(counters.dropped.total(), 0);
    }
    group.finish();
}

criterion_group!(benches, forwarding);
criterion_main!(benches);
