//! Host-side library behind `cargo xtask` and the `pure6` CLI: building images, driving QEMU, simulated hosts, replaying captures.
#![forbid(unsafe_code)]

pub mod config_check;
pub mod demo;
pub mod dns64;
pub mod fib_lookup_runs;
pub mod full_table;
pub mod image;
pub mod qemu;
pub mod replay;
pub mod routes;
pub mod setup;
pub mod simulated_host;
pub mod simulated_ipv4_host;
pub mod statistics;
pub mod test_support;
pub mod topology;
