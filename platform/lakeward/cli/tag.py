"""``lakeward tag``: classify columns, review the classifier's suggestions, tag by hand.

``classify`` samples changed datasets on Spark and writes tags with their evidence;
``ls`` lists tags with status and provenance; ``approve``/``reject`` review a suggestion;
``add``/``remove`` tag by hand; ``explain`` shows every detector's evidence for a column.
Every change is decided as ``tag.assign`` for your authenticated principal and audited.
``DATASET.COLUMN``: dataset names contain dots, so the dataset is the longest registered name
that prefixes the argument (``sales.customers.email`` is column ``email`` of
``sales.customers``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from lakeward.cli._identity import catalog_and_me
from lakeward.cli._output import emit_json, err, out, progress, table

if TYPE_CHECKING:
    from lakeward.catalog import Catalog
    from lakeward.policy import TagChange

_STATUSES = ("suggested", "approved", "rejected")


@click.group()
def tag() -> None:
    """Column classification and tags: classify, ls, approve, reject, add, remove, explain."""


def _where(dataset: str, column: str) -> str:
    return f"{dataset}.{column}" if column else dataset


def _require_column(catalog: Catalog, dataset: str, column: str) -> None:
    """Refuse a column the dataset's current version does not have (a typo, most likely)."""
    from lakeward.catalog import DatasetRepository
    from lakeward.errors import InputError

    with catalog.session() as session:
        repo = DatasetRepository(session)
        version = repo.current_version(repo.require(dataset))
        columns = [c.name for c in version.columns] if version is not None else []
    if column not in columns:
        known = (
            ", ".join(columns)
            or f"none: profile it with `lakeward lake profile --dataset {dataset}`"
        )
        raise InputError(
            f"{dataset} has no column {column!r} (columns: {known}). Check the name with "
            f"`lakeward catalog show {dataset}`."
        )


def _print_change(change: TagChange) -> None:
    where = _where(change.dataset, change.column)
    verb = change.action if change.changed else f"{change.action} (no change)"
    out.print(f"{where}: {change.tag} {verb}", highlight=False, markup=False)
    for other in change.superseded:
        out.print(f"{where}: {other} superseded", highlight=False, markup=False)


def _emit_change(change: TagChange, as_json: bool) -> None:
    if as_json:
        emit_json(change.to_dict())
    else:
        _print_change(change)


@tag.command("classify")
@click.option(
    "--dataset",
    "names",
    multiple=True,
    metavar="D",
    help="Classify this dataset (repeatable; default: every registered dataset).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="The sample's seed.")
@click.option(
    "--sample-rows",
    type=click.IntRange(min=0),
    default=1000,
    show_default=True,
    help="Rows sampled per dataset at most.",
)
@click.option(
    "--purpose",
    default="data_governance",
    show_default=True,
    help="Declared purpose (the principal must have acknowledged it).",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print JSON: a list of {dataset, column, tag, confidence, source, status} for the "
    "datasets classified now or before.",
)
def classify_command(
    names: tuple[str, ...], seed: int, sample_rows: int, purpose: str, as_json: bool
) -> None:
    """Classify the columns of changed datasets from their names and sampled values.

    Per dataset: lake.read_content is decided for you (a refused dataset gets no tags), a
    bounded seeded sample is read on Spark, and each column gets semantic-type tags
    (type.email, ...) with their evidence: approved above the bundle's auto_approve
    thresholds, suggested otherwise (review them with `lakeward tag ls --status suggested`).
    Datasets whose current version was classified before are skipped. Approved tags then
    flow to contained copies (dedup's containment edges). Exits 1 when a dataset was
    refused, 2 when one failed; the others are classified.
    """
    from lakeward.errors import InputError
    from lakeward.settings import get_settings
    from lakeward.spark import parse_master
    from lakeward.tagging import ClassifyStatus, classify, list_tags

    parse_master(get_settings().spark.master)  # fail before touching the catalog
    catalog, principal = catalog_and_me()
    selected = list(names) or None
    total = len(selected) if selected else _count(catalog)
    with progress(total, "classifying") as advance:
        report = classify(
            catalog,
            principal,
            datasets=selected,
            purpose=purpose,
            seed=seed,
            sample_rows=sample_rows,
            progress=advance,
        )
    done = [
        d.dataset
        for d in report.datasets
        if d.status in (ClassifyStatus.CLASSIFIED, ClassifyStatus.UNCHANGED)
    ]
    if as_json:
        emit_json([r.to_dict() for r in list_tags(catalog, principal, datasets=done)])
    else:
        table(
            ["dataset", "status", "version", "changes", "error"],
            [
                [
                    d.dataset,
                    d.status.value,
                    d.version,
                    sum(1 for c in d.changes if c.changed),
                    (d.error or "").splitlines()[0] if d.error else "",
                ]
                for d in report.datasets
            ],
        )
        if report.propagated:
            err.print(
                f"{sum(1 for c in report.propagated if c.changed)} tag change(s) propagated "
                "along containment edges",
                highlight=False,
            )
        pending = sum(1 for c in report.changes if c.action == "suggested")
        if pending:
            err.print(
                f"{pending} new suggestion(s) await review: `lakeward tag ls --status suggested`",
                highlight=False,
                markup=False,
            )
    denied = report.by_status(ClassifyStatus.DENIED)
    failed = report.by_status(ClassifyStatus.FAILED) + report.by_status(ClassifyStatus.NOT_PROFILED)
    for d in denied:
        err.print(f"refused: {d.dataset}: {d.error}", highlight=False, markup=False)
    if failed:
        raise InputError(
            f"{len(failed)} dataset(s) not classified:\n"
            + "\n".join(f"  {d.dataset}: {d.error}" for d in failed)
        )
    if denied:
        raise click.exceptions.Exit(1)


def _count(catalog: Catalog) -> int:
    from lakeward.catalog import DatasetRepository

    with catalog.session() as session:
        return len(DatasetRepository(session).list())


@tag.command("ls")
@click.option("--dataset", "names", multiple=True, metavar="D", help="Only this dataset.")
@click.option("--status", type=click.Choice(_STATUSES), help="Only tags with this status.")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print JSON: a list of {dataset, column, tag, confidence, source, status}.",
)
def ls(names: tuple[str, ...], status: str | None, as_json: bool) -> None:
    """List tags with their status, source and confidence.

    Only datasets whose metadata you may read (catalog.read_metadata) are listed; ``column``
    is empty (null in JSON) for a tag on the whole dataset.
    """
    from lakeward.tagging import list_tags

    catalog, principal = catalog_and_me()
    records = list_tags(catalog, principal, datasets=list(names) or None, status=status)
    if as_json:
        emit_json([r.to_dict() for r in records])
        return
    table(
        ["dataset", "column", "tag", "status", "source", "confidence", "evidence"],
        [
            [
                r.dataset,
                r.column,
                r.tag,
                r.status,
                r.source,
                f"{r.confidence:.2f}",
                _short(r.evidence),
            ]
            for r in records
        ],
    )


def _short(text: str | None, width: int = 90) -> str:
    if not text:
        return ""
    return text if len(text) <= width else text[: width - 1] + "…"


def _review(target: str, tag_name: str, as_json: bool, *, approve: bool) -> None:
    from lakeward.policy import approve_tag, reject_tag
    from lakeward.tagging import list_tags, resolve_target

    catalog, principal = catalog_and_me()
    dataset, column = resolve_target(catalog, target, column_required=True)
    if not approve:
        _require_column(catalog, dataset, column)
    review = approve_tag if approve else reject_tag
    change = review(catalog, principal, dataset, tag_name, column=column)
    _emit_change(change, as_json)
    if not approve:
        remaining = [
            r
            for r in list_tags(catalog, principal, datasets=[dataset], status="approved")
            if r.column == column
        ]
        if not remaining:
            err.print(
                f"{dataset}.{column} has no approved tag now: it stays masked as unclassified "
                f"until one is approved (e.g. `lakeward tag add {dataset}.{column} "
                "not_sensitive`)",
                highlight=False,
                markup=False,
            )


@tag.command("approve")
@click.argument("target", metavar="DATASET.COLUMN")
@click.argument("tag_name", metavar="TAG")
@click.option("--json", "as_json", is_flag=True, help="Print the change as JSON.")
def approve(target: str, tag_name: str, as_json: bool) -> None:
    """Approve a suggested TAG on DATASET.COLUMN: policies see it from now on.

    Approving not_sensitive rejects the suggestions pending on the column; approving another
    tag drops the classifier's not_sensitive from it.
    """
    _review(target, tag_name, as_json, approve=True)


@tag.command("reject")
@click.argument("target", metavar="DATASET.COLUMN")
@click.argument("tag_name", metavar="TAG")
@click.option("--json", "as_json", is_flag=True, help="Print the change as JSON.")
def reject(target: str, tag_name: str, as_json: bool) -> None:
    """Reject TAG on DATASET.COLUMN; it is not suggested again until the column changes."""
    _review(target, tag_name, as_json, approve=False)


@tag.command("add")
@click.argument("target", metavar="DATASET[.COLUMN]")
@click.argument("tag_name", metavar="TAG")
@click.option("--json", "as_json", is_flag=True, help="Print the change as JSON.")
def add(target: str, tag_name: str, as_json: bool) -> None:
    """Put TAG on a dataset or one of its columns, approved (source manual)."""
    from lakeward.policy import assign_tag
    from lakeward.tagging import resolve_target

    catalog, principal = catalog_and_me()
    dataset, column = resolve_target(catalog, target, column_required=False)
    if column:
        _require_column(catalog, dataset, column)
    _emit_change(assign_tag(catalog, principal, dataset, tag_name, column=column), as_json)


@tag.command("remove")
@click.argument("target", metavar="DATASET[.COLUMN]")
@click.argument("tag_name", metavar="TAG")
@click.option("--json", "as_json", is_flag=True, help="Print the change as JSON.")
def remove(target: str, tag_name: str, as_json: bool) -> None:
    """Take TAG off a dataset or one of its columns (whatever its status or source)."""
    from lakeward.errors import NotFound
    from lakeward.policy import remove_tag
    from lakeward.tagging import resolve_target

    catalog, principal = catalog_and_me()
    dataset, column = resolve_target(catalog, target, column_required=False)
    change = remove_tag(catalog, principal, dataset, tag_name, column=column)
    if not change.changed:
        raise NotFound(
            f"{_where(dataset, column)} has no tag {tag_name!r}; list its tags with "
            f"`lakeward tag ls --dataset {dataset}`."
        )
    _emit_change(change, as_json)


@tag.command("explain")
@click.argument("target", metavar="DATASET.COLUMN")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def explain(target: str, as_json: bool) -> None:
    """Show every detector's evidence about a column and where each of its tags came from."""
    from lakeward.tagging import explain_column, resolve_target

    catalog, principal = catalog_and_me()
    dataset, column = resolve_target(catalog, target, column_required=True)
    explained = explain_column(catalog, principal, dataset, column)
    data = explained.to_dict()
    if as_json:
        emit_json(data)
        return
    _print_explanation(data)


def _print_explanation(data: dict[str, Any]) -> None:
    head = f"{data['dataset']}.{data['column']}  ({data['declared_type'] or 'not profiled'})"
    out.print(head, highlight=False, markup=False)
    if data["classified_version"] is None:
        out.print("never classified: run `lakeward tag classify`", highlight=False, markup=False)
    else:
        stale = "" if data["classified_version"] == data["version"] else " (an older one)"
        sample = data["sample"]
        line = f"classified at version {data['classified_version']}{stale}"
        if sample.get("masked"):
            line += "; its values were not read (masked by policy for the classifier)"
        elif "rows_sampled" in sample:
            line += (
                f"; {sample.get('values', 0):,} non-null values in "
                f"{sample.get('rows_sampled', 0):,} sampled rows"
            )
        out.print(line, highlight=False, markup=False)
    table(
        ["type", "source", "confidence", "leaf", "evidence"],
        [
            [
                e.get("type"),
                e.get("source"),
                f"{float(e.get('confidence', 0)):.2f}",
                e.get("leaf") if e.get("leaf") != data["column"] else "",
                e.get("text"),
            ]
            for e in data["evidence"]
        ],
        title="detectors",
    )
    table(
        ["tag", "status", "source", "confidence", "reviewed_by", "evidence"],
        [
            [
                t["tag"],
                t["status"],
                t["source"],
                f"{t['confidence']:.2f}",
                t["reviewed_by"],
                t["evidence"],
            ]
            for t in data["tags"]
        ],
        title="tags",
    )
    for name in data["rejections_expired"]:
        out.print(
            f"{name}: rejected for an earlier state of the column; it may be suggested again",
            highlight=False,
            markup=False,
        )
