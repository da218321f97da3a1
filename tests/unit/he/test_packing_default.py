"""Keys made with ``packing="planned"`` make ``encrypt`` pack each operand as the plan wants."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lakeward import he

EXPR, SHAPES = "ik,kj->ij", [(4, 6), (6, 3)]


def test_encrypt_packs_for_the_planned_expression(tmp_path: Path, rng: np.random.Generator) -> None:
    keys = he.keygen([(EXPR, *SHAPES)], packing="planned")
    plan = he.plan_einsum(EXPR, *SHAPES, slots=keys.public().slots, packing="planned")
    a, b = rng.standard_normal(SHAPES[0]), rng.standard_normal(SHAPES[1])
    cts = [he.encrypt(keys, a), he.encrypt(keys, b)]  # no layout given
    assert [ct.layout for ct in cts] == plan.input_layouts
    result = he.einsum(EXPR, *cts)
    assert isinstance(result, he.CipherTensor) and result.counts is not None
    assert result.counts.rotations == plan.rotations and result.counts.ct_pt == 0
    np.testing.assert_allclose(he.decrypt(keys, result), a @ b, atol=1e-6)

    context = he.load_context(keys.public().save(tmp_path / "compute.ctx"))
    assert context.packed_for == ((EXPR, tuple(SHAPES)),)
    assert he.encrypt(context, b).layout == plan.input_layouts[1]  # the compute side too
    other = rng.standard_normal((5, 5))  # no planned operand has this shape: row-major
    assert he.encrypt(keys, other).layout == he.row_major((5, 5), keys.public().slots)


def test_row_major_keys_keep_row_major() -> None:
    keys = he.keygen([(EXPR, *SHAPES)], simulated=True)
    assert keys.public().packed_for == ()
    ct = he.encrypt(keys, np.ones(SHAPES[0]))
    assert ct.layout == he.row_major(SHAPES[0], keys.public().slots)


def test_ambiguous_shape_asks_for_the_operand() -> None:
    keys = he.keygen([("i,j->ij", (8,), (8,))], packing="planned", simulated=True)
    plan = he.plan_einsum("i,j->ij", (8,), (8,), slots=keys.public().slots, packing="planned")
    assert plan.input_layouts[0] != plan.input_layouts[1]
    with pytest.raises(he.HEInputError, match="operand 0 of 'i,j->ij' or operand 1"):
        he.encrypt(keys, np.ones(8))
    ct = he.encrypt(keys, np.ones(8), layout=plan.input_layouts[1])
    assert ct.layout == plan.input_layouts[1]
