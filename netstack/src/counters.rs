//! Named counters: every frame's verdict (received, transmitted, consumed, or dropped for a named reason) is counted per port.
//!
//! Modelled on Hubris's counters: an enum of events, each with a stable
//! snake_case name, and a fixed array of `u64` counts indexed by the enum.
//! The names are an interface (the kernel logs them, the host tools print
//! them, tests assert on them), so a name never changes once released; a
//! reason that goes away keeps its slot until the next breaking release.
//!
//! The [`counters!`](crate::counters!) macro defines such an enum together with its
//! count array; [`DropReason`] and [`DropCounts`] are the router's, and
//! [`PortCounters`] adds the frame verdicts that are not drops and the
//! [`PortEvent`]s (ICMPv6 errors, Neighbor Discovery, Router
//! Advertisements). [`PortCounters::ip6_statistics`] sums them into the
//! Ip6 MIB's counters (RFC 4293), each [`DropReason`] into one
//! [`MibClass`].

/// Defines an enum of counted events and a fixed array of counts for it.
///
/// Each variant names its counter with a string literal, written out in full
/// snake_case; the literal is the stable external name. The macro generates:
/// - on the enum: `ALL` (every variant, in declaration order), `COUNT`,
///   `name()` and `index()`;
/// - a counts struct wrapping `[u64; COUNT]` with `increment`, `get`,
///   `add` (element-wise sum), `total` and `iter` over `(name, value)`.
///
/// ```
/// netstack::counters! {
///     /// Why a widget was refused.
///     pub enum WidgetRefusal, counts WidgetRefusalCounts {
///         /// It was too large.
///         TooLarge => "too_large",
///         /// It was blue.
///         Blue => "blue",
///     }
/// }
/// let mut counts = WidgetRefusalCounts::new();
/// counts.increment(WidgetRefusal::Blue);
/// assert_eq!(counts.get(WidgetRefusal::Blue), 1);
/// assert_eq!(WidgetRefusal::TooLarge.name(), "too_large");
/// ```
#[macro_export]
macro_rules! counters {
    (
        $(#[$enum_meta:meta])*
        $visibility:vis enum $name:ident, counts $counts:ident {
            $(
                $(#[$variant_meta:meta])*
                $variant:ident => $text:literal
            ),+ $(,)?
        }
    ) => {
        $(#[$enum_meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        $visibility enum $name {
            $(
                $(#[$variant_meta])*
                $variant,
            )+
        }

        impl $name {
            /// Every variant, in declaration order (the order counts are printed in).
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The number of variants.
            pub const COUNT: usize = Self::ALL.len();

            /// The counter's stable snake_case name.
            pub const fn name(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            /// The position of this variant in [`Self::ALL`] and in the count array.
            pub const fn index(self) -> usize {
                self as usize
            }
        }

        impl ::core::fmt::Display for $name {
            fn fmt(&self, formatter: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                formatter.write_str(self.name())
            }
        }

        #[doc = concat!("One `u64` count per [`", stringify!($name), "`] variant.")]
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        $visibility struct $counts {
            values: [u64; $name::COUNT],
        }

        impl ::core::default::Default for $counts {
            fn default() -> Self {
                Self::new()
            }
        }

        impl $counts {
            /// All counts at zero.
            pub const fn new() -> Self {
                Self { values: [0; $name::COUNT] }
            }

            /// Adds one to the count of `event` (wrapping, never panicking).
            pub fn increment(&mut self, event: $name) {
                let value = &mut self.values[event.index()];
                *value = value.wrapping_add(1);
            }

            /// The count of `event`.
            pub fn get(&self, event: $name) -> u64 {
                self.values[event.index()]
            }

            /// Adds every count of `other` to this one (for totals over ports).
            pub fn add(&mut self, other: &Self) {
                for (value, other_value) in self.values.iter_mut().zip(other.values.iter()) {
                    *value = value.wrapping_add(*other_value);
                }
            }

            /// The sum of all counts.
            pub fn total(&self) -> u64 {
                self.values.iter().fold(0u64, |sum, value| sum.wrapping_add(*value))
            }

            /// `(name, value)` for every variant, in declaration order, zeros included.
            pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
                $name::ALL.iter().map(move |event| (event.name(), self.get(*event)))
            }
        }
    };
}

counters! {
    /// Why the router dropped a frame. Every drop names exactly one reason.
    ///
    /// Reasons are listed in the order a frame meets them on its way in.
    pub enum DropReason, counts DropCounts {
        /// The kernel handed in a frame for a port index the router does not have.
        UnknownPort => "unknown_port",
        /// Longer than the port's MTU plus the 14-byte Ethernet header.
        OversizedFrame => "oversized_frame",
        /// Shorter than an Ethernet header (14 bytes).
        TruncatedEthernet => "truncated_ethernet",
        /// The Ethernet source address is multicast or broadcast (IEEE 802.3 §3.2.3).
        InvalidSourceMac => "invalid_source_mac",
        /// The Ethernet destination is neither the port's MAC, broadcast, nor a
        /// multicast group the port has joined (RFC 2464 §7).
        NotForUs => "not_for_us",
        /// IPv4 or ARP (ethertype 0x0800 / 0x0806) on a port that is not an IPv4 uplink.
        Ipv4NotEnabled => "ipv4_not_enabled",
        /// Any other ethertype (including VLAN tags).
        UnknownEthertype => "unknown_ethertype",
        /// Shorter than an IPv6 header (40 bytes).
        TruncatedIpv6 => "truncated_ipv6",
        /// The IP version field is not 6.
        BadIpVersion => "bad_ip_version",
        /// The IPv6 Payload Length runs past the end of the frame (RFC 8200 §3).
        Ipv6LengthExceedsFrame => "ipv6_length_exceeds_frame",
        /// The IPv6 source is multicast or loopback (RFC 4291 §2.5.3, §2.7).
        InvalidSourceAddress => "invalid_source_address",
        /// No longer produced since forwarding exists (kept: names are an
        /// interface). Formerly: addressed to someone else.
        DestinationNotLocal => "destination_not_local",
        /// An extension header runs past the end of the packet.
        TruncatedExtensionHeader => "truncated_extension_header",
        /// A Hop-by-Hop Options header that does not directly follow the IPv6
        /// header (RFC 8200 §4; a Parameter Problem code 1 comes later).
        HopByHopNotFirst => "hop_by_hop_not_first",
        /// An unrecognized option whose action bits say discard (RFC 8200 §4.2).
        UnrecognizedOption => "unrecognized_option",
        /// A Routing header with Segments Left > 0 addressed to us; no routing
        /// type is implemented (RFC 8200 §4.4, RFC 5095 §3).
        RoutingHeaderNotSupported => "routing_header_not_supported",
        /// A fragment that is not atomic; reassembly is not implemented yet
        /// (RFC 8200 §4.5).
        FragmentReassemblyNotSupported => "fragment_reassembly_not_supported",
        /// An upper-layer protocol the router does not serve, answered with
        /// ICMPv6 Parameter Problem code 1 (RFC 8200 §4).
        UnrecognizedNextHeader => "unrecognized_next_header",
        /// UDP to one of the router's addresses: no UDP service listens;
        /// answered with Destination Unreachable code 4 (RFC 4443 §3.1).
        NoUdpListener => "no_udp_listener",
        /// TCP to one of the router's addresses: no TCP service listens
        /// (TCP's own reset is the answer there, RFC 4443 §3.1; the router
        /// has no TCP yet, so the segment is dropped).
        NoTcpListener => "no_tcp_listener",
        /// Shorter than the ICMPv6 header of its type (RFC 4443 §2.1).
        TruncatedIcmpv6 => "truncated_icmpv6",
        /// The ICMPv6 checksum does not verify (RFC 4443 §2.3).
        BadIcmpv6Checksum => "bad_icmpv6_checksum",
        /// A well-formed ICMPv6 message of a type the router does not act on yet.
        Icmpv6TypeNotHandled => "icmpv6_type_not_handled",
        /// A Neighbor Discovery message carrying a Fragment header (RFC 6980 §5).
        NdpFragmented => "ndp_fragmented",
        /// A Neighbor Discovery message with IP Hop Limit other than 255 (RFC 4861 §7.1.1).
        NdpBadHopLimit => "ndp_bad_hop_limit",
        /// A Neighbor Discovery message with ICMP Code other than 0 (RFC 4861 §7.1.1).
        NdpBadCode => "ndp_bad_code",
        /// A Neighbor Solicitation shorter than 24 bytes (RFC 4861 §7.1.1).
        NdpTruncated => "ndp_truncated",
        /// An option with length 0, or one that runs past the message (RFC 4861 §7.1.1).
        NdpBadOptionLength => "ndp_bad_option_length",
        /// The Target Address is multicast (RFC 4861 §7.1.1).
        NdpTargetMulticast => "ndp_target_multicast",
        /// Source :: but the destination is not a solicited-node address (RFC 4861 §7.1.1).
        NdpUnspecifiedSourceBadDestination => "ndp_unspecified_source_bad_destination",
        /// Source :: with a Source Link-Layer Address option (RFC 4861 §7.1.1).
        NdpUnspecifiedSourceWithLinkLayerOption => "ndp_unspecified_source_with_link_layer_option",
        /// The Target Address is not an address of the receiving port (RFC 4861 §7.2.3).
        NdpTargetNotOurs => "ndp_target_not_ours",
        /// An Echo Request from :: cannot be answered (RFC 4443 §4.2).
        EchoSourceUnspecified => "echo_source_unspecified",
        /// The router's transmit area had no room for the reply.
        TransmitAreaFull => "transmit_area_full",
        /// A Neighbor Advertisement with the Solicited flag sent to a
        /// multicast address (RFC 4861 §7.1.2).
        NdpSolicitedFlagOnMulticast => "ndp_solicited_flag_on_multicast",
        /// A Neighbor Advertisement for one of the router's own addresses:
        /// someone else claims it (RFC 4862 §5.4.4); logged by the operator's tools.
        NdpDuplicateAddress => "ndp_duplicate_address",
        /// A Router Advertisement whose source is not link-local (RFC 4861 §6.1.2).
        NdpSourceNotLinkLocal => "ndp_source_not_link_local",
        /// A Redirect: a router never changes its routes on one (RFC 4861 §8.1).
        RedirectNotAccepted => "redirect_not_accepted",
        /// Forwarding: the source is :: (RFC 4291 §2.5.2).
        SourceUnspecifiedNotForwarded => "source_unspecified_not_forwarded",
        /// Forwarding: a link-local source or destination never leaves its
        /// link (RFC 4291 §2.5.6); a link-local source to a global
        /// destination gets Destination Unreachable code 2.
        LinkLocalNotForwarded => "link_local_not_forwarded",
        /// A multicast destination the port has not joined; the router does
        /// not forward multicast.
        MulticastNotForwarded => "multicast_not_forwarded",
        /// Forwarding: the destination is :: or ::1 (RFC 4291 §2.5.2, §2.5.3).
        InvalidDestinationAddress => "invalid_destination_address",
        /// Forwarding: the hop limit arrived as 0 or 1 (RFC 8200 §3); Time Exceeded code 0.
        HopLimitExceeded => "hop_limit_exceeded",
        /// No route to the destination; Destination Unreachable code 0 (RFC 4443 §3.1).
        NoRoute => "no_route",
        /// A `kind = "blackhole"` route: dropped silently.
        RouteBlackhole => "route_blackhole",
        /// A `kind = "reject"` route; Destination Unreachable code 6 (RFC 4443 §3.1).
        RouteReject => "route_reject",
        /// Longer than the egress port's MTU; Packet Too Big (RFC 4443 §3.2,
        /// RFC 8200 §5: routers do not fragment).
        PacketTooBig => "packet_too_big",
        /// Address resolution of the next hop failed after
        /// MAX_MULTICAST_SOLICIT solicitations; Destination Unreachable code 3
        /// (RFC 4861 §7.2.2). Counted on the packet's ingress port.
        AddressResolutionFailed => "address_resolution_failed",
        /// A fourth packet for an INCOMPLETE neighbor pushed out the oldest
        /// queued one (RFC 4861 §7.2.2). Counted on that packet's ingress port.
        NeighborQueueOverflow => "neighbor_queue_overflow",
        /// Every buffer for packets awaiting resolution is in use.
        PendingPacketsFull => "pending_packets_full",
        /// The egress port already resolves `incomplete_limit` neighbors (RFC 6583 §7.1).
        NeighborIncompleteLimit => "neighbor_incomplete_limit",
        /// The egress port's solicitation rate limit allows no new
        /// resolution now (RFC 6583 §7.2).
        NeighborSolicitationRateLimited => "neighbor_solicitation_rate_limited",
        /// The egress port's neighbor cache is full of entries that may not
        /// be evicted (REACHABLE, INCOMPLETE, DELAY, PROBE, static).
        NeighborCacheFull => "neighbor_cache_full",
        /// The border translator refused the packet (legacy-ip builds); its
        /// reason is counted in the translator's `translation_*` counters.
        TranslationRefused => "translation_refused",
    }
}

impl DropReason {
    /// The Ip6 MIB counter (RFC 4293 ipSystemStats, as Linux names them
    /// in `/proc/net/snmp6`) this reason is summed into.
    pub const fn mib_class(self) -> MibClass {
        use DropReason::*;
        match self {
            UnknownPort | OversizedFrame | TruncatedEthernet | InvalidSourceMac | NotForUs
            | Ipv4NotEnabled | UnknownEthertype => MibClass::LinkLayer,
            TruncatedIpv6
            | BadIpVersion
            | Ipv6LengthExceedsFrame
            | TruncatedExtensionHeader
            | HopByHopNotFirst
            | UnrecognizedOption
            | RoutingHeaderNotSupported
            | HopLimitExceeded => MibClass::InHeaderErrors,
            InvalidSourceAddress
            | DestinationNotLocal
            | SourceUnspecifiedNotForwarded
            | LinkLocalNotForwarded
            | MulticastNotForwarded
            | InvalidDestinationAddress => MibClass::InAddressErrors,
            UnrecognizedNextHeader => MibClass::InUnknownProtocols,
            NoUdpListener | NoTcpListener | TranslationRefused => MibClass::InDiscards,
            NoRoute | RouteReject => MibClass::InNoRoutes,
            PacketTooBig => MibClass::InTooBigErrors,
            FragmentReassemblyNotSupported
            | TruncatedIcmpv6
            | BadIcmpv6Checksum
            | Icmpv6TypeNotHandled
            | NdpFragmented
            | NdpBadHopLimit
            | NdpBadCode
            | NdpTruncated
            | NdpBadOptionLength
            | NdpTargetMulticast
            | NdpUnspecifiedSourceBadDestination
            | NdpUnspecifiedSourceWithLinkLayerOption
            | NdpTargetNotOurs
            | EchoSourceUnspecified
            | NdpSolicitedFlagOnMulticast
            | NdpDuplicateAddress
            | NdpSourceNotLinkLocal
            | RedirectNotAccepted
            | RouteBlackhole => MibClass::InDiscards,
            TransmitAreaFull
            | AddressResolutionFailed
            | NeighborQueueOverflow
            | PendingPacketsFull
            | NeighborIncompleteLimit
            | NeighborSolicitationRateLimited
            | NeighborCacheFull => MibClass::OutDiscards,
        }
    }
}

/// The Ip6 MIB counter a [`DropReason`] belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MibClass {
    /// Dropped before IPv6 (Ethernet checks); not an IPv6 MIB event.
    LinkLayer,
    /// `Ip6InHdrErrors`: malformed header, hop limit exceeded.
    InHeaderErrors,
    /// `Ip6InTooBigErrors`: larger than the egress MTU.
    InTooBigErrors,
    /// `Ip6InNoRoutes`: no route (or a reject route).
    InNoRoutes,
    /// `Ip6InAddrErrors`: an address that may not be received or forwarded.
    InAddressErrors,
    /// `Ip6InUnknownProtos`: an upper-layer protocol the router does not serve.
    InUnknownProtocols,
    /// `Ip6InDiscards`: valid but discarded (invalid ICMPv6/NDP, blackhole).
    InDiscards,
    /// `Ip6OutDiscards`: discarded on the way out (resolution, buffers).
    OutDiscards,
}

counters! {
    /// Events on a port that are not frame verdicts: ICMPv6 errors sent or
    /// suppressed, Neighbor Discovery activity, Router Advertisements.
    pub enum PortEvent, counts EventCounts {
        /// Frames transmitted on this port that were forwarded (Ip6OutForwDatagrams).
        OutForwarded => "out_forwarded",
        /// Frames transmitted on this port that the router originated (Ip6OutRequests).
        OutRequests => "out_requests",
        /// ICMPv6 Destination Unreachable sent (RFC 4443 §3.1).
        IcmpDestinationUnreachableSent => "icmp_destination_unreachable_sent",
        /// ICMPv6 Packet Too Big sent (RFC 4443 §3.2).
        IcmpPacketTooBigSent => "icmp_packet_too_big_sent",
        /// ICMPv6 Time Exceeded sent (RFC 4443 §3.3).
        IcmpTimeExceededSent => "icmp_time_exceeded_sent",
        /// ICMPv6 Parameter Problem sent (RFC 4443 §3.4).
        IcmpParameterProblemSent => "icmp_parameter_problem_sent",
        /// An ICMPv6 error not sent: the token bucket was empty (RFC 4443 §2.4(f)).
        IcmpErrorRateLimited => "icmp_error_rate_limited",
        /// An ICMPv6 error not sent because RFC 4443 §2.4(e) forbids it (the
        /// invoking packet is an ICMPv6 error, went to a multicast address, or
        /// came from :: or a multicast source).
        IcmpErrorSuppressed => "icmp_error_suppressed",
        /// TCP resets sent for segments to the router's own addresses
        /// (RFC 9293 §3.10.7.1: no TCP port is open).
        TcpResetsSent => "tcp_resets_sent",
        /// Multicast Neighbor Solicitations sent for address resolution (RFC 4861 §7.2.2).
        NeighborSolicitationsSent => "neighbor_solicitations_sent",
        /// Unicast Neighbor Solicitations sent as reachability probes (RFC 4861 §7.3.3).
        NeighborProbesSent => "neighbor_probes_sent",
        /// Neighbor Advertisements sent in reply to solicitations (RFC 4861 §7.2.4).
        NeighborAdvertisementsSent => "neighbor_advertisements_sent",
        /// Valid Neighbor Advertisements received (RFC 4861 §7.2.5).
        NeighborAdvertisementsReceived => "neighbor_advertisements_received",
        /// Neighbor cache entries created.
        NeighborEntriesCreated => "neighbor_entries_created",
        /// STALE entries evicted to make room (RFC 6583 §7.1).
        NeighborEntriesEvicted => "neighbor_entries_evicted",
        /// INCOMPLETE entries deleted after MAX_MULTICAST_SOLICIT solicitations.
        NeighborResolutionFailed => "neighbor_resolution_failed",
        /// PROBE entries deleted after MAX_UNICAST_SOLICIT probes (RFC 4861 §7.3.3).
        NeighborProbeFailed => "neighbor_probe_failed",
        /// Entries that became REACHABLE through a solicited advertisement.
        NeighborConfirmedReachable => "neighbor_confirmed_reachable",
        /// Packets queued on an INCOMPLETE entry (each later ends forwarded or dropped).
        PacketsQueued => "packets_queued",
        /// Router Advertisements sent (RFC 4861 §6.2.4, §6.2.6).
        RouterAdvertisementsSent => "router_advertisements_sent",
        /// Valid Router Solicitations received (RFC 4861 §6.1.1).
        RouterSolicitationsReceived => "router_solicitations_received",
        /// Valid Router Advertisements from other routers received (consumed, not acted on).
        RouterAdvertisementsReceived => "router_advertisements_received",
        /// Timer work (solicitations, advertisements) put off to the next
        /// poll because the transmit area was full.
        TransmitDeferred => "transmit_deferred",
    }
}

/// The counters of one port: the frame verdicts that are not drops, one
/// count per [`DropReason`], and one per [`PortEvent`].
///
/// `received` counts frames handed to [`Router::receive`](crate::router::Router::receive)
/// for the port; each of them ends `consumed` (the router itself handled
/// it), `forwarded` (sent on an egress port), or dropped for one reason.
/// A packet that waits for address resolution has no verdict yet: it is
/// counted `forwarded` or dropped (on its ingress port) when resolution
/// ends. So, per port,
/// `received == consumed + forwarded + dropped.total() + pending`, where
/// `pending` is [`Router::pending_packets`](crate::router::Router::pending_packets)
/// for the port (0 once every resolution has ended).
/// `transmitted` counts frames the router asked the kernel to send on the
/// port (forwarded or originated: `events` has `out_forwarded` and
/// `out_requests`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortCounters {
    /// Frames handed to the router on this port.
    pub received: u64,
    /// Frames the router built for transmission on this port.
    pub transmitted: u64,
    /// Frames received on this port and handled by the router itself.
    pub consumed: u64,
    /// Frames received on this port and forwarded (Ip6OutForwDatagrams, by ingress).
    pub forwarded: u64,
    /// Frames received on this port and dropped, by reason.
    pub dropped: DropCounts,
    /// Events that are not verdicts.
    pub events: EventCounts,
}

/// A port's counters in the shape of the Ip6 MIB (RFC 4293; Linux's
/// `/proc/net/snmp6` names), computed from [`PortCounters`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ip6Statistics {
    /// Ip6InReceives: IPv6 packets received (frames that passed the Ethernet checks).
    pub in_receives: u64,
    /// Ip6InHdrErrors.
    pub in_header_errors: u64,
    /// Ip6InTooBigErrors.
    pub in_too_big_errors: u64,
    /// Ip6InNoRoutes.
    pub in_no_routes: u64,
    /// Ip6InAddrErrors.
    pub in_address_errors: u64,
    /// Ip6InUnknownProtos.
    pub in_unknown_protocols: u64,
    /// Ip6InDiscards.
    pub in_discards: u64,
    /// Ip6InDelivers: consumed by the router.
    pub in_delivers: u64,
    /// Ip6OutForwDatagrams: forwarded, by ingress port.
    pub out_forwarded_datagrams: u64,
    /// Ip6OutRequests: frames the router originated on this port.
    pub out_requests: u64,
    /// Ip6OutDiscards: dropped on the way out, by ingress port.
    pub out_discards: u64,
}

impl PortCounters {
    /// All counters at zero.
    pub const fn new() -> Self {
        Self {
            received: 0,
            transmitted: 0,
            consumed: 0,
            forwarded: 0,
            dropped: DropCounts::new(),
            events: EventCounts::new(),
        }
    }

    /// Counts one occurrence of `event`.
    pub fn count(&mut self, event: PortEvent) {
        self.events.increment(event);
    }

    /// The Ip6 MIB view of these counters.
    pub fn ip6_statistics(&self) -> Ip6Statistics {
        let mut statistics = Ip6Statistics {
            in_delivers: self.consumed,
            out_forwarded_datagrams: self.forwarded,
            out_requests: self.events.get(PortEvent::OutRequests),
            ..Ip6Statistics::default()
        };
        let mut link_layer = 0u64;
        for reason in DropReason::ALL {
            let value = self.dropped.get(*reason);
            let field = match reason.mib_class() {
                MibClass::LinkLayer => &mut link_layer,
                MibClass::InHeaderErrors => &mut statistics.in_header_errors,
                MibClass::InTooBigErrors => &mut statistics.in_too_big_errors,
                MibClass::InNoRoutes => &mut statistics.in_no_routes,
                MibClass::InAddressErrors => &mut statistics.in_address_errors,
                MibClass::InUnknownProtocols => &mut statistics.in_unknown_protocols,
                MibClass::InDiscards => &mut statistics.in_discards,
                MibClass::OutDiscards => &mut statistics.out_discards,
            };
            *field = field.wrapping_add(value);
        }
        statistics.in_receives = self.received.wrapping_sub(link_layer);
        statistics
    }

    /// Adds every counter of `other` to this one.
    pub fn add(&mut self, other: &Self) {
        self.received = self.received.wrapping_add(other.received);
        self.transmitted = self.transmitted.wrapping_add(other.transmitted);
        self.consumed = self.consumed.wrapping_add(other.consumed);
        self.forwarded = self.forwarded.wrapping_add(other.forwarded);
        self.dropped.add(&other.dropped);
        self.events.add(&other.events);
    }

    /// `(name, value)` pairs: `received`, `transmitted`, `consumed`,
    /// `forwarded`, then every [`DropReason`] and every [`PortEvent`] by its
    /// name, zeros included.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        [
            ("received", self.received),
            ("transmitted", self.transmitted),
            ("consumed", self.consumed),
            ("forwarded", self.forwarded),
        ]
        .into_iter()
        .chain(self.dropped.iter())
        .chain(self.events.iter())
    }

    /// Like [`Self::iter`] without the zero counters, for compact logs.
    pub fn non_zero(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        self.iter().filter(|(_, value)| *value != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn names_are_unique_snake_case() {
        let mut names: Vec<&str> = DropReason::ALL.iter().map(|reason| reason.name()).collect();
        names.extend(PortEvent::ALL.iter().map(|event| event.name()));
        names.extend(["received", "transmitted", "consumed", "forwarded"]);
        for name in &names {
            assert!(!name.is_empty());
            assert!(
                name.bytes()
                    .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_'),
                "{name} is not snake_case"
            );
        }
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count, "duplicate counter name");
    }

    #[test]
    fn index_matches_position_in_all() {
        for (position, reason) in DropReason::ALL.iter().enumerate() {
            assert_eq!(reason.index(), position);
        }
        assert_eq!(DropReason::COUNT, DropReason::ALL.len());
    }

    #[test]
    fn stable_names() {
        // These names are an interface: the kernel logs and tools print them.
        assert_eq!(DropReason::TruncatedEthernet.name(), "truncated_ethernet");
        assert_eq!(DropReason::NotForUs.name(), "not_for_us");
        assert_eq!(DropReason::Ipv4NotEnabled.name(), "ipv4_not_enabled");
        assert_eq!(DropReason::UnknownEthertype.name(), "unknown_ethertype");
    }

    #[test]
    fn increment_add_total_iter() {
        let mut first = PortCounters::new();
        first.received = 3;
        first.consumed = 1;
        first.dropped.increment(DropReason::NotForUs);
        first.dropped.increment(DropReason::NotForUs);
        let mut sum = PortCounters::new();
        sum.add(&first);
        sum.add(&first);
        assert_eq!(sum.received, 6);
        assert_eq!(sum.dropped.get(DropReason::NotForUs), 4);
        assert_eq!(sum.dropped.total(), 4);
        let listed: Vec<(&str, u64)> = sum.non_zero().collect();
        assert_eq!(
            listed,
            [("received", 6), ("consumed", 2), ("not_for_us", 4)]
        );
        assert_eq!(sum.iter().count(), 4 + DropReason::COUNT + PortEvent::COUNT);
    }

    #[test]
    fn ip6_statistics_sum_by_class() {
        let mut counters = PortCounters::new();
        counters.received = 10;
        counters.consumed = 2;
        counters.forwarded = 3;
        counters.dropped.increment(DropReason::NotForUs);
        counters.dropped.increment(DropReason::NoRoute);
        counters.dropped.increment(DropReason::HopLimitExceeded);
        counters.dropped.increment(DropReason::PacketTooBig);
        counters
            .dropped
            .increment(DropReason::LinkLocalNotForwarded);
        counters
            .dropped
            .increment(DropReason::AddressResolutionFailed);
        counters.dropped.increment(DropReason::RouteBlackhole);
        counters.count(PortEvent::OutRequests);
        let statistics = counters.ip6_statistics();
        assert_eq!(
            statistics,
            Ip6Statistics {
                in_receives: 9,
                in_header_errors: 1,
                in_too_big_errors: 1,
                in_no_routes: 1,
                in_address_errors: 1,
                in_unknown_protocols: 0,
                in_discards: 1,
                in_delivers: 2,
                out_forwarded_datagrams: 3,
                out_requests: 1,
                out_discards: 1,
            }
        );
    }
}
