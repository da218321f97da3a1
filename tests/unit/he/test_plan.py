"""The planner: rotations at the rotate-and-sum floor, depth bounds, layout changes without
dense matrices, keys, and the simulated backend running the identical plan."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from lakeward import he
from lakeward.he._params import power_of_two_steps, rotation_schedule

from ._cases import EINHOPS_BENCH


def _sim(slots: int, depth: int = 8) -> he.Keys:
    params = he.CkksParameters(32768, depth)
    ctx = he.PublicContext(
        params, power_of_two_steps(slots), f"sim-{slots}", simulated=True, sim_slots=slots
    )
    return he.Keys(ctx, None)


@pytest.mark.parametrize(("expr", "shapes", "einhops_rotations", "einhops_levels"), EINHOPS_BENCH)
def test_fewer_rotations_and_levels_than_einhops(
    expr: str, shapes: list[tuple[int, ...]], einhops_rotations: int, einhops_levels: int
) -> None:
    for packing in ("row-major", "planned"):
        plan = he.plan_einsum(expr, *shapes, packing=packing)
        assert plan.rotations <= einhops_rotations, (packing, plan.explain())
        assert plan.depth <= einhops_levels
        k = len(shapes)
        bound = math.ceil(math.log2(k)) + (1 if packing == "row-major" else 0)
        assert plan.depth <= bound, plan.explain()


@pytest.mark.parametrize(("expr", "shapes", "_r", "_l"), EINHOPS_BENCH)
def test_planned_packing_in_one_ciphertext_is_at_the_floor(
    expr: str, shapes: list[tuple[int, ...]], _r: int, _l: int
) -> None:
    plan = he.plan_einsum(expr, *shapes, slots=16384, packing="planned")
    assert all(p.change is None for p in plan.operands)
    assert plan.rotations == plan.floor
    assert plan.depth == math.ceil(math.log2(len(shapes)))


@pytest.mark.parametrize(
    ("expr", "shapes", "floor"),
    [
        ("ij->", [(128, 128)], 14),
        ("ij->j", [(128, 128)], 7),
        ("ij->i", [(128, 128)], 7),
        ("ik,k->i", [(128, 128), (128,)], 14),
        ("i,i->", [(16384,), (16384,)], 14),
        ("ij,ij->", [(128, 128), (128, 128)], 14),
        ("ij,ij,ij->ij", [(128, 128)] * 3, 0),
        ("ij->ji", [(128, 128)], 0),
    ],
)
def test_row_major_without_layout_change_is_at_the_floor(
    expr: str, shapes: list[tuple[int, ...]], floor: int
) -> None:
    plan = he.plan_einsum(expr, *shapes, slots=16384)
    assert all(p.change is None for p in plan.operands)
    assert plan.floor == floor
    assert plan.rotations == floor


def test_tiling_beats_the_single_ciphertext_floor() -> None:
    # 16384 elements over 4096-slot ciphertexts: tile axes sum by adding ciphertexts
    plan = he.plan_einsum("i,i->", (16384,), (16384,), slots=4096)
    assert plan.broadcast.n_tiles == 4
    assert plan.rotations == 12 < plan.floor == 14
    assert plan.counts.ct_ct == 4


def test_transpose_moves_nothing() -> None:
    plan = he.plan_einsum("ijk->kji", (3, 5, 7))
    assert plan.counts.to_dict() == he.OpCounts().to_dict()
    assert plan.depth == 0


def test_layout_change_uses_only_needed_diagonals() -> None:
    # B must be transposed against A: 2n-1 diagonals, about 2*sqrt of that in rotations
    n = 64
    plan = he.plan_einsum("ij,ji->ij", (n, n), (n, n), slots=4096)
    changes = [p.change for p in plan.operands if p.change is not None]
    assert len(changes) == 1
    change = changes[0]
    assert change.diagonals == 2 * n - 1
    assert change.counts.ct_pt <= 2 * n - 1
    assert change.counts.rotations <= 3 * math.isqrt(2 * n - 1) + 3
    assert plan.depth == 2


def test_plaintext_folds_into_a_layout_change() -> None:
    # the plaintext weight shares the changed operand's labels: no extra level for it
    plan = he.plan_einsum("ij,ji,ij->ij", (8, 8), (8, 8), (8, 8), encrypted=[True, True, False])
    assert plan.plaintext_fold is not None
    assert plan.depth == 2


def test_clean_adds_a_mask_only_when_summing() -> None:
    summing = he.plan_einsum("ij->i", (5, 7), slots=4096)
    masked = he.plan_einsum("ij->i", (5, 7), slots=4096, clean=True)
    assert not summing.clean and masked.clean
    assert masked.depth == summing.depth + 1
    assert masked.counts.ct_pt == summing.counts.ct_pt + 1
    hadamard = he.plan_einsum("ij,ij->ij", (5, 7), (5, 7), slots=4096, clean=True)
    assert hadamard.clean and hadamard.mask is None


def test_plaintext_operands_are_free_to_broadcast() -> None:
    plan = he.plan_einsum("ik,k->i", (128, 128), (128,), encrypted=[True, False], slots=16384)
    assert plan.rotations == 7  # only the sum over k; the plaintext vector is encoded broadcast
    assert plan.counts.ct_pt == 1 and plan.counts.ct_ct == 0
    assert plan.depth == 1


def test_slots_default_to_the_smallest_ring_that_holds_the_depth() -> None:
    assert he.plan_einsum("ij,jk->ik", (4, 4), (4, 4)).slots == 4096
    deep = he.plan_einsum("ij,jk,kl->il", (16, 8), (8, 8), (8, 16))
    assert deep.depth == 3 and deep.slots == 8192


def test_keys_restrict_the_plan() -> None:
    exact = he.plan_einsum("ij->", (128, 128), slots=16384)
    pow2 = he.plan_einsum("ij->", (128, 128), slots=16384, galois_steps=power_of_two_steps(16384))
    assert pow2.rotations == exact.rotations  # sum steps are powers of two already
    with pytest.raises(he.MissingGaloisKeys) as info:
        he.plan_einsum("ij->", (128, 128), slots=16384, galois_steps=[1])
    assert info.value.steps


@pytest.mark.parametrize("slots", [32, 4096])
def test_rotation_schedule_composes_from_powers_of_two(slots: int) -> None:
    keys = power_of_two_steps(slots)
    for step in range(0, slots, max(1, slots // 512)):
        parts = rotation_schedule(step, slots, keys)
        assert sum(parts) % slots == step % slots
        assert all(p in keys for p in parts)
        assert len(parts) <= bin(step).count("1")


def test_explain_and_json() -> None:
    plan = he.plan_einsum("ik,kj->ij", (16, 32), (32, 32))
    text = str(plan)
    for fragment in ("broadcast layout", "layout", "replicate", "multiply", "sum k", "totals"):
        assert fragment in text
    data = json.loads(json.dumps(plan.to_dict()))
    assert data["rotations"] == plan.rotations and data["depth"] == plan.depth
    assert sum(op["rotations"] for op in data["ops"]) == plan.rotations


def _random_case(
    rng: np.random.Generator,
) -> tuple[str, list[tuple[int, ...]], list[bool]]:
    labels = "abcde"
    sizes = {label: int(rng.choice([1, 2, 3, 5, 7])) for label in labels}
    n_ops = int(rng.integers(1, 4))
    inputs = []
    for _ in range(n_ops):
        ndim = int(rng.integers(0, 4))
        inputs.append("".join(rng.choice(list(labels), size=ndim)))
    present = sorted(set("".join(inputs)))
    output = "".join(rng.permutation([lb for lb in present if rng.random() < 0.5]))
    expr = ",".join(inputs) + "->" + output
    shapes = [tuple(sizes[lb] for lb in term) for term in inputs]
    encrypted = [bool(rng.random() < 0.7) for _ in inputs]
    if not any(encrypted):
        encrypted[0] = True
    return expr, shapes, encrypted


@pytest.mark.parametrize("slots", [8, 32, 4096])
def test_simulation_runs_random_expressions_exactly(slots: int) -> None:
    """Random subscripts (repeats, scalars, sums, tiling at small slot counts) against numpy."""
    rng = np.random.default_rng(slots)
    keys = _sim(slots)
    for _ in range(60):
        expr, shapes, encrypted = _random_case(rng)
        arrays = [rng.standard_normal(s) for s in shapes]
        operands = [he.encrypt(keys, a) if e else a for a, e in zip(arrays, encrypted, strict=True)]
        result = he.einsum(expr, *operands)
        assert isinstance(result, he.CipherTensor)
        np.testing.assert_allclose(
            he.decrypt(keys, result), np.einsum(expr, *arrays), atol=1e-9, err_msg=expr
        )
        assert result.plan is not None and result.counts is not None
        assert result.counts.to_dict() == result.plan.counts.to_dict(), expr
        assert result.depth == result.plan.depth, expr


def test_planned_packing_needs_no_layout_change(sim_keys: he.Keys) -> None:
    rng = np.random.default_rng(3)
    shapes = [(16, 8), (8, 8), (8, 16)]
    plan = he.plan_einsum("ij,jk,kl->il", *shapes, slots=sim_keys.public().slots, packing="planned")
    arrays = [rng.standard_normal(s) for s in shapes]
    cts = [he.encrypt(sim_keys, a, layout=plan.input_layouts[n]) for n, a in enumerate(arrays)]
    result = he.einsum("ij,jk,kl->il", *cts)
    assert result.plan is not None
    assert all(p.change is None for p in result.plan.operands)
    assert result.plan.rotations == plan.rotations
    assert result.plan.depth == 2
    np.testing.assert_allclose(he.decrypt(sim_keys, result), np.einsum("ij,jk,kl->il", *arrays))


def test_results_chain_into_further_einsums(sim_keys: he.Keys) -> None:
    rng = np.random.default_rng(4)
    a, b, c = rng.standard_normal((5, 6)), rng.standard_normal((6, 7)), rng.standard_normal(7)
    ab = he.einsum("ij,jk->ik", he.encrypt(sim_keys, a), he.encrypt(sim_keys, b))
    assert isinstance(ab, he.CipherTensor) and not ab.clean
    abc = he.einsum("ik,k->i", ab, he.encrypt(sim_keys, c))  # dirty input: masked or moved
    assert isinstance(abc, he.CipherTensor)
    np.testing.assert_allclose(he.decrypt(sim_keys, abc), a @ b @ c, atol=1e-9)


@pytest.mark.parametrize(
    ("expr", "shapes", "encrypted"),
    [
        ("ij,jk,kl,lm->im", [(32, 32)] * 4, [True] * 4),
        ("ij,jk,kl,lm->im", [(32, 32)] * 4, [True, False, True, False]),
        ("ab,bc,cd,de,ef->af", [(16, 16)] * 5, [True] * 5),
        ("iij,jk,kl->il", [(16, 16, 64), (64, 64), (64, 16)], [True, True, False]),
    ],
)
def test_large_spaces_contract_pairwise(
    expr: str, shapes: list[tuple[int, ...]], encrypted: list[bool]
) -> None:
    """All at once these would span thousands of ciphertexts; pairwise steps stay small."""
    keys = _sim(4096, depth=12)
    plan = he.plan_einsum(expr, *shapes, encrypted=encrypted, slots=4096)
    assert isinstance(plan, he.PathPlan) and len(plan.steps) >= 2
    assert all(s.plan is None or s.plan.broadcast.n_tiles <= 16 for s in plan.steps)
    assert "contraction steps" in plan.explain() and plan.to_dict()["depth"] == plan.depth
    rng = np.random.default_rng(9)
    arrays = [rng.standard_normal(s) for s in shapes]
    operands = [he.encrypt(keys, a) if e else a for a, e in zip(arrays, encrypted, strict=True)]
    result = he.einsum(expr, *operands)
    assert isinstance(result, he.CipherTensor) and isinstance(result.plan, he.PathPlan)
    np.testing.assert_allclose(he.decrypt(keys, result), np.einsum(expr, *arrays), atol=1e-9)
    assert result.counts is not None
    assert result.counts.to_dict() == result.plan.counts.to_dict()
    assert result.depth == result.plan.depth


def test_chain_of_four_is_a_balanced_path() -> None:
    plan = he.plan_einsum("ij,jk,kl,lm->im", *[(32, 32)] * 4, slots=4096)
    assert isinstance(plan, he.PathPlan)
    assert [s.expr for s in plan.steps] == ["ij,jk->ik", "kl,lm->km", "ik,km->im"]
