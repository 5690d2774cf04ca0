//! Structured logs (SPEC §8, issue 13 item 9): `tracing` events, filtered `RUST_LOG`-style
//! (`BALLAST_LOG`, else `RUST_LOG`, else `info`), written
//! - as JSON lines (`timestamp`, `level`, `target`, `message` and any fields) to
//!   `logs/supervisor.log` (`ballast run`) or `logs/engine.log` (a standalone engine), rolled by
//!   size with a bounded total ([`ballast_supervisor::logs::LogSpec::for_service`]: 10 MiB, 3
//!   rolled files), one whole line per write — a line is never split across two files, and one
//!   longer than [`LOG_LINE_MAX_BYTES`] is replaced by a line saying so;
//! - as human-readable text on stderr (`TIME supervisor: message`, as before), or as JSON lines
//!   with `BALLAST_LOG_FORMAT=json` (a container's log collector).
//!
//! The supervisor's and the engine's `log: &mut dyn FnMut(&str)` lines become events through
//! one bridge ([`bridge`]), their level read from the line's own prefix ([`level_of`]).

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ballast_supervisor::logs::{LogSpec, RotatingLog};
use tracing::Level;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

pub use crate::limits::LOG_LINE_MAX_BYTES;

/// The filter when neither `BALLAST_LOG` nor `RUST_LOG` is set.
pub const DEFAULT_FILTER: &str = "info";

/// The level a bridged line is logged at, from how the line itself starts.
pub fn level_of(line: &str) -> Level {
    let head = line.trim_start();
    if ["CRITICAL", "ALERT", "ERROR", "error:"]
        .iter()
        .any(|p| head.starts_with(p))
    {
        Level::ERROR
    } else if ["WARNING", "warning:", "WARN"]
        .iter()
        .any(|p| head.starts_with(p))
    {
        Level::WARN
    } else if head.starts_with("debug:") {
        Level::DEBUG
    } else {
        Level::INFO
    }
}

/// A `log` line as a tracing event of `target` (`ballast::supervisor`, `ballast::engine`).
pub fn bridge(target: &'static str, line: &str) {
    macro_rules! at {
        ($lvl:ident, $t:literal) => {
            tracing::$lvl!(target: $t, "{line}")
        };
    }
    // `target:` must be a constant: one arm per component.
    match (target, level_of(line)) {
        ("ballast::engine", Level::ERROR) => at!(error, "ballast::engine"),
        ("ballast::engine", Level::WARN) => at!(warn, "ballast::engine"),
        ("ballast::engine", Level::DEBUG) => at!(debug, "ballast::engine"),
        ("ballast::engine", _) => at!(info, "ballast::engine"),
        (_, Level::ERROR) => at!(error, "ballast::supervisor"),
        (_, Level::WARN) => at!(warn, "ballast::supervisor"),
        (_, Level::DEBUG) => at!(debug, "ballast::supervisor"),
        _ => at!(info, "ballast::supervisor"),
    }
}

/// The filter's text: `BALLAST_LOG`, else `RUST_LOG`, else [`DEFAULT_FILTER`].
fn filter_text() -> String {
    std::env::var("BALLAST_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| DEFAULT_FILTER.to_owned())
}

/// The log file of a component, opened once the data directory exists (logging never creates
/// the data directory; it makes `logs/` in it). Lines before that — a fresh data directory's
/// first — wait in memory, at most [`LOG_EARLY_MAX_BYTES`]; past it they are counted and the
/// count is written instead. A file that cannot be written is let go and tried again at the
/// next line; logging never fails the program.
pub struct LazyLog {
    spec: LogSpec,
    file: Option<RotatingLog>,
    early: Vec<u8>,
    early_dropped: u64,
}

pub use crate::limits::LOG_EARLY_MAX_BYTES;

impl LazyLog {
    pub fn new(spec: LogSpec) -> LazyLog {
        LazyLog {
            spec,
            file: None,
            early: Vec::new(),
            early_dropped: 0,
        }
    }

    /// Keep `line` until the file opens, within the bound.
    fn keep_early(&mut self, line: &[u8]) {
        if self.early.len() + line.len() <= LOG_EARLY_MAX_BYTES {
            self.early.extend_from_slice(line);
        } else {
            self.early_dropped += 1;
        }
    }

    /// Write what waited, once the file is open.
    fn write_early(&mut self) {
        let Some(f) = &mut self.file else { return };
        let early = std::mem::take(&mut self.early);
        for line in early.split_inclusive(|b| *b == b'\n') {
            let _ = f.write_line(line);
        }
        if self.early_dropped > 0 {
            let note = format!(
                "{{\"level\":\"WARN\",\"target\":\"ballast::logging\",\"message\":\"{} log lines from before the data directory existed were not kept: the limit is {LOG_EARLY_MAX_BYTES} bytes\"}}\n",
                self.early_dropped
            );
            let _ = f.write_line(note.as_bytes());
            self.early_dropped = 0;
        }
    }
}

impl Write for LazyLog {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // `logs/` is made inside a data directory that exists, never the data directory.
        let dir = self.spec.path.parent();
        let data_there = dir.and_then(Path::parent).is_some_and(Path::is_dir);
        if self.file.is_none() && data_there {
            self.file = RotatingLog::open(self.spec.clone()).ok();
            self.write_early();
        }
        if self.file.is_none() {
            self.keep_early(buf);
        }
        if let Some(f) = &mut self.file {
            let written = if buf.len() > LOG_LINE_MAX_BYTES {
                let note = format!(
                    "{{\"level\":\"WARN\",\"target\":\"ballast::logging\",\"message\":\"a log line of {} bytes was dropped: the limit is {LOG_LINE_MAX_BYTES} bytes\"}}\n",
                    buf.len()
                );
                f.write_line(note.as_bytes())
            } else {
                f.write_line(buf)
            };
            if written.is_err() {
                self.file = None;
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The human-readable line: `TIME component: message field=value…` (the format `ballast run`
/// and `ballast engine` always wrote to stderr).
struct Human {
    component: &'static str,
}

impl<S, N> FormatEvent<S, N> for Human
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        write!(
            writer,
            "{} {}: ",
            ballast_store::SystemClock.now_string(),
            self.component
        )?;
        // One event, one line: a control character in a message or a field is escaped.
        let mut fields = String::new();
        ctx.format_fields(Writer::new(&mut fields), event)?;
        writeln!(writer, "{}", ballast_core::text::one_line(&fields))
    }
}

/// Where a process's logs go.
pub struct Setup {
    /// `supervisor` or `engine`: the stderr prefix and the file's name.
    pub component: &'static str,
    /// The data directory's `logs/`, for the JSON file (none: stderr only).
    pub logs_dir: Option<PathBuf>,
}

/// Install the global subscriber (once per process; a second call changes nothing). Returns
/// a warning to say when the filter was not understood (the default is used then).
pub fn init(setup: Setup) -> Option<String> {
    let text = filter_text();
    let (filter, warning) = match EnvFilter::try_new(&text) {
        Ok(f) => (f, None),
        Err(e) => (
            EnvFilter::new(DEFAULT_FILTER),
            Some(format!(
                "the log filter {text:?} (BALLAST_LOG or RUST_LOG) is not one ({e}); logging at {DEFAULT_FILTER}: use e.g. \"info\" or \"ballast=debug\""
            )),
        ),
    };
    let json_stderr = std::env::var("BALLAST_LOG_FORMAT").is_ok_and(|v| v == "json");
    let stderr_json = json_stderr.then(|| {
        tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_writer(io::stderr)
    });
    let stderr_text = (!json_stderr).then(|| {
        tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .event_format(Human {
                component: setup.component,
            })
            .with_writer(io::stderr)
    });
    let file = setup.logs_dir.map(|dir| {
        let spec = LogSpec::for_service(&dir, setup.component);
        tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_ansi(false)
            .with_writer(Mutex::new(LazyLog::new(spec)))
    });
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(stderr_json)
        .with(stderr_text)
        .with(file)
        .try_init();
    warning
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_s_level_is_read_from_its_prefix() {
        assert_eq!(level_of("CRITICAL: the ops journal …"), Level::ERROR);
        assert_eq!(level_of("ALERT: service model: DISABLED"), Level::ERROR);
        assert_eq!(level_of("warning: cannot write the heartbeat"), Level::WARN);
        assert_eq!(level_of("WARNING: open to others"), Level::WARN);
        assert_eq!(level_of("debug: bar 3 seq 9"), Level::DEBUG);
        assert_eq!(level_of("service engine started (pid 7)"), Level::INFO);
    }

    #[test]
    fn lines_before_the_data_directory_exists_wait_within_their_bound() {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        let spec = LogSpec::for_service(&data.join("logs"), "engine");
        let mut log = LazyLog::new(spec);
        log.write_all(b"{\"message\":\"first\"}\n").unwrap();
        let big = format!("{{\"message\":\"{}\"}}\n", "x".repeat(LOG_EARLY_MAX_BYTES));
        log.write_all(big.as_bytes()).unwrap();
        assert!(!data.exists(), "logging never makes the data directory");
        std::fs::create_dir(&data).unwrap();
        log.write_all(b"{\"message\":\"after\"}\n").unwrap();
        let text = std::fs::read_to_string(data.join("logs/engine.log")).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert_eq!(lines[0], "{\"message\":\"first\"}");
        assert!(
            lines[1].contains("1 log lines from before the data directory existed were not kept")
        );
        assert_eq!(lines[2], "{\"message\":\"after\"}");
    }

    #[test]
    fn the_file_never_passes_its_bound_and_lines_stay_whole() {
        let tmp = tempfile::tempdir().unwrap();
        let spec = LogSpec {
            path: tmp.path().join("supervisor.log"),
            max_bytes: 1_000,
            keep: 2,
        };
        let mut log = LazyLog::new(spec);
        for i in 0..500 {
            let line = format!("{{\"message\":\"line {i:05} {}\"}}\n", "x".repeat(i % 40));
            log.write_all(line.as_bytes()).unwrap();
        }
        log.write_all(&vec![b'y'; LOG_LINE_MAX_BYTES + 1]).unwrap();
        let mut total = 0;
        let mut names = Vec::new();
        for e in std::fs::read_dir(tmp.path()).unwrap() {
            let e = e.unwrap();
            let text = std::fs::read_to_string(e.path()).unwrap();
            assert!(
                text.len() <= 1_000,
                "{} has {} bytes",
                e.path().display(),
                text.len()
            );
            for line in text.lines() {
                serde_json::from_str::<serde_json::Value>(line)
                    .unwrap_or_else(|e| panic!("{line:?} is not JSON: {e}"));
            }
            total += text.len();
            names.push(e.file_name().into_string().unwrap());
        }
        names.sort();
        assert_eq!(
            names,
            ["supervisor.log", "supervisor.log.1", "supervisor.log.2"]
        );
        assert!(total <= 3_000, "{total}");
        let live = std::fs::read_to_string(tmp.path().join("supervisor.log")).unwrap();
        assert!(live.contains("was dropped: the limit is"), "{live}");
    }
}
