//! The appliance's configuration model: a TOML file parsed into validated settings, with line and column on every error.
//!
//! The same code parses the config in the kernel (the `toml` crate works
//! without `std`) and in `pure6 check` on the host, so both agree on every
//! error. Parsing has two steps:
//! 1. deserialization into private serde structs that reject unknown keys
//!    and wrong types, keeping the byte span ([`toml::Spanned`]) of each
//!    value that is validated afterwards;
//! 2. validation of those values (ranges, address scopes, uniqueness),
//!    turning each span into a 1-based line and column.
//!
//! # Shape
//! ```toml
//! [router]
//! name = "pure6"          # optional, default "pure6"
//!
//! [[port]]
//! name = "lan0"           # required, unique, 1..=15 of [a-z0-9-]
//! mtu = 1500              # optional, default 1500, 1280..=9000
//! link_local = "fe80::1"  # optional, default EUI-64 from the NIC's MAC
//! ```
//!
//! # Ports and NICs
//! Ports are matched to NICs by order: the first `[[port]]` describes the
//! first NIC the kernel finds, and so on. NICs beyond the configured ports
//! get default settings ([`Config::port_settings`]; the kernel logs that),
//! and configured ports with no NIC are reported by the kernel
//! ([`Config::ports_without_nic`]).
//!
//! References: RFC 8200 §5 (IPv6 minimum link MTU 1280), RFC 4291 §2.5.6
//! (link-local addresses, fe80::/10) and Appendix A (EUI-64 interface
//! identifiers from a MAC address).

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::net::Ipv6Addr;
use core::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use crate::router::MAX_PORTS;

/// The embedded default configuration, used when the appliance boots with none.
///
/// It configures no ports, so every NIC becomes a port named `port0`,
/// `port1`, ... with MTU 1500 and an EUI-64 link-local address.
pub const DEFAULT_CONFIG: &str = r#"# pure6 default configuration (embedded in the image).
#
# No [[port]] tables: every NIC becomes a port named port0, port1, ...
# in the order the kernel finds them, with MTU 1500 and a link-local
# address derived from the NIC's MAC address (EUI-64, RFC 4291 Appendix A).
# See qemu/example.toml for every key.

[router]
name = "pure6"
"#;

/// The router name used when `[router] name` is absent.
pub const DEFAULT_ROUTER_NAME: &str = "pure6";

/// The MTU used when a port's `mtu` is absent (RFC 2464 §2, Ethernet).
pub const DEFAULT_MTU: u16 = 1500;

/// The smallest accepted port MTU: the IPv6 minimum link MTU (RFC 8200 §5).
pub const MINIMUM_MTU: u16 = 1280;

/// The largest accepted port MTU (jumbo frames).
pub const MAXIMUM_MTU: u16 = 9000;

/// The longest accepted port name, in characters.
pub const MAXIMUM_PORT_NAME_LENGTH: usize = 15;

/// The longest accepted router name, in characters.
pub const MAXIMUM_ROUTER_NAME_LENGTH: usize = 63;

/// A configuration that parsed and validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Settings of the router as a whole (`[router]`).
    pub router: RouterConfig,
    /// The configured ports (`[[port]]`), in the order they are matched to NICs.
    pub ports: Vec<PortConfig>,
}

/// The `[router]` table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouterConfig {
    /// The router's name, used in logs (`name`, default [`DEFAULT_ROUTER_NAME`]).
    pub name: String,
}

/// One `[[port]]` table, as written in the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortConfig {
    /// The port's name, unique, 1..=15 characters of `[a-z0-9-]`.
    pub name: String,
    /// The IPv6 MTU of the link, 1280..=9000 (default 1500).
    pub mtu: u16,
    /// The port's link-local address; `None` means EUI-64 from the NIC's MAC.
    pub link_local: Option<Ipv6Addr>,
}

/// The resolved settings of the port on one NIC.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortSettings {
    /// The port's name (configured, or `port{index}`).
    pub name: String,
    /// The IPv6 MTU of the link.
    pub mtu: u16,
    /// The port's link-local address (configured, or EUI-64 from `mac`).
    pub link_local: Ipv6Addr,
    /// The NIC's MAC address.
    pub mac: [u8; 6],
    /// Whether the settings came from a `[[port]]` table (`false`: defaults).
    pub configured: bool,
}

/// Why a configuration was rejected, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The 1-based line of the offending text.
    pub line: usize,
    /// The 1-based column (in characters) of the offending text.
    pub column: usize,
    /// What is wrong, on one line.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}

impl core::error::Error for ConfigError {}

/// Parses and validates a configuration file.
///
/// Every error carries the line and column of the offending text: TOML
/// syntax errors, unknown keys, values of the wrong type, and semantic
/// errors (names, MTU range, link-local scope, duplicate port names).
pub fn parse(text: &str) -> Result<Config, ConfigError> {
    let document: ConfigDocument = toml::from_str(text).map_err(|error| {
        let start = error.span().map_or(0, |span| span.start);
        ConfigError::at(text, start, error.message())
    })?;
    document.validate(text)
}

impl Config {
    /// The resolved settings for the NIC at `index` with MAC address `mac`:
    /// the `index`-th `[[port]]` if there is one, otherwise defaults with the
    /// name `port{index}`. A missing link-local address becomes the EUI-64
    /// address of `mac` (RFC 4291 Appendix A).
    pub fn port_settings(&self, index: usize, mac: [u8; 6]) -> PortSettings {
        match self.ports.get(index) {
            Some(port) => PortSettings {
                name: port.name.clone(),
                mtu: port.mtu,
                link_local: port.link_local.unwrap_or_else(|| eui64_link_local(mac)),
                mac,
                configured: true,
            },
            None => PortSettings {
                name: default_port_name(index),
                mtu: DEFAULT_MTU,
                link_local: eui64_link_local(mac),
                mac,
                configured: false,
            },
        }
    }

    /// The configured ports that have no NIC when the kernel found
    /// `nic_count` NICs (the kernel reports them).
    pub fn ports_without_nic(&self, nic_count: usize) -> &[PortConfig] {
        self.ports.get(nic_count..).unwrap_or(&[])
    }
}

impl Default for Config {
    /// The configuration of [`DEFAULT_CONFIG`]: no ports, default router name.
    fn default() -> Self {
        Config {
            router: RouterConfig {
                name: DEFAULT_ROUTER_NAME.to_owned(),
            },
            ports: Vec::new(),
        }
    }
}

/// The name a NIC's port gets when no `[[port]]` describes it.
pub fn default_port_name(index: usize) -> String {
    format!("port{index}")
}

/// The link-local address fe80::/64 with the modified EUI-64 interface
/// identifier of `mac`: `ff:fe` inserted in the middle and the
/// universal/local bit (0x02 of the first octet) inverted
/// (RFC 4291 §2.5.6 and Appendix A, RFC 2464 §4).
pub fn eui64_link_local(mac: [u8; 6]) -> Ipv6Addr {
    let mut octets = [0u8; 16];
    octets[0] = 0xfe;
    octets[1] = 0x80;
    octets[8] = mac[0] ^ 0x02;
    octets[9] = mac[1];
    octets[10] = mac[2];
    octets[11] = 0xff;
    octets[12] = 0xfe;
    octets[13] = mac[3];
    octets[14] = mac[4];
    octets[15] = mac[5];
    Ipv6Addr::from(octets)
}

impl ConfigError {
    /// An error at byte offset `offset` of `text`, with newlines in
    /// `message` folded so that it stays on one line.
    fn at(text: &str, offset: usize, message: &str) -> ConfigError {
        let (line, column) = line_and_column(text, offset);
        let message = message
            .trim()
            .lines()
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .collect::<Vec<_>>()
            .join("; ");
        ConfigError {
            line,
            column,
            message,
        }
    }

    fn at_span(text: &str, span: Range<usize>, message: String) -> ConfigError {
        ConfigError::at(text, span.start, &message)
    }
}

/// The 1-based line and column (counted in characters) of byte `offset` in `text`.
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// The file as deserialized, before validation.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigDocument {
    #[serde(default)]
    router: Option<RouterTable>,
    #[serde(default, rename = "port")]
    ports: Vec<PortTable>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RouterTable {
    #[serde(default)]
    name: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PortTable {
    name: Spanned<String>,
    #[serde(default)]
    mtu: Option<Spanned<i64>>,
    #[serde(default)]
    link_local: Option<Spanned<String>>,
}

impl ConfigDocument {
    fn validate(self, text: &str) -> Result<Config, ConfigError> {
        let router_name = match self.router.and_then(|router| router.name) {
            Some(name) => {
                validate_router_name(name.get_ref())
                    .map_err(|message| ConfigError::at_span(text, name.span(), message))?;
                name.into_inner()
            }
            None => DEFAULT_ROUTER_NAME.to_owned(),
        };

        let mut ports: Vec<PortConfig> = Vec::with_capacity(self.ports.len());
        for (index, port) in self.ports.into_iter().enumerate() {
            let name_span = port.name.span();
            if index == MAX_PORTS {
                return Err(ConfigError::at_span(
                    text,
                    name_span,
                    format!("too many ports: a router drives at most {MAX_PORTS}"),
                ));
            }
            validate_port_name(index, port.name.get_ref())
                .map_err(|message| ConfigError::at_span(text, name_span.clone(), message))?;
            if let Some(earlier) = ports
                .iter()
                .position(|earlier| earlier.name == *port.name.get_ref())
            {
                return Err(ConfigError::at_span(
                    text,
                    name_span,
                    format!(
                        "duplicate port name `{}` (already used by port {earlier})",
                        port.name.get_ref()
                    ),
                ));
            }

            let mtu = match port.mtu {
                Some(mtu) => {
                    let value = *mtu.get_ref();
                    if !(i64::from(MINIMUM_MTU)..=i64::from(MAXIMUM_MTU)).contains(&value) {
                        return Err(ConfigError::at_span(
                            text,
                            mtu.span(),
                            format!(
                                "mtu {value} is out of range {MINIMUM_MTU}..={MAXIMUM_MTU} \
                                 (IPv6 needs at least {MINIMUM_MTU}, RFC 8200 §5)"
                            ),
                        ));
                    }
                    // In range, so it fits.
                    u16::try_from(value).unwrap_or(DEFAULT_MTU)
                }
                None => DEFAULT_MTU,
            };

            let link_local = match port.link_local {
                Some(address) => Some(
                    parse_link_local(address.get_ref())
                        .map_err(|message| ConfigError::at_span(text, address.span(), message))?,
                ),
                None => None,
            };

            ports.push(PortConfig {
                name: port.name.into_inner(),
                mtu,
                link_local,
            });
        }

        Ok(Config {
            router: RouterConfig { name: router_name },
            ports,
        })
    }
}

fn validate_router_name(name: &str) -> Result<(), String> {
    let length = name.chars().count();
    if length == 0 || length > MAXIMUM_ROUTER_NAME_LENGTH {
        return Err(format!(
            "router name must be 1..={MAXIMUM_ROUTER_NAME_LENGTH} characters, not {length}"
        ));
    }
    if !name
        .bytes()
        .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
    {
        return Err(format!(
            "router name `{name}` may contain only letters, digits and `-`"
        ));
    }
    Ok(())
}

fn validate_port_name(index: usize, name: &str) -> Result<(), String> {
    let length = name.chars().count();
    if length == 0 || length > MAXIMUM_PORT_NAME_LENGTH {
        return Err(format!(
            "port name must be 1..={MAXIMUM_PORT_NAME_LENGTH} characters, not {length}"
        ));
    }
    if !name
        .bytes()
        .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-')
    {
        return Err(format!(
            "port name `{name}` may contain only a-z, 0-9 and `-`"
        ));
    }
    // `port<N>` names the NIC at index N when it has no [[port]] table; a
    // configured port may use that form only for its own index, so the
    // names of default ports never collide with configured ones.
    if let Some(digits) = name.strip_prefix("port")
        && !digits.is_empty()
        && digits.bytes().all(|byte| byte.is_ascii_digit())
        && *name != default_port_name(index)
    {
        return Err(format!(
            "port name `{name}` is reserved for the NIC it numbers; \
             this is port {index}, so use `port{index}` or another name"
        ));
    }
    Ok(())
}

fn parse_link_local(text: &str) -> Result<Ipv6Addr, String> {
    let address: Ipv6Addr = text
        .parse()
        .map_err(|_| format!("link_local `{text}` is not an IPv6 address"))?;
    if address.segments()[0] & 0xffc0 != 0xfe80 {
        return Err(format!(
            "link_local {address} is not in fe80::/10 (RFC 4291 §2.5.6)"
        ));
    }
    if address.segments()[4..] == [0, 0, 0, 0] {
        return Err(format!(
            "link_local {address} has an all-zero interface identifier, which is \
             the Subnet-Router anycast address (RFC 4291 §2.6.1)"
        ));
    }
    Ok(address)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    fn error_of(text: &str) -> ConfigError {
        match parse(text) {
            Ok(config) => panic!("expected an error, parsed {config:?}"),
            Err(error) => error,
        }
    }

    #[track_caller]
    fn assert_error(text: &str, line: usize, column: usize, needle: &str) {
        let error = error_of(text);
        assert_eq!(
            (error.line, error.column),
            (line, column),
            "wrong position for {error}"
        );
        assert!(
            error.message.contains(needle),
            "message `{}` lacks `{needle}`",
            error.message
        );
        assert!(!error.message.contains('\n'));
    }

    #[test]
    fn default_config_parses_to_default() {
        assert_eq!(parse(DEFAULT_CONFIG).unwrap(), Config::default());
    }

    #[test]
    fn empty_file_is_default() {
        assert_eq!(parse("").unwrap(), Config::default());
    }

    #[test]
    fn full_config() {
        let config = parse(
            "[router]\nname = \"edge-1\"\n\n[[port]]\nname = \"lan0\"\nmtu = 9000\n\
             link_local = \"fe80::1\"\n\n[[port]]\nname = \"wan0\"\n",
        )
        .unwrap();
        assert_eq!(config.router.name, "edge-1");
        assert_eq!(
            config.ports,
            [
                PortConfig {
                    name: "lan0".into(),
                    mtu: 9000,
                    link_local: Some("fe80::1".parse().unwrap()),
                },
                PortConfig {
                    name: "wan0".into(),
                    mtu: 1500,
                    link_local: None,
                },
            ]
        );
    }

    #[test]
    fn example_file_parses() {
        let config = parse(include_str!("../../qemu/example.toml")).unwrap();
        assert!(!config.ports.is_empty());
    }

    #[test]
    fn eui64_from_mac() {
        // RFC 4291 Appendix A: 34-56-78-9A-BC-DE -> 3656:78ff:fe9a:bcde.
        assert_eq!(
            eui64_link_local([0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde]),
            "fe80::3656:78ff:fe9a:bcde".parse::<Ipv6Addr>().unwrap()
        );
        // QEMU's default MAC: the universal/local bit is inverted to 1.
        assert_eq!(
            eui64_link_local([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]),
            "fe80::5054:ff:fe12:3456".parse::<Ipv6Addr>().unwrap()
        );
    }

    #[test]
    fn port_settings_configured_and_default() {
        let config = parse("[[port]]\nname = \"lan0\"\nlink_local = \"fe80::1\"\n").unwrap();
        let mac = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
        let first = config.port_settings(0, mac);
        assert_eq!(first.name, "lan0");
        assert_eq!(first.link_local, "fe80::1".parse::<Ipv6Addr>().unwrap());
        assert!(first.configured);
        let second = config.port_settings(1, mac);
        assert_eq!(second.name, "port1");
        assert_eq!(second.mtu, DEFAULT_MTU);
        assert_eq!(second.link_local, eui64_link_local(mac));
        assert!(!second.configured);
        assert_eq!(config.ports_without_nic(0).len(), 1);
        assert!(config.ports_without_nic(1).is_empty());
        assert!(config.ports_without_nic(5).is_empty());
    }

    #[test]
    fn display_format() {
        let error = ConfigError {
            line: 3,
            column: 7,
            message: "bad".into(),
        };
        assert_eq!(error.to_string(), "line 3, column 7: bad");
    }

    #[test]
    fn line_and_column_count_characters() {
        let text = "a\nbé=c\n";
        assert_eq!(line_and_column(text, 0), (1, 1));
        assert_eq!(line_and_column(text, 2), (2, 1));
        assert_eq!(line_and_column(text, 5), (2, 3)); // after the 2-byte é
        assert_eq!(line_and_column(text, 4), (2, 2)); // inside é: rounds down
        assert_eq!(line_and_column(text, 100), (3, 1));
    }

    // Syntax errors.

    #[test]
    fn syntax_error_unterminated_string() {
        assert_error("[router]\nname = \"pure6\n", 2, 14, "invalid basic string");
    }

    #[test]
    fn syntax_error_bad_table_header() {
        assert_error("[router\nname = \"x\"\n", 1, 8, "unclosed table");
    }

    #[test]
    fn syntax_error_duplicate_key() {
        assert_error(
            "[router]\nname = \"a\"\nname = \"b\"\n",
            3,
            1,
            "duplicate key",
        );
    }

    // Unknown keys.

    #[test]
    fn unknown_top_level_key() {
        assert_error("[router]\n\n[routes]\n", 3, 2, "unknown field `routes`");
    }

    #[test]
    fn unknown_router_key() {
        assert_error(
            "[router]\nname = \"a\"\n  hostname = \"b\"\n",
            3,
            3,
            "unknown field `hostname`",
        );
    }

    #[test]
    fn unknown_port_key() {
        assert_error(
            "[[port]]\nname = \"lan0\"\nspeed = 10\n",
            3,
            1,
            "unknown field `speed`",
        );
    }

    // Wrong types.

    #[test]
    fn mtu_wrong_type() {
        assert_error(
            "[[port]]\nname = \"lan0\"\nmtu = \"1500\"\n",
            3,
            7,
            "invalid type",
        );
    }

    #[test]
    fn name_wrong_type() {
        assert_error("[[port]]\nname = 7\n", 2, 8, "invalid type");
    }

    #[test]
    fn port_not_an_array_of_tables() {
        assert_error("port = 3\n", 1, 8, "expected a sequence");
    }

    #[test]
    fn missing_port_name() {
        // The span is the [[port]] table that lacks the key.
        assert_error("[[port]]\nmtu = 1500\n", 1, 1, "missing field `name`");
    }

    // Semantic errors.

    #[test]
    fn mtu_too_small() {
        assert_error(
            "[[port]]\nname = \"lan0\"\nmtu = 1279\n",
            3,
            7,
            "mtu 1279 is out of range 1280..=9000",
        );
    }

    #[test]
    fn mtu_too_large_and_negative() {
        assert_error(
            "[[port]]\nname = \"lan0\"\nmtu = 9001\n",
            3,
            7,
            "out of range",
        );
        assert_error(
            "[[port]]\nname = \"lan0\"\nmtu = -1\n",
            3,
            7,
            "out of range",
        );
    }

    #[test]
    fn link_local_not_link_local() {
        assert_error(
            "[[port]]\nname = \"lan0\"\nlink_local = \"2001:db8::1\"\n",
            3,
            14,
            "not in fe80::/10",
        );
    }

    #[test]
    fn link_local_not_an_address() {
        assert_error(
            "[[port]]\nname = \"lan0\"\nlink_local = \"fe80::zz\"\n",
            3,
            14,
            "is not an IPv6 address",
        );
    }

    #[test]
    fn link_local_subnet_router_anycast() {
        assert_error(
            "[[port]]\nname = \"lan0\"\nlink_local = \"fe80::\"\n",
            3,
            14,
            "Subnet-Router anycast",
        );
    }

    #[test]
    fn link_local_upper_fe80_slash_10_accepted() {
        let config = parse("[[port]]\nname = \"lan0\"\nlink_local = \"febf::1\"\n").unwrap();
        assert_eq!(config.ports[0].link_local, Some("febf::1".parse().unwrap()));
    }

    #[test]
    fn duplicate_port_name() {
        assert_error(
            "[[port]]\nname = \"lan0\"\n\n[[port]]\nname = \"lan0\"\n",
            5,
            8,
            "duplicate port name `lan0`",
        );
    }

    #[test]
    fn port_name_bad_characters() {
        assert_error("[[port]]\nname = \"Lan0\"\n", 2, 8, "only a-z, 0-9");
        assert_error("[[port]]\nname = \"lan 0\"\n", 2, 8, "only a-z, 0-9");
    }

    #[test]
    fn port_name_length() {
        assert_error("[[port]]\nname = \"\"\n", 2, 8, "1..=15 characters, not 0");
        assert_error("[[port]]\nname = \"abcdefghijklmnop\"\n", 2, 8, "not 16");
        assert!(parse("[[port]]\nname = \"abcdefghijklmno\"\n").is_ok());
    }

    #[test]
    fn port_name_reserved_for_other_index() {
        assert_error(
            "[[port]]\nname = \"port1\"\n",
            2,
            8,
            "reserved for the NIC it numbers",
        );
        assert!(parse("[[port]]\nname = \"port0\"\n").is_ok());
        assert!(parse("[[port]]\nname = \"portal\"\n").is_ok());
    }

    #[test]
    fn too_many_ports() {
        let mut text = alloc::string::String::new();
        for index in 0..=MAX_PORTS {
            text.push_str(&format!("[[port]]\nname = \"lan{index}\"\n"));
        }
        assert_error(
            &text,
            2 * MAX_PORTS + 2,
            8,
            "too many ports: a router drives at most 8",
        );
        let eight = text
            .lines()
            .take(2 * MAX_PORTS)
            .collect::<Vec<_>>()
            .join("\n");
        assert_eq!(parse(&eight).unwrap().ports.len(), MAX_PORTS);
    }

    #[test]
    fn router_name_invalid() {
        assert_error("[router]\nname = \"\"\n", 2, 8, "1..=63");
        assert_error("[router]\nname = \"a_b\"\n", 2, 8, "letters, digits");
    }

    #[test]
    fn error_column_counts_characters_after_non_ascii() {
        // A comment with multi-byte characters before the error on the same line
        // is not possible in TOML, so put them in a string on the line.
        assert_error(
            "[[port]]\nname = \"lan0\"\nlink_local = \"fé80::1\"\n",
            3,
            14,
            "not an IPv6 address",
        );
    }
}
