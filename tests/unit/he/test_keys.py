"""Keys and files: parameter choice, Galois keys per plan, public context without the secret
key, round trips through files, and ciphertexts bound to their key set."""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

import numpy as np
import pytest

from lakeward import he


@pytest.mark.parametrize(
    ("depth", "ring", "bits"),
    [
        (0, 8192, [35, 35, 60]),
        (2, 8192, [33, 33, 46, 46, 60]),
        (3, 16384, [35, 35, 50, 50, 50, 60]),
        (7, 16384, [32, 32] + [44] * 7 + [60]),
        (8, 32768, [35, 35] + [50] * 8 + [60]),
        (19, 32768, [60] + [40] * 19 + [60]),
    ],
)
def test_smallest_ring_degree_then_largest_scale(depth: int, ring: int, bits: list[int]) -> None:
    """The ring is the smallest that holds the depth at a 2^40 scale; the scale then grows
    (up to 2^50) while that ring's security bound allows; the base keeps 20 integer bits."""
    params = he.choose_parameters(depth)
    assert params.ring_degree == ring
    assert params.coeff_bits == bits
    assert params.slots == ring // 2
    assert sum(bits[: len(bits) - depth - 1]) - params.scale_bits == 20


def test_explicit_scale_and_limits() -> None:
    assert he.choose_parameters(2, scale_bits=40).coeff_bits == [60, 40, 40, 60]
    with pytest.raises(he.DepthExceeded, match="no supported ring degree"):
        he.choose_parameters(40)
    with pytest.raises(he.HEInputError, match="ring degree 8192"):
        he.CkksParameters(8192, 3)


def test_keygen_makes_only_the_steps_the_plans_use() -> None:
    exprs = [("ij->i", (8, 16)), ("i,i->", (16,), (16,))]
    keys = he.keygen(exprs, simulated=True)
    steps = set()
    for expr, *shapes in exprs:
        steps |= he.plan_einsum(expr, *shapes, slots=keys.public().slots).galois_steps
    assert keys.public().galois_steps == frozenset(steps) == {1, 2, 4, 8}
    chain = [("ij,jk,kl->il", (2, 2), (2, 2), (2, 2))]
    deep = he.keygen(chain, simulated=True)  # row-major operands need layout changes
    assert (deep.public().params.depth, deep.public().params.ring_degree) == (3, 16384)
    packed = he.keygen(chain, packing="planned", simulated=True)  # ⌈log2 3⌉ levels
    assert (packed.public().params.depth, packed.public().params.ring_degree) == (2, 8192)
    default = he.keygen(simulated=True).public().params  # four encrypted operands fit
    assert (default.depth, default.ring_degree) == (he.DEFAULT_DEPTH, 16384) == (4, 16384)


def test_files_round_trip(tmp_path: Path, rng: np.random.Generator) -> None:
    keys = he.keygen([("ik,k->i", (6, 10), (10,))])
    keys_file = keys.save(tmp_path / "owner.keys")
    context_file = keys.public().save(tmp_path / "compute.ctx")
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
    with zipfile.ZipFile(context_file) as archive:
        assert "secret_key" not in archive.namelist()

    context = he.load_context(context_file)  # compute side: no secret key
    assert context.context_id == keys.context_id
    assert context.galois_steps == keys.public().galois_steps
    a, v = rng.standard_normal((6, 10)), rng.standard_normal(10)
    for name, value in (("a.ct", a), ("v.ct", v)):
        he.encrypt(context, value).save(tmp_path / name)
    result = he.einsum(
        "ik,k->i",
        he.CipherTensor.load(tmp_path / "a.ct", context),
        he.CipherTensor.load(tmp_path / "v.ct", context),
    )
    assert isinstance(result, he.CipherTensor)
    result.save(tmp_path / "r.ct")

    owner = he.load_keys(keys_file)
    decrypted = he.decrypt(owner, he.CipherTensor.load(tmp_path / "r.ct", owner))
    np.testing.assert_allclose(decrypted, a @ v, atol=1e-4)


def test_public_context_cannot_decrypt(tmp_path: Path, keys: he.Keys) -> None:
    ct = he.encrypt(keys, np.ones(3))
    with pytest.raises(he.SecretKeyRequired, match="secret key"):
        he.decrypt(keys.public(), ct)  # type: ignore[arg-type]
    keys.public().save(tmp_path / "c.ctx")
    with pytest.raises(he.SecretKeyRequired, match="public context"):
        he.load_keys(tmp_path / "c.ctx")


def test_ciphertexts_are_bound_to_their_key_set(
    tmp_path: Path, keys: he.Keys, sim_keys: he.Keys
) -> None:
    other = he.keygen(depth=0)
    mine, theirs = he.encrypt(keys, np.ones(4)), he.encrypt(other, np.ones(4))
    with pytest.raises(he.ContextMismatch, match="different key sets"):
        he.einsum("i,i->", mine, theirs)
    with pytest.raises(he.ContextMismatch, match="decrypt with the keys"):
        he.decrypt(other, mine)
    mine.save(tmp_path / "mine.ct")
    with pytest.raises(he.ContextMismatch, match="encrypted under context"):
        he.CipherTensor.load(tmp_path / "mine.ct", other.public())
    with pytest.raises(he.ContextMismatch):
        he.einsum("i,i->", mine, he.encrypt(sim_keys, np.ones(4)))


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(he.KeyFileError, match="no such file"):
        he.load_context(tmp_path / "missing.ctx")
    junk = tmp_path / "junk.ctx"
    junk.write_bytes(b"not a zip")
    with pytest.raises(he.KeyFileError, match="not a lakeward he file"):
        he.load_context(junk)


def test_encrypt_rejects_values_it_cannot_carry(keys: he.Keys) -> None:
    with pytest.raises(he.HEInputError, match="NaN"):
        he.encrypt(keys, np.array([1.0, np.nan]))
    with pytest.raises(he.HEInputError, match="complex"):
        he.encrypt(keys, np.array([1j]))
    with pytest.raises(he.HEInputError, match="exceed"):
        he.encrypt(keys, np.array([1e9]))
    with pytest.raises(he.ShapeMismatch, match="layout"):
        he.encrypt(keys, np.ones((2, 3)), layout=he.row_major((3, 2), keys.public().slots))
