//! A throw-away paper instance in a temp dir, all real processes: the fake Alpaca
//! (`ballast dev fake-alpaca`) and `ballast run` (supervisor, engine, API) with
//! `[broker] kind = "alpaca"` pointed at it. The shell the scenarios act on: start, stop,
//! kill -9, restart as systemd would; reads of the health report and of the fake. Dropped, it
//! stops every process it started and removes its directory.

use std::io::BufRead;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ballast_store::files::health::HealthFile;
use ballast_store::{Layout, RealStorage};

use super::http::{self, Answer};

/// How long a start may take (the fake's banner; the supervisor's control socket).
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a SIGTERM'd supervisor has to stop its engine and end before SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(20);
/// The polling period of every wait here.
pub const POLL: Duration = Duration::from_millis(100);

/// The fake's demo keys (paper).
const KEY_ID: &str = ballast_fake_alpaca::DEMO_KEY_ID;
const SECRET: &str = ballast_fake_alpaca::DEMO_SECRET_KEY;

/// What an instance is started with.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The API port (0: any free port).
    pub api_port: u16,
    /// Extra environment of `ballast run` (CHAOS_MODE…).
    pub env: Vec<(String, String)>,
}

pub struct Instance {
    pub root: PathBuf,
    pub data: PathBuf,
    pub config: PathBuf,
    exe: PathBuf,
    env: Vec<(String, String)>,
    fake: Child,
    pub fake_addr: SocketAddr,
    sup: Option<Child>,
}

/// A unique, new directory under the system's temp dir.
fn temp_dir(label: &str) -> Result<PathBuf, String> {
    let base = std::env::temp_dir();
    for n in 0..1000u32 {
        let dir = base.join(format!("ballast-chaos-{}-{label}-{n}", std::process::id()));
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(format!("cannot create a temp dir {}: {e}", dir.display())),
        }
    }
    Err(format!(
        "no free temp dir name under {} after 1000 tries: remove old ballast-chaos-* directories",
        base.display()
    ))
}

/// The instance's configuration: the fake at `url` for orders (and the bundled replay bars
/// for the feed, 10 a second), a fast SMA cross that trades early, fast health cycles that
/// ignore the machine's own load, alerts raised at once, the API on `api_port`.
pub fn config_text(url: &str, api_port: u16) -> String {
    format!(
        "[general]\nmode = \"paper\"\n\n[feed]\nsymbols = [\"AAPL\", \"MSFT\"]\nbars_per_second = 10\n\n\
         [strategy]\nfast = 2\nslow = 3\n\n[guard]\nmin_cooldown_bars = 6\n\n\
         [broker]\nkind = \"alpaca\"\n\n[broker.alpaca]\npaper_url = \"{url}\"\nlive_url = \"{url}\"\n\
         data_url = \"{url}\"\npoll_interval_ms = 1000\nreconcile_interval_secs = 30\ngrace_secs = 0\n\
         request_timeout_ms = 2000\nconnect_timeout_ms = 1000\n\n\
         [health]\ncycle_ms = 100\ncritical_interval_secs = 1\ninterval_secs = 1\nhysteresis_secs = 1\n\
         cpu_degraded_pct = 100\nmemory_degraded_pct = 100\ndisk_free_min_pct = 0\n\n\
         [alerts]\ngroup_wait_secs = 0\ngroup_interval_secs = 1\n\n[[alerts.sinks]]\nkind = \"log\"\n\n\
         [api]\nport = {api_port}\n"
    )
}

impl Instance {
    /// Start the fake and `ballast run` on a new temp dir (`label` names it).
    pub fn start(label: &str, opts: &Options) -> Result<Instance, String> {
        let exe = std::env::current_exe()
            .map_err(|e| format!("cannot find the ballast binary itself: {e}"))?;
        let root = temp_dir(label)?;
        let (fake, fake_addr) = match start_fake(&exe, &root) {
            Ok(f) => f,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&root);
                return Err(e);
            }
        };
        let config = root.join("ballast.toml");
        let mut inst = Instance {
            data: root.join("data"),
            config,
            exe,
            env: opts.env.clone(),
            fake,
            fake_addr,
            sup: None,
            root,
        };
        let text = config_text(&format!("http://{fake_addr}"), opts.api_port);
        std::fs::write(&inst.config, text)
            .map_err(|e| format!("cannot write {}: {e}", inst.config.display()))?;
        inst.start_supervisor()?;
        Ok(inst)
    }

    /// `ballast run` on the instance (its log appended to `supervisor.err`), once its control
    /// socket exists.
    pub fn start_supervisor(&mut self) -> Result<(), String> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.root.join("supervisor.err"))
            .map_err(|e| format!("cannot open the supervisor's log: {e}"))?;
        let child = Command::new(&self.exe)
            .env_remove("BALLAST_HOME")
            .env_remove("BALLAST_CONFIG")
            .env_remove("CHAOS_MODE")
            .env("APCA_API_KEY_ID", KEY_ID)
            .env("APCA_API_SECRET_KEY", SECRET)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .args(["run", "--data-dir"])
            .arg(&self.data)
            .arg("--config")
            .arg(&self.config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .map_err(|e| format!("cannot start `ballast run`: {e}"))?;
        self.sup = Some(child);
        let sock = Layout::new(&self.data).control_socket();
        let deadline = Instant::now() + START_TIMEOUT;
        while !sock.exists() {
            if let Some(sup) = self.sup.as_mut()
                && let Ok(Some(status)) = sup.try_wait()
            {
                return Err(format!(
                    "`ballast run` ended at its start ({status}); its log:\n{}",
                    self.log_tail(20)
                ));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "`ballast run` has no control socket after {} s; its log:\n{}",
                    START_TIMEOUT.as_secs(),
                    self.log_tail(20)
                ));
            }
            std::thread::sleep(POLL);
        }
        Ok(())
    }

    /// SIGTERM to the supervisor (it stops the engine first); SIGKILL after [`STOP_TIMEOUT`].
    /// Whether it ended by itself.
    pub fn stop_supervisor(&mut self) -> bool {
        let Some(mut sup) = self.sup.take() else {
            return true;
        };
        signal(sup.id(), rustix::process::Signal::TERM);
        let deadline = Instant::now() + STOP_TIMEOUT;
        while matches!(sup.try_wait(), Ok(None)) {
            if Instant::now() > deadline {
                let _ = sup.kill();
                let _ = sup.wait();
                return false;
            }
            std::thread::sleep(POLL);
        }
        true
    }

    /// kill -9 of the supervisor (its engine is left to the next start's orphan sweep).
    pub fn kill_supervisor(&mut self) {
        if let Some(mut sup) = self.sup.take() {
            let _ = sup.kill();
            let _ = sup.wait();
        }
    }

    /// The engine's pid, from its heartbeat.
    pub fn engine_pid(&self) -> Option<u32> {
        ballast_store::files::heartbeat::read(&RealStorage, &Layout::new(&self.data))
            .ok()
            .map(|hb| hb.pid)
            .filter(|pid| is_ours(*pid, &self.data))
    }

    /// kill -9 of the engine; its pid.
    pub fn kill_engine(&self) -> Result<u32, String> {
        let pid = self
            .engine_pid()
            .ok_or("no running engine of this instance (no heartbeat naming a live pid)")?;
        signal(pid, rustix::process::Signal::KILL);
        Ok(pid)
    }

    /// The overall health and the safety policy of the last report the supervisor wrote
    /// (`UNKNOWN` before its first cycle).
    pub fn health(&self) -> Option<(String, String)> {
        self.health_said().map(|(o, p, _)| (o, p))
    }

    /// [`Self::health`], and why: the policy's reason and each issue with its first symptom
    /// (cut short), for a failure message.
    pub fn health_said(&self) -> Option<(String, String, String)> {
        match ballast_store::files::health::read(&RealStorage, &Layout::new(&self.data)).ok()? {
            HealthFile::Report(r) => {
                let issues: Vec<String> = r
                    .issues
                    .iter()
                    .take(6)
                    .map(|i| {
                        let symptom: String = i
                            .symptoms
                            .first()
                            .map(|s| s.chars().take(160).collect())
                            .unwrap_or_default();
                        format!("{} ({symptom})", i.id)
                    })
                    .collect();
                let why = format!(
                    "policy because {}; issues: {}",
                    r.policy.reason,
                    if issues.is_empty() {
                        "none".to_owned()
                    } else {
                        issues.join("; ")
                    }
                );
                Some((
                    r.overall.as_str().to_owned(),
                    r.policy.policy.as_str().to_owned(),
                    why,
                ))
            }
            HealthFile::Pending(p) => Some((
                "UNKNOWN".to_owned(),
                p.policy.as_str().to_owned(),
                String::new(),
            )),
        }
    }

    /// A request to the fake (its control routes need no key).
    pub fn fake(&self, method: &str, path: &str, body: &str) -> Result<Answer, String> {
        http::request(self.fake_addr, method, path, body, None)
    }

    /// The API's address and operator token, once `run/api.addr` is complete.
    pub fn api(&self) -> Option<(SocketAddr, String)> {
        let layout = Layout::new(&self.data);
        let addr = std::fs::read_to_string(layout.api_addr()).ok()?;
        if !addr.ends_with('\n') {
            return None;
        }
        let addr: SocketAddr = addr.trim().trim_start_matches("http://").parse().ok()?;
        let token = std::fs::read_to_string(layout.api_token()).ok()?;
        Some((addr, token.trim().to_owned()))
    }

    /// `ballast ARGS --data-dir <data>` to its end, within `limit`: its exit and output.
    pub fn ballast(&self, args: &[&str], limit: Duration) -> Result<(bool, String), String> {
        let mut child = Command::new(&self.exe)
            .env_remove("BALLAST_HOME")
            .env_remove("BALLAST_CONFIG")
            .args(args)
            .arg("--data-dir")
            .arg(&self.data)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run `ballast {}`: {e}", args.join(" ")))?;
        let deadline = Instant::now() + limit;
        while matches!(child.try_wait(), Ok(None)) {
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "`ballast {}` did not end within {} s",
                    args.join(" "),
                    limit.as_secs()
                ));
            }
            std::thread::sleep(POLL);
        }
        let out = child
            .wait_with_output()
            .map_err(|e| format!("`ballast {}`: {e}", args.join(" ")))?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Ok((out.status.success(), text))
    }

    /// The last `n` lines of the supervisor's log (where the engine's lines land too).
    pub fn log_tail(&self, n: usize) -> String {
        let text = std::fs::read_to_string(self.root.join("supervisor.err")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let engine = self.engine_pid();
        if !self.stop_supervisor() {
            // Killed: an engine it could not stop is ended here too.
            if let Some(pid) = engine {
                signal(pid, rustix::process::Signal::KILL);
            }
        }
        if let Some(pid) = self.engine_pid() {
            // A supervisor killed without a restart leaves its engine behind.
            signal(pid, rustix::process::Signal::KILL);
        }
        signal(self.fake.id(), rustix::process::Signal::TERM);
        let deadline = Instant::now() + STOP_TIMEOUT;
        while matches!(self.fake.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(POLL);
        }
        let _ = self.fake.kill();
        let _ = self.fake.wait();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Send `sig` to `pid` (an error — the process is gone — is ignored: it is what was wanted).
fn signal(pid: u32, sig: rustix::process::Signal) {
    if let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    {
        let _ = rustix::process::kill_process(pid, sig);
    }
}

/// Whether `pid` is alive and a `ballast` process of the data directory `data` (a heartbeat
/// can name a pid the system has given to another process since).
fn is_ours(pid: u32, data: &Path) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let zombie = stat
        .rsplit(')')
        .next()
        .is_some_and(|r| r.trim_start().starts_with('Z'));
    let needle = data.to_string_lossy();
    !zombie && String::from_utf8_lossy(&cmdline).contains(needle.as_ref())
}

/// `ballast dev fake-alpaca` on a free port, the market one bar every 100 ms, its own rate
/// limit out of the way (a scenario scripts its 429s); its address from its banner.
fn start_fake(exe: &Path, root: &Path) -> Result<(Child, SocketAddr), String> {
    let mut child = Command::new(exe)
        .args([
            "dev",
            "fake-alpaca",
            "--port",
            "0",
            "--tick-ms",
            "100",
            "--rate-limit",
            "1000000",
            "--quiet",
        ])
        .env_remove("APCA_API_KEY_ID")
        .env_remove("APCA_API_SECRET_KEY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(
            std::fs::File::create(root.join("fake.err"))
                .map_err(|e| format!("cannot create the fake's log: {e}"))?,
        ))
        .spawn()
        .map_err(|e| format!("cannot start `ballast dev fake-alpaca`: {e}"))?;
    let Some(stdout) = child.stdout.take() else {
        let _ = child.kill();
        return Err("the fake's standard output is not readable".into());
    };
    let (tx, rx) = std::sync::mpsc::sync_channel::<String>(1);
    std::thread::spawn(move || {
        // The banner's first line names the URL; the rest is read to the end so the fake
        // never blocks on a full pipe.
        let mut sent = false;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if !sent && let Some(at) = line.find("http://127.0.0.1:") {
                let url: String = line[at + 7..]
                    .chars()
                    .take_while(|c| !c.is_whitespace())
                    .collect();
                let _ = tx.send(url);
                sent = true;
            }
        }
    });
    let addr = rx
        .recv_timeout(START_TIMEOUT)
        .ok()
        .and_then(|a| a.parse::<SocketAddr>().ok());
    match addr {
        Some(a) => Ok((child, a)),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            Err(format!(
                "`ballast dev fake-alpaca` printed no address within {} s: {}",
                START_TIMEOUT.as_secs(),
                std::fs::read_to_string(root.join("fake.err")).unwrap_or_default()
            ))
        }
    }
}
