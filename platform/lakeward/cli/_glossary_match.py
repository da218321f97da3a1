"""``lakeward glossary match|review|accept|reject``: match columns to terms, review them.

Registered on the ``glossary`` group by :mod:`lakeward.cli.glossary`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from lakeward.cli._identity import catalog_and_me
from lakeward.cli._output import emit_json, err, out, table

if TYPE_CHECKING:
    from lakeward.glossary import Suggestion
    from lakeward.policy import TagChange

_STATUSES = ("suggested", "pending", "accepted", "rejected", "all")


def register(group: click.Group) -> None:
    """Add the match and review commands to ``group``."""
    group.add_command(match_command)
    group.add_command(review_command)
    group.add_command(accept_command)
    group.add_command(reject_command)


@click.command("match")
@click.option(
    "--glossary", "glossary_name", metavar="G", help="The glossary (default: the only one)."
)
@click.option("--dataset", "names", multiple=True, metavar="D", help="Only this dataset (repeat).")
@click.option(
    "--top-k", "top_k", type=int, default=5, show_default=True, help="Candidates per column."
)
@click.option(
    "--one-to-one",
    is_flag=True,
    help="Per table, give no two columns the same first term (Hungarian assignment).",
)
@click.option(
    "--changed-only",
    is_flag=True,
    help="Only columns that are new or whose metadata changed since the last match.",
)
@click.option(
    "--engine",
    type=click.Choice(["auto", "local", "spark"]),
    default="auto",
    show_default=True,
    help="Rank in-process, on Spark, or on Spark above 20,000 columns.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help='Print JSON: one {"dataset", "column", "abstained", "candidates": [{"term", "label", '
    '"score", "evidence"}]} per column, candidates best first.',
)
def match_command(
    glossary_name: str | None,
    names: tuple[str, ...],
    top_k: int,
    one_to_one: bool,
    changed_only: bool,
    engine: str,
    as_json: bool,
) -> None:
    """Rank glossary terms for every column from metadata only, and store the suggestions.

    Per dataset glossary.match is decided for you (audited; a refused dataset is skipped);
    only names, types and descriptions are read, never a value. Candidates at or above the
    matcher's calibrated threshold are stored for review (`lakeward glossary review`); below
    it the matcher abstains. Exits 1 when a dataset was refused.
    """
    from lakeward.glossary import MatchOutcome, match
    from lakeward.glossary._rerank import reranker_from_settings

    catalog, principal = catalog_and_me()
    report = match(
        catalog,
        principal,
        glossary=glossary_name,
        datasets=list(names) or None,
        top_k=top_k,
        one_to_one=one_to_one,
        changed_only=changed_only,
        engine=engine,
        reranker=reranker_from_settings(),
    )
    if as_json:
        emit_json([r.to_dict() for r in report.rankings])
    else:
        table(
            ["dataset", "column", "best term", "label", "score", ""],
            [
                [
                    r.dataset,
                    r.column,
                    r.candidates[0].term if r.candidates else "",
                    r.candidates[0].label if r.candidates else "",
                    f"{r.candidates[0].score:.2f}" if r.candidates else "",
                    "abstained" if r.abstained else "",
                ]
                for r in report.rankings
            ],
        )
        err.print(
            f"{len(report.rankings):,} column(s) ranked ({report.engine}) against glossary "
            f"{report.glossary} in {report.seconds:.1f} s; {len(report.new)} new suggestion(s)"
            + (": review them with `lakeward glossary review`" if report.new else ""),
            highlight=False,
            markup=False,
        )
    for d in report.by_status(MatchOutcome.NOT_PROFILED):
        err.print(f"skipped: {d.dataset}: {d.error}", highlight=False, markup=False)
    denied = report.by_status(MatchOutcome.DENIED)
    for d in denied:
        err.print(f"refused: {d.dataset}: {d.error}", highlight=False, markup=False)
    if denied:
        raise click.exceptions.Exit(1)


def _rows(items: list[Suggestion]) -> list[list[object]]:
    return [
        [
            s.dataset,
            s.column,
            s.term,
            s.label,
            f"{s.score:.2f}",
            s.status,
            ",".join(s.tags),
            ",".join(s.evidence.get("agreed", [])),
        ]
        for s in items
    ]


_HEADERS = ["dataset", "column", "term", "label", "score", "status", "tags", "agreed"]


@click.command("review")
@click.option(
    "--glossary", "glossary_name", metavar="G", help="The glossary (default: the only one)."
)
@click.option("--dataset", "names", multiple=True, metavar="D", help="Only this dataset (repeat).")
@click.option(
    "--status",
    type=click.Choice(_STATUSES),
    default="suggested",
    show_default=True,
    help="Which matches: waiting for a steward (suggested), for a second one (pending), ...",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON: a list of matches.")
def review_command(
    glossary_name: str | None, names: tuple[str, ...], status: str, as_json: bool
) -> None:
    """List stored matches with their score, tags and the signals that agreed."""
    from lakeward.glossary import review

    catalog, principal = catalog_and_me()
    items = review(
        catalog,
        principal,
        glossary=glossary_name,
        datasets=list(names) or None,
        status=None if status == "all" else status,
    )
    if as_json:
        emit_json([s.to_dict() for s in items])
        return
    table(_HEADERS, _rows(items))
    if items and status == "suggested":
        err.print(
            "accept one with `lakeward glossary accept DATASET.COLUMN TERM`, or reject it",
            highlight=False,
            markup=False,
        )


def _decided(stored: Suggestion, changes: list[TagChange], as_json: bool) -> None:
    if as_json:
        emit_json({**stored.to_dict(), "tag_changes": [c.to_dict() for c in changes]})
        return
    out.print(
        f"{stored.dataset}.{stored.column} → {stored.term} ({stored.label}): {stored.status}",
        highlight=False,
        markup=False,
    )
    for change in changes:
        out.print(
            f"  tag {change.tag} {change.action}" + ("" if change.changed else " (no change)"),
            highlight=False,
            markup=False,
        )
    if stored.status == "pending":
        err.print(
            "a second steward must accept it too: its tags include one that needs two "
            "(glossary.two_person_tags)",
            highlight=False,
            markup=False,
        )


def _review(target: str, term: str, glossary_name: str | None, as_json: bool, *, ok: bool) -> None:
    from lakeward.glossary import accept, reject
    from lakeward.tagging import resolve_target

    catalog, principal = catalog_and_me()
    dataset, column = resolve_target(catalog, target, column_required=True)
    decide = accept if ok else reject
    stored, changes = decide(catalog, principal, dataset, column, term, glossary=glossary_name)
    _decided(stored, changes, as_json)


@click.command("accept")
@click.argument("target", metavar="DATASET.COLUMN")
@click.argument("term", metavar="TERM")
@click.option(
    "--glossary", "glossary_name", metavar="G", help="The glossary (default: the only one)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the match and tag changes as JSON.")
def accept_command(target: str, term: str, glossary_name: str | None, as_json: bool) -> None:
    """Accept TERM for a column: its tags go on the column (tag.assign), policies see them."""
    _review(target, term, glossary_name, as_json, ok=True)


@click.command("reject")
@click.argument("target", metavar="DATASET.COLUMN")
@click.argument("term", metavar="TERM")
@click.option(
    "--glossary", "glossary_name", metavar="G", help="The glossary (default: the only one)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the match and tag changes as JSON.")
def reject_command(target: str, term: str, glossary_name: str | None, as_json: bool) -> None:
    """Reject TERM for a column: not suggested again until the column's metadata changes."""
    _review(target, term, glossary_name, as_json, ok=False)
