//! The pure6 appliance: boots, finds its virtio-net ports and runs the router's poll loop.
//!
//! The kernel is thin (ARCHITECTURE.md rule 6): everything that can run on
//! a host lives in `netstack`. What is here needs the hardware: the boot
//! hand-off, memory, the console and clock, fw_cfg, PCI and virtio. The
//! loop is only: poll every port's receive queue, hand frames to the
//! router, transmit what it returns, run its timers, and serve the console.
//!
//! At boot the route file (`opt/pure6/routes`, issue 6) is read from fw_cfg,
//! parsed by `netstack::route_file` with the config's options and loaded
//! into the router's FIB; a file with malformed lines stops the appliance
//! (configuration-error status) unless `[routes] file_required = false`.
#![no_std]
#![no_main]
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

extern crate alloc;

mod clock;
mod console;
mod drivers;
mod exit;
mod firmware_config;
mod memory;

use alloc::string::String;
use alloc::vec::Vec;

use drivers::network_port::NetworkPort;
use drivers::virtio::SharedTransport;
use exit::ExitStatus;
use netstack::config::{self, Config};
use netstack::route_file;
use netstack::router::{CompiledLoadError, NicInfo, PortIndex, Router};

/// Where operators hand in the configuration (`-fw_cfg name=...,file=...`).
const CONFIG_FILE_NAME: &str = "opt/pure6/config.toml";
/// Where operators hand in the route file (`netstack::route_file`; issue 6).
const ROUTE_FILE_NAME: &str = "opt/pure6/routes";
/// How long to wait for every link to come up before starting anyway.
const LINK_WAIT_MICROS: i64 = 5_000_000;

boot::entry_point!(kernel_main, on_exception);

/// What this image was built with, for the boot banner.
#[cfg(feature = "legacy-ip")]
const FEATURES: &str = "IPv6 + legacy-ip translator";
/// What this image was built with, for the boot banner.
#[cfg(not(feature = "legacy-ip"))]
const FEATURES: &str = "IPv6 only";

fn kernel_main(info: boot::BootInfo) -> ! {
    clock::start();
    console::init();
    log::info!("pure6 {} ({}) booting", env!("CARGO_PKG_VERSION"), FEATURES);
    let heap = match memory::init(&info) {
        Ok(heap) => heap,
        Err(why) => stop_with(ExitStatus::HardwareError, format_args!("memory: {why}")),
    };
    log::info!(
        "memory: heap {} MiB at {:#x}, caching {:?}",
        heap.size >> 20,
        heap.start,
        info.memory_types
    );
    match clock::calibrate() {
        Ok((hz, source)) => log::info!(
            "clock: TSC {}.{:03} MHz ({source:?})",
            hz / 1_000_000,
            hz / 1_000 % 1_000
        ),
        Err(why) => stop_with(ExitStatus::HardwareError, format_args!("clock: {why}")),
    }
    let config = load_config();

    let mut ports = discover_ports(&config);
    let nics: Vec<NicInfo> = ports.iter().map(|port| NicInfo { mac: port.mac }).collect();
    // The seed keys the router's hash tables (attackers must not be able to
    // predict bucket chains) and its randomised timers.
    let seed = boot::cpu::read_hardware_random().unwrap_or_else(|| {
        log::warn!("no rdrand: seeding the router from the TSC");
        boot::cpu::read_timestamp_counter() ^ clock::now().total_micros() as u64
    });
    let mut router = load_routes(&config, &nics, seed);
    for missing in config.ports_without_nic(ports.len()) {
        log::warn!(
            "config: port {} has no NIC (only {} found); it is not used",
            missing.name,
            ports.len()
        );
    }
    for (index, port) in ports.iter().enumerate() {
        let configured = if index < config.ports.len() {
            "configured"
        } else {
            "defaults: not in the config"
        };
        log::info!(
            "port{index} {}: mac {}, {}, link {}, {} ({configured})",
            port_name(&router, index),
            MacDisplay(port.mac),
            port.location,
            if port.link_up() { "up" } else { "down" },
            router
                .port_link_local(PortIndex(index))
                .unwrap_or(core::net::Ipv6Addr::UNSPECIFIED),
        );
    }
    if let Some(border) = router.border_description() {
        log::info!("translator: IPv4 uplink {border}");
    }
    wait_for_links(&ports, &router);
    log::info!("pure6: ready ({} ports)", ports.len());
    run(&mut router, &mut ports)
}

/// Reads the config from fw_cfg, or takes the embedded default. A config
/// that does not parse stops the appliance: it never forwards with a
/// configuration the operator did not write.
fn load_config() -> Config {
    let (text, source): (String, &str) = match firmware_config::FirmwareConfig::probe() {
        Some(firmware) => match firmware.read_file(CONFIG_FILE_NAME) {
            Ok(Some(bytes)) => match String::from_utf8(bytes) {
                Ok(text) => (text, CONFIG_FILE_NAME),
                Err(_) => stop_with(
                    ExitStatus::ConfigurationError,
                    format_args!("config: {CONFIG_FILE_NAME}: not UTF-8 text"),
                ),
            },
            Ok(None) => (String::from(config::DEFAULT_CONFIG), "embedded default"),
            Err(error) => stop_with(
                ExitStatus::ConfigurationError,
                format_args!("config: {CONFIG_FILE_NAME}: cannot read: {error}"),
            ),
        },
        None => (String::from(config::DEFAULT_CONFIG), "embedded default"),
    };
    if source == CONFIG_FILE_NAME {
        log::info!("config: {CONFIG_FILE_NAME} ({} bytes)", text.len());
    } else {
        log::info!("config: embedded default (no {CONFIG_FILE_NAME} given)");
    }
    match config::parse(&text) {
        Ok(config) => config,
        Err(error) => {
            log::error!("config: {source}: {error}");
            stop_with(
                ExitStatus::ConfigurationError,
                format_args!("config: not forwarding; fix the configuration"),
            )
        }
    }
}

/// Reads the route file from fw_cfg (if given): text, or a compiled route
/// file (`pure6 routes compile`, told apart by its magic bytes; refused
/// whole when damaged). Parses it with the
/// config's options, reports every malformed line (the first `[routes]
/// error_limit` of them, then a count), and builds the router with its
/// routes. A file that cannot be read, or has malformed lines while
/// `[routes] file_required` (the default), stops the appliance: it never
/// forwards with a half-loaded table. A compiled file's records are
/// checked by the same pass that loads them (one pass over a full table,
/// not two), so its report is judged after the router is built, before
/// the router is used.
fn load_routes(config: &Config, nics: &[NicInfo], seed: u64) -> Router {
    let started = clock::now();
    let bytes = match firmware_config::FirmwareConfig::probe()
        .map(|firmware| firmware.read_file(ROUTE_FILE_NAME))
    {
        None | Some(Ok(None)) => None,
        Some(Ok(Some(bytes))) => Some(bytes),
        Some(Err(error)) => stop_with(
            ExitStatus::ConfigurationError,
            format_args!("routes: {ROUTE_FILE_NAME}: cannot read: {error}; not forwarding"),
        ),
    };
    let read = clock::now();
    let given = bytes.is_some();
    let options = config.route_file_options();
    let (compiled_bytes, text_bytes) = match bytes {
        Some(bytes) if route_file::compiled::is_compiled(&bytes) => (Some(bytes), None),
        other => (None, other),
    };
    // A compiled file's header and next hops are checked here; its route
    // records are checked and read while the FIB is built, never all held
    // at once.
    let compiled = compiled_bytes.as_deref().map(|bytes| {
        log::info!(
            "routes: {ROUTE_FILE_NAME} ({} bytes, compiled)",
            bytes.len()
        );
        route_file::compiled::CompiledRoutes::open_header(bytes, &options).unwrap_or_else(|error| {
            stop_with(
                ExitStatus::ConfigurationError,
                format_args!("routes: {ROUTE_FILE_NAME}: {error}; not forwarding"),
            )
        })
    });
    let parsed = match text_bytes {
        Some(bytes) => match String::from_utf8(bytes) {
            // The text is dropped at the end of this arm: its memory goes
            // back before the FIB is built.
            Ok(text) => {
                log::info!("routes: {ROUTE_FILE_NAME} ({} bytes)", text.len());
                route_file::parse(&text, &options)
            }
            Err(error) => stop_with(
                ExitStatus::ConfigurationError,
                format_args!(
                    "routes: {ROUTE_FILE_NAME}: not UTF-8 text (byte {}) nor a compiled route file; not forwarding",
                    error.utf8_error().valid_up_to()
                ),
            ),
        },
        None => route_file::Parsed::default(),
    };
    let parsed_at = clock::now();
    let (router, summary) = match &compiled {
        Some(compiled) => {
            let (router, summary, report) =
                match Router::with_seed_and_compiled_routes(config, nics, seed, compiled) {
                    Ok(built) => built,
                    Err(CompiledLoadError::File(error)) => stop_with(
                        ExitStatus::ConfigurationError,
                        format_args!("routes: {ROUTE_FILE_NAME}: {error}; not forwarding"),
                    ),
                    Err(CompiledLoadError::Router(error)) => stop_with(
                        ExitStatus::ConfigurationError,
                        format_args!("router: {error}"),
                    ),
                };
            judge_route_file(config, &report);
            (router, summary)
        }
        None => {
            judge_route_file(config, &parsed);
            match Router::with_seed_and_routes(config, nics, seed, &parsed) {
                Ok(built) => built,
                Err(error) => stop_with(
                    ExitStatus::ConfigurationError,
                    format_args!("router: {error}"),
                ),
            }
        }
    };
    drop(compiled);
    drop(compiled_bytes);
    drop(parsed);
    if given {
        let loaded = clock::now();
        log::info!(
            "routes: {summary}, loaded in {} ms (read {} ms, parse {} ms, FIB {} ms)",
            (loaded - started).total_millis(),
            (read - started).total_millis(),
            (parsed_at - read).total_millis(),
            (loaded - parsed_at).total_millis(),
        );
        log::info!(
            "routes: by next hop: IPv6 {} via, {} blackhole; mapped IPv4 {} via, {} blackhole; \
             FIB {} routes, {} next hops; {} malformed lines skipped",
            summary.ipv6.via,
            summary.ipv6.blackhole,
            summary.mapped.via,
            summary.mapped.blackhole,
            summary.fib_routes,
            summary.fib_next_hops,
            summary.malformed_lines
        );
    } else {
        log::info!("routes: no {ROUTE_FILE_NAME}; only the config's routes");
    }
    router
}

/// Reports the route file's malformed lines (the first `[routes]
/// error_limit` of them, then a count) and stops the appliance when the
/// config does not accept a file with them (`[routes] file_required`).
fn judge_route_file(config: &Config, report: &route_file::Parsed) {
    for error in &report.errors {
        log::error!("routes: {ROUTE_FILE_NAME}: {error}");
    }
    let unreported = report.statistics.errors - report.errors.len();
    if unreported > 0 {
        log::error!("routes: {ROUTE_FILE_NAME}: {unreported} more malformed lines not shown");
    }
    if !config.route_file.accepts(report) {
        stop_with(
            ExitStatus::ConfigurationError,
            format_args!(
                "routes: {ROUTE_FILE_NAME}: {} malformed of {} lines and [routes] file_required = true; \
                 not forwarding with a half-loaded table",
                report.statistics.errors, report.statistics.lines
            ),
        );
    }
}

fn discover_ports(config: &Config) -> Vec<NetworkPort> {
    let mut found = Vec::new();
    let machine = if drivers::pci::has_host_bridge() {
        drivers::pci::find_network_devices(&mut found);
        "PCI"
    } else {
        drivers::virtio::find_mmio_network_devices(&mut found);
        "virtio-mmio"
    };
    if found.is_empty() {
        stop_with(
            ExitStatus::HardwareError,
            format_args!("no virtio-net device found on {machine}"),
        );
    }
    if found.len() > netstack::router::MAX_PORTS {
        log::warn!(
            "{} virtio-net devices found; pure6 drives the first {}, the rest are ignored",
            found.len(),
            netstack::router::MAX_PORTS
        );
        found.truncate(netstack::router::MAX_PORTS);
    }
    let mut ports = Vec::new();
    for (index, (transport, location)) in found.into_iter().enumerate() {
        let mtu = usize::from(
            config
                .ports
                .get(index)
                .map_or(config::DEFAULT_MTU, |port| port.mtu),
        );
        match NetworkPort::new(SharedTransport::new(transport), location, mtu) {
            Ok(port) => ports.push(port),
            Err(error) => stop_with(
                ExitStatus::HardwareError,
                format_args!("port{index} ({location}): virtio-net initialisation failed: {error}"),
            ),
        }
    }
    ports
}

fn wait_for_links(ports: &[NetworkPort], router: &Router) {
    let started = clock::now();
    let mut reported = false;
    loop {
        let down: Vec<usize> = (0..ports.len())
            .filter(|&index| !ports[index].link_up())
            .collect();
        if down.is_empty() {
            return;
        }
        if !reported {
            for &index in &down {
                log::info!("port{index} {}: waiting for link", port_name(router, index));
            }
            reported = true;
        }
        if (clock::now() - started).total_micros() as i64 > LINK_WAIT_MICROS {
            log::warn!(
                "{} port(s) still down after 5 s; starting anyway",
                down.len()
            );
            return;
        }
        core::hint::spin_loop();
    }
}

/// The poll loop. Never returns.
fn run(router: &mut Router, ports: &mut [NetworkPort]) -> ! {
    let mut command_line = console::CommandLine::new();
    let mut link_state: Vec<bool> = ports.iter().map(NetworkPort::link_up).collect();
    let mut next_housekeeping = clock::now();
    let mut capacity_log = CapacityLog::new(router);
    loop {
        for index in 0..ports.len() {
            // A bounded batch per port keeps one busy port from starving the others.
            for _ in 0..64 {
                let Some(received) = ports[index].next_frame() else {
                    break;
                };
                let now = clock::now();
                let outgoing = router.receive(PortIndex(index), ports[index].frame(&received), now);
                for transmit in outgoing {
                    if let Some(egress) = ports.get_mut(transmit.port.0) {
                        egress.transmit(transmit.frame);
                    }
                }
                ports[index].recycle(received);
            }
        }
        let now = clock::now();
        for transmit in router.poll(now) {
            if let Some(egress) = ports.get_mut(transmit.port.0) {
                egress.transmit(transmit.frame);
            }
        }
        if now >= next_housekeeping {
            next_housekeeping = now + netstack::Duration::from_millis(100);
            for (index, port) in ports.iter_mut().enumerate() {
                port.post_remaining_receive_buffers(16);
                let up = port.link_up();
                if up != link_state[index] {
                    log::info!(
                        "port{index} {}: link {}",
                        port_name(router, index),
                        if up { "up" } else { "down" }
                    );
                    link_state[index] = up;
                }
            }
            capacity_log.report(router, now);
            if let Some(line) = command_line.poll() {
                match line {
                    Ok(line) => run_command(line.trim(), router, ports),
                    Err(()) => console::write_raw(format_args!("command too long or not text\n")),
                }
            }
        }
    }
}

/// How often, at most, the appliance logs capacity refusals.
const CAPACITY_LOG_INTERVAL: netstack::Duration = netstack::Duration::from_secs(10);

/// Logs the growth of the router's capacity-refusal counters
/// ([`netstack::router::CAPACITY_REFUSALS`]: full tables and pools, per-source
/// caps) at most once per [`CAPACITY_LOG_INTERVAL`], one line per counter
/// that grew, so a refused new flow is counted and logged without a flood
/// turning into a flood of log lines.
struct CapacityLog {
    /// The values at the last report, in [`Router::capacity_refusals`] order.
    reported: Vec<u64>,
    /// When the next report may be made.
    next_report: netstack::Instant,
}

impl CapacityLog {
    fn new(router: &Router) -> CapacityLog {
        CapacityLog {
            reported: router
                .capacity_refusals()
                .map(|(_, _, value)| value)
                .collect(),
            next_report: clock::now(),
        }
    }

    fn report(&mut self, router: &Router, now: netstack::Instant) {
        if now < self.next_report {
            return;
        }
        let mut logged = false;
        for ((port, name, value), reported) in
            router.capacity_refusals().zip(self.reported.iter_mut())
        {
            if value != *reported {
                log::warn!(
                    "port{} {}: {name} +{} (capacity reached, new work refused; {value} in all)",
                    port.0,
                    port_name(router, port.0),
                    value.wrapping_sub(*reported)
                );
                *reported = value;
                logged = true;
            }
        }
        if logged {
            self.next_report = now + CAPACITY_LOG_INTERVAL;
        }
    }
}

/// The console shell: a few read-only commands for operators and tests.
fn run_command(command: &str, router: &Router, ports: &[NetworkPort]) {
    match command {
        "" => {}
        "help" => console::write_raw(format_args!(
            "commands: counters (per-port router and device counters), ports, sessions (NAT64, first 64), memory, shutdown, help\n"
        )),
        "shutdown" => {
            log::info!("shutdown requested on the console");
            exit::exit(ExitStatus::Success)
        }
        "counters" => {
            for (index, port) in ports.iter().enumerate() {
                let name = port_name(router, index);
                for (counter, value) in router.counters(PortIndex(index)) {
                    console::write_raw(format_args!("counter {name} {counter} {value}\n"));
                }
                let device = &port.counters;
                for (counter, value) in [
                    ("device_received_frames", device.received_frames),
                    ("device_transmitted_frames", device.transmitted_frames),
                    ("device_transmit_ring_full", device.transmit_ring_full),
                    ("device_transmit_oversized", device.transmit_oversized),
                    ("device_errors", device.device_errors),
                ] {
                    console::write_raw(format_args!("counter {name} {counter} {value}\n"));
                }
            }
            console::write_raw(format_args!("counters end\n"));
        }
        "ports" => {
            for (index, port) in ports.iter().enumerate() {
                console::write_raw(format_args!(
                    "port{index} {} mac {} {} link {} {}\n",
                    port_name(router, index),
                    MacDisplay(port.mac),
                    router
                        .port_link_local(PortIndex(index))
                        .unwrap_or(core::net::Ipv6Addr::UNSPECIFIED),
                    if port.link_up() { "up" } else { "down" },
                    if port.is_disabled() {
                        "disabled"
                    } else {
                        "enabled"
                    },
                ));
            }
        }
        "sessions" => {
            for session in router.nat64_sessions(64) {
                console::write_raw(format_args!("session {session}\n"));
            }
            console::write_raw(format_args!("sessions end\n"));
        }
        "memory" => {
            let (used, free) = memory::usage();
            console::write_raw(format_args!("heap used {used} bytes, free {free} bytes\n"));
        }
        other => console::write_raw(format_args!("unknown command {other:?}; try help\n")),
    }
}

/// The router's name for port `index` (every NIC has a port, so this is always found).
fn port_name(router: &Router, index: usize) -> &str {
    router.port_name(PortIndex(index)).unwrap_or("?")
}

struct MacDisplay([u8; 6]);

impl core::fmt::Display for MacDisplay {
    fn fmt(&self, formatter: &mut core::fmt::Formatter) -> core::fmt::Result {
        let [a, b, c, d, e, f] = self.0;
        write!(formatter, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{f:02x}")
    }
}

/// Logs why the appliance cannot run and stops it with `status`.
fn stop_with(status: ExitStatus, why: core::fmt::Arguments) -> ! {
    log::error!("{why}");
    exit::exit(status)
}

fn on_exception(frame: &boot::exceptions::ExceptionFrame) -> ! {
    console::write_raw(format_args!(
        "\nCPU EXCEPTION {} ({}): error code {:#x}, rip {:#x}, rsp {:#x}, cr2 {:#x}\n",
        frame.vector,
        frame.name(),
        frame.error_code,
        frame.instruction_pointer,
        frame.stack_pointer,
        frame.page_fault_address
    ));
    exit::exit(ExitStatus::Failure)
}

#[panic_handler]
fn panic(panic: &core::panic::PanicInfo) -> ! {
    match panic.location() {
        Some(location) => console::write_raw(format_args!(
            "\nPANIC at {}:{}:{}: {}\n",
            location.file(),
            location.line(),
            location.column(),
            panic.message()
        )),
        None => console::write_raw(format_args!("\nPANIC: {}\n", panic.message())),
    }
    exit::exit(ExitStatus::Failure)
}
