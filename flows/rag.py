"""Deployment entrypoints: ``flows/rag.py:rag_ingest`` and ``flows/rag.py:rag_rebuild``.

``rag_ingest`` keeps a RAG store in step with its document datasets (new and changed
documents chunked and embedded on Spark, unchanged ones never again, removed ones gone);
``rag_rebuild`` rebuilds a store from its sources.
"""

from lakeward.orchestration._rag import rag_ingest, rag_rebuild

__all__ = ["rag_ingest", "rag_rebuild"]

if __name__ == "__main__":
    import sys

    print(rag_ingest(sys.argv[1]))
