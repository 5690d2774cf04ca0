//! Helpers shared by the tests that run `ballast run`: a supervisor under test, its status
//! over the control socket, waits that poll a condition with a deadline. By job: `process`
//! (the binary and other commands as processes), `wait` (the one polling loop), `report` (the
//! health report's fields), `journal` (the engine journal's records).
#![allow(dead_code)]

pub mod findings;
pub mod journal;
pub mod process;
pub mod report;
pub mod surfaces;
pub mod wait;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Fast health cycles and a one-second hysteresis; the machine's own CPU, memory and disk only
/// reported (a busy test machine must not move the policy).
pub const FAST_HEALTH: &str = "[health]\ncycle_ms = 100\ncritical_interval_secs = 1\ninterval_secs = 1\nhysteresis_secs = 1\ncpu_degraded_pct = 100\nmemory_degraded_pct = 100\ndisk_free_min_pct = 0\n";

/// A critical `[[services]]` entry that fails its budget at once until `dir/ok` exists (then
/// it runs): the way to EMERGENCY_SHUTDOWN.
pub fn failing_critical_service(dir: &Path) -> String {
    format!(
        "
[[services]]
name = \"risk-feed\"
kind = \"critical\"
command = \"/bin/sh\"
args = [\"-c\", \"test -f {ok} && exec sleep 1000; exit 3\"]
max_restarts = 0
restart_delay_ms = 0
",
        ok = dir.join("ok").display()
    )
}

pub fn ballast() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ballast"));
    c.env_remove("BALLAST_HOME").env_remove("BALLAST_CONFIG");
    // Each test's supervisor serves its API on a free port (run/api.addr says which), not
    // all of them on 7878 to 7881.
    c.env("BALLAST_API__PORT", "0");
    c
}

/// `ballast engine --standalone` on `dir`, as fast as the feed goes (`--bars-per-second 0`).
#[allow(dead_code)]
pub fn engine_cmd(dir: &Path) -> Command {
    let mut c = ballast();
    c.args([
        "engine",
        "--standalone",
        "--bars-per-second",
        "0",
        "--data-dir",
    ])
    .arg(dir);
    c
}

pub struct Sup {
    pub child: Child,
    pub dir: PathBuf,
}

impl Sup {
    pub fn start(dir: &Path, config: &str) -> Sup {
        Sup::start_with_env(dir, config, &[])
    }

    /// `start`, with these environment variables for the supervisor (and so its services).
    pub fn start_with_env(dir: &Path, config: &str, env: &[(&str, &str)]) -> Sup {
        let cfg = dir.join("ballast.toml");
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(&cfg, config).unwrap();
        Sup::run_files(dir, &dir.join("data"), &cfg, env)
    }

    /// `ballast run` of the configuration file `cfg` on the data directory `data`, its log in
    /// `dir/supervisor.err`, once its control socket answers.
    pub fn run_files(dir: &Path, data: &Path, cfg: &Path, env: &[(&str, &str)]) -> Sup {
        let child = ballast()
            .envs(env.iter().copied())
            .args(["run", "--data-dir"])
            .arg(data)
            .arg("--config")
            .arg(cfg)
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::File::create(dir.join("supervisor.err")).unwrap(),
            ))
            .spawn()
            .unwrap();
        let sup = Sup {
            child,
            dir: dir.to_owned(),
        };
        sup.wait_for("the control socket", |_| true);
        sup
    }

    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        ballast()
            .args(args)
            .arg("--data-dir")
            .arg(self.dir.join("data"))
            .output()
            .unwrap()
    }

    pub fn status(&self) -> Option<Value> {
        let out = self.cli(&["status", "--json"]);
        out.status
            .success()
            .then(|| serde_json::from_slice(&out.stdout).unwrap())
    }

    pub fn service(status: &Value, name: &str) -> Value {
        status["services"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .cloned()
            .unwrap_or(Value::Null)
    }

    /// Poll `status` until `cond` holds (at most 30 s).
    pub fn wait_for(&self, what: &str, cond: impl Fn(&Value) -> bool) -> Value {
        wait::until(
            Duration::from_secs(30),
            || self.status().filter(|s| cond(s)).ok_or(()),
            |()| {
                format!(
                    "timed out waiting for {what}; last status {:?}\n{}",
                    self.status(),
                    std::fs::read_to_string(self.dir.join("supervisor.err")).unwrap_or_default()
                )
            },
        )
    }

    pub fn stop(mut self) -> (std::process::ExitStatus, Duration) {
        let t = Instant::now();
        process::sigterm(&self.child);
        let status = self.child.wait().unwrap();
        (status, t.elapsed())
    }
}

impl Drop for Sup {
    fn drop(&mut self) {
        // SIGTERM first, so the supervisor stops its services (a SIGKILLed supervisor leaves
        // them to the next start's orphan sweep); SIGKILL if it is not gone within 10 s.
        if let Ok(None) = self.child.try_wait() {
            let _ = rustix::process::kill_process(
                rustix::process::Pid::from_child(&self.child),
                rustix::process::Signal::TERM,
            );
            let deadline = Instant::now() + Duration::from_secs(10);
            while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The supervisor's health report (`ballast health --json`), if it answers.
pub fn health(sup: &Sup) -> Option<Value> {
    let out = sup.cli(&["health", "--json"]);
    out.status
        .success()
        .then(|| serde_json::from_slice(&out.stdout).ok())
        .flatten()
}

/// Poll the health report until `cond` holds (at most 30 s).
pub fn wait_health(sup: &Sup, what: &str, cond: impl Fn(&Value) -> bool) -> Value {
    wait::until(
        Duration::from_secs(30),
        || match health(sup) {
            Some(h) if cond(&h) => Ok(h),
            last => Err(last),
        },
        |last| match last {
            Some(h) => format!(
                "timed out waiting for {what}; last report {h:#}\n{}",
                std::fs::read_to_string(sup.dir.join("supervisor.err")).unwrap_or_default()
            ),
            None => format!("no health report for {what}"),
        },
    )
}

/// `ballast engine --standalone` on `data` with `config`, as fast as it goes, for `bars` bars.
pub fn standalone_engine(data: &Path, config: &Path, bars: u32) -> std::process::Output {
    ballast()
        .args([
            "engine",
            "--standalone",
            "--bars-per-second",
            "0",
            "--max-bars",
        ])
        .arg(bars.to_string())
        .arg("--data-dir")
        .arg(data)
        .arg("--config")
        .arg(config)
        .output()
        .unwrap()
}

pub fn state(s: &Value, name: &str) -> String {
    Sup::service(s, name)["state"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

pub fn alive(pid: i32) -> bool {
    // Zombies count as dead: look at /proc state.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit(')')
                .next()
                .is_some_and(|r| !r.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

/// Run `c` to its end, killed and failed if it takes longer than `secs` (a read that blocks
/// on a FIFO, a read without end).
pub fn output_within(c: &mut Command, secs: u64) -> std::process::Output {
    process::run_within(c, Duration::from_secs(secs)).unwrap_or_else(|out| {
        panic!(
            "{c:?} did not end within {secs} s: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// One buy signal of 2 MSFT by strategy `t` with idempotency key `key`, appended to the data
/// directory's inbox in one write (the engine never sees half of it).
pub fn buy_signal(data: &Path, key: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(data.join("inbox/signals.jsonl"))
        .unwrap();
    let line = format!(
        "{{\"symbol\":\"MSFT\",\"side\":\"buy\",\"qty\":\"2\",\"strategy\":\"t\",\"idempotency_key\":\"{key}\"}}\n"
    );
    f.write_all(line.as_bytes()).unwrap();
}
