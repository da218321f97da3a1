"""A real `prefect server start` + process worker runs the deployment from infra/prefect.yaml."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import write_small_lake
from tests.integration.conftest import BIN, free_port, lakeward, script

pytestmark = pytest.mark.server


def test_scheduled_deployment_runs_on_a_real_server(tmp_path: Path) -> None:
    root = tmp_path / "lake"
    expected = write_small_lake(root)
    state = tmp_path / "prefect"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAKEWARD_", "PREFECT_"))}
    env |= {
        "LAKEWARD_HOME": str(tmp_path / "home"),
        "LAKEWARD_LAKE_ROOT": str(root),
        "LAKEWARD_SPARK_MASTER": "local[2]",
        "LAKEWARD_BIN": str(BIN),
    }
    ack = lakeward(
        "policy",
        "purpose",
        "ack",
        "catalog_maintenance",
        "--yes",
        env=env,
    )
    assert ack.returncode == 0, ack.stderr
    api = script("prefect-server.sh", "start", str(state), str(free_port()), env=env, timeout=240)
    try:
        script("prefect-server.sh", "deploy", str(state), env=env)
        client_env = env | {"PREFECT_API_URL": api, "PREFECT_HOME": str(state / "home")}
        for name, entrypoint, cron in (
            (
                "profile_lake/profile-lake-nightly",
                "flows/profile_lake.py:profile_lake",
                "0 2 * * *",
            ),
            ("dp_release/dp-release-hourly", "flows/dp_release.py:dp_release", "5 * * * *"),
            ("dedup/dedup-weekly", "flows/dedup.py:dedup", "0 4 * * 0"),
        ):
            shown = subprocess.run(
                [str(BIN / "prefect"), "deployment", "inspect", name, "--output", "json"],
                capture_output=True,
                text=True,
                env=client_env,
                timeout=120,
                check=False,
            )
            assert shown.returncode == 0, shown.stderr
            scheduled = json.loads(shown.stdout)
            assert scheduled["entrypoint"] == entrypoint
            assert scheduled["work_pool_name"] == "lakeward-process"
            assert [s["schedule"]["cron"] for s in scheduled["schedules"]] == [cron]
        run = subprocess.run(
            [
                str(BIN / "prefect"),
                "deployment",
                "run",
                "profile_lake/profile-lake-nightly",
                "--watch",
                "--watch-timeout",
                "240",
            ],
            capture_output=True,
            text=True,
            env=client_env,
            timeout=300,
            check=False,
        )
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        assert "Completed" in run.stdout
        listing = lakeward("catalog", "ls", "--json", env=env)
        assert listing.returncode == 0, listing.stderr
        rows = {d["name"]: d["rows"] for d in json.loads(listing.stdout)}
        assert rows == {k: v["rows"] for k, v in expected.items()}
        artifacts = subprocess.run(
            [
                sys.executable,
                "-c",
                (
                    "import asyncio, json\n"
                    "from prefect.client.orchestration import get_client\n"
                    "from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey\n"
                    "async def main():\n"
                    "    async with get_client() as c:\n"
                    "        key = ArtifactFilterKey(any_=['lakeward-profile-lake'])\n"
                    "        f = ArtifactFilter(key=key)\n"
                    "        a = await c.read_latest_artifacts(artifact_filter=f)\n"
                    "        print(json.dumps(a[0].data if a else None, default=str))\n"
                    "asyncio.run(main())\n"
                ),
            ],
            capture_output=True,
            text=True,
            env=client_env,
            timeout=120,
            check=False,
        )
        assert artifacts.returncode == 0, artifacts.stderr
        data = json.loads(artifacts.stdout)
        table = json.loads(data) if isinstance(data, str) else data
        assert sorted(r["dataset"] for r in table) == sorted(expected)
    finally:
        script("prefect-server.sh", "stop", str(state), env=env)
