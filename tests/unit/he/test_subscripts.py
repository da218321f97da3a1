"""Subscript parsing: numpy's grammar without '...', and clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from lakeward.errors import InputError
from lakeward.he import EinsumSyntaxError, ShapeMismatch
from lakeward.he._subscripts import parse_subscripts


@pytest.mark.parametrize(
    ("expr", "shapes"),
    [
        ("ij,jk", [(2, 3), (3, 4)]),
        ("Ba,aB", [(2, 3), (3, 2)]),
        ("bA,c", [(2, 3), (4,)]),
        ("ii", [(3, 3)]),
        ("iBa", [(2, 3, 4)]),
        (",i", [(), (3,)]),
        (" i j , j -> i ", [(2, 3), (3,)]),
    ],
)
def test_output_matches_numpy(expr: str, shapes: list[tuple[int, ...]]) -> None:
    arrays = [np.ones(s) for s in shapes]
    sub = parse_subscripts(expr, shapes)
    assert sub.output_shape == np.einsum(expr, *arrays).shape
    assert np.einsum(sub.text, *arrays).shape == np.einsum(expr, *arrays).shape


@pytest.mark.parametrize(
    ("expr", "shapes", "error", "fragment"),
    [
        ("...ij,jk->ik", [(2, 3), (3, 4)], EinsumSyntaxError, "ellipsis"),
        ("ij,jk->ik->k", [(2, 3), (3, 4)], EinsumSyntaxError, "'->'"),
        ("i1,jk->ik", [(2, 3), (3, 4)], EinsumSyntaxError, "invalid character"),
        ("ij,jk->ik", [(2, 3)], EinsumSyntaxError, "2 operand(s) but 1"),
        ("ij,jk->iq", [(2, 3), (3, 4)], EinsumSyntaxError, "'q'"),
        ("ij,jk->ii", [(2, 3), (3, 4)], EinsumSyntaxError, "more than once"),
        ("ij,jk->ik", [(2, 3), (4, 4)], ShapeMismatch, "label 'j' has size 3"),
        ("ij,ij->ij", [(1, 3), (2, 3)], ShapeMismatch, "broadcast"),
        ("ijk->i", [(2, 3)], ShapeMismatch, "3 axes"),
        ("ij->i", [(0, 3)], ShapeMismatch, "size 0"),
    ],
)
def test_bad_subscripts(
    expr: str, shapes: list[tuple[int, ...]], error: type[Exception], fragment: str
) -> None:
    with pytest.raises(error, match=None) as info:
        parse_subscripts(expr, shapes)
    assert isinstance(info.value, InputError)
    assert fragment in str(info.value)


def test_non_string_subscripts() -> None:
    with pytest.raises(EinsumSyntaxError, match="must be a string"):
        parse_subscripts(42, [(2,)])  # type: ignore[arg-type]
