"""Extractive, cited, labelled answers from the retrieved chunks.

The answer is made of whole sentences of the top chunks, chosen deterministically: by how
many of the query's content words a sentence shares (then by the document's rank and the
sentence's position), and put back in (rank, position) order. Each sentence cites its
document, chunk and character offset.

Its **label** is the join of the cited documents' labels: the principals who may read every
one of them (readers' groups expanded to their members), under the most restricted of their
licences. The asking principal must be cleared for it: the join is decided by the policy
layer like a document, and a sentence whose document would take the join beyond what the
principal may read is left out (after Permissive Information-Flow Analysis: only the
documents an answer actually cites label it).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lakeward.policy._labels import LICENCES, licence_rank, split_readers
from lakeward.rag._chunk import sentences as split_sentences

if TYPE_CHECKING:
    from lakeward.catalog import Catalog
    from lakeward.rag._store import DocumentRecord

__all__ = ["Answer", "compose_answer"]

_WORD = re.compile(r"\w+", re.UNICODE)
_STOP = frozenset(
    "a an and are as at be by can do does for from has have how i in is it its of on or "
    "that the their there these this to was what when where which who why will with you".split()
)


@dataclass(frozen=True)
class Answer:
    """An extractive answer: its sentences with citations, and its label."""

    text: str
    sentences: tuple[dict[str, Any], ...]
    citations: tuple[str, ...]
    label: dict[str, Any]
    generator: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        data = {
            "answer": self.text,
            "citations": list(self.citations),
            "sentences": list(self.sentences),
            "label": self.label,
        }
        if self.generator is not None:
            data["generator"] = self.generator
        return data


def _words(text: str) -> set[str]:
    return {w for w in (m.group().lower() for m in _WORD.finditer(text)) if len(w) > 1} - _STOP


def _readers(record: DocumentRecord, members: dict[str, frozenset[str]]) -> frozenset[str]:
    """Everyone ``record``'s readers name: its users and its groups' members."""
    users, groups, _ = split_readers(record.readers)
    return users | frozenset(u for u, gs in members.items() if gs & groups)


def compose_answer(
    catalog: Catalog,
    principal: str,
    store: str,
    query: str,
    chunks: Sequence[tuple[str, dict[str, Any]]],
    records: dict[str, DocumentRecord],
    *,
    purpose: str,
    sentences: int = 3,
    generator: Any = None,
) -> Answer:
    """The answer to ``query`` from ``chunks`` (doc id, chunk row), best first."""
    from lakeward.policy import DocumentFacts, engine_for

    wanted = _words(query)
    rank: dict[str, int] = {}
    candidates: list[tuple[int, int, int, str, dict[str, Any]]] = []
    seen: set[tuple[str, int]] = set()
    for doc, chunk in chunks:
        rank.setdefault(doc, len(rank))
        for span in split_sentences(chunk["text"]):
            offset = int(chunk["start"]) + span.start
            if (doc, offset) in seen:
                continue  # overlapping chunks repeat sentences
            seen.add((doc, offset))
            overlap = len(wanted & _words(span.text))
            candidates.append(
                (
                    -overlap,
                    rank[doc],
                    offset,
                    doc,
                    {"text": span.text, "doc_id": doc, "chunk": chunk["ordinal"], "offset": offset},
                )
            )
    candidates.sort(key=lambda c: (c[0], c[1], c[2], c[3]))
    engine = engine_for(catalog)
    members = {u: frozenset(gs) for u, gs in engine.bundle.users.items()}
    chosen: list[tuple[int, int, dict[str, Any]]] = []
    readers: frozenset[str] | None = None
    licence = -1
    datasets: set[str] = set()
    for _, doc_rank, offset, doc, sentence in candidates:
        if len(chosen) == sentences:
            break
        record = records[doc]
        joined = (
            _readers(record, members) if readers is None else readers & _readers(record, members)
        )
        joined_licence = max(licence, licence_rank(record.licence))
        joined_datasets = datasets | {record.dataset}
        facts = DocumentFacts(
            uid="answer",
            store=store,
            dataset=next(iter(joined_datasets)) if len(joined_datasets) == 1 else "",
            users=joined,
            groups=frozenset(),
            licence=LICENCES[min(joined_licence, len(LICENCES) - 1)],
            licence_rank=joined_licence,
            tags=frozenset(),
        )
        allowed, _ = engine.decide_documents(principal, "rag.query", [facts], {"purpose": purpose})
        if not allowed or not allowed[0]:
            continue  # citing it would label the answer beyond what the asker may read
        readers, licence, datasets = joined, joined_licence, joined_datasets
        chosen.append((doc_rank, offset, sentence))
    chosen.sort(key=lambda c: (c[0], c[1]))
    picked = tuple(s for _, _, s in chosen)
    citations: list[str] = []
    for s in picked:
        if s["doc_id"] not in citations:
            citations.append(s["doc_id"])
    label = {
        "readers": sorted(f"user:{u}" for u in (readers or frozenset())),
        "licence": LICENCES[min(licence, len(LICENCES) - 1)] if licence >= 0 else None,
    }
    text = " ".join(s["text"] for s in picked)
    generated = None
    if picked and generator is not None:
        generated = generator.generate(query, picked)
        text = generated.get("text") or text
    return Answer(text, picked, tuple(citations), label, generated)
