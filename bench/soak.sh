#!/usr/bin/env bash
# The kill -9 soak (issue 15 item 5): one throw-away paper instance (the fake Alpaca and
# `ballast run` as real processes) under inbox + HTTP signal load for MINUTES minutes, with
# seeded random kill -9 of the engine and of the supervisor (`ballast run` started again at
# once, as systemd's Restart= does) and random `ballast kill` / `ballast resume`; then the
# ledger invariants. Prints kills survived, records lost (must be 0), duplicate orders (0) and
# halts re-armed without an operator (0); exit 1 if any of those is not 0. Not run in CI.
# Usage: bash bench/soak.sh [MINUTES] [SEED]      (from anywhere; default 10 minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-10}
seed=${2:-$(date +%s)}
cargo build -q -p ballast
exec nice ./target/debug/ballast chaos soak --minutes "$minutes" --seed "$seed"
