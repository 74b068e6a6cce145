//! IPv4 routes as IPv6 routes under `pool6` ("pipe64"), with next hops rewritten through a next-hop table.
//!
//! ARCHITECTURE.md rule 2: there is one routing table, and it is IPv6. An
//! IPv4 route `P/L via G` is stored as the IPv6 route of `P/L` under the
//! translation prefix `pool6` (RFC 6052 §2.2, Figure 1;
//! [`TranslationPrefix::embed_prefix`]) with the next hop the
//! [`NextHopTable`] gives for `G`: an IPv6 router that reaches `G`'s
//! networks, or this router's own translator. A next hop that is not in the
//! table rejects the route; nothing is guessed.
//!
//! # Prefix lengths
//!
//! The IPv6 length is where the last IPv4 bit of the prefix lands, plus one
//! ([`TranslationPrefix::mapped_prefix_length`]); bits 64..71 (the u octet)
//! never hold IPv4 bits, so a prefix that reaches past bit 64 also covers
//! them. With `PL` the pool6 length and `L` the IPv4 length:
//!
//! | pool6 | IPv4 /L → IPv6 length            | /0 | /8 | /16 | /24 | /32 |
//! |-------|----------------------------------|----|----|-----|-----|-----|
//! | /32   | 32 + L                           | 32 | 40 | 48  | 56  | 64  |
//! | /40   | 40 + L if L <= 24, else 48 + L   | 40 | 48 | 56  | 64  | 80  |
//! | /48   | 48 + L if L <= 16, else 56 + L   | 48 | 56 | 64  | 80  | 88  |
//! | /56   | 56 + L if L <= 8, else 64 + L    | 56 | 64 | 80  | 88  | 96  |
//! | /64   | 64 if L = 0, else 72 + L         | 64 | 80 | 88  | 96  | 104 |
//! | /96   | 96 + L                           | 96 | 104| 112 | 120 | 128 |
//!
//! A prefix that ends exactly at bit 64 (e.g. an IPv4 /8 under a /56) stops
//! there and does not include the u octet; an IPv4 /0 is `pool6` itself.
//!
//! # The well-known prefix
//!
//! Under `64:ff9b::/96` non-global IPv4 addresses must not appear (RFC 6052
//! §3.1). A route whose whole prefix lies in one of the RFC 6890 non-global
//! blocks ([`NON_GLOBAL_BLOCKS`]) is rejected
//! ([`RejectReason::NonGlobalUnderWellKnownPrefix`]); a shorter route that
//! merely contains such a block (e.g. 0.0.0.0/0) is kept, and the
//! translator drops the forbidden addresses per packet. Tests and demos that
//! use documentation addresses under the well-known prefix switch the rule
//! off with [`RouteMapper::without_well_known_prefix_rule`] and say why.
//!
//! # Next-hop file
//!
//! One entry a line, `#` comments, blank lines allowed:
//!
//! ```text
//! 192.0.2.1   2001:db8::1            # via an IPv6 router
//! 192.0.2.2   fe80::2 port lan0      # link-local needs the port
//! 192.0.2.254 local                  # this router's translator
//! ```

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::net::Ipv4Addr;

use smoltcp::wire::{Ipv6Address, Ipv6Cidr};

use super::address_mapping::{NON_GLOBAL_BLOCKS, TranslationPrefix};
use crate::route_file::{
    self, LineError, LineOutcome, NextHop, PortName, RejectReason, Route, Target,
};

/// First octets under which some block of [`NON_GLOBAL_BLOCKS`] lies (bit
/// `octet % 64` of word `octet / 64`). A prefix starting with any other
/// octet lies in none, so [`RouteMapper::map`] skips the scan of the
/// blocks for it: most routes of a full table (the scan was a sixth of
/// the time to parse one at boot).
const NON_GLOBAL_FIRST_OCTETS: [u64; 4] = non_global_first_octets();

const fn non_global_first_octets() -> [u64; 4] {
    let mut octets = [0u64; 4];
    let mut index = 0;
    while index < NON_GLOBAL_BLOCKS.len() {
        let block = &NON_GLOBAL_BLOCKS[index];
        let first = block.network.octets()[0] as usize;
        // A block shorter than /8 spans several first octets.
        let span = if block.length >= 8 {
            1
        } else {
            1 << (8 - block.length)
        };
        let mut octet = first;
        while octet < first + span {
            octets[octet / 64] |= 1 << (octet % 64);
            octet += 1;
        }
        index += 1;
    }
    octets
}

/// Whether a prefix with this network address may lie in a non-global
/// block (its first octet is in [`NON_GLOBAL_FIRST_OCTETS`]).
fn may_be_non_global(network: Ipv4Addr) -> bool {
    let first = usize::from(network.octets()[0]);
    NON_GLOBAL_FIRST_OCTETS[first / 64] >> (first % 64) & 1 != 0
}

/// An IPv4 prefix: network address and length, no bits set after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ipv4Prefix {
    network: Ipv4Addr,
    length: u8,
}

impl Ipv4Prefix {
    /// The prefix `network/length`, if `length <= 32` and no bit of
    /// `network` is set after `length`.
    pub fn new(network: Ipv4Addr, length: u8) -> Option<Ipv4Prefix> {
        let mask = match length {
            0 => 0,
            1..=32 => u32::MAX << (32 - u32::from(length)),
            _ => return None,
        };
        (network.to_bits() & !mask == 0).then_some(Ipv4Prefix { network, length })
    }

    /// The network address.
    pub fn network(&self) -> Ipv4Addr {
        self.network
    }

    /// The prefix length, 0..=32.
    pub fn length(&self) -> u8 {
        self.length
    }
}

impl fmt::Display for Ipv4Prefix {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}/{}", self.network, self.length)
    }
}

/// Parse `a.b.c.d/len` with no host bits, or say why not.
fn parse_ipv4_prefix(text: &str) -> Result<Ipv4Prefix, String> {
    let (address, length) = text
        .split_once('/')
        .ok_or_else(|| format!("prefix `{text}` has no `/LENGTH`"))?;
    let network: Ipv4Addr = address
        .parse()
        .map_err(|_| format!("`{address}` is not an IPv4 address"))?;
    let length: u8 = match length.parse() {
        Ok(length) if length <= 32 => length,
        _ => return Err(format!("`/{length}` is not an IPv4 prefix length (0..=32)")),
    };
    Ipv4Prefix::new(network, length).ok_or_else(|| {
        let mask = if length == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(length))
        };
        format!(
            "{text} has bits set after the prefix length (the network is {}/{length})",
            Ipv4Addr::from_bits(network.to_bits() & mask)
        )
    })
}

impl core::str::FromStr for Ipv4Prefix {
    type Err = String;

    /// Parses `a.b.c.d/len`; bits after the length must be zero.
    fn from_str(text: &str) -> Result<Ipv4Prefix, String> {
        parse_ipv4_prefix(text)
    }
}

/// Where an IPv4 route sends its packets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ipv4Target {
    /// Via this IPv4 next hop (looked up in the [`NextHopTable`]).
    Via(Ipv4Addr),
    /// Drop.
    Blackhole,
}

/// An IPv4 route, as read from a route file or an MRT dump.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Route {
    /// The destination prefix.
    pub prefix: Ipv4Prefix,
    /// Its next hop.
    pub target: Ipv4Target,
}

/// What an IPv4 next hop becomes on the IPv6 side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MappedNextHop {
    /// An IPv6 router (on `port`, required for a link-local address).
    Address {
        /// The IPv6 next hop.
        address: Ipv6Address,
        /// The port it is reached on.
        port: Option<PortName>,
    },
    /// This router's own translator, which forwards to the IPv4 next hop.
    LocalTranslator,
}

/// IPv4 next hop → [`MappedNextHop`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NextHopTable {
    entries: BTreeMap<Ipv4Addr, MappedNextHop>,
}

impl NextHopTable {
    /// An empty table.
    pub fn new() -> NextHopTable {
        NextHopTable::default()
    }

    /// Set the mapping of `ipv4`; returns the previous one.
    pub fn insert(&mut self, ipv4: Ipv4Addr, next_hop: MappedNextHop) -> Option<MappedNextHop> {
        self.entries.insert(ipv4, next_hop)
    }

    /// The mapping of `ipv4`, if any.
    pub fn get(&self, ipv4: Ipv4Addr) -> Option<MappedNextHop> {
        self.entries.get(&ipv4).copied()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Set the mapping of `ipv4`, given as dotted-decimal text (the
    /// config's `[[translation.next_hop]]`, issue 6), so that the caller
    /// names no IPv4 type (ARCHITECTURE.md rule 1). Refuses text that is
    /// not an IPv4 address and an address already in the table.
    pub fn insert_text(&mut self, ipv4: &str, next_hop: MappedNextHop) -> Result<(), String> {
        let address: Ipv4Addr = ipv4
            .parse()
            .map_err(|_| format!("`{ipv4}` is not a dotted-decimal IPv4 address"))?;
        if self.entries.contains_key(&address) {
            return Err(format!("next hop {address} appears twice"));
        }
        self.entries.insert(address, next_hop);
        Ok(())
    }

    /// Parse a next-hop file (format in the [module documentation](self)).
    /// Reads every line; returns all errors (at most
    /// [`route_file::DEFAULT_ERROR_LIMIT`] kept) if any line is malformed
    /// or an IPv4 next hop appears twice.
    pub fn parse(text: &str) -> Result<NextHopTable, Vec<LineError>> {
        let mut table = NextHopTable::new();
        let mut first_line: BTreeMap<Ipv4Addr, usize> = BTreeMap::new();
        let mut errors = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let number = index + 1;
            let content = raw.split('#').next().unwrap_or("");
            match parse_next_hop_line(content) {
                Ok(None) => {}
                Ok(Some((ipv4, next_hop))) => {
                    if let Some(first) = first_line.insert(ipv4, number) {
                        errors.push(LineError {
                            line: number,
                            message: format!(
                                "next hop {ipv4} appears twice (first on line {first})"
                            ),
                        });
                    }
                    table.insert(ipv4, next_hop);
                }
                Err(message) => errors.push(LineError {
                    line: number,
                    message,
                }),
            }
        }
        errors.truncate(route_file::DEFAULT_ERROR_LIMIT);
        if errors.is_empty() {
            Ok(table)
        } else {
            Err(errors)
        }
    }
}

/// One next-hop line without comment: `IPV4 IPV6 [port NAME]` or `IPV4 local`.
fn parse_next_hop_line(text: &str) -> Result<Option<(Ipv4Addr, MappedNextHop)>, String> {
    let mut tokens = text.split_ascii_whitespace();
    let Some(first) = tokens.next() else {
        return Ok(None);
    };
    let ipv4: Ipv4Addr = first
        .parse()
        .map_err(|_| format!("`{first}` is not an IPv4 address"))?;
    let next_hop = match tokens.next() {
        None => {
            return Err(format!("{ipv4} needs an IPv6 next hop or `local` after it"));
        }
        Some("local") => MappedNextHop::LocalTranslator,
        Some(address) => {
            let port = match tokens.next() {
                Some("port") => Some(
                    tokens
                        .next()
                        .ok_or_else(|| String::from("`port` needs a port name"))?,
                ),
                Some(other) => return Err(format!("unexpected `{other}` after the next hop")),
                None => None,
            };
            match route_file::parse_next_hop(address, port)? {
                NextHop::Via { address, port } => MappedNextHop::Address { address, port },
                _ => unreachable!("parse_next_hop only returns NextHop::Via"),
            }
        }
    };
    if let Some(extra) = tokens.next() {
        return Err(format!("unexpected `{extra}` at the end of the line"));
    }
    Ok(Some((ipv4, next_hop)))
}

/// Maps IPv4 routes under a translation prefix through a next-hop table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteMapper {
    pool6: TranslationPrefix,
    next_hops: NextHopTable,
    well_known_prefix_rule: bool,
    /// [`RouteMapper::lossless`]: every IPv4 next hop is taken as the
    /// local translator's, and `translate via` gateways are not checked.
    lossless: bool,
}

impl RouteMapper {
    /// A mapper under `pool6`. The well-known-prefix rule (RFC 6052 §3.1)
    /// is on; it only matters when `pool6` is `64:ff9b::/96`.
    pub fn new(pool6: TranslationPrefix, next_hops: NextHopTable) -> RouteMapper {
        RouteMapper {
            pool6,
            next_hops,
            well_known_prefix_rule: true,
            lossless: false,
        }
    }

    /// The translation prefix under which [`RouteMapper::lossless`] maps:
    /// `::ffff:0:0/96`, the IPv4-mapped addresses (RFC 4291 §2.5.5.2),
    /// which no IPv6 route of a route file has reason to cover.
    pub(crate) const LOSSLESS_PREFIX: u128 = 0xffff << 32;

    /// A mapper for compiling route files (`route_file::compiled`), which
    /// keep IPv4 routes as IPv4 so that one compiled file suits any
    /// config: it maps under [`RouteMapper::LOSSLESS_PREFIX`] with no
    /// RFC 6052 §3.1 rule, makes every IPv4 next hop `G` the local
    /// translator (`translate via` the embedded `G`), and takes any
    /// `translate via` gateway as written. Every mapped route can so be
    /// read back as the IPv4 route it came from; the appliance maps it
    /// for real when it loads the file.
    pub(crate) fn lossless() -> RouteMapper {
        let pool6 = TranslationPrefix::new(Ipv6Cidr::new(
            Ipv6Address::from_bits(Self::LOSSLESS_PREFIX),
            96,
        ))
        .unwrap_or(TranslationPrefix::WELL_KNOWN);
        RouteMapper {
            pool6,
            next_hops: NextHopTable::new(),
            well_known_prefix_rule: false,
            lossless: true,
        }
    }

    /// The next hop of IPv4 routes via the gateway `gateway` (32 bits, as
    /// a compiled route file holds it): what the next-hop table says, or
    /// [`RejectReason::NextHopNotInTable`].
    pub(crate) fn map_gateway_bits(&self, gateway: u32) -> Result<NextHop, RejectReason> {
        self.gateway_next_hop(Ipv4Addr::from_bits(gateway))
    }

    /// The next hop of IPv4 routes via `gateway`: what the next-hop table
    /// says (the local translator under the lossless mapper).
    fn gateway_next_hop(&self, gateway: Ipv4Addr) -> Result<NextHop, RejectReason> {
        if self.lossless {
            return Ok(NextHop::Translate {
                gateway: self.pool6.embed(gateway),
            });
        }
        match self.next_hops.get(gateway) {
            None => Err(RejectReason::NextHopNotInTable),
            Some(MappedNextHop::Address { address, port }) => Ok(NextHop::Via { address, port }),
            Some(MappedNextHop::LocalTranslator) => Ok(NextHop::Translate {
                gateway: self.pool6.embed(gateway),
            }),
        }
    }

    /// The IPv6 prefix of the IPv4 prefix `network/length` (32 bits, as a
    /// compiled route file holds it), or `None` when `length > 32` or a bit
    /// is set after it; `Err` when the RFC 6052 §3.1 rule rejects it.
    #[inline]
    pub(crate) fn map_prefix_bits(
        &self,
        network: u32,
        length: u8,
    ) -> Option<Result<Ipv6Cidr, RejectReason>> {
        let prefix = Ipv4Prefix::new(Ipv4Addr::from_bits(network), length)?;
        Some(if self.rejects(prefix) {
            Err(RejectReason::NonGlobalUnderWellKnownPrefix)
        } else {
            Ok(self.pool6.embed_prefix(prefix.network, prefix.length))
        })
    }

    /// Whether the RFC 6052 §3.1 rule rejects `prefix`.
    #[inline]
    fn rejects(&self, prefix: Ipv4Prefix) -> bool {
        self.well_known_prefix_rule
            && self.pool6.is_well_known()
            && may_be_non_global(prefix.network)
            && NON_GLOBAL_BLOCKS
                .iter()
                .any(|block| block.contains_prefix(prefix.network, prefix.length))
    }

    /// The same mapper with the RFC 6052 §3.1 rule switched off: non-global
    /// IPv4 prefixes are mapped under the well-known prefix too. Only for
    /// tests and demos that use documentation addresses, which must say why.
    pub fn without_well_known_prefix_rule(mut self) -> RouteMapper {
        self.well_known_prefix_rule = false;
        self
    }

    /// The translation prefix.
    pub fn pool6(&self) -> TranslationPrefix {
        self.pool6
    }

    /// The next-hop table.
    pub fn next_hops(&self) -> &NextHopTable {
        &self.next_hops
    }

    /// The IPv6 route of `route`, or why it is rejected.
    pub fn map(&self, route: &Ipv4Route) -> Result<Route, RejectReason> {
        let prefix = route.prefix;
        if self.rejects(prefix) {
            return Err(RejectReason::NonGlobalUnderWellKnownPrefix);
        }
        let next_hop = match route.target {
            Ipv4Target::Blackhole => NextHop::Blackhole,
            Ipv4Target::Via(gateway) => self.gateway_next_hop(gateway)?,
        };
        Ok(Route {
            prefix: self.pool6.embed_prefix(prefix.network, prefix.length),
            next_hop,
        })
    }

    /// An IPv4 line of a route file (see [`crate::route_file`]).
    pub(crate) fn map_line(&self, prefix: &str, target: Target<'_>) -> Result<LineOutcome, String> {
        let prefix = parse_ipv4_prefix(prefix)?;
        let target = match target {
            Target::Blackhole => Ipv4Target::Blackhole,
            Target::Via { port: Some(_), .. } => {
                return Err(String::from("`port` is for IPv6 next hops only"));
            }
            Target::Via {
                address,
                port: None,
            } => Ipv4Target::Via(
                address
                    .parse()
                    .map_err(|_| format!("next hop `{address}` is not an IPv4 address"))?,
            ),
            Target::TranslateVia(_) => {
                return Err(String::from(
                    "`translate via` is for IPv6 routes; an IPv4 route names its IPv4 next hop",
                ));
            }
        };
        Ok(match self.map(&Ipv4Route { prefix, target }) {
            Ok(route) => LineOutcome::Route(route, true),
            Err(reason) => LineOutcome::Rejected(reason),
        })
    }

    /// The next hop of a `translate via GATEWAY` line: `GATEWAY` must be an
    /// IPv4-embedded address under pool6.
    pub(crate) fn translate_next_hop(&self, gateway: &str) -> Result<NextHop, String> {
        let address: Ipv6Address = gateway
            .parse()
            .map_err(|_| format!("`{gateway}` is not an IPv6 address"))?;
        if self.lossless {
            return Ok(NextHop::Translate { gateway: address });
        }
        self.check_translator_gateway(address)
    }

    /// The next hop `translate via gateway`, if `gateway` is an
    /// IPv4-embedded address under pool6; else the error of its line.
    pub(crate) fn check_translator_gateway(&self, address: Ipv6Address) -> Result<NextHop, String> {
        match self.pool6.extract(address) {
            Ok(_) => Ok(NextHop::Translate { gateway: address }),
            Err(_) => Err(format!(
                "translator gateway {address} is not an IPv4-embedded address under {}",
                self.pool6
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    fn ipv6(text: &str) -> Ipv6Address {
        text.parse().unwrap()
    }

    fn cidr(text: &str) -> Ipv6Cidr {
        let (address, length) = text.split_once('/').unwrap();
        Ipv6Cidr::new(ipv6(address), length.parse().unwrap())
    }

    fn route(prefix: &str, gateway: Ipv4Addr) -> Ipv4Route {
        Ipv4Route {
            prefix: prefix.parse().unwrap(),
            target: Ipv4Target::Via(gateway),
        }
    }

    const GATEWAY: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);

    fn table() -> NextHopTable {
        let mut table = NextHopTable::new();
        table.insert(
            GATEWAY,
            MappedNextHop::Address {
                address: ipv6("2001:db8::1"),
                port: None,
            },
        );
        table.insert(
            Ipv4Addr::new(192, 0, 2, 254),
            MappedNextHop::LocalTranslator,
        );
        table
    }

    /// ARCHITECTURE.md rule 2's example. 198.51.100.0/24 is TEST-NET-2,
    /// which RFC 6052 §3.1 keeps out of the well-known prefix: the rule is
    /// switched off to reproduce the design example as written.
    #[test]
    fn design_example() {
        let mapper = RouteMapper::new(TranslationPrefix::WELL_KNOWN, table())
            .without_well_known_prefix_rule();
        let mapped = mapper.map(&route("198.51.100.0/24", GATEWAY)).unwrap();
        assert_eq!(mapped.prefix, cidr("64:ff9b::c633:6400/120"));
        assert_eq!(
            mapped.next_hop,
            NextHop::Via {
                address: ipv6("2001:db8::1"),
                port: None
            }
        );
        assert_eq!(mapped.to_string(), "64:ff9b::c633:6400/120 via 2001:db8::1");
    }

    #[test]
    fn well_known_prefix_rule_rejects_non_global_prefixes() {
        let mapper = RouteMapper::new(TranslationPrefix::WELL_KNOWN, table());
        for prefix in [
            "198.51.100.0/24",
            "10.0.0.0/8",
            "10.1.0.0/16",
            "192.168.0.0/16",
        ] {
            assert_eq!(
                mapper.map(&route(prefix, GATEWAY)),
                Err(RejectReason::NonGlobalUnderWellKnownPrefix),
                "{prefix}"
            );
        }
        // Routes that only contain a non-global block stay.
        for prefix in ["0.0.0.0/0", "8.0.0.0/7", "192.0.0.0/16", "198.51.0.0/16"] {
            assert!(mapper.map(&route(prefix, GATEWAY)).is_ok(), "{prefix}");
        }
        // A network-specific prefix has no such rule.
        let pool6 = "2001:db8:64::/96".parse().unwrap();
        let mapper = RouteMapper::new(pool6, table());
        assert_eq!(
            mapper
                .map(&route("198.51.100.0/24", GATEWAY))
                .unwrap()
                .prefix,
            cidr("2001:db8:64::c633:6400/120")
        );
    }

    #[test]
    fn unknown_next_hop_is_rejected() {
        let pool6 = "2001:db8:64::/96".parse().unwrap();
        let mapper = RouteMapper::new(pool6, table());
        assert_eq!(
            mapper.map(&route("203.0.113.0/24", Ipv4Addr::new(192, 0, 2, 99))),
            Err(RejectReason::NextHopNotInTable)
        );
    }

    #[test]
    fn local_translator_next_hop_names_the_embedded_gateway() {
        let pool6 = "2001:db8:64::/96".parse().unwrap();
        let mapper = RouteMapper::new(pool6, table());
        let mapped = mapper
            .map(&route("203.0.113.0/24", Ipv4Addr::new(192, 0, 2, 254)))
            .unwrap();
        assert_eq!(
            mapped.next_hop,
            NextHop::Translate {
                gateway: ipv6("2001:db8:64::c000:2fe")
            }
        );
        assert_eq!(
            mapped.to_string(),
            "2001:db8:64::cb00:7100/120 translate via 2001:db8:64::c000:2fe"
        );
    }

    #[test]
    fn blackhole_needs_no_next_hop() {
        let pool6 = "2001:db8:64::/96".parse().unwrap();
        let mapper = RouteMapper::new(pool6, NextHopTable::new());
        let mapped = mapper
            .map(&Ipv4Route {
                prefix: "203.0.113.0/24".parse().unwrap(),
                target: Ipv4Target::Blackhole,
            })
            .unwrap();
        assert_eq!(mapped.to_string(), "blackhole 2001:db8:64::cb00:7100/120");
    }

    #[test]
    fn ipv4_prefix_validation() {
        assert!("198.51.100.0/24".parse::<Ipv4Prefix>().is_ok());
        assert!("0.0.0.0/0".parse::<Ipv4Prefix>().is_ok());
        assert!("255.255.255.255/32".parse::<Ipv4Prefix>().is_ok());
        let error = "198.51.100.1/24".parse::<Ipv4Prefix>().unwrap_err();
        assert!(error.contains("198.51.100.0/24"), "{error}");
        assert!("198.51.100.0/33".parse::<Ipv4Prefix>().is_err());
        assert!("198.51.100/24".parse::<Ipv4Prefix>().is_err());
        assert!("198.51.100.0".parse::<Ipv4Prefix>().is_err());
    }

    #[test]
    fn next_hop_file() {
        let table = NextHopTable::parse(
            "# next hops\n192.0.2.1 2001:db8::1\n\n192.0.2.2  fe80::2 port lan0 # on the LAN\n192.0.2.254 local\n",
        )
        .unwrap();
        assert_eq!(table.len(), 3);
        assert_eq!(
            table.get(Ipv4Addr::new(192, 0, 2, 2)),
            Some(MappedNextHop::Address {
                address: ipv6("fe80::2"),
                port: PortName::new("lan0")
            })
        );
        assert_eq!(
            table.get(Ipv4Addr::new(192, 0, 2, 254)),
            Some(MappedNextHop::LocalTranslator)
        );

        let errors = NextHopTable::parse(
            "192.0.2.1\n192.0.2.300 2001:db8::1\n192.0.2.2 fe80::2\n192.0.2.3 2001:db8::3 extra\n192.0.2.4 local\n192.0.2.4 local\n",
        )
        .unwrap_err();
        let lines: Vec<usize> = errors.iter().map(|error| error.line).collect();
        assert_eq!(lines, [1, 2, 3, 4, 6], "{errors:?}");
        assert!(errors[2].message.contains("port"), "{}", errors[2].message);
    }

    #[test]
    fn the_first_octet_filter_lets_every_non_global_prefix_through() {
        // Every address of every block (sampled at each first octet and a
        // few offsets) passes the filter; no address outside the filtered
        // octets is in a block.
        for first in 0..=255u8 {
            for rest in [
                0u32,
                0x0000_0001,
                0x00a8_0000,
                0x0040_0000,
                0x00ff_ffff,
                0x0012_3456,
            ] {
                let address = Ipv4Addr::from_bits(u32::from(first) << 24 | rest);
                if NON_GLOBAL_BLOCKS
                    .iter()
                    .any(|block| block.contains(address))
                {
                    assert!(may_be_non_global(address), "{address}");
                }
            }
            let in_some_block = NON_GLOBAL_BLOCKS.iter().any(|block| {
                usize::from(block.network.octets()[0]) <= usize::from(first)
                    && usize::from(first)
                        < usize::from(block.network.octets()[0])
                            + (1usize << 8usize.saturating_sub(usize::from(block.length)).min(8))
            });
            assert_eq!(
                may_be_non_global(Ipv4Addr::new(first, 0, 0, 0)),
                in_some_block,
                "first octet {first}"
            );
        }
    }
}
