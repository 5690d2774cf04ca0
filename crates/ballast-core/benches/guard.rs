//! Trade guard verdict latency with every check on, on portfolios of 10 and 10,000
//! positions (target: median ≤ 1 µs, O(1) in portfolio size). Run with
//! `cargo bench -p ballast-core --bench guard`.

#![forbid(unsafe_code)]

use std::hint::black_box;
use std::time::Duration;

use ballast_core::config;
use ballast_core::domain::{
    ClientOrderId, Fill, FillId, Notional, Price, Quantity, Side, SignalId, Symbol,
};
use ballast_core::guard::{self, Account, Candidate, Gate, GuardState, Limits};
use ballast_core::portfolio::Portfolio;
use ballast_core::time::Timestamp;
use criterion::Criterion;
use rust_decimal::Decimal;

fn portfolio(n: usize) -> (Portfolio, Vec<Symbol>) {
    let mut p = Portfolio::new(Decimal::from(10_000_000));
    let mut symbols = Vec::with_capacity(n);
    for i in 0..n {
        let sym = Symbol::new(&format!("S{i}")).unwrap();
        let fill = Fill {
            fill_id: FillId::parse(&format!("f{i}")).unwrap(),
            client_order_id: ClientOrderId::for_signal(SignalId(i as u64), 0),
            symbol: sym,
            side: if i % 3 == 0 { Side::Sell } else { Side::Buy },
            qty: Quantity::new(Decimal::from(1 + i % 7)).unwrap(),
            price: Price::new(Decimal::new(10_000 + i as i64, 2)).unwrap(),
            fee: Notional::ZERO,
            ts: Timestamp::EPOCH,
        };
        p.apply_fill(&fill).unwrap();
        p.mark(&sym, Decimal::new(10_050 + i as i64, 2));
        symbols.push(sym);
    }
    (p, symbols)
}

fn setup(n: usize) -> (Limits, Gate, GuardState, Portfolio, Vec<Symbol>) {
    let cfg = config::builtin().unwrap();
    let mut limits = Limits::from(&cfg);
    limits.min_cooldown_ms = 60_000;
    limits.max_orders_per_second = 1_000;
    limits.max_orders_per_minute = 10_000;
    let (p, symbols) = portfolio(n);
    let mut state = GuardState::default();
    for (i, s) in symbols.iter().take(200).enumerate() {
        let c = Candidate {
            symbol: *s,
            side: Side::Buy,
            qty: Decimal::ONE,
            limit_price: None,
            idempotency_key: Some(format!("k{i}")),
        };
        state.record_submit(&c, Timestamp::from_unix_ms(i as i64), &limits);
    }
    (limits, Gate::default(), state, p, symbols)
}

fn verdict(
    l: &Limits,
    g: &Gate,
    s: &GuardState,
    p: &Portfolio,
    sym: &Symbol,
    now: Timestamp,
) -> guard::Verdict {
    let account = Account::from_portfolio(p, sym, 3, Decimal::from(1_000), p.equity(), p.equity());
    let c = Candidate {
        symbol: *sym,
        side: Side::Buy,
        qty: Decimal::from(3),
        limit_price: Some(Decimal::new(10_060, 2)),
        idempotency_key: Some("fresh".into()),
    };
    guard::evaluate(l, g, s, &c, &account, now)
}

// A bench measures wall time: the one function that reads the clock (clippy.toml).
#[allow(clippy::disallowed_methods, clippy::disallowed_types)]
fn median_ns(n: usize) -> f64 {
    let (l, g, s, p, syms) = setup(n);
    let now = Timestamp::from_unix_ms(10_000_000);
    let mut samples = Vec::with_capacity(101);
    for _ in 0..101 {
        let t = std::time::Instant::now();
        for i in 0..2_000 {
            black_box(verdict(&l, &g, &s, &p, &syms[(i * 7919) % syms.len()], now));
        }
        samples.push(t.elapsed().as_nanos() as f64 / 2_000.0);
    }
    samples.sort_by(f64::total_cmp);
    samples[50]
}

// A bench prints its figures (clippy.toml keeps printing out of the library).
#[allow(clippy::disallowed_macros)]
fn main() {
    let small = median_ns(10);
    let large = median_ns(10_000);
    println!();
    println!("guard verdict, every check on (median of 101 samples of 2,000 verdicts)");
    println!(
        "  portfolio of     10 positions: {small:>7.0} ns   ratio to 1 µs target {:.2}",
        small / 1000.0
    );
    println!(
        "  portfolio of 10,000 positions: {large:>7.0} ns   ratio to 1 µs target {:.2}",
        large / 1000.0
    );
    println!(
        "  10,000 vs 10 positions: {:.2}x (O(1) means about 1)",
        large / small
    );
    println!();

    let mut c = Criterion::default()
        .configure_from_args()
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    for n in [10usize, 10_000] {
        let (l, g, s, p, syms) = setup(n);
        let now = Timestamp::from_unix_ms(10_000_000);
        let mut i = 0usize;
        c.bench_function(&format!("guard_verdict_{n}_positions"), |b| {
            b.iter(|| {
                i = i.wrapping_add(7919);
                black_box(verdict(&l, &g, &s, &p, &syms[i % syms.len()], now))
            })
        });
    }
    c.final_summary();
}
