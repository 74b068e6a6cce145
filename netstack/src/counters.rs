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
//! [`PortCounters`] adds the three frame verdicts that are not drops.

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
        /// Addressed to someone else; forwarding is not implemented yet.
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
        /// An upper-layer protocol the router does not serve (an ICMPv6
        /// Parameter Problem code 1 comes later, RFC 8200 §4).
        UnrecognizedNextHeader => "unrecognized_next_header",
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
    }
}

/// The counters of one port: the three frame verdicts that are not drops,
/// plus one count per [`DropReason`].
///
/// `received` counts frames handed to [`Router::receive`](crate::router::Router::receive)
/// for the port; each of them ends either `consumed` (the router itself
/// handled it) or dropped for one reason, so
/// `received == consumed + dropped.total()` (forwarding will add a fourth
/// verdict). `transmitted` counts frames the router asked the kernel to send
/// on the port.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortCounters {
    /// Frames handed to the router on this port.
    pub received: u64,
    /// Frames the router built for transmission on this port.
    pub transmitted: u64,
    /// Frames received on this port and handled by the router itself.
    pub consumed: u64,
    /// Frames received on this port and dropped, by reason.
    pub dropped: DropCounts,
}

impl PortCounters {
    /// All counters at zero.
    pub const fn new() -> Self {
        Self {
            received: 0,
            transmitted: 0,
            consumed: 0,
            dropped: DropCounts::new(),
        }
    }

    /// Adds every counter of `other` to this one.
    pub fn add(&mut self, other: &Self) {
        self.received = self.received.wrapping_add(other.received);
        self.transmitted = self.transmitted.wrapping_add(other.transmitted);
        self.consumed = self.consumed.wrapping_add(other.consumed);
        self.dropped.add(&other.dropped);
    }

    /// `(name, value)` pairs: `received`, `transmitted`, `consumed`, then
    /// every [`DropReason`] by its name, zeros included.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        [
            ("received", self.received),
            ("transmitted", self.transmitted),
            ("consumed", self.consumed),
        ]
        .into_iter()
        .chain(self.dropped.iter())
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
        names.extend(["received", "transmitted", "consumed"]);
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
        assert_eq!(sum.iter().count(), 3 + DropReason::COUNT);
    }
}
