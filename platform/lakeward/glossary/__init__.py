"""Glossary matching: column metadata to business-glossary terms, without reading data.

- ``_types``: what the matcher reads and writes (:class:`ColumnMeta`, :class:`TermMeta`,
  :class:`Candidate`, :class:`ColumnRanking`).
- ``_text``: words from names and descriptions (the dedup name normaliser, abbreviations).
- ``_embed``: all-MiniLM-L6-v2 from its PyPI package (:func:`default_embedder`).
- ``_match``: :class:`Matcher`, the lexical + embedding + table-context ranker, calibrated.
"""

from lakeward.glossary._embed import Embedder, MiniLMEmbedder, ModelUnavailable, default_embedder
from lakeward.glossary._match import SIGNALS, MatchConfig, Matcher
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
    "MatchConfig",
    "Matcher",
    "MiniLMEmbedder",
    "ModelUnavailable",
    "TermMeta",
    "default_embedder",
    "metadata_signature",
]
