"""Containment search on the generated sample lake against its manifest and a brute-force oracle.

The oracle is independent of the fingerprints: every schema-compatible pair (all pairs, no
index) is checked in Python on the rows Spark reads, with the documented normalisation
(numbers by value, dates as midnight timestamps, strings space-trimmed, a CSV parent's
text parsed into the child's domain).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from lakeward.catalog import Catalog, ContainmentEdge, ContainmentRun
from lakeward.dedup import FindReport, find_containment
from lakeward.lake import MANIFEST_NAME, profile_datasets
from tests.dedup_oracle import all_ratios

pytestmark = pytest.mark.spark

TAU = 0.9


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


@pytest.fixture(scope="module")
def oracle(found: tuple[Catalog, FindReport, Path], spark: Any) -> dict[tuple[str, str], float]:
    return all_ratios(spark, found[0])


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
    assert set(got) == set(oracle)  # stage 1 found every schema-compatible pair


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


def test_cli_find_json_contract(found: tuple[Catalog, FindReport, Path]) -> None:
    from lakeward.cli.dedup import dedup

    _, report, _ = found
    subset = ["sales.customers", "sales.customers_de", "marketing.crm_customers", "hr.employees"]
    args = ["find", "--threshold", "1.0", "--json", *[a for n in subset for a in ("--dataset", n)]]
    result = CliRunner().invoke(dedup, args)
    assert result.exit_code == 0, result.output
    edges = json.loads(result.stdout)
    assert edges and all({"child", "parent", "ratio", "stage", "status"} <= set(e) for e in edges)
    assert {e["status"] for e in edges} <= {"contained", "near", "pruned"}
    assert not any(e["status"] == "near" for e in edges)  # τ = 1.0: contained only
    contained = {(e["child"], e["parent"]) for e in edges if e["status"] == "contained"}
    assert contained == {
        (e["child"], e["parent"])
        for e in report.edges
        if e["status"] == "contained" and {e["child"], e["parent"]} <= set(subset)
    }
    assert len(contained) == 4  # customers_de in 2 parents, customers ⟷ crm_customers
    assert {e["child"] for e in edges} | {e["parent"] for e in edges} <= set(subset)
    status = CliRunner().invoke(dedup, ["status", "--json"])
    assert status.exit_code == 0 and json.loads(status.stdout)["run"]["counts"]["contained"] == len(
        contained
    )
    bad = CliRunner().invoke(dedup, ["find", "--threshold", "1.5"])
    assert bad.exit_code == 2
