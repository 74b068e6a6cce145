//! `pure6 routes map` and `pure6 routes compile` run as a process: IPv4 routes (text and MRT) mapped under pool6 into pure6 and BIRD formats, route files compiled, summaries and errors.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// A file in a fresh directory under the target's temporary directory.
fn fixture(name: &str, contents: &[u8]) -> PathBuf {
    let directory = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("routes_map");
    std::fs::create_dir_all(&directory).expect("temporary directory");
    let path = directory.join(name);
    std::fs::write(&path, contents).expect("write fixture");
    path
}

const NEXT_HOPS: &str = "\
# IPv4 next hop -> IPv6 next hop
192.0.2.1 2001:db8::1
192.0.2.2 fe80::2 port lan0
192.0.2.254 local
";

/// Run `pure6 routes map ARGUMENTS` with `input` on standard input.
fn routes_map(arguments: &[&str], input: &[u8]) -> Output {
    routes_command("map", arguments, input)
}

/// Run `pure6 routes COMMAND ARGUMENTS` with `input` on standard input.
fn routes_command(command: &str, arguments: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pure6"))
        .args(["routes", command])
        .args(arguments)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("pure6 runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input)
        .expect("write stdin");
    child.wait_with_output().expect("pure6 finishes")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("UTF-8 output")
}

/// The body lines of the output (no comments).
fn routes_of(output: &Output) -> Vec<String> {
    text(&output.stdout)
        .lines()
        .filter(|line| !line.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

#[test]
fn design_example_in_pure6_format() {
    // ARCHITECTURE.md rule 2. Documentation addresses under the well-known
    // prefix break RFC 6052 §3.1, so the lab switch is on to reproduce the
    // example as the design writes it.
    let next_hops = fixture("design-next-hops", NEXT_HOPS.as_bytes());
    let output = routes_map(
        &[
            "--pool6",
            "64:ff9b::/96",
            "--nexthops",
            next_hops.to_str().unwrap(),
            "--allow-non-global-under-well-known-prefix",
        ],
        b"198.51.100.0/24 via 192.0.2.1\n",
    );
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        routes_of(&output),
        ["64:ff9b::c633:6400/120 via 2001:db8::1"]
    );
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("routes read: 1 (IPv4 1, IPv6 0)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("routes written: 1 (mapped 1, IPv6 0)"),
        "{stderr}"
    );
}

#[test]
fn well_known_prefix_rule_is_on_by_default() {
    let next_hops = fixture("rule-next-hops", NEXT_HOPS.as_bytes());
    let output = routes_map(
        &[
            "--pool6",
            "64:ff9b::/96",
            "--nexthops",
            next_hops.to_str().unwrap(),
        ],
        b"198.51.100.0/24 via 192.0.2.1\n8.8.8.0/24 via 192.0.2.1\n",
    );
    assert!(output.status.success(), "{output:?}");
    assert_eq!(routes_of(&output), ["64:ff9b::808:800/120 via 2001:db8::1"]);
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains(
            "routes rejected: 1 (next-hop-not-in-table 0, non-global-under-well-known-prefix 1,"
        ),
        "{stderr}"
    );
}

const ROUTES: &[u8] = b"\
# IPv4 routes
198.51.100.0/24 via 192.0.2.1
203.0.113.0/24 via 192.0.2.2
192.0.2.128/25 via 192.0.2.254
blackhole 198.18.0.0/15
100.64.0.0/10 via 192.0.2.99
2001:db8:1::/48 via 2001:db8::1
";

#[test]
fn pure6_format_with_every_next_hop_kind() {
    let next_hops = fixture("kinds-next-hops", NEXT_HOPS.as_bytes());
    let output_path = fixture("kinds-output", b"");
    let input_path = fixture("kinds-input", ROUTES);
    let output = routes_map(
        &[
            "--pool6",
            "2001:db8:64::/96",
            "--nexthops",
            next_hops.to_str().unwrap(),
            "--input",
            input_path.to_str().unwrap(),
            "--output",
            output_path.to_str().unwrap(),
            "--format",
            "pure6",
        ],
        b"",
    );
    assert!(output.status.success(), "{output:?}");
    let written = std::fs::read_to_string(&output_path).unwrap();
    let lines: Vec<&str> = written
        .lines()
        .filter(|line| !line.starts_with('#'))
        .collect();
    assert_eq!(
        lines,
        [
            "2001:db8:64::c633:6400/120 via 2001:db8::1",
            "2001:db8:64::cb00:7100/120 via fe80::2 port lan0",
            "2001:db8:64::c000:280/121 translate via 2001:db8:64::c000:2fe",
            "blackhole 2001:db8:64::c612:0/111",
            "2001:db8:1::/48 via 2001:db8::1",
        ]
    );
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("routes read: 6 (IPv4 5, IPv6 1)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("routes written: 5 (mapped 4, IPv6 1)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("routes rejected: 1 (next-hop-not-in-table 1,"),
        "{stderr}"
    );
}

#[test]
fn bird_format() {
    let next_hops = fixture("bird-next-hops", NEXT_HOPS.as_bytes());
    let output = routes_map(
        &[
            "--pool6",
            "2001:db8:64::/96",
            "--nexthops",
            next_hops.to_str().unwrap(),
            "--format",
            "bird",
        ],
        ROUTES,
    );
    assert!(output.status.success(), "{output:?}");
    let stdout = text(&output.stdout);
    let body: Vec<&str> = stdout
        .lines()
        .filter(|line| !line.starts_with('#'))
        .collect();
    assert_eq!(
        body,
        [
            "protocol static pure6_pool6 {",
            "\tipv6;",
            "\troute 2001:db8:64::c633:6400/120 via 2001:db8::1;",
            "\troute 2001:db8:64::cb00:7100/120 via fe80::2%lan0;",
            "\troute 2001:db8:64::c612:0/111 blackhole;",
            "\troute 2001:db8:1::/48 via 2001:db8::1;",
            "}",
        ]
    );
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("translator-next-hop-in-bird-output 1"),
        "{stderr}"
    );
    assert!(stderr.contains("routes rejected: 2 "), "{stderr}");
}

#[test]
fn malformed_input_exits_non_zero_with_line_numbers() {
    let next_hops = fixture("bad-next-hops", NEXT_HOPS.as_bytes());
    let input = fixture(
        "bad-input",
        b"198.51.100.0/24 via 192.0.2.1\n198.51.100.1/24 via 192.0.2.1\n\n203.0.113.0/24 192.0.2.1\n10.0.0.0/33 via 192.0.2.1\n",
    );
    let output = routes_map(
        &[
            "--pool6",
            "2001:db8:64::/96",
            "--nexthops",
            next_hops.to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(output.stdout.is_empty(), "no output on errors");
    let stderr = text(&output.stderr);
    let name = input.display().to_string();
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 3, "{stderr}");
    assert!(lines[0].starts_with(&format!("{name}:2: ")), "{stderr}");
    assert!(lines[1].starts_with(&format!("{name}:4: ")), "{stderr}");
    assert!(lines[2].starts_with(&format!("{name}:5: ")), "{stderr}");
}

#[test]
fn malformed_next_hops_file_is_reported() {
    let next_hops = fixture("broken-next-hops", b"192.0.2.1 2001:db8::1\n192.0.2.2\n");
    let output = routes_map(
        &[
            "--pool6",
            "2001:db8:64::/96",
            "--nexthops",
            next_hops.to_str().unwrap(),
        ],
        b"198.51.100.0/24 via 192.0.2.1\n",
    );
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.starts_with(&format!("{}:2: ", next_hops.display())),
        "{stderr}"
    );
}

#[test]
fn invalid_pool6_is_refused() {
    let next_hops = fixture("pool-next-hops", NEXT_HOPS.as_bytes());
    let output = routes_map(
        &[
            "--pool6",
            "2001:db8:64::/80",
            "--nexthops",
            next_hops.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = text(&output.stderr);
    assert!(stderr.contains("RFC 6052"), "{stderr}");
}

#[test]
fn gzip_input() {
    let next_hops = fixture("gzip-next-hops", NEXT_HOPS.as_bytes());
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder
        .write_all(b"198.51.100.0/24 via 192.0.2.1\n")
        .unwrap();
    let compressed = encoder.finish().unwrap();
    let output = routes_map(
        &[
            "--pool6",
            "2001:db8:64::/96",
            "--nexthops",
            next_hops.to_str().unwrap(),
        ],
        &compressed,
    );
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        routes_of(&output),
        ["2001:db8:64::c633:6400/120 via 2001:db8::1"]
    );
}

/// One RIB record of [`mrt_table_dump`]: prefix, length, and the
/// entries as (peer index, IPv4 next hop).
type Rib<'entries> = ([u8; 4], u8, &'entries [(u16, [u8; 4])]);

/// An MRT TABLE_DUMP_V2 file (RFC 6396 §4.3): a PEER_INDEX_TABLE with two
/// peers and one RIB_IPV4_UNICAST record per `(prefix, length, entries)`,
/// each entry `(peer index, next hop)`.
fn mrt_table_dump(ribs: &[Rib<'_>]) -> Vec<u8> {
    fn record(subtype: u16, body: &[u8]) -> Vec<u8> {
        let mut record = Vec::new();
        record.extend_from_slice(&1_778_457_600u32.to_be_bytes()); // timestamp
        record.extend_from_slice(&13u16.to_be_bytes()); // TABLE_DUMP_V2
        record.extend_from_slice(&subtype.to_be_bytes());
        record.extend_from_slice(&(body.len() as u32).to_be_bytes());
        record.extend_from_slice(body);
        record
    }
    let mut file = Vec::new();
    // PEER_INDEX_TABLE (subtype 1, §4.3.1).
    let mut peers = Vec::new();
    peers.extend_from_slice(&[198, 51, 100, 254]); // collector BGP ID
    peers.extend_from_slice(&0u16.to_be_bytes()); // no view name
    peers.extend_from_slice(&2u16.to_be_bytes());
    for (address, asn) in [([192, 0, 2, 1], 64_496u32), ([192, 0, 2, 2], 64_497)] {
        peers.push(0x02); // IPv4 peer address, 4-octet AS
        peers.extend_from_slice(&address); // BGP ID
        peers.extend_from_slice(&address);
        peers.extend_from_slice(&asn.to_be_bytes());
    }
    file.extend(record(1, &peers));
    // RIB_IPV4_UNICAST (subtype 2, §4.3.2).
    for (sequence, (prefix, length, entries)) in ribs.iter().enumerate() {
        let mut body = Vec::new();
        body.extend_from_slice(&(sequence as u32).to_be_bytes());
        body.push(*length);
        body.extend_from_slice(&prefix[..usize::from(length.div_ceil(8))]);
        body.extend_from_slice(&(entries.len() as u16).to_be_bytes());
        for (peer, next_hop) in entries.iter() {
            let mut attributes = vec![0x40, 1, 1, 0]; // ORIGIN IGP
            attributes.extend_from_slice(&[0x40, 2, 6, 2, 1]); // AS_PATH, one AS_SEQUENCE
            attributes.extend_from_slice(&64_496u32.to_be_bytes());
            attributes.extend_from_slice(&[0x40, 3, 4]); // NEXT_HOP
            attributes.extend_from_slice(next_hop);
            body.extend_from_slice(&peer.to_be_bytes());
            body.extend_from_slice(&1_778_457_600u32.to_be_bytes());
            body.extend_from_slice(&(attributes.len() as u16).to_be_bytes());
            body.extend_from_slice(&attributes);
        }
        file.extend(record(2, &body));
    }
    file
}

fn mrt_fixture() -> Vec<u8> {
    mrt_table_dump(&[
        (
            [198, 51, 100, 0],
            24,
            &[(0, [192, 0, 2, 1]), (1, [192, 0, 2, 2])],
        ),
        ([203, 0, 113, 0], 24, &[(1, [192, 0, 2, 2])]),
        ([192, 0, 2, 0], 25, &[(0, [192, 0, 2, 99])]),
        ([0, 0, 0, 0], 0, &[(0, [192, 0, 2, 254])]),
    ])
}

#[test]
fn mrt_rib_dump_first_entry_per_prefix() {
    let next_hops = fixture("mrt-next-hops", NEXT_HOPS.as_bytes());
    let output = routes_map(
        &[
            "--pool6",
            "2001:db8:64::/96",
            "--nexthops",
            next_hops.to_str().unwrap(),
        ],
        &mrt_fixture(),
    );
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        routes_of(&output),
        [
            "2001:db8:64::c633:6400/120 via 2001:db8::1",
            "2001:db8:64::cb00:7100/120 via fe80::2 port lan0",
            "2001:db8:64::/96 translate via 2001:db8:64::c000:2fe",
        ]
    );
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("routes read: 4 (IPv4 4, IPv6 0); MRT entries skipped: 1"),
        "{stderr}"
    );
    assert!(stderr.contains("next-hop-not-in-table 1"), "{stderr}");
}

#[test]
fn mrt_rib_dump_one_peer() {
    let next_hops = fixture("mrt-peer-next-hops", NEXT_HOPS.as_bytes());
    let output = routes_map(
        &[
            "--pool6",
            "2001:db8:64::/96",
            "--nexthops",
            next_hops.to_str().unwrap(),
            "--peer",
            "192.0.2.2",
            "--input-format",
            "mrt",
            "--format",
            "bird",
        ],
        &mrt_fixture(),
    );
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        routes_of(&output),
        [
            "protocol static pure6_pool6 {",
            "\tipv6;",
            "\troute 2001:db8:64::c633:6400/120 via fe80::2%lan0;",
            "\troute 2001:db8:64::cb00:7100/120 via fe80::2%lan0;",
            "}",
        ]
    );
}

#[test]
fn truncated_mrt_fails() {
    let next_hops = fixture("mrt-truncated-next-hops", NEXT_HOPS.as_bytes());
    let mut dump = mrt_fixture();
    dump.truncate(dump.len() - 5);
    let output = routes_map(
        &[
            "--pool6",
            "2001:db8:64::/96",
            "--nexthops",
            next_hops.to_str().unwrap(),
            "--input-format",
            "mrt",
        ],
        &dump,
    );
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(
        text(&output.stderr).contains("MRT"),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn compile_writes_a_file_the_appliance_decodes_and_refuses_malformed_text() {
    let output_path = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("routes_map")
        .join("compiled.bin");
    std::fs::create_dir_all(output_path.parent().unwrap()).expect("temporary directory");
    let _ = std::fs::remove_file(&output_path);
    let text =
        "2001:db8::/32 via 2001:db8::1\n198.51.100.0/24 via 192.0.2.1\nblackhole 203.0.113.0/24\n";
    let output = routes_command(
        "compile",
        &["--output", output_path.to_str().unwrap()],
        text.as_bytes(),
    );
    assert!(output.status.success(), "{}", text_of_stderr(&output));
    assert_eq!(
        text_of_stderr(&output).trim(),
        format!(
            "-: 3 lines compiled into {} (188 bytes): 1 IPv6 routes, 2 IPv4 routes, 3 next hops",
            output_path.display()
        )
    );
    let bytes = std::fs::read(&output_path).expect("the compiled file");
    let counts = netstack::route_file::compiled::counts(&bytes).expect("a valid header");
    assert_eq!(
        (counts.ipv6_routes, counts.ipv4_routes, counts.lines),
        (1, 2, 3)
    );

    std::fs::remove_file(&output_path).expect("remove");
    let output = routes_command(
        "compile",
        &["--output", output_path.to_str().unwrap()],
        b"2001:db8::/32 via 2001:db8::1\n2001:db8::1/32 via 2001:db8::1\n",
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text_of_stderr(&output).starts_with("-:2: "),
        "{}",
        text_of_stderr(&output)
    );
    assert!(
        !output_path.exists(),
        "nothing is written for malformed text"
    );
}

fn text_of_stderr(output: &Output) -> String {
    text(&output.stderr)
}
