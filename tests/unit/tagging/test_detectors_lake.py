"""The detectors against the generated lake's own ground truth (no Spark: files read by pyarrow).

The lake manifest names every PII column's type (``column_types``), the hard negatives and
the types they invite (``hard_negatives``) and the columns nobody scores (city, state,
country). Labels written by the lake generator, not by the detectors.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.dataset as pads
import pyarrow.json as pajson
import pytest

from lakeward.lake._generate import COLUMN_TYPES, generate_lake
from lakeward.tagging._detectors import TYPES, combine, name_evidence, value_evidence

THRESHOLD = 0.6
SAMPLE = 1000
SPARK_TYPES = {
    "int64": "bigint",
    "float64": "double",
    "bool": "boolean",
    "string": "string",
    "date32": "date",
    "timestamp[us]": "timestamp",
}


def _read(root: Path, dataset: dict[str, object]) -> pa.Table:
    path = root / str(dataset["path"])
    fmt = dataset["format"]
    columns = dataset["columns"]
    assert isinstance(columns, list)
    if fmt == "parquet":
        return pads.dataset(path, format="parquet").to_table()
    files = sorted(path.rglob("*")) if path.is_dir() else [path]
    files = [f for f in files if f.is_file() and not f.name.startswith(("_", "."))]
    if fmt == "csv":
        types = {c["name"]: COLUMN_TYPES[c["type"]] for c in columns}
        options = pacsv.ConvertOptions(column_types=types)
        return pa.concat_tables(pacsv.read_csv(f, convert_options=options) for f in files)
    tables = [pajson.read_json(f) for f in files]
    return pa.concat_tables(tables, promote_options="permissive")


@pytest.fixture(scope="module")
def lake_results(
    tmp_path_factory: pytest.TempPathFactory,
) -> list[tuple[str, str, dict[str, float], set[str], set[str]]]:
    root = tmp_path_factory.mktemp("lake") / "lake"
    generated = generate_lake(root, seed=7, size_mb=3)
    manifest = json.loads(generated.manifest_path.read_text())
    out = []
    for dataset in manifest["datasets"]:
        name = dataset["name"]
        table = _read(root, dataset)
        truth = manifest["column_types"].get(name, {})
        traps = manifest["hard_negatives"].get(name, {})
        unscored = set(manifest["unscored_columns"].get(name, []))
        for column in dataset["columns"]:
            col = column["name"]
            if col in unscored or col not in table.column_names:
                continue
            values = [x for x in table.column(col).to_pylist() if x is not None]
            random.Random(7).shuffle(values)
            declared = SPARK_TYPES[column["type"]]
            evidence = name_evidence(col, name, declared)
            evidence += value_evidence(values[:SAMPLE], declared, column=col)
            confidences = {t: c for t, (c, _) in combine(evidence).items()}
            expected = {truth[col]} if col in truth else set()
            out.append((name, col, confidences, expected, set(traps.get(col, []))))
    return out


@pytest.mark.parametrize("type_", TYPES)
def test_generated_lake_precision_and_recall(
    lake_results: list[tuple[str, str, dict[str, float], set[str], set[str]]], type_: str
) -> None:
    tp = fp = fn = 0
    wrong = []
    for dataset, column, confidences, expected, _ in lake_results:
        hit = confidences.get(type_, 0.0) >= THRESHOLD
        if hit and type_ in expected:
            tp += 1
        elif hit:
            fp += 1
            wrong.append(("fp", dataset, column, confidences.get(type_)))
        elif type_ in expected:
            fn += 1
            wrong.append(("fn", dataset, column, confidences.get(type_)))
    assert tp >= 1, f"the lake has no {type_} column"
    assert tp / (tp + fp) >= 0.95, wrong
    assert tp / (tp + fn) >= 0.95, wrong


def test_generated_lake_hard_negatives(
    lake_results: list[tuple[str, str, dict[str, float], set[str], set[str]]],
) -> None:
    trapped = [
        (dataset, column, trap, confidences.get(trap))
        for dataset, column, confidences, _, traps in lake_results
        for trap in traps
        if confidences.get(trap, 0.0) >= THRESHOLD
    ]
    assert trapped == []
