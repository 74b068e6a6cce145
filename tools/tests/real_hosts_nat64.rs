//! Real Linux hosts through pure6's stateful NAT64 (RFC 6146) with a real DNS64 resolver (RFC 6147): an IPv6-only host reaches an IPv4-only server by name, pings it, runs iperf3, holds 1,000 TCP connections on one pool4 address, and sees a UDP binding live and expire.
//!
//! Each test builds a [`Topology`] with two hosts and boots the legacy-ip
//! image with [`config`]:
//!
//! ```text
//!  host "six" (IPv6 only)              pure6                  host "four" (IPv4 only)
//!  2001:db8:1::b/64 (static)   port 0 "lan"   port 1 "uplink"    192.0.2.10/24
//!  default via 2001:db8:1::1 ── 2001:db8:1::1/64  192.0.2.1/24 ── default via 192.0.2.1
//!  unbound (DNS64) on ::1                         pool4 = 192.0.2.1
//! ```
//!
//! - No explicit address mapping names the IPv6 host, so everything it
//!   sends to pool6 goes through NAT64 and leaves from 192.0.2.1, the
//!   uplink's own address, which is the one pool4 address.
//! - The IPv6 host's address is static and no Router Advertisements are
//!   sent, as in `real_hosts_translation.rs`.
//! - The IPv6 host resolves names with unbound ([`tools::dns64`]) running
//!   in its own namespace on `::1`: an authority zone `test.` holds
//!   `server.test. A 192.0.2.10`, and the dns64 module synthesizes
//!   `2001:db8:64::c000:20a` under pool6 2001:db8:64::/96 (network-specific:
//!   documentation IPv4 addresses are allowed under it, RFC 6052 §3.1).
//! - `allow_short_timeouts = true` with `udp_timeout_seconds = 10`: the UDP
//!   expiry test needs a binding to expire in seconds, not minutes.
//!
//! Only documentation addresses are used, no host has a route to anything
//! outside the test namespaces, and nothing is configured in the root
//! namespace (the resolver's `resolv.conf` lives in `/etc/netns/NAMESPACE`,
//! which only `ip netns exec` in that namespace sees, and is removed
//! afterwards). The tests need root and the tools of
//! [`setup::ensure_host_tools`]; without them they fail saying what is
//! missing. One topology runs at a time, every command and wait is
//! bounded, and failures carry pure6's non-zero counters, both hosts' state
//! and the appliance's console.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use tools::dns64::{Dns64Resolver, Dns64Settings};
use tools::image::Flavor;
use tools::qemu::{Machine, MachineType, READY_LINE};
use tools::setup;
use tools::test_support;
use tools::topology::{self, Host, Topology};

/// How long the appliance may take to print its ready line.
const READY_TIMEOUT: Duration = Duration::from_secs(90);
/// How long a host's static IPv6 address may take to become usable.
const ADDRESS_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one ordinary command (ping, ip, sysctl) may run.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a server may take to start listening.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(30);
/// The size of the page fetched by name.
const PAGE_BYTES: usize = 64 * 1024;
/// The port of the web server on the IPv4 host.
const HTTP_PORT: u16 = 8080;
/// The port of the iperf3 server on the IPv4 host.
const IPERF_PORT: u16 = 5201;
/// How long each iperf3 run sends, in seconds.
const IPERF_SECONDS: u32 = 2;
/// The UDP bitrate of the iperf3 UDP run.
const IPERF_UDP_BITRATE: &str = "10M";
/// The port of the many-connections server.
const MANY_PORT: u16 = 9000;
/// How many TCP connections are held open at once.
const CONNECTIONS: usize = 1000;
/// How long the many-connections client may run in all, in seconds.
const CONNECTIONS_SECONDS: u64 = 180;
/// The UDP echo server's port on the IPv4 host.
const UDP_ECHO_PORT: u16 = 9999;
/// The port the IPv4 host sends unsolicited datagrams from.
const UDP_PROBE_PORT: u16 = 9998;
/// The IPv6 host's UDP port in the expiry test (the BIB entry's IPv6 side).
const UDP_CLIENT_PORT: u16 = 40000;
/// pure6's UDP session timeout here (short: allowed explicitly).
const UDP_TIMEOUT_SECONDS: u64 = 10;
/// Idle time that the UDP binding must survive.
const SHORT_IDLE: Duration = Duration::from_secs(3);
/// Idle time after which the UDP binding must be gone (the timeout and slack).
const LONG_IDLE: Duration = Duration::from_secs(15);

/// The hosts: "six" on port 0 (lan), "four" on port 1 (uplink).
const SIX: &str = "six";
const FOUR: &str = "four";

/// pure6's address on the lan port, the IPv6 host's default router.
const LAN_ADDRESS: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x1, 0, 0, 0, 0, 1);
/// The IPv6 host's static address (no EAM: it goes through NAT64).
const SIX_ADDRESS: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x1, 0, 0, 0, 0, 0xb);
/// pure6's address on the uplink port: the IPv4 host's gateway and the one pool4 address.
const UPLINK_ADDRESS: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
/// The IPv4 host's address.
const FOUR_ADDRESS: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
/// The uplink subnet's prefix length.
const UPLINK_PREFIX_LENGTH: u8 = 24;
/// pool6 (RFC 6052), network-specific; also the DNS64 prefix.
const POOL6_ADDRESS: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x64, 0, 0, 0, 0, 0);
const POOL6_LENGTH: u8 = 96;
/// The zone the DNS64 resolver serves and the server's name in it.
const ZONE: &str = "test";
const SERVER_NAME: &str = "server";

/// `address` under pool6 (RFC 6052 §2.2, /96: the last 32 bits).
fn under_pool6(address: Ipv4Addr) -> Ipv6Addr {
    Ipv6Addr::from(u128::from(POOL6_ADDRESS) | u128::from(u32::from(address)))
}

/// pure6's configuration: the lan port, the IPv4 uplink, pool6, and NAT64
/// with the uplink's address as the only pool4 address.
fn config() -> String {
    format!(
        r#"[router]
name = "pure6-nat64"

[icmp]
rate_limit_per_second = 100
burst = 100

[[port]]
name = "lan"
addresses = ["{LAN_ADDRESS}/64"]

[[port]]
name = "uplink"

[port.ipv4]
address = "{UPLINK_ADDRESS}/{UPLINK_PREFIX_LENGTH}"

[translation]
# Network-specific: documentation IPv4 addresses are allowed under it
# (RFC 6052 section 3.1 restricts only the well-known 64:ff9b::/96).
pool6 = "{POOL6_ADDRESS}/{POOL6_LENGTH}"

[nat64]
# The uplink's own address, the usual single-address setup.
pool4 = [{{ prefix = "{UPLINK_ADDRESS}", tcp = "1024-65535", udp = "1024-65535", icmp = "1-65535" }}]
# Short: the UDP expiry test waits for a binding to expire in seconds.
allow_short_timeouts = true
udp_timeout_seconds = {UDP_TIMEOUT_SECONDS}
"#
    )
}

/// The helper programs the hosts run (python3, standard library only):
/// servers on the IPv4 host and clients on the IPv6 host, each bounded.
const HELPER: &str = r#"
import asyncio, resource, socket, sys, time

def more_files():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 8192 if hard == resource.RLIM_INFINITY else min(hard, 8192)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))

def many_server(port):
    more_files()
    async def handle(reader, writer):
        try:
            line = await reader.readline()
            if line:
                writer.write(b"ok " + line)
                await writer.drain()
            await reader.read()
        except Exception:
            pass
        writer.close()
    async def main():
        server = await asyncio.start_server(handle, "0.0.0.0", port, backlog=4096)
        print("listening", flush=True)
        async with server:
            await server.serve_forever()
    asyncio.run(main())

def many_client(address, port, count, seconds):
    more_files()
    started = time.monotonic()
    async def main():
        gate = asyncio.Semaphore(100)
        async def connect(index):
            async with gate:
                return await asyncio.wait_for(asyncio.open_connection(address, port), 60)
        results = await asyncio.gather(*(connect(i) for i in range(count)), return_exceptions=True)
        opened = [r for r in results if not isinstance(r, BaseException)]
        failures = {}
        for r in results:
            if isinstance(r, BaseException):
                failures[repr(r)] = failures.get(repr(r), 0) + 1
        print(f"opened {len(opened)} of {count} connections in {time.monotonic() - started:.1f} s; failures: {failures}", flush=True)
        async def exchange(index, reader, writer):
            writer.write(f"hello {index}\n".encode())
            await writer.drain()
            line = await asyncio.wait_for(reader.readline(), 60)
            return line == f"ok hello {index}\n".encode()
        answers = await asyncio.gather(*(exchange(i, r, w) for i, (r, w) in enumerate(opened)), return_exceptions=True)
        good = sum(1 for a in answers if a is True)
        bad = {}
        for a in answers:
            if a is not True:
                bad[repr(a)] = bad.get(repr(a), 0) + 1
        print(f"exchanged on {good} of {len(opened)} open connections (all open at once) in {time.monotonic() - started:.1f} s; failures: {bad}", flush=True)
        for _, writer in opened:
            writer.close()
        return len(opened) == count and good == count
    ok = asyncio.run(asyncio.wait_for(main(), seconds))
    sys.exit(0 if ok else 1)

def udp_echo_server(port):
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("0.0.0.0", port))
    print("listening", flush=True)
    while True:
        payload, (address, source_port) = server.recvfrom(2048)
        print(f"from {address}:{source_port}: {payload!r}", flush=True)
        server.sendto(payload + f" from {address}:{source_port}".encode(), (address, source_port))

def udp_exchange(address, port, local_port, message, seconds):
    client = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    client.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    client.bind(("::", local_port))
    client.settimeout(seconds)
    client.sendto(message.encode(), (address, port))
    try:
        payload, source = client.recvfrom(2048)
    except socket.timeout:
        print(f"no answer within {seconds} s", flush=True)
        sys.exit(1)
    print(payload.decode(), flush=True)

def udp_listen(local_port, seconds):
    listener = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("::", local_port))
    listener.settimeout(seconds)
    print("listening", flush=True)
    try:
        payload, source = listener.recvfrom(2048)
    except socket.timeout:
        print(f"nothing within {seconds} s", flush=True)
        sys.exit(2)
    print(f"received {payload!r} from {source[0]} port {source[1]}", flush=True)

def udp_send(address, port, source_port, message):
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender.bind(("0.0.0.0", source_port))
    sender.sendto(message.encode(), (address, port))

command, arguments = sys.argv[1], sys.argv[2:]
if command == "many-server":
    many_server(int(arguments[0]))
elif command == "many-client":
    many_client(arguments[0], int(arguments[1]), int(arguments[2]), float(arguments[3]))
elif command == "udp-echo-server":
    udp_echo_server(int(arguments[0]))
elif command == "udp-exchange":
    udp_exchange(arguments[0], int(arguments[1]), int(arguments[2]), arguments[3], float(arguments[4]))
elif command == "udp-listen":
    udp_listen(int(arguments[0]), float(arguments[1]))
elif command == "udp-send":
    udp_send(arguments[0], int(arguments[1]), int(arguments[2]), arguments[3])
else:
    sys.exit(f"unknown command {command}")
"#;

/// One topology at a time (the appliance busy-polls; the machine has 2 cores).
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// A topology and the turn it holds; the topology is dropped (torn down) first.
struct Lab {
    topology: Topology,
    helper: PathBuf,
    _turn: MutexGuard<'static, ()>,
}

impl Lab {
    /// Panics with `context`, `error`, pure6's non-zero counters, both
    /// hosts' state (IPv4 too) and the appliance's console.
    fn fail(&self, context: &str, error: impl std::fmt::Display) -> ! {
        panic!(
            "{context}: {error}\n--- pure6 counters (non-zero) ---\n{}--- topology state ---\n{}",
            self.topology.counters_report(|_| true),
            self.topology.diagnostics()
        )
    }

    /// pure6's counters summed over the ports, by name.
    fn counters(&self) -> Result<BTreeMap<String, u64>, String> {
        let appliance = self
            .topology
            .appliance()
            .ok_or("the appliance is not running")?;
        let counters = appliance
            .counters()
            .map_err(|error| format!("cannot read pure6's counters: {error}"))?;
        let mut sums = BTreeMap::new();
        for ((_, name), value) in counters.iter() {
            *sums.entry(name.to_string()).or_insert(0) += *value;
        }
        Ok(sums)
    }

    /// The counter `name` summed over the ports; fails the test if the counters cannot be read.
    fn counter(&self, name: &str) -> u64 {
        match self.counters() {
            Ok(counters) => counters.get(name).copied().unwrap_or(0),
            Err(error) => self.fail(&format!("reading counter {name}"), error),
        }
    }

    /// pure6's non-zero counters whose name passes `wanted`, one a line.
    fn counters_report(&self, wanted: impl Fn(&str) -> bool) -> String {
        self.topology.counters_report(wanted)
    }

    fn host(&self, name: &str) -> &Host {
        self.topology.host(name)
    }

    /// Runs `command` in `host`, requiring success; returns stdout.
    fn run(&self, host: &str, command: &[&str], timeout: Duration) -> String {
        self.host(host)
            .run(command, timeout)
            .unwrap_or_else(|error| self.fail(&format!("in host {host}, {command:?}"), error))
    }

    /// Runs the python helper in `host` with `arguments`, for at most
    /// `timeout`; returns whether it succeeded and what it printed.
    fn helper(&self, host: &str, arguments: &[&str], timeout: Duration) -> (bool, String) {
        let helper = self.helper.to_string_lossy().into_owned();
        let mut command = vec!["python3", helper.as_str()];
        command.extend_from_slice(arguments);
        let output = self
            .host(host)
            .exec(&command, timeout)
            .unwrap_or_else(|error| {
                self.fail(&format!("the helper {arguments:?} in host {host}"), error)
            });
        (
            output.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        )
    }

    /// Starts the python helper with `arguments` in `host` in the background.
    fn spawn_helper(&self, host: &str, arguments: &[&str]) -> topology::BackgroundProcess<'_> {
        let helper = self.helper.to_string_lossy().into_owned();
        let mut command = vec!["python3", helper.as_str()];
        command.extend_from_slice(arguments);
        self.host(host).spawn(&command).unwrap_or_else(|error| {
            self.fail(&format!("cannot start {arguments:?} in host {host}"), error)
        })
    }

    /// Waits until a UDP socket is bound to `port` in `host` (`ss -Hlun`).
    fn wait_for_udp_listener(&self, host: &str, port: u16) {
        let suffix = format!(":{port}");
        let deadline = Instant::now() + LISTEN_TIMEOUT;
        loop {
            let output = self.run(host, &["ss", "-Hlun"], COMMAND_TIMEOUT);
            if output.lines().any(|line| {
                line.split_whitespace()
                    .nth(3)
                    .is_some_and(|local| local.ends_with(&suffix))
            }) {
                return;
            }
            if Instant::now() >= deadline {
                self.fail(
                    &format!("no UDP socket on port {port} in host {host}"),
                    format!("within {LISTEN_TIMEOUT:?}; ss -Hlun shows:\n{output}"),
                );
            }
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until a TCP listener is on `port` in `host`, else fails with `log`.
    fn wait_for_tcp_listener(&self, host: &str, port: u16, log: impl Fn() -> String) {
        if let Err(error) = self.host(host).wait_for_tcp_listener(port, LISTEN_TIMEOUT) {
            self.fail(
                &format!(
                    "the server in host {host} did not listen on TCP port {port}; its output:\n{}",
                    log()
                ),
                error,
            );
        }
    }
}

/// Checks the environment (root, tools, QEMU), takes the turn, builds the
/// hosts, boots the appliance with [`config`] until it is ready, and
/// configures the hosts' addresses and routes (see the module comment).
fn start_lab() -> Lab {
    topology::require_root().unwrap_or_else(|error| panic!("{error}"));
    setup::ensure_host_tools().unwrap_or_else(|error| panic!("missing host tools: {error}"));
    setup::ensure_qemu().unwrap_or_else(|error| panic!("missing QEMU: {error}"));
    let image = test_support::image(Flavor::LegacyIp);
    let turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut topology = Topology::build(&[SIX, FOUR])
        .unwrap_or_else(|error| panic!("cannot build the topology: {error}"));
    let helper = topology.scratch_directory().join("nat64_helper.py");
    std::fs::write(&helper, HELPER).expect("the scratch directory is writable");
    let machine = Machine::new(image)
        .machine_type(MachineType::Microvm)
        .config_text(config());
    if let Err(error) = topology.start_appliance(machine) {
        panic!("cannot start the appliance: {error}");
    }
    let lab = Lab {
        topology,
        helper,
        _turn: turn,
    };
    let appliance = lab.topology.appliance().expect("started above");
    if let Err(error) = appliance.wait_for_line(READY_LINE, READY_TIMEOUT) {
        lab.fail("the appliance did not become ready", error);
    }
    configure_ipv6_host(&lab);
    configure_ipv4_host(&lab);
    lab
}

/// The IPv6 host: no SLAAC, the static address, a default route via pure6.
fn configure_ipv6_host(lab: &Lab) {
    if let Err(error) = lab.host(SIX).configure_static_ipv6(
        &[SIX_ADDRESS],
        64,
        LAN_ADDRESS,
        ADDRESS_TIMEOUT,
        &mut |_| {},
    ) {
        lab.fail(&format!("cannot configure host {SIX}"), error);
    }
}

/// The IPv4 host: IPv6 off, 192.0.2.10/24, a default route via pure6.
fn configure_ipv4_host(lab: &Lab) {
    if let Err(error) = lab.host(FOUR).configure_ipv4_only(
        FOUR_ADDRESS,
        UPLINK_PREFIX_LENGTH,
        UPLINK_ADDRESS,
        &[],
        &mut |_| {},
    ) {
        lab.fail(&format!("cannot configure host {FOUR}"), error);
    }
}

/// The DNS64 resolver's settings: `server.test. A 192.0.2.10` under pool6, on `::1`.
fn dns64_settings() -> Dns64Settings {
    Dns64Settings {
        prefix: POOL6_ADDRESS,
        prefix_length: POOL6_LENGTH,
        zone: ZONE.into(),
        records: vec![(SERVER_NAME.into(), FOUR_ADDRESS)],
        listen: Ipv6Addr::LOCALHOST,
    }
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

/// The mapped port in the UDP echo server's answer (`... from 192.0.2.1:PORT`).
fn mapped_port(answer: &str) -> Option<u16> {
    let (address, port) = answer.trim().rsplit(" from ").next()?.split_once(':')?;
    if address != UPLINK_ADDRESS.to_string() {
        return None;
    }
    port.parse().ok()
}

#[test]
fn the_test_configuration_is_accepted() {
    if let Err(error) = netstack::config::parse(&config()) {
        panic!("the test configuration is rejected: {error}\n{}", config());
    }
}

#[test]
fn helpers_compute_what_the_tests_use() {
    assert_eq!(
        under_pool6(FOUR_ADDRESS),
        "2001:db8:64::c000:20a".parse::<Ipv6Addr>().unwrap()
    );
    assert_eq!(
        dns64_settings().synthesized(FOUR_ADDRESS),
        Some(under_pool6(FOUR_ADDRESS))
    );
    assert_eq!(mapped_port("one from 192.0.2.1:1234\n"), Some(1234));
    assert_eq!(mapped_port("one from 192.0.2.7:1234"), None);
    assert_eq!(mapped_port("nothing"), None);
}

#[test]
fn ipv6_host_fetches_a_page_by_name_through_dns64_and_nat64() {
    let lab = start_lab();
    let six = lab.host(SIX);
    let resolver = Dns64Resolver::start(six, lab.topology.scratch_directory(), dns64_settings())
        .unwrap_or_else(|error| lab.fail("cannot start the DNS64 resolver", error));
    let directory = lab.topology.scratch_directory().join("www");
    std::fs::create_dir_all(&directory).expect("the scratch directory is writable");
    let content = test_bytes(PAGE_BYTES);
    std::fs::write(directory.join("page.bin"), &content)
        .expect("the scratch directory is writable");
    let mut http = lab
        .host(FOUR)
        .spawn(&[
            "python3",
            "-m",
            "http.server",
            &HTTP_PORT.to_string(),
            "--bind",
            "0.0.0.0",
            "--directory",
            &directory.to_string_lossy(),
        ])
        .unwrap_or_else(|error| lab.fail("cannot start the web server", error));
    lab.wait_for_tcp_listener(FOUR, HTTP_PORT, || http.log());
    if resolver.synthesized_address_of(SERVER_NAME) != Some(under_pool6(FOUR_ADDRESS)) {
        lab.fail(
            "the DNS64 resolver's settings",
            format!(
                "{SERVER_NAME} does not synthesize to {}",
                under_pool6(FOUR_ADDRESS)
            ),
        );
    }
    let name = format!("{SERVER_NAME}.{ZONE}");
    let resolved = lab.run(SIX, &["getent", "ahostsv6", &name], COMMAND_TIMEOUT);
    eprintln!("{SIX} resolves {name}:\n{resolved}");
    let copy = lab.topology.scratch_directory().join("page-copy.bin");
    let url = format!("http://{name}:{HTTP_PORT}/page.bin");
    let started = Instant::now();
    let output = six
        .exec(
            &[
                "curl",
                "-6",
                "--silent",
                "--show-error",
                "--fail",
                "--connect-timeout",
                "20",
                "--max-time",
                "60",
                "--write-out",
                "%{remote_ip}",
                "--output",
                &copy.to_string_lossy(),
                &url,
            ],
            Duration::from_secs(90),
        )
        .unwrap_or_else(|error| lab.fail(&format!("curl {url} did not finish"), error));
    if !output.status.success() {
        lab.fail(
            &format!("curl {url} in {SIX} failed ({})", output.status),
            format!(
                "{}\nunbound's log:\n{}\nweb server's log:\n{}",
                String::from_utf8_lossy(&output.stderr),
                resolver.log(),
                http.log()
            ),
        );
    }
    let remote = String::from_utf8_lossy(&output.stdout).into_owned();
    if remote.trim() != under_pool6(FOUR_ADDRESS).to_string() {
        lab.fail(
            &format!("curl {url} connected to {remote}"),
            format!(
                "expected the synthesized {} from DNS64",
                under_pool6(FOUR_ADDRESS)
            ),
        );
    }
    let received = std::fs::read(&copy).unwrap_or_default();
    if received != content {
        lab.fail(
            &format!("the page fetched from {url}"),
            format!(
                "{} bytes arrived and differ from the {} served",
                received.len(),
                content.len()
            ),
        );
    }
    let served = http.log();
    if !served.contains(&UPLINK_ADDRESS.to_string()) {
        lab.fail(
            "the web server did not see the request come from the pool4 address",
            served,
        );
    }
    http.kill();
    eprintln!(
        "{SIX} fetched {PAGE_BYTES} bytes from {url} ({remote}) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    eprint!("{}", lab.counters_report(|name| name.starts_with("nat64")));
}

#[test]
fn ipv6_host_pings_the_ipv4_server_at_its_synthesized_address() {
    let lab = start_lab();
    let target = under_pool6(FOUR_ADDRESS).to_string();
    let output = lab
        .host(SIX)
        .exec(
            &["ping", "-6", "-c", "3", "-W", "5", &target],
            COMMAND_TIMEOUT,
        )
        .unwrap_or_else(|error| lab.fail(&format!("ping {target} did not finish"), error));
    let text = String::from_utf8_lossy(&output.stdout);
    eprintln!("{text}");
    if !output.status.success() {
        lab.fail(
            &format!("ping -6 {target} from {SIX} got no answer through NAT64"),
            format!(
                "{}\n{text}{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            ),
        );
    }
    if lab.counter("nat64_icmp_sessions_created") == 0 {
        lab.fail(
            "the ping was answered but pure6 created no NAT64 ICMP session",
            "nat64_icmp_sessions_created is 0",
        );
    }
}

#[test]
fn iperf3_tcp_and_udp_run_through_nat64() {
    let lab = start_lab();
    let server = lab
        .host(FOUR)
        .spawn(&["iperf3", "-s", "-4", "-p", &IPERF_PORT.to_string()])
        .unwrap_or_else(|error| lab.fail("cannot start the iperf3 server", error));
    lab.wait_for_tcp_listener(FOUR, IPERF_PORT, || server.log());
    let target = under_pool6(FOUR_ADDRESS).to_string();
    let port = IPERF_PORT.to_string();
    let seconds = IPERF_SECONDS.to_string();
    for (protocol, extra) in [
        ("TCP", &[][..]),
        ("UDP", &["-u", "-b", IPERF_UDP_BITRATE][..]),
    ] {
        let mut command = vec![
            "iperf3",
            "-6",
            "-c",
            &target,
            "-p",
            &port,
            "-t",
            &seconds,
            "--connect-timeout",
            "10000",
        ];
        command.extend_from_slice(extra);
        let output = lab
            .host(SIX)
            .exec(&command, Duration::from_secs(60))
            .unwrap_or_else(|error| {
                lab.fail(
                    &format!("iperf3 {protocol} to {target} did not finish"),
                    format!("{error}\nserver log:\n{}", server.log()),
                )
            });
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        eprintln!("iperf3 {protocol}:\n{text}");
        let receiver = text
            .lines()
            .any(|line| line.trim_end().ends_with("receiver"));
        if !output.status.success() || !receiver {
            lab.fail(
                &format!("iperf3 {protocol} from {SIX} to {target} did not complete ({}, receiver summary present: {receiver})", output.status),
                format!(
                    "{text}{}\nserver log:\n{}",
                    String::from_utf8_lossy(&output.stderr),
                    server.log()
                ),
            );
        }
    }
    // Everything, drops included: retransmissions above are worth explaining.
    eprint!("{}", lab.counters_report(|_| true));
}

#[test]
fn a_thousand_concurrent_tcp_connections_share_the_one_pool4_address() {
    let lab = start_lab();
    let mut server = lab.spawn_helper(FOUR, &["many-server", &MANY_PORT.to_string()]);
    lab.wait_for_tcp_listener(FOUR, MANY_PORT, || server.log());
    let before = lab.counter("nat64_tcp_sessions_created");
    let target = under_pool6(FOUR_ADDRESS).to_string();
    let started = Instant::now();
    let (ok, text) = lab.helper(
        SIX,
        &[
            "many-client",
            &target,
            &MANY_PORT.to_string(),
            &CONNECTIONS.to_string(),
            &CONNECTIONS_SECONDS.to_string(),
        ],
        Duration::from_secs(CONNECTIONS_SECONDS + 30),
    );
    eprintln!(
        "{text}(client ran {:.1} s)",
        started.elapsed().as_secs_f64()
    );
    if !ok {
        lab.fail(
            &format!("{CONNECTIONS} concurrent TCP connections from {SIX} to [{target}]:{MANY_PORT} did not all complete"),
            format!("client output:\n{text}\nserver output:\n{}", server.log()),
        );
    }
    let created = lab.counter("nat64_tcp_sessions_created") - before;
    eprint!("{}", lab.counters_report(|name| name.starts_with("nat64")));
    if created < CONNECTIONS as u64 {
        lab.fail(
            &format!(
                "pure6 counted only {created} NAT64 TCP sessions created for {CONNECTIONS} connections"
            ),
            "nat64_tcp_sessions_created grew too little",
        );
    }
    server.kill();
}

/// The UDP binding of [SIX_ADDRESS]:40000 lives through 3 s of idle time
/// (same mapped port) and an unsolicited datagram from the IPv4 host then
/// still reaches the IPv6 host; after 15 s idle (timeout 10 s) the binding
/// is gone, and the same datagram to the old mapped port is dropped as
/// `nat64_no_binding` and never reaches the IPv6 host. Each step is its
/// own short process; the IPv6 side always uses the same port, so the
/// binding (keyed by the IPv6 transport address) is the same one.
#[test]
fn a_udp_binding_survives_a_short_idle_time_and_expires_after_its_timeout() {
    let lab = start_lab();
    let mut echo = lab.spawn_helper(FOUR, &["udp-echo-server", &UDP_ECHO_PORT.to_string()]);
    lab.wait_for_udp_listener(FOUR, UDP_ECHO_PORT);
    let target = under_pool6(FOUR_ADDRESS).to_string();
    let exchange = |message: &str| -> u16 {
        let (ok, text) = lab.helper(
            SIX,
            &[
                "udp-exchange",
                &target,
                &UDP_ECHO_PORT.to_string(),
                &UDP_CLIENT_PORT.to_string(),
                message,
                "5",
            ],
            COMMAND_TIMEOUT,
        );
        if !ok {
            lab.fail(
                &format!("UDP {message:?} from [{SIX_ADDRESS}]:{UDP_CLIENT_PORT} to [{target}]:{UDP_ECHO_PORT} got no answer"),
                format!("client: {text}\necho server:\n{}", echo.log()),
            );
        }
        mapped_port(&text).unwrap_or_else(|| {
            lab.fail(
                "the echo server's answer names no mapped port on the pool4 address",
                text,
            )
        })
    };
    // An unsolicited datagram from the IPv4 host to the mapped port; returns
    // whether the IPv6 host's listener on UDP_CLIENT_PORT received it.
    let probe = |mapped: u16, listen_seconds: &str| -> (bool, String) {
        let mut listener = lab.spawn_helper(
            SIX,
            &["udp-listen", &UDP_CLIENT_PORT.to_string(), listen_seconds],
        );
        lab.wait_for_udp_listener(SIX, UDP_CLIENT_PORT);
        let (sent, text) = lab.helper(
            FOUR,
            &[
                "udp-send",
                &UPLINK_ADDRESS.to_string(),
                &mapped.to_string(),
                &UDP_PROBE_PORT.to_string(),
                "probe",
            ],
            COMMAND_TIMEOUT,
        );
        if !sent {
            lab.fail("the IPv4 host could not send its probe", text);
        }
        let status = listener
            .wait(Duration::from_secs(30))
            .unwrap_or_else(|error| lab.fail("the UDP listener did not end", error));
        (status.success(), listener.log())
    };

    let first = exchange("one");
    eprintln!("mapped to {UPLINK_ADDRESS}:{first}");
    thread::sleep(SHORT_IDLE);
    let second = exchange("two");
    if second != first {
        lab.fail(
            &format!(
                "after {SHORT_IDLE:?} idle (timeout {UDP_TIMEOUT_SECONDS} s) the mapping changed"
            ),
            format!("first {UPLINK_ADDRESS}:{first}, then {UPLINK_ADDRESS}:{second}"),
        );
    }
    let (received, log) = probe(first, "5");
    let log = log.trim().to_string();
    if !received {
        lab.fail(
            &format!("a datagram from {FOUR_ADDRESS}:{UDP_PROBE_PORT} to the live mapping {UPLINK_ADDRESS}:{first} did not reach {SIX} (endpoint-independent filtering)"),
            log,
        );
    }
    eprintln!("live mapping: {log}");
    let expired_before = lab.counter("nat64_sessions_expired");
    let bindings_removed_before = lab.counter("nat64_bindings_removed");
    thread::sleep(LONG_IDLE);
    let expired = lab.counter("nat64_sessions_expired") - expired_before;
    let bindings_removed = lab.counter("nat64_bindings_removed") - bindings_removed_before;
    eprintln!(
        "after {LONG_IDLE:?} idle: {expired} sessions expired, {bindings_removed} bindings removed"
    );
    if expired < 1 || bindings_removed < 1 {
        lab.fail(
            &format!("after {LONG_IDLE:?} idle (timeout {UDP_TIMEOUT_SECONDS} s) the UDP binding was not removed"),
            format!("nat64_sessions_expired grew by {expired} (expected at least 1), nat64_bindings_removed by {bindings_removed} (expected at least 1)"),
        );
    }
    let no_binding_before = lab.counter("nat64_no_binding");
    let (received, log) = probe(first, "3");
    let no_binding = lab.counter("nat64_no_binding") - no_binding_before;
    let log = log.trim().to_string();
    eprintln!("expired mapping: {log}; nat64_no_binding grew by {no_binding}");
    if received {
        lab.fail(
            &format!(
                "a datagram to the expired mapping {UPLINK_ADDRESS}:{first} still reached {SIX}"
            ),
            log,
        );
    }
    if no_binding < 1 {
        lab.fail(
            &format!("the datagram to the expired mapping {UPLINK_ADDRESS}:{first} was not counted as nat64_no_binding"),
            format!("nat64_no_binding grew by {no_binding}; listener: {log}"),
        );
    }
    echo.kill();
}
