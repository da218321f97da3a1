"""Bad input to einsum: clear errors that say what is wrong and how to fix it."""

from __future__ import annotations

import numpy as np
import pytest

from lakeward import he
from lakeward.errors import InputError


def test_malformed_subscripts_and_shapes(keys: he.Keys) -> None:
    a = he.encrypt(keys, np.ones((2, 3)))
    with pytest.raises(he.EinsumSyntaxError, match="ellipsis"):
        he.einsum("...j->j", a)
    with pytest.raises(he.EinsumSyntaxError, match="invalid character"):
        he.einsum("i$->i", a)
    with pytest.raises(he.ShapeMismatch, match="label 'j' has size 3"):
        he.einsum("ij,j->i", a, np.ones(4))
    with pytest.raises(he.EinsumSyntaxError, match="2 operand"):
        he.einsum("ij,j->i", a)


def test_missing_galois_steps_say_which() -> None:
    keys = he.keygen([("i,i->", (8,), (8,))])  # keys for steps 1, 2, 4 only
    assert keys.public().galois_steps == {1, 2, 4}
    a, b = he.encrypt(keys, np.ones(8)), he.encrypt(keys, np.ones(8))
    with pytest.raises(he.MissingGaloisKeys, match="keygen") as info:
        he.einsum("i,j->ij", a, b)  # needs right rotations the keys cannot compose
    assert info.value.steps
    assert isinstance(info.value, InputError)


def test_depth_beyond_the_chain_says_what_gives_it(keys: he.Keys) -> None:
    cts = [he.encrypt(keys, np.ones((3, 3))) for _ in range(3)]
    with pytest.raises(he.DepthExceeded) as info:
        he.einsum("ij,jk,kl->il", *cts)
    message = str(info.value)
    assert "needs 3 multiplicative level(s)" in message
    assert "have 2 left" in message
    assert "keygen(depth=3)" in message and "16384" in message
    assert "[35, 35, 50, 50, 50, 60]" in message
    assert info.value.needed == 3 and info.value.available == 2


def test_exhausted_ciphertexts(keys: he.Keys) -> None:
    a = he.encrypt(keys, np.ones(4))
    squared = he.einsum("i,i->i", a, a)
    fourth = he.einsum("i,i->i", squared, squared)
    assert isinstance(fourth, he.CipherTensor) and fourth.level == 0
    with pytest.raises(he.DepthExceeded, match="have 0 left"):
        he.einsum("i,i->i", fourth, fourth)


def test_errors_are_input_errors() -> None:
    for cls in (
        he.EinsumSyntaxError,
        he.ShapeMismatch,
        he.MissingGaloisKeys,
        he.ContextMismatch,
        he.DepthExceeded,
        he.SecretKeyRequired,
        he.KeyFileError,
    ):
        assert issubclass(cls, InputError) and issubclass(cls, ValueError)
        assert cls.exit_code == 2
