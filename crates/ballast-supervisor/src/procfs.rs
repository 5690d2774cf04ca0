//! The supervisor's `/proc` readers: the signals this process ignores, the live members of a
//! process group, and the orphans a previous supervisor of the same data directory left.

use std::path::Path;

use rustix::process::Pid;

use crate::process::DATA_DIR_TAG;

/// Signals ignored in this process, from `SigIgn` of `/proc/self/status`, without SIGPIPE (the
/// standard library ignores it here and resets it in children itself) and without 32 and 33,
/// which the C library reserves for its threads and handles itself whenever it uses them.
pub(crate) fn ignored_signals() -> Vec<i32> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let mask = status
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:"))
        .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
        .unwrap_or(0);
    (1..=64)
        .filter(|n| {
            mask & (1u64 << (n - 1)) != 0
                && *n != signal_hook::consts::SIGPIPE
                && !(32..=33).contains(n)
        })
        .collect()
}

/// Live processes in process group `pgid` (from `/proc/<pid>/stat`).
pub(crate) fn group_members(pgid: Pid) -> Vec<i32> {
    let want = pgid.as_raw_nonzero().get();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let pid: i32 = e.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            // After "(comm)": state ppid pgrp …
            let mut f = stat.rsplit_once(')')?.1.split_whitespace();
            let state = f.next()?;
            let pgrp: i32 = f.nth(1)?.parse().ok()?;
            (pgrp == want && state != "Z").then_some(pid)
        })
        .collect()
}

/// Processes tagged with this data directory whose supervisor is gone (a supervisor that was
/// killed leaves its services behind). Found through `/proc/<pid>/environ`.
/// The process at `/proc/<pid>` is a zombie, or gone.
fn is_zombie(proc_dir: &Path) -> bool {
    std::fs::read_to_string(proc_dir.join("stat"))
        .map(|s| {
            s.rsplit(')')
                .next()
                .is_some_and(|r| r.trim_start().starts_with('Z'))
        })
        .unwrap_or(true)
}

pub fn find_orphans(data_dir: &Path) -> Vec<(i32, String)> {
    let me = std::process::id() as i32;
    let my_start = crate::heal::start_time(me);
    let want = format!("{DATA_DIR_TAG}={}", data_dir.display());
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(env) = std::fs::read(e.path().join("environ")) else {
            continue;
        };
        let vars: Vec<&[u8]> = env.split(|b| *b == 0).collect();
        if !vars.contains(&want.as_bytes()) {
            continue;
        }
        let value = |key: &str| {
            vars.iter().find_map(|v| {
                std::str::from_utf8(v)
                    .ok()?
                    .strip_prefix(key)?
                    .strip_prefix('=')
                    .map(str::to_owned)
            })
        };
        let supervisor: Option<i32> = value("BALLAST_SUPERVISOR_PID").and_then(|p| p.parse().ok());
        // Tagged with our own pid: ours (a service or one of its children) — unless it is older
        // than we are, i.e. left by an earlier supervisor that had the same pid.
        let supervisor_alive = match supervisor {
            Some(p) if p == me => crate::heal::start_time(pid) >= my_start,
            // A supervisor killed with SIGKILL stays a zombie until its parent reaps it: gone.
            Some(p) => !is_zombie(Path::new(&format!("/proc/{p}"))),
            None => false,
        };
        let zombie = is_zombie(&e.path());
        if !supervisor_alive && !zombie {
            out.push((pid, value("BALLAST_SERVICE").unwrap_or_else(|| "?".into())));
        }
    }
    out
}
