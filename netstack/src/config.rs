//! The appliance's configuration model: a TOML file parsed into validated settings, with line and column on every error.
//!
//! The same code parses the config in the kernel (the `toml` crate works
//! without `std`) and in `pure6 check` on the host, so both agree on every
//! error. Parsing has two steps:
//! 1. deserialization into private serde structs that reject unknown keys
//!    and wrong types, keeping the byte span ([`toml::Spanned`]) of each
//!    value that is validated afterwards;
//! 2. validation of those values (ranges, address scopes, uniqueness,
//!    cross-references between routes, neighbors and ports), turning each
//!    span into a 1-based line and column.
//!
//! # Shape
//! ```toml
//! [router]
//! name = "pure6"          # optional, default "pure6"
//!
//! [icmp]                  # optional: the ICMPv6 error token bucket
//! rate_limit_per_second = 10
//! burst = 10
//!
//! [neighbor_cache]        # optional: bounds of every port's neighbor cache
//! capacity = 1024
//! incomplete_limit = 256
//! solicitations_per_second = 100
//! solicitation_burst = 20
//! pending_packets = 64
//!
//! [[port]]
//! name = "lan0"           # required, unique, 1..=15 of [a-z0-9-]
//! mtu = 1500              # optional, default 1500, 1280..=9000
//! link_local = "fe80::1"  # optional, default EUI-64 from the NIC's MAC
//! addresses = ["2001:db8:1::1/64"]   # optional, global or ULA
//!
//! [port.router_advertisements]       # optional, RFC 4861 §6.2.1
//! enabled = true
//! max_interval_seconds = 600
//!
//! [[port.router_advertisements.prefix]]  # optional, default: the /64 addresses
//! prefix = "2001:db8:1::/64"
//!
//! [[route]]
//! prefix = "::/0"
//! via = "fe80::2"
//! port = "wan0"
//!
//! [[neighbor]]
//! port = "lan0"
//! address = "2001:db8:1::10"
//! mac = "02:00:00:00:00:10"
//!
//! [routes]                # optional: the route file (issue 6)
//! file_required = true    # a malformed line stops the appliance
//! error_limit = 20        # malformed lines reported (all are counted)
//!
//! [translation]           # optional, legacy-ip builds only
//! pool6 = "2001:db8:64::/96"          # RFC 6052 §2.2 translation prefix
//!
//! [[translation.next_hop]]            # IPv4 next hop -> IPv6 next hop
//! ipv4 = "192.0.2.1"
//! via = "2001:db8:1::2"               # optional `port`, needed for fe80::/10
//!
//! [[translation.next_hop]]
//! ipv4 = "192.0.2.254"
//! local = true                        # this router's translator
//!
//! [[translation.eam]]                 # RFC 7757 explicit address mapping
//! ipv4 = "198.51.100.0/28"
//! ipv6 = "2001:db8:1::/124"
//!
//! [[port]]
//! name = "wan4"
//! [port.ipv4]                         # the IPv4 uplink (legacy-ip builds)
//! address = "192.0.2.1/24"
//! gateway = "192.0.2.254"
//!
//! [nat64]                             # optional stateful NAT64, legacy-ip builds
//! pool4 = [{ prefix = "192.0.2.1/32", tcp = "1024-65535" }]
//! ```
//! The translator's keys are described in `translation::config`, the
//! NAT64 keys in `translation::nat64::config`.
//! `qemu/example.toml` documents every key with its default and limits.
//!
//! # Ports and NICs
//! Ports are matched to NICs by order: the first `[[port]]` describes the
//! first NIC the kernel finds, and so on. NICs beyond the configured ports
//! get default settings ([`Config::port_settings`]; the kernel logs that),
//! and configured ports with no NIC are reported by the kernel
//! ([`Config::ports_without_nic`]); routes and neighbors on such a port are
//! not installed.
//!
//! References: RFC 8200 §5 (IPv6 minimum link MTU 1280), RFC 4291 §2.5.6
//! (link-local addresses, fe80::/10), §2.6.1 (Subnet-Router anycast) and
//! Appendix A (EUI-64 interface identifiers from a MAC address), RFC 4861
//! §6.2.1 and RFC 8319 §4 (Router Advertisement variables), RFC 4443
//! §2.4(f) (ICMPv6 error rate limiting), RFC 6583 §7 (neighbor cache
//! bounds).

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::net::Ipv6Addr;
use core::ops::Range;

use serde::Deserialize;
use smoltcp::time::Duration;
use smoltcp::wire::Ipv6Cidr;
use toml::Spanned;

use crate::router::MAX_PORTS;

/// The embedded default configuration, used when the appliance boots with none.
///
/// It configures no ports, so every NIC becomes a port named `port0`,
/// `port1`, ... with MTU 1500 and an EUI-64 link-local address.
pub const DEFAULT_CONFIG: &str = r#"# pure6 default configuration (embedded in the image).
#
# No [[port]] tables: every NIC becomes a port named port0, port1, ...
# in the order the kernel finds them, with MTU 1500 and a link-local
# address derived from the NIC's MAC address (EUI-64, RFC 4291 Appendix A).
# See qemu/example.toml for every key.

[router]
name = "pure6"
"#;

/// The router name used when `[router] name` is absent.
pub const DEFAULT_ROUTER_NAME: &str = "pure6";

/// The MTU used when a port's `mtu` is absent (RFC 2464 §2, Ethernet).
pub const DEFAULT_MTU: u16 = 1500;

/// The smallest accepted port MTU: the IPv6 minimum link MTU (RFC 8200 §5).
pub const MINIMUM_MTU: u16 = 1280;

/// The largest accepted port MTU (jumbo frames).
pub const MAXIMUM_MTU: u16 = 9000;

/// The longest accepted port name, in characters.
pub const MAXIMUM_PORT_NAME_LENGTH: usize = 15;

/// The longest accepted router name, in characters.
pub const MAXIMUM_ROUTER_NAME_LENGTH: usize = 63;

/// The most global or unique-local addresses one port carries.
pub const MAXIMUM_ADDRESSES_PER_PORT: usize = 8;

/// The most prefixes one port advertises (Prefix Information options).
pub const MAXIMUM_ADVERTISED_PREFIXES: usize = 8;

/// The most `[[route]]` tables (static routes; BGP-learned routes do not count).
pub const MAXIMUM_STATIC_ROUTES: usize = 65_536;

/// The most `[[neighbor]]` tables.
pub const MAXIMUM_STATIC_NEIGHBORS: usize = 4_096;

/// Default of `[icmp] rate_limit_per_second` (RFC 4443 §2.4(f) example: N = 10).
pub const DEFAULT_ICMP_RATE_LIMIT_PER_SECOND: u32 = 10;

/// Default of `[icmp] burst` (RFC 4443 §2.4(f) example: B = 10).
pub const DEFAULT_ICMP_BURST: u32 = 10;

/// Default of `[neighbor_cache] capacity`: entries per port.
pub const DEFAULT_NEIGHBOR_CACHE_CAPACITY: u32 = 1024;

/// Largest `[neighbor_cache] capacity`.
pub const MAXIMUM_NEIGHBOR_CACHE_CAPACITY: u32 = 65_536;

/// Default of `[neighbor_cache] incomplete_limit`: INCOMPLETE entries per port (RFC 6583 §7.1).
pub const DEFAULT_INCOMPLETE_LIMIT: u32 = 256;

/// Default of `[neighbor_cache] solicitations_per_second`: multicast
/// Neighbor Solicitations for address resolution per port (RFC 6583 §7.2).
pub const DEFAULT_SOLICITATIONS_PER_SECOND: u32 = 100;

/// Default of `[neighbor_cache] solicitation_burst`.
pub const DEFAULT_SOLICITATION_BURST: u32 = 20;

/// Default of `[neighbor_cache] pending_packets`: packets waiting for
/// address resolution, router-wide (at most 3 per neighbor, RFC 4861 §7.2.2).
pub const DEFAULT_PENDING_PACKETS: u32 = 64;

/// Largest `[neighbor_cache] pending_packets`.
pub const MAXIMUM_PENDING_PACKETS: u32 = 4_096;

/// Default MaxRtrAdvInterval (RFC 4861 §6.2.1): 600 s.
pub const DEFAULT_MAX_RTR_ADV_INTERVAL_SECONDS: u32 = 600;

/// Smallest MaxRtrAdvInterval (RFC 4861 §6.2.1): 4 s.
pub const MINIMUM_MAX_RTR_ADV_INTERVAL_SECONDS: u32 = 4;

/// Largest MaxRtrAdvInterval (RFC 8319 §4 raises RFC 4861's 1800 s): 65535 s.
pub const MAXIMUM_MAX_RTR_ADV_INTERVAL_SECONDS: u32 = 65_535;

/// Smallest MinRtrAdvInterval (RFC 4861 §6.2.1): 3 s.
pub const MINIMUM_MIN_RTR_ADV_INTERVAL_SECONDS: u32 = 3;

/// Largest AdvDefaultLifetime (RFC 8319 §4 raises RFC 4861's 9000 s): 65535 s.
pub const MAXIMUM_ROUTER_LIFETIME_SECONDS: u32 = 65_535;

/// Default AdvValidLifetime (RFC 4861 §6.2.1): 30 days.
pub const DEFAULT_VALID_LIFETIME_SECONDS: u32 = 2_592_000;

/// Default AdvPreferredLifetime (RFC 4861 §6.2.1): 7 days.
pub const DEFAULT_PREFERRED_LIFETIME_SECONDS: u32 = 604_800;

/// Default AdvCurHopLimit: the IANA default hop limit, 64.
pub const DEFAULT_CURRENT_HOP_LIMIT: u8 = 64;

/// Default of `[routes] error_limit`: malformed route-file lines reported
/// with their line numbers (all of them are counted).
pub const DEFAULT_ROUTE_FILE_ERROR_LIMIT: u32 = 20;

/// Largest `[routes] error_limit`.
pub const MAXIMUM_ROUTE_FILE_ERROR_LIMIT: u32 = 100_000;

/// The most `[[translation.next_hop]]` tables.
pub const MAXIMUM_TRANSLATION_NEXT_HOPS: usize = 4_096;

/// A configuration that parsed and validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Settings of the router as a whole (`[router]`).
    pub router: RouterConfig,
    /// The configured ports (`[[port]]`), in the order they are matched to NICs.
    pub ports: Vec<PortConfig>,
    /// Static routes (`[[route]]`), in file order.
    pub routes: Vec<RouteConfig>,
    /// Static neighbor cache entries (`[[neighbor]]`), in file order.
    pub neighbors: Vec<StaticNeighborConfig>,
    /// The ICMPv6 error rate limit (`[icmp]`).
    pub icmp: IcmpConfig,
    /// The bounds of the neighbor caches (`[neighbor_cache]`).
    pub neighbor_cache: NeighborCacheConfig,
    /// How the route file is loaded (`[routes]`).
    pub route_file: RouteFileConfig,
    /// The translator (`[translation]`): `pool6` and the IPv4 next-hop
    /// table, which map the route file's IPv4 lines (ARCHITECTURE.md rule
    /// 2), explicit address mappings, the RFC 6791 pool and the settings.
    #[cfg(feature = "legacy-ip")]
    pub translation: Option<TranslationConfig>,
    /// The IPv4 uplink port (`[port.ipv4]`), at most one.
    #[cfg(feature = "legacy-ip")]
    pub uplink: Option<UplinkPort>,
    /// Stateful NAT64 (`[nat64]`, RFC 6146): pool4, filtering, timers,
    /// capacities and static BIB entries. Needs `translation` and `uplink`.
    #[cfg(feature = "legacy-ip")]
    pub nat64: Option<Nat64Config>,
}

/// The `[routes]` table: how the appliance treats its route file
/// (`netstack::route_file`; issue 6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RouteFileConfig {
    /// Whether a route file with any malformed line stops the appliance
    /// (`file_required`, default true): it does not start with a half-loaded
    /// table. When false, malformed lines are reported and skipped.
    pub file_required: bool,
    /// How many malformed lines are reported with their line numbers
    /// (`error_limit`, default 20, 0..=100000); all are counted.
    pub error_limit: u32,
}

impl Default for RouteFileConfig {
    fn default() -> Self {
        RouteFileConfig {
            file_required: true,
            error_limit: DEFAULT_ROUTE_FILE_ERROR_LIMIT,
        }
    }
}

impl RouteFileConfig {
    /// Whether the appliance may forward with `parsed`: every line was
    /// well-formed, or the file is not required to be.
    pub fn accepts(&self, parsed: &crate::route_file::Parsed) -> bool {
        parsed.is_ok() || !self.file_required
    }
}

/// The `[translation]` table, the uplink and their parts (legacy-ip builds;
/// defined in the translation module, which alone names IPv4 types).
#[cfg(feature = "legacy-ip")]
pub use crate::translation::config::{
    TranslationConfig, UplinkConfig, UplinkNeighbor, UplinkNextHop, UplinkPort, UplinkRoute,
    UplinkStaticRoute,
};

/// The `[nat64]` table and its parts (legacy-ip builds).
#[cfg(feature = "legacy-ip")]
pub use crate::translation::nat64::config::{
    Nat64Config, Nat64Filtering, Nat64Protocol, Nat64Timeouts, Pool4Entry, PortRange, StaticBinding,
};

/// The `[router]` table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouterConfig {
    /// The router's name, used in logs (`name`, default [`DEFAULT_ROUTER_NAME`]).
    pub name: String,
}

/// One `[[port]]` table, as written in the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortConfig {
    /// The port's name, unique, 1..=15 characters of `[a-z0-9-]`.
    pub name: String,
    /// The IPv6 MTU of the link, 1280..=9000 (default 1500).
    pub mtu: u16,
    /// The port's link-local address; `None` means EUI-64 from the NIC's MAC.
    pub link_local: Option<Ipv6Addr>,
    /// Global or unique-local addresses with their on-link prefix length
    /// (`addresses`); the address part keeps its host bits.
    pub addresses: Vec<Ipv6Cidr>,
    /// Router Advertisement settings (`[port.router_advertisements]`).
    pub router_advertisements: RouterAdvertisementConfig,
}

/// The Router Advertisement variables of one port (RFC 4861 §6.2.1, RFC 8319 §4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouterAdvertisementConfig {
    /// AdvSendAdvertisements (`enabled`, default false as §6.2.1 requires).
    pub enabled: bool,
    /// MinRtrAdvInterval (`min_interval_seconds`): 3 s ..= 0.75 × max;
    /// default 0.33 × max when max >= 9 s, else 0.75 × max (see `qemu/example.toml`).
    pub min_interval: Duration,
    /// MaxRtrAdvInterval (`max_interval_seconds`): 4..=65535 s, default 600 s.
    pub max_interval: Duration,
    /// AdvDefaultLifetime (`router_lifetime_seconds`): 0 (not a default
    /// router) or max interval ..= 65535 s; default 3 × max, at most 65535.
    pub router_lifetime_seconds: u16,
    /// AdvCurHopLimit (`current_hop_limit`, 0 = unspecified, default 64).
    pub current_hop_limit: u8,
    /// AdvManagedFlag (`managed`, default false).
    pub managed: bool,
    /// AdvOtherConfigFlag (`other_configuration`, default false).
    pub other_configuration: bool,
    /// Whether an MTU option with the port's MTU is included (`advertise_mtu`, default true).
    pub advertise_mtu: bool,
    /// The Prefix Information options (`[[port.router_advertisements.prefix]]`);
    /// default: one per /64 entry of the port's `addresses`.
    pub prefixes: Vec<AdvertisedPrefix>,
}

impl Default for RouterAdvertisementConfig {
    /// Disabled, with RFC 4861's defaults and no prefixes.
    fn default() -> Self {
        let max = DEFAULT_MAX_RTR_ADV_INTERVAL_SECONDS;
        RouterAdvertisementConfig {
            enabled: false,
            min_interval: default_min_interval(max),
            max_interval: Duration::from_secs(u64::from(max)),
            router_lifetime_seconds: default_router_lifetime(max),
            current_hop_limit: DEFAULT_CURRENT_HOP_LIMIT,
            managed: false,
            other_configuration: false,
            advertise_mtu: true,
            prefixes: Vec::new(),
        }
    }
}

/// One Prefix Information option to advertise (RFC 4861 §4.6.2, §6.2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdvertisedPrefix {
    /// The prefix (host bits zero).
    pub prefix: Ipv6Cidr,
    /// AdvOnLinkFlag (`on_link`, default true).
    pub on_link: bool,
    /// AdvAutonomousFlag (`autonomous`, default true).
    pub autonomous: bool,
    /// AdvValidLifetime in seconds (`valid_lifetime_seconds`, 0xffffffff = infinite).
    pub valid_lifetime_seconds: u32,
    /// AdvPreferredLifetime in seconds (`preferred_lifetime_seconds`, at most the valid lifetime).
    pub preferred_lifetime_seconds: u32,
}

impl AdvertisedPrefix {
    /// The prefix of `address` with RFC 4861's default flags and lifetimes.
    pub fn default_for(address: Ipv6Cidr) -> AdvertisedPrefix {
        AdvertisedPrefix {
            prefix: network(address),
            on_link: true,
            autonomous: true,
            valid_lifetime_seconds: DEFAULT_VALID_LIFETIME_SECONDS,
            preferred_lifetime_seconds: DEFAULT_PREFERRED_LIFETIME_SECONDS,
        }
    }
}

/// One `[[route]]` table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteConfig {
    /// The destination prefix (host bits zero); `::/0` is the default route.
    pub prefix: Ipv6Cidr,
    /// Where matching packets go.
    pub target: RouteTarget,
}

/// What a route does with the packets it matches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RouteTarget {
    /// Forward out of `port`, to the neighbor `via` (a link-local address,
    /// or a global one on-link on `port`), or, without `via`, to the
    /// destination itself as an on-link neighbor. A route given only `via`
    /// (global) gets the port whose prefix holds it.
    Forward {
        /// The egress port's name.
        port: String,
        /// The next hop, if not the destination itself.
        via: Option<Ipv6Addr>,
    },
    /// `kind = "blackhole"`: matching packets are dropped silently (counted).
    Blackhole,
    /// `kind = "reject"`: matching packets are dropped with an ICMPv6
    /// Destination Unreachable code 6, reject route to destination (RFC 4443 §3.1).
    Reject,
}

/// One `[[neighbor]]` table: a static neighbor cache entry that never expires.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaticNeighborConfig {
    /// The port's name.
    pub port: String,
    /// The neighbor's IPv6 address (link-local, or on-link on the port).
    pub address: Ipv6Addr,
    /// The neighbor's MAC address.
    pub mac: [u8; 6],
}

/// The `[icmp]` table: a router-wide token bucket for originated ICMPv6
/// errors (RFC 4443 §2.4(f)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IcmpConfig {
    /// Tokens added per second (`rate_limit_per_second`, default 10, 0..=100000).
    pub rate_limit_per_second: u32,
    /// Bucket size (`burst`, default 10, 0..=100000). 0 and 0 disables errors.
    pub burst: u32,
}

impl Default for IcmpConfig {
    fn default() -> Self {
        IcmpConfig {
            rate_limit_per_second: DEFAULT_ICMP_RATE_LIMIT_PER_SECOND,
            burst: DEFAULT_ICMP_BURST,
        }
    }
}

/// The `[neighbor_cache]` table: bounds that hold for every port (RFC 6583 §7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NeighborCacheConfig {
    /// Entries per port (`capacity`, default 1024, 16..=65536).
    pub capacity: u32,
    /// INCOMPLETE entries per port (`incomplete_limit`, default 256, 1..=capacity).
    pub incomplete_limit: u32,
    /// Multicast solicitations for new resolutions per second per port
    /// (`solicitations_per_second`, default 100, 1..=100000).
    pub solicitations_per_second: u32,
    /// Their burst (`solicitation_burst`, default 20, 1..=100000).
    pub solicitation_burst: u32,
    /// Packets waiting for resolution, router-wide (`pending_packets`,
    /// default 64, 0..=4096; each holds one frame of the largest MTU).
    pub pending_packets: u32,
}

impl Default for NeighborCacheConfig {
    fn default() -> Self {
        NeighborCacheConfig {
            capacity: DEFAULT_NEIGHBOR_CACHE_CAPACITY,
            incomplete_limit: DEFAULT_INCOMPLETE_LIMIT,
            solicitations_per_second: DEFAULT_SOLICITATIONS_PER_SECOND,
            solicitation_burst: DEFAULT_SOLICITATION_BURST,
            pending_packets: DEFAULT_PENDING_PACKETS,
        }
    }
}

/// The resolved settings of the port on one NIC.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortSettings {
    /// The port's name (configured, or `port{index}`).
    pub name: String,
    /// The IPv6 MTU of the link.
    pub mtu: u16,
    /// The port's link-local address (configured, or EUI-64 from `mac`).
    pub link_local: Ipv6Addr,
    /// The port's global and unique-local addresses with their prefix lengths.
    pub addresses: Vec<Ipv6Cidr>,
    /// Router Advertisement settings, with the default prefixes filled in.
    pub router_advertisements: RouterAdvertisementConfig,
    /// The NIC's MAC address.
    pub mac: [u8; 6],
    /// Whether the settings came from a `[[port]]` table (`false`: defaults).
    pub configured: bool,
}

/// Why a configuration was rejected, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The 1-based line of the offending text.
    pub line: usize,
    /// The 1-based column (in characters) of the offending text.
    pub column: usize,
    /// What is wrong, on one line.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}

impl core::error::Error for ConfigError {}

/// Parses and validates a configuration file.
///
/// Every error carries the line and column of the offending text: TOML
/// syntax errors, unknown keys, values of the wrong type, and semantic
/// errors (names, ranges, address scopes, overlapping prefixes, duplicate
/// routes, next hops that are not on-link).
pub fn parse(text: &str) -> Result<Config, ConfigError> {
    let document: ConfigDocument = toml::from_str(text).map_err(|error| {
        let start = error.span().map_or(0, |span| span.start);
        ConfigError::at(text, start, error.message())
    })?;
    document.validate(text)
}

impl Config {
    /// The resolved settings for the NIC at `index` with MAC address `mac`:
    /// the `index`-th `[[port]]` if there is one, otherwise defaults with the
    /// name `port{index}`. A missing link-local address becomes the EUI-64
    /// address of `mac` (RFC 4291 Appendix A).
    pub fn port_settings(&self, index: usize, mac: [u8; 6]) -> PortSettings {
        match self.ports.get(index) {
            Some(port) => PortSettings {
                name: port.name.clone(),
                mtu: port.mtu,
                link_local: port.link_local.unwrap_or_else(|| eui64_link_local(mac)),
                addresses: port.addresses.clone(),
                router_advertisements: port.router_advertisements.clone(),
                mac,
                configured: true,
            },
            None => PortSettings {
                name: default_port_name(index),
                mtu: DEFAULT_MTU,
                link_local: eui64_link_local(mac),
                addresses: Vec::new(),
                router_advertisements: RouterAdvertisementConfig::default(),
                mac,
                configured: false,
            },
        }
    }

    /// The configured ports that have no NIC when the kernel found
    /// `nic_count` NICs (the kernel reports them).
    pub fn ports_without_nic(&self, nic_count: usize) -> &[PortConfig] {
        self.ports.get(nic_count..).unwrap_or(&[])
    }

    /// The index of the `[[port]]` named `name`.
    pub fn port_index(&self, name: &str) -> Option<usize> {
        self.ports.iter().position(|port| port.name == name)
    }

    /// How to parse the route file under this config: `[routes]
    /// error_limit`, and (legacy-ip) the `[translation]` mapper for IPv4
    /// lines.
    pub fn route_file_options(&self) -> crate::route_file::Options {
        #[cfg_attr(
            not(feature = "legacy-ip"),
            allow(unused_mut, reason = "only legacy-ip sets the mapper")
        )]
        let mut options = crate::route_file::Options::default()
            .with_error_limit(self.route_file.error_limit as usize);
        #[cfg(feature = "legacy-ip")]
        {
            options.mapper = self
                .translation
                .as_ref()
                .map(TranslationConfig::route_mapper);
        }
        options
    }

    /// The IPv4 uplink: the index of its `[[port]]` and its IPv4 settings.
    #[cfg(feature = "legacy-ip")]
    pub fn uplink(&self) -> Option<(usize, &UplinkConfig)> {
        self.uplink
            .as_ref()
            .map(|uplink| (uplink.port, &uplink.config))
    }

    /// The stateless translator's settings (`[translation]`
    /// `lowest_ipv6_mtu`, `udp_zero_checksum`, `traffic_class`); the RFC
    /// 7915 defaults without a `[translation]` table.
    #[cfg(feature = "legacy-ip")]
    pub fn translation_settings(&self) -> crate::translation::TranslationSettings {
        self.translation
            .as_ref()
            .map(|translation| translation.settings)
            .unwrap_or_default()
    }

    /// The SIIT address translator of this config (EAM, `pool6`, the RFC
    /// 6791 pool, the uplink address), or `None` without `[translation]`.
    /// `hash_key` keys the RFC 6791 pool choice (from the seeded RNG).
    #[cfg(feature = "legacy-ip")]
    pub fn address_translator(
        &self,
        hash_key: u64,
    ) -> Option<crate::translation::stateless_addresses::StatelessAddresses> {
        let uplink = self.uplink().map(|(_, uplink)| uplink);
        self.translation
            .as_ref()
            .map(|translation| translation.address_translator(uplink, hash_key))
    }

    /// The uplink's IPv4 routes (connected subnet, 0.0.0.0/0 via the
    /// gateway, static routes) as IPv6 routes under `pool6` with
    /// `translate via` next hops (`::` for the connected subnet). Empty
    /// without an uplink. IPv6-only types: the router can install them
    /// without naming IPv4.
    #[cfg(feature = "legacy-ip")]
    pub fn uplink_routes_under_pool6(&self) -> Vec<crate::route_file::Route> {
        match (&self.translation, self.uplink()) {
            (Some(translation), Some((_, uplink))) => translation.uplink_routes_under_pool6(uplink),
            _ => Vec::new(),
        }
    }
}

impl Default for Config {
    /// The configuration of [`DEFAULT_CONFIG`]: no ports, default router name.
    fn default() -> Self {
        Config {
            router: RouterConfig {
                name: DEFAULT_ROUTER_NAME.to_owned(),
            },
            ports: Vec::new(),
            routes: Vec::new(),
            neighbors: Vec::new(),
            icmp: IcmpConfig::default(),
            neighbor_cache: NeighborCacheConfig::default(),
            route_file: RouteFileConfig::default(),
            #[cfg(feature = "legacy-ip")]
            translation: None,
            #[cfg(feature = "legacy-ip")]
            uplink: None,
            #[cfg(feature = "legacy-ip")]
            nat64: None,
        }
    }
}

/// The name a NIC's port gets when no `[[port]]` describes it.
pub fn default_port_name(index: usize) -> String {
    format!("port{index}")
}

/// The link-local address fe80::/64 with the modified EUI-64 interface
/// identifier of `mac`: `ff:fe` inserted in the middle and the
/// universal/local bit (0x02 of the first octet) inverted
/// (RFC 4291 §2.5.6 and Appendix A, RFC 2464 §4).
pub fn eui64_link_local(mac: [u8; 6]) -> Ipv6Addr {
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

/// `prefix` with its host bits cleared.
pub fn network(prefix: Ipv6Cidr) -> Ipv6Cidr {
    let length = prefix.prefix_len();
    Ipv6Cidr::new(
        Ipv6Addr::from_bits(prefix.address().to_bits() & prefix_mask(length)),
        length,
    )
}

/// The mask of the first `length` bits (0..=128).
fn prefix_mask(length: u8) -> u128 {
    match length {
        0 => 0,
        128.. => u128::MAX,
        _ => u128::MAX << (128 - u32::from(length)),
    }
}

/// Whether two prefixes share any address (one contains the other).
fn overlaps(first: Ipv6Cidr, second: Ipv6Cidr) -> bool {
    let length = first.prefix_len().min(second.prefix_len());
    let mask = prefix_mask(length);
    first.address().to_bits() & mask == second.address().to_bits() & mask
}

/// MinRtrAdvInterval's default (RFC 4861 §6.2.1): 0.33 × max when max >= 9 s.
/// For a smaller max, RFC 4861's default (max itself) breaks its own bound
/// of 0.75 × max, so the bound is used instead (at least 3 s).
fn default_min_interval(max_seconds: u32) -> Duration {
    let max_milliseconds = u64::from(max_seconds) * 1000;
    if max_seconds >= 9 {
        Duration::from_millis(max_milliseconds * 33 / 100)
    } else {
        Duration::from_millis((max_milliseconds * 3 / 4).max(3000))
    }
}

/// AdvDefaultLifetime's default (RFC 4861 §6.2.1): 3 × max, capped at
/// 65535 s (RFC 8319 §4), which is still >= max.
fn default_router_lifetime(max_seconds: u32) -> u16 {
    u16::try_from((max_seconds.saturating_mul(3)).min(MAXIMUM_ROUTER_LIFETIME_SECONDS))
        .unwrap_or(u16::MAX)
}

impl ConfigError {
    /// An error at byte offset `offset` of `text`, with newlines in
    /// `message` folded so that it stays on one line.
    fn at(text: &str, offset: usize, message: &str) -> ConfigError {
        let (line, column) = line_and_column(text, offset);
        let message = message
            .trim()
            .lines()
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .collect::<Vec<_>>()
            .join("; ");
        ConfigError {
            line,
            column,
            message,
        }
    }

    pub(crate) fn at_span(text: &str, span: Range<usize>, message: String) -> ConfigError {
        ConfigError::at(text, span.start, &message)
    }
}

/// The 1-based line and column (counted in characters) of byte `offset` in `text`.
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// The file as deserialized, before validation.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigDocument {
    #[serde(default)]
    router: Option<RouterTable>,
    #[serde(default, rename = "port")]
    ports: Vec<PortTable>,
    #[serde(default, rename = "route")]
    routes: Vec<RouteTable>,
    #[serde(default, rename = "neighbor")]
    neighbors: Vec<NeighborTable>,
    #[serde(default)]
    icmp: Option<IcmpTable>,
    #[serde(default)]
    neighbor_cache: Option<NeighborCacheTable>,
    #[serde(default, rename = "routes")]
    route_file: Option<RouteFileTable>,
    #[cfg(feature = "legacy-ip")]
    #[serde(default)]
    translation: Option<crate::translation::config::TranslationTable>,
    /// Without legacy-ip the table is only recognised, to refuse it by name.
    #[cfg(not(feature = "legacy-ip"))]
    #[serde(default)]
    translation: Option<Spanned<serde::de::IgnoredAny>>,
    #[cfg(feature = "legacy-ip")]
    #[serde(default)]
    nat64: Option<Spanned<crate::translation::nat64::config::Nat64Table>>,
    /// Without legacy-ip the table is only recognised, to refuse it by name.
    #[cfg(not(feature = "legacy-ip"))]
    #[serde(default)]
    nat64: Option<Spanned<serde::de::IgnoredAny>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteFileTable {
    #[serde(default)]
    file_required: Option<bool>,
    #[serde(default)]
    error_limit: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RouterTable {
    #[serde(default)]
    name: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PortTable {
    name: Spanned<String>,
    #[serde(default)]
    mtu: Option<Spanned<i64>>,
    #[serde(default)]
    link_local: Option<Spanned<String>>,
    #[serde(default)]
    addresses: Vec<Spanned<String>>,
    #[serde(default)]
    router_advertisements: Option<RouterAdvertisementTable>,
    /// `[port.ipv4]`: this port is the IPv4 uplink.
    #[cfg(feature = "legacy-ip")]
    #[serde(default)]
    ipv4: Option<Spanned<crate::translation::config::UplinkTable>>,
    /// Without legacy-ip the table is only recognised, to refuse it by name.
    #[cfg(not(feature = "legacy-ip"))]
    #[serde(default)]
    ipv4: Option<Spanned<serde::de::IgnoredAny>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RouterAdvertisementTable {
    #[serde(default)]
    enabled: bool,
    #[serde(default)]
    min_interval_seconds: Option<Spanned<i64>>,
    #[serde(default)]
    max_interval_seconds: Option<Spanned<i64>>,
    #[serde(default)]
    router_lifetime_seconds: Option<Spanned<i64>>,
    #[serde(default)]
    current_hop_limit: Option<Spanned<i64>>,
    #[serde(default)]
    managed: bool,
    #[serde(default)]
    other_configuration: bool,
    #[serde(default)]
    advertise_mtu: Option<bool>,
    #[serde(default)]
    prefix: Option<Vec<PrefixTable>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PrefixTable {
    prefix: Spanned<String>,
    #[serde(default)]
    on_link: Option<bool>,
    #[serde(default)]
    autonomous: Option<bool>,
    #[serde(default)]
    valid_lifetime_seconds: Option<Spanned<i64>>,
    #[serde(default)]
    preferred_lifetime_seconds: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteTable {
    prefix: Spanned<String>,
    #[serde(default)]
    via: Option<Spanned<String>>,
    #[serde(default)]
    port: Option<Spanned<String>>,
    #[serde(default)]
    kind: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NeighborTable {
    port: Spanned<String>,
    address: Spanned<String>,
    mac: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IcmpTable {
    #[serde(default)]
    rate_limit_per_second: Option<Spanned<i64>>,
    #[serde(default)]
    burst: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NeighborCacheTable {
    #[serde(default)]
    capacity: Option<Spanned<i64>>,
    #[serde(default)]
    incomplete_limit: Option<Spanned<i64>>,
    #[serde(default)]
    solicitations_per_second: Option<Spanned<i64>>,
    #[serde(default)]
    solicitation_burst: Option<Spanned<i64>>,
    #[serde(default)]
    pending_packets: Option<Spanned<i64>>,
}

/// An integer value checked against a range, with a message naming the key.
pub(crate) fn integer_in(
    text: &str,
    value: &Spanned<i64>,
    key: &str,
    range: core::ops::RangeInclusive<i64>,
    why: &str,
) -> Result<i64, ConfigError> {
    let number = *value.get_ref();
    if range.contains(&number) {
        Ok(number)
    } else {
        Err(ConfigError::at_span(
            text,
            value.span(),
            format!(
                "{key} {number} is out of range {}..={}{why}",
                range.start(),
                range.end()
            ),
        ))
    }
}

/// An optional integer key in `range`, or `default`.
fn optional_integer(
    text: &str,
    value: &Option<Spanned<i64>>,
    key: &str,
    range: core::ops::RangeInclusive<i64>,
    default: i64,
) -> Result<i64, ConfigError> {
    match value {
        Some(value) => integer_in(text, value, key, range, ""),
        None => Ok(default),
    }
}

/// Converts a value already checked to be in a `u32` range.
fn to_u32(value: i64) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

impl ConfigDocument {
    fn validate(self, text: &str) -> Result<Config, ConfigError> {
        let router_name = match self.router.and_then(|router| router.name) {
            Some(name) => {
                validate_router_name(name.get_ref())
                    .map_err(|message| ConfigError::at_span(text, name.span(), message))?;
                name.into_inner()
            }
            None => DEFAULT_ROUTER_NAME.to_owned(),
        };

        let mut ports: Vec<PortConfig> = Vec::with_capacity(self.ports.len());
        #[cfg(feature = "legacy-ip")]
        let mut uplink_tables: Vec<(
            usize,
            Spanned<crate::translation::config::UplinkTable>,
        )> = Vec::new();
        // Every address with its span, for the overlap check across ports.
        let mut all_addresses: Vec<(usize, Ipv6Cidr, Range<usize>)> = Vec::new();
        for (index, port) in self.ports.into_iter().enumerate() {
            let name_span = port.name.span();
            if index == MAX_PORTS {
                return Err(ConfigError::at_span(
                    text,
                    name_span,
                    format!("too many ports: a router drives at most {MAX_PORTS}"),
                ));
            }
            validate_port_name(index, port.name.get_ref())
                .map_err(|message| ConfigError::at_span(text, name_span.clone(), message))?;
            if let Some(earlier) = ports
                .iter()
                .position(|earlier| earlier.name == *port.name.get_ref())
            {
                return Err(ConfigError::at_span(
                    text,
                    name_span,
                    format!(
                        "duplicate port name `{}` (already used by port {earlier})",
                        port.name.get_ref()
                    ),
                ));
            }

            let mtu = match port.mtu {
                Some(mtu) => {
                    let value = integer_in(
                        text,
                        &mtu,
                        "mtu",
                        i64::from(MINIMUM_MTU)..=i64::from(MAXIMUM_MTU),
                        " (IPv6 needs at least 1280, RFC 8200 §5)",
                    )?;
                    // In range, so it fits.
                    u16::try_from(value).unwrap_or(DEFAULT_MTU)
                }
                None => DEFAULT_MTU,
            };

            let link_local = match port.link_local {
                Some(address) => Some(
                    parse_link_local(address.get_ref())
                        .map_err(|message| ConfigError::at_span(text, address.span(), message))?,
                ),
                None => None,
            };

            let mut addresses: Vec<Ipv6Cidr> = Vec::with_capacity(port.addresses.len());
            for address in &port.addresses {
                if addresses.len() == MAXIMUM_ADDRESSES_PER_PORT {
                    return Err(ConfigError::at_span(
                        text,
                        address.span(),
                        format!(
                            "too many addresses: a port has at most {MAXIMUM_ADDRESSES_PER_PORT}"
                        ),
                    ));
                }
                let parsed = parse_interface_address(address.get_ref())
                    .map_err(|message| ConfigError::at_span(text, address.span(), message))?;
                for (other_port, other, _) in &all_addresses {
                    if overlaps(*other, parsed) {
                        let message = if *other_port == index {
                            format!(
                                "address {parsed} overlaps {other}, already on this port \
                                 (one prefix per subnet)"
                            )
                        } else {
                            format!(
                                "address {parsed} overlaps {other} on port `{}`: \
                                 a subnet is on-link on one port only",
                                ports[*other_port].name
                            )
                        };
                        return Err(ConfigError::at_span(text, address.span(), message));
                    }
                }
                all_addresses.push((index, parsed, address.span()));
                addresses.push(parsed);
            }

            let router_advertisements = match port.router_advertisements {
                Some(table) => table.validate(text, &addresses)?,
                None => RouterAdvertisementConfig {
                    prefixes: default_prefixes(&addresses),
                    ..RouterAdvertisementConfig::default()
                },
            };

            #[cfg(feature = "legacy-ip")]
            if let Some(table) = port.ipv4 {
                uplink_tables.push((index, table));
            }
            #[cfg(not(feature = "legacy-ip"))]
            if let Some(table) = port.ipv4 {
                return Err(ConfigError::at_span(
                    text,
                    table.span(),
                    "[port.ipv4] (an IPv4 uplink) needs the legacy-ip build; this image was \
                     built without legacy-ip and is IPv6 only"
                        .to_owned(),
                ));
            }

            ports.push(PortConfig {
                name: port.name.into_inner(),
                mtu,
                link_local,
                addresses,
                router_advertisements,
            });
        }

        let routes = validate_routes(text, self.routes, &ports)?;
        let neighbors = validate_neighbors(text, self.neighbors, &ports)?;

        let icmp = match self.icmp {
            Some(table) => IcmpConfig {
                rate_limit_per_second: to_u32(optional_integer(
                    text,
                    &table.rate_limit_per_second,
                    "rate_limit_per_second",
                    0..=100_000,
                    i64::from(DEFAULT_ICMP_RATE_LIMIT_PER_SECOND),
                )?),
                burst: to_u32(optional_integer(
                    text,
                    &table.burst,
                    "burst",
                    0..=100_000,
                    i64::from(DEFAULT_ICMP_BURST),
                )?),
            },
            None => IcmpConfig::default(),
        };

        let neighbor_cache = match self.neighbor_cache {
            Some(table) => {
                let capacity = optional_integer(
                    text,
                    &table.capacity,
                    "capacity",
                    16..=i64::from(MAXIMUM_NEIGHBOR_CACHE_CAPACITY),
                    i64::from(DEFAULT_NEIGHBOR_CACHE_CAPACITY),
                )?;
                let incomplete_limit = optional_integer(
                    text,
                    &table.incomplete_limit,
                    "incomplete_limit",
                    1..=capacity,
                    i64::from(DEFAULT_INCOMPLETE_LIMIT).min(capacity),
                )?;
                NeighborCacheConfig {
                    capacity: to_u32(capacity),
                    incomplete_limit: to_u32(incomplete_limit),
                    solicitations_per_second: to_u32(optional_integer(
                        text,
                        &table.solicitations_per_second,
                        "solicitations_per_second",
                        1..=100_000,
                        i64::from(DEFAULT_SOLICITATIONS_PER_SECOND),
                    )?),
                    solicitation_burst: to_u32(optional_integer(
                        text,
                        &table.solicitation_burst,
                        "solicitation_burst",
                        1..=100_000,
                        i64::from(DEFAULT_SOLICITATION_BURST),
                    )?),
                    pending_packets: to_u32(optional_integer(
                        text,
                        &table.pending_packets,
                        "pending_packets",
                        0..=i64::from(MAXIMUM_PENDING_PACKETS),
                        i64::from(DEFAULT_PENDING_PACKETS),
                    )?),
                }
            }
            None => NeighborCacheConfig::default(),
        };

        let route_file = match self.route_file {
            Some(table) => RouteFileConfig {
                file_required: table.file_required.unwrap_or(true),
                error_limit: to_u32(optional_integer(
                    text,
                    &table.error_limit,
                    "error_limit",
                    0..=i64::from(MAXIMUM_ROUTE_FILE_ERROR_LIMIT),
                    i64::from(DEFAULT_ROUTE_FILE_ERROR_LIMIT),
                )?),
            },
            None => RouteFileConfig::default(),
        };

        #[cfg(feature = "legacy-ip")]
        let (translation, uplink) = {
            let mut translation = match self.translation {
                Some(table) => Some(crate::translation::config::validate_translation(
                    text, table, &ports,
                )?),
                None => None,
            };
            let uplink = crate::translation::config::validate_uplinks(
                text,
                uplink_tables,
                translation
                    .as_mut()
                    .map(|(translation, spans)| (translation, &*spans)),
                &ports,
            )?;
            (translation.map(|(translation, _)| translation), uplink)
        };
        #[cfg(feature = "legacy-ip")]
        let nat64 = match self.nat64 {
            Some(table) => Some(crate::translation::nat64::config::validate_nat64(
                text,
                table,
                translation.as_ref(),
                uplink.as_ref(),
            )?),
            None => None,
        };
        #[cfg(not(feature = "legacy-ip"))]
        if let Some(table) = self.translation {
            return Err(ConfigError::at_span(
                text,
                table.span(),
                "the [translation] table (pool6, explicit address mappings, the RFC 6791 \
                 pool) needs the legacy-ip build; this image was built without legacy-ip \
                 and is IPv6 only"
                    .to_owned(),
            ));
        }
        #[cfg(not(feature = "legacy-ip"))]
        if let Some(table) = self.nat64 {
            return Err(ConfigError::at_span(
                text,
                table.span(),
                "the [nat64] table (stateful NAT64, RFC 6146: pool4 and its sessions) needs \
                 the legacy-ip build; this image was built without legacy-ip and is IPv6 only"
                    .to_owned(),
            ));
        }

        Ok(Config {
            router: RouterConfig { name: router_name },
            ports,
            routes,
            neighbors,
            icmp,
            neighbor_cache,
            route_file,
            #[cfg(feature = "legacy-ip")]
            translation,
            #[cfg(feature = "legacy-ip")]
            uplink,
            #[cfg(feature = "legacy-ip")]
            nat64,
        })
    }
}

/// One Prefix Information option per /64 address (RFC 4862 §5.5.3 needs a
/// 64-bit prefix for SLAAC), each prefix once.
fn default_prefixes(addresses: &[Ipv6Cidr]) -> Vec<AdvertisedPrefix> {
    let mut prefixes: Vec<AdvertisedPrefix> = Vec::new();
    for address in addresses
        .iter()
        .filter(|address| address.prefix_len() == 64)
    {
        let prefix = AdvertisedPrefix::default_for(*address);
        if !prefixes.iter().any(|known| known.prefix == prefix.prefix) {
            prefixes.push(prefix);
        }
    }
    prefixes
}

impl RouterAdvertisementTable {
    fn validate(
        self,
        text: &str,
        addresses: &[Ipv6Cidr],
    ) -> Result<RouterAdvertisementConfig, ConfigError> {
        let max = to_u32(optional_integer(
            text,
            &self.max_interval_seconds,
            "max_interval_seconds",
            i64::from(MINIMUM_MAX_RTR_ADV_INTERVAL_SECONDS)
                ..=i64::from(MAXIMUM_MAX_RTR_ADV_INTERVAL_SECONDS),
            i64::from(DEFAULT_MAX_RTR_ADV_INTERVAL_SECONDS),
        )?);
        let min_interval = match &self.min_interval_seconds {
            Some(value) => {
                // RFC 4861 §6.2.1: 3 s ..= 0.75 × MaxRtrAdvInterval.
                let upper = i64::from(max) * 3 / 4;
                let seconds = integer_in(
                    text,
                    value,
                    "min_interval_seconds",
                    i64::from(MINIMUM_MIN_RTR_ADV_INTERVAL_SECONDS)..=upper,
                    " (3 ..= 0.75 × max_interval_seconds, RFC 4861 §6.2.1)",
                )?;
                Duration::from_secs(seconds.unsigned_abs())
            }
            None => default_min_interval(max),
        };
        let router_lifetime_seconds = match &self.router_lifetime_seconds {
            Some(value) => {
                let seconds = *value.get_ref();
                if seconds != 0 {
                    integer_in(
                        text,
                        value,
                        "router_lifetime_seconds",
                        i64::from(max)..=i64::from(MAXIMUM_ROUTER_LIFETIME_SECONDS),
                        " (or 0: not a default router; RFC 4861 §6.2.1, RFC 8319 §4)",
                    )?;
                }
                u16::try_from(seconds).unwrap_or(u16::MAX)
            }
            None => default_router_lifetime(max),
        };
        let current_hop_limit = optional_integer(
            text,
            &self.current_hop_limit,
            "current_hop_limit",
            0..=255,
            i64::from(DEFAULT_CURRENT_HOP_LIMIT),
        )?;
        let prefixes = match self.prefix {
            None => default_prefixes(addresses),
            Some(tables) => {
                let mut prefixes: Vec<AdvertisedPrefix> = Vec::with_capacity(tables.len());
                for table in tables {
                    let span = table.prefix.span();
                    if prefixes.len() == MAXIMUM_ADVERTISED_PREFIXES {
                        return Err(ConfigError::at_span(
                            text,
                            span,
                            format!(
                                "too many prefixes: a port advertises at most \
                                 {MAXIMUM_ADVERTISED_PREFIXES}"
                            ),
                        ));
                    }
                    let prefix = parse_prefix(table.prefix.get_ref())
                        .map_err(|message| ConfigError::at_span(text, span.clone(), message))?;
                    let address = prefix.address();
                    if prefix.prefix_len() == 0
                        || address.is_multicast()
                        || address.is_unicast_link_local()
                    {
                        return Err(ConfigError::at_span(
                            text,
                            span,
                            format!(
                                "prefix {prefix} cannot be advertised: it must be a global or \
                                 unique-local unicast prefix (RFC 4861 §6.2.1)"
                            ),
                        ));
                    }
                    if prefixes.iter().any(|known| known.prefix == prefix) {
                        return Err(ConfigError::at_span(
                            text,
                            span,
                            format!("prefix {prefix} is advertised twice"),
                        ));
                    }
                    let valid = optional_integer(
                        text,
                        &table.valid_lifetime_seconds,
                        "valid_lifetime_seconds",
                        0..=i64::from(u32::MAX),
                        i64::from(DEFAULT_VALID_LIFETIME_SECONDS),
                    )?;
                    let preferred = match &table.preferred_lifetime_seconds {
                        Some(value) => integer_in(
                            text,
                            value,
                            "preferred_lifetime_seconds",
                            0..=valid,
                            " (at most valid_lifetime_seconds, RFC 4861 §4.6.2)",
                        )?,
                        None => i64::from(DEFAULT_PREFERRED_LIFETIME_SECONDS).min(valid),
                    };
                    prefixes.push(AdvertisedPrefix {
                        prefix,
                        on_link: table.on_link.unwrap_or(true),
                        autonomous: table.autonomous.unwrap_or(true),
                        valid_lifetime_seconds: to_u32(valid),
                        preferred_lifetime_seconds: to_u32(preferred),
                    });
                }
                prefixes
            }
        };
        Ok(RouterAdvertisementConfig {
            enabled: self.enabled,
            min_interval,
            max_interval: Duration::from_secs(u64::from(max)),
            router_lifetime_seconds,
            current_hop_limit: u8::try_from(current_hop_limit).unwrap_or(DEFAULT_CURRENT_HOP_LIMIT),
            managed: self.managed,
            other_configuration: self.other_configuration,
            advertise_mtu: self.advertise_mtu.unwrap_or(true),
            prefixes,
        })
    }
}

/// The port named `name`, or an error at `span`.
pub(crate) fn find_port(
    text: &str,
    ports: &[PortConfig],
    name: &Spanned<String>,
) -> Result<usize, ConfigError> {
    ports
        .iter()
        .position(|port| port.name == *name.get_ref())
        .ok_or_else(|| {
            ConfigError::at_span(
                text,
                name.span(),
                format!("no [[port]] is named `{}`", name.get_ref()),
            )
        })
}

/// Whether `address` is on-link on `port`: inside one of its address prefixes.
pub(crate) fn on_link(port: &PortConfig, address: Ipv6Addr) -> bool {
    port.addresses
        .iter()
        .any(|prefix| prefix.contains_addr(&address))
}

fn validate_routes(
    text: &str,
    tables: Vec<RouteTable>,
    ports: &[PortConfig],
) -> Result<Vec<RouteConfig>, ConfigError> {
    let mut routes: Vec<RouteConfig> = Vec::with_capacity(tables.len());
    for table in tables {
        let prefix_span = table.prefix.span();
        if routes.len() == MAXIMUM_STATIC_ROUTES {
            return Err(ConfigError::at_span(
                text,
                prefix_span,
                format!("too many routes: at most {MAXIMUM_STATIC_ROUTES} [[route]] tables"),
            ));
        }
        let prefix = parse_prefix(table.prefix.get_ref())
            .map_err(|message| ConfigError::at_span(text, prefix_span.clone(), message))?;
        let destination = prefix.address();
        if destination.is_multicast() && prefix.prefix_len() >= 8 {
            return Err(ConfigError::at_span(
                text,
                prefix_span,
                format!("route {prefix} is multicast; multicast is not forwarded"),
            ));
        }
        if prefix.prefix_len() >= 10 && destination.is_unicast_link_local() {
            return Err(ConfigError::at_span(
                text,
                prefix_span,
                format!(
                    "route {prefix} is link-local; link-local destinations are never \
                     forwarded (RFC 4291 §2.5.6)"
                ),
            ));
        }
        if let Some(earlier) = routes.iter().position(|route| route.prefix == prefix) {
            return Err(ConfigError::at_span(
                text,
                prefix_span,
                format!("duplicate route {prefix} (already route {earlier})"),
            ));
        }
        let kind = table.kind.as_ref().map(|kind| kind.get_ref().as_str());
        let target = match kind {
            None | Some("forward") => {
                let port_index = match &table.port {
                    Some(name) => Some(find_port(text, ports, name)?),
                    None => None,
                };
                let via = match &table.via {
                    Some(via) => {
                        let address: Ipv6Addr = via.get_ref().parse().map_err(|_| {
                            ConfigError::at_span(
                                text,
                                via.span(),
                                format!("via `{}` is not an IPv6 address", via.get_ref()),
                            )
                        })?;
                        if address.is_multicast()
                            || address.is_unspecified()
                            || address.is_loopback()
                        {
                            return Err(ConfigError::at_span(
                                text,
                                via.span(),
                                format!("via {address} must be a unicast address of a neighbor"),
                            ));
                        }
                        Some((address, via.span()))
                    }
                    None => None,
                };
                let port = match (port_index, &via) {
                    (None, None) => {
                        return Err(ConfigError::at_span(
                            text,
                            prefix_span,
                            format!(
                                "route {prefix} needs `via` (a next hop), `port`, or \
                                 kind = \"blackhole\" or \"reject\""
                            ),
                        ));
                    }
                    (Some(port), None) => port,
                    (port, Some((address, span))) => {
                        if address.is_unicast_link_local() {
                            port.ok_or_else(|| {
                                ConfigError::at_span(
                                    text,
                                    span.clone(),
                                    format!(
                                        "via {address} is link-local, so the route needs \
                                         `port` to say which link"
                                    ),
                                )
                            })?
                        } else {
                            match port {
                                Some(port) if on_link(&ports[port], *address) => port,
                                Some(port) => {
                                    return Err(ConfigError::at_span(
                                        text,
                                        span.clone(),
                                        format!(
                                            "via {address} is not on-link on port `{}` \
                                             (in none of its address prefixes)",
                                            ports[port].name
                                        ),
                                    ));
                                }
                                None => ports
                                    .iter()
                                    .position(|port| on_link(port, *address))
                                    .ok_or_else(|| {
                                        ConfigError::at_span(
                                            text,
                                            span.clone(),
                                            format!(
                                                "via {address} is not on-link on any port \
                                                 (recursive next hops are not supported)"
                                            ),
                                        )
                                    })?,
                            }
                        }
                    }
                };
                if via.as_ref().is_some_and(|(address, _)| {
                    ports[port]
                        .addresses
                        .iter()
                        .any(|own| own.address() == *address)
                        || ports[port].link_local == Some(*address)
                }) {
                    let span = table
                        .via
                        .as_ref()
                        .map_or(prefix_span.clone(), Spanned::span);
                    return Err(ConfigError::at_span(
                        text,
                        span,
                        "via is one of the router's own addresses".to_owned(),
                    ));
                }
                RouteTarget::Forward {
                    port: ports[port].name.clone(),
                    via: via.map(|(address, _)| address),
                }
            }
            Some(kind @ ("blackhole" | "reject")) => {
                if let Some(extra) = table.via.as_ref().or(table.port.as_ref()) {
                    return Err(ConfigError::at_span(
                        text,
                        extra.span(),
                        format!("a {kind} route takes neither `via` nor `port`"),
                    ));
                }
                if kind == "blackhole" {
                    RouteTarget::Blackhole
                } else {
                    RouteTarget::Reject
                }
            }
            Some(other) => {
                let span = table.kind.as_ref().map_or(prefix_span, Spanned::span);
                return Err(ConfigError::at_span(
                    text,
                    span,
                    format!(
                        "unknown route kind `{other}`: expected \"forward\", \"blackhole\" \
                         or \"reject\""
                    ),
                ));
            }
        };
        routes.push(RouteConfig { prefix, target });
    }
    Ok(routes)
}

fn validate_neighbors(
    text: &str,
    tables: Vec<NeighborTable>,
    ports: &[PortConfig],
) -> Result<Vec<StaticNeighborConfig>, ConfigError> {
    let mut neighbors: Vec<StaticNeighborConfig> = Vec::with_capacity(tables.len());
    for table in tables {
        if neighbors.len() == MAXIMUM_STATIC_NEIGHBORS {
            return Err(ConfigError::at_span(
                text,
                table.address.span(),
                format!("too many neighbors: at most {MAXIMUM_STATIC_NEIGHBORS}"),
            ));
        }
        let port = find_port(text, ports, &table.port)?;
        let address: Ipv6Addr = table.address.get_ref().parse().map_err(|_| {
            ConfigError::at_span(
                text,
                table.address.span(),
                format!(
                    "address `{}` is not an IPv6 address",
                    table.address.get_ref()
                ),
            )
        })?;
        if address.is_multicast() || address.is_unspecified() || address.is_loopback() {
            return Err(ConfigError::at_span(
                text,
                table.address.span(),
                format!("neighbor {address} is not a unicast address"),
            ));
        }
        if !address.is_unicast_link_local() && !on_link(&ports[port], address) {
            return Err(ConfigError::at_span(
                text,
                table.address.span(),
                format!(
                    "neighbor {address} is neither link-local nor on-link on port `{}`",
                    ports[port].name
                ),
            ));
        }
        let mac = parse_mac(table.mac.get_ref())
            .map_err(|message| ConfigError::at_span(text, table.mac.span(), message))?;
        let name = &ports[port].name;
        if neighbors
            .iter()
            .any(|known| known.port == *name && known.address == address)
        {
            return Err(ConfigError::at_span(
                text,
                table.address.span(),
                format!("duplicate neighbor {address} on port `{name}`"),
            ));
        }
        neighbors.push(StaticNeighborConfig {
            port: name.clone(),
            address,
            mac,
        });
    }
    Ok(neighbors)
}

fn validate_router_name(name: &str) -> Result<(), String> {
    let length = name.chars().count();
    if length == 0 || length > MAXIMUM_ROUTER_NAME_LENGTH {
        return Err(format!(
            "router name must be 1..={MAXIMUM_ROUTER_NAME_LENGTH} characters, not {length}"
        ));
    }
    if !name
        .bytes()
        .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
    {
        return Err(format!(
            "router name `{name}` may contain only letters, digits and `-`"
        ));
    }
    Ok(())
}

fn validate_port_name(index: usize, name: &str) -> Result<(), String> {
    let length = name.chars().count();
    if length == 0 || length > MAXIMUM_PORT_NAME_LENGTH {
        return Err(format!(
            "port name must be 1..={MAXIMUM_PORT_NAME_LENGTH} characters, not {length}"
        ));
    }
    if !name
        .bytes()
        .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-')
    {
        return Err(format!(
            "port name `{name}` may contain only a-z, 0-9 and `-`"
        ));
    }
    // `port<N>` names the NIC at index N when it has no [[port]] table; a
    // configured port may use that form only for its own index, so the
    // names of default ports never collide with configured ones.
    if let Some(digits) = name.strip_prefix("port")
        && !digits.is_empty()
        && digits.bytes().all(|byte| byte.is_ascii_digit())
        && *name != default_port_name(index)
    {
        return Err(format!(
            "port name `{name}` is reserved for the NIC it numbers; \
             this is port {index}, so use `port{index}` or another name"
        ));
    }
    Ok(())
}

fn parse_link_local(text: &str) -> Result<Ipv6Addr, String> {
    let address: Ipv6Addr = text
        .parse()
        .map_err(|_| format!("link_local `{text}` is not an IPv6 address"))?;
    if address.segments()[0] & 0xffc0 != 0xfe80 {
        return Err(format!(
            "link_local {address} is not in fe80::/10 (RFC 4291 §2.5.6)"
        ));
    }
    if address.segments()[4..] == [0, 0, 0, 0] {
        return Err(format!(
            "link_local {address} has an all-zero interface identifier, which is \
             the Subnet-Router anycast address (RFC 4291 §2.6.1)"
        ));
    }
    Ok(address)
}

/// `ADDRESS/LENGTH`, without checks on the address.
fn parse_address_and_length(text: &str, what: &str) -> Result<(Ipv6Addr, u8), String> {
    let (address, length) = text
        .split_once('/')
        .ok_or_else(|| format!("{what} `{text}` needs a prefix length, as in 2001:db8::/32"))?;
    let address: Ipv6Addr = address
        .parse()
        .map_err(|_| format!("{what} `{text}`: `{address}` is not an IPv6 address"))?;
    let length: u8 = length
        .parse()
        .ok()
        .filter(|length| *length <= 128)
        .ok_or_else(|| format!("{what} `{text}`: prefix length must be 0..=128"))?;
    Ok((address, length))
}

/// A route or advertised prefix: `ADDRESS/LENGTH` with no host bits set.
pub(crate) fn parse_prefix(text: &str) -> Result<Ipv6Cidr, String> {
    let (address, length) = parse_address_and_length(text, "prefix")?;
    let prefix = Ipv6Cidr::new(address, length);
    let normalized = network(prefix);
    if normalized != prefix {
        return Err(format!(
            "prefix {text} has host bits set; did you mean {normalized}?"
        ));
    }
    Ok(prefix)
}

/// A port address: global or unique-local unicast, prefix length 1..=128.
fn parse_interface_address(text: &str) -> Result<Ipv6Cidr, String> {
    let (address, length) = parse_address_and_length(text, "address")?;
    if length == 0 {
        return Err(format!("address {text}: prefix length must be 1..=128"));
    }
    if address.is_unspecified()
        || address.is_loopback()
        || address.is_multicast()
        || address.to_ipv4_mapped().is_some()
    {
        return Err(format!(
            "address {address} is not a unicast address a router can own"
        ));
    }
    if address.is_unicast_link_local() {
        return Err(format!(
            "address {address} is link-local; set it with `link_local` instead"
        ));
    }
    let cidr = Ipv6Cidr::new(address, length);
    // RFC 4291 §2.6.1; RFC 6164 §3 allows the all-zero host on /127 links.
    if length < 127 && network(cidr).address() == address {
        return Err(format!(
            "address {text} is the Subnet-Router anycast address of its prefix \
             (RFC 4291 §2.6.1); give the interface a host address"
        ));
    }
    Ok(cidr)
}

/// A MAC address `xx:xx:xx:xx:xx:xx` (or with `-`), unicast.
pub(crate) fn parse_mac(text: &str) -> Result<[u8; 6], String> {
    let mut mac = [0u8; 6];
    let mut parts = text.split([':', '-']);
    for byte in &mut mac {
        let part = parts
            .next()
            .filter(|part| part.len() == 2)
            .ok_or_else(|| format!("mac `{text}` is not of the form 02:00:00:00:00:01"))?;
        *byte = u8::from_str_radix(part, 16)
            .map_err(|_| format!("mac `{text}` is not of the form 02:00:00:00:00:01"))?;
    }
    if parts.next().is_some() {
        return Err(format!("mac `{text}` is not of the form 02:00:00:00:00:01"));
    }
    if mac[0] & 1 != 0 || mac == [0; 6] {
        return Err(format!(
            "mac {text} is multicast or all-zero, not a neighbor's address"
        ));
    }
    Ok(mac)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    fn error_of(text: &str) -> ConfigError {
        match parse(text) {
            Ok(config) => panic!("expected an error, parsed {config:?}"),
            Err(error) => error,
        }
    }

    #[track_caller]
    fn assert_error(text: &str, line: usize, column: usize, needle: &str) {
        let error = error_of(text);
        assert_eq!(
            (error.line, error.column),
            (line, column),
            "wrong position for {error}"
        );
        assert!(
            error.message.contains(needle),
            "message `{}` lacks `{needle}`",
            error.message
        );
        assert!(!error.message.contains('\n'));
    }

    #[test]
    fn default_config_parses_to_default() {
        assert_eq!(parse(DEFAULT_CONFIG).unwrap(), Config::default());
    }

    #[test]
    fn empty_file_is_default() {
        assert_eq!(parse("").unwrap(), Config::default());
    }

    #[test]
    fn full_config() {
        let config = parse(
            "[router]\nname = \"edge-1\"\n\n[[port]]\nname = \"lan0\"\nmtu = 9000\n\
             link_local = \"fe80::1\"\n\n[[port]]\nname = \"wan0\"\n",
        )
        .unwrap();
        assert_eq!(config.router.name, "edge-1");
        assert_eq!(
            config.ports,
            [
                PortConfig {
                    name: "lan0".into(),
                    mtu: 9000,
                    link_local: Some("fe80::1".parse().unwrap()),
                    addresses: Vec::new(),
                    router_advertisements: RouterAdvertisementConfig::default(),
                },
                PortConfig {
                    name: "wan0".into(),
                    mtu: 1500,
                    link_local: None,
                    addresses: Vec::new(),
                    router_advertisements: RouterAdvertisementConfig::default(),
                },
            ]
        );
    }

    #[test]
    fn example_file_parses() {
        #[cfg(feature = "legacy-ip")]
        {
            let config = parse(include_str!("../../qemu/example.toml")).unwrap();
            assert!(!config.ports.is_empty());
            assert!(config.uplink().is_some());
            assert!(config.nat64.is_some());
        }
        // The example documents the translator too, which an IPv6-only
        // image refuses by name.
        #[cfg(not(feature = "legacy-ip"))]
        assert!(
            error_of(include_str!("../../qemu/example.toml"))
                .message
                .contains("built without legacy-ip")
        );
    }

    #[test]
    fn eui64_from_mac() {
        // RFC 4291 Appendix A: 34-56-78-9A-BC-DE -> 3656:78ff:fe9a:bcde.
        assert_eq!(
            eui64_link_local([0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde]),
            "fe80::3656:78ff:fe9a:bcde".parse::<Ipv6Addr>().unwrap()
        );
        // QEMU's default MAC: the universal/local bit is inverted to 1.
        assert_eq!(
            eui64_link_local([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]),
            "fe80::5054:ff:fe12:3456".parse::<Ipv6Addr>().unwrap()
        );
    }

    #[test]
    fn port_settings_configured_and_default() {
        let config = parse("[[port]]\nname = \"lan0\"\nlink_local = \"fe80::1\"\n").unwrap();
        let mac = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
        let first = config.port_settings(0, mac);
        assert_eq!(first.name, "lan0");
        assert_eq!(first.link_local, "fe80::1".parse::<Ipv6Addr>().unwrap());
        assert!(first.configured);
        let second = config.port_settings(1, mac);
        assert_eq!(second.name, "port1");
        assert_eq!(second.mtu, DEFAULT_MTU);
        assert_eq!(second.link_local, eui64_link_local(mac));
        assert!(!second.configured);
        assert_eq!(config.ports_without_nic(0).len(), 1);
        assert!(config.ports_without_nic(1).is_empty());
        assert!(config.ports_without_nic(5).is_empty());
    }

    #[test]
    fn display_format() {
        let error = ConfigError {
            line: 3,
            column: 7,
            message: "bad".into(),
        };
        assert_eq!(error.to_string(), "line 3, column 7: bad");
    }

    #[test]
    fn line_and_column_count_characters() {
        let text = "a\nbé=c\n";
        assert_eq!(line_and_column(text, 0), (1, 1));
        assert_eq!(line_and_column(text, 2), (2, 1));
        assert_eq!(line_and_column(text, 5), (2, 3)); // after the 2-byte é
        assert_eq!(line_and_column(text, 4), (2, 2)); // inside é: rounds down
        assert_eq!(line_and_column(text, 100), (3, 1));
    }

    // Syntax errors.

    #[test]
    fn syntax_error_unterminated_string() {
        assert_error("[router]\nname = \"pure6\n", 2, 14, "invalid basic string");
    }

    #[test]
    fn syntax_error_bad_table_header() {
        assert_error("[router\nname = \"x\"\n", 1, 8, "unclosed table");
    }

    #[test]
    fn syntax_error_duplicate_key() {
        assert_error(
            "[router]\nname = \"a\"\nname = \"b\"\n",
            3,
            1,
            "duplicate key",
        );
    }

    // Unknown keys.

    #[test]
    fn unknown_top_level_key() {
        assert_error("[router]\n\n[firewall]\n", 3, 2, "unknown field `firewall`");
    }

    #[test]
    fn unknown_router_key() {
        assert_error(
            "[router]\nname = \"a\"\n  hostname = \"b\"\n",
            3,
            3,
            "unknown field `hostname`",
        );
    }

    #[test]
    fn unknown_port_key() {
        assert_error(
            "[[port]]\nname = \"lan0\"\nspeed = 10\n",
            3,
            1,
            "unknown field `speed`",
        );
    }

    // Wrong types.

    #[test]
    fn mtu_wrong_type() {
        assert_error(
            "[[port]]\nname = \"lan0\"\nmtu = \"1500\"\n",
            3,
            7,
            "invalid type",
        );
    }

    #[test]
    fn name_wrong_type() {
        assert_error("[[port]]\nname = 7\n", 2, 8, "invalid type");
    }

    #[test]
    fn port_not_an_array_of_tables() {
        assert_error("port = 3\n", 1, 8, "expected a sequence");
    }

    #[test]
    fn missing_port_name() {
        // The span is the [[port]] table that lacks the key.
        assert_error("[[port]]\nmtu = 1500\n", 1, 1, "missing field `name`");
    }

    // Semantic errors.

    #[test]
    fn mtu_too_small() {
        assert_error(
            "[[port]]\nname = \"lan0\"\nmtu = 1279\n",
            3,
            7,
            "mtu 1279 is out of range 1280..=9000",
        );
    }

    #[test]
    fn mtu_too_large_and_negative() {
        assert_error(
            "[[port]]\nname = \"lan0\"\nmtu = 9001\n",
            3,
            7,
            "out of range",
        );
        assert_error(
            "[[port]]\nname = \"lan0\"\nmtu = -1\n",
            3,
            7,
            "out of range",
        );
    }

    #[test]
    fn link_local_not_link_local() {
        assert_error(
            "[[port]]\nname = \"lan0\"\nlink_local = \"2001:db8::1\"\n",
            3,
            14,
            "not in fe80::/10",
        );
    }

    #[test]
    fn link_local_not_an_address() {
        assert_error(
            "[[port]]\nname = \"lan0\"\nlink_local = \"fe80::zz\"\n",
            3,
            14,
            "is not an IPv6 address",
        );
    }

    #[test]
    fn link_local_subnet_router_anycast() {
        assert_error(
            "[[port]]\nname = \"lan0\"\nlink_local = \"fe80::\"\n",
            3,
            14,
            "Subnet-Router anycast",
        );
    }

    #[test]
    fn link_local_upper_fe80_slash_10_accepted() {
        let config = parse("[[port]]\nname = \"lan0\"\nlink_local = \"febf::1\"\n").unwrap();
        assert_eq!(config.ports[0].link_local, Some("febf::1".parse().unwrap()));
    }

    #[test]
    fn duplicate_port_name() {
        assert_error(
            "[[port]]\nname = \"lan0\"\n\n[[port]]\nname = \"lan0\"\n",
            5,
            8,
            "duplicate port name `lan0`",
        );
    }

    #[test]
    fn port_name_bad_characters() {
        assert_error("[[port]]\nname = \"Lan0\"\n", 2, 8, "only a-z, 0-9");
        assert_error("[[port]]\nname = \"lan 0\"\n", 2, 8, "only a-z, 0-9");
    }

    #[test]
    fn port_name_length() {
        assert_error("[[port]]\nname = \"\"\n", 2, 8, "1..=15 characters, not 0");
        assert_error("[[port]]\nname = \"abcdefghijklmnop\"\n", 2, 8, "not 16");
        assert!(parse("[[port]]\nname = \"abcdefghijklmno\"\n").is_ok());
    }

    #[test]
    fn port_name_reserved_for_other_index() {
        assert_error(
            "[[port]]\nname = \"port1\"\n",
            2,
            8,
            "reserved for the NIC it numbers",
        );
        assert!(parse("[[port]]\nname = \"port0\"\n").is_ok());
        assert!(parse("[[port]]\nname = \"portal\"\n").is_ok());
    }

    #[test]
    fn too_many_ports() {
        let mut text = alloc::string::String::new();
        for index in 0..=MAX_PORTS {
            text.push_str(&format!("[[port]]\nname = \"lan{index}\"\n"));
        }
        assert_error(
            &text,
            2 * MAX_PORTS + 2,
            8,
            "too many ports: a router drives at most 8",
        );
        let eight = text
            .lines()
            .take(2 * MAX_PORTS)
            .collect::<Vec<_>>()
            .join("\n");
        assert_eq!(parse(&eight).unwrap().ports.len(), MAX_PORTS);
    }

    #[test]
    fn router_name_invalid() {
        assert_error("[router]\nname = \"\"\n", 2, 8, "1..=63");
        assert_error("[router]\nname = \"a_b\"\n", 2, 8, "letters, digits");
    }

    #[test]
    fn error_column_counts_characters_after_non_ascii() {
        // A comment with multi-byte characters before the error on the same line
        // is not possible in TOML, so put them in a string on the line.
        assert_error(
            "[[port]]\nname = \"lan0\"\nlink_local = \"fé80::1\"\n",
            3,
            14,
            "not an IPv6 address",
        );
    }

    // Addresses, routes, neighbors, Router Advertisements, [icmp], [neighbor_cache].

    const TWO_PORTS: &str = "[[port]]\nname = \"lan0\"\naddresses = [\"2001:db8:1::1/64\"]\n\n\
                             [[port]]\nname = \"wan0\"\naddresses = [\"2001:db8:ff::2/64\"]\n";

    fn with_two_ports(rest: &str) -> alloc::string::String {
        format!("{TWO_PORTS}{rest}")
    }

    fn cidr(text: &str) -> Ipv6Cidr {
        let (address, length) = text.split_once('/').unwrap();
        Ipv6Cidr::new(address.parse().unwrap(), length.parse().unwrap())
    }

    #[test]
    fn addresses_and_default_prefixes() {
        let config = parse(
            "[[port]]\nname = \"lan0\"\naddresses = [\"2001:db8:1::1/64\", \"fd00::1/48\", \
             \"2001:db8:9::/127\"]\n",
        )
        .unwrap();
        let port = &config.ports[0];
        assert_eq!(
            port.addresses,
            [
                cidr("2001:db8:1::1/64"),
                cidr("fd00::1/48"),
                cidr("2001:db8:9::/127")
            ]
        );
        // Router Advertisements are off by default (RFC 4861 §6.2.1), and
        // would advertise only the /64.
        let advertisements = &port.router_advertisements;
        assert!(!advertisements.enabled);
        assert_eq!(
            advertisements.prefixes,
            [AdvertisedPrefix::default_for(cidr("2001:db8:1::1/64"))]
        );
        assert_eq!(advertisements.prefixes[0].prefix, cidr("2001:db8:1::/64"));
        assert_eq!(advertisements.max_interval, Duration::from_secs(600));
        assert_eq!(advertisements.min_interval, Duration::from_secs(198));
        assert_eq!(advertisements.router_lifetime_seconds, 1800);
    }

    #[test]
    fn address_errors() {
        let cases = [
            ("2001:db8::1", "needs a prefix length"),
            ("2001:db8::1/129", "prefix length must be 0..=128"),
            ("2001:db8::1/0", "prefix length must be 1..=128"),
            ("2001:db8::/64", "Subnet-Router anycast"),
            ("fe80::1/64", "link-local; set it with `link_local`"),
            ("ff02::1/64", "not a unicast address"),
            ("::/64", "not a unicast address"),
            ("zz::1/64", "`zz::1` is not an IPv6 address"),
        ];
        for (address, needle) in cases {
            assert_error(
                &format!("[[port]]\nname = \"lan0\"\naddresses = [\"{address}\"]\n"),
                3,
                14,
                needle,
            );
        }
    }

    #[test]
    fn overlapping_addresses() {
        assert_error(
            "[[port]]\nname = \"lan0\"\naddresses = [\"2001:db8:1::1/64\"]\n\
             [[port]]\nname = \"wan0\"\naddresses = [\"2001:db8:1::2/48\"]\n",
            6,
            14,
            "overlaps 2001:db8:1::1/64 on port `lan0`",
        );
        assert_error(
            "[[port]]\nname = \"lan0\"\naddresses = [\"2001:db8:1::1/64\", \"2001:db8:1::2/64\"]\n",
            3,
            34,
            "already on this port",
        );
    }

    #[test]
    fn routes_parse() {
        let config = parse(&with_two_ports(
            "[[route]]\nprefix = \"::/0\"\nvia = \"2001:db8:ff::1\"\n\n\
             [[route]]\nprefix = \"2001:db8:100::/40\"\nvia = \"fe80::7\"\nport = \"lan0\"\n\n\
             [[route]]\nprefix = \"2001:db8:200::/48\"\nport = \"lan0\"\n\n\
             [[route]]\nprefix = \"2001:db8:300::/48\"\nkind = \"blackhole\"\n\n\
             [[route]]\nprefix = \"2001:db8:400::/48\"\nkind = \"reject\"\n",
        ))
        .unwrap();
        let targets: Vec<(Ipv6Cidr, RouteTarget)> = config
            .routes
            .iter()
            .map(|route| (route.prefix, route.target.clone()))
            .collect();
        assert_eq!(
            targets,
            [
                (
                    cidr("::/0"),
                    RouteTarget::Forward {
                        port: "wan0".into(),
                        via: Some("2001:db8:ff::1".parse().unwrap())
                    }
                ),
                (
                    cidr("2001:db8:100::/40"),
                    RouteTarget::Forward {
                        port: "lan0".into(),
                        via: Some("fe80::7".parse().unwrap())
                    }
                ),
                (
                    cidr("2001:db8:200::/48"),
                    RouteTarget::Forward {
                        port: "lan0".into(),
                        via: None
                    }
                ),
                (cidr("2001:db8:300::/48"), RouteTarget::Blackhole),
                (cidr("2001:db8:400::/48"), RouteTarget::Reject),
            ]
        );
    }

    #[test]
    fn route_errors() {
        // Line 7 is the first line after TWO_PORTS and "[[route]]".
        let cases: [(&str, usize, usize, &str); 11] = [
            (
                "prefix = \"2001:db8::1/32\"\nport = \"lan0\"\n",
                9,
                10,
                "host bits set; did you mean 2001:db8::/32?",
            ),
            ("prefix = \"2001:db8::/32\"\n", 9, 10, "needs `via`"),
            (
                "prefix = \"2001:db8::/32\"\nvia = \"fe80::1\"\n",
                10,
                7,
                "needs `port`",
            ),
            (
                "prefix = \"2001:db8::/32\"\nvia = \"2001:db8:5::1\"\n",
                10,
                7,
                "not on-link on any port",
            ),
            (
                "prefix = \"2001:db8::/32\"\nvia = \"2001:db8:ff::1\"\nport = \"lan0\"\n",
                10,
                7,
                "not on-link on port `lan0`",
            ),
            (
                "prefix = \"2001:db8::/32\"\nport = \"lan9\"\n",
                10,
                8,
                "no [[port]] is named `lan9`",
            ),
            (
                "prefix = \"2001:db8::/32\"\nkind = \"drop\"\n",
                10,
                8,
                "unknown route kind `drop`",
            ),
            (
                "prefix = \"2001:db8::/32\"\nkind = \"reject\"\nport = \"lan0\"\n",
                11,
                8,
                "takes neither",
            ),
            (
                "prefix = \"fe80::/64\"\nport = \"lan0\"\n",
                9,
                10,
                "link-local",
            ),
            (
                "prefix = \"ff00::/8\"\nkind = \"reject\"\n",
                9,
                10,
                "multicast",
            ),
            (
                "prefix = \"2001:db8::/32\"\nvia = \"2001:db8:ff::2\"\n",
                10,
                7,
                "own addresses",
            ),
        ];
        for (route, line, column, needle) in cases {
            assert_error(
                &with_two_ports(&format!("[[route]]\n{route}")),
                line,
                column,
                needle,
            );
        }
        assert_error(
            &with_two_ports(
                "[[route]]\nprefix = \"::/0\"\nkind = \"reject\"\n\
                 [[route]]\nprefix = \"::/0\"\nkind = \"blackhole\"\n",
            ),
            12,
            10,
            "duplicate route ::/0",
        );
    }

    #[test]
    fn neighbors() {
        let config = parse(&with_two_ports(
            "[[neighbor]]\nport = \"lan0\"\naddress = \"2001:db8:1::10\"\nmac = \"02:00:00:00:00:10\"\n\
             [[neighbor]]\nport = \"wan0\"\naddress = \"fe80::1\"\nmac = \"02-00-00-00-00-11\"\n",
        ))
        .unwrap();
        assert_eq!(
            config.neighbors[1],
            StaticNeighborConfig {
                port: "wan0".into(),
                address: "fe80::1".parse().unwrap(),
                mac: [2, 0, 0, 0, 0, 0x11],
            }
        );
        let neighbor = |address: &str, mac: &str| {
            with_two_ports(&format!(
                "[[neighbor]]\nport = \"lan0\"\naddress = \"{address}\"\nmac = \"{mac}\"\n"
            ))
        };
        assert_error(
            &neighbor("2001:db8:2::1", "02:00:00:00:00:01"),
            10,
            11,
            "neither link-local nor on-link",
        );
        assert_error(
            &neighbor("ff02::1", "02:00:00:00:00:01"),
            10,
            11,
            "not a unicast address",
        );
        assert_error(
            &neighbor("fe80::1", "01:00:00:00:00:01"),
            11,
            7,
            "multicast or all-zero",
        );
        assert_error(
            &neighbor("fe80::1", "02:00:00:00:00"),
            11,
            7,
            "not of the form",
        );
        assert_error(
            &neighbor("fe80::1", "02:00:00:00:00:01:02"),
            11,
            7,
            "not of the form",
        );
        let twice = format!(
            "{}[[neighbor]]\nport = \"lan0\"\naddress = \"fe80::1\"\nmac = \"02:00:00:00:00:02\"\n",
            neighbor("fe80::1", "02:00:00:00:00:01")
        );
        assert_error(&twice, 14, 11, "duplicate neighbor fe80::1 on port `lan0`");
    }

    #[test]
    fn router_advertisements() {
        let config = parse(
            "[[port]]\nname = \"lan0\"\naddresses = [\"2001:db8:1::1/64\"]\n\
             [port.router_advertisements]\nenabled = true\nmax_interval_seconds = 8\n\
             managed = true\n\
             [[port.router_advertisements.prefix]]\nprefix = \"2001:db8:5::/64\"\n\
             autonomous = false\nvalid_lifetime_seconds = 4294967295\n",
        )
        .unwrap();
        let advertisements = &config.ports[0].router_advertisements;
        assert!(advertisements.enabled && advertisements.managed);
        assert_eq!(advertisements.max_interval, Duration::from_secs(8));
        // Below 9 s: 0.75 × max, not RFC 4861's out-of-range default.
        assert_eq!(advertisements.min_interval, Duration::from_secs(6));
        assert_eq!(advertisements.router_lifetime_seconds, 24);
        assert_eq!(
            advertisements.prefixes,
            [AdvertisedPrefix {
                prefix: cidr("2001:db8:5::/64"),
                on_link: true,
                autonomous: false,
                valid_lifetime_seconds: u32::MAX,
                preferred_lifetime_seconds: DEFAULT_PREFERRED_LIFETIME_SECONDS,
            }]
        );
        // RFC 8319: max up to 65535, lifetime capped at 65535.
        let config = parse(
            "[[port]]\nname = \"lan0\"\n[port.router_advertisements]\nmax_interval_seconds = 65535\n",
        )
        .unwrap();
        assert_eq!(
            config.ports[0]
                .router_advertisements
                .router_lifetime_seconds,
            65535
        );
    }

    #[test]
    fn router_advertisement_errors() {
        let table =
            |body: &str| format!("[[port]]\nname = \"lan0\"\n[port.router_advertisements]\n{body}");
        assert_error(
            &table("max_interval_seconds = 3\n"),
            4,
            24,
            "out of range 4..=65535",
        );
        assert_error(
            &table("max_interval_seconds = 100\nmin_interval_seconds = 76\n"),
            5,
            24,
            "out of range 3..=75",
        );
        assert_error(
            &table("min_interval_seconds = 2\n"),
            4,
            24,
            "out of range 3..=450",
        );
        assert_error(
            &table("max_interval_seconds = 100\nrouter_lifetime_seconds = 99\n"),
            5,
            27,
            "or 0: not a default router",
        );
        assert!(parse(&table("router_lifetime_seconds = 0\n")).is_ok());
        assert_error(
            &table("current_hop_limit = 256\n"),
            4,
            21,
            "out of range 0..=255",
        );
        assert_error(&table("intervals = 3\n"), 4, 1, "unknown field `intervals`");
        let prefix = |body: &str| table(&format!("[[port.router_advertisements.prefix]]\n{body}"));
        assert_error(
            &prefix("prefix = \"fe80::/64\"\n"),
            5,
            10,
            "cannot be advertised",
        );
        assert_error(
            &prefix("prefix = \"2001:db8::1/64\"\n"),
            5,
            10,
            "host bits set",
        );
        assert_error(
            &prefix(
                "prefix = \"2001:db8::/64\"\nvalid_lifetime_seconds = 10\npreferred_lifetime_seconds = 11\n",
            ),
            7,
            30,
            "out of range 0..=10",
        );
    }

    #[test]
    fn icmp_and_neighbor_cache_tables() {
        let config = parse(
            "[icmp]\nrate_limit_per_second = 100\nburst = 5\n\
             [neighbor_cache]\ncapacity = 64\nincomplete_limit = 8\npending_packets = 0\n",
        )
        .unwrap();
        assert_eq!(
            config.icmp,
            IcmpConfig {
                rate_limit_per_second: 100,
                burst: 5
            }
        );
        assert_eq!(config.neighbor_cache.capacity, 64);
        assert_eq!(config.neighbor_cache.incomplete_limit, 8);
        assert_eq!(config.neighbor_cache.pending_packets, 0);
        assert_eq!(
            config.neighbor_cache.solicitations_per_second,
            DEFAULT_SOLICITATIONS_PER_SECOND
        );
        assert_error("[icmp]\nburst = -1\n", 2, 9, "burst -1 is out of range");
        assert_error(
            "[neighbor_cache]\ncapacity = 8\n",
            2,
            12,
            "out of range 16..=65536",
        );
        assert_error(
            "[neighbor_cache]\ncapacity = 32\nincomplete_limit = 33\n",
            3,
            20,
            "out of range 1..=32",
        );
    }

    #[test]
    fn port_settings_carry_addresses_and_advertisements() {
        let config = parse(TWO_PORTS).unwrap();
        let settings = config.port_settings(1, [2, 0, 0, 0, 0, 1]);
        assert_eq!(settings.addresses, [cidr("2001:db8:ff::2/64")]);
        assert_eq!(settings.router_advertisements.prefixes.len(), 1);
        let default = config.port_settings(2, [2, 0, 0, 0, 0, 1]);
        assert!(default.addresses.is_empty());
        assert!(!default.router_advertisements.enabled);
        assert_eq!(config.port_index("wan0"), Some(1));
    }

    #[test]
    fn routes_table() {
        let config = parse("").unwrap();
        assert_eq!(config.route_file, RouteFileConfig::default());
        assert!(config.route_file.file_required);
        assert_eq!(
            config.route_file.error_limit,
            DEFAULT_ROUTE_FILE_ERROR_LIMIT
        );
        let config = parse("[routes]\nfile_required = false\nerror_limit = 5\n").unwrap();
        assert_eq!(
            config.route_file,
            RouteFileConfig {
                file_required: false,
                error_limit: 5
            }
        );
        assert_eq!(config.route_file_options().error_limit, 5);
        assert_error(
            "[routes]\nerror_limit = -1\n",
            2,
            15,
            "error_limit -1 is out of range 0..=100000",
        );
        assert_error("[routes]\nfile = \"x\"\n", 2, 1, "unknown field `file`");
        assert_error("[routes]\nfile_required = \"yes\"\n", 2, 17, "invalid type");
    }

    #[test]
    fn route_file_policy() {
        let broken = crate::route_file::parse("nonsense\n", &Default::default());
        let fine = crate::route_file::parse("blackhole ::/0\n", &Default::default());
        let required = RouteFileConfig::default();
        assert!(!required.accepts(&broken));
        assert!(required.accepts(&fine));
        let optional = RouteFileConfig {
            file_required: false,
            ..RouteFileConfig::default()
        };
        assert!(optional.accepts(&broken));
    }

    #[cfg(not(feature = "legacy-ip"))]
    #[test]
    fn translation_needs_legacy_ip() {
        assert_error(
            "[router]\n\n[translation]\npool6 = \"64:ff9b::/96\"\n",
            3,
            1,
            "needs the legacy-ip build",
        );
        assert_error(
            "[translation]\npool6 = \"64:ff9b::/96\"\n[[translation.eam]]\nipv4 = \"192.0.2.1\"\nipv6 = \"2001:db8::1\"\n",
            1,
            1,
            "built without legacy-ip",
        );
    }

    #[cfg(not(feature = "legacy-ip"))]
    #[test]
    fn nat64_needs_legacy_ip() {
        assert_error(
            "[router]\n\n[nat64]\npool4 = [{ prefix = \"192.0.2.1\" }]\n",
            3,
            1,
            "the [nat64] table (stateful NAT64, RFC 6146: pool4 and its sessions) needs the \
             legacy-ip build; this image was built without legacy-ip",
        );
        assert_error(
            "[[nat64.static]]\nprotocol = \"tcp\"\n",
            1,
            3,
            "built without legacy-ip",
        );
    }

    #[cfg(not(feature = "legacy-ip"))]
    #[test]
    fn uplink_needs_legacy_ip() {
        assert_error(
            "[[port]]\nname = \"wan0\"\n\n[port.ipv4]\naddress = \"192.0.2.1/24\"\n",
            4,
            1,
            "[port.ipv4] (an IPv4 uplink) needs the legacy-ip build; this image was built \
             without legacy-ip",
        );
    }

    #[cfg(feature = "legacy-ip")]
    const TRANSLATION: &str = r#"[[port]]
name = "lan0"
addresses = ["2001:db8:1::1/64"]

[translation]
pool6 = "2001:db8:64::/96"

[[translation.next_hop]]
ipv4 = "192.0.2.1"
via = "2001:db8:1::2"

[[translation.next_hop]]
ipv4 = "192.0.2.2"
via = "fe80::2"
port = "lan0"

[[translation.next_hop]]
ipv4 = "192.0.2.254"
local = true
"#;

    #[cfg(feature = "legacy-ip")]
    #[test]
    fn translation_table() {
        use crate::translation::route_mapping::MappedNextHop;
        let config = parse(TRANSLATION).unwrap();
        let translation = config.translation.as_ref().unwrap();
        assert_eq!(translation.pool6.cidr(), cidr("2001:db8:64::/96"));
        assert_eq!(translation.next_hops.len(), 3);
        let options = config.route_file_options();
        let parsed = crate::route_file::parse(
            "198.51.100.0/24 via 192.0.2.1\n203.0.113.0/24 via 192.0.2.254\n",
            &options,
        );
        assert!(parsed.is_ok(), "{:?}", parsed.errors);
        assert_eq!(
            parsed.routes[0].to_string(),
            "2001:db8:64::c633:6400/120 via 2001:db8:1::2"
        );
        assert_eq!(
            parsed.routes[1].to_string(),
            "2001:db8:64::cb00:7100/120 translate via 2001:db8:64::c000:2fe"
        );
        let mapper = options.mapper.unwrap();
        assert_eq!(
            mapper
                .next_hops()
                .get(core::net::Ipv4Addr::new(192, 0, 2, 2)),
            Some(MappedNextHop::Address {
                address: "fe80::2".parse().unwrap(),
                port: crate::route_file::PortName::new("lan0")
            })
        );
    }

    #[cfg(feature = "legacy-ip")]
    #[test]
    fn translation_errors_have_positions() {
        let with = |tail: &str| alloc::format!("{TRANSLATION}\n{tail}");
        // TRANSLATION has 19 lines; the tail starts on line 21.
        assert_error(
            &with("[[translation.next_hop]]\nipv4 = \"192.0.2.300\"\nlocal = true\n"),
            22,
            8,
            "is not a dotted-decimal IPv4 address",
        );
        assert_error(
            &with("[[translation.next_hop]]\nipv4 = \"192.0.2.1\"\nlocal = true\n"),
            22,
            8,
            "appears twice",
        );
        assert_error(
            &with("[[translation.next_hop]]\nipv4 = \"192.0.2.3\"\n"),
            22,
            8,
            "needs `via = \"IPV6\"` or `local = true`",
        );
        assert_error(
            &with("[[translation.next_hop]]\nipv4 = \"192.0.2.3\"\nvia = \"fe80::3\"\n"),
            23,
            7,
            "needs `port NAME`",
        );
        assert_error(
            &with("[[translation.next_hop]]\nipv4 = \"192.0.2.3\"\nvia = \"2001:db8:9::3\"\n"),
            23,
            7,
            "not on-link on any port",
        );
        assert_error(
            &with(
                "[[translation.next_hop]]\nipv4 = \"192.0.2.3\"\nvia = \"fe80::3\"\nport = \"wan9\"\n",
            ),
            24,
            8,
            "no [[port]] is named `wan9`",
        );
        assert_error(
            &with(
                "[[translation.next_hop]]\nipv4 = \"192.0.2.3\"\nvia = \"2001:db8:1::3\"\nlocal = true\n",
            ),
            23,
            7,
            "either `via` an address or `local = true`",
        );
        assert_error(
            "[translation]\npool6 = \"2001:db8:64::/95\"\n",
            2,
            9,
            "/95 is not one of",
        );
        assert_error(
            "[translation]\npool6 = \"2001:db8:64::1/96\"\n",
            2,
            9,
            "host bits",
        );
        assert_error("[translation]\n", 1, 1, "missing field `pool6`");
    }
}
