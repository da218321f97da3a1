"""``keygen()`` without arguments makes keys that run einsums of up to four encrypted operands.

The planner's one-step plan for k encrypted operands takes at most one level for a layout
change, ⌈log2 k⌉ for the products and one for the ``clean=True`` mask: 4 for k = 4, which
the default chain (:data:`lakeward.he.DEFAULT_DEPTH`) holds. Real ciphertexts are checked
against numpy with ``ATOL`` on N(0, 1) inputs (the research target is 1e-4; the default
scale, 2^50, gives about 1e-8).
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from lakeward import he

ATOL = 1e-5


@pytest.fixture(scope="module")
def default_keys() -> he.Keys:
    return he.keygen()


def _run(keys: he.Keys, expr: str, arrays: list[np.ndarray], *, clean: bool = False) -> None:
    cts = [he.encrypt(keys, a) for a in arrays]
    result = he.einsum(expr, *cts, clean=clean)
    assert isinstance(result, he.CipherTensor) and result.plan is not None
    assert result.plan.depth <= he.DEFAULT_DEPTH
    np.testing.assert_allclose(he.decrypt(keys, result), np.einsum(expr, *arrays), atol=ATOL)


def test_three_encrypted_operands(default_keys: he.Keys, rng: np.random.Generator) -> None:
    arrays = [rng.standard_normal(s) for s in ((3,), (4,), (3, 4, 5))]
    _run(default_keys, "b,a,baf->af", arrays)


def test_four_encrypted_operands_with_a_clean_result(
    default_keys: he.Keys, rng: np.random.Generator
) -> None:
    """A chain of four matrices with the mask: the full four levels."""
    arrays = [rng.standard_normal(s) for s in ((2, 3), (3, 4), (4, 3), (3, 2))]
    _run(default_keys, "ij,jk,kl,lm->im", arrays, clean=True)


def test_four_encrypted_operands_sharing_labels(
    default_keys: he.Keys, rng: np.random.Generator
) -> None:
    arrays = [rng.standard_normal(s) for s in ((3,), (4,), (3, 4, 5), (5, 4))]
    _run(default_keys, "b,a,baf,fa->a", arrays)


def _random_einsum(gen: random.Random, operands: int) -> tuple[str, list[tuple[int, ...]]]:
    labels = "abcde"[: gen.randint(1, 5)]
    sizes = {label: gen.choice([1, 2, 3, 5, 8, 16]) for label in labels}
    inputs = ["".join(gen.sample(labels, gen.randint(1, min(3, len(labels))))) for _ in range(4)]
    inputs = inputs[:operands]
    used = sorted(set("".join(inputs)))
    output = "".join(gen.sample(used, gen.randint(0, len(used))))
    return ",".join(inputs) + "->" + output, [tuple(sizes[c] for c in s) for s in inputs]


@pytest.mark.parametrize("operands", [1, 2, 3, 4])
def test_every_one_step_plan_fits_the_default_chain(operands: int) -> None:
    """Planned (not run) over random einsums: every one-step plan, clean or not, fits."""
    slots = he.keygen(simulated=True).public().slots
    gen = random.Random(operands)
    one_step = 0
    for _ in range(150):
        expr, shapes = _random_einsum(gen, operands)
        for clean in (False, True):
            plan = he.plan_einsum(expr, *shapes, slots=slots, clean=clean)
            if isinstance(plan, he.Plan):
                one_step += 1
                assert plan.depth <= he.DEFAULT_DEPTH, (expr, shapes, clean)
    assert one_step > 200
