//! The border translator: the only place IPv4 exists (legacy-ip builds only).
//!
//! ARCHITECTURE.md rule 1: this module, compiled only with the `legacy-ip`
//! feature, is the one part of the router that names an IPv4 type. So far it
//! holds the address and route side of translation:
//! - [`address_mapping`]: RFC 6052 IPv4-embedded IPv6 addresses, the
//!   translation prefix `pool6` and the well-known-prefix rule (§3.1);
//! - [`route_mapping`]: IPv4 routes mapped under `pool6` into the one IPv6
//!   routing table (ARCHITECTURE.md rule 2), with next hops rewritten
//!   through a next-hop table, and the IPv4 lines of the route file.
//!
//! The packet translator itself (RFC 7915 SIIT, RFC 6146 NAT64) comes later
//! and reuses [`address_mapping`].

pub mod address_mapping;
pub mod route_mapping;
