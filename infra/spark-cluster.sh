#!/usr/bin/env bash
# Start/stop a standalone Spark master + one worker on 127.0.0.1 from the pip-installed
# PySpark (which ships bin/spark-class but no sbin/start-master.sh).
#   infra/spark-cluster.sh start [STATE_DIR] [MASTER_PORT]   prints spark://127.0.0.1:PORT
#   infra/spark-cluster.sh stop  [STATE_DIR]
# Logs, pids and the worker's work dir live in STATE_DIR (never inside site-packages).
set -euo pipefail
cmd=${1:?usage: spark-cluster.sh start|stop [STATE_DIR] [MASTER_PORT]}
state=${2:-${LAKEWARD_SPARK_STATE:-/tmp/lakeward-spark}}
port=${3:-${LAKEWARD_SPARK_PORT:-7077}}
here=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-$here/.venv/bin/python}
export SPARK_HOME=${SPARK_HOME:-$("$python" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')}
export SPARK_LOCAL_IP=127.0.0.1 PYSPARK_PYTHON=${PYSPARK_PYTHON:-$python}
cores=${LAKEWARD_SPARK_WORKER_CORES:-2}
memory=${LAKEWARD_SPARK_WORKER_MEMORY:-2g}

wait_for() {  # file, pattern, seconds
  for _ in $(seq 1 $(( $3 * 4 ))); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.25
  done
  echo "timed out waiting for '$2' in $1:" >&2; tail -n 20 "$1" >&2; return 1
}

case "$cmd" in
  start)
    mkdir -p "$state/work"
    if [ -f "$state/master.pid" ] && kill -0 "$(cat "$state/master.pid")" 2>/dev/null; then
      echo "spark://127.0.0.1:$(cat "$state/port")"; exit 0
    fi
    echo "$port" > "$state/port"
    nohup "$SPARK_HOME/bin/spark-class" org.apache.spark.deploy.master.Master \
      --host 127.0.0.1 --port "$port" --webui-port 0 >"$state/master.log" 2>&1 &
    echo $! > "$state/master.pid"
    wait_for "$state/master.log" "I have been elected leader" 60
    nohup "$SPARK_HOME/bin/spark-class" org.apache.spark.deploy.worker.Worker \
      --host 127.0.0.1 --cores "$cores" --memory "$memory" --webui-port 0 \
      --work-dir "$state/work" "spark://127.0.0.1:$port" >"$state/worker.log" 2>&1 &
    echo $! > "$state/worker.pid"
    wait_for "$state/worker.log" "Successfully registered with master" 60
    echo "spark://127.0.0.1:$port"
    ;;
  stop)
    for p in worker master; do
      if [ -f "$state/$p.pid" ]; then
        pid=$(cat "$state/$p.pid")
        pkill -TERM -P "$pid" 2>/dev/null || true
        kill -TERM "$pid" 2>/dev/null || true
        rm -f "$state/$p.pid"
      fi
    done
    ;;
  *) echo "usage: spark-cluster.sh start|stop [STATE_DIR] [MASTER_PORT]" >&2; exit 2 ;;
esac
