"""Real Spark outside this process give the same catalog as embedded Spark.

- a standalone cluster (master + worker started from the pip wheel by infra/spark-cluster.sh);
- a Spark Connect server (infra/spark-connect.sh).
"""

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


def _same_catalog_as_local(tmp_path: Path, master: str, **extra: str) -> None:
    root = tmp_path / "lake"
    write_small_lake(root)
    base = {k: v for k, v in os.environ.items() if not k.startswith("LAKEWARD_")}
    # One lake key for both installations: the published fingerprint is keyed by it.
    base["LAKEWARD_LAKE_SECRET"] = "cluster-test-lake-secret-0123456789abcdef"
    local_env = {
        **base,
        "LAKEWARD_HOME": str(tmp_path / "local"),
        "LAKEWARD_SPARK_MASTER": "local[2]",
    }
    remote_env = {
        **base,
        "LAKEWARD_HOME": str(tmp_path / "remote"),
        "LAKEWARD_SPARK_MASTER": master,
    }
    remote_env |= extra
    for env in (local_env, remote_env):
        ack = (
            "policy",
            "purpose",
            "ack",
            "catalog_maintenance",
            "--yes",
        )
        assert lakeward(*ack, env=env).returncode == 0
        result = lakeward("lake", "profile", str(root), "--json", env=env)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["profiled"] == 3
    local, remote = _catalog(local_env), _catalog(remote_env)
    assert [d["name"] for d in remote] == ["hr.employees", "sales.orders", "web.events"]
    assert remote == local


def test_standalone_cluster_profile_matches_local(spark_cluster: str, tmp_path: Path) -> None:
    _same_catalog_as_local(tmp_path, spark_cluster, LAKEWARD_SPARK_EXECUTOR_MEMORY="768m")


def test_spark_connect_profile_matches_local(spark_connect: str, tmp_path: Path) -> None:
    assert spark_connect.startswith("sc://127.0.0.1:")
    _same_catalog_as_local(tmp_path, spark_connect)


# -- glossary matching: the Spark ranking job on a cluster ranks as the in-process matcher ------

SCHEMA = [
    {
        "name": "crm.customers",
        "description": "Customers of the web shop",
        "columns": [
            {"name": "cust_id", "type": "bigint"},
            {"name": "custEmailAddr", "type": "varchar(255)"},
            {"name": "dob", "type": "date", "description": "when the customer was born"},
            {"name": "acct_bal", "type": "numeric(12,2)"},
        ],
    },
    {
        "name": "ops.requests",
        "columns": [{"name": "hostname", "type": "text"}, {"name": "qty", "type": "integer"}],
    },
]
TERMS = [
    {"id": "cust.id", "label": "Customer Identifier", "description": "The id of a customer."},
    {
        "id": "cust.email",
        "label": "Customer Email",
        "description": "A customer's email address.",
        "tags": ["pii_direct"],
    },
    {"id": "cust.dob", "label": "Date of Birth", "description": "The date a person was born."},
    {"id": "acct.balance", "label": "Account Balance", "description": "Money held in an account."},
    {"id": "ops.host", "label": "Host Name", "description": "The server's network name."},
    {"id": "order.qty", "label": "Order Quantity", "description": "Units ordered."},
]


def _glossary_rankings(tmp_path: Path, master: str, engine: str) -> list[dict[str, object]]:
    home = tmp_path / f"home-{engine}-{abs(hash(master))}"
    schema, terms = tmp_path / "schema.jsonl", tmp_path / "terms.jsonl"
    schema.write_text("".join(json.dumps(t) + "\n" for t in SCHEMA))
    terms.write_text("".join(json.dumps(t) + "\n" for t in TERMS))
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAKEWARD_")}
    env |= {"LAKEWARD_HOME": str(home), "LAKEWARD_SPARK_MASTER": master}
    for purpose in ("data_governance", "catalog_maintenance"):
        ack = lakeward("policy", "purpose", "ack", purpose, "--yes", env=env)
        assert ack.returncode == 0, ack.stderr
    for args in (
        ("catalog", "import-schema", str(schema)),
        ("glossary", "import", str(terms), "--name", "business"),
    ):
        result = lakeward(*args, env=env)
        assert result.returncode == 0, result.stderr
    result = lakeward("glossary", "match", "--engine", engine, "--one-to-one", "--json", env=env)
    assert result.returncode == 0, result.stderr
    return [
        {**r, "candidates": [(c["term"], c["score"]) for c in r["candidates"]]}
        for r in json.loads(result.stdout)
    ]


def test_standalone_cluster_glossary_match_matches_local(
    spark_cluster: str, tmp_path: Path
) -> None:
    local = _glossary_rankings(tmp_path, "local[2]", "local")
    remote = _glossary_rankings(tmp_path, spark_cluster, "spark")
    assert remote == local
    assert {r["column"]: r["candidates"][0][0] for r in local}["custEmailAddr"] == "cust.email"


def test_spark_connect_glossary_match_matches_local(spark_connect: str, tmp_path: Path) -> None:
    local = _glossary_rankings(tmp_path, "local[2]", "local")
    remote = _glossary_rankings(tmp_path, spark_connect, "spark")
    assert remote == local


# -- RAG ingestion: the chunk-and-embed job on a cluster builds the store embedded Spark builds --

DOCUMENTS = [
    {
        "doc_id": "kb-1",
        "text": "Backups run nightly at two. Restores take about an hour per terabyte.",
        "readers": ["group:stewards"],
    },
    {
        "doc_id": "kb-2",
        "text": "The VPN client needs a restart after each update. Sign in again afterwards.",
        "readers": ["group:stewards", "user:alice"],
        "licence": "attribution",
    },
    {"doc_id": "kb-3", "text": "Printer toner is in the cupboard.", "readers": ["user:bob"]},
]


def _rag_answers(tmp_path: Path, master: str, **extra: str) -> tuple[list[object], dict[str, str]]:
    from lakeward.rag._store import index_files, read_current

    home = tmp_path / f"rag-home-{abs(hash(master))}"
    lake = tmp_path / "rag-lake"
    lake.mkdir(exist_ok=True)
    (lake / "kb.jsonl").write_text("".join(json.dumps(d) + "\n" for d in DOCUMENTS))
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAKEWARD_")}
    env |= {"LAKEWARD_HOME": str(home), "LAKEWARD_SPARK_MASTER": master, **extra}
    for purpose in ("catalog_maintenance", "document_retrieval"):
        assert lakeward("policy", "purpose", "ack", purpose, "--yes", env=env).returncode == 0
    for args in (
        ("lake", "register", str(lake)),
        ("rag", "ingest", "kb", "--dataset", "kb", "--json"),
    ):
        result = lakeward(*args, env=env)
        assert result.returncode == 0, result.stderr
    queries = tmp_path / "queries.jsonl"
    queries.write_text('{"text": "when do backups run"}\n{"text": "vpn update"}\n')
    result = lakeward("rag", "query", "kb", "--queries", str(queries), "--json", env=env)
    assert result.returncode == 0, result.stderr
    store = home / "rag" / "kb"
    return [json.loads(line) for line in result.stdout.splitlines()], index_files(
        store / str(read_current(store))
    )


def test_standalone_cluster_rag_ingest_matches_local(spark_cluster: str, tmp_path: Path) -> None:
    local = _rag_answers(tmp_path, "local[2]")
    remote = _rag_answers(tmp_path, spark_cluster, LAKEWARD_SPARK_EXECUTOR_MEMORY="768m")
    assert remote == local  # the same answers, scores and index bytes
    assert local[0][0]["citations"][0] == "kb-1"


def test_spark_connect_rag_ingest_matches_local(spark_connect: str, tmp_path: Path) -> None:
    local = _rag_answers(tmp_path, "local[2]")
    remote = _rag_answers(tmp_path, spark_connect)
    assert remote == local
