//! The neighbor cache of one port: RFC 4861 §7.3 Neighbor Unreachability Detection states, bounded and keyed with a secret (RFC 6583).
//!
//! # States (RFC 4861 §7.3.2, Appendix C)
//! INCOMPLETE → (advertisement) → REACHABLE or STALE; REACHABLE → (after
//! ReachableTime) STALE; STALE → (a packet is sent) DELAY → (after
//! DELAY_FIRST_PROBE_TIME) PROBE → (solicited advertisement) REACHABLE, or
//! deleted after MAX_UNICAST_SOLICIT probes. INCOMPLETE is deleted after
//! MAX_MULTICAST_SOLICIT solicitations, and its queued packets get ICMPv6
//! Destination Unreachable code 3 (the router sends them). Static entries
//! (`[[neighbor]]`) never change and never expire.
//!
//! REACHABLE → STALE needs no action, so it is evaluated lazily: an entry
//! whose reachable deadline has passed behaves as STALE wherever it is
//! read. Only INCOMPLETE, DELAY and PROBE arm a timer; [`NeighborCache::due`]
//! tells the poll loop whether any has expired, so an idle cache costs one
//! comparison per poll.
//!
//! # Bounds (RFC 6583 §6, §7)
//! - A fixed number of entries per port (`[neighbor_cache] capacity`),
//!   allocated at start. A new entry takes a free slot; when none is free
//!   a STALE entry (or an expired REACHABLE one) with no queued packets is
//!   evicted, found by a clock hand; REACHABLE, INCOMPLETE, DELAY, PROBE
//!   and static entries are never evicted, so a scan of a /64 cannot push
//!   out neighbors in use.
//! - At most `incomplete_limit` INCOMPLETE entries, and new resolutions
//!   (multicast solicitations) pass a per-port token bucket. Probes of
//!   entries in use (priority 2 of RFC 6583 §7.1) and answers to
//!   solicitations (priority 1) are not limited by it.
//! - At most [`MAX_PENDING_PER_NEIGHBOR`] queued packets per entry; their
//!   bytes live in the router's bounded pending-packet buffers.
//!
//! # Lookup
//! Slots are found through an open-addressing index (linear probing,
//! backward-shift deletion, at most half full) hashed with a key drawn
//! from the router's seed: a folded 64×64→128-bit multiply over the
//! address halves, the construction of the `foldhash`/`ahash` family. An
//! attacker who does not know the key cannot choose addresses that
//! collide; the probe length is bounded by the capacity in any case.
//! Slot numbers are stable while an entry lives.

use alloc::vec;
use alloc::vec::Vec;
use core::net::Ipv6Addr;

use heapless::Deque;
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::EthernetAddress;

use super::token_bucket::TokenBucket;
use crate::counters::{DropReason, EventCounts, PortEvent};

/// MAX_MULTICAST_SOLICIT (RFC 4861 §10).
pub const MAX_MULTICAST_SOLICIT: u8 = 3;
/// MAX_UNICAST_SOLICIT (RFC 4861 §10).
pub const MAX_UNICAST_SOLICIT: u8 = 3;
/// RETRANS_TIMER (RFC 4861 §10).
pub const RETRANS_TIMER: Duration = Duration::from_millis(1000);
/// DELAY_FIRST_PROBE_TIME (RFC 4861 §10).
pub const DELAY_FIRST_PROBE_TIME: Duration = Duration::from_secs(5);
/// REACHABLE_TIME (RFC 4861 §10), the base of the randomized ReachableTime.
pub const REACHABLE_TIME: Duration = Duration::from_millis(30_000);
/// Packets queued per INCOMPLETE neighbor (RFC 4861 §7.2.2: at least one).
pub const MAX_PENDING_PER_NEIGHBOR: usize = 3;

/// The state of a neighbor cache entry (RFC 4861 §7.3.2), plus static entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NeighborState {
    /// Address resolution in progress.
    Incomplete,
    /// Reachable within ReachableTime.
    Reachable,
    /// Unknown reachability; nothing is done until a packet is sent.
    Stale,
    /// A packet was sent; waiting DELAY_FIRST_PROBE_TIME before probing.
    Delay,
    /// Probing with unicast solicitations.
    Probe,
    /// Configured (`[[neighbor]]`): never changes, never expires.
    Static,
}

/// The slot numbers of a neighbor's queued packets, oldest first.
pub(super) type PendingList = Deque<u16, MAX_PENDING_PER_NEIGHBOR>;

#[derive(Clone, Debug)]
struct Entry {
    address: Ipv6Addr,
    mac: EthernetAddress,
    state: NeighborState,
    is_router: bool,
    /// REACHABLE: when it becomes STALE. INCOMPLETE, DELAY, PROBE: the timer.
    deadline: Instant,
    /// Solicitations sent in INCOMPLETE or PROBE.
    solicitations: u8,
    pending: PendingList,
}

impl Entry {
    /// The state as seen at `now` (REACHABLE past its deadline is STALE).
    fn state_at(&self, now: Instant) -> NeighborState {
        if self.state == NeighborState::Reachable && now >= self.deadline {
            NeighborState::Stale
        } else {
            self.state
        }
    }
}

/// What forwarding a packet to a neighbor needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Resolution {
    /// Send to this MAC address now.
    Ready(EthernetAddress),
    /// Queue the packet on this slot (resolution is in progress).
    Queue(usize),
    /// A new INCOMPLETE entry in this slot: send a multicast solicitation,
    /// then queue the packet on it.
    Solicit(usize),
}

/// What a neighbor's timer asks for (see [`NeighborCache::timer`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum TimerAction {
    /// Nothing due.
    None,
    /// Send a multicast solicitation for `target` (INCOMPLETE retransmission).
    Solicit {
        /// The address being resolved.
        target: Ipv6Addr,
    },
    /// Send a unicast probe for `target` to `mac` (DELAY → PROBE, PROBE retransmission).
    Probe {
        /// The neighbor's address.
        target: Ipv6Addr,
        /// Its cached MAC address.
        mac: EthernetAddress,
    },
    /// Resolution failed; the entry is gone and these packets must be
    /// answered with Destination Unreachable code 3 and freed.
    Failed(PendingList),
    /// The work is due but there is no room to send; retried next poll.
    Deferred,
}

/// Where a link-layer address was learned (RFC 4861 §7.2.3, §6.2.6, §7.3.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum LearnedFrom {
    /// A Neighbor Solicitation's Source Link-Layer Address option.
    NeighborSolicitation,
    /// A Router Solicitation's option: the sender is a host (IsRouter false).
    RouterSolicitation,
    /// A Router Advertisement's option: the sender is a router.
    RouterAdvertisement,
}

/// The flags and option of a valid Neighbor Advertisement (RFC 4861 §4.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Advertisement {
    /// The Target Link-Layer Address option, if present.
    pub(super) mac: Option<EthernetAddress>,
    /// R.
    pub(super) router: bool,
    /// S.
    pub(super) solicited: bool,
    /// O.
    pub(super) override_flag: bool,
}

/// The neighbor cache of one port. See the [module documentation](self).
#[derive(Debug)]
pub(super) struct NeighborCache {
    entries: Vec<Option<Entry>>,
    free: Vec<u32>,
    /// Open-addressing index: 0 is empty, otherwise slot + 1.
    index: Vec<u32>,
    index_mask: usize,
    key: [u64; 2],
    incomplete: usize,
    incomplete_limit: usize,
    solicitations: TokenBucket,
    reachable_time: Duration,
    /// The earliest armed timer, or later; `due` compares against it.
    next_deadline: Instant,
    /// Where the eviction scan resumes.
    clock_hand: usize,
}

/// The far future, for "no timer armed".
const NEVER: Instant = Instant::from_micros_const(i64::MAX);

impl NeighborCache {
    /// A cache of `capacity` entries (at least 1), with a hash `key`.
    pub(super) fn new(
        capacity: usize,
        incomplete_limit: usize,
        solicitations: TokenBucket,
        key: [u64; 2],
        reachable_time: Duration,
    ) -> NeighborCache {
        let capacity = capacity.max(1);
        let index_length = (capacity * 2).next_power_of_two();
        NeighborCache {
            entries: vec![None; capacity],
            free: (0..capacity as u32).rev().collect(),
            index: vec![0; index_length],
            index_mask: index_length - 1,
            key,
            incomplete: 0,
            incomplete_limit,
            solicitations,
            reachable_time,
            next_deadline: NEVER,
            clock_hand: 0,
        }
    }

    /// How many entries are in use.
    pub(super) fn len(&self) -> usize {
        self.entries.len() - self.free.len()
    }

    /// How many entries there can be.
    pub(super) fn capacity(&self) -> usize {
        self.entries.len()
    }

    /// How many entries are INCOMPLETE.
    pub(super) fn incomplete_count(&self) -> usize {
        self.incomplete
    }

    fn home(&self, address: Ipv6Addr) -> usize {
        let bits = address.to_bits();
        let first = folded_multiply((bits >> 64) as u64 ^ self.key[0], bits as u64 ^ self.key[1]);
        let mixed = folded_multiply(first ^ self.key[1], 0x9e37_79b9_7f4a_7c15);
        (mixed as usize) & self.index_mask
    }

    /// The index position holding `address`, if any.
    fn position(&self, address: Ipv6Addr) -> Option<usize> {
        let mut position = self.home(address);
        loop {
            let value = self.index[position];
            if value == 0 {
                return None;
            }
            let slot = (value - 1) as usize;
            if self.entries[slot]
                .as_ref()
                .is_some_and(|entry| entry.address == address)
            {
                return Some(position);
            }
            position = (position + 1) & self.index_mask;
        }
    }

    /// The slot of `address`, if it has an entry: [`NeighborCache::find`]
    /// with the slot taken from the probe that found it, not read back
    /// from the index (no second index or bounds check per packet on the
    /// translator's fast paths).
    #[cfg(feature = "legacy-ip")]
    fn find_slot(&self, address: Ipv6Addr) -> Option<usize> {
        let mut position = self.home(address);
        loop {
            let value = *self.index.get(position)?;
            if value == 0 {
                return None;
            }
            let slot = (value - 1) as usize;
            if self
                .entries
                .get(slot)?
                .as_ref()
                .is_some_and(|entry| entry.address == address)
            {
                return Some(slot);
            }
            position = (position + 1) & self.index_mask;
        }
    }

    /// The slot of `address`, if it has an entry.
    pub(super) fn find(&self, address: Ipv6Addr) -> Option<usize> {
        self.position(address)
            .map(|position| (self.index[position] - 1) as usize)
    }

    /// The state of `address` at `now`, for inspection.
    pub(super) fn state(&self, address: Ipv6Addr, now: Instant) -> Option<NeighborState> {
        let slot = self.find(address)?;
        self.entries[slot].as_ref().map(|entry| entry.state_at(now))
    }

    /// The cached MAC address and router flag of `address`, for inspection.
    pub(super) fn link_layer(&self, address: Ipv6Addr) -> Option<(EthernetAddress, bool)> {
        let slot = self.find(address)?;
        self.entries[slot]
            .as_ref()
            .map(|entry| (entry.mac, entry.is_router))
    }

    /// The MAC address to send to `address` now, if sending needs no state
    /// change: REACHABLE (not yet expired), DELAY, PROBE or static (RFC 4861
    /// §7.3.3: sending in these states changes nothing). STALE and
    /// INCOMPLETE go through [`NeighborCache::resolve`].
    #[cfg(feature = "legacy-ip")]
    pub(super) fn usable_mac(&self, address: Ipv6Addr, now: Instant) -> Option<EthernetAddress> {
        let slot = self.find_slot(address)?;
        let entry = self.entries.get(slot)?.as_ref()?;
        match entry.state_at(now) {
            NeighborState::Reachable
            | NeighborState::Delay
            | NeighborState::Probe
            | NeighborState::Static => Some(entry.mac),
            NeighborState::Stale | NeighborState::Incomplete => None,
        }
    }

    /// The MAC address of the entry in `slot`.
    pub(super) fn mac(&self, slot: usize) -> Option<EthernetAddress> {
        self.entries.get(slot)?.as_ref().map(|entry| entry.mac)
    }

    /// The address of the entry in `slot`.
    pub(super) fn address(&self, slot: usize) -> Option<Ipv6Addr> {
        self.entries.get(slot)?.as_ref().map(|entry| entry.address)
    }

    fn insert_index(&mut self, address: Ipv6Addr, slot: usize) {
        let mut position = self.home(address);
        while self.index[position] != 0 {
            position = (position + 1) & self.index_mask;
        }
        self.index[position] = slot as u32 + 1;
    }

    /// Removes index position `hole` and shifts later members of its probe
    /// run back, so that lookups never need tombstones.
    fn remove_index(&mut self, mut hole: usize) {
        self.index[hole] = 0;
        let mut position = hole;
        loop {
            position = (position + 1) & self.index_mask;
            let value = self.index[position];
            if value == 0 {
                return;
            }
            let Some(address) = self.address((value - 1) as usize) else {
                return;
            };
            let home = self.home(address);
            // Move it into the hole unless its home lies cyclically in (hole, position].
            let distance_to_hole = position.wrapping_sub(hole) & self.index_mask;
            let distance_to_home = position.wrapping_sub(home) & self.index_mask;
            if distance_to_home >= distance_to_hole {
                self.index[hole] = value;
                self.index[position] = 0;
                hole = position;
            }
        }
    }

    /// Deletes the entry in `slot` and returns its queued packets.
    pub(super) fn remove(&mut self, slot: usize) -> PendingList {
        let Some(address) = self.address(slot) else {
            return PendingList::new();
        };
        if let Some(position) = self.position(address) {
            self.remove_index(position);
        }
        let entry = self.entries[slot].take();
        self.free.push(slot as u32);
        match entry {
            Some(entry) => {
                if entry.state == NeighborState::Incomplete {
                    self.incomplete -= 1;
                }
                entry.pending
            }
            None => PendingList::new(),
        }
    }

    /// A free slot, evicting a STALE entry without queued packets if needed
    /// (RFC 6583 §7.1: entries in use are kept).
    fn free_slot(&mut self, now: Instant, events: &mut EventCounts) -> Option<usize> {
        if let Some(slot) = self.free.pop() {
            self.free.push(slot);
            return Some(slot as usize);
        }
        let capacity = self.entries.len();
        for _ in 0..capacity {
            let slot = self.clock_hand;
            self.clock_hand = (self.clock_hand + 1) % capacity;
            let evictable = self.entries[slot].as_ref().is_some_and(|entry| {
                entry.state_at(now) == NeighborState::Stale && entry.pending.is_empty()
            });
            if evictable {
                self.remove(slot);
                events.increment(PortEvent::NeighborEntriesEvicted);
                return Some(slot);
            }
        }
        None
    }

    /// Creates an entry for `address` (which has none).
    fn create(
        &mut self,
        address: Ipv6Addr,
        entry: Entry,
        now: Instant,
        events: &mut EventCounts,
    ) -> Option<usize> {
        let slot = self.free_slot(now, events)?;
        let taken = self.free.pop();
        debug_assert_eq!(taken, Some(slot as u32));
        if entry.state == NeighborState::Incomplete {
            self.incomplete += 1;
            self.arm(entry.deadline);
        }
        self.entries[slot] = Some(entry);
        self.insert_index(address, slot);
        events.increment(PortEvent::NeighborEntriesCreated);
        Some(slot)
    }

    fn arm(&mut self, deadline: Instant) {
        self.next_deadline = self.next_deadline.min(deadline);
    }

    /// Adds a static entry (`[[neighbor]]`), replacing any dynamic one.
    /// Returns false when the cache is full.
    pub(super) fn add_static(&mut self, address: Ipv6Addr, mac: EthernetAddress) -> bool {
        if let Some(slot) = self.find(address) {
            self.remove(slot);
        }
        let mut events = EventCounts::new();
        self.create(
            address,
            Entry {
                address,
                mac,
                state: NeighborState::Static,
                is_router: false,
                deadline: NEVER,
                solicitations: 0,
                pending: PendingList::new(),
            },
            Instant::ZERO,
            &mut events,
        )
        .is_some()
    }

    /// Finds how to send a packet to `address` at `now` (RFC 4861 §7.2.2,
    /// §7.3.3): a usable entry gives its MAC (STALE becomes DELAY), an
    /// INCOMPLETE one queues, and no entry starts resolution if the
    /// INCOMPLETE cap and the solicitation rate limit allow it.
    pub(super) fn resolve(
        &mut self,
        address: Ipv6Addr,
        now: Instant,
        events: &mut EventCounts,
    ) -> Result<Resolution, DropReason> {
        if let Some(slot) = self.find(address) {
            let delay_deadline = now + DELAY_FIRST_PROBE_TIME;
            let Some(entry) = self.entries[slot].as_mut() else {
                return Err(DropReason::NeighborCacheFull);
            };
            return Ok(match entry.state_at(now) {
                NeighborState::Incomplete => Resolution::Queue(slot),
                NeighborState::Stale => {
                    entry.state = NeighborState::Delay;
                    entry.deadline = delay_deadline;
                    let mac = entry.mac;
                    self.arm(delay_deadline);
                    Resolution::Ready(mac)
                }
                NeighborState::Reachable
                | NeighborState::Delay
                | NeighborState::Probe
                | NeighborState::Static => Resolution::Ready(entry.mac),
            });
        }
        if self.incomplete >= self.incomplete_limit {
            return Err(DropReason::NeighborIncompleteLimit);
        }
        if !self.solicitations.take(now) {
            return Err(DropReason::NeighborSolicitationRateLimited);
        }
        let entry = Entry {
            address,
            mac: EthernetAddress([0; 6]),
            state: NeighborState::Incomplete,
            is_router: false,
            deadline: now + RETRANS_TIMER,
            solicitations: 1,
            pending: PendingList::new(),
        };
        self.create(address, entry, now, events)
            .map(Resolution::Solicit)
            .ok_or(DropReason::NeighborCacheFull)
    }

    /// Queues pending-packet `id` on the INCOMPLETE entry in `slot`;
    /// returns the oldest one it pushed out, if the queue was full
    /// (RFC 4861 §7.2.2: replace the oldest).
    pub(super) fn enqueue(&mut self, slot: usize, id: u16) -> Option<u16> {
        let entry = self.entries.get_mut(slot)?.as_mut()?;
        let pushed_out = if entry.pending.is_full() {
            entry.pending.pop_front()
        } else {
            None
        };
        // Room was made above.
        let _ = entry.pending.push_back(id);
        pushed_out
    }

    /// Takes the packets queued on `slot` (to send them once resolved).
    pub(super) fn take_pending(&mut self, slot: usize) -> PendingList {
        match self.entries.get_mut(slot).and_then(Option::as_mut) {
            Some(entry) => core::mem::take(&mut entry.pending),
            None => PendingList::new(),
        }
    }

    /// A link-layer address from a Source Link-Layer Address option of a
    /// solicitation or advertisement from `address` (RFC 4861 §7.2.3,
    /// §6.2.6, Appendix C): creates a STALE entry, or records a changed
    /// address as STALE. Returns the slot when an INCOMPLETE entry became
    /// STALE, so that its queued packets are sent.
    pub(super) fn learn(
        &mut self,
        address: Ipv6Addr,
        mac: EthernetAddress,
        from: LearnedFrom,
        now: Instant,
        events: &mut EventCounts,
    ) -> Option<usize> {
        let Some(slot) = self.find(address) else {
            let entry = Entry {
                address,
                mac,
                state: NeighborState::Stale,
                is_router: from == LearnedFrom::RouterAdvertisement,
                deadline: NEVER,
                solicitations: 0,
                pending: PendingList::new(),
            };
            // A full cache of entries in use keeps them; the option is ignored.
            self.create(address, entry, now, events);
            return None;
        };
        let entry = self.entries[slot].as_mut()?;
        match from {
            LearnedFrom::NeighborSolicitation => {}
            LearnedFrom::RouterSolicitation => entry.is_router = false,
            LearnedFrom::RouterAdvertisement => entry.is_router = true,
        }
        match entry.state {
            NeighborState::Static => None,
            NeighborState::Incomplete => {
                entry.mac = mac;
                entry.state = NeighborState::Stale;
                entry.deadline = NEVER;
                self.incomplete -= 1;
                Some(slot)
            }
            _ => {
                if entry.mac != mac {
                    entry.mac = mac;
                    entry.state = NeighborState::Stale;
                    entry.deadline = NEVER;
                }
                None
            }
        }
    }

    /// A valid Neighbor Advertisement for `target` (RFC 4861 §7.2.5).
    /// Returns the slot when an INCOMPLETE entry was resolved, so that its
    /// queued packets are sent. No entry: silently ignored (§7.2.5).
    pub(super) fn advertisement(
        &mut self,
        target: Ipv6Addr,
        advertisement: Advertisement,
        now: Instant,
        events: &mut EventCounts,
    ) -> Option<usize> {
        let slot = self.find(target)?;
        let reachable_until = now + self.reachable_time;
        let entry = self.entries[slot].as_mut()?;
        if entry.state == NeighborState::Static {
            return None;
        }
        if entry.state == NeighborState::Incomplete {
            // Without a link-layer address the advertisement is useless here.
            let mac = advertisement.mac?;
            entry.mac = mac;
            entry.is_router = advertisement.router;
            entry.solicitations = 0;
            if advertisement.solicited {
                entry.state = NeighborState::Reachable;
                entry.deadline = reachable_until;
                events.increment(PortEvent::NeighborConfirmedReachable);
            } else {
                entry.state = NeighborState::Stale;
                entry.deadline = NEVER;
            }
            self.incomplete -= 1;
            return Some(slot);
        }
        let different = advertisement.mac.is_some_and(|mac| mac != entry.mac);
        if !advertisement.override_flag && different {
            // §7.2.5: a REACHABLE entry becomes STALE; nothing else changes.
            if entry.state_at(now) == NeighborState::Reachable {
                entry.state = NeighborState::Stale;
                entry.deadline = NEVER;
            }
            return None;
        }
        if let Some(mac) = advertisement.mac {
            entry.mac = mac;
        }
        if advertisement.solicited {
            entry.state = NeighborState::Reachable;
            entry.deadline = reachable_until;
            entry.solicitations = 0;
            events.increment(PortEvent::NeighborConfirmedReachable);
        } else if different {
            entry.state = NeighborState::Stale;
            entry.deadline = NEVER;
        }
        entry.is_router = advertisement.router;
        None
    }

    /// Whether a timer may have expired at `now`; if so, the caller runs
    /// [`NeighborCache::timer`] over every slot, which re-arms the rest.
    pub(super) fn due(&mut self, now: Instant) -> bool {
        if now < self.next_deadline {
            return false;
        }
        self.next_deadline = NEVER;
        true
    }

    /// Runs the timer of `slot` at `now` (RFC 4861 §7.2.2, §7.3.3).
    /// `can_send` says whether a solicitation would fit in the transmit
    /// area; if not, the due work is left for the next poll.
    pub(super) fn timer(&mut self, slot: usize, now: Instant, can_send: bool) -> TimerAction {
        let Some(entry) = self.entries.get_mut(slot).and_then(Option::as_mut) else {
            return TimerAction::None;
        };
        let deadline = entry.deadline;
        let timed = matches!(
            entry.state,
            NeighborState::Incomplete | NeighborState::Delay | NeighborState::Probe
        );
        if !timed {
            return TimerAction::None;
        }
        if now < deadline {
            self.arm(deadline);
            return TimerAction::None;
        }
        let target = entry.address;
        let mac = entry.mac;
        let action = match entry.state {
            NeighborState::Incomplete if entry.solicitations >= MAX_MULTICAST_SOLICIT => {
                return TimerAction::Failed(self.remove(slot));
            }
            NeighborState::Probe if entry.solicitations >= MAX_UNICAST_SOLICIT => {
                self.remove(slot);
                return TimerAction::Failed(PendingList::new());
            }
            _ if !can_send => {
                self.arm(now);
                return TimerAction::Deferred;
            }
            NeighborState::Incomplete => TimerAction::Solicit { target },
            _ => {
                if entry.state == NeighborState::Delay {
                    entry.state = NeighborState::Probe;
                    entry.solicitations = 0;
                }
                TimerAction::Probe { target, mac }
            }
        };
        entry.solicitations += 1;
        entry.deadline = now + RETRANS_TIMER;
        self.arm(now + RETRANS_TIMER);
        action
    }
}

/// The high and low halves of a 64×64-bit product, XORed.
fn folded_multiply(first: u64, second: u64) -> u64 {
    let product = u128::from(first) * u128::from(second);
    (product as u64) ^ ((product >> 64) as u64)
}

#[cfg(test)]
mod tests {
    //! RFC 4861 Appendix C transitions and RFC 6583 bounds, with virtual time.
    use super::*;

    const MAC_A: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 0xa]);
    const MAC_B: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 0xb]);

    fn cache(capacity: usize) -> NeighborCache {
        NeighborCache::new(
            capacity,
            capacity / 2,
            TokenBucket::new(1000, 1000),
            [1, 2],
            REACHABLE_TIME,
        )
    }

    fn address(index: u32) -> Ipv6Addr {
        Ipv6Addr::from_bits(0x2001_0db8_0000_0001_0000_0000_0000_0000 | u128::from(index))
    }

    fn at(milliseconds: i64) -> Instant {
        Instant::from_millis(milliseconds)
    }

    fn solicited(mac: Option<EthernetAddress>) -> Advertisement {
        Advertisement {
            mac,
            router: false,
            solicited: true,
            override_flag: true,
        }
    }

    #[test]
    fn incomplete_to_reachable_to_stale_delay_probe() {
        let mut cache = cache(16);
        let mut events = EventCounts::new();
        let target = address(1);
        let Ok(Resolution::Solicit(slot)) = cache.resolve(target, at(0), &mut events) else {
            panic!("expected a new resolution");
        };
        assert_eq!(cache.state(target, at(0)), Some(NeighborState::Incomplete));
        assert_eq!(
            cache.resolve(target, at(1), &mut events),
            Ok(Resolution::Queue(slot))
        );
        assert_eq!(cache.enqueue(slot, 7), None);
        // Solicited advertisement with TLLA: REACHABLE, queue handed back.
        assert_eq!(
            cache.advertisement(target, solicited(Some(MAC_A)), at(10), &mut events),
            Some(slot)
        );
        assert_eq!(
            cache.take_pending(slot).into_iter().collect::<Vec<_>>(),
            [7]
        );
        assert_eq!(cache.state(target, at(10)), Some(NeighborState::Reachable));
        assert_eq!(
            cache.resolve(target, at(20), &mut events),
            Ok(Resolution::Ready(MAC_A))
        );
        // ReachableTime later: STALE; a packet makes it DELAY.
        let later = 10 + REACHABLE_TIME.total_millis() as i64;
        assert_eq!(cache.state(target, at(later)), Some(NeighborState::Stale));
        assert_eq!(
            cache.resolve(target, at(later), &mut events),
            Ok(Resolution::Ready(MAC_A))
        );
        assert_eq!(cache.state(target, at(later)), Some(NeighborState::Delay));
        // DELAY_FIRST_PROBE_TIME later: PROBE with a unicast solicitation.
        let probe = later + 5000;
        assert!(cache.due(at(probe)));
        assert_eq!(
            cache.timer(slot, at(probe), true),
            TimerAction::Probe { target, mac: MAC_A }
        );
        assert_eq!(cache.state(target, at(probe)), Some(NeighborState::Probe));
        // Two more probes, then deletion after one more RetransTimer.
        for step in 1..=2 {
            assert!(cache.due(at(probe + step * 1000)));
            assert!(matches!(
                cache.timer(slot, at(probe + step * 1000), true),
                TimerAction::Probe { .. }
            ));
        }
        assert!(!cache.due(at(probe + 2999)));
        assert!(cache.due(at(probe + 3000)));
        assert_eq!(
            cache.timer(slot, at(probe + 3000), true),
            TimerAction::Failed(PendingList::new())
        );
        assert_eq!(cache.state(target, at(probe + 3000)), None);
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn probe_answered_becomes_reachable() {
        let mut cache = cache(16);
        let mut events = EventCounts::new();
        let target = address(2);
        cache.learn(
            target,
            MAC_A,
            LearnedFrom::NeighborSolicitation,
            at(0),
            &mut events,
        );
        assert_eq!(cache.state(target, at(0)), Some(NeighborState::Stale));
        cache.resolve(target, at(0), &mut events).unwrap();
        let slot = cache.find(target).unwrap();
        assert!(cache.due(at(5000)));
        assert!(matches!(
            cache.timer(slot, at(5000), true),
            TimerAction::Probe { .. }
        ));
        cache.advertisement(target, solicited(None), at(5100), &mut events);
        assert_eq!(
            cache.state(target, at(5100)),
            Some(NeighborState::Reachable)
        );
    }

    #[test]
    fn incomplete_fails_after_three_solicitations() {
        let mut cache = cache(16);
        let mut events = EventCounts::new();
        let target = address(3);
        let Ok(Resolution::Solicit(slot)) = cache.resolve(target, at(0), &mut events) else {
            panic!();
        };
        for id in 0..4u16 {
            let pushed_out = cache.enqueue(slot, id);
            assert_eq!(pushed_out, (id == 3).then_some(0), "oldest replaced");
        }
        assert!(!cache.due(at(999)));
        for second in 1..=2 {
            assert!(cache.due(at(second * 1000)));
            assert_eq!(
                cache.timer(slot, at(second * 1000), true),
                TimerAction::Solicit { target }
            );
        }
        // Deferred when there is no room: nothing changes, retried.
        assert!(cache.due(at(3000)));
        assert_eq!(
            cache.timer(slot, at(3000), false),
            TimerAction::Failed({
                let mut list = PendingList::new();
                for id in 1..4 {
                    list.push_back(id).unwrap();
                }
                list
            })
        );
        assert_eq!(cache.incomplete_count(), 0);
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn deferred_when_no_room() {
        let mut cache = cache(16);
        let mut events = EventCounts::new();
        let Ok(Resolution::Solicit(slot)) = cache.resolve(address(4), at(0), &mut events) else {
            panic!();
        };
        assert!(cache.due(at(1000)));
        assert_eq!(cache.timer(slot, at(1000), false), TimerAction::Deferred);
        assert!(cache.due(at(1000)), "re-armed for the next poll");
        assert!(matches!(
            cache.timer(slot, at(1000), true),
            TimerAction::Solicit { .. }
        ));
    }

    #[test]
    fn advertisement_flags_appendix_c() {
        let mut events = EventCounts::new();
        let target = address(5);
        let setup = |state_reachable: bool| {
            let mut cache = cache(16);
            let mut events = EventCounts::new();
            cache.learn(
                target,
                MAC_A,
                LearnedFrom::NeighborSolicitation,
                at(0),
                &mut events,
            );
            if state_reachable {
                cache.advertisement(target, solicited(Some(MAC_A)), at(0), &mut events);
            }
            cache
        };
        let flags = |solicited: bool, override_flag: bool, mac| Advertisement {
            mac: Some(mac),
            router: true,
            solicited,
            override_flag,
        };
        // REACHABLE, S=1 O=0, different LLA: STALE, address kept.
        let mut reachable = setup(true);
        reachable.advertisement(target, flags(true, false, MAC_B), at(1), &mut events);
        assert_eq!(reachable.state(target, at(1)), Some(NeighborState::Stale));
        assert_eq!(reachable.link_layer(target).unwrap().0, MAC_A);
        // STALE, S=1 O=0, different LLA: unchanged.
        let mut stale = setup(false);
        stale.advertisement(target, flags(true, false, MAC_B), at(1), &mut events);
        assert_eq!(stale.state(target, at(1)), Some(NeighborState::Stale));
        assert_eq!(stale.link_layer(target).unwrap().0, MAC_A);
        // S=1 O=0 same LLA: REACHABLE.
        stale.advertisement(target, flags(true, false, MAC_A), at(1), &mut events);
        assert_eq!(stale.state(target, at(1)), Some(NeighborState::Reachable));
        // S=0 O=1 different LLA: recorded, STALE; IsRouter updated.
        stale.advertisement(target, flags(false, true, MAC_B), at(2), &mut events);
        assert_eq!(stale.state(target, at(2)), Some(NeighborState::Stale));
        assert_eq!(stale.link_layer(target), Some((MAC_B, true)));
        // S=0 O=0: unchanged.
        stale.advertisement(target, flags(false, false, MAC_A), at(3), &mut events);
        assert_eq!(stale.link_layer(target).unwrap().0, MAC_B);
        // S=1 O=1 different: recorded, REACHABLE.
        stale.advertisement(target, flags(true, true, MAC_A), at(4), &mut events);
        assert_eq!(stale.state(target, at(4)), Some(NeighborState::Reachable));
        assert_eq!(stale.link_layer(target).unwrap().0, MAC_A);
        // Unsolicited NA for INCOMPLETE: STALE. No entry: ignored.
        let mut fresh = cache(16);
        let Ok(Resolution::Solicit(_)) = fresh.resolve(target, at(0), &mut events) else {
            panic!();
        };
        fresh.advertisement(target, flags(false, true, MAC_B), at(1), &mut events);
        assert_eq!(fresh.state(target, at(1)), Some(NeighborState::Stale));
        assert_eq!(
            fresh.advertisement(address(99), flags(true, true, MAC_B), at(1), &mut events),
            None
        );
        assert_eq!(fresh.state(address(99), at(1)), None);
    }

    #[test]
    fn learn_rules() {
        let mut cache = cache(16);
        let mut events = EventCounts::new();
        let target = address(6);
        // A Router Advertisement marks a router; a solicitation from the
        // same address does not change that; a Router Solicitation clears it.
        cache.learn(
            target,
            MAC_A,
            LearnedFrom::RouterAdvertisement,
            at(0),
            &mut events,
        );
        assert_eq!(cache.link_layer(target), Some((MAC_A, true)));
        cache.learn(
            target,
            MAC_A,
            LearnedFrom::NeighborSolicitation,
            at(0),
            &mut events,
        );
        assert_eq!(cache.link_layer(target), Some((MAC_A, true)));
        cache.learn(
            target,
            MAC_B,
            LearnedFrom::RouterSolicitation,
            at(0),
            &mut events,
        );
        assert_eq!(cache.link_layer(target), Some((MAC_B, false)));
        // Static entries ignore everything.
        assert!(cache.add_static(address(7), MAC_A));
        cache.learn(
            address(7),
            MAC_B,
            LearnedFrom::NeighborSolicitation,
            at(0),
            &mut events,
        );
        cache.advertisement(address(7), solicited(Some(MAC_B)), at(0), &mut events);
        assert_eq!(
            cache.state(address(7), at(1 << 40)),
            Some(NeighborState::Static)
        );
        assert_eq!(cache.link_layer(address(7)).unwrap().0, MAC_A);
    }

    #[test]
    fn reachable_entries_survive_a_flood_of_new_ones() {
        let mut cache = cache(64);
        let mut events = EventCounts::new();
        // 16 neighbors in use, REACHABLE.
        for index in 0..16 {
            cache.learn(
                address(index),
                MAC_A,
                LearnedFrom::NeighborSolicitation,
                at(0),
                &mut events,
            );
            cache.advertisement(address(index), solicited(Some(MAC_A)), at(0), &mut events);
        }
        // A flood of solicitations from 10,000 random sources fills the rest
        // with STALE entries that push each other out.
        for index in 1000..11_000u32 {
            cache.learn(
                address(index.wrapping_mul(2_654_435_761)),
                MAC_B,
                LearnedFrom::NeighborSolicitation,
                at(1),
                &mut events,
            );
        }
        assert_eq!(cache.len(), 64);
        for index in 0..16 {
            assert_eq!(
                cache.state(address(index), at(2)),
                Some(NeighborState::Reachable)
            );
        }
        // Resolutions of random targets stop at the INCOMPLETE cap.
        let mut refused = 0;
        for index in 20_000..21_000u32 {
            if cache.resolve(address(index), at(3), &mut events).is_err() {
                refused += 1;
            }
        }
        assert_eq!(cache.incomplete_count(), 32);
        assert_eq!(refused, 1000 - 32);
        for index in 0..16 {
            assert_eq!(
                cache.state(address(index), at(3)),
                Some(NeighborState::Reachable)
            );
        }
    }

    #[test]
    fn index_stays_consistent_under_churn() {
        let mut cache = cache(32);
        let mut events = EventCounts::new();
        let mut random = super::super::random::Random::new(3);
        let mut present: Vec<Ipv6Addr> = Vec::new();
        for _ in 0..5000 {
            let target = address(random.below(64) as u32);
            if let Some(slot) = cache.find(target) {
                cache.remove(slot);
                present.retain(|known| *known != target);
            } else if cache.len() < cache.capacity() {
                cache.learn(
                    target,
                    MAC_A,
                    LearnedFrom::NeighborSolicitation,
                    at(0),
                    &mut events,
                );
                present.push(target);
            }
            for known in &present {
                assert!(cache.find(*known).is_some());
            }
            assert_eq!(cache.len(), present.len());
        }
    }
}
