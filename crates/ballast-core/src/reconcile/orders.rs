//! The orders' part of the diff: fills Ballast missed, orders the venue reports terminal,
//! lookups before an order is declared missing, partial fills that cannot be resolved, and
//! open orders Ballast does not own.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use super::words;
use super::{Choice, Cycle, Diff, Finding, FindingKind, VenueAnswers, VenueSettle};
use crate::broker::VenueOrder;
use crate::domain::{ClientOrderId, Fill, FillId, Notional, Price, Quantity};
use crate::engine::{OrderTrack, SendState};
use crate::limits::MAX_DECIMAL_PLACES;

/// The latest report of each order the venue listed: the orders changed since the cursor,
/// the open ones and the lookups' answers (the failed queries contribute nothing). Of two
/// reports of one order the later change wins, then the larger filled quantity.
pub(super) fn reports(venue: &VenueAnswers) -> BTreeMap<ClientOrderId, &VenueOrder> {
    let mut latest: BTreeMap<ClientOrderId, &VenueOrder> = BTreeMap::new();
    let listed = venue
        .changed
        .iter()
        .flatten()
        .chain(venue.open_orders.iter().flatten())
        .chain(
            venue
                .lookups
                .values()
                .filter_map(|a| a.as_ref().ok()?.as_ref()),
        );
    for o in listed {
        let id = &o.order.client_order_id;
        let newer = latest
            .get(id)
            .is_none_or(|seen| (o.updated_at, o.filled_qty) > (seen.updated_at, seen.filled_qty));
        if newer {
            latest.insert(id.clone(), o);
        }
    }
    latest
}

/// Judge every order: Ballast's against their reports (fills, settles, partial fills), the
/// accepted ones not reported (lookups, missing orders), and the open ones not Ballast's.
pub(super) fn judge(c: &Cycle<'_>, d: &mut Diff) {
    for (id, o) in c.reports {
        if let Some(t) = c.state.orders.tracked.get(id) {
            ours(c, t, o, d);
        }
    }
    unlisted(c, d);
    foreign(c, d);
    for (name, answer) in [
        ("orders changed since the cursor", &c.venue.changed),
        ("open orders", &c.venue.open_orders),
    ] {
        if let Err(e) = answer {
            d.unanswered.push(format!(
                "{name}: {e} (what they would show is not judged: never read as none)"
            ));
        }
    }
    for (id, answer) in &c.venue.lookups {
        if let Err(e) = answer {
            d.unanswered.push(format!(
                "lookup of order {id}: {e} (it stays in flight and is looked up again)"
            ));
        }
    }
}

/// An order Ballast owns, as the venue reports it.
fn ours(c: &Cycle<'_>, t: &OrderTrack, o: &VenueOrder, d: &mut Diff) {
    let (mine, theirs) = (&t.order, &o.order);
    if (mine.symbol, mine.side, mine.qty) != (theirs.symbol, theirs.side, theirs.qty) {
        // Another order under Ballast's id (a journal started over on this account): none
        // of its fills or states are Ballast's.
        d.findings.push(not_this_order(t, o));
        return;
    }
    let resolved = if o.filled_qty > t.filled {
        match missed_fill(t, o) {
            Ok(fill) => {
                d.fills.push(fill);
                true
            }
            Err(why) => {
                if !c.fresh(o) {
                    d.findings.push(partial_fill(t, o, &why));
                }
                false
            }
        }
    } else if o.filled_qty < t.filled {
        if !c.fresh(o) {
            let why = format!(
                "the broker reports less filled than Ballast booked ({} < {})",
                words::qty(o.filled_qty),
                words::qty(t.filled)
            );
            d.findings.push(partial_fill(t, o, &why));
        }
        false
    } else {
        true
    };
    // Terminal from the venue's word, once every fill it reports is booked.
    if resolved && o.status.is_terminal() {
        d.settles.push(VenueSettle {
            client_order_id: t.order.client_order_id.clone(),
            status: o.status.clone(),
            filled_qty: o.filled_qty,
        });
    }
}

/// The fill Ballast missed: what the venue filled beyond what Ballast booked, priced so that
/// the order's fills average the venue's average price exactly (to the tenth decimal).
pub(super) fn missed_fill(t: &OrderTrack, o: &VenueOrder) -> Result<Fill, String> {
    let ordered = t.order.qty.value();
    if o.filled_qty > ordered {
        return Err(format!(
            "the broker reports {} filled, more than the order's {} (an overfill is never booked)",
            words::qty(o.filled_qty),
            words::qty(ordered)
        ));
    }
    let Some(avg) = o.filled_avg_price.filter(|p| *p > Decimal::ZERO) else {
        return Err(format!(
            "the broker reports {} filled without an average fill price: the fill cannot be priced",
            words::qty(o.filled_qty)
        ));
    };
    let delta = o.filled_qty - t.filled;
    // A track booked before `filled_value` was kept has none: its missed part is priced at
    // the venue's average.
    let booked_value = if t.filled_value.is_zero() {
        avg.checked_mul(t.filled)
    } else {
        Some(t.filled_value)
    };
    let price = avg
        .checked_mul(o.filled_qty)
        .zip(booked_value)
        .and_then(|(all, booked)| all.checked_sub(booked))
        .and_then(|rest| rest.checked_div(delta))
        .map(|p| p.round_dp(MAX_DECIMAL_PLACES))
        .ok_or_else(|| {
            format!(
                "the broker's average price {avg} for {} filled is out of range",
                words::qty(o.filled_qty)
            )
        })?;
    let price = Price::new(price).map_err(|_| {
        format!(
            "the broker's average price {avg} for {} filled leaves {} for the part Ballast did not book (not a price)",
            words::qty(o.filled_qty),
            price.normalize()
        )
    })?;
    let qty = Quantity::new(delta).map_err(|e| format!("the missed quantity: {e}"))?;
    Ok(Fill {
        fill_id: fill_id(&o.venue_id, o.filled_qty)?,
        client_order_id: t.order.client_order_id.clone(),
        symbol: t.order.symbol,
        side: t.order.side,
        qty,
        price,
        fee: Notional::ZERO,
        ts: o.updated_at,
    })
}

/// `<venue order id>@<cumulative filled quantity>` (a venue id that cannot be part of a fill
/// id — too long, or characters outside the id alphabet — is replaced by its FNV-1a hash:
/// still deterministic).
pub(super) fn fill_id(venue_id: &str, filled: Decimal) -> Result<FillId, String> {
    let qty = filled.normalize();
    FillId::parse(&format!("{venue_id}@{qty}"))
        .or_else(|_| {
            let h = crate::hash::fnv1a(venue_id.bytes());
            FillId::parse(&format!("v{h:016x}@{qty}"))
        })
        .map_err(|e| format!("no fill id can be made of the broker's order id: {e}"))
}

fn not_this_order(t: &OrderTrack, o: &VenueOrder) -> Finding {
    let id = &t.order.client_order_id;
    foreign_order(
        o,
        format!("Ballast's order {id} is {}", words::order(&t.order)),
        format!(
            "the broker's order {} under client_order_id {id} is another one ({}; {} filled, status {}): was a journal started over on this account?",
            o.venue_id,
            words::order(&o.order),
            words::qty(o.filled_qty),
            o.status
        ),
        Some(id.clone()),
        vec![Choice::StayHalted],
    )
}

/// A finding about the venue's order `o`, which is not Ballast's.
fn foreign_order(
    o: &VenueOrder,
    ours: String,
    theirs: String,
    client_order_id: Option<ClientOrderId>,
    choices: Vec<Choice>,
) -> Finding {
    Finding {
        id: format!("{}:{}", FindingKind::ForeignOrder.as_str(), o.venue_id),
        kind: FindingKind::ForeignOrder,
        symbol: Some(o.order.symbol),
        ours,
        theirs,
        local_qty: None,
        venue_qty: None,
        venue_avg_price: None,
        venue_order: Some(o.venue_id.clone()),
        client_order_id,
        explaining: Vec::new(),
        choices,
    }
}

fn partial_fill(t: &OrderTrack, o: &VenueOrder, why: &str) -> Finding {
    Finding {
        id: format!(
            "{}:{}",
            FindingKind::UnresolvedPartialFill.as_str(),
            o.venue_id
        ),
        kind: FindingKind::UnresolvedPartialFill,
        symbol: Some(t.order.symbol),
        ours: format!(
            "Ballast booked {} of {} filled for its order {} ({})",
            words::qty(t.filled),
            words::qty(t.order.qty.value()),
            t.order.client_order_id,
            words::order(&t.order)
        ),
        theirs: format!(
            "the broker reports {} filled{} (status {}): {why}",
            words::qty(o.filled_qty),
            o.filled_avg_price
                .map_or(String::new(), |p| format!(" at avg {p}")),
            o.status
        ),
        local_qty: Some(t.filled),
        venue_qty: Some(o.filled_qty),
        venue_avg_price: o.filled_avg_price,
        venue_order: Some(o.venue_id.clone()),
        client_order_id: Some(t.order.client_order_id.clone()),
        explaining: Vec::new(),
        choices: vec![Choice::Adopt, Choice::StayHalted],
    }
}

/// Accepted orders of Ballast's that no list of the venue shows: looked up first (at most
/// `max_lookups`, oldest first); one whose lookup found nothing is a finding. Nothing is
/// concluded while the open orders are unanswered; an order whose send is unknown is the
/// engine's own lookup path (`order.settle`).
fn unlisted(c: &Cycle<'_>, d: &mut Diff) {
    if c.venue.open_orders.is_err() {
        return;
    }
    let mut ask: Vec<&OrderTrack> = Vec::new();
    for (id, t) in &c.state.orders.tracked {
        if t.send != SendState::Accepted || c.reports.contains_key(id) {
            continue;
        }
        match c.venue.lookups.get(id) {
            Some(Ok(None)) => d.findings.push(missing(t)),
            _ => ask.push(t),
        }
    }
    ask.sort_by(|a, b| {
        (a.order.created_at, &a.order.client_order_id)
            .cmp(&(b.order.created_at, &b.order.client_order_id))
    });
    d.lookups.extend(
        ask.into_iter()
            .take(c.rules.max_lookups)
            .map(|t| t.order.client_order_id.clone()),
    );
}

fn missing(t: &OrderTrack) -> Finding {
    let id = &t.order.client_order_id;
    Finding {
        id: format!("{}:{id}", FindingKind::MissingOrder.as_str()),
        kind: FindingKind::MissingOrder,
        symbol: Some(t.order.symbol),
        ours: format!(
            "the broker accepted Ballast's order {id} ({}; {} filled)",
            words::order(&t.order),
            words::qty(t.filled)
        ),
        theirs: format!(
            "the broker does not know client_order_id {id} (its lookup found nothing; never read as rejected)"
        ),
        local_qty: None,
        venue_qty: None,
        venue_avg_price: None,
        venue_order: None,
        client_order_id: Some(id.clone()),
        explaining: Vec::new(),
        choices: vec![Choice::StayHalted, Choice::Adopt],
    }
}

/// Open orders at the venue that Ballast does not track (changed within the grace window:
/// not yet — the report may be racing Ballast's own record of the order).
fn foreign(c: &Cycle<'_>, d: &mut Diff) {
    let Ok(open) = &c.venue.open_orders else {
        return;
    };
    for o in open {
        if c.state
            .orders
            .tracked
            .contains_key(&o.order.client_order_id)
            || c.fresh(o)
        {
            continue;
        }
        d.findings.push(foreign_order(
            o,
            words::not_ours(&o.order.client_order_id),
            format!(
                "the broker has an open order {} ({}; {} filled, status {})",
                o.venue_id,
                words::order(&o.order),
                words::qty(o.filled_qty),
                o.status
            ),
            None,
            vec![Choice::Adopt, Choice::StayHalted],
        ));
    }
}
