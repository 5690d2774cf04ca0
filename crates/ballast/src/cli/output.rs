//! Standard output for people and pipes: `ballast status | head -3` closes the pipe early, and
//! that is a quiet, successful exit (as ripgrep does), never a panic or an error message.
//! Standard error likewise never panics (`ballast check 2>&1 | head -2`): a diagnostic that
//! cannot be written is dropped and the command ends with its own status. Every line the CLI
//! prints goes through [`out!`] or [`err!`] (`println!` and `eprintln!` panic on a closed
//! pipe; a test in `tests/cli_robust.rs` finds any left outside this module).

use std::io::Write;

/// Write `bytes` to standard output; a closed pipe ends the process quietly (status 0), any
/// other write error ends it with status 1 and one line on stderr.
pub fn write_stdout(bytes: &[u8]) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(bytes).and_then(|()| out.flush()) {
        closed(e);
    }
}

/// The end of a process whose standard output cannot be written.
fn closed(e: std::io::Error) -> ! {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    let _ = writeln!(
        std::io::stderr(),
        "ballast: cannot write to standard output: {e}"
    );
    std::process::exit(1);
}

/// One line to standard output (the `println!` of the CLI, without its panic on a closed pipe).
pub fn line(args: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.write_all(b"\n")) {
        closed(e);
    }
}

/// `println!` for the CLI: see [`line`].
macro_rules! out {
    () => {
        $crate::cli::output::line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::cli::output::line(format_args!($($arg)*))
    };
}
pub(crate) use out;

/// One line to standard error (the `eprintln!` of the CLI). A line that cannot be written (a
/// closed pipe, a logger gone) is dropped: a diagnostic is never worth a panic, nor the end of
/// a supervisor whose log reader died, and the command's exit status still says how it ended.
pub fn err_line(args: std::fmt::Arguments<'_>) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_fmt(args).and_then(|()| err.write_all(b"\n"));
}

/// `eprintln!` for the CLI: see [`err_line`].
macro_rules! err {
    ($($arg:tt)*) => {
        $crate::cli::output::err_line(format_args!($($arg)*))
    };
}
pub(crate) use err;
