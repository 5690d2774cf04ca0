//! Standard output for people and pipes: `ballast status | head -3` closes the pipe early, and
//! that is a quiet, successful exit (as ripgrep does), never a panic or an error message.

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
