//! One router port: a virtio-net device with its receive and transmit buffers.
//!
//! Buffers are allocated once when the port comes up (nothing is allocated
//! per frame) and are only touched when a frame uses them. The device is
//! trusted no further than the virtio contract: a used-ring entry naming a
//! descriptor we did not post, or a length larger than the buffer, counts a
//! `device_errors` event and disables the port; frames are never read past
//! their buffer.

use alloc::vec;
use alloc::vec::Vec;
use core::alloc::Layout;
use core::ptr::NonNull;

use virtio_drivers::device::net::VirtIONetRaw;

use super::virtio::{DeviceLocation, IdentityMappedHal, SharedTransport};

/// Descriptors per virtqueue (receive and transmit each).
pub const QUEUE_SIZE: usize = 128;
/// Receive buffers posted while booting; the rest are posted from the poll
/// loop ([`NetworkPort::post_remaining_receive_buffers`]). Each post costs a
/// notification exit to QEMU, about 150 us under nested virtualisation, and
/// boot time is an operator-visible number.
const RECEIVE_BUFFERS_AT_BOOT: u16 = 16;
/// The virtio-net header the device puts before every frame (VERSION_1 layout).
const MAXIMUM_HEADER_BYTES: usize = 12;
/// Ethernet header plus one VLAN tag, on top of the MTU.
const ETHERNET_OVERHEAD_BYTES: usize = 18;

/// Events the kernel counts for a port's device (the router counts frames).
#[derive(Clone, Copy, Debug, Default)]
pub struct DeviceCounters {
    /// Frames handed to the router.
    pub received_frames: u64,
    /// Frames given to the device to send.
    pub transmitted_frames: u64,
    /// Frames not sent because every transmit buffer was in flight.
    pub transmit_ring_full: u64,
    /// Frames not sent because they were larger than a transmit buffer.
    pub transmit_oversized: u64,
    /// Protocol violations by the device (unknown descriptor, bad length, queue errors).
    pub device_errors: u64,
}

/// `count` buffers of `buffer_bytes` each in one heap allocation that is
/// not zeroed: zeroing would touch every page at boot, and first touches
/// are slow under nested virtualisation (ARCHITECTURE.md). Bytes are read
/// only after the device (receive) or the kernel (transmit) wrote them.
struct DmaArea {
    start: NonNull<u8>,
    buffer_bytes: usize,
    count: usize,
}

impl DmaArea {
    fn layout(buffer_bytes: usize, count: usize) -> Layout {
        Layout::from_size_align(buffer_bytes * count, 4096).expect("DMA area layout")
    }

    fn new(buffer_bytes: usize, count: usize) -> DmaArea {
        let layout = Self::layout(buffer_bytes, count);
        // SAFETY: the layout has a non-zero size (callers pass non-zero values).
        let pointer = unsafe { alloc::alloc::alloc(layout) };
        let Some(start) = NonNull::new(pointer) else {
            alloc::alloc::handle_alloc_error(layout);
        };
        DmaArea {
            start,
            buffer_bytes,
            count,
        }
    }

    fn buffer(&self, index: usize) -> &[u8] {
        assert!(index < self.count);
        // SAFETY: `index < count`, so the range lies inside the allocation,
        // which lives as long as `self`. `u8` has no invalid values, and the
        // callers only read bytes the device or the kernel wrote.
        unsafe {
            core::slice::from_raw_parts(
                self.start.as_ptr().add(index * self.buffer_bytes),
                self.buffer_bytes,
            )
        }
    }

    fn buffer_mut(&mut self, index: usize) -> &mut [u8] {
        assert!(index < self.count);
        // SAFETY: as in `buffer`; `&mut self` makes the borrow unique.
        unsafe {
            core::slice::from_raw_parts_mut(
                self.start.as_ptr().add(index * self.buffer_bytes),
                self.buffer_bytes,
            )
        }
    }
}

impl Drop for DmaArea {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with the same layout, freed once.
        unsafe {
            alloc::alloc::dealloc(
                self.start.as_ptr(),
                Self::layout(self.buffer_bytes, self.count),
            )
        }
    }
}

/// A frame that arrived, still in its receive buffer.
#[derive(Clone, Copy, Debug)]
pub struct ReceivedFrame {
    buffer_index: u16,
    start: usize,
    length: usize,
}

/// A virtio-net device in use as a router port.
pub struct NetworkPort {
    device: VirtIONetRaw<IdentityMappedHal, SharedTransport, QUEUE_SIZE>,
    transport: SharedTransport,
    has_link_status: bool,
    /// Where the device was found.
    pub location: DeviceLocation,
    /// Its MAC address.
    pub mac: [u8; 6],
    receive_buffers: DmaArea,
    /// For each descriptor token, the receive buffer posted under it.
    receive_token_buffers: Vec<Option<u16>>,
    transmit_buffers: DmaArea,
    transmit_free: Vec<u16>,
    /// For each descriptor token, the transmit buffer and its used length.
    transmit_token_buffers: Vec<Option<(u16, usize)>>,
    /// Receive buffers `next_unposted_buffer..QUEUE_SIZE` have not been posted yet.
    next_unposted_buffer: u16,
    /// Device-level counters.
    pub counters: DeviceCounters,
    disabled: bool,
}

impl NetworkPort {
    /// Initialises the device and posts every receive buffer. `mtu` sizes
    /// the buffers.
    pub fn new(
        transport: SharedTransport,
        location: DeviceLocation,
        mtu: usize,
    ) -> Result<NetworkPort, virtio_drivers::Error> {
        let has_link_status = transport.has_link_status();
        let mut device = VirtIONetRaw::new(transport.clone())?;
        let buffer_bytes = (MAXIMUM_HEADER_BYTES + ETHERNET_OVERHEAD_BYTES + mtu)
            .max(1536)
            .next_multiple_of(64);
        let mut port = NetworkPort {
            mac: device.mac_address(),
            receive_buffers: DmaArea::new(buffer_bytes, QUEUE_SIZE),
            receive_token_buffers: vec![None; QUEUE_SIZE],
            transmit_buffers: DmaArea::new(buffer_bytes, QUEUE_SIZE),
            transmit_free: (0..QUEUE_SIZE as u16).rev().collect(),
            transmit_token_buffers: vec![None; QUEUE_SIZE],
            next_unposted_buffer: 0,
            counters: DeviceCounters::default(),
            disabled: false,
            has_link_status,
            location,
            transport,
            device: {
                device.disable_interrupts();
                device
            },
        };
        for index in 0..RECEIVE_BUFFERS_AT_BOOT {
            port.post_receive_buffer(index)?;
        }
        port.next_unposted_buffer = RECEIVE_BUFFERS_AT_BOOT;
        Ok(port)
    }

    /// Posts up to `limit` of the receive buffers not posted at boot.
    pub fn post_remaining_receive_buffers(&mut self, limit: u16) {
        let end = (self.next_unposted_buffer.saturating_add(limit)).min(QUEUE_SIZE as u16);
        while !self.disabled && self.next_unposted_buffer < end {
            let index = self.next_unposted_buffer;
            self.next_unposted_buffer += 1;
            if self.post_receive_buffer(index).is_err() {
                self.disable("receive queue refused a buffer");
            }
        }
    }

    fn post_receive_buffer(&mut self, index: u16) -> Result<(), virtio_drivers::Error> {
        let buffer = self.receive_buffers.buffer_mut(usize::from(index));
        // SAFETY: the buffer is a heap allocation owned by this port for its
        // whole life; it is not read or written until the device returns
        // it through `next_frame`, and it is passed again, unchanged, to
        // `receive_complete`.
        let token = unsafe { self.device.receive_begin(buffer) }?;
        match self.receive_token_buffers.get_mut(usize::from(token)) {
            Some(slot) => {
                *slot = Some(index);
                Ok(())
            }
            None => Err(virtio_drivers::Error::WrongToken),
        }
    }

    fn disable(&mut self, why: &str) {
        self.counters.device_errors += 1;
        if !self.disabled {
            log::error!(
                "{}: device misbehaved ({why}); port disabled",
                self.location
            );
        }
        self.disabled = true;
    }

    /// Whether the port was disabled after a device error.
    pub fn is_disabled(&self) -> bool {
        self.disabled
    }

    /// The device's link state.
    pub fn link_up(&self) -> bool {
        !self.disabled && self.transport.link_up(self.has_link_status)
    }

    /// Takes the next received frame, if any. Give it back with [`Self::recycle`].
    pub fn next_frame(&mut self) -> Option<ReceivedFrame> {
        if self.disabled {
            return None;
        }
        let token = self.device.poll_receive()?;
        let Some(index) = self
            .receive_token_buffers
            .get_mut(usize::from(token))
            .and_then(Option::take)
        else {
            self.disable("used ring names a receive descriptor that was not posted");
            return None;
        };
        let buffer = self.receive_buffers.buffer_mut(usize::from(index));
        let buffer_length = buffer.len();
        // SAFETY: `buffer` is the one posted under `token` (looked up above).
        let result = unsafe { self.device.receive_complete(token, buffer) };
        match result {
            Ok((header, length))
                if header
                    .checked_add(length)
                    .is_some_and(|end| end <= buffer_length) =>
            {
                self.counters.received_frames += 1;
                Some(ReceivedFrame {
                    buffer_index: index,
                    start: header,
                    length,
                })
            }
            Ok(_) => {
                self.disable("used length larger than the receive buffer");
                None
            }
            Err(_) => {
                self.disable("receive completion refused");
                None
            }
        }
    }

    /// The bytes of a received frame (Ethernet header onwards, no FCS).
    pub fn frame(&self, frame: &ReceivedFrame) -> &[u8] {
        &self.receive_buffers.buffer(usize::from(frame.buffer_index))
            [frame.start..frame.start + frame.length]
    }

    /// Hands a receive buffer back to the device.
    pub fn recycle(&mut self, frame: ReceivedFrame) {
        if self.disabled {
            return;
        }
        if self.post_receive_buffer(frame.buffer_index).is_err() {
            self.disable("receive queue refused a buffer");
        }
    }

    fn reclaim_transmit_buffers(&mut self) {
        while let Some(token) = self.device.poll_transmit() {
            let Some((index, length)) = self
                .transmit_token_buffers
                .get_mut(usize::from(token))
                .and_then(Option::take)
            else {
                self.disable("used ring names a transmit descriptor that was not posted");
                return;
            };
            let buffer = &self.transmit_buffers.buffer(usize::from(index))[..length];
            // SAFETY: `buffer` is exactly the slice passed to `transmit_begin` under `token`.
            if unsafe { self.device.transmit_complete(token, buffer) }.is_err() {
                self.disable("transmit completion refused");
                return;
            }
            self.transmit_free.push(index);
        }
    }

    /// Queues one Ethernet frame for transmission. Returns whether it was queued.
    pub fn transmit(&mut self, frame: &[u8]) -> bool {
        if self.disabled {
            return false;
        }
        self.reclaim_transmit_buffers();
        let Some(index) = self.transmit_free.pop() else {
            self.counters.transmit_ring_full += 1;
            return false;
        };
        let buffer = self.transmit_buffers.buffer_mut(usize::from(index));
        let Ok(header) = self.device.fill_buffer_header(buffer) else {
            self.transmit_free.push(index);
            self.disable("no room for the virtio-net header");
            return false;
        };
        let length = header + frame.len();
        if length > buffer.len() {
            self.transmit_free.push(index);
            self.counters.transmit_oversized += 1;
            return false;
        }
        buffer[header..length].copy_from_slice(frame);
        let buffer = &self.transmit_buffers.buffer(usize::from(index))[..length];
        // SAFETY: the buffer is owned by this port and not touched again
        // until `reclaim_transmit_buffers` sees its token completed and
        // passes the same slice to `transmit_complete`.
        match unsafe { self.device.transmit_begin(buffer) } {
            Ok(token) => match self.transmit_token_buffers.get_mut(usize::from(token)) {
                Some(slot) => {
                    *slot = Some((index, length));
                    self.counters.transmitted_frames += 1;
                    true
                }
                None => {
                    self.disable("transmit token out of range");
                    false
                }
            },
            Err(virtio_drivers::Error::QueueFull) => {
                self.transmit_free.push(index);
                self.counters.transmit_ring_full += 1;
                false
            }
            Err(_) => {
                self.transmit_free.push(index);
                self.disable("transmit queue refused a buffer");
                false
            }
        }
    }
}
