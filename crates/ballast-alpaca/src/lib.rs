//! The Alpaca Trading API v2 adapter (ALPACA.md): a [`ballast_core::broker::Broker`] on
//! `reqwest` with strict typed contracts. Decisions (error classes, backoff, the rate budget)
//! are pure functions of their inputs and an injected time (`ballast_core::venue`); the
//! client carries them out.

#![forbid(unsafe_code)]

pub mod model;
pub mod wire;
