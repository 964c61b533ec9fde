#!/usr/bin/env bash
# Build headcount's wheel, install it WITHOUT extras into a fresh virtualenv, and use
# the installed CLI as a new user would: keys, serve --demo answering, simulate ->
# detect, report, audit verify. Catches any import the install does not declare.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
server=""
python3 -m pip wheel -q --disable-pip-version-check --no-deps -w "$work/dist" . 2>&1 | grep -v "^WARNING: Location" || true
python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q --disable-pip-version-check "$work"/dist/headcount-*.whl 2>&1 | grep -v "^WARNING: Location" || true
hc="$work/venv/bin/headcount"
cd "$work"   # a directory with nothing of the repository in it
store="sqlite:///$work/data/headcount.db"
"$hc" keys create --role staff --store "$store" | tail -1 | grep -q '^hc_'
port=$("$work/venv/bin/python" -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
"$hc" serve --demo --store "$store" --port "$port" > "$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 120); do
  if "$work/venv/bin/python" -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$port/healthz', timeout=1)" 2>/dev/null; then break; fi
  sleep 0.5
done
"$work/venv/bin/python" -c "import urllib.request,json; print(json.load(urllib.request.urlopen('http://127.0.0.1:$port/v1/pools', timeout=5)))" | grep -q rally
kill $server; wait $server 2>/dev/null || true; server=""
"$hc" simulate follows --out "$work/follows.parquet" > /dev/null
"$hc" detect "$work/follows.parquet" --top 3 --out "$work/blocks.json" > /dev/null
"$work/venv/bin/python" -c "import json; b=json.load(open('$work/blocks.json'))['blocks']; assert b, 'no block found'"
"$hc" report --pool rally-tulsa --store "$store" --out "$work/report.html" > /dev/null
grep -q "<svg" "$work/report.html"
"$hc" audit verify --store "$store" | grep -q "audit log intact"
echo "wheel smoke test: installed without extras; keys, serve --demo, simulate, detect, report and audit verify work"
