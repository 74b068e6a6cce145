//! The PVH start info (`hvm_start_info`), read once into a safe [`BootInfo`].
//!
//! Layout (Xen `arch-x86/hvm/start_info.h`, version 1, as QEMU writes it):
//! ```text
//!  0 magic u32 (0x336ec578)   4 version u32       8 flags u32   12 nr_modules u32
//! 16 modlist_paddr u64       24 cmdline_paddr u64 32 rsdp_paddr u64
//! 40 memmap_paddr u64        48 memmap_entries u32 52 reserved u32
//! memmap entry: addr u64, size u64, type u32, reserved u32 (24 bytes)
//! ```

/// `hvm_start_info.magic`.
pub const START_INFO_MAGIC: u32 = 0x336e_c578;
/// How many memory map entries [`BootInfo`] keeps; more are counted but dropped.
pub const MAX_MEMORY_REGIONS: usize = 64;
/// How many bytes of the command line [`BootInfo`] keeps.
pub const MAX_COMMAND_LINE_BYTES: usize = 1024;
/// Everything above this is not mapped by the boot page tables.
pub const IDENTITY_MAPPED_BYTES: u64 = 4 << 30;

/// What a memory map entry describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemoryRegionKind {
    /// Usable RAM (type 1).
    Usable,
    /// Anything else: reserved, ACPI, NVS, unusable, unknown.
    Reserved(u32),
}

/// One entry of the firmware's memory map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryRegion {
    /// Physical start address.
    pub start: u64,
    /// Length in bytes.
    pub length: u64,
    /// Usable RAM or not.
    pub kind: MemoryRegionKind,
}

/// The loader's hand-off, copied out of guest memory into plain values.
#[derive(Clone, Debug)]
pub struct BootInfo {
    memory_regions: [MemoryRegion; MAX_MEMORY_REGIONS],
    memory_region_count: usize,
    /// Memory map entries beyond [`MAX_MEMORY_REGIONS`] that were dropped.
    pub memory_regions_dropped: usize,
    command_line: [u8; MAX_COMMAND_LINE_BYTES],
    command_line_length: usize,
    /// Start info version the loader wrote.
    pub start_info_version: u32,
    /// Physical address of the ACPI RSDP, if the loader gave one.
    pub acpi_rsdp_address: Option<u64>,
    /// First byte past the kernel image (and its `.bss`).
    pub kernel_end: u64,
    /// First byte of the kernel image.
    pub kernel_start: u64,
    /// How the boot code set up caching.
    pub memory_types: crate::memory_types::MemoryTypeSetup,
}

impl BootInfo {
    /// The memory map, in the loader's order.
    pub fn memory_regions(&self) -> &[MemoryRegion] {
        &self.memory_regions[..self.memory_region_count]
    }

    /// The kernel command line (`-append`), as bytes; empty when none.
    pub fn command_line(&self) -> &[u8] {
        &self.command_line[..self.command_line_length]
    }
}

unsafe extern "Rust" {
    /// The kernel's entry, defined by [`crate::entry_point!`].
    fn pure6_kernel_main(info: BootInfo) -> !;
}

unsafe extern "C" {
    static __kernel_start: u8;
    static __kernel_end: u8;
}

/// Reads a `T` from a physical address, if it lies in the identity map.
fn read_physical<T: Copy>(address: u64) -> Option<T> {
    let end = address.checked_add(core::mem::size_of::<T>() as u64)?;
    if address == 0 || end > IDENTITY_MAPPED_BYTES {
        return None;
    }
    // SAFETY: the address range is inside the identity-mapped first 4 GiB
    // (checked above) and `T` is plain old data (`Copy` integers here); an
    // unaligned read is used because the loader promises no alignment.
    Some(unsafe { core::ptr::read_unaligned(address as *const T) })
}

/// The first Rust code: called by the entry assembly on the boot stack.
pub(crate) extern "C" fn boot_main(start_info_address: u32) -> ! {
    let memory_types = crate::memory_types::configure();
    crate::exceptions::install();
    let mut info = read_start_info(u64::from(start_info_address));
    info.memory_types = memory_types;
    // SAFETY: the kernel defines this symbol through `entry_point!`, which
    // checks its signature.
    unsafe { pure6_kernel_main(info) }
}

fn read_start_info(address: u64) -> BootInfo {
    let mut info = BootInfo {
        memory_regions: [MemoryRegion {
            start: 0,
            length: 0,
            kind: MemoryRegionKind::Reserved(0),
        }; MAX_MEMORY_REGIONS],
        memory_region_count: 0,
        memory_regions_dropped: 0,
        command_line: [0; MAX_COMMAND_LINE_BYTES],
        command_line_length: 0,
        start_info_version: 0,
        acpi_rsdp_address: None,
        kernel_start: core::ptr::addr_of!(__kernel_start) as u64,
        kernel_end: core::ptr::addr_of!(__kernel_end) as u64,
        memory_types: crate::memory_types::MemoryTypeSetup::Unsupported,
    };
    if read_physical::<u32>(address) != Some(START_INFO_MAGIC) {
        return info;
    }
    info.start_info_version = read_physical::<u32>(address + 4).unwrap_or(0);
    let command_line_address = read_physical::<u64>(address + 24).unwrap_or(0);
    let rsdp = read_physical::<u64>(address + 32).unwrap_or(0);
    info.acpi_rsdp_address = (rsdp != 0).then_some(rsdp);
    if command_line_address != 0 {
        while info.command_line_length < MAX_COMMAND_LINE_BYTES {
            match read_physical::<u8>(command_line_address + info.command_line_length as u64) {
                Some(0) | None => break,
                Some(byte) => {
                    info.command_line[info.command_line_length] = byte;
                    info.command_line_length += 1;
                }
            }
        }
    }
    if info.start_info_version >= 1 {
        let map_address = read_physical::<u64>(address + 40).unwrap_or(0);
        let entries = read_physical::<u32>(address + 48).unwrap_or(0) as usize;
        for index in 0..entries {
            let entry = map_address + index as u64 * 24;
            let (Some(start), Some(length), Some(kind)) = (
                read_physical::<u64>(entry),
                read_physical::<u64>(entry + 8),
                read_physical::<u32>(entry + 16),
            ) else {
                info.memory_regions_dropped += 1;
                continue;
            };
            if info.memory_region_count == MAX_MEMORY_REGIONS {
                info.memory_regions_dropped += 1;
                continue;
            }
            info.memory_regions[info.memory_region_count] = MemoryRegion {
                start,
                length,
                kind: if kind == 1 {
                    MemoryRegionKind::Usable
                } else {
                    MemoryRegionKind::Reserved(kind)
                },
            };
            info.memory_region_count += 1;
        }
    }
    info
}
