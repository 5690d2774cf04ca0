#!/usr/bin/env python3
"""Generate N one-minute OHLCV bars of one symbol as a seeded random walk, in the bundled
data's CSV format (Ticker,Date,Open,High,Low,Close,Volume). Usage: gen_bars.py N OUT.csv"""
import random
import sys
from datetime import datetime, timedelta

n, out = int(sys.argv[1]), sys.argv[2]
rng = random.Random(20261122)
t = datetime(2020, 1, 2, 9, 30)
price = 100.0
with open(out, "w") as f:
    f.write("Ticker,Date,Open,High,Low,Close,Volume\n")
    for _ in range(n):
        o = price
        c = max(1.0, o * (1 + rng.gauss(0, 0.001)))
        h = max(o, c) * (1 + abs(rng.gauss(0, 0.0003)))
        lo = min(o, c) * (1 - abs(rng.gauss(0, 0.0003)))
        f.write(f"SYN,{t:%Y-%m-%d %H:%M:%S},{o:.2f},{h:.2f},{lo:.2f},{c:.2f},{rng.randint(1000, 100000)}\n")
        price = c
        t += timedelta(minutes=1)
