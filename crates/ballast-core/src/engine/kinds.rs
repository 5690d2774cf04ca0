//! The engine journal's record types, in one table: [`EngineRecord`] (one variant per type,
//! serde-tagged by the type name the journal line carries), the type names as constants, and
//! the check that a record's body parses as its type — the same check for the engine's replay
//! and for every tool that inspects a journal (`ballast journal verify`, `ballast heal`), so
//! that they agree on what the engine refuses.
//!
//! Adding a record type is one line of the table below plus its arm in
//! [`super::EngineState::apply`]. The names are on disk: never rename one.

use serde::{Deserialize, Serialize};

use super::settings::SettingsRecord;
use super::{
    BarRecord, DecisionRecord, ExpiryRecord, InboxRecord, JournalStamp, KillSwitchRecord,
    LiquidationRecord, PaperSettingsRecord, PolicyRecord, ReconcileRecord, ResolveRecord,
    SentRecord, SettleRecord, TakenRecord, VenueFillsRecord, VenueOrderRecord,
};
use crate::market::fallback::FeedSwitch;

macro_rules! engine_records {
    ($($(#[$doc:meta])* $name:ident = $kind:literal => $variant:ident($body:ty),)*) => {
        $($(#[$doc])* pub const $name: &str = $kind;)*

        /// Every record type of the engine journal, in this order (`ballast journal dump
        /// --type` lists them and refuses others).
        pub const ALL: &[&str] = &[$($name),*];

        /// One record of the engine journal. Serialized as the journal line carries it: the
        /// type name under `type`, the record under `body`.
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(tag = "type", content = "body")]
        pub enum EngineRecord {
            $($(#[$doc])* #[serde(rename = $kind)] $variant($body),)*
        }

        impl EngineRecord {
            /// The record's type name (the journal line's `type`).
            pub fn kind(&self) -> &'static str {
                match self {
                    $(EngineRecord::$variant(_) => $name,)*
                }
            }

            /// The record of type `kind` whose body is `body` (the journal line's `body`).
            /// Only the engine writes its journal, so a type it does not know is refused too:
            /// replaying past it would silently drop what it stood for (a newer Ballast's
            /// record, or another program's).
            pub fn decode(kind: &str, body: &str) -> Result<EngineRecord, String> {
                match kind {
                    $($kind => serde_json::from_str(body)
                        .map(EngineRecord::$variant)
                        .map_err(|e| format!("bad {kind} record: {e}")),)*
                    _ => Err(format!(
                        "record type {kind:?} is not one this build's engine writes or reads (a newer Ballast or another program wrote it)"
                    )),
                }
            }
        }

        impl Serialize for Body<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                match self.0 {
                    $(EngineRecord::$variant(r) => r.serialize(s),)*
                }
            }
        }
    };
}

engine_records! {
    /// `journal.stamp`: the journal's mode and account (its first record).
    STAMP = "journal.stamp" => Stamp(JournalStamp),
    /// `market.bar`: a bar and the paper venue's fills on it.
    BAR = "market.bar" => Bar(BarRecord),
    /// `engine.decision`: a pending target decided (signal, verdict, order intent).
    DECISION = "engine.decision" => Decision(DecisionRecord),
    /// `inbox.line`: a line of the signal inbox consumed.
    INBOX = "inbox.line" => Inbox(InboxRecord),
    /// `engine.liquidation`: auto-trim steps.
    LIQUIDATION = "engine.liquidation" => Liquidation(LiquidationRecord),
    /// `order.sent`: the venue's answer to a send.
    SENT = "order.sent" => Sent(SentRecord),
    /// `order.settle`: a lookup by `client_order_id` of an order whose outcome was unknown.
    SETTLE = "order.settle" => Settle(SettleRecord),
    /// `paper.settings`: the paper venue's settings changed.
    PAPER_SETTINGS = "paper.settings" => PaperSettings(PaperSettingsRecord),
    /// `engine.kill_switch`: the kill switch engaged or released.
    KILL_SWITCH = "engine.kill_switch" => KillSwitch(KillSwitchRecord),
    /// `engine.policy`: the supervisor's safety policy changed.
    POLICY = "engine.policy" => Policy(PolicyRecord),
    /// `signal.expired`: the stuck-signal healer expired signals.
    EXPIRED = "signal.expired" => Expired(ExpiryRecord),
    /// `engine.settings`: the guard limits and risk rules in force changed.
    SETTINGS = "engine.settings" => Settings(Box<SettingsRecord>),
    /// `feed.switch`: the bars after it come from the other feed (`[feed.backup]`).
    FEED_SWITCH = "feed.switch" => FeedSwitch(FeedSwitch),
    /// `signals.taken`: signals of `journal/signals/` (HTTP) taken, in order.
    TAKEN = "signals.taken" => Taken(TakenRecord),
    /// `venue.fills`: fills an external venue reported for orders Ballast owns.
    VENUE_FILLS = "venue.fills" => VenueFills(VenueFillsRecord),
    /// `order.venue`: an order Ballast owns settled terminal from the venue's word.
    VENUE_ORDER = "order.venue" => VenueOrder(VenueOrderRecord),
    /// `reconcile.run`: a reconciliation cycle's findings.
    RECONCILE = "reconcile.run" => Reconcile(ReconcileRecord),
    /// `reconcile.resolve`: the operator's choice about a finding.
    RESOLVE = "reconcile.resolve" => Resolve(ResolveRecord),
}

/// A record's body alone, serialized as the journal line's `body` (the journal writes the type
/// and the framing around it).
pub struct Body<'a>(pub &'a EngineRecord);

impl EngineRecord {
    /// What the journal line's `body` holds.
    pub fn body(&self) -> Body<'_> {
        Body(self)
    }
}

/// Whether `body` parses as a record of type `kind` (see [`EngineRecord::decode`]).
pub fn check_body(kind: &str, body: &str) -> Result<(), String> {
    EngineRecord::decode(kind, body).map(|_| ())
}

/// Whether `body` parses as the engine's state (a snapshot of it).
pub fn check_state(body: &str) -> Result<(), String> {
    serde_json::from_str::<super::EngineState>(body)
        .map(|_| ())
        .map_err(|e| e.to_string())
}
