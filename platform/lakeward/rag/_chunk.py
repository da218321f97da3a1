"""Sentence-aware chunking, and sentences for extractive answers.

A document's text is split into sentences (after ``.``, ``!``, ``?`` or ``…`` followed by
white space, and at blank lines), and consecutive sentences are packed into chunks of at
most ``max_chars`` characters, each starting ``overlap`` sentences before the previous one
ended. A sentence longer than a chunk is cut at white space. Chunking is a function of the
text and the two settings alone, so a chunk's id (document id, ordinal) and character span
are stable across builds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lakeward.errors import InputError

__all__ = ["Chunk", "Span", "check_chunking", "chunk_text", "sentences"]

_BOUNDARY = re.compile(r"(?<=[.!?…])[\"')\]]*\s+|\n\s*\n")


@dataclass(frozen=True)
class Span:
    """A stretch of a document's text: ``text == document[start:end]``."""

    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Chunk(Span):
    """A chunk: its ordinal in the document, and its span."""

    ordinal: int = 0


def sentences(text: str, *, max_chars: int = 10_000) -> list[Span]:
    """The sentences of ``text`` with their spans (white space trimmed; none empty)."""
    spans: list[Span] = []
    pos = 0
    for match in _BOUNDARY.finditer(text):
        _add(spans, text, pos, match.start(), max_chars)
        pos = match.end()
    _add(spans, text, pos, len(text), max_chars)
    return spans


def _add(spans: list[Span], text: str, start: int, end: int, max_chars: int) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    while end - start > max_chars:  # cut an over-long sentence at white space
        cut = text.rfind(" ", start + 1, start + max_chars)
        cut = cut if cut > start else start + max_chars
        spans.append(Span(start, cut, text[start:cut]))
        start = cut
        while start < end and text[start].isspace():
            start += 1
    if end > start:
        spans.append(Span(start, end, text[start:end]))


def check_chunking(max_chars: int, overlap: int) -> None:
    """Raises InputError for chunk settings the chunker refuses."""
    if max_chars < 50:
        raise InputError(f"chunk size must be at least 50 characters, got {max_chars}")
    if overlap < 0:
        raise InputError(f"chunk overlap must be ≥ 0 sentences, got {overlap}")


def chunk_text(text: str, *, max_chars: int = 800, overlap: int = 1) -> list[Chunk]:
    """Pack the sentences of ``text`` into chunks of at most ``max_chars`` characters.

    Raises:
        InputError: ``max_chars`` < 50 or ``overlap`` < 0.
    """
    check_chunking(max_chars, overlap)
    parts = sentences(text, max_chars=max_chars)
    chunks: list[Chunk] = []
    i = 0
    while i < len(parts):
        j = i + 1
        while j < len(parts) and parts[j].end - parts[i].start <= max_chars:
            j += 1
        start, end = parts[i].start, parts[j - 1].end
        chunks.append(Chunk(start, end, text[start:end], len(chunks)))
        if j >= len(parts):
            break
        i = max(j - overlap, i + 1)
    return chunks
