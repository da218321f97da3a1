"""Value detectors on public fake-people data in many locales: a development corpus.

Faker and Mimesis generate the columns; a column's label is the provider that made it, not our
own generators. Seeds and locales differ from ``bench/tagging.py`` (seed 7, seven western
European and US locales), so the benchmark stays a held-out check: this corpus is where the
failure classes were diagnosed (phones that are possible but not valid, national-id schemes
beyond the six first ones, names outside the lexicon, family-name-first order).

Only values are used (no column name): the hardest setting. Mimesis' names are independent of
the lexicon (which reads Faker's lists); Faker's are not.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any

import pytest

from lakeward.tagging._detectors import combine, value_evidence

faker = pytest.importorskip("faker")
mimesis = pytest.importorskip("mimesis")

SEED = 23
ROWS = 200
THRESHOLD = 0.5
FAKER_LOCALES = (
    "en_AU", "en_CA", "en_IN", "de_AT", "de_CH", "fr_CH", "fr_CA", "nl_BE", "es_MX", "es_AR",
    "pt_BR", "pt_PT", "pl_PL", "sv_SE", "da_DK", "no_NO", "fi_FI", "cs_CZ", "hu_HU", "ro_RO",
    "tr_TR", "ru_RU", "el_GR", "it_CH", "en_IE", "en_NZ", "ja_JP", "ko_KR",
)  # fmt: skip
MIMESIS_LOCALES = (
    "EN_AU", "EN_CA", "DE_AT", "DE_CH", "NL_BE", "ES_MX", "PT_BR", "PT", "PL", "SV", "DA",
    "NO", "FI", "CS", "HU", "TR", "RU", "EL", "SK", "UK", "ET",
)  # fmt: skip

PHONE, NAME, NID = "type.phone", "type.person_name", "type.national_id"
_Draw = Callable[[Any], object]
FAKER_COLUMNS: tuple[tuple[str, str | None, _Draw], ...] = (
    ("name", NAME, lambda f: f.name()),
    ("first_name", NAME, lambda f: f.first_name()),
    ("last_name", NAME, lambda f: f.last_name()),
    ("phone_number", PHONE, lambda f: f.phone_number()),
    ("ssn", NID, lambda f: f.ssn()),
    ("postcode", "type.postal_code", lambda f: f.postcode()),
    ("zip_plus4", "type.postal_code", lambda f: f.numerify("#####-####")),
    ("company", None, lambda f: f.company()),
    ("job", None, lambda f: f.job()),
    ("word", None, lambda f: f.word()),
    ("color_name", None, lambda f: f.color_name()),
    ("ean13", None, lambda f: f.ean13()),
    ("isbn13", None, lambda f: f.isbn13()),
    ("license_plate", None, lambda f: f.license_plate()),
    ("ten_digit_id", None, lambda f: f.numerify("##########")),
    ("eleven_digit_id", None, lambda f: f.numerify("1##########")),
    ("bban", None, lambda f: f.bban()),
    ("catch_phrase", None, lambda f: f.catch_phrase()),
    ("user_name", None, lambda f: f.user_name()),
)
MIMESIS_COLUMNS: tuple[tuple[str, str | None, _Draw], ...] = (
    ("full_name", NAME, lambda m: m["person"].full_name()),
    ("first_name", NAME, lambda m: m["person"].first_name()),
    ("surname", NAME, lambda m: m["person"].surname()),
    ("phone_number", PHONE, lambda m: m["person"].phone_number()),
    ("occupation", None, lambda m: m["person"].occupation()),
    ("company", None, lambda m: m["finance"].company()),
    ("word", None, lambda m: m["text"].word()),
    ("imei", None, lambda m: m["code"].imei()),
    ("isbn", None, lambda m: m["code"].isbn()),
    ("ean", None, lambda m: m["code"].ean()),
    ("color", None, lambda m: m["text"].color()),
    ("nationality", None, lambda m: m["person"].nationality()),
    ("language", None, lambda m: m["person"].language()),
    ("title", None, lambda m: m["person"].title()),
)


def _columns() -> Iterator[tuple[str, str | None, list[object]]]:
    from mimesis.locales import Locale

    for locale in FAKER_LOCALES:
        fake = faker.Faker(locale)
        fake.seed_instance(SEED)
        for name, label, draw in FAKER_COLUMNS:
            yield f"faker {locale} {name}", label, [draw(fake) for _ in range(ROWS)]
    for code in MIMESIS_LOCALES:
        loc = Locale[code]
        m = {
            "person": mimesis.Person(loc, seed=SEED),
            "text": mimesis.Text(loc, seed=SEED),
            "finance": mimesis.Finance(loc, seed=SEED),
            "code": mimesis.Code(seed=SEED),
        }
        for name, label, draw in MIMESIS_COLUMNS:
            yield f"mimesis {code} {name}", label, [draw(m) for _ in range(ROWS)]


@cache
def _outcome() -> tuple[Counter[str], Counter[str], Counter[str], tuple[str, ...]]:
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    wrong: list[str] = []
    for key, label, values in _columns():
        found = {
            t for t, (c, _) in combine(value_evidence(values, "string")).items() if c >= THRESHOLD
        }
        if label is not None:
            (tp if label in found else fn)[label] += 1
            if label not in found:
                wrong.append(f"missed {key}")
        for type_ in found - {label}:
            fp[type_] += 1
            wrong.append(f"{type_} on {key}")
    return tp, fp, fn, tuple(wrong)


@pytest.mark.parametrize(
    ("type_", "min_recall"),
    # measured at seeds 23 and 31: phone 0.83, national id 0.82, person name 0.64-0.65 (0.19,
    # 0.36 and 0.51 before the possible-number, id-scheme and name-order rules); the phones
    # missed are formats no rule should accept (9 digits behind +45, 7-digit local numbers)
    [(PHONE, 0.78), (NID, 0.78), (NAME, 0.6)],
)
def test_recall_on_public_data_from_values_alone(type_: str, min_recall: float) -> None:
    tp, _, fn, wrong = _outcome()
    recall = tp[type_] / (tp[type_] + fn[type_])
    assert recall >= min_recall, [w for w in wrong if type_ in w or "missed" in w]


@pytest.mark.parametrize("type_", [PHONE, NID, NAME, "type.credit_card", "type.iban"])
def test_no_false_positives_on_public_data(type_: str) -> None:
    _, fp, _, wrong = _outcome()
    assert fp[type_] == 0, [w for w in wrong if w.startswith(type_)]
