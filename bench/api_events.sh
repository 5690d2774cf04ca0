#!/usr/bin/env bash
# Event to browser: the median latency from an engine-journal append being durable to its event
# on /v1/events (loopback HTTP, the real follower and SSE route). Target: median <= 50 ms.
# Usage: bash bench/api_events.sh [appends, default 300]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release --quiet -p ballast-api --example api_events -- "${1:-300}"
