//! Bounded buffers for packets waiting on address resolution (RFC 4861 §7.2.2), allocated once.
//!
//! The router holds at most `[neighbor_cache] pending_packets` such
//! packets in total, each in a buffer of the largest port MTU. A neighbor
//! cache entry refers to its queued packets by buffer number (at most
//! three per entry, see `neighbor_cache`). Each buffer remembers the
//! packet's ingress port and previous hop, so that the packet's final
//! verdict is counted on its ingress port and an ICMPv6 error can go back
//! the way it came.

use alloc::boxed::Box;
use alloc::vec;
use alloc::vec::Vec;

use smoltcp::wire::EthernetAddress;

use super::PortIndex;

/// Where a queued packet came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct PendingOrigin {
    /// The port it was received on.
    pub(super) ingress: PortIndex,
    /// The Ethernet source of the frame it came in.
    pub(super) previous_hop: EthernetAddress,
    /// Whether that frame went to a multicast MAC.
    pub(super) link_multicast: bool,
}

#[derive(Clone, Copy, Debug)]
struct Slot {
    length: usize,
    origin: Option<PendingOrigin>,
}

/// The packet buffers and which of them are free.
#[derive(Debug)]
pub(super) struct PendingPackets {
    storage: Box<[u8]>,
    slot_length: usize,
    slots: Vec<Slot>,
    free: Vec<u16>,
}

impl PendingPackets {
    /// `count` buffers (at most 65,536) of `slot_length` bytes.
    pub(super) fn new(count: usize, slot_length: usize) -> PendingPackets {
        let count = count.min(usize::from(u16::MAX) + 1);
        PendingPackets {
            storage: vec![0; count * slot_length].into_boxed_slice(),
            slot_length,
            slots: vec![
                Slot {
                    length: 0,
                    origin: None
                };
                count
            ],
            free: (0..count).rev().map(|id| id as u16).collect(),
        }
    }

    /// Copies `packet` into a free buffer; `None` when all are in use or
    /// the packet is longer than a buffer.
    pub(super) fn store(&mut self, packet: &[u8], origin: PendingOrigin) -> Option<u16> {
        if packet.len() > self.slot_length {
            return None;
        }
        let id = self.free.pop()?;
        let start = usize::from(id) * self.slot_length;
        self.storage[start..start + packet.len()].copy_from_slice(packet);
        self.slots[usize::from(id)] = Slot {
            length: packet.len(),
            origin: Some(origin),
        };
        Some(id)
    }

    /// The packet in buffer `id` and where it came from.
    pub(super) fn get(&self, id: u16) -> Option<(&[u8], PendingOrigin)> {
        let slot = self.slots.get(usize::from(id))?;
        let origin = slot.origin?;
        let start = usize::from(id) * self.slot_length;
        Some((self.storage.get(start..start + slot.length)?, origin))
    }

    /// The bytes of the packet in buffer `id`, to adjust in place.
    pub(super) fn bytes_mut(&mut self, id: u16) -> Option<&mut [u8]> {
        let slot = self.slots.get(usize::from(id))?;
        slot.origin?;
        let start = usize::from(id) * self.slot_length;
        self.storage.get_mut(start..start + slot.length)
    }

    /// Frees buffer `id`; returns where its packet came from.
    pub(super) fn release(&mut self, id: u16) -> Option<PendingOrigin> {
        let slot = self.slots.get_mut(usize::from(id))?;
        let origin = slot.origin.take()?;
        self.free.push(id);
        Some(origin)
    }

    /// How many buffers hold a packet received on `ingress`.
    pub(super) fn count_for(&self, ingress: PortIndex) -> u64 {
        self.slots
            .iter()
            .filter(|slot| slot.origin.is_some_and(|origin| origin.ingress == ingress))
            .count() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_get_release() {
        let origin = PendingOrigin {
            ingress: PortIndex(1),
            previous_hop: EthernetAddress([2, 0, 0, 0, 0, 1]),
            link_multicast: false,
        };
        let mut pending = PendingPackets::new(2, 8);
        let first = pending.store(&[1, 2, 3], origin).unwrap();
        let second = pending.store(&[4; 8], origin).unwrap();
        assert!(pending.store(&[5], origin).is_none(), "full");
        assert_eq!(pending.get(first), Some((&[1u8, 2, 3][..], origin)));
        assert_eq!(pending.count_for(PortIndex(1)), 2);
        assert_eq!(pending.release(second), Some(origin));
        assert_eq!(pending.release(second), None, "released once");
        assert!(pending.store(&[0; 9], origin).is_none(), "too long");
        assert!(pending.store(&[6], origin).is_some());
        assert!(PendingPackets::new(0, 8).store(&[1], origin).is_none());
    }
}
