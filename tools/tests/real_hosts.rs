//! Real Linux hosts around the appliance: two network namespaces autoconfigure from pure6's Router Advertisements and talk through it.
//!
//! Each test builds a [`Topology`] (a namespace for QEMU with one tap and one
//! bridge per port, and a namespace per host with a veth to that bridge),
//! boots the real image in it with the configuration of [`config`] (a /64
//! under 2001:db8::/32 and Router Advertisements on `lan0` and `lan1`), and
//! then runs ordinary Linux tools in the hosts: `ping`, `tracepath`,
//! `iperf3`, `curl` against `python3 -m http.server`. Everything is removed
//! when the topology is dropped, also when a test fails.
//!
//! These tests need root (network namespaces, taps) and the tools of
//! [`setup::ensure_host_tools`], which installs them as root. Without root,
//! or when a tool cannot be installed, they fail with a message saying
//! what is missing; they never skip. One topology runs at a time, every
//! command and wait is bounded, and nothing is asserted about timing (the
//! appliance runs under TCG on a loaded 2-core VM).

use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use tools::image::{self, Flavor};
use tools::qemu::{self, Machine, MachineType, READY_LINE};
use tools::setup;
use tools::simulated_host::link_local_from_mac;
use tools::topology::{self, Host, Topology};

/// How long the appliance may take to print its ready line.
const READY_TIMEOUT: Duration = Duration::from_secs(90);
/// How long a host may take to get a link-local address through DAD.
const LINK_LOCAL_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a host may take to autoconfigure from Router Advertisements
/// (the first unsolicited ones may be 16 s apart, RFC 4861 §6.2.4).
const AUTOCONFIGURATION_TIMEOUT: Duration = Duration::from_secs(90);
/// How long one ordinary command (ping, tracepath, ip) may run.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a server may take to start listening.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(60);
/// How long one download or transfer may take before the client gives up.
const TRANSFER_SECONDS: u32 = 240;
/// The size of the file downloaded over HTTP.
const DOWNLOAD_BYTES: usize = 4 * 1024 * 1024;
/// The port `python3 -m http.server` listens on.
const HTTP_PORT: u16 = 8080;
/// The port `iperf3 -s` listens on.
const IPERF_PORT: u16 = 5201;
/// The MTU of `lan1` (and host b's link) in the Packet Too Big test.
const SMALL_MTU: u16 = 1280;

/// The appliance's port addresses, each in its port's /64.
const LAN0_ADDRESS: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x1, 0, 0, 0, 0, 1);
const LAN1_ADDRESS: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x2, 0, 0, 0, 0, 1);

/// pure6's configuration: `lan0` (host a) and `lan1` (host b), each with a
/// global /64 it advertises, and `lan1`'s MTU.
fn config(lan1_mtu: u16) -> String {
    // A short advertisement interval gets hosts going soon even if they miss
    // the answer to their solicitation; the long router lifetime keeps the
    // default route while a loaded TCG guest is late with an advertisement.
    format!(
        r#"[router]
name = "pure6-hosts"

[[port]]
name = "lan0"
addresses = ["{LAN0_ADDRESS}/64"]

[port.router_advertisements]
enabled = true
max_interval_seconds = 10
router_lifetime_seconds = 1800

[[port]]
name = "lan1"
mtu = {lan1_mtu}
addresses = ["{LAN1_ADDRESS}/64"]

[port.router_advertisements]
enabled = true
max_interval_seconds = 10
router_lifetime_seconds = 1800
"#
    )
}

/// The appliance's link-local address on port `index` (EUI-64 from the MAC QEMU gives it).
fn router_link_local(index: usize) -> Ipv6Addr {
    link_local_from_mac(qemu::port_mac(index))
}

/// Every address of the appliance in [`config`].
fn router_addresses() -> [Ipv6Addr; 4] {
    [
        LAN0_ADDRESS,
        LAN1_ADDRESS,
        router_link_local(0),
        router_link_local(1),
    ]
}

/// Whether `address` is in the /64 of `prefix_address`.
fn in_slash_64(address: Ipv6Addr, prefix_address: Ipv6Addr) -> bool {
    address.segments()[..4] == prefix_address.segments()[..4]
}

/// Builds the image once per test process.
fn image() -> PathBuf {
    static IMAGE: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    IMAGE
        .get_or_init(|| image::build(Flavor::LegacyIp))
        .clone()
        .unwrap_or_else(|error| panic!("building the image failed: {error}"))
}

/// One topology at a time (the appliance runs under TCG on 2 cores).
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// A topology and the turn it holds; the topology is dropped (torn down) first.
struct Lab {
    topology: Topology,
    _turn: MutexGuard<'static, ()>,
}

impl Lab {
    /// Panics with `context`, `error` and the topology's state.
    fn fail(&self, context: &str, error: impl std::fmt::Display) -> ! {
        panic!(
            "{context}: {error}\n--- topology state ---\n{}",
            self.topology.diagnostics()
        )
    }

    fn host(&self, name: &str) -> &Host {
        self.topology.host(name)
    }

    /// Runs `command` in `host`, requiring success; returns stdout.
    fn run(&self, host: &str, command: &[&str], timeout: Duration) -> String {
        self.host(host)
            .run(command, timeout)
            .unwrap_or_else(|error| self.fail(&format!("in host {host}"), error))
    }
}

/// Checks the environment (root, tools, QEMU), takes the turn, builds hosts
/// `a` (port 0) and `b` (port 1), and boots the appliance with `config_text`
/// (`None`: the embedded default) until it is ready.
fn start_lab(config_text: Option<String>) -> Lab {
    topology::require_root().unwrap_or_else(|error| panic!("{error}"));
    setup::ensure_host_tools().unwrap_or_else(|error| panic!("missing host tools: {error}"));
    setup::ensure_qemu().unwrap_or_else(|error| panic!("missing QEMU: {error}"));
    let image = image();
    let turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut topology = Topology::build(&["a", "b"])
        .unwrap_or_else(|error| panic!("cannot build the topology: {error}"));
    let mut machine = Machine::new(image).machine_type(MachineType::Microvm);
    if let Some(text) = config_text {
        machine = machine.config_text(text);
    }
    if let Err(error) = topology.start_appliance(machine) {
        panic!("cannot start the appliance: {error}");
    }
    let lab = Lab {
        topology,
        _turn: turn,
    };
    let appliance = lab.topology.appliance().expect("started above");
    if let Err(error) = appliance.wait_for_line(READY_LINE, READY_TIMEOUT) {
        lab.fail("the appliance did not become ready", error);
    }
    lab
}

/// Starts the lab with [`config`] and waits until both hosts have a global
/// address in their port's prefix and pure6's link-local address as their
/// default router; returns the addresses of a and b.
fn autoconfigured_lab(lan1_mtu: u16) -> (Lab, Ipv6Addr, Ipv6Addr) {
    let lab = start_lab(Some(config(lan1_mtu)));
    let mut addresses = Vec::new();
    for (name, prefix) in [("a", LAN0_ADDRESS), ("b", LAN1_ADDRESS)] {
        let host = lab.host(name);
        let address = host
            .wait_for_global_address(AUTOCONFIGURATION_TIMEOUT)
            .unwrap_or_else(|error| {
                lab.fail(
                    &format!("host {name} did not autoconfigure (does pure6 send Router Advertisements with its prefix?)"),
                    error,
                )
            });
        if !in_slash_64(address, prefix) {
            lab.fail(
                &format!("host {name} autoconfigured {address}"),
                format!("expected an address in {prefix}/64"),
            );
        }
        let router = host
            .wait_for_default_router(AUTOCONFIGURATION_TIMEOUT)
            .unwrap_or_else(|error| {
                lab.fail(
                    &format!(
                        "host {name} has no default route (does pure6 advertise a router lifetime?)"
                    ),
                    error,
                )
            });
        let expected = router_link_local(host.port());
        if router != expected {
            lab.fail(
                &format!("host {name}'s default router is {router}"),
                format!("expected pure6's link-local address {expected}"),
            );
        }
        eprintln!("host {name}: {address}, default router {router}");
        addresses.push(address);
    }
    (lab, addresses[0], addresses[1])
}

/// `count` bytes that are not all alike (a linear congruential sequence).
fn test_bytes(count: usize) -> Vec<u8> {
    let mut state: u32 = 0x2001_0db8;
    (0..count)
        .map(|_| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 24) as u8
        })
        .collect()
}

/// Serves a [`DOWNLOAD_BYTES`] file from `server` over HTTP and downloads it
/// with curl in `client`; panics unless the copy arrives intact.
fn download(lab: &Lab, server: &str, server_address: Ipv6Addr, client: &str) {
    let directory = lab
        .topology
        .scratch_directory()
        .join(format!("www-{server}"));
    std::fs::create_dir_all(&directory).expect("the scratch directory is writable");
    let content = test_bytes(DOWNLOAD_BYTES);
    std::fs::write(directory.join("big.bin"), &content).expect("the scratch directory is writable");
    let server_host = lab.host(server);
    let mut http = server_host
        .spawn(&[
            "python3",
            "-m",
            "http.server",
            &HTTP_PORT.to_string(),
            "--bind",
            &server_address.to_string(),
            "--directory",
            &directory.to_string_lossy(),
        ])
        .unwrap_or_else(|error| lab.fail("cannot start the HTTP server", error));
    if let Err(error) = server_host.wait_for_tcp_listener(HTTP_PORT, LISTEN_TIMEOUT) {
        lab.fail(
            &format!(
                "the HTTP server in {server} did not listen; its output:\n{}",
                http.log()
            ),
            error,
        );
    }
    let copy = lab
        .topology
        .scratch_directory()
        .join(format!("{client}-from-{server}.bin"));
    let url = format!("http://[{server_address}]:{HTTP_PORT}/big.bin");
    let output = lab
        .host(client)
        .exec(
            &[
                "curl",
                "-6",
                "--globoff",
                "--silent",
                "--show-error",
                "--fail",
                "--connect-timeout",
                "60",
                "--max-time",
                &TRANSFER_SECONDS.to_string(),
                "--output",
                &copy.to_string_lossy(),
                &url,
            ],
            Duration::from_secs(u64::from(TRANSFER_SECONDS) + 30),
        )
        .unwrap_or_else(|error| lab.fail("curl did not finish", error));
    if !output.status.success() {
        let counters = lab
            .topology
            .appliance()
            .and_then(|appliance| appliance.counters().ok())
            .map(|counters| format!("{counters:?}"))
            .unwrap_or_default();
        lab.fail(
            &format!("curl {url} in {client} failed ({})", output.status),
            format!(
                "{}\nserver output:\n{}\npure6 counters: {counters}",
                String::from_utf8_lossy(&output.stderr),
                http.log()
            ),
        );
    }
    let received = std::fs::read(&copy).unwrap_or_default();
    assert!(
        received == content,
        "the download from {server} to {client} is {} bytes and differs from the {} served",
        received.len(),
        content.len()
    );
    http.kill();
}

/// Prints pure6's counters whose name contains `filter` (for the test log).
fn log_counters(lab: &Lab, filter: &str) {
    if let Some(appliance) = lab.topology.appliance() {
        match appliance.counters() {
            Ok(counters) => {
                for ((port, name), value) in counters {
                    if name.contains(filter) {
                        eprintln!("pure6 counter {port} {name} {value}");
                    }
                }
            }
            Err(error) => eprintln!("cannot read pure6's counters: {error}"),
        }
    }
}

/// The first hop `tracepath -n` printed: the address on its line ` 1:  ADDRESS ...`.
fn first_hop(tracepath_output: &str) -> Option<Ipv6Addr> {
    tracepath_output.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        (words.next()? == "1:")
            .then(|| words.next())
            .flatten()?
            .parse()
            .ok()
    })
}

/// Whether `ip -o addr show` output in the router namespace carries any address.
fn has_addresses(ip_addr_output: &str) -> bool {
    ip_addr_output
        .lines()
        .any(|line| line.contains(" inet ") || line.contains(" inet6 "))
}

#[test]
fn host_tools_are_present_or_installed() {
    setup::ensure_host_tools().unwrap_or_else(|error| panic!("{error}"));
}

#[test]
fn the_test_configuration_is_accepted() {
    for mtu in [1500, SMALL_MTU] {
        if let Err(error) = netstack::config::parse(&config(mtu)) {
            panic!(
                "the test configuration is rejected: {error}\n{}",
                config(mtu)
            );
        }
    }
}

#[test]
fn helpers_parse_what_the_tools_print() {
    let output = "tracepath to 2001:db8:2::5 (1 hops max)\n 1?: [LOCALHOST]                        0.010ms pmtu 1500\n 1:  2001:db8:1::1                                         0.412ms \n 2:  2001:db8:2::5                                         0.890ms reached\n";
    assert_eq!(first_hop(output), Some(LAN0_ADDRESS));
    assert_eq!(first_hop(" 1:  no reply\n"), None);
    assert!(!has_addresses(""));
    assert!(has_addresses(
        "3: br0    inet6 fe80::1/64 scope link \\       valid_lft forever"
    ));
    assert!(in_slash_64(
        "2001:db8:1::abcd".parse().unwrap(),
        LAN0_ADDRESS
    ));
    assert!(!in_slash_64(
        "2001:db8:2::abcd".parse().unwrap(),
        LAN0_ADDRESS
    ));
    let bytes = test_bytes(1000);
    assert_ne!(bytes[0..8], bytes[8..16]);
}

/// Needs only what the router already does (answer Neighbor Solicitations
/// and Echo Requests to its link-local address): proves the taps, bridges
/// and veths carry frames both ways and that the router namespace stays bare.
#[test]
fn hosts_reach_the_appliance_link_local_address_through_the_taps() {
    let lab = start_lab(None);
    let router_namespace = lab.topology.router_namespace().to_string();
    let mut command = std::process::Command::new("ip");
    command.args(["-n", &router_namespace, "-o", "addr", "show"]);
    let addresses = command.output().expect("ip runs").stdout;
    let addresses = String::from_utf8_lossy(&addresses);
    assert!(
        !has_addresses(&addresses),
        "the router namespace has addresses:\n{addresses}"
    );
    for name in ["a", "b"] {
        let host = lab.host(name);
        if let Err(error) = host.wait_for_link_local_address(LINK_LOCAL_TIMEOUT) {
            lab.fail(&format!("host {name} has no link-local address"), error);
        }
        let target = format!("{}%{}", router_link_local(host.port()), host.link());
        lab.run(
            name,
            &["ping", "-6", "-c", "3", "-W", "5", &target],
            COMMAND_TIMEOUT,
        );
        let neighbors = lab.run(name, &["ip", "-6", "neigh", "show"], COMMAND_TIMEOUT);
        let mac = tools::simulated_host::format_mac(qemu::port_mac(host.port()));
        assert!(
            neighbors.contains(&mac),
            "host {name} did not learn pure6's MAC {mac} from its Neighbor Advertisement:\n{neighbors}"
        );
    }
}

#[test]
fn hosts_autoconfigure_from_router_advertisements_and_ping_each_other() {
    let (lab, a, b) = autoconfigured_lab(1500);
    for (from, to) in [("a", b), ("b", a)] {
        let output = lab.run(
            from,
            &["ping", "-6", "-c", "3", "-W", "5", &to.to_string()],
            COMMAND_TIMEOUT,
        );
        eprintln!("{output}");
    }
}

#[test]
fn tracepath_shows_the_appliance_as_the_first_hop() {
    let (lab, _a, b) = autoconfigured_lab(1500);
    let output = lab
        .host("a")
        .exec(
            &["tracepath", "-6", "-n", "-m", "5", &b.to_string()],
            COMMAND_TIMEOUT,
        )
        .unwrap_or_else(|error| lab.fail("tracepath did not finish", error));
    let text = String::from_utf8_lossy(&output.stdout);
    eprintln!("{text}");
    let hop = first_hop(&text);
    assert!(
        hop.is_some_and(|hop| router_addresses().contains(&hop)),
        "tracepath's first hop is {hop:?}, not one of pure6's addresses {:?} (does pure6 send Time Exceeded?):\n{text}{}",
        router_addresses(),
        String::from_utf8_lossy(&output.stderr)
    );
    log_counters(&lab, "time_exceeded");
    assert!(
        text.contains("reached"),
        "tracepath did not reach {b}:\n{text}"
    );
}

#[test]
fn iperf3_tcp_transfer_completes_through_the_appliance() {
    let (lab, _a, b) = autoconfigured_lab(1500);
    let server_host = lab.host("b");
    let mut server = server_host
        .spawn(&[
            "iperf3",
            "-s",
            "-1",
            "-B",
            &b.to_string(),
            "-p",
            &IPERF_PORT.to_string(),
        ])
        .unwrap_or_else(|error| lab.fail("cannot start iperf3 -s", error));
    if let Err(error) = server_host.wait_for_tcp_listener(IPERF_PORT, LISTEN_TIMEOUT) {
        lab.fail(
            &format!("iperf3 -s did not listen; its output:\n{}", server.log()),
            error,
        );
    }
    let output = lab
        .host("a")
        .exec(
            &[
                "iperf3",
                "-6",
                "-c",
                &b.to_string(),
                "-p",
                &IPERF_PORT.to_string(),
                "-t",
                "3",
                "--connect-timeout",
                "60000",
            ],
            Duration::from_secs(u64::from(TRANSFER_SECONDS)),
        )
        .unwrap_or_else(|error| lab.fail("iperf3 -c did not finish", error));
    let client = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() || !client.contains("receiver") {
        lab.fail(
            "the iperf3 transfer did not complete",
            format!(
                "{}\n{client}{}\nserver:\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr),
                server.log()
            ),
        );
    }
    eprintln!("{client}");
    match server.wait(COMMAND_TIMEOUT) {
        Ok(status) if status.success() => {}
        Ok(status) => lab.fail("iperf3 -s failed", format!("{status}\n{}", server.log())),
        Err(error) => lab.fail("iperf3 -s did not exit after one test", error),
    }
}

/// b's link and pure6's `lan1` have MTU 1280, a's link and `lan0` 1500.
/// First the download the brief describes (b serves, a fetches; b's own
/// MTU keeps its packets small). Then the direction that needs Packet Too
/// Big: a serves and b fetches, with b advertising an MSS of 1440 (a route
/// attribute in b's namespace), so a sends 1500-byte packets that pure6
/// cannot forward onto `lan1`; the download completes only if pure6 sends
/// Packet Too Big and a lowers its path MTU (which a's route cache shows).
#[test]
fn large_http_download_crosses_a_1280_link_through_packet_too_big() {
    let (lab, a, b) = autoconfigured_lab(SMALL_MTU);
    let b_host = lab.host("b");
    if let Err(error) = b_host.set_mtu(SMALL_MTU) {
        lab.fail("cannot set b's MTU", error);
    }
    assert_eq!(b_host.mtu().ok(), Some(u32::from(SMALL_MTU)));

    download(&lab, "b", b, "a");

    let lan0_prefix = format!("{LAN0_ADDRESS}/64");
    let gateway = router_link_local(b_host.port()).to_string();
    lab.run(
        "b",
        &[
            "ip",
            "-6",
            "route",
            "add",
            &lan0_prefix,
            "via",
            &gateway,
            "dev",
            b_host.link(),
            "advmss",
            "1440",
        ],
        COMMAND_TIMEOUT,
    );
    download(&lab, "a", a, "b");
    let route = lab.run(
        "a",
        &["ip", "-6", "route", "get", &b.to_string()],
        COMMAND_TIMEOUT,
    );
    eprintln!("a's route to b after the download: {route}");
    log_counters(&lab, "packet_too_big");
    assert!(
        route.contains(&format!("mtu {SMALL_MTU}")),
        "a has no path MTU of {SMALL_MTU} towards {b}, so no Packet Too Big reached it:\n{route}"
    );
}

#[test]
fn dropping_a_topology_removes_its_namespaces_links_and_processes() {
    topology::require_root().unwrap_or_else(|error| panic!("{error}"));
    setup::ensure_host_tools().unwrap_or_else(|error| panic!("missing host tools: {error}"));
    let turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());

    // An ordinary drop.
    let topology = Topology::build(&["a", "b"])
        .unwrap_or_else(|error| panic!("cannot build the topology: {error}"));
    let namespaces = topology.namespaces();
    let links = topology.interface_names();
    let listed = topology::namespace_names().expect("ip netns list runs");
    for namespace in &namespaces {
        assert!(
            listed.contains(namespace),
            "{namespace} missing from {listed:?}"
        );
    }
    for link in &links {
        assert!(link.len() <= topology::LONGEST_INTERFACE_NAME, "{link}");
    }
    let root_links = topology::interface_names(None).expect("ip link runs");
    for link in &links {
        assert!(
            !root_links.contains(link),
            "{link} is in the root namespace"
        );
    }
    drop(topology);
    assert_gone(&namespaces, &links, None);

    // A drop while unwinding from a failed test, with a background process running.
    let mut recorded = None;
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let topology = Topology::build(&["a"]).expect("built once already");
        let sleeper = topology
            .host("a")
            .spawn(&["sleep", "600"])
            .expect("sleep starts");
        recorded = Some((
            topology.namespaces(),
            topology.interface_names(),
            sleeper.id(),
        ));
        panic!("a deliberate failure, to check the cleanup");
    }));
    assert!(outcome.is_err());
    let (namespaces, links, process) = recorded.expect("the topology was built");
    assert_gone(&namespaces, &links, Some(process));
    drop(turn);
}

/// Panics unless `namespaces` are gone, no link of `links` is in the root
/// namespace, and `process` (if any) no longer runs.
fn assert_gone(namespaces: &[String], links: &[String], process: Option<u32>) {
    let listed = topology::namespace_names().expect("ip netns list runs");
    for namespace in namespaces {
        assert!(
            !listed.contains(namespace),
            "{namespace} is still there after the drop: {listed:?}"
        );
    }
    let root_links = topology::interface_names(None).expect("ip link runs");
    for link in links {
        assert!(
            !root_links.contains(link),
            "{link} ended up in the root namespace"
        );
    }
    if let Some(process) = process {
        let path = Path::new("/proc").join(process.to_string());
        assert!(
            !path.exists(),
            "process {process} still exists after the drop"
        );
    }
}
