//! A fake Alpaca (ALPACA.md) on loopback: every Trading API v2 endpoint with its exact status
//! codes and bodies, an in-memory matching model fed by the replay data, scriptable faults, and
//! per-`client_order_id` counts so a test can prove there was never a duplicate order.

#![forbid(unsafe_code)]
