//! Forwarding a packet performs no heap allocation: a counting global allocator watches `Router::receive` on the hot path.
//!
//! The counting allocator is `stats_alloc`'s instrumented `System`, so
//! netstack keeps `forbid(unsafe_code)` even in its tests. Its counts are
//! process-wide: this file holds exactly one test, so no other test
//! thread allocates while it measures, but the test harness's own main
//! thread may still be finishing its bookkeeping for the test it just
//! started (seen once on a loaded machine: 4 allocations). The router is
//! deterministic, so the measurement is repeated on a fresh router, up to
//! three times: one run with no allocation shows the router allocates
//! nothing (anything it allocated would show in every run), and every
//! run's count is reported if none is clean.

#![forbid(unsafe_code)]

use std::alloc::System;
use std::hint::black_box;

use etherparse::PacketBuilder;
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

const ROUTER_MACS: [[u8; 6]; 2] = [[0x52, 0x54, 0, 0, 0, 1], [0x52, 0x54, 0, 0, 0, 2]];
const HOST_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0x0a];
const GATEWAY_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0xfe];

fn frame(destination: std::net::Ipv6Addr, hop_limit: u8, payload: usize) -> Vec<u8> {
    let builder = PacketBuilder::ethernet2(HOST_MAC, ROUTER_MACS[0])
        .ipv6(
            "2001:db8:1::a"
                .parse::<std::net::Ipv6Addr>()
                .unwrap()
                .octets(),
            destination.octets(),
            hop_limit,
        )
        .udp(1, 2);
    let mut frame = Vec::new();
    builder.write(&mut frame, &vec![0u8; payload]).unwrap();
    frame
}

#[test]
fn forwarding_does_not_allocate() {
    // The counter works: one allocation is seen.
    let region = Region::new(ALLOCATOR);
    drop(black_box(Box::new(7u64)));
    assert_eq!(allocations(&region), 1);

    let mut counts = Vec::new();
    for _ in 0..3 {
        let (forwarded, counted) = forward_on_a_fresh_router();
        assert_eq!(forwarded, 2000);
        counts.push(counted);
        if counted == 0 {
            return;
        }
    }
    panic!("heap allocations while forwarding, in each of three runs: {counts:?}");
}

/// Builds a router, resolves its gateway, then forwards 1000 small and
/// 1000 large packets and answers 1000 with Time Exceeded; returns the
/// packets forwarded and the allocations counted while doing so.
fn forward_on_a_fresh_router() -> (usize, usize) {
    let config = config::parse(
        "[[port]]\nname = \"lan0\"\naddresses = [\"2001:db8:1::1/64\"]\n\
         [[port]]\nname = \"wan0\"\naddresses = [\"2001:db8:ff::1/64\"]\n\
         [[route]]\nprefix = \"::/0\"\nvia = \"2001:db8:ff::fe\"\n",
    )
    .unwrap();
    let nics = ROUTER_MACS.map(|mac| NicInfo { mac });
    let mut router = Router::new(&config, &nics).unwrap();
    let now = Instant::from_secs(1);
    let destination: std::net::Ipv6Addr = "2001:db8:77::1".parse().unwrap();
    let small = frame(destination, 64, 8);
    let large = frame(destination, 64, 1500 - 48);
    let expired = frame(destination, 1, 8);

    // Resolve the gateway: a solicitation goes out, the advertisement releases the packet.
    assert_eq!(router.receive(PortIndex(0), &small, now).count(), 1);
    let mut advertisement = Vec::new();
    let gateway: std::net::Ipv6Addr = "2001:db8:ff::fe".parse().unwrap();
    PacketBuilder::ethernet2(GATEWAY_MAC, ROUTER_MACS[1])
        .ipv6(
            gateway.octets(),
            "2001:db8:ff::1"
                .parse::<std::net::Ipv6Addr>()
                .unwrap()
                .octets(),
            255,
        )
        .icmpv6_raw(136, 0, [0x60, 0, 0, 0])
        .write(
            &mut advertisement,
            &[&gateway.octets()[..], &[2, 1], &GATEWAY_MAC].concat(),
        )
        .unwrap();
    assert_eq!(router.receive(PortIndex(1), &advertisement, now).count(), 1);

    let region = Region::new(ALLOCATOR);
    let mut forwarded = 0;
    for _ in 0..1000 {
        forwarded += router.receive(PortIndex(0), &small, now).count();
        forwarded += router.receive(PortIndex(0), &large, now).count();
        // An ICMPv6 error (Time Exceeded) is built without allocating too.
        router.receive(PortIndex(0), &expired, now).count();
        router.poll(now).count();
    }
    let counted = allocations(&region);
    (forwarded, counted)
}
