//! Interning of next hops into 16-bit codes.
//!
//! Leaves, route records and direct entries hold a 2-byte [`Code`] instead
//! of the 4-byte [`super::NextHopIndex`]: on the real table that is 5.6 MB
//! of 22 (leaves and route records outnumber routes, next hops do not: a
//! router has a few hundred neighbours, not millions). A code is resolved
//! by one read of a small array that stays in L1 (4 KiB for 1024 next
//! hops). Each code counts the routes using it and is recycled when the
//! count drops to zero, so the cap is on next hops *in use at once*:
//! [`MAX_CODES`].

use alloc::vec::Vec;

/// A next hop's 16-bit code inside the tries.
pub(super) type Code = u16;

/// The code meaning "no route here".
pub(super) const NO_CODE: Code = Code::MAX;

/// Distinct next hops that can be in use at once (every code but [`NO_CODE`]).
pub(super) const MAX_CODES: usize = NO_CODE as usize;

/// The next hop ↔ code table, with a use count per code.
#[derive(Debug, Clone, Default)]
pub(super) struct NextHops {
    /// `values[code]`: the next hop of a code (stale while the code is free).
    values: Vec<u32>,
    /// `uses[code]`: routes holding the code; 0 means the code is free.
    uses: Vec<u32>,
    /// Free codes below `values.len()`.
    free: Vec<Code>,
    /// `(next hop, code)` of every code in use, sorted by next hop.
    by_next_hop: Vec<(u32, Code)>,
}

impl NextHops {
    /// The next hop of a code in use.
    #[inline(always)]
    pub(super) fn resolve(&self, code: Code) -> u32 {
        self.values[usize::from(code)]
    }

    /// The code of `next_hop`, counting one more use of it; `None` when
    /// [`MAX_CODES`] other next hops are already in use.
    pub(super) fn acquire(&mut self, next_hop: u32) -> Option<Code> {
        match self
            .by_next_hop
            .binary_search_by_key(&next_hop, |entry| entry.0)
        {
            Ok(at) => {
                let code = self.by_next_hop[at].1;
                self.uses[usize::from(code)] += 1;
                Some(code)
            }
            Err(at) => {
                let code = match self.free.pop() {
                    Some(code) => code,
                    None if self.values.len() < MAX_CODES => {
                        self.values.push(0);
                        self.uses.push(0);
                        (self.values.len() - 1) as Code
                    }
                    None => return None,
                };
                self.values[usize::from(code)] = next_hop;
                self.uses[usize::from(code)] = 1;
                self.by_next_hop.insert(at, (next_hop, code));
                Some(code)
            }
        }
    }

    /// Count one more use of a code in use.
    pub(super) fn retain(&mut self, code: Code) {
        self.uses[usize::from(code)] += 1;
    }

    /// Drop one use of `code`; frees it with its last use.
    pub(super) fn release(&mut self, code: Code) {
        let uses = &mut self.uses[usize::from(code)];
        *uses -= 1;
        if *uses == 0 {
            let next_hop = self.values[usize::from(code)];
            if let Ok(at) = self
                .by_next_hop
                .binary_search_by_key(&next_hop, |entry| entry.0)
            {
                self.by_next_hop.remove(at);
            }
            self.free.push(code);
        }
    }

    /// Forget every code.
    pub(super) fn clear(&mut self) {
        self.values.clear();
        self.uses.clear();
        self.free.clear();
        self.by_next_hop.clear();
    }

    /// Distinct next hops in use.
    pub(super) fn len(&self) -> usize {
        self.by_next_hop.len()
    }

    /// Heap bytes held.
    pub(super) fn memory_bytes(&self) -> usize {
        use core::mem::size_of;
        self.values.capacity() * size_of::<u32>()
            + self.uses.capacity() * size_of::<u32>()
            + self.free.capacity() * size_of::<Code>()
            + self.by_next_hop.capacity() * size_of::<(u32, Code)>()
    }

    /// Release spare capacity.
    pub(super) fn shrink_to_fit(&mut self) {
        self.values.shrink_to_fit();
        self.uses.shrink_to_fit();
        self.free.shrink_to_fit();
        self.by_next_hop.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_shared_counted_and_recycled() {
        let mut hops = NextHops::default();
        let a = hops.acquire(70).unwrap();
        let b = hops.acquire(5).unwrap();
        assert_eq!(hops.acquire(70), Some(a));
        assert_ne!(a, b);
        assert_eq!((hops.resolve(a), hops.resolve(b), hops.len()), (70, 5, 2));
        hops.release(a);
        assert_eq!(hops.len(), 2);
        hops.release(a);
        assert_eq!(hops.len(), 1);
        // The freed code is reused for a new next hop.
        assert_eq!(hops.acquire(9), Some(a));
        assert_eq!(hops.resolve(a), 9);
    }

    #[test]
    fn the_cap_is_on_next_hops_in_use() {
        let mut hops = NextHops::default();
        for next_hop in 0..MAX_CODES as u32 {
            assert!(hops.acquire(next_hop).is_some());
        }
        assert_eq!(hops.acquire(u32::MAX - 1), None);
        assert_eq!(hops.acquire(7), Some(7));
        hops.release(3);
        assert_eq!(hops.acquire(u32::MAX - 1), Some(3));
    }
}
