"""The ingestion job on Spark: read a document dataset, check it, chunk and embed what changed.

Two passes over the dataset, both Spark jobs that run unchanged on ``local[*]``, a
standalone master and Spark Connect:

1. **Metadata** (:func:`scan_documents`): per document its id, the sha256 and size of its
   text, whether the text had bytes that are not UTF-8, its readers (a JSON array, or a
   comma-separated CSV cell), licence and title. No text reaches the driver.
2. **Chunk and embed** (:func:`embed_documents`): only the documents whose text is new or
   changed (by sha256), joined by id; on the executors each document is chunked
   (sentence-aware) and its chunks are embedded together, in one batch of their own, with
   the packaged all-MiniLM-L6-v2 (``lakeward._embed``; executors need the ``ml`` extra), so
   a chunk's vector never depends on another document.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from lakeward.errors import InputError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["DocumentMeta", "embed_documents", "normalise_documents", "scan_documents"]

REQUIRED = ("doc_id", "text")
#: Documents per embedding task (about half a minute of one core), and at most this many tasks.
DOCS_PER_TASK = 200
MAX_TASKS = 256


@dataclass(frozen=True)
class DocumentMeta:
    """One document as the metadata pass sees it (never its text)."""

    doc_id: str
    sha256: str | None
    chars: int
    bytes: int
    not_utf8: bool
    readers: tuple[str, ...] | None
    licence: str | None
    title: str


def normalise_documents(frame: DataFrame, dataset: str) -> DataFrame:
    """``doc_id``, ``text``, ``readers`` (array), ``licence``, ``title`` from a document dataset.

    Raises:
        InputError: ``doc_id`` or ``text`` is missing, or a column has a type that cannot
            hold what it must (``readers``: array of strings or a comma-separated string).
    """
    from pyspark.sql import functions as F  # noqa: N812
    from pyspark.sql.types import ArrayType, StringType

    fields = {f.name: f.dataType for f in frame.schema.fields}
    missing = [c for c in REQUIRED if c not in fields]
    if missing:
        raise InputError(
            f"dataset {dataset!r} is not a document dataset: it has no "
            f"{' or '.join(repr(m) for m in missing)} column (columns: "
            f"{', '.join(sorted(fields)) or 'none'}). A document dataset has doc_id, text, "
            "readers (user:<name>/group:<name>) and optionally licence and title."
        )
    if not isinstance(fields["text"], StringType):
        raise InputError(
            f"dataset {dataset!r}: column 'text' is {fields['text'].simpleString()}, not a "
            "string; store the documents' text as strings"
        )
    readers: Any
    if "readers" not in fields:
        readers = F.lit(None).cast("array<string>")
    elif isinstance(fields["readers"], ArrayType):
        readers = F.col("readers").cast("array<string>")
    elif isinstance(fields["readers"], StringType):
        readers = F.when(F.col("readers").isNull(), F.lit(None).cast("array<string>")).otherwise(
            F.expr("filter(transform(split(readers, ','), x -> trim(x)), x -> x != '')")
        )
    else:
        raise InputError(
            f"dataset {dataset!r}: column 'readers' is {fields['readers'].simpleString()}; use "
            "a list of strings (JSON, Parquet) or a comma-separated string (CSV) of "
            "user:<name> and group:<name>"
        )
    licence = F.col("licence").cast("string") if "licence" in fields else F.lit(None).cast("string")
    title = F.col("title").cast("string") if "title" in fields else F.lit("").cast("string")
    return frame.select(
        F.col("doc_id").cast("string").alias("doc_id"),
        F.col("text").alias("text"),
        readers.alias("readers"),
        licence.alias("licence"),
        F.coalesce(title, F.lit("")).alias("title"),
    )


def scan_documents(documents: DataFrame) -> list[DocumentMeta]:
    """The metadata pass: one row per document, no text."""
    from pyspark.sql import functions as F  # noqa: N812

    rows = documents.select(
        "doc_id",
        F.sha2(F.col("text"), 256).alias("sha256"),
        F.coalesce(F.length("text"), F.lit(0)).alias("chars"),
        F.coalesce(F.octet_length("text"), F.lit(0)).alias("bytes"),
        F.coalesce(F.instr(F.col("text"), "\ufffd") > 0, F.lit(False)).alias("not_utf8"),
        "readers",
        "licence",
        F.substring("title", 1, 200).alias("title"),
    ).collect()
    return [
        DocumentMeta(
            doc_id=r["doc_id"],
            sha256=r["sha256"],
            chars=int(r["chars"]),
            bytes=int(r["bytes"]),
            not_utf8=bool(r["not_utf8"]),
            readers=None if r["readers"] is None else tuple(str(x) for x in r["readers"]),
            licence=r["licence"],
            title=r["title"] or "",
        )
        for r in rows
    ]


def _chunk_and_embed(chunk_chars: int, overlap: int) -> Any:
    def run(batches: Iterator[Any]) -> Iterator[Any]:
        import pandas as pd

        from lakeward._embed import passage_embedder
        from lakeward.rag._chunk import chunk_text

        embedder = passage_embedder()
        for batch in batches:
            out: dict[str, list[Any]] = {
                k: [] for k in ("doc_id", "ordinal", "start", "end", "text", "vector")
            }
            for doc_id, text in zip(batch["doc_id"], batch["text"], strict=True):
                chunks = chunk_text(text or "", max_chars=chunk_chars, overlap=overlap)
                vectors = embedder.encode_batch([c.text for c in chunks])
                for c, v in zip(chunks, vectors, strict=True):
                    out["doc_id"].append(doc_id)
                    out["ordinal"].append(c.ordinal)
                    out["start"].append(c.start)
                    out["end"].append(c.end)
                    out["text"].append(c.text)
                    out["vector"].append(np.asarray(v, dtype="<f4").tobytes())
            yield pd.DataFrame(out)

    return run


def embed_documents(
    spark: SparkSession,
    documents: DataFrame,
    doc_ids: list[str],
    *,
    chunk_chars: int,
    overlap: int,
) -> list[tuple[str, int, int, int, str, np.ndarray]]:
    """Chunk and embed the documents ``doc_ids`` on the executors; collect the chunks."""
    from pyspark.sql import functions as F  # noqa: N812

    if not doc_ids:
        return []
    wanted = spark.createDataFrame([(d,) for d in doc_ids], "doc_id string")
    chosen = documents.select("doc_id", "text").join(F.broadcast(wanted), "doc_id")
    # Embedding is the cost (one core per task, the model loaded once per Python worker):
    # spread the documents over tasks whatever the source's file layout. A vector does not
    # depend on its partition: each document is embedded alone.
    chosen = chosen.repartition(min(MAX_TASKS, max(1, -(-len(doc_ids) // DOCS_PER_TASK))), "doc_id")
    schema = "doc_id string, ordinal int, start long, end long, text string, vector binary"
    rows = chosen.mapInPandas(_chunk_and_embed(chunk_chars, overlap), schema).collect()
    return [
        (
            r["doc_id"],
            int(r["ordinal"]),
            int(r["start"]),
            int(r["end"]),
            r["text"],
            np.frombuffer(bytes(r["vector"]), dtype="<f4").astype(np.float32),
        )
        for r in rows
    ]
