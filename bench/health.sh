#!/usr/bin/env bash
# Health benchmarks: the cost of a full health cycle (criterion, every built-in check plus 50
# declared file checks; target median <= 1 ms) and the detection latency of a stale heartbeat
# and of a deleted data directory (real supervisor, real files; target <= 100 ms each, against
# a 60-second sweep). Usage: bash bench/health.sh [SAMPLES]   (from anywhere; needs python3)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
cargo bench -q -p ballast-supervisor --bench health 2>&1 | grep -v '^Benchmarking'
python3 bench/detect.py "$PWD/target/release/ballast" "$PWD/target/bench/detect" "${1:-10}"
