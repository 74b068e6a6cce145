//! TCP resets for segments to the router's own addresses: it listens on no TCP port, so RFC 9293 §3.10.7.1 ("If the state is CLOSED") answers every segment that is not itself a reset with one.
//!
//! - A segment with ACK gets `<SEQ=SEG.ACK><CTL=RST>`; one without gets
//!   `<SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>`, where SEG.LEN counts SYN
//!   and FIN (RFC 9293 §3.10.7.1, §3.4).
//! - A segment with a bad checksum, to a multicast address, from an
//!   unspecified or multicast source, or a fragment, is not answered.
//! - Resets share the ICMPv6 error token bucket, so a flood of segments
//!   cannot turn the router into a reflector faster than its errors.
//! - Like Echo Replies, the reset goes back to the link-layer sender.

use core::net::Ipv6Addr;

use smoltcp::phy::ChecksumCapabilities;
use smoltcp::time::Instant;
use smoltcp::wire::{
    EthernetAddress, EthernetFrame, EthernetProtocol, EthernetRepr, IpAddress, IpProtocol,
    Ipv6Packet, Ipv6Repr, TcpControl, TcpPacket, TcpRepr, TcpSeqNumber,
};

use super::{LinkInfo, Router};
use crate::counters::PortEvent;

/// The hop limit of resets (RFC 4861 §6.3.2's default for originated packets).
const RESET_HOP_LIMIT: u8 = 64;

impl Router {
    /// Answers the TCP `segment` of an IPv6 packet from `source` to the
    /// router's `destination` with a reset, if RFC 9293 §3.10.7.1 asks for
    /// one and the rate limit allows.
    pub(super) fn send_reset(
        &mut self,
        link: LinkInfo,
        source: Ipv6Addr,
        destination: Ipv6Addr,
        segment: &[u8],
        now: Instant,
    ) {
        if link.multicast
            || destination.is_multicast()
            || source.is_multicast()
            || source.is_unspecified()
        {
            return;
        }
        let Ok(packet) = TcpPacket::new_checked(segment) else {
            return;
        };
        let checksums = ChecksumCapabilities::default();
        let Ok(received) = TcpRepr::parse(
            &packet,
            &IpAddress::Ipv6(source),
            &IpAddress::Ipv6(destination),
            &checksums,
        ) else {
            return;
        };
        if received.control == TcpControl::Rst {
            return;
        }
        let (sequence, acknowledgment) = match received.ack_number {
            Some(acknowledged) => (acknowledged, None),
            None => (
                TcpSeqNumber(0),
                Some(received.seq_number + received.segment_len()),
            ),
        };
        let reset = TcpRepr {
            src_port: received.dst_port,
            dst_port: received.src_port,
            control: TcpControl::Rst,
            seq_number: sequence,
            ack_number: acknowledgment,
            window_len: 0,
            window_scale: None,
            max_seg_size: None,
            sack_permitted: false,
            sack_ranges: [None, None, None],
            timestamp: None,
            payload: &[],
        };
        let counters = &mut self.ports[link.port.0].counters;
        if !self.icmp_errors.take(now) {
            counters.count(PortEvent::IcmpErrorRateLimited);
            return;
        }
        let ip = Ipv6Repr {
            src_addr: destination,
            dst_addr: source,
            next_header: IpProtocol::Tcp,
            payload_len: reset.buffer_len(),
            hop_limit: RESET_HOP_LIMIT,
        };
        let source_mac: EthernetAddress = self.ports[link.port.0].mac;
        let ethernet = EthernetRepr {
            src_addr: source_mac,
            dst_addr: link.source_mac,
            ethertype: EthernetProtocol::Ipv6,
        };
        let length = ethernet.buffer_len() + ip.buffer_len() + reset.buffer_len();
        let Some(frame) = self.transmit.push(link.port, length) else {
            self.ports[link.port.0]
                .counters
                .count(PortEvent::TransmitDeferred);
            return;
        };
        let mut ethernet_frame = EthernetFrame::new_unchecked(&mut *frame);
        ethernet.emit(&mut ethernet_frame);
        let mut ip_packet = Ipv6Packet::new_unchecked(ethernet_frame.payload_mut());
        ip.emit(&mut ip_packet);
        let mut tcp = TcpPacket::new_unchecked(ip_packet.payload_mut());
        reset.emit(
            &mut tcp,
            &IpAddress::Ipv6(destination),
            &IpAddress::Ipv6(source),
            &checksums,
        );
        self.ports[link.port.0]
            .counters
            .count(PortEvent::TcpResetsSent);
    }
}
