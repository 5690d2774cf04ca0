//! One scenario carried out on a throw-away instance: start it and let it trade, start the
//! signal load, inject the fault, wait for the expected response (polling the health report,
//! the ops journal's alerts and the broker's orders; [`verdict::responded`] decides), lift
//! the fault, quiesce (`ballast kill`: nothing new is sent while the books are compared),
//! check the ledger invariants, stop. Every wait is bounded by the scenario's deadline.

use std::path::Path;
use std::time::{Duration, Instant};

use ballast_store::RealStorage;
use serde::Serialize;

use super::instance::{Instance, Options, POLL};
use super::ledger;
use super::load::{Load, Target};
use super::scenario::{Expected, Injection, Scenario};
use super::verdict::{self, Observed, Sample, Verdict};

/// How long a fresh instance has to be HEALTHY and to trade before the fault.
const WARM_UP: Duration = Duration::from_secs(45);
/// How long the books have to agree after the quiescing kill switch.
const QUIESCE: Duration = Duration::from_secs(20);
/// Alerts read from the ops journal at most.
const MAX_ALERT_KEYS: usize = 10_000;

/// A scenario's result.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub scenario: Scenario,
    pub seed: u64,
    pub observed: Observed,
    pub verdict: Verdict,
    /// Wall time of the whole scenario.
    pub elapsed_ms: u64,
    /// Signals acknowledged during the scenario (all owed by the ledger).
    pub signals_acked: usize,
}

/// Run `s` with `seed`; `timeout` bounds the whole scenario.
pub fn run(s: &Scenario, seed: u64, timeout: Duration) -> Outcome {
    let started = Instant::now();
    let deadline = started + timeout;
    let mut observed = Observed::default();
    let mut acked = 0;
    match drive(s, seed, deadline, &mut observed) {
        Ok(n) => acked = n,
        Err(e) => observed.errors.push(e),
    }
    let verdict = verdict::verdict(&s.expect, &observed);
    Outcome {
        scenario: *s,
        seed,
        observed,
        verdict,
        elapsed_ms: ms(started.elapsed()),
        signals_acked: acked,
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The scenario's steps; the number of signals acknowledged.
fn drive(s: &Scenario, seed: u64, deadline: Instant, o: &mut Observed) -> Result<usize, String> {
    // A port taken before the start: held for the whole scenario.
    let taken = match s.inject {
        Injection::PortTaken => Some(
            std::net::TcpListener::bind("127.0.0.1:0")
                .map_err(|e| format!("cannot take a loopback port for the conflict: {e}"))?,
        ),
        _ => None,
    };
    let mut opts = Options::default();
    if let Some(l) = &taken {
        opts.api_port = l.local_addr().map_err(|e| e.to_string())?.port();
    }
    if let Injection::ChaosMode { mode } = s.inject {
        opts.env.push(("CHAOS_MODE".into(), mode.into()));
    }
    let mut inst = Instance::start(s.name, &opts)?;
    let warm = Instant::now() + WARM_UP;
    if !matches!(s.inject, Injection::ChaosMode { .. }) {
        wait_trading(&inst, warm.min(deadline))?;
    }
    let load = Load::start(
        Target {
            data: inst.data.clone(),
            prefix: format!("chaos-{}-{seed}", s.name),
        },
        seed,
    );
    let injected = Instant::now();
    let before = ledger::orders_created(&inst)?;
    inject(&mut inst, s, opts.api_port)?;
    match s.expect {
        Expected::Recovers { within_secs } => {
            let since = if s.inject.is_held() {
                o.during = hold(&inst, s.hold_secs, deadline);
                lift(&inst, s)?;
                Instant::now()
            } else {
                injected
            };
            let base = if s.inject.is_held() {
                ledger::orders_created(&inst)?
            } else {
                before
            };
            let until = (since + Duration::from_secs(within_secs + 5)).min(deadline);
            let (seen, last) = wait_response(&inst, &s.expect, base, until);
            o.response_ms = seen.map(|t| ms(t.duration_since(since)));
            o.last = last;
        }
        Expected::Halts { within_secs, .. } => {
            let until = (injected + Duration::from_secs(within_secs + 5)).min(deadline);
            halt_then_operator(&inst, s, injected, until, o)?;
        }
    }
    let tally = load.finish();
    let must_take = matches!(s.expect, Expected::Recovers { .. });
    o.breaches = check_ledger(&mut inst, &tally.acked, must_take, deadline)?;
    drop(taken);
    Ok(tally.acked.len())
}

/// Wait for the halt (until `until`), count the orders the broker gets after it while the
/// fault is held, lift it, then act as the operator who fixed the cause: an engine the halt
/// ended is reset (`ballast reset engine`) and must run again, so that its startup
/// reconciliation books what the broker did meanwhile before the books are compared.
fn halt_then_operator(
    inst: &Instance,
    s: &Scenario,
    injected: Instant,
    until: Instant,
    o: &mut Observed,
) -> Result<(), String> {
    let (seen, last) = wait_response(inst, &s.expect, 0, until);
    o.response_ms = seen.map(|t| ms(t.duration_since(injected)));
    o.last = last;
    if seen.is_some() {
        let at_halt = ledger::orders_created(inst)?;
        let _ = hold(inst, s.hold_secs, until + Duration::from_secs(s.hold_secs));
        o.orders_after_halt = ledger::orders_created(inst)?.saturating_sub(at_halt);
    }
    lift(inst, s)?;
    if inst.engine_pid().is_none() {
        let (ok, said) = inst.ballast(&["reset", "engine"], Duration::from_secs(20))?;
        if !ok {
            return Err(format!(
                "`ballast reset engine` after the fix failed: {said}"
            ));
        }
        let back = Instant::now() + Duration::from_secs(30);
        while inst.engine_pid().is_none() {
            if Instant::now() > back {
                return Err(format!(
                    "the engine did not run again within 30 s of `ballast reset engine`; the log:\n{}",
                    inst.log_tail(15)
                ));
            }
            std::thread::sleep(POLL);
        }
    }
    Ok(())
}

/// Wait until the instance is HEALTHY, ALLOW_ALL, and the broker has an order of it.
fn wait_trading(inst: &Instance, until: Instant) -> Result<(), String> {
    let e = Expected::Recovers { within_secs: 0 };
    let (seen, last) = wait_response(inst, &e, 0, until);
    match seen {
        Some(_) => Ok(()),
        None => Err(format!(
            "the fresh instance never traded healthily before the fault (last: health {}, policy {}, {} order(s)); its log:\n{}",
            last.overall,
            last.policy,
            last.orders_since,
            inst.log_tail(15)
        )),
    }
}

/// Poll until the response `e` is seen (its time) or `until`; the last sample either way.
/// `base`: the broker's order count the new orders are counted from.
fn wait_response(
    inst: &Instance,
    e: &Expected,
    base: u64,
    until: Instant,
) -> (Option<Instant>, Sample) {
    loop {
        let s = sample(inst, base);
        if verdict::responded(e, &s) {
            return (Some(Instant::now()), s);
        }
        if Instant::now() >= until {
            return (None, s);
        }
        std::thread::sleep(POLL);
    }
}

/// One look at the instance.
pub fn sample(inst: &Instance, base: u64) -> Sample {
    let (overall, policy, why) = inst.health_said().unwrap_or_default();
    Sample {
        overall,
        policy,
        why,
        alerts: alerts_raised(&inst.data),
        orders_since: ledger::orders_created(inst)
            .unwrap_or(0)
            .saturating_sub(base),
    }
}

/// The keys of the alerts raised so far (journal/ops `alert.raised`).
fn alerts_raised(data: &Path) -> Vec<String> {
    use ballast_core::alerts::outbox::Record;
    let dir = ballast_store::Layout::new(data).ops_journal();
    let mut keys = Vec::new();
    let _ = ballast_store::journal::scan(&RealStorage, &dir, &mut |r| {
        if r.kind == ballast_core::alerts::outbox::RAISED
            && let Some(Record::Notified(n)) = Record::parse(&r.kind, r.body.get())
            && keys.len() < MAX_ALERT_KEYS
        {
            keys.extend(n.alerts.into_iter().map(|a| a.key));
        }
        Ok(())
    });
    keys.sort();
    keys.dedup();
    keys
}

/// Keep a held fault `secs` in place; the worst overall health seen meanwhile.
fn hold(inst: &Instance, secs: u64, deadline: Instant) -> String {
    let until = (Instant::now() + Duration::from_secs(secs)).min(deadline);
    let mut worst = String::new();
    while Instant::now() < until {
        if let Some((now, _)) = inst.health()
            && (worst.is_empty() || rank(&now) > rank(&worst))
        {
            worst = now;
        }
        std::thread::sleep(POLL);
    }
    worst
}

fn rank(overall: &str) -> u8 {
    match overall {
        "HEALTHY" => 0,
        "DEGRADED" => 1,
        "CRITICAL" => 2,
        _ => 3,
    }
}

/// Carry out the injection.
fn inject(inst: &mut Instance, s: &Scenario, taken_port: u16) -> Result<(), String> {
    match s.inject {
        Injection::FakeFault { fault } => {
            let a = inst.fake("POST", "/_fake/fault", fault)?;
            if a.status != 204 {
                return Err(format!(
                    "the fake refused the fault {fault}: {} {}",
                    a.status, a.body
                ));
            }
        }
        Injection::KillEngine => {
            inst.kill_engine()?;
        }
        Injection::KillSupervisor => {
            inst.kill_supervisor();
            inst.start_supervisor()?;
        }
        Injection::TornJournalTail => {
            inst.stop_supervisor();
            tear_tail(&inst.data)?;
            inst.start_supervisor()?;
        }
        Injection::StateCorrupt => {
            inst.stop_supervisor();
            let path = ballast_store::Layout::new(&inst.data).health_report();
            std::fs::write(&path, b"{\"overall\": \"HEAL\x00\xff not json")
                .map_err(|e| format!("cannot damage {}: {e}", path.display()))?;
            inst.start_supervisor()?;
        }
        Injection::PortTaken => {
            let until = Instant::now() + Duration::from_secs(15);
            let addr = loop {
                if let Some((addr, _)) = inst.api() {
                    break addr;
                }
                if Instant::now() > until {
                    return Err("the API wrote no run/api.addr within 15 s of the start".into());
                }
                std::thread::sleep(POLL);
            };
            if addr.port() == taken_port {
                return Err(format!(
                    "{} names the taken port {taken_port}: the API says it bound a port another listener holds",
                    ballast_core::layout::rel::API_ADDR
                ));
            }
        }
        Injection::ChaosMode { .. } => {}
    }
    Ok(())
}

/// Lift a held fault (`DELETE /_fake/fault`; a chaos mode lasts until the stop).
fn lift(inst: &Instance, s: &Scenario) -> Result<(), String> {
    if let Injection::FakeFault { .. } = s.inject {
        let a = inst.fake("DELETE", "/_fake/fault", "")?;
        if a.status != 200 {
            return Err(format!(
                "the fake did not lift the fault: {} {}",
                a.status, a.body
            ));
        }
    }
    Ok(())
}

/// Half of the engine journal's last record appended to its last segment, with no end of
/// line: the tail a power cut leaves.
pub fn tear_tail(data: &Path) -> Result<(), String> {
    use std::io::Write;
    let dir = ballast_store::Layout::new(data).engine_journal();
    let mut segments: Vec<_> = std::fs::read_dir(&dir)
        .map_err(|e| format!("cannot list {}: {e}", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| ballast_store::journal::segment::parse(n).is_some())
        })
        .collect();
    segments.sort();
    let last = segments
        .last()
        .ok_or_else(|| format!("no journal segment in {}", dir.display()))?;
    let text = std::fs::read(last).map_err(|e| format!("cannot read {}: {e}", last.display()))?;
    let body = text.strip_suffix(b"\n").unwrap_or(&text);
    let start = body.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let record = &body[start..];
    let half = &record[..record.len() / 2];
    std::fs::OpenOptions::new()
        .append(true)
        .open(last)
        .and_then(|mut f| f.write_all(half))
        .map_err(|e| format!("cannot tear {}: {e}", last.display()))
}

/// Quiesce with the kill switch, wait for the books to agree, stop, verify the journal;
/// every invariant that does not hold.
fn check_ledger(
    inst: &mut Instance,
    acked: &[String],
    must_take: bool,
    deadline: Instant,
) -> Result<Vec<String>, String> {
    let (ok, said) = inst.ballast(
        &[
            "kill",
            "--reason",
            "chaos runner: quiesce to compare the books",
        ],
        Duration::from_secs(20),
    )?;
    if !ok {
        return Err(format!("`ballast kill` to quiesce failed: {said}"));
    }
    let until = (Instant::now() + QUIESCE).min(deadline);
    let data = inst.data.clone();
    let kept = |k: &str| ledger::kept_on_disk(&data, k);
    let mut breaches;
    loop {
        let (records, _) = ledger::engine_records(&inst.data);
        let booked = ledger::booked(&records);
        let broker = ledger::AtBroker {
            created: ledger::broker_counts(inst)?,
            positions: ledger::broker_positions(inst)?,
        };
        breaches = ledger::compare(acked, must_take, &kept, &booked, &broker);
        if breaches.is_empty() || Instant::now() >= until {
            break;
        }
        std::thread::sleep(POLL);
    }
    if !inst.stop_supervisor() {
        breaches.push("`ballast run` did not stop within 20 s of SIGTERM".into());
    }
    breaches.extend(
        ledger::core_invariants(&inst.data, &inst.config)
            .into_iter()
            .map(|v| format!("invariant {v}")),
    );
    let (verified, said) = inst.ballast(&["journal", "verify"], Duration::from_secs(60))?;
    if !verified {
        breaches.push(format!("`ballast journal verify` fails: {}", said.trim()));
    }
    Ok(breaches)
}
