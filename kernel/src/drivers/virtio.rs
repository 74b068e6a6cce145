//! virtio glue: the DMA `Hal` for virtio-drivers and discovery of virtio-net devices.
//!
//! Discovery covers both machine types operators use:
//! - `-machine microvm`: virtio-mmio, 24 slots of 0x200 bytes from
//!   0xFEB0_0000 (QEMU fills them from the last slot down, so the first
//!   `-device` on the command line is the last slot: we number ports in
//!   command-line order by walking the slots from the top).
//! - `-machine q35` (or pc): virtio-net-pci on PCI bus 0, see [`super::pci`].
//!
//! Memory is identity mapped (physical = virtual) below 4 GiB, so sharing a
//! buffer with a device is just taking its address.

use alloc::rc::Rc;
use core::alloc::Layout;
use core::cell::RefCell;
use core::ptr::NonNull;

use virtio_drivers::transport::mmio::{MmioTransport, VirtIOHeader};
use virtio_drivers::transport::{
    DeviceStatus, DeviceType, InterruptStatus, SomeTransport, Transport,
};
use virtio_drivers::{BufferDirection, Hal, PAGE_SIZE, PhysAddr};

/// First virtio-mmio slot on microvm.
const MICROVM_MMIO_BASE: usize = 0xFEB0_0000;
/// Slot stride and size on microvm.
const MICROVM_MMIO_SLOT_BYTES: usize = 0x200;
/// Slots on microvm.
const MICROVM_MMIO_SLOTS: usize = 24;
/// virtio-net device configuration: `status` field offset (VIRTIO_NET_F_STATUS).
const NET_CONFIG_STATUS_OFFSET: usize = 6;
const NET_STATUS_LINK_UP: u16 = 1;
const NET_FEATURE_STATUS: u64 = 1 << 16;

/// The DMA environment: identity-mapped memory from the global heap.
pub struct IdentityMappedHal;

// SAFETY: `dma_alloc` returns zeroed, page-aligned memory from the heap that
// nothing else uses until `dma_dealloc`; physical and virtual addresses are
// equal (identity map), so the device and the CPU see the same bytes.
unsafe impl Hal for IdentityMappedHal {
    fn dma_alloc(pages: usize, _direction: BufferDirection) -> (PhysAddr, NonNull<u8>) {
        let layout = Layout::from_size_align(pages.max(1) * PAGE_SIZE, PAGE_SIZE)
            .expect("page-sized DMA layout");
        // SAFETY: the layout has a non-zero size.
        let pointer = unsafe { alloc::alloc::alloc_zeroed(layout) };
        let Some(pointer) = NonNull::new(pointer) else {
            alloc::alloc::handle_alloc_error(layout);
        };
        (pointer.as_ptr() as PhysAddr, pointer)
    }

    unsafe fn dma_dealloc(_physical: PhysAddr, virtual_address: NonNull<u8>, pages: usize) -> i32 {
        let layout = Layout::from_size_align(pages.max(1) * PAGE_SIZE, PAGE_SIZE)
            .expect("page-sized DMA layout");
        // SAFETY: virtio-drivers passes back exactly what `dma_alloc` returned.
        unsafe { alloc::alloc::dealloc(virtual_address.as_ptr(), layout) };
        0
    }

    unsafe fn mmio_phys_to_virt(physical: PhysAddr, _size: usize) -> NonNull<u8> {
        NonNull::new(physical as *mut u8).expect("MMIO at address 0")
    }

    unsafe fn share(buffer: NonNull<[u8]>, _direction: BufferDirection) -> PhysAddr {
        buffer.cast::<u8>().as_ptr() as PhysAddr
    }

    unsafe fn unshare(_physical: PhysAddr, _buffer: NonNull<[u8]>, _direction: BufferDirection) {}
}

/// A transport shared between the virtio-net driver (which owns it for the
/// queues) and the port (which reads the link status). Single-threaded, so
/// a `RefCell` is enough; no borrow is held across calls.
#[derive(Clone)]
pub struct SharedTransport(Rc<RefCell<SomeTransport<'static>>>);

impl SharedTransport {
    /// Wraps a transport.
    pub fn new(transport: SomeTransport<'static>) -> SharedTransport {
        SharedTransport(Rc::new(RefCell::new(transport)))
    }

    /// Whether the device offers link status at all.
    pub fn has_link_status(&self) -> bool {
        self.0.borrow_mut().read_device_features() & NET_FEATURE_STATUS != 0
    }

    /// The link state from the virtio-net config (`true` = up). Devices
    /// without VIRTIO_NET_F_STATUS are always up.
    pub fn link_up(&self, has_link_status: bool) -> bool {
        if !has_link_status {
            return true;
        }
        self.0
            .borrow()
            .read_config_space::<u16>(NET_CONFIG_STATUS_OFFSET)
            .map(|status| status & NET_STATUS_LINK_UP != 0)
            .unwrap_or(false)
    }
}

impl Transport for SharedTransport {
    fn device_type(&self) -> DeviceType {
        self.0.borrow().device_type()
    }
    fn read_device_features(&mut self) -> u64 {
        self.0.borrow_mut().read_device_features()
    }
    fn write_driver_features(&mut self, driver_features: u64) {
        self.0.borrow_mut().write_driver_features(driver_features)
    }
    fn max_queue_size(&mut self, queue: u16) -> u32 {
        self.0.borrow_mut().max_queue_size(queue)
    }
    fn notify(&mut self, queue: u16) {
        self.0.borrow_mut().notify(queue)
    }
    fn get_status(&self) -> DeviceStatus {
        self.0.borrow().get_status()
    }
    fn set_status(&mut self, status: DeviceStatus) {
        self.0.borrow_mut().set_status(status)
    }
    fn set_guest_page_size(&mut self, guest_page_size: u32) {
        self.0.borrow_mut().set_guest_page_size(guest_page_size)
    }
    fn requires_legacy_layout(&self) -> bool {
        self.0.borrow().requires_legacy_layout()
    }
    fn queue_set(
        &mut self,
        queue: u16,
        size: u32,
        descriptors: PhysAddr,
        driver_area: PhysAddr,
        device_area: PhysAddr,
    ) {
        self.0
            .borrow_mut()
            .queue_set(queue, size, descriptors, driver_area, device_area)
    }
    fn queue_unset(&mut self, queue: u16) {
        self.0.borrow_mut().queue_unset(queue)
    }
    fn queue_used(&mut self, queue: u16) -> bool {
        self.0.borrow_mut().queue_used(queue)
    }
    fn ack_interrupt(&mut self) -> InterruptStatus {
        self.0.borrow_mut().ack_interrupt()
    }
    fn read_config_generation(&self) -> u32 {
        self.0.borrow().read_config_generation()
    }
    fn read_config_space<T: zerocopy::FromBytes + zerocopy::IntoBytes>(
        &self,
        offset: usize,
    ) -> virtio_drivers::Result<T> {
        self.0.borrow().read_config_space(offset)
    }
    fn write_config_space<T: zerocopy::IntoBytes + zerocopy::Immutable>(
        &mut self,
        offset: usize,
        value: T,
    ) -> virtio_drivers::Result<()> {
        self.0.borrow_mut().write_config_space(offset, value)
    }
}

/// Where a virtio-net device was found.
#[derive(Clone, Copy, Debug)]
pub enum DeviceLocation {
    /// virtio-mmio slot `slot` at `address`.
    Mmio {
        /// Slot number (0..24).
        slot: usize,
        /// Base address.
        address: usize,
    },
    /// PCI bus/device/function.
    Pci {
        /// Bus.
        bus: u8,
        /// Device.
        device: u8,
        /// Function.
        function: u8,
    },
}

impl core::fmt::Display for DeviceLocation {
    fn fmt(&self, formatter: &mut core::fmt::Formatter) -> core::fmt::Result {
        match self {
            DeviceLocation::Mmio { slot, address } => {
                write!(formatter, "virtio-mmio slot {slot} @ {address:#x}")
            }
            DeviceLocation::Pci {
                bus,
                device,
                function,
            } => {
                write!(formatter, "pci {bus:02x}:{device:02x}.{function}")
            }
        }
    }
}

/// Finds virtio-net devices on virtio-mmio (microvm) in command-line order.
pub fn find_mmio_network_devices(
    found: &mut alloc::vec::Vec<(SomeTransport<'static>, DeviceLocation)>,
) {
    for slot in (0..MICROVM_MMIO_SLOTS).rev() {
        let address = MICROVM_MMIO_BASE + slot * MICROVM_MMIO_SLOT_BYTES;
        let header = NonNull::new(address as *mut VirtIOHeader).expect("non-null slot");
        // SAFETY: on microvm each slot is a 0x200-byte virtio-mmio register
        // window, identity mapped, used by nothing else; empty slots report
        // device id 0 and are rejected by `new`. On machines without
        // virtio-mmio the range is unassigned and reads as all ones, which
        // fails the magic check.
        let transport = match unsafe { MmioTransport::new(header, MICROVM_MMIO_SLOT_BYTES) } {
            Ok(transport) => transport,
            Err(_) => continue,
        };
        if transport.device_type() == DeviceType::Network {
            found.push((
                SomeTransport::Mmio(transport),
                DeviceLocation::Mmio { slot, address },
            ));
        } else {
            log::info!(
                "virtio-mmio slot {slot}: {:?} device ignored",
                transport.device_type()
            );
        }
    }
}
