//! Allocation-free parsers for the route file's text forms: IPv6 addresses
//! (RFC 4291 §2.2, with `::` and a trailing dotted quad), dotted-decimal
//! IPv4 addresses and prefix lengths.
//!
//! They accept and refuse exactly what `core::net::Ipv6Addr`'s and
//! `Ipv4Addr`'s `FromStr` and `u8`'s `FromStr` do (the differential tests
//! below compare them on many valid, invalid and random strings), and are
//! written the same way: a recursive-descent reader over bytes that rewinds
//! when a part does not match. They only skip the generic machinery
//! (characters, closures, `Result`s), which costs much under emulation.
//!
//! The rules, as libcore has them:
//! - IPv4: four decimal parts separated by `.`, each 1..=3 digits, at most
//!   255, no leading zero unless the part is `0`;
//! - IPv6: up to eight groups of 1..=4 hex digits (either case, leading
//!   zeros allowed) separated by `:`; one `::` stands for one or more zero
//!   groups; the last two groups may be written as an IPv4 address, but
//!   not before a `::`;
//! - a prefix length: an optional `+`, then one or more decimal digits
//!   (leading zeros allowed) whose value fits a `u8`.

/// A cursor over the bytes of one token.
struct Reader<'text> {
    bytes: &'text [u8],
    position: usize,
    /// Whether the text has a `.`: without one no IPv4 form can match, so
    /// IPv6 groups do not try it first (most addresses; a failed try
    /// costs as much as reading the group).
    has_dot: bool,
}

impl Reader<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.position).copied()
    }

    fn is_empty(&self) -> bool {
        self.position >= self.bytes.len()
    }

    /// Consume `expected` if it is next.
    fn read_given(&mut self, expected: u8) -> bool {
        if self.peek() == Some(expected) {
            self.position += 1;
            true
        } else {
            false
        }
    }

    /// A hex IPv6 group: 1..=4 hex digits. Rewinds on failure.
    fn read_group(&mut self) -> Option<u16> {
        let start = self.position;
        let mut value: u32 = 0;
        let mut digits = 0;
        while let Some(byte) = self.peek() {
            let digit = match byte {
                b'0'..=b'9' => byte - b'0',
                b'a'..=b'f' => byte - b'a' + 10,
                b'A'..=b'F' => byte - b'A' + 10,
                _ => break,
            };
            self.position += 1;
            value = (value << 4) | u32::from(digit);
            digits += 1;
            if digits > 4 {
                self.position = start;
                return None;
            }
        }
        if digits == 0 {
            return None;
        }
        Some(value as u16)
    }

    /// A dotted-decimal IPv4 address: four decimal parts, each 1..=3
    /// digits, at most 255, no leading zero unless it is the only digit,
    /// separated by `.`. Rewinds on failure (the position moves only on
    /// success). One loop over a local position: a full table's IPv4
    /// prefixes took 280 instructions each with a reader call per part.
    fn read_ipv4(&mut self) -> Option<u32> {
        let bytes = self.bytes;
        let mut position = self.position;
        let mut address: u32 = 0;
        for index in 0..4 {
            if index > 0 {
                if bytes.get(position) != Some(&b'.') {
                    return None;
                }
                position += 1;
            }
            let start = position;
            let mut value: u32 = 0;
            // A fourth digit is read only to refuse the part.
            while position < bytes.len() && position - start < 4 {
                let digit = bytes[position].wrapping_sub(b'0');
                if digit > 9 {
                    break;
                }
                value = value * 10 + u32::from(digit);
                position += 1;
            }
            let digits = position - start;
            let leading_zero = digits > 1 && bytes.get(start) == Some(&b'0');
            if digits == 0 || digits > 3 || value > 255 || leading_zero {
                return None;
            }
            address = (address << 8) | value;
        }
        self.position = position;
        Some(address)
    }

    /// Up to `groups.len()` groups (the `index`th after the first preceded
    /// by `:`), the last two possibly as an IPv4 address: how many groups
    /// were read, and whether the IPv4 form ended them.
    fn read_groups(&mut self, groups: &mut [u16]) -> (usize, bool) {
        let limit = groups.len();
        for index in 0..limit {
            // Try a trailing IPv4 address; it needs two groups' room.
            if index + 1 < limit && self.has_dot {
                let start = self.position;
                if (index == 0 || self.read_given(b':'))
                    && let Some(ipv4) = self.read_ipv4()
                {
                    groups[index] = (ipv4 >> 16) as u16;
                    groups[index + 1] = ipv4 as u16;
                    return (index + 2, true);
                }
                self.position = start;
            }
            let start = self.position;
            let group = if index == 0 || self.read_given(b':') {
                self.read_group()
            } else {
                None
            };
            match group {
                Some(group) => groups[index] = group,
                None => {
                    self.position = start;
                    return (index, false);
                }
            }
        }
        (limit, false)
    }

    /// An IPv6 address in RFC 4291 §2.2 text form.
    fn read_ipv6(&mut self) -> Option<u128> {
        let mut head = [0u16; 8];
        let (head_size, head_ipv4) = self.read_groups(&mut head);
        if head_size < 8 {
            // The IPv4 form is last: it cannot come before `::`.
            if head_ipv4 || !self.read_given(b':') || !self.read_given(b':') {
                return None;
            }
            // `::` stands for at least one zero group.
            let mut tail = [0u16; 7];
            let limit = 8 - (head_size + 1);
            let (tail_size, _) = self.read_groups(&mut tail[..limit]);
            head[8 - tail_size..].copy_from_slice(&tail[..tail_size]);
        }
        Some(
            head.iter()
                .fold(0u128, |bits, group| (bits << 16) | u128::from(*group)),
        )
    }
}

/// The bits of an IPv6 address written as `text`, as
/// `text.parse::<core::net::Ipv6Addr>()` would give them.
pub(crate) fn parse_ipv6(text: &str) -> Option<u128> {
    let mut reader = Reader {
        bytes: text.as_bytes(),
        position: 0,
        has_dot: text.as_bytes().contains(&b'.'),
    };
    let bits = reader.read_ipv6()?;
    reader.is_empty().then_some(bits)
}

/// The bits of a dotted-decimal IPv4 address written as `text`, as
/// `text.parse::<core::net::Ipv4Addr>()` would give them.
#[cfg(any(feature = "legacy-ip", test))]
pub(crate) fn parse_ipv4(text: &str) -> Option<u32> {
    let mut reader = Reader {
        bytes: text.as_bytes(),
        position: 0,
        has_dot: true,
    };
    let bits = reader.read_ipv4()?;
    reader.is_empty().then_some(bits)
}

/// A dotted-decimal IPv4 prefix `network/length`, read in one pass: what
/// [`parse_ipv4`] and [`parse_length`] give for the text before and after
/// its first `/`, or `None` where either refuses its part.
#[cfg(any(feature = "legacy-ip", test))]
pub(crate) fn parse_ipv4_prefix(text: &str) -> Option<(u32, u8)> {
    let mut reader = Reader {
        bytes: text.as_bytes(),
        position: 0,
        has_dot: true,
    };
    let bits = reader.read_ipv4()?;
    if !reader.read_given(b'/') {
        return None;
    }
    let length = parse_length(text.get(reader.position..)?)?;
    Some((bits, length))
}

/// A prefix length written as `text`, as `text.parse::<u8>()` would give it.
pub(crate) fn parse_length(text: &str) -> Option<u8> {
    let bytes = text.as_bytes();
    let digits = match bytes {
        [b'+', rest @ ..] => rest,
        _ => bytes,
    };
    if digits.is_empty() {
        return None;
    }
    let mut value: u32 = 0;
    for byte in digits {
        if !byte.is_ascii_digit() {
            return None;
        }
        value = value * 10 + u32::from(byte - b'0');
        if value > u32::from(u8::MAX) {
            return None;
        }
    }
    Some(value as u8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::string::String;
    use alloc::vec::Vec;
    use core::net::{Ipv4Addr, Ipv6Addr};

    /// Checks one string against libcore, all three parsers.
    fn check(text: &str) {
        assert_eq!(
            parse_ipv6(text),
            text.parse::<Ipv6Addr>().ok().map(Ipv6Addr::to_bits),
            "IPv6 {text:?}"
        );
        assert_eq!(
            parse_ipv4(text),
            text.parse::<Ipv4Addr>().ok().map(Ipv4Addr::to_bits),
            "IPv4 {text:?}"
        );
        assert_eq!(parse_length(text), text.parse::<u8>().ok(), "u8 {text:?}");
    }

    const HAND_WRITTEN: &[&str] = &[
        "",
        ":",
        "::",
        ":::",
        "::::",
        "0",
        "00",
        "000",
        "0000",
        "00000",
        "1",
        "+",
        "+0",
        "+1",
        "++1",
        "-0",
        "-1",
        " 1",
        "1 ",
        "255",
        "256",
        "0255",
        "000255",
        "99999",
        "+255",
        "+256",
        "128",
        "129",
        "32",
        "33",
        "1.2.3.4",
        "0.0.0.0",
        "255.255.255.255",
        "256.0.0.0",
        "1.2.3.04",
        "01.2.3.4",
        "1.2.3",
        "1.2.3.4.",
        ".1.2.3.4",
        "1.2.3.4.5",
        "1..3.4",
        "1.2.3.4 ",
        "1.2.3.1000",
        "1.2.3.0000",
        "1.2.3.00",
        "1.2.3.+4",
        "1.2.3.-4",
        "a.b.c.d",
        "192.0.2.1",
        "198.51.100.0",
        "::1",
        "1::",
        "1::2",
        "::ffff:1.2.3.4",
        "::1.2.3.4",
        "1.2.3.4::",
        "::1.2.3.4:1",
        "1:2:3:4:5:6:1.2.3.4",
        "1:2:3:4:5:6:7:1.2.3.4",
        "1:2:3:4:5::1.2.3.4",
        "1:2:3:4:5:6::1.2.3.4",
        "1:2:3:4:5:6:7::",
        "1:2:3:4:5:6:7:8",
        "1:2:3:4:5:6:7:8:9",
        "1:2:3:4:5:6:7:8::",
        "::1:2:3:4:5:6:7",
        "::1:2:3:4:5:6:7:8",
        "1::2::3",
        "1:::2",
        ":1::2",
        "1::2:",
        "1:2:3:4:5:6:7",
        "12345::",
        "0000::",
        "00000::",
        "fFfF::AbCd",
        "g::",
        "2001:db8::",
        "2001:db8::1",
        "2001:db8:2::2",
        "fe80::1",
        "64:ff9b::c000:201",
        "64:ff9b::192.0.2.1",
        "2001:DB8::1",
        "2001:db8::/32",
        "::ffff:1.2.3",
        "::ffff:1.2.3.256",
        "::ffff:01.2.3.4",
        "1:2:3:4:5:6:7:1.2.3.4.5",
        "[::1]",
        "::1%eth0",
        "1:2:3:4:5:6:1.2.3.4:5",
        "a:b:c:d:e:f:1.2.3.4",
        "::0.0.0.0",
        "1::1.2.3.4",
        "1:2::1.2.3.4",
        "1:2:3:4:5:6:7:1.2",
        "::1.2",
        "1.2::",
        "é",
        "1.2.3.é",
        "::é",
        "１.2.3.4",
        "2001:db8::１",
    ];

    #[test]
    fn hand_written_strings_parse_as_libcore_parses_them() {
        for text in HAND_WRITTEN {
            check(text);
        }
    }

    /// xorshift64*, seeded.
    struct Random(u64);

    impl Random {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        fn below(&mut self, bound: usize) -> usize {
            (self.next() % bound as u64) as usize
        }
    }

    /// The text forms of an address: full, compressed by libcore, with
    /// leading zeros, upper case, and with a dotted quad at the end.
    fn forms_of(bits: u128, random: &mut Random) -> Vec<String> {
        let address = Ipv6Addr::from_bits(bits);
        let groups = address.segments();
        let full: Vec<String> = groups.iter().map(|group| format!("{group:x}")).collect();
        let padded: Vec<String> = groups.iter().map(|group| format!("{group:04X}")).collect();
        let mut forms = alloc::vec![
            format!("{address}"),
            full.join(":"),
            padded.join(":"),
            format!(
                "{}:{}",
                full[..6].join(":"),
                Ipv4Addr::from_bits(bits as u32)
            ),
        ];
        // A `::` in a random place (valid only where it replaces zeros).
        let start = random.below(8);
        let end = start + random.below(9 - start);
        forms.push(format!(
            "{}::{}",
            full[..start].join(":"),
            full[end..].join(":")
        ));
        forms
    }

    /// Random strings over the characters that matter, of random lengths.
    fn random_string(random: &mut Random) -> String {
        const ALPHABET: &[u8] = b"0123456789abcdefABCDEFg:.:.:+-/ ";
        let length = random.below(44);
        (0..length)
            .map(|_| char::from(ALPHABET[random.below(ALPHABET.len())]))
            .collect()
    }

    /// [`parse_ipv4_prefix`] agrees with [`parse_ipv4`] and
    /// [`parse_length`] applied to the two sides of the first `/`, on
    /// random strings and on prefixes with bad parts on either side.
    #[test]
    fn ipv4_prefixes_parse_as_their_two_parts_do() {
        let by_parts = |text: &str| {
            let (network, length) = text.split_once('/')?;
            Some((parse_ipv4(network)?, parse_length(length)?))
        };
        let mut random = Random(0x0F1E_2D3C_4B5A_6978);
        let mut parsed = 0;
        for round in 0..200_000 {
            let text = match round % 3 {
                0 => random_string(&mut random),
                _ => {
                    let network = if random.below(4) == 0 {
                        random_string(&mut random)
                    } else {
                        format!("{}", Ipv4Addr::from_bits(random.next() as u32))
                    };
                    let length = match random.below(4) {
                        0 => random_string(&mut random),
                        1 => format!("{}", random.below(300)),
                        2 => format!("+0{}", random.below(40)),
                        _ => format!("{}", random.below(33)),
                    };
                    format!("{network}/{length}")
                }
            };
            let expected = by_parts(&text);
            parsed += usize::from(expected.is_some());
            assert_eq!(parse_ipv4_prefix(&text), expected, "{text:?}");
        }
        assert!(parsed > 50_000, "only {parsed} valid prefixes");
    }

    #[test]
    fn random_strings_parse_as_libcore_parses_them() {
        let mut random = Random(0x9E37_79B9_7F4A_7C15);
        for _ in 0..200_000 {
            check(&random_string(&mut random));
        }
    }

    #[test]
    fn random_addresses_in_every_form_parse_as_libcore_parses_them() {
        let mut random = Random(0x0123_4567_89AB_CDEF);
        for round in 0..20_000 {
            // Many zero groups, so that `::` and short groups occur.
            let mut bits = u128::from(random.next()) << 64 | u128::from(random.next());
            for group in 0..8 {
                if random.below(3) == 0 {
                    bits &= !(0xffff_u128 << (16 * group));
                }
            }
            for form in forms_of(bits, &mut random) {
                check(&form);
                // Mutations: one byte changed, removed or doubled.
                let bytes = form.as_bytes();
                if bytes.is_empty() {
                    continue;
                }
                let at = random.below(bytes.len());
                let mut changed = Vec::from(bytes);
                changed[at] = b"0:.fF9g "[round % 8];
                check(core::str::from_utf8(&changed).unwrap_or(""));
                let mut removed = Vec::from(bytes);
                removed.remove(at);
                check(core::str::from_utf8(&removed).unwrap_or(""));
                let mut doubled = Vec::from(bytes);
                doubled.insert(at, bytes[at]);
                check(core::str::from_utf8(&doubled).unwrap_or(""));
            }
            let ipv4 = Ipv4Addr::from_bits(random.next() as u32);
            check(&format!("{ipv4}"));
            let [a, b, c, d] = ipv4.octets();
            check(&format!("{a:03}.{b}.{c}.{d}"));
            check(&format!("{a}.{b}.{c}.{d:02}"));
            check(&format!("{}", random.below(600)));
            check(&format!("+{:03}", random.below(300)));
        }
    }
}
