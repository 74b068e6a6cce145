//! Router Advertisements: periodic and solicited, with Source Link-Layer Address, MTU and Prefix Information options (RFC 4861 §4.1, §4.2, §6.1, §6.2; RFC 8319).
//!
//! Timing, per advertising port (`[port.router_advertisements] enabled`):
//! - The first advertisement goes out at the first poll. After each
//!   multicast advertisement the next is scheduled at a uniform random
//!   time in [MinRtrAdvInterval, MaxRtrAdvInterval] (§6.2.4); after the
//!   first MAX_INITIAL_RTR_ADVERTISEMENTS (3) ones it is capped at
//!   MAX_INITIAL_RTR_ADVERT_INTERVAL (16 s), so the initial burst of three
//!   comes quickly.
//! - A valid Router Solicitation (§6.1.1: hop limit 255, code 0, at least
//!   8 bytes, options with non-zero lengths, no Source Link-Layer Address
//!   option from ::) schedules a multicast advertisement after a random
//!   delay in [0, MAX_RA_DELAY_TIME] (0.5 s); if a multicast
//!   advertisement went out less than MIN_DELAY_BETWEEN_RAS (3 s) before,
//!   at that one's time + 3 s + the delay; if that is after the next
//!   periodic advertisement, the periodic one answers (§6.2.6). The
//!   solicitation's Source Link-Layer Address option updates the neighbor
//!   cache, IsRouter false (§6.2.6).
//! - Every advertisement is multicast to ff02::1 from the port's link-local
//!   address (§4.2, §6.2.6 lets routers answer by multicast) with hop limit
//!   255, and restarts the periodic timer.
//!
//! Contents (§4.2, §6.2.1): Cur Hop Limit, M and O flags, Router Lifetime,
//! Reachable Time and Retrans Timer 0 (unspecified), then the Source
//! Link-Layer Address option, an MTU option with the port MTU (unless
//! `advertise_mtu = false`), and one Prefix Information option per
//! configured prefix (§4.6.2).
//!
//! Advertisements from other routers are validated (§6.1.2: link-local
//! source as well) and only update the neighbor cache; a router does not
//! configure itself from them. Final advertisements with lifetime 0 when a
//! port stops advertising (§6.2.5) are not sent: the configuration cannot
//! change at run time yet.

use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{ETHERNET_HEADER_LEN, IPV6_HEADER_LEN, Icmpv6Packet};

use super::neighbor_cache::LearnedFrom;
use super::neighbor_discovery::{SOURCE_LINK_LAYER_ADDRESS, check_common, link_layer_option};
use super::random::Random;
use super::{
    ALL_NODES, LocalAction, LocalPacket, NEIGHBOR_DISCOVERY_HOP_LIMIT, PortIndex, Router,
    emit_ipv6_headers, multicast_mac,
};
use crate::config::RouterAdvertisementConfig;
use crate::counters::{DropReason, PortEvent};

/// MAX_INITIAL_RTR_ADVERT_INTERVAL (RFC 4861 §10).
pub const MAX_INITIAL_RTR_ADVERT_INTERVAL: Duration = Duration::from_secs(16);
/// MAX_INITIAL_RTR_ADVERTISEMENTS (RFC 4861 §10).
pub const MAX_INITIAL_RTR_ADVERTISEMENTS: u8 = 3;
/// MIN_DELAY_BETWEEN_RAS (RFC 4861 §10).
pub const MIN_DELAY_BETWEEN_RAS: Duration = Duration::from_secs(3);
/// MAX_RA_DELAY_TIME (RFC 4861 §10).
pub const MAX_RA_DELAY_TIME: Duration = Duration::from_millis(500);

/// Router Solicitation: type, code, checksum, reserved.
const ROUTER_SOLICITATION_LENGTH: usize = 8;
/// Router Advertisement: type, code, checksum, hop limit, flags, lifetime,
/// reachable time, retrans timer.
const ROUTER_ADVERTISEMENT_LENGTH: usize = 16;

/// The advertising state of one port.
#[derive(Clone, Debug, Default)]
pub(super) struct Advertiser {
    /// When the next periodic advertisement is due (`None`: at the first poll).
    next_periodic: Option<Instant>,
    /// When a solicited advertisement is due.
    solicited_at: Option<Instant>,
    /// When the last multicast advertisement went out.
    last_sent: Option<Instant>,
    /// How many have been sent.
    sent: u64,
}

impl Advertiser {
    /// A port that has sent nothing yet.
    pub(super) fn new() -> Advertiser {
        Advertiser::default()
    }

    /// Schedules the answer to a valid Router Solicitation received at `now` (§6.2.6).
    pub(super) fn solicited(
        &mut self,
        settings: &RouterAdvertisementConfig,
        now: Instant,
        random: &mut Random,
    ) {
        if !settings.enabled {
            return;
        }
        let delay = random.duration_between(Duration::ZERO, MAX_RA_DELAY_TIME);
        let mut at = now + delay;
        if let Some(last) = self.last_sent
            && now < last + MIN_DELAY_BETWEEN_RAS
        {
            at = last + MIN_DELAY_BETWEEN_RAS + delay;
        }
        if self.next_periodic.is_none_or(|periodic| at >= periodic) {
            return;
        }
        self.solicited_at = Some(self.solicited_at.map_or(at, |earlier| earlier.min(at)));
    }

    /// Whether an advertisement is due at `now`.
    fn due(&self, now: Instant) -> bool {
        self.next_periodic.is_none_or(|periodic| now >= periodic)
            || self.solicited_at.is_some_and(|at| now >= at)
    }

    /// Records a multicast advertisement sent at `now` and schedules the next.
    fn sent_at(&mut self, settings: &RouterAdvertisementConfig, now: Instant, random: &mut Random) {
        self.sent += 1;
        self.last_sent = Some(now);
        self.solicited_at = None;
        let mut interval = random.duration_between(settings.min_interval, settings.max_interval);
        if self.sent < u64::from(MAX_INITIAL_RTR_ADVERTISEMENTS) {
            interval = interval.min(MAX_INITIAL_RTR_ADVERT_INTERVAL);
        }
        self.next_periodic = Some(now + interval);
    }
}

/// Validates a Router Solicitation (§6.1.1).
pub(super) fn router_solicitation(packet: &LocalPacket<'_>) -> Result<LocalAction, DropReason> {
    check_common(packet, ROUTER_SOLICITATION_LENGTH)?;
    let source_link_layer = link_layer_option(
        &packet.upper_layer[ROUTER_SOLICITATION_LENGTH..],
        SOURCE_LINK_LAYER_ADDRESS,
    )?;
    let from_unspecified = packet.source.is_unspecified();
    if from_unspecified && source_link_layer.is_some() {
        return Err(DropReason::NdpUnspecifiedSourceWithLinkLayerOption);
    }
    Ok(LocalAction::Learn {
        answered: false,
        // §6.2.6: a solicitation from :: must not touch the cache.
        address: (!from_unspecified).then_some(packet.source),
        mac: source_link_layer,
        from: LearnedFrom::RouterSolicitation,
    })
}

/// Validates a Router Advertisement from another router (§6.1.2).
pub(super) fn router_advertisement(packet: &LocalPacket<'_>) -> Result<LocalAction, DropReason> {
    check_common(packet, ROUTER_ADVERTISEMENT_LENGTH)?;
    if !packet.source.is_unicast_link_local() {
        return Err(DropReason::NdpSourceNotLinkLocal);
    }
    let source_link_layer = link_layer_option(
        &packet.upper_layer[ROUTER_ADVERTISEMENT_LENGTH..],
        SOURCE_LINK_LAYER_ADDRESS,
    )?;
    Ok(LocalAction::Learn {
        answered: false,
        address: Some(packet.source),
        mac: source_link_layer,
        from: LearnedFrom::RouterAdvertisement,
    })
}

impl Router {
    /// Sends `port`'s Router Advertisement if one is due at `now`.
    pub(super) fn poll_advertisements(&mut self, port_index: PortIndex, now: Instant) {
        let Some(port) = self.ports.get(port_index.0) else {
            return;
        };
        let settings = &port.settings.router_advertisements;
        if !settings.enabled || !port.advertiser.due(now) {
            return;
        }
        let options_length =
            8 + if settings.advertise_mtu { 8 } else { 0 } + 32 * settings.prefixes.len();
        let icmp_length = ROUTER_ADVERTISEMENT_LENGTH + options_length;
        let source = port.settings.link_local;
        let Some(frame) = emit_ipv6_headers(
            &mut self.transmit,
            port_index,
            port.mac,
            multicast_mac(ALL_NODES),
            source,
            ALL_NODES,
            NEIGHBOR_DISCOVERY_HOP_LIMIT,
            icmp_length,
        ) else {
            self.ports[port_index.0]
                .counters
                .count(PortEvent::TransmitDeferred);
            return;
        };
        let message = &mut frame[ETHERNET_HEADER_LEN + IPV6_HEADER_LEN..];
        message[0] = 134;
        message[1] = 0;
        message[2..4].fill(0);
        message[4] = settings.current_hop_limit;
        message[5] =
            (u8::from(settings.managed) << 7) | (u8::from(settings.other_configuration) << 6);
        message[6..8].copy_from_slice(&settings.router_lifetime_seconds.to_be_bytes());
        // Reachable Time and Retrans Timer: 0, unspecified.
        message[8..16].fill(0);
        let mut offset = ROUTER_ADVERTISEMENT_LENGTH;
        message[offset] = SOURCE_LINK_LAYER_ADDRESS;
        message[offset + 1] = 1;
        message[offset + 2..offset + 8].copy_from_slice(port.mac.as_bytes());
        offset += 8;
        if settings.advertise_mtu {
            message[offset] = 5;
            message[offset + 1] = 1;
            message[offset + 2..offset + 4].fill(0);
            message[offset + 4..offset + 8]
                .copy_from_slice(&u32::from(port.settings.mtu).to_be_bytes());
            offset += 8;
        }
        for prefix in &settings.prefixes {
            let option = &mut message[offset..offset + 32];
            option[0] = 3;
            option[1] = 4;
            option[2] = prefix.prefix.prefix_len();
            option[3] = (u8::from(prefix.on_link) << 7) | (u8::from(prefix.autonomous) << 6);
            option[4..8].copy_from_slice(&prefix.valid_lifetime_seconds.to_be_bytes());
            option[8..12].copy_from_slice(&prefix.preferred_lifetime_seconds.to_be_bytes());
            option[12..16].fill(0);
            option[16..32].copy_from_slice(&prefix.prefix.address().octets());
            offset += 32;
        }
        Icmpv6Packet::new_unchecked(message).fill_checksum(&source, &ALL_NODES);
        let port = &mut self.ports[port_index.0];
        port.advertiser
            .sent_at(&port.settings.router_advertisements, now, &mut self.random);
        port.counters.count(PortEvent::RouterAdvertisementsSent);
    }
}
