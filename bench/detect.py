#!/usr/bin/env python3
"""Detection latency of the running supervisor, on real processes and files:

1. a stale heartbeat: a service touches its heartbeat file once and stops; from the moment the
   file is older than its threshold (mtime + max age) to the supervisor's liveness verdict
   (its log line, millisecond timestamps) — target: within 100 ms;
2. a deleted data directory: `rmdir data/inbox`, then poll until it is back (inotify wakes the
   healer) — target: within 100 ms.

Both against the anchor of the designs Ballast replaces: a healing sweep every 60 seconds
(worst case 60 s, on average 30 s). Usage: detect.py BALLAST_BINARY WORK_DIR [SAMPLES]
"""
import datetime
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time

binary, work = sys.argv[1], sys.argv[2]
samples = int(sys.argv[3]) if len(sys.argv) > 3 else 10
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
hb = os.path.join(work, "hb")
config = os.path.join(work, "ballast.toml")
with open(config, "w") as f:
    f.write(f"""[engine]
enabled = false

[[services]]
name = "stale"
command = "/bin/sh"
args = ["-c", "touch {hb}; exec sleep 1000"]
min_uptime_secs = 0
heartbeat_file = "{hb}"
heartbeat_max_age_secs = 1
restart_delay_ms = 0
max_restarts = 1000
""")
err_path = os.path.join(work, "supervisor.err")
err = open(err_path, "w")
data = os.path.join(work, "data")
sup = subprocess.Popen([binary, "run", "--config", config, "--data-dir", data],
                       stdout=subprocess.DEVNULL, stderr=err)


def ts(line):
    stamp = line.split(" ", 1)[0]
    return datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


try:
    # 1. Stale heartbeats: each liveness kill is followed by a restart and a fresh touch.
    lat = []
    seen = 0
    deadline = time.time() + 30 + samples * 3
    mtimes = []
    while len(lat) < samples and time.time() < deadline:
        try:
            m = os.stat(hb).st_mtime
            if not mtimes or mtimes[-1] != m:
                mtimes.append(m)
        except FileNotFoundError:
            pass
        with open(err_path) as f:
            kills = [ts(l) for l in f if "liveness failed" in l]
        while seen < len(kills) and seen < len(mtimes):
            lat.append((kills[seen] - (mtimes[seen] + 1.0)) * 1000)
            seen += 1
        time.sleep(0.002)
    # 2. A deleted directory.
    rec = []
    inbox = os.path.join(data, "inbox")
    for _ in range(samples):
        while not os.path.isdir(inbox):
            time.sleep(0.001)
        time.sleep(0.05)
        t = time.perf_counter()
        os.rmdir(inbox)
        while not os.path.isdir(inbox):
            if time.perf_counter() - t > 30:
                raise SystemExit("the directory was not recreated within 30 s")
        rec.append((time.perf_counter() - t) * 1000)
finally:
    sup.send_signal(signal.SIGTERM)
    sup.wait(timeout=30)

anchor_ms = 60_000
print()
print(f"detection latency (median of {len(lat)} and {len(rec)} samples)")
if lat:
    m = statistics.median(lat)
    print(f"  stale heartbeat flagged {m:7.1f} ms after it went stale (max {max(lat):.1f} ms; "
          f"target <= 100 ms; a 60 s sweep: up to {anchor_ms} ms, {anchor_ms / max(m, 1):.0f}x)")
else:
    print("  stale heartbeat: no sample (see", err_path, ")")
m = statistics.median(rec)
print(f"  deleted directory recreated {m:7.2f} ms after the rmdir (max {max(rec):.2f} ms; "
      f"target <= 100 ms; a 60 s sweep: {anchor_ms / m:.0f}x faster)")
print()
