"""Reading an import file whole before anything is written: its text and its records.

Shared by the importers (``lakeward catalog import-schema``, ``lakeward glossary import``):
the file is read as UTF-8 with a clear error for each way it can fail, its records are
checked, and every problem is reported at once (:class:`Problems`), naming its line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lakeward.errors import InputError

__all__ = ["MAX_PROBLEMS", "Problems", "jsonl_records", "read_text"]

#: Problems listed in one error at most (the rest are counted).
MAX_PROBLEMS = 20


class Problems:
    """Everything wrong with a file, raised together as one :class:`InputError`."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.items: list[str] = []

    def add(self, where: str, message: str) -> None:
        """Record a problem at ``where`` (``line 3``, ``the file``)."""
        self.items.append(f"{where}: {message}")

    def raise_if_any(self) -> None:
        """Raise the problems found so far, if any; nothing was imported."""
        if not self.items:
            return
        shown = self.items[:MAX_PROBLEMS]
        more = len(self.items) - len(shown)
        raise InputError(
            f"{self.source}: {len(self.items)} problem(s); nothing was imported.\n  "
            + "\n  ".join(shown)
            + (f"\n  … and {more} more" if more else "")
        )


def read_text(path: Path, what: str) -> str:
    """The UTF-8 text of ``path`` (a BOM is dropped); ``what`` names the file expected.

    Raises:
        InputError: missing, a directory, unreadable, or not UTF-8.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file.") from None
    except IsADirectoryError:
        raise InputError(f"{path} is a directory; give {what}.") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror}).") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path.name}: not UTF-8 text (byte {exc.start}); save the file as UTF-8."
        ) from None


def jsonl_records(text: str, problems: Problems, what: str) -> list[tuple[str, Any]]:
    """``(where, record)`` per non-blank line; a bad line is a problem naming ``what``."""
    records: list[tuple[str, Any]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append((f"line {number}", json.loads(line)))
        except json.JSONDecodeError as exc:
            problems.add(
                f"line {number}", f"not valid JSON ({exc.msg}); each line is one {what} object"
            )
    return records
