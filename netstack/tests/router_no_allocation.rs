//! Forwarding a packet performs no heap allocation: a counting global allocator watches `Router::receive` on the hot path.
//!
//! The counter is per thread, so the test harness's own threads do not
//! disturb it. The allocator delegates to `System`; `unsafe` is needed only
//! because `GlobalAlloc` is an unsafe trait.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;

use etherparse::PacketBuilder;
use netstack::config;
use netstack::router::{NicInfo, PortIndex, Router};
use smoltcp::time::Instant;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

struct CountingAllocator;

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged, so `System`'s guarantees hold; the counting touches only
// const-initialized thread-locals, which never allocate.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract for `layout`.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        // SAFETY: `pointer` was allocated by `System` with `layout` (every
        // allocation goes through `alloc` above).
        unsafe { System.dealloc(pointer, layout) }
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: as for `dealloc`, and the caller upholds `realloc`'s contract.
        unsafe { System.realloc(pointer, layout, new_size) }
    }
}

fn count() {
    // `try_with`: during thread teardown the thread-locals may be gone.
    let _ = COUNTING.try_with(|counting| {
        if counting.get() {
            let _ = ALLOCATIONS.try_with(|allocations| allocations.set(allocations.get() + 1));
        }
    });
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

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

    // The counter works: one allocation is seen.
    COUNTING.with(|counting| counting.set(true));
    drop(black_box(Box::new(7u64)));
    COUNTING.with(|counting| counting.set(false));
    assert_eq!(ALLOCATIONS.with(Cell::get), 1);
    ALLOCATIONS.with(|allocations| allocations.set(0));

    COUNTING.with(|counting| counting.set(true));
    let mut forwarded = 0;
    for _ in 0..1000 {
        forwarded += router.receive(PortIndex(0), &small, now).count();
        forwarded += router.receive(PortIndex(0), &large, now).count();
        // An ICMPv6 error (Time Exceeded) is built without allocating too.
        router.receive(PortIndex(0), &expired, now).count();
        router.poll(now).count();
    }
    COUNTING.with(|counting| counting.set(false));
    assert_eq!(forwarded, 2000);
    assert_eq!(
        ALLOCATIONS.with(Cell::get),
        0,
        "heap allocations while forwarding"
    );
}
