#!/usr/bin/env bash
# Backtest throughput, side by side in one run: `ballast backtest` (sma_cross 10/30, guard off;
# load + run), backtesting.py and NautilusTrader (their run only) on the same 1,000,000
# synthetic one-minute bars. Prints bars/s, trades, and Ballast's ratio to the faster of the
# two (target ≥ 20×) and to its own 2,000,000 bars/s target.
# Usage: bash bench/backtest.sh [--ballast-only]     (from anywhere; Python 3 with pip)
set -euo pipefail
cd "$(dirname "$0")/.."
bars=target/bench-bars-1m.csv
cargo build --release -q
[ -f "$bars" ] || python3 bench/gen_bars.py 1000000 "$bars"

runs=()
for _ in 1 2 3; do
  runs+=("$(./target/release/ballast backtest --data "$bars" --guard off --fast 10 --slow 30 --qty 10 --json \
    | python3 -c 'import json,sys; r=json.load(sys.stdin); print(int(r["bars_per_second"]), r["summary"]["trades"])')")
done
read -r ballast trades < <(printf '%s\n' "${runs[@]}" | sort -n | sed -n 2p)
echo "ballast          ${ballast} bars/s  (median of 3, load + run)  ${trades} round trips"
python3 -c "print(f'  ratio to the 2,000,000 bars/s target: {${ballast}/2e6:.2f}')"

[ "${1:-}" = "--ballast-only" ] && exit 0
if ! python3 -c 'import backtesting, nautilus_trader' 2>/dev/null; then
  echo "installing backtesting and nautilus_trader from PyPI..."
  python3 -m pip install --quiet backtesting nautilus_trader
fi
python3 bench/compare.py "$bars" 2>/dev/null | python3 -c "
import json, sys
ballast = ${ballast}
rates = {}
for line in sys.stdin:
    r = json.loads(line)
    if 'error' in r:
        print(f\"{r['engine']:<16} failed: {r['error']}\")
        continue
    rates[r['engine']] = r['bars_per_second']
    print(f\"{r['engine']:<16} {r['bars_per_second']:>9.0f} bars/s  (its run only)  {r['trades']} entries   ballast is {ballast / r['bars_per_second']:.1f}x\")
if rates:
    best = max(rates, key=rates.get)
    print(f'ballast vs the faster of the two ({best}): {ballast / rates[best]:.1f}x  (target >= 20x)')
"
