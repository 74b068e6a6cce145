//! The NAT64 Binding Information Bases and session tables (RFC 6146 §3.1, §3.2) for TCP, UDP and ICMP query: bounded, allocated once, keyed with a secret, expired by a timer wheel.
//!
//! # What is stored
//! One [`Nat64Table`] holds the three BIBs and the three session tables of
//! RFC 6146 §3.1 and §3.2; the [`Nat64Protocol`] is part of every key, so
//! the port spaces stay separate as the RFC asks.
//! - A BIB entry (a *binding*) maps the IPv6 transport address (X', x) to
//!   the IPv4 transport address (T, t). There is at most one binding per
//!   (protocol, X', x) and one per (protocol, T, t), so mappings are
//!   endpoint-independent (§3.1, §3.5.1.1). For ICMP query the identifier
//!   plays the role of the port (§3.5.3). A static binding (port
//!   forwarding, `[[nat64.static]]`) never expires; a dynamic one is removed
//!   with its last session (§3.1).
//! - A session belongs to one binding and adds the remote IPv4 transport
//!   address (Z, z). Its IPv6 destination (Y', y) is Z under `pool6` and
//!   y = z (§3.2), so it is not stored. The caller owns an opaque state byte
//!   (the TCP state machine of §3.5.2 lives in
//!   [`tcp_state`](super::tcp_state)) and a [`SessionClass`], which is all
//!   the eviction rule reads, and an expiry time.
//!
//! # Bounds (ARCHITECTURE.md rule 4)
//! All storage is allocated in [`Nat64Table::new`] from
//! [`Nat64TableLimits`]; nothing grows afterwards and no operation
//! allocates. A session beyond a limit is refused with a named
//! [`Nat64TableError`] and counted ([`Nat64TableEvent`]):
//! - the session table: when it is full, a new session evicts the
//!   Transitory or HalfOpen session whose timer runs out first (for one
//!   class that is the oldest). Established sessions are never evicted, and
//!   eviction never removes a static binding (it may remove a transitory
//!   session of one). If no such session is found among the first
//!   [`MAX_EVICTION_CANDIDATES`], the new session is refused;
//! - the BIB: a new dynamic binding in a full BIB evicts such a session
//!   whose binding goes with it, or is refused;
//! - sessions per IPv6 source address X' (all protocols together): refused,
//!   never evicted, so one host cannot push out others.
//!
//! # Lookup
//! Six open-addressing indexes (linear probing, backward-shift deletion, no
//! tombstones) find sessions by their IPv6 side (protocol, X', x, Z, z) and
//! their IPv4 side (protocol, T, t, Z, z), bindings by (protocol, X', x)
//! and (protocol, T, t), the sessions of a binding with one remote address
//! Z (address-dependent filtering, §3.5.1), and the per-source counts. They
//! hash with a key drawn from the router's seed, a folded 64×64→128-bit
//! multiply as in the neighbor cache, so an attacker who does not know the
//! key cannot choose addresses that collide. Every entry sits fewer than
//! [`MAX_PROBE_LENGTH`] positions from its home, so a lookup never reads
//! more than that many positions; an insertion that would go further is
//! refused (and counted), which with a secret key and at most two thirds
//! load does not happen in practice. Each index position is a `u32`: the
//! slot number, and in the bits the slot number does not need, a tag of the
//! hash, so a probe rarely reads a record that does not match. Slot numbers
//! ([`SessionId`], [`BindingId`]) are stable while the entry lives.
//!
//! # Expiry
//! Sessions hang in a timer wheel of [`WHEEL_BUCKETS`] buckets of
//! [`Nat64TableLimits::tick`] each: a session expiring at E sits in the
//! bucket of tick ⌈E / tick⌉ and is handed to the caller by the first
//! [`Nat64Table::expire`] at or after that tick, so at most one tick late.
//! A session further away than the wheel's span waits in the farthest
//! bucket and moves on when it is reached. Each bucket has two lists,
//! evictable and not, so eviction finds its victim without a scan.
//! Extending an Established session's expiry (every packet of an
//! established flow) only writes the new time: the session stays in its
//! earlier bucket and moves when the wheel reaches it, at most once per
//! lifetime. [`Nat64Table::expire`] costs O(sessions visited + buckets
//! passed, skipping empty ones 64 at a time) and stops after a given
//! number of sessions.
//!
//! # Memory
//! A session is 36 bytes and three `u32` index positions at two-thirds
//! load (18 bytes); a binding 32 bytes plus 12; a per-source entry 24 plus
//! 6. With as many bindings as sessions (one binding per TCP connection),
//! that is 128 bytes per session: one million sessions in 122 MiB
//! ([`Nat64Table::memory_bytes`]).

use alloc::vec;
use alloc::vec::Vec;
use core::fmt;
use core::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};

use smoltcp::time::{Duration, Instant};

use super::flow::Nat64Protocol;
use super::tcp_state::SessionClass;

/// Buckets in the timer wheel (a power of two). With a 1 s tick the wheel
/// spans 68 minutes; longer timers (TCP_EST, 2 h 4 min) wait in the farthest
/// bucket and move once.
pub const WHEEL_BUCKETS: usize = 4096;
/// The most index positions a lookup reads, and the farthest from its home
/// an entry is placed.
pub const MAX_PROBE_LENGTH: usize = 128;
/// The most sessions a full table looks at to find one it may evict.
pub const MAX_EVICTION_CANDIDATES: usize = 64;
/// The largest capacity of any table (larger limits are reduced to it).
pub const MAX_CAPACITY: usize = 1 << 26;

/// The capacities of a [`Nat64Table`] and the granularity of its timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Nat64TableLimits {
    /// Sessions, all protocols together (at least 1, at most [`MAX_CAPACITY`]).
    pub sessions: usize,
    /// BIB entries (bindings), static and dynamic, all protocols together
    /// (at least 1, at most [`MAX_CAPACITY`]).
    pub bindings: usize,
    /// Sessions one IPv6 source address X' may hold, all protocols together.
    pub sessions_per_source: usize,
    /// The timer wheel's tick: sessions expire at most this late.
    pub tick: Duration,
}

impl Nat64TableLimits {
    /// The limits with every capacity in range (`tick` at least 1 µs).
    fn normalized(self) -> Nat64TableLimits {
        Nat64TableLimits {
            sessions: self.sessions.clamp(1, MAX_CAPACITY),
            bindings: self.bindings.clamp(1, MAX_CAPACITY),
            sessions_per_source: self.sessions_per_source,
            tick: Duration::from_micros(self.tick.total_micros().clamp(1, i64::MAX as u64)),
        }
    }
}

/// A session's slot, valid until the session is removed (by
/// [`Nat64Table::remove_session`], [`Nat64Table::expire`] or an eviction
/// in [`Nat64Table::create_session`]); look it up again after those.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub u32);

/// A binding's (BIB entry's) slot, valid while the binding lives: a dynamic
/// binding goes with its last session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BindingId(pub u32);

/// A BIB entry as read from the table (RFC 6146 §3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BindingView {
    /// Its slot.
    pub id: BindingId,
    /// The BIB it is in.
    pub protocol: Nat64Protocol,
    /// (X', x): the IPv6 host's transport address (flow label and scope 0).
    pub ipv6: SocketAddrV6,
    /// (T, t): the pool4 transport address it is mapped to.
    pub ipv4: SocketAddrV4,
    /// Configured (never expires, never evicted).
    pub is_static: bool,
    /// Sessions using it.
    pub sessions: u32,
}

/// A session as read from the table (RFC 6146 §3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionView {
    /// Its slot.
    pub id: SessionId,
    /// Its BIB entry.
    pub binding: BindingId,
    /// The session table it is in.
    pub protocol: Nat64Protocol,
    /// (X', x), from the binding (flow label and scope 0).
    pub ipv6: SocketAddrV6,
    /// (T, t), from the binding.
    pub ipv4: SocketAddrV4,
    /// (Z, z): the remote IPv4 transport address; (Y', y) is Z under pool6
    /// and y = z.
    pub remote: SocketAddrV4,
    /// The caller's state byte (for TCP, the §3.5.2 state).
    pub state: u8,
    /// What the eviction rule reads.
    pub class: SessionClass,
    /// When its lifetime runs out.
    pub expiry: Instant,
}

/// The binding a new session uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionBinding {
    /// An existing BIB entry (EIM: every session of (X', x) shares it).
    Existing(BindingId),
    /// A new dynamic BIB entry, created together with the session (so a
    /// refused session leaves no binding behind). The caller picks (T, t)
    /// (§3.5.1.1, [`Nat64Table::ipv4_transport_in_use`],
    /// [`Nat64Table::source_ipv4_address`]).
    New {
        /// The BIB.
        protocol: Nat64Protocol,
        /// (X', x); flow label and scope are ignored.
        ipv6: SocketAddrV6,
        /// (T, t).
        ipv4: SocketAddrV4,
    },
}

/// Why the table refused to create something. Each refusal that is a
/// resource limit is also counted as a [`Nat64TableEvent`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nat64TableError {
    /// The session table is full and no Transitory or HalfOpen session
    /// could be evicted.
    SessionTableFull,
    /// The BIB is full and no session whose binding would go with it could
    /// be evicted.
    BindingTableFull,
    /// The IPv6 source address already holds `sessions_per_source` sessions.
    SourceSessionLimit,
    /// An index position within [`MAX_PROBE_LENGTH`] of the key's home was
    /// not free (not expected with a secret key).
    ProbeLimit,
    /// A binding for this (protocol, X', x) exists already.
    BindingExists,
    /// The IPv4 transport address (protocol, T, t) is in use by another binding.
    Ipv4TransportInUse,
    /// A session with this 5-tuple exists already.
    SessionExists,
    /// The binding id names no binding.
    UnknownBinding,
    /// The session id names no session.
    UnknownSession,
    /// Only static bindings can be removed by the administrator.
    NotStatic,
}

/// What the caller of [`Nat64Table::expire`] decides for a session whose
/// lifetime ran out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpiryDecision {
    /// Delete it (and its binding, if dynamic and this was its last session).
    Remove,
    /// Keep it with a new state, class and expiry (RFC 6146 §3.5.2.2: an
    /// ESTABLISHED session is probed and moves to TRANS). An expiry not
    /// after the current time comes back at the next tick.
    Keep {
        /// The new state byte.
        state: u8,
        /// The new class.
        class: SessionClass,
        /// The new expiry.
        expiry: Instant,
    },
}

/// What one [`Nat64Table::expire`] call did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExpireReport {
    /// Sessions looked at (the work bounded by `max_sessions`).
    pub visited: usize,
    /// Sessions removed on the caller's decision.
    pub removed: usize,
    /// Sessions kept with a new expiry on the caller's decision.
    pub kept: usize,
    /// Sessions whose expiry had been extended, moved to their new bucket.
    pub rearmed: usize,
    /// Everything due is done; false when `max_sessions` stopped the call.
    pub finished: bool,
}

crate::counters! {
    /// Events of the NAT64 BIBs and session tables (RFC 6146 §3.1, §3.2).
    pub enum Nat64TableEvent, counts Nat64TableEventCounts {
        /// TCP sessions created.
        TcpSessionsCreated => "nat64_tcp_sessions_created",
        /// UDP sessions created.
        UdpSessionsCreated => "nat64_udp_sessions_created",
        /// ICMP query sessions created.
        IcmpSessionsCreated => "nat64_icmp_sessions_created",
        /// Dynamic BIB entries created.
        BindingsCreated => "nat64_bindings_created",
        /// Static BIB entries added.
        StaticBindingsAdded => "nat64_static_bindings_added",
        /// Sessions removed by the caller.
        SessionsRemoved => "nat64_sessions_removed",
        /// Sessions removed when their lifetime ran out.
        SessionsExpired => "nat64_sessions_expired",
        /// Sessions kept with a new lifetime when the old one ran out.
        SessionsKeptAtExpiry => "nat64_sessions_kept_at_expiry",
        /// Transitory or HalfOpen sessions evicted to make room.
        SessionsEvicted => "nat64_sessions_evicted",
        /// Bindings removed (dynamic with their last session, or static by the administrator).
        BindingsRemoved => "nat64_bindings_removed",
        /// Insertions refused: session table full, nothing evictable (the
        /// engine also counts the dropped packet as `nat64_session_table_full`).
        SessionTableFull => "nat64_insert_refused_session_table_full",
        /// Insertions refused: BIB full, nothing evictable (the engine also
        /// counts the dropped packet as `nat64_binding_table_full`).
        BindingTableFull => "nat64_insert_refused_binding_table_full",
        /// Insertions refused: the IPv6 source is at its session limit (the
        /// engine also counts the dropped packet as `nat64_source_session_limit`).
        SourceSessionLimit => "nat64_insert_refused_source_session_limit",
        /// Insertions refused: no index position within the probe limit.
        ProbeLimit => "nat64_probe_limit",
    }
}

// ---------------------------------------------------------------------------
// Records
// ---------------------------------------------------------------------------

/// "No node" in the free lists.
const NONE: u32 = u32::MAX;
/// `Session::class` of a free slot.
const CLASS_FREE: u8 = 0xff;
/// `Binding::protocol` of a free slot.
const PROTOCOL_FREE: u8 = 0xff;
/// `Binding::flags`: configured.
const FLAG_STATIC: u8 = 1;
/// The wheel's two lists per bucket.
const LIST_KEPT: usize = 0;
const LIST_EVICTABLE: usize = 1;

/// A session: 36 bytes, 4-aligned.
#[derive(Clone, Copy, Debug)]
struct Session {
    /// The binding's slot.
    binding: u32,
    /// Z.
    remote_address: u32,
    /// Expiry in microseconds, as two halves (keeps the record 4-aligned).
    expiry: [u32; 2],
    /// The timer wheel's circular list (nodes: sessions, then bucket heads).
    /// A free slot keeps the next free slot in `wheel_next`.
    wheel_previous: u32,
    wheel_next: u32,
    /// The circular list of the binding's sessions with the same Z.
    peer_previous: u32,
    peer_next: u32,
    /// z.
    remote_port: u16,
    /// The caller's byte.
    state: u8,
    /// [`SessionClass`] code, or [`CLASS_FREE`].
    class: u8,
}

const FREE_SESSION: Session = Session {
    binding: NONE,
    remote_address: 0,
    expiry: [0, 0],
    wheel_previous: NONE,
    wheel_next: NONE,
    peer_previous: NONE,
    peer_next: NONE,
    remote_port: 0,
    state: 0,
    class: CLASS_FREE,
};

/// A BIB entry: 32 bytes.
#[derive(Clone, Copy, Debug)]
struct Binding {
    /// X'.
    ipv6_address: Ipv6Addr,
    /// T.
    ipv4_address: Ipv4Addr,
    /// Sessions using it; a free slot keeps the next free slot here.
    sessions: u32,
    /// x.
    ipv6_port: u16,
    /// t.
    ipv4_port: u16,
    /// [`Nat64Protocol`] code, or [`PROTOCOL_FREE`].
    protocol: u8,
    flags: u8,
}

const FREE_BINDING: Binding = Binding {
    ipv6_address: Ipv6Addr::UNSPECIFIED,
    ipv4_address: Ipv4Addr::UNSPECIFIED,
    sessions: NONE,
    ipv6_port: 0,
    ipv4_port: 0,
    protocol: PROTOCOL_FREE,
    flags: 0,
};

/// The sessions of one IPv6 source address: 24 bytes. There is one while
/// the source has a session, so there are never more than sessions.
#[derive(Clone, Copy, Debug)]
struct Source {
    /// X'.
    address: Ipv6Addr,
    /// Its sessions (0: a free slot).
    sessions: u32,
    /// The T of its first binding (RFC 6146 §3.5.1.1: the same X' SHOULD
    /// get the same T); a free slot keeps the next free slot here.
    ipv4_address: u32,
}

const FREE_SOURCE: Source = Source {
    address: Ipv6Addr::UNSPECIFIED,
    sessions: 0,
    ipv4_address: NONE,
};

fn protocol_code(protocol: Nat64Protocol) -> u8 {
    match protocol {
        Nat64Protocol::Tcp => 0,
        Nat64Protocol::Udp => 1,
        Nat64Protocol::Icmp => 2,
    }
}

fn protocol_from_code(code: u8) -> Nat64Protocol {
    match code {
        0 => Nat64Protocol::Tcp,
        1 => Nat64Protocol::Udp,
        _ => Nat64Protocol::Icmp,
    }
}

fn class_code(class: SessionClass) -> u8 {
    match class {
        SessionClass::Established => 0,
        SessionClass::Transitory => 1,
        SessionClass::HalfOpen => 2,
    }
}

fn class_from_code(code: u8) -> SessionClass {
    match code {
        0 => SessionClass::Established,
        1 => SessionClass::Transitory,
        _ => SessionClass::HalfOpen,
    }
}

fn is_evictable_code(code: u8) -> bool {
    code == 1 || code == 2
}

fn encode_expiry(expiry: Instant) -> [u32; 2] {
    let bits = expiry.total_micros() as u64;
    [bits as u32, (bits >> 32) as u32]
}

fn decode_expiry(expiry: [u32; 2]) -> i64 {
    (u64::from(expiry[0]) | (u64::from(expiry[1]) << 32)) as i64
}

fn ipv6_socket(address: Ipv6Addr, port: u16) -> SocketAddrV6 {
    SocketAddrV6::new(address, port, 0, 0)
}

// ---------------------------------------------------------------------------
// Hashing
// ---------------------------------------------------------------------------

/// A 64×64→128-bit multiply folded to 64 bits (the `foldhash` mixer).
fn folded_multiply(first: u64, second: u64) -> u64 {
    let product = u128::from(first) * u128::from(second);
    (product as u64) ^ ((product >> 64) as u64)
}

const SPREAD: u64 = 0x9e37_79b9_7f4a_7c15;

/// The keyed hash of every index.
#[derive(Clone, Copy, Debug)]
struct Hasher {
    key: [u64; 2],
}

impl Hasher {
    fn mix(self, first: u64, second: u64, third: u64, fourth: u64) -> u64 {
        let left = folded_multiply(first ^ self.key[0], second ^ self.key[1]);
        let right = folded_multiply(third ^ self.key[1], fourth ^ self.key[0] ^ SPREAD);
        folded_multiply(left ^ right.rotate_left(32), SPREAD)
    }

    fn session_ipv6(
        self,
        protocol: u8,
        ipv6_address: Ipv6Addr,
        ipv6_port: u16,
        remote_address: u32,
        remote_port: u16,
    ) -> u64 {
        let bits = ipv6_address.to_bits();
        self.mix(
            (bits >> 64) as u64,
            bits as u64,
            (u64::from(remote_address) << 32)
                | (u64::from(ipv6_port) << 16)
                | u64::from(remote_port),
            u64::from(protocol),
        )
    }

    fn session_ipv4(
        self,
        protocol: u8,
        ipv4_address: Ipv4Addr,
        ipv4_port: u16,
        remote_address: u32,
        remote_port: u16,
    ) -> u64 {
        self.mix(
            (u64::from(ipv4_address.to_bits()) << 32) | u64::from(remote_address),
            (u64::from(ipv4_port) << 16) | u64::from(remote_port),
            u64::from(protocol),
            1,
        )
    }

    fn peer(self, binding: u32, remote_address: u32) -> u64 {
        self.mix(u64::from(binding), u64::from(remote_address), 2, 2)
    }

    fn binding_ipv6(self, protocol: u8, address: Ipv6Addr, port: u16) -> u64 {
        let bits = address.to_bits();
        self.mix(
            (bits >> 64) as u64,
            bits as u64,
            u64::from(port),
            u64::from(protocol) | (3 << 8),
        )
    }

    fn binding_ipv4(self, protocol: u8, address: Ipv4Addr, port: u16) -> u64 {
        self.mix(
            u64::from(address.to_bits()),
            u64::from(port),
            u64::from(protocol),
            4,
        )
    }

    fn source(self, address: Ipv6Addr) -> u64 {
        let bits = address.to_bits();
        self.mix((bits >> 64) as u64, bits as u64, 5, 5)
    }

    /// The IPv6-side hash of a stored session.
    fn stored_session_ipv6(self, session: &Session, binding: &Binding) -> u64 {
        self.session_ipv6(
            binding.protocol,
            binding.ipv6_address,
            binding.ipv6_port,
            session.remote_address,
            session.remote_port,
        )
    }

    /// The IPv4-side hash of a stored session.
    fn stored_session_ipv4(self, session: &Session, binding: &Binding) -> u64 {
        self.session_ipv4(
            binding.protocol,
            binding.ipv4_address,
            binding.ipv4_port,
            session.remote_address,
            session.remote_port,
        )
    }
}

// ---------------------------------------------------------------------------
// Index
// ---------------------------------------------------------------------------

/// An index position with nothing in it.
const EMPTY: u32 = 0;

/// An open-addressing index from a hash to a slot: linear probing over
/// `capacity × 1.5` positions, each `tag | (slot + 1)`.
#[derive(Debug)]
struct Index {
    positions: Vec<u32>,
    /// The bits of a position that hold `slot + 1`; the others hold the tag.
    slot_mask: u32,
}

impl Index {
    fn new(capacity: usize) -> Index {
        let length = capacity + capacity / 2 + 1;
        let slot_bits = u32::BITS - (capacity as u32).leading_zeros();
        let slot_mask = if slot_bits >= u32::BITS {
            u32::MAX
        } else {
            (1u32 << slot_bits) - 1
        };
        Index {
            positions: vec![EMPTY; length],
            slot_mask,
        }
    }

    fn memory_bytes(&self) -> usize {
        self.positions.capacity() * core::mem::size_of::<u32>()
    }

    /// The home position of `hash` (a multiply-shift range reduction).
    fn home(&self, hash: u64) -> usize {
        ((u128::from(hash) * self.positions.len() as u128) >> 64) as usize
    }

    fn tag(&self, hash: u64) -> u32 {
        (hash as u32) & !self.slot_mask
    }

    fn step(&self, position: usize) -> usize {
        let next = position + 1;
        if next >= self.positions.len() {
            0
        } else {
            next
        }
    }

    fn slot_of(&self, value: u32) -> usize {
        ((value & self.slot_mask).wrapping_sub(1)) as usize
    }

    /// The position of the entry with `hash` for which `matches(slot)` holds.
    fn find(&self, hash: u64, mut matches: impl FnMut(usize) -> bool) -> Option<usize> {
        let tag = self.tag(hash);
        let mut position = self.home(hash);
        for _ in 0..MAX_PROBE_LENGTH {
            let value = *self.positions.get(position)?;
            if value == EMPTY {
                return None;
            }
            if value & !self.slot_mask == tag && matches(self.slot_of(value)) {
                return Some(position);
            }
            position = self.step(position);
        }
        None
    }

    /// The slot at `position`.
    fn slot_at(&self, position: usize) -> usize {
        self.positions
            .get(position)
            .map_or(usize::MAX, |value| self.slot_of(*value))
    }

    /// A free position for `hash` within the probe limit.
    fn vacancy(&self, hash: u64) -> Option<usize> {
        let mut position = self.home(hash);
        for _ in 0..MAX_PROBE_LENGTH {
            if *self.positions.get(position)? == EMPTY {
                return Some(position);
            }
            position = self.step(position);
        }
        None
    }

    /// Puts `slot` at `position` (from [`Self::vacancy`] for the same hash).
    fn place(&mut self, position: usize, hash: u64, slot: usize) {
        let value = self.tag(hash) | (slot as u32 + 1);
        if let Some(entry) = self.positions.get_mut(position) {
            *entry = value;
        }
    }

    /// Points the entry at `position` to another slot with the same key.
    fn replace_slot(&mut self, position: usize, slot: usize) {
        let mask = self.slot_mask;
        if let Some(entry) = self.positions.get_mut(position) {
            *entry = (*entry & !mask) | (slot as u32 + 1);
        }
    }

    /// Empties `hole` and shifts later members of its probe run back, so
    /// that lookups never need tombstones; `hash_of(slot)` recomputes the
    /// hash of a stored entry. Entries only move toward their home, so each
    /// stays within the probe limit.
    fn remove(&mut self, hole: usize, mut hash_of: impl FnMut(usize) -> u64) {
        let length = self.positions.len();
        if hole >= length {
            return;
        }
        let mut hole = hole;
        self.positions[hole] = EMPTY;
        let mut position = hole;
        for _ in 0..length {
            position = self.step(position);
            let value = self.positions[position];
            if value == EMPTY {
                return;
            }
            let home = self.home(hash_of(self.slot_of(value)));
            // Move it into the hole unless its home lies cyclically in (hole, position].
            let distance_to_hole = (position + length - hole) % length;
            let distance_to_home = (position + length - home) % length;
            if distance_to_home >= distance_to_hole {
                self.positions[hole] = value;
                self.positions[position] = EMPTY;
                hole = position;
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The table
// ---------------------------------------------------------------------------

/// The BIBs and session tables of NAT64. See the [module documentation](self).
pub struct Nat64Table {
    limits: Nat64TableLimits,
    hasher: Hasher,
    sessions: Vec<Session>,
    bindings: Vec<Binding>,
    sources: Vec<Source>,
    free_session: u32,
    free_binding: u32,
    free_source: u32,
    session_ipv6_index: Index,
    session_ipv4_index: Index,
    peer_index: Index,
    binding_ipv6_index: Index,
    binding_ipv4_index: Index,
    source_index: Index,
    /// The wheel's list heads, `[previous, next]`: node `sessions.len() +
    /// 2 × bucket + list`.
    wheel_heads: Vec<[u32; 2]>,
    /// Per list kind, a bit per bucket that may be non-empty (set on
    /// insertion, cleared when found empty).
    wheel_marks: [Vec<u64>; 2],
    /// The next tick the wheel processes; every armed session sits at a
    /// position in `cursor_tick .. cursor_tick + WHEEL_BUCKETS`.
    cursor_tick: i64,
    tick_micros: i64,
    session_count: usize,
    binding_count: usize,
    source_count: usize,
    sessions_by_protocol: [usize; 3],
    bindings_by_protocol: [usize; 3],
    events: Nat64TableEventCounts,
}

impl fmt::Debug for Nat64Table {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Nat64Table")
            .field("limits", &self.limits)
            .field("sessions", &self.session_count)
            .field("bindings", &self.binding_count)
            .field("sources", &self.source_count)
            .field("cursor_tick", &self.cursor_tick)
            .finish_non_exhaustive()
    }
}

impl Nat64Table {
    /// A table with the given capacities, hash `key` (from the router's
    /// seed) and the current time; all its memory is allocated here.
    pub fn new(limits: Nat64TableLimits, key: [u64; 2], now: Instant) -> Nat64Table {
        let limits = limits.normalized();
        let session_capacity = limits.sessions;
        let binding_capacity = limits.bindings;
        let mut sessions = vec![FREE_SESSION; session_capacity];
        for (slot, session) in sessions.iter_mut().enumerate() {
            session.wheel_next = if slot + 1 < session_capacity {
                slot as u32 + 1
            } else {
                NONE
            };
        }
        let mut bindings = vec![FREE_BINDING; binding_capacity];
        for (slot, binding) in bindings.iter_mut().enumerate() {
            binding.sessions = if slot + 1 < binding_capacity {
                slot as u32 + 1
            } else {
                NONE
            };
        }
        // A source entry exists only while it has a session.
        let mut sources = vec![FREE_SOURCE; session_capacity];
        for (slot, source) in sources.iter_mut().enumerate() {
            source.ipv4_address = if slot + 1 < session_capacity {
                slot as u32 + 1
            } else {
                NONE
            };
        }
        let mut wheel_heads = vec![[0u32; 2]; WHEEL_BUCKETS * 2];
        for (offset, head) in wheel_heads.iter_mut().enumerate() {
            let node = (session_capacity + offset) as u32;
            *head = [node, node];
        }
        let tick_micros = limits.tick.total_micros() as i64;
        Nat64Table {
            limits,
            hasher: Hasher { key },
            sessions,
            bindings,
            sources,
            free_session: 0,
            free_binding: 0,
            free_source: 0,
            session_ipv6_index: Index::new(session_capacity),
            session_ipv4_index: Index::new(session_capacity),
            peer_index: Index::new(session_capacity),
            binding_ipv6_index: Index::new(binding_capacity),
            binding_ipv4_index: Index::new(binding_capacity),
            source_index: Index::new(session_capacity),
            wheel_heads,
            wheel_marks: [vec![0; WHEEL_BUCKETS / 64], vec![0; WHEEL_BUCKETS / 64]],
            cursor_tick: now.total_micros().div_euclid(tick_micros),
            tick_micros,
            session_count: 0,
            binding_count: 0,
            source_count: 0,
            sessions_by_protocol: [0; 3],
            bindings_by_protocol: [0; 3],
            events: Nat64TableEventCounts::new(),
        }
    }

    /// The limits in force (capacities clamped to their ranges).
    pub fn limits(&self) -> Nat64TableLimits {
        self.limits
    }

    /// Sessions in use, all protocols.
    pub fn session_count(&self) -> usize {
        self.session_count
    }

    /// Bindings in use (static and dynamic), all protocols.
    pub fn binding_count(&self) -> usize {
        self.binding_count
    }

    /// IPv6 source addresses with at least one session.
    pub fn source_count(&self) -> usize {
        self.source_count
    }

    /// Sessions in use in the session table of `protocol`.
    pub fn sessions_in_use(&self, protocol: Nat64Protocol) -> usize {
        self.sessions_by_protocol[usize::from(protocol_code(protocol))]
    }

    /// Bindings in use in the BIB of `protocol`.
    pub fn bindings_in_use(&self, protocol: Nat64Protocol) -> usize {
        self.bindings_by_protocol[usize::from(protocol_code(protocol))]
    }

    /// The event counters.
    pub fn events(&self) -> &Nat64TableEventCounts {
        &self.events
    }

    /// The bytes the table holds: every record and index, allocated in
    /// [`Self::new`] and never more.
    pub fn memory_bytes(&self) -> usize {
        core::mem::size_of::<Nat64Table>()
            + self.sessions.capacity() * core::mem::size_of::<Session>()
            + self.bindings.capacity() * core::mem::size_of::<Binding>()
            + self.sources.capacity() * core::mem::size_of::<Source>()
            + self.session_ipv6_index.memory_bytes()
            + self.session_ipv4_index.memory_bytes()
            + self.peer_index.memory_bytes()
            + self.binding_ipv6_index.memory_bytes()
            + self.binding_ipv4_index.memory_bytes()
            + self.source_index.memory_bytes()
            + self.wheel_heads.capacity() * core::mem::size_of::<[u32; 2]>()
            + self
                .wheel_marks
                .iter()
                .map(|marks| marks.capacity() * core::mem::size_of::<u64>())
                .sum::<usize>()
    }

    // -- Reading ------------------------------------------------------------

    fn live_binding(&self, id: BindingId) -> Option<&Binding> {
        self.bindings
            .get(id.0 as usize)
            .filter(|binding| binding.protocol != PROTOCOL_FREE)
    }

    fn live_session(&self, id: SessionId) -> Option<&Session> {
        self.sessions
            .get(id.0 as usize)
            .filter(|session| session.class != CLASS_FREE)
    }

    fn binding_view(&self, slot: usize) -> Option<BindingView> {
        let binding = self.live_binding(BindingId(slot as u32))?;
        Some(BindingView {
            id: BindingId(slot as u32),
            protocol: protocol_from_code(binding.protocol),
            ipv6: ipv6_socket(binding.ipv6_address, binding.ipv6_port),
            ipv4: SocketAddrV4::new(binding.ipv4_address, binding.ipv4_port),
            is_static: binding.flags & FLAG_STATIC != 0,
            sessions: binding.sessions,
        })
    }

    fn session_view(&self, slot: usize) -> Option<SessionView> {
        let session = self.live_session(SessionId(slot as u32))?;
        let binding = self.bindings.get(session.binding as usize)?;
        Some(SessionView {
            id: SessionId(slot as u32),
            binding: BindingId(session.binding),
            protocol: protocol_from_code(binding.protocol),
            ipv6: ipv6_socket(binding.ipv6_address, binding.ipv6_port),
            ipv4: SocketAddrV4::new(binding.ipv4_address, binding.ipv4_port),
            remote: SocketAddrV4::new(
                Ipv4Addr::from_bits(session.remote_address),
                session.remote_port,
            ),
            state: session.state,
            class: class_from_code(session.class),
            expiry: Instant::from_micros(decode_expiry(session.expiry)),
        })
    }

    /// The binding `id`, if it lives.
    pub fn binding(&self, id: BindingId) -> Option<BindingView> {
        self.binding_view(id.0 as usize)
    }

    /// The session `id`, if it lives.
    pub fn session(&self, id: SessionId) -> Option<SessionView> {
        self.session_view(id.0 as usize)
    }

    fn find_binding_ipv6(&self, protocol: u8, address: Ipv6Addr, port: u16) -> Option<usize> {
        let hash = self.hasher.binding_ipv6(protocol, address, port);
        let bindings = &self.bindings;
        let position = self.binding_ipv6_index.find(hash, |slot| {
            bindings.get(slot).is_some_and(|binding| {
                binding.ipv6_address == address
                    && binding.ipv6_port == port
                    && binding.protocol == protocol
            })
        })?;
        Some(self.binding_ipv6_index.slot_at(position))
    }

    fn find_binding_ipv4(&self, protocol: u8, address: Ipv4Addr, port: u16) -> Option<usize> {
        let hash = self.hasher.binding_ipv4(protocol, address, port);
        let bindings = &self.bindings;
        let position = self.binding_ipv4_index.find(hash, |slot| {
            bindings.get(slot).is_some_and(|binding| {
                binding.ipv4_address == address
                    && binding.ipv4_port == port
                    && binding.protocol == protocol
            })
        })?;
        Some(self.binding_ipv4_index.slot_at(position))
    }

    /// The BIB entry of (protocol, X', x) (RFC 6146 §3.5.1: the IPv6 side).
    pub fn binding_by_ipv6(
        &self,
        protocol: Nat64Protocol,
        ipv6: SocketAddrV6,
    ) -> Option<BindingView> {
        let slot = self.find_binding_ipv6(protocol_code(protocol), *ipv6.ip(), ipv6.port())?;
        self.binding_view(slot)
    }

    /// The BIB entry of (protocol, T, t) (RFC 6146 §3.5.1: the IPv4 side).
    pub fn binding_by_ipv4(
        &self,
        protocol: Nat64Protocol,
        ipv4: SocketAddrV4,
    ) -> Option<BindingView> {
        let slot = self.find_binding_ipv4(protocol_code(protocol), *ipv4.ip(), ipv4.port())?;
        self.binding_view(slot)
    }

    /// Whether (T, t) is taken in the BIB of `protocol` (RFC 6146
    /// §3.5.1.1: an allocated transport address MUST NOT be in use).
    pub fn ipv4_transport_in_use(&self, protocol: Nat64Protocol, ipv4: SocketAddrV4) -> bool {
        self.find_binding_ipv4(protocol_code(protocol), *ipv4.ip(), ipv4.port())
            .is_some()
    }

    /// The T already used by a session of the IPv6 source X', if it has
    /// any (RFC 6146 §3.5.1.1: the NAT64 SHOULD reuse it, "paired"
    /// pooling).
    pub fn source_ipv4_address(&self, ipv6_address: Ipv6Addr) -> Option<Ipv4Addr> {
        let slot = self.find_source(ipv6_address)?;
        Some(Ipv4Addr::from_bits(self.sources[slot].ipv4_address))
    }

    /// Sessions the IPv6 source X' holds (what `sessions_per_source` limits).
    pub fn source_session_count(&self, ipv6_address: Ipv6Addr) -> usize {
        self.find_source(ipv6_address)
            .map_or(0, |slot| self.sources[slot].sessions as usize)
    }

    fn find_source(&self, address: Ipv6Addr) -> Option<usize> {
        let hash = self.hasher.source(address);
        let sources = &self.sources;
        let position = self.source_index.find(hash, |slot| {
            sources
                .get(slot)
                .is_some_and(|source| source.sessions != 0 && source.address == address)
        })?;
        Some(self.source_index.slot_at(position))
    }

    /// Whether `binding` has a session with remote address Z, any port
    /// (RFC 6146 §3.5.1, §3.5.2.2: address-dependent filtering).
    pub fn binding_has_session_with(&self, binding: BindingId, remote_address: Ipv4Addr) -> bool {
        if self.live_binding(binding).is_none() {
            return false;
        }
        self.find_peer_group(binding.0, remote_address.to_bits())
            .is_some()
    }

    /// The index position of the binding's session group with remote Z.
    fn find_peer_group(&self, binding: u32, remote_address: u32) -> Option<usize> {
        let hash = self.hasher.peer(binding, remote_address);
        let sessions = &self.sessions;
        self.peer_index.find(hash, |slot| {
            sessions.get(slot).is_some_and(|session| {
                session.binding == binding && session.remote_address == remote_address
            })
        })
    }

    fn find_session_ipv6(
        &self,
        protocol: u8,
        ipv6: SocketAddrV6,
        remote: SocketAddrV4,
    ) -> Option<usize> {
        let remote_address = remote.ip().to_bits();
        let hash = self.hasher.session_ipv6(
            protocol,
            *ipv6.ip(),
            ipv6.port(),
            remote_address,
            remote.port(),
        );
        let sessions = &self.sessions;
        let bindings = &self.bindings;
        let position = self.session_ipv6_index.find(hash, |slot| {
            sessions.get(slot).is_some_and(|session| {
                session.remote_address == remote_address
                    && session.remote_port == remote.port()
                    && bindings
                        .get(session.binding as usize)
                        .is_some_and(|binding| {
                            binding.ipv6_port == ipv6.port()
                                && binding.protocol == protocol
                                && binding.ipv6_address == *ipv6.ip()
                        })
            })
        })?;
        Some(self.session_ipv6_index.slot_at(position))
    }

    /// The session of an IPv6 packet from (X', x) to (Y', y), with Z the
    /// IPv4 address embedded in Y' and z = y (RFC 6146 §3.5.1, §3.5.2).
    pub fn session_by_ipv6(
        &self,
        protocol: Nat64Protocol,
        ipv6: SocketAddrV6,
        remote: SocketAddrV4,
    ) -> Option<SessionView> {
        let slot = self.find_session_ipv6(protocol_code(protocol), ipv6, remote)?;
        self.session_view(slot)
    }

    /// The session of an IPv4 packet from (Z, z) to (T, t) (RFC 6146
    /// §3.5.1, §3.5.2).
    pub fn session_by_ipv4(
        &self,
        protocol: Nat64Protocol,
        ipv4: SocketAddrV4,
        remote: SocketAddrV4,
    ) -> Option<SessionView> {
        let protocol = protocol_code(protocol);
        let remote_address = remote.ip().to_bits();
        let hash = self.hasher.session_ipv4(
            protocol,
            *ipv4.ip(),
            ipv4.port(),
            remote_address,
            remote.port(),
        );
        let sessions = &self.sessions;
        let bindings = &self.bindings;
        let position = self.session_ipv4_index.find(hash, |slot| {
            sessions.get(slot).is_some_and(|session| {
                session.remote_address == remote_address
                    && session.remote_port == remote.port()
                    && bindings
                        .get(session.binding as usize)
                        .is_some_and(|binding| {
                            binding.ipv4_port == ipv4.port()
                                && binding.protocol == protocol
                                && binding.ipv4_address == *ipv4.ip()
                        })
            })
        })?;
        self.session_view(self.session_ipv4_index.slot_at(position))
    }

    // -- Bindings -----------------------------------------------------------

    /// Adds a static BIB entry (RFC 6146 §3.1: manually configured, never
    /// deleted when it has no session). Never evicts anything.
    pub fn add_static_binding(
        &mut self,
        protocol: Nat64Protocol,
        ipv6: SocketAddrV6,
        ipv4: SocketAddrV4,
    ) -> Result<BindingId, Nat64TableError> {
        let code = protocol_code(protocol);
        if self
            .find_binding_ipv6(code, *ipv6.ip(), ipv6.port())
            .is_some()
        {
            return Err(Nat64TableError::BindingExists);
        }
        if self
            .find_binding_ipv4(code, *ipv4.ip(), ipv4.port())
            .is_some()
        {
            return Err(Nat64TableError::Ipv4TransportInUse);
        }
        if self.free_binding == NONE {
            self.events.increment(Nat64TableEvent::BindingTableFull);
            return Err(Nat64TableError::BindingTableFull);
        }
        let hashes = self.binding_vacancies(code, ipv6, ipv4)?;
        let slot = self.commit_binding(code, ipv6, ipv4, FLAG_STATIC, hashes);
        self.events.increment(Nat64TableEvent::StaticBindingsAdded);
        Ok(BindingId(slot as u32))
    }

    /// Removes a static BIB entry (RFC 6146 §3.1: only the administrator
    /// deletes one). One that still has sessions becomes dynamic and goes
    /// with its last session.
    pub fn remove_static_binding(&mut self, id: BindingId) -> Result<(), Nat64TableError> {
        let binding = *self
            .live_binding(id)
            .ok_or(Nat64TableError::UnknownBinding)?;
        if binding.flags & FLAG_STATIC == 0 {
            return Err(Nat64TableError::NotStatic);
        }
        let slot = id.0 as usize;
        self.bindings[slot].flags &= !FLAG_STATIC;
        if binding.sessions == 0 {
            self.remove_binding_slot(slot);
        }
        Ok(())
    }

    /// Index positions for a new binding, or the probe-limit refusal.
    fn binding_vacancies(
        &mut self,
        protocol: u8,
        ipv6: SocketAddrV6,
        ipv4: SocketAddrV4,
    ) -> Result<[(usize, u64); 2], Nat64TableError> {
        let ipv6_hash = self.hasher.binding_ipv6(protocol, *ipv6.ip(), ipv6.port());
        let ipv4_hash = self.hasher.binding_ipv4(protocol, *ipv4.ip(), ipv4.port());
        match (
            self.binding_ipv6_index.vacancy(ipv6_hash),
            self.binding_ipv4_index.vacancy(ipv4_hash),
        ) {
            (Some(ipv6_position), Some(ipv4_position)) => {
                Ok([(ipv6_position, ipv6_hash), (ipv4_position, ipv4_hash)])
            }
            _ => {
                self.events.increment(Nat64TableEvent::ProbeLimit);
                Err(Nat64TableError::ProbeLimit)
            }
        }
    }

    /// Takes a free binding slot (the caller checked there is one) and
    /// indexes it at the given positions.
    fn commit_binding(
        &mut self,
        protocol: u8,
        ipv6: SocketAddrV6,
        ipv4: SocketAddrV4,
        flags: u8,
        positions: [(usize, u64); 2],
    ) -> usize {
        let slot = self.free_binding as usize;
        self.free_binding = self.bindings[slot].sessions;
        self.bindings[slot] = Binding {
            ipv6_address: *ipv6.ip(),
            ipv4_address: *ipv4.ip(),
            sessions: 0,
            ipv6_port: ipv6.port(),
            ipv4_port: ipv4.port(),
            protocol,
            flags,
        };
        let [(ipv6_position, ipv6_hash), (ipv4_position, ipv4_hash)] = positions;
        self.binding_ipv6_index
            .place(ipv6_position, ipv6_hash, slot);
        self.binding_ipv4_index
            .place(ipv4_position, ipv4_hash, slot);
        self.binding_count += 1;
        self.bindings_by_protocol[usize::from(protocol)] += 1;
        slot
    }

    fn remove_binding_slot(&mut self, slot: usize) {
        let Some(binding) = self.bindings.get(slot).copied() else {
            return;
        };
        if binding.protocol == PROTOCOL_FREE {
            return;
        }
        let hasher = self.hasher;
        let bindings = &self.bindings;
        let ipv6_hash =
            hasher.binding_ipv6(binding.protocol, binding.ipv6_address, binding.ipv6_port);
        if let Some(position) = self
            .binding_ipv6_index
            .find(ipv6_hash, |candidate| candidate == slot)
        {
            self.binding_ipv6_index.remove(position, |other| {
                let other = &bindings[other];
                hasher.binding_ipv6(other.protocol, other.ipv6_address, other.ipv6_port)
            });
        }
        let ipv4_hash =
            hasher.binding_ipv4(binding.protocol, binding.ipv4_address, binding.ipv4_port);
        if let Some(position) = self
            .binding_ipv4_index
            .find(ipv4_hash, |candidate| candidate == slot)
        {
            self.binding_ipv4_index.remove(position, |other| {
                let other = &bindings[other];
                hasher.binding_ipv4(other.protocol, other.ipv4_address, other.ipv4_port)
            });
        }
        self.binding_count -= 1;
        self.bindings_by_protocol[usize::from(binding.protocol)] -= 1;
        self.bindings[slot] = Binding {
            sessions: self.free_binding,
            ..FREE_BINDING
        };
        self.free_binding = slot as u32;
        self.events.increment(Nat64TableEvent::BindingsRemoved);
    }

    // -- Sessions -----------------------------------------------------------

    /// Creates a session (RFC 6146 §3.5.1, §3.5.2.2, §3.5.3) on an existing
    /// binding, or together with a new dynamic one. When the session table
    /// (or, for a new binding, the BIB) is full, a Transitory or HalfOpen
    /// session is evicted (see the [module documentation](self)).
    pub fn create_session(
        &mut self,
        binding: SessionBinding,
        remote: SocketAddrV4,
        state: u8,
        class: SessionClass,
        expiry: Instant,
    ) -> Result<SessionView, Nat64TableError> {
        // 1. The binding, existing or to be created.
        let (protocol, ipv6, ipv4, existing) = match binding {
            SessionBinding::Existing(id) => {
                let record = *self
                    .live_binding(id)
                    .ok_or(Nat64TableError::UnknownBinding)?;
                (
                    record.protocol,
                    ipv6_socket(record.ipv6_address, record.ipv6_port),
                    SocketAddrV4::new(record.ipv4_address, record.ipv4_port),
                    Some(id.0),
                )
            }
            SessionBinding::New {
                protocol,
                ipv6,
                ipv4,
            } => {
                let code = protocol_code(protocol);
                if self
                    .find_binding_ipv6(code, *ipv6.ip(), ipv6.port())
                    .is_some()
                {
                    return Err(Nat64TableError::BindingExists);
                }
                if self
                    .find_binding_ipv4(code, *ipv4.ip(), ipv4.port())
                    .is_some()
                {
                    return Err(Nat64TableError::Ipv4TransportInUse);
                }
                (code, ipv6_socket(*ipv6.ip(), ipv6.port()), ipv4, None)
            }
        };
        // 2. The session must be new.
        if existing.is_some() && self.find_session_ipv6(protocol, ipv6, remote).is_some() {
            return Err(Nat64TableError::SessionExists);
        }
        // 3. The per-source limit: refused, never evicted.
        if self.source_session_count(*ipv6.ip()) >= self.limits.sessions_per_source {
            self.events.increment(Nat64TableEvent::SourceSessionLimit);
            return Err(Nat64TableError::SourceSessionLimit);
        }
        // 4. Room, evicting if needed.
        if existing.is_none() && self.free_binding == NONE {
            match self.find_victim(true, None) {
                Some(victim) => self.evict(victim),
                None => {
                    self.events.increment(Nat64TableEvent::BindingTableFull);
                    return Err(Nat64TableError::BindingTableFull);
                }
            }
        }
        if self.free_session == NONE {
            match self.find_victim(false, existing) {
                Some(victim) => self.evict(victim),
                None => {
                    self.events.increment(Nat64TableEvent::SessionTableFull);
                    return Err(Nat64TableError::SessionTableFull);
                }
            }
        }
        // 5. Index positions (all indexes are distinct, so they stay valid
        // until committed).
        let binding_positions = match existing {
            Some(_) => None,
            None => Some(self.binding_vacancies(protocol, ipv6, ipv4)?),
        };
        let remote_address = remote.ip().to_bits();
        let ipv6_hash = self.hasher.session_ipv6(
            protocol,
            *ipv6.ip(),
            ipv6.port(),
            remote_address,
            remote.port(),
        );
        let ipv4_hash = self.hasher.session_ipv4(
            protocol,
            *ipv4.ip(),
            ipv4.port(),
            remote_address,
            remote.port(),
        );
        let peer_group = existing.and_then(|binding| self.find_peer_group(binding, remote_address));
        let source_slot = self.find_source(*ipv6.ip());
        let source_hash = self.hasher.source(*ipv6.ip());
        let ipv6_position = self.session_ipv6_index.vacancy(ipv6_hash);
        let ipv4_position = self.session_ipv4_index.vacancy(ipv4_hash);
        // The peer hash needs the binding slot, known only after commit for
        // a new binding: it is the free binding slot.
        let binding_slot = existing.unwrap_or(self.free_binding);
        let peer_hash = self.hasher.peer(binding_slot, remote_address);
        let peer_position = match peer_group {
            Some(_) => Some(usize::MAX),
            None => self.peer_index.vacancy(peer_hash),
        };
        let source_position = match source_slot {
            Some(_) => Some(usize::MAX),
            None => self.source_index.vacancy(source_hash),
        };
        let (Some(ipv6_position), Some(ipv4_position), Some(peer_position), Some(source_position)) =
            (ipv6_position, ipv4_position, peer_position, source_position)
        else {
            self.events.increment(Nat64TableEvent::ProbeLimit);
            return Err(Nat64TableError::ProbeLimit);
        };
        if source_slot.is_none() && self.free_source == NONE {
            // Cannot happen: there are as many source slots as session slots.
            self.events.increment(Nat64TableEvent::SessionTableFull);
            return Err(Nat64TableError::SessionTableFull);
        }
        // 6. Commit.
        let binding_slot = match binding_positions {
            Some(positions) => {
                self.events.increment(Nat64TableEvent::BindingsCreated);
                self.commit_binding(protocol, ipv6, ipv4, 0, positions)
            }
            None => binding_slot as usize,
        };
        let slot = self.free_session as usize;
        self.free_session = self.sessions[slot].wheel_next;
        self.sessions[slot] = Session {
            binding: binding_slot as u32,
            remote_address,
            expiry: encode_expiry(expiry),
            wheel_previous: NONE,
            wheel_next: NONE,
            peer_previous: slot as u32,
            peer_next: slot as u32,
            remote_port: remote.port(),
            state,
            class: class_code(class),
        };
        self.session_ipv6_index
            .place(ipv6_position, ipv6_hash, slot);
        self.session_ipv4_index
            .place(ipv4_position, ipv4_hash, slot);
        match peer_group {
            Some(position) => {
                // Join the group after its representative.
                let first = self.peer_index.slot_at(position);
                let after = self.sessions[first].peer_next;
                self.sessions[slot].peer_previous = first as u32;
                self.sessions[slot].peer_next = after;
                self.sessions[first].peer_next = slot as u32;
                self.sessions[after as usize].peer_previous = slot as u32;
            }
            None => self.peer_index.place(peer_position, peer_hash, slot),
        }
        match source_slot {
            Some(source) => self.sources[source].sessions += 1,
            None => {
                let source = self.free_source as usize;
                self.free_source = self.sources[source].ipv4_address;
                self.sources[source] = Source {
                    address: *ipv6.ip(),
                    sessions: 1,
                    ipv4_address: ipv4.ip().to_bits(),
                };
                self.source_index
                    .place(source_position, source_hash, source);
                self.source_count += 1;
            }
        }
        self.bindings[binding_slot].sessions += 1;
        self.arm(slot, self.cursor_tick);
        self.session_count += 1;
        self.sessions_by_protocol[usize::from(protocol)] += 1;
        self.events.increment(match protocol_from_code(protocol) {
            Nat64Protocol::Tcp => Nat64TableEvent::TcpSessionsCreated,
            Nat64Protocol::Udp => Nat64TableEvent::UdpSessionsCreated,
            Nat64Protocol::Icmp => Nat64TableEvent::IcmpSessionsCreated,
        });
        self.session_view(slot)
            .ok_or(Nat64TableError::UnknownSession)
    }

    /// Sets a session's state byte, class and expiry (on every packet of
    /// the session: RFC 6146 §3.5.1 resets the lifetime, §3.5.2.2 moves the
    /// TCP state). Extending an Established session only writes it.
    pub fn update_session(
        &mut self,
        id: SessionId,
        state: u8,
        class: SessionClass,
        expiry: Instant,
    ) -> Result<(), Nat64TableError> {
        let session = *self
            .live_session(id)
            .ok_or(Nat64TableError::UnknownSession)?;
        let slot = id.0 as usize;
        let new_class = class_code(class);
        let lazy = !is_evictable_code(session.class)
            && !is_evictable_code(new_class)
            && expiry.total_micros() >= decode_expiry(session.expiry);
        let record = &mut self.sessions[slot];
        record.state = state;
        record.class = new_class;
        record.expiry = encode_expiry(expiry);
        if !lazy {
            // Shorter, or its eviction list changes: move it now, so the
            // evictable lists stay in expiry order.
            self.unlink(slot);
            self.arm(slot, self.cursor_tick);
        }
        Ok(())
    }

    /// Removes a session (and its binding, if dynamic and this was the last
    /// session).
    pub fn remove_session(&mut self, id: SessionId) -> Result<(), Nat64TableError> {
        self.live_session(id)
            .ok_or(Nat64TableError::UnknownSession)?;
        self.remove_session_slot(id.0 as usize);
        self.events.increment(Nat64TableEvent::SessionsRemoved);
        Ok(())
    }

    fn remove_session_slot(&mut self, slot: usize) {
        let Some(session) = self.sessions.get(slot).copied() else {
            return;
        };
        if session.class == CLASS_FREE {
            return;
        }
        let binding_slot = session.binding as usize;
        let binding = self.bindings[binding_slot];
        let hasher = self.hasher;
        let sessions = &self.sessions;
        let bindings = &self.bindings;
        // The two session indexes.
        let ipv6_hash = hasher.stored_session_ipv6(&session, &binding);
        if let Some(position) = self
            .session_ipv6_index
            .find(ipv6_hash, |candidate| candidate == slot)
        {
            self.session_ipv6_index.remove(position, |other| {
                let other = &sessions[other];
                hasher.stored_session_ipv6(other, &bindings[other.binding as usize])
            });
        }
        let ipv4_hash = hasher.stored_session_ipv4(&session, &binding);
        if let Some(position) = self
            .session_ipv4_index
            .find(ipv4_hash, |candidate| candidate == slot)
        {
            self.session_ipv4_index.remove(position, |other| {
                let other = &sessions[other];
                hasher.stored_session_ipv4(other, &bindings[other.binding as usize])
            });
        }
        // The group of the binding's sessions with the same Z.
        let peer_hash = hasher.peer(session.binding, session.remote_address);
        let representative = self
            .peer_index
            .find(peer_hash, |candidate| candidate == slot);
        if session.peer_next as usize != slot {
            let previous = session.peer_previous as usize;
            let next = session.peer_next as usize;
            self.sessions[previous].peer_next = next as u32;
            self.sessions[next].peer_previous = previous as u32;
            if let Some(position) = representative {
                self.peer_index.replace_slot(position, next);
            }
        } else if let Some(position) = representative {
            let sessions = &self.sessions;
            self.peer_index.remove(position, |other| {
                let other = &sessions[other];
                hasher.peer(other.binding, other.remote_address)
            });
        }
        self.unlink(slot);
        self.release_source(binding.ipv6_address);
        self.session_count -= 1;
        self.sessions_by_protocol[usize::from(binding.protocol)] -= 1;
        self.sessions[slot] = Session {
            wheel_next: self.free_session,
            ..FREE_SESSION
        };
        self.free_session = slot as u32;
        let remaining = self.bindings[binding_slot].sessions.saturating_sub(1);
        self.bindings[binding_slot].sessions = remaining;
        if remaining == 0 && binding.flags & FLAG_STATIC == 0 {
            self.remove_binding_slot(binding_slot);
        }
    }

    fn release_source(&mut self, address: Ipv6Addr) {
        let Some(slot) = self.find_source(address) else {
            return;
        };
        let remaining = self.sources[slot].sessions.saturating_sub(1);
        if remaining > 0 {
            self.sources[slot].sessions = remaining;
            return;
        }
        let hasher = self.hasher;
        let sources = &self.sources;
        if let Some(position) = self
            .source_index
            .find(hasher.source(address), |candidate| candidate == slot)
        {
            self.source_index
                .remove(position, |other| hasher.source(sources[other].address));
        }
        self.sources[slot] = Source {
            ipv4_address: self.free_source,
            ..FREE_SOURCE
        };
        self.free_source = slot as u32;
        self.source_count -= 1;
    }

    fn evict(&mut self, slot: usize) {
        self.remove_session_slot(slot);
        self.events.increment(Nat64TableEvent::SessionsEvicted);
    }

    /// A Transitory or HalfOpen session to evict, the first to expire
    /// among at most [`MAX_EVICTION_CANDIDATES`]: with `need_binding`, one
    /// whose dynamic binding goes with it; never the last session of
    /// `protect` (the binding a new session is about to use).
    fn find_victim(&mut self, need_binding: bool, protect: Option<u32>) -> Option<usize> {
        let mut candidates = 0;
        let start = self.cursor_tick.rem_euclid(WHEEL_BUCKETS as i64) as usize;
        let mut searched = 0;
        while searched < WHEEL_BUCKETS {
            let from = (start + searched) % WHEEL_BUCKETS;
            let marks = &self.wheel_marks[LIST_EVICTABLE];
            let distance = next_marked(marks.len(), |word| marks[word], from)?;
            searched += distance;
            if searched >= WHEEL_BUCKETS {
                return None;
            }
            let bucket = (from + distance) % WHEEL_BUCKETS;
            let head = self.head_node(bucket, LIST_EVICTABLE);
            let mut node = self.next_node(head);
            if node == head {
                self.clear_mark(bucket, LIST_EVICTABLE);
            }
            while node != head {
                candidates += 1;
                if candidates > MAX_EVICTION_CANDIDATES {
                    return None;
                }
                let slot = node as usize;
                let session = &self.sessions[slot];
                let binding = &self.bindings[session.binding as usize];
                let binding_goes = binding.flags & FLAG_STATIC == 0 && binding.sessions <= 1;
                let allowed = if need_binding {
                    binding_goes
                } else {
                    !(binding_goes && protect == Some(session.binding))
                };
                if allowed {
                    return Some(slot);
                }
                node = self.next_node(node);
            }
            searched += 1;
        }
        None
    }

    // -- The timer wheel ----------------------------------------------------

    fn head_node(&self, bucket: usize, list: usize) -> u32 {
        (self.sessions.len() + bucket * 2 + list) as u32
    }

    fn next_node(&self, node: u32) -> u32 {
        let node = node as usize;
        match self.sessions.get(node) {
            Some(session) => session.wheel_next,
            None => self
                .wheel_heads
                .get(node - self.sessions.len())
                .map_or(NONE, |head| head[1]),
        }
    }

    fn set_next(&mut self, node: u32, next: u32) {
        let node = node as usize;
        let sessions = self.sessions.len();
        if node < sessions {
            self.sessions[node].wheel_next = next;
        } else if let Some(head) = self.wheel_heads.get_mut(node - sessions) {
            head[1] = next;
        }
    }

    fn set_previous(&mut self, node: u32, previous: u32) {
        let node = node as usize;
        let sessions = self.sessions.len();
        if node < sessions {
            self.sessions[node].wheel_previous = previous;
        } else if let Some(head) = self.wheel_heads.get_mut(node - sessions) {
            head[0] = previous;
        }
    }

    fn clear_mark(&mut self, bucket: usize, list: usize) {
        self.wheel_marks[list][bucket / 64] &= !(1u64 << (bucket % 64));
    }

    /// Hangs session `slot` in the bucket of its expiry tick, no earlier
    /// than tick `minimum`, no later than the wheel reaches.
    fn arm(&mut self, slot: usize, minimum: i64) {
        let session = self.sessions[slot];
        let expiry = decode_expiry(session.expiry);
        let tick = expiry
            .div_euclid(self.tick_micros)
            .saturating_add(i64::from(expiry.rem_euclid(self.tick_micros) != 0));
        let last = self.cursor_tick.saturating_add(WHEEL_BUCKETS as i64 - 1);
        let position = tick.max(minimum).min(last);
        let bucket = position.rem_euclid(WHEEL_BUCKETS as i64) as usize;
        let list = if is_evictable_code(session.class) {
            LIST_EVICTABLE
        } else {
            LIST_KEPT
        };
        let head = self.head_node(bucket, list);
        let tail = self.wheel_heads[bucket * 2 + list][0];
        self.set_next(tail, slot as u32);
        self.set_previous(slot as u32, tail);
        self.set_next(slot as u32, head);
        self.set_previous(head, slot as u32);
        self.wheel_marks[list][bucket / 64] |= 1u64 << (bucket % 64);
    }

    /// Takes session `slot` out of its wheel list.
    fn unlink(&mut self, slot: usize) {
        let session = self.sessions[slot];
        if session.wheel_next == NONE {
            return;
        }
        self.set_next(session.wheel_previous, session.wheel_next);
        self.set_previous(session.wheel_next, session.wheel_previous);
        self.sessions[slot].wheel_next = NONE;
        self.sessions[slot].wheel_previous = NONE;
    }

    /// The first session in `bucket`, either list.
    fn first_in_bucket(&self, bucket: usize) -> Option<usize> {
        [LIST_KEPT, LIST_EVICTABLE].into_iter().find_map(|list| {
            let head = self.head_node(bucket, list);
            let first = self.next_node(head);
            (first != head && first != NONE).then_some(first as usize)
        })
    }

    /// Whether [`Self::expire`] has work at `now` (one comparison).
    pub fn due(&self, now: Instant) -> bool {
        self.cursor_tick <= now.total_micros().div_euclid(self.tick_micros)
    }

    /// Hands every session whose lifetime ran out by `now` to `decide`
    /// (RFC 6146 §3.5.1, §3.5.2.2, §3.5.3) and applies its decision, looking
    /// at no more than `max_sessions` sessions; call again while the report
    /// is not `finished`. The cost is the sessions visited plus the buckets
    /// passed (empty ones skipped 64 at a time), never a scan of the table.
    pub fn expire(
        &mut self,
        now: Instant,
        max_sessions: usize,
        mut decide: impl FnMut(&SessionView) -> ExpiryDecision,
    ) -> ExpireReport {
        let now_micros = now.total_micros();
        let now_tick = now_micros.div_euclid(self.tick_micros);
        let mut report = ExpireReport::default();
        loop {
            if self.cursor_tick > now_tick {
                report.finished = true;
                return report;
            }
            let bucket = self.cursor_tick.rem_euclid(WHEEL_BUCKETS as i64) as usize;
            let Some(slot) = self.first_in_bucket(bucket) else {
                // Empty: skip to the next bucket that may hold a session.
                self.clear_mark(bucket, LIST_KEPT);
                self.clear_mark(bucket, LIST_EVICTABLE);
                let from = (bucket + 1) % WHEEL_BUCKETS;
                let marks = &self.wheel_marks;
                let next = next_marked(
                    WHEEL_BUCKETS / 64,
                    |word| marks[LIST_KEPT][word] | marks[LIST_EVICTABLE][word],
                    from,
                );
                let next_tick = match next {
                    Some(distance) => self
                        .cursor_tick
                        .saturating_add(1)
                        .saturating_add(distance as i64),
                    None => now_tick.saturating_add(1),
                };
                let next_tick = next_tick.min(now_tick.saturating_add(1));
                if next_tick <= self.cursor_tick {
                    // The end of time: nothing can come after it.
                    report.finished = true;
                    return report;
                }
                self.cursor_tick = next_tick;
                continue;
            };
            if report.visited >= max_sessions {
                return report;
            }
            report.visited += 1;
            let session = self.sessions[slot];
            if decode_expiry(session.expiry) > now_micros {
                // Extended since it was armed, or beyond the wheel's span.
                self.unlink(slot);
                self.arm(slot, self.cursor_tick.saturating_add(1));
                report.rearmed += 1;
                continue;
            }
            let Some(view) = self.session_view(slot) else {
                self.unlink(slot);
                continue;
            };
            match decide(&view) {
                ExpiryDecision::Remove => {
                    self.remove_session_slot(slot);
                    self.events.increment(Nat64TableEvent::SessionsExpired);
                    report.removed += 1;
                }
                ExpiryDecision::Keep {
                    state,
                    class,
                    expiry,
                } => {
                    let record = &mut self.sessions[slot];
                    record.state = state;
                    record.class = class_code(class);
                    record.expiry = encode_expiry(expiry);
                    self.unlink(slot);
                    self.arm(slot, self.cursor_tick.saturating_add(1));
                    self.events.increment(Nat64TableEvent::SessionsKeptAtExpiry);
                    report.kept += 1;
                }
            }
        }
    }
}

/// The distance from bucket `start` to the first marked bucket at or after
/// it, going round once; `word(i)` is the i-th 64-bit word of the marks.
fn next_marked(words: usize, word: impl Fn(usize) -> u64, start: usize) -> Option<usize> {
    let buckets = words * 64;
    if buckets == 0 {
        return None;
    }
    let start = start % buckets;
    let mut word_index = start / 64;
    let mut bits = word(word_index) & (u64::MAX << (start % 64));
    for _ in 0..=words {
        if bits != 0 {
            let bucket = word_index * 64 + bits.trailing_zeros() as usize;
            return Some((bucket + buckets - start) % buckets);
        }
        word_index = (word_index + 1) % words;
        bits = word(word_index);
    }
    None
}

#[cfg(test)]
mod tests {
    //! RFC 6146 §3.1–§3.5 table behavior with virtual time, and the hash
    //! indexes against a `HashMap` model.
    use super::*;
    use std::collections::HashMap;
    use std::collections::hash_map::Entry;
    use std::vec::Vec;

    const KEY: [u64; 2] = [0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210];

    fn limits(sessions: usize, bindings: usize, sessions_per_source: usize) -> Nat64TableLimits {
        Nat64TableLimits {
            sessions,
            bindings,
            sessions_per_source,
            tick: Duration::from_secs(1),
        }
    }

    fn at(seconds: u64) -> Instant {
        Instant::from_secs(seconds as i64)
    }

    fn host(number: u16, port: u16) -> SocketAddrV6 {
        SocketAddrV6::new(
            Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, number),
            port,
            0,
            0,
        )
    }

    fn pool(number: u8, port: u16) -> SocketAddrV4 {
        SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, number), port)
    }

    fn remote(number: u8, port: u16) -> SocketAddrV4 {
        SocketAddrV4::new(Ipv4Addr::new(198, 51, 100, number), port)
    }

    fn new_binding(
        protocol: Nat64Protocol,
        ipv6: SocketAddrV6,
        ipv4: SocketAddrV4,
    ) -> SessionBinding {
        SessionBinding::New {
            protocol,
            ipv6,
            ipv4,
        }
    }

    /// Creates a UDP session from host `number` port `port`, mapped to
    /// pool port `port`, toward remote 198.51.100.1:53.
    fn udp(
        table: &mut Nat64Table,
        number: u16,
        port: u16,
        class: SessionClass,
        expiry: Instant,
    ) -> Result<SessionView, Nat64TableError> {
        table.create_session(
            new_binding(Nat64Protocol::Udp, host(number, port), pool(1, port)),
            remote(1, 53),
            0,
            class,
            expiry,
        )
    }

    fn expire_all(table: &mut Nat64Table, now: Instant) -> Vec<SessionView> {
        let mut expired = Vec::new();
        let report = table.expire(now, usize::MAX, |session| {
            expired.push(*session);
            ExpiryDecision::Remove
        });
        assert!(report.finished);
        expired
    }

    #[test]
    fn create_and_look_up_both_ways() {
        let mut table = Nat64Table::new(limits(16, 16, 16), KEY, at(0));
        let created = table
            .create_session(
                new_binding(Nat64Protocol::Tcp, host(1, 40000), pool(1, 50000)),
                remote(7, 443),
                3,
                SessionClass::HalfOpen,
                at(6),
            )
            .unwrap();
        assert_eq!(created.ipv6, host(1, 40000));
        assert_eq!(created.ipv4, pool(1, 50000));
        assert_eq!(created.remote, remote(7, 443));
        assert_eq!(created.state, 3);
        assert_eq!(created.class, SessionClass::HalfOpen);
        assert_eq!(created.expiry, at(6));

        let by_ipv6 = table
            .session_by_ipv6(Nat64Protocol::Tcp, host(1, 40000), remote(7, 443))
            .unwrap();
        let by_ipv4 = table
            .session_by_ipv4(Nat64Protocol::Tcp, pool(1, 50000), remote(7, 443))
            .unwrap();
        assert_eq!(by_ipv6, created);
        assert_eq!(by_ipv4, created);
        // Other protocol, port or remote: nothing (the BIBs are per protocol, §3.1).
        assert!(
            table
                .session_by_ipv6(Nat64Protocol::Udp, host(1, 40000), remote(7, 443))
                .is_none()
        );
        assert!(
            table
                .session_by_ipv6(Nat64Protocol::Tcp, host(1, 40000), remote(7, 444))
                .is_none()
        );
        assert!(
            table
                .session_by_ipv4(Nat64Protocol::Tcp, pool(1, 50000), remote(8, 443))
                .is_none()
        );

        let binding = table
            .binding_by_ipv6(Nat64Protocol::Tcp, host(1, 40000))
            .unwrap();
        assert_eq!(binding.id, created.binding);
        assert_eq!(binding.ipv4, pool(1, 50000));
        assert!(!binding.is_static);
        assert_eq!(binding.sessions, 1);
        assert_eq!(
            table.binding_by_ipv4(Nat64Protocol::Tcp, pool(1, 50000)),
            Some(binding)
        );
        assert!(table.ipv4_transport_in_use(Nat64Protocol::Tcp, pool(1, 50000)));
        assert!(!table.ipv4_transport_in_use(Nat64Protocol::Udp, pool(1, 50000)));
        assert_eq!(
            table.source_ipv4_address(*host(1, 0).ip()),
            Some(Ipv4Addr::new(192, 0, 2, 1))
        );
        assert_eq!(table.sessions_in_use(Nat64Protocol::Tcp), 1);
        assert_eq!(table.bindings_in_use(Nat64Protocol::Tcp), 1);
        assert_eq!(table.sessions_in_use(Nat64Protocol::Udp), 0);
        assert_eq!(table.events().get(Nat64TableEvent::TcpSessionsCreated), 1);
        assert_eq!(table.events().get(Nat64TableEvent::BindingsCreated), 1);

        table
            .update_session(created.id, 4, SessionClass::Established, at(7200))
            .unwrap();
        let updated = table.session(created.id).unwrap();
        assert_eq!(
            (updated.state, updated.class, updated.expiry),
            (4, SessionClass::Established, at(7200))
        );

        // The same 5-tuple twice, the same (X', x) or (T, t) in a new binding.
        assert_eq!(
            table.create_session(
                SessionBinding::Existing(created.binding),
                remote(7, 443),
                0,
                SessionClass::HalfOpen,
                at(6)
            ),
            Err(Nat64TableError::SessionExists)
        );
        assert_eq!(
            table.create_session(
                new_binding(Nat64Protocol::Tcp, host(1, 40000), pool(1, 50001)),
                remote(7, 443),
                0,
                SessionClass::HalfOpen,
                at(6)
            ),
            Err(Nat64TableError::BindingExists)
        );
        assert_eq!(
            table.create_session(
                new_binding(Nat64Protocol::Tcp, host(2, 40000), pool(1, 50000)),
                remote(7, 443),
                0,
                SessionClass::HalfOpen,
                at(6)
            ),
            Err(Nat64TableError::Ipv4TransportInUse)
        );
    }

    #[test]
    fn endpoint_independent_mapping_shares_the_binding() {
        let mut table = Nat64Table::new(limits(16, 16, 16), KEY, at(0));
        let first = table
            .create_session(
                new_binding(Nat64Protocol::Udp, host(1, 5000), pool(1, 6000)),
                remote(1, 53),
                0,
                SessionClass::Established,
                at(300),
            )
            .unwrap();
        // §3.5.1: a second destination from (X', x) finds the BIB entry.
        let binding = table
            .binding_by_ipv6(Nat64Protocol::Udp, host(1, 5000))
            .unwrap()
            .id;
        assert_eq!(binding, first.binding);
        let second = table
            .create_session(
                SessionBinding::Existing(binding),
                remote(2, 123),
                0,
                SessionClass::Established,
                at(300),
            )
            .unwrap();
        let third = table
            .create_session(
                SessionBinding::Existing(binding),
                remote(2, 124),
                0,
                SessionClass::Established,
                at(300),
            )
            .unwrap();
        assert_eq!(second.ipv4, pool(1, 6000));
        assert_eq!(table.binding(binding).unwrap().sessions, 3);
        assert_eq!(table.binding_count(), 1);
        assert_eq!(table.source_session_count(*host(1, 0).ip()), 3);

        // Address-dependent filtering (§3.5.1): a session with Z, any port.
        let z1 = Ipv4Addr::new(198, 51, 100, 1);
        let z2 = Ipv4Addr::new(198, 51, 100, 2);
        let z3 = Ipv4Addr::new(198, 51, 100, 3);
        assert!(table.binding_has_session_with(binding, z1));
        assert!(table.binding_has_session_with(binding, z2));
        assert!(!table.binding_has_session_with(binding, z3));
        table.remove_session(second.id).unwrap();
        assert!(table.binding_has_session_with(binding, z2));
        table.remove_session(third.id).unwrap();
        assert!(!table.binding_has_session_with(binding, z2));
        assert!(table.binding_has_session_with(binding, z1));

        // §3.1: the dynamic binding goes with its last session.
        table.remove_session(first.id).unwrap();
        assert_eq!(table.binding_count(), 0);
        assert_eq!(table.source_count(), 0);
        assert!(table.binding(binding).is_none());
        assert!(!table.ipv4_transport_in_use(Nat64Protocol::Udp, pool(1, 6000)));
        assert!(!table.binding_has_session_with(binding, z1));
        assert_eq!(table.events().get(Nat64TableEvent::BindingsRemoved), 1);
    }

    #[test]
    fn per_source_limit_refuses_and_counts() {
        let mut table = Nat64Table::new(limits(16, 16, 3), KEY, at(0));
        for port in 0..3 {
            udp(&mut table, 1, 1000 + port, SessionClass::HalfOpen, at(10)).unwrap();
        }
        assert_eq!(
            udp(&mut table, 1, 1003, SessionClass::HalfOpen, at(10)),
            Err(Nat64TableError::SourceSessionLimit)
        );
        assert_eq!(table.events().get(Nat64TableEvent::SourceSessionLimit), 1);
        // Nothing was evicted for it, and another source is not affected.
        assert_eq!(table.session_count(), 3);
        assert_eq!(table.events().get(Nat64TableEvent::SessionsEvicted), 0);
        udp(&mut table, 2, 1003, SessionClass::HalfOpen, at(10)).unwrap();
        // Freeing one lets the source create one again.
        let one = table
            .session_by_ipv6(Nat64Protocol::Udp, host(1, 1000), remote(1, 53))
            .unwrap();
        table.remove_session(one.id).unwrap();
        udp(&mut table, 1, 1004, SessionClass::HalfOpen, at(10)).unwrap();
    }

    #[test]
    fn full_table_evicts_transitory_or_half_open_never_established() {
        let mut table = Nat64Table::new(limits(4, 8, 8), KEY, at(0));
        udp(&mut table, 1, 1, SessionClass::Established, at(100)).unwrap();
        let transitory = udp(&mut table, 1, 2, SessionClass::Transitory, at(240)).unwrap();
        let half_open = udp(&mut table, 1, 3, SessionClass::HalfOpen, at(6)).unwrap();
        udp(&mut table, 1, 4, SessionClass::Established, at(50)).unwrap();
        // Full: the evictable session that expires first goes (the half-open one).
        let fifth = udp(&mut table, 2, 5, SessionClass::Established, at(7200)).unwrap();
        assert!(
            table
                .session_by_ipv6(Nat64Protocol::Udp, half_open.ipv6, half_open.remote)
                .is_none()
        );
        assert_eq!(table.events().get(Nat64TableEvent::SessionsEvicted), 1);
        // Then the transitory one.
        udp(&mut table, 2, 6, SessionClass::Established, at(7200)).unwrap();
        assert!(
            table
                .session_by_ipv6(Nat64Protocol::Udp, transitory.ipv6, transitory.remote)
                .is_none()
        );
        // Only established sessions are left: refused, counted, nothing evicted.
        assert_eq!(
            udp(&mut table, 2, 7, SessionClass::HalfOpen, at(6)),
            Err(Nat64TableError::SessionTableFull)
        );
        assert_eq!(table.events().get(Nat64TableEvent::SessionTableFull), 1);
        assert_eq!(table.events().get(Nat64TableEvent::SessionsEvicted), 2);
        assert_eq!(table.session_count(), 4);
        for port in [1, 4, 5, 6] {
            let number = if port < 5 { 1 } else { 2 };
            assert!(
                table
                    .session_by_ipv6(Nat64Protocol::Udp, host(number, port), remote(1, 53))
                    .is_some()
            );
        }
        assert_eq!(table.session(fifth.id).unwrap().ipv6, host(2, 5));
    }

    #[test]
    fn full_binding_table_evicts_a_session_whose_binding_goes() {
        let mut table = Nat64Table::new(limits(8, 2, 8), KEY, at(0));
        // Binding A: two transitory sessions (evicting one frees no binding).
        let a = udp(&mut table, 1, 1, SessionClass::Transitory, at(5)).unwrap();
        table
            .create_session(
                SessionBinding::Existing(a.binding),
                remote(2, 53),
                0,
                SessionClass::Transitory,
                at(5),
            )
            .unwrap();
        // Binding B: one half-open session, expiring later.
        udp(&mut table, 1, 2, SessionClass::HalfOpen, at(9)).unwrap();
        // A new binding needs B's slot: B's session goes, not A's earlier ones.
        udp(&mut table, 1, 3, SessionClass::Established, at(100)).unwrap();
        assert!(
            table
                .binding_by_ipv6(Nat64Protocol::Udp, host(1, 2))
                .is_none()
        );
        assert_eq!(table.binding(a.binding).unwrap().sessions, 2);
        assert_eq!(table.events().get(Nat64TableEvent::SessionsEvicted), 1);
        // Now no session's removal frees a binding: refused.
        assert_eq!(
            udp(&mut table, 1, 4, SessionClass::HalfOpen, at(9)),
            Err(Nat64TableError::BindingTableFull)
        );
        assert_eq!(table.events().get(Nat64TableEvent::BindingTableFull), 1);
        // A session on an existing binding still fits.
        table
            .create_session(
                SessionBinding::Existing(a.binding),
                remote(3, 53),
                0,
                SessionClass::HalfOpen,
                at(9),
            )
            .unwrap();
    }

    #[test]
    fn eviction_never_frees_the_binding_the_new_session_uses() {
        let mut table = Nat64Table::new(limits(2, 4, 8), KEY, at(0));
        let only = udp(&mut table, 1, 1, SessionClass::HalfOpen, at(5)).unwrap();
        udp(&mut table, 1, 2, SessionClass::Established, at(50)).unwrap();
        // The only evictable session is the last one of the binding asked for.
        assert_eq!(
            table.create_session(
                SessionBinding::Existing(only.binding),
                remote(9, 9),
                0,
                SessionClass::HalfOpen,
                at(5)
            ),
            Err(Nat64TableError::SessionTableFull)
        );
        assert!(table.session(only.id).is_some());
    }

    #[test]
    fn sessions_expire_at_their_tick() {
        let mut table = Nat64Table::new(limits(64, 64, 64), KEY, at(1000));
        let short = udp(&mut table, 1, 1, SessionClass::Established, at(1005)).unwrap();
        // 1010.5 s rounds up to the 1011 s tick.
        let half = udp(
            &mut table,
            1,
            2,
            SessionClass::Established,
            Instant::from_millis(1_010_500),
        )
        .unwrap();
        let long = udp(&mut table, 1, 3, SessionClass::Transitory, at(1240)).unwrap();
        assert!(expire_all(&mut table, at(1004)).is_empty());
        assert!(!table.due(at(1004)));
        assert!(table.due(at(1005)));
        let expired = expire_all(&mut table, at(1005));
        assert_eq!(expired.len(), 1);
        assert_eq!(expired[0].id, short.id);
        assert_eq!(expired[0].expiry, at(1005));
        assert!(table.session(short.id).is_none());
        assert!(expire_all(&mut table, at(1010)).is_empty());
        let expired = expire_all(&mut table, at(1011));
        assert_eq!(
            expired.iter().map(|s| s.ipv6).collect::<Vec<_>>(),
            [half.ipv6]
        );
        assert!(expire_all(&mut table, at(1239)).is_empty());
        let expired = expire_all(&mut table, at(1300));
        assert_eq!(
            expired.iter().map(|s| s.ipv6).collect::<Vec<_>>(),
            [long.ipv6]
        );
        assert_eq!(table.session_count(), 0);
        assert_eq!(table.binding_count(), 0);
        assert_eq!(table.events().get(Nat64TableEvent::SessionsExpired), 3);
    }

    #[test]
    fn extension_and_keep_rearm_the_timer() {
        let mut table = Nat64Table::new(limits(64, 64, 64), KEY, at(0));
        let session = udp(&mut table, 1, 1, SessionClass::Established, at(10)).unwrap();
        // Refreshed by traffic (lazy: only the time is written).
        table
            .update_session(session.id, 0, SessionClass::Established, at(30))
            .unwrap();
        let report = table.expire(at(10), 100, |_| ExpiryDecision::Remove);
        assert_eq!((report.visited, report.rearmed, report.removed), (1, 1, 0));
        assert!(expire_all(&mut table, at(29)).is_empty());
        // At expiry the caller keeps it as transitory (§3.5.2.2 probe).
        let mut seen = 0;
        let report = table.expire(at(30), 100, |view| {
            seen += 1;
            assert_eq!(view.id, session.id);
            ExpiryDecision::Keep {
                state: 9,
                class: SessionClass::Transitory,
                expiry: at(270),
            }
        });
        assert_eq!((seen, report.kept, report.finished), (1, 1, true));
        let kept = table.session(session.id).unwrap();
        assert_eq!(
            (kept.state, kept.class, kept.expiry),
            (9, SessionClass::Transitory, at(270))
        );
        assert!(expire_all(&mut table, at(100)).is_empty());
        // Shortening moves it at once.
        table
            .update_session(session.id, 9, SessionClass::Transitory, at(200))
            .unwrap();
        assert!(expire_all(&mut table, at(199)).is_empty());
        assert_eq!(expire_all(&mut table, at(200)).len(), 1);
        assert_eq!(table.events().get(Nat64TableEvent::SessionsKeptAtExpiry), 1);
    }

    #[test]
    fn expiry_work_per_call_is_bounded() {
        let mut table = Nat64Table::new(limits(256, 256, 256), KEY, at(0));
        for port in 0..100 {
            udp(
                &mut table,
                1,
                port,
                SessionClass::HalfOpen,
                at(5 + u64::from(port % 3)),
            )
            .unwrap();
        }
        let mut calls = 0;
        let mut removed = 0;
        loop {
            calls += 1;
            let report = table.expire(at(60), 16, |_| ExpiryDecision::Remove);
            assert!(report.visited <= 16);
            removed += report.removed;
            if report.finished {
                break;
            }
        }
        assert_eq!(removed, 100);
        assert_eq!(calls, 7);
        assert_eq!(table.session_count(), 0);
        // Zero work allowed: nothing done, not finished while something is due.
        udp(&mut table, 1, 1, SessionClass::HalfOpen, at(70)).unwrap();
        let report = table.expire(at(80), 0, |_| ExpiryDecision::Remove);
        assert!(!report.finished);
        assert_eq!(table.session_count(), 1);
    }

    #[test]
    fn timers_beyond_the_wheel_and_time_jumps() {
        let mut table = Nat64Table::new(limits(64, 64, 64), KEY, at(0));
        let span = WHEEL_BUCKETS as u64;
        // TCP_EST (7440 s) is beyond the 4096 s span.
        let far = udp(&mut table, 1, 1, SessionClass::Established, at(7440)).unwrap();
        let very_far = udp(
            &mut table,
            1,
            2,
            SessionClass::Established,
            at(5 * span + 3),
        )
        .unwrap();
        let near = udp(&mut table, 1, 3, SessionClass::Established, at(100)).unwrap();
        let mut now = 0;
        let mut expired = Vec::new();
        while now < 6 * span {
            now += 50;
            for session in expire_all(&mut table, at(now)) {
                assert!(session.expiry <= at(now));
                assert!(session.expiry > at(now - 50), "expired late");
                expired.push(session.id);
            }
        }
        assert_eq!(expired, [near.id, far.id, very_far.id]);
        // A jump of hours: everything due at once, nothing early.
        let mut table = Nat64Table::new(limits(64, 64, 64), KEY, at(0));
        udp(&mut table, 1, 1, SessionClass::Established, at(10)).unwrap();
        udp(&mut table, 1, 2, SessionClass::Established, at(3 * span)).unwrap();
        udp(&mut table, 1, 3, SessionClass::Established, at(20 * span)).unwrap();
        assert_eq!(expire_all(&mut table, at(10 * span)).len(), 2);
        assert_eq!(table.session_count(), 1);
        assert!(expire_all(&mut table, at(20 * span - 1)).is_empty());
        assert_eq!(expire_all(&mut table, at(20 * span)).len(), 1);
    }

    #[test]
    fn static_bindings_never_expire() {
        let mut table = Nat64Table::new(limits(8, 8, 8), KEY, at(0));
        let server = table
            .add_static_binding(Nat64Protocol::Tcp, host(80, 80), pool(1, 8080))
            .unwrap();
        assert_eq!(
            table.add_static_binding(Nat64Protocol::Tcp, host(80, 80), pool(1, 8081)),
            Err(Nat64TableError::BindingExists)
        );
        assert_eq!(
            table.add_static_binding(Nat64Protocol::Tcp, host(81, 80), pool(1, 8080)),
            Err(Nat64TableError::Ipv4TransportInUse)
        );
        // An inbound connection (§3.5.2.2, V4 SYN) on the static binding.
        let session = table
            .create_session(
                SessionBinding::Existing(server),
                remote(5, 33333),
                1,
                SessionClass::HalfOpen,
                at(6),
            )
            .unwrap();
        assert_eq!(
            table
                .session_by_ipv4(Nat64Protocol::Tcp, pool(1, 8080), remote(5, 33333))
                .unwrap()
                .id,
            session.id
        );
        assert_eq!(expire_all(&mut table, at(1_000_000)).len(), 1);
        let view = table.binding(server).unwrap();
        assert!(view.is_static);
        assert_eq!(view.sessions, 0);
        assert!(
            table
                .binding_by_ipv4(Nat64Protocol::Tcp, pool(1, 8080))
                .is_some()
        );
        // Eviction never takes a static binding: sessions fill the table,
        // and a new binding in a full BIB is refused rather than evict it.
        let mut small = Nat64Table::new(limits(8, 1, 8), KEY, at(0));
        small
            .add_static_binding(Nat64Protocol::Udp, host(1, 1), pool(1, 1))
            .unwrap();
        assert_eq!(
            udp(&mut small, 2, 2, SessionClass::HalfOpen, at(5)),
            Err(Nat64TableError::BindingTableFull)
        );
        // The administrator removes it; with a session it becomes dynamic
        // and goes with that session.
        let session = table
            .create_session(
                SessionBinding::Existing(server),
                remote(5, 1),
                1,
                SessionClass::Established,
                at(7200),
            )
            .unwrap();
        assert_eq!(
            table.remove_static_binding(BindingId(7)),
            Err(Nat64TableError::UnknownBinding)
        );
        table.remove_static_binding(server).unwrap();
        assert!(!table.binding(server).unwrap().is_static);
        assert_eq!(
            table.remove_static_binding(server),
            Err(Nat64TableError::NotStatic)
        );
        table.remove_session(session.id).unwrap();
        assert!(table.binding(server).is_none());
        let again = table
            .add_static_binding(Nat64Protocol::Tcp, host(80, 80), pool(1, 8080))
            .unwrap();
        table.remove_static_binding(again).unwrap();
        assert_eq!(table.binding_count(), 0);
    }

    #[test]
    fn stale_ids_are_refused_without_panic() {
        let mut table = Nat64Table::new(limits(4, 4, 4), KEY, at(0));
        let session = udp(&mut table, 1, 1, SessionClass::HalfOpen, at(5)).unwrap();
        table.remove_session(session.id).unwrap();
        assert_eq!(
            table.remove_session(session.id),
            Err(Nat64TableError::UnknownSession)
        );
        assert_eq!(
            table.update_session(SessionId(u32::MAX), 0, SessionClass::HalfOpen, at(1)),
            Err(Nat64TableError::UnknownSession)
        );
        assert_eq!(
            table.create_session(
                SessionBinding::Existing(session.binding),
                remote(1, 1),
                0,
                SessionClass::HalfOpen,
                at(1)
            ),
            Err(Nat64TableError::UnknownBinding)
        );
        assert!(table.session(SessionId(3)).is_none());
        assert!(table.binding(BindingId(u32::MAX)).is_none());
        assert!(!table.binding_has_session_with(BindingId(99), Ipv4Addr::LOCALHOST));
        // Degenerate limits are clamped, never a panic.
        let mut tiny = Nat64Table::new(
            Nat64TableLimits {
                sessions: 0,
                bindings: 0,
                sessions_per_source: 0,
                tick: Duration::from_micros(0),
            },
            KEY,
            Instant::from_micros(i64::MIN / 2),
        );
        assert_eq!(
            udp(&mut tiny, 1, 1, SessionClass::HalfOpen, at(5)),
            Err(Nat64TableError::SourceSessionLimit)
        );
        let report = tiny.expire(Instant::from_micros(i64::MAX), 10, |_| {
            ExpiryDecision::Remove
        });
        assert!(report.finished);
    }

    /// A small deterministic RNG (xorshift64*).
    struct Random(u64);

    impl Random {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, bound: u64) -> u64 {
            self.next() % bound
        }
    }

    type SessionKey = (Nat64Protocol, SocketAddrV6, SocketAddrV4);

    #[test]
    fn random_operations_match_a_hash_map_model() {
        const PROTOCOLS: [Nat64Protocol; 3] =
            [Nat64Protocol::Tcp, Nat64Protocol::Udp, Nat64Protocol::Icmp];
        const CLASSES: [SessionClass; 3] = [
            SessionClass::Established,
            SessionClass::Transitory,
            SessionClass::HalfOpen,
        ];
        for seed in 1..=4u64 {
            let mut random = Random(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            // Small indexes, so probe runs are long and wrap around.
            let mut table = Nat64Table::new(limits(300, 300, 300), [seed, !seed], at(0));
            let mut sessions: HashMap<SessionKey, ModelSession> = HashMap::new();
            let mut bindings: HashMap<(Nat64Protocol, SocketAddrV6), (SocketAddrV4, usize)> =
                HashMap::new();
            let mut next_port: u16 = 1;
            let mut now = 0u64;
            for step in 0..20_000 {
                let protocol = PROTOCOLS[random.below(3) as usize];
                let ipv6 = host(random.below(12) as u16, random.below(8) as u16);
                let remote_transport = remote(random.below(6) as u8, random.below(4) as u16);
                let key = (protocol, ipv6, remote_transport);
                let class = CLASSES[random.below(3) as usize];
                let expiry = now + 1 + random.below(60);
                let operation = random.below(10);
                if operation < 5 && sessions.len() < 280 {
                    let binding = match table.binding_by_ipv6(protocol, ipv6) {
                        Some(view) => SessionBinding::Existing(view.id),
                        None => {
                            next_port = next_port.wrapping_add(1).max(1);
                            new_binding(protocol, ipv6, pool(1, next_port))
                        }
                    };
                    let state = random.below(256) as u8;
                    let result =
                        table.create_session(binding, remote_transport, state, class, at(expiry));
                    match sessions.entry(key) {
                        Entry::Occupied(_) => {
                            assert_eq!(result, Err(Nat64TableError::SessionExists));
                        }
                        Entry::Vacant(vacant) => {
                            let view = result.unwrap();
                            let entry = bindings.entry((protocol, ipv6)).or_insert((view.ipv4, 0));
                            assert_eq!(entry.0, view.ipv4);
                            entry.1 += 1;
                            vacant.insert(ModelSession {
                                ipv4: view.ipv4,
                                state,
                                id: view.id,
                                expiry,
                            });
                        }
                    }
                } else if operation < 7 {
                    let found = table.session_by_ipv6(protocol, ipv6, remote_transport);
                    match sessions.remove(&key) {
                        Some(model) => {
                            assert_eq!(found.map(|view| view.id), Some(model.id));
                            table.remove_session(model.id).unwrap();
                            forget_binding(&mut bindings, protocol, ipv6);
                        }
                        None => assert!(found.is_none()),
                    }
                } else if operation < 9 {
                    if let Some(model) = sessions.get_mut(&key) {
                        model.state = random.below(256) as u8;
                        model.expiry = expiry;
                        table
                            .update_session(model.id, model.state, class, at(expiry))
                            .unwrap();
                    }
                } else {
                    // Time passes: exactly the sessions due expire (1 s tick,
                    // whole-second expiries).
                    now += random.below(8);
                    let mut expired = Vec::new();
                    let report = table.expire(at(now), usize::MAX, |view| {
                        expired.push((view.protocol, view.ipv6, view.remote));
                        ExpiryDecision::Remove
                    });
                    assert!(report.finished);
                    let mut due: Vec<SessionKey> = sessions
                        .iter()
                        .filter(|(_, model)| model.expiry <= now)
                        .map(|(key, _)| *key)
                        .collect();
                    let order = |key: &SessionKey| (key.0 as u8, key.1, key.2);
                    due.sort_by_key(order);
                    expired.sort_by_key(order);
                    assert_eq!(expired, due);
                    for (protocol, ipv6, remote_transport) in due {
                        sessions.remove(&(protocol, ipv6, remote_transport));
                        forget_binding(&mut bindings, protocol, ipv6);
                    }
                }
                if step % 500 == 0 || step == 19_999 {
                    check_against_model(&table, &sessions, &bindings);
                }
            }
            assert!(table.events().get(Nat64TableEvent::SessionsExpired) > 1000);
        }
    }

    struct ModelSession {
        ipv4: SocketAddrV4,
        state: u8,
        id: SessionId,
        expiry: u64,
    }

    fn forget_binding(
        bindings: &mut HashMap<(Nat64Protocol, SocketAddrV6), (SocketAddrV4, usize)>,
        protocol: Nat64Protocol,
        ipv6: SocketAddrV6,
    ) {
        let entry = bindings.get_mut(&(protocol, ipv6)).unwrap();
        entry.1 -= 1;
        if entry.1 == 0 {
            bindings.remove(&(protocol, ipv6));
        }
    }

    fn check_against_model(
        table: &Nat64Table,
        sessions: &HashMap<SessionKey, ModelSession>,
        bindings: &HashMap<(Nat64Protocol, SocketAddrV6), (SocketAddrV4, usize)>,
    ) {
        assert_eq!(table.session_count(), sessions.len());
        assert_eq!(table.binding_count(), bindings.len());
        for ((protocol, ipv6, remote_transport), model) in sessions {
            let ModelSession {
                ipv4, state, id, ..
            } = model;
            let by_ipv6 = table
                .session_by_ipv6(*protocol, *ipv6, *remote_transport)
                .unwrap();
            assert_eq!(
                (by_ipv6.id, by_ipv6.ipv4, by_ipv6.state),
                (*id, *ipv4, *state)
            );
            let by_ipv4 = table
                .session_by_ipv4(*protocol, *ipv4, *remote_transport)
                .unwrap();
            assert_eq!(by_ipv4.id, *id);
            assert_eq!(by_ipv4.ipv6, *ipv6);
            assert!(table.binding_has_session_with(by_ipv6.binding, *remote_transport.ip()));
        }
        for ((protocol, ipv6), (ipv4, count)) in bindings {
            let view = table.binding_by_ipv6(*protocol, *ipv6).unwrap();
            assert_eq!((view.ipv4, view.sessions as usize), (*ipv4, *count));
            assert_eq!(table.binding_by_ipv4(*protocol, *ipv4).unwrap().id, view.id);
            // Address-dependent filtering agrees with the model for every Z.
            for number in 0..7 {
                let z = Ipv4Addr::new(198, 51, 100, number);
                let expected = sessions
                    .keys()
                    .any(|(p, v6, r)| p == protocol && v6 == ipv6 && *r.ip() == z);
                assert_eq!(table.binding_has_session_with(view.id, z), expected);
            }
        }
        // Per-source counts.
        for number in 0..12 {
            let address = *host(number, 0).ip();
            let expected = sessions
                .keys()
                .filter(|(_, v6, _)| *v6.ip() == address)
                .count();
            assert_eq!(table.source_session_count(address), expected);
        }
        // Every index entry sits within the probe limit and leads back to itself.
        for index in [
            &table.session_ipv6_index,
            &table.session_ipv4_index,
            &table.peer_index,
            &table.binding_ipv6_index,
            &table.binding_ipv4_index,
            &table.source_index,
        ] {
            let live = index
                .positions
                .iter()
                .filter(|value| **value != EMPTY)
                .count();
            assert!(live <= index.positions.len() * 2 / 3 + 1);
        }
        let peers = table
            .peer_index
            .positions
            .iter()
            .filter(|value| **value != EMPTY)
            .count();
        let groups: std::collections::HashSet<_> = sessions
            .keys()
            .map(|(protocol, ipv6, remote_transport)| (*protocol, *ipv6, *remote_transport.ip()))
            .collect();
        assert_eq!(peers, groups.len());
    }

    #[test]
    fn different_keys_give_different_layouts() {
        let build = |key: [u64; 2]| {
            let mut table = Nat64Table::new(limits(1000, 1000, 1000), key, at(0));
            for port in 0..200 {
                udp(
                    &mut table,
                    port % 7,
                    port,
                    SessionClass::Established,
                    at(60),
                )
                .unwrap();
            }
            table
        };
        let first = build([1, 2]);
        let same = build([1, 2]);
        let other = build([3, 4]);
        assert_eq!(
            first.session_ipv6_index.positions,
            same.session_ipv6_index.positions
        );
        assert_ne!(
            first.session_ipv6_index.positions,
            other.session_ipv6_index.positions
        );
        assert_ne!(
            first.session_ipv4_index.positions,
            other.session_ipv4_index.positions
        );
        assert_ne!(
            first.binding_ipv6_index.positions,
            other.binding_ipv6_index.positions
        );
        // Both find everything.
        for port in 0..200 {
            for table in [&first, &other] {
                assert!(
                    table
                        .session_by_ipv4(Nat64Protocol::Udp, pool(1, port), remote(1, 53))
                        .is_some()
                );
            }
        }
    }

    #[test]
    fn index_refuses_beyond_the_probe_limit_and_shifts_back() {
        // Every entry with the same hash: one run.
        let mut index = Index::new(1000);
        let hash = 0x5555_5555_5555_5555;
        for slot in 0..MAX_PROBE_LENGTH {
            let position = index.vacancy(hash).unwrap();
            index.place(position, hash, slot);
        }
        assert_eq!(index.vacancy(hash), None);
        assert_eq!(
            index
                .find(hash, |slot| slot == MAX_PROBE_LENGTH - 1)
                .map(|p| index.slot_at(p)),
            Some(MAX_PROBE_LENGTH - 1)
        );
        // Removing the first shifts the rest back: all still found, room again.
        let first = index.find(hash, |slot| slot == 0).unwrap();
        index.remove(first, |_| hash);
        for slot in 1..MAX_PROBE_LENGTH {
            assert!(index.find(hash, |candidate| candidate == slot).is_some());
        }
        assert!(index.find(hash, |candidate| candidate == 0).is_none());
        assert!(index.vacancy(hash).is_some());
    }

    #[test]
    fn one_million_sessions_fit_in_128_mebibytes() {
        // Measured on a smaller table: the cost is per slot.
        let table = Nat64Table::new(limits(100_000, 100_000, 64), KEY, at(0));
        let per_session = table.memory_bytes() as f64 / 100_000.0;
        assert!(per_session < 134.0, "{per_session} bytes per session");
        assert_eq!(core::mem::size_of::<Session>(), 36);
        assert_eq!(core::mem::size_of::<Binding>(), 32);
        assert_eq!(core::mem::size_of::<Source>(), 24);
    }
}
