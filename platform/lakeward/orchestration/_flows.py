"""Prefect flows over Lakeward. Thin: parameters → lakeward calls → artifacts.

Tasks exchange dataset names and small dicts only, never Spark objects; every task opens
the shared catalog and the process-wide Spark session itself, so the same code runs under
a worker, ``flow.serve()``, or a plain call.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

from lakeward.orchestration import prepare_prefect_env

prepare_prefect_env()

from prefect import flow, get_run_logger, task  # noqa: E402
from prefect.artifacts import create_markdown_artifact, create_table_artifact  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402
from prefect.task_runners import ThreadPoolTaskRunner  # noqa: E402
from prefect.utilities.annotations import unmapped  # noqa: E402

from lakeward.catalog import Catalog  # noqa: E402
from lakeward.errors import ConfigurationError, ProfileFailed  # noqa: E402
from lakeward.lake import ProfileReport, profile_one, register_lake  # noqa: E402
from lakeward.lake._service import DatasetOutcome  # noqa: E402
from lakeward.orchestration._artifacts import profile_markdown, profile_table  # noqa: E402
from lakeward.orchestration._identity import run_as  # noqa: E402
from lakeward.settings import get_settings  # noqa: E402

__all__ = ["lakeward_pipeline", "profile_lake"]

PROFILE_ARTIFACT_KEY = "lakeward-profile-lake"


def _lake_root(lake_root: str | None) -> str:
    root = lake_root or get_settings().lake.root
    if not root:
        raise ConfigurationError(
            "No lake root: pass the flow parameter lake_root or set LAKEWARD_LAKE_ROOT in the "
            "worker's environment.",
            setting="LAKEWARD_LAKE_ROOT",
        )
    return root


@task(name="register-lake", cache_policy=NO_CACHE)
def register_task(lake_root: str, principal: str, purpose: str) -> list[str]:
    """Discover and register the lake's datasets; returns their names."""
    report = register_lake(Catalog.shared(), lake_root, principal=principal, purpose=purpose)
    if report.missing:
        get_run_logger().warning("Registered datasets no longer in the lake: %s", report.missing)
    return report.datasets


@task(name="profile-dataset", cache_policy=NO_CACHE, retries=1, retry_delay_seconds=5)
def profile_task(name: str, principal: str, purpose: str, force: bool) -> dict[str, Any]:
    """Profile one dataset as (principal, purpose) under the policy layer.

    A bad or refused dataset is a result, not a task failure.
    """
    outcome = profile_one(Catalog.shared(), name, force=force, principal=principal, purpose=purpose)
    if outcome.status in ("failed", "denied"):
        get_run_logger().error("%s", outcome.error)
    return asdict(outcome)


@task(name="publish-profile-report", cache_policy=NO_CACHE)
def publish_task(
    lake_root: str, principal: str, purpose: str, outcomes: list[dict[str, Any]], seconds: float
) -> dict[str, Any]:
    """Publish table + markdown artifacts; returns the summary."""
    report = ProfileReport([DatasetOutcome(**o) for o in outcomes], seconds)
    summary = {
        "lake_root": lake_root,
        "principal": principal,
        "purpose": purpose,
        **report.to_dict(),
        "rows": sum(o["rows"] or 0 for o in outcomes),
        "bytes": sum(o["bytes"] or 0 for o in outcomes),
    }
    create_table_artifact(
        key=PROFILE_ARTIFACT_KEY,
        table=profile_table(outcomes),
        description=f"Lakeward profile of {lake_root}",
    )
    create_markdown_artifact(
        key=f"{PROFILE_ARTIFACT_KEY}-summary", markdown=profile_markdown(summary)
    )
    return summary


@flow(
    name="profile_lake",
    task_runner=ThreadPoolTaskRunner(  # type: ignore[arg-type]  # Prefect's generic is too narrow
        max_workers=get_settings().lake.profile_concurrency
    ),
)
def profile_lake(
    lake_root: str | None = None,
    purpose: str = "catalog_maintenance",
    force: bool = False,
    requested_by: str | None = None,
) -> dict[str, Any]:
    """Register every dataset under ``lake_root`` and profile the changed ones on Spark.

    Each dataset is profiled only if the policy layer permits ``lake.profile`` and
    ``lake.read_content`` to the run's authenticated principal (the worker's service
    credential, or the OS user in embedded mode) for ``purpose`` (audited; refused datasets are
    reported as ``denied``; masked columns keep their values out of the catalog). Publishes a
    table artifact (one row per dataset) and a markdown summary. Fails (after publishing)
    when any dataset failed, so schedules surface broken files.
    ``lake_root`` defaults to ``LAKEWARD_LAKE_ROOT`` in the worker's environment.
    """
    with run_as(requested_by) as me:
        principal = me.name
        lake_root = _lake_root(lake_root)
        started = time.perf_counter()
        names = register_task(lake_root, principal, purpose)
        futures = profile_task.map(
            names, principal=unmapped(principal), purpose=unmapped(purpose), force=unmapped(force)
        )
        outcomes = [f.result() for f in futures]
        summary = publish_task(
            lake_root, principal, purpose, outcomes, time.perf_counter() - started
        )
        if summary["errors"]:
            raise ProfileFailed(
                f"{len(summary['errors'])} of {len(names)} datasets failed to profile: "
                + "; ".join(f"{k}: {v}" for k, v in sorted(summary["errors"].items())),
                summary["errors"],
                summary,
            )
        return summary


@flow(name="lakeward_pipeline")
def lakeward_pipeline(
    lake_root: str | None = None,
    purpose: str = "catalog_maintenance",
    requested_by: str | None = None,
) -> dict[str, Any]:
    """Every capability in order over one lake. Later capabilities add their step here.

    Profiling first; then glossary matching (the lake's new and changed columns matched to
    every glossary from metadata only, for ``data_governance``; nothing to do before a
    glossary is imported); then tagging (the changed datasets classified for
    ``data_governance``, so policies see their columns' types); then the due periods of every
    registered DP stream (each charged to its creator's budget; the run's principal only
    carries them out).
    """
    from lakeward.orchestration._dp_flow import dp_release
    from lakeward.orchestration._glossary import glossary_match
    from lakeward.orchestration._tagging import tag_lake

    lake_root = _lake_root(lake_root)
    profile = profile_lake(lake_root, purpose=purpose, requested_by=requested_by)
    names = _lake_datasets(profile)
    glossary = glossary_match(datasets=names, requested_by=requested_by)
    tags = tag_lake(datasets=names, requested_by=requested_by)
    return {
        "profile": profile,
        "glossary": glossary,
        "tags": tags,
        "dp": dp_release(requested_by=requested_by),
    }


def _lake_datasets(profile: dict[str, Any]) -> list[str]:
    """The datasets a profile run covered (glossary matching and tagging follow the same lake)."""
    return [d["name"] for d in profile["datasets"]]
