//! The border translator's fast paths (plain TCP/UDP and common ICMPv6 errors from IPv6 written straight into the uplink's transmit frame, IPv4 from the uplink translated into the IPv6 frame) give what the general path gives: the same frames and the same counters, packet after packet (RFC 7915 §4, §5; RFC 7757 EAM; RFC 6052 pool6; RFC 6791).
//!
//! Two routers are built from one configuration and one seed; one has its
//! fast paths switched off (`Router::use_translation_fast_paths(false)`).
//! Both receive the same sequence of varied frames (UDP and TCP, zero UDP
//! checksums, EAM and pool6 addresses, on-link and gateway next hops, hop
//! limits and TTLs at the edge, sizes around the Don't Fragment threshold
//! and the uplink MTU, fragments, extension headers, hairpinning, the
//! translator's own addresses, NAT64; ICMPv6 errors of every type, code,
//! Packet Too Big MTU and Parameter Problem pointer, quoting packets the
//! fast path takes and packets it leaves, from mapped and unmapped
//! sources) and must send the same frames and count the same things after
//! each one. Random numbers are drawn in the same order on both paths, so
//! even the IPv4 Identification matches.
#![cfg(feature = "legacy-ip")]

use std::net::{Ipv4Addr, Ipv6Addr};

use etherparse::{IpNumber, Ipv4Header, Ipv6FragmentHeader, Ipv6Header, PacketBuilder};
use netstack::config;
use netstack::router::{NicInfo, PortIndex, Router};
use smoltcp::time::Instant;

const LAN: PortIndex = PortIndex(0);
const UPLINK: PortIndex = PortIndex(1);
const ROUTER_MACS: [[u8; 6]; 2] = [[0x52, 0x54, 0, 0, 0, 0x10], [0x52, 0x54, 0, 0, 0, 0x11]];
const HOST_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0a];
const GATEWAY_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0xfe];

/// lan: the EAM hosts 2001:db8:1::a (198.51.100.10) and ::c (198.51.100.11)
/// as static neighbors, ::b unmapped, ::d (EAM 198.51.100.13) never
/// resolved; 2001:db8:2::/64 routed through ::c (EAM 198.51.100.20 is
/// 2001:db8:2::20) and 2001:db8:3::/64 through the unresolved ::e (EAM
/// 198.51.100.30); 198.51.100.12 is the router's own 2001:db8:1::1 and
/// 198.51.100.40 the link-local fe80::40. uplink: 192.0.2.1/24 with MTU
/// 1400, the gateway .254 and the on-link host .77 as static ARP entries,
/// .78 unresolved.
const BASE: &str = r#"
[[port]]
name = "lan"
mtu = 1500
addresses = ["2001:db8:1::1/64"]

[[port]]
name = "uplink"
mtu = 1400
[port.ipv4]
address = "192.0.2.1/24"
gateway = "192.0.2.254"
[[port.ipv4.neighbor]]
address = "192.0.2.254"
mac = "02:00:00:00:00:fe"
[[port.ipv4.neighbor]]
address = "192.0.2.77"
mac = "02:00:00:00:00:77"

[[neighbor]]
port = "lan"
address = "2001:db8:1::a"
mac = "02:00:00:00:00:0a"

[[neighbor]]
port = "lan"
address = "2001:db8:1::c"
mac = "02:00:00:00:00:0c"

[[translation.eam]]
ipv4 = "198.51.100.10/32"
ipv6 = "2001:db8:1::a/128"

[[translation.eam]]
ipv4 = "198.51.100.11/32"
ipv6 = "2001:db8:1::c/128"

[[translation.eam]]
ipv4 = "198.51.100.13/32"
ipv6 = "2001:db8:1::d/128"

[[route]]
prefix = "2001:db8:2::/64"
via = "2001:db8:1::c"

[[route]]
prefix = "2001:db8:3::/64"
via = "2001:db8:1::e"

[[translation.eam]]
ipv4 = "198.51.100.12/32"
ipv6 = "2001:db8:1::1/128"

[[translation.eam]]
ipv4 = "198.51.100.20/32"
ipv6 = "2001:db8:2::20/128"

[[translation.eam]]
ipv4 = "198.51.100.30/32"
ipv6 = "2001:db8:3::30/128"

[[translation.eam]]
ipv4 = "198.51.100.40/32"
ipv6 = "fe80::40/128"
"#;

/// The `[translation]` tables of the configurations compared.
const TRANSLATIONS: [&str; 3] = [
    "[translation]\npool6 = \"2001:db8:64::/96\"\n",
    "[translation]\npool6 = \"2001:db8:64::/96\"\ntraffic_class = \"zero\"\n\
     udp_zero_checksum = \"drop\"\nrefusal_errors = false\nlowest_ipv6_mtu = 1400\n\
     icmp_error_pool = [\"203.0.113.200/30\"]\n",
    "[translation]\npool6 = \"2001:db8:64::/96\"\n\n[nat64]\n\
     pool4 = [{ prefix = \"192.0.2.200/30\", tcp = \"1024-65535\", udp = \"1024-65535\", icmp = \"1-65535\" }]\n",
];

fn routers(translation: &str) -> (Router, Router) {
    let text = format!("{BASE}\n{translation}");
    let config = config::parse(&text).expect("the test config parses");
    let nics: Vec<NicInfo> = ROUTER_MACS.iter().map(|&mac| NicInfo { mac }).collect();
    let fast = Router::with_seed(&config, &nics, 7).unwrap();
    let mut general = Router::with_seed(&config, &nics, 7).unwrap();
    general.use_translation_fast_paths(false);
    (fast, general)
}

/// `address` under pool6.
fn mapped(address: Ipv4Addr) -> Ipv6Addr {
    let [a, b, c, d] = address.octets();
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

fn lan(last: u16) -> Ipv6Addr {
    Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, last)
}

/// Extension headers between the IPv6 header and the transport header.
#[derive(Clone, Copy, Debug)]
enum Extension {
    None,
    DestinationOptions,
    HopByHop,
    /// A Routing header with this Segments Left.
    Routing(u8),
    /// A Fragment Header: offset in 8-byte units, More Fragments.
    Fragment(u16, bool),
}

/// What follows the IPv6 or IPv4 header.
#[derive(Clone, Copy, Debug)]
enum Transport {
    Udp,
    /// UDP with its checksum field zeroed.
    UdpZeroChecksum,
    Tcp,
    /// Only this many bytes of the transport header.
    Truncated(u8, usize),
    Icmp,
}

/// One IPv6 frame from the LAN host side.
fn ipv6_frame(
    source: Ipv6Addr,
    destination: Ipv6Addr,
    hop_limit: u8,
    traffic_class: u8,
    extension: Extension,
    transport: Transport,
    payload: usize,
) -> Vec<u8> {
    let data = vec![0x5a; payload];
    let mut upper = Vec::new();
    let protocol = match transport {
        Transport::Udp | Transport::UdpZeroChecksum => {
            PacketBuilder::ipv6(source.octets(), destination.octets(), hop_limit)
                .udp(40000, 53)
                .write(&mut upper, &data)
                .unwrap();
            upper.drain(..40);
            if matches!(transport, Transport::UdpZeroChecksum) {
                upper[6..8].fill(0);
            }
            17
        }
        Transport::Tcp => {
            PacketBuilder::ipv6(source.octets(), destination.octets(), hop_limit)
                .tcp(40000, 443, 7, 65535)
                .ack(1)
                .write(&mut upper, &data)
                .unwrap();
            upper.drain(..40);
            6
        }
        Transport::Truncated(protocol, length) => {
            upper = vec![0x11; length];
            protocol
        }
        Transport::Icmp => {
            PacketBuilder::ipv6(source.octets(), destination.octets(), hop_limit)
                .icmpv6_echo_request(1, 2)
                .write(&mut upper, &data)
                .unwrap();
            upper.drain(..40);
            58
        }
    };
    let (first, headers) = match extension {
        Extension::None => (protocol, Vec::new()),
        Extension::DestinationOptions => (60, vec![protocol, 0, 1, 4, 0, 0, 0, 0]),
        Extension::HopByHop => (0, vec![protocol, 0, 1, 4, 0, 0, 0, 0]),
        Extension::Routing(left) => (43, vec![protocol, 0, 0, left, 0, 0, 0, 0]),
        Extension::Fragment(offset, more) => {
            let header = Ipv6FragmentHeader::new(
                IpNumber(protocol),
                etherparse::IpFragOffset::try_new(offset).unwrap(),
                more,
                0x1234_5678,
            );
            (44, header.to_bytes().to_vec())
        }
    };
    let mut header = Ipv6Header {
        traffic_class,
        flow_label: Default::default(),
        payload_length: (headers.len() + upper.len()) as u16,
        next_header: IpNumber(first),
        hop_limit,
        source: source.octets(),
        destination: destination.octets(),
    };
    header.payload_length = (headers.len() + upper.len()) as u16;
    let mut frame = Vec::new();
    frame.extend_from_slice(&ROUTER_MACS[0]);
    frame.extend_from_slice(&HOST_MAC);
    frame.extend_from_slice(&[0x86, 0xdd]);
    header.write(&mut frame).unwrap();
    frame.extend_from_slice(&headers);
    frame.extend_from_slice(&upper);
    frame
}

/// One IPv4 frame from the uplink gateway.
fn ipv4_frame(
    source: Ipv4Addr,
    destination: Ipv4Addr,
    ttl: u8,
    dont_fragment: bool,
    fragment: (u16, bool),
    transport: Transport,
    payload: usize,
) -> Vec<u8> {
    let data = vec![0xa5; payload];
    let mut whole = Vec::new();
    let builder = PacketBuilder::ipv4(source.octets(), destination.octets(), ttl);
    match transport {
        Transport::Udp | Transport::UdpZeroChecksum | Transport::Truncated(..) => {
            builder.udp(53, 40000).write(&mut whole, &data).unwrap()
        }
        Transport::Tcp => builder
            .tcp(443, 40000, 9, 65535)
            .ack(1)
            .write(&mut whole, &data)
            .unwrap(),
        Transport::Icmp => builder
            .icmpv4_echo_request(1, 2)
            .write(&mut whole, &data)
            .unwrap(),
    }
    let (mut header, _) = Ipv4Header::from_slice(&whole).unwrap();
    let mut upper = whole[header.header_len()..].to_vec();
    if matches!(transport, Transport::UdpZeroChecksum) {
        upper[6..8].fill(0);
    }
    if let Transport::Truncated(protocol, length) = transport {
        upper.truncate(length);
        header.protocol = IpNumber(protocol);
    }
    header.dont_fragment = dont_fragment;
    header.fragment_offset = etherparse::IpFragOffset::try_new(fragment.0).unwrap();
    header.more_fragments = fragment.1;
    header.identification = 0x4242;
    header.set_payload_len(upper.len()).unwrap();
    header.header_checksum = header.calc_header_checksum();
    let mut frame = Vec::new();
    frame.extend_from_slice(&ROUTER_MACS[1]);
    frame.extend_from_slice(&GATEWAY_MAC);
    frame.extend_from_slice(&[0x08, 0x00]);
    header.write(&mut frame).unwrap();
    frame.extend_from_slice(&upper);
    frame
}

fn sent(
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

fn counters(router: &Router) -> Vec<(PortIndex, &'static str, u64)> {
    [LAN, UPLINK]
        .into_iter()
        .flat_map(|port| {
            router
                .counters(port)
                .map(move |(name, value)| (port, name, value))
        })
        .collect()
}

/// Sends `frame` to both routers on `port` and compares what they send
/// and count; returns how many frames were sent.
fn compare(
    (fast, general): &mut (Router, Router),
    port: PortIndex,
    frame: &[u8],
    now: Instant,
    label: &str,
) -> usize {
    let from_fast = sent(fast, port, frame, now);
    let from_general = sent(general, port, frame, now);
    assert_eq!(from_fast, from_general, "{label}: frames");
    assert_eq!(counters(fast), counters(general), "{label}: counters");
    from_fast.len()
}

/// IPv6 destinations under pool6 (and the unmapped host) and what they
/// stand for.
fn ipv6_destinations() -> Vec<(&'static str, Ipv6Addr)> {
    vec![
        ("server", mapped(Ipv4Addr::new(203, 0, 113, 80))),
        ("on-link", mapped(Ipv4Addr::new(192, 0, 2, 77))),
        ("on-link unresolved", mapped(Ipv4Addr::new(192, 0, 2, 78))),
        ("hairpin EAM", mapped(Ipv4Addr::new(198, 51, 100, 11))),
        ("uplink address", mapped(Ipv4Addr::new(192, 0, 2, 1))),
        ("directed broadcast", mapped(Ipv4Addr::new(192, 0, 2, 255))),
        ("multicast", mapped(Ipv4Addr::new(224, 0, 0, 9))),
        ("zero network", mapped(Ipv4Addr::new(0, 1, 2, 3))),
        ("NAT64 pool4", mapped(Ipv4Addr::new(192, 0, 2, 201))),
    ]
}

#[test]
fn ipv6_to_ipv4_fast_path_matches_the_general_path() {
    let sources = [
        ("EAM host", lan(0xa)),
        ("unmapped host", lan(0xb)),
        ("pool6 source", mapped(Ipv4Addr::new(203, 0, 113, 9))),
        ("loopback", Ipv6Addr::LOCALHOST),
    ];
    let transports = [
        Transport::Udp,
        Transport::UdpZeroChecksum,
        Transport::Tcp,
        Transport::Truncated(17, 7),
        Transport::Truncated(6, 19),
        Transport::Truncated(6, 20),
        Transport::Icmp,
    ];
    let extensions = [
        Extension::None,
        Extension::DestinationOptions,
        Extension::HopByHop,
        Extension::Routing(0),
        Extension::Routing(1),
        Extension::Fragment(0, true),
        Extension::Fragment(0, false),
        Extension::Fragment(100, false),
    ];
    for translation in TRANSLATIONS {
        let mut pair = routers(translation);
        let mut now = 1000;
        let mut forwarded = 0;
        for (source_name, source) in sources {
            for (destination_name, destination) in ipv6_destinations() {
                for transport in transports {
                    for hop_limit in [1, 2, 64] {
                        for traffic_class in [0, 0xb9] {
                            let frame = ipv6_frame(
                                source,
                                destination,
                                hop_limit,
                                traffic_class,
                                Extension::None,
                                transport,
                                16,
                            );
                            let label = format!(
                                "{translation}: {source_name} → {destination_name}, \
                                 {transport:?}, hop limit {hop_limit}, class {traffic_class:#x}"
                            );
                            forwarded +=
                                compare(&mut pair, LAN, &frame, Instant::from_millis(now), &label);
                            now += 3;
                        }
                    }
                }
            }
        }
        // Extension headers, fragments, and sizes around the DF threshold
        // (1260 as IPv4) and the uplink MTU (1400 as IPv4), a few bytes of
        // Ethernet padding after the packet.
        let server = mapped(Ipv4Addr::new(203, 0, 113, 80));
        for extension in extensions {
            for transport in [Transport::Udp, Transport::Tcp, Transport::Icmp] {
                let frame = ipv6_frame(lan(0xa), server, 64, 0, extension, transport, 32);
                let label = format!("{translation}: {extension:?} {transport:?}");
                forwarded += compare(&mut pair, LAN, &frame, Instant::from_millis(now), &label);
                now += 3;
            }
        }
        for (_, destination) in ipv6_destinations().into_iter().take(2) {
            for ipv4_length in [1259, 1260, 1261, 1399, 1400, 1401, 1480] {
                for transport in [Transport::Udp, Transport::Tcp] {
                    let header = if matches!(transport, Transport::Udp) {
                        8
                    } else {
                        20
                    };
                    let payload = ipv4_length - 20 - header;
                    let mut frame = ipv6_frame(
                        lan(0xa),
                        destination,
                        64,
                        0x20,
                        Extension::None,
                        transport,
                        payload,
                    );
                    let label =
                        format!("{translation}: {ipv4_length} bytes as IPv4, {transport:?}");
                    forwarded += compare(&mut pair, LAN, &frame, Instant::from_millis(now), &label);
                    frame.extend_from_slice(&[0; 6]);
                    forwarded += compare(&mut pair, LAN, &frame, Instant::from_millis(now), &label);
                    now += 3;
                }
            }
        }
        assert!(
            forwarded > 100,
            "{translation}: most of these leave the router"
        );
    }
}

#[test]
fn ipv4_to_ipv6_fast_path_matches_the_general_path() {
    let server = Ipv4Addr::new(203, 0, 113, 80);
    let destinations = [
        ("EAM host", Ipv4Addr::new(198, 51, 100, 10)),
        ("EAM host unresolved", Ipv4Addr::new(198, 51, 100, 13)),
        ("unmapped", Ipv4Addr::new(198, 51, 100, 99)),
        ("uplink address", Ipv4Addr::new(192, 0, 2, 1)),
        ("directed broadcast", Ipv4Addr::new(192, 0, 2, 255)),
        ("NAT64 pool4", Ipv4Addr::new(192, 0, 2, 201)),
        ("pool6 server back to the translator", server),
    ];
    let sources = [
        ("server", server),
        ("illegal source", Ipv4Addr::new(127, 0, 0, 1)),
    ];
    let transports = [
        Transport::Udp,
        Transport::UdpZeroChecksum,
        Transport::Tcp,
        Transport::Truncated(6, 10),
        Transport::Icmp,
    ];
    for translation in TRANSLATIONS {
        let mut pair = routers(translation);
        let mut now = 1000;
        let mut forwarded = 0;
        for (source_name, source) in sources {
            for (destination_name, destination) in destinations {
                for transport in transports {
                    for ttl in [1, 2, 64] {
                        for (dont_fragment, fragment, payload) in [
                            (true, (0, false), 16),
                            (false, (0, true), 32),
                            (false, (8, false), 32),
                            (false, (0, false), 1400),
                            (true, (0, false), 1460),
                            (true, (0, false), 1480),
                        ] {
                            let frame = ipv4_frame(
                                source,
                                destination,
                                ttl,
                                dont_fragment,
                                fragment,
                                transport,
                                payload,
                            );
                            let label = format!(
                                "{translation}: {source_name} → {destination_name}, {transport:?}, \
                                 TTL {ttl}, DF {dont_fragment}, fragment {fragment:?}, {payload} bytes"
                            );
                            forwarded += compare(
                                &mut pair,
                                UPLINK,
                                &frame,
                                Instant::from_millis(now),
                                &label,
                            );
                            now += 3;
                        }
                    }
                }
            }
        }
        assert!(
            forwarded > 20,
            "{translation}: some of these leave the router"
        );
    }
}

/// The one's complement sum of `bytes` (RFC 1071), folded, with `initial`.
fn ones_complement_sum(bytes: &[u8], initial: u32) -> u32 {
    let mut total = initial;
    for pair in bytes.chunks(2) {
        total += u32::from(u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]));
    }
    while total > 0xffff {
        total = (total & 0xffff) + (total >> 16);
    }
    total
}

/// An ICMPv6 frame from the LAN: `header` (type, code, checksum, second
/// word; the checksum is filled in, off by one when `corrupt`) and `body`.
fn icmpv6_frame(
    source: Ipv6Addr,
    destination: Ipv6Addr,
    hop_limit: u8,
    header: [u8; 8],
    body: &[u8],
    corrupt: bool,
) -> Vec<u8> {
    let mut message = header.to_vec();
    message.extend_from_slice(body);
    let mut pseudo = Vec::new();
    pseudo.extend_from_slice(&source.octets());
    pseudo.extend_from_slice(&destination.octets());
    pseudo.extend_from_slice(&(message.len() as u32).to_be_bytes());
    pseudo.extend_from_slice(&[0, 0, 0, 58]);
    let total = ones_complement_sum(&message, ones_complement_sum(&pseudo, 0));
    let checksum = !(total as u16) ^ u16::from(corrupt);
    message[2..4].copy_from_slice(&checksum.to_be_bytes());
    let header = Ipv6Header {
        traffic_class: 0x28,
        flow_label: Default::default(),
        payload_length: message.len() as u16,
        next_header: IpNumber(58),
        hop_limit,
        source: source.octets(),
        destination: destination.octets(),
    };
    let mut frame = Vec::new();
    frame.extend_from_slice(&ROUTER_MACS[0]);
    frame.extend_from_slice(&HOST_MAC);
    frame.extend_from_slice(&[0x86, 0xdd]);
    header.write(&mut frame).unwrap();
    frame.extend_from_slice(&message);
    frame
}

/// ICMPv6 headers: every type and code RFC 7915 §5.2 translates, Packet
/// Too Big MTUs around the uplink's (1400) and 1280, every Parameter
/// Problem pointer of Figure 6 and some it does not list, an RFC 4884
/// length attribute, types and codes §5.2 drops.
fn icmpv6_error_headers() -> Vec<(String, [u8; 8])> {
    let header = |message_type: u8, code: u8, second: u32| {
        let word = second.to_be_bytes();
        (
            format!("type {message_type} code {code} word {second:#x}"),
            [message_type, code, 0, 0, word[0], word[1], word[2], word[3]],
        )
    };
    let mut headers = Vec::new();
    for code in 0..=6 {
        headers.push(header(1, code, 0));
    }
    headers.push(header(1, 4, 3 << 24));
    headers.push(header(3, 0, 9 << 24));
    for mtu in [0, 1279, 1280, 1300, 1419, 1420, 1421, 1500, 9000, u32::MAX] {
        headers.push(header(2, 0, mtu));
    }
    for code in [0, 1, 5] {
        headers.push(header(3, code, 0));
    }
    for pointer in [0, 1, 2, 4, 5, 6, 7, 8, 23, 24, 39, 40, 1000] {
        headers.push(header(4, 0, pointer));
    }
    for code in [1, 2, 3] {
        headers.push(header(4, code, 6));
    }
    for message_type in [0, 5, 100] {
        headers.push(header(message_type, 0, 0));
    }
    headers
}

/// Packets an ICMPv6 error from the LAN quotes: sent by `from` (an IPv4
/// host as IPv6) to `to`, UDP, TCP and echo of several sizes, cut short,
/// larger than a 576-byte ICMPv4 error holds, with extension headers, a
/// fragment, an error inside, another ICMPv6 type, an unmapped address.
fn quoted_packets(from: Ipv6Addr, to: Ipv6Addr) -> Vec<(String, Vec<u8>)> {
    let build = |transport: Transport, size: usize, extension: Extension| {
        let mut frame = ipv6_frame(from, to, 9, 0x48, extension, transport, size);
        frame.drain(..14);
        frame
    };
    let mut packets = Vec::new();
    for size in [0, 1, 16, 17, 527, 528, 529, 1100] {
        for transport in [Transport::Udp, Transport::Tcp, Transport::Icmp] {
            packets.push((
                format!("{transport:?}, {size} bytes"),
                build(transport, size, Extension::None),
            ));
        }
    }
    let udp = build(Transport::Udp, 40, Extension::None);
    let mut zero_checksum = udp.clone();
    zero_checksum[46..48].fill(0);
    packets.push(("UDP, zero checksum".into(), zero_checksum));
    for length in [3, 8, 20] {
        packets.push((format!("UDP cut to {length}"), udp[..40 + length].to_vec()));
    }
    for length in [31, 32] {
        let mut shorter = udp.clone();
        shorter[4..6].copy_from_slice(&(length as u16).to_be_bytes());
        packets.push((format!("UDP, Payload Length {length} of 48"), shorter));
    }
    let mut reply = build(Transport::Icmp, 8, Extension::None);
    reply[40] = 129;
    packets.push(("echo reply".into(), reply.clone()));
    packets.push(("echo cut to 2".into(), reply[..42].to_vec()));
    let mut solicitation = reply.clone();
    solicitation[40] = 135;
    packets.push(("neighbor solicitation".into(), solicitation));
    let mut nested = icmpv6_frame(to, from, 9, [1, 4, 0, 0, 0, 0, 0, 0], &udp, false);
    nested.drain(..14);
    packets.push(("an error quoting an error".into(), nested));
    for extension in [
        Extension::DestinationOptions,
        Extension::HopByHop,
        Extension::Routing(1),
        Extension::Fragment(0, true),
        Extension::Fragment(0, false),
        Extension::Fragment(100, false),
    ] {
        packets.push((
            format!("UDP after {extension:?}"),
            build(Transport::Udp, 16, extension),
        ));
    }
    let mut unmapped = udp.clone();
    unmapped[8..10].copy_from_slice(&[0x30, 0]);
    packets.push(("unmapped inner source".into(), unmapped));
    packets.push(("quoted header cut".into(), udp[..30].to_vec()));
    packets
}

/// ICMPv6 errors from the LAN toward IPv4 (RFC 7915 §5.2, §5.3): the
/// fast path takes the common shape and must give what the general path
/// gives, for every type and code, Packet Too Big MTU and Parameter
/// Problem pointer, quoted packet, source (an EAM host, an unmapped
/// router: RFC 6791 pool, or NAT64's when it exists), destination
/// (hairpinned, broadcast, on-link, unresolved), hop limit, and with a bad
/// checksum; the rest it declines to the general path.
#[test]
fn ipv6_to_ipv4_icmp_errors_match_the_general_path() {
    let server = mapped(Ipv4Addr::new(203, 0, 113, 80));
    let sources = [("EAM host", lan(0xa)), ("unmapped router", lan(0xb))];
    for translation in TRANSLATIONS {
        let mut pair = routers(translation);
        let mut now = 1000;
        let mut forwarded = 0;
        for (source_name, source) in sources {
            for (header_name, header) in icmpv6_error_headers() {
                for (quoted_name, quoted) in quoted_packets(server, lan(0xa)) {
                    for corrupt in [false, true] {
                        let frame = icmpv6_frame(source, server, 64, header, &quoted, corrupt);
                        let label = format!(
                            "{translation}: {source_name}, {header_name}, {quoted_name}, \
                             bad checksum {corrupt}"
                        );
                        forwarded +=
                            compare(&mut pair, LAN, &frame, Instant::from_millis(now), &label);
                        now += 1;
                    }
                }
            }
        }
        let udp = quoted_packets(server, lan(0xa)).swap_remove(0).1;
        for (destination_name, destination) in ipv6_destinations() {
            for (source_name, source) in sources {
                for hop_limit in [1, 2, 64] {
                    for header in [[1, 4, 0, 0, 0, 0, 0, 0], [2, 0, 0, 0, 0, 0, 0x05, 0xdc]] {
                        let frame =
                            icmpv6_frame(source, destination, hop_limit, header, &udp, false);
                        let label = format!(
                            "{translation}: {source_name} → {destination_name}, hop limit \
                             {hop_limit}, {header:?}"
                        );
                        forwarded +=
                            compare(&mut pair, LAN, &frame, Instant::from_millis(now), &label);
                        now += 3;
                    }
                }
            }
        }
        assert!(
            forwarded > 1000,
            "{translation}: most of these leave the router ({forwarded})"
        );
    }
}

/// A change to an IPv4 frame from [`ipv4_frame`], header checksum
/// recomputed unless the change is to break it.
#[derive(Clone, Copy, Debug)]
enum Ipv4Change {
    None,
    /// These options after the 20-byte header.
    Options(&'static [u8]),
    /// This Type of Service.
    TypeOfService(u8),
    BadHeaderChecksum,
    /// Link padding after Total Length.
    Padding,
    /// Version 5 in the version field.
    Version5,
}

fn changed(mut frame: Vec<u8>, change: Ipv4Change) -> Vec<u8> {
    const IP: usize = 14;
    match change {
        Ipv4Change::None => return frame,
        Ipv4Change::Options(options) => {
            let at = IP + 20;
            frame.splice(at..at, options.iter().copied());
            frame[IP] = 0x40 | ((20 + options.len()) / 4) as u8;
            let total = u16::from_be_bytes([frame[IP + 2], frame[IP + 3]]) + options.len() as u16;
            frame[IP + 2..IP + 4].copy_from_slice(&total.to_be_bytes());
        }
        Ipv4Change::TypeOfService(value) => frame[IP + 1] = value,
        Ipv4Change::BadHeaderChecksum => {
            frame[IP + 10] ^= 0x10;
            return frame;
        }
        Ipv4Change::Padding => {
            frame.extend_from_slice(&[0; 6]);
            return frame;
        }
        Ipv4Change::Version5 => frame[IP] = 0x50 | (frame[IP] & 0x0f),
    }
    let header_length = usize::from(frame[IP] & 0x0f) * 4;
    frame[IP + 10..IP + 12].fill(0);
    let mut sum = 0u32;
    for pair in frame[IP..IP + header_length].chunks(2) {
        sum += u32::from(u16::from_be_bytes([pair[0], pair[1]]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    frame[IP + 10..IP + 12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    frame
}

/// The plain 4→6 path (`Uplink::plain_inbound`, `PlainIpv4ToIpv6`) at
/// each of its edges: options (ignored, unexpired source route, NOPs), a
/// bad header checksum, another version, link padding, the type of
/// service under both traffic class policies, TTL 0, 1, 2 and 255, DF
/// set and clear around `lowest_ipv6_mtu` (1280, and 1400 in the second
/// configuration) and the LAN MTU (1500), a zero UDP checksum under
/// either policy (RFC 7915 §4.5), EAM sources and destinations on-link
/// and behind IPv6 gateways (resolved or not), the router's own address,
/// a link-local EAM as source and as destination, multicast and the
/// limited broadcast, and NAT64's pool4.
#[test]
fn ipv4_to_ipv6_plain_path_edges_match_the_general_path() {
    let server = Ipv4Addr::new(203, 0, 113, 80);
    let sources = [
        ("server", server),
        ("EAM source", Ipv4Addr::new(198, 51, 100, 11)),
        ("link-local EAM source", Ipv4Addr::new(198, 51, 100, 40)),
    ];
    let destinations = [
        ("EAM host", Ipv4Addr::new(198, 51, 100, 10)),
        ("behind a gateway", Ipv4Addr::new(198, 51, 100, 20)),
        (
            "behind an unresolved gateway",
            Ipv4Addr::new(198, 51, 100, 30),
        ),
        ("router's own address", Ipv4Addr::new(198, 51, 100, 12)),
        ("link-local EAM", Ipv4Addr::new(198, 51, 100, 40)),
        ("multicast", Ipv4Addr::new(224, 0, 0, 9)),
        ("limited broadcast", Ipv4Addr::BROADCAST),
        ("NAT64 pool4", Ipv4Addr::new(192, 0, 2, 201)),
    ];
    let changes = [
        Ipv4Change::None,
        Ipv4Change::Options(&[1, 1, 1, 1]),
        Ipv4Change::Options(&[7, 7, 4, 0, 0, 0, 0, 0]),
        Ipv4Change::Options(&[131, 7, 4, 1, 2, 3, 4, 0]),
        Ipv4Change::TypeOfService(0xb9),
        Ipv4Change::BadHeaderChecksum,
        Ipv4Change::Padding,
        Ipv4Change::Version5,
    ];
    let transports = [Transport::Udp, Transport::UdpZeroChecksum, Transport::Tcp];
    for translation in TRANSLATIONS {
        let mut pair = routers(translation);
        let mut now = 1000;
        let mut forwarded = 0;
        for (source_name, source) in sources {
            for (destination_name, destination) in destinations {
                for transport in transports {
                    for ttl in [0, 1, 2, 255] {
                        for dont_fragment in [true, false] {
                            for change in changes {
                                let frame = changed(
                                    ipv4_frame(
                                        source,
                                        destination,
                                        ttl,
                                        dont_fragment,
                                        (0, false),
                                        transport,
                                        16,
                                    ),
                                    change,
                                );
                                let label = format!(
                                    "{translation}: {source_name} → {destination_name}, \
                                     {transport:?}, TTL {ttl}, DF {dont_fragment}, {change:?}"
                                );
                                forwarded += compare(
                                    &mut pair,
                                    UPLINK,
                                    &frame,
                                    Instant::from_millis(now),
                                    &label,
                                );
                                now += 3;
                            }
                        }
                    }
                }
            }
        }
        // Sizes as IPv6 around 1280, 1400 and the LAN MTU, 1500.
        for (destination_name, destination) in destinations.into_iter().take(2) {
            for ipv6_length in [1279, 1280, 1281, 1399, 1400, 1401, 1499, 1500, 1501] {
                for transport in transports {
                    for dont_fragment in [true, false] {
                        for change in [Ipv4Change::None, Ipv4Change::Padding] {
                            let header = if matches!(transport, Transport::Tcp) {
                                20
                            } else {
                                8
                            };
                            let frame = changed(
                                ipv4_frame(
                                    server,
                                    destination,
                                    64,
                                    dont_fragment,
                                    (0, false),
                                    transport,
                                    ipv6_length - 40 - header,
                                ),
                                change,
                            );
                            let label = format!(
                                "{translation}: → {destination_name}, {ipv6_length} bytes as \
                                 IPv6, {transport:?}, DF {dont_fragment}, {change:?}"
                            );
                            forwarded += compare(
                                &mut pair,
                                UPLINK,
                                &frame,
                                Instant::from_millis(now),
                                &label,
                            );
                            now += 3;
                        }
                    }
                }
            }
        }
        assert!(
            forwarded > 200,
            "{translation}: many of these leave the router ({forwarded})"
        );
    }
}

/// An IPv4 frame from the uplink gateway: an ICMPv4 error (`header`:
/// type, code, checksum bytes ignored, second word) from `source` to
/// `destination` quoting `quoted`, checksums computed.
fn icmp_error_frame(
    source: Ipv4Addr,
    destination: Ipv4Addr,
    ttl: u8,
    header: [u8; 8],
    quoted: &[u8],
) -> Vec<u8> {
    let mut message = header.to_vec();
    message.extend_from_slice(quoted);
    message[2..4].fill(0);
    let mut sum = 0u32;
    for pair in message.chunks(2) {
        sum += u32::from(u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    message[2..4].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    let mut outer = Ipv4Header::new(
        message.len() as u16,
        ttl,
        IpNumber::ICMP,
        source.octets(),
        destination.octets(),
    )
    .unwrap();
    outer.header_checksum = outer.calc_header_checksum();
    let mut frame = Vec::new();
    frame.extend_from_slice(&ROUTER_MACS[1]);
    frame.extend_from_slice(&GATEWAY_MAC);
    frame.extend_from_slice(&[0x08, 0x00]);
    outer.write(&mut frame).unwrap();
    frame.extend_from_slice(&message);
    frame
}

/// The plain ICMPv4 error case (RFC 7915 §4.2, §4.3: Destination
/// Unreachable, Fragmentation Needed, Time Exceeded quoting plain TCP,
/// UDP or echo) against the general path, with what it declines: other
/// types, RFC 4884 extensions, quoted fragments and nested errors,
/// unmapped quoted addresses, errors cut to 1280 bytes, options and bad
/// checksums outside, TTLs at the edge, destinations that are not
/// forwarded plainly.
#[test]
fn ipv4_icmp_error_plain_path_matches_the_general_path() {
    let server = Ipv4Addr::new(203, 0, 113, 80);
    let sources = [
        ("server", server),
        ("uplink gateway", Ipv4Addr::new(192, 0, 2, 254)),
        ("illegal source", Ipv4Addr::new(127, 0, 0, 1)),
    ];
    let destinations = [
        ("EAM host", Ipv4Addr::new(198, 51, 100, 10)),
        ("behind a gateway", Ipv4Addr::new(198, 51, 100, 20)),
        ("EAM host unresolved", Ipv4Addr::new(198, 51, 100, 13)),
        ("router's own address", Ipv4Addr::new(198, 51, 100, 12)),
        ("link-local EAM", Ipv4Addr::new(198, 51, 100, 40)),
        ("NAT64 pool4", Ipv4Addr::new(192, 0, 2, 201)),
    ];
    let headers: [[u8; 8]; 9] = [
        [3, 3, 0, 0, 0, 0, 0, 0],
        [3, 1, 0, 0, 0, 0, 0, 0],
        [3, 2, 0, 0, 0, 0, 0, 0],
        [3, 4, 0, 0, 0, 0, 0x05, 0x78],
        [3, 4, 0, 0, 0, 0, 0, 0],
        [11, 0, 0, 0, 0, 0, 0, 0],
        [3, 3, 0, 0, 0, 2, 0, 0],
        [3, 14, 0, 0, 0, 0, 0, 0],
        [12, 0, 0, 0, 8, 0, 0, 0],
    ];
    let changes = [
        Ipv4Change::None,
        Ipv4Change::Options(&[1, 1, 1, 1]),
        Ipv4Change::TypeOfService(0xb9),
        Ipv4Change::BadHeaderChecksum,
        Ipv4Change::Padding,
    ];
    for translation in TRANSLATIONS {
        let mut pair = routers(translation);
        let mut now = 1000;
        let mut forwarded = 0;
        for (destination_name, destination) in destinations {
            // What `destination` sent to the error's source, quoted.
            let quoted_frame = |transport: Transport, payload: usize, quoted_to: Ipv4Addr| {
                ipv4_frame(
                    destination,
                    quoted_to,
                    9,
                    true,
                    (0, false),
                    transport,
                    payload,
                )[14..]
                    .to_vec()
            };
            for (source_name, source) in sources {
                let mut fragment = quoted_frame(Transport::Udp, 16, source);
                fragment[6] |= 0x20;
                let quoted_packets = [
                    ("UDP", quoted_frame(Transport::Udp, 16, source)),
                    ("TCP", quoted_frame(Transport::Tcp, 16, source)),
                    ("echo", quoted_frame(Transport::Icmp, 16, source)),
                    (
                        "UDP cut",
                        quoted_frame(Transport::Udp, 16, source)[..26].to_vec(),
                    ),
                    ("fragment", fragment),
                    (
                        "unmapped quoted destination",
                        quoted_frame(Transport::Udp, 16, Ipv4Addr::new(198, 51, 100, 99)),
                    ),
                    ("UDP 1192 bytes", quoted_frame(Transport::Udp, 1164, source)),
                    ("UDP 1193 bytes", quoted_frame(Transport::Udp, 1165, source)),
                ];
                for header in headers {
                    for (quoted_name, quoted) in &quoted_packets {
                        for ttl in [1, 2, 64] {
                            for change in changes {
                                let frame = changed(
                                    icmp_error_frame(source, destination, ttl, header, quoted),
                                    change,
                                );
                                let label = format!(
                                    "{translation}: {source_name} → {destination_name}, \
                                     {header:?} quoting {quoted_name}, TTL {ttl}, {change:?}"
                                );
                                forwarded += compare(
                                    &mut pair,
                                    UPLINK,
                                    &frame,
                                    Instant::from_millis(now),
                                    &label,
                                );
                                now += 3;
                            }
                        }
                    }
                }
            }
        }
        assert!(
            forwarded > 200,
            "{translation}: many of these leave the router ({forwarded})"
        );
    }
}
