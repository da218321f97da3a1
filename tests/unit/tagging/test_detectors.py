"""Precision and recall of the tagging detectors on a seeded corpus of positives and hard negatives.

Positives come from our own generators (national ids with their check rules, valid phone
numbers in several regions and formats, coordinates, free text with contact details), from
the lake generator's helpers (emails, phones, postal codes, streets, names, cards, birth dates)
and from Faker (names, addresses, postcodes, IBANs, card numbers, IPs in several locales).
Hard negatives are the columns other tools are known to get wrong: ids that pass Luhn by
chance, ZIP+4 codes, ``email_opt_in`` booleans, ``email_verified`` integers,
``ACADEMIC_YEAR_CODE`` 1999/2000, order totals inside the latitude range, comments full of
numbers but without personal data, SKUs, UUIDs, hashes, IMEIs, versions, company names.

A column is *tagged* with a type when :func:`combine` gives it at least :data:`THRESHOLD`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import string
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache

import numpy as np
import phonenumbers
import pytest
from faker import Faker

from lakeward.lake import _generate as lake
from lakeward.lake import _names as lake_names
from lakeward.tagging._detectors import (
    NAME_CAP,
    TYPES,
    Evidence,
    combine,
    name_evidence,
    value_evidence,
)

THRESHOLD = 0.6
"""Combined confidence at which a column counts as tagged (names alone never reach it)."""

MIN_PRECISION = 0.95
MIN_RECALL = 0.95
N = 600  # values per generated column


@dataclass(frozen=True)
class Column:
    name: str
    dataset: str
    declared: str
    values: tuple[object, ...]
    expected: frozenset[str]
    traps: frozenset[str] = frozenset()  # types a careless detector would give a hard negative


def _col(
    name: str,
    declared: str,
    values: Sequence[object],
    expected: str | None = None,
    *,
    dataset: str = "corpus.data",
    traps: tuple[str, ...] = (),
) -> Column:
    return Column(
        name,
        dataset,
        declared,
        tuple(values),
        frozenset({expected} if expected else set()),
        frozenset(traps),
    )


def detect(column: Column) -> dict[str, float]:
    evidence = name_evidence(column.name, column.dataset, column.declared)
    evidence += value_evidence(column.values, column.declared, column=column.name)
    return {t: c for t, (c, _) in combine(evidence).items()}


def tagged(column: Column) -> set[str]:
    return {t for t, c in detect(column).items() if c >= THRESHOLD}


# --------------------------------------------------------------------------------------------
# Generators
# --------------------------------------------------------------------------------------------


def _faker(locale: str, seed: int) -> Faker:
    fake = Faker(locale)
    fake.seed_instance(seed)
    return fake


def _repeat(fn: Callable[[], object], n: int = N) -> list[object]:
    return [fn() for _ in range(n)]


def _ssn(rnd: random.Random) -> str:
    while True:
        area = rnd.randint(1, 899)
        if area != 666:
            return f"{area:03d}-{rnd.randint(1, 99):02d}-{rnd.randint(1, 9999):04d}"


def _nino(rnd: random.Random) -> str:
    while True:
        prefix = rnd.choice("ABCEGHJKLMNOPRSTWXYZ") + rnd.choice("ABCEGHJKLMNPRSTWXYZ")
        if prefix not in {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}:
            break
    digits = f"{rnd.randint(0, 999999):06d}"
    suffix = rnd.choice("ABCD")
    if rnd.random() < 0.5:
        return f"{prefix} {digits[:2]} {digits[2:4]} {digits[4:]} {suffix}"
    return f"{prefix}{digits}{suffix}"


def _bsn(rnd: random.Random) -> str:
    while True:
        head = [rnd.randint(0, 9) for _ in range(8)]
        check = sum((9 - i) * d for i, d in enumerate(head)) % 11
        if check < 10 and any(head):
            return "".join(map(str, head)) + str(check)


def _nir(rnd: random.Random) -> str:
    dept = rnd.choice([f"{rnd.randint(1, 95):02d}", "2A", "2B"])
    body = (
        f"{rnd.choice('12')}{rnd.randint(0, 99):02d}{rnd.randint(1, 12):02d}{dept}"
        f"{rnd.randint(1, 990):03d}{rnd.randint(1, 999):03d}"
    )
    numeric = int(body.replace("2A", "19").replace("2B", "18"))
    key = 97 - numeric % 97
    text = f"{body}{key:02d}"
    if rnd.random() < 0.4:
        parts = (text[0], text[1:3], text[3:5], text[5:7], text[7:10], text[10:13], text[13:])
        return " ".join(parts)
    return text


def _steuer_id(rnd: random.Random) -> str:
    while True:
        digits = rnd.sample(range(10), 9)
        digits.append(rnd.choice(digits))
        rnd.shuffle(digits)
        if digits[0] != 0:
            break
    product = 10
    for d in digits:
        total = (d + product) % 10 or 10
        product = (total * 2) % 11
    return "".join(map(str, digits)) + str((11 - product) % 10)


def _dni(rnd: random.Random) -> str:
    letters = "TRWAGMYFPDXBNJZSQVHLCKE"
    if rnd.random() < 0.7:
        number = rnd.randint(0, 99_999_999)
        return f"{number:08d}{letters[number % 23]}"
    prefix = rnd.choice("XYZ")
    number = rnd.randint(0, 9_999_999)
    return f"{prefix}{number:07d}{letters[int(str('XYZ'.index(prefix)) + f'{number:07d}') % 23]}"


_PHONE_REGIONS_NATIONAL = ("US", "CA", "GB", "DE", "FR", "NL", "IT", "ES", "AU", "CH", "IN", "SE")
_PHONE_REGIONS_INTL_ONLY = ("BR", "JP", "MX", "ZA", "PL", "BE")


def _valid_phone(rnd: random.Random, region: str) -> phonenumbers.PhoneNumber:
    kinds = (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE)
    example = phonenumbers.example_number_for_type(region, rnd.choice(kinds))
    national = str(example.national_number)
    while True:
        tail = "".join(rnd.choice(string.digits) for _ in range(4))
        candidate = phonenumbers.PhoneNumber(
            country_code=example.country_code,
            national_number=int(national[:-4] + tail),
            italian_leading_zero=example.italian_leading_zero,
        )
        if phonenumbers.is_valid_number(candidate):
            return candidate


def _phone(rnd: random.Random, regions: Sequence[str], national: bool) -> str:
    region = rnd.choice(regions)
    number = _valid_phone(rnd, region)
    fmt = phonenumbers.PhoneNumberFormat
    if national and region in _PHONE_REGIONS_NATIONAL:
        return phonenumbers.format_number(number, fmt.NATIONAL)
    return phonenumbers.format_number(number, rnd.choice([fmt.E164, fmt.INTERNATIONAL]))


def _luhn_complete(payload: str) -> str:
    for d in string.digits:
        candidate = payload + d
        total = 0
        for i, ch in enumerate(reversed(candidate)):
            x = int(ch) * (2 if i % 2 else 1)
            total += x - 9 if x > 9 else x
        if total % 10 == 0:
            return candidate
    raise AssertionError("unreachable")


def _dob_dates(rnd: random.Random, n: int = N) -> list[dt.date]:
    today = dt.date.today()
    return [today - dt.timedelta(days=int(365.25 * rnd.uniform(18, 90))) for _ in range(n)]


_PII_TEMPLATES = (
    "Customer asked to be called back at {phone} about the late delivery of order {order}.",
    "Please send the corrected invoice to {email}, the old address bounced twice.",
    "Refund must go to IBAN {iban} according to the customer on the phone today.",
    "Charged twice on card {card_grouped}, customer wants one charge reversed asap.",
    "Caller confirmed SSN {ssn} before we changed the mailing preferences on file.",
    "New contact for deliveries is {email} or the mobile {phone} after 6pm.",
    "Visa card number {card} used for the replacement order, please double check it.",
)
_PLAIN_TEMPLATES = (
    "Order {order} arrived {k} days late, box 2 of 4 was damaged in transit.",
    "Customer wants a refund of ${amount} for order #{order} placed on {date}.",
    "Ticket escalated to tier 2 after 3 attempts at 10:45 on {date}, no answer.",
    "App version 2.{k}.1 crashes at checkout on build 4512, customer annoyed.",
    "Asked about the 30% discount code SPRING{year} for {k} items in the cart.",
    "Delivery window 9-12 tomorrow; tracking number {tracking} shows in transit.",
    "Product SKU-{sku}-BLK out of stock until {date}; {k} units on backorder.",
    "Please email us again if the parcel does not arrive within {k} working days.",
    "The phone number on the account is outdated, customer will update it online.",
    "Invoice INV-{year}-{order} paid in full, amount {amount} EUR received {date}.",
    "Temperature in the warehouse was {k}.5 C on {date} between 14:00 and 16:30.",
    "Reference {ref} for the return label; weight 2.45 kg, size 40x30x20 cm.",
)


def _comment(rnd: random.Random, fake: Faker, pii: bool) -> str:
    today = dt.date.today()
    fields = {
        "order": str(rnd.randint(10_000, 99_999_999)),
        "k": str(rnd.randint(2, 9)),
        "amount": f"{rnd.uniform(5, 900):.2f}",
        "date": (today - dt.timedelta(days=rnd.randint(0, 900))).isoformat(),
        "year": str(rnd.randint(2019, 2025)),
        "sku": str(rnd.randint(10_000, 99_999)),
        "tracking": "".join(rnd.choice(string.digits) for _ in range(16)),
        "ref": f"{rnd.randint(100_000, 999_999)}-{rnd.randint(10, 99)}",
    }
    if not pii:
        return rnd.choice(_PLAIN_TEMPLATES).format(**fields)
    card = fake.credit_card_number(card_type=rnd.choice(["visa16", "mastercard", "amex"]))
    fields |= {
        "phone": _phone(rnd, ("US", "GB", "DE", "FR", "NL"), national=rnd.random() < 0.5),
        "email": fake.email(),
        "iban": fake.iban(),
        "card": card,
        "card_grouped": " ".join(card[i : i + 4] for i in range(0, len(card), 4)),
        "ssn": _ssn(rnd),
    }
    return rnd.choice(_PII_TEMPLATES).format(**fields)


def _lake_arrays(seed: int) -> dict[str, list[object]]:
    rng = np.random.default_rng(seed)
    first, last = lake._names(rng, N)
    loc = lake._pick(rng, N, lake._LOC_P)
    cards, _ = lake._cards(rng.integers(0, 10**9, N).astype(np.int64))
    return {
        "first": lake._take(lake._FIRST, first).to_pylist(),
        "last": lake._take(lake._LAST, last).to_pylist(),
        "email": lake._emails(rng, first, last).to_pylist(),
        "phone": lake._phones(rng, loc).to_pylist(),
        "postal": lake._postal(rng, loc).to_pylist(),
        "street": lake._streets(rng, N).to_pylist(),
        "card": cards.to_pylist(),
        "dob": [d.item() for d in lake._ages_to_dob(rng, N).astype("datetime64[D]")],
    }


# --------------------------------------------------------------------------------------------
# The corpus
# --------------------------------------------------------------------------------------------


def _positives() -> list[Column]:
    rnd = random.Random(1301)
    us, de, fr, nl, es, it, gb = (
        _faker(loc, 13) for loc in ("en_US", "de_DE", "fr_FR", "nl_NL", "es_ES", "it_IT", "en_GB")
    )
    lk = _lake_arrays(13)
    E = "type.email"
    P = "type.phone"
    PN = "type.person_name"
    A = "type.address"
    PC = "type.postal_code"
    DOB = "type.date_of_birth"
    CC = "type.credit_card"
    NID = "type.national_id"
    IB = "type.iban"
    IP = "type.ip_address"
    G = "type.geo"
    FT = "type.free_text_pii"
    people = "crm.customers"
    lat = [round(rnd.uniform(-60, 70), 6) for _ in range(N)]
    lon = [round(rnd.uniform(-170, 175), 6) for _ in range(N)]
    return [
        # email
        _col("email", "string", lk["email"], E, dataset=people),
        _col("EmailAddress", "string", _repeat(de.email), E),
        _col("contact.email", "string", _repeat(fr.company_email), E),
        _col("correo", "string", _repeat(es.free_email), E),
        _col("user_mail", "string", [x.upper() for x in _repeat(us.email)], E),
        # phone
        _col("phone", "string", lk["phone"], P, dataset=people),
        _col("mobile", "string", [_phone(rnd, _PHONE_REGIONS_NATIONAL, True) for _ in range(N)], P),
        _col(
            "telephone",
            "string",
            [
                _phone(rnd, _PHONE_REGIONS_NATIONAL + _PHONE_REGIONS_INTL_ONLY, False)
                for _ in range(N)
            ],
            P,
        ),
        _col("home_tel", "string", [_phone(rnd, ("US", "CA"), True) for _ in range(N)], P),
        _col(
            "msisdn",
            "string",
            [
                _phone(rnd, ("DE", "GB", "NL", "FR"), False).replace(" ", "").lstrip("+")
                for _ in range(N)
            ],
            P,
        ),
        # person names (the lake's hand-written lists are independent of the Faker lexicon)
        _col("first_name", "string", lk["first"], PN, dataset=people),
        _col("last_name", "string", lk["last"], PN, dataset=people),
        _col(
            "full_name",
            "string",
            [f"{a} {b}" for a, b in zip(lk["first"], lk["last"], strict=True)],
            PN,
        ),
        _col(
            "account_holder",
            "string",
            [f"{b}, {a}" for a, b in zip(lk["first"], lk["last"], strict=True)],
            PN,
        ),
        _col("name", "string", _repeat(de.name), PN, dataset="hr.employees"),
        _col("contact_name", "string", _repeat(nl.name), PN),
        _col("nombre_completo", "string", _repeat(es.name), PN),
        _col("customer_name", "string", _repeat(it.name), PN),
        # addresses
        _col("street_address", "string", lk["street"], A, dataset=people),
        _col("address", "string", _repeat(us.street_address), A),
        _col("strasse", "string", _repeat(de.street_address), A),
        _col("adres", "string", _repeat(nl.street_address), A),
        _col("direccion", "string", _repeat(es.street_address), A),
        _col(
            "shipping_address",
            "string",
            [us.address().replace("\n", ", ") for _ in range(N)],
            A,
        ),
        # postal codes
        _col("postal_code", "string", lk["postal"], PC, dataset=people),
        _col("zip", "string", _repeat(us.zipcode), PC),
        _col("postcode", "string", _repeat(gb.postcode), PC),
        _col("plz", "string", _repeat(de.postcode), PC),
        _col("zip_code", "bigint", [int(us.zipcode()) for _ in range(N)], PC),
        _col("code_postal", "string", _repeat(nl.postcode), PC),
        # dates of birth
        _col("date_of_birth", "date", lk["dob"], DOB, dataset=people),
        _col("dob", "string", [d.isoformat() for d in _dob_dates(rnd)], DOB),
        _col("geburtsdatum", "string", [d.strftime("%d.%m.%Y") for d in _dob_dates(rnd)], DOB),
        _col(
            "BirthDate",
            "timestamp",
            [dt.datetime.combine(d, dt.time()) for d in _dob_dates(rnd)],
            DOB,
        ),
        _col("birth_year", "int", [d.year for d in _dob_dates(rnd)], DOB),
        # cards
        _col("card_number", "string", lk["card"], CC, dataset="finance.payments"),
        _col("cc_number", "string", _repeat(us.credit_card_number), CC),
        _col(
            "credit_card",
            "string",
            [
                " ".join(x[i : i + 4] for i in range(0, len(x), 4))
                for x in (us.credit_card_number("visa16") for _ in range(N))
            ],
            CC,
        ),
        _col("pan", "bigint", [int(us.credit_card_number("mastercard")) for _ in range(N)], CC),
        # national ids
        _col("ssn", "string", [_ssn(rnd) for _ in range(N)], NID),
        _col("nino", "string", [_nino(rnd) for _ in range(N)], NID),
        _col("bsn", "string", [_bsn(rnd) for _ in range(N)], NID),
        _col("nir", "string", [_nir(rnd) for _ in range(N)], NID),
        _col("steuer_id", "string", [_steuer_id(rnd) for _ in range(N)], NID),
        _col("dni", "string", [_dni(rnd) for _ in range(N)], NID),
        _col(
            "social_security_number",
            "bigint",
            [int(_ssn(rnd).replace("-", "")) for _ in range(N)],
            NID,
        ),
        # IBAN
        _col("iban", "string", _repeat(de.iban), IB),
        _col(
            "bank_account",
            "string",
            [" ".join(x[i : i + 4] for i in range(0, len(x), 4)) for x in _repeat(fr.iban)],
            IB,
        ),
        _col("IBAN", "string", [f.iban() for f in (nl, es, it, gb) for _ in range(N // 4)], IB),
        # IP addresses
        _col("ip_address", "string", _repeat(us.ipv4_public), IP),
        _col("client_ip", "string", _repeat(us.ipv6), IP),
        _col(
            "remote_addr",
            "string",
            [us.ipv4_private() if rnd.random() < 0.5 else us.ipv6() for _ in range(N)],
            IP,
        ),
        # geo
        _col("latitude", "double", lat, G),
        _col("lng", "double", lon, G),
        _col("lat", "decimal(9,6)", [Decimal(f"{x:.6f}") for x in lat], G),
        _col("geo", "string", [f"{a:.5f},{b:.5f}" for a, b in zip(lat, lon, strict=True)], G),
        _col(
            "location",
            "string",
            [f"POINT({b:.6f} {a:.6f})" for a, b in zip(lat, lon, strict=True)],
            G,
        ),
        _col("coordinates", "array<double>", [[a, b] for a, b in zip(lat, lon, strict=True)], G),
        # free text with personal data in about a fifth of the values
        _col("comment", "string", [_comment(rnd, us, rnd.random() < 0.2) for _ in range(N)], FT),
        _col("notes", "string", [_comment(rnd, us, rnd.random() < 0.05) for _ in range(N)], FT),
        _col("feedback", "string", [_comment(rnd, us, rnd.random() < 0.5) for _ in range(N)], FT),
    ]


def _hard_negatives() -> list[Column]:
    rnd = random.Random(1302)
    us, de, fr = (_faker(loc, 14) for loc in ("en_US", "de_DE", "fr_FR"))
    today = dt.date.today()

    def digits(k: int, first: str = "") -> str:
        return first + "".join(rnd.choice(string.digits) for _ in range(k - len(first)))

    def imei() -> str:
        return _luhn_complete(rnd.choice(["35", "86", "01", "99"]) + digits(12))

    zip4 = [f"{us.zipcode()}-{rnd.randint(1, 9999):04d}" for _ in range(N)]
    C, PH, E, G, NID, DOB = (
        "type.credit_card",
        "type.phone",
        "type.email",
        "type.geo",
        "type.national_id",
        "type.date_of_birth",
    )
    return [
        # ids that pass Luhn by chance or by design, none of them cards
        _col("order_id", "bigint", [int(digits(16, "4")) for _ in range(N)], traps=(C,)),
        _col("customer_ref", "string", [digits(16, "4") for _ in range(N)], traps=(C,)),
        _col(
            "tracking_number",
            "string",
            [digits(rnd.choice([12, 14, 16])) for _ in range(N)],
            traps=(C, PH),
        ),
        _col("device_imei", "string", [imei() for _ in range(N)], traps=(C,)),
        _col(
            "loyalty_number",
            "string",
            [_luhn_complete("9" + digits(14)) for _ in range(N)],
            traps=(C,),
        ),
        _col(
            "npi",
            "bigint",
            [int(_luhn_complete("1" + digits(8))) for _ in range(N)],
            traps=(PH, NID),
        ),
        _col(
            "account_number",
            "string",
            [digits(10, rnd.choice("23456789")) for _ in range(N)],
            traps=(PH,),
        ),
        _col("member_number", "string", [digits(9, "1") for _ in range(N)], traps=(NID,)),
        _col("eleven_digit_ref", "string", [digits(11, "1") for _ in range(N)], traps=(NID, PH)),
        # ZIP codes that look like phone numbers: postal codes, never phones
        _col("zip", "string", zip4, "type.postal_code", traps=(PH,)),
        _col(
            "zip_plus4",
            "string",
            [z.replace("-", "") for z in zip4],
            "type.postal_code",
            traps=(PH,),
        ),
        # named after email, holding flags
        _col("email_opt_in", "boolean", [rnd.random() < 0.4 for _ in range(N)], traps=(E,)),
        _col("email_verified", "int", [rnd.randint(0, 1) for _ in range(N)], traps=(E,)),
        _col(
            "email_verified",
            "string",
            [rnd.choice(["true", "false"]) for _ in range(N)],
            traps=(E,),
        ),
        _col("has_phone", "boolean", [rnd.random() < 0.7 for _ in range(N)], traps=(PH,)),
        _col("phone_count", "bigint", [rnd.randint(0, 3) for _ in range(N)], traps=(PH,)),
        _col(
            "phone_model",
            "string",
            [f"iPhone {rnd.randint(8, 15)} Pro" for _ in range(N)],
            traps=(PH,),
        ),
        # OpenMetadata's CVV complaint
        _col(
            "ACADEMIC_YEAR_CODE",
            "int",
            [rnd.choice([1999, 2000]) for _ in range(N)],
            traps=(C, DOB),
        ),
        _col(
            "ACADEMIC_YEAR_CODE",
            "string",
            [rnd.choice(["1999", "2000"]) for _ in range(N)],
            traps=(C, DOB),
        ),
        # floats inside the coordinate range
        _col(
            "order_total", "double", [round(rnd.uniform(-90, 90), 2) for _ in range(N)], traps=(G,)
        ),
        _col("total", "double", [rnd.uniform(1, 80) * 3 * 0.1 for _ in range(N)], traps=(G,)),
        _col(
            "amount",
            "decimal(10,2)",
            [Decimal(f"{rnd.uniform(-90, 90):.2f}") for _ in range(N)],
            traps=(G,),
        ),
        _col("fx_rate", "double", [round(rnd.uniform(0.5, 1.6), 4) for _ in range(N)], traps=(G,)),
        _col("temperature_c", "double", [round(rnd.gauss(17, 9), 1) for _ in range(N)], traps=(G,)),
        _col("score", "double", [rnd.random() for _ in range(N)], traps=(G,)),
        _col("long_description", "string", _repeat(lambda: us.sentence(nb_words=12)), traps=(G,)),
        # free text without personal data, with plenty of numbers
        _col(
            "comment",
            "string",
            [_comment(rnd, us, False) for _ in range(N)],
            traps=("type.free_text_pii",),
        ),
        _col(
            "notes",
            "string",
            _repeat(lambda: us.paragraph(nb_sentences=3)),
            traps=("type.free_text_pii",),
        ),
        _col(
            "description",
            "string",
            _repeat(lambda: de.paragraph(nb_sentences=2)),
            dataset="catalog.products",
        ),
        # codes and identifiers
        _col(
            "sku",
            "string",
            [
                f"SKU-{rnd.randint(10000, 99999)}-{rnd.choice(['BLK', 'WHT', 'RED'])}"
                for _ in range(N)
            ],
        ),
        _col(
            "part_code",
            "string",
            [
                "".join(rnd.choices(string.ascii_uppercase, k=2)) + f"-{rnd.randint(1000, 9999)}-XY"
                for _ in range(N)
            ],
        ),
        _col("request_id", "string", [str(uuid.UUID(int=rnd.getrandbits(128))) for _ in range(N)]),
        _col("md5", "string", [hashlib.md5(str(i).encode()).hexdigest() for i in range(N)]),
        _col("sha1", "string", [hashlib.sha1(str(i).encode()).hexdigest() for i in range(N)]),
        _col(
            "invoice_number",
            "string",
            [f"INV-{rnd.randint(2019, 2025)}-{rnd.randint(1, 999999):06d}" for _ in range(N)],
        ),
        _col(
            "payment_reference",
            "string",
            [f"RF{rnd.randint(10, 99)}{digits(14)}" for _ in range(N)],
            traps=("type.iban",),
        ),
        _col(
            "bic",
            "string",
            [
                rnd.choice(["DEUT", "COBA", "BNPA"])
                + rnd.choice(["DEFF", "FRPP"])
                + rnd.choice(["", "XXX"])
                for _ in range(N)
            ],
            traps=("type.iban",),
        ),
        _col(
            "app_version",
            "string",
            [f"{rnd.randint(1, 9)}.{rnd.randint(0, 30)}.{rnd.randint(0, 12)}" for _ in range(N)],
            traps=("type.ip_address",),
        ),
        _col(
            "build",
            "string",
            [
                ".".join(str(rnd.randint(0, 9)) for _ in range(3)) + f".{rnd.randint(1000, 9999)}"
                for _ in range(N)
            ],
            traps=("type.ip_address",),
        ),
        _col(
            "user_agent",
            "string",
            [rnd.choice(lake_names.USER_AGENTS) for _ in range(N)],
            traps=("type.free_text_pii", "type.ip_address"),
        ),
        _col("url", "string", _repeat(us.url)),
        _col("hex_colour", "string", _repeat(us.hex_color)),
        _col("quantity", "bigint", [rnd.randint(1, 50) for _ in range(N)]),
        _col(
            "product_code",
            "string",
            [digits(5, rnd.choice("123456789")) for _ in range(N)],
            traps=("type.postal_code",),
        ),
        # words that are not people
        _col(
            "name",
            "string",
            [
                " ".join(
                    rnd.choice(words)
                    for words in (
                        lake_names.ADJECTIVES,
                        lake_names.MATERIALS,
                        lake_names.PRODUCT_NOUNS,
                    )
                )
                for _ in range(N)
            ],
            dataset="catalog.products",
            traps=("type.person_name",),
        ),
        _col(
            "city",
            "string",
            [rnd.choice(lake_names.LOCATIONS).city for _ in range(N)],
            traps=("type.person_name",),
        ),
        _col("company", "string", _repeat(us.company), traps=("type.person_name",)),
        _col("supplier_name", "string", _repeat(fr.company), traps=("type.person_name",)),
        _col("job_title", "string", _repeat(us.job), traps=("type.person_name",)),
        _col("colour", "string", _repeat(us.color_name), traps=("type.person_name",)),
        _col("country", "string", _repeat(us.country), traps=("type.person_name",)),
        _col("status", "string", [rnd.choice(["active", "pending", "closed"]) for _ in range(N)]),
        _col(
            "warehouse_name",
            "string",
            [
                f"{rnd.choice(lake_names.LOCATIONS).city} Distribution Center {rnd.randint(1, 9)}"
                for _ in range(N)
            ],
            traps=("type.address",),
        ),
        _col("street_name", "string", _repeat(us.street_name), traps=("type.person_name",)),
        # dates that are not birth dates
        _col(
            "order_date",
            "date",
            [today - dt.timedelta(days=rnd.randint(0, 1500)) for _ in range(N)],
            traps=(DOB,),
        ),
        _col(
            "created_at",
            "timestamp",
            [
                dt.datetime(2010, 1, 1) + dt.timedelta(seconds=rnd.randint(0, 10**9))
                for _ in range(N)
            ],
            traps=(DOB,),
        ),
        _col(
            "hire_date",
            "date",
            [today - dt.timedelta(days=rnd.randint(0, 40 * 365)) for _ in range(N)],
            traps=(DOB,),
        ),
        _col(
            "contract_start",
            "date",
            [dt.date(2001, 1, 1) + dt.timedelta(days=rnd.randint(0, 3 * 365)) for _ in range(N)],
            traps=(DOB,),
        ),
        _col("year", "int", [rnd.randint(1950, 2010) for _ in range(N)], traps=(DOB,)),
    ]


@cache
def corpus() -> tuple[Column, ...]:
    return tuple(_positives() + _hard_negatives())


@cache
def results() -> tuple[tuple[Column, dict[str, float]], ...]:
    return tuple((c, detect(c)) for c in corpus())


# --------------------------------------------------------------------------------------------
# Precision and recall per type
# --------------------------------------------------------------------------------------------


def _confusion() -> dict[str, tuple[int, int, int]]:
    counts = {t: [0, 0, 0] for t in TYPES}  # true positives, false positives, false negatives
    for column, confidences in results():
        predicted = {t for t, c in confidences.items() if c >= THRESHOLD}
        for t in TYPES:
            if t in predicted and t in column.expected:
                counts[t][0] += 1
            elif t in predicted:
                counts[t][1] += 1
            elif t in column.expected:
                counts[t][2] += 1
    return {t: (tp, fp, fn) for t, (tp, fp, fn) in counts.items()}


@pytest.mark.parametrize("type_", TYPES)
def test_precision_and_recall_per_type(type_: str) -> None:
    tp, fp, fn = _confusion()[type_]
    assert tp >= 3, f"{type_}: the corpus needs positives"
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    wrong = [
        (c.name, c.dataset, c.declared, round(conf.get(type_, 0.0), 3))
        for c, conf in results()
        if (conf.get(type_, 0.0) >= THRESHOLD) != (type_ in c.expected)
    ]
    assert precision >= MIN_PRECISION, f"{type_}: precision {precision:.3f}; wrong: {wrong}"
    assert recall >= MIN_RECALL, f"{type_}: recall {recall:.3f}; wrong: {wrong}"


def test_hard_negatives_are_not_even_suggested_as_their_trap_type() -> None:
    failures = []
    for column, confidences in results():
        for trap in column.traps:
            confidence = confidences.get(trap, 0.0)
            if confidence > 0.3:
                failures.append((column.name, column.declared, trap, confidence))
    assert not failures


def test_positives_get_no_extra_types() -> None:
    extra = [
        (c.name, sorted(t for t, v in conf.items() if v >= THRESHOLD and t not in c.expected))
        for c, conf in results()
        if c.expected
    ]
    assert [e for e in extra if e[1]] == []


# --------------------------------------------------------------------------------------------
# Values alone, names alone, and the evidence texts
# --------------------------------------------------------------------------------------------

_STRONG_ALONE = {
    "type.email",
    "type.phone",
    "type.person_name",
    "type.address",
    "type.credit_card",
    "type.iban",
    "type.ip_address",
    "type.free_text_pii",
}


def test_strong_types_are_found_from_values_alone() -> None:
    missed = []
    for column in corpus():
        (expected,) = column.expected or {None}
        if expected not in _STRONG_ALONE or column.name in {"msisdn"}:
            continue
        evidence = value_evidence(column.values, column.declared)
        confidence = combine(evidence).get(expected, (0.0, []))[0]
        if confidence < THRESHOLD:
            missed.append((column.name, expected, confidence))
    assert missed == []


def test_weak_types_need_the_name() -> None:
    """Digit postal codes, birth dates and lone floats are only hints without their name."""
    for column in corpus():
        (expected,) = column.expected or {None}
        if expected not in {"type.postal_code", "type.date_of_birth"} and not (
            expected == "type.geo" and column.declared in ("double", "decimal(9,6)")
        ):
            continue
        evidence = value_evidence(column.values, column.declared)
        confidence = combine(evidence).get(expected, (0.0, []))[0]
        assert confidence < THRESHOLD, (column.name, confidence)


def test_names_alone_stay_at_or_below_the_cap() -> None:
    for column in corpus():
        for item in name_evidence(column.name, column.dataset, column.declared):
            assert item.source == "name"
            assert 0 < item.confidence <= NAME_CAP
        combined = combine(name_evidence(column.name, column.dataset, column.declared))
        assert all(c <= NAME_CAP for c, _ in combined.values())


def test_evidence_text_never_contains_a_sampled_value() -> None:
    for column in corpus():
        evidence = name_evidence(column.name, column.dataset, column.declared)
        evidence += value_evidence(column.values, column.declared, column=column.name)
        texts = " | ".join(e.text for e in evidence)
        leaked = [
            value for value in {str(v) for v in column.values} if len(value) >= 5 and value in texts
        ]
        assert leaked == [], (column.name, leaked[:3])


def test_evidence_is_well_formed() -> None:
    for column in corpus()[:20]:
        evidence = name_evidence(column.name, column.dataset, column.declared)
        evidence += value_evidence(column.values, column.declared, column=column.name)
        for item in evidence:
            assert isinstance(item, Evidence)
            assert item.type in TYPES
            assert item.source in ("name", "values")
            assert 0.0 <= item.confidence <= 1.0
            assert item.text
