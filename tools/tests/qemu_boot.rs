//! Boots the real appliance image under QEMU and talks to it as simulated hosts on its ports.
//!
//! Each test builds the image it needs (quick when it is up to date), boots
//! it with `-netdev dgram` ports bound to unix sockets in a temporary
//! directory, and drives it through those sockets and the serial console.
//! Timeouts are generous and nothing is asserted about timing: the machine
//! running the tests may be a loaded 2-core VM, and q35 may run under TCG.
//! At most [`tools::test_support::CONCURRENT_MACHINES`] machines run at once.

use std::collections::BTreeMap;
use std::net::Ipv6Addr;
use std::time::{Duration, Instant};

use tools::image::Flavor;
use tools::qemu::{
    self, ApplianceExit, Counters, Machine, MachineType, READY_LINE, RunningMachine,
};
use tools::simulated_host::{
    GarbageGenerator, GarbageKind, MacAddress, Retry, SimulatedHost, format_mac,
    link_local_from_mac,
};
use tools::test_support::{MachineSlot, image};

/// How long a boot may take to print the ready line (q35 under TCG is slow).
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the appliance may take to stop.
const EXIT_TIMEOUT: Duration = Duration::from_secs(30);
/// Neighbor Solicitations are sent up to this often, each awaited this long.
const RESOLVE_RETRY: Retry = Retry {
    attempts: 5,
    timeout: Duration::from_secs(3),
};
/// Each Echo Request is sent up to this often, each awaited this long.
const PING_RETRY: Retry = Retry {
    attempts: 3,
    timeout: Duration::from_secs(5),
};
/// Echo Requests per port and check.
const PINGS: u16 = 3;
/// Bad frames sent per boot, spread over the ports.
const GARBAGE_FRAMES: usize = 3000;

/// A running machine and the slot it occupies (the machine is dropped, and killed, first).
struct Appliance {
    machine: RunningMachine,
    _slot: MachineSlot,
}

/// Starts `machine`; panics with QEMU's error if it cannot.
fn start(machine: Machine) -> Appliance {
    let slot = MachineSlot::take();
    let machine = machine
        .start()
        .unwrap_or_else(|error| panic!("cannot start QEMU: {error}"));
    Appliance {
        machine,
        _slot: slot,
    }
}

/// Boots `flavor` on `machine_type` with `ports` ports and the default config, and waits for the ready line.
fn boot(machine_type: MachineType, flavor: Flavor, ports: usize) -> Appliance {
    let appliance = start(
        Machine::new(image(flavor))
            .machine_type(machine_type)
            .ports(ports),
    );
    let ready = appliance
        .machine
        .wait_for_line(READY_LINE, READY_TIMEOUT)
        .unwrap_or_else(|error| panic!("{error}"));
    assert!(
        ready.contains(&format!("({ports} ports)")),
        "ready line {ready:?} does not count {ports} ports"
    );
    appliance
}

/// The simulated host on port `index` (a locally administered MAC of its own).
fn host_on_port(index: usize) -> SimulatedHost {
    SimulatedHost::new([0x02, 0x00, 0x00, 0x00, 0x01, index as u8])
}

/// The router's expected addresses on port `index`: the MAC QEMU gives it and its EUI-64 link-local.
fn router_on_port(index: usize) -> (MacAddress, Ipv6Addr) {
    let mac = qemu::port_mac(index);
    (mac, link_local_from_mac(mac))
}

/// The boot log's line for port `index` names the port's MAC and link-local address.
fn assert_port_line(machine: &RunningMachine, index: usize) {
    let (mac, link_local) = router_on_port(index);
    let prefix = format!("port{index} ");
    let lines = machine.console_lines();
    let line = lines
        .iter()
        .find(|line| line.text.contains(&prefix) && line.text.contains(": mac "))
        .unwrap_or_else(|| {
            panic!(
                "no boot line for port{index}; console:\n{}",
                machine.transcript()
            )
        });
    assert!(
        line.text.contains(&format_mac(mac)),
        "port{index} line lacks its MAC: {}",
        line.text
    );
    assert!(
        line.text.contains(&link_local.to_string()),
        "port{index} line lacks {link_local}: {}",
        line.text
    );
}

/// On every port: resolve the router's link-local address, then ping it.
fn assert_answers_on_every_port(machine: &RunningMachine, phase: &str) {
    for index in 0..machine.port_count() {
        let port = machine.port_socket(index);
        let host = host_on_port(index);
        let (mac, link_local) = router_on_port(index);
        port.drain().expect("port socket");
        let advertisement = host
            .resolve(port, link_local, RESOLVE_RETRY)
            .unwrap_or_else(|error| {
                panic!(
                    "{phase}: port{index}: {error}; console:\n{}",
                    machine.transcript()
                )
            });
        assert_eq!(
            advertisement.target_mac,
            Some(mac),
            "{phase}: port{index}: advertised MAC"
        );
        assert_eq!(
            advertisement.source_mac, mac,
            "{phase}: port{index}: Ethernet source of the advertisement"
        );
        assert!(
            advertisement.solicited,
            "{phase}: port{index}: the advertisement lacks the solicited flag"
        );
        // RFC 4861 §7.2.4: a router sets the Router flag in its advertisements.
        assert!(
            advertisement.router,
            "{phase}: port{index}: the advertisement lacks the router flag"
        );
        let report = host
            .ping(
                port,
                mac,
                link_local,
                0x5000 + index as u16,
                PINGS,
                PING_RETRY,
            )
            .unwrap_or_else(|error| panic!("{phase}: port{index}: {error}"));
        assert!(
            report.missing.is_empty(),
            "{phase}: port{index}: no echo reply for sequence numbers {:?} (last other frame: {:?}); console:\n{}",
            report.missing,
            report.last_refused,
            machine.transcript()
        );
    }
}

/// Counters that count a drop: everything but the frame verdicts and the device's own counters.
fn is_drop_counter(name: &str) -> bool {
    !matches!(name, "received" | "transmitted" | "consumed" | "forwarded")
        && !name.starts_with("device_")
}

fn drop_total(counters: &Counters) -> u64 {
    counters
        .iter()
        .filter(|((_, name), _)| is_drop_counter(name))
        .map(|(_, value)| value)
        .sum()
}

fn counters(machine: &RunningMachine) -> Counters {
    machine.counters().unwrap_or_else(|error| panic!("{error}"))
}

/// Sends [`GARBAGE_FRAMES`] bad frames round-robin over the ports; returns how many of each kind.
fn send_garbage(machine: &RunningMachine, seed: u64) -> BTreeMap<GarbageKind, usize> {
    let mut generators: Vec<GarbageGenerator> = (0..machine.port_count())
        .map(|index| {
            let (mac, link_local) = router_on_port(index);
            GarbageGenerator::new(
                seed ^ (index as u64 + 1),
                host_on_port(index),
                mac,
                link_local,
            )
        })
        .collect();
    let mut sent = BTreeMap::new();
    for number in 0..GARBAGE_FRAMES {
        let index = number % generators.len();
        let (kind, frame) = generators[index].next_frame();
        machine
            .port_socket(index)
            .send(&frame)
            .unwrap_or_else(|error| {
                panic!(
                    "sending garbage frame {number} ({kind:?}): {error}; console:\n{}",
                    machine.transcript()
                )
            });
        *sent.entry(kind).or_insert(0) += 1;
        if number % 256 == 255 {
            for port in machine.port_sockets() {
                port.drain().expect("port socket");
            }
        }
    }
    sent
}

/// The whole check for one machine type and image: answers, garbage, answers again, a clean stop.
fn answers_on_every_port(machine_type: MachineType, flavor: Flavor) {
    const PORTS: usize = 3;
    let started = Instant::now();
    let appliance = boot(machine_type, flavor, PORTS);
    let machine = &appliance.machine;
    for index in 0..PORTS {
        assert_port_line(machine, index);
    }
    assert_answers_on_every_port(machine, "after boot");

    let before = counters(machine);
    let sent = send_garbage(
        machine,
        0x9e37_79b9 ^ ((machine_type as u64) << 8) ^ ((flavor as u64) << 16),
    );
    assert_answers_on_every_port(machine, "after the garbage");
    let after = counters(machine);

    let dropped = drop_total(&after).saturating_sub(drop_total(&before));
    let oversize = sent.get(&GarbageKind::Oversize).copied().unwrap_or(0);
    // Oversize frames may be refused by QEMU's virtio-net before the guest
    // sees them (QEMU 7.2 refuses them all); every other frame reaches the
    // router and must end in a drop counter. The bound leaves room for a
    // future verdict the garbage might legitimately earn.
    let reaching_the_router = GARBAGE_FRAMES - oversize;
    let changed: Vec<String> = after
        .iter()
        .filter(|((_, name), _)| is_drop_counter(name))
        .filter_map(|(key, value)| {
            let earlier = before.get(key).copied().unwrap_or(0);
            (*value != earlier).then(|| format!("{} {} +{}", key.0, key.1, value - earlier))
        })
        .collect();
    eprintln!(
        "{} {}: sent {sent:?}; drop counters +{dropped}: {}",
        machine_type.name(),
        flavor.name(),
        changed.join(", ")
    );
    assert!(
        dropped >= reaching_the_router as u64 * 9 / 10,
        "only {dropped} drops counted for {reaching_the_router} bad frames that reach the router: {changed:?}"
    );
    assert!(
        dropped <= GARBAGE_FRAMES as u64 + 100,
        "{dropped} drops counted for {GARBAGE_FRAMES} bad frames: {changed:?}"
    );

    let exit = machine
        .shutdown(EXIT_TIMEOUT)
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(
        exit,
        ApplianceExit::Clean,
        "console:\n{}",
        machine.transcript()
    );
    eprintln!(
        "{} {}: passed in {:.1} s",
        machine_type.name(),
        flavor.name(),
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn microvm_legacy_ip_answers_on_every_port() {
    answers_on_every_port(MachineType::Microvm, Flavor::LegacyIp);
}

#[test]
fn microvm_ipv6_only_answers_on_every_port() {
    answers_on_every_port(MachineType::Microvm, Flavor::Ipv6Only);
}

#[test]
fn q35_legacy_ip_answers_on_every_port() {
    answers_on_every_port(MachineType::Q35, Flavor::LegacyIp);
}

#[test]
fn q35_ipv6_only_answers_on_every_port() {
    answers_on_every_port(MachineType::Q35, Flavor::Ipv6Only);
}

/// Boots with `config` and expects the appliance to reject it: an error
/// naming `expected_line` and a column, exit status 5, and no ready line.
fn assert_config_rejected(config: &str, expected_line: usize) {
    let appliance = start(
        Machine::new(image(Flavor::LegacyIp))
            .ports(2)
            .config_text(config),
    );
    let machine = &appliance.machine;
    let status = machine
        .wait_for_exit(READY_TIMEOUT)
        .unwrap_or_else(|error| panic!("{error}"));
    let transcript = machine.transcript();
    assert_eq!(
        ApplianceExit::from_status(status),
        ApplianceExit::ConfigurationError,
        "{status}; console:\n{transcript}"
    );
    let lines = machine.console_lines();
    let error = lines
        .iter()
        .find(|line| line.text.contains("ERROR") && line.text.contains("config"))
        .unwrap_or_else(|| panic!("no config error on the console:\n{transcript}"));
    assert!(
        error
            .text
            .contains(&format!("line {expected_line}, column ")),
        "the error does not name line {expected_line} and a column: {:?}",
        error.text
    );
    assert!(
        error.text.contains(qemu::CONFIG_FILE_NAME),
        "the error does not name the file: {:?}",
        error.text
    );
    assert!(
        !transcript.contains(READY_LINE),
        "the appliance became ready with a bad config:\n{transcript}"
    );
}

#[test]
fn config_errors_stop_the_appliance_with_line_and_column() {
    // A name outside [a-z0-9-]: a semantic error found after parsing.
    assert_config_rejected(
        "[[port]]\nname = \"lan0\"\n\n[[port]]\nname = \"Bad Name!\"\n",
        5,
    );
    // A key the config model does not have.
    assert_config_rejected(
        "[router]\nname = \"edge\"\n\n[[port]]\nname = \"lan0\"\ncolour = \"blue\"\n",
        6,
    );
}

#[test]
fn configured_port_names_appear_on_the_console() {
    let config =
        "[router]\nname = \"edge\"\n\n[[port]]\nname = \"lan0\"\n\n[[port]]\nname = \"lan1\"\n";
    let appliance = start(
        Machine::new(image(Flavor::LegacyIp))
            .ports(2)
            .config_text(config),
    );
    let machine = &appliance.machine;
    for (index, name) in ["lan0", "lan1"].into_iter().enumerate() {
        let (mac, _) = router_on_port(index);
        let line = machine
            .wait_for_line(
                &format!("port{index} {name}: mac {}", format_mac(mac)),
                READY_TIMEOUT,
            )
            .unwrap_or_else(|error| panic!("{error}"));
        assert!(line.contains("link up"), "port{index} is not up: {line}");
    }
    machine
        .wait_for_line(READY_LINE, READY_TIMEOUT)
        .unwrap_or_else(|error| panic!("{error}"));
    let ports = machine
        .console_command("ports", |line| line.starts_with("port1 "), READY_TIMEOUT)
        .unwrap_or_else(|error| panic!("{error}"));
    assert!(
        ports.iter().any(|line| line.starts_with("port0 lan0 ")),
        "ports printed {ports:?}"
    );
    assert!(
        ports.iter().any(|line| line.starts_with("port1 lan1 ")),
        "ports printed {ports:?}"
    );
    let counters = counters(machine);
    assert!(
        counters.keys().any(|(port, _)| port == "lan1"),
        "counters do not name lan1: {counters:?}"
    );
    let exit = machine
        .shutdown(EXIT_TIMEOUT)
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(
        exit,
        ApplianceExit::Clean,
        "console:\n{}",
        machine.transcript()
    );
}
