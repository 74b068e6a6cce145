//! `pure6 replay`: captures built here with etherparse and pcap-file go through the router, and the pcapng that comes out is checked frame by frame.

use std::borrow::Cow;
use std::net::Ipv6Addr;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

use etherparse::{Icmpv6Type, LinkSlice, NetSlice, PacketBuilder, SlicedPacket, TransportSlice};
use netstack::config::Config;
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::pcapng::blocks::Block;
use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::pcapng::{PcapNgReader, PcapNgWriter};
use pcap_file::{DataLink, Endianness, TsResolution};
use tools::replay::{
    MAXIMUM_TIME_MICROSECONDS, RAW_IP_SOURCE_MAC, ReplayError, ReplayOptions, ReplaySummary,
    port_mac, replay,
};

/// Two ports; a host on wan0 with a static neighbor entry.
const CONFIG: &str = r#"
[[port]]
name = "lan0"
addresses = ["2001:db8:1::1/64"]

[[port]]
name = "wan0"
addresses = ["2001:db8:2::1/64"]

[[neighbor]]
port = "lan0"
address = "2001:db8:1::10"
mac = "02:00:00:00:00:10"

[[neighbor]]
port = "wan0"
address = "2001:db8:2::20"
mac = "02:00:00:00:00:20"
"#;

const LAN_ROUTER: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1);
const LAN_HOST: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x10);
const LAN_HOST_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x10];
const WAN_HOST: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, 0x20);
const WAN_HOST_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x20];
/// On wan0's prefix, with no neighbor entry: the router must solicit it.
const WAN_UNKNOWN: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, 0x99);

/// A capture time well after 1970, so that relative time is visible.
const CAPTURE_START: Duration = Duration::from_secs(1_700_000_000);

fn config() -> Config {
    netstack::config::parse(CONFIG).expect("the test config parses")
}

fn echo_request_frame(identifier: u16, sequence: u16, payload: &[u8]) -> Vec<u8> {
    let builder = PacketBuilder::ethernet2(LAN_HOST_MAC, port_mac(0))
        .ipv6(LAN_HOST.octets(), LAN_ROUTER.octets(), 64)
        .icmpv6_echo_request(identifier, sequence);
    let mut frame = Vec::with_capacity(builder.size(payload.len()));
    builder.write(&mut frame, payload).expect("frame builds");
    frame
}

fn echo_request_packet(identifier: u16, sequence: u16, payload: &[u8]) -> Vec<u8> {
    let builder = PacketBuilder::ipv6(LAN_HOST.octets(), LAN_ROUTER.octets(), 64)
        .icmpv6_echo_request(identifier, sequence);
    let mut packet = Vec::with_capacity(builder.size(payload.len()));
    builder.write(&mut packet, payload).expect("packet builds");
    packet
}

fn udp_frame(
    source_mac: [u8; 6],
    destination_mac: [u8; 6],
    destination: Ipv6Addr,
    hop_limit: u8,
    payload: &[u8],
) -> Vec<u8> {
    let builder = PacketBuilder::ethernet2(source_mac, destination_mac)
        .ipv6(LAN_HOST.octets(), destination.octets(), hop_limit)
        .udp(40_000, 53);
    let mut frame = Vec::with_capacity(builder.size(payload.len()));
    builder.write(&mut frame, payload).expect("frame builds");
    frame
}

/// An interface description: `link_type`, optional name, nanosecond timestamps.
fn interface(link_type: DataLink, name: Option<&str>) -> InterfaceDescriptionBlock<'static> {
    let mut options = vec![InterfaceDescriptionOption::IfTsResol(9)];
    if let Some(name) = name {
        options.push(InterfaceDescriptionOption::IfName(Cow::Owned(
            name.to_owned(),
        )));
    }
    InterfaceDescriptionBlock {
        linktype: link_type,
        snaplen: 0,
        options,
    }
}

/// A pcapng capture: the interfaces, then `(interface, time after
/// CAPTURE_START, data)` packets.
fn pcapng(
    interfaces: &[InterfaceDescriptionBlock<'static>],
    packets: &[(u32, Duration, Vec<u8>)],
) -> Vec<u8> {
    let mut writer =
        PcapNgWriter::with_endianness(Vec::new(), Endianness::Big).expect("pcapng writer");
    for interface in interfaces {
        writer
            .write_pcapng_block(interface.clone())
            .expect("interface block");
    }
    for (interface_id, time, data) in packets {
        writer
            .write_pcapng_block(EnhancedPacketBlock {
                interface_id: *interface_id,
                timestamp: CAPTURE_START + *time,
                original_len: data.len() as u32,
                data: Cow::Borrowed(data),
                options: Vec::new(),
            })
            .expect("packet block");
    }
    writer.into_inner()
}

/// A pcap capture of `link_type` with `(time after CAPTURE_START, data)` packets.
fn pcap(link_type: DataLink, packets: &[(Duration, Vec<u8>)]) -> Vec<u8> {
    let header = PcapHeader {
        datalink: link_type,
        ts_resolution: TsResolution::MicroSecond,
        ..PcapHeader::default()
    };
    let mut writer = PcapWriter::with_header(Vec::new(), header).expect("pcap writer");
    for (time, data) in packets {
        writer
            .write_packet(&PcapPacket::new(
                CAPTURE_START + *time,
                data.len() as u32,
                data,
            ))
            .expect("packet");
    }
    writer.into_writer()
}

/// The two named Ethernet interfaces of the test config.
fn lan_and_wan() -> Vec<InterfaceDescriptionBlock<'static>> {
    vec![
        interface(DataLink::ETHERNET, Some("lan0")),
        interface(DataLink::ETHERNET, Some("wan0")),
    ]
}

fn run(input: &[u8], options: &ReplayOptions) -> Result<(Vec<u8>, ReplaySummary), ReplayError> {
    let mut output = Vec::new();
    let summary = replay(&config(), input, &mut output, options)?;
    Ok((output, summary))
}

fn run_ok(input: &[u8], options: &ReplayOptions) -> (Vec<u8>, ReplaySummary) {
    run(input, options).unwrap_or_else(|error| panic!("replay failed: {error}"))
}

fn with_port(name: &str) -> ReplayOptions {
    ReplayOptions {
        port: Some(name.to_owned()),
        ..ReplayOptions::default()
    }
}

/// One frame of the output capture.
#[derive(Debug, PartialEq, Eq)]
struct OutputFrame {
    interface: u32,
    /// Nanoseconds (the output's `if_tsresol` is 9).
    time: Duration,
    data: Vec<u8>,
}

/// The interface names (with their options checked) and frames of an output capture.
fn read_output(output: &[u8]) -> (Vec<String>, Vec<OutputFrame>) {
    let mut reader = PcapNgReader::new(output).expect("output is pcapng");
    assert_eq!(reader.section().endianness, Endianness::Little);
    let mut names = Vec::new();
    let mut frames = Vec::new();
    while let Some(block) = reader.next_block() {
        match block.expect("output block parses") {
            Block::InterfaceDescription(description) => {
                assert_eq!(description.linktype, DataLink::ETHERNET);
                let index = names.len();
                let mut name = None;
                let mut resolution = None;
                let mut mac = None;
                for option in &description.options {
                    match option {
                        InterfaceDescriptionOption::IfName(text) => name = Some(text.to_string()),
                        InterfaceDescriptionOption::IfTsResol(value) => resolution = Some(*value),
                        InterfaceDescriptionOption::IfMacAddr(bytes) => mac = Some(bytes.to_vec()),
                        _ => {}
                    }
                }
                assert_eq!(resolution, Some(9), "nanosecond timestamps");
                assert_eq!(mac, Some(port_mac(index).to_vec()));
                names.push(name.expect("every output interface is named"));
            }
            Block::EnhancedPacket(packet) => {
                assert_eq!(packet.original_len as usize, packet.data.len());
                frames.push(OutputFrame {
                    interface: packet.interface_id,
                    time: packet.timestamp,
                    data: packet.data.to_vec(),
                });
            }
            other => panic!("unexpected block {other:?}"),
        }
    }
    (names, frames)
}

/// Checks that `frame` is an Echo Reply from the router's lan0 address to
/// the host, sent to `destination_mac`.
fn assert_echo_reply(frame: &[u8], destination_mac: [u8; 6], sequence: u16, payload: &[u8]) {
    let packet = SlicedPacket::from_ethernet(frame).expect("reply parses");
    let Some(LinkSlice::Ethernet2(ethernet)) = &packet.link else {
        panic!("no Ethernet header")
    };
    assert_eq!(ethernet.source(), port_mac(0));
    assert_eq!(ethernet.destination(), destination_mac);
    let Some(NetSlice::Ipv6(ipv6)) = &packet.net else {
        panic!("no IPv6 header")
    };
    assert_eq!(ipv6.header().source_addr(), LAN_ROUTER);
    assert_eq!(ipv6.header().destination_addr(), LAN_HOST);
    let Some(TransportSlice::Icmpv6(icmp)) = &packet.transport else {
        panic!("no ICMPv6")
    };
    assert!(icmp.is_checksum_valid(ipv6.header().source(), ipv6.header().destination()));
    let Icmpv6Type::EchoReply(echo) = icmp.icmp_type() else {
        panic!("not an echo reply: {:?}", icmp.icmp_type())
    };
    assert_eq!((echo.id, echo.seq), (0x1234, sequence));
    assert_eq!(icmp.payload(), payload);
}

fn counter(summary: &ReplaySummary, port: &str, name: &str) -> u64 {
    summary
        .ports
        .iter()
        .find(|summary| summary.name == port)
        .and_then(|summary| {
            summary
                .counters
                .iter()
                .find(|(counter, _)| *counter == name)
        })
        .map_or(0, |(_, value)| *value)
}

#[test]
fn echo_request_is_answered_on_its_port() {
    let input = pcapng(
        &lan_and_wan(),
        &[
            (
                0,
                Duration::ZERO,
                echo_request_frame(0x1234, 1, b"ping one"),
            ),
            (
                0,
                Duration::from_micros(1_500_250),
                echo_request_frame(0x1234, 2, b"ping two"),
            ),
        ],
    );
    let (output, summary) = run_ok(&input, &ReplayOptions::default());
    let (names, frames) = read_output(&output);
    assert_eq!(names, ["lan0", "wan0"]);
    assert_eq!(frames.len(), 2, "{frames:?}");
    assert_eq!(frames[0].interface, 0);
    assert_eq!(frames[0].time, Duration::ZERO);
    assert_echo_reply(&frames[0].data, LAN_HOST_MAC, 1, b"ping one");
    assert_eq!(frames[1].interface, 0);
    assert_eq!(frames[1].time, Duration::from_micros(1_500_250));
    assert_echo_reply(&frames[1].data, LAN_HOST_MAC, 2, b"ping two");

    assert_eq!(summary.packets_in, 2);
    assert_eq!(summary.frames_out, 2);
    assert_eq!(summary.ports[0].packets_in, 2);
    assert_eq!(summary.ports[0].frames_out, 2);
    assert_eq!(counter(&summary, "lan0", "received"), 2);
    assert_eq!(counter(&summary, "lan0", "consumed"), 2);
    assert_eq!(counter(&summary, "lan0", "transmitted"), 2);
    assert!(summary.ports[1].counters.is_empty(), "{summary:?}");
    assert_eq!(
        summary.last_packet_time,
        netstack::Instant::from_micros(1_500_250)
    );
    assert_eq!(
        summary.final_poll_time,
        netstack::Instant::from_micros(2_500_250)
    );
    let lines = summary.lines();
    assert!(lines.contains("counter lan0 received 2\n"), "{lines}");
    assert!(lines.contains("total consumed 2\n"), "{lines}");
    assert!(
        lines
            .lines()
            .filter(|line| line.starts_with("counter ") || line.starts_with("total "))
            .all(|line| !line.ends_with(" 0")),
        "only nonzero counters: {lines}"
    );
}

#[test]
fn forwarded_packet_leaves_on_the_other_port_with_hop_limit_decremented() {
    let payload = b"forward me";
    let input = pcapng(
        &lan_and_wan(),
        &[(
            0,
            Duration::from_millis(3),
            udp_frame(LAN_HOST_MAC, port_mac(0), WAN_HOST, 64, payload),
        )],
    );
    let (output, summary) = run_ok(&input, &ReplayOptions::default());
    let (_, frames) = read_output(&output);
    let expected = udp_frame(port_mac(1), WAN_HOST_MAC, WAN_HOST, 63, payload);
    assert_eq!(
        frames,
        [OutputFrame {
            interface: 1,
            time: Duration::ZERO,
            data: expected,
        }]
    );
    // The same bytes, spelled out: Ethernet, IPv6 with hop limit 63, UDP.
    let mut spelled_out = vec![
        0x02, 0, 0, 0, 0, 0x20, 0x52, 0x54, 0, 0, 0, 0x02, 0x86, 0xdd, // Ethernet
        0x60, 0, 0, 0, 0, 18, 17, 63, // IPv6: payload 18 bytes, UDP, hop limit 63
    ];
    spelled_out.extend_from_slice(&LAN_HOST.octets());
    spelled_out.extend_from_slice(&WAN_HOST.octets());
    assert_eq!(frames[0].data[..54], spelled_out[..]);
    assert_eq!(&frames[0].data[54..58], &[0x9c, 0x40, 0, 53]);
    assert_eq!(&frames[0].data[62..], payload);
    assert_eq!(counter(&summary, "lan0", "forwarded"), 1);
    assert_eq!(counter(&summary, "wan0", "transmitted"), 1);
}

#[test]
fn raw_ip_pcap_enters_the_named_port() {
    let input = pcap(
        DataLink::IPV6,
        &[(Duration::ZERO, echo_request_packet(0x1234, 7, b"raw"))],
    );
    let (output, summary) = run_ok(&input, &with_port("lan0"));
    let (_, frames) = read_output(&output);
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(frames[0].interface, 0);
    // The reply goes back to the source MAC the replay framed the request with.
    assert_echo_reply(&frames[0].data, RAW_IP_SOURCE_MAC, 7, b"raw");
    assert_eq!(counter(&summary, "lan0", "consumed"), 1);

    // LINKTYPE_RAW: the version nibble picks the EtherType.
    let input = pcap(
        DataLink::RAW,
        &[(Duration::ZERO, echo_request_packet(0x1234, 8, b"raw"))],
    );
    let (output, _) = run_ok(&input, &with_port("lan0"));
    let (_, frames) = read_output(&output);
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_echo_reply(&frames[0].data, RAW_IP_SOURCE_MAC, 8, b"raw");
}

#[test]
fn pcap_packets_longer_than_the_snap_length_are_replayed() {
    // Offloads put packets longer than the snap length in real captures.
    let frame = echo_request_frame(0x1234, 4, &[0xab; 200]);
    let header = PcapHeader {
        datalink: DataLink::ETHERNET,
        snaplen: 128,
        endianness: Endianness::Little,
        ..PcapHeader::default()
    };
    let mut input = Vec::new();
    header.write_to(&mut input).expect("header");
    for field in [1_700_000_000_u32, 0, frame.len() as u32, frame.len() as u32] {
        input.extend_from_slice(&field.to_le_bytes());
    }
    input.extend_from_slice(&frame);
    let (output, summary) = run_ok(&input, &with_port("lan0"));
    let (_, frames) = read_output(&output);
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_echo_reply(&frames[0].data, LAN_HOST_MAC, 4, &[0xab; 200]);
    assert_eq!(summary.truncated_packets, 0);
}

#[test]
fn truncated_packets_are_replayed_as_captured_and_counted() {
    let mut frame = echo_request_frame(0x1234, 5, &[0xab; 200]);
    let original_length = frame.len() as u32;
    frame.truncate(100);
    let header = PcapHeader {
        datalink: DataLink::ETHERNET,
        ..PcapHeader::default()
    };
    let mut writer = PcapWriter::with_header(Vec::new(), header).expect("pcap writer");
    writer
        .write_packet(&PcapPacket::new(CAPTURE_START, original_length, &frame))
        .expect("packet");
    let (output, summary) = run_ok(&writer.into_writer(), &with_port("lan0"));
    assert_eq!(summary.truncated_packets, 1);
    assert_eq!(counter(&summary, "lan0", "received"), 1);
    // The router drops it (its payload length exceeds the frame).
    assert_eq!(summary.frames_out, 0);
    assert!(read_output(&output).1.is_empty());
}

#[test]
fn port_option_overrides_interface_names() {
    // Unnamed and foreign-named interfaces: --port sends everything to lan0.
    let input = pcapng(
        &[
            interface(DataLink::ETHERNET, None),
            interface(DataLink::IPV6, Some("eth0")),
        ],
        &[
            (0, Duration::ZERO, echo_request_frame(0x1234, 1, b"a")),
            (
                1,
                Duration::from_millis(1),
                echo_request_packet(0x1234, 2, b"b"),
            ),
        ],
    );
    let (output, summary) = run_ok(&input, &with_port("lan0"));
    let (_, frames) = read_output(&output);
    assert_eq!(frames.len(), 2, "{frames:?}");
    assert_echo_reply(&frames[0].data, LAN_HOST_MAC, 1, b"a");
    assert_echo_reply(&frames[1].data, RAW_IP_SOURCE_MAC, 2, b"b");
    assert_eq!(summary.ports[0].packets_in, 2);
}

#[test]
fn default_timestamp_resolution_is_microseconds() {
    // No if_tsresol: units of 10^-6 s. pcap-file passes the raw count as
    // nanoseconds, so 2_000_000 here is 2 s.
    let quiet = InterfaceDescriptionBlock {
        linktype: DataLink::ETHERNET,
        snaplen: 0,
        options: vec![InterfaceDescriptionOption::IfName(Cow::Borrowed("lan0"))],
    };
    let mut writer = PcapNgWriter::new(Vec::new()).expect("writer");
    writer.write_pcapng_block(quiet).expect("interface");
    for (raw, sequence) in [(1_000_000_u64, 1_u16), (3_000_000, 2)] {
        let data = echo_request_frame(0x1234, sequence, b"t");
        writer
            .write_pcapng_block(EnhancedPacketBlock {
                interface_id: 0,
                timestamp: Duration::from_nanos(raw),
                original_len: data.len() as u32,
                data: Cow::Owned(data),
                options: Vec::new(),
            })
            .expect("packet");
    }
    let (output, _) = run_ok(&writer.into_inner(), &ReplayOptions::default());
    let (_, frames) = read_output(&output);
    let times: Vec<Duration> = frames.iter().map(|frame| frame.time).collect();
    assert_eq!(times, [Duration::ZERO, Duration::from_secs(2)]);
}

#[test]
fn time_never_goes_backwards() {
    let input = pcapng(
        &lan_and_wan(),
        &[
            (
                0,
                Duration::from_secs(5),
                echo_request_frame(0x1234, 1, b"x"),
            ),
            (
                0,
                Duration::from_secs(9),
                echo_request_frame(0x1234, 2, b"x"),
            ),
            (
                0,
                Duration::from_secs(7),
                echo_request_frame(0x1234, 3, b"x"),
            ),
        ],
    );
    let (output, _) = run_ok(&input, &ReplayOptions::default());
    let (_, frames) = read_output(&output);
    let times: Vec<Duration> = frames.iter().map(|frame| frame.time).collect();
    assert_eq!(
        times,
        [
            Duration::ZERO,
            Duration::from_secs(4),
            Duration::from_secs(4)
        ]
    );
}

#[test]
fn huge_timestamps_are_clamped() {
    // if_tsresol 0 (seconds) and a packet at the end of time: the router's
    // clock stops at the maximum instead of overflowing.
    let seconds = InterfaceDescriptionBlock {
        linktype: DataLink::ETHERNET,
        snaplen: 0,
        options: vec![
            InterfaceDescriptionOption::IfName(Cow::Borrowed("lan0")),
            InterfaceDescriptionOption::IfTsResol(0),
        ],
    };
    let mut writer = PcapNgWriter::new(Vec::new()).expect("writer");
    writer.write_pcapng_block(seconds).expect("interface");
    for (raw, sequence) in [(0_u64, 1_u16), (u64::MAX, 2)] {
        let data = echo_request_frame(0x1234, sequence, b"t");
        writer
            .write_pcapng_block(EnhancedPacketBlock {
                interface_id: 0,
                timestamp: Duration::from_nanos(raw),
                original_len: data.len() as u32,
                data: Cow::Owned(data),
                options: Vec::new(),
            })
            .expect("packet");
    }
    let options = ReplayOptions {
        final_poll_after: netstack::Duration::from_secs(u64::MAX / 2_000_000),
        ..ReplayOptions::default()
    };
    let (output, summary) = run_ok(&writer.into_inner(), &options);
    let maximum = netstack::Instant::from_micros(MAXIMUM_TIME_MICROSECONDS);
    assert_eq!(summary.last_packet_time, maximum);
    assert_eq!(summary.final_poll_time, maximum);
    assert_eq!(read_output(&output).1.len(), 2);
}

/// Echo, forwarding, a forward to an unresolved neighbor (solicitations and
/// the final poll), and garbage.
fn busy_capture() -> Vec<u8> {
    pcapng(
        &lan_and_wan(),
        &[
            (0, Duration::ZERO, echo_request_frame(0x1234, 1, b"one")),
            (
                0,
                Duration::from_millis(10),
                udp_frame(LAN_HOST_MAC, port_mac(0), WAN_HOST, 64, b"two"),
            ),
            (
                0,
                Duration::from_millis(20),
                udp_frame(LAN_HOST_MAC, port_mac(0), WAN_UNKNOWN, 64, b"three"),
            ),
            (1, Duration::from_millis(30), vec![0xff; 9]),
            (
                0,
                Duration::from_millis(1_400),
                echo_request_frame(0x1234, 2, b"four"),
            ),
        ],
    )
}

#[test]
fn replay_is_deterministic() {
    let input = busy_capture();
    let (first, first_summary) = run_ok(&input, &ReplayOptions::default());
    let (second, second_summary) = run_ok(&input, &ReplayOptions::default());
    assert_eq!(first, second);
    assert_eq!(first_summary, second_summary);
    let (_, frames) = read_output(&first);
    // The unresolved destination makes the router solicit on wan0.
    let solicitations = frames
        .iter()
        .filter(|frame| frame.interface == 1)
        .filter(|frame| {
            SlicedPacket::from_ethernet(&frame.data).is_ok_and(|packet| {
                matches!(&packet.transport, Some(TransportSlice::Icmpv6(icmp))
                    if icmp.icmp_type() == Icmpv6Type::NeighborSolicitation)
            })
        })
        .count();
    assert!(solicitations >= 1, "{frames:?}");
    assert_eq!(first_summary.packets_in, 5);
    assert_eq!(counter(&first_summary, "wan0", "received"), 1);

    let other_seed = ReplayOptions {
        seed: 1,
        ..ReplayOptions::default()
    };
    let (third, _) = run_ok(&input, &other_seed);
    let (fourth, _) = run_ok(&input, &other_seed);
    assert_eq!(third, fourth);
}

#[test]
fn unknown_interface_name_is_an_error_listing_the_ports() {
    let input = pcapng(
        &[
            interface(DataLink::ETHERNET, Some("lan0")),
            interface(DataLink::ETHERNET, Some("eth7")),
        ],
        &[],
    );
    let error = run(&input, &ReplayOptions::default()).unwrap_err();
    assert!(
        matches!(error, ReplayError::UnknownInterface { .. }),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "interface 1 is named `eth7`, which is not a port of the config (ports: lan0, wan0); \
         rename it or pass --port NAME"
    );
}

#[test]
fn unnamed_interface_and_pcap_need_a_port() {
    let input = pcapng(&[interface(DataLink::ETHERNET, None)], &[]);
    let error = run(&input, &ReplayOptions::default()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "interface 0 has no if_name and names no port: pass --port NAME (ports: lan0, wan0)"
    );
    let input = pcap(DataLink::ETHERNET, &[]);
    let error = run(&input, &ReplayOptions::default()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "a pcap file names no port: pass --port NAME (ports: lan0, wan0)"
    );
    let error = run(&input, &with_port("dmz0")).unwrap_err();
    assert_eq!(
        error.to_string(),
        "--port dmz0: no such port in the config (ports: lan0, wan0)"
    );
}

#[test]
fn unknown_link_type_is_an_error() {
    let input = pcapng(&[interface(DataLink::LINUX_SLL, Some("lan0"))], &[]);
    let error = run(&input, &ReplayOptions::default()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "interface 0 (`lan0`): link type 113 (LINUX_SLL) is not supported; \
         replay reads Ethernet (1) and raw IP (101, 228, 229)"
    );
    let input = pcap(DataLink::Unknown(4000), &[]);
    let error = run(&input, &with_port("lan0")).unwrap_err();
    assert_eq!(
        error.to_string(),
        "the pcap file: link type 4000 (unknown) is not supported; \
         replay reads Ethernet (1) and raw IP (101, 228, 229)"
    );
}

#[test]
fn truncated_captures_are_errors() {
    let input = busy_capture();
    let cut = &input[..input.len() - 10];
    let error = run(cut, &ReplayOptions::default()).unwrap_err();
    assert!(matches!(error, ReplayError::Truncated { .. }), "{error:?}");
    // Section header, two interfaces, five packets: the last is block 8.
    assert_eq!(
        error.to_string(),
        "truncated capture: the file ends inside block 8"
    );

    let input = pcap(
        DataLink::ETHERNET,
        &[
            (Duration::ZERO, echo_request_frame(0x1234, 1, b"x")),
            (Duration::ZERO, echo_request_frame(0x1234, 2, b"x")),
        ],
    );
    let error = run(&input[..input.len() - 1], &with_port("lan0")).unwrap_err();
    assert_eq!(
        error.to_string(),
        "truncated capture: the file ends inside packet 2"
    );
    let error = run(&input[..10], &with_port("lan0")).unwrap_err();
    assert_eq!(
        error.to_string(),
        "truncated capture: the file ends inside the file header"
    );
    let error = run(&[], &with_port("lan0")).unwrap_err();
    assert_eq!(
        error.to_string(),
        "truncated capture: the file ends inside the file header"
    );
}

#[test]
fn other_malformed_input_is_an_error() {
    let error = run(b"GET / HTTP/1.1\r\n", &with_port("lan0")).unwrap_err();
    assert_eq!(
        error.to_string(),
        "not a pcap or pcapng capture (starts with 47455420)"
    );
    // A packet on an interface never described: pcap-file's writer refuses
    // to write one, so interface 0 becomes 5 afterwards (big-endian; the
    // interface number follows the block type and length).
    let header_length = pcapng(&lan_and_wan(), &[]).len();
    let mut input = pcapng(
        &lan_and_wan(),
        &[(0, Duration::ZERO, echo_request_frame(0x1234, 1, b"x"))],
    );
    input[header_length + 8..header_length + 12].copy_from_slice(&5_u32.to_be_bytes());
    let error = run(&input, &ReplayOptions::default()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "malformed capture: block 4: a packet on interface 5, which no Interface Description \
         Block describes"
    );
    // A block whose trailing length disagrees with its leading one.
    let mut input = busy_capture();
    let last = input.len() - 1;
    input[last] ^= 0x40;
    let error = run(&input, &ReplayOptions::default()).unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("malformed capture: block 8: "),
        "{error}"
    );
}

#[test]
fn config_without_ports_is_an_error() {
    let config = netstack::config::parse("").expect("empty config parses");
    let input = pcap(DataLink::ETHERNET, &[]);
    let error = replay(&config, &input[..], Vec::new(), &ReplayOptions::default()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "the config has no [[port]]; replay needs at least one port"
    );
}

/// A small deterministic generator for the mutation test.
struct Generator(u64);

impl Generator {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }
}

#[test]
fn mutated_captures_never_panic() {
    let seeds = [
        busy_capture(),
        pcap(
            DataLink::RAW,
            &[
                (Duration::ZERO, echo_request_packet(0x1234, 1, b"x")),
                (Duration::from_secs(1), echo_request_packet(0x1234, 2, b"y")),
            ],
        ),
    ];
    let mut generator = Generator(0x5eed);
    for round in 0..400 {
        let mut input = seeds[round % seeds.len()].clone();
        for _ in 0..=generator.below(4) {
            let position = generator.below(input.len());
            match generator.below(3) {
                0 => input[position] = generator.next() as u8,
                1 => input.truncate(position.max(1)),
                _ => input.insert(position, generator.next() as u8),
            }
        }
        // Ok or a clean error, never a panic.
        let _ = run(&input, &with_port("lan0"));
        let _ = run(&input, &ReplayOptions::default());
    }
}

// The `pure6 replay` process.

fn temporary_directory() -> PathBuf {
    let directory = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("replay");
    std::fs::create_dir_all(&directory).expect("temporary directory");
    directory
}

fn pure6_replay(arguments: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pure6"))
        .arg("replay")
        .args(arguments)
        .output()
        .expect("pure6 runs")
}

#[test]
fn command_line_replay() {
    let directory = temporary_directory();
    let config_path = directory.join("two-ports.toml");
    std::fs::write(&config_path, CONFIG).expect("write config");
    let input_path = directory.join("busy.pcapng");
    std::fs::write(&input_path, busy_capture()).expect("write capture");
    let output_path = directory.join("busy-out.pcapng");
    let _ = std::fs::remove_file(&output_path);
    let output = pure6_replay(&[
        "--config".as_ref(),
        config_path.as_os_str(),
        "--in".as_ref(),
        input_path.as_os_str(),
        "--out".as_ref(),
        output_path.as_os_str(),
    ]);
    assert!(output.status.success(), "{output:?}");
    let stderr = String::from_utf8(output.stderr).expect("UTF-8");
    assert!(
        stderr.starts_with("replay: 5 packets in (0 truncated), "),
        "{stderr}"
    );
    assert!(
        stderr.contains("\nport lan0 52:54:00:00:00:01 in 4 out "),
        "{stderr}"
    );
    assert!(stderr.contains("\ncounter lan0 received 4\n"), "{stderr}");
    assert!(stderr.contains("\ncounter wan0 received 1\n"), "{stderr}");
    assert!(stderr.contains("\ntotal received 5\n"), "{stderr}");
    // The file is what the library writes.
    let written = std::fs::read(&output_path).expect("output written");
    let (expected, _) = run_ok(&busy_capture(), &ReplayOptions::default());
    assert_eq!(written, expected);

    // Standard input and output, --port and --seed.
    let raw_path = directory.join("raw.pcap");
    std::fs::write(
        &raw_path,
        pcap(
            DataLink::IPV6,
            &[(Duration::ZERO, echo_request_packet(0x1234, 3, b"cli"))],
        ),
    )
    .expect("write capture");
    let output = Command::new(env!("CARGO_BIN_EXE_pure6"))
        .args(["replay", "--port", "lan0", "--seed", "0x10", "--in"])
        .arg(&raw_path)
        .args(["--out", "-", "--config"])
        .arg(&config_path)
        .output()
        .expect("pure6 runs");
    assert!(output.status.success(), "{output:?}");
    let (_, frames) = read_output(&output.stdout);
    assert_eq!(frames.len(), 1);
    assert_echo_reply(&frames[0].data, RAW_IP_SOURCE_MAC, 3, b"cli");
}

#[test]
fn command_line_errors() {
    let directory = temporary_directory();
    let config_path = directory.join("errors.toml");
    std::fs::write(&config_path, CONFIG).expect("write config");
    let output_path = directory.join("errors-out.pcapng");
    let _ = std::fs::remove_file(&output_path);

    // A config error reads as `pure6 check` prints it.
    let bad_config = directory.join("bad.toml");
    std::fs::write(&bad_config, "[[port]]\nname = \"lan0\"\nmtu = 100\n").expect("write");
    let input_path = directory.join("errors.pcapng");
    std::fs::write(&input_path, busy_capture()).expect("write capture");
    let output = pure6_replay(&[
        "--config".as_ref(),
        bad_config.as_os_str(),
        "--in".as_ref(),
        input_path.as_os_str(),
        "--out".as_ref(),
        output_path.as_os_str(),
    ]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let check = Command::new(env!("CARGO_BIN_EXE_pure6"))
        .arg("check")
        .arg(&bad_config)
        .output()
        .expect("pure6 runs");
    assert_eq!(output.stderr, check.stderr);
    assert!(
        String::from_utf8_lossy(&output.stderr).contains(":3:7: mtu 100 is out of range"),
        "{output:?}"
    );
    assert!(!output_path.exists());

    // A missing input file.
    let missing = directory.join("missing.pcapng");
    let output = pure6_replay(&[
        "--config".as_ref(),
        config_path.as_os_str(),
        "--in".as_ref(),
        missing.as_os_str(),
        "--out".as_ref(),
        output_path.as_os_str(),
    ]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).expect("UTF-8");
    assert!(
        stderr.starts_with(&format!("{}: cannot read: ", missing.display())),
        "{stderr}"
    );

    // A truncated capture: the error names the file, and no output is left.
    let truncated = directory.join("truncated.pcapng");
    let capture = busy_capture();
    std::fs::write(&truncated, &capture[..capture.len() - 3]).expect("write capture");
    let output = pure6_replay(&[
        "--config".as_ref(),
        config_path.as_os_str(),
        "--in".as_ref(),
        truncated.as_os_str(),
        "--out".as_ref(),
        output_path.as_os_str(),
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(output.stderr).expect("UTF-8"),
        format!(
            "{}: truncated capture: the file ends inside block 8\n",
            truncated.display()
        )
    );
    assert!(!output_path.exists(), "a failed replay leaves no output");
}

/// A border router: lan0 (IPv6) and an IPv4 uplink whose gateway has a
/// static ARP entry, so the replay needs no ARP exchange.
const TRANSLATION_CONFIG: &str = r#"
[[port]]
name = "lan0"
addresses = ["2001:db8:1::1/64"]

[[port]]
name = "uplink"
[port.ipv4]
address = "192.0.2.1/24"
gateway = "192.0.2.254"
[[port.ipv4.neighbor]]
address = "192.0.2.254"
mac = "02:00:00:00:02:54"

[translation]
pool6 = "2001:db8:64::/96"

[[translation.eam]]
ipv4 = "198.51.100.16"
ipv6 = "2001:db8:1::10"
"#;

#[test]
fn ipv6_to_ipv4_translation_replays_into_the_expected_capture() {
    let config = netstack::config::parse(TRANSLATION_CONFIG).expect("the config parses");
    // LAN_HOST (2001:db8:1::10) is the EAM host; the server is under pool6.
    let server = Ipv6Addr::new(0x2001, 0xdb8, 0x64, 0, 0, 0, 0xcb00, 0x7150);
    let payload = b"translate me";
    let input = pcapng(
        &[
            interface(DataLink::ETHERNET, Some("lan0")),
            interface(DataLink::ETHERNET, Some("uplink")),
        ],
        &[(
            0,
            Duration::from_millis(1),
            udp_frame(LAN_HOST_MAC, port_mac(0), server, 64, payload),
        )],
    );
    let mut output = Vec::new();
    let summary = replay(&config, &input[..], &mut output, &ReplayOptions::default())
        .unwrap_or_else(|error| panic!("replay failed: {error}"));
    let (names, frames) = read_output(&output);
    assert_eq!(names, ["lan0", "uplink"]);
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(frames[0].interface, 1);
    // What RFC 7915 §5.1 asks for, built independently: TTL 63, DF clear
    // (≤ 1260 bytes), EAM source, pool6-embedded destination. The
    // Identification is the translator's random choice: copy it.
    let identification = u16::from_be_bytes([frames[0].data[18], frames[0].data[19]]);
    let mut header = etherparse::Ipv4Header::new(
        (8 + payload.len()) as u16,
        63,
        etherparse::IpNumber::UDP,
        [198, 51, 100, 16],
        [203, 0, 113, 80],
    )
    .unwrap();
    header.identification = identification;
    header.dont_fragment = false;
    let builder = PacketBuilder::ethernet2(port_mac(1), [0x02, 0, 0, 0, 0x02, 0x54])
        .ip(etherparse::IpHeaders::Ipv4(header, Default::default()))
        .udp(40_000, 53);
    let mut expected = Vec::new();
    builder.write(&mut expected, payload).expect("frame builds");
    assert_eq!(frames[0].data, expected);
    assert_eq!(counter(&summary, "lan0", "forwarded"), 1);
    assert_eq!(counter(&summary, "uplink", "transmitted"), 1);
}

/// A NAT64 border: the host on lan0 has no EAM, so its packets take pool4.
const NAT64_CONFIG: &str = r#"
[[port]]
name = "lan0"
addresses = ["2001:db8:1::1/64"]

[[port]]
name = "uplink"
[port.ipv4]
address = "192.0.2.1/24"
gateway = "192.0.2.254"
[[port.ipv4.neighbor]]
address = "192.0.2.254"
mac = "02:00:00:00:02:54"

[translation]
pool6 = "2001:db8:64::/96"

[nat64]
pool4 = [{ prefix = "192.0.2.1" }]
"#;

#[test]
fn nat64_replay_lists_the_session_it_created() {
    let config = netstack::config::parse(NAT64_CONFIG).expect("the config parses");
    let server = Ipv6Addr::new(0x2001, 0xdb8, 0x64, 0, 0, 0, 0xcb00, 0x7150);
    let input = pcapng(
        &[
            interface(DataLink::ETHERNET, Some("lan0")),
            interface(DataLink::ETHERNET, Some("uplink")),
        ],
        &[(
            0,
            Duration::from_millis(1),
            udp_frame(LAN_HOST_MAC, port_mac(0), server, 64, b"query"),
        )],
    );
    let mut output = Vec::new();
    let summary = replay(&config, &input[..], &mut output, &ReplayOptions::default())
        .unwrap_or_else(|error| panic!("replay failed: {error}"));
    let (_, frames) = read_output(&output);
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(frames[0].interface, 1, "out of the uplink");
    let sliced = SlicedPacket::from_ethernet(&frames[0].data).unwrap();
    let Some(NetSlice::Ipv4(ipv4)) = &sliced.net else {
        panic!("not IPv4")
    };
    assert_eq!(ipv4.header().source(), [192, 0, 2, 1]);
    let Some(TransportSlice::Udp(udp)) = &sliced.transport else {
        panic!("not UDP")
    };
    let mapped_port = udp.source_port();
    assert_eq!(
        summary.sessions,
        [format!(
            "udp [2001:db8:1::10]:40000 192.0.2.1:{mapped_port} -> 203.0.113.80:53, expires in 299 s"
        )],
        "the session, listed at the final poll one second later"
    );
    assert!(
        summary
            .lines()
            .contains("session udp [2001:db8:1::10]:40000")
    );
}
