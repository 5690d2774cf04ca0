//! Issue 14 items 4 and 5 over the real `ballast run`: a dangerous reconciliation finding in
//! the engine's journal (a startup run that found the broker holding 15 AAPL where Ballast
//! holds none, and an open order it does not own in MSFT) is the broker's CRITICAL
//! `reconciliation` check and an alert in the ops journal's outbox naming the symbols; it is
//! shown by `ballast reconcile` and `GET /v1/reconciliation` as a diff with the command of each
//! choice; the API refuses a caller without a token (401), a viewer's choice (403), a finding
//! that is not open (404) and a choice it does not offer (422); the operator's `adopt` through
//! the CLI is journaled by the engine (`reconcile.resolve`) and the finding closes. And a live
//! configuration's `/readyz?verbose` names each missing condition of principle 1.

mod common;

use std::path::Path;
use std::time::Duration;

use common::process::text;
use common::{FAST_HEALTH, Sup, wait};
use serde_json::{Value, json};

const ALERTS: &str = "[alerts]\ngroup_wait_secs = 0\ngroup_interval_secs = 1\nrepeat_interval_secs = 3600\n[[alerts.sinks]]\nname = \"log\"\nkind = \"log\"\n";

fn config() -> String {
    format!(
        "{FAST_HEALTH}{ALERTS}[feed]\nsymbols = [\"AAPL\", \"IBM\", \"MSFT\"]\nbars_per_second = 20\n"
    )
}

fn http(method: &str, url: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut r = reqwest::Client::new().request(method.parse().unwrap(), url);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        let a = r.timeout(Duration::from_secs(30)).send().await.unwrap();
        let status = a.status().as_u16();
        let text = a.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    })
}

/// The ops journal's `alert.raised` bodies.
fn raised(data: &Path) -> Vec<Value> {
    let mut out = Vec::new();
    let _ = ballast_store::journal::scan(
        &ballast_store::RealStorage,
        &data.join("journal/ops"),
        &mut |rec: &ballast_store::record::RecordRef<'_>| {
            if &*rec.kind == "alert.raised" {
                out.push(serde_json::from_str(rec.body.get()).unwrap());
            }
            Ok(())
        },
    );
    out
}

#[test]
fn a_finding_is_alerted_shown_as_a_diff_and_adopted_by_the_operator() {
    let tmp = tempfile::tempdir().unwrap();
    let data = common::findings::seed(tmp.path(), &config());
    let sup = Sup::run_files(tmp.path(), &data, &tmp.path().join("ballast.toml"), &[]);
    // The CRITICAL alert, durable in the outbox, names each kind and symbol.
    let alert = wait::until(
        Duration::from_secs(60),
        || {
            raised(&data)
                .into_iter()
                .find(|n| n.to_string().contains("broker/reconciliation"))
                .ok_or(())
        },
        |()| format!("no reconciliation alert: {:?}", raised(&data)),
    );
    let said = alert.to_string();
    assert!(said.contains("\"critical\""), "{said}");
    assert!(
        said.contains("quantity mismatch AAPL: Ballast 0, broker 15")
            && said.contains("open order we do not own MSFT (venue id 61e69015)"),
        "{said}"
    );
    // `ballast reconcile`: the diff and the commands; exit 1 while open.
    let out = sup.cli(&["reconcile"]);
    let shown = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{shown}{}", text(&out.stderr));
    for want in [
        "2 dangerous difference(s) open",
        "quantity_mismatch:AAPL",
        "Ballast believes: Ballast holds no AAPL",
        "the broker says:  the broker holds 15 AAPL (avg 100)",
        "fills that would explain it: none seen",
        "ballast reconcile adopt quantity_mismatch:AAPL --reason",
        "ballast reconcile flatten quantity_mismatch:AAPL --reason",
        "ballast reconcile stay foreign_order:61e69015 --reason",
        "acknowledge the broker's order: Ballast does not manage it",
    ] {
        assert!(shown.contains(want), "{want:?} not in\n{shown}");
    }
    let out = sup.cli(&["reconcile", "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["findings"][0]["commands"]["adopt"],
        "ballast reconcile adopt quantity_mismatch:AAPL --reason \"…\""
    );
    // The API: a viewer reads, only an operator chooses, each refusal in the one error shape.
    let (url, operator, viewer) = common::surfaces::api_of(&data);
    let list = format!("{url}/v1/reconciliation");
    assert_eq!(http("GET", &list, None, None).0, 401);
    let (status, body) = http("GET", &list, Some(&viewer), None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["findings"].as_array().unwrap().len(), 2, "{body}");
    assert_eq!(body["can_choose"], false, "a viewer reads only: {body}");
    assert_eq!(
        http("GET", &list, Some(&operator), None).1["can_choose"],
        true
    );
    assert_eq!(
        body["findings"][1]["theirs"],
        "the broker holds 15 MSFT (avg 100)"
    );
    let reason = Some(json!({"reason": "checked the broker's statement"}));
    let choose = |path: &str, token: &str| {
        http(
            "POST",
            &format!("{url}/v1/reconciliation/{path}"),
            Some(token),
            reason.clone(),
        )
    };
    let (status, body) = choose("quantity_mismatch:AAPL/adopt", &viewer);
    assert_eq!(status, 403, "{body}");
    let (status, body) = choose("quantity_mismatch:TSLA/adopt", &operator);
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found")),
        "{body}"
    );
    let (status, body) = choose("foreign_order:61e69015/flatten", &operator);
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["field"], "choice", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("its choices are adopt, stay"),
        "{body}"
    );
    let (status, body) = choose("MSFT/guess", &operator);
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (422, Some("choice")),
        "{body}"
    );
    let (status, _) = http(
        "POST",
        &format!("{url}/v1/reconciliation/MSFT/stay"),
        Some(&operator),
        Some(json!({"reason": ""})),
    );
    assert_eq!(status, 422);
    // A choice made on what the finding no longer shows (the broker had 3) is a conflict.
    let shown = http("GET", &list, Some(&viewer), None).1;
    assert_eq!(shown["findings"][0]["seen"]["venue_qty"], "15", "{shown}");
    let (status, stale) = http(
        "POST",
        &format!("{url}/v1/reconciliation/quantity_mismatch:AAPL/adopt"),
        Some(&operator),
        Some(json!({"reason": "broker has 3", "seen": {"local_qty": "0", "venue_qty": "3"}})),
    );
    assert_eq!(status, 409, "{stale}");
    assert!(
        stale["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("broker now 15 AAPL, the choice was made on 3"),
        "{stale}"
    );
    let (status, bad) = http(
        "POST",
        &format!("{url}/v1/reconciliation/quantity_mismatch:AAPL/adopt"),
        Some(&operator),
        Some(json!({"reason": "r", "seen": {"venue_qty": "lots"}})),
    );
    assert!(status == 400 || status == 422, "{status} {bad}");
    // The operator's choice by symbol through the CLI and the supervisor.
    let out = sup.cli(&[
        "reconcile",
        "adopt",
        "AAPL",
        "--reason",
        "the broker's statement shows 15",
    ]);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).contains("adopt quantity_mismatch:AAPL: the choice is written"),
        "{}",
        text(&out.stdout)
    );
    let resolved = wait::until(
        Duration::from_secs(60),
        || {
            common::journal::engine_records(&data)
                .into_iter()
                .find(|(k, _)| k == "reconcile.resolve")
                .ok_or(())
        },
        |()| "the engine never journaled the choice".into(),
    );
    let r: Value = serde_json::from_str(&resolved.1).unwrap();
    assert_eq!(r["finding"], "quantity_mismatch:AAPL");
    assert_eq!(r["by"], "cli: the broker's statement shows 15");
    assert_eq!(r["after"], "15");
    let body = wait::until(
        Duration::from_secs(30),
        || {
            let (_, b) = http("GET", &list, Some(&viewer), None);
            (b["findings"].as_array().map(Vec::len) == Some(1))
                .then_some(b.clone())
                .ok_or(b)
        },
        |b| format!("the finding stays open: {b}"),
    );
    assert_eq!(body["findings"][0]["id"], "foreign_order:61e69015");
    // Its choices are approvable recommendations too: approving "stay" journals it.
    // Its id carries the digest of what the finding showed (another quantity: another one).
    let prefix = "broker/reconciliation/resolve_finding/foreign_order:61e69015/stay/";
    let pending = |h: &Value| {
        h["recommendations"].as_array().and_then(|r| {
            r.iter()
                .find(|r| {
                    r["id"].as_str().is_some_and(|i| i.starts_with(prefix))
                        && r["state"] == "PENDING"
                })
                .and_then(|r| r["id"].as_str().map(str::to_owned))
        })
    };
    let h = common::wait_health(&sup, "the choices as recommendations", |h| {
        pending(h).is_some()
    });
    let rec = pending(&h).unwrap_or_default();
    let rec = rec.as_str();
    assert!(
        !h["recommendations"]
            .to_string()
            .contains("close_all_positions"),
        "no generic flatten for a reconciliation finding: {h}"
    );
    let out = sup.cli(&["approve", rec]);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let stay = wait::until(
        Duration::from_secs(60),
        || {
            common::journal::engine_records(&data)
                .into_iter()
                .filter(|(k, _)| k == "reconcile.resolve")
                .nth(1)
                .ok_or(())
        },
        |()| "the approved choice was never journaled".into(),
    );
    let r: Value = serde_json::from_str(&stay.1).unwrap();
    assert_eq!(
        (r["finding"].as_str(), r["choice"].as_str()),
        (Some("foreign_order:61e69015"), Some("stay_halted"))
    );
    assert_eq!(
        r["by"],
        format!("ballast approve: approved recommendation {rec}")
    );
    // The ops journal has the control action with its actor.
    sup.stop();
}

#[test]
fn a_live_configuration_names_each_missing_condition_in_readyz_and_check() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = format!("[general]\nmode = \"live\"\n{FAST_HEALTH}");
    std::fs::write(tmp.path().join("live.toml"), &cfg).unwrap();
    let out = common::ballast()
        .env_remove("APCA_API_KEY_ID")
        .env_remove("APCA_API_SECRET_KEY")
        .args(["check", "--config"])
        .arg(tmp.path().join("live.toml"))
        .output()
        .unwrap();
    let said = text(&out.stdout) + &text(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{said}");
    for want in [
        "ok       [general] mode = \"live\"",
        "at start --live on the command line",
        "missing  a live broker: the configured broker is the paper simulator",
        "missing  broker credentials: APCA_API_KEY_ID and APCA_API_SECRET_KEY not set",
        "at start a passing compatibility check of the broker's API (checked at the engine's start)",
        "at start a clean startup reconciliation with the broker (checked at the engine's start)",
        "2 condition(s) missing",
    ] {
        assert!(said.contains(want), "{want:?} not in\n{said}");
    }
    // The supervisor stays up (the engine HELD) and its readiness names every condition.
    let sup = Sup::start_with_env(tmp.path(), &cfg, &[]);
    let (url, _, _) = common::surfaces::api_of(&tmp.path().join("data"));
    let ready = wait::until(
        Duration::from_secs(30),
        || {
            let (s, b) = http("GET", &format!("{url}/readyz?verbose"), None, None);
            let b = b.as_str().unwrap_or("").to_owned();
            (s == 503 && b.contains("[-]live."))
                .then_some(b.clone())
                .ok_or(b)
        },
        |b| format!("no live lines in readyz: {b}"),
    );
    for want in [
        "[+]live.mode ok",
        "[-]live.live_flag failed: --live on the command line of `ballast run` (asked twice): not given",
        "[-]live.broker failed: a live broker",
        "[-]live.credentials failed: broker credentials",
        "[-]live.compat failed: not known yet:",
    ] {
        assert!(ready.contains(want), "{want:?} not in\n{ready}");
    }
    let viewer = std::fs::read_to_string(tmp.path().join("data/run/api.viewer.token")).unwrap();
    let (_, health) = http(
        "GET",
        &format!("{url}/v1/health"),
        Some(viewer.trim()),
        None,
    );
    let names: Vec<&str> = health["live_gate"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "mode",
            "live_flag",
            "broker",
            "credentials",
            "compat",
            "reconciliation",
            "account",
            "heal",
            "health"
        ]
    );
    sup.stop();
}

/// `ballast check` reads the Alpaca keys with the run's own loader and judges their kind: what
/// the run refuses (a paper key in live mode, a secrets file missing, shared, damaged, a
/// directory or a FIFO) is never "ok broker credentials".
#[test]
fn check_refuses_the_credentials_the_run_refuses() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let secrets = tmp.path().join("alpaca.toml");
    let write_cfg = |file: &Path| {
        let cfg = format!(
            "[general]\nmode = \"live\"\n[broker]\nkind = \"alpaca\"\n[broker.alpaca]\nsecrets_file = {:?}\n",
            file.display().to_string()
        );
        let path = tmp.path().join("live.toml");
        std::fs::write(&path, cfg).unwrap();
        path
    };
    let check = |cfg: &Path| {
        let out = common::ballast()
            .env_remove("APCA_API_KEY_ID")
            .env_remove("APCA_API_SECRET_KEY")
            .args(["check", "--config"])
            .arg(cfg)
            .output()
            .unwrap();
        (out.status.code(), text(&out.stdout) + &text(&out.stderr))
    };
    let cfg = write_cfg(&secrets);
    // A paper key (PK…) in the [live] table.
    std::fs::write(
        &secrets,
        "[live]\nkey_id = \"PKPAPERKEY01\"\nsecret_key = \"s3cr3t-x\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&secrets, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (code, said) = check(&cfg);
    assert_eq!(code, Some(78), "{said}");
    assert!(
        said.contains("missing  broker credentials: live mode with a paper key"),
        "{said}"
    );
    assert!(!said.contains("ok       broker credentials"), "{said}");
    assert!(
        !said.contains("s3cr3t") && !said.contains("PKPAPERKEY01"),
        "{said}"
    );
    // Readable by others.
    std::fs::set_permissions(&secrets, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (_, said) = check(&cfg);
    assert!(
        said.contains("missing  broker credentials") && said.contains("chmod 600"),
        "{said}"
    );
    // Garbage.
    std::fs::write(&secrets, "not = [toml").unwrap();
    std::fs::set_permissions(&secrets, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (_, said) = check(&cfg);
    assert!(said.contains("not the expected TOML"), "{said}");
    // Missing, a directory, a FIFO (which would block an open).
    let (_, said) = check(&write_cfg(&tmp.path().join("nope.toml")));
    assert!(said.contains("could not be opened"), "{said}");
    let (_, said) = check(&write_cfg(tmp.path()));
    assert!(
        said.contains("is not a regular file") && !said.contains("chmod"),
        "{said}"
    );
    let fifo = tmp.path().join("fifo");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let (_, said) = check(&write_cfg(&fifo));
    assert!(said.contains("is not a regular file"), "{said}");
}
