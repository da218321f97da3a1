"""Fixtures that start real services on 127.0.0.1 through the scripts in infra/."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def script(name: str, *args: str, env: dict[str, str] | None = None, timeout: int = 180) -> str:
    result = subprocess.run(
        [str(REPO / "infra" / name), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env or os.environ.copy(),
        check=False,
    )
    assert result.returncode == 0, f"{name} {args} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""


def lakeward(
    *args: str, env: dict[str, str], timeout: int = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "lakeward"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def spark_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    state = tmp_path_factory.mktemp("spark-cluster")
    env = {**os.environ, "PYTHON": sys.executable, "LAKEWARD_SPARK_WORKER_MEMORY": "1g"}
    master = script("spark-cluster.sh", "start", str(state), str(free_port()), env=env)
    try:
        yield master
    finally:
        script("spark-cluster.sh", "stop", str(state), env=env)


@pytest.fixture(scope="module")
def spark_connect(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    state = tmp_path_factory.mktemp("spark-connect")
    env = {**os.environ, "PYTHON": sys.executable}
    remote = script("spark-connect.sh", "start", str(state), str(free_port()), env=env)
    try:
        yield remote
    finally:
        script("spark-connect.sh", "stop", str(state), env=env)
