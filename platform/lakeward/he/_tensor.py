"""Encrypted tensors: :class:`CipherTensor`, :func:`encrypt`, :func:`decrypt`, files.

A ciphertext file is a zip archive: ``manifest.json`` (kind, version, context id, layout,
clean flag, tile count and one integrity tag per tile), ``manifest.tag`` (the tag of the
manifest's exact bytes) and ``tile-NNNNNN`` (SEAL ciphertexts). Reading one checks, in this
order: the archive's members, the manifest's size, nesting, fields and ranges, the context
id, the manifest tag, each tile's tag, then SEAL's validation of each tile; any failure is a
:class:`~lakeward.he.KeyFileError` naming the file (tags: see :mod:`lakeward.he._files`).
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from lakeward.he._errors import (
    ContextMismatch,
    HEInputError,
    KeyFileError,
    SecretKeyRequired,
    ShapeMismatch,
)
from lakeward.he._files import ManifestFields, parse_manifest, tag, tag_matches
from lakeward.he._keys import (
    _CONTEXT_ID,
    FORMAT_VERSION,
    Keys,
    PublicContext,
    _member,
    _seal_bytes,
    _seal_load,
)
from lakeward.he._layout import MAX_TILES, Layout, row_major
from lakeward.he._path import PathPlan
from lakeward.he._plan import OpCounts, Plan

__all__ = ["CipherTensor", "as_plain_array", "decrypt", "encrypt"]

KIND_CIPHERTEXT = "lakeward-he-ciphertext"
#: A SEAL ciphertext at N=32768 with a full chain is about 12 MiB; anything far above is not one.
MAX_TILE_BYTES = 64 << 20
_MANIFEST_FIELDS = {"kind", "version", "context_id", "layout", "clean", "tiles", "tile_tags"}


def _tile_name(number: int) -> str:
    return f"tile-{number:06d}"


class CipherTensor:
    """An encrypted tensor: ciphertexts, the slot layout that places its elements, context.

    Attributes:
        context: The public context it was encrypted under.
        layout: Where each element lives (see :class:`~lakeward.he.Layout`).
        tiles: The ciphertexts, numbered row-major over ``layout.tile_shape``.
        clean: Whether the slots outside the layout's grid hold zeros.
        plan: The plan that produced it (results of :func:`~lakeward.he.einsum`).
        counts: The operations counted while producing it.
    """

    def __init__(
        self,
        context: PublicContext,
        layout: Layout,
        tiles: list[Any],
        *,
        clean: bool = True,
        plan: Plan | PathPlan | None = None,
        counts: OpCounts | None = None,
    ) -> None:
        self.context = context
        self.layout = layout
        self.tiles = tiles
        self.clean = clean
        self.plan = plan
        self.counts = counts

    @property
    def shape(self) -> tuple[int, ...]:
        """The tensor's shape."""
        return self.layout.shape

    @property
    def ndim(self) -> int:
        """The number of axes."""
        return len(self.layout.axes)

    @property
    def context_id(self) -> str:
        """The id of the key set it belongs to."""
        return self.context.context_id

    @property
    def level(self) -> int:
        """Multiplicative levels left (the lowest over its ciphertexts)."""
        backend = self.context.backend()
        return min(backend.level(t) for t in self.tiles)

    @property
    def depth(self) -> int:
        """Levels consumed since encryption (the chain's depth minus :attr:`level`)."""
        return self.context.params.depth - self.level

    def __repr__(self) -> str:
        return (
            f"CipherTensor(shape={self.shape}, ciphertexts={len(self.tiles)}, "
            f"context={self.context_id!r}, clean={self.clean})"
        )

    def to_bytes(self) -> bytes:
        """The ciphertexts, layout and integrity tags as one archive (what :meth:`save` writes)."""
        if self.context.simulated:
            raise HEInputError("simulated ciphertexts cannot be saved; encrypt with real keys")
        key = self.context.file_key
        blobs = [_seal_bytes(tile) for tile in self.tiles]
        manifest = {
            "kind": KIND_CIPHERTEXT,
            "version": FORMAT_VERSION,
            "context_id": self.context_id,
            "layout": self.layout.to_dict(),
            "clean": self.clean,
            "tiles": len(self.tiles),
            "tile_tags": [tag(key, "tile", str(n).encode(), blob) for n, blob in enumerate(blobs)],
        }
        raw = json.dumps(manifest, indent=2).encode()
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
            archive.writestr("manifest.json", raw)
            archive.writestr("manifest.tag", tag(key, "ciphertext manifest", raw))
            for number, blob in enumerate(blobs):
                archive.writestr(_tile_name(number), blob)
        return buffer.getvalue()

    def save(self, path: str | Path) -> Path:
        """Write the ciphertexts and their layout to ``path`` (a zip archive)."""
        target = Path(path)
        data = self.to_bytes()
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        return target

    @classmethod
    def from_bytes(
        cls, data: bytes, context: PublicContext | Keys, *, source: str = "ciphertext"
    ) -> CipherTensor:
        """Read :meth:`to_bytes` output made under ``context``'s keys, checking it first.

        Raises:
            ContextMismatch: it was encrypted under another key set.
            KeyFileError: the bytes are not a well-formed ciphertext archive, or a tag does
                not match (modified, truncated or spliced).
        """
        import tenseal.sealapi as seal

        ctx = context.context if isinstance(context, Keys) else context
        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
        except (zipfile.BadZipFile, ValueError) as exc:
            raise KeyFileError(f"{source}: not a lakeward he ciphertext ({exc})") from exc
        with archive:
            raw = _member(archive, "manifest.json", source, MAX_TILE_BYTES)
            manifest = parse_manifest(raw, source)
            kind = manifest.choice(
                "kind", (KIND_CIPHERTEXT, "lakeward-he-keys", "lakeward-he-context")
            )
            if kind != KIND_CIPHERTEXT:
                raise KeyFileError(f"{source}: a {kind} file, not a ciphertext")
            if manifest.data.get("version") == 1:
                raise KeyFileError(
                    f"{source}: a version 1 ciphertext file, written without integrity tags; "
                    "encrypt the data again (or recompute the result) with this lakeward"
                )
            manifest.choice("version", (FORMAT_VERSION,))
            context_id = manifest.string("context_id", _CONTEXT_ID, "16 lowercase hex digits")
            if context_id != ctx.context_id:
                raise ContextMismatch(
                    f"{source} was encrypted under context {context_id}, not "
                    f"{ctx.context_id}; use the context (or keys) it was made with"
                )
            layout, clean, count, tile_tags = _check_manifest(manifest, ctx, source)
            names = {"manifest.json", "manifest.tag", *map(_tile_name, range(count))}
            extra = sorted(set(archive.namelist()) - names)
            if extra:
                raise KeyFileError(f"{source}: unexpected member(s) {extra[:5]}")
            key = ctx.file_key
            manifest_tag = _member(archive, "manifest.tag", source, 64).decode("ascii", "replace")
            if not tag_matches(key, manifest_tag, "ciphertext manifest", raw):
                raise KeyFileError(
                    f"{source}: the manifest does not match its integrity tag: the file was "
                    "modified after it was written, or not written under this context"
                )
            tiles = []
            for number in range(count):
                blob = _member(archive, _tile_name(number), source, MAX_TILE_BYTES)
                if not tag_matches(key, tile_tags[number], "tile", str(number).encode(), blob):
                    raise KeyFileError(
                        f"{source}: tile {number} does not match its integrity tag: it was "
                        "truncated, zeroed, replaced or modified after it was written"
                    )
                tile = _seal_load(
                    seal.Ciphertext(), blob, ctx.seal_context, source=source, what=f"tile {number}"
                )
                if tile.size() != 2:
                    raise KeyFileError(f"{source}: tile {number} is not a relinearised ciphertext")
                tiles.append(tile)
        return cls(ctx, layout, tiles, clean=clean)

    @classmethod
    def load(cls, path: str | Path, context: PublicContext | Keys) -> CipherTensor:
        """Read a ciphertext file made under ``context``'s keys.

        Raises:
            ContextMismatch: the file was encrypted under another key set.
            KeyFileError: the file is missing or not a ciphertext file.
        """
        source = Path(path)
        if not source.is_file():
            raise KeyFileError(f"{source}: no such file")
        return cls.from_bytes(source.read_bytes(), context, source=str(source))


def _check_manifest(
    manifest: ManifestFields, context: PublicContext, source: str
) -> tuple[Layout, bool, int, list[str]]:
    """The layout, clean flag, tile count and tile tags of a ciphertext manifest."""
    manifest.only(_MANIFEST_FIELDS)
    if not manifest.has("layout"):
        raise manifest.problem("layout", "an object with 'slots' and 'axes'")
    try:
        layout = Layout.from_dict(manifest.data["layout"])
    except ShapeMismatch as exc:
        raise KeyFileError(f"{manifest.where}: field 'layout': {exc}") from exc
    if layout.slots != context.slots:
        raise KeyFileError(
            f"{manifest.where}: the layout is for {layout.slots} slots, the context has "
            f"{context.slots}"
        )
    clean = manifest.boolean("clean")
    count = manifest.integer("tiles", 1, MAX_TILES)
    if count != layout.n_tiles:
        raise KeyFileError(
            f"{manifest.where}: 'tiles' is {count} but the layout places the tensor in "
            f"{layout.n_tiles} ciphertext(s)"
        )
    return layout, clean, count, manifest.digests("tile_tags", count)


def as_plain_array(value: ArrayLike, what: str) -> NDArray[np.float64]:
    """``value`` as a finite float64 array, or an :class:`HEInputError` saying why not."""
    try:
        array = np.asarray(value)
    except Exception as exc:  # noqa: BLE001 - anything numpy cannot read is bad input
        raise HEInputError(f"{what}: cannot read as an array ({exc})") from exc
    if np.iscomplexobj(array):
        raise HEInputError(f"{what}: complex values are not supported; pass real numbers")
    if array.dtype.kind not in "biuf":
        raise HEInputError(f"{what}: dtype {array.dtype} is not numeric")
    array = array.astype(np.float64)
    if not np.all(np.isfinite(array)):
        raise HEInputError(f"{what}: NaN or infinite values cannot be encrypted")
    return array


def encrypt(
    keys: Keys | PublicContext, array: ArrayLike, *, layout: Layout | None = None
) -> CipherTensor:
    """Encrypt ``array`` (any shape, a scalar included).

    Args:
        keys: The owner's keys or a public context (encryption needs only the public key).
        array: Real values; results of later einsums must stay below about
            ``2**integer_bits`` in absolute value.
        layout: Where to put each element. A plan's ``input_layouts`` packs an operand so
            that the plan needs no layout change. Default: the layout the context's planned
            expressions want for this shape (keys made with ``packing="planned"``), else
            row-major.

    Raises:
        HEInputError: non-numeric, complex, non-finite or too large values; operands of
            this shape want different planned layouts (pass ``layout``).
        ShapeMismatch: ``layout`` does not fit the array or the context.
    """
    context = keys.context if isinstance(keys, Keys) else keys
    values = as_plain_array(array, "encrypt")
    bound = 2.0 ** (context.params.integer_bits - 1)
    if values.size and float(np.max(np.abs(values))) >= bound:
        raise HEInputError(
            f"encrypt: values up to {float(np.max(np.abs(values))):.4g} exceed the context's "
            f"range (|x| < 2^{context.params.integer_bits - 1}); scale the data down or use "
            "keygen(integer_bits=...)"
        )
    chosen = (
        layout or context.planned_layout(values.shape) or row_major(values.shape, context.slots)
    )
    if chosen.shape != values.shape or chosen.slots != context.slots:
        raise ShapeMismatch(
            f"encrypt: layout for shape {chosen.shape} with {chosen.slots} slots does not fit "
            f"an array of shape {values.shape} under a context with {context.slots} slots"
        )
    backend = keys.backend() if isinstance(keys, Keys) else context.backend()
    tiles = [backend.encrypt(row) for row in chosen.pack(values)]
    return CipherTensor(context, chosen, tiles, clean=True)


def decrypt(keys: Keys, ct: CipherTensor) -> NDArray[np.float64]:
    """Decrypt ``ct`` with the owner's keys.

    Raises:
        SecretKeyRequired: ``keys`` is a public context.
        ContextMismatch: ``ct`` was made under other keys.
    """
    if not isinstance(keys, Keys):
        raise SecretKeyRequired(
            "decrypt needs the owner's Keys (with the secret key); a public context can "
            "only encrypt and compute"
        )
    if not isinstance(ct, CipherTensor):
        raise HEInputError(f"decrypt expects a CipherTensor, got {type(ct).__name__}")
    if ct.context_id != keys.context_id:
        raise ContextMismatch(
            f"the ciphertext belongs to context {ct.context_id}, the keys to "
            f"{keys.context_id}; decrypt with the keys it was encrypted under"
        )
    backend = keys.backend()
    return ct.layout.unpack(np.stack([backend.decrypt(t) for t in ct.tiles]))
