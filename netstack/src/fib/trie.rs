//! The longest-prefix-match engine behind [`super::Fib`]: a multibit trie
//! with a 16-bit direct table, 8-bit strides and popcount-compressed nodes.
//!
//! Layout, for a key of `K::BITS` bits:
//! - `default`: the route of length 0.
//! - `direct`: 2^16 entries indexed by the key's first 16 bits. Each holds
//!   the best route of length 1..=16 covering it (`short`) and, when longer
//!   routes exist below it, the index of a subtree's root node.
//! - full roots (IPv6 only, [`Key::FULL_ROOTS`]): a root with at least
//!   [`FULL_ROOT_CHILDREN`] children is built with a child at every one of
//!   its 256 slots (empty nodes pad the rest), stored as one run right
//!   after it, and its direct entry says so ([`Direct::full`]). A lookup
//!   then computes the child's index from the key and never reads the
//!   root. Updates keep the shape (a full root loses no child and gains
//!   none; it goes when its last route does); [`Trie::build`], hence
//!   compaction, chooses the full roots again.
//! - nodes: each node consumes 8 key bits (256 slots) as four 64-slot
//!   [`Chunk`]s of 32 bytes (a node is 128 bytes, 64-aligned, so a chunk is
//!   one cache line's half). A slot is either a child node (bit set in
//!   `children`) or a leaf. Leaves are stored leaf-pushed (each holds the
//!   longest match of every route *below the direct table* covering that
//!   slot) and run-length compressed: only the slot where the value
//!   changes sets a bit in `leaf_starts`, so a leaf's rank is a popcount.
//!   The first [`INLINE`] ranks of a chunk live in the chunk itself, the
//!   rest in `leaves`; a lookup reads both candidates and selects one
//!   without a branch, as its last chunk's rank is as often beyond the
//!   inline ones as not (IPv6: 51% of the table's warm lookups). A leaf of
//!   [`NO_ROUTE`] falls back to the direct entry's `short`, then to
//!   `default`; short routes are therefore never pushed into nodes, and
//!   changing one touches only the direct table.
//! - next hops are 16-bit codes (see [`super::next_hops`]).
//! - Every node also keeps its own routes (lengths `offset+1 ..= offset+8`)
//!   as `(position, next hop)` pairs, position being the heap index
//!   `1 << k | first k bits`. They are the source of truth from which an
//!   update recomputes a node's leaves, descending only into children whose
//!   inherited value changed. A route of the node's longest length covers
//!   one slot, whose best match it then is: its insert or change sets
//!   that slot's value in place ([`Trie::set_slot`]) where the slot's
//!   run boundaries stay as they are.
//!
//! Children, leaves and routes of one node are contiguous runs in shared
//! arrays (see [`super::blocks`]), so a lookup is a chain of array reads.
//! Freed runs and spare capacity are bounded by automatic compaction
//! ([`Trie::compact_if_wasteful`]).
//!
//! # Building
//!
//! [`Trie::build`] (the boot's load of the whole table, and compaction)
//! gives every node exactly the chunks and leaves that the update path
//! ([`Trie::slot_values`], then [`Trie::write_leaves`]) computes from its
//! route records: a test checks every node of random builds against it,
//! and the build's answers against a trie made by inserts. It gets there
//! cheaper. The routes come sorted by `(key, length)`, so an enclosing prefix comes
//! before the prefixes it encloses, and a node's own routes are slot
//! intervals that nest like brackets: one pass over a node's routes
//! ([`Trie::build_node`]) keeps the enclosing ones on a stack
//! ([`LeafSweep`]), writes the leaf runs left to right as it passes them,
//! places the route records and finds the children with the value each
//! inherits; each child then passes over its own routes. A node costs its
//! routes and children, not its 256 slots. [`Trie::reserve_for`] sizes the
//! arrays first, counting the nodes from the bits each route shares with
//! the previous one, and hands the build the roots' ranges and the short
//! routes, so the build makes no pass of its own over the routes.
//!
//! Measured with callgrind on the host for one load of the compiled full
//! table (1.04M mapped IPv4 routes, 246K IPv6), at the kernel's
//! opt-level:
//! `CARGO_PROFILE_BENCH_OPT_LEVEL=s cargo bench -p netstack --bench
//! route_file --no-run`, then `PURE6_ROUTE_FILE_PROFILE=1 valgrind
//! --tool=callgrind --toggle-collect='route_file::profile_load_compiled'`
//! on the benchmark binary. [`Trie::build`] runs 284M instructions of the
//! load's 771M: `build_node` 203M (both recursion levels, leaves and
//! route records included), `reserve_for` 46M, growing the node arrays
//! for children 9M. Painting every node's [`SlotValues`] and encoding
//! them with [`Trie::write_leaves`] after a separate scan for the
//! children, as updates do, took 528M of 1,015M (`write_leaves` 139M,
//! `slot_values` 80M, `build_node` 172M, `build` with `reserve_for`'s
//! masked compare per level 86M, filling grown arrays before
//! overwriting them 24M).
//!
//! # What a lookup costs on this target
//!
//! The host and the appliance build for plain x86-64: no POPCNT, so each
//! `count_ones` is a 13-instruction bit-twiddle (about 14 cycles of
//! latency, an `imul` among them), and a level costs one L2 read plus
//! one such popcount on the dependent chain. With the table's warm
//! destinations (callgrind, `cargo bench -p netstack --bench fib --
//! profile-ipv6` under `valgrind --tool=callgrind
//! --toggle-collect='*lookup_fib*'`), an IPv6 lookup runs 147
//! instructions with 2.8 L1 misses (callgrind's cache model) and 0.41
//! mispredicted branches (all of them the walk's exit: where a lookup
//! ends is random), and a mapped IPv4 one 80 with 3.0 L1 misses (direct
//! entry, root chunk, spilled leaf). Independent lookups overlap only as
//! far as the reorder window holds them and a mispredicted exit lets
//! them, so instructions count about as much as the chain, but a cut of
//! a few instructions is below what wall-clock runs on the shared machine
//! can show:
//! - the lookup shifts the slot's bit to the top of the bitmap word
//!   (`word << (63 - bit)`): its sign is the child test and the word is
//!   the popcount's input without a mask; with the direct table a
//!   fixed-size array (no bounds check), 4.0% fewer instructions for
//!   IPv6 and 2.1% for mapped IPv4 than the `bt` + mask form, same
//!   reads;
//! - IPv6 walks its high 64 bits as a `u64` ([`Ipv6Walk`]), not with
//!   `u128` shifts, and `Fib::lookup` tests pool6 with a 64-bit compare
//!   first: 163 → 148 instructions per IPv6 lookup, 91 → 85 per mapped
//!   IPv4 one (the `u128` walk's switch as a select instead of a cold
//!   branch: 2 more per lookup; a wrapping shift by `!slot` instead of
//!   `(slot & 63) ^ 63`: no change, left out);
//! - the direct entry says how to enter its subtree as two shifts
//!   ([`Direct::root_slot_shift`]), not as a `full` flag tested into two
//!   selects, and an entry without a subtree is found by the bounds check
//!   of the first node read (its `NO_NODE` lies beyond every node), not by
//!   a test of its own: 148.4 → 146.9 instructions per IPv6 lookup, 84.5
//!   → 79.6 per mapped IPv4 one; same reads, same mispredictions, and no
//!   measurable change of the wall-clock ratio to `prefix-trie` (eight
//!   alternating `-- lookups-only` runs each, IPv6 median 4.35x before,
//!   4.29x after, ranges 3.95-4.57 and 4.07-4.80). The shifts alone
//!   measured 145.4 and 87.5: which values LLVM keeps in registers moves
//!   by a few instructions between the two families from one change to
//!   the next (the benchmark's loop inlines both tries' lookups and
//!   spills some of their fields and constants to the stack), so a
//!   change is judged on both;
//! - what the software popcount costs, measured with a throwaway build
//!   of the benchmark for `-C target-feature=+popcnt` (every crate,
//!   `prefix-trie` too; not a configuration this project may ship):
//!   107.1 instructions per IPv6 lookup instead of 146.9, and 32.1 ns
//!   instead of 43.5 ns (medians of six alternating `-- lookups-only`
//!   runs each), but the same ratio to `prefix-trie` (4.36x against
//!   4.32x), which gains as much from it. A rank without a popcount on
//!   the dependent chain is therefore the largest lever left, worth about
//!   a quarter of the IPv6 time, if it fits the memory budget;
//! - tried and left out: the walk holding the key's bits inverted, so
//!   that the inverted slot is the shift itself and indexes the chunks
//!   stored in reverse (no `not` per level): 147.8 / 83.6 instructions
//!   with the shifts (against 145.4 / 87.5 without), 149.6 / 84.5 when
//!   the low half is inverted only at the switch; the `& 63` stays
//!   (`wrapping_shl` by the inverted slot: no change either);
//! - tried and left out: walking the first two levels below the root
//!   without a branch (a select per level, re-reading the last chunk
//!   once the walk has reached a leaf) cut callgrind's mispredictions
//!   by 90% but added 20% instructions and was slower in every
//!   alternating run (IPv6 ratio to `prefix-trie` 3.24-3.35x against
//!   3.48-3.60x, three runs each); one such level gained nothing
//!   measurable;
//! - not built, from the table's numbers: flat 256-code leaf arrays for
//!   dense IPv4 roots (one read less) cost 0.6 MB for the roots holding
//!   half the lookups, and past that the budget of 16 bytes per route,
//!   while a fast path taken by half the lookups at random is a
//!   mispredicted branch per lookup; ten inline leaves for chunks
//!   without children (the child words reused) would keep 18% more of
//!   the IPv6 lookups off `leaves` (ranks 4-9; 35% end at rank 12 or
//!   beyond) for some eight more instructions in all of them; a full
//!   /24 level under full roots needs to know which /24 nodes are full
//!   without reading them, which the 8-byte direct entry cannot say (and
//!   would pay little: the densest /24 nodes under full roots that the
//!   memory budget allows, 23 of them with 44 or more children each for
//!   0.53 MB of padding, carry 9.8% of the warm IPv6 lookups, 100 of them
//!   18.8% for 2.9 MB);
//! - not built, measured on the table (warm IPv6 destinations of the
//!   benchmark, 4096 lookups, 2.61 node reads each below the full roots):
//!   path compression of single-child chains. Of the 56,810 IPv6 nodes
//!   (without full-root padding) 5,207 have one child and no routes of
//!   their own, so their leaves are all the inherited value and a lookup
//!   could skip them, but lookups pass through such a node only 0.119
//!   times on average (452 of the 4096 lookups through one, 18 through
//!   two), far from paying for a test on every walk;
//! - what bounds a lookup on this VM (session 8, same-process rows of
//!   `-- lookups-only` with a modified benchmark loop): 16 instructions
//!   per lookup that depend on nothing (eight independent multiply-xor
//!   chains) made IPv6 lookups 8-13% slower and mapped IPv4 ones 5-80%,
//!   so issue slots count (about two instructions per cycle here); but
//!   eight lookups walked in lockstep (every lane's direct entry, then
//!   every lane's chunk, so that their reads overlap) ran 113-135
//!   instructions per lookup instead of 80 and were slower in every run
//!   (mapped IPv4 24-39 ns against 19-31 ns), and so was a lockstep walk
//!   of IPv6 (220 instructions, 1.9 mispredictions per lookup);
//! - tried and left out: rank bytes instead of inline leaves. A chunk's
//!   eight spare bytes held the run starts before each 8-slot group, so
//!   a leaf's rank was that byte plus a 256-entry table's count of the
//!   group's bits up to the slot (no popcount, no inline/spilled select),
//!   and every run lived in `leaves` (a chunk's carried-over run being
//!   the previous chunk's last, so a node stores one leaf per run). For
//!   IPv6: 146.9 → 125.0 instructions per lookup, but every lookup now
//!   read a leaf (2.8 → 3.35 L1 misses) and the ratio to `prefix-trie`
//!   fell (median 4.09x against 4.38x, eight alternating runs each). For
//!   the mapped IPv4 trie only, whose lookups mostly spill anyway: 79.6 →
//!   65.7 instructions, 3.0 → 3.2 misses, ratio median 21.2x against
//!   19.4x (some 9% faster) for 434 KB more leaves (15.7 bytes per
//!   route), while the IPv6 ratio of the same runs went from 4.2x to
//!   4.05x (layout: 148.5 instructions). Not kept: a second chunk layout
//!   for a gain that leaves the 15 ns target where it was. A dependent
//!   read costs more than the dozen instructions it takes to avoid it;
//! - tried and left out: the walk past bit 64 out of line (the high
//!   half's walk then carries one register, not two, and `advance` says
//!   when it has run out): 146.9 → 146.6 instructions per IPv6 lookup;
//! - no measurable effect of transparent huge pages (the appliance maps
//!   its memory with 2 MiB pages; the host benchmark's heap has 4 KiB
//!   pages): five alternating runs each with the host's THP `always` and
//!   `madvise` differed by less than the spread of either.

use alloc::vec::Vec;

use super::blocks::BlockAllocator;
use super::next_hops::{Code, NO_CODE};

/// Sentinel leaf meaning "no route here".
const NO_ROUTE: Code = NO_CODE;
/// Sentinel node index meaning "no subtree".
const NO_NODE: u32 = u32::MAX;
/// Key bits resolved by the direct table.
pub(super) const DIRECT_BITS: u8 = 16;
/// Key bits consumed by one node.
const STRIDE: u8 = 8;
/// Slots of one node.
const SLOTS: usize = 1 << STRIDE;
/// Routes one node can hold: lengths 1..=8 below its offset.
const MAX_NODE_ROUTES: usize = 2 * SLOTS - 2;

/// A fixed-width key the trie can index: `u128` for IPv6, `u32` for the
/// IPv4 bits embedded under the translation prefix.
pub(super) trait Key: Copy + Ord + Eq + core::fmt::Debug {
    /// Width of the key in bits.
    const BITS: u8;
    /// The `width` bits (1..=16) starting `offset` bits from the top.
    fn bits_at(self, offset: u8, width: u8) -> usize;
    /// The key with every bit after the first `length` cleared.
    fn masked(self, length: u8) -> Self;
    /// The key with `value` placed in the `width` bits at `offset`.
    fn with_bits(self, offset: u8, width: u8, value: usize) -> Self;
    /// The first `width` bits (a constant in the lookup: one shift).
    fn top(self, width: u8) -> usize;
    /// How many leading bits `self` and `other` have in common.
    fn shared_bits(self, other: Self) -> u8;
    /// The key's bits below the direct table, as the lookup walks them.
    type Walk: Walk;
    /// The walk from bit [`DIRECT_BITS`] on.
    fn walk(self) -> Self::Walk;
    /// Whether [`Trie::build`] makes dense roots full (see [`Direct::full`]).
    const FULL_ROOTS: bool;
}

impl Key for u128 {
    const BITS: u8 = 128;
    // IPv6 routes sit two to four levels below the root (/32../48): one
    // read less for most lookups.
    const FULL_ROOTS: bool = true;
    #[inline(always)]
    fn bits_at(self, offset: u8, width: u8) -> usize {
        ((self << offset) >> (128 - u32::from(width))) as usize
    }
    fn masked(self, length: u8) -> u128 {
        if length == 0 {
            0
        } else {
            self & (u128::MAX << (128 - u32::from(length)))
        }
    }
    fn with_bits(self, offset: u8, width: u8, value: usize) -> u128 {
        self | ((value as u128) << (128 - u32::from(offset) - u32::from(width)))
    }
    #[inline(always)]
    fn top(self, width: u8) -> usize {
        (self >> (128 - u32::from(width))) as usize
    }
    fn shared_bits(self, other: u128) -> u8 {
        (self ^ other).leading_zeros() as u8
    }
    type Walk = Ipv6Walk;
    #[inline(always)]
    fn walk(self) -> Ipv6Walk {
        Ipv6Walk {
            high: (((self >> 64) as u64) << DIRECT_BITS) | (1 << (DIRECT_BITS - 1)),
            low: self as u64,
        }
    }
}

impl Key for u32 {
    const BITS: u8 = 32;
    // The mapped IPv4 /24s end in the root itself: nothing to skip.
    const FULL_ROOTS: bool = false;
    #[inline(always)]
    fn bits_at(self, offset: u8, width: u8) -> usize {
        ((self << offset) >> (32 - u32::from(width))) as usize
    }
    fn masked(self, length: u8) -> u32 {
        if length == 0 {
            0
        } else {
            self & (u32::MAX << (32 - u32::from(length)))
        }
    }
    fn with_bits(self, offset: u8, width: u8, value: usize) -> u32 {
        self | ((value as u32) << (32 - u32::from(offset) - u32::from(width)))
    }
    #[inline(always)]
    fn top(self, width: u8) -> usize {
        (self >> (32 - u32::from(width))) as usize
    }
    fn shared_bits(self, other: u32) -> u8 {
        (self ^ other).leading_zeros() as u8
    }
    type Walk = u32;
    #[inline(always)]
    fn walk(self) -> u32 {
        self << DIRECT_BITS
    }
}

/// The key bits a lookup walks below the direct table, [`STRIDE`] at a
/// time.
pub(super) trait Walk: Copy {
    /// The current node's slot: the walk's next [`STRIDE`] bits.
    fn slot(self) -> usize;
    /// Step past the slot just read, to the child's bits.
    fn advance(&mut self);
    /// Step past the root's slot (`bits` = [`STRIDE`]) or not (`0`), from
    /// the walk's start: no switch to check.
    fn skip(&mut self, bits: u8);
}

impl Walk for u32 {
    #[inline(always)]
    fn slot(self) -> usize {
        (self >> (32 - STRIDE)) as usize
    }
    #[inline(always)]
    fn advance(&mut self) {
        *self <<= STRIDE;
    }
    #[inline(always)]
    fn skip(&mut self, bits: u8) {
        *self <<= bits;
    }
}

/// [`Key::Walk`] of IPv6: the bits up to 64 walked as one `u64` (a `u128`
/// shift is two instructions and holds two registers; almost every walk
/// ends before bit 64, routes being /16../64), then the low half. A marker
/// bit just below the key bits makes `high` exactly [`SWITCH_TO_LOW`] once
/// the high half's last slot has been stepped past; the walk then takes
/// the low half and leaves [`SWITCH_TO_LOW`] in `low`, so a later `high`
/// of that value (possible: key bits) "switches" to itself.
#[derive(Debug, Clone, Copy)]
pub(super) struct Ipv6Walk {
    /// The bits still to walk in the current half, then the marker bit.
    high: u64,
    /// The key's low 64 bits, then [`SWITCH_TO_LOW`].
    low: u64,
}

/// [`Ipv6Walk`]'s `high` once the high half is walked: the marker alone.
const SWITCH_TO_LOW: u64 = 1 << 63;

impl Walk for Ipv6Walk {
    #[inline(always)]
    fn slot(self) -> usize {
        (self.high >> (64 - STRIDE)) as usize
    }
    #[inline(always)]
    fn advance(&mut self) {
        self.high <<= STRIDE;
        if self.high == SWITCH_TO_LOW {
            *self = self.switched_to_low();
        }
    }
    #[inline(always)]
    fn skip(&mut self, bits: u8) {
        // From bit 16 the marker is 48 bits below the top: no switch.
        self.high <<= bits;
    }
}

impl Ipv6Walk {
    /// The walk of the low half. Cold and out of line, so the switch is a
    /// branch, not a select (two more instructions per level, measured):
    /// walks past bit 64 are rare.
    #[cold]
    #[inline(never)]
    fn switched_to_low(self) -> Ipv6Walk {
        Ipv6Walk {
            high: self.low,
            low: SWITCH_TO_LOW,
        }
    }
}

/// One direct-table entry (8 bytes: one read resolves the first 16 bits).
#[derive(Debug, Clone, Copy)]
struct Direct {
    /// Root of the subtree of routes longer than 16 bits, or [`NO_NODE`].
    node: u32,
    /// Longest route of length 1..=16 covering this entry, or [`NO_ROUTE`].
    short: Code,
    /// How a lookup enters the subtree, without a test: it starts at
    /// node `node + ((slot + 1) >> root_slot_shift)`, `slot` being the
    /// root's slot of the key, having walked `root_walk_shift` more bits.
    /// For an ordinary root (`9`, `0`) that is the root itself; for a
    /// **full** root (`0`, [`STRIDE`]; see [`Direct::full`]) it is the
    /// slot's child, so the lookup never reads the root. An entry without
    /// a subtree has the ordinary shifts: the lookup's index stays
    /// [`NO_NODE`], beyond every node.
    root_slot_shift: u8,
    /// See `root_slot_shift`.
    root_walk_shift: u8,
}

impl Direct {
    /// The root is **full**: every one of its 256 slots is a child, and
    /// the children are the 256 nodes right after it. A lookup then goes
    /// straight to child `node + 1 + slot` without reading the root.
    fn full(&self) -> bool {
        self.root_walk_shift != 0
    }

    /// Mark the root full (see [`Direct::full`]).
    fn make_full(&mut self) {
        self.root_slot_shift = 0;
        self.root_walk_shift = STRIDE;
    }
}

/// A direct entry without routes below it.
const EMPTY_DIRECT: Direct = Direct {
    node: NO_NODE,
    short: NO_ROUTE,
    root_slot_shift: STRIDE + 1,
    root_walk_shift: 0,
};

/// Children (of 256 slots) a root needs before [`Trie::build`] makes it
/// full, padding the other slots with empty children.
const FULL_ROOT_CHILDREN: usize = 8;
/// Routes longer than 16 bits per padding node of full roots: with one
/// root's worth of padding allowed in any table, the bound that keeps
/// memory proportional to the routes whatever the table.
const ROUTES_PER_FULL_ROOT_PADDING: usize = 8;

/// Leaf slots [`Trie::set_slot`] patched in place (tests check that the
/// fast path is taken).
#[cfg(test)]
static SET_SLOT_PATCHES: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);

/// Leaf values a chunk holds inline.
const INLINE: usize = 4;

/// 64 slots of a node, self-contained: one aligned 32-byte read per level.
///
/// `children` marks child slots, `leaf_starts` the leaf slots where a new
/// run of equal values starts. A leaf slot's rank is the number of starts
/// at or before it in this chunk: rank 0 is the run carried over from the
/// previous chunk. Ranks below [`INLINE`] are read from `inline` (most
/// IPv6 chunks have no more runs, so their lookups never touch `leaves`);
/// rank `r >= INLINE` is `leaves[leaf_base + r - INLINE]`.
#[derive(Debug, Clone, Copy)]
struct Chunk {
    children: u64,
    leaf_starts: u64,
    child_base: u32,
    leaf_base: u32,
    inline: [Code; INLINE],
}

impl Default for Chunk {
    fn default() -> Chunk {
        Chunk {
            children: 0,
            leaf_starts: 0,
            child_base: 0,
            leaf_base: 0,
            inline: [NO_ROUTE; INLINE],
        }
    }
}

impl Chunk {
    /// Leaf values of this chunk kept in `leaves` (beyond the inline ones).
    fn stored_leaves(&self) -> usize {
        (self.leaf_starts.count_ones() as usize + 1).saturating_sub(INLINE)
    }
}

/// The part of a node that lookups read: four chunks, one cache line each
/// pair (128 bytes, aligned so that no chunk straddles two lines).
#[derive(Debug, Clone, Copy, Default)]
#[repr(align(64))]
struct Node {
    chunks: [Chunk; 4],
}

impl Node {
    #[inline(always)]
    fn has_child(&self, slot: usize) -> bool {
        self.chunks[slot >> 6].children >> (slot & 63) & 1 != 0
    }

    /// Index in `nodes` of the child at `slot` (which must be a child).
    #[inline(always)]
    fn child_index(&self, slot: usize) -> usize {
        let chunk = &self.chunks[slot >> 6];
        chunk.child_base as usize + (chunk.children & mask_below(slot & 63)).count_ones() as usize
    }

    /// Index of the node's first child (its run's start).
    fn child_base(&self) -> u32 {
        self.chunks[0].child_base
    }

    /// Index of the node's first leaf (its run's start).
    fn leaf_base(&self) -> u32 {
        self.chunks[0].leaf_base
    }

    fn child_count(&self) -> usize {
        self.chunks
            .iter()
            .map(|chunk| chunk.children.count_ones() as usize)
            .sum()
    }

    /// Leaf values of this node kept in `leaves`: the length of its run.
    fn leaf_count(&self) -> usize {
        self.chunks.iter().map(Chunk::stored_leaves).sum()
    }

    /// Point the chunks into the node's runs starting at the given bases.
    fn set_bases(&mut self, child_base: u32, leaf_base: u32) {
        let (mut children, mut leaves) = (child_base, leaf_base);
        for chunk in &mut self.chunks {
            chunk.child_base = children;
            chunk.leaf_base = leaves;
            children += chunk.children.count_ones();
            leaves += chunk.stored_leaves() as u32;
        }
    }
}

/// Bits below `bit` set.
#[inline(always)]
fn mask_below(bit: usize) -> u64 {
    (1u64 << bit).wrapping_sub(1)
}

/// The part of a node that only updates read (8 bytes).
#[derive(Debug, Clone, Copy, Default)]
struct NodeRoutes {
    /// Index of the first route in `route_positions` / `route_codes`.
    base: u32,
    /// Routes held by this node (at most [`MAX_NODE_ROUTES`]).
    count: u16,
    /// Best route covering the whole node from its ancestors (not from the
    /// direct table), or [`NO_ROUTE`].
    inherited: Code,
}

/// Position of a route of length `offset + k` (k in 1..=8) in its node.
fn position_of<K: Key>(key: K, offset: u8, length: u8) -> u16 {
    let k = length - offset;
    (1u16 << k) | key.bits_at(offset, k) as u16
}

/// Slots `[first, end)` a route at `position` covers.
fn slots_of(position: u16) -> (usize, usize) {
    let k = 15 - position.leading_zeros() as usize;
    let bits = usize::from(position) - (1 << k);
    let shift = usize::from(STRIDE) - k;
    (bits << shift, (bits + 1) << shift)
}

/// A node's value at each of its slots ([`Trie::slot_values`]), four
/// codes to a word: a node is painted with a quarter of the stores of a
/// `[Code; 256]`, which counts in the appliance's boot (its kernel code
/// has no vector stores, and under TCG every store is emulated).
struct SlotValues {
    words: [u64; SLOTS / 4],
}

impl SlotValues {
    /// Every slot holding `code`.
    fn new(code: Code) -> SlotValues {
        SlotValues {
            words: [repeated(code); SLOTS / 4],
        }
    }

    /// The value at `slot`.
    #[inline(always)]
    fn get(&self, slot: usize) -> Code {
        (self.words[slot / 4] >> (16 * (slot % 4))) as Code
    }

    /// Slots `[first, end)` (a route's: a power of two in size, aligned
    /// to it) set to `code`.
    #[inline(always)]
    fn paint(&mut self, first: usize, end: usize, code: Code) {
        if end - first >= 4 {
            self.words[first / 4..end / 4].fill(repeated(code));
        } else {
            let shift = 16 * (first % 4);
            let mask = (u64::MAX >> (64 - 16 * (end - first))) << shift;
            let word = &mut self.words[first / 4];
            *word = (*word & !mask) | (repeated(code) & mask);
        }
    }
}

/// `chunks` (their `children` kept) with the leaf runs of `values`
/// written in: `leaf_starts`, the inline values, and the values beyond
/// them, in order, with their count ([`Trie::write_leaves`] stores them).
fn encode_leaves(
    mut chunks: [Chunk; 4],
    values: &SlotValues,
) -> ([Chunk; 4], [Code; SLOTS], usize) {
    let children = [
        chunks[0].children,
        chunks[1].children,
        chunks[2].children,
        chunks[3].children,
    ];
    let starts = values.run_starts(children);
    // Values beyond the inline ones, chunk after chunk.
    let mut stored: [Code; SLOTS] = [NO_ROUTE; SLOTS];
    let mut count = 0;
    let mut last = NO_ROUTE;
    for (word, chunk) in chunks.iter_mut().enumerate() {
        // Rank 0: the run carried over from the previous chunk.
        chunk.inline = [NO_ROUTE; INLINE];
        chunk.inline[0] = last;
        chunk.leaf_starts = starts[word];
        let mut rank = 0;
        let mut bits = starts[word];
        while bits != 0 {
            let slot = word * 64 + bits.trailing_zeros() as usize;
            bits &= bits - 1;
            let value = values.get(slot);
            last = value;
            rank += 1;
            if rank < INLINE {
                chunk.inline[rank] = value;
            } else {
                stored[count] = value;
                count += 1;
            }
        }
    }
    (chunks, stored, count)
}

impl SlotValues {
    /// The leaf slots that start a run of equal values, as four 64-slot
    /// bitmaps: a leaf whose value differs from the leaf slot before it
    /// (child slots skipped), and the first leaf.
    ///
    /// Each child slot first takes the value of the slot before it, so
    /// that every slot can be compared with its neighbour, four lanes of
    /// a word at once; the child slots' own bits are then cleared.
    fn run_starts(&self, children: [u64; 4]) -> [u64; 4] {
        /// Each lane's low 15 bits, and its top bit.
        const LOW: u64 = 0x7FFF_7FFF_7FFF_7FFF;
        const TOP: u64 = 0x8000_8000_8000_8000;
        /// Moves the lanes' flags (bits 0, 16, 32, 48) to bits 48..=51
        /// without carries (the other products land below bit 48).
        const GATHER: u64 = (1 << 48) | (1 << 33) | (1 << 18) | (1 << 3);
        let mut filled = SlotValues { words: self.words };
        for (index, &bits) in children.iter().enumerate() {
            let mut bits = bits;
            while bits != 0 {
                let slot = index * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                if slot > 0 {
                    filled.paint(slot, slot + 1, filled.get(slot - 1));
                }
            }
        }
        let mut starts = [0u64; 4];
        let mut previous = 0u64;
        for (index, &word) in filled.words.iter().enumerate() {
            // Each lane against the lane before it (the previous word's
            // last for the first): a lane of `differs` is non-zero where
            // the value changes, and its top bit then says so.
            let differs = word ^ (word << 16 | previous >> 48);
            let flags = (((differs & LOW) + LOW) | differs) & TOP;
            let nibble = ((flags >> 15).wrapping_mul(GATHER) >> 48) & 0xF;
            starts[index / 16] |= nibble << (4 * (index % 16));
            previous = word;
        }
        for (starts, &children) in starts.iter_mut().zip(&children) {
            *starts &= !children;
        }
        if let Some(index) = children.iter().position(|&bits| bits != u64::MAX) {
            starts[index] |= 1 << (!children[index]).trailing_zeros();
        }
        starts
    }
}

/// `code` in each of a word's four 16-bit lanes.
fn repeated(code: Code) -> u64 {
    u64::from(code) * 0x0001_0001_0001_0001
}

/// Lengthen `vec` to `len` elements of `value`, its capacity grown as
/// [`reserve_as_grow`] grows it.
fn grow<T: Copy>(vec: &mut Vec<T>, len: usize, value: T) {
    if len > vec.len() {
        reserve_as_grow(vec, len - vec.len());
        vec.resize(len, value);
    }
}

/// Make room for `additional` more elements of `vec`, for pushes or
/// [`grow`] to fill. Capacity grows by an eighth, not by doubling, so
/// spare capacity stays within 12.5% (+64).
fn reserve_as_grow<T>(vec: &mut Vec<T>, additional: usize) {
    let len = vec.len() + additional;
    if len > vec.capacity() {
        vec.reserve_exact(len + len / 8 + 64 - vec.len());
    }
}

/// Heap bytes one node costs (lookup part and route part).
const NODE_BYTES: usize = core::mem::size_of::<Node>() + core::mem::size_of::<NodeRoutes>();
/// Heap bytes one route record costs (position and code).
const ROUTE_BYTES: usize = core::mem::size_of::<u16>() + core::mem::size_of::<Code>();
/// Waste (freed runs and spare capacity) below which a trie never compacts
/// itself: small tables are not worth rebuilding.
const COMPACT_MIN_WASTE: usize = 256 * 1024;

/// A longest-prefix-match table over keys of type `K`.
#[derive(Debug, Clone)]
pub(super) struct Trie<K: Key> {
    default: Code,
    direct: alloc::boxed::Box<[Direct; 1 << DIRECT_BITS]>,
    /// Routes of length 1..=16, sorted by `(length << 16 | first bits)`.
    short_routes: Vec<(u32, Code)>,
    nodes: Vec<Node>,
    node_routes: Vec<NodeRoutes>,
    node_blocks: BlockAllocator,
    leaves: Vec<Code>,
    leaf_blocks: BlockAllocator,
    route_positions: Vec<u16>,
    route_codes: Vec<Code>,
    route_blocks: BlockAllocator,
    len: usize,
    /// Automatic compactions so far (see [`Trie::compact_if_wasteful`]).
    compactions: u64,
    _key: core::marker::PhantomData<K>,
}

impl<K: Key + Default> Default for Trie<K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Key + Default> Trie<K> {
    /// An empty table.
    pub(super) fn new() -> Trie<K> {
        Trie {
            default: NO_ROUTE,
            // A fixed-size array: indexing it by the key's first 16 bits
            // needs no bounds check.
            direct: alloc::vec![EMPTY_DIRECT; 1 << DIRECT_BITS]
                .into_boxed_slice()
                .try_into()
                .expect("the direct table has 2^16 entries"),
            short_routes: Vec::new(),
            nodes: Vec::new(),
            node_routes: Vec::new(),
            // A full root and its children are one run of 257.
            node_blocks: BlockAllocator::new(SLOTS + 1),
            leaves: Vec::new(),
            leaf_blocks: BlockAllocator::new(SLOTS),
            route_positions: Vec::new(),
            route_codes: Vec::new(),
            route_blocks: BlockAllocator::new(MAX_NODE_ROUTES),
            len: 0,
            compactions: 0,
            _key: core::marker::PhantomData,
        }
    }

    /// Number of routes.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Longest-prefix match; [`NO_CODE`] when nothing matches.
    #[inline]
    pub(super) fn lookup(&self, key: K) -> Code {
        let direct = self.direct[key.top(DIRECT_BITS)];
        let mut node = direct.node as usize;
        let mut rest = key.walk();
        if K::FULL_ROOTS {
            // Shifts, not a test of `full` and two selects: the root
            // itself, or its child at the slot with the walk past it.
            node += (rest.slot() + 1) >> direct.root_slot_shift;
            rest.skip(direct.root_walk_shift);
        }
        // An entry without a subtree holds `NO_NODE` (with the shifts of
        // an ordinary root), beyond any node: the bounds check of the first
        // read is the test for it.
        if let Some(mut current) = self.nodes.get(node) {
            loop {
                let slot = rest.slot();
                let chunk = &current.chunks[slot >> 6];
                // Shifting the slot's bit to the top keeps it and the bits
                // below it in one word: its sign says "child", and the
                // popcount needs no mask (fewer instructions per level: the
                // software popcount is already 13 on this target).
                let up = (slot & 63) ^ 63;
                let children = chunk.children << up;
                if (children as i64) < 0 {
                    let child = chunk.child_base as usize + (children << 1).count_ones() as usize;
                    current = &self.nodes[child];
                    rest.advance();
                    continue;
                }
                let rank = (chunk.leaf_starts << up).count_ones() as usize;
                // Both candidates, then a select, not a branch: half the
                // IPv6 lookups end on a rank beyond the inline ones, at
                // random, and the leaf is off the next lookup's path. An
                // inline rank reads `leaves[0]`, a line that stays cached.
                let inline = chunk.inline[rank % INLINE];
                let is_inline = rank < INLINE;
                let spilled = core::hint::select_unpredictable(
                    is_inline,
                    0,
                    (chunk.leaf_base as usize + rank).wrapping_sub(INLINE),
                );
                let spilled = self.leaves.get(spilled).copied().unwrap_or(NO_ROUTE);
                let leaf = core::hint::select_unpredictable(is_inline, inline, spilled);
                if leaf != NO_ROUTE {
                    return leaf;
                }
                break;
            }
        }
        if direct.short != NO_ROUTE {
            direct.short
        } else {
            self.default
        }
    }

    /// Exact-match read of one route.
    pub(super) fn get(&self, key: K, length: u8) -> Option<Code> {
        let key = key.masked(length);
        let found = if length == 0 {
            self.default
        } else if length <= DIRECT_BITS {
            let code = short_code(key, length);
            match self
                .short_routes
                .binary_search_by_key(&code, |route| route.0)
            {
                Ok(at) => self.short_routes[at].1,
                Err(_) => NO_ROUTE,
            }
        } else {
            let (node, offset) = self.find_node(key, length)?;
            match self.find_route(node, position_of(key, offset, length)) {
                Ok(at) => self.route_codes[at],
                Err(_) => NO_ROUTE,
            }
        };
        (found != NO_ROUTE).then_some(found)
    }

    /// Insert or replace; returns the previous code of this prefix.
    pub(super) fn insert(&mut self, key: K, length: u8, next_hop: Code) -> Option<Code> {
        debug_assert!(length <= K::BITS && next_hop != NO_ROUTE);
        let key = key.masked(length);
        if length == 0 {
            let old = core::mem::replace(&mut self.default, next_hop);
            return self.finish_insert(old);
        }
        if length <= DIRECT_BITS {
            let code = short_code(key, length);
            let old = match self
                .short_routes
                .binary_search_by_key(&code, |route| route.0)
            {
                Ok(at) => core::mem::replace(&mut self.short_routes[at].1, next_hop),
                Err(at) => {
                    self.short_routes.insert(at, (code, next_hop));
                    NO_ROUTE
                }
            };
            if old != next_hop {
                self.repaint_direct(key, length);
            }
            return self.finish_insert(old);
        }
        // Descend, creating nodes down to the one holding this length.
        let first = key.bits_at(0, DIRECT_BITS);
        if self.direct[first].node == NO_NODE {
            let root = self.allocate_nodes(1);
            self.nodes[root as usize] = Node::default();
            self.node_routes[root as usize] = NodeRoutes {
                base: 0,
                count: 0,
                inherited: NO_ROUTE,
            };
            self.direct[first].node = root;
        }
        let mut node = self.direct[first].node as usize;
        let mut offset = DIRECT_BITS;
        while length > offset + STRIDE {
            let slot = key.bits_at(offset, STRIDE);
            if !self.nodes[node].has_child(slot) {
                self.add_child(node, slot);
                self.refresh(node);
            }
            node = self.nodes[node].child_index(slot);
            offset += STRIDE;
        }
        let position = position_of(key, offset, length);
        let old = match self.find_route(node, position) {
            Ok(at) => core::mem::replace(&mut self.route_codes[at], next_hop),
            Err(at) => {
                self.insert_route(node, at, position, next_hop);
                NO_ROUTE
            }
        };
        if old != next_hop {
            // A route of the node's longest length covers one slot and is
            // that slot's best match: most updates (IPv4 /24s, IPv6 /48s)
            // change that one value, patched in place when they can be.
            let patched = length == offset + STRIDE
                && self.set_slot(node, key.bits_at(offset, STRIDE), next_hop);
            if !patched {
                self.refresh(node);
            }
        }
        let result = self.finish_insert(old);
        // After counting: a compaction rebuilds `len` from the routes.
        self.compact_if_wasteful();
        result
    }

    fn finish_insert(&mut self, old: Code) -> Option<Code> {
        if old == NO_ROUTE {
            self.len += 1;
            None
        } else {
            Some(old)
        }
    }

    /// Remove one route; returns its code if it was there.
    pub(super) fn remove(&mut self, key: K, length: u8) -> Option<Code> {
        let key = key.masked(length);
        if length == 0 {
            let old = core::mem::replace(&mut self.default, NO_ROUTE);
            return self.finish_remove(old);
        }
        if length <= DIRECT_BITS {
            let code = short_code(key, length);
            let at = self
                .short_routes
                .binary_search_by_key(&code, |route| route.0)
                .ok()?;
            let (_, old) = self.short_routes.remove(at);
            self.repaint_direct(key, length);
            return self.finish_remove(old);
        }
        // Descend, remembering the path for pruning empty nodes.
        let first = key.bits_at(0, DIRECT_BITS);
        let mut node = self.direct[first].node;
        if node == NO_NODE {
            return None;
        }
        let mut path = [(0usize, 0usize); 16];
        let mut depth = 0;
        let mut offset = DIRECT_BITS;
        while length > offset + STRIDE {
            let slot = key.bits_at(offset, STRIDE);
            if !self.nodes[node as usize].has_child(slot) {
                return None;
            }
            path[depth] = (node as usize, slot);
            depth += 1;
            node = self.nodes[node as usize].child_index(slot) as u32;
            offset += STRIDE;
        }
        let node = node as usize;
        let at = self
            .find_route(node, position_of(key, offset, length))
            .ok()?;
        let old = self.route_codes[at];
        self.remove_route(node, at);
        self.refresh(node);
        // Prune nodes left without routes and children.
        let mut current = node;
        while self.node_routes[current].count == 0 && self.nodes[current].child_count() == 0 {
            if depth == 1 && self.direct[first].full() {
                // A full root keeps every child (checked below).
                break;
            }
            let leaves = self.nodes[current].leaf_count();
            self.leaf_blocks
                .release(self.nodes[current].leaf_base(), leaves);
            if depth == 0 {
                self.node_blocks.release(current as u32, 1);
                self.direct[first].node = NO_NODE;
                break;
            }
            depth -= 1;
            let (parent, slot) = path[depth];
            self.remove_child(parent, slot);
            self.refresh(parent);
            current = parent;
        }
        if depth <= 1 && self.direct[first].full() {
            self.prune_full_root(first);
        }
        let result = self.finish_remove(old);
        self.compact_if_wasteful();
        result
    }

    /// Drop the full root under direct entry `first` (and its 256
    /// children) once it holds no route at all, as a narrow root would go.
    fn prune_full_root(&mut self, first: usize) {
        let root = self.direct[first].node as usize;
        let children = root + 1..root + 1 + SLOTS;
        let empty =
            |node: usize| self.node_routes[node].count == 0 && self.nodes[node].child_count() == 0;
        if self.node_routes[root].count != 0 || !children.clone().all(empty) {
            return;
        }
        for node in root..root + 1 + SLOTS {
            let leaves = self.nodes[node].leaf_count();
            self.leaf_blocks
                .release(self.nodes[node].leaf_base(), leaves);
        }
        self.node_blocks.release(root as u32, SLOTS + 1);
        self.direct[first] = Direct {
            short: self.direct[first].short,
            ..EMPTY_DIRECT
        };
    }

    fn finish_remove(&mut self, old: Code) -> Option<Code> {
        if old == NO_ROUTE {
            None
        } else {
            self.len -= 1;
            Some(old)
        }
    }

    /// The node holding routes of `length`, and its offset, if it exists.
    fn find_node(&self, key: K, length: u8) -> Option<(usize, u8)> {
        let mut node = self.direct[key.bits_at(0, DIRECT_BITS)].node;
        if node == NO_NODE {
            return None;
        }
        let mut offset = DIRECT_BITS;
        while length > offset + STRIDE {
            let slot = key.bits_at(offset, STRIDE);
            if !self.nodes[node as usize].has_child(slot) {
                return None;
            }
            node = self.nodes[node as usize].child_index(slot) as u32;
            offset += STRIDE;
        }
        Some((node as usize, offset))
    }

    /// Binary search of a node's routes: `Ok(array index)` or `Err(insert index)`.
    fn find_route(&self, node: usize, position: u16) -> Result<usize, usize> {
        let routes = self.node_routes[node];
        let base = routes.base as usize;
        let slice = &self.route_positions[base..base + usize::from(routes.count)];
        match slice.binary_search(&position) {
            Ok(at) => Ok(base + at),
            Err(at) => Err(base + at),
        }
    }

    /// Take a run of `count` route records.
    fn allocate_routes(&mut self, count: usize) -> usize {
        let base = self.route_blocks.allocate(count) as usize;
        let end = self.route_blocks.end();
        grow(&mut self.route_positions, end, 0);
        grow(&mut self.route_codes, end, NO_ROUTE);
        base
    }

    /// Move a node's routes to a run one longer with a new route at `at`.
    fn insert_route(&mut self, node: usize, at: usize, position: u16, next_hop: Code) {
        let routes = self.node_routes[node];
        let (old_base, count) = (routes.base as usize, usize::from(routes.count));
        let split = at - old_base;
        let new_base = self.allocate_routes(count + 1);
        for index in (0..count).rev() {
            let target = new_base + index + usize::from(index >= split);
            self.route_positions[target] = self.route_positions[old_base + index];
            self.route_codes[target] = self.route_codes[old_base + index];
        }
        self.route_positions[new_base + split] = position;
        self.route_codes[new_base + split] = next_hop;
        self.route_blocks.release(old_base as u32, count);
        self.node_routes[node].base = new_base as u32;
        self.node_routes[node].count = (count + 1) as u16;
    }

    /// Move a node's routes to a run one shorter without the route at `at`.
    fn remove_route(&mut self, node: usize, at: usize) {
        let routes = self.node_routes[node];
        let (old_base, count) = (routes.base as usize, usize::from(routes.count));
        let skip = at - old_base;
        let new_base = self.allocate_routes(count - 1);
        for index in 0..count {
            if index == skip {
                continue;
            }
            let target = new_base + index - usize::from(index > skip);
            self.route_positions[target] = self.route_positions[old_base + index];
            self.route_codes[target] = self.route_codes[old_base + index];
        }
        self.route_blocks.release(old_base as u32, count);
        self.node_routes[node].base = new_base as u32;
        self.node_routes[node].count = (count - 1) as u16;
    }

    fn allocate_nodes(&mut self, count: usize) -> u32 {
        let start = self.node_blocks.allocate(count);
        let end = self.node_blocks.end();
        grow(&mut self.nodes, end, Node::default());
        grow(&mut self.node_routes, end, NodeRoutes::default());
        start
    }

    /// Give `node` an empty child at `slot`; its leaves are made by the
    /// caller's [`Trie::refresh`].
    fn add_child(&mut self, node: usize, slot: usize) {
        let count = self.nodes[node].child_count();
        let old_base = self.nodes[node].child_base() as usize;
        let new_base = self.allocate_nodes(count + 1) as usize;
        let parent = &mut self.nodes[node];
        parent.chunks[slot >> 6].children |= 1 << (slot & 63);
        let leaf_base = parent.leaf_base();
        parent.set_bases(new_base as u32, leaf_base);
        let split = parent.child_index(slot) - new_base;
        for index in 0..count {
            let target = new_base + index + usize::from(index >= split);
            self.nodes[target] = self.nodes[old_base + index];
            self.node_routes[target] = self.node_routes[old_base + index];
        }
        // The new child starts as one (inline) run of "no route"; the
        // caller's refresh of `node` pushes the inherited value into it.
        let mut child = Node::default();
        child.chunks[0].leaf_starts = 1;
        self.nodes[new_base + split] = child;
        self.node_routes[new_base + split] = NodeRoutes {
            base: 0,
            count: 0,
            inherited: NO_ROUTE,
        };
        self.node_blocks.release(old_base as u32, count);
    }

    /// Drop the (empty, already released) child of `node` at `slot`.
    fn remove_child(&mut self, node: usize, slot: usize) {
        let count = self.nodes[node].child_count();
        let old_base = self.nodes[node].child_base() as usize;
        let skip = self.nodes[node].child_index(slot) - old_base;
        let new_base = self.allocate_nodes(count - 1) as usize;
        for index in 0..count {
            if index == skip {
                continue;
            }
            let target = new_base + index - usize::from(index > skip);
            self.nodes[target] = self.nodes[old_base + index];
            self.node_routes[target] = self.node_routes[old_base + index];
        }
        self.node_blocks.release(old_base as u32, count);
        let parent = &mut self.nodes[node];
        parent.chunks[slot >> 6].children &= !(1 << (slot & 63));
        let leaf_base = parent.leaf_base();
        parent.set_bases(new_base as u32, leaf_base);
    }

    /// Every slot's best value: the node's own routes over its inherited one.
    fn slot_values(&self, node: usize) -> SlotValues {
        let routes = self.node_routes[node];
        let mut values = SlotValues::new(routes.inherited);
        let base = routes.base as usize;
        let end = base + usize::from(routes.count);
        for (&position, &code) in self.route_positions[base..end]
            .iter()
            .zip(&self.route_codes[base..end])
        {
            // Positions are sorted by length, so longer routes paint last.
            let (first, end) = slots_of(position);
            values.paint(first, end, code);
        }
        values
    }

    /// Recompute `node`'s leaves and push changed inherited values down.
    fn refresh(&mut self, node: usize) {
        let values = self.slot_values(node);
        self.write_leaves(node, &values);
        let chunks = self.nodes[node].chunks;
        for (word, chunk) in chunks.iter().enumerate() {
            let mut children = chunk.children;
            let mut child = chunk.child_base as usize;
            while children != 0 {
                let value = values.get(word * 64 + children.trailing_zeros() as usize);
                children &= children - 1;
                if self.node_routes[child].inherited != value {
                    self.node_routes[child].inherited = value;
                    self.refresh(child);
                }
                child += 1;
            }
        }
    }

    /// Give `slot` of `node` the value `code` without repainting the node,
    /// where that changes nothing else: `code` is the slot's best match
    /// (a route of the node's longest length). A child slot passes `code`
    /// down as the child's inherited value. A leaf slot whose value is a
    /// run of its own, `code` differing from the runs before and after
    /// it, has that run's value replaced (and the carried-over value of
    /// the chunks after it, where it is their rank 0); any other change
    /// of the run boundaries returns `false`, for [`Trie::refresh`].
    fn set_slot(&mut self, node: usize, slot: usize, code: Code) -> bool {
        let chunks = self.nodes[node].chunks;
        let (word, bit) = (slot >> 6, slot & 63);
        let chunk = chunks[word];
        if chunk.children >> bit & 1 != 0 {
            let child = self.nodes[node].child_index(slot);
            if self.node_routes[child].inherited != code {
                self.node_routes[child].inherited = code;
                self.refresh(child);
            }
            return true;
        }
        if chunk.leaf_starts >> bit & 1 == 0 {
            return false;
        }
        let through = |bit: usize| u64::MAX >> (63 - bit);
        let rank = (chunk.leaf_starts & through(bit)).count_ones() as usize;
        // The run before (rank 0: the one carried over; `NO_ROUTE`, which
        // no route's code is, before the node's first leaf).
        if self.leaf_value(&chunk, rank - 1) == code {
            return false;
        }
        // The next leaf slot must start a run of a value other than `code`.
        let later = !chunk.children & !through(bit);
        let next = if later != 0 {
            Some((word, later.trailing_zeros() as usize))
        } else {
            (word + 1..4).find_map(|index| {
                let leaves = !chunks[index].children;
                (leaves != 0).then(|| (index, leaves.trailing_zeros() as usize))
            })
        };
        if let Some((index, next_bit)) = next {
            let next_chunk = chunks[index];
            if next_chunk.leaf_starts >> next_bit & 1 == 0 {
                return false;
            }
            let next_rank = (next_chunk.leaf_starts & through(next_bit)).count_ones() as usize;
            if self.leaf_value(&next_chunk, next_rank) == code {
                return false;
            }
        }
        if rank < INLINE {
            self.nodes[node].chunks[word].inline[rank] = code;
        } else {
            self.leaves[chunk.leaf_base as usize + rank - INLINE] = code;
        }
        #[cfg(test)]
        SET_SLOT_PATCHES.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
        if chunk.leaf_starts & !through(bit) == 0 {
            // The chunk's last run: the next chunks carry it over as rank
            // 0, up to the first that starts a run of its own.
            for later in self.nodes[node].chunks.iter_mut().skip(word + 1) {
                later.inline[0] = code;
                if later.leaf_starts != 0 {
                    break;
                }
            }
        }
        true
    }

    /// The value of the leaf run of rank `rank` in `chunk`.
    fn leaf_value(&self, chunk: &Chunk, rank: usize) -> Code {
        if rank < INLINE {
            chunk.inline[rank]
        } else {
            self.leaves[chunk.leaf_base as usize + rank - INLINE]
        }
    }

    /// Run-length encode `values` over the node's leaf slots into its leaves.
    ///
    /// A leaf slot starts a run where its value differs from the leaf
    /// slot before it ([`SlotValues::run_starts`] finds them all, four
    /// slots per word operation), and the node's first leaf starts one.
    /// Only the runs' first slots are read again, so a node costs a
    /// fixed pass over its 256 values plus its runs, however many routes
    /// paint them (the candidates at its routes' boundaries, each
    /// compared with the leaf before it, cost a quarter of an update in
    /// the day's replay, the dense IPv4 nodes holding hundreds of routes).
    fn write_leaves(&mut self, node: usize, values: &SlotValues) {
        let (chunks, stored, count) = encode_leaves(self.nodes[node].chunks, values);
        let old_count = self.nodes[node].leaf_count();
        let mut base = self.nodes[node].leaf_base();
        if old_count != count {
            self.leaf_blocks.release(base, old_count);
            base = self.leaf_blocks.allocate(count);
            grow(&mut self.leaves, self.leaf_blocks.end(), NO_ROUTE);
        }
        let base_index = base as usize;
        self.leaves[base_index..base_index + count].copy_from_slice(&stored[..count]);
        let target = &mut self.nodes[node];
        target.chunks = chunks;
        let child_base = target.child_base();
        target.set_bases(child_base, base);
    }

    /// Recompute `short` of the direct entries a short route covers.
    fn repaint_direct(&mut self, key: K, length: u8) {
        let first = key.bits_at(0, DIRECT_BITS);
        let end = first + (1usize << (DIRECT_BITS - length));
        // The background: the longest shorter route covering the range.
        let mut background = NO_ROUTE;
        for candidate in (1..length).rev() {
            let code = (u32::from(candidate) << 16) | (first >> (DIRECT_BITS - candidate)) as u32;
            if let Ok(at) = self
                .short_routes
                .binary_search_by_key(&code, |route| route.0)
            {
                background = self.short_routes[at].1;
                break;
            }
        }
        for entry in &mut self.direct[first..end] {
            entry.short = background;
        }
        // Then the routes inside the range, shortest first: `short_routes`
        // is sorted by length, then bits, so each length is one run.
        for candidate in length..=DIRECT_BITS {
            let shift = DIRECT_BITS - candidate;
            let low = (u32::from(candidate) << 16) | (first >> shift) as u32;
            let high = (u32::from(candidate) << 16) | (end >> shift) as u32;
            let from = self.short_routes.partition_point(|route| route.0 < low);
            let to = self.short_routes.partition_point(|route| route.0 < high);
            for index in from..to {
                let (code, next_hop) = self.short_routes[index];
                let bits = (code & 0xffff) as usize;
                for entry in &mut self.direct[bits << shift..(bits + 1) << shift] {
                    entry.short = next_hop;
                }
            }
        }
    }

    /// Replace the whole table with `routes`, which must be sorted by
    /// `(key, length)`, masked, and free of duplicate prefixes.
    pub(super) fn build(&mut self, routes: &[(K, u8, Code)]) {
        self.clear();
        self.len = routes.len();
        let mut short: Vec<(K, u8, Code)> = Vec::new();
        let root_starts = self.reserve_for(routes, &mut short);
        let mut scratch = BuildScratch::default();
        for (rank, &start) in root_starts.iter().enumerate() {
            // A root's range runs to the next root's: the short routes of
            // other /16s in between are ignored as shorter than the root.
            let end = root_starts
                .get(rank + 1)
                .map_or(routes.len(), |&next| next as usize);
            let start = start as usize;
            let first = routes[start].0.bits_at(0, DIRECT_BITS);
            // `reserve_for` chose the full roots.
            let full = self.direct[first].full();
            let root = self.allocate_nodes(if full { 1 + SLOTS } else { 1 });
            self.nodes[root as usize] = Node::default();
            self.node_routes[root as usize] = NodeRoutes {
                base: 0,
                count: 0,
                inherited: NO_ROUTE,
            };
            self.direct[first].node = root;
            self.build_node(
                root as usize,
                DIRECT_BITS,
                &routes[start..end],
                &mut scratch,
                full,
            );
        }
        drop(root_starts);
        self.short_routes = short
            .iter()
            .map(|&(key, length, next_hop)| (short_code(key, length), next_hop))
            .collect();
        self.short_routes.sort_unstable();
        short.sort_by_key(|route| route.1);
        for (key, length, next_hop) in short {
            let first = key.bits_at(0, DIRECT_BITS);
            for entry in &mut self.direct[first..first + (1 << (DIRECT_BITS - length))] {
                entry.short = next_hop;
            }
        }
    }

    /// Choose the full roots of a [`Trie::build`] of `routes` (sorted) and
    /// size the arrays up front: exactly for nodes and route records, one
    /// leaf per route to start with. Meanwhile take the route of length 0,
    /// put those of 1..=16 bits in `short` (in order), and return where
    /// each root's routes start (its first route longer than 16 bits), in
    /// order: the build needs no pass of its own over the routes. Growing them instead copies the arrays
    /// some 90 times (they grow by an eighth), which is most of a build's
    /// time in the appliance.
    ///
    /// With [`Key::FULL_ROOTS`], a root with at least
    /// [`FULL_ROOT_CHILDREN`] children is made full, densest first, as long
    /// as the padding children stay within one per
    /// [`ROUTES_PER_FULL_ROOT_PADDING`] routes longer than 16 bits (or 256,
    /// one root's worth, in small tables).
    ///
    /// (Out of line: one call per build, and a profile shows it apart.)
    #[inline(never)]
    fn reserve_for(
        &mut self,
        routes: &[(K, u8, Code)],
        short: &mut Vec<(K, u8, Code)>,
    ) -> Vec<u32> {
        // A node exists for each distinct prefix of length 16, 24, ...
        // shorter than some route; sorted keys meet each one in a run. Of
        // the node levels (prefixes of 16, 24, ... bits) a route passes
        // through, those it shares with the previous route longer than 16
        // bits exist already, as long as they are among the levels last met
        // that are prefixes of that route (`matching`; a level last met
        // deeper than the previous route went may still be one).
        let (mut nodes, mut long_routes) = (0, 0);
        // `(children, first 16 bits)` of every root.
        let mut roots: Vec<(usize, usize)> = Vec::new();
        let mut previous = K::default();
        let mut matching: u8 = 0;
        let mut root_starts: Vec<u32> = Vec::new();
        for (index, &(key, length, next_hop)) in routes.iter().enumerate() {
            if length <= DIRECT_BITS {
                if length == 0 {
                    self.default = next_hop;
                } else {
                    short.push((key, length, next_hop));
                }
                continue;
            }
            long_routes += 1;
            // The levels the route passes through, and how many of them
            // already exist: those it shares with the previous route and
            // that are still `matching` (a level of `bits` bits is shared
            // when `16 <= bits <= shared bits`).
            let levels = (length - (DIRECT_BITS - STRIDE + 1)) / STRIDE;
            let matched = (key.shared_bits(previous) / STRIDE)
                .saturating_sub(DIRECT_BITS / STRIDE - 1)
                .min(matching);
            previous = key;
            if matched >= levels {
                matching = matched;
                continue;
            }
            matching = levels;
            nodes += usize::from(levels - matched);
            if matched == 0 {
                roots.push((0, key.bits_at(0, DIRECT_BITS)));
                root_starts.push(index as u32);
            }
            if matched <= 1
                && levels >= 2
                && let Some(root) = roots.last_mut()
            {
                root.0 += 1;
            }
        }
        if K::FULL_ROOTS {
            roots.sort_unstable_by(|a, b| b.cmp(a));
            let mut budget = (long_routes / ROUTES_PER_FULL_ROOT_PADDING).max(SLOTS);
            for (children, first) in roots {
                let padding = SLOTS - children;
                if children < FULL_ROOT_CHILDREN || padding > budget {
                    break;
                }
                budget -= padding;
                nodes += padding;
                self.direct[first].make_full();
            }
        }
        self.nodes.reserve_exact(nodes);
        self.node_routes.reserve_exact(nodes);
        self.route_positions.reserve_exact(long_routes);
        self.route_codes.reserve_exact(long_routes);
        self.leaves.reserve_exact(long_routes);
        root_starts
    }

    /// Fill the freshly allocated `node` at `offset` from `routes` (sorted,
    /// all under the node; those of length `<= offset` are ignored).
    ///
    /// A `full` node (a full root, allocated with its 256 children right
    /// after it) gets a child at every slot, empty where no route is longer.
    ///
    /// One pass over `routes` does it all. They are sorted by `(key,
    /// length)`, so an enclosing prefix comes before the prefixes it
    /// encloses, and the node's own routes (as slot intervals) nest like
    /// brackets: a [`LeafSweep`] keeps the enclosing ones on a stack and
    /// run-length encodes the leaves as it goes, left to right, which is
    /// what [`Trie::slot_values`] and [`Trie::write_leaves`] compute for
    /// an update. The routes of a child's slot come after the node's own
    /// routes starting at that slot, so the sweep has passed every slot
    /// before it (and knows every child there) when it meets one.
    fn build_node(
        &mut self,
        node: usize,
        offset: u8,
        routes: &[(K, u8, Code)],
        scratch: &mut BuildScratch,
        full: bool,
    ) {
        let first_range = scratch.ranges.len();
        if full {
            // Every slot a child, empty unless a range below says otherwise.
            scratch.ranges.extend((0..SLOTS).map(|slot| ChildRange {
                slot,
                first: 0,
                end: 0,
                inherited: NO_ROUTE,
            }));
        }
        let sweep = &mut scratch.sweep;
        sweep.reset(self.node_routes[node].inherited, full);
        // The child whose routes are being passed, if any.
        let mut open: Option<ChildRange> = None;
        for (index, &(key, length, next_hop)) in routes.iter().enumerate() {
            if length <= offset {
                continue;
            }
            // The route's first slot (the key is masked).
            let slot = key.bits_at(offset, STRIDE);
            if length <= offset + STRIDE {
                // An own route, over `1 << unset` slots: its record goes in
                // position order (a position is below 512 and unique in its
                // node: placed by position, read back in order, no sort).
                let unset = offset + STRIDE - length;
                let position = (1 << (STRIDE - unset)) | slot >> unset;
                debug_assert_eq!(position, usize::from(position_of(key, offset, length)));
                scratch.codes[position] = next_hop;
                scratch.present[position / 64] |= 1 << (position % 64);
                sweep.route(slot, slot + (1 << unset), next_hop);
                continue;
            }
            if let Some(range) = &mut open {
                if range.slot == slot {
                    range.end = index + 1;
                    continue;
                }
                close(&mut scratch.ranges, first_range, *range, full);
            }
            open = Some(ChildRange {
                slot,
                first: index,
                end: index + 1,
                inherited: sweep.child(slot),
            });
        }
        if let Some(range) = open {
            close(&mut scratch.ranges, first_range, range, full);
        }
        sweep.finish();
        // The node's own route records.
        let count: usize = scratch
            .present
            .iter()
            .map(|word| word.count_ones() as usize)
            .sum();
        // (A bump allocation: the build started from a cleared trie. An
        // empty run is at 0.)
        let base = self.route_blocks.allocate(count);
        debug_assert!(count == 0 || self.route_positions.len() == base as usize);
        reserve_as_grow(&mut self.route_positions, count);
        reserve_as_grow(&mut self.route_codes, count);
        // (Extending by a counted range: no capacity test per record.)
        let (mut word, mut bits) = (0, scratch.present[0]);
        self.route_positions.extend((0..count).map(|_| {
            while bits == 0 {
                word += 1;
                bits = scratch.present[word];
            }
            let position = word * 64 + bits.trailing_zeros() as usize;
            bits &= bits - 1;
            position as u16
        }));
        scratch.present = [0; 2 * SLOTS / 64];
        let codes = &scratch.codes;
        self.route_codes.extend(
            self.route_positions[self.route_positions.len() - count..]
                .iter()
                .map(|&position| codes[usize::from(position)]),
        );
        self.node_routes[node].base = base;
        self.node_routes[node].count = count as u16;
        // Its children, then its spilled leaves.
        let child_count = scratch.ranges.len() - first_range;
        let child_base = if full {
            node as u32 + 1
        } else if child_count == 0 {
            // What allocating no nodes gives (most mapped IPv4 roots).
            0
        } else {
            self.allocate_nodes(child_count)
        };
        let sweep = &scratch.sweep;
        let spilled = sweep.spilled_count;
        let leaf_base = if spilled == 0 {
            0
        } else {
            let leaf_base = self.leaf_blocks.allocate(spilled);
            debug_assert_eq!(self.leaves.len(), leaf_base as usize);
            reserve_as_grow(&mut self.leaves, spilled);
            self.leaves.extend_from_slice(&sweep.spilled[..spilled]);
            leaf_base
        };
        let target = &mut self.nodes[node];
        target.chunks = sweep.chunks;
        for (chunk, &children) in target.chunks.iter_mut().zip(&sweep.children) {
            chunk.children = children;
        }
        target.set_bases(child_base, leaf_base);
        if full {
            // A full root's children inherit at every slot, not only where
            // the sweep met routes: read them off the node's routes.
            let values = self.slot_values(node);
            for (slot, range) in scratch.ranges[first_range..].iter_mut().enumerate() {
                range.inherited = values.get(slot);
            }
        }
        for rank in 0..child_count {
            let range = scratch.ranges[first_range + rank];
            let child = child_base as usize + rank;
            debug_assert_eq!(self.nodes[child].chunks[0].leaf_starts, 0);
            self.node_routes[child] = NodeRoutes {
                base: 0,
                count: 0,
                inherited: range.inherited,
            };
            self.build_node(
                child,
                offset + STRIDE,
                &routes[range.first..range.end],
                scratch,
                false,
            );
        }
        scratch.ranges.truncate(first_range);
    }

    /// Drop every route.
    pub(super) fn clear(&mut self) {
        self.default = NO_ROUTE;
        self.direct.fill(EMPTY_DIRECT);
        self.short_routes.clear();
        self.nodes.clear();
        self.node_routes.clear();
        self.node_blocks.clear();
        self.leaves.clear();
        self.leaf_blocks.clear();
        self.route_positions.clear();
        self.route_codes.clear();
        self.route_blocks.clear();
        self.len = 0;
    }

    /// Heap bytes held.
    pub(super) fn memory_bytes(&self) -> usize {
        self.array_bytes()
            + self.node_blocks.memory_bytes()
            + self.leaf_blocks.memory_bytes()
            + self.route_blocks.memory_bytes()
    }

    /// Heap bytes held but not in use: freed runs awaiting reuse and spare
    /// capacity of the three big arrays.
    pub(super) fn waste_bytes(&self) -> usize {
        let spare_nodes = self.nodes.capacity() - self.nodes.len();
        let spare_leaves = self.leaves.capacity() - self.leaves.len();
        let spare_routes = self.route_positions.capacity() - self.route_positions.len();
        (self.node_blocks.free_elements() + spare_nodes) * NODE_BYTES
            + (self.leaf_blocks.free_elements() + spare_leaves) * core::mem::size_of::<Code>()
            + (self.route_blocks.free_elements() + spare_routes) * ROUTE_BYTES
    }

    /// Heap bytes of the arrays: [`Trie::memory_bytes`] without the free
    /// lists' own buffers, whose sum costs a pass over hundreds of lists.
    fn array_bytes(&self) -> usize {
        use core::mem::size_of;
        self.direct.len() * size_of::<Direct>()
            + self.short_routes.capacity() * size_of::<(u32, Code)>()
            + self.nodes.capacity() * size_of::<Node>()
            + self.node_routes.capacity() * size_of::<NodeRoutes>()
            + self.leaves.capacity() * size_of::<Code>()
            + self.route_positions.capacity() * size_of::<u16>()
            + self.route_codes.capacity() * size_of::<Code>()
    }

    /// Rebuild into freshly sized arrays when the waste exceeds a quarter
    /// of the array memory in use (and [`COMPACT_MIN_WASTE`]). A rebuild
    /// costs O(routes) and leaves no waste, so it comes at most once per
    /// `in use / 4` bytes of waste created by updates: amortized O(1).
    /// Checked after every update, so it weighs the arrays alone (O(1)):
    /// summing the free lists' buffers as well, as [`Trie::memory_bytes`]
    /// does, took a quarter of an update's instructions in the day's
    /// replay, for a threshold a fraction of a percent higher.
    fn compact_if_wasteful(&mut self) {
        let waste = self.waste_bytes();
        if waste > COMPACT_MIN_WASTE && waste * 4 > self.array_bytes() - waste {
            self.compactions += 1;
            self.compact();
        }
    }

    /// Automatic compactions so far.
    pub(super) fn compactions(&self) -> u64 {
        self.compactions
    }

    /// Rebuild from the routes into exactly sized arrays.
    pub(super) fn compact(&mut self) {
        let mut routes: Vec<(K, u8, Code)> = self.routes().collect();
        routes.sort_unstable_by_key(|route| (route.0, route.1));
        self.build(&routes);
        drop(routes);
        self.shrink_to_fit();
    }

    /// Release spare capacity.
    pub(super) fn shrink_to_fit(&mut self) {
        self.short_routes.shrink_to_fit();
        self.nodes.shrink_to_fit();
        self.node_routes.shrink_to_fit();
        self.leaves.shrink_to_fit();
        self.route_positions.shrink_to_fit();
        self.route_codes.shrink_to_fit();
        self.node_blocks.shrink_to_fit();
        self.leaf_blocks.shrink_to_fit();
        self.route_blocks.shrink_to_fit();
    }

    /// Statistics for the module documentation and the benchmark.
    pub(super) fn statistics(&self) -> Statistics {
        Statistics {
            nodes: self.nodes.len() - self.node_blocks.free_elements(),
            leaves: self.leaves.len() - self.leaf_blocks.free_elements(),
            free_elements: self.node_blocks.free_elements()
                + self.leaf_blocks.free_elements()
                + self.route_blocks.free_elements(),
            full_roots: self.direct.iter().filter(|entry| entry.full()).count(),
        }
    }

    /// Visit every route as `(key, length, code)`.
    pub(super) fn routes(&self) -> Routes<'_, K> {
        Routes {
            trie: self,
            default_done: false,
            short_index: 0,
            direct_index: 0,
            stack: Vec::new(),
        }
    }
}

/// Buffers one [`Trie::build`] reuses for every node instead of
/// allocating per node (80k nodes in a full table; the appliance's
/// allocator is slow with many small allocations).
struct BuildScratch {
    /// The node's own routes: the code at each position present.
    codes: [Code; 2 * SLOTS],
    /// Which positions of `codes` hold a route (all clear between nodes).
    present: [u64; 2 * SLOTS / 64],
    /// The node's leaves (a node's sweep ends before its children's start).
    sweep: LeafSweep,
    /// The children of the nodes on the path being built, innermost last.
    ranges: Vec<ChildRange>,
}

impl Default for BuildScratch {
    fn default() -> BuildScratch {
        BuildScratch {
            codes: [NO_ROUTE; 2 * SLOTS],
            present: [0; 2 * SLOTS / 64],
            sweep: LeafSweep {
                stack: [(0, NO_ROUTE); SWEEP_DEPTH],
                depth: 0,
                position: 0,
                children: [0; 4],
                chunks: [Chunk::default(); 4],
                chunk: 0,
                rank: 0,
                started: false,
                last: NO_ROUTE,
                spilled: [NO_ROUTE; SLOTS],
                spilled_count: 0,
            },
            ranges: Vec::new(),
        }
    }
}

/// Record a child met by [`Trie::build_node`]: pushed, or for a `full`
/// node, put in place of its slot's empty range (pushed from `first_range`
/// on).
fn close(ranges: &mut Vec<ChildRange>, first_range: usize, range: ChildRange, full: bool) {
    if full {
        ranges[first_range + range.slot] = range;
    } else {
        ranges.push(range);
    }
}

/// A child of a node being built: its slot, the range of the node's
/// routes under it, and the value it inherits.
#[derive(Debug, Clone, Copy)]
struct ChildRange {
    slot: usize,
    first: usize,
    end: usize,
    inherited: Code,
}

/// The left-to-right sweep of one node's slots in [`Trie::build_node`]:
/// the node's own routes (slot intervals that nest, met in preorder) on a
/// stack above the inherited value, and the leaves they make, encoded as
/// [`Trie::write_leaves`] does.
///
/// The slots before `position` are done. A segment of slots with one value
/// starts a leaf run at its first leaf slot (a child slot holds none)
/// unless the leaf slot before had that value, so a node costs its routes
/// and children, not its 256 slots.
struct LeafSweep {
    /// The enclosing routes as `(end slot, code)`, outermost first (up to
    /// [`STRIDE`] of them); the bottom is the inherited value, ending beyond
    /// the last slot.
    stack: [(usize, Code); SWEEP_DEPTH],
    /// Index of the innermost entry of `stack`.
    depth: usize,
    /// The first slot not yet swept.
    position: usize,
    /// The children found so far (all slots for a full node).
    children: [u64; 4],
    /// The leaf runs so far (`children` left clear).
    chunks: [Chunk; 4],
    /// The chunk of the last run start.
    chunk: usize,
    /// The rank of the last run start in its chunk.
    rank: usize,
    /// Whether a leaf slot has been swept, and the last one's value.
    started: bool,
    last: Code,
    /// The leaf values beyond the inline ones, chunk after chunk: the
    /// node's run in `leaves`.
    spilled: [Code; SLOTS],
    /// How many of `spilled` are the node's.
    spilled_count: usize,
}

/// Entries of [`LeafSweep::stack`]: the inherited value and up to
/// [`STRIDE`] nested routes, rounded up to a power of two so that an index
/// masked with it needs no bounds check.
const SWEEP_DEPTH: usize = 16;

impl LeafSweep {
    /// Start the sweep of a node inheriting `inherited`.
    fn reset(&mut self, inherited: Code, full: bool) {
        self.stack[0] = (SLOTS + 1, inherited);
        self.depth = 0;
        self.position = 0;
        self.children = [if full { u64::MAX } else { 0 }; 4];
        self.chunks = [Chunk::default(); 4];
        self.chunk = 0;
        self.rank = 0;
        self.started = false;
        self.last = NO_ROUTE;
        self.spilled_count = 0;
    }

    /// An own route covering slots `[first, end)`, met in preorder.
    #[inline(always)]
    fn route(&mut self, first: usize, end: usize, code: Code) {
        self.advance(first);
        self.depth += 1;
        self.stack[self.depth % SWEEP_DEPTH] = (end, code);
    }

    /// A child at `slot` (met after the own routes starting there); returns
    /// the value it inherits.
    #[inline(always)]
    fn child(&mut self, slot: usize) -> Code {
        self.advance(slot);
        self.children[slot >> 6] |= 1 << (slot & 63);
        self.stack[self.depth % SWEEP_DEPTH].1
    }

    /// Sweep the remaining slots and fill in the chunks after the last
    /// run start.
    fn finish(&mut self) {
        self.advance(SLOTS);
        while self.chunk < 3 {
            self.chunk += 1;
            self.chunks[self.chunk].inline[0] = self.last;
        }
    }

    /// Sweep the slots before `target`, leaving the routes that end there.
    #[inline(always)]
    fn advance(&mut self, target: usize) {
        loop {
            let (end, code) = self.stack[self.depth % SWEEP_DEPTH];
            if end > target {
                if self.position < target {
                    self.segment(self.position, target, code);
                    self.position = target;
                }
                return;
            }
            if self.position < end {
                self.segment(self.position, end, code);
                self.position = end;
            }
            self.depth -= 1;
        }
    }

    /// Slots `[first, end)` all hold `code`.
    #[inline(always)]
    fn segment(&mut self, first: usize, end: usize, code: Code) {
        if self.started && code == self.last {
            return;
        }
        // The first leaf slot in the segment.
        let mut word = first >> 6;
        let mut leaves = !self.children[word] & !mask_below(first & 63);
        while leaves == 0 {
            word += 1;
            if word * 64 >= end {
                return;
            }
            leaves = !self.children[word];
        }
        let slot = word * 64 + leaves.trailing_zeros() as usize;
        if slot >= end {
            return;
        }
        while self.chunk < word {
            self.chunk += 1;
            self.chunks[self.chunk].inline[0] = self.last;
            self.rank = 0;
        }
        let chunk = &mut self.chunks[word];
        chunk.leaf_starts |= 1 << (slot & 63);
        self.rank += 1;
        if self.rank < INLINE {
            chunk.inline[self.rank] = code;
        } else {
            self.spilled[self.spilled_count] = code;
            self.spilled_count += 1;
        }
        self.started = true;
        self.last = code;
    }
}

/// Code of a short route in `short_routes`: `length << 16 | first bits`.
fn short_code<K: Key>(key: K, length: u8) -> u32 {
    (u32::from(length) << 16) | key.bits_at(0, length) as u32
}

/// Counts describing a trie's shape.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Statistics {
    /// Trie nodes in use (128 + 8 bytes each).
    pub nodes: usize,
    /// Leaf values kept outside the nodes (2 bytes each; each 64-slot
    /// chunk holds its first four inline).
    pub leaves: usize,
    /// Array elements sitting in freed runs awaiting reuse.
    pub free_elements: usize,
    /// Roots made full (a child at each of their 256 slots, counted in
    /// `nodes`), whose lookups skip reading the root.
    pub full_roots: usize,
}

impl core::ops::Add for Statistics {
    type Output = Statistics;
    fn add(self, other: Statistics) -> Statistics {
        Statistics {
            nodes: self.nodes + other.nodes,
            leaves: self.leaves + other.leaves,
            free_elements: self.free_elements + other.free_elements,
            full_roots: self.full_roots + other.full_roots,
        }
    }
}

/// One node being walked by [`Routes`].
#[derive(Debug, Clone, Copy)]
struct Frame<K> {
    node: usize,
    offset: u8,
    prefix: K,
    next_route: usize,
    next_slot: usize,
}

/// Iterator over a trie's routes, in no particular order.
#[derive(Debug, Clone)]
pub(super) struct Routes<'a, K: Key> {
    trie: &'a Trie<K>,
    default_done: bool,
    short_index: usize,
    direct_index: usize,
    stack: Vec<Frame<K>>,
}

impl<K: Key + Default> Iterator for Routes<'_, K> {
    type Item = (K, u8, Code);

    fn next(&mut self) -> Option<(K, u8, Code)> {
        let trie = self.trie;
        if !self.default_done {
            self.default_done = true;
            if trie.default != NO_ROUTE {
                return Some((K::default(), 0, trie.default));
            }
        }
        if let Some(&(code, next_hop)) = trie.short_routes.get(self.short_index) {
            self.short_index += 1;
            let length = (code >> 16) as u8;
            let bits = (code & 0xffff) as usize;
            return Some((K::default().with_bits(0, length, bits), length, next_hop));
        }
        loop {
            let Some(frame) = self.stack.last_mut() else {
                // Next subtree from the direct table.
                while self.direct_index < trie.direct.len()
                    && trie.direct[self.direct_index].node == NO_NODE
                {
                    self.direct_index += 1;
                }
                let entry = trie.direct.get(self.direct_index)?;
                self.stack.push(Frame {
                    node: entry.node as usize,
                    offset: DIRECT_BITS,
                    prefix: K::default().with_bits(0, DIRECT_BITS, self.direct_index),
                    next_route: 0,
                    next_slot: 0,
                });
                self.direct_index += 1;
                continue;
            };
            let routes = trie.node_routes[frame.node];
            if frame.next_route < usize::from(routes.count) {
                let index = routes.base as usize + frame.next_route;
                frame.next_route += 1;
                let position = trie.route_positions[index];
                let k = 15 - position.leading_zeros() as u8;
                let bits = usize::from(position) - (1 << k);
                let key = frame.prefix.with_bits(frame.offset, k, bits);
                return Some((key, frame.offset + k, trie.route_codes[index]));
            }
            let node = &trie.nodes[frame.node];
            match (frame.next_slot..SLOTS).find(|&slot| node.has_child(slot)) {
                Some(slot) => {
                    frame.next_slot = slot + 1;
                    let child = Frame {
                        node: node.child_index(slot),
                        offset: frame.offset + STRIDE,
                        prefix: frame.prefix.with_bits(frame.offset, STRIDE, slot),
                        next_route: 0,
                        next_slot: 0,
                    };
                    self.stack.push(child);
                }
                None => {
                    self.stack.pop();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_random::Random;

    /// [`SlotValues`] paints and reads like a plain `[Code; 256]`, for
    /// routes of every length in a node (1..=8 bits), longest last.
    #[test]
    fn slot_values_paint_like_an_array() {
        let mut random = Random(0x9e37_79b9_7f4a_7c15);
        let mut next = move || random.next();
        for _ in 0..200 {
            let inherited = (next() % 5) as Code;
            let mut positions: Vec<u16> = (0..next() % 40)
                .map(|_| (2 + next() % (2 * SLOTS as u64 - 2)) as u16)
                .collect();
            // Shorter routes first, as a node stores them.
            positions.sort_unstable_by_key(|&position| 15 - position.leading_zeros());
            let mut expected = [inherited; SLOTS];
            let mut values = SlotValues::new(inherited);
            for position in positions {
                let code = (next() % 7) as Code;
                let (first, end) = slots_of(position);
                expected[first..end].fill(code);
                values.paint(first, end, code);
            }
            for (slot, &code) in expected.iter().enumerate() {
                assert_eq!(values.get(slot), code, "slot {slot}");
            }
        }
    }

    /// [`SlotValues::run_starts`] marks exactly the leaves whose value
    /// differs from the leaf before them, and the first leaf: checked
    /// slot by slot against values from few codes (long runs), every
    /// code (`NO_ROUTE` and the top bit included), and children from
    /// none to all 256 slots.
    #[test]
    fn run_starts_mark_where_a_leaf_differs_from_the_leaf_before_it() {
        let mut random = Random(0x2545_f491_4f6c_dd1d);
        let mut next = move || random.next();
        for round in 0..2000 {
            let mut values = SlotValues::new(0);
            let mut codes = [0 as Code; SLOTS];
            let mut code = NO_ROUTE;
            for (slot, value) in codes.iter_mut().enumerate() {
                if next() % (1 + round as u64 % 40) == 0 {
                    code = match next() % 4 {
                        0 => NO_ROUTE,
                        1 => 0x8000 | next() as Code,
                        _ => (next() % 6) as Code,
                    };
                }
                *value = code;
                values.paint(slot, slot + 1, code);
            }
            let density = round as u64 % 9;
            let children: [u64; 4] = core::array::from_fn(|_| match density {
                0 => 0,
                8 => u64::MAX,
                _ => (0..density).fold(u64::MAX, |bits, _| bits & next()),
            });
            let is_child = |slot: usize| children[slot / 64] >> (slot % 64) & 1 != 0;
            let mut expected = [0u64; 4];
            let mut previous_leaf: Option<usize> = None;
            for slot in 0..SLOTS {
                if is_child(slot) {
                    continue;
                }
                if previous_leaf.is_none_or(|previous| codes[previous] != codes[slot]) {
                    expected[slot / 64] |= 1 << (slot % 64);
                }
                previous_leaf = Some(slot);
            }
            assert_eq!(values.run_starts(children), expected, "round {round}");
        }
    }

    /// Routes for a `bits`-bit key (its bits at the top of a `u128`): near
    /// a few bases, so that nodes get dense (full roots for IPv6, roots
    /// with many /17../24 leaves for IPv4), with every length from 0 to
    /// host routes, the /16 and node boundaries weighted.
    fn random_routes(random: &mut Random, bits: u8, count: usize) -> Vec<(u128, u8, Code)> {
        let bases: Vec<u128> = (0..1 + random.below(3)).map(|_| random.bits()).collect();
        let codes = 1 + random.below(12);
        let mut routes: Vec<(u128, u8, Code)> = (0..count)
            .map(|_| {
                let length = match random.below(6) {
                    0 => [0, 1, 15, 16, 17, 23, 24, 25, 31, 32, bits - 1, bits]
                        [random.below(12) as usize],
                    1 | 2 => 17 + random.below(u64::from(bits.min(48)) - 16) as u8,
                    _ => random.below(u64::from(bits) + 1) as u8,
                };
                let base = bases[random.below(bases.len() as u64) as usize];
                let keep = match random.below(3) {
                    0 => 16,
                    1 => 24,
                    _ => length.saturating_sub(random.below(10) as u8),
                };
                let mask = |length: u8| {
                    if length == 0 {
                        0
                    } else {
                        u128::MAX << (128 - u32::from(length))
                    }
                };
                let key = ((base & mask(keep)) | (random.bits() & !mask(keep))) & mask(length);
                (key, length, random.below(codes) as Code)
            })
            .collect();
        routes.sort_unstable_by_key(|route| (route.0, route.1));
        routes.dedup_by_key(|route| (route.0, route.1));
        routes
    }

    /// [`Trie::build`] gives every node what the update path writes for its
    /// routes ([`Trie::slot_values`], then [`Trie::write_leaves`]'s
    /// encoding): lookups, updates and compaction rely on it. The built
    /// trie also holds exactly the routes it was given, its node and
    /// route record arrays sized up front exactly (so
    /// [`Trie::reserve_for`] counted them right), only full roots with at
    /// least [`FULL_ROOT_CHILDREN`] children of their own, and the same
    /// default, short routes and answers as a trie made by inserting the
    /// routes one by one. Random route sets of both key types, every
    /// length, dense roots (full ones for IPv6) and sparse ones.
    #[test]
    fn build_matches_the_update_path_encoding() {
        fn check<K: Key + Default>(
            random: &mut Random,
            routes: &[(u128, u8, Code)],
            key_of: impl Fn(u128) -> K,
        ) {
            let keyed: Vec<(K, u8, Code)> = routes
                .iter()
                .map(|&(key, length, code)| (key_of(key), length, code))
                .collect();
            let mut built = Trie::<K>::new();
            built.build(&keyed);
            assert_nodes_as_refresh_writes_them(&built);
            let mut held: Vec<(K, u8, Code)> = built.routes().collect();
            held.sort_unstable_by_key(|route| (route.0, route.1));
            assert_eq!(held, keyed);
            assert_eq!(built.len(), keyed.len());
            assert_eq!(built.nodes.len(), built.nodes.capacity());
            assert_eq!(
                built.route_positions.len(),
                built.route_positions.capacity()
            );
            for entry in built.direct.iter().filter(|entry| entry.full()) {
                let root = entry.node as usize;
                let used = (root + 1..root + 1 + SLOTS)
                    .filter(|&child| {
                        built.node_routes[child].count != 0 || built.nodes[child].child_count() != 0
                    })
                    .count();
                assert!(
                    used >= FULL_ROOT_CHILDREN,
                    "a full root with {used} children"
                );
            }
            let mut inserted = Trie::<K>::new();
            for &(key, length, code) in &keyed {
                inserted.insert(key, length, code);
            }
            assert_eq!(built.default, inserted.default);
            assert_eq!(built.short_routes, inserted.short_routes);
            assert!(
                built
                    .direct
                    .iter()
                    .zip(inserted.direct.iter())
                    .all(|(built, inserted)| built.short == inserted.short)
            );
            let mask = |length: u8| u128::MAX.checked_shl(128 - u32::from(length)).unwrap_or(0);
            for &(key, length, _) in routes {
                let inside = key | (random.bits() & !mask(length));
                for probe in [key, inside, random.bits()] {
                    let probe = key_of(probe);
                    assert_eq!(built.lookup(probe), inserted.lookup(probe), "{probe:?}");
                }
            }
        }
        let mut random = Random(0x5EED_B01D);
        for round in 0..600 {
            let count = 1 + random.below(if round % 3 == 0 { 3000 } else { 120 }) as usize;
            let routes = random_routes(&mut random, 128, count);
            check(&mut random, &routes, |key| key);
            let routes = random_routes(&mut random, 32, count);
            check(&mut random, &routes, |key| (key >> 96) as u32);
        }
    }

    /// Every node reachable from the direct table holds the leaves, and
    /// passes its children the inherited values, that [`Trie::refresh`]
    /// would write from its routes now.
    fn assert_nodes_as_refresh_writes_them<K: Key + Default>(trie: &Trie<K>) {
        let mut pending: Vec<usize> = trie
            .direct
            .iter()
            .filter(|entry| entry.node != NO_NODE)
            .map(|entry| entry.node as usize)
            .collect();
        while let Some(node) = pending.pop() {
            let values = trie.slot_values(node);
            let held = trie.nodes[node];
            let (chunks, stored, count) = encode_leaves(held.chunks, &values);
            for (index, (held, fresh)) in held.chunks.iter().zip(&chunks).enumerate() {
                assert_eq!(
                    held.leaf_starts, fresh.leaf_starts,
                    "node {node} chunk {index}"
                );
                assert_eq!(held.inline, fresh.inline, "node {node} chunk {index}");
            }
            let base = held.leaf_base() as usize;
            assert_eq!(held.leaf_count(), count, "node {node}");
            assert_eq!(
                &trie.leaves[base..base + count],
                &stored[..count],
                "node {node}"
            );
            for slot in 0..SLOTS {
                if held.has_child(slot) {
                    let child = held.child_index(slot);
                    assert_eq!(trie.node_routes[child].inherited, values.get(slot));
                    pending.push(child);
                }
            }
        }
    }

    /// The node's longest length at or above `length` (16 + 8k).
    fn single_slot_length(length: u8, bits: u8) -> u8 {
        let above = length.max(DIRECT_BITS + 1) - DIRECT_BITS;
        (DIRECT_BITS + above.div_ceil(STRIDE) * STRIDE).min(bits)
    }

    /// Updates patched in place by [`Trie::set_slot`] leave every node as
    /// a full [`Trie::refresh`] would: next-hop changes of existing
    /// routes, new routes of a node's longest length under them (leaf
    /// and child slots, runs of one slot and longer, equal neighbours),
    /// and removals between them, both key widths.
    #[test]
    fn patched_slots_leave_every_node_as_a_refresh_writes_it() {
        fn run<K: Key + Default>(random: &mut Random, bits: u8, key_of: impl Fn(u128) -> K) {
            let count = 1 + random.below(300) as usize;
            let routes = random_routes(random, bits, count);
            let codes = 1 + random.below(6);
            let mut trie = Trie::<K>::new();
            for &(key, length, code) in &routes {
                trie.insert(key_of(key), length, code);
            }
            assert_nodes_as_refresh_writes_them(&trie);
            for step in 0..400 {
                let (key, length, _) = routes[random.below(routes.len() as u64) as usize];
                let (key, length) = match random.below(3) {
                    0 => (key, length),
                    _ => (
                        key | (random.bits() >> length.min(127)),
                        single_slot_length(length, bits),
                    ),
                };
                let mask = if length == 0 {
                    0
                } else {
                    u128::MAX << (128 - u32::from(length))
                };
                let key = key_of(key & mask);
                if random.below(5) == 0 {
                    trie.remove(key, length);
                } else {
                    trie.insert(key, length, random.below(codes) as Code);
                }
                if count < 60 || step % 50 == 0 {
                    assert_nodes_as_refresh_writes_them(&trie);
                }
            }
            assert_nodes_as_refresh_writes_them(&trie);
        }
        let mut random = Random(0x5E75_1075);
        let before = SET_SLOT_PATCHES.load(core::sync::atomic::Ordering::Relaxed);
        for _ in 0..150 {
            run(&mut random, 128, |key| key);
            run(&mut random, 32, |key| (key >> 96) as u32);
        }
        let patched = SET_SLOT_PATCHES.load(core::sync::atomic::Ordering::Relaxed) - before;
        assert!(patched > 1000, "only {patched} updates patched in place");
    }

    /// The random route sets above reach what they are meant to: full
    /// roots, children, spilled leaves.
    #[test]
    fn random_build_inputs_cover_the_layout() {
        let mut random = Random(0x5EED_B01D);
        let (mut full_roots, mut nodes, mut leaves) = (0, 0, 0);
        for round in 0..60 {
            let count = 1 + random.below(if round % 3 == 0 { 3000 } else { 120 }) as usize;
            let mut trie = Trie::<u128>::new();
            trie.build(&random_routes(&mut random, 128, count));
            let statistics = trie.statistics();
            full_roots += statistics.full_roots;
            nodes += statistics.nodes;
            leaves += statistics.leaves;
        }
        assert!(full_roots > 10, "{full_roots} full roots");
        assert!(nodes > 1000, "{nodes} nodes");
        assert!(leaves > 1000, "{leaves} spilled leaves");
    }
}
