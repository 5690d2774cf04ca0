//! The verdict of a scenario: a pure function of what was observed. [`responded`] says
//! whether one sample of the instance shows the expected response (the runner polls it);
//! [`verdict`] judges the whole run — the response, its time, and the ledger invariants.

use serde::Serialize;

use super::scenario::Expected;

/// One look at the running instance.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Sample {
    /// The overall health (`HEALTHY`, `FAILED_CONFIG`…; empty: no report).
    pub overall: String,
    /// The safety policy (`ALLOW_ALL`…).
    pub policy: String,
    /// Why, in words: the policy's reason and the open issues (for a failure message).
    pub why: String,
    /// Issue ids with an alert raised (journal/ops `alert.raised`), since the instance began.
    pub alerts: Vec<String>,
    /// Orders the broker created since the reference point (the fault's end for a recovery,
    /// the halt for a halt).
    pub orders_since: u64,
}

/// Whether `s` shows the response `expected` asks for.
pub fn responded(expected: &Expected, s: &Sample) -> bool {
    match *expected {
        Expected::Recovers { .. } => {
            s.overall == "HEALTHY" && s.policy == "ALLOW_ALL" && s.orders_since > 0
        }
        Expected::Halts {
            overall,
            policy,
            alert,
            ..
        } => {
            s.overall == overall && s.policy == policy && s.alerts.iter().any(|a| a.contains(alert))
        }
    }
}

/// What a scenario's run observed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Observed {
    /// Milliseconds from the reference point to the response (None: not seen in time).
    pub response_ms: Option<u64>,
    /// The last sample taken (at the response, or at the deadline).
    pub last: Sample,
    /// The worst overall health seen while the fault was in place (empty: none read).
    pub during: String,
    /// For a halt: orders the broker created after the halt was seen (must be 0).
    pub orders_after_halt: u64,
    /// Ledger invariants that do not hold, each in words.
    pub breaches: Vec<String>,
    /// What kept the runner from doing its part (the instance did not start…).
    pub errors: Vec<String>,
}

/// A scenario's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub pass: bool,
    /// Why it failed, each reason in words (empty when it passed).
    pub reasons: Vec<String>,
}

/// Judge a run: the expected response seen within its time, nothing forbidden after a halt,
/// every ledger invariant holding, and no runner error.
pub fn verdict(expected: &Expected, o: &Observed) -> Verdict {
    let mut reasons: Vec<String> = o.errors.clone();
    let limit_ms = expected.within_secs().saturating_mul(1000);
    match o.response_ms {
        Some(ms) if ms <= limit_ms => {}
        Some(ms) => reasons.push(format!(
            "the response came after {} s, over the {} s allowed",
            secs(ms),
            expected.within_secs()
        )),
        None => reasons.push(format!(
            "expected {}; last seen: health {}, policy {} ({}), alerts [{}], {} new order(s)",
            expected.said(),
            or_none(&o.last.overall),
            or_none(&o.last.policy),
            o.last.why,
            o.last.alerts.join(", "),
            o.last.orders_since
        )),
    }
    if matches!(expected, Expected::Halts { .. }) && o.orders_after_halt > 0 {
        reasons.push(format!(
            "{} order(s) reached the broker after the halt (the halt forbids any)",
            o.orders_after_halt
        ));
    }
    reasons.extend(o.breaches.iter().map(|b| format!("ledger: {b}")));
    Verdict {
        pass: reasons.is_empty(),
        reasons,
    }
}

/// What was observed, in words, for the table.
pub fn observed_said(expected: &Expected, o: &Observed) -> String {
    let shown = match expected {
        Expected::Recovers { .. } => format!(
            "{}, {}, {} new order(s)",
            or_none(&o.last.overall),
            or_none(&o.last.policy),
            o.last.orders_since
        ),
        Expected::Halts { alert, .. } => {
            let alerted = o.last.alerts.iter().any(|a| a.contains(alert));
            format!(
                "{}, {}, alert {}",
                or_none(&o.last.overall),
                or_none(&o.last.policy),
                if alerted { *alert } else { "none" }
            )
        }
    };
    match o.during.as_str() {
        "" => shown,
        during => format!("{during} during; {shown}"),
    }
}

/// Milliseconds as seconds with one decimal.
pub fn secs(ms: u64) -> String {
    format!("{}.{}", ms / 1000, (ms % 1000) / 100)
}

fn or_none(s: &str) -> &str {
    if s.is_empty() { "no report" } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HALT: Expected = Expected::Halts {
        overall: "FAILED_API_SCHEMA",
        policy: "EMERGENCY_SHUTDOWN",
        alert: "broker",
        within_secs: 30,
    };

    fn sample(overall: &str, policy: &str, alerts: &[&str], orders: u64) -> Sample {
        Sample {
            overall: overall.into(),
            policy: policy.into(),
            alerts: alerts.iter().map(|a| (*a).to_owned()).collect(),
            orders_since: orders,
            why: String::new(),
        }
    }

    #[test]
    fn a_recovery_needs_health_policy_and_trading_all_three() {
        let e = Expected::Recovers { within_secs: 10 };
        assert!(responded(&e, &sample("HEALTHY", "ALLOW_ALL", &[], 1)));
        assert!(!responded(&e, &sample("HEALTHY", "ALLOW_ALL", &[], 0)));
        assert!(!responded(&e, &sample("DEGRADED", "ALLOW_ALL", &[], 3)));
        assert!(!responded(&e, &sample("HEALTHY", "NO_NEW_TRADES", &[], 3)));
    }

    #[test]
    fn a_halt_needs_its_state_its_policy_and_its_alert() {
        let ok = sample(
            "FAILED_API_SCHEMA",
            "EMERGENCY_SHUTDOWN",
            &["broker/compat"],
            0,
        );
        assert!(responded(&HALT, &ok));
        let mut no_alert = ok.clone();
        no_alert.alerts.clear();
        assert!(!responded(&HALT, &no_alert));
        let mut wrong = ok.clone();
        wrong.overall = "FAILED_CONFIG".into();
        assert!(!responded(&HALT, &wrong));
        let mut soft = ok;
        soft.policy = "NO_NEW_TRADES".into();
        assert!(!responded(&HALT, &soft));
    }

    #[test]
    fn the_verdict_fails_on_time_on_orders_after_a_halt_and_on_a_breach() {
        let mut o = Observed {
            response_ms: Some(2_000),
            ..Observed::default()
        };
        assert!(verdict(&HALT, &o).pass);
        o.response_ms = Some(31_000);
        let v = verdict(&HALT, &o);
        assert!(!v.pass);
        assert!(v.reasons[0].contains("31.0 s"), "{v:?}");
        o.response_ms = None;
        assert!(verdict(&HALT, &o).reasons[0].starts_with("expected halts"));
        o.response_ms = Some(1_000);
        o.orders_after_halt = 2;
        assert!(verdict(&HALT, &o).reasons[0].contains("2 order(s)"));
        o.orders_after_halt = 0;
        o.breaches.push("duplicate client_order_id x".into());
        assert_eq!(
            verdict(&HALT, &o).reasons,
            ["ledger: duplicate client_order_id x"]
        );
        o.breaches.clear();
        o.errors.push("the instance did not start".into());
        assert!(!verdict(&HALT, &o).pass);
    }
}
