//! `pure6 check`: parse a configuration file with the appliance's own parser and say what is wrong, with file, line and column.

use std::path::Path;

/// Checks the configuration in `text`, read from `path`, with
/// [`netstack::config::parse`] (the parser the appliance runs).
///
/// Returns the line to print on success, `PATH: ok (N ports)` followed by
/// the translation prefix, the number of explicit address mappings and the
/// IPv4 uplink when configured, or on failure `PATH:LINE:COLUMN: MESSAGE`,
/// the form editors and CI logs link to. Every inconsistency of the
/// translator's configuration (overlapping or mismatched explicit address
/// mappings, mappings that overlap pool6 or hold an uplink address, next
/// hops outside the uplink's prefix, a second uplink, `lowest_ipv6_mtu`
/// below 1280 ...) is an error of the parser, with its position.
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
            Ok(format!("{}: ok ({summary})", path.display()))
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
