"""Contraction order: one broadcast step, or pairwise steps when that space is too large.

Multiplying all operands at once in one broadcast space gives the least depth (⌈log2 k⌉),
but the space is the product of every label's size: a chain of four 32×32 matrices would
span 32**5 slots. When the all-at-once space exceeds :data:`SINGLE_STEP_TILES` ciphertexts,
each operand's diagonals and the labels no other operand has are first summed on their own
(so a repeated label never squares the space); then the planner contracts greedily, two
operands at a time: plaintext pairs that contract first (numpy, free), then the pair with
the smallest broadcast space, summing each label as soon as no other operand needs it; the
last step takes whatever remains once it fits. Each step is an ordinary
:class:`~lakeward.he.Plan`; its result (a ciphertext with the step's layout and levels) is
an operand of the next.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lakeward.he._errors import EinsumSyntaxError, HEInputError
from lakeward.he._layout import Layout, next_pow2
from lakeward.he._params import RING_DEGREES, choose_parameters
from lakeward.he._plan import OpCounts, OperandSpec, Packing, Plan, build_plan
from lakeward.he._subscripts import parse_subscripts

__all__ = ["SINGLE_STEP_TILES", "PathPlan", "PathStep", "plan_einsum", "plan_path"]

#: The all-at-once broadcast space may span at most this many ciphertexts.
SINGLE_STEP_TILES = 16
_FRESH = 1 << 20  # stands for "the top of the chain" when input levels are unknown


@dataclass
class PathStep:
    """One contraction of the path.

    Attributes:
        inputs: Positions in the value list (operands first, then step results in order).
        expr: The step's subscripts.
        plan: Its plan (``None`` for a plaintext-only step, done by numpy).
    """

    inputs: list[int]
    expr: str
    plan: Plan | None


@dataclass
class PathPlan:
    """A plan in several contraction steps; same reporting surface as :class:`Plan`."""

    expr: str
    shapes: list[tuple[int, ...]]
    encrypted: list[bool]
    slots: int
    steps: list[PathStep]
    depth: int

    @property
    def _plans(self) -> list[Plan]:
        return [step.plan for step in self.steps if step.plan is not None]

    @property
    def counts(self) -> OpCounts:
        """Predicted operations of all steps."""
        total = OpCounts()
        for plan in self._plans:
            total = total + plan.counts
        return total

    @property
    def rotations(self) -> int:
        """Predicted rotations (key switches)."""
        return self.counts.rotations

    @property
    def floor(self) -> int:
        """Sum of the steps' rotate-and-sum floors."""
        return sum(plan.floor for plan in self._plans)

    @property
    def galois_steps(self) -> frozenset[int]:
        """Every rotation step the path uses."""
        return frozenset().union(*(plan.galois_steps for plan in self._plans))

    @property
    def output_layout(self) -> Layout:
        """The result's layout."""
        return self._plans[-1].output_layout

    @property
    def output_shape(self) -> tuple[int, ...]:
        """The result's shape."""
        return self.output_layout.shape

    @property
    def clean(self) -> bool:
        """Whether the result's free slots hold zeros."""
        return self._plans[-1].clean

    @property
    def input_layouts(self) -> list[Layout | None]:
        """The layout each encrypted operand should be packed in (see :class:`Plan`)."""
        wanted: list[Layout | None] = [None] * len(self.shapes)
        for step in self.steps:
            if step.plan is None:
                continue
            for prep in step.plan.operands:
                position = step.inputs[prep.position]
                if position < len(self.shapes) and wanted[position] is None:
                    wanted[position] = prep.target
        return wanted

    def explain(self) -> str:
        """Every step's plan, then the totals."""
        lines = [f"einsum {self.expr!r} in {len(self.steps)} contraction steps"]
        for number, step in enumerate(self.steps, 1):
            names = ", ".join(
                f"operand {n}" if n < len(self.shapes) else f"step {n - len(self.shapes) + 1}"
                for n in step.inputs
            )
            lines.append(f"step {number}: {step.expr!r} over {names}")
            body = "plaintext only: numpy" if step.plan is None else step.plan.explain()
            lines.extend("    " + line for line in body.splitlines())
        c = self.counts
        lines.append(
            f"totals: rotations {c.rotations} (floor {self.floor}), ct×ct {c.ct_ct}, ct×pt "
            f"{c.ct_pt}, adds {c.adds}, rescales {c.rescales}, depth {self.depth}"
        )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.explain()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "expr": self.expr,
            "shapes": [list(s) for s in self.shapes],
            "encrypted": self.encrypted,
            "slots": self.slots,
            "steps": [
                {
                    "inputs": step.inputs,
                    "expr": step.expr,
                    "plan": None if step.plan is None else step.plan.to_dict(),
                }
                for step in self.steps
            ],
            "output_layout": self.output_layout.to_dict(),
            "counts": self.counts.to_dict(),
            "rotations": self.rotations,
            "depth": self.depth,
            "floor": self.floor,
            "galois_steps": sorted(self.galois_steps),
        }


def _padded(labels: str, sizes: dict[str, int]) -> int:
    return int(np.prod([next_pow2(sizes[label]) for label in set(labels)], dtype=np.int64))


def plan_path(
    expr: str,
    specs: Sequence[OperandSpec],
    *,
    slots: int,
    available_steps: frozenset[int] | None = None,
    clean: bool = False,
    packing: Packing = "row-major",
) -> Plan | PathPlan:
    """Plan ``expr`` in one step when its broadcast space is small enough, else pairwise."""
    sub = parse_subscripts(expr, [s.shape for s in specs])
    every = "".join(set("".join(sub.inputs)))
    small = _padded(every, sub.sizes) <= SINGLE_STEP_TILES * slots
    if len(specs) <= 2 or small or not any(s.encrypted for s in specs):
        return build_plan(
            expr,
            specs,
            slots=slots,
            available_steps=available_steps,
            clean=clean,
            packing=packing,
        )
    fresh = [
        OperandSpec(s.shape, s.encrypted, s.layout, _FRESH if s.level is None else s.level, s.clean)
        for s in specs
    ]
    top = max(s.level for s in fresh if s.encrypted and s.level is not None)
    values: list[tuple[str, OperandSpec]] = list(zip(sub.inputs, fresh, strict=True))
    live = list(range(len(values)))
    steps: list[PathStep] = []

    def contract(chosen: list[int], kept: str, last: bool) -> None:
        terms = [values[n][0] for n in chosen]
        step_expr = ",".join(terms) + "->" + kept
        step_specs = [values[n][1] for n in chosen]
        if not any(s.encrypted for s in step_specs):
            steps.append(PathStep(chosen, step_expr, None))
            result = OperandSpec(tuple(sub.sizes[c] for c in kept), False)
        else:
            # only a step over original operands may assume the owner packed them
            originals = all(n < len(specs) for n in chosen)
            plan = build_plan(
                step_expr,
                step_specs,
                slots=slots,
                available_steps=available_steps,
                clean=clean and last,
                packing=packing if originals else "row-major",
            )
            steps.append(PathStep(chosen, step_expr, plan))
            level = max(s.level for s in step_specs if s.encrypted and s.level is not None)
            result = OperandSpec(
                plan.output_shape, True, plan.output_layout, level - plan.depth, plan.clean
            )
        live[:] = [n for n in live if n not in chosen] + [len(values)]
        values.append((kept, result))

    # first, each operand's diagonals and the labels only it has are summed on their own
    for n in list(live):
        labels = values[n][0]
        others = "".join(values[m][0] for m in live if m != n) + sub.output
        kept = "".join(dict.fromkeys(c for c in labels if c in others))
        if len(kept) < len(labels):
            contract([n], kept, last=False)
    chosen: list[int] = []
    kept = ""
    while True:
        remaining = "".join(values[n][0] for n in live)
        last = len(live) <= 2 or _padded(remaining, sub.sizes) <= SINGLE_STEP_TILES * slots
        if last:
            chosen = list(live)
            kept = sub.output
        else:
            best: tuple[int, int, int, int] | None = None
            for a, b in itertools.combinations(live, 2):
                others = "".join(values[n][0] for n in live if n not in (a, b)) + sub.output
                pair = values[a][0] + values[b][0]
                out = "".join(dict.fromkeys(c for c in pair if c in others))
                shared = len(set(values[a][0]) & set(values[b][0]))
                plain = not (values[a][1].encrypted or values[b][1].encrypted)
                shrinks = _padded(out, sub.sizes) <= max(
                    _padded(values[a][0], sub.sizes), _padded(values[b][0], sub.sizes)
                )
                # plaintext pairs that contract come first (numpy, free), then the pair with
                # the smallest broadcast space
                key = (
                    int(not (plain and shrinks)),
                    _padded(pair, sub.sizes),
                    -shared,
                    _padded(out, sub.sizes),
                )
                if best is None or key < best:
                    best, chosen, kept = key, [a, b], out
        contract(chosen, kept, last)
        if last:
            break
    final = values[-1][1]
    depth = top - (final.level if final.level is not None else top)
    return PathPlan(
        expr=sub.text,
        shapes=[tuple(s.shape) for s in specs],
        encrypted=[s.encrypted for s in specs],
        slots=slots,
        steps=steps,
        depth=depth,
    )


def _as_spec(operand: Any, encrypted: bool) -> OperandSpec:
    layout = getattr(operand, "layout", None)
    if isinstance(layout, Layout):
        return OperandSpec(
            tuple(operand.shape), True, layout, None, bool(getattr(operand, "clean", True))
        )
    shape = tuple(int(n) for n in (operand.shape if hasattr(operand, "shape") else operand))
    return OperandSpec(shape, encrypted)


def plan_einsum(
    expr: str,
    *shapes: Any,
    encrypted: Sequence[bool] | bool = True,
    slots: int | None = None,
    galois_steps: Iterable[int] | None = None,
    clean: bool = False,
    packing: Packing = "row-major",
) -> Plan | PathPlan:
    """Plan an einsum without running it.

    Args:
        expr: numpy einsum subscripts (no ``...``; implicit output allowed).
        *shapes: One shape per operand; an array or a :class:`~lakeward.he.CipherTensor`
            may stand for its shape (a ciphertext brings its layout).
        encrypted: Which operands are encrypted (one bool per operand, or one for all).
        slots: Slots per ciphertext. ``None`` picks the smallest ring degree whose
            modulus chain holds the plan's depth (what :func:`keygen` would choose).
        galois_steps: The rotation steps the keys have (``None``: keys made for this plan).
        clean: Mask the result so its free slots hold zeros (one more level if it sums).
        packing: ``"row-major"``: encrypted operands come as :func:`encrypt` packs them by
            default; ``"planned"``: the owner packs each operand in ``plan.input_layouts``
            (no layout change ever).

    Returns:
        The plan: ``rotations``, ``depth``, ``counts``, layouts, ``explain()``; a
        :class:`PathPlan` of pairwise steps when the all-at-once space is too large.
    """
    flags = [encrypted] * len(shapes) if isinstance(encrypted, bool) else list(encrypted)
    if len(flags) != len(shapes):
        raise EinsumSyntaxError(f"encrypted has {len(flags)} flag(s) for {len(shapes)} operand(s)")
    specs = [_as_spec(op, flag) for op, flag in zip(shapes, flags, strict=True)]
    available = None if galois_steps is None else frozenset(int(s) for s in galois_steps)
    if slots is not None:
        return plan_path(
            expr, specs, slots=slots, available_steps=available, clean=clean, packing=packing
        )
    plan: Plan | PathPlan | None = None
    for ring in RING_DEGREES:
        plan = plan_path(
            expr, specs, slots=ring // 2, available_steps=available, clean=clean, packing=packing
        )
        try:
            choose_parameters(plan.depth, ring_degree=ring)
        except HEInputError:  # too deep for this ring degree: try the next one
            continue
        return plan
    assert plan is not None
    return plan
