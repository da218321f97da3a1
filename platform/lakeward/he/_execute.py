"""The executor: :func:`einsum` runs a :class:`~lakeward.he.Plan` on a backend.

It does exactly what the plan lists, in that order, so the backend's counts equal the
plan's prediction (the tests assert it on real ciphertexts and on the simulation).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from lakeward.errors import LakewardInternalError
from lakeward.he._backend import Backend
from lakeward.he._errors import ContextMismatch, DepthExceeded
from lakeward.he._params import depth_advice
from lakeward.he._path import PathPlan, plan_path
from lakeward.he._plan import LayoutChange, OperandSpec, Plan, plaintext_side
from lakeward.he._subscripts import parse_subscripts
from lakeward.he._tensor import CipherTensor, as_plain_array

__all__ = ["einsum", "run_plan"]


def _rotate(backend: Backend, plan: Plan, ct: Any, amount: int) -> Any:
    for part in plan.schedule(amount):
        ct = backend.rotate(ct, part)
    return ct


def _rotate_and_add(backend: Backend, plan: Plan, ct: Any, steps: list[int]) -> Any:
    for step in steps:
        ct = backend.add(ct, _rotate(backend, plan, ct, step))
    return ct


def _apply_change(
    backend: Backend,
    plan: Plan,
    change: LayoutChange,
    tiles: list[Any],
    values: NDArray[np.float64] | None,
) -> list[Any]:
    baby = {(ts, step): _rotate(backend, plan, tiles[ts], step) for ts, step in change.babies}
    out: list[Any] = [None] * change.dst.n_tiles
    for group in change.giants:
        acc = None
        for (ts, step, _), mask in zip(group.terms, change.masks(group, values), strict=True):
            term = backend.multiply_plain(baby[(ts, step)], mask)
            acc = term if acc is None else backend.add(acc, term)
        acc = _rotate(backend, plan, backend.rescale(acc), group.step)
        out[group.dst_tile] = (
            acc if out[group.dst_tile] is None else backend.add(out[group.dst_tile], acc)
        )
    if any(t is None for t in out):
        raise LakewardInternalError("a layout change left a ciphertext empty")
    return out


def _broadcast_plaintext(plan: Plan, pt: NDArray[np.float64]) -> NDArray[np.float64]:
    labels = plan.plaintext_labels or ()
    order = sorted(range(len(labels)), key=lambda n: plan.labels.index(labels[n]))
    shape = [plan.sizes[label] if label in labels else 1 for label in plan.labels]
    expanded = np.transpose(pt, order).reshape(shape)
    return np.broadcast_to(expanded, plan.broadcast.shape)


def run_plan(
    plan: Plan, operands: list[CipherTensor | NDArray[np.float64]], backend: Backend
) -> list[Any]:
    """Run ``plan`` over ``operands`` on ``backend``; returns the result's ciphertexts."""
    arrays = [None if isinstance(op, CipherTensor) else op for op in operands]
    pt = plaintext_side(plan, arrays)
    prepared: list[list[Any]] = []
    for prep in plan.operands:
        operand = operands[prep.position]
        assert isinstance(operand, CipherTensor)
        tiles = list(operand.tiles)
        if prep.change is not None:
            values = None
            if prep.fold_plaintext and pt is not None:
                idx = prep.change.elements
                labels = plan.plaintext_labels or ()
                values = np.asarray(
                    pt[tuple(idx[prep.labels.index(label)] for label in labels)]
                    if labels
                    else np.full(idx.shape[1], float(pt)),
                    dtype=np.float64,
                )
            tiles = _apply_change(backend, plan, prep.change, tiles, values)
        for _, steps in prep.replicate:
            tiles = [_rotate_and_add(backend, plan, t, steps) for t in tiles]
        prepared.append(tiles)
    packed_pt = None
    if pt is not None and plan.plaintext_fold is None:
        packed_pt = plan.broadcast.pack(np.array(_broadcast_plaintext(plan, pt)))
    k = len(plan.operands)
    broadcast = plan.broadcast
    position = {label: n for n, label in enumerate(plan.labels)}
    out: dict[int, Any] = {}
    for flat in range(broadcast.n_tiles):
        coords = np.unravel_index(flat, broadcast.tile_shape) if broadcast.axes else ()
        nodes: list[Any] = []
        for prep, tiles in zip(plan.operands, prepared, strict=True):
            own = [int(coords[position[label]]) for label in prep.labels]
            index = int(np.ravel_multi_index(own, prep.target.tile_shape)) if own else 0
            nodes.append(tiles[index])
        if packed_pt is not None:
            nodes.append(None)  # the plaintext leaf (id k), encoded when it is multiplied
        for a, b in plan.merges:
            if packed_pt is not None and k in (a, b):
                ct = nodes[b if a == k else a]
                nodes.append(backend.rescale(backend.multiply_plain(ct, packed_pt[flat])))
            else:
                nodes.append(backend.multiply(nodes[a], nodes[b]))
        product = nodes[-1] if plan.merges else nodes[0]
        own = [int(coords[position[label]]) for label in plan.output_labels]
        target = int(np.ravel_multi_index(own, plan.output_layout.tile_shape)) if own else 0
        out[target] = product if target not in out else backend.add(out[target], product)
    result = [out[n] for n in range(plan.output_layout.n_tiles)]
    for _, steps in plan.reduce_slots:
        result = [_rotate_and_add(backend, plan, t, steps) for t in result]
    if plan.mask is not None:
        result = _apply_change(backend, plan, plan.mask, result, None)
    return result


def einsum(
    expr: str, *operands: CipherTensor | ArrayLike, clean: bool = False
) -> CipherTensor | NDArray[np.float64]:
    """Evaluate numpy einsum subscripts over encrypted and plaintext operands.

    Args:
        expr: Subscripts as numpy takes them, without ``...``.
        *operands: :class:`CipherTensor` or array-like (plaintext) operands.
        clean: Mask the result so the slots outside it hold zeros. Without it, those slots
            keep partial sums of the same contraction (decryption never reads them); set it
            when the key holder must not see partial sums of your plaintext operands, or
            costs one level when the einsum sums over slots.

    Returns:
        A :class:`CipherTensor` (with ``.plan`` and the counted ``.counts``) when any operand
        is encrypted, else the numpy result.

    Raises:
        EinsumSyntaxError, ShapeMismatch: bad subscripts or shapes.
        ContextMismatch: ciphertexts from different key sets.
        MissingGaloisKeys: the context lacks rotation keys the plan needs.
        DepthExceeded: the ciphertexts have fewer levels left than the plan needs.
    """
    cts = [op for op in operands if isinstance(op, CipherTensor)]
    values: list[CipherTensor | NDArray[np.float64]] = [
        op if isinstance(op, CipherTensor) else as_plain_array(op, f"operand {n}")
        for n, op in enumerate(operands)
    ]
    if not cts:
        plain = [np.asarray(v, dtype=np.float64) for v in values]
        sub = parse_subscripts(expr, [p.shape for p in plain])
        return np.asarray(np.einsum(sub.text, *plain), dtype=np.float64)
    context = cts[0].context
    for ct in cts[1:]:
        if ct.context_id != context.context_id:
            raise ContextMismatch(
                f"operands come from different key sets ({context.context_id} and "
                f"{ct.context_id}); encrypt all of them under one context"
            )
    backend = context.backend()
    levels = {id(ct): min(backend.level(t) for t in ct.tiles) for ct in cts}
    specs = [
        OperandSpec(v.shape, True, v.layout, levels[id(v)], v.clean)
        if isinstance(v, CipherTensor)
        else OperandSpec(tuple(np.shape(v)), False)
        for v in values
    ]
    plan = plan_path(
        expr,
        specs,
        slots=context.slots,
        available_steps=context.galois_steps,
        clean=clean,
    )
    available = max(levels.values())  # the plan already charges older operands their age
    if plan.depth > available:
        chain = context.params.depth - available + plan.depth
        raise DepthExceeded(
            f"einsum {plan.expr!r} needs {plan.depth} multiplicative level(s) but the "
            f"ciphertexts have {available} left ({context.params.describe()}); "
            + depth_advice(chain, context.params),
            needed=plan.depth,
            available=available,
        )
    if isinstance(plan, Plan):
        tiles = run_plan(plan, values, backend)
    else:
        tiles = _run_path(plan, values, backend)
    return CipherTensor(
        context, plan.output_layout, tiles, clean=plan.clean, plan=plan, counts=backend.counts
    )


def _run_path(
    path: PathPlan, operands: list[CipherTensor | NDArray[np.float64]], backend: Backend
) -> list[Any]:
    """Run the steps of ``path``; each step's result is an operand of later steps."""
    context = next(op for op in operands if isinstance(op, CipherTensor)).context
    values = list(operands)
    tiles: list[Any] = []
    for step in path.steps:
        inputs = [values[n] for n in step.inputs]
        if step.plan is None:
            plain = [np.asarray(v, dtype=np.float64) for v in inputs]
            values.append(np.asarray(np.einsum(step.expr, *plain), dtype=np.float64))
            continue
        tiles = run_plan(step.plan, inputs, backend)
        values.append(CipherTensor(context, step.plan.output_layout, tiles, clean=step.plan.clean))
    return tiles
