"""Column detectors: what a column's name and its sampled values say about its semantic type.

Three functions, pure Python, no Spark, no I/O, nothing downloaded (``phonenumbers`` and
``faker``'s name lists are installed packages):

- :func:`name_evidence` reads the column name, the dataset name and the declared Spark type
  (``_detect_names``). Names alone never exceed :data:`NAME_CAP`.
- :func:`value_evidence` runs per-value validators (``_validators``, ``_detect_lexicon``,
  ``_detect_text``) over one column's sampled non-null values and turns the pass count into a
  confidence: the lower bound of the Wilson 95% interval on the pass fraction, mapped through
  a per-type ramp (:data:`VALUE_GATES`): below ``lo`` the values say nothing, at ``hi`` and
  above they say ``cap``. ``lo`` sits well above the rate at which non-members pass by chance
  (10% of random digit strings pass Luhn), so a numeric id column is not a card column; few
  samples give a wide interval and so a low confidence.
- :func:`combine` merges one column's evidence into one confidence per type.

Evidence texts hold counts, fractions, check names, regions and the column's own words — never
a sampled value.

**What needs the name.** Some checks are too weak alone and only count, or only count fully,
when the column's words suggest the type: bare 9-digit SSNs and bare digit phone numbers (ids
pass them; unless 30% of the column's values are written phone numbers, which vouch for its
bare ones), digit-only postal codes (any small number), floats in coordinate range (totals and
rates), dates 10-120 years old (capped at 0.55 without a name: old order dates look the same).

**Cost.** Values are cut at 64 KiB; a validator stops after 64 values when fewer than a quarter
pass (not for a type the name suggests); ``phonenumbers`` sees at most 250 values; free text is
scanned up to 2 MB per column. About 1-20 ms per 1,000-value column; the first call in a
process also loads Faker's name lists (~0.2 s) and ``phonenumbers`` metadata.

**Dependencies.** ``phonenumbers`` (validity per region) and ``faker`` (its per-locale first
and last name lists, read in place as the person-name lexicon; see ``_detect_lexicon``). Both
are ordinary installed packages: nothing is downloaded at run time.

**Combination rule.** Per type, ``N`` is the best name confidence (at most :data:`NAME_CAP`)
and ``V`` the best value confidence. With value evidence the result is ``V + (1 − V)·N·V``:
values decide, and a supporting name closes part of the remaining gap in proportion to how
much the values agree; ``V = 0`` (the name says email, no value is one) gives 0. Without value
evidence (nothing sampled) the result is ``N``. Evidence from other sources (``glossary``,
``manual``) counts like a name, without the cap. :func:`value_evidence` records a
confidence-0 item for every type the column name suggests that the values do not support, so
pass ``column=`` to it.

Example:
    >>> ev = name_evidence("customer_email", "sales.customers", "string")
    >>> ev += value_evidence(["ann@example.com", "bo@example.org"] * 50, "string",
    ...                      column="customer_email")
    >>> round(combine(ev)["type.email"][0], 2)
    0.99
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

from lakeward.tagging import _detect_lexicon as lex
from lakeward.tagging import _detect_names as nm
from lakeward.tagging import _detect_text as txt
from lakeward.tagging import _validators as v

__all__ = [
    "NAME_CAP",
    "TYPES",
    "VALUE_GATES",
    "Evidence",
    "combine",
    "name_evidence",
    "value_evidence",
]

TYPES: tuple[str, ...] = (
    "type.email",
    "type.phone",
    "type.person_name",
    "type.address",
    "type.postal_code",
    "type.date_of_birth",
    "type.credit_card",
    "type.national_id",
    "type.iban",
    "type.ip_address",
    "type.geo",
    "type.free_text_pii",
)
"""Semantic types the detectors know (the ``type.*`` part of the tag vocabulary)."""

NAME_CAP = 0.5
"""The most a column's name alone can say about any type: "suggested, low confidence"."""

_NULL_TOKENS = frozenset({"null", "none", "nan", "n/a", "na", "-", "--", "?", "unknown", "nil"})
_DOB_MAX_AGE_YEARS = 120
_DOB_MIN_AGE_YEARS = 10
_EARLY_EXIT_AFTER = 64
_EARLY_EXIT_RATE = 0.25
_PHONE_CHECK_LIMIT = 250  # phonenumbers costs ~60 µs a value; 250 give a Wilson bound of 0.985
_PHONE_MIXED_ANCHOR = 0.3  # written phones that let a column's bare digit strings count
_FREE_TEXT_BUDGET_CHARS = 2_000_000  # free text scanned per column, at most


@dataclass(frozen=True)
class Evidence:
    """One detector's finding about one column.

    Attributes:
        type: One of :data:`TYPES`.
        source: ``"name"`` or ``"values"``.
        confidence: In ``[0, 1]``.
        text: Human evidence (counts, checks, words of the column name); never a value.
    """

    type: str
    source: str
    confidence: float
    text: str

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "type": self.type,
            "source": self.source,
            "confidence": self.confidence,
            "text": self.text,
        }


class Gate(NamedTuple):
    """How a pass fraction becomes a confidence: ``cap · clamp((lb − lo) / (hi − lo))``."""

    lo: float
    hi: float
    cap: float


VALUE_GATES: dict[str, Gate] = {
    "type.email": Gate(0.5, 0.9, 0.99),
    "type.phone": Gate(0.6, 0.92, 0.97),
    "type.person_name": Gate(0.5, 0.85, 0.95),
    "type.address": Gate(0.5, 0.85, 0.95),
    "type.postal_code": Gate(0.6, 0.95, 0.95),
    "type.date_of_birth": Gate(0.6, 0.95, 0.97),
    "type.credit_card": Gate(0.6, 0.95, 0.99),
    "type.national_id": Gate(0.6, 0.95, 0.98),
    "type.iban": Gate(0.5, 0.9, 0.99),
    "type.ip_address": Gate(0.5, 0.9, 0.99),
    "type.geo": Gate(0.6, 0.95, 0.95),
}
"""Per-type ramp from the Wilson lower bound of the pass fraction to a value confidence."""

_WEAK_ALONE_CAP = 0.55
"""Cap for value evidence that is ambiguous without a supporting name (dates of birth, postal
codes in letter-digit formats)."""


def wilson_lower_bound(passes: int, n: int, z: float = 1.96) -> float:
    """Lower bound of the Wilson score interval (95% by default) on ``passes / n``."""
    if n <= 0:
        return 0.0
    p = passes / n
    denominator = 1 + z * z / n
    centre = p + z * z / (2 * n)
    margin = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, (centre - margin) / denominator)


def _ramp(passes: int, n: int, gate: Gate) -> float:
    lb = wilson_lower_bound(passes, n)
    return gate.cap * min(1.0, max(0.0, (lb - gate.lo) / (gate.hi - gate.lo)))


def _fmt(count: int) -> str:
    return f"{count:,}"


def _labels(counter: Counter[str], limit: int = 3) -> str:
    if not counter:
        return ""
    names = [label for label, _ in counter.most_common(limit)]
    more = ", …" if len(counter) > limit else ""
    return f" ({', '.join(names)}{more})"


# --------------------------------------------------------------------------------------------
# Names
# --------------------------------------------------------------------------------------------

_TYPE_WORDS = {
    "type.email": "an email address",
    "type.phone": "a phone number",
    "type.person_name": "a person's name",
    "type.address": "a street address",
    "type.postal_code": "a postal code",
    "type.date_of_birth": "a date of birth",
    "type.credit_card": "a payment card number",
    "type.national_id": "a national id number",
    "type.iban": "a bank account number (IBAN)",
    "type.ip_address": "an IP address",
    "type.geo": "geographic coordinates",
    "type.free_text_pii": "free text that may contain personal data",
}


def name_evidence(column: str, dataset: str, declared_type: str) -> list[Evidence]:
    """What a column's name, its dataset's name and its declared type suggest.

    Args:
        column: Column name (a flattened struct leaf may be dotted: ``contact.email``).
        dataset: Dataset name; its words give context (``name`` in ``customers``).
        declared_type: Spark ``simpleString`` of the column (``string``, ``bigint``, ...).

    Returns:
        One :class:`Evidence` (source ``"name"``, confidence ≤ :data:`NAME_CAP`) per
        suggested type; empty when the words say nothing or the declared type rules it out.

    Example:
        >>> [e.type for e in name_evidence("email_verified", "users", "int")]
        []
    """
    kind, _ = nm.declared_kind(declared_type)
    out: list[Evidence] = []
    for hint in nm.name_hints(column, dataset, kind):
        words = " ".join(hint.words)
        context = f" {hint.context}" if hint.context else ""
        text = (
            f'column name words "{words}"{context} suggest {_TYPE_WORDS[hint.type]} '
            f"(declared {declared_type.strip() or 'unknown'}; a name alone is only a suggestion)"
        )
        out.append(Evidence(hint.type, "name", min(hint.strength, NAME_CAP), text))
    return out


# --------------------------------------------------------------------------------------------
# Values: the sample
# --------------------------------------------------------------------------------------------


@dataclass
class _Sample:
    kind: str
    strings: list[str] = field(default_factory=list)  # str values and integral numbers as text
    texts_only: list[str] = field(default_factory=list)  # values that were str
    numbers: list[float | Decimal] = field(default_factory=list)  # non-integral numbers
    integers: list[int] = field(default_factory=list)
    dates: list[object] = field(default_factory=list)  # date, datetime or date-like str
    pairs: list[Sequence[object]] = field(default_factory=list)
    count: int = 0


def _prepare(values: Sequence[object], kind: str, is_array: bool) -> _Sample:
    sample = _Sample(kind)
    for value in _flatten(values, is_array, sample):
        if value is None or isinstance(value, bool | bytes | bytearray | memoryview | dict):
            continue
        if isinstance(value, str):
            text = value[: v.MAX_VALUE_CHARS].strip()
            if not text or text.lower() in _NULL_TOKENS:
                continue
            sample.strings.append(text)
            sample.texts_only.append(text)
            sample.dates.append(text)
        elif isinstance(value, int):
            sample.integers.append(value)
            sample.strings.append(str(value))
        elif isinstance(value, float | Decimal):
            number = v.to_decimal(value) if isinstance(value, float) else value
            if number is None or not number.is_finite():
                continue
            if number == number.to_integral_value() and abs(number) < 10**20:
                sample.strings.append(str(int(number)))
                if isinstance(value, Decimal):
                    sample.integers.append(int(number))
                    sample.count += 1
                    continue
            sample.numbers.append(value)
        elif isinstance(value, dt.date):
            sample.dates.append(value)
        else:
            continue
        sample.count += 1
    return sample


def _flatten(values: Sequence[object], is_array: bool, sample: _Sample) -> Iterable[object]:
    for value in values:
        if isinstance(value, list | tuple):
            if not is_array:
                continue
            if len(value) == 2 and all(isinstance(x, float | Decimal) for x in value):
                sample.pairs.append(value)
                continue
            yield from value
        else:
            yield value


class _Tally(NamedTuple):
    passes: int
    checked: int
    labels: Counter[str]
    total: int  # values there were to check; more than ``checked`` after an early stop


def _tally(
    items: Sequence[object],
    check: Callable[[object], str | None],
    *,
    limit: int | None = None,
    early_exit: bool = True,
) -> _Tally:
    """Count items that pass ``check``; stop early when the pass rate is hopeless."""
    labels: Counter[str] = Counter()
    passes = checked = 0
    todo = items if limit is None else items[:limit]
    for item in todo:
        checked += 1
        label = check(item)
        if label is not None:
            passes += 1
            labels[label] += 1
        if (
            early_exit
            and checked == _EARLY_EXIT_AFTER
            and passes < _EARLY_EXIT_RATE * _EARLY_EXIT_AFTER
        ):
            break
    return _Tally(passes, checked, labels, len(todo))


class _Finding(NamedTuple):
    type: str
    confidence: float
    text: str


def _simple(
    type_: str,
    tally: _Tally,
    what: str,
    *,
    cap: float | None = None,
    note: str = "",
) -> _Finding:
    gate = VALUE_GATES[type_]
    if cap is not None:
        gate = gate._replace(cap=min(gate.cap, cap))
    confidence = _ramp(tally.passes, tally.checked, gate)
    if tally.checked < tally.total:
        seen = f"the first {_fmt(tally.checked)} of {_fmt(tally.total)}"
    else:
        seen = _fmt(tally.checked)
    text = f"{_fmt(tally.passes)} of {seen} sampled values {what}"
    return _Finding(type_, confidence, text + _labels(tally.labels) + note)


# --------------------------------------------------------------------------------------------
# Values: one detector per type
# --------------------------------------------------------------------------------------------


def _as_label(ok: bool, label: str) -> str | None:
    return label if ok else None


def _email(s: _Sample, hints: set[str]) -> _Finding | None:
    if s.kind != nm.STRING or not s.texts_only:
        return None
    tally = _tally(
        s.texts_only,
        lambda x: _as_label(v.email(str(x)), ""),
        early_exit="type.email" not in hints,
    )
    return _simple("type.email", tally._replace(labels=Counter()), "are valid email addresses")


def _phone(s: _Sample, hints: set[str]) -> _Finding | None:
    if s.kind != nm.STRING or not s.texts_only:
        return None
    hinted = "type.phone" in hints
    seen: dict[str, str | None] = {}

    def run(checker: v.PhoneChecker) -> _Tally:
        def check(x: object) -> str | None:
            text = str(x)
            if text in seen and not (checker.allow_bare and text.isdigit()):
                return seen[text]  # only bare digit strings change with allow_bare
            if v.national_id(text, allow_bare_ssn=False) is not None:
                found = None  # a formatted id with its check digit ("123 456 782") is no phone
            else:
                found = checker.region(text)
            seen[text] = found
            return found

        return _tally(
            s.texts_only, check, limit=_PHONE_CHECK_LIMIT, early_exit=not checker.allow_bare
        )

    tally = run(v.PhoneChecker(allow_bare=hinted))
    note = "" if hinted else "; bare digit strings are not counted without a name"
    if not hinted and tally.passes >= _PHONE_MIXED_ANCHOR * tally.checked and tally.passes:
        # the column's written phones ("+91 …", "(0 30) …") vouch for its bare digit strings
        mixed = run(v.PhoneChecker(allow_bare=True))
        if mixed.passes > tally.passes:
            tally = mixed
            note = "; bare digit strings counted beside the written phone numbers"
    return _simple(
        "type.phone", tally, "are valid (or, written as phones, possible) phone numbers", note=note
    )


def _person_name(s: _Sample, hints: set[str]) -> _Finding | None:
    if s.kind != nm.STRING or not s.texts_only:
        return None
    tally = _tally(
        s.texts_only,
        lambda x: _as_label(lex.person_name_loose(str(x)), ""),
        early_exit="type.person_name" not in hints,
    )
    finding = _simple(
        "type.person_name",
        tally._replace(labels=Counter()),
        "read as person names (known first or last names, or name-shaped words beside one)",
    )
    distinct = len(set(s.texts_only))
    if distinct < min(20, tally.checked / 2):
        return finding._replace(
            confidence=finding.confidence * 0.3,
            text=finding.text + f"; only {_fmt(distinct)} distinct values, like a category",
        )
    return finding


def _address(s: _Sample, hints: set[str]) -> _Finding | None:
    if s.kind != nm.STRING or not s.texts_only:
        return None
    tally = _tally(
        s.texts_only,
        lambda x: _as_label(lex.street_address(str(x)), ""),
        early_exit="type.address" not in hints,
    )
    return _simple(
        "type.address",
        tally._replace(labels=Counter()),
        "are street addresses (house number and street-type word)",
    )


def _postal(s: _Sample, hints: set[str]) -> _Finding | None:
    items: list[str] = s.texts_only if s.kind == nm.STRING else s.strings
    if s.kind not in (nm.STRING, nm.INTEGER) or not items:
        return None
    hinted = "type.postal_code" in hints
    specific = Counter[str]()

    def check(x: object) -> str | None:
        found = v.postal_code(str(x))
        if found is None:
            return None
        if found[1]:
            specific[found[0]] += 1
        return found[0]

    tally = _tally(items, check, early_exit=not hinted)
    if not hinted and specific.total() * 2 < tally.passes:
        return None  # digit-only codes are any small number: they need the column name
    cap = 1.0 if hinted else _WEAK_ALONE_CAP
    note = "" if hinted else "; a postal format alone is weak evidence"
    return _simple(
        "type.postal_code", tally, "match a country's postal-code format", cap=cap, note=note
    )


def _date_of_birth(s: _Sample, hints: set[str]) -> _Finding | None:
    hinted = "type.date_of_birth" in hints
    today = dt.date.today()
    oldest = today.replace(year=today.year - _DOB_MAX_AGE_YEARS, day=min(today.day, 28))
    youngest = today.replace(year=today.year - _DOB_MIN_AGE_YEARS, day=min(today.day, 28))
    if s.kind == nm.INTEGER:
        if not hinted or not s.integers:
            return None
        tally = _tally(
            s.integers,
            lambda x: _as_label(oldest.year <= int(x) <= youngest.year, ""),  # type: ignore[call-overload]
        )
        return _simple(
            "type.date_of_birth",
            tally,
            f"are plausible birth years ({_DOB_MIN_AGE_YEARS}-{_DOB_MAX_AGE_YEARS} years ago)",
        )
    if s.kind not in (nm.STRING, nm.DATE, nm.TIMESTAMP) or not s.dates:
        return None
    years: list[int] = []
    days: set[dt.date] = set()

    def check(x: object) -> str | None:
        day = v.as_date(x)
        if day is None or not oldest <= day <= youngest:
            return None
        years.append(day.year)
        days.add(day)
        return ""

    tally = _tally(s.dates, check, early_exit=not hinted)
    if tally.passes == 0 and not hinted:
        return None
    finding = _simple(
        "type.date_of_birth",
        tally._replace(labels=Counter()),
        f"are dates {_DOB_MIN_AGE_YEARS} to {_DOB_MAX_AGE_YEARS} years ago",
        cap=1.0 if hinted else _WEAK_ALONE_CAP,
    )
    years.sort()
    spread = years[(3 * len(years)) // 4] - years[len(years) // 4] if years else 0
    enough_days = len(days) >= min(10, max(2, tally.passes // 2))
    if spread < 5 or not enough_days:
        return finding._replace(
            confidence=finding.confidence * 0.2,
            text=finding.text
            + f"; but their middle half spans {spread} years over {_fmt(len(days))} distinct days",
        )
    return finding._replace(
        text=finding.text
        + f"; their middle half spans {spread} years"
        + ("" if hinted else "; dates alone are weak evidence of birth dates")
    )


def _credit_card(s: _Sample, hints: set[str]) -> _Finding | None:
    if s.kind not in (nm.STRING, nm.INTEGER, nm.DECIMAL) or not s.strings:
        return None
    tally = _tally(s.strings, lambda x: v.card(str(x)), early_exit="type.credit_card" not in hints)
    return _simple("type.credit_card", tally, "pass Luhn and a card network's IIN and length")


def _national_id(s: _Sample, hints: set[str]) -> _Finding | None:
    if s.kind not in (nm.STRING, nm.INTEGER, nm.DECIMAL) or not s.strings:
        return None
    hinted = "type.national_id" in hints
    pad = s.kind != nm.STRING and hinted

    def check(x: object) -> str | None:
        text = str(x)
        if pad and text.isdigit() and 7 <= len(text) < 9:
            text = text.zfill(9)  # an SSN stored as a number lost its leading zeros
        return v.national_id(text, allow_bare_ssn=hinted)

    tally = _tally(s.strings, check, early_exit=not hinted)
    note = "" if hinted else "; bare 9-digit SSNs are not counted without a name"
    return _simple("type.national_id", tally, "pass a national-id format and check rule", note=note)


def _iban(s: _Sample, hints: set[str]) -> _Finding | None:
    if s.kind != nm.STRING or not s.texts_only:
        return None
    tally = _tally(s.texts_only, lambda x: v.iban(str(x)), early_exit="type.iban" not in hints)
    return _simple("type.iban", tally, "are IBANs (country length and mod 97 check)")


def _ip(s: _Sample, hints: set[str]) -> _Finding | None:
    if s.kind != nm.STRING or not s.texts_only:
        return None
    tally = _tally(
        s.texts_only, lambda x: v.ip_version(str(x)), early_exit="type.ip_address" not in hints
    )
    return _simple("type.ip_address", tally, "are IP addresses")


def _geo(s: _Sample, hints: set[str]) -> _Finding | None:
    hinted = "type.geo" in hints
    if s.pairs:
        tally = _tally(s.pairs, lambda x: _as_label(v.coordinate_list(x), ""))  # type: ignore[arg-type]
        return _simple(
            "type.geo", tally._replace(labels=Counter()), "are coordinate pairs in range"
        )
    if s.kind == nm.STRING and s.texts_only:
        tally = _tally(
            s.texts_only,
            lambda x: _as_label(v.coordinate_pair(str(x)), ""),
            early_exit=not hinted,
        )
        if tally.passes or hinted:
            return _simple(
                "type.geo",
                tally._replace(labels=Counter()),
                "are latitude/longitude pairs in range with decimals",
            )
        return None
    if s.kind not in (nm.FLOAT, nm.DECIMAL) or not hinted:
        return None  # a lone float in range is anything (a total, a rate): needs the name
    numbers = s.numbers
    if not numbers:
        return _Finding("type.geo", 0.0, "no sampled value has decimals")
    in_unit = all(0 <= float(x) <= 1 for x in numbers)
    tally = _tally(
        numbers,
        lambda x: _as_label(abs(float(x)) <= 180 and v.decimals(x) >= 3, ""),  # type: ignore[arg-type]
    )
    finding = _simple(
        "type.geo",
        tally._replace(labels=Counter()),
        "are in coordinate range with at least 3 decimals",
        cap=0.9,
    )
    distinct = len(set(numbers))
    if in_unit or distinct < min(10, tally.checked / 2):
        return finding._replace(
            confidence=finding.confidence * 0.2,
            text=finding.text + "; but the values look like a ratio or a category",
        )
    return finding


def _free_text(s: _Sample, hints: set[str]) -> _Finding | None:
    if s.kind != nm.STRING or not s.texts_only:
        return None
    prose = [x for x in s.texts_only if txt.is_prose(x)]
    if len(prose) < max(3, 0.3 * len(s.texts_only)):
        if "type.free_text_pii" not in hints:
            return None
        return _Finding(
            "type.free_text_pii",
            0.0,
            f"only {_fmt(len(prose))} of {_fmt(len(s.texts_only))} sampled values are free text",
        )
    phones = v.PhoneChecker(allow_bare=False, allow_possible=False)
    kinds: Counter[str] = Counter()
    weight = 0.0
    with_pii = scanned = budget = 0
    for text in prose:
        if budget > _FREE_TEXT_BUDGET_CHARS:
            break
        scanned += 1
        budget += min(len(text), v.MAX_VALUE_CHARS)
        found = txt.find_kinds(text, phones)
        if found:
            with_pii += 1
            kinds.update(found)
            strong = any(k not in ("phone", "ip address") for k in found)
            weight += 1.0 if strong else 0.5
    confidence = min(0.95, 1 - 0.5**weight)
    detail = ", ".join(f"{kind} {_fmt(kinds[kind])}" for kind in txt.KINDS if kinds[kind])
    seen = (
        _fmt(scanned)
        if scanned == len(prose)
        else f"the first {_fmt(scanned)} of {_fmt(len(prose))}"
    )
    text = (
        f"{_fmt(with_pii)} of {seen} sampled free-text values contain personal data "
        f"found by validated patterns" + (f" ({detail})" if detail else "")
    )
    return _Finding("type.free_text_pii", confidence, text)


_DETECTORS: tuple[Callable[[_Sample, set[str]], _Finding | None], ...] = (
    _email,
    _phone,
    _person_name,
    _address,
    _postal,
    _date_of_birth,
    _credit_card,
    _national_id,
    _iban,
    _ip,
    _geo,
    _free_text,
)


def value_evidence(
    values: Sequence[object], declared_type: str, *, column: str = ""
) -> list[Evidence]:
    """What one column's sampled values say about its type.

    Args:
        values: The column's sampled non-null values as Spark returns them (``str``, ``int``,
            ``float``, ``bool``, ``date``, ``datetime``, ``Decimal``, ``bytes``, lists for
            arrays). Nulls, empty strings and placeholders such as ``N/A`` are skipped.
        declared_type: Spark ``simpleString`` of the column.
        column: The column name. Types it suggests get an evidence item even when the values
            do not support them (confidence 0: "0 of 1,000 sampled values are ..."), which is
            how :func:`combine` hears that values contradict a name; it also lets checks that
            are too weak alone count (bare 9-digit SSNs, digit-only postal codes, floats in
            coordinate range).

    Returns:
        Evidence with source ``"values"``, one per type at most; ``[]`` for boolean or binary
        columns and samples with nothing usable.

    Example:
        >>> ev = value_evidence(["4111 1111 1111 1111"] * 100, "string")
        >>> [(e.type, e.confidence > 0.9) for e in ev]
        [('type.credit_card', True)]
    """
    kind, is_array = nm.declared_kind(declared_type)
    if kind in (nm.BOOLEAN, nm.BINARY, nm.OTHER):
        return []
    sample = _prepare(values, kind, is_array)
    if sample.count == 0 and not sample.pairs:
        return []
    hints = {h.type for h in nm.name_hints(column, "", kind)} if column else set()
    out: list[Evidence] = []
    for detector in _DETECTORS:
        finding = detector(sample, hints)
        if finding is None:
            continue
        if finding.confidence > 0 or finding.type in hints:
            out.append(Evidence(finding.type, "values", round(finding.confidence, 4), finding.text))
    return out


# --------------------------------------------------------------------------------------------
# Combination
# --------------------------------------------------------------------------------------------


def combine(evidence: Sequence[Evidence]) -> dict[str, tuple[float, list[Evidence]]]:
    """One confidence per type from one column's evidence (see the module docstring's rule).

    Returns:
        ``{type: (confidence, the evidence used)}`` for every type some evidence mentions, in
        :data:`TYPES` order (unknown types after), including types whose result is 0 so that
        an explanation can show the contradiction; callers apply their own thresholds.
    """
    by_type: dict[str, list[Evidence]] = {}
    for item in evidence:
        by_type.setdefault(item.type, []).append(item)
    order = {t: i for i, t in enumerate(TYPES)}
    result: dict[str, tuple[float, list[Evidence]]] = {}
    for type_ in sorted(by_type, key=lambda t: (order.get(t, len(order)), t)):
        items = by_type[type_]
        prior = 0.0
        value: float | None = None
        for item in items:
            confidence = min(1.0, max(0.0, item.confidence))
            if item.source == "values":
                value = confidence if value is None else max(value, confidence)
            elif item.source == "name":
                prior = max(prior, min(confidence, NAME_CAP))
            else:
                prior = max(prior, confidence)
        combined = prior if value is None else value + (1 - value) * prior * value
        result[type_] = (round(combined, 4), list(items))
    return result
