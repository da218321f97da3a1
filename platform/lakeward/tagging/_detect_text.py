"""Pattern recognizers for personal data inside free text (in the spirit of Presidio's).

Presidio's pattern recognizers pair a loose regex with a validator; we do the same offline and
without spaCy: each candidate that a regex finds is confirmed by the strict validator of its
type from ``_validators`` before it counts (Luhn + IIN for cards, mod 97 for IBANs,
``phonenumbers`` for phones, SSN area rules, NINO prefixes, :mod:`ipaddress`). Names and street
addresses inside prose need a language model and are not recognised here.

A value is scanned only up to :data:`~lakeward.tagging._validators.MAX_VALUE_CHARS`, and at
most :data:`MAX_CANDIDATES` candidates of each kind are validated per value.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from lakeward.tagging import _validators as v

MAX_CANDIDATES = 20
"""Candidates of each kind validated per value (a log dump of numbers stays cheap)."""

MIN_TEXT_CHARS = 30
"""A value shorter than this is not prose."""

_EMAIL = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]{1,64}@[^\W_][\w-]*(?:\.[\w-]+)+")
# One linear pass finds every run of digits and separators; each run is then classified in
# Python (phone, card, SSN, IPv4). Separate lookbehind-heavy regexes per kind cost ~6x more.
_NUMERIC_RUN = re.compile(r"[+(]?\d[\d \-().\/]*\d\)?")
_PHONE_RUN = re.compile(
    r"(?:\+|00)?(?:\d{1,4}[ .-]?)?(?:\(\d{1,5}\)[ .-]?)?\d{1,5}(?:[ .-]\d{1,5}){1,6}"
    r"|\+\d{7,15}"
)
_DATE_INSIDE = re.compile(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}")
_CARD_RUN = re.compile(r"\d{13,19}|\d{4}(?:[ -]\d{4}){2,3}(?:[ -]\d{1,3})?|\d{4}[ -]\d{6}[ -]\d{5}")
_CARD_CONTEXT = re.compile(
    r"card|visa|master|amex|american express|discover|credit|debit|\bcc\b|\bpan\b"
    r"|karte|carte|tarjeta",
    re.IGNORECASE,
)
_SSN = re.compile(r"\d{3}-\d{2}-\d{4}")
_IPV4 = re.compile(r"(?:\d{1,3}\.){3}\d{1,3}")
_IBAN_HINT = re.compile(r"[A-Z]{2} ?\d{2}")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]){11,30}\b")
_NINO = re.compile(r"\b[A-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b")

KINDS = ("email", "phone", "card", "iban", "national id", "ip address")
"""What the recognizers find, in the order evidence names them."""


_WORD = re.compile(r"[^\W\d_]{2,}")


def is_prose(text: str) -> bool:
    """Whether a value is free text: :data:`MIN_TEXT_CHARS` or more, three spaces, four words.

    Words have two letters or more, so a grouped IBAN or card number is not prose.
    """
    if len(text) < MIN_TEXT_CHARS or text.count(" ") < 3:
        return False
    words = _WORD.finditer(text, 0, 2_000)
    return sum(1 for _, _ in zip(range(4), words, strict=False)) >= 4


def _first(pattern: re.Pattern[str], text: str, check: Callable[[str], object]) -> bool:
    for i, match in enumerate(pattern.finditer(text)):
        if i >= MAX_CANDIDATES:
            return False
        if check(match.group().strip(" .-/()")):
            return True
    return False


def find_kinds(text: str, phones: v.PhoneChecker) -> list[str]:
    """Which :data:`KINDS` of personal data occur in ``text`` (validated, not just matched)."""
    text = text[: v.MAX_VALUE_CHARS]
    found: set[str] = set()
    if "@" in text and _first(_EMAIL, text, v.email):
        found.add("email")
    for i, match in enumerate(_NUMERIC_RUN.finditer(text)):
        if i >= 4 * MAX_CANDIDATES:
            break
        kind = _numeric_kind(text, match, phones)
        if kind is not None:
            found.add(kind)
    if _IBAN_HINT.search(text):
        if _first(_IBAN, text, v.iban):
            found.add("iban")
        if _first(_NINO, text, v.uk_nino):
            found.add("national id")
    return [kind for kind in KINDS if kind in found]


def _numeric_kind(text: str, match: re.Match[str], phones: v.PhoneChecker) -> str | None:
    run = match.group().strip(" .-/")
    start, end = match.span()
    before = text[start - 1] if start else " "
    after = text[end] if end < len(text) else " "
    if before.isalnum() or before in "/_" or after.isalnum() or after == "_":
        return None  # part of a word, a path or a version (Chrome/124.0.0.0, v1.2.3.4)
    if _IPV4.fullmatch(run):
        last_octet = run.rsplit(".", 1)[1]
        return "ip address" if last_octet != "0" and v.ip_version(run) else None
    if _SSN.fullmatch(run):
        return "national id" if v.us_ssn(run, allow_bare=False) else None
    if _CARD_RUN.fullmatch(run) and v.card(run):
        # ungrouped 13-19 digit runs are tracking and order numbers as often as cards (a tenth
        # pass Luhn, many start with a card prefix): they need a card word just before them
        if not run.isdigit() or _CARD_CONTEXT.search(text, max(0, start - 40), start):
            return "card"
    digits = sum(ch.isdigit() for ch in run)
    if (
        8 <= digits <= 15
        and _PHONE_RUN.fullmatch(run)
        and not _DATE_INSIDE.search(run)
        and phones.region(run) is not None
    ):
        return "phone"
    return None
