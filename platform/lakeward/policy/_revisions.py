"""Installed bundle revisions: ``apply`` (validate + test + install), ``log``, ``diff``.

The active bundle is the newest applied revision (copied under
``<LAKEWARD_HOME>/policy/revisions/<revision>``); before the first apply it is
``LAKEWARD_POLICY_DIR``. Applying is optimistic: the caller names the revision it validated
against (its parent), and the install fails if another admin applied in the meantime, so two
admins applying at once never silently overwrite each other.
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from lakeward.catalog import AuditLog, AuditRecord, Catalog, PolicyRevision, write_lock
from lakeward.catalog._models import utcnow
from lakeward.errors import CheckFailed, InputError
from lakeward.policy._bundle import PolicyBundle, load_bundle
from lakeward.policy._engine import Decision, PolicyEngine, guard
from lakeward.policy._tests import run_policy_tests

__all__ = [
    "DecisionChange",
    "active_bundle",
    "active_bundle_dir",
    "apply_bundle",
    "diff_bundles",
    "revisions",
]


def active_bundle_dir(catalog: Catalog) -> Path:
    """The directory of the active bundle, materialised from the catalog when this host lacks it."""
    return active_bundle(catalog)[0]


def active_bundle(catalog: Catalog) -> tuple[Path, str | None]:
    """The active bundle's directory and the revision hash it must have.

    The hash is ``None`` before the first install, when the working bundle
    (``LAKEWARD_POLICY_DIR``) is used.

    After the first ``apply``, ``LAKEWARD_POLICY_DIR`` no longer changes anything: only an
    applied revision does.
    """
    from lakeward.settings import get_settings

    settings = get_settings()
    with catalog.session() as session:
        newest = session.scalar(select(PolicyRevision).order_by(PolicyRevision.id.desc()).limit(1))
    if newest is None:
        return settings.policy.bundle_dir(), None
    local = settings.home / "policy" / "revisions" / newest.revision
    if not local.is_dir():
        staging = local.with_name(f"{local.name}.{uuid.uuid4().hex}.tmp")
        for rel, text in newest.files.items():
            target = staging / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        try:
            staging.rename(local)
        except OSError:  # another process materialised it first
            shutil.rmtree(staging, ignore_errors=True)
    return local, newest.revision


def revisions(catalog: Catalog) -> list[dict[str, Any]]:
    """Applied revisions, newest first."""
    with catalog.session() as session:
        rows = list(session.scalars(select(PolicyRevision).order_by(PolicyRevision.id.desc())))
    return [
        {
            "revision": r.revision,
            "parent": r.parent_revision,
            "applied_by": r.applied_by,
            "applied_at": r.applied_at.isoformat(),
            "source": r.source,
            "path": r.path,
            "summary": r.summary,
        }
        for r in rows
    ]


@dataclass(frozen=True)
class DecisionChange:
    """A recorded request whose decision differs between two bundles."""

    principal: str
    action: str
    resource: str
    context: dict[str, Any]
    before: str
    before_policies: tuple[str, ...]
    after: str
    after_policies: tuple[str, ...]


def _recorded_requests(catalog: Catalog, limit: int) -> list[tuple[str, str, str, dict[str, Any]]]:
    seen: set[str] = set()
    found: list[tuple[str, str, str, dict[str, Any]]] = []
    with catalog.session() as session:
        records = session.scalars(select(AuditRecord).order_by(AuditRecord.seq.desc()).limit(limit))
        for r in records:
            context = (r.request or {}).get("context")
            if not isinstance(context, dict) or r.action.startswith(
                ("dp.budget.", "approval.", "policy.")
            ):
                continue
            wanted = {
                k: context[k] for k in ("purpose", "encrypted", "dp", "approved") if k in context
            }
            key = repr((r.principal, r.action, r.resource, sorted(wanted.items())))
            if key not in seen:
                seen.add(key)
                found.append((r.principal, r.action, r.resource, wanted))
    return found


def diff_bundles(
    catalog: Catalog, current: PolicyBundle, candidate: PolicyBundle, *, limit: int = 100_000
) -> list[DecisionChange]:
    """Replay the requests recorded in the audit log under both bundles; list the changes."""
    old, new = PolicyEngine(current, catalog), PolicyEngine(candidate, catalog)
    changes = []
    for principal, action, resource, context in _recorded_requests(catalog, limit):
        a: Decision = old.decide(principal, action, resource, context)
        b: Decision = new.decide(principal, action, resource, context)
        if (a.allowed, a.policy_ids, a.obligations) != (b.allowed, b.policy_ids, b.obligations):
            changes.append(
                DecisionChange(
                    principal,
                    action,
                    resource,
                    context,
                    a.decision,
                    a.policy_ids,
                    b.decision,
                    b.policy_ids,
                )
            )
    return changes


def apply_bundle(
    catalog: Catalog,
    candidate_dir: Path,
    *,
    applied_by: str,
    expected_parent: str | None,
    home: Path,
) -> dict[str, Any]:
    """Validate, test and install ``candidate_dir`` as the new active revision.

    ``applied_by`` must hold ``policy.admin`` under the *active* bundle (decided and
    audited here, whoever calls).

    Raises:
        PolicyDenied: ``applied_by`` may not administer policy (or the active bundle does
            not load).
        PolicyBundleError: the candidate does not validate.
        CheckFailed: it has no policy tests or they fail, or another revision was applied
            since ``expected_parent`` was read.
    """
    guard(catalog, applied_by, "policy.admin", "platform")
    candidate = load_bundle(candidate_dir)
    report = run_policy_tests(candidate)
    if not report.cases:
        raise CheckFailed(
            f"The candidate bundle {candidate_dir} has no policy tests (tests/*.yaml); a bundle "
            "whose decisions nothing checks is not installed. Nothing applied."
        )
    if report.failed:
        names = ", ".join(f"{c.file}:{c.name}" for c in report.failed)
        raise CheckFailed(f"Policy tests fail for the candidate bundle: {names}. Nothing applied.")
    target = home / "policy" / "revisions" / candidate.revision
    if not target.exists():
        staging = target.with_name(target.name + ".tmp")
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(candidate.directory, staging)
        staging.rename(target)
    with catalog.session(immediate=True) as session, write_lock(session, "policy_revisions"):
        newest = session.scalar(select(PolicyRevision).order_by(PolicyRevision.id.desc()).limit(1))
        current = newest.revision if newest else None
        if current != expected_parent:
            raise CheckFailed(
                f"Another revision ({str(current)[:12]}) was applied after you read "
                f"{str(expected_parent)[:12]}. Re-run validate/test/diff against it, then apply."
            )
        if current == candidate.revision:
            raise InputError(f"Revision {candidate.revision[:12]} is already active.")
        summary = {
            "policies": len(candidate.policies),
            "tests": len(report.cases),
            "uncovered": report.uncovered,
        }
        files = {
            str(p.relative_to(candidate.directory)): p.read_text()
            for p in sorted(candidate.directory.rglob("*"))
            if p.is_file()
        }
        session.add(
            PolicyRevision(
                revision=candidate.revision,
                parent_revision=current,
                path=str(target),
                source=str(candidate.directory),
                applied_by=applied_by,
                applied_at=utcnow(),
                summary=summary,
                files=files,
            )
        )
    from lakeward.policy._engine import forget_engines

    forget_engines()
    AuditLog(catalog)._append(
        principal=applied_by,
        action="policy.apply",
        resource="platform",
        decision="allow",
        reasons=[f"installed revision {candidate.revision}"],
        request={"parent": current, "source": str(candidate.directory), **summary},
        bundle_hash=candidate.revision,
    )
    return {"revision": candidate.revision, "parent": current, "path": str(target), **summary}
