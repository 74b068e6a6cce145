//! Real Linux hosts around the appliance: network namespaces, a bridge per port, and tap devices for QEMU.
//!
//! A [`Topology`] built for hosts `a` and `b` looks like this (every name
//! carries the process id and a per-process counter, so runs never collide):
//!
//! ```text
//! namespace pure6-PID-N-router: QEMU runs here; IPv6 off, no addresses
//!
//!   pure6 port 0 -- tap tpPID.N.0 --+
//!                                    +-- bridge brPID.N.0
//!                      vrPID.N.0 ----+
//!                          |  veth
//! namespace pure6-PID-N-a: vhPID.N.0, link up, SLAAC from pure6's RAs
//!
//!   pure6 port 1 -- ... the same for host b, on brPID.N.1 ...
//! ```
//!
//! The hosts only bring their links up: their addresses and default routes
//! come from the appliance's Router Advertisements (SLAAC, RFC 4862;
//! `accept_ra=1`, `autoconf=1` and DAD are set explicitly, forwarding stays
//! off). Nothing is created in the caller's (root) network namespace, and
//! every command in a namespace goes through `ip -n NAME` or `ip netns exec NAME`.
//!
//! Everything is torn down when the [`Topology`] is dropped, also when a
//! test panics: background processes are killed, QEMU is killed, the links
//! are deleted and the namespaces removed (`ip netns delete`). Building a
//! topology needs root.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::qemu::{self, Machine, RunningMachine};

/// The longest Linux interface name (IFNAMSIZ minus the terminating zero).
pub const LONGEST_INTERFACE_NAME: usize = 15;
/// The longest host name a topology accepts (it becomes part of a namespace name).
pub const LONGEST_HOST_NAME: usize = 8;
/// How long one setup or teardown command (`ip ...`) may take.
pub const SETUP_COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
/// How often the `wait_for_*` helpers look again.
const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// What went wrong while building or using a topology.
#[derive(Debug)]
pub enum Error {
    /// The process is not root; network namespaces and taps need it.
    NotRoot {
        /// The effective user id found.
        user_id: Option<u32>,
    },
    /// The request itself is not valid (a bad host name, too many hosts).
    Invalid(String),
    /// A program could not be run, or another operating-system call failed.
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: io::Error,
    },
    /// A command ran and failed.
    CommandFailed {
        /// The command, as typed in a shell.
        command: String,
        /// Its exit status.
        status: ExitStatus,
        /// What it printed on stdout.
        stdout: String,
        /// What it printed on stderr.
        stderr: String,
    },
    /// Something did not happen in time.
    Timeout {
        /// What was awaited.
        waiting_for: String,
        /// The last state seen (command output), to tell why.
        last_seen: String,
    },
    /// QEMU could not be started.
    Qemu(qemu::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Error::NotRoot { user_id } => write!(
                formatter,
                "real-host tests create network namespaces and tap devices and need root, but the effective user id is {}; run them as root (CI does), e.g. sudo -E cargo test -p tools --test real_hosts",
                user_id.map_or_else(|| "unknown".to_string(), |id| id.to_string())
            ),
            Error::Invalid(why) => write!(formatter, "invalid topology: {why}"),
            Error::Io { context, source } => write!(formatter, "{context}: {source}"),
            Error::CommandFailed {
                command,
                status,
                stdout,
                stderr,
            } => write!(
                formatter,
                "`{command}` failed ({status})\nstdout:\n{stdout}\nstderr:\n{stderr}"
            ),
            Error::Timeout {
                waiting_for,
                last_seen,
            } => write!(
                formatter,
                "timed out waiting for {waiting_for}; last seen:\n{last_seen}"
            ),
            Error::Qemu(error) => write!(formatter, "{error}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            Error::Qemu(error) => Some(error),
            _ => None,
        }
    }
}

/// The effective user id, from `/proc/self/status`.
fn effective_user_id() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// `Ok` when running as root (effective user id 0), else [`Error::NotRoot`]
/// with a message saying how to run the tests.
pub fn require_root() -> Result<(), Error> {
    match effective_user_id() {
        Some(0) => Ok(()),
        user_id => Err(Error::NotRoot { user_id }),
    }
}

/// Quotes `argument` for a POSIX shell when it holds anything but safe characters.
fn shell_quote(argument: &str) -> String {
    let safe =
        |character: char| character.is_ascii_alphanumeric() || "-_.,:/=@+%[]".contains(character);
    if !argument.is_empty() && argument.chars().all(safe) {
        argument.to_string()
    } else {
        format!("'{}'", argument.replace('\'', r"'\''"))
    }
}

/// `command` as typed in a shell.
fn describe(command: &Command) -> String {
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|argument| shell_quote(&argument.to_string_lossy()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `command` with no input, collecting its output, for at most `timeout`
/// (then it is killed and [`Error::Timeout`] returned). Any exit status is `Ok`.
fn run_bounded(mut command: Command, timeout: Duration) -> Result<Output, Error> {
    let description = describe(&command);
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().map_err(|error| Error::Io {
        context: format!(
            "cannot run `{description}`{}",
            if error.kind() == io::ErrorKind::NotFound {
                " (not installed? tools::setup::ensure_host_tools installs what the tests use)"
            } else {
                ""
            }
        ),
        source: error,
    })?;
    let collect = |stream: Option<Box<dyn Read + Send>>| {
        thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut stream) = stream {
                let _ = stream.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = collect(
        child
            .stdout
            .take()
            .map(|stream| Box::new(stream) as Box<dyn Read + Send>),
    );
    let stderr = collect(
        child
            .stderr
            .take()
            .map(|stream| Box::new(stream) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(10)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                // The readers end with the pipes; a grandchild could hold them
                // open, so they are not joined here.
                return Err(Error::Timeout {
                    waiting_for: format!("`{description}` to finish (killed after {timeout:?})"),
                    last_seen: String::new(),
                });
            }
            Err(error) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Error::Io {
                    context: format!("cannot wait for `{description}`"),
                    source: error,
                });
            }
        }
    };
    Ok(Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

/// Like [`run_bounded`], but a non-zero exit status is [`Error::CommandFailed`]; returns stdout.
fn run_checked(command: Command, timeout: Duration) -> Result<String, Error> {
    let description = describe(&command);
    let output = run_bounded(command, timeout)?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(Error::CommandFailed {
            command: description,
            status: output.status,
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }
}

/// `ip ARGUMENTS...`, bounded by [`SETUP_COMMAND_TIMEOUT`].
fn ip(arguments: &[&str]) -> Result<String, Error> {
    let mut command = Command::new("ip");
    command.args(arguments);
    run_checked(command, SETUP_COMMAND_TIMEOUT)
}

/// `ip -n NAMESPACE ARGUMENTS...`, bounded by [`SETUP_COMMAND_TIMEOUT`].
fn ip_in(namespace: &str, arguments: &[&str]) -> Result<String, Error> {
    let mut command = Command::new("ip");
    command.args(["-n", namespace]).args(arguments);
    run_checked(command, SETUP_COMMAND_TIMEOUT)
}

/// Writes `value` to `/proc/sys/KEY` (KEY with slashes, e.g.
/// `net/ipv6/conf/all/accept_ra`) for each pair, inside `namespace`.
fn write_sysctls(namespace: &str, settings: &[(String, &str)]) -> Result<(), Error> {
    let script = settings
        .iter()
        .map(|(key, value)| format!("echo {value} > /proc/sys/{key}"))
        .collect::<Vec<_>>()
        .join(" && ");
    let mut command = Command::new("ip");
    command.args(["netns", "exec", namespace, "sh", "-c", &script]);
    run_checked(command, SETUP_COMMAND_TIMEOUT).map(drop)
}

/// The names of the network namespaces `ip netns list` shows.
pub fn namespace_names() -> Result<Vec<String>, Error> {
    Ok(ip(&["netns", "list"])?
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_string)
        .collect())
}

/// The interface names in `namespace`, or in the caller's namespace for `None` (read only).
pub fn interface_names(namespace: Option<&str>) -> Result<Vec<String>, Error> {
    let output = match namespace {
        Some(namespace) => ip_in(namespace, &["-o", "link", "show"])?,
        None => ip(&["-o", "link", "show"])?,
    };
    // Lines read `7: NAME@PEER: <FLAGS> ...` or `7: NAME: <FLAGS> ...`.
    Ok(output
        .lines()
        .filter_map(|line| line.split(": ").nth(1))
        .map(|name| name.split('@').next().unwrap_or(name).to_string())
        .collect())
}

/// A network namespace this process created; deleted on drop, after killing
/// whatever still runs in it (only processes the topology started can).
#[derive(Debug)]
struct Namespace {
    name: String,
}

impl Namespace {
    fn create(name: String) -> Result<Namespace, Error> {
        ip(&["netns", "add", &name])?;
        Ok(Namespace { name })
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        if let Ok(pids) = ip(&["netns", "pids", &self.name]) {
            for pid in pids.split_whitespace() {
                let _ = Command::new("kill")
                    .args(["-KILL", pid])
                    .stderr(Stdio::null())
                    .status();
            }
        }
        if let Err(error) = ip(&["netns", "delete", &self.name]) {
            eprintln!("topology: cannot delete namespace {}: {error}", self.name);
        }
    }
}

/// A directory for logs and files the hosts serve; removed on drop.
#[derive(Debug)]
struct ScratchDirectory {
    path: PathBuf,
}

impl Drop for ScratchDirectory {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// One Linux host: a network namespace with one link to an appliance port.
#[derive(Debug)]
pub struct Host {
    name: String,
    port: usize,
    link: String,
    scratch_directory: PathBuf,
    namespace: Namespace,
}

impl Host {
    /// The host's name as given to [`Topology::build`].
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The index of the appliance port the host is attached to.
    pub fn port(&self) -> usize {
        self.port
    }

    /// The host's network namespace.
    pub fn namespace(&self) -> &str {
        &self.namespace.name
    }

    /// The host's link (its end of the veth pair) inside its namespace.
    pub fn link(&self) -> &str {
        &self.link
    }

    /// A command running `program` inside the host's namespace (`ip netns exec NAMESPACE program`).
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", self.namespace(), program]);
        command
    }

    fn command_for(&self, command: &[&str]) -> Result<Command, Error> {
        let (program, arguments) = command
            .split_first()
            .ok_or_else(|| Error::Invalid("an empty command".into()))?;
        let mut built = self.command(program);
        built.args(arguments);
        Ok(built)
    }

    /// Runs `command` (program and arguments) in the host, for at most
    /// `timeout` (then it is killed: [`Error::Timeout`]); any exit status is `Ok`.
    pub fn exec(&self, command: &[&str], timeout: Duration) -> Result<Output, Error> {
        run_bounded(self.command_for(command)?, timeout)
    }

    /// Like [`Host::exec`], but a non-zero exit status is [`Error::CommandFailed`]; returns stdout.
    pub fn run(&self, command: &[&str], timeout: Duration) -> Result<String, Error> {
        run_checked(self.command_for(command)?, timeout)
    }

    /// Starts `command` in the host in the background, its stdout and stderr
    /// going to a log file; it is killed when the returned guard is dropped.
    pub fn spawn(&self, command: &[&str]) -> Result<BackgroundProcess<'_>, Error> {
        static SEQUENCE: AtomicU32 = AtomicU32::new(0);
        let mut built = self.command_for(command)?;
        let description = describe(&built);
        let log = self.scratch_directory.join(format!(
            "{}-{}-{}.log",
            self.name,
            command[0].rsplit('/').next().unwrap_or("process"),
            SEQUENCE.fetch_add(1, Ordering::Relaxed)
        ));
        let file = File::create(&log).map_err(|error| Error::Io {
            context: format!("cannot create {}", log.display()),
            source: error,
        })?;
        let file_for_stderr = file.try_clone().map_err(|error| Error::Io {
            context: format!("cannot duplicate the handle of {}", log.display()),
            source: error,
        })?;
        built
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(file_for_stderr);
        let child = built.spawn().map_err(|error| Error::Io {
            context: format!("cannot start `{description}`"),
            source: error,
        })?;
        Ok(BackgroundProcess {
            host: self,
            description,
            child,
            log,
            exit_status: None,
        })
    }

    /// Sets the MTU of the host's link (`ip link set LINK mtu MTU`).
    pub fn set_mtu(&self, mtu: u16) -> Result<(), Error> {
        ip_in(
            self.namespace(),
            &["link", "set", "dev", &self.link, "mtu", &mtu.to_string()],
        )
        .map(drop)
    }

    /// The MTU of the host's link.
    pub fn mtu(&self) -> Result<u32, Error> {
        let output = ip_in(self.namespace(), &["-o", "link", "show", "dev", &self.link])?;
        let words: Vec<&str> = output.split_whitespace().collect();
        words
            .iter()
            .position(|word| *word == "mtu")
            .and_then(|position| words.get(position + 1))
            .and_then(|mtu| mtu.parse().ok())
            .ok_or_else(|| Error::Invalid(format!("no MTU in {output:?}")))
    }

    /// `ip -6 -o addr show dev LINK scope SCOPE`: the addresses whose duplicate
    /// address detection finished (neither tentative nor failed).
    fn usable_addresses(&self, scope: &str) -> Result<(Vec<Ipv6Addr>, String), Error> {
        let output = ip_in(
            self.namespace(),
            &[
                "-6", "-o", "addr", "show", "dev", &self.link, "scope", scope,
            ],
        )?;
        let addresses = output
            .lines()
            .filter(|line| !line.contains("tentative") && !line.contains("dadfailed"))
            .filter_map(|line| {
                let words: Vec<&str> = line.split_whitespace().collect();
                let position = words.iter().position(|word| *word == "inet6")?;
                words.get(position + 1)?.split('/').next()?.parse().ok()
            })
            .collect();
        Ok((addresses, output))
    }

    /// Polls `probe` until it returns `Some` or `timeout` passes; `probe` also
    /// returns the state it saw, reported on timeout.
    fn poll<T>(
        &self,
        waiting_for: &str,
        timeout: Duration,
        mut probe: impl FnMut() -> Result<(Option<T>, String), Error>,
    ) -> Result<T, Error> {
        let deadline = Instant::now() + timeout;
        loop {
            let (found, seen) = probe()?;
            if let Some(found) = found {
                return Ok(found);
            }
            if Instant::now() >= deadline {
                return Err(Error::Timeout {
                    waiting_for: format!("{waiting_for} in host {} ({timeout:?})", self.name),
                    last_seen: seen,
                });
            }
            thread::sleep(POLL_INTERVAL);
        }
    }

    /// Waits until the link has a link-local address that passed duplicate address detection.
    pub fn wait_for_link_local_address(&self, timeout: Duration) -> Result<Ipv6Addr, Error> {
        self.poll("a link-local address", timeout, || {
            let (addresses, seen) = self.usable_addresses("link")?;
            Ok((addresses.first().copied(), seen))
        })
    }

    /// The link's global addresses that passed duplicate address detection.
    pub fn global_addresses(&self) -> Result<Vec<Ipv6Addr>, Error> {
        Ok(self.usable_addresses("global")?.0)
    }

    /// Waits until the link has a global address (from SLAAC: the router's
    /// Router Advertisements) that passed duplicate address detection; returns it.
    pub fn wait_for_global_address(&self, timeout: Duration) -> Result<Ipv6Addr, Error> {
        self.poll(
            "a global address (autoconfigured from a Router Advertisement)",
            timeout,
            || {
                let (addresses, seen) = self.usable_addresses("global")?;
                Ok((addresses.first().copied(), seen))
            },
        )
    }

    /// Makes the host an IPv6 host with static addresses only: Router
    /// Advertisements and SLAAC off, each of `addresses` added as
    /// `/prefix_length` without DAD, a wait of at most `timeout` until they
    /// are usable and are the link's only global addresses, then a default
    /// route via `gateway`. `announce` sees each command before it runs (the
    /// demo prints them).
    pub fn configure_static_ipv6(
        &self,
        addresses: &[Ipv6Addr],
        prefix_length: u8,
        gateway: Ipv6Addr,
        timeout: Duration,
        announce: &mut dyn FnMut(&[&str]),
    ) -> Result<(), Error> {
        let mut sysctl = vec!["sysctl".to_string(), "-q".into(), "-w".into()];
        for interface in ["all", "default", self.link.as_str()] {
            for key in ["accept_ra", "autoconf"] {
                sysctl.push(format!("net/ipv6/conf/{interface}/{key}=0"));
            }
        }
        let mut commands = vec![sysctl];
        for address in addresses {
            commands.push(
                [
                    "ip",
                    "-6",
                    "addr",
                    "add",
                    &format!("{address}/{prefix_length}"),
                ]
                .into_iter()
                .chain(["dev", &self.link, "nodad"])
                .map(String::from)
                .collect(),
            );
        }
        self.run_announced(&commands, announce)?;
        self.poll("exactly the static global addresses", timeout, || {
            let (mut usable, seen) = self.usable_addresses("global")?;
            usable.sort();
            let mut wanted = addresses.to_vec();
            wanted.sort();
            Ok(((usable == wanted).then_some(()), seen))
        })?;
        let route = ["ip", "-6", "route", "add", "default", "via"]
            .into_iter()
            .map(String::from)
            .chain([gateway.to_string(), "dev".into(), self.link.clone()])
            .collect();
        self.run_announced(&[route], announce)
    }

    /// Makes the host IPv4-only: IPv6 disabled (checked: no IPv6 address
    /// left), `address` added as `/prefix_length`, a default route and a
    /// route to each of `routes` (`a.b.c.d/n`) via `gateway`. `announce` sees each command before it
    /// runs (the demo prints them).
    pub fn configure_ipv4_only(
        &self,
        address: Ipv4Addr,
        prefix_length: u8,
        gateway: Ipv4Addr,
        routes: &[&str],
        announce: &mut dyn FnMut(&[&str]),
    ) -> Result<(), Error> {
        let mut sysctl = vec!["sysctl".to_string(), "-q".into(), "-w".into()];
        for interface in ["all", "default", self.link.as_str()] {
            sysctl.push(format!("net/ipv6/conf/{interface}/disable_ipv6=1"));
        }
        let gateway = gateway.to_string();
        let mut commands = vec![
            sysctl,
            [
                "ip",
                "-4",
                "addr",
                "add",
                &format!("{address}/{prefix_length}"),
            ]
            .into_iter()
            .chain(["dev", &self.link])
            .map(String::from)
            .collect(),
        ];
        for destination in ["default"].into_iter().chain(routes.iter().copied()) {
            commands.push(
                ["ip", "-4", "route", "add", destination, "via", &gateway]
                    .into_iter()
                    .map(String::from)
                    .collect(),
            );
        }
        self.run_announced(&commands, announce)?;
        let ipv6 = ip_in(self.namespace(), &["-6", "-o", "addr", "show"])?;
        if !ipv6.trim().is_empty() {
            return Err(Error::Invalid(format!(
                "host {} still has IPv6 addresses (disable_ipv6 did not take):\n{ipv6}",
                self.name
            )));
        }
        Ok(())
    }

    /// Runs each of `commands` in the host, showing it to `announce` first.
    fn run_announced(
        &self,
        commands: &[Vec<String>],
        announce: &mut dyn FnMut(&[&str]),
    ) -> Result<(), Error> {
        for command in commands {
            let command: Vec<&str> = command.iter().map(String::as_str).collect();
            announce(&command);
            self.run(&command, SETUP_COMMAND_TIMEOUT)?;
        }
        Ok(())
    }

    /// Waits until the host has a default route through its link (learned
    /// from a Router Advertisement); returns the router it goes via.
    pub fn wait_for_default_router(&self, timeout: Duration) -> Result<Ipv6Addr, Error> {
        self.poll(
            "a default route (from a Router Advertisement)",
            timeout,
            || {
                let output = ip_in(self.namespace(), &["-6", "route", "show", "default"])?;
                let router = output.lines().find_map(|line| {
                    let words: Vec<&str> = line.split_whitespace().collect();
                    let after = |key: &str| {
                        words
                            .iter()
                            .position(|word| *word == key)
                            .and_then(|position| words.get(position + 1))
                            .copied()
                    };
                    if after("dev") != Some(self.link.as_str()) {
                        return None;
                    }
                    after("via")?.parse().ok()
                });
                Ok((router, output))
            },
        )
    }

    /// Waits until a TCP socket listens on `port` in the host (`ss -Hltn`).
    pub fn wait_for_tcp_listener(&self, port: u16, timeout: Duration) -> Result<(), Error> {
        let suffix = format!(":{port}");
        self.poll(&format!("a TCP listener on port {port}"), timeout, || {
            let output = self.run(&["ss", "-Hltn"], SETUP_COMMAND_TIMEOUT)?;
            let listening = output.lines().any(|line| {
                line.split_whitespace()
                    .nth(3)
                    .is_some_and(|local| local.ends_with(&suffix))
            });
            Ok((listening.then_some(()), output))
        })
    }

    /// The host's addresses, routes and neighbors of both families, for
    /// failure messages.
    pub fn diagnostics(&self) -> String {
        let mut report = format!("host {} (namespace {}):\n", self.name, self.namespace());
        for arguments in [
            &["-6", "addr", "show"][..],
            &["-6", "route", "show"][..],
            &["-6", "neigh", "show"][..],
            &["-4", "addr", "show"][..],
            &["-4", "route", "show"][..],
            &["-4", "neigh", "show"][..],
        ] {
            let text = ip_in(self.namespace(), arguments).unwrap_or_else(|error| error.to_string());
            report.push_str(&format!("  $ ip {}\n", arguments.join(" ")));
            for line in text.lines() {
                report.push_str("    ");
                report.push_str(line);
                report.push('\n');
            }
        }
        report
    }
}

/// A process started with [`Host::spawn`]; killed (and reaped) when dropped.
#[derive(Debug)]
pub struct BackgroundProcess<'host> {
    host: &'host Host,
    description: String,
    child: Child,
    log: PathBuf,
    exit_status: Option<ExitStatus>,
}

impl BackgroundProcess<'_> {
    /// The process id (of `ip netns exec`, which execs the program: the same process).
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The host it runs in.
    pub fn host(&self) -> &Host {
        self.host
    }

    /// Everything it printed so far (stdout and stderr).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Its exit status if it has exited, without waiting.
    pub fn try_exit_status(&mut self) -> Result<Option<ExitStatus>, Error> {
        if self.exit_status.is_none() {
            self.exit_status = self.child.try_wait().map_err(|error| Error::Io {
                context: format!("cannot poll `{}`", self.description),
                source: error,
            })?;
        }
        Ok(self.exit_status)
    }

    /// Waits at most `timeout` for it to exit; on timeout it is killed and
    /// [`Error::Timeout`] names what it printed.
    pub fn wait(&mut self, timeout: Duration) -> Result<ExitStatus, Error> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_exit_status()? {
                return Ok(status);
            }
            if Instant::now() >= deadline {
                self.kill();
                return Err(Error::Timeout {
                    waiting_for: format!("`{}` to exit (killed)", self.description),
                    last_seen: self.log(),
                });
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills it (if it still runs) and reaps it.
    pub fn kill(&mut self) {
        if self.exit_status.is_none() {
            let _ = self.child.kill();
            self.exit_status = self.child.wait().ok();
        }
    }
}

impl Drop for BackgroundProcess<'_> {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The appliance in its own namespace, one Linux host per port; all torn down on drop.
///
/// Fields drop in declaration order after [`Drop::drop`] has killed QEMU and
/// deleted the router namespace's links: hosts (their namespaces), then
/// the router namespace, then the scratch directory.
#[derive(Debug)]
pub struct Topology {
    appliance: Option<RunningMachine>,
    hosts: Vec<Host>,
    router: Namespace,
    /// Links in the router namespace, deleted explicitly before it goes.
    router_links: Vec<String>,
    taps: Vec<String>,
    scratch: ScratchDirectory,
}

impl Topology {
    /// Builds a topology with one host per name, host `N` on appliance port
    /// `N`. Host names are 1 to [`LONGEST_HOST_NAME`] characters of `a-z0-9`.
    /// Fails with [`Error::NotRoot`] unless running as root. Whatever was
    /// created is removed again if a step fails.
    pub fn build(host_names: &[&str]) -> Result<Topology, Error> {
        static SEQUENCE: AtomicU32 = AtomicU32::new(0);
        require_root()?;
        if !(qemu::MIN_PORTS..=qemu::MAX_PORTS).contains(&host_names.len()) {
            return Err(Error::Invalid(format!(
                "{} hosts; the appliance has {} to {} ports",
                host_names.len(),
                qemu::MIN_PORTS,
                qemu::MAX_PORTS
            )));
        }
        for (index, name) in host_names.iter().enumerate() {
            let valid = !name.is_empty()
                && name.len() <= LONGEST_HOST_NAME
                && name
                    .chars()
                    .all(|character| character.is_ascii_lowercase() || character.is_ascii_digit());
            if !valid || name == &"router" {
                return Err(Error::Invalid(format!(
                    "host name {name:?}: 1 to {LONGEST_HOST_NAME} characters of a-z and 0-9, not \"router\""
                )));
            }
            if host_names[..index].contains(name) {
                return Err(Error::Invalid(format!("host name {name:?} given twice")));
            }
        }
        let process = std::process::id();
        let sequence = SEQUENCE.fetch_add(1, Ordering::Relaxed);
        let interface = |role: &str, port: usize| format!("{role}{process}.{sequence}.{port}");
        let longest = interface("xx", host_names.len() - 1);
        if longest.len() > LONGEST_INTERFACE_NAME {
            return Err(Error::Invalid(format!(
                "interface name {longest} would exceed {LONGEST_INTERFACE_NAME} characters (too many topologies in this process)"
            )));
        }
        let prefix = format!("pure6-{process}-{sequence}");
        let scratch = ScratchDirectory {
            path: std::env::temp_dir().join(&prefix),
        };
        std::fs::create_dir_all(&scratch.path).map_err(|error| Error::Io {
            context: format!("cannot create {}", scratch.path.display()),
            source: error,
        })?;

        // The router namespace carries no addresses: IPv6 is off before any link exists.
        let router = Namespace::create(format!("{prefix}-router"))?;
        write_sysctls(
            &router.name,
            &[
                ("net/ipv6/conf/all/disable_ipv6".into(), "1"),
                ("net/ipv6/conf/default/disable_ipv6".into(), "1"),
            ],
        )?;
        let mut hosts = Vec::with_capacity(host_names.len());
        let mut router_links = Vec::new();
        let mut taps = Vec::new();
        for (port, name) in host_names.iter().enumerate() {
            let namespace = Namespace::create(format!("{prefix}-{name}"))?;
            let link = interface("vh", port);
            // SLAAC on, forwarding off (a host, not a router), DAD on.
            let host_settings = |interface: &str| {
                [
                    ("forwarding", "0"),
                    ("accept_ra", "1"),
                    ("autoconf", "1"),
                    ("accept_dad", "1"),
                    ("dad_transmits", "1"),
                    ("disable_ipv6", "0"),
                ]
                .map(|(key, value)| (format!("net/ipv6/conf/{interface}/{key}"), value))
            };
            let mut settings = host_settings("all").to_vec();
            settings.extend(host_settings("default"));
            write_sysctls(&namespace.name, &settings)?;
            ip_in(&namespace.name, &["link", "set", "dev", "lo", "up"])?;

            let tap = interface("tp", port);
            let bridge = interface("br", port);
            let router_end = interface("vr", port);
            ip_in(
                &router.name,
                &[
                    "link",
                    "add",
                    &bridge,
                    "type",
                    "bridge",
                    "stp_state",
                    "0",
                    "forward_delay",
                    "0",
                    "mcast_snooping",
                    "0",
                ],
            )?;
            router_links.push(bridge.clone());
            ip_in(&router.name, &["tuntap", "add", "dev", &tap, "mode", "tap"])?;
            router_links.push(tap.clone());
            ip_in(
                &router.name,
                &[
                    "link",
                    "add",
                    &router_end,
                    "type",
                    "veth",
                    "peer",
                    "name",
                    &link,
                    "netns",
                    &namespace.name,
                ],
            )?;
            router_links.push(router_end.clone());
            for member in [&tap, &router_end] {
                ip_in(
                    &router.name,
                    &["link", "set", "dev", member, "master", &bridge],
                )?;
            }
            for up in [&bridge, &tap, &router_end] {
                ip_in(&router.name, &["link", "set", "dev", up, "up"])?;
            }
            // The link was created after the defaults were set; set its own values too.
            write_sysctls(&namespace.name, &host_settings(&link))?;
            ip_in(&namespace.name, &["link", "set", "dev", &link, "up"])?;
            taps.push(tap);
            hosts.push(Host {
                name: (*name).to_string(),
                port,
                link,
                scratch_directory: scratch.path.clone(),
                namespace,
            });
        }
        Ok(Topology {
            appliance: None,
            hosts,
            router,
            router_links,
            taps,
            scratch,
        })
    }

    /// The router's namespace (QEMU and the taps live there).
    pub fn router_namespace(&self) -> &str {
        &self.router.name
    }

    /// The tap devices, in port order.
    pub fn taps(&self) -> &[String] {
        &self.taps
    }

    /// Every namespace of the topology: the router's first, then the hosts' in port order.
    pub fn namespaces(&self) -> Vec<String> {
        std::iter::once(self.router.name.clone())
            .chain(self.hosts.iter().map(|host| host.namespace.name.clone()))
            .collect()
    }

    /// Every interface name the topology created (taps, bridges, both veth ends).
    pub fn interface_names(&self) -> Vec<String> {
        self.router_links
            .iter()
            .cloned()
            .chain(self.hosts.iter().map(|host| host.link.clone()))
            .collect()
    }

    /// The hosts, in port order.
    pub fn hosts(&self) -> &[Host] {
        &self.hosts
    }

    /// The host called `name`. Panics if there is none.
    pub fn host(&self, name: &str) -> &Host {
        self.hosts
            .iter()
            .find(|host| host.name == name)
            .unwrap_or_else(|| panic!("the topology has no host {name:?}"))
    }

    /// A directory removed with the topology, for files hosts serve or fetch.
    pub fn scratch_directory(&self) -> &Path {
        &self.scratch.path
    }

    /// Starts `machine` inside the router namespace with its ports on the
    /// topology's taps (overriding its port count: one per host). The
    /// appliance is killed when the topology is dropped.
    pub fn start_appliance(&mut self, machine: Machine) -> Result<&RunningMachine, Error> {
        if self.appliance.is_some() {
            return Err(Error::Invalid("the appliance is already running".into()));
        }
        let machine = machine.tap_ports(Some(&self.router.name), self.taps.iter().cloned());
        let running = machine.start().map_err(Error::Qemu)?;
        Ok(self.appliance.insert(running))
    }

    /// The appliance, once started.
    pub fn appliance(&self) -> Option<&RunningMachine> {
        self.appliance.as_ref()
    }

    /// The appliance's non-zero counters whose name passes `wanted`, one a
    /// line (`PORT NAME VALUE`), or why they cannot be read.
    pub fn counters_report(&self, wanted: impl Fn(&str) -> bool) -> String {
        let Some(appliance) = self.appliance() else {
            return "the appliance is not running\n".into();
        };
        match appliance.counters() {
            Ok(counters) => counters
                .iter()
                .filter(|((_, name), value)| **value != 0 && wanted(name))
                .map(|((port, name), value)| format!("{port} {name} {value}\n"))
                .collect(),
            Err(error) => format!("cannot read pure6's counters: {error}\n"),
        }
    }

    /// Every host's addresses, routes and neighbors, and the appliance's
    /// console so far, for failure messages.
    pub fn diagnostics(&self) -> String {
        let mut report = String::new();
        for host in &self.hosts {
            report.push_str(&host.diagnostics());
        }
        if let Some(appliance) = &self.appliance {
            report.push_str("appliance console:\n");
            report.push_str(&appliance.transcript());
        }
        report
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        // QEMU first: it holds the taps.
        if let Some(appliance) = self.appliance.take() {
            appliance.kill();
            drop(appliance);
        }
        for link in self.router_links.iter().rev() {
            let _ = ip_in(&self.router.name, &["link", "delete", "dev", link]);
        }
        // The namespaces go with the fields: hosts first, then the router's.
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quoting_keeps_simple_words() {
        assert_eq!(shell_quote("ip"), "ip");
        assert_eq!(
            shell_quote("http://[2001:db8::1]:8000/"),
            "http://[2001:db8::1]:8000/"
        );
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn bounded_commands_report_status_output_and_timeouts() {
        let mut command = Command::new("sh");
        command.args(["-c", "echo out; echo err >&2; exit 3"]);
        let output = run_bounded(command, Duration::from_secs(10)).expect("sh runs");
        assert_eq!(output.status.code(), Some(3));
        assert_eq!(output.stdout, b"out\n");
        assert_eq!(output.stderr, b"err\n");

        let mut command = Command::new("sh");
        command.args(["-c", "exit 1"]);
        let error = run_checked(command, Duration::from_secs(10)).expect_err("exit 1");
        assert!(matches!(error, Error::CommandFailed { .. }), "{error}");

        let mut command = Command::new("sleep");
        command.arg("30");
        let started = Instant::now();
        let error = run_bounded(command, Duration::from_millis(200)).expect_err("too slow");
        assert!(matches!(error, Error::Timeout { .. }), "{error}");
        assert!(started.elapsed() < Duration::from_secs(20));
    }

    #[test]
    fn bad_host_names_are_refused_before_anything_is_created() {
        for names in [
            &[][..],
            &["A"][..],
            &["router"][..],
            &["a", "a"][..],
            &["toolonghost"][..],
        ] {
            match Topology::build(names) {
                Err(Error::Invalid(_) | Error::NotRoot { .. }) => {}
                other => panic!("{names:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn the_effective_user_id_is_read() {
        assert!(effective_user_id().is_some());
    }
}
