"""The byte-level helpers for text part files: depth scan, heads, bad-record search."""

from __future__ import annotations

import io
import random

import pytest

from lakeward.lake._text import (
    CsvDialect,
    find_bad_csv_record,
    find_bad_json_line,
    json_depth_violation,
    json_head,
    sniff_csv,
)


def _reference_depth(data: bytes, limit: int) -> tuple[int, int] | None:
    """Byte-at-a-time version of the scan's rule, to compare the vectorised one against."""
    depth, quoted, run, line = 0, False, 0, 1
    for i, b in enumerate(data):
        c = chr(b)
        escaped = run % 2 == 1
        run = run + 1 if c == "\\" else 0
        if c == "\n":
            depth, quoted, line = 0, False, line + 1
        elif c == '"' and not escaped:
            quoted = not quoted
        elif not quoted and c in "{[":
            depth += 1
            if depth > limit:
                return line, i
        elif not quoted and c in "}]":
            depth -= 1
    return None


@pytest.mark.parametrize("seed", range(2))
def test_depth_scan_matches_reference_across_chunk_sizes(seed: int) -> None:
    rng = random.Random(seed)
    alphabet = b'{}[]"\\\nab'
    for _ in range(200):
        data = bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 300)))
        limit = rng.randint(0, 6)
        expected = _reference_depth(data, limit)
        for chunk in (2, 7, 64, 4096):
            assert json_depth_violation(io.BytesIO(data), limit, chunk) == expected


def test_depth_scan_on_long_lines_with_the_block_shortcut() -> None:
    rng = random.Random(42)
    for _ in range(40):
        parts = []
        for _ in range(rng.randint(1, 30)):
            parts.append(rng.choice([b"{", b"[", b"}", b"]", b'"x"', b'"\\""', b"a" * 900]))
            if rng.random() < 0.1:
                parts.append(b"\n")
        data = b"".join(parts) * rng.randint(1, 40)
        limit = rng.randint(3, 40)
        expected = _reference_depth(data, limit)
        for chunk in (1000, 1024, 3000, 1 << 20):
            assert json_depth_violation(io.BytesIO(data), limit, chunk) == expected


def test_escaped_quotes_and_backslash_runs() -> None:
    deep = b"[" * 10
    assert json_depth_violation(io.BytesIO(b'{"s": "\\"' + deep + b'"}\n'), 5) is None
    # An even run of backslashes escapes nothing: the string ends, the brackets count.
    assert json_depth_violation(io.BytesIO(b'{"s": "\\\\"' + deep + b"\n"), 5) == (1, 14)


def test_json_head_extends_to_the_end_of_the_first_line() -> None:
    first = b'{"a": "' + b"x" * 10_000 + b'"}\n'
    data = first + b'{"a": "y"}\n' * 2000
    head = json_head(io.BytesIO(data), 4096)
    assert head.startswith(first) and head.endswith(b"\n") and len(head) < len(data)
    assert json_head(io.BytesIO(b'{"a": 1}\n{"a": 2}'), 4096) == b'{"a": 1}\n{"a": 2}'


def test_sniff_csv_cuts_after_a_whole_record() -> None:
    text = "a,b\n" + "".join(f'{i},"x\ny"\n' for i in range(1000))
    head = sniff_csv(io.BytesIO(text.encode()), 1000)
    assert head.text.endswith('"x\ny"\n') and text.startswith(head.text)
    assert head.text.count('"') % 2 == 0 and not head.complete


def test_find_bad_records_by_shape() -> None:
    csv_data = b'a,b\n1,"two\nlines"\n3,4,5\n'
    bad = find_bad_csv_record(io.BytesIO(csv_data), CsvDialect())
    assert bad is not None and (bad.line, bad.reason) == (
        4,
        "the record has 3 fields, the header has 2",
    )
    json_data = b'{"a": 1}\n\n[1, 2]\n'
    bad = find_bad_json_line(io.BytesIO(json_data))
    assert bad is not None and bad.where() == "line 3 (byte 10)"
    assert bad.reason == "the line is valid JSON but not an object"
