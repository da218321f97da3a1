"""Reconstruction recipes: rebuild a contained child from its parent, and prove it.

A recipe names the parent (with the version, content fingerprint and file signature it was
verified against), the column mapping with the child's column names and types, and one of:

- a **row predicate** over the child's columns, inferred from the child's statistics: none
  (the child is the whole projected parent), the child's per-column [min, max] box
  (``country = 'DE'``, ``order_ts >= …``), optionally with ``IN`` lists of the child's values
  for low-cardinality columns, optionally ``DISTINCT``;
- the child's **keyed row fingerprints** with their counts (a Parquet file of HMAC values,
  which disclose nothing without the lake key), used when no predicate reproduces the child.

A recipe is accepted only when the rebuilt rows have exactly the child's content fingerprint
(the profiler's order-independent hash of every value, column names and row count), i.e. the
child is reproduced bit for bit in content. Columns the policy layer masks for the reader are
never used in predicates (their values would land in the catalog).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakeward.dedup._fingerprint import LakeKey, row_fingerprint, with_key
from lakeward.dedup._schema import ColumnInfo, DatasetInfo, Pairing, domain_of, schema_ddl
from lakeward.errors import CheckFailed, InputError
from lakeward.lake import DatasetSpec

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

__all__ = [
    "ChildChanged",
    "build_recipe",
    "fsync_path",
    "rebuild_frame",
    "recipe_problem",
    "verify_rebuild",
    "write_rebuilt",
]

_IN_LIST_MAX = 32
_ORDERED_DOMAINS = ("number", "temporal", "string", "boolean")


class ChildChanged(CheckFailed):
    """The child's files no longer hold the content its catalog entry describes."""


def _q(name: str) -> Column:
    from pyspark.sql import functions as F

    return F.col("`" + name.replace("`", "``") + "`")


def ddl(columns: Sequence[ColumnInfo]) -> str:
    """A Spark DDL schema string for profiled columns."""
    return schema_ddl((c.name, c.type) for c in columns)


def ddl_from_recipe(recipe: dict[str, Any]) -> str:
    """The child's DDL schema string, from its recipe."""
    return schema_ddl((c["name"], c["type"]) for c in recipe["columns"])


def _literal(text: str, type_name: str) -> Column:
    from pyspark.sql import functions as F

    return F.lit(text).cast(type_name)


def _condition(cond: dict[str, Any], type_name: str) -> Column:
    from pyspark.sql import functions as F

    column = _q(cond["column"])
    parts: list[Column] = []
    if cond.get("in") is not None:
        parts.append(column.isin([_literal(v, type_name) for v in cond["in"]]))
    if cond.get("min") is not None:
        parts.append(column >= _literal(cond["min"], type_name))
    if cond.get("max") is not None:
        parts.append(column <= _literal(cond["max"], type_name))
    value = parts[0] if parts else F.lit(True)
    for part in parts[1:]:
        value = value & part
    if cond.get("nulls"):
        return column.isNull() | value
    return column.isNotNull() & value


def predicate_text(predicate: Sequence[dict[str, Any]] | None, distinct: bool) -> str:
    """Human-readable form of a recipe predicate."""
    if not predicate:
        text = "all rows"
    else:
        clauses = []
        for c in predicate:
            inner = []
            if c.get("in") is not None:
                inner.append(f"{c['column']} IN ({', '.join(repr(v) for v in c['in'])})")
            if c.get("min") is not None:
                inner.append(f"{c['column']} >= {c['min']!r}")
            if c.get("max") is not None:
                inner.append(f"{c['column']} <= {c['max']!r}")
            clause = " AND ".join(inner) or "TRUE"
            clause = f"({c['column']} IS NULL OR {clause})" if c.get("nulls") else clause
            clauses.append(clause)
        text = " AND ".join(clauses)
    return f"DISTINCT {text}" if distinct else text


def rebuild_frame(
    spark: SparkSession,
    parent_spec: DatasetSpec,
    recipe: dict[str, Any],
    key: LakeKey | None = None,
    *,
    for_text_output: bool = False,
) -> DataFrame:
    """The child's rows rebuilt from the parent, with the child's column names and types.

    ``for_text_output``: keep a text parent's strings as they are for columns the child had
    parsed from text (so a CSV written from them has the child's very text, e.g. ``02134``).

    Raises:
        CheckFailed: a fingerprint recipe was made with another lake key, or its file
            changed.
    """
    from pyspark.sql import functions as F

    from lakeward.lake import read_dataset

    parent = read_dataset(spark, parent_spec, parquet_schema=recipe["parent_ddl"])
    columns = recipe["columns"]
    typed = []
    raw = []
    for c in columns:
        source = _q(c["parent"])
        if c["parse"]:
            value = F.trim(source.cast("string")).try_cast(c["type"])
        else:
            value = source.cast(c["type"])
        typed.append(value.alias(c["name"]))
        raw.append((source if c["parse"] else value).alias(c["name"]))
    frame = parent.select(*typed, *[r.alias(f"__raw{i}") for i, r in enumerate(raw)])
    for cond in recipe.get("predicate") or []:
        type_name = next(c["type"] for c in columns if c["name"] == cond["column"])
        frame = frame.where(_condition(cond, type_name))
    names = [c["name"] for c in columns]
    if recipe["kind"] == "fingerprints":
        if key is None or key.key_id != recipe["fingerprints"]["key_id"]:
            raise CheckFailed(
                "This recipe's row fingerprints were made with another lake key "
                f"(key id {recipe['fingerprints']['key_id']}); restore the key "
                "(LAKEWARD_LAKE_SECRET or <home>/keys/lake.key) it was made with."
            )
        path = Path(recipe["fingerprints"]["path"])
        if _sha256_dir(path) != recipe["fingerprints"]["sha256"]:
            raise CheckFailed(
                f"The recipe's fingerprint file {path} is missing or changed (SHA-256 differs);"
                " it cannot be trusted to rebuild the child. Restore it from backup."
            )
        import pyarrow.parquet as pq

        wanted = spark.createDataFrame(pq.read_table(path / "fingerprints.parquet"))
        ordered = sorted(columns, key=lambda c: (c["key"], c["name"]))
        fp = row_fingerprint(
            [(c["key"], c["name"], c["type"], c["domain"], False) for c in ordered]
        )
        frame = (
            with_key(frame, key)
            .withColumn("__fp", fp)
            .drop("_lw_ipad", "_lw_opad")
            .dropDuplicates(["__fp"])
            .join(F.broadcast(wanted).withColumnRenamed("fp", "__fp"), "__fp")
            .withColumn("__copy", F.explode(F.sequence(F.lit(1).cast("long"), F.col("n"))))
        )
    elif recipe.get("distinct"):
        frame = frame.dropDuplicates(names)
    if for_text_output:
        return frame.select(*[F.col(f"__raw{i}").alias(n) for i, n in enumerate(names)])
    return frame.select(*[_q(n) for n in names])


def _sha256_dir(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        digest.update((path / "fingerprints.parquet").read_bytes())
    except OSError:
        return ""
    return digest.hexdigest()


def recipe_problem(recipe: dict[str, Any], key: LakeKey | None) -> str | None:
    """Why ``recipe`` could not rebuild its child now (``None`` when nothing is wrong).

    A fingerprint recipe needs the lake key it was made with and its fingerprint file,
    unchanged (same SHA-256). A predicate recipe needs only the parent (checked elsewhere).
    """
    fingerprints = recipe.get("fingerprints")
    if recipe.get("kind") != "fingerprints" or not fingerprints:
        return None
    if key is None or key.key_id != fingerprints["key_id"]:
        return (
            f"its row fingerprints were made with lake key {fingerprints['key_id']}, not the "
            "current one; restore that key (LAKEWARD_LAKE_SECRET or <home>/keys/lake.key)"
        )
    path = Path(fingerprints["path"])
    if _sha256_dir(path) != fingerprints["sha256"]:
        return (
            f"its fingerprint file {path / 'fingerprints.parquet'} is missing or changed "
            "(SHA-256 differs); restore it from backup"
        )
    return None


def verify_rebuild(frame: DataFrame, child_rows: int, child_fingerprint: str) -> bool:
    """Whether the rebuilt rows have exactly the child's row count and content fingerprint."""
    from lakeward.lake import content_fingerprint

    rows, fingerprint = content_fingerprint(frame)
    return rows == child_rows and fingerprint == child_fingerprint


@dataclass
class _Attempt:
    predicate: list[dict[str, Any]] | None
    distinct: bool


def _canonical(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _box(
    child: DatasetInfo, parent: DatasetInfo, pairs: Sequence[Pairing], masked: frozenset[str]
) -> list[dict[str, Any]]:
    """Per-column conditions where the child's range or NULLs are narrower than the parent's."""
    pcols = {c.name: c for c in parent.columns}
    box = []
    for c in child.columns:
        pair = next(p for p in pairs if p.child == c.name)
        pc = pcols[pair.parent]
        if c.name in masked or domain_of(c.type) not in _ORDERED_DOMAINS or c.all_null:
            continue
        cond: dict[str, Any] = {"column": c.name, "nulls": c.nulls > 0}
        narrower = c.nulls == 0 and pc.nulls > 0
        if c.min is not None and c.max is not None:
            same = (c.min, c.max) == (pc.min, pc.max) and not pair.parse
            if not same:
                cond["min"], cond["max"] = c.min, c.max
                narrower = True
        if narrower:
            box.append(cond)
    return box


def _attempts(
    spark: SparkSession,
    child: DatasetInfo,
    parent: DatasetInfo,
    child_frame: DataFrame,
    pairs: Sequence[Pairing],
    masked: frozenset[str],
) -> list[_Attempt]:
    """Predicates to try, cheapest first (each costs one scan of the parent)."""
    attempts: list[_Attempt] = []
    box = _box(child, parent, pairs, masked)
    if child.rows == parent.rows and not box:
        attempts.append(_Attempt(None, False))
    if box:
        attempts.append(_Attempt(box, False))
    small = [
        c
        for c in child.columns
        if c.name not in masked
        and 0 < c.distinct <= _IN_LIST_MAX
        and domain_of(c.type) in _ORDERED_DOMAINS
        and not c.all_null
    ]
    if small and child.rows < parent.rows:
        values: dict[str, list[str]] = {}
        for c in small:
            rows = child_frame.select(_q(c.name)).where(_q(c.name).isNotNull()).distinct()
            got = [r[0] for r in rows.limit(_IN_LIST_MAX + 1).collect()]
            if len(got) <= _IN_LIST_MAX:
                values[c.name] = sorted(_canonical(v) for v in got)
        listed = [dict(cond) for cond in box]
        names = {cond["column"] for cond in listed}
        for column, vals in values.items():
            info = next(c for c in child.columns if c.name == column)
            if column in names:
                next(cond for cond in listed if cond["column"] == column)["in"] = vals
            else:
                listed.append({"column": column, "nulls": info.nulls > 0, "in": vals})
        if values:
            attempts.append(_Attempt(listed, False))
    if child.rows < parent.rows:
        attempts.append(_Attempt(box or None, True))
    return attempts[:4]


def build_recipe(
    spark: SparkSession,
    *,
    child: DatasetInfo,
    parent: DatasetInfo,
    child_spec: DatasetSpec,
    parent_spec: DatasetSpec,
    pairs: Sequence[Pairing],
    masked: frozenset[str],
    key: LakeKey,
    recipes_dir: Path,
    item_id: int,
) -> dict[str, Any]:
    """Infer and verify a recipe that rebuilds ``child`` from ``parent`` exactly.

    The child's files are read once more to confirm their content fingerprint is still the
    catalog's (``child.fingerprint``).

    Raises:
        CheckFailed: the child's files no longer have the catalogued content, or no recipe
            reproduces the child (then it must not be deleted).
    """
    from pyspark.sql import functions as F

    from lakeward.lake import content_fingerprint, read_dataset

    child_frame = read_dataset(spark, child_spec, parquet_schema=ddl(child.columns))
    rows, fingerprint = content_fingerprint(child_frame)
    if rows != child.rows or fingerprint != child.fingerprint:
        raise ChildChanged(
            f"{child.name}: its files no longer hold the profiled content (fingerprint "
            "differs); re-profile it and run `lakeward dedup find` again before deleting it."
        )
    by_child = {p.child: p for p in pairs}
    recipe: dict[str, Any] = {
        "parent": parent.name,
        "parent_id": parent.id,
        "parent_version": parent.version,
        "parent_fingerprint": parent.fingerprint,
        "parent_signature": parent.signature,
        "parent_ddl": ddl(parent.columns),
        "child_version": child.version,
        "child_rows": child.rows,
        "child_fingerprint": child.fingerprint,
        "child_signature": child.signature,
        "format": child_spec.format,
        "layout": child_spec.layout,
        "relpath": child_spec.relpath,
        "columns": [
            {
                "name": c.name,
                "type": c.type,
                "key": c.key,
                "domain": domain_of(c.type),
                "parent": by_child[c.name].parent,
                "parse": by_child[c.name].parse,
            }
            for c in child.columns
        ],
        "key_id": key.key_id,
    }
    for attempt in _attempts(spark, child, parent, child_frame, pairs, masked):
        candidate = {
            **recipe,
            "kind": "predicate",
            "predicate": attempt.predicate,
            "distinct": attempt.distinct,
            "predicate_text": predicate_text(attempt.predicate, attempt.distinct),
            "fingerprints": None,
        }
        frame = rebuild_frame(spark, parent_spec, candidate)
        if verify_rebuild(frame, child.rows, child.fingerprint):
            return candidate
    # No predicate reproduces the child: keep its keyed row fingerprints (with counts).
    ordered = sorted(recipe["columns"], key=lambda c: (c["key"], c["name"]))
    fp = row_fingerprint([(c["key"], c["name"], c["type"], c["domain"], False) for c in ordered])
    counts = (
        with_key(child_frame, key)
        .select(fp.alias("fp"))
        .groupBy("fp")
        .agg(F.count(F.lit(1)).alias("n"))
        .toArrow()
    )
    # One directory per attempt: an apply that lost its lease never replaces the file a
    # stored recipe (of another attempt at the same item) refers to.
    tag = uuid.uuid4().hex[:12]
    target = recipes_dir / f"item-{item_id}-{tag}"
    tmp = recipes_dir / f".item-{item_id}-{tag}.tmp"
    tmp.mkdir(parents=True)
    try:
        import pyarrow.parquet as pq

        pq.write_table(counts, tmp / "fingerprints.parquet")
        fsync_path(tmp / "fingerprints.parquet")
        tmp.rename(target)
        _fsync_dir(recipes_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    candidate = {
        **recipe,
        "kind": "fingerprints",
        "predicate": None,
        "distinct": False,
        "predicate_text": "rows whose keyed fingerprint is in the stored set",
        "fingerprints": {
            "path": str(target),
            "sha256": _sha256_dir(target),
            "key_id": key.key_id,
            "distinct_rows": counts.num_rows,
        },
    }
    frame = rebuild_frame(spark, parent_spec, candidate, key)
    if verify_rebuild(frame, child.rows, child.fingerprint):
        return candidate
    shutil.rmtree(target, ignore_errors=True)
    raise CheckFailed(
        f"{child.name}: no recipe rebuilds it exactly from {parent.name} (the rebuilt rows' "
        "content fingerprint differs, e.g. strings that differ only in surrounding spaces); "
        "it is kept."
    )


def fsync_path(path: Path) -> None:
    """Flush one file (or directory entry) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    try:
        fsync_path(path)
    except OSError:  # some filesystems cannot fsync directories
        pass


def _timestamp_format(frame: DataFrame, recipe: dict[str, Any]) -> str:
    """The timestamp format for text output: whole seconds unless some value has a fraction.

    Text readers infer ``yyyy-MM-dd HH:mm:ss`` back as timestamps.
    """
    from pyspark.sql import functions as F

    stamps = [c["name"] for c in recipe["columns"] if c["type"].startswith("timestamp")]
    if not stamps:
        return "yyyy-MM-dd HH:mm:ss"
    fractional = frame.agg(
        F.max(
            F.greatest(
                *[
                    (F.unix_micros(_q(n).cast("timestamp")) % 1_000_000 != 0).cast("int")
                    for n in stamps
                ],
                F.lit(0),
            )
        )
    ).collect()[0][0]
    return "yyyy-MM-dd HH:mm:ss.SSSSSS" if fractional else "yyyy-MM-dd HH:mm:ss"


def write_rebuilt(
    spark: SparkSession,
    parent_spec: DatasetSpec,
    recipe: dict[str, Any],
    key: LakeKey,
    target: Path,
) -> None:
    """Write the rebuilt child to ``target`` (a file or part-file directory, by the recipe).

    Written next to the target first and renamed into place, so ``target`` never holds a
    half-written dataset.

    Raises:
        InputError: ``target`` already exists.
    """
    if target.exists():
        raise InputError(f"{target} already exists; move it away or choose another place.")
    fmt, layout = recipe["format"], recipe["layout"]
    frame = rebuild_frame(spark, parent_spec, recipe, key, for_text_output=fmt == "csv")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{target.name}.lakeward-rebuild-{uuid.uuid4().hex[:8]}"
    writer = (frame.coalesce(1) if layout == "file" else frame).write.mode("error")
    ts = _timestamp_format(frame, recipe) if fmt != "parquet" else ""
    try:
        if fmt == "parquet":
            writer.parquet(str(staging))
        elif fmt == "csv":
            writer.options(
                header="true", timestampFormat=ts, timestampNTZFormat=ts, dateFormat="yyyy-MM-dd"
            ).csv(str(staging))
        else:
            writer.options(
                ignoreNullFields="false",
                timestampFormat=ts,
                timestampNTZFormat=ts,
                dateFormat="yyyy-MM-dd",
            ).json(str(staging))
        parts = sorted(p for p in staging.iterdir() if p.name.startswith("part-"))
        if layout == "directory" and fmt != "parquet" and len(parts) > 1:
            for empty in [p for p in parts if p.stat().st_size == 0]:
                empty.unlink()  # Spark writes empty text files for empty partitions
                parts.remove(empty)
        if layout == "file":
            if len(parts) != 1:
                raise CheckFailed(f"expected one part file for {target.name}, got {len(parts)}")
            parts[0].rename(target)
        else:
            for p in staging.iterdir():
                if p.name.startswith(".") or p.name.endswith(".crc"):
                    p.unlink()
            ext = {"parquet": ".parquet", "csv": ".csv", "json": ".json"}[fmt]
            for i, p in enumerate(parts):
                p.rename(staging / f"part-{i:05d}{ext}")
            staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
