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
//! - below it, **nodes of stride 8** (256 slots): two 256-bit bitmaps say
//!   which slots are child nodes and where a run of equal leaf values
//!   starts, so a child or leaf is found by a popcount, and a node's
//!   children and leaves are contiguous runs in shared arrays;
//! - leaves are **leaf-pushed** inside a subtree (a leaf holds the longest
//!   match of every route in that subtree), so a lookup reads one node per
//!   8 bits and a single leaf at the end, and never backtracks;
//! - each node also keeps its own routes, from which an **update**
//!   recomputes that node's leaves and only those children whose
//!   inherited value changed. A route of length <= 16 changes only direct
//!   entries. No update rebuilds the table.
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
//! Why this shape, with the numbers of the 2026-05-11 RIS table (1,042,325
//! IPv4 + 246,175 IPv6 routes; `shared/data/ris-20260511`):
//! - Strides of 8 put the common lengths on node boundaries (IPv4 /24,
//!   63%; IPv6 /32, /40, /48, 65%), so they fill whole slots: 26,502 IPv4
//!   nodes and 53,051 IPv6 nodes (a stride-6 layout needs 317k and 134k).
//! - An IPv6 /48 costs the direct read and four nodes; a mapped IPv4 /24
//!   the direct read and one node. See `benches/fib.rs` for lookup times.
//! - Memory is bounded by the route count: each route adds at most one
//!   node (92 bytes: 80 hot, 12 for its routes), its 6-byte route record
//!   and at most two leaf runs (4 bytes each), plus two 512 KiB direct
//!   tables. On the real table: 79,553 nodes, 1.51M leaves, 22.2 MB,
//!   17.2 bytes per route with 1024 scattered next hops (16.7 with 16).
//!   Long update streams leave freed runs and spare `Vec` capacity behind
//!   (33.6 bytes per route after the day's 2.6M updates);
//!   [`Fib::compact`] returns it.
//! - Measured (`benches/fib.rs`, 2-core VM, same run as `prefix-trie`):
//!   mapped IPv4 13-50 ns, IPv6 36-95 ns per lookup (warm 4096-address
//!   batch to 262k random addresses), 10-24x and 2.4-4x faster than
//!   `prefix-trie`; full build 130 ms; about 1M updates per second.
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
mod trie;

use smoltcp::wire::{Ipv6Address, Ipv6Cidr};

use self::trie::{NO_ROUTE, Trie};

/// Index into the router's next-hop table; the FIB stores only this.
pub type NextHopIndex = u32;

/// The one next-hop index a route may not use (the FIB's "no route").
pub const NO_NEXT_HOP: NextHopIndex = NO_ROUTE;

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
            translation,
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
    pub fn insert(&mut self, prefix: Ipv6Cidr, next_hop: NextHopIndex) -> Option<NextHopIndex> {
        if next_hop == NO_NEXT_HOP {
            return None;
        }
        match self.place(prefix) {
            Place::Ipv4(key, length) => self.ipv4_mut().insert(key, length, next_hop),
            Place::Ipv6(key, length) => self.ipv6.insert(key, length, next_hop),
        }
    }

    /// Remove a route; returns its next hop if it was present. Host bits of
    /// `prefix` are ignored (masked off).
    pub fn remove(&mut self, prefix: Ipv6Cidr) -> Option<NextHopIndex> {
        match self.place(prefix) {
            Place::Ipv4(key, length) => self.ipv4_mut().remove(key, length),
            Place::Ipv6(key, length) => self.ipv6.remove(key, length),
        }
    }

    /// The next hop of exactly this prefix (no longest match).
    pub fn get(&self, prefix: Ipv6Cidr) -> Option<NextHopIndex> {
        match (self.place(prefix), &self.translation) {
            (Place::Ipv4(key, length), Some(translation)) => translation.ipv4.get(key, length),
            (Place::Ipv4(..), None) => None,
            (Place::Ipv6(key, length), _) => self.ipv6.get(key, length),
        }
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
        if let Some(translation) = &self.translation
            && bits >> 32 == translation.pool_high
        {
            let found = translation.ipv4.lookup(bits as u32);
            if found != NO_ROUTE {
                return Some(found);
            }
        }
        let found = self.ipv6.lookup(bits);
        (found != NO_ROUTE).then_some(found)
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
        self.ipv6.memory_bytes()
            + self
                .translation
                .as_ref()
                .map_or(0, |translation| translation.ipv4.memory_bytes())
    }

    /// Release spare array capacity, e.g. after loading a full table.
    pub fn shrink_to_fit(&mut self) {
        self.ipv6.shrink_to_fit();
        if let Some(translation) = &mut self.translation {
            translation.ipv4.shrink_to_fit();
        }
    }

    /// Rebuild the table from its own routes into freshly sized arrays:
    /// returns the memory that long update streams leave in freed runs and
    /// spare capacity. Takes about as long as a full [`Fib::load`].
    pub fn compact(&mut self) {
        let routes: alloc::vec::Vec<(Ipv6Cidr, NextHopIndex)> = self.iter().collect();
        self.load(routes);
        self.shrink_to_fit();
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
        self.ipv6.clear();
        if let Some(translation) = &mut self.translation {
            translation.ipv4.clear();
        }
    }

    /// Replace the whole table with `routes` in one pass (much faster than
    /// inserting them one by one). Host bits are masked; when a prefix
    /// appears more than once the last one wins; [`NO_NEXT_HOP`] entries
    /// are skipped.
    pub fn load<I>(&mut self, routes: I)
    where
        I: IntoIterator<Item = (Ipv6Cidr, NextHopIndex)>,
    {
        let mut ipv6: alloc::vec::Vec<(u128, u8, u32)> = alloc::vec::Vec::new();
        let mut ipv4: alloc::vec::Vec<(u32, u8, u32)> = alloc::vec::Vec::new();
        for (prefix, next_hop) in routes {
            if next_hop == NO_NEXT_HOP {
                continue;
            }
            match self.place(prefix) {
                Place::Ipv4(key, length) => {
                    ipv4.push((trie::Key::masked(key, length), length, next_hop))
                }
                Place::Ipv6(key, length) => {
                    ipv6.push((trie::Key::masked(key, length), length, next_hop))
                }
            }
        }
        sort_and_deduplicate(&mut ipv6);
        sort_and_deduplicate(&mut ipv4);
        self.ipv6.build(&ipv6);
        if let Some(translation) = &mut self.translation {
            translation.ipv4.build(&ipv4);
        }
    }

    /// Every route, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (Ipv6Cidr, NextHopIndex)> + '_ {
        let mapped = self.translation.iter().flat_map(|translation| {
            let pool = translation.pool_high << 32;
            translation
                .ipv4
                .routes()
                .map(move |(key, length, next_hop)| {
                    let address = Ipv6Address::from_bits(pool | u128::from(key));
                    (Ipv6Cidr::new(address, 96 + length), next_hop)
                })
        });
        self.ipv6
            .routes()
            .map(|(key, length, next_hop)| {
                (Ipv6Cidr::new(Ipv6Address::from_bits(key), length), next_hop)
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

/// Sort by `(key, length)` keeping, for duplicate prefixes, the last one.
fn sort_and_deduplicate<K: Ord + Copy>(routes: &mut alloc::vec::Vec<(K, u8, u32)>) {
    // Stable sort keeps input order among equal prefixes; keep the last.
    routes.sort_by_key(|route| (route.0, route.1));
    let mut write = 0;
    for read in 0..routes.len() {
        if read + 1 < routes.len()
            && (routes[read + 1].0, routes[read + 1].1) == (routes[read].0, routes[read].1)
        {
            continue;
        }
        routes[write] = routes[read];
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
