"""What the matcher reads and writes: column and term metadata in, ranked candidates out.

These are plain values (no catalog objects) so the same code ranks in-process, inside a
Spark task, and in ``bench/glossary.py``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Candidate", "ColumnMeta", "ColumnRanking", "TermMeta", "metadata_signature"]


@dataclass(frozen=True)
class ColumnMeta:
    """What the matcher may know of a column: metadata only, never a value.

    Attributes:
        dataset: The dataset (table) name.
        column: The column name.
        type: The declared type (Spark ``simpleString`` or the schema file's type), or ``""``.
        description: The column's description, or ``""``.
        table_description: The dataset's description, or ``""``.
        siblings: The names of the dataset's other columns, in order.
    """

    dataset: str
    column: str
    type: str = ""
    description: str = ""
    table_description: str = ""
    siblings: tuple[str, ...] = ()

    def signature(self) -> str:
        """:func:`metadata_signature` of this column."""
        return metadata_signature(self)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (what an LLM reranker is sent)."""
        return {
            "dataset": self.dataset,
            "column": self.column,
            "type": self.type,
            "description": self.description,
            "table_description": self.table_description,
            "siblings": list(self.siblings),
        }


@dataclass(frozen=True)
class TermMeta:
    """A glossary term as the matcher sees it.

    Attributes:
        id: The term's id in its glossary (what results name).
        label: Its label (``"Customer Email"``).
        description: Its definition, or ``""``.
        synonyms: Other names for it.
        parent: Its parent term's label or its category, or ``""``.
        tags: Policy tags an accepted match puts on the column.
    """

    id: str
    label: str
    description: str = ""
    synonyms: tuple[str, ...] = ()
    parent: str = ""
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Candidate:
    """One ranked term for a column.

    Attributes:
        term: The term's id.
        label: The term's label.
        score: Calibrated score in [0, 1]: about the chance that the term is right, the same
            scale for every glossary (so one threshold serves all).
        evidence: Each signal's raw score (``name``, ``description``, ``synonym``,
            ``embedding``, ``table``, ``type``, ...) and ``agreed``: the signals that ranked
            this term first for the column.
    """

    term: str
    label: str
    score: float
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The public JSON form: ``{"term", "label", "score"}`` plus ``evidence``."""
        return {
            "term": self.term,
            "label": self.label,
            "score": round(self.score, 4),
            "evidence": self.evidence,
        }


@dataclass(frozen=True)
class ColumnRanking:
    """The ranked candidates for one column, best first.

    ``abstained`` is true when no candidate reaches the matcher's threshold: the candidates
    are still listed (for review and for Hit@k), but none is suggested.
    """

    dataset: str
    column: str
    candidates: tuple[Candidate, ...]
    abstained: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The public JSON form of ``lakeward glossary match --json``."""
        return {
            "dataset": self.dataset,
            "column": self.column,
            "abstained": self.abstained,
            "candidates": [c.to_dict() for c in self.candidates],
        }


def metadata_signature(column: ColumnMeta) -> str:
    """A hash of what the matcher read of one column itself.

    Dataset name and description, column name, type and description: a rejection holds while
    this is unchanged, and a column whose signature changed is matched again.
    """
    text = json.dumps(
        [column.dataset, column.table_description, column.column, column.type, column.description],
        ensure_ascii=False,
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
