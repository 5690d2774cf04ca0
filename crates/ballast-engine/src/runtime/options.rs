//! How the engine runs ([`Options`]): bounds for tests and demos, the supervisor it answers
//! to, its wake pipe, and the chaos it injects (paper mode only), with the waits that end on a
//! stop signal.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ballast_core::broker::PaperChaos;
use ballast_core::engine::TrimRules;

use super::FeedStall;

/// How to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Stop cleanly after this many bars in total (journal included): for tests and demos.
    pub max_bars: Option<u64>,
    /// Overrides `[feed] bars_per_second` (0 = as fast as possible).
    pub bars_per_second: Option<u32>,
    /// Chaos (paper mode only): abort the process right after the journal record with this
    /// seq is durable, as a crash would.
    pub crash_after_seq: Option<u64>,
    /// Chaos (paper mode only): the paper venue's reply to one send in this many is lost (the
    /// outcome is unknown; whether the venue got the order is decided per order, seeded), so
    /// the order stays in flight until a lookup by `client_order_id` settles it.
    pub lost_reply_every: Option<u32>,
    /// Auto-trim rules (set by [`run`] from the configuration).
    pub trim: TrimRules,
    /// Log every bar too (debug level: `RUST_LOG=debug`).
    pub debug: bool,
    /// The supervisor's pid when it started this engine (`engine --supervised`): once it is no
    /// longer the engine's parent — the supervisor died — the engine halts before its next
    /// order, whether or not its parent-death signal arrived.
    pub supervisor: Option<u32>,
    /// Readable when a stop signal arrived (a self-pipe): every wait of the engine — the
    /// pacing between bars, a stall — ends at once on it.
    pub wake: Option<Arc<std::os::unix::net::UnixStream>>,
    /// Chaos (paper mode only): stall this long between the first order intent and its send
    /// (a slow decision path), to show that nothing is sent once a stop is asked for.
    pub stall_before_send_ms: Option<u64>,
    /// Chaos (paper mode only): the primary feed delivers nothing for these bars
    /// (`BALLAST_CHAOS_FEED_STALL`), so that `[feed.backup]` takes over.
    pub feed_stall: Option<FeedStall>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_bars: None,
            bars_per_second: None,
            crash_after_seq: None,
            lost_reply_every: None,
            debug: false,
            supervisor: None,
            wake: None,
            stall_before_send_ms: None,
            feed_stall: None,
            trim: TrimRules {
                max_total_at_risk_pct: rust_decimal::Decimal::from(25),
                max_failures_before_alert: 3,
                patience_bars: 1,
                twap_slices: 3,
                headroom_pct: rust_decimal::Decimal::from(5),
            },
        }
    }
}

impl Options {
    /// The paper venue's chaos options.
    pub(super) fn paper_chaos(&self) -> PaperChaos {
        PaperChaos {
            lost_reply_every: self.lost_reply_every,
        }
    }
}

/// A supervised engine's supervisor is no longer its parent.
pub(super) fn supervisor_gone(opts: &Options) -> bool {
    opts.supervisor.is_some_and(|pid| {
        rustix::process::getppid().is_none_or(|p| p.as_raw_nonzero().get() as u32 != pid)
    })
}

/// Wait `d`, or less when a stop signal arrives (the wake pipe becomes readable).
pub(super) fn wait(opts: &Options, d: Duration) {
    let Some(wake) = &opts.wake else {
        std::thread::sleep(d);
        return;
    };
    use rustix::event::{PollFd, PollFlags, Timespec};
    let until = Instant::now() + d;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        let ts = Timespec {
            tv_sec: i64::try_from(left.as_secs()).unwrap_or(i64::MAX),
            tv_nsec: i64::from(left.subsec_nanos()),
        };
        let mut fds = [PollFd::new(&**wake, PollFlags::IN)];
        match rustix::event::poll(&mut fds, Some(&ts)) {
            Ok(0) | Err(rustix::io::Errno::INTR) => {}
            // Readable (a stop signal), or poll failed: stop waiting.
            _ => return,
        }
    }
}
