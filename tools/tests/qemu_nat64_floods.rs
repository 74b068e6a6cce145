//! Stateful NAT64 (RFC 6146) under attack in the real appliance image under QEMU: six floods leave the heap at its start-up size, an established TCP flow working both ways, and every refused packet counted under its name.
//!
//! The host-level version of these floods is netstack/tests/nat64_floods.rs
//! (virtual time, an allocation counter); this one boots the legacy-ip image
//! on microvm with two ports on unix datagram socket pairs (no root, nothing
//! leaves loopback). On the lan port a simulated IPv6-only host
//! 2001:db8:1::b answers the router's Neighbor Solicitations; on the uplink
//! a simulated IPv4 gateway 192.0.2.254 answers its ARP requests (RFC 826)
//! and stands for every IPv4 host behind it. NAT64 has small capacities (64
//! sessions and BIB entries, 8 sessions per IPv6 source, 32 UDP ports in
//! pool4), so each limit is reached within a few hundred frames; each
//! flood sends 256 to 1,000.
//!
//! The host first opens a TCP connection through NAT64 to 203.0.113.80:80
//! under pool6 (SYN, SYN+ACK, ACK: ESTABLISHED, RFC 6146 §3.5.2.2, never
//! evicted), then these floods run, each a bounded number of frames while
//! every port is drained, in an order that keeps each one's premise (the
//! inbound floods come before any flood creates BIB entries their ports
//! could hit):
//!
//! 1. inbound IPv4 to pool4 ports with no BIB entry: UDP, TCP SYNs and
//!    other TCP segments (§3.5.1, §3.5.2.3);
//! 2. ICMP errors citing no known session, from both sides (§3.5.3);
//! 3. non-first fragments that never complete, from both sides;
//! 4. TCP SYNs from spoofed IPv6 sources: each opens a half-open session,
//!    evicting the one closest to expiry once the table is full;
//! 5. UDP flows from one IPv6 source: refused beyond the per-source limit;
//! 6. UDP flows from spoofed sources: refused once pool4's UDP ports are
//!    used up (§3.5.1.1).
//!
//! After each flood: the named counters grew by at least the frames the
//! flood sent (the router's `counters` console command), the `memory`
//! command's heap use equals its value right after boot (every NAT64 table
//! is allocated at start-up; nothing is allocated per packet), and one TCP
//! segment crosses the router each way on the established flow with its
//! addresses and ports translated as at its opening.
//!
//! Counters that held packets (a reassembly or an incoming-SYN hold) move
//! only when the hold ends, so the counters are read again, a bounded
//! number of times, until they add up; nothing is asserted about timing.
//! At most [`tools::test_support::CONCURRENT_MACHINES`] machines run at once.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::thread;
use std::time::{Duration, Instant};

use etherparse::{
    EtherType, Ethernet2Header, Icmpv4Type, Icmpv6Type, IpFragOffset, IpNumber, Ipv4Header,
    Ipv6FlowLabel, Ipv6FragmentHeader, Ipv6Header, NetSlice, PacketBuilder, SlicedPacket,
    TransportSlice, icmpv4, icmpv6,
};
use tools::image::Flavor;
use tools::qemu::{self, ApplianceExit, Counters, Machine, PortSocket, READY_LINE, RunningMachine};
use tools::simulated_host::{MacAddress, Retry, SimulatedHost, UnexpectedFrame, Xorshift};
use tools::simulated_ipv4_host::SimulatedIpv4Host;
use tools::test_support::{MachineSlot, counter_changes, counter_growth, image, while_draining};

/// How a non-first fragment that never completes ends (flood 3; RFC 6146
/// §3.4): held in the bounded fragment store until its timeout
/// (`nat64_fragment_timeout`), refused when the store is full, overlaps a
/// held one or ends beyond 65,535 bytes, or dropped at once when the store
/// is configured away (`nat64_non_first_fragment`).
const FRAGMENT_DROP_COUNTERS: &[&str] = &[
    "nat64_fragment_timeout",
    "nat64_fragment_store_full",
    "nat64_fragment_overlap",
    "nat64_fragment_too_big",
    "nat64_non_first_fragment",
];

/// How an unsolicited inbound TCP SYN to a pool4 port without a BIB entry
/// ends (flood 1; RFC 6146 §3.5.2.2 V4 INIT, RFC 5382 REQ-4): held for
/// TCP_INCOMING_SYN (here `tcp_incoming_syn_seconds = 2`) and then answered
/// with ICMPv4 Port Unreachable (`nat64_incoming_syn_expired`), or dropped
/// silently when the hold store is full or already holds it.
const INBOUND_SYN_END_COUNTERS: &[&str] = &[
    "nat64_incoming_syn_expired",
    "nat64_held_syn_store_full",
    "nat64_incoming_syn_already_held",
];

// ---------------------------------------------------------------------------

/// How long a boot may take to print the ready line.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the capacity log may take to name a refusal: the kernel logs at
/// most every 10 s (`CAPACITY_LOG_INTERVAL` in kernel/src/main.rs).
const CAPACITY_LOG_TIMEOUT: Duration = Duration::from_secs(15);
/// How long the appliance may take to stop.
const EXIT_TIMEOUT: Duration = Duration::from_secs(30);
/// The lan host's Neighbor Solicitations and the gateway's ARP requests for
/// the router: sent up to this often, each awaited this long.
const RESOLVE_RETRY: Retry = Retry {
    attempts: 5,
    timeout: Duration::from_secs(3),
};
/// How often each step of an exchange through NAT64 is tried.
const ATTEMPTS: u32 = 3;
/// How long each step of an exchange is awaited (address resolution of a
/// next hop takes up to 3 s by itself, RFC 4861 §7.2.2).
const FRAME_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the counters are read again while held packets may still be
/// waiting for their hold to end, and the pause between readings: at most
/// 10 s, longer than any hold (2 s for fragments and, as configured,
/// incoming SYNs; RFC 6146's TCP_INCOMING_SYN default is 6 s).
const SETTLE_READINGS: u32 = 20;
const SETTLE_PAUSE: Duration = Duration::from_millis(500);

const LAN: usize = 0;
const UPLINK: usize = 1;
const PORT_NAMES: [&str; 2] = ["lan", "uplink"];

/// The router's lan address, the host's, and the /64 spoofed sources come from.
const ROUTER_LAN_ADDRESS: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1);
const HOST_ADDRESS: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0xb);
const HOST_MAC: MacAddress = [0x02, 0, 0, 0, 0x06, 0x0b];
/// The uplink address, also pool4's only address.
const POOL4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const GATEWAY_ADDRESS: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 254);
const GATEWAY_MAC: MacAddress = [0x02, 0, 0, 0, 0x04, 0xfe];
/// pool6 (RFC 6052, network-specific: documentation IPv4 addresses may be under it).
const POOL6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x64, 0, 0, 0, 0, 0);
const POOL6_LENGTH: u8 = 96;
/// The IPv4 server of the established flow, behind the gateway.
const SERVER: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 80);
const SERVER_PORT: u16 = 80;
const HOST_PORT: u16 = 40001;

/// The session table and BIB capacity.
const CAPACITY: u64 = 64;
/// The most sessions one IPv6 source may hold.
const PER_SOURCE: u64 = 8;
/// pool4's UDP ports: 1024..=1055.
const UDP_PORTS: (u16, u16) = (1024, 1055);

/// Frames per flood.
const INBOUND_FRAMES: usize = 600;
const ICMP_ERROR_FRAMES: usize = 400;
const FRAGMENT_FRAMES: usize = 400;
const SYN_FRAMES: usize = 1000;
const ONE_SOURCE_FRAMES: usize = 256;
const POOL4_FRAMES: usize = 512;

/// The configuration: lan and an IPv4 uplink with a gateway, pool6, and
/// NAT64 on the uplink's address with small capacities and a short
/// incoming-SYN hold; ICMP errors limited to 10 a second (each error to a
/// spoofed lan source makes the router solicit it).
fn config_text() -> String {
    let udp_ports = format!("{}-{}", UDP_PORTS.0, UDP_PORTS.1);
    format!(
        r#"[router]
name = "nat64-floods"

[icmp]
rate_limit_per_second = 10
burst = 10

[[port]]
name = "{lan}"
addresses = ["{ROUTER_LAN_ADDRESS}/64"]

[[port]]
name = "{uplink}"

[port.ipv4]
address = "{POOL4}/24"
gateway = "{GATEWAY_ADDRESS}"

[translation]
pool6 = "{POOL6}/{POOL6_LENGTH}"

[nat64]
pool4 = [{{ prefix = "{POOL4}", tcp = "1024-65535", udp = "{udp_ports}", icmp = "1-65535" }}]
sessions = {CAPACITY}
bib_entries = {CAPACITY}
sessions_per_source = {PER_SOURCE}
allow_short_timeouts = true
tcp_incoming_syn_seconds = 2
"#,
        lan = PORT_NAMES[LAN],
        uplink = PORT_NAMES[UPLINK],
    )
}

/// `address` under pool6.
fn mapped(address: Ipv4Addr) -> Ipv6Addr {
    Ipv6Addr::from(u128::from(POOL6) | u128::from(u32::from(address)))
}

fn router_mac(index: usize) -> MacAddress {
    qemu::port_mac(index)
}

// ---------------------------------------------------------------------------
// Frames
// ---------------------------------------------------------------------------

/// A TCP segment as a host received it, checksums verified.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Segment {
    source_mac: MacAddress,
    destination_mac: MacAddress,
    source: IpAddr,
    destination: IpAddr,
    source_port: u16,
    destination_port: u16,
    syn: bool,
    ack: bool,
    payload: Vec<u8>,
}

/// The TCP segment in `frame` (over IPv4 or IPv6), if its checksums are right.
fn parse_segment(frame: &[u8]) -> Result<Segment, UnexpectedFrame> {
    let packet = SlicedPacket::from_ethernet(frame)
        .map_err(|error| UnexpectedFrame(format!("not a well-formed frame: {error}")))?;
    let Some(TransportSlice::Tcp(tcp)) = &packet.transport else {
        return Err(UnexpectedFrame("not TCP".into()));
    };
    let (source, destination, checksum) = match &packet.net {
        Some(NetSlice::Ipv4(ipv4)) => {
            let header = ipv4.header();
            if header.to_header().calc_header_checksum() != header.header_checksum() {
                return Err(UnexpectedFrame("the IPv4 header checksum is wrong".into()));
            }
            (
                IpAddr::V4(header.source_addr()),
                IpAddr::V4(header.destination_addr()),
                tcp.calc_checksum_ipv4(header.source(), header.destination()),
            )
        }
        Some(NetSlice::Ipv6(ipv6)) => {
            let header = ipv6.header();
            (
                IpAddr::V6(header.source_addr()),
                IpAddr::V6(header.destination_addr()),
                tcp.calc_checksum_ipv6(header.source(), header.destination()),
            )
        }
        _ => return Err(UnexpectedFrame("neither IPv4 nor IPv6".into())),
    };
    if checksum.ok() != Some(tcp.checksum()) {
        return Err(UnexpectedFrame(format!(
            "TCP {source}:{} -> {destination}:{} with a wrong checksum",
            tcp.source_port(),
            tcp.destination_port()
        )));
    }
    Ok(Segment {
        source_mac: frame[6..12].try_into().expect("six bytes"),
        destination_mac: frame[0..6].try_into().expect("six bytes"),
        source,
        destination,
        source_port: tcp.source_port(),
        destination_port: tcp.destination_port(),
        syn: tcp.syn(),
        ack: tcp.ack(),
        payload: tcp.payload().to_vec(),
    })
}

/// What a TCP frame carries besides its addresses and ports.
#[derive(Clone, Copy, Debug)]
enum TcpKind<'a> {
    Syn,
    SynAck,
    /// ACK (and PSH when there is data) with `payload`.
    Data(&'a [u8]),
}

/// Writes the TCP part of a frame started by `builder` (whose next step
/// is `.tcp`) and returns the frame.
macro_rules! tcp_frame {
    ($builder:expr, $source_port:expr, $destination_port:expr, $kind:expr) => {{
        let tcp = $builder.tcp($source_port, $destination_port, 1000, 65535);
        let mut frame = Vec::new();
        match $kind {
            TcpKind::Syn => tcp.syn().write(&mut frame, &[]),
            TcpKind::SynAck => tcp.syn().ack(1001).write(&mut frame, &[]),
            TcpKind::Data(payload) => tcp.ack(1001).psh().write(&mut frame, payload),
        }
        .expect("a TCP frame fits in memory");
        frame
    }};
}

/// A TCP frame from `source` on the lan to `destination` under pool6.
fn tcp_from_lan(
    source: Ipv6Addr,
    source_port: u16,
    destination: Ipv4Addr,
    destination_port: u16,
    kind: TcpKind,
) -> Vec<u8> {
    let builder = PacketBuilder::ethernet2(HOST_MAC, router_mac(LAN)).ipv6(
        source.octets(),
        mapped(destination).octets(),
        64,
    );
    tcp_frame!(builder, source_port, destination_port, kind)
}

/// A TCP frame from `source` behind the gateway to pool4.
fn tcp_from_uplink(source: Ipv4Addr, source_port: u16, pool4_port: u16, kind: TcpKind) -> Vec<u8> {
    let builder = PacketBuilder::ethernet2(GATEWAY_MAC, router_mac(UPLINK)).ipv4(
        source.octets(),
        POOL4.octets(),
        60,
    );
    tcp_frame!(builder, source_port, pool4_port, kind)
}

/// A UDP frame from `source` on the lan to `destination`:53 under pool6.
fn udp_from_lan(source: Ipv6Addr, source_port: u16, destination: Ipv4Addr) -> Vec<u8> {
    let mut frame = Vec::new();
    PacketBuilder::ethernet2(HOST_MAC, router_mac(LAN))
        .ipv6(source.octets(), mapped(destination).octets(), 64)
        .udp(source_port, 53)
        .write(&mut frame, &[0x5a; 16])
        .expect("a UDP frame fits in memory");
    frame
}

/// A UDP frame from `source` behind the gateway to pool4.
fn udp_from_uplink(source: Ipv4Addr, source_port: u16, pool4_port: u16) -> Vec<u8> {
    let mut frame = Vec::new();
    PacketBuilder::ethernet2(GATEWAY_MAC, router_mac(UPLINK))
        .ipv4(source.octets(), POOL4.octets(), 60)
        .udp(source_port, pool4_port)
        .write(&mut frame, &[0x5a; 32])
        .expect("a UDP frame fits in memory");
    frame
}

/// An IPv4 router behind the gateway refusing a packet from `pool4_port`
/// that pool4 never sent (UDP or TCP as `tcp` says); Destination
/// Unreachable or Time Exceeded as `time_exceeded` says.
fn icmpv4_error_about_nothing(
    router: Ipv4Addr,
    server: Ipv4Addr,
    pool4_port: u16,
    tcp: bool,
    time_exceeded: bool,
) -> Vec<u8> {
    let mut quoted = Vec::new();
    let inner = PacketBuilder::ipv4(POOL4.octets(), server.octets(), 60);
    if tcp {
        inner
            .tcp(pool4_port, 80, 1, 65535)
            .syn()
            .write(&mut quoted, &[])
    } else {
        inner.udp(pool4_port, 53).write(&mut quoted, &[0x5a; 8])
    }
    .expect("a quoted packet fits in memory");
    let icmp_type = if time_exceeded {
        Icmpv4Type::TimeExceeded(icmpv4::TimeExceededCode::TtlExceededInTransit)
    } else {
        Icmpv4Type::DestinationUnreachable(icmpv4::DestUnreachableHeader::Port)
    };
    let mut frame = Vec::new();
    PacketBuilder::ethernet2(GATEWAY_MAC, router_mac(UPLINK))
        .ipv4(router.octets(), POOL4.octets(), 60)
        .icmpv4(icmp_type)
        .write(&mut frame, &quoted)
        .expect("an ICMPv4 error fits in memory");
    frame
}

/// A (spoofed) IPv6 host refusing a UDP packet from `server` it never got.
fn icmpv6_error_about_nothing(source: Ipv6Addr, server: Ipv4Addr, port: u16) -> Vec<u8> {
    let mut quoted = Vec::new();
    PacketBuilder::ipv6(mapped(server).octets(), source.octets(), 60)
        .udp(53, port)
        .write(&mut quoted, &[0x5a; 8])
        .expect("a quoted packet fits in memory");
    let mut frame = Vec::new();
    PacketBuilder::ethernet2(HOST_MAC, router_mac(LAN))
        .ipv6(source.octets(), mapped(server).octets(), 64)
        .icmpv6(Icmpv6Type::DestinationUnreachable(
            icmpv6::DestUnreachableCode::Port,
        ))
        .write(&mut frame, &quoted)
        .expect("an ICMPv6 error fits in memory");
    frame
}

/// An IPv4 fragment other than the first (offset in 8-byte units) from
/// `source` to pool4, UDP's protocol number, `data` after the header.
fn ipv4_non_first_fragment(source: Ipv4Addr, offset: u16, more: bool, data: &[u8]) -> Vec<u8> {
    let mut header = Ipv4Header::new(
        data.len() as u16,
        64,
        IpNumber::UDP,
        source.octets(),
        POOL4.octets(),
    )
    .expect("the fragment is small");
    header.dont_fragment = false;
    header.more_fragments = more;
    header.identification = 0x4242;
    header.fragment_offset = IpFragOffset::try_new(offset).expect("an offset below 8192");
    header.header_checksum = header.calc_header_checksum();
    let mut frame = Vec::new();
    Ethernet2Header {
        source: GATEWAY_MAC,
        destination: router_mac(UPLINK),
        ether_type: EtherType::IPV4,
    }
    .write(&mut frame)
    .and_then(|()| header.write(&mut frame))
    .expect("a fragment fits in memory");
    frame.extend_from_slice(data);
    frame
}

/// An IPv6 fragment other than the first (offset in 8-byte units) from
/// `source` toward `destination` under pool6, UDP's next header, `data`
/// after the Fragment header.
fn ipv6_non_first_fragment(
    source: Ipv6Addr,
    destination: Ipv4Addr,
    offset: u16,
    more: bool,
    data: &[u8],
) -> Vec<u8> {
    let header = Ipv6Header {
        traffic_class: 0,
        flow_label: Ipv6FlowLabel::ZERO,
        payload_length: (Ipv6FragmentHeader::LEN + data.len()) as u16,
        next_header: IpNumber::IPV6_FRAGMENTATION_HEADER,
        hop_limit: 64,
        source: source.octets(),
        destination: mapped(destination).octets(),
    };
    let fragment = Ipv6FragmentHeader::new(
        IpNumber::UDP,
        IpFragOffset::try_new(offset).expect("an offset below 8192"),
        more,
        0x0bad_cafe,
    );
    let mut frame = Vec::new();
    Ethernet2Header {
        source: HOST_MAC,
        destination: router_mac(LAN),
        ether_type: EtherType::IPV6,
    }
    .write(&mut frame)
    .and_then(|()| header.write(&mut frame))
    .expect("a fragment fits in memory");
    frame.extend_from_slice(&fragment.to_bytes());
    frame.extend_from_slice(data);
    frame
}

/// The floods' random choices (a fixed seed: the same frames every run).
struct Random(Xorshift);

impl Random {
    fn new(seed: u64) -> Random {
        Random(Xorshift::new(seed))
    }

    fn next(&mut self) -> u64 {
        self.0.next_u64()
    }

    fn port(&mut self) -> u16 {
        self.next() as u16
    }

    /// A port in 1024..=65535 other than `avoid`.
    fn high_port(&mut self, avoid: u16) -> u16 {
        loop {
            let port = self.0.in_range(1024..65536) as u16;
            if port != avoid {
                return port;
            }
        }
    }

    /// A spoofed source in the lan's /64 (never the router's ::1 or the host's ::b).
    fn lan_source(&mut self) -> Ipv6Addr {
        let network = u128::from(ROUTER_LAN_ADDRESS) & !u128::from(u64::MAX);
        Ipv6Addr::from(network | u128::from(self.next() | 0x1_0000))
    }

    /// An IPv4 address in 198.18.0.0/15 (nobody's in particular).
    fn ipv4(&mut self) -> Ipv4Addr {
        Ipv4Addr::from(0xc612_0000 | (self.next() as u32 & 0x1_ffff))
    }
}

// ---------------------------------------------------------------------------
// The network
// ---------------------------------------------------------------------------

/// The established TCP flow: the pool4 port NAT64 gave it, and how many
/// segments have crossed each way.
struct Established {
    pool4_port: u16,
    rounds: u32,
}

/// One booted appliance with the IPv6 host on the lan and the IPv4 gateway on the uplink.
struct Network {
    /// Declared first: dropped (and QEMU killed) before the slot is freed.
    machine: RunningMachine,
    host: SimulatedHost,
    gateway: SimulatedIpv4Host,
    /// The heap use right after boot.
    heap_at_boot: u64,
    started: Instant,
    _slot: MachineSlot,
}

impl Network {
    /// Boots the legacy-ip image with [`config_text`], reads the heap use,
    /// and has the host and the gateway resolve the router on their ports.
    fn boot() -> Network {
        let started = Instant::now();
        let image = image(Flavor::LegacyIp);
        let slot = MachineSlot::take();
        let machine = Machine::new(image)
            .ports(2)
            .config_text(config_text())
            .start()
            .unwrap_or_else(|error| panic!("cannot start QEMU: {error}"));
        machine
            .wait_for_line(READY_LINE, READY_TIMEOUT)
            .unwrap_or_else(|error| panic!("{error}"));
        let heap_at_boot = machine
            .heap_used()
            .unwrap_or_else(|error| panic!("{error}"));
        eprintln!("heap used right after boot: {heap_at_boot} bytes");
        let network = Network {
            machine,
            host: SimulatedHost::with_address(HOST_MAC, HOST_ADDRESS),
            gateway: SimulatedIpv4Host::new(GATEWAY_MAC, GATEWAY_ADDRESS),
            heap_at_boot,
            started,
            _slot: slot,
        };
        let advertisement = network
            .host
            .resolve(network.port(LAN), ROUTER_LAN_ADDRESS, RESOLVE_RETRY)
            .unwrap_or_else(|error| {
                network.fail(format_args!(
                    "the lan host cannot resolve {ROUTER_LAN_ADDRESS}: {error}"
                ))
            });
        if advertisement.target_mac != Some(router_mac(LAN)) {
            network.fail(format_args!(
                "the router advertises {:?} for {ROUTER_LAN_ADDRESS}, not its MAC",
                advertisement.target_mac
            ));
        }
        let mac = network
            .gateway
            .resolve(network.port(UPLINK), POOL4, RESOLVE_RETRY)
            .unwrap_or_else(|error| {
                network.fail(format_args!("the gateway cannot resolve {POOL4}: {error}"))
            });
        if mac != router_mac(UPLINK) {
            network.fail(format_args!(
                "the router answers ARP for {POOL4} with {mac:?}, not its uplink MAC"
            ));
        }
        network
    }

    fn port(&self, index: usize) -> &PortSocket {
        self.machine.port_socket(index)
    }

    /// Panics with `what` and the console transcript.
    fn fail(&self, what: impl std::fmt::Display) -> ! {
        panic!("{what}; console:\n{}", self.machine.transcript())
    }

    /// Sends `frame` on port `index`.
    fn send(&self, index: usize, frame: &[u8]) {
        if let Err(error) = self.port(index).send(frame) {
            self.fail(format_args!("sending on {}: {error}", PORT_NAMES[index]));
        }
    }

    /// Reads port `index` as its host or gateway (answering the router's
    /// solicitations or ARP requests) until `accept` takes a frame, for up
    /// to [`FRAME_TIMEOUT`].
    fn receive<T>(
        &self,
        index: usize,
        what: &str,
        accept: impl FnMut(&[u8]) -> Result<T, UnexpectedFrame>,
    ) -> Result<T, String> {
        let port = self.port(index);
        let received = if index == LAN {
            self.host
                .receive_answering_solicitations(port, FRAME_TIMEOUT, what, accept)
        } else {
            self.gateway
                .receive_answering_arp(port, FRAME_TIMEOUT, what, accept)
        };
        received.map_err(|error| format!("on {}: {error}", PORT_NAMES[index]))
    }

    /// Sends `frame` on `from` and waits on `to` for the frame `accept`
    /// takes, [`ATTEMPTS`] times at most.
    fn exchange<T>(
        &self,
        from: usize,
        frame: &[u8],
        to: usize,
        what: &str,
        mut accept: impl FnMut(&[u8]) -> Result<T, UnexpectedFrame>,
    ) -> T {
        let mut failures = Vec::new();
        for _ in 0..ATTEMPTS {
            self.send(from, frame);
            match self.receive(to, what, &mut accept) {
                Ok(value) => return value,
                Err(why) => failures.push(why),
            }
        }
        self.fail(format_args!(
            "no {what} in {ATTEMPTS} attempts: {}",
            failures.join("; ")
        ))
    }

    /// The router's counters.
    fn counters(&self) -> Counters {
        self.machine
            .counters()
            .unwrap_or_else(|error| panic!("{error}"))
    }

    /// Sends `frames` (each on its port) while both ports are drained, the
    /// host answering solicitations and the gateway ARP requests; then reads
    /// the counters until `check` finds nothing wrong with them, at most
    /// [`SETTLE_READINGS`] times (held packets are counted when their hold
    /// ends, and frames sent just before a reading may still wait in the
    /// device queue), and fails with what `check` said last if it never does.
    fn flood(
        &self,
        name: &str,
        frames: &[(usize, Vec<u8>)],
        check: impl Fn(&Counters, &Counters) -> Vec<String>,
    ) {
        let host = self.host;
        let gateway = self.gateway;
        let answer_solicitation = move |frame: &[u8]| host.answer_neighbor_solicitation(frame);
        let answer_arp = move |frame: &[u8]| gateway.answer_arp_request(frame);
        let ports = [
            (self.port(LAN), &answer_solicitation as _),
            (self.port(UPLINK), &answer_arp as _),
        ];
        let before = self.counters();
        let ((after, wrong), transmitted) = while_draining(&ports, || {
            for (index, frame) in frames {
                self.send(*index, frame);
            }
            let mut after = self.counters();
            let mut wrong = check(&before, &after);
            for _ in 0..SETTLE_READINGS {
                if wrong.is_empty() {
                    break;
                }
                thread::sleep(SETTLE_PAUSE);
                after = self.counters();
                wrong = check(&before, &after);
            }
            (after, wrong)
        });
        let changed = counter_changes(&before, &after);
        eprintln!(
            "{name}: {} frames sent; the router transmitted {transmitted:?} frames (lan, uplink); counters {changed:?}",
            frames.len()
        );
        if !wrong.is_empty() {
            self.fail(format_args!(
                "{name}: {}; counters that changed: {changed:?}",
                wrong.join("; ")
            ));
        }
    }

    /// Fails unless the heap use equals its value right after boot.
    fn assert_heap_at_boot_size(&self, after: &str) {
        let heap = self
            .machine
            .heap_used()
            .unwrap_or_else(|error| panic!("{error}"));
        if heap != self.heap_at_boot {
            self.fail(format_args!(
                "after {after}, the heap holds {heap} bytes; right after boot it held {}: something was allocated at run time",
                self.heap_at_boot
            ));
        }
    }

    /// Opens the TCP connection host:40001 → SERVER:80 through NAT64: SYN
    /// (V6 INIT), SYN+ACK (ESTABLISHED), ACK (RFC 6146 §3.5.2.2), and
    /// sends one segment each way.
    fn establish(&self) -> Established {
        let syn = tcp_from_lan(HOST_ADDRESS, HOST_PORT, SERVER, SERVER_PORT, TcpKind::Syn);
        let pool4_port = self.exchange(LAN, &syn, UPLINK, "the translated SYN", |frame| {
            let segment = parse_segment(frame)?;
            let expected = (
                IpAddr::V4(POOL4),
                IpAddr::V4(SERVER),
                SERVER_PORT,
                true,
                false,
            );
            if (
                segment.source,
                segment.destination,
                segment.destination_port,
                segment.syn,
                segment.ack,
            ) != expected
            {
                return Err(UnexpectedFrame(format!("{segment:?}")));
            }
            Ok(segment.source_port)
        });
        let syn_ack = tcp_from_uplink(SERVER, SERVER_PORT, pool4_port, TcpKind::SynAck);
        self.exchange(UPLINK, &syn_ack, LAN, "the translated SYN+ACK", |frame| {
            let segment = parse_segment(frame)?;
            if (segment.source, segment.destination) != (mapped(SERVER).into(), HOST_ADDRESS.into())
                || (segment.source_port, segment.destination_port) != (SERVER_PORT, HOST_PORT)
                || !(segment.syn && segment.ack)
            {
                return Err(UnexpectedFrame(format!("{segment:?}")));
            }
            Ok(())
        });
        let mut established = Established {
            pool4_port,
            rounds: 0,
        };
        self.check_established(&mut established, "opening");
        established
    }

    /// One data segment each way on the established flow, each arriving
    /// translated with the flow's addresses and ports, from the router's
    /// MAC to the receiver's.
    fn check_established(&self, established: &mut Established, after: &str) {
        established.rounds += 1;
        let round = established.rounds;
        let outbound_data = format!("from the IPv6 host, round {round} ({after})").into_bytes();
        let outbound = tcp_from_lan(
            HOST_ADDRESS,
            HOST_PORT,
            SERVER,
            SERVER_PORT,
            TcpKind::Data(&outbound_data),
        );
        let what = format!("segment {round} toward the server after {after}");
        let segment = self.exchange(LAN, &outbound, UPLINK, &what, |frame| {
            let segment = parse_segment(frame)?;
            if segment.payload != outbound_data {
                return Err(UnexpectedFrame(format!("{segment:?}")));
            }
            Ok(segment)
        });
        let expected = (
            IpAddr::V4(POOL4),
            established.pool4_port,
            IpAddr::V4(SERVER),
            SERVER_PORT,
            router_mac(UPLINK),
            GATEWAY_MAC,
        );
        let got = (
            segment.source,
            segment.source_port,
            segment.destination,
            segment.destination_port,
            segment.source_mac,
            segment.destination_mac,
        );
        if got != expected {
            self.fail(format_args!(
                "{what} arrived as {got:?}, expected {expected:?} (the session's pool4 port)"
            ));
        }
        let inbound_data = format!("from the IPv4 server, round {round} ({after})").into_bytes();
        let inbound = tcp_from_uplink(
            SERVER,
            SERVER_PORT,
            established.pool4_port,
            TcpKind::Data(&inbound_data),
        );
        let what = format!("segment {round} toward the IPv6 host after {after}");
        let segment = self.exchange(UPLINK, &inbound, LAN, &what, |frame| {
            let segment = parse_segment(frame)?;
            if segment.payload != inbound_data {
                return Err(UnexpectedFrame(format!("{segment:?}")));
            }
            Ok(segment)
        });
        let expected = (
            IpAddr::V6(mapped(SERVER)),
            SERVER_PORT,
            IpAddr::V6(HOST_ADDRESS),
            HOST_PORT,
            router_mac(LAN),
            HOST_MAC,
        );
        let got = (
            segment.source,
            segment.source_port,
            segment.destination,
            segment.destination_port,
            segment.source_mac,
            segment.destination_mac,
        );
        if got != expected {
            self.fail(format_args!(
                "{what} arrived as {got:?}, expected {expected:?}"
            ));
        }
    }

    /// What every flood must leave: the heap at its boot size and the
    /// established flow working both ways.
    fn assert_survived(&self, established: &mut Established, flood: &str) {
        for port in self.machine.port_sockets() {
            port.drain().expect("port socket");
        }
        self.assert_heap_at_boot_size(flood);
        self.check_established(established, flood);
    }

    /// Stops the appliance with `shutdown` and expects a clean exit.
    fn shutdown(self, test: &str) {
        let exit = self
            .machine
            .shutdown(EXIT_TIMEOUT)
            .unwrap_or_else(|error| panic!("{error}"));
        if exit != ApplianceExit::Clean {
            self.fail(format_args!("the appliance stopped with {exit:?}"));
        }
        eprintln!(
            "{test}: passed in {:.1} s",
            self.started.elapsed().as_secs_f64()
        );
    }
}

/// How much counter `name` grew on the uplink, where NAT64 counts.
fn grew(before: &Counters, after: &Counters, name: &str) -> u64 {
    counter_growth(before, after, PORT_NAMES[UPLINK], name)
}

/// The sum of the uplink growth of each name in `names`.
fn grew_sum(before: &Counters, after: &Counters, names: &[&str]) -> u64 {
    names.iter().map(|name| grew(before, after, name)).sum()
}

// ---------------------------------------------------------------------------
// The floods
// ---------------------------------------------------------------------------

/// `what` when `ok` does not hold: one line of a flood's check.
fn unless(ok: bool, what: impl FnOnce() -> String) -> Option<String> {
    (!ok).then(what)
}

/// What a flood that must be dropped entirely must not do: forward or
/// translate a packet out of either port.
fn nothing_forwarded(before: &Counters, after: &Counters) -> Option<String> {
    let forwarded: Vec<String> = PORT_NAMES
        .iter()
        .filter_map(|port| {
            let grown = counter_growth(before, after, port, "out_forwarded");
            (grown > 0).then(|| format!("{port} out_forwarded +{grown}"))
        })
        .collect();
    unless(forwarded.is_empty(), || {
        format!("packets that should all be dropped went out: {forwarded:?}")
    })
}

/// Flood 1: IPv4 from random sources behind the gateway to random pool4
/// ports (none the established flow's, and no other BIB entry exists yet):
/// UDP, TCP SYNs and TCP segments with ACK in turn. None goes anywhere;
/// each is `nat64_no_binding` (§3.5.1, §3.5.2.3) or, for SYNs, held and
/// then ended under one of [`INBOUND_SYN_END_COUNTERS`].
fn inbound_flood(network: &Network, established: &mut Established) {
    let mut random = Random::new(0x4950_7634_464c_4f44);
    let mut syns = 0u64;
    let frames: Vec<(usize, Vec<u8>)> = (0..INBOUND_FRAMES)
        .map(|index| {
            let source = random.ipv4();
            let source_port = random.port();
            let pool4_port = random.high_port(established.pool4_port);
            let frame = match index % 3 {
                0 => udp_from_uplink(source, source_port, pool4_port),
                1 => {
                    syns += 1;
                    tcp_from_uplink(source, source_port, pool4_port, TcpKind::Syn)
                }
                _ => tcp_from_uplink(source, source_port, pool4_port, TcpKind::Data(b"x")),
            };
            (UPLINK, frame)
        })
        .collect();
    let total = frames.len() as u64;
    let others = total - syns;
    network.flood(
        "inbound IPv4 to pool4 ports without session",
        &frames,
        |before, after| {
            let no_binding = grew(before, after, "nat64_no_binding");
            let ended = grew_sum(before, after, INBOUND_SYN_END_COUNTERS);
            let expired = grew(before, after, "nat64_incoming_syn_expired");
            let unreachable = grew(before, after, "icmp_destination_unreachable_sent")
                + grew(before, after, "icmp_error_rate_limited");
            [
                unless(no_binding >= others, || {
                    format!("{others} UDP and non-SYN TCP packets, {no_binding} counted nat64_no_binding")
                }),
                unless(ended >= syns, || {
                    format!("{syns} SYNs, {ended} ended under {INBOUND_SYN_END_COUNTERS:?}")
                }),
                unless(unreachable >= expired, || {
                    format!("{expired} held SYNs expired, {unreachable} Port Unreachable sent or rate-limited")
                }),
                nothing_forwarded(before, after),
            ]
            .into_iter()
            .flatten()
            .collect()
        },
    );
    network.assert_survived(established, "the inbound IPv4 flood");
}

/// Flood 2: ICMPv4 errors from routers behind the gateway quoting packets
/// pool4 never sent, and ICMPv6 errors from spoofed lan sources quoting
/// packets they never got: each `nat64_icmp_error_without_session` (§3.5.3).
fn icmp_error_flood(network: &Network, established: &mut Established) {
    let mut random = Random::new(0x4943_4d50_4552_5253);
    let frames: Vec<(usize, Vec<u8>)> = (0..ICMP_ERROR_FRAMES)
        .map(|index| {
            let server = random.ipv4();
            let port = random.high_port(established.pool4_port);
            if index.is_multiple_of(2) {
                let router = random.ipv4();
                let tcp = index.is_multiple_of(4);
                let time_exceeded = index % 8 >= 4;
                let frame = icmpv4_error_about_nothing(router, server, port, tcp, time_exceeded);
                (UPLINK, frame)
            } else {
                let frame = icmpv6_error_about_nothing(random.lan_source(), server, port);
                (LAN, frame)
            }
        })
        .collect();
    let total = frames.len() as u64;
    network.flood("ICMP errors citing no session", &frames, |before, after| {
        let counted = grew(before, after, "nat64_icmp_error_without_session");
        [
            unless(counted >= total, || {
                format!("{total} errors, {counted} counted nat64_icmp_error_without_session")
            }),
            nothing_forwarded(before, after),
        ]
        .into_iter()
        .flatten()
        .collect()
    });
    network.assert_survived(established, "the ICMP error flood");
}

/// Flood 3: non-first fragments, half IPv4 to pool4, half IPv6 under
/// pool6, none ever completed: each dropped under one of
/// [`FRAGMENT_DROP_COUNTERS`] (at once, or when its hold ends).
fn fragment_flood(network: &Network, established: &mut Established) {
    let mut random = Random::new(0x4652_4147_4d45_4e54);
    let data = [0x5a; 64];
    let frames: Vec<(usize, Vec<u8>)> = (0..FRAGMENT_FRAMES)
        .map(|index| {
            let offset = (random.next() % 8000) as u16 + 1;
            let more = random.next().is_multiple_of(2);
            if index.is_multiple_of(2) {
                let source = random.ipv4();
                (UPLINK, ipv4_non_first_fragment(source, offset, more, &data))
            } else {
                let (source, destination) = (random.lan_source(), random.ipv4());
                let frame = ipv6_non_first_fragment(source, destination, offset, more, &data);
                (LAN, frame)
            }
        })
        .collect();
    let total = frames.len() as u64;
    network.flood("fragments that never complete", &frames, |before, after| {
        let dropped = grew_sum(before, after, FRAGMENT_DROP_COUNTERS);
        [
            unless(dropped >= total, || {
                format!("{total} fragments, {dropped} counted under {FRAGMENT_DROP_COUNTERS:?}")
            }),
            nothing_forwarded(before, after),
        ]
        .into_iter()
        .flatten()
        .collect()
    });
    network.assert_survived(established, "the fragment flood");
}

/// Flood 4: TCP SYNs from spoofed lan sources to random IPv4 servers.
/// Each opens a half-open session (V6 INIT) and is translated; once the
/// table is full each evicts the half-open session closest to expiry,
/// never the established one, and none is refused for want of room.
fn syn_flood(network: &Network, established: &mut Established) {
    let mut random = Random::new(0x5359_4e46_4c4f_4f44);
    let frames: Vec<(usize, Vec<u8>)> = (0..SYN_FRAMES)
        .map(|_| {
            let (source, port, server) = (random.lan_source(), random.port(), random.ipv4());
            (LAN, tcp_from_lan(source, port, server, 80, TcpKind::Syn))
        })
        .collect();
    let total = frames.len() as u64;
    let must_evict = total - CAPACITY;
    network.flood(
        "SYN flood from spoofed IPv6 sources",
        &frames,
        |before, after| {
            let created = grew(before, after, "nat64_tcp_sessions_created");
            let evicted = grew(before, after, "nat64_sessions_evicted");
            let full = grew(before, after, "nat64_session_table_full")
                + grew(before, after, "nat64_binding_table_full");
            [
                unless(created >= total, || {
                    format!("{total} SYNs from new sources, {created} sessions created")
                }),
                unless(evicted >= must_evict, || {
                    format!("{evicted} sessions evicted from a table of {CAPACITY}, expected at least {must_evict}")
                }),
                unless(full == 0, || format!("{full} SYNs refused as the table was full")),
            ]
            .into_iter()
            .flatten()
            .collect()
        },
    );
    network.assert_survived(established, "the SYN flood");
}

/// Flood 5: UDP flows from one spoofed lan source, each from its own port:
/// the first [`PER_SOURCE`] get sessions, every other is refused as
/// `nat64_source_session_limit`.
fn one_source_udp_flood(network: &Network, established: &mut Established) {
    let mut random = Random::new(0x5544_5046_4c4f_4f44);
    let source = random.lan_source();
    let frames: Vec<(usize, Vec<u8>)> = (0..ONE_SOURCE_FRAMES)
        .map(|index| (LAN, udp_from_lan(source, 10_000 + index as u16, SERVER)))
        .collect();
    let total = frames.len() as u64;
    network.flood(
        "UDP flood of new flows from one source",
        &frames,
        |before, after| {
            let created = grew(before, after, "nat64_udp_sessions_created");
            let limited = grew(before, after, "nat64_source_session_limit");
            [
                unless(created <= PER_SOURCE, || {
                    format!("{created} UDP sessions for one source, limit {PER_SOURCE}")
                }),
                unless(created + limited >= total && limited >= total - PER_SOURCE, || {
                    format!("{total} flows: {created} sessions created, {limited} counted nat64_source_session_limit")
                }),
            ]
            .into_iter()
            .flatten()
            .collect()
        },
    );
    // A refused new flow is logged too, not only counted: the kernel logs
    // the growth of its capacity-refusal counters at most every 10 s.
    if let Err(error) = network
        .machine
        .wait_for_line("nat64_source_session_limit +", CAPACITY_LOG_TIMEOUT)
    {
        network.fail(format!(
            "the per-source refusals were counted but not logged on the console: {error}"
        ));
    }
    network.assert_survived(established, "the one-source UDP flood");
}

/// Flood 6: UDP flows from spoofed lan sources to random servers: once
/// pool4's UDP ports are all bound, each is refused as
/// `nat64_pool4_exhausted` (§3.5.1.1).
fn pool4_exhaustion(network: &Network, established: &mut Established) {
    let mut random = Random::new(0x504f_4f4c_3445_5848);
    let udp_ports = u64::from(UDP_PORTS.1 - UDP_PORTS.0 + 1);
    let frames: Vec<(usize, Vec<u8>)> = (0..POOL4_FRAMES)
        .map(|_| {
            let (source, port, server) = (random.lan_source(), random.port(), random.ipv4());
            (LAN, udp_from_lan(source, port, server))
        })
        .collect();
    let total = frames.len() as u64;
    network.flood("pool4 exhaustion", &frames, |before, after| {
        let created = grew(before, after, "nat64_udp_sessions_created");
        let exhausted = grew(before, after, "nat64_pool4_exhausted");
        [
            unless(created <= udp_ports, || {
                format!("{created} UDP sessions with {udp_ports} UDP ports in pool4")
            }),
            unless(
                created + exhausted >= total && exhausted >= total - udp_ports,
                || format!("{total} flows: {created} sessions created, {exhausted} counted nat64_pool4_exhausted"),
            ),
        ]
        .into_iter()
        .flatten()
        .collect()
    });
    network.assert_survived(established, "the pool4 exhaustion flood");
}

#[test]
fn nat64_floods_leave_the_heap_at_its_boot_size_and_the_established_flow_working() {
    let test = "nat64_floods_leave_the_heap_at_its_boot_size_and_the_established_flow_working";
    let network = Network::boot();
    let mut established = network.establish();
    inbound_flood(&network, &mut established);
    icmp_error_flood(&network, &mut established);
    fragment_flood(&network, &mut established);
    syn_flood(&network, &mut established);
    one_source_udp_flood(&network, &mut established);
    pool4_exhaustion(&network, &mut established);
    network.shutdown(test);
}
