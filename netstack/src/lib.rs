//! pure6's router: an IPv6 forwarding plane as a `no_std` + `alloc` library.
//!
//! Design principles, in order:
//! 1. Every frame ends in exactly one verdict: transmitted, consumed by the
//!    router, or dropped with a named counter.
//! 2. IPv4 exists only in the `translation` module (to come), compiled only
//!    with the `legacy-ip` feature; smoltcp is built without `proto-ipv4`.
//! 3. Bounded and allocation-free on the fast path; time and randomness are
//!    passed in, so the router runs deterministically on the host.
//! 4. Simple and clear algorithms over fast and clever ones, except where a
//!    benchmark says otherwise.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

#[cfg(test)]
extern crate std;

pub mod config;
pub mod counters;
pub mod fib;
pub mod route_file;
#[cfg(test)]
mod test_random;
#[cfg(feature = "legacy-ip")]
pub mod translation;

/// Time is passed in (`now`); these are the types it is passed as.
pub use smoltcp::time::{Duration, Instant};
pub mod router;
