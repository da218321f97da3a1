"""Text part files (CSV, JSON lines) as they come from real lakes, before any parser sees them.

- **CSV dialect** (:func:`sniff_csv`): RFC 4180 quoting (``"`` quotes, ``""`` escapes a
  quote, line breaks inside quoted fields), the delimiter among ``,`` ``;`` tab ``|`` (the
  one that splits the first records into one consistent number of fields, the most fields
  winning), a byte-order mark, and the encoding: the BOM's (UTF-8, UTF-16 LE/BE), else
  UTF-8 when the head decodes as UTF-8, else Windows-1252 (ISO-8859-1 when a byte has no
  Windows-1252 meaning). The encoding is judged from the head only: a file whose first
  ``sniff_bytes`` are ASCII and whose later bytes are Latin-1 is read as UTF-8.
- **Heads cut at a record boundary** (:func:`json_head`, :func:`sniff_csv`): the sniff
  window is extended, up to :data:`MAX_RECORD_BYTES`, until it holds a complete record
  (for CSV: the header and one record, a line break inside quotes not counting), so a long
  record is never judged by a cut-off piece of it.
- **JSON nesting depth** (:func:`json_depth_violation`): a byte scan, without recursion,
  counting ``{``/``[`` against ``}``/``]`` outside strings, line by line. A record nested
  deeper than :data:`MAX_JSON_DEPTH` crashes or overflows JSON parsers (pyarrow segfaults
  at 100,000 levels), so such a file is refused before any parser reads it.
- **Locating a bad record** (:func:`find_bad_csv_record`, :func:`find_bad_json_line`): after
  the Spark pass failed, which record (line, byte offset) is ragged or not JSON, described
  by its shape only. No message built here contains a value from the file.
"""

from __future__ import annotations

import codecs
import csv
import json
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any, Protocol

__all__ = [
    "DELIMITERS",
    "MAX_JSON_DEPTH",
    "MAX_RECORD_BYTES",
    "BadRecord",
    "CsvDialect",
    "CsvHead",
    "RecordTooLong",
    "find_bad_csv_record",
    "find_bad_json_line",
    "json_depth_violation",
    "json_head",
    "sniff_csv",
]

MAX_JSON_DEPTH = 128
"""Deepest JSON nesting (objects and arrays) a record may have; deeper files are refused.

Parsers crash far deeper (pyarrow segfaults at 100,000 levels, Python's ``json`` overflows
at about 1,000), but PySpark handles a schema recursively, a few Python frames per level,
and fails from about 250 levels: 128 leaves room, and real data nests a few dozen deep.
"""

MAX_RECORD_BYTES = 64 << 20
"""Longest first record the head sniff extends to (a longer one refuses the file)."""

DIAGNOSE_BYTES = 1 << 30
"""How far into a file the search for a bad record goes after a failed Spark pass."""

DELIMITERS = (",", ";", "\t", "|")
"""CSV delimiters the sniff chooses among, in order of preference on a tie."""

_BOMS = (
    (codecs.BOM_UTF8, "UTF-8"),
    (codecs.BOM_UTF16_LE, "UTF-16LE"),
    (codecs.BOM_UTF16_BE, "UTF-16BE"),
)
_PYTHON_CODEC = {
    "UTF-8": "utf-8",
    "UTF-16LE": "utf-16-le",
    "UTF-16BE": "utf-16-be",
    "windows-1252": "cp1252",
    "ISO-8859-1": "latin-1",
}
_SNIFF_RECORDS = 50
# Real files carry multi-megabyte fields; the csv module's default limit is 128 KiB.
csv.field_size_limit(max(csv.field_size_limit(), MAX_RECORD_BYTES))


class Stream(Protocol):
    """A binary input stream (``pyarrow.NativeFile`` or a Python file)."""

    def read(self, size: int = ..., /) -> bytes:  # noqa: D102
        ...


class RecordTooLong(ValueError):
    """No complete record within :data:`MAX_RECORD_BYTES` of the start of a file."""


@dataclass(frozen=True)
class CsvDialect:
    """How a CSV file is written: what Spark is told and what the profile reports."""

    delimiter: str = ","
    encoding: str = "UTF-8"  # UTF-8 | UTF-16LE | UTF-16BE | windows-1252 | ISO-8859-1
    bom: bool = False
    quote: str = '"'
    escape: str = '"'  # RFC 4180: a quote inside a quoted field is written twice
    header: bool = True
    ascii_only: bool = False  # the head is ASCII: any ASCII-compatible encoding reads it

    def spark_options(self) -> dict[str, str]:
        """Spark CSV reader options for this dialect (``multiLine``: quoted line breaks)."""
        # Java's "UTF-16" decoder reads the BOM, picks the byte order and drops the mark.
        encoding = "UTF-16" if self.encoding.startswith("UTF-16") else self.encoding
        return {
            "header": "true" if self.header else "false",
            "sep": self.delimiter,
            "quote": self.quote,
            "escape": self.escape,
            "multiLine": "true",
            "encoding": encoding,
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (what ``lakeward lake profile --json`` shows)."""
        data = asdict(self)
        del data["ascii_only"]
        return data

    def merge(self, other: CsvDialect) -> CsvDialect | None:
        """The one dialect that reads both files, or ``None`` when they differ."""
        if (self.delimiter, self.quote, self.escape, self.header) != (
            other.delimiter,
            other.quote,
            other.escape,
            other.header,
        ):
            return None
        a, b = self, other
        if a.encoding != b.encoding:
            single_byte = ("UTF-8", "windows-1252", "ISO-8859-1")
            if a.encoding not in single_byte or b.encoding not in single_byte:
                return None
            if a.ascii_only:
                a, b = b, a
            if not b.ascii_only:
                return None
        return CsvDialect(
            a.delimiter,
            a.encoding,
            a.bom or b.bom,
            a.quote,
            a.escape,
            a.header,
            a.ascii_only and b.ascii_only,
        )


@dataclass(frozen=True)
class CsvHead:
    """The decoded head of a CSV file, cut after its last complete record."""

    text: str
    dialect: CsvDialect
    complete: bool  # the whole file


@dataclass(frozen=True)
class BadRecord:
    """Where a file's first bad record is and what is wrong with its shape (never values)."""

    line: int  # 1-based line where the record starts
    offset: int | None  # byte offset of the record's start, where known
    reason: str

    def where(self) -> str:
        """``line N`` (and the byte offset where known)."""
        return f"line {self.line}" + (f" (byte {self.offset})" if self.offset is not None else "")


# ---------------------------------------------------------------- heads and encodings


def _size(n: int) -> str:
    return f"{n >> 20} MiB" if n >= 1 << 20 else f"{n >> 10} KiB"


def _read_more(stream: Stream, data: bytes, want: int) -> tuple[bytes, bool]:
    """Read until ``data`` holds ``want`` bytes; ``True`` when the stream ended."""
    chunks = [data]
    have = len(data)
    while have < want:
        chunk = stream.read(want - have)
        if not chunk:
            return b"".join(chunks), True
        chunks.append(bytes(chunk))
        have += len(chunk)
    extra = stream.read(1)
    if not extra:
        return b"".join(chunks), True
    chunks.append(bytes(extra))
    return b"".join(chunks), False


def json_head(stream: Stream, sniff_bytes: int) -> bytes:
    """The first ``sniff_bytes`` of a JSON-lines file, cut after its last complete line.

    A first line longer than the window is read to its end (the window grows), up to
    :data:`MAX_RECORD_BYTES`.

    Raises:
        RecordTooLong: the first line is longer than :data:`MAX_RECORD_BYTES`.
    """
    want = sniff_bytes
    data, eof = _read_more(stream, b"", want)
    while True:
        if eof:
            return data
        cut = data.rfind(b"\n", 0, want)
        if cut >= 0:
            return data[: cut + 1]
        if want >= MAX_RECORD_BYTES:
            raise RecordTooLong(f"no line end in its first {_size(MAX_RECORD_BYTES)}")
        want = min(want * 2, MAX_RECORD_BYTES)
        data, eof = _read_more(stream, data, want)


def _encoding(raw: bytes, eof: bool) -> tuple[str, bool, str]:
    """(encoding, BOM present, decoded text without the BOM) of a head."""
    for bom, name in _BOMS:
        if raw.startswith(bom):
            decoder = codecs.getincrementaldecoder(_PYTHON_CODEC[name])(errors="replace")
            return name, True, decoder.decode(raw[len(bom) :], final=eof)
    for name in ("UTF-8", "windows-1252"):
        try:
            decoder = codecs.getincrementaldecoder(_PYTHON_CODEC[name])(errors="strict")
            return name, False, decoder.decode(raw, final=eof)
        except UnicodeDecodeError:
            continue
    return "ISO-8859-1", False, raw.decode("latin-1")


def _record_ends(text: str, limit: int) -> Iterator[int]:
    """Offsets just past each line break outside quotes in ``text[:limit]``, in order."""
    quoted = False
    for match in re.finditer(r'["\n]', text[:limit]):
        if match.group() == '"':
            quoted = not quoted
        elif not quoted:
            yield match.end()


def _last_record_end(text: str) -> tuple[int, int]:
    """(offset past the first record, offset past the last complete record); 0 if none."""
    first = next(_record_ends(text, len(text)), 0)
    if not first:
        return 0, 0
    # Usually the last line break is outside quotes: check that with C-speed counts first.
    cut = len(text)
    for _ in range(8):
        cut = text.rfind("\n", 0, cut)
        if cut < 0:
            return first, first
        if text.count('"', 0, cut) % 2 == 0:
            return first, cut + 1
    ends = list(_record_ends(text, len(text)))
    return first, ends[-1]


def _split_lines(text: str) -> list[str]:
    """``text`` split after each line feed only (``str.splitlines`` splits at U+2028 too)."""
    lines = [line + "\n" for line in text.split("\n")]
    lines[-1] = lines[-1][:-1]
    return lines if lines[-1] else lines[:-1]


def _sniff_delimiter(text: str) -> str:
    """The delimiter that splits the first records most consistently (``,`` by default)."""
    best, best_score = ",", (False, 1)
    for delimiter in DELIMITERS:
        reader = csv.reader(_split_lines(text), delimiter=delimiter, quotechar='"')
        counts: list[int] = []
        try:
            for row in reader:
                if row:
                    counts.append(len(row))
                if len(counts) >= _SNIFF_RECORDS:
                    break
        except csv.Error:
            continue
        if not counts or counts[0] < 2:
            continue
        score = (len(set(counts)) == 1, counts[0])
        if score > best_score:
            best, best_score = delimiter, score
    return best


def sniff_csv(stream: Stream, sniff_bytes: int) -> CsvHead:
    """Decode the head of a CSV file, cut it after its last complete record, sniff its dialect.

    Raises:
        RecordTooLong: the header and first record together exceed :data:`MAX_RECORD_BYTES`.
    """
    want = sniff_bytes
    raw, eof = _read_more(stream, b"", want)
    while True:
        encoding, bom, text = _encoding(raw[:want], eof)
        if eof:
            break
        first, last = _last_record_end(text)
        if last > first:  # the header and at least one whole record
            text = text[:last]
            break
        if want >= MAX_RECORD_BYTES:
            raise RecordTooLong(
                f"its header and first record are longer than {_size(MAX_RECORD_BYTES)} "
                "(or a quote is never closed)"
            )
        want = min(want * 2, MAX_RECORD_BYTES)
        raw, eof = _read_more(stream, raw, want)
    dialect = CsvDialect(
        delimiter=_sniff_delimiter(text),
        encoding=encoding,
        bom=bom,
        ascii_only=text.isascii() and encoding == "UTF-8" and not bom,
    )
    return CsvHead(text, dialect, eof)


# ---------------------------------------------------------------- JSON nesting depth

_OPEN, _CLOSE, _QUOTE, _NEWLINE = 1, 2, 3, 4
_BLOCK = 1024


@dataclass
class _LineState:
    """The scan's state inside an unfinished line at the end of a chunk."""

    depth: int = 0
    quoted: int = 0  # 1 inside a string
    run: int = 0  # length of the backslash run the chunk ended with


def _exact_depths(a: Any, limit: int, state: _LineState) -> tuple[int | None, int]:
    """Scan ``a`` (uint8) from ``state``: (index of the first too-deep bracket, newlines).

    Updates ``state`` to the end of ``a``.
    """
    import numpy as np

    kinds = np.zeros(256, np.int8)
    kinds[[ord("{"), ord("[")]] = _OPEN
    kinds[[ord("}"), ord("]")]] = _CLOSE
    kinds[ord('"')] = _QUOTE
    kinds[ord("\n")] = _NEWLINE
    backslash = ord("\\")
    kind = kinds[a]
    # A quote after an odd run of backslashes is text, not a string delimiter.
    slashes = np.flatnonzero(a == backslash)
    run = state.run
    if slashes.size or run:
        quotes = np.flatnonzero(kind == _QUOTE)
        starts_run = np.ones(slashes.size, bool)
        starts_run[1:] = slashes[1:] != slashes[:-1] + 1
        first_of_run = np.maximum.accumulate(np.where(starts_run, np.arange(slashes.size), 0))
        run_start = slashes[first_of_run]
        after = quotes[(quotes > 0) & (a[quotes - 1] == backslash)]
        index = np.searchsorted(slashes, after) - 1
        length = after - run_start[index] + np.where(run_start[index] == 0, run, 0)
        kind[after[length % 2 == 1]] = 0
        if quotes.size and quotes[0] == 0 and run % 2 == 1:
            kind[0] = 0
        if a[-1] == backslash:
            start = int(run_start[-1])
            state.run = len(a) - start + (run if start == 0 else 0)
        else:
            state.run = 0
    events = np.flatnonzero(kind)
    ek = kind[events]
    newline = ek == _NEWLINE
    last_nl = np.maximum.accumulate(np.where(newline, np.arange(events.size), -1))
    first_line = last_nl < 0
    is_quote = (ek == _QUOTE).astype(np.int64)
    q = np.cumsum(is_quote)
    q_base = np.where(first_line, -state.quoted, q[np.maximum(last_nl, 0)])
    in_string = ((q - is_quote - q_base) & 1).astype(bool)
    step = np.where(in_string, 0, np.where(ek == _OPEN, 1, np.where(ek == _CLOSE, -1, 0)))
    d = np.cumsum(step)
    level = d - np.where(first_line, -state.depth, d[np.maximum(last_nl, 0)])
    deep = np.flatnonzero(level > limit)
    if deep.size:
        at = int(deep[0])
        return int(events[at]), int(np.count_nonzero(newline[:at]))
    if events.size:
        state.depth = int(level[-1])
        state.quoted = int((q[-1] - q_base[-1]) & 1)
    return None, int(np.count_nonzero(newline))


def _deep_line_possible(a: Any, limit: int, carried_depth: int) -> bool:
    """Whether some line in ``a`` before its last line feed could nest deeper than ``limit``.

    An upper bound, cheap enough for every chunk: a line's depth is at most the opening
    brackets in the 1 KiB blocks it touches (plus the depth carried into the first line).
    """
    import numpy as np

    full = len(a) // _BLOCK * _BLOCK
    opens = (a == ord("{")) | (a == ord("["))
    breaks = a == ord("\n")
    per_block = [opens[:full].reshape(-1, _BLOCK).sum(1)]
    has_break = [breaks[:full].reshape(-1, _BLOCK).any(1)]
    if full < len(a):
        per_block.append(np.array([opens[full:].sum()]))
        has_break.append(np.array([breaks[full:].any()]))
    counts = np.concatenate(per_block)
    with_break = np.flatnonzero(np.concatenate(has_break))
    prefix = np.concatenate(([0], np.cumsum(counts)))
    first_line = max(carried_depth, 0) + int(prefix[with_break[0] + 1])
    between = prefix[with_break[1:] + 1] - prefix[with_break[:-1]]
    return first_line > limit or bool(between.size and between.max() > limit)


def json_depth_violation(
    stream: Stream, limit: int = MAX_JSON_DEPTH, chunk_bytes: int = 4 << 20
) -> tuple[int, int] | None:
    """(line, byte offset) where a JSON-lines file first nests deeper than ``limit``, or None.

    Counts brackets outside strings (a quote after an odd run of backslashes is escaped),
    line by line, in vectorised chunks that carry the state of an unfinished line over: no
    recursion and no parser, so any depth is safe to check. Chunks whose lines cannot reach
    the limit (the usual case) are only counted; the exact scan runs on the others.
    """
    import numpy as np

    state = _LineState()
    line, offset = 1, 0
    while True:
        buf = stream.read(chunk_bytes)
        if not buf:
            return None
        a = np.frombuffer(buf, np.uint8)
        last_break = buf.rfind(b"\n")
        if last_break < 0 or _deep_line_possible(a, limit, state.depth):
            at, lines = _exact_depths(a, limit, state)
            if at is not None:
                return line + lines, offset + at
        else:  # only the unfinished last line needs the exact scan, from a fresh state
            state = _LineState()
            tail = a[last_break + 1 :]
            lines = buf.count(b"\n", 0, last_break + 1)
            if tail.size:
                at, _ = _exact_depths(tail, limit, state)
                if at is not None:
                    return line + lines, offset + last_break + 1 + at
        line += lines
        offset += len(a)


# ---------------------------------------------------------------- locating bad records


def _lines(stream: Stream, decoder: codecs.IncrementalDecoder) -> Iterator[str]:
    """Decoded lines, each ending in a line feed, from at most ``DIAGNOSE_BYTES`` bytes."""
    pending = ""
    read = 0
    while read < DIAGNOSE_BYTES:
        chunk = stream.read(1 << 20)
        read += len(chunk)
        text = pending + decoder.decode(bytes(chunk), final=not chunk)
        parts = text.split("\n")
        pending = parts.pop()
        for part in parts:
            yield part + "\n"
        if not chunk:
            break
    if pending:
        yield pending


def find_bad_csv_record(
    stream: Stream, dialect: CsvDialect, fields: int | None = None
) -> BadRecord | None:
    """The first record without ``fields`` fields (default: the header's), or bad quoting."""
    codec = _PYTHON_CODEC[dialect.encoding]
    if dialect.encoding.startswith("UTF-16") and dialect.bom:
        codec = "utf-16"
    elif dialect.encoding == "UTF-8" and dialect.bom:
        codec = "utf-8-sig"
    decoder = codecs.getincrementaldecoder(codec)(errors="replace")
    reader = csv.reader(
        _lines(stream, decoder),
        delimiter=dialect.delimiter,
        quotechar=dialect.quote,
        doublequote=True,
    )
    start = 1
    try:
        for number, row in enumerate(reader):
            if number == 0:
                fields = len(row) if fields is None else fields
            elif row and len(row) != fields:
                return BadRecord(
                    start, None, f"the record has {len(row)} fields, the header has {fields}"
                )
            start = reader.line_num + 1
    except csv.Error as exc:
        # The csv module's messages name only the dialect's characters and limits, no value.
        return BadRecord(start, None, f"the record is not valid CSV ({str(exc)[:120]})")
    return None


def find_bad_json_line(stream: Stream) -> BadRecord | None:
    """The first line that is not a JSON object (blank lines are skipped, as Spark does)."""
    offset = 0
    pending = b""
    line = 0
    read = 0
    while read < DIAGNOSE_BYTES:
        chunk = bytes(stream.read(1 << 20))
        read += len(chunk)
        data = pending + chunk
        parts = data.split(b"\n")
        pending = parts.pop() if chunk else b""
        for part in parts:
            line += 1
            bad = _json_line_problem(part)
            if bad:
                return BadRecord(line, offset, bad)
            offset += len(part) + 1
        if not chunk:
            break
    return None


def _json_line_problem(raw: bytes) -> str | None:
    if not raw.strip():
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"the line is not UTF-8 (byte {exc.start} of the line)"
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        # ``msg`` is the parser's fixed wording ("Expecting ',' delimiter"), without the line.
        return f"not valid JSON ({exc.msg} at column {exc.colno})"
    except RecursionError:
        return f"nested deeper than {MAX_JSON_DEPTH} levels"
    if not isinstance(value, dict):
        return "the line is valid JSON but not an object"
    return None
