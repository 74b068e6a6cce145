//! Memory types (MTRRs): RAM write-back, the MMIO hole below 4 GiB uncacheable.
//!
//! A PVH loader may hand over with the MTRRs disabled (`IA32_MTRR_DEF_TYPE`
//! = 0), which makes every access uncacheable: measured here, parsing a
//! 2 KiB config took 50 ms instead of 7 us. We set the default type to
//! write-back and cover the MMIO hole with two variable ranges:
//! 0xB000_0000..0xC000_0000 (q35's ECAM) and 0xC000_0000..4 GiB (PCI BARs,
//! virtio-mmio, IOAPIC, LAPIC). RAM above 4 GiB is not mapped (see
//! [`crate::start_info::IDENTITY_MAPPED_BYTES`]), so write-back is right
//! for everything else. Intel SDM Vol. 3A, 12.11.

use crate::cpu::{cpuid, read_model_specific_register, write_model_specific_register};

const MTRR_CAPABILITIES: u32 = 0xFE;
const MTRR_DEFAULT_TYPE: u32 = 0x2FF;
const MTRR_PHYSICAL_BASE_0: u32 = 0x200;
const MTRR_ENABLE: u64 = 1 << 11;
const MTRR_VALID: u64 = 1 << 11;
const TYPE_UNCACHEABLE: u64 = 0;
const TYPE_WRITE_BACK: u64 = 6;

/// The uncacheable ranges: (base, size), each size a power of two and base aligned to it.
const UNCACHEABLE_RANGES: [(u64, u64); 2] =
    [(0xB000_0000, 0x1000_0000), (0xC000_0000, 0x4000_0000)];

/// What [`configure`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemoryTypeSetup {
    /// The loader had already enabled MTRRs; left alone.
    AlreadyEnabled,
    /// Default write-back, MMIO hole uncacheable.
    Configured,
    /// The CPU has no MTRRs (or too few variable ranges); nothing changed.
    Unsupported,
}

/// Enables caching for RAM if the loader left the MTRRs off.
pub fn configure() -> MemoryTypeSetup {
    let has_mtrr = cpuid(1, 0).edx & (1 << 12) != 0;
    if !has_mtrr {
        return MemoryTypeSetup::Unsupported;
    }
    // SAFETY: CPUID says MTRRs exist, so these architectural MSRs exist.
    let (capabilities, default_type) = unsafe {
        (
            read_model_specific_register(MTRR_CAPABILITIES),
            read_model_specific_register(MTRR_DEFAULT_TYPE),
        )
    };
    if default_type & MTRR_ENABLE != 0 {
        return MemoryTypeSetup::AlreadyEnabled;
    }
    let variable_ranges = (capabilities & 0xFF) as usize;
    if variable_ranges < UNCACHEABLE_RANGES.len() {
        return MemoryTypeSetup::Unsupported;
    }
    let physical_address_bits = if cpuid(0x8000_0000, 0).eax >= 0x8000_0008 {
        cpuid(0x8000_0008, 0).eax & 0xFF
    } else {
        36
    };
    let address_mask = (1u64 << physical_address_bits) - 1;
    for (index, (base, size)) in UNCACHEABLE_RANGES.iter().enumerate() {
        let register = MTRR_PHYSICAL_BASE_0 + 2 * index as u32;
        // SAFETY: `index` is below the variable-range count the CPU
        // reports; MTRRs are disabled while we write them, and the ranges
        // only cover MMIO (no RAM the kernel uses).
        unsafe {
            write_model_specific_register(register, base | TYPE_UNCACHEABLE);
            write_model_specific_register(register + 1, (address_mask & !(size - 1)) | MTRR_VALID);
        }
    }
    // SAFETY: enabling MTRRs with write-back as the default type is the
    // state every firmware leaves; the MMIO hole was made uncacheable above.
    unsafe { write_model_specific_register(MTRR_DEFAULT_TYPE, MTRR_ENABLE | TYPE_WRITE_BACK) };
    MemoryTypeSetup::Configured
}
