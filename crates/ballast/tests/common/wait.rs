//! One polling loop for every test that waits on a real process: a condition checked every
//! 20 ms until it holds, failed with what was last seen once the deadline has passed.

use std::time::{Duration, Instant};

/// How often a wait looks again.
pub const POLL: Duration = Duration::from_millis(20);

/// Poll `probe` until it gives `Ok`; once `limit` has passed, fail the test with the message
/// `fail` makes of the last `Err` (what was seen instead).
pub fn until<T, E>(
    limit: Duration,
    mut probe: impl FnMut() -> Result<T, E>,
    fail: impl FnOnce(E) -> String,
) -> T {
    let deadline = Instant::now() + limit;
    loop {
        match probe() {
            Ok(v) => return v,
            Err(last) => assert!(Instant::now() < deadline, "{}", fail(last)),
        }
        std::thread::sleep(POLL);
    }
}

/// Wait until `path` exists (at most 30 s).
pub fn file(path: &std::path::Path, what: &str) {
    until(
        Duration::from_secs(30),
        || if path.exists() { Ok(()) } else { Err(()) },
        |()| format!("{what} never appeared"),
    );
}
