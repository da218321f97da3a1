"""Shared keys for the HE tests: one simulated and two real key sets per session.

Real keys use the smallest ring degree that holds the depth (N=8192 for depth 2, N=16384
for depth 3) and the default power-of-two Galois keys, so any expression can run; tests of
plan-specific keys make their own. ``lakeward`` runs the CLI (``lakeward.cli.main``, the
real error boundary) in ``tmp_path`` and returns the exit code.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from lakeward import he
from lakeward.cli import cli
from lakeward.cli import main as lakeward_main
from lakeward.cli.he import he as he_group


@pytest.fixture(scope="session")
def sim_keys() -> he.Keys:
    return he.keygen(depth=6, simulated=True)


@pytest.fixture(scope="session")
def keys() -> he.Keys:
    return he.keygen(depth=2)


@pytest.fixture(scope="session")
def deep_keys() -> he.Keys:
    return he.keygen(depth=3)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20250707)


@pytest.fixture
def lakeward(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[..., int]:
    monkeypatch.setitem(cli.commands, "he", he_group)
    monkeypatch.chdir(tmp_path)

    def run(*args: str) -> int:
        return lakeward_main(list(args))

    return run
