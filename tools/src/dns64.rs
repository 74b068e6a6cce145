//! A real DNS64 resolver (RFC 6147) for real-host tests: `unbound` with its dns64 module, serving a small local zone inside one host's network namespace.
//!
//! [`Dns64Resolver::start`] writes a zone file and an `unbound.conf` into a
//! directory of its own, starts `unbound -d` in the host's namespace
//! listening only on the address given (`::1` or an address of the host),
//! points the host's resolver at it through `/etc/netns/NAMESPACE/resolv.conf`
//! (which `ip netns exec` bind-mounts over `/etc/resolv.conf`, so every
//! program the host runs resolves through unbound, and nothing else on the
//! machine does), and waits until a name of the zone resolves to its
//! synthesized AAAA with `getent ahostsv6` inside the host.
//!
//! How the synthesis is reached: unbound answers `local-data` before its
//! module chain runs, so local-data A records are never synthesized. The
//! zone is therefore an authority zone with `for-upstream: yes` and
//! `for-downstream: no`: a query goes through `module-config: "dns64
//! iterator"`, the iterator finds the answer in the authority zone instead of
//! the network, and the dns64 module turns an A-only name into an AAAA
//! under the configured prefix. The names used are under `test.` (RFC 6761),
//! which unbound serves empty by default, so that default is switched off
//! (`local-zone: "test." nodefault`). unbound speaks only IPv6, accepts
//! queries only from the namespace's own addresses and never needs the
//! network for the zone's names.
//!
//! Everything is undone when the resolver is dropped: unbound is killed,
//! its directory and `/etc/netns/NAMESPACE` are removed (and `/etc/netns`
//! if that leaves it empty).

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use crate::topology::{self, BackgroundProcess, Host};

/// Why the resolver could not be started: the whole story in one message
/// (what is missing or failed, and unbound's log where there is one).
#[derive(Debug)]
pub struct Error {
    message: String,
}

impl Error {
    fn new(message: impl Into<String>) -> Error {
        Error {
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(formatter, "DNS64 resolver: {}", self.message)
    }
}

impl std::error::Error for Error {}

impl From<topology::Error> for Error {
    fn from(error: topology::Error) -> Error {
        Error::new(error.to_string())
    }
}

/// The program run.
pub const UNBOUND: &str = "unbound";
/// The configuration checker shipped with it.
pub const UNBOUND_CHECKCONF: &str = "unbound-checkconf";
/// The DNS port unbound listens on.
pub const DNS_PORT: u16 = 53;
/// Where `ip netns exec` looks for per-namespace files that hide `/etc`'s.
pub const NETNS_ETC: &str = "/etc/netns";
/// How long unbound may take to answer its first query.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one check (unbound-checkconf, getent) may run.
const CHECK_TIMEOUT: Duration = Duration::from_secs(20);
/// How often readiness is probed.
const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// What the resolver serves and where it listens.
#[derive(Clone, Debug)]
pub struct Dns64Settings {
    /// The DNS64 prefix (pool6), a /96 here: the address and its length.
    pub prefix: Ipv6Addr,
    /// The prefix length: 32, 40, 48, 56, 64 or 96 (RFC 6052 section 2.2).
    pub prefix_length: u8,
    /// The zone served, e.g. `test` (no trailing dot needed).
    pub zone: String,
    /// A records of the zone: a name relative to the zone (`server`) and its address.
    pub records: Vec<(String, Ipv4Addr)>,
    /// The one address unbound listens on, inside the host's namespace.
    pub listen: Ipv6Addr,
}

impl Dns64Settings {
    /// The fully qualified name of `name` in the zone, with a trailing dot.
    pub fn qualified(&self, name: &str) -> String {
        format!("{name}.{}.", self.zone.trim_end_matches('.'))
    }

    /// The address `address` synthesizes to under the prefix (RFC 6052
    /// section 2.2; only /96 is computed here, the others return `None`).
    pub fn synthesized(&self, address: Ipv4Addr) -> Option<Ipv6Addr> {
        if self.prefix_length != 96 {
            return None;
        }
        let prefix = u128::from(self.prefix) & !u128::from(u32::MAX);
        Some(Ipv6Addr::from(prefix | u128::from(u32::from(address))))
    }

    /// The zone file (RFC 1035 master format).
    pub fn zone_file(&self) -> String {
        let zone = self.zone.trim_end_matches('.');
        let mut text = format!(
            "$ORIGIN {zone}.\n$TTL 60\n@ IN SOA ns.{zone}. hostmaster.{zone}. 1 3600 600 86400 60\n@ IN NS ns.{zone}.\nns IN AAAA {}\n",
            self.listen
        );
        for (name, address) in &self.records {
            let _ = writeln!(text, "{name} IN A {address}");
        }
        text
    }

    /// unbound's configuration, with its files in `directory`.
    pub fn unbound_conf(&self, directory: &Path) -> String {
        let zone = self.zone.trim_end_matches('.');
        let directory = directory.display();
        format!(
            r#"# Written by tools::dns64 for a real-host test; see that module.
server:
  interface: {listen}
  port: {DNS_PORT}
  do-ip4: no
  do-ip6: yes
  do-udp: yes
  do-tcp: yes
  do-daemonize: no
  use-syslog: no
  logfile: ""
  log-queries: yes
  verbosity: 1
  username: ""
  chroot: ""
  directory: "{directory}"
  pidfile: ""
  access-control: ::/0 refuse
  access-control: ::1/128 allow
  access-control: {listen}/128 allow
  module-config: "dns64 iterator"
  dns64-prefix: {prefix}/{prefix_length}
  local-zone: "{zone}." nodefault
auth-zone:
  name: "{zone}."
  zonefile: "{directory}/{zone}.zone"
  for-downstream: no
  for-upstream: yes
  fallback-enabled: no
"#,
            listen = self.listen,
            prefix = self.prefix,
            prefix_length = self.prefix_length,
        )
    }

    /// The host's `resolv.conf`: only this resolver, short bounded retries.
    pub fn resolv_conf(&self) -> String {
        format!(
            "# Written by tools::dns64 for a real-host test.\nnameserver {}\noptions timeout:2 attempts:2\n",
            self.listen
        )
    }
}

/// Whether `program` is an executable file on `PATH`.
fn on_path(program: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|directory| {
            std::fs::metadata(directory.join(program)).is_ok_and(|metadata| {
                metadata.is_file() && metadata.permissions().mode() & 0o111 != 0
            })
        })
    })
}

fn io_error(context: String) -> impl FnOnce(std::io::Error) -> Error {
    move |source| Error::new(format!("{context}: {source}"))
}

/// A running unbound serving DNS64 in one host; stopped and cleaned up on drop.
#[derive(Debug)]
pub struct Dns64Resolver<'host> {
    settings: Dns64Settings,
    directory: PathBuf,
    netns_directory: PathBuf,
    process: Option<BackgroundProcess<'host>>,
}

impl<'host> Dns64Resolver<'host> {
    /// Starts unbound in `host` with `settings`, its files under
    /// `scratch_directory`, and makes it the host's resolver. Waits (at most
    /// [`START_TIMEOUT`]) until the zone's first record resolves to its
    /// synthesized address through the host's resolver. Errors name what is
    /// missing and carry unbound's log.
    pub fn start(
        host: &'host Host,
        scratch_directory: &Path,
        settings: Dns64Settings,
    ) -> Result<Dns64Resolver<'host>, Error> {
        for program in [UNBOUND, UNBOUND_CHECKCONF] {
            if !on_path(program) {
                return Err(Error::new(format!(
                    "{program} is not installed (Debian package `unbound`); tools::setup::ensure_host_tools installs it as root, or run: apt-get install -y unbound"
                )));
            }
        }
        if settings.records.is_empty() {
            return Err(Error::new(
                "a DNS64 resolver needs at least one A record to serve",
            ));
        }
        let directory = scratch_directory.join(format!("dns64-{}", host.name()));
        std::fs::create_dir_all(&directory)
            .map_err(io_error(format!("cannot create {}", directory.display())))?;
        let zone = settings.zone.trim_end_matches('.').to_string();
        let zone_path = directory.join(format!("{zone}.zone"));
        std::fs::write(&zone_path, settings.zone_file())
            .map_err(io_error(format!("cannot write {}", zone_path.display())))?;
        let conf_path = directory.join("unbound.conf");
        std::fs::write(&conf_path, settings.unbound_conf(&directory))
            .map_err(io_error(format!("cannot write {}", conf_path.display())))?;
        let netns_directory = Path::new(NETNS_ETC).join(host.namespace());
        let mut resolver = Dns64Resolver {
            settings,
            directory,
            netns_directory,
            process: None,
        };

        let mut check = Command::new(UNBOUND_CHECKCONF);
        check.arg(&conf_path);
        let output = run_with_timeout(check, CHECK_TIMEOUT)?;
        if !output.0 {
            return Err(Error::new(format!(
                "{UNBOUND_CHECKCONF} rejects {}:\n{}\nthe configuration:\n{}",
                conf_path.display(),
                output.1,
                resolver.settings.unbound_conf(&resolver.directory)
            )));
        }

        std::fs::create_dir_all(&resolver.netns_directory).map_err(io_error(format!(
            "cannot create {}",
            resolver.netns_directory.display()
        )))?;
        let resolv_conf = resolver.netns_directory.join("resolv.conf");
        std::fs::write(&resolv_conf, resolver.settings.resolv_conf())
            .map_err(io_error(format!("cannot write {}", resolv_conf.display())))?;

        let conf = conf_path.to_string_lossy().into_owned();
        resolver.process = Some(host.spawn(&[UNBOUND, "-d", "-c", &conf])?);
        resolver.wait_until_answering(host)?;
        Ok(resolver)
    }

    /// Polls `getent ahostsv6` in the host for the zone's first name until it
    /// returns the synthesized address; fails early if unbound exits.
    fn wait_until_answering(&mut self, host: &Host) -> Result<(), Error> {
        let (name, address) = self.settings.records[0].clone();
        let qualified = self.settings.qualified(&name);
        let expected = self.settings.synthesized(address);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let process = self.process.as_mut().expect("started before waiting");
            if let Some(status) = process.try_exit_status()? {
                return Err(Error::new(format!(
                    "unbound exited ({status}) while starting in host {}; its log:\n{}",
                    host.name(),
                    process.log()
                )));
            }
            let output = host.exec(&["getent", "ahostsv6", &qualified], CHECK_TIMEOUT)?;
            let text = String::from_utf8_lossy(&output.stdout).into_owned();
            let answered: Vec<Ipv6Addr> = text
                .lines()
                .filter_map(|line| line.split_whitespace().next()?.parse().ok())
                .collect();
            let good = match expected {
                Some(expected) => answered.contains(&expected),
                None => !answered.is_empty(),
            };
            if good {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(Error::new(format!(
                    "unbound in host {} did not answer `getent ahostsv6 {qualified}` with {} within {START_TIMEOUT:?}; getent printed {text:?} ({}); unbound's log:\n{}",
                    host.name(),
                    expected
                        .map_or_else(|| "any address".to_string(), |address| address.to_string()),
                    output.status,
                    process.log()
                )));
            }
            thread::sleep(POLL_INTERVAL);
        }
    }

    /// What the resolver serves.
    pub fn settings(&self) -> &Dns64Settings {
        &self.settings
    }

    /// The synthesized address of `name` (relative to the zone), if it is one of the records.
    pub fn synthesized_address_of(&self, name: &str) -> Option<Ipv6Addr> {
        let (_, address) = self
            .settings
            .records
            .iter()
            .find(|(record, _)| record == name)?;
        self.settings.synthesized(*address)
    }

    /// Everything unbound printed so far (its log goes to stderr).
    pub fn log(&self) -> String {
        self.process
            .as_ref()
            .map(BackgroundProcess::log)
            .unwrap_or_default()
    }

    /// Whether unbound still runs.
    pub fn is_running(&mut self) -> bool {
        self.process
            .as_mut()
            .is_some_and(|process| matches!(process.try_exit_status(), Ok(None)))
    }
}

impl Drop for Dns64Resolver<'_> {
    fn drop(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.kill();
        }
        if self.netns_directory.starts_with(NETNS_ETC) {
            let _ = std::fs::remove_dir_all(&self.netns_directory);
            // /etc/netns itself only if nothing else uses it (fails when not empty).
            let _ = std::fs::remove_dir(NETNS_ETC);
        }
        let _ = std::fs::remove_dir_all(&self.directory);
    }
}

/// Runs `command` for at most `timeout`; returns whether it succeeded and
/// what it printed (stdout then stderr).
fn run_with_timeout(mut command: Command, timeout: Duration) -> Result<(bool, String), Error> {
    use std::process::Stdio;
    let program = command.get_program().to_string_lossy().into_owned();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(io_error(format!("cannot run {program}")))?;
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Error::new(format!(
                    "{program} did not finish (killed after {timeout:?})"
                )));
            }
            Err(error) => return Err(io_error(format!("cannot wait for {program}"))(error)),
        }
    }
    let output = child
        .wait_with_output()
        .map_err(io_error(format!("cannot read {program}'s output")))?;
    Ok((
        output.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Dns64Settings {
        Dns64Settings {
            prefix: "2001:db8:64::".parse().unwrap(),
            prefix_length: 96,
            zone: "test".into(),
            records: vec![("server".into(), Ipv4Addr::new(192, 0, 2, 10))],
            listen: Ipv6Addr::LOCALHOST,
        }
    }

    #[test]
    fn the_synthesized_address_is_the_ipv4_address_under_the_prefix() {
        assert_eq!(
            settings().synthesized(Ipv4Addr::new(192, 0, 2, 10)),
            Some("2001:db8:64::c000:20a".parse().unwrap())
        );
        assert_eq!(settings().qualified("server"), "server.test.");
    }

    #[test]
    fn the_files_name_the_zone_the_prefix_and_the_listen_address() {
        let settings = settings();
        let zone = settings.zone_file();
        assert!(zone.contains("server IN A 192.0.2.10"), "{zone}");
        assert!(zone.contains("$ORIGIN test."), "{zone}");
        let conf = settings.unbound_conf(Path::new("/tmp/x"));
        for expected in [
            "interface: ::1\n",
            "dns64-prefix: 2001:db8:64::/96",
            "module-config: \"dns64 iterator\"",
            "local-zone: \"test.\" nodefault",
            "zonefile: \"/tmp/x/test.zone\"",
            "for-upstream: yes",
            "do-ip4: no",
        ] {
            assert!(conf.contains(expected), "{expected} missing from\n{conf}");
        }
        assert!(settings.resolv_conf().contains("nameserver ::1\n"));
    }
}
