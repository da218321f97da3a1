"""A real standalone Spark cluster (master + worker from the pip wheel) gives the same catalog."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import write_small_lake
from tests.integration.conftest import lakeward

pytestmark = pytest.mark.cluster

VOLATILE = {"profiled_at", "lake_root", "uri"}


def _catalog(env: dict[str, str]) -> list[dict[str, object]]:
    result = lakeward("catalog", "ls", "--json", env=env)
    assert result.returncode == 0, result.stderr
    return [{k: v for k, v in d.items() if k not in VOLATILE} for d in json.loads(result.stdout)]


def test_cluster_profile_matches_local(spark_cluster: str, tmp_path: Path) -> None:
    root = tmp_path / "lake"
    write_small_lake(root)
    base = {k: v for k, v in os.environ.items() if not k.startswith("LAKEWARD_")}
    local_env = {
        **base,
        "LAKEWARD_HOME": str(tmp_path / "local"),
        "LAKEWARD_SPARK_MASTER": "local[2]",
    }
    cluster_env = {
        **base,
        "LAKEWARD_HOME": str(tmp_path / "cluster"),
        "LAKEWARD_SPARK_MASTER": spark_cluster,
        "LAKEWARD_SPARK_EXECUTOR_MEMORY": "768m",
    }
    for env in (local_env, cluster_env):
        result = lakeward("lake", "profile", str(root), "--json", env=env)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["profiled"] == 3
    local, cluster = _catalog(local_env), _catalog(cluster_env)
    assert [d["name"] for d in cluster] == ["hr.employees", "sales.orders", "web.events"]
    assert cluster == local
