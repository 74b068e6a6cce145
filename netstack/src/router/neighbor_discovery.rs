//! Neighbor Discovery on the router's ports: solicitations answered, advertisements processed, solicitations sent for address resolution (RFC 4861 §4.3, §4.4, §7).
//!
//! Validation of received messages (RFC 4861 §7.1.1, §7.1.2; the ICMPv6
//! checksum is verified before this module sees the message, and RFC 6980
//! §5 fragments are dropped there too):
//! - IP Hop Limit is 255 (so the sender is on the link);
//! - ICMP Code is 0;
//! - ICMP length (after the IPv6 header and extension headers) is 24 or more;
//! - every option has a length greater than 0 and fits in the message;
//! - the Target Address is not multicast;
//! - solicitations from the unspecified address: the destination is a
//!   solicited-node address and there is no Source Link-Layer Address option;
//! - advertisements to a multicast address: the Solicited flag is clear.
//!
//! A valid solicitation whose target is not an address of the receiving
//! port is dropped (§7.2.3). The reply (§7.2.4, §4.4): from the target
//! address, Target = the solicited address, Router flag set, Override flag
//! set, the Target Link-Layer Address option always included. From a
//! unicast source: Solicited flag set, sent to that source. From ::
//! (duplicate address detection): Solicited flag clear, sent to all-nodes
//! ff02::1. A Source Link-Layer Address option creates or updates the
//! sender's neighbor cache entry (§7.2.3, as STALE).
//!
//! Simplification: the link-layer destination of a unicast reply is the
//! Source Link-Layer Address option when present, otherwise the frame's
//! Ethernet source, instead of a neighbor cache lookup that could need a
//! resolution of its own.
//!
//! Valid advertisements go to the neighbor cache (§7.2.5); one whose
//! target is the port's own address means a duplicate (RFC 4862 §5.4.4)
//! and is dropped as `ndp_duplicate_address`.
//!
//! Solicitations for address resolution and probes (§7.2.2, §7.3.3) are
//! built by [`emit_solicitation`]: to the solicited-node group (multicast)
//! or the cached MAC (unicast), always with a Source Link-Layer Address
//! option, from the port address that matches the target (§7.2.2 asks for
//! the prompting packet's source if it is ours; for forwarded traffic it
//! never is).

use core::net::Ipv6Addr;

use smoltcp::wire::{
    EthernetAddress, Icmpv6Repr, NdiscNeighborFlags, NdiscRepr, RawHardwareAddress,
};

use super::neighbor_cache::{Advertisement, LearnedFrom};
use super::transmit::TransmitArea;
use super::{
    ALL_NODES, Icmpv6Reply, LocalAction, LocalPacket, NEIGHBOR_DISCOVERY_HOP_LIMIT, Port,
    PortIndex, is_solicited_node_address, multicast_mac, solicited_node_address,
};
use crate::counters::DropReason;

/// Type, code, checksum, reserved (or flags), target address.
const NEIGHBOR_MESSAGE_LENGTH: usize = 24;

/// The Source Link-Layer Address option type (RFC 4861 §4.6.1).
pub(super) const SOURCE_LINK_LAYER_ADDRESS: u8 = 1;

/// The Target Link-Layer Address option type (RFC 4861 §4.6.1).
const TARGET_LINK_LAYER_ADDRESS: u8 = 2;

/// The checks every Neighbor Discovery message shares (§6.1, §7.1): hop
/// limit 255, code 0, at least `minimum_length` bytes.
pub(super) fn check_common(
    packet: &LocalPacket<'_>,
    minimum_length: usize,
) -> Result<(), DropReason> {
    if packet.hop_limit != NEIGHBOR_DISCOVERY_HOP_LIMIT {
        return Err(DropReason::NdpBadHopLimit);
    }
    // The caller checked that the type, code and checksum are there.
    if packet.upper_layer[1] != 0 {
        return Err(DropReason::NdpBadCode);
    }
    if packet.upper_layer.len() < minimum_length {
        return Err(DropReason::NdpTruncated);
    }
    Ok(())
}

fn target_of(message: &[u8]) -> Ipv6Addr {
    let mut target_octets = [0u8; 16];
    target_octets.copy_from_slice(&message[8..NEIGHBOR_MESSAGE_LENGTH]);
    Ipv6Addr::from(target_octets)
}

/// Validates a Neighbor Solicitation addressed to the port and answers it.
pub(super) fn answer_neighbor_solicitation(
    packet: &LocalPacket<'_>,
    area: &mut TransmitArea,
) -> Result<LocalAction, DropReason> {
    check_common(packet, NEIGHBOR_MESSAGE_LENGTH)?;
    let message = packet.upper_layer;
    let source_link_layer = link_layer_option(
        &message[NEIGHBOR_MESSAGE_LENGTH..],
        SOURCE_LINK_LAYER_ADDRESS,
    )?;
    let target = target_of(message);
    if target.is_multicast() {
        return Err(DropReason::NdpTargetMulticast);
    }
    let from_unspecified = packet.source.is_unspecified();
    if from_unspecified {
        if !is_solicited_node_address(packet.destination) {
            return Err(DropReason::NdpUnspecifiedSourceBadDestination);
        }
        if source_link_layer.is_some() {
            return Err(DropReason::NdpUnspecifiedSourceWithLinkLayerOption);
        }
    }
    if !packet.port.owns(target) {
        return Err(DropReason::NdpTargetNotOurs);
    }

    let (destination, destination_mac, flags) = if from_unspecified {
        (
            ALL_NODES,
            multicast_mac(ALL_NODES),
            NdiscNeighborFlags::ROUTER | NdiscNeighborFlags::OVERRIDE,
        )
    } else {
        (
            packet.source,
            source_link_layer.unwrap_or(packet.source_mac),
            NdiscNeighborFlags::ROUTER
                | NdiscNeighborFlags::SOLICITED
                | NdiscNeighborFlags::OVERRIDE,
        )
    };
    Icmpv6Reply {
        port: packet.port_index,
        source_mac: packet.port.mac,
        destination_mac,
        source: target,
        destination,
        hop_limit: NEIGHBOR_DISCOVERY_HOP_LIMIT,
        message: Icmpv6Repr::Ndisc(NdiscRepr::NeighborAdvert {
            flags,
            target_addr: target,
            lladdr: Some(RawHardwareAddress::from(packet.port.mac)),
        }),
    }
    .emit(area)?;
    Ok(LocalAction::Learn {
        answered: true,
        address: (!from_unspecified).then_some(packet.source),
        mac: source_link_layer,
        from: LearnedFrom::NeighborSolicitation,
    })
}

/// Validates a Neighbor Advertisement (§7.1.2) for the neighbor cache.
pub(super) fn neighbor_advertisement(packet: &LocalPacket<'_>) -> Result<LocalAction, DropReason> {
    check_common(packet, NEIGHBOR_MESSAGE_LENGTH)?;
    let message = packet.upper_layer;
    let target_link_layer = link_layer_option(
        &message[NEIGHBOR_MESSAGE_LENGTH..],
        TARGET_LINK_LAYER_ADDRESS,
    )?;
    let target = target_of(message);
    if target.is_multicast() {
        return Err(DropReason::NdpTargetMulticast);
    }
    let flags = message[4];
    let solicited = flags & 0x40 != 0;
    if solicited && packet.destination.is_multicast() {
        return Err(DropReason::NdpSolicitedFlagOnMulticast);
    }
    if packet.port.owns(target) {
        return Err(DropReason::NdpDuplicateAddress);
    }
    Ok(LocalAction::Advertisement {
        target,
        advertisement: Advertisement {
            mac: target_link_layer,
            router: flags & 0x80 != 0,
            solicited,
            override_flag: flags & 0x20 != 0,
        },
    })
}

/// Builds a Neighbor Solicitation for `target` on `port` into `area`:
/// multicast to the solicited-node group, or unicast to `mac`. Returns
/// false when the area is full.
pub(super) fn emit_solicitation(
    port: &Port,
    port_index: PortIndex,
    target: Ipv6Addr,
    mac: Option<EthernetAddress>,
    area: &mut TransmitArea,
) -> bool {
    let (destination, destination_mac) = match mac {
        Some(mac) => (target, mac),
        None => {
            let group = solicited_node_address(target);
            (group, multicast_mac(group))
        }
    };
    Icmpv6Reply {
        port: port_index,
        source_mac: port.mac,
        destination_mac,
        source: port.source_for(target),
        destination,
        hop_limit: NEIGHBOR_DISCOVERY_HOP_LIMIT,
        message: Icmpv6Repr::Ndisc(NdiscRepr::NeighborSolicit {
            target_addr: target,
            lladdr: Some(RawHardwareAddress::from(port.mac)),
        }),
    }
    .emit(area)
    .is_ok()
}

/// Walks the options (RFC 4861 §4.6): each needs a non-zero length that fits.
/// Returns the link-layer address option of `wanted` type if there is an
/// Ethernet-sized one (RFC 2464 §6: length 1, six address bytes).
pub(super) fn link_layer_option(
    mut options: &[u8],
    wanted: u8,
) -> Result<Option<EthernetAddress>, DropReason> {
    let mut found = None;
    while !options.is_empty() {
        let [option_type, length_in_units, ..] = *options else {
            return Err(DropReason::NdpBadOptionLength);
        };
        let length = usize::from(length_in_units) * 8;
        if length == 0 || length > options.len() {
            return Err(DropReason::NdpBadOptionLength);
        }
        if option_type == wanted && length == 8 {
            found = Some(EthernetAddress::from_bytes(&options[2..8]));
        }
        options = &options[length..];
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    //! RFC 4861 §7.1.1 validation and §7.2.4 replies, checked with etherparse.
    use super::super::test_frames::*;
    use super::super::{ALL_NODES, PortIndex, Router};
    use super::*;
    use crate::config;
    use alloc::vec::Vec;

    fn answer(solicitation: &NeighborSolicitation) -> NeighborAdvertisement {
        let mut router = test_router();
        let frame = neighbor_solicitation_frame(solicitation);
        let replies: Vec<_> = router.receive(PORT, &frame, now()).collect();
        assert_eq!(replies.len(), 1, "expected one advertisement");
        assert_eq!(replies[0].port, PORT);
        let advertisement = parse_neighbor_advertisement(replies[0].frame);
        let counters = router.port_counters(PORT).unwrap();
        assert_eq!(
            (counters.received, counters.consumed, counters.transmitted),
            (1, 1, 1)
        );
        advertisement
    }

    #[test]
    fn unicast_solicitation_gets_solicited_advertisement() {
        let solicitation = NeighborSolicitation {
            destination: ROUTER_LINK_LOCAL,
            destination_mac: ROUTER_MAC,
            ..NeighborSolicitation::default()
        };
        let advertisement = answer(&solicitation);
        assert_eq!(advertisement.source_mac, ROUTER_MAC);
        assert_eq!(advertisement.destination_mac, HOST_MAC);
        assert_eq!(advertisement.source, ROUTER_LINK_LOCAL);
        assert_eq!(advertisement.destination, HOST_LINK_LOCAL);
        assert_eq!(advertisement.hop_limit, 255);
        assert_eq!(advertisement.target, ROUTER_LINK_LOCAL);
        assert!(advertisement.router && advertisement.solicited && advertisement.override_flag);
        assert_eq!(advertisement.target_link_layer, Some(ROUTER_MAC));
    }

    #[test]
    fn solicited_node_multicast_solicitation() {
        let advertisement = answer(&NeighborSolicitation::default());
        assert_eq!(advertisement.destination, HOST_LINK_LOCAL);
        // The Source Link-Layer Address option wins over the Ethernet source.
        assert_eq!(advertisement.destination_mac, HOST_MAC);
        assert!(advertisement.solicited);
        assert_eq!(advertisement.target_link_layer, Some(ROUTER_MAC));
    }

    #[test]
    fn link_layer_option_is_the_reply_destination() {
        let other = [0x02, 0, 0, 0, 0, 0x42];
        let advertisement = answer(&NeighborSolicitation {
            source_link_layer: Some(other),
            ..NeighborSolicitation::default()
        });
        assert_eq!(advertisement.destination_mac, other);
        // Without the option, the Ethernet source.
        let advertisement = answer(&NeighborSolicitation {
            source_link_layer: None,
            ..NeighborSolicitation::default()
        });
        assert_eq!(advertisement.destination_mac, HOST_MAC);
    }

    #[test]
    fn duplicate_address_detection_reply_goes_to_all_nodes() {
        // RFC 4861 §7.2.4: source :: -> S=0, to ff02::1.
        let advertisement = answer(&NeighborSolicitation::duplicate_address_detection());
        assert_eq!(advertisement.destination, ALL_NODES);
        assert_eq!(advertisement.destination_mac, [0x33, 0x33, 0, 0, 0, 1]);
        assert!(advertisement.router);
        assert!(!advertisement.solicited);
        assert_eq!(advertisement.target_link_layer, Some(ROUTER_MAC));
    }

    #[test]
    fn reply_bytes_are_stable_in_a_dirty_area() {
        // The area starts filled with 0xff; a second reply overwrites the
        // first's slot. Both must be byte-identical to the fixture.
        let mut router = test_router();
        let frame = neighbor_solicitation_frame(&NeighborSolicitation::default());
        let first: Vec<u8> = router
            .receive(PORT, &frame, now())
            .next()
            .unwrap()
            .frame
            .to_vec();
        let second: Vec<u8> = router
            .receive(PORT, &frame, now())
            .next()
            .unwrap()
            .frame
            .to_vec();
        assert_eq!(first, second);
        #[rustfmt::skip]
        let expected: [u8; 86] = [
            // Ethernet: to the host, from the router, IPv6.
            0x02, 0x00, 0x00, 0x00, 0x00, 0x02,  0x52, 0x54, 0x00, 0x12, 0x34, 0x56,  0x86, 0xdd,
            // IPv6: version 6, payload 32, ICMPv6, hop limit 255.
            0x60, 0x00, 0x00, 0x00, 0x00, 0x20, 0x3a, 0xff,
            0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x50, 0x54, 0x00, 0xff, 0xfe, 0x12, 0x34, 0x56,
            0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
            // Neighbor Advertisement: type 136, code 0, checksum, R|S|O.
            0x88, 0x00, first[56], first[57], 0xe0, 0x00, 0x00, 0x00,
            0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x50, 0x54, 0x00, 0xff, 0xfe, 0x12, 0x34, 0x56,
            // Target Link-Layer Address option.
            0x02, 0x01, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56,
        ];
        assert_eq!(first, expected);
        assert_valid_icmpv6_frame(&first);
    }

    #[track_caller]
    fn assert_solicitation_dropped(solicitation: &NeighborSolicitation, reason: DropReason) {
        assert_dropped(&neighbor_solicitation_frame(solicitation), reason);
    }

    #[test]
    fn hop_limit_not_255() {
        for hop_limit in [254, 64, 1, 0] {
            assert_solicitation_dropped(
                &NeighborSolicitation {
                    hop_limit,
                    ..NeighborSolicitation::default()
                },
                DropReason::NdpBadHopLimit,
            );
        }
    }

    #[test]
    fn code_not_zero() {
        assert_solicitation_dropped(
            &NeighborSolicitation {
                code: 1,
                ..NeighborSolicitation::default()
            },
            DropReason::NdpBadCode,
        );
    }

    #[test]
    fn shorter_than_24_bytes() {
        let mut frame = neighbor_solicitation_frame(&NeighborSolicitation {
            source_link_layer: None,
            ..NeighborSolicitation::default()
        });
        // Keep 23 bytes of ICMPv6 and fix up lengths and checksum.
        frame.truncate(14 + 40 + 23);
        frame[18..20].copy_from_slice(&23u16.to_be_bytes());
        fix_icmpv6_checksum(&mut frame);
        assert_dropped(&frame, DropReason::NdpTruncated);
    }

    #[test]
    fn option_length_zero_or_overrunning() {
        for options in [
            &[1u8, 0, 0, 0, 0, 0, 0, 0][..],
            &[1, 2, 0, 0, 0, 0, 0, 0],
            &[14, 1, 0, 0, 0, 0, 0, 0, 7],
        ] {
            assert_solicitation_dropped(
                &NeighborSolicitation {
                    source_link_layer: None,
                    raw_options: options.to_vec(),
                    ..NeighborSolicitation::default()
                },
                DropReason::NdpBadOptionLength,
            );
        }
        // Unknown options with a valid length are ignored (§4.6).
        answer(&NeighborSolicitation {
            raw_options: [14, 1, 0, 0, 0, 0, 0, 0].to_vec(),
            ..NeighborSolicitation::default()
        });
    }

    #[test]
    fn target_multicast() {
        assert_solicitation_dropped(
            &NeighborSolicitation {
                target: ALL_NODES,
                ..NeighborSolicitation::default()
            },
            DropReason::NdpTargetMulticast,
        );
    }

    #[test]
    fn unspecified_source_rules() {
        // To the router's unicast address instead of the solicited-node group.
        assert_solicitation_dropped(
            &NeighborSolicitation {
                destination: ROUTER_LINK_LOCAL,
                destination_mac: ROUTER_MAC,
                ..NeighborSolicitation::duplicate_address_detection()
            },
            DropReason::NdpUnspecifiedSourceBadDestination,
        );
        // With a Source Link-Layer Address option.
        assert_solicitation_dropped(
            &NeighborSolicitation {
                source_link_layer: Some(HOST_MAC),
                ..NeighborSolicitation::duplicate_address_detection()
            },
            DropReason::NdpUnspecifiedSourceWithLinkLayerOption,
        );
    }

    #[test]
    fn target_not_ours() {
        // The solicited-node group of fe80::...:3456 also covers
        // fe80::1:ff12:3456, which is not the router's address.
        assert_solicitation_dropped(
            &NeighborSolicitation {
                target: "fe80::1:ff12:3456".parse().unwrap(),
                ..NeighborSolicitation::default()
            },
            DropReason::NdpTargetNotOurs,
        );
    }

    #[test]
    fn fragment_header_dropped() {
        // RFC 6980 §5: an atomic fragment carrying an NS is ignored.
        let frame = with_extension_header(
            &neighbor_solicitation_frame(&NeighborSolicitation::default()),
            44,
            &[0, 0, 0, 0, 0, 0, 0, 1],
        );
        assert_dropped(&frame, DropReason::NdpFragmented);
    }

    #[test]
    fn bad_checksum_dropped() {
        let mut frame = neighbor_solicitation_frame(&NeighborSolicitation::default());
        frame[14 + 40 + 8 + 15] ^= 0x10; // a target address byte
        assert_dropped(&frame, DropReason::BadIcmpv6Checksum);
    }

    #[test]
    fn configured_link_local_answers() {
        let config =
            config::parse("[[port]]\nname = \"lan0\"\nlink_local = \"fe80::1\"\n").unwrap();
        let mut router =
            Router::new(&config, &[super::super::NicInfo { mac: ROUTER_MAC }]).unwrap();
        let target: Ipv6Addr = "fe80::1".parse().unwrap();
        let frame = neighbor_solicitation_frame(&NeighborSolicitation {
            target,
            destination: "ff02::1:ff00:1".parse().unwrap(),
            destination_mac: [0x33, 0x33, 0xff, 0, 0, 1],
            ..NeighborSolicitation::default()
        });
        let replies: Vec<_> = router.receive(PortIndex(0), &frame, now()).collect();
        assert_eq!(replies.len(), 1);
        let advertisement = parse_neighbor_advertisement(replies[0].frame);
        assert_eq!(advertisement.source, target);
        assert_eq!(advertisement.target, target);
        // The EUI-64 address is no longer the port's.
        let frame = neighbor_solicitation_frame(&NeighborSolicitation::default());
        assert_eq!(router.receive(PortIndex(0), &frame, now()).count(), 0);
    }

    #[test]
    fn option_walk() {
        assert_eq!(link_layer_option(&[], 1), Ok(None));
        assert_eq!(
            link_layer_option(&[1, 1, 1, 2, 3, 4, 5, 6], 1),
            Ok(Some(EthernetAddress([1, 2, 3, 4, 5, 6])))
        );
        // A 16-byte SLLAO is not Ethernet's: ignored.
        assert_eq!(
            link_layer_option(&[1, 2, 1, 2, 3, 4, 5, 6, 0, 0, 0, 0, 0, 0, 0, 0], 1),
            Ok(None)
        );
        assert_eq!(
            link_layer_option(&[1], 1),
            Err(DropReason::NdpBadOptionLength)
        );
    }
}
