//! `pure6 replay`: a packet capture goes through the same [`Router`] the appliance runs, on the host, and the frames it transmits come out as a pcapng file.
//!
//! ARCHITECTURE.md's testing level 3: deterministic, no QEMU, no root.
//! [`replay`] takes readers and writers (tests need no files);
//! [`run_replay`] is the `pure6 replay` subcommand around it.
//!
//! # Ports
//! The router gets one NIC per `[[port]]` of the config, in config order.
//! Port `i` (from 0) has the MAC address [`port_mac`]`(i)` =
//! 52:54:00:00:00:`i+1`, the address QEMU gives the appliance's NICs in the
//! harness ([`crate::qemu::port_mac`]), so a capture taken at the QEMU
//! harness replays with the same MACs and EUI-64 link-local addresses. The
//! config has no per-port MAC key today; if it gets one, that MAC wins.
//!
//! # Input
//! A pcap file (microsecond or nanosecond, either byte order) or a pcapng
//! file (any number of sections; Enhanced, Simple and obsolete Packet
//! blocks; other blocks are skipped).
//! - Without `--port`, every pcapng interface is matched to the port with
//!   the same name (its `if_name` option). An interface that is named after
//!   no port, or has no name, is an error that lists the ports, even when
//!   it carries no packets. A plain pcap names no interface and needs
//!   `--port`.
//! - With `--port NAME`, every packet enters port NAME, whatever its
//!   interface is called.
//! - Link types: Ethernet (`LINKTYPE_ETHERNET`, 1) frames are handed to the
//!   router unchanged (so IPv4, ARP or anything else reaches the router,
//!   which decides; legacy-ip builds accept IPv4 on uplink ports). Raw IP
//!   (`LINKTYPE_RAW` 101, `LINKTYPE_IPV4` 228, `LINKTYPE_IPV6` 229) is
//!   framed for the port: destination MAC the port's MAC, source MAC
//!   [`RAW_IP_SOURCE_MAC`] (02:72:65:70:6c:79, locally administered: "rply"),
//!   EtherType 0x86DD for `LINKTYPE_IPV6`, 0x0800 for `LINKTYPE_IPV4`, and
//!   for `LINKTYPE_RAW` from the version nibble (4: 0x0800, anything else
//!   0x86DD, so a packet that is neither reaches the router and is dropped
//!   there by its IPv6 version check, counted like every other frame). Any
//!   other link type is an error.
//! - A packet captured shorter than it was on the wire (snap length) is
//!   replayed as captured and counted in [`ReplaySummary::truncated_packets`].
//!   Lengths are not checked against the snap length (captures with
//!   offloads hold longer packets); a timestamp's fraction is not checked
//!   to be below one second.
//!
//! # Time
//! The router's `now` for a packet is the packet's capture timestamp minus
//! the first packet's (pcapng `if_tsresol` and `if_tsoffset` honoured),
//! in whole microseconds, at most [`MAXIMUM_TIME_MICROSECONDS`] (about 35.7
//! years). Time never goes backwards: a packet stamped
//! earlier than the one before it (interfaces merged out of order) gets the
//! previous `now`; a Simple Packet Block, which has no timestamp, too.
//! Before each packet the router is polled at that packet's `now`, so its
//! timers run; after the last packet it is polled once more,
//! [`ReplayOptions::final_poll_after`] later (default
//! [`DEFAULT_FINAL_POLL_AFTER_MILLISECONDS`] = 1 s, RFC 4861's
//! RetransTimer: the first retransmission of a pending solicitation shows).
//! Timers due between two packets run at the later packet's `now`.
//! The router is built with [`Router::with_seed`] and the seed
//! [`ReplayOptions::seed`] (default [`DEFAULT_SEED`], what [`Router::new`]
//! uses), so the same config, capture and options always give the same
//! output bytes.
//!
//! # Output
//! A pcapng file, little-endian, one section (`shb_userappl` "pure6
//! replay"), one interface per port in port order: link type Ethernet,
//! snap length 0 (no limit), `if_name` the port name, `if_MACaddr` the
//! port's MAC, `if_tsresol` 9 (nanoseconds). Every frame the router
//! transmitted is an Enhanced Packet Block on its port's interface, in the
//! order the router returned them (a poll's frames before the received
//! packet's), stamped with the `now` that produced it; timestamps start at
//! 0 (the first input packet), not at the capture's wall-clock time.
//! Input frames are not copied to the output.
//!
//! The summary ([`ReplaySummary::lines`]) goes to stderr: packets in,
//! frames out, the times, then every nonzero counter of every port as
//! `counter PORT NAME VALUE` (the appliance's `counters` console format)
//! and the totals as `total NAME VALUE`, then the NAT64 sessions left at the
//! end as `session LINE` (`Router::nat64_sessions`).
//!
//! On any error (an unreadable or malformed capture, a bad config, an
//! unwritable output) `pure6 replay` prints one line and exits with status
//! 1, and removes the partial output file: an output file that exists is a
//! complete replay.

use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Cursor, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use netstack::config::Config;
use netstack::router::{DEFAULT_SEED, NicInfo, PortIndex, Router, RouterError, Transmit};
use netstack::{Duration, Instant};
use pcap_file::pcap::PcapReader;
use pcap_file::pcapng::PcapNgReader;
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::pcapng::blocks::Block;
use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::pcapng::blocks::section_header::{SectionHeaderBlock, SectionHeaderOption};
use pcap_file::{DataLink, Endianness, PcapError, TsResolution};

/// The source MAC address of frames built around raw IP packets:
/// 02:72:65:70:6c:79 (locally administered, unicast; the bytes spell "rply").
pub const RAW_IP_SOURCE_MAC: [u8; 6] = [0x02, 0x72, 0x65, 0x70, 0x6c, 0x79];

/// [`DEFAULT_SEED`] as `--seed` shows and parses it.
pub const DEFAULT_SEED_TEXT: &str = "0x7075726536726f75";

/// How long after the last packet the router is polled once more, by default.
pub const DEFAULT_FINAL_POLL_AFTER_MILLISECONDS: u64 = 1_000;

/// The latest `now` a replay hands the router, 2^50 µs (about 35.7 years
/// after the first packet): later timestamps are clamped to it, so the
/// router's own timer arithmetic (now plus an interval) cannot overflow.
pub const MAXIMUM_TIME_MICROSECONDS: i64 = 1 << 50;

/// The pcapng `if_tsresol` of the output: 10^-9 s.
const OUTPUT_TIMESTAMP_RESOLUTION: u8 = 9;

/// The pcapng `if_tsresol` an interface has without the option: 10^-6 s.
const DEFAULT_TIMESTAMP_RESOLUTION: u8 = 6;

/// EtherType of IPv6 (RFC 2464 §3).
const ETHERTYPE_IPV6: u16 = 0x86dd;

/// EtherType of IPv4.
const ETHERTYPE_IPV4: u16 = 0x0800;

/// The MAC address of port `index`: 52:54:00:00:00:`index+1`, as QEMU gives
/// the appliance's NICs in the test harness ([`crate::qemu::port_mac`]).
pub fn port_mac(index: usize) -> [u8; 6] {
    crate::qemu::port_mac(index)
}

/// Arguments of `pure6 replay`.
#[derive(Clone, Debug, clap::Args)]
pub struct ReplayArguments {
    /// The TOML configuration file (as for `pure6 check`).
    #[arg(long)]
    pub config: PathBuf,
    /// The capture to replay (pcap or pcapng), `-` for standard input.
    #[arg(long = "in", value_name = "IN")]
    pub input: PathBuf,
    /// The pcapng file to write, one interface per port, `-` for standard
    /// output.
    #[arg(long = "out", value_name = "OUT")]
    pub output: PathBuf,
    /// Every packet enters this port, whatever its interface is named (needed
    /// for pcap files and unnamed pcapng interfaces).
    #[arg(long, value_name = "NAME")]
    pub port: Option<String>,
    /// The router's random seed, decimal or 0x-prefixed hexadecimal; the
    /// default is the router's fixed default seed.
    #[arg(long, value_name = "N", value_parser = parse_seed, default_value = DEFAULT_SEED_TEXT)]
    pub seed: u64,
    /// How long after the last packet the router is polled once more, in
    /// milliseconds.
    #[arg(
        long,
        value_name = "MILLISECONDS",
        default_value_t = DEFAULT_FINAL_POLL_AFTER_MILLISECONDS,
        value_parser = clap::value_parser!(u64).range(0..=MAXIMUM_TIME_MICROSECONDS as u64 / 1_000),
    )]
    pub final_poll_after: u64,
}

/// Parses a seed written in decimal or as 0x-prefixed hexadecimal.
pub fn parse_seed(text: &str) -> Result<u64, String> {
    let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hexadecimal) => u64::from_str_radix(&hexadecimal.replace('_', ""), 16),
        None => text.replace('_', "").parse::<u64>(),
    };
    parsed.map_err(|error| format!("`{text}` is not a 64-bit seed: {error}"))
}

/// How a replay runs, besides the config and the capture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayOptions {
    /// Every packet enters this port (`--port`); `None`: pcapng interfaces
    /// are matched to ports by name.
    pub port: Option<String>,
    /// The router's seed ([`Router::with_seed`]).
    pub seed: u64,
    /// How long after the last packet the final poll runs.
    pub final_poll_after: Duration,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        ReplayOptions {
            port: None,
            seed: DEFAULT_SEED,
            final_poll_after: Duration::from_millis(DEFAULT_FINAL_POLL_AFTER_MILLISECONDS),
        }
    }
}

/// One port's share of a replay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortSummary {
    /// The port's name.
    pub name: String,
    /// The MAC address the replay gave it.
    pub mac: [u8; 6],
    /// Input packets that entered this port.
    pub packets_in: u64,
    /// Frames the router transmitted on this port (written to the output).
    pub frames_out: u64,
    /// Every nonzero counter of the port (`Router::counters`), in the
    /// router's order.
    pub counters: Vec<(&'static str, u64)>,
}

/// What a replay did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplaySummary {
    /// Packets read from the capture and handed to the router.
    pub packets_in: u64,
    /// Packets captured shorter than they were on the wire, replayed as captured.
    pub truncated_packets: u64,
    /// Frames written to the output.
    pub frames_out: u64,
    /// The `now` of the last packet (zero without packets).
    pub last_packet_time: Instant,
    /// The `now` of the final poll.
    pub final_poll_time: Instant,
    /// Every port, in port order.
    pub ports: Vec<PortSummary>,
    /// Every nonzero counter summed over the ports (`Router::totals`).
    pub totals: Vec<(&'static str, u64)>,
    /// The NAT64 sessions left at the final poll, one line each
    /// (`Router::nat64_sessions`, at most [`MAXIMUM_LISTED_SESSIONS`]).
    pub sessions: Vec<String>,
}

/// The most NAT64 sessions a replay summary lists.
pub const MAXIMUM_LISTED_SESSIONS: usize = 10_000;

impl ReplaySummary {
    /// The summary as printed on stderr, one item per line:
    /// `replay: ...`, then `port NAME MAC in N out N`, `counter PORT NAME VALUE`
    /// for every nonzero counter, and `total NAME VALUE`.
    pub fn lines(&self) -> String {
        let mut text = String::new();
        let _ = writeln!(
            text,
            "replay: {} packets in ({} truncated), {} frames out, last packet at {}, final poll at {}",
            self.packets_in,
            self.truncated_packets,
            self.frames_out,
            SecondsDisplay(self.last_packet_time),
            SecondsDisplay(self.final_poll_time),
        );
        for port in &self.ports {
            let _ = writeln!(
                text,
                "port {} {} in {} out {}",
                port.name,
                MacDisplay(port.mac),
                port.packets_in,
                port.frames_out
            );
        }
        for port in &self.ports {
            for (name, value) in &port.counters {
                let _ = writeln!(text, "counter {} {name} {value}", port.name);
            }
        }
        for (name, value) in &self.totals {
            let _ = writeln!(text, "total {name} {value}");
        }
        for session in &self.sessions {
            let _ = writeln!(text, "session {session}");
        }
        text
    }
}

/// Why a replay stopped.
#[derive(Debug)]
pub enum ReplayError {
    /// The config has no `[[port]]`.
    NoPorts,
    /// `--port` names no port of the config.
    UnknownPort {
        /// The name given.
        name: String,
        /// The config's ports, comma-separated.
        ports: String,
    },
    /// The router could not be built from the config.
    Router(RouterError),
    /// The input is neither pcap nor pcapng.
    NotACapture {
        /// The first bytes, in hexadecimal.
        magic: String,
    },
    /// The input ends in the middle of a header, block or packet.
    Truncated {
        /// Where: `the file header`, `block N`, `packet N`.
        location: String,
    },
    /// The capture's structure is wrong.
    Malformed {
        /// Where: `the file header`, `block N`, `packet N`.
        location: String,
        /// What is wrong.
        detail: String,
    },
    /// A pcap file, or an unnamed pcapng interface, and no `--port`.
    PortNeeded {
        /// `a pcap file` or `interface N`.
        what: String,
        /// The config's ports, comma-separated.
        ports: String,
    },
    /// A pcapng interface named after no port of the config.
    UnknownInterface {
        /// The interface's number in its section.
        interface: usize,
        /// Its `if_name`.
        name: String,
        /// The config's ports, comma-separated.
        ports: String,
    },
    /// A link type replay does not read.
    UnsupportedLinkType {
        /// `the pcap file` or `interface N`.
        what: String,
        /// The LINKTYPE number.
        link_type: u32,
        /// The pcap-file crate's name for it.
        name: String,
    },
    /// A packet block refers to an interface not described before it.
    UndescribedInterface {
        /// Where: `block N`.
        location: String,
        /// The interface number it names.
        interface: u32,
    },
    /// Reading the input failed (not its content).
    Read(io::Error),
    /// Writing the output failed.
    Write(String),
}

impl fmt::Display for ReplayError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplayError::NoPorts => write!(
                formatter,
                "the config has no [[port]]; replay needs at least one port"
            ),
            ReplayError::UnknownPort { name, ports } => write!(
                formatter,
                "--port {name}: no such port in the config (ports: {ports})"
            ),
            ReplayError::Router(error) => write!(formatter, "cannot build the router: {error}"),
            ReplayError::NotACapture { magic } => write!(
                formatter,
                "not a pcap or pcapng capture (starts with {magic})"
            ),
            ReplayError::Truncated { location } => {
                write!(
                    formatter,
                    "truncated capture: the file ends inside {location}"
                )
            }
            ReplayError::Malformed { location, detail } => {
                write!(formatter, "malformed capture: {location}: {detail}")
            }
            ReplayError::PortNeeded { what, ports } => write!(
                formatter,
                "{what} names no port: pass --port NAME (ports: {ports})"
            ),
            ReplayError::UnknownInterface {
                interface,
                name,
                ports,
            } => write!(
                formatter,
                "interface {interface} is named `{name}`, which is not a port of the config \
                 (ports: {ports}); rename it or pass --port NAME"
            ),
            ReplayError::UnsupportedLinkType {
                what,
                link_type,
                name,
            } => write!(
                formatter,
                "{what}: link type {link_type} ({name}) is not supported; replay reads \
                 Ethernet (1) and raw IP (101, 228, 229)"
            ),
            ReplayError::UndescribedInterface {
                location,
                interface,
            } => write!(
                formatter,
                "malformed capture: {location}: a packet on interface {interface}, \
                 which no Interface Description Block describes"
            ),
            ReplayError::Read(error) => write!(formatter, "cannot read: {error}"),
            ReplayError::Write(error) => write!(formatter, "cannot write the output: {error}"),
        }
    }
}

impl std::error::Error for ReplayError {}

/// Runs `pure6 replay`: errors go to stderr as `FILE: MESSAGE` (config
/// errors as `pure6 check` prints them), the summary on success.
pub fn run_replay(arguments: &ReplayArguments) -> ExitCode {
    match replay_files(arguments) {
        Ok(summary) => {
            eprint!("{}", summary.lines());
            ExitCode::SUCCESS
        }
        Err(line) => {
            eprintln!("{line}");
            ExitCode::FAILURE
        }
    }
}

/// The work of [`run_replay`]: reads the config, opens the files, replays,
/// and removes the output file again on failure. The error is the line to
/// print.
pub fn replay_files(arguments: &ReplayArguments) -> Result<ReplaySummary, String> {
    let config = read_config(&arguments.config)?;
    let options = ReplayOptions {
        port: arguments.port.clone(),
        seed: arguments.seed,
        final_poll_after: Duration::from_millis(arguments.final_poll_after),
    };
    let input_name = arguments.input.display().to_string();
    let input: Box<dyn Read> = if is_standard_stream(&arguments.input) {
        Box::new(io::stdin().lock())
    } else {
        let file = File::open(&arguments.input)
            .map_err(|error| format!("{input_name}: cannot read: {error}"))?;
        Box::new(BufReader::new(file))
    };
    let output_name = arguments.output.display().to_string();
    if is_standard_stream(&arguments.output) {
        let mut output = BufWriter::new(io::stdout().lock());
        let summary = replay(&config, input, &mut output, &options)
            .map_err(|error| error_line(&input_name, &output_name, &error))?;
        output
            .flush()
            .map_err(|error| format!("{output_name}: cannot write: {error}"))?;
        return Ok(summary);
    }
    let file = File::create(&arguments.output)
        .map_err(|error| format!("{output_name}: cannot create: {error}"))?;
    let mut output = BufWriter::new(file);
    let result = replay(&config, input, &mut output, &options)
        .map_err(|error| error_line(&input_name, &output_name, &error))
        .and_then(|summary| {
            output
                .flush()
                .map_err(|error| format!("{output_name}: cannot write: {error}"))?;
            Ok(summary)
        });
    if result.is_err() {
        drop(output);
        // Best effort: the error being reported matters more than this one.
        let _ = std::fs::remove_file(&arguments.output);
    }
    result
}

/// Reads and parses the config; errors are `pure6 check`'s lines.
fn read_config(path: &Path) -> Result<Config, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("{}: cannot read: {error}", path.display()))?;
    netstack::config::parse(&text).map_err(|error| {
        // `pure6 check`'s formatting, so both print the same line.
        match crate::config_check::check_text(path, &text) {
            Err(line) => line,
            Ok(_) => format!("{}: {error}", path.display()),
        }
    })
}

/// `-` means standard input or output.
fn is_standard_stream(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// The line printed for `error`: prefixed by the file it is about.
fn error_line(input_name: &str, output_name: &str, error: &ReplayError) -> String {
    match error {
        ReplayError::Write(_) => format!("{output_name}: {error}"),
        ReplayError::NoPorts | ReplayError::UnknownPort { .. } | ReplayError::Router(_) => {
            format!("replay: {error}")
        }
        _ => format!("{input_name}: {error}"),
    }
}

/// Replays the capture `input` through a router built from `config` and
/// writes what it transmits to `output` as pcapng (see the module
/// documentation for every format decision).
pub fn replay<R: Read, W: Write>(
    config: &Config,
    input: R,
    output: W,
    options: &ReplayOptions,
) -> Result<ReplaySummary, ReplayError> {
    let mut replayer = Replayer::new(config, output, options)?;
    let mut input = input;
    let mut magic = [0u8; 4];
    let magic_length = read_up_to(&mut input, &mut magic).map_err(ReplayError::Read)?;
    let head = Cursor::new(magic[..magic_length].to_vec());
    let input = head.chain(input);
    match magic {
        [0x0a, 0x0d, 0x0d, 0x0a] => read_pcapng(input, &mut replayer)?,
        [0xa1, 0xb2, 0xc3, 0xd4]
        | [0xd4, 0xc3, 0xb2, 0xa1]
        | [0xa1, 0xb2, 0x3c, 0x4d]
        | [0x4d, 0x3c, 0xb2, 0xa1] => read_pcap(input, &mut replayer)?,
        _ if magic_length < magic.len() => {
            return Err(ReplayError::Truncated {
                location: "the file header".to_owned(),
            });
        }
        _ => {
            return Err(ReplayError::NotACapture {
                magic: magic.iter().map(|byte| format!("{byte:02x}")).collect(),
            });
        }
    }
    replayer.finish()
}

/// Reads until `buffer` is full or the input ends; returns the count read.
fn read_up_to(input: &mut impl Read, buffer: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match input.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(count) => filled += count,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(filled)
}

/// How packets of one link type become Ethernet frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Framing {
    /// Ethernet frames, handed over unchanged.
    Ethernet,
    /// `LINKTYPE_RAW`: IPv4 or IPv6, by the version nibble.
    RawIp,
    /// `LINKTYPE_IPV4`.
    Ipv4,
    /// `LINKTYPE_IPV6`.
    Ipv6,
}

impl Framing {
    fn for_link_type(
        link_type: DataLink,
        what: impl FnOnce() -> String,
    ) -> Result<Framing, ReplayError> {
        match link_type {
            DataLink::ETHERNET => Ok(Framing::Ethernet),
            DataLink::RAW => Ok(Framing::RawIp),
            DataLink::IPV4 => Ok(Framing::Ipv4),
            DataLink::IPV6 => Ok(Framing::Ipv6),
            other => Err(ReplayError::UnsupportedLinkType {
                what: what(),
                link_type: u32::from(other),
                name: match other {
                    DataLink::Unknown(_) => "unknown".to_owned(),
                    known => format!("{known:?}"),
                },
            }),
        }
    }

    /// The EtherType for an IP packet, or `None` for Ethernet framing.
    fn ethertype(self, packet: &[u8]) -> Option<u16> {
        match self {
            Framing::Ethernet => None,
            Framing::Ipv4 => Some(ETHERTYPE_IPV4),
            Framing::Ipv6 => Some(ETHERTYPE_IPV6),
            Framing::RawIp => match packet.first().map(|byte| byte >> 4) {
                Some(4) => Some(ETHERTYPE_IPV4),
                _ => Some(ETHERTYPE_IPV6),
            },
        }
    }
}

/// The router, the output, and the running clock and tallies of a replay.
struct Replayer<W: Write> {
    router: Router,
    writer: PcapNgWriter<W>,
    /// Port names in order, for `--port` and interface matching.
    port_names: Vec<String>,
    /// The port every packet enters (`--port`).
    forced_port: Option<PortIndex>,
    final_poll_after: Duration,
    /// The absolute capture time of the first packet, in nanoseconds.
    first_time: Option<i128>,
    /// The `now` of the latest packet.
    now: Instant,
    /// The frame built around a raw IP packet.
    frame: Vec<u8>,
    packets_in: u64,
    truncated_packets: u64,
    frames_out: u64,
    packets_in_by_port: Vec<u64>,
    frames_out_by_port: Vec<u64>,
}

impl<W: Write> Replayer<W> {
    fn new(
        config: &Config,
        output: W,
        options: &ReplayOptions,
    ) -> Result<Replayer<W>, ReplayError> {
        if config.ports.is_empty() {
            return Err(ReplayError::NoPorts);
        }
        let nics: Vec<NicInfo> = (0..config.ports.len())
            .map(|index| NicInfo {
                mac: port_mac(index),
            })
            .collect();
        let router = Router::with_seed(config, &nics, options.seed).map_err(ReplayError::Router)?;
        let port_names: Vec<String> = router
            .port_indices()
            .map(|port| router.port_name(port).unwrap_or_default().to_owned())
            .collect();
        let forced_port = match &options.port {
            None => None,
            Some(name) => Some(
                port_names
                    .iter()
                    .position(|port_name| port_name == name)
                    .map(PortIndex)
                    .ok_or_else(|| ReplayError::UnknownPort {
                        name: name.clone(),
                        ports: port_names.join(", "),
                    })?,
            ),
        };
        let section = SectionHeaderBlock {
            endianness: Endianness::Little,
            options: vec![SectionHeaderOption::UserApplication(Cow::Borrowed(
                "pure6 replay",
            ))],
            ..SectionHeaderBlock::default()
        };
        let mut writer = PcapNgWriter::with_section_header(output, section).map_err(write_error)?;
        for (index, name) in port_names.iter().enumerate() {
            let mac = router
                .port_settings(PortIndex(index))
                .map_or(nics[index].mac, |settings| settings.mac);
            let interface = InterfaceDescriptionBlock {
                linktype: DataLink::ETHERNET,
                snaplen: 0,
                options: vec![
                    InterfaceDescriptionOption::IfName(Cow::Owned(name.clone())),
                    InterfaceDescriptionOption::IfMacAddr(Cow::Owned(mac.to_vec())),
                    InterfaceDescriptionOption::IfTsResol(OUTPUT_TIMESTAMP_RESOLUTION),
                ],
            };
            writer.write_pcapng_block(interface).map_err(write_error)?;
        }
        let port_count = port_names.len();
        Ok(Replayer {
            router,
            writer,
            port_names,
            forced_port,
            final_poll_after: options.final_poll_after,
            first_time: None,
            now: Instant::ZERO,
            frame: Vec::new(),
            packets_in: 0,
            truncated_packets: 0,
            frames_out: 0,
            packets_in_by_port: vec![0; port_count],
            frames_out_by_port: vec![0; port_count],
        })
    }

    fn port_list(&self) -> String {
        self.port_names.join(", ")
    }

    /// The port a pcapng interface feeds: `--port`, else the port named by
    /// its `if_name`.
    fn interface_port(
        &self,
        interface: usize,
        name: Option<&str>,
    ) -> Result<PortIndex, ReplayError> {
        if let Some(port) = self.forced_port {
            return Ok(port);
        }
        let Some(name) = name else {
            return Err(ReplayError::PortNeeded {
                what: format!("interface {interface} has no if_name and"),
                ports: self.port_list(),
            });
        };
        self.port_names
            .iter()
            .position(|port_name| port_name == name)
            .map(PortIndex)
            .ok_or_else(|| ReplayError::UnknownInterface {
                interface,
                name: name.to_owned(),
                ports: self.port_list(),
            })
    }

    /// Replays one packet captured at `time` (absolute nanoseconds; `None`:
    /// no timestamp, the previous packet's `now`).
    fn packet(
        &mut self,
        port: PortIndex,
        framing: Framing,
        time: Option<i128>,
        data: &[u8],
        original_length: u32,
    ) -> Result<(), ReplayError> {
        if let Some(time) = time {
            let first = *self.first_time.get_or_insert(time);
            let micros = (time.saturating_sub(first) / 1_000)
                .clamp(0, i128::from(MAXIMUM_TIME_MICROSECONDS));
            let micros = i64::try_from(micros).unwrap_or(MAXIMUM_TIME_MICROSECONDS);
            self.now = self.now.max(Instant::from_micros(micros));
        }
        self.packets_in += 1;
        if let Some(count) = self.packets_in_by_port.get_mut(port.0) {
            *count += 1;
        }
        if usize::try_from(original_length).is_ok_and(|length| data.len() < length) {
            self.truncated_packets += 1;
        }
        let now = self.now;
        let outgoing = self.router.poll(now);
        write_frames(
            &mut self.writer,
            outgoing,
            now,
            &mut self.frames_out,
            &mut self.frames_out_by_port,
        )?;
        let frame: &[u8] = match framing.ethertype(data) {
            None => data,
            Some(ethertype) => {
                let port_mac = self
                    .router
                    .port_settings(port)
                    .map_or([0; 6], |settings| settings.mac);
                self.frame.clear();
                self.frame.extend_from_slice(&port_mac);
                self.frame.extend_from_slice(&RAW_IP_SOURCE_MAC);
                self.frame.extend_from_slice(&ethertype.to_be_bytes());
                self.frame.extend_from_slice(data);
                &self.frame
            }
        };
        let outgoing = self.router.receive(port, frame, now);
        write_frames(
            &mut self.writer,
            outgoing,
            now,
            &mut self.frames_out,
            &mut self.frames_out_by_port,
        )
    }

    /// The final poll, then the summary.
    fn finish(mut self) -> Result<ReplaySummary, ReplayError> {
        let last_packet_time = self.now;
        let after = i64::try_from(self.final_poll_after.total_micros()).unwrap_or(i64::MAX);
        let final_poll_time = Instant::from_micros(
            last_packet_time
                .total_micros()
                .saturating_add(after)
                .min(MAXIMUM_TIME_MICROSECONDS),
        );
        let outgoing = self.router.poll(final_poll_time);
        write_frames(
            &mut self.writer,
            outgoing,
            final_poll_time,
            &mut self.frames_out,
            &mut self.frames_out_by_port,
        )?;
        self.writer
            .get_mut()
            .flush()
            .map_err(|error| ReplayError::Write(error.to_string()))?;
        let router = &self.router;
        let ports = router
            .port_indices()
            .map(|port| PortSummary {
                name: self.port_names.get(port.0).cloned().unwrap_or_default(),
                mac: router
                    .port_settings(port)
                    .map_or([0; 6], |settings| settings.mac),
                packets_in: self.packets_in_by_port.get(port.0).copied().unwrap_or(0),
                frames_out: self.frames_out_by_port.get(port.0).copied().unwrap_or(0),
                counters: router
                    .counters(port)
                    .filter(|(_, value)| *value != 0)
                    .collect(),
            })
            .collect();
        Ok(ReplaySummary {
            packets_in: self.packets_in,
            truncated_packets: self.truncated_packets,
            frames_out: self.frames_out,
            last_packet_time,
            final_poll_time,
            ports,
            totals: router.totals().non_zero().collect(),
            sessions: router.nat64_sessions(MAXIMUM_LISTED_SESSIONS),
        })
    }
}

/// Writes every frame of `outgoing` as an Enhanced Packet Block stamped `now`.
fn write_frames<'a, W: Write>(
    writer: &mut PcapNgWriter<W>,
    outgoing: impl Iterator<Item = Transmit<'a>>,
    now: Instant,
    frames_out: &mut u64,
    frames_out_by_port: &mut [u64],
) -> Result<(), ReplayError> {
    let timestamp =
        std::time::Duration::from_micros(u64::try_from(now.total_micros()).unwrap_or(0));
    for transmit in outgoing {
        let interface_id = u32::try_from(transmit.port.0)
            .map_err(|_| ReplayError::Write(format!("port {} out of range", transmit.port)))?;
        let original_len = u32::try_from(transmit.frame.len())
            .map_err(|_| ReplayError::Write("a frame longer than 4 GiB".to_owned()))?;
        let block = EnhancedPacketBlock {
            interface_id,
            timestamp,
            original_len,
            data: Cow::Borrowed(transmit.frame),
            options: Vec::new(),
        };
        writer.write_pcapng_block(block).map_err(write_error)?;
        *frames_out += 1;
        if let Some(count) = frames_out_by_port.get_mut(transmit.port.0) {
            *count += 1;
        }
    }
    Ok(())
}

fn write_error(error: PcapError) -> ReplayError {
    match error {
        PcapError::IoError(error) => ReplayError::Write(error.to_string()),
        other => ReplayError::Write(other.to_string()),
    }
}

/// A capture-reading error at `location`.
fn read_error(error: PcapError, location: impl FnOnce() -> String) -> ReplayError {
    match error {
        PcapError::IncompleteBuffer => ReplayError::Truncated {
            location: location(),
        },
        PcapError::IoError(error) if error.kind() == io::ErrorKind::UnexpectedEof => {
            ReplayError::Truncated {
                location: location(),
            }
        }
        PcapError::IoError(error) => ReplayError::Read(error),
        PcapError::InvalidField(detail) => ReplayError::Malformed {
            location: location(),
            detail: detail.to_owned(),
        },
        PcapError::Utf8Error(error) => ReplayError::Malformed {
            location: location(),
            detail: format!("an option is not UTF-8 ({error})"),
        },
        PcapError::FromUtf8Error(error) => ReplayError::Malformed {
            location: location(),
            detail: format!("an option is not UTF-8 ({error})"),
        },
        PcapError::InvalidInterfaceId(interface) => ReplayError::Malformed {
            location: location(),
            detail: format!("no interface {interface}"),
        },
    }
}

/// Replays a pcap file: every packet enters `--port`.
fn read_pcap<R: Read, W: Write>(input: R, replayer: &mut Replayer<W>) -> Result<(), ReplayError> {
    let mut reader = PcapReader::new(input)
        .map_err(|error| read_error(error, || "the file header".to_owned()))?;
    let header = reader.header();
    let port = replayer
        .forced_port
        .ok_or_else(|| ReplayError::PortNeeded {
            what: "a pcap file".to_owned(),
            ports: replayer.port_list(),
        })?;
    let framing = Framing::for_link_type(header.datalink, || "the pcap file".to_owned())?;
    let fraction_nanoseconds: i128 = match header.ts_resolution {
        TsResolution::MicroSecond => 1_000,
        TsResolution::NanoSecond => 1,
    };
    let mut number: u64 = 0;
    // Raw packets: pcap-file's checked packets refuse a packet longer than
    // the header's snap length, which real captures have (offloads); a
    // packet is replayed as captured whatever its lengths say.
    while let Some(packet) = reader.next_raw_packet() {
        number += 1;
        let packet = packet.map_err(|error| read_error(error, || format!("packet {number}")))?;
        let time = i128::from(packet.ts_sec) * 1_000_000_000
            + i128::from(packet.ts_frac) * fraction_nanoseconds;
        replayer.packet(port, framing, Some(time), &packet.data, packet.orig_len)?;
    }
    Ok(())
}

/// One pcapng interface: the port it feeds and how to read its packets.
#[derive(Clone, Copy, Debug)]
struct Interface {
    port: PortIndex,
    framing: Framing,
    /// `if_tsresol`.
    timestamp_resolution: u8,
    /// `if_tsoffset`, in seconds.
    timestamp_offset: i64,
    /// The snap length (0: no limit).
    snap_length: u32,
}

impl Interface {
    /// The absolute time of a raw timestamp of this interface, in nanoseconds.
    fn nanoseconds(&self, raw: u64) -> i128 {
        timestamp_nanoseconds(raw, self.timestamp_resolution)
            .saturating_add(i128::from(self.timestamp_offset) * 1_000_000_000)
    }
}

/// A pcapng timestamp in units of `if_tsresol` `resolution` (high bit
/// clear: 10^-n seconds; set: 2^-n seconds), in nanoseconds.
fn timestamp_nanoseconds(raw: u64, resolution: u8) -> i128 {
    let raw = i128::from(raw);
    let exponent = u32::from(resolution & 0x7f);
    if resolution & 0x80 == 0 {
        if exponent <= 9 {
            raw * 10_i128.pow(9 - exponent)
        } else {
            10_i128
                .checked_pow(exponent - 9)
                .map_or(0, |divisor| raw / divisor)
        }
    } else {
        (raw * 1_000_000_000).checked_shr(exponent).unwrap_or(0)
    }
}

/// Replays a pcapng file: interfaces matched to ports by name (or `--port`).
fn read_pcapng<R: Read, W: Write>(input: R, replayer: &mut Replayer<W>) -> Result<(), ReplayError> {
    let mut reader = PcapNgReader::new(input)
        .map_err(|error| read_error(error, || "block 1 (the section header)".to_owned()))?;
    let mut interfaces: Vec<Interface> = Vec::new();
    let mut number: u64 = 1;
    while let Some(block) = reader.next_block() {
        number += 1;
        let location = || format!("block {number}");
        let block = block.map_err(|error| read_error(error, location))?;
        match block {
            Block::SectionHeader(_) => interfaces.clear(),
            Block::InterfaceDescription(description) => {
                let interface = describe_interface(&description, interfaces.len(), replayer)?;
                interfaces.push(interface);
            }
            Block::EnhancedPacket(packet) => {
                let interface = interfaces
                    .get(packet.interface_id as usize)
                    .copied()
                    .ok_or_else(|| ReplayError::UndescribedInterface {
                        location: location(),
                        interface: packet.interface_id,
                    })?;
                // pcap-file hands over the raw count as nanoseconds.
                let raw = u64::try_from(packet.timestamp.as_nanos()).unwrap_or(u64::MAX);
                replayer.packet(
                    interface.port,
                    interface.framing,
                    Some(interface.nanoseconds(raw)),
                    &packet.data,
                    packet.original_len,
                )?;
            }
            Block::Packet(packet) => {
                let interface = interfaces
                    .get(usize::from(packet.interface_id))
                    .copied()
                    .ok_or_else(|| ReplayError::UndescribedInterface {
                        location: location(),
                        interface: u32::from(packet.interface_id),
                    })?;
                replayer.packet(
                    interface.port,
                    interface.framing,
                    Some(interface.nanoseconds(packet.timestamp)),
                    &packet.data,
                    packet.original_len,
                )?;
            }
            Block::SimplePacket(packet) => {
                let interface = interfaces.first().copied().ok_or_else(|| {
                    ReplayError::UndescribedInterface {
                        location: location(),
                        interface: 0,
                    }
                })?;
                // The block's data is padded; the packet is at most the
                // original length and the snap length long.
                let mut length = packet.data.len().min(packet.original_len as usize);
                if interface.snap_length != 0 {
                    length = length.min(interface.snap_length as usize);
                }
                let data = &packet.data[..length];
                replayer.packet(
                    interface.port,
                    interface.framing,
                    None,
                    data,
                    packet.original_len,
                )?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// Checks an Interface Description Block and finds its port.
fn describe_interface<W: Write>(
    description: &InterfaceDescriptionBlock<'_>,
    index: usize,
    replayer: &Replayer<W>,
) -> Result<Interface, ReplayError> {
    let mut name = None;
    let mut timestamp_resolution = DEFAULT_TIMESTAMP_RESOLUTION;
    let mut timestamp_offset = 0;
    for option in &description.options {
        match option {
            InterfaceDescriptionOption::IfName(text) => name = Some(text.as_ref()),
            InterfaceDescriptionOption::IfTsResol(resolution) => {
                timestamp_resolution = *resolution;
            }
            InterfaceDescriptionOption::IfTsOffset(offset) => {
                timestamp_offset = i64::from_ne_bytes(offset.to_ne_bytes());
            }
            _ => {}
        }
    }
    let what = || match name {
        Some(name) => format!("interface {index} (`{name}`)"),
        None => format!("interface {index}"),
    };
    let framing = Framing::for_link_type(description.linktype, what)?;
    let port = replayer.interface_port(index, name)?;
    Ok(Interface {
        port,
        framing,
        timestamp_resolution,
        timestamp_offset,
        snap_length: description.snaplen,
    })
}

/// An [`Instant`] as seconds with six decimals, e.g. `1.000100 s`.
struct SecondsDisplay(Instant);

impl fmt::Display for SecondsDisplay {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let micros = self.0.total_micros();
        write!(
            formatter,
            "{}.{:06} s",
            micros.div_euclid(1_000_000),
            micros.rem_euclid(1_000_000)
        )
    }
}

/// A MAC address as `52:54:00:00:00:01`.
struct MacDisplay([u8; 6]);

impl fmt::Display for MacDisplay {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, f] = self.0;
        write!(formatter, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{f:02x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_in_decimal_and_hexadecimal() {
        assert_eq!(parse_seed("42"), Ok(42));
        assert_eq!(parse_seed(DEFAULT_SEED_TEXT), Ok(DEFAULT_SEED));
        assert_eq!(parse_seed("0x7075_7265_3672_6f75"), Ok(DEFAULT_SEED));
        assert!(parse_seed("seed").is_err());
        assert!(parse_seed("0x1_0000_0000_0000_0000").is_err());
    }

    #[test]
    fn timestamp_resolutions() {
        assert_eq!(timestamp_nanoseconds(5, 6), 5_000);
        assert_eq!(timestamp_nanoseconds(5, 9), 5);
        assert_eq!(timestamp_nanoseconds(5, 0), 5_000_000_000);
        assert_eq!(timestamp_nanoseconds(5_000, 12), 5);
        assert_eq!(timestamp_nanoseconds(u64::MAX, 127), 0);
        // 2^-10 s units.
        assert_eq!(timestamp_nanoseconds(1024, 0x80 | 10), 1_000_000_000);
        assert_eq!(timestamp_nanoseconds(u64::MAX, 0xff), 0);
    }

    #[test]
    fn raw_ip_ethertype_from_version() {
        assert_eq!(Framing::RawIp.ethertype(&[0x60]), Some(ETHERTYPE_IPV6));
        assert_eq!(Framing::RawIp.ethertype(&[0x45]), Some(ETHERTYPE_IPV4));
        assert_eq!(Framing::RawIp.ethertype(&[]), Some(ETHERTYPE_IPV6));
        assert_eq!(Framing::Ipv4.ethertype(&[0x60]), Some(ETHERTYPE_IPV4));
        assert_eq!(Framing::Ethernet.ethertype(&[0x60]), None);
    }

    #[test]
    fn summary_lines() {
        let summary = ReplaySummary {
            packets_in: 2,
            truncated_packets: 0,
            frames_out: 1,
            last_packet_time: Instant::from_micros(100),
            final_poll_time: Instant::from_micros(1_000_100),
            ports: vec![PortSummary {
                name: "lan0".to_owned(),
                mac: port_mac(0),
                packets_in: 2,
                frames_out: 1,
                counters: vec![("received", 2)],
            }],
            totals: vec![("received", 2)],
            sessions: Vec::new(),
        };
        assert_eq!(
            summary.lines(),
            "replay: 2 packets in (0 truncated), 1 frames out, last packet at 0.000100 s, final poll at 1.000100 s\n\
             port lan0 52:54:00:00:00:01 in 2 out 1\n\
             counter lan0 received 2\n\
             total received 2\n"
        );
    }
}
