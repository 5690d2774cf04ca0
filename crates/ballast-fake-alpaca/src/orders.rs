//! An order as the fake holds it, and `POST /v2/orders`'s body read and validated like
//! Alpaca does (ALPACA.md): `type` and `time_in_force` required, exactly one of `qty` and
//! `notional` (notional only for market + day), the prices each type needs, a
//! `client_order_id` of at most 48 characters.

use rust_decimal::Decimal;
use serde_json::Value;

use crate::clock::Micros;

/// Alpaca's longest `client_order_id`.
pub const CLIENT_ORDER_ID_MAX_CHARS: usize = 48;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Buy,
    Sell,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "buy",
            Side::Sell => "sell",
        }
    }

    /// +1 for a buy, -1 for a sell.
    pub fn sign(self) -> Decimal {
        match self {
            Side::Buy => Decimal::ONE,
            Side::Sell => Decimal::NEGATIVE_ONE,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Market,
    Limit,
    Stop,
    StopLimit,
    TrailingStop,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Market => "market",
            Kind::Limit => "limit",
            Kind::Stop => "stop",
            Kind::StopLimit => "stop_limit",
            Kind::TrailingStop => "trailing_stop",
        }
    }
}

/// Time in force, as written (day, gtc, opg, cls, ioc, fok).
pub const TIME_IN_FORCE: [&str; 6] = ["day", "gtc", "opg", "cls", "ioc", "fok"];

/// What a valid submit asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submit {
    pub symbol: String,
    pub side: Side,
    pub kind: Kind,
    pub time_in_force: String,
    pub qty: Option<Decimal>,
    pub notional: Option<Decimal>,
    pub limit_price: Option<Decimal>,
    pub stop_price: Option<Decimal>,
    pub trail_price: Option<Decimal>,
    pub trail_percent: Option<Decimal>,
    pub extended_hours: bool,
    pub client_order_id: Option<String>,
}

/// A held order.
#[derive(Debug, Clone)]
pub struct Order {
    pub id: String,
    pub client_order_id: String,
    pub asset_id: String,
    pub req: Submit,
    pub status: &'static str,
    pub filled_qty: Decimal,
    pub filled_avg_price: Option<Decimal>,
    /// A stop (limit) order whose stop was reached.
    pub triggered: bool,
    /// Trailing stop: the best price since submission.
    pub hwm: Option<Decimal>,
    pub created_at: Micros,
    pub updated_at: Micros,
    pub submitted_at: Micros,
    pub filled_at: Option<Micros>,
    pub canceled_at: Option<Micros>,
    pub expired_at: Option<Micros>,
}

impl Order {
    pub fn is_open(&self) -> bool {
        matches!(
            self.status,
            "new" | "partially_filled" | "accepted" | "pending_new"
        )
    }

    /// The quantity still to fill; for a notional order, `None` until its first fill fixes
    /// the quantity.
    pub fn remaining(&self) -> Option<Decimal> {
        self.req
            .qty
            .map(|q| (q - self.filled_qty).max(Decimal::ZERO))
    }
}

/// A refused submit: status, Alpaca code, message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub code: u32,
    pub message: String,
}

impl Refusal {
    pub fn invalid(message: impl Into<String>) -> Refusal {
        Refusal {
            status: 422,
            code: 40010000,
            message: message.into(),
        }
    }
}

/// Read and validate a submit body (already JSON).
pub fn parse_submit(body: &Value) -> Result<Submit, Refusal> {
    let Some(obj) = body.as_object() else {
        return Err(Refusal {
            status: 400,
            code: 40010000,
            message: "request body format is invalid: expected a JSON object".into(),
        });
    };
    let text = |k: &str| obj.get(k).and_then(Value::as_str).map(str::trim);
    let symbol = text("symbol")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Refusal::invalid("symbol is required"))?
        .to_ascii_uppercase();
    let side = match text("side") {
        Some("buy") => Side::Buy,
        Some("sell") => Side::Sell,
        Some(other) => return Err(Refusal::invalid(format!("invalid side: {other:?}"))),
        None => return Err(Refusal::invalid("side is required")),
    };
    let kind = match text("type") {
        Some("market") => Kind::Market,
        Some("limit") => Kind::Limit,
        Some("stop") => Kind::Stop,
        Some("stop_limit") => Kind::StopLimit,
        Some("trailing_stop") => Kind::TrailingStop,
        Some(other) => return Err(Refusal::invalid(format!("invalid order type: {other:?}"))),
        None => return Err(Refusal::invalid("type is required")),
    };
    let time_in_force = match text("time_in_force") {
        Some(t) if TIME_IN_FORCE.contains(&t) => t.to_owned(),
        Some(other) => {
            return Err(Refusal::invalid(format!(
                "invalid time_in_force: {other:?}"
            )));
        }
        None => return Err(Refusal::invalid("time_in_force is required")),
    };
    match text("order_class") {
        None | Some("simple") | Some("") => {}
        Some(c @ ("bracket" | "oco" | "oto")) => {
            return Err(Refusal::invalid(format!(
                "order_class {c:?} is not supported by the fake Alpaca (simple orders only)"
            )));
        }
        Some(other) => return Err(Refusal::invalid(format!("invalid order_class: {other:?}"))),
    }
    let req = Submit {
        symbol,
        side,
        kind,
        time_in_force,
        qty: decimal(obj.get("qty"), "qty")?,
        notional: decimal(obj.get("notional"), "notional")?,
        limit_price: decimal(obj.get("limit_price"), "limit_price")?,
        stop_price: decimal(obj.get("stop_price"), "stop_price")?,
        trail_price: decimal(obj.get("trail_price"), "trail_price")?,
        trail_percent: decimal(obj.get("trail_percent"), "trail_percent")?,
        extended_hours: obj
            .get("extended_hours")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        client_order_id: client_order_id(obj.get("client_order_id"))?,
    };
    check_amounts(&req)?;
    check_prices(&req)?;
    Ok(req)
}

fn check_amounts(req: &Submit) -> Result<(), Refusal> {
    match (req.qty, req.notional) {
        (None, None) => Err(Refusal::invalid("qty or notional is required")),
        (Some(_), Some(_)) => Err(Refusal::invalid("only one of qty or notional may be given")),
        (Some(q), None) if q <= Decimal::ZERO => {
            Err(Refusal::invalid(format!("qty must be > 0, got {q}")))
        }
        (None, Some(n)) if n <= Decimal::ZERO => {
            Err(Refusal::invalid(format!("notional must be > 0, got {n}")))
        }
        (None, Some(_)) if req.kind != Kind::Market || req.time_in_force != "day" => {
            Err(Refusal::invalid(
                "notional orders are only accepted for market orders with time_in_force day",
            ))
        }
        _ => Ok(()),
    }
}

fn check_prices(req: &Submit) -> Result<(), Refusal> {
    let needs_limit = matches!(req.kind, Kind::Limit | Kind::StopLimit);
    let needs_stop = matches!(req.kind, Kind::Stop | Kind::StopLimit);
    if needs_limit && req.limit_price.is_none() {
        return Err(Refusal::invalid("limit_price is required"));
    }
    if needs_stop && req.stop_price.is_none() {
        return Err(Refusal::invalid("stop_price is required"));
    }
    if req.kind == Kind::TrailingStop && req.trail_price.is_some() == req.trail_percent.is_some() {
        return Err(Refusal::invalid(
            "exactly one of trail_price or trail_percent is required",
        ));
    }
    for (name, p) in [
        ("limit_price", req.limit_price),
        ("stop_price", req.stop_price),
        ("trail_price", req.trail_price),
        ("trail_percent", req.trail_percent),
    ] {
        if p.is_some_and(|p| p <= Decimal::ZERO) {
            return Err(Refusal::invalid(format!("{name} must be > 0")));
        }
    }
    if req.extended_hours && (req.kind != Kind::Limit || req.time_in_force != "day") {
        return Err(Refusal::invalid(
            "extended hours order must be DAY limit orders",
        ));
    }
    Ok(())
}

/// A decimal given as a JSON string (Alpaca's form) or number; null or absent is `None`.
fn decimal(v: Option<&Value>, name: &str) -> Result<Option<Decimal>, Refusal> {
    let text = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) => s.trim().to_owned(),
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => {
            return Err(Refusal::invalid(format!(
                "invalid {name}: expected a string"
            )));
        }
    };
    text.parse::<Decimal>()
        .or_else(|_| Decimal::from_scientific(&text))
        .map(Some)
        .map_err(|_| {
            let shown: String = text.chars().take(40).collect();
            Refusal::invalid(format!("invalid {name}: {shown:?} is not a number"))
        })
}

fn client_order_id(v: Option<&Value>) -> Result<Option<String>, Refusal> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) if s.chars().count() > CLIENT_ORDER_ID_MAX_CHARS => {
            Err(Refusal::invalid(format!(
                "client_order_id must be no more than {CLIENT_ORDER_ID_MAX_CHARS} characters"
            )))
        }
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(Refusal::invalid(
            "invalid client_order_id: expected a string",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn msg(v: Value) -> String {
        parse_submit(&v).unwrap_err().message
    }

    #[test]
    fn a_market_order_parses() {
        let s = parse_submit(&json!({"symbol": "aapl", "side": "buy", "type": "market",
            "time_in_force": "day", "qty": "2", "client_order_id": "c1"}))
        .unwrap();
        assert_eq!(s.symbol, "AAPL");
        assert_eq!(s.qty, Some(Decimal::TWO));
    }

    #[test]
    fn alpaca_s_rules_are_enforced() {
        let base =
            json!({"symbol": "AAPL", "side": "buy", "type": "market", "time_in_force": "day"});
        assert_eq!(msg(base.clone()), "qty or notional is required");
        let mut v = base.clone();
        v["qty"] = json!("1");
        v["notional"] = json!("100");
        assert_eq!(msg(v), "only one of qty or notional may be given");
        let mut v = base.clone();
        v["type"] = json!("limit");
        v["qty"] = json!("1");
        assert_eq!(msg(v), "limit_price is required");
        let mut v = base.clone();
        v["time_in_force"] = json!("gtc");
        v["notional"] = json!("100");
        assert!(msg(v).contains("notional"));
        let mut v = base.clone();
        v["qty"] = json!("1");
        v["client_order_id"] = json!("x".repeat(49));
        assert!(msg(v).contains("48"));
        let mut v = base.clone();
        v.as_object_mut().unwrap().remove("type");
        v["qty"] = json!("1");
        assert_eq!(msg(v), "type is required");
        let mut v = base;
        v.as_object_mut().unwrap().remove("time_in_force");
        v["qty"] = json!("1");
        assert_eq!(msg(v), "time_in_force is required");
    }
}
