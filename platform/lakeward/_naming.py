"""Column-name normalisation shared by the capabilities that compare names.

Dedup pairs columns by their normalised names; glossary matching starts from the same words.
It lives outside both so capabilities do not import each other.
"""

from __future__ import annotations

import functools
import re

__all__ = ["ABBREVIATIONS", "normalize_name"]

# Abbreviations expanded during name normalisation (token → tokens).
ABBREVIATIONS: dict[str, tuple[str, ...]] = {
    "acct": ("account",),
    "addr": ("address",),
    "amt": ("amount",),
    "cnt": ("count",),
    "cust": ("customer",),
    "dept": ("department",),
    "desc": ("description",),
    "dob": ("date", "of", "birth"),
    "dt": ("date",),
    "emp": ("employee",),
    "nbr": ("number",),
    "no": ("number",),
    "num": ("number",),
    "pct": ("percent",),
    "qty": ("quantity",),
    "tel": ("phone",),
    "ts": ("timestamp",),
    "txn": ("transaction",),
    "yr": ("year",),
}

_CAMEL_1 = re.compile(r"([a-z0-9])([A-Z])")
_CAMEL_2 = re.compile(r"([A-Z]+)([A-Z][a-z])")
_SPLIT = re.compile(r"[^A-Za-z0-9]+")


@functools.lru_cache(maxsize=65536)
def normalize_name(name: str) -> str:
    """The normalised form of a column name (``"Street Addr"`` → ``"street_address"``)."""
    spaced = _CAMEL_2.sub(r"\1 \2", _CAMEL_1.sub(r"\1 \2", name))
    tokens: list[str] = []
    for part in _SPLIT.split(spaced):
        if part:
            tokens.extend(ABBREVIATIONS.get(part.lower(), (part.lower(),)))
    return "_".join(tokens) or name.strip().lower()
