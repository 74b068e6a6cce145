//! ARP (RFC 826) for Ethernet and IPv4, the translator's uplink address resolution: a zero-copy view and the one form pure6 speaks.
//!
//! Shaped like smoltcp's wire types (smoltcp's own ARP needs the IPv4
//! feature the router is built without): [`ArpPacket`] reads and writes the
//! fields in place, [`ArpRepr`] is the validated value.
//!
//! Only hardware type 1 (Ethernet, 6-byte addresses) with protocol type
//! 0x0800 (IPv4, 4-byte addresses) is accepted: RFC 826's "?Do I have the
//! hardware type in ar$hrd?" and "?Do I speak the protocol in ar$pro?"
//! checks, plus the lengths those types fix. Operations are request (1)
//! and reply (2); RFC 5227 §2.1.1 probes (sender address 0.0.0.0) and
//! gratuitous ARP (sender == target) parse like any other request or reply,
//! and the caller decides what they mean.
//!
//! The packet is 28 bytes; Ethernet pads the frame to 60 bytes, so a
//! longer buffer is accepted and the rest ignored.

use core::fmt;
use core::net::Ipv4Addr;

use smoltcp::wire::EthernetAddress;

/// The length of an Ethernet/IPv4 ARP packet.
pub const PACKET_LENGTH: usize = 28;

/// `ar$hrd` for Ethernet (RFC 826; IANA ARP hardware types).
pub const HARDWARE_ETHERNET: u16 = 1;

/// `ar$pro` for IPv4: its ethertype.
pub const PROTOCOL_IPV4: u16 = 0x0800;

mod field {
    use core::ops::Range;

    pub const HARDWARE_TYPE: Range<usize> = 0..2;
    pub const PROTOCOL_TYPE: Range<usize> = 2..4;
    pub const HARDWARE_LENGTH: usize = 4;
    pub const PROTOCOL_LENGTH: usize = 5;
    pub const OPERATION: Range<usize> = 6..8;
    pub const SENDER_HARDWARE_ADDRESS: Range<usize> = 8..14;
    pub const SENDER_PROTOCOL_ADDRESS: Range<usize> = 14..18;
    pub const TARGET_HARDWARE_ADDRESS: Range<usize> = 18..24;
    pub const TARGET_PROTOCOL_ADDRESS: Range<usize> = 24..28;
}

/// Why bytes are not an ARP packet pure6 handles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArpError {
    /// Shorter than [`PACKET_LENGTH`].
    Truncated,
    /// A hardware type other than Ethernet, or a hardware length other than 6.
    UnsupportedHardware,
    /// A protocol type other than IPv4, or a protocol length other than 4.
    UnsupportedProtocol,
    /// An operation other than request (1) or reply (2).
    UnsupportedOperation,
}

impl fmt::Display for ArpError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            ArpError::Truncated => "ARP packet shorter than 28 bytes",
            ArpError::UnsupportedHardware => "ARP hardware is not Ethernet",
            ArpError::UnsupportedProtocol => "ARP protocol is not IPv4",
            ArpError::UnsupportedOperation => "ARP operation is not request or reply",
        })
    }
}

/// The ARP operation (`ar$op`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArpOperation {
    /// `ares_op$REQUEST` (1).
    Request,
    /// `ares_op$REPLY` (2).
    Reply,
}

impl ArpOperation {
    fn value(self) -> u16 {
        match self {
            ArpOperation::Request => 1,
            ArpOperation::Reply => 2,
        }
    }
}

/// A read/write view of an ARP packet in a byte buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> ArpPacket<T> {
    /// Wraps `buffer` without checking its length: accessors may panic on
    /// a short buffer. Use [`ArpPacket::new_checked`] for received bytes.
    pub const fn new_unchecked(buffer: T) -> ArpPacket<T> {
        ArpPacket { buffer }
    }

    /// Wraps `buffer` after checking it holds [`PACKET_LENGTH`] bytes, after
    /// which no accessor panics.
    pub fn new_checked(buffer: T) -> Result<ArpPacket<T>, ArpError> {
        let packet = ArpPacket::new_unchecked(buffer);
        if packet.buffer.as_ref().len() < PACKET_LENGTH {
            return Err(ArpError::Truncated);
        }
        Ok(packet)
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn read_u16(&self, range: core::ops::Range<usize>) -> u16 {
        let bytes = &self.buffer.as_ref()[range];
        u16::from_be_bytes([bytes[0], bytes[1]])
    }

    fn read_ipv4(&self, range: core::ops::Range<usize>) -> Ipv4Addr {
        let bytes = &self.buffer.as_ref()[range];
        Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3])
    }

    /// `ar$hrd`.
    pub fn hardware_type(&self) -> u16 {
        self.read_u16(field::HARDWARE_TYPE)
    }

    /// `ar$pro`.
    pub fn protocol_type(&self) -> u16 {
        self.read_u16(field::PROTOCOL_TYPE)
    }

    /// `ar$hln`.
    pub fn hardware_length(&self) -> u8 {
        self.buffer.as_ref()[field::HARDWARE_LENGTH]
    }

    /// `ar$pln`.
    pub fn protocol_length(&self) -> u8 {
        self.buffer.as_ref()[field::PROTOCOL_LENGTH]
    }

    /// `ar$op`, as a number.
    pub fn operation(&self) -> u16 {
        self.read_u16(field::OPERATION)
    }

    /// `ar$sha`.
    pub fn sender_hardware_address(&self) -> EthernetAddress {
        EthernetAddress::from_bytes(&self.buffer.as_ref()[field::SENDER_HARDWARE_ADDRESS])
    }

    /// `ar$spa`.
    pub fn sender_protocol_address(&self) -> Ipv4Addr {
        self.read_ipv4(field::SENDER_PROTOCOL_ADDRESS)
    }

    /// `ar$tha`.
    pub fn target_hardware_address(&self) -> EthernetAddress {
        EthernetAddress::from_bytes(&self.buffer.as_ref()[field::TARGET_HARDWARE_ADDRESS])
    }

    /// `ar$tpa`.
    pub fn target_protocol_address(&self) -> Ipv4Addr {
        self.read_ipv4(field::TARGET_PROTOCOL_ADDRESS)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> ArpPacket<T> {
    fn write_u16(&mut self, range: core::ops::Range<usize>, value: u16) {
        self.buffer.as_mut()[range].copy_from_slice(&value.to_be_bytes());
    }

    /// Sets `ar$hrd`.
    pub fn set_hardware_type(&mut self, value: u16) {
        self.write_u16(field::HARDWARE_TYPE, value);
    }

    /// Sets `ar$pro`.
    pub fn set_protocol_type(&mut self, value: u16) {
        self.write_u16(field::PROTOCOL_TYPE, value);
    }

    /// Sets `ar$hln`.
    pub fn set_hardware_length(&mut self, value: u8) {
        self.buffer.as_mut()[field::HARDWARE_LENGTH] = value;
    }

    /// Sets `ar$pln`.
    pub fn set_protocol_length(&mut self, value: u8) {
        self.buffer.as_mut()[field::PROTOCOL_LENGTH] = value;
    }

    /// Sets `ar$op`.
    pub fn set_operation(&mut self, value: u16) {
        self.write_u16(field::OPERATION, value);
    }

    /// Sets `ar$sha`.
    pub fn set_sender_hardware_address(&mut self, address: EthernetAddress) {
        self.buffer.as_mut()[field::SENDER_HARDWARE_ADDRESS].copy_from_slice(address.as_bytes());
    }

    /// Sets `ar$spa`.
    pub fn set_sender_protocol_address(&mut self, address: Ipv4Addr) {
        self.buffer.as_mut()[field::SENDER_PROTOCOL_ADDRESS].copy_from_slice(&address.octets());
    }

    /// Sets `ar$tha`.
    pub fn set_target_hardware_address(&mut self, address: EthernetAddress) {
        self.buffer.as_mut()[field::TARGET_HARDWARE_ADDRESS].copy_from_slice(address.as_bytes());
    }

    /// Sets `ar$tpa`.
    pub fn set_target_protocol_address(&mut self, address: Ipv4Addr) {
        self.buffer.as_mut()[field::TARGET_PROTOCOL_ADDRESS].copy_from_slice(&address.octets());
    }
}

/// An Ethernet/IPv4 ARP packet, validated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArpRepr {
    /// Request or reply.
    pub operation: ArpOperation,
    /// `ar$sha`.
    pub sender_hardware_address: EthernetAddress,
    /// `ar$spa`.
    pub sender_protocol_address: Ipv4Addr,
    /// `ar$tha` (zero in a request).
    pub target_hardware_address: EthernetAddress,
    /// `ar$tpa`.
    pub target_protocol_address: Ipv4Addr,
}

impl ArpRepr {
    /// Validates an Ethernet/IPv4 request or reply (RFC 826 "Packet
    /// Reception": hardware type, protocol type, and the lengths they fix).
    pub fn parse<T: AsRef<[u8]>>(packet: &ArpPacket<T>) -> Result<ArpRepr, ArpError> {
        if packet.buffer.as_ref().len() < PACKET_LENGTH {
            return Err(ArpError::Truncated);
        }
        if packet.hardware_type() != HARDWARE_ETHERNET || packet.hardware_length() != 6 {
            return Err(ArpError::UnsupportedHardware);
        }
        if packet.protocol_type() != PROTOCOL_IPV4 || packet.protocol_length() != 4 {
            return Err(ArpError::UnsupportedProtocol);
        }
        let operation = match packet.operation() {
            1 => ArpOperation::Request,
            2 => ArpOperation::Reply,
            _ => return Err(ArpError::UnsupportedOperation),
        };
        Ok(ArpRepr {
            operation,
            sender_hardware_address: packet.sender_hardware_address(),
            sender_protocol_address: packet.sender_protocol_address(),
            target_hardware_address: packet.target_hardware_address(),
            target_protocol_address: packet.target_protocol_address(),
        })
    }

    /// The bytes [`ArpRepr::emit`] writes.
    pub const fn buffer_len(&self) -> usize {
        PACKET_LENGTH
    }

    /// Writes the packet into the first [`PACKET_LENGTH`] bytes of `packet`
    /// (which must hold them).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut ArpPacket<T>) {
        packet.set_hardware_type(HARDWARE_ETHERNET);
        packet.set_protocol_type(PROTOCOL_IPV4);
        packet.set_hardware_length(6);
        packet.set_protocol_length(4);
        packet.set_operation(self.operation.value());
        packet.set_sender_hardware_address(self.sender_hardware_address);
        packet.set_sender_protocol_address(self.sender_protocol_address);
        packet.set_target_hardware_address(self.target_hardware_address);
        packet.set_target_protocol_address(self.target_protocol_address);
    }

    /// The reply to this request from `own_hardware_address` (RFC 826:
    /// "swap the hardware and protocol fields, putting the local hardware
    /// and protocol addresses in the sender fields", opcode reply).
    pub fn reply(&self, own_hardware_address: EthernetAddress) -> ArpRepr {
        ArpRepr {
            operation: ArpOperation::Reply,
            sender_hardware_address: own_hardware_address,
            sender_protocol_address: self.target_protocol_address,
            target_hardware_address: self.sender_hardware_address,
            target_protocol_address: self.sender_protocol_address,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{ArpEthIpv4Packet, ArpHardwareId, ArpOperation as EtherparseOperation};

    const HOST_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x10];
    const ROUTER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];

    fn request_bytes() -> [u8; PACKET_LENGTH] {
        ArpEthIpv4Packet {
            operation: EtherparseOperation::REQUEST,
            sender_mac: HOST_MAC,
            sender_ipv4: [192, 0, 2, 10],
            target_mac: [0; 6],
            target_ipv4: [192, 0, 2, 1],
        }
        .to_bytes()
    }

    #[test]
    fn parses_a_request_built_by_etherparse() {
        let bytes = request_bytes();
        let repr = ArpRepr::parse(&ArpPacket::new_checked(&bytes[..]).unwrap()).unwrap();
        assert_eq!(repr.operation, ArpOperation::Request);
        assert_eq!(repr.sender_hardware_address, EthernetAddress(HOST_MAC));
        assert_eq!(repr.sender_protocol_address, Ipv4Addr::new(192, 0, 2, 10));
        assert_eq!(repr.target_protocol_address, Ipv4Addr::new(192, 0, 2, 1));
    }

    #[test]
    fn reply_swaps_sender_and_target_as_rfc_826_says() {
        let bytes = request_bytes();
        let request = ArpRepr::parse(&ArpPacket::new_unchecked(&bytes[..])).unwrap();
        let reply = request.reply(EthernetAddress(ROUTER_MAC));
        let mut buffer = [0xa5u8; PACKET_LENGTH];
        reply.emit(&mut ArpPacket::new_unchecked(&mut buffer[..]));
        let expected = ArpEthIpv4Packet {
            operation: EtherparseOperation::REPLY,
            sender_mac: ROUTER_MAC,
            sender_ipv4: [192, 0, 2, 1],
            target_mac: HOST_MAC,
            target_ipv4: [192, 0, 2, 10],
        };
        let parsed = etherparse::ArpPacket::from_slice(&buffer).unwrap();
        assert_eq!(parsed.hw_addr_type, ArpHardwareId::ETHERNET);
        assert_eq!(parsed.try_eth_ipv4().unwrap(), expected);
    }

    #[test]
    fn ethernet_padding_is_ignored() {
        let mut padded = [0u8; 46];
        padded[..PACKET_LENGTH].copy_from_slice(&request_bytes());
        assert!(ArpRepr::parse(&ArpPacket::new_checked(&padded[..]).unwrap()).is_ok());
    }

    #[test]
    fn foreign_hardware_protocol_and_operations_are_refused() {
        let cases: [(usize, u8, ArpError); 5] = [
            (1, 6, ArpError::UnsupportedHardware), // hardware type 6 (IEEE 802)
            (4, 8, ArpError::UnsupportedHardware), // hardware length 8
            (2, 0x86, ArpError::UnsupportedProtocol), // protocol 0x86dd
            (5, 16, ArpError::UnsupportedProtocol), // protocol length 16
            (7, 3, ArpError::UnsupportedOperation), // RARP request
        ];
        for (offset, value, error) in cases {
            let mut bytes = request_bytes();
            bytes[offset] = value;
            let packet = ArpPacket::new_checked(&bytes[..]).unwrap();
            assert_eq!(
                ArpRepr::parse(&packet),
                Err(error),
                "byte {offset} = {value}"
            );
        }
    }

    #[test]
    fn every_truncation_is_refused_without_panicking() {
        let bytes = request_bytes();
        for length in 0..PACKET_LENGTH {
            assert_eq!(
                ArpPacket::new_checked(&bytes[..length]),
                Err(ArpError::Truncated)
            );
            assert_eq!(
                ArpRepr::parse(&ArpPacket::new_unchecked(&bytes[..length])),
                Err(ArpError::Truncated)
            );
        }
    }
}
