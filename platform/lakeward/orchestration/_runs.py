"""Long work as runs of the Prefect deployments in ``infra/prefect.yaml``.

With ``LAKEWARD_SERVER_LONG_WORK=prefect``, ``lakeward server`` does not profile a lake, search
for containment or release DP periods in its own threads: it decides ``flow.run`` for the
requesting principal (audited), then starts the matching deployment with the requester in
the run's ``requested_by`` parameter. A worker executes it as the service principal of its
credential, and every audit record of the run names the requester. The CLI prints the run
id, or waits for the run with ``--wait``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lakeward.catalog import Catalog
from lakeward.errors import InputError, NotFound, ServiceUnavailable

__all__ = ["LONG_WORK", "RunInfo", "start_run", "run_status"]

#: CLI command → (deployment, the purpose its requester must hold ``flow.run`` for).
LONG_WORK: dict[tuple[str, str], tuple[str, str]] = {
    ("lake", "profile"): ("profile_lake/profile-lake-nightly", "catalog_maintenance"),
    ("dedup", "find"): ("dedup/dedup-weekly", "data_governance"),
    ("dp", "release"): ("dp_release/dp-release-hourly", ""),
}
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


@dataclass(frozen=True)
class RunInfo:
    """A deployment run and where it stands."""

    run_id: str
    deployment: str
    state: str
    requested_by: str | None
    parameters: dict[str, Any] = field(default_factory=dict)
    message: str | None = None

    @property
    def finished(self) -> bool:
        """Whether the run reached a final state."""
        return self.state in TERMINAL

    def to_dict(self) -> dict[str, Any]:
        """``--json`` form."""
        return {
            "run_id": self.run_id,
            "deployment": self.deployment,
            "state": self.state,
            "requested_by": self.requested_by,
            "parameters": self.parameters,
            "message": self.message,
        }


def _info(run: Any, deployment: str) -> RunInfo:
    state = run.state
    params = dict(run.parameters or {})
    return RunInfo(
        str(run.id),
        deployment,
        str(state.type.value if state is not None else "PENDING"),
        params.get("requested_by"),
        params,
        state.message if state is not None else None,
    )


def start_run(
    catalog: Catalog,
    requester: str,
    command: tuple[str, str],
    parameters: dict[str, Any],
    *,
    purpose: str | None = None,
) -> RunInfo:
    """Decide ``flow.run`` for ``requester`` (audited), then start the command's deployment.

    Raises:
        PolicyDenied: ``requester`` may not start this work.
        InputError: the command has no deployment.
        ServiceUnavailable: the Prefect API cannot be reached or the deployment is not there.
    """
    from lakeward.policy import guard

    if command not in LONG_WORK:
        raise InputError(f"`lakeward {' '.join(command)}` is not run as a deployment")
    deployment, default_purpose = LONG_WORK[command]
    guard(catalog, requester, "flow.run", "platform", {"purpose": purpose or default_purpose})
    from prefect.deployments import run_deployment

    try:
        run = run_deployment(
            deployment, parameters={**parameters, "requested_by": requester}, timeout=0
        )
    except Exception as exc:
        raise ServiceUnavailable(
            f"Could not start deployment {deployment} ({type(exc).__name__}: {exc}); deploy "
            "infra/prefect.yaml (`infra/prefect-server.sh deploy`) and check PREFECT_API_URL."
        ) from exc
    return _info(run, deployment)


def run_status(run_id: str) -> RunInfo:
    """Where a run stands.

    Raises:
        NotFound: no such run.
        ServiceUnavailable: the Prefect API cannot be reached.
    """
    import uuid

    from prefect.client.orchestration import get_client

    try:
        ident = uuid.UUID(run_id)
    except ValueError:
        raise NotFound(f"{run_id!r} is not a run id") from None
    try:
        with get_client(sync_client=True) as client:
            run = client.read_flow_run(ident)
            name = client.read_flow(run.flow_id).name
            if run.deployment_id is not None:  # the same `flow/deployment` name start_run uses
                name = f"{name}/{client.read_deployment(run.deployment_id).name}"
    except Exception as exc:
        if "404" in str(exc) or "not found" in str(exc).lower():
            raise NotFound(f"No run {run_id}") from None
        raise ServiceUnavailable(f"Prefect API unreachable ({type(exc).__name__}: {exc})") from exc
    return _info(run, name)
