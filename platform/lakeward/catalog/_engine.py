"""Engine, sessions and schema migration for the catalog database.

SQLite (default) and PostgreSQL behave the same: SQLite runs in WAL mode with foreign keys
on and a busy timeout, and writers that must serialise (audit chain, later the budget
ledger) take ``BEGIN IMMEDIATE`` there and a row or table lock on PostgreSQL (see
:func:`write_lock`).
"""

from __future__ import annotations

import contextlib
import fcntl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from lakeward.errors import CatalogUnavailable, ConfigurationError

__all__ = ["Catalog", "create_catalog_engine", "write_lock"]

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_PG_MIGRATION_LOCK = 0x4C414B45  # "LAKE": advisory lock key that serialises migrations
_shared: dict[str, Catalog] = {}
_shared_lock = threading.Lock()
_upgrade_lock = threading.Lock()


def _parse_url(url: str) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigurationError(
            f"LAKEWARD_CATALOG_URL is not a database URL ({exc}). Use e.g. "
            "sqlite:////abs/path/catalog.db or postgresql+psycopg://user:pass@host:5432/db.",
            setting="LAKEWARD_CATALOG_URL",
        ) from exc
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigurationError(
            f"LAKEWARD_CATALOG_URL uses {parsed.get_backend_name()!r}; the catalog supports "
            "sqlite and postgresql only.",
            setting="LAKEWARD_CATALOG_URL",
        )
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def create_catalog_engine(
    url: str, *, connect_timeout_s: float = 10.0, echo: bool = False
) -> Engine:
    """Create an engine for ``url`` with Lakeward's per-dialect defaults.

    Raises:
        ConfigurationError: the URL is malformed or names an unsupported database.
    """
    parsed = _parse_url(url)
    connect_args: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        connect_args["timeout"] = 60
    else:
        connect_args["connect_timeout"] = max(1, int(connect_timeout_s))
    try:
        # A pre-ping (a round trip per checkout) finds PostgreSQL connections the server
        # dropped; a SQLite file has no such connections to lose.
        engine = create_engine(
            parsed,
            echo=echo,
            connect_args=connect_args,
            pool_pre_ping=parsed.get_backend_name() != "sqlite",
        )
    except (NoSuchModuleError, ImportError) as exc:
        raise ConfigurationError(
            f"No driver for LAKEWARD_CATALOG_URL ({exc}); use postgresql+psycopg://...",
            setting="LAKEWARD_CATALOG_URL",
        ) from exc
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    # Let SQLAlchemy emit BEGIN itself (pysqlite's implicit transactions break
    # BEGIN IMMEDIATE and SAVEPOINT semantics).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=60000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _sqlite_on_begin(conn: Connection) -> None:
    mode = conn.info.pop("lakeward_begin", "BEGIN")
    conn.exec_driver_sql(mode)


@contextlib.contextmanager
def write_lock(session: Session, table: str) -> Iterator[None]:
    """Serialise writers of ``table`` for the rest of ``session``'s transaction.

    Must be the first statement of the transaction on SQLite (it upgrades the transaction to
    a write transaction with ``BEGIN IMMEDIATE``); on PostgreSQL it takes an EXCLUSIVE table
    lock, which readers do not wait for.
    """
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f'LOCK TABLE "{table}" IN EXCLUSIVE MODE')
    yield


class Catalog:
    """The catalog database: an engine, a session factory and the schema's migrations."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def open(
        cls, url: str | None = None, *, migrate: bool = True, connect_timeout_s: float | None = None
    ) -> Catalog:
        """Open (and by default migrate) the catalog at ``url`` or the configured one.

        Raises:
            CatalogUnavailable: the database cannot be reached; nothing was written.
            ConfigurationError: the URL is invalid.
        """
        from lakeward.settings import get_settings

        settings = get_settings()
        url = url or settings.catalog_url
        timeout = connect_timeout_s or settings.catalog.connect_timeout_s
        catalog = cls(
            create_catalog_engine(url, connect_timeout_s=timeout, echo=settings.catalog.echo)
        )
        catalog.ping()
        if migrate:
            catalog.upgrade()
        return catalog

    @classmethod
    def shared(cls) -> Catalog:
        """The process-wide catalog for the configured URL (opened and migrated once)."""
        from lakeward.settings import get_settings

        url = get_settings().catalog_url
        with _shared_lock:
            if url not in _shared:
                _shared[url] = cls.open(url)
            return _shared[url]

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    def ping(self) -> None:
        """Connect once, translating failure into :class:`CatalogUnavailable`."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except OperationalError as exc:
            where = self.engine.url.render_as_string(hide_password=True)
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise CatalogUnavailable(
                f"Cannot reach the catalog database {where} ({reason}). Fix: start that "
                "database, or set LAKEWARD_CATALOG_URL to a reachable one (unset it for the "
                "default SQLite catalog under LAKEWARD_HOME)."
            ) from exc

    @contextlib.contextmanager
    def session(self, *, immediate: bool = False) -> Iterator[Session]:
        """A session in one transaction: commit on success, roll back on any error.

        Args:
            immediate: on SQLite, start the transaction with ``BEGIN IMMEDIATE`` so it holds
                the write lock from its first statement (use for read-modify-write).
        """
        if immediate and self.dialect == "sqlite":
            with self.engine.connect() as conn:
                conn.info["lakeward_begin"] = "BEGIN IMMEDIATE"
                with Session(bind=conn, expire_on_commit=False) as session:
                    yield from self._transaction(session)
            return
        with self._sessions() as session:
            yield from self._transaction(session)

    @staticmethod
    def _transaction(session: Session) -> Iterator[Session]:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise

    def upgrade(self, revision: str = "head") -> None:
        """Bring the schema to ``revision`` with Alembic, serialised across processes."""
        from alembic import command
        from alembic.config import Config
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        script = ScriptDirectory.from_config(config)
        with self.engine.connect() as conn:
            if MigrationContext.configure(conn).get_current_heads() == tuple(
                script.get_heads() if revision == "head" else [revision]
            ):
                return
        # Alembic's migration context is process-global: one upgrade at a time per process.
        with _upgrade_lock, self._migration_lock(), self.engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, revision)

    @contextlib.contextmanager
    def _migration_lock(self) -> Iterator[None]:
        if self.dialect == "postgresql":
            with self.engine.connect() as conn:
                conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
                try:
                    yield
                finally:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_MIGRATION_LOCK})
                    conn.commit()
            return
        database = self.engine.url.database
        if not database or database == ":memory:":
            yield
            return
        with open(f"{database}.migrate.lock", "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
