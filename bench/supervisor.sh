#!/usr/bin/env bash
# Supervisor benchmark, side by side in one run: Ballast, supervisord (PyPI `supervisor`) and PM2
# (npm `pm2`) supervising the same tiny C child (bench/child.c). Installs supervisord and PM2
# under target/bench/ if missing. Takes about 3 minutes (30 s idle per supervisor).
# Usage: bash bench/supervisor.sh [ballast|supervisord|pm2 ...]   (only these; default all)
#        (from anywhere; needs cc, python3 with pip, node with npm)
set -euo pipefail
cd "$(dirname "$0")/.."
work=target/bench
mkdir -p "$work"
cargo build --release -q
cc -O2 -o "$work/child" bench/child.c
if [ ! -x "$work/venv/bin/python" ]; then
  python3 -m venv "$work/venv"
fi
"$work/venv/bin/python" -c 'import supervisor' 2>/dev/null || "$work/venv/bin/python" -m pip install --quiet supervisor
if [ ! -x "$work/node_modules/.bin/pm2" ]; then
  (cd "$work" && npm install --silent --no-audit --no-fund pm2 >/dev/null)
fi
python3 bench/supervisor.py "$PWD/target/release/ballast" "$PWD/$work/child" \
  "$PWD/$work/venv/bin/python" "$PWD/$work/node_modules/.bin/pm2" "$PWD/$work/runs" "$@"
