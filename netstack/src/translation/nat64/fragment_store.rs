//! Fragments through NAT64 within bounded memory (RFC 6146 §3.4): virtual reassembly — the first fragment finds the session, later fragments of its datagram reuse its addresses; fragments that come before their first wait, a limited time, in a store allocated once.
//!
//! # What the RFC asks
//! §3.4: the NAT64 MUST handle fragments, including out of order; MUST
//! limit the resources they take; while resources last, MUST let them
//! arrive over a configurable interval of at least FRAGMENT_MIN (2 s); MAY
//! require the transport header in the fragment at offset 0. It MAY
//! translate fragments as they arrive, "storing information that allows it
//! to compute the 5-tuple for fragments other than the first".
//!
//! # How
//! The packets are never reassembled: each fragment is translated on its
//! own by the RFC 7915 core, which maps the Fragment header and IPv4
//! fragment fields both ways (RFC 7915 §4.1, §5.1.1).
//! - The first fragment (offset 0, the transport header inside) goes
//!   through its session like a whole packet: its port is rewritten and its
//!   transport checksum updated incrementally (RFC 1624). The checksum
//!   covers the whole datagram, and the update depends only on the old and
//!   new port and addresses, so it is right for the reassembled datagram
//!   (the core adjusts the pseudo-header the same way for a first fragment).
//!   Once translated, the datagram's *mapping* — the addresses its session
//!   gave it — is remembered under (direction, source, destination,
//!   protocol, Identification) for `fragment_timeout_seconds`.
//! - A later fragment whose datagram has a mapping is translated straight
//!   away with those addresses (it carries no port to rewrite).
//! - A later fragment that comes first is *held*: copied into a slot and
//!   kept until the first fragment of its datagram is translated, then
//!   translated and sent right after it ([`FragmentStore::begin_release`],
//!   [`FragmentStore::next_released`]); if the first does not come within
//!   the timeout it is dropped and counted (`nat64_fragment_timeout`).
//!
//! # Bounds (ARCHITECTURE.md rule 4)
//! - `fragments` (default 256) slots of the largest packet each, and as
//!   many mappings, all allocated in [`FragmentStore::new`]. A fragment with
//!   no free slot is dropped (`nat64_fragment_store_full`); a mapping
//!   beyond the capacity replaces the oldest.
//! - A held fragment that overlaps one held for the same datagram is
//!   dropped (`nat64_fragment_overlap`, as RFC 5722 asks of reassembly), and
//!   one that would end beyond 65,535 bytes (`nat64_fragment_too_big`).
//!   Fragments passed straight through are not compared: the receiver
//!   reassembles and applies its own rules.
//! - Every entry waits the same timeout, so arrival order is expiry order:
//!   slots and mappings are rings and [`FragmentStore::expire`] costs O(1)
//!   per entry it removes. Lookups scan the entries (at most the capacity,
//!   which is why `fragments` is at most 4096; none when nothing is held,
//!   the common case, and none at all for unfragmented packets).
//! - Capacity 0 keeps nothing: fragments other than the first are dropped
//!   (`nat64_non_first_fragment`).
//!
//! Not done: IPv4 UDP datagrams with a zero checksum are refused by the core
//! (RFC 6146 §3.4 would have them reassembled to compute the checksum), so
//! their later fragments time out.

use alloc::vec;
use alloc::vec::Vec;
use core::net::{Ipv4Addr, Ipv6Addr};

use smoltcp::time::{Duration, Instant};

use super::flow::FragmentFacts;

/// The largest datagram either family describes (16-bit lengths).
const MAXIMUM_DATAGRAM: usize = 65_535;

/// The datagram a fragment belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FragmentKey {
    /// Received on the IPv4 side.
    pub from_ipv4: bool,
    source: u128,
    destination: u128,
    protocol: u8,
    identification: u32,
}

impl FragmentKey {
    /// The datagram of a fragment received from IPv4 (`from_ipv4`) or IPv6.
    pub fn new(facts: &FragmentFacts, from_ipv4: bool) -> FragmentKey {
        FragmentKey {
            from_ipv4,
            source: facts.source,
            destination: facts.destination,
            protocol: facts.protocol,
            identification: facts.identification,
        }
    }
}

/// The addresses the first fragment of a datagram was translated with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DatagramMapping {
    /// The IPv6 host X'.
    pub ipv6_host: Ipv6Addr,
    /// Its pool4 address T.
    pub pool4_address: Ipv4Addr,
    /// A hairpinned datagram (RFC 6146 §3.8).
    pub hairpin: bool,
}

/// Why a fragment was not held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FragmentRefusal {
    /// No free slot (or capacity 0).
    Full,
    /// It overlaps a fragment held for the same datagram.
    Overlap,
    /// It ends beyond 65,535 bytes, or does not fit a slot.
    TooBig,
}

#[derive(Clone, Copy, Debug)]
struct Mapping {
    key: FragmentKey,
    mapping: DatagramMapping,
    expiry: Instant,
}

#[derive(Clone, Copy, Debug)]
struct Held {
    key: FragmentKey,
    expiry: Instant,
    live: bool,
    /// The fragment's data range in the datagram.
    start: usize,
    end: usize,
    length: usize,
}

/// A ring of `capacity` positions, oldest first.
#[derive(Clone, Copy, Debug, Default)]
struct Ring {
    head: usize,
    used: usize,
}

impl Ring {
    fn position(&self, capacity: usize, nth: usize) -> usize {
        (self.head + nth) % capacity
    }
}

/// Held fragments and the mappings of datagrams whose first fragment was
/// translated.
#[derive(Debug)]
pub struct FragmentStore {
    mappings: Vec<Mapping>,
    mapping_ring: Ring,
    held: Vec<Held>,
    held_ring: Ring,
    held_live: usize,
    /// The held packets, `slot_length` bytes per slot.
    bytes: Vec<u8>,
    slot_length: usize,
    timeout: Duration,
    /// The datagram whose held fragments go out next, per direction (from
    /// IPv6, from IPv4).
    releasing: [Option<FragmentKey>; 2],
}

impl FragmentStore {
    /// A store of `capacity` fragments of up to `slot_length` bytes and
    /// `capacity` mappings, each kept `timeout`.
    pub fn new(capacity: usize, slot_length: usize, timeout: Duration) -> FragmentStore {
        let empty_key = FragmentKey {
            from_ipv4: false,
            source: 0,
            destination: 0,
            protocol: 0,
            identification: 0,
        };
        FragmentStore {
            mappings: vec![
                Mapping {
                    key: empty_key,
                    mapping: DatagramMapping {
                        ipv6_host: Ipv6Addr::UNSPECIFIED,
                        pool4_address: Ipv4Addr::UNSPECIFIED,
                        hairpin: false,
                    },
                    expiry: Instant::ZERO,
                };
                capacity
            ],
            mapping_ring: Ring::default(),
            held: vec![
                Held {
                    key: empty_key,
                    expiry: Instant::ZERO,
                    live: false,
                    start: 0,
                    end: 0,
                    length: 0,
                };
                capacity
            ],
            held_ring: Ring::default(),
            held_live: 0,
            bytes: vec![0; capacity * slot_length],
            slot_length,
            timeout,
            releasing: [None, None],
        }
    }

    /// Fragments and mappings the store keeps at most.
    pub fn capacity(&self) -> usize {
        self.held.len()
    }

    /// Fragments held now.
    pub fn held_count(&self) -> usize {
        self.held_live
    }

    /// The bytes allocated for the store.
    pub fn memory_bytes(&self) -> usize {
        self.bytes.len()
            + self.held.len() * core::mem::size_of::<Held>()
            + self.mappings.len() * core::mem::size_of::<Mapping>()
    }

    /// The mapping of `key`'s datagram, if its first fragment was
    /// translated less than the timeout ago.
    pub fn mapping(&self, key: &FragmentKey, now: Instant) -> Option<DatagramMapping> {
        let capacity = self.mappings.len();
        (0..self.mapping_ring.used)
            .map(|nth| &self.mappings[self.mapping_ring.position(capacity, nth)])
            .find(|entry| entry.key == *key && entry.expiry > now)
            .map(|entry| entry.mapping)
    }

    /// Remembers the mapping of a datagram whose first fragment was just
    /// translated (replacing the oldest mapping when full).
    pub fn remember(&mut self, key: FragmentKey, mapping: DatagramMapping, now: Instant) {
        let capacity = self.mappings.len();
        if capacity == 0 || self.mapping(&key, now).is_some() {
            return;
        }
        if self.mapping_ring.used == capacity {
            self.mapping_ring.head = (self.mapping_ring.head + 1) % capacity;
            self.mapping_ring.used -= 1;
        }
        let position = self.mapping_ring.position(capacity, self.mapping_ring.used);
        self.mappings[position] = Mapping {
            key,
            mapping,
            expiry: now + self.timeout,
        };
        self.mapping_ring.used += 1;
    }

    /// Reclaims the dead slots at the head of the held ring.
    fn reclaim(&mut self) {
        let capacity = self.held.len();
        while self.held_ring.used > 0 && !self.held[self.held_ring.head].live {
            self.held_ring.head = (self.held_ring.head + 1) % capacity;
            self.held_ring.used -= 1;
        }
    }

    /// Holds the fragment `packet` (described by `facts`) of `key`'s
    /// datagram until its first fragment is translated or the timeout.
    pub fn hold(
        &mut self,
        key: FragmentKey,
        facts: &FragmentFacts,
        packet: &[u8],
        now: Instant,
    ) -> Result<(), FragmentRefusal> {
        let capacity = self.held.len();
        let start = facts.offset;
        let end = start + facts.data_length;
        if end > MAXIMUM_DATAGRAM || packet.len() > self.slot_length {
            return Err(FragmentRefusal::TooBig);
        }
        self.reclaim();
        if self.held_ring.used == capacity {
            return Err(FragmentRefusal::Full);
        }
        if self.held_live > 0
            && self
                .held
                .iter()
                .any(|held| held.live && held.key == key && held.start < end && start < held.end)
        {
            return Err(FragmentRefusal::Overlap);
        }
        let position = self.held_ring.position(capacity, self.held_ring.used);
        self.held[position] = Held {
            key,
            expiry: now + self.timeout,
            live: true,
            start,
            end,
            length: packet.len(),
        };
        let slot = position * self.slot_length;
        self.bytes[slot..slot + packet.len()].copy_from_slice(packet);
        self.held_ring.used += 1;
        self.held_live += 1;
        Ok(())
    }

    /// The first fragment of `key`'s datagram was translated: its held
    /// fragments go out next ([`FragmentStore::next_released`]).
    pub fn begin_release(&mut self, key: FragmentKey) {
        if self.held_live > 0 {
            self.releasing[usize::from(key.from_ipv4)] = Some(key);
        }
    }

    /// Whether a datagram's held fragments wait to be sent.
    #[inline]
    pub fn releasing(&self) -> bool {
        self.releasing[0].is_some() || self.releasing[1].is_some()
    }

    /// The next held fragment to send, received from IPv4 (`from_ipv4`)
    /// or IPv6, with its datagram's key; forgotten by
    /// [`FragmentStore::forget`] once translated.
    pub fn next_released(&mut self, from_ipv4: bool) -> Option<(usize, FragmentKey)> {
        let direction = usize::from(from_ipv4);
        let key = self.releasing[direction]?;
        let found = self
            .held
            .iter()
            .position(|held| held.live && held.key == key);
        if found.is_none() {
            self.releasing[direction] = None;
        }
        found.map(|slot| (slot, key))
    }

    /// The bytes of held slot `slot`.
    pub fn packet(&self, slot: usize) -> &[u8] {
        let start = slot * self.slot_length;
        &self.bytes[start..start + self.held[slot].length]
    }

    /// Frees held slot `slot` (sent).
    pub fn forget(&mut self, slot: usize) {
        if self.held[slot].live {
            self.held[slot].live = false;
            self.held_live -= 1;
        }
    }

    /// Drops the held fragments and mappings whose time ran out by `now`;
    /// returns how many fragments were dropped.
    pub fn expire(&mut self, now: Instant) -> u64 {
        let capacity = self.held.len();
        let mut dropped = 0;
        while self.held_ring.used > 0 {
            let head = self.held_ring.head;
            let held = &mut self.held[head];
            if held.live && held.expiry > now {
                break;
            }
            if held.live {
                held.live = false;
                self.held_live -= 1;
                dropped += 1;
            }
            self.held_ring.head = (head + 1) % capacity;
            self.held_ring.used -= 1;
        }
        let capacity = self.mappings.len();
        while self.mapping_ring.used > 0 && self.mappings[self.mapping_ring.head].expiry <= now {
            self.mapping_ring.head = (self.mapping_ring.head + 1) % capacity;
            self.mapping_ring.used -= 1;
        }
        dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(identification: u32, offset: usize, data_length: usize) -> FragmentFacts {
        FragmentFacts {
            source: 1,
            destination: 2,
            protocol: 17,
            identification,
            offset,
            more: true,
            data_length,
        }
    }

    fn mapping() -> DatagramMapping {
        DatagramMapping {
            ipv6_host: "2001:db8:1::b".parse().unwrap(),
            pool4_address: Ipv4Addr::new(192, 0, 2, 1),
            hairpin: false,
        }
    }

    fn store() -> FragmentStore {
        FragmentStore::new(4, 128, Duration::from_secs(2))
    }

    #[test]
    fn held_fragments_are_released_after_their_first() {
        let mut store = store();
        let first = facts(7, 64, 64);
        let key = FragmentKey::new(&first, true);
        store.hold(key, &first, &[1; 84], Instant::ZERO).unwrap();
        let second = facts(7, 128, 16);
        store.hold(key, &second, &[2; 36], Instant::ZERO).unwrap();
        let other = facts(8, 64, 8);
        let other_key = FragmentKey::new(&other, true);
        store
            .hold(other_key, &other, &[3; 28], Instant::ZERO)
            .unwrap();
        assert_eq!(store.next_released(true), None);
        store.remember(key, mapping(), Instant::ZERO);
        store.begin_release(key);
        assert_eq!(store.next_released(false), None, "the other direction");
        let mut lengths = Vec::new();
        while let Some((slot, released)) = store.next_released(true) {
            assert_eq!(released, key);
            lengths.push(store.packet(slot).len());
            store.forget(slot);
        }
        assert_eq!(lengths, [84, 36]);
        assert_eq!(store.held_count(), 1);
        assert_eq!(store.mapping(&key, Instant::from_secs(1)), Some(mapping()));
        assert_eq!(store.mapping(&key, Instant::from_secs(2)), None);
        assert_eq!(store.expire(Instant::from_millis(1_999)), 0);
        assert_eq!(
            store.expire(Instant::from_secs(2)),
            1,
            "the other datagram's"
        );
        assert_eq!(store.held_count(), 0);
    }

    #[test]
    fn overlaps_oversize_and_a_full_store_are_refused() {
        let mut store = store();
        let held = facts(7, 64, 64);
        let key = FragmentKey::new(&held, false);
        store.hold(key, &held, &[0; 100], Instant::ZERO).unwrap();
        assert_eq!(
            store.hold(key, &facts(7, 120, 16), &[0; 60], Instant::ZERO),
            Err(FragmentRefusal::Overlap)
        );
        assert_eq!(
            store.hold(key, &facts(7, 65_528, 16), &[0; 60], Instant::ZERO),
            Err(FragmentRefusal::TooBig)
        );
        assert_eq!(
            store.hold(key, &facts(7, 256, 16), &[0; 129], Instant::ZERO),
            Err(FragmentRefusal::TooBig)
        );
        for identification in 1..4 {
            let other = facts(identification, 8, 8);
            store
                .hold(
                    FragmentKey::new(&other, false),
                    &other,
                    &[0; 56],
                    Instant::ZERO,
                )
                .unwrap();
        }
        let late = facts(9, 8, 8);
        assert_eq!(
            store.hold(
                FragmentKey::new(&late, false),
                &late,
                &[0; 56],
                Instant::ZERO
            ),
            Err(FragmentRefusal::Full)
        );
        assert_eq!(store.expire(Instant::from_secs(2)), 4);
        store
            .hold(
                FragmentKey::new(&late, false),
                &late,
                &[0; 56],
                Instant::from_secs(2),
            )
            .unwrap();
        let mut none = FragmentStore::new(0, 128, Duration::from_secs(2));
        assert_eq!(
            none.hold(key, &held, &[0; 100], Instant::ZERO),
            Err(FragmentRefusal::Full)
        );
        none.remember(key, mapping(), Instant::ZERO);
        assert_eq!(none.mapping(&key, Instant::ZERO), None);
    }

    #[test]
    fn mappings_beyond_the_capacity_replace_the_oldest() {
        let mut store = store();
        let keys: Vec<FragmentKey> = (0..5)
            .map(|identification| FragmentKey::new(&facts(identification, 0, 8), true))
            .collect();
        for key in &keys {
            store.remember(*key, mapping(), Instant::ZERO);
        }
        assert_eq!(store.mapping(&keys[0], Instant::ZERO), None);
        assert!(
            keys[1..]
                .iter()
                .all(|key| store.mapping(key, Instant::ZERO).is_some())
        );
    }
}
