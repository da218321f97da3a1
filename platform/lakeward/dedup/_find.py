"""Find contained datasets: stages 1–3 over the catalog's current versions, results stored.

Only datasets whose files are unchanged since their last profile take part: a changed (or
vanished) dataset is refused with the reason, or re-profiled first when asked, so no verdict
ever rests on stale statistics. Files are listed again after the content stage; a dataset
that changed during the run has its edges pruned. Every dataset whose contents stage 3 reads
is policy-checked first (``lake.read_content`` for the principal and purpose, audited); a
refused dataset's edges are recorded as pruned at stage ``policy``.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, select

from lakeward.catalog import (
    Catalog,
    ColumnProfile,
    ContainmentEdge,
    ContainmentRun,
    Dataset,
    DatasetVersion,
    DeletionItem,
)
from lakeward.catalog._models import utcnow
from lakeward.dedup._bounds import apply_statistics
from lakeward.dedup._content import ContentConfig, check_content
from lakeward.dedup._fingerprint import LakeKey, lake_key
from lakeward.dedup._schema import Candidate, ColumnInfo, DatasetInfo, schema_candidates
from lakeward.errors import InputError, LakeError, NotFound, PolicyDenied
from lakeward.lake import SCHEMA_FORMAT, DatasetSpec

__all__ = [
    "ACTIVE_STATES",
    "DEFAULT_PURPOSE",
    "FindReport",
    "current_key",
    "dataset_names",
    "edge_dict",
    "find_containment",
    "load_datasets",
    "run_edges",
]

DEFAULT_PURPOSE = "data_governance"
PROFILE_PURPOSE = "catalog_maintenance"
# Deletion states in which a dataset's files are no longer where the catalog says.
ACTIVE_STATES = ("quarantining", "quarantined", "purging", "purged")


@dataclass
class FindReport:
    """The outcome of one containment search."""

    run_id: int
    near_threshold: float
    multiset: bool
    counts: dict[str, int]
    seconds: dict[str, float]
    edges: list[dict[str, Any]]
    stale: dict[str, str] = field(default_factory=dict)
    denied: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)  # metadata-only datasets

    def by_status(self, status: str) -> list[dict[str, Any]]:
        """Edges with the given status."""
        return [e for e in self.edges if e["status"] == status]

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {
            "run": self.run_id,
            "near_threshold": self.near_threshold,
            "multiset": self.multiset,
            "counts": self.counts,
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
            "stale": self.stale,
            "denied": self.denied,
            "failed": self.failed,
            "skipped": self.skipped,
            "edges": self.edges,
        }


def current_key() -> LakeKey:
    """The lake's fingerprint key from the settings."""
    from lakeward.settings import get_settings

    settings = get_settings()
    secret = settings.lake.secret.get_secret_value() if settings.lake.secret else None
    return lake_key(settings.home, secret)


def metadata_only(catalog: Catalog, names: Iterable[str] | None = None) -> dict[str, str]:
    """Metadata-only datasets (imported schemas, no files): name → why dedup skips them."""
    wanted = set(names) if names is not None else None
    with catalog.session() as session:
        found = session.scalars(select(Dataset.name).where(Dataset.format == SCHEMA_FORMAT))
        return {
            name: "metadata-only dataset (imported schema): no contents to compare"
            for name in found
            if wanted is None or name in wanted
        }


def load_datasets(catalog: Catalog, names: Iterable[str] | None = None) -> list[DatasetInfo]:
    """Current versions (with column statistics) of profiled datasets still in the lake.

    Metadata-only datasets (``format`` ``schema``) have no contents and are left out.
    """
    wanted = set(names) if names is not None else None
    with catalog.session() as session:
        gone = set(
            session.scalars(
                select(DeletionItem.dataset_id).where(DeletionItem.state.in_(ACTIVE_STATES))
            )
        )
        rows = session.execute(
            select(
                Dataset.id,
                Dataset.name,
                Dataset.format,
                Dataset.current_version,
                Dataset.rows,
                Dataset.bytes,
                Dataset.fingerprint,
                Dataset.file_signature,
                ColumnProfile.name.label("column"),
                ColumnProfile.type,
                ColumnProfile.null_count,
                ColumnProfile.min_value,
                ColumnProfile.max_value,
                ColumnProfile.distinct_approx,
                ColumnProfile.ordinal,
            )
            .join(
                DatasetVersion,
                (DatasetVersion.dataset_id == Dataset.id)
                & (DatasetVersion.version == Dataset.current_version),
            )
            .join(ColumnProfile, ColumnProfile.version_id == DatasetVersion.id)
            .where(Dataset.current_version > 0, Dataset.format != SCHEMA_FORMAT)
            .order_by(Dataset.name, ColumnProfile.ordinal)
        ).all()
    grouped: dict[int, list[Any]] = defaultdict(list)
    for row in rows:
        grouped[row.id].append(row)
    infos = []
    for dataset_id, columns in grouped.items():
        head = columns[0]
        if dataset_id in gone or (wanted is not None and head.name not in wanted):
            continue
        rows_count = int(head.rows or 0)
        infos.append(
            DatasetInfo(
                id=dataset_id,
                name=head.name,
                format=head.format,
                version=head.current_version,
                rows=rows_count,
                bytes=int(head.bytes or 0),
                fingerprint=head.fingerprint or "",
                signature=head.file_signature or "",
                columns=tuple(
                    ColumnInfo(
                        name=c.column,
                        type=c.type,
                        nulls=int(c.null_count),
                        min=c.min_value,
                        max=c.max_value,
                        distinct=int(c.distinct_approx),
                        rows=rows_count,
                    )
                    for c in columns
                ),
            )
        )
    if wanted is not None:
        unknown = wanted - {d.name for d in infos} - set(metadata_only(catalog, wanted))
        if unknown:
            raise NotFound(
                f"Not profiled, not in the catalog, or deleted by dedup: {sorted(unknown)}. "
                "List datasets with `lakeward catalog ls`; profile with `lakeward lake profile`."
            )
    return sorted(infos, key=lambda d: d.name)


def _current_specs(catalog: Catalog, names: Sequence[str]) -> dict[str, DatasetSpec | None]:
    """Each dataset's files as listed now (``None`` when they cannot all be listed and read)."""
    from lakeward.catalog import DatasetRepository
    from lakeward.lake import spec_for

    with catalog.session() as session:
        repo = DatasetRepository(session)
        datasets = [repo.require(n) for n in names]
        for d in datasets:
            session.expunge(d)
    found: dict[str, DatasetSpec | None] = {}
    for d in datasets:
        try:
            spec = spec_for(d)
            # a file that cannot be read (or now leads outside the lake root) is never read
            readable = spec.files and not any(f.error for f in spec.files)
            found[d.name] = spec if readable else None
        except LakeError:
            found[d.name] = None
    return found


def _signatures(specs: dict[str, DatasetSpec | None]) -> dict[str, str | None]:
    return {n: spec.signature if spec is not None else None for n, spec in specs.items()}


def _refresh(
    catalog: Catalog,
    infos: list[DatasetInfo],
    principal: str,
    reprofile: bool,
    stale: dict[str, str],
) -> tuple[list[DatasetInfo], dict[str, DatasetSpec | None]]:
    """Drop (or re-profile) datasets whose files changed since their last profile.

    Also returns every dataset's files as listed for the check (read by stage 3, so the
    lake is listed once before the content stage).
    """
    from lakeward.lake import profile_one

    specs = _current_specs(catalog, [d.name for d in infos])
    now = _signatures(specs)
    changed = [d for d in infos if now[d.name] != d.signature]
    if not changed:
        return infos, specs
    for d in changed:
        if now[d.name] is None:
            stale[d.name] = (
                "its files are gone or unreadable; re-register the lake (`lakeward lake register`)"
            )
            continue
        if not reprofile:
            stale[d.name] = (
                "its files changed since it was profiled; re-profile it (`lakeward lake "
                "profile`) or pass --reprofile"
            )
            continue
        outcome = profile_one(catalog, d.name, principal=principal, purpose=PROFILE_PURPOSE)
        if outcome.status not in ("profiled", "unchanged"):
            stale[d.name] = f"re-profiling it {outcome.status}: {outcome.error}"
    reprofiled = [d.name for d in changed if d.name not in stale]
    if reprofiled:  # listed again after their profile (a change since is caught after stage 3)
        specs.update(_current_specs(catalog, reprofiled))
    keep = {d.name for d in infos} - set(stale)
    return (load_datasets(catalog, keep) if keep else []), specs


def dataset_names(session: Any) -> dict[int, str]:
    """Dataset id → name, for every dataset in the catalog."""
    return {int(i): str(n) for i, n in session.execute(select(Dataset.id, Dataset.name))}


def edge_dict(
    edge: ContainmentEdge | Candidate, names: dict[int, str] | None = None
) -> dict[str, Any]:
    """The public JSON shape of an edge (``lakeward dedup find --json``)."""
    if isinstance(edge, Candidate):
        child, parent = edge.child.name, edge.parent.name
        versions = (edge.child.version, edge.parent.version)
        reason = "; ".join(edge.reasons) or None
    else:
        assert names is not None
        child, parent = names[edge.child_id], names[edge.parent_id]
        versions = (edge.child_version, edge.parent_version)
        reason = edge.reason
    return {
        "child": child,
        "parent": parent,
        "ratio": edge.ratio,
        "stage": edge.stage,
        "status": edge.status,
        "column_map": edge.column_map,
        "sample_hits": edge.sample_hits,
        "sample_size": edge.sample_size,
        "matched": edge.matched,
        "total": edge.total,
        "child_version": versions[0],
        "parent_version": versions[1],
        "reason": reason,
    }


def run_edges(
    catalog: Catalog, run_id: int | None = None, status: str | None = None
) -> tuple[ContainmentRun, list[dict[str, Any]]]:
    """A finished run (default: the latest) and its edges.

    Raises:
        NotFound: no finished run (run ``lakeward dedup find`` first).
    """
    with catalog.session() as session:
        query = select(ContainmentRun).where(ContainmentRun.state == "done")
        if run_id is not None:
            query = query.where(ContainmentRun.id == run_id)
        run = session.scalar(query.order_by(ContainmentRun.id.desc()).limit(1))
        if run is None:
            raise NotFound(
                "No finished containment run"
                + (f" #{run_id}" if run_id is not None else "")
                + ". Run `lakeward dedup find` first."
            )
        names = dataset_names(session)
        edges_query = select(ContainmentEdge).where(ContainmentEdge.run_id == run.id)
        if status is not None:
            edges_query = edges_query.where(ContainmentEdge.status == status)
        edges = [edge_dict(e, names) for e in session.scalars(edges_query)]
        session.expunge(run)
    edges.sort(key=lambda e: (e["child"], e["parent"]))
    return run, edges


def find_containment(
    catalog: Catalog,
    *,
    principal: str | None = None,
    purpose: str = DEFAULT_PURPOSE,
    near_threshold: float | None = None,
    multiset: bool | None = None,
    names: Iterable[str] | None = None,
    reprofile: bool = False,
    progress: Callable[[str], None] | None = None,
) -> FindReport:
    """Find contained and near-contained datasets; store the run and every edge.

    Args:
        catalog: The catalog to read datasets from and write results to.
        principal: Who runs the search (policy-checked per dataset read).
        purpose: The declared purpose (default ``data_governance``).
        near_threshold: τ < 1 for near-containment (1.0: contained only). Default:
            ``LAKEWARD_DEDUP_NEAR_THRESHOLD``.
        multiset: Count duplicate rows. Default: ``LAKEWARD_DEDUP_MULTISET``.
        names: Restrict the search to these datasets (as children and parents).
        reprofile: Re-profile datasets whose files changed instead of refusing them.
        progress: Called with short progress messages.

    Raises:
        InputError: the threshold is outside (0, 1].
        NotFound: a named dataset is not profiled.
    """
    from lakeward import spark as lakeward_spark
    from lakeward.identity import current_principal
    from lakeward.policy import guard
    from lakeward.settings import get_settings

    settings = get_settings()
    principal = principal or current_principal(catalog).name
    tau = settings.dedup.near_threshold if near_threshold is None else float(near_threshold)
    if not 0.0 < tau <= 1.0:
        raise InputError(
            f"The near-containment threshold must be in (0, 1], got {tau}; use e.g. 0.9 "
            "(1.0 reports only fully contained datasets)."
        )
    multi = settings.dedup.multiset if multiset is None else multiset
    key = current_key()
    started = time.perf_counter()
    seconds: dict[str, float] = {}
    stale: dict[str, str] = {}
    denied: dict[str, str] = {}
    with catalog.session() as session:
        run = ContainmentRun(
            principal=principal,
            purpose=purpose,
            state="running",
            near_threshold=tau,
            multiset=multi,
            key_id=key.key_id,
            params={"names": sorted(names) if names is not None else None, "reprofile": reprofile},
            counts={},
            started_at=utcnow(),
        )
        session.add(run)
        session.flush()
        run_id = run.id
    skipped = metadata_only(catalog, names)
    try:
        infos = load_datasets(catalog, names)
        infos, specs = _refresh(catalog, infos, principal, reprofile, stale)
        seconds["freshness"] = time.perf_counter() - started

        step = time.perf_counter()
        candidates = schema_candidates(infos)
        seconds["schema"] = time.perf_counter() - step
        if progress:
            progress(f"stage 1: {len(candidates)} schema candidates over {len(infos)} datasets")

        step = time.perf_counter()
        for cand in candidates:
            apply_statistics(cand, tau, multi)
        alive = [c for c in candidates if c.status == "candidate"]
        seconds["minmax"] = time.perf_counter() - step
        if progress:
            progress(f"stage 2: {len(alive)} candidates survive min-max pruning")

        step = time.perf_counter()
        involved = sorted(
            {d.name: d for c in alive for d in (c.child, c.parent)}.values(), key=lambda d: d.name
        )
        readable: dict[int, DatasetSpec] = {}
        for d in involved:
            try:
                guard(
                    catalog,
                    principal,
                    "lake.read_content",
                    f"dataset:{d.name}",
                    {"purpose": purpose},
                    columns=[c.name for c in d.columns],
                )
            except PolicyDenied as exc:
                denied[d.name] = "; ".join(exc.reasons) or str(exc).splitlines()[0]
                continue
            spec = specs[d.name]
            assert spec is not None  # datasets whose files cannot be listed are stale
            readable[d.id] = spec
        checkable = []
        for cand in alive:
            refused = [d.name for d in (cand.child, cand.parent) if d.name in denied]
            if refused:
                cand.stage, cand.status = "policy", "pruned"
                cand.reasons.append(f"lake.read_content denied on {refused[0]}")
            else:
                checkable.append(cand)
        seconds["policy"] = time.perf_counter() - step

        content = check_content(
            lakeward_spark.session(),
            checkable,
            readable,
            key,
            ContentConfig(
                near_threshold=tau,
                multiset=multi,
                sample_size=settings.dedup.sample_size,
                alpha=settings.dedup.sample_alpha,
                batch_datasets=settings.dedup.batch_datasets,
                concurrency=settings.dedup.concurrency,
                work_dir=settings.dedup.work_dir or str(settings.home / "dedup" / "work"),
            ),
            progress,
        )
        seconds.update(content.seconds)

        read = sorted({d.name for c in checkable for d in (c.child, c.parent)})
        after = _signatures(_current_specs(catalog, read)) if read else {}
        by_name = {d.name: d for d in infos}
        moved = {n for n, sig in after.items() if sig != by_name[n].signature}
        for cand in checkable:
            changed = [d.name for d in (cand.child, cand.parent) if d.name in moved]
            if changed:
                cand.stage, cand.status, cand.ratio = "content", "pruned", None
                cand.reasons.append(f"{changed[0]} changed during the run; run find again")
        for name in moved:
            stale[name] = "its files changed during the run; run find again"

        counts = {
            "datasets": len(infos),
            "schema": len(candidates),
            "minmax": len(alive),
            "minmax_exact": sum(1 for c in alive if c.exact_possible),
            "policy": len(checkable),
            "sample": content.sample_survivors,
            "exact_checked": content.exact_checked,
            "contained": sum(1 for c in candidates if c.status == "contained"),
            "near": sum(1 for c in candidates if c.status == "near"),
            "pruned": sum(1 for c in candidates if c.status == "pruned"),
        }
        seconds["total"] = time.perf_counter() - started
        with catalog.session() as session:
            if candidates:
                session.execute(
                    insert(ContainmentEdge),
                    [
                        {
                            "run_id": run_id,
                            "child_id": c.child.id,
                            "parent_id": c.parent.id,
                            "child_version": c.child.version,
                            "parent_version": c.parent.version,
                            "column_map": c.column_map,
                            "stage": c.stage,
                            "status": c.status,
                            "ratio": c.ratio,
                            "sample_hits": c.sample_hits,
                            "sample_size": c.sample_size,
                            "matched": c.matched,
                            "total": c.total,
                            "reason": "; ".join(c.reasons) or None,
                        }
                        for c in candidates
                    ],
                )
            stored = session.get(ContainmentRun, run_id)
            assert stored is not None
            stored.state = "done"
            stored.counts = {
                **counts,
                "seconds": {k: round(v, 3) for k, v in seconds.items()},
                "stale": stale,
                "denied": denied,
                "failed": content.failed,
                "skipped": skipped,
            }
            stored.finished_at = utcnow()
    except BaseException as exc:
        with catalog.session() as session:
            stored = session.get(ContainmentRun, run_id)
            if stored is not None:
                stored.state = "failed"
                stored.error = f"{type(exc).__name__}: {exc}"[:2000]
                stored.finished_at = utcnow()
        raise
    return FindReport(
        run_id=run_id,
        near_threshold=tau,
        multiset=multi,
        counts=counts,
        seconds=seconds,
        edges=[edge_dict(c) for c in candidates],
        stale=stale,
        denied=denied,
        failed=content.failed,
        skipped=skipped,
    )
