#!/usr/bin/env python3
"""Supervisor benchmark: Ballast, supervisord and PM2 supervising the same tiny C child
(bench/child.c) with their minimum restart delay, side by side in one run.

  (a) SIGKILL of the child -> replacement child started: median and p90 over 20 kills
  (b) a child that exits at once: starts within 10 s, and the final state
  (c) the supervisor's RSS with 3 idle children, and its CPU time over 30 s idle
  (d) whether a grandchild survives a stop, and how long the stop takes

Usage: supervisor.py BALLAST CHILD SUPERVISORD_PYTHON PM2 WORKDIR [NAME ...]  (only these)
Prints a table; ratios are Ballast against each of the others."""
import json
import os
import signal
import statistics
import subprocess
import sys
import time

BALLAST, CHILD, SUP_PY, PM2, WORK = sys.argv[1:6]
ONLY = set(sys.argv[6:])
KILLS = 20
IDLE_SECS = 30
EXIT_SECS = 10


def starts(log):
    try:
        with open(log) as f:
            return [tuple(map(int, line.split())) for line in f if line.strip()]
    except FileNotFoundError:
        return []


def wait_until(cond, timeout=30.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.0005)
    return None


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return not f.read().rsplit(")", 1)[1].strip().startswith("Z")
    except (FileNotFoundError, IndexError):
        return False


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_ms(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime + stime
    return ticks * 1000 / os.sysconf("SC_CLK_TCK")


class Ballast:
    name = "ballast"

    def __init__(self, d, programs, budget=5):
        self.d = d
        conf = os.path.join(d, "ballast.toml")
        with open(conf, "w") as f:
            f.write("[engine]\nenabled = false\n")
            for name, mode, env in programs:
                envs = ", ".join(f'{k} = "{v}"' for k, v in env.items())
                f.write(
                    f'\n[[services]]\nname = "{name}"\ncommand = "{CHILD}"\nargs = ["{mode}"]\n'
                    f'restart = "always"\nrestart_delay_ms = 0\nmin_uptime_secs = 0\n'
                    f"max_restarts = {budget}\nrestart_window_secs = 600\nstop_timeout_secs = 10\n"
                    f"env = {{ {envs} }}\n"
                )
        self.proc = subprocess.Popen(
            [BALLAST, "run", "--data-dir", os.path.join(d, "data"), "--config", conf],
            stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(d, "ballast.err"), "w"),
        )
        self.pid = self.proc.pid

    def state(self, name):
        out = subprocess.run(
            [BALLAST, "status", "--json", "--data-dir", os.path.join(self.d, "data")],
            capture_output=True,
            text=True,
        )
        try:
            for s in json.loads(out.stdout)["services"]:
                if s["name"] == name:
                    return s["state"]
        except (ValueError, KeyError):
            return "?"
        return "?"

    def stop(self, name):
        # Ballast stops a service with its supervisor (or `ballast run` exits): SIGTERM.
        t = time.perf_counter()
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait()
        return time.perf_counter() - t

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait()


class Supervisord:
    name = "supervisord"

    def __init__(self, d, programs, budget=5):
        self.d = d
        self.conf = os.path.join(d, "supervisord.conf")
        with open(self.conf, "w") as f:
            f.write(
                f"[supervisord]\nnodaemon=true\nlogfile={d}/supervisord.log\npidfile={d}/supervisord.pid\n"
                f"[unix_http_server]\nfile={d}/supervisor.sock\n"
                f"[supervisorctl]\nserverurl=unix://{d}/supervisor.sock\n"
                "[rpcinterface:supervisor]\n"
                "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n"
            )
            for name, mode, env in programs:
                envs = ",".join(f'{k}="{v}"' for k, v in env.items())
                f.write(
                    f"[program:{name}]\ncommand={CHILD} {mode}\nautorestart=true\nstartsecs=0\n"
                    f"startretries={budget}\nenvironment={envs}\n"
                )
        self.proc = subprocess.Popen(
            [SUP_PY, "-m", "supervisor.supervisord", "-c", self.conf],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.pid = self.proc.pid
        wait_until(lambda: os.path.exists(f"{d}/supervisor.sock"))

    def ctl(self, *args):
        return subprocess.run(
            [SUP_PY, "-m", "supervisor.supervisorctl", "-c", self.conf, *args],
            capture_output=True,
            text=True,
        ).stdout

    def state(self, name):
        parts = self.ctl("status", name).split()
        return parts[1] if len(parts) > 1 else "?"

    def stop(self, name):
        t = time.perf_counter()
        self.ctl("stop", name)
        return time.perf_counter() - t

    def close(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait()


class Pm2:
    name = "pm2"

    def __init__(self, d, programs, budget=5):
        self.d = d
        self.env = dict(os.environ, PM2_HOME=os.path.join(d, "pm2"))
        for name, mode, env in programs:
            subprocess.run(
                [PM2, "start", CHILD, "--name", name, "--restart-delay", "0", "--no-autorestart"]
                if False
                else [PM2, "start", CHILD, "--name", name, "--restart-delay", "0", "--", mode],
                env=dict(self.env, **env),
                capture_output=True,
            )
        with open(os.path.join(d, "pm2", "pm2.pid")) as f:
            self.pid = int(f.read().strip())

    def state(self, name):
        out = subprocess.run([PM2, "jlist"], env=self.env, capture_output=True, text=True).stdout
        try:
            for p in json.loads(out[out.index("[") :]):
                if p["name"] == name:
                    return p["pm2_env"]["status"]
        except ValueError:
            return "?"
        return "?"

    def stop(self, name):
        t = time.perf_counter()
        subprocess.run([PM2, "stop", name], env=self.env, capture_output=True)
        return time.perf_counter() - t

    def close(self):
        subprocess.run([PM2, "kill"], env=self.env, capture_output=True)


def bench(kind):
    base = os.path.join(WORK, kind.name)
    subprocess.run(["rm", "-rf", base])
    row = {"name": kind.name}
    # (a) restart latency
    d = os.path.join(base, "a")
    os.makedirs(d)
    log = os.path.join(d, "starts")
    s = kind(d, [("child", "run", {"START_LOG": log})], budget=1000)
    try:
        wait_until(lambda: starts(log))
        lat = []
        for _ in range(KILLS):
            pid, _ = starts(log)[-1]
            n = len(starts(log))
            t0 = time.time_ns()
            os.kill(pid, signal.SIGKILL)
            new = wait_until(lambda: len(starts(log)) > n and starts(log)[-1])
            if not new:
                break
            lat.append((new[1] - t0) / 1e6)
            time.sleep(0.05)
        row["restart_median_ms"] = statistics.median(lat) if lat else None
        row["restart_p90_ms"] = statistics.quantiles(lat, n=10)[-1] if len(lat) >= 2 else None
    finally:
        s.close()
    # (b) a child that exits at once
    d = os.path.join(base, "b")
    os.makedirs(d)
    log = os.path.join(d, "starts")
    s = kind(d, [("crasher", "exit", {"START_LOG": log})])
    try:
        time.sleep(EXIT_SECS)
        row["starts_in_10s"] = len(starts(log))
        row["final_state"] = s.state("crasher")
    finally:
        s.close()
    # (c) RSS and idle CPU with 3 idle children
    d = os.path.join(base, "c")
    os.makedirs(d)
    s = kind(d, [(f"idle{i}", "run", {"START_LOG": os.path.join(d, "starts")}) for i in range(3)])
    try:
        wait_until(lambda: len(starts(os.path.join(d, "starts"))) >= 3)
        time.sleep(1)
        c0 = cpu_ms(s.pid)
        time.sleep(IDLE_SECS)
        row["idle_cpu_ms"] = cpu_ms(s.pid) - c0
        row["rss_mb"] = rss_kb(s.pid) / 1024
    finally:
        s.close()
    # (d) stop with a grandchild
    d = os.path.join(base, "d")
    os.makedirs(d)
    gp = os.path.join(d, "grand.pid")
    s = kind(d, [("parent", "grand", {"START_LOG": os.path.join(d, "starts"), "GRAND_PID": gp})])
    try:
        wait_until(lambda: os.path.exists(gp) and open(gp).read().strip())
        grand = int(open(gp).read().strip())
        row["stop_s"] = s.stop("parent")
        time.sleep(0.2)
        row["grandchild_survives"] = alive(grand)
        if alive(grand):
            os.kill(grand, signal.SIGKILL)
    finally:
        s.close()
    return row


def main():
    rows = []
    for kind in (Ballast, Supervisord, Pm2):
        if ONLY and kind.name not in ONLY:
            continue
        try:
            rows.append(bench(kind))
        except Exception as e:  # a tool that is missing or broken: say so, keep the others
            rows.append({"name": kind.name, "error": str(e)})
    fmt = lambda v, spec: "-" if v is None else format(v, spec)
    print(f"{'':<12} {'restart median':>15} {'p90':>8} {'starts/10s':>11} {'final state':>14} {'RSS MB':>8} {'idle CPU/30s':>13} {'stop':>8} {'grandchild':>11}")
    for r in rows:
        if "error" in r:
            print(f"{r['name']:<12} failed: {r['error']}")
            continue
        print(
            f"{r['name']:<12} {fmt(r['restart_median_ms'], '.2f'):>12} ms {fmt(r['restart_p90_ms'], '.2f'):>5} ms"
            f" {r['starts_in_10s']:>11} {r['final_state']:>14} {r['rss_mb']:>8.1f} {r['idle_cpu_ms']:>10.0f} ms"
            f" {r['stop_s'] * 1000:>5.0f} ms {'survives' if r['grandchild_survives'] else 'killed':>11}"
        )
    b = next((r for r in rows if r["name"] == "ballast" and "error" not in r), None)
    if b:
        for r in rows:
            if r is b or "error" in r or not r.get("restart_median_ms"):
                continue
            print(
                f"ballast vs {r['name']}: restart {r['restart_median_ms'] / b['restart_median_ms']:.1f}x faster,"
                f" RSS {r['rss_mb'] / b['rss_mb']:.1f}x smaller, stop {r['stop_s'] / max(b['stop_s'], 1e-6):.1f}x faster"
            )
        print(
            "targets: restart median <= 1.5 ms and >= 5x PM2; FAILED within the budget; RSS < 15 MB;"
            " idle CPU <= 10 ms / 30 s; no grandchild survives; stop <= 200 ms"
        )
    print(json.dumps(rows))


main()
