//! Running `ballast` and other commands as real processes: the binary with a clean
//! environment, output as text, runs bounded in time.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::wait::POLL;

/// A process's output as text (lossy: a test prints what it got).
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Fail the test with the process's stderr unless it exited 0 (the failure names the caller's
/// line).
#[track_caller]
pub fn assert_ok(out: &Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `ballast args…` in `cwd`, to its end (standard input closed).
pub fn ballast_in(args: &[&str], cwd: &Path) -> Output {
    super::ballast()
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Run `c` with its output captured: `Ok` with its output if it ends within `limit`, else it
/// is killed and `Err` carries what it wrote before.
pub fn run_within(c: &mut Command, limit: Duration) -> Result<Output, Output> {
    let mut child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            return Err(child.wait_with_output().unwrap());
        }
        std::thread::sleep(POLL);
    }
    Ok(child.wait_with_output().unwrap())
}

/// SIGTERM to `child` (a clean stop, as an operator or systemd asks).
pub fn sigterm(child: &std::process::Child) {
    rustix::process::kill_process(
        rustix::process::Pid::from_child(child),
        rustix::process::Signal::TERM,
    )
    .unwrap();
}
