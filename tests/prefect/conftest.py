from collections.abc import Iterator

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
