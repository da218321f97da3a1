"""Glossary matching: column metadata to business-glossary terms, without reading data.

- ``_types``: what the matcher reads and writes (:class:`ColumnMeta`, :class:`TermMeta`,
  :class:`Candidate`, :class:`ColumnRanking`).
- ``_text``: words from names and descriptions (the dedup name normaliser, abbreviations).
- embeddings: all-MiniLM-L6-v2 from its PyPI package (:func:`default_embedder`, shared in
  ``lakeward._embed``).
- ``_match``: :class:`Matcher`, the lexical + embedding + table-context ranker, calibrated.
- ``_spark``: :func:`rank_on_spark`, the same ranking as a Spark job for big catalogs.
- ``_store``: glossaries in the catalog: :func:`import_glossary` (JSON Lines, CSV, YAML;
  checked whole first, re-import by id), :func:`export_glossary`, :func:`list_glossaries`.
- ``_rerank``: the optional LLM reranker (:class:`OpenAIReranker`, off by default).
- ``_service``: :func:`match` (``glossary.match`` per dataset, metadata only; suggestions
  stored), :func:`review`, :func:`accept` (the term's tags go on the column through
  ``tag.assign``), :func:`reject`.
"""

from lakeward._embed import Embedder, MiniLMEmbedder, ModelUnavailable, default_embedder
from lakeward.glossary._match import SIGNALS, MatchConfig, Matcher
from lakeward.glossary._rerank import (
    OpenAIReranker,
    Reranker,
    parse_ranking,
    reranker_from_settings,
)
from lakeward.glossary._service import (
    MatchedDataset,
    MatchOutcome,
    MatchReport,
    Suggestion,
    accept,
    match,
    reject,
    review,
)
from lakeward.glossary._spark import rank_on_spark
from lakeward.glossary._store import (
    GlossaryInfo,
    ImportResult,
    export_glossary,
    glossary_terms,
    import_glossary,
    list_glossaries,
)
from lakeward.glossary._types import (
    Candidate,
    ColumnMeta,
    ColumnRanking,
    TermMeta,
    metadata_signature,
)

__all__ = [
    "SIGNALS",
    "Candidate",
    "ColumnMeta",
    "ColumnRanking",
    "Embedder",
    "GlossaryInfo",
    "ImportResult",
    "MatchConfig",
    "MatchOutcome",
    "MatchReport",
    "MatchedDataset",
    "Matcher",
    "MiniLMEmbedder",
    "ModelUnavailable",
    "OpenAIReranker",
    "Reranker",
    "Suggestion",
    "TermMeta",
    "accept",
    "default_embedder",
    "export_glossary",
    "glossary_terms",
    "import_glossary",
    "list_glossaries",
    "match",
    "metadata_signature",
    "parse_ranking",
    "rank_on_spark",
    "reject",
    "reranker_from_settings",
    "review",
]
