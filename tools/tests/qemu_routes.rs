//! Boots the appliance with a route file in fw_cfg (`opt/pure6/routes`, issue 6): a small file that forwards, a malformed one that stops it, and the full real Internet table.
//!
//! The router's two ports are `lan0` (2001:db8:1::1/64, where a simulated
//! host with a global address sends) and `wan0` (2001:db8:2::1/64, where a
//! simulated next hop 2001:db8:2::2 answers the router's Neighbor
//! Solicitations, RFC 4861 §7.2). A packet to a destination only the route
//! file knows must come out of `wan0` to the next hop's MAC with its hop
//! limit decremented (RFC 8200 §3).
//!
//! The full-table test boots twice, from the text route file and from the
//! same file compiled (`pure6 routes compile`, `route_file::compiled`),
//! and checks that both load the same routes and forward. It reads
//! `../shared/data/ris-20260511` (relative to the workspace root) and
//! fails, naming the path, when it is missing.

use std::net::Ipv6Addr;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use etherparse::{LinkSlice, NetSlice, SlicedPacket};
use tools::full_table::{self, LAN_HOST, NEXT_HOP, ScratchDirectory};
use tools::image::{self, Flavor};
use tools::qemu::{self, ApplianceExit, Machine, READY_LINE, RunningMachine};
use tools::simulated_host::{SimulatedHost, echo_payload};

/// How long a boot with a small file may take to print the ready line.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a boot with the full table may take (TCG parses ~45 MB).
const FULL_TABLE_READY_TIMEOUT: Duration = Duration::from_secs(180);
/// How long the appliance may take to stop.
const EXIT_TIMEOUT: Duration = Duration::from_secs(60);
/// Echo Requests sent toward the destination, each awaited this long on `wan0`.
const FORWARD_ATTEMPTS: u32 = 5;
const FORWARD_WAIT: Duration = Duration::from_secs(3);
/// Guest memory for the full table: the file, the parsed routes and the FIB.
const FULL_TABLE_MEMORY_MIB: u32 = 1024;

/// The image, built once per test process (builds never run concurrently).
fn legacy_ip_image() -> PathBuf {
    static BUILD: Mutex<Option<Result<PathBuf, String>>> = Mutex::new(None);
    let mut build = BUILD
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    build
        .get_or_insert_with(|| image::build(Flavor::LegacyIp))
        .clone()
        .unwrap_or_else(|error| panic!("building the image failed: {error}"))
}

/// The two-port config of the small tests: the full table's, which also
/// maps 192.0.2.1 (see `tools::full_table::config`).
fn config() -> String {
    full_table::config()
}

/// Boots with `config` and the route file at `route_file`.
fn start(route_file: &std::path::Path, memory_mib: u32) -> RunningMachine {
    let argument = format!("name=opt/pure6/routes,file={}", route_file.display());
    Machine::new(legacy_ip_image())
        .ports(2)
        .config_text(config())
        .memory_mib(memory_mib)
        .extra_arguments(["-fw_cfg", argument.as_str()])
        .start()
        .unwrap_or_else(|error| panic!("cannot start QEMU: {error}"))
}

/// The console's `routes: N IPv6, ...` summary line.
fn summary_line(machine: &RunningMachine) -> String {
    machine
        .console_lines()
        .into_iter()
        .map(|line| line.text)
        .find(|text| text.contains("routes: ") && text.contains(" mapped IPv4, "))
        .unwrap_or_else(|| panic!("no route summary; console:\n{}", machine.transcript()))
}

/// Sends an Echo Request from a host on `lan0` to `destination` and waits
/// for the router to forward it out of `wan0` to the next hop, answering
/// the router's Neighbor Solicitations for the next hop meanwhile.
fn assert_forwarded(machine: &RunningMachine, destination: Ipv6Addr, identifier: u16) {
    let source = SimulatedHost {
        mac: [0x02, 0, 0, 0, 0x01, 0x00],
        address: LAN_HOST,
    };
    let next_hop = SimulatedHost {
        mac: [0x02, 0, 0, 0, 0x01, 0x01],
        address: NEXT_HOP,
    };
    let lan = machine.port_socket(0);
    let wan = machine.port_socket(1);
    let router_mac = qemu::port_mac(0);
    let payload = echo_payload(identifier, 0);
    let mut last_seen = None;
    for _ in 0..FORWARD_ATTEMPTS {
        lan.send(&source.echo_request(router_mac, destination, identifier, 0, &payload))
            .expect("lan0 socket");
        let forwarded = wan
            .receive_matching(FORWARD_WAIT, |frame| {
                if let Some(advertisement) = next_hop.answer_neighbor_solicitation(frame) {
                    wan.send(&advertisement).expect("wan0 socket");
                    return None;
                }
                let packet = SlicedPacket::from_ethernet(frame).ok()?;
                let Some(LinkSlice::Ethernet2(ethernet)) = &packet.link else {
                    return None;
                };
                let Some(NetSlice::Ipv6(ipv6)) = &packet.net else {
                    return None;
                };
                let header = ipv6.header();
                last_seen = Some(format!(
                    "{} -> {} hop limit {}",
                    header.source_addr(),
                    header.destination_addr(),
                    header.hop_limit()
                ));
                (header.destination_addr() == destination && header.source_addr() == LAN_HOST)
                    .then(|| (ethernet.destination(), header.hop_limit()))
            })
            .expect("wan0 socket");
        if let Some((mac, hop_limit)) = forwarded {
            assert_eq!(mac, next_hop.mac, "forwarded to the wrong MAC");
            // The simulated host sends with hop limit 64 (RFC 8200 §3: minus one per hop).
            assert_eq!(hop_limit, 63, "hop limit not decremented once");
            return;
        }
    }
    panic!(
        "no packet to {destination} left wan0 (last IPv6 frame there: {last_seen:?}); console:\n{}",
        machine.transcript()
    );
}

fn shut_down(machine: &RunningMachine) {
    let exit = machine
        .shutdown(EXIT_TIMEOUT)
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(exit, ApplianceExit::Clean);
}

#[test]
fn small_route_file_is_loaded_and_forwards() {
    let directory = ScratchDirectory::create("routes-small").expect("scratch directory");
    let route_file = directory.path().join("routes.txt");
    std::fs::write(
        &route_file,
        "# issue 6: a destination only this file knows\n\
         2001:db8:beef::/48 via 2001:db8:2::2\n\
         blackhole 2001:db8:dead::/48\n\
         198.51.100.0/24 via 192.0.2.1\n\
         1.1.1.0/24 via 192.0.2.1\n\
         8.8.8.0/24 via 192.0.2.99\n",
    )
    .expect("write the route file");
    let machine = start(&route_file, 128);
    machine
        .wait_for_line(READY_LINE, READY_TIMEOUT)
        .unwrap_or_else(|error| panic!("{error}"));
    let summary = summary_line(&machine);
    // 198.51.100.0/24 is TEST-NET-2: not global, so RFC 6052 §3.1 keeps it
    // out of 64:ff9b::/96; 192.0.2.99 is not in the next-hop table.
    assert!(
        summary.contains(
            "routes: 2 IPv6, 1 mapped IPv4, 2 rejected (next-hop-not-in-table 1, \
             non-global-under-well-known-prefix 1), FIB "
        ) && summary.contains(" KiB, loaded in "),
        "unexpected summary {summary:?}"
    );
    assert_forwarded(&machine, "2001:db8:beef::1".parse().unwrap(), 0x6001);
    // 1.1.1.1 under 64:ff9b::/96, through the FIB's IPv4 fast path.
    assert_forwarded(&machine, "64:ff9b::101:101".parse().unwrap(), 0x6004);
    shut_down(&machine);
}

#[test]
fn malformed_route_file_stops_the_appliance() {
    let directory = ScratchDirectory::create("routes-malformed").expect("scratch directory");
    let route_file = directory.path().join("routes.txt");
    std::fs::write(
        &route_file,
        "2001:db8:beef::/48 via 2001:db8:2::2\n\
         # the next line has host bits set\n\
         2001:db8:beef::1/48 via 2001:db8:2::2\n",
    )
    .expect("write the route file");
    let transcript = assert_stops_with_configuration_error(&route_file);
    assert!(
        transcript.contains("routes: opt/pure6/routes: line 3: "),
        "the malformed line's number is not on the console:\n{transcript}"
    );
    assert!(
        transcript.contains("file_required"),
        "the console does not say why it stopped:\n{transcript}"
    );
}

/// Boots with `route_file`, expects the appliance to stop with the
/// configuration-error status before it is ready; returns the console.
fn assert_stops_with_configuration_error(route_file: &std::path::Path) -> String {
    let machine = start(route_file, 128);
    let status = machine
        .wait_for_exit(READY_TIMEOUT)
        .unwrap_or_else(|error| panic!("{error}"));
    let transcript = machine.transcript();
    assert_eq!(
        ApplianceExit::from_status(status),
        ApplianceExit::ConfigurationError,
        "console:\n{transcript}"
    );
    assert!(
        !transcript.contains(READY_LINE),
        "the appliance said it was ready:\n{transcript}"
    );
    transcript
}

#[test]
fn damaged_compiled_route_file_stops_the_appliance() {
    let directory = ScratchDirectory::create("routes-damaged").expect("scratch directory");
    let route_file = directory.path().join("routes.bin");
    let mut bytes = netstack::route_file::compiled::compile(
        "2001:db8:beef::/48 via 2001:db8:2::2\n2001:db8:cafe::/48 via 2001:db8:2::2\n",
        10,
    )
    .expect("compiles");
    // The two routes swapped: out of order. The appliance checks the
    // records while it loads them; it must still refuse the file whole.
    let next_hops = u32::from_le_bytes(bytes[12..16].try_into().expect("4 bytes")) as usize;
    let first_route = 32 + 40 * next_hops;
    let mut swapped = bytes.clone();
    let (first, second) = swapped[first_route..first_route + 40].split_at_mut(20);
    first.swap_with_slice(second);
    std::fs::write(&route_file, &swapped).expect("write the route file");
    let transcript = assert_stops_with_configuration_error(&route_file);
    assert!(
        transcript.contains(
            "routes: opt/pure6/routes: not a valid compiled route file: IPv6 route 1: not in strictly ascending order"
        ),
        "the console does not name the bad record:\n{transcript}"
    );
    // Cut the last route short: the header's counts no longer fit.
    bytes.truncate(bytes.len() - 3);
    std::fs::write(&route_file, &bytes).expect("write the route file");
    let transcript = assert_stops_with_configuration_error(&route_file);
    assert!(
        transcript.contains("routes: opt/pure6/routes: not a valid compiled route file: "),
        "the console does not say what is wrong:\n{transcript}"
    );
}

#[test]
fn full_internet_table_boots_and_forwards() {
    let started = Instant::now();
    let data = full_table::data_directory();
    assert!(
        data.is_dir(),
        "the RIS data folder {} ({} relative to the workspace root) is missing",
        data.display(),
        full_table::DATA_DIRECTORY
    );
    let directory = ScratchDirectory::create("routes-full").expect("scratch directory");
    let table =
        full_table::write(&data, directory.path()).unwrap_or_else(|error| panic!("{error}"));
    let written = started.elapsed();
    eprintln!(
        "full table: {} IPv6 + {} IPv4 routes, {} bytes written in {:.1} s",
        table.ipv6_routes,
        table.ipv4_routes,
        table.bytes,
        written.as_secs_f64(),
    );
    let text_summary = boot_full_table(&table, &table.route_file, "text");
    // The same table compiled (`pure6 routes compile`) loads the same routes.
    let compiled = full_table::compile(&table).unwrap_or_else(|error| panic!("{error}"));
    let compiled_summary = boot_full_table(&table, &compiled, "compiled");
    let counts = |summary: &str| {
        summary
            .split(", loaded in")
            .next()
            .unwrap_or("")
            .to_string()
    };
    let text_counts = counts(&text_summary);
    let text_counts = text_counts
        .split("routes: ")
        .nth(1)
        .unwrap_or_else(|| panic!("no counts in {text_summary:?}"));
    assert!(
        compiled_summary.contains(text_counts),
        "the compiled file loads what the text loads: {text_summary:?} vs {compiled_summary:?}"
    );
    eprintln!("full table test: {:.1} s", started.elapsed().as_secs_f64());
}

/// Boots with the full table from `route_file`, checks that every IPv6
/// route was installed and that a destination only the table knows is
/// forwarded (both families); returns the route summary line.
fn boot_full_table(
    table: &full_table::FullTable,
    route_file: &std::path::Path,
    kind: &str,
) -> String {
    let machine = start(route_file, FULL_TABLE_MEMORY_MIB);
    let ready = machine
        .wait_for_console_line(
            READY_LINE,
            |line| line.contains(READY_LINE),
            FULL_TABLE_READY_TIMEOUT,
        )
        .unwrap_or_else(|error| panic!("{error}"));
    let summary = summary_line(&machine);
    eprintln!(
        "full table, {kind} file: ready {:.2} s after QEMU started; {summary}",
        ready.since_start.as_secs_f64()
    );
    assert!(
        summary.contains(&format!("routes: {} IPv6, ", table.ipv6_routes)),
        "not every IPv6 route was installed: {summary:?}"
    );
    assert_forwarded(&machine, table.ipv6_destination, 0x6002);
    assert_forwarded(&machine, table.mapped_destination, 0x6003);
    shut_down(&machine);
    summary
}
