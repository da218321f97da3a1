"""The rag_ingest and rag_rebuild flows against Prefect's real (temporary) API, with the real
Spark job and model: a first ingest, an incremental re-run that changes nothing, an edit,
a rebuild, the artifacts (class table without reader names, change summary), and a refused
ingest that publishes why and fails the run."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from lakeward.catalog import Catalog
from tests.prefect.conftest import latest_artifact

pytestmark = [pytest.mark.prefect, pytest.mark.spark]

REPO = Path(__file__).resolve().parents[2]
DOCS = [
    {
        "doc_id": "a",
        "text": "Backups run nightly. Restores take an hour.",
        "readers": ["group:analysts"],
    },
    {
        "doc_id": "b",
        "text": "The VPN needs a restart after updates.",
        "readers": ["user:alice", "user:bob"],
    },
]


def _flows() -> ModuleType:
    """``flows/rag.py`` as deployments load it (a file-path entrypoint)."""
    name = "lakeward_test_flows_rag"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO / "flows" / "rag.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def _write(path: Path, docs: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(d) + "\n" for d in docs))


def test_ingest_rerun_edit_rebuild_and_refusal(
    prefect_api: None, home: Path, tmp_path: Path, spark: Any
) -> None:
    from lakeward.cli import main
    from lakeward.policy import acknowledge_purpose, engine_for

    lake = tmp_path / "lake"
    lake.mkdir()
    _write(lake / "kb.jsonl", DOCS)
    catalog = Catalog.open()
    bundle = engine_for(catalog).bundle
    acknowledge_purpose(catalog, bundle, "local-user", "document_retrieval")
    assert main(["lake", "register", str(lake)]) == 0
    flows = _flows()

    first = flows.rag_ingest(store="kb", datasets=["kb"])
    assert (first["added"], first["documents"], first["kind"]) == (2, 2, "ingest")
    table = latest_artifact("lakeward-rag").data
    rows = table if isinstance(table, list) else json.loads(table)
    assert sorted(r["documents"] for r in rows) == [1, 1]
    assert "alice" not in json.dumps(rows) and "analysts" not in json.dumps(rows)
    summary = str(latest_artifact("lakeward-rag-summary").data)
    assert "| 2 | 0 | 0 | 0 | 0 |" in summary and "local-user" in summary

    again = flows.rag_ingest(store="kb")  # its sources by default; nothing changed
    assert (again["unchanged"], again["embedded_chunks"], again["version"]) == (
        2,
        0,
        first["version"],
    )
    assert "nothing changed" in str(latest_artifact("lakeward-rag-summary").data)

    _write(lake / "kb.jsonl", [DOCS[0], {**DOCS[1], "text": "The VPN needs a reboot."}])
    edited = flows.rag_ingest(store="kb")
    assert (edited["changed"], edited["embedded_chunks"]) == (1, 1)
    rebuilt = flows.rag_rebuild(store="kb")
    assert rebuilt["kind"] == "rebuild" and rebuilt["documents"] == 2

    # analysts may not ingest: run as alice (a bound principal) and the run fails after
    # publishing the refusal
    from lakeward.identity import Principal, acting_as

    acknowledge_purpose(catalog, bundle, "alice", "document_retrieval")
    alice = Principal("alice", ("analysts",), "service", "test")
    with acting_as(alice), pytest.raises(Exception, match="failed"):
        flows.rag_ingest(store="kb2", datasets=["kb"])
    assert "Failed" in str(latest_artifact("lakeward-rag-summary").data)
