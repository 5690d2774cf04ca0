//! What an operator's choice was made on: the finding's quantities and venue order as the
//! operator saw them. A choice is bound to them, not only to the finding's id (which stays the
//! same while the broker's position moves): the engine refuses a choice whose finding changed
//! since ([`changed_since`]) — adopting "broker has 3" must never book the 40 the broker holds
//! now. Carried by the choice file, the control request, the API body and, as a digest
//! ([`Seen::digest`]), by a `resolve_finding` recommendation's target.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::Finding;

/// A finding's quantities and venue order, as the operator saw them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Seen {
    /// What Ballast held (absent: the finding is not about a position).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_qty: Option<Decimal>,
    /// What the broker held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub venue_qty: Option<Decimal>,
    /// The venue's order the finding is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub venue_order: Option<String>,
}

impl Seen {
    /// What `f` shows.
    pub fn of(f: &Finding) -> Seen {
        Seen {
            local_qty: f.local_qty,
            venue_qty: f.venue_qty,
            venue_order: f.venue_order.clone(),
        }
    }

    /// A short stable digest (16 hex digits, FNV-1a over the normalized quantities and the
    /// order id): equal for equal quantities (`3` and `3.0`), different when one moves.
    pub fn digest(&self) -> String {
        let text = format!(
            "{}|{}|{}",
            qty(self.local_qty),
            qty(self.venue_qty),
            self.venue_order.as_deref().unwrap_or("-")
        );
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in text.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        format!("{h:016x}")
    }
}

fn qty(q: Option<Decimal>) -> String {
    q.map_or_else(|| "none".to_owned(), |q| q.normalize().to_string())
}

/// How the finding `now` differs from what the choice was made on, in words (`None`: it is
/// the same). Quantities compare by value (`3` equals `3.00`).
pub fn changed_since(seen: &Seen, now: &Finding) -> Option<String> {
    let symbol = now.symbol.map_or_else(String::new, |s| format!(" {s}"));
    let mut said = Vec::new();
    if seen.venue_qty != now.venue_qty {
        said.push(format!(
            "broker now {}{symbol}, the choice was made on {}",
            qty(now.venue_qty),
            qty(seen.venue_qty)
        ));
    }
    if seen.local_qty != now.local_qty {
        said.push(format!(
            "Ballast now {}{symbol}, the choice was made on {}",
            qty(now.local_qty),
            qty(seen.local_qty)
        ));
    }
    if seen.venue_order != now.venue_order {
        said.push(format!(
            "the broker's order now {}, the choice was made on {}",
            now.venue_order.as_deref().unwrap_or("none"),
            seen.venue_order.as_deref().unwrap_or("none")
        ));
    }
    if said.is_empty() {
        return None;
    }
    Some(format!(
        "the finding changed since the choice: {} — look again with `ballast reconcile`",
        said.join("; ")
    ))
}
