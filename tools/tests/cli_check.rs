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
             mappings, IPv4 uplink `wan4` 192.0.2.1/24, NAT64 on 5 pool4 addresses)\n\
             \x20 NAT64 pool4: 5 addresses, 318656 TCP ports, 326652 UDP ports, 327679 ICMP \
             identifiers\n\
             \x20 NAT64 filtering endpoint-independent; timeouts: UDP 300 s, TCP established \
             7200 s, TCP transitory 240 s, ICMP 60 s, inbound SYN 6 s\n\
             \x20 NAT64 capacity: 65536 sessions (4096 per IPv6 source), 65536 BIB entries, 1 \
             static entry\n\
             \x20 NAT64 holds up to 1024 inbound SYNs (port unreachable at expiry) and 256 \
             fragments for 2 s\n",
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

/// A NAT64 configuration every case below starts from: the translator
/// above and a `[nat64]` table.
fn nat64_base() -> String {
    format!(
        "{TRANSLATOR}\n[nat64]\npool4 = [\n  {{ prefix = \"192.0.2.1\", tcp = \"1024-65535\" }},\n  \
         {{ prefix = \"192.0.2.16/30\", tcp = \"2000-2999\", udp = \"2000-2999\", icmp = \
         \"1-100\" }},\n]\n"
    )
}

/// `pure6 check` on `text` must fail at the first character of the last
/// occurrence of `at`, with a message containing `needle`.
#[track_caller]
fn assert_check_error_at(name: &str, text: &str, at: &str, needle: &str) {
    let offset = text.rfind(at).expect("marker in the text");
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before[before.rfind('\n').map_or(0, |newline| newline + 1)..]
        .chars()
        .count()
        + 1;
    assert_check_error(name, text, &format!("{line}:{column}"), needle);
}

/// `nat64_base()` with `old` replaced by `new`.
fn nat64_edit(old: &str, new: &str) -> String {
    let base = nat64_base();
    assert!(base.contains(old), "`{old}` not in the base");
    base.replacen(old, new, 1)
}

#[test]
fn nat64_base_is_ok() {
    let path = write_config("nat64.toml", &nat64_base());
    let output = pure6_check(&path);
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.contains(
            ", NAT64 on 5 pool4 addresses)\n  NAT64 pool4: 5 addresses, 68512 TCP \
                         ports, 69535 UDP ports, 65936 ICMP identifiers\n"
        ),
        "{stdout}"
    );
}

#[test]
fn nat64_pool4_empty_or_missing() {
    let text = nat64_edit(
        "pool4 = [\n  { prefix = \"192.0.2.1\", tcp = \"1024-65535\" },\n  { prefix = \
         \"192.0.2.16/30\", tcp = \"2000-2999\", udp = \"2000-2999\", icmp = \"1-100\" },\n]",
        "pool4 = []",
    );
    assert_check_error_at("pool4-empty.toml", &text, "[]", "pool4 is empty");
    let text = text.replace("pool4 = []\n", "");
    assert_check_error_at(
        "pool4-missing.toml",
        &text,
        "[nat64]",
        "[nat64] needs pool4",
    );
}

#[test]
fn nat64_pool4_prefix_with_host_bits() {
    assert_check_error_at(
        "pool4-host-bits.toml",
        &nat64_edit("192.0.2.16/30", "192.0.2.17/30"),
        "\"192.0.2.17/30\"",
        "192.0.2.17/30 has bits set after the prefix length (the network is 192.0.2.16/30)",
    );
}

#[test]
fn nat64_port_ranges() {
    assert_check_error_at(
        "pool4-range-malformed.toml",
        &nat64_edit("udp = \"2000-2999\"", "udp = \"2000..2999\""),
        "\"2000..2999\"",
        "udp port range `2000..2999` is not FIRST-LAST or a single port, as in \"1024-65535\"",
    );
    assert_check_error_at(
        "pool4-range-empty.toml",
        &nat64_edit("icmp = \"1-100\"", "icmp = \"\""),
        "\"\" }",
        "icmp identifier range `` is not FIRST-LAST",
    );
    assert_check_error_at(
        "pool4-range-reversed.toml",
        &nat64_edit("tcp = \"2000-2999\"", "tcp = \"2999-2000\""),
        "\"2999-2000\"",
        "tcp port range `2999-2000` is empty: 2999 is after 2000",
    );
    assert_check_error_at(
        "pool4-range-port-0.toml",
        &nat64_edit("tcp = \"2000-2999\"", "tcp = \"0-2999\""),
        "\"0-2999\"",
        "tcp port range `0-2999`: `0` is not a port in 1-65535",
    );
}

#[test]
fn nat64_overlapping_pool4_prefixes() {
    assert_check_error_at(
        "pool4-overlap.toml",
        &nat64_edit("192.0.2.16/30", "192.0.2.0/30"),
        "\"192.0.2.0/30\"",
        "pool4 192.0.2.0/30 overlaps pool4 192.0.2.1/32",
    );
}

#[test]
fn nat64_pool4_overlapping_translator_addresses() {
    assert_check_error_at(
        "pool4-eam.toml",
        &nat64_edit("192.0.2.16/30", "198.51.100.0/30"),
        "\"198.51.100.0/30\"",
        "pool4 198.51.100.0/30 overlaps eam 198.51.100.0/28",
    );
    assert_check_error_at(
        "pool4-icmp-error-pool.toml",
        &nat64_edit("192.0.2.16/30", "198.51.100.200/29"),
        "\"198.51.100.200/29\"",
        "pool4 198.51.100.200/29 overlaps icmp_error_pool 198.51.100.200/30",
    );
    assert_check_error_at(
        "pool4-uplink-hosts.toml",
        &nat64_edit("192.0.2.16/30", "192.0.2.252/30"),
        "\"192.0.2.252/30\"",
        "pool4 192.0.2.252/30 holds the uplink's broadcast address 192.0.2.255",
    );
}

#[test]
fn nat64_timeouts_below_the_rfc_minimums() {
    for (key, value, needle) in [
        (
            "udp_timeout_seconds",
            "60",
            "udp_timeout_seconds 60 is below the minimum UDP_MIN, 120 s (RFC 6146 §3.5.1, §4)",
        ),
        (
            "tcp_established_timeout_seconds",
            "3600",
            "tcp_established_timeout_seconds 3600 is below the minimum TCP_EST, 7200 s (RFC \
             6146 §3.5.2.2, §4",
        ),
        (
            "tcp_transitory_timeout_seconds",
            "60",
            "tcp_transitory_timeout_seconds 60 is below the minimum TCP_TRANS, 240 s (RFC 6146 \
             §3.5.2.2, §4",
        ),
        (
            "icmp_timeout_seconds",
            "30",
            "icmp_timeout_seconds 30 is below the minimum 60 s (RFC 5508 §3.2 REQ-2",
        ),
        (
            "tcp_incoming_syn_seconds",
            "2",
            "tcp_incoming_syn_seconds 2 is below the minimum TCP_INCOMING_SYN, 6 s (RFC 6146 \
             §3.5.2.2, §4",
        ),
        (
            "fragment_timeout_seconds",
            "1",
            "fragment_timeout_seconds 1 is below the minimum FRAGMENT_MIN, 2 s (RFC 6146 §3.4, \
             §4)",
        ),
    ] {
        let text = format!("{}{key} = {value}\n", nat64_base());
        assert_check_error_at(&format!("{key}.toml"), &text, &format!("{value}\n"), needle);
        assert_check_error_at(
            &format!("{key}.toml"),
            &text,
            &format!("{value}\n"),
            "with allow_short_timeouts = true",
        );
        // Accepted, and reported, in a lab that says so.
        let lab = format!(
            "{}allow_short_timeouts = true\n{key} = {value}\n",
            nat64_base()
        );
        let path = write_config(&format!("{key}-lab.toml"), &lab);
        let output = pure6_check(&path);
        assert!(output.status.success(), "{output:?}");
        let stdout = String::from_utf8(output.stdout).unwrap();
        assert!(stdout.contains("(short timeouts allowed)"), "{stdout}");
    }
}

#[test]
fn nat64_zero_capacities() {
    for key in ["sessions", "bib_entries", "sessions_per_source"] {
        assert_check_error_at(
            &format!("{key}-zero.toml"),
            &format!("{}{key} = 0\n", nat64_base()),
            "0\n",
            &format!("{key} 0 is out of range 1..="),
        );
    }
}

#[test]
fn nat64_held_packet_limits() {
    for (key, value, needle) in [
        (
            "held_incoming_syns",
            "-1",
            "held_incoming_syns -1 is out of range 0..=65536 (unsolicited inbound SYNs held",
        ),
        (
            "fragments",
            "100000",
            "fragments 100000 is out of range 0..=4096 (fragments held until their first",
        ),
        (
            "fragment_timeout_seconds",
            "90",
            "fragment_timeout_seconds 90 is above 60",
        ),
    ] {
        assert_check_error_at(
            &format!("{key}-limit.toml"),
            &format!("{}{key} = {value}\n", nat64_base()),
            &format!("{value}\n"),
            needle,
        );
    }
}

#[test]
fn nat64_sessions_per_source_above_sessions() {
    assert_check_error_at(
        "sessions-per-source.toml",
        &format!(
            "{}sessions = 1000\nsessions_per_source = 2000\n",
            nat64_base()
        ),
        "2000\n",
        "sessions_per_source 2000 is out of range 1..=1000 (at most `sessions`)",
    );
}

/// `nat64_base()` with one `[[nat64.static]]` entry.
fn with_static(protocol: &str, ipv6: &str, ipv4: &str) -> String {
    format!(
        "{}\n[[nat64.static]]\nprotocol = \"{protocol}\"\nipv6 = \"{ipv6}\"\nipv4 = \"{ipv4}\"\n",
        nat64_base()
    )
}

#[test]
fn nat64_static_entries_outside_pool4() {
    assert_check_error_at(
        "static-outside.toml",
        &with_static("tcp", "[2001:db8:1::80]:80", "192.0.2.2:8080"),
        "\"192.0.2.2:8080\"",
        "ipv4 192.0.2.2 is not in pool4",
    );
    assert_check_error_at(
        "static-port.toml",
        &with_static("udp", "[2001:db8:1::80]:53", "192.0.2.17:53"),
        "\"192.0.2.17:53\"",
        "ipv4 192.0.2.17:53: port 53 is outside the udp range 2000-2999 of pool4 192.0.2.16/30",
    );
    assert_check_error_at(
        "static-identifier.toml",
        &with_static("icmp", "[2001:db8:1::80]:7", "192.0.2.17:101"),
        "\"192.0.2.17:101\"",
        "identifier 101 is outside the icmp range 1-100",
    );
}

#[test]
fn nat64_duplicate_static_entries() {
    let once = with_static("tcp", "[2001:db8:1::80]:80", "192.0.2.1:8080");
    let path = write_config("static-once.toml", &once);
    assert!(pure6_check(&path).status.success());
    assert_check_error_at(
        "static-duplicate.toml",
        &format!(
            "{once}\n[[nat64.static]]\nprotocol = \"tcp\"\nipv6 = \"[2001:db8:1::81]:80\"\n\
             ipv4 = \"192.0.2.1:8080\"\n"
        ),
        "\"192.0.2.1:8080\"",
        "duplicate static tcp entry for 192.0.2.1:8080 (already entry 0)",
    );
    assert_check_error_at(
        "static-duplicate-ipv6.toml",
        &format!(
            "{once}\n[[nat64.static]]\nprotocol = \"tcp\"\nipv6 = \"[2001:db8:1::80]:80\"\n\
             ipv4 = \"192.0.2.1:8081\"\n"
        ),
        "\"[2001:db8:1::80]:80\"",
        "duplicate static tcp entry for [2001:db8:1::80]:80 (already entry 0)",
    );
}

#[test]
fn nat64_without_translation_or_uplink() {
    let without_translation = "[[port]]\nname = \"lan0\"\naddresses = [\"2001:db8:1::1/64\"]\n\n\
                               [nat64]\npool4 = [{ prefix = \"192.0.2.1\" }]\n";
    assert_check_error_at(
        "nat64-no-translation.toml",
        without_translation,
        "[nat64]",
        "[nat64] needs a [translation] table: its pool6",
    );
    let without_uplink =
        format!("{without_translation}\n[translation]\npool6 = \"2001:db8:64::/96\"\n");
    assert_check_error_at(
        "nat64-no-uplink.toml",
        &without_uplink,
        "[nat64]",
        "[nat64] needs an IPv4 uplink (a [[port]] with [port.ipv4])",
    );
}
