"""Governed encrypted jobs on Spark.

The data owner's job (:func:`encrypt_dataset`) reads numeric columns of a dataset, cuts
each Spark partition into blocks of ``block_rows`` rows (the last one zero-padded, so every
block has the same layout), and encrypts each block with the *public* context: the secret
key never reaches Spark. The store is a directory: ``manifest.json``, ``manifest.tag`` and
``blocks/`` (Parquet: partition, block, rows, ciphertext bytes, block tag).

The owner also **declares the outputs** it will decrypt (``outputs``): ``"aggregate"``
(the default: any einsum that sums the row label, e.g. ``ni,nj->ij`` or ``ni->i``) and/or
exact expressions (``"ni,i->n"``). An expression that keeps the row label is a *per-row*
output: decrypted, it is a value per row, the rows themselves for ``ni->ni``. The
declaration is bound into the tagged store manifest and copied into every result.

The compute job (:func:`compute_encrypted`) evaluates an einsum whose operands are the block
(named ``"data"``, any number of times: ``ni,nj->ij`` is a covariance) and plaintext arrays,
block by block on the executors. It refuses an expression the store does not declare. When
the row label (the block's first label) is summed, each partition adds its blocks' results
homomorphically and the driver adds the partitions' sums: one ciphertext leaves. Otherwise
each block's result is kept (``ni,i->n``: scores). The owner decrypts with
:func:`decrypt_result`; per-row results come in block order, which is the ``order_by``
column's order when the store was made with one.

The policy layer decides first and audits: the owner's read of the contents as
``he.encrypt`` with ``encrypted`` set (only ciphertexts come out; masked columns are
refused), the computation as ``he.compute`` with ``encrypted`` set, and a per-row output as
``he.row_level`` twice: for the computing principal before anything is computed, and for the
decrypting principal before anything is decrypted (the default bundle forbids it unless the
dataset is tagged ``public`` or the principal is an admin). The decision at decryption is
the owner's own protection: everything the compute side writes, tags included, could be
forged by a compute side that holds the public context (see :mod:`lakeward.he._files`).
:func:`compute_plaintext` is the same job on cleartext columns; for a dataset tagged
``encryption_required`` the bundle's guard denies it, so it fails closed before anything is
read.

Every manifest, block and result is checked before use (strict fields, integrity tags over
the manifest and each block, a digest over the set of blocks so none is dropped, duplicated
or moved); a failed check is a :class:`~lakeward.he.KeyFileError` naming the file.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from lakeward.errors import PolicyDenied
from lakeward.he._errors import ContextMismatch, HEInputError, KeyFileError
from lakeward.he._files import ManifestFields, parse_manifest, sha256_hex, tag, tag_matches
from lakeward.he._keys import _CONTEXT_ID, Keys, PublicContext, load_context
from lakeward.he._subscripts import Subscripts, parse_subscripts
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
STORE_VERSION = 2
#: The declared output that admits any einsum summing the row label.
AGGREGATE = "aggregate"
#: The policy action of a per-row output (at compute and at decrypt).
ROW_LEVEL_ACTION = "he.row_level"
_SPEC = r"[A-Za-z]+(,[A-Za-z]+)*->[A-Za-z]*"
_NAME = r"[^\x00-\x1f]{1,400}"

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
    """An encrypted dataset: where it is, what it holds, what its owner will decrypt.

    Attributes:
        path: The store directory.
        dataset: The catalog dataset the columns came from.
        columns: The encrypted columns (the block's second axis, in this order).
        block_rows: Rows per block (the block's first axis).
        rows: Rows encrypted.
        blocks: Ciphertext blocks written.
        context_id: The key set.
        outputs: The declared outputs: ``"aggregate"`` and/or exact einsum expressions.
        blocks_digest: SHA-256 over every block's (partition, block, rows, tag).
    """

    path: str
    dataset: str
    columns: list[str]
    block_rows: int
    rows: int
    blocks: int
    context_id: str
    outputs: list[str] = field(default_factory=lambda: [AGGREGATE])
    blocks_digest: str = ""

    @classmethod
    def open(cls, path: str | Path, context: PublicContext | Keys | None = None) -> EncryptedStore:
        """Read a store's manifest, checking every field (and its tag, given the context).

        Raises:
            KeyFileError: ``path`` is not an encrypted store, or the manifest was modified.
            ContextMismatch: the store was made under another key set than ``context``.
        """
        raw, manifest = _read_manifest(Path(path), STORE_KIND, "an encrypted store")
        manifest.only({"kind", "version", *(f.name for f in fields(cls))})
        store = cls(
            path=manifest.string("path", _NAME, "a path"),
            dataset=manifest.string("dataset", _NAME, "a dataset name"),
            columns=_names(manifest, "columns"),
            block_rows=manifest.integer("block_rows", 1, 1 << 24),
            rows=manifest.integer("rows", 0, 1 << 50),
            blocks=manifest.integer("blocks", 0, 1 << 30),
            context_id=manifest.string("context_id", _CONTEXT_ID, "16 lowercase hex digits"),
            outputs=_outputs(manifest),
            blocks_digest=manifest.digest("blocks_digest"),
        )
        if context is not None:
            _check_tag(Path(path), raw, context, store.context_id, "store manifest")
        return store

    def allows(self, expr: str, per_row: bool) -> bool:
        """Whether the owner declared ``expr`` (normalised; ``per_row``: keeps the row label)."""
        return _declares(self.outputs, expr, per_row)


def _declares(outputs: Sequence[str], expr: str, per_row: bool) -> bool:
    return expr in outputs or (AGGREGATE in outputs and not per_row)


def _read_manifest(folder: Path, kind: str, what: str) -> tuple[bytes, ManifestFields]:
    try:
        raw = (folder / "manifest.json").read_bytes()
    except OSError as exc:
        raise KeyFileError(f"{folder}: not {what} ({exc})") from exc
    manifest = parse_manifest(raw, str(folder))
    found = manifest.data.get("kind")
    if found != kind:
        raise KeyFileError(f"{folder}: a {found!r} directory, not {what}")
    if manifest.data.get("version") != STORE_VERSION:
        raise KeyFileError(
            f"{folder}: written without integrity tags (version "
            f"{manifest.data.get('version')!r}); make it again with this lakeward"
        )
    return raw, manifest


def _check_tag(
    folder: Path, raw: bytes, context: PublicContext | Keys, context_id: str, label: str
) -> None:
    ctx = context.context if isinstance(context, Keys) else context
    if context_id != ctx.context_id:
        raise ContextMismatch(
            f"{folder} was made under context {context_id}, not {ctx.context_id}; use the "
            "context (or keys) it was made with"
        )
    try:
        found = (folder / "manifest.tag").read_text(encoding="ascii", errors="replace")[:100]
    except OSError as exc:
        raise KeyFileError(f"{folder}: manifest.tag is missing ({exc})") from exc
    if not tag_matches(ctx.file_key, found.strip(), label, raw):
        raise KeyFileError(
            f"{folder}: manifest.json does not match its integrity tag: it was modified after "
            "it was written, or not written under this context"
        )


def _write_manifest(folder: Path, data: dict[str, Any], context: PublicContext, label: str) -> None:
    raw = json.dumps(data, indent=2).encode()
    (folder / "manifest.json").write_bytes(raw)
    (folder / "manifest.tag").write_text(tag(context.file_key, label, raw))


def _names(manifest: ManifestFields, key: str) -> list[str]:
    items = manifest.array(key, 4096)
    if not items or not all(isinstance(c, str) and 0 < len(c) <= 400 for c in items):
        raise manifest.problem(key, "a non-empty array of names")
    return items


def _outputs(manifest: ManifestFields) -> list[str]:
    import re

    items = manifest.array("outputs", 64)
    if not items or not all(
        isinstance(o, str) and (o == AGGREGATE or re.fullmatch(_SPEC, o)) for o in items
    ):
        raise manifest.problem("outputs", f'a non-empty array of "{AGGREGATE}" or expressions')
    return items


def _block_tag(key: bytes, partition: int, block: int, rows: int, data: bytes) -> str:
    return tag(key, "store block", f"{partition}/{block}/{rows}".encode(), data)


def _blocks_digest(entries: Iterable[tuple[int, int, int, str]]) -> str:
    lines = sorted(f"{p}/{b}/{r}/{t}" for p, b, r, t in entries)
    return sha256_hex("\n".join(lines).encode())


def declared_outputs(outputs: Iterable[str]) -> list[str]:
    """Check and normalise an owner's declared outputs (whitespace removed, explicit ``->``).

    Raises:
        HEInputError: an item is neither ``"aggregate"`` nor an einsum with an explicit
            output.
    """
    import re

    items = ["".join(str(o).split()) for o in outputs]
    bad = [o for o in items if o != AGGREGATE and not re.fullmatch(_SPEC, o)]
    if not items or bad:
        raise HEInputError(
            f'outputs {bad or items}: declare "{AGGREGATE}" (any einsum that sums the row '
            "label) and/or exact einsums with an explicit output, e.g. 'ni,i->n'"
        )
    return list(dict.fromkeys(items))


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
        operand_shapes: The shape of every operand (the block for ``"data"``).
        outputs: The store's declared outputs (copied from its manifest).
        result_digest: SHA-256 of ``result.ct``, or over the result blocks' tags.
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
    operand_shapes: list[list[int]] = field(default_factory=list)
    outputs: list[str] = field(default_factory=lambda: [AGGREGATE])
    result_digest: str = ""

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
    outputs: Sequence[str] = (AGGREGATE,),
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
        outputs: What the owner will decrypt: ``"aggregate"`` (any einsum summing the row
            label) and/or exact expressions; one that keeps the row label (``"ni,i->n"``)
            is a per-row output, which the policy must also allow (``he.row_level``) when
            it is computed and when it is decrypted.

    Raises:
        PolicyDenied: the policy layer refused reading the contents (audited).
        HEInputError: unknown, non-numeric or null columns; bad block size or outputs.
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
    from lakeward.policy import guard

    if block_rows < 1 or not columns:
        raise HEInputError("encrypt_dataset: give at least one column and block_rows >= 1")
    declared = declared_outputs(outputs)
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

    def encrypt_partition(
        index: int, rows: Iterator[Any]
    ) -> Iterator[tuple[int, int, int, bytes, str]]:
        ctx = _context(context_file)
        block: list[list[float]] = []
        number = 0

        def emit() -> tuple[int, int, int, bytes, str]:
            values = np.zeros((block_rows, width))
            values[: len(block)] = np.asarray(block, dtype=np.float64).reshape(-1, width)
            data = encrypt(ctx, values).to_bytes()
            return (
                index,
                number,
                len(block),
                data,
                _block_tag(ctx.file_key, index, number, len(block), data),
            )

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
            StructField("tag", StringType(), False),
        ]
    )
    target = Path(out)
    blocks = spark.createDataFrame(frame.rdd.mapPartitionsWithIndex(encrypt_partition), schema)
    blocks.write.mode("overwrite").parquet(str(target / "blocks"))
    written = _block_entries(spark, target / "blocks")
    store = EncryptedStore(
        path=str(target),
        dataset=name,
        columns=list(columns),
        block_rows=block_rows,
        rows=sum(rows for _, _, rows, _ in written),
        blocks=len(written),
        context_id=context.context_id,
        outputs=declared,
        blocks_digest=_blocks_digest(written),
    )
    manifest = {"kind": STORE_KIND, "version": STORE_VERSION, **asdict(store)}
    _write_manifest(target, manifest, context, "store manifest")
    return store


def _block_entries(spark: Any, folder: Path) -> list[tuple[int, int, int, str]]:
    """(partition, block, rows, tag) of every block in a blocks folder."""
    try:
        table = spark.read.parquet(str(folder)).select("partition", "block", "rows", "tag")
        return [(int(r[0]), int(r[1]), int(r[2]), str(r[3])) for r in table.collect()]
    except Exception as exc:  # noqa: BLE001 - any unreadable Parquet is a damaged store
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise KeyFileError(f"{folder}: the blocks cannot be read ({first})") from exc


def _check_blocks(spark: Any, folder: Path, expected: str, count: int) -> None:
    """The blocks folder holds exactly the blocks its manifest committed to."""
    entries = _block_entries(spark, folder)
    if len(entries) != count or _blocks_digest(entries) != expected:
        raise KeyFileError(
            f"{folder}: the blocks are not those the manifest lists ({len(entries)} found, "
            f"{count} listed): blocks were removed, added, duplicated or modified"
        )


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
) -> tuple[Subscripts, list[Any], bool]:
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
    return sub, plain, per_block


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
    sub, plain, per_block = _check_expression(expr, operands, store)
    text = sub.text
    context_file = str(Path(context_path).resolve())
    context = _context(context_file)
    store = EncryptedStore.open(store_path, context)  # now with its tag checked
    if not store.allows(text, per_block):
        raise HEInputError(
            f"{text!r} is not among the outputs the owner declared for store {store_path} "
            f"({', '.join(store.outputs)})"
            + (
                f": it keeps the row label {text.split('->')[1][0]!r}, so its result is a value "
                "per row; the owner declares such an output with "
                f"encrypt_dataset(outputs=[..., {text!r}])"
                if per_block
                else ""
            )
        )
    if per_block:
        guard(
            catalog,
            principal,
            ROW_LEVEL_ACTION,
            f"dataset:{store.dataset}",
            {"purpose": purpose, "encrypted": True},
        )
    block_shape = [store.block_rows, len(store.columns)]
    operand_shapes = [block_shape if p is None else list(p.shape) for p in plain]
    target = Path(out)
    fingerprint = _fingerprint(store, text, operands)
    if (target / "manifest.json").is_file():
        try:
            previous = _read_result(target, context)
        except HEInputError:
            previous = None  # damaged or foreign: computed again below
        if previous is not None and previous.fingerprint == fingerprint:
            previous.reused = True
            return previous

    spark = lakeward_spark.session()
    _check_blocks(spark, Path(store.path) / "blocks", store.blocks_digest, store.blocks)

    def run_blocks(rows: Iterable[Any]) -> Iterator[tuple[int, int, int, bytes, str, str]]:
        ctx = _context(context_file)
        key = ctx.file_key
        partial: CipherTensor | None = None
        counts = ""
        for row in rows:
            data = bytes(row.ciphertext)
            where = f"{store.path} block {row.partition}/{row.block}"
            try:
                if not tag_matches(key, row.tag, "store block", *_block_parts(row), data):
                    raise KeyFileError(f"{where} does not match its integrity tag")
                block = CipherTensor.from_bytes(data, ctx, source=where)
            except KeyFileError as exc:  # reported by the driver as itself, not a Spark error
                yield _FAILED, _FAILED, 0, b"", "", str(exc)
                return
            values = [block if p is None else p for p in plain]
            result = einsum(text, *values)
            assert isinstance(result, CipherTensor) and result.counts is not None
            counts = json.dumps(result.counts.to_dict())
            if per_block:
                out_data = result.to_bytes()
                out_tag = _block_tag(key, row.partition, row.block, row.rows, out_data)
                yield row.partition, row.block, row.rows, out_data, out_tag, counts
            else:
                partial = result if partial is None else _add(partial, result)
        if partial is not None:
            yield -1, -1, 0, partial.to_bytes(), "", counts

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
                StructField("tag", StringType(), False),
                StructField("counts", StringType()),
            ]
        )
        spark.createDataFrame(produced, schema).write.mode("overwrite").parquet(
            str(target / "blocks")
        )
        written = spark.read.parquet(str(target / "blocks"))
        _raise_failure(
            written.filter(f"partition = {_FAILED}").select("counts").collect(), target / "blocks"
        )
        first = written.select("counts").first()
        counts = json.loads(first["counts"]) if first is not None else {}
        sample_shape = [store.rows, *_output_tail(text, plain, store)]
        partitions = 0
        digest = _blocks_digest(_block_entries(spark, target / "blocks"))
    else:
        partials = produced.collect()
        _raise_failure([p[5:] for p in partials if p[0] == _FAILED])
        total: CipherTensor | None = None
        for _, _, _, data, _, _ in partials:  # the homomorphic sum across partitions
            tensor = CipherTensor.from_bytes(data, context, source=store.path)
            total = tensor if total is None else _add(total, tensor)
        if total is None:
            raise HEInputError(f"store {store.path} has no blocks")
        result_bytes = total.to_bytes()
        (target / "result.ct").write_bytes(result_bytes)
        counts = json.loads(partials[0][5]) if partials else {}
        sample_shape = list(total.shape)
        partitions = len(partials)
        digest = sha256_hex(result_bytes)
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
        operand_shapes=operand_shapes,
        outputs=list(store.outputs),
        result_digest=digest,
    )
    manifest = {"kind": RESULT_KIND, "version": STORE_VERSION, **result.to_dict()}
    manifest.pop("reused")
    _write_manifest(target, manifest, context, "result manifest")
    return result


#: The partition number of a row that reports a damaged block instead of a result.
_FAILED = -2


def _raise_failure(failures: Sequence[Any], written: Path | None = None) -> None:
    """Raise the first damaged-block report of a job (after removing what it wrote)."""
    if failures:
        if written is not None:
            import shutil

            shutil.rmtree(written, ignore_errors=True)
        raise KeyFileError(str(failures[0][0]))


def _block_parts(row: Any) -> tuple[bytes]:
    return (f"{row.partition}/{row.block}/{row.rows}".encode(),)


def _output_tail(text: str, plain: Sequence[Any], store: EncryptedStore) -> list[int]:
    block = (store.block_rows, len(store.columns))
    sub = parse_subscripts(text, [block if p is None else p.shape for p in plain])
    return list(sub.output_shape[1:])


def _read_result(folder: Path, context: PublicContext | Keys) -> ComputeResult:
    """A result's manifest, every field and its tag checked."""
    raw, manifest = _read_manifest(folder, RESULT_KIND, "a compute result")
    allowed = {f.name for f in fields(ComputeResult)} - {"reused"}
    manifest.only({"kind", "version", *allowed})
    counts = manifest.object("counts")
    counts.only({"rotations", "ct_ct", "ct_pt", "adds", "rescales", "mod_switches"})
    shapes = manifest.array("operand_shapes", 64)
    if not all(
        isinstance(shape, list)
        and len(shape) <= 32
        and all(isinstance(n, int) and not isinstance(n, bool) and 0 < n < 1 << 31 for n in shape)
        for shape in shapes
    ):
        raise manifest.problem("operand_shapes", "an array of shapes")
    result = ComputeResult(
        path=manifest.string("path", _NAME, "a path"),
        expr=manifest.string("expr", _SPEC, "einsum subscripts"),
        dataset=manifest.string("dataset", _NAME, "a dataset name"),
        per_block=manifest.boolean("per_block"),
        shape=manifest.ints("shape", 32, 1, 1 << 50),
        blocks=manifest.integer("blocks", 0, 1 << 30),
        partitions=manifest.integer("partitions", 0, 1 << 30),
        fingerprint=manifest.string("fingerprint", "[0-9a-f]{24}", "24 hex digits"),
        counts={name: counts.integer(name, 0, 1 << 50) for name in counts.data},
        operand_shapes=shapes,
        outputs=_outputs(manifest),
        result_digest=manifest.digest("result_digest"),
    )
    context_id = (context.context if isinstance(context, Keys) else context).context_id
    _check_tag(folder, raw, context, context_id, "result manifest")
    return result


def decrypt_result(
    keys: Keys,
    path: str | Path,
    *,
    catalog: Any = None,
    principal: str | None = None,
    purpose: str = "",
) -> NDArray[np.float64]:
    """The owner decrypts a :func:`compute_encrypted` result (rows in dataset order).

    The result's manifest, tag and ciphertexts are checked first, and it must be one of the
    outputs the owner declared for the store. A per-row result (the row label kept) is
    decrypted only when the policy allows ``he.row_level`` to ``principal`` on the dataset
    (decided and audited in ``catalog``).

    Raises:
        KeyFileError: the result is malformed, modified or incomplete.
        HEInputError: the result is not a declared output, or per-row without a
            ``catalog`` and ``principal`` to decide with.
        PolicyDenied: the policy refused the per-row result (audited).
    """
    import pyarrow.parquet as pq

    target = Path(path)
    result = _read_result(target, keys)
    if not _declares(result.outputs, result.expr, result.per_block):
        raise HEInputError(
            f"{path}: {result.expr!r} is not among the outputs declared for its store "
            f"({', '.join(result.outputs)}); it is not decrypted"
        )
    if not result.per_block:
        data = _read_bytes(target / "result.ct")
        if sha256_hex(data) != result.result_digest:
            raise KeyFileError(f"{target / 'result.ct'} is not the result its manifest names")
        tensor = CipherTensor.from_bytes(data, keys, source=str(target / "result.ct"))
        if list(tensor.shape) != result.shape:
            raise KeyFileError(
                f"{path}: result.ct has shape {tensor.shape}, the manifest says {result.shape}"
            )
        return decrypt(keys, tensor)
    if catalog is None or principal is None:
        raise HEInputError(
            f"{path}: {result.expr!r} is a per-row result; pass catalog= and principal= so "
            f"the policy can decide {ROW_LEVEL_ACTION!r} before it is decrypted"
        )
    from lakeward.policy import guard

    guard(
        catalog,
        principal,
        ROW_LEVEL_ACTION,
        f"dataset:{result.dataset}",
        {"purpose": purpose, "encrypted": True},
    )
    try:
        table = pq.read_table(target / "blocks").to_pandas()
    except Exception as exc:  # noqa: BLE001 - any unreadable Parquet is a damaged result
        raise KeyFileError(f"{target / 'blocks'}: cannot be read ({exc})") from exc
    entries = [
        (int(r.partition), int(r.block), int(r.rows), str(r.tag)) for r in table.itertuples()
    ]
    if len(entries) != result.blocks or _blocks_digest(entries) != result.result_digest:
        raise KeyFileError(
            f"{target / 'blocks'}: the blocks are not those the manifest lists (removed, "
            "added, duplicated or modified)"
        )
    key = keys.context.file_key
    parts = []
    for row in table.sort_values(["partition", "block"]).itertuples():
        data = bytes(row.ciphertext)
        where = f"{target} block {row.partition}/{row.block}"
        if not tag_matches(key, row.tag, "store block", *_block_parts(row), data):
            raise KeyFileError(f"{where} does not match its integrity tag")
        tensor = CipherTensor.from_bytes(data, keys, source=where)
        if list(tensor.shape[1:]) != result.shape[1:]:
            raise KeyFileError(f"{where} has shape {tensor.shape}, not rows × {result.shape[1:]}")
        parts.append(decrypt(keys, tensor)[: int(row.rows)])
    return np.concatenate(parts, axis=0)


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot be read ({exc})") from exc


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
