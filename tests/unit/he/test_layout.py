"""Layouts: packing is a bijection, tiles spill outer axes, nothing overlaps."""

from __future__ import annotations

import numpy as np
import pytest

from lakeward.errors import LakewardInternalError
from lakeward.he import AxisPlacement, Layout, row_major


@pytest.mark.parametrize(
    ("shape", "slots", "tiles"),
    [
        ((), 16, 1),
        ((5,), 16, 1),
        ((3, 5), 32, 1),
        ((3, 5), 8, 3),
        ((17,), 8, 3),
        ((2, 3, 7), 16, 4),
    ],
)
def test_row_major_pack_unpack(shape: tuple[int, ...], slots: int, tiles: int) -> None:
    rng = np.random.default_rng(1)
    array = rng.standard_normal(shape)
    layout = row_major(shape, slots)
    packed = layout.pack(array)
    assert packed.shape == (tiles, slots)
    assert layout.n_tiles == tiles
    np.testing.assert_array_equal(layout.unpack(packed), array)
    # every element has its own slot and everything else is zero (clean)
    assert np.count_nonzero(packed) == array.size


def test_row_major_places_inner_axes_in_slots() -> None:
    layout = row_major((3, 5), 32)
    assert layout.axes == (AxisPlacement(3, 1, 4, 8), AxisPlacement(5, 1, 8, 1))
    spilled = row_major((17,), 8)
    assert spilled.axes == (AxisPlacement(17, 3, 8, 1),)


def test_round_trip_through_dict() -> None:
    layout = row_major((2, 3, 7), 16)
    assert Layout.from_dict(layout.to_dict()) == layout


@pytest.mark.parametrize(
    "axes",
    [
        (AxisPlacement(4, 1, 4, 1), AxisPlacement(4, 1, 4, 2)),  # digits overlap
        (AxisPlacement(5, 1, 4, 1),),  # does not cover its size
        (AxisPlacement(4, 1, 3, 1),),  # extent not a power of two
        (AxisPlacement(4, 1, 4, 8),),  # spans 32 slots of 16
    ],
)
def test_invalid_layouts_are_bugs(axes: tuple[AxisPlacement, ...]) -> None:
    with pytest.raises(LakewardInternalError):
        Layout(16, axes)
