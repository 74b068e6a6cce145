//! Compiled route files: a text route file parsed once on the host (`pure6 routes compile`) into fixed-size binary records that the appliance loads without reading text.
//!
//! # Why
//!
//! A full Internet table is about 1.29 million lines. Parsing its text
//! costs some 1,300 instructions a line (callgrind on a host build with the
//! kernel's opt-level, `netstack/benches/route_file.rs`; 1,900 before the
//! text parser read each line in one pass), 1.2 to 4 s of an emulated
//! (TCG) boot, depending on the machine's day. A compiled file holds the
//! same routes already parsed, checked for duplicates and sorted as the
//! FIB builds them, so loading it costs a few dozen instructions a route
//! and the FIB skips its sort.
//!
//! A compiled file does not depend on the config: IPv4 routes stay IPv4
//! routes with their IPv4 next hops, mapped under the config's `pool6`
//! through its next-hop table when the appliance loads the file, exactly
//! as an IPv4 line of a text file is (the same rejections, counted by the
//! same reasons). The appliance tells the two kinds of file apart by the
//! first eight bytes, [`MAGIC`].
//!
//! # Format (version 1)
//!
//! Integers are little-endian; addresses and prefixes are in network byte
//! order. Every byte marked zero must be zero.
//!
//! ```text
//! header, 32 bytes:
//!    0  8  magic "PURE6RTB"
//!    8  4  version, 1
//!   12  4  next hops (at most 65,535)
//!   16  4  IPv6 routes
//!   20  4  IPv4 routes
//!   24  4  lines of the text file it was compiled from
//!   28  4  zero
//! next hops, 40 bytes each:
//!    0  1  kind: 1 via an IPv6 address, 2 translate via (an IPv4-embedded
//!          IPv6 gateway), 3 blackhole, 4 via an IPv4 address
//!    1  1  port name length, 0..=15 (kind 1 only)
//!    2 15  port name, then zeros
//!   17  7  zero
//!   24 16  address: IPv6 (kinds 1, 2); IPv4 in the first 4 bytes (kind 4);
//!          the rest zero
//! IPv6 routes, 20 bytes each:
//!    0 16  prefix, no bit set after its length
//!   16  1  length, 0..=128
//!   17  1  zero
//!   18  2  next hop (index into the next hops): kinds 1, 2 or 3
//! IPv4 routes, 8 bytes each:
//!    0  4  prefix, no bit set after its length
//!    4  1  length, 0..=32
//!    5  1  zero
//!    6  2  next hop: kind 3 or 4
//! ```
//!
//! Each list of routes is in strictly ascending order of (prefix, length),
//! so no prefix appears twice. The next hops follow the rules of the text
//! format (unicast; link-local only with a port; valid port names).
//!
//! # Errors
//!
//! A compiled file is written by a program, so a file that breaks the
//! format (wrong magic, version or size, a nonzero padding byte, an
//! unknown next-hop kind, host bits, routes out of order, an index beyond
//! the next hops) is not a route file at all: [`decode`] refuses it whole,
//! naming the first offending record, and the appliance does not start.
//! What depends on the config is reported as the text parser reports it:
//! a `translate via` gateway outside `pool6`, IPv4 routes without a
//! translation prefix (or without the legacy-ip build), and an IPv4 route
//! that maps onto the prefix of an IPv6 route are malformed routes
//! ([`Parsed::errors`], with line number 0 and a message that says which
//! records); an IPv4 route rejected by the mapping is counted by
//! [`RejectReason`](super::RejectReason), never installed.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use smoltcp::wire::{Ipv6Address, Ipv6Cidr};

use super::{LineError, NextHop, Options, Parsed, PortName, Route, check_next_hop, mask};
use crate::config::MAXIMUM_PORT_NAME_LENGTH;

/// The first eight bytes of a compiled route file.
pub const MAGIC: [u8; 8] = *b"PURE6RTB";
/// The format version [`compile`] writes and [`decode`] reads.
pub const VERSION: u32 = 1;
/// Distinct next hops a compiled file can hold (indexes are 16 bits).
pub const MAX_NEXT_HOPS: usize = 65_535;

const HEADER_BYTES: usize = 32;
const NEXT_HOP_BYTES: usize = 40;
const IPV6_ROUTE_BYTES: usize = 20;
const IPV4_ROUTE_BYTES: usize = 8;

const KIND_VIA: u8 = 1;
const KIND_TRANSLATE: u8 = 2;
const KIND_BLACKHOLE: u8 = 3;
const KIND_VIA_IPV4: u8 = 4;

/// Whether `bytes` start like a compiled route file.
pub fn is_compiled(bytes: &[u8]) -> bool {
    bytes.starts_with(&MAGIC)
}

/// Why a compiled route file was refused whole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompiledError {
    message: String,
}

impl CompiledError {
    fn new(message: String) -> CompiledError {
        CompiledError { message }
    }
}

impl fmt::Display for CompiledError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "not a valid compiled route file: {}",
            self.message
        )
    }
}

/// Why [`compile`] wrote nothing.
#[derive(Clone, Debug)]
pub enum CompileError {
    /// The text has malformed lines.
    Malformed {
        /// The first of them (up to the error limit), in line order.
        errors: Vec<LineError>,
        /// All of them.
        count: usize,
        /// Lines read.
        lines: usize,
    },
    /// More distinct next hops than a compiled file can index.
    TooManyNextHops(usize),
}

impl fmt::Display for CompileError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompileError::Malformed { count, lines, .. } => {
                write!(formatter, "{count} malformed lines of {lines}")
            }
            CompileError::TooManyNextHops(count) => write!(
                formatter,
                "{count} distinct next hops; a compiled route file holds at most {MAX_NEXT_HOPS}"
            ),
        }
    }
}

/// A next-hop record, as written.
type NextHopRecord = [u8; NEXT_HOP_BYTES];

fn next_hop_record(kind: u8, port: Option<PortName>, address: [u8; 16]) -> NextHopRecord {
    let mut record = [0; NEXT_HOP_BYTES];
    record[0] = kind;
    if let Some(port) = port {
        record[1] = port.length;
        record[2..2 + MAXIMUM_PORT_NAME_LENGTH].copy_from_slice(&port.bytes);
    }
    record[24..40].copy_from_slice(&address);
    record
}

/// Compile a text route file (see the [parent module](super) for its
/// format): every line must be well-formed. IPv4 lines need the legacy-ip
/// build; no config is needed, the mapping happens at load time.
/// `error_limit` bounds the errors kept in [`CompileError::Malformed`].
pub fn compile(text: &str, error_limit: usize) -> Result<Vec<u8>, CompileError> {
    let options = Options {
        error_limit,
        #[cfg(feature = "legacy-ip")]
        mapper: Some(crate::translation::route_mapping::RouteMapper::lossless()),
    };
    let parsed = super::parse(text, &options);
    if !parsed.is_ok() {
        return Err(CompileError::Malformed {
            count: parsed.statistics.errors,
            lines: parsed.statistics.lines,
            errors: parsed.errors,
        });
    }
    let mut next_hops: Vec<NextHopRecord> = Vec::new();
    let mut indexes: BTreeMap<NextHopRecord, u16> = BTreeMap::new();
    let mut ipv6: Vec<(u128, u8, u16)> = Vec::new();
    #[cfg(feature = "legacy-ip")]
    let mut ipv4: Vec<(u32, u8, u16)> = Vec::new();
    for (route, mapped) in parsed.routes.iter().zip(&parsed.mapped) {
        let bits = route.prefix.address().to_bits();
        let length = route.prefix.prefix_len();
        let record = match (route.next_hop, *mapped) {
            (NextHop::Blackhole, _) => next_hop_record(KIND_BLACKHOLE, None, [0; 16]),
            (NextHop::Via { address, port }, false) => {
                next_hop_record(KIND_VIA, port, address.octets())
            }
            (NextHop::Translate { gateway }, false) => {
                next_hop_record(KIND_TRANSLATE, None, gateway.octets())
            }
            // The lossless mapper makes every IPv4 next hop `G` a
            // translator next hop whose gateway embeds `G` in its last 32 bits.
            (NextHop::Translate { gateway }, true) => {
                let mut address = [0; 16];
                address[..4].copy_from_slice(&(gateway.to_bits() as u32).to_be_bytes());
                next_hop_record(KIND_VIA_IPV4, None, address)
            }
            (NextHop::Via { .. }, true) => {
                unreachable!("the lossless mapper maps every IPv4 next hop to the translator")
            }
        };
        let index = match indexes.get(&record) {
            Some(index) => *index,
            None => {
                if next_hops.len() >= MAX_NEXT_HOPS {
                    return Err(CompileError::TooManyNextHops(indexes.len() + 1));
                }
                let index = next_hops.len() as u16;
                next_hops.push(record);
                indexes.insert(record, index);
                index
            }
        };
        if *mapped {
            #[cfg(feature = "legacy-ip")]
            ipv4.push((bits as u32, length - 96, index));
        } else {
            ipv6.push((bits, length, index));
        }
    }
    // The parse refused duplicate prefixes, so the order is strict.
    ipv6.sort_unstable();
    #[cfg(feature = "legacy-ip")]
    ipv4.sort_unstable();
    #[cfg(not(feature = "legacy-ip"))]
    let ipv4: Vec<(u32, u8, u16)> = Vec::new();

    let mut bytes = Vec::with_capacity(
        HEADER_BYTES
            + next_hops.len() * NEXT_HOP_BYTES
            + ipv6.len() * IPV6_ROUTE_BYTES
            + ipv4.len() * IPV4_ROUTE_BYTES,
    );
    bytes.extend_from_slice(&MAGIC);
    for value in [
        VERSION,
        next_hops.len() as u32,
        ipv6.len() as u32,
        ipv4.len() as u32,
        u32::try_from(parsed.statistics.lines).unwrap_or(u32::MAX),
        0,
    ] {
        bytes.extend_from_slice(&value.to_le_bytes());
    }
    for record in &next_hops {
        bytes.extend_from_slice(record);
    }
    for (bits, length, index) in &ipv6 {
        bytes.extend_from_slice(&bits.to_be_bytes());
        bytes.extend_from_slice(&[*length, 0]);
        bytes.extend_from_slice(&index.to_le_bytes());
    }
    for (bits, length, index) in &ipv4 {
        bytes.extend_from_slice(&bits.to_be_bytes());
        bytes.extend_from_slice(&[*length, 0]);
        bytes.extend_from_slice(&index.to_le_bytes());
    }
    Ok(bytes)
}

/// What a next hop of the file becomes under the config.
#[derive(Clone, Copy)]
enum Resolved {
    /// Routes through it are installed with this next hop.
    Use(NextHop),
    /// Routes through it are rejected (counted by reason).
    #[cfg(feature = "legacy-ip")]
    Reject(super::RejectReason),
    /// Routes through it are malformed (the message was reported once).
    Malformed,
    /// The other family's kind: a route using it breaks the format.
    WrongFamily,
}

/// Collects the errors of one decode: kept up to the limit, all counted.
#[derive(Clone)]
struct Errors {
    kept: Vec<LineError>,
    count: usize,
    limit: usize,
}

impl Errors {
    /// Count `routes` malformed routes, keeping `message` once.
    fn add(&mut self, routes: usize, message: String) {
        self.count += routes;
        if self.kept.len() < self.limit {
            self.kept.push(LineError { line: 0, message });
        }
    }
}

fn u32_at(bytes: &[u8], offset: usize) -> u32 {
    let mut word = [0; 4];
    word.copy_from_slice(&bytes[offset..offset + 4]);
    u32::from_le_bytes(word)
}

fn u16_at(bytes: &[u8], offset: usize) -> u16 {
    u16::from_le_bytes([bytes[offset], bytes[offset + 1]])
}

/// The next hops of the file, each as IPv6 routes and as IPv4 routes
/// would use it.
fn decode_next_hops(
    records: &[u8],
    options: &Options,
    errors: &mut Errors,
) -> Result<Vec<(Resolved, Resolved)>, CompiledError> {
    let mut resolved = Vec::with_capacity(records.len() / NEXT_HOP_BYTES);
    for (index, record) in records.chunks_exact(NEXT_HOP_BYTES).enumerate() {
        let invalid = |what: &str| CompiledError::new(format!("next hop {index}: {what}"));
        let kind = record[0];
        let port_length = usize::from(record[1]);
        let mut address = [0; 16];
        address.copy_from_slice(&record[24..40]);
        let padding_is_zero = record[2 + port_length.min(MAXIMUM_PORT_NAME_LENGTH)..24]
            .iter()
            .all(|byte| *byte == 0);
        if port_length > MAXIMUM_PORT_NAME_LENGTH || !padding_is_zero {
            return Err(invalid(
                "nonzero padding or a port name longer than 15 bytes",
            ));
        }
        if kind != KIND_VIA && port_length != 0 {
            return Err(invalid(
                "a port name on a next hop that is not `via` an IPv6 address",
            ));
        }
        let entry = match kind {
            KIND_VIA => {
                let port = match port_length {
                    0 => None,
                    _ => Some(
                        core::str::from_utf8(&record[2..2 + port_length])
                            .ok()
                            .and_then(PortName::new)
                            .ok_or_else(|| invalid("the port name is not a valid port name"))?,
                    ),
                };
                let next_hop =
                    check_next_hop(Ipv6Address::from_bits(u128::from_be_bytes(address)), port)
                        .map_err(|message| invalid(&message))?;
                (Resolved::Use(next_hop), Resolved::WrongFamily)
            }
            KIND_TRANSLATE => {
                let gateway = Ipv6Address::from_bits(u128::from_be_bytes(address));
                (
                    translator_next_hop(gateway, index, options, errors),
                    Resolved::WrongFamily,
                )
            }
            KIND_BLACKHOLE => {
                if address != [0; 16] {
                    return Err(invalid("a blackhole with an address"));
                }
                (
                    Resolved::Use(NextHop::Blackhole),
                    Resolved::Use(NextHop::Blackhole),
                )
            }
            KIND_VIA_IPV4 => {
                if address[4..] != [0; 12] {
                    return Err(invalid("an IPv4 next hop longer than 4 bytes"));
                }
                let gateway = u32::from_be_bytes([address[0], address[1], address[2], address[3]]);
                (Resolved::WrongFamily, ipv4_next_hop(gateway, options))
            }
            other => return Err(invalid(&format!("unknown kind {other}"))),
        };
        resolved.push(entry);
    }
    Ok(resolved)
}

/// A `translate via gateway` next hop under the config, as the text
/// parser takes a `translate via` line.
fn translator_next_hop(
    gateway: Ipv6Address,
    index: usize,
    options: &Options,
    errors: &mut Errors,
) -> Resolved {
    #[cfg(feature = "legacy-ip")]
    let outcome = match options.mapper.as_ref() {
        Some(mapper) => mapper.check_translator_gateway(gateway),
        None => Err(String::from(
            "`translate via` needs a translation prefix (pool6)",
        )),
    };
    #[cfg(not(feature = "legacy-ip"))]
    let outcome: Result<NextHop, String> = {
        let _ = options;
        Err(String::from(
            "`translate via` routes need the legacy-ip build",
        ))
    };
    match outcome {
        Ok(next_hop) => Resolved::Use(next_hop),
        Err(message) => {
            errors.add(
                0,
                format!(
                    "next hop {index} (translate via {gateway}): {message}; its routes are left out"
                ),
            );
            Resolved::Malformed
        }
    }
}

/// An IPv4 next hop (32 bits) under the config's next-hop table.
fn ipv4_next_hop(gateway: u32, options: &Options) -> Resolved {
    #[cfg(feature = "legacy-ip")]
    {
        match options.mapper.as_ref() {
            Some(mapper) => match mapper.map_gateway_bits(gateway) {
                Ok(next_hop) => Resolved::Use(next_hop),
                Err(reason) => Resolved::Reject(reason),
            },
            // Reported once with the count of IPv4 routes.
            None => Resolved::Malformed,
        }
    }
    #[cfg(not(feature = "legacy-ip"))]
    {
        let _ = (gateway, options);
        Resolved::Malformed
    }
}

/// What the header of a compiled file says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counts {
    /// Distinct next hops.
    pub next_hops: usize,
    /// IPv6 routes.
    pub ipv6_routes: usize,
    /// IPv4 routes.
    pub ipv4_routes: usize,
    /// Lines of the text file it was compiled from.
    pub lines: usize,
}

/// The counts of a compiled file whose header and size agree.
pub fn counts(bytes: &[u8]) -> Result<Counts, CompiledError> {
    let layout = layout(bytes)?;
    Ok(Counts {
        next_hops: layout.next_hops.len() / NEXT_HOP_BYTES,
        ipv6_routes: layout.ipv6_routes.len() / IPV6_ROUTE_BYTES,
        ipv4_routes: layout.ipv4_routes.len() / IPV4_ROUTE_BYTES,
        lines: layout.lines,
    })
}

/// The parts of a compiled file whose header was checked.
struct Layout<'bytes> {
    lines: usize,
    next_hops: &'bytes [u8],
    ipv6_routes: &'bytes [u8],
    ipv4_routes: &'bytes [u8],
}

/// Check the header and sizes of a compiled file.
fn layout(bytes: &[u8]) -> Result<Layout<'_>, CompiledError> {
    if bytes.len() < HEADER_BYTES || !is_compiled(bytes) {
        return Err(CompiledError::new(String::from(
            "it does not start with the 32-byte header and its magic `PURE6RTB`",
        )));
    }
    let version = u32_at(bytes, 8);
    if version != VERSION {
        return Err(CompiledError::new(format!(
            "format version {version}; this build reads version {VERSION} (compile the text again with this release's `pure6 routes compile`)"
        )));
    }
    let next_hop_count = u32_at(bytes, 12) as usize;
    let ipv6_count = u32_at(bytes, 16) as usize;
    let ipv4_count = u32_at(bytes, 20) as usize;
    if u32_at(bytes, 28) != 0 {
        return Err(CompiledError::new(String::from("nonzero header padding")));
    }
    if next_hop_count > MAX_NEXT_HOPS {
        return Err(CompiledError::new(format!(
            "{next_hop_count} next hops; at most {MAX_NEXT_HOPS}"
        )));
    }
    let expected = (HEADER_BYTES as u64)
        + (next_hop_count as u64) * (NEXT_HOP_BYTES as u64)
        + (ipv6_count as u64) * (IPV6_ROUTE_BYTES as u64)
        + (ipv4_count as u64) * (IPV4_ROUTE_BYTES as u64);
    if expected != bytes.len() as u64 {
        return Err(CompiledError::new(format!(
            "{} bytes, where its header ({next_hop_count} next hops, {ipv6_count} IPv6 and {ipv4_count} IPv4 routes) says {expected}",
            bytes.len()
        )));
    }
    let next_hops_end = HEADER_BYTES + next_hop_count * NEXT_HOP_BYTES;
    let ipv6_end = next_hops_end + ipv6_count * IPV6_ROUTE_BYTES;
    Ok(Layout {
        lines: u32_at(bytes, 24) as usize,
        next_hops: &bytes[HEADER_BYTES..next_hops_end],
        ipv6_routes: &bytes[next_hops_end..ipv6_end],
        ipv4_routes: &bytes[ipv6_end..],
    })
}

/// Read a compiled route file into the same [`Parsed`] that
/// [`super::parse`] gives for its text: IPv6 routes first, then the IPv4
/// routes mapped under the config's pool6, each list in ascending order.
/// Refuses a file that breaks the format (see the module docs).
/// [`CompiledRoutes`] gives the same without holding every route at once.
pub fn decode(bytes: &[u8], options: &Options) -> Result<Parsed, CompiledError> {
    let routes = CompiledRoutes::open_header(bytes, options)?;
    let (mut accepted, mut mapped_flags) = (Vec::new(), Vec::new());
    let _ = accepted.try_reserve_exact(routes.route_count());
    let _ = mapped_flags.try_reserve_exact(routes.route_count());
    let report = routes.read_routes(&mut |route, mapped| {
        accepted.push(route);
        mapped_flags.push(mapped);
    })?;
    Ok(Parsed {
        routes: accepted,
        mapped: mapped_flags,
        ..report
    })
}

/// A compiled route file whose routes are produced one by one when asked
/// ([`CompiledRoutes::read_routes`]) instead of being held in a
/// [`Parsed`]: for a full table, the appliance so never holds the million
/// routes twice. Opened with [`CompiledRoutes::open_header`], its header,
/// layout and next hops are checked and its route records are checked by
/// the one pass that reads them (the appliance's boot reads a full
/// table's records once); [`CompiledRoutes::open`] checks them all first.
pub struct CompiledRoutes<'bytes> {
    layout: Layout<'bytes>,
    next_hops: Vec<(Resolved, Resolved)>,
    options: Options,
    /// The errors found in the next hops (a `translate via` gateway the
    /// config cannot use), which every report starts with.
    next_hop_errors: Errors,
    report: Parsed,
}

impl<'bytes> CompiledRoutes<'bytes> {
    /// Check `bytes` whole (as [`decode`] does) under `options`.
    pub fn open(
        bytes: &'bytes [u8],
        options: &Options,
    ) -> Result<CompiledRoutes<'bytes>, CompiledError> {
        let mut routes = CompiledRoutes::open_header(bytes, options)?;
        routes.report = routes.read_routes(&mut |_, _| {})?;
        Ok(routes)
    }

    /// Check the header, the layout and the next hops of `bytes` under
    /// `options`, not the route records: [`CompiledRoutes::read_routes`]
    /// checks each as it reads it. Until then [`CompiledRoutes::report`]
    /// has only the line count and the next hops' errors.
    pub fn open_header(
        bytes: &'bytes [u8],
        options: &Options,
    ) -> Result<CompiledRoutes<'bytes>, CompiledError> {
        let layout = layout(bytes)?;
        let mut next_hop_errors = Errors {
            kept: Vec::new(),
            count: 0,
            limit: options.error_limit,
        };
        let next_hops = decode_next_hops(layout.next_hops, options, &mut next_hop_errors)?;
        let report = Parsed {
            statistics: super::Statistics {
                lines: layout.lines,
                errors: next_hop_errors.count,
                ..super::Statistics::default()
            },
            errors: next_hop_errors.kept.clone(),
            ..Parsed::default()
        };
        Ok(CompiledRoutes {
            layout,
            next_hops,
            options: options.clone(),
            next_hop_errors,
            report,
        })
    }

    /// The counts and the first errors, as [`decode`] gives them; its
    /// `routes` are empty ([`CompiledRoutes::read_routes`] gives them).
    /// After [`CompiledRoutes::open_header`], only what it checked.
    pub fn report(&self) -> &Parsed {
        &self.report
    }

    /// How many route records the file has: [`CompiledRoutes::read_routes`]
    /// gives at most that many routes.
    pub fn route_count(&self) -> usize {
        self.layout.ipv6_routes.len() / IPV6_ROUTE_BYTES
            + self.layout.ipv4_routes.len() / IPV4_ROUTE_BYTES
    }

    /// Every route [`decode`] would give, in its order, with whether it is
    /// a mapped IPv4 route, checking every record as it goes; then the
    /// report of the whole file (what [`CompiledRoutes::open`] reports).
    /// A record that breaks the format ends the pass with its error, the
    /// routes before it having been given already: the caller then
    /// discards them with the file.
    pub fn read_routes(&self, emit: &mut dyn FnMut(Route, bool)) -> Result<Parsed, CompiledError> {
        let mut errors = self.next_hop_errors.clone();
        let mut statistics = super::Statistics {
            lines: self.layout.lines,
            ..super::Statistics::default()
        };
        walk(
            &self.layout,
            &self.next_hops,
            &self.options,
            &mut statistics,
            &mut errors,
            emit,
        )?;
        statistics.errors = errors.count;
        Ok(Parsed {
            statistics,
            errors: errors.kept,
            ..Parsed::default()
        })
    }
}

/// Check and read every route record, counting into `statistics` and
/// `errors` and handing each accepted route to `emit`.
fn walk(
    layout: &Layout<'_>,
    next_hops: &[(Resolved, Resolved)],
    options: &Options,
    statistics: &mut super::Statistics,
    errors: &mut Errors,
    emit: &mut dyn FnMut(Route, bool),
) -> Result<(), CompiledError> {
    // Malformed routes per next hop (their messages were reported once).
    let mut malformed_routes = 0;
    // IPv6 routes inside pool6, which a mapped route must not duplicate
    // (the text parser reports such a pair as a duplicate).
    #[cfg(feature = "legacy-ip")]
    let pool6 = options.mapper.as_ref().map(|mapper| mapper.pool6().cidr());
    #[cfg_attr(
        not(feature = "legacy-ip"),
        allow(unused_mut, reason = "only mapped routes can duplicate")
    )]
    let mut inside_pool6: Vec<(u128, u8)> = Vec::new();
    let mut previous: Option<(u128, u8)> = None;
    for (record_index, record) in layout
        .ipv6_routes
        .chunks_exact(IPV6_ROUTE_BYTES)
        .enumerate()
    {
        let invalid = |what: &str| CompiledError::new(format!("IPv6 route {record_index}: {what}"));
        let mut prefix = [0; 16];
        prefix.copy_from_slice(&record[..16]);
        let bits = u128::from_be_bytes(prefix);
        let length = record[16];
        if length > 128 || record[17] != 0 {
            return Err(invalid("a length beyond 128 or nonzero padding"));
        }
        if bits & !mask(length) != 0 {
            return Err(invalid("bits set after the prefix length"));
        }
        if previous.is_some_and(|previous| previous >= (bits, length)) {
            return Err(invalid(
                "not in strictly ascending order (a duplicate or unsorted route)",
            ));
        }
        previous = Some((bits, length));
        let next_hop = usize::from(u16_at(record, 18));
        let Some((resolved, _)) = next_hops.get(next_hop) else {
            return Err(invalid("a next hop index beyond the next hops"));
        };
        match *resolved {
            Resolved::Use(next_hop) => {
                statistics.ipv6.count(&next_hop);
                let prefix = Ipv6Cidr::new(Ipv6Address::from_bits(bits), length);
                #[cfg(feature = "legacy-ip")]
                if let Some(pool6) = pool6
                    && length >= pool6.prefix_len()
                    && pool6.contains_addr(&prefix.address())
                {
                    inside_pool6.push((bits, length));
                }
                emit(Route { prefix, next_hop }, false);
            }
            Resolved::Malformed => malformed_routes += 1,
            #[cfg(feature = "legacy-ip")]
            Resolved::Reject(reason) => statistics.rejected.count(reason),
            Resolved::WrongFamily => return Err(invalid("an IPv4 next hop")),
        }
    }
    errors.count += malformed_routes;
    walk_ipv4_routes(
        layout.ipv4_routes,
        next_hops,
        options,
        &inside_pool6,
        statistics,
        errors,
        emit,
    )
}

/// The IPv4 routes, mapped under the config's pool6 (legacy-ip builds).
#[cfg(feature = "legacy-ip")]
fn walk_ipv4_routes(
    records: &[u8],
    next_hops: &[(Resolved, Resolved)],
    options: &Options,
    inside_pool6: &[(u128, u8)],
    statistics: &mut super::Statistics,
    errors: &mut Errors,
    emit: &mut dyn FnMut(Route, bool),
) -> Result<(), CompiledError> {
    let count = records.len() / IPV4_ROUTE_BYTES;
    let Some(mapper) = options.mapper.as_ref() else {
        if count > 0 {
            errors.add(
                count,
                format!(
                    "{count} IPv4 routes need a translation prefix (pool6) and a next-hop table; they are left out"
                ),
            );
        }
        return Ok(());
    };
    let mut previous: Option<(u32, u8)> = None;
    let mut malformed_routes = 0;
    for (record_index, record) in records.chunks_exact(IPV4_ROUTE_BYTES).enumerate() {
        let invalid = |what: &str| CompiledError::new(format!("IPv4 route {record_index}: {what}"));
        let network = u32::from_be_bytes([record[0], record[1], record[2], record[3]]);
        let length = record[4];
        if record[5] != 0 {
            return Err(invalid("nonzero padding"));
        }
        if previous.is_some_and(|previous| previous >= (network, length)) {
            return Err(invalid(
                "not in strictly ascending order (a duplicate or unsorted route)",
            ));
        }
        previous = Some((network, length));
        let Some((_, resolved)) = next_hops.get(usize::from(u16_at(record, 6))) else {
            return Err(invalid("a next hop index beyond the next hops"));
        };
        let prefix = match mapper.map_prefix_bits(network, length) {
            None => return Err(invalid("a length beyond 32 or bits set after it")),
            Some(Err(reason)) => {
                statistics.rejected.count(reason);
                continue;
            }
            Some(Ok(prefix)) => prefix,
        };
        let next_hop = match *resolved {
            Resolved::Use(next_hop) => next_hop,
            Resolved::Reject(reason) => {
                statistics.rejected.count(reason);
                continue;
            }
            Resolved::Malformed => {
                malformed_routes += 1;
                continue;
            }
            Resolved::WrongFamily => return Err(invalid("an IPv6 next hop")),
        };
        let key = (prefix.address().to_bits(), prefix.prefix_len());
        if !inside_pool6.is_empty() && inside_pool6.binary_search(&key).is_ok() {
            errors.add(
                1,
                format!("IPv4 route {record_index} maps to {prefix}, which an IPv6 route of the file already routes; it is left out"),
            );
            continue;
        }
        statistics.mapped.count(&next_hop);
        emit(Route { prefix, next_hop }, true);
    }
    errors.count += malformed_routes;
    Ok(())
}

/// Without legacy-ip, IPv4 routes are malformed, as IPv4 lines are.
#[cfg(not(feature = "legacy-ip"))]
fn walk_ipv4_routes(
    records: &[u8],
    _next_hops: &[(Resolved, Resolved)],
    _options: &Options,
    _inside_pool6: &[(u128, u8)],
    _statistics: &mut super::Statistics,
    errors: &mut Errors,
    _emit: &mut dyn FnMut(Route, bool),
) -> Result<(), CompiledError> {
    let count = records.len() / IPV4_ROUTE_BYTES;
    if count > 0 {
        errors.add(
            count,
            format!("{count} IPv4 routes need the legacy-ip build; they are left out"),
        );
    }
    Ok(())
}
