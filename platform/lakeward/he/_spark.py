"""Governed encrypted jobs on Spark.

The data owner's job (:func:`encrypt_dataset`) reads numeric columns of a dataset, cuts
each Spark partition into blocks of ``block_rows`` rows (the last one zero-padded, so every
block has the same layout), and encrypts each block with the *public* context: the secret
key never reaches Spark. The store is a directory: ``manifest.json`` and ``blocks/``
(Parquet: partition, block, rows, ciphertext bytes).

The compute job (:func:`compute_encrypted`) evaluates an einsum whose operands are the block
(named ``"data"``, any number of times: ``ni,nj->ij`` is a covariance) and plaintext arrays,
block by block on the executors. When the row label (the block's first label) is summed,
each partition adds its blocks' results homomorphically and the driver adds the partitions'
sums: one ciphertext leaves. Otherwise each block's result is kept (``ni,i->n``: scores).
The owner decrypts with :func:`decrypt_result`; per-row results come in block order, which
is the ``order_by`` column's order when the store was made with one.

The policy layer decides first and audits: the owner's read of the contents as
``he.encrypt`` with ``encrypted`` set (only ciphertexts come out; masked columns are
refused), the computation as
``he.compute`` with ``encrypted`` set. :func:`compute_plaintext` is the same job on
cleartext columns; for a dataset tagged ``encryption_required`` the bundle's guard denies
it, so it fails closed before anything is read.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from lakeward.errors import PolicyDenied
from lakeward.he._errors import HEInputError, KeyFileError
from lakeward.he._keys import Keys, PublicContext, load_context
from lakeward.he._subscripts import parse_subscripts
from lakeward.he._tensor import CipherTensor, decrypt, encrypt

__all__ = [
    "DATA",
    "ComputeResult",
    "EncryptedStore",
    "compute_encrypted",
    "compute_plaintext",
    "decrypt_result",
    "encrypt_dataset",
]

#: Stands for the encrypted block among the einsum operands.
DATA = "data"
STORE_KIND = "lakeward-he-store"
RESULT_KIND = "lakeward-he-result"

_contexts: dict[tuple[str, float], PublicContext] = {}
_contexts_lock = threading.Lock()


def _context(path: str) -> PublicContext:
    """The public context at ``path``, loaded once per process (executors reuse it)."""
    key = (path, Path(path).stat().st_mtime)
    with _contexts_lock:
        if key not in _contexts:
            _contexts[key] = load_context(path)
        return _contexts[key]


@dataclass
class EncryptedStore:
    """An encrypted dataset: where it is and what it holds.

    Attributes:
        path: The store directory.
        dataset: The catalog dataset the columns came from.
        columns: The encrypted columns (the block's second axis, in this order).
        block_rows: Rows per block (the block's first axis).
        rows: Rows encrypted.
        blocks: Ciphertext blocks written.
        context_id: The key set.
    """

    path: str
    dataset: str
    columns: list[str]
    block_rows: int
    rows: int
    blocks: int
    context_id: str

    @classmethod
    def open(cls, path: str | Path) -> EncryptedStore:
        """Read a store's manifest.

        Raises:
            KeyFileError: ``path`` is not an encrypted store.
        """
        manifest = Path(path) / "manifest.json"
        try:
            data = json.loads(manifest.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise KeyFileError(
                f"{path}: not an encrypted store ({exc}); make one with encrypt_dataset"
            ) from exc
        if data.get("kind") != STORE_KIND:
            raise KeyFileError(f"{path}: a {data.get('kind')} directory, not a store")
        return cls(**{k: v for k, v in data.items() if k != "kind"})


@dataclass
class ComputeResult:
    """What a compute job produced.

    Attributes:
        path: The result directory (``manifest.json`` and ``result.ct`` or ``blocks/``).
        expr: The einsum.
        dataset: The source dataset.
        per_block: Whether the result is one ciphertext per block (row label kept).
        shape: The result's shape (rows first when per block).
        blocks: Blocks computed.
        partitions: Partial sums combined on the driver (when the rows were summed).
        fingerprint: Hash of the inputs; a re-run with the same inputs reuses the result.
        reused: Whether this run found the result already there.
        counts: Homomorphic operations per block.
    """

    path: str
    expr: str
    dataset: str
    per_block: bool
    shape: list[int]
    blocks: int
    partitions: int
    fingerprint: str
    reused: bool = False
    counts: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return asdict(self)


def _dataset(catalog: Any, name: str) -> Any:
    from lakeward.catalog import DatasetRepository

    with catalog.session() as session:
        dataset = DatasetRepository(session).require(name)
        session.expunge(dataset)
    return dataset


def _numeric_frame(
    spark: Any, dataset: Any, columns: Sequence[str], order_by: str | None = None
) -> Any:
    from pyspark.sql import functions as F

    from lakeward.lake import read_dataset, spec_for

    frame = read_dataset(spark, spec_for(dataset))
    missing = [c for c in [*columns, *([order_by] if order_by else [])] if c not in frame.columns]
    if missing:
        raise HEInputError(
            f"dataset {dataset.name} has no column(s) {missing}; it has {frame.columns}"
        )
    if order_by:  # a global sort: partition i holds smaller keys than partition i + 1
        frame = frame.orderBy(F.col(f"`{order_by}`"))
    selected = frame.select(*[F.col(f"`{c}`").cast("double").alias(c) for c in columns])
    nulls = selected.filter(" OR ".join(f"`{c}` IS NULL OR isnan(`{c}`)" for c in columns)).count()
    if nulls:
        raise HEInputError(
            f"dataset {dataset.name}: {nulls} row(s) have a null, NaN or non-numeric value "
            f"in {list(columns)}; ciphertexts carry numbers only: clean or fill them first"
        )
    return selected


def encrypt_dataset(
    catalog: Any,
    name: str,
    columns: Sequence[str],
    context_path: str | Path,
    out: str | Path,
    *,
    principal: str,
    purpose: str,
    block_rows: int = 256,
    order_by: str | None = None,
) -> EncryptedStore:
    """The owner's job: encrypt ``columns`` of dataset ``name`` per partition, in blocks.

    Args:
        catalog: The catalog the dataset is registered in.
        name: The dataset.
        columns: Numeric columns to encrypt (the block's second axis, in this order).
        context_path: The public context file (only the public key is used).
        out: The store directory to write (replaced if it exists).
        principal: Who runs the job (the data owner).
        purpose: The declared purpose.
        block_rows: Rows per ciphertext block.
        order_by: Sort rows by this column first, so per-row results come back in its order
            (the column itself is not stored). Without it, rows follow Spark's read order.

    Raises:
        PolicyDenied: the policy layer refused reading the contents (audited).
        HEInputError: unknown, non-numeric or null columns; bad block size.
    """
    from pyspark.sql.types import BinaryType, IntegerType, LongType, StructField, StructType

    from lakeward import spark as lakeward_spark
    from lakeward.policy import guard

    if block_rows < 1 or not columns:
        raise HEInputError("encrypt_dataset: give at least one column and block_rows >= 1")
    dataset = _dataset(catalog, name)
    decision = guard(
        catalog,
        principal,
        "he.encrypt",
        f"dataset:{name}",
        {"purpose": purpose, "encrypted": True},
        columns=list(columns),
    )
    masked = sorted(o[5:] for o in decision.obligations if o.startswith("mask:"))
    if set(masked) & set(columns):
        raise PolicyDenied(
            f"{principal} may not read column(s) {sorted(set(masked) & set(columns))} of "
            f"{name} (mask obligation); encrypt only readable columns",
            reasons=list(decision.policy_ids),
        )
    context_file = str(Path(context_path).resolve())
    context = _context(context_file)
    width = len(columns)
    spark = lakeward_spark.session()
    frame = _numeric_frame(spark, dataset, columns, order_by)

    def encrypt_partition(index: int, rows: Iterator[Any]) -> Iterator[tuple[int, int, int, bytes]]:
        ctx = _context(context_file)
        block: list[list[float]] = []
        number = 0

        def emit() -> tuple[int, int, int, bytes]:
            values = np.zeros((block_rows, width))
            values[: len(block)] = np.asarray(block, dtype=np.float64).reshape(-1, width)
            return index, number, len(block), encrypt(ctx, values).to_bytes()

        for row in rows:
            block.append([float(v) for v in row])
            if len(block) == block_rows:
                yield emit()
                block, number = [], number + 1
        if block:
            yield emit()

    schema = StructType(
        [
            StructField("partition", IntegerType(), False),
            StructField("block", IntegerType(), False),
            StructField("rows", LongType(), False),
            StructField("ciphertext", BinaryType(), False),
        ]
    )
    target = Path(out)
    blocks = spark.createDataFrame(frame.rdd.mapPartitionsWithIndex(encrypt_partition), schema)
    blocks.write.mode("overwrite").parquet(str(target / "blocks"))
    written = [
        int(r["rows"]) for r in spark.read.parquet(str(target / "blocks")).select("rows").collect()
    ]
    store = EncryptedStore(
        path=str(target),
        dataset=name,
        columns=list(columns),
        block_rows=block_rows,
        rows=sum(written),
        blocks=len(written),
        context_id=context.context_id,
    )
    (target / "manifest.json").write_text(
        json.dumps({"kind": STORE_KIND, **asdict(store)}, indent=2)
    )
    return store


def _add(a: CipherTensor, b: CipherTensor) -> CipherTensor:
    """Slot-wise sum of two results with the same layout (blocks share one plan)."""
    if a.layout != b.layout or a.context_id != b.context_id:
        raise HEInputError("only results with the same layout and context can be added")
    backend = a.context.backend()
    tiles = [backend.add(x, y) for x, y in zip(a.tiles, b.tiles, strict=True)]
    return CipherTensor(a.context, a.layout, tiles, clean=a.clean and b.clean, plan=a.plan)


def _fingerprint(store: EncryptedStore, expr: str, operands: Sequence[Any]) -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps(asdict(store), sort_keys=True).encode())
    digest.update(expr.encode())
    for operand in operands:
        if isinstance(operand, str):
            digest.update(operand.encode())
        else:
            array = np.ascontiguousarray(operand, dtype=np.float64)
            digest.update(str(array.shape).encode() + array.tobytes())
    blocks = Path(store.path) / "blocks"
    for part in sorted(blocks.glob("*.parquet")):
        digest.update(part.name.encode() + str(part.stat().st_size).encode())
    return digest.hexdigest()[:24]


def _check_expression(
    expr: str, operands: Sequence[Any], store: EncryptedStore
) -> tuple[str, list[Any], bool]:
    if not any(isinstance(op, str) and op == DATA for op in operands):
        raise HEInputError(f"{expr!r}: name the encrypted block among the operands as {DATA!r}")
    plain = [None if isinstance(op, str) else np.asarray(op, dtype=np.float64) for op in operands]
    for op in operands:
        if isinstance(op, str) and op != DATA:
            raise HEInputError(f"operand {op!r}: use {DATA!r} for the block or pass an array")
    block = (store.block_rows, len(store.columns))
    shapes = [block if p is None else p.shape for p in plain]
    sub = parse_subscripts(expr, shapes)
    rows_labels = {sub.inputs[n][0] for n, p in enumerate(plain) if p is None}
    if len(rows_labels) != 1:
        raise HEInputError(
            f"{expr!r}: every {DATA!r} operand must use the same row label first, e.g. 'ni,nj->ij'"
        )
    row = rows_labels.pop()
    if any(p is not None and row in sub.inputs[n] for n, p in enumerate(plain)):
        raise HEInputError(
            f"{expr!r}: a plaintext operand uses the row label {row!r}; rows are split into "
            "blocks, so plaintext operands may only use column labels"
        )
    per_block = row in sub.output
    if per_block and sub.output[0] != row:
        raise HEInputError(f"{expr!r}: put the row label {row!r} first in the output")
    return sub.text, plain, per_block


def compute_encrypted(
    catalog: Any,
    store_path: str | Path,
    expr: str,
    operands: Sequence[Any],
    out: str | Path,
    *,
    context_path: str | Path,
    principal: str,
    purpose: str,
) -> ComputeResult:
    """The compute job: ``expr`` over the encrypted blocks, aggregated homomorphically.

    Args:
        catalog: The catalog (policy decisions and audit).
        store_path: An :func:`encrypt_dataset` store.
        expr: Einsum subscripts; the block's labels are rows then columns.
        operands: :data:`DATA` for the block, or plaintext arrays over column labels.
        out: The result directory.
        context_path: The public context the store was encrypted under.
        principal: Who runs the job.
        purpose: The declared purpose.

    Raises:
        PolicyDenied: ``he.compute`` was refused (audited).
        HEInputError: the expression does not fit the store.
        ContextMismatch: the store was made under another context.
    """
    from pyspark.sql.types import (
        BinaryType,
        IntegerType,
        LongType,
        StringType,
        StructField,
        StructType,
    )

    from lakeward import spark as lakeward_spark
    from lakeward.he import ContextMismatch
    from lakeward.he._execute import einsum
    from lakeward.policy import guard

    store = EncryptedStore.open(store_path)
    guard(
        catalog,
        principal,
        "he.compute",
        f"dataset:{store.dataset}",
        {"purpose": purpose, "encrypted": True},
    )
    text, plain, per_block = _check_expression(expr, operands, store)
    context_file = str(Path(context_path).resolve())
    context = _context(context_file)
    if context.context_id != store.context_id:
        raise ContextMismatch(
            f"store {store.path} was encrypted under context {store.context_id}, not "
            f"{context.context_id}"
        )
    target = Path(out)
    fingerprint = _fingerprint(store, text, operands)
    manifest_path = target / "manifest.json"
    if manifest_path.is_file():
        previous = json.loads(manifest_path.read_text())
        if previous.get("fingerprint") == fingerprint:
            previous.pop("kind", None)
            return ComputeResult(**{**previous, "reused": True})

    def run_blocks(rows: Iterable[Any]) -> Iterator[tuple[int, int, int, bytes, str]]:
        ctx = _context(context_file)
        partial: CipherTensor | None = None
        counts = ""
        for row in rows:
            block = CipherTensor.from_bytes(bytes(row.ciphertext), ctx, source=store.path)
            values = [block if p is None else p for p in plain]
            result = einsum(text, *values)
            assert isinstance(result, CipherTensor) and result.counts is not None
            counts = json.dumps(result.counts.to_dict())
            if per_block:
                yield row.partition, row.block, row.rows, result.to_bytes(), counts
            else:
                partial = result if partial is None else _add(partial, result)
        if partial is not None:
            yield -1, -1, 0, partial.to_bytes(), counts

    spark = lakeward_spark.session()
    blocks = spark.read.parquet(str(Path(store.path) / "blocks"))
    produced = blocks.rdd.mapPartitions(run_blocks)
    target.mkdir(parents=True, exist_ok=True)
    if per_block:
        schema = StructType(
            [
                StructField("partition", IntegerType(), False),
                StructField("block", IntegerType(), False),
                StructField("rows", LongType(), False),
                StructField("ciphertext", BinaryType(), False),
                StructField("counts", StringType()),
            ]
        )
        spark.createDataFrame(produced, schema).write.mode("overwrite").parquet(
            str(target / "blocks")
        )
        first = spark.read.parquet(str(target / "blocks")).select("counts").first()
        counts = json.loads(first["counts"]) if first is not None else {}
        sample_shape = [store.rows, *_output_tail(text, plain, store)]
        partitions = 0
    else:
        partials = produced.collect()
        total: CipherTensor | None = None
        for _, _, _, data, _ in partials:  # the homomorphic sum across partitions
            tensor = CipherTensor.from_bytes(data, context, source=store.path)
            total = tensor if total is None else _add(total, tensor)
        if total is None:
            raise HEInputError(f"store {store.path} has no blocks")
        total.save(target / "result.ct")
        counts = json.loads(partials[0][4]) if partials else {}
        sample_shape = list(total.shape)
        partitions = len(partials)
    result = ComputeResult(
        path=str(target),
        expr=text,
        dataset=store.dataset,
        per_block=per_block,
        shape=sample_shape,
        blocks=store.blocks,
        partitions=partitions,
        fingerprint=fingerprint,
        counts=counts,
    )
    manifest_path.write_text(json.dumps({"kind": RESULT_KIND, **result.to_dict()}, indent=2))
    return result


def _output_tail(text: str, plain: Sequence[Any], store: EncryptedStore) -> list[int]:
    block = (store.block_rows, len(store.columns))
    sub = parse_subscripts(text, [block if p is None else p.shape for p in plain])
    return list(sub.output_shape[1:])


def decrypt_result(keys: Keys, path: str | Path) -> NDArray[np.float64]:
    """The owner decrypts a :func:`compute_encrypted` result (rows in dataset order)."""
    import pyarrow.parquet as pq

    target = Path(path)
    try:
        manifest = json.loads((target / "manifest.json").read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise KeyFileError(f"{path}: not a compute result ({exc})") from exc
    if not manifest.get("per_block"):
        return decrypt(keys, CipherTensor.load(target / "result.ct", keys))
    table = pq.read_table(target / "blocks").to_pandas().sort_values(["partition", "block"])
    parts = [
        decrypt(keys, CipherTensor.from_bytes(bytes(row.ciphertext), keys))[: int(row.rows)]
        for row in table.itertuples()
    ]
    return np.concatenate(parts, axis=0)


def compute_plaintext(
    catalog: Any,
    name: str,
    columns: Sequence[str],
    expr: str,
    operands: Sequence[Any],
    *,
    principal: str,
    purpose: str,
) -> NDArray[np.float64]:
    """The same job on cleartext columns, for datasets the policy lets be read in the clear.

    The decision comes first (``he.compute`` without ``encrypted``): a dataset tagged
    ``encryption_required`` is refused by the bundle's guard before any row is read.

    Raises:
        PolicyDenied: refused (audited).
    """
    from lakeward import spark as lakeward_spark
    from lakeward.policy import guard

    guard(
        catalog,
        principal,
        "he.compute",
        f"dataset:{name}",
        {"purpose": purpose, "encrypted": False},
    )
    dataset = _dataset(catalog, name)
    frame = _numeric_frame(lakeward_spark.session(), dataset, columns)
    matrix = frame.toPandas().to_numpy(dtype=np.float64)
    values = [matrix if isinstance(op, str) and op == DATA else op for op in operands]
    return np.asarray(np.einsum(expr, *values), dtype=np.float64)
