//! Stateful NAT64 (RFC 6146): IPv6-only hosts without an explicit address mapping share the IPv4 addresses of `pool4`.
//!
//! The packet headers are translated by the same RFC 7915 core as SIIT
//! ([`super::stateless`]); this module adds the state that picks the
//! addresses and ports: the Binding Information Bases and session tables
//! (RFC 6146 §3.1, §3.2), the TCP state machine (§3.5.2), port allocation
//! (§3.5.1.1, RFC 6056) and the timers; unsolicited inbound SYNs held for
//! simultaneous open ([`held_syn`], §3.5.2.2) and fragments that arrive
//! before the first of their datagram ([`fragment_store`], §3.4), both in
//! stores allocated at start.
//!
//! Which path a packet takes: an IPv6 source covered by an EAM is
//! translated statelessly (SIIT); any other IPv6 source toward `pool6` goes
//! through NAT64. IPv4 to a `pool4` address goes to NAT64, to an EAM
//! address to SIIT.

pub mod config;
pub mod engine;
pub mod flow;
pub mod fragment_store;
pub mod held_syn;
pub mod pool4;
pub mod port_allocation;
pub mod table;
pub mod tcp_state;
