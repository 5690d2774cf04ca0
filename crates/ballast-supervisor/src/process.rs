//! Processes: a service's spawn (its own process group, one output pipe into its rotating
//! log, the tags of its environment), the reaping of every child as the subreaper (the
//! leader's group goes with it), and signals to process groups.

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::SystemTime;

use rustix::process::{Pid, Signal, WaitOptions};

use crate::core::SpawnFailed;
use crate::logs::{self, LogSpec, RotatingLog};
use crate::{ServiceSpec, readiness};

/// The environment variable that tags every child with its supervisor's data directory.
pub const DATA_DIR_TAG: &str = "BALLAST_DATA_DIR";

/// A running service's process, as the shell holds it.
pub(crate) struct Proc {
    pub pid: Pid,
    /// Readable when the process exits (pidfd_open); without one, SIGCHLD still tells.
    pub pidfd: Option<rustix::fd::OwnedFd>,
    /// The heartbeat file's mtime just before the start: a heartbeat is a change from it.
    pub heartbeat_before: Option<SystemTime>,
}

/// The processes of the services, by slot.
pub(crate) type Procs = BTreeMap<usize, Proc>;

/// Where services are started from.
pub(crate) struct Launcher {
    pub data_dir: PathBuf,
    pub log_dir: PathBuf,
    pub notify_sockets: BTreeMap<String, PathBuf>,
}

impl Launcher {
    /// Start `spec`'s process, leading its own process group, its stdout and stderr in one
    /// pipe read into its log by a thread of its own.
    pub fn spawn(
        &self,
        spec: &ServiceSpec,
        log: &mut dyn FnMut(&str),
    ) -> Result<Proc, SpawnFailed> {
        let mut cmd = Command::new(&spec.command);
        // systemd's notify socket and watchdog are Ballast's own, not its services'.
        for var in crate::systemd::SYSTEMD_ENV {
            cmd.env_remove(var);
        }
        if let Some(sock) = self.notify_sockets.get(&spec.name) {
            cmd.env("NOTIFY_SOCKET", sock);
        }
        cmd.args(&spec.args)
            .envs(&spec.env)
            .env("BALLAST_SERVICE", &spec.name)
            .env("BALLAST_SUPERVISOR_PID", std::process::id().to_string())
            .env(DATA_DIR_TAG, &self.data_dir)
            .stdin(Stdio::null())
            .process_group(0);
        // stdout and stderr share one pipe, read by one thread into the service's log.
        let output = match rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC) {
            Ok((read, write)) => match write.try_clone() {
                Ok(write2) => {
                    cmd.stdout(Stdio::from(write)).stderr(Stdio::from(write2));
                    Some(std::fs::File::from(read))
                }
                Err(_) => None,
            },
            Err(e) => {
                log(&format!(
                    "{}: cannot create its output pipe ({e}); output discarded",
                    spec.name
                ));
                None
            }
        };
        if output.is_none() {
            cmd.stdout(Stdio::null()).stderr(Stdio::null());
        }
        if let Some(cwd) = &spec.cwd {
            cmd.current_dir(cwd);
        }
        let heartbeat_before = spec
            .heartbeat_file
            .as_deref()
            .and_then(readiness::heartbeat_mtime);
        let child = cmd.spawn().map_err(|e| failure(spec, &e))?;
        // The parent's copies of the pipe's write end go with the command, so the log thread
        // sees end-of-file when the service's processes are gone.
        drop(cmd);
        let pid = Pid::from_child(&child);
        if let Some(output) = output {
            pump(
                output,
                LogSpec::for_service(&self.log_dir, &spec.name),
                &spec.name,
            );
        }
        // The handle is not waited on: the loop reaps every child with waitpid(-1).
        drop(child);
        Ok(Proc {
            pid,
            pidfd: rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).ok(),
            heartbeat_before,
        })
    }
}

/// Read a service's output into its log on a thread of its own.
fn pump(output: std::fs::File, spec: LogSpec, name: &str) {
    let name = name.to_owned();
    std::thread::spawn(move || {
        use std::io::Write;
        match RotatingLog::open(spec) {
            Ok(mut l) => logs::pump(output, &mut l, &mut |e| {
                let _ = writeln!(
                    std::io::stderr(),
                    "supervisor: cannot write the log of {name}: {e}"
                );
            }),
            Err(e) => {
                let _ = writeln!(
                    std::io::stderr(),
                    "supervisor: cannot open the log of {name}: {e}; its output is discarded"
                );
                logs::pump(output, &mut NullLog, &mut |_| {});
            }
        }
    });
}

/// Why `spec` could not be started, and whether a restart could change it: a missing or
/// non-executable command stays so (FAILED_CONFIG at once, not a restart loop); anything else
/// (out of processes, memory) may pass.
fn failure(spec: &ServiceSpec, e: &std::io::Error) -> SpawnFailed {
    let name = &spec.name;
    let command = spec.command.display().to_string();
    let cwd = spec.cwd.as_deref();
    // The program as the child looks for it (a relative path is its cwd's).
    let program = match cwd {
        Some(d) if spec.command.is_relative() => d.join(&spec.command),
        _ => spec.command.clone(),
    };
    let fix =
        format!("fix `command` of the [[services]] entry \"{name}\", then `ballast reset {name}`");
    let permanent = match e.kind() {
        std::io::ErrorKind::NotFound => Some(match cwd {
            Some(d) if !d.is_dir() => format!(
                "working directory not found: {} — fix `cwd` of the [[services]] entry \"{name}\", then `ballast reset {name}`",
                d.display()
            ),
            _ if !command.contains('/') => {
                format!("command not found: {command} (searched PATH) — {fix}")
            }
            // The file is there: what is missing is its #! interpreter.
            _ if program.is_file() => format!(
                "the interpreter of {command} is not found (its #! line names a program that does not exist) — fix its #! line, or run it through an interpreter that exists, then `ballast reset {name}`"
            ),
            _ => format!("command not found: {command} — {fix}"),
        }),
        std::io::ErrorKind::PermissionDenied if program.is_dir() => {
            Some(format!("not a program: {command} is a directory — {fix}"))
        }
        std::io::ErrorKind::PermissionDenied => Some(format!(
            "not executable: {command} (permission denied; `chmod +x` it, or run it through its interpreter) — {fix}"
        )),
        _ if e.raw_os_error() == Some(rustix::io::Errno::NOEXEC.raw_os_error()) => Some(format!(
            "not executable: {command} (not a program this system can run, e.g. a script without a #! line) — {fix}"
        )),
        _ => None,
    };
    SpawnFailed {
        why: format!("cannot start {command}: {e}"),
        permanent,
    }
}

/// A child that ended: its pid, exit code, or the signal that killed it.
pub(crate) struct Reaped {
    pub pid: Pid,
    pub code: Option<i32>,
    pub signal: Option<i32>,
}

/// The next child that has exited, if any (services, and orphans re-parented to us).
pub(crate) fn reap_one() -> Option<Reaped> {
    loop {
        match rustix::process::wait(WaitOptions::NOHANG) {
            Ok(Some((pid, status))) => {
                if !(status.exited() || status.signaled()) {
                    continue;
                }
                return Some(Reaped {
                    pid,
                    code: status.exit_status(),
                    signal: status.terminating_signal(),
                });
            }
            Ok(None) => return None,
            Err(e) if e == rustix::io::Errno::INTR => {}
            Err(_) => return None, // ECHILD: no children left
        }
    }
}

/// Whatever a service's leader left behind in its group goes with it: SIGKILL to the group,
/// and the processes that were still there (kill(-pgid, 0) first: the /proc scan only when
/// something is left).
pub(crate) fn kill_leftovers(pid: Pid) -> Vec<i32> {
    let left = if rustix::process::test_kill_process_group(pid).is_ok() {
        crate::procfs::group_members(pid)
    } else {
        Vec::new()
    };
    let _ = rustix::process::kill_process_group(pid, Signal::KILL);
    left
}

/// Send `signal` to the process group led by `pid`.
pub(crate) fn signal_group(pid: i32, signal: Signal) {
    if let Some(pid) = Pid::from_raw(pid) {
        let _ = rustix::process::kill_process_group(pid, signal);
    }
}

/// A log that drops what it is given (when the log file cannot be opened: the child must still
/// never block on a full pipe).
struct NullLog;

impl logs::Sink for NullLog {}
