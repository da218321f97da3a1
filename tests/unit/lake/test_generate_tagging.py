"""The generated lake as tagging ground truth: column types, hard negatives, realistic values.

Values are checked with validators written here, independently of the generator and of
Lakeward's detectors (IBAN mod 97 by the textbook rearrangement, Luhn, IPv6 by ``ipaddress``).
"""

from __future__ import annotations

import ipaddress
import json
import re
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from lakeward.lake._generate import (
    HARD_NEGATIVES,
    MANIFEST_NAME,
    SEMANTIC_TYPES,
    UNSCORED_COLUMNS,
    generate_lake,
)
from lakeward.tagging._detectors import TYPES

VOCABULARY = set(TYPES)  # the detectors' semantic types: the lake must hold each one
IBAN_LENGTHS = {"DE": 22, "GB": 22, "FR": 27, "NL": 18, "ES": 24, "IT": 27, "BE": 16}
EMAIL_IN_TEXT = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
PHONE_IN_TEXT = re.compile(r"\+\d{1,3}-\d{3}-\d{3}-\d{4}")


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    root = generate_lake(tmp_path_factory.mktemp("tagging") / "lake", seed=5, size_mb=2).root
    return root, json.loads((root / MANIFEST_NAME).read_text())


def _table(root: Path, manifest: dict[str, Any], name: str) -> dict[str, list[Any]]:
    entry = next(d for d in manifest["datasets"] if d["name"] == name)
    return pq.read_table(root / entry["path"]).to_pydict()


def _mod97_ok(code: str) -> bool:
    code = code.replace(" ", "")
    moved = code[4:] + code[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def test_ground_truth_names_real_columns_with_the_vocabulary(
    lake: tuple[Path, dict[str, Any]],
) -> None:
    _, m = lake
    columns = {d["name"]: {c["name"] for c in d["columns"]} for d in m["datasets"]}
    assert set(m["column_types"]) <= set(columns)
    found = set()
    for name, types in m["column_types"].items():
        assert set(types) <= columns[name], name
        assert set(types.values()) <= VOCABULARY
        found |= set(types.values())
    assert found == VOCABULARY  # the lake holds every type
    for name, negatives in m["hard_negatives"].items():
        assert set(negatives) <= columns[name], name
        for column, confusable in negatives.items():
            assert confusable and set(confusable) <= VOCABULARY
            assert m["column_types"].get(name, {}).get(column) not in confusable
    for name, unscored in m["unscored_columns"].items():
        assert set(unscored) <= columns[name]
        assert not set(unscored) & set(m["column_types"].get(name, {}))
    # Every dataset whose columns carry a typed generator name is labelled.
    for name, cols in columns.items():
        typed = {c for c in cols if c in SEMANTIC_TYPES}
        assert typed == {c for c in m["column_types"].get(name, {}) if c in SEMANTIC_TYPES}
        assert {c for c in cols if c in UNSCORED_COLUMNS} == {
            c for c in m["unscored_columns"].get(name, []) if c in UNSCORED_COLUMNS
        }
    negatives = {c for cols in m["hard_negatives"].values() for c in cols}
    assert {"email_opt_in", "email_verified", "customer_ref", "zip", "agent_note"} <= negatives
    assert set(HARD_NEGATIVES) <= negatives  # every planted kind is in the lake


def test_renamed_copies_carry_their_parents_types(lake: tuple[Path, dict[str, Any]]) -> None:
    _, m = lake
    renamed = [d for d in m["derivations"] if d["kind"] == "renamed_reordered"]
    assert renamed
    for d in renamed:
        child = m["column_types"].get(d["child"], {})
        parent = m["column_types"].get(d["parent"], {})
        assert child == {c: parent[p] for c, p in d["column_map"].items() if p in parent}
    crm = m["column_types"]["marketing.crm_customers"]
    assert crm["EMAIL"] == "type.email" and crm["dob"] == "type.date_of_birth"
    assert m["unscored_columns"]["marketing.crm_customers"] == ["City", "STATE", "Country"]
    staff = m["hard_negatives"]["hr.staff_directory"]
    assert staff["HireDate"] == ["type.date_of_birth"]


def test_units_prefix_and_rename_the_ground_truth(tmp_path: Path) -> None:
    lake = generate_lake(tmp_path / "u", seed=3, size_mb=2, units=2)
    m = json.loads(lake.manifest_path.read_text())
    assert m["column_types"]["u001.sales.customers"]["email_1"] == "type.email"
    assert m["hard_negatives"]["u001.support.tickets"]["email_opt_in_1"] == ["type.email"]
    assert m["column_types"]["sales.customers"]["email"] == "type.email"


def test_tagging_datasets_hold_valid_pii_and_convincing_negatives(
    lake: tuple[Path, dict[str, Any]],
) -> None:
    root, m = lake
    banks = _table(root, m, "finance.bank_accounts")
    countries = set()
    for iban in banks["iban"]:
        compact = iban.replace(" ", "")
        assert _mod97_ok(iban) and len(compact) == IBAN_LENGTHS[compact[:2]], iban
        assert iban == compact or iban == " ".join(re.findall(".{1,4}", compact))
        countries.add(compact[:2])
    assert countries == set(IBAN_LENGTHS)
    for ref in banks["payment_reference"]:  # mod 97 like an IBAN, but "RF" is no country
        assert ref.startswith("RF") and _mod97_ok(ref)

    tickets = _table(root, m, "support.tickets")
    with_pii = [c for c in tickets["comment"] if EMAIL_IN_TEXT.search(c) or PHONE_IN_TEXT.search(c)]
    assert 0.3 < len(with_pii) / len(tickets["comment"]) < 0.5
    assert not any(EMAIL_IN_TEXT.search(n) or re.search(r"\d{3}", n) for n in tickets["agent_note"])
    assert sum("email" in n.lower() for n in tickets["agent_note"]) > 0
    assert set(tickets["email_verified"]) == {0, 1} and set(tickets["email_opt_in"]) == {
        True,
        False,
    }
    refs = [str(r) for r in tickets["customer_ref"]]
    assert all(len(r) == 16 and r[0] == "4" for r in refs)
    assert 0.03 < sum(map(_luhn_ok, refs)) / len(refs) < 0.2  # Luhn by chance only
    phones = [p for p in tickets["contact_phone"] if p is not None]
    assert phones and all(re.fullmatch(r"\(\d{3}\) [2-9]\d{2}-\d{4}", p) for p in phones)

    stops = _table(root, m, "logistics.delivery_stops")
    assert all(-90 <= v <= 90 for v in stops["latitude"] + stops["temperature_c"])
    assert all(-180 <= v <= 180 for v in stops["longitude"])
    zips = stops["zip"]
    assert all(re.fullmatch(r"\d{5}-?\d{4}", z) for z in zips)
    assert {len(z) for z in zips} == {9, 10}

    devices = _table(root, m, "web.mobile_devices")
    assert all(len(i) == 15 and i.isdigit() and _luhn_ok(i) for i in devices["device_imei"])
    addresses = [ipaddress.ip_address(a) for a in devices["ipv6_address"]]
    assert all(a.version == 6 and a.is_global for a in addresses)
    assert any("::" in a for a in devices["ipv6_address"])
    assert all(re.fullmatch(r"\d+\.\d+\.\d+", v) for v in devices["app_version"])
