#!/usr/bin/env bash
# The main job on a fresh machine: install headcount and serve it with demo data
# on the embedded SQLite store at http://127.0.0.1:8000 (Ctrl-C stops it).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh ""   # a virtualenv of its own (./.venv, or $HEADCOUNT_VENV)
exec headcount serve --demo "$@"
