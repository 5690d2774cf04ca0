//! `ballast dev …`: tools for developers. `ballast dev fake-alpaca --port N` runs the fake
//! Alpaca (`ballast_fake_alpaca`) on loopback until Ctrl-C, to try the Alpaca adapter without
//! an account: it prints the URL and the environment lines to export. With the fake's own demo
//! keys the secret is printed — it opens only this fake, so showing it is fine for a dev tool;
//! keys given by `--key-id`/`--secret-key` or the environment are never printed.

use std::io::{ErrorKind, Read};

/// How often the request lines are printed.
const REQUEST_LINES_EVERY_MS: u64 = 200;

use rust_decimal::Decimal;

use super::{err, out};
use crate::exit::{self, Exit};

#[derive(Debug, clap::Subcommand)]
pub enum DevCommand {
    /// Run a fake Alpaca (Trading API v2 + market data bars) on 127.0.0.1 until Ctrl-C: a
    /// market of the bundled replay bars, the fake's control routes under /_fake/.
    FakeAlpaca(FakeAlpacaArgs),
}

#[derive(Debug, clap::Args)]
pub struct FakeAlpacaArgs {
    /// Port on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// The key id it accepts [default: the fake's demo key]
    #[arg(long, env = "APCA_API_KEY_ID", hide_env_values = true)]
    key_id: Option<String>,
    /// The secret it accepts [default: the fake's demo secret]
    #[arg(long, env = "APCA_API_SECRET_KEY", hide_env_values = true)]
    secret_key: Option<String>,
    /// A live account (account number without "PA"; the demo key id starts with AK, as
    /// Alpaca's live keys do) instead of a paper one.
    #[arg(long)]
    live: bool,
    /// The market moves one bar every MS milliseconds (0: only on POST /_fake/tick).
    #[arg(long, default_value_t = 1000, value_name = "MS")]
    tick_ms: u64,
    /// Traded symbols, comma-separated, from the bundled data (AAPL, IBM, MSFT, GOOG, FB).
    #[arg(long, value_delimiter = ',', default_value = "AAPL,MSFT")]
    symbols: Vec<String>,
    /// Starting cash (USD).
    #[arg(long, default_value = "100000")]
    cash: Decimal,
    /// Requests per minute per key (Alpaca's is 200); 429 beyond.
    #[arg(long, default_value_t = 200)]
    rate_limit: u32,
    /// Print nothing per request (by default each request is one line: method, path, status).
    #[arg(long)]
    quiet: bool,
}

pub fn dev(command: DevCommand) -> anyhow::Result<Exit> {
    match command {
        DevCommand::FakeAlpaca(args) => fake_alpaca(args),
    }
}

fn fake_alpaca(args: FakeAlpacaArgs) -> anyhow::Result<Exit> {
    use ballast_fake_alpaca::{
        DEMO_KEY_ID, DEMO_LIVE_KEY_ID, DEMO_SECRET_KEY, FakeAlpaca, FakeConfig,
    };
    let demo_keys = args.key_id.is_none() && args.secret_key.is_none();
    let demo_key_id = if args.live {
        DEMO_LIVE_KEY_ID
    } else {
        DEMO_KEY_ID
    };
    let (Some(key_id), Some(secret_key)) = (
        args.key_id.or(demo_keys.then(|| demo_key_id.to_owned())),
        args.secret_key
            .or(demo_keys.then(|| DEMO_SECRET_KEY.to_owned())),
    ) else {
        err!(
            "ballast dev fake-alpaca: a key id without its secret (or the reverse)\n    help: give both (--key-id and --secret-key, or APCA_API_KEY_ID and APCA_API_SECRET_KEY), or neither for the fake's demo keys"
        );
        return Ok(exit::CONFIG);
    };
    if args.rate_limit == 0 {
        err!(
            "ballast dev fake-alpaca: --rate-limit 0 would refuse every request\n    help: 200 is Alpaca's"
        );
        return Ok(exit::CONFIG);
    }
    let cfg = FakeConfig {
        key_id,
        secret_key,
        live: args.live,
        symbols: args.symbols,
        cash: args.cash,
        rate_limit_per_min: args.rate_limit,
        auto_tick_ms: (args.tick_ms > 0).then_some(args.tick_ms),
        ..FakeConfig::default()
    };
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], args.port));
    let fake = match FakeAlpaca::start_on(cfg, addr) {
        Ok(f) => f,
        Err(e) => {
            err!(
                "ballast dev fake-alpaca: cannot start on {addr}: {e}\n    help: choose another --port (0 picks a free one)"
            );
            return Ok(exit::FAILURE);
        }
    };
    // Blocks until SIGINT/SIGTERM: the handlers write to this pipe.
    let (mut wake, wake_write) = std::os::unix::net::UnixStream::pair()?;
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::low_level::pipe::register(sig, wake_write.try_clone()?)?;
    }
    let shown_key = demo_keys.then_some(demo_key_id);
    say_started(&fake, args.live, shown_key, args.tick_ms);
    wake.set_read_timeout(Some(std::time::Duration::from_millis(
        REQUEST_LINES_EVERY_MS,
    )))?;
    let mut seen = 0u64;
    let mut byte = [0u8; 1];
    loop {
        let signalled = !matches!(
            wake.read(&mut byte),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted)
        );
        let (new, total) = fake.requests_after(seen);
        seen = total;
        if !args.quiet {
            new.iter().for_each(say_request);
        }
        if signalled {
            break; // a signal (or the pipe gone): the last requests were said first
        }
    }
    drop(fake);
    out!("fake Alpaca stopped");
    Ok(exit::OK)
}

fn say_request(r: &ballast_fake_alpaca::Seen) {
    let answer = match r.status {
        0 => "dropped, no answer".to_owned(),
        s => s.to_string(),
    };
    out!("{:>8} ms  {} {} → {answer}", r.at_ms, r.method, r.path);
}

/// The banner; `demo_key` is the demo key id in use (None: keys were given, not shown).
fn say_started(
    fake: &ballast_fake_alpaca::FakeAlpaca,
    live: bool,
    demo_key: Option<&str>,
    tick_ms: u64,
) {
    let url = fake.url();
    let account = if live { "live" } else { "paper" };
    out!(
        "fake Alpaca ({account} account) on {url} — trading API and market data bars; Ctrl-C stops it"
    );
    if let Some(key) = demo_key {
        out!("export APCA_API_KEY_ID={key}");
        out!(
            "export APCA_API_SECRET_KEY={}   # the fake's own demo secret: it opens only this fake",
            ballast_fake_alpaca::DEMO_SECRET_KEY
        );
    } else {
        out!("keys: the ones you gave (APCA_API_KEY_ID / APCA_API_SECRET_KEY; not shown)");
    }
    let url_key = if live { "live_url" } else { "paper_url" };
    out!(
        "point Ballast at it: [broker] kind = \"alpaca\"; [broker.alpaca] {url_key} = \"{url}\", data_url = \"{url}\" (and [feed] kind = \"alpaca\" for its bars)"
    );
    let market = match tick_ms {
        0 => "the market moves on POST /_fake/tick".to_owned(),
        ms => format!("the market moves one bar every {ms} ms"),
    };
    out!(
        "symbols {}; {market}; control: GET /_fake/counts, POST /_fake/tick, /_fake/fault, /_fake/position, /_fake/foreign_order",
        fake.symbols().join(",")
    );
}
