//! The operator surfaces' test helpers: where a running `ballast run` or standalone engine
//! serves its API (`run/api.addr`) with its two tokens, and `promtool check metrics`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::wait;

/// The API's URL of the runtime on `data` (once `run/api.addr` is whole), and its operator and
/// viewer tokens.
pub fn api_of(data: &Path) -> (String, String, String) {
    let addr = data.join("run/api.addr");
    wait::file(&addr, "run/api.addr");
    let url = wait::until(
        Duration::from_secs(30),
        || {
            let text = std::fs::read_to_string(&addr).unwrap_or_default();
            text.ends_with('\n')
                .then(|| text.trim().to_owned())
                .ok_or(())
        },
        |()| "run/api.addr stays incomplete".into(),
    );
    let token = |name: &str| {
        std::fs::read_to_string(data.join("run").join(name))
            .unwrap()
            .trim()
            .to_owned()
    };
    (url, token("api.token"), token("api.viewer.token"))
}

/// `promtool` on the PATH; `None` (said) where it is missing — a failure under CI=true, where
/// `.ci/run` installs Debian's prometheus package.
pub fn promtool() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("promtool"))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "promtool is missing in CI: .ci/run installs Debian's prometheus package"
        );
        eprintln!("skipped: promtool is not installed (apt-get install prometheus)");
    }
    found
}

/// `promtool check metrics` of `body`: whether it passed, and what it said.
pub fn promtool_check(promtool: &Path, body: &str) -> (bool, String) {
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), said.trim().to_owned())
}
