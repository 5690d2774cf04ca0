#!/usr/bin/env bash
# Backtest throughput: `ballast backtest` (sma_cross 10/30, guard off) over 1,000,000 synthetic
# one-minute bars, median of 3 runs, and the ratio to the 2,000,000 bars/s target.
# Usage: bash bench/backtest.sh            (run from the repository root)
set -euo pipefail
cd "$(dirname "$0")/.."
bars=target/bench-bars-1m.csv
cargo build --release -q
[ -f "$bars" ] || python3 bench/gen_bars.py 1000000 "$bars"
rates=()
for _ in 1 2 3; do
  rate=$(./target/release/ballast backtest --data "$bars" --guard off --fast 10 --slow 30 --qty 10 --json \
    | python3 -c 'import json,sys; r=json.load(sys.stdin); print(int(r["bars_per_second"]), r["summary"]["trades"])')
  rates+=("$rate")
done
printf '%s\n' "${rates[@]}" | sort -n | sed -n 2p | {
  read -r median trades
  echo "ballast backtest: 1,000,000 bars, sma_cross(10,30): median ${median} bars/s (load + run), ${trades} trades"
  python3 -c "print(f'ratio to the 2,000,000 bars/s target: {${median}/2e6:.2f}')"
}
