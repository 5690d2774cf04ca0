//! The engine's journal records and counters.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::domain::{ClientOrderId, Fill, Order, Side, Symbol};
use crate::guard::Verdict;
use crate::inbox::ExternalSignal;
use crate::market::Bar;
use crate::paper::PaperConfig;
use crate::time::Timestamp;

/// `market.bar`: a bar and the paper broker's fills on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BarRecord {
    pub bar: Bar,
    pub fills: Vec<Fill>,
}

/// `engine.decision`: what was decided for a pending target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionRecord {
    pub signal: u64,
    pub symbol: Symbol,
    pub target_qty: Decimal,
    pub reason: String,
    pub strategy: String,
    pub at: Timestamp,
    pub side: Side,
    pub candidate_qty: Decimal,
    pub verdict: Verdict,
    /// The order intent, journaled before it is handed to the broker.
    pub order: Option<Order>,
    /// A signal taken from `journal/signals/`: its seq there (its HTTP id is `api-<seq>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<u64>,
}

/// `signals.taken`: signals of `journal/signals/` (accepted over HTTP) the engine took, in
/// order, up to `last_seq` — where taking resumes, so each is taken exactly once across
/// crashes of the engine or of the API. Each waits for a decision like an inbox signal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TakenRecord {
    /// The last seq of `journal/signals/` taken.
    pub last_seq: u64,
    pub signals: Vec<TakenSignal>,
}

/// One signal taken: the signal, or why the engine refused it (its symbol left the universe,
/// its record is not a signal of this build).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TakenSignal {
    pub seq: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<ExternalSignal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    /// Refused because its `ttl_secs` had passed when the engine came to take it.
    #[serde(default, skip_serializing_if = "is_false")]
    pub expired: bool,
}

/// `order.sent`: what the venue answered when an order intent was sent to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentRecord {
    pub client_order_id: ClientOrderId,
    /// 1 for the first send; a resend after a lookup found nothing counts up.
    pub attempt: u32,
    pub at: Timestamp,
    #[serde(flatten)]
    pub outcome: SendOutcome,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum SendOutcome {
    /// The venue has the order.
    Accepted,
    /// The venue refused it (a definite answer).
    Rejected { reason: String },
    /// No answer (timeout, transport error): the order stays in flight until a lookup by
    /// `client_order_id` settles it. Never taken for a rejection.
    Unknown {
        error: String,
        /// Paper chaos only: whether the simulated venue did get the order (the engine does
        /// not look at this; only the simulator does).
        #[serde(default)]
        paper_venue_received: bool,
    },
}

/// `order.settle`: a lookup by `client_order_id` of an order whose outcome was unknown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettleRecord {
    pub client_order_id: ClientOrderId,
    pub at: Timestamp,
    /// The venue has (or had) the order; if not, it is sent again with the same id.
    pub found: bool,
}

/// `journal.stamp`: the mode and account the journal belongs to (the first record). A paper
/// journal is never continued in live mode, nor the other way round.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalStamp {
    pub mode: String,
    /// A fingerprint of the broker account (`paper` for the paper broker;
    /// [`crate::reconcile::account_fingerprint`] for an external venue's).
    pub account: String,
    /// The venue the journal trades on: `paper` (the embedded simulator, not written: paper
    /// journals keep their bytes) or an external one (`alpaca`), whose fills come only from
    /// `venue.fills` — the embedded paper book is never touched then.
    #[serde(default = "paper", skip_serializing_if = "is_paper")]
    pub broker: String,
    /// An external venue's id epoch, written once at the journal's first stamp (base36 of
    /// the runtime clock's milliseconds): the venue's `client_order_id` of Ballast's `X` is
    /// `<epoch>-X`, so a fresh journal on the same account never reuses an old journal's
    /// single-use ids. `None` for paper journals (not written: their bytes are kept) and for
    /// a journal stamped before epochs existed (its ids are sent bare, as before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<String>,
}

/// The id epoch of a journal first stamped at `now_ms` (base36, at most 8 characters until
/// the year 2059).
pub fn id_epoch(now_ms: i64) -> String {
    let mut n = now_ms.max(0) as u64;
    let mut out = Vec::new();
    loop {
        out.push(b"0123456789abcdefghijklmnopqrstuvwxyz"[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// The broker of a journal stamped before the field existed.
fn paper() -> String {
    PAPER.to_owned()
}

fn is_paper(broker: &str) -> bool {
    broker == PAPER
}

/// The embedded paper venue's name (the default broker).
pub const PAPER: &str = "paper";

/// `signal.expired`: the healer of the signal state machine expired stale signals (stuck in one
/// state longer than an hour, or older than two: SPEC §3 defaults), each with why; an order
/// of theirs still open at the venue is cancelled with them. A signal whose order's outcome
/// is unknown is never expired (unknown is not safe: reconciliation settles it first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpiryRecord {
    pub at: Timestamp,
    pub expired: Vec<(crate::domain::SignalId, String)>,
    pub cancelled: Vec<crate::domain::ClientOrderId>,
}

/// `engine.policy`: the supervisor's safety policy changed (`state/policy.json`); the engine
/// trades under it from here on. Entering DEFENSIVE_EXIT closes the riskiest positions with
/// market orders (`orders`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyRecord {
    /// `ALLOW_ALL`, `SAFE_RISK_PROFILE`, `NO_NEW_TRADES`, `DEFENSIVE_EXIT`,
    /// `EMERGENCY_SHUTDOWN`.
    pub policy: crate::policy::Policy,
    pub reason: String,
    pub at: Timestamp,
    #[serde(default)]
    pub orders: Vec<Order>,
    /// The operator releases the policy file carried (`ballast resume` counts up): leaving
    /// EMERGENCY_SHUTDOWN needs a file with more than this.
    #[serde(default)]
    pub releases: u64,
}

/// `engine.kill_switch`: the kill switch was engaged or released (the `KILL_SWITCH` file of the
/// data directory appeared or went away). Engaging cancels every open order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KillSwitchRecord {
    pub engaged: bool,
    pub reason: String,
    pub at: Timestamp,
    /// Flatten was asked for (`ballast kill --flatten`).
    #[serde(default)]
    pub flatten: bool,
    /// With flatten: one market order per position, closing it (sent like any intent; the
    /// guard is not asked — cancels and closing out are what a kill switch allows).
    #[serde(default)]
    pub orders: Vec<Order>,
}

/// `paper.settings`: the paper venue's settings changed (the configuration's `[paper]` at a
/// start); they apply to fills from here on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaperSettingsRecord {
    pub previous: PaperConfig,
    pub now: PaperConfig,
}

/// `inbox.line`: one line of `inbox/signals.jsonl`, consumed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboxRecord {
    /// Byte offset just after the line: where reading resumes.
    pub offset_after: u64,
    /// 1-based line number in the file.
    pub line: u64,
    pub outcome: InboxOutcome,
    /// On a `reset` or `opened`: the file (its inode) that reading follows from now on — a file renamed away
    /// and replaced (log rotation) is a new file, read from its start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum InboxOutcome {
    Accepted {
        signal: ExternalSignal,
    },
    /// Refused with a reason; the raw line was copied to `quarantined` (if any).
    Rejected {
        error: String,
        quarantined: Option<String>,
        /// The line goes on past `offset_after`: longer than the line bound and no end of
        /// line read yet. Its further bytes are `continued` records.
        #[serde(default, skip_serializing_if = "is_false")]
        open: bool,
        /// The quarantine file of the day was full: the line was not kept (or not whole).
        #[serde(default, skip_serializing_if = "is_false")]
        dropped: bool,
    },
    /// More bytes of the open over-long line (`line`), streamed to its quarantine entry as
    /// they were read; `ended`: its end of line was read.
    Continued {
        bytes: u64,
        ended: bool,
        #[serde(default, skip_serializing_if = "is_false")]
        dropped: bool,
    },
    /// The file became shorter than the offset (truncated) or is another file (rotated, its
    /// inode changed): start over at 0.
    Reset {
        previous_offset: u64,
    },
    /// The first sight of the inbox file (`file`): reading follows it from where it stands.
    Opened,
}

/// Pipeline counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub targets: u64,
    /// Targets dropped because MAX_PENDING targets were waiting.
    pub targets_dropped: u64,
    pub signals: u64,
    pub orders: u64,
    pub fills: u64,
    pub rejections: BTreeMap<String, u64>,
    pub resized: BTreeMap<String, u64>,
    pub duplicate_fills: u64,
    pub overfills_refused: u64,
    pub unknown_fills: u64,
    pub inbox_accepted: u64,
    pub inbox_rejected: u64,
    /// Rejected inbox lines that were not kept (or not whole) in quarantine: the day's
    /// quarantine file was at its bound.
    #[serde(default)]
    pub inbox_quarantine_dropped: u64,
    pub liquidations_done: u64,
    pub liquidations_given_up: u64,
    pub critical_alerts: u64,
    /// Orders the venue refused outright.
    #[serde(default)]
    pub venue_rejections: u64,
    /// Sends whose outcome was unknown (timeouts, transport errors), and lookups that settled
    /// one.
    #[serde(default)]
    pub unknown_outcomes: u64,
    #[serde(default)]
    pub settled_by_lookup: u64,
    /// Stale signals the healer expired.
    #[serde(default)]
    pub signals_expired: u64,
    /// Orders cancelled because the kill switch was engaged.
    #[serde(default)]
    pub cancelled_by_kill_switch: u64,
    /// Signals taken from `journal/signals/` (HTTP), and of them refused by the engine.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub http_taken: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub http_refused: u64,
    /// Orders settled terminal from an external venue's word (`order.venue`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub settled_by_venue: u64,
}

#[expect(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's skip_serializing_if"
)]
fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[expect(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's skip_serializing_if"
)]
fn is_false(b: &bool) -> bool {
    !*b
}

/// `venue.fills`: fills an external venue reported (by polling or reconciliation) for orders
/// Ballast owns — booked like a bar's fills (deduped by fill id, overfills refused). Their ids
/// are deterministic (the venue's execution id, or `<venue order id>@<cumulative qty>` for a
/// fill read off an order's filled quantity), so a second report or a replay books nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VenueFillsRecord {
    pub at: Timestamp,
    pub fills: Vec<Fill>,
}

/// `order.venue`: an order Ballast owns that the venue reports terminal (filled, canceled,
/// expired, replaced, rejected) — settled from the venue's word only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VenueOrderRecord {
    pub at: Timestamp,
    pub settle: crate::reconcile::VenueSettle,
}

/// `reconcile.run`: one reconciliation cycle's outcome — the dangerous findings open after it
/// (none: clean) and the queries that failed. While findings are open trading is `latch`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReconcileRecord {
    pub at: Timestamp,
    /// At the engine's start (the startup reconciliation), or a periodic one.
    pub startup: bool,
    pub findings: Vec<crate::reconcile::Finding>,
    pub unanswered: Vec<String>,
    pub latch: crate::reconcile::OnDangerous,
}

/// `reconcile.resolve`: the operator's choice about a finding, with what it changed
/// (before/after, in Ballast's books). `before`/`after` are Ballast's position in the symbol
/// (adopt: set to the broker's; flatten: the books take the broker's quantity, which the
/// closing `orders` then bring to flat) — for a partial fill, the order's filled quantity.
/// Built by [`super::EngineState::resolve_record`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolveRecord {
    pub at: Timestamp,
    pub finding: String,
    pub choice: crate::reconcile::Choice,
    pub symbol: Option<Symbol>,
    /// Ballast's position in the symbol before and after (adopt sets it to the broker's).
    pub before: Option<Decimal>,
    pub after: Option<Decimal>,
    /// Who asked and why (the operator's words).
    pub by: String,
    /// Orders the choice placed (flatten), journaled with it.
    #[serde(default)]
    pub orders: Vec<Order>,
}
