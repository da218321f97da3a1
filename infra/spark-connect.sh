#!/usr/bin/env bash
# Start/stop a Spark Connect server on 127.0.0.1 from the pip-installed PySpark.
#   infra/spark-connect.sh start [STATE_DIR] [PORT] [MASTER]   prints sc://127.0.0.1:PORT
#   infra/spark-connect.sh stop  [STATE_DIR]
# The server runs its own driver (MASTER, default local[2]); clients need only the gRPC port.
set -euo pipefail
cmd=${1:?usage: spark-connect.sh start|stop [STATE_DIR] [PORT] [MASTER]}
state=${2:-${LAKEWARD_SPARK_CONNECT_STATE:-/tmp/lakeward-spark-connect}}
port=${3:-15002}
master=${4:-local[2]}
here=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-$here/.venv/bin/python}
export SPARK_HOME=${SPARK_HOME:-$("$python" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')}
# Python workers (mapInPandas jobs: glossary matching) run the same environment as lakeward.
export PYSPARK_PYTHON=${PYSPARK_PYTHON:-$python}
export SPARK_LOCAL_IP=127.0.0.1 SPARK_LOG_DIR=$state SPARK_PID_DIR=$state SPARK_IDENT_STRING=lakeward
mkdir -p "$state"

case "$cmd" in
  start)
    "$SPARK_HOME/sbin/start-connect-server.sh" --master "$master" \
      --conf spark.connect.grpc.binding.address=127.0.0.1 \
      --conf spark.connect.grpc.binding.port="$port" \
      --conf spark.sql.session.timeZone=UTC >/dev/null
    for _ in $(seq 1 240); do
      if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "sc://127.0.0.1:$port"; exit 0; fi
      sleep 0.5
    done
    echo "Spark Connect server did not listen on $port:" >&2; tail -n 30 "$state"/*.out >&2; exit 1
    ;;
  stop)
    "$SPARK_HOME/sbin/stop-connect-server.sh" >/dev/null 2>&1 || true
    ;;
  *) echo "usage: spark-connect.sh start|stop [STATE_DIR] [PORT] [MASTER]" >&2; exit 2 ;;
esac
