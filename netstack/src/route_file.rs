//! The route file: static routes of both families as text, one route a line, parsed into IPv6 routes.
//!
//! # Format
//!
//! ```text
//! # Upstream and a directly connected customer.
//! 2001:db8::/32 via 2001:db8:ffff::1
//! 2001:db8:1::/48 via fe80::1 port lan0
//! blackhole 2001:db8:dead::/48
//! # IPv4 (legacy-ip builds): mapped under pool6 on load.
//! 198.51.100.0/24 via 192.0.2.1
//! blackhole 203.0.113.0/24
//! # What a mapped route with a local-translator next hop looks like.
//! 2001:db8:64::c633:6400/120 translate via 2001:db8:64::c000:2fe
//! ```
//!
//! Grammar (`WS` is one or more spaces or tabs; tokens are separated by
//! `WS`; a line may start and end with `WS`):
//!
//! ```text
//! file        = { line ( "\n" | "\r\n" | end of file ) }
//! line        = [ route ] [ comment ]
//! comment     = "#" { any character but "\n" }
//! route       = prefix "via" address [ "port" port-name ]
//!             | prefix "translate" "via" address
//!             | "blackhole" prefix
//! prefix      = ipv6-prefix | ipv4-prefix
//! ipv6-prefix = IPv6 address (RFC 4291 §2.2 text form) "/" 0..=128
//! ipv4-prefix = dotted-decimal IPv4 address "/" 0..=32
//! address     = an IPv6 address after an ipv6-prefix,
//!               a dotted-decimal IPv4 address after an ipv4-prefix
//! port-name   = 1..=15 of [a-z0-9-] (the config's port names)
//! ```
//!
//! Rules beyond the grammar, each an error of its line:
//! - a prefix has no bits set after its length (`2001:db8::1/32` is refused);
//! - an IPv6 next hop is unicast: not `::`, not loopback, not multicast; a
//!   link-local next hop (fe80::/10) needs `port NAME`, because link-local
//!   addresses are unique only on one link (RFC 4291 §2.5.6, RFC 4007 §6);
//! - `port` is for IPv6 next hops only;
//! - a prefix appears once in a file (both lines are named);
//! - IPv4 lines, and `translate via` lines, need a `legacy-ip` build with a
//!   translation prefix and a next-hop table (see
//!   `translation::route_mapping`); without the `legacy-ip` feature they
//!   are errors that say so.
//!
//! An IPv4 route `P/L via G` becomes the IPv6 route of `P/L` under `pool6`
//! (RFC 6052 §2.2) whose next hop is what the next-hop table says for `G`:
//! an IPv6 address, or the local translator, written `translate via` and
//! the IPv4-embedded address of `G` (so this side names no IPv4 type). A
//! next hop missing from the table rejects the route (counted by reason in
//! [`Statistics`], never guessed); so does a non-global IPv4 prefix under
//! the well-known prefix (RFC 6052 §3.1).
//!
//! # Errors
//!
//! [`parse`] reads every line; it does not stop at the first error. It
//! keeps the first [`Options::error_limit`] errors with their line numbers
//! and counts the rest. Routes of malformed lines are left out.
//!
//! # Compiled form
//!
//! `pure6 routes compile` writes the routes of a well-formed file as
//! fixed-size binary records ([`compiled`]), which the appliance loads
//! without reading text: for a full Internet table, the parse is most of
//! the boot. [`compiled::decode`] gives the same [`Parsed`] this parser
//! gives for the text (IPv6 routes first, each family sorted).
//!
//! # How it is read
//!
//! Boot time matters (a full Internet table is over a million lines), so
//! [`parse`] avoids per-line allocation and libcore's generic address
//! parsers:
//! - addresses and prefix lengths are read by a small byte parser of its
//!   own (`address` submodule) that accepts and refuses exactly what
//!   `core::net`'s `FromStr` (and `u8`'s) do, proven by differential tests;
//! - the result vectors are sized once from the line count (bounded by the
//!   shortest possible route line);
//! - a well-formed IPv4 line is mapped straight through
//!   `RouteMapper::map`; any other IPv4 line goes the general way, which
//!   words its error;
//! - a repeated next hop (the usual case) is not parsed again;
//! - duplicate prefixes are found with a hash table of route indexes (one
//!   probe per route, no sort); the few duplicates found are reported in
//!   the same order as before (by address, length, then line).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use smoltcp::wire::{Ipv6Address, Ipv6Cidr};

use crate::config::MAXIMUM_PORT_NAME_LENGTH;

mod address;
pub mod compiled;

/// The number of errors [`parse`] keeps by default (all are counted).
pub const DEFAULT_ERROR_LIMIT: usize = 100;

/// A port name as the config allows it: 1..=15 of `[a-z0-9-]`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortName {
    bytes: [u8; MAXIMUM_PORT_NAME_LENGTH],
    length: u8,
}

impl PortName {
    /// The name, if `name` is a valid port name.
    pub fn new(name: &str) -> Option<PortName> {
        let valid_characters = name
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-');
        if name.is_empty() || name.len() > MAXIMUM_PORT_NAME_LENGTH || !valid_characters {
            return None;
        }
        let mut bytes = [0; MAXIMUM_PORT_NAME_LENGTH];
        bytes[..name.len()].copy_from_slice(name.as_bytes());
        Some(PortName {
            bytes,
            length: name.len() as u8,
        })
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        // Only ASCII bytes are ever stored (checked in `new`).
        core::str::from_utf8(&self.bytes[..usize::from(self.length)]).unwrap_or("")
    }
}

impl fmt::Debug for PortName {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), formatter)
    }
}

impl fmt::Display for PortName {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// Where a route sends its packets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NextHop {
    /// Forward to this IPv6 neighbor, on `port` if given (required for a
    /// link-local address).
    Via {
        /// The next hop's IPv6 address.
        address: Ipv6Address,
        /// The port it is reached on.
        port: Option<PortName>,
    },
    /// Hand the packet to this router's translator, which forwards it as
    /// IPv4 to the gateway embedded in `gateway` under `pool6` (RFC 6052).
    Translate {
        /// The IPv4 gateway as its IPv4-embedded IPv6 address.
        gateway: Ipv6Address,
    },
    /// Drop the packets (counted by the router).
    Blackhole,
}

/// One IPv6 route: a prefix and its next hop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    /// The destination prefix; no bits are set after its length.
    pub prefix: Ipv6Cidr,
    /// Where matching packets go.
    pub next_hop: NextHop,
}

impl fmt::Display for Route {
    /// The route as a line of the route file (without line end).
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.next_hop {
            NextHop::Via {
                address,
                port: None,
            } => write!(formatter, "{} via {address}", self.prefix),
            NextHop::Via {
                address,
                port: Some(port),
            } => write!(formatter, "{} via {address} port {port}", self.prefix),
            NextHop::Translate { gateway } => {
                write!(formatter, "{} translate via {gateway}", self.prefix)
            }
            NextHop::Blackhole => write!(formatter, "blackhole {}", self.prefix),
        }
    }
}

/// Why a well-formed route was not used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RejectReason {
    /// The route's (IPv4) next hop is not in the next-hop table.
    NextHopNotInTable,
    /// A non-global IPv4 prefix under the well-known prefix 64:ff9b::/96
    /// (RFC 6052 §3.1).
    NonGlobalUnderWellKnownPrefix,
}

impl RejectReason {
    /// Every reason, in the order summaries print them.
    pub const ALL: [RejectReason; 2] = [
        RejectReason::NextHopNotInTable,
        RejectReason::NonGlobalUnderWellKnownPrefix,
    ];

    /// A short name for summaries and counters.
    pub fn name(&self) -> &'static str {
        match self {
            RejectReason::NextHopNotInTable => "next-hop-not-in-table",
            RejectReason::NonGlobalUnderWellKnownPrefix => "non-global-under-well-known-prefix",
        }
    }
}

/// Routes of one family, by next-hop kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FamilyCounts {
    /// Routes via an IPv6 next hop.
    pub via: usize,
    /// Routes to the local translator.
    pub translate: usize,
    /// Blackhole routes.
    pub blackhole: usize,
}

impl FamilyCounts {
    /// All routes of the family.
    pub fn total(&self) -> usize {
        self.via + self.translate + self.blackhole
    }

    fn count(&mut self, next_hop: &NextHop) {
        match next_hop {
            NextHop::Via { .. } => self.via += 1,
            NextHop::Translate { .. } => self.translate += 1,
            NextHop::Blackhole => self.blackhole += 1,
        }
    }
}

/// Rejected routes by [`RejectReason`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RejectCounts {
    /// [`RejectReason::NextHopNotInTable`].
    pub next_hop_not_in_table: usize,
    /// [`RejectReason::NonGlobalUnderWellKnownPrefix`].
    pub non_global_under_well_known_prefix: usize,
}

impl RejectCounts {
    /// Count one rejection.
    pub fn count(&mut self, reason: RejectReason) {
        *self.get_mut(reason) += 1;
    }

    /// The count of one reason.
    pub fn get(&self, reason: RejectReason) -> usize {
        match reason {
            RejectReason::NextHopNotInTable => self.next_hop_not_in_table,
            RejectReason::NonGlobalUnderWellKnownPrefix => self.non_global_under_well_known_prefix,
        }
    }

    fn get_mut(&mut self, reason: RejectReason) -> &mut usize {
        match reason {
            RejectReason::NextHopNotInTable => &mut self.next_hop_not_in_table,
            RejectReason::NonGlobalUnderWellKnownPrefix => {
                &mut self.non_global_under_well_known_prefix
            }
        }
    }

    /// All rejected routes.
    pub fn total(&self) -> usize {
        RejectReason::ALL
            .iter()
            .map(|reason| self.get(*reason))
            .sum()
    }
}

/// What [`parse`] counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Statistics {
    /// Lines read.
    pub lines: usize,
    /// Native IPv6 routes accepted.
    pub ipv6: FamilyCounts,
    /// IPv4 routes accepted, mapped under pool6 (zero without legacy-ip).
    pub mapped: FamilyCounts,
    /// Well-formed routes not used, by reason.
    pub rejected: RejectCounts,
    /// Malformed lines (all of them, also those beyond the error limit).
    pub errors: usize,
}

/// A malformed line: its number (from 1) and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineError {
    /// The line number, counting from 1; 0 for an error of a compiled
    /// route file ([`compiled`]), whose message says where it is.
    pub line: usize,
    /// What is wrong, naming the offending text.
    pub message: String,
}

impl fmt::Display for LineError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            formatter.write_str(&self.message)
        } else {
            write!(formatter, "line {}: {}", self.line, self.message)
        }
    }
}

/// How [`parse`] reads a file.
#[derive(Clone, Debug)]
pub struct Options {
    /// How many [`LineError`]s to keep (all are counted).
    pub error_limit: usize,
    /// How IPv4 lines become IPv6 routes; without one they are errors.
    #[cfg(feature = "legacy-ip")]
    pub mapper: Option<crate::translation::route_mapping::RouteMapper>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            error_limit: DEFAULT_ERROR_LIMIT,
            #[cfg(feature = "legacy-ip")]
            mapper: None,
        }
    }
}

impl Options {
    /// The same options, keeping at most `error_limit` errors.
    pub fn with_error_limit(mut self, error_limit: usize) -> Options {
        self.error_limit = error_limit;
        self
    }
}

/// The result of [`parse`]: the routes of the well-formed lines, counters,
/// and the first errors.
#[derive(Clone, Debug, Default)]
pub struct Parsed {
    /// Accepted routes, in file order.
    pub routes: Vec<Route>,
    /// For each of `routes`, whether it is an IPv4 route mapped under
    /// pool6 (always `false` without legacy-ip).
    pub mapped: Vec<bool>,
    /// Counters; `statistics.errors` counts every malformed line.
    pub statistics: Statistics,
    /// The first [`Options::error_limit`] errors, in line order.
    pub errors: Vec<LineError>,
}

impl Parsed {
    /// Whether every line was well-formed (rejected routes are not errors).
    pub fn is_ok(&self) -> bool {
        self.statistics.errors == 0
    }
}

/// The next hop of a line, as text (shared with the IPv4 side).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Target<'text> {
    /// `via ADDRESS [port NAME]`.
    Via {
        address: &'text str,
        port: Option<&'text str>,
    },
    /// `translate via ADDRESS`.
    TranslateVia(&'text str),
    /// `blackhole`.
    Blackhole,
}

/// A route line split into its parts.
struct Line<'text> {
    prefix: &'text str,
    target: Target<'text>,
}

/// What one line gave.
pub(crate) enum LineOutcome {
    /// A route of the given family (`true` for a mapped IPv4 route).
    Route(Route, bool),
    /// A well-formed route that is not used.
    #[cfg_attr(
        not(feature = "legacy-ip"),
        allow(
            dead_code,
            reason = "only IPv4 routes are rejected, and they need legacy-ip"
        )
    )]
    Rejected(RejectReason),
}

/// The words of one line of a route file, read in one pass over its
/// bytes: split at ASCII whitespace (as `split_ascii_whitespace`), ending
/// at the line's end (`\n`) or at a `#`, which starts a comment. It stops
/// there without consuming it; [`LineWords::next_line`] then gives the
/// next line's start. One pass with no separate search for the line end,
/// the comment and each word: [`parse`] reads a full table's 40 MB with
/// it instead of four times over.
struct LineWords<'text> {
    text: &'text str,
    position: usize,
}

/// How [`LineWords`] sees a byte.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ByteClass {
    Word,
    Space,
    /// `\n` or `#`: the end of the line's words.
    End,
}

/// [`ByteClass`] of every byte value: ASCII whitespace is
/// `is_ascii_whitespace`'s (space, `\t`, `\n`, form feed, `\r`).
const BYTE_CLASSES: [ByteClass; 256] = {
    let mut classes = [ByteClass::Word; 256];
    classes[b' ' as usize] = ByteClass::Space;
    classes[b'\t' as usize] = ByteClass::Space;
    classes[0x0C] = ByteClass::Space;
    classes[b'\r' as usize] = ByteClass::Space;
    classes[b'\n' as usize] = ByteClass::End;
    classes[b'#' as usize] = ByteClass::End;
    classes
};

impl<'text> LineWords<'text> {
    /// Where the next line starts: past the `\n` ending this one (past a
    /// comment first), or the text's end.
    fn next_line(&self) -> usize {
        let bytes = self.text.as_bytes();
        let rest = bytes.get(self.position..).unwrap_or_default();
        match rest.iter().position(|&byte| byte == b'\n') {
            Some(offset) => self.position + offset + 1,
            None => bytes.len(),
        }
    }
}

impl<'text> Iterator for LineWords<'text> {
    type Item = &'text str;

    fn next(&mut self) -> Option<&'text str> {
        let bytes = self.text.as_bytes();
        // A local position, compared with the length before each read: no
        // bounds checks and no store per byte.
        let mut position = self.position;
        while position < bytes.len()
            && BYTE_CLASSES[usize::from(bytes[position])] == ByteClass::Space
        {
            position += 1;
        }
        let start = position;
        // Eight bytes at a time: every byte that can end a word is below
        // `#` (0x23), so a word goes on past eight bytes none of which is
        // below 0x24, and otherwise up to the first of them at least.
        // Bytes below 0x24 inside a word (`!`, control bytes) leave the
        // rest of it to the byte-by-byte loop.
        while let Some(eight) = bytes.get(position..position + 8) {
            let word = little_endian_word(eight);
            // The lowest byte flagged is exactly the first below 0x24.
            let below = word.wrapping_sub(BYTE_ONES * 0x24) & !word & (BYTE_ONES * 0x80);
            if below == 0 {
                position += 8;
                continue;
            }
            position += below.trailing_zeros() as usize / 8;
            break;
        }
        while position < bytes.len()
            && BYTE_CLASSES[usize::from(bytes[position])] == ByteClass::Word
        {
            position += 1;
        }
        self.position = position;
        // An empty word: the line's end, a comment or the text's end.
        // Words end at ASCII bytes or the text's end: on character
        // boundaries.
        (position > start)
            .then(|| self.text.get(start..position))
            .flatten()
    }
}

/// Split a line's words into prefix and target, or say why not.
fn split_line<'text>(
    mut tokens: impl Iterator<Item = &'text str>,
) -> Result<Option<Line<'text>>, String> {
    let Some(first) = tokens.next() else {
        return Ok(None);
    };
    let line = if first == "blackhole" {
        let prefix = tokens
            .next()
            .ok_or_else(|| String::from("`blackhole` needs a prefix"))?;
        Line {
            prefix,
            target: Target::Blackhole,
        }
    } else {
        let target = match tokens.next() {
            Some("via") => {
                let address = tokens
                    .next()
                    .ok_or_else(|| format!("`{first} via` needs a next-hop address"))?;
                let port = match tokens.next() {
                    Some("port") => Some(
                        tokens
                            .next()
                            .ok_or_else(|| String::from("`port` needs a port name"))?,
                    ),
                    Some(other) => return Err(format!("unexpected `{other}` after the next hop")),
                    None => None,
                };
                Target::Via { address, port }
            }
            Some("translate") => match (tokens.next(), tokens.next()) {
                (Some("via"), Some(address)) => Target::TranslateVia(address),
                _ => return Err(String::from("expected `translate via ADDRESS`")),
            },
            Some(other) => {
                return Err(format!(
                    "expected `via`, `translate via` or `blackhole`, found `{other}`"
                ));
            }
            None if first.contains('/') => {
                return Err(format!(
                    "`{first}` has no next hop (`via ADDRESS` or `blackhole`)"
                ));
            }
            None => return Err(format!("`{first}` is not a route")),
        };
        Line {
            prefix: first,
            target,
        }
    };
    if let Some(extra) = tokens.next() {
        return Err(format!("unexpected `{extra}` at the end of the route"));
    }
    Ok(Some(line))
}

/// `text` split at its first `/` (as `split_once('/')`, on bytes).
fn split_at_slash(text: &str) -> Option<(&str, &str)> {
    let slash = text.bytes().position(|byte| byte == b'/')?;
    // `/` is ASCII, so both sides are on character boundaries.
    Some((text.get(..slash)?, text.get(slash + 1..)?))
}

/// The mask of the first `length` bits of an IPv6 address.
fn mask(length: u8) -> u128 {
    if length == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(length))
    }
}

/// An IPv6 `prefix/length` with no host bits set.
fn parse_prefix(text: &str) -> Result<Ipv6Cidr, String> {
    let (address, length) =
        split_at_slash(text).ok_or_else(|| format!("prefix `{text}` has no `/LENGTH`"))?;
    let address = address::parse_ipv6(address)
        .map(Ipv6Address::from_bits)
        .ok_or_else(|| format!("`{address}` is not an IPv6 address"))?;
    let length: u8 = match address::parse_length(length) {
        Some(length) if length <= 128 => length,
        _ => {
            return Err(format!(
                "`/{length}` is not an IPv6 prefix length (0..=128)"
            ));
        }
    };
    let bits = address.to_bits();
    if bits & !mask(length) != 0 {
        let network = Ipv6Address::from_bits(bits & mask(length));
        return Err(format!(
            "{text} has bits set after the prefix length (the network is {network}/{length})"
        ));
    }
    Ok(Ipv6Cidr::new(address, length))
}

/// An IPv6 next-hop address: unicast, link-local only with a port.
pub(crate) fn parse_next_hop(address: &str, port: Option<&str>) -> Result<NextHop, String> {
    let parsed = address::parse_ipv6(address)
        .map(Ipv6Address::from_bits)
        .ok_or_else(|| format!("next hop `{address}` is not an IPv6 address"))?;
    let port = match port {
        Some(name) => Some(PortName::new(name).ok_or_else(|| {
            format!("port name `{name}` must be 1..={MAXIMUM_PORT_NAME_LENGTH} of a-z, 0-9 and `-`")
        })?),
        None => None,
    };
    check_next_hop(parsed, port)
}

/// The next hop `via address [port NAME]`, if `address` is unicast and,
/// when link-local, has a port.
pub(crate) fn check_next_hop(
    address: Ipv6Address,
    port: Option<PortName>,
) -> Result<NextHop, String> {
    if address.is_unspecified() || address.is_loopback() || address.is_multicast() {
        return Err(format!("next hop {address} is not a unicast address"));
    }
    if address.is_unicast_link_local() && port.is_none() {
        return Err(format!(
            "link-local next hop {address} needs `port NAME` (RFC 4291 §2.5.6, RFC 4007 §6)"
        ));
    }
    Ok(NextHop::Via { address, port })
}

/// Whether a prefix is written in dotted decimal (an IPv4 line).
fn is_dotted_decimal(prefix: &str) -> bool {
    let mut dot = false;
    for byte in prefix.bytes() {
        match byte {
            b':' => return false,
            b'.' => dot = true,
            _ => {}
        }
    }
    dot
}

/// The last next hop parsed, kept because neighbouring lines mostly
/// repeat it: its text (address and port) and what it gave.
#[derive(Default)]
struct NextHopCache<'text> {
    last: Option<(&'text str, Option<&'text str>, NextHop)>,
    /// The last IPv4 next hop's text and what the next-hop table maps it
    /// to (IPv4 lines).
    #[cfg(feature = "legacy-ip")]
    last_ipv4: Option<(&'text str, Result<NextHop, RejectReason>)>,
}

impl<'text> NextHopCache<'text> {
    /// [`parse_next_hop`], unless the same text was just parsed.
    fn parse(&mut self, address: &'text str, port: Option<&'text str>) -> Result<NextHop, String> {
        if let Some((last_address, last_port, next_hop)) = self.last
            && last_address == address
            && last_port == port
        {
            return Ok(next_hop);
        }
        let next_hop = parse_next_hop(address, port)?;
        self.last = Some((address, port, next_hop));
        Ok(next_hop)
    }

    /// The IPv4 next hop `text` mapped through the next-hop table
    /// (`None`: not an IPv4 address), unless the same text was just
    /// mapped: a table's lines mostly share a few next hops.
    #[cfg(feature = "legacy-ip")]
    fn map_ipv4(
        &mut self,
        mapper: &crate::translation::route_mapping::RouteMapper,
        text: &'text str,
    ) -> Option<Result<NextHop, RejectReason>> {
        if let Some((last, mapped)) = self.last_ipv4
            && last == text
        {
            return Some(mapped);
        }
        let mapped = mapper.map_gateway_bits(address::parse_ipv4(text)?);
        self.last_ipv4 = Some((text, mapped));
        Some(mapped)
    }
}

/// The outcome of a well-formed IPv4 line (a prefix with no host bits,
/// `blackhole` or `via` an IPv4 address without `port`), mapped as
/// `RouteMapper::map_line` maps it; `None` for any other line, which
/// `map_line` then reads (and words the error of).
#[cfg(feature = "legacy-ip")]
fn well_formed_ipv4_route<'text>(
    mapper: &crate::translation::route_mapping::RouteMapper,
    line: &Line<'text>,
    cache: &mut NextHopCache<'text>,
) -> Option<LineOutcome> {
    let (network, length) = address::parse_ipv4_prefix(line.prefix)?;
    let next_hop = match line.target {
        Target::Blackhole => Ok(NextHop::Blackhole),
        Target::Via {
            address,
            port: None,
        } => cache.map_ipv4(mapper, address)?,
        Target::Via { port: Some(_), .. } | Target::TranslateVia(_) => return None,
    };
    // The prefix's rejection first, then the next hop's, as
    // `RouteMapper::map` judges them.
    Some(match (mapper.map_prefix_bits(network, length)?, next_hop) {
        (Ok(prefix), Ok(next_hop)) => LineOutcome::Route(Route { prefix, next_hop }, true),
        (Err(reason), _) | (Ok(_), Err(reason)) => LineOutcome::Rejected(reason),
    })
}

/// The IPv6 route of one split line.
fn native_route<'text>(
    line: &Line<'text>,
    options: &Options,
    cache: &mut NextHopCache<'text>,
) -> Result<LineOutcome, String> {
    let prefix = parse_prefix(line.prefix)?;
    let next_hop = match line.target {
        Target::Via { address, port } => cache.parse(address, port)?,
        Target::Blackhole => NextHop::Blackhole,
        Target::TranslateVia(address) => {
            #[cfg(feature = "legacy-ip")]
            {
                let mapper = options.mapper.as_ref().ok_or_else(|| {
                    String::from("`translate via` needs a translation prefix (pool6)")
                })?;
                mapper.translate_next_hop(address)?
            }
            #[cfg(not(feature = "legacy-ip"))]
            {
                let _ = (address, options);
                return Err(String::from(
                    "`translate via` routes need the legacy-ip build",
                ));
            }
        }
    };
    Ok(LineOutcome::Route(Route { prefix, next_hop }, false))
}

/// The outcome of one split line of either family.
fn route_of<'text>(
    line: &Line<'text>,
    options: &Options,
    cache: &mut NextHopCache<'text>,
) -> Result<LineOutcome, String> {
    if !is_dotted_decimal(line.prefix) {
        return native_route(line, options, cache);
    }
    #[cfg(feature = "legacy-ip")]
    {
        let mapper = options.mapper.as_ref().ok_or_else(|| {
            format!(
                "IPv4 route {} needs a translation prefix (pool6) and a next-hop table",
                line.prefix
            )
        })?;
        match well_formed_ipv4_route(mapper, line, cache) {
            Some(outcome) => Ok(outcome),
            None => mapper.map_line(line.prefix, line.target),
        }
    }
    #[cfg(not(feature = "legacy-ip"))]
    {
        Err(format!(
            "IPv4 route {}: IPv4 routes need the legacy-ip build",
            line.prefix
        ))
    }
}

/// Parse a route file: every line, collecting the routes and up to
/// [`Options::error_limit`] errors. See the [module documentation](self)
/// for the format.
pub fn parse(text: &str, options: &Options) -> Parsed {
    let mut parsed = Parsed::default();
    let mut errors: Vec<LineError> = Vec::new();
    let mut error_count = 0;
    let mut error = |line: usize, message: String| {
        error_count += 1;
        if errors.len() < options.error_limit {
            errors.push(LineError { line, message });
        }
    };
    // Size the results once: at most one route a line, and no route line
    // is shorter than `::/0 via 1::` and its line end.
    let capacity = route_capacity(text);
    // Growing instead is only slower, so a refused reservation is no error.
    let _ = parsed.routes.try_reserve_exact(capacity);
    let _ = parsed.mapped.try_reserve_exact(capacity);
    // The line number of each route.
    let mut line_numbers: Vec<u32> = Vec::new();
    let _ = line_numbers.try_reserve_exact(capacity);
    let mut cache = NextHopCache::default();
    // Lines as `str::lines` has them (a last line may lack its `\n`).
    let mut start = 0;
    let mut number = 0;
    while start < text.len() {
        number += 1;
        let mut words = LineWords {
            text,
            position: start,
        };
        let outcome = split_line(&mut words).and_then(|line| match line {
            Some(line) => route_of(&line, options, &mut cache).map(Some),
            None => Ok(None),
        });
        start = words.next_line();
        match outcome {
            Ok(None) => {}
            Ok(Some(LineOutcome::Route(route, mapped))) => {
                line_numbers.push(number as u32);
                parsed.mapped.push(mapped);
                parsed.routes.push(route);
            }
            Ok(Some(LineOutcome::Rejected(reason))) => parsed.statistics.rejected.count(reason),
            Err(message) => error(number, message),
        }
        parsed.statistics.lines = number;
    }

    // A prefix may appear once: later lines with the same prefix are
    // errors naming the first, and their routes are left out. They are
    // reported by (address, length, line), as a sort of all prefixes
    // would meet them (which matters only beyond the error limit).
    let mut duplicates = duplicate_routes(&parsed.routes);
    if !duplicates.is_empty() {
        let key = |index: u32| {
            let prefix = parsed.routes[index as usize].prefix;
            (prefix.address().to_bits(), prefix.prefix_len(), index)
        };
        duplicates.sort_unstable_by_key(|(index, _)| key(*index));
        let mut duplicate = alloc::vec![false; parsed.routes.len()];
        for (index, first) in &duplicates {
            duplicate[*index as usize] = true;
            error(
                line_numbers[*index as usize] as usize,
                format!(
                    "duplicate route for {} (first on line {})",
                    parsed.routes[*index as usize].prefix, line_numbers[*first as usize]
                ),
            );
        }
        let mut index = 0;
        parsed.routes.retain(|_| {
            index += 1;
            !duplicate[index - 1]
        });
        let mut index = 0;
        parsed.mapped.retain(|_| {
            index += 1;
            !duplicate[index - 1]
        });
        errors.sort_by_key(|error| error.line);
    }
    drop(line_numbers);
    for (route, mapped) in parsed.routes.iter().zip(&parsed.mapped) {
        if *mapped {
            parsed.statistics.mapped.count(&route.next_hop);
        } else {
            parsed.statistics.ipv6.count(&route.next_hop);
        }
    }
    parsed.statistics.errors = error_count;
    parsed.errors = errors;
    parsed
}

/// The length of the shortest route line with its line end: `::/0 via 1::`.
const SHORTEST_ROUTE_LINE: usize = 13;

/// An upper bound of the routes in `text`: its lines, and no more than the
/// shortest route lines that fit.
fn route_capacity(text: &str) -> usize {
    let line_ends = count_newlines(text.as_bytes());
    (line_ends + 1).min(text.len() / SHORTEST_ROUTE_LINE + 1)
}

/// The `\n` bytes in `bytes`, counted eight at a time: a byte-by-byte
/// count was a ninth of a full table's parse (the kernel has no vector
/// instructions to do it for us).
fn count_newlines(bytes: &[u8]) -> usize {
    const LOW_SEVEN: u64 = BYTE_ONES * 0x7F;
    const NEWLINES: u64 = BYTE_ONES * b'\n' as u64;
    let mut count = 0;
    // Each byte of `found` counts up to 255 words' newlines at that byte.
    for block in bytes.chunks(8 * 255) {
        let mut found = 0u64;
        let words = block.chunks_exact(8);
        let rest = words.remainder();
        for word in words {
            let differs = little_endian_word(word) ^ NEWLINES;
            // A byte's top bit set where `differs` is zero, and only there
            // (no carries between bytes).
            let zero = !(((differs & LOW_SEVEN) + LOW_SEVEN) | differs) & !LOW_SEVEN;
            found += zero >> 7;
        }
        // Pairs of bytes to 16-bit lanes (at most 510), then their sum.
        let pairs = (found & 0x00FF_00FF_00FF_00FF) + ((found >> 8) & 0x00FF_00FF_00FF_00FF);
        count += (pairs.wrapping_mul(0x0001_0001_0001_0001) >> 48) as usize;
        count += rest.iter().filter(|&&byte| byte == b'\n').count();
    }
    count
}

/// A one in each byte of a word, for the scans eight bytes at a time.
const BYTE_ONES: u64 = 0x0101_0101_0101_0101;

/// Eight bytes as a word, the first in the lowest byte.
fn little_endian_word(eight: &[u8]) -> u64 {
    let mut array = [0u8; 8];
    array.copy_from_slice(eight);
    u64::from_le_bytes(array)
}

/// Marks a free slot of the duplicate table.
const FREE_SLOT: u32 = u32::MAX;

/// The slot where a prefix's search starts in a table of `1 << bits` slots.
fn slot_of(address: u128, length: u8, bits: u32) -> usize {
    let high = (address >> 64) as u64;
    let low = address as u64;
    let mixed = (high.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ low ^ u64::from(length))
        .wrapping_mul(0xD6E8_FEB8_6659_FD93);
    // `bits` is 4..=31 (see `duplicate_routes`), so the shift is in range.
    (mixed >> (64 - bits)) as usize
}

/// `(index, index of the first route with its prefix)` of every route
/// whose prefix an earlier route has, in route order. An open-addressing
/// hash table of route indexes, at most two thirds full, finds them.
fn duplicate_routes(routes: &[Route]) -> Vec<(u32, u32)> {
    let mut duplicates = Vec::new();
    if routes.len() < 2 {
        return duplicates;
    }
    // Route indexes are below u32::MAX: a route line takes bytes, and the
    // routes fit in memory.
    let wanted = routes.len().saturating_add(routes.len() / 2).max(16);
    let bits = (usize::BITS - (wanted - 1).leading_zeros()).clamp(4, 31);
    let mask = (1usize << bits) - 1;
    let mut table = alloc::vec![FREE_SLOT; mask + 1];
    for (index, route) in routes.iter().enumerate() {
        let address = route.prefix.address().to_bits();
        let length = route.prefix.prefix_len();
        let mut slot = slot_of(address, length, bits);
        loop {
            let held = table[slot];
            if held == FREE_SLOT {
                table[slot] = index as u32;
                break;
            }
            let first = routes[held as usize].prefix;
            if first.prefix_len() == length && first.address().to_bits() == address {
                duplicates.push((index as u32, held));
                break;
            }
            slot = (slot + 1) & mask;
        }
    }
    duplicates
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_random::Random;
    use alloc::string::ToString;

    /// [`count_newlines`] counts as a byte-by-byte count does, for texts
    /// of every length up to past a block, with bytes near `\n` in value.
    #[test]
    fn newlines_are_counted_eight_bytes_at_a_time_as_one_by_one() {
        let mut random = Random(0x9E37_79B9_7F4A_7C15);
        let alphabet = [
            b'\n',
            b'\n',
            0x0B,
            0x09,
            0x8A,
            0x0A ^ 0x80,
            0xFF,
            0x00,
            b'a',
        ];
        for length in (0..80).chain([2039, 2040, 2041, 4096, 5000]) {
            let bytes: alloc::vec::Vec<u8> = (0..length)
                .map(|_| alphabet[random.below(alphabet.len() as u64) as usize])
                .collect();
            let expected = bytes.iter().filter(|&&byte| byte == b'\n').count();
            assert_eq!(count_newlines(&bytes), expected, "length {length}");
        }
        assert_eq!(count_newlines(&[b'\n'; 5000]), 5000);
    }

    /// [`LineWords`] splits a line as `split_ascii_whitespace` splits the
    /// line (from `str::lines`) cut at its first `#`: a hand-written text,
    /// then random ones of bytes that end words, bytes below `#` that do
    /// not (`!`, `"`, control bytes), ASCII and non-ASCII characters, in
    /// words long and short around the eight-byte steps.
    #[test]
    fn line_words_are_the_words_of_the_line_before_its_comment() {
        line_words_match_lines_and_split(
            "a b\t c\r\n  \n#x y\nd#e f\ng\u{0C}h\u{0B}i \u{e9}j\r\nk\rl\n\nlast",
        );
        let pieces = [
            " ",
            "\t",
            "\n",
            "\r",
            "\u{0C}",
            "#",
            "!",
            "\"",
            "\u{01}",
            "\u{0B}",
            "a",
            "1",
            ".",
            "/",
            ":",
            "\u{e9}",
            "\u{1F600}",
            "abcdefgh",
            "2001:db8::/32",
            "198.51.100.0/24",
            "via",
        ];
        let mut random = Random(0x1234_5678_9ABC_DEF1);
        for _ in 0..3000 {
            let mut text = alloc::string::String::new();
            for _ in 0..random.below(40) {
                let piece = pieces[random.below(pieces.len() as u64) as usize];
                // Word pieces weighed up, so that long words are common.
                let repeat = if piece.len() > 1 {
                    1 + random.below(3)
                } else {
                    1
                };
                for _ in 0..repeat {
                    text.push_str(piece);
                }
            }
            line_words_match_lines_and_split(&text);
        }
    }

    fn line_words_match_lines_and_split(text: &str) {
        let mut start = 0;
        let mut lines = text.lines();
        while start < text.len() {
            let mut words = LineWords {
                text,
                position: start,
            };
            let found: alloc::vec::Vec<&str> = (&mut words).collect();
            let line = lines.next().expect("as many lines as str::lines");
            let content = line.split('#').next().unwrap_or(line);
            let expected: alloc::vec::Vec<&str> = content.split_ascii_whitespace().collect();
            assert_eq!(found, expected, "line {line:?}");
            start = words.next_line();
        }
        assert_eq!(lines.next(), None);
    }

    fn cidr(text: &str) -> Ipv6Cidr {
        let (address, length) = text.split_once('/').unwrap();
        Ipv6Cidr::new(address.parse().unwrap(), length.parse().unwrap())
    }

    fn parse_default(text: &str) -> Parsed {
        parse(text, &Options::default())
    }

    #[test]
    fn the_three_ipv6_forms_and_comments() {
        let parsed = parse_default(
            "# routes\n2001:db8::/32 via 2001:db8:ffff::1\n\t2001:db8:1::/48 via fe80::1 port lan0  # LAN\n\nblackhole 2001:db8:dead::/48\n",
        );
        assert!(parsed.is_ok(), "{:?}", parsed.errors);
        assert_eq!(
            parsed.routes,
            [
                Route {
                    prefix: cidr("2001:db8::/32"),
                    next_hop: NextHop::Via {
                        address: "2001:db8:ffff::1".parse().unwrap(),
                        port: None
                    }
                },
                Route {
                    prefix: cidr("2001:db8:1::/48"),
                    next_hop: NextHop::Via {
                        address: "fe80::1".parse().unwrap(),
                        port: PortName::new("lan0")
                    }
                },
                Route {
                    prefix: cidr("2001:db8:dead::/48"),
                    next_hop: NextHop::Blackhole
                },
            ]
        );
        assert_eq!(parsed.statistics.lines, 5);
        assert_eq!(
            parsed.statistics.ipv6,
            FamilyCounts {
                via: 2,
                translate: 0,
                blackhole: 1
            }
        );
        assert_eq!(parsed.statistics.mapped.total(), 0);
    }

    #[test]
    fn display_writes_the_file_format_back() {
        let text = "2001:db8::/32 via 2001:db8:ffff::1\n2001:db8:1::/48 via fe80::1 port lan0\nblackhole 2001:db8:dead::/48\n::/0 via 2001:db8::1\n";
        let parsed = parse_default(text);
        let written: String = parsed
            .routes
            .iter()
            .map(|route| route.to_string() + "\n")
            .collect();
        assert_eq!(written, text);
    }

    #[test]
    fn every_malformed_line_is_reported_with_its_number() {
        let text = [
            "2001:db8::/32 via 2001:db8::1",            // 1 ok
            "2001:db8::/32",                            // 2 no next hop
            "2001:db8::1/32 via 2001:db8::2",           // 3 host bits
            "2001:db8:2::/129 via 2001:db8::2",         // 4 length
            "2001:db8:3::/48 via fe80::1",              // 5 link-local without port
            "2001:db8:4::/48 via ff02::1",              // 6 multicast
            "2001:db8:5::/48 via 2001:db8::1 port LAN", // 7 bad port name
            "2001:db8:6::/48 to 2001:db8::1",           // 8 keyword
            "blackhole",                                // 9
            "2001:db8:7::/48 via 2001:db8::1 x",        // 10 trailing
            "2001:db8:8::/48 via 2001:db8::zz",         // 11 address
            "2001:db8::/32 via 2001:db8::9",            // 12 duplicate of 1
            "blackhole 2001:db8:9::/48 extra",          // 13 trailing
            "2001:db8:a::/48 via ::",                   // 14 unspecified
            "2001:db8:b::/48 via 2001:db8::1 port",     // 15 port without name
        ]
        .join("\n");
        let parsed = parse_default(&text);
        let lines: Vec<usize> = parsed.errors.iter().map(|error| error.line).collect();
        assert_eq!(lines, (2..=15).collect::<Vec<_>>(), "{:#?}", parsed.errors);
        assert_eq!(parsed.statistics.errors, 14);
        assert_eq!(parsed.routes.len(), 1);
        assert_eq!(parsed.statistics.ipv6.via, 1);
        let message = |line: usize| parsed.errors[line - 2].message.clone();
        assert!(message(3).contains("2001:db8::/32"), "{}", message(3));
        assert!(message(5).contains("port"), "{}", message(5));
        assert!(message(12).contains("first on line 1"), "{}", message(12));
        assert_eq!(
            parsed.errors[0].to_string(),
            "line 2: `2001:db8::/32` has no next hop (`via ADDRESS` or `blackhole`)"
        );
    }

    #[test]
    fn errors_beyond_the_limit_are_counted_not_kept() {
        let text = "nonsense\n".repeat(250);
        let parsed = parse(&text, &Options::default().with_error_limit(10));
        assert_eq!(parsed.errors.len(), 10);
        assert_eq!(parsed.statistics.errors, 250);
        assert_eq!(parsed.errors[9].line, 10);
    }

    #[test]
    fn crlf_line_ends_and_a_missing_final_newline() {
        let parsed = parse_default("2001:db8::/32 via 2001:db8::1\r\nblackhole ::/0");
        assert!(parsed.is_ok(), "{:?}", parsed.errors);
        assert_eq!(parsed.routes.len(), 2);
        assert_eq!(parsed.statistics.lines, 2);
    }

    #[cfg(not(feature = "legacy-ip"))]
    #[test]
    fn ipv4_lines_need_the_legacy_ip_build() {
        let parsed = parse_default("198.51.100.0/24 via 192.0.2.1\nblackhole 203.0.113.0/24\n");
        assert_eq!(parsed.statistics.errors, 2);
        for error in &parsed.errors {
            assert!(
                error
                    .message
                    .contains("IPv4 routes need the legacy-ip build"),
                "{error}"
            );
        }
        let parsed = parse_default("64:ff9b::/96 translate via 64:ff9b::c000:201\n");
        assert!(parsed.errors[0].message.contains("legacy-ip"));
    }

    #[cfg(feature = "legacy-ip")]
    #[test]
    fn ipv4_lines_need_a_mapper() {
        let parsed = parse_default("198.51.100.0/24 via 192.0.2.1\n");
        assert_eq!(parsed.statistics.errors, 1);
        assert!(
            parsed.errors[0].message.contains("translation prefix"),
            "{}",
            parsed.errors[0]
        );
    }
}
