"""``lakeward catalog``: read the metadata catalog."""

from __future__ import annotations

import click

from lakeward._units import human_bytes
from lakeward.cli._output import emit_json, out, table


@click.group()
def catalog() -> None:
    """The metadata catalog (datasets, versions, columns, tags)."""


_MASKED = "(masked)"


@catalog.command("ls")
@click.option(
    "--json", "as_json", is_flag=True, help="Print JSON: a list of datasets with columns."
)
def ls(as_json: bool) -> None:
    """List the datasets whose metadata you may read, with their statistics.

    Each dataset is decided as ``catalog.read_metadata`` for you; the min/max of columns the
    policy masks for you are withheld, and datasets you may not see are left out.
    """
    from lakeward.catalog import Catalog, describe_datasets
    from lakeward.cli._identity import me
    from lakeward.cli._output import err

    cat = Catalog.shared()
    listing = describe_datasets(cat, me(cat).name)
    if listing.hidden:
        err.print(
            f"{listing.hidden} dataset(s) not shown: catalog.read_metadata is denied to you",
            highlight=False,
        )
    datasets = listing.datasets
    if as_json:
        emit_json(datasets)
        return
    table(
        ["name", "format", "version", "rows", "size", "columns", "uri"],
        [
            [
                d["name"],
                d["format"],
                d["version"],
                d["rows"],
                human_bytes(d["bytes"]),
                len(d["columns"]),
                d["uri"],
            ]
            for d in datasets
        ],
    )


@catalog.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show(name: str, as_json: bool) -> None:
    """Show one dataset: columns with statistics, tags and version history.

    Decided as ``catalog.read_metadata`` for you; columns the policy masks for you show no
    min/max (``"masked": true`` with the reason in JSON).
    """
    from lakeward.catalog import Catalog, describe_dataset
    from lakeward.cli._identity import me

    cat = Catalog.shared()
    summary = describe_dataset(cat, me(cat).name, name)
    if as_json:
        emit_json(summary)
        return
    out.print(f"[bold]{summary['name']}[/]  {summary['uri']}", highlight=False)
    out.print(
        f"format {summary['format']} ({summary['layout']}, {summary['files']} files), version "
        f"{summary['version']}, "
        f"{'no' if summary['rows'] is None else summary['rows']} rows, "
        f"{human_bytes(summary['bytes'])}, "
        f"fingerprint {str(summary['fingerprint'])[:16]}",
        highlight=False,
    )
    table(
        ["column", "type", "min", "max", "nulls", "distinct"],
        [
            [
                c["name"],
                c["type"],
                _MASKED if c.get("masked") else c["min"],
                _MASKED if c.get("masked") else c["max"],
                c["nulls"],
                c["distinct"],
            ]
            for c in summary["columns"]
        ],
    )
    if summary["tags"]:
        table(
            ["tag", "column", "source", "confidence"],
            [[t["name"], t["column"], t["source"], t["confidence"]] for t in summary["tags"]],
        )
    table(
        ["version", "rows", "size", "profiled_at", "by"],
        [
            [v["version"], v["rows"], human_bytes(v["bytes"]), v["profiled_at"], v["profiled_by"]]
            for v in summary["versions"]
        ],
    )


@catalog.command("import-schema")
@click.argument("path", metavar="FILE", type=click.Path(dir_okay=False))
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print JSON: a list of {name, status, version, columns, uri}.",
)
def import_schema_command(path: str, as_json: bool) -> None:
    """Record tables known only by their schema (no files) as metadata-only datasets.

    FILE is JSON Lines, one table per line: {"name": ..., "description": ..., "columns":
    [{"name": ..., "type": ..., "description": ...}]} (description and type optional; SQL
    types such as varchar(255), integer, numeric(10,2), timestamp with time zone are stored as
    Spark types). The whole file is checked first: on any problem nothing is imported (exit 2).
    Decided as lake.register for you. Profiling and dedup skip these datasets; glossary
    matching and tagging judge them from their names.
    """
    from lakeward.catalog import Catalog
    from lakeward.cli._identity import me
    from lakeward.lake import import_schema

    cat = Catalog.shared()
    tables = import_schema(cat, me(cat).name, path)
    if as_json:
        emit_json([t.to_dict() for t in tables])
        return
    table(
        ["dataset", "status", "version", "columns"],
        [[t.name, t.status, t.version, t.columns] for t in tables],
    )
    counts = {s: sum(1 for t in tables if t.status == s) for s in ("added", "updated", "unchanged")}
    click.echo(", ".join(f"{n} {s}" for s, n in counts.items()) + " (metadata only)")


@catalog.command("ddl")
@click.option("--dialect", type=click.Choice(["sqlite", "postgresql"]), required=True)
def ddl(dialect: str) -> None:
    """Print the catalog's DDL for a dialect (what sql/ holds)."""
    from lakeward.catalog._ddl import render_ddl

    click.echo(render_ddl(dialect), nl=False)


@catalog.command("upgrade")
def upgrade() -> None:
    """Create or migrate the catalog schema to the newest revision."""
    from lakeward.catalog import Catalog

    cat = Catalog.open(migrate=False)
    cat.upgrade()
    click.echo(
        f"catalog at {cat.engine.url.render_as_string(hide_password=True)} is up to date", err=True
    )
