//! Compiled route files (`netstack::route_file::compiled`): they decode to what the text parser gives for the same text, whatever the config, and a damaged file is refused whole, never a panic.
#![cfg(feature = "legacy-ip")]

use netstack::route_file::compiled::{self, CompileError, MAGIC, VERSION};
use netstack::route_file::{self, NextHop, Options, Parsed};
use netstack::translation::address_mapping::TranslationPrefix;
use netstack::translation::route_mapping::{NextHopTable, RouteMapper};
use smoltcp::wire::Ipv6Cidr;

/// Every kind of line the text format has, both families.
const TEXT: &str = "\
# both families
2001:db8::/32 via 2001:db8:ffff::1
2001:db8:1::/48 via fe80::1 port lan0
blackhole 2001:db8:dead::/48
::/0 via 2001:db8:ffff::2
2001:db8:64::c000:200/120 translate via 2001:db8:64::c000:2fe
198.51.100.0/24 via 192.0.2.1
203.0.113.0/25 via 192.0.2.1
203.0.113.128/25 via 192.0.2.254
blackhole 192.0.2.128/25
0.0.0.0/0 via 192.0.2.9
10.0.0.0/8 via 192.0.2.1
8.8.8.0/24 via 192.0.2.1
";

/// The options of a config with this pool6 and next-hop table.
fn options(pool6: &str, next_hops: &str, well_known_rule: bool) -> Options {
    let (address, length) = pool6.split_once('/').unwrap();
    let pool6 = TranslationPrefix::new(Ipv6Cidr::new(
        address.parse().unwrap(),
        length.parse().unwrap(),
    ))
    .unwrap();
    let mut mapper = RouteMapper::new(pool6, NextHopTable::parse(next_hops).unwrap());
    if !well_known_rule {
        mapper = mapper.without_well_known_prefix_rule();
    }
    Options {
        mapper: Some(mapper),
        ..Options::default()
    }
}

/// Configs that map the same file differently.
fn configs() -> Vec<Options> {
    vec![
        options(
            "2001:db8:64::/96",
            "192.0.2.1 2001:db8::1\n192.0.2.254 local\n",
            true,
        ),
        // The well-known prefix rejects 10.0.0.0/8 (RFC 6052 §3.1).
        options(
            "64:ff9b::/96",
            "192.0.2.1 2001:db8::1\n192.0.2.9 fe80::9 port lan0\n",
            true,
        ),
        options("64:ff9b::/96", "192.0.2.1 2001:db8::1\n", false),
        // A /40: mapped routes are ordinary IPv6 routes (u octet skipped).
        options(
            "2001:db8:100::/40",
            "192.0.2.1 2001:db8::1\n192.0.2.254 local\n",
            true,
        ),
        // No translation: IPv4 routes and `translate via` are malformed.
        Options::default(),
    ]
}

/// A parse's routes as comparable tuples (mapped or not, prefix bits,
/// length, next hop), in the parse's order.
fn routes_as_decoded(parsed: &Parsed) -> Vec<(bool, u128, u8, NextHop)> {
    parsed
        .routes
        .iter()
        .zip(&parsed.mapped)
        .map(|(route, mapped)| {
            (
                *mapped,
                route.prefix.address().to_bits(),
                route.prefix.prefix_len(),
                route.next_hop,
            )
        })
        .collect()
}

/// The same tuples in the order of a compiled file: IPv6 first, then
/// mapped, each in ascending order.
fn routes_in_compiled_order(parsed: &Parsed) -> Vec<(bool, u128, u8, NextHop)> {
    let mut routes = routes_as_decoded(parsed);
    routes.sort_by_key(|route| (route.0, route.1, route.2));
    routes
}

/// The text and its compiled form agree under `options`: same routes,
/// same counts (rejections and malformed routes included).
fn assert_same(text: &str, options: &Options) {
    let parsed = route_file::parse(text, options);
    let bytes = compiled::compile(text, 100).expect("the text compiles");
    assert!(compiled::is_compiled(&bytes));
    let decoded = compiled::decode(&bytes, options).expect("the compiled file decodes");
    assert_eq!(
        routes_as_decoded(&decoded),
        routes_in_compiled_order(&parsed)
    );
    assert_eq!(decoded.statistics, parsed.statistics, "counts");
}

#[test]
fn every_kind_of_line_decodes_as_the_text_parses_under_every_config() {
    for options in configs() {
        assert_same(TEXT, &options);
    }
}

#[test]
fn the_first_config_maps_and_rejects_as_expected() {
    let options = &configs()[0];
    let decoded =
        compiled::decode(&compiled::compile(TEXT, 100).unwrap(), options).expect("decodes");
    let statistics = decoded.statistics;
    assert_eq!(statistics.lines, TEXT.lines().count());
    assert_eq!(
        (
            statistics.ipv6.via,
            statistics.ipv6.translate,
            statistics.ipv6.blackhole
        ),
        (3, 1, 1)
    );
    // 192.0.2.9 is not in the table; 192.0.2.254 is the local translator.
    assert_eq!(statistics.rejected.next_hop_not_in_table, 1);
    assert_eq!(
        (
            statistics.mapped.via,
            statistics.mapped.translate,
            statistics.mapped.blackhole
        ),
        (4, 1, 1)
    );
    assert_eq!(statistics.errors, 0);
    let design = decoded
        .routes
        .iter()
        .find(|route| route.prefix.to_string() == "2001:db8:64::c633:6400/120")
        .expect("198.51.100.0/24 is mapped (RFC 6052 §2.2)");
    assert_eq!(
        design.next_hop,
        NextHop::Via {
            address: "2001:db8::1".parse().unwrap(),
            port: None
        }
    );
}

#[test]
fn config_mismatches_are_malformed_routes_with_messages() {
    // pool6 elsewhere: the `translate via` gateway is not under it.
    let options = options("2001:db8:999::/96", "192.0.2.1 2001:db8::1\n", true);
    let decoded = compiled::decode(&compiled::compile(TEXT, 100).unwrap(), &options).unwrap();
    assert_eq!(decoded.statistics.errors, 1);
    assert_eq!(decoded.errors.len(), 1);
    assert!(
        decoded.errors[0]
            .to_string()
            .contains("translate via 2001:db8:64::c000:2fe"),
        "{}",
        decoded.errors[0]
    );
    // No translation at all: the IPv4 routes are counted, one message.
    let decoded =
        compiled::decode(&compiled::compile(TEXT, 100).unwrap(), &Options::default()).unwrap();
    assert_eq!(decoded.statistics.errors, 1 + 7);
    assert!(
        decoded
            .errors
            .iter()
            .any(|error| error.to_string().starts_with("7 IPv4 routes need"))
    );
    // An IPv4 route that maps onto an IPv6 route of the file.
    let text = "2001:db8:64::c633:6400/120 via 2001:db8::5\n198.51.100.0/24 via 192.0.2.1\n";
    let options = configs().remove(0);
    assert_same(text, &options);
    let decoded = compiled::decode(&compiled::compile(text, 100).unwrap(), &options).unwrap();
    assert_eq!(decoded.statistics.errors, 1);
    assert_eq!(decoded.routes.len(), 1);
}

#[test]
fn malformed_text_does_not_compile() {
    let text = "2001:db8::/32 via 2001:db8::1\n2001:db8::1/32 via 2001:db8::1\n2001:db8::/32 via 2001:db8::2\n";
    match compiled::compile(text, 100) {
        Err(CompileError::Malformed {
            errors,
            count,
            lines,
        }) => {
            assert_eq!((count, lines), (2, 3));
            assert_eq!(errors[0].line, 2);
        }
        other => panic!("expected the malformed lines, got {other:?}"),
    }
}

/// A small valid compiled file.
fn sample() -> Vec<u8> {
    compiled::compile(TEXT, 100).unwrap()
}

#[test]
fn header_and_layout_follow_the_documented_format() {
    let bytes = sample();
    assert_eq!(bytes[..8], MAGIC);
    assert_eq!(
        u32::from_le_bytes(bytes[8..12].try_into().unwrap()),
        VERSION
    );
    let word =
        |offset: usize| u32::from_le_bytes(bytes[offset..offset + 4].try_into().unwrap()) as usize;
    let (next_hops, ipv6, ipv4) = (word(12), word(16), word(20));
    assert_eq!((ipv6, ipv4), (5, 7));
    assert_eq!(word(24), TEXT.lines().count());
    assert_eq!(bytes.len(), 32 + 40 * next_hops + 20 * ipv6 + 8 * ipv4);
    // The first IPv6 route is ::/0 (ascending order).
    let first_route = 32 + 40 * next_hops;
    assert_eq!(bytes[first_route..first_route + 18], [0; 18]);
}

#[test]
fn damaged_files_are_refused_whole() {
    let options = &configs()[0];
    let bytes = sample();
    let refuse = |bytes: &[u8], what: &str| {
        let error = compiled::decode(bytes, options).expect_err(what);
        assert!(
            error
                .to_string()
                .starts_with("not a valid compiled route file: "),
            "{error}"
        );
        error.to_string()
    };
    refuse(&bytes[..31], "short header");
    refuse(&bytes[..bytes.len() - 1], "truncated");
    let mut longer = bytes.clone();
    longer.push(0);
    refuse(&longer, "trailing byte");
    let mut version = bytes.clone();
    version[8] = 2;
    assert!(refuse(&version, "version").contains("format version 2"));
    let word =
        |offset: usize| u32::from_le_bytes(bytes[offset..offset + 4].try_into().unwrap()) as usize;
    let first_ipv6 = 32 + 40 * word(12);
    let first_ipv4 = first_ipv6 + 20 * word(16);
    // Two IPv6 routes swapped: out of order.
    let mut swapped = bytes.clone();
    let (first, second) = swapped[first_ipv6..first_ipv6 + 40].split_at_mut(20);
    first.swap_with_slice(second);
    assert!(refuse(&swapped, "unsorted").contains("IPv6 route 1: not in strictly ascending order"));
    // Host bits on an IPv4 route.
    let mut host_bits = bytes.clone();
    host_bits[first_ipv4 + 3] |= 1;
    refuse(&host_bits, "host bits");
    // A next hop index beyond the table.
    let mut index = bytes.clone();
    index[first_ipv6 + 18] = 0xff;
    index[first_ipv6 + 19] = 0xff;
    assert!(refuse(&index, "index").contains("beyond the next hops"));
    // An unknown next-hop kind.
    let mut kind = bytes.clone();
    kind[32] = 9;
    assert!(refuse(&kind, "kind").contains("unknown kind 9"));
}

#[test]
fn every_single_byte_change_decodes_or_is_refused_without_panicking() {
    let bytes = sample();
    let options = configs();
    let mut decoded = 0;
    for offset in 0..bytes.len() {
        for value in [0u8, 1, 0x7f, 0x80, 0xff, bytes[offset] ^ 0x10] {
            let mut changed = bytes.clone();
            changed[offset] = value;
            for options in &options {
                let one_pass = compiled::CompiledRoutes::open_header(&changed, options)
                    .and_then(|routes| routes.read_routes(&mut |_, _| {}));
                match compiled::decode(&changed, options) {
                    Ok(parsed) => {
                        decoded += 1;
                        assert_eq!(parsed.routes.len(), parsed.mapped.len());
                        // The appliance's one pass accepts the same files
                        // with the same report.
                        let report = one_pass.expect("decode accepted it");
                        assert_eq!(report.statistics, parsed.statistics);
                        assert_eq!(report.errors, parsed.errors);
                    }
                    Err(error) => assert_eq!(one_pass.err(), Some(error)),
                }
            }
        }
    }
    assert!(
        decoded > 0,
        "some changes (an address, a next hop) keep the file valid"
    );
    for length in 0..bytes.len() {
        for options in &options {
            assert!(
                compiled::decode(&bytes[..length], options).is_err(),
                "truncated to {length}"
            );
        }
    }
}

/// xorshift64*, seeded.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}

/// A random well-formed route file of `lines` lines, both families.
fn random_text(random: &mut Random, lines: usize) -> String {
    let ipv6_next_hops = [
        "2001:db8:ffff::1",
        "2001:db8:ffff::2",
        "fe80::1 port lan0",
        "fe80::2 port wan-1",
    ];
    let ipv4_gateways = ["192.0.2.1", "192.0.2.254", "192.0.2.77", "198.51.100.1"];
    let mut seen = std::collections::HashSet::new();
    let mut text = String::new();
    while seen.len() < lines {
        let ipv4 = random.below(2) == 0;
        let blackhole = random.below(8) == 0;
        let line = if ipv4 {
            let length = random.below(33) as u8;
            let mask = if length == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(length))
            };
            let network = std::net::Ipv4Addr::from_bits(random.next() as u32 & mask);
            if !seen.insert((true, u128::from(network.to_bits()), length)) {
                continue;
            }
            if blackhole {
                format!("blackhole {network}/{length}")
            } else {
                format!(
                    "{network}/{length} via {}",
                    ipv4_gateways[random.below(4) as usize]
                )
            }
        } else {
            let length = random.below(129) as u8;
            let mask = if length == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(length))
            };
            let bits = (u128::from(random.next()) << 64 | u128::from(random.next())) & mask;
            if !seen.insert((false, bits, length)) {
                continue;
            }
            let network = std::net::Ipv6Addr::from_bits(bits);
            match random.below(10) {
                0 => format!("blackhole {network}/{length}"),
                1 => format!(
                    "{network}/{length} translate via 2001:db8:64::c000:{:x}",
                    random.below(0xffff)
                ),
                _ => format!(
                    "{network}/{length} via {}",
                    ipv6_next_hops[random.below(4) as usize]
                ),
            }
        };
        text.push_str(&line);
        text.push('\n');
    }
    text
}

#[test]
fn random_files_decode_as_their_text_parses() {
    let mut random = Random(0x0c0f_fee5);
    let options = configs();
    for round in 0..40 {
        let text = random_text(&mut random, 1 + round * 25);
        for options in &options {
            assert_same(&text, options);
        }
    }
}

#[test]
fn routes_read_one_by_one_are_those_decode_gives_and_load_the_same_router() {
    let mut random = Random(0xfeed_f00d);
    let text = random_text(&mut random, 300);
    let bytes = compiled::compile(&text, 100).unwrap();
    for options in configs() {
        let decoded = compiled::decode(&bytes, &options).unwrap();
        let routes = compiled::CompiledRoutes::open(&bytes, &options).unwrap();
        assert_eq!(routes.report().statistics, decoded.statistics);
        assert_eq!(routes.report().errors, decoded.errors);
        assert!(routes.report().routes.is_empty());
        assert!(routes.route_count() >= decoded.routes.len());
        // One pass from the header alone: the same routes, the same report.
        let header_only = compiled::CompiledRoutes::open_header(&bytes, &options).unwrap();
        let mut read = Vec::new();
        let report = header_only
            .read_routes(&mut |route, mapped| read.push((route, mapped)))
            .unwrap();
        assert_eq!(report.statistics, decoded.statistics);
        assert_eq!(report.errors, decoded.errors);
        assert_eq!(read.len(), decoded.routes.len());
        let mut one_by_one = Vec::new();
        routes
            .read_routes(&mut |route, mapped| one_by_one.push((route, mapped)))
            .unwrap();
        let expected: Vec<_> = decoded
            .routes
            .iter()
            .copied()
            .zip(decoded.mapped.iter().copied())
            .collect();
        assert_eq!(one_by_one, expected);
    }
    // Loaded into a router: the same summary and the same FIB.
    let config = router_config();
    let options = config.route_file_options();
    let nics = two_nics();
    let decoded = compiled::decode(&bytes, &options).unwrap();
    let (from_decoded, summary) =
        netstack::router::Router::with_seed_and_routes(&config, &nics, 7, &decoded).unwrap();
    let routes = compiled::CompiledRoutes::open_header(&bytes, &options).unwrap();
    let (from_records, records_summary, report) =
        netstack::router::Router::with_seed_and_compiled_routes(&config, &nics, 7, &routes)
            .unwrap();
    assert_eq!(records_summary.to_string(), summary.to_string());
    assert_eq!(records_summary, summary);
    assert_eq!(report.statistics, decoded.statistics);
    assert_eq!(report.errors, decoded.errors);
    assert!(summary.fib_routes > 100, "{summary}");
    let mut probe = Random(0x0b5e_55ed);
    for _ in 0..2000 {
        let destination = std::net::Ipv6Addr::from_bits(
            (u128::from(probe.next()) << 64 | u128::from(probe.next())) >> (probe.below(4) * 8),
        );
        assert_eq!(
            from_records.fib().lookup(destination),
            from_decoded.fib().lookup(destination),
            "{destination}"
        );
    }
}

/// The config of the router-level tests (pool6 a documentation /96).
fn router_config() -> netstack::config::Config {
    netstack::config::parse(
        r#"
[[port]]
name = "lan0"
addresses = ["2001:db8:ffff::10/64"]

[[port]]
name = "wan-1"
addresses = ["2001:db8:2::1/64"]

[translation]
pool6 = "2001:db8:64::/96"

[[translation.next_hop]]
ipv4 = "192.0.2.1"
via = "2001:db8:ffff::1"
"#,
    )
    .expect("the config parses")
}

/// The two NICs of the router-level tests.
fn two_nics() -> [netstack::router::NicInfo; 2] {
    [
        netstack::router::NicInfo {
            mac: [2, 0, 0, 0, 0, 1],
        },
        netstack::router::NicInfo {
            mac: [2, 0, 0, 0, 0, 2],
        },
    ]
}

#[test]
fn a_record_that_breaks_the_format_refuses_the_one_pass_load() {
    // The appliance opens a compiled file from its header and checks the
    // records while loading them: a bad record late in the file refuses
    // the file whole, with the error `decode` gives, and no router.
    let config = router_config();
    let options = config.route_file_options();
    let mut random = Random(0x0dd_ba11);
    let mut bytes = compiled::compile(&random_text(&mut random, 300), 100).unwrap();
    let word = |bytes: &[u8], offset: usize| {
        u32::from_le_bytes(bytes[offset..offset + 4].try_into().unwrap()) as usize
    };
    let first_ipv4 = 32 + 40 * word(&bytes, 12) + 20 * word(&bytes, 16);
    let ipv4_routes = word(&bytes, 20);
    assert!(ipv4_routes > 10, "the random file has IPv4 routes");
    // Nonzero padding in the last IPv4 record.
    let last = first_ipv4 + 8 * (ipv4_routes - 1);
    bytes[last + 5] = 1;
    let expected = compiled::decode(&bytes, &options).expect_err("padding");
    let routes = compiled::CompiledRoutes::open_header(&bytes, &options)
        .expect("the header and next hops are sound");
    match netstack::router::Router::with_seed_and_compiled_routes(&config, &two_nics(), 7, &routes)
    {
        Err(netstack::router::CompiledLoadError::File(error)) => {
            assert_eq!(error, expected);
            assert!(
                error
                    .to_string()
                    .contains(&format!("IPv4 route {}: nonzero padding", ipv4_routes - 1)),
                "{error}"
            );
        }
        Err(other) => panic!("refused for the wrong reason: {other}"),
        Ok(_) => panic!("a damaged file was loaded"),
    }
}
