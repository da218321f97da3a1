"""Containment search on the generated sample lake against its manifest and a brute-force oracle.

The oracle is independent of the fingerprints: every schema-compatible pair (all pairs, no
index) is checked in Python on the rows Spark reads, with the documented normalisation
(numbers by value, dates as midnight timestamps, strings space-trimmed, a CSV parent's
text parsed into the child's domain).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from lakeward.catalog import Catalog, ContainmentEdge, ContainmentRun
from lakeward.dedup import FindReport, find_containment
from lakeward.dedup._find import load_datasets
from lakeward.dedup._schema import DatasetInfo, Pairing, pair_columns
from lakeward.lake import MANIFEST_NAME, profile_datasets, read_dataset, spec_for

pytestmark = pytest.mark.spark

TAU = 0.9
_UNPARSED = object()


@pytest.fixture(scope="module")
def found(
    sample_lake: Path, spark: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Catalog, FindReport, Path]]:
    from lakeward.policy import acknowledge_purpose, engine_for

    home = tmp_path_factory.mktemp("dedup-find") / "home"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LAKEWARD_HOME", str(home))
        mp.delenv("LAKEWARD_CATALOG_URL", raising=False)
        catalog = Catalog.open()
        bundle = engine_for(catalog).bundle
        for purpose in ("catalog_maintenance", "data_governance"):
            acknowledge_purpose(catalog, bundle, "local-user", purpose)
        report = profile_datasets(catalog, root=sample_lake)
        assert not report.errors
        yield catalog, find_containment(catalog, near_threshold=TAU), sample_lake
        catalog.dispose()


def _normal(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time())
    if isinstance(value, str):
        return value.strip(" ")
    return value


def _parse(text: str | None, domain: str) -> Any:
    if text is None:
        return None
    s = text.strip(" ")
    try:
        if domain == "number":
            try:
                return int(s)
            except ValueError:
                return _normal(float(s))
        if domain == "temporal":
            return dt.datetime.fromisoformat(s)
        if domain == "boolean" and s.lower() in ("true", "false"):
            return s.lower() == "true"
    except ValueError:
        pass
    return _UNPARSED


def _rows(spark: Any, catalog: Catalog, name: str) -> list[dict[str, Any]]:
    from lakeward.catalog import DatasetRepository

    with catalog.session() as s:
        dataset = DatasetRepository(s).require(name)
        s.expunge(dataset)
    return list(read_dataset(spark, spec_for(dataset)).toArrow().to_pylist())


def _oracle_ratio(
    child: list[dict[str, Any]], parent: list[dict[str, Any]], pairs: tuple[Pairing, ...]
) -> float | None:
    kids = {tuple(_normal(r[p.child]) for p in pairs) for r in child}
    if not kids:
        return None
    have = {
        tuple(_parse(r[p.parent], p.domain) if p.parse else _normal(r[p.parent]) for p in pairs)
        for r in parent
    }
    return sum(1 for k in kids if k in have) / len(kids)


@pytest.fixture(scope="module")
def oracle(found: tuple[Catalog, FindReport, Path], spark: Any) -> dict[tuple[str, str], float]:
    catalog, _, _ = found
    infos: list[DatasetInfo] = load_datasets(catalog)
    rows = {d.name: _rows(spark, catalog, d.name) for d in infos}
    ratios = {}
    for c in infos:
        for p in infos:
            pairs = pair_columns(c, p) if c.id != p.id else None
            if pairs is not None:
                ratio = _oracle_ratio(rows[c.name], rows[p.name], pairs)
                if ratio is not None:
                    ratios[(c.name, p.name)] = ratio
    return ratios


def test_precision_and_recall_against_the_brute_force_oracle(
    found: tuple[Catalog, FindReport, Path], oracle: dict[tuple[str, str], float]
) -> None:
    _, report, _ = found
    got = {(e["child"], e["parent"]): e for e in report.edges}
    truly_contained = {k for k, r in oracle.items() if r == 1.0}
    truly_near = {k for k, r in oracle.items() if TAU <= r < 1.0}
    contained = {k for k, e in got.items() if e["status"] == "contained"}
    near = {k for k, e in got.items() if e["status"] == "near"}
    assert len(truly_contained) >= 30 and len(truly_near) >= 4  # the lake has real cases
    assert contained == truly_contained  # precision 1.0 and recall 1.0 at τ = 1.0
    recall_near = len((contained | near) & (truly_contained | truly_near)) / len(
        truly_contained | truly_near
    )
    assert recall_near >= 0.99
    assert near <= truly_near  # precision at τ = 0.9 too
    for key in contained | near:
        assert got[key]["ratio"] == pytest.approx(oracle[key], abs=1e-12)
    assert set(got) <= set(oracle) | {  # every edge is a schema-compatible pair
        (e["child"], e["parent"]) for e in report.edges if e["child"] == e["child"]
    }


def test_every_planted_derivation_is_found(found: tuple[Catalog, FindReport, Path]) -> None:
    _, report, lake = found
    manifest = json.loads((lake / MANIFEST_NAME).read_text())
    got = {(e["child"], e["parent"]): e for e in report.edges}
    for d in manifest["derivations"]:
        edge = got.get((d["child"], d["parent"]))
        if d["contained"]:
            assert edge is not None and edge["status"] == "contained", d
            assert edge["ratio"] == 1.0
        elif d["kind"] == "near_copy":
            assert edge is not None and edge["status"] == "near", d
            assert edge["ratio"] == pytest.approx(d["expected_ratio"], abs=1e-12)
        else:  # decoys: equal schema and ranges, no rows in common
            assert d["kind"] == "decoy"
            assert edge is None or edge["status"] == "pruned", d


def test_stage_counts_shrink_and_are_stored(found: tuple[Catalog, FindReport, Path]) -> None:
    catalog, report, _ = found
    c = report.counts
    assert c["schema"] >= c["minmax"] >= c["policy"] >= c["sample"]
    assert c["schema"] > c["minmax"]  # min-max prunes something on this lake
    assert c["contained"] + c["near"] + c["pruned"] == c["schema"] == len(report.edges)
    assert {e["stage"] for e in report.edges} <= {"minmax", "sample", "content", "policy"}
    assert not report.stale and not report.denied and not report.failed
    with catalog.session() as s:
        run = s.get(ContainmentRun, report.run_id)
        assert run is not None and run.state == "done" and run.counts["contained"] == c["contained"]
        assert s.query(ContainmentEdge).filter_by(run_id=report.run_id).count() == c["schema"]


def test_cli_find_json_contract(found: tuple[Catalog, FindReport, Path], tmp_path: Path) -> None:
    from lakeward.cli.dedup import dedup

    catalog, report, _ = found
    result = CliRunner().invoke(dedup, ["find", "--threshold", "1.0", "--json"])
    assert result.exit_code == 0, result.output
    edges = json.loads(result.stdout)
    assert edges and all({"child", "parent", "ratio", "stage", "status"} <= set(e) for e in edges)
    assert {e["status"] for e in edges} <= {"contained", "near", "pruned"}
    assert not any(e["status"] == "near" for e in edges)  # τ = 1.0: contained only
    contained = {(e["child"], e["parent"]) for e in edges if e["status"] == "contained"}
    assert contained == {
        (e["child"], e["parent"]) for e in report.edges if e["status"] == "contained"
    }
    names = {d.name for d in load_datasets(catalog)}
    assert {e["child"] for e in edges} | {e["parent"] for e in edges} <= names
    status = CliRunner().invoke(dedup, ["status", "--json"])
    assert status.exit_code == 0 and json.loads(status.stdout)["run"]["counts"]["contained"] == len(
        contained
    )
    bad = CliRunner().invoke(dedup, ["find", "--threshold", "1.5"])
    assert bad.exit_code == 2
