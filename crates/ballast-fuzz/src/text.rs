//! The text formats an operator or a client writes: the configuration, the secrets file, inbox
//! lines and the API's JSON bodies.

use ballast_alpaca::secrets::{self, Mode};
use ballast_core::config::Source;
use ballast_core::domain::Symbol;
use ballast_core::inbox::ExternalSignal;

use crate::select;

/// The tradable universe the signal targets check against.
pub fn symbols() -> Vec<Symbol> {
    ["AAPL", "MSFT", "SPY"]
        .iter()
        .filter_map(|s| Symbol::new(s).ok())
        .collect()
}

/// The configuration file's text → the validated configuration (what `ballast check` and
/// `ballast run` do with the file's bytes once read within [`ballast_core::limits::MAX_FILE_BYTES`]):
/// every error renders in words.
pub fn config(data: &[u8]) {
    if data.len() as u64 > ballast_core::limits::MAX_FILE_BYTES {
        return;
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let source = Source {
        path: "fuzz.toml",
        text,
    };
    match ballast_core::config::load(Some(source), &[]) {
        Ok(cfg) => {
            // What the supervisor hands the engine: written and read back unchanged.
            let file = ballast_core::config::in_force::InForce::new("fuzz", &cfg);
            if let Ok(bytes) = ballast_core::config::in_force::encode_file(&file) {
                let back = ballast_core::config::in_force::decode_file(&bytes);
                assert_eq!(back.as_ref(), Ok(&file), "in-force round trip");
            }
        }
        Err(errors) => {
            let shown = errors.to_string();
            assert!(!shown.is_empty(), "a refused configuration says why");
        }
    }
}

/// The Alpaca secrets file's text (`[paper]` / `[live]` keys) → the keys of one table.
pub fn secrets(data: &[u8]) {
    let (sel, rest) = select(data);
    if rest.len() as u64 > secrets::MAX_SECRETS_FILE_BYTES {
        return;
    }
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let mode = if sel & 1 == 0 {
        Mode::Paper
    } else {
        Mode::Live
    };
    match secrets::parse_file(text, mode) {
        Ok(keys) => {
            // The keys never show in their Debug or Display forms.
            let shown = format!("{keys:?} {keys}");
            if keys.secret_key().len() >= 8 {
                assert!(
                    !shown.contains(keys.secret_key()),
                    "a secret shown: {shown}"
                );
            }
        }
        Err(e) => assert!(!e.is_empty()),
    }
}

/// One raw inbox line (as the engine reads it from `inbox/*.jsonl`, without its newline).
pub fn inbox(data: &[u8]) {
    let symbols = symbols();
    if let Ok(signal) = ballast_engine::inbox::parse(data, &symbols) {
        round_trip(&signal, &symbols);
    }
}

/// A signal written as JSON reads back as itself (what `POST /v1/signals` and the inbox share).
fn round_trip(signal: &ExternalSignal, symbols: &[Symbol]) {
    if let Ok(json) = serde_json::to_string(signal) {
        if let Ok(back) = ballast_core::inbox::parse_signal(&json, symbols) {
            assert_eq!(&back, signal, "signal round trip through {json}");
        }
    }
}

/// Every JSON body a route accepts, through the route's own decoding
/// ([`ballast_api::bodies`]); the selector picks the route.
pub fn api_bodies(data: &[u8]) {
    let (sel, rest) = select(data);
    if rest.len() > ballast_api::MAX_BODY_BYTES {
        return;
    }
    match sel % 6 {
        0 => {
            let symbols = symbols();
            if let Ok(signal) = ballast_api::bodies::signal(rest, &symbols) {
                round_trip(&signal, &symbols);
            }
        }
        1 => {
            if let Ok((reason, _)) = ballast_api::bodies::kill(rest) {
                assert!(!reason.trim().is_empty(), "an empty kill reason was taken");
            }
        }
        n => {
            let choice = ["adopt", "flatten", "stay", "maybe"][usize::from(n - 2)];
            let _ = ballast_api::bodies::reconcile_choice(rest, choice);
        }
    }
}
