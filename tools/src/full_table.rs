//! The real Internet table (`shared/data/ris-20260511`) as a pure6 route file and config, for the full-table QEMU test and `cargo xtask bench fib` (issue 6).
//!
//! Every IPv6 prefix becomes `PREFIX via 2001:db8:2::2` (a neighbor on the
//! second port, `wan0`); every IPv4 prefix becomes `PREFIX via 192.0.2.1`,
//! which the config's `[translation]` maps under the well-known prefix
//! 64:ff9b::/96 (RFC 6052 §2.1) to the same IPv6 next hop. The RFC 6052
//! §3.1 rule stays on: real tables hold global prefixes, and any
//! non-global one is rejected and counted by the appliance.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;
use netstack::translation::address_mapping::{
    TranslationPrefix, is_allowed_under_well_known_prefix,
};

use crate::image;

/// Where the data lives, relative to the workspace root.
pub const DATA_DIRECTORY: &str = "../shared/data/ris-20260511";

/// The router's address on the first port (`lan0`), where test hosts live.
pub const LAN_ROUTER: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1);
/// A host on the first port that sends through the router.
pub const LAN_HOST: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x10);
/// The router's address on the second port (`wan0`).
pub const WAN_ROUTER: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, 1);
/// The next hop of every route: a neighbor on the second port.
pub const NEXT_HOP: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, 2);
/// The IPv4 next hop of every IPv4 route, mapped to [`NEXT_HOP`].
pub const IPV4_GATEWAY: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);

/// The appliance config for the full table: two ports, `[translation]`
/// under 64:ff9b::/96 with [`IPV4_GATEWAY`] → [`NEXT_HOP`].
pub fn config() -> String {
    format!(
        r#"# The full RIS table (tools/src/full_table.rs).
[[port]]
name = "lan0"
addresses = ["{LAN_ROUTER}/64"]

[[port]]
name = "wan0"
addresses = ["{WAN_ROUTER}/64"]

[translation]
pool6 = "64:ff9b::/96"

[[translation.next_hop]]
ipv4 = "{IPV4_GATEWAY}"
via = "{NEXT_HOP}"
"#
    )
}

/// The data folder, from the workspace root.
pub fn data_directory() -> PathBuf {
    image::workspace_root().join(DATA_DIRECTORY)
}

/// A route file written from the real table, and destinations only it routes.
#[derive(Clone, Debug)]
pub struct FullTable {
    /// The route file.
    pub route_file: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// IPv6 routes written.
    pub ipv6_routes: usize,
    /// IPv4 routes written.
    pub ipv4_routes: usize,
    /// An address inside the table's first IPv6 prefix.
    pub ipv6_destination: Ipv6Addr,
    /// The IPv4-embedded address (under 64:ff9b::/96) of a global address
    /// inside one of the table's IPv4 prefixes.
    pub mapped_destination: Ipv6Addr,
}

fn lines_of(path: &Path) -> Result<impl Iterator<Item = Result<String, String>>, String> {
    let file = File::open(path).map_err(|error| {
        format!(
            "the RIS table {} is missing or unreadable ({error}); it is expected at \
             {DATA_DIRECTORY} relative to the workspace root",
            path.display()
        )
    })?;
    let shown = path.display().to_string();
    Ok(BufReader::new(GzDecoder::new(file))
        .lines()
        .map(move |line| line.map_err(|error| format!("{shown}: {error}"))))
}

/// Writes the route file to `directory/routes.txt` from the RIS data in
/// `data` (normally [`data_directory`]).
pub fn write(data: &Path, directory: &Path) -> Result<FullTable, String> {
    let route_file = directory.join("routes.txt");
    let output = File::create(&route_file)
        .map_err(|error| format!("cannot create {}: {error}", route_file.display()))?;
    let mut output = BufWriter::with_capacity(1 << 20, output);
    let write_error = |error: std::io::Error| format!("{}: {error}", route_file.display());
    writeln!(
        output,
        "# RIS 2026-05-11 (AS3333): IPv6 via {NEXT_HOP}, IPv4 via {IPV4_GATEWAY}"
    )
    .map_err(write_error)?;

    let mut ipv6_routes = 0;
    let mut ipv6_destination = None;
    for line in lines_of(&data.join("ipv6.txt.gz"))? {
        let line = line?;
        let prefix = line.trim();
        if prefix.is_empty() {
            continue;
        }
        if ipv6_destination.is_none()
            && let Some((address, length)) = prefix.split_once('/')
            && let (Ok(address), Ok(length)) = (address.parse::<Ipv6Addr>(), length.parse::<u8>())
            && length < 128
        {
            ipv6_destination = Some(Ipv6Addr::from_bits(address.to_bits() | 1));
        }
        writeln!(output, "{prefix} via {NEXT_HOP}").map_err(write_error)?;
        ipv6_routes += 1;
    }

    let mut ipv4_routes = 0;
    let mut mapped_destination = None;
    for line in lines_of(&data.join("ipv4.txt.gz"))? {
        let line = line?;
        let prefix = line.trim();
        if prefix.is_empty() {
            continue;
        }
        if mapped_destination.is_none()
            && let Some((address, length)) = prefix.split_once('/')
            && let (Ok(address), Ok(length)) = (address.parse::<Ipv4Addr>(), length.parse::<u8>())
            && length < 32
        {
            let inside = Ipv4Addr::from_bits(address.to_bits() | 1);
            if is_allowed_under_well_known_prefix(inside) {
                mapped_destination = Some(TranslationPrefix::WELL_KNOWN.embed(inside));
            }
        }
        writeln!(output, "{prefix} via {IPV4_GATEWAY}").map_err(write_error)?;
        ipv4_routes += 1;
    }
    output.flush().map_err(write_error)?;
    drop(output);
    let bytes = std::fs::metadata(&route_file).map_err(write_error)?.len();
    Ok(FullTable {
        route_file,
        bytes,
        ipv6_routes,
        ipv4_routes,
        ipv6_destination: ipv6_destination.ok_or("the IPv6 table has no usable prefix")?,
        mapped_destination: mapped_destination.ok_or("the IPv4 table has no global prefix")?,
    })
}

/// Compiles the route file of `table` (`pure6 routes compile`, in
/// process) to `routes.bin` beside it; returns its path.
pub fn compile(table: &FullTable) -> Result<PathBuf, String> {
    let text = std::fs::read_to_string(&table.route_file)
        .map_err(|error| format!("{}: {error}", table.route_file.display()))?;
    let bytes = netstack::route_file::compiled::compile(&text, 10)
        .map_err(|error| format!("{}: {error}", table.route_file.display()))?;
    let path = table.route_file.with_extension("bin");
    std::fs::write(&path, bytes).map_err(|error| format!("{}: {error}", path.display()))?;
    Ok(path)
}

/// A directory under the system's temporary directory for a generated
/// route file, removed (with its contents) on drop.
#[derive(Debug)]
pub struct ScratchDirectory {
    path: PathBuf,
}

impl ScratchDirectory {
    /// Creates `pure6-NAME-PID-N` under the temporary directory.
    pub fn create(name: &str) -> Result<ScratchDirectory, String> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static SEQUENCE: AtomicU64 = AtomicU64::new(0);
        loop {
            let sequence = SEQUENCE.fetch_add(1, Ordering::Relaxed);
            let path = std::env::temp_dir()
                .join(format!("pure6-{name}-{}-{sequence}", std::process::id()));
            match std::fs::create_dir(&path) {
                Ok(()) => return Ok(ScratchDirectory { path }),
                Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(error) => return Err(format!("cannot create {}: {error}", path.display())),
            }
        }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ScratchDirectory {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
