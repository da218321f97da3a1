"""The published content fingerprint is keyed: it does not let a viewer test guesses.

It used to be SHA-256 of the column names, the row count and three sums of per-row hashes,
computable by anyone from the data. With a masked email and the other columns' min/max
visible (for a one-row dataset, the row itself), one Spark pass over 2,000 candidate emails
found the one whose unkeyed fingerprint matched. Now it is HMAC-SHA256 under the lake key.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakeward.lake import content_fingerprint, discover, profile_dataset

pytestmark = pytest.mark.spark

EMAIL = "jane.q.public@example.com"


def _write(root: Path, email: str) -> None:
    (root / "sales").mkdir(parents=True, exist_ok=True)
    table = pa.table(
        {
            "customer_id": pa.array([4711], pa.int64()),
            "email": pa.array([email], pa.string()),
            "city": pa.array(["Springfield"], pa.string()),
        }
    )
    pq.write_table(table, root / "sales" / "customers.parquet")


def _profile(spark: Any, root: Path) -> str:
    (spec,) = discover(root)
    return profile_dataset(spark, spec, masked=frozenset({"email"})).fingerprint


def _unkeyed_guesses(spark: Any, candidates: list[str]) -> dict[str, str]:
    """The attack: the old unkeyed fingerprint of the known row with each guessed email."""
    from pyspark.sql import functions as F

    from lakeward.lake._profile import canonical_hash

    df = spark.createDataFrame(
        [(email, 4711, email, "Springfield") for email in candidates],
        "guess string, customer_id bigint, email string, city string",
    )
    ordered = [f for f in df.schema.fields if f.name != "guess"]
    ordered.sort(key=lambda f: (f.name.lower(), f.name))
    hashes = [canonical_hash(F.col(f.name), f.dataType) for f in ordered]
    h64, h32 = F.xxhash64(*hashes), F.hash(*hashes).cast("long")
    mask = (1 << 30) - 1
    sums = df.groupBy("guess").agg(
        F.count(F.lit(1)).alias("rows"),
        F.sum(h64.bitwiseAND(mask)).alias("fp0"),
        F.sum(F.shiftrightunsigned(h64, 30).bitwiseAND(mask)).alias("fp1"),
        F.sum(h32.bitwiseAND(mask)).alias("fp2"),
    )
    names = "\x1f".join(f.name.lower() for f in ordered)
    return {
        r["guess"]: hashlib.sha256(
            f"{names}\n{r['rows']}\n{r['fp0']}\n{r['fp1']}\n{r['fp2']}".encode()
        ).hexdigest()
        for r in sums.collect()
    }


def test_published_fingerprint_is_not_reproducible_without_the_key(
    spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAKEWARD_LAKE_SECRET", "one lake secret, long enough")
    root = tmp_path / "lake"
    _write(root, EMAIL)
    published = _profile(spark, root)
    assert len(published) == 64

    candidates = [f"person{i}@example.com" for i in range(300)] + [EMAIL]
    guesses = _unkeyed_guesses(spark, candidates)
    assert published not in guesses.values()  # no guess, not even the true email, matches
    # ... while the unkeyed hash did tell the true email apart (what the attack relied on).
    assert len(set(guesses.values())) == len(candidates)

    # Keyed, it is still a function of the content: dedup's checks recompute and compare it.
    frame = spark.read.parquet(str(root / "sales" / "customers.parquet"))
    assert content_fingerprint(frame) == (1, published)
    _write(root, "someone.else@example.com")
    assert _profile(spark, root) != published

    _write(root, EMAIL)
    monkeypatch.setenv("LAKEWARD_LAKE_SECRET", "another lake secret, long enough")
    assert _profile(spark, root) != published
