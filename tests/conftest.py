"""Shared fixtures and the test environment.

Tiers (markers): unit (none), ``spark``, ``prefect``, ``postgres``, ``cluster``, ``server``.
Every catalog test runs on SQLite and, when ``LAKEWARD_TEST_POSTGRES_URL`` is set, on
PostgreSQL (a fresh database per test). The environment is hermetic: user ``LAKEWARD_*`` and
``PREFECT_*`` settings are cleared and every installation lives in a temporary directory.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

PG_URL = os.environ.get("LAKEWARD_TEST_POSTGRES_URL")
for _key in list(os.environ):
    if (_key.startswith("LAKEWARD_") and _key != "LAKEWARD_TEST_POSTGRES_URL") or _key.startswith(
        "PREFECT_"
    ):
        del os.environ[_key]
_SESSION_DIR = Path(tempfile.mkdtemp(prefix="lakeward-tests-"))
os.environ.update(
    {
        "LAKEWARD_HOME": str(_SESSION_DIR / "home"),
        "LAKEWARD_SPARK_MASTER": "local[2]",
        "LAKEWARD_SPARK_SHUFFLE_PARTITIONS": "1",
        "LAKEWARD_SPARK_DRIVER_MEMORY": "1g",
        # Tests edit bundles on disk and expect the next decision to see it at once.
        "LAKEWARD_POLICY_RECHECK_S": "0",
        "PREFECT_HOME": str(_SESSION_DIR / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "WARNING",
    }
)

REPO = Path(__file__).resolve().parents[1]


def pytest_report_header() -> list[str]:
    return [
        f"lakeward test home: {_SESSION_DIR}",
        "postgres tier: " + ("ON" if PG_URL else "skipped (LAKEWARD_TEST_POSTGRES_URL unset)"),
    ]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh LAKEWARD_HOME (and default SQLite catalog) for one test."""
    path = tmp_path / "home"
    monkeypatch.setenv("LAKEWARD_HOME", str(path))
    monkeypatch.delenv("LAKEWARD_CATALOG_URL", raising=False)
    return path


def _fresh_pg_database() -> Iterator[str]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    assert PG_URL
    admin = create_engine(make_url(PG_URL), isolation_level="AUTOCOMMIT")
    name = f"lw_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def module_backend(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """For module-scoped catalogs: ``None`` (SQLite under LAKEWARD_HOME) or a fresh PG URL."""
    if request.param == "sqlite":
        yield None
        return
    if not PG_URL:
        pytest.skip("PostgreSQL tier: set LAKEWARD_TEST_POSTGRES_URL (CI starts PostgreSQL 15)")
    yield from _fresh_pg_database()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def catalog_url(
    request: pytest.FixtureRequest, home: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """The catalog URL of a fresh catalog, on each backend; also set in the environment."""
    if request.param == "sqlite":
        url = f"sqlite:///{home / 'catalog.db'}"
        monkeypatch.setenv("LAKEWARD_CATALOG_URL", url)
        yield url
        return
    if not PG_URL:
        pytest.skip("PostgreSQL tier: set LAKEWARD_TEST_POSTGRES_URL (CI starts PostgreSQL 15)")
    for url in _fresh_pg_database():
        monkeypatch.setenv("LAKEWARD_CATALOG_URL", url)
        yield url


@pytest.fixture
def catalog(catalog_url: str) -> Iterator[object]:
    from lakeward.catalog import Catalog

    cat = Catalog.open(catalog_url)
    yield cat
    cat.dispose()


@pytest.fixture
def bundle_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the default policy bundle, configured as LAKEWARD_POLICY_DIR."""
    target = tmp_path / "policies"
    shutil.copytree(REPO / "policies", target)
    monkeypatch.setenv("LAKEWARD_POLICY_DIR", str(target))
    return target


@pytest.fixture(scope="session")
def spark() -> Iterator[object]:
    """The process-wide local Spark session (local[2], one shuffle partition, UI off)."""
    from lakeward import spark as lakeward_spark

    session = lakeward_spark.session()
    yield session
    lakeward_spark.stop()


def write_small_lake(root: Path) -> dict[str, dict[str, object]]:
    """A small lake with every format and layout; returns the exact expected statistics."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    root.mkdir(parents=True, exist_ok=True)
    (root / "sales" / "orders").mkdir(parents=True)
    (root / "hr").mkdir()
    (root / "web").mkdir()
    ids = list(range(1, 301))
    amounts = [round(i * 1.25, 2) for i in ids]
    statuses = [None if i % 10 == 0 else ("paid", "open", "void")[i % 3] for i in ids]
    stamps = [dt.datetime(2024, 1, 1) + dt.timedelta(hours=i) for i in ids]
    for part in range(3):
        sl = slice(part * 100, (part + 1) * 100)
        table = pa.table(
            {
                "order_id": pa.array(ids[sl], pa.int64()),
                "amount": pa.array(amounts[sl], pa.float64()),
                "status": pa.array(statuses[sl], pa.string()),
                "order_ts": pa.array(stamps[sl], pa.timestamp("us")),
            }
        )
        pq.write_table(table, root / "sales" / "orders" / f"part-{part:05d}.parquet")
    (root / "sales" / "orders" / "_SUCCESS").write_text("")
    with open(root / "hr" / "employees.csv", "w") as fh:
        fh.write("emp_id,name,salary,hired\n")
        for i in range(1, 51):
            hired = dt.date(2020, 1, 1) + dt.timedelta(days=i)
            fh.write(f"{i},Person {i:02d},{1000 + i}.5,{hired.isoformat()}\n")
    with open(root / "web" / "events.jsonl", "w") as fh:
        for i in range(40):
            fh.write(
                json.dumps(
                    {"event_id": i, "kind": "click" if i % 2 else "view", "day": "2024-02-01"}
                )
                + "\n"
            )
    return {
        "sales.orders": {
            "rows": 300,
            "format": "parquet",
            "min": {"order_id": 1, "amount": 1.25, "status": "open"},
            "max": {"order_id": 300, "amount": 375.0, "status": "void"},
            "nulls": {"order_id": 0, "status": 30},
        },
        "hr.employees": {
            "rows": 50,
            "format": "csv",
            "min": {"emp_id": 1, "salary": 1001.5, "hired": "2020-01-02"},
            "max": {"emp_id": 50, "salary": 1050.5, "hired": "2020-02-20"},
            "nulls": {"emp_id": 0},
        },
        "web.events": {
            "rows": 40,
            "format": "json",
            "min": {"event_id": 0, "kind": "click", "day": "2024-02-01"},
            "max": {"event_id": 39, "kind": "view", "day": "2024-02-01"},
            "nulls": {"event_id": 0},
        },
    }


@pytest.fixture
def small_lake(tmp_path: Path) -> tuple[Path, dict[str, dict[str, object]]]:
    root = tmp_path / "lake"
    return root, write_small_lake(root)


@pytest.fixture(scope="session")
def sample_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The generated sample lake at a small size (shared, read-only)."""
    from lakeward.lake import generate_lake

    root = tmp_path_factory.mktemp("sample") / "lake"
    generate_lake(root, seed=11, size_mb=2)
    return root


def allow_profiling(
    catalog: object | None = None, principals: tuple[str, ...] = ("local-user",)
) -> None:
    """Record that ``principals`` acknowledged ``catalog_maintenance`` (profiling's purpose)."""
    from lakeward.catalog import Catalog
    from lakeward.policy import acknowledge_purpose, engine_for

    cat = catalog if isinstance(catalog, Catalog) else Catalog.open()
    bundle = engine_for(cat).bundle
    for principal in principals:
        acknowledge_purpose(cat, bundle, principal, "catalog_maintenance")


# -- a local stub of an OpenAI-compatible chat endpoint (the model plug-ins' tests) ---------


@dataclass
class Stub:
    """What the stub answers next, and every request it received."""

    url: str
    content: str = '{"ranking": []}'
    status: int = 200
    raw: str | None = None  # a whole response body instead of a chat completion
    delay_s: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def stub() -> Iterator[Stub]:
    state = Stub(url="")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length).decode("utf-8")
            state.requests.append(
                {"path": self.path, "headers": dict(self.headers.items()), "body": body}
            )
            if state.delay_s:
                time.sleep(state.delay_s)
            if state.raw is not None:
                payload = state.raw
            else:
                payload = json.dumps(
                    {
                        "id": "chatcmpl-1",
                        "object": "chat.completion",
                        "model": json.loads(body).get("model"),
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": state.content},
                                "finish_reason": "stop",
                            }
                        ],
                    }
                )
            data = payload.encode("utf-8")
            try:
                self.send_response(state.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:  # the client gave up (timeout test)
                pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
