//! The ledger invariants after a scenario, the data-dir side: the engine journal read with the
//! store's own scan, the broker asked (the fake's per-`client_order_id` counts, its
//! positions), `ballast journal verify` run. What is compared is pure ([`compare`]); reading
//! is here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use ballast_core::engine::{InboxOutcome, InboxRecord, TakenRecord, VenueFillsRecord};
use ballast_store::RealStorage;
use ballast_store::record::RecordRef;
use rust_decimal::Decimal;
use serde::Deserialize;

use super::instance::Instance;

/// At most this many engine records are read (a scenario writes a few thousand).
pub const MAX_RECORDS: usize = 2_000_000;

/// `(seq, type, body)` of the engine journal's valid records, and the scan's error if its
/// end is not clean.
pub fn engine_records(data: &Path) -> (Vec<(u64, String, String)>, Option<String>) {
    let mut out = Vec::new();
    let dir = ballast_store::Layout::new(data).engine_journal();
    let scan = ballast_store::journal::scan(&RealStorage, &dir, &mut |r: &RecordRef<'_>| {
        if out.len() < MAX_RECORDS {
            out.push((r.seq, r.kind.to_string(), r.body.get().to_owned()));
        }
        Ok(())
    });
    (out, scan.err().map(|e| e.to_string()))
}

/// What the journal says, reduced to what the invariants compare.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Booked {
    /// Idempotency keys of the signals the engine took (inbox lines accepted, HTTP signals
    /// taken).
    pub taken_keys: BTreeSet<String>,
    /// The net position per symbol from the fills booked (each fill id once).
    pub positions: BTreeMap<String, Decimal>,
    /// Fill ids booked more than once.
    pub fills_twice: Vec<String>,
}

/// Fold the engine records into [`Booked`] (a record that does not parse is skipped: the
/// journal verify says whether the journal is sound).
pub fn booked(records: &[(u64, String, String)]) -> Booked {
    let mut b = Booked::default();
    let mut seen = BTreeSet::new();
    for (_, kind, body) in records {
        match kind.as_str() {
            "inbox.line" => {
                if let Ok(InboxRecord {
                    outcome: InboxOutcome::Accepted { signal },
                    ..
                }) = serde_json::from_str(body)
                    && let Some(k) = signal.idempotency_key
                {
                    b.taken_keys.insert(k);
                }
            }
            "signals.taken" => {
                if let Ok(t) = serde_json::from_str::<TakenRecord>(body) {
                    b.taken_keys.extend(
                        t.signals
                            .into_iter()
                            .filter_map(|s| s.signal.and_then(|s| s.idempotency_key)),
                    );
                }
            }
            "venue.fills" => {
                if let Ok(r) = serde_json::from_str::<VenueFillsRecord>(body) {
                    for f in r.fills {
                        if !seen.insert(f.fill_id.to_string()) {
                            b.fills_twice.push(f.fill_id.to_string());
                            continue;
                        }
                        *b.positions.entry(f.symbol.to_string()).or_default() += f.signed_qty();
                    }
                }
            }
            _ => {}
        }
    }
    b.positions.retain(|_, q| !q.is_zero());
    b
}

/// What the broker says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AtBroker {
    /// Orders created per `client_order_id`.
    pub created: BTreeMap<String, u32>,
    /// Non-zero positions by symbol.
    pub positions: BTreeMap<String, Decimal>,
}

/// The ledger invariants, compared purely: every acknowledged signal taken (`must_take`:
/// the instance ran on after the fault) or at least kept (`kept`: in the inbox file or the
/// signals journal), no `client_order_id` created twice at the broker, no fill booked twice,
/// the journal's positions (the sum of its fills) the broker's. Each breach in words.
pub fn compare(
    acked: &[String],
    must_take: bool,
    kept: &dyn Fn(&str) -> bool,
    booked: &Booked,
    broker: &AtBroker,
) -> Vec<String> {
    let mut out = Vec::new();
    let lost: Vec<&String> = acked
        .iter()
        .filter(|k| !booked.taken_keys.contains(*k) && (must_take || !kept(k)))
        .collect();
    if !lost.is_empty() {
        out.push(format!(
            "{} acknowledged signal(s) not in the journal: {}",
            lost.len(),
            first(&lost)
        ));
    }
    let dup: Vec<String> = broker
        .created
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(id, n)| format!("{id} ×{n}"))
        .collect();
    if !dup.is_empty() {
        out.push(format!(
            "{} client_order_id(s) created more than once at the broker: {}",
            dup.len(),
            first(&dup)
        ));
    }
    if !booked.fills_twice.is_empty() {
        out.push(format!(
            "{} fill(s) booked twice: {}",
            booked.fills_twice.len(),
            first(&booked.fills_twice)
        ));
    }
    if booked.positions != broker.positions {
        out.push(format!(
            "the journal's positions (the sum of its fills) {} are not the broker's {}",
            said(&booked.positions),
            said(&broker.positions)
        ));
    }
    out
}

fn first<T: std::fmt::Display>(items: &[T]) -> String {
    let mut s: Vec<String> = items.iter().take(5).map(ToString::to_string).collect();
    if items.len() > 5 {
        s.push(format!("and {} more", items.len() - 5));
    }
    s.join(", ")
}

fn said(p: &BTreeMap<String, Decimal>) -> String {
    if p.is_empty() {
        return "{flat}".into();
    }
    let parts: Vec<String> = p
        .iter()
        .map(|(s, q)| format!("{s} {}", q.normalize()))
        .collect();
    format!("{{{}}}", parts.join(", "))
}

/// The pure ledger checker ([`ballast_core::ledger::check`]) over the engine journal of
/// `data`, from the initial state of the configuration `config` (the replay's final state is
/// checked: the engine's own is gone with its process). Each violation in words.
pub fn core_invariants(data: &Path, config: &Path) -> Vec<String> {
    use ballast_core::engine::{EngineRecord, EngineState};
    let cfg = match crate::settings::load_explained(Some(config)) {
        Ok((cfg, _)) => cfg,
        Err(e) => {
            return vec![format!(
                "the instance's configuration {} does not load: {e}",
                config.display()
            )];
        }
    };
    let (raw, scan_error) = engine_records(data);
    let mut out: Vec<String> = scan_error
        .map(|e| format!("the engine journal does not scan to its end: {e}"))
        .into_iter()
        .collect();
    let mut records = Vec::with_capacity(raw.len());
    for (seq, kind, body) in &raw {
        match EngineRecord::decode(kind, body) {
            Ok(r) => records.push((*seq, r)),
            Err(e) => out.push(format!("journal record {seq}: {e}")),
        }
    }
    let limits = ballast_core::guard::Limits::from(&cfg);
    let initial = EngineState::new(&cfg);
    let report = ballast_core::ledger::check(&ballast_core::ledger::Input {
        records: &records,
        initial: &initial,
        limits: &limits,
        produced: None,
    });
    out.extend(report.violations.iter().map(ToString::to_string));
    if report.left_off > 0 {
        out.push(format!(
            "and {} more violation(s), not listed",
            report.left_off
        ));
    }
    out
}

#[derive(Deserialize)]
struct Counts {
    counts: Vec<Count>,
}

#[derive(Deserialize)]
struct Count {
    client_order_id: String,
    orders_created: u32,
}

/// Orders created per `client_order_id` at the fake (`GET /_fake/counts`).
pub fn broker_counts(inst: &Instance) -> Result<BTreeMap<String, u32>, String> {
    let a = inst.fake("GET", "/_fake/counts", "")?;
    let c: Counts = serde_json::from_str(&a.body)
        .map_err(|e| format!("the fake's /_fake/counts answer does not parse: {e}"))?;
    Ok(c.counts
        .into_iter()
        .map(|c| (c.client_order_id, c.orders_created))
        .collect())
}

/// The total of orders the fake created.
pub fn orders_created(inst: &Instance) -> Result<u64, String> {
    Ok(broker_counts(inst)?.values().map(|n| u64::from(*n)).sum())
}

/// The fake's non-zero positions, asked over its trading API with Ballast's own adapter.
pub fn broker_positions(inst: &Instance) -> Result<BTreeMap<String, Decimal>, String> {
    use ballast_core::broker::Broker;
    let url = format!("http://{}", inst.fake_addr);
    let creds = ballast_alpaca::secrets::Credentials::new(
        ballast_fake_alpaca::DEMO_KEY_ID,
        ballast_fake_alpaca::DEMO_SECRET_KEY,
    )?;
    let settings = ballast_alpaca::client::AlpacaSettings::new(&url, &url, creds, false);
    let mut b =
        ballast_alpaca::broker::AlpacaBroker::new(settings, Arc::new(ballast_store::SystemClock))?;
    let positions = b
        .positions()
        .map_err(|e| format!("the broker's positions could not be read: {e}"))?;
    Ok(positions
        .into_iter()
        .filter(|p| !p.qty.is_zero())
        .map(|p| (p.symbol.to_string(), p.qty))
        .collect())
}

/// Whether the idempotency key `key` is kept on disk although not taken: a line of the inbox
/// file or a record of the signals journal names it.
pub fn kept_on_disk(data: &Path, key: &str) -> bool {
    let layout = ballast_store::Layout::new(data);
    let needle = format!("\"{key}\"");
    let inbox = layout.inbox().join("signals.jsonl");
    if std::fs::read_to_string(inbox).is_ok_and(|t| t.contains(&needle)) {
        return true;
    }
    let mut found = false;
    let _ = ballast_store::journal::scan(
        &RealStorage,
        &layout.signals_journal(),
        &mut |r: &RecordRef<'_>| {
            found |= r.body.get().contains(&needle);
            Ok(())
        },
    );
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn each_invariant_breaks_alone() {
        let mut booked = Booked::default();
        booked.taken_keys.insert("a".into());
        booked.positions.insert("MSFT".into(), dec("2"));
        let mut broker = AtBroker::default();
        broker.created.insert("e-1".into(), 1);
        broker.positions.insert("MSFT".into(), dec("2"));
        let acked = ["a".to_owned(), "b".to_owned()];
        let kept_b = |k: &str| k == "b";
        let never = |_: &str| false;
        assert!(compare(&acked, false, &kept_b, &booked, &broker).is_empty());
        let lost = compare(&acked, true, &kept_b, &booked, &broker);
        assert_eq!(lost.len(), 1);
        assert!(lost[0].contains("1 acknowledged signal(s)") && lost[0].contains('b'));
        assert_eq!(compare(&acked, false, &never, &booked, &broker).len(), 1);
        broker.created.insert("e-2".into(), 2);
        let dup = compare(&acked[..1], true, &never, &booked, &broker);
        assert_eq!(
            dup,
            ["1 client_order_id(s) created more than once at the broker: e-2 ×2"]
        );
        broker.created.insert("e-2".into(), 1);
        broker.positions.insert("MSFT".into(), dec("3"));
        let pos = compare(&acked[..1], true, &never, &booked, &broker);
        assert_eq!(
            pos,
            [
                "the journal's positions (the sum of its fills) {MSFT 2} are not the broker's {MSFT 3}"
            ]
        );
    }
}
