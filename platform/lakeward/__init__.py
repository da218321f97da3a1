"""Lakeward: a privacy-preserving data platform over a Spark data lake.

Map of the package (each subpackage's docstring maps its own modules):

- :mod:`lakeward.settings` — every setting (``LAKEWARD_*``), nested per room.
- :mod:`lakeward.errors` — the one exception hierarchy and its CLI exit codes.
- :mod:`lakeward.catalog` — the SQLAlchemy metadata catalog (SQLite or PostgreSQL),
  Alembic migrations, repositories, the MAC-chained, anchored audit log.
- :mod:`lakeward.spark` — the one lazy SparkSession factory (local, standalone, Connect).
- :mod:`lakeward.lake` — dataset discovery, file checks, one-pass profiling on Spark, the
  sample-lake generator.
- :mod:`lakeward.dedup` — containment deduplication: find contained datasets, plan their
  deletion, delete reversibly (quarantine, recipes), restore and reconstruct.
- :mod:`lakeward.orchestration` — the only Prefect-aware package: flows and artifacts.
- :mod:`lakeward.cli` — the ``lakeward`` command.
- :mod:`lakeward.identity` — authenticated principals (OS user, service token, the server's
  request), API tokens, OIDC.
- :mod:`lakeward.server` — ``lakeward server``, the authenticated API (the trust boundary).
- :mod:`lakeward.client` — the Python client of ``lakeward server``.
- :mod:`lakeward.policy` — Cedar decisions, audit, budget ledger, approvals, purposes.
- :mod:`lakeward.dp` — continual-release DP: counters, streams, releases, MaxSum.
- :mod:`lakeward.he` — einsum on CKKS ciphertexts: planner, keys, executor, Spark jobs.
- :mod:`lakeward.tagging` — column classification: detectors (names, sampled values), the
  Spark sampler, the classify service with provenance, review and propagation.

Capabilities (dedup, glossary, tagging, dp, rag, he) are their own subpackages; they meet
in the catalog and the policy layer, never in each other.
Nothing here starts a JVM or a server at import time.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("lakeward")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0+unknown"

__all__ = ["__version__"]
