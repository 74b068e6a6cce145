//! A stable-Rust fuzz run of the SIIT translator: seeded, deterministic mutations of valid packets through both translation directions, both fragmenters and a whole `Router::receive`, checking that nothing panics and that every accepted packet comes out well formed.
//!
//! Valid packets of every kind the translator handles are built with
//! etherparse (an independent library); each iteration picks one, mutates it
//! (bytes, length fields, truncation, extension, header checksum repair so
//! that mutations reach past header validation) and runs it through the
//! code under test. `PURE6_FUZZ_ITERATIONS` sets the number of iterations
//! (default 50,000 in total), `PURE6_FUZZ_SEED` the seed; see
//! docs/conformance.md "Fuzzing". A failing iteration prints the seed, the
//! iteration and the input bytes in hex before panicking.
#![cfg(feature = "legacy-ip")]

use std::net::{Ipv4Addr, Ipv6Addr};
use std::panic::{AssertUnwindSafe, catch_unwind};

use etherparse::{
    Icmpv4Type, Icmpv6Type, IpHeaders, IpNumber, Ipv4Extensions, Ipv4Header, Ipv4HeaderSlice,
    Ipv6HeaderSlice, PacketBuilder, icmpv4, icmpv6,
};
use netstack::config;
use netstack::router::{NicInfo, PortIndex, Router};
use netstack::translation::TranslationSettings;
use netstack::translation::stateless::{
    Fragmentation, Ipv4ToIpv6Path, Ipv6ToIpv4Path, Translated, fragment_ipv4, fragment_ipv6,
    translate_ipv4_to_ipv6, translate_ipv6_to_ipv4,
};
use netstack::translation::stateless_addresses::StatelessAddresses;
use smoltcp::time::Instant;

const LAN: PortIndex = PortIndex(0);
const UPLINK: PortIndex = PortIndex(1);
const ROUTER_MACS: [[u8; 6]; 2] = [[0x52, 0x54, 0, 0, 0, 0x10], [0x52, 0x54, 0, 0, 0, 0x11]];
const HOST_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0a];
const GATEWAY_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0xfe];

/// The configuration of tests/router_translation.rs with an RFC 6791 pool
/// and a second, prefix-sized explicit address mapping.
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

[[neighbor]]
port = "lan"
address = "2001:db8:1::a"
mac = "02:00:00:00:00:0a"

[translation]
pool6 = "2001:db8:64::/96"
icmp_error_pool = ["198.51.100.200/30"]

[[translation.eam]]
ipv4 = "198.51.100.10/32"
ipv6 = "2001:db8:1::a/128"

[[translation.eam]]
ipv4 = "198.51.100.16/28"
ipv6 = "2001:db8:1::100/124"
"#;

/// Iterations when `PURE6_FUZZ_ITERATIONS` is not set: the whole run,
/// shared out between the five targets.
const DEFAULT_ITERATIONS: u64 = 50_000;

/// The seed when `PURE6_FUZZ_SEED` is not set.
const DEFAULT_SEED: u64 = 0x7075_7265_3600_0001;

/// The IPv4 server on the uplink side, and the IPv6 host's EAM face.
const SERVER: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 80);
const HOST_IPV4: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 10);

fn host() -> Ipv6Addr {
    "2001:db8:1::a".parse().unwrap()
}

/// An IPv6 router on the LAN without an IPv4 mapping (RFC 6791 case).
fn unmapped_router() -> Ipv6Addr {
    "2001:db8:1::1".parse().unwrap()
}

/// `server` under pool6.
fn mapped(server: Ipv4Addr) -> Ipv6Addr {
    let mut octets = [0u8; 16];
    octets[..6].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0x64]);
    octets[12..].copy_from_slice(&server.octets());
    Ipv6Addr::from(octets)
}

/// xorshift64*: small, deterministic, good enough to pick mutations.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A value in `0..bound` (`bound` > 0).
    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }

    fn byte(&mut self) -> u8 {
        self.next() as u8
    }

    fn chance(&mut self, numerator: u64, denominator: u64) -> bool {
        self.next() % denominator < numerator
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

fn iterations() -> u64 {
    environment_number("PURE6_FUZZ_ITERATIONS", DEFAULT_ITERATIONS)
}

/// The seed of one target: the run's seed mixed with the target's number,
/// never zero (xorshift would stay at zero).
fn seed(target: u64) -> u64 {
    let base = environment_number("PURE6_FUZZ_SEED", DEFAULT_SEED);
    (base ^ target.wrapping_mul(0x9e37_79b9_7f4a_7c15)) | 1
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Runs `check` on `input`; on a panic, prints what reproduces it and
/// fails the test.
fn run_case(target: &str, iteration: u64, input: &[u8], check: impl FnOnce()) {
    if let Err(panic) = catch_unwind(AssertUnwindSafe(check)) {
        let message = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|text| text.to_string()))
            .unwrap_or_default();
        panic!(
            "fuzz {target}: iteration {iteration} (seed {:#x}) failed: {message}\ninput ({} bytes): {}",
            environment_number("PURE6_FUZZ_SEED", DEFAULT_SEED),
            input.len(),
            hex(input)
        );
    }
}

// ------------------------------------------------------------ valid packets

fn ipv4_headers(
    source: Ipv4Addr,
    destination: Ipv4Addr,
    protocol: IpNumber,
    identification: u16,
    dont_fragment: bool,
) -> IpHeaders {
    let mut header =
        Ipv4Header::new(0, 64, protocol, source.octets(), destination.octets()).unwrap();
    header.identification = identification;
    header.dont_fragment = dont_fragment;
    IpHeaders::Ipv4(header, Ipv4Extensions::default())
}

fn payload(random: &mut Random, maximum: usize) -> Vec<u8> {
    let length = random.below(maximum + 1);
    (0..length).map(|_| random.byte()).collect()
}

fn udp4(source: Ipv4Addr, destination: Ipv4Addr, dont_fragment: bool, data: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::new();
    PacketBuilder::ip(ipv4_headers(
        source,
        destination,
        IpNumber::UDP,
        0x1234,
        dont_fragment,
    ))
    .udp(53, 40000)
    .write(&mut bytes, data)
    .unwrap();
    bytes
}

fn tcp4(source: Ipv4Addr, destination: Ipv4Addr, data: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::new();
    PacketBuilder::ip(ipv4_headers(source, destination, IpNumber::TCP, 7, true))
        .tcp(443, 40001, 1000, 64000)
        .write(&mut bytes, data)
        .unwrap();
    bytes
}

fn icmpv4(source: Ipv4Addr, destination: Ipv4Addr, icmp_type: Icmpv4Type, data: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::new();
    PacketBuilder::ip(ipv4_headers(source, destination, IpNumber::ICMP, 9, false))
        .icmpv4(icmp_type)
        .write(&mut bytes, data)
        .unwrap();
    bytes
}

/// An IPv4 fragment built by hand: `data` at byte `offset` (a multiple of 8).
fn ipv4_fragment(data: &[u8], offset: u16, more_fragments: bool) -> Vec<u8> {
    let mut header = Ipv4Header::new(
        data.len() as u16,
        64,
        IpNumber::UDP,
        SERVER.octets(),
        HOST_IPV4.octets(),
    )
    .unwrap();
    header.identification = 0x4242;
    header.more_fragments = more_fragments;
    header.fragment_offset = etherparse::IpFragOffset::try_new(offset / 8).unwrap();
    header.header_checksum = header.calc_header_checksum();
    let mut bytes = header.to_bytes().to_vec();
    bytes.extend_from_slice(data);
    bytes
}

fn udp6(source: Ipv6Addr, destination: Ipv6Addr, data: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::new();
    PacketBuilder::ipv6(source.octets(), destination.octets(), 64)
        .udp(40000, 53)
        .write(&mut bytes, data)
        .unwrap();
    bytes
}

fn tcp6(source: Ipv6Addr, destination: Ipv6Addr, data: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::new();
    PacketBuilder::ipv6(source.octets(), destination.octets(), 64)
        .tcp(40001, 443, 1000, 64000)
        .write(&mut bytes, data)
        .unwrap();
    bytes
}

fn icmpv6(source: Ipv6Addr, destination: Ipv6Addr, icmp_type: Icmpv6Type, data: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::new();
    PacketBuilder::ipv6(source.octets(), destination.octets(), 64)
        .icmpv6(icmp_type)
        .write(&mut bytes, data)
        .unwrap();
    bytes
}

/// `packet` (IPv6) with the raw extension header chain `extensions`
/// inserted; `first` is its type, the chain's last Next Header must
/// already name the upper layer.
fn with_extensions(packet: &[u8], first: u8, extensions: &[u8]) -> Vec<u8> {
    let mut bytes = packet[..40].to_vec();
    let payload_length = u16::from_be_bytes([bytes[4], bytes[5]]) + extensions.len() as u16;
    bytes[4..6].copy_from_slice(&payload_length.to_be_bytes());
    bytes[6] = first;
    bytes.extend_from_slice(extensions);
    bytes.extend_from_slice(&packet[40..]);
    bytes
}

/// A valid IPv4 packet toward the IPv6 side, of a randomly chosen kind.
fn valid_ipv4(random: &mut Random) -> Vec<u8> {
    let small = payload(random, 64);
    match random.below(12) {
        0 => udp4(SERVER, HOST_IPV4, true, &small),
        1 => udp4(SERVER, HOST_IPV4, false, &payload(random, 3000)),
        2 => tcp4(SERVER, HOST_IPV4, &payload(random, 1600)),
        3 => icmpv4(
            SERVER,
            HOST_IPV4,
            Icmpv4Type::EchoRequest(etherparse::IcmpEchoHeader { id: 1, seq: 2 }),
            &small,
        ),
        4 => icmpv4(
            SERVER,
            HOST_IPV4,
            Icmpv4Type::EchoReply(etherparse::IcmpEchoHeader { id: 3, seq: 4 }),
            &small,
        ),
        5 => {
            // An error about a packet the IPv6 host sent (translated).
            let quoted = udp4(HOST_IPV4, SERVER, false, &small);
            let error = match random.below(4) {
                0 => Icmpv4Type::DestinationUnreachable(icmpv4::DestUnreachableHeader::Port),
                1 => Icmpv4Type::DestinationUnreachable(
                    icmpv4::DestUnreachableHeader::FragmentationNeeded {
                        next_hop_mtu: random.next() as u16,
                    },
                ),
                2 => Icmpv4Type::TimeExceeded(icmpv4::TimeExceededCode::TtlExceededInTransit),
                _ => Icmpv4Type::ParameterProblem(
                    icmpv4::ParameterProblemHeader::PointerIndicatesError(random.byte() % 24),
                ),
            };
            icmpv4(Ipv4Addr::new(203, 0, 113, 1), HOST_IPV4, error, &quoted)
        }
        6 => {
            // An error quoting an echo request.
            let quoted = icmpv4(
                HOST_IPV4,
                SERVER,
                Icmpv4Type::EchoRequest(etherparse::IcmpEchoHeader { id: 5, seq: 6 }),
                &small,
            );
            icmpv4(
                Ipv4Addr::new(203, 0, 113, 1),
                HOST_IPV4,
                Icmpv4Type::TimeExceeded(icmpv4::TimeExceededCode::TtlExceededInTransit),
                &quoted,
            )
        }
        7 => ipv4_fragment(&payload(random, 64), 0, true),
        8 => {
            let offset = (random.below(200) * 8) as u16;
            ipv4_fragment(&payload(random, 1500), offset, random.chance(1, 2))
        }
        9 => {
            // Options: record route, or a loose source route.
            let mut bytes = udp4(SERVER, HOST_IPV4, false, &small);
            let option: [u8; 8] = if random.chance(1, 2) {
                [7, 7, 4, 0, 0, 0, 0, 0]
            } else {
                [131, 7, 4, 10, 0, 0, 1, 0]
            };
            bytes.splice(20..20, option);
            bytes[0] = 0x47;
            let total = bytes.len() as u16;
            bytes[2..4].copy_from_slice(&total.to_be_bytes());
            repair_ipv4_checksum(&mut bytes);
            bytes
        }
        10 => {
            let mut bytes = udp4(SERVER, HOST_IPV4, false, &small);
            bytes[26] = 0;
            bytes[27] = 0;
            bytes
        }
        _ => udp4(SERVER, Ipv4Addr::new(198, 51, 100, 17), false, &small),
    }
}

/// A valid IPv6 packet toward the IPv4 side, of a randomly chosen kind.
fn valid_ipv6(random: &mut Random) -> Vec<u8> {
    let small = payload(random, 64);
    let server = mapped(SERVER);
    match random.below(11) {
        0 => udp6(host(), server, &small),
        1 => udp6(host(), server, &payload(random, 1400)),
        2 => tcp6(host(), server, &payload(random, 1400)),
        3 => icmpv6(
            host(),
            server,
            Icmpv6Type::EchoRequest(etherparse::IcmpEchoHeader { id: 1, seq: 2 }),
            &small,
        ),
        4 => {
            // An error about a packet the IPv4 server sent (translated).
            let quoted = udp6(server, host(), &small);
            let error = match random.below(4) {
                0 => Icmpv6Type::DestinationUnreachable(icmpv6::DestUnreachableCode::Port),
                1 => Icmpv6Type::PacketTooBig {
                    mtu: random.next() as u32,
                },
                2 => Icmpv6Type::TimeExceeded(icmpv6::TimeExceededCode::HopLimitExceeded),
                _ => Icmpv6Type::ParameterProblem(icmpv6::ParameterProblemHeader {
                    code: icmpv6::ParameterProblemCode::ErroneousHeaderField,
                    pointer: u32::from(random.byte() % 48),
                }),
            };
            let source = if random.chance(1, 2) {
                host()
            } else {
                unmapped_router()
            };
            icmpv6(source, server, error, &quoted)
        }
        5 => with_extensions(
            &udp6(host(), server, &small),
            0,
            &[
                60, 0, 1, 4, 0, 0, 0, 0, // Hop-by-Hop → Destination Options
                43, 0, 1, 4, 0, 0, 0, 0, // Destination Options → Routing
                17, 0, 4, 0, 0, 0, 0, 0, // Routing, Segments Left 0 → UDP
            ],
        ),
        6 => with_extensions(
            &udp6(host(), server, &small),
            43,
            &[17, 0, 4, random.byte() % 3, 0, 0, 0, 0],
        ),
        7 => {
            // A first fragment (M set) or an atomic fragment.
            let more = u8::from(random.chance(1, 2));
            with_extensions(
                &udp6(host(), server, &small),
                44,
                &[17, 0, 0, more, 0, 0, 0x12, 0x34],
            )
        }
        8 => {
            // A non-first fragment: offset 8 × k, raw data.
            let mut bytes = udp6(host(), server, &payload(random, 1200));
            let offset = (random.below(100) as u16) << 3;
            let [high, low] = offset.to_be_bytes();
            bytes = with_extensions(&bytes, 44, &[17, 0, high, low | 1, 0, 0, 0, 9]);
            bytes
        }
        9 => icmpv6(
            unmapped_router(),
            server,
            Icmpv6Type::TimeExceeded(icmpv6::TimeExceededCode::HopLimitExceeded),
            &udp6(server, host(), &small),
        ),
        _ => udp6(
            "2001:db8:1::105".parse().unwrap(),
            mapped(Ipv4Addr::new(198, 51, 100, 10)),
            &small,
        ),
    }
}

// ------------------------------------------------------------ mutation

/// Recomputes the IPv4 header checksum when the header length field is
/// usable, so that mutations are not all refused by header validation.
fn repair_ipv4_checksum(bytes: &mut [u8]) {
    let Some(&first) = bytes.first() else {
        return;
    };
    let header_length = usize::from(first & 0x0f) * 4;
    if header_length < 20 || bytes.len() < header_length {
        return;
    }
    bytes[10] = 0;
    bytes[11] = 0;
    let checksum = !fold(sum_words(&bytes[..header_length]));
    bytes[10..12].copy_from_slice(&checksum.to_be_bytes());
}

/// Mutates `bytes` in place: one to four random edits.
fn mutate(random: &mut Random, bytes: &mut Vec<u8>, ipv4: bool) {
    let edits = 1 + random.below(4);
    for _ in 0..edits {
        match random.below(10) {
            0 | 1 => {
                if !bytes.is_empty() {
                    let index = random.below(bytes.len());
                    bytes[index] ^= 1 << random.below(8);
                }
            }
            2 | 3 => {
                if !bytes.is_empty() {
                    // Header bytes are where the decisions are: favour them.
                    let limit = if random.chance(3, 4) {
                        bytes.len().min(96)
                    } else {
                        bytes.len()
                    };
                    let index = random.below(limit);
                    bytes[index] = random.byte();
                }
            }
            4 => {
                let length = random.below(bytes.len() + 1);
                bytes.truncate(length);
            }
            5 => {
                let extra = random.below(64);
                for _ in 0..extra {
                    bytes.push(random.byte());
                }
            }
            6 => {
                // A length field: IPv4 Total Length or IPv6 Payload Length,
                // or the length of a quoted packet in an ICMP error.
                let offset = match (ipv4, random.below(3)) {
                    (true, 0) => 2,
                    (false, 0) => 4,
                    (true, 1) => 28 + 2,
                    (false, 1) => 48 + 4,
                    _ => random.below(bytes.len().max(1)),
                };
                if offset + 2 <= bytes.len() {
                    let value: u16 = match random.below(4) {
                        0 => 0,
                        1 => u16::MAX,
                        2 => (bytes.len() as u16).wrapping_add(random.below(9) as u16),
                        _ => random.next() as u16,
                    };
                    bytes[offset..offset + 2].copy_from_slice(&value.to_be_bytes());
                }
            }
            7 => {
                // IPv4 header length / flags and offset, IPv6 next header.
                if ipv4 && bytes.len() > 7 {
                    if random.chance(1, 2) {
                        bytes[0] = 0x40 | (random.byte() & 0x0f);
                    } else {
                        bytes[6] = random.byte();
                        bytes[7] = random.byte();
                    }
                } else if bytes.len() > 6 {
                    bytes[6] = [0, 1, 6, 17, 43, 44, 51, 58, 59, 60, 135][random.below(11)];
                }
            }
            8 => {
                // Splice a random run.
                if !bytes.is_empty() {
                    let start = random.below(bytes.len());
                    let end = (start + random.below(16)).min(bytes.len());
                    bytes.drain(start..end);
                }
            }
            _ => {
                // An ICMP type or code.
                let offset = if ipv4 { 20 } else { 40 } + random.below(2);
                if offset < bytes.len() {
                    bytes[offset] = random.byte();
                }
            }
        }
    }
    if ipv4 && random.chance(3, 4) {
        repair_ipv4_checksum(bytes);
    }
}

// ------------------------------------------------------------ checksums

fn sum_words(bytes: &[u8]) -> u32 {
    let mut sum = 0u32;
    for pair in bytes.chunks(2) {
        let word = if pair.len() == 2 {
            u16::from_be_bytes([pair[0], pair[1]])
        } else {
            u16::from_be_bytes([pair[0], 0])
        };
        sum = sum.wrapping_add(u32::from(word));
    }
    sum
}

fn fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// Whether the transport checksum of `segment` verifies with the given
/// pseudo-header sum (which already includes the protocol and length).
fn verifies(pseudo_header: u32, segment: &[u8]) -> bool {
    fold(pseudo_header.wrapping_add(sum_words(segment))) == 0xffff
}

fn ipv4_pseudo_header(packet: &[u8], protocol: u8, length: usize) -> u32 {
    sum_words(&packet[12..20]) + u32::from(protocol) + length as u32
}

fn ipv6_pseudo_header(packet: &[u8], next_header: u8, length: usize) -> u32 {
    sum_words(&packet[8..40]) + u32::from(next_header) + length as u32
}

/// The transport checksum state of an unfragmented IPv4 TCP/UDP packet
/// with a plain header: `Some(true)` valid, `Some(false)` wrong, `None` not
/// applicable (fragment, other protocol, UDP checksum 0, malformed).
fn ipv4_transport_checksum_state(packet: &[u8]) -> Option<bool> {
    let header = Ipv4HeaderSlice::from_slice(packet).ok()?;
    if header.is_fragmenting_payload() {
        return None;
    }
    let start = usize::from(header.ihl()) * 4;
    let end = usize::from(header.total_len());
    if end > packet.len() || end < start {
        return None;
    }
    let segment = &packet[start..end];
    let protocol = header.protocol().0;
    match protocol {
        6 if segment.len() >= 20 => {}
        17 if segment.len() >= 8 && (segment[6], segment[7]) != (0, 0) => {}
        _ => return None,
    }
    Some(verifies(
        ipv4_pseudo_header(packet, protocol, segment.len()),
        segment,
    ))
}

/// The same for an IPv6 packet without extension headers.
fn ipv6_transport_checksum_state(packet: &[u8]) -> Option<bool> {
    let header = Ipv6HeaderSlice::from_slice(packet).ok()?;
    let end = 40 + usize::from(header.payload_length());
    if end > packet.len() {
        return None;
    }
    let segment = &packet[40..end];
    let next_header = header.next_header().0;
    match next_header {
        6 if segment.len() >= 20 => {}
        17 if segment.len() >= 8 => {}
        _ => return None,
    }
    Some(verifies(
        ipv6_pseudo_header(packet, next_header, segment.len()),
        segment,
    ))
}

// ------------------------------------------------------------ output checks

/// Whether `value` is an IPv6 extension header type other than ESP (IANA
/// registry, RFC 7045 §2).
fn is_ipv6_extension_header(value: u8) -> bool {
    matches!(value, 0 | 43 | 44 | 51 | 60 | 135 | 139 | 140 | 253 | 254)
}

/// The upper-layer protocol of an IPv6 packet: the Next Header after the
/// Hop-by-Hop, Routing, Destination Options and Fragment headers.
fn ipv6_upper_protocol(packet: &[u8]) -> Option<u8> {
    let mut next = *packet.get(6)?;
    let mut offset = 40;
    while matches!(next, 0 | 43 | 44 | 60) {
        let length = if next == 44 {
            8
        } else {
            (usize::from(*packet.get(offset + 1)?) + 1) * 8
        };
        next = *packet.get(offset)?;
        offset += length;
    }
    Some(next)
}

/// An accepted IPv4 → IPv6 translation is a well-formed IPv6 packet.
fn check_ipv6_output(
    input: &[u8],
    output: &[u8],
    translated: Translated,
    settings: &TranslationSettings,
    path: &Ipv4ToIpv6Path,
) {
    assert!(
        translated.length <= output.len(),
        "length beyond the buffer"
    );
    let packet = &output[..translated.length];
    let header = Ipv6HeaderSlice::from_slice(packet).expect("an IPv6 header");
    assert_eq!(
        40 + usize::from(header.payload_length()),
        packet.len(),
        "Payload Length disagrees with the packet"
    );
    // An IPv4 protocol number that is an IPv6 extension header type is
    // copied as it is (§4.1 "Next Header"), and IPv6 parsers then read the
    // payload as that extension header: only other protocols must parse.
    let protocol = input.get(9).copied().unwrap_or_default();
    if !is_ipv6_extension_header(protocol) {
        let sliced = etherparse::Ipv6Slice::from_slice(packet);
        assert!(
            sliced.is_ok(),
            "etherparse refuses the IPv6 packet: {sliced:?}"
        );
    }
    match translated.fragmentation {
        None => assert!(
            packet.len() <= usize::from(path.ipv6_next_hop_mtu.max(settings.lowest_ipv6_mtu)),
            "an unfragmented result larger than the path"
        ),
        Some(fragmentation) => {
            assert!(
                fragmentation.maximum_size >= 1280,
                "fragments smaller than the IPv6 minimum MTU"
            );
            assert!(
                packet.len() > usize::from(fragmentation.maximum_size),
                "marked for fragmentation but fits"
            );
        }
    }
    // ICMPv4 became ICMPv6, recomputed: it must verify (an IPv4 packet
    // with protocol 58 is copied, checksum and all).
    if header.next_header().0 == 58 && protocol == 1 {
        let segment = &packet[40..];
        assert!(
            verifies(ipv6_pseudo_header(packet, 58, segment.len()), segment),
            "ICMPv6 checksum wrong"
        );
        assert!(
            packet.len() <= 1280 || segment.first().is_some_and(|&kind| kind >= 128),
            "an ICMPv6 error larger than 1280 bytes"
        );
    }
    // TCP/UDP: the checksum keeps its validity (a zero UDP checksum is
    // computed, so it becomes valid).
    if let (Some(before), Some(after)) = (
        ipv4_transport_checksum_state(input),
        ipv6_transport_checksum_state(packet),
    ) {
        assert_eq!(before, after, "transport checksum validity changed");
    }
    if header.next_header().0 == 17 && packet.len() >= 48 {
        assert_ne!(
            (packet[46], packet[47]),
            (0, 0),
            "an IPv6 UDP datagram with checksum 0"
        );
    }
}

/// An accepted IPv6 → IPv4 translation is a well-formed IPv4 packet.
fn check_ipv4_output(input: &[u8], output: &[u8], translated: Translated, path: &Ipv6ToIpv4Path) {
    assert!(
        translated.length <= output.len(),
        "length beyond the buffer"
    );
    let packet = &output[..translated.length];
    let header = Ipv4HeaderSlice::from_slice(packet).expect("an IPv4 header");
    assert_eq!(header.ihl(), 5, "the translator emits no options");
    assert_eq!(
        usize::from(header.total_len()),
        packet.len(),
        "Total Length"
    );
    assert_eq!(
        fold(sum_words(&packet[..20])),
        0xffff,
        "IPv4 header checksum"
    );
    if header.dont_fragment() {
        assert!(
            packet.len() > 1260,
            "DF set on a packet of at most 1260 bytes"
        );
        assert!(
            translated.fragmentation.is_none(),
            "DF set but marked for fragmentation"
        );
    }
    if translated.fragmentation.is_none() {
        assert!(
            packet.len() <= usize::from(path.ipv4_next_hop_mtu),
            "an unfragmented result larger than the IPv4 next hop"
        );
    }
    // An upper layer that etherparse reads as an extension (AH, 51) is
    // copied as it is (§5.1 "Protocol"): only other protocols must parse.
    if !ipv6_upper_protocol(input).is_some_and(is_ipv6_extension_header) {
        let sliced = etherparse::Ipv4Slice::from_slice(packet);
        assert!(
            sliced.is_ok(),
            "etherparse refuses the IPv4 packet: {sliced:?}"
        );
    }
    // ICMPv6 became ICMPv4, recomputed: it must verify (an IPv6 packet
    // with Next Header 1 is copied, checksum and all).
    if header.protocol().0 == 1
        && !header.is_fragmenting_payload()
        && ipv6_upper_protocol(input) == Some(58)
    {
        let segment = &packet[20..];
        assert_eq!(fold(sum_words(segment)), 0xffff, "ICMPv4 checksum wrong");
        assert!(
            packet.len() <= 576 || segment.first().is_some_and(|&kind| kind == 0 || kind == 8),
            "an ICMPv4 error larger than 576 bytes"
        );
    }
    if let (Some(before), Some(after)) = (
        ipv6_transport_checksum_state(input),
        ipv4_transport_checksum_state(packet),
    ) {
        assert_eq!(before, after, "transport checksum validity changed");
    }
}

/// The fragments of `packet` cover its payload once, in order, each no
/// larger than the maximum; `fragment_header` says whether they are IPv6.
fn check_fragments(
    pieces: &[Vec<u8>],
    packet: &[u8],
    fragmentation: Fragmentation,
    ipv6: bool,
    result_count: usize,
) {
    assert_eq!(
        pieces.len(),
        result_count,
        "count returned ≠ fragments emitted"
    );
    assert!(!pieces.is_empty(), "no fragment emitted");
    let mut expected_offset: Option<usize> = None;
    let mut total_data = 0usize;
    for (index, piece) in pieces.iter().enumerate() {
        assert!(
            piece.len() <= usize::from(fragmentation.maximum_size),
            "a fragment of {} bytes, maximum {}",
            piece.len(),
            fragmentation.maximum_size
        );
        let (offset, more, data) = if ipv6 {
            let header = Ipv6HeaderSlice::from_slice(piece).expect("an IPv6 fragment header");
            assert_eq!(40 + usize::from(header.payload_length()), piece.len());
            assert_eq!(header.next_header().0, 44, "no Fragment Header");
            let word = u16::from_be_bytes([piece[42], piece[43]]);
            (usize::from(word & !7), word & 1 == 1, piece.len() - 48)
        } else {
            let header = Ipv4HeaderSlice::from_slice(piece).expect("an IPv4 fragment header");
            assert_eq!(usize::from(header.total_len()), piece.len());
            assert_eq!(fold(sum_words(&piece[..20])), 0xffff, "fragment checksum");
            (
                usize::from(header.fragments_offset().value()) * 8,
                header.more_fragments(),
                piece.len() - usize::from(header.ihl()) * 4,
            )
        };
        if let Some(expected) = expected_offset {
            assert_eq!(offset, expected, "fragments not contiguous");
        }
        assert_eq!(
            more,
            index + 1 < pieces.len() || original_more_fragments(packet, ipv6),
            "More Fragments flag"
        );
        expected_offset = Some(offset + data);
        total_data += data;
    }
    // Bytes after the length field (link padding) are not the packet's.
    let original_data = if ipv6 {
        let has_fragment_header = packet[6] == 44;
        usize::from(u16::from_be_bytes([packet[4], packet[5]]))
            - if has_fragment_header { 8 } else { 0 }
    } else {
        usize::from(u16::from_be_bytes([packet[2], packet[3]])) - usize::from(packet[0] & 0x0f) * 4
    };
    assert_eq!(total_data, original_data, "fragments lose or add bytes");
}

fn original_more_fragments(packet: &[u8], ipv6: bool) -> bool {
    if ipv6 {
        packet[6] == 44 && packet[43] & 1 == 1
    } else {
        packet[6] & 0x20 != 0
    }
}

fn fragment_and_check(packet: &[u8], fragmentation: Fragmentation, ipv6: bool) {
    let mut scratch = vec![0u8; 4096];
    let mut pieces = Vec::new();
    let result = if ipv6 {
        fragment_ipv6(packet, fragmentation, &mut scratch, |piece| {
            pieces.push(piece.to_vec())
        })
    } else {
        fragment_ipv4(packet, fragmentation, &mut scratch, |piece| {
            pieces.push(piece.to_vec())
        })
    };
    if let Ok(count) = result {
        check_fragments(&pieces, packet, fragmentation, ipv6, count);
    }
}

// ------------------------------------------------------------ targets

fn translator() -> (StatelessAddresses, TranslationSettings) {
    let config = config::parse(CONFIG).expect("the fuzz config parses");
    (
        config.address_translator(7).expect("a translator"),
        config.translation_settings(),
    )
}

fn output_size(random: &mut Random) -> usize {
    if random.chance(1, 16) {
        random.below(200)
    } else {
        70_000
    }
}

fn ipv4_to_ipv6_path(random: &mut Random) -> Ipv4ToIpv6Path {
    if random.chance(1, 2) {
        Ipv4ToIpv6Path::default()
    } else {
        Ipv4ToIpv6Path {
            ipv6_next_hop_mtu: 1280 + random.below(9000) as u16,
            ipv4_link_mtu: random.next() as u16,
        }
    }
}

fn ipv6_to_ipv4_path(random: &mut Random) -> Ipv6ToIpv4Path {
    if random.chance(1, 2) {
        Ipv6ToIpv4Path::default()
    } else {
        Ipv6ToIpv4Path {
            ipv4_next_hop_mtu: 68 + random.below(9000) as u16,
            ipv6_link_mtu: random.next() as u16,
            identification: random.next() as u16,
            decrement_time_to_live: random.chance(1, 2),
        }
    }
}

/// A quarter of the run per translation direction, an eighth per
/// fragmenter and a quarter through the router.
fn share(numerator: u64, denominator: u64) -> u64 {
    (iterations() * numerator / denominator).max(1)
}

#[test]
fn fuzz_translate_ipv4_to_ipv6() {
    let (addresses, mut settings) = translator();
    let mut random = Random(seed(1));
    let mut accepted = 0u64;
    for iteration in 0..share(1, 4) {
        let mut packet = valid_ipv4(&mut random);
        if iteration % 8 != 0 {
            mutate(&mut random, &mut packet, true);
        }
        settings.lowest_ipv6_mtu = if random.chance(1, 2) { 1280 } else { 1500 };
        let path = ipv4_to_ipv6_path(&mut random);
        let mut output = vec![0u8; output_size(&mut random)];
        run_case("translate_ipv4_to_ipv6", iteration, &packet, || {
            if let Ok(translated) =
                translate_ipv4_to_ipv6(&packet, &mut output, &addresses, &settings, &path)
            {
                check_ipv6_output(&packet, &output, translated, &settings, &path);
                if let Some(fragmentation) = translated.fragmentation {
                    fragment_and_check(&output[..translated.length], fragmentation, true);
                }
                accepted += 1;
            }
        });
    }
    assert!(accepted > 0, "nothing was ever translated");
}

#[test]
fn fuzz_translate_ipv6_to_ipv4() {
    let (addresses, settings) = translator();
    let mut random = Random(seed(2));
    let mut accepted = 0u64;
    for iteration in 0..share(1, 4) {
        let mut packet = valid_ipv6(&mut random);
        if iteration % 8 != 0 {
            mutate(&mut random, &mut packet, false);
        }
        let path = ipv6_to_ipv4_path(&mut random);
        let mut output = vec![0u8; output_size(&mut random)];
        run_case("translate_ipv6_to_ipv4", iteration, &packet, || {
            if let Ok(translated) =
                translate_ipv6_to_ipv4(&packet, &mut output, &addresses, &settings, &path)
            {
                check_ipv4_output(&packet, &output, translated, &path);
                if let Some(fragmentation) = translated.fragmentation {
                    fragment_and_check(&output[..translated.length], fragmentation, false);
                }
                accepted += 1;
            }
        });
    }
    assert!(accepted > 0, "nothing was ever translated");
}

/// The fragmenters on arbitrary input: translated packets, mutated, with
/// arbitrary sizes.
#[test]
fn fuzz_fragmenters() {
    let (addresses, settings) = translator();
    let mut random = Random(seed(3));
    for iteration in 0..share(1, 4) {
        let ipv6 = random.chance(1, 2);
        let mut packet = if ipv6 {
            let ipv4 = udp4(SERVER, HOST_IPV4, false, &payload(&mut random, 3000));
            let mut output = vec![0u8; 70_000];
            let length = translate_ipv4_to_ipv6(
                &ipv4,
                &mut output,
                &addresses,
                &settings,
                &Ipv4ToIpv6Path::default(),
            )
            .map(|translated| translated.length)
            .unwrap_or(0);
            output.truncate(length);
            if random.chance(1, 4) {
                // A translated IPv4 fragment: it carries a Fragment Header.
                let fragment = ipv4_fragment(
                    &payload(&mut random, 2000),
                    (random.below(50) * 8) as u16,
                    true,
                );
                let mut with_header = vec![0u8; 70_000];
                if let Ok(translated) = translate_ipv4_to_ipv6(
                    &fragment,
                    &mut with_header,
                    &addresses,
                    &settings,
                    &Ipv4ToIpv6Path::default(),
                ) {
                    with_header.truncate(translated.length);
                    output = with_header;
                }
            }
            output
        } else {
            udp4(HOST_IPV4, SERVER, false, &payload(&mut random, 3000))
        };
        if random.chance(1, 2) {
            mutate(&mut random, &mut packet, !ipv6);
        }
        let fragmentation = Fragmentation {
            maximum_size: if random.chance(1, 4) {
                random.next() as u16
            } else {
                [68, 576, 1280, 1500][random.below(4)]
            },
            identification: random.next() as u32,
        };
        run_case("fragmenters", iteration, &packet, || {
            fragment_and_check(&packet, fragmentation, ipv6);
        });
    }
}

fn ethernet(destination: [u8; 6], source: [u8; 6], ether_type: u16, payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(14 + payload.len());
    frame.extend_from_slice(&destination);
    frame.extend_from_slice(&source);
    frame.extend_from_slice(&ether_type.to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

/// Every frame the router sends is an Ethernet frame whose IP header
/// parses and whose length field fits the frame.
fn check_transmitted(port: PortIndex, frame: &[u8]) {
    assert!(
        frame.len() >= 14,
        "a frame shorter than its Ethernet header"
    );
    let ether_type = u16::from_be_bytes([frame[12], frame[13]]);
    let packet = &frame[14..];
    match ether_type {
        0x86dd => {
            let header = Ipv6HeaderSlice::from_slice(packet).expect("an IPv6 header");
            assert_eq!(
                40 + usize::from(header.payload_length()),
                packet.len(),
                "IPv6 Payload Length disagrees with the frame"
            );
        }
        0x0800 => {
            assert_eq!(port, UPLINK, "IPv4 sent on a port other than the uplink");
            let header = Ipv4HeaderSlice::from_slice(packet).expect("an IPv4 header");
            let total = usize::from(header.total_len());
            assert!(total <= packet.len(), "IPv4 Total Length beyond the frame");
            assert!(
                packet[total..].iter().all(|&byte| byte == 0),
                "bytes after Total Length that are not padding"
            );
            assert_eq!(
                fold(sum_words(&packet[..usize::from(header.ihl()) * 4])),
                0xffff,
                "IPv4 header checksum"
            );
        }
        0x0806 => assert_eq!(port, UPLINK, "ARP sent on a port other than the uplink"),
        other => panic!("an unexpected EtherType {other:#06x}"),
    }
}

/// Whole frames through `Router::receive`, both ports, with virtual time.
#[test]
fn fuzz_router_receive() {
    let config = config::parse(CONFIG).expect("the fuzz config parses");
    let nics: Vec<NicInfo> = ROUTER_MACS.iter().map(|&mac| NicInfo { mac }).collect();
    let mut router = Router::with_seed(&config, &nics, 7).expect("a router");
    let mut random = Random(seed(4));
    // The gateway announces itself (RFC 826: the target learns the sender).
    let mut arp = vec![0, 1, 8, 0, 6, 4, 0, 1];
    arp.extend_from_slice(&GATEWAY_MAC);
    arp.extend_from_slice(&[192, 0, 2, 254]);
    arp.extend_from_slice(&[0; 6]);
    arp.extend_from_slice(&[192, 0, 2, 1]);
    let announcement = ethernet([0xff; 6], GATEWAY_MAC, 0x0806, &arp);
    let _ = router
        .receive(UPLINK, &announcement, Instant::from_millis(0))
        .count();
    let mut now = 0i64;
    let mut transmitted = 0u64;
    for iteration in 0..share(1, 4) {
        now += random.below(50) as i64;
        let from_uplink = random.chance(1, 2);
        let mut packet = if from_uplink {
            valid_ipv4(&mut random)
        } else {
            valid_ipv6(&mut random)
        };
        if iteration % 8 != 0 {
            mutate(&mut random, &mut packet, from_uplink);
        }
        let frame = if from_uplink {
            if random.chance(1, 16) {
                let mut arp = arp.clone();
                mutate(&mut random, &mut arp, false);
                ethernet([0xff; 6], GATEWAY_MAC, 0x0806, &arp)
            } else {
                ethernet(ROUTER_MACS[1], GATEWAY_MAC, 0x0800, &packet)
            }
        } else {
            ethernet(ROUTER_MACS[0], HOST_MAC, 0x86dd, &packet)
        };
        let port = if from_uplink { UPLINK } else { LAN };
        let time = Instant::from_millis(now);
        run_case("router_receive", iteration, &frame, || {
            for transmit in router.receive(port, &frame, time) {
                check_transmitted(transmit.port, transmit.frame);
                transmitted += 1;
            }
            if iteration % 64 == 0 {
                for transmit in router.poll(time) {
                    check_transmitted(transmit.port, transmit.frame);
                }
            }
        });
    }
    assert!(transmitted > 0, "the router never sent anything");
}
