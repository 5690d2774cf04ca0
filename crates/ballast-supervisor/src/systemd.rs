//! The sender of `ballast run`'s own sd_notify messages (what to say and when is decided by
//! [`crate::core::systemd`]): one unbound datagram socket, each message one datagram to
//! `NOTIFY_SOCKET` — a path (a long one reached through its directory, as the supervisor's
//! own sockets are) or an abstract address (`@name`). A socket that is gone or refuses never
//! fails the run: the first failure is said once in the log, later ones are counted.

use std::os::unix::net::UnixDatagram;
use std::time::Instant;

use ballast_store::files::health::HealthFile;

use crate::core::ServiceView;
use crate::core::systemd::{Address, Notifier, Setup, setup};

/// The environment variables systemd sets for its service, which Ballast's own children must
/// not inherit (a child's `READY=1` would be taken as Ballast's, and `NotifyAccess=main`
/// would log it as refused).
pub const SYSTEMD_ENV: [&str; 3] = ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"];

/// `ballast run`'s link to systemd, when `NOTIFY_SOCKET` was set.
pub(crate) struct SdNotify {
    sock: UnixDatagram,
    address: Address,
    plan: Notifier,
    failures: u64,
}

impl SdNotify {
    /// From the process's own environment (`None`: not run under systemd's notify socket).
    pub fn from_env(log: &mut dyn FnMut(&str)) -> Option<SdNotify> {
        use std::os::unix::ffi::OsStrExt;
        let socket = std::env::var_os("NOTIFY_SOCKET");
        let usec = std::env::var("WATCHDOG_USEC").ok();
        let pid = std::env::var("WATCHDOG_PID").ok();
        let (found, warnings) = setup(
            socket.as_deref().map(|s| s.as_bytes()),
            usec.as_deref(),
            pid.as_deref(),
            std::process::id(),
        );
        for w in warnings {
            log(&format!("warning: systemd: {w}"));
        }
        let Setup {
            address,
            watchdog_every,
        } = found?;
        let sock = match UnixDatagram::unbound() {
            Ok(s) => s,
            Err(e) => {
                log(&format!(
                    "warning: systemd: cannot open a datagram socket to tell {address} of readiness ({e}); the run goes on without sd_notify"
                ));
                return None;
            }
        };
        log(&format!(
            "systemd: telling {address} of readiness, status and stop{}",
            watchdog_every
                .map(|e| format!("; watchdog ping every {} ms", e.as_millis()))
                .unwrap_or_default()
        ));
        Some(SdNotify {
            sock,
            address,
            plan: Notifier::new(watchdog_every, Instant::now()),
            failures: 0,
        })
    }

    /// A health report was written: `READY=1` and `STATUS=` as they are due.
    pub fn on_report(
        &mut self,
        report: &HealthFile,
        services: &[ServiceView],
        log: &mut dyn FnMut(&str),
    ) {
        if let Some(m) = self.plan.on_report(report, services) {
            if m.contains("READY=1") {
                log("systemd: READY=1 (the startup heal and every service's startup are over)");
            }
            self.send(&m, log);
        }
    }

    /// A turn of the loop: the watchdog's ping when it is due.
    pub fn on_turn(&mut self, log: &mut dyn FnMut(&str)) {
        if let Some(m) = self.plan.on_turn(Instant::now()) {
            self.send(m, log);
        }
    }

    /// When the loop must turn for the next ping.
    pub fn next_wakeup(&self) -> Option<Instant> {
        self.plan.next_wakeup()
    }

    /// The shutdown starts.
    pub fn on_stop(&mut self, log: &mut dyn FnMut(&str)) {
        if let Some(m) = self.plan.on_stop() {
            self.send(&m, log);
        }
    }

    fn send(&mut self, message: &str, log: &mut dyn FnMut(&str)) {
        if let Err(e) = send_to(&self.sock, &self.address, message.as_bytes()) {
            self.failures += 1;
            if self.failures == 1 {
                log(&format!(
                    "warning: systemd: cannot send to NOTIFY_SOCKET {} ({e}); the run goes on, later failures are not logged (systemd may stop Ballast if it waits for READY=1 or a watchdog ping)",
                    self.address
                ));
            }
        }
    }
}

/// Send one datagram to `address` (a path or an abstract address).
pub fn send_to(sock: &UnixDatagram, address: &Address, bytes: &[u8]) -> std::io::Result<()> {
    match address {
        Address::Path(p) => crate::control::with_short_path(p, |p| sock.send_to(bytes, p)),
        Address::Abstract(name) => {
            use std::os::linux::net::SocketAddrExt;
            let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
            sock.send_to_addr(bytes, &addr)
        }
    }
    .map(|_| ())
}

/// Send `message` to the `NOTIFY_SOCKET` value `socket` (`ballast notify`): an error in words.
pub fn notify(socket: &[u8], message: &str) -> Result<(), String> {
    let (found, warnings) = setup(Some(socket), None, None, 0);
    let Some(found) = found else {
        return Err(warnings
            .into_iter()
            .next()
            .unwrap_or_else(|| "NOTIFY_SOCKET is empty".into()));
    };
    let sock =
        UnixDatagram::unbound().map_err(|e| format!("cannot open a datagram socket: {e}"))?;
    send_to(&sock, &found.address, message.as_bytes())
        .map_err(|e| format!("cannot send to {}: {e}", found.address))
}

#[cfg(test)]
mod tests;
