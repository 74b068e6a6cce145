//! The transmit area: fixed slots, allocated once, that the router builds outgoing frames in.
//!
//! Each call to `Router::receive` or `Router::poll` clears the area and
//! fills it from the start, so the per-packet path never allocates. A frame
//! that does not fit (no free slot, or longer than a slot) is refused and the
//! caller counts the drop.

use alloc::boxed::Box;
use alloc::vec;

use heapless::Vec as BoundedVec;

use super::{PortIndex, TRANSMIT_AREA_FRAMES};

/// A frame waiting in the area: its egress port and length. Its bytes are
/// in the slot of the same index.
#[derive(Clone, Copy, Debug)]
struct QueuedFrame {
    port: PortIndex,
    length: usize,
    /// Forwarded (`true`) or originated by the router, for the counters.
    forwarded: bool,
}

/// Fixed-size slots for outgoing frames, and which of them hold a frame.
#[derive(Clone, Debug)]
pub(super) struct TransmitArea {
    storage: Box<[u8]>,
    slot_length: usize,
    frames: BoundedVec<QueuedFrame, TRANSMIT_AREA_FRAMES>,
}

impl TransmitArea {
    /// An area of `slots` slots (at most [`TRANSMIT_AREA_FRAMES`]) of
    /// `slot_length` bytes each.
    pub(super) fn new(slots: usize, slot_length: usize) -> TransmitArea {
        let slots = slots.min(TRANSMIT_AREA_FRAMES);
        // Unit tests start from a dirty area, so that a reply that fails to
        // write one of its bytes shows up as 0xff (the smoltcp convention).
        let fill = if cfg!(test) { 0xff } else { 0 };
        TransmitArea {
            storage: vec![fill; slots * slot_length].into_boxed_slice(),
            slot_length,
            frames: BoundedVec::new(),
        }
    }

    /// Forgets every queued frame (their bytes stay, to be overwritten).
    pub(super) fn clear(&mut self) {
        self.frames.clear();
    }

    /// How many frames are queued.
    pub(super) fn len(&self) -> usize {
        self.frames.len()
    }

    /// Queues a frame of `length` bytes for `port` and returns its bytes for
    /// the caller to fill completely; `None` when the area is full or the
    /// frame is longer than a slot.
    pub(super) fn push(&mut self, port: PortIndex, length: usize) -> Option<&mut [u8]> {
        self.push_frame(port, length, false)
    }

    /// Like [`TransmitArea::push`], for a forwarded frame.
    pub(super) fn push_forwarded(&mut self, port: PortIndex, length: usize) -> Option<&mut [u8]> {
        self.push_frame(port, length, true)
    }

    /// Whether another frame fits.
    pub(super) fn has_room(&self) -> bool {
        self.frames.len() < self.storage.len() / self.slot_length.max(1)
    }

    /// Whether the `index`-th frame was forwarded.
    pub(super) fn is_forwarded(&self, index: usize) -> bool {
        self.frames.get(index).is_some_and(|frame| frame.forwarded)
    }

    fn push_frame(&mut self, port: PortIndex, length: usize, forwarded: bool) -> Option<&mut [u8]> {
        if length > self.slot_length {
            return None;
        }
        let index = self.frames.len();
        let start = index * self.slot_length;
        let slot = self.storage.get_mut(start..start + length)?;
        self.frames
            .push(QueuedFrame {
                port,
                length,
                forwarded,
            })
            .ok()?;
        Some(slot)
    }

    /// Takes back the last queued frame and returns its bytes (the border
    /// translator re-sends an ICMPv6 error as ICMPv4).
    #[cfg(feature = "legacy-ip")]
    pub(super) fn pop_last(&mut self) -> Option<&[u8]> {
        let queued = self.frames.pop()?;
        let start = self.frames.len() * self.slot_length;
        self.storage.get(start..start + queued.length)
    }

    /// Shortens the last queued frame to `length` bytes (it was pushed at
    /// an upper bound of its size: the translator writes in place).
    #[cfg(feature = "legacy-ip")]
    pub(super) fn shrink_last(&mut self, length: usize) {
        if let Some(last) = self.frames.last_mut() {
            last.length = last.length.min(length);
        }
    }

    /// The `index`-th queued frame and its egress port.
    pub(super) fn frame(&self, index: usize) -> Option<(PortIndex, &[u8])> {
        let queued = self.frames.get(index)?;
        let start = index * self.slot_length;
        let bytes = self.storage.get(start..start + queued.length)?;
        Some((queued.port, bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_until_full_then_clear() {
        let mut area = TransmitArea::new(2, 10);
        area.push(PortIndex(1), 10).unwrap().fill(1);
        area.push(PortIndex(0), 3).unwrap().fill(2);
        assert!(area.push(PortIndex(0), 1).is_none(), "only two slots");
        assert_eq!(area.len(), 2);
        assert_eq!(area.frame(0), Some((PortIndex(1), &[1u8; 10][..])));
        assert_eq!(area.frame(1), Some((PortIndex(0), &[2u8; 3][..])));
        assert_eq!(area.frame(2), None);
        area.clear();
        assert_eq!(area.len(), 0);
        assert_eq!(area.frame(0), None);
        assert!(area.push(PortIndex(0), 11).is_none(), "longer than a slot");
        assert!(area.push(PortIndex(0), 0).is_some());
    }

    #[test]
    fn slots_are_capped() {
        let mut area = TransmitArea::new(TRANSMIT_AREA_FRAMES + 5, 4);
        for _ in 0..TRANSMIT_AREA_FRAMES {
            assert!(area.push(PortIndex(0), 4).is_some());
        }
        assert!(area.push(PortIndex(0), 4).is_none());
    }
}
