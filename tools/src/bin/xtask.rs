//! `cargo xtask`: the project's workflows (build, run, test, bench) in one place.
use std::process::{Command, ExitCode};

use clap::{Parser, Subcommand};
use signal_hook::consts::{SIGINT, SIGTERM};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tools::demo;
use tools::image::{self, Flavor};
use tools::qemu::{Accelerator, ApplianceExit, Machine, MachineType, READY_LINE};
use tools::setup;

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "pure6 workflows: build, run, test, bench"
)]
struct Arguments {
    #[command(subcommand)]
    command: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Build both appliance images and print their sizes; the requested one (legacy-ip unless
    /// `--no-default-features`) is printed last, its path on the last line.
    Build {
        /// Build the IPv6-only image (no `legacy-ip` translator).
        #[arg(long)]
        no_default_features: bool,
    },
    /// Run every check CI runs: formatting, clippy (host and kernel), both
    /// images, and every test (host unit tests, QEMU boots, real hosts).
    Test,
    /// The demo: boot pure6 between an IPv6-only host and an IPv4-only web
    /// server, fetch a page through NAT64 and through SIIT (by name, DNS64),
    /// let the IPv4 host fetch one from the IPv6 host, print every step and
    /// the router's counters, then shut down. Real Linux hosts (network
    /// namespaces, taps, unbound) as root; otherwise simulated hosts on
    /// every port that resolve and ping the router, then the console is
    /// handed to the operator.
    Run {
        /// Hand this TOML file to the appliance as its configuration (fw_cfg).
        /// Real hosts: instead of qemu/demo.toml (the steps assume its addresses).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Number of virtio-net ports, 1 to 8 (simulated hosts; real hosts use 2).
        #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(1..=8))]
        ports: u8,
        /// QEMU machine type.
        #[arg(long, default_value = "microvm", value_parser = ["microvm", "q35"])]
        machine: String,
        /// Boot the IPv6-only image (no `legacy-ip` translator; simulated hosts only).
        #[arg(long)]
        no_default_features: bool,
        /// For checks: exit 0 only if every fetch succeeded (real hosts) or
        /// every port answered (simulated hosts, which then shut down
        /// instead of handing over the console).
        #[arg(long, conflicts_with = "keep")]
        once: bool,
        /// Real hosts: leave the hosts, taps and QEMU up after the demo and
        /// print how to get a shell in each; Ctrl-C tears them down.
        #[arg(long)]
        keep: bool,
        /// Use simulated hosts even as root.
        #[arg(long)]
        simulated: bool,
        /// QEMU accelerator: kvm:tcg (KVM when available), kvm, or tcg.
        #[arg(long, default_value = "kvm:tcg", value_parser = ["kvm:tcg", "kvm", "tcg"])]
        accel: String,
    },
    /// Measure the appliance end to end (never part of the tests).
    Bench {
        #[command(subcommand)]
        benchmark: Benchmark,
    },
}

fn main() -> ExitCode {
    let arguments = Arguments::parse();
    let result = match arguments.command {
        Task::Build {
            no_default_features,
        } => build(no_default_features),
        Task::Test => test(),
        Task::Run {
            config,
            ports,
            machine,
            no_default_features,
            once,
            keep,
            simulated,
            accel,
        } => run(RunArguments {
            config,
            ports,
            machine,
            no_default_features,
            once,
            keep,
            simulated,
            accel,
        }),
        Task::Bench {
            benchmark: Benchmark::Boot { runs, accel },
        } => bench_boot(runs, &accel),
        Task::Bench {
            benchmark:
                Benchmark::Fib {
                    runs,
                    accel,
                    boot_only,
                    lookup_runs,
                },
        } => bench_fib(runs, &accel, boot_only, lookup_runs),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

fn build(no_default_features: bool) -> Result<(), String> {
    let flavor = if no_default_features {
        Flavor::Ipv6Only
    } else {
        Flavor::LegacyIp
    };
    // Both flavors, so the cost of the translator is always in view.
    for other in Flavor::ALL.into_iter().filter(|other| *other != flavor) {
        let other_path = image::build(other)?;
        println!(
            "image {}: {} bytes at {}",
            other.name(),
            image::file_size(&other_path),
            other_path.display()
        );
    }
    let path = image::build(flavor)?;
    println!(
        "image {}: {} bytes at {}",
        flavor.name(),
        image::file_size(&path),
        path.display()
    );
    Ok(())
}

/// Runs one step of `xtask test`, printing it first; fails with its name.
fn step(name: &str, mut command: Command) -> Result<(), String> {
    eprintln!("xtask test: {name}");
    command.current_dir(image::workspace_root());
    let status = command
        .status()
        .map_err(|error| format!("{name}: cannot start: {error}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{name}: failed ({status})"))
    }
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn test() -> Result<(), String> {
    let started = std::time::Instant::now();
    setup::ensure_kernel_target()?;
    setup::ensure_qemu()?;
    // The real-host tests need ping, iperf3, curl, ...: as root they are
    // installed here, once, before the tests run in parallel; without
    // root those tests fail naming what is missing.
    if setup::is_root() {
        setup::ensure_host_tools()?;
    }
    let mut format = cargo();
    format.args(["fmt", "--all", "--", "--check"]);
    step("cargo fmt --check", format)?;

    let mut host_clippy = cargo();
    host_clippy.args([
        "clippy",
        "--quiet",
        "--package",
        "netstack",
        "--package",
        "tools",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]);
    step("clippy (host crates)", host_clippy)?;
    let mut ipv6_only_clippy = cargo();
    ipv6_only_clippy.args([
        "clippy",
        "--quiet",
        "--package",
        "netstack",
        "--no-default-features",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]);
    step("clippy (netstack without legacy-ip)", ipv6_only_clippy)?;
    for flavor in Flavor::ALL {
        let mut kernel_clippy = cargo();
        kernel_clippy
            .args([
                "clippy",
                "--quiet",
                "--package",
                "kernel",
                "--package",
                "boot",
                "--profile",
                "kernel",
            ])
            .args(["--target", setup::KERNEL_TARGET])
            .arg("--target-dir")
            .arg(image::target_directory(flavor));
        if flavor == Flavor::Ipv6Only {
            kernel_clippy.arg("--no-default-features");
        }
        kernel_clippy.args(["--", "-D", "warnings"]);
        step(
            &format!(
                "clippy (kernel, {}, {})",
                setup::KERNEL_TARGET,
                flavor.name()
            ),
            kernel_clippy,
        )?;
    }

    for flavor in Flavor::ALL {
        eprintln!("xtask test: build the {} image", flavor.name());
        let path = image::build(flavor)?;
        eprintln!(
            "xtask test: image {}: {} bytes at {}",
            flavor.name(),
            image::file_size(&path),
            path.display()
        );
    }

    let mut ipv6_only_tests = cargo();
    ipv6_only_tests.args(["test", "--package", "netstack", "--no-default-features"]);
    step("tests: netstack without legacy-ip", ipv6_only_tests)?;
    let mut tests = cargo();
    tests.args(["test"]);
    step("tests: netstack and tools (host, QEMU, real hosts)", tests)?;
    eprintln!(
        "xtask test: all green in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// What `cargo xtask bench` measures.
#[derive(Subcommand)]
enum Benchmark {
    /// Wall time from spawning QEMU to `pure6: ready`, on microvm and q35 for
    /// both images, and both image sizes; prints markdown tables.
    Boot {
        /// Boots per machine type and image.
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
        runs: u32,
        /// QEMU accelerator (see `tools::qemu::Accelerator`: TCG is the
        /// fast one on nested-virtualisation VMs).
        #[arg(long, default_value = "tcg", value_parser = ["kvm:tcg", "kvm", "tcg"])]
        accel: String,
    },
    /// The FIB on the real RIS table: `cargo bench -p netstack --bench fib
    /// -- summary-only` (pure6 vs prefix-trie), then `--lookup-runs` runs
    /// of its `lookups-only` rows read against the lookup targets (this
    /// VM's speed moves between runs), then boots of the appliance
    /// with the full table as its route file (issue 6), wall time from
    /// spawning QEMU to `pure6: ready` and the console's route summary, as
    /// a markdown table.
    Fib {
        /// Boots with the full table (each as text and compiled).
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
        runs: u32,
        /// Only the boots, without the benchmark summary and lookup runs.
        #[arg(long)]
        boot_only: bool,
        /// Separate runs of the warm lookup rows (`-- lookups-only`), five
        /// seconds apart.
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
        lookup_runs: u32,
        /// QEMU accelerator (TCG is the fast one on nested-virtualisation VMs).
        #[arg(long, default_value = "tcg", value_parser = ["kvm:tcg", "kvm", "tcg"])]
        accel: String,
    },
}

/// How long `bench` waits for the ready line (q35 under TCG is slow).
const READY_TIMEOUT: Duration = demo::READY_TIMEOUT;
/// How long it waits for the appliance to stop after `shutdown`.
const EXIT_TIMEOUT: Duration = demo::EXIT_TIMEOUT;

/// `cargo xtask run`'s options.
struct RunArguments {
    config: Option<PathBuf>,
    ports: u8,
    machine: String,
    no_default_features: bool,
    once: bool,
    keep: bool,
    simulated: bool,
    accel: String,
}

/// `cargo xtask run`: the demo on real hosts as root (see `tools::demo`),
/// otherwise on simulated hosts. Ctrl-C and SIGTERM stop it, tearing down
/// what it built.
fn run(arguments: RunArguments) -> Result<(), String> {
    let accelerator = Accelerator::from_name(&arguments.accel)
        .ok_or_else(|| format!("unknown accelerator {:?}", arguments.accel))?;
    let machine_type = MachineType::from_name(&arguments.machine)
        .ok_or_else(|| format!("unknown machine type {:?}", arguments.machine))?;
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [SIGINT, SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .map_err(|error| format!("cannot handle signal {signal}: {error}"))?;
    }
    let real_hosts = setup::is_root() && !arguments.simulated && !arguments.no_default_features;
    let flavor = if arguments.no_default_features {
        Flavor::Ipv6Only
    } else {
        Flavor::LegacyIp
    };
    let image = image::build(flavor)?;
    println!(
        "xtask run: {} image, {} bytes",
        flavor.name(),
        image::file_size(&image)
    );
    if !real_hosts {
        if arguments.keep {
            return Err("--keep needs real hosts: run as root, without --simulated or --no-default-features".into());
        }
        if !setup::is_root() {
            demo::explain_real_hosts();
        }
        return demo::simulated_hosts(&demo::SimulatedOptions {
            image,
            config: arguments.config,
            ports: usize::from(arguments.ports),
            machine_type,
            accelerator,
            once: arguments.once,
            translating: flavor == Flavor::LegacyIp,
            stop,
        });
    }
    println!("xtask run: root, so real Linux hosts (network namespaces, tap devices) around pure6");
    let report = demo::real_hosts(&demo::RealHostsOptions {
        image,
        config: arguments.config.unwrap_or_else(demo::demo_config_path),
        machine_type,
        accelerator,
        keep: arguments.keep,
        stop: Arc::clone(&stop),
    })?;
    if stop.load(Ordering::SeqCst) {
        println!("xtask run: stopped; the hosts, taps and QEMU are gone");
        return Ok(());
    }
    if !report.every_fetch_succeeded() {
        return Err("not every fetch succeeded through the translator (see above)".into());
    }
    match report.appliance_exit {
        Some(ApplianceExit::Clean) => {
            println!("xtask run: pure6 stopped cleanly; the hosts and taps are gone");
            Ok(())
        }
        exit if arguments.keep => {
            println!("xtask run: the hosts and taps are gone (pure6: {exit:?})");
            Ok(())
        }
        exit => Err(format!("the appliance did not stop cleanly: {exit:?}")),
    }
}

fn milliseconds(duration: Duration) -> String {
    demo::milliseconds(duration)
}

/// One boot-time measurement row: a machine setup and an image.
struct BootTimes {
    setup: String,
    flavor: Flavor,
    /// Host wall time from spawning QEMU to the ready line, one per run.
    wall: Vec<Duration>,
    /// The appliance's own timestamp on the ready line (time since its clock started), one per run.
    guest: Vec<Duration>,
}

/// The ready line's `[    0.064727]` timestamp.
fn guest_timestamp(line: &str) -> Option<Duration> {
    let inside = line.trim_start().strip_prefix('[')?.split(']').next()?;
    inside
        .trim()
        .parse::<f64>()
        .ok()
        .map(Duration::from_secs_f64)
}

/// Median, min and max of `samples` (not empty), in milliseconds.
fn summary(samples: &[Duration]) -> (String, String, String) {
    let seconds: Vec<f64> = samples.iter().map(Duration::as_secs_f64).collect();
    let (median, minimum, maximum) = tools::statistics::median_and_range(&seconds);
    let format = |seconds: f64| milliseconds(Duration::from_secs_f64(seconds));
    (format(median), format(minimum), format(maximum))
}

/// `cargo xtask bench boot`.
fn bench_boot(runs: u32, accel: &str) -> Result<(), String> {
    let accelerator =
        Accelerator::from_name(accel).ok_or_else(|| format!("unknown accelerator {accel:?}"))?;
    println!("accelerator: {}", accelerator.name());
    let images: Vec<(Flavor, PathBuf)> = Flavor::ALL
        .into_iter()
        .map(|flavor| image::build(flavor).map(|path| (flavor, path)))
        .collect::<Result<_, _>>()?;
    setup::ensure_qemu()?;
    let qboot = Path::new("/usr/share/qemu/qboot.rom");
    let mut setups: Vec<(String, MachineType, Option<&Path>)> = vec![
        ("microvm".into(), MachineType::Microvm, None),
        ("q35 (SeaBIOS)".into(), MachineType::Q35, None),
    ];
    if qboot.is_file() {
        setups.push(("q35 (qboot)".into(), MachineType::Q35, Some(qboot)));
    }
    let mut rows = Vec::new();
    for (setup_name, machine_type, bios) in &setups {
        for (flavor, path) in &images {
            let mut row = BootTimes {
                setup: setup_name.clone(),
                flavor: *flavor,
                wall: Vec::new(),
                guest: Vec::new(),
            };
            for run in 1..=runs {
                let mut description = Machine::new(path)
                    .accelerator(accelerator)
                    .machine_type(*machine_type)
                    .ports(2);
                if let Some(bios) = bios {
                    description = description.bios(bios);
                }
                let appliance = description.start().map_err(|error| error.to_string())?;
                let ready = appliance
                    .wait_for_console_line(
                        READY_LINE,
                        |line| line.contains(READY_LINE),
                        READY_TIMEOUT,
                    )
                    .map_err(|error| error.to_string())?;
                let exit = appliance
                    .shutdown(EXIT_TIMEOUT)
                    .map_err(|error| error.to_string())?;
                if exit != ApplianceExit::Clean {
                    return Err(format!(
                        "{setup_name} {}: the appliance stopped with {exit:?}",
                        flavor.name()
                    ));
                }
                eprintln!(
                    "bench boot: {setup_name} {} run {run}/{runs}: ready after {} ms",
                    flavor.name(),
                    milliseconds(ready.since_start)
                );
                row.wall.push(ready.since_start);
                if let Some(guest) = guest_timestamp(&ready.text) {
                    row.guest.push(guest);
                }
            }
            rows.push(row);
        }
    }
    println!("Boot to `{READY_LINE}` (wall time from spawning QEMU, {runs} runs each, 2 ports):\n");
    println!("| machine | image | median ms | min ms | max ms | guest clock at ready, median ms |");
    println!("|---|---|---:|---:|---:|---:|");
    for row in &rows {
        let (median, minimum, maximum) = summary(&row.wall);
        let guest = if row.guest.is_empty() {
            "?".to_string()
        } else {
            summary(&row.guest).0
        };
        println!(
            "| {} | {} | {median} | {minimum} | {maximum} | {guest} |",
            row.setup,
            row.flavor.name()
        );
    }
    println!("\nImage sizes:\n");
    println!("| image | bytes | KiB | under 1 MiB |");
    println!("|---|---:|---:|---|");
    for (flavor, path) in &images {
        let bytes = image::file_size(path);
        println!(
            "| {} | {bytes} | {:.1} | {} |",
            flavor.name(),
            bytes as f64 / 1024.0,
            if bytes < 1 << 20 { "yes" } else { "no" }
        );
    }
    Ok(())
}

/// How long `bench fib` waits for the ready line with the full table.
const FULL_TABLE_READY_TIMEOUT: Duration = Duration::from_secs(300);
/// Guest memory for the full table: the route file, the parsed routes, the FIB.
const FULL_TABLE_MEMORY_MIB: u32 = 1024;

/// `cargo xtask bench fib`.
fn bench_fib(runs: u32, accel: &str, boot_only: bool, lookup_runs: u32) -> Result<(), String> {
    let accelerator =
        Accelerator::from_name(accel).ok_or_else(|| format!("unknown accelerator {accel:?}"))?;
    let data = tools::full_table::data_directory();
    if !data.is_dir() {
        return Err(format!(
            "the RIS data folder {} ({} relative to the workspace root) is missing",
            data.display(),
            tools::full_table::DATA_DIRECTORY
        ));
    }
    if !boot_only {
        step(
            "cargo bench -p netstack --bench fib -- summary-only",
            fib_benchmark("summary-only"),
        )?;
        lookup_rows(lookup_runs)?;
    }

    let path = image::build(Flavor::LegacyIp)?;
    setup::ensure_qemu()?;
    let directory = tools::full_table::ScratchDirectory::create("bench-fib")?;
    let table = tools::full_table::write(&data, directory.path())?;
    let compiled = tools::full_table::compile(&table)?;
    let compiled_bytes = image::file_size(&compiled);
    let mut rows = Vec::new();
    for (kind, route_file, bytes) in [
        ("text", &table.route_file, table.bytes),
        ("compiled", &compiled, compiled_bytes),
    ] {
        let (wall, summaries) = boot_full_table(&path, route_file, kind, runs, accelerator)?;
        rows.push((kind, bytes, wall, summaries));
    }
    println!(
        "\nBoot with the full RIS table ({} IPv6 + {} IPv4 routes; accelerator {}, {} MiB): \
         wall time from spawning QEMU to `{READY_LINE}`, the route file as text and compiled \
         (`pure6 routes compile`)\n",
        table.ipv6_routes,
        table.ipv4_routes,
        accelerator.name(),
        FULL_TABLE_MEMORY_MIB
    );
    println!("| route file | bytes | run | ready ms | console route summary |");
    println!("|---|---:|---:|---:|---|");
    for (kind, bytes, wall, summaries) in &rows {
        for (index, (time, summary)) in wall.iter().zip(summaries).enumerate() {
            println!(
                "| {kind} | {bytes} | {} | {} | {summary} |",
                index + 1,
                milliseconds(*time)
            );
        }
    }
    println!();
    for (kind, _, wall, _) in &rows {
        let (median, minimum, maximum) = summary(wall);
        println!(
            "{kind}: median {median} ms, min {minimum} ms, max {maximum} ms (target: under 2000 ms)"
        );
    }
    Ok(())
}

/// `cargo bench -p netstack --bench fib -- MODE`.
fn fib_benchmark(mode: &str) -> Command {
    let mut command = cargo();
    command.args(["bench", "-p", "netstack", "--bench", "fib", "--", mode]);
    command
}

/// `runs` separate runs of the FIB benchmark's warm lookup rows, each its
/// own process, then their table and how many met each target.
fn lookup_rows(runs: u32) -> Result<(), String> {
    use tools::fib_lookup_runs::{parse_run, report};
    let name = "cargo bench -p netstack --bench fib -- lookups-only";
    let mut results = Vec::new();
    for run in 1..=runs {
        if run > 1 {
            std::thread::sleep(Duration::from_secs(5));
        }
        let mut command = fib_benchmark("lookups-only");
        command.current_dir(image::workspace_root());
        let output = command
            .output()
            .map_err(|error| format!("{name}: cannot start: {error}"))?;
        if !output.status.success() {
            return Err(format!(
                "{name}: failed ({}):\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        let result = parse_run(&String::from_utf8_lossy(&output.stdout))
            .map_err(|error| format!("{name}: {error}"))?;
        eprintln!(
            "bench fib: lookup run {run}/{runs}: mapped IPv4 {:.1} ns ({:.2}x), IPv6 {:.1} ns ({:.2}x)",
            result.mapped_ipv4.pure6_ns,
            result.mapped_ipv4.ratio,
            result.ipv6.pure6_ns,
            result.ipv6.ratio
        );
        results.push(result);
    }
    println!(
        "\nWarm lookups, {runs} separate runs of `{name}` (pure6 and prefix-trie \
         interleaved within each run; ratio = prefix-trie / pure6):\n"
    );
    print!("{}", report(&results));
    Ok(())
}

/// Boots the image `runs` times with `route_file` as `opt/pure6/routes`;
/// the times to the ready line and the console's route summaries.
fn boot_full_table(
    path: &Path,
    route_file: &Path,
    kind: &str,
    runs: u32,
    accelerator: Accelerator,
) -> Result<(Vec<Duration>, Vec<String>), String> {
    let fw_cfg = format!("name=opt/pure6/routes,file={}", route_file.display());
    let mut wall = Vec::new();
    let mut summaries = Vec::new();
    for run in 1..=runs {
        let appliance = Machine::new(path)
            .accelerator(accelerator)
            .ports(2)
            .memory_mib(FULL_TABLE_MEMORY_MIB)
            .config_text(tools::full_table::config())
            .extra_arguments(["-fw_cfg", fw_cfg.as_str()])
            .start()
            .map_err(|error| error.to_string())?;
        let ready = appliance
            .wait_for_console_line(
                READY_LINE,
                |line| line.contains(READY_LINE),
                FULL_TABLE_READY_TIMEOUT,
            )
            .map_err(|error| error.to_string())?;
        let summary = appliance
            .console_lines()
            .into_iter()
            .map(|line| line.text)
            .find(|text| text.contains("routes: ") && text.contains(" mapped IPv4, "))
            .and_then(|text| {
                text.split_once("routes: ")
                    .map(|(_, summary)| summary.to_string())
            })
            .unwrap_or_else(|| "?".to_string());
        let exit = appliance
            .shutdown(EXIT_TIMEOUT)
            .map_err(|error| error.to_string())?;
        if exit != ApplianceExit::Clean {
            return Err(format!(
                "{kind} run {run}: the appliance stopped with {exit:?}"
            ));
        }
        eprintln!(
            "bench fib: {kind} run {run}/{runs}: ready after {} ms; {summary}",
            milliseconds(ready.since_start)
        );
        wall.push(ready.since_start);
        summaries.push(summary);
    }
    Ok((wall, summaries))
}
