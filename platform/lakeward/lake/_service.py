"""Register a lake and profile its datasets into the catalog.

Per dataset, profiling is all-or-nothing: the new version, its columns and the dataset's
current statistics are written in one transaction after the Spark pass succeeded, so a
failure (bad file, Spark error, crash) leaves that dataset's catalog entry exactly as it
was. Other datasets are still profiled; the report lists every failure with its reason.
A dataset whose files (names, sizes, mtimes) are unchanged since its last profile is
skipped unless ``force`` is set.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

from lakeward.catalog import Catalog, Dataset, DatasetRepository
from lakeward.errors import LakeError, NotFound, PolicyDenied
from lakeward.lake._discover import DatasetSpec, discover_lake, list_files, open_root
from lakeward.lake._external import SCHEMA_FORMAT

DEFAULT_PURPOSE = "catalog_maintenance"

__all__ = [
    "DatasetOutcome",
    "ProfileReport",
    "RegisterReport",
    "profile_datasets",
    "profile_one",
    "register_lake",
    "spec_for",
]


@dataclass
class RegisterReport:
    """What ``register_lake`` found."""

    root: str
    added: list[str] = field(default_factory=list)
    known: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # in the catalog, gone from the lake
    warnings: list[str] = field(default_factory=list)  # links skipped, names disambiguated

    @property
    def datasets(self) -> list[str]:
        """Every dataset now under the root."""
        return sorted(self.added + self.known)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {**asdict(self), "datasets": self.datasets}


@dataclass
class DatasetOutcome:
    """The result of profiling one dataset."""

    name: str
    status: str  # "profiled" | "unchanged" | "failed" | "denied" | "skipped" (schema only)
    version: int = 0
    rows: int | None = None
    bytes: int = 0
    columns: int = 0
    seconds: float = 0.0
    error: str | None = None
    dialect: dict[str, Any] | None = None  # CSV: the dialect the files were read in
    widened: list[dict[str, str]] = field(default_factory=list)  # columns read wider


@dataclass
class ProfileReport:
    """The result of profiling a set of datasets."""

    outcomes: list[DatasetOutcome]
    seconds: float

    def by_status(self, status: str) -> list[DatasetOutcome]:
        """Outcomes with the given status."""
        return [o for o in self.outcomes if o.status == status]

    @property
    def errors(self) -> dict[str, str]:
        """Failed dataset → reason."""
        return {o.name: o.error or "" for o in self.outcomes if o.status == "failed"}

    @property
    def denied(self) -> dict[str, str]:
        """Dataset the policy layer refused → the explanation."""
        return {o.name: o.error or "" for o in self.outcomes if o.status == "denied"}

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {
            "profiled": len(self.by_status("profiled")),
            "unchanged": len(self.by_status("unchanged")),
            "failed": len(self.by_status("failed")),
            "denied": len(self.by_status("denied")),
            "skipped": len(self.by_status("skipped")),
            "seconds": round(self.seconds, 3),
            "datasets": [asdict(o) for o in self.outcomes],
            "errors": self.errors,
            "denials": self.denied,
        }


#: The columns that make a dataset a document dataset (RAG sources): rows with readers of
#: their own, whose value statistics the catalog never records.
DOCUMENT_COLUMNS = frozenset({"doc_id", "text", "readers"})


def _acting(catalog: Catalog, principal: str | None) -> str:
    """The principal named, or the authenticated one (bound, service credential, OS user)."""
    if principal is not None:
        return principal
    from lakeward.identity import current_principal

    return current_principal(catalog).name


def register_lake(
    catalog: Catalog,
    root: str | os.PathLike[str],
    *,
    owner: str | None = None,
    principal: str | None = None,
    purpose: str = DEFAULT_PURPOSE,
) -> RegisterReport:
    """Discover the datasets under ``root`` and record them in the catalog (idempotent).

    Decided as ``lake.register`` (audited) for ``principal`` (default: the authenticated
    principal).

    Raises:
        PolicyDenied: registering is not permitted.
        LakeError: the root does not exist or cannot be listed (nothing is written).
    """
    from lakeward.policy import guard

    principal = _acting(catalog, principal)
    guard(catalog, principal, "lake.register", "platform", {"purpose": purpose})
    lake = open_root(root)
    discovery = discover_lake(lake)
    specs = discovery.datasets
    report = RegisterReport(root=lake.uri, warnings=discovery.warnings)
    with catalog.session(immediate=True) as session:
        repo = DatasetRepository(session)
        for spec in specs:
            _, created = repo.register(
                name=spec.name,
                uri=spec.uri,
                lake_root=lake.uri,
                format=spec.format,
                layout=spec.layout,
                file_count=len(spec.files),
                bytes=spec.bytes,
                owner=owner,
            )
            (report.added if created else report.known).append(spec.name)
        found = {s.name for s in specs}
        report.missing = [d.name for d in repo.list(lake_root=lake.uri) if d.name not in found]
    return report


def spec_for(dataset: Dataset) -> DatasetSpec:
    """The dataset's current files, listed now.

    Raises:
        LakeError: the lake root is gone.
    """
    root = open_root(dataset.lake_root)
    relpath = dataset.uri[len(root.uri.rstrip("/")) + 1 :]
    files = list_files(root, relpath, dataset.layout)
    return DatasetSpec(dataset.name, relpath, dataset.format, dataset.layout, root, files)


def _denied(name: str, exc: PolicyDenied) -> DatasetOutcome:
    # The headline without the resource, so one reason reads the same for every dataset it
    # refuses (the CLI summarises identical denials); the outcome names the dataset.
    headline = str(exc).splitlines()[0].replace(f" dataset:{name}", "", 1)
    return DatasetOutcome(name, "denied", error=f"{headline} ({'; '.join(exc.reasons)})")


def profile_one(
    catalog: Catalog,
    name: str,
    *,
    force: bool = False,
    principal: str | None = None,
    purpose: str = DEFAULT_PURPOSE,
    sniff_bytes: int | None = None,
) -> DatasetOutcome:
    """Profile one registered dataset (never raises for a bad or refused dataset: see ``status``).

    A metadata-only dataset (``format`` ``schema``) has no files: it is ``skipped``.

    The policy layer decides first (``lake.profile`` and ``lake.read_content`` on the
    dataset, as ``principal`` for ``purpose``, audited); a denial is outcome ``denied``, and
    ``mask:<column>`` obligations keep those columns' min/max out of the catalog.

    Raises:
        NotFound: no dataset of that name is registered.
        SparkUnavailable / ConfigurationError: Spark itself cannot start.
    """
    from lakeward import spark as lakeward_spark
    from lakeward.lake._profile import profile_dataset
    from lakeward.lake._schema import plan_read
    from lakeward.policy import guard
    from lakeward.settings import get_settings

    settings = get_settings()
    principal = _acting(catalog, principal)
    with catalog.session() as session:
        dataset = DatasetRepository(session).require(name)
        session.expunge(dataset)
    if dataset.format == SCHEMA_FORMAT:  # nothing to read: known by its schema only
        return DatasetOutcome(
            name,
            "skipped",
            dataset.current_version,
            error="metadata-only dataset (imported schema): no files to profile",
        )
    started = time.perf_counter()
    context = {"purpose": purpose}
    try:
        guard(catalog, principal, "lake.profile", f"dataset:{name}", context)
    except PolicyDenied as exc:
        return _denied(name, exc)
    try:
        spec = spec_for(dataset)
        if not force and dataset.current_version > 0 and spec.signature == dataset.file_signature:
            return DatasetOutcome(
                name,
                "unchanged",
                dataset.current_version,
                dataset.rows,
                dataset.bytes,
            )
        plan = plan_read(spec, sniff_bytes=sniff_bytes or settings.lake.sniff_bytes)
        try:  # contents are read only now, with the columns the files actually have
            decision = guard(
                catalog,
                principal,
                "lake.read_content",
                f"dataset:{name}",
                context,
                columns=plan.columns,
            )
        except PolicyDenied as exc:
            return _denied(name, exc)
        masked = frozenset(o[5:] for o in decision.obligations if o.startswith("mask:"))
        if DOCUMENT_COLUMNS <= set(plan.columns):
            # Documents with readers of their own (a RAG source): a value statistic would show
            # some document's id or text to everyone who reads the catalog. None is recorded.
            masked = frozenset(plan.columns)
        spark = lakeward_spark.session()
        profile = profile_dataset(spark, spec, masked=masked, plan=plan)
    except LakeError as exc:
        return DatasetOutcome(name, "failed", seconds=time.perf_counter() - started, error=str(exc))
    with catalog.session(immediate=True) as session:
        repo = DatasetRepository(session)
        current = repo.require(name)
        if (
            current.file_signature == profile.signature
            and current.current_version > 0
            and not force
        ):
            # Another worker profiled the same files meanwhile: nothing new to record.
            return DatasetOutcome(
                name, "unchanged", current.current_version, current.rows, current.bytes
            )
        version = repo.record_profile(
            current,
            rows=profile.rows,
            bytes=profile.bytes,
            file_count=profile.file_count,
            fingerprint=profile.fingerprint,
            file_signature=profile.signature,
            columns=profile.columns,
            seconds=profile.seconds,
            principal=principal,
        )
        number = version.version
    return DatasetOutcome(
        name,
        "profiled",
        number,
        profile.rows,
        profile.bytes,
        len(profile.columns),
        profile.seconds,
        dialect=profile.dialect,
        widened=profile.widened,
    )


def profile_datasets(
    catalog: Catalog,
    names: Iterable[str] | None = None,
    *,
    root: str | os.PathLike[str] | None = None,
    force: bool = False,
    principal: str | None = None,
    purpose: str = DEFAULT_PURPOSE,
    progress: Callable[[DatasetOutcome], None] | None = None,
    concurrency: int | None = None,
) -> ProfileReport:
    """Profile datasets: the named ones, those under ``root`` (registering it first), or all.

    ``concurrency`` datasets are profiled at once (default ``LAKEWARD_LAKE_PROFILE_CONCURRENCY``);
    ``progress`` is called from worker threads as each dataset finishes.

    Raises:
        LakeError: ``root`` does not exist.
        NotFound: a named dataset is not registered.
    """
    from lakeward.settings import get_settings
    from lakeward.spark import parse_master

    parse_master(get_settings().spark.master)  # a bad master fails before anything is read
    started = time.perf_counter()
    principal = _acting(catalog, principal)
    lake_uri = (
        register_lake(catalog, root, principal=principal, purpose=purpose).root
        if root is not None
        else None
    )
    with catalog.session() as session:
        repo = DatasetRepository(session)
        if names is not None:
            selected = [repo.require(n).name for n in names]
        else:
            selected = [d.name for d in repo.list(lake_root=lake_uri)]
    if not selected:
        raise NotFound(
            "No datasets to profile. Register a lake first: `lakeward lake register DIR` "
            "(or pass the lake root to `lakeward lake profile`)."
        )

    def one(name: str) -> DatasetOutcome:
        outcome = profile_one(catalog, name, force=force, principal=principal, purpose=purpose)
        if progress:
            progress(outcome)
        return outcome

    # Spark runs jobs submitted from several threads side by side: while one dataset's job
    # is in its driver-side phases (file checks, planning, catalog write) another computes.
    workers = max(1, min(concurrency or get_settings().lake.profile_concurrency, len(selected)))
    with ThreadPoolExecutor(workers, thread_name_prefix="lakeward-profile") as pool:
        outcomes = list(pool.map(one, selected))
    return ProfileReport(outcomes, time.perf_counter() - started)
