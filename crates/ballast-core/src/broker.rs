//! The venue seam (SPEC §3 "Brokers"): what the engine asks of a broker, and nothing else —
//! submit with the deterministic `client_order_id`, cancel, cancel all, look an order up by
//! `client_order_id` (how an unknown outcome is settled), open orders, positions, the account,
//! and the fills since a cursor. The engine talks to a venue only through [`Broker`].
//!
//! Implementations: [`PaperVenue`] (the embedded simulator, first); the Alpaca adapter and
//! the fake Alpaca server's matching model are the next ones. Synchronous, as the engine is.
//!
//! Errors are typed by what the engine must do with them: a [`BrokerError::Rejected`] order
//! is definitely not at the venue; [`BrokerError::NoAnswer`] is *unknown* (a timeout, a
//! transport error) and is never read as a rejection, nor a failed query as "flat".

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::domain::{ClientOrderId, Fill, Order, Symbol};
use crate::market::Bar;
use crate::paper::PaperBroker;
use crate::portfolio::Portfolio;
use crate::time::Timestamp;

/// Why a broker call did not give an answer the engine can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BrokerError {
    /// The venue refused the order (a definite answer: it does not have it).
    #[error("the venue refused it: {reason}")]
    Rejected { reason: String },
    /// No answer (timeout, transport error): whether the venue got the order is unknown until
    /// a lookup by `client_order_id` settles it.
    #[error("no answer from the venue: {error}")]
    NoAnswer {
        error: String,
        /// A simulated venue's own knowledge of whether it got the order (journaled for the
        /// simulator only; a real venue's adapter says `false`, the engine never reads it).
        venue_received: bool,
    },
    /// The venue cannot be used now (down, rate limited, credentials refused).
    #[error("the venue is unavailable: {0}")]
    Unavailable(String),
    /// The venue answered with something outside its contract.
    #[error("the venue's answer breaks its contract: {0}")]
    Schema(String),
}

/// An order's status at the venue (Alpaca's statuses, ALPACA.md). A status this build does
/// not know is [`VenueStatus::Unknown`]: in flight, reconciled, never read as terminal.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VenueStatus {
    New,
    PartiallyFilled,
    Filled,
    DoneForDay,
    Canceled,
    Expired,
    Replaced,
    PendingCancel,
    PendingReplace,
    Accepted,
    PendingNew,
    AcceptedForBidding,
    Stopped,
    Rejected,
    Suspended,
    Calculated,
    Held,
    /// A status outside the contract this build knows (kept as the venue wrote it).
    Unknown(String),
}

impl VenueStatus {
    /// Every status the contract names, with its wire text.
    pub const KNOWN: [(&'static str, VenueStatus); 17] = [
        ("new", VenueStatus::New),
        ("partially_filled", VenueStatus::PartiallyFilled),
        ("filled", VenueStatus::Filled),
        ("done_for_day", VenueStatus::DoneForDay),
        ("canceled", VenueStatus::Canceled),
        ("expired", VenueStatus::Expired),
        ("replaced", VenueStatus::Replaced),
        ("pending_cancel", VenueStatus::PendingCancel),
        ("pending_replace", VenueStatus::PendingReplace),
        ("accepted", VenueStatus::Accepted),
        ("pending_new", VenueStatus::PendingNew),
        ("accepted_for_bidding", VenueStatus::AcceptedForBidding),
        ("stopped", VenueStatus::Stopped),
        ("rejected", VenueStatus::Rejected),
        ("suspended", VenueStatus::Suspended),
        ("calculated", VenueStatus::Calculated),
        ("held", VenueStatus::Held),
    ];

    /// The status the venue wrote as `text` (an unknown text is [`VenueStatus::Unknown`]).
    pub fn parse(text: &str) -> VenueStatus {
        Self::KNOWN
            .iter()
            .find(|(t, _)| *t == text)
            .map_or_else(|| VenueStatus::Unknown(text.to_owned()), |(_, s)| s.clone())
    }

    /// The wire text.
    pub fn as_str(&self) -> &str {
        match self {
            VenueStatus::Unknown(t) => t,
            known => Self::KNOWN
                .iter()
                .find(|(_, s)| s == known)
                .map_or("unknown", |(t, _)| t),
        }
    }

    /// The order will not change any more at the venue: filled, canceled, expired, replaced
    /// (by another order) or rejected. Everything else — `done_for_day` included (it resumes
    /// the next trading day) and every unknown status — is in flight.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            VenueStatus::Filled
                | VenueStatus::Canceled
                | VenueStatus::Expired
                | VenueStatus::Replaced
                | VenueStatus::Rejected
        )
    }
}

impl std::fmt::Display for VenueStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An order as the venue holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VenueOrder {
    /// The order as Ballast would have written it (its `client_order_id` is the venue's: an
    /// order Ballast does not own has one Ballast never made).
    pub order: Order,
    /// Quantity not filled yet.
    pub remaining: Decimal,
    /// The venue's own id of the order (the paper venue: the `client_order_id`).
    pub venue_id: String,
    pub status: VenueStatus,
    /// Filled so far (cumulative), and the average price of what was filled.
    pub filled_qty: Decimal,
    pub filled_avg_price: Option<Decimal>,
    /// When the venue last changed the order.
    pub updated_at: Timestamp,
}

/// The side of a position as the venue reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PositionSide {
    Long,
    Short,
}

/// A position as the venue reports it (as reported: reconciliation judges duplicates and
/// invalid ones, so nothing is cleaned here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VenuePosition {
    pub symbol: Symbol,
    /// Signed: negative is short.
    pub qty: Decimal,
    pub side: PositionSide,
    pub avg_entry_price: Decimal,
}

/// A page of orders the venue changed after a time (see [`Broker::orders_since`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrdersPage {
    /// Oldest change first.
    pub orders: Vec<VenueOrder>,
    /// More changes are waiting: ask again (from the latest `updated_at` here, or earlier)
    /// before reading the list as complete. `false`: every change the venue reported up to
    /// this call has been returned (by this call or an earlier one).
    pub more: bool,
}

/// The account as the venue reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VenueAccount {
    /// A fingerprint of the account (what `journal.stamp` records; `paper` for the simulator).
    pub id: String,
    /// Cash, where the venue reports it.
    pub cash: Option<Decimal>,
}

/// Fills after a cursor, and the cursor to ask from next time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FillsPage {
    pub fills: Vec<Fill>,
    pub cursor: u64,
}

/// A trading venue.
pub trait Broker {
    /// Submit `order` under its `client_order_id` (`attempt` 1, or a resend with the same id
    /// after a lookup did not find it: the venue dedupes by id).
    fn submit(&mut self, order: &Order, attempt: u32) -> Result<(), BrokerError>;
    /// Ask the venue to cancel an open order. `Some(q)`: the cancel was accepted (or one is
    /// under way) and `q` was its unfilled quantity when asked — an external venue may still
    /// fill it until it reports it canceled, so its final state comes from `orders_since` /
    /// `lookup`, not from `q`. `None`: not open there.
    fn cancel(&mut self, id: &ClientOrderId) -> Result<Option<Decimal>, BrokerError>;
    /// Cancel every open order; returns the ids cancelled.
    fn cancel_all(&mut self) -> Result<Vec<ClientOrderId>, BrokerError>;
    /// The order with this `client_order_id`, if the venue has it open.
    fn lookup(&mut self, id: &ClientOrderId) -> Result<Option<VenueOrder>, BrokerError>;
    fn open_orders(&mut self) -> Result<Vec<VenueOrder>, BrokerError>;
    fn positions(&mut self) -> Result<Vec<VenuePosition>, BrokerError>;
    fn account(&mut self) -> Result<VenueAccount, BrokerError>;
    /// The fills after `cursor` (0: from the start).
    fn fills_since(&mut self, cursor: u64) -> Result<FillsPage, BrokerError>;
    /// The orders (open or closed) the venue changed at or after `since` (`None`: the oldest
    /// it keeps), oldest change first, at most `limit` — how an external venue's fills and
    /// terminal states reach the engine (polling; reconciliation turns each into a record).
    ///
    /// The contract a caller relies on: a caller that asks again from (at most) the latest
    /// `updated_at` it was given, while `more` is set, is given every change — none is lost
    /// to the `limit` cut, to pages the implementation did not read yet, or to several
    /// changes within one millisecond. A change may come out of `updated_at` order across
    /// calls (one held back by a cut or an unread page is returned by a later call even if
    /// older than that call's `since`) and may be returned twice (a caller books it once:
    /// a change is identified by the order, its `updated_at` and its `filled_qty`).
    fn orders_since(
        &mut self,
        since: Option<Timestamp>,
        limit: usize,
    ) -> Result<OrdersPage, BrokerError>;
}

/// A venue borrowed is a venue (a wrapper such as [`crate::chaos::ChaosBroker`] may hold
/// `&mut dyn Broker`).
impl<B: Broker + ?Sized> Broker for &mut B {
    fn submit(&mut self, order: &Order, attempt: u32) -> Result<(), BrokerError> {
        (**self).submit(order, attempt)
    }
    fn cancel(&mut self, id: &ClientOrderId) -> Result<Option<Decimal>, BrokerError> {
        (**self).cancel(id)
    }
    fn cancel_all(&mut self) -> Result<Vec<ClientOrderId>, BrokerError> {
        (**self).cancel_all()
    }
    fn lookup(&mut self, id: &ClientOrderId) -> Result<Option<VenueOrder>, BrokerError> {
        (**self).lookup(id)
    }
    fn open_orders(&mut self) -> Result<Vec<VenueOrder>, BrokerError> {
        (**self).open_orders()
    }
    fn positions(&mut self) -> Result<Vec<VenuePosition>, BrokerError> {
        (**self).positions()
    }
    fn account(&mut self) -> Result<VenueAccount, BrokerError> {
        (**self).account()
    }
    fn fills_since(&mut self, cursor: u64) -> Result<FillsPage, BrokerError> {
        (**self).fills_since(cursor)
    }
    fn orders_since(
        &mut self,
        since: Option<Timestamp>,
        limit: usize,
    ) -> Result<OrdersPage, BrokerError> {
        (**self).orders_since(since, limit)
    }
}

/// The paper venue's chaos options (paper mode only).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PaperChaos {
    /// The reply to one send in this many is lost (the outcome is unknown; whether the venue
    /// got the order is decided per order and attempt, seeded, so a restarted engine makes the
    /// same choices).
    pub lost_reply_every: Option<u32>,
}

/// The embedded paper venue as a [`Broker`]: its book is the engine state's
/// [`PaperBroker`] (and its account the state's portfolio: the simulator's fills are the
/// only ones), which move only when the journal's records are applied (a send is booked when
/// its `order.sent` is applied, a fill when its `market.bar` is) — so replaying the journal
/// rebuilds the venue too. This view answers from them and changes nothing; the fills it
/// offers are those of the bar it is shown ([`PaperVenue::at_bar`]).
#[derive(Debug, Clone, Copy)]
pub struct PaperVenue<'a> {
    book: &'a PaperBroker,
    account: &'a Portfolio,
    chaos: PaperChaos,
    bar: Option<&'a Bar>,
}

impl<'a> PaperVenue<'a> {
    pub fn new(book: &'a PaperBroker, account: &'a Portfolio, chaos: PaperChaos) -> Self {
        PaperVenue {
            book,
            account,
            chaos,
            bar: None,
        }
    }

    /// The venue as it fills on `bar` (what [`Broker::fills_since`] answers).
    pub fn at_bar(self, bar: &'a Bar) -> Self {
        PaperVenue {
            bar: Some(bar),
            ..self
        }
    }

    /// Chaos: is the reply to this send lost, and if so did the venue get the order?
    fn lost_reply(&self, id: &ClientOrderId, attempt: u32) -> Option<bool> {
        let every = u64::from(self.chaos.lost_reply_every?);
        let h = crate::hash::fnv1a(id.as_str().bytes().chain(attempt.to_le_bytes()));
        (h % every == 0).then_some((h >> 32) & 1 == 1)
    }
}

impl Broker for PaperVenue<'_> {
    /// The simulator accepts every well-formed order (booked when the `order.sent` is applied).
    fn submit(&mut self, order: &Order, attempt: u32) -> Result<(), BrokerError> {
        match self.lost_reply(&order.client_order_id, attempt) {
            Some(received) => Err(BrokerError::NoAnswer {
                error: "chaos: the paper venue's reply was lost".into(),
                venue_received: received,
            }),
            None => Ok(()),
        }
    }

    fn cancel(&mut self, id: &ClientOrderId) -> Result<Option<Decimal>, BrokerError> {
        Ok(self.book.lookup(id).map(|(_, remaining)| remaining))
    }

    fn cancel_all(&mut self) -> Result<Vec<ClientOrderId>, BrokerError> {
        Ok(self
            .book
            .open_orders()
            .map(|(o, _)| o.client_order_id.clone())
            .collect())
    }

    fn lookup(&mut self, id: &ClientOrderId) -> Result<Option<VenueOrder>, BrokerError> {
        Ok(self
            .book
            .lookup(id)
            .map(|(order, remaining)| paper_order(order, remaining)))
    }

    fn open_orders(&mut self) -> Result<Vec<VenueOrder>, BrokerError> {
        Ok(self
            .book
            .open_orders()
            .map(|(order, remaining)| paper_order(order, remaining))
            .collect())
    }

    /// The positions its fills made (the flat ones left out).
    fn positions(&mut self) -> Result<Vec<VenuePosition>, BrokerError> {
        Ok(self
            .account
            .positions()
            .filter(|p| !p.qty.is_zero())
            .map(|p| VenuePosition {
                symbol: p.symbol,
                qty: p.qty,
                side: if p.qty.is_sign_negative() {
                    PositionSide::Short
                } else {
                    PositionSide::Long
                },
                avg_entry_price: p.avg_entry_price,
            })
            .collect())
    }

    fn account(&mut self) -> Result<VenueAccount, BrokerError> {
        Ok(VenueAccount {
            id: "paper".into(),
            cash: Some(self.account.cash),
        })
    }

    /// The fills of the bar this view was shown (none without one); the cursor counts fills.
    fn fills_since(&mut self, cursor: u64) -> Result<FillsPage, BrokerError> {
        let fills = self.bar.map(|b| self.book.fills_for(b)).unwrap_or_default();
        let cursor = cursor.max(self.book.fills()) + fills.len() as u64;
        Ok(FillsPage { fills, cursor })
    }

    /// The paper venue's fills are the bar's (booked with the `market.bar` record): nothing
    /// reaches the engine by polling, so no order is reported changed.
    fn orders_since(
        &mut self,
        _since: Option<Timestamp>,
        _limit: usize,
    ) -> Result<OrdersPage, BrokerError> {
        Ok(OrdersPage {
            orders: Vec::new(),
            more: false,
        })
    }
}

/// An open order of the paper book as the venue reports it.
fn paper_order(order: &Order, remaining: Decimal) -> VenueOrder {
    let filled = order.qty.value() - remaining;
    VenueOrder {
        order: order.clone(),
        remaining,
        venue_id: order.client_order_id.to_string(),
        status: if filled.is_zero() {
            VenueStatus::New
        } else {
            VenueStatus::PartiallyFilled
        },
        filled_qty: filled,
        filled_avg_price: None,
        updated_at: order.created_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{OrderKind, Quantity, Side, TimeInForce};
    use crate::paper::PaperConfig;
    use crate::time::Timestamp;

    fn order(id: &str) -> Order {
        Order {
            client_order_id: ClientOrderId::parse(id).unwrap(),
            symbol: Symbol::new("AAPL").unwrap(),
            side: Side::Buy,
            qty: Quantity::new(Decimal::from(5)).unwrap(),
            kind: OrderKind::Market,
            tif: TimeInForce::Day,
            created_at: Timestamp::EPOCH,
        }
    }

    fn book() -> PaperBroker {
        PaperBroker::new(PaperConfig {
            slippage_bps: Decimal::ZERO,
            fee_bps: Decimal::ZERO,
            participation: Decimal::ONE,
            latency_ms: 0,
        })
    }

    #[test]
    fn the_paper_venue_answers_from_its_book_and_changes_nothing() {
        let mut b = book();
        b.submit(order("bl-1-0"));
        let before = b.clone();
        let account = Portfolio::new(Decimal::from(1000));
        let mut v = PaperVenue::new(&b, &account, PaperChaos::default());
        v.submit(&order("bl-2-0"), 1).unwrap();
        let found = v.lookup(&ClientOrderId::parse("bl-1-0").unwrap()).unwrap();
        assert_eq!(found.map(|o| o.remaining), Some(Decimal::from(5)));
        assert_eq!(v.lookup(&ClientOrderId::parse("bl-2-0").unwrap()), Ok(None));
        assert_eq!(v.open_orders().unwrap().len(), 1);
        assert_eq!(v.cancel_all().unwrap().len(), 1);
        assert_eq!(v.positions(), Ok(Vec::new()), "no fill yet: flat");
        assert_eq!(v.account().unwrap().cash, Some(Decimal::from(1000)));
        assert_eq!(b, before, "the book moves only by applied records");
    }

    #[test]
    fn lost_replies_are_seeded_by_order_and_attempt() {
        let b = book();
        let account = Portfolio::new(Decimal::from(1000));
        let chaos = PaperChaos {
            lost_reply_every: Some(3),
        };
        let answers = |attempt| -> Vec<Result<(), BrokerError>> {
            let mut v = PaperVenue::new(&b, &account, chaos);
            (1..40)
                .map(|i| v.submit(&order(&format!("bl-{i}-0")), attempt))
                .collect()
        };
        let first = answers(1);
        assert_eq!(first, answers(1), "the same choices every time");
        let lost = first.iter().filter(|a| a.is_err()).count();
        assert!((5..30).contains(&lost), "about one in three: {lost}");
        let mut calm = PaperVenue::new(&b, &account, PaperChaos::default());
        assert_eq!(calm.submit(&order("bl-1-0"), 1), Ok(()));
    }
}
