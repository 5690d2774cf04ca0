//! The chaos run's report: one versioned JSON document (`--json`, `--report FILE`) and the
//! table people read (scenario, fault, expected, observed, time, verdict), built from the
//! outcomes purely.

use serde::Serialize;

use super::runner::Outcome;
use super::scenario::{Expected, SCENARIOS, Scenario};
use super::verdict::{self, Observed};

/// The report's format version.
pub const VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub version: u32,
    pub seed: u64,
    /// Every scenario run passed.
    pub passed: bool,
    pub scenarios: Vec<Row>,
    /// Scenarios declared but not run by this build (their seam is missing), never passing.
    pub declared_not_run: Vec<&'static str>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub name: &'static str,
    pub fault: &'static str,
    pub expected: String,
    pub expect: Expected,
    pub observed: String,
    /// Time to the expected response, in ms (None: not seen).
    pub response_ms: Option<u64>,
    pub elapsed_ms: u64,
    pub seed: u64,
    /// `pass` or `fail`.
    pub verdict: &'static str,
    pub reasons: Vec<String>,
    pub signals_acked: usize,
    pub detail: Observed,
}

/// The report of these outcomes; `seams`: whether this build has the in-process modes.
pub fn build(seed: u64, outcomes: &[Outcome], seams: bool) -> Report {
    let scenarios: Vec<Row> = outcomes.iter().map(row).collect();
    Report {
        version: VERSION,
        seed,
        passed: scenarios.iter().all(|r| r.verdict == "pass"),
        scenarios,
        declared_not_run: declared_not_run(seams),
    }
}

fn row(o: &Outcome) -> Row {
    let s: &Scenario = &o.scenario;
    Row {
        name: s.name,
        fault: s.fault,
        expected: s.expect.said(),
        expect: s.expect,
        observed: verdict::observed_said(&s.expect, &o.observed),
        response_ms: o.observed.response_ms,
        elapsed_ms: o.elapsed_ms,
        seed: o.seed,
        verdict: if o.verdict.pass { "pass" } else { "fail" },
        reasons: o.verdict.reasons.clone(),
        signals_acked: o.signals_acked,
        detail: o.observed.clone(),
    }
}

/// The scenarios this build declares and cannot run.
pub fn declared_not_run(seams: bool) -> Vec<&'static str> {
    if seams {
        return Vec::new();
    }
    SCENARIOS
        .iter()
        .filter(|s| !s.in_default_set)
        .map(|s| s.name)
        .collect()
}

/// The table, one line per scenario under a header, then what failed, each reason on its
/// line, and the scenarios not run.
pub fn table(r: &Report) -> String {
    let head = [
        "scenario", "fault", "expected", "observed", "time", "verdict",
    ];
    let rows: Vec<[String; 6]> = r
        .scenarios
        .iter()
        .map(|row| {
            [
                row.name.to_owned(),
                row.fault.to_owned(),
                row.expected.clone(),
                row.observed.clone(),
                row.response_ms
                    .map_or_else(|| "—".to_owned(), |ms| format!("{} s", verdict::secs(ms))),
                row.verdict.to_uppercase(),
            ]
        })
        .collect();
    let mut width = head.map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in width.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| -> String {
        let parts: Vec<String> = cells
            .iter()
            .zip(width)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        parts.join("  ").trim_end().to_owned()
    };
    let mut out = vec![line(&head.map(str::to_owned))];
    out.extend(rows.iter().map(|r| line(r)));
    let failed: Vec<&Row> = r.scenarios.iter().filter(|s| s.verdict != "pass").collect();
    for f in &failed {
        out.push(format!("FAILED {} (seed {}):", f.name, f.seed));
        out.extend(f.reasons.iter().map(|why| format!("    {why}")));
    }
    if !r.declared_not_run.is_empty() {
        out.push(format!(
            "not run (declared; their expected responses are not settled yet): {}",
            r.declared_not_run.join(", ")
        ));
    }
    let passed = r.scenarios.len() - failed.len();
    out.push(format!(
        "{passed} of {} scenario(s) passed (seed {})",
        r.scenarios.len(),
        r.seed
    ));
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chaos::verdict::Verdict;

    fn outcome(name: &'static str, pass: bool) -> Outcome {
        let scenario = *SCENARIOS.iter().find(|s| s.name == name).unwrap();
        Outcome {
            scenario,
            seed: 7,
            observed: Observed {
                response_ms: pass.then_some(2_345),
                ..Observed::default()
            },
            verdict: Verdict {
                pass,
                reasons: if pass {
                    vec![]
                } else {
                    vec!["expected this, saw that".into()]
                },
            },
            elapsed_ms: 9_000,
            signals_acked: 12,
        }
    }

    #[test]
    fn the_table_shows_each_scenario_and_names_what_failed() {
        let r = build(
            7,
            &[outcome("broker_down", true), outcome("engine_crash", false)],
            false,
        );
        assert!(!r.passed);
        let t = table(&r);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].starts_with("scenario"), "{t}");
        assert!(lines[1].starts_with("broker_down") && lines[1].ends_with("PASS"));
        assert!(lines[1].contains("2.3 s"));
        assert!(lines[2].starts_with("engine_crash") && lines[2].ends_with("FAIL"));
        assert!(t.contains("FAILED engine_crash (seed 7):\n    expected this, saw that"));
        assert!(t.contains(
            "not run (declared; their expected responses are not settled yet): disk_full"
        ));
        assert!(t.ends_with("1 of 2 scenario(s) passed (seed 7)"));
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["version"], 1);
        assert_eq!(json["scenarios"][1]["verdict"], "fail");
        assert!(build(7, &[outcome("broker_down", true)], true).passed);
    }
}
