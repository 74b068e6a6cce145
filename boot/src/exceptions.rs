//! CPU exception handlers: every exception reaches the kernel as an [`ExceptionFrame`].
//!
//! Without an IDT an exception triple-faults and QEMU silently resets the
//! machine. The 32 architectural vectors get a small assembly stub each
//! that pushes the vector (and a zero where the CPU pushes no error code)
//! and calls [`exception_dispatch`], which calls the kernel's handler
//! (declared with [`crate::entry_point!`]). Nothing here returns: the
//! appliance has no exception it can recover from.

use core::arch::{asm, global_asm};
use core::sync::atomic::{AtomicU64, Ordering};

/// What the CPU reported with an exception.
#[derive(Clone, Copy, Debug)]
pub struct ExceptionFrame {
    /// Exception vector (0 = divide error, 13 = general protection, 14 = page fault, ...).
    pub vector: u64,
    /// The error code the CPU pushed, or 0 for vectors without one.
    pub error_code: u64,
    /// Address of the faulting instruction.
    pub instruction_pointer: u64,
    /// Stack pointer at the time of the exception.
    pub stack_pointer: u64,
    /// `%cr2`: the faulting address, meaningful for page faults (vector 14).
    pub page_fault_address: u64,
}

impl ExceptionFrame {
    /// The architectural name of the vector.
    pub fn name(&self) -> &'static str {
        match self.vector {
            0 => "divide error",
            1 => "debug",
            2 => "non-maskable interrupt",
            3 => "breakpoint",
            4 => "overflow",
            5 => "bound range exceeded",
            6 => "invalid opcode",
            7 => "device not available",
            8 => "double fault",
            10 => "invalid TSS",
            11 => "segment not present",
            12 => "stack-segment fault",
            13 => "general protection fault",
            14 => "page fault",
            16 => "x87 floating-point error",
            17 => "alignment check",
            18 => "machine check",
            19 => "SIMD floating-point error",
            20 => "virtualization exception",
            21 => "control protection exception",
            _ => "reserved exception",
        }
    }
}

// Stubs: vectors 8, 10-14, 17, 21, 29 and 30 have a CPU-pushed error code.
global_asm!(
    r#"
    .macro exception_stub vector, has_error_code
    .balign 16
    exception_stub_\vector:
    .if \has_error_code == 0
        pushq $0
    .endif
        pushq $\vector
        jmp exception_common
    .endm

    .pushsection .text.exceptions, "ax"
    exception_stub 0, 0
    exception_stub 1, 0
    exception_stub 2, 0
    exception_stub 3, 0
    exception_stub 4, 0
    exception_stub 5, 0
    exception_stub 6, 0
    exception_stub 7, 0
    exception_stub 8, 1
    exception_stub 9, 0
    exception_stub 10, 1
    exception_stub 11, 1
    exception_stub 12, 1
    exception_stub 13, 1
    exception_stub 14, 1
    exception_stub 15, 0
    exception_stub 16, 0
    exception_stub 17, 1
    exception_stub 18, 0
    exception_stub 19, 0
    exception_stub 20, 0
    exception_stub 21, 1
    exception_stub 22, 0
    exception_stub 23, 0
    exception_stub 24, 0
    exception_stub 25, 0
    exception_stub 26, 0
    exception_stub 27, 0
    exception_stub 28, 0
    exception_stub 29, 1
    exception_stub 30, 1
    exception_stub 31, 0

    exception_common:
        movq %rsp, %rdi          /* -> [vector, error, rip, cs, rflags, rsp, ss] */
        andq $-16, %rsp
        call {dispatch}
    4:
        hlt
        jmp 4b
    .popsection

    .pushsection .rodata.exceptions, "a"
    .balign 8
    .global pure6_exception_stubs
    pure6_exception_stubs:
    .irp vector, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
        .quad exception_stub_\vector
    .endr
    .popsection
    "#,
    dispatch = sym exception_dispatch,
    options(att_syntax)
);

unsafe extern "C" {
    /// The 32 stub addresses, in vector order (defined in the assembly above).
    static pure6_exception_stubs: [u64; 32];
}

unsafe extern "Rust" {
    /// The kernel's handler, defined by [`crate::entry_point!`].
    fn pure6_kernel_exception(frame: &ExceptionFrame) -> !;
}

/// Interrupt descriptor table: 32 gates of two quadwords each. Atomics let it
/// be filled in place without `static mut`.
static INTERRUPT_DESCRIPTOR_TABLE: [AtomicU64; 64] = [const { AtomicU64::new(0) }; 64];

/// Called from `exception_common` with a pointer to the pushed frame.
extern "C" fn exception_dispatch(raw_frame: *const u64) -> ! {
    // SAFETY: `exception_common` passes the stack pointer right after the
    // stub's pushes: vector, error code, then the CPU's five quadwords
    // (rip, cs, rflags, rsp, ss), all on the current, mapped stack.
    let words = unsafe { core::slice::from_raw_parts(raw_frame, 7) };
    let frame = ExceptionFrame {
        vector: words[0],
        error_code: words[1],
        instruction_pointer: words[2],
        stack_pointer: words[5],
        page_fault_address: crate::cpu::read_page_fault_address(),
    };
    // SAFETY: the kernel defines this symbol through `entry_point!`, which
    // checks its signature.
    unsafe { pure6_kernel_exception(&frame) }
}

/// Fills the IDT with the 32 exception gates and loads it.
pub(crate) fn install() {
    const CODE_SEGMENT: u64 = 0x08;
    // Present, DPL 0, 64-bit interrupt gate.
    const GATE_TYPE: u64 = 0x8E;
    for vector in 0..32 {
        // SAFETY: the table is immutable data emitted by the assembly above.
        let handler = unsafe { pure6_exception_stubs[vector] };
        let low = (handler & 0xFFFF)
            | (CODE_SEGMENT << 16)
            | (GATE_TYPE << 40)
            | (((handler >> 16) & 0xFFFF) << 48);
        let high = handler >> 32;
        INTERRUPT_DESCRIPTOR_TABLE[vector * 2].store(low, Ordering::Relaxed);
        INTERRUPT_DESCRIPTOR_TABLE[vector * 2 + 1].store(high, Ordering::Relaxed);
    }
    #[repr(C, packed)]
    struct DescriptorTablePointer {
        limit: u16,
        base: u64,
    }
    let pointer = DescriptorTablePointer {
        limit: (core::mem::size_of_val(&INTERRUPT_DESCRIPTOR_TABLE) - 1) as u16,
        base: INTERRUPT_DESCRIPTOR_TABLE.as_ptr() as u64,
    };
    // SAFETY: the table is static, fully initialised above and lives for
    // the whole run; each gate points at a stub in this crate.
    unsafe { asm!("lidt [{}]", in(reg) &pointer, options(readonly, nostack, preserves_flags)) }
}
