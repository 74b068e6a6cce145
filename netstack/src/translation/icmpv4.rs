//! The ICMPv4 message (RFC 792, RFC 1191 §4, RFC 4884 §4) for the translator: a zero-copy view and the messages it translates.
//!
//! smoltcp is built without `proto-ipv4`, so this is the router's only
//! ICMPv4 code. It follows smoltcp's shape: [`Icmpv4Packet`] reads and
//! writes fields in place in any byte buffer, [`Icmpv4Repr`] is the
//! validated value of the messages RFC 7915 §4.2 and §5.2 translate (echo
//! request and reply, destination unreachable, time exceeded, parameter
//! problem); every other type parses as [`Icmpv4Error::Unsupported`].
//!
//! - After [`Icmpv4Packet::check_len`] succeeds (8 bytes, the header of
//!   every message) no accessor panics.
//! - The checksum covers the whole message and has no pseudo-header
//!   (RFC 792 "Checksum"), unlike ICMPv6 (RFC 4443 §2.3).
//! - RFC 4884 §4 puts a "length" attribute in byte 5 of destination
//!   unreachable, time exceeded and parameter problem: the length of the
//!   "original datagram" field in 32-bit words, 0 when the message carries
//!   no extension structure. Destination unreachable code 4 ("fragmentation
//!   needed and DF set") carries the next-hop MTU in bytes 6–7 (RFC 1191 §4);
//!   parameter problem carries its pointer in byte 4 (RFC 792).

use core::fmt;

use super::checksum;

/// The length of the ICMPv4 header every message starts with: 8 bytes.
pub const HEADER_LENGTH: usize = 8;

/// Message fields (RFC 792; RFC 1191 §4; RFC 4884 §4.1):
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |     Type      |     Code      |          Checksum             |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |   Identifier (echo)           |   Sequence Number (echo)      |
/// |   Pointer (12)|  Length (4884)|   Next-Hop MTU (3/4, 1191)    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |     Data: echo data, or the original datagram (+ extensions)  |
/// ```
mod field {
    use core::ops::Range;

    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: Range<usize> = 2..4;
    pub const IDENTIFIER: Range<usize> = 4..6;
    pub const SEQUENCE_NUMBER: Range<usize> = 6..8;
    pub const POINTER: usize = 4;
    pub const LENGTH: usize = 5;
    pub const NEXT_HOP_MTU: Range<usize> = 6..8;
    pub const DATA: usize = 8;
}

/// ICMPv4 message types (RFC 792, RFC 950, RFC 1256, IANA registry).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Icmpv4Message {
    /// 0, Echo Reply.
    EchoReply,
    /// 3, Destination Unreachable.
    DestinationUnreachable,
    /// 4, Source Quench (deprecated, RFC 6633).
    SourceQuench,
    /// 5, Redirect.
    Redirect,
    /// 6, Alternate Host Address.
    AlternateHostAddress,
    /// 8, Echo Request.
    EchoRequest,
    /// 9, Router Advertisement (RFC 1256).
    RouterAdvertisement,
    /// 10, Router Solicitation (RFC 1256).
    RouterSolicitation,
    /// 11, Time Exceeded.
    TimeExceeded,
    /// 12, Parameter Problem.
    ParameterProblem,
    /// 13, Timestamp.
    Timestamp,
    /// 14, Timestamp Reply.
    TimestampReply,
    /// 15, Information Request.
    InformationRequest,
    /// 16, Information Reply.
    InformationReply,
    /// 17, Address Mask Request (RFC 950).
    AddressMaskRequest,
    /// 18, Address Mask Reply (RFC 950).
    AddressMaskReply,
    /// Any other type.
    Unknown(u8),
}

impl From<u8> for Icmpv4Message {
    #[inline]
    fn from(value: u8) -> Icmpv4Message {
        match value {
            0 => Icmpv4Message::EchoReply,
            3 => Icmpv4Message::DestinationUnreachable,
            4 => Icmpv4Message::SourceQuench,
            5 => Icmpv4Message::Redirect,
            6 => Icmpv4Message::AlternateHostAddress,
            8 => Icmpv4Message::EchoRequest,
            9 => Icmpv4Message::RouterAdvertisement,
            10 => Icmpv4Message::RouterSolicitation,
            11 => Icmpv4Message::TimeExceeded,
            12 => Icmpv4Message::ParameterProblem,
            13 => Icmpv4Message::Timestamp,
            14 => Icmpv4Message::TimestampReply,
            15 => Icmpv4Message::InformationRequest,
            16 => Icmpv4Message::InformationReply,
            17 => Icmpv4Message::AddressMaskRequest,
            18 => Icmpv4Message::AddressMaskReply,
            other => Icmpv4Message::Unknown(other),
        }
    }
}

impl From<Icmpv4Message> for u8 {
    fn from(message: Icmpv4Message) -> u8 {
        match message {
            Icmpv4Message::EchoReply => 0,
            Icmpv4Message::DestinationUnreachable => 3,
            Icmpv4Message::SourceQuench => 4,
            Icmpv4Message::Redirect => 5,
            Icmpv4Message::AlternateHostAddress => 6,
            Icmpv4Message::EchoRequest => 8,
            Icmpv4Message::RouterAdvertisement => 9,
            Icmpv4Message::RouterSolicitation => 10,
            Icmpv4Message::TimeExceeded => 11,
            Icmpv4Message::ParameterProblem => 12,
            Icmpv4Message::Timestamp => 13,
            Icmpv4Message::TimestampReply => 14,
            Icmpv4Message::InformationRequest => 15,
            Icmpv4Message::InformationReply => 16,
            Icmpv4Message::AddressMaskRequest => 17,
            Icmpv4Message::AddressMaskReply => 18,
            Icmpv4Message::Unknown(other) => other,
        }
    }
}

impl Icmpv4Message {
    /// Whether the type is an error message, one that quotes the datagram
    /// that caused it (RFC 1812 §4.3.2.7 lists them: destination
    /// unreachable, source quench, redirect, time exceeded, parameter
    /// problem).
    #[inline]
    pub fn is_error(self) -> bool {
        matches!(
            self,
            Icmpv4Message::DestinationUnreachable
                | Icmpv4Message::SourceQuench
                | Icmpv4Message::Redirect
                | Icmpv4Message::TimeExceeded
                | Icmpv4Message::ParameterProblem
        )
    }
}

/// Why bytes are not an ICMPv4 message this codec understands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Icmpv4Error {
    /// Fewer than the 8 header bytes.
    Truncated,
    /// The checksum is wrong.
    Checksum,
    /// A type [`Icmpv4Repr`] does not describe; the type.
    Unsupported(u8),
}

impl fmt::Display for Icmpv4Error {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Icmpv4Error::Truncated => formatter.write_str("ICMPv4: shorter than 8 bytes"),
            Icmpv4Error::Checksum => formatter.write_str("ICMPv4: bad checksum"),
            Icmpv4Error::Unsupported(message_type) => {
                write!(formatter, "ICMPv4: unsupported type {message_type}")
            }
        }
    }
}

impl core::error::Error for Icmpv4Error {}

/// A zero-copy view of an ICMPv4 message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Icmpv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Icmpv4Packet<T> {
    /// A view of `buffer` with no checks: for building messages.
    pub const fn new_unchecked(buffer: T) -> Self {
        Icmpv4Packet { buffer }
    }

    /// A view of received bytes: [`Icmpv4Packet::new_unchecked`] then
    /// [`Icmpv4Packet::check_len`].
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, Icmpv4Error> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// The buffer holds the 8 header bytes; afterwards no accessor panics.
    #[inline]
    pub fn check_len(&self) -> Result<(), Icmpv4Error> {
        if self.buffer.as_ref().len() < HEADER_LENGTH {
            Err(Icmpv4Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// The buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn read_u16(&self, range: core::ops::Range<usize>) -> u16 {
        let bytes = &self.buffer.as_ref()[range];
        u16::from_be_bytes([bytes[0], bytes[1]])
    }

    /// The message type.
    #[inline]
    pub fn message_type(&self) -> Icmpv4Message {
        Icmpv4Message::from(self.buffer.as_ref()[field::TYPE])
    }

    /// The code.
    pub fn code(&self) -> u8 {
        self.buffer.as_ref()[field::CODE]
    }

    /// The checksum field.
    pub fn checksum(&self) -> u16 {
        self.read_u16(field::CHECKSUM)
    }

    /// The echo identifier (bytes 4–5).
    pub fn echo_identifier(&self) -> u16 {
        self.read_u16(field::IDENTIFIER)
    }

    /// The echo sequence number (bytes 6–7).
    pub fn echo_sequence_number(&self) -> u16 {
        self.read_u16(field::SEQUENCE_NUMBER)
    }

    /// The parameter problem pointer (byte 4).
    pub fn pointer(&self) -> u8 {
        self.buffer.as_ref()[field::POINTER]
    }

    /// The RFC 4884 length attribute (byte 5): the original datagram
    /// field's length in 32-bit words, 0 without extensions.
    pub fn extension_length(&self) -> u8 {
        self.buffer.as_ref()[field::LENGTH]
    }

    /// The next-hop MTU of "fragmentation needed" (bytes 6–7, RFC 1191 §4;
    /// 0 from routers that predate RFC 1191).
    pub fn next_hop_mtu(&self) -> u16 {
        self.read_u16(field::NEXT_HOP_MTU)
    }

    /// Whether the message, checksum included, sums to `0xffff`.
    #[inline]
    pub fn verify_checksum(&self) -> bool {
        checksum::verifies(self.buffer.as_ref())
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Icmpv4Packet<&'a T> {
    /// The bytes after the 8-byte header.
    pub fn data(&self) -> &'a [u8] {
        &self.buffer.as_ref()[field::DATA..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Icmpv4Packet<T> {
    fn write_u16(&mut self, range: core::ops::Range<usize>, value: u16) {
        self.buffer.as_mut()[range].copy_from_slice(&value.to_be_bytes());
    }

    /// Sets the message type.
    pub fn set_message_type(&mut self, message: Icmpv4Message) {
        self.buffer.as_mut()[field::TYPE] = message.into();
    }

    /// Sets the code.
    pub fn set_code(&mut self, code: u8) {
        self.buffer.as_mut()[field::CODE] = code;
    }

    /// Sets the checksum field.
    pub fn set_checksum(&mut self, value: u16) {
        self.write_u16(field::CHECKSUM, value);
    }

    /// Sets the echo identifier.
    pub fn set_echo_identifier(&mut self, value: u16) {
        self.write_u16(field::IDENTIFIER, value);
    }

    /// Sets the echo sequence number.
    pub fn set_echo_sequence_number(&mut self, value: u16) {
        self.write_u16(field::SEQUENCE_NUMBER, value);
    }

    /// Sets the parameter problem pointer.
    pub fn set_pointer(&mut self, value: u8) {
        self.buffer.as_mut()[field::POINTER] = value;
    }

    /// Sets the RFC 4884 length attribute (32-bit words).
    pub fn set_extension_length(&mut self, value: u8) {
        self.buffer.as_mut()[field::LENGTH] = value;
    }

    /// Sets the next-hop MTU.
    pub fn set_next_hop_mtu(&mut self, value: u16) {
        self.write_u16(field::NEXT_HOP_MTU, value);
    }

    /// The bytes after the header, writable.
    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::DATA..]
    }

    /// Computes the checksum over the whole buffer and writes it.
    #[inline]
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let sum = checksum::internet_checksum(self.buffer.as_ref());
        self.set_checksum(sum);
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for Icmpv4Packet<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// A validated ICMPv4 message of a type RFC 7915 translates.
///
/// `data` is everything after the 8-byte header: the echo data, or the
/// original datagram field followed by any RFC 4884 extension structure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Icmpv4Repr<'a> {
    /// Type 8.
    EchoRequest {
        /// The identifier.
        identifier: u16,
        /// The sequence number.
        sequence_number: u16,
        /// The data.
        data: &'a [u8],
    },
    /// Type 0.
    EchoReply {
        /// The identifier.
        identifier: u16,
        /// The sequence number.
        sequence_number: u16,
        /// The data.
        data: &'a [u8],
    },
    /// Type 3.
    DestinationUnreachable {
        /// The code (RFC 792, RFC 1812 §5.2.7.1: 0 to 15).
        code: u8,
        /// Bytes 6–7: the next-hop MTU for code 4, otherwise unused.
        next_hop_mtu: u16,
        /// The RFC 4884 length attribute in 32-bit words.
        extension_length: u8,
        /// The original datagram (and extensions).
        data: &'a [u8],
    },
    /// Type 11.
    TimeExceeded {
        /// 0 TTL exceeded in transit, 1 fragment reassembly time exceeded.
        code: u8,
        /// The RFC 4884 length attribute in 32-bit words.
        extension_length: u8,
        /// The original datagram (and extensions).
        data: &'a [u8],
    },
    /// Type 12.
    ParameterProblem {
        /// 0 pointer indicates the error, 1 missing option, 2 bad length.
        code: u8,
        /// The octet of the original header where the error was found.
        pointer: u8,
        /// The RFC 4884 length attribute in 32-bit words.
        extension_length: u8,
        /// The original datagram (and extensions).
        data: &'a [u8],
    },
}

impl<'a> Icmpv4Repr<'a> {
    /// Checks the length and the checksum and reads a message of a
    /// supported type.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        packet: &Icmpv4Packet<&'a T>,
    ) -> Result<Icmpv4Repr<'a>, Icmpv4Error> {
        packet.check_len()?;
        if !packet.verify_checksum() {
            return Err(Icmpv4Error::Checksum);
        }
        let data = packet.data();
        match packet.message_type() {
            Icmpv4Message::EchoRequest => Ok(Icmpv4Repr::EchoRequest {
                identifier: packet.echo_identifier(),
                sequence_number: packet.echo_sequence_number(),
                data,
            }),
            Icmpv4Message::EchoReply => Ok(Icmpv4Repr::EchoReply {
                identifier: packet.echo_identifier(),
                sequence_number: packet.echo_sequence_number(),
                data,
            }),
            Icmpv4Message::DestinationUnreachable => Ok(Icmpv4Repr::DestinationUnreachable {
                code: packet.code(),
                next_hop_mtu: packet.next_hop_mtu(),
                extension_length: packet.extension_length(),
                data,
            }),
            Icmpv4Message::TimeExceeded => Ok(Icmpv4Repr::TimeExceeded {
                code: packet.code(),
                extension_length: packet.extension_length(),
                data,
            }),
            Icmpv4Message::ParameterProblem => Ok(Icmpv4Repr::ParameterProblem {
                code: packet.code(),
                pointer: packet.pointer(),
                extension_length: packet.extension_length(),
                data,
            }),
            other => Err(Icmpv4Error::Unsupported(other.into())),
        }
    }

    /// The data carried after the header.
    pub fn data(&self) -> &'a [u8] {
        match *self {
            Icmpv4Repr::EchoRequest { data, .. }
            | Icmpv4Repr::EchoReply { data, .. }
            | Icmpv4Repr::DestinationUnreachable { data, .. }
            | Icmpv4Repr::TimeExceeded { data, .. }
            | Icmpv4Repr::ParameterProblem { data, .. } => data,
        }
    }

    /// The length of the emitted message: 8 header bytes and the data.
    pub fn buffer_len(&self) -> usize {
        HEADER_LENGTH + self.data().len()
    }

    /// Writes the whole message (header, data, checksum) into the first
    /// [`Icmpv4Repr::buffer_len`] bytes of the packet's buffer.
    ///
    /// # Panics
    ///
    /// If the buffer is shorter than [`Icmpv4Repr::buffer_len`].
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Icmpv4Packet<T>) {
        let length = self.buffer_len();
        let mut message = Icmpv4Packet::new_unchecked(&mut packet.buffer.as_mut()[..length]);
        let (message_type, code, word) = match *self {
            Icmpv4Repr::EchoRequest {
                identifier,
                sequence_number,
                ..
            } => (
                Icmpv4Message::EchoRequest,
                0,
                [identifier.to_be_bytes(), sequence_number.to_be_bytes()],
            ),
            Icmpv4Repr::EchoReply {
                identifier,
                sequence_number,
                ..
            } => (
                Icmpv4Message::EchoReply,
                0,
                [identifier.to_be_bytes(), sequence_number.to_be_bytes()],
            ),
            Icmpv4Repr::DestinationUnreachable {
                code,
                next_hop_mtu,
                extension_length,
                ..
            } => (
                Icmpv4Message::DestinationUnreachable,
                code,
                [[0, extension_length], next_hop_mtu.to_be_bytes()],
            ),
            Icmpv4Repr::TimeExceeded {
                code,
                extension_length,
                ..
            } => (
                Icmpv4Message::TimeExceeded,
                code,
                [[0, extension_length], [0, 0]],
            ),
            Icmpv4Repr::ParameterProblem {
                code,
                pointer,
                extension_length,
                ..
            } => (
                Icmpv4Message::ParameterProblem,
                code,
                [[pointer, extension_length], [0, 0]],
            ),
        };
        message.set_message_type(message_type);
        message.set_code(code);
        message.buffer[4..6].copy_from_slice(&word[0]);
        message.buffer[6..8].copy_from_slice(&word[1]);
        message.data_mut().copy_from_slice(self.data());
        message.fill_checksum();
    }
}

#[cfg(test)]
mod tests {
    use std::vec;
    use std::vec::Vec;

    use etherparse::{IcmpEchoHeader, Icmpv4Header, Icmpv4Type, icmpv4};

    use super::*;

    fn etherparse_message(icmp_type: Icmpv4Type, data: &[u8]) -> Vec<u8> {
        let header = Icmpv4Header::with_checksum(icmp_type, data);
        let mut bytes = header.to_bytes().to_vec();
        bytes.extend_from_slice(data);
        bytes
    }

    /// RFC 792 echo: the identifier and sequence number in bytes 4–7, the
    /// checksum over the whole message, checked against etherparse.
    #[test]
    fn echo_request_round_trip() {
        let data = [1u8, 2, 3, 4, 5];
        let expected = etherparse_message(
            Icmpv4Type::EchoRequest(IcmpEchoHeader { id: 0x1234, seq: 7 }),
            &data,
        );
        let packet = Icmpv4Packet::new_checked(&expected[..]).unwrap();
        let repr = Icmpv4Repr::parse(&packet).unwrap();
        assert_eq!(
            repr,
            Icmpv4Repr::EchoRequest {
                identifier: 0x1234,
                sequence_number: 7,
                data: &data
            }
        );
        let mut buffer = vec![0xffu8; repr.buffer_len()];
        repr.emit(&mut Icmpv4Packet::new_unchecked(&mut buffer[..]));
        assert_eq!(buffer, expected);
    }

    #[test]
    fn echo_reply_round_trip() {
        let expected = etherparse_message(
            Icmpv4Type::EchoReply(IcmpEchoHeader { id: 9, seq: 0xfffe }),
            &[],
        );
        let packet = Icmpv4Packet::new_checked(&expected[..]).unwrap();
        let repr = Icmpv4Repr::parse(&packet).unwrap();
        let mut buffer = vec![0xffu8; repr.buffer_len()];
        repr.emit(&mut Icmpv4Packet::new_unchecked(&mut buffer[..]));
        assert_eq!(buffer, expected);
    }

    /// RFC 1191 §4: "fragmentation needed" carries the next-hop MTU in
    /// the low 16 bits of the second word.
    #[test]
    fn fragmentation_needed_carries_the_mtu() {
        let data = [0x45u8; 28];
        let expected = etherparse_message(
            Icmpv4Type::DestinationUnreachable(
                icmpv4::DestUnreachableHeader::FragmentationNeeded { next_hop_mtu: 1400 },
            ),
            &data,
        );
        let packet = Icmpv4Packet::new_checked(&expected[..]).unwrap();
        assert_eq!(packet.next_hop_mtu(), 1400);
        let repr = Icmpv4Repr::parse(&packet).unwrap();
        assert_eq!(
            repr,
            Icmpv4Repr::DestinationUnreachable {
                code: 4,
                next_hop_mtu: 1400,
                extension_length: 0,
                data: &data
            }
        );
        let mut buffer = vec![0xffu8; repr.buffer_len()];
        repr.emit(&mut Icmpv4Packet::new_unchecked(&mut buffer[..]));
        assert_eq!(buffer, expected);
    }

    #[test]
    fn time_exceeded_and_parameter_problem() {
        let data = [0u8; 28];
        let expected = etherparse_message(
            Icmpv4Type::TimeExceeded(icmpv4::TimeExceededCode::FragmentReassemblyTimeExceeded),
            &data,
        );
        let repr = Icmpv4Repr::parse(&Icmpv4Packet::new_checked(&expected[..]).unwrap()).unwrap();
        assert_eq!(
            repr,
            Icmpv4Repr::TimeExceeded {
                code: 1,
                extension_length: 0,
                data: &data
            }
        );
        let mut buffer = vec![0xffu8; repr.buffer_len()];
        repr.emit(&mut Icmpv4Packet::new_unchecked(&mut buffer[..]));
        assert_eq!(buffer, expected);

        let expected = etherparse_message(
            Icmpv4Type::ParameterProblem(icmpv4::ParameterProblemHeader::PointerIndicatesError(9)),
            &data,
        );
        let repr = Icmpv4Repr::parse(&Icmpv4Packet::new_checked(&expected[..]).unwrap()).unwrap();
        assert_eq!(
            repr,
            Icmpv4Repr::ParameterProblem {
                code: 0,
                pointer: 9,
                extension_length: 0,
                data: &data
            }
        );
        let mut buffer = vec![0xffu8; repr.buffer_len()];
        repr.emit(&mut Icmpv4Packet::new_unchecked(&mut buffer[..]));
        assert_eq!(buffer, expected);
    }

    /// RFC 4884 §4.1: the length attribute sits in byte 5.
    #[test]
    fn extension_length_is_byte_five() {
        let repr = Icmpv4Repr::TimeExceeded {
            code: 0,
            extension_length: 32,
            data: &[0u8; 136],
        };
        let mut buffer = vec![0xffu8; repr.buffer_len()];
        repr.emit(&mut Icmpv4Packet::new_unchecked(&mut buffer[..]));
        assert_eq!(buffer[4..8], [0, 32, 0, 0]);
        let packet = Icmpv4Packet::new_checked(&buffer[..]).unwrap();
        assert_eq!(packet.extension_length(), 32);
        assert_eq!(Icmpv4Repr::parse(&packet), Ok(repr));
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!(
            Icmpv4Packet::new_checked(&[8u8, 0, 0][..]),
            Err(Icmpv4Error::Truncated)
        );
        let mut message = etherparse_message(
            Icmpv4Type::EchoRequest(IcmpEchoHeader { id: 1, seq: 1 }),
            &[],
        );
        message[7] ^= 1;
        let packet = Icmpv4Packet::new_checked(&message[..]).unwrap();
        assert_eq!(Icmpv4Repr::parse(&packet), Err(Icmpv4Error::Checksum));
        let timestamp = etherparse_message(
            Icmpv4Type::TimestampRequest(icmpv4::TimestampMessage {
                id: 1,
                seq: 2,
                originate_timestamp: 3,
                receive_timestamp: 4,
                transmit_timestamp: 5,
            }),
            &[],
        );
        let packet = Icmpv4Packet::new_checked(&timestamp[..]).unwrap();
        assert_eq!(
            Icmpv4Repr::parse(&packet),
            Err(Icmpv4Error::Unsupported(13))
        );
    }

    #[test]
    fn message_types_round_trip() {
        for value in 0..=u8::MAX {
            let message = Icmpv4Message::from(value);
            assert_eq!(u8::from(message), value);
        }
        assert!(Icmpv4Message::TimeExceeded.is_error());
        assert!(!Icmpv4Message::EchoRequest.is_error());
    }
}
