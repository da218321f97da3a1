import asyncio
from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[None]:
    """One temporary Prefect API for the whole session (startup ~12 s on 2 cores)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield


@pytest.fixture(autouse=True)
def _profiling_purpose_acknowledged(request: pytest.FixtureRequest) -> None:
    """Profiling is policy-checked: the default principal has acknowledged its purpose."""
    from tests.conftest import allow_profiling

    if "home" in request.fixturenames:
        request.getfixturevalue("home")
        allow_profiling()


def latest_artifact(key: str) -> Any:
    """The latest Prefect artifact with ``key`` (``None`` when there is none)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    async def read() -> Any:
        async with get_client() as client:
            found = await client.read_latest_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]))
            )
            return found[0] if found else None

    return asyncio.run(read())
