//! The Internet checksum (RFC 1071) and its incremental update (RFC 1624), shared by the IPv4 and ICMPv4 codecs and the translator.
//!
//! The one's complement sum itself is [`sum`]: the value of smoltcp's
//! [`smoltcp::wire::checksum::data`] (public without `proto-ipv4`), summed
//! eight bytes at a time with end-around carries and folded once at the
//! end, which the translator's per-packet path needs to be cheap (RFC 1071
//! §2 (B) and (C): the sum is independent of word size and byte order).
//! On it, the operations the translator names:
//!
//! - [`internet_checksum`]: the value written into a checksum field, the
//!   one's complement of the one's complement sum of the covered bytes
//!   (RFC 1071 §1, RFC 791 §3.1 "Header Checksum", RFC 792 "Checksum").
//!   Bytes that include a correct checksum field sum to `0xffff`
//!   ([`verifies`]).
//! - [`update`]: a checksum fixed up after some 16-bit words of the covered
//!   data changed, without summing everything again: RFC 1624 §3, equation 3,
//!   `HC' = ~(~HC + ~m + m')`, the correction of RFC 1141's equation, which
//!   could give `0xffff` where a full recomputation gives `0x0000` (RFC 1624
//!   §4 works the example).

use core::net::{Ipv4Addr, Ipv6Addr};

/// The one's complement sum of `bytes` as big-endian 16-bit words, an odd
/// last byte padded with a zero byte (RFC 1071 §4.1), without the final
/// complement: the value of smoltcp's `checksum::data`, which is 0 only
/// when every byte is 0 (a nonzero sum folds to a value in 1..=0xffff).
///
/// A 64-bit word is four 16-bit words and 2^16 ≡ 1 modulo 0xffff, so
/// 64-bit words are summed with end-around carries and the total folded
/// once (RFC 1071 §2 (C)); an end-around carry never turns a nonzero sum
/// into 0. The words are read in the machine's byte order and the result
/// swapped once at the end (§2 (B)), as smoltcp does.
pub fn sum(bytes: &[u8]) -> u16 {
    u16::from_be(native_sum(bytes))
}

/// [`sum`] before its final swap: the one's complement sum of `bytes`
/// read as words in the machine's byte order (RFC 1071 §2 (B): the swap of
/// [`sum`] on a little-endian machine). Inlined where a per-packet path
/// sums a few dozen bytes and adds the result to other native sums, or
/// swaps it once itself.
#[inline(always)]
pub fn native_sum(bytes: &[u8]) -> u16 {
    let (words, rest) = bytes.as_chunks::<8>();
    let mut accumulator = 0u64;
    for word in words {
        accumulator = add_with_carry(accumulator, u64::from_ne_bytes(*word));
    }
    if !rest.is_empty() {
        // The last 1 to 7 bytes as a word padded with zero bytes (RFC
        // 1071 §4.1 pads an odd byte the same way).
        let mut last = [0u8; 8];
        for (byte, value) in last.iter_mut().zip(rest) {
            *byte = *value;
        }
        accumulator = add_with_carry(accumulator, u64::from_ne_bytes(last));
    }
    fold(accumulator)
}

/// [`native_sum`] of `source` while copying it into `destination` (of the
/// same length; nothing is copied or summed otherwise, and the sum is 0):
/// each eight bytes read once, for a path that copies a few dozen bytes
/// it must also sum (a call to `memcpy` and a second pass cost more).
#[inline(always)]
pub fn copy_native_sum(source: &[u8], destination: &mut [u8]) -> u16 {
    if source.len() != destination.len() {
        return 0;
    }
    let (words, rest) = source.as_chunks::<8>();
    let (copies, rest_copy) = destination.as_chunks_mut::<8>();
    let mut accumulator = 0u64;
    for (word, copy) in words.iter().zip(copies) {
        *copy = *word;
        accumulator = add_with_carry(accumulator, u64::from_ne_bytes(*word));
    }
    if !rest.is_empty() {
        let mut last = [0u8; 8];
        for ((byte, value), copy) in last.iter_mut().zip(rest).zip(rest_copy) {
            *byte = *value;
            *copy = *value;
        }
        accumulator = add_with_carry(accumulator, u64::from_ne_bytes(last));
    }
    fold(accumulator)
}

/// The one's complement sum of one's complement sums: the value of
/// smoltcp's `checksum::combine`, inlinable into the per-packet path.
#[inline]
pub fn combine(sums: &[u16]) -> u16 {
    fold(sums.iter().map(|&value| u64::from(value)).sum())
}

/// `accumulator + word` with the carry out of bit 63 added back in (2^64 ≡
/// 1 modulo 0xffff).
#[inline]
fn add_with_carry(accumulator: u64, word: u64) -> u64 {
    let (total, carry) = accumulator.overflowing_add(word);
    total + u64::from(carry)
}

/// The one's complement sum of `bytes` as 32-bit words in the machine's
/// byte order, unfolded (`LENGTH` a multiple of 4; the rest is not read):
/// a fixed-size header summed without [`sum`]'s loop and without a byte
/// swap per word. A 32-bit word is two 16-bit ones (2^16 ≡ 1 modulo
/// 0xffff), and its fold is the swap of the big-endian sum (RFC 1071 §2
/// (B), (C)), so it adds to [`native_sum`]s and verifies a checksum as it
/// is (0xffff is its own swap).
#[inline(always)]
pub fn native_words<const LENGTH: usize>(bytes: &[u8; LENGTH]) -> u64 {
    let (words, _) = bytes.as_chunks::<4>();
    words
        .iter()
        .map(|word| u64::from(u32::from_ne_bytes(*word)))
        .sum()
}

/// [`sum`] of an IPv6 address's 16 bytes.
#[inline]
pub fn sum_ipv6(address: Ipv6Addr) -> u16 {
    u16::from_be(fold(native_words(&address.octets())))
}

/// [`sum_ipv6`] taken on the address's bits as four big-endian 32-bit
/// words: the same value, without taking the address apart into bytes.
/// Cheaper where the address stays in registers for a header write (the
/// 4→6 plain path: 30 instructions a packet less), dearer where it was
/// read from bytes (the 6→4 plain path: 10 more), so both are kept.
#[inline(always)]
pub fn sum_ipv6_bits(address: Ipv6Addr) -> u16 {
    let bits = address.to_bits();
    fold(
        u64::from((bits >> 96) as u32)
            + u64::from((bits >> 64) as u32)
            + u64::from((bits >> 32) as u32)
            + u64::from(bits as u32),
    )
}

/// [`sum`] of an IPv4 address's 4 bytes.
#[inline]
pub fn sum_ipv4(address: Ipv4Addr) -> u16 {
    u16::from_be(fold(u64::from(u32::from_ne_bytes(address.octets()))))
}

/// A sum of 16-bit words folded to 16 bits with end-around carries: 0 only
/// for 0, otherwise the same value modulo 0xffff in 1..=0xffff.
#[inline]
pub fn fold(accumulator: u64) -> u16 {
    // Halves added with the carry brought back in (2^32 ≡ 2^16 ≡ 1 modulo
    // 0xffff); a nonzero value stays nonzero.
    let (low, carry) = (accumulator as u32).overflowing_add((accumulator >> 32) as u32);
    let half = low + u32::from(carry);
    let (low, carry) = (half as u16).overflowing_add((half >> 16) as u16);
    low + u16::from(carry)
}

/// The Internet checksum of `bytes` (RFC 1071): the one's complement of
/// their one's complement sum, as written into a checksum field whose own
/// bytes were zero while summing. An odd last byte is padded with a zero
/// byte (RFC 1071 §4.1).
#[inline]
pub fn internet_checksum(bytes: &[u8]) -> u16 {
    !sum(bytes)
}

/// Whether `bytes`, checksum field included, sum to `0xffff` in one's
/// complement: the receiver's check (RFC 1071 §1 (4)).
#[inline]
pub fn verifies(bytes: &[u8]) -> bool {
    sum(bytes) == 0xffff
}

/// `checksum` after the covered data had one 16-bit word changed from
/// `old_word` to `new_word` (RFC 1624 §3, equation 3).
///
/// The word must start at an even offset of the covered data (all IPv4,
/// ICMP, UDP and TCP header fields do). For the TTL, the word is TTL and
/// Protocol together (bytes 8 and 9 of the IPv4 header).
#[inline]
pub fn update_word(checksum: u16, old_word: u16, new_word: u16) -> u16 {
    !fold(u64::from(!checksum) + u64::from(!old_word) + u64::from(new_word))
}

/// `checksum` after the covered bytes `old` were replaced by `new` (the
/// same length), e.g. an address or a port rewritten in place: RFC 1624
/// equation 3 applied to all their words at once.
///
/// # Panics
///
/// If `old` and `new` differ in length. Both must start at an even offset
/// of the covered data; an odd length is padded with a zero byte, which is
/// right only when the replaced bytes end the covered data.
pub fn update(checksum: u16, old: &[u8], new: &[u8]) -> u16 {
    assert_eq!(
        old.len(),
        new.len(),
        "a checksum update replaces bytes with as many bytes"
    );
    !fold(u64::from(!checksum) + u64::from(!sum(old)) + u64::from(sum(new)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use smoltcp::wire::checksum::{combine as smoltcp_combine, data};

    /// RFC 1071 §3, the worked example: the words 0001 f203 f4f5 f6f7 sum
    /// to ddf2 (with end-around carries).
    #[test]
    fn rfc1071_example_sum() {
        let bytes = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(data(&bytes), 0xddf2);
        assert_eq!(internet_checksum(&bytes), !0xddf2);
    }

    /// `copy_native_sum` sums as `native_sum` does (RFC 1071 §4.1 padding
    /// of the last bytes included) and copies every byte, at every length
    /// around the 8-byte words; it touches nothing for a destination of
    /// another length.
    #[test]
    fn rfc1071_copy_native_sum_matches_native_sum() {
        let bytes: alloc::vec::Vec<u8> =
            (0..70u8).map(|byte| byte.wrapping_mul(37) ^ 0xa5).collect();
        for length in 0..bytes.len() {
            let source = &bytes[..length];
            let mut copy = alloc::vec![0u8; length];
            assert_eq!(
                copy_native_sum(source, &mut copy),
                native_sum(source),
                "{length}"
            );
            assert_eq!(copy, source, "{length}");
            let mut other = alloc::vec![0u8; length + 1];
            assert_eq!(copy_native_sum(source, &mut other), 0, "{length}");
            assert!(other.iter().all(|&byte| byte == 0), "{length}");
        }
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(internet_checksum(&[0x12, 0x34, 0x56]), !(0x1234 + 0x5600));
    }

    #[test]
    fn checksum_written_back_verifies() {
        let mut bytes = [
            0x45, 0x00, 0x00, 0x1c, 0xab, 0xcd, 0, 0, 0x40, 0x01, 0, 0, 1, 2, 3, 4,
        ];
        let checksum = internet_checksum(&bytes);
        bytes[10..12].copy_from_slice(&checksum.to_be_bytes());
        assert!(verifies(&bytes));
        bytes[0] ^= 1;
        assert!(!verifies(&bytes));
    }

    /// RFC 1624 §4, the worked example: header checksum 0xdd2f, a word
    /// changes from 0x5555 to 0x3285; equation 3 gives 0x0000.
    #[test]
    fn rfc1624_example() {
        assert_eq!(update_word(0xdd2f, 0x5555, 0x3285), 0x0000);
    }

    /// Incremental updates agree with recomputation for every value of one
    /// word, and for replaced byte runs at several positions.
    #[test]
    fn incremental_matches_recomputation() {
        let mut bytes: [u8; 20] = [
            0x45, 0x00, 0x00, 0x54, 0x1c, 0x46, 0x40, 0x00, 0x40, 0x01, 0x00, 0x00, 0xc0, 0x00,
            0x02, 0x01, 0xc6, 0x33, 0x64, 0x07,
        ];
        let checksum = internet_checksum(&bytes);
        for new_word in 0..=u16::MAX {
            let old_word = u16::from_be_bytes([bytes[8], bytes[9]]);
            let mut changed = bytes;
            changed[8..10].copy_from_slice(&new_word.to_be_bytes());
            let updated = update_word(checksum, old_word, new_word);
            changed[10..12].copy_from_slice(&updated.to_be_bytes());
            assert!(verifies(&changed), "word {new_word:#06x}");
        }
        // Replace the destination address (bytes 16..20).
        bytes[10..12].copy_from_slice(&checksum.to_be_bytes());
        let new_address = [203, 0, 113, 9];
        let updated = update(checksum, &bytes[16..20], &new_address);
        bytes[16..20].copy_from_slice(&new_address);
        bytes[10..12].copy_from_slice(&[0, 0]);
        assert_eq!(updated, internet_checksum(&bytes));
    }

    /// [`sum`] gives smoltcp's value for every length up to 70 bytes, for
    /// all-zero, all-one, and mixed bytes (the representations of zero,
    /// 0x0000 and 0xffff, must agree: a checksum field shows them).
    #[test]
    fn sum_matches_smoltcp() {
        let mut state = 0x1234_5678_u32;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        };
        for length in 0..=70 {
            let mixed: std::vec::Vec<u8> = (0..length).map(|_| next()).collect();
            for bytes in [
                std::vec![0u8; length],
                std::vec![0xff; length],
                mixed,
                (0..length).map(|index| [0xff, 0x00][index % 2]).collect(),
            ] {
                assert_eq!(sum(&bytes), data(&bytes), "{bytes:x?}");
            }
        }
        // Long runs: many end-around carries.
        let long: std::vec::Vec<u8> = (0..9001).map(|_| next()).collect();
        assert_eq!(sum(&long), data(&long));
        assert_eq!(sum(&[0xff; 65535]), data(&[0xff; 65535]));
        // Words summing to a multiple of 0xffff: "negative zero".
        assert_eq!(sum(&[0x12, 0x34, 0xed, 0xcb]), 0xffff);
        assert_eq!(
            sum(&[0x12, 0x34, 0xed, 0xcb]),
            data(&[0x12, 0x34, 0xed, 0xcb])
        );
        assert_eq!(fold(0), 0);
        for sums in [
            &[0u16, 0][..],
            &[0xffff, 0],
            &[0xffff, 0xffff, 1],
            &[0x1234, 0xedcb],
            &[],
        ] {
            assert_eq!(combine(sums), smoltcp_combine(sums), "{sums:x?}");
        }
        for address in [
            "::",
            "2001:db8::1",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        ] {
            let address: Ipv6Addr = address.parse().unwrap();
            assert_eq!(sum_ipv6(address), data(&address.octets()), "{address}");
        }
        for address in [
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::BROADCAST,
            Ipv4Addr::new(192, 0, 2, 1),
        ] {
            assert_eq!(sum_ipv4(address), data(&address.octets()), "{address}");
        }
        assert_eq!(fold(u64::MAX), 0xffff);
        assert_eq!(fold(0xffff), 0xffff);
        assert_eq!(fold(0x1_0000), 1);
        assert_eq!(fold(0xffff_ffff), 0xffff);
        assert_eq!(fold(0x1_0000_0000), 1);
        assert_eq!(fold(0x0001_fffe_0001_fffe), 0xffff);
        assert_eq!(fold(0x0001_0002_0003_0004), 10);
    }

    #[test]
    #[should_panic(expected = "as many bytes")]
    fn update_rejects_different_lengths() {
        update(0, &[1, 2], &[1, 2, 3, 4]);
    }
}
