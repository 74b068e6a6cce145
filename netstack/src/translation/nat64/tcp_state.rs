//! The NAT64 TCP session state machine of RFC 6146 §3.5.2 as pure functions: the next state, the timer to arm and what to do with the segment.
//!
//! There is one state machine per TCP session (one per 5-tuple, §3.5.2.2).
//! The session table stores the [`TcpState`] and an expiry time; for every
//! segment of the session it calls [`on_packet`] and applies the
//! [`Transition`]; when the expiry time passes it calls [`on_expiry`] and
//! applies the [`ExpiryAction`]. Nothing here reads a clock or a table:
//! the timers are named ([`TimerKind`]) and [`TcpTimeouts`] turns a name into
//! a duration.
//!
//! "V6 SYN" is a segment with SYN set received on the IPv6 side, "V4 FIN" one
//! with FIN received on the IPv4 side, and so on (§3.5.2.2). "T+F" below is
//! "translate and forward".
//!
//! # States (§3.5.2.1)
//!
//! | State | Meaning | [`SessionClass`] |
//! |---|---|---|
//! | CLOSED | no session: the fictional state of every 5-tuple without one | (none stored) |
//! | V4 INIT | a V4 SYN arrived; waiting for the V6 SYN (simultaneous open) | half-open |
//! | V6 INIT | a V6 SYN was translated; waiting for the V4 SYN (or SYN+ACK) | half-open |
//! | ESTABLISHED | open, data in both directions | established |
//! | V4 FIN RCV | a V4 FIN arrived; data still flows | established |
//! | V6 FIN RCV | a V6 FIN arrived; data still flows | established |
//! | V4 FIN + V6 FIN RCV | both FINs seen; kept TCP_TRANS for the last ACKs | transitory |
//! | TRANS | after a RST, or after ESTABLISHED's lifetime ran out | transitory |
//!
//! # Edges (§3.5.2.2)
//!
//! Timer: "max" is the maximum session lifetime ([`TimerKind::Established`],
//! TCP_EST by default), "trans" is TCP_TRANS ([`TimerKind::Transitory`]),
//! "syn" is TCP_INCOMING_SYN ([`TimerKind::IncomingSyn`]), "keep" leaves the
//! running timer alone.
//!
//! | From | Event | Segment | Timer | To |
//! |---|---|---|---|---|
//! | CLOSED | V6 SYN | get or create the BIB entry (§3.5.2.3), create the session, T+F | trans | V6 INIT |
//! | CLOSED | V4 SYN, policy drops inbound connections | silently drop | — | CLOSED |
//! | CLOSED | V4 SYN, (X,x) not in the BIB | create the session only (no BIB entry), store the SYN | syn | V4 INIT |
//! | CLOSED | V4 SYN, (X,x) in the BIB, address-dependent filtering | create the session from the BIB entry, store the SYN | syn | V4 INIT |
//! | CLOSED | V4 SYN, (X,x) in the BIB, no address-dependent filtering | create the session from the BIB entry, T+F | trans | V4 INIT |
//! | CLOSED | any other segment | T+F if a BIB entry exists and policy allows (SHOULD), else silently drop; no session | — | CLOSED |
//! | V4 INIT | V6 SYN | T+F; the stored V4 SYN is silently dropped (RFC 5382 REQ-4) | max | ESTABLISHED |
//! | V4 INIT | any other segment | T+F if policy allows (SHOULD) | keep | V4 INIT |
//! | V4 INIT | timer expires | ICMPv4 3/3 quoting the stored SYN to its source (RFC 5382 REQ-4, SHOULD unless policy forbids); delete | — | CLOSED |
//! | V6 INIT | V4 SYN (with or without ACK) | T+F | max | ESTABLISHED |
//! | V6 INIT | V6 SYN | T+F | trans | V6 INIT |
//! | V6 INIT | any other segment | T+F if policy allows (SHOULD) | keep | V6 INIT |
//! | V6 INIT | timer expires | delete | — | CLOSED |
//! | ESTABLISHED | V4 RST or V6 RST | T+F | trans | TRANS |
//! | ESTABLISHED | V4 FIN | T+F | max (interpretation) | V4 FIN RCV |
//! | ESTABLISHED | V6 FIN | T+F | max (interpretation) | V6 FIN RCV |
//! | ESTABLISHED | any other segment | T+F | max | ESTABLISHED |
//! | ESTABLISHED | timer expires | probe an endpoint (SHOULD): no data, sequence and acknowledgment numbers 0, only ACK set | trans | TRANS |
//! | V4 FIN RCV | V6 FIN | T+F | trans | V4 FIN + V6 FIN RCV |
//! | V4 FIN RCV | any other segment | T+F | max | V4 FIN RCV |
//! | V4 FIN RCV | timer expires | delete | — | CLOSED |
//! | V6 FIN RCV | V4 FIN | T+F | trans | V4 FIN + V6 FIN RCV |
//! | V6 FIN RCV | any other segment | T+F | max | V6 FIN RCV |
//! | V6 FIN RCV | timer expires | delete | — | CLOSED |
//! | V4 FIN + V6 FIN RCV | any segment | T+F | keep | V4 FIN + V6 FIN RCV |
//! | V4 FIN + V6 FIN RCV | timer expires | delete | — | CLOSED |
//! | TRANS | any segment without RST | T+F | max | ESTABLISHED |
//! | TRANS | a RST | T+F (interpretation) | keep | TRANS |
//! | TRANS | timer expires | delete | — | CLOSED |
//!
//! # Choices where the RFC is silent
//! - **ESTABLISHED + FIN**: the RFC names no lifetime; the timer is re-armed
//!   to the maximum session lifetime, as for every other segment in
//!   ESTABLISHED and in the FIN RCV states (data still flows).
//! - **RST and FIN in one segment** in ESTABLISHED: the RST wins (TRANS),
//!   since it ends the connection; the RFC lists the FIN case first but does
//!   not address segments with both.
//! - **TRANS + RST**: "a packet other than a RST" leaves TRANS; a RST is
//!   forwarded and the timer left running, so repeated RSTs cannot keep a
//!   dead session alive.
//! - **FIN RCV + RST**: the RFC says "any packet other than the V6 FIN"
//!   (resp. V4 FIN) re-arms the maximum lifetime, and that is what happens;
//!   the session then leaves by the timer.
//! - **CLOSED**: [`on_packet`] answers everything but a V4 SYN; a V4 SYN
//!   depends on the BIB and on policy, so it answers
//!   [`PacketAction::ResolveInboundSyn`] and [`on_inbound_syn`] decides.
//!
//! # Timers (§4, RFC 5382 REQ-5)
//! TCP_EST is 2 hours, not RFC 5382's 2 h 4 min floor: the 4 more minutes
//! come from ESTABLISHED's expiry, which always moves to TRANS for TCP_TRANS
//! (probe or not), so an idle established session lives at least 2 h 4 min.
//! The maximum session lifetime is configurable but MUST NOT be below
//! TCP_EST; TCP_TRANS is 4 minutes, TCP_INCOMING_SYN 6 seconds
//! ([`TcpTimeouts::new`] enforces the floors).

use core::fmt;

use smoltcp::time::Duration;

/// TCP_EST: the established connection idle timeout, 2 hours (RFC 6146 §4).
/// The default and the floor of the maximum session lifetime.
pub const TCP_EST: Duration = Duration::from_secs(2 * 60 * 60);

/// TCP_TRANS: the transitory connection idle timeout, 4 minutes (RFC 6146
/// §4, RFC 5382 REQ-5).
pub const TCP_TRANS: Duration = Duration::from_secs(4 * 60);

/// TCP_INCOMING_SYN: how long an unsolicited inbound SYN is held before it
/// is answered, 6 seconds (RFC 6146 §4, RFC 5382 REQ-4).
pub const TCP_INCOMING_SYN: Duration = Duration::from_secs(6);

/// A TCP session's state (RFC 6146 §3.5.2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TcpState {
    /// CLOSED: no session exists (never stored in the table).
    Closed,
    /// V4 INIT: a SYN arrived from IPv4; waiting for the IPv6 SYN.
    V4Init,
    /// V6 INIT: a SYN from IPv6 was translated; waiting for the IPv4 SYN.
    V6Init,
    /// ESTABLISHED: an open connection.
    Established,
    /// V4 FIN RCV: a FIN arrived from IPv4; waiting for the IPv6 FIN.
    V4FinReceived,
    /// V6 FIN RCV: a FIN arrived from IPv6; waiting for the IPv4 FIN.
    V6FinReceived,
    /// V4 FIN + V6 FIN RCV: both FINs seen; kept TCP_TRANS for the last ACKs.
    V4FinV6FinReceived,
    /// TRANS: after a RST or after ESTABLISHED's lifetime ran out; kept
    /// TCP_TRANS unless more segments show the connection is alive.
    Transitory,
}

impl TcpState {
    /// How the session table may treat a session in this state when it is
    /// full (see [`SessionClass`]).
    pub fn class(self) -> SessionClass {
        match self {
            TcpState::V4Init | TcpState::V6Init => SessionClass::HalfOpen,
            TcpState::Established | TcpState::V4FinReceived | TcpState::V6FinReceived => {
                SessionClass::Established
            }
            // CLOSED is never stored; were it, nothing would be lost by
            // evicting it.
            TcpState::V4FinV6FinReceived | TcpState::Transitory | TcpState::Closed => {
                SessionClass::Transitory
            }
        }
    }

    /// The state's name as RFC 6146 §3.5.2.1 writes it.
    pub fn name(self) -> &'static str {
        match self {
            TcpState::Closed => "CLOSED",
            TcpState::V4Init => "V4 INIT",
            TcpState::V6Init => "V6 INIT",
            TcpState::Established => "ESTABLISHED",
            TcpState::V4FinReceived => "V4 FIN RCV",
            TcpState::V6FinReceived => "V6 FIN RCV",
            TcpState::V4FinV6FinReceived => "V4 FIN + V6 FIN RCV",
            TcpState::Transitory => "TRANS",
        }
    }
}

impl fmt::Display for TcpState {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

/// Which sessions a full table may evict to make room: only
/// [`SessionClass::Transitory`] and [`SessionClass::HalfOpen`] ones, never an
/// established connection (RFC 5382 REQ-5: an established session is kept
/// at least 2 h 4 min while idle).
///
/// The FIN RCV states count as established: RFC 6146 gives them the maximum
/// session lifetime because data still flows in one direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SessionClass {
    /// ESTABLISHED, V4 FIN RCV, V6 FIN RCV: never evicted.
    Established,
    /// V4 FIN + V6 FIN RCV, TRANS: closing or reset, may be evicted.
    Transitory,
    /// V4 INIT, V6 INIT: an opening not yet answered, may be evicted.
    HalfOpen,
}

impl SessionClass {
    /// Whether a full session table may evict a session of this class.
    pub fn may_be_evicted(self) -> bool {
        !matches!(self, SessionClass::Established)
    }
}

/// The side a segment arrived on (RFC 6146 §3.5.2.2: "V6" and "V4").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Received on the IPv6 side (a "V6" segment).
    FromIpv6,
    /// Received on the IPv4 side (a "V4" segment).
    FromIpv4,
}

/// The TCP flags the state machine reads (RFC 9293 §3.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TcpFlags {
    /// FIN: no more data from the sender.
    pub fin: bool,
    /// SYN: synchronize sequence numbers (opening).
    pub syn: bool,
    /// RST: reset the connection.
    pub rst: bool,
    /// ACK: the acknowledgment field is significant.
    pub ack: bool,
}

impl TcpFlags {
    /// FIN's bit in the flags byte (byte 13 of the TCP header).
    pub const FIN_BIT: u8 = 0x01;
    /// SYN's bit in the flags byte.
    pub const SYN_BIT: u8 = 0x02;
    /// RST's bit in the flags byte.
    pub const RST_BIT: u8 = 0x04;
    /// ACK's bit in the flags byte.
    pub const ACK_BIT: u8 = 0x10;

    /// The flags of the TCP header's flags byte (byte 13: CWR ECE URG ACK
    /// PSH RST SYN FIN, most significant first); the other bits are ignored.
    pub fn from_header_byte(byte: u8) -> TcpFlags {
        TcpFlags {
            fin: byte & Self::FIN_BIT != 0,
            syn: byte & Self::SYN_BIT != 0,
            rst: byte & Self::RST_BIT != 0,
            ack: byte & Self::ACK_BIT != 0,
        }
    }

    /// The flags byte with these four flags (the others zero).
    pub fn to_header_byte(self) -> u8 {
        let mut byte = 0;
        if self.fin {
            byte |= Self::FIN_BIT;
        }
        if self.syn {
            byte |= Self::SYN_BIT;
        }
        if self.rst {
            byte |= Self::RST_BIT;
        }
        if self.ack {
            byte |= Self::ACK_BIT;
        }
        byte
    }
}

/// The timer a transition arms (RFC 6146 §3.5.2.2, §4). Arming replaces the
/// running timer: the session now expires that long after the segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimerKind {
    /// The maximum session lifetime ([`TcpTimeouts::established`]: TCP_EST,
    /// 2 hours, by default; configurable, never below).
    Established,
    /// TCP_TRANS ([`TcpTimeouts::transitory`]: 4 minutes by default).
    Transitory,
    /// TCP_INCOMING_SYN ([`TcpTimeouts::incoming_syn`]: 6 seconds): the hold
    /// of an unsolicited inbound SYN.
    IncomingSyn,
}

/// What to do with the segment that caused a transition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PacketAction {
    /// Translate and forward it (the RFC's "the packet is translated and
    /// forwarded").
    Forward,
    /// Translate and forward it if the security policy allows (the RFC's
    /// "SHOULD be translated and forwarded if the security policy allows
    /// doing so"; V4 INIT and V6 INIT, other segments). A session created by
    /// an inbound SYN without a BIB entry has no IPv6 host yet: the caller
    /// cannot forward from IPv4 and drops.
    ForwardIfPolicyAllows,
    /// CLOSED, a segment that is not a SYN opening a session: if the TCP BIB
    /// has an entry for it, translate and forward it if policy allows
    /// (SHOULD), without creating a session; otherwise silently drop it.
    ForwardIfBibEntryExists,
    /// Hold the inbound SYN for TCP_INCOMING_SYN instead of forwarding it
    /// (§3.5.2.2, RFC 5382 REQ-4): the IPv6 host may be opening the same
    /// connection (simultaneous open).
    StoreInboundSyn,
    /// Silently drop it.
    Drop,
    /// CLOSED, a SYN from IPv4: the outcome depends on the BIB and on
    /// policy; call [`on_inbound_syn`].
    ResolveInboundSyn,
}

/// The result of a segment (see the [module documentation](self)).
///
/// A transition from [`TcpState::Closed`] to another state creates the
/// session ("if resources and policy permit": if it cannot be created, the
/// caller drops the segment and the state stays CLOSED). From a V6 SYN it
/// also creates the BIB entry if there is none (§3.5.2.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Transition {
    /// The session's next state ([`TcpState::Closed`]: no session).
    pub next: TcpState,
    /// The timer to arm now, or `None` to leave the running one alone.
    pub timer: Option<TimerKind>,
    /// What to do with the segment.
    pub packet: PacketAction,
    /// Silently drop the inbound SYN held since the session was created:
    /// the IPv6 side has answered with its own SYN (RFC 5382 REQ-4).
    pub discard_stored_syn: bool,
}

impl Transition {
    const fn new(next: TcpState, timer: Option<TimerKind>, packet: PacketAction) -> Transition {
        Transition {
            next,
            timer,
            packet,
            discard_stored_syn: false,
        }
    }
}

/// The policy that decides an inbound SYN without a session (§3.5.2.2,
/// CLOSED).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct InboundSynPolicy {
    /// The security policy silently drops externally initiated connections.
    pub drop_externally_initiated: bool,
    /// The NAT64 performs address-dependent filtering (RFC 4787 §5):
    /// packets from IPv4 need a session with their source address.
    pub address_dependent_filtering: bool,
}

/// What to do when a session's timer expires (RFC 6146 §3.5.2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExpiryAction {
    /// Delete the session (the state becomes CLOSED).
    Remove,
    /// V4 INIT: delete the session, and answer the stored inbound SYN, if
    /// one is stored, with an ICMPv4 Port Unreachable (type 3, code 3)
    /// quoting it, sent to its source. RFC 5382 REQ-4: SHOULD, unless the
    /// security policy forbids (REQ-4a: then drop it silently).
    RemoveAndRejectStoredSyn,
    /// ESTABLISHED: SHOULD send a probe to at least one endpoint (see
    /// [`PROBE_FLAGS`]), then move to TRANS and arm
    /// [`TimerKind::Transitory`]. The session is kept: the probe's answer
    /// (a segment without RST) brings it back to ESTABLISHED.
    ProbeAndEnterTransitory,
}

/// The probe sent when an ESTABLISHED session's lifetime runs out
/// (§3.5.2.2): a segment of the session with no data, sequence and
/// acknowledgment numbers zero, and only ACK set. An endpoint answers with
/// an ACK carrying the numbers it expects, which crosses the translator and
/// refreshes the session; a dead endpoint answers with a RST or not at all.
pub const PROBE_FLAGS: TcpFlags = TcpFlags {
    fin: false,
    syn: false,
    rst: false,
    ack: true,
};

/// The transition for one segment of a session in `state` that arrived from
/// `direction` with `flags` (RFC 6146 §3.5.2.2; the table in the [module
/// documentation](self)). Total: every input has an answer.
pub fn on_packet(state: TcpState, direction: Direction, flags: TcpFlags) -> Transition {
    use Direction::{FromIpv4, FromIpv6};
    use PacketAction::{Forward, ForwardIfPolicyAllows};
    use TimerKind::{Established, Transitory};
    match state {
        TcpState::Closed => match (direction, flags.syn) {
            (FromIpv6, true) => Transition::new(TcpState::V6Init, Some(Transitory), Forward),
            (FromIpv4, true) => {
                Transition::new(TcpState::Closed, None, PacketAction::ResolveInboundSyn)
            }
            (_, false) => Transition::new(
                TcpState::Closed,
                None,
                PacketAction::ForwardIfBibEntryExists,
            ),
        },
        TcpState::V4Init => match (direction, flags.syn) {
            (FromIpv6, true) => Transition {
                discard_stored_syn: true,
                ..Transition::new(TcpState::Established, Some(Established), Forward)
            },
            _ => Transition::new(TcpState::V4Init, None, ForwardIfPolicyAllows),
        },
        TcpState::V6Init => match (direction, flags.syn) {
            (FromIpv4, true) => Transition::new(TcpState::Established, Some(Established), Forward),
            (FromIpv6, true) => Transition::new(TcpState::V6Init, Some(Transitory), Forward),
            (_, false) => Transition::new(TcpState::V6Init, None, ForwardIfPolicyAllows),
        },
        TcpState::Established => {
            if flags.rst {
                Transition::new(TcpState::Transitory, Some(Transitory), Forward)
            } else if flags.fin {
                let next = match direction {
                    FromIpv4 => TcpState::V4FinReceived,
                    FromIpv6 => TcpState::V6FinReceived,
                };
                Transition::new(next, Some(Established), Forward)
            } else {
                Transition::new(TcpState::Established, Some(Established), Forward)
            }
        }
        TcpState::V4FinReceived => match (direction, flags.fin) {
            (FromIpv6, true) => {
                Transition::new(TcpState::V4FinV6FinReceived, Some(Transitory), Forward)
            }
            _ => Transition::new(TcpState::V4FinReceived, Some(Established), Forward),
        },
        TcpState::V6FinReceived => match (direction, flags.fin) {
            (FromIpv4, true) => {
                Transition::new(TcpState::V4FinV6FinReceived, Some(Transitory), Forward)
            }
            _ => Transition::new(TcpState::V6FinReceived, Some(Established), Forward),
        },
        TcpState::V4FinV6FinReceived => {
            Transition::new(TcpState::V4FinV6FinReceived, None, Forward)
        }
        TcpState::Transitory => {
            if flags.rst {
                Transition::new(TcpState::Transitory, None, Forward)
            } else {
                Transition::new(TcpState::Established, Some(Established), Forward)
            }
        }
    }
}

/// CLOSED, a SYN from IPv4 to (X, x) (RFC 6146 §3.5.2.2, RFC 5382 REQ-4):
/// what to do given the policy and whether the TCP BIB has an entry for
/// (X, x).
///
/// - policy drops externally initiated connections: silently drop, no
///   session;
/// - no BIB entry: create a session with no IPv6 source (no BIB entry is
///   created), store the SYN, arm [`TimerKind::IncomingSyn`] (6 s);
/// - a BIB entry and address-dependent filtering: create the session from
///   the BIB entry, store the SYN, arm [`TimerKind::IncomingSyn`];
/// - a BIB entry and no address-dependent filtering: create the session from
///   the BIB entry, translate and forward, arm [`TimerKind::Transitory`].
///
/// Every non-drop outcome moves to V4 INIT. While the SYN is held, a V6 SYN
/// of the session discards it ([`Transition::discard_stored_syn`]); if the
/// hold runs out, [`on_expiry`] says to answer it with ICMPv4 3/3.
pub fn on_inbound_syn(policy: InboundSynPolicy, bib_entry_exists: bool) -> Transition {
    if policy.drop_externally_initiated {
        Transition::new(TcpState::Closed, None, PacketAction::Drop)
    } else if !bib_entry_exists || policy.address_dependent_filtering {
        Transition::new(
            TcpState::V4Init,
            Some(TimerKind::IncomingSyn),
            PacketAction::StoreInboundSyn,
        )
    } else {
        Transition::new(
            TcpState::V4Init,
            Some(TimerKind::Transitory),
            PacketAction::Forward,
        )
    }
}

/// What to do when the timer of a session in `state` expires (RFC 6146
/// §3.5.2.2). Only ESTABLISHED survives its expiry (into TRANS).
pub fn on_expiry(state: TcpState) -> ExpiryAction {
    match state {
        TcpState::V4Init => ExpiryAction::RemoveAndRejectStoredSyn,
        TcpState::Established => ExpiryAction::ProbeAndEnterTransitory,
        TcpState::Closed
        | TcpState::V6Init
        | TcpState::V4FinReceived
        | TcpState::V6FinReceived
        | TcpState::V4FinV6FinReceived
        | TcpState::Transitory => ExpiryAction::Remove,
    }
}

/// The durations of the three TCP timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpTimeouts {
    established: Duration,
    transitory: Duration,
    incoming_syn: Duration,
}

impl Default for TcpTimeouts {
    /// TCP_EST, TCP_TRANS and TCP_INCOMING_SYN (RFC 6146 §4).
    fn default() -> TcpTimeouts {
        TcpTimeouts {
            established: TCP_EST,
            transitory: TCP_TRANS,
            incoming_syn: TCP_INCOMING_SYN,
        }
    }
}

/// Why [`TcpTimeouts::new`] refused a lifetime.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TcpTimeoutError {
    /// The maximum session lifetime is below TCP_EST (RFC 6146 §3.5.2.2:
    /// MUST NOT be less).
    EstablishedBelowMinimum,
    /// The transitory lifetime is below TCP_TRANS (RFC 5382 REQ-5: MUST NOT
    /// be less than 4 minutes).
    TransitoryBelowMinimum,
}

impl fmt::Display for TcpTimeoutError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TcpTimeoutError::EstablishedBelowMinimum => formatter.write_str(
                "the established TCP session lifetime must be at least 2 hours \
                 (TCP_EST, RFC 6146 §4)",
            ),
            TcpTimeoutError::TransitoryBelowMinimum => formatter.write_str(
                "the transitory TCP session lifetime must be at least 4 minutes \
                 (TCP_TRANS, RFC 6146 §4, RFC 5382 REQ-5)",
            ),
        }
    }
}

impl TcpTimeouts {
    /// Timeouts with the maximum session lifetime `established` (at least
    /// TCP_EST) and the transitory lifetime `transitory` (at least
    /// TCP_TRANS); the inbound SYN hold stays TCP_INCOMING_SYN.
    pub fn new(
        established: Duration,
        transitory: Duration,
    ) -> Result<TcpTimeouts, TcpTimeoutError> {
        if established < TCP_EST {
            return Err(TcpTimeoutError::EstablishedBelowMinimum);
        }
        if transitory < TCP_TRANS {
            return Err(TcpTimeoutError::TransitoryBelowMinimum);
        }
        Ok(TcpTimeouts {
            established,
            transitory,
            incoming_syn: TCP_INCOMING_SYN,
        })
    }

    /// The maximum session lifetime.
    pub fn established(&self) -> Duration {
        self.established
    }

    /// The transitory lifetime (TCP_TRANS).
    pub fn transitory(&self) -> Duration {
        self.transitory
    }

    /// The hold of an unsolicited inbound SYN (TCP_INCOMING_SYN).
    pub fn incoming_syn(&self) -> Duration {
        self.incoming_syn
    }

    /// How long `timer` runs.
    pub fn duration(&self, timer: TimerKind) -> Duration {
        match timer {
            TimerKind::Established => self.established,
            TimerKind::Transitory => self.transitory,
            TimerKind::IncomingSyn => self.incoming_syn,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use smoltcp::time::Instant;

    const SYN: TcpFlags = TcpFlags {
        syn: true,
        fin: false,
        rst: false,
        ack: false,
    };
    const SYN_ACK: TcpFlags = TcpFlags {
        syn: true,
        ack: true,
        fin: false,
        rst: false,
    };
    const ACK: TcpFlags = TcpFlags {
        ack: true,
        syn: false,
        fin: false,
        rst: false,
    };
    const FIN: TcpFlags = TcpFlags {
        fin: true,
        ack: true,
        syn: false,
        rst: false,
    };
    const RST: TcpFlags = TcpFlags {
        rst: true,
        syn: false,
        fin: false,
        ack: false,
    };

    const ALL_STATES: [TcpState; 8] = [
        TcpState::Closed,
        TcpState::V4Init,
        TcpState::V6Init,
        TcpState::Established,
        TcpState::V4FinReceived,
        TcpState::V6FinReceived,
        TcpState::V4FinV6FinReceived,
        TcpState::Transitory,
    ];

    use Direction::{FromIpv4, FromIpv6};

    /// What a session table would record, driven by virtual time: the
    /// state, when it expires, whether an inbound SYN is held, and what was
    /// done with each segment and at each expiry.
    #[derive(Debug)]
    struct Session {
        state: TcpState,
        expires: Instant,
        stored_syn: bool,
        timeouts: TcpTimeouts,
        rejected_syns: usize,
        probes: usize,
    }

    impl Session {
        fn new() -> Session {
            Session {
                state: TcpState::Closed,
                expires: Instant::ZERO,
                stored_syn: false,
                timeouts: TcpTimeouts::default(),
                rejected_syns: 0,
                probes: 0,
            }
        }

        fn apply(&mut self, now: Instant, transition: Transition) -> PacketAction {
            self.state = transition.next;
            if let Some(timer) = transition.timer {
                self.expires = now + self.timeouts.duration(timer);
            }
            if transition.discard_stored_syn {
                self.stored_syn = false;
            }
            if transition.packet == PacketAction::StoreInboundSyn {
                self.stored_syn = true;
            }
            transition.packet
        }

        /// A segment at `now` (after running the timers up to `now`).
        fn segment(
            &mut self,
            now: Instant,
            direction: Direction,
            flags: TcpFlags,
            policy: InboundSynPolicy,
            bib_entry_exists: bool,
        ) -> PacketAction {
            self.run_timers(now);
            let transition = on_packet(self.state, direction, flags);
            let transition = if transition.packet == PacketAction::ResolveInboundSyn {
                on_inbound_syn(policy, bib_entry_exists)
            } else {
                transition
            };
            self.apply(now, transition)
        }

        fn v6(&mut self, now: Instant, flags: TcpFlags) -> PacketAction {
            self.segment(now, FromIpv6, flags, InboundSynPolicy::default(), true)
        }

        fn v4(&mut self, now: Instant, flags: TcpFlags) -> PacketAction {
            self.segment(now, FromIpv4, flags, InboundSynPolicy::default(), true)
        }

        /// Expire the session's timer while it is due at `now`.
        fn run_timers(&mut self, now: Instant) {
            while self.state != TcpState::Closed && self.expires <= now {
                match on_expiry(self.state) {
                    ExpiryAction::Remove => self.state = TcpState::Closed,
                    ExpiryAction::RemoveAndRejectStoredSyn => {
                        if self.stored_syn {
                            self.rejected_syns += 1;
                        }
                        self.stored_syn = false;
                        self.state = TcpState::Closed;
                    }
                    ExpiryAction::ProbeAndEnterTransitory => {
                        self.probes += 1;
                        self.state = TcpState::Transitory;
                        self.expires += self.timeouts.transitory();
                    }
                }
            }
        }

        /// A session in `state` whose timer was armed with `timer` at 0.
        fn in_state(state: TcpState, timer: TimerKind) -> Session {
            let mut session = Session::new();
            session.state = state;
            session.expires = Instant::ZERO + session.timeouts.duration(timer);
            session
        }
    }

    fn at_seconds(seconds: u64) -> Instant {
        Instant::ZERO + Duration::from_secs(seconds)
    }

    fn at_millis(millis: u64) -> Instant {
        Instant::ZERO + Duration::from_millis(millis)
    }

    // ----- flags, classes, constants -----

    #[test]
    fn flags_are_read_from_the_header_byte() {
        // RFC 9293 §3.1: CWR ECE URG ACK PSH RST SYN FIN.
        assert_eq!(TcpFlags::from_header_byte(0x02), SYN);
        assert_eq!(TcpFlags::from_header_byte(0x12), SYN_ACK);
        assert_eq!(TcpFlags::from_header_byte(0x11), FIN);
        assert_eq!(TcpFlags::from_header_byte(0x04), RST);
        assert_eq!(TcpFlags::from_header_byte(0x10), ACK);
        // PSH, URG, ECE, CWR are ignored.
        assert_eq!(TcpFlags::from_header_byte(0xe8), TcpFlags::default());
        assert_eq!(TcpFlags::from_header_byte(0xff).to_header_byte(), 0x17);
        for byte in 0..=u8::MAX {
            let flags = TcpFlags::from_header_byte(byte);
            assert_eq!(flags.to_header_byte(), byte & 0x17);
        }
    }

    #[test]
    fn constants_are_those_of_rfc_6146_section_4() {
        assert_eq!(TCP_EST.secs(), 7200);
        assert_eq!(TCP_TRANS.secs(), 240);
        assert_eq!(TCP_INCOMING_SYN.secs(), 6);
        assert_eq!(
            PROBE_FLAGS.to_header_byte(),
            TcpFlags::ACK_BIT,
            "§3.5.2.2: all flags but ACK zero"
        );
    }

    #[test]
    fn timeouts_enforce_the_floors() {
        let default = TcpTimeouts::default();
        assert_eq!(default.duration(TimerKind::Established), TCP_EST);
        assert_eq!(default.duration(TimerKind::Transitory), TCP_TRANS);
        assert_eq!(default.duration(TimerKind::IncomingSyn), TCP_INCOMING_SYN);
        assert_eq!(TcpTimeouts::new(TCP_EST, TCP_TRANS), Ok(default));
        let longer = TcpTimeouts::new(Duration::from_secs(86_400), Duration::from_secs(300));
        assert_eq!(
            longer.map(|timeouts| timeouts.established().secs()),
            Ok(86_400)
        );
        assert_eq!(
            TcpTimeouts::new(TCP_EST - Duration::from_secs(1), TCP_TRANS),
            Err(TcpTimeoutError::EstablishedBelowMinimum)
        );
        assert_eq!(
            TcpTimeouts::new(TCP_EST, TCP_TRANS - Duration::from_millis(1)),
            Err(TcpTimeoutError::TransitoryBelowMinimum)
        );
    }

    #[test]
    fn session_classes_protect_only_established_connections() {
        use SessionClass::{Established, HalfOpen, Transitory};
        let expected = [
            (TcpState::Closed, Transitory),
            (TcpState::V4Init, HalfOpen),
            (TcpState::V6Init, HalfOpen),
            (TcpState::Established, Established),
            (TcpState::V4FinReceived, Established),
            (TcpState::V6FinReceived, Established),
            (TcpState::V4FinV6FinReceived, Transitory),
            (TcpState::Transitory, Transitory),
        ];
        for (state, class) in expected {
            assert_eq!(state.class(), class, "{state}");
            assert_eq!(class.may_be_evicted(), class != Established);
        }
    }

    #[test]
    fn every_input_has_an_answer_and_a_stored_session_never_closes_on_a_segment() {
        // §3.5.2.2: only a timer moves a session to CLOSED.
        for state in ALL_STATES {
            for direction in [FromIpv4, FromIpv6] {
                for byte in 0..=0x1f_u8 {
                    let transition = on_packet(state, direction, TcpFlags::from_header_byte(byte));
                    if state != TcpState::Closed {
                        assert_ne!(transition.next, TcpState::Closed, "{state} {byte:#x}");
                        assert_ne!(transition.packet, PacketAction::Drop);
                        assert_ne!(transition.packet, PacketAction::ResolveInboundSyn);
                    }
                    assert_eq!(
                        transition.discard_stored_syn,
                        state == TcpState::V4Init && direction == FromIpv6 && byte & 0x02 != 0
                    );
                }
            }
            let _ = on_expiry(state);
        }
    }

    // ----- CLOSED (§3.5.2.2 "*** CLOSED ***") -----

    /// §3.5.2.2 CLOSED: V6 SYN → V6 INIT, lifetime at least TCP_TRANS, T+F.
    #[test]
    fn closed_v6_syn_moves_to_v6_init() {
        for flags in [SYN, SYN_ACK] {
            assert_eq!(
                on_packet(TcpState::Closed, FromIpv6, flags),
                Transition {
                    next: TcpState::V6Init,
                    timer: Some(TimerKind::Transitory),
                    packet: PacketAction::Forward,
                    discard_stored_syn: false,
                }
            );
        }
        let mut session = Session::new();
        assert_eq!(session.v6(at_seconds(10), SYN), PacketAction::Forward);
        assert_eq!(session.state, TcpState::V6Init);
        assert_eq!(session.expires, at_seconds(10 + 240));
    }

    /// §3.5.2.2 CLOSED: a V4 SYN depends on the BIB and policy.
    #[test]
    fn closed_v4_syn_asks_for_the_inbound_syn_rule() {
        let transition = on_packet(TcpState::Closed, FromIpv4, SYN);
        assert_eq!(transition.next, TcpState::Closed);
        assert_eq!(transition.timer, None);
        assert_eq!(transition.packet, PacketAction::ResolveInboundSyn);
    }

    /// §3.5.2.2 CLOSED: "If the security policy requires silently dropping
    /// externally initiated TCP connections, then the packet is silently
    /// discarded."
    #[test]
    fn closed_v4_syn_dropped_by_policy() {
        let policy = InboundSynPolicy {
            drop_externally_initiated: true,
            address_dependent_filtering: false,
        };
        for bib_entry_exists in [false, true] {
            assert_eq!(
                on_inbound_syn(policy, bib_entry_exists),
                Transition {
                    next: TcpState::Closed,
                    timer: None,
                    packet: PacketAction::Drop,
                    discard_stored_syn: false,
                }
            );
        }
    }

    /// §3.5.2.2 CLOSED: V4 SYN to (X,x) not in the BIB → session only, SYN
    /// stored, lifetime TCP_INCOMING_SYN, V4 INIT; answered after 6 s
    /// (RFC 5382 REQ-4).
    #[test]
    fn closed_v4_syn_without_bib_entry_is_stored_for_six_seconds() {
        for address_dependent_filtering in [false, true] {
            let policy = InboundSynPolicy {
                drop_externally_initiated: false,
                address_dependent_filtering,
            };
            assert_eq!(
                on_inbound_syn(policy, false),
                Transition {
                    next: TcpState::V4Init,
                    timer: Some(TimerKind::IncomingSyn),
                    packet: PacketAction::StoreInboundSyn,
                    discard_stored_syn: false,
                }
            );
        }
        let mut session = Session::new();
        let action = session.segment(
            at_seconds(0),
            FromIpv4,
            SYN,
            InboundSynPolicy::default(),
            false,
        );
        assert_eq!(action, PacketAction::StoreInboundSyn);
        session.run_timers(at_millis(5_999));
        assert_eq!(
            (session.state, session.rejected_syns),
            (TcpState::V4Init, 0)
        );
        session.run_timers(at_seconds(6));
        assert_eq!(
            (session.state, session.rejected_syns),
            (TcpState::Closed, 1)
        );
    }

    /// §3.5.2.2 CLOSED: V4 SYN, (X,x) in the BIB, address-dependent
    /// filtering → session from the BIB, SYN stored, TCP_INCOMING_SYN.
    #[test]
    fn closed_v4_syn_with_bib_entry_and_address_dependent_filtering_is_stored() {
        let policy = InboundSynPolicy {
            drop_externally_initiated: false,
            address_dependent_filtering: true,
        };
        let transition = on_inbound_syn(policy, true);
        assert_eq!(transition.next, TcpState::V4Init);
        assert_eq!(transition.timer, Some(TimerKind::IncomingSyn));
        assert_eq!(transition.packet, PacketAction::StoreInboundSyn);
    }

    /// §3.5.2.2 CLOSED: V4 SYN, (X,x) in the BIB, no address-dependent
    /// filtering → session from the BIB, lifetime at least TCP_TRANS, T+F.
    #[test]
    fn closed_v4_syn_with_bib_entry_and_endpoint_independent_filtering_is_forwarded() {
        let transition = on_inbound_syn(InboundSynPolicy::default(), true);
        assert_eq!(
            transition,
            Transition {
                next: TcpState::V4Init,
                timer: Some(TimerKind::Transitory),
                packet: PacketAction::Forward,
                discard_stored_syn: false,
            }
        );
        // Forwarded, nothing held: the V4 INIT expiry has nothing to answer.
        let mut session = Session::new();
        assert_eq!(session.v4(at_seconds(0), SYN), PacketAction::Forward);
        session.run_timers(at_seconds(240));
        assert_eq!(
            (session.state, session.rejected_syns),
            (TcpState::Closed, 0)
        );
    }

    /// §3.5.2.2 CLOSED: "For any other packet ... If there is a corresponding
    /// entry in the TCP BIB, the packet SHOULD be translated and forwarded
    /// ... The state remains unchanged. [Else] silently discarded."
    #[test]
    fn closed_other_segments_create_no_session() {
        for direction in [FromIpv4, FromIpv6] {
            for flags in [ACK, FIN, RST, TcpFlags::default()] {
                assert_eq!(
                    on_packet(TcpState::Closed, direction, flags),
                    Transition {
                        next: TcpState::Closed,
                        timer: None,
                        packet: PacketAction::ForwardIfBibEntryExists,
                        discard_stored_syn: false,
                    }
                );
            }
        }
    }

    // ----- V4 INIT -----

    /// §3.5.2.2 V4 INIT: V6 SYN → ESTABLISHED with the maximum lifetime, T+F;
    /// RFC 5382 REQ-4: the held V4 SYN is silently dropped (simultaneous
    /// open, IPv4 side first).
    #[test]
    fn v4_init_v6_syn_establishes_and_drops_the_held_syn() {
        let transition = on_packet(TcpState::V4Init, FromIpv6, SYN);
        assert_eq!(
            transition,
            Transition {
                next: TcpState::Established,
                timer: Some(TimerKind::Established),
                packet: PacketAction::Forward,
                discard_stored_syn: true,
            }
        );
        let mut session = Session::new();
        let held = session.segment(
            at_seconds(0),
            FromIpv4,
            SYN,
            InboundSynPolicy::default(),
            false,
        );
        assert_eq!(held, PacketAction::StoreInboundSyn);
        assert_eq!(session.v6(at_seconds(3), SYN), PacketAction::Forward);
        assert_eq!(session.state, TcpState::Established);
        assert!(!session.stored_syn);
        // The 6-second hold no longer runs.
        session.run_timers(at_seconds(7));
        assert_eq!(
            (session.state, session.rejected_syns),
            (TcpState::Established, 0)
        );
        assert_eq!(session.expires, at_seconds(3 + 7200));
    }

    /// §3.5.2.2 V4 INIT: "For any other packet, the packet SHOULD be
    /// translated and forwarded if the security policy allows doing so. The
    /// state remains unchanged." The timer is not re-armed: a retransmitted
    /// V4 SYN does not stretch the 6-second hold.
    #[test]
    fn v4_init_other_segments_keep_state_and_timer() {
        for (direction, flags) in [
            (FromIpv4, SYN),
            (FromIpv4, ACK),
            (FromIpv4, RST),
            (FromIpv4, FIN),
            (FromIpv6, ACK),
            (FromIpv6, RST),
            (FromIpv6, FIN),
        ] {
            assert_eq!(
                on_packet(TcpState::V4Init, direction, flags),
                Transition {
                    next: TcpState::V4Init,
                    timer: None,
                    packet: PacketAction::ForwardIfPolicyAllows,
                    discard_stored_syn: false,
                },
                "{direction:?} {flags:?}"
            );
        }
        let mut session = Session::new();
        session.segment(
            at_seconds(0),
            FromIpv4,
            SYN,
            InboundSynPolicy::default(),
            false,
        );
        session.segment(
            at_seconds(5),
            FromIpv4,
            SYN,
            InboundSynPolicy::default(),
            false,
        );
        session.run_timers(at_seconds(6));
        assert_eq!(
            (session.state, session.rejected_syns),
            (TcpState::Closed, 1)
        );
    }

    /// §3.5.2.2 V4 INIT: "If the lifetime expires, an ICMP Port Unreachable
    /// error (Type 3, Code 3) containing the IPv4 SYN packet stored is sent
    /// back ... the Session Table Entry is deleted".
    #[test]
    fn v4_init_expiry_rejects_the_stored_syn() {
        assert_eq!(
            on_expiry(TcpState::V4Init),
            ExpiryAction::RemoveAndRejectStoredSyn
        );
        let policy = InboundSynPolicy {
            drop_externally_initiated: false,
            address_dependent_filtering: true,
        };
        let mut session = Session::new();
        session.segment(at_seconds(100), FromIpv4, SYN, policy, true);
        session.run_timers(at_seconds(105));
        assert_eq!(session.state, TcpState::V4Init);
        session.run_timers(at_seconds(106));
        assert_eq!(
            (session.state, session.rejected_syns),
            (TcpState::Closed, 1)
        );
    }

    // ----- V6 INIT -----

    /// §3.5.2.2 V6 INIT: "If a V4 SYN is received (with or without the ACK
    /// flag set) ... the state is moved to ESTABLISHED", maximum lifetime.
    /// Covers the ordinary open (SYN+ACK) and simultaneous open with the
    /// IPv6 side first (bare SYN).
    #[test]
    fn v6_init_v4_syn_establishes() {
        for flags in [SYN, SYN_ACK] {
            assert_eq!(
                on_packet(TcpState::V6Init, FromIpv4, flags),
                Transition {
                    next: TcpState::Established,
                    timer: Some(TimerKind::Established),
                    packet: PacketAction::Forward,
                    discard_stored_syn: false,
                }
            );
        }
        let mut session = Session::new();
        session.v6(at_seconds(0), SYN);
        session.v4(at_seconds(1), SYN_ACK);
        assert_eq!(session.state, TcpState::Established);
        assert_eq!(session.expires, at_seconds(1 + 7200));
    }

    /// §3.5.2.2 V6 INIT: "If a V6 SYN packet is received, the packet is
    /// translated and forwarded. The lifetime ... is set to at least
    /// TCP_TRANS. The state remains unchanged."
    #[test]
    fn v6_init_v6_syn_rearms_the_transitory_timer() {
        assert_eq!(
            on_packet(TcpState::V6Init, FromIpv6, SYN),
            Transition {
                next: TcpState::V6Init,
                timer: Some(TimerKind::Transitory),
                packet: PacketAction::Forward,
                discard_stored_syn: false,
            }
        );
        let mut session = Session::new();
        session.v6(at_seconds(0), SYN);
        session.v6(at_seconds(180), SYN);
        session.run_timers(at_seconds(240));
        assert_eq!(session.state, TcpState::V6Init);
        session.run_timers(at_seconds(420));
        assert_eq!(session.state, TcpState::Closed);
    }

    /// §3.5.2.2 V6 INIT: any other packet SHOULD be translated and forwarded
    /// if policy allows; the state (and the timer) stay.
    #[test]
    fn v6_init_other_segments_keep_state_and_timer() {
        for (direction, flags) in [
            (FromIpv6, ACK),
            (FromIpv6, RST),
            (FromIpv6, FIN),
            (FromIpv4, ACK),
            (FromIpv4, RST),
            (FromIpv4, FIN),
        ] {
            assert_eq!(
                on_packet(TcpState::V6Init, direction, flags),
                Transition {
                    next: TcpState::V6Init,
                    timer: None,
                    packet: PacketAction::ForwardIfPolicyAllows,
                    discard_stored_syn: false,
                }
            );
        }
        let mut session = Session::new();
        session.v6(at_seconds(0), SYN);
        session.v4(at_seconds(200), RST);
        session.run_timers(at_seconds(240));
        assert_eq!(session.state, TcpState::Closed);
    }

    /// §3.5.2.2 V6 INIT: "If the lifetime expires, the Session Table Entry
    /// is deleted".
    #[test]
    fn v6_init_expiry_removes_the_session() {
        assert_eq!(on_expiry(TcpState::V6Init), ExpiryAction::Remove);
        let mut session = Session::new();
        session.v6(at_seconds(0), SYN);
        session.run_timers(at_millis(239_999));
        assert_eq!(session.state, TcpState::V6Init);
        session.run_timers(at_seconds(240));
        assert_eq!(session.state, TcpState::Closed);
    }

    // ----- ESTABLISHED -----

    /// §3.5.2.2 ESTABLISHED: "If a V4 RST or a V6 RST packet is received,
    /// the packet is translated and forwarded. The lifetime is set to
    /// TCP_TRANS and the state is moved to TRANS."
    #[test]
    fn established_rst_moves_to_trans() {
        for direction in [FromIpv4, FromIpv6] {
            for flags in [
                RST,
                TcpFlags::from_header_byte(0x14),
                TcpFlags::from_header_byte(0x15),
            ] {
                assert_eq!(
                    on_packet(TcpState::Established, direction, flags),
                    Transition {
                        next: TcpState::Transitory,
                        timer: Some(TimerKind::Transitory),
                        packet: PacketAction::Forward,
                        discard_stored_syn: false,
                    },
                    "a RST wins over a FIN in the same segment"
                );
            }
        }
        let mut session = Session::in_state(TcpState::Established, TimerKind::Established);
        session.v4(at_seconds(60), RST);
        assert_eq!(session.expires, at_seconds(60 + 240));
        session.run_timers(at_seconds(300));
        assert_eq!(session.state, TcpState::Closed);
    }

    /// §3.5.2.2 ESTABLISHED: "If a V4 FIN packet is received, the packet is
    /// translated and forwarded. The state is moved to V4 FIN RCV."
    #[test]
    fn established_v4_fin_moves_to_v4_fin_received() {
        assert_eq!(
            on_packet(TcpState::Established, FromIpv4, FIN),
            Transition {
                next: TcpState::V4FinReceived,
                timer: Some(TimerKind::Established),
                packet: PacketAction::Forward,
                discard_stored_syn: false,
            }
        );
    }

    /// §3.5.2.2 ESTABLISHED: "If a V6 FIN packet is received ... The state is
    /// moved to V6 FIN RCV."
    #[test]
    fn established_v6_fin_moves_to_v6_fin_received() {
        assert_eq!(
            on_packet(TcpState::Established, FromIpv6, FIN),
            Transition {
                next: TcpState::V6FinReceived,
                timer: Some(TimerKind::Established),
                packet: PacketAction::Forward,
                discard_stored_syn: false,
            }
        );
    }

    /// §3.5.2.2 ESTABLISHED: "If any other packet is received ... the
    /// lifetime ... is set to at least the maximum session lifetime."
    #[test]
    fn established_other_segments_rearm_the_maximum_lifetime() {
        for direction in [FromIpv4, FromIpv6] {
            for flags in [ACK, SYN, SYN_ACK, TcpFlags::default()] {
                assert_eq!(
                    on_packet(TcpState::Established, direction, flags),
                    Transition {
                        next: TcpState::Established,
                        timer: Some(TimerKind::Established),
                        packet: PacketAction::Forward,
                        discard_stored_syn: false,
                    }
                );
            }
        }
        let mut session = Session::in_state(TcpState::Established, TimerKind::Established);
        session.v6(at_seconds(7000), ACK);
        session.run_timers(at_seconds(7200));
        assert_eq!(session.state, TcpState::Established);
        assert_eq!(session.expires, at_seconds(7000 + 7200));
    }

    /// §3.5.2.2 ESTABLISHED: "If the lifetime expires, then the NAT64 SHOULD
    /// send a probe packet ... The state is moved to TRANS." §4 and RFC 5382
    /// REQ-5: an idle established session lives 2 h + 4 min, not less.
    #[test]
    fn established_expiry_probes_and_moves_to_trans() {
        assert_eq!(
            on_expiry(TcpState::Established),
            ExpiryAction::ProbeAndEnterTransitory
        );
        let mut session = Session::new();
        session.v6(at_seconds(0), SYN);
        session.v4(at_seconds(0), SYN_ACK);
        session.v6(at_seconds(0), ACK);
        session.run_timers(at_millis(7_199_999));
        assert_eq!((session.state, session.probes), (TcpState::Established, 0));
        session.run_timers(at_seconds(7200));
        assert_eq!((session.state, session.probes), (TcpState::Transitory, 1));
        session.run_timers(at_millis(7_439_999));
        assert_eq!(session.state, TcpState::Transitory);
        session.run_timers(at_seconds(7440));
        assert_eq!(session.state, TcpState::Closed, "removed at 2 h 4 min");
    }

    // ----- V4 FIN RCV -----

    /// §3.5.2.2 V4 FIN RCV: "If a V6 FIN packet is received ... The lifetime
    /// is set to TCP_TRANS. The state is moved to V6 FIN + V4 FIN RCV."
    #[test]
    fn v4_fin_received_v6_fin_moves_to_both_fins() {
        assert_eq!(
            on_packet(TcpState::V4FinReceived, FromIpv6, FIN),
            Transition {
                next: TcpState::V4FinV6FinReceived,
                timer: Some(TimerKind::Transitory),
                packet: PacketAction::Forward,
                discard_stored_syn: false,
            }
        );
    }

    /// §3.5.2.2 V4 FIN RCV: "If any packet other than the V6 FIN is received
    /// ... the lifetime ... is set to at least the maximum session lifetime
    /// ... The state remains unchanged as V4 FIN RCV."
    #[test]
    fn v4_fin_received_other_segments_rearm_the_maximum_lifetime() {
        for (direction, flags) in [
            (FromIpv4, FIN),
            (FromIpv4, ACK),
            (FromIpv6, ACK),
            (FromIpv4, RST),
            (FromIpv6, RST),
            (FromIpv6, SYN),
        ] {
            assert_eq!(
                on_packet(TcpState::V4FinReceived, direction, flags),
                Transition {
                    next: TcpState::V4FinReceived,
                    timer: Some(TimerKind::Established),
                    packet: PacketAction::Forward,
                    discard_stored_syn: false,
                }
            );
        }
    }

    /// §3.5.2.2 V4 FIN RCV: "If the lifetime expires, the Session Table
    /// Entry is deleted".
    #[test]
    fn v4_fin_received_expiry_removes_the_session() {
        assert_eq!(on_expiry(TcpState::V4FinReceived), ExpiryAction::Remove);
        let mut session = Session::in_state(TcpState::Established, TimerKind::Established);
        session.v4(at_seconds(10), FIN);
        session.run_timers(at_seconds(10 + 7200));
        assert_eq!((session.state, session.probes), (TcpState::Closed, 0));
    }

    // ----- V6 FIN RCV -----

    /// §3.5.2.2 V6 FIN RCV: "If a V4 FIN packet is received ... The lifetime
    /// is set to TCP_TRANS. The state is moved to V6 FIN + V4 FIN RCV."
    #[test]
    fn v6_fin_received_v4_fin_moves_to_both_fins() {
        assert_eq!(
            on_packet(TcpState::V6FinReceived, FromIpv4, FIN),
            Transition {
                next: TcpState::V4FinV6FinReceived,
                timer: Some(TimerKind::Transitory),
                packet: PacketAction::Forward,
                discard_stored_syn: false,
            }
        );
    }

    /// §3.5.2.2 V6 FIN RCV: any packet other than the V4 FIN re-arms the
    /// maximum lifetime; the state stays.
    #[test]
    fn v6_fin_received_other_segments_rearm_the_maximum_lifetime() {
        for (direction, flags) in [
            (FromIpv6, FIN),
            (FromIpv6, ACK),
            (FromIpv4, ACK),
            (FromIpv4, RST),
            (FromIpv6, RST),
            (FromIpv4, SYN),
        ] {
            assert_eq!(
                on_packet(TcpState::V6FinReceived, direction, flags),
                Transition {
                    next: TcpState::V6FinReceived,
                    timer: Some(TimerKind::Established),
                    packet: PacketAction::Forward,
                    discard_stored_syn: false,
                }
            );
        }
    }

    /// §3.5.2.2 V6 FIN RCV: "If the lifetime expires, the Session Table
    /// Entry is deleted".
    #[test]
    fn v6_fin_received_expiry_removes_the_session() {
        assert_eq!(on_expiry(TcpState::V6FinReceived), ExpiryAction::Remove);
        let mut session = Session::in_state(TcpState::V6FinReceived, TimerKind::Established);
        session.run_timers(at_seconds(7200));
        assert_eq!(session.state, TcpState::Closed);
    }

    // ----- V4 FIN + V6 FIN RCV -----

    /// §3.5.2.2 V6 FIN + V4 FIN RCV: "All packets are translated and
    /// forwarded." Only the timer leaves the state: ACKs do not extend it.
    #[test]
    fn both_fins_received_forwards_everything_and_keeps_the_timer() {
        for direction in [FromIpv4, FromIpv6] {
            for byte in 0..=0x1f_u8 {
                assert_eq!(
                    on_packet(
                        TcpState::V4FinV6FinReceived,
                        direction,
                        TcpFlags::from_header_byte(byte)
                    ),
                    Transition {
                        next: TcpState::V4FinV6FinReceived,
                        timer: None,
                        packet: PacketAction::Forward,
                        discard_stored_syn: false,
                    }
                );
            }
        }
        // A full close: FIN from IPv6 at 100 s, FIN from IPv4 at 101 s, last
        // ACKs later; removed TCP_TRANS after the second FIN.
        let mut session = Session::in_state(TcpState::Established, TimerKind::Established);
        session.v6(at_seconds(100), FIN);
        assert_eq!(session.state, TcpState::V6FinReceived);
        session.v4(at_seconds(101), FIN);
        assert_eq!(session.state, TcpState::V4FinV6FinReceived);
        session.v6(at_seconds(102), ACK);
        session.v4(at_seconds(200), ACK);
        session.run_timers(at_seconds(340));
        assert_eq!(session.state, TcpState::V4FinV6FinReceived);
        session.run_timers(at_seconds(341));
        assert_eq!(session.state, TcpState::Closed);
    }

    /// §3.5.2.2 V6 FIN + V4 FIN RCV: "If the lifetime expires, the Session
    /// Table Entry is deleted".
    #[test]
    fn both_fins_received_expiry_removes_the_session() {
        assert_eq!(
            on_expiry(TcpState::V4FinV6FinReceived),
            ExpiryAction::Remove
        );
    }

    // ----- TRANS -----

    /// §3.5.2.2 TRANS: "If a packet other than a RST packet is received, the
    /// lifetime ... is set to at least the maximum session lifetime ... The
    /// state is moved to ESTABLISHED."
    #[test]
    fn trans_non_rst_segment_returns_to_established() {
        for direction in [FromIpv4, FromIpv6] {
            for flags in [ACK, FIN, SYN, TcpFlags::default()] {
                assert_eq!(
                    on_packet(TcpState::Transitory, direction, flags),
                    Transition {
                        next: TcpState::Established,
                        timer: Some(TimerKind::Established),
                        packet: PacketAction::Forward,
                        discard_stored_syn: false,
                    }
                );
            }
        }
        // The probe of an expired ESTABLISHED session is answered: alive.
        let mut session = Session::in_state(TcpState::Established, TimerKind::Established);
        session.run_timers(at_seconds(7200));
        assert_eq!(session.state, TcpState::Transitory);
        session.v6(at_seconds(7201), ACK);
        assert_eq!(session.state, TcpState::Established);
        assert_eq!(session.expires, at_seconds(7201 + 7200));
    }

    /// TRANS + RST: not spelled out by §3.5.2.2 (interpretation): forwarded,
    /// state and timer kept, so RSTs cannot keep the session alive.
    #[test]
    fn trans_rst_keeps_state_and_timer() {
        for direction in [FromIpv4, FromIpv6] {
            assert_eq!(
                on_packet(TcpState::Transitory, direction, RST),
                Transition {
                    next: TcpState::Transitory,
                    timer: None,
                    packet: PacketAction::Forward,
                    discard_stored_syn: false,
                }
            );
        }
        let mut session = Session::in_state(TcpState::Transitory, TimerKind::Transitory);
        session.v4(at_seconds(200), RST);
        session.run_timers(at_seconds(240));
        assert_eq!(session.state, TcpState::Closed);
    }

    /// §3.5.2.2 TRANS: "If the lifetime expires, the Session Table Entry is
    /// deleted".
    #[test]
    fn trans_expiry_removes_the_session() {
        assert_eq!(on_expiry(TcpState::Transitory), ExpiryAction::Remove);
        assert_eq!(on_expiry(TcpState::Closed), ExpiryAction::Remove);
    }

    // ----- whole connections -----

    /// A connection opened from IPv6, used, and closed, through every
    /// state it visits, with the segment actions.
    #[test]
    fn an_ordinary_connection_visits_the_expected_states() {
        let mut session = Session::new();
        let mut visited = Vec::new();
        let steps: [(u64, Direction, TcpFlags); 7] = [
            (0, FromIpv6, SYN),
            (1, FromIpv4, SYN_ACK),
            (1, FromIpv6, ACK),
            (50, FromIpv4, ACK),
            (60, FromIpv4, FIN),
            (61, FromIpv6, FIN),
            (61, FromIpv4, ACK),
        ];
        for (seconds, direction, flags) in steps {
            let action = session.segment(
                at_seconds(seconds),
                direction,
                flags,
                InboundSynPolicy::default(),
                true,
            );
            assert_eq!(action, PacketAction::Forward);
            visited.push(session.state);
        }
        assert_eq!(
            visited,
            [
                TcpState::V6Init,
                TcpState::Established,
                TcpState::Established,
                TcpState::Established,
                TcpState::V4FinReceived,
                TcpState::V4FinV6FinReceived,
                TcpState::V4FinV6FinReceived,
            ]
        );
        session.run_timers(at_seconds(61 + 240));
        assert_eq!(session.state, TcpState::Closed);
    }

    /// Simultaneous open, IPv6 side first (§3.5.2.2 V6 INIT: "with or
    /// without the ACK flag"): V6 SYN, V4 SYN, then both SYN+ACKs.
    #[test]
    fn simultaneous_open_from_ipv6_first() {
        let mut session = Session::new();
        assert_eq!(session.v6(at_seconds(0), SYN), PacketAction::Forward);
        assert_eq!(session.v4(at_millis(500), SYN), PacketAction::Forward);
        assert_eq!(session.state, TcpState::Established);
        session.v6(at_millis(600), SYN_ACK);
        session.v4(at_millis(700), SYN_ACK);
        assert_eq!(session.state, TcpState::Established);
        assert_eq!(session.rejected_syns, 0);
    }

    /// Simultaneous open, IPv4 side first, no BIB entry and
    /// address-dependent filtering (§3.5.2.2 CLOSED and V4 INIT, RFC 5382
    /// REQ-4): the V4 SYN is held, the V6 SYN establishes, the held SYN is
    /// dropped and never answered.
    #[test]
    fn simultaneous_open_from_ipv4_first() {
        let policy = InboundSynPolicy {
            drop_externally_initiated: false,
            address_dependent_filtering: true,
        };
        let mut session = Session::new();
        let held = session.segment(at_seconds(0), FromIpv4, SYN, policy, false);
        assert_eq!(held, PacketAction::StoreInboundSyn);
        assert!(session.stored_syn);
        assert_eq!(session.v6(at_seconds(5), SYN), PacketAction::Forward);
        assert_eq!(session.state, TcpState::Established);
        assert!(!session.stored_syn);
        session.v4(at_seconds(5), SYN_ACK);
        session.v6(at_seconds(5), SYN_ACK);
        session.run_timers(at_seconds(60));
        assert_eq!(
            (session.state, session.rejected_syns),
            (TcpState::Established, 0)
        );
    }
}
