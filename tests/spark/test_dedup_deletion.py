"""Reversible deletion on a small lake: propose → two-person approve → apply → purge / restore /
reconstruct, and the faults: a crash between every step of apply and of restore
(in-process), a second apply, an apply that lost its lease, an approval by the proposer or
not recorded on the plan, a dataset changed after the proposal or after a crash, a purge
racing a restore, a parent changed or deleted after its child was quarantined, two plans
taking a child and its parent, a recipe that can no longer rebuild its child."""

from __future__ import annotations

import dataclasses
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
from sqlalchemy import select, update

from lakeward.catalog import AuditRecord, Catalog, DatasetRepository, DeletionItem, DeletionPlan
from lakeward.dedup import (
    _deletion,
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
from lakeward.dedup._deletion import _partial, _release_lease, _take_lease
from lakeward.dedup._fingerprint import LakeKey
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
    fingerprints = Path(items["dupes.people_dupes"].recipe["fingerprints"]["path"])
    assert fingerprints.name.startswith(f"item-{items['dupes.people_dupes'].id}-")  # per attempt
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
    expected = {"intent": "verified", "move": "quarantining", "commit": "quarantining"}
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
        assert item.state == expected.get(step, "quarantining" if cross_device else "planned")
        if item.state != "planned":  # a recipe is stored only once verified
            assert item.recipe is not None and item.verified_at is not None, step
        # Never neither: the original is intact, or a verified recipe (and a copy) exists.
        assert source.exists() or (item.recipe is not None and copy and copy.exists()), step
        if step == "move.copied":  # a half-made copy lies beside its target, never at it
            assert copy is not None and _partial(copy).exists() and not copy.exists()
        report = apply_plan(catalog, plan_id, principal=APPROVER)  # resumes
        assert {d["dataset"]: d["state"] for d in report.items}[victim] == "quarantined"
        copy = Path(_items(catalog, plan_id)[victim].quarantine_uri or "")
        assert not source.exists() and copy.exists() and not _partial(copy).exists()
        if cross_device:  # a restore that crashes the same way is finished by the next one
            with pytest.raises(Crash):
                restore_dataset(catalog, victim, principal=APPROVER, fault=crash)
            assert _items(catalog, plan_id)[victim].state == "restoring"
            back = restore_dataset(catalog, victim, principal=APPROVER)
            assert back["how"] == "resumed: moved back from quarantine", step
            assert not copy.exists() and not _partial(source).exists()
        else:
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
    from lakeward.identity import Principal, acting_as

    catalog, root = lake
    run = find_containment(catalog, names=["base.people_paris", "copies.people_parts"])
    runner = CliRunner()
    proposed = runner.invoke(dedup, ["propose", "--run", str(run.run_id), "--json"])
    assert proposed.exit_code == 0, proposed.output
    plan_id = __import__("json").loads(proposed.stdout)["plan"]

    def as_(who: str, args: list[str]) -> Any:
        with acting_as(Principal(who, authenticated_by="test")):
            return runner.invoke(dedup, args)

    self_approval = as_(PROPOSER, ["approve", str(plan_id)])
    assert isinstance(self_approval.exception, PolicyDenied)  # `lakeward` maps it to exit 1
    assert "cannot also decide" in str(self_approval.exception)
    approved = as_(APPROVER, ["approve", str(plan_id)])
    assert approved.exit_code == 0 and f"approved by {APPROVER}" in approved.stdout
    dry = as_(APPROVER, ["apply", str(plan_id)])
    assert dry.exit_code == 0 and "dry run" in dry.stdout
    assert _path(root, "base.people_paris").exists()


def _crash_at(step: str, victim: str) -> Any:
    def crash(at: str, dataset: str) -> None:
        if at == step and dataset == victim:
            raise Crash(step)

    return crash


def _no_pending_plans(catalog: Catalog) -> None:
    """Earlier tests may leave approved plans that a new proposal would reuse."""
    with catalog.session() as s:
        s.execute(
            update(DeletionPlan)
            .where(DeletionPlan.state.in_(("proposed", "approved")))
            .values(state="superseded")
        )


LATER = dt.datetime.now(dt.UTC) + dt.timedelta(days=31)  # past the retention window
PARIS, PARTS = "base.people_paris", "copies.people_parts"


def test_restore_claims_the_dataset_and_finishes_after_a_crash(
    lake: tuple[Catalog, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog, root = lake
    monkeypatch.setenv("LAKEWARD_DEDUP_APPLY_LEASE_S", "0")  # crashed applies hold no lease
    run = find_containment(catalog, names=[PARIS, PARTS])
    original, source = _fingerprint(catalog, PARIS), _path(root, PARIS)
    plan_id = _approved_plan(catalog, run.run_id)
    apply_plan(catalog, plan_id, principal=APPROVER)
    copy = Path(_items(catalog, plan_id)[PARIS].quarantine_uri or "")

    # A purge running while a restore moves the copy back never deletes it.
    def purge_meanwhile(step: str, dataset: str) -> None:
        if step == "restore.move":
            outcome = purge_quarantine(catalog, principal=APPROVER, now=LATER, dry_run=False)
            assert PARIS not in outcome["purged"] and copy.exists()

    restored = restore_dataset(catalog, PARIS, principal=APPROVER, fault=purge_meanwhile)
    assert restored["how"] == "moved back from quarantine"
    assert _fingerprint(catalog, PARIS) == original

    # Files back, state not yet committed: purge keeps away, the next restore finishes.
    plan_id = _approved_plan(catalog, run.run_id)
    apply_plan(catalog, plan_id, principal=APPROVER)
    with pytest.raises(Crash):
        restore_dataset(
            catalog, PARIS, principal=APPROVER, fault=_crash_at("restore.commit", PARIS)
        )
    assert _items(catalog, plan_id)[PARIS].state == "restoring" and source.exists()
    assert purge_quarantine(catalog, principal=APPROVER, now=LATER, dry_run=False)["purged"] == []
    again = restore_dataset(catalog, PARIS, principal=APPROVER)
    assert again["how"] == "resumed: moved back from quarantine"
    assert _fingerprint(catalog, PARIS) == original

    # Apply stopped after the move; other files now at the original path: the copy is kept.
    plan_id = _approved_plan(catalog, run.run_id)
    with pytest.raises(Crash):
        apply_plan(catalog, plan_id, principal=APPROVER, fault=_crash_at("commit", PARIS))
    copy = Path(_items(catalog, plan_id)[PARIS].quarantine_uri or "")
    assert copy.exists() and not source.exists()
    shutil.copy2(_path(root, "dupes.people_dupes"), source)
    with pytest.raises(InputError, match="holds files other than"):
        restore_dataset(catalog, PARIS, principal=APPROVER)
    assert copy.exists() and _items(catalog, plan_id)[PARIS].state == "quarantining"
    source.unlink()
    assert restore_dataset(catalog, PARIS, principal=APPROVER)["how"] == (
        "moved back from quarantine"
    )
    assert _fingerprint(catalog, PARIS) == original

    # Purged, rebuilt into place, crash before the commit: recognised by its content.
    plan_id = _approved_plan(catalog, run.run_id)
    apply_plan(catalog, plan_id, principal=APPROVER)
    assert purge_quarantine(catalog, principal=APPROVER, now=LATER, dry_run=False)["purged"] == [
        PARIS
    ]
    with pytest.raises(Crash):
        restore_dataset(
            catalog, PARIS, principal=APPROVER, fault=_crash_at("restore.commit", PARIS)
        )
    assert source.exists()
    again = restore_dataset(catalog, PARIS, principal=APPROVER)
    assert again["how"] == "resumed: finished an interrupted restore (content verified)"
    profile_datasets(catalog, names=[PARIS])  # new files
    assert _fingerprint(catalog, PARIS) == original


def test_a_resumed_apply_never_moves_files_written_after_a_crash(
    lake: tuple[Catalog, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    catalog, root = lake
    monkeypatch.setenv("LAKEWARD_DEDUP_APPLY_LEASE_S", "0")
    run = find_containment(catalog, names=[PARIS, PARTS])
    source = _path(root, PARIS)
    plan_id = _approved_plan(catalog, run.run_id)
    with pytest.raises(Crash):
        apply_plan(catalog, plan_id, principal=APPROVER, fault=_crash_at("move", PARIS))
    item = _items(catalog, plan_id)[PARIS]
    assert item.state == "quarantining"
    saved = tmp_path / "paris.parquet"
    shutil.copy2(source, saved)
    table = pq.read_table(source)
    pq.write_table(table.slice(0, table.num_rows - 1), source)  # written anew after the crash
    try:
        report = apply_plan(catalog, plan_id, principal=APPROVER)
        got = {d["dataset"]: d for d in report.items}[PARIS]
        assert got["state"] == "skipped" and "changed after the recipe was verified" in got["error"]
        assert pq.read_table(source).num_rows == table.num_rows - 1
        assert not Path(item.quarantine_uri or "").exists()
    finally:
        shutil.copy2(saved, source)  # same bytes and mtime: the profiled signature again


def test_an_apply_that_lost_its_lease_stops(
    lake: tuple[Catalog, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog, root = lake
    monkeypatch.setenv("LAKEWARD_DEDUP_APPLY_LEASE_S", "0")  # it ends at once: others may take it
    run = find_containment(catalog, names=[PARIS, PARTS])
    source = _path(root, PARIS)
    plan_id = _approved_plan(catalog, run.run_id)

    def steal_at(step: str) -> Any:
        def steal(at: str, dataset: str) -> None:
            if at == step and dataset == PARIS:
                _take_lease(catalog, plan_id, "another-apply")

        return steal

    with pytest.raises(InputError, match="lost its lease"):  # before storing the recipe
        apply_plan(catalog, plan_id, principal=APPROVER, fault=steal_at("store"))
    assert _items(catalog, plan_id)[PARIS].state == "planned"
    with pytest.raises(InputError, match="lost its lease"):  # before moving the files
        apply_plan(catalog, plan_id, principal=APPROVER, fault=steal_at("move"))
    assert _items(catalog, plan_id)[PARIS].state == "quarantining" and source.exists()
    report = apply_plan(catalog, plan_id, principal=APPROVER)
    assert {d["dataset"]: d["state"] for d in report.items}[PARIS] == "quarantined"
    restore_dataset(catalog, PARIS, principal=APPROVER)


def test_purge_keeps_a_copy_its_recipe_cannot_rebuild(
    lake: tuple[Catalog, Path], tmp_path: Path
) -> None:
    catalog, root = lake
    dupes = "dupes.people_dupes"
    run = find_containment(catalog, names=[dupes, "base.people"])
    original = _fingerprint(catalog, dupes)
    plan_id = _approved_plan(catalog, run.run_id)
    apply_plan(catalog, plan_id, principal=APPROVER)
    item = _items(catalog, plan_id)[dupes]
    assert item.recipe is not None and item.recipe["kind"] == "fingerprints"
    copy = Path(item.quarantine_uri or "")

    def purge(**kw: Any) -> dict[str, Any]:
        return purge_quarantine(catalog, principal=APPROVER, now=LATER, dry_run=False, **kw)

    stored = Path(item.recipe["fingerprints"]["path"]) / "fingerprints.parquet"
    stored.rename(tmp_path / "fp.parquet")  # the fingerprint file is lost
    assert "fingerprint file" in purge()["refused"][dupes]
    (tmp_path / "fp.parquet").rename(stored)
    with pytest.MonkeyPatch.context() as mp:  # the lake key was changed
        mp.setattr(_deletion, "current_key", lambda: LakeKey(b"another lake key, 32 bytes long"))
        assert "lake key" in purge()["refused"][dupes]

    def hold_meanwhile(step: str, dataset: str) -> None:  # held between check and claim
        if step == "purge.claim":
            set_hold(catalog, dupes, True, principal=APPROVER)

    outcome = purge(fault=hold_meanwhile)
    assert outcome["purged"] == [] and dupes in outcome["waiting"] and copy.exists()
    set_hold(catalog, dupes, False, principal=APPROVER)
    parent = _path(root, item.recipe["parent"])
    parent.rename(tmp_path / parent.name)  # the parent is deleted (outside dedup)
    try:
        assert "is gone" in purge()["refused"][dupes] and copy.exists()
        assert restore_dataset(catalog, dupes, principal=APPROVER)["how"] == (
            "moved back from quarantine"
        )
    finally:
        (tmp_path / parent.name).rename(parent)
    assert _fingerprint(catalog, dupes) == original


def test_a_child_and_the_parent_its_recipe_needs_never_both_go(
    lake: tuple[Catalog, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog, root = lake
    _no_pending_plans(catalog)
    parent = "base.people"  # PARIS is rebuilt from it; it from PARTS
    run_child = find_containment(catalog, names=[PARIS, parent])
    run_parent = find_containment(catalog, names=[PARTS, parent])
    assert [c.dataset for c in compute_plan(catalog, run_id=run_parent.run_id).result.choices] == [
        parent
    ]
    originals = {n: _fingerprint(catalog, n) for n in (PARIS, parent)}

    def plans() -> tuple[int, int]:  # both proposed and approved before either is applied
        return _approved_plan(catalog, run_child.run_id), _approved_plan(catalog, run_parent.run_id)

    # The parent's apply checked it before the child's recipe existed; the move is re-checked.
    child_plan, parent_plan = plans()

    def child_applied_meanwhile(step: str, dataset: str) -> None:
        if step == "intent" and dataset == parent:
            apply_plan(catalog, child_plan, principal=APPROVER)

    report = apply_plan(catalog, parent_plan, principal=APPROVER, fault=child_applied_meanwhile)
    got = report.items[0]
    assert got["state"] == "skipped" and f"recipes of {PARIS} depend on it" in got["error"]
    assert (
        _items(catalog, child_plan)[PARIS].state == "quarantined" and _path(root, parent).exists()
    )

    # Rebuilding needs unmasked reads of both datasets' content.
    from lakeward.policy import PolicyEngine

    enforce = PolicyEngine.enforce

    def masking(self: Any, principal: str, action: str, *args: Any, **kw: Any) -> Any:
        decision = enforce(self, principal, action, *args, **kw)
        if action == "lake.read_content":
            decision = dataclasses.replace(decision, obligations=("mask:name",))
        return decision

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(PolicyEngine, "enforce", masking)
        with pytest.raises(PolicyDenied, match="masked"):
            reconstruct_dataset(catalog, PARIS, root.parent / "out", principal=APPROVER)

    # Purge: a quarantined parent that a recipe needs is kept, and so is its child.
    parent_item = _items(catalog, parent_plan)[parent]
    assert parent_item.recipe is not None
    target = _deletion._quarantine_root() / f"plan-{parent_plan}" / parent_item.recipe["relpath"]
    target.parent.mkdir(parents=True, exist_ok=True)
    _path(root, parent).rename(target)  # as an older apply would have left it
    with catalog.session() as s:
        s.execute(
            update(DeletionItem)
            .where(DeletionItem.id == parent_item.id)
            .values(state="quarantined", quarantine_uri=str(target), purge_after=None, error=None)
        )
    outcome = purge_quarantine(catalog, principal=APPROVER, now=LATER, dry_run=False)
    assert outcome["purged"] == []
    assert f"recipes of {PARIS} rebuild from it" in outcome["refused"][parent]
    assert f"its recipe parent {parent} was deleted by dedup" in outcome["refused"][PARIS]
    for name in (parent, PARIS):
        assert restore_dataset(catalog, name, principal=APPROVER)["how"] == (
            "moved back from quarantine"
        )
        assert _fingerprint(catalog, name) == originals[name]

    # The child's apply checked its parent before the parent's plan took it away.
    child_plan, parent_plan = plans()

    def parent_applied_meanwhile(step: str, dataset: str) -> None:
        if step == "store" and dataset == PARIS:
            apply_plan(catalog, parent_plan, principal=APPROVER)

    report = apply_plan(catalog, child_plan, principal=APPROVER, fault=parent_applied_meanwhile)
    got = report.items[0]
    assert (
        got["state"] == "skipped" and f"recipe parent {parent} changed or is gone" in got["error"]
    )
    assert _items(catalog, parent_plan)[parent].state == "quarantined"
    assert _path(root, PARIS).exists()
    restore_dataset(catalog, parent, principal=APPROVER)
    assert _fingerprint(catalog, parent) == originals[parent]


def test_apply_needs_a_recorded_approval_and_denies_are_audited(
    lake: tuple[Catalog, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import lakeward.policy
    from lakeward.policy import Approvals, PolicyBundleError, engine_for

    catalog, root = lake
    _no_pending_plans(catalog)
    run = find_containment(catalog, names=[PARIS, PARTS])
    proposal = propose_plan(catalog, principal=PROPOSER, run_id=run.run_id)
    plan_id, approval_id = proposal.plan_id, proposal.approval_id
    assert plan_id is not None and approval_id is not None and not proposal.reused

    def denies(action: str) -> list[AuditRecord]:
        with catalog.session() as s:
            return list(
                s.scalars(
                    select(AuditRecord).where(
                        AuditRecord.action == action,
                        AuditRecord.decision == "deny",
                        AuditRecord.resource == f"dataset:{PARIS}",
                    )
                )
            )

    before = len(denies("dedup.delete"))
    with pytest.raises(PolicyDenied, match="is not approved"):
        apply_plan(catalog, plan_id, principal=APPROVER)
    # Approved outside `dedup approve` (e.g. `lakeward policy approval approve`): not yet usable.
    Approvals(engine_for(catalog)).approve(approval_id, APPROVER)
    with pytest.raises(PolicyDenied, match="not recorded on the plan"):
        apply_plan(catalog, plan_id, principal=APPROVER)
    assert len(denies("dedup.delete")) == before + 2
    recorded = approve_plan(catalog, plan_id, principal=APPROVER)
    assert recorded["by"] == APPROVER and recorded["recorded"] and recorded["state"] == "approved"

    # A policy bundle that cannot be loaded denies, on the record.
    def broken(catalog: Catalog) -> Any:
        raise PolicyBundleError(["policies/dedup.cedar:1: unexpected token"])

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(lakeward.policy, "engine_for", broken)
        with pytest.raises(PolicyDenied, match="policy bundle unavailable"):
            apply_plan(catalog, plan_id, principal=APPROVER)
    assert any("policy bundle unavailable" in r.reasons[0] for r in denies("dedup.delete"))

    # A dataset off the local filesystem is refused up front, and the plan is not left stuck.
    with catalog.session() as s:
        s.execute(
            update(DeletionItem)
            .where(DeletionItem.plan_id == plan_id)
            .values(original_uri="s3://lake/base/people_paris.parquet")
        )
    report = apply_plan(catalog, plan_id, principal=APPROVER)
    got = {d["dataset"]: d for d in report.items}[PARIS]
    assert got["state"] == "skipped" and "not on a local filesystem" in got["error"]
    assert report.state == "applied" and _path(root, PARIS).exists()
