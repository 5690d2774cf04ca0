//! `ballast probe livez|readyz`: one GET of the running API's probe, for a container's
//! `HEALTHCHECK` (a distroless image has no curl) or a script. The URL is the one the API
//! wrote to `run/api.addr` (or `--url`); exit 0 on a 2xx answer, 1 otherwise, with why.

use std::time::Duration;

use super::{err, out};
use crate::exit::{self, Exit};

/// How long the probe waits for the API's answer (Docker's and Kubernetes' probe timeouts are
/// longer: the probe's own answer comes first).
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(3);
/// The longest `run/api.addr` read (one URL line).
const ADDR_MAX_BYTES: u64 = 4096;

/// Which probe.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Which {
    Livez,
    Readyz,
}

impl Which {
    fn path(self) -> &'static str {
        match self {
            Which::Livez => "/livez",
            Which::Readyz => "/readyz",
        }
    }
}

/// The probe's URL: `url` (a base such as `http://127.0.0.1:7878`) or the one in
/// `run/api.addr` of `data_dir`.
fn base(url: Option<&str>, data_dir: &std::path::Path) -> Result<String, String> {
    if let Some(u) = url {
        return Ok(u.trim_end_matches('/').to_owned());
    }
    let file = ballast_store::Layout::new(data_dir).api_addr();
    let text = ballast_store::bounded::read_regular_string(&file, ADDR_MAX_BYTES).map_err(|e| {
        format!(
            "cannot read {} ({e}): is `ballast run` up on this data directory? (--url URL names the API instead)",
            file.display()
        )
    })?;
    let line = text.lines().next().unwrap_or("").trim();
    if line.starts_with("http://") {
        Ok(line.trim_end_matches('/').to_owned())
    } else {
        Err(format!(
            "{} holds {line:?}, not an http:// URL: the API may be starting; try again",
            file.display()
        ))
    }
}

/// `ballast probe`.
pub fn run(which: Which, url: Option<&str>, data_dir: &std::path::Path) -> anyhow::Result<Exit> {
    let target = match base(url, data_dir) {
        Ok(b) => format!("{b}{}", which.path()),
        Err(why) => {
            err!("ballast probe: {why}");
            return Ok(exit::FAILURE);
        }
    };
    match ballast_supervisor::http_status(&target, PROBE_TIMEOUT) {
        Ok(code) if (200..300).contains(&code) => {
            out!("{target}: {code}");
            Ok(exit::OK)
        }
        Ok(code) => {
            err!(
                "ballast probe: {target} answered {code}: `curl {target}?verbose` or `ballast health` says why"
            );
            Ok(exit::FAILURE)
        }
        Err(why) => {
            err!(
                "ballast probe: {target}: no answer within {} s ({why})",
                PROBE_TIMEOUT.as_secs()
            );
            Ok(exit::FAILURE)
        }
    }
}
