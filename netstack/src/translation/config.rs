//! The translator's part of the configuration (legacy-ip builds): the `[translation]` table and the IPv4 uplink port `[port.ipv4]`, parsed and cross-checked with line and column on every error.
//!
//! `crate::config` owns the file and its error type; it hands the
//! deserialized tables here so that every IPv4 type stays inside the
//! translation module (ARCHITECTURE.md rule 1).
//!
//! # Shape
//! ```toml
//! [translation]
//! pool6 = "2001:db8:64::/96"            # required: RFC 6052 §2.2 prefix
//! well_known_prefix_rule = true         # RFC 6052 §3.1 (default true)
//! lowest_ipv6_mtu = 1280                # RFC 7915 §4.1, 1280..=9000
//! udp_zero_checksum = "compute"         # or "drop" (RFC 7915 §4.5)
//! traffic_class = "copy"                # or "zero" (RFC 7915 §4.1, §5.1)
//! refusal_errors = true                 # ICMP for refused packets (§4.4, §5.4)
//! icmp_error_pool = ["203.0.113.200/30"]  # RFC 6791 sources
//!
//! [[translation.eam]]                   # RFC 7757 explicit address mapping
//! ipv4 = "198.51.100.0/28"              # a bare address means /32
//! ipv6 = "2001:db8:1::/124"             # a bare address means /128
//!
//! [[port]]
//! name = "wan4"
//! [port.ipv4]                           # this port is the IPv4 uplink
//! address = "192.0.2.1/24"
//! gateway = "192.0.2.254"               # optional: 0.0.0.0/0 via it
//! routes = [{ prefix = "203.0.113.0/24", via = "192.0.2.253" }]
//! [[port.ipv4.neighbor]]                # optional static ARP entries
//! address = "192.0.2.254"
//! mac = "02:00:00:00:02:54"
//! ```
//! `eam` may also be written as an array of inline tables,
//! `eam = [{ ipv4 = "...", ipv6 = "..." }]`: TOML makes both forms the same.
//!
//! # Decisions
//! - `pool6` stays required. IPv4 routes live in the one IPv6 routing
//!   table under `pool6` (ARCHITECTURE.md rule 2), the uplink's own routes
//!   included, so a translator without `pool6` could reach no IPv4
//!   network. [`StatelessAddresses`] itself accepts `None` for EAM-only
//!   setups.
//! - EAM suffix lengths must be equal (RFC 7757 §3.2 only requires the IPv4
//!   suffix to be no longer): with a longer IPv6 suffix, many IPv6 addresses
//!   share one IPv4 address and answers come back to another one.
//! - Overlapping EAM prefixes, identical or nested, in either column are
//!   refused (RFC 7757 §5; see `explicit_address_mapping`). An EAM IPv6
//!   prefix may not overlap `pool6` either: an IPv4 address mapped by
//!   RFC 6052 into the EAM's range would come back as a different one.
//! - An EAM IPv4 prefix may lie inside the uplink's subnet (the translator
//!   then answers ARP for it), but may not hold the uplink's own address,
//!   its gateway, a route's next hop or a static neighbor, nor overlap a
//!   static uplink route or the RFC 6791 pool: each would leave an address
//!   both an IPv6 host and something on the IPv4 side.
//! - With an uplink, the gateway and every route's `via` are added to the
//!   next-hop table as `local` (this router's translator), so route-file
//!   lines may name them without a `[[translation.next_hop]]`; a `local`
//!   next hop must be on the uplink's link, where ARP can reach it.
//! - At most one uplink port for now.

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::net::{Ipv4Addr, Ipv6Addr};
use core::ops::Range;

use serde::Deserialize;
use smoltcp::wire::Ipv6Cidr;
use toml::Spanned;

use super::address_mapping::{NON_GLOBAL_BLOCKS, TranslationPrefix};
use super::explicit_address_mapping::{
    ExplicitAddressMapping, ExplicitAddressMappingTable, MAXIMUM_ENTRIES, TableError,
};
use super::route_mapping::{Ipv4Prefix, MappedNextHop, NextHopTable, RouteMapper};
use super::stateless_addresses::{
    IcmpErrorPool, IcmpErrorPoolError, StatelessAddresses, ipv4_prefix_contains,
    ipv4_prefixes_overlap, is_never_unicast,
};
use super::{TrafficClassPolicy, TranslationSettings, UdpZeroChecksum};
use crate::config::{
    ConfigError, MAXIMUM_MTU, MAXIMUM_TRANSLATION_NEXT_HOPS, MINIMUM_MTU, PortConfig, find_port,
    integer_in, on_link, parse_mac, parse_prefix,
};
use crate::route_file::{NextHop, Route};

/// The most static routes of the uplink (`routes`).
pub const MAXIMUM_UPLINK_ROUTES: usize = 4_096;

/// The most static ARP entries of the uplink (`[[port.ipv4.neighbor]]`).
pub const MAXIMUM_UPLINK_NEIGHBORS: usize = 4_096;

/// The `[translation]` table, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TranslationConfig {
    /// The translation prefix (`pool6`, RFC 6052 §2.2).
    pub pool6: TranslationPrefix,
    /// IPv4 next hop → IPv6 next hop or the local translator
    /// (`[[translation.next_hop]]`, plus the uplink's gateway and route next
    /// hops as local).
    pub next_hops: NextHopTable,
    /// The RFC 7757 table (`[[translation.eam]]`).
    pub explicit_address_mappings: ExplicitAddressMappingTable,
    /// The RFC 6791 pool (`icmp_error_pool`).
    pub icmp_error_pool: IcmpErrorPool,
    /// `lowest_ipv6_mtu`, `udp_zero_checksum`, `traffic_class`.
    pub settings: TranslationSettings,
    /// `well_known_prefix_rule` (RFC 6052 §3.1), default true.
    pub well_known_prefix_rule: bool,
}

impl TranslationConfig {
    /// The route-file mapper for IPv4 lines, with the well-known-prefix
    /// rule as configured.
    pub fn route_mapper(&self) -> RouteMapper {
        let mapper = RouteMapper::new(self.pool6, self.next_hops.clone());
        if self.well_known_prefix_rule {
            mapper
        } else {
            mapper.without_well_known_prefix_rule()
        }
    }

    /// The address translator of this table (and of `uplink`, if any):
    /// EAM, `pool6`, the RFC 6791 pool, the uplink address; `hash_key`
    /// keys the RFC 6791 pool choice.
    pub fn address_translator(
        &self,
        uplink: Option<&UplinkConfig>,
        hash_key: u64,
    ) -> StatelessAddresses {
        let mut translator =
            StatelessAddresses::new(self.explicit_address_mappings.clone(), Some(self.pool6))
                .with_icmp_error_pool(self.icmp_error_pool.clone())
                .with_hash_key(hash_key);
        if !self.well_known_prefix_rule {
            translator = translator.without_well_known_prefix_rule();
        }
        if let Some(uplink) = uplink {
            translator = translator.with_uplink_address(uplink.address, uplink.prefix_length);
        }
        translator
    }

    /// Whether the whole IPv4 `prefix` is forbidden under `pool6` (the
    /// well-known prefix with the rule on, and the prefix inside a
    /// non-global block, RFC 6052 §3.1).
    fn forbids(&self, prefix: Ipv4Prefix) -> bool {
        self.well_known_prefix_rule
            && self.pool6.is_well_known()
            && NON_GLOBAL_BLOCKS
                .iter()
                .any(|block| block.contains_prefix(prefix.network(), prefix.length()))
    }

    /// The uplink's routes as IPv6 routes under `pool6` for the one
    /// routing table (ARCHITECTURE.md rule 2): each prefix mapped with
    /// [`TranslationPrefix::embed_prefix`], next hop
    /// `NextHop::Translate { gateway }` with the gateway's `pool6`-embedded
    /// address, or `::` for the uplink's own subnet (on-link: resolve the
    /// destination itself). A prefix RFC 6052 §3.1 forbids under the
    /// well-known prefix is left out (only the connected prefix can be:
    /// static routes like that are configuration errors).
    pub fn uplink_routes_under_pool6(&self, uplink: &UplinkConfig) -> Vec<Route> {
        uplink
            .routes()
            .into_iter()
            .filter(|route| !self.forbids(route.prefix))
            .map(|route| Route {
                prefix: self
                    .pool6
                    .embed_prefix(route.prefix.network(), route.prefix.length()),
                next_hop: NextHop::Translate {
                    gateway: match route.next_hop {
                        UplinkNextHop::OnLink => Ipv6Addr::UNSPECIFIED,
                        UplinkNextHop::Gateway(gateway) => self.pool6.embed(gateway),
                    },
                },
            })
            .collect()
    }
}

/// The IPv4 side of the uplink port (`[port.ipv4]`), validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UplinkConfig {
    /// The port's IPv4 address (host bits kept).
    pub address: Ipv4Addr,
    /// The length of the port's IPv4 prefix, 1..=32.
    pub prefix_length: u8,
    /// `address/prefix_length` with the host bits cleared.
    subnet: Ipv4Prefix,
    /// The default gateway (`gateway`), inside the prefix.
    pub gateway: Option<Ipv4Addr>,
    /// Static routes (`routes`), each via an address inside the prefix.
    pub routes: Vec<UplinkStaticRoute>,
    /// Static ARP entries (`[[port.ipv4.neighbor]]`).
    pub neighbors: Vec<UplinkNeighbor>,
}

/// One of `routes = [{ prefix, via }]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UplinkStaticRoute {
    /// The destination prefix.
    pub prefix: Ipv4Prefix,
    /// The next hop, on the uplink's link.
    pub via: Ipv4Addr,
}

/// One `[[port.ipv4.neighbor]]`: a static ARP entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UplinkNeighbor {
    /// The neighbor's IPv4 address, on the uplink's link.
    pub address: Ipv4Addr,
    /// Its MAC address.
    pub mac: [u8; 6],
}

/// Where an uplink route sends packets after translation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UplinkNextHop {
    /// To the destination itself, on the uplink's link (ARP for it).
    OnLink,
    /// To this IPv4 router on the uplink's link.
    Gateway(Ipv4Addr),
}

/// An IPv4 route of the uplink.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UplinkRoute {
    /// The destination.
    pub prefix: Ipv4Prefix,
    /// The next hop.
    pub next_hop: UplinkNextHop,
}

impl UplinkConfig {
    /// The uplink's subnet (the address with its host bits cleared).
    pub fn prefix(&self) -> Ipv4Prefix {
        self.subnet
    }

    /// Whether `address` is on the uplink's link.
    pub fn is_on_link(&self, address: Ipv4Addr) -> bool {
        ipv4_prefix_contains(self.prefix(), address)
    }

    /// The IPv4 routes: the connected subnet (on-link), 0.0.0.0/0 via the
    /// gateway if there is one, then the static routes in file order.
    pub fn routes(&self) -> Vec<UplinkRoute> {
        let mut routes = Vec::with_capacity(self.routes.len() + 2);
        routes.push(UplinkRoute {
            prefix: self.prefix(),
            next_hop: UplinkNextHop::OnLink,
        });
        if let Some(gateway) = self.gateway
            && let Some(everything) = Ipv4Prefix::new(Ipv4Addr::UNSPECIFIED, 0)
        {
            routes.push(UplinkRoute {
                prefix: everything,
                next_hop: UplinkNextHop::Gateway(gateway),
            });
        }
        routes.extend(self.routes.iter().map(|route| UplinkRoute {
            prefix: route.prefix,
            next_hop: UplinkNextHop::Gateway(route.via),
        }));
        routes
    }
}

/// The uplink port: its index among the `[[port]]` tables and its IPv4 side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UplinkPort {
    /// The index of the `[[port]]` table (and NIC).
    pub port: usize,
    /// The IPv4 side.
    pub config: UplinkConfig,
}

/// `address/length` (length at most 32) with the host bits cleared.
fn network_of(address: Ipv4Addr, length: u8) -> Option<Ipv4Prefix> {
    let length = length.min(32);
    let mask = u32::MAX.checked_shl(32 - u32::from(length)).unwrap_or(0);
    Ipv4Prefix::new(Ipv4Addr::from_bits(address.to_bits() & mask), length)
}

// ---------------------------------------------------------------------------
// Deserialization.

/// `[translation]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TranslationTable {
    pool6: Spanned<String>,
    #[serde(default)]
    next_hop: Vec<TranslationNextHopTable>,
    #[serde(default)]
    eam: Vec<ExplicitAddressMappingEntry>,
    #[serde(default)]
    icmp_error_pool: Vec<Spanned<String>>,
    #[serde(default)]
    lowest_ipv6_mtu: Option<Spanned<i64>>,
    #[serde(default)]
    udp_zero_checksum: Option<Spanned<String>>,
    #[serde(default)]
    traffic_class: Option<Spanned<String>>,
    #[serde(default)]
    well_known_prefix_rule: Option<bool>,
    #[serde(default)]
    refusal_errors: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TranslationNextHopTable {
    ipv4: Spanned<String>,
    #[serde(default)]
    via: Option<Spanned<String>>,
    #[serde(default)]
    port: Option<Spanned<String>>,
    #[serde(default)]
    local: Option<Spanned<bool>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExplicitAddressMappingEntry {
    ipv4: Spanned<String>,
    ipv6: Spanned<String>,
}

/// `[port.ipv4]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UplinkTable {
    address: Spanned<String>,
    #[serde(default)]
    gateway: Option<Spanned<String>>,
    #[serde(default)]
    routes: Vec<UplinkRouteTable>,
    #[serde(default)]
    neighbor: Vec<UplinkNeighborTable>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UplinkRouteTable {
    prefix: Spanned<String>,
    via: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UplinkNeighborTable {
    address: Spanned<String>,
    mac: Spanned<String>,
}

// ---------------------------------------------------------------------------
// Validation.

/// Where the translation table's values are, for errors found later.
pub(crate) struct TranslationSpans {
    /// The `ipv4` value of each EAM, in file order.
    explicit_ipv4: Vec<(Ipv4Prefix, Range<usize>)>,
    /// Each `icmp_error_pool` entry.
    pool: Vec<(Ipv4Prefix, Range<usize>)>,
    /// The `ipv4` value of each next hop, with its mapping.
    next_hops: Vec<(Ipv4Addr, MappedNextHop, Range<usize>)>,
}

/// `a.b.c.d` or `a.b.c.d/len` (a bare address is a /32, RFC 7757 §3.2),
/// no bits after the length.
fn parse_ipv4_prefix_or_address(text: &str) -> Result<Ipv4Prefix, String> {
    if text.contains('/') {
        text.parse::<Ipv4Prefix>()
    } else {
        let address: Ipv4Addr = text
            .parse()
            .map_err(|_| format!("`{text}` is not an IPv4 address or prefix"))?;
        network_of(address, 32).ok_or_else(|| format!("`{text}` is not an IPv4 address"))
    }
}

/// `x::y` or `x::y/len` (a bare address is a /128), no bits after the
/// length.
fn parse_ipv6_prefix_or_address(text: &str) -> Result<Ipv6Cidr, String> {
    if text.contains('/') {
        parse_prefix(text)
    } else {
        let address: Ipv6Addr = text
            .parse()
            .map_err(|_| format!("`{text}` is not an IPv6 address or prefix"))?;
        Ok(Ipv6Cidr::new(address, 128))
    }
}

/// An IPv4 address that must be a unicast address.
fn parse_unicast(text: &str, what: &str) -> Result<Ipv4Addr, String> {
    let address: Ipv4Addr = text
        .parse()
        .map_err(|_| format!("{what} `{text}` is not a dotted-decimal IPv4 address"))?;
    if is_never_unicast(address) {
        return Err(format!(
            "{what} {address} is not a unicast address (0.0.0.0/8, 127.0.0.0/8, multicast \
             and 240.0.0.0/4 never are)"
        ));
    }
    Ok(address)
}

/// The `[translation]` table: `pool6`, next hops, EAMs, the RFC 6791 pool
/// and the settings.
pub(crate) fn validate_translation(
    text: &str,
    table: TranslationTable,
    ports: &[PortConfig],
) -> Result<(TranslationConfig, TranslationSpans), ConfigError> {
    let pool6_span = table.pool6.span();
    let pool6_prefix = parse_prefix(table.pool6.get_ref())
        .map_err(|message| ConfigError::at_span(text, pool6_span.clone(), message))?;
    let pool6 = TranslationPrefix::new(pool6_prefix).map_err(|error| {
        ConfigError::at_span(text, pool6_span.clone(), format!("pool6: {error}"))
    })?;
    let well_known_prefix_rule = table.well_known_prefix_rule.unwrap_or(true);

    let mut spans = TranslationSpans {
        explicit_ipv4: Vec::new(),
        pool: Vec::new(),
        next_hops: Vec::new(),
    };
    let next_hops = validate_next_hops(text, table.next_hop, ports, &mut spans)?;

    // Explicit address mappings.
    let mut entries: Vec<ExplicitAddressMapping> = Vec::with_capacity(table.eam.len());
    let mut entry_spans: Vec<(Range<usize>, Range<usize>)> = Vec::with_capacity(table.eam.len());
    for entry in &table.eam {
        let ipv4_span = entry.ipv4.span();
        let ipv6_span = entry.ipv6.span();
        if entries.len() == MAXIMUM_ENTRIES {
            return Err(ConfigError::at_span(
                text,
                ipv4_span,
                format!("too many explicit address mappings: at most {MAXIMUM_ENTRIES}"),
            ));
        }
        let ipv4 = parse_ipv4_prefix_or_address(entry.ipv4.get_ref()).map_err(|message| {
            ConfigError::at_span(text, ipv4_span.clone(), format!("eam ipv4: {message}"))
        })?;
        let ipv6 = parse_ipv6_prefix_or_address(entry.ipv6.get_ref()).map_err(|message| {
            ConfigError::at_span(text, ipv6_span.clone(), format!("eam ipv6: {message}"))
        })?;
        let ipv4_suffix = 32 - ipv4.length();
        let ipv6_suffix = 128 - ipv6.prefix_len();
        if ipv4_suffix != ipv6_suffix {
            let matching = 128 - ipv4_suffix;
            return Err(ConfigError::at_span(
                text,
                ipv6_span,
                format!(
                    "eam {ipv4} ↔ {ipv6}: suffix lengths differ ({ipv4_suffix} IPv4 bits, \
                     {ipv6_suffix} IPv6 bits); pure6 maps address for address, so a /{} \
                     needs an IPv6 /{matching} (RFC 7757 §3.2)",
                    ipv4.length()
                ),
            ));
        }
        if is_never_unicast(ipv4.network()) {
            return Err(ConfigError::at_span(
                text,
                ipv4_span,
                format!(
                    "eam {ipv4} holds addresses that are never unicast hosts (0.0.0.0/8, \
                     127.0.0.0/8, multicast, 240.0.0.0/4)"
                ),
            ));
        }
        if overlaps_ipv6(ipv6, pool6.cidr()) {
            return Err(ConfigError::at_span(
                text,
                ipv6_span,
                format!(
                    "eam {ipv6} overlaps pool6 {pool6}: addresses there would translate \
                     differently in the two directions (RFC 7757 §5); use an IPv6 prefix \
                     outside pool6"
                ),
            ));
        }
        let mapping = ExplicitAddressMapping::new(ipv4, ipv6).map_err(|error| {
            ConfigError::at_span(text, ipv6_span.clone(), format!("eam: {error}"))
        })?;
        entries.push(mapping);
        entry_spans.push((ipv4_span, ipv6_span));
    }
    let explicit_address_mappings =
        ExplicitAddressMappingTable::new(entries.clone()).map_err(|error| {
            let describe = |index: usize| {
                entries
                    .get(index)
                    .map_or(String::new(), |entry| format!("{entry}"))
            };
            match error {
                TableError::TooManyEntries { index } => ConfigError::at_span(
                    text,
                    entry_spans.get(index).map_or(0..0, |spans| spans.0.clone()),
                    format!("too many explicit address mappings: at most {MAXIMUM_ENTRIES}"),
                ),
                TableError::OverlappingIpv4 { earlier, later } => ConfigError::at_span(
                    text,
                    entry_spans.get(later).map_or(0..0, |spans| spans.0.clone()),
                    format!(
                        "eam {} overlaps the IPv4 prefix of eam {} (entry {earlier}); \
                         overlapping mappings translate asymmetrically (RFC 7757 §5)",
                        describe(later),
                        describe(earlier)
                    ),
                ),
                TableError::OverlappingIpv6 { earlier, later } => ConfigError::at_span(
                    text,
                    entry_spans.get(later).map_or(0..0, |spans| spans.1.clone()),
                    format!(
                        "eam {} overlaps the IPv6 prefix of eam {} (entry {earlier}); \
                         overlapping mappings translate asymmetrically (RFC 7757 §5)",
                        describe(later),
                        describe(earlier)
                    ),
                ),
            }
        })?;
    for (entry, (ipv4_span, _)) in entries.iter().zip(&entry_spans) {
        spans.explicit_ipv4.push((entry.ipv4(), ipv4_span.clone()));
    }

    // The RFC 6791 pool.
    let mut pool_prefixes: Vec<Ipv4Prefix> = Vec::with_capacity(table.icmp_error_pool.len());
    for entry in &table.icmp_error_pool {
        let prefix = parse_ipv4_prefix_or_address(entry.get_ref()).map_err(|message| {
            ConfigError::at_span(text, entry.span(), format!("icmp_error_pool: {message}"))
        })?;
        if let Some(mapping) = explicit_address_mappings.overlapping_ipv4(prefix) {
            return Err(ConfigError::at_span(
                text,
                entry.span(),
                format!(
                    "icmp_error_pool {prefix} overlaps eam {mapping}: an address is either the \
                     translator's own (RFC 6791) or an IPv6 host's (RFC 7757)"
                ),
            ));
        }
        pool_prefixes.push(prefix);
        spans.pool.push((prefix, entry.span()));
    }
    let icmp_error_pool = IcmpErrorPool::new(pool_prefixes).map_err(|error| {
        let index = match error {
            IcmpErrorPoolError::TooManyPrefixes { index }
            | IcmpErrorPoolError::NotUnicast { index }
            | IcmpErrorPoolError::Overlap { later: index, .. } => index,
        };
        match spans.pool.get(index) {
            Some((prefix, span)) => ConfigError::at_span(
                text,
                span.clone(),
                format!("icmp_error_pool {prefix}: {error}"),
            ),
            None => ConfigError::at_span(text, 0..0, format!("icmp_error_pool: {error}")),
        }
    })?;

    // Settings.
    let lowest_ipv6_mtu = match &table.lowest_ipv6_mtu {
        Some(value) => u16::try_from(integer_in(
            text,
            value,
            "lowest_ipv6_mtu",
            i64::from(MINIMUM_MTU)..=i64::from(MAXIMUM_MTU),
            " (IPv6 links carry at least 1280, RFC 8200 §5; RFC 7915 §4.1)",
        )?)
        .unwrap_or(MINIMUM_MTU),
        None => MINIMUM_MTU,
    };
    let udp_zero_checksum = match &table.udp_zero_checksum {
        None => UdpZeroChecksum::default(),
        Some(value) => match value.get_ref().as_str() {
            "compute" => UdpZeroChecksum::Compute,
            "drop" => UdpZeroChecksum::Drop,
            other => {
                return Err(ConfigError::at_span(
                    text,
                    value.span(),
                    format!(
                        "udp_zero_checksum `{other}` is not \"compute\" or \"drop\" \
                         (RFC 7915 §4.5)"
                    ),
                ));
            }
        },
    };
    let traffic_class = match &table.traffic_class {
        None => TrafficClassPolicy::default(),
        Some(value) => match value.get_ref().as_str() {
            "copy" => TrafficClassPolicy::Copy,
            "zero" => TrafficClassPolicy::Zero,
            other => {
                return Err(ConfigError::at_span(
                    text,
                    value.span(),
                    format!("traffic_class `{other}` is not \"copy\" or \"zero\" (RFC 7915 §4.1)"),
                ));
            }
        },
    };

    Ok((
        TranslationConfig {
            pool6,
            next_hops,
            explicit_address_mappings,
            icmp_error_pool,
            settings: TranslationSettings {
                lowest_ipv6_mtu,
                udp_zero_checksum,
                traffic_class,
                refusal_errors: table.refusal_errors.unwrap_or(true),
            },
            well_known_prefix_rule,
        },
        spans,
    ))
}

/// Whether two IPv6 prefixes share an address.
fn overlaps_ipv6(first: Ipv6Cidr, second: Ipv6Cidr) -> bool {
    let length = first.prefix_len().min(second.prefix_len()).min(128);
    let mask = u128::MAX.checked_shl(128 - u32::from(length)).unwrap_or(0);
    first.address().to_bits() & mask == second.address().to_bits() & mask
}

/// Every `[[translation.next_hop]]`, each `via` an address (link-local
/// needs `port`; a global one must be on-link on `port`, or on some port)
/// or `local = true`.
fn validate_next_hops(
    text: &str,
    tables: Vec<TranslationNextHopTable>,
    ports: &[PortConfig],
    spans: &mut TranslationSpans,
) -> Result<NextHopTable, ConfigError> {
    let mut next_hops = NextHopTable::new();
    for entry in tables {
        let ipv4_span = entry.ipv4.span();
        if next_hops.len() == MAXIMUM_TRANSLATION_NEXT_HOPS {
            return Err(ConfigError::at_span(
                text,
                ipv4_span,
                format!(
                    "too many next hops: at most {MAXIMUM_TRANSLATION_NEXT_HOPS} \
                     [[translation.next_hop]] tables"
                ),
            ));
        }
        let local = entry.local.as_ref().is_some_and(|local| *local.get_ref());
        let next_hop = match (&entry.via, local) {
            (Some(via), true) => {
                return Err(ConfigError::at_span(
                    text,
                    via.span(),
                    "a next hop is either `via` an address or `local = true`, not both".to_owned(),
                ));
            }
            (None, true) => {
                if let Some(port) = &entry.port {
                    return Err(ConfigError::at_span(
                        text,
                        port.span(),
                        "a `local = true` next hop takes no `port`".to_owned(),
                    ));
                }
                MappedNextHop::LocalTranslator
            }
            (None, false) => {
                return Err(ConfigError::at_span(
                    text,
                    ipv4_span,
                    format!(
                        "next hop {} needs `via = \"IPV6\"` or `local = true`",
                        entry.ipv4.get_ref()
                    ),
                ));
            }
            (Some(via), false) => {
                let port_index = match &entry.port {
                    Some(name) => Some(find_port(text, ports, name)?),
                    None => None,
                };
                let port_name = port_index.map(|index| ports[index].name.as_str());
                let parsed = crate::route_file::parse_next_hop(via.get_ref(), port_name)
                    .map_err(|message| ConfigError::at_span(text, via.span(), message))?;
                let NextHop::Via { address, port } = parsed else {
                    return Err(ConfigError::at_span(
                        text,
                        via.span(),
                        "via must name an IPv6 next hop".to_owned(),
                    ));
                };
                if !address.is_unicast_link_local() {
                    let reachable = match port_index {
                        Some(index) => on_link(&ports[index], address),
                        None => ports.iter().any(|port| on_link(port, address)),
                    };
                    if !reachable {
                        let where_ = port_name
                            .map_or(String::from("any port"), |name| format!("port `{name}`"));
                        return Err(ConfigError::at_span(
                            text,
                            via.span(),
                            format!(
                                "via {address} is not on-link on {where_} \
                                 (recursive next hops are not supported)"
                            ),
                        ));
                    }
                }
                MappedNextHop::Address { address, port }
            }
        };
        next_hops
            .insert_text(entry.ipv4.get_ref(), next_hop)
            .map_err(|message| ConfigError::at_span(text, ipv4_span.clone(), message))?;
        if let Ok(address) = entry.ipv4.get_ref().parse::<Ipv4Addr>() {
            spans.next_hops.push((address, next_hop, ipv4_span));
        }
    }
    Ok(next_hops)
}

/// The `[port.ipv4]` tables of all ports (at most one), checked against
/// the validated `[translation]` table. Adds the uplink's gateway and
/// route next hops to the next-hop table as local.
pub(crate) fn validate_uplinks(
    text: &str,
    tables: Vec<(usize, Spanned<UplinkTable>)>,
    translation: Option<(&mut TranslationConfig, &TranslationSpans)>,
    ports: &[PortConfig],
) -> Result<Option<UplinkPort>, ConfigError> {
    let mut tables = tables.into_iter();
    let Some((port, table)) = tables.next() else {
        return Ok(None);
    };
    if let Some((second, second_table)) = tables.next() {
        return Err(ConfigError::at_span(
            text,
            second_table.span(),
            format!(
                "port `{}` is a second IPv4 uplink; pure6 supports one uplink port for now \
                 (port `{}` is the uplink)",
                ports.get(second).map_or("?", |port| port.name.as_str()),
                ports.get(port).map_or("?", |port| port.name.as_str()),
            ),
        ));
    }
    let port_name = ports.get(port).map_or("?", |port| port.name.as_str());
    let table_span = table.span();
    let Some((translation, spans)) = translation else {
        return Err(ConfigError::at_span(
            text,
            table_span,
            format!(
                "port `{port_name}` is an IPv4 uplink, which needs a [translation] table: \
                 pool6 (RFC 6052) and explicit address mappings (RFC 7757) say how IPv4 \
                 addresses become IPv6"
            ),
        ));
    };
    let (uplink, uplink_spans) = validate_uplink(text, table.into_inner(), translation)?;
    cross_check(text, &uplink, &uplink_spans, translation, spans)?;
    Ok(Some(UplinkPort {
        port,
        config: uplink,
    }))
}

/// Where the uplink's next hops are, for cross-checks.
struct UplinkSpans {
    gateway: Option<Range<usize>>,
}

/// One `[port.ipv4]` on its own.
fn validate_uplink(
    text: &str,
    table: UplinkTable,
    translation: &TranslationConfig,
) -> Result<(UplinkConfig, UplinkSpans), ConfigError> {
    let address_span = table.address.span();
    let address_text = table.address.get_ref();
    let (address, length) = address_text.split_once('/').ok_or_else(|| {
        ConfigError::at_span(
            text,
            address_span.clone(),
            format!("ipv4 address `{address_text}` needs its prefix length, as in 192.0.2.1/24"),
        )
    })?;
    let address = parse_unicast(address, "ipv4 address")
        .map_err(|message| ConfigError::at_span(text, address_span.clone(), message))?;
    let prefix_length: u8 = length
        .parse()
        .ok()
        .filter(|length| (1..=32).contains(length))
        .ok_or_else(|| {
            ConfigError::at_span(
                text,
                address_span.clone(),
                format!("ipv4 address `{address_text}`: prefix length must be 1..=32"),
            )
        })?;
    let subnet = network_of(address, prefix_length).ok_or_else(|| {
        ConfigError::at_span(
            text,
            address_span.clone(),
            format!("ipv4 address `{address_text}` is not ADDRESS/LENGTH"),
        )
    })?;
    let mut uplink = UplinkConfig {
        address,
        prefix_length,
        subnet,
        gateway: None,
        routes: Vec::new(),
        neighbors: Vec::new(),
    };
    // Network and directed broadcast addresses of subnets with hosts (RFC
    // 1812 §4.2.3.1 / §5.3.5; a /31 has neither, RFC 3021).
    let special = |candidate: Ipv4Addr| {
        prefix_length <= 30
            && (candidate == subnet.network()
                || candidate.to_bits() == subnet.network().to_bits() | (u32::MAX >> prefix_length))
    };
    if special(address) {
        return Err(ConfigError::at_span(
            text,
            address_span,
            format!(
                "ipv4 address {address} is the network or broadcast address of {subnet}; give \
                 the port a host address"
            ),
        ));
    }
    // A next hop or neighbor: on the link, not us, not special.
    let on_link_host = |value: &Spanned<String>, what: &str| -> Result<Ipv4Addr, ConfigError> {
        let candidate = parse_unicast(value.get_ref(), what)
            .map_err(|message| ConfigError::at_span(text, value.span(), message))?;
        let problem = if !ipv4_prefix_contains(subnet, candidate) {
            Some(format!(
                "{what} {candidate} is not inside the uplink prefix {subnet} (next hops and \
                 neighbors must be on the link)"
            ))
        } else if candidate == address {
            Some(format!("{what} {candidate} is the uplink's own address"))
        } else if special(candidate) {
            Some(format!(
                "{what} {candidate} is the network or broadcast address of {subnet}"
            ))
        } else {
            None
        };
        match problem {
            Some(message) => Err(ConfigError::at_span(text, value.span(), message)),
            None => Ok(candidate),
        }
    };
    let mut spans = UplinkSpans { gateway: None };
    if let Some(gateway) = &table.gateway {
        uplink.gateway = Some(on_link_host(gateway, "gateway")?);
        spans.gateway = Some(gateway.span());
    }
    for route in &table.routes {
        let prefix_span = route.prefix.span();
        if uplink.routes.len() == MAXIMUM_UPLINK_ROUTES {
            return Err(ConfigError::at_span(
                text,
                prefix_span,
                format!("too many uplink routes: at most {MAXIMUM_UPLINK_ROUTES}"),
            ));
        }
        let prefix: Ipv4Prefix = route.prefix.get_ref().parse().map_err(|message| {
            ConfigError::at_span(text, prefix_span.clone(), format!("route: {message}"))
        })?;
        if prefix.length() == 0 {
            return Err(ConfigError::at_span(
                text,
                prefix_span,
                "route 0.0.0.0/0: write the default route as `gateway = \"...\"`".to_owned(),
            ));
        }
        if prefix == subnet {
            return Err(ConfigError::at_span(
                text,
                prefix_span,
                format!("route {prefix} is the uplink's own subnet, which is on-link already"),
            ));
        }
        if uplink.routes.iter().any(|known| known.prefix == prefix) {
            return Err(ConfigError::at_span(
                text,
                prefix_span,
                format!("duplicate uplink route {prefix}"),
            ));
        }
        if translation.forbids(prefix) {
            return Err(ConfigError::at_span(
                text,
                prefix_span,
                format!(
                    "route {prefix} is non-global, which RFC 6052 §3.1 forbids under \
                     {}: no IPv6 host could reach it; use a network-specific pool6 (or \
                     well_known_prefix_rule = false in a lab)",
                    translation.pool6
                ),
            ));
        }
        let via = on_link_host(&route.via, "via")?;
        uplink.routes.push(UplinkStaticRoute { prefix, via });
    }
    for neighbor in &table.neighbor {
        if uplink.neighbors.len() == MAXIMUM_UPLINK_NEIGHBORS {
            return Err(ConfigError::at_span(
                text,
                neighbor.address.span(),
                format!("too many uplink neighbors: at most {MAXIMUM_UPLINK_NEIGHBORS}"),
            ));
        }
        let neighbor_address = on_link_host(&neighbor.address, "neighbor")?;
        if uplink
            .neighbors
            .iter()
            .any(|known| known.address == neighbor_address)
        {
            return Err(ConfigError::at_span(
                text,
                neighbor.address.span(),
                format!("duplicate uplink neighbor {neighbor_address}"),
            ));
        }
        let mac = parse_mac(neighbor.mac.get_ref())
            .map_err(|message| ConfigError::at_span(text, neighbor.mac.span(), message))?;
        uplink.neighbors.push(UplinkNeighbor {
            address: neighbor_address,
            mac,
        });
    }
    Ok((uplink, spans))
}

/// The uplink against `[translation]` (see the module's decisions).
fn cross_check(
    text: &str,
    uplink: &UplinkConfig,
    uplink_spans: &UplinkSpans,
    translation: &mut TranslationConfig,
    spans: &TranslationSpans,
) -> Result<(), ConfigError> {
    // The addresses that are someone on the IPv4 side, by name.
    let mut hosts: Vec<(Ipv4Addr, String)> = Vec::new();
    hosts.push((
        uplink.address,
        format!("the uplink's own address {}", uplink.address),
    ));
    if uplink.prefix_length <= 30 {
        let broadcast = Ipv4Addr::from_bits(
            uplink.prefix().network().to_bits() | (u32::MAX >> uplink.prefix_length),
        );
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
            format!("{}, the next hop of route {}", route.via, route.prefix),
        ));
    }
    for neighbor in &uplink.neighbors {
        hosts.push((
            neighbor.address,
            format!("the static neighbor {}", neighbor.address),
        ));
    }
    for (prefix, span) in &spans.explicit_ipv4 {
        if let Some((_, who)) = hosts
            .iter()
            .find(|(host, _)| ipv4_prefix_contains(*prefix, *host))
        {
            return Err(ConfigError::at_span(
                text,
                span.clone(),
                format!(
                    "eam {prefix} holds {who}: that address is on the IPv4 side, not an \
                     IPv6 host"
                ),
            ));
        }
        if let Some(route) = uplink
            .routes
            .iter()
            .find(|route| ipv4_prefixes_overlap(route.prefix, *prefix))
        {
            return Err(ConfigError::at_span(
                text,
                span.clone(),
                format!(
                    "eam {prefix} overlaps the uplink route {} via {}: those addresses \
                     would be both IPv6 hosts and behind an IPv4 router",
                    route.prefix, route.via
                ),
            ));
        }
    }
    for (prefix, span) in &spans.pool {
        if let Some((_, who)) = hosts
            .iter()
            .skip(1)
            .find(|(host, _)| ipv4_prefix_contains(*prefix, *host))
        {
            return Err(ConfigError::at_span(
                text,
                span.clone(),
                format!(
                    "icmp_error_pool {prefix} holds {who}; the pool's addresses are the \
                     translator's own"
                ),
            ));
        }
    }
    for (address, next_hop, span) in &spans.next_hops {
        let is_uplink_next_hop = uplink.gateway == Some(*address)
            || uplink.routes.iter().any(|route| route.via == *address);
        match next_hop {
            MappedNextHop::LocalTranslator if !uplink.is_on_link(*address) => {
                return Err(ConfigError::at_span(
                    text,
                    span.clone(),
                    format!(
                        "next hop {address} is `local = true` (this router's translator), so \
                         it must be on the uplink's link {}",
                        uplink.prefix()
                    ),
                ));
            }
            MappedNextHop::Address { .. } if is_uplink_next_hop => {
                return Err(ConfigError::at_span(
                    text,
                    span.clone(),
                    format!(
                        "next hop {address} is a next hop of the IPv4 uplink, reached through \
                         this router's translator; write `local = true` or leave it out"
                    ),
                ));
            }
            _ => {}
        }
    }
    // The uplink's next hops are reached through the local translator.
    let uplink_next_hops = uplink
        .gateway
        .into_iter()
        .chain(uplink.routes.iter().map(|route| route.via));
    for address in uplink_next_hops {
        if translation.next_hops.get(address).is_none() {
            if translation.next_hops.len() >= MAXIMUM_TRANSLATION_NEXT_HOPS {
                let span = uplink_spans.gateway.clone().unwrap_or(0..0);
                return Err(ConfigError::at_span(
                    text,
                    span,
                    format!(
                        "too many next hops: the uplink's next hops and \
                         [[translation.next_hop]] together are at most \
                         {MAXIMUM_TRANSLATION_NEXT_HOPS}"
                    ),
                ));
            }
            translation
                .next_hops
                .insert(address, MappedNextHop::LocalTranslator);
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::config::{Config, parse};
    use crate::translation::explicit_address_mapping::MappingMethod;
    use crate::translation::{AddressError, AddressRole, AddressTranslator};
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
address = "192.0.2.254"
mac = "02:00:00:00:02:54"

[translation]
pool6 = "2001:db8:64::/96"
icmp_error_pool = ["198.51.100.200/30"]
lowest_ipv6_mtu = 1400
udp_zero_checksum = "drop"
traffic_class = "zero"

[[translation.eam]]
ipv4 = "198.51.100.0/28"
ipv6 = "2001:db8:1::100/124"

[[translation.eam]]
ipv4 = "192.0.2.16/28"
ipv6 = "2001:db8:1::200/124"
"#;

    fn ipv4(text: &str) -> Ipv4Addr {
        text.parse().unwrap()
    }

    fn ipv6(text: &str) -> Ipv6Addr {
        text.parse().unwrap()
    }

    fn config(text: &str) -> Config {
        match parse(text) {
            Ok(config) => config,
            Err(error) => panic!("{error}\n{text}"),
        }
    }

    /// `text` with `old` (which must occur) replaced by `new`.
    /// `text` with the first `old` replaced by `new` (which must be there).
    pub(crate) fn edit(text: &str, old: &str, new: &str) -> String {
        assert!(text.contains(old), "`{old}` not in the text");
        text.replacen(old, new, 1)
    }

    /// The error of `text` must be at the first character of the last
    /// occurrence of `at` and contain `needle`.
    #[track_caller]
    pub(crate) fn assert_error_at(text: &str, at: &str, needle: &str) {
        let error = match parse(text) {
            Ok(_) => panic!("expected `{needle}`, parsed:\n{text}"),
            Err(error) => error,
        };
        let offset = text.rfind(at).expect("marker in the text");
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let column = before[before.rfind('\n').map_or(0, |newline| newline + 1)..]
            .chars()
            .count()
            + 1;
        assert!(
            error.message.contains(needle),
            "message `{}` lacks `{needle}`",
            error.message
        );
        assert_eq!(
            (error.line, error.column),
            (line, column),
            "wrong position for {error}"
        );
        assert!(!error.message.contains('\n'));
    }

    #[test]
    fn full_translation_and_uplink() {
        let config = config(BASE);
        let translation = config.translation.as_ref().unwrap();
        assert_eq!(
            config.translation_settings(),
            TranslationSettings {
                lowest_ipv6_mtu: 1400,
                udp_zero_checksum: UdpZeroChecksum::Drop,
                traffic_class: TrafficClassPolicy::Zero,
                refusal_errors: true,
            }
        );
        assert!(translation.well_known_prefix_rule);
        assert_eq!(translation.explicit_address_mappings.len(), 2);
        assert_eq!(translation.icmp_error_pool.size(), 4);
        let (port, uplink) = config.uplink().unwrap();
        assert_eq!(port, 1);
        assert_eq!(uplink.address, ipv4("192.0.2.1"));
        assert_eq!(uplink.prefix_length, 24);
        assert_eq!(uplink.prefix().to_string(), "192.0.2.0/24");
        assert_eq!(uplink.gateway, Some(ipv4("192.0.2.254")));
        assert_eq!(
            uplink.routes,
            [UplinkStaticRoute {
                prefix: "203.0.113.0/24".parse().unwrap(),
                via: ipv4("192.0.2.253"),
            }]
        );
        assert_eq!(
            uplink.neighbors,
            [UplinkNeighbor {
                address: ipv4("192.0.2.254"),
                mac: [2, 0, 0, 0, 2, 0x54],
            }]
        );
        // The gateway and the route's next hop became local next hops.
        assert_eq!(
            translation.next_hops.get(ipv4("192.0.2.254")),
            Some(MappedNextHop::LocalTranslator)
        );
        assert_eq!(
            translation.next_hops.get(ipv4("192.0.2.253")),
            Some(MappedNextHop::LocalTranslator)
        );
        let routes: Vec<String> = config
            .uplink_routes_under_pool6()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            routes,
            [
                "2001:db8:64::c000:200/120 translate via ::",
                "2001:db8:64::/96 translate via 2001:db8:64::c000:2fe",
                "2001:db8:64::cb00:7100/120 translate via 2001:db8:64::c000:2fd",
            ]
        );
        assert_eq!(
            uplink.routes()[1],
            UplinkRoute {
                prefix: "0.0.0.0/0".parse().unwrap(),
                next_hop: UplinkNextHop::Gateway(ipv4("192.0.2.254")),
            }
        );
        // Route-file lines may name the uplink's next hops.
        let parsed = crate::route_file::parse(
            "198.18.0.0/15 via 192.0.2.253\n",
            &config.route_file_options(),
        );
        assert!(parsed.is_ok(), "{:?}", parsed.errors);
        assert_eq!(
            parsed.routes[0].to_string(),
            "2001:db8:64::c612:0/111 translate via 2001:db8:64::c000:2fd"
        );
    }

    #[test]
    fn the_translator_from_the_config() {
        let translator = config(BASE).address_translator(7).unwrap();
        assert_eq!(
            translator.ipv4_to_ipv6(ipv4("198.51.100.5"), AddressRole::Destination),
            Ok(ipv6("2001:db8:1::105"))
        );
        assert_eq!(
            translator.ipv6_to_ipv4_with_method(ipv6("2001:db8:64::808:808")),
            Ok((ipv4("8.8.8.8"), MappingMethod::TranslationPrefix))
        );
        assert_eq!(
            translator.ipv6_to_ipv4(ipv6("2001:db8:1::1"), AddressRole::Source),
            Err(AddressError::NotMapped)
        );
        for owned in ["192.0.2.1", "192.0.2.20", "198.51.100.15", "198.51.100.201"] {
            assert!(translator.owns_ipv4(ipv4(owned)), "{owned}");
        }
        assert!(!translator.owns_ipv4(ipv4("192.0.2.254")));
        assert!(!translator.is_translatable_ipv4_destination(ipv4("192.0.2.255")));
        let source = translator
            .icmp_error_source(ipv6("2001:db8:1::77"))
            .unwrap();
        assert!(translator.icmp_error_pool().contains(source));
        // Without a pool: the uplink address.
        let without_pool = config(&edit(
            BASE,
            "icmp_error_pool = [\"198.51.100.200/30\"]\n",
            "",
        ))
        .address_translator(7)
        .unwrap();
        assert_eq!(
            without_pool.icmp_error_source(ipv6("2001:db8:1::77")),
            Some(ipv4("192.0.2.1"))
        );
        assert!(parse("").unwrap().address_translator(7).is_none());
    }

    #[test]
    fn defaults_and_the_well_known_prefix_switch() {
        let config = config("[translation]\npool6 = \"64:ff9b::/96\"\n");
        let translation = config.translation.as_ref().unwrap();
        assert_eq!(
            config.translation_settings(),
            TranslationSettings::default()
        );
        assert!(translation.well_known_prefix_rule);
        assert!(translation.explicit_address_mappings.is_empty());
        assert!(translation.icmp_error_pool.is_empty());
        assert!(config.uplink().is_none());
        assert!(config.uplink_routes_under_pool6().is_empty());
        assert_eq!(
            Config::default().translation_settings(),
            TranslationSettings::default()
        );
        // The rule refuses documentation space under the well-known prefix.
        let line = "blackhole 192.0.2.0/24\n";
        let parsed = crate::route_file::parse(line, &config.route_file_options());
        assert!(parsed.routes.is_empty());
        let translator = config.address_translator(0).unwrap();
        assert_eq!(
            translator.ipv4_to_ipv6(ipv4("192.0.2.1"), AddressRole::Source),
            Err(AddressError::NonGlobalUnderWellKnownPrefix)
        );
        // Switched off (a lab with documentation addresses).
        let lab =
            parse("[translation]\npool6 = \"64:ff9b::/96\"\nwell_known_prefix_rule = false\n")
                .unwrap();
        let translator = lab.address_translator(0).unwrap();
        assert_eq!(
            translator.ipv4_to_ipv6(ipv4("192.0.2.1"), AddressRole::Source),
            Ok(ipv6("64:ff9b::c000:201"))
        );
        let parsed = crate::route_file::parse(line, &lab.route_file_options());
        assert_eq!(parsed.routes.len(), 1);
    }

    #[test]
    fn eam_inline_array_form() {
        let text = "[translation]\npool6 = \"2001:db8:64::/96\"\neam = [\
                    { ipv4 = \"198.51.100.7\", ipv6 = \"2001:db8:1::7\" },\
                    { ipv4 = \"203.0.113.0/24\", ipv6 = \"2001:db8:2::/120\" }]\n";
        let config = config(text);
        let table = &config
            .translation
            .as_ref()
            .unwrap()
            .explicit_address_mappings;
        assert_eq!(table.len(), 2);
        assert_eq!(
            table.ipv6_to_ipv4(ipv6("2001:db8:1::7")),
            Some(ipv4("198.51.100.7"))
        );
    }

    #[test]
    fn eam_errors() {
        let eam = |ipv4: &str, ipv6: &str| {
            format!("{BASE}\n[[translation.eam]]\nipv4 = \"{ipv4}\"\nipv6 = \"{ipv6}\"\n")
        };
        assert_error_at(
            &eam("198.51.100.8/29", "2001:db8:9::/125"),
            "\"198.51.100.8/29\"",
            "overlaps the IPv4 prefix of eam 198.51.100.0/28",
        );
        assert_error_at(
            &eam("198.51.100.0/28", "2001:db8:9::/124"),
            "\"198.51.100.0/28\"",
            "(entry 0)",
        );
        assert_error_at(
            &eam("203.0.114.1", "2001:db8:1::205"),
            "\"2001:db8:1::205\"",
            "overlaps the IPv6 prefix of eam 192.0.2.16/28 ↔ 2001:db8:1::200/124 (entry 1)",
        );
        assert_error_at(
            &eam("203.0.114.0/24", "2001:db8:9::/64"),
            "\"2001:db8:9::/64\"",
            "suffix lengths differ (8 IPv4 bits, 64 IPv6 bits)",
        );
        assert_error_at(
            &eam("203.0.114.0/24", "2001:db8:9::/64"),
            "\"2001:db8:9::/64\"",
            "needs an IPv6 /120",
        );
        assert_error_at(
            &eam("203.0.114.1/24", "2001:db8:9::/120"),
            "\"203.0.114.1/24\"",
            "bits set after the prefix length",
        );
        assert_error_at(
            &eam("203.0.114.0/24", "2001:db8:9::1/120"),
            "\"2001:db8:9::1/120\"",
            "host bits set",
        );
        assert_error_at(
            &eam("203.0.114.300", "2001:db8:9::1"),
            "\"203.0.114.300\"",
            "eam ipv4: `203.0.114.300` is not an IPv4 address",
        );
        assert_error_at(
            &eam("203.0.114.3", "2001:db8:9::zz"),
            "\"2001:db8:9::zz\"",
            "eam ipv6: `2001:db8:9::zz` is not an IPv6 address",
        );
        assert_error_at(
            &eam("203.0.114.3", "2001:db8:64::cb00:7203"),
            "\"2001:db8:64::cb00:7203\"",
            "overlaps pool6 2001:db8:64::/96",
        );
        assert_error_at(
            &eam("0.0.0.0/0", "2001:db8:9::/96"),
            "\"0.0.0.0/0\"",
            "never unicast hosts",
        );
        assert_error_at(
            &eam("224.0.0.1", "2001:db8:9::1"),
            "\"224.0.0.1\"",
            "never unicast hosts",
        );
        assert_error_at(
            &format!("{BASE}\n[[translation.eam]]\nipv4 = \"203.0.114.3\"\n"),
            "[[translation.eam]]\nipv4 = \"203.0.114.3\"",
            "missing field `ipv6`",
        );
    }

    #[test]
    fn eam_against_the_uplink() {
        let eam = |ipv4: &str, ipv6: &str| {
            format!("{BASE}\n[[translation.eam]]\nipv4 = \"{ipv4}\"\nipv6 = \"{ipv6}\"\n")
        };
        let cases = [
            (
                "192.0.2.0/30",
                "2001:db8:9::/126",
                "the uplink's own address 192.0.2.1",
            ),
            (
                "192.0.2.254",
                "2001:db8:9::1",
                "the uplink gateway 192.0.2.254",
            ),
            (
                "192.0.2.253",
                "2001:db8:9::1",
                "the next hop of route 203.0.113.0/24",
            ),
            (
                "203.0.113.7",
                "2001:db8:9::1",
                "overlaps the uplink route 203.0.113.0/24",
            ),
            (
                "203.0.0.0/16",
                "2001:db8:9::/112",
                "overlaps the uplink route 203.0.113.0/24",
            ),
        ];
        for (address4, address6, needle) in cases {
            assert_error_at(&eam(address4, address6), &format!("\"{address4}\""), needle);
        }
        // The neighbor, without the gateway that is the same address.
        let text = edit(
            &edit(BASE, "gateway = \"192.0.2.254\"\n", ""),
            "[[translation.eam]]\nipv4 = \"192.0.2.16/28\"",
            "[[translation.eam]]\nipv4 = \"192.0.2.254\"",
        );
        let text = edit(&text, "\"2001:db8:1::200/124\"", "\"2001:db8:1::200\"");
        assert_error_at(&text, "\"192.0.2.254\"", "the static neighbor 192.0.2.254");
        assert_error_at(
            &eam("192.0.2.255", "2001:db8:9::1"),
            "\"192.0.2.255\"",
            "the uplink's broadcast address 192.0.2.255",
        );
        // Inside the uplink subnet but clear of its hosts: fine (proxy ARP).
        assert!(parse(&eam("192.0.2.100", "2001:db8:9::1")).is_ok());
    }

    #[test]
    fn pool_errors() {
        let pool = |entries: &str| {
            edit(
                BASE,
                "icmp_error_pool = [\"198.51.100.200/30\"]",
                &format!("icmp_error_pool = [{entries}]"),
            )
        };
        assert_error_at(
            &pool("\"198.51.100.8/30\""),
            "\"198.51.100.8/30\"",
            "overlaps eam 198.51.100.0/28",
        );
        assert_error_at(
            &pool("\"192.0.2.254/32\""),
            "\"192.0.2.254/32\"",
            "the uplink gateway 192.0.2.254",
        );
        assert_error_at(
            &pool("\"198.51.100.200/30\", \"198.51.100.202\""),
            "\"198.51.100.202\"",
            "overlaps pool entry 0",
        );
        assert_error_at(
            &pool("\"127.0.0.1\""),
            "\"127.0.0.1\"",
            "cannot be a source",
        );
        assert_error_at(
            &pool("\"198.51.100.201/30\""),
            "\"198.51.100.201/30\"",
            "bits set after the prefix length",
        );
        // The uplink's own address may be in the pool.
        assert!(parse(&pool("\"192.0.2.1\"")).is_ok());
    }

    #[test]
    fn setting_errors() {
        assert_error_at(
            &edit(BASE, "lowest_ipv6_mtu = 1400", "lowest_ipv6_mtu = 1279"),
            "1279",
            "lowest_ipv6_mtu 1279 is out of range 1280..=9000",
        );
        assert_error_at(
            &edit(BASE, "\"drop\"", "\"fix\""),
            "\"fix\"",
            "udp_zero_checksum `fix` is not \"compute\" or \"drop\"",
        );
        assert_error_at(
            &edit(BASE, "\"zero\"", "\"keep\""),
            "\"keep\"",
            "traffic_class `keep` is not \"copy\" or \"zero\"",
        );
        assert_error_at(
            &edit(BASE, "lowest_ipv6_mtu = 1400", "lowest_ipv6_mtu = \"big\""),
            "\"big\"",
            "invalid type",
        );
        assert_error_at(
            &edit(
                BASE,
                "traffic_class = \"zero\"",
                "well_known_prefix_rule = \"no\"",
            ),
            "\"no\"",
            "invalid type",
        );
        assert_error_at(
            &edit(
                BASE,
                "pool6 = \"2001:db8:64::/96\"",
                "pool6 = \"2001:db8:64::/80\"",
            ),
            "\"2001:db8:64::/80\"",
            "pool6: translation prefix length /80 is not one of",
        );
    }

    #[test]
    fn uplink_errors() {
        let cases = [
            (
                "address = \"192.0.2.1/24\"",
                "address = \"192.0.2.1\"",
                "\"192.0.2.1\"",
                "needs its prefix length",
            ),
            (
                "address = \"192.0.2.1/24\"",
                "address = \"192.0.2.1/33\"",
                "\"192.0.2.1/33\"",
                "prefix length must be 1..=32",
            ),
            (
                "address = \"192.0.2.1/24\"",
                "address = \"192.0.2.0/24\"",
                "\"192.0.2.0/24\"",
                "network or broadcast address of 192.0.2.0/24",
            ),
            (
                "address = \"192.0.2.1/24\"",
                "address = \"224.0.0.1/24\"",
                "\"224.0.0.1/24\"",
                "not a unicast address",
            ),
            (
                "address = \"192.0.2.1/24\"",
                "address = \"192.0.2.x/24\"",
                "\"192.0.2.x/24\"",
                "is not a dotted-decimal IPv4 address",
            ),
            (
                "gateway = \"192.0.2.254\"",
                "gateway = \"198.51.100.254\"",
                "\"198.51.100.254\"",
                "gateway 198.51.100.254 is not inside the uplink prefix 192.0.2.0/24",
            ),
            (
                "gateway = \"192.0.2.254\"",
                "gateway = \"192.0.2.1\"",
                "\"192.0.2.1\"",
                "gateway 192.0.2.1 is the uplink's own address",
            ),
            (
                "gateway = \"192.0.2.254\"",
                "gateway = \"192.0.2.255\"",
                "\"192.0.2.255\"",
                "network or broadcast",
            ),
            (
                "via = \"192.0.2.253\"",
                "via = \"10.0.0.1\"",
                "\"10.0.0.1\"",
                "via 10.0.0.1 is not inside the uplink prefix",
            ),
            (
                "prefix = \"203.0.113.0/24\"",
                "prefix = \"0.0.0.0/0\"",
                "\"0.0.0.0/0\"",
                "write the default route as `gateway",
            ),
            (
                "prefix = \"203.0.113.0/24\"",
                "prefix = \"192.0.2.0/24\"",
                "\"192.0.2.0/24\"",
                "the uplink's own subnet",
            ),
            (
                "prefix = \"203.0.113.0/24\"",
                "prefix = \"203.0.113.1/24\"",
                "\"203.0.113.1/24\"",
                "bits set after the prefix length",
            ),
            (
                "mac = \"02:00:00:00:02:54\"",
                "mac = \"01:00:00:00:02:54\"",
                "\"01:00:00:00:02:54\"",
                "multicast or all-zero",
            ),
            (
                "address = \"192.0.2.254\"",
                "address = \"192.0.3.254\"",
                "\"192.0.3.254\"",
                "neighbor 192.0.3.254 is not inside the uplink prefix",
            ),
        ];
        for (old, new, at, needle) in cases {
            assert_error_at(&edit(BASE, old, new), at, needle);
        }
        assert_error_at(
            &edit(
                BASE,
                "routes = [{ prefix = \"203.0.113.0/24\", via = \"192.0.2.253\" }]",
                "routes = [{ prefix = \"203.0.113.0/24\", via = \"192.0.2.253\" }, \
                 { prefix = \"203.0.113.0/24\", via = \"192.0.2.252\" }]",
            ),
            "\"203.0.113.0/24\"",
            "duplicate uplink route 203.0.113.0/24",
        );
        assert_error_at(
            &edit(
                BASE,
                "\n[translation]",
                "[[port.ipv4.neighbor]]\naddress = \"192.0.2.254\"\nmac = \"02:00:00:00:02:55\"\n\n\
                 [translation]",
            ),
            "\"192.0.2.254\"\nmac = \"02:00:00:00:02:55\"",
            "duplicate uplink neighbor 192.0.2.254",
        );
        assert_error_at(
            &edit(BASE, "gateway = \"192.0.2.254\"", "gw = \"192.0.2.254\""),
            "gw",
            "unknown field `gw`",
        );
        // Under the well-known prefix a documentation route is unreachable.
        let well_known = edit(
            BASE,
            "pool6 = \"2001:db8:64::/96\"",
            "pool6 = \"64:ff9b::/96\"",
        );
        assert_error_at(&well_known, "\"203.0.113.0/24\"", "RFC 6052 §3.1 forbids");
        let lab = edit(
            &well_known,
            "pool6 = \"64:ff9b::/96\"",
            "pool6 = \"64:ff9b::/96\"\nwell_known_prefix_rule = false",
        );
        assert!(parse(&lab).is_ok());
    }

    #[test]
    fn uplink_needs_translation_and_is_unique() {
        let without = BASE.split("\n[translation]").next().unwrap();
        assert_error_at(
            without,
            "[port.ipv4]",
            "port `wan4` is an IPv4 uplink, which needs a [translation] table",
        );
        let two = edit(
            BASE,
            "addresses = [\"2001:db8:1::1/64\"]\n",
            "addresses = [\"2001:db8:1::1/64\"]\n[port.ipv4]\naddress = \"198.51.100.129/25\"\n",
        );
        assert_error_at(
            &two,
            "[port.ipv4]\naddress = \"192.0.2.1/24\"",
            "port `wan4` is a second IPv4 uplink; pure6 supports one uplink port for now \
             (port `lan0` is the uplink)",
        );
    }

    #[test]
    fn next_hops_against_the_uplink() {
        let next_hop = |body: &str| format!("{BASE}\n[[translation.next_hop]]\n{body}");
        assert_error_at(
            &next_hop("ipv4 = \"198.51.100.99\"\nlocal = true\n"),
            "\"198.51.100.99\"",
            "must be on the uplink's link 192.0.2.0/24",
        );
        assert_error_at(
            &next_hop("ipv4 = \"192.0.2.254\"\nvia = \"2001:db8:1::2\"\n"),
            "\"192.0.2.254\"\nvia",
            "is a next hop of the IPv4 uplink",
        );
        // Saying it explicitly is fine.
        assert!(parse(&next_hop("ipv4 = \"192.0.2.254\"\nlocal = true\n")).is_ok());
        assert!(parse(&next_hop("ipv4 = \"192.0.2.9\"\nvia = \"2001:db8:1::2\"\n")).is_ok());
    }
}
