#!/usr/bin/env bash
# POST /v1/signals under load (issue 13: >= 50,000 durable signals/s with 64 concurrent
# clients, 0 lost, 0 duplicated): wrk with 64 connections POSTs signals with unique
# idempotency keys for a few seconds to the signals routes on loopback while a real engine
# (`ballast engine --standalone`, synthetic feed) takes them; then it counts the records of
# journal/signals/ (every 202 is one, no more), waits for the engine to take them all, and
# counts them in the engine journal (each seq exactly once).
# Usage: bash bench/api_signals.sh [SECONDS]   (needs wrk and python3; run once, it is short)
# The server is `ballast run` once it serves the API (BALLAST_API_URL + BALLAST_TOKEN to use
# a running one); until then the signals routes alone (crates/ballast-api/examples).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-3}
if [ -z "${NO_BUILD:-}" ]; then  # NO_BUILD=1: use the release binaries already built
  cargo build --release -q -p ballast --bin ballast
  cargo build --release -q -p ballast-api --example signals_server
fi
work=$PWD/target/bench/api_signals
rm -rf "$work" && mkdir -p "$work"
data=$work/data
cat > "$work/ballast.toml" <<TOML
[feed]
kind = "synthetic"
symbols = ["AAPL", "MSFT"]
bars_per_second = 0
[api]
# The bench measures the API's durable intake: the engine may lag behind it meanwhile.
signals_max_backlog = 10000000
TOML
cleanup() { kill "${server:-}" "${engine:-}" 2>/dev/null || true; }
trap cleanup EXIT
target/release/ballast engine --standalone --data-dir "$data" --config "$work/ballast.toml" \
  >"$work/engine.log" 2>&1 &
engine=$!
target/release/examples/signals_server "$data" "$work/ballast.toml" 0 >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 100); do grep -q listening "$work/server.log" && break; sleep 0.1; done
url=$(sed -n 's/^listening on //p' "$work/server.log")
[ -n "$url" ] || { cat "$work/server.log"; exit 1; }
wrk -t2 -c64 -d"${secs}s" --latency -s bench/api_signals.lua "$url/v1/signals" | tee "$work/wrk.out"
accepted=$(sed -n 's/^WRK_ACCEPTED=//p' "$work/wrk.out")
python3 - "$data" "$accepted" <<'PY'
import json, os, sys, time
data, accepted = sys.argv[1], int(sys.argv[2])
def records(d):
    out = []
    for name in sorted(os.listdir(d)):
        with open(os.path.join(d, name), "rb") as f:
            for line in f:
                if line.endswith(b"\n"):
                    out.append(json.loads(line))
    return out
sigs = records(os.path.join(data, "journal/signals"))
keys = [r["body"]["signal"]["idempotency_key"] for r in sigs]
# wrk stops with up to 64 requests in flight: journaled, their answers not counted.
inflight = len(sigs) - accepted
print(f"journal/signals: {len(sigs)} records for {accepted} answers 202 (+{inflight} in flight when wrk stopped): "
      f"lost = {max(-inflight, 0)}, duplicated = {len(keys) - len(set(keys))}")
start, seen, taken = time.time(), {}, 0
while time.time() - start < 300:
    seen = {}
    for r in records(os.path.join(data, "journal/engine")):
        if r["type"] == "signals.taken":
            for s in r["body"]["signals"]:
                seen[s["seq"]] = seen.get(s["seq"], 0) + 1
    if len(seen) >= len(sigs):
        break
    time.sleep(1)
took = time.time() - start
twice = sum(1 for n in seen.values() if n > 1)
print(f"engine journal: {len(seen)} of {len(sigs)} taken (caught up {took:.1f} s after the load), "
      f"taken twice = {twice}, not taken = {len(sigs) - len(seen)}")
ok = len(seen) == len(sigs) and twice == 0 and 0 <= inflight <= 64 and len(keys) == len(set(keys))
sys.exit(0 if ok else 1)
PY
