"""``lakeward catalog``: read the metadata catalog."""

from __future__ import annotations

import click

from lakeward._units import human_bytes
from lakeward.cli._output import emit_json, out, table


@click.group()
def catalog() -> None:
    """The metadata catalog (datasets, versions, columns, tags)."""


@catalog.command("ls")
@click.option(
    "--json", "as_json", is_flag=True, help="Print JSON: a list of datasets with columns."
)
def ls(as_json: bool) -> None:
    """List registered datasets with their statistics."""
    from lakeward.catalog import Catalog, DatasetRepository, dataset_summary

    with Catalog.shared().session() as session:
        repo = DatasetRepository(session)
        datasets = [dataset_summary(repo, d) for d in repo.list()]
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
    """Show one dataset: columns with statistics, tags and version history."""
    from lakeward.catalog import Catalog, DatasetRepository, dataset_summary

    with Catalog.shared().session() as session:
        repo = DatasetRepository(session)
        dataset = repo.require(name)
        summary = dataset_summary(repo, dataset, with_tags=True)
        summary["versions"] = [
            {
                "version": v.version,
                "rows": v.rows,
                "bytes": v.bytes,
                "files": v.file_count,
                "fingerprint": v.fingerprint,
                "profiled_at": v.profiled_at.isoformat(),
                "profiled_by": v.profiled_by,
                "seconds": round(v.profile_seconds, 3),
            }
            for v in dataset.versions
        ]
    if as_json:
        emit_json(summary)
        return
    out.print(f"[bold]{summary['name']}[/]  {summary['uri']}", highlight=False)
    out.print(
        f"format {summary['format']} ({summary['layout']}, {summary['files']} files), version "
        f"{summary['version']}, {summary['rows']} rows, {human_bytes(summary['bytes'])}, "
        f"fingerprint {str(summary['fingerprint'])[:16]}",
        highlight=False,
    )
    table(
        ["column", "type", "min", "max", "nulls", "distinct"],
        [
            [c["name"], c["type"], c["min"], c["max"], c["nulls"], c["distinct"]]
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
