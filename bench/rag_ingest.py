"""Benchmark: RAG ingestion and queries end to end, with the real model on Spark.

A generated document dataset (``--docs`` documents of 2–12 sentences from a help-desk
vocabulary, each readable by one of three reader sets; generated here, no external corpus)
is registered in a scratch Lakeward home and ingested into a store on ``local[2]`` (the
``rag ingest`` path: metadata pass, chunk and embed new documents on the executors, write
the store); then re-ingested unchanged (nothing embedded), then ``--queries`` queries are
answered as an analyst (one Cedar batch, the query's embedding, the search, the answer).
Also measured: MiniLM alone on the same chunks in-process, one thread (the floor).

Usage::

    .venv/bin/python bench/rag_ingest.py [--docs 400] [--queries 50]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from pathlib import Path

WORDS = (
    "backup restore network vpn client update printer toner salary review budget invoice "
    "laptop password reset badge office parking holiday payroll contract renewal ticket "
    "outage database latency"
).split()
READERS = (["group:analysts"], ["group:stewards"], ["user:alice", "group:fraud_team"])


def _documents(n: int, rng: random.Random) -> list[dict[str, object]]:
    docs = []
    for i in range(n):
        sentences = [
            " ".join(rng.choice(WORDS) for _ in range(12)).capitalize() + "."
            for _ in range(rng.randint(2, 12))
        ]
        docs.append(
            {"doc_id": f"d{i:06d}", "text": " ".join(sentences), "readers": rng.choice(READERS)}
        )
    return docs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=400)
    parser.add_argument("--queries", type=int, default=50)
    args = parser.parse_args()
    rng = random.Random(0)
    scratch = Path(tempfile.mkdtemp(prefix="lakeward-bench-rag-"))
    os.environ["LAKEWARD_HOME"] = str(scratch / "home")
    os.environ.setdefault("LAKEWARD_SPARK_MASTER", "local[2]")
    lake = scratch / "lake"
    lake.mkdir()
    docs = _documents(args.docs, rng)
    (lake / "kb.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))

    from lakeward import rag
    from lakeward import spark as lakeward_spark
    from lakeward._embed import passage_embedder
    from lakeward.catalog import Catalog
    from lakeward.lake import register_lake
    from lakeward.policy import acknowledge_purpose, engine_for
    from lakeward.rag._chunk import chunk_text

    catalog = Catalog.shared()
    bundle = engine_for(catalog).bundle
    for who, purpose in (
        ("local-user", "catalog_maintenance"),
        ("local-user", "document_retrieval"),
        ("alice", "document_retrieval"),
    ):
        acknowledge_purpose(catalog, bundle, who, purpose)
    register_lake(catalog, lake, principal="local-user")
    lakeward_spark.session()

    started = time.perf_counter()
    first = rag.ingest(catalog, "local-user", "kb", "kb")
    ingest_s = time.perf_counter() - started
    started = time.perf_counter()
    again = rag.ingest(catalog, "local-user", "kb", "kb")
    again_s = time.perf_counter() - started

    chunks = [c.text for d in docs for c in chunk_text(str(d["text"]))]
    embedder = passage_embedder()
    embedder.encode_batch(chunks[:4])
    started = time.perf_counter()
    for d in docs:
        embedder.encode_batch([c.text for c in chunk_text(str(d["text"]))])
    floor_s = time.perf_counter() - started

    questions = [" ".join(rng.choice(WORDS) for _ in range(5)) for _ in range(args.queries)]
    rag.query(catalog, "alice", "kb", questions[0])
    latencies = []
    for q in questions:
        started = time.perf_counter()
        rag.query(catalog, "alice", "kb", q, k=5)
        latencies.append(time.perf_counter() - started)
    latencies.sort()
    print(f"documents {args.docs}, chunks {first.chunks}, label classes {len(first.classes)}")
    print(
        f"first ingest (Spark {os.environ['LAKEWARD_SPARK_MASTER']}): {ingest_s:.1f} s = "
        f"{args.docs / ingest_s:.1f} docs/s, {first.chunks / ingest_s:.1f} chunks/s"
    )
    print(f"unchanged re-ingest: {again_s:.1f} s, {again.embedded_chunks} chunks embedded")
    print(
        f"model alone (in-process, one thread, per-document batches): "
        f"{len(chunks) / floor_s:.1f} chunks/s; ingest / model = {ingest_s / floor_s:.2f}x"
    )
    print(
        f"query end to end as alice: p50 {latencies[len(latencies) // 2] * 1000:.1f} ms, "
        f"p99 {latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
