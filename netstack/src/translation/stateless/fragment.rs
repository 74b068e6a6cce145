//! Splitting a translated packet that is too big for its path: IPv6 fragments of an IPv4 packet without DF (RFC 7915 §4.1, "lowest-ipv6-mtu") and IPv4 fragments of a DF-clear translated packet (§5.1.1, last paragraph).
//!
//! Both functions write one fragment at a time into a caller-provided
//! scratch buffer and hand it to a callback: no allocation. Fragment data
//! lengths are multiples of 8 except the last (RFC 8200 §4.5, RFC 791
//! §3.2); a fragment of a fragment keeps the original offset base,
//! Identification and, on its last piece, the original More Fragments flag.

use super::{
    FRAGMENT_HEADER_LENGTH, Fragmentation, IPV4_HEADER_LENGTH, IPV6_HEADER_LENGTH,
    TranslationError, read_u16,
};
use crate::translation::ipv4::{Ipv4Packet, Ipv4Repr};
use crate::translation::stateless::ipv4_to_ipv6::write_fragment_header;
use crate::translation::stateless::protocol;

/// The largest datagram either family reassembles without a jumbogram.
const MAXIMUM_DATAGRAM: usize = 65535;

/// Splits an IPv6 packet made by [`super::translate_ipv4_to_ipv6`] (no
/// extension header, or only a Fragment Header right after the IPv6
/// header) into IPv6 fragments of at most `fragmentation.maximum_size`
/// bytes, each with a Fragment Header (§4.1: Identification from
/// `fragmentation.identification` unless the packet already has a Fragment
/// Header). Each fragment is written into `scratch` and passed to `emit`;
/// returns the number of fragments.
pub fn fragment_ipv6(
    packet: &[u8],
    fragmentation: Fragmentation,
    scratch: &mut [u8],
    mut emit: impl FnMut(&[u8]),
) -> Result<usize, TranslationError> {
    let fixed = packet
        .get(..IPV6_HEADER_LENGTH)
        .ok_or(TranslationError::NotFragmentable)?;
    if fixed[0] >> 4 != 6 {
        return Err(TranslationError::NotFragmentable);
    }
    let payload_length = usize::from(read_u16(fixed, 4).unwrap_or(0));
    let end = IPV6_HEADER_LENGTH + payload_length;
    let packet = packet.get(..end).ok_or(TranslationError::NotFragmentable)?;
    let (next_header, base_offset, last_more, identification, fragmentable) =
        if fixed[6] == protocol::FRAGMENT {
            let header = packet
                .get(IPV6_HEADER_LENGTH..IPV6_HEADER_LENGTH + FRAGMENT_HEADER_LENGTH)
                .ok_or(TranslationError::NotFragmentable)?;
            let word = u16::from_be_bytes([header[2], header[3]]);
            (
                header[0],
                usize::from(word & !7),
                word & 1 != 0,
                u32::from_be_bytes([header[4], header[5], header[6], header[7]]),
                &packet[IPV6_HEADER_LENGTH + FRAGMENT_HEADER_LENGTH..],
            )
        } else if protocol::is_extension_header(fixed[6]) {
            return Err(TranslationError::NotFragmentable);
        } else {
            (
                fixed[6],
                0,
                false,
                fragmentation.identification,
                &packet[IPV6_HEADER_LENGTH..],
            )
        };
    let headers = IPV6_HEADER_LENGTH + FRAGMENT_HEADER_LENGTH;
    let chunk = usize::from(fragmentation.maximum_size).saturating_sub(headers) & !7;
    if chunk < 8 {
        return Err(TranslationError::FragmentSizeTooSmall);
    }
    check_range(base_offset, fragmentable.len(), last_more)?;
    let mut count = 0;
    let mut position = 0;
    loop {
        let piece_end = (position + chunk).min(fragmentable.len());
        let piece = &fragmentable[position..piece_end];
        let is_last = piece_end == fragmentable.len();
        let fragment = scratch
            .get_mut(..headers + piece.len())
            .ok_or(TranslationError::OutputTooSmall)?;
        fragment[..IPV6_HEADER_LENGTH].copy_from_slice(fixed);
        let payload = u16::try_from(FRAGMENT_HEADER_LENGTH + piece.len())
            .map_err(|_| TranslationError::FragmentOutOfRange)?;
        fragment[4..6].copy_from_slice(&payload.to_be_bytes());
        fragment[6] = protocol::FRAGMENT;
        let offset = u16::try_from(base_offset + position)
            .map_err(|_| TranslationError::FragmentOutOfRange)?;
        write_fragment_header(
            &mut fragment[IPV6_HEADER_LENGTH..],
            next_header,
            offset,
            if is_last { last_more } else { true },
            identification,
        );
        fragment[headers..].copy_from_slice(piece);
        emit(fragment);
        count += 1;
        position = piece_end;
        if is_last {
            return Ok(count);
        }
    }
}

/// Splits an option-less IPv4 packet with DF clear, made by
/// [`super::translate_ipv6_to_ipv4`], into IPv4 fragments of at most
/// `fragmentation.maximum_size` bytes (RFC 791 §3.2 "Fragmentation",
/// RFC 7915 §5.1.1). Each fragment is written into `scratch` and passed to
/// `emit`; returns the number of fragments.
pub fn fragment_ipv4(
    packet: &[u8],
    fragmentation: Fragmentation,
    scratch: &mut [u8],
    mut emit: impl FnMut(&[u8]),
) -> Result<usize, TranslationError> {
    let ipv4 = Ipv4Packet::new_checked(packet).map_err(|_| TranslationError::NotFragmentable)?;
    let header = Ipv4Repr::parse(&ipv4).map_err(|_| TranslationError::NotFragmentable)?;
    if header.dont_fragment || ipv4.header_length() != IPV4_HEADER_LENGTH {
        return Err(TranslationError::NotFragmentable);
    }
    let payload = ipv4.payload();
    let chunk = usize::from(fragmentation.maximum_size).saturating_sub(IPV4_HEADER_LENGTH) & !7;
    if chunk < 8 {
        return Err(TranslationError::FragmentSizeTooSmall);
    }
    let base_offset = usize::from(header.fragment_offset);
    check_range(
        base_offset + IPV4_HEADER_LENGTH,
        payload.len(),
        header.more_fragments,
    )?;
    let mut count = 0;
    let mut position = 0;
    loop {
        let piece_end = (position + chunk).min(payload.len());
        let piece = &payload[position..piece_end];
        let is_last = piece_end == payload.len();
        let fragment = scratch
            .get_mut(..IPV4_HEADER_LENGTH + piece.len())
            .ok_or(TranslationError::OutputTooSmall)?;
        let offset = u16::try_from(base_offset + position)
            .map_err(|_| TranslationError::FragmentOutOfRange)?;
        let piece_header = Ipv4Repr {
            payload_length: piece.len(),
            more_fragments: if is_last { header.more_fragments } else { true },
            fragment_offset: offset,
            ..header
        };
        piece_header.emit(&mut Ipv4Packet::new_unchecked(
            &mut fragment[..IPV4_HEADER_LENGTH],
        ));
        fragment[IPV4_HEADER_LENGTH..].copy_from_slice(piece);
        emit(fragment);
        count += 1;
        position = piece_end;
        if is_last {
            return Ok(count);
        }
    }
}

/// The pieces of `length` bytes from `base` must end by 65535 and, when
/// more fragments follow the last piece, the length must be a multiple of
/// 8 (otherwise the next original fragment would overlap).
fn check_range(base: usize, length: usize, more_after: bool) -> Result<(), TranslationError> {
    if base + length > MAXIMUM_DATAGRAM || (more_after && !length.is_multiple_of(8)) {
        return Err(TranslationError::FragmentOutOfRange);
    }
    Ok(())
}
