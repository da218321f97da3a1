"""Words from metadata: names split and expanded, descriptions tokenised, light stemming.

Column names go through the name normaliser dedup pairs columns with
(:func:`lakeward._naming.normalize_name`:
camelCase and separators split, its abbreviations expanded), then through the wider list of
warehouse abbreviations below. A token that is still not a word of the glossary is matched
as an *abbreviation* of glossary words (same first letter, its letters in order:
``mngng`` → ``managing``, ``orgnz`` → ``organization``), the choice going to the most
frequent such word.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable

from lakeward._naming import normalize_name

__all__ = [
    "ABBREVIATIONS",
    "STOPWORDS",
    "AbbreviationIndex",
    "name_words",
    "stem",
    "text_words",
]

#: Common warehouse abbreviations beyond the dedup normaliser's (token → words).
ABBREVIATIONS: dict[str, tuple[str, ...]] = {
    "adr": ("address",),
    "amnt": ("amount",),
    "app": ("application",),
    "attr": ("attribute",),
    "avg": ("average",),
    "bal": ("balance",),
    "bday": ("birth", "date"),
    "bdate": ("birth", "date"),
    "cat": ("category",),
    "cd": ("code",),
    "cntry": ("country",),
    "co": ("company",),
    "corp": ("corporation",),
    "ctry": ("country",),
    "cty": ("city",),
    "cur": ("currency",),
    "curr": ("currency",),
    "cc": ("credit", "card"),
    "dob": ("date", "of", "birth"),
    "dod": ("date", "of", "death"),
    "doc": ("document",),
    "dur": ("duration",),
    "eff": ("effective",),
    "email": ("email",),
    "exp": ("expiration",),
    "ext": ("extension",),
    "fname": ("first", "name"),
    "freq": ("frequency",),
    "gndr": ("gender",),
    "grp": ("group",),
    "hr": ("hour",),
    "hrs": ("hours",),
    "ind": ("indicator",),
    "info": ("information",),
    "init": ("initial",),
    "lang": ("language",),
    "lat": ("latitude",),
    "lname": ("last", "name"),
    "lng": ("longitude",),
    "lon": ("longitude",),
    "loc": ("location",),
    "max": ("maximum",),
    "mgr": ("manager",),
    "min": ("minimum",),
    "mob": ("mobile",),
    "msg": ("message",),
    "nm": ("name",),
    "org": ("organization",),
    "orig": ("original",),
    "pcode": ("postal", "code"),
    "ph": ("phone",),
    "phn": ("phone",),
    "pmt": ("payment",),
    "pos": ("position",),
    "prc": ("price",),
    "prev": ("previous",),
    "prod": ("product",),
    "pt": ("patient",),
    "pwd": ("password",),
    "qual": ("quality",),
    "rcpt": ("receipt",),
    "ref": ("reference",),
    "reg": ("registration",),
    "req": ("request",),
    "resp": ("response",),
    "rev": ("revenue",),
    "sal": ("salary",),
    "seq": ("sequence",),
    "sex": ("sex",),
    "src": ("source",),
    "ssn": ("social", "security", "number"),
    "st": ("state",),
    "stat": ("status",),
    "sts": ("status",),
    "std": ("standard",),
    "svc": ("service",),
    "tgt": ("target",),
    "tm": ("time",),
    "tot": ("total",),
    "typ": ("type",),
    "upd": ("updated",),
    "usr": ("user",),
    "val": ("value",),
    "ver": ("version",),
    "vol": ("volume",),
    "wt": ("weight",),
    "zip": ("zip", "postal", "code"),
}

#: Words that say nothing about what a column means.
STOPWORDS = frozenset(
    "a an and are as at be by for from has have in into is it its of on or that the their "
    "this to was which with within when where who whom whose will may can should must not "
    "if any all each other such than then there these those also only used use e g i "
    "etc".split()
)

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_TAG = re.compile(r"<[^>]+>")
_SUFFIXES = ("ations", "ation", "ments", "ment", "ings", "ing", "ies", "ers", "er", "ed", "es", "s")


def _fold(text: str) -> str:
    """Lower-case, accents removed (``Café`` → ``cafe``); other scripts kept as they are."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


@functools.lru_cache(maxsize=262_144)
def stem(word: str) -> str:
    """A light suffix-stripping stem (``organizations`` → ``organiz``); short words kept."""
    if len(word) <= 4 or not word.isascii():
        return word
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


@functools.lru_cache(maxsize=262_144)
def name_words(name: str) -> tuple[str, ...]:
    """The words of a column or table name, abbreviations expanded, lower case.

    ``custDOB`` → ``customer date of birth``; ``_c0`` → ``()`` (a positional name says
    nothing); non-Latin names keep their words.
    """
    if re.fullmatch(r"_?c\d+|col(umn)?_?\d+", name.strip(), re.IGNORECASE):
        return ()
    normalised = normalize_name(name)
    words: list[str] = []
    for token in _WORD.findall(_fold(normalised)):
        if token.isdigit() or token in STOPWORDS:  # ``music_by``: "by" says nothing
            continue
        words.extend(ABBREVIATIONS.get(token, (token,)))
    return tuple(words)


def text_words(text: str) -> tuple[str, ...]:
    """The content words of a description (HTML tags dropped, stopwords removed)."""
    if not text:
        return ()
    words = [w for w in _WORD.findall(_fold(_TAG.sub(" ", text))) if not w.isdigit()]
    out: list[str] = []
    for word in words:
        # camelCase inside a description (``birthDate``) is split like a name
        parts = name_words(word) if any(c.isupper() for c in word[1:]) else (word,)
        out.extend(p for p in parts if p not in STOPWORDS)
    return tuple(out)


def _is_abbreviation(token: str, word: str) -> bool:
    """``token`` is ``word`` with letters left out (same first letter, rest in order)."""
    if len(token) < 2 or len(token) >= len(word) or token[0] != word[0]:
        return False
    it = iter(word[1:])
    return all(c in it for c in token[1:])


class AbbreviationIndex:
    """Expands tokens that are not glossary words into the glossary words they abbreviate."""

    def __init__(self, vocabulary: Iterable[str]) -> None:
        counts = Counter(w for w in vocabulary if w.isalpha() and len(w) > 2)
        self._counts = counts
        self._by_letter: dict[str, list[str]] = {}
        for word in counts:
            self._by_letter.setdefault(word[0], []).append(word)
        self._memo: dict[str, str | None] = {}

    def __contains__(self, word: str) -> bool:
        return word in self._counts

    def expand(self, token: str) -> str | None:
        """The glossary word ``token`` most likely abbreviates, or ``None``."""
        if token in self._counts or len(token) < 2 or not token.isalpha():
            return None
        if token in self._memo:
            return self._memo[token]
        best: tuple[float, str] | None = None
        for word in self._by_letter.get(token[0], ()):
            if _is_abbreviation(token, word):
                # prefixes (``desc`` → description), short words that keep most of their
                # letters (``arprt`` → airport, not appropriate), then frequent words
                score = (
                    1.5 * word.startswith(token)
                    + 2.0 * len(token) / len(word)
                    + 0.25 * math.log1p(self._counts[word])
                )
                if best is None or (score, word) > best:
                    best = (score, word)
        found = None if best is None else best[1]
        self._memo[token] = found
        return found

    def words(self, words: Iterable[str]) -> tuple[str, ...]:
        """``words`` with each non-glossary word replaced by what it abbreviates (if found)."""
        out = []
        for word in words:
            expanded = self.expand(word)
            out.append(expanded if expanded is not None else word)
        return tuple(out)
