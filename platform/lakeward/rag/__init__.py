"""IFC RAG datastores: retrieval whose every output depends only on what the asker may read.

- ``_chunk``: sentence-aware chunking (:func:`chunk_text`) and sentence spans.
- ``_index``: :class:`LabelIndex`, the label-class index: fixed quantizer lists, budgets
  counted over visible rows only, exact integer screening scores, re-scored from the
  original vectors row by row, ties by chunk id, and a graph index of its own for each
  large class (non-interference by construction).
- ``_quantizer``: the public ``vocabulary`` quantizer (the model's own vocabulary).
- ``_store``: a store's files, one complete version at a time, switched atomically;
  opt-out markers.
- ``_ingest``: the Spark job (metadata pass, then chunk and embed changed documents on the
  executors, one document per batch).
- ``_answer``: extractive answers with a citation per sentence and the join label.
- ``_service``: :func:`ingest`, :func:`rebuild`, :func:`query`, :func:`query_many`,
  :func:`delete`, :func:`list_stores`, :func:`show`; each asks the policy layer itself.
"""

from lakeward.rag._answer import Answer
from lakeward.rag._chunk import Chunk, chunk_text
from lakeward.rag._index import LabelIndex, Quantizer, SearchParams
from lakeward.rag._service import (
    PURPOSE,
    QUANTIZERS,
    DeleteReport,
    IngestReport,
    QueryResult,
    StoreSummary,
    delete,
    ingest,
    list_stores,
    query,
    query_many,
    rebuild,
    show,
)
from lakeward.rag._store import LabelClass

__all__ = [
    "PURPOSE",
    "QUANTIZERS",
    "Answer",
    "Chunk",
    "DeleteReport",
    "IngestReport",
    "LabelClass",
    "LabelIndex",
    "Quantizer",
    "QueryResult",
    "SearchParams",
    "StoreSummary",
    "chunk_text",
    "delete",
    "ingest",
    "list_stores",
    "query",
    "query_many",
    "rebuild",
    "show",
]
