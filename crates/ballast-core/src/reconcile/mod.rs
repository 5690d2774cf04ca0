//! Reconciliation (SPEC §3 "State manager and reconciliation", principle 3): what Ballast
//! believes against what the venue says, as a pure diff.
//!
//! The runtime asks the venue (account, positions, open orders, the orders changed since the
//! last cursor, and the targeted lookups a previous diff asked for) and hands the answers to
//! [`diff`] with the engine's state, the rules and the time. Each difference comes out
//! classified:
//! - safe, carried out as journaled records: a fill the venue has for an order Ballast owns
//!   (`venue.fills`, deterministic fill ids so a replay or a second report dedupes) and an
//!   order Ballast owns that the venue reports terminal (`order.venue`);
//! - dangerous, never guessed: a [`Finding`] (CRITICAL; trading REDUCING or HALTED per the
//!   rules; a live start refused) with the operator's [`Choice`]s.
//!
//! Invariants (each has a test):
//! 1. A failed query is never read as flat or empty: its part of the diff concludes nothing
//!    (it is listed in [`Diff::unanswered`]) — `row_l_a_failed_query_concludes_nothing_about_its_part`
//!    and the proptest `invariants_a_failed_query_concludes_nothing_and_the_same_inputs_give_the_same_diff`.
//! 2. Unknown never becomes rejected without the venue's word: an order is settled terminal
//!    only from a status the venue reported; one the venue does not list is looked up by
//!    `client_order_id` first ([`Diff::lookups`], at most [`Rules::max_lookups`] a cycle) —
//!    `row_c_…`, `row_d_a_lookup_that_finds_nothing_is_a_finding_never_a_rejection`, the proptest.
//! 3. An order changed within [`Rules::grace_ms`] is not judged yet (its report may be racing
//!    the engine's own record of it) — `row_e_…`, `row_f_…`.
//! 4. The same answers and state give the same diff (ids and order are deterministic) — the
//!    proptest.
//! 5. A fill is booked once: a fill read off an order's cumulative filled quantity has the id
//!    `<venue order id>@<filled quantity>` and is the difference to what Ballast booked, so
//!    a second report, a replay or a restart in the middle of a partial fill books only what
//!    is left — `engine::tests::venue::a_restart_in_the_middle_of_a_partial_fill_books_only_the_remainder`,
//!    `engine::tests::venue::cumulative_reports_book_each_fill_once_whatever_the_repeats`.
//! 6. A position is judged only after this cycle's fills are counted, and not while an order
//!    of Ballast's in its symbol is being filled right now (changed within the grace window) —
//!    `a_position_is_judged_after_this_cycle_s_fills_and_not_while_an_order_of_ours_fills_now`.
//! 7. Bounded: a run lists at most [`MAX_FINDINGS`] findings and each at most
//!    [`MAX_EXPLAINING`] explaining fills, the rest counted —
//!    `findings_and_explaining_fills_are_bounded_and_the_rest_counted`.
//!
//! The classification, row by row (each row has a test in `tests.rs`):
//!
//! | the venue says | Ballast has | outcome |
//! |---|---|---|
//! | an order of ours filled more than booked, average price given | the order | a fill for the difference, priced from the cumulative average (safe) |
//! | an order of ours terminal (filled, canceled, expired, replaced, rejected) | the order | `order.venue` settle, after its fills (safe) |
//! | an accepted order of ours in none of its lists | the order | a lookup by `client_order_id` (at most `max_lookups`, oldest first) |
//! | the lookup: not found | the accepted order | `missing_order` (never "rejected") |
//! | an order of ours filled less than booked, more than ordered, or without an average price | the order | `unresolved_partial_fill` |
//! | an open order | no such order | `foreign_order` |
//! | another order (symbol, side, quantity) under one of Ballast's ids | its own order | `foreign_order`, nothing booked or settled |
//! | a position | another quantity, after this cycle's fills | `quantity_mismatch` |
//! | a position | never traded the symbol | `unknown_position` |
//! | a symbol and side twice | — | `duplicate_position` |
//! | entry price ≤ 0, size 0, side against the sign | — | `invalid_position` |
//! | another account than the journal's | — | `account_mismatch` |
//! | a query failed | — | listed in `unanswered`, its part not judged |

mod orders;
mod positions;
mod seen;
#[cfg(test)]
mod tests;
mod words;

pub use seen::{Seen, changed_since};

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::broker::{VenueAccount, VenueOrder, VenuePosition, VenueStatus};
use crate::domain::{ClientOrderId, Fill, Symbol};
use crate::engine::EngineState;
use crate::guard::TradingState;
use crate::time::Timestamp;

/// A venue query's answer: `Err` (in words) when the query failed — never read as "none".
pub type Answer<T> = Result<T, String>;

/// What the venue said in one reconciliation cycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VenueAnswers {
    pub account: Answer<VenueAccount>,
    pub positions: Answer<Vec<VenuePosition>>,
    pub open_orders: Answer<Vec<VenueOrder>>,
    /// Orders changed since the cursor (open or closed).
    pub changed: Answer<Vec<VenueOrder>>,
    /// Answers to the lookups by `client_order_id` a previous diff asked for (`Ok(None)`: the
    /// venue does not know the id — its 404).
    pub lookups: BTreeMap<ClientOrderId, Answer<Option<VenueOrder>>>,
}

/// What trading becomes while a dangerous difference is open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnDangerous {
    /// Only orders that reduce a position.
    Reducing,
    /// No order at all.
    #[default]
    Halted,
}

impl OnDangerous {
    pub fn trading_state(self) -> TradingState {
        match self {
            OnDangerous::Reducing => TradingState::Reducing,
            OnDangerous::Halted => TradingState::Halted,
        }
    }
}

/// The protections against false verdicts, and what a dangerous difference does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// Orders the venue changed less than this long ago are not judged yet.
    pub grace_ms: i64,
    /// Targeted lookups asked for in one cycle, at most.
    pub max_lookups: usize,
    pub on_dangerous: OnDangerous,
}

/// A dangerous difference's kind (SPEC §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// A position whose quantity differs from Ballast's with no fill to explain it.
    QuantityMismatch,
    /// An open order at the venue that Ballast did not place.
    ForeignOrder,
    /// A position in a symbol Ballast never traded.
    UnknownPosition,
    /// The same symbol and side reported twice.
    DuplicatePosition,
    /// Entry price ≤ 0, size ≤ 0, or a side that contradicts the quantity's sign.
    InvalidPosition,
    /// A partial fill the venue's answers do not resolve.
    UnresolvedPartialFill,
    /// The venue's account is not the one the journal belongs to.
    AccountMismatch,
    /// An order the venue had accepted that its lookup by `client_order_id` does not find.
    MissingOrder,
}

impl FindingKind {
    /// The kind as ids and the operator's surfaces spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::QuantityMismatch => "quantity_mismatch",
            FindingKind::ForeignOrder => "foreign_order",
            FindingKind::UnknownPosition => "unknown_position",
            FindingKind::DuplicatePosition => "duplicate_position",
            FindingKind::InvalidPosition => "invalid_position",
            FindingKind::UnresolvedPartialFill => "unresolved_partial_fill",
            FindingKind::AccountMismatch => "account_mismatch",
            FindingKind::MissingOrder => "missing_order",
        }
    }
}

/// What the operator may do about a finding (the first one listed is recommended).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Choice {
    /// Adopt the broker's view (journaled as an operator reconciliation event, before/after).
    Adopt,
    /// Close the broker's position in the symbol.
    Flatten,
    /// Leave trading halted (nothing changes).
    StayHalted,
}

impl Choice {
    pub const ALL: [Choice; 3] = [Choice::Adopt, Choice::Flatten, Choice::StayHalted];

    /// The choice as the operator types it (`adopt`, `flatten`, `stay_halted`).
    pub fn as_str(self) -> &'static str {
        match self {
            Choice::Adopt => "adopt",
            Choice::Flatten => "flatten",
            Choice::StayHalted => "stay_halted",
        }
    }

    /// The choice the operator typed (`stay-halted` too), if it is one.
    pub fn parse(text: &str) -> Option<Choice> {
        let text = text.trim().replace('-', "_");
        Choice::ALL.into_iter().find(|c| c.as_str() == text)
    }
}

impl std::fmt::Display for Choice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A dangerous difference, as the operator sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Deterministic (`<kind>:<symbol or venue order id>`): what an operator's choice names.
    pub id: String,
    pub kind: FindingKind,
    pub symbol: Option<Symbol>,
    /// What Ballast believes and what the broker says, in words.
    pub ours: String,
    pub theirs: String,
    /// The quantities, where the finding is about a position.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_qty: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub venue_qty: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub venue_avg_price: Option<Decimal>,
    /// The venue's order the finding is about (an order Ballast does not own, a partial fill).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub venue_order: Option<String>,
    /// Ballast's order the finding is about (a partial fill, a missing order).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_order_id: Option<ClientOrderId>,
    /// The fills that would explain the difference, in words (none seen: empty).
    #[serde(default)]
    pub explaining: Vec<String>,
    pub choices: Vec<Choice>,
}

/// An order Ballast owns that the venue reports terminal: settled from the venue's word.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VenueSettle {
    pub client_order_id: ClientOrderId,
    pub status: VenueStatus,
    /// What the venue says was filled in all.
    pub filled_qty: Decimal,
}

/// One cycle's differences, classified.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diff {
    /// Safe: fills the venue has for orders Ballast owns (deterministic ids), to book.
    pub fills: Vec<Fill>,
    /// Safe: orders Ballast owns the venue reports terminal, to settle.
    pub settles: Vec<VenueSettle>,
    /// Orders to look up by `client_order_id` before anything is concluded about them.
    pub lookups: Vec<ClientOrderId>,
    /// Dangerous differences.
    pub findings: Vec<Finding>,
    /// Queries that failed this cycle, in words: what they would have shown is not judged.
    pub unanswered: Vec<String>,
}

impl Diff {
    /// No dangerous difference, every query answered, nothing left to look up.
    pub fn clean(&self) -> bool {
        self.findings.is_empty() && self.unanswered.is_empty() && self.lookups.is_empty()
    }
}

/// The fingerprint of a venue's account that `journal.stamp` records (`paper` for the
/// embedded simulator; otherwise `alpaca-<FNV-1a of the account id, hex>`: the id itself is
/// not written to the journal).
pub fn account_fingerprint(account: &VenueAccount) -> String {
    if account.id == crate::engine::PAPER {
        return crate::engine::PAPER.to_owned();
    }
    format!("alpaca-{:016x}", crate::hash::fnv1a(account.id.bytes()))
}

/// The differences between the engine's state and the venue's answers at `now`.
pub fn diff(state: &EngineState, venue: &VenueAnswers, rules: &Rules, now: Timestamp) -> Diff {
    let mut d = Diff::default();
    account(state, &venue.account, &mut d);
    let reports = orders::reports(venue);
    let cycle = Cycle {
        state,
        venue,
        rules,
        now,
        reports: &reports,
    };
    orders::judge(&cycle, &mut d);
    positions::judge(&cycle, &mut d);
    d.findings
        .retain(|f| !state.controls.acknowledged.contains(&f.id));
    d.findings.sort_by(|a, b| a.id.cmp(&b.id));
    d.findings.dedup_by(|a, b| a.id == b.id);
    d.unanswered.sort();
    d.unanswered.dedup();
    if d.findings.len() > MAX_FINDINGS {
        let more = d.findings.len() - MAX_FINDINGS;
        d.findings.truncate(MAX_FINDINGS);
        d.unanswered.push(format!(
            "{more} more dangerous differences than the {MAX_FINDINGS} listed (by id): they are shown once these are resolved"
        ));
    }
    d
}

/// Findings one cycle lists at most (the journal's `reconcile.run` stays bounded); the rest
/// are counted in [`Diff::unanswered`] and listed by a later cycle.
pub const MAX_FINDINGS: usize = 200;
/// Explaining fills listed in one finding at most (the rest counted).
pub const MAX_EXPLAINING: usize = 10;

/// One cycle's inputs, as the judges read them.
struct Cycle<'a> {
    state: &'a EngineState,
    venue: &'a VenueAnswers,
    rules: &'a Rules,
    now: Timestamp,
    /// The latest report of each order the venue listed (changed, open or looked up).
    reports: &'a BTreeMap<ClientOrderId, &'a VenueOrder>,
}

impl Cycle<'_> {
    /// Changed less than the grace window ago: not judged dangerous yet.
    fn fresh(&self, o: &VenueOrder) -> bool {
        self.now.ms_since(o.updated_at) < self.rules.grace_ms
    }
}

/// The account: another one than the journal's is a finding; a failed query is unanswered.
fn account(state: &EngineState, answer: &Answer<VenueAccount>, d: &mut Diff) {
    let account = match answer {
        Ok(a) => a,
        Err(e) => {
            d.unanswered.push(format!(
                "account: {e} (whether it is the journal's account is not judged)"
            ));
            return;
        }
    };
    let Some(stamp) = &state.controls.stamp else {
        return; // a journal not stamped yet: the runtime stamps it with this account
    };
    let theirs = account_fingerprint(account);
    if stamp.account == theirs {
        return;
    }
    d.findings.push(Finding {
        id: format!("{}:{theirs}", FindingKind::AccountMismatch.as_str()),
        kind: FindingKind::AccountMismatch,
        symbol: None,
        ours: format!("the journal belongs to account {}", stamp.account),
        theirs: format!("the broker's account is {theirs}"),
        local_qty: None,
        venue_qty: None,
        venue_avg_price: None,
        venue_order: None,
        client_order_id: None,
        explaining: Vec::new(),
        choices: vec![Choice::StayHalted],
    });
}
