//! Stopping the appliance: QEMU's `isa-debug-exit` device, or a halt.
//!
//! With `-device isa-debug-exit,iobase=0xf4,iosize=0x04` a write of `value`
//! makes QEMU exit with status `(value << 1) | 1`; the statuses pure6 uses
//! are the [`ExitStatus`] values. Without that device the write does nothing
//! and the CPU halts with interrupts off: the appliance stops, never
//! forwarding in a broken state.

use boot::cpu::{halt, write_port_u32};

const DEBUG_EXIT_PORT: u16 = 0xF4;

/// Why the appliance stops. QEMU's exit status is `(value << 1) | 1`.
#[derive(Clone, Copy, Debug)]
#[repr(u32)]
pub enum ExitStatus {
    /// A requested, clean stop (QEMU exit status 1).
    Success = 0,
    /// A panic or CPU exception (QEMU exit status 3).
    Failure = 1,
    /// The configuration was rejected (QEMU exit status 5).
    ConfigurationError = 2,
    /// The hardware did not let the appliance start (QEMU exit status 7).
    HardwareError = 3,
}

/// Stops the machine with `status`.
pub fn exit(status: ExitStatus) -> ! {
    // SAFETY: port 0xF4 is QEMU's isa-debug-exit device when present and
    // unused otherwise (a write to an unclaimed port is ignored).
    unsafe { write_port_u32(DEBUG_EXIT_PORT, status as u32) }
    loop {
        halt();
    }
}
