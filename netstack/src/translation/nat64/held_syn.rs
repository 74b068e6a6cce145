//! Unsolicited inbound TCP SYNs held for TCP_INCOMING_SYN (RFC 6146 §3.5.2.2, V4 SYN in CLOSED; RFC 5382 REQ-4): a bounded store, allocated once, expired in arrival order.
//!
//! # What the RFCs ask
//! A V4 SYN for a pool4 transport address (X, x) with no session is, per
//! §3.5.2.2, either translated (a BIB entry exists and the filtering is
//! endpoint-independent), or *stored*: when (X, x) has no BIB entry, or has
//! one but address-dependent filtering would refuse the packet, the NAT64
//! creates a session in V4 INIT with the lifetime TCP_INCOMING_SYN (6 s)
//! and keeps the packet, "to support simultaneous open of TCP
//! connections". If a V6 SYN of the same connection arrives meanwhile, the
//! session moves to ESTABLISHED and the stored SYN is silently dropped
//! (RFC 5382 REQ-4); if the lifetime expires, an ICMPv4 Port Unreachable
//! (type 3, code 3) quoting the stored SYN goes back to its source (REQ-4:
//! SHOULD, unless the policy forbids it) and the session is deleted.
//!
//! # How it is kept
//! The V4 INIT sessions of stored SYNs live here, not in the session table:
//! with no BIB entry the RFC leaves the session's IPv6 side unspecified,
//! which the table cannot represent, and nothing but a V6 SYN of the same
//! 5-tuple may touch such a session (any other packet of it is refused by
//! the same filter or missing BIB entry that sent the SYN here). A held SYN
//! is keyed by (T, t, Z, z): the pool4 transport address it was sent to and
//! its source. The engine asks [`HeldSyns::release`] when a V6 SYN opens a
//! session toward (Z, z) from (T, t); if a SYN was held, the new session
//! starts ESTABLISHED (V4 INIT + V6 SYN).
//!
//! # Bounds (ARCHITECTURE.md rule 4)
//! - Capacity `held_incoming_syns` (default [`DEFAULT_CAPACITY`]), all
//!   allocated in [`HeldSyns::new`]; a SYN beyond it is dropped silently
//!   (the engine counts `nat64_held_syn_store_full`; RFC 5382 REQ-4 allows
//!   no answer within 6 s, and REQ-4a silence under attack). Capacity 0 is
//!   the policy "silently drop externally initiated connections" of
//!   §3.5.2.2 (`nat64_incoming_syn_dropped`).
//! - A SYN is kept whole, up to [`HELD_SYN_BYTES`] (548: what an ICMPv4
//!   error of 576 bytes quotes, RFC 1812 §4.3.2.3); a longer SYN (one with
//!   data) is not held but dropped silently (`nat64_incoming_syn_dropped`).
//! - Every SYN is held for the same time, so arrival order is expiry order:
//!   the slots form a ring, the oldest at its head, and
//!   [`HeldSyns::pop_expired`] costs O(1) per SYN it hands out. A SYN
//!   released early leaves a dead slot that the ring skips when it reaches
//!   it (it still counts against the capacity until then, at most the hold
//!   time).
//! - Lookups go through a chained hash index keyed with a secret from the
//!   router's seed, so a flood cannot choose colliding keys.

use alloc::vec;
use alloc::vec::Vec;
use core::net::SocketAddrV4;

use smoltcp::time::{Duration, Instant};

/// The most bytes of a held SYN: an ICMPv4 error is at most 576 bytes
/// (RFC 1812 §4.3.2.3), of which 20 are its IPv4 header and 8 its ICMP
/// header.
pub const HELD_SYN_BYTES: usize = 576 - 20 - 8;

/// Default of `held_incoming_syns`: about 570 KiB.
pub const DEFAULT_CAPACITY: u32 = 1024;

/// The largest `held_incoming_syns`.
pub const MAXIMUM_CAPACITY: u32 = 65_536;

/// No slot (end of a hash chain, empty bucket).
const NONE: u32 = u32::MAX;

/// The connection of a held SYN: the pool4 transport address (T, t) it was
/// sent to and its source (Z, z).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeldSynKey {
    /// (T, t).
    pub pool4: SocketAddrV4,
    /// (Z, z).
    pub remote: SocketAddrV4,
}

/// Why a SYN was not held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HoldError {
    /// The store is full (or has capacity 0).
    Full,
    /// Longer than [`HELD_SYN_BYTES`].
    TooLong,
    /// A SYN of the same connection is held already (a retransmission):
    /// the first one stays.
    AlreadyHeld,
}

/// A held SYN whose time ran out (see [`HeldSyns::pop_expired`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExpiredSyn {
    /// Its length, copied to the start of the caller's buffer.
    pub length: usize,
    /// The link-layer address it came from (the ICMPv4 error goes back
    /// there, as every ICMPv4 error of the translator does).
    pub sender: [u8; 6],
}

#[derive(Clone, Debug)]
struct Slot {
    key: HeldSynKey,
    expiry: Instant,
    sender: [u8; 6],
    /// Not yet released or expired.
    live: bool,
    /// The next slot in this slot's hash chain.
    next: u32,
    length: u16,
    bytes: [u8; HELD_SYN_BYTES],
}

/// The store of held SYNs.
#[derive(Debug)]
pub struct HeldSyns {
    slots: Vec<Slot>,
    /// The oldest slot of the ring.
    head: usize,
    /// Slots in the ring, live or dead.
    used: usize,
    /// Live slots.
    live: usize,
    buckets: Vec<u32>,
    key: [u64; 2],
    hold: Duration,
}

fn folded_multiply(first: u64, second: u64) -> u64 {
    let product = u128::from(first) * u128::from(second);
    (product as u64) ^ ((product >> 64) as u64)
}

impl HeldSyns {
    /// A store of `capacity` SYNs, each held for `hold`, its index keyed
    /// with `key`.
    pub fn new(capacity: usize, hold: Duration, key: [u64; 2]) -> HeldSyns {
        let empty = Slot {
            key: HeldSynKey {
                pool4: SocketAddrV4::new(core::net::Ipv4Addr::UNSPECIFIED, 0),
                remote: SocketAddrV4::new(core::net::Ipv4Addr::UNSPECIFIED, 0),
            },
            expiry: Instant::ZERO,
            sender: [0; 6],
            live: false,
            next: NONE,
            length: 0,
            bytes: [0; HELD_SYN_BYTES],
        };
        let buckets = if capacity == 0 {
            0
        } else {
            (capacity * 2).next_power_of_two()
        };
        HeldSyns {
            slots: vec![empty; capacity],
            head: 0,
            used: 0,
            live: 0,
            buckets: vec![NONE; buckets],
            key,
            hold,
        }
    }

    /// The SYNs held now.
    pub fn len(&self) -> usize {
        self.live
    }

    /// The most SYNs held at once.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Whether no SYN is held.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// The bytes allocated for the store.
    pub fn memory_bytes(&self) -> usize {
        self.slots.len() * core::mem::size_of::<Slot>() + self.buckets.len() * 4
    }

    fn bucket(&self, key: &HeldSynKey) -> usize {
        let first = (u64::from(key.pool4.ip().to_bits()) << 16) | u64::from(key.pool4.port());
        let second = (u64::from(key.remote.ip().to_bits()) << 16) | u64::from(key.remote.port());
        let hash = folded_multiply(first ^ self.key[0], second ^ self.key[1]);
        (folded_multiply(hash, 0x9e37_79b9_7f4a_7c15) as usize) & (self.buckets.len() - 1)
    }

    fn find(&self, key: &HeldSynKey) -> Option<usize> {
        if self.live == 0 {
            return None;
        }
        let mut slot = self.buckets[self.bucket(key)];
        while slot != NONE {
            let entry = &self.slots[slot as usize];
            if entry.key == *key {
                return Some(slot as usize);
            }
            slot = entry.next;
        }
        None
    }

    fn unlink(&mut self, index: usize) {
        let bucket = self.bucket(&self.slots[index].key);
        let next = self.slots[index].next;
        if self.buckets[bucket] == index as u32 {
            self.buckets[bucket] = next;
        } else {
            let mut slot = self.buckets[bucket];
            while slot != NONE {
                if self.slots[slot as usize].next == index as u32 {
                    self.slots[slot as usize].next = next;
                    break;
                }
                slot = self.slots[slot as usize].next;
            }
        }
        self.slots[index].live = false;
        self.slots[index].next = NONE;
        self.live -= 1;
    }

    /// Holds the SYN `packet` of `key`, received from `sender`, until
    /// `now` + the hold time.
    pub fn hold(
        &mut self,
        key: HeldSynKey,
        packet: &[u8],
        sender: [u8; 6],
        now: Instant,
    ) -> Result<(), HoldError> {
        if self.used == self.slots.len() {
            return Err(HoldError::Full);
        }
        if packet.len() > HELD_SYN_BYTES {
            return Err(HoldError::TooLong);
        }
        if self.find(&key).is_some() {
            return Err(HoldError::AlreadyHeld);
        }
        let index = (self.head + self.used) % self.slots.len();
        let bucket = self.bucket(&key);
        let slot = &mut self.slots[index];
        slot.key = key;
        slot.expiry = now + self.hold;
        slot.sender = sender;
        slot.live = true;
        slot.next = self.buckets[bucket];
        slot.length = packet.len() as u16;
        slot.bytes[..packet.len()].copy_from_slice(packet);
        self.buckets[bucket] = index as u32;
        self.used += 1;
        self.live += 1;
        Ok(())
    }

    /// Forgets the SYN held for `key` (a V6 SYN of the same connection
    /// arrived: simultaneous open); whether there was one.
    pub fn release(&mut self, key: &HeldSynKey) -> bool {
        match self.find(key) {
            Some(index) => {
                self.unlink(index);
                true
            }
            None => false,
        }
    }

    /// The oldest held SYN whose time ran out by `now`, copied into
    /// `output` (at least [`HELD_SYN_BYTES`] long) and forgotten. Dead
    /// slots met on the way are reclaimed.
    pub fn pop_expired(&mut self, now: Instant, output: &mut [u8]) -> Option<ExpiredSyn> {
        while self.used > 0 {
            let index = self.head;
            if self.slots[index].expiry > now {
                return None;
            }
            self.head = (self.head + 1) % self.slots.len();
            self.used -= 1;
            if !self.slots[index].live {
                continue;
            }
            self.unlink(index);
            let slot = &self.slots[index];
            let length = usize::from(slot.length).min(output.len());
            output[..length].copy_from_slice(&slot.bytes[..length]);
            return Some(ExpiredSyn {
                length,
                sender: slot.sender,
            });
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::Ipv4Addr;

    fn key(port: u16) -> HeldSynKey {
        HeldSynKey {
            pool4: SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), port),
            remote: SocketAddrV4::new(Ipv4Addr::new(203, 0, 113, 80), 4000),
        }
    }

    fn store(capacity: usize) -> HeldSyns {
        HeldSyns::new(capacity, Duration::from_secs(6), [7, 11])
    }

    #[test]
    fn a_held_syn_expires_after_the_hold_time_in_arrival_order() {
        let mut syns = store(4);
        let mut output = [0u8; HELD_SYN_BYTES];
        syns.hold(key(1), &[1; 40], [2; 6], Instant::from_secs(0))
            .unwrap();
        syns.hold(key(2), &[2; 44], [3; 6], Instant::from_secs(1))
            .unwrap();
        assert_eq!(
            syns.pop_expired(Instant::from_millis(5_999), &mut output),
            None
        );
        let first = syns
            .pop_expired(Instant::from_secs(6), &mut output)
            .unwrap();
        assert_eq!((first.length, first.sender), (40, [2; 6]));
        assert_eq!(output[..40], [1; 40]);
        assert_eq!(syns.pop_expired(Instant::from_secs(6), &mut output), None);
        let second = syns
            .pop_expired(Instant::from_secs(7), &mut output)
            .unwrap();
        assert_eq!(second.length, 44);
        assert!(syns.is_empty());
    }

    #[test]
    fn a_released_syn_never_expires_and_its_slot_comes_back() {
        let mut syns = store(2);
        let mut output = [0u8; HELD_SYN_BYTES];
        syns.hold(key(1), &[1; 40], [0; 6], Instant::ZERO).unwrap();
        syns.hold(key(2), &[1; 40], [0; 6], Instant::ZERO).unwrap();
        assert_eq!(
            syns.hold(key(3), &[1; 40], [0; 6], Instant::ZERO),
            Err(HoldError::Full)
        );
        assert!(syns.release(&key(1)));
        assert!(!syns.release(&key(1)));
        assert_eq!(syns.len(), 1);
        let expired = syns.pop_expired(Instant::from_secs(6), &mut output);
        assert_eq!(expired.map(|syn| syn.length), Some(40));
        assert_eq!(syns.pop_expired(Instant::from_secs(6), &mut output), None);
        syns.hold(key(3), &[1; 40], [0; 6], Instant::from_secs(6))
            .unwrap();
        syns.hold(key(4), &[1; 40], [0; 6], Instant::from_secs(6))
            .unwrap();
    }

    #[test]
    fn retransmissions_long_syns_and_capacity_zero_are_refused() {
        let mut syns = store(2);
        syns.hold(key(1), &[1; 40], [0; 6], Instant::ZERO).unwrap();
        assert_eq!(
            syns.hold(key(1), &[1; 40], [0; 6], Instant::ZERO),
            Err(HoldError::AlreadyHeld)
        );
        assert_eq!(
            syns.hold(key(2), &[1; HELD_SYN_BYTES + 1], [0; 6], Instant::ZERO),
            Err(HoldError::TooLong)
        );
        let mut none = store(0);
        assert_eq!(
            none.hold(key(1), &[1; 40], [0; 6], Instant::ZERO),
            Err(HoldError::Full)
        );
        assert!(!none.release(&key(1)));
        assert_eq!(none.pop_expired(Instant::from_secs(60), &mut [0; 8]), None);
    }

    #[test]
    fn many_keys_in_one_store_are_found() {
        let mut syns = store(512);
        for port in 0..512 {
            syns.hold(key(port), &[0; 40], [0; 6], Instant::ZERO)
                .unwrap();
        }
        for port in (0..512).rev().step_by(3) {
            assert!(syns.release(&key(port)), "{port}");
        }
        for port in 0..512 {
            assert_eq!(syns.find(&key(port)).is_some(), (511 - port) % 3 != 0);
        }
    }
}
