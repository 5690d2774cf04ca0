use super::*;
use crate::wire::decode;

pub(crate) fn order_json() -> serde_json::Value {
    serde_json::json!({
        "id": "61e69015-8549-4bfd-b9c3-01e75843f47d",
        "client_order_id": "bl-7-1",
        "created_at": "2021-03-16T18:38:01.942282Z",
        "updated_at": "2021-03-16T18:38:01.942282Z",
        "submitted_at": "2021-03-16T18:38:01.937734Z",
        "filled_at": null, "expired_at": null, "canceled_at": null, "failed_at": null,
        "replaced_at": null, "replaced_by": null, "replaces": null,
        "asset_id": "b0b6dd9d-8b9b-48a9-ba46-b9d54906e415",
        "symbol": "AAPL", "asset_class": "us_equity", "notional": null,
        "qty": "10", "filled_qty": "4", "filled_avg_price": "133.5",
        "order_class": "", "order_type": "limit", "type": "limit", "side": "buy",
        "time_in_force": "day", "limit_price": "134.00", "stop_price": null,
        "status": "partially_filled", "extended_hours": false, "legs": null,
        "trail_percent": null, "trail_price": null, "hwm": null, "subtag": null, "source": null
    })
}

fn order_of(v: &serde_json::Value) -> Result<Order, String> {
    decode::<Order>("GET /v2/orders", v.to_string().as_bytes())
}

#[test]
fn an_order_reads_into_the_engines_view() {
    let o = order_of(&order_json()).unwrap();
    let v = o.to_venue("GET /v2/orders").unwrap();
    assert_eq!(v.order.client_order_id.as_str(), "bl-7-1");
    assert_eq!(
        v.order.limit_price().map(|p| p.value()),
        Some(Decimal::new(134, 0))
    );
    assert_eq!(
        (v.filled_qty, v.remaining),
        (Decimal::from(4), Decimal::from(6))
    );
    assert_eq!(v.status, VenueStatus::PartiallyFilled);
    assert_eq!(v.filled_avg_price, Some(Decimal::new(1335, 1)));
    assert_eq!(v.updated_at.to_string(), "2021-03-16T18:38:01.942Z");
}

#[test]
fn every_required_order_field_is_required_and_named() {
    for field in [
        "id",
        "client_order_id",
        "created_at",
        "updated_at",
        "submitted_at",
        "order_class",
        "time_in_force",
        "status",
        "extended_hours",
        "symbol",
        "side",
        "type",
        "filled_qty",
    ] {
        let mut v = order_json();
        v.as_object_mut().unwrap().remove(field);
        let e = order_of(&v).unwrap_err();
        assert!(
            e.contains(&format!("missing field `{field}`")) && e.contains("GET /v2/orders"),
            "{field}: {e}"
        );
        let mut v = order_json();
        v[field] = serde_json::Value::Null;
        assert!(order_of(&v).is_err(), "{field} null");
    }
}

#[test]
fn a_number_where_the_contract_has_a_string_is_drift_naming_field_and_value() {
    let mut v = order_json();
    v["filled_qty"] = serde_json::json!(4.25);
    let e = order_of(&v).unwrap_err();
    assert!(e.contains("`filled_qty`") && e.contains("4.25"), "{e}");
    let mut v = order_json();
    v["created_at"] = serde_json::json!("16/03/2021");
    let e = order_of(&v).unwrap_err();
    assert!(
        e.contains("`created_at`") && e.contains("16/03/2021"),
        "{e}"
    );
}

#[test]
fn an_unknown_status_is_kept_and_in_flight() {
    let mut v = order_json();
    v["status"] = serde_json::json!("frozen");
    v["order_class"] = serde_json::json!("multileg");
    let o = order_of(&v).unwrap().to_venue("GET /v2/orders").unwrap();
    assert_eq!(o.status, VenueStatus::Unknown("frozen".into()));
    assert!(!o.status.is_terminal());
}

#[test]
fn what_the_engine_cannot_hold_is_refused_by_name() {
    let mut v = order_json();
    v["qty"] = serde_json::Value::Null;
    v["notional"] = serde_json::json!("500");
    let e = order_of(&v)
        .unwrap()
        .to_venue("GET /v2/orders")
        .unwrap_err();
    assert!(e.contains("`qty`") && e.contains("notional"), "{e}");
    let mut v = order_json();
    v["side"] = serde_json::json!("sideways");
    let e = order_of(&v)
        .unwrap()
        .to_venue("GET /v2/orders")
        .unwrap_err();
    assert!(e.contains("`side`") && e.contains("sideways"), "{e}");
    let mut v = order_json();
    v["client_order_id"] = serde_json::json!("an id with spaces");
    let o = order_of(&v).unwrap().to_venue("GET /v2/orders").unwrap();
    assert_eq!(
        o.order.client_order_id.as_str(),
        "venue-61e69015-8549-4bfd-b9c3-01e75843f47d"
    );
}

fn position_json() -> serde_json::Value {
    serde_json::json!({
        "asset_id": "904837e3-3b76-47ec-b432-046db621571b", "symbol": "AAPL",
        "exchange": "NASDAQ", "asset_class": "us_equity", "asset_marginable": true,
        "avg_entry_price": "100.0", "qty": "-5", "qty_available": "-5", "side": "short",
        "market_value": "-600.0", "cost_basis": "-500.0", "unrealized_pl": "-100.0",
        "unrealized_plpc": "-0.2", "unrealized_intraday_pl": "-10.0",
        "unrealized_intraday_plpc": "-0.0084", "current_price": "120.0",
        "lastday_price": "119.0", "change_today": "0.0084"
    })
}

#[test]
fn a_position_reads_signed_and_its_required_fields_are_required() {
    let p: Vec<Position> = decode(
        "GET /v2/positions",
        serde_json::json!([position_json()]).to_string().as_bytes(),
    )
    .unwrap();
    let v = p[0].to_venue("GET /v2/positions").unwrap();
    assert_eq!((v.qty, v.side), (Decimal::from(-5), PositionSide::Short));
    for field in [
        "asset_id",
        "symbol",
        "exchange",
        "asset_class",
        "avg_entry_price",
        "qty",
        "side",
        "cost_basis",
    ] {
        let mut j = position_json();
        j.as_object_mut().unwrap().remove(field);
        let e = decode::<Vec<Position>>(
            "GET /v2/positions",
            serde_json::json!([j]).to_string().as_bytes(),
        )
        .unwrap_err();
        assert!(
            e.contains("[0]") && e.contains(&format!("`{field}`")),
            "{field}: {e}"
        );
    }
}

#[test]
fn the_account_and_the_clock_read_strictly() {
    let a: Account = decode(
        "GET /v2/account",
        br#"{"id":"acc-1","account_number":"PA3AB","status":"ACTIVE","cash":"100000","trading_blocked":false,"crypto_status":"ACTIVE"}"#,
    )
    .unwrap();
    assert_eq!(
        (a.status, a.cash.map(|c| c.0)),
        (AccountStatus::Active, Some(Decimal::from(100_000)))
    );
    let e =
        decode::<Account>("GET /v2/account", br#"{"id":"acc-1","status":"ACTIVE"}"#).unwrap_err();
    assert!(e.contains("account_number"), "{e}");
    let c: Clock = decode(
        "GET /v2/clock",
        br#"{"timestamp":"2024-05-08T10:37:36.123456789-04:00","is_open":true,"next_open":"2024-05-09T09:30:00-04:00","next_close":"2024-05-08T16:00:00-04:00"}"#,
    )
    .unwrap();
    assert_eq!(c.timestamp.0.to_string(), "2024-05-08T14:37:36.123Z");
}

#[test]
fn an_order_request_is_the_contracts_with_decimals_as_strings() {
    let o = order_of(&order_json())
        .unwrap()
        .to_venue("x")
        .unwrap()
        .order;
    let body = serde_json::to_value(OrderRequest::of(&o)).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"symbol":"AAPL","qty":"10","side":"buy","type":"limit","time_in_force":"day","limit_price":"134","client_order_id":"bl-7-1"})
    );
}

#[test]
fn an_error_body_is_read_leniently() {
    assert_eq!(ErrorBody::read(br#"{"message":"unauthorized"}"#).code, None);
    assert_eq!(
        ErrorBody::read(br#"{"code":40010001,"message":"client_order_id must be unique"}"#).code,
        Some(40_010_001)
    );
    assert_eq!(
        ErrorBody::read(b"<html>bad gateway</html>").message,
        "<html>bad gateway</html>"
    );
}
