#!/usr/bin/env bash
# The pretix plugin's tests, in a virtualenv of their own (never the machine's Python, never
# headcount's ./.venv): pretix from PyPI, headcount from this repository, the plugin
# (integrations/pretix), pytest-django; then pytest with pretix's own test settings
# (pretix.testutils.settings, SQLite for pretix). The tests start a real `headcount serve`.
#   scripts/test-pretix.sh [pytest args]      e.g. -k flood, or -m "not flood"
# $PRETIX_VENV names the virtualenv (CI passes a fresh one); default integrations/pretix/.venv.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PRETIX_VENV=${PRETIX_VENV:-$ROOT/integrations/pretix/.venv}
if ! [ -x "$PRETIX_VENV/bin/python" ]; then
  python3 -m venv "$PRETIX_VENV"
fi
PY="$PRETIX_VENV/bin/python"
quiet() { grep -v -e "^WARNING: Location" -e "is ignored: it is neither" || true; }
"$PY" -m pip install -q --disable-pip-version-check --upgrade pip 2>&1 | quiet
"$PY" -m pip install -q --disable-pip-version-check "pretix>=2025.1" 2>&1 | quiet
"$PY" -m pip install -q --disable-pip-version-check -e "$ROOT" -e "$ROOT/integrations/pretix[test]" 2>&1 | quiet
"$PY" -c "import pretix, headcount, pretix_headcount; print('pretix', pretix.__version__)"
cd "$ROOT/integrations/pretix"
exec "$PY" -m pytest "$@"
