//! A full health cycle — every built-in check (the engine's from a real heartbeat file, the
//! journal, alerts, logging, resources via sysinfo and the file system, the healer) plus 50
//! declared `file_age` checks on real files — forced to run all at once (target: median
//! ≤ 1 ms). Run with `cargo bench -p ballast-supervisor --bench health`.
// A bench does I/O and reads the clock: the disallowed methods are the pure core's only.
#![allow(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    clippy::disallowed_macros
)]
#![forbid(unsafe_code)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ballast_core::config::{self, CheckConfig, CheckKind};
use ballast_store::SystemClock;
use ballast_supervisor::health::{ForeignExits, Inputs, Monitor, ServiceBrief};
use criterion::Criterion;

fn setup(dir: &std::path::Path, files: usize) -> (Monitor, Inputs) {
    let mut cfg = config::builtin().unwrap();
    for i in 0..files {
        let path = dir.join(format!("model-{i}.bin"));
        std::fs::write(&path, b"x").unwrap();
        cfg.checks.push(CheckConfig {
            name: format!("file-{i}"),
            kind: CheckKind::FileAge,
            critical: false,
            impacts_trading: false,
            depends_on: vec![],
            interval_secs: 0,
            timeout_ms: 2000,
            path: path.display().to_string(),
            healthy_max_age_secs: 300,
            degraded_max_age_secs: 3600,
            paths: vec![],
            degraded_min: 1,
            url: String::new(),
            address: String::new(),
            pattern: String::new(),
            command: String::new(),
            args: vec![],
            on_failure: Default::default(),
        });
    }
    for d in ["run", "logs", "state"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    let hb = serde_json::json!({
        "pid": 1, "loops": 1, "time": ballast_core::Clock::now(&SystemClock), "bars": 1, "last_seq": 1,
        "status": ballast_core::engine::EngineStatus::default(),
    });
    std::fs::write(dir.join("run/engine.heartbeat"), hb.to_string()).unwrap();
    let monitor = Monitor::new(
        dir,
        Arc::new(cfg),
        Arc::new(SystemClock),
        Arc::new(ForeignExits::default()),
    );
    let inputs = Inputs {
        services: vec![ServiceBrief {
            name: "engine".into(),
            state: ballast_core::supervisor::ShownState::Is(
                ballast_core::supervisor::ServiceState::Running,
            ),
            critical: true,
            depends_on: vec![],
            last_exit: None,
        }],
        ..Inputs::default()
    };
    (monitor, inputs)
}

fn main() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut monitor, inputs) = setup(tmp.path(), 50);
    let first = monitor.cycle(&inputs, true);
    let n = first.subsystems.len();
    let checks: usize = first.subsystems.iter().map(|s| s.checks.len()).sum();
    let mut samples = Vec::with_capacity(201);
    for _ in 0..201 {
        let t = Instant::now();
        black_box(monitor.cycle(&inputs, true));
        samples.push(t.elapsed().as_secs_f64() * 1e6);
    }
    samples.sort_by(f64::total_cmp);
    let median = samples[100];
    println!();
    println!(
        "health cycle, every check forced: {n} subsystems, {checks} checks (50 declared file checks)"
    );
    println!(
        "  median {median:.0} µs, p90 {:.0} µs   ratio to the 1 ms target {:.2}",
        samples[180],
        median / 1000.0
    );
    println!();

    let mut c = Criterion::default()
        .configure_from_args()
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    c.bench_function("health_cycle_all_checks_plus_50_files", |b| {
        b.iter(|| black_box(monitor.cycle(&inputs, true)))
    });
    c.final_summary();
}
