import pytest

from tests.conftest import allow_profiling


@pytest.fixture(autouse=True)
def _profiling_purpose_acknowledged(request: pytest.FixtureRequest) -> None:
    """Profiling is policy-checked: the default principal has acknowledged its purpose."""
    if "catalog" in request.fixturenames:
        allow_profiling(request.getfixturevalue("catalog"))
    elif "catalog_url" in request.fixturenames or "home" in request.fixturenames:
        # catalog_url sets LAKEWARD_CATALOG_URL (SQLite or PostgreSQL); home alone: SQLite.
        request.getfixturevalue("catalog_url" if "catalog_url" in request.fixturenames else "home")
        allow_profiling()
