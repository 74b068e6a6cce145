//! ICMPv6 Echo: Echo Requests to the router answered with Echo Replies (RFC 4443 §4.1, §4.2).
//!
//! The reply carries the request's Identifier, Sequence Number and data
//! unchanged (§4.2). Its source is the request's destination when that was
//! one of the router's unicast addresses (any port's), and a unicast
//! address of the receiving port, chosen for the requester, when the
//! request went to a multicast group the port has joined (§4.2: a reply to
//! a multicast request SHOULD be sent, from a unicast address of the
//! interface). A request from :: has no one to answer and is dropped.
//!
//! Simplification until the neighbor cache exists: the reply goes to the
//! request frame's Ethernet source.

use smoltcp::wire::{Icmpv6Packet, Icmpv6Repr};

use super::transmit::TransmitArea;
use super::{DEFAULT_HOP_LIMIT, Icmpv6Reply, LocalPacket, Verdict};
use crate::counters::DropReason;

/// Type, code, checksum, identifier, sequence number.
const ECHO_HEADER_LENGTH: usize = 8;

/// Answers an Echo Request addressed to the port.
pub(super) fn answer_echo_request(packet: &LocalPacket<'_>, area: &mut TransmitArea) -> Verdict {
    if packet.upper_layer.len() < ECHO_HEADER_LENGTH {
        return Err(DropReason::TruncatedIcmpv6);
    }
    if packet.source.is_unspecified() {
        return Err(DropReason::EchoSourceUnspecified);
    }
    let request = Icmpv6Packet::new_unchecked(packet.upper_layer);
    Icmpv6Reply {
        port: packet.port_index,
        source_mac: packet.port.mac,
        destination_mac: packet.source_mac,
        source: if packet.destination.is_multicast() {
            packet.port.source_for(packet.source)
        } else {
            packet.destination
        },
        destination: packet.source,
        hop_limit: DEFAULT_HOP_LIMIT,
        message: Icmpv6Repr::EchoReply {
            ident: request.echo_ident(),
            seq_no: request.echo_seq_no(),
            data: &packet.upper_layer[ECHO_HEADER_LENGTH..],
        },
    }
    .emit(area)
}

#[cfg(test)]
mod tests {
    //! RFC 4443 §4.2, checked with etherparse.
    use super::super::test_frames::*;
    use super::super::{ALL_NODES, ALL_ROUTERS, solicited_node_address};
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;

    fn reply_to(request: &EchoRequest) -> EchoReply {
        let mut router = test_router();
        let frame = echo_request_frame(request);
        let replies: Vec<_> = router.receive(PORT, &frame, now()).collect();
        assert_eq!(replies.len(), 1);
        assert_eq!(replies[0].port, PORT);
        let reply = parse_echo_reply(replies[0].frame);
        let counters = router.port_counters(PORT).unwrap();
        assert_eq!(
            (counters.received, counters.consumed, counters.transmitted),
            (1, 1, 1)
        );
        reply
    }

    #[test]
    fn reply_preserves_identifier_sequence_and_data() {
        let request = EchoRequest {
            identifier: 0xbeef,
            sequence: 0x0102,
            data: (0..=255u8).collect(),
            ..EchoRequest::default()
        };
        let reply = reply_to(&request);
        assert_eq!(reply.identifier, 0xbeef);
        assert_eq!(reply.sequence, 0x0102);
        assert_eq!(reply.data, request.data);
        assert_eq!(reply.source, ROUTER_LINK_LOCAL);
        assert_eq!(reply.destination, HOST_LINK_LOCAL);
        assert_eq!(reply.source_mac, ROUTER_MAC);
        assert_eq!(reply.destination_mac, HOST_MAC);
        assert_eq!(reply.hop_limit, DEFAULT_HOP_LIMIT);
    }

    #[test]
    fn empty_and_largest_payloads() {
        let empty = EchoRequest {
            data: Vec::new(),
            ..EchoRequest::default()
        };
        assert!(reply_to(&empty).data.is_empty());
        let largest = EchoRequest {
            data: vec![0xa5; 1500 - 40 - 8],
            ..EchoRequest::default()
        };
        assert_eq!(reply_to(&largest).data, largest.data);
    }

    #[test]
    fn multicast_request_answered_from_link_local() {
        for group in [
            ALL_NODES,
            ALL_ROUTERS,
            solicited_node_address(ROUTER_LINK_LOCAL),
        ] {
            let request = EchoRequest {
                destination: group,
                destination_mac: super::super::multicast_mac(group).0,
                ..EchoRequest::default()
            };
            assert_eq!(reply_to(&request).source, ROUTER_LINK_LOCAL);
        }
    }

    #[test]
    fn reply_bytes_in_a_dirty_area() {
        let mut router = test_router();
        let request = EchoRequest {
            identifier: 7,
            sequence: 9,
            data: vec![1, 2, 3],
            ..EchoRequest::default()
        };
        let frame = echo_request_frame(&request);
        let reply: Vec<u8> = router
            .receive(PORT, &frame, now())
            .next()
            .unwrap()
            .frame
            .to_vec();
        #[rustfmt::skip]
        let expected: [u8; 14 + 40 + 11] = [
            0x02, 0x00, 0x00, 0x00, 0x00, 0x02,  0x52, 0x54, 0x00, 0x12, 0x34, 0x56,  0x86, 0xdd,
            0x60, 0x00, 0x00, 0x00, 0x00, 0x0b, 0x3a, 0x40,
            0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x50, 0x54, 0x00, 0xff, 0xfe, 0x12, 0x34, 0x56,
            0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
            0x81, 0x00, reply[56], reply[57], 0x00, 0x07, 0x00, 0x09, 1, 2, 3,
        ];
        assert_eq!(reply, expected);
        assert_valid_icmpv6_frame(&reply);
    }

    #[test]
    fn unspecified_source_dropped() {
        let request = EchoRequest {
            source: core::net::Ipv6Addr::UNSPECIFIED,
            ..EchoRequest::default()
        };
        assert_dropped(
            &echo_request_frame(&request),
            DropReason::EchoSourceUnspecified,
        );
    }

    #[test]
    fn truncated_echo_header() {
        let mut frame = echo_request_frame(&EchoRequest {
            data: Vec::new(),
            ..EchoRequest::default()
        });
        frame.truncate(14 + 40 + 7);
        frame[18..20].copy_from_slice(&7u16.to_be_bytes());
        fix_icmpv6_checksum(&mut frame);
        assert_dropped(&frame, DropReason::TruncatedIcmpv6);
    }
}
