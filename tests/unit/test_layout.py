"""Guard: `platform/` is a source root, never a package shadowing the stdlib."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_no_platform_package() -> None:
    assert not (REPO / "platform" / "__init__.py").exists()


def test_stdlib_platform_imports_from_repo_root() -> None:
    code = (
        "import platform, pathlib; "
        "assert pathlib.Path(platform.__file__).name == 'platform.py', platform.__file__; "
        "platform.python_implementation(); import sqlalchemy, lakeward; print('ok')"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_package_lives_under_platform() -> None:
    import lakeward

    assert Path(lakeward.__file__).resolve().parent == REPO / "platform" / "lakeward"
