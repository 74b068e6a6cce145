//! The router's counter names as an interface: unique per port, snake_case, and every capacity-refusal counter the appliance logs exists.
//!
//! Counter names are what operators, the console, `pure6 replay` and the
//! tests read (`netstack::counters` module docs), so two counters under one
//! name would hide one of them (a map keyed by name keeps only the last),
//! and a name in [`CAPACITY_REFUSALS`] that no counter carries would make
//! the kernel's capacity log silently deaf. Checked on a router with every
//! part configured: plain ports, and in `legacy-ip` builds the SIIT uplink
//! with stateful NAT64.

use std::collections::BTreeMap;

use netstack::config;
use netstack::router::{CAPACITY_REFUSALS, NicInfo, PortIndex, Router};

/// Two plain ports.
#[cfg(not(feature = "legacy-ip"))]
const CONFIG: &str = r#"
[[port]]
name = "lan"
addresses = ["2001:db8:1::1/64"]

[[port]]
name = "core"
addresses = ["2001:db8:2::1/64"]
"#;

/// A plain port and an IPv4 uplink with SIIT (an EAM) and stateful NAT64.
#[cfg(feature = "legacy-ip")]
const CONFIG: &str = r#"
[[port]]
name = "lan"
addresses = ["2001:db8:1::1/64"]

[[port]]
name = "uplink"
[port.ipv4]
address = "192.0.2.1/24"
gateway = "192.0.2.254"

[translation]
pool6 = "2001:db8:64::/96"
[[translation.eam]]
ipv4 = "198.51.100.0/28"
ipv6 = "2001:db8:1::100/124"

[nat64]
pool4 = [{ prefix = "192.0.2.1", tcp = "1024-65535", udp = "1024-65535", icmp = "1-65535" }]
"#;

fn router() -> Router {
    let config = config::parse(CONFIG).expect("the test config parses");
    let nics: Vec<NicInfo> = (0..2u8)
        .map(|index| NicInfo {
            mac: [0x52, 0x54, 0, 0, 0, 0x10 + index],
        })
        .collect();
    Router::with_seed(&config, &nics, 7).expect("the test router builds")
}

#[test]
fn every_counter_name_is_unique_on_its_port_and_snake_case() {
    let router = router();
    for port in [PortIndex(0), PortIndex(1)] {
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for (name, _) in router.counters(port) {
            *seen.entry(name).or_default() += 1;
            assert!(
                !name.is_empty()
                    && name.bytes().all(|byte| byte.is_ascii_lowercase()
                        || byte.is_ascii_digit()
                        || byte == b'_'),
                "counter {name:?} on port {} is not snake_case",
                port.0
            );
        }
        let repeated: Vec<(&str, usize)> =
            seen.into_iter().filter(|(_, count)| *count > 1).collect();
        assert!(
            repeated.is_empty(),
            "port {} lists these counter names more than once: {repeated:?}",
            port.0
        );
    }
}

#[test]
fn every_capacity_refusal_names_a_counter_of_every_port_that_can_refuse() {
    let router = router();
    let names_of = |port: PortIndex| -> Vec<&'static str> {
        router.counters(port).map(|(name, _)| name).collect()
    };
    let lan = names_of(PortIndex(0));
    let other = names_of(PortIndex(1));
    for name in CAPACITY_REFUSALS {
        assert!(
            lan.contains(name) || other.contains(name),
            "{name} is in CAPACITY_REFUSALS but no port has a counter of that name"
        );
    }
    // `capacity_refusals` lists exactly those counters, every port's, in a
    // stable order (the kernel pairs its values with the last report's by
    // position).
    let listed: Vec<(usize, &str)> = router
        .capacity_refusals()
        .map(|(port, name, _)| (port.0, name))
        .collect();
    let expected: Vec<(usize, &str)> = [(0, &lan), (1, &other)]
        .into_iter()
        .flat_map(|(port, names)| {
            names
                .iter()
                .filter(|name| CAPACITY_REFUSALS.contains(name))
                .map(move |name| (port, *name))
        })
        .collect();
    assert_eq!(listed, expected);
    assert_eq!(
        router.capacity_refusals().collect::<Vec<_>>(),
        router.capacity_refusals().collect::<Vec<_>>()
    );
    assert!(router.capacity_refusals().all(|(_, _, value)| value == 0));
}
