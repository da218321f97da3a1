"""The he_encrypt and he_compute flows against Prefect's real (temporary) API, with local Spark:
the owner encrypts a tagged dataset, a researcher computes an aggregate on the ciphertexts
(the only output the flow's store declares), only the owner decrypts; a re-run reuses the
stored result and a principal without ``he.compute`` fails closed, audited, with nothing
written."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakeward.identity import Principal, acting_as
from tests.conftest import REPO
from tests.prefect.conftest import latest_artifact

pytestmark = [pytest.mark.prefect, pytest.mark.spark]

COLUMNS = ["heart_rate", "systolic", "glucose"]
BLOCK = 64


def _flows() -> ModuleType:
    """``flows/he_compute.py`` as deployments load it (a file-path entrypoint)."""
    name = "lakeward_test_flows_he_compute"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO / "flows" / "he_compute.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def _tagged_vitals(catalog: Any, root: Path) -> np.ndarray:
    """Two Parquet files registered as ``health.vitals``, tagged ``encryption_required``."""
    from lakeward.catalog import DatasetRepository, TagRepository
    from lakeward.lake import register_lake
    from lakeward.policy import acknowledge_purpose, engine_for

    values = np.random.default_rng(7).standard_normal((100, len(COLUMNS)))
    folder = root / "health" / "vitals"
    folder.mkdir(parents=True)
    for part in range(2):
        rows = values[part * 50 : (part + 1) * 50]
        table = pa.table(
            {"patient": pa.array(range(part * 50, part * 50 + 50))}
            | {c: pa.array(rows[:, n]) for n, c in enumerate(COLUMNS)}
        )
        pq.write_table(table, folder / f"part-{part:05d}.parquet")
    register_lake(catalog, root)
    with catalog.session() as session:
        TagRepository(session)._add(
            DatasetRepository(session).require("health.vitals"), "encryption_required"
        )
    bundle = engine_for(catalog).bundle
    acknowledge_purpose(catalog, bundle, "local-user", "data_governance")  # the data owner
    acknowledge_purpose(catalog, bundle, "erin", "clinical_research")  # a researcher
    acknowledge_purpose(catalog, bundle, "alice", "analytics")  # an analyst: no he.compute
    return values


def test_he_flows_encrypt_compute_reuse_and_refuse(
    prefect_api: None, spark: Any, home: Path, tmp_path: Path
) -> None:
    from lakeward import he
    from lakeward.catalog import AuditLog, Catalog
    from lakeward.errors import PolicyDenied
    from lakeward.he._spark import decrypt_result

    flows = _flows()
    catalog = Catalog.open()
    values = _tagged_vitals(catalog, tmp_path / "lake")
    block = (BLOCK, len(COLUMNS))
    keys = he.keygen([("ni,i->", block, (len(COLUMNS),))])
    context = str(keys.public().save(tmp_path / "compute.ctx"))  # no secret key in it
    weights = np.array([0.5, -1.0, 2.0])
    np.save(tmp_path / "weights.npy", weights)

    store = flows.he_encrypt(
        flows.EncryptParams(
            dataset="health.vitals",
            columns=COLUMNS,
            context=context,
            out=str(tmp_path / "store"),
            purpose="data_governance",
            block_rows=BLOCK,
            order_by="patient",
        )
    )
    assert store["rows"] == 100 and store["blocks"] >= 2
    assert "encrypted store" in latest_artifact(f"{flows.ARTIFACT_KEY}-store").data

    params = flows.HeComputeParams(
        store=store["path"],
        expr="ni,i->",  # the weighted total over rows (per-row scores are not declared)
        operands=["data", str(tmp_path / "weights.npy")],
        context=context,
        out=str(tmp_path / "scores"),
        purpose="clinical_research",
    )
    erin = Principal("erin", ("researchers",), "service", "test")
    with acting_as(erin):
        first = flows.he_compute(params)
    assert not first["reused"] and not first["per_block"] and first["shape"] == []
    total = decrypt_result(keys, first["path"])
    np.testing.assert_allclose(total, (values @ weights).sum(), atol=1e-4)
    markdown = latest_artifact(flows.ARTIFACT_KEY).data
    assert "encrypted computation" in markdown and first["fingerprint"] in markdown

    result_files = sorted((tmp_path / "scores").rglob("*"))
    stamps = {p: p.stat().st_mtime_ns for p in result_files if p.is_file()}
    with acting_as(erin):
        again = flows.he_compute(params)
    assert again["reused"] and again["fingerprint"] == first["fingerprint"]
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps  # nothing recomputed

    denied = params.model_copy(update={"purpose": "analytics", "out": str(tmp_path / "alice")})
    with acting_as(Principal("alice", ("analysts",), "service", "test")):
        with pytest.raises(PolicyDenied):
            flows.he_compute(denied)
    assert not (tmp_path / "alice").exists()
    refusals = [
        r for r in AuditLog(catalog).tail(10) if r.principal == "alice" and r.decision == "deny"
    ]
    assert [r.action for r in refusals] == ["he.compute"]  # refused once, not retried
    assert AuditLog(catalog).verify() is None
    catalog.dispose()
