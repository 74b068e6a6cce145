//! Loading a parsed route file into the router's one FIB at construction (issue 6), with a summary of what was installed and what was not, and why.
//!
//! [`Router::with_seed_and_routes`] builds the router as
//! [`Router::with_seed`] does (connected prefixes, local /128s, the
//! config's `[[route]]`s), then adds the route file's routes and loads the
//! whole table in one pass ([`Fib::loader`], which takes each route as it
//! is accepted: sorted, exactly sized, no incremental updates). With a
//! `[translation] pool6` of length 96 the FIB gets its IPv4 fast path
//! ([`Fib::with_translation_prefix`]). A compiled route file
//! ([`Router::with_seed_and_compiled_routes`]) is read, checked and
//! installed in the same single pass over its records.
//!
//! # Next hops
//!
//! Each next hop of the file ([`route_file::NextHop`]) becomes one of the
//! router's [`NextHop`]s, resolved like the config's routes:
//! - `via ADDRESS port NAME`: on the port named `NAME` (a configured port
//!   with a NIC, or a default `portN`); a link-local `ADDRESS` is taken as
//!   is (RFC 4291 §2.5.6), a global one must be on-link there (inside one
//!   of the port's address prefixes);
//! - `via ADDRESS`: the port whose address prefix holds `ADDRESS`
//!   (recursive next hops are not supported);
//! - `blackhole`: [`NextHop::Blackhole`];
//! - `translate via GATEWAY`: [`NextHop::Translate`] on a border router
//!   (legacy-ip build, an uplink `[port.ipv4]` and a `[translation]`
//!   table); elsewhere **rejected** as
//!   [`RouteRejectReason::TranslatorNotAvailable`], at load time, so the
//!   missing translator shows in the boot summary rather than as a
//!   per-packet drop counter.
//!
//! A route whose next hop cannot be resolved is rejected and counted by
//! reason, never installed half-way; so is a route whose prefix the config
//! already routes (connected prefixes, `[[route]]`s and the router's own
//! addresses win over the file), and a route that would need a 65,536th
//! distinct next hop ([`crate::fib::MAX_NEXT_HOPS`]).
//!
//! Whether malformed lines stop the appliance is the caller's decision
//! ([`RouteFileConfig::accepts`](crate::config::RouteFileConfig::accepts));
//! this module installs the well-formed routes it is given.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::fmt;
use core::net::Ipv6Addr;

use smoltcp::wire::Ipv6Cidr;

use super::{NextHop, NicInfo, PortIndex, Router, RouterError};
use crate::config::Config;
use crate::fib::{Fib, MAX_NEXT_HOPS, NextHopIndex};
use crate::route_file::{self, FamilyCounts, RejectReason};

/// Why a well-formed route of the route file is not in the FIB.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RouteRejectReason {
    /// An IPv4 route whose next hop is not in `[[translation.next_hop]]`
    /// (from the parser, [`RejectReason::NextHopNotInTable`]).
    NextHopNotInTable,
    /// A non-global IPv4 prefix under 64:ff9b::/96 (RFC 6052 §3.1; from the
    /// parser, [`RejectReason::NonGlobalUnderWellKnownPrefix`]).
    NonGlobalUnderWellKnownPrefix,
    /// A `translate via` route (or an IPv4 route whose next hop is
    /// `local = true`) on a router without a border translator (no uplink
    /// port, or an IPv6-only build).
    TranslatorNotAvailable,
    /// `port NAME` names no port of this router.
    UnknownPort,
    /// A global next hop that is not inside any address prefix of its port
    /// (or, without `port`, of any port).
    NextHopNotOnLink,
    /// The next hop is one of the router's own addresses.
    NextHopIsOwnAddress,
    /// The config already routes this exact prefix (connected, `[[route]]`
    /// or local); the config wins.
    ConfiguredPrefix,
    /// The route would need more than [`MAX_NEXT_HOPS`] distinct next hops.
    TooManyNextHops,
}

impl RouteRejectReason {
    /// Every reason, in the order summaries print them.
    pub const ALL: [RouteRejectReason; 8] = [
        RouteRejectReason::NextHopNotInTable,
        RouteRejectReason::NonGlobalUnderWellKnownPrefix,
        RouteRejectReason::TranslatorNotAvailable,
        RouteRejectReason::UnknownPort,
        RouteRejectReason::NextHopNotOnLink,
        RouteRejectReason::NextHopIsOwnAddress,
        RouteRejectReason::ConfiguredPrefix,
        RouteRejectReason::TooManyNextHops,
    ];

    /// A short name for summaries.
    pub fn name(&self) -> &'static str {
        match self {
            RouteRejectReason::NextHopNotInTable => "next-hop-not-in-table",
            RouteRejectReason::NonGlobalUnderWellKnownPrefix => {
                "non-global-under-well-known-prefix"
            }
            RouteRejectReason::TranslatorNotAvailable => "translator-not-available",
            RouteRejectReason::UnknownPort => "unknown-port",
            RouteRejectReason::NextHopNotOnLink => "next-hop-not-on-link",
            RouteRejectReason::NextHopIsOwnAddress => "next-hop-is-own-address",
            RouteRejectReason::ConfiguredPrefix => "configured-prefix",
            RouteRejectReason::TooManyNextHops => "too-many-next-hops",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl From<RejectReason> for RouteRejectReason {
    fn from(reason: RejectReason) -> RouteRejectReason {
        match reason {
            RejectReason::NextHopNotInTable => RouteRejectReason::NextHopNotInTable,
            RejectReason::NonGlobalUnderWellKnownPrefix => {
                RouteRejectReason::NonGlobalUnderWellKnownPrefix
            }
        }
    }
}

/// Rejected routes, counted by [`RouteRejectReason`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RouteRejections {
    counts: [usize; RouteRejectReason::ALL.len()],
}

impl RouteRejections {
    /// Count `count` rejections for `reason`.
    pub fn add(&mut self, reason: RouteRejectReason, count: usize) {
        self.counts[reason.index()] += count;
    }

    /// The count of one reason.
    pub fn get(&self, reason: RouteRejectReason) -> usize {
        self.counts[reason.index()]
    }

    /// All rejected routes.
    pub fn total(&self) -> usize {
        self.counts.iter().sum()
    }

    /// `(reason, count)` for every reason with a non-zero count, in
    /// [`RouteRejectReason::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (RouteRejectReason, usize)> + '_ {
        RouteRejectReason::ALL
            .into_iter()
            .map(|reason| (reason, self.get(reason)))
            .filter(|(_, count)| *count > 0)
    }
}

/// What [`Router::with_seed_and_routes`] did with a route file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RouteLoadSummary {
    /// Lines of the file.
    pub lines: usize,
    /// Malformed lines (none of their routes is installed).
    pub malformed_lines: usize,
    /// Native IPv6 routes installed, by next-hop kind.
    pub ipv6: FamilyCounts,
    /// IPv4 routes installed, mapped under pool6, by next-hop kind.
    pub mapped: FamilyCounts,
    /// Well-formed routes not installed, by reason (the parser's and the
    /// router's).
    pub rejected: RouteRejections,
    /// Routes in the FIB afterwards, the config's included.
    pub fib_routes: usize,
    /// Distinct next hops the FIB uses.
    pub fib_next_hops: usize,
    /// Heap bytes the FIB holds ([`Fib::memory_bytes`]).
    pub fib_memory_bytes: usize,
}

impl RouteLoadSummary {
    /// Routes of the file that are in the FIB.
    pub fn installed(&self) -> usize {
        self.ipv6.total() + self.mapped.total()
    }
}

impl fmt::Display for RouteLoadSummary {
    /// `N IPv6, M mapped IPv4, R rejected (reason count, ...), FIB X KiB`:
    /// the console's route summary (the kernel adds the load time).
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "{} IPv6, {} mapped IPv4, {} rejected",
            self.ipv6.total(),
            self.mapped.total(),
            self.rejected.total()
        )?;
        let mut reasons = self.rejected.iter().peekable();
        if reasons.peek().is_some() {
            formatter.write_str(" (")?;
            for (position, (reason, count)) in reasons.enumerate() {
                if position > 0 {
                    formatter.write_str(", ")?;
                }
                write!(formatter, "{} {count}", reason.name())?;
            }
            formatter.write_str(")")?;
        }
        write!(
            formatter,
            ", FIB {} KiB",
            self.fib_memory_bytes.div_ceil(1024)
        )
    }
}

/// Why [`Router::with_seed_and_compiled_routes`] built no router.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CompiledLoadError {
    /// The config cannot make a router ([`Router::with_seed`]'s error).
    Router(RouterError),
    /// A record of the file breaks the compiled format: the file is
    /// refused whole.
    File(route_file::compiled::CompiledError),
}

impl fmt::Display for CompiledLoadError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompiledLoadError::Router(error) => write!(formatter, "router: {error}"),
            CompiledLoadError::File(error) => fmt::Display::fmt(error, formatter),
        }
    }
}

impl core::error::Error for CompiledLoadError {}

/// A route file next hop as a map key (addresses and ports are `Ord`).
type NextHopKey = (u8, u128, Option<route_file::PortName>);

fn key_of(next_hop: &route_file::NextHop) -> NextHopKey {
    match *next_hop {
        route_file::NextHop::Via { address, port } => (0, address.to_bits(), port),
        route_file::NextHop::Translate { gateway } => (1, gateway.to_bits(), None),
        route_file::NextHop::Blackhole => (2, 0, None),
    }
}

/// Takes one route of a route file, with whether it is a mapped IPv4 route.
type InstallRoute<'a> = dyn FnMut(route_file::Route, bool) + 'a;

impl Router {
    /// Builds a router as [`Router::with_seed`] does, then loads the routes
    /// of a parsed route file (`netstack::route_file`) into the same FIB,
    /// and says what it installed and rejected. Next hops are resolved
    /// like the config's routes (on-link on the named port, or through a
    /// connected prefix); routes that cannot be resolved are counted by
    /// [`RouteRejectReason`], not installed (`translate via` ones too,
    /// until the translator exists). `parsed.errors` are
    /// not looked at: the caller decides whether a file with malformed
    /// lines is used at all (`[routes] file_required`).
    pub fn with_seed_and_routes(
        config: &Config,
        nics: &[NicInfo],
        seed: u64,
        parsed: &route_file::Parsed,
    ) -> Result<(Router, RouteLoadSummary), RouterError> {
        let built = Router::with_seed_and_route_source(
            config,
            nics,
            seed,
            parsed.routes.len(),
            &mut |install| -> Result<route_file::Statistics, core::convert::Infallible> {
                let mapped_flags = parsed
                    .mapped
                    .iter()
                    .copied()
                    .chain(core::iter::repeat(false));
                for (route, mapped) in parsed.routes.iter().zip(mapped_flags) {
                    install(*route, mapped);
                }
                Ok(parsed.statistics)
            },
        )?;
        match built {
            Ok(built) => Ok(built),
            Err(never) => match never {},
        }
    }

    /// [`Router::with_seed_and_routes`] for a compiled route file, whose
    /// records are read, checked and installed in one pass (never all held
    /// at once as a [`route_file::Parsed`]), so `routes` may come from
    /// [`CompiledRoutes::open_header`](route_file::compiled::CompiledRoutes::open_header).
    /// Also gives the file's report (counts and first errors, as
    /// [`CompiledRoutes::open`](route_file::compiled::CompiledRoutes::open)
    /// gives it) for the caller's `[routes] file_required` decision, which
    /// comes after the load: a router built from a file the caller refuses
    /// is dropped unused. A record that breaks the format refuses the file
    /// whole ([`CompiledLoadError::File`]).
    pub fn with_seed_and_compiled_routes(
        config: &Config,
        nics: &[NicInfo],
        seed: u64,
        routes: &route_file::compiled::CompiledRoutes<'_>,
    ) -> Result<(Router, RouteLoadSummary, route_file::Parsed), CompiledLoadError> {
        let mut report = None;
        let built = Router::with_seed_and_route_source(
            config,
            nics,
            seed,
            routes.route_count(),
            &mut |install| {
                let read = routes.read_routes(install)?;
                let statistics = read.statistics;
                report = Some(read);
                Ok(statistics)
            },
        )
        .map_err(CompiledLoadError::Router)?
        .map_err(CompiledLoadError::File)?;
        let (router, summary) = built;
        Ok((router, summary, report.unwrap_or_default()))
    }

    /// The work of both: `for_each_route` hands every route of the file
    /// (with whether it is a mapped IPv4 route) to the closure it is given
    /// and returns the file's counts, or why the file is refused;
    /// `route_count` is how many routes it hands over at most. The outer
    /// error is the router's (before any route is read), the inner one the
    /// file's.
    fn with_seed_and_route_source<FileError>(
        config: &Config,
        nics: &[NicInfo],
        seed: u64,
        route_count: usize,
        for_each_route: &mut dyn FnMut(
            &mut InstallRoute<'_>,
        ) -> Result<route_file::Statistics, FileError>,
    ) -> Result<Result<(Router, RouteLoadSummary), FileError>, RouterError> {
        let mut router = Router::with_seed(config, nics, seed)?;
        let mut summary = RouteLoadSummary::default();

        // The config's routes (connected, [[route]]) and the router's own
        // addresses (checked before the FIB) win over the file.
        let configured: Vec<(Ipv6Cidr, NextHopIndex)> = router.fib.iter().collect();
        // A handful of prefixes, searched once per file route: a sorted
        // array is cheaper than a tree.
        let mut configured_prefixes: Vec<(u128, u8)> = configured
            .iter()
            .map(|(prefix, _)| (prefix.address().to_bits(), prefix.prefix_len()))
            .chain(
                router
                    .own_addresses
                    .iter()
                    .map(|address| (address.to_bits(), 128)),
            )
            .collect();
        configured_prefixes.sort_unstable();
        // The lengths they have (bit L of word L / 64): most file routes
        // have none of them and need no search.
        let mut configured_lengths = [0u64; 3];
        for (_, length) in &configured_prefixes {
            configured_lengths[usize::from(*length) / 64] |= 1 << (length % 64);
        }

        let mut resolved: BTreeMap<NextHopKey, Result<NextHopIndex, RouteRejectReason>> =
            BTreeMap::new();
        let mut fib = match translation_prefix(config) {
            Some(pool6) => Fib::with_translation_prefix(pool6),
            None => Fib::new(),
        };
        // The routes go to the FIB's loader as they come: never held as
        // one list of prefixes first.
        let mut loader = fib.loader(route_count + configured.len());
        let mut last: Option<(route_file::NextHop, Result<NextHopIndex, RouteRejectReason>)> = None;
        let statistics = for_each_route(&mut |route, mapped| {
            let prefix = route.prefix;
            let length = prefix.prefix_len();
            if configured_lengths[usize::from(length) / 64] >> (length % 64) & 1 != 0
                && configured_prefixes
                    .binary_search(&(prefix.address().to_bits(), length))
                    .is_ok()
            {
                summary.rejected.add(RouteRejectReason::ConfiguredPrefix, 1);
                return;
            }
            // Neighbouring routes mostly share a next hop: skip the map then.
            let index = match last {
                Some((next_hop, index)) if next_hop == route.next_hop => index,
                _ => {
                    let key = key_of(&route.next_hop);
                    let index = match resolved.get(&key) {
                        Some(known) => *known,
                        None => {
                            let index = router.resolve_file_next_hop(config, &route.next_hop);
                            resolved.insert(key, index);
                            index
                        }
                    };
                    last = Some((route.next_hop, index));
                    index
                }
            };
            match index {
                Ok(index) => {
                    loader.push(prefix, index);
                    let family = if mapped {
                        &mut summary.mapped
                    } else {
                        &mut summary.ipv6
                    };
                    match route.next_hop {
                        route_file::NextHop::Blackhole => family.blackhole += 1,
                        _ => family.via += 1,
                    }
                }
                Err(reason) => summary.rejected.add(reason, 1),
            }
        });
        let statistics = match statistics {
            Ok(statistics) => statistics,
            Err(error) => return Ok(Err(error)),
        };
        summary.lines = statistics.lines;
        summary.malformed_lines = statistics.errors;
        for reason in RejectReason::ALL {
            summary
                .rejected
                .add(reason.into(), statistics.rejected.get(reason));
        }
        drop(resolved);
        for (prefix, next_hop) in configured {
            loader.push(prefix, next_hop);
        }
        // At most MAX_NEXT_HOPS distinct next hops exist (checked when each
        // was added), so the loader cannot run out of codes.
        loader.finish();
        router.fib = fib;
        summary.fib_routes = router.fib.len();
        summary.fib_next_hops = router.fib.next_hop_count();
        summary.fib_memory_bytes = router.fib.memory_bytes();
        Ok(Ok((router, summary)))
    }

    /// The router's next hop for a route file next hop, added to its table
    /// of next hops, or why there is none.
    fn resolve_file_next_hop(
        &mut self,
        config: &Config,
        next_hop: &route_file::NextHop,
    ) -> Result<NextHopIndex, RouteRejectReason> {
        let resolved = match *next_hop {
            route_file::NextHop::Blackhole => NextHop::Blackhole,
            #[cfg(feature = "legacy-ip")]
            route_file::NextHop::Translate { gateway } if self.border.is_some() => {
                NextHop::Translate { gateway }
            }
            route_file::NextHop::Translate { .. } => {
                return Err(RouteRejectReason::TranslatorNotAvailable);
            }
            route_file::NextHop::Via { address, port } => {
                let port = match port {
                    Some(name) => {
                        let index = self
                            .port_by_name(config, name.as_str())
                            .ok_or(RouteRejectReason::UnknownPort)?;
                        if !address.is_unicast_link_local() && !self.is_on_link(index, address) {
                            return Err(RouteRejectReason::NextHopNotOnLink);
                        }
                        index
                    }
                    None => (0..self.ports.len())
                        .map(PortIndex)
                        .find(|index| self.is_on_link(*index, address))
                        .ok_or(RouteRejectReason::NextHopNotOnLink)?,
                };
                if self.ports[port.0].owns(address) {
                    return Err(RouteRejectReason::NextHopIsOwnAddress);
                }
                NextHop::Gateway { port, address }
            }
        };
        if !self.next_hops.contains(&resolved) && self.next_hops.len() >= MAX_NEXT_HOPS {
            return Err(RouteRejectReason::TooManyNextHops);
        }
        Ok(self.next_hop_index(resolved))
    }

    /// The port named `name`: the router's port names are the config's
    /// `[[port]]` names and `portN` for NICs beyond them.
    fn port_by_name(&self, config: &Config, name: &str) -> Option<PortIndex> {
        config
            .port_index(name)
            .filter(|index| *index < self.ports.len())
            .or_else(|| {
                self.ports
                    .iter()
                    .position(|port| port.settings.name == name)
            })
            .map(PortIndex)
    }

    /// Whether `address` lies in one of `port`'s address prefixes.
    fn is_on_link(&self, port: PortIndex, address: Ipv6Addr) -> bool {
        self.ports[port.0]
            .settings
            .addresses
            .iter()
            .any(|prefix| prefix.contains_addr(&address))
    }
}

/// The FIB's fast-path prefix: `[translation] pool6` (legacy-ip builds).
fn translation_prefix(config: &Config) -> Option<Ipv6Cidr> {
    #[cfg(feature = "legacy-ip")]
    {
        config
            .translation
            .as_ref()
            .map(|translation| translation.pool6.cidr())
    }
    #[cfg(not(feature = "legacy-ip"))]
    {
        let _ = config;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    use crate::config;
    use crate::route_file::{Options, parse};

    const CONFIG: &str = r#"
[[port]]
name = "lan0"
addresses = ["2001:db8:1::1/64"]

[[port]]
name = "wan0"
addresses = ["2001:db8:2::1/64"]

[[route]]
prefix = "2001:db8:77::/48"
kind = "reject"
"#;

    fn nics(count: usize) -> Vec<NicInfo> {
        (0..count)
            .map(|index| NicInfo {
                mac: [0x02, 0, 0, 0, 0, index as u8],
            })
            .collect()
    }

    fn load(config_text: &str, routes: &str) -> (Router, RouteLoadSummary) {
        let config = config::parse(config_text).unwrap();
        let parsed = parse(routes, &config.route_file_options());
        Router::with_seed_and_routes(&config, &nics(2), 1, &parsed).unwrap()
    }

    fn address(text: &str) -> Ipv6Addr {
        text.parse().unwrap()
    }

    #[test]
    fn ipv6_routes_resolve_like_config_routes() {
        let (router, summary) = load(
            CONFIG,
            "2001:db8:100::/40 via 2001:db8:2::2\n\
             2001:db8:200::/40 via fe80::2 port wan0\n\
             2001:db8:300::/40 via 2001:db8:1::9 port lan0\n\
             blackhole 2001:db8:dead::/48\n",
        );
        assert_eq!(
            router.route(address("2001:db8:100::1")),
            Some(NextHop::Gateway {
                port: PortIndex(1),
                address: address("2001:db8:2::2")
            })
        );
        assert_eq!(
            router.route(address("2001:db8:200::1")),
            Some(NextHop::Gateway {
                port: PortIndex(1),
                address: address("fe80::2")
            })
        );
        assert_eq!(
            router.route(address("2001:db8:300::1")),
            Some(NextHop::Gateway {
                port: PortIndex(0),
                address: address("2001:db8:1::9")
            })
        );
        assert_eq!(
            router.route(address("2001:db8:dead::1")),
            Some(NextHop::Blackhole)
        );
        // The config's routes are still there.
        assert_eq!(router.route(address("2001:db8:1::1")), Some(NextHop::Local));
        assert_eq!(
            router.route(address("2001:db8:2::77")),
            Some(NextHop::Connected { port: PortIndex(1) })
        );
        assert_eq!(
            router.route(address("2001:db8:77::1")),
            Some(NextHop::Reject)
        );
        assert_eq!(
            summary.ipv6,
            FamilyCounts {
                via: 3,
                translate: 0,
                blackhole: 1
            }
        );
        assert_eq!(summary.rejected.total(), 0);
        assert_eq!(summary.lines, 4);
        // 2 connected + 1 [[route]] + 4 from the file; the 2 own addresses
        // are not routes (see the `own_addresses` module).
        assert_eq!(summary.fib_routes, 7);
        assert_eq!(summary.fib_memory_bytes, router.fib().memory_bytes());
        assert!(summary.fib_memory_bytes > 0);
    }

    #[test]
    fn unresolvable_next_hops_are_rejected_by_reason() {
        let (router, summary) = load(
            CONFIG,
            "2001:db8:100::/40 via 2001:db8:9::2\n\
             2001:db8:200::/40 via fe80::2 port dmz0\n\
             2001:db8:300::/40 via 2001:db8:2::2 port lan0\n\
             2001:db8:400::/40 via 2001:db8:2::1\n\
             2001:db8:77::/48 via 2001:db8:2::2\n\
             2001:db8:500::/40 via 2001:db8:2::2\n",
        );
        let rejected = summary.rejected;
        assert_eq!(rejected.get(RouteRejectReason::NextHopNotOnLink), 2);
        assert_eq!(rejected.get(RouteRejectReason::UnknownPort), 1);
        assert_eq!(rejected.get(RouteRejectReason::NextHopIsOwnAddress), 1);
        assert_eq!(rejected.get(RouteRejectReason::ConfiguredPrefix), 1);
        assert_eq!(rejected.total(), 5);
        assert_eq!(summary.ipv6.via, 1);
        assert_eq!(router.route(address("2001:db8:100::1")), None);
        assert_eq!(
            router.route(address("2001:db8:77::1")),
            Some(NextHop::Reject)
        );
        assert_eq!(
            summary.to_string(),
            alloc::format!(
                "1 IPv6, 0 mapped IPv4, 5 rejected (unknown-port 1, next-hop-not-on-link 2, \
                 next-hop-is-own-address 1, configured-prefix 1), FIB {} KiB",
                summary.fib_memory_bytes.div_ceil(1024)
            )
        );
    }

    #[test]
    fn default_port_names_are_known() {
        // No [[port]]: the NICs are port0 and port1.
        let (router, summary) = load("", "2001:db8:100::/40 via fe80::2 port port1\n");
        assert_eq!(summary.ipv6.via, 1);
        assert_eq!(
            router.route(address("2001:db8:100::1")),
            Some(NextHop::Gateway {
                port: PortIndex(1),
                address: address("fe80::2")
            })
        );
    }

    #[test]
    fn without_a_route_file_the_router_is_the_same() {
        let config = config::parse(CONFIG).unwrap();
        let (router, summary) =
            Router::with_seed_and_routes(&config, &nics(2), 1, &parse("", &Options::default()))
                .unwrap();
        let plain = Router::with_seed(&config, &nics(2), 1).unwrap();
        assert_eq!(router.fib().len(), plain.fib().len());
        assert_eq!(summary.installed(), 0);
        assert_eq!(summary.fib_routes, plain.fib().len());
    }

    #[cfg(feature = "legacy-ip")]
    #[test]
    fn ipv4_routes_are_mapped_through_the_config() {
        let config_text = alloc::format!(
            "{CONFIG}\n[translation]\npool6 = \"2001:db8:64::/96\"\n\n\
             [[translation.next_hop]]\nipv4 = \"192.0.2.1\"\nvia = \"2001:db8:2::2\"\n\n\
             [[translation.next_hop]]\nipv4 = \"192.0.2.254\"\nlocal = true\n"
        );
        let (router, summary) = load(
            &config_text,
            "198.51.100.0/24 via 192.0.2.1\n\
             203.0.113.0/24 via 192.0.2.254\n\
             203.0.113.128/25 via 192.0.2.99\n\
             blackhole 192.0.2.0/24\n\
             2001:db8:64::a00:0/104 translate via 2001:db8:64::c000:2fe\n\
             2001:db8:100::/40 via 2001:db8:2::2\n",
        );
        assert_eq!(
            router.fib().translation_prefix(),
            Some(Ipv6Cidr::new(address("2001:db8:64::"), 96))
        );
        assert_eq!(
            router.route(address("2001:db8:64::c633:6401")),
            Some(NextHop::Gateway {
                port: PortIndex(1),
                address: address("2001:db8:2::2")
            })
        );
        assert_eq!(
            router.route(address("2001:db8:64::c000:201")),
            Some(NextHop::Blackhole)
        );
        assert_eq!(router.route(address("2001:db8:64::cb00:7101")), None);
        assert_eq!(
            summary.mapped,
            FamilyCounts {
                via: 1,
                translate: 0,
                blackhole: 1
            }
        );
        assert_eq!(summary.ipv6.via, 1);
        let rejected = summary.rejected;
        assert_eq!(rejected.get(RouteRejectReason::TranslatorNotAvailable), 2);
        assert_eq!(rejected.get(RouteRejectReason::NextHopNotInTable), 1);
        assert_eq!(rejected.total(), 3);
        assert!(
            summary
                .to_string()
                .starts_with("1 IPv6, 2 mapped IPv4, 3 rejected (next-hop-not-in-table 1, translator-not-available 2), FIB "),
            "{summary}"
        );
    }

    #[cfg(feature = "legacy-ip")]
    #[test]
    fn the_well_known_prefix_rule_is_counted() {
        let config_text = alloc::format!(
            "{CONFIG}\n[translation]\npool6 = \"64:ff9b::/96\"\n\n\
             [[translation.next_hop]]\nipv4 = \"192.0.2.1\"\nvia = \"2001:db8:2::2\"\n"
        );
        let (router, summary) = load(
            &config_text,
            "1.1.1.0/24 via 192.0.2.1\n10.0.0.0/8 via 192.0.2.1\n",
        );
        assert_eq!(summary.mapped.via, 1);
        assert_eq!(
            summary
                .rejected
                .get(RouteRejectReason::NonGlobalUnderWellKnownPrefix),
            1
        );
        assert!(router.route(address("64:ff9b::101:101")).is_some());
    }
}
