"""Benchmark: policy decisions, enforcement with audit, and audit verification.

Builds a bundle of the default policies plus N generated tag/purpose policies (default 240)
and a catalog of M datasets (default 1,000) with 0-3 tags each, then measures on SQLite (and
PostgreSQL when ``LAKEWARD_BENCH_POSTGRES_URL`` is set):

- **raw cedarpy**: ``cedarpy.is_authorized`` with pre-parsed policies and schema and
  pre-built entities (the engine's floor);
- **decide**: ``PolicyEngine.decide`` — catalog lookups (dataset, tags, columns, purpose
  acknowledgement), Cedar, obligations (incl. per-column mask checks), explanations on deny;
- **enforce**: decide + hash-chained audit append (a serialised write transaction);
- **audit verify**: seconds per 100,000 records.

Prints decisions/s, p50/p99 latency in ms and the ratios to raw cedarpy. Usage::

    .venv/bin/python bench/policy.py [--policies 240] [--datasets 1000] [--requests 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
TAGS = [f"t{i:02d}" for i in range(40)]
PURPOSES = ["analytics", "fraud_detection", "clinical_research", "data_governance"]
ACTIONS = ["lake.read_content", "catalog.read_metadata", "lake.profile", "dp.release"]


def _bundle(directory: Path, n_policies: int, rng: random.Random) -> None:
    shutil.copytree(REPO / "policies", directory)
    shutil.rmtree(directory / "tests")
    with open(directory / "tags.yaml", "a") as fh:
        fh.writelines(f"  {t}: generated tag {t}\n" for t in TAGS)
    groups = ["analysts", "fraud_team", "researchers", "stewards"]
    lines = []
    for i in range(n_policies):
        group, purpose, action = rng.choice(groups), rng.choice(PURPOSES), rng.choice(ACTIONS)
        need = rng.sample(TAGS, rng.choice([1, 2]))
        effect = "forbid" if i % 10 == 0 else "permit"
        tags = ", ".join(f'"{t}"' for t in need)
        lines.append(
            f'@id("gen-{i}")\n{effect}(principal in Lakeward::Group::"{group}", '
            f'action == Lakeward::Action::"{action}", resource is Lakeward::Dataset)\n'
            f'when {{ context.purpose == "{purpose}" && resource.tags.containsAll([{tags}]) }};\n'
        )
    (directory / "generated.cedar").write_text("\n".join(lines))


def _catalog(url: str, n_datasets: int, rng: random.Random) -> Any:
    from lakeward.catalog import Catalog, ColumnStats, DatasetRepository, TagRepository

    catalog = Catalog.open(url)
    with catalog.session() as s:
        repo, tags = DatasetRepository(s), TagRepository(s)
        for i in range(n_datasets):
            d, _ = repo.register(
                name=f"ds{i:05d}",
                uri=f"file:///lake/ds{i}",
                lake_root="file:///lake",
                format="parquet",
                layout="file",
                file_count=1,
                bytes=1,
            )
            repo.record_profile(
                d,
                rows=1,
                bytes=1,
                file_count=1,
                fingerprint="0" * 64,
                file_signature="s",
                seconds=0.0,
                principal=None,
                columns=[
                    ColumnStats(c, "string", True, "a", "b", 0, 1)
                    for c in ("id", "name", "email", "amount")
                ],
            )
            for t in rng.sample(TAGS, rng.choice([0, 1, 2, 3])):
                tags.add(d, t)
            if i % 5 == 0:
                tags.add(d, "pii_direct", column="email")
    return catalog


def _timed(n: int, call: Callable[[int], Any]) -> list[float]:
    samples = []
    for i in range(n):
        t = time.perf_counter()
        call(i)
        samples.append(time.perf_counter() - t)
    return samples


def _row(label: str, samples: list[float], floor: float | None) -> str:
    ms = sorted(s * 1000 for s in samples)
    p50, p99 = statistics.median(ms), ms[int(len(ms) * 0.99) - 1]
    rate = len(ms) / (sum(ms) / 1000)
    ratio = f"{p50 / floor:>8.1f}x" if floor else f"{'1.0x':>9}"
    return f"{label:<28} {rate:>10.0f} {p50:>9.3f} {p99:>9.3f} {ratio}"


def _audit_verify(catalog: Any, records: int) -> float:
    """Bulk-write a valid chain of ``records`` records, then time ``AuditLog.verify``."""
    from lakeward.catalog import AuditLog, AuditRecord
    from lakeward.catalog._models import utcnow
    from lakeward.catalog._repo import GENESIS_HASH, _hashed_fields, _record_hash

    with catalog.session() as s:
        s.query(AuditRecord).delete()
    prev, batch, at = GENESIS_HASH, [], utcnow()
    for seq in range(1, records + 1):
        r = AuditRecord(
            seq=seq,
            at=at,
            principal="bench",
            action="lake.read_content",
            resource=f"dataset:ds{seq % 1000:05d}",
            purpose="analytics",
            decision="allow",
            reasons=["gen-1"],
            request={"context": {"purpose": "analytics"}},
            bundle_hash="0" * 64,
            prev_hash=prev,
            record_hash="",
        )
        r.record_hash = _record_hash(_hashed_fields(r), prev)
        prev = r.record_hash
        batch.append(
            {c.name: getattr(r, c.name) for c in AuditRecord.__table__.columns if c.name != "id"}
        )
        if len(batch) == 10_000:
            with catalog.engine.begin() as conn:
                conn.execute(AuditRecord.__table__.insert(), batch)
            batch = []
    if batch:
        with catalog.engine.begin() as conn:
            conn.execute(AuditRecord.__table__.insert(), batch)
    started = time.perf_counter()
    assert AuditLog(catalog).verify() is None
    return time.perf_counter() - started


def run(url: str, label: str, args: argparse.Namespace) -> None:
    import cedarpy

    from lakeward.policy import PolicyEngine, acknowledge_purpose, load_bundle

    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as scratch:
        bundle_dir = Path(scratch) / "bundle"
        _bundle(bundle_dir, args.policies, rng)
        bundle = load_bundle(bundle_dir)
        catalog = _catalog(url, args.datasets, rng)
        for user in ("alice", "bob", "erin", "carol"):
            for purpose in PURPOSES:
                acknowledge_purpose(catalog, bundle, user, purpose)
        engine = PolicyEngine(bundle, catalog)
        requests = [
            (
                rng.choice(["alice", "bob", "erin", "carol"]),
                rng.choice(ACTIONS),
                f"dataset:ds{rng.randrange(args.datasets):05d}",
                {"purpose": rng.choice(PURPOSES)},
            )
            for _ in range(args.requests)
        ]
        # Raw Cedar with the same entities the engine would build, prepared outside the timing.
        policies, schema = bundle.policy_set(), bundle.schema()
        prepared = []
        for principal, action, resource, context in requests[: args.requests]:
            d = engine.decide(principal, action, resource, context)
            entities = engine._principal_entities(principal)
            name = resource.split(":", 1)[1]
            tags = [
                {
                    "uid": {"type": "Lakeward::Dataset", "id": name},
                    "attrs": {"name": name, "format": "parquet", "owner": "", "tags": []},
                    "parents": [],
                }
            ]
            prepared.append(
                (
                    {
                        "principal": f'Lakeward::User::"{principal}"',
                        "action": f'Lakeward::Action::"{action}"',
                        "resource": f'Lakeward::Dataset::"{name}"',
                        "context": d.context,
                    },
                    json.dumps(entities + tags),
                )
            )
        raw = _timed(
            len(prepared),
            lambda i: cedarpy.is_authorized(prepared[i][0], policies, prepared[i][1], schema),
        )
        decide = _timed(len(requests), lambda i: engine.decide(*requests[i]))
        allowed = sum(engine.decide(*r).allowed for r in requests[:200])

        def enforce(i: int) -> None:
            try:
                engine.enforce(*requests[i])
            except Exception:
                pass

        enforced = _timed(min(len(requests), 1000), enforce)
        floor = statistics.median(raw) * 1000
        print(
            f"\n{label}: {len(bundle.policies)} policies, {args.datasets} datasets, "
            f"{len(requests)} requests ({allowed}/200 allowed)"
        )
        print(f"{'':<28} {'decisions/s':>10} {'p50 ms':>9} {'p99 ms':>9} {'vs raw':>9}")
        print(_row("raw cedarpy.is_authorized", raw, None))
        print(_row("PolicyEngine.decide", decide, floor))
        print(_row("enforce (decide + audit)", enforced, floor))
        seconds = _audit_verify(catalog, args.audit_records)
        print(
            f"audit verify: {seconds:.2f} s for {args.audit_records:,} records "
            f"({seconds * 100_000 / args.audit_records:.2f} s per 100k)"
        )
        catalog.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--policies", type=int, default=240)
    parser.add_argument("--datasets", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--audit-records", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        run(f"sqlite:///{home}/catalog.db", "SQLite", args)
    pg = os.environ.get("LAKEWARD_BENCH_POSTGRES_URL")
    if pg:
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        admin = create_engine(make_url(pg), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("DROP DATABASE IF EXISTS lakeward_bench WITH (FORCE)"))
            conn.execute(text("CREATE DATABASE lakeward_bench"))
        run(
            make_url(pg).set(database="lakeward_bench").render_as_string(hide_password=False),
            "PostgreSQL",
            args,
        )
    else:
        print(
            "\nPostgreSQL: skipped (set LAKEWARD_BENCH_POSTGRES_URL, "
            "e.g. from infra/postgres.sh start)"
        )


if __name__ == "__main__":
    main()
