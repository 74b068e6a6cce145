//! The heap: the largest usable RAM region of the firmware's memory map.
//!
//! The heap is not part of the image; it starts above `__kernel_end` in RAM
//! the loader reported as usable and stays inside the 4 GiB the boot page
//! tables map. `linked_list_allocator` writes only a small header at
//! initialisation, so no page is touched until it is allocated (first
//! touches are slow under nested virtualisation).

use boot::{BootInfo, MemoryRegionKind};
use linked_list_allocator::LockedHeap;

#[global_allocator]
static HEAP: LockedHeap = LockedHeap::empty();

/// The heap the allocator was given.
#[derive(Clone, Copy, Debug)]
pub struct HeapRegion {
    /// First byte.
    pub start: u64,
    /// Size in bytes.
    pub size: u64,
}

/// Picks the heap region and hands it to the allocator.
pub fn init(info: &BootInfo) -> Result<HeapRegion, &'static str> {
    let mut best: Option<HeapRegion> = None;
    for region in info.memory_regions() {
        if region.kind != MemoryRegionKind::Usable {
            continue;
        }
        let start = region.start.max(info.kernel_end).next_multiple_of(4096);
        let end = region
            .start
            .saturating_add(region.length)
            .min(boot::start_info::IDENTITY_MAPPED_BYTES);
        if end <= start {
            continue;
        }
        let candidate = HeapRegion {
            start,
            size: end - start,
        };
        if best.is_none_or(|current| candidate.size > current.size) {
            best = Some(candidate);
        }
    }
    let region = best.ok_or("the memory map has no usable RAM above the kernel")?;
    if region.size < 4 << 20 {
        return Err("less than 4 MiB of usable RAM above the kernel");
    }
    // SAFETY: the region is usable RAM according to the loader, lies above
    // the kernel image and below the 4 GiB identity map, is not used by
    // anything else, and is handed to the allocator exactly once.
    unsafe {
        HEAP.lock()
            .init(region.start as *mut u8, region.size as usize)
    };
    Ok(region)
}

/// Bytes in use and free on the heap.
pub fn usage() -> (usize, usize) {
    let heap = HEAP.lock();
    (heap.used(), heap.free())
}
