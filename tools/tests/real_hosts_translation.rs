//! Real Linux hosts on both sides of the border translator: an IPv6-only host on the lan port and an IPv4-only host on the uplink port ping each other, fetch pages and download large files through pure6's SIIT (RFC 7915, RFC 7757 EAM, RFC 6052 pool6).
//!
//! Each test builds a [`Topology`] with two hosts and boots the legacy-ip
//! image with [`config`]:
//!
//! ```text
//!  host "six" (IPv6 only)              pure6                 host "four" (IPv4 only)
//!  2001:db8:1::a/64 (static)   port 0 "lan"   port 1 "uplink"   192.0.2.10/24
//!  default via 2001:db8:1::1 ── 2001:db8:1::1/64  192.0.2.1/24 ── default via 192.0.2.1
//!                               mtu 1280                            198.51.100.0/24 via 192.0.2.1
//! ```
//!
//! - The IPv6 host has a static address, not one from SLAAC: the explicit
//!   address mapping (EAM) 198.51.100.10 <-> 2001:db8:1::a must name it,
//!   and a second, autoconfigured address could be chosen as the source of
//!   its connections and would not be translatable. So the configuration
//!   sends no Router Advertisements, the host accepts none, and its default
//!   route goes via pure6's global address 2001:db8:1::1.
//! - The IPv4 host reaches the IPv6 host at 198.51.100.10 (the EAM) and is
//!   itself reached at 2001:db8:64::c000:20a (192.0.2.10 under pool6).
//!   IPv6 is disabled in its namespace by sysctl.
//! - pool6 is the network-specific prefix 2001:db8:64::/96, not the
//!   well-known 64:ff9b::/96, under which RFC 6052 §3.1 forbids
//!   non-global IPv4 addresses such as the documentation ranges used here
//!   (pure6 drops them there unless `well_known_prefix_rule = false`).
//!
//! Only documentation addresses (2001:db8::/32, 192.0.2.0/24,
//! 198.51.100.0/24) are used and nothing is configured in the root
//! namespace. The tests need root and the tools of
//! [`setup::ensure_host_tools`]; without them they fail saying what is
//! missing, never skip. One topology runs at a time, every command and
//! wait is bounded, and on a failure the message carries both hosts' state,
//! the appliance's console and its non-zero counters.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

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
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a server may take to start listening.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(60);
/// How long one download may take before curl gives up.
const TRANSFER_SECONDS: u32 = 240;
/// The size of the small page fetched in the HTTP tests.
const PAGE_BYTES: usize = 16 * 1024;
/// The size of the file downloaded in the path MTU test.
const LARGE_DOWNLOAD_BYTES: usize = 2 * 1024 * 1024;
/// The port `python3 -m http.server` listens on.
const HTTP_PORT: u16 = 8080;
/// The MTU of the IPv6 host's link and of pure6's lan port.
const LAN_MTU: u16 = 1280;
/// The MTU of the IPv4 host's link (and pure6's uplink port, by default).
const UPLINK_MTU: u16 = 1500;
/// The path MTU the IPv4 host must learn towards the IPv6 host: the lan
/// MTU less the 20 bytes the IPv6 header adds over IPv4 (RFC 7915 §5.2).
const TRANSLATED_PATH_MTU: u16 = LAN_MTU - 20;
/// The MSS the IPv6 host advertises in the Packet Too Big phase (as if its
/// link were 1500 bytes), so the IPv4 server sends packets that do not fit
/// the lan port once translated.
const LARGE_ADVERTISED_MSS: u16 = 1440;

/// The hosts: "six" on port 0 (lan), "four" on port 1 (uplink).
const SIX: &str = "six";
const FOUR: &str = "four";

/// pure6's address on the lan port, the IPv6 host's default router.
const LAN_ADDRESS: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x1, 0, 0, 0, 0, 1);
/// The IPv6 host's static address, mapped by the EAM.
const SIX_ADDRESS: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x1, 0, 0, 0, 0, 0xa);
/// The IPv6 host's address as the IPv4 host sees it (the EAM).
const SIX_MAPPED: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 10);
/// pure6's address on the uplink port, the IPv4 host's gateway.
const UPLINK_ADDRESS: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
/// The IPv4 host's address.
const FOUR_ADDRESS: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
/// The uplink subnet's prefix length.
const UPLINK_PREFIX_LENGTH: u8 = 24;
/// The EAM's IPv4 side as a prefix, routed by the IPv4 host via pure6.
const MAPPED_PREFIX: &str = "198.51.100.0/24";
/// pool6 (RFC 6052): a network-specific prefix, see the module comment.
const POOL6: &str = "2001:db8:64::/96";

/// `address` under [`POOL6`] (RFC 6052 §2.2, /96: the last 32 bits).
fn under_pool6(address: Ipv4Addr) -> Ipv6Addr {
    let [a, b, c, d] = address.octets();
    Ipv6Addr::new(
        0x2001,
        0xdb8,
        0x64,
        0,
        0,
        0,
        u16::from_be_bytes([a, b]),
        u16::from_be_bytes([c, d]),
    )
}

/// pure6's configuration: the lan port (no Router Advertisements, see the
/// module comment) and the IPv4 uplink, pool6 and the one EAM.
fn config() -> String {
    format!(
        r#"[router]
name = "pure6-siit"

[icmp]
rate_limit_per_second = 100
burst = 100

[[port]]
name = "lan"
mtu = {LAN_MTU}
addresses = ["{LAN_ADDRESS}/64"]

[[port]]
name = "uplink"

[port.ipv4]
address = "{UPLINK_ADDRESS}/{UPLINK_PREFIX_LENGTH}"

[translation]
# Network-specific: documentation IPv4 addresses are allowed under it
# (RFC 6052 section 3.1 restricts only the well-known 64:ff9b::/96).
pool6 = "{POOL6}"

[[translation.eam]]
ipv4 = "{SIX_MAPPED}/32"
ipv6 = "{SIX_ADDRESS}/128"
"#
    )
}

/// One topology at a time (the appliance runs under TCG on 2 cores).
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// A topology and the turn it holds; the topology is dropped (torn down) first.
struct Lab {
    topology: Topology,
    _turn: MutexGuard<'static, ()>,
}

impl Lab {
    /// Panics with `context`, `error`, both hosts' state (IPv4 too), the
    /// appliance's console and its non-zero counters.
    fn fail(&self, context: &str, error: impl std::fmt::Display) -> ! {
        panic!(
            "{context}: {error}\n--- pure6 counters (non-zero) ---\n{}--- topology state ---\n{}",
            self.topology.counters_report(|_| true),
            self.topology.diagnostics()
        )
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
    let machine = Machine::new(image)
        .machine_type(MachineType::Microvm)
        .config_text(config());
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
    configure_ipv6_host(&lab);
    configure_ipv4_host(&lab);
    lab
}

/// The IPv6 host: no SLAAC, MTU 1280, the static address the EAM names,
/// and a default route via pure6's lan address.
fn configure_ipv6_host(lab: &Lab) {
    let host = lab.host(SIX);
    if let Err(error) = host.set_mtu(LAN_MTU) {
        lab.fail(&format!("cannot set host {SIX}'s MTU to {LAN_MTU}"), error);
    }
    if let Err(error) = host.configure_static_ipv6(
        &[SIX_ADDRESS],
        64,
        LAN_ADDRESS,
        ADDRESS_TIMEOUT,
        &mut |_| {},
    ) {
        lab.fail(&format!("cannot configure host {SIX}"), error);
    }
}

/// The IPv4 host: IPv6 off, MTU 1500, 192.0.2.10/24, a default route and
/// a route to the EAM's prefix via pure6's uplink address.
fn configure_ipv4_host(lab: &Lab) {
    let host = lab.host(FOUR);
    if let Err(error) = host.set_mtu(UPLINK_MTU) {
        lab.fail(
            &format!("cannot set host {FOUR}'s MTU to {UPLINK_MTU}"),
            error,
        );
    }
    if let Err(error) = host.configure_ipv4_only(
        FOUR_ADDRESS,
        UPLINK_PREFIX_LENGTH,
        UPLINK_ADDRESS,
        &[MAPPED_PREFIX],
        &mut |_| {},
    ) {
        lab.fail(&format!("cannot configure host {FOUR}"), error);
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

/// The URL of `file` on an HTTP server at `address` (an IPv6 address in brackets).
fn url(address: &str, file: &str) -> String {
    format!("http://{address}:{HTTP_PORT}/{file}")
}

/// One HTTP transfer: `server` serves `bytes` bytes bound to `bind`, and
/// `client` fetches them with curl (`family`: `-4` or `-6`) from `address`
/// (as written in a URL).
struct Transfer<'a> {
    server: &'a str,
    bind: &'a str,
    client: &'a str,
    family: &'a str,
    address: String,
    bytes: usize,
}

/// Runs `transfer`; panics unless the copy arrives intact. Returns how long curl took.
fn download(lab: &Lab, transfer: &Transfer) -> Duration {
    let Transfer {
        server,
        bind,
        client,
        family,
        address,
        bytes,
    } = transfer;
    let directory = lab
        .topology
        .scratch_directory()
        .join(format!("www-{server}"));
    std::fs::create_dir_all(&directory).expect("the scratch directory is writable");
    let file = format!("file-{bytes}.bin");
    let content = test_bytes(*bytes);
    std::fs::write(directory.join(&file), &content).expect("the scratch directory is writable");
    let server_host = lab.host(server);
    let mut http = server_host
        .spawn(&[
            "python3",
            "-m",
            "http.server",
            &HTTP_PORT.to_string(),
            "--bind",
            bind,
            "--directory",
            &directory.to_string_lossy(),
        ])
        .unwrap_or_else(|error| {
            lab.fail(&format!("cannot start the HTTP server in {server}"), error)
        });
    if let Err(error) = server_host.wait_for_tcp_listener(HTTP_PORT, LISTEN_TIMEOUT) {
        lab.fail(
            &format!(
                "the HTTP server in {server} did not listen on {bind} port {HTTP_PORT}; its output:\n{}",
                http.log()
            ),
            error,
        );
    }
    let copy: PathBuf = lab
        .topology
        .scratch_directory()
        .join(format!("{client}-from-{server}-{bytes}.bin"));
    let url = url(address, &file);
    let started = Instant::now();
    let output = lab
        .host(client)
        .exec(
            &[
                "curl",
                family,
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
        .unwrap_or_else(|error| lab.fail(&format!("curl {url} in {client} did not finish"), error));
    let elapsed = started.elapsed();
    if !output.status.success() {
        lab.fail(
            &format!(
                "curl {url} in {client} (from the server in {server}) failed ({})",
                output.status
            ),
            format!(
                "{}\nserver output:\n{}",
                String::from_utf8_lossy(&output.stderr),
                http.log()
            ),
        );
    }
    let received = std::fs::read(&copy).unwrap_or_default();
    if received != content {
        lab.fail(
            &format!("the download of {url} from {server} to {client}"),
            format!(
                "{} bytes arrived and differ from the {} served",
                received.len(),
                content.len()
            ),
        );
    }
    http.kill();
    eprintln!(
        "{client} fetched {bytes} bytes from {server} at {url} in {:.1} s",
        elapsed.as_secs_f64()
    );
    elapsed
}

/// `ping` from `host` (`family`: `-4` or `-6`) to `target`, three tries;
/// at least one answer must come back.
fn ping(lab: &Lab, host: &str, family: &str, target: &str) {
    let output = lab
        .host(host)
        .exec(
            &["ping", family, "-c", "3", "-W", "5", target],
            COMMAND_TIMEOUT,
        )
        .unwrap_or_else(|error| {
            lab.fail(&format!("ping {target} in {host} did not finish"), error)
        });
    let text = String::from_utf8_lossy(&output.stdout);
    eprintln!("{text}");
    if !output.status.success() {
        lab.fail(
            &format!("ping {family} {target} from {host} got no answer through the translator"),
            format!(
                "{}\n{text}{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            ),
        );
    }
}

/// The path MTU in `ip route get` output (`... mtu 1260 ...`), if any.
fn route_mtu(ip_route_get_output: &str) -> Option<u16> {
    let words: Vec<&str> = ip_route_get_output.split_whitespace().collect();
    words
        .iter()
        .position(|word| *word == "mtu")
        .and_then(|position| words.get(position + 1))
        .and_then(|mtu| mtu.parse().ok())
}

#[test]
fn host_tools_are_present_or_installed() {
    setup::ensure_host_tools().unwrap_or_else(|error| panic!("{error}"));
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
        route_mtu(
            "198.51.100.10 via 192.0.2.1 dev vh1 src 192.0.2.10 uid 0 \n    cache expires 598sec mtu 1260 \n"
        ),
        Some(1260)
    );
    assert_eq!(route_mtu("198.51.100.10 via 192.0.2.1 dev vh1\n"), None);
    assert_eq!(
        url(&format!("[{}]", under_pool6(FOUR_ADDRESS)), "a.bin"),
        "http://[2001:db8:64::c000:20a]:8080/a.bin"
    );
    let bytes = test_bytes(1000);
    assert_ne!(bytes[0..8], bytes[8..16]);
}

#[test]
fn hosts_ping_each_other_across_the_translator() {
    let lab = start_lab();
    ping(&lab, SIX, "-6", &under_pool6(FOUR_ADDRESS).to_string());
    ping(&lab, FOUR, "-4", &SIX_MAPPED.to_string());
    eprint!("{}", lab.counters_report(|name| name.contains("transl")));
}

#[test]
fn ipv6_host_fetches_a_page_from_an_ipv4_server() {
    let lab = start_lab();
    download(
        &lab,
        &Transfer {
            server: FOUR,
            bind: "0.0.0.0",
            client: SIX,
            family: "-6",
            address: format!("[{}]", under_pool6(FOUR_ADDRESS)),
            bytes: PAGE_BYTES,
        },
    );
}

#[test]
fn ipv4_host_fetches_a_page_from_an_ipv6_server() {
    let lab = start_lab();
    download(
        &lab,
        &Transfer {
            server: SIX,
            bind: "::",
            client: FOUR,
            family: "-4",
            address: SIX_MAPPED.to_string(),
            bytes: PAGE_BYTES,
        },
    );
}

/// The IPv6 host's link and pure6's lan port have MTU 1280, the IPv4 link
/// 1500. First a large download each way with the MSS each host derives
/// from its own link. Then the direction that needs the translator's path
/// MTU signalling: the IPv6 host advertises an MSS of 1440 (a route
/// attribute), so the IPv4 server sends 1480-byte packets with DF that
/// become 1500-byte IPv6 packets pure6 cannot forward onto the lan port;
/// the download completes only if pure6 answers with ICMPv4 Fragmentation
/// Needed (MTU 1280 - 20) and the IPv4 host lowers its path MTU, which its
/// route cache shows.
#[test]
fn large_downloads_cross_the_translator_and_its_1280_byte_lan_both_ways() {
    let lab = start_lab();
    let six_address = format!("[{}]", under_pool6(FOUR_ADDRESS));
    let from_ipv4 = Transfer {
        server: FOUR,
        bind: "0.0.0.0",
        client: SIX,
        family: "-6",
        address: six_address,
        bytes: LARGE_DOWNLOAD_BYTES,
    };
    download(&lab, &from_ipv4);
    download(
        &lab,
        &Transfer {
            server: SIX,
            bind: "::",
            client: FOUR,
            family: "-4",
            address: SIX_MAPPED.to_string(),
            bytes: LARGE_DOWNLOAD_BYTES,
        },
    );
    eprint!(
        "{}",
        lab.counters_report(|name| name.contains("too_big") || name.contains("fragment"))
    );

    let six = lab.host(SIX);
    lab.run(
        SIX,
        &[
            "ip",
            "-6",
            "route",
            "add",
            POOL6,
            "via",
            &LAN_ADDRESS.to_string(),
            "dev",
            six.link(),
            "advmss",
            &LARGE_ADVERTISED_MSS.to_string(),
        ],
        COMMAND_TIMEOUT,
    );
    download(&lab, &from_ipv4);
    let route = lab.run(
        FOUR,
        &["ip", "-4", "route", "get", &SIX_MAPPED.to_string()],
        COMMAND_TIMEOUT,
    );
    eprintln!("{FOUR}'s route to {SIX_MAPPED} after the download: {route}");
    eprint!(
        "{}",
        lab.counters_report(|name| name.contains("too_big") || name.contains("fragment"))
    );
    if route_mtu(&route) != Some(TRANSLATED_PATH_MTU) {
        lab.fail(
            &format!(
                "host {FOUR} has no path MTU of {TRANSLATED_PATH_MTU} towards {SIX_MAPPED}, so no ICMPv4 Fragmentation Needed reached it"
            ),
            route,
        );
    }
}
