//! Proof that IPv4 is contained: smoltcp never gets `proto-ipv4`, and the IPv6-only image holds no IPv4 code.
//!
//! ARCHITECTURE.md rule 1: only `netstack`'s translation module names an
//! IPv4 type, and only with the `legacy-ip` feature. These checks look at
//! what was actually built: cargo's resolved features for the kernel's
//! dependency graph, and the symbol table and strings of both images.

use std::process::Command;

use tools::image::{self, Flavor};
use tools::setup::KERNEL_TARGET;

/// The features cargo resolves for smoltcp in the kernel build of `flavor`.
fn smoltcp_features(flavor: Flavor) -> String {
    let mut command = Command::new(env!("CARGO"));
    command
        .current_dir(image::workspace_root())
        .args([
            "tree",
            "--package",
            "kernel",
            "--target",
            KERNEL_TARGET,
            "--edges",
            "features",
        ])
        .args([
            "--invert", "smoltcp", "--prefix", "none", "--format", "{p} {f}",
        ]);
    if flavor == Flavor::Ipv6Only {
        command.arg("--no-default-features");
    }
    let output = command.output().expect("cargo tree runs");
    assert!(
        output.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("cargo tree prints UTF-8")
}

#[test]
fn smoltcp_is_built_without_proto_ipv4_in_both_builds() {
    for flavor in Flavor::ALL {
        let features = smoltcp_features(flavor);
        assert!(
            features.contains("proto-ipv6"),
            "{}: smoltcp without proto-ipv6?\n{features}",
            flavor.name()
        );
        assert!(
            !features.contains("proto-ipv4"),
            "{}: smoltcp is built with proto-ipv4:\n{features}",
            flavor.name()
        );
    }
}

#[test]
fn host_netstack_is_built_without_proto_ipv4() {
    let output = Command::new(env!("CARGO"))
        .current_dir(image::workspace_root())
        .args([
            "tree",
            "--package",
            "netstack",
            "--edges",
            "features",
            "--invert",
            "smoltcp",
        ])
        .args(["--prefix", "none", "--format", "{p} {f}"])
        .output()
        .expect("cargo tree runs");
    let features = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        !features.contains("proto-ipv4"),
        "host netstack pulls smoltcp with proto-ipv4:\n{features}"
    );
}

/// Demangled symbol names of an image.
fn symbols(flavor: Flavor) -> Vec<String> {
    let path = image::build(flavor).expect("image builds");
    let output = Command::new("nm")
        .args(["--demangle", "--defined-only"])
        .arg(&path)
        .output()
        .expect("`nm` (binutils) is needed for the containment check: apt-get install -y binutils");
    assert!(output.status.success(), "nm failed on {}", path.display());
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Names that only IPv4 code has (module paths and type names).
const IPV4_MARKERS: [&str; 6] = ["translation::", "Ipv4", "ipv4", "::arp", "Arp", "nat64"];

/// libcore's IPv6 text handling touches `Ipv4Addr` in two places, both
/// inside the standard library and reached only from IPv6 addresses:
/// `Display` for `Ipv6Addr` prints IPv4-mapped addresses in dotted form
/// (RFC 5952 section 5), and the `Ipv6Addr` parser accepts a dotted quad in
/// the last 32 bits (RFC 4291 section 2.2, form 3). They are the only IPv4
/// names allowed in the IPv6-only image.
const ALLOWED_CORE_SYMBOLS: [&str; 2] = [
    "<core::net::ip_addr::Ipv4Addr as core::fmt::Display>::fmt",
    "<core::net::parser::Parser>::read_ipv4_addr",
];

/// The positive control: the same markers find the translator in the
/// legacy-ip image, so their absence from the IPv6-only image means
/// something.
#[test]
fn legacy_ip_image_contains_the_translator() {
    let symbols = symbols(Flavor::LegacyIp);
    for marker in ["translation::", "Ipv4"] {
        assert!(
            symbols.iter().any(|symbol| symbol.contains(marker)),
            "no symbol with {marker:?} in the legacy-ip image: the containment check would prove nothing"
        );
    }
}

#[test]
fn ipv6_only_image_contains_no_ipv4_code() {
    let symbols = symbols(Flavor::Ipv6Only);
    assert!(
        symbols.len() > 100,
        "the IPv6-only image has almost no symbols: was it stripped?"
    );
    assert!(
        symbols.iter().any(|symbol| symbol.contains("netstack::")),
        "no netstack symbol in the image: the check would prove nothing"
    );
    let offending: Vec<&String> = symbols
        .iter()
        .filter(|symbol| IPV4_MARKERS.iter().any(|marker| symbol.contains(marker)))
        .filter(|symbol| {
            !ALLOWED_CORE_SYMBOLS
                .iter()
                .any(|allowed| symbol.ends_with(allowed))
        })
        .collect();
    assert!(
        offending.is_empty(),
        "IPv4 code in the IPv6-only image:\n{offending:#?}"
    );

    let bytes = std::fs::read(image::image_path(Flavor::Ipv6Only)).expect("image readable");
    let marker = "legacy-ip translator";
    assert!(
        !bytes
            .windows(marker.len())
            .any(|window| window == marker.as_bytes()),
        "the IPv6-only image contains the text {marker:?}"
    );
}
