//! [`AlpacaBroker`]: the engine's [`Broker`] on Alpaca's Trading API v2 (ALPACA.md).
//!
//! Submission is idempotent by `client_order_id` and never retried blind:
//! - 200 → accepted; 403 / 422 → [`BrokerError::Rejected`] with the venue's message;
//! - 422 "client_order_id must be unique" → the order is looked up by its id: found → accepted
//!   (it is there), otherwise [`BrokerError::NoAnswer`];
//! - a timeout, a 5xx or a dropped connection → [`BrokerError::NoAnswer`]: the engine looks
//!   the order up by id on its next pass and sends it again, with the same id, only after the
//!   venue answered 404 (ids are single-use at the venue, so a resend can never duplicate);
//! - a 429 (or no connection) → [`BrokerError::Unavailable`]: the venue refused before
//!   accepting; its `Retry-After` is honoured by the rate budget before the next request.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use ballast_core::Clock;
use ballast_core::Timestamp;
use ballast_core::broker::{
    Broker, BrokerError, FillsPage, OrdersPage, VenueAccount, VenueOrder, VenuePosition,
};
use ballast_core::domain::{ClientOrderId, Order as OurOrder};
use ballast_core::venue::classify::{Action, Call};
use reqwest::Method;

use crate::client::{AlpacaSettings, Client, Request, VenueError};
use crate::model::{Account, CancelEntry, Order, OrderRequest, Position};
use crate::wire::decode;

/// Alpaca as the engine's venue.
#[derive(Debug)]
pub struct AlpacaBroker {
    client: Client,
    /// The venue ids of the orders open at the last [`Broker::orders_since`] (at most the
    /// open orders one call reads): one that is no longer open is fetched by id on the next
    /// call, so its close (a fill, a cancel) is reported even though it was submitted before
    /// the cursor.
    open_seen: BTreeSet<String>,
}

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
        })
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
        req.query = vec![("client_order_id", id.to_string())];
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

    /// Every order of `status` (`open` or `all`) submitted after `after`, oldest first,
    /// reading at most `pages` pages (`true`: more remain).
    fn list(
        &mut self,
        status: &str,
        after: Option<Timestamp>,
        pages: &mut u32,
    ) -> Result<(Vec<Order>, bool), VenueError> {
        let page_size = self.client.settings().page_size;
        let mut out: Vec<Order> = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        let mut cursor = after.map(|t| t.to_string());
        loop {
            if *pages == 0 {
                return Ok((out, true));
            }
            *pages -= 1;
            let mut query = vec![
                ("status", status.to_owned()),
                ("direction", "asc".to_owned()),
                ("limit", page_size.to_string()),
            ];
            if let Some(c) = &cursor {
                query.push(("after", c.clone()));
            }
            let page: Vec<Order> = self.get(Call::Query, "/v2/orders", query)?;
            let full = page.len() >= page_size as usize;
            let last = page
                .iter()
                .map(|o| &o.submitted_at)
                .max()
                .map(|s| s.text.clone());
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
                // A whole page already seen: this call cannot page past it.
                return Ok((out, true));
            }
            // The next page: after the last one's `submitted_at` as the venue wrote it (full
            // precision, so orders within one millisecond are not skipped; seen ones are
            // deduped).
            cursor = last;
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

    fn to_venue_all(&self, orders: &[Order]) -> Result<Vec<VenueOrder>, BrokerError> {
        orders
            .iter()
            .map(|o| o.to_venue("GET /v2/orders"))
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
    fn submit(&mut self, order: &OurOrder, _attempt: u32) -> Result<(), BrokerError> {
        let body = serde_json::to_vec(&OrderRequest::of(order)).map_err(|e| {
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
                if placed.client_order_id != order.client_order_id.as_str() {
                    let d = format!(
                        "{call}: field `client_order_id` = {:?}: the venue answered for another order than {}",
                        crate::wire::clip(&placed.client_order_id),
                        order.client_order_id
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
                    Ok(Some(_)) => Ok(()),
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

    /// Looks the order up by `client_order_id` (Alpaca cancels by its own id), then
    /// `DELETE /v2/orders/{id}`: 204 → its unfilled quantity; 404 or 422 (not cancelable) →
    /// `None`.
    fn cancel(&mut self, id: &ClientOrderId) -> Result<Option<rust_decimal::Decimal>, BrokerError> {
        let Some(found) = self.lookup_wire(id, true).map_err(broker_error)? else {
            return Ok(None);
        };
        let venue = found
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
            Err(e) if matches!(e.action(), Action::Absent | Action::NotCancelable) => Ok(None),
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
            .map(|(orders, _)| {
                orders
                    .into_iter()
                    .map(|o| (o.id, o.client_order_id))
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

    /// The order with this `client_order_id`, open or not (`None`: the venue's 404). It
    /// settles an order of unknown outcome, so it may use the budget's reserve like a submit.
    fn lookup(&mut self, id: &ClientOrderId) -> Result<Option<VenueOrder>, BrokerError> {
        let Some(found) = self.lookup_wire(id, true).map_err(broker_error)? else {
            return Ok(None);
        };
        let call = "GET /v2/orders:by_client_order_id";
        found
            .to_venue(call)
            .map(Some)
            .map_err(|d| broker_error(self.client.contract_error(call, Call::Lookup, &d)))
    }

    /// Every open order, paginated (at most `max_pages` pages: more is a failed query, never
    /// a partial list read as complete).
    fn open_orders(&mut self) -> Result<Vec<VenueOrder>, BrokerError> {
        let mut pages = self.client.settings().max_pages;
        let (orders, more) = self.list("open", None, &mut pages).map_err(broker_error)?;
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

    /// The orders changed (`updated_at`) after `since`, oldest change first, at most `limit`.
    ///
    /// Alpaca filters orders by when they were *submitted*, not changed, so this reads the
    /// open orders (any of them may change), every order submitted after `since` (open or
    /// closed), and, by id, each order that was open at the previous call and is no longer
    /// (at most [`MAX_CLOSED_FETCHES_PER_CALL`]), and keeps those updated after `since`. What
    /// a fresh adapter cannot know (an order submitted before `since` and closed before its
    /// first call, e.g. while Ballast was down) reconciliation settles by looking up the
    /// orders it tracks by `client_order_id`.
    fn orders_since(
        &mut self,
        since: Option<Timestamp>,
        limit: usize,
    ) -> Result<OrdersPage, BrokerError> {
        let mut pages = self.client.settings().max_pages;
        let (mut orders, open_partial) =
            self.list("open", None, &mut pages).map_err(broker_error)?;
        let open_now: BTreeSet<String> = orders.iter().map(|o| o.id.clone()).collect();
        let (recent, more_recent) = self.list("all", since, &mut pages).map_err(broker_error)?;
        // More open orders than one call reads: asking again would read the same pages, so
        // it is not `more`; their changes are found by reconciliation's lookups.
        let mut more = more_recent;
        let mut known = open_now.clone();
        orders.extend(recent.into_iter().filter(|o| known.insert(o.id.clone())));
        if !open_partial {
            let (closed, left) = self.fetch_closed(&open_now, &known)?;
            more |= !left.is_empty();
            orders.extend(closed);
            self.open_seen = open_now.into_iter().chain(left).collect();
        } else {
            self.open_seen.extend(open_now);
        }
        let mut changed = self.to_venue_all(&orders)?;
        changed.retain(|o| since.is_none_or(|s| o.updated_at > s));
        changed.sort_by(|a, b| (a.updated_at, &a.venue_id).cmp(&(b.updated_at, &b.venue_id)));
        if changed.len() > limit {
            // Cut before the boundary's millisecond: the next call asks from the last one's
            // `updated_at` (exclusive) and must not skip a sibling of the same millisecond.
            let boundary = changed[limit].updated_at;
            let keep = changed[..limit]
                .iter()
                .filter(|o| o.updated_at < boundary)
                .count();
            changed.truncate(if keep == 0 { limit } else { keep });
            more = true;
        }
        Ok(OrdersPage {
            orders: changed,
            more,
        })
    }
}
