"""Catalog on SQLite and (when configured) PostgreSQL: schema, repositories, audit chain."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text, update

from lakeward.catalog import (
    AuditLog,
    AuditRecord,
    Base,
    Catalog,
    ColumnStats,
    DatasetRepository,
    TagRepository,
    dataset_summary,
)
from lakeward.catalog._ddl import render_ddl
from lakeward.catalog._engine import MIGRATIONS_DIR
from lakeward.errors import CatalogUnavailable, ConfigurationError, InputError, NotFound

REPO = Path(__file__).resolve().parents[3]


def test_migrations_create_exactly_the_models(catalog: Catalog) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with catalog.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == [], f"models and migrations drifted: {diff}"
    assert set(inspect(catalog.engine).get_table_names()) >= {
        "datasets",
        "dataset_versions",
        "dataset_columns",
        "tags",
        "audit_records",
    }


def test_upgrade_is_idempotent(catalog: Catalog) -> None:
    catalog.upgrade()
    catalog.upgrade()
    with catalog.engine.connect() as conn:
        current = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    assert (current,) == tuple(ScriptDirectory.from_config(config).get_heads())


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_sql_directory_matches_models(dialect: str) -> None:
    committed = (REPO / "sql" / f"catalog.{dialect}.sql").read_text()
    assert committed == render_ddl(dialect), "sql/ drifted from the models: run `make sql`"


def _stats(n: int) -> list[ColumnStats]:
    return [
        ColumnStats("id", "bigint", True, "1", str(n), 0, n),
        ColumnStats("amount", "double", True, "0.5", "99.25", 2, 40),
        ColumnStats("day", "date", True, "2024-01-01", "2024-03-01", 0, 60),
    ]


def test_register_profile_versions_and_summary(catalog: Catalog) -> None:
    with catalog.session() as s:
        repo = DatasetRepository(s)
        d, created = repo.register(
            name="sales.orders",
            uri="file:///lake/sales/orders",
            lake_root="file:///lake",
            format="parquet",
            layout="directory",
            file_count=3,
            bytes=1000,
        )
        assert created
        _, again = repo.register(
            name="sales.orders",
            uri="file:///lake/sales/orders",
            lake_root="file:///lake",
            format="parquet",
            layout="directory",
            file_count=3,
            bytes=1000,
        )
        assert not again
        v1 = repo.record_profile(
            d,
            rows=10,
            bytes=1000,
            file_count=3,
            fingerprint="a" * 64,
            file_signature="s1",
            columns=_stats(10),
            seconds=1.0,
            principal="p",
        )
        v2 = repo.record_profile(
            d,
            rows=12,
            bytes=1200,
            file_count=4,
            fingerprint="b" * 64,
            file_signature="s2",
            columns=_stats(12),
            seconds=1.0,
            principal="p",
        )
        assert (v1.version, v2.version) == (1, 2)
    with catalog.session() as s:
        repo = DatasetRepository(s)
        summary = dataset_summary(repo, repo.require("sales.orders"))
    assert summary["version"] == 2 and summary["rows"] == 12 and summary["bytes"] == 1200
    cols = {c["name"]: c for c in summary["columns"]}
    assert cols["id"] == {
        "name": "id",
        "type": "bigint",
        "nullable": True,
        "min": 1,
        "max": 12,
        "nulls": 0,
        "distinct": 12,
    }
    assert cols["amount"]["min"] == 0.5 and isinstance(cols["amount"]["max"], float)
    assert cols["day"]["max"] == "2024-03-01"


def test_name_clash_and_missing_dataset(catalog: Catalog) -> None:
    with catalog.session() as s:
        DatasetRepository(s).register(
            name="a",
            uri="file:///x/a.csv",
            lake_root="file:///x",
            format="csv",
            layout="file",
            file_count=1,
            bytes=1,
        )
    with pytest.raises(InputError, match="already registered"), catalog.session() as s:
        DatasetRepository(s).register(
            name="a",
            uri="file:///y/a.csv",
            lake_root="file:///y",
            format="csv",
            layout="file",
            file_count=1,
            bytes=1,
        )
    with pytest.raises(NotFound, match="lakeward catalog ls"), catalog.session() as s:
        DatasetRepository(s).require("nope")


def test_failed_transaction_leaves_catalog_unchanged(catalog: Catalog) -> None:
    with catalog.session() as s:
        d, _ = DatasetRepository(s).register(
            name="t",
            uri="file:///x/t.csv",
            lake_root="file:///x",
            format="csv",
            layout="file",
            file_count=1,
            bytes=1,
        )
    with pytest.raises(RuntimeError), catalog.session() as s:
        repo = DatasetRepository(s)
        repo.record_profile(
            repo.require("t"),
            rows=1,
            bytes=1,
            file_count=1,
            fingerprint="f" * 64,
            file_signature="s",
            columns=_stats(1),
            seconds=0.1,
            principal=None,
        )
        raise RuntimeError("crash after the version was written, before commit")
    with catalog.session() as s:
        repo = DatasetRepository(s)
        assert repo.require("t").current_version == 0
        assert repo.current_version(repo.require("t")) is None


def test_tags_are_unique_per_dataset_column_and_name(catalog: Catalog) -> None:
    with catalog.session() as s:
        d, _ = DatasetRepository(s).register(
            name="t",
            uri="file:///x/t.csv",
            lake_root="file:///x",
            format="csv",
            layout="file",
            file_count=1,
            bytes=1,
        )
        tags = TagRepository(s)
        tags._add(d, "pii")
        tags._add(d, "pii", confidence=0.5)
        tags._add(d, "pii", column="email")
        with pytest.raises(InputError):
            tags._add(d, "x", confidence=1.5)
        got = [(t.column_name, t.name, t.confidence) for t in tags.for_dataset(d)]
    assert got == [("", "pii", 0.5), ("email", "pii", 1.0)]


def _append(log: AuditLog, i: int) -> None:
    log._append(
        principal=f"user{i % 3}",
        action="lake.profile",
        resource=f"ds{i}",
        decision="allow",
        request={"i": i},
        purpose="catalog_maintenance",
    )


def test_audit_chain_detects_edit_delete_and_reorder(catalog: Catalog) -> None:
    log = AuditLog(catalog)
    for i in range(5):
        _append(log, i)
    assert log.verify() is None
    with catalog.session() as s:
        s.execute(update(AuditRecord).where(AuditRecord.seq == 3).values(resource="tampered"))
    brk = log.verify()
    assert brk is not None and brk.seq == 3 and "content" in brk.reason
    with catalog.session() as s:
        s.execute(update(AuditRecord).where(AuditRecord.seq == 3).values(resource="ds2"))
    assert log.verify() is None
    with catalog.session() as s:
        s.execute(AuditRecord.__table__.delete().where(AuditRecord.seq == 4))
    brk = log.verify()
    assert brk is not None and brk.seq == 4
    with catalog.session() as s:  # swap two records' positions
        s.execute(update(AuditRecord).where(AuditRecord.seq == 5).values(seq=4))
    brk = log.verify()
    assert brk is not None and brk.seq == 4 and "previous-hash" in brk.reason


def test_concurrent_audit_appends_never_fork_the_chain(catalog: Catalog) -> None:
    log = AuditLog(catalog)
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        try:
            for j in range(5):
                _append(log, k * 100 + j)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert log.verify() is None
    with catalog.session() as s:
        seqs = [r.seq for r in s.query(AuditRecord).order_by(AuditRecord.seq)]
    assert seqs == list(range(1, 81))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_postgres_is_a_clear_error() -> None:
    url = f"postgresql+psycopg://lw:pw@127.0.0.1:{_free_port()}/lakeward"
    with pytest.raises(CatalogUnavailable) as info:
        Catalog.open(url, connect_timeout_s=2)
    message = str(info.value)
    assert "LAKEWARD_CATALOG_URL" in message and "pw" not in message.replace("password", "")


@pytest.mark.parametrize("url", ["not a url", "mysql://x/y"])
def test_bad_catalog_url(url: str) -> None:
    with pytest.raises(ConfigurationError, match="LAKEWARD_CATALOG_URL"):
        Catalog.open(url)
