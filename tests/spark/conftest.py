import pytest

from tests.conftest import allow_profiling


@pytest.fixture(autouse=True)
def _profiling_purpose_acknowledged(request: pytest.FixtureRequest) -> None:
    """Profiling is policy-checked: the default principal has acknowledged its purpose."""
    if "catalog" in request.fixturenames:
        allow_profiling(request.getfixturevalue("catalog"))
    elif "home" in request.fixturenames:
        request.getfixturevalue("home")
        allow_profiling()
