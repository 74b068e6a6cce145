//! Driving QEMU: command lines for microvm and q35, booting the image and reading its console.
//!
//! A [`Machine`] describes one appliance (machine type, image, ports, config,
//! memory); [`Machine::start`] binds the harness side of every port, spawns
//! `qemu-system-x86_64` and returns a [`RunningMachine`]. Its console
//! (the serial port on QEMU's stdio) is collected line by line by a reader
//! thread, so tests wait for lines with a timeout and get the whole
//! transcript in the error when a line never comes. Each port is a pair of
//! unix datagram sockets (`-netdev dgram`): one datagram is one Ethernet
//! frame without FCS, and no root is needed. Alternatively
//! ([`Machine::tap_ports`]) each port is a tap device that already exists in
//! a network namespace, QEMU runs inside that namespace (`ip netns exec`),
//! and there are no harness sockets; that needs root.
//!
//! QEMU is killed when a wait times out and when the [`RunningMachine`] is
//! dropped; the temporary directory holding the sockets is removed on drop.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::Ipv6Addr;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::setup;
use crate::simulated_host::{MacAddress, format_mac};

/// The fw_cfg name under which the appliance looks for its configuration.
pub const CONFIG_FILE_NAME: &str = "opt/pure6/config.toml";
/// The fewest ports a machine can have.
pub const MIN_PORTS: usize = 1;
/// The most ports a machine can have (the router drives at most eight).
pub const MAX_PORTS: usize = 8;
/// The console line the appliance prints once every port is up.
pub const READY_LINE: &str = "pure6: ready";
/// How long [`RunningMachine::counters`] waits for `counters end` (and
/// [`RunningMachine::heap_used`] for the `memory` line).
pub const COUNTERS_TIMEOUT: Duration = Duration::from_secs(30);
/// How long [`PortSocket::send`] may block on a full QEMU queue before failing.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest frame a port socket receives (QEMU's own limit is below it).
const LARGEST_FRAME: usize = 65_536;

/// The QEMU machine model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MachineType {
    /// `-machine microvm`: qboot firmware, virtio-mmio devices; boots in tens of milliseconds.
    Microvm,
    /// `-machine q35`: a PC with PCIe and SeaBIOS (unless another BIOS is given); virtio-net-pci devices.
    Q35,
}

impl MachineType {
    /// Both machine types, the fast one first.
    pub const ALL: [MachineType; 2] = [MachineType::Microvm, MachineType::Q35];

    /// The name QEMU's `-machine` option takes (also used on `cargo xtask` command lines).
    pub fn name(self) -> &'static str {
        match self {
            MachineType::Microvm => "microvm",
            MachineType::Q35 => "q35",
        }
    }

    /// The machine type named `name` (`microvm` or `q35`).
    pub fn from_name(name: &str) -> Option<MachineType> {
        MachineType::ALL
            .into_iter()
            .find(|machine| machine.name() == name)
    }

    fn network_device(self) -> &'static str {
        match self {
            MachineType::Microvm => "virtio-net-device",
            MachineType::Q35 => "virtio-net-pci",
        }
    }
}

/// QEMU's accelerator, as in `-machine ...,accel=NAME`.
///
/// Measured on the project's 2-core development and CI VMs (Firecracker
/// guests whose /dev/kvm is nested): a 1,000,000-iteration integer loop in
/// the guest took 762 ms under KVM and well under 1 ms under TCG, and boot
/// to `pure6: ready` was 4x faster under TCG. KVM there is correct but
/// pathologically slow, so tests and benchmarks default to TCG; on a real
/// hypervisor host pass `--accel kvm:tcg` (the operator default of `run`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accelerator {
    /// `kvm:tcg`: KVM when available, TCG otherwise.
    KvmThenTcg,
    /// `kvm` only.
    Kvm,
    /// `tcg`: QEMU's portable emulator.
    Tcg,
}

impl Accelerator {
    /// The value for `accel=`.
    pub fn name(self) -> &'static str {
        match self {
            Accelerator::KvmThenTcg => "kvm:tcg",
            Accelerator::Kvm => "kvm",
            Accelerator::Tcg => "tcg",
        }
    }

    /// Parses `kvm:tcg`, `kvm` or `tcg`.
    pub fn from_name(name: &str) -> Option<Accelerator> {
        match name {
            "kvm:tcg" => Some(Accelerator::KvmThenTcg),
            "kvm" => Some(Accelerator::Kvm),
            "tcg" => Some(Accelerator::Tcg),
            _ => None,
        }
    }

    /// The accelerator tests and benchmarks use: `PURE6_QEMU_ACCEL` when set
    /// (and valid), TCG otherwise (see the type's documentation).
    pub fn for_tests() -> Accelerator {
        std::env::var("PURE6_QEMU_ACCEL")
            .ok()
            .and_then(|name| Accelerator::from_name(&name))
            .unwrap_or(Accelerator::Tcg)
    }
}

/// How the appliance stopped, decoded from QEMU's exit status (`isa-debug-exit`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApplianceExit {
    /// A requested stop (`shutdown` on the console): status 1.
    Clean,
    /// A panic or CPU exception: status 3.
    Panic,
    /// The configuration was rejected: status 5.
    ConfigurationError,
    /// The hardware did not let the appliance start: status 7.
    HardwareError,
    /// Any other status, or none (QEMU was killed by a signal).
    Other(Option<i32>),
}

impl ApplianceExit {
    /// Decodes QEMU's exit status.
    pub fn from_status(status: ExitStatus) -> ApplianceExit {
        match status.code() {
            Some(1) => ApplianceExit::Clean,
            Some(3) => ApplianceExit::Panic,
            Some(5) => ApplianceExit::ConfigurationError,
            Some(7) => ApplianceExit::HardwareError,
            other => ApplianceExit::Other(other),
        }
    }
}

/// What went wrong while driving QEMU. Errors raised while the machine runs
/// carry the console transcript so far.
#[derive(Debug)]
pub enum Error {
    /// `qemu-system-x86_64` is not installed.
    QemuMissing,
    /// The machine description is not valid (for example, nine ports).
    InvalidMachine(String),
    /// An operating-system call failed.
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: io::Error,
    },
    /// Something did not happen in time; QEMU has been killed.
    Timeout {
        /// What was awaited.
        waiting_for: String,
        /// The console transcript.
        transcript: String,
    },
    /// QEMU exited while something was awaited.
    Exited {
        /// What was awaited.
        waiting_for: String,
        /// QEMU's exit status, if it was collected.
        status: Option<ExitStatus>,
        /// The console transcript.
        transcript: String,
    },
}

impl Error {
    fn io(context: impl Into<String>, source: io::Error) -> Error {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Error::QemuMissing => write!(
                formatter,
                "{} is not installed; install it with: apt-get install -y qemu-system-x86",
                setup::QEMU
            ),
            Error::InvalidMachine(why) => write!(formatter, "invalid machine: {why}"),
            Error::Io { context, source } => write!(formatter, "{context}: {source}"),
            Error::Timeout {
                waiting_for,
                transcript,
            } => write!(
                formatter,
                "timed out waiting for {waiting_for} (QEMU killed); console transcript:\n{transcript}"
            ),
            Error::Exited {
                waiting_for,
                status,
                transcript,
            } => {
                let status = status
                    .map_or_else(|| "unknown status".to_string(), |status| status.to_string());
                write!(
                    formatter,
                    "QEMU exited ({status}) while waiting for {waiting_for}; console transcript:\n{transcript}"
                )
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// The MAC address QEMU gives port `index`: 52:54:00:00:00:01 for port 0, and so on.
pub fn port_mac(index: usize) -> MacAddress {
    [0x52, 0x54, 0x00, 0x00, 0x00, (index + 1) as u8]
}

/// What the ports are attached to on the host side.
#[derive(Clone, Debug, PartialEq, Eq)]
enum PortBackend {
    /// A pair of unix datagram sockets per port (`-netdev dgram`); the harness holds one end.
    Datagram,
    /// An existing tap device per port (`-netdev tap`), QEMU running in `namespace`.
    Tap {
        /// The network namespace QEMU runs in (`ip netns exec`), or `None` for the caller's.
        namespace: Option<String>,
        /// The tap devices, in port order.
        interfaces: Vec<String>,
    },
}

/// The longest Linux interface name (IFNAMSIZ minus the terminating zero).
const LONGEST_INTERFACE_NAME: usize = 15;

/// Where the configuration comes from.
#[derive(Clone, Debug)]
enum ConfigSource {
    File(PathBuf),
    Text(String),
}

/// A description of one appliance under QEMU; a builder. [`Machine::start`] boots it.
#[derive(Clone, Debug)]
pub struct Machine {
    machine_type: MachineType,
    image: PathBuf,
    ports: usize,
    config: Option<ConfigSource>,
    memory_mib: u32,
    bios: Option<PathBuf>,
    extra_arguments: Vec<OsString>,
    echo_console: bool,
    accelerator: Accelerator,
    port_backend: PortBackend,
}

impl Machine {
    /// A microvm with 2 ports and 128 MiB booting `image`, the embedded default config and no echo.
    pub fn new(image: impl Into<PathBuf>) -> Machine {
        Machine {
            machine_type: MachineType::Microvm,
            image: image.into(),
            ports: 2,
            config: None,
            memory_mib: 128,
            bios: None,
            extra_arguments: Vec::new(),
            echo_console: false,
            accelerator: Accelerator::for_tests(),
            port_backend: PortBackend::Datagram,
        }
    }

    /// Chooses the accelerator (default: [`Accelerator::for_tests`]).
    pub fn accelerator(mut self, accelerator: Accelerator) -> Machine {
        self.accelerator = accelerator;
        self
    }

    /// Sets the machine type.
    pub fn machine_type(mut self, machine_type: MachineType) -> Machine {
        self.machine_type = machine_type;
        self
    }

    /// Sets the number of virtio-net ports ([`MIN_PORTS`]..=[`MAX_PORTS`]).
    pub fn ports(mut self, ports: usize) -> Machine {
        self.ports = ports;
        self
    }

    /// Attaches the ports to existing tap devices instead of datagram sockets:
    /// port `N` is `interfaces[N]` (`-netdev tap,ifname=...,script=no,downscript=no`),
    /// and the number of ports becomes the number of interfaces. With a
    /// `namespace`, QEMU is started as `ip netns exec NAMESPACE qemu-system-x86_64 ...`,
    /// so the taps are looked up in that network namespace. Needs root (or
    /// taps owned by the user). The running machine has no
    /// [`RunningMachine::port_sockets`].
    pub fn tap_ports<I, S>(mut self, namespace: Option<&str>, interfaces: I) -> Machine
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let interfaces: Vec<String> = interfaces.into_iter().map(Into::into).collect();
        self.ports = interfaces.len();
        self.port_backend = PortBackend::Tap {
            namespace: namespace.map(str::to_string),
            interfaces,
        };
        self
    }

    /// Hands `path` to the appliance as its configuration (fw_cfg [`CONFIG_FILE_NAME`]).
    pub fn config_file(mut self, path: impl Into<PathBuf>) -> Machine {
        self.config = Some(ConfigSource::File(path.into()));
        self
    }

    /// Hands `text` to the appliance as its configuration; it is written to the machine's temporary directory.
    pub fn config_text(mut self, text: impl Into<String>) -> Machine {
        self.config = Some(ConfigSource::Text(text.into()));
        self
    }

    /// Sets the guest memory size in MiB.
    pub fn memory_mib(mut self, memory_mib: u32) -> Machine {
        self.memory_mib = memory_mib;
        self
    }

    /// Boots with this firmware (`-bios`), e.g. `/usr/share/qemu/qboot.rom` on q35.
    pub fn bios(mut self, path: impl Into<PathBuf>) -> Machine {
        self.bios = Some(path.into());
        self
    }

    /// Appends arguments to QEMU's command line.
    pub fn extra_arguments<I, S>(mut self, arguments: I) -> Machine
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.extra_arguments
            .extend(arguments.into_iter().map(Into::into));
        self
    }

    /// Copies every console line to stdout (and QEMU's own messages to stderr) as it arrives.
    pub fn echo_console(mut self, echo: bool) -> Machine {
        self.echo_console = echo;
        self
    }

    /// The number of ports.
    pub fn port_count(&self) -> usize {
        self.ports
    }

    /// The machine type.
    pub fn kind(&self) -> MachineType {
        self.machine_type
    }

    fn validate(&self) -> Result<(), Error> {
        if !(MIN_PORTS..=MAX_PORTS).contains(&self.ports) {
            return Err(Error::InvalidMachine(format!(
                "{} ports asked for; a machine has {MIN_PORTS} to {MAX_PORTS}",
                self.ports
            )));
        }
        if !self.image.is_file() {
            return Err(Error::InvalidMachine(format!(
                "no image at {}",
                self.image.display()
            )));
        }
        if let PortBackend::Tap { interfaces, .. } = &self.port_backend {
            if interfaces.len() != self.ports {
                return Err(Error::InvalidMachine(format!(
                    "{} ports asked for but {} tap devices given",
                    self.ports,
                    interfaces.len()
                )));
            }
            if let Some(bad) = interfaces.iter().find(|name| {
                name.is_empty()
                    || name.len() > LONGEST_INTERFACE_NAME
                    || name.chars().any(|character| {
                        character == ',' || character == '/' || character.is_whitespace()
                    })
            }) {
                return Err(Error::InvalidMachine(format!(
                    "{bad:?} is not a usable tap device name (1 to {LONGEST_INTERFACE_NAME} characters, no comma, slash or space)"
                )));
            }
        }
        if let Some(ConfigSource::File(path)) = &self.config
            && !path.is_file()
        {
            return Err(Error::InvalidMachine(format!(
                "no config file at {}",
                path.display()
            )));
        }
        Ok(())
    }

    /// QEMU's arguments (without the program name) with the sockets in `socket_directory`
    /// and the configuration (if any) at `config_path`.
    fn arguments(&self, socket_directory: &Path, config_path: Option<&Path>) -> Vec<OsString> {
        let mut arguments: Vec<OsString> = Vec::new();
        let mut push = |argument: &str| arguments.push(argument.into());
        push("-machine");
        push(&format!(
            "{},accel={}",
            self.machine_type.name(),
            self.accelerator.name()
        ));
        push("-m");
        push(&format!("{}M", self.memory_mib));
        push("-no-reboot");
        push("-display");
        push("none");
        push("-serial");
        push("stdio");
        push("-monitor");
        push("none");
        if let Some(bios) = &self.bios {
            push("-bios");
            push(&bios.to_string_lossy());
        }
        push("-kernel");
        push(&self.image.to_string_lossy());
        push("-device");
        push("isa-debug-exit,iobase=0xf4,iosize=0x04");
        if let Some(path) = config_path {
            push("-fw_cfg");
            // QEMU's option syntax escapes a comma by doubling it.
            push(&format!(
                "name={CONFIG_FILE_NAME},file={}",
                path.to_string_lossy().replace(',', ",,")
            ));
        }
        for index in 0..self.ports {
            push("-netdev");
            match &self.port_backend {
                PortBackend::Datagram => {
                    let qemu_side = qemu_socket_path(socket_directory, index);
                    let harness_side = harness_socket_path(socket_directory, index);
                    push(&format!(
                        "dgram,id=n{index},local.type=unix,local.path={},remote.type=unix,remote.path={}",
                        qemu_side.to_string_lossy().replace(',', ",,"),
                        harness_side.to_string_lossy().replace(',', ",,")
                    ));
                }
                PortBackend::Tap { interfaces, .. } => {
                    let interface = interfaces.get(index).map_or("", String::as_str);
                    push(&format!(
                        "tap,id=n{index},ifname={interface},script=no,downscript=no"
                    ));
                }
            }
            push("-device");
            push(&format!(
                "{},netdev=n{index},mac={}",
                self.machine_type.network_device(),
                format_mac(port_mac(index))
            ));
        }
        arguments.extend(self.extra_arguments.iter().cloned());
        arguments
    }

    /// The exact command line [`Machine::start`] runs, quoted for a POSIX shell,
    /// with the sockets (and a `config_text` file) in `socket_directory`.
    pub fn command_line(&self, socket_directory: &Path) -> String {
        let config_path = self.config_path(socket_directory);
        self.program_prefix()
            .into_iter()
            .chain(std::iter::once(OsString::from(setup::QEMU)))
            .chain(self.arguments(socket_directory, config_path.as_deref()))
            .map(|argument| shell_quote(&argument.to_string_lossy()))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// What comes before QEMU's name on the command line: `ip netns exec NAMESPACE` or nothing.
    fn program_prefix(&self) -> Vec<OsString> {
        match &self.port_backend {
            PortBackend::Tap {
                namespace: Some(namespace),
                ..
            } => ["ip", "netns", "exec", namespace.as_str()]
                .into_iter()
                .map(OsString::from)
                .collect(),
            _ => Vec::new(),
        }
    }

    fn config_path(&self, directory: &Path) -> Option<PathBuf> {
        match &self.config {
            None => None,
            // Absolute, so the printed command line works from any directory.
            Some(ConfigSource::File(path)) => {
                Some(std::path::absolute(path).unwrap_or_else(|_| path.clone()))
            }
            Some(ConfigSource::Text(_)) => Some(directory.join("config.toml")),
        }
    }

    /// Creates the socket directory, binds the harness side of every port,
    /// and spawns QEMU with its console on pipes.
    pub fn start(self) -> Result<RunningMachine, Error> {
        self.validate()?;
        let directory = TemporaryDirectory::create()?;
        let config_path = self.config_path(directory.path());
        if let Some(ConfigSource::Text(text)) = &self.config {
            let path = config_path.as_deref().expect("a config text has a path");
            std::fs::write(path, text)
                .map_err(|error| Error::io(format!("cannot write {}", path.display()), error))?;
        }
        let mut ports = Vec::with_capacity(self.ports);
        let socket_ports = match self.port_backend {
            PortBackend::Datagram => self.ports,
            PortBackend::Tap { .. } => 0,
        };
        for index in 0..socket_ports {
            let harness_path = harness_socket_path(directory.path(), index);
            let socket = UnixDatagram::bind(&harness_path).map_err(|error| {
                Error::io(format!("cannot bind {}", harness_path.display()), error)
            })?;
            socket
                .set_write_timeout(Some(SEND_TIMEOUT))
                .map_err(|error| {
                    Error::io(
                        format!("cannot set a send timeout on {}", harness_path.display()),
                        error,
                    )
                })?;
            ports.push(PortSocket {
                index,
                socket,
                qemu_path: qemu_socket_path(directory.path(), index),
            });
        }
        let command_line = self.command_line(directory.path());
        let mut program = self.program_prefix();
        program.push(OsString::from(setup::QEMU));
        let mut command = Command::new(&program[0]);
        command
            .args(&program[1..])
            .args(self.arguments(directory.path(), config_path.as_deref()))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let started_at = Instant::now();
        let mut child = command.spawn().map_err(|error| match error.kind() {
            io::ErrorKind::NotFound if program.len() == 1 => Error::QemuMissing,
            _ => Error::io(
                format!("cannot start {}", program[0].to_string_lossy()),
                error,
            ),
        })?;
        let console = Arc::new(Console::new(started_at, self.echo_console));
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        let readers = vec![
            spawn_reader(stdout, Arc::clone(&console), Stream::Console),
            spawn_reader(stderr, Arc::clone(&console), Stream::Qemu),
        ];
        Ok(RunningMachine {
            machine_type: self.machine_type,
            command_line,
            started_at,
            stdin: Mutex::new(child.stdin.take()),
            process: Mutex::new(Process {
                child,
                exit_status: None,
            }),
            console,
            cursor: Mutex::new(0),
            readers: Mutex::new(readers),
            port_count: self.ports,
            ports,
            directory,
        })
    }
}

fn qemu_socket_path(directory: &Path, index: usize) -> PathBuf {
    directory.join(format!("Q{index}.sock"))
}

fn harness_socket_path(directory: &Path, index: usize) -> PathBuf {
    directory.join(format!("H{index}.sock"))
}

/// Quotes `argument` for a POSIX shell when it holds anything but safe characters.
fn shell_quote(argument: &str) -> String {
    let safe =
        |character: char| character.is_ascii_alphanumeric() || "-_.,:/=@+%".contains(character);
    if !argument.is_empty() && argument.chars().all(safe) {
        argument.to_string()
    } else {
        format!("'{}'", argument.replace('\'', r"'\''"))
    }
}

/// A directory under the system's temporary directory, removed on drop.
#[derive(Debug)]
struct TemporaryDirectory {
    path: PathBuf,
}

impl TemporaryDirectory {
    fn create() -> Result<TemporaryDirectory, Error> {
        static SEQUENCE: AtomicU64 = AtomicU64::new(0);
        // Unix socket paths are limited to 107 bytes: prefer a short base.
        let base = {
            let temporary = std::env::temp_dir();
            if temporary.as_os_str().len() > 60 {
                PathBuf::from("/tmp")
            } else {
                temporary
            }
        };
        let nanoseconds = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.subsec_nanos());
        loop {
            let sequence = SEQUENCE.fetch_add(1, Ordering::Relaxed);
            let path = base.join(format!(
                "pure6-qemu-{}-{sequence}-{nanoseconds:x}",
                std::process::id()
            ));
            match std::fs::create_dir(&path) {
                Ok(()) => return Ok(TemporaryDirectory { path }),
                Err(error) if error.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(error) => {
                    return Err(Error::io(
                        format!("cannot create {}", path.display()),
                        error,
                    ));
                }
            }
        }
    }

    fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TemporaryDirectory {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// One line of console output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsoleLine {
    /// The text, without the line end.
    pub text: String,
    /// When the reader thread saw the line, counted from spawning QEMU.
    pub since_start: Duration,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Stream {
    /// The serial console (QEMU's stdout).
    Console,
    /// QEMU's own messages (stderr).
    Qemu,
}

struct ConsoleState {
    lines: Vec<ConsoleLine>,
    open_streams: usize,
}

/// The console transcript shared between the reader threads and the waiters.
struct Console {
    state: Mutex<ConsoleState>,
    changed: Condvar,
    started_at: Instant,
    echo: AtomicBool,
}

impl Console {
    fn new(started_at: Instant, echo: bool) -> Console {
        Console {
            state: Mutex::new(ConsoleState {
                lines: Vec::new(),
                open_streams: 2,
            }),
            changed: Condvar::new(),
            started_at,
            echo: AtomicBool::new(echo),
        }
    }

    fn lock(&self) -> MutexGuard<'_, ConsoleState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn push(&self, stream: Stream, text: String) {
        let since_start = self.started_at.elapsed();
        // Echo under the lock, so `RunningMachine::start_echo` neither skips nor repeats a line.
        let mut state = self.lock();
        if self.echo.load(Ordering::Relaxed) {
            match stream {
                Stream::Console => {
                    let mut stdout = io::stdout().lock();
                    let _ = writeln!(stdout, "{text}");
                    let _ = stdout.flush();
                }
                Stream::Qemu => eprintln!("qemu: {text}"),
            }
        }
        let text = match stream {
            Stream::Console => text,
            Stream::Qemu => format!("qemu: {text}"),
        };
        state.lines.push(ConsoleLine { text, since_start });
        drop(state);
        self.changed.notify_all();
    }

    fn close_stream(&self) {
        self.lock().open_streams -= 1;
        self.changed.notify_all();
    }

    fn transcript(&self) -> String {
        let state = self.lock();
        let mut transcript = String::new();
        for line in &state.lines {
            transcript.push_str("    ");
            transcript.push_str(&line.text);
            transcript.push('\n');
        }
        if state.lines.is_empty() {
            transcript.push_str("    (no output)\n");
        }
        transcript
    }
}

fn spawn_reader(
    stream: impl Read + Send + 'static,
    console: Arc<Console>,
    kind: Stream,
) -> JoinHandle<()> {
    thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut bytes = Vec::new();
        loop {
            bytes.clear();
            match reader.read_until(b'\n', &mut bytes) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let text = String::from_utf8_lossy(&bytes);
                    console.push(kind, text.trim_end_matches(['\n', '\r']).to_string());
                }
            }
        }
        console.close_stream();
    })
}

/// The router's counters, keyed by (port name, counter name), as the `counters` command prints them.
pub type Counters = BTreeMap<(String, String), u64>;

/// Parses the output of the console's `counters` command: lines `counter PORT NAME VALUE`; others are ignored.
pub fn parse_counters<'a>(lines: impl IntoIterator<Item = &'a str>) -> Counters {
    let mut counters = Counters::new();
    for line in lines {
        let mut words = line.split_whitespace();
        if words.next() != Some("counter") {
            continue;
        }
        if let (Some(port), Some(name), Some(value), None) =
            (words.next(), words.next(), words.next(), words.next())
            && let Ok(value) = value.parse()
        {
            counters.insert((port.to_string(), name.to_string()), value);
        }
    }
    counters
}

/// How the `memory` command's line starts.
const HEAP_USED_PREFIX: &str = "heap used ";

/// The heap use in bytes in a line of the `memory` command (`heap used USED bytes, free FREE bytes`).
pub fn parse_heap_used(line: &str) -> Option<u64> {
    line.strip_prefix(HEAP_USED_PREFIX)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// One port as the console's `ports` command describes it; fields it did not print are `None`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PortStatus {
    /// The port's name (configured, or `port<N>`).
    pub name: Option<String>,
    /// The port's MAC address.
    pub mac: Option<MacAddress>,
    /// The port's link-local address (configured, or EUI-64 from the MAC).
    pub link_local: Option<Ipv6Addr>,
}

impl PortStatus {
    /// Parses the part of a `ports` line after `port<N> `: `NAME mac MAC LINK-LOCAL ...`.
    fn parse(line: &str) -> PortStatus {
        let words: Vec<&str> = line.split_whitespace().collect();
        let after_mac = words
            .iter()
            .position(|word| *word == "mac")
            .map(|position| position + 1);
        let mac = after_mac
            .and_then(|position| words.get(position))
            .and_then(|text| {
                let bytes: Vec<u8> = text
                    .split(':')
                    .filter_map(|part| u8::from_str_radix(part, 16).ok())
                    .collect();
                MacAddress::try_from(bytes.as_slice()).ok()
            });
        let link_local = after_mac
            .and_then(|position| words.get(position + 1))
            .and_then(|text| text.parse().ok());
        PortStatus {
            name: words.first().map(|name| name.to_string()),
            mac,
            link_local,
        }
    }
}

/// The harness side of one port: a unix datagram socket QEMU sends the
/// port's transmitted frames to, and that sends frames for the port to receive.
#[derive(Debug)]
pub struct PortSocket {
    index: usize,
    socket: UnixDatagram,
    qemu_path: PathBuf,
}

impl PortSocket {
    /// The port's index (its position on QEMU's command line).
    pub fn index(&self) -> usize {
        self.index
    }

    /// Sends one Ethernet frame (without FCS) to the port. Blocks while QEMU's
    /// queue is full, failing after [`SEND_TIMEOUT`].
    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        let sent = self.socket.send_to(frame, &self.qemu_path)?;
        if sent == frame.len() {
            Ok(())
        } else {
            Err(io::Error::other(format!(
                "sent {sent} of {} bytes",
                frame.len()
            )))
        }
    }

    /// Receives the next frame the port transmitted, or `None` if none came within `timeout`.
    pub fn receive(&self, timeout: Duration) -> io::Result<Option<Vec<u8>>> {
        self.socket
            .set_read_timeout(Some(timeout.max(Duration::from_millis(1))))?;
        let mut frame = vec![0; LARGEST_FRAME];
        match self.socket.recv(&mut frame) {
            Ok(length) => {
                frame.truncate(length);
                Ok(Some(frame))
            }
            Err(error)
                if matches!(
                    error.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Ok(None)
            }
            Err(error) => Err(error),
        }
    }

    /// Receives frames until `accept` returns `Some` for one (returning its value), skipping
    /// the others, or until `timeout` has passed (returning `None`).
    pub fn receive_matching<T>(
        &self,
        timeout: Duration,
        mut accept: impl FnMut(&[u8]) -> Option<T>,
    ) -> io::Result<Option<T>> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            match self.receive(left)? {
                Some(frame) => {
                    if let Some(value) = accept(&frame) {
                        return Ok(Some(value));
                    }
                }
                None => return Ok(None),
            }
        }
    }

    /// Discards every frame already waiting; returns how many there were.
    pub fn drain(&self) -> io::Result<usize> {
        self.socket.set_nonblocking(true)?;
        let mut frame = vec![0; LARGEST_FRAME];
        let mut count = 0;
        let result = loop {
            match self.socket.recv(&mut frame) {
                Ok(_) => count += 1,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => break Ok(count),
                Err(error) => break Err(error),
            }
        };
        self.socket.set_nonblocking(false)?;
        result
    }
}

/// QEMU's process and, once collected, its exit status.
struct Process {
    child: Child,
    exit_status: Option<ExitStatus>,
}

/// A booted appliance: QEMU's process, its console and the harness side of its ports.
///
/// Every method takes `&self`, so port sockets can be used from several
/// threads while another waits on the console.
pub struct RunningMachine {
    machine_type: MachineType,
    command_line: String,
    started_at: Instant,
    stdin: Mutex<Option<ChildStdin>>,
    process: Mutex<Process>,
    console: Arc<Console>,
    /// Index of the first console line [`RunningMachine::wait_for_line`] has not consumed.
    cursor: Mutex<usize>,
    readers: Mutex<Vec<JoinHandle<()>>>,
    port_count: usize,
    /// The harness side of every port; empty when the ports are tap devices.
    ports: Vec<PortSocket>,
    // Declared last: dropped after the sockets in it are closed.
    directory: TemporaryDirectory,
}

impl fmt::Debug for RunningMachine {
    fn fmt(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter
            .debug_struct("RunningMachine")
            .field("machine_type", &self.machine_type)
            .field("ports", &self.port_count)
            .field("directory", &self.directory.path())
            .finish_non_exhaustive()
    }
}

impl RunningMachine {
    /// The machine type.
    pub fn machine_type(&self) -> MachineType {
        self.machine_type
    }

    /// The command line QEMU was started with, quoted for a POSIX shell.
    pub fn command_line(&self) -> &str {
        &self.command_line
    }

    /// When QEMU was spawned.
    pub fn started_at(&self) -> Instant {
        self.started_at
    }

    /// The number of ports.
    pub fn port_count(&self) -> usize {
        self.port_count
    }

    /// The harness side of port `index`. Panics if there is no such port
    /// or the ports are tap devices ([`Machine::tap_ports`]).
    pub fn port_socket(&self, index: usize) -> &PortSocket {
        &self.ports[index]
    }

    /// The harness side of every port, in port order (none when the ports are tap devices).
    pub fn port_sockets(&self) -> &[PortSocket] {
        &self.ports
    }

    /// Turns copying console lines to stdout on or off.
    pub fn set_echo(&self, echo: bool) {
        let _state = self.console.lock();
        self.console.echo.store(echo, Ordering::Relaxed);
    }

    /// Prints every console line so far to stdout, then echoes the rest as they arrive.
    pub fn start_echo(&self) {
        let state = self.console.lock();
        let mut stdout = io::stdout().lock();
        for line in &state.lines {
            let _ = writeln!(stdout, "{}", line.text);
        }
        let _ = stdout.flush();
        self.console.echo.store(true, Ordering::Relaxed);
    }

    /// Every console line so far, indented, one per line (QEMU's own messages prefixed `qemu: `).
    pub fn transcript(&self) -> String {
        self.console.transcript()
    }

    /// Every console line so far.
    pub fn console_lines(&self) -> Vec<ConsoleLine> {
        self.console.lock().lines.clone()
    }

    /// Types `line` on the console (a line end is added).
    pub fn send_console(&self, line: &str) -> Result<(), Error> {
        let mut stdin = self
            .stdin
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some(pipe) = stdin.as_mut() else {
            return Err(Error::io(
                "console input",
                io::Error::other("the console input is closed"),
            ));
        };
        pipe.write_all(format!("{line}\n").as_bytes())
            .and_then(|()| pipe.flush())
            .map_err(|error| Error::io(format!("cannot type {line:?} on the console"), error))
    }

    /// Waits for a console line containing `text` that [`RunningMachine::wait_for_line`] has
    /// not returned before; returns it. Lines before it are consumed too.
    pub fn wait_for_line(&self, text: &str, timeout: Duration) -> Result<String, Error> {
        self.wait_for_console_line(&format!("{text:?}"), |line| line.contains(text), timeout)
            .map(|line| line.text)
    }

    /// Like [`RunningMachine::wait_for_line`] with a predicate; `description` names what is
    /// awaited in the error. On timeout QEMU is killed.
    pub fn wait_for_console_line(
        &self,
        description: &str,
        mut predicate: impl FnMut(&str) -> bool,
        timeout: Duration,
    ) -> Result<ConsoleLine, Error> {
        let mut cursor = self
            .cursor
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let (index, line) = self.wait_from(*cursor, description, &mut predicate, timeout)?;
        *cursor = index + 1;
        Ok(line)
    }

    /// Waits for a line at index `start` or later satisfying `predicate`.
    fn wait_from(
        &self,
        start: usize,
        description: &str,
        predicate: &mut dyn FnMut(&str) -> bool,
        timeout: Duration,
    ) -> Result<(usize, ConsoleLine), Error> {
        let deadline = Instant::now() + timeout;
        let mut next = start;
        let mut state = self.console.lock();
        loop {
            while next < state.lines.len() {
                if predicate(&state.lines[next].text) {
                    return Ok((next, state.lines[next].clone()));
                }
                next += 1;
            }
            if state.open_streams == 0 {
                drop(state);
                let status = self.collect_exit_status(Duration::from_secs(5));
                return Err(Error::Exited {
                    waiting_for: description.to_string(),
                    status,
                    transcript: self.transcript(),
                });
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                drop(state);
                self.kill();
                return Err(Error::Timeout {
                    waiting_for: description.to_string(),
                    transcript: self.transcript(),
                });
            }
            state = self
                .console
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
    }

    /// Runs a console command and returns the lines it printed up to the line satisfying `is_last` (included).
    pub fn console_command(
        &self,
        command: &str,
        mut is_last: impl FnMut(&str) -> bool,
        timeout: Duration,
    ) -> Result<Vec<String>, Error> {
        let start = self.console.lock().lines.len();
        self.send_console(command)?;
        let (end, _) = self.wait_from(
            start,
            &format!("the end of {command:?}"),
            &mut is_last,
            timeout,
        )?;
        Ok(self.console.lock().lines[start..=end]
            .iter()
            .map(|line| line.text.clone())
            .collect())
    }

    /// Runs the `counters` command and parses what it prints.
    pub fn counters(&self) -> Result<Counters, Error> {
        let lines =
            self.console_command("counters", |line| line == "counters end", COUNTERS_TIMEOUT)?;
        Ok(parse_counters(lines.iter().map(String::as_str)))
    }

    /// Runs the `memory` command and returns the heap use it reports, in bytes
    /// (its line reads `heap used USED bytes, free FREE bytes`).
    pub fn heap_used(&self) -> Result<u64, Error> {
        let lines = self.console_command(
            "memory",
            |line| line.starts_with(HEAP_USED_PREFIX),
            COUNTERS_TIMEOUT,
        )?;
        let line = lines.last().map_or("", String::as_str);
        parse_heap_used(line).ok_or_else(|| {
            Error::io(
                "the memory command",
                io::Error::other(format!("cannot read the heap use in {line:?}")),
            )
        })
    }

    fn process(&self) -> MutexGuard<'_, Process> {
        self.process
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// What the router says about each of its ports, in port order, from the
    /// `ports` command (its lines read `port0 NAME mac MAC LINK-LOCAL link up enabled`).
    pub fn ports(&self) -> Result<Vec<PortStatus>, Error> {
        let last = format!("port{} ", self.port_count.saturating_sub(1));
        let lines =
            self.console_command("ports", |line| line.starts_with(&last), COUNTERS_TIMEOUT)?;
        Ok((0..self.port_count)
            .map(|index| {
                let prefix = format!("port{index} ");
                lines
                    .iter()
                    .find_map(|line| line.strip_prefix(&prefix))
                    .map_or_else(PortStatus::default, PortStatus::parse)
            })
            .collect())
    }

    /// QEMU's exit status if it has exited, without waiting.
    pub fn try_exit_status(&self) -> Result<Option<ExitStatus>, Error> {
        let mut process = self.process();
        if process.exit_status.is_none() {
            process.exit_status = process
                .child
                .try_wait()
                .map_err(|error| Error::io("cannot poll QEMU", error))?;
        }
        Ok(process.exit_status)
    }

    fn collect_exit_status(&self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.try_exit_status() {
                Ok(Some(status)) => return Some(status),
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(10)),
                _ => return None,
            }
        }
    }

    /// Waits for QEMU to exit and returns its status (decode it with
    /// [`ApplianceExit::from_status`]); the console is complete afterwards.
    /// On timeout QEMU is killed.
    pub fn wait_for_exit(&self, timeout: Duration) -> Result<ExitStatus, Error> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_exit_status()? {
                self.join_readers();
                return Ok(status);
            }
            if Instant::now() >= deadline {
                self.kill();
                return Err(Error::Timeout {
                    waiting_for: "QEMU to exit".into(),
                    transcript: self.transcript(),
                });
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Types `shutdown` on the console and waits for QEMU to exit.
    pub fn shutdown(&self, timeout: Duration) -> Result<ApplianceExit, Error> {
        self.send_console("shutdown")?;
        self.wait_for_exit(timeout).map(ApplianceExit::from_status)
    }

    /// Kills QEMU (if it still runs) and reaps it.
    pub fn kill(&self) {
        let mut process = self.process();
        if process.exit_status.is_none() {
            let _ = process.child.kill();
            process.exit_status = process.child.wait().ok();
        }
    }

    fn join_readers(&self) {
        let readers = std::mem::take(
            &mut *self
                .readers
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
        for reader in readers {
            let _ = reader.join();
        }
    }
}

impl Drop for RunningMachine {
    fn drop(&mut self) {
        self.stdin
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        self.kill();
        self.join_readers();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_names_every_port_socket_and_device() {
        let machine = Machine::new("/images/pure6")
            .accelerator(Accelerator::KvmThenTcg)
            .machine_type(MachineType::Q35)
            .ports(2)
            .config_text("");
        let line = machine.command_line(Path::new("/tmp/x"));
        assert!(
            line.starts_with("qemu-system-x86_64 -machine q35,accel=kvm:tcg -m 128M "),
            "{line}"
        );
        assert!(line.contains("-kernel /images/pure6 "), "{line}");
        assert!(
            line.contains("-fw_cfg name=opt/pure6/config.toml,file=/tmp/x/config.toml "),
            "{line}"
        );
        assert!(line.contains(
            "-netdev dgram,id=n1,local.type=unix,local.path=/tmp/x/Q1.sock,remote.type=unix,remote.path=/tmp/x/H1.sock"
        ));
        assert!(
            line.ends_with("-device virtio-net-pci,netdev=n1,mac=52:54:00:00:00:02"),
            "{line}"
        );
    }

    #[test]
    fn tap_ports_run_qemu_in_their_namespace() {
        let machine = Machine::new("/images/pure6")
            .accelerator(Accelerator::Tcg)
            .tap_ports(Some("pure6-1-0-router"), ["tp1.0.0", "tp1.0.1"]);
        assert_eq!(machine.port_count(), 2);
        let line = machine.command_line(Path::new("/tmp/x"));
        assert!(
            line.starts_with(
                "ip netns exec pure6-1-0-router qemu-system-x86_64 -machine microvm,accel=tcg "
            ),
            "{line}"
        );
        assert!(
            line.contains("-netdev tap,id=n1,ifname=tp1.0.1,script=no,downscript=no -device virtio-net-device,netdev=n1,mac=52:54:00:00:00:02"),
            "{line}"
        );
        assert!(!line.contains("dgram"), "{line}");
    }

    #[test]
    fn unusable_tap_names_are_refused() {
        let image = std::env::current_exe().expect("the test binary exists");
        for name in ["", "a,b", "sixteen-chars-xx"] {
            let error = Machine::new(&image)
                .tap_ports(None, [name])
                .start()
                .expect_err(name);
            assert!(
                matches!(error, Error::InvalidMachine(_)),
                "{name:?}: {error}"
            );
        }
        let error = Machine::new(&image)
            .tap_ports(None, ["tap0"])
            .ports(2)
            .start()
            .expect_err("two ports, one tap");
        assert!(matches!(error, Error::InvalidMachine(_)), "{error}");
    }

    #[test]
    fn command_line_quotes_what_a_shell_would_split() {
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(
            shell_quote("microvm,accel=kvm:tcg"),
            "microvm,accel=kvm:tcg"
        );
    }

    #[test]
    fn counters_are_parsed_and_other_lines_ignored() {
        let counters = parse_counters([
            "counter lan0 received 12",
            "[    1.0] port0 lan0: link up",
            "counter lan1 bad_checksum 3",
            "counter lan1 broken",
            "counters end",
        ]);
        assert_eq!(counters.len(), 2);
        assert_eq!(counters[&("lan0".to_string(), "received".to_string())], 12);
        assert_eq!(
            counters[&("lan1".to_string(), "bad_checksum".to_string())],
            3
        );
    }

    #[test]
    fn heap_use_is_parsed() {
        assert_eq!(
            parse_heap_used("heap used 123456 bytes, free 789 bytes"),
            Some(123_456)
        );
        assert_eq!(parse_heap_used("heap used lots"), None);
        assert_eq!(parse_heap_used("counter lan0 heap 3"), None);
    }

    #[test]
    fn port_lines_are_parsed() {
        let status = PortStatus::parse("lan0 mac 52:54:00:00:00:01 fe80::1 link up enabled");
        assert_eq!(status.name.as_deref(), Some("lan0"));
        assert_eq!(status.mac, Some([0x52, 0x54, 0, 0, 0, 1]));
        assert_eq!(status.link_local, Some("fe80::1".parse().unwrap()));
        assert_eq!(
            PortStatus::parse("lan0 something else"),
            PortStatus {
                name: Some("lan0".into()),
                ..PortStatus::default()
            }
        );
    }

    #[test]
    fn machines_outside_the_port_range_are_refused() {
        let error = Machine::new("/nonexistent")
            .ports(9)
            .start()
            .expect_err("nine ports");
        assert!(matches!(error, Error::InvalidMachine(_)), "{error}");
    }

    #[test]
    fn exit_statuses_decode() {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            ApplianceExit::from_status(ExitStatus::from_raw(1 << 8)),
            ApplianceExit::Clean
        );
        assert_eq!(
            ApplianceExit::from_status(ExitStatus::from_raw(5 << 8)),
            ApplianceExit::ConfigurationError
        );
        assert_eq!(
            ApplianceExit::from_status(ExitStatus::from_raw(9)),
            ApplianceExit::Other(None)
        );
    }
}
