//! `pure6 routes map`: IPv4 routes (text or an MRT RIB dump) mapped under pool6 into pure6's route file or a BIRD static block; `pure6 routes compile`: a route file compiled for fast loading.
//!
//! ```text
//! pure6 routes map --pool6 P --nexthops FILE [--format pure6|bird]
//!                  [--input FILE|-] [--output FILE|-]
//! ```
//!
//! Input (gzip-compressed or not, detected by its magic bytes):
//! - **text**: the route file format of `netstack::route_file`, normally
//!   one `a.b.c.d/len via a.b.c.d` a line (also `blackhole a.b.c.d/len`);
//!   IPv6 lines pass through unchanged, so a mixed file converts whole;
//! - **MRT**: a TABLE_DUMP_V2 RIB dump (RFC 6396 §4.3), read with the
//!   `bgpkit-parser` crate. Its IPv4 unicast entries become routes `prefix
//!   via NEXT_HOP`; with several peers the first entry of each prefix is
//!   used unless `--peer` picks one peer's view. Other entries (IPv6, a
//!   next hop that is not IPv4, other peers) are skipped and counted.
//!
//! `--input-format auto` (the default) takes input containing a zero byte
//! in its first 12 bytes as MRT (an MRT header's type field always has
//! one; text never does), anything else as text.
//!
//! Each IPv4 route is mapped under `--pool6` (RFC 6052 §2.2) and its next
//! hop is rewritten through the next-hops file (`192.0.2.1 2001:db8::1`,
//! `192.0.2.254 local`; see `netstack::translation::route_mapping`). A
//! route whose next hop is not in that file is rejected, never guessed.
//!
//! Output: pure6's route file, or a BIRD 2 `protocol static { ipv6; route
//! P via A; ... }` block. BIRD has no form for "this router's translator",
//! so in BIRD output such routes are rejected (counted by reason).
//!
//! A summary goes to stderr: routes read, written, rejected by reason.
//! Malformed input exits with status 1 and `INPUT:LINE: MESSAGE` lines
//! (MRT: `INPUT: MRT record N: MESSAGE`), writing no output.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use netstack::route_file::{self, NextHop, RejectCounts, RejectReason, Route};
use netstack::translation::address_mapping::TranslationPrefix;
use netstack::translation::route_mapping::{
    Ipv4Prefix, Ipv4Route, Ipv4Target, NextHopTable, RouteMapper,
};

/// The output formats of `pure6 routes map`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// pure6's route file (`netstack::route_file`).
    Pure6,
    /// A BIRD 2 `protocol static` block with an `ipv6` channel.
    Bird,
}

/// The input formats of `pure6 routes map`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum InputFormat {
    /// MRT if a zero byte is among the first 12 bytes, else text.
    Auto,
    /// The route file format, IPv4 lines `prefix via next-hop`.
    Text,
    /// An MRT TABLE_DUMP_V2 RIB dump (RFC 6396 §4.3).
    Mrt,
}

/// Arguments of `pure6 routes map`.
#[derive(Clone, Debug, clap::Args)]
pub struct MapArguments {
    /// The translation prefix the IPv4 routes are mapped under, e.g.
    /// 2001:db8:64::/96 (RFC 6052: /32, /40, /48, /56, /64 or /96).
    #[arg(long)]
    pub pool6: TranslationPrefix,
    /// The next-hops file: `IPV4 IPV6 [port NAME]` or `IPV4 local` lines.
    #[arg(long)]
    pub nexthops: PathBuf,
    /// The output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Pure6)]
    pub format: OutputFormat,
    /// The input file, `-` for standard input.
    #[arg(long, default_value = "-")]
    pub input: PathBuf,
    /// The input format.
    #[arg(long, value_enum, default_value_t = InputFormat::Auto)]
    pub input_format: InputFormat,
    /// MRT input: use only this peer's entries.
    #[arg(long)]
    pub peer: Option<IpAddr>,
    /// The output file, `-` for standard output.
    #[arg(long, default_value = "-")]
    pub output: PathBuf,
    /// Map non-global IPv4 prefixes under 64:ff9b::/96 too, which RFC 6052
    /// §3.1 forbids: only for labs using documentation addresses.
    #[arg(long)]
    pub allow_non_global_under_well_known_prefix: bool,
    /// Name of the BIRD protocol block.
    #[arg(long, default_value = "pure6_pool6")]
    pub bird_protocol_name: String,
}

/// What a mapping run counted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// IPv4 routes read.
    pub ipv4_read: usize,
    /// IPv6 routes read (text input; they pass through).
    pub ipv6_read: usize,
    /// MRT entries skipped (not IPv4 unicast, not the chosen peer, a later
    /// entry of a prefix already taken, or a next hop that is not IPv4).
    pub skipped: usize,
    /// Mapped IPv4 routes written.
    pub mapped_written: usize,
    /// IPv6 routes written.
    pub ipv6_written: usize,
    /// Routes rejected by the mapping, by reason.
    pub rejected: RejectCounts,
    /// Routes to the local translator left out of BIRD output.
    pub rejected_no_bird_form: usize,
}

impl Summary {
    /// The summary lines printed on stderr.
    pub fn lines(&self) -> String {
        let mut text = String::new();
        let _ = writeln!(
            text,
            "routes read: {} (IPv4 {}, IPv6 {}); MRT entries skipped: {}",
            self.ipv4_read + self.ipv6_read,
            self.ipv4_read,
            self.ipv6_read,
            self.skipped
        );
        let _ = writeln!(
            text,
            "routes written: {} (mapped {}, IPv6 {})",
            self.mapped_written + self.ipv6_written,
            self.mapped_written,
            self.ipv6_written
        );
        let mut reasons: Vec<String> = RejectReason::ALL
            .iter()
            .map(|reason| format!("{} {}", reason.name(), self.rejected.get(*reason)))
            .collect();
        reasons.push(format!(
            "translator-next-hop-in-bird-output {}",
            self.rejected_no_bird_form
        ));
        let _ = writeln!(
            text,
            "routes rejected: {} ({})",
            self.rejected.total() + self.rejected_no_bird_form,
            reasons.join(", ")
        );
        text
    }
}

/// The routes of one mapping run, or why there are none.
pub type MapResult = Result<(Vec<(Route, bool)>, Summary), Vec<String>>;

/// Decompress gzip input (magic 1f 8b); other input is returned as is.
fn decompress(input: Vec<u8>) -> Result<Vec<u8>, String> {
    if input.starts_with(&[0x1f, 0x8b]) {
        let mut output = Vec::new();
        flate2::read::MultiGzDecoder::new(input.as_slice())
            .read_to_end(&mut output)
            .map_err(|error| format!("gzip: {error}"))?;
        Ok(output)
    } else {
        Ok(input)
    }
}

/// Map text input (the route file format). `name` prefixes error lines.
pub fn map_text(text: &str, name: &str, mapper: RouteMapper) -> MapResult {
    let options = route_file::Options {
        mapper: Some(mapper),
        ..route_file::Options::default()
    };
    let parsed = route_file::parse(text, &options);
    if !parsed.is_ok() {
        return Err(error_lines(name, &parsed.errors, parsed.statistics.errors));
    }
    let statistics = parsed.statistics;
    let summary = Summary {
        ipv4_read: statistics.mapped.total() + statistics.rejected.total(),
        ipv6_read: statistics.ipv6.total(),
        rejected: statistics.rejected,
        ..Summary::default()
    };
    let routes = parsed.routes.into_iter().zip(parsed.mapped).collect();
    Ok((routes, summary))
}

/// `NAME:LINE: MESSAGE` for each kept error, then how many more there were.
fn error_lines(name: &str, errors: &[route_file::LineError], count: usize) -> Vec<String> {
    let mut lines: Vec<String> = errors
        .iter()
        .map(|error| format!("{name}:{}: {}", error.line, error.message))
        .collect();
    let more = count - errors.len();
    if more > 0 {
        lines.push(format!("{name}: and {more} more errors"));
    }
    lines
}

/// Map an MRT TABLE_DUMP_V2 dump. `name` prefixes error lines.
pub fn map_mrt(input: &[u8], name: &str, mapper: &RouteMapper, peer: Option<IpAddr>) -> MapResult {
    let parser = bgpkit_parser::BgpkitParser::from_reader(input);
    let mut summary = Summary::default();
    let mut routes = Vec::new();
    let mut taken: HashSet<(u32, u8)> = HashSet::new();
    let mut errors = Vec::new();
    for (index, element) in parser.into_fallible_elem_iter().enumerate() {
        let element = match element {
            Ok(element) => element,
            Err(error) => {
                errors.push(format!(
                    "{name}: MRT element {}: {}",
                    index + 1,
                    error.error
                ));
                if errors.len() >= route_file::DEFAULT_ERROR_LIMIT {
                    break;
                }
                continue;
            }
        };
        let ipnet::IpNet::V4(network) = element.prefix.prefix else {
            summary.skipped += 1;
            continue;
        };
        if element.elem_type != bgpkit_parser::models::ElemType::ANNOUNCE
            || peer.is_some_and(|peer| element.peer_ip != peer)
        {
            summary.skipped += 1;
            continue;
        }
        let Some(IpAddr::V4(next_hop)) = element.next_hop else {
            summary.skipped += 1;
            continue;
        };
        let Some(prefix) = Ipv4Prefix::new(network.network(), network.prefix_len()) else {
            errors.push(format!(
                "{name}: MRT element {}: prefix {network} has host bits set",
                index + 1
            ));
            continue;
        };
        if !taken.insert((prefix.network().to_bits(), prefix.length())) {
            summary.skipped += 1;
            continue;
        }
        summary.ipv4_read += 1;
        match mapper.map(&Ipv4Route {
            prefix,
            target: Ipv4Target::Via(next_hop),
        }) {
            Ok(route) => routes.push((route, true)),
            Err(reason) => summary.rejected.count(reason),
        }
    }
    if errors.is_empty() {
        Ok((routes, summary))
    } else {
        Err(errors)
    }
}

/// Write `routes` in `format`, completing the written counts of `summary`.
pub fn write_routes(
    routes: &[(Route, bool)],
    format: OutputFormat,
    header: &str,
    bird_protocol_name: &str,
    summary: &mut Summary,
) -> String {
    let mut output = String::with_capacity(routes.len() * 48 + 256);
    let count = |mapped: bool, summary: &mut Summary| {
        if mapped {
            summary.mapped_written += 1;
        } else {
            summary.ipv6_written += 1;
        }
    };
    match format {
        OutputFormat::Pure6 => {
            let _ = writeln!(output, "# {header}");
            for (route, mapped) in routes {
                let _ = writeln!(output, "{route}");
                count(*mapped, summary);
            }
        }
        OutputFormat::Bird => {
            let _ = writeln!(output, "# {header}");
            let _ = writeln!(output, "protocol static {bird_protocol_name} {{");
            let _ = writeln!(output, "\tipv6;");
            for (route, mapped) in routes {
                let prefix = route.prefix;
                match route.next_hop {
                    NextHop::Via {
                        address,
                        port: None,
                    } => {
                        let _ = writeln!(output, "\troute {prefix} via {address};");
                    }
                    NextHop::Via {
                        address,
                        port: Some(port),
                    } => {
                        let _ = writeln!(output, "\troute {prefix} via {address}%{port};");
                    }
                    NextHop::Blackhole => {
                        let _ = writeln!(output, "\troute {prefix} blackhole;");
                    }
                    NextHop::Translate { .. } => {
                        summary.rejected_no_bird_form += 1;
                        continue;
                    }
                }
                count(*mapped, summary);
            }
            let _ = writeln!(output, "}}");
        }
    }
    output
}

fn read_input(path: &PathBuf) -> Result<Vec<u8>, String> {
    let mut input = Vec::new();
    if path.as_os_str() == "-" {
        std::io::stdin()
            .read_to_end(&mut input)
            .map_err(|error| format!("-: cannot read standard input: {error}"))?;
    } else {
        input = std::fs::read(path)
            .map_err(|error| format!("{}: cannot read: {error}", path.display()))?;
    }
    Ok(input)
}

/// Run `pure6 routes map`; errors and the summary go to stderr.
pub fn run_map(arguments: &MapArguments) -> ExitCode {
    match map(arguments) {
        Ok(summary) => {
            eprint!("{}", summary.lines());
            ExitCode::SUCCESS
        }
        Err(errors) => {
            for error in errors {
                eprintln!("{error}");
            }
            ExitCode::FAILURE
        }
    }
}

/// The work of [`run_map`]: the summary, or the error lines.
pub fn map(arguments: &MapArguments) -> Result<Summary, Vec<String>> {
    let next_hops_text = std::fs::read_to_string(&arguments.nexthops).map_err(|error| {
        vec![format!(
            "{}: cannot read: {error}",
            arguments.nexthops.display()
        )]
    })?;
    let next_hops = NextHopTable::parse(&next_hops_text).map_err(|errors| {
        errors
            .iter()
            .map(|error| {
                format!(
                    "{}:{}: {}",
                    arguments.nexthops.display(),
                    error.line,
                    error.message
                )
            })
            .collect::<Vec<_>>()
    })?;
    let mut mapper = RouteMapper::new(arguments.pool6, next_hops);
    if arguments.allow_non_global_under_well_known_prefix {
        mapper = mapper.without_well_known_prefix_rule();
    }
    let name = arguments.input.display().to_string();
    let input = read_input(&arguments.input).map_err(|error| vec![error])?;
    let input = decompress(input).map_err(|error| vec![format!("{name}: {error}")])?;
    let is_mrt = match arguments.input_format {
        InputFormat::Mrt => true,
        InputFormat::Text => false,
        InputFormat::Auto => input.iter().take(12).any(|&byte| byte == 0),
    };
    let (routes, mut summary) = if is_mrt {
        map_mrt(&input, &name, &mapper, arguments.peer)?
    } else {
        let text = std::str::from_utf8(&input).map_err(|error| {
            vec![format!(
                "{name}: not UTF-8 text ({error}); MRT input needs --input-format mrt"
            )]
        })?;
        map_text(text, &name, mapper)?
    };
    let header = format!(
        "pure6 routes map --pool6 {} (RFC 6052): IPv4 routes under the translation prefix",
        arguments.pool6
    );
    let output = write_routes(
        &routes,
        arguments.format,
        &header,
        &arguments.bird_protocol_name,
        &mut summary,
    );
    let written = if arguments.output.as_os_str() == "-" {
        std::io::stdout().lock().write_all(output.as_bytes())
    } else {
        std::fs::write(&arguments.output, output)
    };
    written.map_err(|error| {
        vec![format!(
            "{}: cannot write: {error}",
            arguments.output.display()
        )]
    })?;
    Ok(summary)
}

/// Arguments of `pure6 routes compile`.
#[derive(Clone, Debug, clap::Args)]
pub struct CompileArguments {
    /// The text route file (gzip-compressed or not), `-` for standard input.
    #[arg(long, default_value = "-")]
    pub input: PathBuf,
    /// The compiled route file to write.
    #[arg(long)]
    pub output: PathBuf,
}

/// Run `pure6 routes compile`; errors and the summary go to stderr.
pub fn run_compile(arguments: &CompileArguments) -> ExitCode {
    match compile(arguments) {
        Ok(summary) => {
            eprintln!("{summary}");
            ExitCode::SUCCESS
        }
        Err(errors) => {
            for error in errors {
                eprintln!("{error}");
            }
            ExitCode::FAILURE
        }
    }
}

/// The work of [`run_compile`]: the summary line, or the error lines.
/// Writes nothing unless every line of the input is well-formed.
pub fn compile(arguments: &CompileArguments) -> Result<String, Vec<String>> {
    let name = arguments.input.display().to_string();
    let input = read_input(&arguments.input).map_err(|error| vec![error])?;
    let input = decompress(input).map_err(|error| vec![format!("{name}: {error}")])?;
    let text = std::str::from_utf8(&input)
        .map_err(|error| vec![format!("{name}: not UTF-8 text ({error})")])?;
    let bytes = match route_file::compiled::compile(text, route_file::DEFAULT_ERROR_LIMIT) {
        Ok(bytes) => bytes,
        Err(route_file::compiled::CompileError::Malformed { errors, count, .. }) => {
            return Err(error_lines(&name, &errors, count));
        }
        Err(error) => return Err(vec![format!("{name}: {error}")]),
    };
    std::fs::write(&arguments.output, &bytes).map_err(|error| {
        vec![format!(
            "{}: cannot write: {error}",
            arguments.output.display()
        )]
    })?;
    let counts = route_file::compiled::counts(&bytes).map_err(|error| vec![error.to_string()])?;
    Ok(format!(
        "{name}: {} lines compiled into {} ({} bytes): {} IPv6 routes, {} IPv4 routes, {} next hops",
        counts.lines,
        arguments.output.display(),
        bytes.len(),
        counts.ipv6_routes,
        counts.ipv4_routes,
        counts.next_hops
    ))
}
