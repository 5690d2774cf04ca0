//! The Alpaca Trading API v2 adapter (ALPACA.md): a [`ballast_core::broker::Broker`] on
//! `reqwest` (rustls) with strict typed contracts. Decisions (error classes, backoff, the rate
//! budget) are pure functions of their inputs and an injected time (`ballast_core::venue`);
//! the client carries them out.
//!
//! - [`model`] / [`wire`]: the contract's bodies and forms, strictly;
//! - [`client`]: HTTP with timeouts, the budget, bounded bodies and retries
//!   ([`client::AlpacaSettings`] is what the configuration maps into);
//! - [`broker`]: [`broker::AlpacaBroker`], the engine's venue;
//! - [`compat`]: the startup compatibility check;
//! - [`secrets`]: the keys, from the environment or a 0600 file;
//! - [`bars`]: the bars of `[feed] kind = "alpaca"`.

#![forbid(unsafe_code)]

pub mod bars;
pub mod broker;
pub mod client;
pub mod compat;
pub mod model;
pub mod secrets;
pub mod wire;
