//! `ballast logs [SERVICE] [-f] [-n N]`: the supervisor's log and each service's, as `pm2 logs`
//! and `journalctl -u` show them — the last lines (from the rolled file too when the live one is
//! short), then, with `-f`, every line as it is written (a rotation is followed).

use super::err;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::out;
use crate::exit::{self, Exit};
use crate::limits::{LOG_FOLLOW_EVERY_MS, LOG_LINE_MAX_CHARS, LOG_TAIL_MAX_BYTES};
use crate::settings::DataDir;

/// The supervisor's own log in `logs/`.
pub const SUPERVISOR: &str = "supervisor";

fn log_file(data_dir: &Path, name: &str) -> PathBuf {
    ballast_store::Layout::new(data_dir)
        .logs()
        .join(format!("{name}.log"))
}

fn rolled(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".1");
    PathBuf::from(p)
}

/// The end of a file, at most `max` bytes, as lines (a partial first line dropped when the read
/// did not start at the beginning).
fn last_lines_of(path: &Path, max: u64) -> Vec<String> {
    let Ok(mut f) = File::open(path) else {
        return Vec::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let start = len.saturating_sub(max);
    if f.seek(SeekFrom::Start(start)).is_err() {
        return Vec::new();
    }
    let mut bytes = Vec::new();
    if f.take(max).read_to_end(&mut bytes).is_err() {
        return Vec::new();
    }
    let text = String::from_utf8_lossy(&bytes);
    let mut lines: Vec<String> = text.lines().map(shorten).collect();
    if start > 0 && !lines.is_empty() {
        lines.remove(0);
    }
    lines
}

/// A structured line of Ballast's own (`logs/supervisor.log`, a standalone engine's
/// `logs/engine.log`: JSON with `timestamp`, `level`, `target` `ballast…` and `message`) as the
/// text stderr shows (`TIME LEVEL message field=value…`); any other line as it is.
fn readable(line: &str) -> std::borrow::Cow<'_, str> {
    use serde_json::Value;
    let Ok(Value::Object(map)) = serde_json::from_str::<Value>(line) else {
        return line.into();
    };
    let text = |k: &str| map.get(k).and_then(Value::as_str);
    let (Some(at), Some(level), Some(message)) =
        (text("timestamp"), text("level"), text("message"))
    else {
        return line.into();
    };
    if !text("target").is_some_and(|t| t.starts_with("ballast")) {
        return line.into();
    }
    let mut out = format!("{at} {level} {message}");
    for (k, v) in &map {
        if !["timestamp", "level", "message", "target"].contains(&k.as_str()) {
            out.push_str(&format!(" {k}={v}"));
        }
    }
    out.into()
}

/// A line as `ballast logs` prints it: readable, control characters escaped (a JSON message
/// with a `\n` or a NUL stays one line), cut at [`LOG_LINE_MAX_CHARS`].
fn shorten(line: &str) -> String {
    let line = readable(line);
    let line = ballast_core::text::one_line(line.as_ref());
    let line = line.as_ref();
    match line.char_indices().nth(LOG_LINE_MAX_CHARS) {
        Some((i, _)) => format!(
            "{}… (line cut at {LOG_LINE_MAX_CHARS} characters)",
            &line[..i]
        ),
        None => line.to_owned(),
    }
}

/// The last `n` lines of a service's (or the supervisor's) log.
pub fn tail(data_dir: &Path, name: &str, n: usize) -> Vec<String> {
    let path = log_file(data_dir, name);
    let mut lines = last_lines_of(&path, LOG_TAIL_MAX_BYTES);
    if lines.len() < n {
        let mut older = last_lines_of(&rolled(&path), LOG_TAIL_MAX_BYTES);
        older.append(&mut lines);
        lines = older;
    }
    let skip = lines.len().saturating_sub(n);
    lines.split_off(skip)
}

/// Every log in `logs/` (the supervisor's first), by name.
fn every_log(data_dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(ballast_store::Layout::new(data_dir).logs())
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            name.strip_suffix(".log").map(str::to_owned)
        })
        .collect();
    names.sort_by_key(|n| (n != SUPERVISOR, n.clone()));
    names
}

pub fn logs(dir: &DataDir, service: Option<&str>, n: usize, follow: bool) -> anyhow::Result<Exit> {
    let all = every_log(&dir.path);
    let names: Vec<String> = match service {
        Some(s) if all.iter().any(|a| a == s) => vec![s.to_owned()],
        Some(s) => {
            err!(
                "ballast logs: no log for {s:?} in {} (logs there: {})\n    help: a service's log appears when it first starts; name a service of the configuration, `engine` or `supervisor`",
                ballast_store::Layout::new(&dir.path).logs().display(),
                if all.is_empty() {
                    "none yet".to_owned()
                } else {
                    all.join(", ")
                }
            );
            return Ok(exit::FAILURE);
        }
        None => all,
    };
    if names.is_empty() {
        err!(
            "ballast logs: no logs in {} yet (the supervisor writes them once `ballast run` starts)",
            ballast_store::Layout::new(&dir.path).logs().display()
        );
        return Ok(exit::FAILURE);
    }
    let prefix = names.len() > 1;
    let show = |name: &str, line: &str| {
        if prefix {
            out!("{name:<12} | {line}");
        } else {
            out!("{line}");
        }
    };
    for name in &names {
        for line in tail(&dir.path, name, n) {
            show(name, &line);
        }
    }
    if !follow {
        return Ok(exit::OK);
    }
    let mut followers: Vec<Follower> = names
        .iter()
        .map(|name| Follower::at_end(name, log_file(&dir.path, name)))
        .collect();
    loop {
        for f in &mut followers {
            for line in f.poll() {
                show(&f.name, &line);
            }
        }
        std::thread::sleep(Duration::from_millis(LOG_FOLLOW_EVERY_MS));
    }
}

/// One followed log: where it was read up to, and which file that was (a rotation renames it
/// away and a new one starts at 0).
struct Follower {
    name: String,
    path: PathBuf,
    offset: u64,
    inode: Option<u64>,
    partial: Vec<u8>,
}

impl Follower {
    fn at_end(name: &str, path: PathBuf) -> Follower {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(&path).ok();
        Follower {
            name: name.to_owned(),
            offset: meta.as_ref().map_or(0, |m| m.len()),
            inode: meta.map(|m| m.ino()),
            path,
            partial: Vec::new(),
        }
    }

    /// The complete lines written since the last poll.
    fn poll(&mut self) -> Vec<String> {
        use std::os::unix::fs::MetadataExt;
        let Ok(meta) = std::fs::metadata(&self.path) else {
            return Vec::new();
        };
        if self.inode != Some(meta.ino()) || meta.len() < self.offset {
            // Rotated or truncated: the new file from its start.
            self.inode = Some(meta.ino());
            self.offset = 0;
            self.partial.clear();
        }
        let Ok(mut f) = File::open(&self.path) else {
            return Vec::new();
        };
        if f.seek(SeekFrom::Start(self.offset)).is_err() {
            return Vec::new();
        }
        let mut bytes = Vec::new();
        let Ok(read) = f.take(LOG_TAIL_MAX_BYTES).read_to_end(&mut bytes) else {
            return Vec::new();
        };
        self.offset += read as u64;
        self.partial.extend_from_slice(&bytes);
        let mut lines = Vec::new();
        while let Some(i) = self.partial.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=i).collect();
            lines.push(shorten(String::from_utf8_lossy(&line[..i]).as_ref()));
        }
        if self.partial.len() > LOG_TAIL_MAX_BYTES as usize {
            // A line without an end that never stops: shown as it is, in parts.
            lines.push(shorten(&String::from_utf8_lossy(&self.partial)));
            self.partial.clear();
        }
        lines
    }
}
