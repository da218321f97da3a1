"""Reversible deletion: propose → two-person approve → apply → purge / restore / reconstruct.

- **propose** plans deletions from the latest containment run (see ``_plan``), checks
  ``dedup.propose`` on every dataset, stores the plan and opens a two-person approval.
  Re-proposing the same plan returns the pending one; a different plan supersedes pending
  plans it overlaps.
- **approve** (or reject) needs ``dedup.approve`` on every dataset and a principal other than
  the proposer.
- **apply** consumes the approval once, checks ``dedup.delete`` (approved) per dataset, then
  takes each dataset through ``planned → verified → quarantining → quarantined``:
  freshness check (never act on changed files or on a parent that is itself going away or
  that recipes depend on) → recipe built and *verified* against the child's content
  fingerprint → recipe stored → move intended → files moved to the quarantine area → done.
  Each step is committed before the next begins, so a crash anywhere leaves the original
  files or a verified recipe (and the quarantined copy), never neither; running apply again
  resumes where it stopped, and an applied plan is never applied twice. One apply works on a
  plan at a time (a lease in the catalog, renewed per dataset, ``LAKEWARD_DEDUP_APPLY_LEASE_S``).
- **purge** deletes quarantined copies past the retention window, unless on hold, and only
  while the recipe's parent is present and unchanged (else the copy is the only safe way
  back and is kept). A dataset is claimed (``purging``) before its copy is deleted, so a
  restore never races a purge, and an interrupted purge is finished by the next one.
- **restore** puts a dataset back (moving the quarantined copy, or rebuilding from the
  recipe once purged); **reconstruct** rebuilds it anywhere on demand. Both verify content.

Quarantine and restore work on local lake roots (moves are renames within one filesystem,
or copy → fsync → rename → delete across filesystems).
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update

from lakeward.catalog import (
    AuditRecord,
    Catalog,
    Dataset,
    DatasetRepository,
    DeletionItem,
    DeletionPlan,
)
from lakeward.catalog._models import utcnow
from lakeward.dedup._find import (
    ACTIVE_STATES,
    DEFAULT_PRINCIPAL,
    DEFAULT_PURPOSE,
    current_key,
    dataset_names,
    load_datasets,
    run_edges,
)
from lakeward.dedup._plan import CostModel, Edge, PlanResult, solve_plan
from lakeward.dedup._recipe import ChildChanged
from lakeward.dedup._schema import DatasetInfo, pair_columns
from lakeward.errors import CheckFailed, InputError, LakeError, NotFound, PolicyDenied

__all__ = [
    "ApplyReport",
    "Fault",
    "Proposal",
    "apply_plan",
    "approve_plan",
    "compute_plan",
    "dedup_status",
    "propose_plan",
    "purge_quarantine",
    "reconstruct_dataset",
    "restore_dataset",
    "set_hold",
]

Fault = Callable[[str, str], None]
"""A test hook called as ``fault(step, dataset)`` before each step of apply/purge/restore."""

PENDING = ("proposed", "approved")
_MAINTENANCE_PURPOSES = ("catalog_maintenance", "data_governance")


def _settings() -> Any:
    from lakeward.settings import get_settings

    return get_settings()


def _costs() -> CostModel:
    d = _settings().dedup
    return CostModel(
        storage_usd_per_gb_month=d.storage_usd_per_gb_month,
        compute_usd_per_hour=d.compute_usd_per_hour,
        scan_mb_per_s=d.scan_mb_per_s,
        overhead_s=d.reconstruct_overhead_s,
        max_reconstruct_s=d.max_reconstruct_s,
    )


def _quarantine_root() -> Path:
    s = _settings()
    root: Path = s.dedup.quarantine_dir or s.home / "quarantine"
    return root.expanduser().resolve()


def _recipes_root() -> Path:
    s = _settings()
    root: Path = s.dedup.recipes_dir or s.home / "dedup" / "recipes"
    return root.expanduser().resolve()


def _engine(catalog: Catalog) -> Any:
    from lakeward.policy import engine_for

    return engine_for(catalog)


def _enforce_all(
    catalog: Catalog,
    principal: str,
    action: str,
    names: Iterable[str],
    context: dict[str, Any],
) -> None:
    engine = _engine(catalog)
    for name in names:
        engine.enforce(principal, action, f"dataset:{name}", context)


# -- access frequency and planning ----------------------------------------------------------


def access_per_month(catalog: Catalog, window_days: float) -> dict[str, float]:
    """Audited content reads per dataset per 30 days (profiling and dedup reads excluded)."""
    since = utcnow() - timedelta(days=window_days)
    with catalog.session() as session:
        rows = session.execute(
            select(AuditRecord.resource, func.count())
            .where(
                AuditRecord.action == "lake.read_content",
                AuditRecord.decision == "allow",
                AuditRecord.at >= since,
                (AuditRecord.purpose.is_(None))
                | (AuditRecord.purpose.notin_(_MAINTENANCE_PURPOSES)),
            )
            .group_by(AuditRecord.resource)
        ).all()
    scale = 30.0 / window_days
    return {resource.removeprefix("dataset:"): count * scale for resource, count in rows}


def _recipe_parents(catalog: Catalog) -> dict[int, list[str]]:
    """Parent dataset id → datasets whose recipes (in force) depend on it."""
    with catalog.session() as session:
        rows = session.execute(
            select(DeletionItem.parent_id, Dataset.name)
            .join(Dataset, Dataset.id == DeletionItem.dataset_id)
            .where(DeletionItem.state.in_(("verified", *ACTIVE_STATES)))
        ).all()
    found: dict[int, list[str]] = {}
    for parent_id, name in rows:
        found.setdefault(parent_id, []).append(name)
    return found


@dataclass
class Proposal:
    """A computed deletion plan (and, once proposed, its stored plan and approval)."""

    run_id: int
    result: PlanResult
    stale: dict[str, str]
    plan_id: int | None = None
    approval_id: int | None = None
    reused: bool = False
    superseded: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {
            "run": self.run_id,
            "plan": self.plan_id,
            "approval": self.approval_id,
            "reused": self.reused,
            "superseded": self.superseded,
            "stale": self.stale,
            **self.result.to_dict(),
        }


def compute_plan(
    catalog: Catalog,
    *,
    run_id: int | None = None,
    costs: CostModel | None = None,
    access: dict[str, float] | None = None,
    force_solver: str | None = None,
) -> Proposal:
    """Plan deletions from a containment run's contained edges (a dry run: nothing stored).

    Edges whose datasets changed since the run, datasets already deleted, and parents that
    recipes depend on are left out (``stale`` / ``excluded`` say why).
    """
    settings = _settings()
    run, edges = run_edges(catalog, run_id, status="contained")
    infos = {d.name: d for d in load_datasets(catalog)}
    stale: dict[str, str] = {}
    usable: list[Edge] = []
    if access is None:
        access = access_per_month(catalog, settings.dedup.access_window_days)
    for e in edges:
        child, parent = infos.get(e["child"]), infos.get(e["parent"])
        if child is None or parent is None:
            gone = e["child"] if child is None else e["parent"]
            stale.setdefault(e["child"], f"{gone} is deleted or no longer profiled")
            continue
        if child.version != e["child_version"] or parent.version != e["parent_version"]:
            stale.setdefault(
                e["child"],
                f"{e['child']} or {e['parent']} was re-profiled since run #{run.id}; "
                "run `lakeward dedup find` again",
            )
            continue
        usable.append(
            Edge(child.name, parent.name, child.bytes, parent.bytes, access.get(child.name, 0.0))
        )
    names = {d.id: d.name for d in infos.values()}
    protected = {names[i] for i in _recipe_parents(catalog) if i in names}
    result = solve_plan(
        usable,
        costs or _costs(),
        protected=protected,
        milp_max_edges=settings.dedup.milp_max_edges,
        time_limit_s=settings.dedup.milp_time_limit_s,
        force=force_solver,
    )
    return Proposal(run.id, result, stale)


def propose_plan(
    catalog: Catalog,
    *,
    principal: str = DEFAULT_PRINCIPAL,
    purpose: str = DEFAULT_PURPOSE,
    run_id: int | None = None,
    costs: CostModel | None = None,
    access: dict[str, float] | None = None,
) -> Proposal:
    """Store the current deletion plan as a proposal and request its two-person approval.

    Raises:
        PolicyDenied: ``dedup.propose`` is denied on one of the datasets (nothing stored).
    """
    from lakeward.policy import Approvals

    proposal = compute_plan(catalog, run_id=run_id, costs=costs, access=access)
    choices = proposal.result.choices
    if not choices:
        return proposal
    _enforce_all(
        catalog, principal, "dedup.propose", [c.dataset for c in choices], {"purpose": purpose}
    )
    infos = {d.name: d for d in load_datasets(catalog)}
    wanted = {(infos[c.dataset].id, infos[c.dataset].version, infos[c.parent].id) for c in choices}
    with catalog.session(immediate=True) as session:
        pending = list(session.scalars(select(DeletionPlan).where(DeletionPlan.state.in_(PENDING))))
        same: DeletionPlan | None = None
        deleting = {dataset for dataset, _, _ in wanted}
        for plan in pending:
            have = {(i.dataset_id, i.dataset_version, i.parent_id) for i in plan.items}
            if have == wanted and same is None:
                same = plan
            elif {dataset for dataset, _, _ in have} & deleting:
                plan.state = "superseded"  # an older, overlapping plan must never be applied
                proposal.superseded.append(plan.id)
        if same is not None:
            proposal.plan_id, proposal.approval_id = same.id, same.approval_id
            proposal.reused = True
        else:
            plan = DeletionPlan(
                run_id=proposal.run_id,
                state="proposed",
                proposed_by=principal,
                purpose=purpose,
                proposed_at=utcnow(),
                solver=proposal.result.solver,
                bytes_reclaimed=proposal.result.bytes_reclaimed,
                summary={k: v for k, v in proposal.result.to_dict().items() if k != "datasets"},
            )
            for c in choices:
                child, parent = infos[c.dataset], infos[c.parent]
                pairs = pair_columns(child, parent)
                if pairs is None:  # the edge came from these very schemas
                    raise InputError(f"{c.dataset} no longer fits {c.parent}; run find again")
                plan.items.append(
                    DeletionItem(
                        dataset_id=child.id,
                        parent_id=parent.id,
                        dataset_version=child.version,
                        parent_version=parent.version,
                        column_map={p.child: p.parent for p in pairs},
                        bytes=child.bytes,
                        access_per_month=c.access_per_month,
                        reconstruct_s=c.rebuild_s,
                        state="planned",
                        original_uri=_dataset_uri(session, child.id),
                    )
                )
            session.add(plan)
            session.flush()
            proposal.plan_id = plan.id
    if proposal.approval_id is None:
        approval = Approvals(_engine(catalog)).request(
            "dedup.delete",
            f"dataset:{choices[0].dataset}",
            principal,
            {
                "plan_id": proposal.plan_id,
                "datasets": [c.dataset for c in choices],
                "purpose": purpose,
                "approve_action": "dedup.approve",
            },
        )
        with catalog.session(immediate=True) as session:
            stored = session.get(DeletionPlan, proposal.plan_id)
            assert stored is not None
            stored.approval_id = approval.id
        proposal.approval_id = approval.id
    return proposal


def _dataset_uri(session: Any, dataset_id: int) -> str:
    dataset = session.get(Dataset, dataset_id)
    assert dataset is not None
    return str(dataset.uri)


def _plan(catalog: Catalog, plan_id: int) -> tuple[DeletionPlan, dict[int, str]]:
    with catalog.session() as session:
        plan = session.get(DeletionPlan, plan_id)
        if plan is None:
            raise NotFound(f"No deletion plan #{plan_id}; list plans with `lakeward dedup status`.")
        _ = plan.items
        names = dataset_names(session)
        session.expunge_all()
    return plan, names


def approve_plan(
    catalog: Catalog,
    plan_id: int,
    *,
    principal: str,
    purpose: str = DEFAULT_PURPOSE,
    reason: str | None = None,
    reject: bool = False,
) -> dict[str, Any]:
    """Approve (or reject) a proposed plan as a second principal (approving twice is a no-op).

    Raises:
        PolicyDenied: the principal proposed the plan, or may not approve dedup deletions.
        InputError: the plan is not awaiting approval.
    """
    from lakeward.policy import Approvals

    plan, names = _plan(catalog, plan_id)
    approvals = Approvals(_engine(catalog))
    if plan.approval_id is None:
        raise InputError(f"Plan #{plan_id} has no approval request; propose it again.")
    approval = approvals.get(plan.approval_id)
    if plan.state == "approved" and not reject:
        return {"plan": plan_id, "state": "approved", "approval": plan.approval_id, "by": None}
    if plan.state == "proposed" and approval.state in ("approved", "rejected"):
        new_state = approval.state  # a decision recorded just before a crash: sync the plan
    else:
        if plan.state != "proposed":
            raise InputError(f"Plan #{plan_id} is {plan.state}, not awaiting approval.")
        _enforce_all(
            catalog,
            principal,
            "dedup.approve",
            [names[i.dataset_id] for i in plan.items],
            {"purpose": purpose},
        )
        if reject:
            approvals.reject(plan.approval_id, principal, reason)
            new_state = "rejected"
        else:
            approvals.approve(plan.approval_id, principal, reason)
            new_state = "approved"
    with catalog.session(immediate=True) as session:
        stored = session.get(DeletionPlan, plan_id)
        assert stored is not None
        stored.state = new_state
    return {"plan": plan_id, "state": new_state, "approval": plan.approval_id, "by": principal}


# -- apply ----------------------------------------------------------------------------------


@dataclass
class ApplyReport:
    """What apply did to each dataset of a plan."""

    plan_id: int
    state: str
    items: list[dict[str, Any]]
    already_applied: bool = False
    dry_run: bool = False
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {
            "plan": self.plan_id,
            "state": self.state,
            "already_applied": self.already_applied,
            "dry_run": self.dry_run,
            "seconds": round(self.seconds, 3),
            "datasets": self.items,
        }


def _dataset_path(uri: str) -> Path:
    if uri.startswith("file:"):
        from urllib.parse import unquote, urlparse

        return Path(unquote(urlparse(uri).path))
    if "://" in uri:
        raise InputError(
            f"{uri} is not on a local filesystem; reversible deletion (quarantine, restore) "
            "supports local lake roots only."
        )
    return Path(uri)


def _fsync_tree(path: Path) -> None:
    paths = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    for p in paths:
        fd = os.open(p, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _move(src: Path, dst: Path, fault: Fault | None, name: str) -> None:
    """Move ``src`` to ``dst`` so that one complete copy exists at every instant.

    Same filesystem: one rename. Otherwise: copy to ``dst.partial`` → fsync → rename to
    ``dst`` → delete ``src``. Safe to call again after a crash at any point.
    """
    partial = dst.with_name(dst.name + ".partial")
    if dst.exists():
        if src.exists():  # copied and renamed, original not yet deleted
            shutil.rmtree(src) if src.is_dir() else src.unlink()
        return
    if not src.exists():
        raise CheckFailed(f"{name}: neither {src} nor {dst} exists")
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.rename(src, dst)
        return
    except OSError as exc:
        import errno

        if exc.errno != errno.EXDEV:
            raise
    if partial.exists():
        shutil.rmtree(partial) if partial.is_dir() else partial.unlink()
    if src.is_dir():
        shutil.copytree(src, partial, copy_function=shutil.copy2)
    else:
        shutil.copy2(src, partial)
    _fsync_tree(partial)
    if fault:
        fault("move.copied", name)
    os.rename(partial, dst)
    if fault:
        fault("move.renamed", name)
    shutil.rmtree(src) if src.is_dir() else src.unlink()


def _take_lease(catalog: Catalog, plan_id: int, owner: str) -> None:
    """Hold the plan for this apply (atomically), or refuse if another apply holds it.

    Raises:
        InputError: another apply holds the plan's lease.
    """
    now = utcnow()
    until = now + timedelta(seconds=_settings().dedup.apply_lease_s)
    with catalog.session(immediate=True) as session:
        changed = session.execute(
            update(DeletionPlan)
            .where(
                DeletionPlan.id == plan_id,
                (DeletionPlan.lease_until.is_(None))
                | (DeletionPlan.lease_until < now)
                | (DeletionPlan.lease_owner == owner),
            )
            .values(lease_owner=owner, lease_until=until)
        ).rowcount  # type: ignore[attr-defined]
        if not changed:
            plan = session.get(DeletionPlan, plan_id)
            assert plan is not None
            raise InputError(
                f"Plan #{plan_id} is being applied by another process (lease held by "
                f"{plan.applied_by} until {plan.lease_until}); wait for it, or after a crash "
                "until the lease ends (LAKEWARD_DEDUP_APPLY_LEASE_S), then apply again."
            )


def _release_lease(catalog: Catalog, plan_id: int, owner: str) -> None:
    with catalog.session(immediate=True) as session:
        session.execute(
            update(DeletionPlan)
            .where(DeletionPlan.id == plan_id, DeletionPlan.lease_owner == owner)
            .values(lease_owner=None, lease_until=None)
        )


def _update_item(catalog: Catalog, item_id: int, **values: Any) -> None:
    with catalog.session(immediate=True) as session:
        item = session.get(DeletionItem, item_id)
        assert item is not None
        for k, v in values.items():
            setattr(item, k, v)


def _info(catalog: Catalog, name: str) -> DatasetInfo | None:
    try:
        return load_datasets(catalog, [name])[0]
    except NotFound:
        return None


def _signature_now(catalog: Catalog, name: str) -> str | None:
    from lakeward.lake import spec_for

    with catalog.session() as session:
        dataset = DatasetRepository(session).require(name)
        session.expunge(dataset)
    try:
        spec = spec_for(dataset)
    except LakeError:
        return None
    return spec.signature if spec.files else None


def _check_child(
    catalog: Catalog, item: DeletionItem, names: dict[int, str], dependants: dict[int, list[str]]
) -> DatasetInfo | str:
    """The child's current info, or why the item must not be applied."""
    name = names[item.dataset_id]
    child = _info(catalog, name)
    if child is None:
        return f"{name} is gone or deleted by dedup"
    if child.version != item.dataset_version:
        return "it was re-profiled after the plan; propose again"
    if _signature_now(catalog, name) != child.signature:
        return f"{name}'s files changed since it was profiled; re-profile and propose again"
    others = [n for n in dependants.get(child.id, []) if n != name]
    if others:
        return f"recipes of {', '.join(sorted(others))} depend on it"
    return child


def _parent_options(
    catalog: Catalog, plan: DeletionPlan, item: DeletionItem, names: dict[int, str]
) -> list[tuple[str, int]]:
    """(parent, version) to rebuild from: the planned one, then other kept contained parents.

    Another parent is tried when no recipe reproduces the child from the planned one (e.g. a
    match only after trimming spaces); it must not be deleted by this plan or earlier ones,
    and must be rebuildable within the latency bound.
    """
    options = [(names[item.parent_id], item.parent_version)]
    if plan.run_id is None:
        return options
    try:
        _, edges = run_edges(catalog, plan.run_id, status="contained")
    except NotFound:
        return options
    leaving = {names[i.dataset_id] for i in plan.items} | {names[i] for i in _gone_ids(catalog)}
    costs = _costs()
    infos = {d.name: d for d in load_datasets(catalog)}
    child = names[item.dataset_id]
    extra = sorted(
        (infos[e["parent"]].bytes, e["parent"], e["parent_version"])
        for e in edges
        if e["child"] == child
        and e["parent"] not in leaving
        and e["parent"] != options[0][0]
        and e["parent"] in infos
        and costs.rebuild_seconds(infos[e["parent"]].bytes) <= costs.max_reconstruct_s
    )
    return options + [(parent, version) for _, parent, version in extra]


def _apply_item(
    catalog: Catalog,
    plan: DeletionPlan,
    item: DeletionItem,
    names: dict[int, str],
    principal: str,
    purpose: str,
    fault: Fault | None,
) -> dict[str, Any]:
    from lakeward import spark as lakeward_spark
    from lakeward.dedup._recipe import build_recipe
    from lakeward.lake import spec_for

    name = names[item.dataset_id]
    state = item.state
    if state == "planned":
        if fault:
            fault("check", name)
        fresh = _check_child(catalog, item, names, _recipe_parents(catalog))
        if isinstance(fresh, str):
            _update_item(catalog, item.id, state="skipped", error=fresh)
            return {"dataset": name, "state": "skipped", "error": fresh}
        child = fresh
        engine = _engine(catalog)
        decision = engine.enforce(
            principal,
            "lake.read_content",
            f"dataset:{name}",
            {"purpose": purpose},
            columns=[c.name for c in child.columns],
        )
        masked = frozenset(o[5:] for o in decision.obligations if o.startswith("mask:"))
        if fault:
            fault("recipe", name)
        recipe: dict[str, Any] | None = None
        problems: list[str] = []
        for parent_name, version in _parent_options(catalog, plan, item, names):
            parent = _info(catalog, parent_name)
            if parent is None or parent.version != version:
                problems.append(f"{parent_name} is gone or was re-profiled")
                continue
            if _signature_now(catalog, parent_name) != parent.signature:
                problems.append(f"{parent_name}'s files changed since it was profiled")
                continue
            pairs = pair_columns(child, parent)
            if pairs is None:
                problems.append(f"{name} no longer fits {parent_name}")
                continue
            engine.enforce(
                principal, "lake.read_content", f"dataset:{parent_name}", {"purpose": purpose}
            )
            with catalog.session() as session:
                child_row = DatasetRepository(session).require(name)
                parent_row = DatasetRepository(session).require(parent_name)
                session.expunge_all()
            try:
                recipe = build_recipe(
                    lakeward_spark.session(),
                    child=child,
                    parent=parent,
                    child_spec=spec_for(child_row),
                    parent_spec=spec_for(parent_row),
                    pairs=pairs,
                    masked=masked,
                    key=current_key(),
                    recipes_dir=_recipes_root(),
                    item_id=item.id,
                )
                break
            except ChildChanged as exc:
                problems = [str(exc)]
                break
            except (CheckFailed, LakeError) as exc:
                problems.append(str(exc))
        if recipe is None:
            error = "; ".join(problems) or "no parent to rebuild it from"
            _update_item(catalog, item.id, state="skipped", error=error)
            return {"dataset": name, "state": "skipped", "error": error}
        if fault:
            fault("store", name)
        _update_item(
            catalog,
            item.id,
            state="verified",
            recipe=recipe,
            verified_at=utcnow(),
            parent_id=recipe["parent_id"],
            parent_version=recipe["parent_version"],
        )
        state = "verified"
    if state == "verified":
        if fault:
            fault("intent", name)
        with catalog.session() as session:
            stored = session.get(DeletionItem, item.id)
            assert stored is not None and stored.recipe is not None
            recipe = dict(stored.recipe)
        if _signature_now(catalog, name) != recipe["child_signature"]:
            error = f"{name}'s files changed after its recipe was verified; propose again"
            _update_item(catalog, item.id, state="skipped", error=error)
            return {"dataset": name, "state": "skipped", "error": error}
        target = _quarantine_root() / f"plan-{plan.id}" / recipe["relpath"]
        _update_item(catalog, item.id, state="quarantining", quarantine_uri=str(target))
        state = "quarantining"
    if state == "quarantining":
        with catalog.session() as session:
            stored = session.get(DeletionItem, item.id)
            assert stored is not None and stored.quarantine_uri is not None
            target = Path(stored.quarantine_uri)
        source = _dataset_path(item.original_uri)
        if fault:
            fault("move", name)
        note = None
        if not source.exists() and not target.exists():
            note = "files vanished during apply; the verified recipe rebuilds it"
        else:
            _move(source, target, fault, name)
        if fault:
            fault("commit", name)
        now = utcnow()
        days = _settings().dedup.retention_days
        _update_item(
            catalog,
            item.id,
            state="quarantined",
            quarantined_at=now,
            purge_after=now + timedelta(days=days),
            error=note,
        )
        state = "quarantined"
    return {"dataset": name, "state": state}


def apply_plan(
    catalog: Catalog,
    plan_id: int,
    *,
    principal: str,
    purpose: str = DEFAULT_PURPOSE,
    dry_run: bool = False,
    fault: Fault | None = None,
) -> ApplyReport:
    """Apply an approved plan (idempotent, resumable); see the module docstring.

    Raises:
        PolicyDenied: the plan is not approved, or ``dedup.delete`` is denied.
        NotFound: no such plan.
    """
    from lakeward.policy import Approvals

    started = time.perf_counter()
    plan, names = _plan(catalog, plan_id)
    if plan.state == "applied":
        items = [{"dataset": names[i.dataset_id], "state": i.state} for i in plan.items]
        return ApplyReport(plan_id, "applied", items, already_applied=True)
    if plan.state in ("rejected", "superseded"):
        raise PolicyDenied(
            f"Plan #{plan_id} is {plan.state}; it can never be applied. Propose again.",
            reasons=[f"plan is {plan.state}"],
        )
    approvals = Approvals(_engine(catalog))
    approval = approvals.get(plan.approval_id) if plan.approval_id is not None else None
    if plan.state != "applying":
        ok = approval is not None and (
            approval.state == "approved"
            or (approval.state == "consumed" and approval.details.get("plan_id") == plan_id)
        )
        if not ok:
            state = approval.state if approval is not None else "missing"
            raise PolicyDenied(
                f"Plan #{plan_id} is not approved (approval is {state}); a steward other than "
                f"{plan.proposed_by} must run `lakeward dedup approve {plan_id}` first.",
                reasons=[f"approval {state}"],
            )
    datasets = [names[i.dataset_id] for i in plan.items]
    _enforce_all(
        catalog, principal, "dedup.delete", datasets, {"purpose": purpose, "approved": True}
    )
    if dry_run:
        items = [
            {"dataset": names[i.dataset_id], "state": i.state, "parent": names[i.parent_id]}
            for i in plan.items
        ]
        return ApplyReport(plan_id, plan.state, items, dry_run=True)
    owner = uuid.uuid4().hex
    _take_lease(catalog, plan_id, owner)
    try:
        plan, names = _plan(catalog, plan_id)  # as it is now that we hold it
        if plan.state == "applied":
            items = [{"dataset": names[i.dataset_id], "state": i.state} for i in plan.items]
            return ApplyReport(plan_id, "applied", items, already_applied=True)
        if plan.state != "applying":
            assert approval is not None
            if approval.state == "approved":
                approvals.consume(approval.id, principal)
            with catalog.session(immediate=True) as session:
                stored = session.get(DeletionPlan, plan_id)
                assert stored is not None
                stored.state = "applying"
                stored.applied_by = principal
        results = []
        for item in plan.items:
            if item.state in ("quarantined", "purging", "purged", "restored", "skipped"):
                results.append({"dataset": names[item.dataset_id], "state": item.state})
                continue
            _take_lease(catalog, plan_id, owner)  # renew
            results.append(_apply_item(catalog, plan, item, names, principal, purpose, fault))
        with catalog.session(immediate=True) as session:
            stored = session.get(DeletionPlan, plan_id)
            assert stored is not None
            stored.state = "applied"
            stored.applied_at = utcnow()
    except Exception:
        _release_lease(catalog, plan_id, owner)  # a clean failure: another apply may resume
        raise
    _release_lease(catalog, plan_id, owner)
    return ApplyReport(plan_id, "applied", results, seconds=time.perf_counter() - started)


# -- after apply: purge, hold, restore, reconstruct ------------------------------------------


def _latest_item(catalog: Catalog, name: str, states: Iterable[str]) -> DeletionItem:
    with catalog.session() as session:
        dataset = DatasetRepository(session).require(name)
        item = session.scalar(
            select(DeletionItem)
            .where(DeletionItem.dataset_id == dataset.id, DeletionItem.state.in_(tuple(states)))
            .order_by(DeletionItem.id.desc())
            .limit(1)
        )
        if item is None:
            raise NotFound(
                f"{name} has no dedup deletion in states {sorted(states)}; see `lakeward dedup "
                "status`."
            )
        session.expunge(item)
    return item


def set_hold(
    catalog: Catalog,
    name: str,
    hold: bool,
    *,
    principal: str,
    purpose: str = DEFAULT_PURPOSE,
) -> dict[str, Any]:
    """Put a quarantined dataset on hold (never purged) or release the hold."""
    item = _latest_item(catalog, name, ("quarantining", "quarantined"))
    _enforce_all(catalog, principal, "dedup.restore", [name], {"purpose": purpose})
    _update_item(catalog, item.id, hold=hold)
    return {"dataset": name, "hold": hold}


def purge_quarantine(
    catalog: Catalog,
    *,
    principal: str,
    purpose: str = DEFAULT_PURPOSE,
    now: datetime | None = None,
    dry_run: bool = True,
    fault: Fault | None = None,
) -> dict[str, Any]:
    """Delete quarantined copies past retention (not on hold) whose recipe parent is intact.

    A dataset whose recipe parent was deleted or changed keeps its quarantined copy (it is
    the only safe way back) and is listed under ``refused``.
    """
    now = now or utcnow()
    with catalog.session() as session:
        items = list(
            session.scalars(
                select(DeletionItem).where(DeletionItem.state.in_(("quarantined", "purging")))
            )
        )
        names = dataset_names(session)
        session.expunge_all()
    gone = _gone_ids(catalog)
    purged: list[str] = []
    refused: dict[str, str] = {}
    waiting: dict[str, str] = {}
    for item in items:
        name = names[item.dataset_id]
        if item.state == "purging":  # an interrupted purge: finish it
            if not dry_run:
                _finish_purge(catalog, item, name, fault)
            purged.append(name)
            continue
        due = item.purge_after
        if due is not None and due.tzinfo is None:
            due = due.replace(tzinfo=now.tzinfo)
        if item.hold:
            waiting[name] = "on hold"
            continue
        if due is not None and due > now:
            waiting[name] = f"retained until {due.isoformat(timespec='seconds')}"
            continue
        recipe = item.recipe or {}
        parent = names[item.parent_id]
        if item.parent_id in gone:
            refused[name] = f"its recipe parent {parent} was deleted by dedup; keeping the copy"
            continue
        signature = _signature_now(catalog, parent)
        if signature is None:
            refused[name] = f"its recipe parent {parent} is gone; keeping the copy"
            continue
        if signature != recipe.get("parent_signature"):
            refused[name] = (
                f"its recipe parent {parent} changed since the recipe was verified; keeping the "
                "copy (restore it, or re-verify by proposing again)"
            )
            continue
        _enforce_all(
            catalog, principal, "dedup.delete", [name], {"purpose": purpose, "approved": True}
        )
        if dry_run:
            purged.append(name)
            continue
        with catalog.session(immediate=True) as session:  # claim it: restores now refuse
            claimed = session.execute(
                update(DeletionItem)
                .where(DeletionItem.id == item.id, DeletionItem.state == "quarantined")
                .values(state="purging")
            ).rowcount  # type: ignore[attr-defined]
        if not claimed:
            continue
        _finish_purge(catalog, item, name, fault)
        purged.append(name)
    return {"dry_run": dry_run, "purged": purged, "refused": refused, "waiting": waiting}


def _finish_purge(catalog: Catalog, item: DeletionItem, name: str, fault: Fault | None) -> None:
    if fault:
        fault("purge", name)
    if item.quarantine_uri:
        copy = Path(item.quarantine_uri)
        if copy.is_dir():
            shutil.rmtree(copy)
        elif copy.exists():
            copy.unlink()
    if fault:
        fault("purge.commit", name)
    _update_item(catalog, item.id, state="purged", purged_at=utcnow())


def _gone_ids(catalog: Catalog) -> set[int]:
    with catalog.session() as session:
        return set(
            session.scalars(
                select(DeletionItem.dataset_id).where(DeletionItem.state.in_(ACTIVE_STATES))
            )
        )


def _spec_at(path: Path, name: str, fmt: str, layout: str) -> Any:
    """A spec for dataset files at ``path`` (outside or inside the lake)."""
    from lakeward.lake import DataFile, DatasetSpec, open_root

    root = open_root(path.parent)
    if layout == "file":
        paths = [path]
    else:
        paths = sorted(
            p for p in path.iterdir() if p.is_file() and not p.name.startswith(("_", "."))
        )
    files = []
    for p in paths:
        st = p.stat()
        rel = p.name if layout == "file" else f"{path.name}/{p.name}"
        files.append(DataFile(str(p), rel, st.st_size, st.st_mtime_ns))
    return DatasetSpec(name, path.name, fmt, layout, root, files)


def _verify_files(path: Path, name: str, recipe: dict[str, Any]) -> None:
    from lakeward import spark as lakeward_spark
    from lakeward.dedup._recipe import ddl_from_recipe
    from lakeward.lake import content_fingerprint, read_dataset

    spec = _spec_at(path, name, recipe["format"], recipe["layout"])
    frame = read_dataset(lakeward_spark.session(), spec, parquet_schema=ddl_from_recipe(recipe))
    rows, fingerprint = content_fingerprint(frame)
    if rows != recipe["child_rows"] or fingerprint != recipe["child_fingerprint"]:
        raise CheckFailed(
            f"{name}: the rebuilt files at {path} do not have the original content "
            f"(rows {rows} vs {recipe['child_rows']}, fingerprint differs); they were removed "
            "and the recipe is kept."
        )


def _rebuild_to(catalog: Catalog, item: DeletionItem, name: str, target: Path) -> None:
    from lakeward import spark as lakeward_spark
    from lakeward.dedup._recipe import write_rebuilt
    from lakeward.lake import spec_for

    recipe = item.recipe
    if recipe is None:
        raise CheckFailed(f"{name} has no recipe; nothing to rebuild it from.")
    with catalog.session() as session:
        parent = DatasetRepository(session).require(recipe["parent"])
        session.expunge(parent)
    write_rebuilt(lakeward_spark.session(), spec_for(parent), recipe, current_key(), target)
    try:
        _verify_files(target, name, recipe)
    except BaseException:
        shutil.rmtree(target) if target.is_dir() else target.unlink(missing_ok=True)
        raise


def restore_dataset(
    catalog: Catalog,
    name: str,
    *,
    principal: str,
    purpose: str = DEFAULT_PURPOSE,
    fault: Fault | None = None,
) -> dict[str, Any]:
    """Put a deleted dataset back where it was: move its quarantined copy back, or rebuild it.

    Raises:
        NotFound: the dataset has no dedup deletion to undo.
        InputError: something else now occupies its original path.
        CheckFailed: a rebuild did not reproduce the original content (nothing is left).
    """
    item = _latest_item(catalog, name, ("verified", *ACTIVE_STATES))
    _enforce_all(catalog, principal, "dedup.restore", [name], {"purpose": purpose})
    if item.state == "purging":
        raise InputError(
            f"{name} is being purged (or a purge was interrupted); finish it with `lakeward "
            "dedup purge --yes`, then restore rebuilds it from its recipe."
        )
    original = _dataset_path(item.original_uri)
    copy = Path(item.quarantine_uri) if item.quarantine_uri else None
    original_there = original.exists()
    copy_there = copy is not None and copy.exists()
    if item.state in ("verified", "quarantining") and original_there:
        # Apply stopped before the original left: it is intact; drop any copy made so far.
        for leftover in (copy, copy.with_name(copy.name + ".partial") if copy else None):
            if leftover is not None and leftover.exists():
                shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink()
        how = "nothing to do: the original files never left"
    elif copy_there:
        assert copy is not None
        if original_there:
            raise InputError(
                f"{original} exists again; move it away before restoring {name} there."
            )
        if fault:
            fault("restore.move", name)
        _move(copy, original, fault, name)
        how = "moved back from quarantine"
    elif original_there:
        raise InputError(f"{original} exists; move it away before restoring {name} there.")
    else:
        _rebuild_to(catalog, item, name, original)
        how = "rebuilt from its recipe (new files: re-profile it before the next find)"
    if fault:
        fault("restore.commit", name)
    _update_item(catalog, item.id, state="restored", restored_at=utcnow())
    return {"dataset": name, "state": "restored", "how": how, "path": str(original)}


def reconstruct_dataset(
    catalog: Catalog,
    name: str,
    out: Path,
    *,
    principal: str,
    purpose: str = DEFAULT_PURPOSE,
) -> dict[str, Any]:
    """Rebuild a deleted dataset from its recipe into ``out`` (a new directory) and verify it."""
    item = _latest_item(catalog, name, ("verified", *ACTIVE_STATES))
    recipe = item.recipe
    if recipe is None:
        raise CheckFailed(f"{name} has no recipe; nothing to rebuild it from.")
    _enforce_all(catalog, principal, "dedup.restore", [name], {"purpose": purpose})
    _engine(catalog).enforce(
        principal, "lake.read_content", f"dataset:{recipe['parent']}", {"purpose": purpose}
    )
    target = out.expanduser().resolve() / Path(recipe["relpath"]).name
    _rebuild_to(catalog, item, name, target)
    return {
        "dataset": name,
        "path": str(target),
        "parent": recipe["parent"],
        "recipe": recipe["kind"],
        "predicate": recipe.get("predicate_text"),
        "rows": recipe["child_rows"],
        "fingerprint": recipe["child_fingerprint"],
    }


def dedup_status(catalog: Catalog) -> dict[str, Any]:
    """The latest run's stage counts, every plan, and every dataset in quarantine."""
    with catalog.session() as session:
        names = dataset_names(session)
        plans = list(session.scalars(select(DeletionPlan).order_by(DeletionPlan.id)))
        plan_rows = [
            {
                "plan": p.id,
                "state": p.state,
                "proposed_by": p.proposed_by,
                "approval": p.approval_id,
                "solver": p.solver,
                "bytes": p.bytes_reclaimed,
                "datasets": [
                    {
                        "dataset": names[i.dataset_id],
                        "parent": names[i.parent_id],
                        "state": i.state,
                        "recipe": (i.recipe or {}).get("kind"),
                        "hold": i.hold,
                        "purge_after": i.purge_after.isoformat() if i.purge_after else None,
                        "error": i.error,
                    }
                    for i in p.items
                ],
            }
            for p in plans
        ]
    try:
        run, _ = run_edges(catalog)
        run_info: dict[str, Any] | None = {
            "run": run.id,
            "finished_at": run.finished_at.isoformat() if run.finished_at else None,
            "near_threshold": run.near_threshold,
            "multiset": run.multiset,
            "counts": run.counts,
        }
    except NotFound:
        run_info = None
    return {"run": run_info, "plans": plan_rows}
