"""Profiling on local Spark: exact statistics, fingerprints, versions, faults."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakeward.catalog import Catalog, DatasetRepository, dataset_summary
from lakeward.errors import PolicyDenied
from lakeward.lake import discover, profile_datasets, register_lake
from lakeward.lake._profile import profile_dataset
from tests.conftest import allow_profiling

pytestmark = pytest.mark.spark


def _catalog_state(catalog: Catalog) -> list[dict[str, Any]]:
    with catalog.session() as s:
        repo = DatasetRepository(s)
        return [dataset_summary(repo, d) for d in repo.list()]


def test_statistics_are_exact(spark: Any, catalog: Catalog, small_lake: tuple[Path, dict]) -> None:
    root, expected = small_lake
    report = profile_datasets(catalog, root=root, principal="local-user")
    assert report.errors == {}
    assert sorted(o.name for o in report.by_status("profiled")) == sorted(expected)
    state = {d["name"]: d for d in _catalog_state(catalog)}
    for name, exp in expected.items():
        got = state[name]
        assert got["rows"] == exp["rows"] and got["format"] == exp["format"]
        assert got["version"] == 1 and len(got["fingerprint"]) == 64
        cols = {c["name"]: c for c in got["columns"]}
        for col, value in exp["min"].items():
            assert cols[col]["min"] == value, (name, col)
        for col, value in exp["max"].items():
            assert cols[col]["max"] == value, (name, col)
        for col, value in exp["nulls"].items():
            assert cols[col]["nulls"] == value, (name, col)
    orders = {c["name"]: c for c in state["sales.orders"]["columns"]}
    assert orders["order_ts"]["min"] == "2024-01-01T01:00:00.000000"
    assert abs(orders["order_id"]["distinct"] - 300) <= 300 * 0.1  # HLL++, rsd 5%
    assert orders["status"]["distinct"] == 3
    assert state["sales.orders"]["bytes"] == sum(
        p.stat().st_size for p in (root / "sales" / "orders").glob("part-*")
    )


def test_unchanged_datasets_are_skipped_and_changes_make_versions(
    spark: Any, catalog: Catalog, small_lake: tuple[Path, dict]
) -> None:
    root, _ = small_lake
    profile_datasets(catalog, root=root)
    again = profile_datasets(catalog, root=root)
    assert len(again.by_status("unchanged")) == 3 and not again.by_status("profiled")
    with open(root / "hr" / "employees.csv", "a") as fh:
        fh.write("51,Person 51,2000.5,2021-01-01\n")
    third = profile_datasets(catalog, root=root)
    assert [o.name for o in third.by_status("profiled")] == ["hr.employees"]
    with catalog.session() as s:
        repo = DatasetRepository(s)
        emp = repo.require("hr.employees")
        assert emp.current_version == 2 and emp.rows == 51
        assert [v.rows for v in emp.versions] == [50, 51]
        assert emp.versions[0].fingerprint != emp.versions[1].fingerprint
    forced = profile_datasets(catalog, names=["web.events"], force=True)
    assert forced.outcomes[0].status == "profiled" and forced.outcomes[0].version == 2


def test_fingerprint_ignores_order_layout_and_format_but_not_content(
    spark: Any, tmp_path: Path
) -> None:
    import pyarrow.csv as pacsv

    rows = {
        "id": list(range(50)),
        "name": [f"n{i}" for i in range(50)],
        "x": [i / 4 for i in range(50)],
    }
    base = pa.table(rows)
    (tmp_path / "a").mkdir()
    pq.write_table(base, tmp_path / "a" / "one.parquet")
    (tmp_path / "b").mkdir()
    shuffled = base.take(list(reversed(range(50))))
    pq.write_table(shuffled.slice(0, 20), tmp_path / "b" / "part-0.parquet")
    pq.write_table(shuffled.slice(20), tmp_path / "b" / "part-1.parquet")
    (tmp_path / "c").mkdir()
    pacsv.write_csv(base.select(["x", "name", "id"]), tmp_path / "c" / "copy.csv")
    (tmp_path / "d").mkdir()
    changed = dict(rows, name=[*rows["name"][:-1], "different"])
    pq.write_table(pa.table(changed), tmp_path / "d" / "changed.parquet")
    fps = {s.name: profile_dataset(spark, s).fingerprint for s in discover(tmp_path)}
    assert fps["a.one"] == fps["b"] == fps["c.copy"]
    assert fps["d.changed"] != fps["a.one"]


def test_bad_datasets_are_reported_and_leave_their_catalog_entry_unchanged(
    spark: Any, catalog: Catalog, small_lake: tuple[Path, dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, _ = small_lake
    profile_datasets(catalog, root=root)
    before = {d["name"]: d for d in _catalog_state(catalog)}
    monkeypatch.setenv("LAKEWARD_LAKE_SNIFF_BYTES", "4096")
    # 1. A CSV whose ragged row lies beyond the sniffed head: Spark's FAILFAST catches it.
    with open(root / "hr" / "employees.csv", "a") as fh:
        for i in range(300):
            fh.write(f"{100 + i},Person {i},3000.5,2022-01-01\n")
        fh.write("999,Ragged,1.5\n")
    # 2. A Parquet part file truncated mid-write.
    part = root / "sales" / "orders" / "part-00002.parquet"
    part.write_bytes(part.read_bytes()[:200])
    # 3. A JSON value of another type further into the file: widened, not a failure.
    with open(root / "web" / "events.jsonl", "a") as fh:
        fh.writelines(
            json.dumps({"event_id": 100 + i, "kind": "view", "day": "2024-02-02"}) + "\n"
            for i in range(200)
        )
        fh.write(
            json.dumps({"event_id": "not-a-number", "kind": "view", "day": "2024-02-02"}) + "\n"
        )
    # 4. A new healthy dataset is still profiled.
    pq.write_table(pa.table({"k": [1, 2]}), root / "ok.parquet")
    report = profile_datasets(catalog, root=root)
    assert set(report.errors) == {"hr.employees", "sales.orders"}
    assert sorted(o.name for o in report.by_status("profiled")) == ["ok", "web.events"]
    assert "part-00002.parquet" in report.errors["sales.orders"]
    employees = report.errors["hr.employees"]
    assert "MALFORMED" in employees and "the record has 3 fields, the header has 4" in employees
    assert "Ragged" not in employees  # the bad row's values are never quoted
    (events,) = [o for o in report.outcomes if o.name == "web.events"]
    assert [(w["column"], w["from"], w["to"]) for w in events.widened] == [
        ("event_id", "bigint", "string")
    ]
    after = {d["name"]: d for d in _catalog_state(catalog)}
    for name in ("hr.employees", "sales.orders"):
        assert after[name] == before[name], f"{name} changed although its profile failed"
    assert after["ok"]["rows"] == 2
    cols = {c["name"]: c for c in after["web.events"]["columns"]}
    assert cols["event_id"]["type"] == "string" and after["web.events"]["version"] == 2


def test_type_change_between_part_files_fails_that_dataset_only(
    spark: Any, catalog: Catalog, small_lake: tuple[Path, dict]
) -> None:
    root, _ = small_lake
    pq.write_table(
        pa.table(
            {
                "order_id": pa.array(["x"]),
                "amount": [1.0],
                "status": ["paid"],
                "order_ts": pa.array([None], pa.timestamp("us")),
            }
        ),
        root / "sales" / "orders" / "part-00003.parquet",
    )
    report = profile_datasets(catalog, root=root)
    assert list(report.errors) == ["sales.orders"]
    assert "'order_id' is int64" in report.errors["sales.orders"]
    assert len(report.by_status("profiled")) == 2


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_permission_denied_file(
    spark: Any, catalog: Catalog, small_lake: tuple[Path, dict]
) -> None:
    root, _ = small_lake
    (root / "hr" / "employees.csv").chmod(0)
    report = profile_datasets(catalog, root=root)
    assert "permission denied" in report.errors["hr.employees"]


def test_vanished_dataset_is_reported(
    spark: Any, catalog: Catalog, small_lake: tuple[Path, dict]
) -> None:
    root, _ = small_lake
    register_lake(catalog, root)
    shutil.rmtree(root / "web")
    report = profile_datasets(catalog, root=root)
    assert "no data files found" in report.errors["web.events"]


def test_policy_refusal_and_column_masks(
    spark: Any, catalog: Catalog, small_lake: tuple[Path, dict]
) -> None:
    from lakeward.catalog import AuditLog, TagRepository

    root, _ = small_lake
    register_lake(catalog, root)
    with catalog.session() as s:
        repo, tags = DatasetRepository(s), TagRepository(s)
        tags._add(repo.require("web.events"), "restricted")
        tags._add(repo.require("hr.employees"), "pii_direct", column="name")
    report = profile_datasets(catalog, root=root)
    assert list(report.denied) == ["web.events"]
    assert "restricted-is-off-limits" in report.denied["web.events"]
    state = {d["name"]: d for d in _catalog_state(catalog)}
    assert state["web.events"]["version"] == 0  # nothing read, nothing written
    cols = {c["name"]: c for c in state["hr.employees"]["columns"]}
    assert cols["name"]["min"] is None and cols["name"]["max"] is None
    assert cols["name"]["nulls"] == 0 and cols["name"]["distinct"] > 40  # counts still profiled
    assert cols["salary"]["min"] == 1001.5
    denials = [r for r in AuditLog(catalog).tail(10) if r.decision == "deny"]
    assert [(r.action, r.resource) for r in denials] == [
        ("lake.read_content", "dataset:web.events")
    ]


def test_unacknowledged_purpose_is_refused(
    spark: Any, home: Path, small_lake: tuple[Path, dict]
) -> None:
    root, _ = small_lake
    catalog = Catalog.open()
    with pytest.raises(PolicyDenied, match="purpose-must-be-acknowledged"):
        profile_datasets(catalog, root=root, principal="carol")  # registering is refused too
    allow_profiling(catalog)
    names = register_lake(catalog, root).datasets  # as local-user, who acknowledged
    report = profile_datasets(catalog, names, principal="carol")  # carol has not
    assert len(report.denied) == 3 and not report.by_status("profiled")
    assert "purpose-must-be-acknowledged" in report.denied["hr.employees"]
