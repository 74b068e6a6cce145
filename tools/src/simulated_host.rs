//! A simulated IPv6 host on one of the appliance's ports: Neighbor Discovery, ping, and garbage.
//!
//! The frames are built and checked with `etherparse`, independently of
//! netstack's own codecs, so a bug shared by the router's encoder and
//! decoder cannot hide here. [`SimulatedHost`] resolves the router's
//! link-local address (RFC 4861 Neighbor Solicitation / Advertisement) and
//! pings it (RFC 4443 Echo); [`GarbageGenerator`] produces a deterministic
//! stream of frames every correct router must drop: random bytes, truncated
//! copies of valid frames, wrong EtherTypes, lying length fields, bad
//! checksums and oversize frames.

use std::fmt;
use std::io;
use std::net::Ipv6Addr;
use std::time::{Duration, Instant};

use etherparse::icmpv6::{Icmpv6PayloadSlice, NdpOptionSlice, NeighborAdvertisementHeader};
use etherparse::{
    Icmpv6Slice, Icmpv6Type, LinkSlice, NetSlice, PacketBuilder, SlicedPacket, TransportSlice,
};

use crate::qemu::PortSocket;

/// An Ethernet MAC address.
pub type MacAddress = [u8; 6];

/// The EtherType of IPv6.
pub const ETHERTYPE_IPV6: u16 = 0x86DD;
/// The hop limit every Neighbor Discovery message carries (RFC 4861 §7.1).
pub const NEIGHBOR_DISCOVERY_HOP_LIMIT: u8 = 255;
/// The hop limit of the host's echo requests.
pub const ECHO_HOP_LIMIT: u8 = 64;
const ETHERNET_HEADER_LENGTH: usize = 14;
const IPV6_HEADER_LENGTH: usize = 40;
const ICMPV6_TYPE_NEIGHBOR_SOLICITATION: u8 = 135;
/// NDP option type: source link-layer address (RFC 4861 §4.6.1).
const OPTION_SOURCE_LINK_LAYER_ADDRESS: u8 = 1;
/// NDP option type: target link-layer address (RFC 4861 §4.6.1).
const OPTION_TARGET_LINK_LAYER_ADDRESS: u8 = 2;
/// The all-nodes multicast group, ff02::1.
const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

/// The modified EUI-64 link-local address of a MAC (RFC 4291 appendix A):
/// 52:54:00:00:00:01 gives fe80::5054:ff:fe00:1.
pub fn link_local_from_mac(mac: MacAddress) -> Ipv6Addr {
    let mut octets = [0u8; 16];
    octets[0] = 0xfe;
    octets[1] = 0x80;
    octets[8] = mac[0] ^ 0x02;
    octets[9] = mac[1];
    octets[10] = mac[2];
    octets[11] = 0xff;
    octets[12] = 0xfe;
    octets[13] = mac[3];
    octets[14] = mac[4];
    octets[15] = mac[5];
    Ipv6Addr::from(octets)
}

/// The solicited-node multicast address of `address`: ff02::1:ffXX:XXXX (RFC 4291 §2.7.1).
pub fn solicited_node_multicast(address: Ipv6Addr) -> Ipv6Addr {
    let low = address.octets();
    Ipv6Addr::from([
        0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff, low[13], low[14], low[15],
    ])
}

/// The Ethernet address of an IPv6 multicast group: 33:33 and its low 32 bits (RFC 2464 §7).
pub fn multicast_mac(group: Ipv6Addr) -> MacAddress {
    let octets = group.octets();
    [0x33, 0x33, octets[12], octets[13], octets[14], octets[15]]
}

/// Why a received frame is not the one that was expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnexpectedFrame(pub String);

impl fmt::Display for UnexpectedFrame {
    fn fmt(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl std::error::Error for UnexpectedFrame {}

fn unexpected<T>(why: impl Into<String>) -> Result<T, UnexpectedFrame> {
    Err(UnexpectedFrame(why.into()))
}

/// A Neighbor Advertisement as received.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NeighborAdvertisement {
    /// The Ethernet source.
    pub source_mac: MacAddress,
    /// The IPv6 source.
    pub source: Ipv6Addr,
    /// The address being advertised.
    pub target: Ipv6Addr,
    /// The target link-layer address option, if present.
    pub target_mac: Option<MacAddress>,
    /// The R flag: the sender is a router.
    pub router: bool,
    /// The S flag: an answer to a solicitation.
    pub solicited: bool,
    /// The O flag: override cached link-layer addresses.
    pub override_flag: bool,
}

/// The parts of a received frame this host looks at: Ethernet, IPv6 and ICMPv6.
struct ReceivedIcmpv6<'a> {
    source_mac: MacAddress,
    destination_mac: MacAddress,
    source: Ipv6Addr,
    destination: Ipv6Addr,
    hop_limit: u8,
    icmp: Icmpv6Slice<'a>,
}

/// Splits `frame` into Ethernet / IPv6 / ICMPv6 and checks the ICMPv6 checksum.
fn parse_icmpv6(frame: &[u8]) -> Result<ReceivedIcmpv6<'_>, UnexpectedFrame> {
    let packet = match SlicedPacket::from_ethernet(frame) {
        Ok(packet) => packet,
        Err(error) => return unexpected(format!("not a well-formed frame: {error}")),
    };
    let Some(LinkSlice::Ethernet2(ethernet)) = &packet.link else {
        return unexpected("no Ethernet II header");
    };
    let Some(NetSlice::Ipv6(ipv6)) = &packet.net else {
        return unexpected(format!(
            "EtherType {:#06x}, not IPv6",
            ethernet.ether_type().0
        ));
    };
    let Some(TransportSlice::Icmpv6(icmp)) = packet.transport else {
        return unexpected(format!(
            "IPv6 next header {:?}, not ICMPv6",
            ipv6.header().next_header()
        ));
    };
    let header = ipv6.header();
    if !icmp.is_checksum_valid(header.source(), header.destination()) {
        return unexpected(format!("ICMPv6 checksum {:#06x} is wrong", icmp.checksum()));
    }
    Ok(ReceivedIcmpv6 {
        source_mac: ethernet.source(),
        destination_mac: ethernet.destination(),
        source: header.source_addr(),
        destination: header.destination_addr(),
        hop_limit: header.hop_limit(),
        icmp,
    })
}

/// A host with one MAC and its EUI-64 link-local address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SimulatedHost {
    /// The host's MAC address.
    pub mac: MacAddress,
    /// The host's link-local address.
    pub address: Ipv6Addr,
}

impl SimulatedHost {
    /// A host with `mac` and the link-local address derived from it.
    pub fn new(mac: MacAddress) -> SimulatedHost {
        SimulatedHost {
            mac,
            address: link_local_from_mac(mac),
        }
    }

    /// A Neighbor Solicitation for `target`, sent to its solicited-node multicast
    /// group with a source link-layer address option (RFC 4861 §4.3).
    pub fn neighbor_solicitation(&self, target: Ipv6Addr) -> Vec<u8> {
        let group = solicited_node_multicast(target);
        let mut payload = Vec::with_capacity(24);
        payload.extend_from_slice(&target.octets());
        payload.extend_from_slice(&[OPTION_SOURCE_LINK_LAYER_ADDRESS, 1]);
        payload.extend_from_slice(&self.mac);
        let builder = PacketBuilder::ethernet2(self.mac, multicast_mac(group))
            .ipv6(
                self.address.octets(),
                group.octets(),
                NEIGHBOR_DISCOVERY_HOP_LIMIT,
            )
            .icmpv6(Icmpv6Type::NeighborSolicitation);
        let mut frame = Vec::with_capacity(builder.size(payload.len()));
        builder
            .write(&mut frame, &payload)
            .expect("a neighbor solicitation fits in memory");
        frame
    }

    /// Checks that `frame` is a Neighbor Advertisement for `target` addressed
    /// to this host, with hop limit 255 and a valid checksum, and returns it.
    pub fn parse_neighbor_advertisement(
        &self,
        frame: &[u8],
        target: Ipv6Addr,
    ) -> Result<NeighborAdvertisement, UnexpectedFrame> {
        let received = parse_icmpv6(frame)?;
        let Icmpv6Type::NeighborAdvertisement(flags) = received.icmp.icmp_type() else {
            return unexpected(format!(
                "ICMPv6 type {}, not a neighbor advertisement",
                received.icmp.type_u8()
            ));
        };
        if received.hop_limit != NEIGHBOR_DISCOVERY_HOP_LIMIT {
            return unexpected(format!("hop limit {}, not 255", received.hop_limit));
        }
        if received.destination != self.address || received.destination_mac != self.mac {
            return unexpected(format!(
                "sent to {} ({}), not to this host",
                received.destination,
                format_mac(received.destination_mac)
            ));
        }
        let payload = match received.icmp.payload_slice() {
            Ok(Icmpv6PayloadSlice::NeighborAdvertisement(payload)) => payload,
            Ok(_) => return unexpected("not a neighbor advertisement payload"),
            Err(error) => return unexpected(format!("neighbor advertisement payload: {error}")),
        };
        if payload.target_address() != target {
            return unexpected(format!(
                "advertises {}, not {target}",
                payload.target_address()
            ));
        }
        let mut target_mac = None;
        for option in payload.options_iterator() {
            match option {
                Ok(NdpOptionSlice::TargetLinkLayerAddress(option)) => {
                    let Ok(mac) = MacAddress::try_from(option.link_layer_address()) else {
                        return unexpected("target link-layer address option is not 6 bytes");
                    };
                    target_mac = Some(mac);
                }
                Ok(_) => {}
                Err(error) => return unexpected(format!("bad option: {error}")),
            }
        }
        Ok(NeighborAdvertisement {
            source_mac: received.source_mac,
            source: received.source,
            target: payload.target_address(),
            target_mac,
            router: flags.router,
            solicited: flags.solicited,
            override_flag: flags.r#override,
        })
    }

    /// An Echo Request from this host to `destination` at `destination_mac`.
    pub fn echo_request(
        &self,
        destination_mac: MacAddress,
        destination: Ipv6Addr,
        identifier: u16,
        sequence: u16,
        payload: &[u8],
    ) -> Vec<u8> {
        let builder = PacketBuilder::ethernet2(self.mac, destination_mac)
            .ipv6(self.address.octets(), destination.octets(), ECHO_HOP_LIMIT)
            .icmpv6_echo_request(identifier, sequence);
        let mut frame = Vec::with_capacity(builder.size(payload.len()));
        builder
            .write(&mut frame, payload)
            .expect("an echo request fits in memory");
        frame
    }

    /// Checks that `frame` is the Echo Reply from `from` to this host for the
    /// request (`identifier`, `sequence`, `payload`), with a valid checksum.
    pub fn parse_echo_reply(
        &self,
        frame: &[u8],
        from: Ipv6Addr,
        identifier: u16,
        sequence: u16,
        payload: &[u8],
    ) -> Result<(), UnexpectedFrame> {
        let received = parse_icmpv6(frame)?;
        let Icmpv6Type::EchoReply(echo) = received.icmp.icmp_type() else {
            return unexpected(format!(
                "ICMPv6 type {}, not an echo reply",
                received.icmp.type_u8()
            ));
        };
        if received.source != from {
            return unexpected(format!("echo reply from {}, not {from}", received.source));
        }
        if received.destination != self.address || received.destination_mac != self.mac {
            return unexpected(format!(
                "echo reply to {}, not to this host",
                received.destination
            ));
        }
        if (echo.id, echo.seq) != (identifier, sequence) {
            return unexpected(format!(
                "echo reply id {} seq {}, expected id {identifier} seq {sequence}",
                echo.id, echo.seq
            ));
        }
        if received.icmp.payload() != payload {
            return unexpected(format!(
                "echo reply payload of {} bytes differs from the request's {} bytes",
                received.icmp.payload().len(),
                payload.len()
            ));
        }
        Ok(())
    }

    /// If `frame` is a valid Neighbor Solicitation for this host's address,
    /// the Neighbor Advertisement that answers it (solicited, override, with
    /// the target link-layer address option; RFC 4861 §7.2.4).
    pub fn answer_neighbor_solicitation(&self, frame: &[u8]) -> Option<Vec<u8>> {
        let received = parse_icmpv6(frame).ok()?;
        if received.icmp.icmp_type() != Icmpv6Type::NeighborSolicitation
            || received.hop_limit != NEIGHBOR_DISCOVERY_HOP_LIMIT
        {
            return None;
        }
        let Ok(Icmpv6PayloadSlice::NeighborSolicitation(payload)) = received.icmp.payload_slice()
        else {
            return None;
        };
        if payload.target_address() != self.address {
            return None;
        }
        let (destination, destination_mac) = if received.source.is_unspecified() {
            (ALL_NODES, multicast_mac(ALL_NODES))
        } else {
            (received.source, received.source_mac)
        };
        let flags = NeighborAdvertisementHeader {
            router: false,
            solicited: !received.source.is_unspecified(),
            r#override: true,
        };
        let mut answer = self.address.octets().to_vec();
        answer.extend_from_slice(&[OPTION_TARGET_LINK_LAYER_ADDRESS, 1]);
        answer.extend_from_slice(&self.mac);
        let builder = PacketBuilder::ethernet2(self.mac, destination_mac)
            .ipv6(
                self.address.octets(),
                destination.octets(),
                NEIGHBOR_DISCOVERY_HOP_LIMIT,
            )
            .icmpv6(Icmpv6Type::NeighborAdvertisement(flags));
        let mut advertisement = Vec::with_capacity(builder.size(answer.len()));
        builder
            .write(&mut advertisement, &answer)
            .expect("a neighbor advertisement fits in memory");
        Some(advertisement)
    }

    /// Receives on `port` for up to `timeout`, answering Neighbor Solicitations
    /// for this host, until `accept` returns `Some` for a frame. Frames
    /// `accept` refuses are skipped; the last refusal's reason is kept in `refused`.
    fn receive_on<T>(
        &self,
        port: &PortSocket,
        timeout: Duration,
        refused: &mut Option<String>,
        mut accept: impl FnMut(&[u8]) -> Result<T, UnexpectedFrame>,
    ) -> io::Result<Option<T>> {
        let mut send_error = None;
        let found = port.receive_matching(timeout, |frame| {
            if let Some(advertisement) = self.answer_neighbor_solicitation(frame) {
                if let Err(error) = port.send(&advertisement) {
                    send_error = Some(error);
                }
                return None;
            }
            match accept(frame) {
                Ok(value) => Some(value),
                Err(why) => {
                    *refused = Some(why.0);
                    None
                }
            }
        })?;
        match send_error {
            Some(error) => Err(error),
            None => Ok(found),
        }
    }

    /// Resolves `target` on `port`: sends a Neighbor Solicitation and waits for
    /// the Advertisement, as often and as long as `retry` says.
    pub fn resolve(
        &self,
        port: &PortSocket,
        target: Ipv6Addr,
        retry: Retry,
    ) -> Result<NeighborAdvertisement, ExchangeError> {
        let mut refused = None;
        let attempts = retry.attempts.max(1);
        for _ in 0..attempts {
            port.send(&self.neighbor_solicitation(target))
                .map_err(ExchangeError::Io)?;
            let found = self
                .receive_on(port, retry.timeout, &mut refused, |frame| {
                    self.parse_neighbor_advertisement(frame, target)
                })
                .map_err(ExchangeError::Io)?;
            if let Some(advertisement) = found {
                return Ok(advertisement);
            }
        }
        Err(ExchangeError::NoAnswer {
            waiting_for: format!(
                "a neighbor advertisement for {target} ({attempts} solicitations sent)"
            ),
            last_refused: refused,
        })
    }

    /// Pings `destination` at `destination_mac` on `port`: `count` Echo Requests
    /// with identifier `identifier` and sequence numbers 0.., each sent and
    /// awaited as often and as long as `retry` says.
    pub fn ping(
        &self,
        port: &PortSocket,
        destination_mac: MacAddress,
        destination: Ipv6Addr,
        identifier: u16,
        count: u16,
        retry: Retry,
    ) -> Result<PingReport, ExchangeError> {
        let mut report = PingReport {
            sent: 0,
            round_trips: Vec::new(),
            missing: Vec::new(),
            last_refused: None,
        };
        for sequence in 0..count {
            let payload = echo_payload(identifier, sequence);
            let mut answered = false;
            for _ in 0..retry.attempts.max(1) {
                let request =
                    self.echo_request(destination_mac, destination, identifier, sequence, &payload);
                let sent_at = Instant::now();
                port.send(&request).map_err(ExchangeError::Io)?;
                report.sent += 1;
                let found = self
                    .receive_on(port, retry.timeout, &mut report.last_refused, |frame| {
                        self.parse_echo_reply(frame, destination, identifier, sequence, &payload)
                    })
                    .map_err(ExchangeError::Io)?;
                if found.is_some() {
                    report.round_trips.push(sent_at.elapsed());
                    answered = true;
                    break;
                }
            }
            if !answered {
                report.missing.push(sequence);
            }
        }
        Ok(report)
    }
}

/// The payload of echo request (`identifier`, `sequence`): 56 bytes that name both.
pub fn echo_payload(identifier: u16, sequence: u16) -> Vec<u8> {
    let mut payload =
        format!("pure6 simulated host echo id {identifier} seq {sequence} ").into_bytes();
    payload.resize(56, b'.');
    payload
}

/// How often a host asks and how long it waits for each answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retry {
    /// How many times a request is sent before giving up (at least once).
    pub attempts: u32,
    /// How long each attempt waits for the answer.
    pub timeout: Duration,
}

/// What a [`SimulatedHost::ping`] got back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PingReport {
    /// Echo Requests sent, retries included.
    pub sent: u32,
    /// The round-trip time of each answered sequence number.
    pub round_trips: Vec<Duration>,
    /// Sequence numbers that got no valid reply.
    pub missing: Vec<u16>,
    /// Why the last frame that was not the awaited reply was refused.
    pub last_refused: Option<String>,
}

impl PingReport {
    /// The number of sequence numbers answered.
    pub fn replies(&self) -> usize {
        self.round_trips.len()
    }
}

/// Why an exchange with the router did not complete.
#[derive(Debug)]
pub enum ExchangeError {
    /// The port's socket failed (QEMU gone, for example).
    Io(io::Error),
    /// No valid answer came.
    NoAnswer {
        /// What was awaited.
        waiting_for: String,
        /// Why the last frame received instead was refused, if one came.
        last_refused: Option<String>,
    },
}

impl fmt::Display for ExchangeError {
    fn fmt(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        match self {
            ExchangeError::Io(error) => write!(formatter, "port socket: {error}"),
            ExchangeError::NoAnswer {
                waiting_for,
                last_refused: None,
            } => {
                write!(
                    formatter,
                    "no answer: waited for {waiting_for}; nothing else arrived"
                )
            }
            ExchangeError::NoAnswer {
                waiting_for,
                last_refused: Some(why),
            } => {
                write!(
                    formatter,
                    "no answer: waited for {waiting_for}; the last other frame: {why}"
                )
            }
        }
    }
}

impl std::error::Error for ExchangeError {}

/// ICMPv6 type of Destination Unreachable (RFC 4443 §3.1).
pub const ICMPV6_DESTINATION_UNREACHABLE: u8 = 1;
/// ICMPv6 type of Packet Too Big (RFC 4443 §3.2).
pub const ICMPV6_PACKET_TOO_BIG: u8 = 2;
/// ICMPv6 type of Time Exceeded (RFC 4443 §3.3).
pub const ICMPV6_TIME_EXCEEDED: u8 = 3;
/// ICMPv6 type of Parameter Problem (RFC 4443 §3.4).
pub const ICMPV6_PARAMETER_PROBLEM: u8 = 4;

/// An Echo Request as received by a host (for example one the router forwarded).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceivedEchoRequest {
    /// The Ethernet source (the router's port, for a forwarded request).
    pub source_mac: MacAddress,
    /// The Ethernet destination.
    pub destination_mac: MacAddress,
    /// The IPv6 source.
    pub source: Ipv6Addr,
    /// The IPv6 destination.
    pub destination: Ipv6Addr,
    /// The IPv6 hop limit as received.
    pub hop_limit: u8,
    /// The echo identifier.
    pub identifier: u16,
    /// The echo sequence number.
    pub sequence: u16,
    /// The echo data.
    pub payload: Vec<u8>,
}

/// An ICMPv6 error message (type below 128) as received, checksum verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceivedIcmpv6Error {
    /// The Ethernet source.
    pub source_mac: MacAddress,
    /// The Ethernet destination.
    pub destination_mac: MacAddress,
    /// The IPv6 source: the address the error comes from.
    pub source: Ipv6Addr,
    /// The IPv6 destination.
    pub destination: Ipv6Addr,
    /// The IPv6 hop limit as received.
    pub hop_limit: u8,
    /// The ICMPv6 type (1 to 127).
    pub message_type: u8,
    /// The ICMPv6 code.
    pub code: u8,
    /// The 32-bit field after the checksum: the MTU of a Packet Too Big,
    /// the pointer of a Parameter Problem, unused (zero) otherwise.
    pub field: u32,
    /// As much of the invoking packet as the error carries (RFC 4443 §2.4(c)).
    pub invoking_packet: Vec<u8>,
}

impl ReceivedIcmpv6Error {
    /// The invoking packet's IPv6 source and destination, if at least its IPv6 header is included.
    pub fn invoking_addresses(&self) -> Option<(Ipv6Addr, Ipv6Addr)> {
        let header = self.invoking_packet.get(..IPV6_HEADER_LENGTH)?;
        let source: [u8; 16] = header[8..24].try_into().ok()?;
        let destination: [u8; 16] = header[24..40].try_into().ok()?;
        Some((Ipv6Addr::from(source), Ipv6Addr::from(destination)))
    }
}

/// Checks that `frame` is an Ethernet / IPv6 / ICMPv6 Echo Request with a
/// valid checksum, to any destination, and returns it.
pub fn parse_echo_request(frame: &[u8]) -> Result<ReceivedEchoRequest, UnexpectedFrame> {
    let received = parse_icmpv6(frame)?;
    let Icmpv6Type::EchoRequest(echo) = received.icmp.icmp_type() else {
        return unexpected(format!(
            "ICMPv6 type {}, not an echo request",
            received.icmp.type_u8()
        ));
    };
    Ok(ReceivedEchoRequest {
        source_mac: received.source_mac,
        destination_mac: received.destination_mac,
        source: received.source,
        destination: received.destination,
        hop_limit: received.hop_limit,
        identifier: echo.id,
        sequence: echo.seq,
        payload: received.icmp.payload().to_vec(),
    })
}

/// Checks that `frame` is an Ethernet / IPv6 / ICMPv6 error message (type
/// below 128, RFC 4443 §2.1) with a valid checksum, and returns it.
pub fn parse_icmpv6_error(frame: &[u8]) -> Result<ReceivedIcmpv6Error, UnexpectedFrame> {
    let received = parse_icmpv6(frame)?;
    let message_type = received.icmp.type_u8();
    if message_type >= 128 {
        return unexpected(format!(
            "ICMPv6 type {message_type}, an informational message, not an error"
        ));
    }
    Ok(ReceivedIcmpv6Error {
        source_mac: received.source_mac,
        destination_mac: received.destination_mac,
        source: received.source,
        destination: received.destination,
        hop_limit: received.hop_limit,
        message_type,
        code: received.icmp.code_u8(),
        field: u32::from_be_bytes(received.icmp.bytes5to8()),
        invoking_packet: received.icmp.payload().to_vec(),
    })
}

/// The IPv6 source of `frame` if it is an Ethernet frame carrying an IPv6
/// header (valid or not beyond that), `None` otherwise.
pub fn ipv6_source_of(frame: &[u8]) -> Option<Ipv6Addr> {
    if frame.get(12..14)? != ETHERTYPE_IPV6.to_be_bytes() {
        return None;
    }
    let header = frame.get(ETHERNET_HEADER_LENGTH..ETHERNET_HEADER_LENGTH + IPV6_HEADER_LENGTH)?;
    let source: [u8; 16] = header[8..24].try_into().ok()?;
    Some(Ipv6Addr::from(source))
}

impl SimulatedHost {
    /// A host with `mac` and the given `address` (for example a static global
    /// address), which it uses as the source of what it sends and answers
    /// Neighbor Solicitations for.
    pub fn with_address(mac: MacAddress, address: Ipv6Addr) -> SimulatedHost {
        SimulatedHost { mac, address }
    }

    /// An Echo Request from this host to `destination`, sent to
    /// `destination_mac` (the router's, for an off-link destination), with
    /// the given hop limit.
    pub fn echo_request_with_hop_limit(
        &self,
        destination_mac: MacAddress,
        destination: Ipv6Addr,
        hop_limit: u8,
        identifier: u16,
        sequence: u16,
        payload: &[u8],
    ) -> Vec<u8> {
        let builder = PacketBuilder::ethernet2(self.mac, destination_mac)
            .ipv6(self.address.octets(), destination.octets(), hop_limit)
            .icmpv6_echo_request(identifier, sequence);
        let mut frame = Vec::with_capacity(builder.size(payload.len()));
        builder
            .write(&mut frame, payload)
            .expect("an echo request fits in memory");
        frame
    }

    /// An Echo Reply from this host to `destination` at `destination_mac`
    /// answering (`identifier`, `sequence`, `payload`), hop limit [`ECHO_HOP_LIMIT`].
    pub fn echo_reply(
        &self,
        destination_mac: MacAddress,
        destination: Ipv6Addr,
        identifier: u16,
        sequence: u16,
        payload: &[u8],
    ) -> Vec<u8> {
        let builder = PacketBuilder::ethernet2(self.mac, destination_mac)
            .ipv6(self.address.octets(), destination.octets(), ECHO_HOP_LIMIT)
            .icmpv6_echo_reply(identifier, sequence);
        let mut frame = Vec::with_capacity(builder.size(payload.len()));
        builder
            .write(&mut frame, payload)
            .expect("an echo reply fits in memory");
        frame
    }

    /// Receives on `port` for up to `timeout`, answering Neighbor
    /// Solicitations for this host's address (as a real host on the link
    /// would, so that the router can resolve it), until `accept` takes a
    /// frame; returns what `accept` returned. Frames `accept` refuses are
    /// skipped. `waiting_for` names the awaited frame in the error.
    pub fn receive_answering_solicitations<T>(
        &self,
        port: &PortSocket,
        timeout: Duration,
        waiting_for: &str,
        accept: impl FnMut(&[u8]) -> Result<T, UnexpectedFrame>,
    ) -> Result<T, ExchangeError> {
        let mut refused = None;
        match self
            .receive_on(port, timeout, &mut refused, accept)
            .map_err(ExchangeError::Io)?
        {
            Some(value) => Ok(value),
            None => Err(ExchangeError::NoAnswer {
                waiting_for: waiting_for.to_string(),
                last_refused: refused,
            }),
        }
    }
}

/// A MAC address as text: `52:54:00:00:00:01`.
pub fn format_mac(mac: MacAddress) -> String {
    mac.iter()
        .map(|byte| format!("{byte:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// A small deterministic pseudo-random generator (xorshift64*). Not for secrets.
#[derive(Clone, Debug)]
pub struct Xorshift {
    state: u64,
}

impl Xorshift {
    /// A generator seeded with `seed` (zero is replaced by a fixed constant).
    pub fn new(seed: u64) -> Xorshift {
        Xorshift {
            state: if seed == 0 {
                0x9E37_79B9_7F4A_7C15
            } else {
                seed
            },
        }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `range` (which must not be empty).
    pub fn in_range(&mut self, range: std::ops::Range<usize>) -> usize {
        assert!(!range.is_empty(), "empty range");
        range.start + (self.next_u64() % (range.end - range.start) as u64) as usize
    }

    /// `length` random bytes.
    pub fn bytes(&mut self, length: usize) -> Vec<u8> {
        (0..length).map(|_| self.next_u64() as u8).collect()
    }
}

/// What kind of bad frame [`GarbageGenerator`] produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GarbageKind {
    /// Random bytes, 1 to 200 of them.
    RandomBytes,
    /// A valid Neighbor Solicitation cut short.
    TruncatedNeighborSolicitation,
    /// A valid Echo Request cut short.
    TruncatedEchoRequest,
    /// An Echo Request behind an EtherType that is not IPv6, IPv4 or ARP.
    UnknownEthertype,
    /// An Echo Request whose IPv6 payload length is larger than the frame.
    PayloadLengthTooLarge,
    /// An Echo Request whose IPv6 payload length is shorter than the ICMPv6 message.
    PayloadLengthTooSmall,
    /// An Echo Request to the router with a wrong ICMPv6 checksum.
    EchoBadChecksum,
    /// A Neighbor Solicitation for the router with a wrong ICMPv6 checksum.
    NeighborSolicitationBadChecksum,
    /// A Neighbor Solicitation with hop limit 64 (RFC 4861 §7.1.1: must be discarded).
    NeighborSolicitationBadHopLimit,
    /// An IPv6 EtherType carrying a header whose version is not 6.
    WrongIpVersion,
    /// An Ethernet header for the router followed by 9000 to 9300 random bytes.
    Oversize,
}

impl GarbageKind {
    /// Every kind, in the order the generator picks from.
    pub const ALL: [GarbageKind; 11] = [
        GarbageKind::RandomBytes,
        GarbageKind::TruncatedNeighborSolicitation,
        GarbageKind::TruncatedEchoRequest,
        GarbageKind::UnknownEthertype,
        GarbageKind::PayloadLengthTooLarge,
        GarbageKind::PayloadLengthTooSmall,
        GarbageKind::EchoBadChecksum,
        GarbageKind::NeighborSolicitationBadChecksum,
        GarbageKind::NeighborSolicitationBadHopLimit,
        GarbageKind::WrongIpVersion,
        GarbageKind::Oversize,
    ];
}

/// EtherTypes a router without them must drop: not IPv6 (0x86DD), IPv4 (0x0800) or ARP (0x0806).
const UNKNOWN_ETHERTYPES: [u16; 6] = [0x88B5, 0x88B6, 0x9000, 0x0842, 0x88CC, 0x1234];

/// A deterministic stream of frames a correct router drops, aimed at one router port.
#[derive(Clone, Debug)]
pub struct GarbageGenerator {
    random: Xorshift,
    host: SimulatedHost,
    router_mac: MacAddress,
    router_address: Ipv6Addr,
}

impl GarbageGenerator {
    /// A generator seeded with `seed`, sending as `host` to the router at `router_mac` / `router_address`.
    pub fn new(
        seed: u64,
        host: SimulatedHost,
        router_mac: MacAddress,
        router_address: Ipv6Addr,
    ) -> GarbageGenerator {
        GarbageGenerator {
            random: Xorshift::new(seed),
            host,
            router_mac,
            router_address,
        }
    }

    /// The next frame and what kind it is.
    pub fn next_frame(&mut self) -> (GarbageKind, Vec<u8>) {
        let kind = GarbageKind::ALL[self.random.in_range(0..GarbageKind::ALL.len())];
        (kind, self.frame_of_kind(kind))
    }

    fn valid_echo_request(&mut self) -> Vec<u8> {
        let identifier = self.random.next_u64() as u16;
        let sequence = self.random.next_u64() as u16;
        let length = self.random.in_range(0..64);
        let payload = self.random.bytes(length);
        self.host.echo_request(
            self.router_mac,
            self.router_address,
            identifier,
            sequence,
            &payload,
        )
    }

    /// A frame of `kind`.
    pub fn frame_of_kind(&mut self, kind: GarbageKind) -> Vec<u8> {
        const PAYLOAD_LENGTH: std::ops::Range<usize> =
            ETHERNET_HEADER_LENGTH + 4..ETHERNET_HEADER_LENGTH + 6;
        const HOP_LIMIT: usize = ETHERNET_HEADER_LENGTH + 7;
        const ICMP_CHECKSUM: usize = ETHERNET_HEADER_LENGTH + IPV6_HEADER_LENGTH + 2;
        match kind {
            GarbageKind::RandomBytes => {
                let length = self.random.in_range(1..201);
                self.random.bytes(length)
            }
            GarbageKind::TruncatedNeighborSolicitation => {
                let mut frame = self.host.neighbor_solicitation(self.router_address);
                let length = self.random.in_range(1..frame.len());
                frame.truncate(length);
                frame
            }
            GarbageKind::TruncatedEchoRequest => {
                let mut frame = self.valid_echo_request();
                let length = self.random.in_range(1..frame.len());
                frame.truncate(length);
                frame
            }
            GarbageKind::UnknownEthertype => {
                let mut frame = self.valid_echo_request();
                let ethertype =
                    UNKNOWN_ETHERTYPES[self.random.in_range(0..UNKNOWN_ETHERTYPES.len())];
                frame[12..14].copy_from_slice(&ethertype.to_be_bytes());
                frame
            }
            GarbageKind::PayloadLengthTooLarge => {
                let mut frame = self.valid_echo_request();
                let actual = frame.len() - ETHERNET_HEADER_LENGTH - IPV6_HEADER_LENGTH;
                let claimed = actual + self.random.in_range(1..2000);
                frame[PAYLOAD_LENGTH].copy_from_slice(&(claimed as u16).to_be_bytes());
                frame
            }
            GarbageKind::PayloadLengthTooSmall => {
                let mut frame = self.valid_echo_request();
                // Shorter than the 8-byte ICMPv6 header: no reading of it can be valid.
                let claimed = self.random.in_range(0..8);
                frame[PAYLOAD_LENGTH].copy_from_slice(&(claimed as u16).to_be_bytes());
                frame
            }
            GarbageKind::EchoBadChecksum => {
                let mut frame = self.valid_echo_request();
                let flip = (self.random.in_range(1..0x1_0000) as u16).to_be_bytes();
                frame[ICMP_CHECKSUM] ^= flip[0];
                frame[ICMP_CHECKSUM + 1] ^= flip[1];
                frame
            }
            GarbageKind::NeighborSolicitationBadChecksum => {
                let mut frame = self.host.neighbor_solicitation(self.router_address);
                let flip = (self.random.in_range(1..0x1_0000) as u16).to_be_bytes();
                frame[ICMP_CHECKSUM] ^= flip[0];
                frame[ICMP_CHECKSUM + 1] ^= flip[1];
                frame
            }
            GarbageKind::NeighborSolicitationBadHopLimit => {
                // The hop limit is not covered by the ICMPv6 checksum: the frame is otherwise valid.
                let mut frame = self.host.neighbor_solicitation(self.router_address);
                frame[HOP_LIMIT] = 64;
                debug_assert_eq!(
                    frame[ETHERNET_HEADER_LENGTH + IPV6_HEADER_LENGTH],
                    ICMPV6_TYPE_NEIGHBOR_SOLICITATION
                );
                frame
            }
            GarbageKind::WrongIpVersion => {
                let mut frame = self.valid_echo_request();
                let version = [0u8, 4, 5, 7, 15][self.random.in_range(0..5)];
                frame[ETHERNET_HEADER_LENGTH] =
                    (version << 4) | (frame[ETHERNET_HEADER_LENGTH] & 0x0f);
                frame
            }
            GarbageKind::Oversize => {
                let length = self.random.in_range(9000..9301);
                let mut frame = Vec::with_capacity(length);
                frame.extend_from_slice(&self.router_mac);
                frame.extend_from_slice(&self.host.mac);
                frame.extend_from_slice(&ETHERTYPE_IPV6.to_be_bytes());
                frame.extend(self.random.bytes(length - ETHERNET_HEADER_LENGTH));
                frame
            }
        }
    }
}

impl Iterator for GarbageGenerator {
    type Item = (GarbageKind, Vec<u8>);

    fn next(&mut self) -> Option<Self::Item> {
        Some(self.next_frame())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROUTER_MAC: MacAddress = [0x52, 0x54, 0x00, 0x00, 0x00, 0x01];
    const HOST_MAC: MacAddress = [0x02, 0x00, 0x00, 0x00, 0x00, 0x10];

    fn router() -> SimulatedHost {
        SimulatedHost::new(ROUTER_MAC)
    }

    /// The answer a correct router gives to `solicitation`, built by hand (not with the code under test).
    fn advertisement(host: &SimulatedHost, hop_limit: u8, with_option: bool) -> Vec<u8> {
        let router = router();
        let mut payload = router.address.octets().to_vec();
        if with_option {
            payload.extend_from_slice(&[2, 1]);
            payload.extend_from_slice(&ROUTER_MAC);
        }
        let flags = etherparse::icmpv6::NeighborAdvertisementHeader {
            router: true,
            solicited: true,
            r#override: true,
        };
        let builder = PacketBuilder::ethernet2(ROUTER_MAC, host.mac)
            .ipv6(router.address.octets(), host.address.octets(), hop_limit)
            .icmpv6(Icmpv6Type::NeighborAdvertisement(flags));
        let mut frame = Vec::new();
        builder.write(&mut frame, &payload).unwrap();
        frame
    }

    #[test]
    fn addresses_follow_eui64_and_solicited_node_rules() {
        assert_eq!(
            link_local_from_mac(ROUTER_MAC),
            "fe80::5054:ff:fe00:1".parse::<Ipv6Addr>().unwrap()
        );
        let group = solicited_node_multicast("fe80::5054:ff:fe00:1".parse().unwrap());
        assert_eq!(group, "ff02::1:ff00:1".parse::<Ipv6Addr>().unwrap());
        assert_eq!(multicast_mac(group), [0x33, 0x33, 0xff, 0x00, 0x00, 0x01]);
    }

    #[test]
    fn neighbor_solicitation_is_well_formed() {
        let host = SimulatedHost::new(HOST_MAC);
        let frame = host.neighbor_solicitation(router().address);
        let packet = SlicedPacket::from_ethernet(&frame).unwrap();
        let Some(LinkSlice::Ethernet2(ethernet)) = &packet.link else {
            panic!("no Ethernet")
        };
        assert_eq!(ethernet.destination(), [0x33, 0x33, 0xff, 0, 0, 1]);
        let Some(NetSlice::Ipv6(ipv6)) = &packet.net else {
            panic!("no IPv6")
        };
        assert_eq!(ipv6.header().hop_limit(), 255);
        assert_eq!(
            ipv6.header().destination_addr(),
            "ff02::1:ff00:1".parse::<Ipv6Addr>().unwrap()
        );
        let Some(TransportSlice::Icmpv6(icmp)) = &packet.transport else {
            panic!("no ICMPv6")
        };
        assert!(icmp.is_checksum_valid(ipv6.header().source(), ipv6.header().destination()));
        assert_eq!(icmp.icmp_type(), Icmpv6Type::NeighborSolicitation);
        assert_eq!(&icmp.payload()[..16], &router().address.octets());
        assert_eq!(&icmp.payload()[16..], &[1, 1, 0x02, 0, 0, 0, 0, 0x10]);
    }

    #[test]
    fn neighbor_advertisement_is_parsed_and_checked() {
        let host = SimulatedHost::new(HOST_MAC);
        let target = router().address;
        let advertised = host
            .parse_neighbor_advertisement(&advertisement(&host, 255, true), target)
            .unwrap();
        assert_eq!(advertised.target_mac, Some(ROUTER_MAC));
        assert_eq!(advertised.target, target);
        assert!(advertised.solicited && advertised.router);
        let without_option = host
            .parse_neighbor_advertisement(&advertisement(&host, 255, false), target)
            .unwrap();
        assert_eq!(without_option.target_mac, None);
        assert!(
            host.parse_neighbor_advertisement(&advertisement(&host, 64, true), target)
                .is_err()
        );
        let mut corrupted = advertisement(&host, 255, true);
        let last = corrupted.len() - 1;
        corrupted[last] ^= 0x01;
        let error = host
            .parse_neighbor_advertisement(&corrupted, target)
            .unwrap_err();
        assert!(error.0.contains("checksum"), "{error}");
        assert!(
            host.parse_neighbor_advertisement(&advertisement(&host, 255, true), host.address)
                .is_err()
        );
    }

    #[test]
    fn hosts_answer_solicitations_for_their_own_address_only() {
        let asking = SimulatedHost::new(HOST_MAC);
        let asked = router();
        let solicitation = asking.neighbor_solicitation(asked.address);
        let answer = asked
            .answer_neighbor_solicitation(&solicitation)
            .expect("an answer");
        let advertisement = asking
            .parse_neighbor_advertisement(&answer, asked.address)
            .unwrap();
        assert_eq!(advertisement.target_mac, Some(ROUTER_MAC));
        assert!(advertisement.solicited && advertisement.override_flag && !advertisement.router);
        assert_eq!(asking.answer_neighbor_solicitation(&solicitation), None);
        let mut bad_hop_limit = solicitation.clone();
        bad_hop_limit[21] = 64;
        assert_eq!(asked.answer_neighbor_solicitation(&bad_hop_limit), None);
    }

    #[test]
    fn echo_reply_must_match_the_request() {
        let host = SimulatedHost::new(HOST_MAC);
        let router = router();
        let builder = PacketBuilder::ethernet2(ROUTER_MAC, HOST_MAC)
            .ipv6(router.address.octets(), host.address.octets(), 64)
            .icmpv6_echo_reply(7, 3);
        let mut reply = Vec::new();
        builder.write(&mut reply, b"ping").unwrap();
        assert_eq!(
            host.parse_echo_reply(&reply, router.address, 7, 3, b"ping"),
            Ok(())
        );
        assert!(
            host.parse_echo_reply(&reply, router.address, 7, 4, b"ping")
                .is_err()
        );
        assert!(
            host.parse_echo_reply(&reply, router.address, 7, 3, b"pong")
                .is_err()
        );
        let request = host.echo_request(ROUTER_MAC, router.address, 7, 3, b"ping");
        assert!(
            host.parse_echo_reply(&request, router.address, 7, 3, b"ping")
                .is_err()
        );
    }

    #[test]
    fn garbage_is_deterministic_and_covers_every_kind() {
        let host = SimulatedHost::new(HOST_MAC);
        let first: Vec<_> = GarbageGenerator::new(42, host, ROUTER_MAC, router().address)
            .take(500)
            .collect();
        let second: Vec<_> = GarbageGenerator::new(42, host, ROUTER_MAC, router().address)
            .take(500)
            .collect();
        assert_eq!(first, second);
        for kind in GarbageKind::ALL {
            assert!(
                first.iter().any(|(generated, _)| *generated == kind),
                "{kind:?} never generated"
            );
        }
        for (kind, frame) in &first {
            assert!(!frame.is_empty());
            if *kind == GarbageKind::Oversize {
                assert!(frame.len() >= 9000);
            } else {
                assert!(frame.len() <= 200 || *kind != GarbageKind::RandomBytes);
            }
        }
    }

    #[test]
    fn garbage_frames_do_not_parse_as_valid_requests() {
        let host = SimulatedHost::new(HOST_MAC);
        let mut generator = GarbageGenerator::new(7, host, ROUTER_MAC, router().address);
        for _ in 0..2000 {
            let (kind, frame) = generator.next_frame();
            if matches!(
                kind,
                GarbageKind::RandomBytes | GarbageKind::NeighborSolicitationBadHopLimit
            ) {
                continue;
            }
            // etherparse reads a zero payload length as "to the end of the frame"
            // (the jumbogram convention, RFC 2675); without a hop-by-hop jumbo
            // option a router must drop it, but etherparse cannot say so.
            if kind == GarbageKind::PayloadLengthTooSmall && frame[18..20] == [0, 0] {
                continue;
            }
            let valid_icmp = parse_icmpv6(&frame).is_ok_and(|received| received.hop_limit != 0);
            let is_ipv6 = frame.len() >= 14 && frame[12..14] == ETHERTYPE_IPV6.to_be_bytes();
            assert!(
                !(valid_icmp && is_ipv6),
                "{kind:?} parses as a valid ICMPv6 frame"
            );
        }
    }

    #[test]
    fn forwarded_echo_requests_and_their_replies_round_trip() {
        let sender = SimulatedHost::with_address(HOST_MAC, "2001:db8:a::2".parse().unwrap());
        let receiver =
            SimulatedHost::with_address([0x02, 0, 0, 0, 0, 0x20], "2001:db8:c::2".parse().unwrap());
        let request =
            sender.echo_request_with_hop_limit(ROUTER_MAC, receiver.address, 9, 5, 6, b"data");
        assert_eq!(ipv6_source_of(&request), Some(sender.address));
        let received = parse_echo_request(&request).unwrap();
        assert_eq!(received.hop_limit, 9);
        assert_eq!((received.identifier, received.sequence), (5, 6));
        assert_eq!(received.destination, receiver.address);
        assert_eq!(received.payload, b"data");
        let reply = receiver.echo_reply(ROUTER_MAC, sender.address, 5, 6, b"data");
        assert!(parse_echo_request(&reply).is_err());
        let mut delivered = reply.clone();
        delivered[0..6].copy_from_slice(&sender.mac);
        assert_eq!(
            sender.parse_echo_reply(&delivered, receiver.address, 5, 6, b"data"),
            Ok(())
        );
        assert_eq!(ipv6_source_of(&[0u8; 20]), None);
    }

    #[test]
    fn icmpv6_errors_are_parsed_with_the_invoking_packet() {
        let host = SimulatedHost::with_address(HOST_MAC, "2001:db8:a::2".parse().unwrap());
        let request = host.echo_request_with_hop_limit(
            ROUTER_MAC,
            "2001:db8:c::2".parse().unwrap(),
            1,
            1,
            2,
            b"abc",
        );
        let invoking = &request[ETHERNET_HEADER_LENGTH..];
        let router_address: Ipv6Addr = "2001:db8:a::1".parse().unwrap();
        let builder = PacketBuilder::ethernet2(ROUTER_MAC, HOST_MAC)
            .ipv6(router_address.octets(), host.address.octets(), 64)
            .icmpv6_raw(ICMPV6_PACKET_TOO_BIG, 0, 1280u32.to_be_bytes());
        let mut frame = Vec::new();
        builder.write(&mut frame, invoking).unwrap();
        let error = parse_icmpv6_error(&frame).unwrap();
        assert_eq!(error.message_type, ICMPV6_PACKET_TOO_BIG);
        assert_eq!(error.field, 1280);
        assert_eq!(error.source, router_address);
        assert_eq!(error.invoking_packet, invoking);
        assert_eq!(
            error.invoking_addresses(),
            Some((host.address, "2001:db8:c::2".parse().unwrap()))
        );
        assert!(parse_icmpv6_error(&request).is_err());
        let last = frame.len() - 1;
        frame[last] ^= 0x01;
        assert!(parse_icmpv6_error(&frame).is_err());
    }
}
