//! `ballast reconcile [--json]`: the latest reconciliation with the broker as an operator reads
//! it — for each dangerous difference what Ballast believes, what the broker says, the fills
//! that would explain it, and each choice with its exact command; and `ballast reconcile
//! adopt|flatten|stay <finding id or SYMBOL> --reason "…"`: the choice, through the running
//! supervisor's control socket (`Request::Reconcile`), or — when no supervisor runs (a
//! standalone engine, or nothing) — written directly to `state/reconcile-choice.json` after the
//! same checks against the engine's heartbeat. The engine journals it at its next pass.

use clap::{Args, Subcommand};
use serde_json::json;

use ballast_core::Clock;
use ballast_core::engine::VenueReport;
use ballast_core::reconcile::{Choice, Finding};
use ballast_core::resolve;
use ballast_store::files::reconcile_choice::{self, ChoiceFile};
use ballast_supervisor::control::{self, Request, Response};

use super::{ConfigArg, DataDirArg, err, out};
use crate::exit::{self, Exit};
use crate::settings::DataDir;

#[derive(Debug, Args)]
pub struct ReconcileArgs {
    #[command(subcommand)]
    choice: Option<ChoiceCommand>,
    /// As JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    config: ConfigArg,
    #[command(flatten)]
    data_dir: DataDirArg,
}

#[derive(Debug, Subcommand)]
enum ChoiceCommand {
    /// Adopt the broker's view: Ballast's books take the broker's quantity (journaled with the
    /// before and after).
    Adopt(Target),
    /// Flatten the symbol: close the broker's position at market.
    Flatten(Target),
    /// Stay halted: change nothing (recorded).
    Stay(Target),
}

#[derive(Debug, Args)]
struct Target {
    /// The finding's id (as `ballast reconcile` lists it), or a symbol with one open finding.
    finding: String,
    /// Why (journaled with the choice): one line of printable text, at most 500 characters.
    #[arg(long, value_parser = reason)]
    reason: String,
    #[command(flatten)]
    config: ConfigArg,
    #[command(flatten)]
    data_dir: DataDirArg,
}

fn reason(text: &str) -> Result<String, String> {
    resolve::check_reason(text).map_err(|r| r.message().to_owned())
}

pub fn run(args: &ReconcileArgs) -> anyhow::Result<Exit> {
    let Some(cmd) = &args.choice else {
        let dir = match args.data_dir.control(&args.config, "reconcile") {
            Ok(d) => d,
            Err(code) => return Ok(code),
        };
        return show(&dir, args.json);
    };
    let (choice, t) = match cmd {
        ChoiceCommand::Adopt(t) => (Choice::Adopt, t),
        ChoiceCommand::Flatten(t) => (Choice::Flatten, t),
        ChoiceCommand::Stay(t) => (Choice::StayHalted, t),
    };
    let dir = match t.data_dir.control(&t.config, "reconcile") {
        Ok(d) => d,
        Err(code) => return Ok(code),
    };
    choose(&dir, &t.finding, choice, &t.reason)
}

/// The engine's venue report from its heartbeat (supervised or standalone alike).
fn venue(dir: &DataDir) -> Result<VenueReport, String> {
    venue_at(dir).map(|(v, _)| v)
}

/// [`venue`], and when the heartbeat was written.
fn venue_at(dir: &DataDir) -> Result<(VenueReport, ballast_core::Timestamp), String> {
    let layout = ballast_store::Layout::new(&dir.path);
    ballast_store::files::heartbeat::read(&ballast_store::RealStorage, &layout)
        .map(|hb| (hb.status.venue, hb.time))
        .map_err(|e| {
            if e.is_not_found() {
                format!(
                    "no engine has reported on {} ({} is not there): start it with `ballast run`",
                    dir.path.display(),
                    layout.display(&layout.heartbeat())
                )
            } else {
                format!("the engine's heartbeat cannot be read: {}", e.reason())
            }
        })
}

fn show(dir: &DataDir, json_out: bool) -> anyhow::Result<Exit> {
    let (v, beat) = match venue_at(dir) {
        Ok(v) => v,
        Err(why) => {
            if json_out {
                out!("{}", json!({ "error": why }));
            }
            err!("ballast reconcile: {why}");
            return Ok(exit::FAILURE);
        }
    };
    let open = v.reconcile.as_ref().is_some_and(|r| !r.findings.is_empty());
    if json_out {
        out!("{}", serde_json::to_string_pretty(&resolve::view(&v))?);
    } else {
        let age = ballast_store::SystemClock.now().ms_since(beat).max(0);
        out!(
            "as the engine's heartbeat of {beat} says ({} ago)",
            ballast_core::time::Human::ms(u64::try_from(age).unwrap_or(0))
        );
        for line in lines(&v) {
            out!("{line}");
        }
    }
    Ok(if open { exit::FAILURE } else { exit::OK })
}

/// The diff as an operator reads it.
pub fn lines(v: &VenueReport) -> Vec<String> {
    let broker = if v.broker.is_empty() {
        "paper"
    } else {
        &v.broker
    };
    let mut out = Vec::new();
    let Some(r) = &v.reconcile else {
        out.push(format!(
            "no reconciliation has run yet ({broker} broker): nothing to show"
        ));
        return out;
    };
    let run = if r.startup { "startup" } else { "periodic" };
    // `r.at` is the last run journaled (one that found something different); the engine's
    // last run, changed or not, is the heartbeat's.
    let when = match v.last_run_at {
        Some(last) if last != r.at => format!(
            "last run at {last}; what it shows was found by the {run} run at {}",
            r.at
        ),
        _ => format!("last run at {}, a {run} run", r.at),
    };
    if r.findings.is_empty() {
        out.push(format!(
            "reconciliation with the {broker} broker ({when}): no dangerous difference"
        ));
    } else {
        out.push(format!(
            "reconciliation with the {broker} broker ({when}): {} dangerous difference(s) open; trading stays restricted until each is chosen for",
            r.findings.len()
        ));
    }
    for f in &r.findings {
        match r.flattening.get(&f.id) {
            Some(orders) => flattening_lines(f, orders, &mut out),
            None => finding_lines(f, &mut out),
        }
    }
    for u in &r.unanswered {
        out.push(format!(
            "  not asked: {u} (what it would show is not judged)"
        ));
    }
    if let Some(why) = &v.choice_refused {
        out.push(format!("the engine refused the last choice: {why}"));
    }
    out
}

/// A finding the operator chose to flatten: its orders, no choice until they are done.
fn flattening_lines(
    f: &Finding,
    orders: &[ballast_core::domain::ClientOrderId],
    out: &mut Vec<String>,
) {
    out.push(String::new());
    out.push(format!("  {}  (flattening)", f.id));
    out.push(format!("    the broker says:  {}", f.theirs));
    let ids: Vec<&str> = orders.iter().map(|o| o.as_str()).collect();
    out.push(format!(
        "    flattening: order(s) {} sent to close it; the finding closes when they fill (a cancelled or expired one reopens the choice)",
        ids.join(", ")
    ));
}

fn finding_lines(f: &Finding, out: &mut Vec<String>) {
    out.push(String::new());
    out.push(format!(
        "  {}  ({})",
        f.id,
        ballast_core::health::venue::finding_said(f)
    ));
    out.push(format!("    Ballast believes: {}", f.ours));
    out.push(format!("    the broker says:  {}", f.theirs));
    if f.explaining.is_empty() {
        out.push("    fills that would explain it: none seen".into());
    } else {
        out.push("    fills that would explain it:".into());
        for e in &f.explaining {
            out.push(format!("      {e}"));
        }
    }
    out.push("    choices:".into());
    for c in &f.choices {
        out.push(format!(
            "      {:<8}{}\n               {}",
            resolve::word(*c),
            resolve::command(f, *c),
            resolve::effect_on(f, *c)
        ));
    }
}

fn choose(dir: &DataDir, target: &str, choice: Choice, reason: &str) -> anyhow::Result<Exit> {
    let sock = ballast_store::Layout::new(&dir.path).control_socket();
    // Bound to the finding as the engine's heartbeat shows it now (what `ballast reconcile`
    // showed the operator): the supervisor and the engine refuse it if it changed since.
    let seen = venue(dir).ok().and_then(|v| {
        let findings = v.reconcile.as_ref()?.findings.clone();
        resolve::pick(&findings, target, choice)
            .ok()
            .map(ballast_core::reconcile::Seen::of)
    });
    let req = Request::Reconcile {
        finding: target.to_owned(),
        choice,
        reason: reason.to_owned(),
        by: "cli".into(),
        seen,
    };
    match control::call(&sock, &req) {
        Ok(Response::Done { message }) => {
            out!("{message}");
            Ok(exit::OK)
        }
        Ok(Response::Error { message, .. }) => {
            err!("ballast reconcile: {message}");
            Ok(exit::FAILURE)
        }
        Ok(_) => {
            err!(
                "ballast reconcile: the supervisor answered something other than done or an error"
            );
            Ok(exit::FAILURE)
        }
        Err(control::ClientError::NotRunning { .. } | control::ClientError::SocketGone { .. }) => {
            choose_directly(dir, target, choice, reason)
        }
        Err(e) => {
            err!("ballast reconcile: {e}");
            Ok(exit::FAILURE)
        }
    }
}

/// No supervisor: the same checks against the engine's heartbeat, then the file itself.
fn choose_directly(
    dir: &DataDir,
    target: &str,
    choice: Choice,
    reason: &str,
) -> anyhow::Result<Exit> {
    let v = match venue(dir) {
        Ok(v) => v,
        Err(why) => {
            err!("ballast reconcile: no supervisor runs, and {why}");
            return Ok(exit::FAILURE);
        }
    };
    let findings = v
        .reconcile
        .as_ref()
        .map_or(&[][..], |r| r.findings.as_slice());
    let f = match resolve::pick(findings, target, choice) {
        Ok(f) => f,
        Err(r) => {
            err!("ballast reconcile: {}", r.message());
            return Ok(exit::FAILURE);
        }
    };
    let layout = ballast_store::Layout::new(&dir.path);
    let file = ChoiceFile {
        version: ballast_store::files::VERSION,
        finding: f.id.clone(),
        choice,
        by: format!("cli: {reason}"),
        at: ballast_store::SystemClock.now(),
        seen: Some(ballast_core::reconcile::Seen::of(f)),
    };
    match reconcile_choice::write_new(&ballast_store::RealStorage, &layout, &file) {
        Ok(()) => {
            out!(
                "{} {}: no supervisor runs; the choice is written ({}) and the engine journals it (reconcile.resolve) at its next pass",
                resolve::word(choice),
                f.id,
                layout.display(&layout.reconcile_choice_file())
            );
            Ok(exit::OK)
        }
        Err(e) => {
            err!("ballast reconcile: {e}");
            Ok(exit::FAILURE)
        }
    }
}

#[cfg(test)]
mod tests {
    use ballast_core::domain::{ClientOrderId, Symbol};
    use ballast_core::engine::ReconcileSummary;
    use ballast_core::reconcile::FindingKind;

    use super::*;
    use ballast_core::time::Timestamp;

    #[test]
    fn a_finding_being_flattened_is_listed_with_its_orders_and_no_choice() {
        let finding = Finding {
            id: "unknown_position:AAPL".into(),
            kind: FindingKind::UnknownPosition,
            symbol: Some(Symbol::new("AAPL").unwrap()),
            ours: "Ballast never traded AAPL".into(),
            theirs: "the broker holds 999 AAPL (avg 14)".into(),
            local_qty: None,
            venue_qty: None,
            venue_avg_price: None,
            venue_order: None,
            client_order_id: None,
            explaining: vec![],
            choices: vec![Choice::Adopt, Choice::Flatten, Choice::StayHalted],
        };
        let order = ClientOrderId::parse("bl-rec-5-1").unwrap();
        let v = VenueReport {
            broker: "alpaca".into(),
            reconcile: Some(ReconcileSummary {
                at: ballast_core::Timestamp::from_unix_ms(1_000),
                startup: false,
                findings: vec![finding],
                unanswered: vec![],
                flattening: [("unknown_position:AAPL".to_owned(), vec![order])].into(),
            }),
            ..VenueReport::default()
        };
        let text = lines(&v).join("\n");
        assert!(
            text.contains("unknown_position:AAPL  (flattening)")
                && text.contains("order(s) bl-rec-5-1 sent to close it"),
            "{text}"
        );
        assert!(!text.contains("choices:"), "{text}");
    }

    #[test]
    fn the_last_run_is_the_engine_s_not_the_last_journaled_change() {
        let mut v = VenueReport {
            broker: "alpaca".into(),
            reconcile: Some(ReconcileSummary {
                at: Timestamp::from_unix_ms(1_000),
                startup: true,
                findings: vec![],
                unanswered: vec![],
                flattening: Default::default(),
            }),
            ..VenueReport::default()
        };
        assert_eq!(
            super::lines(&v)[0],
            "reconciliation with the alpaca broker (last run at 1970-01-01T00:00:01.000Z, a startup run): no dangerous difference"
        );
        v.last_run_at = Some(Timestamp::from_unix_ms(61_000));
        assert_eq!(
            super::lines(&v)[0],
            "reconciliation with the alpaca broker (last run at 1970-01-01T00:01:01.000Z; what it shows was found by the startup run at 1970-01-01T00:00:01.000Z): no dangerous difference"
        );
    }
}
