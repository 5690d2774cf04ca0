//! Jittered exponential backoff for transient failures of idempotent calls, bounded in
//! attempts and in delay, with the server's word (`Retry-After`, `X-RateLimit-Reset`)
//! honoured. A submit is never retried: [`decide`] answers [`Retry::No`] for it whatever the
//! failure (its unknown outcome is settled by a lookup, ALPACA.md).
//!
//! The jitter is drawn from a seed ([`crate::hash::fnv1a`] of the seed and the attempt), so a
//! schedule is reproducible in a test and differs between clients with different seeds.

use super::classify::{Action, Call, Verdict};

/// The hard ceiling on one wait, whatever a server asks (a `Retry-After: 86400` is not obeyed
/// by sleeping a day: the call gives up instead, and the caller's next pass asks again).
pub const MAX_SERVER_WAIT_MS: u64 = 60_000;

/// How retries are paced and bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffPolicy {
    /// The first retry's nominal delay; each further retry doubles it.
    pub base_delay_ms: u64,
    /// No retry waits longer than this (jitter included), unless the server asks for longer
    /// (up to [`MAX_SERVER_WAIT_MS`]).
    pub max_delay_ms: u64,
    /// Retries after the first attempt, at most (0: never retry).
    pub max_retries: u32,
}

impl Default for BackoffPolicy {
    /// 250 ms, 500 ms, 1 s (each jittered to between half and all of it), at most 3 retries,
    /// no wait over 5 s: a failing call gives up within about 7 s and the engine's next pass
    /// asks again.
    fn default() -> Self {
        BackoffPolicy {
            base_delay_ms: 250,
            max_delay_ms: 5_000,
            max_retries: 3,
        }
    }
}

/// Whether to send the call again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Retry {
    /// Wait this long, then send it again.
    After { delay_ms: u64 },
    /// Do not: the reason, in words.
    No(String),
}

/// The delay before retry number `retry` (1: the first retry), jittered into
/// `[nominal/2, nominal]` where nominal is `base × 2^(retry-1)` capped at the maximum.
pub fn jittered_delay_ms(policy: &BackoffPolicy, retry: u32, seed: u64) -> u64 {
    let doublings = retry.saturating_sub(1).min(32);
    let nominal = policy
        .base_delay_ms
        .saturating_mul(1u64 << doublings)
        .min(policy.max_delay_ms);
    let half = nominal / 2;
    let draw = crate::hash::fnv1a(seed.to_le_bytes().into_iter().chain(retry.to_le_bytes()));
    half + draw % (nominal - half + 1)
}

/// After a failure classified `verdict` of `call`, with `retries_done` retries already made:
/// retry (and after how long) or not. `server_wait_ms` is what the server asked for
/// (`Retry-After`, or the time to its `X-RateLimit-Reset`): the delay is at least that.
pub fn decide(
    policy: &BackoffPolicy,
    call: Call,
    verdict: Verdict,
    retries_done: u32,
    seed: u64,
    server_wait_ms: Option<u64>,
) -> Retry {
    if verdict.action != Action::Retry {
        return Retry::No(format!(
            "a {} failure is not retried",
            verdict_words(verdict)
        ));
    }
    if !call.is_idempotent() {
        // Defence in depth: classify never says Retry for a submit.
        return Retry::No("an order submit is never sent again blind".into());
    }
    if retries_done >= policy.max_retries {
        return Retry::No(format!(
            "gave up after {} retries (the limit, max_retries = {})",
            retries_done, policy.max_retries
        ));
    }
    let own = jittered_delay_ms(policy, retries_done + 1, seed);
    match server_wait_ms {
        Some(wait) if wait > MAX_SERVER_WAIT_MS => Retry::No(format!(
            "the venue asked to wait {wait} ms, over the {MAX_SERVER_WAIT_MS} ms a call waits"
        )),
        Some(wait) => Retry::After {
            delay_ms: own.max(wait),
        },
        None => Retry::After { delay_ms: own },
    }
}

fn verdict_words(v: Verdict) -> &'static str {
    match v.action {
        Action::Retry => "transient",
        Action::SettleByLookup => "submit of unknown outcome (settled by lookup)",
        Action::NotSent => "submit refused before acceptance",
        Action::Rejected => "rejection",
        Action::LookUp => "duplicate client_order_id (looked up)",
        Action::Absent => "not found",
        Action::NotCancelable => "not cancelable",
        Action::StopTrading => "configuration",
        Action::Halt => "contract",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::heal::FailureClass;
    use crate::venue::classify::{Failure, classify};

    fn transient() -> Verdict {
        classify(Call::Query, Failure::Timeout)
    }

    #[test]
    fn delays_grow_exponentially_with_jitter_and_stay_bounded() {
        let p = BackoffPolicy {
            base_delay_ms: 100,
            max_delay_ms: 1_000,
            max_retries: 10,
        };
        for seed in 0..200u64 {
            for retry in 1..=40 {
                let d = jittered_delay_ms(&p, retry, seed);
                let nominal = (100u64 << (retry - 1).min(20)).min(1_000);
                assert!(
                    d >= nominal / 2 && d <= nominal,
                    "retry {retry} seed {seed}: {d}"
                );
            }
        }
        let spread: std::collections::BTreeSet<u64> =
            (0..50).map(|s| jittered_delay_ms(&p, 3, s)).collect();
        assert!(
            spread.len() > 10,
            "jitter spreads clients apart: {spread:?}"
        );
        assert_eq!(
            jittered_delay_ms(&p, 2, 7),
            jittered_delay_ms(&p, 2, 7),
            "seeded"
        );
    }

    #[test]
    fn retries_are_bounded() {
        let p = BackoffPolicy::default();
        for done in 0..p.max_retries {
            assert!(matches!(
                decide(&p, Call::Query, transient(), done, 1, None),
                Retry::After { .. }
            ));
        }
        assert!(matches!(
            decide(&p, Call::Query, transient(), p.max_retries, 1, None),
            Retry::No(_)
        ));
    }

    #[test]
    fn a_submit_is_never_retried_whatever_the_failure() {
        let p = BackoffPolicy::default();
        for failure in [
            Failure::Timeout,
            Failure::Dropped,
            Failure::Connect,
            Failure::Status {
                status: 429,
                code: None,
                message: "",
            },
            Failure::Status {
                status: 500,
                code: None,
                message: "",
            },
            Failure::Status {
                status: 422,
                code: Some(40010001),
                message: "",
            },
        ] {
            let v = classify(Call::Submit, failure);
            assert!(
                matches!(decide(&p, Call::Submit, v, 0, 1, None), Retry::No(_)),
                "{failure:?}"
            );
        }
        let forced = Verdict {
            class: FailureClass::Transient,
            action: Action::Retry,
        };
        assert!(matches!(
            decide(&p, Call::Submit, forced, 0, 1, None),
            Retry::No(_)
        ));
    }

    #[test]
    fn the_servers_wait_is_honoured_up_to_a_ceiling() {
        let p = BackoffPolicy::default();
        assert_eq!(
            decide(&p, Call::Query, transient(), 0, 1, Some(4_000)),
            Retry::After { delay_ms: 4_000 }
        );
        assert!(matches!(
            decide(
                &p,
                Call::Query,
                transient(),
                0,
                1,
                Some(MAX_SERVER_WAIT_MS + 1)
            ),
            Retry::No(_)
        ));
    }

    #[test]
    fn non_transient_failures_are_not_retried() {
        let p = BackoffPolicy::default();
        let v = classify(
            Call::Query,
            Failure::Status {
                status: 401,
                code: None,
                message: "",
            },
        );
        assert!(matches!(
            decide(&p, Call::Query, v, 0, 1, None),
            Retry::No(_)
        ));
        let v = classify(Call::Query, Failure::Contract);
        assert!(matches!(
            decide(&p, Call::Query, v, 0, 1, None),
            Retry::No(_)
        ));
    }
}
