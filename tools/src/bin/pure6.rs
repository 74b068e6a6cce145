//! `pure6`, the operator's command line: check a configuration file before it goes to an appliance.
//!
//! Later subcommands replay a pcap through the router, map and import
//! routes, and query a running appliance.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The pure6 operator CLI.
#[derive(Parser)]
#[command(name = "pure6", version, about)]
struct Arguments {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check a configuration file with the appliance's own parser.
    ///
    /// Prints `CONFIG: ok (N ports)`, or `CONFIG:LINE:COLUMN: MESSAGE` and
    /// exits with status 1.
    Check {
        /// The TOML configuration file.
        config: PathBuf,
    },
}

fn main() -> ExitCode {
    let arguments = Arguments::parse();
    match arguments.command {
        Command::Check { config } => match tools::config_check::check_file(&config) {
            Ok(line) => {
                println!("{line}");
                ExitCode::SUCCESS
            }
            Err(line) => {
                eprintln!("{line}");
                ExitCode::FAILURE
            }
        },
    }
}
