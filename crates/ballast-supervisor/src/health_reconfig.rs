//! A reload's configuration for the health monitor's thread, and the wake-up that ends the
//! thread's wait between cycles at once: a lowered `[health] cycle_ms` (60 s → 200 ms) is the
//! pace from the reload on, not after the old wait has run out. A condition variable, no
//! polling; the latest configuration wins.

use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use ballast_core::config::Config;

#[derive(Debug, Default)]
pub(crate) struct HealthReconfig {
    pending: Mutex<Pending>,
    offered: Condvar,
}

#[derive(Debug, Default)]
struct Pending {
    config: Option<Arc<Config>>,
    /// An operator asked for a cycle now (`POST /v1/health/check`): every check runs.
    force: bool,
}

impl HealthReconfig {
    /// Hand `config` to the thread and wake it.
    pub(crate) fn offer(&self, config: Arc<Config>) {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        pending.config = Some(config);
        self.offered.notify_all();
    }

    /// Wake the thread for a cycle of every check now.
    pub(crate) fn force_cycle(&self) {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        pending.force = true;
        self.offered.notify_all();
    }

    /// Wait at most `every`: the configuration offered meanwhile (as soon as it is), or `None`
    /// once `every` has passed.
    #[cfg(test)]
    pub(crate) fn wait(&self, every: Duration) -> Option<Arc<Config>> {
        self.wait_cycle(every).0
    }

    /// Wait at most `every`, less when a configuration is offered or a cycle forced: the
    /// configuration offered, and whether the cycle is forced.
    pub(crate) fn wait_cycle(&self, every: Duration) -> (Option<Arc<Config>>, bool) {
        let pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        let (mut pending, _) = self
            .offered
            .wait_timeout_while(pending, every, |p| p.config.is_none() && !p.force)
            .unwrap_or_else(PoisonError::into_inner);
        let force = std::mem::take(&mut pending.force);
        (pending.config.take(), force)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_offer_ends_a_long_wait_at_once_and_a_wait_without_one_times_out() {
        let r = Arc::new(HealthReconfig::default());
        let config = Arc::new(ballast_core::config::builtin().unwrap_or_else(|e| panic!("{e}")));
        let waiter = {
            let r = Arc::clone(&r);
            std::thread::spawn(move || {
                let t = std::time::Instant::now();
                (r.wait(Duration::from_secs(600)).is_some(), t.elapsed())
            })
        };
        r.offer(config);
        let (got, took) = waiter.join().unwrap_or_else(|_| panic!("the waiter"));
        assert!(got, "the configuration offered is handed over");
        assert!(
            took < Duration::from_secs(60),
            "ended by the offer: {took:?}"
        );
        assert!(r.wait(Duration::from_millis(1)).is_none(), "taken once");
        let waiter = {
            let r = Arc::clone(&r);
            std::thread::spawn(move || r.wait_cycle(Duration::from_secs(600)))
        };
        r.force_cycle();
        let (config, forced) = waiter.join().unwrap_or_else(|_| panic!("the waiter"));
        assert!(config.is_none() && forced, "a forced cycle ends the wait");
        assert!(!r.wait_cycle(Duration::from_millis(1)).1, "forced once");
    }
}
