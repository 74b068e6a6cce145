//! The router: takes received Ethernet frames, gives back the frames to transmit, and counts a verdict for every frame.
//!
//! The kernel's loop is only: hand each received frame to
//! [`Router::receive`], transmit what the returned [`Outgoing`] yields, and
//! call [`Router::poll`] for timers. Time is passed in, never read; so is
//! randomness ([`Router::with_seed`]).
//!
//! # What it does
//! - Ethernet input (RFC 2464): frames to the port's MAC, broadcast, and the
//!   33:33 multicast MACs of the groups the port has joined (all-nodes
//!   ff02::1, all-routers ff02::2, the solicited-node groups of its
//!   addresses; RFC 4291 §2.7.1, §2.8) are accepted; everything else is
//!   dropped.
//! - IPv6 input (RFC 8200 §3): version, Payload Length (longer than the
//!   frame: dropped; shorter: the frame is trimmed, which removes Ethernet
//!   padding), multicast or loopback sources dropped.
//! - Packets for the router (its link-local address on the receiving port,
//!   a joined group, or any port's global address: checked before the FIB,
//!   see the `own_addresses` module) walk their extension headers (RFC 8200 §4) and go
//!   to ICMPv6: Echo (the `echo` module), Neighbor Discovery (the
//!   `neighbor_discovery` module: NS answered, NA, RS and RA processed),
//!   Router Solicitations answered with Router Advertisements (the
//!   `router_advertisement` module).
//! - Other packets are forwarded (the `forwarding` module; RFC 8200 §3,
//!   §4, RFC 4291 §2.5.6): FIB longest-prefix match, next hop resolved
//!   through the egress port's neighbor cache (the `neighbor_cache`
//!   module; RFC 4861 §7.3, RFC 6583), ICMPv6 errors where RFC 4443 asks
//!   for them (the `icmp_error` module, rate limited).
//! - [`Router::poll`] runs the timers: solicitation retransmissions, probes,
//!   resolution failures, Router Advertisements.
//!
//! Every frame ends in exactly one verdict (see
//! [`PortCounters`](crate::counters::PortCounters) for the invariant).
//!
//! # Memory
//! Everything is allocated in [`Router::with_seed`]: the transmit area
//! ([`TRANSMIT_AREA_FRAMES`] slots of the largest port MTU plus 14 bytes),
//! the neighbor caches (`[neighbor_cache] capacity` entries per port), the
//! buffers of packets awaiting resolution (`pending_packets`), and the FIB.
//! [`Router::receive`] and [`Router::poll`] do no heap allocation
//! (`tests/router_no_allocation.rs` checks forwarding).

#[cfg(feature = "legacy-ip")]
mod border;
mod echo;
mod forwarding;
mod icmp_error;
mod neighbor_cache;
mod neighbor_discovery;
mod own_addresses;
mod pending;
mod random;
mod reset;
mod router_advertisement;
mod routes;
#[cfg(test)]
mod test_frames;
mod token_bucket;
mod transmit;

use alloc::vec::Vec;
use core::fmt;
use core::net::Ipv6Addr;

use smoltcp::phy::ChecksumCapabilities;
use smoltcp::time::Instant;
use smoltcp::wire::{
    ETHERNET_HEADER_LEN, EthernetAddress, EthernetFrame, EthernetProtocol, EthernetRepr,
    IPV6_HEADER_LEN, Icmpv6Packet, Icmpv6Repr, IpProtocol, Ipv6Cidr, Ipv6Packet, Ipv6Repr,
};

use crate::config::{Config, PortSettings, network};
use crate::counters::{DropReason, PortCounters, PortEvent};
use crate::fib::{Fib, NextHopIndex};
use icmp_error::IcmpError;
pub use neighbor_cache::NeighborState;
use neighbor_cache::{LearnedFrom, NeighborCache};
use pending::PendingPackets;
use random::Random;
use router_advertisement::Advertiser;
pub use routes::{CompiledLoadError, RouteLoadSummary, RouteRejectReason, RouteRejections};

/// The counters that grow when a configured capacity refuses new work: a
/// full table or pool, a per-source or per-port cap. Operators want to hear
/// about these as they happen, so besides counting them the appliance logs
/// their growth (rate-limited); see [`Router::capacity_refusals`].
#[cfg(not(feature = "legacy-ip"))]
pub const CAPACITY_REFUSALS: &[&str] = &[
    DropReason::PendingPacketsFull.name(),
    DropReason::NeighborIncompleteLimit.name(),
    DropReason::NeighborCacheFull.name(),
];

/// The counters that grow when a configured capacity refuses new work: a
/// full table or pool, a per-source or per-port cap, NAT64's among them
/// (a new flow beyond a cap is dropped, counted and logged). Operators want to hear about these as they happen, so besides counting
/// them the appliance logs their growth (rate-limited); see
/// [`Router::capacity_refusals`].
#[cfg(feature = "legacy-ip")]
pub const CAPACITY_REFUSALS: &[&str] = &[
    DropReason::PendingPacketsFull.name(),
    DropReason::NeighborIncompleteLimit.name(),
    DropReason::NeighborCacheFull.name(),
    Nat64Drop::Pool4Exhausted.name(),
    Nat64Drop::SessionTableFull.name(),
    Nat64Drop::BindingTableFull.name(),
    Nat64Drop::SourceSessionLimit.name(),
    Nat64Drop::HeldSynStoreFull.name(),
    Nat64Drop::FragmentStoreFull.name(),
    Nat64TableEvent::ProbeLimit.name(),
];
#[cfg(feature = "legacy-ip")]
use crate::translation::nat64::{engine::Nat64Drop, table::Nat64TableEvent};
use token_bucket::TokenBucket;
use transmit::TransmitArea;

/// The most ports (NICs) one router drives.
pub const MAX_PORTS: usize = 8;

/// How many frames one call to [`Router::receive`] or [`Router::poll`] can
/// return. Timer work that does not fit waits for the next poll (counted as
/// `transmit_deferred`).
pub const TRANSMIT_AREA_FRAMES: usize = 32;

/// The hop limit of packets the router originates, other than Neighbor
/// Discovery (the IANA default, RFC 8200 §3 refers to it).
pub const DEFAULT_HOP_LIMIT: u8 = 64;

/// The hop limit Neighbor Discovery messages are sent and received with
/// (RFC 4861 §7.1.1, §7.1.2).
pub const NEIGHBOR_DISCOVERY_HOP_LIMIT: u8 = 255;

/// The all-nodes link-local multicast address ff02::1 (RFC 4291 §2.7.1).
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

/// The all-routers link-local multicast address ff02::2 (RFC 4291 §2.7.1).
pub const ALL_ROUTERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 2);

/// The seed [`Router::new`] uses. Deterministic: the kernel should call
/// [`Router::with_seed`] with a hardware random number instead.
pub const DEFAULT_SEED: u64 = 0x7075_7265_3672_6f75;

/// The number of a port: the index of its NIC in the list given to [`Router::new`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PortIndex(pub usize);

impl fmt::Display for PortIndex {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}", self.0)
    }
}

/// What the router needs to know about a NIC the kernel found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NicInfo {
    /// The NIC's MAC address.
    pub mac: [u8; 6],
}

/// Why a router could not be built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RouterError {
    /// More NICs than [`MAX_PORTS`].
    TooManyNics {
        /// How many NICs the kernel offered.
        count: usize,
    },
    /// The routes name more distinct next hops than the FIB can hold
    /// ([`crate::fib::MAX_NEXT_HOPS`]).
    TooManyNextHops,
}

impl fmt::Display for RouterError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RouterError::TooManyNics { count } => write!(
                formatter,
                "{count} NICs, but a router drives at most {MAX_PORTS} ports"
            ),
            RouterError::TooManyNextHops => write!(
                formatter,
                "the routes use more than {} distinct next hops",
                crate::fib::MAX_NEXT_HOPS
            ),
        }
    }
}

impl core::error::Error for RouterError {}

/// One frame for the kernel to transmit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transmit<'a> {
    /// The port to send it on.
    pub port: PortIndex,
    /// A complete Ethernet frame, without the frame check sequence.
    pub frame: &'a [u8],
}

/// The frames to transmit after one call to [`Router::receive`] or
/// [`Router::poll`], borrowed from the router's transmit area.
#[derive(Clone, Debug)]
pub struct Outgoing<'a> {
    area: &'a TransmitArea,
    next: usize,
}

impl<'a> Iterator for Outgoing<'a> {
    type Item = Transmit<'a>;

    fn next(&mut self) -> Option<Transmit<'a>> {
        let (port, frame) = self.area.frame(self.next)?;
        self.next += 1;
        Some(Transmit { port, frame })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let remaining = self.area.len().saturating_sub(self.next);
        (remaining, Some(remaining))
    }
}

impl ExactSizeIterator for Outgoing<'_> {}

/// Where the FIB sends a destination. The FIB stores a [`NextHopIndex`]
/// into the router's table of these.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NextHop {
    /// One of the router's own addresses: what [`Router::route`] answers
    /// for them. Never stored in the FIB (see the `own_addresses` module).
    Local,
    /// On-link on `port`: the destination itself is resolved there.
    Connected {
        /// The egress port.
        port: PortIndex,
    },
    /// Through the neighbor `address` on `port`.
    Gateway {
        /// The egress port.
        port: PortIndex,
        /// The next hop's address (link-local or on-link).
        address: Ipv6Addr,
    },
    /// Dropped silently (`kind = "blackhole"`).
    Blackhole,
    /// Dropped with Destination Unreachable code 6 (`kind = "reject"`).
    Reject,
    /// Through the border translator (legacy-ip builds): translated to
    /// IPv4 and sent out of the uplink port to the IPv4 gateway written as
    /// its `pool6`-embedded address, or to the destination itself when
    /// `gateway` is `::` (on the uplink's IPv4 link).
    Translate {
        /// The IPv4 gateway under `pool6`, or `::`.
        gateway: Ipv6Addr,
    },
}

/// A port: its settings, the groups it has joined, its neighbor cache,
/// its Router Advertisement state, its counters.
#[derive(Debug)]
struct Port {
    settings: PortSettings,
    mac: EthernetAddress,
    /// ff02::1, ff02::2 and the solicited-node groups of its addresses.
    groups: Vec<Ipv6Addr>,
    neighbors: NeighborCache,
    advertiser: Advertiser,
    counters: PortCounters,
}

impl Port {
    fn new(settings: PortSettings, neighbors: NeighborCache) -> Port {
        let mut groups = Vec::from([
            ALL_NODES,
            ALL_ROUTERS,
            solicited_node_address(settings.link_local),
        ]);
        for address in &settings.addresses {
            let group = solicited_node_address(address.address());
            if !groups.contains(&group) {
                groups.push(group);
            }
        }
        Port {
            mac: EthernetAddress(settings.mac),
            advertiser: Advertiser::new(),
            settings,
            groups,
            neighbors,
            counters: PortCounters::new(),
        }
    }

    /// Whether the port accepts a frame sent to `destination` (RFC 2464 §7:
    /// 33:33 followed by the low 32 bits of the IPv6 group).
    fn accepts_mac(&self, destination: EthernetAddress) -> bool {
        destination == self.mac
            || destination.is_broadcast()
            || self
                .groups
                .iter()
                .any(|group| multicast_mac(*group) == destination)
    }

    /// Whether `address` is one of this port's unicast addresses.
    fn owns(&self, address: Ipv6Addr) -> bool {
        address == self.settings.link_local
            || self
                .settings
                .addresses
                .iter()
                .any(|own| own.address() == address)
    }

    /// The port's address to use toward `peer` (RFC 6724 in short): the
    /// link-local address for a link-local peer, else a global address
    /// whose prefix holds the peer, else the first global address, else
    /// the link-local address.
    fn source_for(&self, peer: Ipv6Addr) -> Ipv6Addr {
        if peer.is_unicast_link_local() {
            return self.settings.link_local;
        }
        let addresses = &self.settings.addresses;
        addresses
            .iter()
            .find(|own| own.contains_addr(&peer))
            .or(addresses.first())
            .map_or(self.settings.link_local, Ipv6Cidr::address)
    }
}

/// The router: its ports, FIB and next hops, and the bounded buffers it
/// builds frames in.
#[derive(Debug)]
pub struct Router {
    ports: Vec<Port>,
    /// Frames that cannot be attributed to a port (an unknown port index).
    unattributed: PortCounters,
    transmit: TransmitArea,
    fib: Fib,
    next_hops: Vec<NextHop>,
    /// The port addresses, checked before the FIB (never routes in it).
    own_addresses: own_addresses::OwnAddresses,
    pending: PendingPackets,
    icmp_errors: TokenBucket,
    random: Random,
    /// The time of the latest call to `receive` or `poll`.
    last_time: Instant,
    /// The border translator on the IPv4 uplink port, if the config has one.
    #[cfg(feature = "legacy-ip")]
    border: Option<border::Border>,
}

impl Router {
    /// Builds a router with [`DEFAULT_SEED`]; see [`Router::with_seed`].
    pub fn new(config: &Config, nics: &[NicInfo]) -> Result<Router, RouterError> {
        Router::with_seed(config, nics, DEFAULT_SEED)
    }

    /// Builds a router with one port per NIC, in order, with the settings
    /// [`Config::port_settings`] resolves for it, and `seed` for its
    /// randomness (neighbor cache hash keys, ReachableTime, Router
    /// Advertisement intervals).
    ///
    /// The FIB gets each port address's prefix as a connected route and
    /// the address itself as a local /128, then the `[[route]]`s; routes and
    /// `[[neighbor]]`s on configured ports with no NIC are left out. NICs
    /// beyond the configured ports get default settings (the kernel logs
    /// that). More than [`MAX_PORTS`] NICs is an error.
    pub fn with_seed(config: &Config, nics: &[NicInfo], seed: u64) -> Result<Router, RouterError> {
        if nics.len() > MAX_PORTS {
            return Err(RouterError::TooManyNics { count: nics.len() });
        }
        let mut random = Random::new(seed);
        let cache = &config.neighbor_cache;
        let mut ports: Vec<Port> = Vec::with_capacity(nics.len());
        for (index, nic) in nics.iter().enumerate() {
            // RFC 4861 §6.3.2: uniform in [0.5, 1.5] × BaseReachableTime.
            let reachable_time = random.duration_between(
                neighbor_cache::REACHABLE_TIME / 2,
                neighbor_cache::REACHABLE_TIME * 3 / 2,
            );
            let neighbors = NeighborCache::new(
                cache.capacity as usize,
                cache.incomplete_limit as usize,
                TokenBucket::new(cache.solicitations_per_second, cache.solicitation_burst),
                [random.next_u64(), random.next_u64()],
                reachable_time,
            );
            ports.push(Port::new(config.port_settings(index, nic.mac), neighbors));
        }
        let largest_mtu = ports
            .iter()
            .map(|port| usize::from(port.settings.mtu))
            .max()
            .unwrap_or(usize::from(crate::config::MINIMUM_MTU));

        let mut router = Router {
            ports,
            unattributed: PortCounters::new(),
            transmit: TransmitArea::new(TRANSMIT_AREA_FRAMES, largest_mtu + ETHERNET_HEADER_LEN),
            fib: Fib::new(),
            next_hops: Vec::new(),
            own_addresses: own_addresses::OwnAddresses::default(),
            pending: PendingPackets::new(cache.pending_packets as usize, largest_mtu),
            icmp_errors: TokenBucket::new(config.icmp.rate_limit_per_second, config.icmp.burst),
            random,
            last_time: Instant::ZERO,
            #[cfg(feature = "legacy-ip")]
            border: None,
        };
        router.install_routes(config)?;
        #[cfg(feature = "legacy-ip")]
        router.install_border(config, largest_mtu)?;
        Ok(router)
    }

    fn next_hop_index(&mut self, next_hop: NextHop) -> NextHopIndex {
        match self.next_hops.iter().position(|known| *known == next_hop) {
            Some(index) => index as NextHopIndex,
            None => {
                self.next_hops.push(next_hop);
                (self.next_hops.len() - 1) as NextHopIndex
            }
        }
    }

    fn install_routes(&mut self, config: &Config) -> Result<(), RouterError> {
        let port_count = self.ports.len();
        let port_of = |name: &str| {
            config
                .port_index(name)
                .filter(|index| *index < port_count)
                .map(PortIndex)
        };
        let mut routes: Vec<(Ipv6Cidr, NextHop)> = Vec::new();
        for (index, port) in self.ports.iter().enumerate() {
            for address in &port.settings.addresses {
                routes.push((
                    network(*address),
                    NextHop::Connected {
                        port: PortIndex(index),
                    },
                ));
            }
        }
        for route in &config.routes {
            let next_hop = match &route.target {
                crate::config::RouteTarget::Blackhole => NextHop::Blackhole,
                crate::config::RouteTarget::Reject => NextHop::Reject,
                crate::config::RouteTarget::Forward { port, via } => {
                    let Some(port) = port_of(port) else {
                        continue;
                    };
                    match via {
                        Some(address) => NextHop::Gateway {
                            port,
                            address: *address,
                        },
                        None => NextHop::Connected { port },
                    }
                }
            };
            routes.push((route.prefix, next_hop));
        }
        // Own addresses are checked before the FIB, so they win over any
        // route without lengthening the lookups below them.
        self.own_addresses = own_addresses::OwnAddresses::new(
            self.ports
                .iter()
                .flat_map(|port| port.settings.addresses.iter())
                .map(|address| address.address()),
        );
        for (prefix, next_hop) in routes {
            let index = self.next_hop_index(next_hop);
            self.fib
                .try_insert(prefix, index)
                .map_err(|_| RouterError::TooManyNextHops)?;
        }
        for neighbor in &config.neighbors {
            if let Some(port) = port_of(&neighbor.port) {
                // Validation bounds the count; a full cache keeps the first ones.
                self.ports[port.0]
                    .neighbors
                    .add_static(neighbor.address, EthernetAddress(neighbor.mac));
            }
        }
        Ok(())
    }

    /// Handles one frame received on `port` at time `now`, and returns the
    /// frames to transmit in response (replies, forwarded packets, ICMPv6
    /// errors, solicitations, packets released by a resolution).
    ///
    /// The frame ends in exactly one verdict, counted on `port`: consumed by
    /// the router, forwarded, dropped for a [`DropReason`], or (forwarding
    /// to an unresolved neighbor) queued until resolution ends, which then
    /// counts it. A frame for a port the router does not have is counted as
    /// [`DropReason::UnknownPort`] in [`Router::totals`]. Never panics,
    /// whatever the bytes.
    pub fn receive(&mut self, port: PortIndex, frame: &[u8], now: Instant) -> Outgoing<'_> {
        self.last_time = now;
        self.transmit.clear();
        let Some(ingress) = self.ports.get_mut(port.0) else {
            self.unattributed.received = self.unattributed.received.wrapping_add(1);
            self.unattributed.dropped.increment(DropReason::UnknownPort);
            return self.outgoing();
        };
        ingress.counters.received = ingress.counters.received.wrapping_add(1);
        let verdict = self.handle_frame(port, frame, now);
        self.count_verdict(port, verdict);
        self.count_transmitted();
        self.outgoing()
    }

    /// Runs the router's timers at time `now` and returns the frames they
    /// send: Router Advertisements (RFC 4861 §6.2.4, §6.2.6), neighbor
    /// solicitation retransmissions and probes (§7.2.2, §7.3.3), and
    /// Destination Unreachable for packets whose resolution failed. Work
    /// that does not fit in the transmit area waits for the next call.
    pub fn poll(&mut self, now: Instant) -> Outgoing<'_> {
        self.last_time = now;
        self.transmit.clear();
        for index in 0..self.ports.len() {
            self.poll_advertisements(PortIndex(index), now);
            self.poll_neighbors(PortIndex(index), now);
        }
        #[cfg(feature = "legacy-ip")]
        self.poll_border(now);
        self.count_transmitted();
        self.outgoing()
    }

    /// The time passed to the latest [`Router::receive`] or [`Router::poll`].
    pub fn last_time(&self) -> Instant {
        self.last_time
    }

    /// How many ports the router has (one per NIC).
    pub fn port_count(&self) -> usize {
        self.ports.len()
    }

    /// Every port's index, in order.
    pub fn port_indices(&self) -> impl Iterator<Item = PortIndex> + use<> {
        (0..self.ports.len()).map(PortIndex)
    }

    /// The resolved settings of `port` (name, MTU, addresses, MAC).
    pub fn port_settings(&self, port: PortIndex) -> Option<&PortSettings> {
        self.ports.get(port.0).map(|port| &port.settings)
    }

    /// The name of `port`.
    pub fn port_name(&self, port: PortIndex) -> Option<&str> {
        self.port_settings(port)
            .map(|settings| settings.name.as_str())
    }

    /// The link-local address of `port`.
    pub fn port_link_local(&self, port: PortIndex) -> Option<Ipv6Addr> {
        self.port_settings(port).map(|settings| settings.link_local)
    }

    /// The border translator in one line (`port1: 192.0.2.1/24, pool6
    /// 2001:db8:64::/96`), or `None` without one (and in IPv6-only builds).
    pub fn border_description(&self) -> Option<alloc::string::String> {
        #[cfg(feature = "legacy-ip")]
        if let Some(border) = &self.border {
            return Some(alloc::format!("port{}: {}", border.port.0, border.uplink));
        }
        None
    }

    /// Up to `limit` NAT64 sessions, one line each (`tcp [X']:x T:t -> Z:z
    /// state, expires in N s`), at the time of the latest `receive` or
    /// `poll`; empty without NAT64 (and in IPv6-only builds).
    pub fn nat64_sessions(&self, limit: usize) -> Vec<alloc::string::String> {
        #[cfg(feature = "legacy-ip")]
        if let Some(nat64) = self
            .border
            .as_ref()
            .and_then(|border| border.uplink.nat64())
        {
            return nat64
                .session_descriptions(self.last_time)
                .take(limit)
                .map(|session| alloc::format!("{session}"))
                .collect();
        }
        let _ = limit;
        Vec::new()
    }

    /// The counters of `port`.
    pub fn port_counters(&self, port: PortIndex) -> Option<&PortCounters> {
        self.ports.get(port.0).map(|port| &port.counters)
    }

    /// `(name, value)` for every counter of `port`, zeros included (see
    /// [`PortCounters::iter`]); empty for a port the router does not have.
    pub fn counters(&self, port: PortIndex) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        let counters = self
            .port_counters(port)
            .into_iter()
            .flat_map(PortCounters::iter);
        #[cfg(feature = "legacy-ip")]
        let counters = counters.chain(self.translation_counters(port));
        counters
    }

    /// `(port, name, value)` for every counter in [`CAPACITY_REFUSALS`] on
    /// every port, in a fixed order (ports, then the list's order). The
    /// appliance logs their growth, rate-limited; nothing is allocated.
    pub fn capacity_refusals(&self) -> impl Iterator<Item = (PortIndex, &'static str, u64)> + '_ {
        (0..self.ports.len()).flat_map(move |index| {
            self.counters(PortIndex(index))
                .filter(|(name, _)| CAPACITY_REFUSALS.contains(name))
                .map(move |(name, value)| (PortIndex(index), name, value))
        })
    }

    /// The sum of every port's counters, plus frames handed in for a port
    /// the router does not have.
    pub fn totals(&self) -> PortCounters {
        let mut totals = self.unattributed;
        for port in &self.ports {
            totals.add(&port.counters);
        }
        totals
    }

    /// How many packets received on `port` wait for address resolution.
    pub fn pending_packets(&self, port: PortIndex) -> u64 {
        self.pending.count_for(port)
    }

    /// The state of `address` in the neighbor cache of `port` at `now`.
    pub fn neighbor_state(
        &self,
        port: PortIndex,
        address: Ipv6Addr,
        now: Instant,
    ) -> Option<NeighborState> {
        self.ports.get(port.0)?.neighbors.state(address, now)
    }

    /// The MAC address cached for `address` on `port`.
    pub fn neighbor_mac(&self, port: PortIndex, address: Ipv6Addr) -> Option<[u8; 6]> {
        let (mac, _) = self.ports.get(port.0)?.neighbors.link_layer(address)?;
        Some(mac.0)
    }

    /// How full the neighbor cache of `port` is.
    pub fn neighbor_cache_usage(&self, port: PortIndex) -> Option<NeighborCacheUsage> {
        let cache = &self.ports.get(port.0)?.neighbors;
        Some(NeighborCacheUsage {
            entries: cache.len(),
            incomplete: cache.incomplete_count(),
            capacity: cache.capacity(),
        })
    }

    /// Where the FIB sends `destination`.
    pub fn route(&self, destination: Ipv6Addr) -> Option<NextHop> {
        if self.own_addresses.contains(destination) {
            return Some(NextHop::Local);
        }
        let index = self.fib.lookup(destination)?;
        self.next_hops.get(index as usize).copied()
    }

    /// The FIB, for inspection and for routing daemons to come.
    pub fn fib(&self) -> &Fib {
        &self.fib
    }

    fn outgoing(&self) -> Outgoing<'_> {
        Outgoing {
            area: &self.transmit,
            next: 0,
        }
    }

    fn count_verdict(&mut self, port: PortIndex, verdict: Result<Outcome, DropReason>) {
        let Some(ingress) = self.ports.get_mut(port.0) else {
            return;
        };
        let counters = &mut ingress.counters;
        match verdict {
            Ok(Outcome::Consumed) => counters.consumed = counters.consumed.wrapping_add(1),
            Ok(Outcome::Forwarded) => counters.forwarded = counters.forwarded.wrapping_add(1),
            Ok(Outcome::Queued) => {}
            Err(reason) => counters.dropped.increment(reason),
        }
    }

    fn count_transmitted(&mut self) {
        for index in 0..self.transmit.len() {
            let forwarded = self.transmit.is_forwarded(index);
            if let Some((port, _)) = self.transmit.frame(index)
                && let Some(egress) = self.ports.get_mut(port.0)
            {
                egress.counters.transmitted = egress.counters.transmitted.wrapping_add(1);
                egress.counters.count(if forwarded {
                    PortEvent::OutForwarded
                } else {
                    PortEvent::OutRequests
                });
            }
        }
    }

    /// Ethernet input (RFC 2464, RFC 894 for the ethertype field).
    fn handle_frame(
        &mut self,
        port_index: PortIndex,
        frame: &[u8],
        now: Instant,
    ) -> Result<Outcome, DropReason> {
        let port = &self.ports[port_index.0];
        if frame.len() < ETHERNET_HEADER_LEN {
            return Err(DropReason::TruncatedEthernet);
        }
        if frame.len() > usize::from(port.settings.mtu) + ETHERNET_HEADER_LEN {
            return Err(DropReason::OversizedFrame);
        }
        let ethernet = EthernetFrame::new_unchecked(frame);
        let source_mac = ethernet.src_addr();
        if source_mac.is_multicast() {
            return Err(DropReason::InvalidSourceMac);
        }
        let destination_mac = ethernet.dst_addr();
        if !port.accepts_mac(destination_mac) {
            return Err(DropReason::NotForUs);
        }
        let link = LinkInfo {
            port: port_index,
            source_mac,
            multicast: destination_mac.is_multicast(),
        };
        match ethernet.ethertype() {
            EthernetProtocol::Ipv6 => self.handle_ipv6(link, ethernet.payload(), now),
            // IPv4 and ARP belong to the translator's uplink port (legacy-ip).
            #[cfg(feature = "legacy-ip")]
            EthernetProtocol::Ipv4 => self.handle_uplink_ipv4(link, ethernet.payload(), now),
            #[cfg(feature = "legacy-ip")]
            EthernetProtocol::Arp => self.handle_arp(link, ethernet.payload(), now),
            #[cfg(not(feature = "legacy-ip"))]
            EthernetProtocol::Ipv4 | EthernetProtocol::Arp => Err(DropReason::Ipv4NotEnabled),
            EthernetProtocol::Unknown(_) => Err(DropReason::UnknownEthertype),
        }
    }

    /// IPv6 input (RFC 8200 §3; RFC 4291 §2.5.3, §2.7 for source checks):
    /// for the router, or forwarded.
    fn handle_ipv6(
        &mut self,
        link: LinkInfo,
        packet: &[u8],
        now: Instant,
    ) -> Result<Outcome, DropReason> {
        if packet.len() < IPV6_HEADER_LEN {
            return Err(DropReason::TruncatedIpv6);
        }
        let header = Ipv6Packet::new_unchecked(packet);
        if header.version() != 6 {
            return Err(DropReason::BadIpVersion);
        }
        let total_length = IPV6_HEADER_LEN + usize::from(header.payload_len());
        // Longer than the frame: drop. Shorter: trim (Ethernet pads short frames).
        let Some(packet) = packet.get(..total_length) else {
            return Err(DropReason::Ipv6LengthExceedsFrame);
        };
        let source = header.src_addr();
        let destination = header.dst_addr();
        if source.is_multicast() || source.is_loopback() {
            return Err(DropReason::InvalidSourceAddress);
        }
        let port = &self.ports[link.port.0];
        if destination.is_multicast() {
            if !port.groups.contains(&destination) {
                return Err(DropReason::MulticastNotForwarded);
            }
        } else if destination.is_unicast_link_local() {
            if destination != port.settings.link_local {
                return Err(DropReason::LinkLocalNotForwarded);
            }
        } else if !self.own_addresses.contains(destination) {
            let route = self.fib.lookup(destination);
            return self.forward(link, packet, route, now);
        }
        self.handle_local(link, packet, now)
            .map(|()| Outcome::Consumed)
    }

    /// A packet addressed to the router: extension headers, then ICMPv6.
    fn handle_local(&mut self, link: LinkInfo, packet: &[u8], now: Instant) -> Verdict {
        let header = Ipv6Packet::new_unchecked(packet);
        let upper = match walk_extension_headers(
            u8::from(header.next_header()),
            &packet[IPV6_HEADER_LEN..],
        ) {
            Ok(upper) => upper,
            Err(problem) => {
                if let Some(error) = problem.error {
                    self.send_icmp_error(link, packet, error, now);
                }
                return Err(problem.reason);
            }
        };
        let action = {
            let port = &self.ports[link.port.0];
            let local = LocalPacket {
                port,
                port_index: link.port,
                source_mac: link.source_mac,
                source: header.src_addr(),
                destination: header.dst_addr(),
                hop_limit: header.hop_limit(),
                fragment_header: upper.fragment_header,
                upper_layer: &packet[IPV6_HEADER_LEN + upper.offset..],
            };
            match IpProtocol::from(upper.protocol) {
                IpProtocol::Icmpv6 => handle_icmpv6(&local, &mut self.transmit)?,
                // RFC 8200 §4.7: nothing follows; the packet is done with.
                IpProtocol::Ipv6NoNxt => LocalAction::None,
                IpProtocol::Udp => {
                    let error = IcmpError::DestinationUnreachable(PORT_UNREACHABLE);
                    self.send_icmp_error(link, packet, error, now);
                    return Err(DropReason::NoUdpListener);
                }
                IpProtocol::Tcp => {
                    let (source, destination) = (local.source, local.destination);
                    let unfragmented = !local.fragment_header;
                    let segment_offset = IPV6_HEADER_LEN + upper.offset;
                    if unfragmented {
                        self.send_reset(link, source, destination, &packet[segment_offset..], now);
                    }
                    return Err(DropReason::NoTcpListener);
                }
                _ => {
                    let error = IcmpError::ParameterProblem {
                        code: UNRECOGNIZED_NEXT_HEADER,
                        pointer: upper.next_header_position as u32,
                        multicast_allowed: false,
                    };
                    self.send_icmp_error(link, packet, error, now);
                    return Err(DropReason::UnrecognizedNextHeader);
                }
            }
        };
        self.apply(link, action, now);
        Ok(())
    }

    /// What a local ICMPv6 message asks of the router's state.
    fn apply(&mut self, link: LinkInfo, action: LocalAction, now: Instant) {
        let port = &mut self.ports[link.port.0];
        let events = &mut port.counters.events;
        let resolved = match action {
            LocalAction::None => None,
            LocalAction::Learn {
                answered,
                address,
                mac,
                from,
            } => {
                if answered {
                    events.increment(PortEvent::NeighborAdvertisementsSent);
                }
                match from {
                    LearnedFrom::RouterSolicitation => {
                        events.increment(PortEvent::RouterSolicitationsReceived)
                    }
                    LearnedFrom::RouterAdvertisement => {
                        events.increment(PortEvent::RouterAdvertisementsReceived)
                    }
                    LearnedFrom::NeighborSolicitation => {}
                }
                if from == LearnedFrom::RouterSolicitation {
                    let advertiser = &mut port.advertiser;
                    advertiser.solicited(
                        &port.settings.router_advertisements,
                        now,
                        &mut self.random,
                    );
                }
                match (address, mac) {
                    (Some(address), Some(mac)) => {
                        port.neighbors
                            .learn(address, mac, from, now, &mut port.counters.events)
                    }
                    _ => None,
                }
            }
            LocalAction::Advertisement {
                target,
                advertisement,
            } => {
                events.increment(PortEvent::NeighborAdvertisementsReceived);
                port.neighbors
                    .advertisement(target, advertisement, now, &mut port.counters.events)
            }
        };
        if let Some(slot) = resolved {
            self.release_pending(link.port, slot);
        }
    }
}

/// How full a port's neighbor cache is ([`Router::neighbor_cache_usage`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NeighborCacheUsage {
    /// Entries in use.
    pub entries: usize,
    /// Of which INCOMPLETE.
    pub incomplete: usize,
    /// The capacity (`[neighbor_cache] capacity`).
    pub capacity: usize,
}

/// How a frame that was not dropped ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// Handled by the router itself.
    Consumed,
    /// Sent on an egress port.
    Forwarded,
    /// Waiting for address resolution; counted when that ends.
    Queued,
}

/// A verdict short of forwarding: `Ok` is consumed by the router.
type Verdict = Result<(), DropReason>;

/// Where a frame came from: its port, its Ethernet source, and whether it
/// was sent to a multicast or broadcast MAC (RFC 4443 §2.4(e.3–5)).
#[derive(Clone, Copy, Debug)]
struct LinkInfo {
    port: PortIndex,
    source_mac: EthernetAddress,
    multicast: bool,
}

/// What a local ICMPv6 message asks the router to do after it is answered.
#[derive(Clone, Copy, Debug)]
enum LocalAction {
    /// Nothing.
    None,
    /// A link-layer address to learn from a solicitation or advertisement
    /// (and, for a Router Solicitation, an advertisement to schedule).
    Learn {
        /// A Neighbor Advertisement was sent in reply.
        answered: bool,
        /// The sender, if not ::.
        address: Option<Ipv6Addr>,
        /// Its Source Link-Layer Address option, if any.
        mac: Option<EthernetAddress>,
        /// The message type.
        from: LearnedFrom,
    },
    /// A valid Neighbor Advertisement (RFC 4861 §7.2.5).
    Advertisement {
        target: Ipv6Addr,
        advertisement: neighbor_cache::Advertisement,
    },
}

/// An IPv6 packet addressed to the router, after the IPv6 header checks.
struct LocalPacket<'a> {
    port: &'a Port,
    port_index: PortIndex,
    /// The Ethernet source of the frame.
    source_mac: EthernetAddress,
    source: Ipv6Addr,
    destination: Ipv6Addr,
    hop_limit: u8,
    /// Whether a Fragment header preceded the upper-layer header.
    fragment_header: bool,
    /// The upper-layer message (the IPv6 payload after the extension headers).
    upper_layer: &'a [u8],
}

/// Where the upper-layer header starts, after the extension headers.
#[derive(Debug, PartialEq, Eq)]
struct UpperLayer {
    protocol: u8,
    /// Offset in the IPv6 payload.
    offset: usize,
    /// Where the Next Header field naming `protocol` is, from the start of
    /// the IPv6 header (the Parameter Problem pointer for code 1).
    next_header_position: usize,
    fragment_header: bool,
}

/// Why the extension header walk stopped, and the ICMPv6 error it calls for.
#[derive(Debug, PartialEq, Eq)]
struct HeaderProblem {
    reason: DropReason,
    error: Option<IcmpError>,
}

impl From<DropReason> for HeaderProblem {
    fn from(reason: DropReason) -> Self {
        HeaderProblem {
            reason,
            error: None,
        }
    }
}

/// Destination Unreachable code 4: port unreachable (RFC 4443 §3.1).
const PORT_UNREACHABLE: u8 = 4;
/// Parameter Problem code 1: unrecognized Next Header type (RFC 4443 §3.4).
const UNRECOGNIZED_NEXT_HEADER: u8 = 1;

const HOP_BY_HOP: u8 = 0;
const ROUTING: u8 = 43;
const FRAGMENT: u8 = 44;
const DESTINATION_OPTIONS: u8 = 60;

/// Walks the extension headers of a packet addressed to the router
/// (RFC 8200 §4): Hop-by-Hop only first (elsewhere: Parameter Problem code
/// 1 at the Next Header field that names it), options processed by their
/// action bits (§4.2), a Routing header with Segments Left 0 skipped and
/// otherwise answered with Parameter Problem code 0 at its Routing Type
/// (§4.4; no type is implemented, RFC 5095 §3), a Fragment header accepted
/// only as an atomic fragment (offset 0, M = 0; RFC 8200 §4.5) since
/// reassembly is not implemented. Pointers count from the IPv6 header.
fn walk_extension_headers(first: u8, payload: &[u8]) -> Result<UpperLayer, HeaderProblem> {
    let mut protocol = first;
    let mut offset = 0usize;
    // Where the Next Header field naming `protocol` is, from the IPv6 header.
    let mut next_header_position = 6usize;
    let mut fragment_header = false;
    loop {
        match protocol {
            HOP_BY_HOP | DESTINATION_OPTIONS | ROUTING => {
                if protocol == HOP_BY_HOP && offset != 0 {
                    return Err(HeaderProblem {
                        reason: DropReason::HopByHopNotFirst,
                        error: Some(IcmpError::ParameterProblem {
                            code: 1,
                            pointer: next_header_position as u32,
                            multicast_allowed: false,
                        }),
                    });
                }
                let header = payload
                    .get(offset..offset + 2)
                    .ok_or(DropReason::TruncatedExtensionHeader)?;
                let length = (usize::from(header[1]) + 1) * 8;
                let header = payload
                    .get(offset..offset + length)
                    .ok_or(DropReason::TruncatedExtensionHeader)?;
                if protocol == ROUTING {
                    // Segments Left is the fourth byte.
                    if header[3] != 0 {
                        return Err(HeaderProblem {
                            reason: DropReason::RoutingHeaderNotSupported,
                            error: Some(IcmpError::ParameterProblem {
                                code: 0,
                                pointer: (IPV6_HEADER_LEN + offset + 2) as u32,
                                multicast_allowed: false,
                            }),
                        });
                    }
                } else {
                    check_options(&header[2..], IPV6_HEADER_LEN + offset + 2)?;
                }
                protocol = header[0];
                next_header_position = IPV6_HEADER_LEN + offset;
                offset += length;
            }
            FRAGMENT => {
                let header = payload
                    .get(offset..offset + 8)
                    .ok_or(DropReason::TruncatedExtensionHeader)?;
                // Fragment Offset (13 bits) and M (lowest bit) in bytes 2..4.
                let offset_and_more = u16::from_be_bytes([header[2], header[3]]);
                if offset_and_more & 0xfff9 != 0 {
                    return Err(DropReason::FragmentReassemblyNotSupported.into());
                }
                fragment_header = true;
                protocol = header[0];
                next_header_position = IPV6_HEADER_LEN + offset;
                offset += 8;
            }
            _ => {
                return Ok(UpperLayer {
                    protocol,
                    offset,
                    next_header_position,
                    fragment_header,
                });
            }
        }
    }
}

/// Checks the options of a Hop-by-Hop or Destination Options header
/// (RFC 8200 §4.2): Pad1 and PadN are understood, and Router Alert
/// (RFC 2711) is understood as "nothing to do"; an unrecognized option is
/// skipped when its two high bits are 00, and otherwise discards the
/// packet: 01 silently, 10 with Parameter Problem code 2 (even to a
/// multicast destination), 11 with code 2 unless the destination is
/// multicast. `position` is the options' offset from the IPv6 header.
fn check_options(mut options: &[u8], mut position: usize) -> Result<(), HeaderProblem> {
    const PAD1: u8 = 0;
    const PADN: u8 = 1;
    const ROUTER_ALERT: u8 = 5;
    while let Some(&option_type) = options.first() {
        if option_type == PAD1 {
            options = &options[1..];
            position += 1;
            continue;
        }
        let length = usize::from(*options.get(1).ok_or(DropReason::TruncatedExtensionHeader)?);
        if options.len() < 2 + length {
            return Err(DropReason::TruncatedExtensionHeader.into());
        }
        if option_type != PADN && option_type != ROUTER_ALERT {
            let error = match option_type >> 6 {
                0 => None,
                1 => return Err(DropReason::UnrecognizedOption.into()),
                action => Some(IcmpError::ParameterProblem {
                    code: 2,
                    pointer: position as u32,
                    multicast_allowed: action == 2,
                }),
            };
            if error.is_some() {
                return Err(HeaderProblem {
                    reason: DropReason::UnrecognizedOption,
                    error,
                });
            }
        }
        options = &options[2 + length..];
        position += 2 + length;
    }
    Ok(())
}

/// ICMPv6 input (RFC 4443 §2.1–§2.4): length, checksum, then by type.
fn handle_icmpv6(
    packet: &LocalPacket<'_>,
    area: &mut TransmitArea,
) -> Result<LocalAction, DropReason> {
    const NEIGHBOR_DISCOVERY_TYPES: core::ops::RangeInclusive<u8> = 133..=137;
    const ECHO_REQUEST: u8 = 128;
    const ROUTER_SOLICITATION: u8 = 133;
    const ROUTER_ADVERTISEMENT: u8 = 134;
    const NEIGHBOR_SOLICITATION: u8 = 135;
    const NEIGHBOR_ADVERTISEMENT: u8 = 136;
    const REDIRECT: u8 = 137;

    // Type, code, checksum.
    if packet.upper_layer.len() < 4 {
        return Err(DropReason::TruncatedIcmpv6);
    }
    let icmp = Icmpv6Packet::new_unchecked(packet.upper_layer);
    if !icmp.verify_checksum(&packet.source, &packet.destination) {
        return Err(DropReason::BadIcmpv6Checksum);
    }
    let message_type = packet.upper_layer[0];
    if NEIGHBOR_DISCOVERY_TYPES.contains(&message_type) && packet.fragment_header {
        return Err(DropReason::NdpFragmented);
    }
    match message_type {
        ECHO_REQUEST => echo::answer_echo_request(packet, area).map(|()| LocalAction::None),
        NEIGHBOR_SOLICITATION => neighbor_discovery::answer_neighbor_solicitation(packet, area),
        NEIGHBOR_ADVERTISEMENT => neighbor_discovery::neighbor_advertisement(packet),
        ROUTER_SOLICITATION => router_advertisement::router_solicitation(packet),
        ROUTER_ADVERTISEMENT => router_advertisement::router_advertisement(packet),
        REDIRECT => Err(DropReason::RedirectNotAccepted),
        _ => Err(DropReason::Icmpv6TypeNotHandled),
    }
}

/// Builds an Ethernet + IPv6 + ICMPv6 frame into the transmit area, with the
/// ICMPv6 checksum computed (RFC 4443 §2.3). Every byte of the frame is
/// written.
struct Icmpv6Reply<'a> {
    port: PortIndex,
    source_mac: EthernetAddress,
    destination_mac: EthernetAddress,
    source: Ipv6Addr,
    destination: Ipv6Addr,
    hop_limit: u8,
    message: Icmpv6Repr<'a>,
}

impl Icmpv6Reply<'_> {
    fn emit(&self, area: &mut TransmitArea) -> Verdict {
        let icmp_length = self.message.buffer_len();
        let frame = emit_ipv6_headers(
            area,
            self.port,
            self.source_mac,
            self.destination_mac,
            self.source,
            self.destination,
            self.hop_limit,
            icmp_length,
        )
        .ok_or(DropReason::TransmitAreaFull)?;
        let mut icmp_packet =
            Icmpv6Packet::new_unchecked(&mut frame[ETHERNET_HEADER_LEN + IPV6_HEADER_LEN..]);
        self.message.emit(
            &self.source,
            &self.destination,
            &mut icmp_packet,
            &ChecksumCapabilities::default(),
        );
        Ok(())
    }
}

/// Queues a frame for `port` with Ethernet and IPv6 (next header ICMPv6)
/// headers written, and returns it for the caller to write the
/// `icmp_length` bytes of the message after them.
#[allow(clippy::too_many_arguments)] // the fields of two headers
fn emit_ipv6_headers(
    area: &mut TransmitArea,
    port: PortIndex,
    source_mac: EthernetAddress,
    destination_mac: EthernetAddress,
    source: Ipv6Addr,
    destination: Ipv6Addr,
    hop_limit: u8,
    icmp_length: usize,
) -> Option<&mut [u8]> {
    let ip = Ipv6Repr {
        src_addr: source,
        dst_addr: destination,
        next_header: IpProtocol::Icmpv6,
        payload_len: icmp_length,
        hop_limit,
    };
    let ethernet = EthernetRepr {
        src_addr: source_mac,
        dst_addr: destination_mac,
        ethertype: EthernetProtocol::Ipv6,
    };
    let length = ethernet.buffer_len() + ip.buffer_len() + icmp_length;
    let frame = area.push(port, length)?;
    let mut ethernet_frame = EthernetFrame::new_unchecked(&mut *frame);
    ethernet.emit(&mut ethernet_frame);
    let mut ip_packet = Ipv6Packet::new_unchecked(ethernet_frame.payload_mut());
    ip.emit(&mut ip_packet);
    Some(frame)
}

/// The solicited-node multicast address of `address`: ff02::1:ff00:0/104
/// followed by its low 24 bits (RFC 4291 §2.7.1).
pub fn solicited_node_address(address: Ipv6Addr) -> Ipv6Addr {
    let low = address.octets();
    Ipv6Addr::from([
        0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff, low[13], low[14], low[15],
    ])
}

/// Whether `address` is a solicited-node multicast address (RFC 4291 §2.7.1).
pub fn is_solicited_node_address(address: Ipv6Addr) -> bool {
    address.octets()[..13] == [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff]
}

/// The Ethernet address of an IPv6 multicast group: 33:33 followed by the
/// group's low 32 bits (RFC 2464 §7).
pub fn multicast_mac(group: Ipv6Addr) -> EthernetAddress {
    let octets = group.octets();
    EthernetAddress([0x33, 0x33, octets[12], octets[13], octets[14], octets[15]])
}

#[cfg(test)]
mod tests {
    //! Input validation: every way a frame can be malformed ends in a named
    //! drop, never a panic. NDP and echo behaviour is tested in their modules.
    use super::test_frames::*;
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;

    #[test]
    fn solicited_node_and_multicast_mac() {
        let address: Ipv6Addr = "fe80::5054:ff:fe12:3456".parse().unwrap();
        let group = solicited_node_address(address);
        assert_eq!(group, "ff02::1:ff12:3456".parse::<Ipv6Addr>().unwrap());
        assert!(is_solicited_node_address(group));
        assert!(!is_solicited_node_address(ALL_NODES));
        assert_eq!(
            multicast_mac(group),
            EthernetAddress([0x33, 0x33, 0xff, 0x12, 0x34, 0x56])
        );
    }

    #[test]
    fn too_many_nics_is_an_error() {
        let nics = vec![NicInfo { mac: ROUTER_MAC }; MAX_PORTS + 1];
        assert_eq!(
            Router::new(&Config::default(), &nics).unwrap_err(),
            RouterError::TooManyNics { count: 9 }
        );
        assert!(Router::new(&Config::default(), &nics[..MAX_PORTS]).is_ok());
    }

    #[test]
    fn ports_take_config_then_defaults() {
        let config =
            crate::config::parse("[[port]]\nname = \"lan0\"\nlink_local = \"fe80::1\"\n").unwrap();
        let router = Router::new(
            &config,
            &[
                NicInfo { mac: ROUTER_MAC },
                NicInfo {
                    mac: [2, 0, 0, 0, 0, 9],
                },
            ],
        )
        .unwrap();
        assert_eq!(router.port_count(), 2);
        assert_eq!(router.port_name(PortIndex(0)), Some("lan0"));
        assert_eq!(router.port_name(PortIndex(1)), Some("port1"));
        assert_eq!(
            router.port_link_local(PortIndex(1)),
            Some("fe80::ff:fe00:9".parse().unwrap())
        );
        assert_eq!(router.port_name(PortIndex(2)), None);
        assert_eq!(router.counters(PortIndex(2)).count(), 0);
    }

    #[test]
    fn unknown_port_is_counted_not_panicking() {
        let mut router = test_router();
        let frame = echo_request_frame(&EchoRequest::default());
        assert_eq!(router.receive(PortIndex(7), &frame, now()).count(), 0);
        assert_eq!(router.totals().dropped.get(DropReason::UnknownPort), 1);
        assert_eq!(router.totals().received, 1);
    }

    #[test]
    fn poll_returns_nothing_yet() {
        let mut router = test_router();
        assert_eq!(router.poll(Instant::from_millis(5)).count(), 0);
        assert_eq!(router.last_time(), Instant::from_millis(5));
    }

    #[test]
    fn ipv4_and_arp_not_enabled() {
        for ethertype in [0x0800u16, 0x0806] {
            let mut frame = echo_request_frame(&EchoRequest::default());
            frame[12..14].copy_from_slice(&ethertype.to_be_bytes());
            assert_dropped(&frame, DropReason::Ipv4NotEnabled);
        }
    }

    #[test]
    fn unknown_ethertype() {
        for ethertype in [0x8100u16, 0x88cc, 0x0000] {
            let mut frame = echo_request_frame(&EchoRequest::default());
            frame[12..14].copy_from_slice(&ethertype.to_be_bytes());
            assert_dropped(&frame, DropReason::UnknownEthertype);
        }
    }

    #[test]
    fn destination_mac_filter() {
        // Another host's unicast MAC.
        let mut frame = echo_request_frame(&EchoRequest::default());
        frame[0..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x77]);
        assert_dropped(&frame, DropReason::NotForUs);
        // A multicast group the port has not joined (MLDv2 routers, ff02::16).
        frame[0..6].copy_from_slice(&[0x33, 0x33, 0, 0, 0, 0x16]);
        assert_dropped(&frame, DropReason::NotForUs);
        // An IPv4 multicast MAC.
        frame[0..6].copy_from_slice(&[0x01, 0x00, 0x5e, 0, 0, 1]);
        assert_dropped(&frame, DropReason::NotForUs);
        // Broadcast and all-nodes are accepted.
        for accepted in [
            [0xff; 6],
            [0x33, 0x33, 0, 0, 0, 1],
            [0x33, 0x33, 0, 0, 0, 2],
        ] {
            frame[0..6].copy_from_slice(&accepted);
            let mut router = test_router();
            assert_eq!(router.receive(PORT, &frame, now()).count(), 1);
        }
    }

    #[test]
    fn multicast_source_mac() {
        let mut frame = echo_request_frame(&EchoRequest::default());
        frame[6..12].copy_from_slice(&[0xff; 6]);
        assert_dropped(&frame, DropReason::InvalidSourceMac);
    }

    #[test]
    fn ip_version_not_6() {
        for version in [0u8, 4, 5, 7, 15] {
            let mut frame = echo_request_frame(&EchoRequest::default());
            frame[14] = (version << 4) | (frame[14] & 0x0f);
            assert_dropped(&frame, DropReason::BadIpVersion);
        }
    }

    #[test]
    fn payload_length_longer_than_frame() {
        let mut frame = echo_request_frame(&EchoRequest::default());
        let length = u16::from_be_bytes([frame[18], frame[19]]) + 1;
        frame[18..20].copy_from_slice(&length.to_be_bytes());
        assert_dropped(&frame, DropReason::Ipv6LengthExceedsFrame);
    }

    #[test]
    fn payload_length_shorter_than_frame_is_trimmed() {
        // Ethernet padding and trailing garbage after the IPv6 packet are ignored
        // (the ICMPv6 checksum would fail if they were not).
        let request = EchoRequest::default();
        let mut frame = echo_request_frame(&request);
        frame.extend_from_slice(&[0xee; 20]);
        let mut router = test_router();
        let replies: Vec<_> = router.receive(PORT, &frame, now()).collect();
        assert_eq!(replies.len(), 1);
        let reply = parse_echo_reply(replies[0].frame);
        assert_eq!(reply.data, request.data);
    }

    #[test]
    fn oversized_frame() {
        let request = EchoRequest {
            data: vec![0x5a; 1500 - 40 - 8 + 1],
            ..EchoRequest::default()
        };
        assert_dropped(&echo_request_frame(&request), DropReason::OversizedFrame);
        // Exactly MTU + 14 is accepted.
        let request = EchoRequest {
            data: vec![0x5a; 1500 - 40 - 8],
            ..EchoRequest::default()
        };
        let mut router = test_router();
        let frame = echo_request_frame(&request);
        assert_eq!(frame.len(), 1514);
        assert_eq!(router.receive(PORT, &frame, now()).count(), 1);
    }

    #[test]
    fn invalid_source_address() {
        for source in ["ff02::1", "::1"] {
            let request = EchoRequest {
                source: source.parse().unwrap(),
                ..EchoRequest::default()
            };
            assert_dropped(
                &echo_request_frame(&request),
                DropReason::InvalidSourceAddress,
            );
        }
    }

    #[test]
    fn destination_not_local() {
        for (destination, reason) in [
            ("fe80::99", DropReason::LinkLocalNotForwarded),
            ("ff02::16", DropReason::MulticastNotForwarded),
            ("ff02::1:ff00:99", DropReason::MulticastNotForwarded),
        ] {
            let request = EchoRequest {
                destination: destination.parse().unwrap(),
                ..EchoRequest::default()
            };
            assert_dropped(&echo_request_frame(&request), reason);
        }
        // A global destination from a link-local source: never forwarded,
        // answered with Destination Unreachable code 2 (RFC 4443 §3.1).
        let request = EchoRequest {
            destination: "2001:db8::1".parse().unwrap(),
            ..EchoRequest::default()
        };
        let mut router = test_router();
        let replies: Vec<_> = router
            .receive(PORT, &echo_request_frame(&request), now())
            .map(|transmit| transmit.frame.to_vec())
            .collect();
        assert_eq!(replies.len(), 1);
        let error = parse_icmp_error(&replies[0]);
        assert_eq!((error.message_type, error.code), (1, 2));
        assert_eq!(error.source, ROUTER_LINK_LOCAL);
        assert_eq!(error.destination, HOST_LINK_LOCAL);
        let counters = router.port_counters(PORT).unwrap();
        assert_eq!(counters.dropped.get(DropReason::LinkLocalNotForwarded), 1);
    }

    #[test]
    fn packets_for_the_router_without_a_service_get_the_rfc_answer() {
        // RFC 4443 §3.1: UDP with no listener gets Destination Unreachable
        // code 4. RFC 8200 §4: an unrecognized Next Header gets Parameter
        // Problem code 1 pointing at the field (offset 6 without extension
        // headers). TCP answers with a reset (router/reset.rs) only for a
        // valid segment; these bytes are not one: dropped and counted.
        let cases = [
            (17u8, DropReason::NoUdpListener, Some((1u8, 4u8, 0u32))),
            (6, DropReason::NoTcpListener, None),
            (50, DropReason::UnrecognizedNextHeader, Some((4, 1, 6))),
            (253, DropReason::UnrecognizedNextHeader, Some((4, 1, 6))),
        ];
        for (protocol, reason, expected) in cases {
            let mut frame = echo_request_frame(&EchoRequest::default());
            frame[20] = protocol;
            let mut router = test_router();
            let replies: Vec<Vec<u8>> = router
                .receive(PORT, &frame, now())
                .map(|transmit| transmit.frame.to_vec())
                .collect();
            let counters = router.port_counters(PORT).unwrap();
            assert_eq!(counters.dropped.get(reason), 1, "protocol {protocol}");
            let Some((message_type, code, field)) = expected else {
                assert!(replies.is_empty(), "protocol {protocol}");
                continue;
            };
            assert_eq!(replies.len(), 1, "protocol {protocol}");
            let reply = &replies[0];
            let ipv6 = Ipv6Packet::new_checked(&reply[14..]).unwrap();
            assert_eq!(ipv6.next_header(), IpProtocol::Icmpv6);
            assert_eq!(ipv6.dst_addr(), HOST_LINK_LOCAL);
            assert_eq!(ipv6.src_addr(), ROUTER_LINK_LOCAL);
            let icmp = Icmpv6Packet::new_checked(ipv6.payload()).unwrap();
            assert!(icmp.verify_checksum(&ipv6.src_addr(), &ipv6.dst_addr()));
            let message = ipv6.payload();
            assert_eq!((message[0], message[1]), (message_type, code));
            assert_eq!(
                u32::from_be_bytes([message[4], message[5], message[6], message[7]]),
                field
            );
            assert_eq!(
                &message[8..48],
                &frame[14..54],
                "the invoking header is quoted"
            );
        }
    }

    #[test]
    fn no_next_header_is_consumed() {
        let mut frame = echo_request_frame(&EchoRequest::default());
        frame[20] = 59;
        let mut router = test_router();
        assert_eq!(router.receive(PORT, &frame, now()).count(), 0);
        assert_eq!(router.port_counters(PORT).unwrap().consumed, 1);
    }

    #[test]
    fn extension_headers() {
        let request = EchoRequest::default();
        // Hop-by-Hop with PadN, then Destination Options with Pad1s and an
        // unknown skippable option (type 0x1e): answered.
        let hop_by_hop = [0, 0, 1, 4, 0, 0, 0, 0];
        let destination_options = [0, 0, 0, 0, 0x1e, 2, 0xaa, 0xbb];
        let frame = with_extension_header(
            &with_extension_header(&echo_request_frame(&request), 60, &destination_options),
            0,
            &hop_by_hop,
        );
        let mut router = test_router();
        let replies: Vec<_> = router.receive(PORT, &frame, now()).collect();
        assert_eq!(replies.len(), 1);
        assert_eq!(parse_echo_reply(replies[0].frame).data, request.data);

        // Unknown option with action bits 01: discard.
        let discard = [0, 0, 0x5e, 4, 0, 0, 0, 0];
        let frame = with_extension_header(&echo_request_frame(&request), 60, &discard);
        assert_dropped(&frame, DropReason::UnrecognizedOption);

        // Hop-by-Hop after another extension header.
        let frame = with_extension_header(
            &with_extension_header(&echo_request_frame(&request), 0, &hop_by_hop),
            60,
            &destination_options,
        );
        let mut router = test_router();
        let replies: Vec<_> = router
            .receive(PORT, &frame, now())
            .map(|transmit| transmit.frame.to_vec())
            .collect();
        assert_eq!(
            router
                .port_counters(PORT)
                .unwrap()
                .dropped
                .get(DropReason::HopByHopNotFirst),
            1
        );
        // Parameter Problem code 1 at the Next Header field naming it
        // (the Destination Options header's first byte, RFC 8200 §4).
        let error = parse_icmp_error(&replies[0]);
        assert_eq!((error.message_type, error.code, error.field), (4, 1, 40));

        // Routing header with Segments Left 1 (type 0, RFC 5095).
        let routing = [0, 0, 0, 1, 0, 0, 0, 0];
        let frame = with_extension_header(&echo_request_frame(&request), 43, &routing);
        let mut router = test_router();
        let replies: Vec<_> = router
            .receive(PORT, &frame, now())
            .map(|transmit| transmit.frame.to_vec())
            .collect();
        assert_eq!(
            router
                .port_counters(PORT)
                .unwrap()
                .dropped
                .get(DropReason::RoutingHeaderNotSupported),
            1
        );
        // Parameter Problem code 0 pointing at the Routing Type (40 + 2).
        let error = parse_icmp_error(&replies[0]);
        assert_eq!((error.message_type, error.code, error.field), (4, 0, 42));
        assert_eq!(error.source, ROUTER_LINK_LOCAL);
        assert_eq!(error.invoking, frame[14..]);
        // Segments Left 0: skipped, answered.
        let routing = [0, 0, 0, 0, 0, 0, 0, 0];
        let frame = with_extension_header(&echo_request_frame(&request), 43, &routing);
        assert_eq!(test_router().receive(PORT, &frame, now()).count(), 1);

        // A non-atomic fragment: no reassembly yet.
        let first_fragment = [0, 0, 0, 1, 0, 0, 0, 7];
        let frame = with_extension_header(&echo_request_frame(&request), 44, &first_fragment);
        assert_dropped(&frame, DropReason::FragmentReassemblyNotSupported);
        // An atomic fragment is processed as a whole packet (RFC 8200 §4.5).
        let atomic = [0, 0, 0, 0, 0, 0, 0, 7];
        let frame = with_extension_header(&echo_request_frame(&request), 44, &atomic);
        assert_eq!(test_router().receive(PORT, &frame, now()).count(), 1);

        // Header length running past the packet.
        let long = [0, 200, 1, 4, 0, 0, 0, 0];
        let frame = with_extension_header(&echo_request_frame(&request), 0, &long);
        assert_dropped(&frame, DropReason::TruncatedExtensionHeader);
        // An option running past its header.
        let long_option = [0, 0, 0, 0, 0, 0x1e, 9, 0];
        let frame = with_extension_header(&echo_request_frame(&request), 0, &long_option);
        assert_dropped(&frame, DropReason::TruncatedExtensionHeader);
    }

    #[test]
    fn truncated_icmpv6() {
        // IPv6 payload of 3 bytes.
        let mut frame = echo_request_frame(&EchoRequest::default());
        frame.truncate(14 + 40 + 3);
        frame[18..20].copy_from_slice(&3u16.to_be_bytes());
        assert_dropped(&frame, DropReason::TruncatedIcmpv6);
    }

    #[test]
    fn bad_checksum() {
        let mut frame = echo_request_frame(&EchoRequest::default());
        frame[14 + 40 + 2] ^= 0x01;
        assert_dropped(&frame, DropReason::BadIcmpv6Checksum);
        // A corrupted payload byte breaks the checksum as well.
        let mut frame = echo_request_frame(&EchoRequest::default());
        let last = frame.len() - 1;
        frame[last] ^= 0x80;
        assert_dropped(&frame, DropReason::BadIcmpv6Checksum);
    }

    #[test]
    fn unhandled_icmpv6_type() {
        // An Echo Reply to the router: valid, but nothing waits for it yet.
        let mut frame = echo_request_frame(&EchoRequest::default());
        frame[14 + 40] = 129;
        fix_icmpv6_checksum(&mut frame);
        assert_dropped(&frame, DropReason::Icmpv6TypeNotHandled);
    }

    /// Every prefix of valid frames, including the empty one, ends in one
    /// counted verdict and never panics.
    #[test]
    fn every_truncation_is_counted() {
        let frames = [
            echo_request_frame(&EchoRequest::default()),
            neighbor_solicitation_frame(&NeighborSolicitation::default()),
            neighbor_solicitation_frame(&NeighborSolicitation::duplicate_address_detection()),
        ];
        for frame in &frames {
            let mut router = test_router();
            for length in 0..frame.len() {
                let replies = router.receive(PORT, &frame[..length], now()).count();
                assert_eq!(
                    replies, 0,
                    "a truncated frame of {length} bytes was answered"
                );
            }
            let counters = router.port_counters(PORT).unwrap();
            assert_eq!(counters.received, frame.len() as u64);
            assert_eq!(counters.dropped.total(), frame.len() as u64);
            assert_eq!(
                counters.dropped.get(DropReason::TruncatedEthernet),
                ETHERNET_HEADER_LEN as u64
            );
            assert_eq!(
                counters.dropped.get(DropReason::TruncatedIpv6),
                IPV6_HEADER_LEN as u64
            );
        }
    }

    /// Deterministic pseudo-random frames (xorshift64): never a panic, always
    /// exactly one verdict, and replies only for valid requests.
    #[test]
    fn random_frames_never_panic() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let templates = [
            echo_request_frame(&EchoRequest::default()),
            neighbor_solicitation_frame(&NeighborSolicitation::default()),
        ];
        let mut router = test_router();
        let mut frame = Vec::with_capacity(1600);
        let rounds = 4000u64;
        for round in 0..rounds {
            frame.clear();
            if round % 2 == 0 {
                // Pure noise, with a plausible header half the time.
                let length = (next() % 1600) as usize;
                frame.extend((0..length).map(|_| next() as u8));
                if round % 4 == 0 && frame.len() >= 14 {
                    frame[0..6].copy_from_slice(&ROUTER_MAC);
                    frame[12..14].copy_from_slice(&[0x86, 0xdd]);
                    if frame.len() > 14 {
                        frame[14] = 0x60;
                    }
                }
            } else {
                // A valid frame with a few bytes flipped.
                frame.extend_from_slice(&templates[(round / 2 % 2) as usize]);
                for _ in 0..(next() % 4) {
                    let position = (next() as usize) % frame.len();
                    frame[position] ^= next() as u8 | 1;
                }
            }
            for reply in router.receive(PORT, &frame, now()) {
                // Whatever is sent parses and has a valid checksum.
                assert_valid_icmpv6_frame(reply.frame);
            }
        }
        let counters = router.port_counters(PORT).unwrap();
        assert_eq!(counters.received, rounds);
        assert_eq!(counters.consumed + counters.dropped.total(), rounds);
    }
}
