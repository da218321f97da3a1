"""Prefect-aware helpers: the only package besides ``flows/`` that imports Prefect.

- :func:`prepare_prefect_env`: Prefect defaults for Lakeward (isolated ``PREFECT_HOME``
  under ``LAKEWARD_HOME``, analytics off, a startup timeout that suits 2-core machines);
  call it before the first ``import prefect``.
- ``_flows``: the flow definitions (``profile_lake``, ``lakeward_pipeline``); ``flows/*.py``
  re-export them as file-path entrypoints for deployments.
- ``_artifacts``: report rendering for Prefect artifacts.
- ``_dedup``: the ``dedup`` flow (find → plan → propose) and its artifacts.
- ``_tagging``: the ``tag_lake`` flow (classify changed datasets) and its artifacts.
- ``_glossary``: the ``glossary_match`` flow (new and changed columns matched to the
  glossary from metadata only) and its artifacts; ``glossary_match`` is exported here,
  imported on first use so that importing this package does not import Prefect.
- ``_dp_flow``: the ``dp_release`` flow.
- ``_rag``: the ``rag_ingest`` (incremental) and ``rag_rebuild`` flows and their artifacts;
  exported here lazily, like ``glossary_match``.
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["glossary_match", "prepare_prefect_env", "rag_ingest", "rag_rebuild"]


def __getattr__(name: str) -> Any:
    """Flows exported lazily (importing them imports Prefect, after :func:`prepare_prefect_env`)."""
    if name == "glossary_match":
        from lakeward.orchestration._glossary import glossary_match

        return glossary_match
    if name in ("rag_ingest", "rag_rebuild"):
        from lakeward.orchestration import _rag

        return getattr(_rag, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def prepare_prefect_env() -> None:
    """Set Lakeward's Prefect defaults in ``os.environ`` without overriding the user's."""
    from lakeward.settings import get_settings

    settings = get_settings()
    if (
        settings.orchestration.isolate_prefect_home
        and "PREFECT_HOME" not in os.environ
        and "PREFECT_API_URL" not in os.environ
    ):
        os.environ["PREFECT_HOME"] = str(settings.home / "prefect")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
