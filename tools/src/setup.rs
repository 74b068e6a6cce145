//! Installs what a fresh machine lacks (the bare-metal Rust target, QEMU), or says exactly how.

use std::process::Command;

/// The Rust target the appliance is built for.
pub const KERNEL_TARGET: &str = "x86_64-unknown-none";

fn is_root() -> bool {
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
    let update = Command::new("apt-get").args(["update", "-qq"]).status();
    if !update.is_ok_and(|status| status.success()) {
        eprintln!("xtask: apt-get update failed; trying the install anyway");
    }
    let status = Command::new("apt-get")
        .args([
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
