//! Benchmark of `netstack::route_file::parse` and of loading its routes
//! into a router (`Router::with_seed_and_routes`) on the real RIS table of
//! 2026-05-11, written as the full-table route file that
//! `tools/src/full_table.rs` boots the appliance with (≈1.29M lines: IPv6
//! prefixes `via 2001:db8:2::2`, IPv4 prefixes `via 192.0.2.1` mapped
//! under 64:ff9b::/96).
//!
//! Run: `cargo bench -p netstack --bench route_file -- --warm-up-time 1 --measurement-time 5`.
//!
//! Instruction counts (deterministic, and what the appliance's boot under
//! TCG scales with): with `PURE6_ROUTE_FILE_PROFILE=1` set the binary times
//! nothing; it parses the table once inside `profile_parse` and loads it
//! once inside `profile_load`, then does the same with the compiled form
//! of the table (`profile_decode`, then `profile_load` again), and last
//! what the appliance does with a compiled file: check its header and
//! next hops (`profile_open`), then check and load its routes record by
//! record in one pass (`profile_load_compiled`). So
//! `valgrind --tool=callgrind --toggle-collect='route_file::profile_load_compiled'`
//! (or `profile_parse`, `profile_decode`, `profile_load`, `profile_open`)
//! counts those steps. Build it as the kernel is built with
//! `CARGO_PROFILE_BENCH_OPT_LEVEL=s cargo bench -p netstack --bench route_file --no-run`.
#![cfg(feature = "legacy-ip")]

use std::hint::black_box;
use std::io::BufRead;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group};
use netstack::config;
use netstack::route_file;
use netstack::router::{NicInfo, Router};

const DATA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/data/ris-20260511"
);

/// The appliance config of the full-table boot (`tools/src/full_table.rs`).
const CONFIG: &str = r#"
[[port]]
name = "lan0"
addresses = ["2001:db8:1::1/64"]

[[port]]
name = "wan0"
addresses = ["2001:db8:2::1/64"]

[translation]
pool6 = "64:ff9b::/96"

[[translation.next_hop]]
ipv4 = "192.0.2.1"
via = "2001:db8:2::2"
"#;

/// The two NICs of the full-table boot.
const NICS: [NicInfo; 2] = [
    NicInfo {
        mac: [2, 0, 0, 0, 0, 1],
    },
    NicInfo {
        mac: [2, 0, 0, 0, 0, 2],
    },
];

fn prefixes(name: &str) -> Vec<String> {
    let path = Path::new(DATA).join(name);
    assert!(
        path.is_file(),
        "RIS data missing: {} (expected the project's shared/ beside the repository)",
        path.display()
    );
    let file = std::fs::File::open(&path).expect("open RIS data file");
    std::io::BufReader::new(flate2::read::GzDecoder::new(file))
        .lines()
        .map(|line| line.expect("read RIS data line").trim().to_string())
        .filter(|line| !line.is_empty())
        .collect()
}

/// The route file `tools/src/full_table.rs` writes.
fn full_table_route_file() -> String {
    let mut text =
        String::from("# RIS 2026-05-11 (AS3333): IPv6 via 2001:db8:2::2, IPv4 via 192.0.2.1\n");
    for prefix in prefixes("ipv6.txt.gz") {
        text.push_str(&prefix);
        text.push_str(" via 2001:db8:2::2\n");
    }
    for prefix in prefixes("ipv4.txt.gz") {
        text.push_str(&prefix);
        text.push_str(" via 192.0.2.1\n");
    }
    text
}

fn route_file_benchmarks(criterion: &mut Criterion) {
    let text = full_table_route_file();
    let config = config::parse(CONFIG).expect("the benchmark config parses");
    let options = config.route_file_options();
    let parsed = route_file::parse(&text, &options);
    assert!(parsed.is_ok(), "first errors: {:#?}", parsed.errors);

    let mut group = criterion.benchmark_group("route_file");
    group.sample_size(10);
    group.throughput(Throughput::Elements(parsed.statistics.lines as u64));
    group.bench_function("parse full table", |bencher| {
        bencher.iter(|| route_file::parse(black_box(&text), &options))
    });
    group.throughput(Throughput::Elements(parsed.routes.len() as u64));
    group.bench_function("load full table into a router", |bencher| {
        bencher.iter(|| Router::with_seed_and_routes(&config, &NICS, 1, black_box(&parsed)))
    });
    let compiled = route_file::compiled::compile(&text, 10).expect("the table compiles");
    group.bench_function("decode compiled full table", |bencher| {
        bencher.iter(|| route_file::compiled::decode(black_box(&compiled), &options))
    });
    let decoded = route_file::compiled::decode(&compiled, &options).expect("decodes");
    group.bench_function("load decoded full table into a router", |bencher| {
        bencher.iter(|| Router::with_seed_and_routes(&config, &NICS, 1, black_box(&decoded)))
    });
    group.finish();
}

/// One parse, for callgrind (see the module docs).
#[inline(never)]
fn profile_parse(text: &str, options: &route_file::Options) -> route_file::Parsed {
    route_file::parse(black_box(text), options)
}

/// One decode of the compiled table, for callgrind (see the module docs).
#[inline(never)]
fn profile_decode(bytes: &[u8], options: &route_file::Options) -> route_file::Parsed {
    route_file::compiled::decode(black_box(bytes), options).expect("the compiled table decodes")
}

/// One load into a router, for callgrind (see the module docs).
#[inline(never)]
fn profile_load(config: &config::Config, nics: &[NicInfo], parsed: &route_file::Parsed) -> usize {
    let (_router, summary) =
        Router::with_seed_and_routes(config, nics, 1, black_box(parsed)).expect("the table loads");
    summary.fib_routes
}

/// The appliance's first look at a compiled file (header, layout, next
/// hops; the records are checked as they are loaded), for callgrind.
#[inline(never)]
fn profile_open<'bytes>(
    bytes: &'bytes [u8],
    options: &route_file::Options,
) -> route_file::compiled::CompiledRoutes<'bytes> {
    route_file::compiled::CompiledRoutes::open_header(black_box(bytes), options)
        .expect("the compiled table opens")
}

/// The appliance's load of a compiled file into a router, for callgrind.
#[inline(never)]
fn profile_load_compiled(
    config: &config::Config,
    nics: &[NicInfo],
    routes: &route_file::compiled::CompiledRoutes<'_>,
) -> usize {
    let (_router, summary, report) =
        Router::with_seed_and_compiled_routes(config, nics, 1, black_box(routes))
            .expect("the table loads");
    assert!(report.is_ok(), "first errors: {:#?}", report.errors);
    summary.fib_routes
}

criterion_group!(benches, route_file_benchmarks);

fn main() {
    if std::env::var_os("PURE6_ROUTE_FILE_PROFILE").is_some() {
        let text = full_table_route_file();
        let config = config::parse(CONFIG).expect("the benchmark config parses");
        let options = config.route_file_options();
        let parsed = profile_parse(&text, &options);
        assert!(parsed.is_ok(), "first errors: {:#?}", parsed.errors);
        let routes = profile_load(&config, &NICS, &parsed);
        println!("{} lines, {routes} FIB routes", parsed.statistics.lines);
        let compiled = route_file::compiled::compile(&text, 10).expect("the table compiles");
        let decoded = profile_decode(&compiled, &options);
        let routes = profile_load(&config, &NICS, &decoded);
        println!("compiled: {} bytes, {routes} FIB routes", compiled.len());
        let opened = profile_open(&compiled, &options);
        let routes = profile_load_compiled(&config, &NICS, &opened);
        println!("compiled, as the appliance loads it: {routes} FIB routes");
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
