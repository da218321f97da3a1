"""What a column's name, its table's name and its declared type suggest about its contents.

Names are split into lower-case words at ``_``, ``-``, ``.``, spaces, camelCase humps and
letter/digit boundaries; a word that is not known but can be cut entirely into known words is
cut (``dateofbirth`` → ``date of birth``, ``emailaddress`` → ``email address``). Each semantic
type then has *phrases* (word sequences with a strength) and *blockers*: a column whose words
include a blocker says nothing about that type (``email_verified``, ``email_opt_in``,
``has_phone``, ``phone_count``, ``card_brand``, ``product_name``). A type is only suggested
for declared types that can hold it: integers, booleans and floats are never emails, phones,
person names, addresses or IBANs; booleans are nothing.

Strengths are the name detector's own confidence before the cap that ``_detectors`` applies:
0.5 for unambiguous words (``email``, ``ssn``, ``date_of_birth``), lower for ambiguous ones
(``name`` in a people table, ``long``, ``notes``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

# --------------------------------------------------------------------------------------------
# Declared types
# --------------------------------------------------------------------------------------------

STRING, INTEGER, FLOAT, DECIMAL, BOOLEAN, DATE, TIMESTAMP, BINARY, OTHER = (
    "string",
    "integer",
    "float",
    "decimal",
    "boolean",
    "date",
    "timestamp",
    "binary",
    "other",
)

_KIND_BY_NAME = {
    "string": STRING,
    "varchar": STRING,
    "char": STRING,
    "tinyint": INTEGER,
    "smallint": INTEGER,
    "int": INTEGER,
    "integer": INTEGER,
    "bigint": INTEGER,
    "long": INTEGER,
    "short": INTEGER,
    "byte": INTEGER,
    "float": FLOAT,
    "double": FLOAT,
    "real": FLOAT,
    "decimal": DECIMAL,
    "numeric": DECIMAL,
    "boolean": BOOLEAN,
    "bool": BOOLEAN,
    "date": DATE,
    "timestamp": TIMESTAMP,
    "timestamp_ntz": TIMESTAMP,
    "timestamp_ltz": TIMESTAMP,
    "binary": BINARY,
}


def declared_kind(declared_type: str) -> tuple[str, bool]:
    """``(kind, is_array)`` of a Spark ``simpleString`` such as ``bigint`` or ``array<string>``.

    An array's kind is its element's; a struct or map is :data:`OTHER` (the caller flattens
    struct leaves before asking).
    """
    text = declared_type.strip().lower()
    is_array = False
    while text.startswith("array<") and text.endswith(">"):
        text, is_array = text[6:-1].strip(), True
    base = re.split(r"[(<]", text, maxsplit=1)[0].strip()
    if base.startswith(("varchar", "char")):
        base = "string"
    return _KIND_BY_NAME.get(base, OTHER), is_array


# Which declared kinds each type may have: the type-mismatch rule of both detectors.
ALLOWED_KINDS: dict[str, frozenset[str]] = {
    "type.email": frozenset({STRING}),
    "type.phone": frozenset({STRING}),
    "type.person_name": frozenset({STRING}),
    "type.address": frozenset({STRING}),
    "type.iban": frozenset({STRING}),
    "type.postal_code": frozenset({STRING, INTEGER}),
    "type.date_of_birth": frozenset({STRING, DATE, TIMESTAMP, INTEGER}),
    "type.credit_card": frozenset({STRING, INTEGER, DECIMAL}),
    "type.national_id": frozenset({STRING, INTEGER, DECIMAL}),
    "type.ip_address": frozenset({STRING, INTEGER}),
    "type.geo": frozenset({STRING, FLOAT, DECIMAL}),
    "type.free_text_pii": frozenset({STRING}),
}

# --------------------------------------------------------------------------------------------
# Tokenising
# --------------------------------------------------------------------------------------------

_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+|[^\W\d_]+")


@dataclass(frozen=True)
class _Rule:
    type: str
    phrases: tuple[tuple[tuple[str, ...], float], ...]
    blockers: frozenset[str]


def _p(*items: tuple[str, float]) -> tuple[tuple[tuple[str, ...], float], ...]:
    return tuple((tuple(words.split()), strength) for words, strength in items)


_COMMON_BLOCKERS = frozenset(
    "count cnt counts flag flags is has verified valid validated validation confirmed opt optin "
    "optout opted consent consented subscribed unsubscribed subscription bounce bounced status "
    "type types kind format hash hashed md5 sha sha1 sha256 token tokenized masked mask length "
    "len enabled disabled preference preferences pref frequency sent opened clicked template "
    "changed updated domain provider last4 lastfour bin score rank rate ratio pct percent "
    "share avg sum total min max distinct num_of number_of nr_of".split()
)

_RULES: tuple[_Rule, ...] = (
    _Rule(
        "type.email",
        _p(
            ("email", 0.5),
            ("e mail", 0.5),
            ("mail address", 0.5),
            ("mail", 0.3),
            ("courriel", 0.5),
            ("correo", 0.4),
        ),
        frozenset("campaign campaigns server host list lists open click marketing".split()),
    ),
    _Rule(
        "type.phone",
        _p(
            ("phone", 0.5),
            ("telephone", 0.5),
            ("tel", 0.45),
            ("mobile", 0.4),
            ("mobile number", 0.5),
            ("cell", 0.3),
            ("cellphone", 0.5),
            ("cell number", 0.5),
            ("msisdn", 0.5),
            ("fax", 0.45),
            ("handy", 0.35),
            ("telefon", 0.5),
            ("telefono", 0.5),
            ("telefoon", 0.5),
            ("portable", 0.3),
            ("gsm", 0.4),
            ("contact number", 0.4),
        ),
        frozenset(
            "model brand make os device app browser platform version carrier country prefix "
            "area extension ext line site view friendly web operator imei call calls".split()
        ),
    ),
    _Rule(
        "type.person_name",
        _p(
            ("first name", 0.5),
            ("last name", 0.5),
            ("given name", 0.5),
            ("family name", 0.5),
            ("full name", 0.5),
            ("middle name", 0.5),
            ("maiden name", 0.5),
            ("surname", 0.5),
            ("forename", 0.5),
            ("fname", 0.45),
            ("lname", 0.45),
            ("vorname", 0.5),
            ("nachname", 0.5),
            ("prenom", 0.5),
            ("nom", 0.3),
            ("apellido", 0.5),
            ("apellidos", 0.5),
            ("nombre", 0.35),
            ("cognome", 0.5),
            ("voornaam", 0.5),
            ("achternaam", 0.5),
            ("nickname", 0.3),
            ("display name", 0.3),
            ("cardholder", 0.45),
            ("holder name", 0.45),
            ("account holder", 0.4),
            ("emergency contact", 0.35),
        ),
        frozenset(
            "user username login screen handle product company store shop department dept "
            "campaign city street country state region file table column schema host brand "
            "category supplier vendor drug test item event project team org organization bank "
            "branch warehouse carrier plan model device app job role course school hospital "
            "clinic insurer merchant business display_only field domain server database db "
            "payee_bank".split()
        ),
    ),
    _Rule(
        "type.address",
        _p(
            ("address", 0.45),
            ("addr", 0.4),
            ("street", 0.45),
            ("street address", 0.5),
            ("address line", 0.5),
            ("strasse", 0.45),
            ("adresse", 0.45),
            ("direccion", 0.45),
            ("indirizzo", 0.45),
            ("adres", 0.45),
            ("residence", 0.3),
            ("house number", 0.35),
        ),
        frozenset(
            "email mail ip ipv4 ipv6 mac web url wallet memory server host remote bitcoin btc "
            "eth contract hardware network physical_address id book".split()
        ),
    ),
    _Rule(
        "type.postal_code",
        _p(
            ("zip", 0.5),
            ("zipcode", 0.5),
            ("zip code", 0.5),
            ("postal", 0.5),
            ("postal code", 0.5),
            ("postcode", 0.5),
            ("post code", 0.5),
            ("plz", 0.45),
            ("postleitzahl", 0.5),
            ("code postal", 0.5),
            ("pincode", 0.4),
            ("pin code", 0.4),
            ("cap", 0.0),
        ),
        frozenset("file path archive size compressed url download".split()),
    ),
    _Rule(
        "type.date_of_birth",
        _p(
            ("dob", 0.5),
            ("birth", 0.45),
            ("birth date", 0.5),
            ("date of birth", 0.5),
            ("birthdate", 0.5),
            ("birthday", 0.5),
            ("bday", 0.45),
            ("born", 0.45),
            ("geburtsdatum", 0.5),
            ("geburtstag", 0.5),
            ("naissance", 0.5),
            ("nacimiento", 0.5),
            ("nascita", 0.5),
            ("geboortedatum", 0.5),
            ("yob", 0.4),
        ),
        frozenset(
            "place city country weight height length order certificate cert rate location "
            "town".split()
        ),
    ),
    _Rule(
        "type.credit_card",
        _p(
            ("credit card", 0.5),
            ("creditcard", 0.5),
            ("card number", 0.5),
            ("cardnumber", 0.5),
            ("card no", 0.5),
            ("card num", 0.5),
            ("cc number", 0.5),
            ("cc num", 0.5),
            ("ccnum", 0.5),
            ("cc", 0.3),
            ("pan", 0.3),
            ("primary account number", 0.5),
            ("debit card", 0.45),
            ("payment card", 0.45),
            ("card", 0.3),
        ),
        frozenset(
            "brand network scheme issuer expiry exp expiration expires month year cvv cvc "
            "holder cardholder name last four id country fee present reader score report "
            "sd graphics video wild gift loyalty membership key".split()
        ),
    ),
    _Rule(
        "type.national_id",
        _p(
            ("ssn", 0.5),
            ("social security", 0.5),
            ("social security number", 0.5),
            ("sin", 0.25),
            ("nino", 0.5),
            ("national insurance", 0.5),
            ("ni number", 0.45),
            ("bsn", 0.5),
            ("burgerservicenummer", 0.5),
            ("nir", 0.45),
            ("insee", 0.4),
            ("steuer id", 0.5),
            ("steuerid", 0.5),
            ("steueridentifikationsnummer", 0.5),
            ("idnr", 0.4),
            ("tax id", 0.4),
            ("taxid", 0.4),
            ("tin", 0.3),
            ("national id", 0.5),
            ("nationalid", 0.5),
            ("national identity", 0.5),
            ("id number", 0.3),
            ("passport", 0.45),
            ("passport number", 0.5),
            ("driver license", 0.4),
            ("drivers license", 0.4),
            ("driving licence", 0.4),
            ("dni", 0.5),
            ("nie", 0.4),
            ("nif", 0.45),
            ("curp", 0.5),
            ("cpf", 0.5),
            ("aadhaar", 0.5),
            ("pesel", 0.5),
            ("personnummer", 0.5),
            ("nric", 0.5),
        ),
        frozenset("issuer country expiry exp expiration issued photo office".split()),
    ),
    _Rule(
        "type.iban",
        _p(
            ("iban", 0.5),
            ("bban", 0.45),
            ("bank account", 0.35),
            ("account number", 0.3),
            ("acct no", 0.3),
            ("kontonummer", 0.35),
        ),
        frozenset("id bic swift bank_name country holder owner currency".split()),
    ),
    _Rule(
        "type.ip_address",
        _p(
            ("ip", 0.5),
            ("ip address", 0.5),
            ("ipaddress", 0.5),
            ("ipaddr", 0.5),
            ("ipv4", 0.5),
            ("ipv6", 0.5),
            ("remote addr", 0.45),
            ("x forwarded for", 0.45),
            ("forwarded for", 0.4),
        ),
        frozenset("version country city region geo location asn org isp range block".split()),
    ),
    _Rule(
        "type.geo",
        _p(
            ("latitude", 0.5),
            ("longitude", 0.5),
            ("lat", 0.45),
            ("lon", 0.45),
            ("lng", 0.45),
            ("long", 0.25),
            ("geo", 0.35),
            ("geolocation", 0.45),
            ("coordinates", 0.45),
            ("coordinate", 0.45),
            ("coords", 0.45),
            ("coord", 0.4),
            ("gps", 0.45),
            ("geopoint", 0.5),
            ("latlng", 0.5),
            ("latlon", 0.5),
            ("location", 0.25),
            ("geom", 0.35),
            ("geometry", 0.35),
        ),
        frozenset(
            "country city region accuracy precision source timezone zone name id code "
            "description desc label term lived".split()
        ),
    ),
    _Rule(
        "type.free_text_pii",
        _p(
            ("comment", 0.35),
            ("comments", 0.35),
            ("notes", 0.35),
            ("note", 0.3),
            ("remark", 0.35),
            ("remarks", 0.35),
            ("message", 0.3),
            ("messages", 0.3),
            ("msg", 0.25),
            ("body", 0.25),
            ("feedback", 0.35),
            ("review", 0.3),
            ("free text", 0.35),
            ("freetext", 0.35),
            ("memo", 0.3),
            ("complaint", 0.35),
            ("transcript", 0.35),
            ("narrative", 0.35),
            ("bio", 0.3),
            ("chat", 0.3),
            ("description", 0.15),
            ("text", 0.2),
        ),
        frozenset("id date at sentiment rating language lang topic category subject label".split()),
    ),
)

_PERSON_TABLE_WORDS = frozenset(
    "customer customers patient patients employee employees user users person persons people "
    "member members contact contacts client clients student students staff physician "
    "physicians doctor doctors author authors applicant applicants candidate candidates "
    "subscriber subscribers guest guests passenger passengers traveler travelers traveller "
    "travellers donor donors volunteer volunteers worker workers account_holders holders "
    "beneficiaries beneficiary owner owners tenant tenants resident residents citizen citizens "
    "voter voters lead leads prospect prospects".split()
)
_PERSON_NAME_QUALIFIERS = _PERSON_TABLE_WORDS | frozenset(
    "contact owner holder recipient sender buyer seller payee payer beneficiary guardian parent "
    "spouse manager supervisor agent representative rep teacher nurse driver signer".split()
)

_VOCAB: frozenset[str] = frozenset(
    {w for rule in _RULES for phrase, _ in rule.phrases for w in phrase}
    | {w for rule in _RULES for w in rule.blockers}
    | _COMMON_BLOCKERS
    | _PERSON_NAME_QUALIFIERS
    | set(
        "name names date of id code number no num year day academic customer order product "
        "home work billing shipping mailing primary secondary alt alternate business personal "
        "private office line one two verified opt in out has is".split()
    )
)


def _word_break(word: str) -> list[str]:
    """Cut ``word`` entirely into vocabulary words (longest first), or return it whole."""
    if word in _VOCAB or len(word) < 5:
        return [word]
    best: list[list[str] | None] = [None] * (len(word) + 1)
    best[0] = []
    for end in range(1, len(word) + 1):
        for start in range(max(0, end - 30), end):
            head = best[start]
            piece = word[start:end]
            if head is not None and piece in _VOCAB and (len(piece) > 1 or piece == "e"):
                candidate = [*head, piece]
                current = best[end]
                if current is None or len(candidate) < len(current):
                    best[end] = candidate
    result = best[len(word)]
    return result if result is not None else [word]


@functools.lru_cache(maxsize=4096)
def tokens(name: str) -> tuple[str, ...]:
    """Lower-case words of a column or dataset name (``custEmailAddr`` → cust email addr)."""
    words: list[str] = []
    for piece in _CAMEL.findall(name.replace("ß", "ss")):
        lowered = piece.lower()
        if lowered.isdigit():
            continue
        words.extend(_word_break(lowered))
    return tuple(words)


def _contains(words: tuple[str, ...], phrase: tuple[str, ...]) -> bool:
    n = len(phrase)
    return any(words[i : i + n] == phrase for i in range(len(words) - n + 1))


@dataclass(frozen=True)
class NameHint:
    """One type a name suggests, with the detector's strength and the words that matched."""

    type: str
    strength: float
    words: tuple[str, ...]
    context: str = ""


def _blocked(rule: _Rule, words: Iterable[str]) -> bool:
    blockers = rule.blockers | _COMMON_BLOCKERS
    return any(w in blockers for w in words)


@functools.lru_cache(maxsize=4096)
def name_hints(column: str, dataset: str, kind: str) -> tuple[NameHint, ...]:
    """Types suggested by a column's words, its dataset's words and its declared kind."""
    words = tokens(column)
    if not words or kind in (BOOLEAN, BINARY, OTHER):
        return ()
    table = set(tokens(dataset))
    hints: list[NameHint] = []
    for rule in _RULES:
        if kind not in ALLOWED_KINDS[rule.type] or _blocked(rule, words):
            continue
        best: tuple[float, tuple[str, ...]] | None = None
        for phrase, strength in rule.phrases:
            if strength > 0 and _contains(words, phrase) and (best is None or strength > best[0]):
                best = (strength, phrase)
        context = ""
        if rule.type == "type.person_name" and best is None:
            best, context = _bare_name(words, table)
        if rule.type == "type.address" and best is None and "line" in words:
            if table & {"address", "addresses"}:
                best, context = (0.4, ("line",)), "in an address table"
        if best is None:
            continue
        strength, phrase = best
        if rule.type == "type.date_of_birth" and kind == INTEGER and "year" not in words:
            continue  # an integer is a birth *year* or nothing
        if rule.type == "type.geo" and phrase == ("long",) and kind not in (FLOAT, DECIMAL):
            continue
        if rule.type == "type.ip_address" and kind == INTEGER and phrase == ("ip",):
            strength = min(strength, 0.3)
        hints.append(NameHint(rule.type, strength, phrase, context))
    return tuple(hints)


def _bare_name(
    words: tuple[str, ...], table: set[str]
) -> tuple[tuple[float, tuple[str, ...]] | None, str]:
    """``name`` qualified by a person word (``customer_name``), or alone in a people table."""
    if "name" not in words and "names" not in words:
        return None, ""
    qualifiers = [w for w in words if w in _PERSON_NAME_QUALIFIERS]
    if qualifiers:
        return (0.45, (qualifiers[0], "name")), ""
    if len(words) == 1 and table & _PERSON_TABLE_WORDS:
        return (0.35, ("name",)), "in a table of people"
    return None, ""
