"""The ``dp_release`` flow: each period, release the next steps of every registered stream.

One task per stream (retried: a retry returns the persisted release, never fresh noise, and
spends nothing more), then a table artifact with each stream's released series and 95% error
bars, and a markdown summary. A stream that is refused (budget, policy), halted (schema,
source files) or fails for any other reason after its retries is reported and never stops
the streams after it; the flow fails after publishing so a schedule surfaces it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from lakeward.orchestration import prepare_prefect_env

prepare_prefect_env()

from prefect import flow, get_run_logger, task  # noqa: E402
from prefect.artifacts import create_markdown_artifact, create_table_artifact  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402

from lakeward.catalog import Catalog  # noqa: E402
from lakeward.errors import InputError, LakewardError  # noqa: E402

if TYPE_CHECKING:
    from prefect.client.schemas.objects import State

__all__ = ["DP_ARTIFACT_KEY", "DPReleaseFailed", "dp_release"]

DP_ARTIFACT_KEY = "lakeward-dp-release"
Z95 = 1.959964


class DPReleaseFailed(LakewardError):
    """Some streams were refused or failed; the others were released and published."""

    exit_code = 1


@task(name="list-dp-streams", cache_policy=NO_CACHE)
def streams_task(streams: list[str] | None) -> list[str]:
    """The named streams, or every active one."""
    from lakeward.dp import get_stream, list_streams

    catalog = Catalog.shared()
    if streams:
        return [get_stream(catalog, name).name for name in streams]
    return [s["name"] for s in list_streams(catalog) if s["state"] == "active"]


@task(name="release-dp-stream", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2)
def release_task(stream: str, actor: str, now: str, through: int | None) -> dict[str, Any]:
    """Release the stream's due periods; a refusal or halt is a result, not a task failure."""
    from lakeward.dp import release_streams

    when = datetime.fromisoformat(now)
    try:
        results = release_streams(
            Catalog.shared(), [stream], actor=actor, now=when, through=through
        )[stream]
    except LakewardError as exc:
        if not isinstance(exc, InputError | PermissionError):
            raise
        get_run_logger().error("stream %s: %s", stream, exc)
        return {"stream": stream, "status": "refused", "error": str(exc), "released": []}
    return {
        "stream": stream,
        "status": "released" if results else "up-to-date",
        "error": None,
        "released": [r.period for r in results if r.fresh],
        "returned": [r.period for r in results],
    }


def _outcome(stream: str, state: State) -> dict[str, Any]:
    """A release task's result; a task that failed after its retries becomes ``failed``."""
    if not state.is_failed() and not state.is_crashed():
        result: dict[str, Any] = state.result()
        return result
    exc = state.result(raise_on_failure=False)
    message = str(exc) if isinstance(exc, BaseException) else str(state.message)
    get_run_logger().error("stream %s failed: %s", stream, message)
    return {"stream": stream, "status": "failed", "error": message or "failed", "released": []}


def _rows(stream: str, last: int) -> list[dict[str, Any]]:
    from lakeward.dp import stream_series

    series = stream_series(Catalog.shared(), stream)
    rows = []
    for period, start, values, sd in list(
        zip(series.periods, series.starts, series.values, series.sd, strict=True)
    )[-last:]:
        for key, value in zip(series.keys, values, strict=True):
            rows.append(
                {
                    "stream": stream,
                    "period": period,
                    "start": start.isoformat(),
                    "key": key,
                    "value": round(value, 3),
                    "ci95_low": round(value - Z95 * sd, 3),
                    "ci95_high": round(value + Z95 * sd, 3),
                    "sd": round(sd, 4),
                }
            )
    return rows


@task(name="publish-dp-release", cache_policy=NO_CACHE)
def publish_task(outcomes: list[dict[str, Any]], last: int) -> dict[str, Any]:
    """Table artifact (released series with error bars) and a markdown summary."""
    from lakeward.dp import stream_budget

    table: list[dict[str, Any]] = []
    lines = [
        "# Lakeward DP release",
        "",
        "| stream | status | new periods | rho spent / stream rho |",
    ]
    lines.append("|---|---|---|---|")
    for outcome in outcomes:
        try:
            if outcome["status"] in ("released", "up-to-date"):
                table.extend(_rows(outcome["stream"], last))
            budget = stream_budget(Catalog.shared(), outcome["stream"])
            spent = f"{budget['stream_spent']:.4g} / {budget['stream_rho']:.4g}"
        except LakewardError as exc:  # a broken stream must not hide the others' results
            spent = f"unknown ({str(exc).splitlines()[0]})"
        new = outcome["released"]
        lines.append(
            f"| {outcome['stream']} | {outcome['status']} | "
            f"{f'{new[0]}–{new[-1]}' if new else '–'} | {spent} |"
        )
        if outcome["error"]:
            lines.append(f"| | error: {outcome['error'].splitlines()[0]} | | |")
    create_table_artifact(
        key=DP_ARTIFACT_KEY,
        table=table or [{"stream": "-", "period": 0, "key": "-", "value": 0.0}],
        description="Released DP series (last periods) with 95% error bars",
    )
    create_markdown_artifact(key=f"{DP_ARTIFACT_KEY}-summary", markdown="\n".join(lines))
    return {
        "streams": len(outcomes),
        "released": {o["stream"]: o["released"] for o in outcomes},
        "refused": {o["stream"]: o["error"] for o in outcomes if o["status"] == "refused"},
        "failed": {o["stream"]: o["error"] for o in outcomes if o["status"] == "failed"},
        "rows": len(table),
    }


@flow(name="dp_release")
def dp_release(
    streams: list[str] | None = None,
    through: int | None = None,
    now: str | None = None,
    artifact_periods: int = 8,
    requested_by: str | None = None,
) -> dict[str, Any]:
    """Release every due period of the registered DP streams (or the named ones).

    ``now`` (ISO time, default: the run's start) decides which periods are due; ``through``
    caps the last period. Releases are idempotent: a retry or a re-run of the same period
    returns the persisted values and spends no budget. Each stream's creator is decided and
    charged; the run's authenticated principal carries the releases out (recorded).
    """
    from lakeward.orchestration._identity import run_as

    with run_as(requested_by) as me:
        when = now or datetime.now(UTC).isoformat()
        names = streams_task(streams)
        outcomes = [
            _outcome(name, release_task(name, me.name, when, through, return_state=True))
            for name in names
        ]
        summary = publish_task(outcomes, artifact_periods)
    problems = [
        f"{verb} for {name}: {error.splitlines()[0]}"
        for verb in ("refused", "failed")
        for name, error in summary[verb].items()
    ]
    if problems:
        raise DPReleaseFailed("DP release " + "; ".join(problems))
    return summary
