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

from lakeward.tagging import _validators as v

MAX_CANDIDATES = 20
"""Candidates of each kind validated per value (a log dump of numbers stays cheap)."""

MIN_TEXT_CHARS = 30
"""A value shorter than this, or with fewer than three spaces, is not prose."""

_EMAIL = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]{1,64}@[^\W_][\w-]*(?:\.[\w-]+)+")
_PHONE = re.compile(r"(?<![\w+.])(?:\+|00)?\(?\d[\d\s().\-/]{5,22}\d(?![\w.]\d)(?!\w)")
_CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]){11,30}\b")
_SSN = re.compile(r"(?<![\d-])\d{3}-\d{2}-\d{4}(?![\d-])")
_NINO = re.compile(r"\b[A-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b")
# not after "/" or "v" (Chrome/124.0.0.0, v1.2.3.4) and not a network address (last octet 0)
_IPV4 = re.compile(r"(?<![\w./])(?:\d{1,3}\.){3}(?!0(?!\d))\d{1,3}(?![\w.]|\.\d)")

KINDS = ("email", "phone", "card", "iban", "national id", "ip address")
"""What the recognizers find, in the order evidence names them."""


def is_prose(text: str) -> bool:
    """Whether a value is free text: at least :data:`MIN_TEXT_CHARS` and three spaces."""
    return len(text) >= MIN_TEXT_CHARS and text.count(" ") >= 3


def _first(pattern: re.Pattern[str], text: str, check: object) -> bool:
    for i, match in enumerate(pattern.finditer(text)):
        if i >= MAX_CANDIDATES:
            return False
        if check(match.group().strip(" .-/()")):  # type: ignore[operator]
            return True
    return False


def find_kinds(text: str, phones: v.PhoneChecker) -> list[str]:
    """Which :data:`KINDS` of personal data occur in ``text`` (validated, not just matched)."""
    text = text[: v.MAX_VALUE_CHARS]
    found: list[str] = []
    if "@" in text and _first(_EMAIL, text, v.email):
        found.append("email")
    if _first(_PHONE, text, _formatted_phone(phones)):
        found.append("phone")
    if _first(_CARD, text, v.card):
        found.append("card")
    if _first(_IBAN, text, v.iban):
        found.append("iban")
    if _first(_SSN, text, lambda s: v.us_ssn(s, allow_bare=False)) or _first(
        _NINO, text, v.uk_nino
    ):
        found.append("national id")
    if "." in text and _first(_IPV4, text, v.ip_version):
        found.append("ip address")
    return found


def _formatted_phone(phones: v.PhoneChecker) -> object:
    def check(candidate: str) -> bool:
        digits = sum(ch.isdigit() for ch in candidate)
        if digits < 8 or _SSN.fullmatch(candidate) or _CARD.fullmatch(candidate):
            return False
        return phones.region(candidate) is not None

    return check
