//! The orphans a killed supervisor left behind are found at once, even while that supervisor
//! is still a zombie its parent has not reaped (a shell's background job after `kill -9`).
// Real processes: the test plays the killed supervisor and its service.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::process::{Command, Stdio};

#[test]
fn a_service_of_a_supervisor_that_is_a_zombie_is_an_orphan() {
    let data = tempfile::tempdir().unwrap();
    // The "supervisor": a child that exits and is not waited for — a zombie.
    let mut dead = Command::new("true").spawn().unwrap();
    let dead_pid = dead.id();
    let stat = format!("/proc/{dead_pid}/stat");
    // Exited, not reaped: its state turns to Z.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !std::fs::read_to_string(&stat).is_ok_and(|s| s.contains(") Z")) {
        assert!(std::time::Instant::now() < deadline, "never a zombie");
        std::thread::yield_now();
    }
    let mut service = Command::new("sleep")
        .arg("30")
        .env(ballast_supervisor::DATA_DIR_TAG, data.path())
        .env("BALLAST_SUPERVISOR_PID", dead_pid.to_string())
        .env("BALLAST_SERVICE", "bot")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let found = ballast_supervisor::find_orphans(data.path());
    let _ = service.kill();
    let _ = service.wait();
    let _ = dead.wait();
    assert!(
        found.contains(&(service.id() as i32, "bot".to_owned())),
        "the service of a zombie supervisor is an orphan: {found:?}"
    );
}
