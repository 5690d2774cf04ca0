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

use std::collections::BTreeMap;
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
}

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

    /// The venue's order with this `client_order_id` (`None`: its 404).
    fn lookup_wire(&mut self, id: &ClientOrderId) -> Result<Option<Order>, VenueError> {
        let query = vec![("client_order_id", id.to_string())];
        match self.get::<Order>(Call::Lookup, "/v2/orders:by_client_order_id", query) {
            Ok(o) => Ok(Some(o)),
            Err(e) if e.action() == Action::Absent => Ok(None),
            Err(e) => Err(e),
        }
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
                match self.lookup_wire(&order.client_order_id) {
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
        let Some(found) = self.lookup_wire(id).map_err(broker_error)? else {
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

    /// The order with this `client_order_id`, open or not (`None`: the venue's 404).
    fn lookup(&mut self, id: &ClientOrderId) -> Result<Option<VenueOrder>, BrokerError> {
        let Some(found) = self.lookup_wire(id).map_err(broker_error)? else {
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
    /// open orders (any of them may change) and every order submitted after `since` (open or
    /// closed), and keeps those updated after `since`. An order submitted before `since` and
    /// closed after it is not listed (it was open at the previous poll): reconciliation looks
    /// an order of ours the venue no longer lists up by `client_order_id`.
    fn orders_since(
        &mut self,
        since: Option<Timestamp>,
        limit: usize,
    ) -> Result<OrdersPage, BrokerError> {
        let mut pages = self.client.settings().max_pages;
        let (mut orders, mut more) = self.list("open", None, &mut pages).map_err(broker_error)?;
        let (recent, more_recent) = self.list("all", since, &mut pages).map_err(broker_error)?;
        more |= more_recent;
        let known: std::collections::BTreeSet<String> =
            orders.iter().map(|o| o.id.clone()).collect();
        orders.extend(recent.into_iter().filter(|o| !known.contains(&o.id)));
        let mut changed = self.to_venue_all(&orders)?;
        changed.retain(|o| since.is_none_or(|s| o.updated_at > s));
        changed.sort_by(|a, b| (a.updated_at, &a.venue_id).cmp(&(b.updated_at, &b.venue_id)));
        if changed.len() > limit {
            changed.truncate(limit);
            more = true;
        }
        Ok(OrdersPage {
            orders: changed,
            more,
        })
    }
}
