//! `ballast run`'s HTTP API: the tokens and the bind checked before anything starts (an
//! unsafe remote bind is refused, exit 78), then — when the supervisor's loop starts — the
//! API bound (the next ports tried when taken), served on its own runtime, its URL
//! published (`ballast status`, `run/api.addr`) and printed once with the token.

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
    let refuse = |why: String| {
        err!("ballast run: {why}\n    nothing was started");
        exit::CONFIG
    };
    let ip: IpAddr = cfg.api.bind.parse().map_err(|_| {
        refuse(format!(
            "[api] bind = {:?} is not an IP address",
            cfg.api.bind
        ))
    })?;
    let base = choice
        .absolute()
        .and_then(|p| p.parent().map(Path::to_path_buf));
    let file = |f: &str| (!f.is_empty()).then(|| resolve(base.as_deref(), f));
    let layout = ballast_store::Layout::new(&dir.path);
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
    let wrote = Arc::new(std::sync::OnceLock::new());
    let start = Start {
        ip,
        port: cfg.api.port,
        tokens: Arc::new(tokens),
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
    ip: IpAddr,
    port: u16,
    tokens: Arc<ballast_api::auth::Tokens>,
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
        let bound = match ballast_api::serve::bind(self.ip, self.port) {
            Ok(b) => b,
            Err(e) => {
                err!("ballast run: the API is off: {e}; the supervisor runs without it");
                return;
            }
        };
        for line in &bound.taken {
            err!("ballast run: {line}");
        }
        let url = format!("http://{}", bound.addr);
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
            tokens: Arc::clone(&self.tokens),
            config: Arc::new(move || super::config::effective(&choice, &dir)),
            cycle: self.cycle,
            metrics: (self.metrics_port == 0).then(|| {
                ballast_api::metrics::Metrics::supervisor(surface.clone(), &self.dir.path)
            }),
            follower,
            signals,
        };
        super::metrics::start_separate(&self.api, &self.dir.path, surface.clone());
        if let Err(e) = ballast_api::serve::spawn(bound.listener, ballast_api::app(&ctx)) {
            err!("ballast run: the API is off: cannot start its threads: {e}");
            return;
        }
        surface.published.set_api(url.clone());
        // Marked as this run's before it is written: a stop right after the write (a script
        // that read the address and stops at once) removes it too, never leaves a stale one.
        let _ = self.wrote.set(layout.api_addr());
        match write_addr(&layout, &url) {
            Ok(()) => {}
            Err(e) => err!(
                "ballast run: cannot write {}: {e} (the API runs; `ballast status` shows its address)",
                layout.api_addr().display()
            ),
        }
        out!("dashboard: {url}/  (API: {url}/v1, documented at {url}/openapi.json)");
        let op = &self.tokens.operator;
        match &op.origin {
            ballast_api::auth::Origin::Generated(path) => out!(
                "operator token (generated now, kept in {}; printed this once): {}\nviewer (read-only) token in {}",
                path.display(),
                op.reveal(),
                self.tokens.viewer.origin.path().display()
            ),
            origin => out!(
                "operator token in {}, viewer (read-only) token in {}",
                origin.path().display(),
                self.tokens.viewer.origin.path().display()
            ),
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
