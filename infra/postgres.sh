#!/usr/bin/env bash
# Start/stop a throwaway PostgreSQL 15 cluster on 127.0.0.1 for tests and local use.
#   infra/postgres.sh start [DATADIR] [PORT]   prints the SQLAlchemy URL on stdout
#   infra/postgres.sh stop  [DATADIR]
# PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user.
set -euo pipefail
cmd=${1:?usage: postgres.sh start|stop [DATADIR] [PORT]}
datadir=${2:-${LAKEWARD_PG_DATA:-/tmp/lakeward-pg}}
port=${3:-${LAKEWARD_PG_PORT:-54329}}
pgbin=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
[ -x "$pgbin/pg_ctl" ] || { echo "PostgreSQL server binaries not found (set PG_BIN)" >&2; exit 2; }

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$cmd" in
  start)
    if [ ! -f "$datadir/PG_VERSION" ]; then
      mkdir -p "$datadir"
      [ "$(id -u)" = 0 ] && chown postgres "$datadir"
      as_pg "$pgbin/initdb" -D "$datadir" -A trust -U postgres --no-sync >/dev/null
    fi
    if ! as_pg "$pgbin/pg_ctl" -D "$datadir" status >/dev/null 2>&1; then
      as_pg "$pgbin/pg_ctl" -D "$datadir" -l "$datadir/server.log" -w -t 60 \
        -o "-p $port -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null
    fi
    echo "postgresql+psycopg://postgres@127.0.0.1:$port/postgres"
    ;;
  stop)
    as_pg "$pgbin/pg_ctl" -D "$datadir" -m fast -w stop >/dev/null 2>&1 || true
    ;;
  *) echo "usage: postgres.sh start|stop [DATADIR] [PORT]" >&2; exit 2 ;;
esac
