"""Per-value validators: does one value have the structure and check digits of a type?

Every function here takes one already-normalised value (a stripped ``str`` cut to
:data:`MAX_VALUE_CHARS`, or a number or date) and answers with a small label (the card
network, the IBAN country, the national-id scheme, the phone region) or ``None``. They never
log, print or keep a value. Column-level statistics live in ``_detectors``.

Check rules implemented (all written for Lakeward from the public specifications):

- **Cards**: Luhn mod 10 plus the network's IIN prefix *and* its allowed lengths (Visa, Mastercard,
  American Express, Discover, JCB incl. the old 15-digit 1800/2131, Diners Club, UnionPay,
  Maestro in its broad 50/56-69 range, Mir).
- **IBAN**: ISO 13616 country length table and the ISO 7064 mod 97-10 check.
- **National ids**: US SSN (area not 000/666/9xx, group not 00, serial not 0000,
  advertised specimens rejected; the bare 9-digit form only when the caller allows it), UK
  National Insurance number (prefix letter rules), NL BSN (11-proof), FR NIR (key = 97 − n mod
  97, Corsica 2A/2B), DE Steuer-ID (digit-repetition rule and ISO 7064 mod 11,10), ES DNI/NIE
  (mod 23 letter); with a birth date and check digits: PL PESEL, NO fødselsnummer, BE national
  number, RO CNP, GR AMKA, SE personnummer and FI HETU (dashed), KR RRN (dashed); with check
  digits: TR kimlik, BR CPF, IT codice fiscale, and only as written: CA SIN (``### ### ###``,
  Luhn), CH AHV (``756.####.####.##``), AR CUIT/CUIL (``##-########-#``). Random 11-digit
  strings pass one of them about 5% of the time, far under the column gate.
- **Email**: RFC 5322 dot-atom local part, LDH domain labels, an alphabetic TLD that is not a
  common file extension (``icon@2x.png`` is a file name).
- **Phone**: a cheap shape filter, then ``phonenumbers`` validity with region guesses, or a
  possible length when the writing says phone (``+``, trunk ``0``, NANP punctuation, an area
  code in parentheses); bare digit strings pass only when the caller allows it (they are ids
  as often as phones).
- **IP**: :mod:`ipaddress` (IPv4 without leading zeros, IPv6).
- **Dates, coordinates, postal codes, street addresses**: shapes and ranges; see each function.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

import phonenumbers

MAX_VALUE_CHARS = 65_536
"""Only this many leading characters of a value are ever looked at (a 10 MB cell costs 64 KiB)."""

# --------------------------------------------------------------------------------------------
# Luhn, cards
# --------------------------------------------------------------------------------------------

_CARD_SHAPE = re.compile(
    r"\d{12,19}|\d{4}(?:[ -]\d{4}){2,3}(?:[ -]\d{1,3})?|\d{4}[ -]\d{6}[ -]\d{4,5}"
)

# (network, prefix ranges as (low, high) over the first len(str(low)) digits, allowed lengths)
_NETWORKS: tuple[tuple[str, tuple[tuple[int, int], ...], frozenset[int]], ...] = (
    ("American Express", ((34, 34), (37, 37)), frozenset({15})),
    ("Visa", ((4, 4),), frozenset({13, 16, 19})),
    ("Mastercard", ((51, 55), (2221, 2720)), frozenset({16})),
    ("Mir", ((2200, 2204),), frozenset({16, 17, 18, 19})),
    ("Discover", ((6011, 6011), (644, 649), (65, 65), (622126, 622925)), frozenset(range(16, 20))),
    ("JCB", ((3528, 3589),), frozenset(range(16, 20))),
    ("JCB", ((1800, 1800), (2131, 2131)), frozenset({15})),
    ("Diners Club", ((300, 305), (3095, 3095), (36, 36), (38, 39)), frozenset(range(14, 20))),
    ("UnionPay", ((62, 62),), frozenset(range(16, 20))),
    (
        "Maestro",
        ((5018, 5018), (5020, 5020), (5038, 5038), (5893, 5893), (6304, 6304), (6759, 6759)),
        frozenset(range(12, 20)),
    ),
    ("Maestro", ((6761, 6763),), frozenset(range(12, 20))),
    ("Maestro", ((50, 50), (56, 69)), frozenset(range(12, 20))),
)


def luhn_ok(digits: str) -> bool:
    """Whether a digit string passes the Luhn mod 10 check."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def card_network(digits: str) -> str | None:
    """The card network whose IIN prefix and length fit ``digits``, or ``None``."""
    n = len(digits)
    for name, ranges, lengths in _NETWORKS:
        if n not in lengths:
            continue
        for low, high in ranges:
            width = len(str(low))
            head = int(digits[:width])
            if low <= head <= high:
                return name
    return None


def card(value: str) -> str | None:
    """Network of a card number (Luhn, IIN prefix and length all fit), or ``None``.

    Accepts the bare digits or groups of four separated by spaces or dashes (and Amex 4-6-5).
    """
    if len(value) > 23 or not _CARD_SHAPE.fullmatch(value):
        return None
    digits = value.replace(" ", "").replace("-", "")
    network = card_network(digits)
    if network is None or not luhn_ok(digits):
        return None
    return network


# --------------------------------------------------------------------------------------------
# IBAN
# --------------------------------------------------------------------------------------------

IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27,
    "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27,
    "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22,
    "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32,
    "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
    "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23, "PK": 24,
    "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24, "SC": 31,
    "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28, "TL": 23,
    "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}  # fmt: skip
"""IBAN length per ISO 3166 country code (ISO 13616 registry)."""

_IBAN_SHAPE = re.compile(r"[A-Za-z]{2}\d{2}(?:[ ]?[A-Za-z0-9]){11,30}")


def iban(value: str) -> str | None:
    """Country code of a valid IBAN (length for the country and mod 97 == 1), or ``None``."""
    if len(value) > 42 or not _IBAN_SHAPE.fullmatch(value):
        return None
    compact = value.replace(" ", "").upper()
    country = compact[:2]
    if IBAN_LENGTHS.get(country) != len(compact):
        return None
    moved = compact[4:] + compact[:4]
    numeric = "".join(str(int(ch, 36)) for ch in moved)
    return country if int(numeric) % 97 == 1 else None


# --------------------------------------------------------------------------------------------
# National ids
# --------------------------------------------------------------------------------------------

_SSN_DASHED = re.compile(r"(\d{3})[- ](\d{2})[- ](\d{4})")
_SSN_BARE = re.compile(r"(\d{3})(\d{2})(\d{4})")
_SSN_SPECIMENS = frozenset({"078051120", "219099999", "123456789"})
_NINO = re.compile(
    r"([A-CEGHJ-PR-TW-Z])([A-CEGHJ-NPR-TW-Z]) ?(\d{2}) ?(\d{2}) ?(\d{2}) ?([A-D])", re.IGNORECASE
)
_NINO_BAD_PREFIXES = frozenset({"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"})
_BSN = re.compile(r"\d{9}|\d{4}\.\d{2}\.\d{3}")
_NIR = re.compile(
    r"([1-478]) ?(\d{2}) ?(0[1-9]|1[0-2]|[2-9]\d) ?(\d{2}|2[AB]) ?(\d{3}) ?(\d{3}) ?(\d{2})",
    re.IGNORECASE,
)
_STEUER_ID = re.compile(r"[1-9]\d{10}|[1-9]\d (?:\d{3} ){2}\d{3}")
_DNI = re.compile(r"([XYZ]?)-?(\d{7,8})-?([A-Z])", re.IGNORECASE)
_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"


def us_ssn(value: str, *, allow_bare: bool) -> bool:
    """US Social Security number structure (dashed ``AAA-GG-SSSS``, bare digits if allowed)."""
    m = _SSN_DASHED.fullmatch(value) or (_SSN_BARE.fullmatch(value) if allow_bare else None)
    if m is None:
        return False
    area, group, serial = m.groups()
    if area in ("000", "666") or area[0] == "9" or group == "00" or serial == "0000":
        return False
    return area + group + serial not in _SSN_SPECIMENS


def uk_nino(value: str) -> bool:
    """UK National Insurance number: two prefix letters, six digits, suffix A-D."""
    m = _NINO.fullmatch(value)
    return m is not None and (m[1] + m[2]).upper() not in _NINO_BAD_PREFIXES


def nl_bsn(value: str) -> bool:
    """Dutch citizen service number: nine digits passing the 11-proof."""
    if not _BSN.fullmatch(value):
        return False
    d = [ord(c) - 48 for c in value if c != "."]
    total = sum((9 - i) * d[i] for i in range(8)) - d[8]
    return total % 11 == 0 and any(d)


def fr_nir(value: str) -> bool:
    """French NIR (social security number): 13 digits plus the mod 97 key."""
    m = _NIR.fullmatch(value)
    if m is None:
        return False
    sex, yy, mm, dept, commune, order, key = m.groups()
    dept_num = {"2A": "19", "2B": "18"}.get(dept.upper(), dept)
    body = int(sex + yy + mm + dept_num + commune + order)
    return 97 - body % 97 == int(key)


def de_steuer_id(value: str) -> bool:
    """German tax identification number: digit-repetition rule and ISO 7064 mod 11,10."""
    if not _STEUER_ID.fullmatch(value):
        return False
    digits = value.replace(" ", "")
    head = digits[:10]
    counts = sorted((head.count(c) for c in set(head)), reverse=True)
    if counts[0] not in (2, 3) or (len(counts) > 1 and counts[1] != 1):
        return False
    product = 10
    for ch in head:
        total = (ord(ch) - 48 + product) % 10 or 10
        product = (total * 2) % 11
    check = (11 - product) % 10
    return check == ord(digits[10]) - 48


def es_dni(value: str) -> bool:
    """Spanish DNI (8 digits + letter) or NIE (X/Y/Z + 7 digits + letter), mod 23 letter."""
    m = _DNI.fullmatch(value)
    if m is None:
        return False
    prefix, number, letter = m.groups()
    if prefix:
        if len(number) != 7:
            return False
        number = str("XYZ".index(prefix.upper())) + number
    elif len(number) != 8:
        return False
    return _DNI_LETTERS[int(number) % 23] == letter.upper()


def _date_ok(yy: int, mm: int, dd: int) -> bool:
    """Whether day ``dd`` of month ``mm`` exists in some year ending in ``yy``."""
    if not 1 <= mm <= 12 or dd < 1:
        return False
    days = (31, 29 if yy % 4 == 0 else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
    return dd <= days[mm - 1]


def _weighted(digits: str, weights: Sequence[int]) -> int:
    return sum((ord(c) - 48) * w for c, w in zip(digits, weights, strict=False))


_SIN = re.compile(r"([1-79]\d{2})([ -])(\d{3})\2(\d{3})")
_AHV = re.compile(r"756\.\d{4}\.\d{4}\.\d{2}")
_NORDIC = re.compile(r"(\d{2})(\d{2})(\d{2})([-+A-FU-Y])(\d{3})([0-9A-Y])", re.IGNORECASE)
_SE_PNR = re.compile(r"(?:19|20)?(\d{2})(\d{2})(\d{2})[-+](\d{4})")
_KR_RRN = re.compile(r"(\d{2})(\d{2})(\d{2})-([1-8]\d{6})")
_CUIT = re.compile(r"(2[03-7]|3[034])-(\d{8})-(\d)")
_CF = re.compile(r"[A-Z]{6}\d{2}[ABCDEHLMPRST]\d{2}[A-Z]\d{3}[A-Z]", re.IGNORECASE)
_CF_ODD = (1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25,
           24, 23)  # fmt: skip
_HETU_CHARS = "0123456789ABCDEFHJKLMNPRSTUVWXY"


def ca_sin(value: str) -> bool:
    """Canadian Social Insurance Number, written ``### ### ###`` or with dashes, Luhn."""
    m = _SIN.fullmatch(value)
    return m is not None and luhn_ok(m[1] + m[3] + m[4])


def ch_ahv(value: str) -> bool:
    """Swiss AHV/AVS number ``756.####.####.##`` (EAN-13 check digit)."""
    if not _AHV.fullmatch(value):
        return False
    digits = value.replace(".", "")
    total = _weighted(digits[:12], (1, 3) * 6)
    return (10 - total % 10) % 10 == ord(digits[12]) - 48


def fi_hetu(value: str) -> bool:
    """Finnish personal identity code ``DDMMYYCZZZQ`` (century sign, mod 31 check character)."""
    m = _NORDIC.fullmatch(value)
    if m is None or not _date_ok(int(m[3]), int(m[2]), int(m[1])):
        return False
    return _HETU_CHARS[int(m[1] + m[2] + m[3] + m[5]) % 31] == m[6].upper()


def se_personnummer(value: str) -> bool:
    """Swedish personal identity number ``YYMMDD-NNNN`` (date, day + 60 allowed; Luhn)."""
    m = _SE_PNR.fullmatch(value)
    if m is None:
        return False
    day = int(m[3])
    if not _date_ok(int(m[1]), int(m[2]), day - 60 if day > 60 else day):
        return False
    return luhn_ok(m[1] + m[2] + m[3] + m[4])


def kr_rrn(value: str) -> bool:
    """South Korean resident registration number ``YYMMDD-SNNNNNC`` (date, mod 11 check)."""
    m = _KR_RRN.fullmatch(value)
    if m is None or not _date_ok(int(m[1]), int(m[2]), int(m[3])):
        return False
    digits = m[1] + m[2] + m[3] + m[4]
    total = _weighted(digits, (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5))
    return (11 - total % 11) % 10 == ord(digits[12]) - 48


def ar_cuit(value: str) -> bool:
    """Argentine CUIT/CUIL ``XX-XXXXXXXX-X`` (mod 11 check digit)."""
    m = _CUIT.fullmatch(value)
    if m is None:
        return False
    total = _weighted(m[1] + m[2], (5, 4, 3, 2, 7, 6, 5, 4, 3, 2))
    check = 11 - total % 11
    return {11: 0, 10: 9}.get(check, check) == int(m[3])


def it_codice_fiscale(value: str) -> bool:
    """Italian codice fiscale (16 characters, date and sex part, check letter)."""
    if len(value) != 16 or not _CF.fullmatch(value):
        return False
    text = value.upper()
    day = int(text[9:11])
    if not 1 <= day <= 31 and not 41 <= day <= 71:
        return False
    total = 0
    for i, ch in enumerate(text[:15]):
        n = ord(ch) - 48 if ch.isdigit() else ord(ch) - 65
        total += _CF_ODD[n] if i % 2 == 0 else n
    return chr(65 + total % 26) == text[15]


def pl_pesel(value: str) -> bool:
    """Polish PESEL: 11 digits, a birth date (century in the month) and a check digit."""
    if len(value) != 11 or not value.isdigit():
        return False
    month = int(value[2:4]) % 20
    if not _date_ok(int(value[:2]), month, int(value[4:6])) or int(value[2:4]) > 92:
        return False
    total = _weighted(value, (1, 3, 7, 9, 1, 3, 7, 9, 1, 3))
    return (10 - total % 10) % 10 == ord(value[10]) - 48


def no_fodselsnummer(value: str) -> bool:
    """Norwegian national identity number: 11 digits, a birth date, two mod 11 checks."""
    if len(value) != 11 or not value.isdigit():
        return False
    day = int(value[:2])
    if not _date_ok(int(value[4:6]), int(value[2:4]), day - 40 if day > 40 else day):
        return False
    k1 = 11 - _weighted(value, (3, 7, 6, 1, 8, 9, 4, 5, 2)) % 11
    k2 = 11 - _weighted(value, (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)) % 11
    return (k1 % 11) == ord(value[9]) - 48 and (k2 % 11) == ord(value[10]) - 48


def be_national_number(value: str) -> bool:
    """Belgian national register number: 11 digits, ``YYMMDD`` (or 0000), mod 97 check."""
    if len(value) != 11 or not value.isdigit():
        return False
    yy, mm, dd = int(value[:2]), int(value[2:4]), int(value[4:6])
    if not (mm == dd == 0 or _date_ok(yy, mm, dd)):
        return False
    check = int(value[9:])
    return 97 - int(value[:9]) % 97 == check or 97 - int("2" + value[:9]) % 97 == check


def ro_cnp(value: str) -> bool:
    """Romanian personal numeric code: 13 digits, sex/century, a birth date, a check digit."""
    if len(value) != 13 or not value.isdigit() or value[0] == "0":
        return False
    if not _date_ok(int(value[1:3]), int(value[3:5]), int(value[5:7])):
        return False
    check = _weighted(value, (2, 7, 9, 1, 4, 6, 3, 5, 8, 2, 7, 9)) % 11
    return (1 if check == 10 else check) == ord(value[12]) - 48


def tr_kimlik(value: str) -> bool:
    """Turkish identity number: 11 digits, no leading 0, two check digits."""
    if len(value) != 11 or not value.isdigit() or value[0] == "0":
        return False
    d = [ord(c) - 48 for c in value]
    if (7 * sum(d[0:9:2]) - sum(d[1:8:2])) % 10 != d[9]:
        return False
    return sum(d[:10]) % 10 == d[10]


def br_cpf(value: str) -> bool:
    """Brazilian CPF: 11 digits (or ``###.###.###-##``), two mod 11 check digits."""
    digits = value.replace(".", "").replace("-", "") if len(value) == 14 else value
    if len(digits) != 11 or not digits.isdigit() or len(set(digits)) == 1:
        return False
    if len(value) == 14 and not re.fullmatch(r"\d{3}\.\d{3}\.\d{3}-\d{2}", value):
        return False
    for n in (9, 10):
        total = _weighted(digits, range(n + 1, 1, -1))
        if (total * 10 % 11) % 10 != ord(digits[n]) - 48:
            return False
    return True


def gr_amka(value: str) -> bool:
    """Greek social security number (AMKA): 11 digits, ``DDMMYY`` birth date, Luhn."""
    if len(value) != 11 or not value.isdigit():
        return False
    return _date_ok(int(value[4:6]), int(value[2:4]), int(value[:2])) and luhn_ok(value)


_BARE_11 = (
    ("PL PESEL", pl_pesel),
    ("NO fodselsnummer", no_fodselsnummer),
    ("BE national number", be_national_number),
    ("TR kimlik", tr_kimlik),
    ("BR CPF", br_cpf),
    ("GR AMKA", gr_amka),
)


def national_id(value: str, *, allow_bare_ssn: bool) -> str | None:
    """The national-id scheme whose format and check rule ``value`` passes, or ``None``."""
    if len(value) > 24:
        return None
    if us_ssn(value, allow_bare=allow_bare_ssn):
        return "US SSN"
    if uk_nino(value):
        return "UK NINO"
    if nl_bsn(value):
        return "NL BSN"
    if fr_nir(value):
        return "FR NIR"
    if de_steuer_id(value):
        return "DE Steuer-ID"
    if es_dni(value):
        return "ES DNI/NIE"
    n = len(value)
    if n == 11 and value.isdigit():
        for label, check in _BARE_11:
            if check(value):
                return label
        return None
    if n == 14 and br_cpf(value):
        return "BR CPF"
    if n == 11 and (se_personnummer(value) or fi_hetu(value)):
        return "SE/FI personal number"
    if n == 13 and (value.isdigit() and ro_cnp(value)):
        return "RO CNP"
    if n == 14 and kr_rrn(value):
        return "KR RRN"
    if n == 13 and ar_cuit(value):
        return "AR CUIT/CUIL"
    if n == 11 and ca_sin(value):
        return "CA SIN"
    if n == 16 and ch_ahv(value):
        return "CH AHV"
    if n == 16 and it_codice_fiscale(value):
        return "IT codice fiscale"
    return None


# --------------------------------------------------------------------------------------------
# Email
# --------------------------------------------------------------------------------------------

_ATOM = r"[\w!#$%&'*+/=?^`{|}~-]+"
_LABEL = r"[^\W_](?:[\w-]{0,61}[^\W_])?"
_EMAIL = re.compile(
    rf"({_ATOM}(?:\.{_ATOM})*)@((?:{_LABEL}\.)+)([^\W\d_]{{2,24}}|xn--[a-z0-9-]{{2,59}})"
)
_ANGLE = re.compile(r"[^<>@]*<([^<>]+)>")
_FILE_EXTENSIONS = frozenset(
    "png jpg jpeg gif svg webp bmp ico tif tiff pdf txt csv tsv json xml yaml yml html htm css js "
    "ts py rb java php exe dll bin gz tgz bz2 xz zip rar doc docx xls xlsx ppt pptx mp3 mp4 wav "
    "avi mkv log md ini cfg conf lock tmp bak".split()
)


def email(value: str) -> bool:
    """RFC 5322-lite address syntax with an alphabetic TLD (``Name <addr>`` is accepted)."""
    if len(value) > 320 or "@" not in value:
        return False
    if value.endswith(">"):
        m = _ANGLE.fullmatch(value)
        if m is None:
            return False
        value = m[1].strip()
    m = _EMAIL.fullmatch(value)
    if m is None or len(m[1]) > 64 or len(m[2]) + len(m[3]) > 255:
        return False
    return m[3].lower() not in _FILE_EXTENSIONS


# --------------------------------------------------------------------------------------------
# Phone numbers
# --------------------------------------------------------------------------------------------

_PHONE_SHAPE = re.compile(
    r"(\+|00|\(\+)?[\d\s().\-/]{6,24}?(?:\s*(?:ext\.?|x|#)\s*\d{1,6})?", re.IGNORECASE
)
_PHONE_EXT = re.compile(r"\s*(?:ext\.?|x|#)\s*\d{1,6}$", re.IGNORECASE)
_NOT_PHONE = re.compile(
    r"\d{5}-\d{4}"  # US ZIP+4
    r"|\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}"  # dates
    r"|\d{1,3}(?:[.,]\d{3})+(?:[.,]\d{1,2})?"  # grouped amounts
    r"|\d+\.\d+"  # decimals
)
TRUNK_ZERO_REGIONS: tuple[str, ...] = (
    "GB", "DE", "FR", "NL", "IT", "AU", "CH", "AT", "BE", "IE", "SE", "FI", "NZ", "ZA", "JP", "TR",
)  # fmt: skip
"""Regions tried, in column-learned order, for national numbers written with a leading 0."""


class PhoneChecker:
    """Validates phone numbers with ``phonenumbers``, learning a column's regions as it goes.

    International numbers (``+`` or ``00``) are parsed as such. National numbers need phone
    formatting (spaces, dashes, dots or parentheses) unless ``allow_bare`` is set, because a
    bare digit string is an id as often as a phone: 40-90% of random 10-digit strings are valid
    numbers in some region. A leading 0 means a trunk prefix (tried in
    :data:`TRUNK_ZERO_REGIONS`, best region so far first); otherwise the regions whose national
    numbers have that many digits and no trunk prefix (:data:`NO_TRUNK_REGIONS`: NANP for 10
    digits or 11 starting with 1, Spain, Poland, Denmark, ...). Allowed bare strings of 11+
    digits are tried as MSISDNs (country code without ``+``) first, 10-digit ones after the
    national rules.

    **Possible, not valid.** Many real-looking numbers fail ``is_valid_number`` (a new or
    unassigned range; generated test data draws random digits), so a number that is not valid
    still passes, labelled ``"possible"``, when the *writing* says phone: an explicit ``+``
    (or a formatted ``00``) with a length that is possible for its country code; or a formatted
    national number with a trunk ``0`` and a length possible in a trunk-zero region, or in the
    NANP punctuation (``(415) 555-2671``, ``415-555-2671``, ``415.555.2671``). Shapes that other
    identifiers use are never phones: ZIP+4, dates, amounts, the SSN's ``3-2-4`` dashes, the
    Nordic personal number's ``6-4`` and numbers with one repeated digit. Free text, where a
    run of digits is anything, passes ``allow_possible=False``: valid numbers only, and without
    a trunk prefix only NANP and Spanish mobile numbers ("ref 123456-78" is valid in Denmark).
    """

    def __init__(self, *, allow_bare: bool, allow_possible: bool = True) -> None:
        self.allow_bare = allow_bare
        self.allow_possible = allow_possible
        self._hits: dict[str, int] = dict.fromkeys(TRUNK_ZERO_REGIONS, 0)
        self._plain_hits: dict[str, int] = dict.fromkeys(
            {r for regions in NO_TRUNK_REGIONS.values() for r in regions}, 0
        )
        self._cache: dict[str, str | None] = {}

    def region(self, value: str) -> str | None:
        """ISO region of a valid phone number, ``"possible"`` for a possible one, or ``None``."""
        if len(value) > 32 or len(value) < 7:
            return None
        if value in self._cache:
            return self._cache[value]
        result = self._region(value)
        if result == "possible" and not self.allow_possible:
            result = None
        self._cache[value] = result
        return result

    def _region(self, value: str) -> str | None:
        if not _PHONE_SHAPE.fullmatch(value):
            return None
        body = _PHONE_EXT.sub("", value)
        if _NOT_PHONE.fullmatch(body) or _ID_SHAPES.fullmatch(body):
            return None
        digits = "".join(ch for ch in body if ch.isdigit())
        if not 7 <= len(digits) <= 15 or len(set(digits)) <= 2:
            return None
        stripped = body.lstrip()
        bare = digits == stripped
        if stripped.startswith("+"):
            return _parse_valid(body, None, possible=True)
        if stripped.startswith("00"):
            return _parse_valid("+" + stripped[2:], None, possible=not bare)
        if bare:
            if not self.allow_bare:
                return None
            if len(digits) >= 11 and digits[0] != "0":  # MSISDN: country code, no "+"
                found = _parse_valid("+" + digits, None)
                if found is not None:
                    return found
        if digits[0] == "0":
            order = sorted(self._hits, key=self._hits.__getitem__, reverse=True)
            for region in order:
                if _parse_valid(body, region) == region:
                    self._hits[region] += 1
                    return region
            if not bare and len(digits) >= 8:
                for region in order[:4]:
                    if _parse_valid(body, region, possible=True) is not None:
                        return "possible"
            return None
        if not bare and len(digits) == 11 and digits[0] == "8":  # 8 = trunk prefix (RU, KZ)
            return _parse_valid("+7" + digits[1:], None, possible=True)
        if not bare and _NANP_WRITTEN.fullmatch(body):
            return _parse_valid(body, "US", possible=True)  # no other region to try
        found = self._no_trunk(body, digits)
        if found is not None:
            return found
        if len(digits) == 10 and digits[0] in "6789":
            found = _parse_valid(body, "IN")
            if found is not None:
                return found
        if bare and len(digits) == 10:  # a short MSISDN (+49 30 …)
            return _parse_valid("+" + digits, None)
        if not bare and _AREA_IN_PARENS.fullmatch(body):
            return "possible"
        return None

    def _no_trunk(self, body: str, digits: str) -> str | None:
        regions = NO_TRUNK_REGIONS.get(len(digits), ())
        if len(digits) == 11 and digits[0] == "1":
            regions = ("US",)
        elif not self.allow_possible:  # free text: NANP and Spanish mobiles only
            regions = tuple(r for r in regions if r == "US" or (r == "ES" and digits[0] in "6789"))
        for region in sorted(regions, key=self._plain_hits.__getitem__, reverse=True):
            found = _parse_valid(body, region)
            if found is not None:
                self._plain_hits[region] += 1
                return found
        return None


NO_TRUNK_REGIONS: dict[int, tuple[str, ...]] = {
    8: ("DK", "NO"),
    9: ("ES", "PL", "CZ", "PT", "SK"),
    10: ("US", "GR"),
}
"""National numbers without a trunk prefix, by digit count: the regions tried (NANP first)."""

_ID_SHAPES = re.compile(
    r"\d{3}-\d{2}-\d{4}"  # US SSN
    r"|\d{6}[-+]\d{4}"  # Nordic personal numbers (SE, DK)
    r"|\d{5}-\d{3}|\d{4}-\d{3}"  # postal codes (BR, PT)
    r"|\d{3}\.\d{4}\.\d{4}\.\d{2}"  # Swiss AHV number
    r"|\d-\d{3}-\d{5}-\d|\d{1,5}-\d{1,7}-\d{1,6}-[\dX]"  # ISBN-10 groups
)
_NANP_WRITTEN = re.compile(
    r"(?:\+?1[ .-]?|001[ .-]?)?(?:\(\d{3}\) ?\d{3}[-. ]?|\d{3}([-. ])\d{3}\1)\d{4}"
)
_AREA_IN_PARENS = re.compile(  # "(0)30 1234567", "8 (972) 228-58-39", "(+30) 6994 591727"
    r"(?:\+?\d{1,3}[ -]?)?\((?:\+?\d{1,4}|0)\)[ -]?\d{1,5}(?:[ .-]?\d{2,8}){1,3}"
)


def _parse_valid(text: str, region: str | None, *, possible: bool = False) -> str | None:
    """Region of a valid number; with ``possible``, ``"possible"`` for a possible length."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if region is not None and phonenumbers.is_valid_number_for_region(number, region):
        return region  # cheaper than is_valid_number, which tries every region of the code
    if possible and region is not None and _possible(number):
        return "possible"  # passes either way: skip the search through the code's regions
    if not phonenumbers.is_valid_number(number):
        if possible and _possible(number):
            return "possible"
        return None
    # the calling code's main region: cheaper than region_code_for_number, enough for a label
    return phonenumbers.region_code_for_country_code(number.country_code or 0)


def _possible(number: phonenumbers.PhoneNumber) -> bool:
    if phonenumbers.region_code_for_country_code(number.country_code or 0) == "ZZ":
        return False
    national = str(number.national_number)
    if len(set(national)) <= 2:
        return False
    reason = phonenumbers.is_possible_number_with_reason(number)
    return bool(reason == phonenumbers.ValidationResult.IS_POSSIBLE)


# --------------------------------------------------------------------------------------------
# IP addresses
# --------------------------------------------------------------------------------------------

_IP_CHARS = frozenset("0123456789abcdefABCDEF.:%")


def ip_version(value: str) -> str | None:
    """``"IPv4"`` or ``"IPv6"`` for a single address (no port, no prefix length), else ``None``."""
    if not 7 <= len(value) <= 45 or not (("." in value) or (":" in value)):
        return None
    if not _IP_CHARS.issuperset(value.split("%", 1)[0]):
        return None
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    return "IPv4" if address.version == 4 else "IPv6"


# --------------------------------------------------------------------------------------------
# Dates
# --------------------------------------------------------------------------------------------

_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[T ]00:00(?::00(?:\.0+)?)?(?:Z|[+-]00:?00)?)?")
_DMY = re.compile(r"(\d{1,2})([./-])(\d{1,2})\2(\d{4})")
_YMD_SLASH = re.compile(r"(\d{4})/(\d{1,2})/(\d{1,2})")


def as_date(value: object) -> dt.date | None:
    """A calendar date from a ``date``, a midnight ``datetime`` or a date string, else ``None``.

    Timestamps with a time of day are not dates of birth: event times are what they usually
    are. Strings: ``YYYY-MM-DD`` (optionally ``T00:00:00``), ``YYYY/MM/DD``, and
    ``DD.MM.YYYY`` / ``DD/MM/YYYY`` / ``MM/DD/YYYY`` (day-first unless impossible).
    """
    if isinstance(value, dt.datetime):
        if value.time() != dt.time(0, 0):
            return None
        return value.date()
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str) or not 8 <= len(value) <= 30:
        return None
    m = _ISO_DATE.fullmatch(value) or _YMD_SLASH.fullmatch(value)
    try:
        if m is not None:
            return dt.date(int(m[1]), int(m[2]), int(m[3]))
        m = _DMY.fullmatch(value)
        if m is None:
            return None
        first, second, year = int(m[1]), int(m[3]), int(m[4])
        if first > 12:
            return dt.date(year, second, first)
        if second > 12:
            return dt.date(year, first, second)
        return dt.date(year, second, first)
    except ValueError:
        return None


# --------------------------------------------------------------------------------------------
# Coordinates
# --------------------------------------------------------------------------------------------

_NUM = r"[-+]?\d{1,3}(?:\.\d+)?"
_LAT_LON = re.compile(rf"\(?\s*({_NUM})\s*[,; ]\s*({_NUM})\s*\)?")
_WKT_POINT = re.compile(rf"POINT\s*\(\s*({_NUM})\s+({_NUM})\s*\)", re.IGNORECASE)


def decimals(number: float | Decimal) -> int:
    """Digits after the decimal point, ignoring binary floating-point noise."""
    if isinstance(number, Decimal):
        exponent = number.normalize().as_tuple().exponent
        return -exponent if isinstance(exponent, int) and exponent < 0 else 0
    text = repr(round(float(number), 10))
    if "e" in text or "E" in text:
        return 10
    head, _, tail = text.partition(".")
    return 0 if tail == "0" else len(tail)


def _text_decimals(text: str) -> int:
    return len(text.partition(".")[2])


def coordinate_pair(value: str) -> bool:
    """``"lat,lon"`` / ``"lat lon"`` / ``"(lat, lon)"`` / WKT ``POINT(lon lat)`` in range.

    Both numbers need at least two decimals, so ``"12,34"`` or ``"3 4"`` are not places.
    """
    if len(value) > 64:
        return False
    m = _WKT_POINT.fullmatch(value)
    if m is not None:
        lon_text, lat_text = m[1], m[2]
    else:
        m = _LAT_LON.fullmatch(value)
        if m is None:
            return False
        lat_text, lon_text = m[1], m[2]
    if _text_decimals(lat_text) < 2 or _text_decimals(lon_text) < 2:
        return False
    return abs(float(lat_text)) <= 90 and abs(float(lon_text)) <= 180


def coordinate_list(value: Sequence[object]) -> bool:
    """A two-number sequence ``[lat, lon]`` (or GeoJSON ``[lon, lat]``) with decimals, in range."""
    if len(value) != 2:
        return False
    a, b = value
    if not all(isinstance(x, float | Decimal) and not isinstance(x, bool) for x in (a, b)):
        return False
    fa, fb = float(a), float(b)  # type: ignore[arg-type]
    if decimals(a) < 2 or decimals(b) < 2:  # type: ignore[arg-type]
        return False
    return (abs(fa) <= 90 and abs(fb) <= 180) or (abs(fa) <= 180 and abs(fb) <= 90)


def to_decimal(value: object) -> Decimal | None:
    """A finite :class:`~decimal.Decimal` from a float or Decimal, else ``None``."""
    try:
        d = Decimal(repr(round(value, 10))) if isinstance(value, float) else value
    except (InvalidOperation, ValueError, OverflowError):
        return None
    if not isinstance(d, Decimal) or not d.is_finite():
        return None
    return d


# --------------------------------------------------------------------------------------------
# Postal codes
# --------------------------------------------------------------------------------------------

# (country, pattern, specific): "specific" formats mix letters and digits or use a separator
# that few other codes use; digit-only formats are any small number and need the column name.
_POSTAL_FORMATS: tuple[tuple[str, re.Pattern[str], bool], ...] = (
    ("CA", re.compile(r"[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z] ?\d[ABCEGHJ-NPRSTV-Z]\d"), True),
    ("GB", re.compile(r"GIR ?0AA|[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}"), True),
    ("NL", re.compile(r"[1-9]\d{3} ?(?!SA|SD|SS)[A-Z]{2}"), True),
    ("US", re.compile(r"\d{5}-\d{4}"), True),
    ("JP", re.compile(r"\d{3}-\d{4}"), True),
    ("BR", re.compile(r"\d{5}-\d{3}"), True),
    ("PT", re.compile(r"\d{4}-\d{3}"), True),
    ("PL", re.compile(r"\d{2}-\d{3}"), True),
    ("SE", re.compile(r"[1-9]\d{2} \d{2}"), True),
    ("5-digit (US, DE, FR, IT, ES)", re.compile(r"\d{5}"), False),
    ("4-digit (AU, AT, BE, CH, DK, NO)", re.compile(r"[1-9]\d{3}"), False),
    ("6-digit (IN, RU, CN)", re.compile(r"[1-9]\d{5}"), False),
    ("US ZIP+4 without dash", re.compile(r"\d{9}"), False),
)


def postal_code(value: str) -> tuple[str, bool] | None:
    """``(country or format, specific)`` for a postal code of a known country format."""
    if not 3 <= len(value) <= 10:
        return None
    upper = value.upper()
    for country, pattern, specific in _POSTAL_FORMATS:
        if pattern.fullmatch(upper):
            return country, specific
    return None
