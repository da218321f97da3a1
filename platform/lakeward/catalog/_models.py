"""SQLAlchemy 2 typed models of the catalog's foundation tables.

Later capabilities add their own tables (glossary, containment edges, DP releases, ...)
through Alembic migrations in ``lakeward/catalog/migrations/versions``; every model must be
importable from :mod:`lakeward.catalog` so ``sql/`` and the drift test see it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = [
    "ApiToken",
    "Approval",
    "AuditRecord",
    "Base",
    "BudgetEntry",
    "Classification",
    "ColumnProfile",
    "ContainmentEdge",
    "ContainmentRun",
    "Dataset",
    "DatasetVersion",
    "DeletionItem",
    "DeletionPlan",
    "DPRelease",
    "DPStream",
    "DPStreamFile",
    "PolicyRevision",
    "PurposeAcknowledgement",
    "Tag",
    "TagStatus",
    "utcnow",
]

# Deterministic constraint names: identical DDL on both dialects and stable migrations.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """Now, timezone-aware UTC (stored as naive UTC on SQLite)."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base with the shared naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Dataset(Base):
    """A dataset under a lake root: one file or a directory of part files.

    The ``rows``/``bytes``/``fingerprint`` columns mirror the current version so listing the
    catalog needs no join; ``current_version`` is 0 until the first successful profile.
    """

    __tablename__ = "datasets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(512), unique=True)
    uri: Mapped[str] = mapped_column(Text)
    lake_root: Mapped[str] = mapped_column(Text)
    format: Mapped[str] = mapped_column(String(16))
    layout: Mapped[str] = mapped_column(String(16))
    owner: Mapped[str | None] = mapped_column(String(256))
    description: Mapped[str | None] = mapped_column(Text)
    file_count: Mapped[int] = mapped_column(Integer, default=0)
    rows: Mapped[int | None] = mapped_column(BigInteger)
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    fingerprint: Mapped[str | None] = mapped_column(String(64))
    file_signature: Mapped[str | None] = mapped_column(String(64))
    current_version: Mapped[int] = mapped_column(Integer, default=0)
    registered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    profiled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    versions: Mapped[list[DatasetVersion]] = relationship(
        back_populates="dataset", cascade="all, delete-orphan", order_by="DatasetVersion.version"
    )
    tags: Mapped[list[Tag]] = relationship(back_populates="dataset", cascade="all, delete-orphan")


class DatasetVersion(Base):
    """One successful profile of a dataset whose files changed since the previous one."""

    __tablename__ = "dataset_versions"
    __table_args__ = (UniqueConstraint("dataset_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    rows: Mapped[int] = mapped_column(BigInteger)
    bytes: Mapped[int] = mapped_column(BigInteger)
    file_count: Mapped[int] = mapped_column(Integer)
    fingerprint: Mapped[str] = mapped_column(String(64))
    file_signature: Mapped[str] = mapped_column(String(64))
    schema_json: Mapped[list[Any]] = mapped_column(JSON)
    profiled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    profile_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    profiled_by: Mapped[str | None] = mapped_column(String(256))

    dataset: Mapped[Dataset] = relationship(back_populates="versions")
    columns: Mapped[list[ColumnProfile]] = relationship(
        back_populates="version", cascade="all, delete-orphan", order_by="ColumnProfile.ordinal"
    )


class ColumnProfile(Base):
    """A column of one dataset version with its statistics.

    ``min_value``/``max_value`` hold the canonical text form (see ``lakeward.lake``): integers
    in base 10, floats as Python ``repr``, dates ``YYYY-MM-DD``, timestamps ISO 8601; ``NULL``
    when the column has no non-null value or its type has no order (arrays, maps, structs).
    """

    __tablename__ = "dataset_columns"
    __table_args__ = (UniqueConstraint("version_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(
        ForeignKey("dataset_versions.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(512))
    ordinal: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(256))
    nullable: Mapped[bool] = mapped_column(default=True)
    min_value: Mapped[str | None] = mapped_column(Text)
    max_value: Mapped[str | None] = mapped_column(Text)
    null_count: Mapped[int] = mapped_column(BigInteger)
    distinct_approx: Mapped[int] = mapped_column(BigInteger)
    description: Mapped[str | None] = mapped_column(Text)

    version: Mapped[DatasetVersion] = relationship(back_populates="columns")


class TagStatus(StrEnum):
    """Where a tag stands in review; only ``approved`` tags reach the policy engine."""

    SUGGESTED = "suggested"
    APPROVED = "approved"
    REJECTED = "rejected"


class Tag(Base):
    """A tag on a dataset (``column_name`` is ``""``) or on one of its columns.

    Column tags are keyed by name, not by version, so they survive re-profiling (and keep
    steering decisions on a new version until it is classified again).

    Provenance: ``source`` is ``glossary``, ``name``, ``values``, ``propagated`` or
    ``manual``; ``evidence`` says why in words and counts, never a value. ``status``:
    ``suggested`` (awaits a steward), ``approved`` (what policies see; manual tags and every
    tag written before review existed) or ``rejected`` (kept so the classifier does not
    suggest it again). ``column_signature`` is the column's signature
    (:func:`lakeward.catalog.column_signature`) when the tag was last evaluated: a rejection
    holds while the column keeps that signature. ``reviewed_by``/``reviewed_at``: the
    steward who approved or rejected it (``NULL`` for automatic approvals).
    """

    __tablename__ = "tags"
    __table_args__ = (UniqueConstraint("dataset_id", "column_name", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE"), index=True
    )
    column_name: Mapped[str] = mapped_column(String(512), default="")
    name: Mapped[str] = mapped_column(String(256))
    source: Mapped[str] = mapped_column(String(64), default="manual")
    confidence: Mapped[float] = mapped_column(Float, default=1.0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(256))
    status: Mapped[str] = mapped_column(
        String(16), default=TagStatus.APPROVED.value, server_default=TagStatus.APPROVED.value
    )
    evidence: Mapped[str | None] = mapped_column(Text)
    column_signature: Mapped[str | None] = mapped_column(String(64))
    reviewed_by: Mapped[str | None] = mapped_column(String(256))
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    dataset: Mapped[Dataset] = relationship(back_populates="tags")


class Classification(Base):
    """A completed classification of one dataset version (``lakeward tag classify``).

    Its presence means the version was classified: the next run skips it, and a dataset's
    classification is complete (``Dataset.classified`` in policies) when its current
    version has one and every current column carries an approved tag. ``evidence`` maps
    each column to every detector's evidence (type, source, confidence, text: counts and
    fractions, never values) and its signature; ``summary`` counts what the run changed.
    """

    __tablename__ = "classifications"
    __table_args__ = (UniqueConstraint("dataset_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    principal: Mapped[str] = mapped_column(String(256))
    purpose: Mapped[str] = mapped_column(String(128))
    seed: Mapped[int] = mapped_column(Integer)
    sample_rows: Mapped[int] = mapped_column(Integer)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AuditRecord(Base):
    """One append-only audit record, MAC-chained to the one before it.

    ``record_hash`` = HMAC-SHA256 under the audit key over the canonical JSON of the record's
    fields and ``prev_hash`` (the previous record's ``record_hash``; 64 zeros for the first);
    see :mod:`lakeward.catalog._audit`.
    """

    __tablename__ = "audit_records"
    __table_args__ = (Index("ix_audit_records_principal_at", "principal", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    principal: Mapped[str] = mapped_column(String(256))
    action: Mapped[str] = mapped_column(String(128))
    resource: Mapped[str] = mapped_column(Text)
    purpose: Mapped[str | None] = mapped_column(String(128))
    decision: Mapped[str] = mapped_column(String(16))
    reasons: Mapped[list[Any]] = mapped_column(JSON)
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    bundle_hash: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    record_hash: Mapped[str] = mapped_column(String(64), unique=True)


class PurposeAcknowledgement(Base):
    """A principal's recorded acknowledgement of a purpose's text."""

    __tablename__ = "purpose_acks"
    __table_args__ = (UniqueConstraint("principal", "purpose"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    principal: Mapped[str] = mapped_column(String(256))
    purpose: Mapped[str] = mapped_column(String(128))
    text_sha256: Mapped[str] = mapped_column(String(64))
    acknowledged_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class BudgetEntry(Base):
    """One reservation of privacy budget (rho-zCDP) and what became of it.

    ``state``: ``reserved`` (counts against the cap until it expires), ``committed`` (spent
    for good), ``released`` (returned), ``expired`` (its holder died; returned, audited).
    """

    __tablename__ = "budget_entries"
    __table_args__ = (Index("ix_budget_entries_key", "unit", "principal", "purpose", "state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reservation_id: Mapped[str] = mapped_column(String(36), unique=True)
    unit: Mapped[str] = mapped_column(String(128))
    principal: Mapped[str] = mapped_column(String(256))
    purpose: Mapped[str] = mapped_column(String(128))
    rho: Mapped[float] = mapped_column(Float)
    state: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    settled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # HMAC-SHA256 under the audit key over every other field (catalog._audit.ledger_mac);
    # NULL only on rows written before revision 0006, which the audit log reconciles.
    mac: Mapped[str | None] = mapped_column(String(64))


class Approval(Base):
    """A two-person approval: requested by one principal, decided by another, consumed once."""

    __tablename__ = "approvals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    requested_by: Mapped[str] = mapped_column(String(256))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    state: Mapped[str] = mapped_column(String(16))  # pending | approved | rejected | consumed
    decided_by: Mapped[str | None] = mapped_column(String(256))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str | None] = mapped_column(Text)
    consumed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PolicyRevision(Base):
    """An installed policy bundle revision; the newest is the active bundle.

    The bundle's files are stored in ``files`` so every host sharing the catalog can
    materialise the active bundle; ``path`` is where the applying host put its copy.
    """

    __tablename__ = "policy_revisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision: Mapped[str] = mapped_column(String(64))
    parent_revision: Mapped[str | None] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text)
    applied_by: Mapped[str] = mapped_column(String(256))
    applied_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)
    files: Mapped[dict[str, Any]] = mapped_column(JSON)  # relative path → text of the bundle


class DPStream(Base):
    """A registered continual-release stream: what is counted, how, and under which budget.

    ``spec`` holds the stream definition (source datasets, event-time column, period, keys,
    measure, clipping and contribution bounds); ``schema_hash`` pins the source schema it was
    created against. ``state``: ``active`` or ``halted`` (with ``halt_reason``: horizon used
    up, budget refused, schema changed).
    """

    __tablename__ = "dp_streams"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(256), unique=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    schema_hash: Mapped[str] = mapped_column(String(64))
    unit: Mapped[str] = mapped_column(String(128))
    principal: Mapped[str] = mapped_column(String(256))
    purpose: Mapped[str] = mapped_column(String(128))
    counter: Mapped[str] = mapped_column(String(32))
    horizon: Mapped[int] = mapped_column(Integer)
    rho: Mapped[float] = mapped_column(Float)
    state: Mapped[str] = mapped_column(String(16))
    halt_reason: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    files: Mapped[list[DPStreamFile]] = relationship(
        back_populates="stream", cascade="all, delete-orphan"
    )
    releases: Mapped[list[DPRelease]] = relationship(
        back_populates="stream", cascade="all, delete-orphan", order_by="DPRelease.period"
    )


class DPStreamFile(Base):
    """A source file a stream has ingested, and the period whose release first saw it.

    Events in a file count toward ``max(event period, ingest_period)``: late events go to the
    next unreleased period and history is never rewritten.
    """

    __tablename__ = "dp_stream_files"
    __table_args__ = (UniqueConstraint("stream_id", "path"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    stream_id: Mapped[int] = mapped_column(ForeignKey("dp_streams.id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    ingest_period: Mapped[int] = mapped_column(Integer)

    stream: Mapped[DPStream] = relationship(back_populates="files")


class DPRelease(Base):
    """One period's release of a stream: immutable once ``released``.

    ``pending`` rows hold the noise drawn for the period (drawn once, never redrawn) and the
    budget reservation it waits on; ``released`` rows are what users see. The mechanism
    secrets (noise draws, counter state, true totals: noise = released - true) and a pending
    row's outputs are only in ``sealed``, AES-GCM ciphertext under a key outside the catalog
    (:mod:`lakeward.dp._sealed`); ``outputs`` is written in clear once the period is released.
    """

    __tablename__ = "dp_releases"
    __table_args__ = (UniqueConstraint("stream_id", "period"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    stream_id: Mapped[int] = mapped_column(ForeignKey("dp_streams.id", ondelete="CASCADE"))
    period: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))  # pending | released
    reservation_id: Mapped[str | None] = mapped_column(String(36))
    rho: Mapped[float] = mapped_column(Float)
    outputs: Mapped[dict[str, Any]] = mapped_column(JSON)  # {} until released
    sd: Mapped[float] = mapped_column(Float)
    sealed: Mapped[str] = mapped_column(Text)
    released_by: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    stream: Mapped[DPStream] = relationship(back_populates="releases")


class ContainmentRun(Base):
    """One containment search (``lakeward dedup find``) and what each stage kept.

    ``counts`` holds the candidates entering and surviving each stage; ``key_id`` names the
    HMAC key the run's fingerprints were made with (never the key itself).
    """

    __tablename__ = "dedup_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    principal: Mapped[str] = mapped_column(String(256))
    purpose: Mapped[str] = mapped_column(String(128))
    state: Mapped[str] = mapped_column(String(16))  # running | done | failed
    near_threshold: Mapped[float] = mapped_column(Float)
    multiset: Mapped[bool] = mapped_column(default=False)
    key_id: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    counts: Mapped[dict[str, Any]] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    edges: Mapped[list[ContainmentEdge]] = relationship(
        back_populates="run", cascade="all, delete-orphan"
    )


class ContainmentEdge(Base):
    """A candidate edge child → parent of one run, with the stage that decided it.

    ``column_map`` maps each child column to the parent column it matched; ``stage`` is
    ``minmax``, ``sample``, ``content`` or ``policy``; ``status`` is ``contained`` (ratio
    1.0), ``near`` (ratio at least the run's near threshold) or ``pruned``. ``ratio`` is
    exact when ``stage`` is ``content`` (or ``sample`` when the sample was the whole child),
    otherwise an upper bound or ``NULL``.
    """

    __tablename__ = "containment_edges"
    __table_args__ = (
        UniqueConstraint("run_id", "child_id", "parent_id"),
        Index("ix_containment_edges_child_id", "child_id"),
        Index("ix_containment_edges_parent_id", "parent_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("dedup_runs.id", ondelete="CASCADE"))
    child_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    parent_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    child_version: Mapped[int] = mapped_column(Integer)
    parent_version: Mapped[int] = mapped_column(Integer)
    column_map: Mapped[dict[str, Any]] = mapped_column(JSON)
    stage: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    ratio: Mapped[float | None] = mapped_column(Float)
    sample_hits: Mapped[int | None] = mapped_column(Integer)
    sample_size: Mapped[int | None] = mapped_column(Integer)
    matched: Mapped[int | None] = mapped_column(BigInteger)
    total: Mapped[int | None] = mapped_column(BigInteger)
    reason: Mapped[str | None] = mapped_column(Text)

    run: Mapped[ContainmentRun] = relationship(back_populates="edges")


class DeletionPlan(Base):
    """A proposed set of deletions and its life: proposed → approved → applying → applied.

    ``rejected`` and ``superseded`` end a plan that was never applied. ``solver`` says how the
    plan was chosen (``milp`` or ``greedy``); ``summary`` holds costs and the optimum bound.
    ``lease_owner``/``lease_until``: the one apply working on the plan, until the lease ends.
    """

    __tablename__ = "deletion_plans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("dedup_runs.id", ondelete="SET NULL"))
    state: Mapped[str] = mapped_column(String(16))
    proposed_by: Mapped[str] = mapped_column(String(256))
    purpose: Mapped[str] = mapped_column(String(128))
    proposed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    approval_id: Mapped[int | None] = mapped_column(ForeignKey("approvals.id"))
    applied_by: Mapped[str | None] = mapped_column(String(256))
    applied_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    solver: Mapped[str] = mapped_column(String(16))
    bytes_reclaimed: Mapped[int] = mapped_column(BigInteger)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)

    items: Mapped[list[DeletionItem]] = relationship(
        back_populates="plan", cascade="all, delete-orphan", order_by="DeletionItem.id"
    )


class DeletionItem(Base):
    """One dataset of a deletion plan, its reconstruction recipe and where its files are.

    ``state``: ``planned`` → ``verified`` (recipe stored and checked against the child) →
    ``quarantining`` (move intended) → ``quarantined`` → ``purging`` → ``purged``;
    ``restored`` when put back; ``skipped`` when apply refused it (``error`` says why).
    ``recipe`` holds the parent, the column mapping and either a row predicate or the path and
    SHA-256 of the child's keyed row fingerprints.
    """

    __tablename__ = "deletion_items"
    __table_args__ = (
        UniqueConstraint("plan_id", "dataset_id"),
        Index("ix_deletion_items_dataset_id", "dataset_id"),
        Index("ix_deletion_items_parent_id", "parent_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("deletion_plans.id", ondelete="CASCADE"))
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"))
    parent_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"))
    dataset_version: Mapped[int] = mapped_column(Integer)
    parent_version: Mapped[int] = mapped_column(Integer)
    column_map: Mapped[dict[str, Any]] = mapped_column(JSON)
    bytes: Mapped[int] = mapped_column(BigInteger)
    access_per_month: Mapped[float] = mapped_column(Float)
    reconstruct_s: Mapped[float] = mapped_column(Float)
    state: Mapped[str] = mapped_column(String(16))
    original_uri: Mapped[str] = mapped_column(Text)
    quarantine_uri: Mapped[str | None] = mapped_column(Text)
    recipe: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    quarantined_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    purge_after: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    hold: Mapped[bool] = mapped_column(default=False)
    purged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    restored_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    error: Mapped[str | None] = mapped_column(Text)

    plan: Mapped[DeletionPlan] = relationship(back_populates="items")


class ApiToken(Base):
    """An admin-issued API token, stored as a salted HMAC under a pepper kept outside the DB.

    The token's text is ``lkw_<token_id>_<secret>``; ``digest`` is the hex
    HMAC-SHA256(pepper, salt || secret), so a copy of the catalog alone cannot check a guess.
    Expiry is mandatory; ``revoked_at`` set means the token no longer authenticates.
    """

    __tablename__ = "api_tokens"

    token_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    principal: Mapped[str] = mapped_column(String(256), index=True)
    salt: Mapped[str] = mapped_column(String(64))
    digest: Mapped[str] = mapped_column(String(128))
    created_by: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_by: Mapped[str | None] = mapped_column(String(256))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Glossary(Base):
    """A business glossary: named terms that columns are matched to (``lakeward glossary``).

    ``version`` counts imports that changed something; each is a :class:`GlossaryVersion`.
    """

    __tablename__ = "glossaries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(256), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    terms: Mapped[list[GlossaryTerm]] = relationship(
        back_populates="glossary", cascade="all, delete-orphan", order_by="GlossaryTerm.term_id"
    )


class GlossaryTerm(Base):
    """One term of a glossary, keyed by its own ``term_id`` (stable across re-imports).

    ``synonyms`` and ``tags`` are lists of strings; ``tags`` must name tags of the policy
    bundle (``tags.yaml``): an accepted match puts them on the column. ``parent`` is another
    term's id or a category name. ``status``: ``active``, ``draft`` or ``deprecated`` (only
    active terms are matched). ``version``: the glossary version that last changed it.
    """

    __tablename__ = "glossary_terms"
    __table_args__ = (UniqueConstraint("glossary_id", "term_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    glossary_id: Mapped[int] = mapped_column(
        ForeignKey("glossaries.id", ondelete="CASCADE"), index=True
    )
    term_id: Mapped[str] = mapped_column(String(512))
    label: Mapped[str] = mapped_column(String(1024))
    description: Mapped[str | None] = mapped_column(Text)
    synonyms: Mapped[list[Any]] = mapped_column(JSON, default=list)
    parent: Mapped[str | None] = mapped_column(String(512))
    tags: Mapped[list[Any]] = mapped_column(JSON, default=list)
    owner: Mapped[str | None] = mapped_column(String(256))
    status: Mapped[str] = mapped_column(String(16), default="active")
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    glossary: Mapped[Glossary] = relationship(back_populates="terms")


class GlossaryVersion(Base):
    """One import that changed a glossary: who, from what, and what changed (counts)."""

    __tablename__ = "glossary_versions"
    __table_args__ = (UniqueConstraint("glossary_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    glossary_id: Mapped[int] = mapped_column(ForeignKey("glossaries.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    imported_by: Mapped[str] = mapped_column(String(256))
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    source: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    changes: Mapped[dict[str, Any]] = mapped_column(JSON)


class MatchStatus(StrEnum):
    """Where a column-to-term match stands in review."""

    SUGGESTED = "suggested"
    PENDING = "pending"  # accepted by one steward; its sensitive tags wait for a second
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    ABSTAINED = "abstained"  # no term reached the threshold (term ""): the column was matched


class GlossaryMatch(Base):
    """A glossary term suggested for (or accepted on, or rejected for) a column.

    Made from metadata only. ``score`` is calibrated (a threshold means the same for every
    glossary); ``evidence`` holds each signal's score and which signals agreed.
    ``metadata_signature`` hashes what the matcher read of the column (dataset name and
    description, column name, type, description): a rejection holds while it is unchanged,
    and a changed column is matched again. ``reviewed_by``: the steward(s) who decided.
    """

    __tablename__ = "glossary_matches"
    __table_args__ = (UniqueConstraint("glossary_id", "dataset_id", "column_name", "term_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    glossary_id: Mapped[int] = mapped_column(
        ForeignKey("glossaries.id", ondelete="CASCADE"), index=True
    )
    dataset_id: Mapped[int] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE"), index=True
    )
    column_name: Mapped[str] = mapped_column(String(512))
    term_id: Mapped[str] = mapped_column(String(512))
    rank: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default=MatchStatus.SUGGESTED.value)
    metadata_signature: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(256))
    reviewed_by: Mapped[str | None] = mapped_column(String(512))
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
