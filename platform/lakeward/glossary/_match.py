"""Rank glossary terms for columns from metadata only: lexical and embedding signals, fused.

Per column the matcher reads its name, type and description, its table's name and
description and its sibling columns' names (:class:`ColumnMeta`), never a value. For every
term it computes these signals (each a similarity in about [0, 1]):

- ``name``: IDF-weighted token cosine of the column's words (camelCase split,
  abbreviations expanded, stemmed) with the term's label and synonyms;
- ``text``: the same against label, synonyms, description and parent together;
- ``table``: the table's words (name, description, siblings) against the term's full text:
  which part of the glossary this table is about;
- ``emb_label``, ``emb_text``, ``emb_context``, ``emb_synonym``: all-MiniLM-L6-v2 cosines
  of the column's words (and, for context, ``table: column``) with the term's label,
  ``label: description`` and synonyms;
- ``exact``: the column's words equal the label's (or a synonym's) words;
- ``category``: the table's name and description against the term's parent or category
  (a glossary's ``Customer`` category for a ``customers`` table);
- ``type``: +1 when the declared type fits what the term's words say it holds (dates,
  flags, amounts and counts), −1 when it contradicts them, 0 otherwise.

**Fusion.** A linear score ``s = w · signals`` ranks every term; the best
:attr:`MatchConfig.recall_k` are kept. **Calibration.** Each kept term's score is turned into
a probability by a logistic function of ``s`` and of its *lead*: ``s`` minus the best score
of any other term for the column (the margin over the runner-up for the best term, the gap
to the best for the others). Both are absolute similarities, so they read the same for a
glossary of five terms and one of ten thousand. Weights and calibration were fitted once,
on the development splits of our evaluation sets (``bench/glossary_fit.py``), and are the
same for every glossary. The fit is constrained to non-negative weights; it keeps the
contextual embedding and drops the plain label ones (``emb_label``, ``emb_text``: what they
say, ``emb_context`` says better), and the development sets have no synonyms, so synonyms
count through the lexical ``name`` and ``exact`` signals. A signal with weight 0 is not
computed (its embeddings are not made). Below
:attr:`MatchConfig.threshold` the matcher abstains (it still lists the candidates).

**One-to-one.** With ``one_to_one=True`` the terms of each table are assigned so no two
columns of a table get the same term first (Hungarian assignment over calibrated scores).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import sparse

from lakeward._embed import Embedder, default_embedder
from lakeward.errors import InputError
from lakeward.glossary._text import AbbreviationIndex, name_words, stem, text_words
from lakeward.glossary._types import Candidate, ColumnMeta, ColumnRanking, TermMeta

__all__ = ["SIGNALS", "MatchConfig", "Matcher"]

#: The signals, in the order of :attr:`MatchConfig.weights`.
SIGNALS = (
    "name",
    "text",
    "table",
    "emb_label",
    "emb_text",
    "emb_context",
    "emb_synonym",
    "exact",
    "type",
    "category",
)

# Fitted by ``bench/glossary.py --fit`` on the dev splits (see the module docstring).
_WEIGHTS = (0.151, 1.629, 5.472, 0.0, 0.0, 5.963, 0.0, 3.296, 0.876, 2.715)
_CALIBRATION = (0.271, 1.125, -2.851)  # (a·s, b·lead, bias)


@dataclass(frozen=True)
class MatchConfig:
    """How the matcher ranks; the defaults are the one configuration used for every glossary.

    Attributes:
        recall_k: Terms kept per column after fusion (scored and calibrated in full).
        threshold: Calibrated score below which the matcher abstains.
        weights: Fusion weight per signal (:data:`SIGNALS` order).
        calibration: ``(a, b, bias)`` of the logistic calibration over the fused score and
            its lead over the best other term.
        embeddings: Use the sentence model (off: lexical signals only).
        batch: Columns scored per block (memory: ``batch × terms`` floats per signal).
    """

    recall_k: int = 50
    threshold: float = 0.35
    weights: tuple[float, ...] = _WEIGHTS
    calibration: tuple[float, float, float] = _CALIBRATION
    embeddings: bool = True
    batch: int = 256

    def __post_init__(self) -> None:
        if len(self.weights) != len(SIGNALS):
            raise InputError(f"MatchConfig.weights needs {len(SIGNALS)} values: {SIGNALS}")
        if self.recall_k < 1 or self.batch < 1:
            raise InputError("MatchConfig.recall_k and batch must be at least 1")
        if not 0.0 <= self.threshold <= 1.0:
            raise InputError("MatchConfig.threshold must be between 0 and 1")


# -- type compatibility --------------------------------------------------------------------

_FAMILIES = ("temporal", "boolean", "number", "string", "nested")
_TEMPORAL_WORDS = frozenset(
    "date dates datetime time timestamp when day month year period birth birthdate "
    "instant moment start end expiry expiration created updated born died".split()
)
_BOOLEAN_WORDS = frozenset("whether flag indicator indicates true false boolean yes".split())
_NUMBER_WORDS = frozenset(
    "amount count number quantity total price cost rate percentage percent sum balance "
    "age weight height size score value duration length ratio".split()
)


def _column_family(declared: str) -> str | None:
    t = declared.strip().lower()
    if not t:
        return None
    if t in ("date", "timestamp", "timestamp_ntz", "timestamp_ltz", "datetime", "time"):
        return "temporal"
    if t in ("boolean", "bool"):
        return "boolean"
    if t in ("tinyint", "smallint", "int", "integer", "bigint", "float", "double", "long"):
        return "number"
    if t.startswith(("decimal", "numeric")):
        return "number"
    if t.startswith(("struct", "array", "map")):
        return "nested"
    if t in ("string", "binary") or t.startswith(("varchar", "char")):
        return "string"
    return None


def _term_family(words: Sequence[str]) -> str | None:
    head = words[:8]
    if any(w in _BOOLEAN_WORDS for w in head):
        return "boolean"
    if any(w in _TEMPORAL_WORDS for w in head):
        return "temporal"
    if any(w in _NUMBER_WORDS for w in head):
        return "number"
    return None


def _compatibility(column: str | None, term: str | None) -> float:
    if column is None or term is None:
        return 0.0
    if column == term:
        return 1.0
    if column == "string":  # text can hold anything (dates as text are common)
        return 0.0
    if column == "nested":
        return -0.5
    return -1.0


# -- the matcher ---------------------------------------------------------------------------

_LABEL_WORDS_CAP = 40
_DESCRIPTION_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def _first_sentence(text: str, words: int = 40) -> str:
    first = _DESCRIPTION_SENTENCE.split(text.strip(), maxsplit=1)[0] if text else ""
    return " ".join(first.split()[:words])


def _phrase(words: Iterable[str]) -> str:
    return " ".join(words)


@dataclass
class _TermIndex:
    terms: tuple[TermMeta, ...]
    vocabulary: dict[str, int]
    idf: np.ndarray
    label: sparse.csr_matrix  # label + synonyms
    full: sparse.csr_matrix  # label + synonyms + description + parent
    parent: sparse.csr_matrix  # parent / category
    exact: dict[frozenset[str], list[int]]  # label's (or a synonym's) stemmed words → terms
    families: np.ndarray  # index into _FAMILIES, -1 unknown
    abbreviations: AbbreviationIndex
    emb_label: np.ndarray | None = None
    emb_text: np.ndarray | None = None
    emb_synonym: np.ndarray | None = None  # one row per synonym
    synonym_owner: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


class Matcher:
    """Ranks a glossary's terms for columns (see the module docstring).

    Args:
        terms: The glossary's (active) terms; ids must be unique.
        config: How to rank (default: the one fitted configuration).
        embedder: The sentence model (default :func:`default_embedder`, loaded on first
            use; not used when ``config.embeddings`` is false).

    Raises:
        InputError: no terms, or duplicate term ids.
    """

    def __init__(
        self,
        terms: Sequence[TermMeta],
        config: MatchConfig | None = None,
        embedder: Embedder | None = None,
        *,
        term_embeddings: dict[str, np.ndarray] | None = None,
    ) -> None:
        if not terms:
            raise InputError("The glossary has no active terms to match: import some first.")
        ids = Counter(t.id for t in terms)
        dupes = sorted(i for i, n in ids.items() if n > 1)
        if dupes:
            raise InputError(f"Duplicate term ids in the glossary: {', '.join(dupes[:5])}")
        self.config = config or MatchConfig()
        self._embedder = embedder
        self._index = self._build(tuple(terms))
        if self.config.embeddings:
            self._embed_terms(term_embeddings)

    # -- the glossary side ------------------------------------------------------------------

    @property
    def terms(self) -> tuple[TermMeta, ...]:
        """The terms ranked."""
        return self._index.terms

    def _embedder_(self) -> Embedder:
        if self._embedder is None:
            self._embedder = default_embedder()
        return self._embedder

    @staticmethod
    def _term_words(term: TermMeta) -> tuple[list[str], list[str], list[list[str]]]:
        label = list(text_words(term.label)) or list(name_words(term.label))
        description = list(text_words(term.description))
        synonyms = [list(text_words(s)) or list(name_words(s)) for s in term.synonyms]
        return label, description, synonyms

    def _build(self, terms: tuple[TermMeta, ...]) -> _TermIndex:
        raw_vocab: list[str] = []
        label_docs: list[list[str]] = []
        full_docs: list[list[str]] = []
        parent_docs: list[list[str]] = []
        exact: dict[frozenset[str], list[int]] = {}
        families = np.full(len(terms), -1, dtype=np.int64)
        for i, term in enumerate(terms):
            label, description, synonyms = self._term_words(term)
            parent = list(text_words(term.parent)) or list(name_words(term.parent))
            raw_vocab += label + description + parent + [w for s in synonyms for w in s]
            label_doc = [stem(w) for w in label + [w for s in synonyms for w in s]]
            label_docs.append(label_doc[:_LABEL_WORDS_CAP])
            full_docs.append(label_doc + [stem(w) for w in description + parent])
            parent_docs.append([stem(w) for w in parent])
            for words in (label, *synonyms):
                key = frozenset(map(stem, words))
                if key and i not in exact.setdefault(key, []):
                    exact[key].append(i)
            family = _term_family(label + description)
            if family is not None:
                families[i] = _FAMILIES.index(family)
        vocabulary: dict[str, int] = {}
        for doc in full_docs:
            for word in doc:
                vocabulary.setdefault(word, len(vocabulary))
        df = np.zeros(len(vocabulary), dtype=np.float64)
        for doc in full_docs:
            for word in set(doc):
                df[vocabulary[word]] += 1
        idf = np.log((1 + len(terms)) / (1 + df)) + 1.0
        return _TermIndex(
            terms=terms,
            vocabulary=vocabulary,
            idf=idf,
            label=self._tfidf(label_docs, vocabulary, idf),
            full=self._tfidf(full_docs, vocabulary, idf),
            parent=self._tfidf(parent_docs, vocabulary, idf),
            exact=exact,
            families=families,
            abbreviations=AbbreviationIndex(raw_vocab),
        )

    @staticmethod
    def _tfidf(
        docs: Sequence[Sequence[str]], vocabulary: dict[str, int], idf: np.ndarray
    ) -> sparse.csr_matrix:
        rows, cols, vals = [], [], []
        for i, doc in enumerate(docs):
            counts = Counter(vocabulary[w] for w in doc if w in vocabulary)
            if not counts:
                continue
            weights = {j: (1 + math.log(n)) * idf[j] for j, n in counts.items()}
            norm = math.sqrt(sum(v * v for v in weights.values()))
            for j, v in weights.items():
                rows.append(i)
                cols.append(j)
                vals.append(v / norm)
        return sparse.csr_matrix(
            (np.asarray(vals, dtype=np.float32), (rows, cols)),
            shape=(len(docs), len(vocabulary)),
        )

    def term_texts(self) -> dict[str, list[str]]:
        """The texts each term is embedded as: ``label``, ``text`` and ``synonyms``."""
        label: list[str] = []
        text: list[str] = []
        synonyms: list[str] = []
        for term in self._index.terms:
            label.append(term.label)
            description = _first_sentence(term.description)
            text.append(f"{term.label}: {description}" if description else term.label)
            synonyms.extend(term.synonyms)
        return {"label": label, "text": text, "synonyms": synonyms}

    def _needed(self) -> set[str]:
        """The term embeddings the configured weights use."""
        weight = dict(zip(SIGNALS, self.config.weights, strict=True))
        needed = {"text"}  # emb_text and emb_context
        if weight["emb_label"]:
            needed.add("label")
        if weight["emb_synonym"]:
            needed.add("synonyms")
        return needed

    def _embed_terms(self, given: dict[str, np.ndarray] | None) -> None:
        index = self._index
        needed = self._needed()
        if given is None:
            embedder = self._embedder_()
            texts = self.term_texts()
            given = {k: embedder.encode(v) for k, v in texts.items() if v and k in needed}
        index.emb_label = given.get("label")
        index.emb_text = given["text"]
        owners = [i for i, t in enumerate(index.terms) for _ in t.synonyms]
        if owners and "synonyms" in given:
            index.emb_synonym = given["synonyms"]
            index.synonym_owner = np.asarray(owners, dtype=np.int64)

    def term_embeddings(self) -> dict[str, np.ndarray]:
        """The terms' embeddings (to ship to Spark executors instead of re-embedding)."""
        index = self._index
        out: dict[str, np.ndarray] = {}
        if index.emb_label is not None:
            out["label"] = index.emb_label
        if index.emb_text is not None:
            out["text"] = index.emb_text
        if index.emb_synonym is not None:
            out["synonyms"] = index.emb_synonym
        return out

    # -- the column side --------------------------------------------------------------------

    def _column_words(self, column: ColumnMeta) -> list[str]:
        return list(self._index.abbreviations.words(name_words(column.column)))

    def _query(self, words: Sequence[str]) -> sparse.csr_matrix:
        return self._tfidf([[stem(w) for w in words]], self._index.vocabulary, self._index.idf)

    def _signals(self, columns: Sequence[ColumnMeta]) -> np.ndarray:
        """``(len(SIGNALS), len(columns), len(terms))`` signal values."""
        index = self._index
        n, t = len(columns), len(index.terms)
        out = np.zeros((len(SIGNALS), n, t), dtype=np.float32)
        names, texts, tables, contexts, owners = [], [], [], [], []
        name_texts: list[str] = []
        col_families = np.full(n, -1, dtype=np.int64)
        exact = np.zeros((n, t), dtype=np.float32)
        for i, column in enumerate(columns):
            words = self._column_words(column)
            described = words + list(text_words(column.description))
            table_words = list(index.abbreviations.words(name_words(column.dataset)))
            table_words += list(text_words(column.table_description))
            siblings = [
                w
                for s in column.siblings[:40]
                if s != column.column
                for w in index.abbreviations.words(name_words(s))
            ]
            names.append(words)
            texts.append(described)
            tables.append(table_words + siblings)
            owners.append(table_words)
            phrase = _phrase(words) or column.column
            if column.description:
                phrase = f"{phrase}: {_first_sentence(column.description, 30)}"
            name_texts.append(phrase)
            contexts.append(_phrase(table_words) or column.dataset)
            family = _column_family(column.type)
            if family is not None:
                col_families[i] = _FAMILIES.index(family)
            for j in index.exact.get(frozenset(map(stem, words)), ()):
                exact[i, j] = 1.0
        q_name = sparse.vstack([self._query(w) for w in names]).tocsr()
        q_text = sparse.vstack([self._query(w) for w in texts]).tocsr()
        q_table = sparse.vstack([self._query(w) for w in tables]).tocsr()
        out[0] = (q_name @ index.label.T).toarray()
        out[1] = (q_text @ index.full.T).toarray()
        out[2] = (q_table @ index.full.T).toarray()
        q_owner = sparse.vstack([self._query(w) for w in owners]).tocsr()
        out[9] = (q_owner @ index.parent.T).toarray()
        if self.config.embeddings and index.emb_text is not None:
            embedder = self._embedder_()
            e_name = embedder.encode(name_texts)
            # The column in its table's context: the sum of the name's and the table's
            # vectors, renormalised. Names repeat across tables and tables across columns,
            # so both embed once (cached), not once per column.
            e_context = e_name + 0.5 * embedder.encode(contexts)
            e_context /= np.linalg.norm(e_context, axis=1, keepdims=True) + 1e-12
            if index.emb_label is not None:
                out[3] = e_name @ index.emb_label.T
            out[4] = e_name @ index.emb_text.T
            out[5] = e_context @ index.emb_text.T
            if index.emb_synonym is not None and len(index.synonym_owner):
                per_synonym = e_name @ index.emb_synonym.T
                best = np.zeros((n, t), dtype=np.float32)
                for k, owner in enumerate(index.synonym_owner):
                    np.maximum(best[:, owner], per_synonym[:, k], out=best[:, owner])
                out[6] = best
        out[7] = exact
        table = np.array(
            [
                [_compatibility(_f(a), _f(b)) for b in range(-1, len(_FAMILIES))]
                for a in range(-1, len(_FAMILIES))
            ],
            dtype=np.float32,
        )
        out[8] = table[col_families[:, None] + 1, index.families[None, :] + 1]
        return out

    # -- ranking ----------------------------------------------------------------------------

    def rank(
        self,
        columns: Sequence[ColumnMeta],
        *,
        top_k: int = 5,
        one_to_one: bool = False,
    ) -> list[ColumnRanking]:
        """Rank the terms for each column, best first (see the module docstring).

        Args:
            columns: The columns (metadata only).
            top_k: Candidates listed per column.
            one_to_one: Per table, give no two columns the same first term.

        Returns:
            One :class:`ColumnRanking` per column, in input order.

        Raises:
            InputError: ``top_k`` below 1.
        """
        if top_k < 1:
            raise InputError("--top-k must be at least 1")
        scored: list[list[tuple[int, float, float, dict[str, float]]]] = []
        keep = max(top_k, self.config.recall_k) if one_to_one else top_k
        for start in range(0, len(columns), self.config.batch):
            scored += self._score_block(columns[start : start + self.config.batch], keep)
        if one_to_one:
            scored = self._assign(columns, scored)
        rankings = []
        for column, candidates in zip(columns, scored, strict=True):
            kept = candidates[:top_k]
            best = kept[0][1] if kept else 0.0
            rankings.append(
                ColumnRanking(
                    column.dataset,
                    column.column,
                    tuple(self._candidate(j, p, evidence) for j, p, _, evidence in kept),
                    # a positional name (``_c0``) with no description says nothing of its
                    # own: table context alone is not a match
                    abstained=best < self.config.threshold
                    or not (self._column_words(column) or column.description.strip()),
                )
            )
        return rankings

    def _candidate(self, j: int, p: float, evidence: dict[str, Any]) -> Candidate:
        term = self._index.terms[j]
        return Candidate(term.id, term.label, p, evidence)

    def _score_block(
        self, columns: Sequence[ColumnMeta], keep: int
    ) -> list[list[tuple[int, float, float, dict[str, Any]]]]:
        # The calibration is increasing in the fused score within a column, so the best
        # ``keep`` by fused score are the best by calibrated score: only they are scored
        # (two at least: the best one's lead is over the runner-up).
        signals = self._signals(columns)
        weights = np.asarray(self.config.weights, dtype=np.float32)
        fused = np.tensordot(weights, signals, axes=1)  # (n, t)
        firsts_all = signals.argmax(axis=2)  # (signals, n): each signal's first term
        maxes = signals.max(axis=2)
        a, b, bias = self.config.calibration
        t = fused.shape[1]
        k = min(max(keep, 2), t)
        out = []
        for i in range(len(columns)):
            row = fused[i]
            top = np.argpartition(-row, k - 1)[:k] if k < t else np.arange(t)
            ordered = sorted((float(row[j]) for j in top), reverse=True)
            best, second = ordered[0], (ordered[1] if len(ordered) > 1 else 0.0)
            firsts = {
                name: int(firsts_all[n, i]) for n, name in enumerate(SIGNALS) if maxes[n, i] > 0
            }
            candidates = []
            for j in top:
                s = float(row[j])
                lead = s - (second if s >= best else best)
                logit = a * s + b * lead + bias
                p = 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, logit))))
                evidence: dict[str, Any] = {
                    name: round(float(signals[n, i, j]), 4) for n, name in enumerate(SIGNALS)
                }
                evidence["fused"] = round(s, 4)
                evidence["lead"] = round(lead, 4)
                evidence["agreed"] = sorted(n for n, first in firsts.items() if first == j)
                candidates.append((int(j), round(p, 6), s, evidence))
            candidates.sort(key=lambda c: (-c[1], -c[2], self._index.terms[c[0]].id))
            out.append(candidates)
        return out

    def _assign(
        self,
        columns: Sequence[ColumnMeta],
        scored: list[list[tuple[int, float, float, dict[str, Any]]]],
    ) -> list[list[tuple[int, float, float, dict[str, Any]]]]:
        from scipy.optimize import linear_sum_assignment

        by_table: dict[str, list[int]] = {}
        for i, column in enumerate(columns):
            by_table.setdefault(column.dataset, []).append(i)
        result = list(scored)
        for rows in by_table.values():
            terms = sorted({j for i in rows for j, *_ in scored[i]})
            if len(rows) < 2 or not terms:
                continue
            position = {j: n for n, j in enumerate(terms)}
            matrix = np.zeros((len(rows), len(terms)), dtype=np.float64)
            for r, i in enumerate(rows):
                for j, p, *_ in scored[i]:
                    matrix[r, position[j]] = p
            picked_rows, picked_cols = linear_sum_assignment(-matrix)
            chosen = {rows[r]: terms[c] for r, c in zip(picked_rows, picked_cols, strict=True)}
            taken = set(chosen.values())
            for i in rows:
                own = chosen.get(i)
                mine = [c for c in scored[i] if c[0] == own and c[1] > 0]
                free = [c for c in scored[i] if c[0] != own and c[0] not in taken]
                elsewhere = [c for c in scored[i] if c[0] != own and c[0] in taken]
                result[i] = mine + free + elsewhere
        return result


def _f(index: int) -> str | None:
    return None if index < 0 else _FAMILIES[index]
