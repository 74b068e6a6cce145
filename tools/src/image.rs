//! Building the appliance image (`pure6`) for `x86_64-unknown-none`, in both feature builds.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::setup;

/// Which image: with the border translator (`legacy-ip`, default) or IPv6 only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// Default features: IPv6 router plus the `legacy-ip` translator.
    LegacyIp,
    /// `--no-default-features`: IPv6 and nothing else.
    Ipv6Only,
}

impl Flavor {
    /// Both flavors, default first.
    pub const ALL: [Flavor; 2] = [Flavor::LegacyIp, Flavor::Ipv6Only];

    /// A short name for logs and test names.
    pub fn name(self) -> &'static str {
        match self {
            Flavor::LegacyIp => "legacy-ip",
            Flavor::Ipv6Only => "ipv6-only",
        }
    }
}

/// The workspace root (the directory holding the top Cargo.toml).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tools/ has a parent")
        .to_path_buf()
}

/// Where each flavor is built (separate target directories, so switching
/// features never rebuilds the other image).
pub fn target_directory(flavor: Flavor) -> PathBuf {
    let root = workspace_root().join("target");
    match flavor {
        Flavor::LegacyIp => root.join("image"),
        Flavor::Ipv6Only => root.join("image-ipv6-only"),
    }
}

/// Path of the built image.
pub fn image_path(flavor: Flavor) -> PathBuf {
    target_directory(flavor)
        .join(setup::KERNEL_TARGET)
        .join("kernel")
        .join("pure6")
}

/// Builds the image (cargo decides what is stale) and returns its path.
pub fn build(flavor: Flavor) -> Result<PathBuf, String> {
    setup::ensure_kernel_target()?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace_root())
        .args([
            "build",
            "--quiet",
            "--package",
            "kernel",
            "--bin",
            "pure6",
            "--profile",
            "kernel",
        ])
        .args(["--target", setup::KERNEL_TARGET])
        .arg("--target-dir")
        .arg(target_directory(flavor));
    if flavor == Flavor::Ipv6Only {
        command.arg("--no-default-features");
    }
    let status = command
        .status()
        .map_err(|error| format!("cannot run cargo: {error}"))?;
    if !status.success() {
        return Err(format!("building the {} image failed", flavor.name()));
    }
    let path = image_path(flavor);
    if !path.exists() {
        return Err(format!("cargo succeeded but {} is missing", path.display()));
    }
    Ok(path)
}

/// Size of a file in bytes.
pub fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path)
        .map(|metadata| metadata.len())
        .unwrap_or(0)
}
