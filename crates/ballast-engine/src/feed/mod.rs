//! Market data feeds.
//!
//! - `replay`: bars from a CSV file (the bundled real data by default), in time order; when the
//!   file ends, a seeded synthetic walk continues from the last prices so a demo never stops.
//! - `synthetic`: a seeded geometric random walk for any number of symbols.
//!
//! Both are deterministic: bar `n` is always the same bar, so after a restart the feed resumes
//! exactly after the last bar the journal holds ([`Feed::skip`]).

pub mod file;
mod synthetic;

pub use synthetic::Walk;

use ballast_core::domain::Symbol;
use ballast_core::market::Bar;

/// A feed: replayed bars first, then the synthetic walk.
#[derive(Debug)]
pub struct Feed {
    replay: Vec<Bar>,
    pos: usize,
    walk: Walk,
}

impl Feed {
    /// Replay `bars` (sorted by time), then walk on from their last prices.
    pub fn replay(bars: Vec<Bar>, seed: u64, volatility_pct: rust_decimal::Decimal) -> Self {
        let walk = Walk::after(&bars, seed, volatility_pct);
        Feed {
            replay: bars,
            pos: 0,
            walk,
        }
    }

    /// A synthetic walk from `start_price` for `symbols`.
    pub fn synthetic(
        symbols: &[Symbol],
        start_price: rust_decimal::Decimal,
        seed: u64,
        volatility_pct: rust_decimal::Decimal,
    ) -> Self {
        Feed {
            replay: Vec::new(),
            pos: 0,
            walk: Walk::new(symbols, start_price, seed, volatility_pct),
        }
    }

    /// Skip the first `n` bars (those already in the journal).
    pub fn skip(&mut self, n: u64) {
        for _ in 0..n {
            self.next_bar();
        }
    }

    /// Is the feed past its replayed bars (on the synthetic walk)?
    pub fn synthetic_now(&self) -> bool {
        self.pos >= self.replay.len()
    }

    /// The next bar.
    pub fn next_bar(&mut self) -> Bar {
        if let Some(b) = self.replay.get(self.pos) {
            self.pos += 1;
            return *b;
        }
        self.walk.next_bar()
    }
}
