//! Contiguous block allocation inside the FIB's arrays (nodes, leaves, routes).
//!
//! The trie keeps every node's children, leaves and routes as one contiguous
//! run of elements in a shared `Vec`, addressed by a base index and a rank.
//! When a run changes size the trie takes a new run and gives the old one
//! back; this allocator remembers the freed runs per exact size so they are
//! reused, which keeps the arrays bounded by the number of routes under
//! steady update traffic.

use alloc::vec::Vec;

/// Hands out runs of indices `[start, start + size)` in one array.
#[derive(Debug, Clone, Default)]
pub(super) struct BlockAllocator {
    /// `free[size]` holds the start of every freed run of exactly `size`.
    free: Vec<Vec<u32>>,
    /// One past the highest index handed out so far: the array's length.
    end: u32,
    /// Elements in `free` (kept as a count: read after every update).
    free_elements: usize,
}

impl BlockAllocator {
    /// Start an allocator for runs of at most `largest` elements.
    pub(super) fn new(largest: usize) -> BlockAllocator {
        BlockAllocator {
            free: (0..=largest).map(|_| Vec::new()).collect(),
            end: 0,
            free_elements: 0,
        }
    }

    /// The length the backing array must have.
    pub(super) fn end(&self) -> usize {
        self.end as usize
    }

    /// Take a run of `size` elements; a run of 0 is start 0 and costs nothing.
    pub(super) fn allocate(&mut self, size: usize) -> u32 {
        if size == 0 {
            return 0;
        }
        if let Some(start) = self.free[size].pop() {
            self.free_elements -= size;
            return start;
        }
        let start = self.end;
        self.end = self
            .end
            .checked_add(u32::try_from(size).expect("run size fits in u32"))
            .expect("FIB array index space exhausted");
        start
    }

    /// Give back a run taken with [`BlockAllocator::allocate`].
    pub(super) fn release(&mut self, start: u32, size: usize) {
        if size != 0 {
            self.free[size].push(start);
            self.free_elements += size;
        }
    }

    /// Number of elements sitting in freed runs.
    pub(super) fn free_elements(&self) -> usize {
        self.free_elements
    }

    /// Heap bytes held by the free lists themselves.
    pub(super) fn memory_bytes(&self) -> usize {
        self.free.capacity() * core::mem::size_of::<Vec<u32>>()
            + self
                .free
                .iter()
                .map(|starts| starts.capacity() * core::mem::size_of::<u32>())
                .sum::<usize>()
    }

    /// Forget every run (the arrays are being cleared).
    pub(super) fn clear(&mut self) {
        for starts in &mut self.free {
            starts.clear();
        }
        self.end = 0;
        self.free_elements = 0;
    }

    /// Release spare capacity of the free lists.
    pub(super) fn shrink_to_fit(&mut self) {
        for starts in &mut self.free {
            starts.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuses_freed_runs_of_the_same_size() {
        let mut blocks = BlockAllocator::new(8);
        assert_eq!(blocks.allocate(0), 0);
        let first = blocks.allocate(3);
        let second = blocks.allocate(2);
        assert_eq!((first, second, blocks.end()), (0, 3, 5));
        blocks.release(first, 3);
        assert_eq!(blocks.free_elements(), 3);
        assert_eq!(blocks.allocate(2), 5);
        assert_eq!(blocks.allocate(3), 0);
        assert_eq!(blocks.free_elements(), 0);
    }
}
