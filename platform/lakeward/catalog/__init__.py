"""The metadata catalog: typed SQLAlchemy models, the database, and repositories.

- ``_models``: tables (datasets, dataset versions, columns with statistics, tags with
  provenance and review status, classifications, audit).
- ``_engine``: :class:`Catalog` (engine + sessions + Alembic migrations), SQLite/PostgreSQL
  parity, :func:`write_lock` for writers that must serialise.
- ``_repo``: repositories, the only code that writes these tables; what a viewer reads of a
  dataset (:func:`describe_dataset`, decided as ``catalog.read_metadata``, masked per viewer).
- ``_ddl``: renders ``sql/catalog.<dialect>.sql`` from the models.
- ``migrations/``: Alembic revisions; later capabilities add theirs here.
"""

from lakeward.catalog._audit import GENESIS_HASH, AuditLog, ChainBreak, audit_key, ledger_mac
from lakeward.catalog._engine import Catalog, create_catalog_engine, write_lock
from lakeward.catalog._models import (
    ApiToken,
    Approval,
    AuditRecord,
    Base,
    BudgetEntry,
    Classification,
    ColumnProfile,
    ContainmentEdge,
    ContainmentRun,
    Dataset,
    DatasetVersion,
    DeletionItem,
    DeletionPlan,
    DPRelease,
    DPStream,
    DPStreamFile,
    Glossary,
    GlossaryMatch,
    GlossaryTerm,
    GlossaryVersion,
    MatchStatus,
    PolicyRevision,
    PurposeAcknowledgement,
    Tag,
    TagStatus,
)
from lakeward.catalog._repo import (
    AcceptedTerm,
    ColumnStats,
    DatasetListing,
    DatasetRepository,
    TagRepository,
    accepted_terms,
    column_signature,
    dataset_summary,
    describe_dataset,
    describe_datasets,
)

__all__ = [
    "AcceptedTerm",
    "GENESIS_HASH",
    "ApiToken",
    "Approval",
    "AuditLog",
    "AuditRecord",
    "BudgetEntry",
    "ChainBreak",
    "Classification",
    "ColumnStats",
    "DatasetListing",
    "Glossary",
    "GlossaryMatch",
    "GlossaryTerm",
    "GlossaryVersion",
    "MatchStatus",
    "DatasetRepository",
    "TagRepository",
    "accepted_terms",
    "TagStatus",
    "column_signature",
    "dataset_summary",
    "describe_dataset",
    "describe_datasets",
    "Base",
    "Catalog",
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
    "create_catalog_engine",
    "audit_key",
    "ledger_mac",
    "write_lock",
]
