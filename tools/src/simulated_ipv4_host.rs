//! A simulated IPv4 host (or gateway) on the appliance's IPv4 uplink: ARP requests and answers (RFC 826), as the translator's tests need them.
//!
//! Like [`crate::simulated_host`], the frames are built and checked by hand
//! or with `etherparse`, independently of netstack's own ARP code. The host
//! answers the router's ARP requests for its address whenever a test reads
//! the port through [`SimulatedIpv4Host::receive_answering_arp`], as a real
//! host would, so the router can resolve it as a next hop; and it resolves
//! the router's uplink address itself ([`SimulatedIpv4Host::resolve`]),
//! which shows that the port is up.

use std::net::Ipv4Addr;
use std::time::Duration;

use crate::qemu::PortSocket;
use crate::simulated_host::{ExchangeError, MacAddress, Retry, UnexpectedFrame};

/// The EtherType of ARP.
pub const ETHERTYPE_ARP: u16 = 0x0806;
/// The EtherType of IPv4.
pub const ETHERTYPE_IPV4: u16 = 0x0800;
/// The Ethernet broadcast address.
pub const BROADCAST_MAC: MacAddress = [0xff; 6];
/// The fixed start of an Ethernet/IPv4 ARP packet: hardware type 1
/// (Ethernet), protocol 0x0800, address lengths 6 and 4 (RFC 826).
const ARP_ETHERNET_IPV4: [u8; 6] = [0, 1, 0x08, 0x00, 6, 4];
/// ARP operation: request.
const ARP_REQUEST: u16 = 1;
/// ARP operation: reply.
const ARP_REPLY: u16 = 2;
/// Ethernet header, then the 28-byte Ethernet/IPv4 ARP packet.
const ARP_FRAME_LENGTH: usize = 14 + 28;

/// One ARP packet for Ethernet and IPv4, as read from a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArpMessage {
    /// The Ethernet source.
    pub source_mac: MacAddress,
    /// The Ethernet destination.
    pub destination_mac: MacAddress,
    /// 1 for a request, 2 for a reply.
    pub operation: u16,
    /// The sender's hardware address.
    pub sender_mac: MacAddress,
    /// The sender's IPv4 address.
    pub sender: Ipv4Addr,
    /// The target's hardware address (zero in a request).
    pub target_mac: MacAddress,
    /// The target's IPv4 address.
    pub target: Ipv4Addr,
}

/// The Ethernet/IPv4 ARP packet in `frame`, if it holds one.
pub fn parse_arp(frame: &[u8]) -> Option<ArpMessage> {
    if frame.len() < ARP_FRAME_LENGTH || frame[12..14] != ETHERTYPE_ARP.to_be_bytes() {
        return None;
    }
    let arp = &frame[14..ARP_FRAME_LENGTH];
    if arp[0..6] != ARP_ETHERNET_IPV4 {
        return None;
    }
    let mac = |at: usize| -> MacAddress { arp[at..at + 6].try_into().expect("six bytes") };
    let address = |at: usize| Ipv4Addr::new(arp[at], arp[at + 1], arp[at + 2], arp[at + 3]);
    Some(ArpMessage {
        source_mac: frame[6..12].try_into().expect("six bytes"),
        destination_mac: frame[0..6].try_into().expect("six bytes"),
        operation: u16::from_be_bytes([arp[6], arp[7]]),
        sender_mac: mac(8),
        sender: address(14),
        target_mac: mac(18),
        target: address(24),
    })
}

/// An Ethernet frame holding one Ethernet/IPv4 ARP packet.
fn arp_frame(
    destination_mac: MacAddress,
    operation: u16,
    sender: (MacAddress, Ipv4Addr),
    target: (MacAddress, Ipv4Addr),
) -> Vec<u8> {
    let mut frame = Vec::with_capacity(ARP_FRAME_LENGTH);
    frame.extend_from_slice(&destination_mac);
    frame.extend_from_slice(&sender.0);
    frame.extend_from_slice(&ETHERTYPE_ARP.to_be_bytes());
    frame.extend_from_slice(&ARP_ETHERNET_IPV4);
    frame.extend_from_slice(&operation.to_be_bytes());
    frame.extend_from_slice(&sender.0);
    frame.extend_from_slice(&sender.1.octets());
    frame.extend_from_slice(&target.0);
    frame.extend_from_slice(&target.1.octets());
    frame
}

/// An ARP reply (RFC 826) from `mac`/`address` to the request in `frame`,
/// if `frame` is a request for `address`; sent to the requester's unicast MAC.
pub fn arp_reply(frame: &[u8], mac: MacAddress, address: Ipv4Addr) -> Option<Vec<u8>> {
    let request = parse_arp(frame)?;
    if request.operation != ARP_REQUEST || request.target != address {
        return None;
    }
    Some(arp_frame(
        request.sender_mac,
        ARP_REPLY,
        (mac, address),
        (request.sender_mac, request.sender),
    ))
}

/// An IPv4 host with one MAC and one address on the uplink's link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SimulatedIpv4Host {
    /// The host's MAC address.
    pub mac: MacAddress,
    /// The host's IPv4 address, which it answers ARP requests for.
    pub address: Ipv4Addr,
}

impl SimulatedIpv4Host {
    /// A host with `mac` and `address`.
    pub fn new(mac: MacAddress, address: Ipv4Addr) -> SimulatedIpv4Host {
        SimulatedIpv4Host { mac, address }
    }

    /// A broadcast ARP request for `target`.
    pub fn arp_request(&self, target: Ipv4Addr) -> Vec<u8> {
        arp_frame(
            BROADCAST_MAC,
            ARP_REQUEST,
            (self.mac, self.address),
            ([0; 6], target),
        )
    }

    /// If `frame` is an ARP request for this host's address, the reply.
    pub fn answer_arp_request(&self, frame: &[u8]) -> Option<Vec<u8>> {
        arp_reply(frame, self.mac, self.address)
    }

    /// The MAC `frame` gives for `target`, if it is an ARP reply about
    /// `target` addressed to this host.
    pub fn parse_arp_reply(
        &self,
        frame: &[u8],
        target: Ipv4Addr,
    ) -> Result<MacAddress, UnexpectedFrame> {
        let Some(reply) = parse_arp(frame) else {
            return Err(UnexpectedFrame("not an Ethernet/IPv4 ARP packet".into()));
        };
        if reply.operation != ARP_REPLY || reply.sender != target {
            return Err(UnexpectedFrame(format!(
                "ARP operation {} from {}, not a reply from {target}",
                reply.operation, reply.sender
            )));
        }
        if reply.target != self.address || reply.destination_mac != self.mac {
            return Err(UnexpectedFrame(format!(
                "ARP reply to {}, not to this host",
                reply.target
            )));
        }
        Ok(reply.sender_mac)
    }

    /// Receives on `port` for up to `timeout`, answering ARP requests for
    /// this host's address, until `accept` takes a frame; returns what
    /// `accept` returned. Frames `accept` refuses are skipped;
    /// `waiting_for` names the awaited frame in the error.
    pub fn receive_answering_arp<T>(
        &self,
        port: &PortSocket,
        timeout: Duration,
        waiting_for: &str,
        mut accept: impl FnMut(&[u8]) -> Result<T, UnexpectedFrame>,
    ) -> Result<T, ExchangeError> {
        let mut refused = None;
        let mut send_error = None;
        let found = port
            .receive_matching(timeout, |frame| {
                if let Some(reply) = self.answer_arp_request(frame) {
                    if let Err(error) = port.send(&reply) {
                        send_error = Some(error);
                    }
                    return None;
                }
                match accept(frame) {
                    Ok(value) => Some(value),
                    Err(why) => {
                        refused = Some(why.0);
                        None
                    }
                }
            })
            .map_err(ExchangeError::Io)?;
        if let Some(error) = send_error {
            return Err(ExchangeError::Io(error));
        }
        found.ok_or_else(|| ExchangeError::NoAnswer {
            waiting_for: waiting_for.to_string(),
            last_refused: refused,
        })
    }

    /// Resolves `target` on `port`: sends an ARP request and waits for the
    /// reply, as often and as long as `retry` says; returns the target's MAC.
    pub fn resolve(
        &self,
        port: &PortSocket,
        target: Ipv4Addr,
        retry: Retry,
    ) -> Result<MacAddress, ExchangeError> {
        let attempts = retry.attempts.max(1);
        let mut last_refused = None;
        for _ in 0..attempts {
            port.send(&self.arp_request(target))
                .map_err(ExchangeError::Io)?;
            match self.receive_answering_arp(port, retry.timeout, "", |frame| {
                self.parse_arp_reply(frame, target)
            }) {
                Ok(mac) => return Ok(mac),
                Err(ExchangeError::NoAnswer {
                    last_refused: refused,
                    ..
                }) => last_refused = refused.or(last_refused),
                Err(error) => return Err(error),
            }
        }
        Err(ExchangeError::NoAnswer {
            waiting_for: format!("an ARP reply for {target} ({attempts} requests sent)"),
            last_refused,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROUTER_MAC: MacAddress = [0x52, 0x54, 0, 0, 0, 2];
    const ROUTER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);

    fn gateway() -> SimulatedIpv4Host {
        SimulatedIpv4Host::new([0x02, 0, 0, 0, 0, 0xfe], Ipv4Addr::new(192, 0, 2, 254))
    }

    #[test]
    fn requests_are_well_formed_and_etherparse_reads_them() {
        let request = gateway().arp_request(ROUTER);
        assert_eq!(request.len(), ARP_FRAME_LENGTH);
        let sliced = etherparse::SlicedPacket::from_ethernet(&request).unwrap();
        let Some(etherparse::NetSlice::Arp(arp)) = sliced.net else {
            panic!("no ARP in {request:?}")
        };
        let arp = arp.to_packet().try_eth_ipv4().unwrap();
        assert_eq!(arp.operation, etherparse::ArpOperation::REQUEST);
        assert_eq!(arp.sender_ipv4_addr(), gateway().address);
        assert_eq!(arp.target_ipv4_addr(), ROUTER);
        assert_eq!(&request[0..6], &BROADCAST_MAC);
    }

    #[test]
    fn hosts_answer_requests_for_their_own_address_only() {
        let router = SimulatedIpv4Host::new(ROUTER_MAC, ROUTER);
        let request = gateway().arp_request(ROUTER);
        let reply = router.answer_arp_request(&request).expect("a reply");
        assert_eq!(gateway().parse_arp_reply(&reply, ROUTER), Ok(ROUTER_MAC));
        assert_eq!(&reply[0..6], &gateway().mac);
        assert_eq!(gateway().answer_arp_request(&request), None);
        assert!(gateway().parse_arp_reply(&request, ROUTER).is_err());
        assert!(
            gateway()
                .parse_arp_reply(&reply, Ipv4Addr::new(192, 0, 2, 9))
                .is_err()
        );
        assert_eq!(router.answer_arp_request(&reply), None);
        assert_eq!(parse_arp(&request[..30]), None);
    }
}
