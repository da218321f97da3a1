"""Slot layouts: where every element of a tensor lives across one or more ciphertexts.

Each axis of size ``n`` is split into ``tiles`` (which ciphertext) times ``extent`` (which
slots inside it, a power of two, at most ``2**ceil(log2 n)``, so the axis is zero-padded to
``tiles * extent``): element index ``x`` sits in tile coordinate ``x // extent`` and slot
offset ``(x % extent) * stride``; ``tiles = ceil(n / extent)``, so no ciphertext is empty.
A tensor's slot is the sum of its axes' offsets; its ciphertext is the row-major position of
its tile coordinates.
The slot digits of the axes never overlap (a mixed-radix grid, possibly with holes), so
every element has its own slot, and every slot that is not an element of the grid, or is an
element's zero padding, holds zero in a *clean* ciphertext.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from lakeward.errors import LakewardInternalError
from lakeward.he._errors import ShapeMismatch

__all__ = ["AxisPlacement", "Layout", "next_pow2", "row_major"]


def next_pow2(n: int) -> int:
    """The smallest power of two that is at least ``n`` (1 for ``n <= 1``)."""
    return 1 if n <= 1 else 1 << (int(n) - 1).bit_length()


@dataclass(frozen=True)
class AxisPlacement:
    """Where one axis lives: ``tiles`` ciphertexts × ``extent`` slots at ``stride``.

    Attributes:
        size: The axis length.
        tiles: How many tile positions the axis spans, ``ceil(size / extent)``.
        extent: How many slot positions it spans inside a ciphertext (a power of two).
        stride: The slot distance between consecutive positions (0 when ``extent`` is 1).
    """

    size: int
    tiles: int
    extent: int
    stride: int

    @property
    def padded(self) -> int:
        """The zero-padded length, ``tiles * extent``."""
        return self.tiles * self.extent

    def describe(self) -> str:
        """``size`` → ``extent@stride`` and ``×tiles`` where they apply."""
        parts = []
        if self.extent > 1:
            parts.append(f"{self.extent}@{self.stride}")
        if self.tiles > 1:
            parts.append(f"×{self.tiles} tiles")
        return f"{self.size}: " + (" ".join(parts) or "1 slot")


@dataclass(frozen=True)
class Layout:
    """The slot layout of a tensor over ``slots``-slot ciphertexts.

    Attributes:
        slots: Slots per ciphertext (half the CKKS ring degree).
        axes: One placement per tensor axis, in axis order.
    """

    slots: int
    axes: tuple[AxisPlacement, ...]

    def __post_init__(self) -> None:
        problem = layout_problem(self.slots, self.axes)
        if problem is not None:
            raise LakewardInternalError(problem)

    @property
    def shape(self) -> tuple[int, ...]:
        """The tensor shape."""
        return tuple(axis.size for axis in self.axes)

    @property
    def tile_shape(self) -> tuple[int, ...]:
        """Tile positions per axis; ciphertexts are numbered row-major over it."""
        return tuple(axis.tiles for axis in self.axes)

    @property
    def n_tiles(self) -> int:
        """The number of ciphertexts."""
        return int(np.prod(self.tile_shape, dtype=np.int64))

    def locate(self, index: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Ciphertext number and slot of each element.

        Args:
            index: ``(ndim, E)`` element indices.

        Returns:
            ``(tile, slot)`` arrays of length ``E``.
        """
        count = index.shape[1]
        slot = np.zeros(count, dtype=np.int64)
        tile = np.zeros(count, dtype=np.int64)
        for axis, row in zip(self.axes, index, strict=True):
            tile = tile * axis.tiles + row // axis.extent
            slot += (row % axis.extent) * axis.stride
        return tile, slot

    def elements(self) -> NDArray[np.int64]:
        """All element indices, ``(ndim, E)``, row-major."""
        if not self.axes:
            return np.zeros((0, 1), dtype=np.int64)
        return np.indices(self.shape, dtype=np.int64).reshape(len(self.axes), -1)

    def pack(self, array: NDArray[np.float64]) -> NDArray[np.float64]:
        """Place ``array`` into ``(n_tiles, slots)`` slot vectors, zeros elsewhere."""
        if tuple(array.shape) != self.shape:
            raise ShapeMismatch(f"array of shape {array.shape} does not fit layout {self}")
        tile, slot = self.locate(self.elements())
        packed = np.zeros((self.n_tiles, self.slots))
        packed[tile, slot] = np.asarray(array, dtype=np.float64).reshape(-1)
        return packed

    def unpack(self, packed: NDArray[np.float64]) -> NDArray[np.float64]:
        """Read the tensor back out of ``(n_tiles, slots)`` slot vectors."""
        tile, slot = self.locate(self.elements())
        return np.asarray(packed[tile, slot], dtype=np.float64).reshape(self.shape)

    def describe(self, labels: Sequence[str] | None = None) -> str:
        """One line: each axis' placement, e.g. ``i 16: 16@32 · k 32: 32@1``."""
        names = labels if labels is not None else [f"axis{n}" for n in range(len(self.axes))]
        body = " · ".join(f"{n} {a.describe()}" for n, a in zip(names, self.axes, strict=True))
        return f"[{body or 'scalar'}] in {self.n_tiles} ciphertext(s)"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (``Layout.from_dict`` reads it back)."""
        return {
            "slots": self.slots,
            "axes": [[a.size, a.tiles, a.extent, a.stride] for a in self.axes],
        }

    @classmethod
    def from_dict(cls, data: Any) -> Layout:
        """Rebuild a layout from :meth:`to_dict` output, checking every number.

        Raises:
            ShapeMismatch: ``data`` is not a layout (wrong types, ranges, overlapping or
                inconsistent placements).
        """
        if not isinstance(data, dict) or set(data) != {"slots", "axes"}:
            raise ShapeMismatch("a layout is an object with exactly 'slots' and 'axes'")
        slots, axes = data["slots"], data["axes"]
        if not _is_int(slots) or not 1 <= slots <= MAX_SLOTS:
            raise ShapeMismatch(f"layout slots must be an integer in [1, {MAX_SLOTS}]")
        if not isinstance(axes, list) or len(axes) > MAX_AXES:
            raise ShapeMismatch(f"layout axes must be an array of at most {MAX_AXES} axes")
        placements = []
        for n, axis in enumerate(axes):
            if (
                not isinstance(axis, list)
                or len(axis) != 4
                or not all(_is_int(v) and 0 <= v <= MAX_AXIS_SIZE for v in axis)
                or axis[0] < 1
            ):
                raise ShapeMismatch(
                    f"layout axis {n} must be [size, tiles, extent, stride], integers in "
                    f"[0, {MAX_AXIS_SIZE}] with size >= 1"
                )
            placements.append(AxisPlacement(*axis))
        tiles = 1
        for placement in placements:
            tiles *= placement.tiles
        if tiles > MAX_TILES:
            raise ShapeMismatch(f"a layout of {tiles} ciphertexts (at most {MAX_TILES})")
        problem = layout_problem(slots, tuple(placements))
        if problem is not None:
            raise ShapeMismatch(f"not a valid layout: {problem}")
        return cls(slots=slots, axes=tuple(placements))


#: Bounds a layout read from a file must respect (far above anything CKKS can hold).
MAX_SLOTS = 1 << 16
MAX_AXES = 32
MAX_AXIS_SIZE = 1 << 31
MAX_TILES = 1 << 20


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def layout_problem(slots: int, axes: Sequence[AxisPlacement]) -> str | None:
    """What is wrong with a layout of ``axes`` over ``slots`` slots, or ``None``."""
    if slots < 1 or slots & (slots - 1):
        return f"slot count {slots} is not a power of two"
    spans = []
    for axis in axes:
        if axis.extent < 1 or axis.extent & (axis.extent - 1):
            return f"placement {axis}: extent is not a power of two"
        if axis.extent > next_pow2(axis.size) or axis.tiles != -(-axis.size // axis.extent):
            return f"placement {axis} does not cover its size"
        if axis.extent > 1:
            spans.append((axis.stride, axis.extent))
        elif axis.stride != 0:
            return f"placement {axis}: stride without extent"
    top = 1
    for stride, extent in sorted(spans):
        if stride < top:
            return f"slot digits overlap in {tuple(axes)}"
        top = stride * extent
    if top > slots:
        return f"layout spans {top} slots of {slots}"
    return None


def row_major(shape: Sequence[int], slots: int) -> Layout:
    """The default layout: padded row-major, outer axes spill into extra ciphertexts.

    The innermost axes fill the slots; the axis that crosses the slot count is split into
    tiles × extent, and every axis outside it is tiled entirely.
    """
    placements: list[AxisPlacement] = []
    span = 1
    for size in reversed(shape):
        padded = next_pow2(size)
        extent = min(padded, slots // span)
        stride = span if extent > 1 else 0
        placements.append(AxisPlacement(int(size), -(-size // extent), extent, stride))
        span *= extent
    return Layout(slots=slots, axes=tuple(reversed(placements)))
