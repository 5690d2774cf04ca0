#!/usr/bin/env python3
"""Run the same sma_cross(10, 30) long-only strategy on the same bars in backtesting.py and
NautilusTrader, timing each engine's run, and print bars/s and trades as JSON lines.
Usage: compare.py BARS.csv [engine ...]   (engines: backtesting, nautilus)"""
import json
import sys
import time

import pandas as pd

FAST, SLOW, QTY = 10, 30, 10


def load(path):
    df = pd.read_csv(path, parse_dates=["Date"])
    df = df.rename(columns=str.capitalize).set_index("Date")
    return df[["Open", "High", "Low", "Close", "Volume"]]


def run_backtesting(df):
    from backtesting import Backtest, Strategy
    from backtesting.lib import crossover
    from backtesting.test import SMA

    class SmaCross(Strategy):
        def init(self):
            self.fast = self.I(SMA, self.data.Close, FAST)
            self.slow = self.I(SMA, self.data.Close, SLOW)

        def next(self):
            if crossover(self.fast, self.slow) and not self.position:
                self.buy(size=QTY)
            elif crossover(self.slow, self.fast) and self.position:
                self.position.close()

    bt = Backtest(df, SmaCross, cash=10_000_000, commission=0, trade_on_close=False, finalize_trades=True)
    t = time.perf_counter()
    stats = bt.run()
    elapsed = time.perf_counter() - t
    return elapsed, int(stats["# Trades"])


def run_nautilus(df):
    from decimal import Decimal

    from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
    from nautilus_trader.config import LoggingConfig, StrategyConfig
    from nautilus_trader.indicators import SimpleMovingAverage
    from nautilus_trader.model.currencies import USD
    from nautilus_trader.model.data import Bar, BarType
    from nautilus_trader.model.enums import AccountType, OmsType, OrderSide
    from nautilus_trader.model.identifiers import Venue
    from nautilus_trader.model.objects import Money
    from nautilus_trader.persistence.wranglers import BarDataWrangler
    from nautilus_trader.test_kit.providers import TestInstrumentProvider
    from nautilus_trader.trading.strategy import Strategy

    class Cfg(StrategyConfig, frozen=True):
        bar_type: str

    class SmaCross(Strategy):
        def __init__(self, config):
            super().__init__(config)
            self.bar_type = BarType.from_str(config.bar_type)
            self.fast = SimpleMovingAverage(FAST)
            self.slow = SimpleMovingAverage(SLOW)
            self.prev = None
            self.trades = 0

        def on_start(self):
            self.instrument = self.cache.instrument(self.bar_type.instrument_id)
            self.register_indicator_for_bars(self.bar_type, self.fast)
            self.register_indicator_for_bars(self.bar_type, self.slow)
            self.subscribe_bars(self.bar_type)

        def on_bar(self, bar: Bar):
            if not self.slow.initialized:
                return
            diff = self.fast.value - self.slow.value
            if self.prev is not None:
                flat = self.portfolio.is_flat(self.instrument.id)
                if self.prev <= 0 < diff and flat:
                    self.submit_order(self.order_factory.market(self.instrument.id, OrderSide.BUY, self.instrument.make_qty(QTY)))
                    self.trades += 1
                elif self.prev >= 0 > diff and not flat:
                    self.close_all_positions(self.instrument.id)
            self.prev = diff

    instrument = TestInstrumentProvider.equity(symbol="SYN", venue="XNAS")
    engine = BacktestEngine(BacktestEngineConfig(logging=LoggingConfig(bypass_logging=True)))
    engine.add_venue(Venue("XNAS"), oms_type=OmsType.NETTING, account_type=AccountType.CASH, base_currency=USD, starting_balances=[Money(10_000_000, USD)])
    engine.add_instrument(instrument)
    bar_type = BarType.from_str(f"{instrument.id}-1-MINUTE-LAST-EXTERNAL")
    data = df.rename(columns=str.lower)
    data.index = data.index.tz_localize("UTC")
    bars = BarDataWrangler(bar_type, instrument).process(data)
    engine.add_data(bars)
    strategy = SmaCross(Cfg(bar_type=str(bar_type)))
    engine.add_strategy(strategy)
    t = time.perf_counter()
    engine.run()
    elapsed = time.perf_counter() - t
    return elapsed, strategy.trades


def main():
    path = sys.argv[1]
    engines = sys.argv[2:] or ["backtesting", "nautilus"]
    df = load(path)
    for name in engines:
        try:
            elapsed, trades = {"backtesting": run_backtesting, "nautilus": run_nautilus}[name](df)
            print(json.dumps({"engine": name, "bars": len(df), "seconds": elapsed, "bars_per_second": len(df) / elapsed, "trades": trades}))
        except Exception as e:  # report and go on with the other engine
            print(json.dumps({"engine": name, "error": f"{type(e).__name__}: {e}"}))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
