//! Each invariant catches its violation, and a clean run breaks none.

use rust_decimal::Decimal;

use super::*;
use crate::config;
use crate::domain::{SignalId, Symbol};
use crate::engine::{KillSwitchRecord, PolicyRecord, SendOutcome};
use crate::market::Bar;
use crate::policy::Policy;
use crate::signal::SignalState;
use crate::time::Timestamp;

type Journal = Vec<(u64, EngineRecord)>;

fn bars(n: usize) -> Vec<Bar> {
    let mut out = Vec::new();
    let mut seed = 7u64;
    let mut price = [100i64, 50];
    for day in 0..n {
        for (k, sym) in ["AAA", "BBB"].iter().enumerate() {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let step = (seed >> 59) as i64 - 15;
            let open = price[k];
            price[k] = (price[k] + step).max(5);
            let (o, c) = (Decimal::from(open), Decimal::from(price[k]));
            out.push(Bar {
                symbol: Symbol::new(sym).unwrap(),
                ts: Timestamp::from_unix_ms(day as i64 * 86_400_000),
                open: o,
                high: o.max(c),
                low: o.min(c),
                close: c,
                volume: Decimal::from(1_000_000),
            });
        }
    }
    out
}

fn setup() -> (EngineState, Limits) {
    let mut cfg = config::builtin().unwrap();
    cfg.strategy.fast = 3;
    cfg.strategy.slow = 8;
    cfg.feed.symbols = vec![Symbol::new("AAA").unwrap(), Symbol::new("BBB").unwrap()];
    let limits = Limits::from(&cfg);
    (EngineState::new(&cfg), limits)
}

/// What a run does besides trading: at bar `kill_at` the kill switch engages; the first
/// send's answer is lost.
#[derive(Default)]
struct Script {
    kill_at: Option<usize>,
    lose_first_answer: bool,
}

fn push(state: &mut EngineState, limits: &Limits, journal: &mut Journal, r: EngineRecord) {
    state.apply(&r, limits).unwrap();
    journal.push((journal.len() as u64 + 1, r));
}

/// Run as the runtime does, returning the state and the journal it wrote.
fn run(script: &Script, n: usize) -> (EngineState, Limits, Journal) {
    let (mut state, limits) = setup();
    let mut journal = Journal::new();
    let mut lost = false;
    for (i, bar) in bars(n).into_iter().enumerate() {
        if script.kill_at == Some(i) {
            let r = state.kill_switch_record(true, "test".into(), false, bar.ts);
            push(
                &mut state,
                &limits,
                &mut journal,
                EngineRecord::KillSwitch(r),
            );
        }
        let r = state.bar_record(bar);
        push(&mut state, &limits, &mut journal, EngineRecord::Bar(r));
        for r in state.paper_lookups(bar.ts) {
            push(&mut state, &limits, &mut journal, EngineRecord::Settle(r));
        }
        if let Some(d) = state.decide(&limits, &state.gate()) {
            push(&mut state, &limits, &mut journal, EngineRecord::Decision(d));
        }
        for mut r in state.paper_sends(bar.ts) {
            if script.lose_first_answer && !lost {
                lost = true;
                r.outcome = SendOutcome::Unknown {
                    error: "timed out".into(),
                    paper_venue_received: false,
                };
            }
            push(&mut state, &limits, &mut journal, EngineRecord::Sent(r));
        }
    }
    (state, limits, journal)
}

fn check_of(state: &EngineState, limits: &Limits, journal: &Journal) -> Report {
    let (initial, _) = setup();
    let through = journal.last().map_or(0, |(s, _)| *s);
    check(&Input {
        records: journal,
        initial: &initial,
        limits,
        produced: Some((state, through)),
    })
}

fn broken(report: &Report) -> Vec<Invariant> {
    let mut v: Vec<Invariant> = report.violations.iter().map(|v| v.invariant).collect();
    v.dedup();
    v
}

fn aaa() -> Symbol {
    Symbol::new("AAA").unwrap()
}

#[test]
fn a_clean_run_breaks_no_invariant() {
    let (state, limits, journal) = run(&Script::default(), 300);
    let report = check_of(&state, &limits, &journal);
    assert!(report.is_clean(), "{report}");
    assert!(report.fills_booked > 10, "{report}");
    assert_eq!(report.records, journal.len());
    // A fill the venue reports twice is booked once: no violation.
    let (i, dup) = journal
        .iter()
        .find_map(|(_, r)| match r {
            EngineRecord::Bar(b) if !b.fills.is_empty() => Some(b.fills[0].clone()),
            _ => None,
        })
        .map(|f| (journal.len(), f))
        .unwrap();
    let mut journal = journal;
    let mut state = state;
    let r = EngineRecord::VenueFills(crate::engine::VenueFillsRecord {
        at: Timestamp::EPOCH,
        fills: vec![dup],
    });
    push(&mut state, &limits, &mut journal, r);
    assert_eq!(journal.len(), i + 1);
    assert!(check_of(&state, &limits, &journal).is_clean());
}

#[test]
fn a_position_the_fills_do_not_explain_is_caught() {
    let (mut state, limits, journal) = run(&Script::default(), 300);
    let q = state.portfolio.qty(&aaa());
    state
        .portfolio
        .set_position(&aaa(), q + Decimal::ONE, Decimal::from(100));
    let report = check_of(&state, &limits, &journal);
    assert!(
        broken(&report).contains(&Invariant::PositionsAreFills),
        "{report}"
    );
    assert!(
        report.to_string().contains("the position in AAA is"),
        "{report}"
    );
}

#[test]
fn cash_the_fills_do_not_explain_is_caught() {
    let (mut state, limits, journal) = run(&Script::default(), 300);
    state.portfolio.cash += Decimal::new(1, 2);
    let report = check_of(&state, &limits, &journal);
    assert!(
        broken(&report).contains(&Invariant::CashIsFills),
        "{report}"
    );
    assert!(
        !broken(&report).contains(&Invariant::PositionsAreFills),
        "{report}"
    );
}

#[test]
fn equity_off_the_last_prices_is_caught() {
    let (mut state, limits, journal) = run(&Script::default(), 300);
    let held = state
        .portfolio
        .positions()
        .next()
        .map(|p| p.symbol)
        .expect("the run ends holding something");
    let mark = state.portfolio.mark_of(&held).unwrap();
    state.portfolio.mark(&held, mark + Decimal::ONE);
    let report = check_of(&state, &limits, &journal);
    assert_eq!(
        broken(&report),
        [
            Invariant::ReplayReproduces,
            Invariant::EquityIsCashPlusPositions
        ],
        "{report}"
    );
}

#[test]
fn a_fill_booked_twice_is_caught() {
    let (mut state, limits, journal) = run(&Script::default(), 300);
    let fill = journal
        .iter()
        .rev()
        .find_map(|(_, r)| match r {
            EngineRecord::Bar(b) => b.fills.first().cloned(),
            _ => None,
        })
        .unwrap();
    // What an engine that forgot the fill id would do: book it again.
    state.portfolio.apply_fill(&fill).unwrap();
    state.stats.fills += 1;
    let report = check_of(&state, &limits, &journal);
    let b = broken(&report);
    assert!(b.contains(&Invariant::FillBookedOnce), "{report}");
    assert!(b.contains(&Invariant::PositionsAreFills), "{report}");
}

#[test]
fn a_send_before_its_intent_is_caught() {
    let (state, limits, mut journal) = run(&Script::default(), 300);
    let at = journal
        .iter()
        .position(|(_, r)| matches!(r, EngineRecord::Decision(d) if d.order.is_some()))
        .unwrap();
    // The send journaled before the decision that created its order.
    journal.swap(at, at + 1);
    let (a, b) = (journal[at].0, journal[at + 1].0);
    journal[at].0 = a.min(b);
    journal[at + 1].0 = a.max(b);
    let report = check_of(&state, &limits, &journal);
    assert!(
        broken(&report).contains(&Invariant::IntentBeforeSend),
        "{report}"
    );
    assert!(
        report
            .to_string()
            .contains("with no intent journaled before it"),
        "{report}"
    );
}

#[test]
fn an_order_decided_while_the_kill_switch_is_engaged_is_caught() {
    // Engaged the way the runtime does it (the guard is told): clean.
    let (state, limits, journal) = run(
        &Script {
            kill_at: Some(100),
            ..Script::default()
        },
        300,
    );
    assert!(state.controls.kill_switch.is_some());
    let report = check_of(&state, &limits, &journal);
    assert!(report.is_clean(), "{report}");
    // The kill switch's record slipped in ahead of orders decided without it.
    let (_, _, mut journal) = run(&Script::default(), 300);
    let ks = KillSwitchRecord {
        engaged: true,
        reason: "operator".into(),
        at: Timestamp::EPOCH,
        flatten: false,
        orders: Vec::new(),
    };
    journal.insert(0, (0, EngineRecord::KillSwitch(ks)));
    let (initial, _) = setup();
    let report = check(&Input {
        records: &journal,
        initial: &initial,
        limits: &limits,
        produced: None,
    });
    assert!(
        broken(&report).contains(&Invariant::HaltForbids),
        "{report}"
    );
    assert!(
        report
            .to_string()
            .contains("while the kill switch is engaged (operator)"),
        "{report}"
    );
}

fn policy(p: Policy, releases: u64) -> EngineRecord {
    EngineRecord::Policy(PolicyRecord {
        policy: p,
        reason: "test".into(),
        at: Timestamp::EPOCH,
        orders: Vec::new(),
        releases,
    })
}

#[test]
fn an_opening_order_while_reducing_is_caught() {
    let (_, limits, mut journal) = run(&Script::default(), 300);
    journal.insert(0, (0, policy(Policy::NoNewTrades, 0)));
    let (initial, _) = setup();
    let report = check(&Input {
        records: &journal,
        initial: &initial,
        limits: &limits,
        produced: None,
    });
    assert!(
        broken(&report).contains(&Invariant::HaltForbids),
        "{report}"
    );
    assert!(
        report.to_string().contains("while trading is REDUCING"),
        "{report}"
    );
}

#[test]
fn a_halt_left_without_a_release_is_caught() {
    let (initial, limits) = setup();
    let journal: Journal = vec![
        (1, policy(Policy::EmergencyShutdown, 0)),
        (2, policy(Policy::AllowAll, 0)),
        (3, policy(Policy::EmergencyShutdown, 0)),
        (4, policy(Policy::AllowAll, 1)),
    ];
    let report = check(&Input {
        records: &journal,
        initial: &initial,
        limits: &limits,
        produced: None,
    });
    assert_eq!(broken(&report), [Invariant::HaltLeftByOperator], "{report}");
    assert_eq!(report.violations.len(), 1, "{report}");
    assert_eq!(report.violations[0].seq, Some(2));
}

#[test]
fn an_unknown_outcome_counted_as_rejected_is_caught() {
    let script = Script {
        lose_first_answer: true,
        ..Script::default()
    };
    let (mut state, limits, journal) = run(&script, 300);
    assert!(state.stats.unknown_outcomes > 0);
    assert!(check_of(&state, &limits, &journal).is_clean());
    // What an engine that took a timeout for a refusal would hold.
    let signal = journal
        .iter()
        .find_map(|(_, r)| match r {
            EngineRecord::Decision(d) if d.order.is_some() => Some(d.signal),
            _ => None,
        })
        .unwrap();
    let s = state.signals.get(SignalId(signal)).unwrap().clone();
    let mut forged = s.clone();
    forged.state = SignalState::Failed;
    state.signals.add(forged);
    state.stats.venue_rejections += 1;
    let report = check_of(&state, &limits, &journal);
    let b = broken(&report);
    assert!(b.contains(&Invariant::UnknownNotRejected), "{report}");
    assert!(
        report.to_string().contains("had an unknown outcome"),
        "{report}"
    );
}

#[test]
fn a_state_the_journal_does_not_replay_to_is_caught() {
    let (mut state, limits, journal) = run(&Script::default(), 300);
    state.bars += 1;
    let report = check_of(&state, &limits, &journal);
    assert_eq!(broken(&report), [Invariant::ReplayReproduces], "{report}");
    assert!(report.to_string().contains("bars 601 vs 600"), "{report}");
    // A record that does not apply stops the replay, in words.
    let (state, limits, mut journal) = run(&Script::default(), 300);
    let at = journal
        .iter()
        .position(|(_, r)| matches!(r, EngineRecord::Decision(_)))
        .unwrap();
    journal.remove(at);
    let report = check_of(&state, &limits, &journal);
    assert!(
        report
            .to_string()
            .contains("does not apply to the state before it"),
        "{report}"
    );
}

#[test]
fn violations_are_bounded() {
    let (initial, limits) = setup();
    let journal: Journal = (0..(MAX_VIOLATIONS as u64 + 10))
        .flat_map(|i| {
            [
                (2 * i, policy(Policy::EmergencyShutdown, 0)),
                (2 * i + 1, policy(Policy::AllowAll, 0)),
            ]
        })
        .collect();
    let report = check(&Input {
        records: &journal,
        initial: &initial,
        limits: &limits,
        produced: None,
    });
    assert_eq!(report.violations.len(), MAX_VIOLATIONS);
    assert_eq!(report.left_off, 10);
    assert!(report.to_string().contains("and 10 more, not listed"));
}
