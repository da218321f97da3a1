"""The sample-lake generator: layout, determinism, and the manifest as exact ground truth.

Every planted derivation is re-checked against the files on disk: both sides are read back
(CSV and JSON lines with the manifest's column types), the child's columns are mapped onto the
parent's, and the share of child rows found in the parent is computed with an exact hash join.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from lakeward.errors import InputError
from lakeward.lake._generate import (
    COLUMN_TYPES,
    FORMAT_EXTENSIONS,
    MANIFEST_NAME,
    GeneratedLake,
    generate_lake,
)

KINDS = {
    "projection",
    "selection",
    "projection_of_selection",
    "format_copy",
    "exact_copy",
    "renamed_reordered",
    "near_copy",
    "decoy",
    "chain",
}
EXT_FORMAT = {ext: fmt for fmt, ext in FORMAT_EXTENSIONS.items()}
PART = re.compile(r"^part-\d{5}\.(parquet|csv|jsonl)$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
EMAIL_RE = re.compile(r"^[a-z0-9][a-z0-9._+-]*@[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}$")
PHONE_RE = re.compile(r"^\+\d{1,3}-\d{3}-\d{3}-\d{4}$")
SSN_RE = re.compile(r"^(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}$")


# --------------------------------------------------------------------------------------------
# Reading a lake back, independently of the generator's own writing code
# --------------------------------------------------------------------------------------------


def discover(root: Path) -> dict[str, tuple[str, str, str]]:
    """Datasets on disk by the naming rule: name -> (relative path, format, layout)."""
    found: dict[str, tuple[str, str, str]] = {}

    def walk(folder: Path) -> None:
        for entry in sorted(folder.iterdir()):
            if entry.name.startswith(("_", ".")):
                continue
            rel = entry.relative_to(root)
            if entry.is_file():
                assert folder != root, f"stray file at the lake root: {entry.name}"
                assert entry.suffix in EXT_FORMAT, f"unexpected file {rel}"
                found[".".join(rel.with_suffix("").parts)] = (
                    rel.as_posix(),
                    EXT_FORMAT[entry.suffix],
                    "file",
                )
                continue
            children = list(entry.iterdir())
            if children and all(c.is_file() and PART.match(c.name) for c in children):
                exts = {c.suffix for c in children}
                assert len(exts) == 1, f"{rel} mixes formats"
                found[".".join(rel.parts)] = (rel.as_posix(), EXT_FORMAT[exts.pop()], "directory")
            else:
                assert all(not PART.match(c.name) for c in children), f"{rel} is mixed"
                walk(entry)

    walk(root)
    return found


def schema_of(entry: dict[str, Any]) -> pa.Schema:
    return pa.schema([(c["name"], COLUMN_TYPES[c["type"]]) for c in entry["columns"]])


def files_of(root: Path, entry: dict[str, Any]) -> list[Path]:
    path = root / entry["path"]
    return sorted(path.iterdir()) if entry["layout"] == "directory" else [path]


def _from_text(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Cast text-format columns to the manifest's types, checking the date/time spellings."""
    columns = []
    for f in schema:
        col = table.column(f.name)
        if pa.types.is_date(f.type) or pa.types.is_timestamp(f.type):
            pattern = DATE_RE if pa.types.is_date(f.type) else TS_RE
            values = [v for v in col.to_pylist() if v is not None]
            assert all(pattern.match(v) for v in values), f"bad spelling in {f.name}"
            fmt = "%Y-%m-%d" if pa.types.is_date(f.type) else "%Y-%m-%d %H:%M:%S"
            col = pc.strptime(col, format=fmt, unit="us").cast(f.type)
        columns.append(col.cast(f.type))
    return pa.Table.from_arrays(columns, schema=schema)


def _text_schema(schema: pa.Schema) -> pa.Schema:
    return pa.schema(
        [
            (
                f.name,
                pa.string()
                if pa.types.is_date(f.type) or pa.types.is_timestamp(f.type)
                else f.type,
            )
            for f in schema
        ]
    )


def read_file(path: Path, fmt: str, schema: pa.Schema) -> pa.Table:
    if fmt == "parquet":
        table = pq.read_table(path)
        assert table.schema.remove_metadata().equals(schema), path
        return table
    text = _text_schema(schema)
    if fmt == "csv":
        raw = path.read_bytes()
        table = pacsv.read_csv(
            path,
            convert_options=pacsv.ConvertOptions(
                column_types={f.name: f.type for f in text},
                include_columns=schema.names,
                null_values=[""],
                strings_can_be_null=True,
                true_values=["true"],
                false_values=["false"],
            ),
        )
        header = raw.split(b"\n", 1)[0].decode()
        assert header == ",".join(f'"{n}"' for n in schema.names), path
        assert raw.count(b"\n") == table.num_rows + 1, f"{path}: embedded newlines"
        return _from_text(table, schema)
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        obj = json.loads(line)
        assert list(obj) == schema.names, path
        rows.append(obj)
    return _from_text(pa.Table.from_pylist(rows, schema=text), schema)


def read_dataset(root: Path, entry: dict[str, Any]) -> pa.Table:
    schema = schema_of(entry)
    tables = [read_file(f, entry["format"], schema) for f in files_of(root, entry)]
    return pa.concat_tables(tables) if tables else schema.empty_table()


def row_keys(table: pa.Table) -> pa.Array:
    """One string per row that identifies its values exactly (null distinct from any value)."""
    if table.num_rows == 0:
        return pa.array([], type=pa.string())
    parts = []
    for col in table.columns:
        text = pc.cast(col, pa.string())
        parts.append(pc.fill_null(pc.binary_join_element_wise("v", text, ""), "\x00"))
    return pc.binary_join_element_wise(*parts, "\x1f")


def contained_rows(child: pa.Table, parent: pa.Table) -> int:
    keys = row_keys(child)
    if len(keys) == 0:
        return 0
    return int(pc.sum(pc.is_in(keys, value_set=row_keys(parent))).as_py() or 0)


def _literal(text: str) -> pa.Scalar:
    text = text.strip()
    if m := re.fullmatch(r"TIMESTAMP '(.+)'", text):
        return pa.scalar(dt.datetime.fromisoformat(m[1]), type=pa.timestamp("us"))
    if m := re.fullmatch(r"DATE '(.+)'", text):
        return pa.scalar(dt.date.fromisoformat(m[1]), type=pa.date32())
    if m := re.fullmatch(r"'(.*)'", text):
        return pa.scalar(m[1])
    return pa.scalar(float(text) if "." in text else int(text))


_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "=": pc.equal,
    "!=": pc.not_equal,
    "<": pc.less,
    "<=": pc.less_equal,
    ">": pc.greater,
    ">=": pc.greater_equal,
}


def evaluate(predicate: str, table: pa.Table) -> pa.Array:
    """Evaluate the small Spark SQL subset the generator records (AND, IN, LIKE, compare)."""
    mask = None
    for clause in re.split(r"\s+AND\s+", predicate):
        if m := re.fullmatch(r"(\w+) IN \((.*)\)", clause):
            values = pa.array([_literal(v).as_py() for v in m[2].split(",")])
            part = pc.is_in(table[m[1]], value_set=values)
        elif m := re.fullmatch(r"(\w+) LIKE '([^%_]*)%'", clause):
            part = pc.starts_with(table[m[1]], m[2])
        elif m := re.fullmatch(r"(\w+) (>=|<=|!=|=|<|>) (.+)", clause):
            part = _OPS[m[2]](table[m[1]], _literal(m[3]))
        else:
            raise AssertionError(f"cannot evaluate predicate clause {clause!r}")
        mask = part if mask is None else pc.and_kleene(mask, part)
    assert mask is not None
    return pc.fill_null(mask, False)


def hash_files(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# --------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------


class Lake:
    def __init__(self, result: GeneratedLake, messages: list[str]) -> None:
        self.result = result
        self.root = result.root
        self.messages = messages
        self.text = result.manifest_path.read_text(encoding="utf-8")
        self.manifest: dict[str, Any] = json.loads(self.text)
        self.entries = {d["name"]: d for d in self.manifest["datasets"]}
        self._tables: dict[str, pa.Table] = {}

    def table(self, name: str) -> pa.Table:
        if name not in self._tables:
            self._tables[name] = read_dataset(self.root, self.entries[name])
        return self._tables[name]


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    messages: list[str] = []
    out = tmp_path_factory.mktemp("lake") / "lake"
    result = generate_lake(out, seed=7, size_mb=3, progress=messages.append)
    return Lake(result, messages)


# --------------------------------------------------------------------------------------------
# Layout and manifest
# --------------------------------------------------------------------------------------------


def test_datasets_on_disk_match_the_manifest(lake: Lake) -> None:
    on_disk = discover(lake.root)
    assert len(on_disk) >= 40
    assert on_disk == {
        d["name"]: (d["path"], d["format"], d["layout"]) for d in lake.manifest["datasets"]
    }
    assert sorted(p.name for p in lake.root.iterdir() if p.is_file()) == [MANIFEST_NAME]
    assert lake.result.datasets == len(on_disk)
    assert len(lake.messages) == len(on_disk)
    total = 0
    for entry in lake.manifest["datasets"]:
        files = files_of(lake.root, entry)
        assert entry["files"] == len(files)
        assert entry["bytes"] == sum(f.stat().st_size for f in files)
        total += entry["bytes"]
    assert lake.result.bytes == total


def test_manifest_shape(lake: Lake) -> None:
    m = lake.manifest
    assert lake.text == json.dumps(m, sort_keys=True, indent=2) + "\n"
    assert (m["generator"], m["version"], m["seed"], m["size_mb"]) == ("lakeward", 1, 7, 3.0)
    derivations = m["derivations"]
    assert len(derivations) >= 15 and lake.result.derivations == len(derivations)
    assert {d["kind"] for d in derivations} == KINDS
    names = set(lake.entries)
    for d in derivations:
        assert d["child"] in names and d["parent"] in names
        assert d["child_rows"] == lake.entries[d["child"]]["rows"] > 0
        assert set(d["column_map"]) == {c["name"] for c in lake.entries[d["child"]]["columns"]}
        parent_cols = {c["name"] for c in lake.entries[d["parent"]]["columns"]}
        assert set(d["column_map"].values()) <= parent_cols
        assert d["contained"] == (d["expected_ratio"] == 1.0)
    for entry in lake.manifest["datasets"]:
        parents = {d["parent"] for d in derivations if d["child"] == entry["name"]}
        assert (entry["derived_from"] is None) == (not parents)
        if entry["derived_from"] is not None:
            assert entry["derived_from"] in parents
    involved = {d["child"] for d in derivations} | {d["parent"] for d in derivations}
    assert len(names - involved) >= 8, "need at least 8 unrelated base datasets"
    # Several domains and formats take part in the planted redundancy.
    assert len({d["child"].split(".")[0] for d in derivations}) >= 5
    assert {lake.entries[d["child"]]["format"] for d in derivations} == {"parquet", "csv", "json"}


def test_format_mix_and_layouts(lake: Lake) -> None:
    formats = [d["format"] for d in lake.manifest["datasets"]]
    assert formats.count("parquet") > formats.count("csv") >= 8
    assert formats.count("json") >= 5
    for name in ("sales.orders", "web.web_events", "health.visits", "finance.payments"):
        entry = lake.entries[name]
        assert entry["layout"] == "directory" and entry["files"] >= 3, name
    for name in ("sales.customers", "hr.employees", "hr.departments", "sales.stores"):
        assert lake.entries[name]["layout"] == "file", name
    layouts = {(d["format"], d["layout"]) for d in lake.manifest["datasets"]}
    assert ("csv", "directory") in layouts and ("json", "directory") in layouts


def test_column_types_and_parquet_compression(lake: Lake) -> None:
    types = {c["name"]: c["type"] for c in lake.entries["sales.customers"]["columns"]}
    assert types == {
        "customer_id": "int64",
        "first_name": "string",
        "last_name": "string",
        "email": "string",
        "phone": "string",
        "street_address": "string",
        "city": "string",
        "state": "string",
        "postal_code": "string",
        "country": "string",
        "date_of_birth": "date32",
        "signup_ts": "timestamp[us]",
        "loyalty_tier": "string",
    }
    orders = {c["name"]: c["type"] for c in lake.entries["sales.orders"]["columns"]}
    assert orders["total_amount"] == "float64" and orders["order_ts"] == "timestamp[us]"
    for entry in lake.manifest["datasets"]:
        if entry["format"] == "parquet":
            meta = pq.ParquetFile(files_of(lake.root, entry)[0]).metadata
            if meta.num_row_groups:
                assert meta.row_group(0).column(0).compression == "SNAPPY"


def test_every_dataset_reads_back_with_its_manifest_types(lake: Lake) -> None:
    for entry in lake.manifest["datasets"]:
        table = lake.table(entry["name"])
        assert table.num_rows == entry["rows"], entry["name"]
        assert table.num_rows > 0, entry["name"]
        for f in table.schema:
            col = table.column(f.name)
            if pa.types.is_timestamp(f.type) and col.null_count < len(col):
                micros = pc.cast(col, pa.int64()).to_numpy(zero_copy_only=False)
                assert (
                    micros[~pc.is_null(col).to_numpy(zero_copy_only=False)] % 1_000_000 == 0
                ).all(), f"{entry['name']}.{f.name}: fractional seconds"
            if pa.types.is_floating(f.type) and entry["format"] != "parquet":
                values = [v for v in col.to_pylist() if v is not None]
                assert all(abs(v * 100 - round(v * 100)) < 1e-6 for v in values), f.name
            if pa.types.is_string(f.type):
                assert not any(v == "" or "\n" in v for v in col.to_pylist() if v is not None)


# --------------------------------------------------------------------------------------------
# Planted redundancy is ground truth
# --------------------------------------------------------------------------------------------


def _mapped_child(lake: Lake, d: dict[str, Any]) -> tuple[pa.Table, pa.Table]:
    """The child with columns renamed to the parent's, and the parent projected to match."""
    child = lake.table(d["child"])
    parent = lake.table(d["parent"])
    cols = list(d["column_map"])
    parent_cols = [d["column_map"][c] for c in cols]
    mapped = child.select(cols).rename_columns(parent_cols)
    projected = parent.select(parent_cols)
    return mapped.cast(projected.schema), projected


def test_every_derivation_ratio_matches_the_files(lake: Lake) -> None:
    for d in lake.manifest["derivations"]:
        child, parent = _mapped_child(lake, d)
        found = contained_rows(child, parent)
        rows = child.num_rows
        assert rows == d["child_rows"]
        assert found / rows == pytest.approx(d["expected_ratio"], abs=1e-12), d["child"]
        assert (found == rows) == d["contained"], d["child"]
        if d["kind"] == "near_copy":
            assert rows - found == d["perturbed_rows"] > 0
            assert 0.0005 <= d["perturbed_rows"] / rows <= 0.011 or d["perturbed_rows"] <= 4
        else:
            assert d["perturbed_rows"] == 0


def test_selections_are_exact_and_projections_complete(lake: Lake) -> None:
    for d in lake.manifest["derivations"]:
        kind, predicate = d["kind"], d["predicate"]
        child, parent = _mapped_child(lake, d)
        if predicate is not None:
            full_parent = lake.table(d["parent"])
            mask = evaluate(predicate, full_parent)
            selected = full_parent.filter(mask).select(parent.column_names)
            assert 0 < selected.num_rows < full_parent.num_rows, d["child"]
            assert child.num_rows == selected.num_rows, d["child"]
            if kind != "near_copy":
                assert sorted(row_keys(child).to_pylist()) == sorted(
                    row_keys(selected).to_pylist()
                ), d["child"]
        elif kind in ("projection", "chain", "format_copy", "exact_copy", "renamed_reordered"):
            if d["distinct"]:
                keys = row_keys(child).to_pylist()
                assert len(keys) == len(set(keys)) == len(set(row_keys(parent).to_pylist()))
                assert child.num_rows < parent.num_rows
            else:
                assert sorted(row_keys(child).to_pylist()) == sorted(
                    row_keys(parent).to_pylist()
                ), d["child"]
        if kind in ("selection", "format_copy", "exact_copy", "renamed_reordered"):
            assert set(d["column_map"].values()) == set(lake.table(d["parent"]).column_names)
        if kind in ("projection", "projection_of_selection", "chain"):
            assert len(d["column_map"]) < len(lake.table(d["parent"]).column_names)


def test_copies_and_renames(lake: Lake) -> None:
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for d in lake.manifest["derivations"]:
        by_kind.setdefault(d["kind"], []).append(d)
    for d in by_kind["exact_copy"]:
        child, parent = lake.entries[d["child"]], lake.entries[d["parent"]]
        assert child["format"] == parent["format"]
        assert child["path"].split("/")[0] != parent["path"].split("/")[0]
        assert [f.read_bytes() for f in files_of(lake.root, child)] == [
            f.read_bytes() for f in files_of(lake.root, parent)
        ]
    pairs = {
        (lake.entries[d["parent"]]["format"], lake.entries[d["child"]]["format"])
        for d in by_kind["format_copy"]
    }
    assert {("parquet", "csv"), ("csv", "json"), ("parquet", "json")} <= pairs
    abbreviations = {"cust", "amt", "qty", "num", "addr", "dob"}
    seen: set[str] = set()

    def norm(name: str) -> str:
        snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
        words = re.split(r"[\s_\-]+", snake.lower())
        seen.update(w for w in words if w in abbreviations)
        full = {
            "cust": "customer",
            "amt": "amount",
            "qty": "quantity",
            "num": "number",
            "addr": "address",
            "dob": "date_of_birth",
        }
        return "_".join(full.get(w, w) for w in words)

    for d in by_kind["renamed_reordered"]:
        child_cols = list(d["column_map"])
        parent_cols = lake.table(d["parent"]).column_names
        assert [d["column_map"][c] for c in child_cols] != parent_cols, "not reordered"
        assert all(c != p for c, p in d["column_map"].items()), "a column kept its name"
        for c, p in d["column_map"].items():
            assert norm(c) == p, (c, p)
    assert seen == abbreviations


def test_decoys_share_ranges_but_no_rows(lake: Lake) -> None:
    decoys = [d for d in lake.manifest["derivations"] if d["kind"] == "decoy"]
    assert len(decoys) >= 2
    for d in decoys:
        child, parent = lake.table(d["child"]), lake.table(d["parent"])
        assert child.schema.equals(parent.schema)
        assert contained_rows(child, parent) == 0
        assert d["expected_ratio"] == 0.0 and d["contained"] is False
        for name in parent.column_names:
            assert pc.min_max(child[name]).as_py() == pc.min_max(parent[name]).as_py(), name


# --------------------------------------------------------------------------------------------
# Realistic, well-formed PII
# --------------------------------------------------------------------------------------------


def _luhn_ok(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def test_card_numbers_are_luhn_valid(lake: Lake) -> None:
    payments = lake.table("finance.payments")
    brands: set[str] = set()
    for number, brand in zip(
        payments["card_number"].to_pylist(), payments["card_brand"].to_pylist(), strict=True
    ):
        assert number.isdigit() and _luhn_ok(number), number
        brands.add(brand)
        if brand == "American Express":
            assert len(number) == 15 and number[:2] in ("34", "37")
        elif brand == "Visa":
            assert len(number) == 16 and number[0] == "4"
        elif brand == "Mastercard":
            assert len(number) == 16 and 51 <= int(number[:2]) <= 55
        else:
            assert brand == "Discover" and len(number) == 16 and number.startswith("6011")
    assert brands == {"Visa", "Mastercard", "American Express", "Discover"}


def _non_null(table: pa.Table, column: str) -> list[Any]:
    return [v for v in table[column].to_pylist() if v is not None]


def test_pii_columns_are_well_formed(lake: Lake) -> None:
    for name in ("sales.customers", "hr.employees", "health.patients"):
        table = lake.table(name)
        assert {
            "first_name",
            "last_name",
            "date_of_birth",
            "street_address",
            "city",
            "state",
            "postal_code",
            "phone",
        } <= set(table.column_names)
        emails = _non_null(table, "email")
        assert emails and all(EMAIL_RE.match(e) for e in emails), name
        phones = _non_null(table, "phone")
        assert phones and all(PHONE_RE.match(p) for p in phones), name
        assert len(set(table["first_name"].to_pylist())) >= 40
        assert len(set(table["last_name"].to_pylist())) >= 40
        dobs = _non_null(table, "date_of_birth")
        ref = dt.date(2024, 12, 31)
        ages = [(ref - d).days / 365.25 for d in dobs]
        assert 17.9 < min(ages) and max(ages) < 90.1, name
        assert all(
            re.match(r"^\d+ \w[\w ]* \w+( Apt \d+)?$", a)
            for a in table["street_address"].to_pylist()
        )
    for name in ("sales.stores", "health.physicians", "catalog.suppliers"):
        assert all(PHONE_RE.match(p) for p in _non_null(lake.table(name), "phone"))
    assert all(
        EMAIL_RE.match(e) for e in _non_null(lake.table("catalog.suppliers"), "contact_email")
    )
    ssns = _non_null(lake.table("hr.employees"), "national_id")
    assert ssns and all(SSN_RE.match(s) for s in ssns)
    customers = lake.table("sales.customers")
    null_share = customers["phone"].null_count / customers.num_rows
    assert 0.01 <= null_share <= 0.06
    assert set(customers["country"].to_pylist()) >= {"US", "DE", "GB", "CA"}
    events = lake.table("web.web_events")
    assert 0.2 < events["customer_id"].null_count / events.num_rows < 0.9
    assert all(re.match(r"^\d{1,3}(\.\d{1,3}){3}$", ip) for ip in events["ip_address"].to_pylist())
    codes = set(lake.table("health.visits")["diagnosis_code"].to_pylist())
    assert all(re.match(r"^[A-Z]\d{2}(\.[0-9A-Z]{1,4})?$", c) for c in codes)


# --------------------------------------------------------------------------------------------
# Determinism and size
# --------------------------------------------------------------------------------------------


def test_same_seed_is_byte_identical_and_other_seed_differs(tmp_path: Path) -> None:
    a = hash_files(generate_lake(tmp_path / "a", seed=7, size_mb=1).root)
    b = hash_files(generate_lake(tmp_path / "b", seed=7, size_mb=1).root)
    c = hash_files(generate_lake(tmp_path / "c", seed=8, size_mb=1).root)
    assert a == b
    assert set(a) == set(c)
    same = [path for path in a if path != MANIFEST_NAME and a[path] == c[path]]
    assert same == []
    assert a[MANIFEST_NAME] != c[MANIFEST_NAME]


def test_size_scales_roughly_linearly(tmp_path: Path) -> None:
    small = generate_lake(tmp_path / "small", size_mb=2)
    large = generate_lake(tmp_path / "large", size_mb=6)
    assert 2.0 <= large.bytes / small.bytes <= 4.5


def test_default_size_is_about_50_mb(tmp_path: Path) -> None:
    result = generate_lake(tmp_path / "default")
    assert 37.5e6 <= result.bytes <= 62.5e6
    assert result.datasets >= 40


# --------------------------------------------------------------------------------------------
# Bad input and safe overwriting
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, -1.0, math.nan, math.inf])
def test_bad_size_is_refused(tmp_path: Path, size: float) -> None:
    with pytest.raises(InputError, match="size_mb"):
        generate_lake(tmp_path / "x", size_mb=size)
    assert not (tmp_path / "x").exists()


def test_negative_seed_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="seed"):
        generate_lake(tmp_path / "x", seed=-1, size_mb=1)


def test_non_empty_directory_needs_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="pass --overwrite or choose an empty directory"):
        generate_lake(out, size_mb=1)
    assert (out / "notes.txt").read_text() == "mine"


def test_overwrite_without_manifest_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "sales").mkdir(parents=True)
    (out / "sales" / "orders.csv").write_text("a\n1\n")
    with pytest.raises(InputError, match=MANIFEST_NAME):
        generate_lake(out, size_mb=1, overwrite=True)
    assert (out / "sales" / "orders.csv").read_text() == "a\n1\n"


def test_out_is_a_file(tmp_path: Path) -> None:
    out = tmp_path / "file"
    out.write_text("x")
    with pytest.raises(InputError, match="is a file"):
        generate_lake(out, size_mb=1, overwrite=True)
    assert out.read_text() == "x"


def test_empty_directory_is_used(tmp_path: Path) -> None:
    out = tmp_path / "empty"
    out.mkdir()
    result = generate_lake(out, size_mb=0.5)
    assert result.manifest_path.is_file()


def test_overwrite_replaces_a_generated_lake(tmp_path: Path) -> None:
    out = tmp_path / "out"
    generate_lake(out, seed=1, size_mb=0.5)
    result = generate_lake(out, seed=2, size_mb=0.5, overwrite=True)
    assert json.loads(result.manifest_path.read_text())["seed"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"], "temporary dirs left behind"
    assert set(discover(out)) == {
        d["name"] for d in json.loads(result.manifest_path.read_text())["datasets"]
    }


def test_overwrite_refuses_a_lake_with_foreign_files(tmp_path: Path) -> None:
    out = tmp_path / "out"
    generate_lake(out, size_mb=0.5)
    before = hash_files(out)
    (out / "sales" / "my_notes.txt").write_text("keep me")
    with pytest.raises(InputError, match="my_notes.txt"):
        generate_lake(out, size_mb=0.5, overwrite=True, seed=3)
    after = hash_files(out)
    assert after.pop("sales/my_notes.txt")
    assert after == before


def test_a_failed_generation_leaves_nothing_behind(tmp_path: Path) -> None:
    calls: list[str] = []

    def boom(message: str) -> None:
        calls.append(message)
        if len(calls) == 5:
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        generate_lake(tmp_path / "out", size_mb=0.5, progress=boom)
    assert list(tmp_path.iterdir()) == []
