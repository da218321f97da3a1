"""Sentence-aware chunking: spans match the text, chunks stay within bounds, deterministic."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lakeward.errors import InputError
from lakeward.rag._chunk import chunk_text, sentences

TEXT = (
    "The VPN fails after the update. Restart the client! Does it work now? "
    "If not, reinstall it.\n\nA new paragraph starts here without a full stop\n\n"
    "and ends here."
)


def test_sentences_are_spans_of_the_text() -> None:
    spans = sentences(TEXT)
    assert [s.text for s in spans] == [
        "The VPN fails after the update.",
        "Restart the client!",
        "Does it work now?",
        "If not, reinstall it.",
        "A new paragraph starts here without a full stop",
        "and ends here.",
    ]
    assert all(TEXT[s.start : s.end] == s.text for s in spans)


def test_chunks_pack_sentences_with_overlap() -> None:
    chunks = chunk_text(TEXT, max_chars=60, overlap=1)
    assert all(len(c.text) <= 60 for c in chunks)
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    assert chunks[0].text == "The VPN fails after the update. Restart the client!"
    assert chunks[1].text.startswith("Restart the client!")  # one sentence of overlap
    assert all(TEXT[c.start : c.end] == c.text for c in chunks)
    assert chunk_text(TEXT, max_chars=60, overlap=1) == chunks


def test_long_sentence_is_cut_at_white_space() -> None:
    text = " ".join(["word"] * 100) + "."
    chunks = chunk_text(text, max_chars=60, overlap=0)
    assert len(chunks) > 1 and all(len(c.text) <= 60 for c in chunks)
    assert " ".join(c.text for c in chunks) == text


def test_empty_and_bad_settings() -> None:
    assert chunk_text("   ") == []
    with pytest.raises(InputError, match="at least 50"):
        chunk_text("x", max_chars=10)
    with pytest.raises(InputError, match="overlap"):
        chunk_text("x", overlap=-1)


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=0, max_size=600), st.integers(50, 200), st.integers(0, 3))
def test_every_character_of_substance_is_in_some_chunk(text: str, size: int, overlap: int) -> None:
    chunks = chunk_text(text, max_chars=size, overlap=overlap)
    covered = set()
    for c in chunks:
        assert text[c.start : c.end] == c.text and len(c.text) <= size and c.text.strip()
        covered.update(range(c.start, c.end))
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())
