//! `ballast backtest` on the bundled real data must produce exactly the textbook sma_cross
//! trades: computed here independently (SMAs with division, crosses by definition, fills at
//! the next bar's open) and compared with the binary's trades.csv line by line.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Command;

use rust_decimal::Decimal;

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/stocks-daily-2000-2013.csv.gz")
}

/// `(date, open, close)` per row of one symbol, in date order.
fn rows(symbol: &str) -> Vec<(String, Decimal, Decimal)> {
    let f = std::fs::File::open(data()).unwrap();
    let r = BufReader::new(flate2::read::GzDecoder::new(f));
    let mut out: Vec<(String, Decimal, Decimal)> = r
        .lines()
        .skip(1)
        .map(Result::unwrap)
        .filter(|l| l.starts_with(&format!("{symbol},")))
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            (
                c[1].to_owned(),
                c[2].parse().unwrap(),
                c[5].parse().unwrap(),
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Textbook long-only sma_cross trades as trades.csv lines.
fn textbook(symbol: &str, fast: usize, slow: usize, qty: i64) -> Vec<String> {
    let rows = rows(symbol);
    let closes: Vec<Decimal> = rows.iter().map(|r| r.2).collect();
    let sma = |t: usize, n: usize| closes[t + 1 - n..=t].iter().sum::<Decimal>() / Decimal::from(n);
    let mut out = Vec::new();
    let mut entry: Option<(String, Decimal)> = None;
    let q = Decimal::from(qty);
    for t in slow..rows.len() {
        let (f0, s0, f1, s1) = (
            sma(t - 1, fast),
            sma(t - 1, slow),
            sma(t, fast),
            sma(t, slow),
        );
        let up = f0 <= s0 && f1 > s1;
        let down = f0 >= s0 && f1 < s1;
        if t + 1 >= rows.len() {
            break; // a cross on the last bar has no fill
        }
        let (next_date, next_open, _) = &rows[t + 1];
        let ts = format!("{next_date}T00:00:00.000Z");
        if up && entry.is_none() {
            entry = Some((ts, *next_open));
        } else if down {
            if let Some((et, ep)) = entry.take() {
                out.push(format!(
                    "{symbol},{et},{},{ts},{},{qty},{}",
                    ep.normalize(),
                    next_open.normalize(),
                    ((*next_open - ep) * q).normalize()
                ));
            }
        }
    }
    if let Some((et, ep)) = entry {
        out.push(format!("{symbol},{et},{},,,{qty},", ep.normalize()));
    }
    out
}

#[test]
fn sma_cross_on_the_bundled_data_gives_the_textbook_trades() {
    let tmp = tempfile::tempdir().unwrap();
    for (symbol, fast, slow) in [("AAPL", 10, 30), ("IBM", 5, 20), ("MSFT", 20, 50)] {
        let out_csv = tmp.path().join(format!("{symbol}.csv"));
        let out = Command::new(env!("CARGO_BIN_EXE_ballast"))
            .args([
                "backtest",
                "--data",
                data().to_str().unwrap(),
                "--symbols",
                symbol,
            ])
            .args([
                "--strategy",
                "sma-cross",
                "--fast",
                &fast.to_string(),
                "--slow",
                &slow.to_string(),
                "--qty",
                "10",
            ])
            .args([
                "--fill",
                "next-open",
                "--fee-bps",
                "0",
                "--guard",
                "off",
                "--cash",
                "10000000",
            ])
            .arg("--trades-out")
            .arg(&out_csv)
            .output()
            .unwrap();
        common::process::assert_ok(&out);
        let got = std::fs::read_to_string(&out_csv).unwrap();
        let mut lines = got.lines();
        assert_eq!(
            lines.next(),
            Some("symbol,entry_time,entry_price,exit_time,exit_price,qty,pnl")
        );
        let got: Vec<&str> = lines.collect();
        let want = textbook(symbol, fast, slow, 10);
        assert!(want.len() > 30, "{symbol}: {} trades", want.len());
        assert_eq!(got, want, "{symbol}");
    }
}

#[test]
fn malformed_rows_are_reported_with_line_and_column_or_skipped_when_asked() {
    let tmp = tempfile::tempdir().unwrap();
    let csv = tmp.path().join("bad.csv");
    std::fs::write(
        &csv,
        "Ticker,Date,Open,High,Low,Close,Volume\nX,2020-01-01,1,2,1,2,100\nX,2020-01-02,1,two,1,2,100\nX,2020-01-03,1,2,1,2,100\n",
    )
    .unwrap();
    let run = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_ballast"))
            .args([
                "backtest",
                "--data",
                csv.to_str().unwrap(),
                "--fast",
                "1",
                "--slow",
                "2",
            ])
            .args(extra)
            .output()
            .unwrap()
    };
    let out = run(&[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.csv: line 3, column 4 (High): \"two\": not a decimal number"),
        "{err}"
    );
    let out = run(&["--skip-bad-rows", "--json"]);
    common::process::assert_ok(&out);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["skipped_rows"], 1);
    assert_eq!(v["summary"]["bars"], 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 malformed row(s) skipped"));
}

#[test]
fn the_guard_is_on_by_default_and_its_decisions_are_counted_by_check() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("tight.toml");
    std::fs::write(
        &cfg,
        "[guard]\nmax_notional_per_order_usd = 500\nmax_position_notional_usd = 800\nmax_portfolio_exposure_pct = 1\n[risk]\nmax_total_at_risk_pct = 1\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ballast"))
        .args([
            "backtest",
            "--data",
            data().to_str().unwrap(),
            "--symbols",
            "AAPL,IBM",
            "--json",
            "--config",
        ])
        .arg(&cfg)
        .output()
        .unwrap();
    common::process::assert_ok(&out);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        v["guard"].as_str().unwrap().starts_with("on, limits from"),
        "{}",
        v["guard"]
    );
    let resized = v["summary"]["resized"].as_object().unwrap();
    assert!(
        resized
            .get("max_notional_per_order")
            .is_some_and(|n| n.as_u64().unwrap() > 10),
        "{resized:?}"
    );
    let bad = tmp.path().join("bad.toml");
    std::fs::write(&bad, "[guard]\nmax_notional_per_ordr_usd = 5\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ballast"))
        .args(["backtest", "--data", data().to_str().unwrap(), "--config"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
}
