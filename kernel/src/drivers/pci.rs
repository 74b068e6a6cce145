//! PCI configuration through I/O ports 0xCF8/0xCFC, BAR assignment, and virtio-net-pci discovery.
//!
//! SeaBIOS assigns BARs; qboot and a bare `-kernel` boot may leave them at
//! zero. Every memory BAR of a virtio-net function that is unassigned, or
//! placed above the 4 GiB the boot page tables map, is given an address
//! from [`BAR_WINDOW_START`] upward, skipping ranges other functions on
//! the bus already decode. Bus mastering and memory decoding are switched
//! on (virtio needs DMA). Only bus 0 is scanned: QEMU puts `-device
//! virtio-net-pci` there unless it is placed behind a bridge.

use alloc::vec::Vec;

use boot::cpu::{read_port_u32, write_port_u32};
use virtio_drivers::transport::pci::bus::{
    BarInfo, Command, ConfigurationAccess, DeviceFunction, HeaderType, PciRoot,
};
use virtio_drivers::transport::pci::{PciTransport, virtio_device_type};
use virtio_drivers::transport::{DeviceType, SomeTransport};

use super::virtio::{DeviceLocation, IdentityMappedHal};

const CONFIG_ADDRESS_PORT: u16 = 0xCF8;
const CONFIG_DATA_PORT: u16 = 0xCFC;
/// Start of the window BARs are assigned from (above q35's ECAM at
/// 0xB000_0000..0xC000_0000, below the IOAPIC at 0xFEC0_0000).
pub const BAR_WINDOW_START: u64 = 0xC000_0000;
/// End (exclusive) of the BAR window.
pub const BAR_WINDOW_END: u64 = 0xFEC0_0000;

/// Configuration access mechanism #1 (I/O ports), present on q35 and pc.
pub struct PortIoConfigurationAccess;

fn config_address(device_function: DeviceFunction, register_offset: u8) -> u32 {
    0x8000_0000
        | (u32::from(device_function.bus) << 16)
        | (u32::from(device_function.device) << 11)
        | (u32::from(device_function.function) << 8)
        | u32::from(register_offset & 0xFC)
}

impl ConfigurationAccess for PortIoConfigurationAccess {
    fn read_word(&self, device_function: DeviceFunction, register_offset: u8) -> u32 {
        // SAFETY: 0xCF8/0xCFC are the PCI configuration ports, used only by
        // this module; writing the address then reading the data register
        // is the documented access sequence.
        unsafe {
            write_port_u32(
                CONFIG_ADDRESS_PORT,
                config_address(device_function, register_offset),
            );
            read_port_u32(CONFIG_DATA_PORT)
        }
    }

    fn write_word(&mut self, device_function: DeviceFunction, register_offset: u8, data: u32) {
        // SAFETY: as in `read_word`; the caller (virtio-drivers or this
        // module) writes registers of a function it is configuring.
        unsafe {
            write_port_u32(
                CONFIG_ADDRESS_PORT,
                config_address(device_function, register_offset),
            );
            write_port_u32(CONFIG_DATA_PORT, data);
        }
    }

    unsafe fn unsafe_clone(&self) -> Self {
        PortIoConfigurationAccess
    }
}

/// Whether the machine has a PCI host bridge at 00:00.0 (q35, pc; not microvm).
pub fn has_host_bridge() -> bool {
    let access = PortIoConfigurationAccess;
    let word = access.read_word(
        DeviceFunction {
            bus: 0,
            device: 0,
            function: 0,
        },
        0,
    );
    word != 0xFFFF_FFFF && word != 0
}

/// A half-open address range a function decodes.
#[derive(Clone, Copy)]
struct Range {
    start: u64,
    end: u64,
}

/// Bump allocator over [`BAR_WINDOW_START`, `BAR_WINDOW_END`) that avoids
/// ranges already in use.
struct BarAllocator {
    next: u64,
    used: Vec<Range>,
}

impl BarAllocator {
    fn allocate(&mut self, size: u64) -> Option<u64> {
        let size = size.max(4096);
        let mut candidate = self.next.next_multiple_of(size);
        loop {
            let end = candidate.checked_add(size)?;
            if end > BAR_WINDOW_END {
                return None;
            }
            match self
                .used
                .iter()
                .find(|range| range.start < end && candidate < range.end)
            {
                Some(collision) => candidate = collision.end.next_multiple_of(size),
                None => {
                    self.used.push(Range {
                        start: candidate,
                        end,
                    });
                    self.next = end;
                    return Some(candidate);
                }
            }
        }
    }
}

/// Finds virtio-net-pci functions on bus 0, assigns their BARs where needed,
/// enables them and creates their transports.
pub fn find_network_devices(found: &mut Vec<(SomeTransport<'static>, DeviceLocation)>) {
    let mut root = PciRoot::new(PortIoConfigurationAccess);
    let mut functions = Vec::new();
    let mut allocator = BarAllocator {
        next: BAR_WINDOW_START,
        used: Vec::new(),
    };
    for (device_function, info) in root.enumerate_bus(0) {
        if info.header_type != HeaderType::Standard {
            continue;
        }
        let is_network = virtio_device_type(&info) == Some(DeviceType::Network);
        let Ok(bars) = root.bars(device_function) else {
            log::warn!("pci {device_function}: unreadable BARs, ignored");
            continue;
        };
        for bar in bars.iter().flatten() {
            if let BarInfo::Memory { address, size, .. } = *bar {
                // Keep clear of what other functions already decode.
                if !is_network && address != 0 && size != 0 {
                    allocator.used.push(Range {
                        start: address,
                        end: address.saturating_add(size),
                    });
                }
            }
        }
        if is_network {
            functions.push((device_function, bars));
        }
    }
    for (device_function, bars) in functions {
        let (_, command) = root.get_status_command(device_function);
        root.set_command(
            device_function,
            command & !(Command::MEMORY_SPACE | Command::IO_SPACE),
        );
        let mut usable = true;
        for (index, bar) in bars.iter().enumerate() {
            let Some(BarInfo::Memory { address, size, .. }) = bar else {
                continue;
            };
            let fits = *address != 0
                && address.saturating_add(*size) <= boot::start_info::IDENTITY_MAPPED_BYTES;
            if fits {
                allocator.used.push(Range {
                    start: *address,
                    end: address + size,
                });
                continue;
            }
            match allocator.allocate(*size) {
                Some(new_address) => {
                    if bar.as_ref().is_some_and(BarInfo::takes_two_entries) {
                        root.set_bar_64(device_function, index as u8, new_address);
                    } else {
                        root.set_bar_32(device_function, index as u8, new_address as u32);
                    }
                    log::info!(
                        "pci {device_function}: BAR{index} assigned {new_address:#x} ({size} bytes)"
                    );
                }
                None => {
                    log::error!(
                        "pci {device_function}: no room for BAR{index} ({size} bytes); device disabled"
                    );
                    usable = false;
                }
            }
        }
        if !usable {
            continue;
        }
        root.set_command(
            device_function,
            command | Command::MEMORY_SPACE | Command::IO_SPACE | Command::BUS_MASTER,
        );
        let location = DeviceLocation::Pci {
            bus: device_function.bus,
            device: device_function.device,
            function: device_function.function,
        };
        match PciTransport::new::<IdentityMappedHal, _>(&mut root, device_function) {
            Ok(transport) => found.push((SomeTransport::Pci(transport), location)),
            Err(error) => log::error!("{location}: not usable as virtio: {error}"),
        }
    }
}
