"""Repositories: the only code that writes the foundation tables.

Each function takes an open :class:`~sqlalchemy.orm.Session` and leaves committing to the
caller's transaction (``Catalog.session()``), so a profile, its version and its columns land
together or not at all. The audit log lives in
:mod:`lakeward.catalog._audit`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from lakeward.catalog._audit import canonical_time
from lakeward.catalog._engine import Catalog
from lakeward.catalog._models import (
    ColumnProfile,
    Dataset,
    DatasetVersion,
    Tag,
    TagStatus,
    utcnow,
)
from lakeward.errors import InputError, NotFound

__all__ = [
    "ColumnStats",
    "DatasetListing",
    "DatasetRepository",
    "TagRepository",
    "column_signature",
    "dataset_summary",
    "describe_dataset",
    "describe_datasets",
]


@dataclass(frozen=True)
class ColumnStats:
    """Statistics of one column, as the profiler computes them."""

    name: str
    type: str
    nullable: bool
    min_value: str | None
    max_value: str | None
    null_count: int
    distinct_approx: int


def column_signature(column: ColumnProfile) -> str:
    """A column's signature: SHA-256 over its type and its version's statistics.

    It changes when the column does (another type, new values moving min/max, nulls or the
    distinct count), so a rejected tag is remembered only while it holds.
    """
    facts = [
        column.type,
        column.min_value,
        column.max_value,
        column.null_count,
        column.distinct_approx,
    ]
    return hashlib.sha256(json.dumps(facts).encode()).hexdigest()


class DatasetRepository:
    """Datasets, their versions and column statistics."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, name: str) -> Dataset | None:
        """The dataset called ``name``, or ``None``."""
        return self.session.scalar(select(Dataset).where(Dataset.name == name))

    def require(self, name: str) -> Dataset:
        """The dataset called ``name``.

        Raises:
            NotFound: no such dataset (the message suggests ``lakeward catalog ls``).
        """
        dataset = self.get(name)
        if dataset is None:
            raise NotFound(
                f"No dataset named {name!r} in the catalog. List them with `lakeward catalog ls`;"
                " register a lake with `lakeward lake register DIR`."
            )
        return dataset

    def list(self, *, lake_root: str | None = None) -> list[Dataset]:
        """All datasets (optionally under one lake root), by name."""
        query = select(Dataset).order_by(Dataset.name)
        if lake_root is not None:
            query = query.where(Dataset.lake_root == lake_root)
        return list(self.session.scalars(query))

    def register(
        self,
        *,
        name: str,
        uri: str,
        lake_root: str,
        format: str,
        layout: str,
        file_count: int,
        bytes: int,
        owner: str | None = None,
    ) -> tuple[Dataset, bool]:
        """Insert or refresh a dataset's registration; returns it and whether it is new.

        Raises:
            InputError: the name is already taken by a dataset at another URI.
        """
        dataset = self.get(name)
        if dataset is None:
            dataset = Dataset(
                name=name,
                uri=uri,
                lake_root=lake_root,
                format=format,
                layout=layout,
                file_count=file_count,
                bytes=bytes,
                owner=owner,
                current_version=0,
                registered_at=utcnow(),
            )
            self.session.add(dataset)
            self.session.flush()
            return dataset, True
        if dataset.uri != uri:
            raise InputError(
                f"Dataset name {name!r} is already registered at {dataset.uri}; the lake at "
                f"{lake_root} has another dataset with that name at {uri}. Register the lakes "
                "separately under distinct roots or rename one of the paths."
            )
        dataset.format = format
        dataset.layout = layout
        if dataset.current_version == 0:
            dataset.file_count = file_count
            dataset.bytes = bytes
        if owner is not None:
            dataset.owner = owner
        return dataset, False

    def current_version(self, dataset: Dataset) -> DatasetVersion | None:
        """The dataset's latest profile with its columns, or ``None`` if never profiled."""
        if dataset.current_version == 0:
            return None
        return self.session.scalar(
            select(DatasetVersion)
            .options(selectinload(DatasetVersion.columns))
            .where(
                DatasetVersion.dataset_id == dataset.id,
                DatasetVersion.version == dataset.current_version,
            )
        )

    def record_profile(
        self,
        dataset: Dataset,
        *,
        rows: int,
        bytes: int,
        file_count: int,
        fingerprint: str,
        file_signature: str,
        columns: Sequence[ColumnStats],
        seconds: float,
        principal: str | None,
    ) -> DatasetVersion:
        """Record a new version of ``dataset`` with its column statistics."""
        next_version = (
            self.session.scalar(
                select(func.max(DatasetVersion.version)).where(
                    DatasetVersion.dataset_id == dataset.id
                )
            )
            or 0
        ) + 1
        now = utcnow()
        version = DatasetVersion(
            dataset_id=dataset.id,
            version=next_version,
            rows=rows,
            bytes=bytes,
            file_count=file_count,
            fingerprint=fingerprint,
            file_signature=file_signature,
            schema_json=[{"name": c.name, "type": c.type, "nullable": c.nullable} for c in columns],
            profiled_at=now,
            profile_seconds=seconds,
            profiled_by=principal,
            columns=[
                ColumnProfile(
                    name=c.name,
                    ordinal=i,
                    type=c.type,
                    nullable=c.nullable,
                    min_value=c.min_value,
                    max_value=c.max_value,
                    null_count=c.null_count,
                    distinct_approx=c.distinct_approx,
                )
                for i, c in enumerate(columns)
            ],
        )
        self.session.add(version)
        dataset.current_version = next_version
        dataset.rows = rows
        dataset.bytes = bytes
        dataset.file_count = file_count
        dataset.fingerprint = fingerprint
        dataset.file_signature = file_signature
        dataset.profiled_at = now
        self.session.flush()
        return version


class TagRepository:
    """Tags on datasets and columns (read here; written through ``lakeward.policy``)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def _add(
        self,
        dataset: Dataset,
        name: str,
        *,
        column: str = "",
        source: str = "manual",
        confidence: float = 1.0,
        created_by: str | None = None,
        status: TagStatus = TagStatus.APPROVED,
        evidence: str | None = None,
        column_signature: str | None = None,
        reviewed_by: str | None = None,
    ) -> Tag:
        """Attach tag ``name`` (idempotent: an existing tag is updated, not duplicated).

        Library-internal: tags change decisions, so they change only through
        :mod:`lakeward.policy` (``assign_tag``, ``suggest_tags``, ``approve_tag``, ...),
        which decides ``tag.assign`` and audits.
        """
        if not name or not name.strip():
            raise InputError("A tag name must be a non-empty string.")
        if not 0.0 <= confidence <= 1.0:
            raise InputError(f"Tag confidence must be in [0, 1], got {confidence}.")
        tag = self.get(dataset, name, column=column)
        if tag is None:
            tag = Tag(dataset_id=dataset.id, column_name=column, name=name, created_at=utcnow())
            self.session.add(tag)
        tag.source = source
        tag.confidence = confidence
        tag.created_by = created_by
        tag.status = TagStatus(status).value
        tag.evidence = evidence
        tag.column_signature = column_signature
        tag.reviewed_by = reviewed_by
        tag.reviewed_at = utcnow() if reviewed_by else None
        self.session.flush()
        return tag

    def get(self, dataset: Dataset, name: str, *, column: str = "") -> Tag | None:
        """The tag ``name`` on the dataset (``column=""``) or one of its columns, or ``None``."""
        return self.session.scalar(
            select(Tag).where(
                Tag.dataset_id == dataset.id, Tag.column_name == column, Tag.name == name
            )
        )

    def for_dataset(self, dataset: Dataset) -> list[Tag]:
        """Every tag on the dataset and its columns."""
        return list(
            self.session.scalars(
                select(Tag).where(Tag.dataset_id == dataset.id).order_by(Tag.column_name, Tag.name)
            )
        )

    def _remove(self, dataset: Dataset, name: str, *, column: str = "") -> bool:
        """Remove a tag; returns whether it existed (internal: see :meth:`_add`)."""
        tag = self.get(dataset, name, column=column)
        if tag is None:
            return False
        self.session.delete(tag)
        self.session.flush()
        return True


def _typed(value: str | None, type_name: str) -> Any:
    """Turn a canonical min/max string back into a JSON-friendly typed value."""
    if value is None:
        return None
    t = type_name.lower()
    if t in ("tinyint", "smallint", "int", "bigint", "byte", "short", "integer", "long"):
        return int(value)
    if t in ("float", "double", "real") or t.startswith("decimal"):
        return float(value)
    if t == "boolean":
        return value == "true"
    return value


def dataset_summary(
    repo: DatasetRepository,
    dataset: Dataset,
    *,
    with_tags: bool = False,
    with_versions: bool = False,
) -> dict[str, Any]:
    """The JSON shape of a dataset (``lakeward catalog ls/show --json``), as stored.

    Every column's min/max, unmasked: for catalog maintenance and tests. Anything shown to
    a viewer comes from :func:`describe_dataset` / :func:`describe_datasets`, which decide
    ``catalog.read_metadata`` for that viewer and mask what the decision says.
    """
    version = repo.current_version(dataset)
    columns = []
    if version is not None:
        columns = [
            {
                "name": c.name,
                "type": c.type,
                "nullable": c.nullable,
                "min": _typed(c.min_value, c.type),
                "max": _typed(c.max_value, c.type),
                "nulls": c.null_count,
                "distinct": c.distinct_approx,
                # a schema file's (``catalog import-schema``) description, when it has one
                **({"description": c.description} if c.description else {}),
            }
            for c in version.columns
        ]
    summary: dict[str, Any] = {
        "name": dataset.name,
        "uri": dataset.uri,
        "format": dataset.format,
        "layout": dataset.layout,
        "lake_root": dataset.lake_root,
        "owner": dataset.owner,
        "files": dataset.file_count,
        "rows": dataset.rows,
        "bytes": dataset.bytes,
        "fingerprint": dataset.fingerprint,
        "version": dataset.current_version,
        "profiled_at": canonical_time(dataset.profiled_at) + "Z" if dataset.profiled_at else None,
        "columns": columns,
    }
    if dataset.description:
        summary["description"] = dataset.description
    if with_tags:
        summary["tags"] = [
            {
                "name": t.name,
                "column": t.column_name or None,
                "source": t.source,
                "confidence": t.confidence,
                "status": t.status,
                "evidence": t.evidence,
            }
            for t in TagRepository(repo.session).for_dataset(dataset)
        ]
    if with_versions:
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
    return summary


@dataclass(frozen=True)
class DatasetListing:
    """The datasets a viewer may see (:func:`describe_datasets`), and how many it may not."""

    datasets: list[dict[str, Any]]
    hidden: int


def _as_seen_by(catalog: Catalog, principal: str, summary: dict[str, Any]) -> dict[str, Any]:
    """Decide ``catalog.read_metadata`` on a summary's dataset and mask what it says to.

    A masked column (``mask:<column>``) keeps its name, type and counts, and shows
    ``"min": null, "max": null, "masked": true`` with a ``masked_reason``. Null and
    approximate distinct counts stay: they describe the column, not a value in it. The
    decision names exactly the columns about to be shown, so none is shown undecided; masks
    follow the tags as they are now, not as they were when the column was profiled.

    Raises:
        PolicyDenied: ``principal`` may not read this dataset's metadata.
    """
    from lakeward.policy import guard

    name = summary["name"]
    decision = guard(
        catalog,
        principal,
        "catalog.read_metadata",
        f"dataset:{name}",
        columns=[c["name"] for c in summary["columns"]],
    )
    masked = {o[len("mask:") :] for o in decision.obligations if o.startswith("mask:")}
    for column in summary["columns"]:
        if column["name"] in masked:
            column |= {
                "min": None,
                "max": None,
                "masked": True,
                "masked_reason": (
                    f"value statistics withheld from {principal}: catalog.read_metadata is "
                    f"denied on column:{name}/{column['name']} (not classified yet, or "
                    "tagged personal or protected on the column or its dataset)"
                ),
            }
    return summary


def describe_dataset(catalog: Catalog, principal: str, name: str) -> dict[str, Any]:
    """One dataset's metadata as ``principal`` may see it (``lakeward catalog show``).

    Decided as ``catalog.read_metadata`` through the guard (audited), at read time: columns
    the decision masks (``mask:<column>``, from their current tags) show no min/max, however
    they were profiled. Includes tags and the version history.

    Which columns are masked is the bundle's call, per viewer and column: the default
    bundle masks every column not classified yet (no approved tag of its own:
    ``lakeward tag classify``, or a steward) and every column carrying (itself or through
    its dataset) a personal or protected tag (``pii``, ``pii_direct``, ``phi``,
    ``region_eu``, ``restricted``, ``encryption_required``, ``dp_required``, and the
    ``type.*`` tags that imply them). Only approved tags count.

    Raises:
        NotFound: no dataset of that name.
        PolicyDenied: ``principal`` may not read its metadata.
    """
    with catalog.session() as session:
        repo = DatasetRepository(session)
        summary = dataset_summary(repo, repo.require(name), with_tags=True, with_versions=True)
    return _as_seen_by(catalog, principal, summary)


def describe_datasets(catalog: Catalog, principal: str) -> DatasetListing:
    """Every dataset's metadata as ``principal`` may see it (``lakeward catalog ls``).

    Each dataset is decided as in :func:`describe_dataset`; those whose metadata
    ``principal`` may not read are left out (only counted).
    """
    from lakeward.errors import PolicyDenied

    with catalog.session() as session:
        repo = DatasetRepository(session)
        summaries = [dataset_summary(repo, d) for d in repo.list()]
    visible, hidden = [], 0
    for summary in summaries:
        try:
            visible.append(_as_seen_by(catalog, principal, summary))
        except PolicyDenied:
            hidden += 1
    return DatasetListing(visible, hidden)


@dataclass(frozen=True)
class AcceptedTerm:
    """A glossary term a steward accepted for a column, and the tags it carries."""

    glossary: str
    term: str
    label: str
    tags: tuple[str, ...]


def accepted_terms(catalog: Catalog, dataset: str) -> dict[str, list[AcceptedTerm]]:
    """Per column of ``dataset``: the glossary terms accepted for it (``lakeward glossary``).

    Read by the tagging classifier (glossary evidence); an unknown dataset has none.
    """
    from lakeward.catalog._models import Glossary, GlossaryMatch, GlossaryTerm, MatchStatus

    out: dict[str, list[AcceptedTerm]] = {}
    with catalog.session() as session:
        target = DatasetRepository(session).get(dataset)
        if target is None:
            return out
        rows = session.execute(
            select(GlossaryMatch.column_name, GlossaryTerm, Glossary.name)
            .join(Glossary, GlossaryMatch.glossary_id == Glossary.id)
            .join(
                GlossaryTerm,
                (GlossaryTerm.glossary_id == GlossaryMatch.glossary_id)
                & (GlossaryTerm.term_id == GlossaryMatch.term_id),
            )
            .where(
                GlossaryMatch.dataset_id == target.id,
                GlossaryMatch.status == MatchStatus.ACCEPTED.value,
            )
            .order_by(GlossaryMatch.column_name, Glossary.name, GlossaryTerm.term_id)
        )
        for column, term, glossary in rows:
            out.setdefault(column, []).append(
                AcceptedTerm(glossary, term.term_id, term.label, tuple(term.tags or ()))
            )
    return out
