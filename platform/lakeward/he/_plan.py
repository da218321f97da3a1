"""The planner: from subscripts, shapes and layouts to an explicit, countable plan.

One plan is one broadcast-multiply-reduce (``_path`` chains several when the space is too
large) over a *broadcast layout* that places every
label of the expression (a mixed-radix slot grid, plus tile axes when it exceeds one
ciphertext):

1. **Rewrite.** A label repeated inside an encrypted operand (``ii->i``) gets a fresh label
   per repeat and a plaintext identity tensor joins the plaintext side. All plaintext
   operands are contracted with numpy into one plaintext (free: it is cleartext).
2. **Choose the broadcast layout.** Candidates: each encrypted operand's own layout with the
   other labels placed above it, and dense label orders. A candidate's cost counts layout
   changes, replication, multiplication and reduction; the plan takes the least depth, then
   the least cost. A transpose never moves data: the result simply carries its layout.
3. **Prepare each encrypted operand.** If its layout differs from the broadcast layout it is
   moved by a *layout change*: only the diagonals that carry elements, grouped into baby
   and giant rotations (split along an arithmetic progression of the offsets, or along the
   index bits, since every offset is linear in them; the cheapest split wins), one level;
   no dense slots×slots matrix ever exists. A dirty operand
   (one whose free slots hold partial sums) that must be replicated is masked instead (a
   layout change onto itself). The plaintext is folded into that change when its labels
   allow, which saves its level. Then labels the operand lacks are replicated by
   rotate-and-add (log2 of the slot extent each); tile axes replicate for free.
4. **Multiply** the operands tile by tile in a balanced tree (depth ⌈log2 k⌉ for k leaves).
5. **Reduce** summed labels: tile axes by adding ciphertexts, slot axes by rotate-and-sum.
6. **Mask** only when ``clean=True``: otherwise the result's free slots keep partial sums,
   which decryption never reads.

Rotations are counted as key switches: a step without its own Galois key is composed from
power-of-two keys and costs one key switch per term.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from lakeward.errors import LakewardInternalError
from lakeward.he._errors import EinsumSyntaxError, MissingGaloisKeys
from lakeward.he._layout import AxisPlacement, Layout, next_pow2, row_major
from lakeward.he._params import rotation_schedule
from lakeward.he._subscripts import Subscripts, parse_subscripts

__all__ = [
    "GiantGroup",
    "LayoutChange",
    "OpCounts",
    "OperandPrep",
    "OperandSpec",
    "Plan",
    "PlanOp",
    "build_plan",
]

Packing = Literal["row-major", "planned"]

# Relative cost of each primitive, in rotations (measured at N=8192, 3 primes).
_COST = {"rotations": 1.0, "ct_ct": 1.2, "ct_pt": 0.35, "adds": 0.02, "rescales": 0.1}
_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_EXACT_CANDIDATES = 4


@dataclass(frozen=True)
class OperandSpec:
    """What the planner knows of one operand.

    Attributes:
        shape: The operand's shape.
        encrypted: Whether it is a ciphertext.
        layout: Its slot layout (encrypted operands; ``None`` = row-major default).
        level: Multiplicative levels it has left (``None`` = enough).
        clean: Whether its free slots hold zeros (fresh encryptions do).
    """

    shape: tuple[int, ...]
    encrypted: bool
    layout: Layout | None = None
    level: int | None = None
    clean: bool = True


@dataclass
class OpCounts:
    """Homomorphic operations: planned, or counted by a backend as they run."""

    rotations: int = 0
    ct_ct: int = 0
    ct_pt: int = 0
    adds: int = 0
    rescales: int = 0
    mod_switches: int = 0

    def __add__(self, other: OpCounts) -> OpCounts:
        return OpCounts(
            **{name: getattr(self, name) + getattr(other, name) for name in self.to_dict()}
        )

    def cost(self) -> float:
        """Estimated time in units of one rotation."""
        return float(sum(getattr(self, name) * weight for name, weight in _COST.items()))

    def to_dict(self) -> dict[str, int]:
        """The counts by name."""
        return {
            "rotations": self.rotations,
            "ct_ct": self.ct_ct,
            "ct_pt": self.ct_pt,
            "adds": self.adds,
            "rescales": self.rescales,
            "mod_switches": self.mod_switches,
        }


@dataclass
class GiantGroup:
    """Terms of a layout change that share a destination ciphertext and a giant step.

    ``terms`` are ``(source tile, baby step, element numbers)``: each is one plaintext mask
    times the baby-rotated source; their sum is rescaled, then rotated by ``step``.
    """

    dst_tile: int
    step: int
    terms: list[tuple[int, int, NDArray[np.int64]]]


@dataclass
class LayoutChange:
    """Move a tensor from ``src`` to ``dst`` layout with only the diagonals it needs.

    An element in slot ``p`` going to slot ``q`` needs a left rotation by ``d = p - q``.
    Each ``d`` is split into ``giant + baby``; baby rotations are done once per source
    ciphertext, masks select the elements, giant rotations once per destination group.
    A change from a layout onto itself is a mask (no rotations).
    """

    src: Layout
    dst: Layout
    method: str
    diagonals: int
    babies: list[tuple[int, int]]
    giants: list[GiantGroup]
    elements: NDArray[np.int64]
    dst_slot: NDArray[np.int64]
    counts: OpCounts

    def masks(self, group: GiantGroup, values: NDArray[np.float64] | None) -> list[np.ndarray]:
        """The plaintext mask of each term of ``group`` (pre-rotated by its giant step)."""
        slots = self.dst.slots
        out = []
        for _, _, members in group.terms:
            mask = np.zeros(slots)
            mask[(self.dst_slot[members] + group.step) % slots] = (
                1.0 if values is None else values[members]
            )
            out.append(mask)
        return out


@dataclass
class OperandPrep:
    """How one encrypted operand is brought into the broadcast layout.

    Attributes:
        position: The operand's position in the expression.
        labels: Its labels (repeats renamed).
        source: Its layout on entry.
        target: Its layout in the broadcast space.
        change: The layout change or mask, if any.
        reason: ``"layout"`` or ``"mask"`` (dirty operand that must be replicated), or "".
        fold_plaintext: Whether the plaintext operand is multiplied in with ``change``.
        replicate: Per missing label, the left-rotation steps of its rotate-and-add.
    """

    position: int
    labels: tuple[str, ...]
    source: Layout
    target: Layout
    change: LayoutChange | None
    reason: str
    fold_plaintext: bool
    replicate: list[tuple[str, list[int]]]

    @property
    def depth(self) -> int:
        """Levels this preparation consumes."""
        return 1 if self.change is not None else 0


@dataclass(frozen=True)
class PlanOp:
    """One line of the plan: what happens and what it costs."""

    kind: str
    detail: str
    counts: OpCounts
    levels: int = 0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "kind": self.kind,
            "detail": self.detail,
            "levels": self.levels,
            **self.counts.to_dict(),
        }


@dataclass
class Plan:
    """An explicit einsum plan. ``str(plan)`` (or :meth:`explain`) prints it.

    Attributes:
        expr: The normalised expression.
        shapes: The operands' shapes.
        encrypted: Which operands are encrypted.
        slots: Slots per ciphertext the plan is made for.
        available_steps: Rotation steps with keys (``None``: keys made for this plan).
        labels: The broadcast labels (renamed repeats included), sizes in ``sizes``.
        sizes: Size of every label.
        broadcast: The broadcast layout over ``labels``.
        operands: The preparation of each encrypted operand.
        plaintext_labels: Labels of the combined plaintext (``None``: no plaintext side).
        plaintext_recipe: numpy subscripts that combine the plaintext side.
        plaintext_fold: The ``operands`` index the plaintext is folded into, if any.
        merges: The multiplication tree over leaves ``0..k-1`` (operands) and ``k``
            (plaintext); each merge creates the next id.
        reduced_tile_labels: Summed labels that span several ciphertexts (added).
        reduce_slots: Summed labels inside ciphertexts and their rotate-and-sum steps.
        output_labels: The output labels.
        output_layout: The result's layout.
        clean: Whether the result's free slots hold zeros.
        mask: The output mask (``clean=True`` over a dirty result).
        counts: Predicted operations.
        depth: Multiplicative depth: levels consumed from the freshest operand's level.
        floor: The rotate-and-sum floor: log2 of every summed label's padded size plus,
            per encrypted operand, of every label it lacks (one ciphertext, no tiling).
        ops: The plan as readable steps.
        packing: ``"row-major"`` or ``"planned"`` (see :func:`plan_einsum`).
    """

    expr: str
    shapes: list[tuple[int, ...]]
    encrypted: list[bool]
    slots: int
    available_steps: frozenset[int] | None
    labels: tuple[str, ...]
    sizes: dict[str, int]
    origin: dict[str, str]
    broadcast: Layout
    operands: list[OperandPrep]
    plaintext_labels: tuple[str, ...] | None
    plaintext_recipe: str
    plaintext_fold: int | None
    merges: list[tuple[int, int]]
    reduced_tile_labels: tuple[str, ...]
    reduce_slots: list[tuple[str, list[int]]]
    output_labels: tuple[str, ...]
    output_layout: Layout
    clean: bool
    mask: LayoutChange | None
    counts: OpCounts
    depth: int
    floor: int
    ops: list[PlanOp]
    packing: Packing = "row-major"
    merge_depths: list[int] = field(default_factory=list)

    @property
    def rotations(self) -> int:
        """Predicted rotations (key switches)."""
        return self.counts.rotations

    @property
    def output_shape(self) -> tuple[int, ...]:
        """The result's shape."""
        return self.output_layout.shape

    @property
    def galois_steps(self) -> frozenset[int]:
        """Every rotation step the plan's key switches use (the Galois keys it needs)."""
        steps: set[int] = set()
        for amount in self._rotation_amounts():
            steps.update(self.schedule(amount))
        return frozenset(steps)

    @property
    def input_layouts(self) -> list[Layout | None]:
        """The layout each encrypted operand should be packed in to need no layout change.

        Pass it to :func:`lakeward.he.encrypt` (``layout=``) on the owner's side.
        """
        wanted: list[Layout | None] = [None] * len(self.shapes)
        for prep in self.operands:
            wanted[prep.position] = prep.target
        return wanted

    def schedule(self, amount: int) -> tuple[int, ...]:
        """The key switches for a left rotation by ``amount`` under this plan's keys."""
        return rotation_schedule(amount, self.slots, self.available_steps)

    def _rotation_amounts(self) -> Iterable[int]:
        for prep in self.operands:
            if prep.change is not None:
                yield from (step for _, step in prep.change.babies)
                yield from (g.step for g in prep.change.giants)
            for _, steps in prep.replicate:
                yield from steps
        for _, steps in self.reduce_slots:
            yield from steps

    def explain(self) -> str:
        """The plan as text: layouts, every operation with its cost, and the totals."""
        kinds = ", ".join(
            f"{n} {'encrypted' if e else 'plaintext'} {s}"
            for n, (e, s) in enumerate(zip(self.encrypted, self.shapes, strict=True))
        )
        keys = (
            "keys for every step the plan uses"
            if self.available_steps is None
            else f"{len(self.available_steps)} Galois keys in the context"
        )
        lines = [
            f"einsum {self.expr!r}   operands: {kinds}",
            f"{self.slots} slots per ciphertext; {keys}; packing: {self.packing}",
            "labels: "
            + ", ".join(
                f"{label}={self.sizes[label]}"
                + (f" (copy of {self.origin[label]})" if label in self.origin else "")
                + (" out" if label in self.output_labels else " summed")
                for label in self.labels
            ),
            f"broadcast layout: {self.broadcast.describe(self.labels)}",
        ]
        for number, op in enumerate(self.ops, 1):
            costs = ", ".join(
                f"{value} {name.replace('_', '×')}"
                for name, value in op.counts.to_dict().items()
                if value and name != "mod_switches"
            )
            level = f", +{op.levels} level" if op.levels else ""
            lines.append(f"  {number:>2}. {op.kind}: {op.detail}" + (f" [{costs}{level}]"))
        state = (
            "free slots hold zeros"
            if self.clean
            else "free slots hold partial sums (never decrypted; clean=True masks them)"
        )
        lines.append(f"output {self.output_layout.describe(self.output_labels)}; {state}")
        c = self.counts
        lines.append(
            f"totals: rotations {c.rotations} (rotate-and-sum floor {self.floor}), ct×ct "
            f"{c.ct_ct}, ct×pt {c.ct_pt}, adds {c.adds}, rescales {c.rescales}, depth "
            f"{self.depth}, Galois steps {sorted(self.galois_steps)}"
        )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.explain()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (layouts, operations, counts)."""
        return {
            "expr": self.expr,
            "shapes": [list(s) for s in self.shapes],
            "encrypted": self.encrypted,
            "slots": self.slots,
            "packing": self.packing,
            "labels": {label: self.sizes[label] for label in self.labels},
            "output_labels": list(self.output_labels),
            "broadcast_layout": self.broadcast.to_dict(),
            "input_layouts": [
                None if layout is None else layout.to_dict() for layout in self.input_layouts
            ],
            "output_layout": self.output_layout.to_dict(),
            "clean": self.clean,
            "ops": [op.to_dict() for op in self.ops],
            "counts": self.counts.to_dict(),
            "rotations": self.rotations,
            "depth": self.depth,
            "floor": self.floor,
            "galois_steps": sorted(self.galois_steps),
        }


# --------------------------------------------------------------------------- layout changes


def _bit_terms(
    elements: NDArray[np.int64], src: Layout, dst: Layout
) -> tuple[list[tuple[NDArray[np.int64], int]], list[int], list[int]]:
    """The offset ``src slot - dst slot`` as a linear function of the index bits.

    ``(x % e) * s`` is ``s`` times the bits of ``x`` below ``log2 e``, so every element's
    offset is a sum of ``bit * coefficient`` over all index bits of all axes. Returns the
    moving bits (value arrays and coefficients) and which of them select a source or a
    destination ciphertext.
    """
    terms: list[tuple[NDArray[np.int64], int]] = []
    src_tile_bits: list[int] = []
    dst_tile_bits: list[int] = []
    for row, a, b in zip(elements, src.axes, dst.axes, strict=True):
        for bit in range(max(1, (a.size - 1).bit_length())):
            in_src, in_dst = (1 << bit) < a.extent, (1 << bit) < b.extent
            coefficient = (1 << bit) * ((a.stride if in_src else 0) - (b.stride if in_dst else 0))
            if coefficient == 0:
                continue
            if not in_dst:
                dst_tile_bits.append(len(terms))
            elif not in_src:
                src_tile_bits.append(len(terms))
            terms.append(((row >> bit) & 1, coefficient))
    return terms, src_tile_bits, dst_tile_bits


def _decompositions(
    d: NDArray[np.int64], elements: NDArray[np.int64], src: Layout, dst: Layout
) -> Iterable[tuple[str, NDArray[np.int64], NDArray[np.int64]]]:
    """Candidate splits of each rotation ``d`` into ``(giant, baby)``."""
    zero = np.zeros_like(d)
    yield "direct", zero, d
    nonzero = np.abs(d[d != 0])
    if nonzero.size == 0:
        return
    step = int(np.gcd.reduce(nonzero))
    low = int(d.min())
    k = (d - low) // step
    span = int(k.max()) + 1
    if span > 2:
        root = math.sqrt(span)
        sizes = {1 << e for e in range(1, span.bit_length())}
        sizes |= {max(2, round(root * f)) for f in (0.35, 0.5, 0.7, 1.0, 1.4, 2.0, 2.8)}
        for g in sorted(s for s in sizes if 2 <= s < span):
            yield f"bsgs g={g} unit={step}", low + step * g * (k // g), step * (k % g)
    # Bit splits: bits that pick the destination ciphertext go giant, bits that pick the
    # source ciphertext go baby (free either way); the other moving bits are split.
    terms, src_bits, dst_bits = _bit_terms(elements, src, dst)
    base = sum((terms[n][0] * terms[n][1] for n in src_bits), zero)
    free = [n for n in range(len(terms)) if n not in src_bits and n not in dst_bits]
    orders = {
        "natural": free,
        "small first": sorted(free, key=lambda n: abs(terms[n][1])),
        "large first": sorted(free, key=lambda n: -abs(terms[n][1])),
    }
    seen: set[tuple[int, ...]] = set()
    for name, order in orders.items():
        for h in range(len(order) + 1):
            chosen = tuple(sorted(order[:h]))
            if chosen in seen:
                continue
            seen.add(chosen)
            baby = base + sum((terms[n][0] * terms[n][1] for n in chosen), zero)
            yield f"bit split ({name}, {h} of {len(order)} bits baby)", d - baby, baby


def plan_layout_change(
    src: Layout, dst: Layout, schedule: Callable[[int], tuple[int, ...]]
) -> LayoutChange:
    """Plan moving a tensor from ``src`` to ``dst`` at the least estimated cost.

    Raises:
        MissingGaloisKeys: no split can be rotated with the available keys.
    """
    if src.shape != dst.shape or src.slots != dst.slots:
        raise LakewardInternalError(f"layout change between {src} and {dst}")
    slots = src.slots
    elements = src.elements()
    src_tile, src_slot = src.locate(elements)
    dst_tile, dst_slot = dst.locate(elements)
    d = src_slot - dst_slot
    diagonals = np.unique(np.stack([src_tile, dst_tile, d % slots]), axis=1).shape[1]
    best: tuple[float, str, NDArray[np.int64], NDArray[np.int64], OpCounts] | None = None
    n_dst = dst.n_tiles
    for method, giant, baby in _decompositions(d, elements, src, dst):
        giant, baby = giant % slots, baby % slots
        try:
            counts = _change_counts(src_tile, dst_tile, giant, baby, n_dst, slots, schedule)
        except MissingGaloisKeys:
            continue
        score = counts.cost()
        if best is None or score < best[0] - 1e-9:
            best = (score, method, giant, baby, counts)
    if best is None:  # no split works with these keys: report the direct rotations
        missing = sorted({int(x) for x in np.unique(d % slots) if x} - {0})
        raise MissingGaloisKeys(
            f"a layout change needs rotations by {missing[:12]}{' …' if len(missing) > 12 else ''}"
            " slots and the context's keys cannot compose them; generate keys for this "
            "expression: lakeward.he.keygen(expressions=[...])",
            steps=missing,
        )
    _, method, giant, baby, counts = best
    order = np.lexsort((baby, src_tile, giant, dst_tile))
    giants: list[GiantGroup] = []
    babies: set[tuple[int, int]] = set()
    keys = np.stack([dst_tile[order], giant[order], src_tile[order], baby[order]])
    change_points = np.flatnonzero(np.any(np.diff(keys, axis=1) != 0, axis=0)) + 1
    for chunk in np.split(order, change_points):
        td, g, ts, b = (
            int(v)
            for v in (dst_tile[chunk[0]], giant[chunk[0]], src_tile[chunk[0]], baby[chunk[0]])
        )
        if not giants or giants[-1].dst_tile != td or giants[-1].step != g:
            giants.append(GiantGroup(td, g, []))
        giants[-1].terms.append((ts, b, chunk))
        babies.add((ts, b))
    return LayoutChange(
        src=src,
        dst=dst,
        method=method,
        diagonals=int(diagonals),
        babies=sorted(babies),
        giants=giants,
        elements=elements,
        dst_slot=dst_slot,
        counts=counts,
    )


def _change_counts(
    src_tile: NDArray[np.int64],
    dst_tile: NDArray[np.int64],
    giant: NDArray[np.int64],
    baby: NDArray[np.int64],
    n_dst: int,
    slots: int,
    schedule: Callable[[int], tuple[int, ...]],
) -> OpCounts:
    babies = np.unique(src_tile * slots + baby)
    groups = np.unique(dst_tile * slots + giant)
    terms = np.unique(
        (dst_tile * slots + giant) * (src_tile.max() + 1) * slots + src_tile * slots + baby
    ).size
    rotations = sum(len(schedule(int(v) % slots)) for v in babies)
    rotations += sum(len(schedule(int(v) % slots)) for v in groups)
    return OpCounts(
        rotations=rotations,
        ct_pt=int(terms),
        adds=int(terms - groups.size) + int(groups.size - n_dst),
        rescales=int(groups.size),
    )


# --------------------------------------------------------------------------- the plan


@dataclass
class _Rewritten:
    """The expression after renaming repeats and combining the plaintext side."""

    sub: Subscripts
    cts: list[tuple[int, tuple[str, ...]]]  # (position, distinct labels)
    origin: dict[str, str]
    pt_labels: tuple[str, ...] | None
    pt_recipe: str


def _rewrite(sub: Subscripts, encrypted: Sequence[bool]) -> _Rewritten:
    used = set("".join(sub.inputs))
    free = [c for c in _LETTERS if c not in used]
    origin: dict[str, str] = {}
    cts: list[tuple[int, tuple[str, ...]]] = []
    pt_terms: list[str] = [sub.inputs[n] for n, enc in enumerate(encrypted) if not enc]
    for position, labels in enumerate(sub.inputs):
        if not encrypted[position]:
            continue
        renamed: list[str] = []
        for label in labels:
            if label in renamed:
                if not free:
                    raise EinsumSyntaxError(
                        f"{sub.text!r}: too many repeated labels to rename (52 letters)"
                    )
                fresh = free.pop(0)
                origin[fresh] = label
                sub.sizes[fresh] = sub.sizes[label]
                renamed.append(fresh)
            else:
                renamed.append(label)
        for label in dict.fromkeys(labels):
            copies = [label] + [r for r in renamed if origin.get(r) == label]
            if len(copies) > 1:
                pt_terms.append("".join(copies))  # identity tensor over the copies
        cts.append((position, tuple(renamed)))
    if not pt_terms:
        return _Rewritten(sub, cts, origin, None, "")
    ct_labels = {label for _, labels in cts for label in labels}
    keep = [
        label
        for label in dict.fromkeys("".join(pt_terms))
        if label in ct_labels or label in sub.output
    ]
    return _Rewritten(sub, cts, origin, tuple(keep), ",".join(pt_terms) + "->" + "".join(keep))


def plaintext_side(
    plan: Plan, arrays: Sequence[NDArray[np.float64] | None]
) -> NDArray[np.float64] | None:
    """Contract the plaintext operands (and identity tensors for repeats) with numpy."""
    if plan.plaintext_labels is None:
        return None
    lhs = plan.plaintext_recipe.split("->")[0].split(",")
    pts = [a for n, a in enumerate(arrays) if not plan.encrypted[n]]
    tensors: list[NDArray[np.float64]] = []
    for term in lhs:
        if pts and len(tensors) < len(pts):
            tensors.append(np.asarray(pts[len(tensors)], dtype=np.float64))
            continue
        size = plan.sizes[term[0]]
        identity = np.zeros((size,) * len(term))
        identity[tuple(np.arange(size) for _ in term)] = 1.0
        tensors.append(identity)
    return np.asarray(np.einsum(plan.plaintext_recipe, *tensors), dtype=np.float64)


def _fill(
    order: Sequence[str], fixed: dict[str, AxisPlacement], sizes: dict[str, int], slots: int
) -> dict[str, AxisPlacement]:
    """Place ``order`` (innermost first) above the ``fixed`` placements."""
    placements = dict(fixed)
    span = max((p.stride * p.extent for p in fixed.values() if p.extent > 1), default=1)
    span = next_pow2(span)
    for label in order:
        if label in placements:
            continue
        size = sizes[label]
        extent = min(next_pow2(size), max(1, slots // span))
        placements[label] = AxisPlacement(
            size, -(-size // extent), extent, span if extent > 1 else 0
        )
        span *= extent
    return placements


def _restrict(placements: dict[str, AxisPlacement], labels: Sequence[str], slots: int) -> Layout:
    return Layout(slots=slots, axes=tuple(placements[label] for label in labels))


def _tree(depths: list[int], has_pt: bool) -> tuple[list[tuple[int, int]], int, list[int]]:
    """Balanced multiplication tree: always merge the two shallowest nodes."""
    nodes = [(d, n) for n, d in enumerate(depths)]
    if has_pt:
        nodes.append((0, len(depths)))
    merges: list[tuple[int, int]] = []
    merge_depths: list[int] = []
    next_id = len(nodes)
    while len(nodes) > 1:
        nodes.sort()
        (da, a), (db, b) = nodes[0], nodes[1]
        merges.append((a, b))
        merge_depths.append(max(da, db) + 1)
        nodes = [*nodes[2:], (max(da, db) + 1, next_id)]
        next_id += 1
    return merges, nodes[0][0] if nodes else 0, merge_depths


def _level_offsets(specs: Sequence[OperandSpec], rw: _Rewritten) -> list[int]:
    """Per encrypted operand: how many levels fewer it has than the freshest operand."""
    levels = [specs[position].level for position, _ in rw.cts]
    known = [level for level in levels if level is not None]
    top = max(known, default=0)
    return [0 if level is None else top - level for level in levels]


def _log2(n: int) -> int:
    return max(0, n.bit_length() - 1)


def _sum_steps(placement: AxisPlacement, sign: int) -> list[int]:
    return [sign * placement.stride * (1 << t) for t in range(_log2(placement.extent))]


def _build(
    rw: _Rewritten,
    specs: Sequence[OperandSpec],
    placements: dict[str, AxisPlacement],
    labels: tuple[str, ...],
    slots: int,
    available: frozenset[int] | None,
    clean: bool,
    packing: Packing,
) -> Plan:
    """Turn one broadcast-layout candidate into a full plan with exact counts."""
    sub = rw.sub

    def schedule(amount: int) -> tuple[int, ...]:
        return rotation_schedule(amount, slots, available)

    def rotations(steps: Iterable[int]) -> int:
        return sum(len(schedule(s)) for s in steps)

    broadcast = _restrict(placements, labels, slots)
    ops: list[PlanOp] = []
    preps: list[OperandPrep] = []
    pt_labels = rw.pt_labels
    fold: int | None = None
    for index, (position, op_labels) in enumerate(rw.cts):
        spec = specs[position]
        source = spec.layout or row_major(spec.shape, slots)
        target = _restrict(placements, op_labels, slots)
        missing = [label for label in labels if label not in op_labels]
        replicate = [
            (label, _sum_steps(placements[label], -1))
            for label in missing
            if placements[label].extent > 1
        ]
        change: LayoutChange | None = None
        reason = ""
        if source != target:
            change, reason = plan_layout_change(source, target, schedule), "layout"
        elif replicate and not spec.clean:
            change, reason = plan_layout_change(source, target, schedule), "mask"
        folds = (
            change is not None
            and fold is None
            and pt_labels is not None
            and set(pt_labels) <= set(op_labels)
        )
        if folds:
            fold = index
        preps.append(
            OperandPrep(position, op_labels, source, target, change, reason, folds, replicate)
        )
        names = "".join(op_labels)
        if change is not None:
            what = (
                f"{source.describe(op_labels)} → {target.describe(op_labels)}: "
                f"{change.diagonals} diagonal(s), {change.method}"
                if reason == "layout"
                else f"zero the free slots (dirty input must be replicated): {change.method}"
            )
            if folds:
                what += "; plaintext operand folded into the masks"
            ops.append(PlanOp(f"operand {position} {reason}", what, change.counts, 1))
        for label, steps in replicate:
            count = OpCounts(rotations=rotations(steps), adds=len(steps))
            n = target.n_tiles
            ops.append(
                PlanOp(
                    f"operand {position} replicate {label}",
                    f"'{names}' lacks {label}: rotate-and-add by {[s % slots for s in steps]}"
                    + (f" in each of {n} ciphertexts" if n > 1 else ""),
                    OpCounts(rotations=count.rotations * n, adds=count.adds * n),
                )
            )
    # multiplication tree over the broadcast tiles; an operand with fewer levels left
    # than the freshest one enters the tree that much deeper
    tiles = broadcast.n_tiles
    has_pt = pt_labels is not None and fold is None
    offsets = _level_offsets(specs, rw)
    leaf_depths = [offset + p.depth for offset, p in zip(offsets, preps, strict=True)]
    merges, product_depth, merge_depths = _tree(leaf_depths, has_pt)
    k = len(preps)
    pt_merges = sum(1 for a, b in merges if has_pt and k in (a, b))
    depth_of = leaf_depths + ([0] if has_pt else [])
    node_depth = list(depth_of)
    mod_switches = 0
    for (a, b), depth in zip(merges, merge_depths, strict=True):
        both_ct = not (has_pt and k in (a, b))
        if both_ct and node_depth[a] != node_depth[b]:
            mod_switches += 1
        node_depth.append(depth)
    if merges:
        ct_ct = len(merges) - pt_merges
        ops.append(
            PlanOp(
                "multiply",
                f"{k} encrypted operand(s)"
                + (" × plaintext" if has_pt else "")
                + f", balanced tree of depth {product_depth - min(depth_of)}, "
                + f"in each of {tiles} broadcast ciphertext(s)",
                OpCounts(
                    ct_ct=ct_ct * tiles,
                    ct_pt=pt_merges * tiles,
                    rescales=len(merges) * tiles,
                    mod_switches=mod_switches * tiles,
                ),
                levels=product_depth - max(leaf_depths, default=0),
            )
        )
    # reduction
    output_labels = tuple(sub.output)
    output_layout = _restrict(placements, output_labels, slots)
    summed = [label for label in labels if label not in output_labels]
    reduced_tiles = tuple(label for label in summed if placements[label].tiles > 1)
    if tiles > output_layout.n_tiles:
        ops.append(
            PlanOp(
                "sum tiles",
                f"add ciphertexts over {', '.join(reduced_tiles)}",
                OpCounts(adds=tiles - output_layout.n_tiles),
            )
        )
    reduce_slots = [
        (label, _sum_steps(placements[label], 1))
        for label in summed
        if placements[label].extent > 1
    ]
    n_out = output_layout.n_tiles
    for label, steps in reduce_slots:
        ops.append(
            PlanOp(
                f"sum {label}",
                f"rotate-and-sum by {steps}"
                + (f" in each of {n_out} ciphertexts" if n_out > 1 else ""),
                OpCounts(rotations=rotations(steps) * n_out, adds=len(steps) * n_out),
            )
        )
    product_clean = any(
        spec.clean or p.change is not None for p, spec in ((p, specs[p.position]) for p in preps)
    ) or (pt_labels is not None)
    result_clean = product_clean and not reduce_slots
    mask: LayoutChange | None = None
    if clean and not result_clean:
        mask = plan_layout_change(output_layout, output_layout, schedule)
        ops.append(PlanOp("mask output", "zero the free slots (clean=True)", mask.counts, 1))
        result_clean = True
    counts = OpCounts()
    for op in ops:
        counts = counts + op.counts
    depth = product_depth + (1 if mask is not None else 0)
    floor = sum(_log2(next_pow2(sub.sizes[label])) for label in summed)
    floor += sum(
        _log2(next_pow2(sub.sizes[label]))
        for _, op_labels in rw.cts
        for label in labels
        if label not in op_labels
    )
    return Plan(
        expr=sub.text,
        shapes=[tuple(s.shape) for s in specs],
        encrypted=[s.encrypted for s in specs],
        slots=slots,
        available_steps=available,
        labels=labels,
        sizes=dict(sub.sizes),
        origin=dict(rw.origin),
        broadcast=broadcast,
        operands=preps,
        plaintext_labels=pt_labels,
        plaintext_recipe=rw.pt_recipe,
        plaintext_fold=fold,
        merges=merges,
        reduced_tile_labels=reduced_tiles,
        reduce_slots=reduce_slots,
        output_labels=output_labels,
        output_layout=output_layout,
        clean=result_clean,
        mask=mask,
        counts=counts,
        depth=depth,
        floor=floor,
        ops=ops,
        packing=packing,
        merge_depths=merge_depths,
    )


def _orders(labels: Sequence[str], limit: int) -> Iterable[tuple[str, ...]]:
    if len(labels) <= limit:
        yield from itertools.permutations(labels)
    else:
        yield tuple(labels)
        yield tuple(reversed(labels))


def _candidates(
    rw: _Rewritten,
    specs: Sequence[OperandSpec],
    labels: tuple[str, ...],
    slots: int,
    packing: Packing,
) -> list[dict[str, AxisPlacement]]:
    sizes = rw.sub.sizes
    out: dict[tuple[tuple[str, AxisPlacement], ...], dict[str, AxisPlacement]] = {}

    def add(placements: dict[str, AxisPlacement]) -> None:
        out.setdefault(tuple(sorted(placements.items())), placements)

    summed = [label for label in labels if label not in rw.sub.output]
    kept = [label for label in labels if label in rw.sub.output]
    if packing == "row-major":
        for position, op_labels in rw.cts:
            spec = specs[position]
            layout = spec.layout or row_major(spec.shape, slots)
            fixed = dict(zip(op_labels, layout.axes, strict=True))
            rest = [label for label in labels if label not in fixed]
            for order in _orders(rest, 4):
                add(_fill(order, fixed, sizes, slots))
    # dense orders (innermost first); with many labels, the natural heuristics only
    if len(labels) <= 6:
        for order in itertools.permutations(labels):
            add(_fill(order, {}, sizes, slots))
    else:
        heuristics = [tuple(reversed(kept)) + tuple(summed), tuple(kept) + tuple(summed)]
        for _, op_labels in rw.cts:
            inner = tuple(reversed(op_labels))
            heuristics.append(inner + tuple(label for label in labels if label not in inner))
        for order in heuristics:
            add(_fill(order, {}, sizes, slots))
    return list(out.values())


def _estimate(
    rw: _Rewritten,
    specs: Sequence[OperandSpec],
    placements: dict[str, AxisPlacement],
    labels: tuple[str, ...],
    slots: int,
    available: frozenset[int] | None,
) -> tuple[int, float]:
    """Quick (depth, cost) of a candidate; layout changes are estimated, not planned."""
    cost = 0.0
    depths = []

    def rot(steps: Iterable[int]) -> float:
        try:
            return float(sum(len(rotation_schedule(s, slots, available)) for s in steps))
        except MissingGaloisKeys:
            return 1e9

    for offset, (position, op_labels) in zip(_level_offsets(specs, rw), rw.cts, strict=True):
        spec = specs[position]
        source = spec.layout or row_major(spec.shape, slots)
        target = _restrict(placements, op_labels, slots)
        missing = [lb for lb in labels if lb not in op_labels and placements[lb].extent > 1]
        changed = source != target
        if changed:
            moved = [
                spec.shape[n]
                for n, (a, b) in enumerate(zip(source.axes, target.axes, strict=True))
                if a != b
            ]
            diagonals = float(np.prod(moved)) if moved else 1.0
            cost += 2.0 * math.sqrt(diagonals) + _COST["ct_pt"] * diagonals * max(1, target.n_tiles)
        elif missing and not spec.clean:
            cost += _COST["ct_pt"] * target.n_tiles
        depths.append(offset + (1 if changed or (missing and not spec.clean) else 0))
        for label in missing:
            cost += target.n_tiles * rot(_sum_steps(placements[label], -1))
    broadcast = _restrict(placements, labels, slots)
    out = _restrict(placements, tuple(rw.sub.output), slots)
    k = len(rw.cts)
    has_pt = rw.pt_labels is not None
    cost += broadcast.n_tiles * ((k - 1) * _COST["ct_ct"] + (_COST["ct_pt"] if has_pt else 0))
    cost += (broadcast.n_tiles - out.n_tiles) * _COST["adds"]
    for label in labels:
        if label not in rw.sub.output:
            cost += out.n_tiles * rot(_sum_steps(placements[label], 1))
    _, depth, _ = _tree(depths, has_pt)
    return depth, cost


def build_plan(
    expr: str,
    specs: Sequence[OperandSpec],
    *,
    slots: int,
    available_steps: frozenset[int] | None = None,
    clean: bool = False,
    packing: Packing = "row-major",
) -> Plan:
    """Plan ``expr`` over operands described by ``specs`` for ``slots``-slot ciphertexts.

    Plans are deterministic in their inputs, so repeated einsums (a job over many
    partitions, a benchmark loop) reuse them from a small cache.
    """
    return _cached_plan(expr, tuple(specs), slots, available_steps, clean, packing)


@functools.lru_cache(maxsize=256)
def _cached_plan(
    expr: str,
    specs: tuple[OperandSpec, ...],
    slots: int,
    available_steps: frozenset[int] | None,
    clean: bool,
    packing: Packing,
) -> Plan:
    sub = parse_subscripts(expr, [s.shape for s in specs])
    encrypted = [s.encrypted for s in specs]
    if not any(encrypted):
        raise EinsumSyntaxError(
            f"{sub.text!r}: no operand is encrypted; use numpy.einsum for plaintext"
        )
    rw = _rewrite(sub, encrypted)
    first_seen = [lb for _, labs in rw.cts for lb in labs] + list(rw.pt_labels or ())
    labels = tuple(dict.fromkeys([*sub.output, *first_seen]))
    if packing == "planned":
        specs = tuple(
            OperandSpec(s.shape, s.encrypted, None, s.level, True) if s.encrypted else s
            for s in specs
        )
    candidates = _candidates(rw, specs, labels, slots, packing)
    if packing == "planned":
        # The owner packs each operand as the plan wants: score candidates without changes.
        scored: list[tuple[tuple[int, float], int, dict[str, AxisPlacement], list[OperandSpec]]]
        scored = []
        for placements in candidates:
            free_specs = list(specs)
            for position, op_labels in rw.cts:
                s = specs[position]
                free_specs[position] = OperandSpec(
                    s.shape, True, _restrict(placements, op_labels, slots), s.level, True
                )
            scored.append(
                (
                    _estimate(rw, free_specs, placements, labels, slots, available_steps),
                    len(scored),
                    placements,
                    free_specs,
                )
            )
        scored.sort(key=lambda item: (item[0], item[1]))
        best_plan: Plan | None = None
        for _, _, placements, free_specs in scored[:_EXACT_CANDIDATES]:
            plan = _build(
                rw, free_specs, placements, labels, slots, available_steps, clean, packing
            )
            if best_plan is None or (plan.depth, plan.counts.cost()) < (
                best_plan.depth,
                best_plan.counts.cost(),
            ):
                best_plan = plan
        if best_plan is None:
            raise LakewardInternalError(f"no layout candidate for {sub.text!r}")
        return best_plan
    ranked = sorted(
        (
            (_estimate(rw, specs, placements, labels, slots, available_steps), n, placements)
            for n, placements in enumerate(candidates)
        ),
        key=lambda item: (item[0], item[1]),
    )
    best: Plan | None = None
    problem: MissingGaloisKeys | None = None
    for (depth, cost), _, placements in ranked[:_EXACT_CANDIDATES]:
        if best is not None and (depth, cost) > (best.depth, 1.5 * best.counts.cost()):
            break  # estimates only overstate layout changes: nothing further can win
        try:
            plan = _build(rw, specs, placements, labels, slots, available_steps, clean, packing)
        except MissingGaloisKeys as exc:  # another candidate may rotate with these keys
            problem = problem or exc
            continue
        if best is None or (plan.depth, plan.counts.cost()) < (best.depth, best.counts.cost()):
            best = plan
    if best is None:
        if problem is not None:
            raise problem
        raise LakewardInternalError(f"no layout candidate for {sub.text!r}")
    return best
