//! Forwarding information base: longest-prefix match over IPv6 destinations.
//!
//! One table holds both families (ARCHITECTURE.md, rule 2): native IPv6
//! routes, and IPv4 routes mapped under the translation prefix `pool6`
//! (RFC 6052), e.g. 198.51.100.0/24 as `64:ff9b::c633:6400/120`. The router
//! stores only a [`NextHopIndex`] per route; next hops live in its own table.
//!
//! # Algorithm
//!
//! A multibit trie in the style of poptrie (Asai & Ohara, SIGCOMM 2015),
//! written from the paper's idea, not its code (the private `trie` module has
//! the details):
//! - a **direct table** of 2^16 entries resolves the first 16 bits in one
//!   read; routes of length 1..=16 live there, painted over the entries
//!   they cover, and the default route sits beside it;
//! - for IPv6, **full roots**: a /16's root node with at least 8 children
//!   (of 256) gets an empty child at every other slot, the 256 stored
//!   right after it, so a lookup goes from the direct entry straight to
//!   child `root + 1 + slot` and never reads the root: one dependent read
//!   less. Updates keep the shape (the root goes with its last route);
//!   each build or compaction chooses the full roots again;
//! - below it, **nodes of stride 8** (256 slots) made of four
//!   self-contained **64-slot chunks** of 32 bytes, aligned so that a
//!   chunk never straddles a cache line: two 64-bit bitmaps say which slots
//!   are child nodes and where a run of equal leaf values starts, two
//!   absolute bases locate the chunk's children and leaves, so a child or
//!   leaf is found by one popcount and a lookup reads **one cache line per
//!   level**;
//! - a chunk holds its **first four leaf values inline** (the run carried
//!   over from the previous chunk and the first three started in it); only
//!   chunks with more runs spill into a shared leaf array. Half the IPv6
//!   lookups end in a sparse chunk and read no leaf; the other half end in
//!   the dense chunks holding /48s, so the lookup reads both candidates
//!   and selects one rather than branching on the rank (a branch that
//!   went either way at random, each miss stalling the next lookup);
//! - leaves are **leaf-pushed** inside a subtree (a leaf holds the longest
//!   match of every route in that subtree), so a lookup reads one chunk per
//!   8 bits and never backtracks;
//! - leaves, route records and direct entries hold a **16-bit code** for
//!   the next hop, resolved through a small table that stays in L1: routes
//!   and leaves outnumber distinct next hops by four orders of magnitude.
//!   The cost is a cap of [`MAX_NEXT_HOPS`] (65,535) distinct next hops in
//!   use at once ([`Fib::try_insert`] reports it, [`Fib::insert`] panics);
//! - each node also keeps its own routes, from which an **update**
//!   recomputes that node's leaves and only those children whose
//!   inherited value changed. A route of length <= 16 changes only direct
//!   entries. No update rebuilds the table, except compaction (below).
//!
//! Destinations under a configured `pool6` of length 96 take a **fast
//! path**: a second trie of the same kind keyed by the embedded 32 IPv4
//! bits (16-bit direct table, then one stride-8 node for /17../24), so a
//! mapped /24 is found with three dependent reads. A miss there falls back
//! to the IPv6 trie, which holds every route not inside pool6, so the answer
//! is the longest match over the whole table. Other pool6 lengths (32..64,
//! whose IPv4 bits straddle the u octet) are ordinary IPv6 routes: correct,
//! without the fast path.
//!
//! # Memory under updates
//!
//! Children, leaves and route records of a node are contiguous runs in
//! shared arrays; an update that resizes a run takes a new one and frees
//! the old one for reuse by a run of the same size. Arrays grow by an
//! eighth, not by doubling, so spare capacity stays under 12.5%. When the
//! freed runs plus spare capacity of a trie exceed a quarter of the memory
//! it uses (and 256 KiB), the update that crossed the line **compacts** it:
//! a rebuild from its own routes into exactly sized arrays (~0.1 s for the
//! full table: one `load`). A rebuild leaves no waste and the next one
//! needs another quarter of the table's size in fresh waste, so its cost is
//! amortized over the updates that made that waste; memory stays below
//! 1.25x the compact size plus the one-eighth growth margin (the day's
//! replay ends at 17.5 bytes per route without needing a compaction, vs
//! 33.6 before compaction existed).
//! [`Fib::compact`] does the same on demand.
//!
//! # Why this shape
//!
//! With the numbers of the 2026-05-11 RIS table (1,042,325 IPv4 + 246,175
//! IPv6 routes; `shared/data/ris-20260511`):
//! - Strides of 8 put the common lengths on node boundaries (IPv4 /24,
//!   63%; IPv6 /32, /40, /48, 65%), so they fill whole slots: 26,502 IPv4
//!   nodes and 53,051 IPv6 nodes (a stride-6 layout needs 317k and 134k).
//! - An IPv6 /48 costs the direct read and three chunk reads under a full
//!   root (four under the others), a mapped IPv4 /24 the direct read and
//!   one chunk (plus a leaf read when its chunk has more than three runs,
//!   as dense IPv4 /16s and IPv6 /48 chunks do). 46 of the 64 IPv6 /16s
//!   holding longer routes are full and hold 95% of the IPv6 routes; a
//!   warm lookup of the table's IPv6 destinations reads 2.6 chunks on
//!   average and runs 147 instructions, a mapped IPv4 one 80
//!   (callgrind, `-- profile-ipv6` / `-- profile-ipv4`; the private
//!   `trie` module's docs say where they go and what was tried to cut
//!   them).
//! - Full roots only for IPv6: its routes sit two to four levels below the
//!   root, so skipping the root's read is a quarter to half of the walk
//!   (same-run A/B, the same table built with and without them: 50-71 ns
//!   vs 63-94 ns); mapped IPv4 /24s end in the root itself. Making every
//!   root full would add 0.5 byte per route for the last 5% of the routes.
//! - Where a lookup ends is random, so its branches are what stall the
//!   next lookup: the last chunk's rank is beyond the four inline leaves
//!   for 51% of the IPv6 lookups, at random, hence the select (same-run
//!   A/B against the branch LLVM had made of it: IPv6 41-43 ns vs 53-57,
//!   mapped IPv4 19-27 ns vs 21-31).
//! - A lookup's cost is its dependent cache misses. The earlier layout
//!   (80-byte nodes with shared rank headers, 4-byte leaves in a separate
//!   array) read two lines per level and always a leaf: about six
//!   dependent misses for an IPv6 /48, now about three.
//! - Memory is bounded by the route count: each route adds at most one
//!   node (136 bytes: 128 of chunks, 8 for its route run), its 4-byte
//!   route record and at most two spilled leaves (2 bytes each), plus two
//!   512 KiB direct tables; the empty children padding full roots are
//!   capped at one per 8 routes longer than /16 (or one root's worth in a
//!   small table), densest roots first. On the real table: 83,312 nodes
//!   (3,759 of them padding), 1.10M spilled leaves, 19.8 MB, **15.4 bytes
//!   per route** (15.0 without full roots, 17.2 with the layout before).
//! - Measured on the shared 2-core VM with
//!   `cargo bench -p netstack --bench fib -- --warm-up-time 1 --measurement-time 3`
//!   (its summary table; pure6 and `prefix-trie` interleaved round by round
//!   in the same process, ratio = median of per-round ratios; the machine
//!   is shared with other builds, so absolute times vary by ±30% between
//!   runs, the ratios much less; "before" is the previous layout's figures):
//!
//! | measure | before | after | prefix-trie (same run as after) | target |
//! |---|---|---|---|---|
//! | mapped IPv4 lookup, warm 4096 (summary) | 13.2 ns | 11.6 ns | 217 ns (18.6x) | < 15 ns |
//! | IPv6 lookup, warm 4096 (summary) | 36.2 ns (2.4x) | 24.8 ns | 88.6 ns (3.6x) | < 30 ns, >= 4x |
//! | IPv6 lookup, warm 4096 (criterion) | | 29.9 ns | 81.6 ns (2.7x) | |
//! | IPv6 lookup, 262k addresses | 95 ns | 76.2 ns | 186 ns (2.4x) | |
//! | full build, 1.29M routes | 130 ms | 142 ms | 369 ms | < 0.5 s |
//! | updates per second, day replay | ~1 M (0.3x) | 1.2 M | 4.1 M (0.3x) | on par |
//! | bytes per route, full load | 17.2 | 15.0 | 32.6 | <= 16 |
//! | bytes per route after the day | 33.6 | 17.1 (1 compaction) | | no doubling |
//!
//!   Full roots and the branch-free leaf select, measured on 2026-12-01
//!   with `cargo bench -p netstack --bench fib -- summary-only`, the
//!   layout above ("before") and this one alternating on the same (much
//!   slower, 2-6 load) machine, five summaries each, medians (ranges):
//!
//! | measure | before | after | target |
//! |---|---|---|---|
//! | IPv6 lookup, warm 4096, ratio to prefix-trie | 2.9x (2.8-4.4) | **4.0x** (3.8-6.4) | >= 4x |
//! | IPv6 lookup, warm 4096 | 77.6 ns (60.7-82.1) | 50.2 ns (44.7-56.6) | < 30 ns |
//! | mapped IPv4 lookup, warm 4096, ratio | 17.8x (15.3-20.7) | 18.0x (17.4-21.4) | |
//! | mapped IPv4 lookup, warm 4096 | 26.0 ns (15.9-34.7) | 24.7 ns (15.3-27.5) | < 15 ns |
//! | full build, 1.29M routes | 344 ms (317-481) | 307 ms (235-976) | < 0.5 s |
//! | bytes per route, full load | 15.0 | 15.4 | <= 16 |
//! | bytes per route after the day | 17.1 (1 compaction) | 17.5 (none) | no doubling |
//!
//!   Absolute times that day were about twice those of the table above
//!   for both layouts (the IPv4 and IPv6 time targets were missed by
//!   both); the ratios are the comparable figures.
//!
//!   Updates are slower than `prefix-trie`'s (about 3x in the table above,
//!   about 10x on 2026-12-01: 0.47-0.52 M against 5.3-5.4 M per second):
//!   each one paints the 256 slot values of the node it lands in (and of
//!   children whose inherited value changed) and re-encodes its leaf runs
//!   instead of patching the changed runs. On 2026-12-02 (callgrind,
//!   `cargo bench -p netstack --bench fib -- profile-updates` under
//!   `--toggle-collect='*replay_fib*'`, one replay of the day's
//!   2,631,656 updates on the full table) that cost 13,498 instructions
//!   per update, a quarter of them weighing the waste against the memory
//!   after each update by summing every free list; with that weighed on
//!   the arrays alone, and the runs found four slots per word operation
//!   instead of comparing each route boundary with the leaf before it,
//!   7,249 (-46%; painting the slots is now 3,080 of them, finding the
//!   runs 1,730), and the summary's replay went from 0.96 M to 1.55 M
//!   updates per second against `prefix-trie`'s 8.9-10.2 M. Then the
//!   common update was made cheap: a route of a node's longest length
//!   (IPv4 /24, IPv6 /32 and /48, ...) covers one slot and is its best
//!   match, so an insert or next-hop change of one sets that slot alone
//!   when its value is a run of its own that stays one (a child slot:
//!   the child's inherited value), and repaints the node only
//!   otherwise. 64% of the day's updates take that path: 2,709
//!   instructions per update in all, 4.2 M updates per second against
//!   `prefix-trie`'s 9.9 M (0.4x). A test compares every node after
//!   such updates with what a repaint writes.
//!
//! # Prefixes
//!
//! Prefixes are normalized: host bits beyond the prefix length are masked
//! off, so `2001:db8::1/32` is the route `2001:db8::/32`, for [`Fib::insert`]
//! and [`Fib::remove`] alike.
//!
//! # Next hops
//!
//! [`NO_NEXT_HOP`] (`u32::MAX`) is reserved as the internal "no route"
//! marker; [`Fib::insert`] ignores it and returns `None`.

mod blocks;
mod next_hops;
mod sort;
mod trie;

use smoltcp::wire::{Ipv6Address, Ipv6Cidr};

use self::next_hops::{Code, NO_CODE, NextHops};
use self::trie::Trie;

/// Index into the router's next-hop table; the FIB stores only this.
pub type NextHopIndex = u32;

/// The one next-hop index a route may not use (the FIB's "no route").
pub const NO_NEXT_HOP: NextHopIndex = u32::MAX;

/// Distinct next hops a [`Fib`] can hold at once (routes share them).
pub const MAX_NEXT_HOPS: usize = next_hops::MAX_CODES;

/// [`Fib::try_insert`] refused a route: [`MAX_NEXT_HOPS`] other next hops
/// are already in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyNextHops;

impl core::fmt::Display for TooManyNextHops {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            formatter,
            "the FIB already uses {MAX_NEXT_HOPS} distinct next hops"
        )
    }
}

/// [`Fib`]'s `pool_middle` without a translation prefix: no 32-bit value
/// equals it, so the fast path's test never matches.
const NO_POOL_MIDDLE: u64 = u64::MAX;

/// The IPv4-under-pool6 fast path: a trie over the 32 embedded bits.
#[derive(Debug, Clone)]
struct Translation {
    /// The pool6 prefix's first 96 bits, as the top of a `u128 >> 32`.
    pool_high: u128,
    /// Routes of length 96..=128 under pool6, keyed by their last 32 bits.
    ipv4: Trie<u32>,
}

/// The forwarding table: longest-prefix match from IPv6 destination to
/// [`NextHopIndex`]. See the [module documentation](self) for the design.
#[derive(Debug, Clone)]
pub struct Fib {
    ipv6: Trie<u128>,
    translation: Option<Translation>,
    /// The first 64 bits of `translation`'s pool6 (0 without one): the
    /// lookup's common IPv6 case is then one 64-bit compare, the rest of
    /// the /96 and the `Option` read only when they match.
    pool_top: u64,
    /// Bits 64..96 of `translation`'s pool6, or [`NO_POOL_MIDDLE`].
    pool_middle: u64,
    /// Next hop of each 16-bit code held by both tries.
    next_hops: NextHops,
}

impl Default for Fib {
    fn default() -> Self {
        Fib::new()
    }
}

/// Shape of a [`Fib`], for the console and the benchmark.
pub use self::trie::Statistics;

impl Fib {
    /// An empty table without a translation fast path.
    pub fn new() -> Fib {
        Fib {
            ipv6: Trie::new(),
            translation: None,
            pool_top: 0,
            pool_middle: NO_POOL_MIDDLE,
            next_hops: NextHops::default(),
        }
    }

    /// An empty table with the IPv4 fast path for destinations under
    /// `pool6`. The fast path needs a /96; for any other length the table
    /// behaves exactly like [`Fib::new`] (routes under pool6 still work).
    pub fn with_translation_prefix(pool6: Ipv6Cidr) -> Fib {
        let translation = (pool6.prefix_len() == 96).then(|| Translation {
            pool_high: pool6.address().to_bits() >> 32,
            ipv4: Trie::new(),
        });
        Fib {
            ipv6: Trie::new(),
            pool_top: translation
                .as_ref()
                .map_or(0, |translation| (translation.pool_high >> 32) as u64),
            pool_middle: translation.as_ref().map_or(NO_POOL_MIDDLE, |translation| {
                u64::from(translation.pool_high as u32)
            }),
            translation,
            next_hops: NextHops::default(),
        }
    }

    /// The translation prefix of the fast path, if one is configured.
    pub fn translation_prefix(&self) -> Option<Ipv6Cidr> {
        self.translation.as_ref().map(|translation| {
            Ipv6Cidr::new(Ipv6Address::from_bits(translation.pool_high << 32), 96)
        })
    }

    /// Where a prefix is stored: the fast-path trie (with its 32-bit key and
    /// length) or the IPv6 trie.
    fn place(&self, prefix: Ipv6Cidr) -> Place {
        let bits = prefix.address().to_bits();
        let length = prefix.prefix_len();
        match &self.translation {
            Some(translation) if length >= 96 && bits >> 32 == translation.pool_high => {
                Place::Ipv4(bits as u32, length - 96)
            }
            _ => Place::Ipv6(bits, length),
        }
    }

    /// Add a route, or replace the next hop of an existing one; returns the
    /// next hop it had. Host bits of `prefix` are ignored (masked off).
    /// Inserting [`NO_NEXT_HOP`] does nothing and returns `None`.
    ///
    /// # Panics
    ///
    /// When `next_hop` would be the table's 65,536th distinct next hop in
    /// use ([`MAX_NEXT_HOPS`]); [`Fib::try_insert`] reports that instead.
    pub fn insert(&mut self, prefix: Ipv6Cidr, next_hop: NextHopIndex) -> Option<NextHopIndex> {
        match self.try_insert(prefix, next_hop) {
            Ok(old) => old,
            Err(error) => panic!("{error}"),
        }
    }

    /// [`Fib::insert`], refusing (and changing nothing) when `next_hop`
    /// would exceed [`MAX_NEXT_HOPS`] distinct next hops in use.
    pub fn try_insert(
        &mut self,
        prefix: Ipv6Cidr,
        next_hop: NextHopIndex,
    ) -> Result<Option<NextHopIndex>, TooManyNextHops> {
        if next_hop == NO_NEXT_HOP {
            return Ok(None);
        }
        let code = self.next_hops.acquire(next_hop).ok_or(TooManyNextHops)?;
        let old = match self.place(prefix) {
            Place::Ipv4(key, length) => self.ipv4_mut().insert(key, length, code),
            Place::Ipv6(key, length) => self.ipv6.insert(key, length, code),
        };
        Ok(old.map(|old| self.give_back(old)))
    }

    /// Remove a route; returns its next hop if it was present. Host bits of
    /// `prefix` are ignored (masked off).
    pub fn remove(&mut self, prefix: Ipv6Cidr) -> Option<NextHopIndex> {
        let old = match self.place(prefix) {
            Place::Ipv4(key, length) => self.ipv4_mut().remove(key, length),
            Place::Ipv6(key, length) => self.ipv6.remove(key, length),
        };
        old.map(|old| self.give_back(old))
    }

    /// The next hop of a code a route no longer holds; drops its use.
    fn give_back(&mut self, code: Code) -> NextHopIndex {
        let next_hop = self.next_hops.resolve(code);
        self.next_hops.release(code);
        next_hop
    }

    /// The next hop of exactly this prefix (no longest match).
    pub fn get(&self, prefix: Ipv6Cidr) -> Option<NextHopIndex> {
        let code = match (self.place(prefix), &self.translation) {
            (Place::Ipv4(key, length), Some(translation)) => translation.ipv4.get(key, length),
            (Place::Ipv4(..), None) => None,
            (Place::Ipv6(key, length), _) => self.ipv6.get(key, length),
        };
        code.map(|code| self.next_hops.resolve(code))
    }

    fn ipv4_mut(&mut self) -> &mut Trie<u32> {
        &mut self
            .translation
            .as_mut()
            .expect("Place::Ipv4 only exists with a translation prefix")
            .ipv4
    }

    /// Longest-prefix match for `destination`. Does not allocate.
    #[inline]
    pub fn lookup(&self, destination: Ipv6Address) -> Option<NextHopIndex> {
        let bits = destination.to_bits();
        if (bits >> 64) as u64 == self.pool_top
            && u64::from((bits >> 32) as u32) == self.pool_middle
            && let Some(translation) = &self.translation
        {
            let found = translation.ipv4.lookup(bits as u32);
            if found != NO_CODE {
                return Some(self.next_hops.resolve(found));
            }
        }
        let found = self.ipv6.lookup(bits);
        (found != NO_CODE).then(|| self.next_hops.resolve(found))
    }

    /// Number of routes.
    pub fn len(&self) -> usize {
        self.ipv6.len()
            + self
                .translation
                .as_ref()
                .map_or(0, |translation| translation.ipv4.len())
    }

    /// Whether the table has no routes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Heap bytes held by the table (array capacities included).
    pub fn memory_bytes(&self) -> usize {
        self.next_hops.memory_bytes()
            + self.ipv6.memory_bytes()
            + self
                .translation
                .as_ref()
                .map_or(0, |translation| translation.ipv4.memory_bytes())
    }

    /// Release spare array capacity, e.g. after loading a full table.
    pub fn shrink_to_fit(&mut self) {
        self.next_hops.shrink_to_fit();
        self.ipv6.shrink_to_fit();
        if let Some(translation) = &mut self.translation {
            translation.ipv4.shrink_to_fit();
        }
    }

    /// Rebuild the table from its own routes into freshly sized arrays:
    /// returns the memory that update streams leave in freed runs and spare
    /// capacity. Takes about as long as a full [`Fib::load`]. Updates do
    /// this on their own when the waste passes a quarter of the table (see
    /// the module documentation), so calling it is never required.
    pub fn compact(&mut self) {
        self.ipv6.compact();
        if let Some(translation) = &mut self.translation {
            translation.ipv4.compact();
        }
        self.next_hops.shrink_to_fit();
    }

    /// Automatic compactions done by updates so far (both tries).
    pub fn compactions(&self) -> u64 {
        self.ipv6.compactions()
            + self
                .translation
                .as_ref()
                .map_or(0, |translation| translation.ipv4.compactions())
    }

    /// Distinct next hops in use (at most [`MAX_NEXT_HOPS`]).
    pub fn next_hop_count(&self) -> usize {
        self.next_hops.len()
    }

    /// Node and leaf counts of both tries.
    pub fn statistics(&self) -> Statistics {
        self.ipv6.statistics()
            + self
                .translation
                .as_ref()
                .map_or(Statistics::default(), |translation| {
                    translation.ipv4.statistics()
                })
    }

    /// Remove every route (the translation prefix stays).
    pub fn clear(&mut self) {
        self.next_hops.clear();
        self.ipv6.clear();
        if let Some(translation) = &mut self.translation {
            translation.ipv4.clear();
        }
    }

    /// Replace the whole table with `routes` in one pass (much faster than
    /// inserting them one by one) into exactly sized arrays. Host bits are
    /// masked; when a prefix appears more than once the last one wins;
    /// [`NO_NEXT_HOP`] entries are skipped. [`Fib::loader`] does the same
    /// for routes handed over one at a time.
    ///
    /// # Panics
    ///
    /// When the routes use more than [`MAX_NEXT_HOPS`] distinct next hops.
    pub fn load<I>(&mut self, routes: I)
    where
        I: IntoIterator<Item = (Ipv6Cidr, NextHopIndex)>,
    {
        let routes = routes.into_iter();
        let mut loader = self.loader(routes.size_hint().0);
        for (prefix, next_hop) in routes {
            loader.push(prefix, next_hop);
        }
        loader.finish();
    }

    /// Start a [`Fib::load`] whose routes are handed over one at a time
    /// ([`FibLoader::push`]) by a caller that filters or counts them as it
    /// goes, then [`FibLoader::finish`]: the routes are held once, by
    /// family and already coded, instead of being collected first.
    /// `expected_routes` sizes the side that full tables fill (mapped IPv4
    /// with a fast path, IPv6 without). The table is unchanged until
    /// `finish` (and stays so if the loader is dropped).
    pub fn loader(&mut self, expected_routes: usize) -> FibLoader<'_> {
        let fast_path = self.translation.is_some();
        let mut loader = FibLoader {
            fib: self,
            next_hops: NextHops::default(),
            ipv6: alloc::vec::Vec::new(),
            ipv4: alloc::vec::Vec::new(),
            last: None,
            ipv6_ascending: true,
            ipv4_ascending: true,
        };
        if fast_path {
            loader.ipv4.reserve_exact(expected_routes);
        } else {
            loader.ipv6.reserve_exact(expected_routes);
        }
        loader
    }

    /// Every route, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (Ipv6Cidr, NextHopIndex)> + '_ {
        let next_hops = &self.next_hops;
        let mapped = self.translation.iter().flat_map(move |translation| {
            let pool = translation.pool_high << 32;
            translation.ipv4.routes().map(move |(key, length, code)| {
                let address = Ipv6Address::from_bits(pool | u128::from(key));
                (Ipv6Cidr::new(address, 96 + length), next_hops.resolve(code))
            })
        });
        self.ipv6
            .routes()
            .map(move |(key, length, code)| {
                (
                    Ipv6Cidr::new(Ipv6Address::from_bits(key), length),
                    next_hops.resolve(code),
                )
            })
            .chain(mapped)
    }
}

impl Extend<(Ipv6Cidr, NextHopIndex)> for Fib {
    /// Insert each route; into an empty table this is [`Fib::load`].
    fn extend<I: IntoIterator<Item = (Ipv6Cidr, NextHopIndex)>>(&mut self, routes: I) {
        if self.is_empty() {
            self.load(routes);
        } else {
            for (prefix, next_hop) in routes {
                self.insert(prefix, next_hop);
            }
        }
    }
}

impl FromIterator<(Ipv6Cidr, NextHopIndex)> for Fib {
    /// A table without translation fast path holding `routes`.
    fn from_iter<I: IntoIterator<Item = (Ipv6Cidr, NextHopIndex)>>(routes: I) -> Fib {
        let mut fib = Fib::new();
        fib.load(routes);
        fib
    }
}

/// Where [`Fib::place`] puts a prefix.
enum Place {
    Ipv4(u32, u8),
    Ipv6(u128, u8),
}

/// The routes of a [`Fib::load`] in the making ([`Fib::loader`]): split by
/// family, masked and coded as they are pushed, then sorted (a compiled
/// route file's are already), de-duplicated and built by
/// [`FibLoader::finish`].
#[derive(Debug)]
pub struct FibLoader<'fib> {
    /// The table the routes replace (and whose [`Fib::place`] splits them).
    fib: &'fib mut Fib,
    /// Codes of the pushed routes' next hops (every pushed route holds a
    /// use, duplicates until they are dropped).
    next_hops: NextHops,
    ipv6: alloc::vec::Vec<(u128, u8, Code)>,
    ipv4: alloc::vec::Vec<(u32, u8, Code)>,
    /// The last route's next hop and its code: neighbouring routes mostly
    /// share one.
    last: Option<(NextHopIndex, Code)>,
    /// Whether `ipv6` (`ipv4`) is in strictly ascending order so far:
    /// then it is sorted and free of duplicates, and [`FibLoader::finish`]
    /// neither sorts nor scans it again (a compiled route file's routes
    /// come so).
    ipv6_ascending: bool,
    ipv4_ascending: bool,
}

/// Append `route` to one family's routes, noting whether they are still in
/// strictly ascending order.
#[inline(always)]
fn push_route<K: trie::Key>(
    routes: &mut alloc::vec::Vec<(K, u8, Code)>,
    ascending: &mut bool,
    route: (K, u8, Code),
) {
    if let Some(&(key, length, _)) = routes.last() {
        *ascending &= (key, length) < (route.0, route.1);
    }
    routes.push(route);
}

impl FibLoader<'_> {
    /// Add a route to the load (see [`Fib::load`]).
    ///
    /// # Panics
    ///
    /// When the routes pushed so far, duplicates included, use more than
    /// [`MAX_NEXT_HOPS`] distinct next hops.
    pub fn push(&mut self, prefix: Ipv6Cidr, next_hop: NextHopIndex) {
        if next_hop == NO_NEXT_HOP {
            return;
        }
        let code = match self.last {
            Some((hop, code)) if hop == next_hop => {
                self.next_hops.retain(code);
                code
            }
            _ => self
                .next_hops
                .acquire(next_hop)
                .unwrap_or_else(|| panic!("{}", TooManyNextHops)),
        };
        self.last = Some((next_hop, code));
        match self.fib.place(prefix) {
            Place::Ipv4(key, length) => push_route(
                &mut self.ipv4,
                &mut self.ipv4_ascending,
                (trie::Key::masked(key, length), length, code),
            ),
            Place::Ipv6(key, length) => push_route(
                &mut self.ipv6,
                &mut self.ipv6_ascending,
                (trie::Key::masked(key, length), length, code),
            ),
        }
    }

    /// Replace the table's routes with the pushed ones.
    pub fn finish(self) {
        let FibLoader {
            fib,
            mut next_hops,
            mut ipv6,
            mut ipv4,
            ipv6_ascending,
            ipv4_ascending,
            ..
        } = self;
        if !ipv6_ascending {
            sort_and_deduplicate(&mut ipv6, &mut next_hops);
        }
        if !ipv4_ascending {
            sort_and_deduplicate(&mut ipv4, &mut next_hops);
        }
        fib.next_hops = next_hops;
        fib.ipv6.build(&ipv6);
        fib.ipv6.shrink_to_fit();
        drop(ipv6);
        if let Some(translation) = &mut fib.translation {
            translation.ipv4.build(&ipv4);
            translation.ipv4.shrink_to_fit();
        }
    }
}

/// Sort by `(key, length)` keeping, for duplicate prefixes, the last one
/// (the dropped ones give their next hop's use back to `next_hops`).
fn sort_and_deduplicate<K: trie::Key + Default>(
    routes: &mut alloc::vec::Vec<(K, u8, Code)>,
    next_hops: &mut NextHops,
) {
    // Stable sort keeps input order among equal prefixes; keep the last.
    sort::sort_routes(routes);
    let mut write = 0;
    for read in 0..routes.len() {
        if read + 1 < routes.len()
            && (routes[read + 1].0, routes[read + 1].1) == (routes[read].0, routes[read].1)
        {
            next_hops.release(routes[read].2);
            continue;
        }
        // Nothing moves until the first duplicate (a full table has
        // none): no store per route.
        if write != read {
            routes[write] = routes[read];
        }
        write += 1;
    }
    routes.truncate(write);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(text: &str) -> Ipv6Cidr {
        let (address, length) = text.split_once('/').unwrap();
        Ipv6Cidr::new(address.parse().unwrap(), length.parse().unwrap())
    }

    fn address(text: &str) -> Ipv6Address {
        text.parse().unwrap()
    }

    fn tables() -> [Fib; 2] {
        [
            Fib::new(),
            Fib::with_translation_prefix(cidr("64:ff9b::/96")),
        ]
    }

    #[test]
    fn empty_table_matches_nothing() {
        for fib in tables() {
            assert!(fib.is_empty());
            assert_eq!(fib.lookup(address("2001:db8::1")), None);
            assert_eq!(fib.lookup(address("64:ff9b::c000:201")), None);
        }
    }

    #[test]
    fn default_route_matches_everything() {
        for mut fib in tables() {
            assert_eq!(fib.insert(cidr("::/0"), 7), None);
            assert_eq!(fib.lookup(address("2001:db8::1")), Some(7));
            assert_eq!(fib.lookup(address("64:ff9b::c000:201")), Some(7));
            assert_eq!(fib.lookup(address("ffff::")), Some(7));
            assert_eq!(fib.len(), 1);
            assert_eq!(fib.remove(cidr("::/0")), Some(7));
            assert_eq!(fib.lookup(address("2001:db8::1")), None);
        }
    }

    #[test]
    fn host_routes() {
        for mut fib in tables() {
            fib.insert(cidr("2001:db8::1/128"), 1);
            fib.insert(cidr("64:ff9b::c000:201/128"), 2);
            fib.insert(cidr("::/0"), 9);
            assert_eq!(fib.lookup(address("2001:db8::1")), Some(1));
            assert_eq!(fib.lookup(address("2001:db8::2")), Some(9));
            assert_eq!(fib.lookup(address("64:ff9b::c000:201")), Some(2));
            assert_eq!(fib.lookup(address("64:ff9b::c000:200")), Some(9));
            assert_eq!(fib.get(cidr("2001:db8::1/128")), Some(1));
        }
    }

    /// The IPv6 walk goes on with the key's low half at bit 64; a low half
    /// whose rest is a single top bit looks like the switch marker again
    /// (after the slot `0x80` at bit 72) and must keep walking the zeros.
    #[test]
    fn walks_past_bit_64_through_marker_like_bits() {
        for mut fib in tables() {
            fib.insert(cidr("2001:db8::/64"), 2);
            fib.insert(cidr("2001:db8::80:0:0:0/128"), 1);
            fib.insert(cidr("2001:db8::80:0:0:100/120"), 3);
            assert_eq!(fib.lookup(address("2001:db8::80:0:0:0")), Some(1));
            assert_eq!(fib.lookup(address("2001:db8::80:0:0:1")), Some(2));
            assert_eq!(fib.lookup(address("2001:db8::80:0:0:1ff")), Some(3));
            assert_eq!(fib.lookup(address("2001:db8::80:80:0:0")), Some(2));
            assert_eq!(fib.lookup(address("2001:db8::8000:0:0:0")), Some(2));
        }
    }

    #[test]
    fn nested_prefixes_take_the_longest() {
        for mut fib in tables() {
            fib.insert(cidr("2000::/3"), 1);
            fib.insert(cidr("2001:db8::/32"), 2);
            fib.insert(cidr("2001:db8:1::/48"), 3);
            fib.insert(cidr("2001:db8:1:2::/64"), 4);
            fib.insert(cidr("64:ff9b::/96"), 5);
            fib.insert(cidr("64:ff9b::c000:0/104"), 6);
            fib.insert(cidr("64:ff9b::c000:200/120"), 7);
            fib.insert(cidr("64::/16"), 8);
            assert_eq!(fib.lookup(address("3fff::")), Some(1));
            assert_eq!(fib.lookup(address("2001:db8:ffff::")), Some(2));
            assert_eq!(fib.lookup(address("2001:db8:1:3::")), Some(3));
            assert_eq!(fib.lookup(address("2001:db8:1:2::5")), Some(4));
            assert_eq!(fib.lookup(address("64:ff9b::c000:201")), Some(7));
            assert_eq!(fib.lookup(address("64:ff9b::c000:301")), Some(6));
            assert_eq!(fib.lookup(address("64:ff9b::c100:301")), Some(5));
            assert_eq!(fib.lookup(address("64:ff9b:1::")), Some(8));
            assert_eq!(fib.len(), 8);
        }
    }

    #[test]
    fn a_loader_builds_the_same_table_from_routes_in_order_or_not() {
        let routes = [
            ("2001:db8::/32", 1),
            ("2001:db8:1::/48", 2),
            ("64:ff9b::c000:0/112", 3),
            ("64:ff9b::c000:200/120", 4),
        ];
        for mut fib in tables() {
            // Ascending: neither sorted nor scanned again.
            let mut loader = fib.loader(routes.len());
            for (prefix, next_hop) in routes {
                loader.push(cidr(prefix), next_hop);
            }
            loader.finish();
            let in_order: alloc::vec::Vec<_> = routes
                .iter()
                .map(|(prefix, _)| fib.lookup(cidr(prefix).address()))
                .collect();
            assert_eq!(in_order, [Some(1), Some(2), Some(3), Some(4)]);
            assert_eq!(fib.next_hop_count(), 4);
            // A loader dropped unfinished changes nothing.
            let mut dropped = fib.loader(0);
            dropped.push(cidr("2001:db8::/32"), 7);
            drop(dropped);
            assert_eq!(fib.lookup(cidr("2001:db8::/32").address()), Some(1));
            // Reversed, with duplicates whose next hop 9 loses to the last
            // push: sorted and de-duplicated, and 9 holds no code.
            let mut loader = fib.loader(0);
            for (prefix, _) in routes {
                loader.push(cidr(prefix), 9);
            }
            for (prefix, next_hop) in routes.iter().rev() {
                loader.push(cidr(prefix), *next_hop);
            }
            loader.finish();
            let reloaded: alloc::vec::Vec<_> = routes
                .iter()
                .map(|(prefix, _)| fib.lookup(cidr(prefix).address()))
                .collect();
            assert_eq!(reloaded, in_order);
            assert_eq!(fib.len(), 4);
            assert_eq!(fib.next_hop_count(), 4);
        }
    }

    #[test]
    fn insert_replaces_and_returns_the_old_next_hop() {
        for mut fib in tables() {
            assert_eq!(fib.insert(cidr("2001:db8::/32"), 1), None);
            assert_eq!(fib.insert(cidr("2001:db8::/32"), 2), Some(1));
            assert_eq!(fib.insert(cidr("64:ff9b::c000:200/120"), 3), None);
            assert_eq!(fib.insert(cidr("64:ff9b::c000:200/120"), 4), Some(3));
            assert_eq!(fib.lookup(address("2001:db8::1")), Some(2));
            assert_eq!(fib.lookup(address("64:ff9b::c000:201")), Some(4));
            assert_eq!(fib.len(), 2);
        }
    }

    #[test]
    fn remove_restores_the_shorter_match() {
        for mut fib in tables() {
            fib.insert(cidr("2001:db8::/32"), 1);
            fib.insert(cidr("2001:db8:1::/48"), 2);
            fib.insert(cidr("64:ff9b::c000:0/112"), 3);
            fib.insert(cidr("64:ff9b::c000:200/120"), 4);
            assert_eq!(fib.remove(cidr("2001:db8:1::/48")), Some(2));
            assert_eq!(fib.remove(cidr("64:ff9b::c000:200/120")), Some(4));
            assert_eq!(fib.lookup(address("2001:db8:1::1")), Some(1));
            assert_eq!(fib.lookup(address("64:ff9b::c000:201")), Some(3));
            assert_eq!(fib.len(), 2);
            // /32 needs the nodes at 16 and 24; without the fast path the
            // /112 sits twelve nodes deep; removed nodes are pruned.
            let nodes = if fib.translation.is_some() { 2 } else { 14 };
            assert_eq!(fib.statistics().nodes, nodes);
        }
    }

    #[test]
    fn removing_an_absent_route_changes_nothing() {
        for mut fib in tables() {
            fib.insert(cidr("2001:db8::/32"), 1);
            assert_eq!(fib.remove(cidr("2001:db8::/48")), None);
            assert_eq!(fib.remove(cidr("2001:db8::/31")), None);
            assert_eq!(fib.remove(cidr("2001:db9::/32")), None);
            assert_eq!(fib.remove(cidr("::/0")), None);
            assert_eq!(fib.remove(cidr("2001::/16")), None);
            assert_eq!(fib.remove(cidr("64:ff9b::c000:200/120")), None);
            assert_eq!(fib.len(), 1);
            assert_eq!(fib.lookup(address("2001:db8::1")), Some(1));
        }
    }

    #[test]
    fn host_bits_are_masked() {
        for mut fib in tables() {
            assert_eq!(fib.insert(cidr("2001:db8::1/32"), 1), None);
            assert_eq!(fib.insert(cidr("2001:db8::/32"), 2), Some(1));
            assert_eq!(fib.lookup(address("2001:db8:ffff::")), Some(2));
            assert_eq!(fib.insert(cidr("64:ff9b::c000:2ff/120"), 3), None);
            assert_eq!(fib.lookup(address("64:ff9b::c000:201")), Some(3));
            assert_eq!(fib.remove(cidr("2001:db8:ff::/32")), Some(2));
            assert_eq!(fib.remove(cidr("64:ff9b::c000:201/120")), Some(3));
            assert!(fib.is_empty());
        }
    }

    #[test]
    fn the_reserved_next_hop_is_ignored() {
        let mut fib = Fib::new();
        assert_eq!(fib.insert(cidr("2001:db8::/32"), NO_NEXT_HOP), None);
        assert!(fib.is_empty());
    }

    #[test]
    fn iterates_every_route_and_loads_in_bulk() {
        for mut fib in tables() {
            let routes = [
                ("::/0", 1),
                ("2000::/3", 2),
                ("2001:db8::/32", 3),
                ("2001:db8:1:2::/64", 4),
                ("2001:db8::1/128", 5),
                ("64:ff9b::/96", 6),
                ("64:ff9b::c000:200/120", 7),
                ("64:ff9b::c000:201/128", 8),
            ];
            for (prefix, next_hop) in routes {
                fib.insert(cidr(prefix), next_hop);
            }
            let mut listed: alloc::vec::Vec<_> = fib.iter().collect();
            listed.sort();
            let mut expected: alloc::vec::Vec<_> = routes
                .iter()
                .map(|&(prefix, hop)| (cidr(prefix), hop))
                .collect();
            expected.sort();
            assert_eq!(listed, expected);
            let mut loaded = fib.clone();
            loaded.clear();
            loaded.load(expected.iter().copied());
            let mut relisted: alloc::vec::Vec<_> = loaded.iter().collect();
            relisted.sort();
            assert_eq!(relisted, expected);
            assert_eq!(loaded.lookup(address("2001:db8::1")), Some(5));
            assert_eq!(loaded.lookup(address("64:ff9b::c000:202")), Some(7));
            assert!(fib.memory_bytes() > 0);
        }
    }
}
