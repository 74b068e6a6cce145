//! Tests of the stateless translator: packet pairs built with etherparse (an independent packet library), one or more per RFC 7915 requirement, and malformed input that must not panic.

use std::format;
use std::string::String;
use std::vec;
use std::vec::Vec;

use core::net::{Ipv4Addr, Ipv6Addr};

use etherparse::{
    Icmpv4Type, Icmpv6Type, IpHeaders, IpNumber, Ipv4Extensions, Ipv4Header, PacketBuilder, icmpv4,
    icmpv6,
};

use super::icmp::{
    destination_unreachable_4_to_6, destination_unreachable_6_to_4, pointer_4_to_6, pointer_6_to_4,
};
use super::*;
use crate::translation::{AddressRole, TrafficClassPolicy, UdpZeroChecksum};

/// RFC 6052 with the network-specific prefix 2001:db8:64::/96 for every
/// address (ARCHITECTURE.md "Test addressing"); the RFC 6791 pool is
/// 198.51.100.1.
struct Pool6;

const PREFIX: [u8; 12] = [0x20, 0x01, 0x0d, 0xb8, 0, 0x64, 0, 0, 0, 0, 0, 0];
const RFC6791_SOURCE: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);

impl AddressTranslator for Pool6 {
    fn ipv6_to_ipv4(&self, address: Ipv6Addr, _: AddressRole) -> Result<Ipv4Addr, AddressError> {
        let octets = address.octets();
        if octets[..12] == PREFIX {
            Ok(Ipv4Addr::new(
                octets[12], octets[13], octets[14], octets[15],
            ))
        } else {
            Err(AddressError::NotMapped)
        }
    }

    fn ipv4_to_ipv6(&self, address: Ipv4Addr, _: AddressRole) -> Result<Ipv6Addr, AddressError> {
        Ok(embed(address))
    }

    fn icmp_error_source(&self, _: Ipv6Addr) -> Option<Ipv4Addr> {
        Some(RFC6791_SOURCE)
    }
}

/// [`Pool6`], saying (when `.0`) that it maps an address the same in
/// either role, as the router's translator does: then an ICMP error that
/// quotes the outer addresses swapped reuses the outer header's answers.
struct Pool6Roles(bool);

impl AddressTranslator for Pool6Roles {
    fn ipv6_to_ipv4(&self, address: Ipv6Addr, role: AddressRole) -> Result<Ipv4Addr, AddressError> {
        Pool6.ipv6_to_ipv4(address, role)
    }

    fn ipv4_to_ipv6(&self, address: Ipv4Addr, role: AddressRole) -> Result<Ipv6Addr, AddressError> {
        Pool6.ipv4_to_ipv6(address, role)
    }

    fn icmp_error_source(&self, source: Ipv6Addr) -> Option<Ipv4Addr> {
        Pool6.icmp_error_source(source)
    }

    fn ignores_role(&self) -> bool {
        self.0
    }
}

fn embed(address: Ipv4Addr) -> Ipv6Addr {
    let mut octets = [0u8; 16];
    octets[..12].copy_from_slice(&PREFIX);
    octets[12..].copy_from_slice(&address.octets());
    Ipv6Addr::from(octets)
}

/// The IPv4 side (an IPv4 host) and the IPv6 side (an IPv6 host with an
/// IPv4-translatable address, 2001:db8:64::192.0.2.1).
const HOST4: [u8; 4] = [198, 51, 100, 7];
const HOST6_AS_IPV4: [u8; 4] = [192, 0, 2, 1];

fn host4_as_ipv6() -> [u8; 16] {
    embed(Ipv4Addr::from(HOST4)).octets()
}

fn host6() -> [u8; 16] {
    embed(Ipv4Addr::from(HOST6_AS_IPV4)).octets()
}

fn settings() -> TranslationSettings {
    TranslationSettings::default()
}

fn path4() -> Ipv4ToIpv6Path {
    Ipv4ToIpv6Path {
        ipv6_next_hop_mtu: 1500,
        ipv4_link_mtu: 1500,
    }
}

fn path6() -> Ipv6ToIpv4Path {
    Ipv6ToIpv4Path {
        ipv4_next_hop_mtu: 1500,
        ipv6_link_mtu: 1500,
        identification: 0x4242,
        decrement_time_to_live: false,
    }
}

fn four_to_six(packet: &[u8]) -> Result<Vec<u8>, TranslationError> {
    four_to_six_with(packet, &settings(), &path4())
}

fn four_to_six_with(
    packet: &[u8],
    settings: &TranslationSettings,
    path: &Ipv4ToIpv6Path,
) -> Result<Vec<u8>, TranslationError> {
    let mut output = vec![0xa5u8; 70_000];
    let translated = translate_ipv4_to_ipv6(packet, &mut output, &Pool6, settings, path)?;
    output.truncate(translated.length);
    Ok(output)
}

fn six_to_four(packet: &[u8]) -> Result<Vec<u8>, TranslationError> {
    six_to_four_with(packet, &settings(), &path6())
}

fn six_to_four_with(
    packet: &[u8],
    settings: &TranslationSettings,
    path: &Ipv6ToIpv4Path,
) -> Result<Vec<u8>, TranslationError> {
    let mut output = vec![0xa5u8; 70_000];
    let translated = translate_ipv6_to_ipv4(packet, &mut output, &Pool6, settings, path)?;
    output.truncate(translated.length);
    Ok(output)
}

/// An IPv4 header with the given flags, for etherparse's builder (which
/// fills Total Length and the checksum).
fn ipv4_header(
    source: [u8; 4],
    destination: [u8; 4],
    time_to_live: u8,
    identification: u16,
    dont_fragment: bool,
) -> IpHeaders {
    let mut header = Ipv4Header::new(0, time_to_live, IpNumber::UDP, source, destination).unwrap();
    header.identification = identification;
    header.dont_fragment = dont_fragment;
    IpHeaders::Ipv4(header, Ipv4Extensions::default())
}

fn write(builder_size: usize, write: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(builder_size);
    write(&mut bytes);
    bytes
}

fn udp4(source: [u8; 4], destination: [u8; 4], payload: &[u8]) -> Vec<u8> {
    write(64, |bytes| {
        PacketBuilder::ip(ipv4_header(source, destination, 64, 0x1234, true))
            .udp(5000, 53)
            .write(bytes, payload)
            .unwrap()
    })
}

fn udp6(source: [u8; 16], destination: [u8; 16], payload: &[u8]) -> Vec<u8> {
    write(64, |bytes| {
        PacketBuilder::ipv6(source, destination, 64)
            .udp(5000, 53)
            .write(bytes, payload)
            .unwrap()
    })
}

// ---------------------------------------------------------------- §4.1, §4.5

/// §4.1 header fields and §4.5 UDP checksum: a UDP datagram from IPv4 is
/// exactly the datagram etherparse builds for the mapped IPv6 addresses.
#[test]
fn rfc7915_4_1_udp_matches_etherparse() {
    let input = udp4(HOST4, HOST6_AS_IPV4, b"hello, ipv6");
    let expected = udp6(host4_as_ipv6(), host6(), b"hello, ipv6");
    assert_eq!(four_to_six(&input).unwrap(), expected);
}

/// §4.1 and §4.5: TCP with its checksum updated for the pseudo-header.
#[test]
fn rfc7915_4_1_tcp_matches_etherparse() {
    let payload = b"GET / HTTP/1.0\r\n\r\n";
    let mut input = Vec::new();
    PacketBuilder::ip(ipv4_header(HOST4, HOST6_AS_IPV4, 17, 1, true))
        .tcp(40000, 80, 0x01020304, 1024)
        .syn()
        .write(&mut input, payload)
        .unwrap();
    let mut expected = Vec::new();
    PacketBuilder::ipv6(host4_as_ipv6(), host6(), 17)
        .tcp(40000, 80, 0x01020304, 1024)
        .syn()
        .write(&mut expected, payload)
        .unwrap();
    assert_eq!(four_to_six(&input).unwrap(), expected);
    // And back (§5.1, §5.5), with the identification from the generator
    // and DF clear (≤ 1260 bytes).
    let mut expected_ipv4 = Vec::new();
    PacketBuilder::ip(ipv4_header(HOST6_AS_IPV4, HOST4, 17, 0x4242, false))
        .tcp(40000, 80, 0x01020304, 1024)
        .syn()
        .write(&mut expected_ipv4, payload)
        .unwrap();
    let mut reverse = Vec::new();
    PacketBuilder::ipv6(host6(), host4_as_ipv6(), 17)
        .tcp(40000, 80, 0x01020304, 1024)
        .syn()
        .write(&mut reverse, payload)
        .unwrap();
    assert_eq!(six_to_four(&reverse).unwrap(), expected_ipv4);
}

/// §4.1 "Traffic Class" copied by default and zero by policy; "Flow
/// Label" 0; "Hop Limit" copied (the router decrements).
#[test]
fn rfc7915_4_1_traffic_class_policy() {
    let mut input = udp4(HOST4, HOST6_AS_IPV4, b"x");
    input[1] = 0xb8;
    // Fix the header checksum after the change.
    input[10] = 0;
    input[11] = 0;
    let sum = crate::translation::checksum::internet_checksum(&input[..20]);
    input[10..12].copy_from_slice(&sum.to_be_bytes());
    let output = four_to_six(&input).unwrap();
    assert_eq!(output[0], 0x6b);
    assert_eq!(output[1], 0x80);
    assert_eq!(output[2..4], [0, 0]);
    assert_eq!(output[7], 64);
    let zero = TranslationSettings {
        traffic_class: TrafficClassPolicy::Zero,
        ..settings()
    };
    let output = four_to_six_with(&input, &zero, &path4()).unwrap();
    assert_eq!(output[0..4], [0x60, 0, 0, 0]);
}

/// §4.1: options are ignored (not copied); an unexpired source route is
/// refused with a 3/5 answer; an expired one is ignored.
#[test]
fn rfc7915_4_1_options() {
    let plain = udp4(HOST4, HOST6_AS_IPV4, b"options");
    let with_options = |option: &[u8]| {
        let mut header = Ipv4Header::new(15, 64, IpNumber::UDP, HOST4, HOST6_AS_IPV4).unwrap();
        header.identification = 0x1234;
        header.options = option.try_into().unwrap();
        let mut bytes = Vec::new();
        PacketBuilder::ip(IpHeaders::Ipv4(header, Ipv4Extensions::default()))
            .udp(5000, 53)
            .write(&mut bytes, b"options")
            .unwrap();
        bytes
    };
    let expected = four_to_six(&plain).unwrap();
    // Record route (7), ignored.
    let record_route = with_options(&[7, 7, 4, 0, 0, 0, 0, 0]);
    assert_eq!(four_to_six(&record_route).unwrap(), expected);
    // Loose source route with pointer 4 ≤ length 7: unexpired.
    let source_route = with_options(&[131, 7, 4, 1, 2, 3, 4, 0]);
    let error = four_to_six(&source_route).unwrap_err();
    assert_eq!(error, TranslationError::SourceRoute);
    assert_eq!(error.icmp_answer(), Some(IcmpAnswer::SourceRouteFailed));
    // Strict source route with pointer 8 > length 7: expired, ignored.
    let expired = with_options(&[137, 7, 8, 1, 2, 3, 4, 0]);
    assert_eq!(four_to_six(&expired).unwrap(), expected);
    // An option running past the header.
    let malformed = with_options(&[68, 40, 0, 0]);
    assert_eq!(
        four_to_six(&malformed).unwrap_err(),
        TranslationError::BadIpv4Options
    );
}

/// §4.1 "Source Address": illegal IPv4 sources are dropped.
#[test]
fn rfc7915_4_1_illegal_source() {
    for source in [
        [0, 0, 0, 0],
        [127, 0, 0, 1],
        [224, 0, 0, 1],
        [255, 255, 255, 255],
    ] {
        let input = udp4(source, HOST6_AS_IPV4, b"x");
        assert_eq!(
            four_to_six(&input).unwrap_err(),
            TranslationError::IllegalSource
        );
    }
}

/// §4.5: zero UDP checksum, both policies, and fragments.
#[test]
fn rfc7915_4_5_udp_zero_checksum() {
    let mut input = udp4(HOST4, HOST6_AS_IPV4, b"no checksum");
    input[26] = 0;
    input[27] = 0;
    // Compute: the result is the checksum etherparse computes.
    let expected = udp6(host4_as_ipv6(), host6(), b"no checksum");
    assert_eq!(four_to_six(&input).unwrap(), expected);
    let drop = TranslationSettings {
        udp_zero_checksum: UdpZeroChecksum::Drop,
        ..settings()
    };
    assert_eq!(
        four_to_six_with(&input, &drop, &path4()).unwrap_err(),
        TranslationError::UdpZeroChecksum
    );
    // A first fragment with checksum 0 is dropped under both policies.
    let fragment = ipv4_fragment(&input[20..], 0x77, 0, true, IpNumber::UDP);
    assert_eq!(
        four_to_six(&fragment).unwrap_err(),
        TranslationError::FragmentedUdpZeroChecksum
    );
}

/// §4.5 and the module's checksum decision: a wrong TCP/UDP checksum is
/// updated incrementally and stays exactly as wrong.
#[test]
fn wrong_udp_checksum_stays_wrong() {
    let mut input = udp4(HOST4, HOST6_AS_IPV4, b"corrupt");
    input[27] ^= 0x01;
    let expected = udp6(host4_as_ipv6(), host6(), b"corrupt");
    let output = four_to_six(&input).unwrap();
    assert_eq!(output[..46], expected[..46]);
    assert_eq!(output[48..], expected[48..]);
    assert_ne!(output[46..48], expected[46..48]);
}

/// An IPv4 fragment built by hand: `payload` bytes at `offset`.
fn ipv4_fragment(
    payload: &[u8],
    identification: u16,
    offset: u16,
    more_fragments: bool,
    protocol: IpNumber,
) -> Vec<u8> {
    let mut header =
        Ipv4Header::new(payload.len() as u16, 64, protocol, HOST4, HOST6_AS_IPV4).unwrap();
    header.identification = identification;
    header.dont_fragment = false;
    header.more_fragments = more_fragments;
    header.fragment_offset = etherparse::IpFragOffset::try_new(offset / 8).unwrap();
    header.header_checksum = header.calc_header_checksum();
    let mut bytes = header.to_bytes().to_vec();
    bytes.extend_from_slice(payload);
    bytes
}

/// §4.1 "If there is a need to add a Fragment Header": offset, M and the
/// Identification in the low 16 bits; Payload Length + 8; Next Header 44.
/// Non-first fragments are copied as they are (no transport header).
#[test]
fn rfc7915_4_1_fragments_get_a_fragment_header() {
    let datagram = udp4(HOST4, HOST6_AS_IPV4, &[0x11; 40]);
    let expected_datagram = udp6(host4_as_ipv6(), host6(), &[0x11; 40]);
    let first = ipv4_fragment(&datagram[20..44], 0xbeef, 0, true, IpNumber::UDP);
    let output = four_to_six(&first).unwrap();
    let (header, rest) = etherparse::Ipv6Header::from_slice(&output).unwrap();
    assert_eq!(header.payload_length, 8 + 24);
    assert_eq!(u8::from(header.next_header), 44);
    assert_eq!(rest[0], 17);
    assert_eq!(rest[2..4], [0, 1]);
    assert_eq!(rest[4..8], [0, 0, 0xbe, 0xef]);
    // The UDP header carries the checksum of the whole IPv6 datagram.
    assert_eq!(rest[8..32], expected_datagram[40..64]);

    let second = ipv4_fragment(&datagram[44..], 0xbeef, 24, false, IpNumber::UDP);
    let output = four_to_six(&second).unwrap();
    assert_eq!(output[40..48], [17, 0, 0, 24, 0, 0, 0xbe, 0xef]);
    assert_eq!(output[48..], datagram[44..]);
}

/// §1.2: fragmented ICMP is not translated.
#[test]
fn rfc7915_1_2_fragmented_icmp_dropped() {
    let fragment = ipv4_fragment(&[8, 0, 0, 0, 0, 0, 0, 0], 1, 0, true, IpNumber::ICMP);
    assert_eq!(
        four_to_six(&fragment).unwrap_err(),
        TranslationError::FragmentedIcmp
    );
}

/// §4.1: DF set and too big for the IPv6 next hop → fragmentation needed
/// with the IPv4 MTU (next-hop MTU − 20).
#[test]
fn rfc7915_4_1_dont_fragment_too_big() {
    let input = udp4(HOST4, HOST6_AS_IPV4, &[0; 1400]);
    let path = Ipv4ToIpv6Path {
        ipv6_next_hop_mtu: 1400,
        ..path4()
    };
    let error = four_to_six_with(&input, &settings(), &path).unwrap_err();
    assert_eq!(error, TranslationError::FragmentationNeeded { mtu: 1380 });
    assert_eq!(
        error.icmp_answer(),
        Some(IcmpAnswer::FragmentationNeeded { mtu: 1380 })
    );
}

/// §4.1: DF clear and larger than lowest-ipv6-mtu → fragments of at most
/// lowest-ipv6-mtu, each with a Fragment Header, Identification = IPv4 ID;
/// not larger → no Fragment Header.
#[test]
fn rfc7915_4_1_lowest_ipv6_mtu_fragmentation() {
    let payload: Vec<u8> = (0..3000u32).map(|value| value as u8).collect();
    let mut input = Vec::new();
    PacketBuilder::ip(ipv4_header(HOST4, HOST6_AS_IPV4, 64, 0x5555, false))
        .udp(5000, 53)
        .write(&mut input, &payload)
        .unwrap();
    let mut output = vec![0u8; 4000];
    let translated =
        translate_ipv4_to_ipv6(&input, &mut output, &Pool6, &settings(), &path4()).unwrap();
    let fragmentation = translated.fragmentation.unwrap();
    assert_eq!(
        fragmentation,
        Fragmentation {
            maximum_size: 1280,
            identification: 0x5555
        }
    );
    let whole = &output[..translated.length];
    assert_eq!(whole, udp6(host4_as_ipv6(), host6(), &payload));
    let mut scratch = [0u8; 1280];
    let mut fragments: Vec<Vec<u8>> = Vec::new();
    let count = fragment_ipv6(whole, fragmentation, &mut scratch, |fragment| {
        fragments.push(fragment.to_vec())
    })
    .unwrap();
    assert_eq!(count, 3);
    let mut reassembled = Vec::new();
    for (index, fragment) in fragments.iter().enumerate() {
        assert!(fragment.len() <= 1280);
        let (header, rest) = etherparse::Ipv6Header::from_slice(fragment).unwrap();
        assert_eq!(usize::from(header.payload_length) + 40, fragment.len());
        let (fragment_header, data) = etherparse::Ipv6FragmentHeader::from_slice(rest).unwrap();
        assert_eq!(fragment_header.identification, 0x5555);
        assert_eq!(u8::from(fragment_header.next_header), 17);
        assert_eq!(
            usize::from(fragment_header.fragment_offset.byte_offset()),
            reassembled.len()
        );
        assert_eq!(fragment_header.more_fragments, index + 1 < count);
        reassembled.extend_from_slice(data);
    }
    assert_eq!(reassembled, whole[40..]);

    // 1232 IPv4 payload bytes → 1272 IPv6 bytes: fits, no Fragment Header.
    let mut small = Vec::new();
    PacketBuilder::ip(ipv4_header(HOST4, HOST6_AS_IPV4, 64, 1, false))
        .udp(5000, 53)
        .write(&mut small, &payload[..1224])
        .unwrap();
    let mut output = vec![0u8; 4000];
    let translated =
        translate_ipv4_to_ipv6(&small, &mut output, &Pool6, &settings(), &path4()).unwrap();
    assert_eq!(translated.fragmentation, None);
    assert_eq!(output[6], 17);
}

/// Fragmenting an IPv4 fragment keeps its Identification, offset base and
/// M on the last piece; bad sizes are refused.
#[test]
fn fragment_ipv6_of_a_fragment_and_errors() {
    let data = [7u8; 2000];
    let fragment = ipv4_fragment(&data, 0x99, 800, true, IpNumber::UDP);
    let mut output = vec![0u8; 4000];
    let translated =
        translate_ipv4_to_ipv6(&fragment, &mut output, &Pool6, &settings(), &path4()).unwrap();
    let fragmentation = translated.fragmentation.unwrap();
    let mut scratch = [0u8; 1280];
    let mut seen = Vec::new();
    fragment_ipv6(
        &output[..translated.length],
        fragmentation,
        &mut scratch,
        |piece| seen.push((piece[42], piece[43], piece[44..48].to_vec(), piece.len())),
    )
    .unwrap();
    // 800 = 0x320 → offset word 0x0321 (M); 800 + 1232 = 2032 = 0x7f0.
    assert_eq!(seen[0].0, 0x03);
    assert_eq!(seen[0].1, 0x21);
    assert_eq!(seen[0].2, [0, 0, 0, 0x99]);
    assert_eq!((seen[1].0, seen[1].1), (0x07, 0xf1));
    let too_small = Fragmentation {
        maximum_size: 50,
        identification: 0,
    };
    assert_eq!(
        fragment_ipv6(
            &output[..translated.length],
            too_small,
            &mut scratch,
            |_| {}
        ),
        Err(TranslationError::FragmentSizeTooSmall)
    );
    let mut tiny_scratch = [0u8; 100];
    assert_eq!(
        fragment_ipv6(
            &output[..translated.length],
            fragmentation,
            &mut tiny_scratch,
            |_| {}
        ),
        Err(TranslationError::OutputTooSmall)
    );
    // M set and a length that is not a multiple of 8: pieces would overlap.
    let odd = ipv4_fragment(&[1u8; 13], 1, 0, false, IpNumber::UDP);
    let mut odd_output = four_to_six(&odd).unwrap();
    // Make it look like a fragment with M set by hand.
    odd_output[6] = 44;
    odd_output.splice(40..40, [17u8, 0, 0, 1, 0, 0, 0, 1]);
    let payload_length = (odd_output.len() - 40) as u16;
    odd_output[4..6].copy_from_slice(&payload_length.to_be_bytes());
    assert_eq!(
        fragment_ipv6(&odd_output, fragmentation, &mut scratch, |_| {}),
        Err(TranslationError::FragmentOutOfRange)
    );
}

// ---------------------------------------------------------------- §5.1

/// §5.1: UDP from IPv6, DF clear at ≤ 1260 bytes, Identification from the
/// generator, TTL = Hop Limit.
#[test]
fn rfc7915_5_1_udp_matches_etherparse() {
    let input = udp6(host6(), host4_as_ipv6(), b"hello, ipv4");
    let mut expected = Vec::new();
    PacketBuilder::ip(ipv4_header(HOST6_AS_IPV4, HOST4, 64, 0x4242, false))
        .udp(5000, 53)
        .write(&mut expected, b"hello, ipv4")
        .unwrap();
    assert_eq!(six_to_four(&input).unwrap(), expected);
}

/// §5.1 "Type of Service": the traffic class is copied by default; the
/// administrator's option to ignore it writes 0 (`TrafficClassPolicy::Zero`,
/// the one value pure6 offers), with the header checksum over it.
#[test]
fn rfc7915_5_1_traffic_class_policy() {
    let mut input = udp6(host6(), host4_as_ipv6(), b"tos");
    input[0] = 0x6b;
    input[1] = 0x80;
    let copied = six_to_four(&input).unwrap();
    assert_eq!(copied[1], 0xb8);
    let zero = TranslationSettings {
        traffic_class: TrafficClassPolicy::Zero,
        ..settings()
    };
    let zeroed = six_to_four_with(&input, &zero, &path6()).unwrap();
    assert_eq!(zeroed[1], 0);
    for output in [&copied, &zeroed] {
        let header = Ipv4Header::from_slice(output).unwrap().0;
        assert_eq!(header.calc_header_checksum(), header.header_checksum);
    }
}

/// §5.1 "Time to Live": a translator forwarding the packet writes the hop
/// limit minus one (header checksum over the decremented value); an
/// expired hop limit stays zero rather than wrapping.
#[test]
fn rfc7915_5_1_time_to_live_decremented_when_forwarding() {
    let forwarding = Ipv6ToIpv4Path {
        decrement_time_to_live: true,
        ..path6()
    };
    let input = udp6(host6(), host4_as_ipv6(), b"hello, ipv4");
    let mut expected = Vec::new();
    PacketBuilder::ip(ipv4_header(HOST6_AS_IPV4, HOST4, 63, 0x4242, false))
        .udp(5000, 53)
        .write(&mut expected, b"hello, ipv4")
        .unwrap();
    assert_eq!(
        six_to_four_with(&input, &settings(), &forwarding).unwrap(),
        expected
    );
    let mut expired = input.clone();
    expired[7] = 0;
    let output = six_to_four_with(&expired, &settings(), &forwarding).unwrap();
    assert_eq!(output[8], 0);
    let header = Ipv4Header::from_slice(&output).unwrap().0;
    assert_eq!(header.calc_header_checksum(), header.header_checksum);
}

/// §5 and §5.1 "Flags" (RFC 8021): ≤ 1260 bytes → DF clear, 1261 → DF
/// set; too big for the IPv4 next hop → Packet Too Big with MTU + 20 (at
/// least 1280) when DF, IPv4 fragmentation when not.
#[test]
fn rfc7915_5_1_dont_fragment_threshold() {
    let at_threshold = udp6(host6(), host4_as_ipv6(), &[0; 1260 - 28]);
    let output = six_to_four(&at_threshold).unwrap();
    assert_eq!(output.len(), 1260);
    assert_eq!(output[6] & 0x40, 0);
    let above = udp6(host6(), host4_as_ipv6(), &[0; 1261 - 28]);
    let output = six_to_four(&above).unwrap();
    assert_eq!(output.len(), 1261);
    assert_eq!(output[6] & 0x40, 0x40);

    let path = Ipv6ToIpv4Path {
        ipv4_next_hop_mtu: 1400,
        ..path6()
    };
    let big = udp6(host6(), host4_as_ipv6(), &[0; 1472]);
    let error = six_to_four_with(&big, &settings(), &path).unwrap_err();
    assert_eq!(error, TranslationError::PacketTooBig { mtu: 1420 });
    assert_eq!(
        error.icmp_answer(),
        Some(IcmpAnswer::PacketTooBig { mtu: 1420 })
    );
    let small_mtu = Ipv6ToIpv4Path {
        ipv4_next_hop_mtu: 576,
        ..path6()
    };
    assert_eq!(
        six_to_four_with(&big, &settings(), &small_mtu).unwrap_err(),
        TranslationError::PacketTooBig { mtu: 1280 }
    );
    // ≤ 1280 IPv6 → DF clear → fragmented in IPv4 (§5.1.1 last paragraph).
    let mut output = vec![0u8; 2000];
    let translated =
        translate_ipv6_to_ipv4(&at_threshold, &mut output, &Pool6, &settings(), &small_mtu)
            .unwrap();
    let fragmentation = translated.fragmentation.unwrap();
    assert_eq!(fragmentation.maximum_size, 576);
    let mut scratch = [0u8; 576];
    let mut reassembled = Vec::new();
    let mut offsets = Vec::new();
    fragment_ipv4(
        &output[..translated.length],
        fragmentation,
        &mut scratch,
        |fragment| {
            let (header, data) = Ipv4Header::from_slice(fragment).unwrap();
            assert!(fragment.len() <= 576);
            assert_eq!(header.identification, 0x4242);
            assert!(!header.dont_fragment);
            offsets.push((header.fragment_offset.byte_offset(), header.more_fragments));
            assert_eq!(
                usize::from(header.fragment_offset.byte_offset()),
                reassembled.len()
            );
            reassembled.extend_from_slice(&data[..usize::from(header.total_len) - 20]);
        },
    )
    .unwrap();
    assert_eq!(offsets, [(0, true), (552, true), (1104, false)]);
    assert_eq!(reassembled, output[20..translated.length]);
}

/// An IPv6 packet with extension headers inserted after the fixed header:
/// `extensions` is the raw chain, `first` its first type, the last header's
/// Next Header must already name the upper layer.
fn with_extensions(packet: &[u8], first: u8, extensions: &[u8]) -> Vec<u8> {
    let mut bytes = packet.to_vec();
    bytes[6] = first;
    bytes.splice(40..40, extensions.iter().copied());
    let payload_length = (bytes.len() - 40) as u16;
    bytes[4..6].copy_from_slice(&payload_length.to_be_bytes());
    bytes
}

/// §5.1: Hop-by-Hop, Destination Options and Routing (Segments Left 0)
/// are skipped; Total Length and Protocol as if absent.
#[test]
fn rfc7915_5_1_extension_headers_skipped() {
    let plain = udp6(host6(), host4_as_ipv6(), b"extensions");
    let expected = six_to_four(&plain).unwrap();
    let chain = [
        60, 0, 1, 4, 0, 0, 0, 0, // Hop-by-Hop → Destination Options, PadN
        43, 0, 1, 4, 0, 0, 0, 0, // Destination Options → Routing
        17, 0, 4, 0, 0, 0, 0, 0, // Routing type 4, Segments Left 0 → UDP
    ];
    let input = with_extensions(&plain, 0, &chain);
    assert_eq!(six_to_four(&input).unwrap(), expected);
}

/// §5.1: a Routing header with Segments Left ≠ 0 → Parameter Problem 0
/// pointing at Segments Left.
#[test]
fn rfc7915_5_1_routing_header_segments_left() {
    let plain = udp6(host6(), host4_as_ipv6(), b"routed");
    let chain = [43, 0, 1, 4, 0, 0, 0, 0, 17, 0, 4, 1, 0, 0, 0, 0];
    let input = with_extensions(&plain, 0, &chain);
    let error = six_to_four(&input).unwrap_err();
    assert_eq!(
        error,
        TranslationError::RoutingHeader {
            pointer: 40 + 8 + 3
        }
    );
    assert_eq!(
        error.icmp_answer(),
        Some(IcmpAnswer::ParameterProblem {
            code: 0,
            pointer: 51
        })
    );
}

/// §5.1.1: Fragment Header → Identification low 16 bits, MF, offset, DF
/// clear, Total Length without the extension headers; an extension header
/// after the Fragment Header is dropped.
#[test]
fn rfc7915_5_1_1_fragment_header() {
    let whole = udp6(host6(), host4_as_ipv6(), &[3u8; 32]);
    // First fragment: 8 bytes of UDP header + 16 data bytes.
    let mut first = whole[..40 + 24].to_vec();
    first = with_extensions(
        &first,
        60,
        &[44, 0, 1, 4, 0, 0, 0, 0, 17, 0, 0, 1, 0x12, 0x34, 0xab, 0xcd],
    );
    let output = six_to_four(&first).unwrap();
    let (header, rest) = Ipv4Header::from_slice(&output).unwrap();
    assert_eq!(header.identification, 0xabcd);
    assert!(header.more_fragments);
    assert!(!header.dont_fragment);
    assert_eq!(header.fragment_offset.value(), 0);
    assert_eq!(header.total_len, 20 + 24);
    assert_eq!(u8::from(header.protocol), 17);
    // The UDP checksum is the IPv4 checksum of the whole datagram.
    let mut expected = Vec::new();
    PacketBuilder::ip(ipv4_header(HOST6_AS_IPV4, HOST4, 64, 0, false))
        .udp(5000, 53)
        .write(&mut expected, &[3u8; 32])
        .unwrap();
    assert_eq!(rest[..8], expected[20..28]);

    let mut second = whole.clone();
    second.truncate(40);
    second.extend_from_slice(&whole[64..]);
    let second = with_extensions(&second, 44, &[17, 0, 0, 24, 0x12, 0x34, 0xab, 0xcd]);
    let output = six_to_four(&second).unwrap();
    let (header, rest) = Ipv4Header::from_slice(&output).unwrap();
    assert_eq!(header.fragment_offset.byte_offset(), 24);
    assert!(!header.more_fragments);
    assert_eq!(rest, &whole[64..]);

    let after = with_extensions(
        &whole,
        44,
        &[60, 0, 0, 0, 0, 0, 0, 1, 17, 0, 1, 4, 0, 0, 0, 0],
    );
    assert_eq!(
        six_to_four(&after).unwrap_err(),
        TranslationError::ExtensionHeaderAfterFragment
    );
}

/// §5.1 "Source Address": ::1 and multicast sources are dropped; unmapped
/// addresses are named.
#[test]
fn rfc7915_5_1_addresses() {
    let loopback = udp6(Ipv6Addr::LOCALHOST.octets(), host4_as_ipv6(), b"x");
    assert_eq!(
        six_to_four(&loopback).unwrap_err(),
        TranslationError::IllegalSource
    );
    let unmapped: [u8; 16] = "2001:db8:1::1".parse::<Ipv6Addr>().unwrap().octets();
    let input = udp6(unmapped, host4_as_ipv6(), b"x");
    assert_eq!(
        six_to_four(&input).unwrap_err(),
        TranslationError::UntranslatableSource(AddressError::NotMapped)
    );
    assert!(six_to_four(&input).unwrap_err().is_address_failure());
    let input = udp6(host6(), unmapped, b"x");
    assert_eq!(
        six_to_four(&input).unwrap_err(),
        TranslationError::UntranslatableDestination(AddressError::NotMapped)
    );
}

/// RFC 8200 §8.1: an IPv6 UDP checksum of 0 is invalid; not forwarded as
/// an IPv4 "no checksum".
#[test]
fn ipv6_udp_zero_checksum_dropped() {
    let mut input = udp6(host6(), host4_as_ipv6(), b"x");
    input[46] = 0;
    input[47] = 0;
    assert_eq!(
        six_to_four(&input).unwrap_err(),
        TranslationError::Ipv6UdpZeroChecksum
    );
}

// ---------------------------------------------------------------- ICMP echo

/// §4.2 and §5.2 echo: types 8/0 ↔ 128/129, identifier and sequence kept,
/// checksum recomputed with / without the pseudo-header.
#[test]
fn rfc7915_echo_both_directions() {
    let data = b"ping data";
    for request in [true, false] {
        let mut ipv4 = Vec::new();
        let builder = PacketBuilder::ip(ipv4_header(HOST4, HOST6_AS_IPV4, 64, 9, false));
        if request {
            builder
                .icmpv4_echo_request(0x1111, 7)
                .write(&mut ipv4, data)
                .unwrap();
        } else {
            builder
                .icmpv4_echo_reply(0x1111, 7)
                .write(&mut ipv4, data)
                .unwrap();
        }
        let mut ipv6 = Vec::new();
        let builder = PacketBuilder::ipv6(host4_as_ipv6(), host6(), 64);
        if request {
            builder
                .icmpv6_echo_request(0x1111, 7)
                .write(&mut ipv6, data)
                .unwrap();
        } else {
            builder
                .icmpv6_echo_reply(0x1111, 7)
                .write(&mut ipv6, data)
                .unwrap();
        }
        assert_eq!(four_to_six(&ipv4).unwrap(), ipv6);

        let mut ipv6_back = Vec::new();
        let builder = PacketBuilder::ipv6(host6(), host4_as_ipv6(), 64);
        if request {
            builder
                .icmpv6_echo_request(0x1111, 7)
                .write(&mut ipv6_back, data)
                .unwrap();
        } else {
            builder
                .icmpv6_echo_reply(0x1111, 7)
                .write(&mut ipv6_back, data)
                .unwrap();
        }
        let mut ipv4_back = Vec::new();
        let mut header = Ipv4Header::new(0, 64, IpNumber::ICMP, HOST6_AS_IPV4, HOST4).unwrap();
        header.identification = 0x4242;
        header.dont_fragment = false;
        let builder = PacketBuilder::ip(IpHeaders::Ipv4(header, Ipv4Extensions::default()));
        if request {
            builder
                .icmpv4_echo_request(0x1111, 7)
                .write(&mut ipv4_back, data)
                .unwrap();
        } else {
            builder
                .icmpv4_echo_reply(0x1111, 7)
                .write(&mut ipv4_back, data)
                .unwrap();
        }
        assert_eq!(six_to_four(&ipv6_back).unwrap(), ipv4_back);
    }
}

/// Module decision: a wrong ICMP checksum is dropped, not repaired.
#[test]
fn bad_icmp_checksum_dropped() {
    let mut ipv4 = Vec::new();
    PacketBuilder::ip(ipv4_header(HOST4, HOST6_AS_IPV4, 64, 9, false))
        .icmpv4_echo_request(1, 1)
        .write(&mut ipv4, b"x")
        .unwrap();
    let last = ipv4.len() - 1;
    ipv4[last] ^= 0xff;
    assert_eq!(
        four_to_six(&ipv4).unwrap_err(),
        TranslationError::BadIcmpChecksum
    );
    let mut ipv6 = Vec::new();
    PacketBuilder::ipv6(host6(), host4_as_ipv6(), 64)
        .icmpv6_echo_request(1, 1)
        .write(&mut ipv6, b"x")
        .unwrap();
    let last = ipv6.len() - 1;
    ipv6[last] ^= 0xff;
    assert_eq!(
        six_to_four(&ipv6).unwrap_err(),
        TranslationError::BadIcmpChecksum
    );
}

/// §4.2 / §5.2: obsolete, single-hop and unknown types are dropped.
#[test]
fn rfc7915_unsupported_icmp_types_dropped() {
    for message_type in [4u8, 5, 6, 9, 10, 13, 14, 15, 16, 17, 18, 42] {
        let mut ipv4 = Vec::new();
        PacketBuilder::ip(ipv4_header(HOST4, HOST6_AS_IPV4, 64, 9, false))
            .icmpv4_raw(message_type, 0, [0; 4])
            .write(&mut ipv4, &[0u8; 28])
            .unwrap();
        assert!(
            matches!(
                four_to_six(&ipv4).unwrap_err(),
                TranslationError::UnsupportedIcmpType { message_type: t, .. } if t == message_type
            ),
            "type {message_type}"
        );
    }
    for message_type in [130u8, 131, 132, 133, 134, 135, 136, 137, 200, 5, 100] {
        let mut ipv6 = Vec::new();
        PacketBuilder::ipv6(host6(), host4_as_ipv6(), 255)
            .icmpv6_raw(message_type, 0, [0; 4])
            .write(&mut ipv6, &[0u8; 48])
            .unwrap();
        assert!(
            matches!(
                six_to_four(&ipv6).unwrap_err(),
                TranslationError::UnsupportedIcmpType { message_type: t, .. } if t == message_type
            ),
            "type {message_type}"
        );
    }
}

// ---------------------------------------------------------------- ICMP errors

/// The IPv6 packet an IPv6 host sent toward an IPv4 host, and its IPv4
/// translation, as quoted in errors.
fn original_pair() -> (Vec<u8>, Vec<u8>) {
    let ipv6 = udp6(host6(), host4_as_ipv6(), b"original datagram");
    let ipv4 = six_to_four(&ipv6).unwrap();
    (ipv6, ipv4)
}

fn icmpv4_error(source: [u8; 4], icmp_type: Icmpv4Type, quoted: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::new();
    PacketBuilder::ip(ipv4_header(source, HOST6_AS_IPV4, 50, 3, false))
        .icmpv4(icmp_type)
        .write(&mut bytes, quoted)
        .unwrap();
    bytes
}

fn icmpv6_packet(
    source: [u8; 16],
    destination: [u8; 16],
    icmp_type: Icmpv6Type,
    data: &[u8],
) -> Vec<u8> {
    let mut bytes = Vec::new();
    PacketBuilder::ipv6(source, destination, 50)
        .icmpv6(icmp_type)
        .write(&mut bytes, data)
        .unwrap();
    bytes
}

/// §4.2, §4.3: ICMPv4 port unreachable about a translated packet becomes
/// ICMPv6 port unreachable quoting exactly the packet the IPv6 host sent
/// (inner addresses translated, inner checksum restored, hop limit kept).
#[test]
fn rfc7915_4_3_error_quotes_the_original_packet() {
    let (ipv6, ipv4) = original_pair();
    let error = icmpv4_error(
        HOST4,
        Icmpv4Type::DestinationUnreachable(icmpv4::DestUnreachableHeader::Port),
        &ipv4,
    );
    let expected = icmpv6_packet(
        host4_as_ipv6(),
        host6(),
        Icmpv6Type::DestinationUnreachable(icmpv6::DestUnreachableCode::Port),
        &ipv6,
    );
    assert_eq!(four_to_six(&error).unwrap(), expected);
}

/// §5.2, §5.3: the reverse, an ICMPv6 error about a translated IPv4
/// packet quotes exactly the IPv4 packet (Identification 0 and DF clear,
/// as the quoted IPv6 packet has no Fragment Header).
#[test]
fn rfc7915_5_3_error_quotes_the_original_packet() {
    let mut ipv4 = Vec::new();
    PacketBuilder::ip(ipv4_header(HOST4, HOST6_AS_IPV4, 30, 0, false))
        .udp(5000, 53)
        .write(&mut ipv4, b"original datagram")
        .unwrap();
    let ipv6 = four_to_six(&ipv4).unwrap();
    let error = icmpv6_packet(
        host6(),
        host4_as_ipv6(),
        Icmpv6Type::DestinationUnreachable(icmpv6::DestUnreachableCode::Port),
        &ipv6,
    );
    let mut expected = Vec::new();
    let mut header = Ipv4Header::new(0, 50, IpNumber::ICMP, HOST6_AS_IPV4, HOST4).unwrap();
    header.identification = 0x4242;
    header.dont_fragment = false;
    PacketBuilder::ip(IpHeaders::Ipv4(header, Ipv4Extensions::default()))
        .icmpv4(Icmpv4Type::DestinationUnreachable(
            icmpv4::DestUnreachableHeader::Port,
        ))
        .write(&mut expected, &ipv4)
        .unwrap();
    assert_eq!(six_to_four(&error).unwrap(), expected);
}

/// §4.2: every Destination Unreachable code row, Time Exceeded, and the
/// Parameter Problem codes, through whole packets.
#[test]
fn rfc7915_4_2_type_and_code_table() {
    let (_, ipv4) = original_pair();
    let expectations: [(u8, Option<(u8, u8)>); 17] = [
        (0, Some((1, 0))),
        (1, Some((1, 0))),
        (2, Some((4, 1))),
        (3, Some((1, 4))),
        (4, Some((2, 0))),
        (5, Some((1, 0))),
        (6, Some((1, 0))),
        (7, Some((1, 0))),
        (8, Some((1, 0))),
        (9, Some((1, 1))),
        (10, Some((1, 1))),
        (11, Some((1, 0))),
        (12, Some((1, 0))),
        (13, Some((1, 1))),
        (14, None),
        (15, Some((1, 1))),
        (16, None),
    ];
    for (code, expected) in expectations {
        assert_eq!(
            destination_unreachable_4_to_6(code),
            expected,
            "code {code}"
        );
        let mut error = Vec::new();
        PacketBuilder::ip(ipv4_header(HOST4, HOST6_AS_IPV4, 50, 3, false))
            .icmpv4_raw(3, code, [0, 0, 0x05, 0xdc])
            .write(&mut error, &ipv4)
            .unwrap();
        match expected {
            Some((message_type, new_code)) => {
                let output = four_to_six(&error).unwrap();
                assert_eq!(
                    (output[40], output[41]),
                    (message_type, new_code),
                    "code {code}"
                );
                if message_type == 4 {
                    // 3/2 → Parameter Problem pointing at Next Header.
                    assert_eq!(output[44..48], [0, 0, 0, 6]);
                }
                let (header, _) = etherparse::Icmpv6Header::from_slice(&output[40..]).unwrap();
                let mut check = header.clone();
                check
                    .update_checksum(host4_as_ipv6(), host6(), &output[48..])
                    .unwrap();
                assert_eq!(check.checksum, header.checksum);
            }
            None => assert_eq!(
                four_to_six(&error).unwrap_err(),
                TranslationError::UnsupportedIcmpType {
                    message_type: 3,
                    code
                }
            ),
        }
    }
    // Time Exceeded: code unchanged.
    for code in [0u8, 1] {
        let mut error = Vec::new();
        PacketBuilder::ip(ipv4_header(HOST4, HOST6_AS_IPV4, 50, 3, false))
            .icmpv4_raw(11, code, [0; 4])
            .write(&mut error, &ipv4)
            .unwrap();
        let output = four_to_six(&error).unwrap();
        assert_eq!((output[40], output[41]), (3, code));
    }
    // Parameter Problem: code 0 and 2 → 4/0 with Figure 3; 1 dropped.
    for (code, pointer, expected) in [
        (0u8, 9u8, Ok(6u32)),
        (2, 16, Ok(24)),
        (0, 4, Err(TranslationError::UntranslatablePointer)),
        (0, 20, Err(TranslationError::UntranslatablePointer)),
        (
            1,
            0,
            Err(TranslationError::UnsupportedIcmpType {
                message_type: 12,
                code: 1,
            }),
        ),
    ] {
        let mut error = Vec::new();
        PacketBuilder::ip(ipv4_header(HOST4, HOST6_AS_IPV4, 50, 3, false))
            .icmpv4_raw(12, code, [pointer, 0, 0, 0])
            .write(&mut error, &ipv4)
            .unwrap();
        match expected {
            Ok(new_pointer) => {
                let output = four_to_six(&error).unwrap();
                assert_eq!(output[40..42], [4, 0]);
                assert_eq!(output[44..48], new_pointer.to_be_bytes());
            }
            Err(reason) => assert_eq!(four_to_six(&error).unwrap_err(), reason),
        }
    }
}

/// §4.2 Figure 3 and §5.2 Figure 6, every row.
#[test]
fn rfc7915_pointer_tables() {
    let figure_3: [(u8, Option<u32>); 20] = [
        (0, Some(0)),
        (1, Some(1)),
        (2, Some(4)),
        (3, Some(4)),
        (4, None),
        (5, None),
        (6, None),
        (7, None),
        (8, Some(7)),
        (9, Some(6)),
        (10, None),
        (11, None),
        (12, Some(8)),
        (13, Some(8)),
        (14, Some(8)),
        (15, Some(8)),
        (16, Some(24)),
        (17, Some(24)),
        (18, Some(24)),
        (19, Some(24)),
    ];
    for (pointer, expected) in figure_3 {
        assert_eq!(pointer_4_to_6(pointer), expected, "IPv4 pointer {pointer}");
    }
    assert_eq!(pointer_4_to_6(20), None);
    for pointer in 0..=40u32 {
        let expected = match pointer {
            0 => Some(0),
            1 => Some(1),
            2 | 3 => None,
            4 | 5 => Some(2),
            6 => Some(9),
            7 => Some(8),
            8..=23 => Some(12),
            24..=39 => Some(16),
            _ => None,
        };
        assert_eq!(pointer_6_to_4(pointer), expected, "IPv6 pointer {pointer}");
    }
    assert_eq!(pointer_6_to_4(u32::MAX), None);
}

/// §5.2: every ICMPv6 error row through whole packets.
#[test]
fn rfc7915_5_2_type_and_code_table() {
    let mut ipv4 = Vec::new();
    PacketBuilder::ip(ipv4_header(HOST4, HOST6_AS_IPV4, 30, 0, false))
        .udp(5000, 53)
        .write(&mut ipv4, b"original datagram")
        .unwrap();
    let ipv6 = four_to_six(&ipv4).unwrap();
    for code in 0..=8u8 {
        let expected = match code {
            0 | 2 | 3 => Some(1),
            1 => Some(10),
            4 => Some(3),
            _ => None,
        };
        assert_eq!(destination_unreachable_6_to_4(code), expected);
        let mut error = Vec::new();
        PacketBuilder::ipv6(host6(), host4_as_ipv6(), 50)
            .icmpv6_raw(1, code, [0; 4])
            .write(&mut error, &ipv6)
            .unwrap();
        match expected {
            Some(new_code) => {
                let output = six_to_four(&error).unwrap();
                assert_eq!(output[20..22], [3, new_code]);
                assert!(crate::translation::checksum::verifies(&output[20..]));
            }
            None => assert!(matches!(
                six_to_four(&error).unwrap_err(),
                TranslationError::UnsupportedIcmpType { .. }
            )),
        }
    }
    type Case = (u8, u8, u32, Result<(u8, u8, u8), TranslationError>);
    let cases: [Case; 7] = [
        (3, 0, 0, Ok((11, 0, 0))),
        (3, 1, 0, Ok((11, 1, 0))),
        (4, 0, 6, Ok((12, 0, 9))),
        (4, 0, 24, Ok((12, 0, 16))),
        (4, 0, 2, Err(TranslationError::UntranslatablePointer)),
        (4, 1, 40, Ok((3, 2, 0))),
        (
            4,
            2,
            40,
            Err(TranslationError::UnsupportedIcmpType {
                message_type: 4,
                code: 2,
            }),
        ),
    ];
    for (message_type, code, pointer, expected) in cases {
        let mut error = Vec::new();
        PacketBuilder::ipv6(host6(), host4_as_ipv6(), 50)
            .icmpv6_raw(message_type, code, pointer.to_be_bytes())
            .write(&mut error, &ipv6)
            .unwrap();
        match expected {
            Ok((new_type, new_code, new_pointer)) => {
                let output = six_to_four(&error).unwrap();
                assert_eq!(output[20..22], [new_type, new_code]);
                if new_type == 12 {
                    assert_eq!(output[24], new_pointer);
                }
            }
            Err(reason) => assert_eq!(six_to_four(&error).unwrap_err(), reason),
        }
    }
}

/// §4.2 "Fragmentation Needed" → Packet Too Big: +20, the IPv6 and IPv4
/// next-hop limits, the 1280 floor, and the RFC 1191 plateau for MTU 0.
#[test]
fn rfc7915_4_2_packet_too_big_arithmetic() {
    let (_, small) = original_pair();
    let (_, big) = {
        let ipv6 = udp6(host6(), host4_as_ipv6(), &[0; 1452]);
        let ipv4 = six_to_four(&ipv6).unwrap();
        (ipv6, ipv4)
    };
    let cases = [
        (1400u16, &big, path4(), 1420u32),
        (1000, &big, path4(), 1280),
        (
            1400,
            &big,
            Ipv4ToIpv6Path {
                ipv6_next_hop_mtu: 1300,
                ..path4()
            },
            1300,
        ),
        (
            1400,
            &big,
            Ipv4ToIpv6Path {
                ipv4_link_mtu: 1290,
                ..path4()
            },
            1310,
        ),
        // MTU 0: the quoted Total Length is 1480; the greatest plateau
        // below it that is ≥ 1280 does not exist → 1280.
        (0, &big, path4(), 1280),
        // The small packet: no plateau ≥ 1280 below 45 → 1280.
        (0, &small, path4(), 1280),
    ];
    for (mtu, quoted, path, expected) in cases {
        let error = icmpv4_error(
            HOST4,
            Icmpv4Type::DestinationUnreachable(
                icmpv4::DestUnreachableHeader::FragmentationNeeded { next_hop_mtu: mtu },
            ),
            &quoted[..quoted.len().min(548)],
        );
        let output = four_to_six_with(&error, &settings(), &path).unwrap();
        assert_eq!(output[40..42], [2, 0]);
        assert_eq!(output[44..48], expected.to_be_bytes(), "MTU {mtu}");
    }
    // The plateau case with a quoted Total Length of 4000: 2002 + 20.
    let mut quoted = big.clone();
    quoted[2..4].copy_from_slice(&4000u16.to_be_bytes());
    let error = icmpv4_error(
        HOST4,
        Icmpv4Type::DestinationUnreachable(icmpv4::DestUnreachableHeader::FragmentationNeeded {
            next_hop_mtu: 0,
        }),
        &quoted[..548],
    );
    let path = Ipv4ToIpv6Path {
        ipv6_next_hop_mtu: 9000,
        ipv4_link_mtu: 9000,
    };
    let output = four_to_six_with(&error, &settings(), &path).unwrap();
    assert_eq!(output[44..48], 2022u32.to_be_bytes());
    assert_eq!(icmp::PLATEAUS[6], 1492);
}

/// §5.2 Packet Too Big → fragmentation needed: −20 (−28 with a Fragment
/// Header in the quoted packet), bounded by both next hops.
#[test]
fn rfc7915_5_2_packet_too_big_arithmetic() {
    let mut ipv4 = Vec::new();
    PacketBuilder::ip(ipv4_header(HOST4, HOST6_AS_IPV4, 30, 0, false))
        .udp(5000, 53)
        .write(&mut ipv4, &[0; 100])
        .unwrap();
    let ipv6 = four_to_six(&ipv4).unwrap();
    let fragment = four_to_six(&ipv4_fragment(&ipv4[20..], 5, 0, true, IpNumber::UDP)).unwrap();
    let cases = [
        (1400u32, &ipv6, path6(), 1380u16),
        (1400, &fragment, path6(), 1372),
        (
            1400,
            &ipv6,
            Ipv6ToIpv4Path {
                ipv4_next_hop_mtu: 1300,
                ..path6()
            },
            1300,
        ),
        (
            1400,
            &ipv6,
            Ipv6ToIpv4Path {
                ipv6_link_mtu: 1350,
                ..path6()
            },
            1330,
        ),
    ];
    for (mtu, quoted, path, expected) in cases {
        let error = icmpv6_packet(
            host6(),
            host4_as_ipv6(),
            Icmpv6Type::PacketTooBig { mtu },
            quoted,
        );
        let output = six_to_four_with(&error, &settings(), &path).unwrap();
        assert_eq!(output[20..22], [3, 4]);
        assert_eq!(output[26..28], expected.to_be_bytes());
    }
}

/// §4.3 / §5.3: an error quoting an error is dropped; an error quoting an
/// echo has the echo translated.
#[test]
fn rfc7915_nested_icmp_errors_dropped() {
    let (ipv6, ipv4) = original_pair();
    let inner_error = icmpv4_error(
        HOST4,
        Icmpv4Type::DestinationUnreachable(icmpv4::DestUnreachableHeader::Port),
        &ipv4,
    );
    let outer = icmpv4_error(
        [203, 0, 113, 1],
        Icmpv4Type::TimeExceeded(icmpv4::TimeExceededCode::TtlExceededInTransit),
        &inner_error,
    );
    assert_eq!(
        four_to_six(&outer).unwrap_err(),
        TranslationError::NestedIcmpError
    );

    let inner_error = icmpv6_packet(
        host6(),
        host4_as_ipv6(),
        Icmpv6Type::DestinationUnreachable(icmpv6::DestUnreachableCode::Port),
        &ipv6,
    );
    let outer = icmpv6_packet(
        host6(),
        host4_as_ipv6(),
        Icmpv6Type::TimeExceeded(icmpv6::TimeExceededCode::HopLimitExceeded),
        &inner_error,
    );
    assert_eq!(
        six_to_four(&outer).unwrap_err(),
        TranslationError::NestedIcmpError
    );

    // Time exceeded about an echo request: the quoted echo is restored.
    let mut echo6 = Vec::new();
    PacketBuilder::ipv6(host6(), host4_as_ipv6(), 1)
        .icmpv6_echo_request(5, 6)
        .write(&mut echo6, b"traceroute")
        .unwrap();
    let echo4 = six_to_four(&echo6).unwrap();
    let error = icmpv4_error(
        [203, 0, 113, 1],
        Icmpv4Type::TimeExceeded(icmpv4::TimeExceededCode::TtlExceededInTransit),
        &echo4,
    );
    let expected = icmpv6_packet(
        embed(Ipv4Addr::new(203, 0, 113, 1)).octets(),
        host6(),
        Icmpv6Type::TimeExceeded(icmpv6::TimeExceededCode::HopLimitExceeded),
        &echo6,
    );
    assert_eq!(four_to_six(&error).unwrap(), expected);
}

/// RFC 7915 §5.1 and RFC 6791: an ICMPv6 error from a router without an
/// IPv4 form gets the pool address; other packets from it are dropped.
#[test]
fn rfc6791_error_source() {
    let mut ipv4 = Vec::new();
    PacketBuilder::ip(ipv4_header(HOST4, HOST6_AS_IPV4, 30, 0, false))
        .udp(5000, 53)
        .write(&mut ipv4, b"x")
        .unwrap();
    let ipv6 = four_to_six(&ipv4).unwrap();
    let router: [u8; 16] = "2001:db8:ffff::1".parse::<Ipv6Addr>().unwrap().octets();
    let error = icmpv6_packet(
        router,
        host4_as_ipv6(),
        Icmpv6Type::TimeExceeded(icmpv6::TimeExceededCode::HopLimitExceeded),
        &ipv6,
    );
    let output = six_to_four(&error).unwrap();
    assert_eq!(output[12..16], RFC6791_SOURCE.octets());
}

/// RFC 1812 §4.3.2.3 / RFC 4443 §2.4(c): errors are cut to 576 / 1280.
#[test]
fn errors_truncated_to_576_and_1280() {
    let ipv6 = udp6(host6(), host4_as_ipv6(), &[9; 1400]);
    let error = icmpv6_packet(
        host6(),
        host4_as_ipv6(),
        Icmpv6Type::DestinationUnreachable(icmpv6::DestUnreachableCode::Prohibited),
        &ipv6[..1232],
    );
    let output = six_to_four(&error).unwrap();
    assert_eq!(output.len(), 576);
    assert!(crate::translation::checksum::verifies(&output[20..]));
    // The quoted header keeps its full Total Length.
    assert_eq!(output[28 + 2..28 + 4], (1428u16).to_be_bytes());

    let mut ipv4 = Vec::new();
    PacketBuilder::ip(ipv4_header(HOST4, HOST6_AS_IPV4, 30, 0, false))
        .udp(5000, 53)
        .write(&mut ipv4, &[9; 1400])
        .unwrap();
    let error = icmpv4_error(
        HOST4,
        Icmpv4Type::DestinationUnreachable(icmpv4::DestUnreachableHeader::Host),
        &ipv4,
    );
    let output = four_to_six(&error).unwrap();
    assert_eq!(output.len(), 1280);
    let (header, _) = etherparse::Icmpv6Header::from_slice(&output[40..]).unwrap();
    let mut check = header.clone();
    check
        .update_checksum(host4_as_ipv6(), host6(), &output[48..])
        .unwrap();
    assert_eq!(check.checksum, header.checksum);
}

/// §4.2 "ICMP Error Payload" and RFC 4884: the length attribute becomes
/// 8-byte units, the extension is kept; on Packet Too Big it is dropped.
#[test]
fn rfc4884_extensions() {
    let (_, ipv4) = original_pair();
    // Original datagram field: the quoted packet padded to 128 bytes.
    let mut data = ipv4.clone();
    data.resize(128, 0);
    let extension = [0x20, 0, 0xaa, 0xbb, 0, 8, 1, 1, 1, 2, 3, 4];
    data.extend_from_slice(&extension);
    let mut error = Vec::new();
    PacketBuilder::ip(ipv4_header(HOST4, HOST6_AS_IPV4, 50, 3, false))
        .icmpv4_raw(11, 0, [0, 32, 0, 0])
        .write(&mut error, &data)
        .unwrap();
    let output = four_to_six(&error).unwrap();
    // The IPv6 quoted packet is 40 + 25 = 65 bytes → padded to 128.
    assert_eq!(output[44], 128 / 8);
    assert_eq!(output.len(), 40 + 8 + 128 + extension.len());
    assert_eq!(output[40 + 8 + 128..], extension);
    assert!(
        output[40 + 8 + 65..40 + 8 + 128]
            .iter()
            .all(|&byte| byte == 0)
    );

    // And back: ICMPv6 Time Exceeded with a length attribute → ICMPv4.
    let (ipv6, _) = original_pair();
    let _ = ipv6;
    let quoted6 = &output[48..];
    let mut back = Vec::new();
    PacketBuilder::ipv6(host6(), host4_as_ipv6(), 50)
        .icmpv6_raw(3, 0, [16, 0, 0, 0])
        .write(&mut back, quoted6)
        .unwrap();
    let output4 = six_to_four(&back).unwrap();
    assert_eq!(output4[20 + 5], 128 / 4);
    assert_eq!(output4[20 + 8 + 128..], extension);
    assert!(crate::translation::checksum::verifies(&output4[20..]));

    // Fragmentation needed with an extension → Packet Too Big without it.
    let mut error = Vec::new();
    PacketBuilder::ip(ipv4_header(HOST4, HOST6_AS_IPV4, 50, 3, false))
        .icmpv4_raw(3, 4, [0, 32, 0x05, 0x78])
        .write(&mut error, &data)
        .unwrap();
    let output = four_to_six(&error).unwrap();
    assert_eq!(output[40], 2);
    assert_eq!(output.len(), 40 + 8 + 40 + 25);
}

// ---------------------------------------------------------------- bad input

#[test]
fn bad_ipv4_headers() {
    let good = udp4(HOST4, HOST6_AS_IPV4, b"payload");
    let mut short_ihl = good.clone();
    short_ihl[0] = 0x44;
    assert!(matches!(
        four_to_six(&short_ihl).unwrap_err(),
        TranslationError::BadIpv4Header(_)
    ));
    let mut long_total = good.clone();
    long_total[3] += 1;
    assert!(matches!(
        four_to_six(&long_total).unwrap_err(),
        TranslationError::BadIpv4Header(_)
    ));
    let mut wrong_version = good.clone();
    wrong_version[0] = 0x65;
    assert!(matches!(
        four_to_six(&wrong_version).unwrap_err(),
        TranslationError::BadIpv4Header(_)
    ));
    // Link padding after Total Length is ignored.
    let mut padded = good.clone();
    padded.extend_from_slice(&[0; 10]);
    assert_eq!(four_to_six(&padded).unwrap(), four_to_six(&good).unwrap());
    // Output too small.
    let mut output = [0u8; 50];
    assert_eq!(
        translate_ipv4_to_ipv6(&good, &mut output, &Pool6, &settings(), &path4()),
        Err(TranslationError::OutputTooSmall)
    );
}

#[test]
fn bad_ipv6_headers() {
    let good = udp6(host6(), host4_as_ipv6(), b"payload");
    assert_eq!(
        six_to_four(&good[..39]).unwrap_err(),
        TranslationError::BadIpv6Header
    );
    assert_eq!(
        six_to_four(&good[..50]).unwrap_err(),
        TranslationError::Truncated
    );
    let mut wrong_version = good.clone();
    wrong_version[0] = 0x45;
    assert_eq!(
        six_to_four(&wrong_version).unwrap_err(),
        TranslationError::BadIpv6Header
    );
    let cut_chain = with_extensions(&good[..40], 0, &[17, 3]);
    assert_eq!(
        six_to_four(&cut_chain).unwrap_err(),
        TranslationError::TruncatedExtensionHeader
    );
    // Quoted packet whose length runs beyond the ICMP message is truncated
    // data, still translated; a quoted packet that is not IPv6 is refused.
    let error = icmpv6_packet(
        host6(),
        host4_as_ipv6(),
        Icmpv6Type::DestinationUnreachable(icmpv6::DestUnreachableCode::Port),
        &[0x45; 60],
    );
    assert_eq!(
        six_to_four(&error).unwrap_err(),
        TranslationError::InnerPacketUnusable
    );
}

/// Valid packets of every kind, for the no-panic sweeps.
fn sample_packets() -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let (ipv6, ipv4) = original_pair();
    let mut fours = vec![
        udp4(HOST4, HOST6_AS_IPV4, b"sample"),
        icmpv4_error(
            HOST4,
            Icmpv4Type::DestinationUnreachable(icmpv4::DestUnreachableHeader::Port),
            &ipv4,
        ),
        ipv4_fragment(&[1; 16], 3, 8, true, IpNumber::UDP),
    ];
    let mut echo = Vec::new();
    PacketBuilder::ip(ipv4_header(HOST4, HOST6_AS_IPV4, 64, 9, false))
        .icmpv4_echo_request(1, 2)
        .write(&mut echo, b"echo")
        .unwrap();
    fours.push(echo);
    let sixes = vec![
        ipv6.clone(),
        icmpv6_packet(
            host6(),
            host4_as_ipv6(),
            Icmpv6Type::PacketTooBig { mtu: 1400 },
            &four_to_six(&udp4(HOST4, HOST6_AS_IPV4, b"sample")).unwrap(),
        ),
        with_extensions(
            &ipv6,
            0,
            &[44, 0, 1, 4, 0, 0, 0, 0, 17, 0, 0, 1, 0, 0, 0, 1],
        ),
    ];
    (fours, sixes)
}

/// Every truncation of valid packets, and bytes flipped all over them,
/// must not panic (the output buffer is also tried at every size).
#[test]
fn no_panic_on_truncation_or_corruption() {
    let (fours, sixes) = sample_packets();
    let mut output = vec![0u8; 2000];
    for packet in &fours {
        for length in 0..=packet.len() {
            let _ = translate_ipv4_to_ipv6(
                &packet[..length],
                &mut output,
                &Pool6,
                &settings(),
                &path4(),
            );
            let _ = translate_ipv4_to_ipv6(
                packet,
                &mut output[..length],
                &Pool6,
                &settings(),
                &path4(),
            );
        }
    }
    for packet in &sixes {
        for length in 0..=packet.len() {
            let _ = translate_ipv6_to_ipv4(
                &packet[..length],
                &mut output,
                &Pool6,
                &settings(),
                &path6(),
            );
            let _ = translate_ipv6_to_ipv4(
                packet,
                &mut output[..length],
                &Pool6,
                &settings(),
                &path6(),
            );
        }
    }
    // A deterministic pseudo-random corruption sweep (xorshift).
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..20_000 {
        let (family_four, source) = if round % 2 == 0 {
            (true, &fours[round / 2 % fours.len()])
        } else {
            (false, &sixes[round / 2 % sixes.len()])
        };
        let mut packet = source.clone();
        for _ in 0..(next() % 4 + 1) {
            let index = (next() as usize) % packet.len();
            packet[index] = next() as u8;
        }
        let mut scratch = [0u8; 600];
        if family_four {
            if let Ok(translated) =
                translate_ipv4_to_ipv6(&packet, &mut output, &Pool6, &settings(), &path4())
            {
                let _ = fragment_ipv6(
                    &output[..translated.length],
                    Fragmentation {
                        maximum_size: 100,
                        identification: 1,
                    },
                    &mut scratch,
                    |_| {},
                );
            }
        } else if let Ok(translated) =
            translate_ipv6_to_ipv4(&packet, &mut output, &Pool6, &settings(), &path6())
        {
            let _ = fragment_ipv4(
                &output[..translated.length],
                Fragmentation {
                    maximum_size: 68,
                    identification: 0,
                },
                &mut scratch,
                |_| {},
            );
        }
    }
}

/// pure6's decision beside §4.1 / §5.1 "copy the protocol": a protocol
/// number that means something else in the other family is refused, not
/// copied (an IPv4 protocol 0 would become a Hop-by-Hop header, ICMPv4
/// inside IPv6 would leave with a checksum IPv4 receivers reject).
#[test]
fn protocols_that_change_meaning_are_refused() {
    for protocol_number in [0u8, 43, 44, 51, 58, 60] {
        let mut input = udp4([198, 51, 100, 2], [192, 0, 2, 1], b"not UDP");
        input[9] = protocol_number;
        input[10..12].fill(0);
        let checksum = crate::translation::checksum::internet_checksum(&input[..20]);
        input[10..12].copy_from_slice(&checksum.to_be_bytes());
        assert_eq!(
            four_to_six(&input),
            Err(TranslationError::UntranslatableProtocol {
                protocol: protocol_number
            }),
            "IPv4 protocol {protocol_number}"
        );
    }
    for next_header in [1u8, 51] {
        let mut input = udp6(host6(), host4_as_ipv6(), b"not UDP");
        input[6] = next_header;
        assert_eq!(
            six_to_four(&input),
            Err(TranslationError::UntranslatableProtocol {
                protocol: next_header
            }),
            "IPv6 next header {next_header}"
        );
    }
}

// ------------------------------------------------- §5 plain-case shortcut

/// [`PlainIpv6ToIpv4`] writes what [`translate_ipv6_to_ipv4`] writes
/// (§5.1 header, §5.5 checksum) for plain TCP and UDP, whatever the hop
/// limit, traffic class, policy, size around the DF threshold (1260) and
/// the next-hop MTU; and it declines, leaving the answer to the general
/// translator, a zero UDP checksum, an extension header, ICMPv6, a cut-off
/// transport header, an unmapped address or a packet larger than the MTU.
#[test]
fn rfc7915_5_plain_case_matches_the_general_translator() {
    let mut compared = 0;
    for policy in [TrafficClassPolicy::Copy, TrafficClassPolicy::Zero] {
        let settings = TranslationSettings {
            traffic_class: policy,
            ..settings()
        };
        for decrement_time_to_live in [false, true] {
            let path = Ipv6ToIpv4Path {
                ipv4_next_hop_mtu: 1300,
                decrement_time_to_live,
                ..path6()
            };
            for hop_limit in [0, 1, 2, 255] {
                for size in [0, 1, 1211, 1212, 1240, 1241, 1260, 1261] {
                    let payload = vec![0x3c; size];
                    for (tcp, traffic_class) in [(false, 0), (true, 0xb9), (false, 0x2e)] {
                        let mut packet = write(1400, |bytes| {
                            let builder = PacketBuilder::ipv6(host6(), host4_as_ipv6(), hop_limit);
                            if tcp {
                                builder.tcp(40000, 443, 7, 1000).write(bytes, &payload)
                            } else {
                                builder.udp(40000, 53).write(bytes, &payload)
                            }
                            .unwrap()
                        });
                        packet[0] = 0x60 | (traffic_class >> 4);
                        packet[1] = (traffic_class << 4) | (packet[1] & 0x0f);
                        let general = {
                            let mut output = vec![0xa5u8; 2000];
                            translate_ipv6_to_ipv4(&packet, &mut output, &Pool6, &settings, &path)
                                .ok()
                                .filter(|translated| translated.fragmentation.is_none())
                                .map(|translated| output[..translated.length].to_vec())
                        };
                        let plain = PlainIpv6ToIpv4::new(&packet, &Pool6, &settings, &path);
                        assert_eq!(plain.is_some(), general.is_some(), "{size} bytes");
                        if let (Some(plain), Some(general)) = (plain, general) {
                            let mut output = vec![0x5au8; plain.length()];
                            assert!(plain.write(&packet, path.identification, &mut output));
                            assert_eq!(output, general, "{size} bytes, hop limit {hop_limit}");
                            assert!(!plain.write(&packet, 1, &mut output[..plain.length() - 1]));
                            compared += 1;
                        }
                    }
                }
            }
        }
    }
    assert!(compared > 100);

    let plain = |packet: &[u8]| PlainIpv6ToIpv4::new(packet, &Pool6, &settings(), &path6());
    let udp = udp6(host6(), host4_as_ipv6(), b"plain");
    assert!(plain(&udp).is_some());
    let mut zero_checksum = udp.clone();
    zero_checksum[46..48].fill(0);
    let destination_options = with_extensions(&udp, 60, &[17, 0, 1, 4, 0, 0, 0, 0]);
    let echo = write(64, |bytes| {
        PacketBuilder::ipv6(host6(), host4_as_ipv6(), 64)
            .icmpv6_echo_request(1, 2)
            .write(bytes, b"ping")
            .unwrap()
    });
    let mut cut_off = udp[..46].to_vec();
    cut_off[4..6].copy_from_slice(&6u16.to_be_bytes());
    let unmapped = udp6(
        [0x20, 1, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        host4_as_ipv6(),
        b"x",
    );
    let too_big = udp6(host6(), host4_as_ipv6(), &[0; 1500]);
    for declined in [
        zero_checksum,
        destination_options,
        echo,
        cut_off,
        unmapped,
        too_big,
    ] {
        assert_eq!(plain(&declined), None);
    }
}

/// An ICMPv6 message `header` (type, code, checksum, second word; the
/// checksum is filled in) with `body`, in an IPv6 packet.
fn raw_icmpv6(source: [u8; 16], destination: [u8; 16], header: [u8; 8], body: &[u8]) -> Vec<u8> {
    let mut message = header.to_vec();
    message.extend_from_slice(body);
    let pseudo = ipv6_pseudo_header_sum(
        Ipv6Addr::from(source),
        Ipv6Addr::from(destination),
        58,
        message.len(),
    );
    let checksum = !crate::translation::checksum::combine(&[
        pseudo,
        crate::translation::checksum::sum(&message),
    ]);
    message[2..4].copy_from_slice(&checksum.to_be_bytes());
    let mut packet = Vec::new();
    etherparse::Ipv6Header {
        traffic_class: 0xb8,
        flow_label: Default::default(),
        payload_length: message.len() as u16,
        next_header: IpNumber::IPV6_ICMP,
        hop_limit: 40,
        source,
        destination,
    }
    .write(&mut packet)
    .unwrap();
    packet.extend_from_slice(&message);
    packet
}

/// The packets an ICMPv6 error may quote, from the IPv4 host (as IPv6) to
/// the IPv6 host, and whether the §5.2 / §5.3 shortcut
/// ([`PlainIcmpv6ErrorToIpv4`], `icmp::write_plain_error`) takes them: UDP, TCP and echo of several
/// sizes (odd, cut short, longer than 576 bytes allow) are taken; a
/// nested error, another ICMPv6 type, extension headers, a fragment, an
/// unmapped address, a broken header are left to the general way.
fn quoted_ipv6_packets() -> Vec<(String, Vec<u8>, bool)> {
    let from = host4_as_ipv6();
    let to = host6();
    let mut packets = Vec::new();
    for size in [0usize, 1, 17, 100, 507, 508, 509, 600, 1200] {
        let payload: Vec<u8> = (0..size).map(|index| index as u8 ^ 0x5a).collect();
        let udp = write(1300, |bytes| {
            PacketBuilder::ipv6(from, to, 9)
                .udp(53, 40000)
                .write(bytes, &payload)
                .unwrap()
        });
        let tcp = write(1300, |bytes| {
            PacketBuilder::ipv6(from, to, 9)
                .tcp(443, 40000, 7, 1000)
                .write(bytes, &payload)
                .unwrap()
        });
        let request = write(1300, |bytes| {
            PacketBuilder::ipv6(from, to, 9)
                .icmpv6_echo_request(3, 4)
                .write(bytes, &payload)
                .unwrap()
        });
        let reply = write(1300, |bytes| {
            PacketBuilder::ipv6(from, to, 9)
                .icmpv6_echo_reply(3, 4)
                .write(bytes, &payload)
                .unwrap()
        });
        for (name, packet) in [("UDP", udp), ("TCP", tcp), ("echo request", request)] {
            packets.push((format!("{name}, {size} bytes"), packet, true));
        }
        if size % 2 == 1 {
            packets.push((format!("echo reply, {size} bytes"), reply, true));
        }
    }
    let udp = write(200, |bytes| {
        PacketBuilder::ipv6(from, to, 9)
            .udp(53, 40000)
            .write(bytes, &[7; 64])
            .unwrap()
    });
    let mut zero_checksum = udp.clone();
    zero_checksum[46..48].fill(0);
    packets.push(("UDP, zero checksum".into(), zero_checksum, true));
    let mut traffic_class = udp.clone();
    traffic_class[0] = 0x6e;
    traffic_class[1] |= 0x50;
    packets.push(("UDP, traffic class 0xe5".into(), traffic_class, true));
    // Cut where the quoting router cut it: Payload Length says more.
    for length in [2, 7, 8, 30] {
        packets.push((
            format!("UDP cut to {length} bytes"),
            udp[..40 + length].to_vec(),
            true,
        ));
    }
    let tcp = write(200, |bytes| {
        PacketBuilder::ipv6(from, to, 9)
            .tcp(443, 40000, 7, 1000)
            .write(bytes, &[1; 40])
            .unwrap()
    });
    for length in [10, 17, 18] {
        packets.push((
            format!("TCP cut to {length} bytes"),
            tcp[..40 + length].to_vec(),
            true,
        ));
    }
    // Payload Length says less than is quoted: the rest is not copied.
    for (length, taken) in [(30, true), (31, false)] {
        let mut shorter = udp.clone();
        shorter[4..6].copy_from_slice(&(length as u16).to_be_bytes());
        packets.push((
            format!("UDP with Payload Length {length}, more quoted"),
            shorter,
            taken,
        ));
    }
    let request = write(200, |bytes| {
        PacketBuilder::ipv6(from, to, 9)
            .icmpv6_echo_request(3, 4)
            .write(bytes, b"ping")
            .unwrap()
    });
    packets.push(("echo cut to 3 bytes".into(), request[..43].to_vec(), false));
    let nested = icmpv6_packet(
        from,
        to,
        Icmpv6Type::DestinationUnreachable(icmpv6::DestUnreachableCode::Port),
        &udp,
    );
    packets.push(("a nested error".into(), nested, false));
    let mut solicitation = request.clone();
    solicitation[40] = 135;
    packets.push(("neighbor solicitation".into(), solicitation, false));
    for (first, extension) in [
        (60u8, [17u8, 0, 1, 4, 0, 0, 0, 0]),
        (0, [17, 0, 1, 4, 0, 0, 0, 0]),
        (44, [17, 0, 0, 0, 0, 0, 0, 9]),
        (44, [17, 0, 0, 8, 0, 0, 0, 9]),
    ] {
        packets.push((
            format!("UDP after extension header {first}"),
            with_extensions(&udp, first, &extension),
            false,
        ));
    }
    let mut other_protocol = udp.clone();
    other_protocol[6] = 132;
    packets.push(("SCTP".into(), other_protocol, false));
    let mut version = udp.clone();
    version[0] = 0x40;
    packets.push(("version 4".into(), version, false));
    let mut unmapped = udp.clone();
    unmapped[8..10].copy_from_slice(&[0x30, 0x00]);
    packets.push(("unmapped inner source".into(), unmapped, false));
    packets.push(("quoted header cut".into(), udp[..39].to_vec(), false));
    packets
}

/// [`PlainIcmpv6ErrorToIpv4`] writes what [`translate_ipv6_to_ipv4`] writes
/// for the common ICMPv6 errors: every type and code §5.2 translates
/// (Destination Unreachable 0–4, Packet Too Big with the §5.2 arithmetic
/// on the path's MTUs, Time Exceeded, Parameter Problem with every
/// pointer of Figure 6), from a mapped source or one without a mapping
/// (the RFC 6791 source, §5.1), quoting the packets of
/// [`quoted_ipv6_packets`] (§5.3, cut to 576 bytes: RFC 1812 §4.3.2.3).
/// It declines, leaving the answer to the general translator, untranslated
/// types, codes and pointers, an RFC 4884 extension, a bad checksum, an
/// echo, a result larger than the next hop, and the quoted packets the
/// shortcut does not take.
#[test]
fn rfc7915_5_2_plain_icmp_errors_match_the_general_translator() {
    let header = |message_type: u8, code: u8, second: u32| {
        let word = second.to_be_bytes();
        [message_type, code, 0, 0, word[0], word[1], word[2], word[3]]
    };
    let mut headers = Vec::new();
    for code in 0..=5 {
        headers.push((header(1, code, 0), code <= 4));
    }
    headers.push((header(1, 4, 2 << 24), false));
    headers.push((header(1, 4, 200 << 24), false));
    for mtu in [0, 68, 1279, 1280, 1300, 1320, 1321, 1500, 70_000, u32::MAX] {
        headers.push((header(2, 0, mtu), true));
    }
    headers.push((header(2, 9, 1400), true));
    for code in [0, 1, 7] {
        headers.push((header(3, code, 0), true));
    }
    headers.push((header(3, 0, 1 << 24), false));
    for pointer in [0, 1, 2, 3, 4, 5, 6, 7, 8, 23, 24, 39, 40, 0x100, u32::MAX] {
        let listed = pointer_6_to_4(pointer).is_some();
        headers.push((header(4, 0, pointer), listed));
    }
    headers.push((header(4, 1, 6), true));
    headers.push((header(4, 2, 6), false));
    for message_type in [0, 5, 127, 128, 129] {
        headers.push((header(message_type, 0, 0), false));
    }
    let quoted = quoted_ipv6_packets();
    let unmapped_router = [0x20, 1, 0x0d, 0xb8, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    let paths = [
        (path6(), true),
        (
            Ipv6ToIpv4Path {
                ipv4_next_hop_mtu: 1300,
                ipv6_link_mtu: 1350,
                decrement_time_to_live: true,
                ..path6()
            },
            true,
        ),
        (
            Ipv6ToIpv4Path {
                ipv4_next_hop_mtu: 100,
                ..path6()
            },
            false,
        ),
    ];
    let mut compared = 0;
    for policy in [TrafficClassPolicy::Copy, TrafficClassPolicy::Zero] {
        let settings = TranslationSettings {
            traffic_class: policy,
            ..settings()
        };
        for (path, roomy) in paths {
            for (source_name, source) in [("mapped", host6()), ("unmapped", unmapped_router)] {
                for &(icmp_header, header_taken) in &headers {
                    for (name, packet, packet_taken) in &quoted {
                        let label = format!(
                            "{source_name} source, {icmp_header:?}, {name}, {path:?}, {policy:?}"
                        );
                        let mut error = raw_icmpv6(source, host4_as_ipv6(), icmp_header, packet);
                        let expected = header_taken && *packet_taken;
                        compared +=
                            compare_plain(&error, &settings, &path, expected, roomy, &label);
                        // A checksum off by one is the general way's refusal.
                        error[42] ^= 1;
                        compare_plain(&error, &settings, &path, false, roomy, &label);
                    }
                }
            }
        }
    }
    assert!(compared > 1000, "{compared}");
}

/// Whether [`PlainIcmpv6ErrorToIpv4`] takes `packet` as `expected` says (unless
/// the result needs fragments, which it leaves to the general translator;
/// with `fits` it must not), and when it does, writes what the general
/// translator writes. Returns 1 if it took it.
fn compare_plain(
    packet: &[u8],
    settings: &TranslationSettings,
    path: &Ipv6ToIpv4Path,
    expected: bool,
    fits: bool,
    label: &str,
) -> usize {
    let general = {
        let mut output = vec![0xa5u8; 2000];
        translate_ipv6_to_ipv4(packet, &mut output, &Pool6, settings, path)
            .ok()
            .filter(|translated| translated.fragmentation.is_none())
            .map(|translated| output[..translated.length].to_vec())
    };
    if expected && fits {
        assert!(general.is_some(), "{label}: the general way refuses");
    }
    assert_eq!(
        PlainIpv6ToIpv4::new(packet, &Pool6, settings, path),
        None,
        "{label}"
    );
    // The first step decides the outer header and the size, the second
    // takes the message or declines; together they take the packet.
    let plain = PlainIcmpv6ErrorToIpv4::new(packet, &Pool6, path);
    let written = plain.and_then(|plain| {
        let mut output = vec![0x5au8; plain.length()];
        plain
            .write(
                packet,
                &Pool6,
                settings,
                path,
                path.identification,
                &mut output,
            )
            .then_some((plain, output))
    });
    assert_eq!(
        written.is_some(),
        expected && general.is_some(),
        "{label}: taken"
    );
    if let Some((plain, output)) = &written {
        let general = general.unwrap_or_else(|| panic!("{label}: the general way refuses"));
        assert_eq!(*output, general, "{label}");
        let mut short = vec![0x5au8; plain.length() - 1];
        assert!(
            !plain.write(packet, &Pool6, settings, path, 1, &mut short),
            "{label}"
        );
        assert!(
            short.iter().all(|&byte| byte == 0x5a),
            "{label}: nothing written"
        );
    }
    usize::from(written.is_some())
}

// ------------------------------------------------- §4 plain-case shortcut

/// [`PlainIpv4ToIpv6`]'s two steps on `packet`: what it writes into an
/// output of its length, or `None` when either step declines. A decline
/// of the second step is checked to leave an output too short untouched
/// only when the first step says the length.
fn plain_ipv4_to_ipv6(
    packet: &[u8],
    addresses: &impl AddressTranslator,
    settings: &TranslationSettings,
    path: &Ipv4ToIpv6Path,
) -> Option<Vec<u8>> {
    let plain = PlainIpv4ToIpv6::new(packet, addresses, settings, path)?;
    let mut short = vec![0x5au8; plain.length() - 1];
    assert!(!plain.write(packet, addresses, settings, path, &mut short));
    assert!(short.iter().all(|&byte| byte == 0x5a), "nothing written");
    let mut output = vec![0x5au8; plain.length()];
    plain
        .write(packet, addresses, settings, path, &mut output)
        .then_some(output)
}

/// [`PlainIpv4ToIpv6`] writes what [`translate_ipv4_to_ipv6`] writes (§4.1
/// header, §4.5 checksum) for plain TCP and UDP, whatever the TTL, type of
/// service, policies, DF and size around `lowest_ipv6_mtu` and the IPv6
/// next-hop MTU, with link padding after the packet; and it declines,
/// leaving the answer to the general translator, options (even ignored
/// ones), fragments, a zero UDP checksum under either policy (§4.5), ICMP,
/// a cut-off transport header, a bad header checksum or length, an
/// illegal source and a DF packet larger than the next hop.
#[test]
fn rfc7915_4_plain_case_matches_the_general_translator() {
    let mut compared = 0;
    for traffic_class in [TrafficClassPolicy::Copy, TrafficClassPolicy::Zero] {
        for udp_zero_checksum in [UdpZeroChecksum::Compute, UdpZeroChecksum::Drop] {
            let settings = TranslationSettings {
                traffic_class,
                udp_zero_checksum,
                lowest_ipv6_mtu: 1300,
                ..settings()
            };
            let path = Ipv4ToIpv6Path {
                ipv6_next_hop_mtu: 1400,
                ..path4()
            };
            for time_to_live in [0, 1, 2, 255] {
                // IPv6 sizes 1299..1301 and 1399..1401 for UDP and TCP.
                for size in [0, 1, 1231, 1232, 1233, 1251, 1252, 1253, 1331, 1332, 1333] {
                    let payload = vec![0x3c; size];
                    for (tcp, type_of_service, dont_fragment, zero_checksum) in [
                        (false, 0, true, false),
                        (true, 0xb9, true, false),
                        (false, 0x2e, false, false),
                        (true, 0, false, false),
                        (false, 0, true, true),
                    ] {
                        let mut packet = write(1400, |bytes| {
                            let mut header = Ipv4Header::new(
                                0,
                                time_to_live,
                                IpNumber::UDP,
                                HOST4,
                                HOST6_AS_IPV4,
                            )
                            .unwrap();
                            header.identification = 0x1234;
                            header.dont_fragment = dont_fragment;
                            header.dscp =
                                etherparse::IpDscp::try_new(type_of_service >> 2).unwrap();
                            header.ecn = etherparse::IpEcn::try_new(type_of_service & 3).unwrap();
                            let builder = PacketBuilder::ip(IpHeaders::Ipv4(
                                header,
                                Ipv4Extensions::default(),
                            ));
                            if tcp {
                                builder.tcp(40000, 443, 7, 1000).write(bytes, &payload)
                            } else {
                                builder.udp(40000, 53).write(bytes, &payload)
                            }
                            .unwrap()
                        });
                        if zero_checksum {
                            packet[26..28].fill(0);
                        }
                        // Link padding after Total Length.
                        packet.extend_from_slice(&[0xee; 6]);
                        let general = {
                            let mut output = vec![0xa5u8; 2000];
                            translate_ipv4_to_ipv6(&packet, &mut output, &Pool6, &settings, &path)
                                .ok()
                                .filter(|translated| translated.fragmentation.is_none())
                                .map(|translated| output[..translated.length].to_vec())
                        };
                        let written = plain_ipv4_to_ipv6(&packet, &Pool6, &settings, &path);
                        let plain = PlainIpv4ToIpv6::new(&packet, &Pool6, &settings, &path);
                        let label = std::format!(
                            "{size} bytes, TTL {time_to_live}, TCP {tcp}, DF {dont_fragment}, \
                             zero checksum {zero_checksum}"
                        );
                        assert_eq!(
                            written.is_some(),
                            general.is_some() && !zero_checksum,
                            "{label}"
                        );
                        if let (Some(mut plain), Some(output), Some(general)) =
                            (plain, written, general)
                        {
                            assert_eq!(output, general, "{label}");
                            assert_eq!(plain.destination(), embed(Ipv4Addr::from(HOST6_AS_IPV4)));
                            assert_eq!(plain.hop_limit(), time_to_live);
                            assert_eq!(plain.length(), general.len());
                            // The forward step: the hop limit less one.
                            plain.decrement_hop_limit();
                            assert_eq!(plain.hop_limit(), time_to_live.saturating_sub(1));
                            let mut output = vec![0x5au8; plain.length()];
                            assert!(plain.write(&packet, &Pool6, &settings, &path, &mut output));
                            assert_eq!(output[7], time_to_live.saturating_sub(1));
                            assert_eq!(output[..7], general[..7]);
                            assert_eq!(output[8..], general[8..]);
                            compared += 1;
                        }
                    }
                }
            }
        }
    }
    assert!(compared > 200, "{compared}");

    let plain = |packet: &[u8]| plain_ipv4_to_ipv6(packet, &Pool6, &settings(), &path4());
    let udp = udp4(HOST4, HOST6_AS_IPV4, b"plain");
    assert!(plain(&udp).is_some());
    let with_options = |option: &[u8]| {
        let mut header = Ipv4Header::new(15, 64, IpNumber::UDP, HOST4, HOST6_AS_IPV4).unwrap();
        header.options = option.try_into().unwrap();
        write(64, |bytes| {
            PacketBuilder::ip(IpHeaders::Ipv4(header, Ipv4Extensions::default()))
                .udp(5000, 53)
                .write(bytes, b"plain")
                .unwrap()
        })
    };
    let echo = write(64, |bytes| {
        PacketBuilder::ipv4(HOST4, HOST6_AS_IPV4, 64)
            .icmpv4_echo_request(1, 2)
            .write(bytes, b"ping")
            .unwrap()
    });
    let mut zero_checksum = udp.clone();
    zero_checksum[26..28].fill(0);
    let mut bad_header_checksum = udp.clone();
    bad_header_checksum[10] ^= 1;
    let mut first_fragment = udp.clone();
    first_fragment[6] |= 0x20;
    let mut later_fragment = udp.clone();
    later_fragment[7] = 1;
    let mut total_length_beyond = udp.clone();
    total_length_beyond[3] += 1;
    let mut total_length_short = udp.clone();
    total_length_short[3] = 19;
    let mut cut_off_tcp = write(64, |bytes| {
        PacketBuilder::ipv4(HOST4, HOST6_AS_IPV4, 64)
            .tcp(1, 2, 3, 4)
            .write(bytes, b"")
            .unwrap()
    });
    cut_off_tcp.truncate(39);
    cut_off_tcp[3] = 39;
    let too_big = udp4(HOST4, HOST6_AS_IPV4, &[0; 1480]);
    let illegal_source = udp4([127, 0, 0, 1], HOST6_AS_IPV4, b"plain");
    for (name, declined) in [
        ("options", with_options(&[1, 1, 1, 1])),
        ("record route", with_options(&[7, 7, 4, 0, 0, 0, 0, 0])),
        ("source route", with_options(&[131, 7, 4, 1, 2, 3, 4, 0])),
        ("echo", echo),
        ("zero UDP checksum", zero_checksum),
        ("bad header checksum", bad_header_checksum),
        ("first fragment", first_fragment),
        ("later fragment", later_fragment),
        ("total length beyond the packet", total_length_beyond),
        ("total length below the header", total_length_short),
        ("cut-off TCP header", cut_off_tcp),
        ("too big", too_big),
        ("illegal source", illegal_source),
        ("short", udp[..19].to_vec()),
    ] {
        assert_eq!(plain(&declined), None, "{name}");
    }
}

/// An ICMPv4 message (`header`: type, code, checksum bytes ignored, the
/// second word) quoting `quoted`, from `source` to the IPv6 host's IPv4
/// form, its checksum computed.
fn raw_icmpv4_error(
    source: [u8; 4],
    header: [u8; 8],
    quoted: &[u8],
    type_of_service: u8,
) -> Vec<u8> {
    let mut message = header.to_vec();
    message.extend_from_slice(quoted);
    message[2..4].fill(0);
    let checksum = crate::translation::checksum::internet_checksum(&message);
    message[2..4].copy_from_slice(&checksum.to_be_bytes());
    let mut outer = Ipv4Header::new(
        message.len() as u16,
        50,
        IpNumber::ICMP,
        source,
        HOST6_AS_IPV4,
    )
    .unwrap();
    outer.dscp = etherparse::IpDscp::try_new(type_of_service >> 2).unwrap();
    outer.ecn = etherparse::IpEcn::try_new(type_of_service & 3).unwrap();
    outer.header_checksum = outer.calc_header_checksum();
    let mut bytes = outer.to_bytes().to_vec();
    bytes.extend_from_slice(&message);
    bytes
}

/// The plain ICMPv4 error case of [`PlainIpv4ToIpv6`] writes what
/// [`translate_ipv4_to_ipv6`] writes (§4.2 type, code, Packet Too Big
/// arithmetic and pointer; §4.3 quoted header, its TTL kept, its transport
/// or echo checksum adjusted; the ICMPv6 checksum), and declines the rest:
/// other types, unsupported codes, RFC 4884 extensions, bad checksums,
/// quoted options, fragments, nested errors, other protocols, bad quoted
/// lengths and errors that would be cut to 1280 bytes. With a translator
/// that ignores roles too, so the quoted addresses that are the outer ones
/// swapped take the outer header's answers and sums (§4.3).
#[test]
fn rfc7915_4_2_plain_icmp_error_matches_the_general_translator() {
    let quoted_udp = |payload: &[u8]| udp4(HOST6_AS_IPV4, HOST4, payload);
    let quoted_tcp = write(64, |bytes| {
        PacketBuilder::ipv4(HOST6_AS_IPV4, HOST4, 3)
            .tcp(40000, 443, 7, 1000)
            .write(bytes, b"segment")
            .unwrap()
    });
    let quoted_echo = |message_type: Icmpv4Type| {
        write(64, |bytes| {
            PacketBuilder::ipv4(HOST6_AS_IPV4, HOST4, 3)
                .icmpv4(message_type)
                .write(bytes, b"ping")
                .unwrap()
        })
    };
    let request = quoted_echo(Icmpv4Type::EchoRequest(etherparse::IcmpEchoHeader {
        id: 1,
        seq: 2,
    }));
    let reply = quoted_echo(Icmpv4Type::EchoReply(etherparse::IcmpEchoHeader {
        id: 1,
        seq: 2,
    }));
    let nested = quoted_echo(Icmpv4Type::DestinationUnreachable(
        icmpv4::DestUnreachableHeader::Port,
    ));
    let mut zero_checksum = quoted_udp(b"no checksum");
    zero_checksum[26..28].fill(0);
    let mut gre = quoted_udp(b"gre");
    gre[9] = 47;
    let mut fragment = quoted_udp(b"fragment");
    fragment[6] |= 0x20;
    let mut later_fragment = quoted_udp(b"fragment");
    later_fragment[7] = 3;
    let mut short_total_length = quoted_udp(b"short");
    short_total_length[3] = 19;
    let mut long_total_length = quoted_udp(b"long");
    long_total_length[2] = 5;
    let mut trailing = quoted_udp(b"trailing bytes");
    trailing[3] -= 4;
    let mut options = quoted_udp(b"options");
    options[0] = 0x46;
    let loopback_inner = udp4([127, 0, 0, 1], HOST4, b"x");
    // (name, quoted, plain expected for a supported type)
    let quoted_packets: Vec<(&str, Vec<u8>, bool)> = vec![
        ("UDP", quoted_udp(b"original datagram"), true),
        (
            "UDP cut after 8",
            quoted_udp(b"original datagram")[..28].to_vec(),
            true,
        ),
        (
            "UDP cut after 3",
            quoted_udp(b"original datagram")[..23].to_vec(),
            true,
        ),
        ("UDP checksum 0", zero_checksum, true),
        ("UDP long total length", long_total_length, true),
        ("TCP", quoted_tcp.clone(), true),
        ("TCP cut after 8", quoted_tcp[..28].to_vec(), true),
        ("echo request", request.clone(), true),
        ("echo request cut to 1 byte", request[..21].to_vec(), true),
        ("echo request cut to 3 bytes", request[..23].to_vec(), true),
        ("UDP of odd length", quoted_udp(b"odd"), true),
        ("UDP with bytes beyond its total length", trailing, false),
        ("echo reply", reply, true),
        ("nested error", nested, false),
        ("GRE", gre, false),
        ("fragment", fragment, false),
        ("later fragment", later_fragment, false),
        ("short total length", short_total_length, false),
        ("options", options, false),
        ("header only", quoted_udp(b"")[..20].to_vec(), true),
        ("loopback inner source", loopback_inner, true),
        ("1192 bytes of data", quoted_udp(&[7; 1184]), true),
        ("1193 bytes of data, cut", quoted_udp(&[7; 1185]), false),
    ];
    // (type, code, byte 5, MTU, plain expected)
    let mut headers: Vec<([u8; 8], bool)> = Vec::new();
    for code in 0..=16 {
        headers.push(([3, code, 0, 0, 0, 0, 0, 0], code != 14 && code != 16));
    }
    for mtu in [0u16, 576, 1300, 1400, 9000] {
        let [high, low] = mtu.to_be_bytes();
        headers.push(([3, 4, 0, 0, 0, 0, high, low], true));
    }
    headers.push(([11, 0, 0, 0, 0, 0, 0, 0], true));
    headers.push(([11, 1, 0, 0, 0, 0, 0, 0], true));
    headers.push(([3, 3, 0, 0, 0, 2, 0, 0], false));
    headers.push(([12, 0, 0, 0, 12, 0, 0, 0], false));
    headers.push(([5, 1, 0, 0, 192, 0, 2, 9], false));
    let mut compared = 0;
    for (traffic_class, ignores_role) in [
        (TrafficClassPolicy::Copy, false),
        (TrafficClassPolicy::Zero, false),
        (TrafficClassPolicy::Copy, true),
    ] {
        let translator = Pool6Roles(ignores_role);
        let settings = TranslationSettings {
            traffic_class,
            ..settings()
        };
        let path = Ipv4ToIpv6Path {
            ipv6_next_hop_mtu: 1500,
            ipv4_link_mtu: 1300,
        };
        for (header, plain_header) in &headers {
            for (name, quoted, plain_quoted) in &quoted_packets {
                for (source, bad_checksum) in
                    [(HOST4, false), ([127, 0, 0, 1], false), (HOST4, true)]
                {
                    let mut packet = raw_icmpv4_error(source, *header, quoted, 0xb9);
                    if bad_checksum {
                        packet[22] ^= 1;
                    }
                    let general = {
                        let mut output = vec![0xa5u8; 2000];
                        translate_ipv4_to_ipv6(&packet, &mut output, &translator, &settings, &path)
                            .ok()
                            .filter(|translated| translated.fragmentation.is_none())
                            .map(|translated| output[..translated.length].to_vec())
                    };
                    let plain = plain_ipv4_to_ipv6(&packet, &translator, &settings, &path);
                    let label = std::format!(
                        "{header:?} quoting {name}, bad checksum {bad_checksum}, roles ignored {ignores_role}"
                    );
                    let expected = *plain_header && *plain_quoted && !bad_checksum;
                    assert_eq!(plain.is_some(), expected, "{label}");
                    if plain.is_some() {
                        assert_eq!(plain, general, "{label}");
                        compared += 1;
                    }
                }
            }
        }
    }
    assert!(compared > 450, "{compared}");
}

/// An ICMPv4 error cut inside its header or inside the quoted IPv4 header
/// (RFC 792: 8 bytes, then a 20-byte header) is no plain case and never
/// panics: [`PlainIpv4ToIpv6`] declines it for the general translator.
#[test]
fn rfc7915_4_2_plain_icmp_error_declines_a_message_cut_before_the_quoted_data() {
    let quoted = udp4(HOST6_AS_IPV4, HOST4, b"original datagram");
    let path = Ipv4ToIpv6Path {
        ipv6_next_hop_mtu: 1500,
        ipv4_link_mtu: 1300,
    };
    for header in [[3u8, 3, 0, 0, 0, 0, 0, 0], [11, 0, 0, 0, 0, 0, 0, 0]] {
        for length in 1..8 + 20 {
            let whole = raw_icmpv4_error(HOST4, header, &quoted, 0);
            let mut message = whole[20..20 + length].to_vec();
            if length >= 4 {
                message[2..4].fill(0);
                let checksum = crate::translation::checksum::internet_checksum(&message);
                message[2..4].copy_from_slice(&checksum.to_be_bytes());
            }
            let mut packet = whole[..20].to_vec();
            packet[2..4].copy_from_slice(&(20 + length as u16).to_be_bytes());
            packet[10..12].fill(0);
            let header_checksum = crate::translation::checksum::internet_checksum(&packet);
            packet[10..12].copy_from_slice(&header_checksum.to_be_bytes());
            packet.extend_from_slice(&message);
            assert!(
                plain_ipv4_to_ipv6(&packet, &Pool6, &settings(), &path).is_none(),
                "{header:?} cut to {length} bytes"
            );
        }
    }
}
