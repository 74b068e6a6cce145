//! The route file with IPv4 lines (legacy-ip): mapped under pool6 through the next-hop table, rejections counted by reason.
#![cfg(feature = "legacy-ip")]

use netstack::route_file::{self, FamilyCounts, Options, RejectReason};
use netstack::translation::route_mapping::{NextHopTable, RouteMapper};

fn options(pool6: &str, next_hops: &str) -> Options {
    let next_hops = NextHopTable::parse(next_hops).expect("next-hop file");
    Options {
        mapper: Some(RouteMapper::new(pool6.parse().unwrap(), next_hops)),
        ..Options::default()
    }
}

const NEXT_HOPS: &str = "192.0.2.1 2001:db8::1\n192.0.2.2 fe80::2 port lan0\n192.0.2.254 local\n";

#[test]
fn both_families_in_one_file() {
    let text = "\
# native
2001:db8::/32 via 2001:db8:ffff::1
blackhole 2001:db8:dead::/48
# mapped
198.51.100.0/24 via 192.0.2.1
203.0.113.0/24 via 192.0.2.2
192.0.2.128/25 via 192.0.2.254
blackhole 198.18.0.0/15
0.0.0.0/0 via 192.0.2.1
# rejected: next hop not in the table
100.64.0.0/10 via 192.0.2.99
2001:db8:64::c633:6500/120 translate via 2001:db8:64::c000:2fe
";
    let parsed = route_file::parse(text, &options("2001:db8:64::/96", NEXT_HOPS));
    assert!(parsed.is_ok(), "{:#?}", parsed.errors);
    let lines: Vec<String> = parsed.routes.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            "2001:db8::/32 via 2001:db8:ffff::1",
            "blackhole 2001:db8:dead::/48",
            "2001:db8:64::c633:6400/120 via 2001:db8::1",
            "2001:db8:64::cb00:7100/120 via fe80::2 port lan0",
            "2001:db8:64::c000:280/121 translate via 2001:db8:64::c000:2fe",
            "blackhole 2001:db8:64::c612:0/111",
            "2001:db8:64::/96 via 2001:db8::1",
            "2001:db8:64::c633:6500/120 translate via 2001:db8:64::c000:2fe",
        ]
    );
    let statistics = parsed.statistics;
    assert_eq!(
        statistics.ipv6,
        FamilyCounts {
            via: 1,
            translate: 1,
            blackhole: 1
        }
    );
    assert_eq!(
        statistics.mapped,
        FamilyCounts {
            via: 3,
            translate: 1,
            blackhole: 1
        }
    );
    assert_eq!(statistics.rejected.get(RejectReason::NextHopNotInTable), 1);
    assert_eq!(statistics.rejected.total(), 1);
}

#[test]
fn the_mapped_file_reads_back_as_the_same_routes() {
    let text = "198.51.100.0/24 via 192.0.2.1\n192.0.2.128/25 via 192.0.2.254\n";
    let options = options("2001:db8:64::/96", NEXT_HOPS);
    let first = route_file::parse(text, &options);
    let written: String = first
        .routes
        .iter()
        .map(|route| format!("{route}\n"))
        .collect();
    let second = route_file::parse(&written, &options);
    assert!(second.is_ok(), "{:#?}", second.errors);
    assert_eq!(first.routes, second.routes);
}

#[test]
fn ipv4_line_errors_are_line_numbered() {
    let text = "\
198.51.100.1/24 via 192.0.2.1
198.51.100.0/33 via 192.0.2.1
198.51.100.0/24 via 2001:db8::1
198.51.100.0/24 via 192.0.2.1 port lan0
198.51.100.0/24 translate via 192.0.2.1
198.51.100.0/24 via 192.0.2.1
198.51.100.0/24 via 192.0.2.254
";
    let parsed = route_file::parse(text, &options("2001:db8:64::/96", NEXT_HOPS));
    let lines: Vec<usize> = parsed.errors.iter().map(|error| error.line).collect();
    assert_eq!(lines, [1, 2, 3, 4, 5, 7], "{:#?}", parsed.errors);
    assert!(parsed.errors[0].message.contains("198.51.100.0/24"));
    assert!(parsed.errors[5].message.contains("duplicate"));
    assert_eq!(parsed.routes.len(), 1);
    assert_eq!(parsed.statistics.mapped.via, 1);
}

#[test]
fn well_known_prefix_rule_in_the_file() {
    let text = "10.0.0.0/8 via 192.0.2.1\n8.8.8.0/24 via 192.0.2.1\n";
    let parsed = route_file::parse(text, &options("64:ff9b::/96", NEXT_HOPS));
    assert!(parsed.is_ok());
    assert_eq!(parsed.routes.len(), 1);
    assert_eq!(
        parsed.routes[0].to_string(),
        "64:ff9b::808:800/120 via 2001:db8::1"
    );
    assert_eq!(
        parsed
            .statistics
            .rejected
            .get(RejectReason::NonGlobalUnderWellKnownPrefix),
        1
    );
}

#[test]
fn translate_gateway_must_be_under_pool6() {
    let parsed = route_file::parse(
        "2001:db8:1::/48 translate via 2001:db8:65::c000:2fe\n",
        &options("2001:db8:64::/96", NEXT_HOPS),
    );
    assert_eq!(parsed.statistics.errors, 1);
    assert!(parsed.errors[0].message.contains("2001:db8:64::/96"));
}
