//! `ballast run`'s HTTP API: the tokens and the bind checked before anything starts (an
//! unsafe remote bind is refused, exit 78), then — when the supervisor's loop starts — the
//! API bound (the next ports tried when taken), served on its own runtime, its URL
//! published (`ballast status`, `run/api.addr`) and printed once with the token. The checks,
//! the bind and the start are one implementation for `ballast run` and for
//! `ballast engine --standalone` ([`standalone`]: the engine's own endpoints).

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ballast_core::config::Config;
use ballast_supervisor::surface::{Surface, SurfaceHook};

use super::{err, out};
use crate::exit::{self, Exit};
use crate::settings::{ConfigChoice, DataDir};

/// The API's part of `ballast run`, checked: its hook for the supervisor, or the refusal
/// printed and its exit code (78: the configuration or the tokens are wrong).
pub fn prepare(cfg: &Config, choice: &ConfigChoice, dir: &DataDir) -> Result<Prepared, Exit> {
    let checked = check("ballast run", cfg, Some(choice), &dir.path)?;
    let wrote = Arc::new(std::sync::OnceLock::new());
    let start = Start {
        checked,
        choice: choice.clone(),
        dir: dir.clone(),
        wrote: Arc::clone(&wrote),
        cycle: std::time::Duration::from_millis(u64::from(cfg.health.cycle_ms)),
        metrics_port: cfg.api.metrics_port,
        api: cfg.api.clone(),
        config: Arc::new(cfg.clone()),
    };
    Ok(Prepared {
        hook: SurfaceHook(Arc::new(move |surface| start.serve(surface))),
        wrote,
    })
}

/// The API's address and tokens, checked before anything starts (`ballast run`'s and the
/// standalone engine's).
pub struct Checked {
    pub ip: IpAddr,
    pub port: u16,
    pub tokens: Arc<ballast_api::auth::Tokens>,
}

/// `[api] bind` parsed, the tokens read or generated, a remote bind without a supplied token
/// (or without `allow_remote`) refused: the refusal printed as `who`'s, exit 78.
pub fn check(
    who: &str,
    cfg: &Config,
    choice: Option<&ConfigChoice>,
    dir: &Path,
) -> Result<Checked, Exit> {
    let refuse = |why: String| {
        err!("{who}: {why}\n    nothing was started");
        exit::CONFIG
    };
    let ip: IpAddr = cfg.api.bind.parse().map_err(|_| {
        refuse(format!(
            "[api] bind = {:?} is not an IP address",
            cfg.api.bind
        ))
    })?;
    let base = choice
        .and_then(ConfigChoice::absolute)
        .and_then(|p| p.parent().map(Path::to_path_buf));
    let file = |f: &str| (!f.is_empty()).then(|| resolve(base.as_deref(), f));
    let layout = ballast_store::Layout::new(dir);
    let tokens = ballast_api::auth::load(
        file(&cfg.api.token_file).as_deref(),
        file(&cfg.api.viewer_token_file).as_deref(),
        &layout.api_token(),
        &layout.api_viewer_token(),
    )
    .map_err(|e| refuse(format!("the API's tokens: {e}")))?;
    let operator = match ballast_api::auth::OperatorToken::of(&tokens.operator) {
        // A token generated before generated tokens were marked, read from this data
        // directory's own token files: generated all the same.
        ballast_api::auth::OperatorToken::Own
            if in_data_dir(tokens.operator.origin.path(), &layout) =>
        {
            ballast_api::auth::OperatorToken::GeneratedInFile(
                tokens.operator.origin.path().to_owned(),
            )
        }
        other => other,
    };
    if let Some(why) = ballast_api::auth::remote_refusal(ip, cfg.api.allow_remote, &operator) {
        return Err(refuse(why));
    }
    Ok(Checked {
        ip,
        port: cfg.api.port,
        tokens: Arc::new(tokens),
    })
}

/// Bind the API (the next ports tried when taken, each said), or say why it is off — `what`
/// runs without it (the API never holds anything up).
pub fn listen(who: &str, what: &str, c: &Checked) -> Option<ballast_api::serve::Bound> {
    match ballast_api::serve::bind(c.ip, c.port) {
        Ok(b) => {
            for line in &b.taken {
                err!("{who}: {line}");
            }
            Some(b)
        }
        Err(e) => {
            err!("{who}: the API is off: {e}; {what} runs without it");
            None
        }
    }
}

/// Who serves the API, what it says at start (`{url}` replaced) and where.
pub struct Voice {
    pub who: &'static str,
    pub line: &'static str,
    pub to: Say,
}

/// Serve `router` on `bound`, then tell `serving` its URL, write `run/api.addr` and say the
/// voice's line and the token once. The address file's path when written (the caller removes
/// it at exit); `None` when the file could not be written (said; the API runs); `Err` when the
/// API could not start (said).
pub fn start(
    voice: &Voice,
    layout: &ballast_store::Layout,
    bound: ballast_api::serve::Bound,
    router: axum::Router,
    tokens: &ballast_api::auth::Tokens,
    serving: impl FnOnce(&str),
) -> Result<Option<PathBuf>, ()> {
    let who = voice.who;
    let url = format!("http://{}", bound.addr);
    if let Err(e) = ballast_api::serve::spawn(bound.listener, router) {
        err!("{who}: the API is off: cannot start its threads: {e}");
        return Err(());
    }
    serving(&url);
    let wrote = match write_addr(layout, &url) {
        Ok(()) => Some(layout.api_addr()),
        Err(e) => {
            err!(
                "{who}: cannot write {}: {e} (the API runs at {url})",
                layout.api_addr().display()
            );
            None
        }
    };
    voice.to.line(&voice.line.replace("{url}", &url));
    voice.to.line(&token_line(tokens, voice.to));
    Ok(wrote)
}

/// Where the start's lines go: `ballast run`'s stdout, or a standalone engine's log (its
/// stdout is the final report, a format scripts read; its stderr the log's lines, text or
/// JSON) — which also goes to `logs/engine.log`, so the token itself is never in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Say {
    Out,
    Log,
}

impl Say {
    fn line(self, text: &str) {
        match self {
            Say::Out => out!("{text}"),
            Say::Log => crate::logging::bridge("ballast::engine", text),
        }
    }
}

/// The operator's token, shown once when it was generated now (on stdout only: never in a
/// log); where both are kept.
fn token_line(tokens: &ballast_api::auth::Tokens, to: Say) -> String {
    let op = &tokens.operator;
    match &op.origin {
        ballast_api::auth::Origin::Generated(path) if to == Say::Log => format!(
            "operator token generated now, kept in {} (0600: read it there; it is never logged), viewer (read-only) token in {}",
            path.display(),
            tokens.viewer.origin.path().display()
        ),
        ballast_api::auth::Origin::Generated(path) => format!(
            "operator token (generated now, kept in {}; printed this once): {}\nviewer (read-only) token in {}",
            path.display(),
            op.reveal(),
            tokens.viewer.origin.path().display()
        ),
        origin => format!(
            "operator token in {}, viewer (read-only) token in {}",
            origin.path().display(),
            tokens.viewer.origin.path().display()
        ),
    }
}

/// The API's hook for the supervisor, and the `run/api.addr` it wrote, once it has (removed
/// when this is dropped).
pub struct Prepared {
    pub hook: SurfaceHook,
    wrote: Arc<std::sync::OnceLock<PathBuf>>,
}

impl Drop for Prepared {
    /// Remove the `run/api.addr` this run wrote (`ballast run` returns when its supervisor
    /// stopped: the address is then no one's); another supervisor's is left alone.
    fn drop(&mut self) {
        if let Some(path) = self.wrote.get() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// A relative token file is against the configuration file's directory.
fn resolve(base: Option<&Path>, file: &str) -> PathBuf {
    let path = Path::new(file);
    match base {
        Some(b) if path.is_relative() => b.join(path),
        _ => path.to_path_buf(),
    }
}

struct Start {
    checked: Checked,
    choice: ConfigChoice,
    dir: DataDir,
    wrote: Arc<std::sync::OnceLock<PathBuf>>,
    cycle: std::time::Duration,
    metrics_port: u16,
    api: ballast_core::config::Api,
    /// The configuration the engine runs with (the follower's empty state and limits).
    config: Arc<Config>,
}

impl Start {
    /// Bind and serve; a failure leaves the supervisor running without the API, said.
    fn serve(&self, surface: Surface) {
        const WHO: &str = "ballast run";
        let Some(bound) = listen(WHO, "the supervisor", &self.checked) else {
            return;
        };
        let layout = ballast_store::Layout::new(&self.dir.path);
        let (choice, dir) = (self.choice.clone(), self.dir.clone());
        let mut follow =
            ballast_api::follow::FollowOptions::new(&self.dir.path, Arc::clone(&self.config));
        follow.published = Some(Arc::clone(&surface.published));
        let follower = match ballast_api::follow::Follower::start(follow) {
            Ok(f) => Arc::new(f),
            Err(e) => {
                err!("ballast run: the API is off: cannot start its journal follower: {e}");
                return;
            }
        };
        let signals = match ballast_api::signals::SignalsState::open(
            &layout,
            &self.config,
            Arc::new(ballast_store::RealStorage),
            Arc::new(ballast_store::SystemClock),
        ) {
            Ok(s) => Some(s),
            Err(e) => {
                err!("ballast run: POST and GET /v1/signals are off: {e}");
                None
            }
        };
        let ctx = ballast_api::Context {
            surface: surface.clone(),
            layout: layout.clone(),
            tokens: Arc::clone(&self.checked.tokens),
            config: {
                // Seen at the start, when the file is the configuration just loaded.
                let seen = std::sync::Mutex::new(None);
                super::config::in_force(&choice, &dir, &seen);
                Arc::new(move || super::config::in_force(&choice, &dir, &seen))
            },
            cycle: self.cycle,
            metrics: (self.metrics_port == 0).then(|| {
                ballast_api::metrics::Metrics::supervisor(surface.clone(), &self.dir.path)
            }),
            follower,
            signals,
        };
        super::metrics::start_separate(&self.api, &self.dir.path, Some(surface.clone()));
        let voice = Voice {
            who: WHO,
            line: "dashboard: {url}/  (API: {url}/v1, documented at {url}/openapi.json)",
            to: Say::Out,
        };
        let app = ballast_api::app(&ctx);
        let published = |url: &str| surface.published.set_api(url.to_owned());
        let tokens = &self.checked.tokens;
        let Ok(wrote) = start(&voice, &layout, bound, app, tokens, published) else {
            return;
        };
        if let Some(path) = wrote {
            let _ = self.wrote.set(path);
        }
    }
}

/// Whether `path` is one of the data directory's generated token files (followed through
/// links).
fn in_data_dir(path: &Path, layout: &ballast_store::Layout) -> bool {
    let real = |p: &Path| std::fs::canonicalize(p).ok();
    let Some(path) = real(path) else {
        return false;
    };
    [layout.api_token(), layout.api_viewer_token()]
        .iter()
        .any(|p| real(p).as_deref() == Some(path.as_path()))
}

/// `run/api.addr`: the URL, atomically (scripts and tests read it).
fn write_addr(layout: &ballast_store::Layout, url: &str) -> std::io::Result<()> {
    ballast_store::files::write_atomic(
        &ballast_store::RealStorage,
        &layout.api_addr(),
        format!("{url}\n").as_bytes(),
    )
}

/// How old the standalone engine's heartbeat may be before `/livez` fails: the engine writes it
/// every loop (at least every second at any pace, every 20 ms idle).
pub const ENGINE_LIVE_WITHIN: std::time::Duration = std::time::Duration::from_secs(15);

/// The standalone engine's API (`ballast engine --standalone`), [`check`]ed as `ballast run`'s
/// before anything starts (exit 78 on a refusal): bound and served on its own threads. It never holds
/// up the engine: when it cannot bind, that is said and the engine trades without it. The
/// `run/api.addr` it wrote is removed when the answer is dropped.
pub fn standalone(cfg: &Config, checked: Checked, dir: &Path) -> Served {
    const WHO: &str = "ballast engine";
    let Some(bound) = listen(WHO, "the engine", &checked) else {
        return Served { wrote: None };
    };
    let layout = ballast_store::Layout::new(dir);
    let follow = ballast_api::follow::FollowOptions::new(dir, Arc::new(cfg.clone()));
    let follower = match ballast_api::follow::Follower::start(follow) {
        Ok(f) => Some(Arc::new(f)),
        Err(e) => {
            err!(
                "{WHO}: the engine views and /v1/events are off: cannot start the journal follower: {e}"
            );
            None
        }
    };
    let signals = match ballast_api::signals::SignalsState::open(
        &layout,
        cfg,
        Arc::new(ballast_store::RealStorage),
        Arc::new(ballast_store::SystemClock),
    ) {
        Ok(s) => Some(s),
        Err(e) => {
            err!("{WHO}: POST and GET /v1/signals are off: {e}");
            None
        }
    };
    let ctx = ballast_api::engine::EngineContext {
        layout: layout.clone(),
        tokens: Arc::clone(&checked.tokens),
        pid: std::process::id(),
        started: std::time::Instant::now(),
        live_within: ENGINE_LIVE_WITHIN,
        metrics: (cfg.api.metrics_port == 0).then(|| ballast_api::metrics::Metrics::engine(dir)),
        follower,
        signals,
    };
    super::metrics::start_separate(&cfg.api, dir, None);
    let voice = Voice {
        who: WHO,
        line: "engine API: {url}/v1/health  (probes {url}/livez {url}/readyz, metrics {url}/metrics, documented at {url}/openapi.json)",
        to: Say::Log,
    };
    let app = ballast_api::engine::engine_app(&ctx);
    let wrote = start(&voice, &layout, bound, app, &checked.tokens, |_| {}).unwrap_or(None);
    Served { wrote }
}

/// The standalone engine's API while it serves: its `run/api.addr` removed when dropped.
pub struct Served {
    wrote: Option<PathBuf>,
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(path) = &self.wrote {
            let _ = std::fs::remove_file(path);
        }
    }
}
