//! A data directory whose engine journal has a startup reconciliation with two dangerous
//! findings (issue 14): the broker holds 15 AAPL where Ballast holds none (adopt, flatten or
//! stay), and an open order in MSFT that Ballast did not place (adopt or stay).

use std::path::Path;
use std::sync::Arc;

use serde_json::{Value, json};

fn finding(kind: &str, id: &str, symbol: &str, choices: &[&str], extra: Value) -> Value {
    let mut f = json!({
        "id": id, "kind": kind, "symbol": symbol,
        "ours": format!("Ballast holds no {symbol}"),
        "theirs": format!("the broker holds 15 {symbol} (avg 100)"),
        "explaining": [], "choices": choices,
    });
    if let (Value::Object(f), Value::Object(x)) = (&mut f, extra) {
        f.extend(x);
    }
    f
}

/// A journal of a few paper bars, then a startup reconciliation with two findings.
pub fn seed(dir: &Path, config: &str) -> std::path::PathBuf {
    let data = dir.join("data");
    std::fs::write(dir.join("ballast.toml"), config).unwrap();
    let out = super::standalone_engine(&data, &dir.join("ballast.toml"), 3);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let layout = ballast_store::Layout::new(&data);
    let (j, _) = ballast_store::Journal::open(
        Arc::new(ballast_store::RealStorage),
        &layout,
        &layout.engine_journal(),
        Arc::new(ballast_store::SystemClock),
        ballast_store::journal::JournalOptions::default(),
        ballast_store::journal::OpenPolicy::RefuseDangerous,
        &mut |_| Ok(()),
    )
    .unwrap();
    let run = json!({
        "at": "2026-01-05T14:30:00.000Z", "startup": true, "unanswered": [], "latch": "halted",
        "findings": [
            finding("quantity_mismatch", "quantity_mismatch:AAPL", "AAPL",
                &["adopt", "flatten", "stay_halted"],
                json!({"local_qty": "0", "venue_qty": "15", "venue_avg_price": "100"})),
            finding("foreign_order", "foreign_order:61e69015", "MSFT",
                &["adopt", "stay_halted"],
                json!({"venue_order": "61e69015"})),
        ],
    });
    j.append("reconcile.run", &run).unwrap();
    data
}
