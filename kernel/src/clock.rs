//! Monotonic clock: the TSC, calibrated at boot against the 8254 PIT.
//!
//! The TSC frequency is measured, never assumed: PIT channel 0 runs in
//! mode 2 from a known 1.193182 MHz input; we count TSC ticks across
//! [`CALIBRATION_PIT_TICKS`] PIT ticks (5 ms). Machines without a PIT
//! (e.g. `microvm,pit=off`) fall back to CPUID leaf 0x15 (crystal ratio),
//! 0x16 (base frequency), or the hypervisor leaf 0x40000010; if none
//! answers, the appliance refuses to start rather than guess.

use core::sync::atomic::{AtomicU64, Ordering};

use boot::cpu::{cpuid, read_port_u8, read_timestamp_counter, write_port_u8};
use netstack::Instant;

const PIT_INPUT_HZ: u64 = 1_193_182;
/// 5 ms worth of PIT ticks.
const CALIBRATION_PIT_TICKS: u64 = PIT_INPUT_HZ / 200;
const PIT_CHANNEL0: u16 = 0x40;
const PIT_COMMAND: u16 = 0x43;

static TSC_HZ: AtomicU64 = AtomicU64::new(0);
static TSC_AT_BOOT: AtomicU64 = AtomicU64::new(0);

/// Where the TSC frequency came from.
#[derive(Clone, Copy, Debug)]
pub enum CalibrationSource {
    /// Measured against the 8254 PIT.
    Pit,
    /// CPUID leaf 0x15 (TSC/crystal ratio).
    CpuidCrystal,
    /// CPUID leaf 0x16 (processor base frequency).
    CpuidBaseFrequency,
    /// Hypervisor CPUID leaf 0x40000010.
    Hypervisor,
}

/// Records the boot instant (the clock reads 0 until [`calibrate`]).
pub fn start() {
    TSC_AT_BOOT.store(read_timestamp_counter(), Ordering::Relaxed);
}

/// Measures the TSC frequency; `Err` when no source answers.
pub fn calibrate() -> Result<(u64, CalibrationSource), &'static str> {
    let (hz, source) = if let Some(hz) = measure_with_pit() {
        (hz, CalibrationSource::Pit)
    } else if let Some(hz) = cpuid_crystal() {
        (hz, CalibrationSource::CpuidCrystal)
    } else if let Some(hz) = cpuid_base_frequency() {
        (hz, CalibrationSource::CpuidBaseFrequency)
    } else if let Some(hz) = hypervisor_frequency() {
        (hz, CalibrationSource::Hypervisor)
    } else {
        return Err("no PIT and no CPUID frequency leaf: cannot calibrate the TSC");
    };
    TSC_HZ.store(hz, Ordering::Relaxed);
    Ok((hz, source))
}

/// Microseconds since boot.
pub fn now() -> Instant {
    let hz = TSC_HZ.load(Ordering::Relaxed);
    if hz == 0 {
        return Instant::from_micros(0);
    }
    let ticks = read_timestamp_counter().wrapping_sub(TSC_AT_BOOT.load(Ordering::Relaxed));
    Instant::from_micros((u128::from(ticks) * 1_000_000 / u128::from(hz)) as i64)
}

fn read_pit_counter() -> u16 {
    // SAFETY: the PIT is owned by this module during calibration; command
    // 0x00 latches channel 0, then two reads give the low and high byte.
    unsafe {
        write_port_u8(PIT_COMMAND, 0x00);
        let low = read_port_u8(PIT_CHANNEL0);
        let high = read_port_u8(PIT_CHANNEL0);
        u16::from_le_bytes([low, high])
    }
}

fn measure_with_pit() -> Option<u64> {
    // SAFETY: the PIT is owned by this module; channel 0, low/high byte,
    // mode 2 (rate generator), binary, reload 0xFFFF. Nothing uses PIT
    // interrupts (they stay masked: interrupts are off).
    unsafe {
        write_port_u8(PIT_COMMAND, 0x34);
        write_port_u8(PIT_CHANNEL0, 0xFF);
        write_port_u8(PIT_CHANNEL0, 0xFF);
    }
    let mut previous = read_pit_counter();
    let start_tsc = read_timestamp_counter();
    let mut elapsed_ticks: u64 = 0;
    let mut reads_without_change: u32 = 0;
    while elapsed_ticks < CALIBRATION_PIT_TICKS {
        let current = read_pit_counter();
        if current == previous {
            reads_without_change += 1;
            // A missing PIT reads 0xFFFF forever.
            if reads_without_change > 1_000_000 {
                return None;
            }
            continue;
        }
        reads_without_change = 0;
        // Mode 2 counts down from 0xFFFF and reloads.
        elapsed_ticks += u64::from(previous.wrapping_sub(current));
        previous = current;
    }
    let tsc_ticks = read_timestamp_counter().wrapping_sub(start_tsc);
    let hz = u128::from(tsc_ticks) * u128::from(PIT_INPUT_HZ) / u128::from(elapsed_ticks);
    (hz > 1_000_000).then_some(hz as u64)
}

fn maximum_leaf() -> u32 {
    cpuid(0, 0).eax
}

fn cpuid_crystal() -> Option<u64> {
    if maximum_leaf() < 0x15 {
        return None;
    }
    let leaf = cpuid(0x15, 0);
    (leaf.eax != 0 && leaf.ebx != 0 && leaf.ecx != 0)
        .then(|| u64::from(leaf.ecx) * u64::from(leaf.ebx) / u64::from(leaf.eax))
}

fn cpuid_base_frequency() -> Option<u64> {
    if maximum_leaf() < 0x16 {
        return None;
    }
    let megahertz = cpuid(0x16, 0).eax & 0xFFFF;
    (megahertz != 0).then(|| u64::from(megahertz) * 1_000_000)
}

fn hypervisor_frequency() -> Option<u64> {
    if cpuid(0x4000_0000, 0).eax < 0x4000_0010 {
        return None;
    }
    let kilohertz = cpuid(0x4000_0010, 0).eax;
    (kilohertz != 0).then(|| u64::from(kilohertz) * 1_000)
}
