"""Alembic environment for the Lakeward catalog.

Used two ways: programmatically by :meth:`lakeward.catalog.Catalog.upgrade` (which passes
an open connection in ``config.attributes["connection"]``), and from the repository root by
developers adding a migration::

    .venv/bin/alembic revision --autogenerate -m "add glossary tables"

which connects to ``LAKEWARD_CATALOG_URL`` (default: the SQLite catalog under LAKEWARD_HOME).
"""

from __future__ import annotations

from alembic import context

from lakeward.catalog import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite needs batch mode for ALTER TABLE
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    from lakeward.catalog import create_catalog_engine
    from lakeward.settings import get_settings

    engine = create_catalog_engine(get_settings().catalog_url)
    with engine.begin() as conn:
        _run(conn)
