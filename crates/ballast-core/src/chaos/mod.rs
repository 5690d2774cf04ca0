//! Chaos modes (SPEC §10, issue 15): faults a running **paper** instance injects on purpose at
//! its seams — the [`Broker`](crate::broker::Broker) (see [`ChaosBroker`]), the `Storage`, the
//! clock, the feed, the engine's journal and snapshot at its start, the supervisor, the API's
//! port — to show that Ballast heals or halts as designed.
//!
//! This module decides; the shells act. It names every mode with what it breaks and the
//! response Ballast must give ([`Response`]), parses the operator's words (`CHAOS_MODE`, a
//! comma-separated list, and `[chaos] modes`, merged as their union), and holds the seeded
//! schedules ([`schedule`]) that say at which call, record, write or tick a fault fires —
//! deterministic from `[chaos] seed`, bounded by the `[chaos]` knobs.
//!
//! Chaos is refused in live mode, always: [`live_refusal`] is the one rule every entry point
//! (`ballast check`, `ballast run --live`, the engine, the supervisor) applies.

mod broker;
pub mod schedule;

pub use broker::{ChaosBroker, ChaosCalls, partial_fills};

use serde::{Deserialize, Serialize};

/// The environment variable that turns chaos modes on (comma-separated mode names): the single
/// switch `ballast chaos` sets for its throw-away instances. Merged with `[chaos] modes`.
pub const ENV: &str = "CHAOS_MODE";

/// The most modes one list may name (there are [`ChaosMode::ALL`]'s worth; a longer list
/// repeats names).
pub const MAX_MODES: usize = 64;

/// What a chaos mode must lead to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Response {
    /// Transient: Ballast recovers on its own (or once the mode is lifted), nothing lost.
    Recover,
    /// Persistent: Ballast stops trading in a safe state (the health state and policy say
    /// why) until an operator acts.
    SafeHalt,
}

impl Response {
    pub fn as_str(self) -> &'static str {
        match self {
            Response::Recover => "recover",
            Response::SafeHalt => "safe halt",
        }
    }
}

macro_rules! modes {
    ($($variant:ident $name:literal $response:ident $what:literal;)*) => {
        /// A chaos mode (its wire name is the snake_case word of SPEC §10).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum ChaosMode { $($variant,)* }

        impl ChaosMode {
            /// Every mode, in the documented order.
            pub const ALL: &'static [ChaosMode] = &[$(ChaosMode::$variant,)*];

            /// The name operators write (`CHAOS_MODE=broker_down`).
            pub fn as_str(self) -> &'static str {
                match self { $(ChaosMode::$variant => $name,)* }
            }

            /// What it breaks, and how Ballast answers, in one line.
            pub fn description(self) -> &'static str {
                match self { $(ChaosMode::$variant => $what,)* }
            }

            /// The designed response.
            pub fn response(self) -> Response {
                match self { $(ChaosMode::$variant => Response::$response,)* }
            }
        }
    };
}

modes! {
    BrokerDown "broker_down" Recover
        "the broker answers no call for [chaos] outage_calls calls (no answer: unknown outcomes stay in flight); sends wait, lookups settle them once it answers again";
    InvalidCreds "invalid_creds" SafeHalt
        "the broker refuses the credentials as a 401 would (PERSISTENT_CONFIG): the engine stops with no further request, FAILED_CONFIG, no restart loop";
    SlowBroker "slow_broker" Recover
        "one broker call in [chaos] every answers [chaos] slow_ms late: the engine waits it out, loop lag shows it, nothing is lost";
    SchemaDrift "schema_drift" SafeHalt
        "one broker answer in [chaos] every breaks the contract, naming a field (CODE_SCHEMA): an unknown send is looked up, the broker's health says the contract is broken";
    RateLimited "rate_limited" Recover
        "one broker call in [chaos] every is refused with a 429 and Retry-After: nothing is sent that time, the next pass sends it";
    PartialFills "partial_fills" Recover
        "the paper venue fills one order in [chaos] every in parts over several bars: positions stay the sum of the fills";
    EngineCrash "engine_crash" Recover
        "the engine aborts right after a seeded journal record (seq 1..=[chaos] crash_after_records): the supervisor restarts it, recovery replays the journal";
    SupervisorCrash "supervisor_crash" Recover
        "the supervisor aborts after [chaos] supervisor_crash_after_secs: its engine halts before its next order, whoever runs the supervisor starts it again";
    StateCorrupt "state_corrupt" Recover
        "a byte of the newest engine snapshot is flipped before recovery: the snapshot is quarantined and the journal replayed (heal)";
    JournalTornTail "journal_torn_tail" Recover
        "the journal's last record is torn before recovery: the torn tail is quarantined and cut (heal), nothing acknowledged is lost";
    DiskFull "disk_full" SafeHalt
        "the storage refuses writes with ENOSPC after [chaos] disk_full_after_writes writes: the engine stops before any order it could not journal";
    StaleFeed "stale_feed" Recover
        "the primary feed delivers nothing from bar [chaos] stale_after_bars on: the feed check goes DEGRADED then CRITICAL, [feed.backup] takes over when declared";
    ClockSkew "clock_skew" Recover
        "the engine's clock jumps [chaos] skew_secs forward at a seeded tick, then back: timeouts and ages never go negative, nothing is sent twice";
    PortConflict "port_conflict" Recover
        "the API's port is taken before the supervisor binds it: the next ports are tried (as [api] metrics_port's are), the chosen one is said and recorded";
    LostReply "lost_reply" Recover
        "the paper venue's reply to one send in [chaos] every is lost (outcome unknown): the order stays in flight until a lookup by client_order_id settles it";
}

impl ChaosMode {
    /// The mode called `name` (exact, lowercase).
    pub fn parse(name: &str) -> Option<ChaosMode> {
        ChaosMode::ALL.iter().copied().find(|m| m.as_str() == name)
    }
}

impl std::fmt::Display for ChaosMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every mode name, comma-separated (what an error lists as valid).
pub fn valid_names() -> String {
    ChaosMode::ALL
        .iter()
        .map(|m| m.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A name that is not a chaos mode, with where it was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{name:?} in {origin} is not a chaos mode; the modes are: {}",
    valid_names()
)]
pub struct UnknownMode {
    pub name: String,
    pub origin: String,
}

/// The modes `names` names, sorted, each once; empty entries (a trailing comma, spaces) are
/// skipped. The first unknown name is refused with the valid ones. `origin` says where the
/// names came from (`CHAOS_MODE`, `[chaos] modes`).
pub fn parse_names<'a>(
    names: impl IntoIterator<Item = &'a str>,
    origin: &str,
) -> Result<Vec<ChaosMode>, UnknownMode> {
    let mut out = Vec::new();
    for name in names.into_iter().take(MAX_MODES) {
        let name = name.trim();
        if name.is_empty() {
            continue;
        }
        match ChaosMode::parse(&name.to_ascii_lowercase()) {
            Some(m) => out.push(m),
            None => {
                return Err(UnknownMode {
                    name: name.chars().take(64).collect(),
                    origin: origin.to_owned(),
                });
            }
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// `CHAOS_MODE`'s value: comma-separated names, whitespace tolerated.
pub fn parse_env(text: &str) -> Result<Vec<ChaosMode>, UnknownMode> {
    parse_names(text.split(','), ENV)
}

/// The union of two lists of modes, sorted, each once.
pub fn union(a: &[ChaosMode], b: &[ChaosMode]) -> Vec<ChaosMode> {
    let mut out: Vec<ChaosMode> = a.iter().chain(b).copied().collect();
    out.sort();
    out.dedup();
    out
}

/// `a, b, c`.
pub fn names(modes: &[ChaosMode]) -> String {
    modes
        .iter()
        .map(|m| m.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Why these modes may not run (`None`: they may): chaos is refused in live mode, always —
/// with `mode = "live"` in the configuration or `--live` on the command line.
pub fn live_refusal(modes: &[ChaosMode], live: bool) -> Option<String> {
    if modes.is_empty() || !live {
        return None;
    }
    Some(format!(
        "chaos mode{} {} {} active and this is a live instance: chaos is refused in live mode, always (it breaks the broker, the storage and the clock on purpose)\n    help: unset {ENV} and empty [chaos] modes for live trading, or run the chaos in paper mode (mode = \"paper\", no --live)",
        if modes.len() == 1 { "" } else { "s" },
        names(modes),
        if modes.len() == 1 { "is" } else { "are" },
    ))
}

/// The resolved chaos of one instance: the active modes and the knobs their schedules take
/// (`[chaos]`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChaosPlan {
    pub modes: Vec<ChaosMode>,
    pub knobs: crate::config::Chaos,
}

impl ChaosPlan {
    /// The plan of `config` (its `[chaos] modes` already hold `CHAOS_MODE`'s: the loader
    /// merges them). An unknown name is refused at validation, so here it cannot occur; it
    /// would be skipped.
    pub fn of(config: &crate::config::Config) -> ChaosPlan {
        let modes = config
            .chaos
            .modes
            .iter()
            .filter_map(|n| ChaosMode::parse(n))
            .collect::<Vec<_>>();
        ChaosPlan {
            modes: union(&modes, &[]),
            knobs: config.chaos.clone(),
        }
    }

    pub fn is_active(&self, mode: ChaosMode) -> bool {
        self.modes.contains(&mode)
    }

    pub fn is_empty(&self) -> bool {
        self.modes.is_empty()
    }

    /// The line the engine logs at its start (and `ballast status` shows).
    pub fn banner(&self) -> Option<String> {
        (!self.modes.is_empty()).then(|| {
            format!(
                "CHAOS: modes {} active (seed {}): faults are injected on purpose; this is not a clean run",
                names(&self.modes),
                self.knobs.seed
            )
        })
    }
}

#[cfg(test)]
mod tests;
