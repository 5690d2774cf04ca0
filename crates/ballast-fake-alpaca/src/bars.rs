//! Alpaca Market Data v2's bars endpoint, `GET /v2/stocks/bars`: the bars revealed so far (one
//! per tick per symbol), `t` one minute apart from `market::BARS_START_US`, prices from the
//! bundled replay data written as JSON numbers with the data's own digits (never through f64).
//! `start` / `end` are inclusive; `limit` (default 1000, at most 10000) counts bars across
//! symbols; the answer is paged in symbol order then time, with an opaque `next_page_token`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use ballast_core::market::Bar;
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::value::RawValue;

use crate::clock::{self, Micros};
use crate::market::{BAR_SPACING_US, BARS_START_US, Series, bar_time};
use crate::orders::Refusal;
use crate::routes::refused;
use crate::server::Shared;

pub const BARS_LIMIT_MAX: u64 = 10_000;
const BARS_LIMIT_DEFAULT: u64 = 1_000;

#[derive(Serialize)]
struct BarOut {
    t: String,
    o: Option<Box<RawValue>>,
    h: Option<Box<RawValue>>,
    l: Option<Box<RawValue>>,
    c: Option<Box<RawValue>>,
    v: Option<Box<RawValue>>,
    n: u64,
    vw: Option<Box<RawValue>>,
}

#[derive(Serialize)]
struct BarsOut {
    bars: BTreeMap<String, Vec<BarOut>>,
    next_page_token: Option<String>,
}

/// A decimal as a JSON number with its own digits (a Decimal never prints an exponent, so
/// this is always a valid number; `null` if it ever were not).
fn number(d: Decimal) -> Option<Box<RawValue>> {
    RawValue::from_string(d.normalize().to_string()).ok()
}

fn bar_out(k: u64, b: &Bar) -> BarOut {
    let vw = ((b.high + b.low + b.close) / Decimal::from(3)).round_dp(4);
    let trades = (b.volume / Decimal::ONE_HUNDRED).trunc().max(Decimal::ONE);
    BarOut {
        t: clock::utc(bar_time(k)).replace(".000000Z", "Z"),
        o: number(b.open),
        h: number(b.high),
        l: number(b.low),
        c: number(b.close),
        v: number(b.volume.trunc()),
        n: trades.to_string().parse().unwrap_or(1),
        vw: number(vw),
    }
}

fn bad(message: String) -> Refusal {
    Refusal {
        status: 422,
        code: 42210000,
        message,
    }
}

/// The tick range `[lo, hi]` a time window covers, within the ticks so far.
fn ticks_in(start: Option<Micros>, end: Option<Micros>, ticks: u64) -> (u64, u64) {
    let index = |t: Micros, up: bool| -> i64 {
        let off = t - BARS_START_US;
        let i = if up {
            (off + BAR_SPACING_US - 1).div_euclid(BAR_SPACING_US)
        } else {
            off.div_euclid(BAR_SPACING_US)
        };
        i + 1
    };
    let lo = start.map_or(1, |s| index(s, true).max(1));
    let hi = end.map_or(i64::MAX, |e| index(e, false));
    let lo = u64::try_from(lo).unwrap_or(1);
    let hi = u64::try_from(hi).unwrap_or(0).min(ticks);
    (lo, hi)
}

/// A bars request, read.
struct BarsQuery {
    names: Vec<String>,
    start: Option<Micros>,
    end: Option<Micros>,
    limit: u64,
    descending: bool,
    resume: Option<Resume>,
}

fn query(q: &HashMap<String, String>) -> Result<BarsQuery, Refusal> {
    let Some(symbols) = q.get("symbols").filter(|v| !v.trim().is_empty()) else {
        return Err(bad("symbols is required".into()));
    };
    match q.get("timeframe").map(String::as_str) {
        Some("1Min" | "1T" | "1min") => {}
        Some(t) => {
            return Err(bad(format!(
                "invalid timeframe {t:?}: the fake serves 1Min bars only"
            )));
        }
        None => return Err(bad("timeframe is required".into())),
    }
    let time = |k: &str| match q.get(k) {
        None => Ok(None),
        Some(t) => clock::parse(t)
            .map(Some)
            .ok_or_else(|| bad(format!("invalid {k} {t:?}: an RFC 3339 timestamp"))),
    };
    let limit = match q.get("limit").map(|l| l.parse::<u64>()) {
        None => BARS_LIMIT_DEFAULT,
        Some(Ok(n)) if (1..=BARS_LIMIT_MAX).contains(&n) => n,
        Some(_) => {
            return Err(bad(format!(
                "invalid limit: between 1 and {BARS_LIMIT_MAX}"
            )));
        }
    };
    let descending = match q.get("sort").map(String::as_str) {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(o) => return Err(bad(format!("invalid sort {o:?}: asc or desc"))),
    };
    let resume = match q.get("page_token") {
        None => None,
        Some(t) => Some(parse_token(t).ok_or_else(|| {
            bad("invalid page_token: pass the next_page_token of the previous page".into())
        })?),
    };
    let mut names: Vec<String> = symbols
        .split(',')
        .map(|x| x.trim().to_ascii_uppercase())
        .filter(|x| !x.is_empty())
        .collect();
    names.sort();
    names.dedup();
    Ok(BarsQuery {
        names,
        start: time("start")?,
        end: time("end")?,
        limit,
        descending,
        resume,
    })
}

pub async fn bars(
    State(s): State<Arc<Shared>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let bq = match query(&q) {
        Ok(b) => b,
        Err(r) => return refused(&r),
    };
    let inner = s.lock();
    let (lo, hi) = ticks_in(bq.start, bq.end, inner.book.market.ticks());
    let series: Vec<&Series> = bq
        .names
        .iter()
        .filter_map(|n| inner.book.market.find(n))
        .collect();
    let out = page(&series, lo, hi, &bq);
    axum::Json(out).into_response()
}

/// Where a page starts: the symbol and the tick of its first bar (the page token
/// `fake-SYMBOL-K`), so bars revealed between two pages neither shift nor repeat a page.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Resume {
    symbol: String,
    k: u64,
}

fn token(r: &Resume) -> String {
    format!("fake-{}-{}", r.symbol, r.k)
}

fn parse_token(t: &str) -> Option<Resume> {
    let (symbol, k) = t.strip_prefix("fake-")?.rsplit_once('-')?;
    Some(Resume {
        symbol: symbol.to_owned(),
        k: k.parse().ok()?,
    })
}

fn page(series: &[&Series], lo: u64, hi: u64, bq: &BarsQuery) -> BarsOut {
    let mut bars: BTreeMap<String, Vec<BarOut>> = BTreeMap::new();
    let mut taken = 0u64;
    for s in series {
        let (mut from, mut to) = (lo, hi);
        if let Some(r) = &bq.resume {
            match s.symbol.as_str().cmp(r.symbol.as_str()) {
                std::cmp::Ordering::Less => continue,
                std::cmp::Ordering::Equal if bq.descending => to = to.min(r.k),
                std::cmp::Ordering::Equal => from = from.max(r.k),
                std::cmp::Ordering::Greater => {}
            }
        }
        if from > to {
            continue;
        }
        let ks: Box<dyn Iterator<Item = u64>> = if bq.descending {
            Box::new((from..=to).rev())
        } else {
            Box::new(from..=to)
        };
        for k in ks {
            if taken == bq.limit {
                let next = Resume {
                    symbol: s.symbol.clone(),
                    k,
                };
                return BarsOut {
                    bars,
                    next_page_token: Some(token(&next)),
                };
            }
            if let Some(b) = s.bar(k) {
                bars.entry(s.symbol.clone())
                    .or_default()
                    .push(bar_out(k, &b));
            }
            taken += 1;
        }
    }
    BarsOut {
        bars,
        next_page_token: None,
    }
}
