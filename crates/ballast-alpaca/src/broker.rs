//! [`AlpacaBroker`]: the engine's [`Broker`] on Alpaca's Trading API v2 (ALPACA.md).
//!
//! Submission is idempotent by `client_order_id` and never retried blind:
//! - 200 → accepted; 403 / 422 → [`BrokerError::Rejected`] with the venue's message;
//! - 422 "client_order_id must be unique" → the order is looked up by its id: found and the
//!   one we sent (symbol, side, qty, type, submitted after our order was created) → accepted;
//!   found and another → [`BrokerError::Rejected`] ("the id belongs to another order");
//!   not found → [`BrokerError::NoAnswer`];
//! - ids are sent as `<epoch>-<ballast id>` ([`AlpacaBroker::set_epoch`], the journal's id
//!   epoch): Alpaca's ids are single-use forever and Ballast's are deterministic per journal,
//!   so a fresh journal on the same account must never send an old one's;
//! - a timeout, a 5xx or a dropped connection → [`BrokerError::NoAnswer`]: the engine looks
//!   the order up by id on its next pass and sends it again, with the same id, only after the
//!   venue answered 404 (ids are single-use at the venue, so a resend can never duplicate);
//! - a 429 (or no connection) → [`BrokerError::Unavailable`]: the venue refused before
//!   accepting; its `Retry-After` is honoured by the rate budget before the next request.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use ballast_core::Clock;
use ballast_core::Timestamp;
use ballast_core::broker::{
    Broker, BrokerError, FillsPage, OrdersPage, VenueAccount, VenueOrder, VenuePosition,
};
use ballast_core::domain::{ClientOrderId, Order as OurOrder};
use ballast_core::venue::classify::{Action, Call};
use reqwest::Method;
use rust_decimal::Decimal;

use crate::client::{AlpacaSettings, Client, MAX_PAGE_SIZE, Request, VenueError};
use crate::model::{Account, CancelEntry, Order, OrderRequest, Position};
use crate::wire::{decode, utc_micros};

/// Alpaca as the engine's venue.
#[derive(Debug)]
pub struct AlpacaBroker {
    client: Client,
    /// The venue ids of the orders open at the last [`Broker::orders_since`] (at most the
    /// open orders one call reads): one that is no longer open is fetched by id on the next
    /// call, so its close (a fill, a cancel) is reported even though it was submitted before
    /// the cursor.
    open_seen: BTreeSet<String>,
    /// Changes read but not yet returned (cut by `limit`): returned first by the next
    /// [`Broker::orders_since`], before anything is read again. At most one call's read set
    /// (both lists' page budgets and the by-id fetches).
    carry: VecDeque<VenueOrder>,
    /// Where the `all` list stopped with pages left (the last `submitted_at` read, in
    /// microseconds): the next call reads on from here whatever its `since`, so a cursor that
    /// moved past it cannot skip the unread pages.
    all_resume: Option<i64>,
    /// The changes already returned, as (updated_at, venue id, filled_qty): not returned
    /// again (the cursor's `≥` repeats the last millisecond). Pruned below each call's
    /// `since`; at most [`MAX_DELIVERED`] (the oldest dropped: one may then be returned
    /// twice, which the engine books once).
    delivered: BTreeSet<(Timestamp, String, Decimal)>,
    /// The last open list was cut by its page budget (more open orders than
    /// `max_pages × page_size`): the orders past it are not watched here, reconciliation's
    /// lookups by `client_order_id` settle Ballast's.
    open_partial: bool,
    /// The `client_order_id`s whose submit ended unknown ([`BrokerError::NoAnswer`]): a
    /// lookup of one settles it and may use the budget's reserve; any other lookup (a
    /// reconciliation's) waits like polling. At most [`MAX_UNSETTLED`] (beyond, a lookup
    /// waits like polling: slower, never wrong).
    unsettled: BTreeSet<String>,
    /// The journal's id epoch ([`AlpacaBroker::set_epoch`]): Alpaca's `client_order_id` of
    /// Ballast's `X` is `<epoch>-X`, so a fresh journal on the same account never reuses an
    /// old journal's ids (Alpaca's are single-use forever). `None`: a journal stamped before
    /// epochs existed — ids are sent bare (the old behaviour).
    epoch: Option<String>,
}

/// The longest epoch [`AlpacaBroker::set_epoch`] takes (base36 of the milliseconds).
pub const MAX_EPOCH_LEN: usize = 8;

/// Unknown submits remembered for an urgent lookup, at most.
pub const MAX_UNSETTLED: usize = 1_000;

/// Open order ids watched for their close, at most; beyond, the newest are not watched
/// (reconciliation's lookups settle Ballast's orders).
pub const MAX_OPEN_SEEN: usize = 10_000;
/// Changes remembered as returned, at most.
pub const MAX_DELIVERED: usize = 10_000;

/// Orders that left the open list fetched by id in one [`Broker::orders_since`] call, at
/// most; the rest are fetched by the next call (`more` is set).
pub const MAX_CLOSED_FETCHES_PER_CALL: usize = 20;

/// A venue error as the engine reads it.
pub fn broker_error(e: VenueError) -> BrokerError {
    match e.action() {
        Action::Rejected => BrokerError::Rejected { reason: e.text },
        Action::SettleByLookup => BrokerError::NoAnswer {
            error: e.text,
            venue_received: false,
        },
        Action::Halt => BrokerError::Schema(e.text),
        _ => BrokerError::Unavailable(e.text),
    }
}

impl AlpacaBroker {
    pub fn new(settings: AlpacaSettings, clock: Arc<dyn Clock>) -> Result<Self, String> {
        Ok(AlpacaBroker {
            client: Client::new(settings, clock)?,
            open_seen: BTreeSet::new(),
            carry: VecDeque::new(),
            all_resume: None,
            delivered: BTreeSet::new(),
            open_partial: false,
            unsettled: BTreeSet::new(),
            epoch: None,
        })
    }

    /// The journal's id epoch (from its stamp): every id sent is `<epoch>-<ballast id>`,
    /// every venue id read back as `<epoch>-X` is Ballast's `X`, and any other (another
    /// journal's, a bare `bl-…`, a human's) is another's order, named `other-<venue id>`.
    pub fn set_epoch(&mut self, epoch: Option<String>) -> Result<(), String> {
        if let Some(e) = &epoch
            && (e.is_empty()
                || e.len() > MAX_EPOCH_LEN
                || !e
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
        {
            return Err(format!(
                "the journal's id epoch {e:?} is not 1..={MAX_EPOCH_LEN} lowercase letters or digits"
            ));
        }
        self.epoch = epoch;
        Ok(())
    }

    /// Alpaca's `client_order_id` for Ballast's `id`.
    pub fn wire_id(&self, id: &ClientOrderId) -> String {
        match &self.epoch {
            Some(e) => format!("{e}-{id}"),
            None => id.to_string(),
        }
    }

    /// The venue's order as Ballast names it: `<epoch>-X` → `X`; with an epoch, any other id
    /// is another's order (`other-<venue id>`), never an id Ballast tracks.
    fn ours(&self, o: &Order) -> Order {
        let mut o = o.clone();
        if let Some(e) = &self.epoch {
            o.client_order_id = match o
                .client_order_id
                .strip_prefix(e.as_str())
                .and_then(|r| r.strip_prefix('-'))
            {
                Some(x) if ClientOrderId::parse(x).is_ok() => x.to_owned(),
                _ => format!("other-{}", o.id),
            };
        }
        o
    }

    /// The name Ballast gives the venue's `client_order_id` `wire` of order `venue_id`.
    fn ours_name(&self, wire: &str, venue_id: &str) -> String {
        match &self.epoch {
            None => wire.to_owned(),
            Some(e) => match wire
                .strip_prefix(e.as_str())
                .and_then(|r| r.strip_prefix('-'))
            {
                Some(x) if ClientOrderId::parse(x).is_ok() => x.to_owned(),
                _ => format!("other-{venue_id}"),
            },
        }
    }

    /// The last [`Broker::orders_since`] read only part of the open orders (more than
    /// `max_pages × page_size`): the orders past its budget are not watched by the adapter.
    pub fn open_list_partial(&self) -> bool {
        self.open_partial
    }

    /// The HTTP client (for the compatibility check and the bars).
    pub fn client(&mut self) -> &mut Client {
        &mut self.client
    }

    /// `GET` `path` with `query`, decoded strictly.
    fn get<T: serde::de::DeserializeOwned>(
        &mut self,
        kind: Call,
        path: &str,
        query: Vec<(&str, String)>,
    ) -> Result<T, VenueError> {
        let mut req = Request::get(kind, path);
        req.query = query;
        let answer = self.client.send(&req)?;
        decode(&format!("GET {path}"), &answer.body).map_err(|detail| {
            self.client
                .contract_error(&format!("GET {path}"), kind, &detail)
        })
    }

    /// The venue's order with this `client_order_id` (`None`: its 404). `urgent`: it settles a
    /// submit or a cancel, and may use the budget's reserve.
    fn lookup_wire(
        &mut self,
        id: &ClientOrderId,
        urgent: bool,
    ) -> Result<Option<Order>, VenueError> {
        const PATH: &str = "/v2/orders:by_client_order_id";
        let mut req = Request::get(Call::Lookup, PATH);
        req.query = vec![("client_order_id", self.wire_id(id))];
        req.urgent = urgent;
        let answer = match self.client.send(&req) {
            Ok(a) => a,
            Err(e) if e.action() == Action::Absent => return Ok(None),
            Err(e) => return Err(e),
        };
        let call = format!("GET {PATH}");
        decode(&call, &answer.body)
            .map(Some)
            .map_err(|detail| self.client.contract_error(&call, Call::Lookup, &detail))
    }

    /// One page of `GET /v2/orders?status=…&direction=asc` after `after` (exclusive) and
    /// before `until` (exclusive), at most `limit` orders.
    fn page(
        &mut self,
        status: &str,
        after: Option<&str>,
        until: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Order>, BrokerError> {
        let mut query = vec![
            ("status", status.to_owned()),
            ("direction", "asc".to_owned()),
            ("limit", limit.to_string()),
        ];
        if let Some(a) = after {
            query.push(("after", a.to_owned()));
        }
        if let Some(u) = until {
            query.push(("until", u.to_owned()));
        }
        self.get(Call::Query, "/v2/orders", query)
            .map_err(broker_error)
    }

    /// Every order of `status` (`open` or `all`) submitted at or after `after_us` (microseconds), oldest
    /// first, reading at most `pages` pages (`true`: more remain).
    ///
    /// Alpaca's `after` is exclusive and several orders may share a `submitted_at`, so each
    /// next page begins one microsecond before the last order's `submitted_at` and the orders
    /// seen again are deduped by id: an order sharing its time with the last one of a page is
    /// never skipped. A full page all at one time is a burst: the orders at exactly that time
    /// are asked for in one page of Alpaca's largest size ([`MAX_PAGE_SIZE`]), and the next
    /// page begins after it. A burst larger than that, or a full page of orders already seen,
    /// cannot be paged past: an error, never a list read as complete.
    fn list(
        &mut self,
        status: &str,
        after_us: Option<i64>,
        pages: &mut u32,
    ) -> Result<(Vec<Order>, bool), BrokerError> {
        let page_size = self.client.settings().page_size;
        let mut out: Vec<Order> = Vec::new();
        let mut seen = BTreeSet::new();
        let mut cursor = after_us.map(|us| utc_micros(us - 1));
        let stuck = |at: &str, n: u32| {
            BrokerError::Unavailable(format!(
                "Alpaca GET /v2/orders?status={status}: more than {n} orders submitted within one microsecond (at {at}): the orders after them cannot be paged to, so the list is incomplete and is not used"
            ))
        };
        loop {
            if *pages == 0 {
                return Ok((out, true));
            }
            *pages -= 1;
            let mut page = self.page(status, cursor.as_deref(), None, page_size)?;
            let full = page.len() >= page_size as usize;
            let first = page.iter().map(|o| o.submitted_at.micros()).min();
            let last = page.iter().map(|o| o.submitted_at.micros()).max();
            let mut next = last.map(|us| utc_micros(us - 1));
            if let (true, Some(f), Some(l)) = (full, first, last)
                && f == l
                && cursor == next
            {
                // A full page all at `l` that began at `l`: the next page would be this one
                // again. A burst: every order at exactly `l`, in one page, then past them.
                if *pages == 0 {
                    out.extend(page.into_iter().filter(|o| seen.insert(o.id.clone())));
                    return Ok((out, true));
                }
                *pages -= 1;
                let (from, to) = (utc_micros(l - 1), utc_micros(l + 1));
                let burst = self.page(status, Some(&from), Some(&to), MAX_PAGE_SIZE)?;
                if burst.len() >= MAX_PAGE_SIZE as usize {
                    return Err(stuck(&utc_micros(l), MAX_PAGE_SIZE));
                }
                page.extend(burst);
                next = Some(utc_micros(l));
            }
            let before = out.len();
            for o in page {
                if seen.insert(o.id.clone()) {
                    out.push(o);
                }
            }
            if !full {
                return Ok((out, false));
            }
            if out.len() == before {
                return Err(stuck(cursor.as_deref().unwrap_or("the start"), page_size));
            }
            cursor = next;
        }
    }

    /// The orders open at the previous call that are open no more (nor listed in `known`),
    /// fetched by id (`GET /v2/orders/{id}`; a 404 forgets it): at most
    /// [`MAX_CLOSED_FETCHES_PER_CALL`]; the ids left for the next call.
    fn fetch_closed(
        &mut self,
        open_now: &BTreeSet<String>,
        known: &BTreeSet<String>,
    ) -> Result<(Vec<Order>, Vec<String>), BrokerError> {
        let gone: Vec<String> = self
            .open_seen
            .iter()
            .filter(|id| !open_now.contains(*id) && !known.contains(*id))
            .cloned()
            .collect();
        let mut closed = Vec::new();
        for id in gone.iter().take(MAX_CLOSED_FETCHES_PER_CALL) {
            let path = format!("/v2/orders/{id}");
            match self.get::<Order>(Call::Lookup, &path, Vec::new()) {
                Ok(o) => closed.push(o),
                Err(e) if e.action() == Action::Absent => {}
                Err(e) => return Err(broker_error(e)),
            }
        }
        let left = gone.into_iter().skip(MAX_CLOSED_FETCHES_PER_CALL).collect();
        Ok((closed, left))
    }

    /// One submit (see the module doc).
    fn submit_once(&mut self, order: &OurOrder, _attempt: u32) -> Result<(), BrokerError> {
        let mut request = OrderRequest::of(order);
        request.client_order_id = self.wire_id(&order.client_order_id);
        let body = serde_json::to_vec(&request).map_err(|e| {
            BrokerError::Schema(format!("the order request could not be written: {e}"))
        })?;
        let req = Request {
            kind: Call::Submit,
            method: Method::POST,
            api: crate::client::Api::Trading,
            path: "/v2/orders",
            query: Vec::new(),
            body: Some(body),
            urgent: true,
        };
        match self.client.send(&req) {
            Ok(answer) => {
                let call = "POST /v2/orders";
                let placed: Order = decode(call, &answer.body).map_err(|d| {
                    broker_error(self.client.contract_error(call, Call::Submit, &d))
                })?;
                if placed.client_order_id != request.client_order_id {
                    let d = format!(
                        "{call}: field `client_order_id` = {:?}: the venue answered for another order than {}",
                        crate::wire::clip(&placed.client_order_id),
                        request.client_order_id
                    );
                    return Err(broker_error(self.client.contract_error(
                        call,
                        Call::Submit,
                        &d,
                    )));
                }
                Ok(())
            }
            Err(e) if e.action() == Action::LookUp => {
                match self.lookup_wire(&order.client_order_id, true) {
                    Ok(Some(found)) => match matches_sent(&found, &request, order) {
                        Ok(()) => Ok(()),
                        Err(why) => Err(BrokerError::Rejected {
                            reason: format!(
                                "{}; the id belongs to another order (venue id {}: {why}): the venue refused ours, and that order is another's",
                                e.text,
                                crate::wire::clip(&found.id)
                            ),
                        }),
                    },
                    Ok(None) => Err(BrokerError::NoAnswer {
                        error: format!(
                            "{}; the lookup by client_order_id then answered 404",
                            e.text
                        ),
                        venue_received: false,
                    }),
                    Err(le) => Err(BrokerError::NoAnswer {
                        error: format!("{}; the lookup failed: {}", e.text, le.text),
                        venue_received: false,
                    }),
                }
            }
            Err(e) => Err(broker_error(e)),
        }
    }

    fn to_venue_all(&self, orders: &[Order]) -> Result<Vec<VenueOrder>, BrokerError> {
        orders
            .iter()
            .map(|o| self.ours(o).to_venue("GET /v2/orders"))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|d| {
                broker_error(
                    self.client
                        .contract_error("GET /v2/orders", Call::Query, &d),
                )
            })
    }
}

impl Broker for AlpacaBroker {
    fn submit(&mut self, order: &OurOrder, attempt: u32) -> Result<(), BrokerError> {
        let r = self.submit_once(order, attempt);
        let id = order.client_order_id.as_str();
        match &r {
            Err(BrokerError::NoAnswer { .. }) if self.unsettled.len() < MAX_UNSETTLED => {
                self.unsettled.insert(id.to_owned());
            }
            Err(BrokerError::NoAnswer { .. }) => {}
            _ => {
                self.unsettled.remove(id);
            }
        }
        r
    }

    /// Looks the order up by `client_order_id` (Alpaca cancels by its own id), then
    /// `DELETE /v2/orders/{id}`. What it returns, honestly:
    /// - 204 → `Some(unfilled)`: the cancel was *accepted*, not done — `unfilled` is the
    ///   quantity unfilled at the lookup just before it, and the order may still fill until
    ///   the venue reports it canceled (its final state and any late fill reach the engine
    ///   through `orders_since` and the lookups, never through this value);
    /// - 422 (not cancelable) → the order is looked up again: still not terminal (e.g.
    ///   `pending_cancel`: a cancel already under way) → `Some(unfilled)` as above; terminal
    ///   or gone → `None`;
    /// - 404, or terminal at the first lookup → `None` (not open there).
    fn cancel(&mut self, id: &ClientOrderId) -> Result<Option<rust_decimal::Decimal>, BrokerError> {
        let Some(found) = self.lookup_wire(id, true).map_err(broker_error)? else {
            return Ok(None);
        };
        let venue = self
            .ours(&found)
            .to_venue("GET /v2/orders:by_client_order_id")
            .map_err(|d| {
                broker_error(self.client.contract_error(
                    "GET /v2/orders:by_client_order_id",
                    Call::Lookup,
                    &d,
                ))
            })?;
        if venue.status.is_terminal() {
            return Ok(None);
        }
        let path = format!("/v2/orders/{}", found.id);
        let req = Request {
            kind: Call::Cancel,
            method: Method::DELETE,
            api: crate::client::Api::Trading,
            path: &path,
            query: Vec::new(),
            body: None,
            urgent: false,
        };
        match self.client.send(&req) {
            Ok(_) => Ok(Some(venue.remaining)),
            Err(e) if e.action() == Action::Absent => Ok(None),
            Err(e) if e.action() == Action::NotCancelable => {
                // Not cancelable may be "already being cancelled": still open until it is.
                let now = self.lookup(id)?;
                Ok(now.filter(|o| !o.status.is_terminal()).map(|o| o.remaining))
            }
            Err(e) => Err(broker_error(e)),
        }
    }

    /// `DELETE /v2/orders` (207): the ids whose cancel the venue accepted. The open orders are
    /// read first (best effort) to name them by `client_order_id`; one opened meanwhile is
    /// named `venue-<id>`.
    fn cancel_all(&mut self) -> Result<Vec<ClientOrderId>, BrokerError> {
        let mut pages = 1;
        let names: BTreeMap<String, String> = self
            .list("open", None, &mut pages)
            .ok()
            .map(|(orders, _)| {
                orders
                    .into_iter()
                    .map(|o| {
                        let name = self.ours_name(&o.client_order_id, &o.id);
                        (o.id, name)
                    })
                    .collect()
            })
            .unwrap_or_default();
        let req = Request {
            kind: Call::Cancel,
            method: Method::DELETE,
            api: crate::client::Api::Trading,
            path: "/v2/orders",
            query: Vec::new(),
            body: None,
            urgent: false,
        };
        let answer = self.client.send(&req).map_err(broker_error)?;
        let call = "DELETE /v2/orders";
        let entries: Vec<CancelEntry> = decode(call, &answer.body)
            .map_err(|d| broker_error(self.client.contract_error(call, Call::Cancel, &d)))?;
        Ok(entries
            .iter()
            .filter(|e| (200..300).contains(&e.status))
            .filter_map(|e| {
                let name = names
                    .get(&e.id)
                    .cloned()
                    .unwrap_or_else(|| format!("venue-{}", e.id));
                ClientOrderId::parse(&name)
                    .or_else(|_| ClientOrderId::parse(&format!("venue-{}", e.id)))
                    .ok()
            })
            .collect())
    }

    /// The order with this `client_order_id`, open or not (`None`: the venue's 404). One
    /// that settles a submit of unknown outcome may use the budget's reserve like a submit;
    /// any other waits like polling.
    fn lookup(&mut self, id: &ClientOrderId) -> Result<Option<VenueOrder>, BrokerError> {
        let urgent = self.unsettled.contains(id.as_str());
        let found = self.lookup_wire(id, urgent).map_err(broker_error)?;
        // Answered either way: the submit is settled.
        self.unsettled.remove(id.as_str());
        let Some(found) = found else {
            return Ok(None);
        };
        let call = "GET /v2/orders:by_client_order_id";
        self.ours(&found)
            .to_venue(call)
            .map(Some)
            .map_err(|d| broker_error(self.client.contract_error(call, Call::Lookup, &d)))
    }

    /// Every open order, paginated (at most `max_pages` pages: more is a failed query, never
    /// a partial list read as complete).
    fn open_orders(&mut self) -> Result<Vec<VenueOrder>, BrokerError> {
        let mut pages = self.client.settings().max_pages;
        let (orders, more) = self.list("open", None, &mut pages)?;
        if more {
            return Err(BrokerError::Unavailable(format!(
                "Alpaca GET /v2/orders: more than {} pages of open orders; the list is incomplete and is not used (raise max_pages)",
                self.client.settings().max_pages
            )));
        }
        self.to_venue_all(&orders)
    }

    fn positions(&mut self) -> Result<Vec<VenuePosition>, BrokerError> {
        let call = "GET /v2/positions";
        let wire: Vec<Position> = self
            .get(Call::Query, "/v2/positions", Vec::new())
            .map_err(broker_error)?;
        wire.iter()
            .map(|p| p.to_venue(call))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|d| broker_error(self.client.contract_error(call, Call::Query, &d)))
    }

    /// The account: `alpaca:<account_number>` is its fingerprint.
    fn account(&mut self) -> Result<VenueAccount, BrokerError> {
        let a: Account = self
            .get(Call::Account, "/v2/account", Vec::new())
            .map_err(broker_error)?;
        Ok(VenueAccount {
            id: format!("alpaca:{}", a.account_number),
            cash: a.cash.map(|c| c.0),
        })
    }

    /// Alpaca's fills are not read here: they reach the engine as the changed orders of
    /// [`Broker::orders_since`] (cumulative `filled_qty` and `filled_avg_price`), which
    /// reconciliation turns into `venue.fills` records. Always empty, the cursor unchanged.
    fn fills_since(&mut self, cursor: u64) -> Result<FillsPage, BrokerError> {
        Ok(FillsPage {
            fills: Vec::new(),
            cursor,
        })
    }

    /// The orders changed (`updated_at`) at or after `since`, oldest change first, at most
    /// `limit` (the trait's contract). Alpaca filters orders by when they were *submitted*,
    /// not changed, so a call reads the open orders (any may change; their own page budget),
    /// every order submitted at or after `since` (its own page budget; resumed where the
    /// previous call stopped when pages were left), and, by id, each order open at the
    /// previous call and open no more (at most [`MAX_CLOSED_FETCHES_PER_CALL`]). What a fresh
    /// adapter cannot know (an order submitted before `since` and closed before its first
    /// call, e.g. while Ballast was down) reconciliation settles by its lookups. `since`
    /// `None` starts over: nothing held back or remembered as returned.
    fn orders_since(
        &mut self,
        since: Option<Timestamp>,
        limit: usize,
    ) -> Result<OrdersPage, BrokerError> {
        let limit = limit.max(1);
        match since {
            Some(s) => {
                let floor = (s, String::new(), Decimal::MIN);
                self.delivered = self.delivered.split_off(&floor);
            }
            None => {
                // From the oldest: a fresh read, nothing held back or remembered.
                self.delivered.clear();
                self.carry.clear();
                self.all_resume = None;
            }
        }
        // Changes held back from the previous read: returned first, and then `more` (a
        // fresh read is due: what changed since that read is not in them).
        let draining = !self.carry.is_empty();
        if !draining {
            let (read, all_more) = self.read_changes(since)?;
            let mut latest: BTreeMap<String, VenueOrder> = BTreeMap::new();
            for o in read {
                let newer = latest
                    .get(&o.venue_id)
                    .is_none_or(|k| (k.updated_at, k.filled_qty) <= (o.updated_at, o.filled_qty));
                if newer {
                    latest.insert(o.venue_id.clone(), o);
                }
            }
            let mut fresh: Vec<VenueOrder> = latest
                .into_values()
                .filter(|o| !self.delivered.contains(&delivered_key(o)))
                .collect();
            fresh.sort_by(|a, b| (a.updated_at, &a.venue_id).cmp(&(b.updated_at, &b.venue_id)));
            self.carry = fresh.into();
            if all_more {
                // The rest of the `all` list is read by the next call (`all_resume`).
                let orders = self.take_carry(limit);
                return Ok(OrdersPage { orders, more: true });
            }
        }
        let orders = self.take_carry(limit);
        Ok(OrdersPage {
            orders,
            more: draining || !self.carry.is_empty() || self.all_resume.is_some(),
        })
    }
}

/// Whether the venue's order found under our id (after a 422 "client_order_id must be
/// unique") is the one we sent: symbol, side, quantity, type and a submission at or after
/// our order's creation (less [`SUBMITTED_TOLERANCE_MS`]). Otherwise the id is another's.
fn matches_sent(found: &Order, sent: &OrderRequest, ours: &OurOrder) -> Result<(), String> {
    let mut differs = Vec::new();
    if found.symbol != sent.symbol {
        differs.push(format!("symbol {:?}", crate::wire::clip(&found.symbol)));
    }
    if found.side != sent.side {
        differs.push(format!("side {:?}", found.side));
    }
    if found.order_type != sent.order_type {
        differs.push(format!("type {:?}", found.order_type));
    }
    if found.qty != Some(sent.qty) {
        differs.push(format!("qty {:?}", found.qty.map(|q| q.0)));
    }
    let floor_us = (ours.created_at.unix_ms() - SUBMITTED_TOLERANCE_MS) * 1_000;
    if found.submitted_at.micros() < floor_us {
        differs.push("submitted before our order was created".to_owned());
    }
    if differs.is_empty() {
        Ok(())
    } else {
        Err(differs.join(", "))
    }
}

/// How much earlier than our order's creation the venue may say it was submitted (clocks).
pub const SUBMITTED_TOLERANCE_MS: i64 = 60_000;

/// A change's identity: the same order at the same time with the same fill is one change.
fn delivered_key(o: &VenueOrder) -> (Timestamp, String, Decimal) {
    (o.updated_at, o.venue_id.clone(), o.filled_qty)
}

impl AlpacaBroker {
    /// The oldest `limit` changes waiting, remembered as returned.
    fn take_carry(&mut self, limit: usize) -> Vec<VenueOrder> {
        let n = limit.min(self.carry.len());
        let out: Vec<VenueOrder> = self.carry.drain(..n).collect();
        for o in &out {
            self.delivered.insert(delivered_key(o));
        }
        while self.delivered.len() > MAX_DELIVERED {
            self.delivered.pop_first();
        }
        out
    }

    /// One read of everything that may have changed at or after `since` (see
    /// [`Broker::orders_since`]), unfiltered by limit; `true`: the `all` list has pages left.
    fn read_changes(
        &mut self,
        since: Option<Timestamp>,
    ) -> Result<(Vec<VenueOrder>, bool), BrokerError> {
        let max_pages = self.client.settings().max_pages;
        let mut pages = max_pages;
        let (mut orders, open_partial) = self.list("open", None, &mut pages)?;
        self.open_partial = open_partial;
        let open_now: BTreeSet<String> = orders.iter().map(|o| o.id.clone()).collect();
        let since_us = since.map(|s| s.unix_ms().saturating_mul(1_000));
        let from = self.all_resume.or(since_us);
        let mut pages = max_pages;
        let (recent, all_more) = self.list("all", from, &mut pages)?;
        self.all_resume = if all_more {
            recent
                .iter()
                .map(|o| o.submitted_at.micros())
                .max()
                .or(from)
        } else {
            None
        };
        let mut known = open_now.clone();
        let recent_ids: BTreeSet<String> = recent.iter().map(|o| o.id.clone()).collect();
        orders.extend(recent.into_iter().filter(|o| known.insert(o.id.clone())));
        let (closed, left) = self.fetch_closed(&open_now, &known)?;
        // Fetched and settled: watched no more; fetched and still not terminal: still watched.
        let (settled, unsettled): (Vec<&Order>, Vec<&Order>) =
            closed.iter().partition(|o| o.status.0.is_terminal());
        let closed_ids: BTreeSet<String> = settled.iter().map(|o| o.id.clone()).collect();
        let still: Vec<String> = unsettled.iter().map(|o| o.id.clone()).collect();
        orders.extend(closed);
        let mut watched: BTreeSet<String> = if open_partial {
            // The open orders past the budget were not read: the ones watched stay watched.
            self.open_seen
                .iter()
                .filter(|id| !closed_ids.contains(*id))
                .cloned()
                .collect()
        } else {
            BTreeSet::new()
        };
        for id in open_now.into_iter().chain(left).chain(still) {
            if watched.len() >= MAX_OPEN_SEEN {
                break;
            }
            watched.insert(id);
        }
        self.open_seen = watched;
        let venue = self.to_venue_all(&orders)?;
        // An order of the `all` list is new to this adapter (submitted at or after the
        // cursor, or on pages a previous call left): it is a change whatever its time. An
        // open or closed one read again is a change only at or after `since`.
        Ok((
            venue
                .into_iter()
                .filter(|o| {
                    recent_ids.contains(&o.venue_id) || since.is_none_or(|s| o.updated_at >= s)
                })
                .collect(),
            all_more,
        ))
    }
}
