"""The optional answer generator against a real local stub of an OpenAI-compatible endpoint:
it receives only the sentences the asker may read (never another document's text), the key
only as a bearer header; its failure keeps the extractive answer; off by default."""

from __future__ import annotations

import json
import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from lakeward.catalog import Catalog
from lakeward.policy import acknowledge_purpose, engine_for
from lakeward.rag import query
from tests.conftest import Stub
from tests.unit.rag.conftest import doc, rag_dir, write_store

SECRET = "zz-salary-figure-8841"
DOCS = [
    doc(
        "it-1", "The VPN client fails after the update. Restart the VPN client.", ["group:analysts"]
    ),
    doc("hr-1", f"The VPN budget and salary review: {SECRET}.", ["group:stewards"]),
]


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Catalog]:
    with tempfile.TemporaryDirectory() as scratch:
        catalog = Catalog.open(f"sqlite:///{Path(scratch) / 'c.db'}")
        acknowledge_purpose(catalog, engine_for(catalog).bundle, "alice", "document_retrieval")
        with rag_dir(tmp_path / "rag"):
            write_store(tmp_path / "rag" / "s", DOCS)
            yield catalog
        catalog.dispose()


def test_the_generator_sees_only_what_the_asker_may_read(
    store: Catalog, stub: Stub, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = query(store, "alice", "s", "vpn update restart").to_dict()
    assert "generator" not in plain  # off by default
    key = "sk-" + secrets.token_hex(8)
    monkeypatch.setenv("LAKEWARD_RAG_GENERATOR_URL", stub.url)
    monkeypatch.setenv("LAKEWARD_RAG_GENERATOR_MODEL", "stub-model")
    monkeypatch.setenv("LAKEWARD_GENERATOR_API_KEY", key)
    stub.content = "Restart the VPN client after the update [1]."
    answer = query(store, "alice", "s", "vpn update restart").to_dict()
    assert answer["answer"] == stub.content
    assert answer["generator"] == {"text": stub.content, "model": "stub-model"}
    assert (answer["citations"], answer["label"]) == (plain["citations"], plain["label"])
    (request,) = stub.requests
    assert SECRET not in request["body"] and "salary" not in request["body"]
    assert "Restart the VPN client." in json.loads(request["body"])["messages"][1]["content"]
    assert request["headers"]["Authorization"] == f"Bearer {key}"
    assert key not in request["body"]
    stub.status = 500
    failed = query(store, "alice", "s", "vpn update restart").to_dict()
    assert failed["answer"] == plain["answer"]  # the extractive answer stays
    assert failed["generator"]["error"].startswith("HTTP 500") and key not in json.dumps(failed)
