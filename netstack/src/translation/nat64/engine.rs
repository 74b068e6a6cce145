//! The stateful NAT64 translator (RFC 6146 §3.4–§3.5): for each packet, find or create its session, rewrite its port, and translate its headers with the RFC 7915 core.
//!
//! - From IPv6 (§3.5.1, §3.5.2, §3.5.3): the destination must be under
//!   `pool6`; the session of (X', x) → (Y', y) is looked up, or created with
//!   a BIB entry from [`super::port_allocation`] (endpoint-independent
//!   mapping, §3.5.1.1). TCP follows [`super::tcp_state`]: only a SYN opens
//!   a session. An ICMPv6 error needs the session of the packet it quotes
//!   and creates nothing.
//! - From IPv4: the destination (T, t) is in `pool4`; the session of
//!   (T, t) ← (Z, z) is looked up, or created under an existing BIB entry
//!   if the filtering allows it (endpoint-independent, or
//!   address-dependent: a session with Z already, §3.5.2.3 / RFC 4787).
//! - The port (or ICMP identifier) is rewritten in a copy of the packet
//!   ([`super::flow`]), which the RFC 7915 core then translates with the
//!   session's addresses; any other address (an IPv4 router quoting our
//!   packet, an IPv6 router's error) maps through `pool6` as in SIIT, or, for
//!   an ICMPv6 error from an unmapped IPv6 router, takes the session's pool4
//!   address as its source.
//!
//! Decisions and simplifications (each counted where it drops):
//! - An unsolicited inbound TCP SYN is forwarded when the filtering allows
//!   it and a BIB entry exists (a static one: port forwarding). Otherwise
//!   (no BIB entry, or address-dependent filtering refuses it) it is held
//!   for TCP_INCOMING_SYN in [`super::held_syn`] (§3.5.2.2, RFC 5382
//!   REQ-4): a V6 SYN of the same connection meanwhile opens the session
//!   straight to ESTABLISHED and the held SYN is forgotten
//!   (`nat64_incoming_syn_simultaneous_open`); else at expiry the router
//!   answers ICMPv4 3/3 quoting it, if `incoming_syn_unreachable` allows
//!   (`nat64_incoming_syn_expired`). A retransmitted SYN of a held
//!   connection is dropped (`nat64_incoming_syn_already_held`), one beyond
//!   the store's capacity too (`nat64_held_syn_store_full`), and with
//!   `held_incoming_syns = 0` every such SYN (`nat64_incoming_syn_dropped`):
//!   all silently, since RFC 5382 REQ-4 forbids answering an unsolicited
//!   SYN within 6 s and REQ-4a asks for silence when answering is not
//!   wanted (a flood).
//! - An ESTABLISHED session whose lifetime runs out moves to TRANS for the
//!   transitory timeout and its IPv6 host is probed (§3.5.2.2 SHOULD): an
//!   empty TCP segment from (Y', y) to (X', x), sequence and acknowledgment
//!   numbers 0, only ACK set ([`Nat64::next_probe`]). A live host answers
//!   with an ACK, which through the session sends the session back to
//!   ESTABLISHED (TRANS + a non-RST segment) and reaches the IPv4 peer,
//!   which answers in turn; a host without the connection answers RST, and
//!   the session ends after TCP_TRANS. The IPv6 side is the one probed: it
//!   is the router's own network, and the probe needs no pool4 port. Probes
//!   wait in a queue of [`EXPIRY_BATCH`] (allocated at start); one that
//!   finds it full is skipped, counted (`nat64_tcp_probe_skipped`).
//! - Fragments (§3.4): virtual reassembly, see [`super::fragment_store`].
//!   The first fragment goes through its session; later fragments of its
//!   datagram reuse the addresses it was translated with; those that come
//!   before it wait (`fragments`, `fragment_timeout_seconds`) and are sent
//!   right after it ([`Nat64::next_released_fragment`]), or time out
//!   (`nat64_fragment_timeout`).

use alloc::vec;
use alloc::vec::Vec;
use core::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};

use smoltcp::time::{Duration, Instant};

use super::config::{Nat64Config, Nat64Filtering};
use super::flow::{self, Flow, FlowError, FragmentFacts, Nat64Protocol};
use super::fragment_store::{DatagramMapping, FragmentKey, FragmentRefusal, FragmentStore};
use super::held_syn::{HeldSynKey, HeldSyns, HoldError};
use super::pool4::Pool4;
use super::port_allocation::{AllocationRequest, PortAllocator};
use super::table::{ExpiryDecision, Nat64Table, Nat64TableLimits, SessionBinding, SessionView};
use super::tcp_state::{
    self, Direction, ExpiryAction, PacketAction, TcpFlags, TcpState, TimerKind,
};
use crate::translation::address_mapping::TranslationPrefix;
use crate::translation::stateless::{
    self, Ipv4ToIpv6Path, Ipv6ToIpv4Path, Translated, TranslationError,
};
use crate::translation::{AddressError, AddressRole, AddressTranslator, TranslationSettings};

crate::counters! {
    /// Why NAT64 dropped a packet (counted on the uplink port).
    pub enum Nat64Drop, counts Nat64DropCounts {
        /// Not TCP, UDP or ICMP (RFC 6146 §1.2), or an ICMP type without a session role.
        UnsupportedProtocol => "nat64_unsupported_protocol",
        /// A header cut off before the ports.
        Truncated => "nat64_truncated",
        /// A fragment other than the first, with no datagram known and no
        /// room to wait (`fragments = 0`).
        NonFirstFragment => "nat64_non_first_fragment",
        /// An IPv6 destination outside pool6, or forbidden under it (RFC 6052 §3.1).
        DestinationNotInPool6 => "nat64_destination_not_in_pool6",
        /// A TCP segment that may not open a session (§3.5.2.2).
        TcpWithoutSession => "nat64_tcp_without_session",
        /// From IPv4 with no BIB entry for its destination (§3.5.1, §3.5.2.3).
        NoBinding => "nat64_no_binding",
        /// From IPv4, refused by address-dependent filtering (§3.5.2.3).
        Filtered => "nat64_filtered",
        /// An ICMP error about no known session (§3.5.3).
        IcmpErrorWithoutSession => "nat64_icmp_error_without_session",
        /// pool4 has no free port for the flow (§3.5.1.1).
        Pool4Exhausted => "nat64_pool4_exhausted",
        /// The session table is full of sessions that may not be evicted.
        SessionTableFull => "nat64_session_table_full",
        /// The BIB is full.
        BindingTableFull => "nat64_binding_table_full",
        /// The IPv6 source holds its configured maximum of sessions.
        SourceSessionLimit => "nat64_source_session_limit",
        /// The TCP state machine drops the segment (§3.5.2.2).
        TcpStateDrop => "nat64_tcp_state_drop",
        /// The RFC 7915 core refused the packet (its reason is counted too).
        Translation => "nat64_translation_refused",
        /// Not a loss: an unsolicited inbound SYN held for TCP_INCOMING_SYN
        /// (§3.5.2.2); what became of it is counted in [`Nat64Event`].
        IncomingSynHeld => "nat64_incoming_syn_held",
        /// An unsolicited inbound SYN of a connection whose SYN is held already.
        IncomingSynAlreadyHeld => "nat64_incoming_syn_already_held",
        /// An unsolicited inbound SYN the held-SYN store has no room for:
        /// dropped silently (RFC 5382 REQ-4: no answer within 6 s; REQ-4a).
        HeldSynStoreFull => "nat64_held_syn_store_full",
        /// An unsolicited inbound SYN dropped silently without being held:
        /// `held_incoming_syns = 0` (§3.5.2.2 "silently drop externally
        /// initiated TCP connections"), or one longer than a held SYN may be.
        IncomingSynDropped => "nat64_incoming_syn_dropped",
        /// Not a loss: a fragment that came before its datagram's first,
        /// held until it comes (§3.4).
        FragmentHeld => "nat64_fragment_held",
        /// A fragment that came before its first, with no room to wait.
        FragmentStoreFull => "nat64_fragment_store_full",
        /// A fragment overlapping one held for the same datagram.
        FragmentOverlap => "nat64_fragment_overlap",
        /// A fragment ending beyond 65,535 bytes.
        FragmentTooBig => "nat64_fragment_too_big",
    }
}

crate::counters! {
    /// What became of packets NAT64 held (counted on the uplink port).
    pub enum Nat64Event, counts Nat64EventCounts {
        /// A held inbound SYN was met by a V6 SYN of the same connection
        /// (simultaneous open, §3.5.2.2 V4 INIT): the session opened, the SYN
        /// was forgotten (RFC 5382 REQ-4).
        IncomingSynSimultaneousOpen => "nat64_incoming_syn_simultaneous_open",
        /// A held inbound SYN's TCP_INCOMING_SYN ran out: dropped, and answered
        /// with ICMPv4 3/3 unless `incoming_syn_unreachable = false`.
        IncomingSynExpired => "nat64_incoming_syn_expired",
        /// An ESTABLISHED session's lifetime ran out: its IPv6 host was sent a
        /// probe and the session moved to TRANS (§3.5.2.2).
        TcpProbeSent => "nat64_tcp_probe_sent",
        /// An ESTABLISHED session moved to TRANS without its probe (the probe
        /// queue was full).
        TcpProbeSkipped => "nat64_tcp_probe_skipped",
        /// A held fragment sent after its datagram's first fragment (§3.4).
        FragmentReleased => "nat64_fragment_released",
        /// A held fragment whose first fragment did not come within
        /// `fragment_timeout_seconds`: dropped.
        FragmentTimeout => "nat64_fragment_timeout",
    }
}

/// Why a packet did not go through NAT64.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Nat64Refusal {
    /// The counter.
    pub reason: Nat64Drop,
    /// The core's error when the header translation failed.
    pub error: Option<TranslationError>,
}

impl Nat64Drop {
    /// Whether the packet is dropped without any ICMP answer, ever (RFC 5382
    /// REQ-4, REQ-4a: an unsolicited inbound SYN is not answered at once).
    pub fn is_silent(self) -> bool {
        matches!(
            self,
            Nat64Drop::HeldSynStoreFull | Nat64Drop::IncomingSynDropped
        )
    }

    /// Whether the packet was kept (see [`Nat64Event`]), or is a
    /// retransmission of one kept: answered later or not at all, never now.
    pub fn is_held(self) -> bool {
        matches!(
            self,
            Nat64Drop::IncomingSynHeld
                | Nat64Drop::IncomingSynAlreadyHeld
                | Nat64Drop::FragmentHeld
        )
    }
}

impl From<Nat64Drop> for Nat64Refusal {
    fn from(reason: Nat64Drop) -> Nat64Refusal {
        Nat64Refusal {
            reason,
            error: None,
        }
    }
}

impl From<FlowError> for Nat64Drop {
    fn from(error: FlowError) -> Nat64Drop {
        match error {
            FlowError::Truncated => Nat64Drop::Truncated,
            FlowError::UnsupportedProtocol | FlowError::UnsupportedIcmp => {
                Nat64Drop::UnsupportedProtocol
            }
            FlowError::NonFirstFragment => Nat64Drop::NonFirstFragment,
        }
    }
}

/// The addresses of one packet's session for the RFC 7915 core: the IPv6
/// host X' is T; any other address maps through `pool6` (Y' is Z under it);
/// an ICMPv6 error from an IPv6 router with no such form comes from T.
#[derive(Clone, Copy, Debug)]
struct SessionAddresses {
    ipv6_host: Ipv6Addr,
    pool4_address: Ipv4Addr,
    pool6: TranslationPrefix,
    /// A hairpinned packet (RFC 6146 §3.8): its IPv4 source is the pool4
    /// address too, and as a source it stands for the other IPv6 host, so
    /// it maps under pool6 like any IPv4 source.
    hairpin: bool,
}

impl AddressTranslator for SessionAddresses {
    fn ipv6_to_ipv4(&self, address: Ipv6Addr, _: AddressRole) -> Result<Ipv4Addr, AddressError> {
        if address == self.ipv6_host {
            return Ok(self.pool4_address);
        }
        self.pool6
            .extract(address)
            .map_err(|_| AddressError::NotMapped)
    }

    fn ipv4_to_ipv6(&self, address: Ipv4Addr, role: AddressRole) -> Result<Ipv6Addr, AddressError> {
        if address == self.pool4_address && !(self.hairpin && role == AddressRole::Source) {
            Ok(self.ipv6_host)
        } else {
            Ok(self.pool6.embed(address))
        }
    }

    fn icmp_error_source(&self, _: Ipv6Addr) -> Option<Ipv4Addr> {
        Some(self.pool4_address)
    }
}

/// The NAT64 state and its settings.
#[derive(Debug)]
pub struct Nat64 {
    pool4: Pool4,
    allocator: PortAllocator,
    table: Nat64Table,
    pool6: TranslationPrefix,
    well_known_prefix_rule: bool,
    filtering: Nat64Filtering,
    udp_timeout: Duration,
    icmp_timeout: Duration,
    tcp_established_timeout: Duration,
    tcp_transitory_timeout: Duration,
    counts: Nat64DropCounts,
    events: Nat64EventCounts,
    /// Unsolicited inbound SYNs in V4 INIT (§3.5.2.2).
    held_syns: HeldSyns,
    /// Whether a held SYN that expires is answered with ICMPv4 3/3.
    incoming_syn_unreachable: bool,
    /// Fragments waiting for their first, and the addresses of datagrams
    /// whose first fragment went through (§3.4).
    fragments: FragmentStore,
    /// The sessions whose IPv6 host gets a probe: ((X', x), (Z, z)); never
    /// longer than its capacity, [`EXPIRY_BATCH`].
    probes: Vec<(SocketAddrV6, SocketAddrV4)>,
    /// The copy of a packet whose port is rewritten before translation.
    scratch: Vec<u8>,
}

/// The path of packets from IPv4: too big for the IPv6 egress is found by
/// the forward path.
const INBOUND_PATH: Ipv4ToIpv6Path = Ipv4ToIpv6Path {
    ipv6_next_hop_mtu: u16::MAX,
    ipv4_link_mtu: u16::MAX,
};

/// A refusal of the RFC 7915 core.
fn refused(error: TranslationError) -> Nat64Refusal {
    Nat64Refusal {
        reason: Nat64Drop::Translation,
        error: Some(error),
    }
}

/// The length of a probe (§3.5.2.2): IPv6 and a TCP header without options.
pub const PROBE_LENGTH: usize = 40 + 20;

/// The most sessions one [`Nat64::poll`] expires (the rest wait for the next).
const EXPIRY_BATCH: usize = 1024;

/// The timer wheel's tick.
const TICK: Duration = Duration::from_millis(1000);

fn state_byte(state: TcpState) -> u8 {
    match state {
        TcpState::Closed => 0,
        TcpState::V4Init => 1,
        TcpState::V6Init => 2,
        TcpState::Established => 3,
        TcpState::V4FinReceived => 4,
        TcpState::V6FinReceived => 5,
        TcpState::V4FinV6FinReceived => 6,
        TcpState::Transitory => 7,
    }
}

fn tcp_state_of(byte: u8) -> TcpState {
    match byte {
        1 => TcpState::V4Init,
        2 => TcpState::V6Init,
        3 => TcpState::Established,
        4 => TcpState::V4FinReceived,
        5 => TcpState::V6FinReceived,
        6 => TcpState::V4FinV6FinReceived,
        7 => TcpState::Transitory,
        _ => TcpState::Closed,
    }
}

impl Nat64 {
    /// NAT64 as `config` says, translating under `pool6`, its tables
    /// allocated now and keyed with `key` (from the router's seed).
    /// `largest_packet` sizes the copy buffer.
    pub fn new(
        config: &Nat64Config,
        pool6: TranslationPrefix,
        well_known_prefix_rule: bool,
        key: [u64; 4],
        largest_packet: usize,
        now: Instant,
    ) -> Option<Nat64> {
        let pool4 = config.allocation_pool()?;
        let limits = Nat64TableLimits {
            sessions: config.session_capacity as usize,
            bindings: config.binding_capacity as usize,
            sessions_per_source: config.sessions_per_source as usize,
            tick: TICK,
        };
        let mut table = Nat64Table::new(limits, [key[0], key[1]], now);
        for binding in &config.static_bindings {
            // Validation keeps them unique and within the capacity.
            let _ = table.add_static_binding(binding.protocol, binding.ipv6, binding.ipv4);
        }
        Some(Nat64 {
            pool4,
            allocator: PortAllocator::new([key[2], key[3]]),
            table,
            pool6,
            well_known_prefix_rule,
            filtering: config.filtering,
            udp_timeout: config.timeouts.udp,
            icmp_timeout: config.timeouts.icmp,
            tcp_established_timeout: config.timeouts.tcp_established,
            tcp_transitory_timeout: config.timeouts.tcp_transitory,
            counts: Nat64DropCounts::new(),
            events: Nat64EventCounts::new(),
            held_syns: HeldSyns::new(
                config.held_incoming_syns as usize,
                config.timeouts.tcp_incoming_syn,
                [key[1] ^ key[2], key[3].rotate_left(17) ^ key[0]],
            ),
            incoming_syn_unreachable: config.incoming_syn_unreachable,
            fragments: FragmentStore::new(
                config.fragment_capacity as usize,
                largest_packet + 64,
                config.fragment_timeout,
            ),
            probes: Vec::with_capacity(EXPIRY_BATCH),
            scratch: vec![0; largest_packet + 64],
        })
    }

    /// Whether `address` is a pool4 address (the uplink answers ARP for it
    /// and sends what arrives for it here).
    pub fn contains_ipv4(&self, address: Ipv4Addr) -> bool {
        self.pool4.contains(address)
    }

    /// The drops counted so far.
    pub fn counts(&self) -> &Nat64DropCounts {
        &self.counts
    }

    /// What became of held packets.
    pub fn events(&self) -> &Nat64EventCounts {
        &self.events
    }

    /// The unsolicited inbound SYNs held now (§3.5.2.2 V4 INIT).
    pub fn held_syn_count(&self) -> usize {
        self.held_syns.len()
    }

    /// The bytes of the stores of held packets, all allocated at start.
    pub fn held_memory_bytes(&self) -> usize {
        self.held_syns.memory_bytes() + self.fragments.memory_bytes()
    }

    /// The fragments held now, waiting for their first (§3.4).
    pub fn held_fragment_count(&self) -> usize {
        self.fragments.held_count()
    }

    /// The oldest held inbound SYN whose TCP_INCOMING_SYN ran out by `now`
    /// (§3.5.2.2 V4 INIT expiry), copied into `output` (at least
    /// [`super::held_syn::HELD_SYN_BYTES`] long): its length and the
    /// link-layer address it came from, for the ICMPv4 3/3 the caller sends
    /// through its rate limit. Expired SYNs that must not be answered
    /// (`incoming_syn_unreachable = false`) are dropped on the way.
    pub fn next_expired_syn(
        &mut self,
        now: Instant,
        output: &mut [u8],
    ) -> Option<(usize, [u8; 6])> {
        while let Some(expired) = self.held_syns.pop_expired(now, output) {
            self.events.increment(Nat64Event::IncomingSynExpired);
            if self.incoming_syn_unreachable {
                return Some((expired.length, expired.sender));
            }
        }
        None
    }

    /// The session and BIB table (for counters and listings).
    pub fn table(&self) -> &Nat64Table {
        &self.table
    }

    /// Every session, as `protocol [X']:x <-> T:t -> Z:z state`, for the
    /// host tools.
    pub fn sessions(&self) -> impl Iterator<Item = SessionView> + '_ {
        (0..self.table.limits().sessions as u32)
            .filter_map(|slot| self.table.session(super::table::SessionId(slot)))
    }

    /// Every session as a line for the host tools and the console:
    /// `tcp [2001:db8:1::b]:40001 192.0.2.1:1234 -> 203.0.113.80:80
    /// established, expires in 7199 s`.
    pub fn session_descriptions(
        &self,
        now: Instant,
    ) -> impl Iterator<Item = SessionDescription> + '_ {
        self.sessions()
            .map(move |session| SessionDescription { session, now })
    }

    fn timeout(&self, protocol: Nat64Protocol) -> Duration {
        match protocol {
            Nat64Protocol::Udp => self.udp_timeout,
            Nat64Protocol::Icmp => self.icmp_timeout,
            Nat64Protocol::Tcp => self.tcp_transitory_timeout,
        }
    }

    fn tcp_timer(&self, timer: TimerKind) -> Duration {
        match timer {
            TimerKind::Established => self.tcp_established_timeout,
            TimerKind::Transitory => self.tcp_transitory_timeout,
            TimerKind::IncomingSyn => tcp_state::TCP_INCOMING_SYN,
        }
    }

    /// Runs the session timers (§3.5.2.2 expiry, UDP and ICMP lifetimes)
    /// and drops the fragments that waited too long (§3.4).
    pub fn poll(&mut self, now: Instant) {
        for _ in 0..self.fragments.expire(now) {
            self.events.increment(Nat64Event::FragmentTimeout);
        }
        if !self.table.due(now) {
            return;
        }
        let transitory = self.tcp_transitory_timeout;
        let probes = &mut self.probes;
        let events = &mut self.events;
        self.table.expire(now, EXPIRY_BATCH, |session| {
            if session.protocol != Nat64Protocol::Tcp {
                return ExpiryDecision::Remove;
            }
            match tcp_state::on_expiry(tcp_state_of(session.state)) {
                ExpiryAction::Remove | ExpiryAction::RemoveAndRejectStoredSyn => {
                    ExpiryDecision::Remove
                }
                ExpiryAction::ProbeAndEnterTransitory => {
                    if probes.len() < probes.capacity() {
                        probes.push((session.ipv6, session.remote));
                    } else {
                        events.increment(Nat64Event::TcpProbeSkipped);
                    }
                    ExpiryDecision::Keep {
                        state: state_byte(TcpState::Transitory),
                        class: TcpState::Transitory.class(),
                        expiry: now + transitory,
                    }
                }
            }
        });
    }

    /// The next probe of an ESTABLISHED session whose lifetime ran out
    /// (§3.5.2.2): an IPv6 TCP segment from (Y', y) to the host (X', x), no
    /// data, sequence and acknowledgment numbers 0, only ACK set, written
    /// into `output` (at least [`PROBE_LENGTH`] bytes); its length, for
    /// the caller to route like a translated packet.
    pub fn next_probe(&mut self, output: &mut [u8]) -> Option<usize> {
        let output = output.get_mut(..PROBE_LENGTH)?;
        let (host, remote) = self.probes.pop()?;
        self.events.increment(Nat64Event::TcpProbeSent);
        let source = self.pool6.embed(*remote.ip());
        output.fill(0);
        output[0] = 0x60;
        output[4..6].copy_from_slice(&20u16.to_be_bytes());
        output[6] = 6;
        output[7] = 64;
        output[8..24].copy_from_slice(&source.octets());
        output[24..40].copy_from_slice(&host.ip().octets());
        let tcp = &mut output[40..];
        tcp[0..2].copy_from_slice(&remote.port().to_be_bytes());
        tcp[2..4].copy_from_slice(&host.port().to_be_bytes());
        tcp[12] = 5 << 4;
        tcp[13] = 0x10;
        // The checksum over the pseudo-header (RFC 8200 §8.1) and the header.
        let mut summed = [0u8; 40 + 20];
        summed[..16].copy_from_slice(&source.octets());
        summed[16..32].copy_from_slice(&host.ip().octets());
        summed[32..36].copy_from_slice(&20u32.to_be_bytes());
        summed[39] = 6;
        summed[40..].copy_from_slice(&output[40..]);
        let checksum = crate::translation::checksum::internet_checksum(&summed);
        output[56..58].copy_from_slice(&checksum.to_be_bytes());
        Some(PROBE_LENGTH)
    }

    /// RFC 6146 §3.5 from IPv6: finds or creates the session of `packet` and
    /// translates it into `output`.
    pub fn translate_outbound(
        &mut self,
        packet: &[u8],
        output: &mut [u8],
        settings: &TranslationSettings,
        path: &Ipv6ToIpv4Path,
        now: Instant,
    ) -> Result<Translated, Nat64Refusal> {
        let result = self.outbound(packet, output, settings, path, now);
        if let Err(refusal) = &result {
            self.counts.increment(refusal.reason);
        }
        result
    }

    fn outbound(
        &mut self,
        packet: &[u8],
        output: &mut [u8],
        settings: &TranslationSettings,
        path: &Ipv6ToIpv4Path,
        now: Instant,
    ) -> Result<Translated, Nat64Refusal> {
        let flow = match flow::ipv6_flow(packet) {
            Ok(flow) => flow,
            Err(FlowError::NonFirstFragment) => {
                let facts = flow::ipv6_fragment(packet).ok_or(Nat64Drop::Truncated)?;
                let key = FragmentKey::new(&facts, false);
                return match self.fragments.mapping(&key, now) {
                    Some(mapping) => {
                        let addresses = self.mapped_addresses(mapping);
                        stateless::translate_ipv6_to_ipv4(
                            packet, output, &addresses, settings, path,
                        )
                        .map_err(refused)
                    }
                    None => Err(self.hold_fragment(key, &facts, packet, now)),
                };
            }
            Err(error) => return Err(Nat64Drop::from(error).into()),
        };
        let remote_address = self
            .pool6
            .extract(flow.remote.0)
            .ok()
            .filter(|address| {
                !(self.well_known_prefix_rule
                    && self.pool6.is_well_known()
                    && !crate::translation::address_mapping::is_allowed_under_well_known_prefix(
                        *address,
                    ))
            })
            .ok_or(Nat64Drop::DestinationNotInPool6)?;
        let local = SocketAddrV6::new(flow.local.0, flow.local.1, 0, 0);
        let remote = SocketAddrV4::new(remote_address, flow.remote.1);
        let session = match self.table.session_by_ipv6(flow.protocol, local, remote) {
            Some(session) if flow.is_icmp_error => session,
            None if flow.is_icmp_error => return Err(Nat64Drop::IcmpErrorWithoutSession.into()),
            Some(session) => self.refresh(session, &flow, Direction::FromIpv6, now)?,
            None => {
                let session = self.open_from_ipv6(&flow, local, remote, now)?;
                self.meet_held_syn(session, now);
                session
            }
        };
        let length = packet.len().min(self.scratch.len());
        let copy = &mut self.scratch[..length];
        copy.copy_from_slice(&packet[..length]);
        flow.rewrite_local_port(copy, session.ipv4.port());
        let addresses = SessionAddresses {
            ipv6_host: flow.local.0,
            pool4_address: *session.ipv4.ip(),
            pool6: self.pool6,
            hairpin: false,
        };
        let translated =
            stateless::translate_ipv6_to_ipv4(copy, output, &addresses, settings, path)
                .map_err(refused)?;
        if let Some(facts) = flow::ipv6_fragment(packet).filter(FragmentFacts::is_fragment) {
            self.first_fragment_translated(FragmentKey::new(&facts, false), &addresses, now);
        }
        Ok(translated)
    }

    /// The addresses a datagram's first fragment was translated with, for
    /// its later fragments.
    fn mapped_addresses(&self, mapping: DatagramMapping) -> SessionAddresses {
        SessionAddresses {
            ipv6_host: mapping.ipv6_host,
            pool4_address: mapping.pool4_address,
            pool6: self.pool6,
            hairpin: mapping.hairpin,
        }
    }

    /// The first fragment of `key`'s datagram went through with
    /// `addresses`: its later fragments will too, and those held go next.
    fn first_fragment_translated(
        &mut self,
        key: FragmentKey,
        addresses: &SessionAddresses,
        now: Instant,
    ) {
        let mapping = DatagramMapping {
            ipv6_host: addresses.ipv6_host,
            pool4_address: addresses.pool4_address,
            hairpin: addresses.hairpin,
        };
        self.fragments.remember(key, mapping, now);
        self.fragments.begin_release(key);
    }

    /// A fragment that came before its datagram's first: held (§3.4), or
    /// refused with its reason.
    fn hold_fragment(
        &mut self,
        key: FragmentKey,
        facts: &FragmentFacts,
        packet: &[u8],
        now: Instant,
    ) -> Nat64Refusal {
        if self.fragments.capacity() == 0 {
            return Nat64Drop::NonFirstFragment.into();
        }
        match self.fragments.hold(key, facts, packet, now) {
            Ok(()) => Nat64Drop::FragmentHeld,
            Err(FragmentRefusal::Full) => Nat64Drop::FragmentStoreFull,
            Err(FragmentRefusal::Overlap) => Nat64Drop::FragmentOverlap,
            Err(FragmentRefusal::TooBig) => Nat64Drop::FragmentTooBig,
        }
        .into()
    }

    /// Whether held fragments wait to be sent after their first
    /// ([`Nat64::next_released_fragment`]).
    #[inline]
    pub fn releasing_fragments(&self) -> bool {
        self.fragments.releasing()
    }

    /// The next held fragment whose first fragment was just translated
    /// (§3.4), received from IPv4 (`from_ipv4`) or IPv6, translated into
    /// `output` with its datagram's addresses (`path` serves fragments from
    /// IPv6); `None` when there is none left. Refusals are counted.
    pub fn next_released_fragment(
        &mut self,
        from_ipv4: bool,
        output: &mut [u8],
        settings: &TranslationSettings,
        path: &Ipv6ToIpv4Path,
        now: Instant,
    ) -> Option<Result<Translated, Nat64Refusal>> {
        let (slot, key) = self.fragments.next_released(from_ipv4)?;
        let result = match self.fragments.mapping(&key, now) {
            None => Err(Nat64Drop::NonFirstFragment.into()),
            Some(mapping) => {
                let addresses = self.mapped_addresses(mapping);
                let packet = self.fragments.packet(slot);
                if from_ipv4 {
                    stateless::translate_ipv4_to_ipv6(
                        packet,
                        output,
                        &addresses,
                        settings,
                        &INBOUND_PATH,
                    )
                } else {
                    stateless::translate_ipv6_to_ipv4(packet, output, &addresses, settings, path)
                }
                .map_err(refused)
            }
        };
        self.fragments.forget(slot);
        match &result {
            Ok(_) => self.events.increment(Nat64Event::FragmentReleased),
            Err(refusal) => self.counts.increment(refusal.reason),
        }
        Some(result)
    }

    /// A TCP session just opened by a V6 SYN whose V4 SYN is held: V4 INIT
    /// and a V6 SYN make ESTABLISHED with the maximum lifetime, and the held
    /// SYN is silently dropped (§3.5.2.2, RFC 5382 REQ-4).
    fn meet_held_syn(&mut self, session: SessionView, now: Instant) {
        if session.protocol != Nat64Protocol::Tcp || self.held_syns.is_empty() {
            return;
        }
        let key = HeldSynKey {
            pool4: session.ipv4,
            remote: session.remote,
        };
        if self.held_syns.release(&key) {
            self.events
                .increment(Nat64Event::IncomingSynSimultaneousOpen);
            let established = TcpState::Established;
            let _ = self.table.update_session(
                session.id,
                state_byte(established),
                established.class(),
                now + self.tcp_established_timeout,
            );
        }
    }

    /// A new session from IPv6, with a new BIB entry if (X', x) has none.
    fn open_from_ipv6(
        &mut self,
        flow: &Flow<Ipv6Addr>,
        local: SocketAddrV6,
        remote: SocketAddrV4,
        now: Instant,
    ) -> Result<SessionView, Nat64Refusal> {
        let (state, expiry) = match flow.protocol {
            Nat64Protocol::Tcp => {
                let transition = tcp_state::on_packet(
                    TcpState::Closed,
                    Direction::FromIpv6,
                    TcpFlags::from_header_byte(flow.tcp_flags),
                );
                if transition.next == TcpState::Closed {
                    return Err(Nat64Drop::TcpWithoutSession.into());
                }
                let timer = transition.timer.unwrap_or(TimerKind::Transitory);
                (transition.next, now + self.tcp_timer(timer))
            }
            protocol => (TcpState::Closed, now + self.timeout(protocol)),
        };
        let binding = match self.table.binding_by_ipv6(flow.protocol, local) {
            Some(binding) => SessionBinding::Existing(binding.id),
            None => {
                let request = AllocationRequest {
                    protocol: flow.protocol,
                    source: flow.local.0,
                    source_port: flow.local.1,
                    preferred_address: self.table.source_ipv4_address(flow.local.0),
                };
                let table = &self.table;
                let protocol = flow.protocol;
                let allocation = self
                    .allocator
                    .allocate(&self.pool4, &request, |address, port| {
                        table.ipv4_transport_in_use(protocol, SocketAddrV4::new(address, port))
                    })
                    .ok_or(Nat64Drop::Pool4Exhausted)?;
                SessionBinding::New {
                    protocol: flow.protocol,
                    ipv6: local,
                    ipv4: SocketAddrV4::new(allocation.address, allocation.port),
                }
            }
        };
        self.create(binding, remote, state, expiry)
    }

    fn create(
        &mut self,
        binding: SessionBinding,
        remote: SocketAddrV4,
        state: TcpState,
        expiry: Instant,
    ) -> Result<SessionView, Nat64Refusal> {
        use super::table::Nat64TableError as Error;
        self.table
            .create_session(binding, remote, state_byte(state), state.class(), expiry)
            .map_err(|error| {
                Nat64Refusal::from(match error {
                    Error::BindingTableFull => Nat64Drop::BindingTableFull,
                    Error::SourceSessionLimit => Nat64Drop::SourceSessionLimit,
                    _ => Nat64Drop::SessionTableFull,
                })
            })
    }

    /// A packet of an existing session: its TCP state and lifetime.
    fn refresh(
        &mut self,
        session: SessionView,
        flow: &Flow<impl Copy>,
        direction: Direction,
        now: Instant,
    ) -> Result<SessionView, Nat64Refusal> {
        let (state, expiry) = match session.protocol {
            Nat64Protocol::Tcp => {
                let transition = tcp_state::on_packet(
                    tcp_state_of(session.state),
                    direction,
                    TcpFlags::from_header_byte(flow.tcp_flags),
                );
                if transition.packet == PacketAction::Drop {
                    return Err(Nat64Drop::TcpStateDrop.into());
                }
                let expiry = transition
                    .timer
                    .map_or(session.expiry, |timer| now + self.tcp_timer(timer));
                (transition.next, expiry)
            }
            protocol => (TcpState::Closed, now + self.timeout(protocol)),
        };
        if session.protocol == Nat64Protocol::Tcp && state == TcpState::Closed {
            let _ = self.table.remove_session(session.id);
            return Ok(session);
        }
        let class = if session.protocol == Nat64Protocol::Tcp {
            state.class()
        } else {
            session.class
        };
        let _ = self
            .table
            .update_session(session.id, state_byte(state), class, expiry);
        Ok(session)
    }

    /// RFC 6146 §3.5 from IPv4: finds (or, as the filtering allows, creates)
    /// the session of `packet`, whose destination is in pool4, and
    /// translates it into `output`.
    ///
    /// `sender` is the link-layer address the packet came from: an
    /// unsolicited SYN is held only when it is known (`None` for a
    /// hairpinned packet, which is refused at once).
    pub fn translate_inbound(
        &mut self,
        packet: &[u8],
        sender: Option<[u8; 6]>,
        output: &mut [u8],
        settings: &TranslationSettings,
        now: Instant,
    ) -> Result<Translated, Nat64Refusal> {
        let result = self.inbound(packet, sender, output, settings, now);
        if let Err(refusal) = &result {
            self.counts.increment(refusal.reason);
        }
        result
    }

    fn inbound(
        &mut self,
        packet: &[u8],
        sender: Option<[u8; 6]>,
        output: &mut [u8],
        settings: &TranslationSettings,
        now: Instant,
    ) -> Result<Translated, Nat64Refusal> {
        let flow = match flow::ipv4_flow(packet) {
            Ok(flow) => flow,
            Err(FlowError::NonFirstFragment) => {
                let facts = flow::ipv4_fragment(packet).ok_or(Nat64Drop::Truncated)?;
                let key = FragmentKey::new(&facts, true);
                return match self.fragments.mapping(&key, now) {
                    Some(mapping) => {
                        let addresses = self.mapped_addresses(mapping);
                        stateless::translate_ipv4_to_ipv6(
                            packet,
                            output,
                            &addresses,
                            settings,
                            &INBOUND_PATH,
                        )
                        .map_err(refused)
                    }
                    None => Err(self.hold_fragment(key, &facts, packet, now)),
                };
            }
            Err(error) => return Err(Nat64Drop::from(error).into()),
        };
        let local = SocketAddrV4::new(flow.local.0, flow.local.1);
        let remote = SocketAddrV4::new(flow.remote.0, flow.remote.1);
        let session = match self.table.session_by_ipv4(flow.protocol, local, remote) {
            Some(session) if flow.is_icmp_error => session,
            None if flow.is_icmp_error => return Err(Nat64Drop::IcmpErrorWithoutSession.into()),
            Some(session) => self.refresh(session, &flow, Direction::FromIpv4, now)?,
            None => match self.open_from_ipv4(&flow, local, remote, now) {
                Ok(session) => session,
                Err(refusal) => {
                    return Err(self.hold_incoming_syn(&flow, packet, sender, refusal, now));
                }
            },
        };
        let length = packet.len().min(self.scratch.len());
        let copy = &mut self.scratch[..length];
        copy.copy_from_slice(&packet[..length]);
        flow.rewrite_local_port(copy, session.ipv6.port());
        let addresses = SessionAddresses {
            ipv6_host: *session.ipv6.ip(),
            pool4_address: flow.local.0,
            pool6: self.pool6,
            hairpin: flow.remote.0 == flow.local.0,
        };
        let translated =
            stateless::translate_ipv4_to_ipv6(copy, output, &addresses, settings, &INBOUND_PATH)
                .map_err(refused)?;
        if let Some(facts) = flow::ipv4_fragment(packet).filter(FragmentFacts::is_fragment) {
            self.first_fragment_translated(FragmentKey::new(&facts, true), &addresses, now);
        }
        Ok(translated)
    }

    /// §3.5.2.2 CLOSED + V4 SYN with no BIB entry for (X, x), or one that
    /// address-dependent filtering refuses: the SYN is stored in V4 INIT
    /// for TCP_INCOMING_SYN instead of being dropped. Anything else keeps
    /// its `refusal`.
    fn hold_incoming_syn(
        &mut self,
        flow: &Flow<Ipv4Addr>,
        packet: &[u8],
        sender: Option<[u8; 6]>,
        refusal: Nat64Refusal,
        now: Instant,
    ) -> Nat64Refusal {
        let flags = TcpFlags::from_header_byte(flow.tcp_flags);
        let Some(sender) = sender else {
            return refusal;
        };
        if flow.protocol != Nat64Protocol::Tcp
            || !flags.syn
            || flags.ack
            || flags.rst
            || !matches!(refusal.reason, Nat64Drop::NoBinding | Nat64Drop::Filtered)
        {
            return refusal;
        }
        if self.held_syns.capacity() == 0 {
            return Nat64Drop::IncomingSynDropped.into();
        }
        let key = HeldSynKey {
            pool4: SocketAddrV4::new(flow.local.0, flow.local.1),
            remote: SocketAddrV4::new(flow.remote.0, flow.remote.1),
        };
        match self.held_syns.hold(key, packet, sender, now) {
            Ok(()) => Nat64Drop::IncomingSynHeld.into(),
            Err(HoldError::AlreadyHeld) => Nat64Drop::IncomingSynAlreadyHeld.into(),
            Err(HoldError::Full) => Nat64Drop::HeldSynStoreFull.into(),
            Err(HoldError::TooLong) => Nat64Drop::IncomingSynDropped.into(),
        }
    }

    /// A new session from IPv4: only under an existing BIB entry, and only
    /// if the filtering allows it (§3.5.1, §3.5.2.3, §3.5.3).
    fn open_from_ipv4(
        &mut self,
        flow: &Flow<Ipv4Addr>,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        now: Instant,
    ) -> Result<SessionView, Nat64Refusal> {
        let binding = self
            .table
            .binding_by_ipv4(flow.protocol, local)
            .ok_or(Nat64Drop::NoBinding)?;
        if self.filtering == Nat64Filtering::AddressDependent
            && !self
                .table
                .binding_has_session_with(binding.id, *remote.ip())
        {
            return Err(Nat64Drop::Filtered.into());
        }
        let (state, expiry) = match flow.protocol {
            Nat64Protocol::Tcp => {
                let flags = TcpFlags::from_header_byte(flow.tcp_flags);
                if !flags.syn || flags.ack || flags.rst {
                    return Err(Nat64Drop::TcpWithoutSession.into());
                }
                // An inbound SYN under a BIB entry the filtering lets
                // through: V4 INIT, waiting for the IPv6 side's SYN.
                (
                    TcpState::V4Init,
                    now + self.tcp_timer(TimerKind::Transitory),
                )
            }
            protocol => (TcpState::Closed, now + self.timeout(protocol)),
        };
        self.create(SessionBinding::Existing(binding.id), remote, state, expiry)
    }
}

/// One session, displayed (see [`Nat64::session_descriptions`]).
#[derive(Clone, Copy, Debug)]
pub struct SessionDescription {
    session: SessionView,
    now: Instant,
}

impl core::fmt::Display for SessionDescription {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let session = &self.session;
        let protocol = match session.protocol {
            Nat64Protocol::Tcp => "tcp",
            Nat64Protocol::Udp => "udp",
            Nat64Protocol::Icmp => "icmp",
        };
        write!(
            formatter,
            "{protocol} {} {} -> {}",
            session.ipv6, session.ipv4, session.remote
        )?;
        if session.protocol == Nat64Protocol::Tcp {
            write!(formatter, " {}", tcp_state_of(session.state))?;
        }
        let remaining = if session.expiry > self.now {
            (session.expiry - self.now).secs()
        } else {
            0
        };
        write!(formatter, ", expires in {remaining} s")
    }
}
