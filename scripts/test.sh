#!/usr/bin/env bash
# Run the whole test suite on a fresh machine: installs what the tests need
# (Debian's postgresql and chromium; the Python packages into a virtualenv of its
# own, never the machine's Python), starts a throwaway
# PostgreSQL on loopback, runs pytest, stops the server.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
need=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v wrk >/dev/null 2>&1 || need+=(wrk)
command -v java >/dev/null 2>&1 || need+=(openjdk-17-jre-headless)   # the Spark engine's tests
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
source scripts/venv.sh test,bench,spark   # a virtualenv of its own (./.venv, or $HEADCOUNT_VENV)
PG_PORT=${HEADCOUNT_TEST_PG_PORT:-54329}
if ! [ -f "/tmp/headcount-test-pg-$PG_PORT/postmaster.pid" ] && \
   python3 -c "import socket,sys; s=socket.socket(); sys.exit(s.connect_ex(('127.0.0.1', $PG_PORT)) != 0)"; then
  PG_PORT=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
fi
PG_DIR=${HEADCOUNT_TEST_PG_DIR:-/tmp/headcount-test-pg-$PG_PORT}
PG_URL=$(scripts/pg-server.sh start "$PG_PORT" "$PG_DIR" | tail -1)
trap 'scripts/pg-server.sh stop "$PG_PORT" "$PG_DIR"' EXIT
export HEADCOUNT_TEST_PG_URL="${PG_URL%/*}/postgres" HEADCOUNT_REQUIRE_PG=1
python3 -m pytest "$@"
