"""``bench/glossary_data.py``: the FHIR and schema.org evaluation sets are well formed.

Small limits keep it fast (building the FHIR set imports every fhir.resources model: ~3 s).
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

pytest.importorskip("fhir.resources", reason="fhir.resources (dev extra) is not installed")

ROOT = Path(__file__).resolve().parents[3]


def _load():
    name = "lakeward_bench_glossary_data"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / "glossary_data.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


gd = _load()


def _check(ev) -> None:
    ids = [t.id for t in ev.terms]
    assert len(ids) == len(set(ids)), "duplicate term ids"
    assert all(t.label.strip() for t in ev.terms), "a term without a label"
    keys = {(c.dataset, c.column) for c in ev.columns}
    assert len(keys) == len(ev.columns), "duplicate column in a table"
    assert set(ev.truth) == keys, "every column has a truth and only those"
    known = set(ids)
    for correct in ev.truth.values():
        assert correct and correct <= known
    for c in ev.columns:
        assert c.column and c.column not in c.siblings
        assert c.description == ""  # metadata realism: no column descriptions


def test_fhir_sets_shape_and_truth() -> None:
    sets = gd.fhir_sets("test", limit=4)
    fhir, abbrev = sets["fhir"], sets["fhir-abbrev"]
    for ev in (fhir, abbrev):
        _check(ev)
        assert len(ev.tables()) == 4
    assert len(fhir.terms) > 2000  # the glossary is always whole
    patient = {t.id: t for t in fhir.terms}["Patient.birthDate"]
    assert patient.label == "The date of birth for the individual"
    assert all("__ext" not in t.id and not t.label.startswith("Extension") for t in fhir.terms)
    # abbreviations keep the same truth, column for column
    assert {ds for ds, _ in abbrev.truth} == {ds for ds, _ in fhir.truth}
    assert gd.abbreviate("managingOrganization") == "mngng_orgnz"
    assert gd.abbreviate("birthDate") == "brth_date"
    # the categorised glossary: the same terms, each with its resource as parent
    categorised = sets["fhir-categories"]
    _check(categorised)
    assert [t.id for t in categorised.terms] == [t.id for t in fhir.terms]
    assert {t.id: t.parent for t in categorised.terms}["Patient.birthDate"] == "Patient"
    assert all(not t.parent for t in fhir.terms)


def test_fhir_truth_is_the_element_or_an_identical_twin() -> None:
    ev = gd.fhir_sets("all")["fhir"]
    by_id = {t.id: t for t in ev.terms}
    assert ev.truth[("Patient", "birthDate")] == {"Patient.birthDate"}
    assert ev.truth[("Observation", "value")] == {"Observation.value[x]"}
    for (ds, col), correct in ev.truth.items():
        assert f"{ds}.{col}" in correct or f"{ds}.{col}[x]" in correct
        first = by_id[next(iter(correct))]
        assert all(
            (by_id[i].label, by_id[i].description) == (first.label, first.description)
            for i in correct
        )


def test_schemaorg_sets_shape_and_truth() -> None:
    sets = gd.schemaorg_sets("dev", limit=5)
    for ev in sets.values():
        _check(ev)
    ev = sets["schemaorg"]
    labels = {t.id: t.label for t in ev.terms}
    assert labels["birthDate"] == "birth date"
    assert all("<" not in t.description for t in ev.terms)
    for (_, col), correct in ev.truth.items():
        (term,) = correct
        assert col == labels[term].replace(" ", "_")


def test_split_is_deterministic_and_disjoint() -> None:
    for build in (gd.fhir_sets, gd.schemaorg_sets):
        dev = build("dev")
        test = build("test")
        again = build("test")
        for name in dev:
            a, b = set(dev[name].tables()), set(test[name].tables())
            assert a and b and not a & b
            assert abs(len(a) - len(b)) <= 1
            assert [c.column for c in test[name].columns] == [c.column for c in again[name].columns]


def test_external_files_round_trip(tmp_path: Path) -> None:
    (tmp_path / "g.jsonl").write_text(
        "\n".join(
            json.dumps(t)
            for t in (
                {"id": "T1", "label": "Customer Email", "description": "Email address"},
                {"id": "T2", "label": "Birth Date", "synonyms": ["dob"]},
            )
        )
    )
    (tmp_path / "c.jsonl").write_text(
        json.dumps(
            {
                "name": "customers",
                "description": "people",
                "columns": [{"name": "email", "type": "string"}, {"name": "dob"}],
            }
        )
    )
    (tmp_path / "t.jsonl").write_text(
        json.dumps({"dataset": "customers", "column": "email", "term": "T1"})
        + "\n"
        + json.dumps({"dataset": "customers", "column": "dob", "term": "T2"})
    )
    ev = gd.load_external(tmp_path / "g.jsonl", tmp_path / "c.jsonl", tmp_path / "t.jsonl")
    _check(ev)
    assert ev.columns[0].siblings == ("dob",)
    assert ev.terms[1].synonyms == ("dob",)


def test_synthetic_scale_data() -> None:
    terms, cols = gd.synthetic(300, 5000)
    assert len(cols) == 300 and len(terms) == 5000
    assert len({t.id for t in terms}) == 5000
    assert terms == gd.synthetic(300, 5000)[0]
