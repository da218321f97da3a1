"""glossaries, terms, versions and column matches; descriptions for metadata-only datasets

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05

Datasets and their columns gain a ``description`` (tables imported from a schema file carry
one). ``glossaries``/``glossary_terms``/``glossary_versions`` hold business glossaries;
``glossary_matches`` the matcher's suggestions and the stewards' decisions on them.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("datasets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("description", sa.Text(), nullable=True))
    with op.batch_alter_table("dataset_columns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("description", sa.Text(), nullable=True))
    op.create_table(
        "glossaries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=256), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_glossaries")),
        sa.UniqueConstraint("name", name=op.f("uq_glossaries_name")),
    )
    op.create_table(
        "glossary_terms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("glossary_id", sa.Integer(), nullable=False),
        sa.Column("term_id", sa.String(length=512), nullable=False),
        sa.Column("label", sa.String(length=1024), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("synonyms", sa.JSON(), nullable=False),
        sa.Column("parent", sa.String(length=512), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("owner", sa.String(length=256), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["glossary_id"],
            ["glossaries.id"],
            name=op.f("fk_glossary_terms_glossary_id_glossaries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_glossary_terms")),
        sa.UniqueConstraint(
            "glossary_id", "term_id", name=op.f("uq_glossary_terms_glossary_id_term_id")
        ),
    )
    with op.batch_alter_table("glossary_terms", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_glossary_terms_glossary_id"), ["glossary_id"], unique=False
        )
    op.create_table(
        "glossary_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("glossary_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("imported_by", sa.String(length=256), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["glossary_id"],
            ["glossaries.id"],
            name=op.f("fk_glossary_versions_glossary_id_glossaries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_glossary_versions")),
        sa.UniqueConstraint(
            "glossary_id", "version", name=op.f("uq_glossary_versions_glossary_id_version")
        ),
    )
    op.create_table(
        "glossary_matches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("glossary_id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("column_name", sa.String(length=512), nullable=False),
        sa.Column("term_id", sa.String(length=512), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("metadata_signature", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=256), nullable=False),
        sa.Column("reviewed_by", sa.String(length=512), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.id"],
            name=op.f("fk_glossary_matches_dataset_id_datasets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["glossary_id"],
            ["glossaries.id"],
            name=op.f("fk_glossary_matches_glossary_id_glossaries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_glossary_matches")),
        sa.UniqueConstraint(
            "glossary_id",
            "dataset_id",
            "column_name",
            "term_id",
            name=op.f("uq_glossary_matches_glossary_id_dataset_id_column_name_term_id"),
        ),
    )
    with op.batch_alter_table("glossary_matches", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_glossary_matches_dataset_id"), ["dataset_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_glossary_matches_glossary_id"), ["glossary_id"], unique=False
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("glossary_matches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_glossary_matches_glossary_id"))
        batch_op.drop_index(batch_op.f("ix_glossary_matches_dataset_id"))
    op.drop_table("glossary_matches")
    op.drop_table("glossary_versions")
    with op.batch_alter_table("glossary_terms", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_glossary_terms_glossary_id"))
    op.drop_table("glossary_terms")
    op.drop_table("glossaries")
    with op.batch_alter_table("dataset_columns", schema=None) as batch_op:
        batch_op.drop_column("description")
    with op.batch_alter_table("datasets", schema=None) as batch_op:
        batch_op.drop_column("description")
