#!/usr/bin/env bash
# A real local Prefect server and a process worker on 127.0.0.1.
#   infra/prefect-server.sh start [STATE_DIR] [PORT]  server + `lakeward-process` pool + worker; prints the API URL
#   infra/prefect-server.sh deploy [STATE_DIR]        deploy infra/prefect.yaml to it
#   infra/prefect-server.sh stop  [STATE_DIR]
# Prefect's database is SQLite under STATE_DIR unless PREFECT_SERVER_DATABASE_CONNECTION_URL
# points at PostgreSQL (14.9+, with the pg_trgm extension), e.g.
#   postgresql+asyncpg://postgres@127.0.0.1:54329/prefect
# The worker inherits this shell's LAKEWARD_* variables (LAKEWARD_HOME, LAKEWARD_LAKE_ROOT,
# LAKEWARD_CATALOG_URL, LAKEWARD_SPARK_MASTER); LAKEWARD_REPO defaults to this checkout.
set -euo pipefail
cmd=${1:?usage: prefect-server.sh start|deploy|stop [STATE_DIR] [PORT]}
state=${2:-${LAKEWARD_PREFECT_STATE:-/tmp/lakeward-prefect}}
port=${3:-${LAKEWARD_PREFECT_PORT:-4200}}
repo=$(cd "$(dirname "$0")/.." && pwd)
bin=${LAKEWARD_BIN:-$repo/.venv/bin}
pool=lakeward-process

export PREFECT_HOME=$state/home
export PREFECT_SERVER_ANALYTICS_ENABLED=false PREFECT_UI_ENABLED=false
export PREFECT_WORKER_QUERY_SECONDS=${PREFECT_WORKER_QUERY_SECONDS:-1}
export PREFECT_WORKER_PREFETCH_SECONDS=${PREFECT_WORKER_PREFETCH_SECONDS:-1}
export LAKEWARD_REPO=${LAKEWARD_REPO:-$repo}

api_url() { echo "http://127.0.0.1:$(cat "$state/port")/api"; }

case "$cmd" in
  start)
    mkdir -p "$state/home"
    if [ -f "$state/server.pid" ] && kill -0 "$(cat "$state/server.pid")" 2>/dev/null; then
      api_url; exit 0
    fi
    echo "$port" > "$state/port"
    nohup "$bin/prefect" server start --host 127.0.0.1 --port "$port" >"$state/server.log" 2>&1 &
    echo $! > "$state/server.pid"
    export PREFECT_API_URL=$(api_url)
    for i in $(seq 1 240); do
      curl -fsS "$PREFECT_API_URL/health" >/dev/null 2>&1 && break
      kill -0 "$(cat "$state/server.pid")" 2>/dev/null || { tail -n 30 "$state/server.log" >&2; exit 1; }
      [ "$i" = 240 ] && { echo "Prefect server did not become healthy" >&2; tail -n 30 "$state/server.log" >&2; exit 1; }
      sleep 0.5
    done
    "$bin/prefect" work-pool create "$pool" --type process --overwrite >/dev/null
    nohup "$bin/prefect" worker start --pool "$pool" --type process --name lakeward-worker \
      >"$state/worker.log" 2>&1 &
    echo $! > "$state/worker.pid"
    api_url
    ;;
  deploy)
    export PREFECT_API_URL=$(api_url)
    cd "$repo"
    "$bin/prefect" --no-prompt deploy --all --prefect-file infra/prefect.yaml
    ;;
  stop)
    for p in worker server; do
      if [ -f "$state/$p.pid" ]; then
        pid=$(cat "$state/$p.pid")
        pkill -TERM -P "$pid" 2>/dev/null || true
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
        kill -KILL "$pid" 2>/dev/null || true
        rm -f "$state/$p.pid"
      fi
    done
    ;;
  *) echo "usage: prefect-server.sh start|deploy|stop [STATE_DIR] [PORT]" >&2; exit 2 ;;
esac
