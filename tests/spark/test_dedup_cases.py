"""Containment on planted hard cases: renamed and reordered columns, CSV vs Parquet, widened
types, text parsed back ("02134"), NULLs, duplicate rows (set vs multiset), near-copies,
decoys with equal schema and ranges, padded strings; stale datasets and policy refusals."""

from __future__ import annotations

import datetime as dt
import json
import random
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from lakeward.catalog import AuditLog, Catalog, DatasetRepository, TagRepository
from lakeward.dedup import FindReport, find_containment
from lakeward.lake import profile_datasets
from tests.dedup_oracle import all_ratios

pytestmark = pytest.mark.spark

N = 60


def _people(rng: random.Random) -> list[dict[str, Any]]:
    cities = ["Paris", "Lyon", "Berlin", "Oslo", None]
    return [
        {
            "id": 1000 + 3 * i,
            "name": f"person {i:03d}",
            "city": cities[i % len(cities)],
            "born": dt.date(1960, 1, 1) + dt.timedelta(days=rng.randint(0, 20000)),
            "score": round(rng.uniform(0, 100), 2),
            "joined": dt.datetime(2020, 1, 1) + dt.timedelta(seconds=rng.randint(0, 10**8)),
        }
        for i in range(N)
    ]


SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("name", pa.string()),
        ("city", pa.string()),
        ("born", pa.date32()),
        ("score", pa.float64()),
        ("joined", pa.timestamp("us")),
    ]
)


def _parquet(path: Path, rows: list[dict[str, Any]], schema: pa.Schema = SCHEMA) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)


def _csv(path: Path, rows: list[dict[str, Any]], schema: pa.Schema = SCHEMA) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pylist(rows, schema=schema)
    columns = []
    for col in table.columns:
        if pa.types.is_timestamp(col.type):
            import pyarrow.compute as pc

            col = pc.strftime(col.cast(pa.timestamp("s")), format="%Y-%m-%d %H:%M:%S")
        columns.append(col)
    pacsv.write_csv(pa.Table.from_arrays(columns, names=table.column_names), path)


def write_cases(root: Path) -> None:
    rng = random.Random(4)
    people = _people(rng)
    _parquet(root / "base" / "people.parquet", people)
    _csv(root / "copies" / "people.csv", people)
    renamed = pa.schema(
        [
            ("Score", pa.float64()),
            ("ID", pa.int32()),  # narrower: int ⊂ bigint
            ("CITY", pa.string()),
            ("Name", pa.string()),
            ("Joined", pa.timestamp("us")),
            ("Born", pa.date32()),
        ]
    )
    _parquet(
        root / "copies" / "people_renamed.parquet",
        [{f.name: p[f.name.lower()] for f in renamed} for p in people],
        renamed,
    )
    as_ts = SCHEMA.set(3, pa.field("born", pa.timestamp("us")))
    _parquet(
        root / "widened" / "people_ts.parquet",
        [{**p, "born": dt.datetime.combine(p["born"], dt.time())} for p in people],
        as_ts,
    )
    _parquet(root / "base" / "people_paris.parquet", [p for p in people if p["city"] == "Paris"])
    (root / "base").mkdir(exist_ok=True)
    with open(root / "base" / "names.jsonl", "w") as fh:
        for p in people[:25]:
            fh.write(json.dumps({"name": p["name"], "id": p["id"]}) + "\n")
    dupes = people[:20] + people[:5]
    _parquet(root / "dupes" / "people_dupes.parquet", dupes)
    nullcity = [
        {**p, "city": None} if i % 7 == 0 and p["city"] else p for i, p in enumerate(people)
    ]
    _parquet(root / "nulls" / "people_nullcity.parquet", nullcity)
    near = [dict(p) for p in people]
    for i in (3, 17, 41):
        near[i]["score"] = round(near[i]["score"] + 0.5, 2)
    _parquet(root / "near" / "people_near.parquet", near)
    lo = {k: min(p[k] for p in people if p[k] is not None) for k in people[0]}
    hi = {k: max(p[k] for p in people if p[k] is not None) for k in people[0]}
    decoy = [lo, hi] + [
        {**p, "id": p["id"] + 1, "name": f"other {i:03d}"} for i, p in enumerate(people[1:-1:3])
    ]
    _parquet(root / "scratch" / "people_decoy.parquet", decoy)
    spaced = [{**p, "name": "  " + p["name"]} for p in people[:30]]
    _csv(root / "scratch" / "people_spaced.csv", spaced)
    zips = pa.schema([("zip", pa.string()), ("town", pa.string())])
    zip_rows = [{"zip": f"{z:05d}", "town": f"town {z}"} for z in (2134, 10001, 60601, 94105, 501)]
    _parquet(root / "codes" / "zips.parquet", zip_rows, zips)
    _csv(root / "codes" / "zips_export.csv", zip_rows[:4], zips)  # read back as bigint
    _csv(root / "codes" / "zips_all.csv", zip_rows, zips)


@pytest.fixture(scope="module")
def cases(
    spark: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Catalog, FindReport, dict[tuple[str, str], float], Path]]:
    from lakeward.policy import acknowledge_purpose, engine_for

    base = tmp_path_factory.mktemp("dedup-cases")
    root = base / "lake"
    write_cases(root)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LAKEWARD_HOME", str(base / "home"))
        mp.delenv("LAKEWARD_CATALOG_URL", raising=False)
        catalog = Catalog.open()
        bundle = engine_for(catalog).bundle
        for purpose in ("catalog_maintenance", "data_governance"):
            acknowledge_purpose(catalog, bundle, "local-user", purpose)
        assert not profile_datasets(catalog, root=root).errors
        report = find_containment(catalog, near_threshold=0.9, multiset=False)
        yield catalog, report, all_ratios(spark, catalog), root
        catalog.dispose()


def _edges(report: FindReport) -> dict[tuple[str, str], dict[str, Any]]:
    return {(e["child"], e["parent"]): e for e in report.edges}


def test_hard_cases(cases: tuple[Catalog, FindReport, dict[tuple[str, str], float], Path]) -> None:
    _, report, _, _ = cases
    edges = _edges(report)

    def status(child: str, parent: str) -> str | None:
        edge = edges.get((child, parent))
        return edge["status"] if edge else None

    assert status("copies.people", "base.people") == "contained"  # CSV vs Parquet
    assert status("base.people", "copies.people") == "contained"
    assert status("copies.people_renamed", "base.people") == "contained"  # renamed, int32
    assert status("base.people", "copies.people_renamed") is None  # bigint ⊄ int: no edge
    assert status("base.people", "widened.people_ts") == "contained"  # date ⊂ timestamp
    assert status("widened.people_ts", "base.people") is None
    assert status("base.people_paris", "base.people") == "contained"
    assert status("base.names", "copies.people_renamed") == "contained"  # JSON projection
    assert status("dupes.people_dupes", "base.people") == "contained"  # set semantics
    assert status("nulls.people_nullcity", "base.people") == "pruned"
    assert status("codes.zips_export", "codes.zips") == "contained"  # "02134" read as 2134
    assert status("codes.zips", "codes.zips_all") == "contained"  # the child's text parsed
    assert status("scratch.people_spaced", "base.people") == "contained"  # trimmed strings
    near = edges[("near.people_near", "base.people")]
    assert near["status"] == "near" and near["ratio"] == pytest.approx(57 / 60)
    decoy = edges[("scratch.people_decoy", "base.people")]
    assert decoy["status"] == "pruned" and decoy["stage"] in ("sample", "content")
    assert decoy["ratio"] in (None, 0.0)
    assert edges[("base.people", "base.people_paris")]["stage"] == "minmax"


def test_against_the_oracle(
    cases: tuple[Catalog, FindReport, dict[tuple[str, str], float], Path],
) -> None:
    _, report, oracle, _ = cases
    edges = _edges(report)
    assert set(edges) == set(oracle)
    for key, truth in oracle.items():
        edge = edges[key]
        expected = "contained" if truth == 1.0 else "near" if truth >= 0.9 else "pruned"
        assert edge["status"] == expected, (key, truth, edge)
        if edge["stage"] == "content":
            assert edge["ratio"] == pytest.approx(truth, abs=1e-12)


def test_big_batch_path_gives_the_same_verdicts(
    cases: tuple[Catalog, FindReport, dict[tuple[str, str], float], Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Batches of big datasets are fingerprinted one expression per projection (and with
    generated code); small ones through the shared hash-array expression: same edges."""
    from lakeward.dedup import _content

    catalog, report, _, _ = cases
    monkeypatch.setattr(_content, "_SMALL_BATCH_BYTES", 0)  # every batch counts as big
    monkeypatch.setattr(_content, "_ARRAY_PATH_BYTES", 0)  # every dataset too
    again = find_containment(catalog, near_threshold=0.9, multiset=False)
    fields = ("status", "stage", "ratio", "sample_hits", "matched", "total")
    assert {k: tuple(e[f] for f in fields) for k, e in _edges(again).items()} == {
        k: tuple(e[f] for f in fields) for k, e in _edges(report).items()
    }


def test_multiset_counts_duplicate_rows(
    cases: tuple[Catalog, FindReport, dict[tuple[str, str], float], Path], spark: Any
) -> None:
    catalog, _, _, _ = cases
    names = ["dupes.people_dupes", "base.people", "copies.people", "near.people_near"]
    report = find_containment(catalog, near_threshold=0.5, multiset=True, names=names)
    edges = _edges(report)
    truth = all_ratios(spark, catalog, multiset=True)
    dupes = edges[("dupes.people_dupes", "base.people")]
    assert dupes["status"] == "near" and dupes["ratio"] == pytest.approx(20 / 25)
    for key, edge in edges.items():
        if edge["stage"] == "content":
            assert edge["ratio"] == pytest.approx(truth[key], abs=1e-12)
    assert edges[("copies.people", "base.people")]["status"] == "contained"


def test_policy_refusal_prunes_edges_and_is_audited(
    cases: tuple[Catalog, FindReport, dict[tuple[str, str], float], Path],
) -> None:
    catalog, _, _, _ = cases
    with catalog.session() as s:
        repo = DatasetRepository(s)
        TagRepository(s)._add(repo.require("base.people_paris"), "restricted")
    try:
        report = find_containment(catalog, names=["base.people", "base.people_paris"])
    finally:
        with catalog.session() as s:
            repo = DatasetRepository(s)
            TagRepository(s)._remove(repo.require("base.people_paris"), "restricted")
    edge = _edges(report)[("base.people_paris", "base.people")]
    assert edge["stage"] == "policy" and edge["status"] == "pruned"
    assert (
        "base.people_paris" in report.denied and "restricted" in report.denied["base.people_paris"]
    )
    tail = AuditLog(catalog).tail(10)
    assert any(
        r.action == "lake.read_content"
        and r.resource == "dataset:base.people_paris"
        and r.decision == "deny"
        and r.purpose == "data_governance"
        for r in tail
    )


def test_stale_datasets_are_refused_or_reprofiled(
    cases: tuple[Catalog, FindReport, dict[tuple[str, str], float], Path],
) -> None:
    catalog, _, _, root = cases
    names = ["base.people", "base.people_paris"]
    paris = root / "base" / "people_paris.parquet"
    backup = paris.with_suffix(".bak")
    shutil.copy2(paris, backup)
    try:
        table = pq.read_table(paris)
        pq.write_table(table.slice(0, max(1, table.num_rows - 1)), paris)  # one row fewer
        refused = find_containment(catalog, names=names)
        assert "base.people_paris" in refused.stale
        assert "re-profile" in refused.stale["base.people_paris"]
        assert not any(e["child"] == "base.people_paris" for e in refused.edges)
        again = find_containment(catalog, names=names, reprofile=True)
        assert not again.stale
        assert _edges(again)[("base.people_paris", "base.people")]["status"] == "contained"
        with catalog.session() as s:
            assert DatasetRepository(s).require("base.people_paris").current_version == 2
    finally:
        backup.replace(paris)


def test_spark_fingerprints_are_the_documented_hmac(spark: Any) -> None:
    """Both fingerprint expressions (per-projection SQL, and the batch form over a hash
    array) equal HMAC-SHA256 of ``names|h1|h2…`` computed in Python, NULLs included."""
    from lakeward.dedup._fingerprint import (
        LakeKey,
        indexed_fingerprint_sql,
        python_value_message,
        row_fingerprint_sql,
        value_hash_sql,
        with_key,
    )

    key = LakeKey(b"a test secret of decent length")
    df = spark.createDataFrame(
        [(7, "  x ", 2.5), (None, "y", None)], "a bigint, b string, c double"
    )
    hashes = [
        value_hash_sql("a", "bigint", "number"),
        value_hash_sql("b", "string", "string"),
        value_hash_sql("c", "double", "number"),
    ]
    rows = (
        with_key(df, key)
        .selectExpr(
            "*",
            f"array({', '.join(hashes)}) AS h",
            "'a,c' AS names",
            "array(1, 3) AS idx",
            f"{row_fingerprint_sql(['a', 'c'], [hashes[0], hashes[2]])} AS direct",
        )
        .selectExpr("h", "direct", f"{indexed_fingerprint_sql('names', 'h', 'idx', 3)} AS batch")
        .collect()
    )
    for row in rows:
        expected = key.hmac128(python_value_message(["a", "c"], [row.h[0], row.h[2]]))
        assert bytes(row.direct) == expected == bytes(row.batch)
    assert rows[0].direct != rows[1].direct
