//! Stateful NAT64 (RFC 6146) under attack, through the router's public API with virtual time and a fixed seed: each flood leaves an established TCP session working both ways, counts every drop under its name, and allocates nothing.
//!
//! The router has small NAT64 capacities (1,000 sessions and BIB entries,
//! 100 sessions per IPv6 source). Before each flood the host 2001:db8:1::b
//! opens a TCP connection to 203.0.113.80:80 and completes the handshake
//! (ESTABLISHED, never evicted). The flood's frames are built beforehand;
//! while they go through `Router::receive`, the established connection
//! sends a segment each way every 100 frames and the router's timers are
//! polled, all inside a `stats_alloc` region that must count no heap
//! allocation: every NAT64 table is allocated when the router is built, so
//! memory stays at its start-up size. Afterwards the named counters must
//! have grown by exactly the flood's size.
//!
//! The counting allocator sees every thread, so the tests take a lock and
//! run one at a time, and each waits for the allocator to fall quiet
//! before it measures ([`allocator_quiet`]): the harness's main thread
//! records the previous test's result and starts the next test's thread
//! while this one runs, which on a loaded machine fell inside a flood's
//! region (16 allocations, in about a third of the runs).
#![cfg(feature = "legacy-ip")]

use std::alloc::System;
use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::{Mutex, MutexGuard};

use etherparse::{Icmpv4Type, Icmpv6Type, PacketBuilder, icmpv4, icmpv6};
use netstack::config;
use netstack::router::{NicInfo, PortIndex, Router};
use smoltcp::time::Instant;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static ALLOCATOR: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// One test at a time (the allocation count is global).
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Waits (at most about two seconds) until no thread has allocated for
/// 5 ms: the harness's bookkeeping for the test before this one is done,
/// and the other tests wait on [`SERIAL`] without allocating. The
/// measurement itself stays exact; this only keeps other threads' work
/// out of it.
fn allocator_quiet() {
    for _ in 0..400 {
        let region = Region::new(ALLOCATOR);
        std::thread::sleep(std::time::Duration::from_millis(5));
        let change = region.change();
        if change.allocations + change.reallocations + change.deallocations == 0 {
            return;
        }
    }
}

const LAN: PortIndex = PortIndex(0);
const UPLINK: PortIndex = PortIndex(1);
const ROUTER_MACS: [[u8; 6]; 2] = [[0x52, 0x54, 0, 0, 0, 0x10], [0x52, 0x54, 0, 0, 0, 0x11]];
const HOST_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0b];
const GATEWAY_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0xfe];

/// The router of tests/router_nat64.rs with small capacities; `UDP_PORTS`
/// is replaced by pool4's UDP port range.
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

[translation]
pool6 = "2001:db8:64::/96"

[nat64]
pool4 = [{ prefix = "192.0.2.1", tcp = "1024-65535", udp = "UDP_PORTS", icmp = "1-65535" }]
sessions = 1000
bib_entries = 1000
sessions_per_source = 100
"#;

/// The table's capacity (sessions and BIB entries).
const CAPACITY: u64 = 1000;
const PER_SOURCE: u64 = 100;

const SERVER: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 80);
const POOL4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const HOST: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0xb);
const HOST_PORT: u16 = 40001;

/// `address` under pool6.
fn mapped(address: Ipv4Addr) -> Ipv6Addr {
    Ipv6Addr::from_bits(0x2001_0db8_0064_0000_0000_0000_0000_0000 | u128::from(address.to_bits()))
}

/// xorshift64*, seeded: the floods are the same every run.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn port(&mut self) -> u16 {
        self.next() as u16
    }

    /// A port in 1024..=65535 other than `avoid`.
    fn high_port(&mut self, avoid: u16) -> u16 {
        loop {
            let port = (self.next() % 64_512) as u16 + 1024;
            if port != avoid {
                return port;
            }
        }
    }

    /// A spoofed source on the lan's /64.
    fn lan_source(&mut self) -> Ipv6Addr {
        Ipv6Addr::from_bits((0x2001_0db8_0001_0000_u128 << 64) | u128::from(self.next() | 0x100))
    }

    /// An IPv4 address in 198.18.0.0/15 (nobody's in particular).
    fn ipv4(&mut self) -> Ipv4Addr {
        Ipv4Addr::from_bits(0xc612_0000 | (self.next() as u32 & 0x1_ffff))
    }
}

fn router(udp_ports: &str) -> Router {
    let text = CONFIG.replace("UDP_PORTS", udp_ports);
    let config = config::parse(&text).expect("the test config parses");
    let nics: Vec<NicInfo> = ROUTER_MACS.iter().map(|&mac| NicInfo { mac }).collect();
    Router::with_seed(&config, &nics, 23).unwrap()
}

/// A UDP frame from the lan to `destination` under pool6.
fn udp_from_lan(source: Ipv6Addr, port: u16, destination: Ipv4Addr) -> Vec<u8> {
    let mut frame = Vec::new();
    PacketBuilder::ethernet2(HOST_MAC, ROUTER_MACS[0])
        .ipv6(source.octets(), mapped(destination).octets(), 64)
        .udp(port, 53)
        .write(&mut frame, &[0x5a; 16])
        .unwrap();
    frame
}

/// A TCP SYN from the lan to `destination`:80 under pool6.
fn syn_from_lan(source: Ipv6Addr, port: u16, destination: Ipv4Addr) -> Vec<u8> {
    let mut frame = Vec::new();
    PacketBuilder::ethernet2(HOST_MAC, ROUTER_MACS[0])
        .ipv6(source.octets(), mapped(destination).octets(), 64)
        .tcp(port, 80, 1, 65535)
        .syn()
        .write(&mut frame, &[])
        .unwrap();
    frame
}

/// Appends the RFC 1071 sum of `bytes` to `sum`.
fn add_words(bytes: &[u8], mut sum: u32) -> u32 {
    for chunk in bytes.chunks(2) {
        sum += u32::from(u16::from_be_bytes([chunk[0], *chunk.get(1).unwrap_or(&0)]));
    }
    sum
}

fn fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An IPv4 fragment other than the first (offset in 8-byte units), UDP's
/// protocol number, `data` after the header.
fn ipv4_non_first_fragment(source: Ipv4Addr, offset: u16, more: bool, data: &[u8]) -> Vec<u8> {
    let mut frame = Vec::new();
    frame.extend_from_slice(&ROUTER_MACS[1]);
    frame.extend_from_slice(&GATEWAY_MAC);
    frame.extend_from_slice(&[0x08, 0x00]);
    let total = (20 + data.len()) as u16;
    let flags = offset | if more { 0x2000 } else { 0 };
    let mut header = [0u8; 20];
    header[0] = 0x45;
    header[2..4].copy_from_slice(&total.to_be_bytes());
    header[4..6].copy_from_slice(&0x4242u16.to_be_bytes());
    header[6..8].copy_from_slice(&flags.to_be_bytes());
    header[8] = 64;
    header[9] = 17;
    header[12..16].copy_from_slice(&source.octets());
    header[16..20].copy_from_slice(&POOL4.octets());
    let checksum = fold(add_words(&header, 0));
    header[10..12].copy_from_slice(&checksum.to_be_bytes());
    frame.extend_from_slice(&header);
    frame.extend_from_slice(data);
    frame
}

/// An IPv6 fragment other than the first (offset in 8-byte units) toward
/// `destination` under pool6, UDP's next header, `data` after the
/// Fragment header.
fn ipv6_non_first_fragment(
    source: Ipv6Addr,
    destination: Ipv4Addr,
    offset: u16,
    more: bool,
    data: &[u8],
) -> Vec<u8> {
    let mut frame = Vec::new();
    frame.extend_from_slice(&ROUTER_MACS[0]);
    frame.extend_from_slice(&HOST_MAC);
    frame.extend_from_slice(&[0x86, 0xdd]);
    frame.extend_from_slice(&[0x60, 0, 0, 0]);
    frame.extend_from_slice(&((8 + data.len()) as u16).to_be_bytes());
    frame.extend_from_slice(&[44, 64]);
    frame.extend_from_slice(&source.octets());
    frame.extend_from_slice(&mapped(destination).octets());
    let offset_field = (offset << 3) | u16::from(more);
    frame.extend_from_slice(&[17, 0]);
    frame.extend_from_slice(&offset_field.to_be_bytes());
    frame.extend_from_slice(&0x0bad_cafe_u32.to_be_bytes());
    frame.extend_from_slice(data);
    frame
}

// ------------------------------------------------------------ the session

/// The established connection's two segments: host → server and back.
struct Established {
    outbound: Vec<u8>,
    inbound: Vec<u8>,
    pool4_port: u16,
}

/// The source port of the one IPv4 frame `sent` holds (on the uplink).
fn ipv4_source_port(sent: &[(PortIndex, Vec<u8>)]) -> u16 {
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].0, UPLINK);
    let frame = &sent[0].1;
    let header_length = usize::from(frame[14] & 0x0f) * 4;
    u16::from_be_bytes([frame[14 + header_length], frame[14 + header_length + 1]])
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

/// SYN from the host, SYN+ACK from the server, ACK from the host: the
/// session is ESTABLISHED (RFC 6146 §3.5.2.2).
fn establish(router: &mut Router, now: Instant) -> Established {
    let sent = frames(router, LAN, &syn_from_lan(HOST, HOST_PORT, SERVER), now);
    let pool4_port = ipv4_source_port(&sent);
    let mut syn_ack = Vec::new();
    PacketBuilder::ethernet2(GATEWAY_MAC, ROUTER_MACS[1])
        .ipv4(SERVER.octets(), POOL4.octets(), 60)
        .tcp(80, pool4_port, 7, 65535)
        .syn()
        .ack(2)
        .write(&mut syn_ack, &[])
        .unwrap();
    let sent = frames(router, UPLINK, &syn_ack, now);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].0, LAN);
    let mut outbound = Vec::new();
    PacketBuilder::ethernet2(HOST_MAC, ROUTER_MACS[0])
        .ipv6(HOST.octets(), mapped(SERVER).octets(), 64)
        .tcp(HOST_PORT, 80, 2, 65535)
        .ack(8)
        .write(&mut outbound, b"GET / HTTP/1.1\r\n")
        .unwrap();
    let mut inbound = Vec::new();
    PacketBuilder::ethernet2(GATEWAY_MAC, ROUTER_MACS[1])
        .ipv4(SERVER.octets(), POOL4.octets(), 60)
        .tcp(80, pool4_port, 8, 65535)
        .ack(18)
        .write(&mut inbound, b"HTTP/1.1 200 OK\r\n")
        .unwrap();
    let established = Established {
        outbound,
        inbound,
        pool4_port,
    };
    assert_carries_traffic(router, &established, now);
    established
}

/// A segment each way goes through, to the right port, with the right
/// ports.
fn assert_carries_traffic(router: &mut Router, established: &Established, now: Instant) {
    let sent = frames(router, LAN, &established.outbound, now);
    assert_eq!(ipv4_source_port(&sent), established.pool4_port);
    let sent = frames(router, UPLINK, &established.inbound, now);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].0, LAN);
    let frame = &sent[0].1;
    // Ethernet, IPv6 (40), then the TCP destination port.
    assert_eq!(u16::from_be_bytes([frame[56], frame[57]]), HOST_PORT);
}

// ------------------------------------------------------------ the flood

/// What one flood did.
#[derive(Debug, Default)]
struct Outcome {
    /// Flood frames that went out on the uplink / the lan.
    to_uplink: u64,
    to_lan: u64,
    /// Established segments sent and the ones that came out where they should.
    established_sent: u64,
    established_delivered: u64,
    /// Heap allocations (and reallocations) during the flood.
    allocations: usize,
}

/// Every counter of both ports, by name (the first of a repeated name:
/// NAT64's drop counts come before its table events).
fn snapshot(router: &Router) -> HashMap<&'static str, u64> {
    let mut counters = HashMap::new();
    for port in [LAN, UPLINK] {
        for (name, value) in router.counters(port) {
            counters.entry(name).or_insert(value);
        }
    }
    counters
}

fn grew(
    before: &HashMap<&'static str, u64>,
    after: &HashMap<&'static str, u64>,
    name: &str,
) -> u64 {
    after.get(name).copied().unwrap_or(0) - before.get(name).copied().unwrap_or(0)
}

/// Sends `flood` one frame per virtual millisecond from `start`, with the
/// established connection's two segments and a poll every 100 frames.
fn run_flood(
    router: &mut Router,
    established: &Established,
    flood: &[(PortIndex, Vec<u8>)],
    start: Instant,
) -> Outcome {
    let mut outcome = Outcome::default();
    allocator_quiet();
    let region = Region::new(ALLOCATOR);
    for (index, (port, frame)) in flood.iter().enumerate() {
        let now = start + smoltcp::time::Duration::from_millis(index as u64);
        for transmit in router.receive(*port, frame, now) {
            if transmit.port == UPLINK {
                outcome.to_uplink += 1;
            } else if transmit.port == LAN {
                outcome.to_lan += 1;
            }
        }
        if index % 100 == 99 {
            outcome.established_sent += 2;
            outcome.established_delivered += router
                .receive(LAN, &established.outbound, now)
                .filter(|transmit| transmit.port == UPLINK)
                .count() as u64;
            outcome.established_delivered += router
                .receive(UPLINK, &established.inbound, now)
                .filter(|transmit| transmit.port == LAN)
                .count() as u64;
            router.poll(now).count();
        }
    }
    let change = region.change();
    outcome.allocations = change.allocations + change.reallocations;
    outcome
}

/// The common checks: no allocation, the established connection worked
/// all through the flood and still does.
fn assert_survived(
    router: &mut Router,
    established: &Established,
    outcome: &Outcome,
    end: Instant,
) {
    assert_eq!(
        outcome.allocations, 0,
        "heap allocations during the flood: {outcome:?}"
    );
    assert!(outcome.established_sent > 0);
    assert_eq!(
        outcome.established_delivered, outcome.established_sent,
        "the established connection during the flood: {outcome:?}"
    );
    assert_carries_traffic(router, established, end);
}

/// The counters that grew, for the test's output.
fn report(
    before: &HashMap<&'static str, u64>,
    after: &HashMap<&'static str, u64>,
    outcome: &Outcome,
) {
    let mut grown: Vec<(&str, u64)> = after
        .iter()
        .map(|(name, value)| (*name, value - before.get(name).copied().unwrap_or(0)))
        .filter(|(_, growth)| *growth > 0)
        .collect();
    grown.sort();
    println!("{outcome:?}\n{grown:?}");
}

/// `answers` ICMPv6 errors went to the lan for `refused` packets: every
/// one either answered or rate limited (100 a second, a burst of 100).
fn assert_rate_limited_answers(
    before: &HashMap<&'static str, u64>,
    after: &HashMap<&'static str, u64>,
    answers: u64,
    refused: u64,
) {
    let sent = grew(before, after, "icmp_destination_unreachable_sent");
    assert_eq!(answers, sent);
    assert_eq!(
        sent + grew(before, after, "icmp_error_rate_limited"),
        refused
    );
    assert!(
        sent <= 100 + 100 * 11,
        "{sent} errors in 10 virtual seconds"
    );
}

fn session_count(router: &Router) -> u64 {
    router.nat64_session_count().unwrap() as u64
}

const FLOOD_START: Instant = Instant::from_millis_const(1_000);
const FLOOD_END: Instant = Instant::from_millis_const(60_000);

// ------------------------------------------------------------ the attacks

#[test]
fn syn_flood_from_spoofed_ipv6_sources() {
    let _serial = serial();
    let mut router = router("1024-65535");
    let established = establish(&mut router, Instant::from_millis(0));
    let mut random = Random(0x5359_4e46_4c4f_4f44);
    let flood: Vec<(PortIndex, Vec<u8>)> = (0..10_000u32)
        .map(|_| {
            let source = random.lan_source();
            let port = random.port();
            (LAN, syn_from_lan(source, port, random.ipv4()))
        })
        .collect();
    let before = snapshot(&router);
    let outcome = run_flood(&mut router, &established, &flood, FLOOD_START);
    let after = snapshot(&router);
    report(&before, &after, &outcome);
    assert_survived(&mut router, &established, &outcome, FLOOD_END);
    // Every SYN opens a half-open session (V6 INIT) and goes out; once the
    // table is full each evicts the half-open session closest to expiry,
    // never the established one.
    assert_eq!(outcome.to_uplink, 10_000, "{outcome:?}");
    assert_eq!(grew(&before, &after, "nat64_tcp_sessions_created"), 10_000);
    assert_eq!(
        grew(&before, &after, "nat64_sessions_evicted"),
        10_000 - (CAPACITY - 1)
    );
    assert_eq!(session_count(&router), CAPACITY);
}

#[test]
fn udp_flood_of_new_flows() {
    let _serial = serial();
    let mut router = router("1024-65535");
    let established = establish(&mut router, Instant::from_millis(0));
    let mut random = Random(0x5544_5046_4c4f_4f44);

    // From one source: its first 100 flows, then refused (the per-source
    // limit).
    let source = random.lan_source();
    let flood: Vec<(PortIndex, Vec<u8>)> = (0..5_000u16)
        .map(|index| (LAN, udp_from_lan(source, 10_000 + index, SERVER)))
        .collect();
    let before = snapshot(&router);
    let outcome = run_flood(&mut router, &established, &flood, FLOOD_START);
    let after = snapshot(&router);
    report(&before, &after, &outcome);
    assert_survived(&mut router, &established, &outcome, FLOOD_END);
    assert_eq!(outcome.to_uplink, PER_SOURCE);
    assert_eq!(
        grew(&before, &after, "nat64_udp_sessions_created"),
        PER_SOURCE
    );
    assert_eq!(
        grew(&before, &after, "nat64_source_session_limit"),
        5_000 - PER_SOURCE
    );
    assert_rate_limited_answers(&before, &after, outcome.to_lan, 5_000 - PER_SOURCE);

    // From spoofed sources: every flow gets a session, evicting the UDP
    // session closest to expiry once the table is full; the TCP
    // connection stays.
    let flood: Vec<(PortIndex, Vec<u8>)> = (0..10_000u32)
        .map(|_| {
            let source = random.lan_source();
            let port = random.port();
            (LAN, udp_from_lan(source, port, random.ipv4()))
        })
        .collect();
    let sessions_before = session_count(&router);
    let before = snapshot(&router);
    let outcome = run_flood(&mut router, &established, &flood, FLOOD_END);
    let after = snapshot(&router);
    report(&before, &after, &outcome);
    assert_survived(&mut router, &established, &outcome, Instant::from_secs(120));
    assert_eq!(outcome.to_uplink, 10_000);
    assert_eq!(grew(&before, &after, "nat64_udp_sessions_created"), 10_000);
    assert_eq!(
        grew(&before, &after, "nat64_sessions_evicted"),
        10_000 - (CAPACITY - sessions_before)
    );
    assert_eq!(session_count(&router), CAPACITY);
}

#[test]
fn pool4_exhaustion() {
    let _serial = serial();
    // 64 UDP ports in pool4.
    let mut router = router("1024-1087");
    let established = establish(&mut router, Instant::from_millis(0));
    let mut random = Random(0x504f_4f4c_3445_5848);
    let flood: Vec<(PortIndex, Vec<u8>)> = (0..5_000)
        .map(|_| {
            let source = random.lan_source();
            let port = random.port();
            (LAN, udp_from_lan(source, port, random.ipv4()))
        })
        .collect();
    let before = snapshot(&router);
    let outcome = run_flood(&mut router, &established, &flood, FLOOD_START);
    let after = snapshot(&router);
    report(&before, &after, &outcome);
    assert_survived(&mut router, &established, &outcome, FLOOD_END);
    let translated = outcome.to_uplink;
    assert_eq!(translated, 64, "every pool4 port used once: {outcome:?}");
    assert_eq!(grew(&before, &after, "nat64_udp_sessions_created"), 64);
    assert_eq!(grew(&before, &after, "nat64_pool4_exhausted"), 5_000 - 64);
    assert_rate_limited_answers(&before, &after, outcome.to_lan, 5_000 - 64);
    assert_eq!(grew(&before, &after, "nat64_sessions_evicted"), 0);
}

#[test]
fn inbound_ipv4_flood_to_pool4_ports_without_session() {
    let _serial = serial();
    let mut router = router("1024-65535");
    let established = establish(&mut router, Instant::from_millis(0));
    let mut random = Random(0x4950_7634_464c_4f44);
    let flood: Vec<(PortIndex, Vec<u8>)> = (0..10_000u32)
        .map(|index| {
            let source = random.ipv4();
            let port = random.high_port(established.pool4_port);
            let ip = PacketBuilder::ethernet2(GATEWAY_MAC, ROUTER_MACS[1]).ipv4(
                source.octets(),
                POOL4.octets(),
                60,
            );
            let mut frame = Vec::new();
            match index % 3 {
                0 => ip.udp(random.port(), port).write(&mut frame, &[0x5a; 32]),
                1 => ip
                    .tcp(random.port(), port, random.next() as u32, 65535)
                    .syn()
                    .write(&mut frame, &[]),
                _ => ip
                    .tcp(random.port(), port, random.next() as u32, 65535)
                    .ack(random.next() as u32)
                    .write(&mut frame, &[0x5a; 32]),
            }
            .unwrap();
            (UPLINK, frame)
        })
        .collect();
    let before = snapshot(&router);
    let outcome = run_flood(&mut router, &established, &flood, FLOOD_START);
    let after = snapshot(&router);
    report(&before, &after, &outcome);
    assert_survived(&mut router, &established, &outcome, FLOOD_END);
    assert_eq!(outcome.to_lan, 0, "{outcome:?}");
    // The SYNs are held (RFC 6146 §3.5.2.2) while the store has room; the
    // rest, and every other packet, have no binding.
    let held = grew(&before, &after, "nat64_incoming_syn_held");
    assert!(held > 0);
    assert_eq!(
        grew(&before, &after, "nat64_no_binding")
            + held
            + grew(&before, &after, "nat64_held_syn_store_full"),
        10_000
    );
    // ICMPv4 errors back to the sources, within the rate limit.
    assert!(outcome.to_uplink <= 100 + 100 * 11, "{outcome:?}");
    assert_eq!(session_count(&router), 1);
}

/// RFC 6146 §3.5.2.2 / RFC 5382 REQ-4 under a SYN flood from IPv4: the
/// held-SYN store (64 here) never grows, SYNs beyond it are dropped and
/// counted, every held SYN expires after TCP_INCOMING_SYN into a
/// rate-limited ICMPv4 Port Unreachable, and nothing allocates.
#[test]
fn inbound_syn_flood_fills_the_held_syn_store_only() {
    let _serial = serial();
    let text = format!(
        "{}held_incoming_syns = 64\n",
        CONFIG.replace("UDP_PORTS", "1024-65535")
    );
    let config = config::parse(&text).expect("the test config parses");
    let nics: Vec<NicInfo> = ROUTER_MACS.iter().map(|&mac| NicInfo { mac }).collect();
    let mut router = Router::with_seed(&config, &nics, 23).unwrap();
    let established = establish(&mut router, Instant::from_millis(0));
    let mut random = Random(0x5359_4e34_464c_4f44);
    let flood: Vec<(PortIndex, Vec<u8>)> = (0..10_000u32)
        .map(|_| {
            let mut frame = Vec::new();
            PacketBuilder::ethernet2(GATEWAY_MAC, ROUTER_MACS[1])
                .ipv4(random.ipv4().octets(), POOL4.octets(), 60)
                .tcp(
                    random.port(),
                    random.high_port(established.pool4_port),
                    1,
                    65535,
                )
                .syn()
                .write(&mut frame, &[])
                .unwrap();
            (UPLINK, frame)
        })
        .collect();
    let uplink_counter = |router: &Router, name: &str| {
        router
            .counters(UPLINK)
            .find(|(counter, _)| *counter == name)
            .map_or(0, |(_, value)| value)
    };
    let sent_before = uplink_counter(&router, "icmp_destination_unreachable_sent");
    let limited_before = uplink_counter(&router, "icmp_error_rate_limited");
    let before = snapshot(&router);
    let outcome = run_flood(&mut router, &established, &flood, FLOOD_START);
    // Every held SYN runs out by then; a poll answers what its transmit
    // area holds, the next one the rest.
    let mut answered = 0;
    for _ in 0..4 {
        answered += router
            .poll(FLOOD_END)
            .filter(|transmit| transmit.port == UPLINK)
            .count() as u64;
    }
    let after = snapshot(&router);
    report(&before, &after, &outcome);
    assert_survived(&mut router, &established, &outcome, FLOOD_END);
    assert_eq!(outcome.to_lan, 0, "{outcome:?}");
    let held = grew(&before, &after, "nat64_incoming_syn_held");
    // The flood lasts 10 s: the store fills, empties after 6 s, fills again.
    assert!((64..=2 * 64).contains(&held), "{held}");
    assert_eq!(
        held + grew(&before, &after, "nat64_held_syn_store_full"),
        10_000
    );
    assert_eq!(grew(&before, &after, "nat64_incoming_syn_expired"), held);
    // The store-full drops are silent (RFC 5382 REQ-4, REQ-4a): nothing
    // answers a SYN as it arrives. Each expired SYN is answered with 3/3
    // by a poll (here all: they stay within the rate limit).
    assert_eq!(outcome.to_uplink, 0, "{outcome:?}");
    assert_eq!(
        grew(&before, &after, "translation_nat64_silent"),
        10_000 - held
    );
    assert!(answered > 0);
    let sent = uplink_counter(&router, "icmp_destination_unreachable_sent") - sent_before;
    assert_eq!(
        sent + uplink_counter(&router, "icmp_error_rate_limited") - limited_before,
        held
    );
    assert_eq!(session_count(&router), 1);
}

#[test]
fn icmp_errors_citing_no_known_session() {
    let _serial = serial();
    let mut router = router("1024-65535");
    let established = establish(&mut router, Instant::from_millis(0));
    let mut random = Random(0x4943_4d50_4552_5253);
    let flood: Vec<(PortIndex, Vec<u8>)> = (0..10_000u32)
        .map(|index| {
            let server = random.ipv4();
            let port = random.high_port(established.pool4_port);
            let mut frame = Vec::new();
            if index.is_multiple_of(2) {
                // An IPv4 router or server refusing a packet pool4 never sent.
                let mut quoted = Vec::new();
                let inner = PacketBuilder::ipv4(POOL4.octets(), server.octets(), 60);
                if index % 4 == 0 {
                    inner.udp(port, 53).write(&mut quoted, &[0x5a; 8]).unwrap();
                } else {
                    inner
                        .tcp(port, 80, 1, 65535)
                        .syn()
                        .write(&mut quoted, &[])
                        .unwrap();
                }
                let icmp_type = if index % 8 < 4 {
                    Icmpv4Type::DestinationUnreachable(icmpv4::DestUnreachableHeader::Port)
                } else {
                    Icmpv4Type::TimeExceeded(icmpv4::TimeExceededCode::TtlExceededInTransit)
                };
                PacketBuilder::ethernet2(GATEWAY_MAC, ROUTER_MACS[1])
                    .ipv4(random.ipv4().octets(), POOL4.octets(), 60)
                    .icmpv4(icmp_type)
                    .write(&mut frame, &quoted)
                    .unwrap();
                (UPLINK, frame)
            } else {
                // A (spoofed) IPv6 host refusing a packet it never got.
                let source = random.lan_source();
                let mut quoted = Vec::new();
                PacketBuilder::ipv6(mapped(server).octets(), source.octets(), 60)
                    .udp(53, port)
                    .write(&mut quoted, &[0x5a; 8])
                    .unwrap();
                PacketBuilder::ethernet2(HOST_MAC, ROUTER_MACS[0])
                    .ipv6(source.octets(), mapped(server).octets(), 64)
                    .icmpv6(Icmpv6Type::DestinationUnreachable(
                        icmpv6::DestUnreachableCode::Port,
                    ))
                    .write(&mut frame, &quoted)
                    .unwrap();
                (LAN, frame)
            }
        })
        .collect();
    let before = snapshot(&router);
    let outcome = run_flood(&mut router, &established, &flood, FLOOD_START);
    let after = snapshot(&router);
    report(&before, &after, &outcome);
    assert_survived(&mut router, &established, &outcome, FLOOD_END);
    assert_eq!(outcome.to_lan, 0, "{outcome:?}");
    assert_eq!(outcome.to_uplink, 0, "{outcome:?}");
    assert_eq!(
        grew(&before, &after, "nat64_icmp_error_without_session"),
        10_000
    );
    assert_eq!(session_count(&router), 1);
}

#[test]
fn fragments_that_never_complete() {
    let _serial = serial();
    let mut router = router("1024-65535");
    let established = establish(&mut router, Instant::from_millis(0));
    let mut random = Random(0x4652_4147_4d45_4e54);
    let flood: Vec<(PortIndex, Vec<u8>)> = (0..10_000u32)
        .map(|index| {
            let offset = (random.next() % 8000) as u16 + 1;
            let more = random.next().is_multiple_of(2);
            if index.is_multiple_of(2) {
                let source = random.ipv4();
                (
                    UPLINK,
                    ipv4_non_first_fragment(source, offset, more, &[0x5a; 64]),
                )
            } else {
                let source = random.lan_source();
                (
                    LAN,
                    ipv6_non_first_fragment(source, random.ipv4(), offset, more, &[0x5a; 64]),
                )
            }
        })
        .collect();
    let before = snapshot(&router);
    let outcome = run_flood(&mut router, &established, &flood, FLOOD_START);
    // Every held fragment has timed out by then (FRAGMENT_MIN, 2 s).
    router.poll(FLOOD_END).count();
    let after = snapshot(&router);
    report(&before, &after, &outcome);
    assert_survived(&mut router, &established, &outcome, FLOOD_END);
    // RFC 6146 §3.4: each fragment waits for its first while the store (256
    // fragments, allocated at start) has room; the rest are dropped, counted.
    let held = grew(&before, &after, "nat64_fragment_held");
    let full = grew(&before, &after, "nat64_fragment_store_full");
    assert!(held >= 256, "{held}");
    assert_eq!(
        held + full + grew(&before, &after, "nat64_fragment_overlap"),
        10_000
    );
    assert_eq!(grew(&before, &after, "nat64_fragment_timeout"), held);
    assert_eq!(grew(&before, &after, "nat64_fragment_released"), 0);
    // Held fragments are not answered; the IPv6 ones with no room are
    // answered with Destination Unreachable, within the ICMP rate limit;
    // the IPv4 ones silently (RFC 1812 §4.3.2.7: not about a non-first
    // fragment).
    let sent = grew(&before, &after, "icmp_destination_unreachable_sent");
    assert_eq!(sent, outcome.to_lan);
    assert!(sent + grew(&before, &after, "icmp_error_rate_limited") <= full);
    assert_eq!(outcome.to_uplink, 0, "{outcome:?}");
    assert_eq!(session_count(&router), 1);

    // Afterwards the store is empty again: out-of-order datagrams of the
    // established connection go through both ways (held, then released
    // after their first fragment), without allocating.
    let mut inbound = Vec::new();
    PacketBuilder::ethernet2(GATEWAY_MAC, ROUTER_MACS[1])
        .ipv4(SERVER.octets(), POOL4.octets(), 60)
        .tcp(80, established.pool4_port, 9, 65535)
        .ack(18)
        .write(&mut inbound, &[0x33; 1200])
        .unwrap();
    let mut outbound = Vec::new();
    PacketBuilder::ethernet2(HOST_MAC, ROUTER_MACS[0])
        .ipv6(HOST.octets(), mapped(SERVER).octets(), 64)
        .tcp(HOST_PORT, 80, 18, 65535)
        .ack(9)
        .write(&mut outbound, &[0x44; 1200])
        .unwrap();
    let inbound = split_ipv4(&inbound, 504);
    let outbound = split_ipv6(&outbound, 504);
    let now = FLOOD_END;
    allocator_quiet();
    let region = Region::new(ALLOCATOR);
    let mut to_lan = 0;
    for fragment in inbound.iter().rev() {
        to_lan += router
            .receive(UPLINK, fragment, now)
            .filter(|transmit| transmit.port == LAN)
            .count();
    }
    let mut to_uplink = 0;
    for fragment in outbound.iter().rev() {
        to_uplink += router
            .receive(LAN, fragment, now)
            .filter(|transmit| transmit.port == UPLINK)
            .count();
    }
    let change = region.change();
    assert_eq!(change.allocations + change.reallocations, 0);
    assert_eq!((to_lan, to_uplink), (3, 3));
}

/// The IPv4 packet in the Ethernet `frame` cut into fragments of `chunk`
/// data bytes (a multiple of 8), each in a copy of the frame's Ethernet
/// header.
fn split_ipv4(frame: &[u8], chunk: usize) -> Vec<Vec<u8>> {
    let data = &frame[34..];
    data.chunks(chunk)
        .enumerate()
        .map(|(index, piece)| {
            let offset = index * chunk;
            let more = offset + piece.len() < data.len();
            let mut header = [0u8; 20];
            header.copy_from_slice(&frame[14..34]);
            header[2..4].copy_from_slice(&((20 + piece.len()) as u16).to_be_bytes());
            header[4..6].copy_from_slice(&0x7777u16.to_be_bytes());
            let word = (offset / 8) as u16 | if more { 0x2000 } else { 0 };
            header[6..8].copy_from_slice(&word.to_be_bytes());
            header[10..12].fill(0);
            let checksum = fold(add_words(&header, 0));
            header[10..12].copy_from_slice(&checksum.to_be_bytes());
            let mut fragment = frame[..14].to_vec();
            fragment.extend_from_slice(&header);
            fragment.extend_from_slice(piece);
            fragment
        })
        .collect()
}

/// The IPv6 packet in the Ethernet `frame` (no extension header) cut into
/// fragments of `chunk` data bytes (a multiple of 8) with a Fragment
/// header.
fn split_ipv6(frame: &[u8], chunk: usize) -> Vec<Vec<u8>> {
    let next_header = frame[20];
    let data = &frame[54..];
    data.chunks(chunk)
        .enumerate()
        .map(|(index, piece)| {
            let offset = index * chunk;
            let more = offset + piece.len() < data.len();
            let mut fragment = frame[..54].to_vec();
            fragment[18..20].copy_from_slice(&((8 + piece.len()) as u16).to_be_bytes());
            fragment[20] = 44;
            fragment.extend_from_slice(&[next_header, 0]);
            fragment.extend_from_slice(&((offset as u16) | u16::from(more)).to_be_bytes());
            fragment.extend_from_slice(&0x0077_7777_u32.to_be_bytes());
            fragment.extend_from_slice(piece);
            fragment
        })
        .collect()
}
