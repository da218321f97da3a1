"""Reversible deletion on a small lake: propose → two-person approve → apply → purge / restore /
reconstruct, and the faults: a crash between every step of apply (in-process), a second
apply, an approval by the proposer, a dataset changed after the proposal, a parent changed
after its child was quarantined, a parent that recipes depend on."""

from __future__ import annotations

import datetime as dt
import os
import random
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from lakeward.catalog import Catalog, DatasetRepository, DeletionItem, DeletionPlan
from lakeward.dedup import (
    apply_plan,
    approve_plan,
    compute_plan,
    dedup_status,
    find_containment,
    propose_plan,
    purge_quarantine,
    reconstruct_dataset,
    restore_dataset,
    set_hold,
)
from lakeward.dedup._deletion import _release_lease, _take_lease
from lakeward.errors import InputError, PolicyDenied
from lakeward.lake import content_fingerprint, profile_datasets, read_dataset, spec_for
from tests.spark.test_dedup_cases import _csv, _parquet, _people

pytestmark = pytest.mark.spark

PROPOSER, APPROVER = "local-user", "carol"


class Crash(BaseException):
    """A simulated process death (not an Exception: nothing may catch and tidy up)."""


def _write_lake(root: Path) -> None:
    people = _people(random.Random(9))
    _parquet(root / "base" / "people.parquet", people)
    _csv(root / "copies" / "people.csv", people)
    for part in range(3):
        _parquet(root / "copies" / "people_parts" / f"part-{part:05d}.parquet", people[part::3])
    _parquet(root / "base" / "people_paris.parquet", [p for p in people if p["city"] == "Paris"])
    _parquet(root / "dupes" / "people_dupes.parquet", people[:20] + people[:5])
    _csv(root / "scratch" / "people_spaced.csv", [{**p, "name": " " + p["name"]} for p in people])


@pytest.fixture(scope="module")
def lake(
    spark: Any, tmp_path_factory: pytest.TempPathFactory, module_backend: str | None
) -> Iterator[tuple[Catalog, Path]]:
    from lakeward.policy import acknowledge_purpose, engine_for

    base = tmp_path_factory.mktemp("dedup-deletion")
    root = base / "lake"
    _write_lake(root)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LAKEWARD_HOME", str(base / "home"))
        if module_backend is None:  # SQLite under LAKEWARD_HOME
            mp.delenv("LAKEWARD_CATALOG_URL", raising=False)
        else:
            mp.setenv("LAKEWARD_CATALOG_URL", module_backend)
        catalog = Catalog.open()
        bundle = engine_for(catalog).bundle
        for principal in (PROPOSER, APPROVER):
            for purpose in ("catalog_maintenance", "data_governance"):
                acknowledge_purpose(catalog, bundle, principal, purpose)
        assert not profile_datasets(catalog, root=root).errors
        yield catalog, root
        catalog.dispose()


def _fingerprint(catalog: Catalog, name: str) -> tuple[int, str]:
    from lakeward import spark as lakeward_spark

    with catalog.session() as s:
        dataset = DatasetRepository(s).require(name)
        s.expunge(dataset)
    return content_fingerprint(read_dataset(lakeward_spark.session(), spec_for(dataset)))


def _items(catalog: Catalog, plan_id: int) -> dict[str, DeletionItem]:
    with catalog.session() as s:
        plan = s.get(DeletionPlan, plan_id)
        assert plan is not None
        names = {d.id: d.name for d in DatasetRepository(s).list()}
        items = {names[i.dataset_id]: i for i in plan.items}
        s.expunge_all()
    return items


def _path(root: Path, name: str) -> Path:
    domain, rest = name.split(".", 1)
    for candidate in (root / domain).iterdir():
        if candidate.name.split(".")[0] == rest:
            return candidate
    return root / domain / rest


def _approved_plan(catalog: Catalog, run_id: int | None = None) -> int:
    proposal = propose_plan(catalog, principal=PROPOSER, run_id=run_id)
    assert proposal.plan_id is not None
    approve_plan(catalog, proposal.plan_id, principal=APPROVER)
    return proposal.plan_id


def test_lifecycle(lake: tuple[Catalog, Path], tmp_path: Path) -> None:
    catalog, root = lake
    before = {n: _fingerprint(catalog, n) for n in ("copies.people", "dupes.people_dupes")}
    find_containment(catalog)
    proposal = propose_plan(catalog, principal=PROPOSER)
    planned = {c.dataset for c in proposal.result.choices}
    # Identical copies: only one of the three survives as a parent; the CSV, the biggest, goes.
    assert "copies.people" in planned and len(planned & {"base.people", "copies.people_parts"}) == 1
    assert proposal.result.solver == "milp" and proposal.result.optimum_proven
    assert propose_plan(catalog, principal=PROPOSER).reused  # same plan: no second proposal
    plan_id = proposal.plan_id
    assert plan_id is not None

    with pytest.raises(PolicyDenied, match="not approved"):
        apply_plan(catalog, plan_id, principal=APPROVER)
    with pytest.raises(PolicyDenied, match="cannot also decide"):
        approve_plan(catalog, plan_id, principal=PROPOSER)
    with pytest.raises(PolicyDenied):  # analysts may not approve deletions
        approve_plan(catalog, plan_id, principal="alice")
    approve_plan(catalog, plan_id, principal=APPROVER)

    dry = apply_plan(catalog, plan_id, principal=APPROVER, dry_run=True)
    assert dry.dry_run and _path(root, "copies.people").exists()
    report = apply_plan(catalog, plan_id, principal=APPROVER)
    states = {d["dataset"]: d for d in report.items}
    assert states["scratch.people_spaced"]["state"] == "skipped"  # trimmed match ≠ same bytes
    assert "no recipe rebuilds it exactly" in states["scratch.people_spaced"]["error"]
    assert _path(root, "scratch.people_spaced").exists()
    quarantined = {n for n, d in states.items() if d["state"] == "quarantined"}
    assert quarantined == planned - {"scratch.people_spaced"}
    for name in quarantined:
        assert not _path(root, name).exists()
    items = _items(catalog, plan_id)
    assert items["dupes.people_dupes"].recipe["kind"] == "fingerprints"  # duplicate rows
    assert items["base.people_paris"].recipe["kind"] == "predicate"
    assert "Paris" in items["base.people_paris"].recipe["predicate_text"]
    assert apply_plan(catalog, plan_id, principal=APPROVER).already_applied  # never twice

    # A parent with recipes depending on it is never planned for deletion.
    parents = {i.recipe["parent"] for i in items.values() if i.recipe}
    assert not parents & {c.dataset for c in compute_plan(catalog).result.choices}
    again = find_containment(catalog)  # quarantined datasets take no part any more
    assert not {e["child"] for e in again.edges} & quarantined

    # Restore from quarantine: the very files come back.
    restored = restore_dataset(catalog, "copies.people", principal=APPROVER)
    assert restored["how"] == "moved back from quarantine"
    assert _fingerprint(catalog, "copies.people") == before["copies.people"]

    # Purge: retention, holds, and a parent changed after its child was quarantined.
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=31)
    assert purge_quarantine(catalog, principal=APPROVER)["purged"] == []  # retention
    for name in ("base.people_paris", "dupes.people_dupes"):
        set_hold(catalog, name, True, principal=APPROVER)

    def die_before_commit(step: str, dataset: str) -> None:
        if step == "purge.commit":
            raise Crash(step)

    with pytest.raises(Crash):  # the copy is gone, the state not yet committed
        purge_quarantine(
            catalog, principal=APPROVER, now=later, dry_run=False, fault=die_before_commit
        )
    with pytest.raises(InputError, match="being purged"):
        restore_dataset(catalog, "copies.people_parts", principal=APPROVER)
    outcome = purge_quarantine(catalog, principal=APPROVER, now=later, dry_run=False)
    assert outcome["purged"] == ["copies.people_parts"]  # the interrupted purge finished
    assert outcome["waiting"] == {"base.people_paris": "on hold", "dupes.people_dupes": "on hold"}
    set_hold(catalog, "dupes.people_dupes", False, principal=APPROVER)
    parent_path = _path(root, items["dupes.people_dupes"].recipe["parent"])
    os.utime(parent_path)  # the parent's files changed (new mtime) after the recipe
    outcome = purge_quarantine(catalog, principal=APPROVER, now=later, dry_run=False)
    assert "changed since the recipe was verified" in outcome["refused"]["dupes.people_dupes"]
    assert outcome["purged"] == []
    assert Path(_items(catalog, plan_id)["dupes.people_dupes"].quarantine_uri or "").exists()

    # The quarantined copy whose parent changed still restores, the very files.
    assert restore_dataset(catalog, "dupes.people_dupes", principal=APPROVER)["how"] == (
        "moved back from quarantine"
    )
    assert _fingerprint(catalog, "dupes.people_dupes") == before["dupes.people_dupes"]

    # A purged dataset comes back from its recipe, content verified bit for bit.
    rebuilt = reconstruct_dataset(
        catalog, "copies.people_parts", tmp_path / "out", principal=APPROVER
    )
    assert Path(rebuilt["path"]).is_dir() and rebuilt["rows"] == 60
    back = restore_dataset(catalog, "copies.people_parts", principal=APPROVER)
    assert back["how"].startswith("rebuilt from its recipe")
    profile_datasets(catalog, names=["copies.people_parts"])
    with catalog.session() as s:
        versions = DatasetRepository(s).require("copies.people_parts").versions
        assert len(versions) == 2 and versions[-1].fingerprint == versions[0].fingerprint
    status = dedup_status(catalog)
    assert status["plans"][0]["state"] == "applied"
    # Leave the lake as it was for the other tests.
    restore_dataset(catalog, "base.people_paris", principal=APPROVER)
    profile_datasets(catalog, names=["base.people"])


STEPS = ["check", "recipe", "store", "intent", "move", "commit"]


@pytest.mark.parametrize("cross_device", [False, True])
def test_a_crash_between_any_two_steps_loses_nothing(
    lake: tuple[Catalog, Path], monkeypatch: pytest.MonkeyPatch, cross_device: bool
) -> None:
    catalog, root = lake
    steps = STEPS
    if cross_device:
        shm = Path("/dev/shm")
        if not shm.is_dir() or shm.stat().st_dev == root.stat().st_dev:
            pytest.skip("no second filesystem for a cross-device move")
        monkeypatch.setenv("LAKEWARD_DEDUP_QUARANTINE_DIR", str(shm / f"lw-q-{os.getpid()}"))
        steps = ["move.copied", "move.renamed"]
    run = find_containment(catalog, names=["base.people_paris", "copies.people_parts"])
    victim = "base.people_paris"
    original = _fingerprint(catalog, victim)
    if not cross_device:  # one apply at a time: a second one is refused while the first holds it
        plan_id = _approved_plan(catalog, run.run_id)
        _take_lease(catalog, plan_id, "another-process")
        with pytest.raises(InputError, match="being applied by another process"):
            apply_plan(catalog, plan_id, principal=APPROVER)
        _release_lease(catalog, plan_id, "another-process")
        apply_plan(catalog, plan_id, principal=APPROVER)
        restore_dataset(catalog, victim, principal=APPROVER)
    # A crashed apply holds its lease until it ends; let it end at once so the test resumes.
    monkeypatch.setenv("LAKEWARD_DEDUP_APPLY_LEASE_S", "0")
    for step in steps:
        plan_id = _approved_plan(catalog, run.run_id)

        def crash(at: str, dataset: str, step: str = step) -> None:
            if at == step and dataset == victim:
                raise Crash(step)

        with pytest.raises(Crash):
            apply_plan(catalog, plan_id, principal=APPROVER, fault=crash)
        item = _items(catalog, plan_id)[victim]
        source = _path(root, victim)
        copy = Path(item.quarantine_uri) if item.quarantine_uri else None
        has_recipe = item.recipe is not None and item.state != "planned"
        # Never neither: the original is intact, or a verified recipe (and a copy) exists.
        assert source.exists() or (has_recipe and copy is not None and copy.exists()), step
        report = apply_plan(catalog, plan_id, principal=APPROVER)  # resumes
        assert {d["dataset"]: d["state"] for d in report.items}[victim] == "quarantined"
        assert not source.exists() and not Path(str(copy) + ".partial").exists()
        restore_dataset(catalog, victim, principal=APPROVER)
        assert _fingerprint(catalog, victim) == original, step
        with catalog.session() as s:
            assert s.get(DeletionPlan, plan_id).state == "applied"  # type: ignore[union-attr]
    if cross_device:
        shutil.rmtree(os.environ["LAKEWARD_DEDUP_QUARANTINE_DIR"], ignore_errors=True)


def test_a_dataset_changed_after_the_proposal_is_skipped(
    lake: tuple[Catalog, Path], tmp_path: Path
) -> None:
    catalog, root = lake
    run = find_containment(catalog, names=["base.people_paris", "copies.people_parts"])
    plan_id = _approved_plan(catalog, run.run_id)
    path = _path(root, "base.people_paris")
    saved = tmp_path / "paris.parquet"
    shutil.copy2(path, saved)
    table = pq.read_table(path)
    pq.write_table(table.slice(0, table.num_rows - 1), path)
    try:
        report = apply_plan(catalog, plan_id, principal=APPROVER)
        item = {d["dataset"]: d for d in report.items}["base.people_paris"]
        assert item["state"] == "skipped" and "changed" in item["error"]
        assert path.exists()
    finally:
        shutil.copy2(saved, path)


def test_cli_apply_is_a_dry_run_without_yes(lake: tuple[Catalog, Path]) -> None:
    from lakeward.cli.dedup import dedup

    catalog, root = lake
    run = find_containment(catalog, names=["base.people_paris", "copies.people_parts"])
    runner = CliRunner()
    proposed = runner.invoke(dedup, ["propose", "--run", str(run.run_id), "--json"])
    assert proposed.exit_code == 0, proposed.output
    plan_id = __import__("json").loads(proposed.stdout)["plan"]
    self_approval = runner.invoke(dedup, ["approve", str(plan_id), "--principal", PROPOSER])
    assert isinstance(self_approval.exception, PolicyDenied)  # `lakeward` maps it to exit 1
    assert runner.invoke(dedup, ["approve", str(plan_id), "--principal", APPROVER]).exit_code == 0
    dry = runner.invoke(dedup, ["apply", str(plan_id), "--principal", APPROVER])
    assert dry.exit_code == 0 and "dry run" in dry.stdout
    assert _path(root, "base.people_paris").exists()


def test_a_parent_that_recipes_depend_on_is_never_deleted(lake: tuple[Catalog, Path]) -> None:
    from lakeward.policy import Approvals, engine_for

    catalog, root = lake
    run = find_containment(catalog, names=["base.people_paris", "copies.people_parts"])
    plan_id = _approved_plan(catalog, run.run_id)
    apply_plan(catalog, plan_id, principal=APPROVER)
    recipe = _items(catalog, plan_id)["base.people_paris"].recipe
    assert recipe is not None and recipe["parent"] == "copies.people_parts"
    assert "copies.people_parts" not in {c.dataset for c in compute_plan(catalog).result.choices}
    # A plan made elsewhere (or before the recipe existed) that deletes the parent anyway:
    with catalog.session() as s:
        repo = DatasetRepository(s)
        parent, other = repo.require("copies.people_parts"), repo.require("base.people")
        plan = DeletionPlan(
            state="proposed",
            proposed_by=PROPOSER,
            purpose="data_governance",
            solver="milp",
            bytes_reclaimed=parent.bytes,
            summary={},
        )
        plan.items.append(
            DeletionItem(
                dataset_id=parent.id,
                parent_id=other.id,
                dataset_version=parent.current_version,
                parent_version=other.current_version,
                column_map={},
                bytes=parent.bytes,
                access_per_month=0.0,
                reconstruct_s=5.0,
                state="planned",
                original_uri=parent.uri,
            )
        )
        s.add(plan)
        s.flush()
        rogue = plan.id
    approval = Approvals(engine_for(catalog)).request(
        "dedup.delete",
        "dataset:copies.people_parts",
        PROPOSER,
        {"plan_id": rogue, "purpose": "data_governance"},
    )
    with catalog.session() as s:
        s.get(DeletionPlan, rogue).approval_id = approval.id  # type: ignore[union-attr]
    approve_plan(catalog, rogue, principal=APPROVER)
    report = apply_plan(catalog, rogue, principal=APPROVER)
    item = report.items[0]
    assert (
        item["state"] == "skipped" and "recipes of base.people_paris depend on it" in item["error"]
    )
    assert _path(root, "copies.people_parts").exists()
    restore_dataset(catalog, "base.people_paris", principal=APPROVER)
