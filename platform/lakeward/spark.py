"""One lazy SparkSession factory for every Spark target Lakeward runs on.

``session()`` builds the session on first use (never at import) from
``LAKEWARD_SPARK_MASTER``:

- ``local[*]``, ``local[N]``, ``local[N,F]``: embedded Spark in this process's JVM;
- ``spark://host:port[,host:port]``: a standalone cluster (client mode);
- ``sc://host:port[/;params]``: a Spark Connect server;
- ``yarn`` and ``k8s://https://host:port``: passed through to Spark as they are.

Defaults are loopback-safe (driver bound to 127.0.0.1 unless configured), the UI is off,
shuffle partitions are small (catalog jobs aggregate to one row per dataset) and the
session time zone is UTC, so timestamp statistics are the same on every machine.
Lakeward's Spark jobs use only built-in SQL functions (no Python UDFs), so executors need
nothing but Spark itself: the ``lakeward`` package never has to reach them.
"""

from __future__ import annotations

import os
import re
import socket
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from lakeward.errors import ConfigurationError, SparkUnavailable
from lakeward.settings import SparkSettings, get_settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["active_master", "parse_master", "session", "stop"]

_LOCAL = re.compile(r"^local(\[(\*|[1-9]\d*)(,[1-9]\d*)?\])?$")
_STANDALONE = re.compile(r"^spark://([\w.\-]+:\d{1,5})(,[\w.\-]+:\d{1,5})*$")
_CONNECT = re.compile(r"^sc://([\w.\-]+)(:(\d{1,5}))?(/.*)?$")
_K8S = re.compile(r"^k8s://https?://.+")

_LOG4J_CONFIG = Path(__file__).with_name("_resources") / "log4j2.properties"
_lock = threading.Lock()
_session: SparkSession | None = None
_session_master: str | None = None


def parse_master(master: str) -> tuple[str, list[tuple[str, int]]]:
    """Classify a master URL: ``(kind, endpoints)`` with kind local|standalone|connect|passthrough.

    Raises:
        ConfigurationError: the master is not one Spark understands.
    """
    master = master.strip()
    if _LOCAL.match(master):
        return "local", []
    if _STANDALONE.match(master):
        endpoints = []
        for hostport in master[len("spark://") :].split(","):
            host, port = hostport.rsplit(":", 1)
            endpoints.append((host, int(port)))
        return "standalone", endpoints
    match = _CONNECT.match(master)
    if match:
        return "connect", [(match.group(1), int(match.group(3) or 15002))]
    if master == "yarn" or _K8S.match(master):
        return "passthrough", []
    raise ConfigurationError(
        f"LAKEWARD_SPARK_MASTER={master!r} is not a Spark master Lakeward knows. Use local[*] "
        "(embedded), spark://host:7077 (standalone), sc://host:15002 (Spark Connect), yarn, "
        "or k8s://https://host:port.",
        setting="LAKEWARD_SPARK_MASTER",
    )


def _check_reachable(master: str, endpoints: list[tuple[str, int]], timeout: float) -> None:
    errors = []
    for host, port in endpoints:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                return
        except OSError as exc:
            errors.append(f"{host}:{port}: {exc.strerror or exc}")
    raise SparkUnavailable(
        f"Spark master {master} (LAKEWARD_SPARK_MASTER) is not reachable ({'; '.join(errors)}). "
        "Fix: start the cluster (see infra/spark-cluster.sh), correct the host and port, or "
        "unset LAKEWARD_SPARK_MASTER to use embedded Spark (local[*])."
    )


def _build(settings: SparkSettings) -> SparkSession:
    from pyspark.sql import SparkSession

    kind, endpoints = parse_master(settings.master)
    if endpoints:
        _check_reachable(settings.master, endpoints, settings.connect_timeout_s)
    conf: dict[str, str] = {
        "spark.sql.shuffle.partitions": str(settings.shuffle_partitions),
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
    }
    builder = SparkSession.builder.appName(settings.app_name)
    if kind == "connect":
        builder = builder.remote(settings.master)
    else:
        home = get_settings().home
        os.environ.setdefault("SPARK_LOCAL_IP", settings.bind_address)
        # Executors on this host (local and loopback clusters) run this interpreter.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        conf |= {
            "spark.ui.enabled": str(settings.ui_enabled).lower(),
            "spark.ui.showConsoleProgress": "false",
            "spark.driver.host": settings.bind_address,
            "spark.driver.bindAddress": settings.bind_address,
            "spark.driver.memory": settings.driver_memory,
            "spark.sql.warehouse.dir": str(home / "spark" / "warehouse"),
            "spark.driver.extraJavaOptions": (
                f"-Dderby.system.home={home / 'spark' / 'derby'} "
                f"-Dlog4j2.configurationFile={_LOG4J_CONFIG.as_uri()}"
            ),
        }
        if settings.executor_memory:
            conf["spark.executor.memory"] = settings.executor_memory
        builder = builder.master(settings.master)
    for key, value in (conf | settings.conf).items():
        builder = builder.config(key, value)
    try:
        spark = builder.getOrCreate()
    except Exception as exc:  # py4j / grpc errors: report the setting to fix
        raise SparkUnavailable(
            f"Could not start a Spark session on {settings.master} (LAKEWARD_SPARK_MASTER): "
            f"{str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}. "
            "Check that Java 17+ is installed and the master is running."
        ) from exc
    if kind != "connect":
        spark.sparkContext.setLogLevel(settings.log_level)
    return spark


def session(settings: SparkSettings | None = None) -> SparkSession:
    """The process-wide SparkSession, created on first call.

    Raises:
        ConfigurationError: ``LAKEWARD_SPARK_MASTER`` is malformed.
        SparkUnavailable: the master cannot be reached or the session fails to start.
    """
    global _session, _session_master
    settings = settings or get_settings().spark
    with _lock:
        if _session is not None and _session_master == settings.master:
            if _session_master and parse_master(_session_master)[0] == "connect":
                return _session
            if _session.sparkContext._jsc is not None:  # not stopped behind our back
                return _session
        if _session is not None:
            _session.stop()
        _session = _build(settings)
        _session_master = settings.master
        return _session


def active_master() -> str | None:
    """The master of the session this process holds, if any."""
    return _session_master if _session is not None else None


def stop() -> None:
    """Stop the process-wide session (the next :func:`session` call starts a new one)."""
    global _session, _session_master
    with _lock:
        if _session is not None:
            _session.stop()
        _session = None
        _session_master = None
