//! The delivery retry schedule: exponential backoff from `base_ms`, capped at `max_ms`, with
//! "equal jitter" (half the step fixed, half drawn from a seed the shell injects) so that many
//! sinks failing together do not retry in lockstep; after `max_attempts` attempts it gives up
//! (the shell journals `alert.failed` with `gave_up` and the alert waits for its group's next
//! repeat).

/// The retry bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    pub base_ms: u64,
    pub max_ms: u64,
    pub max_attempts: u32,
}

/// How long to wait after failed attempt number `attempt` (1-based) before the next one, or
/// `None` when that was the last allowed attempt.
pub fn retry_after(r: &Retry, attempt: u32, seed: u64) -> Option<u64> {
    if attempt == 0 || attempt >= r.max_attempts {
        return None;
    }
    let step = r
        .base_ms
        .saturating_mul(1u64 << (attempt - 1).min(62))
        .min(r.max_ms);
    let half = step / 2;
    let jitter = crate::hash::splitmix64(seed ^ u64::from(attempt)) % (step - half + 1);
    Some(half + jitter)
}
