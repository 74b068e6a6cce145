//! The IPv4 header (RFC 791 §3.1) for the translator: a zero-copy view, RFC 1812 §5.2.2 header validation, and option-less headers to emit.
//!
//! smoltcp is built without `proto-ipv4`, so this is the router's only IPv4
//! header code. It follows smoltcp's shape: [`Ipv4Packet`] reads and writes
//! fields in place in any byte buffer, [`Ipv4Repr`] is the validated value
//! the translator works with.
//!
//! - After [`Ipv4Packet::check_len`] succeeds no accessor panics. It
//!   applies the length tests of RFC 1812 §5.2.2 (at least 20 bytes, IHL at
//!   least 5, Total Length at least the header length) and that the buffer
//!   holds the header and Total Length bytes. [`Ipv4Repr::parse`] adds the
//!   other two tests, version 4 and a correct header checksum, which a
//!   router MUST NOT offer to disable (RFC 1812 §4.2.2.5, §5.2.2).
//! - [`Ipv4Packet::check_header`] is the weaker check for the packet quoted
//!   in an ICMP error, which carries the header and only the leading bytes
//!   of the data (RFC 792, RFC 1812 §4.3.2.3).
//! - [`Ipv4Repr`] describes headers without options: the translator never
//!   emits options (RFC 7915 §5.1) and ignores them on input (§4.1). The
//!   options of a received packet stay readable through
//!   [`Ipv4Packet::options`].
//! - [`Ipv4Packet::decrement_time_to_live`] updates the checksum
//!   incrementally (RFC 1812 §4.2.2.5 allows it, RFC 1624 says how).
//!
//! Fragment offsets are in bytes everywhere in this API (the header holds
//! units of 8 bytes). RFC 6864 §4 defines an atomic datagram (DF set, not a
//! fragment), the only kind whose Identification may repeat:
//! [`Ipv4Packet::is_atomic`].

use core::fmt;
use core::net::Ipv4Addr;

use smoltcp::wire::IpProtocol;

use super::checksum;

/// The length of a header without options (IHL 5): 20 bytes.
pub const HEADER_LENGTH: usize = field::DESTINATION_ADDRESS.end;

/// The longest header (IHL 15): 60 bytes, 40 of them options.
pub const MAX_HEADER_LENGTH: usize = 15 * 4;

/// The largest fragment offset in bytes (13 bits of 8-byte units).
pub const MAX_FRAGMENT_OFFSET: u16 = 0x1fff * 8;

/// Header fields (RFC 791 §3.1, Figure 4):
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |Version|  IHL  |Type of Service|          Total Length         |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |         Identification        |Flags|      Fragment Offset    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |  Time to Live |    Protocol   |         Header Checksum       |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                       Source Address                          |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                    Destination Address                        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                    Options                    |    Padding    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
///
/// The Type of Service octet is the DSCP (6 bits, RFC 2474) and ECN
/// (2 bits, RFC 3168); Flags are reserved (must be zero), DF and MF.
mod field {
    use core::ops::Range;

    pub const VERSION_AND_HEADER_LENGTH: usize = 0;
    pub const TRAFFIC_CLASS: usize = 1;
    pub const TOTAL_LENGTH: Range<usize> = 2..4;
    pub const IDENTIFICATION: Range<usize> = 4..6;
    pub const FLAGS_AND_FRAGMENT_OFFSET: Range<usize> = 6..8;
    pub const TIME_TO_LIVE: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const HEADER_CHECKSUM: Range<usize> = 10..12;
    pub const SOURCE_ADDRESS: Range<usize> = 12..16;
    pub const DESTINATION_ADDRESS: Range<usize> = 16..20;
}

/// Bits of the flags and fragment offset word.
const RESERVED_FLAG: u16 = 0x8000;
const DONT_FRAGMENT: u16 = 0x4000;
const MORE_FRAGMENTS: u16 = 0x2000;
const FRAGMENT_OFFSET_UNITS: u16 = 0x1fff;

/// Why bytes are not a valid IPv4 header.
///
/// The first five are the length tests, in the order RFC 1812 §5.2.2
/// suggests for classifying the cause; a translator may answer the header
/// and total length ones with a Parameter Problem pointing at IHL (byte 0)
/// or Total Length (byte 2), and must still drop the packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ipv4Error {
    /// Fewer than 20 bytes (RFC 1812 §5.2.2 test 1).
    Truncated,
    /// IHL below 5 (RFC 1812 §5.2.2 test 4).
    HeaderLengthTooShort,
    /// The header (IHL × 4 bytes) does not fit in the buffer.
    HeaderBeyondBuffer,
    /// Total Length is shorter than the header (RFC 1812 §5.2.2 test 5).
    TotalLengthBelowHeader,
    /// Total Length is more than the buffer holds: the link truncated the
    /// packet (RFC 1812 §5.2.2, "SHOULD verify").
    TotalLengthBeyondBuffer,
    /// The version field is not 4 (RFC 1812 §5.2.2 test 3); the value.
    Version(u8),
    /// The header checksum is wrong (RFC 1812 §5.2.2 test 2).
    Checksum,
}

impl fmt::Display for Ipv4Error {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ipv4Error::Truncated => formatter.write_str("IPv4: shorter than 20 bytes"),
            Ipv4Error::HeaderLengthTooShort => formatter.write_str("IPv4: IHL below 5"),
            Ipv4Error::HeaderBeyondBuffer => {
                formatter.write_str("IPv4: header longer than the buffer")
            }
            Ipv4Error::TotalLengthBelowHeader => {
                formatter.write_str("IPv4: total length shorter than the header")
            }
            Ipv4Error::TotalLengthBeyondBuffer => {
                formatter.write_str("IPv4: total length beyond the buffer")
            }
            Ipv4Error::Version(version) => write!(formatter, "IPv4: version {version}"),
            Ipv4Error::Checksum => formatter.write_str("IPv4: bad header checksum"),
        }
    }
}

impl core::error::Error for Ipv4Error {}

/// A zero-copy view of an IPv4 packet (header, options, payload).
///
/// Build it with [`Ipv4Packet::new_checked`] for input; accessors may panic
/// on a view made with [`Ipv4Packet::new_unchecked`] until
/// [`Ipv4Packet::check_len`] succeeds. Setters of the header length or
/// total length invalidate that check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ipv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// A view of `buffer` with no checks: for building packets.
    pub const fn new_unchecked(buffer: T) -> Self {
        Ipv4Packet { buffer }
    }

    /// A view of received bytes: [`Ipv4Packet::new_unchecked`] then
    /// [`Ipv4Packet::check_len`].
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, Ipv4Error> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// The length tests; afterwards no accessor panics.
    ///
    /// The buffer holds at least 20 bytes, IHL is at least 5, the header
    /// fits in the buffer, and Total Length covers the header and fits in
    /// the buffer. The buffer may be longer than Total Length (link-layer
    /// padding); [`Ipv4Packet::payload`] ends at Total Length.
    #[inline]
    pub fn check_len(&self) -> Result<(), Ipv4Error> {
        self.check_header()?;
        if usize::from(self.total_length()) > self.buffer.as_ref().len() {
            return Err(Ipv4Error::TotalLengthBeyondBuffer);
        }
        Ok(())
    }

    /// The length tests that concern the header alone, for the packet
    /// quoted in an ICMP error (whose data is cut short); afterwards no
    /// accessor panics.
    ///
    /// As [`Ipv4Packet::check_len`], except that Total Length may exceed the
    /// buffer: [`Ipv4Packet::payload`] then ends at the end of the buffer.
    #[inline]
    pub fn check_header(&self) -> Result<(), Ipv4Error> {
        let available = self.buffer.as_ref().len();
        if available < HEADER_LENGTH {
            Err(Ipv4Error::Truncated)
        } else if self.header_length() < HEADER_LENGTH {
            Err(Ipv4Error::HeaderLengthTooShort)
        } else if self.header_length() > available {
            Err(Ipv4Error::HeaderBeyondBuffer)
        } else if usize::from(self.total_length()) < self.header_length() {
            Err(Ipv4Error::TotalLengthBelowHeader)
        } else {
            Ok(())
        }
    }

    /// The buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    #[inline]
    fn read_u16(&self, range: core::ops::Range<usize>) -> u16 {
        let bytes = &self.buffer.as_ref()[range];
        u16::from_be_bytes([bytes[0], bytes[1]])
    }

    #[inline]
    fn read_address(&self, range: core::ops::Range<usize>) -> Ipv4Addr {
        let bytes = &self.buffer.as_ref()[range];
        Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3])
    }

    fn flags_and_fragment_offset(&self) -> u16 {
        self.read_u16(field::FLAGS_AND_FRAGMENT_OFFSET)
    }

    /// The version field (4 for IPv4).
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VERSION_AND_HEADER_LENGTH] >> 4
    }

    /// The header length in bytes, options included (IHL × 4: 0 to 60).
    #[inline]
    pub fn header_length(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::VERSION_AND_HEADER_LENGTH] & 0x0f) * 4
    }

    /// The Type of Service octet: DSCP and ECN together, which RFC 7915
    /// §4.1 and §5.1 copy to and from the IPv6 Traffic Class.
    pub fn traffic_class(&self) -> u8 {
        self.buffer.as_ref()[field::TRAFFIC_CLASS]
    }

    /// The Differentiated Services Code Point (RFC 2474 §3): the upper six
    /// bits of the Type of Service octet.
    pub fn dscp(&self) -> u8 {
        self.traffic_class() >> 2
    }

    /// The Explicit Congestion Notification bits (RFC 3168 §5): the lower
    /// two bits of the Type of Service octet.
    pub fn ecn(&self) -> u8 {
        self.traffic_class() & 0b11
    }

    /// Total Length: header and data, in bytes.
    #[inline]
    pub fn total_length(&self) -> u16 {
        self.read_u16(field::TOTAL_LENGTH)
    }

    /// The Identification field.
    pub fn identification(&self) -> u16 {
        self.read_u16(field::IDENTIFICATION)
    }

    /// The reserved flag (bit 0 of Flags), which RFC 791 says must be zero.
    pub fn reserved_flag(&self) -> bool {
        self.flags_and_fragment_offset() & RESERVED_FLAG != 0
    }

    /// DF, the Don't Fragment flag.
    pub fn dont_fragment(&self) -> bool {
        self.flags_and_fragment_offset() & DONT_FRAGMENT != 0
    }

    /// MF, the More Fragments flag.
    pub fn more_fragments(&self) -> bool {
        self.flags_and_fragment_offset() & MORE_FRAGMENTS != 0
    }

    /// The fragment offset in bytes (the field × 8).
    pub fn fragment_offset(&self) -> u16 {
        (self.flags_and_fragment_offset() & FRAGMENT_OFFSET_UNITS) * 8
    }

    /// Whether this is a fragment: MF set or a non-zero offset.
    pub fn is_fragment(&self) -> bool {
        self.more_fragments() || self.fragment_offset() != 0
    }

    /// Whether this is the first fragment of a datagram: MF set and offset
    /// zero. (An unfragmented packet is not a fragment at all.)
    pub fn is_first_fragment(&self) -> bool {
        self.more_fragments() && self.fragment_offset() == 0
    }

    /// Whether this is an atomic datagram (RFC 6864 §4): DF set, MF clear,
    /// offset zero. Only these may reuse an Identification value.
    pub fn is_atomic(&self) -> bool {
        self.dont_fragment() && !self.is_fragment()
    }

    /// Time to Live.
    pub fn time_to_live(&self) -> u8 {
        self.buffer.as_ref()[field::TIME_TO_LIVE]
    }

    /// The protocol of the data (IANA protocol numbers, as IPv6 Next Header).
    pub fn protocol(&self) -> IpProtocol {
        IpProtocol::from(self.buffer.as_ref()[field::PROTOCOL])
    }

    /// The Header Checksum field as received.
    pub fn header_checksum(&self) -> u16 {
        self.read_u16(field::HEADER_CHECKSUM)
    }

    /// The source address.
    pub fn source_address(&self) -> Ipv4Addr {
        self.read_address(field::SOURCE_ADDRESS)
    }

    /// The destination address.
    pub fn destination_address(&self) -> Ipv4Addr {
        self.read_address(field::DESTINATION_ADDRESS)
    }

    /// Whether the header checksum is right (RFC 791 §3.1: over the header
    /// only, options included).
    #[inline]
    pub fn verify_checksum(&self) -> bool {
        checksum::verifies(&self.buffer.as_ref()[..self.header_length()])
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Ipv4Packet<&'a T> {
    /// The options and padding: header bytes 20 up to the header length.
    #[inline]
    pub fn options(&self) -> &'a [u8] {
        &self.buffer.as_ref()[HEADER_LENGTH..self.header_length()]
    }

    /// The data after the header, up to Total Length (or the end of the
    /// buffer, for a quoted packet that passed only
    /// [`Ipv4Packet::check_header`]).
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        let bytes = self.buffer.as_ref();
        let end = usize::from(self.total_length()).min(bytes.len());
        &bytes[self.header_length()..end]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<T> {
    fn write_u16(&mut self, range: core::ops::Range<usize>, value: u16) {
        self.buffer.as_mut()[range].copy_from_slice(&value.to_be_bytes());
    }

    fn set_flags_and_fragment_offset(&mut self, value: u16) {
        self.write_u16(field::FLAGS_AND_FRAGMENT_OFFSET, value);
    }

    fn set_flag(&mut self, flag: u16, value: bool) {
        let word = self.flags_and_fragment_offset() & !flag;
        self.set_flags_and_fragment_offset(if value { word | flag } else { word });
    }

    /// Sets the version field (the upper four bits of byte 0).
    pub fn set_version(&mut self, version: u8) {
        let byte = &mut self.buffer.as_mut()[field::VERSION_AND_HEADER_LENGTH];
        *byte = (*byte & 0x0f) | (version << 4);
    }

    /// Sets IHL from a header length in bytes.
    ///
    /// # Panics
    ///
    /// If `bytes` is not a multiple of 4 up to 60.
    pub fn set_header_length(&mut self, bytes: usize) {
        assert!(
            bytes.is_multiple_of(4) && bytes <= MAX_HEADER_LENGTH,
            "an IPv4 header length is a multiple of 4 up to 60, not {bytes}"
        );
        let byte = &mut self.buffer.as_mut()[field::VERSION_AND_HEADER_LENGTH];
        *byte = (*byte & 0xf0) | (bytes / 4) as u8;
    }

    /// Sets the Type of Service octet (DSCP and ECN).
    pub fn set_traffic_class(&mut self, traffic_class: u8) {
        self.buffer.as_mut()[field::TRAFFIC_CLASS] = traffic_class;
    }

    /// Sets Total Length.
    pub fn set_total_length(&mut self, total_length: u16) {
        self.write_u16(field::TOTAL_LENGTH, total_length);
    }

    /// Sets the Identification field.
    pub fn set_identification(&mut self, identification: u16) {
        self.write_u16(field::IDENTIFICATION, identification);
    }

    /// Sets or clears DF, leaving the other flags and the offset.
    pub fn set_dont_fragment(&mut self, value: bool) {
        self.set_flag(DONT_FRAGMENT, value);
    }

    /// Sets or clears MF, leaving the other flags and the offset.
    pub fn set_more_fragments(&mut self, value: bool) {
        self.set_flag(MORE_FRAGMENTS, value);
    }

    /// Sets the fragment offset from a value in bytes, leaving the flags.
    ///
    /// # Panics
    ///
    /// If `bytes` is not a multiple of 8.
    pub fn set_fragment_offset(&mut self, bytes: u16) {
        assert!(
            bytes.is_multiple_of(8),
            "an IPv4 fragment offset is a multiple of 8 bytes, not {bytes}"
        );
        let flags = self.flags_and_fragment_offset() & !FRAGMENT_OFFSET_UNITS;
        self.set_flags_and_fragment_offset(flags | (bytes / 8));
    }

    /// Sets Time to Live (the checksum is not updated; see
    /// [`Ipv4Packet::decrement_time_to_live`]).
    pub fn set_time_to_live(&mut self, time_to_live: u8) {
        self.buffer.as_mut()[field::TIME_TO_LIVE] = time_to_live;
    }

    /// Sets the protocol.
    pub fn set_protocol(&mut self, protocol: IpProtocol) {
        self.buffer.as_mut()[field::PROTOCOL] = protocol.into();
    }

    /// Sets the Header Checksum field to `checksum`.
    pub fn set_header_checksum(&mut self, checksum: u16) {
        self.write_u16(field::HEADER_CHECKSUM, checksum);
    }

    /// Sets the source address.
    pub fn set_source_address(&mut self, address: Ipv4Addr) {
        self.buffer.as_mut()[field::SOURCE_ADDRESS].copy_from_slice(&address.octets());
    }

    /// Sets the destination address.
    pub fn set_destination_address(&mut self, address: Ipv4Addr) {
        self.buffer.as_mut()[field::DESTINATION_ADDRESS].copy_from_slice(&address.octets());
    }

    /// Computes the header checksum over the header (options included) and
    /// writes it.
    pub fn fill_checksum(&mut self) {
        self.set_header_checksum(0);
        let header_length = self.header_length();
        let sum = checksum::internet_checksum(&self.buffer.as_ref()[..header_length]);
        self.set_header_checksum(sum);
    }

    /// Decrements Time to Live by one and updates the header checksum
    /// incrementally (RFC 1624 §3, equation 3; RFC 1812 §4.2.2.5 allows
    /// this when TTL is the only change), returning the new TTL.
    ///
    /// A router drops the packet when this returns 0 (RFC 1812 §5.3.1). A
    /// TTL of 0 is left as it is (and 0 returned): nothing to decrement.
    pub fn decrement_time_to_live(&mut self) -> u8 {
        let time_to_live = self.time_to_live();
        if time_to_live == 0 {
            return 0;
        }
        let protocol = self.buffer.as_ref()[field::PROTOCOL];
        let old_word = u16::from_be_bytes([time_to_live, protocol]);
        let new_word = u16::from_be_bytes([time_to_live - 1, protocol]);
        let updated = checksum::update_word(self.header_checksum(), old_word, new_word);
        self.set_time_to_live(time_to_live - 1);
        self.set_header_checksum(updated);
        time_to_live - 1
    }

    /// The options and padding, writable.
    pub fn options_mut(&mut self) -> &mut [u8] {
        let header_length = self.header_length();
        &mut self.buffer.as_mut()[HEADER_LENGTH..header_length]
    }

    /// The data after the header up to Total Length (or the buffer's end),
    /// writable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let header_length = self.header_length();
        let end = usize::from(self.total_length()).min(self.buffer.as_ref().len());
        &mut self.buffer.as_mut()[header_length..end]
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for Ipv4Packet<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// An IPv4 header without options, validated: what the translator reads
/// from a packet and writes into one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Repr {
    /// The source address.
    pub source_address: Ipv4Addr,
    /// The destination address.
    pub destination_address: Ipv4Addr,
    /// The protocol of the data.
    pub protocol: IpProtocol,
    /// The data length in bytes: Total Length less the header length
    /// (options excluded on input too). At most 65515 to emit.
    pub payload_length: usize,
    /// Time to Live.
    pub time_to_live: u8,
    /// The Type of Service octet (DSCP and ECN).
    pub traffic_class: u8,
    /// The Identification field.
    pub identification: u16,
    /// DF.
    pub dont_fragment: bool,
    /// MF.
    pub more_fragments: bool,
    /// The fragment offset in bytes: a multiple of 8, at most
    /// [`MAX_FRAGMENT_OFFSET`].
    pub fragment_offset: u16,
}

impl Ipv4Repr {
    /// Validates a received header (RFC 1812 §5.2.2: the length tests of
    /// [`Ipv4Packet::check_len`], version 4, the checksum) and reads it.
    ///
    /// Options are skipped, not rejected: read them from the packet. The
    /// reserved flag is ignored.
    #[inline(always)]
    pub fn parse<T: AsRef<[u8]>>(packet: &Ipv4Packet<T>) -> Result<Ipv4Repr, Ipv4Error> {
        packet.check_len()?;
        if packet.version() != 4 {
            return Err(Ipv4Error::Version(packet.version()));
        }
        if !packet.verify_checksum() {
            return Err(Ipv4Error::Checksum);
        }
        Ok(Ipv4Repr {
            source_address: packet.source_address(),
            destination_address: packet.destination_address(),
            protocol: packet.protocol(),
            payload_length: usize::from(packet.total_length()) - packet.header_length(),
            time_to_live: packet.time_to_live(),
            traffic_class: packet.traffic_class(),
            identification: packet.identification(),
            dont_fragment: packet.dont_fragment(),
            more_fragments: packet.more_fragments(),
            fragment_offset: packet.fragment_offset(),
        })
    }

    /// The length of the emitted header: always 20 (no options).
    pub const fn buffer_len(&self) -> usize {
        HEADER_LENGTH
    }

    /// Writes all 20 header bytes (version 4, IHL 5, the reserved flag
    /// clear) and the checksum. The payload is the caller's to write.
    ///
    /// # Panics
    ///
    /// If the buffer is shorter than 20 bytes, `payload_length` exceeds
    /// 65515, or `fragment_offset` is not a multiple of 8 up to
    /// [`MAX_FRAGMENT_OFFSET`].
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Ipv4Packet<T>) {
        let header: &mut [u8; HEADER_LENGTH] = (&mut packet.buffer.as_mut()[..HEADER_LENGTH])
            .try_into()
            .expect("20 bytes");
        self.write_header(header);
    }

    /// [`Ipv4Repr::emit`] into a header of its own, always inlined: a
    /// caller whose fields are constants (a translator's fast path) gets
    /// them folded in.
    ///
    /// # Panics
    ///
    /// If `payload_length` exceeds 65515, or `fragment_offset` is not a
    /// multiple of 8 up to [`MAX_FRAGMENT_OFFSET`].
    #[inline(always)]
    pub fn write_header(&self, header: &mut [u8; HEADER_LENGTH]) {
        let total_length = u16::try_from(HEADER_LENGTH + self.payload_length)
            .expect("an IPv4 payload is at most 65515 bytes");
        assert!(
            self.fragment_offset.is_multiple_of(8) && self.fragment_offset <= MAX_FRAGMENT_OFFSET,
            "an IPv4 fragment offset is a multiple of 8 up to 65528, not {}",
            self.fragment_offset
        );
        let mut flags_and_fragment_offset = self.fragment_offset / 8;
        if self.dont_fragment {
            flags_and_fragment_offset |= DONT_FRAGMENT;
        }
        if self.more_fragments {
            flags_and_fragment_offset |= MORE_FRAGMENTS;
        }
        // Five 32-bit words built in registers and written once: the
        // translator emits a header per packet.
        let protocol: u8 = self.protocol.into();
        let first =
            u32::from_be_bytes([0x40 | (HEADER_LENGTH / 4) as u8, self.traffic_class, 0, 0])
                | u32::from(total_length);
        let second = u32::from(self.identification) << 16 | u32::from(flags_and_fragment_offset);
        let time_to_live_and_protocol = u16::from_be_bytes([self.time_to_live, protocol]);
        let source = self.source_address.to_bits();
        let destination = self.destination_address.to_bits();
        // The one's complement sum of the header words (a 32-bit word is
        // two: 2^16 ≡ 1 modulo 0xffff). Never 0 (the first word is 0x45xx),
        // so this is the value that summing the bytes gives (RFC 1071).
        let words = u64::from(first)
            + u64::from(second)
            + u64::from(time_to_live_and_protocol)
            + u64::from(source)
            + u64::from(destination);
        let header_checksum = !checksum::fold(words);
        let third = u32::from(time_to_live_and_protocol) << 16 | u32::from(header_checksum);
        for (bytes, word) in
            header
                .chunks_exact_mut(4)
                .zip([first, second, third, source, destination])
        {
            bytes.copy_from_slice(&word.to_be_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::vec;
    use std::vec::Vec;

    use super::*;

    /// A UDP datagram's IPv4 header, 192.168.0.1 → 192.168.0.199, Total
    /// Length 115, ID 0, DF, TTL 64, checksum 0xb861: the widely quoted
    /// header checksum example (its value checked here by recomputation).
    const UDP_HEADER: [u8; 20] = [
        0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8, 0x00,
        0x01, 0xc0, 0xa8, 0x00, 0xc7,
    ];

    /// The full datagram of [`UDP_HEADER`]: the header, a UDP header
    /// (port 53 → 53, length 95, checksum 0) and 87 zero bytes.
    fn udp_datagram() -> Vec<u8> {
        let mut datagram = vec![0u8; 115];
        datagram[..20].copy_from_slice(&UDP_HEADER);
        datagram[20..28].copy_from_slice(&[0x00, 0x35, 0x00, 0x35, 0x00, 0x5f, 0x00, 0x00]);
        datagram
    }

    /// A fragment with options: IHL 6 (NOP, NOP, NOP, End of Options List),
    /// TOS 0xb8 (DSCP 46 EF), Total Length 32, ID 0xbeef, MF, offset 1480,
    /// TTL 1, ICMP, 198.51.100.7 → 203.0.113.9, then 8 data bytes.
    const FRAGMENT_WITH_OPTIONS: [u8; 32] = [
        0x46, 0xb8, 0x00, 0x20, 0xbe, 0xef, 0x20, 0xb9, 0x01, 0x01, 0x70, 0x37, 0xc6, 0x33, 0x64,
        0x07, 0xcb, 0x00, 0x71, 0x09, 0x01, 0x01, 0x01, 0x00, 1, 2, 3, 4, 5, 6, 7, 8,
    ];

    fn udp_repr() -> Ipv4Repr {
        Ipv4Repr {
            source_address: Ipv4Addr::new(192, 168, 0, 1),
            destination_address: Ipv4Addr::new(192, 168, 0, 199),
            protocol: IpProtocol::Udp,
            payload_length: 95,
            time_to_live: 64,
            traffic_class: 0,
            identification: 0,
            dont_fragment: true,
            more_fragments: false,
            fragment_offset: 0,
        }
    }

    #[test]
    fn reads_the_udp_header() {
        let datagram = udp_datagram();
        let packet = Ipv4Packet::new_checked(&datagram[..]).unwrap();
        assert_eq!(packet.version(), 4);
        assert_eq!(packet.header_length(), 20);
        assert_eq!(packet.traffic_class(), 0);
        assert_eq!(packet.total_length(), 115);
        assert_eq!(packet.identification(), 0);
        assert!(!packet.reserved_flag());
        assert!(packet.dont_fragment());
        assert!(!packet.more_fragments());
        assert_eq!(packet.fragment_offset(), 0);
        assert!(!packet.is_fragment());
        assert!(!packet.is_first_fragment());
        assert!(packet.is_atomic());
        assert_eq!(packet.time_to_live(), 64);
        assert_eq!(packet.protocol(), IpProtocol::Udp);
        assert_eq!(packet.header_checksum(), 0xb861);
        assert!(packet.verify_checksum());
        assert_eq!(packet.source_address(), Ipv4Addr::new(192, 168, 0, 1));
        assert_eq!(
            packet.destination_address(),
            Ipv4Addr::new(192, 168, 0, 199)
        );
        assert!(packet.options().is_empty());
        assert_eq!(packet.payload().len(), 95);
        assert_eq!(&packet.payload()[..4], &[0x00, 0x35, 0x00, 0x35]);
        assert_eq!(Ipv4Repr::parse(&packet), Ok(udp_repr()));
    }

    #[test]
    fn fill_checksum_reproduces_the_known_value() {
        let mut datagram = udp_datagram();
        let mut packet = Ipv4Packet::new_unchecked(&mut datagram[..]);
        packet.set_header_checksum(0x1234);
        assert!(!packet.verify_checksum());
        packet.fill_checksum();
        assert_eq!(packet.header_checksum(), 0xb861);
    }

    #[test]
    fn emit_writes_every_header_byte() {
        let mut buffer = [0xffu8; 20];
        let repr = udp_repr();
        assert_eq!(repr.buffer_len(), 20);
        repr.emit(&mut Ipv4Packet::new_unchecked(&mut buffer[..]));
        assert_eq!(buffer, UDP_HEADER);
    }

    /// The checksum emit computes from the fields is the one a pass over
    /// the written bytes gives, for extreme and varied field values.
    #[test]
    fn emitted_checksum_matches_a_full_sum() {
        let mut state = 0x9e37_79b9_u32;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state
        };
        for round in 0..2000 {
            let random = [next(), next(), next(), next()];
            let extreme = round % 2 == 0;
            let repr = Ipv4Repr {
                source_address: Ipv4Addr::from_bits(if extreme { u32::MAX } else { random[0] }),
                destination_address: Ipv4Addr::from_bits(if extreme { 0 } else { random[1] }),
                protocol: IpProtocol::from(random[2] as u8),
                payload_length: (random[2] >> 8) as usize % 65516,
                time_to_live: if extreme {
                    255
                } else {
                    (random[2] >> 24) as u8
                },
                traffic_class: random[3] as u8,
                identification: (random[3] >> 8) as u16,
                dont_fragment: random[3] & (1 << 24) != 0,
                more_fragments: random[3] & (1 << 25) != 0,
                fragment_offset: ((random[3] >> 26) as u16) * 8 * 97,
            };
            let mut buffer = [0u8; 20];
            repr.emit(&mut Ipv4Packet::new_unchecked(&mut buffer[..]));
            let mut packet = Ipv4Packet::new_unchecked(&mut buffer[..]);
            assert!(packet.verify_checksum(), "{repr:?}");
            let emitted = packet.header_checksum();
            packet.fill_checksum();
            assert_eq!(packet.header_checksum(), emitted, "{repr:?}");
        }
    }

    #[test]
    fn emit_leaves_the_payload_alone() {
        let mut buffer = [0xffu8; 115];
        udp_repr().emit(&mut Ipv4Packet::new_unchecked(&mut buffer[..]));
        assert_eq!(buffer[..20], UDP_HEADER);
        assert!(buffer[20..].iter().all(|&byte| byte == 0xff));
    }

    #[test]
    fn reads_a_fragment_with_options() {
        let packet = Ipv4Packet::new_checked(&FRAGMENT_WITH_OPTIONS[..]).unwrap();
        assert_eq!(packet.header_length(), 24);
        assert_eq!(packet.traffic_class(), 0xb8);
        assert_eq!(packet.dscp(), 46);
        assert_eq!(packet.ecn(), 0);
        assert_eq!(packet.identification(), 0xbeef);
        assert!(!packet.dont_fragment());
        assert!(packet.more_fragments());
        assert_eq!(packet.fragment_offset(), 1480);
        assert!(packet.is_fragment());
        assert!(!packet.is_first_fragment());
        assert!(!packet.is_atomic());
        assert_eq!(packet.protocol(), IpProtocol::Icmp);
        assert!(packet.verify_checksum());
        assert_eq!(packet.options(), &[1, 1, 1, 0]);
        assert_eq!(packet.payload(), &[1, 2, 3, 4, 5, 6, 7, 8]);
        let repr = Ipv4Repr::parse(&packet).unwrap();
        assert_eq!(repr.payload_length, 8);
        assert_eq!(repr.fragment_offset, 1480);
        assert!(repr.more_fragments);
        // Emitting drops the options: the datagram shrinks by 4 bytes.
        let mut buffer = [0xffu8; 28];
        repr.emit(&mut Ipv4Packet::new_unchecked(&mut buffer[..]));
        let emitted = Ipv4Packet::new_checked(&buffer[..]).unwrap();
        assert_eq!(emitted.total_length(), 28);
        assert_eq!(Ipv4Repr::parse(&emitted), Ok(repr));
    }

    #[test]
    fn first_fragment_and_unknown_protocol() {
        let mut datagram = udp_datagram();
        let mut packet = Ipv4Packet::new_unchecked(&mut datagram[..]);
        packet.set_dont_fragment(false);
        packet.set_more_fragments(true);
        packet.buffer[field::PROTOCOL] = 253;
        packet.fill_checksum();
        assert!(packet.is_fragment());
        assert!(packet.is_first_fragment());
        assert!(!packet.is_atomic());
        assert_eq!(packet.protocol(), IpProtocol::Unknown(253));
        let repr = Ipv4Repr::parse(&packet).unwrap();
        assert_eq!(repr.protocol, IpProtocol::Unknown(253));
    }

    /// Every prefix shorter than Total Length is rejected; the whole
    /// datagram and any link-layer padding after it are accepted.
    #[test]
    fn truncation_at_every_length() {
        let mut datagram = udp_datagram();
        for length in 0..datagram.len() {
            let error = Ipv4Packet::new_checked(&datagram[..length]).unwrap_err();
            let expected = if length < 20 {
                Ipv4Error::Truncated
            } else {
                Ipv4Error::TotalLengthBeyondBuffer
            };
            assert_eq!(error, expected, "length {length}");
        }
        assert!(Ipv4Packet::new_checked(&datagram[..]).is_ok());
        datagram.extend_from_slice(&[0xff; 10]);
        let padded = Ipv4Packet::new_checked(&datagram[..]).unwrap();
        assert_eq!(padded.payload().len(), 95);
        assert_eq!(Ipv4Repr::parse(&padded).unwrap().payload_length, 95);
        for length in 0..FRAGMENT_WITH_OPTIONS.len() {
            let result = Ipv4Packet::new_checked(&FRAGMENT_WITH_OPTIONS[..length]);
            let expected = match length {
                0..20 => Ipv4Error::Truncated,
                20..24 => Ipv4Error::HeaderBeyondBuffer,
                _ => Ipv4Error::TotalLengthBeyondBuffer,
            };
            assert_eq!(result.unwrap_err(), expected, "length {length}");
        }
    }

    #[test]
    fn header_length_field_out_of_range() {
        for header_words in 0..5 {
            let mut datagram = udp_datagram();
            datagram[0] = 0x40 | header_words;
            assert_eq!(
                Ipv4Packet::new_checked(&datagram[..]).unwrap_err(),
                Ipv4Error::HeaderLengthTooShort
            );
        }
        // IHL 15 (60 bytes) in a 40-byte buffer whose Total Length says 40.
        let mut short = udp_datagram();
        short.truncate(40);
        short[0] = 0x4f;
        short[2..4].copy_from_slice(&40u16.to_be_bytes());
        assert_eq!(
            Ipv4Packet::new_checked(&short[..]).unwrap_err(),
            Ipv4Error::HeaderBeyondBuffer
        );
        // IHL 15 with Total Length 59: total shorter than the header.
        let mut datagram = udp_datagram();
        datagram[0] = 0x4f;
        datagram[2..4].copy_from_slice(&59u16.to_be_bytes());
        assert_eq!(
            Ipv4Packet::new_checked(&datagram[..]).unwrap_err(),
            Ipv4Error::TotalLengthBelowHeader
        );
    }

    #[test]
    fn total_length_field_out_of_range() {
        for total_length in [0u16, 1, 19] {
            let mut datagram = udp_datagram();
            datagram[2..4].copy_from_slice(&total_length.to_be_bytes());
            assert_eq!(
                Ipv4Packet::new_checked(&datagram[..]).unwrap_err(),
                Ipv4Error::TotalLengthBelowHeader
            );
        }
        for total_length in [116u16, 0x8000, 0xffff] {
            let mut datagram = udp_datagram();
            datagram[2..4].copy_from_slice(&total_length.to_be_bytes());
            assert_eq!(
                Ipv4Packet::new_checked(&datagram[..]).unwrap_err(),
                Ipv4Error::TotalLengthBeyondBuffer
            );
        }
        // Total Length exactly the header: an empty payload.
        let mut datagram = udp_datagram();
        datagram[2..4].copy_from_slice(&20u16.to_be_bytes());
        let mut packet = Ipv4Packet::new_unchecked(&mut datagram[..]);
        packet.fill_checksum();
        let packet = Ipv4Packet::new_checked(&datagram[..]).unwrap();
        assert!(packet.payload().is_empty());
        assert_eq!(Ipv4Repr::parse(&packet).unwrap().payload_length, 0);
    }

    #[test]
    fn wrong_version_is_rejected_even_with_a_good_checksum() {
        for version in [0u8, 5, 6, 15] {
            let mut datagram = udp_datagram();
            let mut packet = Ipv4Packet::new_unchecked(&mut datagram[..]);
            packet.set_version(version);
            packet.fill_checksum();
            assert_eq!(packet.version(), version);
            assert_eq!(packet.header_length(), 20);
            assert_eq!(Ipv4Repr::parse(&packet), Err(Ipv4Error::Version(version)));
        }
    }

    #[test]
    fn bad_checksum_is_rejected() {
        for byte in 0..20 {
            let mut datagram = udp_datagram();
            // Leave IHL and Total Length alone so only the checksum fails.
            if matches!(byte, 0 | 2 | 3) {
                continue;
            }
            datagram[byte] ^= 0x10;
            let packet = Ipv4Packet::new_checked(&datagram[..]).unwrap();
            assert_eq!(
                Ipv4Repr::parse(&packet),
                Err(Ipv4Error::Checksum),
                "byte {byte}"
            );
        }
    }

    /// The header of an ICMP error's quoted packet: Total Length says 115,
    /// only the header and 8 data bytes are there.
    #[test]
    fn check_header_accepts_a_quoted_packet() {
        let datagram = udp_datagram();
        let quoted = &datagram[..28];
        let packet = Ipv4Packet::new_unchecked(quoted);
        assert_eq!(packet.check_len(), Err(Ipv4Error::TotalLengthBeyondBuffer));
        assert_eq!(packet.check_header(), Ok(()));
        assert_eq!(packet.payload().len(), 8);
        assert!(packet.verify_checksum());
        for length in 0..20 {
            assert_eq!(
                Ipv4Packet::new_unchecked(&datagram[..length]).check_header(),
                Err(Ipv4Error::Truncated)
            );
        }
    }

    #[test]
    fn setters_round_trip_and_keep_their_neighbours() {
        let mut buffer = [0u8; 24];
        let mut packet = Ipv4Packet::new_unchecked(&mut buffer[..]);
        packet.set_version(4);
        packet.set_header_length(24);
        packet.set_traffic_class(0x2e);
        packet.set_total_length(24);
        packet.set_identification(0xabcd);
        packet.set_fragment_offset(MAX_FRAGMENT_OFFSET);
        packet.set_dont_fragment(true);
        packet.set_more_fragments(true);
        packet.set_more_fragments(false);
        packet.set_time_to_live(7);
        packet.set_protocol(IpProtocol::Tcp);
        packet.set_source_address(Ipv4Addr::new(192, 0, 2, 1));
        packet.set_destination_address(Ipv4Addr::new(198, 51, 100, 2));
        packet.options_mut().copy_from_slice(&[1, 1, 1, 0]);
        packet.fill_checksum();
        assert!(packet.payload_mut().is_empty());
        assert_eq!(packet.version(), 4);
        assert_eq!(packet.header_length(), 24);
        assert_eq!(packet.dscp(), 11);
        assert_eq!(packet.ecn(), 2);
        assert_eq!(packet.identification(), 0xabcd);
        assert_eq!(packet.fragment_offset(), MAX_FRAGMENT_OFFSET);
        assert!(packet.dont_fragment());
        assert!(!packet.more_fragments());
        assert_eq!(packet.time_to_live(), 7);
        assert_eq!(packet.protocol(), IpProtocol::Tcp);
        assert!(packet.verify_checksum());
        packet.set_fragment_offset(8);
        assert!(packet.dont_fragment());
        assert_eq!(packet.fragment_offset(), 8);
        let packet = Ipv4Packet::new_checked(&buffer[..]).unwrap();
        assert_eq!(packet.options(), &[1, 1, 1, 0]);
    }

    #[test]
    #[should_panic(expected = "multiple of 8")]
    fn unaligned_fragment_offset_panics() {
        let mut buffer = [0u8; 20];
        Ipv4Packet::new_unchecked(&mut buffer[..]).set_fragment_offset(12);
    }

    #[test]
    #[should_panic(expected = "at most 65515")]
    fn oversized_payload_panics_in_emit() {
        let mut buffer = [0u8; 20];
        let repr = Ipv4Repr {
            payload_length: 65516,
            ..udp_repr()
        };
        repr.emit(&mut Ipv4Packet::new_unchecked(&mut buffer[..]));
    }

    /// RFC 1624 for every TTL, with two protocols: the incremental checksum
    /// equals a full recomputation.
    #[test]
    fn decrement_time_to_live_matches_recomputation() {
        for protocol in [IpProtocol::Udp, IpProtocol::Unknown(0xff)] {
            for time_to_live in 1..=255u8 {
                let mut datagram = udp_datagram();
                let mut packet = Ipv4Packet::new_unchecked(&mut datagram[..]);
                packet.set_protocol(protocol);
                packet.set_time_to_live(time_to_live);
                packet.fill_checksum();
                assert_eq!(packet.decrement_time_to_live(), time_to_live - 1);
                assert_eq!(packet.time_to_live(), time_to_live - 1);
                let incremental = packet.header_checksum();
                packet.fill_checksum();
                assert_eq!(incremental, packet.header_checksum(), "TTL {time_to_live}");
            }
        }
        let mut datagram = udp_datagram();
        let mut packet = Ipv4Packet::new_unchecked(&mut datagram[..]);
        packet.set_time_to_live(0);
        packet.fill_checksum();
        let before = packet.header_checksum();
        assert_eq!(packet.decrement_time_to_live(), 0);
        assert_eq!(packet.time_to_live(), 0);
        assert_eq!(packet.header_checksum(), before);
    }

    #[test]
    fn round_trips() {
        let reprs = [
            udp_repr(),
            Ipv4Repr {
                source_address: Ipv4Addr::UNSPECIFIED,
                destination_address: Ipv4Addr::BROADCAST,
                protocol: IpProtocol::Unknown(253),
                payload_length: 0,
                time_to_live: 0,
                traffic_class: 0xff,
                identification: 0xffff,
                dont_fragment: false,
                more_fragments: true,
                fragment_offset: MAX_FRAGMENT_OFFSET,
            },
            Ipv4Repr {
                protocol: IpProtocol::Icmp,
                payload_length: 65515,
                time_to_live: 255,
                dont_fragment: false,
                fragment_offset: 1232,
                ..udp_repr()
            },
        ];
        for repr in reprs {
            let mut buffer = vec![0xffu8; HEADER_LENGTH + repr.payload_length];
            repr.emit(&mut Ipv4Packet::new_unchecked(&mut buffer[..]));
            let packet = Ipv4Packet::new_checked(&buffer[..]).unwrap();
            assert!(!packet.reserved_flag());
            assert_eq!(Ipv4Repr::parse(&packet), Ok(repr));
        }
    }

    /// Every value of the first four bytes (version, IHL, TOS, part of
    /// Total Length) over the fragment fixture: `check_len` decides, and
    /// after it succeeds no accessor panics.
    #[test]
    fn accessors_never_panic_after_check_len() {
        for first in 0..=255u8 {
            for total_length in 0..=40u16 {
                let mut bytes = FRAGMENT_WITH_OPTIONS;
                bytes[0] = first;
                bytes[2..4].copy_from_slice(&total_length.to_be_bytes());
                let Ok(packet) = Ipv4Packet::new_checked(&bytes[..]) else {
                    continue;
                };
                let _ = (packet.options(), packet.payload(), packet.verify_checksum());
                let _ = (
                    packet.is_fragment(),
                    packet.protocol(),
                    Ipv4Repr::parse(&packet),
                );
                assert!(packet.header_length() <= usize::from(packet.total_length()));
            }
        }
    }

    #[test]
    fn errors_display() {
        assert_eq!(std::format!("{}", Ipv4Error::Version(6)), "IPv4: version 6");
    }
}
