#!/usr/bin/env bash
# Alert latency: median (and p90, max) milliseconds from a service's failure (the supervisor's
# `FAILED` event, as its log line stamps it) to a loopback webhook receiving the alert, receiver
# up; target median <= 100 ms. N supportive services fail at spread-out times, each its own
# alert group (group_wait 0). A service's exit or FAILED forces a health cycle at once, so the
# alert does not wait for the regular cycle: [health] cycle_ms is its default here (1000; pass
# a second argument to try another).
# Usage: bash bench/alert_latency.sh [SERVICES] [CYCLE_MS] [BINARY]   (needs python3)
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-10}"
CYCLE="${2:-1000}"
BIN="${3:-}"
if [ -z "$BIN" ]; then
  cargo build --release -q
  BIN="$PWD/target/release/ballast"
fi
WORK="$PWD/target/bench/alert_latency"
rm -rf "$WORK" && mkdir -p "$WORK"
python3 - "$BIN" "$WORK" "$N" "$CYCLE" <<'PY'
import http.server, json, os, signal, socket, statistics, subprocess, sys, threading, time
from datetime import datetime, timezone

binary, work, n, cycle = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
got = {}  # service -> receipt time (epoch seconds)

class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        t = time.time()
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        if body.get("status") == "firing":
            for a in body.get("alerts", []):
                sub = a.get("labels", {}).get("subsystem", "")
                if sub.startswith("service:") and a.get("labels", {}).get("status") == "FAILED":
                    got.setdefault(sub[len("service:"):], t)
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *a): pass

srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
threading.Thread(target=srv.serve_forever, daemon=True).start()
port = srv.server_address[1]
services = "".join(
    f'[[services]]\nname = "s{i}"\ncommand = "/bin/sh"\nargs = ["-c", "sleep {1 + i * 0.37:.2f}; exit 3"]\n'
    f'max_restarts = 0\nrestart_delay_ms = 0\nmin_uptime_secs = 0\n\n' for i in range(n))
cfg = (f"[engine]\nenabled = false\n[health]\ncycle_ms = {cycle}\n"
       "cpu_degraded_pct = 100\nmemory_degraded_pct = 100\ndisk_free_min_pct = 0\n"
       "[alerts]\ngroup_wait_secs = 0\ngroup_interval_secs = 0\n"
       f'[[alerts.sinks]]\nname = "hook"\nkind = "webhook"\nurl = "http://127.0.0.1:{port}/hook"\n\n{services}')
open(os.path.join(work, "ballast.toml"), "w").write(cfg)
err = open(os.path.join(work, "supervisor.err"), "w")
p = subprocess.Popen([binary, "run", "--data-dir", os.path.join(work, "data"), "--config",
                      os.path.join(work, "ballast.toml")], stdout=subprocess.DEVNULL, stderr=err)
deadline = time.time() + 10 + n
while len(got) < n and time.time() < deadline:
    time.sleep(0.05)
p.send_signal(signal.SIGTERM); p.wait(timeout=30)
failed = {}
for line in open(os.path.join(work, "supervisor.err")):
    parts = line.split(" ", 2)
    if len(parts) == 3 and parts[1] == "supervisor:" and ": FAILED" in parts[2]:
        name = parts[2].split(":")[0]
        ts = datetime.strptime(parts[0], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()
        failed.setdefault(name, ts)
lat = sorted((got[s] - failed[s]) * 1000 for s in failed if s in got)
if not lat:
    sys.exit(f"no alert arrived; see {work}/supervisor.err")
p90 = lat[min(len(lat) - 1, int(len(lat) * 0.9))]
print(f"alert latency, FAILED event -> webhook received ({len(lat)} of {n} alerts, [health] cycle_ms = {cycle}):")
print(f"  median {statistics.median(lat):.1f} ms   p90 {p90:.1f} ms   max {lat[-1]:.1f} ms   (target: median <= 100 ms)")
PY
