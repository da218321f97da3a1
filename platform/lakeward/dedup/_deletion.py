"""Reversible deletion: propose → two-person approve → apply → purge / restore / reconstruct.

- **propose** plans deletions from the latest containment run (see ``_plan``), checks
  ``dedup.propose`` on every dataset, stores the plan and opens a two-person approval.
  Re-proposing the same plan returns the pending one; a different plan supersedes pending
  plans it overlaps.
- **approve** (or reject) needs ``dedup.approve`` on every dataset and a principal other than
  the proposer.
- **apply** needs the plan ``approved`` (its approval recorded on it) and consumes the
  approval once, checks ``dedup.delete`` (approved) per dataset, then takes each dataset
  through ``planned → verified → quarantining → quarantined``: freshness check (never act on
  changed files or on a parent that is itself going away or that recipes depend on) → recipe
  built and *verified* against the child's content fingerprint → recipe stored → move
  intended (re-checked, serialised with other plans, so a child and its recipe's parent never
  both go) → files moved to the quarantine area (only files whose signature is still the
  recipe's) → done. Each step is committed before the next begins, so a crash anywhere
  leaves the original files or a verified recipe (and the quarantined copy), never neither;
  running apply again resumes where it stopped, and an applied plan is never applied twice.
  One apply works on a plan at a time (a lease in the catalog, ``LAKEWARD_DEDUP_APPLY_LEASE_S``,
  checked against its owner before a recipe is stored and before files move, so an apply that
  outlived its lease stops).
- **purge** deletes quarantined copies past the retention window, unless on hold, and only
  while the recipe still rebuilds the dataset: its parent present and unchanged, the lake key
  and fingerprint file of a fingerprint recipe intact, and no other recipe rebuilding from
  the dataset (else the copy is the only safe way back and is kept). A dataset is claimed
  (``purging``, re-checking hold and retention) before its copy is deleted, so a restore never
  races a purge, and an interrupted purge is finished by the next one (policy-checked).
- **restore** claims the dataset (``restoring``) before touching files, then puts it back
  (moving the quarantined copy, or rebuilding from the recipe once purged); a restore that
  stopped is finished by the next one, which recognises the dataset's own files by their
  signature. **reconstruct** rebuilds it anywhere on demand. Both verify content; rebuilding
  needs ``lake.read_content`` on the parent's mapped columns and the child's, unmasked.

Policy is fail-closed: a bundle that cannot be loaded is a deny, and every deny taken here is
written to the audit log.

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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update

from lakeward.catalog import (
    AuditLog,
    AuditRecord,
    Catalog,
    Dataset,
    DatasetRepository,
    DeletionItem,
    DeletionPlan,
    write_lock,
)
from lakeward.catalog._models import utcnow
from lakeward.dedup._find import (
    ACTIVE_STATES,
    DEFAULT_PURPOSE,
    current_key,
    dataset_names,
    load_datasets,
    run_edges,
)
from lakeward.dedup._plan import CostModel, Edge, PlanResult, solve_plan
from lakeward.dedup._recipe import ChildChanged, fsync_path, recipe_problem
from lakeward.dedup._schema import DatasetInfo, pair_columns
from lakeward.errors import (
    CheckFailed,
    InputError,
    LakeError,
    LakewardError,
    NotFound,
    PolicyDenied,
)

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
# Item states whose recipe is in force: the child relies on it (and on its parent) to come back.
IN_FORCE = ("verified", "restoring", *ACTIVE_STATES)
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


def _audit_deny(
    catalog: Catalog,
    principal: str,
    action: str,
    resources: Iterable[str],
    purpose: str | None,
    reason: str,
) -> None:
    """Write a deny decision taken here (not by the policy engine) to the audit log."""
    log = AuditLog(catalog)
    for resource in resources:
        log._append(
            principal=principal,
            action=action,
            resource=resource,
            purpose=purpose or None,
            decision="deny",
            reasons=[reason],
            request={"context": {"purpose": purpose}},
        )


def _deny(
    catalog: Catalog,
    principal: str,
    action: str,
    names: Iterable[str],
    purpose: str | None,
    message: str,
    reason: str,
) -> PolicyDenied:
    """Audit a deny on each dataset and return the :class:`PolicyDenied` to raise."""
    _audit_deny(catalog, principal, action, [f"dataset:{n}" for n in names], purpose, reason)
    return PolicyDenied(message, reasons=[reason])


def _engine(
    catalog: Catalog, principal: str, action: str, names: Iterable[str], purpose: str | None
) -> Any:
    """The policy engine; a bundle that cannot be loaded is a deny, audited (fail closed).

    Raises:
        PolicyDenied: the active policy bundle cannot be loaded (nothing can be checked).
    """
    from lakeward.policy import engine_for

    try:
        return engine_for(catalog)
    except Exception as exc:  # an invalid or unreadable bundle: no policy can be checked
        reason = f"policy bundle unavailable: {exc}"
        raise _deny(
            catalog,
            principal,
            action,
            names,
            purpose,
            f"DENY {action}: {reason}. Fix the active policy bundle (`lakeward policy "
            "validate`, `lakeward policy apply`), then try again.",
            reason,
        ) from exc


def _enforce_all(
    catalog: Catalog,
    principal: str,
    action: str,
    names: Iterable[str],
    context: dict[str, Any],
) -> None:
    names = list(names)
    engine = _engine(catalog, principal, action, names, context.get("purpose"))
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
            .where(DeletionItem.state.in_(IN_FORCE))
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
    versions: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)
    """(child, parent) → the (child, parent) versions the run found the edge between."""
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
    versions: dict[tuple[str, str], tuple[int, int]] = {}
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
        versions[(child.name, parent.name)] = (e["child_version"], e["parent_version"])
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
    return Proposal(run.id, result, stale, versions)


def propose_plan(
    catalog: Catalog,
    *,
    principal: str | None = None,
    purpose: str = DEFAULT_PURPOSE,
    run_id: int | None = None,
    costs: CostModel | None = None,
    access: dict[str, float] | None = None,
) -> Proposal:
    """Store the current deletion plan as a proposal and request its two-person approval.

    The plan records the dataset versions the containment run compared (not whatever is
    current), and is refused when a dataset changed since.

    Raises:
        PolicyDenied: ``dedup.propose`` is denied on one of the datasets (nothing stored).
        InputError: a planned dataset or parent changed (or went) since the run.
    """
    from lakeward.identity import current_principal
    from lakeward.policy import Approvals

    principal = principal or current_principal(catalog).name
    proposal = compute_plan(catalog, run_id=run_id, costs=costs, access=access)
    choices = proposal.result.choices
    if not choices:
        return proposal
    _enforce_all(
        catalog, principal, "dedup.propose", [c.dataset for c in choices], {"purpose": purpose}
    )
    infos = {d.name: d for d in load_datasets(catalog)}
    changed = []
    for c in choices:
        child, parent = infos.get(c.dataset), infos.get(c.parent)
        if (child.version if child else None, parent.version if parent else None) != (
            proposal.versions[(c.dataset, c.parent)]
        ):
            changed.append(f"{c.dataset} (rebuilt from {c.parent})")
    if changed:
        raise InputError(
            f"{', '.join(changed)}: the dataset or its parent was re-profiled or deleted since "
            f"containment run #{proposal.run_id}; run `lakeward dedup find` again, then propose."
        )
    wanted = {
        (infos[c.dataset].id, proposal.versions[(c.dataset, c.parent)][0], infos[c.parent].id)
        for c in choices
    }
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
                child_version, parent_version = proposal.versions[(c.dataset, c.parent)]
                pairs = pair_columns(child, parent)
                if pairs is None:  # the edge came from these very schemas
                    raise InputError(f"{c.dataset} no longer fits {c.parent}; run find again")
                plan.items.append(
                    DeletionItem(
                        dataset_id=child.id,
                        parent_id=parent.id,
                        dataset_version=child_version,
                        parent_version=parent_version,
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
        engine = _engine(
            catalog, principal, "approval.request", [c.dataset for c in choices], purpose
        )
        approval = Approvals(engine).request(
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

    A decision already on the plan's approval request but not yet on the plan (a crash in
    between, or one made with ``lakeward policy approval``) is recorded, after checking its
    decider may approve dedup deletions of every dataset of the plan; ``by`` names the
    decider and ``recorded`` is true.

    Raises:
        PolicyDenied: the principal (or an earlier decider) proposed the plan, or may not
            approve dedup deletions of one of its datasets.
        InputError: the plan is not awaiting approval.
    """
    from lakeward.policy import Approvals

    plan, names = _plan(catalog, plan_id)
    datasets = [names[i.dataset_id] for i in plan.items]
    approvals = Approvals(_engine(catalog, principal, "dedup.approve", datasets, purpose))
    if plan.approval_id is None:
        raise InputError(f"Plan #{plan_id} has no approval request; propose it again.")
    approval = approvals.get(plan.approval_id)
    if plan.state == "approved" and not reject:
        return {
            "plan": plan_id,
            "state": "approved",
            "approval": plan.approval_id,
            "by": approval.decided_by,
            "recorded": False,
        }
    recorded = False
    if plan.state == "proposed" and approval.state in ("approved", "rejected"):
        # A decision made but not yet recorded on the plan: check it as if made here.
        by = approval.decided_by or "unknown"
        new_state = approval.state
        recorded = True
        if new_state == "approved":
            decided_purpose = str(approval.details.get("purpose") or plan.purpose)
            if by == plan.proposed_by:
                message = (
                    f"Approval #{plan.approval_id} of plan #{plan_id} was decided by its "
                    f"proposer {by}; a second person must approve. Propose again."
                )
                raise _deny(
                    catalog, by, "dedup.approve", datasets, decided_purpose, message, message
                )
            _enforce_all(catalog, by, "dedup.approve", datasets, {"purpose": decided_purpose})
    else:
        if plan.state != "proposed":
            raise InputError(f"Plan #{plan_id} is {plan.state}, not awaiting approval.")
        _enforce_all(catalog, principal, "dedup.approve", datasets, {"purpose": purpose})
        if reject:
            approvals.reject(plan.approval_id, principal, reason)
            new_state = "rejected"
        else:
            approvals.approve(plan.approval_id, principal, reason)
            new_state = "approved"
        by = principal
    with catalog.session(immediate=True) as session:
        stored = session.get(DeletionPlan, plan_id)
        assert stored is not None
        stored.state = new_state
    return {
        "plan": plan_id,
        "state": new_state,
        "approval": plan.approval_id,
        "by": by,
        "recorded": recorded,
    }


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
            "supports local lake roots only. Leave this dataset out (it is skipped)."
        )
    return Path(uri)


def _fsync_tree(path: Path) -> None:
    for p in [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]:
        fsync_path(p)


def _partial(dst: Path) -> Path:
    """Where a cross-filesystem copy to ``dst`` is assembled (hidden: discovery skips it)."""
    return dst.with_name(f".{dst.name}.lakeward-partial")


def _tombstone(path: Path) -> Path:
    """Where ``path`` is renamed to just before it is deleted (hidden: discovery skips it)."""
    return path.with_name(f".{path.name}.lakeward-deleting")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _discard(path: Path) -> None:
    """Delete ``path`` at once: renamed aside first, so a crash never leaves half of it."""
    tomb = _tombstone(path)
    _remove(tomb)
    os.rename(path, tomb)
    _remove(tomb)


def _tidy(path: Path | None) -> None:
    """Remove what an interrupted move to, or deletion of, ``path`` left beside it."""
    if path is not None:
        _remove(_partial(path))
        _remove(_tombstone(path))


def _move(src: Path, dst: Path, fault: Fault | None, name: str) -> None:
    """Move ``src`` to ``dst`` (which must not exist) so a complete copy exists at every instant.

    Same filesystem: one rename. Otherwise: copy to a hidden partial next to ``dst`` → fsync →
    rename to ``dst`` → delete ``src`` (renamed aside first). After a crash the caller finds
    ``src``, ``dst`` or both complete, and decides by file signature which is the dataset's.
    """
    if dst.exists():
        raise CheckFailed(f"{name}: {dst} already exists; not moving {src} over it.")
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.rename(src, dst)
        return
    except OSError as exc:
        import errno

        if exc.errno != errno.EXDEV:
            raise
    partial = _partial(dst)
    _remove(partial)
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
    _discard(src)


def _lease_message(plan: DeletionPlan) -> str:
    return (
        f"Plan #{plan.id} is being applied by another process (lease owner {plan.lease_owner}, "
        f"apply by {plan.applied_by or 'nobody yet'}, until {plan.lease_until}); wait for it, or "
        "after a crash until the lease ends (LAKEWARD_DEDUP_APPLY_LEASE_S), then try again."
    )


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
            raise InputError(_lease_message(plan))


def _renew_lease(session: Any, plan_id: int, owner: str) -> None:
    """Renew this apply's lease inside ``session``'s transaction, if it still holds it.

    Raises:
        InputError: another process took the plan over (this one ran past its lease).
    """
    until = utcnow() + timedelta(seconds=_settings().dedup.apply_lease_s)
    changed = session.execute(
        update(DeletionPlan)
        .where(DeletionPlan.id == plan_id, DeletionPlan.lease_owner == owner)
        .values(lease_until=until)
    ).rowcount
    if not changed:
        raise InputError(
            f"Plan #{plan_id}: this apply lost its lease (it ran longer than "
            f"LAKEWARD_DEDUP_APPLY_LEASE_S={_settings().dedup.apply_lease_s:g} s) and another "
            "process took the plan over; it stopped before changing anything more. Run apply "
            "again to resume, or raise LAKEWARD_DEDUP_APPLY_LEASE_S."
        )


def _hold_lease(catalog: Catalog, plan_id: int, owner: str) -> None:
    with catalog.session(immediate=True) as session:
        _renew_lease(session, plan_id, owner)


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


def _transition(session: Any, item_id: int, expected: str, **values: Any) -> bool:
    """Move an item out of state ``expected`` (only if it is still in it); whether it moved."""
    changed = session.execute(
        update(DeletionItem)
        .where(DeletionItem.id == item_id, DeletionItem.state == expected)
        .values(**values)
    ).rowcount
    return bool(changed)


def _move_item(catalog: Catalog, item_id: int, expected: str, **values: Any) -> bool:
    with catalog.session(immediate=True) as session:
        return _transition(session, item_id, expected, **values)


def _item_state(catalog: Catalog, item_id: int) -> str:
    with catalog.session() as session:
        item = session.get(DeletionItem, item_id)
        assert item is not None
        return str(item.state)


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


def _dependants(session: Any, dataset_id: int, item_id: int) -> list[str]:
    """Datasets whose recipes in force (other than item ``item_id``'s) rebuild from it."""
    names = dataset_names(session)
    ids = session.scalars(
        select(DeletionItem.dataset_id).where(
            DeletionItem.parent_id == dataset_id,
            DeletionItem.state.in_(IN_FORCE),
            DeletionItem.id != item_id,
        )
    )
    return sorted({names[i] for i in ids})


def _check_child(
    catalog: Catalog, item: DeletionItem, names: dict[int, str], dependants: dict[int, list[str]]
) -> DatasetInfo | str:
    """The child's current info, or why the item must not be applied."""
    name = names[item.dataset_id]
    try:
        _dataset_path(item.original_uri)
    except InputError as exc:
        return str(exc)
    child = _info(catalog, name)
    if child is None:
        return f"{name} is gone or deleted by dedup"
    if child.version != item.dataset_version:
        return f"{name} was re-profiled after the plan was proposed; propose again"
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


def _skip(catalog: Catalog, item_id: int, name: str, expected: str, error: str) -> dict[str, Any]:
    if not _move_item(catalog, item_id, expected, state="skipped", error=error):
        return {"dataset": name, "state": _item_state(catalog, item_id)}
    return {"dataset": name, "state": "skipped", "error": error}


def _build(
    catalog: Catalog,
    plan: DeletionPlan,
    item: DeletionItem,
    names: dict[int, str],
    principal: str,
    purpose: str,
    fault: Fault | None,
) -> dict[str, Any] | str:
    """A verified recipe for the item's child, or why there is none (``planned`` step)."""
    from lakeward import spark as lakeward_spark
    from lakeward.dedup._recipe import build_recipe
    from lakeward.lake import spec_for

    name = names[item.dataset_id]
    fresh = _check_child(catalog, item, names, _recipe_parents(catalog))
    if isinstance(fresh, str):
        return fresh
    child = fresh
    engine = _engine(catalog, principal, "lake.read_content", [name], purpose)
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
            return build_recipe(
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
        except ChildChanged as exc:
            return str(exc)
        except (CheckFailed, LakeError) as exc:
            problems.append(str(exc))
    return "; ".join(problems) or "no parent to rebuild it from"


def _store_recipe(
    catalog: Catalog, plan_id: int, item_id: int, owner: str, recipe: dict[str, Any]
) -> bool:
    """Store a verified recipe (``planned`` → ``verified``) while this apply holds the plan.

    Raises:
        InputError: this apply lost its lease (the recipe is not stored).
    """
    with catalog.session(immediate=True) as session:
        _renew_lease(session, plan_id, owner)
        return _transition(
            session,
            item_id,
            "planned",
            state="verified",
            recipe=recipe,
            verified_at=utcnow(),
            parent_id=recipe["parent_id"],
            parent_version=recipe["parent_version"],
            error=None,
        )


def _drop_fingerprints(recipe: dict[str, Any]) -> None:
    if recipe.get("fingerprints"):
        shutil.rmtree(recipe["fingerprints"]["path"], ignore_errors=True)


def _intend_move(
    catalog: Catalog, plan_id: int, item: DeletionItem, owner: str, target: Path
) -> str | None:
    """``verified`` → ``quarantining``, or why not (then the item is skipped).

    Checked and moved in one transaction that serialises with every other such step, so two
    plans can never take away both a child and the parent its recipe rebuilds it from.

    Raises:
        InputError: this apply lost its lease.
    """
    with catalog.session(immediate=True) as session:
        _renew_lease(session, plan_id, owner)  # locks the plan first, as storing a recipe does
        with write_lock(session, "deletion_items"):
            gone = set(
                session.scalars(
                    select(DeletionItem.dataset_id).where(DeletionItem.state.in_(ACTIVE_STATES))
                )
            )
            names = dataset_names(session)
            recipe = item.recipe or {}
            error = None
            if recipe.get("parent_id") in gone:
                error = (
                    f"its recipe parent {recipe['parent']} was deleted by dedup (another plan) "
                    "after the recipe was verified; propose again"
                )
            elif others := _dependants(session, item.dataset_id, item.id):
                error = f"recipes of {', '.join(others)} depend on it"
            if error is not None:
                _transition(session, item.id, "verified", state="skipped", error=error)
                return error
            if not _transition(
                session, item.id, "verified", state="quarantining", quarantine_uri=str(target)
            ):
                return f"{names[item.dataset_id]} was changed by another process (restored?)"
    return None


def _apply_item(
    catalog: Catalog,
    plan: DeletionPlan,
    item: DeletionItem,
    names: dict[int, str],
    principal: str,
    purpose: str,
    fault: Fault | None,
    owner: str,
) -> dict[str, Any]:
    name = names[item.dataset_id]
    state = item.state
    if state == "planned":
        if fault:
            fault("check", name)
        built = _build(catalog, plan, item, names, principal, purpose, fault)
        if isinstance(built, str):
            return _skip(catalog, item.id, name, "planned", built)
        if fault:
            fault("store", name)
        try:
            stored = _store_recipe(catalog, plan.id, item.id, owner, built)
        except BaseException:
            _drop_fingerprints(built)  # this attempt's own directory: nothing refers to it
            raise
        if not stored:
            _drop_fingerprints(built)
            return {"dataset": name, "state": _item_state(catalog, item.id)}
        state = "verified"
    if state == "verified":
        if fault:
            fault("intent", name)
        with catalog.session() as session:
            fresh_item = session.get(DeletionItem, item.id)  # with its stored recipe
            assert fresh_item is not None and fresh_item.recipe is not None
            session.expunge(fresh_item)
        item = fresh_item
        recipe = dict(item.recipe or {})
        if _signature_now(catalog, name) != recipe["child_signature"]:
            error = f"{name}'s files changed after its recipe was verified; propose again"
            return _skip(catalog, item.id, name, "verified", error)
        if _signature_now(catalog, recipe["parent"]) != recipe["parent_signature"]:
            error = (
                f"its recipe parent {recipe['parent']} changed or is gone since the recipe was "
                "verified; propose again"
            )
            return _skip(catalog, item.id, name, "verified", error)
        problem = recipe_problem(recipe, current_key())
        if problem is not None:
            return _skip(catalog, item.id, name, "verified", f"its recipe is unusable: {problem}")
        target = _quarantine_root() / f"plan-{plan.id}" / recipe["relpath"]
        refused = _intend_move(catalog, plan.id, item, owner, target)
        if refused is not None:
            return {"dataset": name, "state": _item_state(catalog, item.id), "error": refused}
        state = "quarantining"
    if state == "quarantining":
        with catalog.session() as session:
            stored_item = session.get(DeletionItem, item.id)
            assert stored_item is not None and stored_item.quarantine_uri is not None
            target = Path(stored_item.quarantine_uri)
            recipe = dict(stored_item.recipe or {})
        source = _dataset_path(item.original_uri)
        if fault:
            fault("move", name)
        _hold_lease(catalog, plan.id, owner)  # never move files for a plan taken over
        _remove(_partial(target))  # an interrupted copy; the source is intact
        _remove(_tombstone(source))  # an interrupted deletion, decided once the copy was whole
        ours = source.exists() and _signature_now(catalog, name) == recipe["child_signature"]
        note = None
        if target.exists():  # whole: renamed into place before a crash
            if ours:
                _discard(source)  # the copy's original, not yet deleted
            elif source.exists():
                note = (
                    f"new files appeared at {source} after its files were moved to quarantine; "
                    "they were left there"
                )
        elif source.exists():
            if not ours:  # e.g. written again after a crash: never quarantine them
                error = (
                    f"files at {source} changed after the recipe was verified (nothing was "
                    "moved); re-profile and propose again"
                )
                return _skip(catalog, item.id, name, "quarantining", error)
            _move(source, target, fault, name)
        else:
            note = "files vanished during apply; the verified recipe rebuilds it"
        if fault:
            fault("commit", name)
        now = utcnow()
        days = _settings().dedup.retention_days
        if not _move_item(
            catalog,
            item.id,
            "quarantining",
            state="quarantined",
            quarantined_at=now,
            purge_after=now + timedelta(days=days),
            error=note,
        ):
            return {"dataset": name, "state": _item_state(catalog, item.id)}
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
        PolicyDenied: the plan is not approved, or ``dedup.delete`` is denied (audited).
        InputError: another apply holds the plan, or this one lost its lease.
        NotFound: no such plan.
    """
    from lakeward.policy import Approvals

    started = time.perf_counter()
    plan, names = _plan(catalog, plan_id)
    datasets = [names[i.dataset_id] for i in plan.items]
    if plan.state == "applied":
        items = [{"dataset": names[i.dataset_id], "state": i.state} for i in plan.items]
        return ApplyReport(plan_id, "applied", items, already_applied=True)
    if plan.state in ("rejected", "superseded"):
        raise _deny(
            catalog,
            principal,
            "dedup.delete",
            datasets,
            purpose,
            f"Plan #{plan_id} is {plan.state}; it can never be applied. Propose again.",
            f"plan is {plan.state}",
        )
    approvals = Approvals(_engine(catalog, principal, "dedup.delete", datasets, purpose))
    approval = approvals.get(plan.approval_id) if plan.approval_id is not None else None
    if plan.state != "applying":
        state = approval.state if approval is not None else "missing"
        if plan.state == "approved":
            ok = approval is not None and (
                approval.state == "approved"
                or (approval.state == "consumed" and approval.details.get("plan_id") == plan_id)
            )
        else:
            ok = False
        if ok:
            message = ""
        elif state == "rejected":
            message = (
                f"Plan #{plan_id} was rejected by {approval.decided_by if approval else '?'}; it "
                "can never be applied. Propose again."
            )
        elif state == "approved":  # decided, but not (yet) checked and recorded on the plan
            message = (
                f"Plan #{plan_id} is {plan.state}: its approval #{plan.approval_id} was decided "
                f"by {approval.decided_by if approval else '?'} but is not recorded on the "
                f"plan; run `lakeward dedup approve {plan_id}` to check and record it, then "
                "apply again."
            )
        else:
            message = (
                f"Plan #{plan_id} is not approved (approval is {state}); a steward other than "
                f"{plan.proposed_by} must run `lakeward dedup approve {plan_id}` first."
            )
        if not ok:
            raise _deny(
                catalog,
                principal,
                "dedup.delete",
                datasets,
                purpose,
                message,
                f"plan {plan.state}, approval {state}",
            )
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
            if plan.state != "approved":
                raise PolicyDenied(
                    f"Plan #{plan_id} became {plan.state} meanwhile; it is not applied.",
                    reasons=[f"plan is {plan.state}"],
                )
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
            if item.state not in ("planned", "verified", "quarantining"):
                results.append({"dataset": names[item.dataset_id], "state": item.state})
                continue
            _hold_lease(catalog, plan_id, owner)  # renew (refuses if another took over)
            results.append(
                _apply_item(catalog, plan, item, names, principal, purpose, fault, owner)
            )
        with catalog.session(immediate=True) as session:
            _renew_lease(session, plan_id, owner)
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


def _purge_refusal(
    catalog: Catalog,
    item: DeletionItem,
    name: str,
    names: dict[int, str],
    gone: set[int],
    dependants: dict[int, list[str]],
) -> str | None:
    """Why the item's quarantined copy must be kept although it is due (``None``: purge it)."""
    others = [n for n in dependants.get(item.dataset_id, []) if n != name]
    if others:
        return (
            f"recipes of {', '.join(sorted(others))} rebuild from it; keeping the copy (restore "
            "or purge them first)"
        )
    recipe = item.recipe
    if not recipe:
        return "it has no recipe; keeping the copy"
    parent = names[item.parent_id]
    if item.parent_id in gone:
        return f"its recipe parent {parent} was deleted by dedup; keeping the copy"
    signature = _signature_now(catalog, parent)
    if signature is None:
        return f"its recipe parent {parent} is gone; keeping the copy"
    if signature != recipe.get("parent_signature"):
        return (
            f"its recipe parent {parent} changed since the recipe was verified; keeping the "
            "copy (restore it, or re-verify by proposing again)"
        )
    problem = recipe_problem(recipe, current_key())
    if problem is not None:
        return f"its recipe cannot rebuild it: {problem}; keeping the copy"
    return None


def purge_quarantine(
    catalog: Catalog,
    *,
    principal: str,
    purpose: str = DEFAULT_PURPOSE,
    now: datetime | None = None,
    dry_run: bool = True,
    fault: Fault | None = None,
) -> dict[str, Any]:
    """Delete quarantined copies past retention (not on hold) whose recipe still rebuilds them.

    A copy is kept (listed under ``refused``) while its recipe parent is deleted, changed or
    gone, while its fingerprint recipe lacks its key or file, and while other datasets'
    recipes rebuild from it. ``dedup.delete`` is checked on each dataset, also to finish an
    interrupted purge.
    """
    now = now or utcnow()
    now = now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)
    with catalog.session() as session:
        items = list(
            session.scalars(
                select(DeletionItem).where(DeletionItem.state.in_(("quarantined", "purging")))
            )
        )
        names = dataset_names(session)
        session.expunge_all()
    gone = _gone_ids(catalog)
    dependants = _recipe_parents(catalog)
    purged: list[str] = []
    refused: dict[str, str] = {}
    waiting: dict[str, str] = {}
    for item in items:
        name = names[item.dataset_id]
        if item.state == "purging":  # an interrupted purge: finish it
            _enforce_all(
                catalog, principal, "dedup.delete", [name], {"purpose": purpose, "approved": True}
            )
            if not dry_run:
                _finish_purge(catalog, item, name, fault)
            purged.append(name)
            continue
        due = item.purge_after
        if due is not None and due.tzinfo is None:
            due = due.replace(tzinfo=UTC)
        if item.hold:
            waiting[name] = "on hold"
            continue
        if due is not None and due > now:
            waiting[name] = f"retained until {due.isoformat(timespec='seconds')}"
            continue
        why = _purge_refusal(catalog, item, name, names, gone, dependants)
        if why is not None:
            refused[name] = why
            continue
        _enforce_all(
            catalog, principal, "dedup.delete", [name], {"purpose": purpose, "approved": True}
        )
        if dry_run:
            purged.append(name)
            continue
        if fault:
            fault("purge.claim", name)
        # Claim it (restores now refuse), re-checking what may have changed since it was read.
        with catalog.session(immediate=True) as session, write_lock(session, "deletion_items"):
            others = _dependants(session, item.dataset_id, item.id)
            claimed = (
                not others
                and session.execute(
                    update(DeletionItem)
                    .where(
                        DeletionItem.id == item.id,
                        DeletionItem.state == "quarantined",
                        DeletionItem.hold.is_(False),
                        DeletionItem.purge_after.is_(None) | (DeletionItem.purge_after <= now),
                    )
                    .values(state="purging")
                ).rowcount  # type: ignore[attr-defined]
            )
        if others:
            refused[name] = f"recipes of {', '.join(others)} rebuild from it; keeping the copy"
            continue
        if not claimed:
            waiting[name] = "changed meanwhile (restored, put on hold or purged); not purged"
            continue
        _finish_purge(catalog, item, name, fault)
        purged.append(name)
    return {"dry_run": dry_run, "purged": purged, "refused": refused, "waiting": waiting}


def _finish_purge(catalog: Catalog, item: DeletionItem, name: str, fault: Fault | None) -> None:
    if fault:
        fault("purge", name)
    if item.quarantine_uri:
        copy = Path(item.quarantine_uri)
        _tidy(copy)
        _remove(copy)
    if fault:
        fault("purge.commit", name)
    _move_item(catalog, item.id, "purging", state="purged", purged_at=utcnow())


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


def _holds_content(path: Path, name: str, recipe: dict[str, Any]) -> bool:
    """Whether the files at ``path`` have exactly the child's content (rows, fingerprint)."""
    try:
        _verify_files(path, name, recipe)
    except Exception:  # a different content, or unreadable as the child's format
        return False
    return True


def _check_rebuild_read(
    catalog: Catalog, principal: str, purpose: str, name: str, recipe: dict[str, Any]
) -> None:
    """Check that ``principal`` may rebuild ``name``: read its parent's and its own content.

    A rebuild reads the parent's mapped columns and outputs the child's: both need
    ``lake.read_content`` with no column masked (a masked value would land in the output).

    Raises:
        PolicyDenied: a read is denied or masks columns of the output (audited).
    """
    engine = _engine(catalog, principal, "lake.read_content", [recipe["parent"], name], purpose)
    reads = [
        (recipe["parent"], [c["parent"] for c in recipe["columns"]]),
        (name, [c["name"] for c in recipe["columns"]]),
    ]
    for dataset, columns in reads:
        decision = engine.enforce(
            principal,
            "lake.read_content",
            f"dataset:{dataset}",
            {"purpose": purpose},
            columns=list(dict.fromkeys(columns)),
        )
        masked = sorted(o[5:] for o in decision.obligations if o.startswith("mask:"))
        if masked:
            reason = (
                f"columns {', '.join(masked)} of {dataset} are masked for {principal}; a rebuild "
                f"of {name} would disclose them"
            )
            raise _deny(
                catalog,
                principal,
                "lake.read_content",
                [dataset],
                purpose,
                f"DENY rebuilding {name}: {reason}. A principal allowed to read these columns "
                "unmasked must restore or reconstruct it.",
                reason,
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
        _remove(target)
        raise


def _put_back(
    catalog: Catalog,
    item: DeletionItem,
    name: str,
    prior: str,
    principal: str,
    purpose: str,
    fault: Fault | None,
) -> str:
    """Put the files of a claimed (``restoring``) item back; how it was done.

    Decided from what is on disk, so that it also finishes a restore (or an apply) that
    stopped anywhere: the dataset's own files are recognised by their file signature (and, for
    files rebuilt before a crash, by their content).
    """
    original = _dataset_path(item.original_uri)
    copy = Path(item.quarantine_uri) if item.quarantine_uri else None
    recipe = item.recipe
    _tidy(copy)  # an interrupted copy into quarantine, or deletion of the copy
    _tidy(original)  # an interrupted copy back, or deletion of the original
    copy_there = copy is not None and copy.exists()
    if original.exists():
        here = _signature_now(catalog, name)
        if recipe is not None and here == recipe["child_signature"]:
            if copy_there:
                assert copy is not None
                _discard(copy)  # a duplicate of the files in place
            if prior in ("verified", "quarantining"):
                return "nothing to do: the original files never left"
            return "moved back from quarantine"
        if prior == "restoring" and recipe is not None and _holds_content(original, name, recipe):
            if copy_there:
                assert copy is not None
                _discard(copy)
            return "finished an interrupted restore (content verified)"
        if prior in ("verified", "quarantining") and not copy_there:
            return (
                "nothing to do: its files never left (they changed after the recipe was "
                "verified; re-profile it)"
            )
        kept = f" Its quarantined copy is kept at {copy}." if copy_there else ""
        raise InputError(
            f"{original} holds files other than {name}'s (their signature differs); move them "
            f"away, then run `lakeward dedup restore {name}` again.{kept}"
        )
    if copy_there:
        assert copy is not None
        if fault:
            fault("restore.move", name)
        _move(copy, original, fault, name)
        return "moved back from quarantine"
    if recipe is None:
        raise CheckFailed(f"{name} has no recipe and no quarantined copy; nothing to restore.")
    _check_rebuild_read(catalog, principal, purpose, name, recipe)
    if fault:
        fault("restore.rebuild", name)
    _rebuild_to(catalog, item, name, original)
    return "rebuilt from its recipe (new files: re-profile it before the next find)"


def restore_dataset(
    catalog: Catalog,
    name: str,
    *,
    principal: str,
    purpose: str = DEFAULT_PURPOSE,
    fault: Fault | None = None,
) -> dict[str, Any]:
    """Put a deleted dataset back where it was: move its quarantined copy back, or rebuild it.

    The item is claimed first (``restoring``, so no purge deletes its copy meanwhile, and an
    apply of its plan is held off); a restore that stopped is finished by the next one.

    Raises:
        NotFound: the dataset has no dedup deletion to undo.
        InputError: something else now occupies its original path, it is being purged, or its
            plan is being applied.
        PolicyDenied: ``dedup.restore`` is denied, or a rebuild may not read its content.
        CheckFailed: a rebuild did not reproduce the original content (nothing is left).
    """
    item = _latest_item(catalog, name, IN_FORCE)
    _enforce_all(catalog, principal, "dedup.restore", [name], {"purpose": purpose})
    if item.state == "purging":
        raise InputError(
            f"{name} is being purged (or a purge was interrupted); finish it with `lakeward "
            "dedup purge --yes`, then restore rebuilds it from its recipe."
        )
    _dataset_path(item.original_uri)  # local only
    lease = None
    if item.state in ("verified", "quarantining"):  # its plan's apply must not run meanwhile
        lease = f"restore-{uuid.uuid4().hex}"
        _take_lease(catalog, item.plan_id, lease)
    prior = item.state
    try:
        if prior != "restoring":
            if fault:
                fault("restore.claim", name)
            if not _move_item(catalog, item.id, prior, state="restoring"):
                now = _item_state(catalog, item.id)
                if now == "purging":
                    raise InputError(
                        f"{name} is being purged; once it is, restore rebuilds it from its recipe."
                    )
                raise InputError(
                    f"{name} went from {prior} to {now} while restoring it (another process); "
                    "run restore again."
                )
        try:
            how = _put_back(catalog, item, name, prior, principal, purpose, fault)
        except LakewardError:
            if prior != "restoring":  # refused before anything moved: release the claim
                _move_item(catalog, item.id, "restoring", state=prior)
            raise
        if fault:
            fault("restore.commit", name)
        _move_item(catalog, item.id, "restoring", state="restored", restored_at=utcnow())
    except Exception:
        if lease is not None:
            _release_lease(catalog, item.plan_id, lease)
        raise
    if lease is not None:
        _release_lease(catalog, item.plan_id, lease)
    if prior == "restoring":
        how = f"resumed: {how}"
    return {
        "dataset": name,
        "state": "restored",
        "how": how,
        "path": str(_dataset_path(item.original_uri)),
    }


def reconstruct_dataset(
    catalog: Catalog,
    name: str,
    out: Path,
    *,
    principal: str,
    purpose: str = DEFAULT_PURPOSE,
) -> dict[str, Any]:
    """Rebuild a deleted dataset from its recipe into ``out`` (a new directory) and verify it.

    Raises:
        PolicyDenied: ``dedup.restore`` is denied, or reading the parent's mapped columns or
            the child's columns is denied or masked (audited).
    """
    item = _latest_item(catalog, name, IN_FORCE)
    recipe = item.recipe
    if recipe is None:
        raise CheckFailed(f"{name} has no recipe; nothing to rebuild it from.")
    _enforce_all(catalog, principal, "dedup.restore", [name], {"purpose": purpose})
    _check_rebuild_read(catalog, principal, purpose, name, recipe)
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
