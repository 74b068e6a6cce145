//! The few x86-64 instructions the kernel needs, each behind one function.
//!
//! Port I/O is `unsafe`: a write to the wrong port can reprogram any device.
//! The caller names the device it owns in its `// SAFETY:` comment.

use core::arch::asm;

/// Writes one byte to an I/O port.
///
/// # Safety
/// The caller owns the device behind `port` and the write is valid for it.
#[inline]
pub unsafe fn write_port_u8(port: u16, value: u8) {
    // SAFETY: `out` has no memory effects; the caller vouches for the device.
    unsafe {
        asm!("out dx, al", in("dx") port, in("al") value, options(nomem, nostack, preserves_flags))
    }
}

/// Reads one byte from an I/O port.
///
/// # Safety
/// The caller owns the device behind `port`; reads may have side effects.
#[inline]
pub unsafe fn read_port_u8(port: u16) -> u8 {
    let value: u8;
    // SAFETY: `in` has no memory effects; the caller vouches for the device.
    unsafe {
        asm!("in al, dx", out("al") value, in("dx") port, options(nomem, nostack, preserves_flags))
    }
    value
}

/// Writes a 16-bit word to an I/O port.
///
/// # Safety
/// As for [`write_port_u8`].
#[inline]
pub unsafe fn write_port_u16(port: u16, value: u16) {
    // SAFETY: `out` has no memory effects; the caller vouches for the device.
    unsafe {
        asm!("out dx, ax", in("dx") port, in("ax") value, options(nomem, nostack, preserves_flags))
    }
}

/// Writes a 32-bit word to an I/O port.
///
/// # Safety
/// As for [`write_port_u8`].
#[inline]
pub unsafe fn write_port_u32(port: u16, value: u32) {
    // SAFETY: `out` has no memory effects; the caller vouches for the device.
    unsafe {
        asm!("out dx, eax", in("dx") port, in("eax") value, options(nomem, nostack, preserves_flags))
    }
}

/// Reads a 32-bit word from an I/O port.
///
/// # Safety
/// As for [`read_port_u8`].
#[inline]
pub unsafe fn read_port_u32(port: u16) -> u32 {
    let value: u32;
    // SAFETY: `in` has no memory effects; the caller vouches for the device.
    unsafe {
        asm!("in eax, dx", out("eax") value, in("dx") port, options(nomem, nostack, preserves_flags))
    }
    value
}

/// Reads the time-stamp counter.
#[inline]
pub fn read_timestamp_counter() -> u64 {
    let low: u32;
    let high: u32;
    // SAFETY: `rdtsc` only reads the counter into edx:eax; it is available
    // on every x86-64 CPU and has no memory effects.
    unsafe {
        asm!("rdtsc", out("eax") low, out("edx") high, options(nomem, nostack, preserves_flags))
    }
    (u64::from(high) << 32) | u64::from(low)
}

/// The four registers `cpuid` returns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuidResult {
    /// `%eax`
    pub eax: u32,
    /// `%ebx`
    pub ebx: u32,
    /// `%ecx`
    pub ecx: u32,
    /// `%edx`
    pub edx: u32,
}

/// Executes `cpuid` for `leaf` and `subleaf`.
pub fn cpuid(leaf: u32, subleaf: u32) -> CpuidResult {
    let eax: u32;
    let ebx: u32;
    let ecx: u32;
    let edx: u32;
    // SAFETY: `cpuid` exists on every x86-64 CPU, reads no memory and only
    // writes the four registers named here (%rbx is reserved by LLVM, so it
    // is saved and restored around the instruction).
    unsafe {
        asm!(
            "mov {saved:r}, rbx",
            "cpuid",
            "xchg {saved:r}, rbx",
            saved = out(reg) ebx,
            inout("eax") leaf => eax,
            inout("ecx") subleaf => ecx,
            out("edx") edx,
            options(nomem, nostack, preserves_flags),
        )
    }
    CpuidResult { eax, ebx, ecx, edx }
}

/// Halts until the next interrupt (with interrupts off: forever, unless an
/// NMI arrives). Used to idle and to stop.
#[inline]
pub fn halt() {
    // SAFETY: `hlt` only stops the CPU until an interrupt; it touches no memory.
    unsafe { asm!("hlt", options(nomem, nostack, preserves_flags)) }
}

/// Reads `%cr2`, the address of the last page fault.
#[inline]
pub fn read_page_fault_address() -> u64 {
    let value: u64;
    // SAFETY: reading %cr2 has no side effects; we run in ring 0.
    unsafe { asm!("mov {}, cr2", out(reg) value, options(nomem, nostack, preserves_flags)) }
    value
}

/// Reads a model-specific register.
///
/// # Safety
/// `register` must exist on this CPU (reading an unknown MSR faults).
#[inline]
pub unsafe fn read_model_specific_register(register: u32) -> u64 {
    let low: u32;
    let high: u32;
    // SAFETY: the caller promises the MSR exists; `rdmsr` touches no memory.
    unsafe {
        asm!("rdmsr", in("ecx") register, out("eax") low, out("edx") high, options(nomem, nostack, preserves_flags))
    }
    (u64::from(high) << 32) | u64::from(low)
}

/// Writes a model-specific register.
///
/// # Safety
/// `register` must exist and `value` must be valid for it; MSRs control the
/// CPU itself (caching, paging, ...).
#[inline]
pub unsafe fn write_model_specific_register(register: u32, value: u64) {
    // SAFETY: the caller promises the MSR and value are valid; `wrmsr`
    // touches no memory.
    unsafe {
        asm!("wrmsr", in("ecx") register, in("eax") value as u32, in("edx") (value >> 32) as u32,
            options(nomem, nostack, preserves_flags))
    }
}

/// Reads `%cr0`.
#[inline]
pub fn read_control_register_0() -> u64 {
    let value: u64;
    // SAFETY: reading %cr0 has no side effects; we run in ring 0.
    unsafe { asm!("mov {}, cr0", out(reg) value, options(nomem, nostack, preserves_flags)) }
    value
}

/// A 64-bit random number from the CPU's `rdrand`, if it has one and it
/// delivers within ten tries (Intel's recommended retry count).
pub fn read_hardware_random() -> Option<u64> {
    if cpuid(1, 0).ecx & (1 << 30) == 0 {
        return None;
    }
    for _ in 0..10 {
        let value: u64;
        let success: u8;
        // SAFETY: CPUID says `rdrand` exists; it writes only the two
        // registers named here and the flags.
        unsafe {
            asm!("rdrand {value}", "setc {success}", value = out(reg) value, success = out(reg_byte) success,
                options(nomem, nostack))
        }
        if success != 0 {
            return Some(value);
        }
    }
    None
}
