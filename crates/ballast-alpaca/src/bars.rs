//! The bars of `[feed] kind = "alpaca"`: `GET {data_url}/v2/stocks/bars` (Market Data v2),
//! one-minute bars after a cursor, one symbol per request (Alpaca pages several symbols
//! symbol-first), paginated (`page_token`) and bounded (at most `max_pages` pages and
//! `max_bars` bars per symbol, `max_bars` a call in whole minutes), in time order. Prices are
//! JSON numbers there and are read by their raw text into `Decimal`.

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
/// `max_bars` — whole minutes only (a minute's bars are all returned or none: a caller's
/// cursor at the last bar's time skips no symbol's bar), so the first minute is returned
/// whole even when it alone holds more than `max_bars` bars (at most one per symbol).
///
/// Alpaca pages multi-symbol bars symbol-first, so one request per symbol (each paged with
/// its own `page_token`, at most `max_pages` pages and `max_bars` bars); when a symbol's bars
/// were cut (pages left), only the bars up to the earliest last time seen across the cut
/// symbols are returned (`more`): the next call from that cursor finds the rest of every
/// symbol.
pub fn fetch_bars(
    client: &mut Client,
    symbols: &[Symbol],
    after: Option<Timestamp>,
    start: Timestamp,
    max_bars: usize,
) -> Result<BarsBatch, VenueError> {
    let from = after.map_or(start, |a| a.plus_ms(1).max(start));
    let max_bars = max_bars.max(1);
    let mut bars = Vec::new();
    let mut horizon: Option<Timestamp> = None;
    for symbol in symbols {
        let (mut got, cut) = fetch_symbol(client, *symbol, from, max_bars)?;
        if cut {
            let last = got.iter().map(|b| b.ts).max().unwrap_or(from);
            horizon = Some(horizon.map_or(last, |h| h.min(last)));
        }
        bars.append(&mut got);
    }
    let mut more = horizon.is_some();
    bars.retain(|b| after.is_none_or(|a| b.ts > a) && horizon.is_none_or(|h| b.ts <= h));
    bars.sort_by_key(|b| (b.ts, b.symbol));
    bars.dedup_by(|a, b| a.ts == b.ts && a.symbol == b.symbol);
    if bars.len() > max_bars {
        // Whole minutes only: cut before the first minute that does not fit (at least the
        // first minute, whatever its size: at most one bar per symbol).
        let boundary = bars[max_bars].ts;
        let keep = bars.iter().take_while(|b| b.ts < boundary).count();
        let first = bars[0].ts;
        let keep = if keep == 0 {
            bars.iter().take_while(|b| b.ts == first).count()
        } else {
            keep
        };
        bars.truncate(keep);
        more = true;
    }
    Ok(BarsBatch { bars, more })
}

/// One symbol's bars from `from` (inclusive), at most `max_bars` (and `max_pages` pages);
/// `true`: more remain.
fn fetch_symbol(
    client: &mut Client,
    symbol: Symbol,
    from: Timestamp,
    max_bars: usize,
) -> Result<(Vec<Bar>, bool), VenueError> {
    const PATH: &str = "/v2/stocks/bars";
    let call = format!("GET {PATH}");
    let page_limit = max_bars.clamp(1, 10_000);
    let mut bars = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..client.settings().max_pages {
        let mut query = vec![
            ("symbols", symbol.as_str().to_owned()),
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
            if name != symbol.as_str() {
                let d = format!(
                    "{call}: field `bars` key {:?}: bars of a symbol not asked for ({symbol})",
                    clip(&name)
                );
                return Err(client.contract_error(&call, Call::Query, &d));
            }
            bars.extend(list.into_iter().map(|b| Bar {
                symbol,
                ts: b.t.0,
                open: b.o.0,
                high: b.h.0,
                low: b.l.0,
                close: b.c.0,
                volume: b.v.0,
            }));
        }
        token = page.next_page_token.filter(|t| !t.is_empty());
        if token.is_none() {
            return Ok((bars, false));
        }
        if bars.len() >= max_bars {
            break;
        }
    }
    Ok((bars, true))
}
