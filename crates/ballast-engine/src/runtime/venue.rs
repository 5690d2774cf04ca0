//! The engine on an external venue (`[broker] kind = "alpaca"`): the venue the runtime holds
//! beside the state, its startup (the compatibility check, the account, the startup
//! reconciliation), polling (the orders changed since a cursor, every `poll_interval_ms`) and
//! the periodic reconciliation (every `reconcile_interval_secs`).
//!
//! The decisions are pure and elsewhere — what the answers mean is
//! [`ballast_core::reconcile::diff`]'s, what is missing to trade and when things are due is
//! [`ballast_core::engine::venue_gate`]'s; this asks the venue, hands the answers over and
//! journals what comes back: the safe records first (`venue.fills`, `order.venue`), then the
//! cycle's `reconcile.run`. A query that fails is never read as "none": its part is
//! unanswered, said in the heartbeat (`VenueReport.last_error`) and asked again next cycle.

use std::collections::BTreeMap;

use ballast_core::broker::{Broker, BrokerError, VenueOrder};
use ballast_core::config::Config;
use ballast_core::domain::ClientOrderId;
use ballast_core::engine::venue_gate::{self, CompatState, VenueFacts};
use ballast_core::engine::{
    CompatOutcome, EngineRecord, EngineState, ReconcileRecord, VenueFillsRecord, VenueOrderRecord,
    VenueReport,
};
use ballast_core::reconcile::{self, Answer, Finding, Rules, VenueAnswers};
use ballast_core::time::{Timestamp, ms_from_secs};

use super::{EngineError, Writer};

/// Pages of changed orders read in one poll, at most (the rest is read at the next poll:
/// the cursor is where the last page ended).
pub const MAX_PAGES_PER_POLL: usize = 10;
/// Targeted lookups kept for the next reconciliation, at most (more are asked for again by
/// the next diff).
const MAX_PENDING_LOOKUPS: usize = 100;

/// Why the startup compatibility check did not pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompatFailure {
    /// Credentials, permissions, a paper key at the live URL: `FAILED_CONFIG` (the engine
    /// exits 78, the supervisor does not restart it).
    Config(String),
    /// An answer outside the contract: `FAILED_API_SCHEMA` (trading stops).
    Schema(String),
    /// The venue could not be reached or answered 5xx/429: asked again next cycle.
    Transient(String),
}

/// A venue outside the engine (the Alpaca adapter), as the runtime holds it.
pub trait ExternalVenue: Broker + Send {
    /// The broker's name, as the journal stamp and the heartbeat say it (`alpaca`).
    fn broker(&self) -> &'static str;
    /// The startup compatibility check: what was checked, or why it failed (call, field,
    /// value).
    fn compat(&mut self) -> Result<String, CompatFailure>;
    /// The account fingerprint the journal is stamped with, of an account the venue
    /// reported (the account id itself is not written to the journal).
    /// The journal's id epoch (from its stamp; `None`: stamped before epochs existed): the
    /// venue's `client_order_id`s carry it, so a fresh journal on the same account never
    /// reuses an old journal's ids. A venue without single-use ids ignores it.
    fn set_epoch(&mut self, epoch: Option<String>) -> Result<(), String> {
        let _ = epoch;
        Ok(())
    }
    fn fingerprint(&self, account: &ballast_core::broker::VenueAccount) -> String {
        reconcile::account_fingerprint(account)
    }
    /// The venue's market data (`[feed] kind = "alpaca"`): the bars of `symbols` after
    /// `after` (`None`: from the venue's first), oldest first, at most `max`; `Err` in words
    /// (the feed is stale then, no bar is invented).
    fn bars(
        &mut self,
        symbols: &[ballast_core::domain::Symbol],
        after: Option<Timestamp>,
        max: usize,
    ) -> Result<Vec<ballast_core::market::Bar>, String> {
        let _ = (symbols, after, max);
        Err(format!("the {} venue serves no market data", self.broker()))
    }
}

/// The venue and what the runtime knows of it.
pub(crate) struct External {
    venue: Box<dyn ExternalVenue>,
    facts: VenueFacts,
    compat: Option<CompatOutcome>,
    last_error: Option<String>,
    rules: Rules,
    poll_every_ms: i64,
    reconcile_every_ms: i64,
    page_size: usize,
    cursor: Option<Timestamp>,
    lookups: Vec<ClientOrderId>,
    last_run: Option<(Vec<Finding>, Vec<String>)>,
    last_poll_ms: Option<i64>,
    last_reconcile_ms: Option<i64>,
}

impl External {
    pub(crate) fn new(venue: Box<dyn ExternalVenue>, config: &Config) -> External {
        let a = &config.broker.alpaca;
        External {
            venue,
            facts: VenueFacts {
                live: config.general.mode == ballast_core::config::Mode::Live,
                compat: CompatState::NotYet,
                reconciled_clean: None,
                account_matches: None,
                schema_failure: None,
                config_failure: None,
            },
            compat: None,
            last_error: None,
            rules: Rules {
                grace_ms: ms_from_secs(a.grace_secs),
                max_lookups: a.max_lookups as usize,
                on_dangerous: config.broker.on_dangerous,
            },
            poll_every_ms: i64::from(a.poll_interval_ms),
            reconcile_every_ms: ms_from_secs(a.reconcile_interval_secs),
            page_size: a.page_size as usize,
            cursor: None,
            lookups: Vec::new(),
            last_run: None,
            last_poll_ms: None,
            last_reconcile_ms: None,
        }
    }

    pub(crate) fn broker(&mut self) -> &mut dyn Broker {
        &mut *self.venue
    }

    pub(crate) fn name(&self) -> &'static str {
        self.venue.broker()
    }

    /// Why nothing may be sent now (`None`: trading may go on).
    pub(crate) fn refusal(&self) -> Option<String> {
        venue_gate::refusal(&self.facts)
    }

    /// Why a closing order explicitly chosen (the kill switch's flatten, the operator's
    /// flatten) may not be sent now (`None`: it goes, under the live hold too).
    pub(crate) fn closing_refusal(&self) -> Option<String> {
        venue_gate::closing_refusal(&self.facts)
    }

    /// The heartbeat's venue report (the latest reconciliation is the state's).
    pub(crate) fn report(
        &self,
        reconcile: Option<ballast_core::engine::ReconcileSummary>,
    ) -> VenueReport {
        VenueReport {
            broker: self.name().to_owned(),
            compat: self.compat.clone(),
            reconcile,
            last_error: self.last_error.clone(),
            live_missing: venue_gate::live_missing(&self.facts),
            choice_refused: None,
            last_run_at: self.last_reconcile_ms.map(Timestamp::from_unix_ms),
        }
    }

    /// A failed call: said in the heartbeat; a broken contract stops trading.
    pub(crate) fn failed(
        &mut self,
        call: &str,
        e: &BrokerError,
        now: Timestamp,
        log: &mut dyn FnMut(&str),
    ) {
        let class = match e {
            BrokerError::Schema(_) => "FAILED_API_SCHEMA",
            // A definite answer about an order (said with its record), not a venue failure.
            BrokerError::Rejected { .. } => return,
            BrokerError::NoAnswer { .. } | BrokerError::Unavailable(_) => "transient",
        };
        let said = format!("{call}: {e} ({class})");
        if self.last_error.as_deref() != Some(said.as_str()) {
            log(&format!("warning: the venue: {said}"));
        }
        self.last_error = Some(said);
        // The adapter says a refusal of the credentials in words (its class is FAILED_CONFIG):
        // trading stops, no retry loop.
        if let BrokerError::Unavailable(text) = e
            && text.contains("FAILED_CONFIG")
            && self.facts.config_failure.is_none()
        {
            log(&format!(
                "CRITICAL: FAILED_CONFIG: {call}: the broker refused the credentials: trading stopped (nothing is sent); fix the keys and restart Ballast"
            ));
            self.facts.config_failure = Some(format!("{call}: {text}"));
            self.compat = Some(CompatOutcome {
                ok: false,
                class: Some("FAILED_CONFIG".into()),
                detail: format!("{call}: {text}"),
                at: now,
            });
        }
        if let BrokerError::Schema(detail) = e
            && self.facts.schema_failure.is_none()
        {
            let detail = format!("{call}: {detail}");
            log(&format!(
                "CRITICAL: FAILED_API_SCHEMA: the broker's answer broke its contract ({detail}): trading stopped (nothing is sent; reconciliation goes on); restart Ballast on a build that knows this answer"
            ));
            self.facts.schema_failure = Some(detail.clone());
            self.compat = Some(CompatOutcome {
                ok: false,
                class: Some("FAILED_API_SCHEMA".into()),
                detail,
                at: now,
            });
        }
    }

    /// An answer, its failure said: `Err` in words, never "none".
    fn answer<T>(
        &mut self,
        call: &str,
        r: Result<T, BrokerError>,
        now: Timestamp,
        log: &mut dyn FnMut(&str),
    ) -> Answer<T> {
        r.map_err(|e| {
            self.failed(call, &e, now, log);
            format!("{call}: {e}")
        })
    }

    /// The startup compatibility check, its outcome kept for the heartbeat. A configuration
    /// failure ends the engine (78); a schema failure stops trading; a transient one is
    /// asked again at the next reconciliation.
    pub(crate) fn check_compat(
        &mut self,
        now: Timestamp,
        log: &mut dyn FnMut(&str),
    ) -> Result<(), EngineError> {
        let (ok, class, detail) = match self.venue.compat() {
            Ok(detail) => (true, None, detail),
            Err(CompatFailure::Config(d)) => (false, Some("FAILED_CONFIG"), d),
            Err(CompatFailure::Schema(d)) => (false, Some("FAILED_API_SCHEMA"), d),
            Err(CompatFailure::Transient(d)) => (false, None, d),
        };
        self.compat = Some(CompatOutcome {
            ok,
            class: class.map(str::to_owned),
            detail: detail.clone(),
            at: now,
        });
        match class {
            None if ok => {
                log(&format!(
                    "{}: compatibility check passed: {detail}",
                    self.name()
                ));
                self.facts.compat = CompatState::Passed;
                self.last_error = None;
            }
            None => {
                log(&format!(
                    "warning: {}: compatibility check could not run ({detail}); nothing is sent until it passes, asked again every reconciliation",
                    self.name()
                ));
                self.facts.compat = CompatState::Failed {
                    class: "unreachable".into(),
                    detail: detail.clone(),
                };
                self.last_error = Some(detail);
            }
            Some("FAILED_CONFIG") => {
                return Err(EngineError::VenueConfig {
                    broker: self.name(),
                    detail,
                });
            }
            Some(class) => {
                log(&format!(
                    "CRITICAL: {class}: {}: compatibility check failed: {detail}; trading stopped",
                    self.name()
                ));
                self.facts.compat = CompatState::Failed {
                    class: class.to_owned(),
                    detail: detail.clone(),
                };
                self.facts.schema_failure = Some(detail);
            }
        }
        Ok(())
    }

    /// The account's fingerprint (what the journal is stamped with), or why it could not be
    /// read.
    pub(crate) fn account_fingerprint(
        &mut self,
        now: Timestamp,
        log: &mut dyn FnMut(&str),
    ) -> Result<String, String> {
        let r = self.venue.account();
        let account = self.answer("GET /v2/account", r, now, log)?;
        Ok(self.venue.fingerprint(&account))
    }

    /// The venue's bars after `after` (at most `max`), or `None` when the fetch failed: said
    /// once while it keeps failing, in the heartbeat's last error (the feed goes stale; no
    /// bar is invented).
    pub(crate) fn fetch_bars(
        &mut self,
        symbols: &[ballast_core::domain::Symbol],
        after: Option<Timestamp>,
        max: usize,
        now: Timestamp,
        log: &mut dyn FnMut(&str),
    ) -> Option<Vec<ballast_core::market::Bar>> {
        if self.facts.config_failure.is_some() {
            return None;
        }
        match self.venue.bars(symbols, after, max) {
            Ok(bars) => {
                if self
                    .last_error
                    .as_deref()
                    .is_some_and(|e| e.starts_with(BARS_CALL))
                {
                    log(&format!("{}: market data answers again", self.name()));
                    self.last_error = None;
                }
                Some(bars)
            }
            Err(e) if e.contains("FAILED_CONFIG") => {
                self.failed(BARS_CALL, &BrokerError::Unavailable(e), now, log);
                None
            }
            Err(e) => {
                let said = format!("{BARS_CALL}: {e} (the feed stays stale until it answers)");
                if self.last_error.as_deref() != Some(said.as_str()) {
                    log(&format!("warning: the venue: {said}"));
                }
                self.last_error = Some(said);
                None
            }
        }
    }

    /// The journal's id epoch (its stamp's), for the venue's ids.
    pub(crate) fn set_epoch(&mut self, epoch: Option<String>) -> Result<(), String> {
        self.venue.set_epoch(epoch)
    }

    pub(crate) fn account_checked(&mut self, matches: bool) {
        self.facts.account_matches = Some(matches);
    }

    /// The orders changed since the cursor: at most [`MAX_PAGES_PER_POLL`] pages.
    fn changed(
        &mut self,
        state: &EngineState,
        now: Timestamp,
        log: &mut dyn FnMut(&str),
    ) -> Answer<Vec<VenueOrder>> {
        let mut cursor = self.cursor.unwrap_or_else(|| {
            let oldest = state
                .orders
                .tracked
                .values()
                .map(|t| t.order.created_at)
                .min();
            venue_gate::first_cursor(oldest, now, self.reconcile_every_ms.saturating_mul(2))
        });
        let mut orders = Vec::new();
        for _ in 0..MAX_PAGES_PER_POLL {
            let r = self.venue.orders_since(Some(cursor), self.page_size);
            let page = self.answer("GET /v2/orders (changed)", r, now, log)?;
            cursor = venue_gate::next_cursor(Some(cursor), &page.orders).unwrap_or(cursor);
            orders.extend(page.orders);
            if !page.more {
                break;
            }
        }
        self.cursor = Some(cursor);
        Ok(orders)
    }

    /// The lookups the last diffs asked for, at most `max_lookups` of them.
    fn lookups(
        &mut self,
        now: Timestamp,
        log: &mut dyn FnMut(&str),
    ) -> BTreeMap<ClientOrderId, Answer<Option<VenueOrder>>> {
        let ids: Vec<ClientOrderId> = self
            .lookups
            .drain(..)
            .take(self.rules.max_lookups)
            .collect();
        let mut out = BTreeMap::new();
        for id in ids {
            let r = self.venue.lookup(&id);
            let a = self.answer("GET /v2/orders:by_client_order_id", r, now, log);
            out.insert(id, a);
        }
        out
    }

    fn keep_lookups(&mut self, asked: &[ClientOrderId]) {
        for id in asked {
            if self.lookups.len() < MAX_PENDING_LOOKUPS && !self.lookups.contains(id) {
                self.lookups.push(id.clone());
            }
        }
    }
}

/// The heartbeat's engine status: the state's, with the settings followed and the venue as
/// the runtime knows it (an external venue's report, or the paper venue).
pub(super) fn status(state: &EngineState, w: &Writer<'_>) -> ballast_core::engine::EngineStatus {
    let status = state.status();
    ballast_core::engine::EngineStatus {
        settings: w.settings.check.clone(),
        venue: match &w.venue {
            Some(ext) => VenueReport {
                choice_refused: status.venue.choice_refused.clone(),
                ..ext.report(status.venue.reconcile.clone())
            },
            None => VenueReport {
                broker: ballast_core::engine::PAPER.into(),
                ..status.venue.clone()
            },
        },
        ..status
    }
}

/// The venue refused the credentials after the start: the engine's end (no further call).
pub(super) fn refused(w: &Writer<'_>) -> Option<EngineError> {
    let ext = w.venue.as_ref()?;
    ext.facts
        .config_failure
        .clone()
        .map(|detail| EngineError::VenueRefused {
            broker: ext.name(),
            detail,
        })
}

/// The venue's part of a loop: a poll when one is due, a reconciliation when one is due.
/// `now` is the wall clock (the venue's time), `now_ms` the runtime's monotonic clock.
pub(super) fn cycle(
    state: &mut EngineState,
    w: &mut Writer<'_>,
    now: Timestamp,
    log: &mut dyn FnMut(&str),
) -> Result<(), EngineError> {
    let Some(ext) = w.venue.as_mut() else {
        return Ok(());
    };
    if ext.facts.config_failure.is_some() {
        return Ok(());
    }
    let now_ms = now.unix_ms();
    // The operator closed every finding of the last run (`reconcile.resolve`): reconciled
    // again at once, so a clean venue lets trading (and a live start) go on without waiting
    // for the interval; a finding still true is reopened by it.
    let resolved = ext
        .last_run
        .as_ref()
        .is_some_and(|(f, u)| !f.is_empty() && u.is_empty())
        && state.open_findings().is_empty();
    if resolved || venue_gate::due(now_ms, ext.last_reconcile_ms, ext.reconcile_every_ms) {
        return reconcile(state, w, now, false, log);
    }
    if venue_gate::due(now_ms, ext.last_poll_ms, ext.poll_every_ms) {
        ext.last_poll_ms = Some(now_ms);
        let changed = ext.changed(state, now, log);
        if changed.is_ok() && ext.facts.schema_failure.is_none() {
            ext.last_error = None;
        }
        let answers = VenueAnswers {
            account: Err(NOT_ASKED.into()),
            positions: Err(NOT_ASKED.into()),
            open_orders: Err(NOT_ASKED.into()),
            changed,
            lookups: BTreeMap::new(),
        };
        let d = reconcile::diff(state, &answers, &ext.rules, now);
        ext.keep_lookups(&d.lookups);
        journal_safe(state, w, now, d.fills, d.settles, log)?;
    }
    Ok(())
}

/// The market-data call, as the heartbeat's last error names it.
const BARS_CALL: &str = "GET /v2/stocks/bars";

/// What a poll does not ask (only a reconciliation does).
const NOT_ASKED: &str = "not asked in a poll";

/// A full reconciliation: account, positions, open orders, the orders changed since the
/// cursor and the lookups asked for; its safe records journaled, then its `reconcile.run`
/// (at a start always, else when it differs from the last).
pub(super) fn reconcile(
    state: &mut EngineState,
    w: &mut Writer<'_>,
    now: Timestamp,
    startup: bool,
    log: &mut dyn FnMut(&str),
) -> Result<(), EngineError> {
    let Some(ext) = w.venue.as_mut() else {
        return Ok(());
    };
    let now_ms = now.unix_ms();
    ext.last_reconcile_ms = Some(now_ms);
    ext.last_poll_ms = Some(now_ms);
    if !matches!(ext.facts.compat, CompatState::Passed) && ext.facts.schema_failure.is_none() {
        ext.check_compat(now, log)?;
    }
    let account = {
        let r = ext.venue.account();
        ext.answer("GET /v2/account", r, now, log)
    };
    let positions = {
        let r = ext.venue.positions();
        ext.answer("GET /v2/positions", r, now, log)
    };
    let open_orders = {
        let r = ext.venue.open_orders();
        ext.answer("GET /v2/orders (open)", r, now, log)
    };
    let changed = ext.changed(state, now, log);
    let lookups = ext.lookups(now, log);
    let answers = VenueAnswers {
        account,
        positions,
        open_orders,
        changed,
        lookups,
    };
    let d = reconcile::diff(state, &answers, &ext.rules, now);
    let clean = d.clean();
    ext.keep_lookups(&d.lookups);
    if d.unanswered.is_empty() && ext.facts.schema_failure.is_none() {
        ext.last_error = None;
    }
    ext.facts.reconciled_clean = Some(clean);
    let record =
        venue_gate::worth_recording(ext.last_run.as_ref(), &d.findings, &d.unanswered, startup)
            .then(|| ReconcileRecord {
                at: now,
                startup,
                findings: d.findings.clone(),
                unanswered: d.unanswered.clone(),
                latch: ext.rules.on_dangerous,
            });
    ext.last_run = Some((d.findings, d.unanswered));
    journal_safe(state, w, now, d.fills, d.settles, log)?;
    if let Some(r) = record {
        w.commit(state, EngineRecord::Reconcile(r), log)?;
    }
    Ok(())
}

/// The safe records of a diff, journaled: the fills first (so an order settled filled has
/// its fills booked), then the settles.
fn journal_safe(
    state: &mut EngineState,
    w: &mut Writer<'_>,
    now: Timestamp,
    fills: Vec<ballast_core::domain::Fill>,
    settles: Vec<reconcile::VenueSettle>,
    log: &mut dyn FnMut(&str),
) -> Result<(), EngineError> {
    if !fills.is_empty() {
        w.commit(
            state,
            EngineRecord::VenueFills(VenueFillsRecord { at: now, fills }),
            log,
        )?;
    }
    for settle in settles {
        w.commit(
            state,
            EngineRecord::VenueOrder(VenueOrderRecord { at: now, settle }),
            log,
        )?;
    }
    Ok(())
}
