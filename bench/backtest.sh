#!/usr/bin/env bash
# Backtest throughput, side by side in one run: `ballast backtest` (sma_cross 10/30, guard off),
# backtesting.py and NautilusTrader on the same 1,000,000 synthetic one-minute bars.
#
# Ballast is timed twice from the same runs: end to end (reading and parsing the CSV, then the
# run) and its run alone. The two Python engines are timed on their run alone (their CSV
# loading through pandas is not counted), so "run vs run" is the like-for-like ratio and
# "end to end vs their run" the conservative one. Target: >= 20x the faster of the two, and
# >= 2,000,000 bars/s end to end.
# Usage: bash bench/backtest.sh [--ballast-only]     (from anywhere; Python 3 with pip)
set -euo pipefail
cd "$(dirname "$0")/.."
bars=target/bench-bars-1m.csv
cargo build --release -q
[ -f "$bars" ] || python3 bench/gen_bars.py 1000000 "$bars"

runs=$(for _ in 1 2 3 4 5; do
  ./target/release/ballast backtest --data "$bars" --guard off --fast 10 --slow 30 --qty 10 --json
done | python3 -c '
import json, sys, statistics as st
text = sys.stdin.read()
dec = json.JSONDecoder()
rows, i = [], 0
while i < len(text):
    while i < len(text) and text[i].isspace():
        i += 1
    if i >= len(text):
        break
    r, i = dec.raw_decode(text, i)
    rows.append(r)
n = rows[0]["summary"]["bars"]
e2e = st.median(n / (r["load_seconds"] + r["run_seconds"]) for r in rows)
run = st.median(n / r["run_seconds"] for r in rows)
print(int(e2e), int(run), rows[0]["summary"]["trades"])
')
read -r e2e run trades <<<"$runs"
echo "ballast          ${e2e} bars/s end to end, ${run} bars/s run alone  (median of 5)  ${trades} round trips"
python3 -c "print(f'  end to end vs the 2,000,000 bars/s target: {${e2e}/2e6:.2f}')"

[ "${1:-}" = "--ballast-only" ] && exit 0
if ! python3 -c 'import backtesting, nautilus_trader' 2>/dev/null; then
  echo "installing backtesting and nautilus_trader from PyPI..."
  python3 -m pip install --quiet backtesting nautilus_trader
fi
python3 bench/compare.py "$bars" 2>/dev/null | python3 -c "
import json, sys
e2e, run = ${e2e}, ${run}
rates = {}
for line in sys.stdin:
    r = json.loads(line)
    if 'error' in r:
        print(f\"{r['engine']:<16} failed: {r['error']}\")
        continue
    rates[r['engine']] = r['bars_per_second']
    print(f\"{r['engine']:<16} {r['bars_per_second']:>9.0f} bars/s  (its run)  {r['trades']} entries   ballast run vs run {run / r['bars_per_second']:.1f}x, end to end vs run {e2e / r['bars_per_second']:.1f}x\")
if rates:
    best = max(rates, key=rates.get)
    print(f'ballast vs the faster of the two ({best}): run vs run {run / rates[best]:.1f}x, end to end vs its run {e2e / rates[best]:.1f}x  (target >= 20x)')
"
