"""Backends: the primitive operations a plan runs on, each counted as it runs.

:class:`SealBackend` runs on SEAL ciphertexts through ``tenseal.sealapi`` (TenSEAL's
``CKKSVector`` has no rotation and replicates short vectors over all slots, so it is not
used); every vector is encoded over all slots, zero-padded. :class:`SimBackend` runs the
identical calls on cleartext numpy vectors (``numpy.roll`` for rotations) and tracks levels,
so a plan's operation counts and depth can be checked without encryption.

Rotations are one key switch each: the executor composes steps without a key itself, so
SEAL never composes silently. Plaintexts are encoded at the scale of the prime the next
rescale drops, so ct×pt products keep their scale exactly. Encoding a plaintext (an inverse
FFT and an NTT per prime) costs about as much as the product itself; the constants a plan
multiplies by (layout-change diagonals, masks, plaintext operands) repeat from call to call
and block to block, so :class:`PlaintextCache` keeps their encodings per context.
"""

from __future__ import annotations

import abc
import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from lakeward.errors import LakewardInternalError
from lakeward.he._errors import MissingGaloisKeys
from lakeward.he._params import galois_element
from lakeward.he._plan import OpCounts

__all__ = ["Backend", "PlaintextCache", "SealBackend", "SimBackend", "SimCiphertext"]


class PlaintextCache:
    """Encoded plaintexts by (level, content), least recently used dropped past a byte budget.

    The key is the exact content (a hash of the float64 bytes) and the parameters id (which
    fixes the level and hence the encoding scale), so a hit is the very plaintext a fresh
    encode would give. Counts are unaffected: a cached product is still one ct×pt.
    """

    def __init__(self, max_bytes: int = 256 * 2**20) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[tuple[Any, ...], tuple[Any, int]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(parms_id: Any, values: NDArray[np.float64]) -> tuple[Any, ...]:
        """The cache key of ``values`` encoded at the level of ``parms_id``."""
        digest = hashlib.blake2b(np.ascontiguousarray(values).tobytes(), digest_size=16)
        return (tuple(parms_id), values.shape, digest.digest())

    def get(self, key: tuple[Any, ...]) -> Any:
        """The cached plaintext, or ``None``."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry[0]

    def put(self, key: tuple[Any, ...], plain: Any, size: int) -> None:
        """Keep ``plain`` (``size`` bytes), dropping the least recently used over budget."""
        if size > self.max_bytes:
            return
        with self._lock:
            if key in self._entries:
                return
            self._entries[key] = (plain, size)
            self.bytes += size
            while self.bytes > self.max_bytes:
                _, (_, dropped) = self._entries.popitem(last=False)
                self.bytes -= dropped


class Backend(abc.ABC):
    """Primitive homomorphic operations over ``slots``-slot vectors, counted in ``counts``."""

    slots: int
    available_steps: frozenset[int]

    def __init__(self) -> None:
        self.counts = OpCounts()

    @abc.abstractmethod
    def encrypt(self, values: NDArray[np.float64]) -> Any:
        """Encrypt one full slot vector at the top of the chain."""

    @abc.abstractmethod
    def decrypt(self, ct: Any) -> NDArray[np.float64]:
        """Decrypt one ciphertext to its slot vector (needs the secret key)."""

    @abc.abstractmethod
    def level(self, ct: Any) -> int:
        """Multiplicative levels ``ct`` has left."""

    @abc.abstractmethod
    def _rotate(self, ct: Any, step: int) -> Any: ...

    @abc.abstractmethod
    def _add(self, a: Any, b: Any) -> Any: ...

    @abc.abstractmethod
    def _multiply(self, a: Any, b: Any) -> Any: ...

    @abc.abstractmethod
    def _multiply_plain(self, ct: Any, values: NDArray[np.float64]) -> Any: ...

    @abc.abstractmethod
    def _rescale(self, ct: Any) -> Any: ...

    @abc.abstractmethod
    def _mod_switch(self, ct: Any, level: int) -> Any: ...

    def rotate(self, ct: Any, step: int) -> Any:
        """Rotate left by ``step`` with one key switch (a key for ``step`` must exist)."""
        step %= self.slots
        if step not in self.available_steps:
            raise MissingGaloisKeys(
                f"the context has no Galois key for a rotation by {step} slots; generate "
                "keys for this expression: lakeward.he.keygen(expressions=[...])",
                steps=[step],
            )
        self.counts.rotations += 1
        return self._rotate(ct, step)

    def add(self, a: Any, b: Any) -> Any:
        """``a + b`` (same level and scale)."""
        self.counts.adds += 1
        return self._add(a, b)

    def multiply(self, a: Any, b: Any) -> Any:
        """``a * b`` slot-wise: multiply, relinearise, rescale (aligning levels first)."""
        la, lb = self.level(a), self.level(b)
        if la != lb:
            self.counts.mod_switches += 1
            if la > lb:
                a = self._mod_switch(a, lb)
            else:
                b = self._mod_switch(b, la)
        if min(la, lb) < 1:
            raise LakewardInternalError("multiplication at level 0: the plan's depth is wrong")
        self.counts.ct_ct += 1
        self.counts.rescales += 1
        return self._multiply(a, b)

    def multiply_plain(self, ct: Any, values: NDArray[np.float64]) -> Any:
        """``ct * values`` slot-wise, not rescaled (call :meth:`rescale` after summing)."""
        if self.level(ct) < 1:
            raise LakewardInternalError("plaintext product at level 0: the plan's depth is wrong")
        self.counts.ct_pt += 1
        return self._multiply_plain(ct, np.asarray(values, dtype=np.float64))

    def rescale(self, ct: Any) -> Any:
        """Drop one prime after a product (one level)."""
        self.counts.rescales += 1
        return self._rescale(ct)


@dataclass
class SimCiphertext:
    """A simulated ciphertext: the cleartext slot vector, its level, a pending rescale."""

    values: NDArray[np.float64]
    level: int
    pending: bool = False


class SimBackend(Backend):
    """Cleartext simulation with the same operations, counts, keys and levels."""

    def __init__(self, slots: int, depth: int, available_steps: frozenset[int]) -> None:
        super().__init__()
        self.slots = slots
        self.depth = depth
        self.available_steps = available_steps

    def encrypt(self, values: NDArray[np.float64]) -> SimCiphertext:  # noqa: D102
        return SimCiphertext(np.array(values, dtype=np.float64), self.depth)

    def decrypt(self, ct: Any) -> NDArray[np.float64]:  # noqa: D102
        return np.array(ct.values)

    def level(self, ct: Any) -> int:  # noqa: D102
        return int(ct.level)

    def _rotate(self, ct: Any, step: int) -> SimCiphertext:
        return SimCiphertext(np.roll(ct.values, -step), ct.level, ct.pending)

    def _add(self, a: Any, b: Any) -> SimCiphertext:
        if a.level != b.level or a.pending != b.pending:
            raise LakewardInternalError("adding ciphertexts at different levels or scales")
        return SimCiphertext(a.values + b.values, a.level, a.pending)

    def _multiply(self, a: Any, b: Any) -> SimCiphertext:
        return SimCiphertext(a.values * b.values, a.level - 1)

    def _multiply_plain(self, ct: Any, values: NDArray[np.float64]) -> SimCiphertext:
        return SimCiphertext(ct.values * values, ct.level, True)

    def _rescale(self, ct: Any) -> SimCiphertext:
        if not ct.pending:
            raise LakewardInternalError("rescale without a pending product")
        return SimCiphertext(ct.values, ct.level - 1)

    def _mod_switch(self, ct: Any, level: int) -> SimCiphertext:
        return SimCiphertext(ct.values, level, ct.pending)


class SealBackend(Backend):
    """SEAL CKKS through ``tenseal.sealapi``."""

    def __init__(
        self,
        seal_context: Any,
        *,
        public_key: Any,
        relin_keys: Any,
        galois_keys: Any,
        available_steps: frozenset[int],
        scale: float,
        base_primes: int = 1,
        secret_key: Any = None,
        plaintexts: PlaintextCache | None = None,
    ) -> None:
        import tenseal.sealapi as seal

        super().__init__()
        self._seal = seal
        self.context = seal_context
        self.encoder = seal.CKKSEncoder(seal_context)
        self.evaluator = seal.Evaluator(seal_context)
        self.encryptor = seal.Encryptor(seal_context, public_key)
        self.decryptor = None if secret_key is None else seal.Decryptor(seal_context, secret_key)
        self.relin_keys = relin_keys
        self.galois_keys = galois_keys
        self.available_steps = available_steps
        self.scale = scale
        self.base_primes = base_primes  # primes left when no level is: the chain's bottom
        self.slots = int(self.encoder.slot_count())
        self.ring_degree = 2 * self.slots
        self.plaintexts = plaintexts if plaintexts is not None else PlaintextCache()

    def _new(self) -> Any:
        return self._seal.Ciphertext()

    def encrypt(self, values: NDArray[np.float64]) -> Any:  # noqa: D102
        plain = self._seal.Plaintext()
        self.encoder.encode(np.asarray(values, dtype=np.float64).tolist(), self.scale, plain)
        out = self._new()
        self.encryptor.encrypt(plain, out)
        return out

    def decrypt(self, ct: Any) -> NDArray[np.float64]:  # noqa: D102
        if self.decryptor is None:
            raise LakewardInternalError("decrypt on a backend without the secret key")
        plain = self._seal.Plaintext()
        self.decryptor.decrypt(ct, plain)
        return np.asarray(self.encoder.decode_double(plain), dtype=np.float64)

    def level(self, ct: Any) -> int:  # noqa: D102
        chain_index = int(self.context.get_context_data(ct.parms_id()).chain_index())
        return chain_index - (self.base_primes - 1)

    def _rotate(self, ct: Any, step: int) -> Any:
        if not self.galois_keys.has_key(galois_element(step, self.ring_degree)):
            raise MissingGaloisKeys(
                f"the Galois keys lack step {step}; regenerate keys for this expression",
                steps=[step],
            )
        out = self._new()
        self.evaluator.rotate_vector(ct, step, self.galois_keys, out)
        return out

    def _add(self, a: Any, b: Any) -> Any:
        out = self._new()
        self.evaluator.add(a, b, out)
        return out

    def _multiply(self, a: Any, b: Any) -> Any:
        out = self._new()
        self.evaluator.multiply(a, b, out)
        self.evaluator.relinearize_inplace(out, self.relin_keys)
        self.evaluator.rescale_to_next_inplace(out)
        return out

    def _multiply_plain(self, ct: Any, values: NDArray[np.float64]) -> Any:
        data = self.context.get_context_data(ct.parms_id())
        prime = float(data.parms().coeff_modulus()[-1].value())
        out = self._new()
        if not np.any(values):
            # SEAL refuses a transparent (all-zero) product: encrypt a zero at that level.
            self.encryptor.encrypt_zero(ct.parms_id(), out)
            out.scale = ct.scale * prime
            return out
        key = self.plaintexts.key(ct.parms_id(), values)
        plain = self.plaintexts.get(key)
        if plain is None:
            plain = self._seal.Plaintext()
            self.encoder.encode(values.tolist(), ct.parms_id(), prime, plain)
            primes = len(data.parms().coeff_modulus())
            self.plaintexts.put(key, plain, self.ring_degree * primes * 8)
        self.evaluator.multiply_plain(ct, plain, out)
        return out

    def _rescale(self, ct: Any) -> Any:
        out = self._new()
        self.evaluator.rescale_to_next(ct, out)
        return out

    def _mod_switch(self, ct: Any, level: int) -> Any:
        out = self._new()
        target = self.context.first_context_data()
        while target.chain_index() > level + self.base_primes - 1:
            target = target.next_context_data()
        self.evaluator.mod_switch_to(ct, target.parms_id(), out)
        return out
