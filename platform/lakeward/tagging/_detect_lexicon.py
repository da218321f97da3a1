"""Word lists behind the person-name and street-address validators.

**Person names.** First and last names come from the ``faker`` package's per-locale person
providers (a runtime dependency, read in place, never copied into this repository): the union
of ``first_names*`` and ``last_names*`` over :data:`NAME_LOCALES`, folded to lower case without
accents. The lists are loaded on first use (~0.2 s, cached for the process). Words that are
names *and* everyday category values (colours, months, "Hope", "Park") are kept out of
single-word matches, because a ``colour`` column is not a ``first_name`` column. Names are read
given-name first or family-name first (``Nagy Vivien``); CJK names may be one or two
characters, Korean ones written without a space. :func:`person_name_loose` also takes two or
three name-shaped words when one is a known name (given names outside the lists).

**Street addresses.** Street-type words in English (USPS suffixes and their abbreviations),
German, Dutch, French, Spanish, Italian and Portuguese, including Germanic compounds
(``Lindenstraße``, ``Kerkstraat``); written for Lakeward.
"""

from __future__ import annotations

import functools
import importlib
import re
import unicodedata

NAME_LOCALES: tuple[str, ...] = (
    "en_US", "en_GB", "en_IE", "en_IN", "en_NZ", "de_DE", "de_AT", "de_CH", "fr_FR", "fr_CA",
    "es_ES", "es_MX", "es_AR", "it_IT", "nl_NL", "nl_BE", "pt_BR", "pt_PT", "pl_PL", "sv_SE",
    "da_DK", "no_NO", "fi_FI", "cs_CZ", "sk_SK", "ro_RO", "hu_HU", "tr_TR", "ga_IE", "en_NG",
    "ig_NG", "yo_NG", "en_KE", "en_PK", "id_ID", "vi_VN", "ja_JP", "zh_CN", "zh_TW", "ru_RU",
    "ko_KR", "el_GR", "uk_UA", "bg_BG", "hr_HR", "sl_SI", "lt_LT", "lv_LV", "et_EE", "is_IS",
    "es_CO", "es_CL", "fr_BE", "de_LU", "he_IL", "fa_IR", "hi_IN", "th_TH", "ka_GE", "hy_AM",
)  # fmt: skip
"""Faker locales whose first and last names make up the person-name lexicon."""

_CATEGORY_WORDS = frozenset(
    # colours, seasons and status words: category values that happen to be names somewhere
    "black white green brown gray grey red blue silver gold golden rose violet amber ruby olive "
    "jade hazel ivory coral pearl scarlet orange pink purple yellow cyan navy teal indigo "
    "spring summer autumn winter standard premium basic gift online direct active pending "
    "closed open new old yes no true false none male female other unknown smart eco".split()
)
_EVERYDAY_WORDS = _CATEGORY_WORDS | frozenset(
    # words a capitalised second word of a non-name often is ("Jordan River", "Grace Church")
    "hope grace joy faith love king young long little hill wood stone street lane park bank "
    "church field day price cash bell hall ward cross rice case cook page sky storm river lake "
    "dale north south east west saint san santa more good best star sun moon card cards store "
    "shop home office mobile web glass oak".split()
)

_TITLES_AND_PARTICLES = frozenset(
    "mr mrs ms miss mx dr prof sir dame herr frau mme mlle m sr sra srta jr ii iii iv phd md "
    "ing dipl pan pani sig dott dottssa sigra "
    "van von der den de la le du da di del dos das ter ten bin al y e".split()
)

_ORG_WORDS = frozenset(
    "llc inc ltd limited gmbh group co corp corporation company plc ag sa sas sarl bv nv srl spa "
    "kg ohg oy ab as university college bank hospital clinic school store shop services solutions "
    "systems technologies technology international holdings partners associates foundation "
    "institute department team and und et fils sons brothers bros freres hijos figli sohne "
    "cie".split()
)

_NAME_TOKEN = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?\.?")
_INITIAL = re.compile(r"[^\W\d_]\.?")


@functools.lru_cache(maxsize=65_536)
def fold(word: str) -> str:
    """Lower case without accents, for comparing names (``Zoë`` → ``zoe``)."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@functools.cache
def name_lexicon() -> tuple[frozenset[str], frozenset[str]]:
    """``(first names, last names)`` folded, from Faker's person providers."""
    first: set[str] = set()
    last: set[str] = set()
    for locale in NAME_LOCALES:
        try:
            provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        except ImportError:  # a locale dropped by a future Faker: the others still count
            continue
        for attr in dir(provider):
            target = first if "first_name" in attr else None
            target = last if "last_name" in attr else target
            if target is None or attr.startswith("_"):
                continue
            names = getattr(provider, attr)
            if isinstance(names, dict | tuple | list):
                for name in names:
                    if isinstance(name, str):
                        for part in re.split(r"[\s-]+", name):
                            if len(part) > 1 or _is_ideographic(part):
                                target.add(fold(part))
    return frozenset(first), frozenset(last)


def _split_parts(token: str) -> list[str]:
    return [p for p in token.split("-") if p]


def person_name(value: str) -> bool:
    """Whether ``value`` reads as a person's name (``Jane Doe``, ``Doe, Jane``, ``J. Doe``).

    One word: a known first or last name that is not an everyday word. Two to four words
    (titles and particles such as ``van`` or ``de`` aside): the first is a known first name
    or an initial, and the last is a known name or a capitalised word that is not a street or
    organisation word. Digits, ``@``, organisation words (``LLC``, ``GmbH``) fail.
    """
    if len(value) > 80 or any(ch.isdigit() or ch in "@/_#:" for ch in value):
        return False
    if value.count(",") == 1:
        last_part, first_part = value.split(",")
        value = f"{first_part.strip()} {last_part.strip()}"
    raw = value.split()
    if not raw or len(raw) > 7:
        return False
    first_names, last_names = name_lexicon()
    core: list[str] = []
    for word in raw:
        folded = fold(word.rstrip("."))
        if folded.replace(".", "") in _ORG_WORDS or word == "&":
            return False
        if len(raw) > 1 and (
            folded.replace(".", "") in _TITLES_AND_PARTICLES
            or ("." in word and not _INITIAL.fullmatch(word))  # B.Sc., Univ.Prof., Dott.
        ):
            continue
        if not all(_NAME_TOKEN.fullmatch(p) for p in _split_parts(word)):
            return False
        core.append(word)
    if not 1 <= len(core) <= 4:
        return False
    if len(core) == 1:
        word = core[0]
        if _is_ideographic(word):
            return _ideographic_name(word, first_names, last_names)
        if len(word) < 3 or word.isupper() and len(word) <= 3:
            return False
        parts = [fold(p) for p in _split_parts(word)]
        return all(
            (p in first_names or p in last_names) and p not in _CATEGORY_WORDS for p in parts
        )
    head, tail = core[0], core[-1]
    if _family_name_first(core, first_names, last_names):
        return True
    head_parts = [fold(p.rstrip(".")) for p in _split_parts(head)]
    head_ok = bool(_INITIAL.fullmatch(head)) or all(
        p in first_names and p not in _CATEGORY_WORDS for p in head_parts
    )
    if not head_ok:
        return False
    tail_parts = [fold(p) for p in _split_parts(tail)]
    if any(is_street_word(p) for p in tail_parts):  # "Omar Way", "Martin Green"
        return False
    if all(p in last_names or p in first_names for p in tail_parts):
        return True
    if _INITIAL.fullmatch(head):
        return False
    return (
        (tail[:1].isupper() or _is_ideographic(tail))
        and len(tail) >= 2
        and not any(p in _EVERYDAY_WORDS for p in tail_parts)
    )


def _is_ideographic(word: str) -> bool:
    """Han, kana or Hangul (names of one or two characters are normal there)."""
    return all(
        "\u3040" <= ch <= "\u30ff" or "\u3400" <= ch <= "\u9fff" or "\uac00" <= ch <= "\ud7af"
        for ch in word
    )


def _ideographic_name(word: str, first: frozenset[str], last: frozenset[str]) -> bool:
    """A known CJK name, or a family and a given name written without a space (``김서연``)."""
    if not 1 <= len(word) <= 5:
        return False
    if fold(word) in first or fold(word) in last:
        return True
    return any(fold(word[:k]) in last and fold(word[k:]) in first for k in (1, 2))


def _family_name_first(core: list[str], first: frozenset[str], last: frozenset[str]) -> bool:
    """Family name first: ``Nagy Vivien``, ``Родионова Марина Станиславовна``.

    The first word a known last name, a later word a known first name, none a street,
    organisation or everyday word, every word capitalised (or ideographic).
    """
    folded = [fold(w.rstrip(".")) for w in core]
    if folded[0] not in last or folded[0] in _CATEGORY_WORDS:
        return False
    if not any(f in first and f not in _CATEGORY_WORDS for f in folded[1:]):
        return False
    for word, f in zip(core, folded, strict=True):
        if f in _EVERYDAY_WORDS or is_street_word(f):
            return False
        if not (word[:1].isupper() or _is_ideographic(word)):
            return False
    return True


_SHAPE_WORD = re.compile(r"[^\W\d_](?:[^\W\d_]|['’-](?=[^\W\d_]))*")


def name_shape(value: str) -> bool:
    """Whether ``value`` is *shaped* like a name (``Ochab``, ``Zinaida Hamrlík``).

    One to three capitalised words of letters or ideographic words, none a street,
    organisation, everyday or category word. Weak alone (a city or a brand is shaped the same):
    :func:`person_name_loose` only counts it beside a name the lexicon knows.
    """
    if not 2 <= len(value) <= 60:
        return False
    words = value.split()
    if not 1 <= len(words) <= 3:
        return False
    for word in words:
        if _is_ideographic(word):
            continue
        if not _SHAPE_WORD.fullmatch(word) or not word[:1].isupper() or len(word) < 2:
            return False
        if word.isupper() and len(word) > 1:
            return False
        f = fold(word)
        if f in _EVERYDAY_WORDS or f in _ORG_WORDS or is_street_word(f):
            return False
    return True


def person_name_loose(value: str) -> bool:
    """:func:`person_name`, or two or three name-shaped words, one of them a known name.

    For given names outside the lexicon (``Cherryl Anthony``, ``Darzybór Galewicz``); one
    unknown word alone is never enough.
    """
    if person_name(value):
        return True
    if not name_shape(value):
        return False
    words = value.split()
    if len(words) < 2:
        return False
    first_names, last_names = name_lexicon()
    return any(
        (f := fold(w)) not in _CATEGORY_WORDS and (f in first_names or f in last_names)
        for w in words
    )


# --------------------------------------------------------------------------------------------
# Street addresses
# --------------------------------------------------------------------------------------------

_STREET_WORDS_AFTER_NUMBER = frozenset(
    # English (USPS suffixes and abbreviations, UK usage): "221B Baker Street", number first
    "street st streets avenue ave road rd roads boulevard blvd lane ln drive dr drives court "
    "ct courts way ways place pl terrace ter parkway pkwy parkways circle cir circles highway "
    "hwy square sq squares trail trl crescent cres close grove groves gardens gdns garden mews "
    "row walk walks heights hts crossing xing ridge ridges mountain mountains mtn pines trace "
    "stream springs loop path pike plaza plz point points pt run view views vista village "
    "villages ville estates estate fork forks ford fords creek crk brook brooks canyon center "
    "ctr centre commons corner corners cove coves expressway expy freeway fwy junction jct "
    "keys knoll knolls landing lakes meadow meadows mill mills mission motorway neck orchard "
    "oval pass passage port ports prairie ranch rapids rest shoal shoals shore shores skyway "
    "station stravenue summit throughway trafficway tunnel turnpike tpke underpass union unions "
    "valley valleys via viaduct wells alley aly annex arcade bayou beach bend bluff bluffs "
    "bottom branch bridge burg burgs bypass byp camp cape causeway cswy cliff cliffs club curve "
    "dam divide extension ext falls ferry fields flat flats forest forge forges fort glen glens "
    "greens harbor harbour harbors haven hills hollow inlet island islands isle isles lights "
    "lock locks lodge manor manors mount overpass parks radial ramp route track wall gateway "
    "gateways spur spurs common mall dale lake river key course junctions".split()
)
_STREET_WORDS_ANY_ORDER = frozenset(
    # German, Dutch, French, Spanish, Italian, Portuguese: "Hauptstraße 5", "12 rue de la Paix"
    "av straße strasse str weg platz allee gasse ring damm ufer chaussee steig pfad markt "
    "straat laan plein gracht kade singel steeg dijk dreef hof "
    "rue avenue bd boulevard chemin allée impasse quai cours voie sentier "
    "calle avenida avda plaza paseo carrera camino ronda pasaje travesía travesia carretera "
    "glorieta urbanización via viale piazza corso largo vicolo strada piazzale lungomare "
    "contrada rua travessa praça praca estrada alameda rambla cañada pasadizo cuesta vial "
    "callejón acceso bulevar carrer rotonda borgo stretto canale incrocio salita traversa".split()
)
_STREET_WORDS = _STREET_WORDS_AFTER_NUMBER | _STREET_WORDS_ANY_ORDER
_STREET_COMPOUND_SUFFIXES: tuple[str, ...] = (
    "straße", "strasse", "str", "weg", "platz", "allee", "gasse", "damm", "ufer", "chaussee",
    "ring", "straat", "laan", "plein", "gracht", "kade", "singel", "steeg", "dijk", "dreef",
    "baan", "pad", "hof", "boulevard", "plantsoen",
)  # fmt: skip

_HOUSE_NUMBER = re.compile(r"(?<![\w.,])\d{1,6}[A-Za-z]?(?:[/-]\d{1,4}[A-Za-z]?)?(?![\w]|[.,]\d)")
_PO_BOX = re.compile(r"\b(?:p\.?\s?o\.?\s?box|postfach|apartado|casilla|b\.?p\.?)\s*\d{1,7}\b")
_ADDRESS_WORD = re.compile(r"[^\W\d_]+\.?")


def is_street_word(word: str) -> bool:
    """Whether a folded word is a street type or ends in a Germanic street compound."""
    bare = word.rstrip(".")
    if bare in _STREET_WORDS:
        return True
    return any(
        bare.endswith(s) and len(bare) >= max(6, len(s) + 3) for s in _STREET_COMPOUND_SUFFIXES
    )


def street_address(value: str) -> bool:
    """Whether ``value`` is a street address line: a house number plus a street-type word.

    ``221B Baker Street``, ``12 rue de la Paix``, ``Hauptstraße 5``, ``Calle Mayor 3``, ``P.O.
    Box 12``. An English street type must come after the number (``Distribution Center 3`` is
    a building); continental ones may stand either side. At most 200 characters, 24 words, no
    ``@`` or URL.
    """
    if not 5 <= len(value) <= 200 or "@" in value or "://" in value:
        return False
    lowered = value.lower()
    if _PO_BOX.search(lowered):
        return True
    number = _HOUSE_NUMBER.search(value)
    if number is None:
        return False
    words = _ADDRESS_WORD.findall(lowered)
    if not 1 <= len(words) <= 24:
        return False
    after = _ADDRESS_WORD.findall(lowered[number.end() :])
    for word in words:
        bare = word.rstrip(".")
        if bare in _STREET_WORDS_ANY_ORDER or (
            bare not in _STREET_WORDS_AFTER_NUMBER and is_street_word(bare)
        ):
            return True
    return any(w.rstrip(".") in _STREET_WORDS_AFTER_NUMBER for w in after)
