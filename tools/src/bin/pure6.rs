//! `pure6`, the operator's command line: check a configuration file before it goes to an appliance.
//!
//! `pure6 routes map` maps IPv4 routes under the translation prefix into
//! pure6's route file or a BIRD static block; `pure6 routes compile` turns
//! a route file into the compiled form the appliance loads fastest. `pure6 replay` runs a
//! capture through the router on the host and writes what it transmits
//! (`tools::replay`). Later subcommands import routes and query a running
//! appliance.
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
    /// Replay a capture (pcap or pcapng) through the router on the host
    /// and write the frames it transmits as pcapng, one interface per port.
    ///
    /// pcapng interfaces enter the port of the same name; a pcap file
    /// needs --port. Prints a summary and every nonzero counter on stderr;
    /// errors exit with status 1 and leave no output file.
    Replay(tools::replay::ReplayArguments),
    /// Work with route files.
    Routes {
        #[command(subcommand)]
        command: RoutesCommand,
    },
}

#[derive(Subcommand)]
enum RoutesCommand {
    /// Map IPv4 routes (text or an MRT RIB dump) under the translation
    /// prefix pool6 (RFC 6052) into pure6's route file or a BIRD static
    /// block, rewriting next hops through a next-hops file.
    ///
    /// Prints a summary on stderr; malformed input exits with status 1 and
    /// `INPUT:LINE: MESSAGE` lines.
    Map(tools::routes::MapArguments),
    /// Compile a text route file into a compiled route file, which the
    /// appliance loads without parsing text (a full Internet table boots
    /// several times faster). The compiled file holds the same routes and
    /// suits any config: IPv4 routes are mapped when the appliance loads it.
    ///
    /// Prints a summary on stderr; malformed input exits with status 1 and
    /// `INPUT:LINE: MESSAGE` lines, writing nothing.
    Compile(tools::routes::CompileArguments),
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
        Command::Replay(arguments) => tools::replay::run_replay(&arguments),
        Command::Routes {
            command: RoutesCommand::Map(arguments),
        } => tools::routes::run_map(&arguments),
        Command::Routes {
            command: RoutesCommand::Compile(arguments),
        } => tools::routes::run_compile(&arguments),
    }
}
