//! The PVH entry: ELF note, 32-bit start, page tables, GDT, switch to long mode.
//!
//! Memory used here lives in `.bss` (zero-filled by the loader) so the
//! image stays small: one PML4, one PDPT and four page directories
//! (6 pages), plus the boot stack.

/// Size of the boot stack, the only stack the appliance has (it is single
/// threaded and polls; nothing runs on interrupts).
pub const BOOT_STACK_BYTES: usize = 256 * 1024;

core::arch::global_asm!(
    r#"
    /* ---- PVH ELF note: XEN_ELFNOTE_PHYS32_ENTRY (18), 8-byte descriptor ---- */
    .pushsection .note.pvh, "a", @note
    .balign 4
    .long 4                 /* name size: "Xen\0" */
    .long 8                 /* descriptor size: ELF64 wants a quad */
    .long 18                /* XEN_ELFNOTE_PHYS32_ENTRY */
    .asciz "Xen"
    .balign 4
    .quad pvh_start32
    .balign 4
    .popsection

    /* ---- page tables and stack ---- */
    .pushsection .bss.boot, "aw", @nobits
    .balign 4096
boot_pml4:
    .skip 4096
boot_pdpt:
    .skip 4096
boot_page_directories:
    .skip 4096 * 4
    .balign 16
boot_stack_bottom:
    .skip {stack_bytes}
boot_stack_top:
    .popsection

    /* ---- GDT: null, 64-bit code (0x08), data (0x10) ---- */
    .pushsection .rodata.boot, "a"
    .balign 16
boot_gdt:
    .quad 0
    .quad 0x00AF9A000000FFFF
    .quad 0x00CF92000000FFFF
boot_gdt_end:
    .balign 16
boot_gdt_pointer:
    .word boot_gdt_end - boot_gdt - 1
    .quad boot_gdt
    .popsection

    /* ---- 32-bit entry, as PVH leaves us: protected mode, paging off,
       %ebx = physical address of hvm_start_info ---- */
    .pushsection .text.boot, "ax"
    .code32
    .global pvh_start32
pvh_start32:
    cli
    cld
    movl %ebx, %esi

    /* PML4[0] -> PDPT, PDPT[0..3] -> PD0..PD3 (present | writable).
       The loader zero-filled .bss, so the other entries are empty. */
    movl $boot_pdpt, %eax
    orl $0x3, %eax
    movl %eax, boot_pml4

    movl $boot_page_directories, %eax
    orl $0x3, %eax
    movl $boot_pdpt, %edi
    movl $4, %ecx
1:
    movl %eax, (%edi)
    movl $0, 4(%edi)
    addl $4096, %eax
    addl $8, %edi
    loop 1b

    /* 2048 entries of 2 MiB pages (present | writable | huge): 0..4 GiB.
       Entry i maps physical address i * 2 MiB; bits 32+ of the address go
       into the high dword. */
    movl $boot_page_directories, %edi
    xorl %ebx, %ebx          /* entry index */
2:
    movl %ebx, %eax
    shll $21, %eax
    orl $0x83, %eax
    movl %eax, (%edi)
    movl %ebx, %eax
    shrl $11, %eax
    movl %eax, 4(%edi)
    addl $8, %edi
    incl %ebx
    cmpl $2048, %ebx
    jne 2b

    /* CR4.PAE, CR3, EFER.LME, CR0.PG|PE|WP. CR0.CD and CR0.NW are cleared:
       a loader may jump here with the reset value of CR0 (0x60000010),
       which leaves every cache disabled and makes the CPU run thousands of
       times slower. */
    movl %cr4, %eax
    orl $(1 << 5), %eax
    movl %eax, %cr4

    movl $boot_pml4, %eax
    movl %eax, %cr3

    movl $0xC0000080, %ecx
    rdmsr
    orl $(1 << 8), %eax
    wrmsr

    movl %cr0, %eax
    andl $~((1 << 30) | (1 << 29)), %eax
    orl $((1 << 31) | (1 << 16) | 1), %eax
    movl %eax, %cr0

    lgdt boot_gdt_pointer
    ljmp $0x08, $boot_start64

    .code64
boot_start64:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movw %ax, %fs
    movw %ax, %gs

    movabsq $boot_stack_top, %rsp
    xorl %ebp, %ebp
    movl %esi, %edi          /* first argument: start info address */
    call {boot_main}
3:
    hlt
    jmp 3b
    .popsection
    "#,
    stack_bytes = const BOOT_STACK_BYTES,
    boot_main = sym crate::start_info::boot_main,
    options(att_syntax)
);
