//! `cargo xtask run`: pure6 doing its main job between an IPv6-only host and an IPv4-only web server, shown step by step.
//!
//! As root, [`real_hosts`] builds a [`Topology`] of two real Linux hosts
//! (network namespaces, tap devices) and boots the appliance between them
//! with [`DEMO_CONFIG`]:
//!
//! ```text
//!  host "six" (IPv6 only)               pure6                   host "four" (IPv4 only)
//!  2001:db8:1::a (SIIT, EAM)    port 0 "lan"    port 1 "uplink"   192.0.2.10/24, web server
//!  2001:db8:1::b (NAT64)        2001:db8:1::1/64  192.0.2.1/24 ── default via 192.0.2.1
//!  DNS64 resolver (unbound)  ── default via 2001:db8:1::1
//! ```
//!
//! It then starts a web server on each host and an `unbound` DNS64
//! resolver on six ([`crate::dns64`]) that knows `four.test` only by its
//! IPv4 address, and shows, printing every command and what came back:
//!
//! 1. six resolving `four.test` to the synthesized 2001:db8:64::c000:20a;
//! 2. six fetching `http://four.test/` from 2001:db8:1::b: stateful NAT64,
//!    four sees the request come from the pool4 address 192.0.2.1;
//! 3. the same from 2001:db8:1::a: SIIT with the explicit address mapping,
//!    four sees 198.51.100.10;
//! 4. four fetching `http://198.51.100.10/` from a web server on six: an
//!    IPv4-only host opening a connection to an IPv6-only one;
//! 5. the router's non-zero counters (its console's `counters` command).
//!
//! Then the appliance is shut down and everything torn down, or, with
//! `keep`, left up with the commands for a shell in each host printed,
//! until the stop flag is raised (`cargo xtask run` raises it on Ctrl-C and
//! SIGTERM). If unbound cannot be started, the fetches use the synthesized
//! address directly and the report says why.
//!
//! Without root, [`simulated_hosts`] boots the appliance with a simulated
//! host on every port (frames over sockets, see [`crate::simulated_host`]):
//! each resolves the router's link-local address and pings it. With the
//! legacy-ip image and no configuration of the operator's, it boots
//! [`DEMO_CONFIG`] and the simulated hosts also exchange a UDP datagram
//! through NAT64 (from 2001:db8:1::b) and through SIIT (from
//! 2001:db8:1::a) with a simulated 192.0.2.10 on the uplink, which answers
//! ARP and echoes the datagram. [`explain_real_hosts`] says what root
//! would add.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::dns64::{Dns64Resolver, Dns64Settings};
use crate::image;
use crate::qemu::{
    self, Accelerator, ApplianceExit, Counters, Machine, MachineType, READY_LINE, RunningMachine,
};
use crate::setup;
use crate::simulated_host::{self, Retry, SimulatedHost, UnexpectedFrame, format_mac};
use crate::simulated_ipv4_host::arp_reply;
use crate::topology::{BackgroundProcess, Host, Topology};
use etherparse::{NetSlice, PacketBuilder, SlicedPacket, TransportSlice};

/// The demo's configuration, relative to the workspace root.
pub const DEMO_CONFIG: &str = "qemu/demo.toml";
/// The IPv6-only host, on port 0 ("lan").
pub const SIX: &str = "six";
/// The IPv4-only host, on port 1 ("uplink").
pub const FOUR: &str = "four";
/// pure6's address on the lan port: six's default router.
pub const LAN_ADDRESS: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x1, 0, 0, 0, 0, 1);
/// six's address named by the explicit address mapping: translated by SIIT.
pub const SIX_MAPPED_SOURCE: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x1, 0, 0, 0, 0, 0xa);
/// six's address no mapping names: translated by NAT64.
pub const SIX_NAT64_SOURCE: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x1, 0, 0, 0, 0, 0xb);
/// The prefix length of the lan subnet.
pub const LAN_PREFIX_LENGTH: u8 = 64;
/// The IPv4 side of the mapping: how four sees (and reaches) [`SIX_MAPPED_SOURCE`].
pub const SIX_MAPPED: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 10);
/// pure6's address on the uplink, four's gateway and the NAT64 pool4 address.
pub const UPLINK_ADDRESS: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
/// four's address.
pub const FOUR_ADDRESS: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
/// The uplink subnet's prefix length.
pub const UPLINK_PREFIX_LENGTH: u8 = 24;
/// pool6 (RFC 6052), as in [`DEMO_CONFIG`]: the address part of 2001:db8:64::/96.
pub const POOL6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x64, 0, 0, 0, 0, 0);
/// pool6's prefix length.
pub const POOL6_LENGTH: u8 = 96;
/// The DNS zone the resolver on six serves (RFC 6761 reserves `test.`).
pub const ZONE: &str = "test";
/// four's name in [`ZONE`]: an A record only, so six gets a synthesized AAAA.
pub const FOUR_NAME: &str = "four";
/// The port both web servers listen on.
pub const HTTP_PORT: u16 = 80;

/// How long the appliance may take to print its ready line (q35 under TCG is slow).
pub const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the appliance may take to stop after `shutdown`.
pub const EXIT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one set-up command (ip, sysctl) may run.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a web server may take to listen, or six's addresses to become usable.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long curl may try to connect; it may run [`FETCH_SECONDS`] in all.
const CONNECT_SECONDS: u32 = 10;
/// How long one fetch may take in all.
const FETCH_SECONDS: u32 = 20;
/// How long the web server's log line about a request may take to appear.
const SERVER_LOG_TIMEOUT: Duration = Duration::from_secs(3);
/// How often the waits here look again.
const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// With `keep`, the topology is torn down after this long even if nobody stops it.
pub const KEEP_LIMIT: Duration = Duration::from_secs(24 * 60 * 60);
/// How the simulated hosts retry Neighbor Solicitations and Echo Requests.
const SIMULATED_RETRY: Retry = Retry {
    attempts: 3,
    timeout: Duration::from_secs(2),
};
/// Echo Requests per port from the simulated hosts.
const SIMULATED_PINGS: u16 = 3;

/// The demo configuration's path.
pub fn demo_config_path() -> PathBuf {
    image::workspace_root().join(DEMO_CONFIG)
}

/// `address` under pool6 (RFC 6052 section 2.2, a /96: the last 32 bits).
pub fn under_pool6(address: Ipv4Addr) -> Ipv6Addr {
    Ipv6Addr::from(u128::from(POOL6) | u128::from(u32::from(address)))
}

/// What [`real_hosts`] runs.
#[derive(Clone, Debug)]
pub struct RealHostsOptions {
    /// The legacy-ip appliance image.
    pub image: PathBuf,
    /// The configuration handed to the appliance: [`demo_config_path`]
    /// unless the operator gives another (the steps assume its addresses).
    pub config: PathBuf,
    /// QEMU's machine type.
    pub machine_type: MachineType,
    /// QEMU's accelerator.
    pub accelerator: Accelerator,
    /// Leave everything up after the steps, until `stop` is raised.
    pub keep: bool,
    /// Raised (by a signal handler) to end the demo early, or a kept topology.
    pub stop: Arc<AtomicBool>,
}

/// Which translation a fetch goes through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Path6To4 {
    /// six, from [`SIX_NAT64_SOURCE`], to four: stateful NAT64.
    Nat64,
    /// six, from [`SIX_MAPPED_SOURCE`], to four: SIIT with the mapping.
    Siit,
    /// four to six at [`SIX_MAPPED`]: SIIT from the IPv4 side.
    SiitFromIpv4,
}

impl Path6To4 {
    /// Every fetch the demo makes, in order.
    pub const ALL: [Path6To4; 3] = [Path6To4::Nat64, Path6To4::Siit, Path6To4::SiitFromIpv4];

    /// A short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Path6To4::Nat64 => "IPv6 -> IPv4 through NAT64",
            Path6To4::Siit => "IPv6 -> IPv4 through SIIT",
            Path6To4::SiitFromIpv4 => "IPv4 -> IPv6 through SIIT",
        }
    }

    /// The address the server must see the request come from.
    pub fn expected_client(self) -> String {
        match self {
            Path6To4::Nat64 => UPLINK_ADDRESS.to_string(),
            Path6To4::Siit => SIX_MAPPED.to_string(),
            Path6To4::SiitFromIpv4 => under_pool6(FOUR_ADDRESS).to_string(),
        }
    }
}

/// One page fetched across the translator, as it went.
#[derive(Clone, Debug)]
pub struct Fetch {
    /// Which path it took.
    pub path: Path6To4,
    /// The command run, as typed in a shell.
    pub command: String,
    /// curl exited 0 with HTTP 200 and the page arrived intact.
    pub succeeded: bool,
    /// Bytes received.
    pub bytes: u64,
    /// curl's summary or its error.
    pub detail: String,
    /// The client address the web server logged, if it logged the request.
    pub seen_by_server: Option<String>,
}

impl Fetch {
    /// Whether the server saw the client address this path must produce.
    pub fn translated_as_expected(&self) -> bool {
        self.seen_by_server.as_deref() == Some(self.path.expected_client().as_str())
    }
}

/// What [`real_hosts`] found.
#[derive(Clone, Debug)]
pub struct RealHostsReport {
    /// The name six fetched four by and what it resolved to, or why the
    /// fetches used the synthesized address directly.
    pub dns64: Result<(String, Ipv6Addr), String>,
    /// The fetches, in [`Path6To4::ALL`] order.
    pub fetches: Vec<Fetch>,
    /// The router's counters after the fetches.
    pub counters: Counters,
    /// How the appliance stopped (`None` if it did not stop on request).
    pub appliance_exit: Option<ApplianceExit>,
}

impl RealHostsReport {
    /// The fetch along `path`, if it was made.
    pub fn fetch(&self, path: Path6To4) -> Option<&Fetch> {
        self.fetches.iter().find(|fetch| fetch.path == path)
    }

    /// Every fetch was made, succeeded and was translated as expected.
    pub fn every_fetch_succeeded(&self) -> bool {
        Path6To4::ALL.iter().all(|path| {
            self.fetch(*path)
                .is_some_and(|fetch| fetch.succeeded && fetch.translated_as_expected())
        })
    }
}

/// Fails with "interrupted" once `stop` is raised.
fn check_stop(stop: &AtomicBool) -> Result<(), String> {
    if stop.load(Ordering::SeqCst) {
        Err("interrupted: tearing down the hosts and QEMU".into())
    } else {
        Ok(())
    }
}

/// `command` as typed in a shell (simple quoting for words with spaces).
fn shell_line(words: &[&str]) -> String {
    words
        .iter()
        .map(|word| {
            if word.is_empty() || word.contains([' ', '%', '\'', '"', '!', '$']) {
                format!("'{}'", word.replace('\'', r"'\''"))
            } else {
                (*word).to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Prints a set-up command as it runs in `host`.
fn announce(host: &Host) -> impl FnMut(&[&str]) + '_ {
    move |command| println!("  {}# {}", host.name(), shell_line(command))
}

/// The IPv6-only host: no SLAAC, both static addresses, a default route via pure6.
fn configure_six(host: &Host) -> Result<(), String> {
    host.configure_static_ipv6(
        &[SIX_MAPPED_SOURCE, SIX_NAT64_SOURCE],
        LAN_PREFIX_LENGTH,
        LAN_ADDRESS,
        START_TIMEOUT,
        &mut announce(host),
    )
    .map_err(|error| format!("in host {SIX}: {error}"))
}

/// The IPv4-only host: IPv6 off, its address, a default route via pure6.
fn configure_four(host: &Host) -> Result<(), String> {
    host.configure_ipv4_only(
        FOUR_ADDRESS,
        UPLINK_PREFIX_LENGTH,
        UPLINK_ADDRESS,
        &[],
        &mut announce(host),
    )
    .map_err(|error| format!("in host {}: {error}", host.name()))
}

/// Writes the page `host` serves into `directory`, starts a web server on
/// `bind`, and waits until it listens.
fn start_web_server<'host>(
    host: &'host Host,
    directory: &Path,
    bind: &str,
    page: &str,
    stop: &AtomicBool,
) -> Result<BackgroundProcess<'host>, String> {
    std::fs::create_dir_all(directory)
        .and_then(|()| std::fs::write(directory.join("index.html"), page))
        .map_err(|error| format!("cannot write {}: {error}", directory.display()))?;
    let port = HTTP_PORT.to_string();
    let directory_text = directory.to_string_lossy();
    let command = [
        "python3",
        "-m",
        "http.server",
        port.as_str(),
        "--bind",
        bind,
        "--directory",
        &directory_text,
    ];
    println!("  {}# {} &", host.name(), shell_line(&command));
    let mut server = host
        .spawn(&command)
        .map_err(|error| format!("cannot start the web server in {}: {error}", host.name()))?;
    // Short waits, so that a stop request or a server that died ends it early.
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        check_stop(stop)?;
        if let Ok(Some(status)) = server.try_exit_status() {
            return Err(format!(
                "the web server in {} exited ({status}); its output:\n{}",
                host.name(),
                server.log()
            ));
        }
        match host.wait_for_tcp_listener(HTTP_PORT, POLL_INTERVAL) {
            Ok(()) => break,
            Err(error) if Instant::now() >= deadline => {
                return Err(format!(
                    "the web server in {} did not listen: {error}; its output:\n{}",
                    host.name(),
                    server.log()
                ));
            }
            Err(_) => {}
        }
    }
    Ok(server)
}

/// The page each web server serves.
fn page_of(host: &str, addresses: &str) -> String {
    format!(
        "<!doctype html>\n<title>{host}</title>\n<p>Hello from {host} ({addresses}), served through pure6.</p>\n"
    )
}

/// The client address of the last request `server` logged after `lines_before`
/// lines (python's http.server logs `CLIENT - - [date] "GET / HTTP/1.1" 200 -`).
fn logged_client(server: &BackgroundProcess, lines_before: usize) -> Option<String> {
    let deadline = Instant::now() + SERVER_LOG_TIMEOUT;
    loop {
        let log = server.log();
        let client = log
            .lines()
            .skip(lines_before)
            .filter(|line| line.contains("\"GET "))
            .filter_map(|line| line.split_whitespace().next())
            .last()
            .map(str::to_string);
        if client.is_some() || Instant::now() >= deadline {
            return client;
        }
        thread::sleep(POLL_INTERVAL);
    }
}

/// What a fetch is asked to do.
struct FetchRequest<'a, 'host> {
    path: Path6To4,
    client: &'a Host,
    /// The local address curl binds to (`--interface`), if any.
    source: Option<Ipv6Addr>,
    url: String,
    server: &'a BackgroundProcess<'host>,
    page: &'a str,
    scratch: &'a Path,
}

/// Fetches a page with curl, printing the command, what arrived and the
/// client address the server logged.
fn fetch(request: &FetchRequest) -> Fetch {
    let output_file = request
        .scratch
        .join(format!("fetched-{:?}.html", request.path));
    let _ = std::fs::remove_file(&output_file);
    let output_text = output_file.to_string_lossy().into_owned();
    let connect = CONNECT_SECONDS.to_string();
    let total = FETCH_SECONDS.to_string();
    let source = request.source.map(|source| source.to_string());
    let mut command = vec![
        "curl",
        "--silent",
        "--show-error",
        "--globoff",
        "--connect-timeout",
        &connect,
        "--max-time",
        &total,
        "--output",
        &output_text,
        "--write-out",
        "HTTP %{http_code}, %{size_download} bytes in %{time_total} s from %{remote_ip}",
    ];
    if let Some(source) = &source {
        command.extend(["--interface", source.as_str()]);
    }
    command.push(&request.url);
    let shown = format!(
        "ip netns exec {} {}",
        request.client.namespace(),
        shell_line(&command)
    );
    // What a person would type; the options that only bound the wait and
    // collect the result are named once, below it.
    let mut short = vec!["curl"];
    if let Some(source) = &source {
        short.extend(["--interface", source.as_str()]);
    }
    short.push(&request.url);
    println!("  {}# {}", request.client.name(), shell_line(&short));
    println!(
        "     (run with --max-time {FETCH_SECONDS}, the page saved to {}, curl's --write-out for the result)",
        output_file.display()
    );
    let lines_before = request.server.log().lines().count();
    let (succeeded, bytes, detail) = match request
        .client
        .exec(&command, Duration::from_secs(u64::from(FETCH_SECONDS) + 10))
    {
        Ok(output) => {
            let summary = String::from_utf8_lossy(&output.stdout).trim().to_string();
            let errors = String::from_utf8_lossy(&output.stderr).trim().to_string();
            let received = std::fs::read(&output_file).unwrap_or_default();
            let intact = received == request.page.as_bytes();
            let succeeded = output.status.success() && summary.starts_with("HTTP 200") && intact;
            let mut detail = summary;
            if !errors.is_empty() {
                detail.push_str(&format!("; curl: {errors}"));
            }
            if output.status.success() && !intact {
                detail.push_str("; the page differs from the one served");
            }
            (succeeded, received.len() as u64, detail)
        }
        Err(error) => (false, 0, error.to_string()),
    };
    let seen_by_server = if succeeded {
        logged_client(request.server, lines_before)
    } else {
        None
    };
    let result = Fetch {
        path: request.path,
        command: shown,
        succeeded,
        bytes,
        detail,
        seen_by_server,
    };
    println!(
        "  -> {}: {}",
        if result.succeeded { "ok" } else { "FAILED" },
        result.detail
    );
    if let Some(page) = std::fs::read_to_string(&output_file).ok().and_then(|page| {
        page.lines()
            .find(|line| line.starts_with("<p>"))
            .map(str::to_string)
    }) {
        println!("  -> page: {page}");
    }
    match &result.seen_by_server {
        Some(client) if result.translated_as_expected() => println!(
            "  -> the server logged the request from {client}, as {} must",
            request.path.name()
        ),
        Some(client) => println!(
            "  -> the server logged the request from {client}, but {} must show {}",
            request.path.name(),
            request.path.expected_client()
        ),
        None if result.succeeded => println!("  -> the server logged no request"),
        None => {}
    }
    result
}

/// Prints the router's non-zero counters and returns them all.
fn print_counters(appliance: &RunningMachine) -> Result<Counters, String> {
    let counters = appliance.counters().map_err(|error| error.to_string())?;
    println!("router counters (non-zero, from the console's `counters` command):");
    for ((port, name), value) in counters.iter().filter(|(_, value)| **value != 0) {
        println!("  {port:<8} {name:<40} {value}");
    }
    Ok(counters)
}

/// The step heading.
fn heading(number: usize, text: &str) {
    println!("\n[{number}] {text}");
}

/// Runs the demo on real Linux hosts (needs root): see the module comment.
/// Returns what happened; an error means the set-up itself failed (the
/// message carries the hosts' state and the appliance's console) or the
/// demo was interrupted.
pub fn real_hosts(options: &RealHostsOptions) -> Result<RealHostsReport, String> {
    let config_text = std::fs::read_to_string(&options.config)
        .map_err(|error| format!("cannot read {}: {error}", options.config.display()))?;
    netstack::config::parse(&config_text)
        .map_err(|error| format!("{}: {error}", options.config.display()))?;
    setup::ensure_host_tools()?;
    setup::ensure_qemu()?;
    check_stop(&options.stop)?;

    heading(
        1,
        "build the topology: host six (IPv6 only) on port 0, host four (IPv4 only) on port 1",
    );
    let mut topology = Topology::build(&[SIX, FOUR])
        .map_err(|error| format!("cannot build the hosts: {error}"))?;
    println!(
        "  namespaces {}; taps {} in {}",
        topology.namespaces().join(", "),
        topology.taps().join(", "),
        topology.router_namespace()
    );
    let machine = Machine::new(&options.image)
        .accelerator(options.accelerator)
        .machine_type(options.machine_type)
        .config_file(&options.config);
    let started = Instant::now();
    let appliance = topology
        .start_appliance(machine)
        .map_err(|error| format!("cannot start the appliance: {error}"))?;
    println!("  qemu: {}", appliance.command_line());
    let ready = appliance
        .wait_for_line(READY_LINE, READY_TIMEOUT)
        .map_err(|error| check_stop(&options.stop).err().unwrap_or(error.to_string()))?;
    println!(
        "  pure6 booted with {} in {:.0} ms: {}",
        options.config.display(),
        started.elapsed().as_secs_f64() * 1000.0,
        ready.trim()
    );
    let topology = topology;
    let lab = Lab {
        topology: &topology,
    };
    lab.demonstrate(options)
}

/// The built topology, borrowed by the steps (servers and resolver borrow its hosts).
struct Lab<'topology> {
    topology: &'topology Topology,
}

impl Lab<'_> {
    fn appliance(&self) -> &RunningMachine {
        self.topology
            .appliance()
            .expect("the appliance was started before the steps")
    }

    /// Adds the hosts' state and the appliance's console to `message`.
    fn explain(&self, message: String) -> String {
        format!(
            "{message}\n--- state of the demo ---\n{}",
            self.topology.diagnostics()
        )
    }

    /// [`Lab::explain`], unless the demo is stopping: then just "interrupted".
    fn explain_unless_stopped(&self, message: String, stop: &AtomicBool) -> String {
        match check_stop(stop) {
            Err(interrupted) => interrupted,
            Ok(()) => self.explain(message),
        }
    }

    fn demonstrate(&self, options: &RealHostsOptions) -> Result<RealHostsReport, String> {
        let six = self.topology.host(SIX);
        let four = self.topology.host(FOUR);
        let scratch = self.topology.scratch_directory();
        check_stop(&options.stop)?;

        heading(
            2,
            "configure the hosts: static addresses (the mapping names six's), default routes via pure6",
        );
        configure_six(six).map_err(|error| self.explain_unless_stopped(error, &options.stop))?;
        configure_four(four).map_err(|error| self.explain_unless_stopped(error, &options.stop))?;
        check_stop(&options.stop)?;

        heading(3, "start a web server on each host");
        let four_page = page_of(FOUR, &format!("{FOUR_ADDRESS}, IPv4 only"));
        let six_page = page_of(
            SIX,
            &format!("{SIX_MAPPED_SOURCE} and {SIX_NAT64_SOURCE}, IPv6 only"),
        );
        let stop = &options.stop;
        let four_server =
            start_web_server(four, &scratch.join("www-four"), "0.0.0.0", &four_page, stop)
                .map_err(|error| self.explain_unless_stopped(error, stop))?;
        let six_server = start_web_server(six, &scratch.join("www-six"), "::", &six_page, stop)
            .map_err(|error| self.explain_unless_stopped(error, stop))?;
        check_stop(&options.stop)?;

        heading(
            4,
            &format!(
                "DNS64 on six: unbound knows {FOUR_NAME}.{ZONE} only as A {FOUR_ADDRESS} and synthesizes its AAAA under pool6"
            ),
        );
        let settings = Dns64Settings {
            prefix: POOL6,
            prefix_length: POOL6_LENGTH,
            zone: ZONE.to_string(),
            records: vec![(FOUR_NAME.to_string(), FOUR_ADDRESS)],
            listen: Ipv6Addr::LOCALHOST,
        };
        let synthesized = under_pool6(FOUR_ADDRESS);
        let name = format!("{FOUR_NAME}.{ZONE}");
        let (resolver, dns64) = match Dns64Resolver::start(six, scratch, settings) {
            Ok(resolver) => {
                println!(
                    "  {SIX}# unbound -d -c .../unbound.conf &   (module-config: \"dns64 iterator\", dns64-prefix: {POOL6}/{POOL6_LENGTH})"
                );
                let command = ["getent", "ahostsv6", name.as_str()];
                println!("  {SIX}# {}", shell_line(&command));
                let answer = six
                    .run(&command, COMMAND_TIMEOUT)
                    .map_err(|error| error.to_string())
                    .and_then(|text| {
                        text.lines()
                            .filter_map(|line| line.split_whitespace().next())
                            .find_map(|address| address.parse::<Ipv6Addr>().ok())
                            .ok_or_else(|| format!("no IPv6 address in {text:?}"))
                    });
                match answer {
                    Ok(address) => {
                        println!(
                            "  -> {name} is {address} (192.0.2.10 under {POOL6}/{POOL6_LENGTH})"
                        );
                        (Some(resolver), Ok((name.clone(), address)))
                    }
                    Err(error) => {
                        println!("  -> FAILED: {error}");
                        (
                            Some(resolver),
                            Err(format!("{name} did not resolve: {error}")),
                        )
                    }
                }
            }
            Err(error) => {
                println!("  -> DNS64 is not available: {error}");
                println!(
                    "  -> the fetches below use the synthesized address {synthesized} instead of a name"
                );
                (None, Err(error.to_string()))
            }
        };
        let four_host_in_url = match &dns64 {
            Ok((name, _)) => name.clone(),
            Err(_) => format!("[{synthesized}]"),
        };
        check_stop(&options.stop)?;

        let mut fetches = Vec::new();
        heading(
            5,
            &format!(
                "six fetches four's page from {SIX_NAT64_SOURCE}, which no mapping names: stateful NAT64, four must see the pool4 address {UPLINK_ADDRESS}"
            ),
        );
        fetches.push(fetch(&FetchRequest {
            path: Path6To4::Nat64,
            client: six,
            source: Some(SIX_NAT64_SOURCE),
            url: format!("http://{four_host_in_url}/"),
            server: &four_server,
            page: &four_page,
            scratch,
        }));
        check_stop(&options.stop)?;

        heading(
            6,
            &format!(
                "six fetches it again from {SIX_MAPPED_SOURCE}: SIIT with the explicit address mapping, four must see {SIX_MAPPED}"
            ),
        );
        fetches.push(fetch(&FetchRequest {
            path: Path6To4::Siit,
            client: six,
            source: Some(SIX_MAPPED_SOURCE),
            url: format!("http://{four_host_in_url}/"),
            server: &four_server,
            page: &four_page,
            scratch,
        }));
        check_stop(&options.stop)?;

        heading(
            7,
            &format!(
                "four (IPv4 only) fetches six's page at {SIX_MAPPED}: SIIT from the IPv4 side, six must see {}",
                under_pool6(FOUR_ADDRESS)
            ),
        );
        fetches.push(fetch(&FetchRequest {
            path: Path6To4::SiitFromIpv4,
            client: four,
            source: None,
            url: format!("http://{SIX_MAPPED}/"),
            server: &six_server,
            page: &six_page,
            scratch,
        }));
        check_stop(&options.stop)?;

        heading(8, "the router's counters");
        let counters = print_counters(self.appliance())?;

        let mut report = RealHostsReport {
            dns64,
            fetches,
            counters,
            appliance_exit: None,
        };
        print_summary(&report);
        if options.keep {
            self.keep(options);
        }
        // The servers and the resolver stop before the appliance does.
        drop(resolver);
        drop(six_server);
        drop(four_server);
        if !options.stop.load(Ordering::SeqCst) {
            println!("\nshutting pure6 down (console `shutdown`); the hosts and taps go with it");
            report.appliance_exit = self.appliance().shutdown(EXIT_TIMEOUT).ok();
        }
        Ok(report)
    }

    /// Prints how to use the kept topology, then forwards console lines
    /// until `stop` is raised, QEMU exits or [`KEEP_LIMIT`] passes.
    fn keep(&self, options: &RealHostsOptions) {
        let six = self.topology.host(SIX);
        let four = self.topology.host(FOUR);
        println!("\nThe demo stays up (--keep). A shell in each host:");
        println!(
            "  six  (IPv6 only: {SIX_MAPPED_SOURCE} via SIIT, {SIX_NAT64_SOURCE} via NAT64): ip netns exec {} bash",
            six.namespace()
        );
        println!(
            "  four (IPv4 only: {FOUR_ADDRESS}):                          ip netns exec {} bash",
            four.namespace()
        );
        println!(
            "  the router's namespace (QEMU, taps, bridges):        ip netns exec {} bash",
            self.topology.router_namespace()
        );
        println!("Things to try:");
        println!(
            "  ip netns exec {} curl --interface {SIX_NAT64_SOURCE} http://{FOUR_NAME}.{ZONE}/",
            six.namespace()
        );
        println!(
            "  ip netns exec {} ping -c 3 {}",
            six.namespace(),
            under_pool6(FOUR_ADDRESS)
        );
        println!(
            "  ip netns exec {} curl http://{SIX_MAPPED}/",
            four.namespace()
        );
        println!(
            "Type pure6 console commands here (counters, ports, memory, help).\n\
             To stop: Ctrl-C here, or `kill {}` from another terminal; either tears down the namespaces, taps and QEMU.",
            std::process::id()
        );
        forward_console(self.appliance(), &options.stop, KEEP_LIMIT, false);
    }
}

/// Prints what the demo showed, one line per fetch.
fn print_summary(report: &RealHostsReport) {
    println!("\nsummary:");
    match &report.dns64 {
        Ok((name, address)) => println!("  DNS64: {name} -> {address}"),
        Err(why) => println!("  DNS64: not used ({})", why.lines().next().unwrap_or("")),
    }
    for fetch in &report.fetches {
        println!(
            "  {:<28} {} ({} bytes{})",
            fetch.path.name(),
            if fetch.succeeded && fetch.translated_as_expected() {
                "ok"
            } else {
                "FAILED"
            },
            fetch.bytes,
            fetch
                .seen_by_server
                .as_ref()
                .map_or_else(String::new, |client| format!(", server saw {client}"))
        );
    }
}

/// Forwards stdin lines to the console until `stop` is raised, QEMU exits
/// or `limit` passes; with `end_with_input`, the end of stdin shuts the
/// appliance down. Returns how QEMU exited, if it did.
pub fn forward_console(
    appliance: &RunningMachine,
    stop: &AtomicBool,
    limit: Duration,
    end_with_input: bool,
) -> Option<ApplianceExit> {
    let (sender, lines) = mpsc::channel::<Option<String>>();
    thread::spawn(move || {
        for line in io::stdin().lines() {
            let Ok(line) = line else { break };
            if sender.send(Some(line)).is_err() {
                return;
            }
        }
        let _ = sender.send(None);
    });
    let deadline = Instant::now() + limit;
    let mut input_open = true;
    while Instant::now() < deadline {
        if stop.load(Ordering::SeqCst) {
            println!("\nxtask run: stopping: tearing down QEMU, the hosts and their links");
            return None;
        }
        if let Ok(Some(status)) = appliance.try_exit_status() {
            let exit = ApplianceExit::from_status(status);
            println!("xtask run: the appliance stopped ({exit:?})");
            return Some(exit);
        }
        if !input_open {
            thread::sleep(POLL_INTERVAL);
            continue;
        }
        match lines.recv_timeout(POLL_INTERVAL) {
            Ok(Some(line)) => {
                if let Err(error) = appliance.send_console(&line) {
                    println!("xtask run: {error}");
                }
            }
            Ok(None) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                input_open = false;
                if end_with_input {
                    println!("xtask run: end of input; shutting the appliance down");
                    return appliance.shutdown(EXIT_TIMEOUT).ok();
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
    }
    println!("xtask run: {limit:?} passed; stopping");
    None
}

/// Prints why the demo runs on simulated hosts and what real hosts would show.
pub fn explain_real_hosts() {
    println!(
        "xtask run: not root, so simulated hosts (frames over sockets) stand in for real ones.\n\
         As root, `cargo xtask run` builds real Linux hosts around pure6 (network namespaces and tap\n\
         devices): an IPv6-only host fetches a page by name (DNS64, unbound) from an IPv4-only web server\n\
         through NAT64 and through SIIT, the IPv4 host fetches a page from the IPv6 host through SIIT,\n\
         and the router's counters are printed ({DEMO_CONFIG}). Run it with: sudo -E cargo xtask run"
    );
}

/// What [`simulated_hosts`] runs.
#[derive(Clone, Debug)]
pub struct SimulatedOptions {
    /// The appliance image.
    pub image: PathBuf,
    /// A configuration file for the appliance; the embedded default without one.
    pub config: Option<PathBuf>,
    /// The number of ports, 1 to 8.
    pub ports: usize,
    /// QEMU's machine type.
    pub machine_type: MachineType,
    /// QEMU's accelerator.
    pub accelerator: Accelerator,
    /// Shut down after the hosts' check instead of handing over the console.
    pub once: bool,
    /// The image has the translator: without a configuration of its own,
    /// boot [`DEMO_CONFIG`] and also send UDP through NAT64 and SIIT.
    pub translating: bool,
    /// Raised (by a signal handler) to stop.
    pub stop: Arc<AtomicBool>,
}

/// Boots the appliance with a simulated host on every port, checks each
/// port, with `translating` sends UDP through NAT64 and SIIT, prints the
/// counters, then hands the console to the operator (or, with `once`,
/// shuts down). Fails unless every port answered and every exchange came
/// back (with `once`) or the appliance stopped cleanly.
pub fn simulated_hosts(options: &SimulatedOptions) -> Result<(), String> {
    setup::ensure_qemu()?;
    let mut description = Machine::new(&options.image)
        .accelerator(options.accelerator)
        .machine_type(options.machine_type)
        .ports(options.ports);
    let translating = options.translating && options.ports >= 2;
    match &options.config {
        Some(config) => description = description.config_file(config),
        None if translating => description = description.config_file(demo_config_path()),
        None => {}
    }
    let appliance = description.start().map_err(|error| error.to_string())?;
    println!("xtask run: {}", appliance.command_line());
    appliance.start_echo();
    appliance
        .wait_for_line(READY_LINE, READY_TIMEOUT)
        .map_err(|error| error.to_string())?;
    let mut every_port_answered = check_ports(&appliance)?;
    if translating {
        if options.config.is_some() {
            println!(
                "xtask run: the UDP exchanges below assume {DEMO_CONFIG}'s addresses; with another configuration they may fail"
            );
        }
        appliance.set_echo(false);
        for source in [SIX_NAT64_SOURCE, SIX_MAPPED_SOURCE] {
            every_port_answered &= simulated_udp_exchange(&appliance, source);
        }
        appliance.set_echo(true);
    }
    appliance.set_echo(false);
    let counters = print_counters(&appliance);
    appliance.set_echo(true);
    counters?;
    if options.once {
        let exit = appliance
            .shutdown(EXIT_TIMEOUT)
            .map_err(|error| error.to_string())?;
        return match (every_port_answered, exit) {
            (true, ApplianceExit::Clean) => Ok(()),
            (true, exit) => Err(format!("the appliance stopped with {exit:?}")),
            (false, _) => Err(
                "not every port answered its simulated host, or a UDP exchange through the translator failed".into(),
            ),
        };
    }
    println!(
        "xtask run: type console commands (counters, ports, memory, shutdown, help); Ctrl-C stops QEMU"
    );
    match forward_console(&appliance, &options.stop, KEEP_LIMIT, true) {
        Some(ApplianceExit::Clean) => Ok(()),
        Some(exit) => Err(format!("the appliance stopped with {exit:?}")),
        None => {
            appliance.kill();
            Ok(())
        }
    }
}

/// The simulated IPv4 server's MAC address on the uplink.
const SIMULATED_FOUR_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x04, 0x0a];
/// The simulated IPv6 host's MAC address on the lan.
const SIMULATED_SIX_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x06, 0x0a];
/// The UDP port the simulated IPv6 host sends from.
const SIMULATED_CLIENT_PORT: u16 = 40000;
/// The UDP port the simulated IPv4 server answers on (echo).
const SIMULATED_SERVER_PORT: u16 = 7;
/// How long each side of a simulated exchange waits for its frame.
const SIMULATED_EXCHANGE_TIMEOUT: Duration = Duration::from_secs(5);

/// A UDP datagram in an IPv4 frame, as the simulated uplink host received it.
struct Ipv4Datagram {
    source: Ipv4Addr,
    source_port: u16,
    destination: Ipv4Addr,
    destination_port: u16,
    payload: Vec<u8>,
    /// The Ethernet source: the router's uplink MAC.
    sender_mac: [u8; 6],
}

/// The UDP datagram in `frame`, if it is IPv4 UDP.
fn ipv4_udp(frame: &[u8]) -> Option<Ipv4Datagram> {
    let sliced = SlicedPacket::from_ethernet(frame).ok()?;
    let (Some(NetSlice::Ipv4(ipv4)), Some(TransportSlice::Udp(udp))) =
        (&sliced.net, &sliced.transport)
    else {
        return None;
    };
    let header = ipv4.header();
    Some(Ipv4Datagram {
        source: header.source_addr(),
        source_port: udp.source_port(),
        destination: header.destination_addr(),
        destination_port: udp.destination_port(),
        payload: udp.payload().to_vec(),
        sender_mac: frame.get(6..12)?.try_into().ok()?,
    })
}

/// With [`DEMO_CONFIG`] booted and simulated hosts: the lan host sends a UDP
/// datagram from `source` to four's address under pool6; the uplink host
/// (192.0.2.10) answers ARP, receives it translated, and echoes it back;
/// the lan host receives the translated answer. Prints each side; returns
/// whether the answer arrived.
fn simulated_udp_exchange(appliance: &RunningMachine, source: Ipv6Addr) -> bool {
    let (lan, uplink) = (appliance.port_socket(0), appliance.port_socket(1));
    let six = SimulatedHost::with_address(SIMULATED_SIX_MAC, source);
    let four = under_pool6(FOUR_ADDRESS);
    let translation = if source == SIX_MAPPED_SOURCE {
        "SIIT"
    } else {
        "NAT64"
    };
    let payload = format!("hello from {source} through {translation}");
    println!(
        "simulated UDP through {translation}: lan host [{source}]:{SIMULATED_CLIENT_PORT} -> [{four}]:{SIMULATED_SERVER_PORT} {payload:?}"
    );
    let mut frame = Vec::new();
    let built = PacketBuilder::ethernet2(six.mac, qemu::port_mac(0))
        .ipv6(source.octets(), four.octets(), 64)
        .udp(SIMULATED_CLIENT_PORT, SIMULATED_SERVER_PORT)
        .write(&mut frame, payload.as_bytes());
    let _ = lan.drain();
    let _ = uplink.drain();
    if let Err(error) = built
        .map_err(|error| error.to_string())
        .and_then(|()| lan.send(&frame).map_err(|error| error.to_string()))
    {
        println!("  -> FAILED: cannot send: {error}");
        return false;
    }
    // The uplink side: answer ARP for 192.0.2.10 until the datagram arrives.
    let deadline = Instant::now() + SIMULATED_EXCHANGE_TIMEOUT;
    let mut received = None;
    while received.is_none() && Instant::now() < deadline {
        let Ok(Some(frame)) = uplink.receive(deadline.saturating_duration_since(Instant::now()))
        else {
            break;
        };
        if let Some(reply) = arp_reply(&frame, SIMULATED_FOUR_MAC, FOUR_ADDRESS) {
            let _ = uplink.send(&reply);
        } else if let Some(datagram) = ipv4_udp(&frame) {
            received = Some(datagram);
        }
    }
    let Some(datagram) = received else {
        println!(
            "  -> FAILED: no translated datagram reached the uplink host in {SIMULATED_EXCHANGE_TIMEOUT:?}"
        );
        return false;
    };
    println!(
        "  -> uplink host {}:{} received {} bytes from {}:{} ({}); echoing them",
        datagram.destination,
        datagram.destination_port,
        datagram.payload.len(),
        datagram.source,
        datagram.source_port,
        if translation == "NAT64" {
            "the pool4 address, a port of the NAT64's choosing"
        } else {
            "the address mapping's IPv4 side"
        }
    );
    let mut answer = Vec::new();
    let built = PacketBuilder::ethernet2(SIMULATED_FOUR_MAC, datagram.sender_mac)
        .ipv4(datagram.destination.octets(), datagram.source.octets(), 64)
        .udp(datagram.destination_port, datagram.source_port)
        .write(&mut answer, &datagram.payload);
    if built.is_err() || uplink.send(&answer).is_err() {
        println!("  -> FAILED: cannot send the answer");
        return false;
    }
    let answered = six.receive_answering_solicitations(
        lan,
        SIMULATED_EXCHANGE_TIMEOUT,
        "the translated answer",
        |frame| {
            let sliced = SlicedPacket::from_ethernet(frame)
                .map_err(|error| UnexpectedFrame(error.to_string()))?;
            match (&sliced.net, &sliced.transport) {
                (Some(NetSlice::Ipv6(ipv6)), Some(TransportSlice::Udp(udp)))
                    if udp.destination_port() == SIMULATED_CLIENT_PORT =>
                {
                    Ok((
                        ipv6.header().source_addr(),
                        udp.source_port(),
                        udp.payload().to_vec(),
                    ))
                }
                _ => Err(UnexpectedFrame("not the UDP answer".into())),
            }
        },
    );
    match answered {
        Ok((from, port, data)) => {
            println!(
                "  -> lan host received {} bytes back from [{from}]:{port}: {:?}",
                data.len(),
                String::from_utf8_lossy(&data)
            );
            from == four && data == payload.as_bytes()
        }
        Err(error) => {
            println!("  -> FAILED: {error}");
            false
        }
    }
}

/// On every port, as a simulated host: resolve the router's link-local
/// address and ping it. Returns whether every port answered fully.
fn check_ports(appliance: &RunningMachine) -> Result<bool, String> {
    appliance.set_echo(false);
    let statuses = appliance.ports().map_err(|error| error.to_string());
    appliance.set_echo(true);
    let mut every_port_answered = true;
    for (index, status) in statuses?.into_iter().enumerate() {
        let port = appliance.port_socket(index);
        let host = SimulatedHost::new([0x02, 0x00, 0x00, 0x00, 0x01, index as u8]);
        let router_mac = status.mac.unwrap_or_else(|| qemu::port_mac(index));
        let router_address = status
            .link_local
            .unwrap_or_else(|| simulated_host::link_local_from_mac(router_mac));
        let name = status.name.unwrap_or_else(|| "?".into());
        let heading = format!("host on port{index} ({name}): {router_address}");
        let advertisement = match host.resolve(port, router_address, SIMULATED_RETRY) {
            Ok(advertisement) => advertisement,
            Err(error) => {
                println!("{heading}: {error}");
                every_port_answered = false;
                continue;
            }
        };
        let advertised = advertisement
            .target_mac
            .map_or_else(|| "no link-layer address".into(), format_mac);
        let report = host
            .ping(
                port,
                router_mac,
                router_address,
                0x7000 + index as u16,
                SIMULATED_PINGS,
                SIMULATED_RETRY,
            )
            .map_err(|error| format!("{heading}: {error}"))?;
        let round_trips = match report
            .round_trips
            .iter()
            .min()
            .zip(report.round_trips.iter().max())
        {
            Some((fastest, slowest)) => {
                let total: Duration = report.round_trips.iter().sum();
                let average = total / report.round_trips.len() as u32;
                format!(
                    ", rtt min/avg/max {}/{}/{} ms",
                    milliseconds(*fastest),
                    milliseconds(average),
                    milliseconds(*slowest)
                )
            }
            None => String::new(),
        };
        println!(
            "{heading}: NA from {advertised}, {}/{SIMULATED_PINGS} echo replies{round_trips}",
            report.replies()
        );
        every_port_answered &=
            advertisement.target_mac == Some(router_mac) && report.missing.is_empty();
    }
    Ok(every_port_answered)
}

/// `duration` in milliseconds with one decimal.
pub fn milliseconds(duration: Duration) -> String {
    format!("{:.1}", duration.as_secs_f64() * 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_configuration_is_accepted_and_matches_the_steps() {
        let text = std::fs::read_to_string(demo_config_path()).expect("qemu/demo.toml is there");
        if let Err(error) = netstack::config::parse(&text) {
            panic!("{DEMO_CONFIG} is rejected: {error}");
        }
        for expected in [
            format!("pool6 = \"{POOL6}/{POOL6_LENGTH}\""),
            format!("ipv4 = \"{SIX_MAPPED}/32\""),
            format!("ipv6 = \"{SIX_MAPPED_SOURCE}/128\""),
            format!("pool4 = [{{ prefix = \"{UPLINK_ADDRESS}\" }}]"),
            format!("address = \"{UPLINK_ADDRESS}/{UPLINK_PREFIX_LENGTH}\""),
            format!("addresses = [\"{LAN_ADDRESS}/{LAN_PREFIX_LENGTH}\"]"),
        ] {
            assert!(text.contains(&expected), "{DEMO_CONFIG} lacks {expected}");
        }
    }

    #[test]
    fn addresses_under_pool6_are_computed() {
        assert_eq!(
            under_pool6(FOUR_ADDRESS),
            "2001:db8:64::c000:20a".parse::<Ipv6Addr>().unwrap()
        );
        assert_eq!(Path6To4::Nat64.expected_client(), "192.0.2.1");
        assert_eq!(Path6To4::Siit.expected_client(), "198.51.100.10");
        assert_eq!(
            Path6To4::SiitFromIpv4.expected_client(),
            "2001:db8:64::c000:20a"
        );
    }

    #[test]
    fn shell_lines_quote_what_needs_it() {
        assert_eq!(
            shell_line(&["curl", "--write-out", "%{http_code} x", "http://a/"]),
            "curl --write-out '%{http_code} x' http://a/"
        );
    }

    #[test]
    fn a_fetch_is_translated_as_expected_only_with_the_right_client() {
        let mut fetch = Fetch {
            path: Path6To4::Siit,
            command: String::new(),
            succeeded: true,
            bytes: 1,
            detail: String::new(),
            seen_by_server: Some("198.51.100.10".into()),
        };
        assert!(fetch.translated_as_expected());
        fetch.seen_by_server = Some("192.0.2.1".into());
        assert!(!fetch.translated_as_expected());
        let report = RealHostsReport {
            dns64: Err("not started".into()),
            fetches: vec![fetch],
            counters: Counters::new(),
            appliance_exit: None,
        };
        assert!(!report.every_fetch_succeeded());
    }
}
