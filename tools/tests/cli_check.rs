//! `pure6 check` run as a process: the output format and exit status operators and CI rely on.

use std::path::PathBuf;
use std::process::{Command, Output};

fn pure6_check(path: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pure6"))
        .arg("check")
        .arg(path)
        .output()
        .expect("pure6 runs")
}

/// A file in a fresh directory under the target's temporary directory.
fn write_config(name: &str, text: &str) -> PathBuf {
    let directory = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli_check");
    std::fs::create_dir_all(&directory).expect("temporary directory");
    let path = directory.join(name);
    std::fs::write(&path, text).expect("write config");
    path
}

#[test]
fn good_file_is_ok() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../qemu/example.toml");
    let output = pure6_check(&path);
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(
        stdout,
        format!(
            "{}: ok (3 ports, translation under 2001:db8:64::/96, 2 explicit address \
             mappings, IPv4 uplink `wan4` 192.0.2.1/24)\n",
            path.display()
        )
    );
}

#[test]
fn bad_file_reports_line_and_column() {
    let path = write_config(
        "bad.toml",
        "[router]\nname = \"edge\"\n\n[[port]]\nname = \"lan0\"\nlink_local = \"2001:db8::1\"\n",
    );
    let output = pure6_check(&path);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(
        stderr,
        format!(
            "{}:6:14: link_local 2001:db8::1 is not in fe80::/10 (RFC 4291 §2.5.6)\n",
            path.display()
        )
    );
}

#[test]
fn unknown_key_reports_line_and_column() {
    let path = write_config("typo.toml", "[[port]]\nname = \"lan0\"\nmut = 1500\n");
    let output = pure6_check(&path);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.starts_with(&format!("{}:3:1: unknown field `mut`", path.display())),
        "{stderr}"
    );
}

#[test]
fn missing_file_fails() {
    let output = pure6_check(std::path::Path::new("/nonexistent/pure6.toml"));
    assert_eq!(output.status.code(), Some(1));
}

/// A translator configuration every case below starts from.
const TRANSLATOR: &str = r#"[[port]]
name = "lan0"
addresses = ["2001:db8:1::1/64"]

[[port]]
name = "wan4"

[port.ipv4]
address = "192.0.2.1/24"
gateway = "192.0.2.254"
routes = [{ prefix = "203.0.113.0/24", via = "192.0.2.253" }]

[translation]
pool6 = "2001:db8:64::/96"
icmp_error_pool = ["198.51.100.200/30"]

[[translation.eam]]
ipv4 = "198.51.100.0/28"
ipv6 = "2001:db8:1::100/124"
"#;

/// `pure6 check` on `text` must fail with exactly `LINE:COLUMN: ` and a
/// message containing `needle`.
#[track_caller]
fn assert_check_error(name: &str, text: &str, position: &str, needle: &str) {
    let path = write_config(name, text);
    let output = pure6_check(&path);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8(output.stderr).unwrap();
    let prefix = format!("{}:{position}: ", path.display());
    assert!(
        stderr.starts_with(&prefix),
        "{stderr} does not start with {prefix}"
    );
    assert!(stderr.contains(needle), "{stderr} lacks {needle}");
}

fn with_tail(tail: &str) -> String {
    format!("{TRANSLATOR}\n{tail}")
}

#[test]
fn translator_base_is_ok() {
    let path = write_config("translator.toml", TRANSLATOR);
    let output = pure6_check(&path);
    assert!(output.status.success(), "{output:?}");
}

#[test]
fn overlapping_explicit_address_mappings() {
    assert_check_error(
        "eam-overlap-ipv4.toml",
        &with_tail(
            "[[translation.eam]]\nipv4 = \"198.51.100.8/29\"\nipv6 = \"2001:db8:9::/125\"\n",
        ),
        "22:8",
        "overlaps the IPv4 prefix of eam 198.51.100.0/28",
    );
    assert_check_error(
        "eam-overlap-ipv6.toml",
        &with_tail("[[translation.eam]]\nipv4 = \"203.0.114.1\"\nipv6 = \"2001:db8:1::101\"\n"),
        "23:8",
        "overlaps the IPv6 prefix",
    );
}

#[test]
fn explicit_address_mapping_suffix_lengths_differ() {
    assert_check_error(
        "eam-suffix.toml",
        &with_tail("[[translation.eam]]\nipv4 = \"203.0.114.0/24\"\nipv6 = \"2001:db8:9::/64\"\n"),
        "23:8",
        "suffix lengths differ (8 IPv4 bits, 64 IPv6 bits)",
    );
}

#[test]
fn explicit_address_mapping_overlaps_pool6() {
    assert_check_error(
        "eam-pool6.toml",
        &with_tail("[[translation.eam]]\nipv4 = \"203.0.114.1\"\nipv6 = \"2001:db8:64::1\"\n"),
        "23:8",
        "overlaps pool6 2001:db8:64::/96",
    );
}

#[test]
fn explicit_address_mapping_holds_uplink_addresses() {
    assert_check_error(
        "eam-uplink.toml",
        &with_tail("[[translation.eam]]\nipv4 = \"192.0.2.0/30\"\nipv6 = \"2001:db8:9::/126\"\n"),
        "22:8",
        "holds the uplink's own address 192.0.2.1",
    );
    assert_check_error(
        "eam-gateway.toml",
        &with_tail("[[translation.eam]]\nipv4 = \"192.0.2.254\"\nipv6 = \"2001:db8:9::1\"\n"),
        "22:8",
        "holds the uplink gateway 192.0.2.254",
    );
    assert_check_error(
        "eam-route.toml",
        &with_tail("[[translation.eam]]\nipv4 = \"203.0.113.9\"\nipv6 = \"2001:db8:9::1\"\n"),
        "22:8",
        "overlaps the uplink route 203.0.113.0/24",
    );
}

#[test]
fn pool6_with_a_bad_length() {
    assert_check_error(
        "pool6.toml",
        &TRANSLATOR.replace("2001:db8:64::/96", "2001:db8:64::/80"),
        "14:9",
        "pool6: translation prefix length /80 is not one of /32, /40, /48, /56, /64, /96",
    );
}

#[test]
fn next_hops_outside_the_uplink_prefix() {
    assert_check_error(
        "gateway.toml",
        &TRANSLATOR.replace("gateway = \"192.0.2.254\"", "gateway = \"198.51.100.254\""),
        "10:11",
        "gateway 198.51.100.254 is not inside the uplink prefix 192.0.2.0/24",
    );
    assert_check_error(
        "route-via.toml",
        &TRANSLATOR.replace("via = \"192.0.2.253\"", "via = \"10.0.0.1\""),
        "11:46",
        "via 10.0.0.1 is not inside the uplink prefix 192.0.2.0/24",
    );
    assert_check_error(
        "local-next-hop.toml",
        &with_tail("[[translation.next_hop]]\nipv4 = \"198.51.100.99\"\nlocal = true\n"),
        "22:8",
        "must be on the uplink's link 192.0.2.0/24",
    );
}

#[test]
fn lowest_ipv6_mtu_below_1280() {
    assert_check_error(
        "mtu.toml",
        &TRANSLATOR.replace(
            "pool6 = \"2001:db8:64::/96\"",
            "pool6 = \"2001:db8:64::/96\"\nlowest_ipv6_mtu = 1200",
        ),
        "15:19",
        "lowest_ipv6_mtu 1200 is out of range 1280..=9000",
    );
}

#[test]
fn translation_settings_values() {
    assert_check_error(
        "udp.toml",
        &TRANSLATOR.replace(
            "pool6 = \"2001:db8:64::/96\"",
            "pool6 = \"2001:db8:64::/96\"\nudp_zero_checksum = \"ignore\"",
        ),
        "15:21",
        "udp_zero_checksum `ignore` is not \"compute\" or \"drop\"",
    );
    assert_check_error(
        "traffic-class.toml",
        &TRANSLATOR.replace(
            "pool6 = \"2001:db8:64::/96\"",
            "pool6 = \"2001:db8:64::/96\"\ntraffic_class = \"keep\"",
        ),
        "15:17",
        "traffic_class `keep` is not \"copy\" or \"zero\"",
    );
}

#[test]
fn more_than_one_uplink() {
    assert_check_error(
        "two-uplinks.toml",
        &TRANSLATOR.replace(
            "addresses = [\"2001:db8:1::1/64\"]\n",
            "addresses = [\"2001:db8:1::1/64\"]\n[port.ipv4]\naddress = \"198.51.100.129/25\"\n",
        ),
        "10:1",
        "port `wan4` is a second IPv4 uplink; pure6 supports one uplink port for now",
    );
}

#[test]
fn uplink_without_translation() {
    let text = TRANSLATOR.split("[translation]").next().unwrap();
    assert_check_error(
        "no-translation.toml",
        text,
        "8:1",
        "is an IPv4 uplink, which needs a [translation] table",
    );
}

#[test]
fn icmp_error_pool_overlapping_a_mapping() {
    assert_check_error(
        "pool.toml",
        &TRANSLATOR.replace("198.51.100.200/30", "198.51.100.8/30"),
        "15:20",
        "icmp_error_pool 198.51.100.8/30 overlaps eam 198.51.100.0/28",
    );
}
