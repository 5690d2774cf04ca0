//! `ballast status`'s trading part: the engine's own state from its heartbeat — the chaos
//! modes it injects first, then account, exposure, positions, open orders, decisions.

use super::out;

/// The trading, from the engine's own state (its heartbeat): account, exposure against the
/// cap, positions, open orders, the last decisions.
pub fn print_trading(hb: &ballast_engine::heartbeat::Heartbeat) {
    if !hb.chaos.is_empty() {
        out!(
            "\nCHAOS: the engine injects faults on purpose: modes {} (paper only; docs/CHAOS.md)",
            ballast_core::chaos::names(&hb.chaos)
        );
    }
    use ballast_core::Clock;
    let v = &hb.view;
    let age_ms = ballast_store::SystemClock.now().ms_since(hb.time);
    out!(
        "\ntrading (the engine's state {}{}{}): equity {} cash {} day PnL {} realized {} fees {}",
        ballast_core::health::age_said(age_ms, "ago"),
        v.market_time
            .map(|t| format!(", market time {t}"))
            .unwrap_or_default(),
        match hb.status.feed {
            ballast_core::market::fallback::FeedSource::Primary => "",
            ballast_core::market::fallback::FeedSource::Backup => {
                ", on the BACKUP feed: the primary is stale"
            }
        },
        format!("{:.2}", v.equity),
        format!("{:.2}", v.cash),
        signed(v.day_pnl),
        signed(v.realized_pnl),
        format!("{:.2}", v.fees)
    );
    out!(
        "exposure {:.2} = {} % of equity (cap {} %){}",
        v.gross_exposure,
        v.exposure_pct,
        v.exposure_cap_pct,
        if v.exposure_pct > v.exposure_cap_pct {
            ": ABOVE THE CAP, auto-trim reduces it"
        } else {
            ""
        }
    );
    if v.positions.is_empty() {
        out!("no positions");
    } else {
        out!(
            "{:<10} {:>12} {:>12} {:>12} {:>14} {:>14}",
            "POSITION",
            "QTY",
            "AVG PRICE",
            "MARK",
            "VALUE",
            "UNREALIZED"
        );
        for p in &v.positions {
            out!(
                "{:<10} {:>12} {:>12} {:>12} {:>14} {:>14}",
                p.symbol,
                p.qty.normalize().to_string(),
                p.avg_price.normalize().to_string(),
                p.mark.map_or("-".into(), |m| m.normalize().to_string()),
                format!("{:.2}", p.market_value),
                signed(p.unrealized_pnl)
            );
        }
        if v.positions_total > v.positions.len() {
            out!(
                "… and {} smaller position(s)",
                v.positions_total - v.positions.len()
            );
        }
    }
    if v.open_orders.is_empty() {
        out!("no open orders");
    } else {
        out!("open orders:");
        for o in &v.open_orders {
            out!(
                "  {} {} {} {} ({} filled), {}, {}",
                o.client_order_id,
                o.side,
                o.qty.normalize(),
                o.symbol,
                o.filled.normalize(),
                o.kind,
                o.state
            );
        }
        if v.open_orders_total > v.open_orders.len() {
            out!("  … and {} more", v.open_orders_total - v.open_orders.len());
        }
    }
    if !v.decisions.is_empty() {
        out!("last decisions:");
        for d in &v.decisions {
            out!(
                "  {} {}{} {} -> {}{}",
                d.at,
                d.side.map(|s| format!("{s} ")).unwrap_or_default(),
                d.requested_qty.normalize(),
                d.symbol,
                d.outcome,
                d.reasons
                    .first()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            );
        }
    }
}

/// A signed amount: `+12.50`, `-3.10`, `0`.
fn signed(x: rust_decimal::Decimal) -> String {
    if x > rust_decimal::Decimal::ZERO {
        format!("+{x:.2}")
    } else {
        format!("{x:.2}")
    }
}
