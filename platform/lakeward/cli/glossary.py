"""``lakeward glossary``: business glossaries, and matching columns to their terms.

``import`` reads a JSON Lines, CSV or YAML glossary into the catalog (decided as
``glossary.manage`` for your authenticated principal, audited; the whole file is checked
first); ``export`` writes it back in any of the three formats; ``ls`` lists glossaries;
``terms`` lists one glossary's terms.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from lakeward.cli._identity import catalog_and_me
from lakeward.cli._output import emit_json, err, out, table

if TYPE_CHECKING:
    pass

_FORMATS = ("jsonl", "csv", "yaml")


@click.group()
def glossary() -> None:
    """Business glossaries: import, export, ls, terms."""


# --------------------------------------------------------------------------------------------
# Glossaries: import, export, ls, terms
# --------------------------------------------------------------------------------------------


@glossary.command("import")
@click.argument("path", metavar="FILE", type=click.Path(dir_okay=False))
@click.option("--name", "name", required=True, metavar="G", help="The glossary's name.")
@click.option(
    "--replace",
    is_flag=True,
    help="Deprecate the glossary's terms the file no longer has (default: keep them). Terms "
    "are never deleted; reviews are kept.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(_FORMATS),
    help="The file's format (default: from its extension: .jsonl/.ndjson, .csv, .yaml/.yml).",
)
@click.option("--description", default=None, help="The glossary's description.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: what changed.")
def import_command(
    path: str,
    name: str,
    replace: bool,
    fmt: str | None,
    description: str | None,
    as_json: bool,
) -> None:
    """Import FILE as glossary G, or update G from it (terms matched by id).

    Every term has an id and a label, optionally description, synonyms, parent, tags (from
    the policy bundle's tags.yaml), owner and status (active, draft, deprecated). The whole
    file is checked first: on any problem nothing is imported and every problem is listed
    with its line (exit 2). Importing is decided as glossary.manage for you (stewards and
    admins, purpose data_governance). An import that changes nothing records no version.
    """
    from lakeward.glossary._store import import_glossary

    catalog, principal = catalog_and_me()
    result = import_glossary(
        catalog, principal, path, name=name, replace=replace, fmt=fmt, description=description
    )
    if as_json:
        emit_json(result.to_dict())
        return
    if not result.changed:
        click.echo(f"{result.glossary}: no change (version {result.version})")
        return
    click.echo(
        f"{result.glossary} version {result.version}: {len(result.added)} added, "
        f"{len(result.updated)} updated, {len(result.deprecated)} deprecated, "
        f"{result.unchanged} unchanged"
        + (
            f", {result.kept} kept (not in the file; --replace deprecates them)"
            if result.kept
            else ""
        )
    )


@glossary.command("export")
@click.argument("name", metavar="G")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(_FORMATS),
    default="jsonl",
    show_default=True,
    help="The format to write.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True),
    help="Write to this file (default: stdout). At a server it is written here, by the client.",
)
def export_command(name: str, fmt: str, output: str | None) -> None:
    """Export glossary G with every term and field (importing it again changes nothing)."""
    from lakeward.glossary._store import export_glossary

    catalog, _ = catalog_and_me()
    text = export_glossary(catalog, name, fmt)
    if output is None:
        click.echo(text, nl=False)
        return
    from pathlib import Path

    Path(output).write_text(text, encoding="utf-8")
    err.print(f"wrote {name} ({fmt}) to {output}", highlight=False, markup=False)


@glossary.command("ls")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print JSON: a list of {name, description, version, terms: {status: count}, updated_at}.",
)
def ls_command(as_json: bool) -> None:
    """List the glossaries with their version and term counts."""
    from lakeward.glossary._store import list_glossaries

    catalog, _ = catalog_and_me()
    infos = list_glossaries(catalog)
    if as_json:
        emit_json([i.to_dict() for i in infos])
        return
    if not infos:
        err.print("no glossaries: import one with `lakeward glossary import FILE --name G`")
        return
    table(
        ["glossary", "version", "active", "draft", "deprecated", "updated", "description"],
        [
            [
                i.name,
                i.version,
                i.terms.get("active", 0),
                i.terms.get("draft", 0),
                i.terms.get("deprecated", 0),
                i.updated_at.isoformat(timespec="seconds") if i.updated_at else "",
                i.description,
            ]
            for i in infos
        ],
    )


@glossary.command("terms")
@click.argument("name", metavar="G")
@click.option("--all", "include_all", is_flag=True, help="Also draft and deprecated terms.")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print JSON: a list of {id, label, description, synonyms, parent, tags, owner, status}.",
)
def terms_command(name: str, include_all: bool, as_json: bool) -> None:
    """List the terms of glossary G (active ones; --all for every term)."""
    from lakeward.glossary._store import term_records

    catalog, _ = catalog_and_me()
    records = term_records(catalog, name, include_inactive=include_all)
    if as_json:
        emit_json(records)
        return
    table(
        ["id", "label", "status", "tags", "parent", "synonyms"],
        [
            [
                r["id"],
                r["label"],
                r["status"],
                ", ".join(r["tags"]),
                r["parent"],
                ", ".join(r["synonyms"]),
            ]
            for r in records
        ],
    )
    if not records:
        out.print("(no terms)" if include_all else "(no active terms; --all shows every term)")


# --------------------------------------------------------------------------------------------
# Matching and review: match, review, accept, reject (below)
# --------------------------------------------------------------------------------------------

from lakeward.cli._glossary_match import register as _register_matching  # noqa: E402

_register_matching(glossary)
