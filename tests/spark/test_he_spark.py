"""Governed encrypted jobs on Spark: the owner encrypts columns per partition with the public
context and declares the outputs it will decrypt, a researcher computes einsums over the
ciphertext blocks (aggregated homomorphically), only the owner decrypts; the policy layer
decides and audits each step (a per-row result needs ``he.row_level`` at compute and at
decrypt), a plaintext job on an ``encryption_required`` dataset fails closed, and damaged or
edited stores and results are refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakeward import he
from lakeward.errors import PolicyDenied
from lakeward.he._spark import (
    DATA,
    EncryptedStore,
    compute_encrypted,
    compute_plaintext,
    decrypt_result,
    encrypt_dataset,
)

pytestmark = pytest.mark.spark

COLUMNS = ["heart_rate", "systolic", "glucose"]
BLOCK = 128


@pytest.fixture
def vitals(catalog: Any, tmp_path: Path) -> np.ndarray:
    """A 3-file Parquet dataset tagged encryption_required, registered in the catalog."""
    from lakeward.catalog import DatasetRepository, TagRepository
    from lakeward.lake import register_lake
    from lakeward.policy import acknowledge_purpose, engine_for

    rng = np.random.default_rng(5)
    values = rng.standard_normal((300, 3))
    folder = tmp_path / "lake" / "health" / "vitals"
    folder.mkdir(parents=True)
    for part in range(3):
        rows = values[part * 100 : (part + 1) * 100]
        table = pa.table(
            {"patient": pa.array(range(part * 100, part * 100 + 100))}
            | {c: pa.array(rows[:, n]) for n, c in enumerate(COLUMNS)}
        )
        pq.write_table(table, folder / f"part-{part:05d}.parquet")
    register_lake(catalog, tmp_path / "lake")
    with catalog.session() as session:
        dataset = DatasetRepository(session).require("health.vitals")
        TagRepository(session)._add(dataset, "encryption_required")
    bundle = engine_for(catalog).bundle
    acknowledge_purpose(catalog, bundle, "local-user", "data_governance")  # the data owner
    acknowledge_purpose(catalog, bundle, "erin", "clinical_research")  # a researcher
    acknowledge_purpose(catalog, bundle, "alice", "analytics")  # an analyst
    return values


def _tag_vitals(catalog: Any, tag: str, *, present: bool) -> None:
    from lakeward.catalog import DatasetRepository, TagRepository

    with catalog.session() as session:
        dataset = DatasetRepository(session).require("health.vitals")
        if present:
            TagRepository(session)._add(dataset, tag)
        else:
            TagRepository(session)._remove(dataset, tag)


@pytest.fixture(scope="module")
def owner_keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[he.Keys, Path]:
    block = (BLOCK, len(COLUMNS))
    keys = he.keygen([("ni,nj->ij", block, block), ("ni,i->n", block, (3,)), ("ni->i", block)])
    path = keys.public().save(tmp_path_factory.mktemp("he") / "compute.ctx")
    return keys, path


def test_encrypted_job_end_to_end(
    spark: Any, catalog: Any, vitals: np.ndarray, owner_keys: tuple[he.Keys, Path], tmp_path: Path
) -> None:
    from lakeward.catalog import AuditLog

    keys, context = owner_keys
    store = encrypt_dataset(
        catalog,
        "health.vitals",
        COLUMNS,
        context,
        tmp_path / "store",
        principal="local-user",
        purpose="data_governance",
        block_rows=BLOCK,
    )
    assert store.rows == 300 and store.blocks >= 3  # at least one block per partition
    assert EncryptedStore.open(store.path) == store
    raw = b"".join(p.read_bytes() for p in (tmp_path / "store" / "blocks").glob("*.parquet"))
    assert np.float64(vitals[0, 0]).tobytes() not in raw  # no cleartext value in the store

    covariance = compute_encrypted(
        catalog,
        store.path,
        "ni,nj->ij",
        [DATA, DATA],
        tmp_path / "cov",
        context_path=context,
        principal="erin",
        purpose="clinical_research",
    )
    assert not covariance.per_block and covariance.partitions >= 1
    gram = decrypt_result(keys, covariance.path)
    np.testing.assert_allclose(gram, vitals.T @ vitals, atol=1e-3)

    ordered = encrypt_dataset(
        catalog,
        "health.vitals",
        COLUMNS,
        context,
        tmp_path / "ordered",
        principal="local-user",
        purpose="data_governance",
        block_rows=BLOCK,
        order_by="patient",
        outputs=["aggregate", "ni,i->n"],  # the owner will decrypt per-row scores
    )
    weights = np.array([0.5, -1.0, 2.0])

    def scores_job() -> Any:
        return compute_encrypted(
            catalog,
            ordered.path,
            "ni,i->n",
            [DATA, weights],
            tmp_path / "scores",
            context_path=context,
            principal="erin",
            purpose="clinical_research",
        )

    with pytest.raises(PolicyDenied) as refused:  # a value per row of health data: no
        scores_job()
    assert "he-row-level-results-only-public-or-admin" in " ".join(refused.value.reasons)
    assert not (tmp_path / "scores").exists()
    _tag_vitals(catalog, "public", present=True)  # the guard lets per-row results of public data
    scores = scores_job()
    assert scores.per_block and scores.shape == [300]
    with pytest.raises(he.HEInputError, match="per-row result; pass catalog= and principal="):
        decrypt_result(keys, scores.path)
    rows = decrypt_result(keys, scores.path, catalog=catalog, principal="local-user")
    np.testing.assert_allclose(rows, vitals @ weights, atol=1e-4)
    _tag_vitals(catalog, "public", present=False)
    with pytest.raises(PolicyDenied):  # decided again when decrypting, on the owner's side
        decrypt_result(keys, scores.path, catalog=catalog, principal="local-user")

    sums = compute_encrypted(
        catalog,
        store.path,
        "ni->i",
        [DATA],
        tmp_path / "sums",
        context_path=context,
        principal="erin",
        purpose="clinical_research",
    )
    np.testing.assert_allclose(decrypt_result(keys, sums.path), vitals.sum(axis=0), atol=1e-4)

    again = compute_encrypted(
        catalog,
        store.path,
        "ni->i",
        [DATA],
        tmp_path / "sums",
        context_path=context,
        principal="erin",
        purpose="clinical_research",
    )
    assert again.reused and again.fingerprint == sums.fingerprint  # idempotent re-run

    actions = [(r.principal, r.action, r.decision) for r in AuditLog(catalog).tail(20)]
    assert ("local-user", "he.encrypt", "allow") in actions
    assert ("erin", "he.compute", "allow") in actions
    assert ("erin", "he.row_level", "deny") in actions
    assert ("erin", "he.row_level", "allow") in actions
    assert ("local-user", "he.row_level", "deny") in actions


def test_policy_refusals(
    spark: Any, catalog: Any, vitals: np.ndarray, owner_keys: tuple[he.Keys, Path], tmp_path: Path
) -> None:
    _, context = owner_keys
    store = encrypt_dataset(
        catalog,
        "health.vitals",
        COLUMNS,
        context,
        tmp_path / "store",
        principal="local-user",
        purpose="data_governance",
        block_rows=BLOCK,
    )
    with pytest.raises(PolicyDenied):  # analysts have no he.compute permit
        compute_encrypted(
            catalog,
            store.path,
            "ni->i",
            [DATA],
            tmp_path / "x",
            context_path=context,
            principal="alice",
            purpose="analytics",
        )
    with pytest.raises(PolicyDenied) as info:  # the same job in the clear fails closed
        compute_plaintext(
            catalog,
            "health.vitals",
            COLUMNS,
            "ni->i",
            [DATA],
            principal="erin",
            purpose="clinical_research",
        )
    assert "encryption-required-means-ciphertexts" in str(info.value) + " ".join(info.value.reasons)
    assert not (tmp_path / "x").exists()


def test_bad_expressions(
    spark: Any, catalog: Any, vitals: np.ndarray, owner_keys: tuple[he.Keys, Path], tmp_path: Path
) -> None:
    _, context = owner_keys
    store = encrypt_dataset(
        catalog,
        "health.vitals",
        COLUMNS,
        context,
        tmp_path / "store",
        principal="local-user",
        purpose="data_governance",
        block_rows=BLOCK,
    )
    for expr, operands, message in [
        ("ni,n->i", [DATA, np.ones(BLOCK)], "row label"),
        ("ni->i", [np.ones((2, 3))], "'data'"),
        ("ni,mi->nm", [DATA, DATA], "same row label"),
    ]:
        with pytest.raises(he.HEInputError, match=message):
            compute_encrypted(
                catalog,
                store.path,
                expr,
                operands,
                tmp_path / "bad",
                context_path=context,
                principal="erin",
                purpose="clinical_research",
            )
    with pytest.raises(he.HEInputError, match="no column"):
        encrypt_dataset(
            catalog,
            "health.vitals",
            ["nope"],
            context,
            tmp_path / "s2",
            principal="local-user",
            purpose="data_governance",
        )


def _compute(catalog: Any, store: Any, context: Path, out: Path, expr: str, *ops: Any) -> Any:
    return compute_encrypted(
        catalog,
        store,
        expr,
        list(ops) or [DATA],
        out,
        context_path=context,
        principal="erin",
        purpose="clinical_research",
    )


def test_undeclared_outputs_and_damaged_stores_are_refused(
    spark: Any, catalog: Any, vitals: np.ndarray, owner_keys: tuple[he.Keys, Path], tmp_path: Path
) -> None:
    import pyarrow.compute as pc

    keys, context = owner_keys
    _tag_vitals(catalog, "public", present=True)  # the policy would allow per-row results
    store = encrypt_dataset(
        catalog,
        "health.vitals",
        COLUMNS,
        context,
        tmp_path / "store",
        principal="local-user",
        purpose="data_governance",
        block_rows=BLOCK,
    )
    assert store.outputs == ["aggregate"]
    for expr, ops in (("ni->ni", [DATA]), ("ni,i->n", [DATA, np.ones(3)])):
        with pytest.raises(he.HEInputError, match="not among the outputs the owner declared"):
            _compute(catalog, store.path, context, tmp_path / "rows", expr, *ops)
    assert not (tmp_path / "rows").exists()
    with pytest.raises(he.HEInputError, match="declare"):
        encrypt_dataset(
            catalog,
            "health.vitals",
            COLUMNS,
            context,
            tmp_path / "s2",
            principal="local-user",
            purpose="data_governance",
            outputs=["rows please"],
        )

    manifest = tmp_path / "store" / "manifest.json"
    original = manifest.read_bytes()
    edited = json.loads(original)
    edited["outputs"].append("ni->ni")  # declare raw rows without the tag key
    manifest.write_text(json.dumps(edited, indent=2))
    with pytest.raises(he.KeyFileError, match="does not match its integrity tag"):
        _compute(catalog, store.path, context, tmp_path / "rows", "ni->ni")
    manifest.write_bytes(original)

    sums = _compute(catalog, store.path, context, tmp_path / "sums", "ni->i")
    np.testing.assert_allclose(decrypt_result(keys, sums.path), vitals.sum(axis=0), atol=1e-4)
    result_manifest = Path(sums.path) / "manifest.json"
    good = result_manifest.read_bytes()
    edited = json.loads(good)
    edited["per_block"], edited["expr"] = True, "ni->ni"
    result_manifest.write_text(json.dumps(edited))
    with pytest.raises(he.KeyFileError, match="does not match its integrity tag"):
        decrypt_result(keys, sums.path)
    result_manifest.write_text("[" * 50_000 + "]" * 50_000)
    with pytest.raises(he.KeyFileError, match="nests arrays/objects 50000 deep"):
        decrypt_result(keys, sums.path)
    result_manifest.write_bytes(good)

    part = sorted((tmp_path / "store" / "blocks").glob("*.parquet"))[0]
    part.with_name(f".{part.name}.crc").unlink()  # Hadoop's checksum: an attacker drops it too
    table = pq.read_table(part)
    blob = table.column("ciphertext")[0].as_py()
    zeroed = pa.array(
        [blob[:100] + bytes(len(blob) - 100)] + table.column("ciphertext")[1:].to_pylist()
    )
    pq.write_table(table.set_column(3, "ciphertext", zeroed), part)
    with pytest.raises(he.KeyFileError, match="does not match its integrity tag"):
        _compute(catalog, store.path, context, tmp_path / "z", "ni,nj->ij", DATA, DATA)
    pq.write_table(table, part)
    pq.write_table(table.filter(pc.field("block") != 0), part)  # a block dropped
    with pytest.raises(he.KeyFileError, match="not those the manifest lists"):
        _compute(catalog, store.path, context, tmp_path / "z", "ni,nj->ij", DATA, DATA)
