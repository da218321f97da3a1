"""``lakeward policy``: the policy admin CLI.

Read commands take ``--json``. Exit codes: 0 ok/allow, 1 deny or failed check (invalid
bundle, failing tests, broken audit chain), 2 usage or input error. ``apply`` and
``budget grant`` change the active bundle and are dry runs unless ``--yes``.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import click
import yaml

from lakeward.cli._output import emit_json, err, out, table


def _fail(code: int) -> None:
    raise click.exceptions.Exit(code)


def _catalog() -> Any:
    from lakeward.catalog import Catalog

    return Catalog.shared()


def _bundle(path: str | None) -> Any:
    from lakeward.policy import active_bundle_dir, load_bundle

    return load_bundle(Path(path) if path else active_bundle_dir(_catalog()))


def _engine(path: str | None) -> Any:
    from lakeward.policy import PolicyEngine, default_engine

    return PolicyEngine(_bundle(path), _catalog()) if path else default_engine()


def _me() -> str:
    from lakeward.cli._identity import me

    return me().name


bundle_option = click.option(
    "--bundle", "bundle_dir", default=None, help="Bundle directory (default: the active bundle)."
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


@click.group()
def policy() -> None:
    """Policies, purposes, privacy budgets, approvals and the audit log."""


@policy.command()
@bundle_option
@json_option
def validate(bundle_dir: str | None, as_json: bool) -> None:
    """Validate a bundle: Cedar syntax, schema, @ids, tags, principals, purposes, caps."""
    from lakeward.policy import PolicyBundleError

    try:
        bundle = _bundle(bundle_dir)
    except PolicyBundleError as exc:
        if as_json:
            emit_json({"valid": False, "problems": exc.problems})
        else:
            err.print(
                "\n".join(["invalid bundle:", *(f"  {p}" for p in exc.problems)]),
                highlight=False,
                markup=False,
            )
        _fail(1)
        return
    summary = {
        "valid": True,
        "directory": str(bundle.directory),
        "revision": bundle.revision,
        "policies": len(bundle.policies),
        "users": len(bundle.users),
        "purposes": sorted(bundle.purposes),
        "tags": sorted(bundle.tags),
    }
    if as_json:
        emit_json(summary)
    else:
        click.echo(
            f"valid: {summary['policies']} policies, revision {bundle.revision[:12]} "
            f"({bundle.directory})"
        )


@policy.command("test")
@bundle_option
@json_option
def test_(bundle_dir: str | None, as_json: bool) -> None:
    """Run the bundle's policy tests (tests/*.yaml) and report coverage per policy id."""
    from lakeward.policy import run_policy_tests

    report = run_policy_tests(_bundle(bundle_dir))
    if as_json:
        emit_json(report.to_dict())
    else:
        for case in report.cases:
            mark = "ok  " if case.passed else "FAIL"
            click.echo(f"{mark} {case.file}: {case.name}")
            if not case.passed:
                click.echo(f"     expected {case.expected}\n     got      {case.actual}")
        table(["policy", "cases"], sorted(report.coverage.items()))
        click.echo(
            f"{len(report.cases) - len(report.failed)} passed, {len(report.failed)} failed; "
            f"uncovered policies: {', '.join(report.uncovered) or 'none'}"
        )
    if report.failed:
        _fail(1)


def _context(purpose: str | None, flags: tuple[str, ...]) -> dict[str, Any]:
    context: dict[str, Any] = {"purpose": purpose or ""}
    for flag in flags:
        key, sep, value = flag.partition("=")
        if not sep or value.lower() not in ("true", "false"):
            raise click.BadParameter(f"{flag!r}: use KEY=true|false (encrypted, dp, approved)")
        context[key] = value.lower() == "true"
    return context


@policy.command()
@click.argument("principal")
@click.argument("action")
@click.argument("resource")
@click.option("--purpose", default=None, help="Declared purpose.")
@click.option("--context", "flags", multiple=True, help="KEY=true|false (encrypted, dp, approved).")
@bundle_option
@json_option
def explain(
    principal: str,
    action: str,
    resource: str,
    purpose: str | None,
    flags: tuple[str, ...],
    bundle_dir: str | None,
    as_json: bool,
) -> None:
    """Decide one request and explain why (exit 1 when denied). Not audited: a dry question."""
    decision = _engine(bundle_dir).decide(principal, action, resource, _context(purpose, flags))
    if as_json:
        emit_json(decision.to_dict())
    else:
        out.print(decision.explain(), highlight=False, markup=False)
    if not decision.allowed:
        _fail(1)


@policy.command()
@click.argument("candidate", type=click.Path(exists=True, file_okay=False))
@click.option("--limit", default=100_000, show_default=True, help="Audit records to replay.")
@json_option
def diff(candidate: str, limit: int, as_json: bool) -> None:
    """Replay the requests in the audit log under the candidate bundle; list changed decisions."""
    from dataclasses import asdict

    from lakeward.policy import diff_bundles, load_bundle

    changes = diff_bundles(_catalog(), _bundle(None), load_bundle(candidate), limit=limit)
    if as_json:
        emit_json([asdict(c) for c in changes])
        return
    table(
        ["principal", "action", "resource", "before", "by", "after", "by"],
        [
            [
                c.principal,
                c.action,
                c.resource,
                c.before,
                ",".join(c.before_policies),
                c.after,
                ",".join(c.after_policies),
            ]
            for c in changes
        ],
    )
    click.echo(f"{len(changes)} decision(s) would change")


def _apply(candidate: Path, yes: bool, as_json: bool) -> None:
    from dataclasses import asdict

    from lakeward.policy import apply_bundle, diff_bundles, load_bundle, revisions, run_policy_tests
    from lakeward.settings import get_settings

    catalog = _catalog()
    principal = _me()
    history = revisions(catalog)
    parent = history[0]["revision"] if history else None
    current = _bundle(None)
    bundle = load_bundle(candidate)
    report = run_policy_tests(bundle)
    changes = diff_bundles(catalog, current, bundle)
    plan = {
        "candidate": bundle.revision,
        "active": current.revision,
        "tests_failed": len(report.failed),
        "changes": [asdict(c) for c in changes],
        "applied": False,
    }
    if not yes or report.failed:
        if as_json:
            emit_json(plan)
        else:
            click.echo(
                f"dry run: would install {bundle.revision[:12]} over {current.revision[:12]}; "
                f"{len(report.cases) - len(report.failed)}/{len(report.cases)} tests pass; "
                f"{len(changes)} recorded decision(s) would change. Re-run with --yes."
            )
        if report.failed:
            _fail(1)
        return
    result = apply_bundle(
        catalog, candidate, applied_by=principal, expected_parent=parent, home=get_settings().home
    )
    plan |= {"applied": True, **result}
    if as_json:
        emit_json(plan)
    else:
        click.echo(
            f"applied revision {result['revision'][:12]} (parent {str(result['parent'])[:12]})"
        )


@policy.command()
@click.argument("candidate", type=click.Path(exists=True, file_okay=False))
@click.option("--yes", is_flag=True, help="Really install (default: dry run).")
@json_option
def apply(candidate: str, yes: bool, as_json: bool) -> None:
    """Install CANDIDATE as the active bundle after validate + test pass (dry run unless --yes).

    You act as your authenticated principal, which needs ``policy.admin``.
    """
    _apply(Path(candidate), yes, as_json)


@policy.command()
@json_option
def log(as_json: bool) -> None:
    """Applied bundle revisions, newest first."""
    from lakeward.policy import revisions

    rows = revisions(_catalog())
    if as_json:
        emit_json(rows)
        return
    table(
        ["revision", "parent", "applied_by", "applied_at", "policies"],
        [
            [
                r["revision"][:12],
                (r["parent"] or "")[:12],
                r["applied_by"],
                r["applied_at"],
                r["summary"].get("policies"),
            ]
            for r in rows
        ],
    )


@policy.group()
def audit() -> None:
    """The MAC-chained, anchored audit log."""


@audit.command()
@json_option
def verify(as_json: bool) -> None:
    """Check the audit chain (MACs, anchor) and the budget ledger against it.

    Exit 1 and name the first bad record, or the ledger entries that do not reconcile.
    """
    from lakeward.catalog import AuditLog
    from lakeward.policy._budget import reconcile_ledger

    catalog = _catalog()
    brk = AuditLog(catalog).verify()
    problems = reconcile_ledger(catalog)
    serious = [p for p in problems if p.serious]
    if as_json:
        emit_json(
            {
                "intact": brk is None,
                "first_bad_seq": brk.seq if brk else None,
                "reason": brk.reason if brk else None,
                "ledger_reconciled": not serious,
                "ledger": [
                    {"reservation": p.reservation, "reason": p.reason, "serious": p.serious}
                    for p in problems
                ],
            }
        )
    else:
        if brk is None:
            click.echo("audit chain intact")
        else:
            err.print(
                f"audit chain broken at record {brk.seq}: {brk.reason}",
                highlight=False,
                markup=False,
            )
        if not problems:
            click.echo("budget ledger reconciles with the audit log")
        for p in problems:
            line = ("ledger: " if p.serious else "ledger (warning): ") + p.reason
            err.print(line, highlight=False, markup=False)
    if brk is not None or serious:
        _fail(1)


@audit.command()
@click.option("-n", "limit", default=20, show_default=True)
@json_option
def tail(limit: int, as_json: bool) -> None:
    """The newest audit records."""
    from lakeward.catalog import AuditLog

    records = AuditLog(_catalog()).tail(limit)
    rows: list[dict[str, Any]] = [
        {
            "seq": r.seq,
            "at": r.at.isoformat(),
            "principal": r.principal,
            "action": r.action,
            "resource": r.resource,
            "purpose": r.purpose,
            "decision": r.decision,
            "reasons": r.reasons,
            "bundle": (r.bundle_hash or "")[:12],
        }
        for r in records
    ]
    if as_json:
        emit_json(rows)
        return
    table(
        ["seq", "at", "principal", "action", "resource", "decision", "reasons"],
        [
            [
                r["seq"],
                r["at"],
                r["principal"],
                r["action"],
                r["resource"],
                r["decision"],
                "; ".join(r["reasons"])[:80],
            ]
            for r in rows
        ],
    )


@policy.group()
def budget() -> None:
    """The rho-zCDP privacy-budget ledger."""


@budget.command("show")
@json_option
def budget_show(as_json: bool) -> None:
    """Caps, committed and reserved spend, and what remains, per (unit, principal, purpose)."""
    from lakeward.policy import BudgetLedger

    bundle = _bundle(None)
    rows = BudgetLedger(_catalog(), bundle).summary()
    listed = {(r["unit"], r["principal"], r["purpose"]) for r in rows}
    rows += [
        {
            "unit": c.unit,
            "principal": c.principal,
            "purpose": c.purpose,
            "committed": 0.0,
            "reserved": 0.0,
            "cap": c.rho,
            "remaining": c.rho,
        }
        for c in bundle.caps
        if (c.unit, c.principal, c.purpose) not in listed
    ]
    if as_json:
        emit_json(rows)
        return
    table(
        ["unit", "principal", "purpose", "cap", "committed", "reserved", "remaining"],
        [
            [
                r["unit"],
                r["principal"],
                r["purpose"],
                r["cap"],
                r["committed"],
                r["reserved"],
                r["remaining"],
            ]
            for r in rows
        ],
    )


@budget.command("grant")
@click.argument("unit")
@click.argument("principal")
@click.argument("purpose")
@click.argument("rho", type=float)
@click.option(
    "--yes", is_flag=True, help="Really apply the new bundle revision (default: dry run)."
)
@json_option
def budget_grant(
    unit: str, principal: str, purpose: str, rho: float, yes: bool, as_json: bool
) -> None:
    """Set the lifetime cap for (UNIT, PRINCIPAL, PURPOSE) to RHO as a new bundle revision.

    PRINCIPAL is the subject of the cap; you act as your authenticated principal, which
    needs ``policy.admin``.

    Caps never refresh: lowering one below what is already spent blocks further spends.
    """
    current = _bundle(None)
    with tempfile.TemporaryDirectory(prefix="lakeward-grant-") as scratch:
        candidate = Path(scratch) / "bundle"
        shutil.copytree(current.directory, candidate)
        data = yaml.safe_load((candidate / "budgets.yaml").read_text()) or {}
        caps = [
            c
            for c in data.get("caps") or []
            if (c.get("unit"), c.get("principal"), c.get("purpose")) != (unit, principal, purpose)
        ]
        caps.append({"unit": unit, "principal": principal, "purpose": purpose, "rho": rho})
        (candidate / "budgets.yaml").write_text(
            "# Lifetime rho-zCDP caps (see lakeward policy budget grant).\n"
            + yaml.safe_dump({"caps": caps}, sort_keys=False)
        )
        _apply(candidate, yes, as_json)


@policy.group()
def purpose() -> None:
    """Purposes and their acknowledgements."""


@purpose.command("ack")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Acknowledge without showing the text first.")
def purpose_ack(name: str, yes: bool) -> None:
    """Acknowledge purpose NAME's text for yourself (recorded and audited)."""
    from lakeward.policy import acknowledge_purpose

    principal = _me()
    bundle = _bundle(None)
    if name in bundle.purposes and not yes:
        err.print(f"{name}: {bundle.purposes[name]}", highlight=False, markup=False)
        if not click.confirm("Acknowledge?", err=True, default=False):
            _fail(1)
    acknowledge_purpose(_catalog(), bundle, principal, name)
    click.echo(f"{principal} acknowledged {name}")


@purpose.command("ls")
@json_option
def purpose_ls(as_json: bool) -> None:
    """Purposes and their texts."""
    bundle = _bundle(None)
    if as_json:
        emit_json(bundle.purposes)
        return
    table(["purpose", "text"], sorted(bundle.purposes.items()))


@policy.group()
def approval() -> None:
    """Two-person approvals."""


def _approval_row(a: Any) -> dict[str, Any]:
    return {
        "id": a.id,
        "kind": a.kind,
        "subject": a.subject,
        "state": a.state,
        "requested_by": a.requested_by,
        "decided_by": a.decided_by,
        "reason": a.reason,
        "details": a.details,
    }


@approval.command("list")
@click.option("--state", type=click.Choice(["pending", "approved", "rejected", "consumed"]))
@json_option
def approval_list(state: str | None, as_json: bool) -> None:
    """Approvals, newest first."""
    from lakeward.policy import Approvals

    rows = [_approval_row(a) for a in Approvals(_engine(None)).list(state)]
    if as_json:
        emit_json(rows)
        return
    table(
        ["id", "kind", "subject", "state", "requested_by", "decided_by"],
        [
            [r["id"], r["kind"], r["subject"], r["state"], r["requested_by"], r["decided_by"]]
            for r in rows
        ],
    )


@approval.command("approve")
@click.argument("approval_id", type=int)
@click.option("--reason", default=None)
def approval_approve(approval_id: int, reason: str | None) -> None:
    """Approve a pending request as yourself: a second, permitted principal."""
    from lakeward.policy import Approvals

    principal = _me()
    a = Approvals(_engine(None)).approve(approval_id, principal, reason)
    click.echo(f"approval #{a.id} approved by {principal}")


@approval.command("reject")
@click.argument("approval_id", type=int)
@click.option("--reason", default=None)
def approval_reject(approval_id: int, reason: str | None) -> None:
    """Reject a pending request as yourself."""
    from lakeward.policy import Approvals

    principal = _me()
    a = Approvals(_engine(None)).reject(approval_id, principal, reason)
    click.echo(f"approval #{a.id} rejected by {principal}")
