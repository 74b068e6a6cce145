//! RFC 6052 address mapping: IPv4 addresses embedded in IPv6 under the translation prefix `pool6`.
//!
//! An IPv4-embedded IPv6 address (RFC 6052 §2.2, Figure 1) is a prefix of
//! 32, 40, 48, 56, 64 or 96 bits, the 32 IPv4 bits, and a suffix. Bits 64
//! to 71, the "u" octet, are always zero and never hold IPv4 bits: for
//! prefixes shorter than 96 bits the IPv4 address is split around them.
//! Bit 0 is the most significant bit of the address.
//!
//! | prefix | IPv4 bits 0..k at | the rest at | suffix  |
//! |--------|-------------------|-------------|---------|
//! | /32    | 32..64 (all 32)   | -           | 72..128 |
//! | /40    | 40..64 (24 bits)  | 72..80      | 80..128 |
//! | /48    | 48..64 (16 bits)  | 72..88      | 88..128 |
//! | /56    | 56..64 (8 bits)   | 72..96      | 96..128 |
//! | /64    | -                 | 72..104     | 104..128|
//! | /96    | 96..128 (all 32)  | -           | none    |
//!
//! The algorithms are those of RFC 6052 §2.3: for a prefix shorter than 96
//! bits, write prefix and IPv4 address as one 120-bit sequence and insert
//! the zero u octet at bit 64; to extract, delete bits 64..71 and read the
//! 32 bits after the prefix. Suffix bits are written as zero and ignored
//! when read (§2.2: "SHOULD ignore the bits' value").
//!
//! The well-known prefix `64:ff9b::/96` (§2.1) must not represent
//! non-global IPv4 addresses (§3.1); [`is_allowed_under_well_known_prefix`]
//! decides that from the RFC 6890 special-purpose registry
//! ([`NON_GLOBAL_BLOCKS`]).

use core::fmt;
use core::net::Ipv4Addr;
use core::str::FromStr;

use smoltcp::wire::{Ipv6Address, Ipv6Cidr};

/// The prefix lengths RFC 6052 §2.2 allows for a translation prefix.
pub const ALLOWED_PREFIX_LENGTHS: [u8; 6] = [32, 40, 48, 56, 64, 96];

/// Bits 64..71 of an address (bit 0 = most significant), the "u" octet
/// that RFC 6052 §2.2 reserves and requires to be zero.
const U_OCTET_MASK: u128 = 0xff << 56;

/// The bits of an address below bit 64 (bits 64..127).
const LOW_HALF_MASK: u128 = u128::MAX >> 64;

/// The mask of the first `length` bits of an address.
const fn prefix_mask(length: u8) -> u128 {
    if length == 0 {
        0
    } else {
        u128::MAX << (128 - length as u32)
    }
}

/// A translation prefix (`pool6`): an IPv6 prefix valid for RFC 6052
/// IPv4-embedded addresses.
///
/// Validated on construction ([`TranslationPrefix::new`]): the length is one
/// of [`ALLOWED_PREFIX_LENGTHS`], the u octet (bits 64..71) is zero (for a
/// /96 it lies inside the prefix, and §2.2 says "the administrators MUST
/// ensure that the bits 64 to 71 are set to zero"), and no bit after the
/// prefix length is set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TranslationPrefix {
    /// The prefix bits; everything after `length` is zero.
    bits: u128,
    /// One of [`ALLOWED_PREFIX_LENGTHS`].
    length: u8,
}

/// Why an IPv6 prefix cannot be a [`TranslationPrefix`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TranslationPrefixError {
    /// The length is not 32, 40, 48, 56, 64 or 96 (RFC 6052 §2.2).
    Length(u8),
    /// Bits 64..71 of the prefix are not zero (RFC 6052 §2.2).
    UOctetNotZero,
    /// A bit after the prefix length is set (e.g. `2001:db8::1/96`).
    HostBitsSet,
    /// The text is not `ADDRESS/LENGTH` (only from [`FromStr`]).
    Syntax,
}

impl fmt::Display for TranslationPrefixError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TranslationPrefixError::Length(length) => write!(
                formatter,
                "translation prefix length /{length} is not one of /32, /40, /48, /56, /64, /96 (RFC 6052 §2.2)"
            ),
            TranslationPrefixError::UOctetNotZero => formatter.write_str(
                "bits 64 to 71 (the u octet) of a translation prefix must be zero (RFC 6052 §2.2)",
            ),
            TranslationPrefixError::HostBitsSet => {
                formatter.write_str("translation prefix has bits set after its length")
            }
            TranslationPrefixError::Syntax => {
                formatter.write_str("translation prefix must be written ADDRESS/LENGTH")
            }
        }
    }
}

impl core::error::Error for TranslationPrefixError {}

/// Why an IPv6 address yields no IPv4 address under a [`TranslationPrefix`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExtractError {
    /// The address does not start with the translation prefix.
    NotUnderPrefix,
    /// The u octet (bits 64..71) is not zero, so this is not an
    /// IPv4-embedded address (RFC 6052 §2.2 "MUST be set to zero"; the RFC
    /// does not say what a receiver does, refusing is our reading).
    UOctetNotZero,
}

impl TranslationPrefix {
    /// The well-known prefix `64:ff9b::/96` (RFC 6052 §2.1).
    pub const WELL_KNOWN: TranslationPrefix = TranslationPrefix {
        bits: 0x0064_ff9b << 96,
        length: 96,
    };

    /// A translation prefix, if `prefix` is valid as one (see the type).
    pub fn new(prefix: Ipv6Cidr) -> Result<TranslationPrefix, TranslationPrefixError> {
        let length = prefix.prefix_len();
        if !ALLOWED_PREFIX_LENGTHS.contains(&length) {
            return Err(TranslationPrefixError::Length(length));
        }
        let bits = prefix.address().to_bits();
        if bits & U_OCTET_MASK != 0 {
            return Err(TranslationPrefixError::UOctetNotZero);
        }
        if bits & !prefix_mask(length) != 0 {
            return Err(TranslationPrefixError::HostBitsSet);
        }
        Ok(TranslationPrefix { bits, length })
    }

    /// The prefix as an IPv6 CIDR.
    pub fn cidr(&self) -> Ipv6Cidr {
        Ipv6Cidr::new(Ipv6Address::from_bits(self.bits), self.length)
    }

    /// The prefix length: one of [`ALLOWED_PREFIX_LENGTHS`].
    pub fn length(&self) -> u8 {
        self.length
    }

    /// Whether this is the well-known prefix `64:ff9b::/96`, under which
    /// only global IPv4 addresses may appear (RFC 6052 §3.1).
    pub fn is_well_known(&self) -> bool {
        *self == TranslationPrefix::WELL_KNOWN
    }

    /// Whether `address` starts with this prefix.
    #[inline]
    pub fn contains(&self, address: Ipv6Address) -> bool {
        // A /96 (the usual pool6) without a 128-bit shift by a variable.
        if self.length == 96 {
            return address.to_bits() >> 32 == self.bits >> 32;
        }
        address.to_bits() & prefix_mask(self.length) == self.bits
    }

    /// The IPv4-embedded IPv6 address of `ipv4` (RFC 6052 §2.3), with a
    /// zero suffix.
    #[inline]
    pub fn embed(&self, ipv4: Ipv4Addr) -> Ipv6Address {
        Ipv6Address::from_bits(self.embed_bits(ipv4.to_bits()))
    }

    /// [`TranslationPrefix::embed`] on bits.
    #[inline]
    fn embed_bits(&self, ipv4: u32) -> u128 {
        let ipv4 = u128::from(ipv4);
        if self.length == 96 {
            return self.bits | ipv4;
        }
        // The 120-bit sequence prefix ‖ IPv4 ‖ suffix, left-aligned; then
        // the u octet is inserted at bit 64, shifting bits 64.. right by 8.
        let sequence = self.bits | (ipv4 << (96 - u32::from(self.length)));
        (sequence & !LOW_HALF_MASK) | ((sequence & LOW_HALF_MASK) >> 8)
    }

    /// The IPv4 address embedded in `address` (RFC 6052 §2.3). Suffix bits
    /// are ignored (§2.2); the u octet must be zero.
    #[inline]
    pub fn extract(&self, address: Ipv6Address) -> Result<Ipv4Addr, ExtractError> {
        let bits = address.to_bits();
        if !self.contains(address) {
            return Err(ExtractError::NotUnderPrefix);
        }
        if self.length == 96 {
            return Ok(Ipv4Addr::from_bits(bits as u32));
        }
        if bits & U_OCTET_MASK != 0 {
            return Err(ExtractError::UOctetNotZero);
        }
        // Delete the u octet: bits 72..127 move to 64..119.
        let sequence = (bits & !LOW_HALF_MASK) | ((bits & (LOW_HALF_MASK >> 8)) << 8);
        Ok(Ipv4Addr::from_bits(
            (sequence >> (96 - u32::from(self.length))) as u32,
        ))
    }

    /// The IPv6 prefix length that covers exactly the first `ipv4_length`
    /// bits of an embedded IPv4 address: where the last of those bits lands
    /// in Figure 1 of RFC 6052, plus one.
    ///
    /// For a /96 that is `96 + ipv4_length`. For shorter prefixes the
    /// IPv4 bits before bit 64 count one for one and the u octet adds 8 as
    /// soon as an IPv4 bit lies after it: `length + ipv4_length` while that
    /// is at most 64, otherwise `length + ipv4_length + 8`. An IPv4 /0 is
    /// the translation prefix itself. Lengths above 32 are treated as 32.
    #[inline]
    pub fn mapped_prefix_length(&self, ipv4_length: u8) -> u8 {
        let ipv4_length = ipv4_length.min(32);
        let end = self.length + ipv4_length;
        if self.length == 96 || end <= 64 {
            end
        } else {
            end + 8
        }
    }

    /// The IPv6 prefix of the IPv4 prefix `network/ipv4_length` under this
    /// translation prefix: the embedded network address with the length of
    /// [`TranslationPrefix::mapped_prefix_length`]. Host bits of `network`
    /// beyond `ipv4_length` are masked off.
    #[inline]
    pub fn embed_prefix(&self, network: Ipv4Addr, ipv4_length: u8) -> Ipv6Cidr {
        let ipv4_length = ipv4_length.min(32);
        let mask = if ipv4_length == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(ipv4_length))
        };
        let bits = self.embed_bits(network.to_bits() & mask);
        Ipv6Cidr::new(
            Ipv6Address::from_bits(bits),
            self.mapped_prefix_length(ipv4_length),
        )
    }
}

impl fmt::Display for TranslationPrefix {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.cidr(), formatter)
    }
}

impl FromStr for TranslationPrefix {
    type Err = TranslationPrefixError;

    /// Parses `ADDRESS/LENGTH`, e.g. `64:ff9b::/96`, and validates it.
    fn from_str(text: &str) -> Result<TranslationPrefix, TranslationPrefixError> {
        let (address, length) = text.split_once('/').ok_or(TranslationPrefixError::Syntax)?;
        let address: Ipv6Address = address
            .parse()
            .map_err(|_| TranslationPrefixError::Syntax)?;
        let length: u8 = length.parse().map_err(|_| TranslationPrefixError::Syntax)?;
        if length > 128 {
            return Err(TranslationPrefixError::Length(length));
        }
        TranslationPrefix::new(Ipv6Cidr::new(address, length))
    }
}

/// One entry of the IANA IPv4 Special-Purpose Address Registry (RFC 6890
/// §2.2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpecialPurposeBlock {
    /// The block's network address.
    pub network: Ipv4Addr,
    /// The block's prefix length.
    pub length: u8,
    /// The registry's name for the block.
    pub name: &'static str,
}

impl SpecialPurposeBlock {
    const fn new(network: [u8; 4], length: u8, name: &'static str) -> SpecialPurposeBlock {
        SpecialPurposeBlock {
            network: Ipv4Addr::new(network[0], network[1], network[2], network[3]),
            length,
            name,
        }
    }

    fn mask(&self) -> u32 {
        if self.length == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(self.length))
        }
    }

    /// Whether `address` lies in this block.
    pub fn contains(&self, address: Ipv4Addr) -> bool {
        address.to_bits() & self.mask() == self.network.to_bits()
    }

    /// Whether the whole prefix `network/length` lies in this block.
    pub fn contains_prefix(&self, network: Ipv4Addr, length: u8) -> bool {
        length >= self.length && self.contains(network)
    }
}

/// The RFC 6890 §2.2.2 special-purpose IPv4 blocks whose "Global" entry is
/// False: RFC 6052 §3.1's "non-global IPv4 addresses" (it names RFC 1918 and
/// RFC 5735 §3, which RFC 6890 obsoletes and includes).
///
/// Exactly RFC 6890 Tables 1-9 and 11-16. Left out on purpose:
/// - 192.88.99.0/24, 6to4 Relay Anycast (Table 10): Global is True there;
/// - 224.0.0.0/4, multicast: not in the special-purpose registry (RFC 5735
///   §3 listed it; RFC 6890 does not), and not a unicast route;
/// - later registry changes (e.g. 192.0.0.9/32 and 192.0.0.10/32, made
///   global by RFC 7723 and RFC 8155): RFC 6890 as published is the
///   reference; both are inside 192.0.0.0/24 and stay non-global here.
pub const NON_GLOBAL_BLOCKS: [SpecialPurposeBlock; 15] = [
    SpecialPurposeBlock::new([0, 0, 0, 0], 8, "This host on this network"),
    SpecialPurposeBlock::new([10, 0, 0, 0], 8, "Private-Use"),
    SpecialPurposeBlock::new([100, 64, 0, 0], 10, "Shared Address Space"),
    SpecialPurposeBlock::new([127, 0, 0, 0], 8, "Loopback"),
    SpecialPurposeBlock::new([169, 254, 0, 0], 16, "Link Local"),
    SpecialPurposeBlock::new([172, 16, 0, 0], 12, "Private-Use"),
    SpecialPurposeBlock::new([192, 0, 0, 0], 29, "DS-Lite"),
    SpecialPurposeBlock::new([192, 0, 0, 0], 24, "IETF Protocol Assignments"),
    SpecialPurposeBlock::new([192, 0, 2, 0], 24, "Documentation (TEST-NET-1)"),
    SpecialPurposeBlock::new([192, 168, 0, 0], 16, "Private-Use"),
    SpecialPurposeBlock::new([198, 18, 0, 0], 15, "Benchmarking"),
    SpecialPurposeBlock::new([198, 51, 100, 0], 24, "Documentation (TEST-NET-2)"),
    SpecialPurposeBlock::new([203, 0, 113, 0], 24, "Documentation (TEST-NET-3)"),
    SpecialPurposeBlock::new([240, 0, 0, 0], 4, "Reserved"),
    SpecialPurposeBlock::new([255, 255, 255, 255], 32, "Limited Broadcast"),
];

/// The non-global special-purpose block `ipv4` lies in, if any
/// ([`NON_GLOBAL_BLOCKS`]).
pub fn non_global_block(ipv4: Ipv4Addr) -> Option<&'static SpecialPurposeBlock> {
    NON_GLOBAL_BLOCKS.iter().find(|block| block.contains(ipv4))
}

/// Whether `ipv4` may be represented under the well-known prefix
/// `64:ff9b::/96`: RFC 6052 §3.1 forbids non-global addresses there (and a
/// translator MUST drop packets that carry them). Non-global means inside
/// one of [`NON_GLOBAL_BLOCKS`] (RFC 6890).
pub fn is_allowed_under_well_known_prefix(ipv4: Ipv4Addr) -> bool {
    non_global_block(ipv4).is_none()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    fn prefix(text: &str) -> TranslationPrefix {
        text.parse().expect("valid translation prefix")
    }

    fn address(text: &str) -> Ipv6Address {
        text.parse().expect("IPv6 address")
    }

    const EXAMPLE_IPV4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 33);

    /// RFC 6052 §2.4, Tables 1 and 2.
    const RFC6052_TABLES: [(&str, &str); 7] = [
        ("2001:db8::/32", "2001:db8:c000:221::"),
        ("2001:db8:100::/40", "2001:db8:1c0:2:21::"),
        ("2001:db8:122::/48", "2001:db8:122:c000:2:2100::"),
        ("2001:db8:122:300::/56", "2001:db8:122:3c0:0:221::"),
        ("2001:db8:122:344::/64", "2001:db8:122:344:c0:2:2100::"),
        ("2001:db8:122:344::/96", "2001:db8:122:344::192.0.2.33"),
        ("64:ff9b::/96", "64:ff9b::192.0.2.33"),
    ];

    #[test]
    fn rfc6052_section_2_4_examples_embed() {
        for (pool6, expected) in RFC6052_TABLES {
            assert_eq!(
                prefix(pool6).embed(EXAMPLE_IPV4),
                address(expected),
                "192.0.2.33 under {pool6}"
            );
        }
    }

    #[test]
    fn rfc6052_section_2_4_examples_extract() {
        for (pool6, embedded) in RFC6052_TABLES {
            assert_eq!(
                prefix(pool6).extract(address(embedded)),
                Ok(EXAMPLE_IPV4),
                "{embedded} under {pool6}"
            );
        }
    }

    /// RFC 7915 Appendix A: 198.51.100.2 under 2001:db8:100::/40.
    #[test]
    fn rfc7915_appendix_a_example() {
        let pool6 = prefix("2001:db8:100::/40");
        let embedded = address("2001:db8:1c6:3364:2::");
        assert_eq!(pool6.embed(Ipv4Addr::new(198, 51, 100, 2)), embedded);
        assert_eq!(pool6.extract(embedded), Ok(Ipv4Addr::new(198, 51, 100, 2)));
    }

    #[test]
    fn round_trip_every_length_and_edge_addresses() {
        let pools = [
            "2001:db8::/32",
            "2001:db8:100::/40",
            "2001:db8:122::/48",
            "2001:db8:122:300::/56",
            "2001:db8:122:344::/64",
            "2001:db8:122:344::/96",
        ];
        let addresses = [0, 1, 0x8000_0000, 0xffff_ffff, 0xc000_0221, 0x0102_0304];
        for pool6 in pools {
            let pool6 = prefix(pool6);
            for ipv4 in addresses {
                let ipv4 = Ipv4Addr::from_bits(ipv4);
                let embedded = pool6.embed(ipv4);
                assert!(pool6.contains(embedded));
                assert_eq!(
                    embedded.to_bits() & U_OCTET_MASK,
                    0,
                    "u octet of {embedded}"
                );
                assert_eq!(pool6.extract(embedded), Ok(ipv4), "{ipv4} under {pool6}");
            }
        }
    }

    #[test]
    fn suffix_bits_are_ignored_when_extracting() {
        // RFC 6052 §2.2: "SHOULD ignore the bits' value".
        let pool6 = prefix("2001:db8:122:344::/64");
        let with_suffix = address("2001:db8:122:344:c0:2:21ff:ffff");
        assert_eq!(pool6.extract(with_suffix), Ok(EXAMPLE_IPV4));
    }

    #[test]
    fn extract_refuses_other_prefixes_and_a_set_u_octet() {
        let pool6 = prefix("2001:db8:122:300::/56");
        assert_eq!(
            pool6.extract(address("2001:db8:122:4c0:0:221::")),
            Err(ExtractError::NotUnderPrefix)
        );
        assert_eq!(
            pool6.extract(address("2001:db8:122:3c0:100:221::")),
            Err(ExtractError::UOctetNotZero)
        );
        assert_eq!(
            TranslationPrefix::WELL_KNOWN.extract(address("64:ff9c::1")),
            Err(ExtractError::NotUnderPrefix)
        );
    }

    #[test]
    fn prefix_validation() {
        let cidr = |text: &str, length| Ipv6Cidr::new(address(text), length);
        for length in [0, 16, 33, 63, 65, 80, 95, 97, 128] {
            assert_eq!(
                TranslationPrefix::new(cidr("2001:db8::", length)),
                Err(TranslationPrefixError::Length(length))
            );
        }
        for length in ALLOWED_PREFIX_LENGTHS {
            assert!(TranslationPrefix::new(cidr("2001:db8::", length)).is_ok());
        }
        // §2.2: a /96 with a non-zero u octet.
        assert_eq!(
            TranslationPrefix::new(cidr("2001:db8:0:0:100::", 96)),
            Err(TranslationPrefixError::UOctetNotZero)
        );
        assert_eq!(
            TranslationPrefix::new(cidr("2001:db8:0:0:1::", 96)),
            Ok(prefix("2001:db8:0:0:1::/96"))
        );
        assert_eq!(
            TranslationPrefix::new(cidr("2001:db8::1", 96)),
            Err(TranslationPrefixError::HostBitsSet)
        );
        assert_eq!(
            TranslationPrefix::new(cidr("2001:db8:1::", 32)),
            Err(TranslationPrefixError::HostBitsSet)
        );
        assert_eq!(
            "2001:db8::".parse::<TranslationPrefix>(),
            Err(TranslationPrefixError::Syntax)
        );
        assert_eq!(
            "2001:db8::/129".parse::<TranslationPrefix>(),
            Err(TranslationPrefixError::Length(129))
        );
    }

    #[test]
    fn well_known_prefix() {
        assert_eq!(prefix("64:ff9b::/96"), TranslationPrefix::WELL_KNOWN);
        assert!(TranslationPrefix::WELL_KNOWN.is_well_known());
        assert!(!prefix("2001:db8:64::/96").is_well_known());
        assert_eq!(TranslationPrefix::WELL_KNOWN.to_string(), "64:ff9b::/96");
    }

    #[test]
    fn mapped_prefix_lengths_follow_figure_1() {
        // (pool6 length, IPv4 length, IPv6 length)
        let cases = [
            (32, 0, 32),
            (32, 24, 56),
            (32, 32, 64),
            (40, 24, 64),
            (40, 25, 73),
            (40, 32, 80),
            (48, 16, 64),
            (48, 17, 73),
            (56, 8, 64),
            (56, 9, 73),
            (56, 32, 96),
            (64, 0, 64),
            (64, 1, 73),
            (64, 32, 104),
            (96, 0, 96),
            (96, 24, 120),
            (96, 32, 128),
        ];
        for (pool6, ipv4, expected) in cases {
            let pool6 =
                TranslationPrefix::new(Ipv6Cidr::new(address("2001:db8::"), pool6)).unwrap();
            assert_eq!(
                pool6.mapped_prefix_length(ipv4),
                expected,
                "/{ipv4} under {pool6}"
            );
        }
    }

    #[test]
    fn well_known_prefix_rule_uses_rfc6890_blocks() {
        let refused = [
            [0, 0, 0, 0],
            [10, 1, 2, 3],
            [100, 64, 0, 1],
            [100, 127, 255, 255],
            [127, 0, 0, 1],
            [169, 254, 1, 1],
            [172, 31, 255, 255],
            [192, 0, 0, 9],
            [192, 0, 2, 33],
            [192, 168, 1, 1],
            [198, 19, 255, 255],
            [198, 51, 100, 1],
            [203, 0, 113, 7],
            [240, 0, 0, 1],
            [255, 255, 255, 255],
        ];
        for octets in refused {
            let ipv4 = Ipv4Addr::from(octets);
            assert!(!is_allowed_under_well_known_prefix(ipv4), "{ipv4}");
        }
        let allowed = [
            [1, 1, 1, 1],
            [8, 8, 8, 8],
            [100, 63, 255, 255],
            [100, 128, 0, 0],
            [172, 32, 0, 0],
            [192, 0, 3, 1],
            [192, 88, 99, 1],
            [198, 20, 0, 0],
            [223, 255, 255, 255],
            [224, 0, 0, 1],
            [239, 255, 255, 255],
        ];
        for octets in allowed {
            let ipv4 = Ipv4Addr::from(octets);
            assert!(is_allowed_under_well_known_prefix(ipv4), "{ipv4}");
        }
        assert_eq!(
            non_global_block(Ipv4Addr::new(192, 0, 0, 1)).map(|block| block.name),
            Some("DS-Lite")
        );
    }
}
