"""``lakeward lake``: make, register and profile a data lake."""

from __future__ import annotations

from typing import Any

import click

from lakeward.cli._output import emit_json, err, progress, table, wait_option


@click.group()
def lake() -> None:
    """The data lake: generate a sample, register datasets, profile them on Spark."""


@lake.command("generate")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=True),
    help="Directory to write the lake into.",
)
@click.option(
    "--seed", default=7, show_default=True, type=int, help="Random seed (same seed, same bytes)."
)
@click.option(
    "--size-mb", default=50.0, show_default=True, type=float, help="Approximate lake size in MB."
)
@click.option("--overwrite", is_flag=True, help="Replace a lake this command generated before.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def generate(out_dir: str, seed: int, size_mb: float, overwrite: bool, as_json: bool) -> None:
    """Generate a realistic sample enterprise lake with planted redundancy and a manifest."""
    from lakeward.lake import generate_lake

    quiet = as_json or not err.is_terminal
    lake_info = generate_lake(
        out_dir,
        seed=seed,
        size_mb=size_mb,
        overwrite=overwrite,
        progress=None if quiet else (lambda msg: err.print(f"  {msg}", highlight=False)),
    )
    result: dict[str, Any] = {
        "root": str(lake_info.root),
        "manifest": str(lake_info.manifest_path),
        "datasets": lake_info.datasets,
        "derivations": lake_info.derivations,
        "bytes": lake_info.bytes,
    }
    if as_json:
        emit_json(result)
    else:
        click.echo(
            f"{result['datasets']} datasets, {result['derivations']} planted derivations, "
            f"{result['bytes'] / 1e6:.1f} MB in {result['root']} (manifest {result['manifest']})"
        )


@lake.command("register")
@click.argument("root")
@click.option("--owner", default=None, help="Owner recorded on newly registered datasets.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def register(root: str, owner: str | None, as_json: bool) -> None:
    """Discover the datasets under ROOT and record them in the catalog (idempotent)."""
    from lakeward.catalog import Catalog
    from lakeward.lake import register_lake

    report = register_lake(Catalog.shared(), root, owner=owner)
    if as_json:
        emit_json(report.to_dict())
        return
    click.echo(f"{len(report.added)} new, {len(report.known)} known datasets under {report.root}")
    if report.missing:
        err.print(f"no longer in the lake: {', '.join(report.missing)}", highlight=False)
    _print_warnings(report.warnings)


def _print_warnings(warnings: list[str]) -> None:
    """Paths discovery skipped (links) and names it had to disambiguate, on stderr."""
    for line in warnings:
        err.print(f"warning: {line}", highlight=False, markup=False)


def _print_report(data: dict[str, Any]) -> None:
    table(
        ["dataset", "status", "version", "rows", "columns", "seconds"],
        [
            [d["name"], d["status"], d["version"], d["rows"], d["columns"], f"{d['seconds']:.2f}"]
            for d in data["datasets"]
        ],
    )
    click.echo(
        f"{data['profiled']} profiled, {data['unchanged']} unchanged, {data['failed']} failed, "
        f"{data['denied']} denied"
        + (f", {data['skipped']} skipped (metadata only)" if data.get("skipped") else "")
        + f" in {data['seconds']:.1f} s"
    )


def _denial_lines(denied: dict[str, str], shown: int = 3) -> list[str]:
    """One line per distinct reason: a reason shared by several datasets is printed once."""
    by_reason: dict[str, list[str]] = {}
    for name, reason in denied.items():
        by_reason.setdefault(reason, []).append(name)
    lines = []
    for reason, names in by_reason.items():
        if len(names) == 1:
            lines.append(f"  {names[0]}: {reason}")
            continue
        first = ", ".join(names[:shown]) + (", …" if len(names) > shown else "")
        lines.append(f"  denied for {len(names)} datasets: {reason} (first: {first})")
    return lines


@lake.command("profile")
@click.argument("root", required=False)
@click.option("--dataset", "names", multiple=True, help="Profile only this dataset (repeatable).")
@click.option("--force", is_flag=True, help="Profile even datasets whose files did not change.")
@click.option(
    "--purpose",
    default="catalog_maintenance",
    show_default=True,
    help="Declared purpose (the principal must have acknowledged it).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@wait_option
def profile(
    root: str | None,
    names: tuple[str, ...],
    force: bool,
    purpose: str,
    as_json: bool,
    wait: bool,
) -> None:
    """Profile datasets on Spark: those under ROOT (registering it), the --dataset ones, or all.

    Each dataset is policy-checked first (lake.profile and lake.read_content for PRINCIPAL and
    PURPOSE, as your authenticated principal). Exits 2 when any dataset failed, 1 when any
    was refused; the others are
    profiled and each failure is listed with its reason. A failed dataset's catalog entry is
    left as it was.
    """
    from lakeward.catalog import Catalog, DatasetRepository
    from lakeward.cli._identity import me
    from lakeward.errors import ProfileFailed
    from lakeward.lake import profile_datasets, register_lake
    from lakeward.settings import get_settings
    from lakeward.spark import parse_master

    parse_master(get_settings().spark.master)  # fail before touching the catalog
    catalog = Catalog.shared()
    principal = me(catalog).name
    root = root or (get_settings().lake.root if not names else None)
    selected: list[str] | None = list(names) or None
    if selected is None and root is not None:
        registered = register_lake(catalog, root, principal=principal, purpose=purpose)
        _print_warnings(registered.warnings)
        selected = registered.datasets
    if selected is None:
        with catalog.session() as session:
            selected = [d.name for d in DatasetRepository(session).list()]
    with progress(len(selected), "profiling") as advance:
        report = profile_datasets(
            catalog,
            selected,
            force=force,
            principal=principal,
            purpose=purpose,
            progress=lambda o: advance(o.name),
        )
    data = report.to_dict()
    if as_json:
        emit_json(data)
    else:
        _print_report(data)
    if report.denied:
        err.print(
            f"{len(report.denied)} dataset(s) refused by the policy layer (see `lakeward policy "
            "explain`):\n" + "\n".join(_denial_lines(report.denied)),
            highlight=False,
            markup=False,
        )
    if report.errors:
        raise ProfileFailed(
            f"{len(report.errors)} dataset(s) failed to profile:\n"
            + "\n".join(f"  {name}: {reason}" for name, reason in report.errors.items()),
            report.errors,
        )
    if report.denied:
        raise click.exceptions.Exit(1)
