//! Decisions about talking to an external venue, pure (no I/O, no clock: time is an argument):
//! how a failed call is classified and what to do about it ([`classify`]), when and whether to
//! retry ([`backoff`]), and how many requests may go when ([`budget`]). The Alpaca adapter
//! (`ballast-alpaca`) carries them out; a test drives them without a network.
//!
//! Invariants (each has a test):
//! 1. An order submit is never retried blind: an unknown outcome is settled by a lookup by
//!    `client_order_id` ([`classify::Action::SettleByLookup`]), and [`backoff::decide`] never
//!    answers "retry" for [`classify::Call::Submit`].
//! 2. No answer is never a rejection: only the venue's own words (403, 422 on an order) reject.
//! 3. The client-side budget never lets more than its limit through in any window, and polling
//!    never takes the reserve kept for submits and cancels.

pub mod backoff;
pub mod budget;
pub mod classify;
