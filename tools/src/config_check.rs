//! `pure6 check`: parse a configuration file with the appliance's own parser and say what is wrong, with file, line and column.

use std::path::Path;

use netstack::config::{Nat64Config, Nat64Protocol};

/// Checks the configuration in `text`, read from `path`, with
/// [`netstack::config::parse`] (the parser the appliance runs).
///
/// Returns the text to print on success, `PATH: ok (N ports)` followed by
/// the translation prefix, the number of explicit address mappings, the
/// IPv4 uplink and NAT64 when configured, and, with NAT64, three indented
/// lines: pool4's size in addresses and ports, the timeouts, and the table
/// capacities ([`nat64_summary`]). On failure it returns
/// `PATH:LINE:COLUMN: MESSAGE`, the form editors and CI logs link to.
/// Every inconsistency of the translator's configuration (overlapping or
/// mismatched explicit address mappings, mappings that overlap pool6 or
/// hold an uplink address, next hops outside the uplink's prefix, a second
/// uplink, `lowest_ipv6_mtu` below 1280, pool4 entries that overlap each
/// other or an address the uplink already uses, NAT64 timeouts below the
/// RFC minimums, static BIB entries outside pool4 ...) is an error of the
/// parser, with its position.
pub fn check_text(path: &Path, text: &str) -> Result<String, String> {
    match netstack::config::parse(text) {
        Ok(config) => {
            let count = config.ports.len();
            let noun = if count == 1 { "port" } else { "ports" };
            let mut summary = format!("{count} {noun}");
            if let Some(translation) = &config.translation {
                summary.push_str(&format!(", translation under {}", translation.pool6));
                let mappings = translation.explicit_address_mappings.len();
                if mappings > 0 {
                    let noun = if mappings == 1 { "mapping" } else { "mappings" };
                    summary.push_str(&format!(", {mappings} explicit address {noun}"));
                }
            }
            if let Some((index, uplink)) = config.uplink() {
                summary.push_str(&format!(
                    ", IPv4 uplink `{}` {}/{}",
                    config.ports[index].name, uplink.address, uplink.prefix_length
                ));
            }
            let mut report = format!("{}: ok", path.display());
            match &config.nat64 {
                Some(nat64) => {
                    let addresses = nat64.pool4_addresses();
                    let noun = if addresses == 1 {
                        "address"
                    } else {
                        "addresses"
                    };
                    report.push_str(&format!(
                        " ({summary}, NAT64 on {addresses} pool4 {noun})\n{}",
                        nat64_summary(nat64)
                    ));
                }
                None => report.push_str(&format!(" ({summary})")),
            }
            Ok(report)
        }
        Err(error) => Err(format!(
            "{}:{}:{}: {}",
            path.display(),
            error.line,
            error.column,
            error.message
        )),
    }
}

/// The NAT64 lines of `pure6 check`, each indented by two spaces: pool4's
/// size (addresses, and address-port pairs of each protocol), the
/// filtering and the timeouts, the capacities of the tables, and what is
/// held: unsolicited inbound SYNs (RFC 6146 §3.5.2.2) and fragments (§3.4).
pub fn nat64_summary(nat64: &Nat64Config) -> String {
    let addresses = nat64.pool4_addresses();
    let noun = if addresses == 1 {
        "address"
    } else {
        "addresses"
    };
    let timeouts = &nat64.timeouts;
    let short = if nat64.short_timeouts_allowed {
        " (short timeouts allowed)"
    } else {
        ""
    };
    let statics = nat64.static_bindings.len();
    let static_noun = if statics == 1 { "entry" } else { "entries" };
    format!(
        "  NAT64 pool4: {addresses} {noun}, {} TCP ports, {} UDP ports, {} ICMP identifiers\n\
         \x20 NAT64 filtering {}; timeouts: UDP {} s, TCP established {} s, TCP transitory \
         {} s, ICMP {} s, inbound SYN {} s{short}\n\
         \x20 NAT64 capacity: {} sessions ({} per IPv6 source), {} BIB entries, {statics} \
         static {static_noun}\n\
         \x20 NAT64 holds up to {} inbound SYNs ({}) and {} fragments for {} s",
        nat64.pool4_ports(Nat64Protocol::Tcp),
        nat64.pool4_ports(Nat64Protocol::Udp),
        nat64.pool4_ports(Nat64Protocol::Icmp),
        nat64.filtering.name(),
        timeouts.udp.secs(),
        timeouts.tcp_established.secs(),
        timeouts.tcp_transitory.secs(),
        timeouts.icmp.secs(),
        timeouts.tcp_incoming_syn.secs(),
        nat64.session_capacity,
        nat64.sessions_per_source,
        nat64.binding_capacity,
        nat64.held_incoming_syns,
        if nat64.incoming_syn_unreachable {
            "port unreachable at expiry"
        } else {
            "dropped silently at expiry"
        },
        nat64.fragment_capacity,
        nat64.fragment_timeout.secs(),
    )
}

/// Reads the file at `path` and checks it like [`check_text`]; a file that
/// cannot be read is reported as `PATH: cannot read: REASON`.
pub fn check_file(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("{}: cannot read: {error}", path.display()))?;
    check_text(path, &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ok_counts_ports() {
        let path = Path::new("a.toml");
        assert_eq!(check_text(path, ""), Ok("a.toml: ok (0 ports)".to_owned()));
        assert_eq!(
            check_text(path, "[[port]]\nname = \"lan0\"\n"),
            Ok("a.toml: ok (1 port)".to_owned())
        );
    }

    #[test]
    fn ok_names_the_translator_and_uplink() {
        let path = Path::new("c.toml");
        assert_eq!(
            check_text(
                path,
                "[[port]]\nname = \"wan4\"\n[port.ipv4]\naddress = \"192.0.2.1/24\"\n\
                 [translation]\npool6 = \"2001:db8:64::/96\"\n\
                 [[translation.eam]]\nipv4 = \"198.51.100.1\"\nipv6 = \"2001:db8:1::1\"\n"
            ),
            Ok(
                "c.toml: ok (1 port, translation under 2001:db8:64::/96, 1 explicit address \
                mapping, IPv4 uplink `wan4` 192.0.2.1/24)"
                    .to_owned()
            )
        );
    }

    #[test]
    fn ok_summarizes_nat64() {
        let path = Path::new("n.toml");
        let text = "[[port]]\nname = \"wan4\"\n[port.ipv4]\naddress = \"192.0.2.1/24\"\n\
                    [translation]\npool6 = \"2001:db8:64::/96\"\n\
                    [nat64]\npool4 = [{ prefix = \"192.0.2.1\", tcp = \"2000-2999\" }, \
                    { prefix = \"198.51.100.0/31\", udp = \"5000\", icmp = \"0-9\" }]\n\
                    allow_short_timeouts = true\nudp_timeout_seconds = 30\n\
                    sessions = 1000\nsessions_per_source = 10\nbib_entries = 900\n\
                    [[nat64.static]]\nprotocol = \"tcp\"\nipv6 = \"[2001:db8:1::80]:80\"\n\
                    ipv4 = \"192.0.2.1:2080\"\n";
        assert_eq!(
            check_text(path, text),
            Ok(
                "n.toml: ok (1 port, translation under 2001:db8:64::/96, IPv4 uplink `wan4` \
                192.0.2.1/24, NAT64 on 3 pool4 addresses)\n\
                \x20 NAT64 pool4: 3 addresses, 132070 TCP ports, 65537 UDP ports, 65556 ICMP \
                identifiers\n\
                \x20 NAT64 filtering endpoint-independent; timeouts: UDP 30 s, TCP established \
                7200 s, TCP transitory 240 s, ICMP 60 s, inbound SYN 6 s (short timeouts \
                allowed)\n\
                \x20 NAT64 capacity: 1000 sessions (10 per IPv6 source), 900 BIB entries, 1 \
                static entry\n\
                \x20 NAT64 holds up to 1024 inbound SYNs (port unreachable at expiry) and 256 \
                fragments for 2 s"
                    .to_owned()
            )
        );
    }

    #[test]
    fn error_has_line_and_column() {
        let path = Path::new("b.toml");
        assert_eq!(
            check_text(path, "[[port]]\nname = \"lan0\"\nmtu = 100\n"),
            Err("b.toml:3:7: mtu 100 is out of range 1280..=9000 (IPv6 needs at least 1280, RFC 8200 §5)".to_owned())
        );
    }

    #[test]
    fn unreadable_file() {
        let error = check_file(Path::new("/nonexistent/pure6.toml")).unwrap_err();
        assert!(
            error.starts_with("/nonexistent/pure6.toml: cannot read: "),
            "{error}"
        );
    }
}
