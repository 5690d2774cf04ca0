//! The bars of `[feed] kind = "alpaca"`: `GET {data_url}/v2/stocks/bars` (Market Data v2),
//! one-minute bars after a cursor, paginated (`page_token`) and bounded (at most
//! `max_pages` pages and `max_bars` bars a call), in time order. Prices are JSON numbers there
//! and are read by their text into `Decimal`.

use ballast_core::Timestamp;
use ballast_core::domain::Symbol;
use ballast_core::market::Bar;
use ballast_core::venue::classify::Call;
use reqwest::Method;

use crate::client::{Api, Client, Request, VenueError};
use crate::model::BarsPage;
use crate::wire::{clip, decode};

/// Bars of one call, and whether more remain after the last one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BarsBatch {
    /// Oldest first (ties by symbol).
    pub bars: Vec<Bar>,
    pub more: bool,
}

/// The one-minute bars of `symbols` after `after` (exclusive; `None`: from `start`), at most
/// `max_bars`.
pub fn fetch_bars(
    client: &mut Client,
    symbols: &[Symbol],
    after: Option<Timestamp>,
    start: Timestamp,
    max_bars: usize,
) -> Result<BarsBatch, VenueError> {
    const PATH: &str = "/v2/stocks/bars";
    let call = format!("GET {PATH}");
    let from = after.map_or(start, |a| a.plus_ms(1).max(start));
    let joined = symbols
        .iter()
        .map(Symbol::as_str)
        .collect::<Vec<_>>()
        .join(",");
    let page_limit = max_bars.clamp(1, 10_000);
    let mut bars = Vec::new();
    let mut token: Option<String> = None;
    let mut more = false;
    for _ in 0..client.settings().max_pages {
        let mut query = vec![
            ("symbols", joined.clone()),
            ("timeframe", "1Min".to_owned()),
            ("start", from.to_string()),
            ("limit", page_limit.to_string()),
            ("sort", "asc".to_owned()),
        ];
        if let Some(t) = &token {
            query.push(("page_token", t.clone()));
        }
        let req = Request {
            kind: Call::Query,
            method: Method::GET,
            api: Api::Data,
            path: PATH,
            query,
            body: None,
            urgent: false,
        };
        let answer = client.send(&req)?;
        let page: BarsPage = decode(&call, &answer.body)
            .map_err(|d| client.contract_error(&call, Call::Query, &d))?;
        for (name, list) in page.bars.unwrap_or_default() {
            let symbol = Symbol::new(&name).map_err(|e| {
                let d = format!("{call}: field `bars` key {:?}: {e}", clip(&name));
                client.contract_error(&call, Call::Query, &d)
            })?;
            for b in list {
                bars.push(Bar {
                    symbol,
                    ts: b.t.0,
                    open: b.o.0,
                    high: b.h.0,
                    low: b.l.0,
                    close: b.c.0,
                    volume: b.v.0,
                });
            }
        }
        token = page.next_page_token.filter(|t| !t.is_empty());
        more = token.is_some();
        if !more || bars.len() >= max_bars {
            break;
        }
    }
    bars.retain(|b| after.is_none_or(|a| b.ts > a));
    bars.sort_by_key(|b| (b.ts, b.symbol));
    bars.dedup_by(|a, b| a.ts == b.ts && a.symbol == b.symbol);
    if bars.len() > max_bars {
        bars.truncate(max_bars);
        more = true;
    }
    Ok(BarsBatch { bars, more })
}
