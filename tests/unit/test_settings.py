import json
from pathlib import Path

import pytest

from lakeward.errors import ConfigurationError
from lakeward.settings import get_settings


def test_contract_environment_variables(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LAKEWARD_HOME", str(tmp_path / "h"))
    monkeypatch.setenv("LAKEWARD_SPARK_MASTER", "spark://10.0.0.1:7077")
    monkeypatch.setenv("LAKEWARD_POLICY_DIR", "/etc/lakeward/policies")
    monkeypatch.setenv("LAKEWARD_LAKE_ROOT", "s3://bucket/lake")
    monkeypatch.setenv("LAKEWARD_SPARK_CONF", json.dumps({"spark.executor.cores": "3"}))
    s = get_settings()
    assert s.home == (tmp_path / "h").resolve()
    assert s.catalog_url == f"sqlite:///{(tmp_path / 'h').resolve() / 'catalog.db'}"
    assert s.spark.master == "spark://10.0.0.1:7077"
    assert s.policy.dir == Path("/etc/lakeward/policies")
    assert s.lake.root == "s3://bucket/lake"
    assert s.spark.conf == {"spark.executor.cores": "3"}
    monkeypatch.setenv("LAKEWARD_CATALOG_URL", "postgresql+psycopg://u:secret@db/lw")
    assert get_settings().catalog_url == "postgresql+psycopg://u:secret@db/lw"


def test_describe_lists_every_field_with_description_env_and_redaction(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LAKEWARD_CATALOG_URL", "postgresql+psycopg://u:pw-9f3@db/lw")
    monkeypatch.setenv("LAKEWARD_LAKE_SECRET", "hunter2")
    s = get_settings()
    rows = s.describe()
    fields = sum(
        len(type(getattr(s, n)).model_fields)
        for n in (
            "catalog",
            "spark",
            "lake",
            "policy",
            "orchestration",
            "dedup",
            "server",
            "audit",
            "glossary",
            "rag",
        )
    )
    assert len(rows) == fields + 1
    for row in rows:
        assert row["description"], row
        assert row["env"].startswith("LAKEWARD_")
    text = json.dumps(rows, default=str)
    assert "pw-9f3" not in text and "hunter2" not in text
    by_setting = {r["setting"]: r["value"] for r in rows}
    assert by_setting["catalog.url"] == "postgresql+psycopg://u:***@db/lw"
    assert by_setting["lake.secret"] == "**********"
    assert {r["env"] for r in rows} >= {
        "LAKEWARD_HOME",
        "LAKEWARD_CATALOG_URL",
        "LAKEWARD_SPARK_MASTER",
        "LAKEWARD_POLICY_DIR",
        "LAKEWARD_LAKE_ROOT",
    }


def test_invalid_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKEWARD_SPARK_SHUFFLE_PARTITIONS", "zero")
    with pytest.raises(ConfigurationError, match="LAKEWARD_SPARK_SHUFFLE_PARTITIONS"):
        get_settings()
