//! Benchmark of `netstack::fib::Fib` on the real RIS table of 2026-05-11,
//! side by side with the `prefix-trie` crate's `PrefixMap<Ipv6Net, u32>`:
//! lookup time for random destinations inside table routes (mapped IPv4 and
//! native IPv6 separately), bytes per route, full-table build time, and
//! update throughput replaying the day's update streams.
//!
//! Run: `cargo bench -p netstack --bench fib -- --warm-up-time 1 --measurement-time 3`.
//! Besides criterion's output it prints a summary table of its own
//! measurements: medians of repeated batches, pure6 and prefix-trie
//! interleaved round by round so both see the same load on a shared
//! machine (the ratio column is the median of the per-round ratios).
//! `cargo bench -p netstack --bench fib -- summary-only` prints just that
//! table (the filter matches no criterion benchmark).
//!
//! `-- lookups-only` prints just the two warm lookup rows (same method),
//! for comparing two builds in alternating runs; `cargo xtask bench fib
//! --lookup-runs N` runs it N times, each its own process, and counts the
//! runs that met each lookup target (this VM's speed moves between runs).
//!
//! `-- profile-ipv6` (or `profile-ipv4`) skips all that: it loads the
//! table and runs one family's warm lookup batch only, for instruction counts
//! under `valgrind --tool=callgrind --toggle-collect='*lookup_fib*'`
//! (deterministic where wall clock on a shared machine is not).
//! `-- profile-updates` likewise loads the table and replays the day's
//! updates once, for `--toggle-collect='*replay_fib*'`.

use std::hint::black_box;
use std::io::BufRead;
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, Throughput, criterion_group};
use ipnet::Ipv6Net;
use netstack::fib::{Fib, NextHopIndex};
use prefix_trie::PrefixMap;
use smoltcp::wire::{Ipv6Address, Ipv6Cidr};

const DATA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/data/ris-20260511"
);
/// The translation prefix the IPv4 routes are mapped under.
const POOL6: u128 = 0x0064_ff9b << 96;
/// Destinations per lookup batch.
const BATCH: usize = 4096;

fn lines(name: &str) -> Vec<String> {
    let path = Path::new(DATA).join(name);
    assert!(
        path.is_file(),
        "RIS data missing: {} (expected the project's shared/ beside the repository)",
        path.display()
    );
    let file = std::fs::File::open(&path).expect("open RIS data file");
    std::io::BufReader::new(flate2::read::GzDecoder::new(file))
        .lines()
        .map(|line| line.expect("read RIS data line"))
        .collect()
}

fn parse_prefix(text: &str) -> (u128, u8) {
    let (address, length) = text.split_once('/').expect("prefix has a length");
    let length: u8 = length.parse().expect("prefix length");
    if address.contains(':') {
        let address: Ipv6Address = address.parse().expect("IPv6 address");
        (address.to_bits(), length)
    } else {
        let address: Ipv4Addr = address.parse().expect("IPv4 address");
        (POOL6 | u128::from(address.to_bits()), 96 + length)
    }
}

fn mask(length: u8) -> u128 {
    if length == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(length))
    }
}

/// A next hop scattered over `spread` values, differing between neighbours.
fn next_hop_of(bits: u128, length: u8, salt: u64, spread: u32) -> NextHopIndex {
    let hash = ((bits as u64) ^ ((bits >> 64) as u64) ^ u64::from(length) ^ salt)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15);
    ((hash >> 32) as u32) % spread
}

fn cidr(bits: u128, length: u8) -> Ipv6Cidr {
    Ipv6Cidr::new(Ipv6Address::from_bits(bits), length)
}

fn net(bits: u128, length: u8) -> Ipv6Net {
    Ipv6Net::new(bits.into(), length)
        .expect("valid length")
        .trunc()
}

struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// The table, the update streams, and random destinations.
struct Data {
    ipv4_routes: Vec<(u128, u8)>,
    ipv6_routes: Vec<(u128, u8)>,
    /// `(announce?, bits, length)` for both families, IPv4 first.
    updates: Vec<(bool, u128, u8)>,
}

impl Data {
    fn read() -> Data {
        let parse_all = |name: &str| -> Vec<(u128, u8)> {
            lines(name)
                .iter()
                .map(|line| parse_prefix(line.trim()))
                .collect()
        };
        let mut updates = Vec::new();
        for name in ["updates-ipv4.txt.gz", "updates-ipv6.txt.gz"] {
            for line in lines(name) {
                let (kind, prefix) = line.split_once(' ').expect("update is `A|W prefix`");
                let (bits, length) = parse_prefix(prefix.trim());
                updates.push((kind == "A", bits, length));
            }
        }
        Data {
            ipv4_routes: parse_all("ipv4.txt.gz"),
            ipv6_routes: parse_all("ipv6.txt.gz"),
            updates,
        }
    }

    fn routes(&self, spread: u32) -> Vec<(Ipv6Cidr, NextHopIndex)> {
        self.ipv4_routes
            .iter()
            .chain(&self.ipv6_routes)
            .map(|&(bits, length)| (cidr(bits, length), next_hop_of(bits, length, 0, spread)))
            .collect()
    }

    fn destinations(routes: &[(u128, u8)], seed: u64) -> Vec<u128> {
        let mut random = Random(seed);
        (0..BATCH * 64)
            .map(|_| {
                let (bits, length) = routes[random.next() as usize % routes.len()];
                let host = (u128::from(random.next()) << 64) | u128::from(random.next());
                bits | (host & !mask(length))
            })
            .collect()
    }
}

fn build_fib(routes: &[(Ipv6Cidr, NextHopIndex)]) -> Fib {
    let mut fib = Fib::with_translation_prefix(cidr(POOL6, 96));
    fib.load(routes.iter().copied());
    fib
}

fn build_prefix_trie(routes: &[(Ipv6Cidr, NextHopIndex)]) -> PrefixMap<Ipv6Net, NextHopIndex> {
    let mut map = PrefixMap::new();
    for &(prefix, next_hop) in routes {
        map.insert(
            net(prefix.address().to_bits(), prefix.prefix_len()),
            next_hop,
        );
    }
    map
}

#[inline(never)]
fn lookup_fib(fib: &Fib, destinations: &[u128]) -> u64 {
    let mut sum = 0u64;
    for &destination in destinations {
        sum += u64::from(fib.lookup(Ipv6Address::from_bits(destination)).unwrap_or(0));
    }
    sum
}

fn lookup_prefix_trie(map: &PrefixMap<Ipv6Net, NextHopIndex>, destinations: &[u128]) -> u64 {
    let mut sum = 0u64;
    for &destination in destinations {
        let host = Ipv6Net::new_assert(destination.into(), 128);
        sum += u64::from(map.get_lpm(&host).map_or(0, |(_, &next_hop)| next_hop));
    }
    sum
}

#[inline(never)]
fn replay_fib(fib: &mut Fib, updates: &[(bool, u128, u8)]) {
    for (index, &(announce, bits, length)) in updates.iter().enumerate() {
        if announce {
            fib.insert(
                cidr(bits, length),
                next_hop_of(bits, length, index as u64, 1024),
            );
        } else {
            fib.remove(cidr(bits, length));
        }
    }
}

fn replay_prefix_trie(map: &mut PrefixMap<Ipv6Net, NextHopIndex>, updates: &[(bool, u128, u8)]) {
    for (index, &(announce, bits, length)) in updates.iter().enumerate() {
        if announce {
            map.insert(
                net(bits, length),
                next_hop_of(bits, length, index as u64, 1024),
            );
        } else {
            map.remove(&net(bits, length));
        }
    }
}

/// Nanoseconds per lookup of one pass over `destinations`.
fn lookup_ns(destinations: &[u128], lookup: &impl Fn(&[u128]) -> u64) -> f64 {
    let started = Instant::now();
    black_box(lookup(black_box(destinations)));
    started.elapsed().as_nanos() as f64 / destinations.len() as f64
}

/// Medians of ours, theirs and of the per-round ratio theirs / ours, over
/// `rounds` passes of each, interleaved so that both see the same load on
/// a shared machine. With `warm`, each pass is preceded by an untimed one.
fn interleaved_lookup_ns(
    destinations: &[u128],
    rounds: usize,
    warm: bool,
    ours: impl Fn(&[u128]) -> u64,
    theirs: impl Fn(&[u128]) -> u64,
) -> (f64, f64, f64) {
    let median = |mut samples: Vec<f64>| {
        samples.sort_by(f64::total_cmp);
        samples[samples.len() / 2]
    };
    let (mut our_samples, mut their_samples, mut ratios) = (vec![], vec![], vec![]);
    for _ in 0..rounds {
        if warm {
            black_box(ours(black_box(destinations)));
        }
        let our = lookup_ns(destinations, &ours);
        if warm {
            black_box(theirs(black_box(destinations)));
        }
        let their = lookup_ns(destinations, &theirs);
        our_samples.push(our);
        their_samples.push(their);
        ratios.push(their / our);
    }
    (median(our_samples), median(their_samples), median(ratios))
}

fn median_duration(runs: usize, mut run: impl FnMut() -> Duration) -> Duration {
    let mut samples: Vec<Duration> = (0..runs).map(|_| run()).collect();
    samples.sort();
    samples[samples.len() / 2]
}

/// The `lookups-only` mode: the summary's two warm lookup rows alone
/// (about a quarter of its time), for comparing builds run after run.
fn lookups_only(data: &Data) {
    let routes = data.routes(1024);
    let fib = build_fib(&routes);
    let map = build_prefix_trie(&routes);
    for (name, routes, seed) in [
        ("mapped IPv4", &data.ipv4_routes, 1),
        ("native IPv6", &data.ipv6_routes, 2),
    ] {
        let destinations = Data::destinations(routes, seed);
        let batch = &destinations[..BATCH];
        let (ours, theirs, ratio) = interleaved_lookup_ns(
            batch,
            201,
            true,
            |batch| lookup_fib(&fib, batch),
            |batch| lookup_prefix_trie(&map, batch),
        );
        println!("lookup {name}, warm: {ours:.1} ns, prefix-trie {theirs:.1} ns, ratio {ratio:.2}");
    }
}

fn summary(data: &Data) {
    let routes = data.routes(1024);
    let fib = build_fib(&routes);
    let map = build_prefix_trie(&routes);
    let ipv4 = Data::destinations(&data.ipv4_routes, 1);
    let ipv6 = Data::destinations(&data.ipv6_routes, 2);
    assert_eq!(lookup_fib(&fib, &ipv4), lookup_prefix_trie(&map, &ipv4));
    assert_eq!(lookup_fib(&fib, &ipv6), lookup_prefix_trie(&map, &ipv6));

    let mut lookups = Vec::new();
    for (name, destinations) in [("mapped IPv4", &ipv4), ("native IPv6", &ipv6)] {
        for (kind, batch, rounds, warm) in [
            ("warm, 4096 addresses", &destinations[..BATCH], 201, true),
            ("262k addresses", &destinations[..], 15, false),
        ] {
            let (ours, theirs, ratio) = interleaved_lookup_ns(
                batch,
                rounds,
                warm,
                |batch| lookup_fib(&fib, batch),
                |batch| lookup_prefix_trie(&map, batch),
            );
            lookups.push((format!("lookup {name}, {kind}"), ours, theirs, ratio));
        }
    }
    let fib_build = median_duration(5, || {
        let started = Instant::now();
        black_box(build_fib(&routes));
        started.elapsed()
    });
    let trie_build = median_duration(3, || {
        let started = Instant::now();
        black_box(build_prefix_trie(&routes));
        started.elapsed()
    });
    // Interleaved too: three replays of the whole day each, medians.
    let mut fib_updated = fib.clone();
    let (mut fib_runs, mut trie_runs) = (vec![], vec![]);
    for round in 0..3 {
        let mut fib_copy = fib.clone();
        let started = Instant::now();
        replay_fib(&mut fib_copy, &data.updates);
        fib_runs.push(started.elapsed());
        if round == 0 {
            fib_updated = fib_copy;
        }
        let mut map_copy = map.clone();
        let started = Instant::now();
        replay_prefix_trie(&mut map_copy, &data.updates);
        trie_runs.push(started.elapsed());
    }
    fib_runs.sort();
    trie_runs.sort();
    let (fib_updates, trie_updates) = (fib_runs[1], trie_runs[1]);
    let per_second = |elapsed: Duration| data.updates.len() as f64 / elapsed.as_secs_f64();

    let mut compact = fib.clone();
    compact.shrink_to_fit();
    let per_route = |fib: &Fib| fib.memory_bytes() as f64 / fib.len() as f64;
    let mut few_hops = build_fib(&data.routes(16));
    few_hops.shrink_to_fit();

    println!();
    println!(
        "FIB summary: {} routes ({} mapped IPv4 under 64:ff9b::/96, {} IPv6), {} updates",
        fib.len(),
        data.ipv4_routes.len(),
        data.ipv6_routes.len(),
        data.updates.len()
    );
    println!("| measure                              | pure6 Fib    | prefix-trie  | ratio |");
    println!("|--------------------------------------|--------------|--------------|-------|");
    for (name, ours, theirs, ratio) in &lookups {
        println!("| {name:<36} | {ours:>9.1} ns | {theirs:>9.1} ns | {ratio:>5.1} |");
    }
    let row = |name: &str, ours: f64, theirs: f64, unit: &str| {
        println!(
            "| {name:<36} | {ours:>9.1} {unit:<2} | {theirs:>9.1} {unit:<2} | {:>5.1} |",
            theirs / ours
        );
    };
    row(
        "full build (1.29M routes)",
        fib_build.as_secs_f64() * 1e3,
        trie_build.as_secs_f64() * 1e3,
        "ms",
    );
    println!(
        "| updates per second (day replay)      | {:>12.0} | {:>12.0} | {:>5.1} |",
        per_second(fib_updates),
        per_second(trie_updates),
        per_second(fib_updates) / per_second(trie_updates)
    );
    println!(
        "| bytes per route (1024 next hops)     | {:>12.1} | {:>12.1} |       |",
        per_route(&compact),
        map.mem_size() as f64 / map.len() as f64
    );
    println!(
        "| bytes per route (16 next hops)       | {:>12.1} |              |       |",
        per_route(&few_hops)
    );
    println!(
        "| bytes per route after the day        | {:>12.1} |              |       |",
        per_route(&fib_updated)
    );
    println!(
        "(lookup ratios: median of per-round ratios; the day replay compacted {} times)",
        fib_updated.compactions()
    );
    println!("shape: {:?}", compact.statistics());
    println!();
}

fn benchmarks(criterion: &mut Criterion) {
    let data = Data::read();
    summary(&data);
    let routes = data.routes(1024);
    let fib = build_fib(&routes);
    let map = build_prefix_trie(&routes);

    for (family, table_routes, seed) in [
        ("mapped-ipv4", &data.ipv4_routes, 1),
        ("ipv6", &data.ipv6_routes, 2),
    ] {
        let destinations = Data::destinations(table_routes, seed);
        let batch = &destinations[..BATCH];
        let mut group = criterion.benchmark_group(format!("lookup/{family}"));
        group.throughput(Throughput::Elements(BATCH as u64));
        group.bench_function("pure6", |bencher| {
            bencher.iter(|| lookup_fib(&fib, black_box(batch)))
        });
        group.bench_function("prefix-trie", |bencher| {
            bencher.iter(|| lookup_prefix_trie(&map, black_box(batch)))
        });
        group.finish();
    }

    let mut group = criterion.benchmark_group("build");
    group.sample_size(10);
    group.throughput(Throughput::Elements(routes.len() as u64));
    group.bench_function("pure6", |bencher| {
        bencher.iter(|| build_fib(black_box(&routes)))
    });
    group.bench_function("prefix-trie", |bencher| {
        bencher.iter(|| build_prefix_trie(black_box(&routes)))
    });
    group.finish();

    let updates = &data.updates[..100_000];
    let mut group = criterion.benchmark_group("updates");
    group.sample_size(10);
    group.throughput(Throughput::Elements(updates.len() as u64));
    group.bench_function("pure6", |bencher| {
        bencher.iter_batched_ref(
            || fib.clone(),
            |fib| replay_fib(fib, updates),
            BatchSize::LargeInput,
        )
    });
    group.bench_function("prefix-trie", |bencher| {
        bencher.iter_batched_ref(
            || map.clone(),
            |map| replay_prefix_trie(map, updates),
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

/// The `profile-ipv6` and `profile-ipv4` modes: ten passes over the warm
/// batch of one family.
fn profile_lookups(ipv6: bool) {
    let parse_all = |name: &str| -> Vec<(u128, u8)> {
        lines(name)
            .iter()
            .map(|line| parse_prefix(line.trim()))
            .collect()
    };
    let ipv4_routes = parse_all("ipv4.txt.gz");
    let ipv6_routes = parse_all("ipv6.txt.gz");
    let routes: Vec<(Ipv6Cidr, NextHopIndex)> = ipv4_routes
        .iter()
        .chain(&ipv6_routes)
        .map(|&(bits, length)| (cidr(bits, length), next_hop_of(bits, length, 0, 1024)))
        .collect();
    let fib = build_fib(&routes);
    let destinations = if ipv6 {
        Data::destinations(&ipv6_routes, 2)
    } else {
        Data::destinations(&ipv4_routes, 1)
    };
    let batch = &destinations[..BATCH];
    let mut sum = 0;
    for _ in 0..10 {
        sum += lookup_fib(&fib, black_box(batch));
    }
    println!(
        "{} lookups, checksum {sum}, {:?}",
        10 * BATCH,
        fib.statistics()
    );
}

/// One replay of the day's updates on the full table, for instruction
/// counts under `valgrind --tool=callgrind --toggle-collect='*replay_fib*'`.
fn profile_updates(data: &Data) {
    let mut fib = build_fib(&data.routes(1024));
    replay_fib(&mut fib, black_box(&data.updates));
    println!(
        "{} updates, {} routes after, {:?}",
        data.updates.len(),
        fib.len(),
        fib.statistics()
    );
}

criterion_group!(fib_benchmarks, benchmarks);

fn main() {
    if std::env::args().any(|argument| argument == "lookups-only") {
        lookups_only(&Data::read());
        return;
    }
    if std::env::args().any(|argument| argument == "profile-updates") {
        profile_updates(&Data::read());
        return;
    }
    for (mode, ipv6) in [("profile-ipv6", true), ("profile-ipv4", false)] {
        if std::env::args().any(|argument| argument == mode) {
            profile_lookups(ipv6);
            return;
        }
    }
    fib_benchmarks();
    Criterion::default().configure_from_args().final_summary();
}
