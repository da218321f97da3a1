"""Document labels: who may read a document (its readers) and its licence.

``readers`` name principals and groups as ``user:<name>`` and ``group:<name>``; the licence
lattice is SILO's, ordered from least to most restricted::

    public_domain < permissive < attribution < restricted

A label's **join** (the label of something derived from several documents, such as an
answer that cites them) is read by the principals every one of them may be read by, under
the most restricted of their licences.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["DEFAULT_LICENCE", "LICENCES", "licence_rank", "split_readers"]

LICENCES = ("public_domain", "permissive", "attribution", "restricted")
#: A document without a licence is internal content, governed by its readers alone.
DEFAULT_LICENCE = "permissive"


def licence_rank(licence: str) -> int:
    """The licence's place in the lattice (0 … 3); unknown licences rank above all."""
    return LICENCES.index(licence) if licence in LICENCES else len(LICENCES)


def split_readers(readers: Iterable[str]) -> tuple[frozenset[str], frozenset[str], list[str]]:
    """``user:``/``group:`` entries as (users, groups, malformed entries)."""
    users: set[str] = set()
    groups: set[str] = set()
    bad: list[str] = []
    for entry in readers:
        kind, sep, name = str(entry).strip().partition(":")
        name = name.strip()
        if sep and name and kind.strip() == "user":
            users.add(name)
        elif sep and name and kind.strip() == "group":
            groups.add(name)
        else:
            bad.append(str(entry))
    return frozenset(users), frozenset(groups), bad
