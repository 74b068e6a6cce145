//! `cargo xtask run` as root: the demo's real hosts fetch pages through NAT64 and SIIT, and the appliance stops cleanly.
//!
//! The test calls the library function behind the task,
//! [`tools::demo::real_hosts`], with the demo configuration `qemu/demo.toml`
//! (as `cargo xtask run --once` does, without building the tools a second
//! time). It needs root (network namespaces, tap devices) and fails saying
//! so otherwise; the tools it runs (curl, python3, unbound) are installed
//! by `tools::setup::ensure_host_tools` as root. One demo takes about 30
//! seconds; every step in it is bounded (curl `--max-time`, timeouts on
//! every wait), so a failure ends well within two minutes.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use tools::demo::{self, Path6To4, RealHostsOptions};
use tools::image::Flavor;
use tools::qemu::{Accelerator, ApplianceExit, MachineType};
use tools::test_support;
use tools::topology;

#[test]
fn the_demo_fetches_pages_through_nat64_and_siit_and_stops_cleanly() {
    if let Err(error) = topology::require_root() {
        panic!("the `cargo xtask run` demo builds real hosts: {error}");
    }
    let _slot = test_support::MachineSlot::take();
    let options = RealHostsOptions {
        image: test_support::image(Flavor::LegacyIp),
        config: demo::demo_config_path(),
        machine_type: MachineType::Microvm,
        accelerator: Accelerator::for_tests(),
        keep: false,
        stop: Arc::new(AtomicBool::new(false)),
    };
    let report = demo::real_hosts(&options).unwrap_or_else(|error| panic!("{error}"));
    for path in Path6To4::ALL {
        let fetch = report
            .fetch(path)
            .unwrap_or_else(|| panic!("the demo made no fetch {}", path.name()));
        assert!(
            fetch.succeeded,
            "{}: `{}` failed: {}",
            path.name(),
            fetch.command,
            fetch.detail
        );
        assert!(
            fetch.translated_as_expected(),
            "{}: the server saw {:?}, expected {}",
            path.name(),
            fetch.seen_by_server,
            path.expected_client()
        );
        assert!(fetch.bytes > 0, "{}: no bytes arrived", path.name());
    }
    assert!(report.every_fetch_succeeded());
    let counter = |port: &str, name: &str| {
        report
            .counters
            .get(&(port.to_string(), name.to_string()))
            .copied()
            .unwrap_or(0)
    };
    assert!(
        counter("uplink", "nat64_tcp_sessions_created") >= 1,
        "the NAT64 fetch made no NAT64 session: {:?}",
        report.counters
    );
    assert_eq!(report.appliance_exit, Some(ApplianceExit::Clean));
    if let Err(why) = &report.dns64 {
        eprintln!("DNS64 was not used, the fetches went by address: {why}");
    }
}
