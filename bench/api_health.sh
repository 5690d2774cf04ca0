#!/usr/bin/env bash
# GET /v1/health under load, side by side in one run: Ballast's API (a real `ballast run` whose
# engine trades the bundled replay feed meanwhile) and a FastAPI + uvicorn app — the seeds' own
# stack — serving the same health.json with the same bearer-token check, both on loopback,
# both loaded by wrk with the same connections and duration.
# Target: >= 30,000 req/s with p99 <= 2 ms, and >= 10x FastAPI.
# Usage: bash bench/api_health.sh [seconds]     (needs wrk: apt-get install wrk; Python 3)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
conns=64
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
cargo build --release -q
dir=$(mktemp -d)
cleanup() {
  [ -n "${sup:-}" ] && kill -TERM "$sup" 2>/dev/null && wait "$sup" 2>/dev/null
  [ -n "${py:-}" ] && kill -KILL "$py" 2>/dev/null && wait "$py" 2>/dev/null
  rm -rf "$dir"
}
trap 'cleanup || true' EXIT

cat >"$dir/ballast.toml" <<'TOML'
[api]
port = 0
[feed]
bars_per_second = 200
TOML
./target/release/ballast run --config "$dir/ballast.toml" --data-dir "$dir/data" >"$dir/run.log" 2>&1 &
sup=$!
for _ in $(seq 1 300); do
  [ -s "$dir/data/run/api.addr" ] && [ -s "$dir/data/state/health.json" ] && break
  sleep 0.1
done
addr=$(cat "$dir/data/run/api.addr")
token=$(cat "$dir/data/run/api.token")
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "$addr/v1/health")
[ "$code" = 200 ] || { echo "ballast answered $code on $addr/v1/health" >&2; cat "$dir/run.log" >&2; exit 1; }

# wrk's --latency table: "Requests/sec: N" and the 99% line.
load() {
  wrk -t2 -c"$conns" -d"${secs}s" --latency -H "Authorization: Bearer $token" "$1" | awk '
    /^ +99%/ { p99 = $2 }
    /^Requests\/sec:/ { rps = $2 }
    /Non-2xx/ { bad = $NF }
    END { printf "%s %s %s\n", rps, p99, (bad == "" ? 0 : bad) }'
}
# wrk prints latencies as 1.23ms / 456.00us / 1.02s: in ms.
ms() { awk -v v="$1" 'BEGIN { if (v ~ /us$/) { sub(/us$/, "", v); print v / 1000 } else if (v ~ /ms$/) { sub(/ms$/, "", v); print v + 0 } else { sub(/s$/, "", v); print v * 1000 } }'; }

read -r b_rps b_p99 b_bad <<<"$(load "$addr/v1/health")"
bars=$(cat "$dir"/data/journal/engine/*.jsonl 2>/dev/null | grep -c '"type":"market.bar"' || true)

venv=target/bench-venv
if [ ! -x "$venv/bin/uvicorn" ]; then
  echo "installing fastapi and uvicorn from PyPI into $venv ..."
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet fastapi uvicorn
fi
cp "$dir/data/state/health.json" "$dir/health.json"
cat >"$dir/app.py" <<'PY'
import hmac, os
from fastapi import FastAPI, Header, HTTPException, Response

TOKEN = os.environ["TOKEN"]
with open(os.environ["HEALTH"], "rb") as f:
    BODY = f.read()
app = FastAPI()

@app.get("/v1/health")
def health(authorization: str = Header(default="")):
    if not hmac.compare_digest(authorization.encode(), f"Bearer {TOKEN}".encode()):
        raise HTTPException(status_code=401)
    return Response(content=BODY, media_type="application/json")
PY
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
(cd "$dir" && TOKEN="$token" HEALTH="$dir/health.json" exec "$OLDPWD/$venv/bin/uvicorn" app:app --host 127.0.0.1 --port "$port" --log-level warning) &
py=$!
for _ in $(seq 1 100); do
  curl -s -o /dev/null -H "Authorization: Bearer $token" "http://127.0.0.1:$port/v1/health" && break
  sleep 0.1
done
read -r f_rps f_p99 f_bad <<<"$(load "http://127.0.0.1:$port/v1/health")"

b_ms=$(ms "$b_p99"); f_ms=$(ms "$f_p99")
printf '%-28s %12s %10s %8s\n' "GET /v1/health, $conns conns" "req/s" "p99 ms" "non-2xx"
printf '%-28s %12.0f %10.3f %8s\n' "ballast (engine trading)" "$b_rps" "$b_ms" "$b_bad"
printf '%-28s %12.0f %10.3f %8s\n' "fastapi + uvicorn" "$f_rps" "$f_ms" "$f_bad"
python3 -c "
b, f, p = $b_rps, $f_rps, $b_ms
print(f'ballast vs fastapi: {b / f:.1f}x (target >= 10x); vs the 30,000 req/s target: {b / 30000:.2f}; p99 {p:.3f} ms (target <= 2 ms)')
print(f'the engine journaled $bars bar records meanwhile')
"
