#!/usr/bin/env bash
# Start or stop a throwaway PostgreSQL cluster on loopback for tests and benchmarks.
#   scripts/pg-server.sh start [PORT] [DIR]   prints the connection URL on its last line
#   scripts/pg-server.sh stop  [PORT] [DIR]
# Uses Debian's postgresql package; runs the server as the `postgres` user when run as root.
set -euo pipefail
cmd=${1:-start}
port=${2:-54329}
dir=${3:-/tmp/headcount-pg-$port}
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$bindir" ] || { echo "PostgreSQL server binaries not found: apt-get install postgresql" >&2; exit 1; }
as_pg() { if [ "$(id -u)" = 0 ]; then su postgres -s /bin/bash -c "$*"; else bash -c "$*"; fi; }
case "$cmd" in
  start)
    if [ ! -f "$dir/PG_VERSION" ]; then
      mkdir -p "$dir"; [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
      as_pg "$bindir/initdb -D '$dir' -U headcount --auth=trust -E UTF8 >/dev/null"
      cat >> "$dir/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
max_connections = 200
shared_buffers = 256MB
fsync = on
synchronous_commit = on
wal_level = replica
max_wal_senders = 5
CONF
    fi
    if ! as_pg "$bindir/pg_ctl -D '$dir' status" >/dev/null 2>&1; then
      as_pg "$bindir/pg_ctl -D '$dir' -l '$dir/server.log' -w start" >/dev/null
    fi
    as_pg "$bindir/psql -h 127.0.0.1 -p $port -U headcount -d postgres -tAc \"SELECT 1 FROM pg_database WHERE datname='headcount'\"" | grep -q 1 \
      || as_pg "$bindir/createdb -h 127.0.0.1 -p $port -U headcount headcount"
    echo "postgresql://headcount@127.0.0.1:$port/headcount"
    ;;
  stop)
    as_pg "$bindir/pg_ctl -D '$dir' -m fast stop" >/dev/null 2>&1 || true
    ;;
  *) echo "usage: $0 start|stop [PORT] [DIR]" >&2; exit 2 ;;
esac
