//! Installs what a fresh machine lacks (the bare-metal Rust target, QEMU), or says exactly how.

use std::process::Command;

/// The Rust target the appliance is built for.
pub const KERNEL_TARGET: &str = "x86_64-unknown-none";

/// Whether this process runs as root (installs need it).
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Makes sure `rustup` has the kernel target, installing it if missing.
pub fn ensure_kernel_target() -> Result<(), String> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map_err(|error| format!("cannot run rustup ({error}); install rustup, then run: rustup target add {KERNEL_TARGET}"))?;
    if String::from_utf8_lossy(&installed.stdout)
        .lines()
        .any(|line| line.trim() == KERNEL_TARGET)
    {
        return Ok(());
    }
    eprintln!("xtask: installing the {KERNEL_TARGET} target (rustup target add {KERNEL_TARGET})");
    let status = Command::new("rustup")
        .args(["target", "add", KERNEL_TARGET])
        .status()
        .map_err(|error| format!("cannot run rustup: {error}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "`rustup target add {KERNEL_TARGET}` failed; run it by hand and retry"
        ))
    }
}

/// The QEMU binary used for every boot.
pub const QEMU: &str = "qemu-system-x86_64";

/// Makes sure `qemu-system-x86_64` exists, installing Debian's package as root.
pub fn ensure_qemu() -> Result<(), String> {
    if Command::new(QEMU)
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success())
    {
        return Ok(());
    }
    if !is_root() {
        return Err(format!(
            "{QEMU} is missing; install it with: sudo apt-get install -y qemu-system-x86"
        ));
    }
    eprintln!("xtask: installing QEMU (apt-get install -y qemu-system-x86)");
    let update = Command::new("apt-get")
        .args(["-o", "DPkg::Lock::Timeout=300", "update", "-qq"])
        .status();
    if !update.is_ok_and(|status| status.success()) {
        eprintln!("xtask: apt-get update failed; trying the install anyway");
    }
    let status = Command::new("apt-get")
        .args([
            "-o",
            "DPkg::Lock::Timeout=300",
            "install",
            "-y",
            "-qq",
            "--no-install-recommends",
            "qemu-system-x86",
        ])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .map_err(|error| format!("cannot run apt-get: {error}"))?;
    if status.success() && Command::new(QEMU).arg("--version").output().is_ok() {
        Ok(())
    } else {
        Err("apt-get install qemu-system-x86 failed; run `apt-get update && apt-get install -y qemu-system-x86` by hand".into())
    }
}

/// The programs the real-host tests run, each with the Debian package that provides it.
pub const HOST_TOOLS: [(&str, &str); 8] = [
    ("ip", "iproute2"),
    ("ping", "iputils-ping"),
    ("tracepath", "iputils-tracepath"),
    ("iperf3", "iperf3"),
    ("curl", "curl"),
    ("python3", "python3"),
    // The DNS64 resolver of the NAT64 tests (tools::dns64) and `dig` to
    // diagnose it.
    ("unbound", "unbound"),
    ("dig", "dnsutils"),
];

/// Whether `program` is an executable file in one of the `PATH` directories.
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

/// The Debian packages of the [`HOST_TOOLS`] missing from `PATH`.
fn missing_host_packages() -> Vec<&'static str> {
    HOST_TOOLS
        .iter()
        .filter(|(program, _)| !on_path(program))
        .map(|(_, package)| *package)
        .collect()
}

/// Makes sure the programs of [`HOST_TOOLS`] (`ip`, `ping`, `tracepath`,
/// `iperf3`, `curl`, `python3`, `unbound`, `dig`) are installed. As root, missing ones are
/// installed with `apt-get install -y` (running `apt-get update` and
/// retrying once if the install fails); otherwise the error names what is
/// missing and the command that installs it.
pub fn ensure_host_tools() -> Result<(), String> {
    // Tests call this from parallel threads: one installs, the others wait
    // and then find the programs there.
    static INSTALLING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _installing = INSTALLING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let missing = missing_host_packages();
    if missing.is_empty() {
        return Ok(());
    }
    let install_command = format!("apt-get install -y {}", missing.join(" "));
    if !is_root() {
        return Err(format!(
            "the real-host tests need the packages {} (missing from PATH); install them with: sudo {install_command}",
            missing.join(", ")
        ));
    }
    let install = || {
        Command::new("apt-get")
            .args(["-o", "DPkg::Lock::Timeout=300"])
            .args(["install", "-y", "-qq", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .is_ok_and(|status| status.success())
    };
    eprintln!(
        "tools: installing {} ({install_command})",
        missing.join(", ")
    );
    if !install() {
        eprintln!("tools: the install failed; running apt-get update and retrying");
        let updated = Command::new("apt-get")
            .args(["-o", "DPkg::Lock::Timeout=300", "update", "-qq"])
            .status()
            .is_ok_and(|status| status.success());
        if !updated || !install() {
            return Err(format!(
                "installing {} failed; run `apt-get update && {install_command}` by hand",
                missing.join(", ")
            ));
        }
    }
    let still_missing = missing_host_packages();
    if still_missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "after `{install_command}` these packages' programs are still not on PATH: {}",
            still_missing.join(", ")
        ))
    }
}
