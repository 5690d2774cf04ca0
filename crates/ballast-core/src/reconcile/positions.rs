//! The positions' part of the diff: each symbol the venue reports (or Ballast holds) judged
//! after this cycle's fills are counted — duplicates and invalid reports first, then the
//! quantity against Ballast's.

use std::collections::{BTreeMap, BTreeSet};

use rust_decimal::Decimal;

use super::words;
use super::{Choice, Cycle, Diff, Finding, FindingKind};
use crate::broker::{PositionSide, VenuePosition};
use crate::domain::Symbol;

pub(super) fn judge(c: &Cycle<'_>, d: &mut Diff) {
    let positions = match &c.venue.positions {
        Ok(p) => p,
        Err(e) => {
            d.unanswered.push(format!(
                "positions: {e} (no position is judged: a failed query is never read as flat)"
            ));
            return;
        }
    };
    let mut by_symbol: BTreeMap<Symbol, Vec<&VenuePosition>> = BTreeMap::new();
    for p in positions {
        by_symbol.entry(p.symbol).or_default().push(p);
    }
    // This cycle's fills, signed, by symbol: a position is judged after them.
    let mut fills: BTreeMap<Symbol, Decimal> = BTreeMap::new();
    for f in &d.fills {
        *fills.entry(f.symbol).or_default() += f.signed_qty();
    }
    let mut found = Vec::new();
    for (symbol, list) in &by_symbol {
        let expected =
            c.state.portfolio.qty(symbol) + fills.get(symbol).copied().unwrap_or_default();
        match list.as_slice() {
            [p] => match invalid(p) {
                Some(why) => found.push(invalid_position(p, expected, &why)),
                None => found.extend(compare(
                    c,
                    d,
                    &fills,
                    *symbol,
                    p.qty,
                    Some(p.avg_entry_price),
                )),
            },
            _ => found.push(duplicate(*symbol, expected, list)),
        }
    }
    // Ballast's positions (after this cycle's fills) the venue does not list: it holds none.
    let ours: BTreeSet<Symbol> = c
        .state
        .portfolio
        .positions()
        .map(|p| p.symbol)
        .chain(fills.keys().copied())
        .filter(|s| !by_symbol.contains_key(s))
        .collect();
    for symbol in ours {
        found.extend(compare(c, d, &fills, symbol, Decimal::ZERO, None));
    }
    d.findings.extend(found);
}

/// Why a reported position cannot be right, if it cannot.
fn invalid(p: &VenuePosition) -> Option<String> {
    if p.qty.is_zero() {
        return Some("its size is 0".into());
    }
    if p.avg_entry_price <= Decimal::ZERO {
        return Some(format!(
            "its entry price {} is not above 0",
            p.avg_entry_price
        ));
    }
    let short = p.qty.is_sign_negative();
    match p.side {
        PositionSide::Long if short => Some(format!(
            "its side long contradicts its quantity {}",
            words::qty(p.qty)
        )),
        PositionSide::Short if !short => Some(format!(
            "its side short contradicts its quantity {}",
            words::qty(p.qty)
        )),
        _ => None,
    }
}

fn side(s: PositionSide) -> &'static str {
    match s {
        PositionSide::Long => "long",
        PositionSide::Short => "short",
    }
}

fn invalid_position(p: &VenuePosition, expected: Decimal, why: &str) -> Finding {
    Finding {
        id: format!("{}:{}", FindingKind::InvalidPosition.as_str(), p.symbol),
        kind: FindingKind::InvalidPosition,
        symbol: Some(p.symbol),
        ours: words::holds("Ballast", expected, &p.symbol, None),
        theirs: format!(
            "the broker reports a {} position of {} {} (avg {}): {why}",
            side(p.side),
            words::qty(p.qty),
            p.symbol,
            p.avg_entry_price
        ),
        local_qty: Some(expected),
        venue_qty: Some(p.qty),
        venue_avg_price: Some(p.avg_entry_price),
        venue_order: None,
        client_order_id: None,
        explaining: Vec::new(),
        choices: vec![Choice::StayHalted],
    }
}

fn duplicate(symbol: Symbol, expected: Decimal, list: &[&VenuePosition]) -> Finding {
    let each: Vec<String> = list
        .iter()
        .map(|p| {
            format!(
                "{} {} (avg {})",
                side(p.side),
                words::qty(p.qty),
                p.avg_entry_price
            )
        })
        .collect();
    Finding {
        id: format!("{}:{symbol}", FindingKind::DuplicatePosition.as_str()),
        kind: FindingKind::DuplicatePosition,
        symbol: Some(symbol),
        ours: words::holds("Ballast", expected, &symbol, None),
        theirs: format!(
            "the broker reports {symbol} {} times: {}",
            list.len(),
            each.join(", ")
        ),
        local_qty: Some(expected),
        venue_qty: None,
        venue_avg_price: None,
        venue_order: None,
        client_order_id: None,
        explaining: Vec::new(),
        choices: vec![Choice::StayHalted],
    }
}

/// The venue's quantity in `symbol` against Ballast's after this cycle's fills: equal, not
/// judged yet (an order of Ballast's in it is being filled right now), or a finding.
fn compare(
    c: &Cycle<'_>,
    d: &Diff,
    fills: &BTreeMap<Symbol, Decimal>,
    symbol: Symbol,
    venue_qty: Decimal,
    avg: Option<Decimal>,
) -> Option<Finding> {
    let state = c.state;
    let expected = state.portfolio.qty(&symbol) + fills.get(&symbol).copied().unwrap_or_default();
    if expected == venue_qty {
        return None;
    }
    let filling_now = c.reports.values().any(|o| {
        o.order.symbol == symbol
            && state.orders.tracked.contains_key(&o.order.client_order_id)
            && c.fresh(o)
    });
    if filling_now {
        return None;
    }
    let traded = state.portfolio.position(&symbol).is_some()
        || fills.contains_key(&symbol)
        || state
            .orders
            .tracked
            .values()
            .any(|t| t.order.symbol == symbol);
    let kind = if traded {
        FindingKind::QuantityMismatch
    } else {
        FindingKind::UnknownPosition
    };
    let ours = if traded {
        words::holds("Ballast", expected, &symbol, None)
    } else {
        format!("Ballast never traded {symbol}")
    };
    let mut choices = vec![Choice::Adopt];
    if !venue_qty.is_zero() {
        choices.push(Choice::Flatten);
    }
    choices.push(Choice::StayHalted);
    Some(Finding {
        id: format!("{}:{symbol}", kind.as_str()),
        kind,
        symbol: Some(symbol),
        ours,
        theirs: words::holds("the broker", venue_qty, &symbol, avg),
        local_qty: Some(expected),
        venue_qty: Some(venue_qty),
        venue_avg_price: avg.filter(|_| !venue_qty.is_zero()),
        venue_order: None,
        client_order_id: None,
        explaining: explaining(c, d, symbol),
        choices,
    })
}

/// The fills seen that would explain a difference in `symbol`: orders Ballast does not own
/// that filled, and Ballast's own fills that could not be booked.
fn explaining(c: &Cycle<'_>, d: &Diff, symbol: Symbol) -> Vec<String> {
    let foreign = c
        .reports
        .values()
        .filter(|o| {
            o.order.symbol == symbol
                && o.filled_qty > Decimal::ZERO
                && !c
                    .state
                    .orders
                    .tracked
                    .contains_key(&o.order.client_order_id)
        })
        .map(|o| words::foreign_fill(o));
    let unbooked = d
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::UnresolvedPartialFill && f.symbol == Some(symbol))
        .map(|f| {
            format!(
                "Ballast's order {}: {}",
                f.client_order_id.as_ref().map_or("?", |id| id.as_str()),
                f.theirs
            )
        });
    let mut all: Vec<String> = foreign.chain(unbooked).collect();
    if all.len() > super::MAX_EXPLAINING {
        let more = all.len() - super::MAX_EXPLAINING;
        all.truncate(super::MAX_EXPLAINING);
        all.push(format!("and {more} more"));
    }
    all
}
