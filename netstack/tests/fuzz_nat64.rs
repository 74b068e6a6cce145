//! A stable-Rust fuzz run of stateful NAT64 (RFC 6146) through `Router::receive`: seeded sequences of valid and mutated IPv6 and IPv4 packets of live TCP, UDP and ICMP flows, with advancing virtual time and polls, checking that nothing panics and that every frame the router sends is well formed.
//!
//! Two routers (endpoint-independent and address-dependent filtering) with
//! small tables and short timeouts, so sessions fill the table, get evicted
//! and expire during the run. Each step picks one of: a packet from an
//! IPv6 host (UDP, TCP with random flags, ICMPv6 Echo, or an ICMPv6 error
//! quoting a packet of a flow), a packet from an IPv4 server to a pool4
//! port the router was seen using (or any port), or a jump of virtual
//! time and a poll, or a packet of either side cut into fragments sent in
//! a random order (RFC 6146 §3.4). A packet is mutated one time in two (bytes, lengths,
//! truncation, extension; the IPv4 header checksum repaired so mutations
//! get past it). Every frame sent must parse with etherparse (an
//! independent library), an IPv4 header checksum must be right, and a
//! transport checksum must be right whenever the input's was.
//!
//! `PURE6_FUZZ_ITERATIONS` sets the number of steps (default 40,000 in
//! total), `PURE6_FUZZ_SEED` the seed. A failing step prints the seed,
//! the step and the input bytes in hex before panicking.
#![cfg(feature = "legacy-ip")]

use std::net::{Ipv4Addr, Ipv6Addr};
use std::panic::{AssertUnwindSafe, catch_unwind};

use etherparse::{
    Icmpv4Type, Icmpv6Type, Ipv4HeaderSlice, Ipv6HeaderSlice, PacketBuilder, SlicedPacket, icmpv4,
    icmpv6,
};
use netstack::config;
use netstack::router::{NicInfo, PortIndex, Router};
use smoltcp::time::{Duration, Instant};

const LAN: PortIndex = PortIndex(0);
const UPLINK: PortIndex = PortIndex(1);
const ROUTER_MACS: [[u8; 6]; 2] = [[0x52, 0x54, 0, 0, 0, 0x10], [0x52, 0x54, 0, 0, 0, 0x11]];
const HOST_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0b];
const GATEWAY_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0xfe];

const CONFIG: &str = r#"
[icmp]
rate_limit_per_second = 100000
burst = 100000

[[port]]
name = "lan"
mtu = 1280
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
pool4 = [
  { prefix = "192.0.2.1", tcp = "1024-1279", udp = "1024-1279", icmp = "1-256" },
  { prefix = "198.18.0.0/30", tcp = "2000-2063", udp = "2000-2063", icmp = "1-64" },
]
filtering = "FILTERING"
allow_short_timeouts = true
udp_timeout_seconds = 10
icmp_timeout_seconds = 5
tcp_transitory_timeout_seconds = 20
tcp_established_timeout_seconds = 60
tcp_incoming_syn_seconds = 3
sessions = 128
bib_entries = 96
sessions_per_source = 48

[[nat64.static]]
protocol = "tcp"
ipv6 = "[2001:db8:1::c]:8080"
ipv4 = "192.0.2.1:1100"
"#;

const DEFAULT_ITERATIONS: u64 = 40_000;
const DEFAULT_SEED: u64 = 0x7075_7265_3600_0064;

/// xorshift64*.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }

    fn byte(&mut self) -> u8 {
        self.next() as u8
    }

    fn chance(&mut self, numerator: u64, denominator: u64) -> bool {
        self.next() % denominator < numerator
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

fn environment_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|value| {
            let value = value.trim();
            match value.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16).ok(),
                None => value.parse().ok(),
            }
        })
        .unwrap_or(default)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// `address` under pool6.
fn mapped(address: Ipv4Addr) -> Ipv6Addr {
    Ipv6Addr::from_bits(0x2001_0db8_0064_0000_0000_0000_0000_0000 | u128::from(address.to_bits()))
}

const HOSTS: [Ipv6Addr; 3] = [
    Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0xb),
    Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0xc),
    // No neighbor entry: answers to it wait for Neighbor Discovery.
    Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0xd),
];
const SERVERS: [Ipv4Addr; 3] = [
    Ipv4Addr::new(203, 0, 113, 80),
    Ipv4Addr::new(198, 51, 100, 7),
    Ipv4Addr::new(8, 8, 8, 8),
];
const POOL4: [Ipv4Addr; 5] = [
    Ipv4Addr::new(192, 0, 2, 1),
    Ipv4Addr::new(198, 18, 0, 0),
    Ipv4Addr::new(198, 18, 0, 1),
    Ipv4Addr::new(198, 18, 0, 2),
    Ipv4Addr::new(198, 18, 0, 3),
];

/// A (protocol, pool4 address, port or identifier, server, server port)
/// seen leaving on the uplink: the IPv4 side answers to these.
#[derive(Clone, Copy, Debug)]
struct Seen {
    protocol: u8,
    pool4: Ipv4Addr,
    port: u16,
    server: Ipv4Addr,
    server_port: u16,
}

fn tcp_flags(
    random: &mut Random,
    builder: etherparse::PacketBuilderStep<etherparse::TcpHeader>,
) -> etherparse::PacketBuilderStep<etherparse::TcpHeader> {
    let mut builder = builder;
    let flags = random.byte();
    if flags & 1 != 0 {
        builder = builder.syn();
    }
    if flags & 2 != 0 {
        builder = builder.ack(random.next() as u32);
    }
    if flags & 4 != 0 && random.chance(1, 4) {
        builder = builder.fin();
    }
    if flags & 8 != 0 && random.chance(1, 8) {
        builder = builder.rst();
    }
    builder
}

fn payload(random: &mut Random) -> Vec<u8> {
    let length = if random.chance(1, 16) {
        random.below(1400)
    } else {
        random.below(64)
    };
    (0..length).map(|_| random.byte()).collect()
}

/// A valid frame from an IPv6 host toward a server under pool6.
fn ipv6_packet(random: &mut Random, seen: &[Seen]) -> Vec<u8> {
    let host = random.pick(&HOSTS);
    let server = random.pick(&SERVERS);
    let port = 40_000 + random.below(12) as u16;
    let server_port = random.pick(&[53u16, 80, 443]);
    let data = payload(random);
    let ip = PacketBuilder::ethernet2(HOST_MAC, ROUTER_MACS[0]).ipv6(
        host.octets(),
        mapped(server).octets(),
        64,
    );
    let mut frame = Vec::new();
    match random.below(5) {
        0 | 1 => ip.udp(port, server_port).write(&mut frame, &data),
        2 => {
            let sequence = random.next() as u32;
            tcp_flags(random, ip.tcp(port, server_port, sequence, 65535)).write(&mut frame, &data)
        }
        3 => ip
            .icmpv6_echo_request(random.below(8) as u16, random.next() as u16)
            .write(&mut frame, &data),
        _ => {
            // An error about a packet the server sent (to a flow's port or not).
            let (protocol, server_port) = match seen.get(random.below(seen.len() + 1)) {
                Some(flow) => (flow.protocol, flow.server_port),
                None => (17, server_port),
            };
            let mut quoted = Vec::new();
            let inner = PacketBuilder::ipv6(mapped(server).octets(), host.octets(), 60);
            match protocol {
                6 => inner
                    .tcp(server_port, port, 1, 100)
                    .ack(1)
                    .write(&mut quoted, &data[..data.len().min(8)]),
                58 => inner
                    .icmpv6_echo_reply(random.below(8) as u16, 1)
                    .write(&mut quoted, &data[..data.len().min(8)]),
                _ => inner
                    .udp(server_port, port)
                    .write(&mut quoted, &data[..data.len().min(8)]),
            }
            .unwrap();
            let icmp_type = match random.below(3) {
                0 => Icmpv6Type::DestinationUnreachable(icmpv6::DestUnreachableCode::Port),
                1 => Icmpv6Type::PacketTooBig { mtu: 1280 },
                _ => Icmpv6Type::TimeExceeded(icmpv6::TimeExceededCode::HopLimitExceeded),
            };
            ip.icmpv6(icmp_type).write(&mut frame, &quoted)
        }
    }
    .unwrap();
    frame
}

/// A valid frame from an IPv4 server to pool4: to a flow the router was
/// seen opening, or anywhere.
fn ipv4_packet(random: &mut Random, seen: &[Seen]) -> Vec<u8> {
    let flow = match seen.get(random.below(seen.len() + seen.len() / 4 + 1)) {
        Some(flow) => *flow,
        None => Seen {
            protocol: random.pick(&[1u8, 6, 17]),
            pool4: random.pick(&POOL4),
            port: if random.chance(1, 4) {
                1100
            } else {
                1024 + random.below(1100) as u16
            },
            server: random.pick(&SERVERS),
            server_port: random.pick(&[53u16, 80, 443]),
        },
    };
    // Sometimes another server (filtering decides).
    let server = if random.chance(1, 8) {
        random.pick(&SERVERS)
    } else {
        flow.server
    };
    let data = payload(random);
    let ip = PacketBuilder::ethernet2(GATEWAY_MAC, ROUTER_MACS[1]).ipv4(
        server.octets(),
        flow.pool4.octets(),
        60,
    );
    let mut frame = Vec::new();
    match (random.below(5), flow.protocol) {
        (4, _) => {
            // An error quoting what pool4 sent.
            let mut quoted = Vec::new();
            let inner = PacketBuilder::ipv4(flow.pool4.octets(), server.octets(), 60);
            match flow.protocol {
                6 => inner
                    .tcp(flow.port, flow.server_port, 1, 100)
                    .syn()
                    .write(&mut quoted, &[]),
                1 => inner
                    .icmpv4_echo_request(flow.port, 1)
                    .write(&mut quoted, &data[..data.len().min(8)]),
                _ => inner
                    .udp(flow.port, flow.server_port)
                    .write(&mut quoted, &data[..data.len().min(8)]),
            }
            .unwrap();
            let icmp_type = match random.below(3) {
                0 => Icmpv4Type::DestinationUnreachable(icmpv4::DestUnreachableHeader::Port),
                1 => Icmpv4Type::DestinationUnreachable(
                    icmpv4::DestUnreachableHeader::FragmentationNeeded { next_hop_mtu: 1400 },
                ),
                _ => Icmpv4Type::TimeExceeded(icmpv4::TimeExceededCode::TtlExceededInTransit),
            };
            ip.icmpv4(icmp_type).write(&mut frame, &quoted)
        }
        (_, 6) => {
            let sequence = random.next() as u32;
            tcp_flags(random, ip.tcp(flow.server_port, flow.port, sequence, 65535))
                .write(&mut frame, &data)
        }
        (_, 1) => ip
            .icmpv4_echo_reply(flow.port, random.next() as u16)
            .write(&mut frame, &data),
        _ => ip.udp(flow.server_port, flow.port).write(&mut frame, &data),
    }
    .unwrap();
    frame
}

// ---------------------------------------------------------------- mutation

const ETHERNET: usize = 14;

fn repair_ipv4_checksum(frame: &mut [u8]) {
    let Some(packet) = frame.get_mut(ETHERNET..) else {
        return;
    };
    let Some(&first) = packet.first() else {
        return;
    };
    let length = usize::from(first & 0x0f) * 4;
    if first >> 4 != 4 || length < 20 || packet.len() < length {
        return;
    }
    packet[10..12].fill(0);
    let checksum = fold(sum_words(&packet[..length], 0));
    packet[10..12].copy_from_slice(&checksum.to_be_bytes());
}

/// The IP packet in `frame` (no IPv4 options or IPv6 extension headers,
/// as the generators build it) cut into fragments of a random size (a
/// multiple of 8), each in a copy of the Ethernet header; the packet
/// whole if it is too short to cut.
fn fragment(random: &mut Random, frame: &[u8], ipv4: bool) -> Vec<Vec<u8>> {
    let header = if ipv4 { 20 } else { 40 };
    let Some(data) = frame.get(ETHERNET + header..) else {
        return vec![frame.to_vec()];
    };
    if data.len() <= 8 {
        return vec![frame.to_vec()];
    }
    let chunk = 8 * (1 + random.below(data.len().div_ceil(8).min(8)));
    let identification = random.next() as u32;
    data.chunks(chunk)
        .enumerate()
        .map(|(index, piece)| {
            let offset = index * chunk;
            let more = offset + piece.len() < data.len();
            let mut out = frame[..ETHERNET + header].to_vec();
            if ipv4 {
                let ip = &mut out[ETHERNET..];
                ip[2..4].copy_from_slice(&((20 + piece.len()) as u16).to_be_bytes());
                ip[4..6].copy_from_slice(&(identification as u16).to_be_bytes());
                let word = (offset / 8) as u16 | if more { 0x2000 } else { 0 };
                ip[6..8].copy_from_slice(&word.to_be_bytes());
                out.extend_from_slice(piece);
                repair_ipv4_checksum(&mut out);
            } else {
                let next_header = out[ETHERNET + 6];
                out[ETHERNET + 4..ETHERNET + 6]
                    .copy_from_slice(&((8 + piece.len()) as u16).to_be_bytes());
                out[ETHERNET + 6] = 44;
                out.extend_from_slice(&[next_header, 0]);
                out.extend_from_slice(&((offset as u16) | u16::from(more)).to_be_bytes());
                out.extend_from_slice(&identification.to_be_bytes());
                out.extend_from_slice(piece);
            }
            out
        })
        .collect()
}

/// Mutates the IP packet after the Ethernet header (which stays).
fn mutate(random: &mut Random, frame: &mut Vec<u8>, ipv4: bool) {
    for _ in 0..1 + random.below(3) {
        let length = frame.len();
        match random.below(7) {
            0 | 1 if length > ETHERNET => {
                let at = ETHERNET + random.below(length - ETHERNET);
                frame[at] = random.byte();
            }
            2 if length > ETHERNET => {
                // A header byte: the first 64 bytes of the packet.
                let at = ETHERNET + random.below((length - ETHERNET).min(64));
                frame[at] ^= 1 << random.below(8);
            }
            3 if length > ETHERNET + 1 => {
                frame.truncate(ETHERNET + random.below(length - ETHERNET))
            }
            4 => frame.extend((0..random.below(32)).map(|_| random.byte())),
            5 => {
                // A length field: IPv4 total length or IPv6 payload length.
                let at = ETHERNET + if ipv4 { 2 } else { 4 };
                if frame.len() >= at + 2 {
                    let value = random.next() as u16;
                    frame[at..at + 2].copy_from_slice(&value.to_be_bytes());
                }
            }
            _ => {
                // The fragment field (IPv4) or the next header (IPv6).
                let at = ETHERNET + 6;
                if let Some(byte) = frame.get_mut(at) {
                    *byte = random.byte();
                }
            }
        }
    }
    if ipv4 && random.chance(3, 4) {
        repair_ipv4_checksum(frame);
    }
}

// ---------------------------------------------------------------- checks

fn sum_words(bytes: &[u8], mut sum: u32) -> u32 {
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

/// Whether the transport checksum of an IP packet (no Ethernet) verifies;
/// `None` when there is none to check (a fragment, an unknown protocol, a
/// packet cut short, an IPv4 UDP checksum of zero).
fn transport_checksum_verifies(packet: &[u8]) -> Option<bool> {
    match packet.first()? >> 4 {
        4 => {
            let header_length = usize::from(packet[0] & 0x0f) * 4;
            let total = usize::from(u16::from_be_bytes([*packet.get(2)?, *packet.get(3)?]));
            if header_length < 20 || total < header_length || packet.len() < total {
                return None;
            }
            let fragment = u16::from_be_bytes([packet[6], packet[7]]);
            if fragment & 0x3fff != 0 {
                return None;
            }
            let protocol = packet[9];
            let segment = &packet[header_length..total];
            let pseudo = sum_words(&packet[12..20], 0) + u32::from(protocol) + segment.len() as u32;
            match protocol {
                1 => Some(fold(sum_words(segment, 0)) == 0),
                6 => Some(fold(sum_words(segment, pseudo)) == 0),
                17 => {
                    if segment.len() < 8 || segment[6..8] == [0, 0] {
                        return None;
                    }
                    Some(fold(sum_words(segment, pseudo)) == 0)
                }
                _ => None,
            }
        }
        6 => {
            if packet.len() < 40 {
                return None;
            }
            let payload_length = usize::from(u16::from_be_bytes([packet[4], packet[5]]));
            if packet.len() < 40 + payload_length {
                return None;
            }
            let next_header = packet[6];
            if !matches!(next_header, 6 | 17 | 58) {
                return None;
            }
            let segment = &packet[40..40 + payload_length];
            let pseudo =
                sum_words(&packet[8..40], 0) + u32::from(next_header) + segment.len() as u32;
            Some(fold(sum_words(segment, pseudo)) == 0)
        }
        _ => None,
    }
}

/// Every frame the router sends: its IP header parsed by etherparse (the
/// whole packet when the input parsed whole: a translator copies a wrong
/// UDP length as it is), IPv4 header checksum right, length fields those
/// of the frame (IPv4 may be followed by zero padding), transport checksum
/// right if the input's was.
fn check_output(port: PortIndex, frame: &[u8], input_parses: bool, input_verified: bool) {
    assert!(frame.len() >= ETHERNET, "a frame shorter than Ethernet");
    if let (true, Err(error)) = (input_parses, SlicedPacket::from_ethernet(frame)) {
        panic!("output on {port:?} does not parse: {error:?}");
    }
    let packet = &frame[ETHERNET..];
    let ether_type = u16::from_be_bytes([frame[12], frame[13]]);
    match ether_type {
        0x0800 => {
            assert_eq!(port, UPLINK, "IPv4 only on the uplink");
            let header = Ipv4HeaderSlice::from_slice(packet).expect("an IPv4 header");
            let header_length = usize::from(header.ihl()) * 4;
            assert_eq!(
                fold(sum_words(&packet[..header_length], 0)),
                0,
                "IPv4 header checksum"
            );
            let total = usize::from(header.total_len());
            assert!(total <= packet.len(), "IPv4 Total Length beyond the frame");
            assert!(
                packet[total..].iter().all(|&byte| byte == 0),
                "bytes after Total Length that are not padding"
            );
        }
        0x86dd => {
            assert_eq!(port, LAN, "IPv6 only on the lan");
            let header = Ipv6HeaderSlice::from_slice(packet).expect("an IPv6 header");
            assert_eq!(
                40 + usize::from(header.payload_length()),
                packet.len(),
                "IPv6 Payload Length"
            );
        }
        0x0806 => return,
        other => panic!("EtherType {other:#06x}"),
    }
    if input_verified {
        assert_ne!(
            transport_checksum_verifies(packet),
            Some(false),
            "transport checksum of the output"
        );
    }
}

/// What the router sent on the uplink for NAT64: remembered so the IPv4
/// side can answer it.
fn learn(frame: &[u8], seen: &mut Vec<Seen>) {
    let Ok(sliced) = SlicedPacket::from_ethernet(frame) else {
        return;
    };
    let Some(etherparse::NetSlice::Ipv4(ipv4)) = &sliced.net else {
        return;
    };
    let header = ipv4.header();
    let pool4 = header.source_addr();
    if !POOL4.contains(&pool4) {
        return;
    }
    let server = header.destination_addr();
    let (protocol, port, server_port) = match &sliced.transport {
        Some(etherparse::TransportSlice::Udp(udp)) => {
            (17, udp.source_port(), udp.destination_port())
        }
        Some(etherparse::TransportSlice::Tcp(tcp)) => {
            (6, tcp.source_port(), tcp.destination_port())
        }
        Some(etherparse::TransportSlice::Icmpv4(icmp)) => match icmp.icmp_type() {
            Icmpv4Type::EchoRequest(echo) => (1, echo.id, 0),
            _ => return,
        },
        _ => return,
    };
    if seen.len() >= 64 {
        seen.remove(0);
    }
    seen.push(Seen {
        protocol,
        pool4,
        port,
        server,
        server_port,
    });
}

fn run(filtering: &str, target: u64, iterations: u64) {
    let base = environment_number("PURE6_FUZZ_SEED", DEFAULT_SEED);
    let mut random = Random((base ^ target.wrapping_mul(0x9e37_79b9_7f4a_7c15)) | 1);
    let text = CONFIG.replace("FILTERING", filtering);
    let config = config::parse(&text).expect("the fuzz config parses");
    let nics: Vec<NicInfo> = ROUTER_MACS.iter().map(|&mac| NicInfo { mac }).collect();
    let mut router = Router::with_seed(&config, &nics, base).unwrap();
    let mut now = Instant::from_secs(1);
    let mut seen: Vec<Seen> = Vec::new();
    let mut translated = 0u64;
    for iteration in 0..iterations {
        let choice = random.below(20);
        if choice == 0 {
            let longest = if random.chance(1, 4) { 70_000 } else { 3_000 };
            now += Duration::from_millis(random.below(longest) as u64);
            let sent: Vec<(PortIndex, Vec<u8>)> = router
                .poll(now)
                .map(|transmit| (transmit.port, transmit.frame.to_vec()))
                .collect();
            for (port, frame) in &sent {
                run_case(filtering, iteration, frame, || {
                    check_output(*port, frame, true, true)
                });
            }
            continue;
        }
        now += Duration::from_millis(random.below(20) as u64);
        if choice == 1 || choice == 2 {
            // A packet cut into fragments sent in a random order, one of
            // them mutated at times (RFC 6146 §3.4: held until the first).
            let ipv4 = choice == 2;
            let whole = if ipv4 {
                ipv4_packet(&mut random, &seen)
            } else {
                ipv6_packet(&mut random, &seen)
            };
            let mut fragments = fragment(&mut random, &whole, ipv4);
            for index in (1..fragments.len()).rev() {
                fragments.swap(index, random.below(index + 1));
            }
            if random.chance(1, 3) {
                let index = random.below(fragments.len());
                mutate(&mut random, &mut fragments[index], ipv4);
            }
            let port = if ipv4 { UPLINK } else { LAN };
            for frame in &fragments {
                let input_parses = SlicedPacket::from_ethernet(frame).is_ok();
                run_case(filtering, iteration, frame, || {
                    let sent: Vec<(PortIndex, Vec<u8>)> = router
                        .receive(port, frame, now)
                        .map(|transmit| (transmit.port, transmit.frame.to_vec()))
                        .collect();
                    for (out_port, out) in &sent {
                        check_output(*out_port, out, input_parses, false);
                        if *out_port != port {
                            translated += 1;
                        }
                    }
                });
            }
            continue;
        }
        let ipv4 = choice.is_multiple_of(2);
        let mut frame = if ipv4 {
            ipv4_packet(&mut random, &seen)
        } else {
            ipv6_packet(&mut random, &seen)
        };
        let mutated = random.chance(1, 2);
        if mutated {
            mutate(&mut random, &mut frame, ipv4);
        }
        let input_verified = !mutated
            || frame
                .get(ETHERNET..)
                .and_then(transport_checksum_verifies)
                .unwrap_or(false);
        let input_parses = SlicedPacket::from_ethernet(&frame).is_ok();
        let port = if ipv4 { UPLINK } else { LAN };
        let input = frame.clone();
        run_case(filtering, iteration, &input, || {
            let sent: Vec<(PortIndex, Vec<u8>)> = router
                .receive(port, &frame, now)
                .map(|transmit| (transmit.port, transmit.frame.to_vec()))
                .collect();
            for (out_port, out) in &sent {
                check_output(*out_port, out, input_parses, input_verified);
                if *out_port != port {
                    translated += 1;
                }
                if *out_port == UPLINK && !ipv4 {
                    learn(out, &mut seen);
                }
            }
        });
    }
    let sessions = router.nat64_session_count().unwrap();
    assert!(sessions <= 128, "{sessions} sessions in a table of 128");
    assert!(
        translated > iterations / 10,
        "{filtering}: only {translated} of {iterations} packets translated"
    );
    println!(
        "fuzz nat64 ({filtering}): {iterations} steps, {translated} translated, {sessions} sessions at the end"
    );
    let counter = |name: &str| {
        router
            .counters(UPLINK)
            .find(|(counter, _)| *counter == name)
            .map_or(0, |(_, value)| value)
    };
    // The fragment steps reach the store and its release (RFC 6146 §3.4).
    let (held, released) = (
        counter("nat64_fragment_held"),
        counter("nat64_fragment_released"),
    );
    println!("fuzz nat64 ({filtering}): {held} fragments held, {released} released");
    if iterations >= 10_000 {
        assert!(held > 0 && released > 0, "{held} held, {released} released");
    }
}

/// Runs `check`; on a panic, prints what reproduces it and fails.
fn run_case(target: &str, iteration: u64, input: &[u8], check: impl FnOnce()) {
    if let Err(panic) = catch_unwind(AssertUnwindSafe(check)) {
        let message = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|text| text.to_string()))
            .unwrap_or_default();
        panic!(
            "fuzz nat64 {target}: step {iteration} (seed {:#x}) failed: {message}\ninput ({} bytes): {}",
            environment_number("PURE6_FUZZ_SEED", DEFAULT_SEED),
            input.len(),
            hex(input)
        );
    }
}

fn iterations() -> u64 {
    environment_number("PURE6_FUZZ_ITERATIONS", DEFAULT_ITERATIONS) / 2
}

#[test]
fn fuzz_nat64_endpoint_independent() {
    run("endpoint-independent", 1, iterations());
}

#[test]
fn fuzz_nat64_address_dependent() {
    run("address-dependent", 2, iterations());
}
