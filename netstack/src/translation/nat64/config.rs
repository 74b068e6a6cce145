//! The `[nat64]` table (legacy-ip builds): pool4, filtering, the RFC 6146 §4 timers, the state table capacities and static BIB entries, parsed and cross-checked with line and column on every error.
//!
//! `crate::config` owns the file and its error type; it hands the
//! deserialized table here, after `[translation]` and the uplink
//! (`[port.ipv4]`) are validated, so that the IPv4 types stay inside the
//! translation module (ARCHITECTURE.md rule 1) and pool4 can be checked
//! against them.
//!
//! # Shape
//! ```toml
//! [nat64]
//! pool4 = [                               # required, at least one entry
//!   { prefix = "192.0.2.1/32", tcp = "1024-65535", udp = "1024-65535", icmp = "1-65535" },
//! ]
//! filtering = "endpoint-independent"      # or "address-dependent"
//! udp_timeout_seconds = 300               # UDP_MIN 120 (RFC 6146 §4)
//! tcp_established_timeout_seconds = 7200  # TCP_EST 7200
//! tcp_transitory_timeout_seconds = 240    # TCP_TRANS 240
//! icmp_timeout_seconds = 60               # RFC 5508 REQ-2: at least 60
//! tcp_incoming_syn_seconds = 6            # RFC 5382 REQ-4: at least 6
//! sessions = 65536                        # session table capacity
//! bib_entries = 65536                     # BIB capacity
//! sessions_per_source = 4096              # per IPv6 source address
//! held_incoming_syns = 1024               # unsolicited inbound SYNs held (0: drop at once)
//! incoming_syn_unreachable = true         # ICMPv4 3/3 when a held SYN expires
//! fragments = 256                         # out-of-order fragments held (0: drop them)
//! fragment_timeout_seconds = 2            # FRAGMENT_MIN 2 (RFC 6146 §3.4, §4)
//! allow_short_timeouts = false            # tests and labs only
//!
//! [[nat64.static]]                        # static BIB entry (RFC 6146 §3.1)
//! protocol = "tcp"                        # "tcp", "udp" or "icmp"
//! ipv6 = "[2001:db8:1::80]:80"
//! ipv4 = "192.0.2.1:8080"
//! ```
//!
//! # Decisions
//! - `[nat64]` needs `[translation]` (pool6 is the prefix IPv6 hosts reach
//!   IPv4 hosts under, RFC 6146 §3.5) and the uplink (pool4 addresses are
//!   answered for on it).
//! - pool4 is a list of prefixes, each with one range per protocol (an
//!   ICMP range is of Echo identifiers, §3.5.3). A bare address is a /32.
//!   Entries may not overlap each other, an EAM's IPv4 prefix, the RFC
//!   6791 pool, an uplink route, or hold the uplink's network or broadcast
//!   address, gateway, route next hops, static neighbors or an IPv4 next
//!   hop of `[[translation.next_hop]]`: each such address would be
//!   ambiguous on the uplink. The uplink's own address may be in pool4
//!   (the usual single-address setup).
//! - TCP_EST is RFC 6146's 2 hours: when it expires the session moves to
//!   TRANS for TCP_TRANS (4 minutes), which together give RFC 5382 REQ-5's
//!   2 h 4 min floor (§3.5.2.2, §4). So the floor of
//!   `tcp_established_timeout_seconds` is 7200, not 7440.
//! - The ICMP floor is RFC 5508 REQ-2's 60 s (RFC 6146 §4 gives only the
//!   default, ICMP_DEFAULT); the incoming-SYN floor is RFC 5382 REQ-4's
//!   6 s (TCP_INCOMING_SYN).
//! - Shorter timeouts need `allow_short_timeouts = true`, so that a test
//!   or a lab says so in its file; a zero timeout is always refused.
//! - Capacities count all protocols together; a static entry takes a BIB
//!   entry, so there may not be more static entries than `bib_entries`.
//! - `held_incoming_syns` bounds the unsolicited inbound SYNs kept for
//!   `tcp_incoming_syn_seconds` (RFC 6146 §3.5.2.2 V4 INIT, RFC 5382
//!   REQ-4; see `held_syn`): about 570 bytes each, so the default takes
//!   570 KiB. 0 is §3.5.2.2's policy "silently drop externally initiated
//!   TCP connections"; SYNs beyond the capacity are dropped silently too
//!   (REQ-4: no answer within 6 s). `incoming_syn_unreachable = false` is REQ-4's
//!   "unless prohibited by local security policy": an expired SYN is then
//!   dropped without the ICMPv4 Port Unreachable.
//! - `fragments` bounds the fragments held until the first fragment of
//!   their datagram has found its session (RFC 6146 §3.4 "MUST limit the
//!   amount of resources"; see `fragment_store`): each takes one packet
//!   buffer of the largest frame, so 256 take about 400 KiB with 1500-byte
//!   frames. 0 drops fragments that arrive before their first. They wait
//!   `fragment_timeout_seconds`, at least FRAGMENT_MIN (2 s) unless short
//!   timeouts are allowed, at most 60 s.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};
use core::ops::Range;

use serde::Deserialize;
use smoltcp::time::Duration;
use toml::Spanned;

use super::super::config::{TranslationConfig, UplinkConfig, UplinkPort};
use super::super::route_mapping::Ipv4Prefix;
use super::super::stateless_addresses::{
    ipv4_prefix_contains, ipv4_prefixes_overlap, is_never_unicast,
};
use super::pool4::{self, Pool4};
use crate::config::{ConfigError, integer_in};

/// The protocol of a BIB (and of a static entry).
pub use super::flow::Nat64Protocol;

/// UDP_MIN (RFC 6146 §4, RFC 4787 REQ-5): the shortest UDP session lifetime, 120 s.
pub const UDP_MINIMUM_SECONDS: u32 = 120;

/// UDP_DEFAULT (RFC 6146 §4): the default UDP session lifetime, 300 s.
pub const UDP_DEFAULT_SECONDS: u32 = 300;

/// TCP_EST (RFC 6146 §4): the shortest and default lifetime of an
/// established TCP session, 2 hours (plus TCP_TRANS: RFC 5382's 2 h 4 min).
pub const TCP_ESTABLISHED_SECONDS: u32 = 7_200;

/// TCP_TRANS (RFC 6146 §4, RFC 5382 REQ-5): the shortest and default
/// transitory TCP session lifetime, 240 s.
pub const TCP_TRANSITORY_SECONDS: u32 = 240;

/// TCP_INCOMING_SYN (RFC 6146 §4, RFC 5382 REQ-4): how long an unsolicited
/// inbound SYN is held at least, 6 s.
pub const TCP_INCOMING_SYN_SECONDS: u32 = 6;

/// ICMP_DEFAULT (RFC 6146 §4), also the floor of RFC 5508 REQ-2: 60 s.
pub const ICMP_DEFAULT_SECONDS: u32 = 60;

/// The longest timeout accepted: 7 days.
pub const MAXIMUM_TIMEOUT_SECONDS: u32 = 604_800;

/// Default of `sessions`.
pub const DEFAULT_SESSIONS: u32 = 65_536;

/// Default of `bib_entries`.
pub const DEFAULT_BINDINGS: u32 = 65_536;

/// Default of `sessions_per_source`.
pub const DEFAULT_SESSIONS_PER_SOURCE: u32 = 4_096;

/// Largest `sessions` and `bib_entries`.
pub const MAXIMUM_CAPACITY: u32 = 4_194_304;

/// The most pool4 entries.
pub const MAXIMUM_POOL4_ENTRIES: usize = 64;

/// The most pool4 addresses, all entries together (a /16).
pub const MAXIMUM_POOL4_ADDRESSES: u64 = 65_536;

/// The most `[[nat64.static]]` entries.
pub const MAXIMUM_STATIC_BINDINGS: usize = 4_096;

/// FRAGMENT_MIN: how long fragments may arrive over, at least (RFC 6146
/// §3.4, §4); the default of `fragment_timeout_seconds`.
pub const FRAGMENT_MINIMUM_SECONDS: u32 = 2;

/// The longest `fragment_timeout_seconds` (RFC 8200 §4.5 reassembly: 60 s).
pub const MAXIMUM_FRAGMENT_TIMEOUT_SECONDS: u32 = 60;

/// Default of `fragments`.
pub const DEFAULT_FRAGMENTS: u32 = 256;

/// The largest `fragments`: a held fragment is found by scanning the store
/// (see `fragment_store`), so it stays small.
pub const MAXIMUM_FRAGMENTS: u32 = 4_096;

/// Default TCP and UDP port range of a pool4 entry: every port but 0, so
/// that the allocator can keep a well-known source port (0-1023) in its
/// class (RFC 6146 §3.5.1.1, §3.5.2.3); as `pool4::PortRange::ALL_BUT_ZERO`.
pub const DEFAULT_PORTS: PortRange = PortRange {
    first: 1,
    last: 65_535,
};

/// Default ICMP identifier range of a pool4 entry: every identifier
/// (§3.5.3: "any available value"); as `pool4::PortRange::ALL`.
pub const DEFAULT_ICMP_IDENTIFIERS: PortRange = PortRange {
    first: 0,
    last: 65_535,
};

/// An inclusive range of ports (or ICMP identifiers), never empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PortRange {
    first: u16,
    last: u16,
}

impl PortRange {
    /// `first..=last`, if `first <= last`.
    pub fn new(first: u16, last: u16) -> Option<PortRange> {
        (first <= last).then_some(PortRange { first, last })
    }

    /// The first port.
    pub fn first(&self) -> u16 {
        self.first
    }

    /// The last port.
    pub fn last(&self) -> u16 {
        self.last
    }

    /// How many ports, 1..=65536.
    pub fn count(&self) -> u32 {
        u32::from(self.last) - u32::from(self.first) + 1
    }

    /// Whether `port` is in the range.
    pub fn contains(&self, port: u16) -> bool {
        (self.first..=self.last).contains(&port)
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}-{}", self.first, self.last)
    }
}

/// One pool4 entry: IPv4 addresses and the ports of each protocol that
/// NAT64 may hand out on them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool4Entry {
    /// The addresses (every address of the prefix).
    pub prefix: Ipv4Prefix,
    /// TCP ports (`tcp`, default 1-65535).
    pub tcp: PortRange,
    /// UDP ports (`udp`, default 1-65535).
    pub udp: PortRange,
    /// ICMP Echo identifiers (`icmp`, default 0-65535).
    pub icmp: PortRange,
}

impl Pool4Entry {
    /// The range of `protocol`.
    pub fn range(&self, protocol: Nat64Protocol) -> PortRange {
        match protocol {
            Nat64Protocol::Tcp => self.tcp,
            Nat64Protocol::Udp => self.udp,
            Nat64Protocol::Icmp => self.icmp,
        }
    }

    /// Whether `address` is in the entry's prefix.
    pub fn contains(&self, address: Ipv4Addr) -> bool {
        ipv4_prefix_contains(self.prefix, address)
    }

    /// The number of addresses, 1..=2^32.
    pub fn address_count(&self) -> u64 {
        prefix_size(self.prefix)
    }
}

/// How NAT64 filters packets arriving from IPv4 (RFC 6146 §1.2.3, §2,
/// §3.5; RFC 4787 §5).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Nat64Filtering {
    /// A BIB entry for the destination transport address is enough
    /// (`"endpoint-independent"`, the default).
    #[default]
    EndpointIndependent,
    /// The IPv6 host must also have sent to the source's IPv4 address
    /// before (`"address-dependent"`).
    AddressDependent,
}

impl Nat64Filtering {
    /// The config's spelling.
    pub fn name(&self) -> &'static str {
        match self {
            Nat64Filtering::EndpointIndependent => "endpoint-independent",
            Nat64Filtering::AddressDependent => "address-dependent",
        }
    }
}

/// The session lifetimes (RFC 6146 §3.5.1, §3.5.2.2, §3.5.3, §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Nat64Timeouts {
    /// UDP sessions (`udp_timeout_seconds`, default UDP_DEFAULT 300 s).
    pub udp: Duration,
    /// Established TCP sessions (`tcp_established_timeout_seconds`,
    /// default TCP_EST 7200 s); on expiry a session moves to TRANS.
    pub tcp_established: Duration,
    /// Transitory TCP sessions (`tcp_transitory_timeout_seconds`, default
    /// TCP_TRANS 240 s).
    pub tcp_transitory: Duration,
    /// ICMP query sessions (`icmp_timeout_seconds`, default ICMP_DEFAULT 60 s).
    pub icmp: Duration,
    /// How long an unsolicited inbound SYN is held in V4 INIT
    /// (`tcp_incoming_syn_seconds`, default TCP_INCOMING_SYN 6 s).
    pub tcp_incoming_syn: Duration,
}

impl Default for Nat64Timeouts {
    /// RFC 6146 §4's values.
    fn default() -> Nat64Timeouts {
        Nat64Timeouts {
            udp: seconds(UDP_DEFAULT_SECONDS),
            tcp_established: seconds(TCP_ESTABLISHED_SECONDS),
            tcp_transitory: seconds(TCP_TRANSITORY_SECONDS),
            icmp: seconds(ICMP_DEFAULT_SECONDS),
            tcp_incoming_syn: seconds(TCP_INCOMING_SYN_SECONDS),
        }
    }
}

/// One `[[nat64.static]]`: a BIB entry that never expires (RFC 6146 §3.1),
/// so IPv4 hosts can reach an IPv6 server (port forwarding).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StaticBinding {
    /// The BIB it belongs to.
    pub protocol: Nat64Protocol,
    /// The IPv6 transport address (X', x); for ICMP the port is the
    /// identifier.
    pub ipv6: SocketAddrV6,
    /// The IPv4 transport address (T, t), inside pool4 and its range.
    pub ipv4: SocketAddrV4,
}

/// The `[nat64]` table, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Nat64Config {
    /// The IPv4 addresses and ports NAT64 hands out (`pool4`), in file
    /// order, none overlapping.
    pub pool4: Vec<Pool4Entry>,
    /// Filtering of packets from IPv4 (`filtering`).
    pub filtering: Nat64Filtering,
    /// Session lifetimes.
    pub timeouts: Nat64Timeouts,
    /// Whether timeouts below the RFC floors were allowed
    /// (`allow_short_timeouts`).
    pub short_timeouts_allowed: bool,
    /// Capacity of the session tables, all protocols together (`sessions`).
    pub session_capacity: u32,
    /// Capacity of the BIBs, all protocols together (`bib_entries`).
    pub binding_capacity: u32,
    /// Sessions one IPv6 source address may hold (`sessions_per_source`),
    /// at most `session_capacity`.
    pub sessions_per_source: u32,
    /// Static BIB entries (`[[nat64.static]]`), in file order.
    pub static_bindings: Vec<StaticBinding>,
    /// Unsolicited inbound SYNs held at once (`held_incoming_syns`); 0
    /// drops them at once.
    pub held_incoming_syns: u32,
    /// Whether a held SYN that expires is answered with ICMPv4 Port
    /// Unreachable (`incoming_syn_unreachable`, RFC 5382 REQ-4).
    pub incoming_syn_unreachable: bool,
    /// Fragments held until their datagram's first fragment is translated
    /// (`fragments`); 0 drops them.
    pub fragment_capacity: u32,
    /// How long a held fragment, or a translated datagram's mapping for
    /// its later fragments, is kept (`fragment_timeout_seconds`,
    /// FRAGMENT_MIN 2 s by default).
    pub fragment_timeout: Duration,
}

impl Nat64Config {
    /// A configuration with `pool4` and every other setting at its default.
    pub fn with_pool4(pool4: Vec<Pool4Entry>) -> Nat64Config {
        Nat64Config {
            pool4,
            filtering: Nat64Filtering::default(),
            timeouts: Nat64Timeouts::default(),
            short_timeouts_allowed: false,
            session_capacity: DEFAULT_SESSIONS,
            binding_capacity: DEFAULT_BINDINGS,
            sessions_per_source: DEFAULT_SESSIONS_PER_SOURCE,
            static_bindings: Vec::new(),
            held_incoming_syns: super::held_syn::DEFAULT_CAPACITY,
            incoming_syn_unreachable: true,
            fragment_capacity: DEFAULT_FRAGMENTS,
            fragment_timeout: seconds(FRAGMENT_MINIMUM_SECONDS),
        }
    }

    /// Whether `address` is a pool4 address (the uplink answers ARP for it).
    pub fn contains_ipv4(&self, address: Ipv4Addr) -> bool {
        self.pool4.iter().any(|entry| entry.contains(address))
    }

    /// The pool4 entry holding `address`.
    pub fn pool4_entry(&self, address: Ipv4Addr) -> Option<&Pool4Entry> {
        self.pool4.iter().find(|entry| entry.contains(address))
    }

    /// The number of pool4 addresses.
    pub fn pool4_addresses(&self) -> u64 {
        self.pool4.iter().map(Pool4Entry::address_count).sum()
    }

    /// pool4 as the port allocator's [`Pool4`] (`nat64::pool4`), entries
    /// and ranges unchanged. Always `Some` for a configuration that
    /// [`crate::config::parse`] accepted: its checks include those of
    /// [`Pool4::new`].
    pub fn allocation_pool(&self) -> Option<Pool4> {
        let range = |range: PortRange| pool4::PortRange::new(range.first, range.last).ok();
        let mut entries: Vec<pool4::Pool4Entry> = Vec::with_capacity(self.pool4.len());
        for entry in &self.pool4 {
            entries.push(pool4::Pool4Entry::new(
                entry.prefix,
                range(entry.tcp)?,
                range(entry.udp)?,
                range(entry.icmp)?,
            ));
        }
        Pool4::new(entries).ok()
    }

    /// The number of (address, port) pairs of `protocol` in pool4.
    pub fn pool4_ports(&self, protocol: Nat64Protocol) -> u64 {
        self.pool4
            .iter()
            .map(|entry| entry.address_count() * u64::from(entry.range(protocol).count()))
            .sum()
    }
}

/// The config's name of `protocol`.
pub fn protocol_name(protocol: Nat64Protocol) -> &'static str {
    match protocol {
        Nat64Protocol::Tcp => "tcp",
        Nat64Protocol::Udp => "udp",
        Nat64Protocol::Icmp => "icmp",
    }
}

fn seconds(value: u32) -> Duration {
    Duration::from_secs(u64::from(value))
}

/// The number of addresses of `prefix`.
fn prefix_size(prefix: Ipv4Prefix) -> u64 {
    1u64 << (32 - u32::from(prefix.length().min(32)))
}

/// The last address of `prefix`.
fn last_address(prefix: Ipv4Prefix) -> Ipv4Addr {
    let host_bits = u32::MAX
        .checked_shr(u32::from(prefix.length()))
        .unwrap_or(0);
    Ipv4Addr::from_bits(prefix.network().to_bits() | host_bits)
}

// ---------------------------------------------------------------------------
// Deserialization.

/// `[nat64]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Nat64Table {
    #[serde(default)]
    pool4: Option<Spanned<Vec<Pool4Table>>>,
    #[serde(default)]
    filtering: Option<Spanned<String>>,
    #[serde(default)]
    udp_timeout_seconds: Option<Spanned<i64>>,
    #[serde(default)]
    tcp_established_timeout_seconds: Option<Spanned<i64>>,
    #[serde(default)]
    tcp_transitory_timeout_seconds: Option<Spanned<i64>>,
    #[serde(default)]
    icmp_timeout_seconds: Option<Spanned<i64>>,
    #[serde(default)]
    tcp_incoming_syn_seconds: Option<Spanned<i64>>,
    #[serde(default)]
    sessions: Option<Spanned<i64>>,
    #[serde(default)]
    bib_entries: Option<Spanned<i64>>,
    #[serde(default)]
    sessions_per_source: Option<Spanned<i64>>,
    #[serde(default)]
    held_incoming_syns: Option<Spanned<i64>>,
    #[serde(default)]
    incoming_syn_unreachable: Option<bool>,
    #[serde(default)]
    fragments: Option<Spanned<i64>>,
    #[serde(default)]
    fragment_timeout_seconds: Option<Spanned<i64>>,
    #[serde(default)]
    allow_short_timeouts: Option<bool>,
    #[serde(default, rename = "static")]
    static_entries: Vec<StaticTable>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Pool4Table {
    prefix: Spanned<String>,
    #[serde(default)]
    tcp: Option<Spanned<String>>,
    #[serde(default)]
    udp: Option<Spanned<String>>,
    #[serde(default)]
    icmp: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StaticTable {
    protocol: Spanned<String>,
    ipv6: Spanned<String>,
    ipv4: Spanned<String>,
}

// ---------------------------------------------------------------------------
// Validation.

/// A timeout key, its RFC floor and default.
struct TimeoutRule {
    key: &'static str,
    minimum: u32,
    default: u32,
    /// The floor, named with its RFC section.
    why: &'static str,
}

const UDP_RULE: TimeoutRule = TimeoutRule {
    key: "udp_timeout_seconds",
    minimum: UDP_MINIMUM_SECONDS,
    default: UDP_DEFAULT_SECONDS,
    why: "UDP_MIN, 120 s (RFC 6146 §3.5.1, §4)",
};

const TCP_ESTABLISHED_RULE: TimeoutRule = TimeoutRule {
    key: "tcp_established_timeout_seconds",
    minimum: TCP_ESTABLISHED_SECONDS,
    default: TCP_ESTABLISHED_SECONDS,
    why: "TCP_EST, 7200 s (RFC 6146 §3.5.2.2, §4; with TCP_TRANS it makes RFC 5382 \
          REQ-5's 2 h 4 min)",
};

const TCP_TRANSITORY_RULE: TimeoutRule = TimeoutRule {
    key: "tcp_transitory_timeout_seconds",
    minimum: TCP_TRANSITORY_SECONDS,
    default: TCP_TRANSITORY_SECONDS,
    why: "TCP_TRANS, 240 s (RFC 6146 §3.5.2.2, §4; RFC 5382 REQ-5)",
};

const ICMP_RULE: TimeoutRule = TimeoutRule {
    key: "icmp_timeout_seconds",
    minimum: ICMP_DEFAULT_SECONDS,
    default: ICMP_DEFAULT_SECONDS,
    why: "60 s (RFC 5508 §3.2 REQ-2; ICMP_DEFAULT, RFC 6146 §4)",
};

const FRAGMENT_RULE: TimeoutRule = TimeoutRule {
    key: "fragment_timeout_seconds",
    minimum: FRAGMENT_MINIMUM_SECONDS,
    default: FRAGMENT_MINIMUM_SECONDS,
    why: "FRAGMENT_MIN, 2 s (RFC 6146 §3.4, §4)",
};

const TCP_INCOMING_SYN_RULE: TimeoutRule = TimeoutRule {
    key: "tcp_incoming_syn_seconds",
    minimum: TCP_INCOMING_SYN_SECONDS,
    default: TCP_INCOMING_SYN_SECONDS,
    why: "TCP_INCOMING_SYN, 6 s (RFC 6146 §3.5.2.2, §4; RFC 5382 REQ-4)",
};

/// A timeout: 1..=7 days, and at least the RFC floor unless short
/// timeouts are allowed.
fn timeout(
    text: &str,
    value: &Option<Spanned<i64>>,
    rule: &TimeoutRule,
    short_allowed: bool,
) -> Result<Duration, ConfigError> {
    let Some(value) = value else {
        return Ok(seconds(rule.default));
    };
    let number = integer_in(
        text,
        value,
        rule.key,
        1..=i64::from(MAXIMUM_TIMEOUT_SECONDS),
        "",
    )?;
    if number < i64::from(rule.minimum) && !short_allowed {
        return Err(ConfigError::at_span(
            text,
            value.span(),
            format!(
                "{} {number} is below the minimum {}; only a test or a lab may go \
                 lower, with allow_short_timeouts = true",
                rule.key, rule.why
            ),
        ));
    }
    Ok(Duration::from_secs(number.unsigned_abs()))
}

/// A capacity in `1..=maximum`.
fn capacity(
    text: &str,
    value: &Option<Spanned<i64>>,
    key: &str,
    maximum: u32,
    default: u32,
    why: &str,
) -> Result<u32, ConfigError> {
    match value {
        Some(value) => {
            let number = integer_in(text, value, key, 1..=i64::from(maximum), why)?;
            Ok(u32::try_from(number).unwrap_or(maximum))
        }
        None => Ok(default),
    }
}

/// `FIRST-LAST` or a single port, inside `allowed`.
fn parse_range(text: &str, protocol: &str, allowed: PortRange) -> Result<PortRange, String> {
    let what = if protocol == "icmp" {
        "identifier"
    } else {
        "port"
    };
    let malformed = || {
        format!(
            "{protocol} {what} range `{text}` is not FIRST-LAST or a single {what}, as in \
             \"1024-65535\""
        )
    };
    let (first, last) = match text.split_once('-') {
        Some((first, last)) => (first.trim(), last.trim()),
        None => (text.trim(), text.trim()),
    };
    if first.is_empty() || last.is_empty() {
        return Err(malformed());
    }
    let number = |part: &str| -> Result<u16, String> {
        if !part.bytes().all(|byte| byte.is_ascii_digit()) {
            return Err(malformed());
        }
        part.parse::<u16>()
            .ok()
            .filter(|port| allowed.contains(*port))
            .ok_or_else(|| {
                format!("{protocol} {what} range `{text}`: `{part}` is not a {what} in {allowed}")
            })
    };
    let first = number(first)?;
    let last = number(last)?;
    PortRange::new(first, last).ok_or_else(|| {
        format!("{protocol} {what} range `{text}` is empty: {first} is after {last}")
    })
}

/// `a.b.c.d` or `a.b.c.d/len` (a bare address is a /32), no host bits.
fn parse_pool4_prefix(text: &str) -> Result<Ipv4Prefix, String> {
    if text.contains('/') {
        text.parse::<Ipv4Prefix>()
    } else {
        let address: Ipv4Addr = text
            .parse()
            .map_err(|_| format!("`{text}` is not an IPv4 address or prefix"))?;
        Ipv4Prefix::new(address, 32).ok_or_else(|| format!("`{text}` is not an IPv4 address"))
    }
}

fn parse_protocol(text: &str) -> Option<Nat64Protocol> {
    match text {
        "tcp" => Some(Nat64Protocol::Tcp),
        "udp" => Some(Nat64Protocol::Udp),
        "icmp" => Some(Nat64Protocol::Icmp),
        _ => None,
    }
}

/// The addresses on the uplink that are someone on the IPv4 side (the
/// uplink's own address is not one of them: pool4 may hold it).
fn uplink_hosts(uplink: &UplinkConfig) -> Vec<(Ipv4Addr, String)> {
    let mut hosts: Vec<(Ipv4Addr, String)> = Vec::new();
    if uplink.prefix_length <= 30 {
        let subnet = uplink.prefix();
        hosts.push((
            subnet.network(),
            format!("the network address {} of the uplink", subnet.network()),
        ));
        let broadcast = last_address(subnet);
        hosts.push((
            broadcast,
            format!("the uplink's broadcast address {broadcast}"),
        ));
    }
    if let Some(gateway) = uplink.gateway {
        hosts.push((gateway, format!("the uplink gateway {gateway}")));
    }
    for route in &uplink.routes {
        hosts.push((
            route.via,
            format!(
                "{}, the next hop of uplink route {}",
                route.via, route.prefix
            ),
        ));
    }
    for neighbor in &uplink.neighbors {
        hosts.push((
            neighbor.address,
            format!("the static uplink neighbor {}", neighbor.address),
        ));
    }
    hosts
}

/// The `[nat64]` table, checked against `[translation]` and the uplink.
pub(crate) fn validate_nat64(
    text: &str,
    table: Spanned<Nat64Table>,
    translation: Option<&TranslationConfig>,
    uplink: Option<&UplinkPort>,
) -> Result<Nat64Config, ConfigError> {
    let table_span = table.span();
    let table = table.into_inner();
    let Some(translation) = translation else {
        return Err(ConfigError::at_span(
            text,
            table_span,
            "[nat64] needs a [translation] table: its pool6 is the prefix IPv6 hosts \
             reach IPv4 hosts under (RFC 6146 §3.5, RFC 6052)"
                .into(),
        ));
    };
    let Some(uplink) = uplink else {
        return Err(ConfigError::at_span(
            text,
            table_span,
            "[nat64] needs an IPv4 uplink (a [[port]] with [port.ipv4]): pool4 addresses \
             are used on it"
                .into(),
        ));
    };
    let pool4 = validate_pool4(text, &table, table_span, translation, &uplink.config)?;

    let filtering = match &table.filtering {
        None => Nat64Filtering::default(),
        Some(value) => match value.get_ref().as_str() {
            "endpoint-independent" => Nat64Filtering::EndpointIndependent,
            "address-dependent" => Nat64Filtering::AddressDependent,
            other => {
                return Err(ConfigError::at_span(
                    text,
                    value.span(),
                    format!(
                        "filtering `{other}` is not \"endpoint-independent\" or \
                         \"address-dependent\" (RFC 6146 §1.2.3, RFC 4787 §5)"
                    ),
                ));
            }
        },
    };

    let short = table.allow_short_timeouts.unwrap_or(false);
    let timeouts = Nat64Timeouts {
        udp: timeout(text, &table.udp_timeout_seconds, &UDP_RULE, short)?,
        tcp_established: timeout(
            text,
            &table.tcp_established_timeout_seconds,
            &TCP_ESTABLISHED_RULE,
            short,
        )?,
        tcp_transitory: timeout(
            text,
            &table.tcp_transitory_timeout_seconds,
            &TCP_TRANSITORY_RULE,
            short,
        )?,
        icmp: timeout(text, &table.icmp_timeout_seconds, &ICMP_RULE, short)?,
        tcp_incoming_syn: timeout(
            text,
            &table.tcp_incoming_syn_seconds,
            &TCP_INCOMING_SYN_RULE,
            short,
        )?,
    };

    let session_capacity = capacity(
        text,
        &table.sessions,
        "sessions",
        MAXIMUM_CAPACITY,
        DEFAULT_SESSIONS,
        "",
    )?;
    let binding_capacity = capacity(
        text,
        &table.bib_entries,
        "bib_entries",
        MAXIMUM_CAPACITY,
        DEFAULT_BINDINGS,
        "",
    )?;
    let sessions_per_source = capacity(
        text,
        &table.sessions_per_source,
        "sessions_per_source",
        session_capacity,
        DEFAULT_SESSIONS_PER_SOURCE.min(session_capacity),
        " (at most `sessions`)",
    )?;

    let static_bindings = validate_static_bindings(
        text,
        &table.static_entries,
        &pool4,
        translation,
        binding_capacity,
    )?;

    let held_incoming_syns = match &table.held_incoming_syns {
        Some(value) => integer_in(
            text,
            value,
            "held_incoming_syns",
            0..=i64::from(super::held_syn::MAXIMUM_CAPACITY),
            " (unsolicited inbound SYNs held for tcp_incoming_syn_seconds, RFC 6146 \
             §3.5.2.2; 0 drops them at once)",
        )? as u32,
        None => super::held_syn::DEFAULT_CAPACITY,
    };
    let fragment_capacity = match &table.fragments {
        Some(value) => integer_in(
            text,
            value,
            "fragments",
            0..=i64::from(MAXIMUM_FRAGMENTS),
            " (fragments held until their first fragment arrives, RFC 6146 §3.4; 0 \
             drops them)",
        )? as u32,
        None => DEFAULT_FRAGMENTS,
    };
    let fragment_timeout = timeout(text, &table.fragment_timeout_seconds, &FRAGMENT_RULE, short)?;
    if let Some(value) = &table.fragment_timeout_seconds
        && *value.get_ref() > i64::from(MAXIMUM_FRAGMENT_TIMEOUT_SECONDS)
    {
        return Err(ConfigError::at_span(
            text,
            value.span(),
            format!(
                "fragment_timeout_seconds {} is above {MAXIMUM_FRAGMENT_TIMEOUT_SECONDS}: a \
                 fragment is not worth keeping longer than reassembly would (RFC 8200 §4.5)",
                value.get_ref()
            ),
        ));
    }

    Ok(Nat64Config {
        pool4,
        filtering,
        timeouts,
        short_timeouts_allowed: short,
        session_capacity,
        binding_capacity,
        sessions_per_source,
        static_bindings,
        held_incoming_syns,
        incoming_syn_unreachable: table.incoming_syn_unreachable.unwrap_or(true),
        fragment_capacity,
        fragment_timeout,
    })
}

/// `pool4`: at least one entry, each a unicast prefix with valid ranges,
/// none ambiguous on the uplink (see the module's decisions).
fn validate_pool4(
    text: &str,
    table: &Nat64Table,
    table_span: Range<usize>,
    translation: &TranslationConfig,
    uplink: &UplinkConfig,
) -> Result<Vec<Pool4Entry>, ConfigError> {
    let Some(tables) = &table.pool4 else {
        return Err(ConfigError::at_span(
            text,
            table_span,
            "[nat64] needs pool4, the IPv4 addresses NAT64 shares, as in \
             pool4 = [{ prefix = \"192.0.2.1/32\" }]"
                .into(),
        ));
    };
    if tables.get_ref().is_empty() {
        return Err(ConfigError::at_span(
            text,
            tables.span(),
            "pool4 is empty: NAT64 needs at least one IPv4 address".into(),
        ));
    }
    let hosts = uplink_hosts(uplink);
    let mut pool4: Vec<Pool4Entry> = Vec::with_capacity(tables.get_ref().len());
    let mut addresses: u64 = 0;
    for entry in tables.get_ref() {
        let span = entry.prefix.span();
        let error = |message: String| ConfigError::at_span(text, span.clone(), message);
        if pool4.len() == MAXIMUM_POOL4_ENTRIES {
            return Err(error(format!(
                "too many pool4 entries: at most {MAXIMUM_POOL4_ENTRIES}"
            )));
        }
        let prefix = parse_pool4_prefix(entry.prefix.get_ref())
            .map_err(|message| error(format!("pool4: {message}")))?;
        if is_never_unicast(prefix.network()) || is_never_unicast(last_address(prefix)) {
            return Err(error(format!(
                "pool4 {prefix} holds addresses that are never unicast hosts (0.0.0.0/8, \
                 127.0.0.0/8, multicast, 240.0.0.0/4)"
            )));
        }
        addresses += prefix_size(prefix);
        if addresses > MAXIMUM_POOL4_ADDRESSES {
            return Err(error(format!(
                "pool4 {prefix} makes pool4 larger than {MAXIMUM_POOL4_ADDRESSES} addresses \
                 (a /16)"
            )));
        }
        if let Some(earlier) = pool4
            .iter()
            .find(|earlier| ipv4_prefixes_overlap(earlier.prefix, prefix))
        {
            return Err(error(format!(
                "pool4 {prefix} overlaps pool4 {}; each address is in one entry",
                earlier.prefix
            )));
        }
        if let Some(mapping) = translation
            .explicit_address_mappings
            .overlapping_ipv4(prefix)
        {
            return Err(error(format!(
                "pool4 {prefix} overlaps eam {mapping}: a packet to such an address would \
                 be both for NAT64 and for SIIT (RFC 7757)"
            )));
        }
        if let Some(pool) = translation
            .icmp_error_pool
            .prefixes()
            .iter()
            .find(|pool| ipv4_prefixes_overlap(**pool, prefix))
        {
            return Err(error(format!(
                "pool4 {prefix} overlaps icmp_error_pool {pool}: an address is either a \
                 NAT64 address or an RFC 6791 source, not both"
            )));
        }
        if let Some((_, who)) = hosts
            .iter()
            .find(|(host, _)| ipv4_prefix_contains(prefix, *host))
        {
            return Err(error(format!(
                "pool4 {prefix} holds {who}: that address is on the IPv4 side"
            )));
        }
        if let Some(route) = uplink
            .routes
            .iter()
            .find(|route| ipv4_prefixes_overlap(route.prefix, prefix))
        {
            return Err(error(format!(
                "pool4 {prefix} overlaps the uplink route {} via {}: those addresses are \
                 behind an IPv4 router",
                route.prefix, route.via
            )));
        }
        // At most MAXIMUM_POOL4_ADDRESSES lookups in all.
        let first = prefix.network().to_bits();
        let last = last_address(prefix).to_bits();
        if let Some(next_hop) = (first..=last)
            .map(Ipv4Addr::from_bits)
            .find(|address| translation.next_hops.get(*address).is_some())
        {
            return Err(error(format!(
                "pool4 {prefix} holds the IPv4 next hop {next_hop} of \
                 [[translation.next_hop]]: a next hop is a router, not a NAT64 address"
            )));
        }
        let range = |value: &Option<Spanned<String>>,
                     protocol: &str,
                     allowed: PortRange,
                     default: PortRange|
         -> Result<PortRange, ConfigError> {
            match value {
                Some(value) => parse_range(value.get_ref(), protocol, allowed)
                    .map_err(|message| ConfigError::at_span(text, value.span(), message)),
                None => Ok(default),
            }
        };
        let ports = PortRange {
            first: 1,
            last: u16::MAX,
        };
        let identifiers = PortRange {
            first: 0,
            last: u16::MAX,
        };
        pool4.push(Pool4Entry {
            prefix,
            tcp: range(&entry.tcp, "tcp", ports, DEFAULT_PORTS)?,
            udp: range(&entry.udp, "udp", ports, DEFAULT_PORTS)?,
            icmp: range(&entry.icmp, "icmp", identifiers, DEFAULT_ICMP_IDENTIFIERS)?,
        });
    }
    Ok(pool4)
}

/// `[[nat64.static]]`: each inside pool4 and its protocol's range, its
/// IPv6 side an IPv6 host NAT64 serves, none twice.
fn validate_static_bindings(
    text: &str,
    tables: &[StaticTable],
    pool4: &[Pool4Entry],
    translation: &TranslationConfig,
    binding_capacity: u32,
) -> Result<Vec<StaticBinding>, ConfigError> {
    let mut bindings: Vec<StaticBinding> = Vec::with_capacity(tables.len());
    for table in tables {
        let protocol_span = table.protocol.span();
        if bindings.len() == MAXIMUM_STATIC_BINDINGS {
            return Err(ConfigError::at_span(
                text,
                protocol_span,
                format!("too many static NAT64 entries: at most {MAXIMUM_STATIC_BINDINGS}"),
            ));
        }
        if u32::try_from(bindings.len()).unwrap_or(u32::MAX) == binding_capacity {
            return Err(ConfigError::at_span(
                text,
                protocol_span,
                format!(
                    "more static NAT64 entries than bib_entries ({binding_capacity}): each \
                     takes a BIB entry"
                ),
            ));
        }
        let protocol = parse_protocol(table.protocol.get_ref()).ok_or_else(|| {
            ConfigError::at_span(
                text,
                protocol_span.clone(),
                format!(
                    "protocol `{}` is not \"tcp\", \"udp\" or \"icmp\"",
                    table.protocol.get_ref()
                ),
            )
        })?;
        let name = protocol_name(protocol);
        let port_word = if protocol == Nat64Protocol::Icmp {
            "identifier"
        } else {
            "port"
        };

        let ipv6_span = table.ipv6.span();
        let ipv6_error = |message: String| ConfigError::at_span(text, ipv6_span.clone(), message);
        let ipv6: SocketAddrV6 = table.ipv6.get_ref().parse().map_err(|_| {
            ipv6_error(format!(
                "ipv6 `{}` is not [IPV6]:{}, as in \"[2001:db8:1::80]:80\"",
                table.ipv6.get_ref(),
                port_word.to_uppercase()
            ))
        })?;
        let address: Ipv6Addr = *ipv6.ip();
        if ipv6.scope_id() != 0
            || address.is_unspecified()
            || address.is_loopback()
            || address.is_multicast()
            || address.is_unicast_link_local()
            || address.to_ipv4_mapped().is_some()
        {
            return Err(ipv6_error(format!(
                "ipv6 {address} is not a global or unique-local unicast address of an \
                 IPv6 host"
            )));
        }
        if translation.pool6.cidr().contains_addr(&address) {
            return Err(ipv6_error(format!(
                "ipv6 {address} is inside pool6 {}, where IPv4 hosts are; NAT64 drops \
                 IPv6 sources there (RFC 6146 §3.5)",
                translation.pool6
            )));
        }
        if let Some(mapping) = translation.explicit_address_mappings.find_ipv6(address) {
            return Err(ipv6_error(format!(
                "ipv6 {address} is covered by eam {mapping}, so its packets are translated \
                 statelessly (SIIT) and never reach NAT64"
            )));
        }
        if protocol != Nat64Protocol::Icmp && ipv6.port() == 0 {
            return Err(ipv6_error(format!(
                "ipv6 {ipv6}: {name} port 0 is not a port"
            )));
        }

        let ipv4_span = table.ipv4.span();
        let ipv4_error = |message: String| ConfigError::at_span(text, ipv4_span.clone(), message);
        let ipv4: SocketAddrV4 = table.ipv4.get_ref().parse().map_err(|_| {
            ipv4_error(format!(
                "ipv4 `{}` is not IPV4:{}, as in \"192.0.2.1:8080\"",
                table.ipv4.get_ref(),
                port_word.to_uppercase()
            ))
        })?;
        let entry = pool4
            .iter()
            .find(|entry| entry.contains(*ipv4.ip()))
            .ok_or_else(|| {
                ipv4_error(format!(
                    "ipv4 {} is not in pool4; a static entry uses a pool4 address",
                    ipv4.ip()
                ))
            })?;
        let range = entry.range(protocol);
        if !range.contains(ipv4.port()) {
            return Err(ipv4_error(format!(
                "ipv4 {ipv4}: {port_word} {} is outside the {name} range {range} of pool4 {}",
                ipv4.port(),
                entry.prefix
            )));
        }

        if let Some((index, _)) = bindings
            .iter()
            .enumerate()
            .find(|(_, known)| known.protocol == protocol && known.ipv4 == ipv4)
        {
            return Err(ipv4_error(format!(
                "duplicate static {name} entry for {ipv4} (already entry {index})"
            )));
        }
        if let Some((index, _)) = bindings
            .iter()
            .enumerate()
            .find(|(_, known)| known.protocol == protocol && known.ipv6 == ipv6)
        {
            return Err(ipv6_error(format!(
                "duplicate static {name} entry for {ipv6} (already entry {index}); a BIB \
                 maps each IPv6 transport address once (RFC 6146 §3.1)"
            )));
        }
        bindings.push(StaticBinding {
            protocol,
            ipv6,
            ipv4,
        });
    }
    Ok(bindings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, parse};
    use alloc::string::ToString;

    const BASE: &str = r#"[[port]]
name = "lan0"
addresses = ["2001:db8:1::1/64"]

[[port]]
name = "wan4"

[port.ipv4]
address = "192.0.2.1/24"
gateway = "192.0.2.254"
routes = [{ prefix = "203.0.113.0/24", via = "192.0.2.253" }]

[[port.ipv4.neighbor]]
address = "192.0.2.252"
mac = "02:00:00:00:02:52"

[translation]
pool6 = "2001:db8:64::/96"
icmp_error_pool = ["198.51.100.200/30"]

[[translation.eam]]
ipv4 = "198.51.100.0/28"
ipv6 = "2001:db8:1::100/124"

[[translation.next_hop]]
ipv4 = "192.0.2.250"
local = true

[nat64]
pool4 = [
  { prefix = "192.0.2.1/32", tcp = "1024-65535", udp = "1024-65535", icmp = "1-65535" },
  { prefix = "192.0.2.16/30", tcp = "2000-2999" },
]
"#;

    fn ipv4(text: &str) -> Ipv4Addr {
        text.parse().unwrap()
    }

    fn config(text: &str) -> Config {
        match parse(text) {
            Ok(config) => config,
            Err(error) => panic!("{error}\n{text}"),
        }
    }

    fn nat64(text: &str) -> Nat64Config {
        config(text).nat64.expect("a [nat64] table")
    }

    /// `text` with `old` (which must occur) replaced by `new`.
    // The position-checking helpers of the `[translation]` tests.
    use crate::translation::config::tests::{assert_error_at, edit};

    fn with_nat64(keys: &str) -> String {
        format!("{BASE}{keys}")
    }

    #[test]
    fn defaults() {
        let nat64 = nat64(BASE);
        assert_eq!(nat64.filtering, Nat64Filtering::EndpointIndependent);
        assert_eq!(nat64.timeouts, Nat64Timeouts::default());
        assert_eq!(nat64.timeouts.udp, Duration::from_secs(300));
        assert_eq!(nat64.timeouts.tcp_established, Duration::from_secs(7200));
        assert_eq!(nat64.timeouts.tcp_transitory, Duration::from_secs(240));
        assert_eq!(nat64.timeouts.icmp, Duration::from_secs(60));
        assert_eq!(nat64.timeouts.tcp_incoming_syn, Duration::from_secs(6));
        assert_eq!(nat64.session_capacity, 65_536);
        assert_eq!(nat64.binding_capacity, 65_536);
        assert_eq!(nat64.sessions_per_source, 4_096);
        assert!(!nat64.short_timeouts_allowed);
        assert!(nat64.static_bindings.is_empty());
        assert_eq!(
            nat64.pool4,
            [
                Pool4Entry {
                    prefix: "192.0.2.1/32".parse().unwrap(),
                    tcp: PortRange::new(1024, 65_535).unwrap(),
                    udp: PortRange::new(1024, 65_535).unwrap(),
                    icmp: PortRange::new(1, 65_535).unwrap(),
                },
                Pool4Entry {
                    prefix: "192.0.2.16/30".parse().unwrap(),
                    tcp: PortRange::new(2000, 2999).unwrap(),
                    udp: DEFAULT_PORTS,
                    icmp: DEFAULT_ICMP_IDENTIFIERS,
                },
            ]
        );
        assert_eq!(
            nat64,
            Nat64Config::with_pool4(nat64.pool4.clone()),
            "with_pool4 gives the parser's defaults"
        );
    }

    #[test]
    fn every_key() {
        let nat64 = nat64(&with_nat64(
            "filtering = \"address-dependent\"\nudp_timeout_seconds = 600\n\
             tcp_established_timeout_seconds = 7440\ntcp_transitory_timeout_seconds = 300\n\
             icmp_timeout_seconds = 90\ntcp_incoming_syn_seconds = 8\nsessions = 1000\n\
             bib_entries = 500\nsessions_per_source = 1000\nallow_short_timeouts = false\n\n\
             [[nat64.static]]\nprotocol = \"tcp\"\nipv6 = \"[2001:db8:1::80]:80\"\n\
             ipv4 = \"192.0.2.1:8080\"\n\n\
             [[nat64.static]]\nprotocol = \"udp\"\nipv6 = \"[2001:db8:1::80]:80\"\n\
             ipv4 = \"192.0.2.1:8080\"\n\n\
             [[nat64.static]]\nprotocol = \"icmp\"\nipv6 = \"[2001:db8:1::80]:0\"\n\
             ipv4 = \"192.0.2.17:7\"\n",
        ));
        assert_eq!(nat64.filtering, Nat64Filtering::AddressDependent);
        assert_eq!(nat64.filtering.name(), "address-dependent");
        assert_eq!(
            nat64.timeouts,
            Nat64Timeouts {
                udp: Duration::from_secs(600),
                tcp_established: Duration::from_secs(7440),
                tcp_transitory: Duration::from_secs(300),
                icmp: Duration::from_secs(90),
                tcp_incoming_syn: Duration::from_secs(8),
            }
        );
        assert_eq!(nat64.session_capacity, 1000);
        assert_eq!(nat64.binding_capacity, 500);
        assert_eq!(nat64.sessions_per_source, 1000);
        assert_eq!(
            nat64.static_bindings,
            [
                StaticBinding {
                    protocol: Nat64Protocol::Tcp,
                    ipv6: "[2001:db8:1::80]:80".parse().unwrap(),
                    ipv4: "192.0.2.1:8080".parse().unwrap(),
                },
                StaticBinding {
                    protocol: Nat64Protocol::Udp,
                    ipv6: "[2001:db8:1::80]:80".parse().unwrap(),
                    ipv4: "192.0.2.1:8080".parse().unwrap(),
                },
                StaticBinding {
                    protocol: Nat64Protocol::Icmp,
                    ipv6: "[2001:db8:1::80]:0".parse().unwrap(),
                    ipv4: "192.0.2.17:7".parse().unwrap(),
                },
            ]
        );
    }

    #[test]
    fn held_syns_and_fragments() {
        let defaults = nat64(BASE);
        assert_eq!(defaults.held_incoming_syns, 1024);
        assert!(defaults.incoming_syn_unreachable);
        assert_eq!(defaults.fragment_capacity, 256);
        assert_eq!(defaults.fragment_timeout, Duration::from_secs(2));
        let set = nat64(&with_nat64(
            "held_incoming_syns = 0\nincoming_syn_unreachable = false\nfragments = 16\n\
             fragment_timeout_seconds = 5\n",
        ));
        assert_eq!(set.held_incoming_syns, 0);
        assert!(!set.incoming_syn_unreachable);
        assert_eq!(set.fragment_capacity, 16);
        assert_eq!(set.fragment_timeout, Duration::from_secs(5));
        let short = nat64(&with_nat64(
            "allow_short_timeouts = true\nfragment_timeout_seconds = 1\n",
        ));
        assert_eq!(short.fragment_timeout, Duration::from_secs(1));
        for (keys, at, needle) in [
            (
                "held_incoming_syns = -1\n",
                "-1",
                "held_incoming_syns -1 is out of range 0..=65536",
            ),
            ("held_incoming_syns = 70000\n", "70000", "RFC 6146 §3.5.2.2"),
            (
                "fragments = 4097\n",
                "4097",
                "fragments 4097 is out of range 0..=4096",
            ),
            (
                "fragment_timeout_seconds = 1\n",
                "1\n",
                "below the minimum FRAGMENT_MIN",
            ),
            ("fragment_timeout_seconds = 0\n", "0\n", "out of range"),
            ("fragment_timeout_seconds = 61\n", "61", "above 60"),
        ] {
            let text = with_nat64(keys);
            assert_error_at(&text, at, needle);
        }
    }

    #[test]
    fn pool4_queries() {
        let nat64 = nat64(BASE);
        for inside in ["192.0.2.1", "192.0.2.16", "192.0.2.19"] {
            assert!(nat64.contains_ipv4(ipv4(inside)), "{inside}");
        }
        for outside in ["192.0.2.2", "192.0.2.15", "192.0.2.20", "198.51.100.1"] {
            assert!(!nat64.contains_ipv4(ipv4(outside)), "{outside}");
        }
        assert_eq!(
            nat64.pool4_entry(ipv4("192.0.2.18")).map(|entry| entry.tcp),
            PortRange::new(2000, 2999)
        );
        assert_eq!(nat64.pool4_addresses(), 5);
        assert_eq!(nat64.pool4_ports(Nat64Protocol::Tcp), 64_512 + 4 * 1000);
        assert_eq!(nat64.pool4_ports(Nat64Protocol::Udp), 64_512 + 4 * 65_535);
        assert_eq!(nat64.pool4_ports(Nat64Protocol::Icmp), 65_535 + 4 * 65_536);
        assert_eq!(protocol_name(Nat64Protocol::Icmp), "icmp");
    }

    #[test]
    fn the_allocation_pool() {
        let nat64 = nat64(BASE);
        let pool = nat64.allocation_pool().expect("a valid pool4");
        assert_eq!(pool.address_count(), nat64.pool4_addresses());
        assert_eq!(pool.entries().len(), nat64.pool4.len());
        for (converted, entry) in pool.entries().iter().zip(&nat64.pool4) {
            assert_eq!(converted.prefix(), entry.prefix);
            for protocol in [Nat64Protocol::Tcp, Nat64Protocol::Udp, Nat64Protocol::Icmp] {
                let range = converted.range(protocol);
                assert_eq!(
                    (range.first(), range.last()),
                    (entry.range(protocol).first(), entry.range(protocol).last())
                );
            }
        }
        for address in ["192.0.2.1", "192.0.2.17", "192.0.2.2", "192.0.2.20"] {
            assert_eq!(
                pool.contains(ipv4(address)),
                nat64.contains_ipv4(ipv4(address)),
                "{address}"
            );
        }
        // The defaults are the allocator's.
        assert_eq!(
            DEFAULT_PORTS.first(),
            pool4::PortRange::ALL_BUT_ZERO.first()
        );
        assert_eq!(DEFAULT_PORTS.last(), pool4::PortRange::ALL_BUT_ZERO.last());
        assert_eq!(
            DEFAULT_ICMP_IDENTIFIERS.first(),
            pool4::PortRange::ALL.first()
        );
        assert_eq!(
            DEFAULT_ICMP_IDENTIFIERS.last(),
            pool4::PortRange::ALL.last()
        );
        // A hand-made overlapping pool4 does not convert.
        let mut overlapping = nat64.clone();
        overlapping.pool4.push(nat64.pool4[0]);
        assert!(overlapping.allocation_pool().is_none());
    }

    #[test]
    fn port_ranges() {
        let ports = PortRange::new(1, u16::MAX).unwrap();
        assert_eq!(
            parse_range("80", "tcp", ports),
            PortRange::new(80, 80).ok_or(String::new())
        );
        assert_eq!(
            parse_range(" 1 - 65535 ", "udp", ports).map(|range| range.count()),
            Ok(65_535)
        );
        assert!(
            parse_range("", "tcp", ports)
                .unwrap_err()
                .contains("is not FIRST-LAST")
        );
        assert!(
            parse_range("-", "tcp", ports)
                .unwrap_err()
                .contains("is not FIRST-LAST")
        );
        assert!(
            parse_range("1-2-3", "tcp", ports)
                .unwrap_err()
                .contains("is not FIRST-LAST")
        );
        assert!(
            parse_range("+1-2", "tcp", ports)
                .unwrap_err()
                .contains("is not FIRST-LAST")
        );
        assert!(
            parse_range("a-b", "tcp", ports)
                .unwrap_err()
                .contains("is not FIRST-LAST")
        );
        assert!(
            parse_range("0-100", "tcp", ports)
                .unwrap_err()
                .contains("`0` is not a port in 1-65535")
        );
        assert!(
            parse_range("1-65536", "udp", ports)
                .unwrap_err()
                .contains("`65536` is not a port in 1-65535")
        );
        assert!(
            parse_range("99999999999999999999", "udp", ports)
                .unwrap_err()
                .contains("is not a port")
        );
        assert!(
            parse_range("2000-1000", "tcp", ports)
                .unwrap_err()
                .contains("is empty: 2000 is after 1000")
        );
        let identifiers = PortRange::new(0, u16::MAX).unwrap();
        assert_eq!(
            parse_range("0-0", "icmp", identifiers),
            PortRange::new(0, 0).ok_or(String::new())
        );
        assert_eq!(
            PortRange::new(0, u16::MAX).map(|range| range.count()),
            Some(65_536)
        );
        assert_eq!(PortRange::new(2, 1), None);
        assert_eq!(DEFAULT_PORTS.to_string(), "1-65535");
        assert_eq!(DEFAULT_ICMP_IDENTIFIERS.to_string(), "0-65535");
    }

    #[test]
    fn pool4_errors() {
        assert_error_at(
            &edit(
                BASE,
                "pool4 = [",
                "pool4 = [\n  { prefix = \"192.0.2.33/27\" },",
            ),
            "\"192.0.2.33/27\"",
            "has bits set after the prefix length",
        );
        assert_error_at(
            &edit(
                BASE,
                "pool4 = [",
                "pool4 = [\n  { prefix = \"192.0.2.300\" },",
            ),
            "\"192.0.2.300\"",
            "is not an IPv4 address or prefix",
        );
        assert_error_at(
            &edit(BASE, "\"192.0.2.16/30\"", "\"192.0.2.0\""),
            "\"192.0.2.0\"",
            "holds the network address 192.0.2.0 of the uplink",
        );
        assert_error_at(
            &edit(BASE, "\"192.0.2.16/30\"", "\"192.0.2.0/28\""),
            "\"192.0.2.0/28\"",
            "overlaps pool4 192.0.2.1/32",
        );
        assert_error_at(
            &edit(BASE, "\"192.0.2.16/30\"", "\"198.51.100.8/30\""),
            "\"198.51.100.8/30\"",
            "overlaps eam 198.51.100.0/28",
        );
        assert_error_at(
            &edit(BASE, "\"192.0.2.16/30\"", "\"198.51.100.202\""),
            "\"198.51.100.202\"",
            "overlaps icmp_error_pool 198.51.100.200/30",
        );
        assert_error_at(
            &edit(BASE, "\"192.0.2.16/30\"", "\"192.0.2.254\""),
            "\"192.0.2.254\"",
            "holds the uplink gateway 192.0.2.254",
        );
        assert_error_at(
            &edit(BASE, "\"192.0.2.16/30\"", "\"192.0.2.255\""),
            "\"192.0.2.255\"",
            "holds the uplink's broadcast address 192.0.2.255",
        );
        assert_error_at(
            &edit(BASE, "\"192.0.2.16/30\"", "\"192.0.2.253\""),
            "\"192.0.2.253\"",
            "192.0.2.253, the next hop of uplink route 203.0.113.0/24",
        );
        assert_error_at(
            &edit(BASE, "\"192.0.2.16/30\"", "\"192.0.2.252\""),
            "\"192.0.2.252\"",
            "holds the static uplink neighbor 192.0.2.252",
        );
        assert_error_at(
            &edit(BASE, "\"192.0.2.16/30\"", "\"192.0.2.250\""),
            "\"192.0.2.250\"",
            "holds the IPv4 next hop 192.0.2.250 of [[translation.next_hop]]",
        );
        assert_error_at(
            &edit(BASE, "\"192.0.2.16/30\"", "\"203.0.113.0/25\""),
            "\"203.0.113.0/25\"",
            "overlaps the uplink route 203.0.113.0/24 via 192.0.2.253",
        );
        assert_error_at(
            &edit(BASE, "\"192.0.2.16/30\"", "\"127.0.0.1\""),
            "\"127.0.0.1\"",
            "never unicast",
        );
        assert_error_at(
            &edit(BASE, "\"192.0.2.16/30\"", "\"100.0.0.0/15\""),
            "\"100.0.0.0/15\"",
            "larger than 65536 addresses",
        );
        assert_error_at(
            &edit(BASE, "tcp = \"2000-2999\"", "tcp = \"2999-2000\""),
            "\"2999-2000\"",
            "tcp port range `2999-2000` is empty: 2999 is after 2000",
        );
        assert_error_at(
            &edit(BASE, "udp = \"1024-65535\"", "udp = \"1024-\""),
            "\"1024-\"",
            "udp port range `1024-` is not FIRST-LAST",
        );
        assert_error_at(
            &edit(BASE, "icmp = \"1-65535\"", "icmp = \"\""),
            "\"\"",
            "icmp identifier range `` is not FIRST-LAST",
        );
        assert_error_at(
            &edit(BASE, "icmp = \"1-65535\"", "icmp = 7"),
            "7 }",
            "invalid type",
        );
        assert_error_at(
            &edit(BASE, "icmp = \"1-65535\"", "sctp = \"1-2\""),
            "sctp",
            "unknown field `sctp`",
        );
        // The uplink's own address is allowed (BASE has it).
        assert!(nat64(BASE).contains_ipv4(ipv4("192.0.2.1")));
    }

    #[test]
    fn pool4_missing_or_empty() {
        let empty = edit(
            BASE,
            "pool4 = [\n  { prefix = \"192.0.2.1/32\", tcp = \"1024-65535\", udp = \
             \"1024-65535\", icmp = \"1-65535\" },\n  { prefix = \"192.0.2.16/30\", tcp = \
             \"2000-2999\" },\n]",
            "pool4 = []",
        );
        assert_error_at(&empty, "[]", "pool4 is empty");
        let missing = edit(&empty, "pool4 = []", "filtering = \"address-dependent\"");
        assert_error_at(&missing, "[nat64]", "[nat64] needs pool4");
        let too_many: String = (0..65)
            .map(|index| format!("{{ prefix = \"100.64.{index}.0/32\" }},\n"))
            .collect();
        let text = edit(&empty, "pool4 = []", &format!("pool4 = [\n{too_many}]"));
        assert_error_at(
            &text,
            "\"100.64.64.0/32\"",
            "too many pool4 entries: at most 64",
        );
    }

    #[test]
    fn needs_translation_and_uplink() {
        let without_translation = edit(
            BASE,
            "[translation]\npool6 = \"2001:db8:64::/96\"\nicmp_error_pool = \
             [\"198.51.100.200/30\"]\n\n[[translation.eam]]\nipv4 = \"198.51.100.0/28\"\n\
             ipv6 = \"2001:db8:1::100/124\"\n\n[[translation.next_hop]]\nipv4 = \
             \"192.0.2.250\"\nlocal = true\n",
            "",
        );
        // The uplink needs [translation] too, and is checked first.
        assert_error_at(
            &without_translation,
            "[port.ipv4]",
            "needs a [translation] table",
        );
        let no_uplink_either = edit(
            &without_translation,
            "[port.ipv4]\naddress = \"192.0.2.1/24\"\ngateway = \"192.0.2.254\"\nroutes = \
             [{ prefix = \"203.0.113.0/24\", via = \"192.0.2.253\" }]\n\n\
             [[port.ipv4.neighbor]]\naddress = \"192.0.2.252\"\nmac = \"02:00:00:00:02:52\"\n",
            "",
        );
        assert_error_at(
            &no_uplink_either,
            "[nat64]",
            "[nat64] needs a [translation] table: its pool6",
        );
        let no_uplink = "[translation]\npool6 = \"2001:db8:64::/96\"\n\n[nat64]\n\
                         pool4 = [{ prefix = \"192.0.2.1\" }]\n";
        assert_error_at(no_uplink, "[nat64]", "[nat64] needs an IPv4 uplink");
    }

    #[test]
    fn filtering_values() {
        assert_error_at(
            &with_nat64("filtering = \"port-dependent\"\n"),
            "\"port-dependent\"",
            "filtering `port-dependent` is not \"endpoint-independent\" or \"address-dependent\"",
        );
    }

    #[test]
    fn timeouts_below_the_rfc_minimums() {
        for (key, value, needle) in [
            (
                "udp_timeout_seconds",
                119,
                "below the minimum UDP_MIN, 120 s (RFC 6146 §3.5.1, §4)",
            ),
            (
                "tcp_established_timeout_seconds",
                7199,
                "below the minimum TCP_EST, 7200 s (RFC 6146 §3.5.2.2, §4",
            ),
            (
                "tcp_transitory_timeout_seconds",
                239,
                "below the minimum TCP_TRANS, 240 s (RFC 6146 §3.5.2.2, §4",
            ),
            (
                "icmp_timeout_seconds",
                59,
                "below the minimum 60 s (RFC 5508 §3.2 REQ-2",
            ),
            (
                "tcp_incoming_syn_seconds",
                5,
                "below the minimum TCP_INCOMING_SYN, 6 s (RFC 6146 §3.5.2.2, §4",
            ),
        ] {
            let text = with_nat64(&format!("{key} = {value}\n"));
            assert_error_at(&text, &format!("{value}\n"), needle);
            assert_error_at(&text, &format!("{value}\n"), "allow_short_timeouts = true");
            // Allowed with the switch, down to 1 s.
            let allowed = nat64(&with_nat64(&format!(
                "allow_short_timeouts = true\n{key} = 1\n"
            )));
            assert!(allowed.short_timeouts_allowed);
            // Never zero, never beyond 7 days.
            let zero = with_nat64(&format!("allow_short_timeouts = true\n{key} = 0\n"));
            assert_error_at(&zero, "0\n", "is out of range 1..=604800");
            let long = with_nat64(&format!("{key} = 604801\n"));
            assert_error_at(&long, "604801", "is out of range 1..=604800");
        }
        let short = nat64(&with_nat64(
            "allow_short_timeouts = true\nudp_timeout_seconds = 2\ntcp_incoming_syn_seconds = 1\n",
        ));
        assert_eq!(short.timeouts.udp, Duration::from_secs(2));
        assert_eq!(short.timeouts.tcp_incoming_syn, Duration::from_secs(1));
        assert_eq!(short.timeouts.icmp, Duration::from_secs(60));
    }

    #[test]
    fn capacities() {
        for key in ["sessions", "bib_entries", "sessions_per_source"] {
            let text = with_nat64(&format!("{key} = 0\n"));
            assert_error_at(&text, "0\n", &format!("{key} 0 is out of range 1..="));
        }
        assert_error_at(
            &with_nat64("sessions = 4194305\n"),
            "4194305",
            "sessions 4194305 is out of range 1..=4194304",
        );
        assert_error_at(
            &with_nat64("sessions = 100\nsessions_per_source = 101\n"),
            "101",
            "sessions_per_source 101 is out of range 1..=100 (at most `sessions`)",
        );
        // The default per-source limit shrinks to a small table.
        assert_eq!(
            nat64(&with_nat64("sessions = 100\n")).sessions_per_source,
            100
        );
    }

    const STATIC: &str = "\n[[nat64.static]]\nprotocol = \"tcp\"\nipv6 = \
                          \"[2001:db8:1::80]:80\"\nipv4 = \"192.0.2.1:8080\"\n";

    #[test]
    fn static_entry_errors() {
        let with_static = |protocol: &str, ipv6: &str, ipv4: &str| {
            format!(
                "{BASE}{STATIC}\n[[nat64.static]]\nprotocol = \"{protocol}\"\nipv6 = \
                 \"{ipv6}\"\nipv4 = \"{ipv4}\"\n"
            )
        };
        assert_error_at(
            &with_static("sctp", "[2001:db8:1::81]:80", "192.0.2.1:80"),
            "\"sctp\"",
            "protocol `sctp` is not \"tcp\", \"udp\" or \"icmp\"",
        );
        assert_error_at(
            &with_static("tcp", "2001:db8:1::81", "192.0.2.1:8081"),
            "\"2001:db8:1::81\"",
            "is not [IPV6]:PORT",
        );
        assert_error_at(
            &with_static("tcp", "[2001:db8:1::81]:80", "192.0.2.1"),
            "\"192.0.2.1\"",
            "is not IPV4:PORT",
        );
        assert_error_at(
            &with_static("tcp", "[2001:db8:1::81]:80", "192.0.2.2:8081"),
            "\"192.0.2.2:8081\"",
            "ipv4 192.0.2.2 is not in pool4",
        );
        assert_error_at(
            &with_static("tcp", "[2001:db8:1::81]:80", "192.0.2.17:3000"),
            "\"192.0.2.17:3000\"",
            "port 3000 is outside the tcp range 2000-2999 of pool4 192.0.2.16/30",
        );
        assert_error_at(
            &with_static("icmp", "[2001:db8:1::81]:1", "192.0.2.1:0"),
            "\"192.0.2.1:0\"",
            "identifier 0 is outside the icmp range 1-65535",
        );
        assert_error_at(
            &with_static("tcp", "[2001:db8:1::81]:80", "192.0.2.1:8080"),
            "\"192.0.2.1:8080\"",
            "duplicate static tcp entry for 192.0.2.1:8080 (already entry 0)",
        );
        assert_error_at(
            &with_static("tcp", "[2001:db8:1::80]:80", "192.0.2.1:8081"),
            "\"[2001:db8:1::80]:80\"",
            "duplicate static tcp entry for [2001:db8:1::80]:80 (already entry 0)",
        );
        assert_error_at(
            &with_static("tcp", "[2001:db8:64::c000:201]:80", "192.0.2.1:8081"),
            "\"[2001:db8:64::c000:201]:80\"",
            "is inside pool6 2001:db8:64::/96",
        );
        assert_error_at(
            &with_static("tcp", "[2001:db8:1::105]:80", "192.0.2.1:8081"),
            "\"[2001:db8:1::105]:80\"",
            "is covered by eam 198.51.100.0/28",
        );
        assert_error_at(
            &with_static("tcp", "[fe80::1]:80", "192.0.2.1:8081"),
            "\"[fe80::1]:80\"",
            "is not a global or unique-local unicast address",
        );
        assert_error_at(
            &with_static("tcp", "[ff02::1]:80", "192.0.2.1:8081"),
            "\"[ff02::1]:80\"",
            "is not a global or unique-local unicast address",
        );
        assert_error_at(
            &with_static("udp", "[2001:db8:1::81]:0", "192.0.2.1:8081"),
            "\"[2001:db8:1::81]:0\"",
            "udp port 0 is not a port",
        );
        assert_error_at(
            &format!("{BASE}bib_entries = 1\n{STATIC}{STATIC}"),
            "\"tcp\"",
            "more static NAT64 entries than bib_entries (1)",
        );
        assert_error_at(
            &format!("{BASE}{STATIC}nat = 1\n"),
            "nat = 1",
            "unknown field `nat`",
        );
        // The same transport addresses in another protocol's BIB are fine.
        let fine = with_static("udp", "[2001:db8:1::80]:80", "192.0.2.1:8080");
        assert_eq!(nat64(&fine).static_bindings.len(), 2);
    }

    #[test]
    fn unknown_keys() {
        assert_error_at(
            &with_nat64("udp_timeout = 300\n"),
            "udp_timeout = 300",
            "unknown field `udp_timeout`",
        );
    }
}
