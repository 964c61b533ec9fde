#!/usr/bin/env bash
# The Spark engine's tests in local mode: installs Debian's Java 17 if missing, the
# spark extra into the project's own virtualenv, then runs tests/detect/test_spark.py.
#   scripts/test-spark.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v java >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless >/dev/null
fi
source scripts/venv.sh test,bench,spark
exec python3 -m pytest tests/detect/test_spark.py "$@"
