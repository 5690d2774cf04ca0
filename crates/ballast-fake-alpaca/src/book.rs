//! The fake's venue state: orders, positions and cash, and the matching model. Orders are
//! held in submission order; a `client_order_id` once used stays used forever (even after the
//! order is cancelled), and every order created is counted by it, so a test can prove there
//! was never a duplicate.
//!
//! Matching, at each tick, against each symbol's new bar: a market order fills at the bar's
//! open; a limit buy fills at the open if the open is at or below the limit, else at the limit
//! if the bar's low reaches it (a sell mirrors this); a stop triggers when the bar reaches the
//! stop (then fills like a market order at the worse of open and stop, or, for a stop limit,
//! rests as a limit order); a trailing stop follows the best price since submission. A
//! partial fill fault fills only a fraction of each order's quantity per tick. `ioc` keeps
//! what filled at its first tick and cancels the rest; `fok` fills whole or is cancelled. Day
//! orders do not expire (the fake's market never closes).

use std::collections::{BTreeMap, HashMap};

use rust_decimal::Decimal;

use crate::clock::Micros;
use crate::ids::IdGen;
use crate::market::Market;
use crate::orders::{Kind, Order, Refusal, Side, Submit};

/// At most this many orders are held; a submit beyond is refused (422) — restart the fake.
pub const MAX_ORDERS: usize = 100_000;
/// Prices are kept to this many decimal places (average prices, notional quantities).
const PRICE_DP: u32 = 6;
const QTY_DP: u32 = 9;

/// A position: signed quantity (short is negative) and the average entry price.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub qty: Decimal,
    pub avg_entry_price: Decimal,
}

#[derive(Debug)]
pub struct Book {
    pub market: Market,
    pub cash: Decimal,
    orders: Vec<Order>,
    by_id: HashMap<String, usize>,
    by_client_id: HashMap<String, usize>,
    positions: BTreeMap<String, Position>,
    submits: HashMap<String, u32>,
    created: HashMap<String, u32>,
    partial: Option<Decimal>,
    ids: IdGen,
    executions: Vec<Execution>,
}

/// At most this many executions are kept (the oldest are dropped beyond).
pub const MAX_EXECUTIONS: usize = 100_000;

/// One fill of an order (an account activity of type FILL).
#[derive(Debug, Clone)]
pub struct Execution {
    /// Alpaca's form: `YYYYMMDDhhmmssmmm::uuid`, ordered by time.
    pub id: String,
    pub order_id: String,
    pub symbol: String,
    pub side: Side,
    pub qty: Decimal,
    pub price: Decimal,
    pub cum_qty: Decimal,
    pub leaves_qty: Decimal,
    pub partial: bool,
    pub at: Micros,
}

impl Book {
    pub fn new(market: Market, cash: Decimal, seed: u64) -> Book {
        Book {
            market,
            cash,
            orders: Vec::new(),
            by_id: HashMap::new(),
            by_client_id: HashMap::new(),
            positions: BTreeMap::new(),
            submits: HashMap::new(),
            created: HashMap::new(),
            partial: None,
            ids: IdGen::new(seed),
            executions: Vec::new(),
        }
    }

    pub fn uuid(&mut self) -> String {
        self.ids.uuid()
    }

    /// Count a `POST /v2/orders` carrying `client_order_id` (whatever its answer).
    pub fn count_submit(&mut self, client_order_id: &str) {
        if self.submits.len() < MAX_ORDERS * 2 || self.submits.contains_key(client_order_id) {
            *self.submits.entry(client_order_id.to_owned()).or_default() += 1;
        }
    }

    pub fn submits_of(&self, client_order_id: &str) -> u32 {
        self.submits.get(client_order_id).copied().unwrap_or(0)
    }

    pub fn orders_created_of(&self, client_order_id: &str) -> u32 {
        self.created.get(client_order_id).copied().unwrap_or(0)
    }

    /// Every count: (client_order_id, submits, orders created), sorted by id.
    pub fn counts(&self) -> Vec<(String, u32, u32)> {
        let mut all: Vec<(String, u32, u32)> = self
            .submits
            .iter()
            .map(|(k, n)| (k.clone(), *n, self.orders_created_of(k)))
            .collect();
        for (k, n) in &self.created {
            if !self.submits.contains_key(k) {
                all.push((k.clone(), 0, *n));
            }
        }
        all.sort();
        all
    }

    pub fn set_partial(&mut self, fraction: Decimal) {
        self.partial = (fraction < Decimal::ONE).then_some(fraction);
    }

    /// Accept an order, or refuse it as Alpaca would.
    pub fn submit(&mut self, req: Submit, now: Micros) -> Result<&Order, Refusal> {
        self.create(req, now, true)
    }

    /// [`Book::submit`], with or without the buying power check (an order placed behind the
    /// client's back has none).
    fn create(&mut self, req: Submit, now: Micros, check_power: bool) -> Result<&Order, Refusal> {
        let Some(series) = self.market.find(&req.symbol) else {
            return Err(Refusal {
                status: 422,
                code: 40010001,
                message: format!("asset \"{}\" not found", req.symbol),
            });
        };
        let asset_id = series.asset_id.clone();
        if self.orders.len() >= MAX_ORDERS {
            return Err(Refusal::invalid(format!(
                "the fake Alpaca holds at most {MAX_ORDERS} orders: restart it"
            )));
        }
        let client_order_id = match &req.client_order_id {
            Some(c) => c.clone(),
            None => self.ids.uuid(),
        };
        if self.by_client_id.contains_key(&client_order_id) {
            return Err(Refusal {
                status: 422,
                code: 40010001,
                message: "client_order_id must be unique".into(),
            });
        }
        if check_power && self.cost_beyond_position(&req) > self.buying_power() {
            return Err(Refusal {
                status: 403,
                code: 40310000,
                message: "insufficient buying power".into(),
            });
        }
        let id = self.ids.uuid();
        let hwm = (req.kind == Kind::TrailingStop)
            .then(|| self.market.price(&req.symbol))
            .flatten();
        let order = Order {
            id: id.clone(),
            client_order_id: client_order_id.clone(),
            asset_id,
            req,
            status: "new",
            filled_qty: Decimal::ZERO,
            filled_avg_price: None,
            triggered: false,
            hwm,
            created_at: now,
            updated_at: now,
            submitted_at: now,
            filled_at: None,
            canceled_at: None,
            expired_at: None,
        };
        let at = self.orders.len();
        self.orders.push(order);
        self.by_id.insert(id, at);
        self.by_client_id.insert(client_order_id.clone(), at);
        *self.created.entry(client_order_id).or_default() += 1;
        Ok(&self.orders[at])
    }

    /// An open limit order that no client of ours placed (far from the market, so it rests).
    pub fn add_foreign(
        &mut self,
        symbol: &str,
        side: Side,
        qty: Decimal,
        now: Micros,
    ) -> Result<String, Refusal> {
        let price = self
            .market
            .price(symbol)
            .ok_or_else(|| Refusal::invalid(format!("asset \"{symbol}\" not found")))?;
        let limit = match side {
            Side::Buy => (price / Decimal::TWO).round_dp(2),
            Side::Sell => (price * Decimal::TWO).round_dp(2),
        };
        let req = Submit {
            symbol: symbol.to_owned(),
            side,
            kind: Kind::Limit,
            time_in_force: "gtc".into(),
            qty: Some(qty),
            notional: None,
            limit_price: Some(limit),
            stop_price: None,
            trail_price: None,
            trail_percent: None,
            extended_hours: false,
            client_order_id: None,
        };
        self.create(req, now, false).map(|o| o.id.clone())
    }

    /// A market order for `qty` of the position `held` in the closing direction.
    pub fn close_position(
        &mut self,
        symbol: &str,
        held: Decimal,
        qty: Decimal,
        now: Micros,
    ) -> Result<&Order, Refusal> {
        let side = if held.is_sign_negative() {
            Side::Buy
        } else {
            Side::Sell
        };
        let req = Submit {
            symbol: symbol.to_owned(),
            side,
            kind: Kind::Market,
            time_in_force: "day".into(),
            qty: Some(qty),
            notional: None,
            limit_price: None,
            stop_price: None,
            trail_price: None,
            trail_percent: None,
            extended_hours: false,
            client_order_id: None,
        };
        self.submit(req, now)
    }

    pub fn get(&self, id: &str) -> Option<&Order> {
        self.by_id.get(id).and_then(|i| self.orders.get(*i))
    }

    pub fn by_client_id(&self, client_order_id: &str) -> Option<&Order> {
        self.by_client_id
            .get(client_order_id)
            .and_then(|i| self.orders.get(*i))
    }

    pub fn orders(&self) -> &[Order] {
        &self.orders
    }

    /// Cancel an order: 404 when unknown, 422 when it is no longer open.
    pub fn cancel(&mut self, id: &str, now: Micros) -> Result<(), Refusal> {
        let Some(o) = self.by_id.get(id).and_then(|i| self.orders.get_mut(*i)) else {
            return Err(Refusal {
                status: 404,
                code: 40410000,
                message: "order not found".into(),
            });
        };
        if !o.is_open() {
            return Err(Refusal {
                status: 422,
                code: 42210000,
                message: format!("order is already in \"{}\" state", o.status),
            });
        }
        o.status = "canceled";
        o.canceled_at = Some(now);
        o.updated_at = now;
        Ok(())
    }

    /// Cancel every open order; their ids.
    pub fn cancel_all(&mut self, now: Micros) -> Vec<String> {
        let open: Vec<String> = self
            .orders
            .iter()
            .filter(|o| o.is_open())
            .map(|o| o.id.clone())
            .collect();
        for id in &open {
            let _ = self.cancel(id, now);
        }
        open
    }

    pub fn positions(&self) -> &BTreeMap<String, Position> {
        &self.positions
    }

    /// Replace a position "behind our back" (qty 0 removes it); cash is untouched.
    pub fn set_position(&mut self, symbol: &str, qty: Decimal, avg_entry_price: Decimal) {
        if qty.is_zero() {
            self.positions.remove(symbol);
        } else {
            self.positions.insert(
                symbol.to_owned(),
                Position {
                    qty,
                    avg_entry_price,
                },
            );
        }
    }

    /// Market value of every position: (long, short), short negative.
    pub fn market_values(&self) -> (Decimal, Decimal) {
        let mut long = Decimal::ZERO;
        let mut short = Decimal::ZERO;
        for (sym, p) in &self.positions {
            let v = p.qty * self.market.price(sym).unwrap_or(p.avg_entry_price);
            if v.is_sign_negative() {
                short += v;
            } else {
                long += v;
            }
        }
        (long, short)
    }

    /// Cash less what the open buy orders (and the short part of open sells) could cost.
    pub fn buying_power(&self) -> Decimal {
        let reserved: Decimal = self
            .orders
            .iter()
            .filter(|o| o.is_open())
            .map(|o| self.open_cost(o))
            .sum();
        (self.cash - reserved).max(Decimal::ZERO)
    }

    fn open_cost(&self, o: &Order) -> Decimal {
        match (o.req.side, o.remaining()) {
            (Side::Buy, Some(q)) => q * self.reference_price(&o.req),
            (Side::Buy, None) => o.req.notional.unwrap_or_default(),
            (Side::Sell, _) => Decimal::ZERO,
        }
    }

    /// What an order would cost beyond the position it closes: the whole of a buy, the short
    /// part of a sell (priced at its limit, else the last price).
    fn cost_beyond_position(&self, req: &Submit) -> Decimal {
        let price = self.reference_price(req);
        match (req.side, req.qty) {
            (Side::Buy, Some(q)) => q * price,
            (Side::Buy, None) => req.notional.unwrap_or_default(),
            (Side::Sell, q) => {
                let held = self
                    .positions
                    .get(&req.symbol)
                    .map_or(Decimal::ZERO, |p| p.qty.max(Decimal::ZERO));
                let q =
                    q.unwrap_or_else(|| req.notional.unwrap_or_default() / price.max(Decimal::ONE));
                (q - held).max(Decimal::ZERO) * price
            }
        }
    }

    fn reference_price(&self, req: &Submit) -> Decimal {
        req.limit_price
            .or_else(|| self.market.price(&req.symbol))
            .unwrap_or_default()
    }

    /// The market moves one bar; open orders match against it.
    pub fn tick(&mut self, now: Micros) {
        let bars = self.market.advance();
        for (symbol, bar) in bars {
            for i in 0..self.orders.len() {
                if self.orders[i].req.symbol == symbol && self.orders[i].is_open() {
                    self.match_order(i, &bar, now);
                }
            }
        }
    }

    fn match_order(&mut self, i: usize, bar: &ballast_core::market::Bar, now: Micros) {
        let price = crate::matching::fill_price(&mut self.orders[i], bar);
        let o = &mut self.orders[i];
        let tif = o.req.time_in_force.as_str();
        let Some(price) = price else {
            if tif == "ioc" || tif == "fok" {
                close(o, "canceled", now);
            }
            return;
        };
        if o.req.qty.is_none() {
            // A notional order's quantity is fixed by its first fill.
            let n = o.req.notional.unwrap_or_default();
            o.req.qty = Some((n / price).round_dp(QTY_DP));
        }
        let total = o.req.qty.unwrap_or_default();
        let remaining = o.remaining().unwrap_or_default();
        let qty = match self.partial {
            Some(f) => (total * f).round_dp(QTY_DP).min(remaining),
            None => remaining,
        };
        if qty <= Decimal::ZERO || (tif == "fok" && qty < remaining) {
            close(o, "canceled", now);
            return;
        }
        let before = o.filled_qty;
        o.filled_qty += qty;
        let avg = o.filled_avg_price.unwrap_or_default();
        o.filled_avg_price = Some(
            ((avg * before + price * qty) / o.filled_qty)
                .round_dp(PRICE_DP)
                .normalize(),
        );
        o.updated_at = now;
        if o.filled_qty >= total {
            o.status = "filled";
            o.filled_at = Some(now);
        } else {
            o.status = "partially_filled";
            if tif == "ioc" {
                close(o, "canceled", now);
            }
        }
        let fill = Execution {
            id: String::new(),
            order_id: o.id.clone(),
            symbol: o.req.symbol.clone(),
            side: o.req.side,
            qty,
            price,
            cum_qty: o.filled_qty,
            leaves_qty: (total - o.filled_qty).max(Decimal::ZERO),
            partial: o.filled_qty < total,
            at: now,
        };
        self.book_fill(&fill.symbol, fill.side.sign() * qty, price);
        self.record_execution(fill);
    }

    fn record_execution(&mut self, mut e: Execution) {
        let stamp: String = crate::clock::utc(e.at)
            .chars()
            .filter(char::is_ascii_digit)
            .take(17)
            .collect();
        e.id = format!("{stamp}::{}", self.ids.uuid());
        if self.executions.len() >= MAX_EXECUTIONS {
            self.executions.remove(0);
        }
        self.executions.push(e);
    }

    /// Every execution kept, oldest first.
    pub fn executions(&self) -> &[Execution] {
        &self.executions
    }

    fn book_fill(&mut self, symbol: &str, delta: Decimal, price: Decimal) {
        self.cash -= delta * price;
        let p = self.positions.get(symbol).copied().unwrap_or(Position {
            qty: Decimal::ZERO,
            avg_entry_price: Decimal::ZERO,
        });
        let qty = p.qty + delta;
        let same_way = p.qty.is_zero() || p.qty.is_sign_negative() == delta.is_sign_negative();
        let avg = if same_way {
            ((p.qty.abs() * p.avg_entry_price + delta.abs() * price) / qty.abs()).round_dp(PRICE_DP)
        } else if qty.is_zero() || qty.is_sign_negative() == p.qty.is_sign_negative() {
            p.avg_entry_price
        } else {
            price // crossed through flat: the new side's entry is this fill
        };
        self.set_position(symbol, qty, avg.normalize());
    }
}

fn close(o: &mut Order, status: &'static str, now: Micros) {
    o.status = status;
    o.updated_at = now;
    if status == "canceled" {
        o.canceled_at = Some(now);
    }
}
