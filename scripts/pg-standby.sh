#!/usr/bin/env bash
# A PostgreSQL standby fed by streaming replication, on loopback (standing in for
# the backup region), and its promotion when the primary is lost.
#   scripts/pg-standby.sh start PRIMARY_PORT STANDBY_PORT [DIR] [sync|async]
#   scripts/pg-standby.sh promote STANDBY_PORT [DIR]
#   scripts/pg-standby.sh stop STANDBY_PORT [DIR]
# `sync` (the default) makes the primary wait for the standby on every
# synchronous commit: an acknowledged confirmation then survives losing the
# primary. Holds commit asynchronously and may be lost with it (as if they had
# expired early). The primary must have been started by scripts/pg-server.sh.
set -euo pipefail
cmd=${1:?usage: $0 start|promote|stop ...}
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
as_pg() { if [ "$(id -u)" = 0 ]; then su postgres -s /bin/bash -c "$*"; else bash -c "$*"; fi; }
case "$cmd" in
  start)
    primary=${2:?primary port}; port=${3:?standby port}; dir=${4:-/tmp/headcount-pg-standby-$port}; mode=${5:-sync}
    if [ ! -f "$dir/PG_VERSION" ]; then
      mkdir -p "$dir"; [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"; chmod 700 "$dir"
      as_pg "$bindir/pg_basebackup -h 127.0.0.1 -p $primary -U headcount -D '$dir' -X stream -R --checkpoint=fast \
             -d 'application_name=headcount_standby'"
      cat >> "$dir/postgresql.conf" <<CONF
port = $port
unix_socket_directories = '$dir'
hot_standby = on
CONF
    fi
    as_pg "$bindir/pg_ctl -D '$dir' -l '$dir/server.log' -w start" >/dev/null
    if [ "$mode" = sync ]; then
      as_pg "$bindir/psql -h 127.0.0.1 -p $primary -U headcount -d postgres -qc \
        \"ALTER SYSTEM SET synchronous_standby_names = 'headcount_standby'\" -c 'SELECT pg_reload_conf()'" >/dev/null
    fi
    for _ in $(seq 50); do  # wait until the primary sees the standby streaming
      state=$(as_pg "$bindir/psql -h 127.0.0.1 -p $primary -U headcount -d postgres -tAc \
        \"SELECT state || '/' || sync_state FROM pg_stat_replication WHERE application_name = 'headcount_standby'\"")
      { [ "$mode" = sync ] && [ "$state" = streaming/sync ]; } && break
      { [ "$mode" != sync ] && [ "${state%/*}" = streaming ]; } && break
      sleep 0.2
    done
    echo "standby on 127.0.0.1:$port streaming from 127.0.0.1:$primary ($mode)"
    ;;
  promote)
    port=${2:?standby port}; dir=${3:-/tmp/headcount-pg-standby-$port}
    as_pg "$bindir/pg_ctl -D '$dir' -w promote" >/dev/null
    echo "promoted 127.0.0.1:$port to primary"
    ;;
  stop)
    port=${2:?standby port}; dir=${3:-/tmp/headcount-pg-standby-$port}
    as_pg "$bindir/pg_ctl -D '$dir' -m fast stop" >/dev/null 2>&1 || true
    ;;
  *) echo "usage: $0 start|promote|stop ..." >&2; exit 2 ;;
esac
