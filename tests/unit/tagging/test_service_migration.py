"""Revision 0008: tags written before review existed are approved (a steward put them there),
so upgrading changes no decision. SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import text

from lakeward.catalog import Catalog, DatasetRepository, TagRepository, TagStatus


def test_existing_tags_become_approved(catalog_url: str) -> None:
    catalog = Catalog.open(catalog_url, migrate=False)
    try:
        catalog.upgrade("0007")
        with catalog.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO datasets (name, uri, lake_root, format, layout, file_count, "
                    "bytes, current_version, registered_at) VALUES ('ops.metrics', 'u', 'r', "
                    "'parquet', 'file', 1, 0, 0, CURRENT_TIMESTAMP)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO tags (dataset_id, column_name, name, source, confidence, "
                    "created_at) SELECT id, 'host', 'pii', 'manual', 1.0, CURRENT_TIMESTAMP "
                    "FROM datasets"
                )
            )
        catalog.upgrade()
        with catalog.session() as session:
            dataset = DatasetRepository(session).require("ops.metrics")
            (tag,) = TagRepository(session).for_dataset(dataset)
            assert (tag.name, tag.status, tag.evidence, tag.reviewed_by) == (
                "pii",
                TagStatus.APPROVED.value,
                None,
                None,
            )
    finally:
        catalog.dispose()
