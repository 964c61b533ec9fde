#!/usr/bin/env bash
# Make (once) and fill a virtualenv of headcount's own, never the machine's Python:
#   source scripts/venv.sh EXTRAS     e.g. "test,bench" or "" for the bare install
# $HEADCOUNT_VENV names it (CI passes a fresh one); default ./.venv. Puts it first on PATH.
set -euo pipefail
HEADCOUNT_VENV=${HEADCOUNT_VENV:-$PWD/.venv}
if ! [ -x "$HEADCOUNT_VENV/bin/python" ]; then
  python3 -m venv "$HEADCOUNT_VENV"
fi
"$HEADCOUNT_VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip 2>&1 | grep -v WARNING || true
spec="."; [ -n "${1:-}" ] && spec=".[${1}]"
"$HEADCOUNT_VENV/bin/python" -m pip install -q --disable-pip-version-check -e "$spec" 2>&1 | grep -v "^WARNING: Location" || true
"$HEADCOUNT_VENV/bin/python" -c "import headcount" || { echo "headcount did not install into $HEADCOUNT_VENV" >&2; exit 1; }
export PATH="$HEADCOUNT_VENV/bin:$PATH" HEADCOUNT_VENV
