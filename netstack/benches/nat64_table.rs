//! Benchmark of the NAT64 BIB and session table (`netstack::translation::nat64::table`, RFC 6146 §3.1, §3.2) with one million sessions: lookup per packet both ways, session setup rate, bytes per session, and heap allocations on the established path.
//!
//! Run: `cargo bench -p netstack --bench nat64_table` (about half a minute).
//!
//! The table holds 1,000,000 established TCP sessions, each on its own
//! binding (the worst case for memory: one BIB entry per connection), from
//! 1,000 IPv6 hosts of 1,000 connections each, toward 250 remote servers.
//! Lookups go to sessions in a random order, so nearly every one misses the
//! CPU caches as a busy translator's would. Measured:
//! - `lookup_ipv6`, `lookup_ipv4`: find the session of a packet from the
//!   IPv6 side (protocol, X', x, Z, z) or the IPv4 side (protocol, T, t, Z, z);
//! - `lookup_and_refresh_ipv6`: the established fast path: find the session
//!   and reset its lifetime (RFC 6146 §3.5.2.2);
//! - `create_session`: a new session with a new binding in the full-sized
//!   table at 90 % occupancy (removals untimed).
//!
//! Besides criterion's output it prints the table's bytes per session,
//! the time to fill it, and the heap allocations counted during 100,000
//! established-path packets (expected: 0).

use std::alloc::System;
use std::hint::black_box;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};
use std::time::Duration as StdDuration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use netstack::translation::nat64::flow::Nat64Protocol;
use netstack::translation::nat64::table::{
    Nat64Table, Nat64TableLimits, SessionBinding, SessionId,
};
use netstack::translation::nat64::tcp_state::SessionClass;
use smoltcp::time::{Duration, Instant};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static ALLOCATOR: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const SESSIONS: usize = 1_000_000;
const PER_HOST: usize = 1_000;
const NOW: Instant = Instant::from_millis_const(1_000_000);
const LIFETIME: Duration = Duration::from_secs(7_440);

/// The i-th session's three transport addresses: (X', x), (T, t), (Z, z).
fn flow(index: usize) -> (SocketAddrV6, SocketAddrV4, SocketAddrV4) {
    let host = (index / PER_HOST) as u128;
    let ipv6 = SocketAddrV6::new(
        Ipv6Addr::from_bits(0x2001_0db8_0001_0000_0000_0000_0000_0000 | host),
        (20_000 + index % PER_HOST) as u16,
        0,
        0,
    );
    // 16 pool addresses × 62,500 ports.
    let ipv4 = SocketAddrV4::new(
        Ipv4Addr::new(192, 0, 2, (index / 62_500) as u8),
        (1_024 + index % 62_500) as u16,
    );
    let remote = SocketAddrV4::new(Ipv4Addr::new(198, 51, 100, (index % 250) as u8), 443);
    (ipv6, ipv4, remote)
}

/// A permutation of `0..length` from a seeded xorshift.
fn shuffled(length: usize, mut seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..length).collect();
    for position in (1..length).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        order.swap(position, (seed % (position as u64 + 1)) as usize);
    }
    order
}

fn create(table: &mut Nat64Table, index: usize) -> SessionId {
    let (ipv6, ipv4, remote) = flow(index);
    table
        .create_session(
            SessionBinding::New {
                protocol: Nat64Protocol::Tcp,
                ipv6,
                ipv4,
            },
            remote,
            4,
            SessionClass::Established,
            NOW + LIFETIME,
        )
        .expect("the session fits")
        .id
}

fn nat64_table(criterion: &mut Criterion) {
    let limits = Nat64TableLimits {
        sessions: SESSIONS,
        bindings: SESSIONS,
        sessions_per_source: PER_HOST,
        tick: Duration::from_secs(1),
    };
    let mut table = Nat64Table::new(limits, [0x5eed_0000_1234_5678, 0x0bad_cafe_f00d_d00d], NOW);
    let bytes = table.memory_bytes();
    let order = shuffled(SESSIONS, 0x9e37_79b9_7f4a_7c15);
    let started = std::time::Instant::now();
    for &index in &order {
        create(&mut table, index);
    }
    let fill = started.elapsed();
    assert_eq!(table.session_count(), SESSIONS);
    assert_eq!(table.memory_bytes(), bytes, "the table never grows");
    println!(
        "nat64_table: {} sessions, {} bindings: {:.1} MiB, {:.1} bytes per session; \
         filled in {:.2} s ({:.0} ns per new session and binding, {:.2} M/s)",
        SESSIONS,
        table.binding_count(),
        bytes as f64 / (1024.0 * 1024.0),
        bytes as f64 / SESSIONS as f64,
        fill.as_secs_f64(),
        fill.as_nanos() as f64 / SESSIONS as f64,
        SESSIONS as f64 / fill.as_secs_f64() / 1e6,
    );

    // The established path allocates nothing.
    let lookups = shuffled(SESSIONS, 0x0123_4567_89ab_cdef);
    let region = Region::new(ALLOCATOR);
    for &index in lookups.iter().take(100_000) {
        let (ipv6, ipv4, remote) = flow(index);
        let session = table
            .session_by_ipv6(Nat64Protocol::Tcp, ipv6, remote)
            .expect("session exists");
        table
            .update_session(session.id, 4, SessionClass::Established, NOW + LIFETIME)
            .expect("update");
        black_box(table.session_by_ipv4(Nat64Protocol::Tcp, ipv4, remote));
    }
    let change = region.change();
    println!(
        "nat64_table: heap allocations in 100000 established packets: {}",
        change.allocations + change.reallocations
    );
    assert_eq!(change.allocations + change.reallocations, 0);

    let keys: Vec<_> = lookups.iter().map(|&index| flow(index)).collect();
    let mut group = criterion.benchmark_group("nat64_table_1m");
    group.throughput(Throughput::Elements(1));
    let mut next = 0usize;
    group.bench_function("lookup_ipv6", |bencher| {
        bencher.iter(|| {
            let (ipv6, _, remote) = keys[next % SESSIONS];
            next = next.wrapping_add(1);
            black_box(table.session_by_ipv6(Nat64Protocol::Tcp, black_box(ipv6), remote))
        })
    });
    group.bench_function("lookup_ipv4", |bencher| {
        bencher.iter(|| {
            let (_, ipv4, remote) = keys[next % SESSIONS];
            next = next.wrapping_add(1);
            black_box(table.session_by_ipv4(Nat64Protocol::Tcp, black_box(ipv4), remote))
        })
    });
    group.bench_function("lookup_and_refresh_ipv6", |bencher| {
        bencher.iter(|| {
            let (ipv6, _, remote) = keys[next % SESSIONS];
            next = next.wrapping_add(1);
            if let Some(session) =
                table.session_by_ipv6(Nat64Protocol::Tcp, black_box(ipv6), remote)
            {
                let _ = table.update_session(
                    session.id,
                    session.state,
                    SessionClass::Established,
                    NOW + LIFETIME,
                );
            }
        })
    });

    // Setup rate at 90 % occupancy: remove a tenth (untimed), then time
    // creations back into the freed room.
    let tenth = &order[..SESSIONS / 10];
    for &index in tenth {
        let (ipv6, _, remote) = flow(index);
        let session = table
            .session_by_ipv6(Nat64Protocol::Tcp, ipv6, remote)
            .expect("session exists");
        table.remove_session(session.id).expect("remove");
    }
    let mut created: Vec<SessionId> = Vec::with_capacity(tenth.len());
    let mut cursor = 0usize;
    group.bench_function("create_session", |bencher| {
        bencher.iter_custom(|iterations| {
            let mut total = StdDuration::ZERO;
            let mut remaining = iterations as usize;
            while remaining > 0 {
                let batch = remaining.min(tenth.len() - cursor);
                let started = std::time::Instant::now();
                for &index in &tenth[cursor..cursor + batch] {
                    created.push(create(&mut table, index));
                }
                total += started.elapsed();
                cursor += batch;
                remaining -= batch;
                if cursor == tenth.len() {
                    // Untimed: make the room again.
                    for id in created.drain(..) {
                        table.remove_session(id).expect("remove");
                    }
                    cursor = 0;
                }
            }
            total
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(StdDuration::from_secs(1))
        .measurement_time(StdDuration::from_secs(3))
        .sample_size(20);
    targets = nat64_table
}
criterion_main!(benches);
