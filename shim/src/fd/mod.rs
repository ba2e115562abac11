//! The fd floor: per-fd state ([`table`]), the reactors that turn kernel readiness into
//! wake-ups ([`reactor`]) and keep an eye on bursts of wake-ups from plain threads
//! ([`linger`]), and the retry loop every non-blocking fd operation goes through
//! ([`io`]).
//!
//! May import `park`, `sys` and `trace`; imported by `interpose`, `runtime` and the
//! `greenshim` crate's mirrors.

pub mod close;
pub mod io;
pub mod linger;
pub mod reactor;
pub mod table;
