"""CKKS parameters and rotation keys.

The modulus chain is ``base + [scale_bits] * depth + [60]``: one prime per multiplicative
level, a *base* of ``scale_bits + integer_bits`` bits that holds the result (values up to
about ``2**integer_bits``; split over two primes when it exceeds SEAL's 60-bit prime limit)
and a special prime for key switching. The ring degree is the smallest whose 128-bit
security bound (SEAL's table) covers the chain at a 40-bit scale; the scale is then the
largest (up to 50 bits) that ring still covers, because CKKS error shrinks with the scale
(at depth 3, about 5e-5 at 2^40 and 3e-8 at 2^50 on N(0,1) inputs).

A rotation by ``k`` slots to the *left* (slot ``i`` receives slot ``i + k``, SEAL's sign) is
one key switch when the context has a Galois key for ``k``; without it, the rotation is
composed from the signed powers of two (non-adjacent form) when those keys exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lakeward.he._errors import DepthExceeded, HEInputError, MissingGaloisKeys

__all__ = [
    "DEFAULT_DEPTH",
    "MAX_COEFF_BITS",
    "CkksParameters",
    "choose_parameters",
    "galois_element",
    "power_of_two_steps",
    "rotation_schedule",
]

#: SEAL's 128-bit classical-security bound on the total coefficient-modulus bits.
MAX_COEFF_BITS = {8192: 218, 16384: 438, 32768: 881}
RING_DEGREES = tuple(sorted(MAX_COEFF_BITS))


#: Levels of ``keygen()`` without expressions: a layout change, ⌈log2 4⌉ products and a
#: mask, so any one-step einsum of up to four encrypted operands fits (N=16384).
DEFAULT_DEPTH = 4

BASE_SCALE_BITS = 40  # the scale that decides the ring degree
MAX_SCALE_BITS = 50
SPECIAL_PRIME_BITS = 60


def _chain(depth: int, scale_bits: int, integer_bits: int) -> list[int]:
    base = scale_bits + integer_bits
    parts = -(-base // 60)
    split = [base // parts + (1 if n < base % parts else 0) for n in range(parts)]
    return split + [scale_bits] * depth + [SPECIAL_PRIME_BITS]


@dataclass(frozen=True)
class CkksParameters:
    """A CKKS parameter set.

    Attributes:
        ring_degree: The polynomial ring degree N (slots = N / 2).
        depth: Multiplicative levels (rescale primes) in the chain.
        scale_bits: log2 of the encoding scale, and the bit size of each level's prime.
        integer_bits: Headroom of the base over the scale: results must stay below about
            ``2**integer_bits`` in absolute value.
    """

    ring_degree: int
    depth: int
    scale_bits: int = BASE_SCALE_BITS
    integer_bits: int = 20

    def __post_init__(self) -> None:
        if self.ring_degree not in MAX_COEFF_BITS:
            raise HEInputError(
                f"ring degree {self.ring_degree} is not supported; use one of "
                f"{', '.join(map(str, RING_DEGREES))}"
            )
        if self.depth < 0:
            raise HEInputError(f"depth must be >= 0, got {self.depth}")
        if not 20 <= self.scale_bits <= 59 or not 10 <= self.integer_bits <= 60:
            raise HEInputError(
                f"scale_bits {self.scale_bits} must be in [20, 59] and integer_bits "
                f"{self.integer_bits} in [10, 60]"
            )
        if self.total_bits > MAX_COEFF_BITS[self.ring_degree]:
            raise HEInputError(
                f"depth {self.depth} at scale 2^{self.scale_bits} needs {self.total_bits} "
                f"modulus bits, more than ring degree {self.ring_degree} allows at 128-bit "
                f"security ({MAX_COEFF_BITS[self.ring_degree]}); "
                + _suggest(self.depth, self.integer_bits)
            )

    @property
    def slots(self) -> int:
        """Slots per ciphertext."""
        return self.ring_degree // 2

    @property
    def coeff_bits(self) -> list[int]:
        """Bit sizes of the modulus chain: base prime(s), level primes, special prime."""
        return _chain(self.depth, self.scale_bits, self.integer_bits)

    @property
    def total_bits(self) -> int:
        """Total bits of the coefficient modulus including the special prime."""
        return sum(self.coeff_bits)

    def describe(self) -> str:
        """E.g. ``N=8192 (4096 slots), coeff bits [33, 33, 46, 46, 60], scale 2^46, ...``."""
        return (
            f"N={self.ring_degree} ({self.slots} slots), coeff bits {self.coeff_bits}, "
            f"scale 2^{self.scale_bits}, depth {self.depth}"
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "ring_degree": self.ring_degree,
            "depth": self.depth,
            "scale_bits": self.scale_bits,
            "integer_bits": self.integer_bits,
            "slots": self.slots,
            "coeff_bits": self.coeff_bits,
        }


def _fits(ring: int, depth: int, scale_bits: int, integer_bits: int) -> bool:
    return sum(_chain(depth, scale_bits, integer_bits)) <= MAX_COEFF_BITS[ring]


def _smallest_ring(depth: int, integer_bits: int) -> int | None:
    return next((n for n in RING_DEGREES if _fits(n, depth, BASE_SCALE_BITS, integer_bits)), None)


def _largest_scale(ring: int, depth: int, integer_bits: int) -> int:
    return max(
        s
        for s in range(BASE_SCALE_BITS, MAX_SCALE_BITS + 1)
        if s == BASE_SCALE_BITS or _fits(ring, depth, s, integer_bits)
    )


def _suggest(depth: int, integer_bits: int) -> str:
    ring = _smallest_ring(depth, integer_bits)
    if ring is None:
        return (
            f"no supported ring degree gives {depth} levels at 128-bit security; split the "
            "computation or lower integer_bits"
        )
    scale = _largest_scale(ring, depth, integer_bits)
    return (
        f"keygen(depth={depth}) (or keygen(expressions=[...])) gives ring degree {ring} "
        f"with coeff bits {_chain(depth, scale, integer_bits)}"
    )


def choose_parameters(
    depth: int,
    *,
    scale_bits: int | None = None,
    integer_bits: int = 20,
    ring_degree: int | None = None,
) -> CkksParameters:
    """The smallest ring degree whose chain has ``depth`` levels, and the largest scale in it.

    Args:
        depth: Multiplicative levels needed.
        scale_bits: Force the scale (``None``: the largest, up to 50 bits, that fits).
        integer_bits: Headroom for results up to about ``2**integer_bits``.
        ring_degree: Force N.

    Raises:
        DepthExceeded: no supported ring degree (or not the one asked for) gives that depth.
    """
    if ring_degree is None:
        found = _smallest_ring(depth, integer_bits)
        if found is None:
            raise DepthExceeded(
                f"{depth} levels: " + _suggest(depth, integer_bits), needed=depth, available=0
            )
        ring_degree = found
    if scale_bits is None:
        if ring_degree not in MAX_COEFF_BITS or not _fits(
            ring_degree, depth, BASE_SCALE_BITS, integer_bits
        ):
            return CkksParameters(ring_degree, depth, BASE_SCALE_BITS, integer_bits)  # raises
        scale_bits = _largest_scale(ring_degree, depth, integer_bits)
    return CkksParameters(ring_degree, depth, scale_bits, integer_bits)


def depth_advice(needed: int, params: CkksParameters) -> str:
    """What to do when a plan needs ``needed`` levels that ``params`` lacks."""
    return _suggest(needed, params.integer_bits)


def galois_element(step: int, ring_degree: int) -> int:
    """SEAL's Galois element for a left rotation by ``step`` slots (``3**step mod 2N``)."""
    slots = ring_degree // 2
    return pow(3, step % slots, 2 * ring_degree)


def power_of_two_steps(slots: int) -> frozenset[int]:
    """The default key set: left and right rotations by every power of two."""
    steps = set()
    power = 1
    while power < slots:
        steps.add(power)
        steps.add((slots - power) % slots)
        power *= 2
    steps.discard(0)
    return frozenset(steps)


def _naf(value: int) -> list[int]:
    """Signed powers of two summing to ``value`` (non-adjacent form, fewest terms)."""
    terms = []
    power = 1
    while value:
        if value & 1:
            digit = 2 - (value & 3)  # +1 or -1
            terms.append(digit * power)
            value -= digit
        value >>= 1
        power <<= 1
    return terms


def rotation_schedule(step: int, slots: int, available: frozenset[int] | None) -> tuple[int, ...]:
    """The key switches that rotate left by ``step``: one per element of the result.

    Args:
        step: Left rotation amount (any integer; taken modulo ``slots``).
        slots: Slots per ciphertext.
        available: Steps with a Galois key, or ``None`` when every step will have one.

    Raises:
        MissingGaloisKeys: the rotation can be neither done directly nor composed.
    """
    step %= slots
    if step == 0:
        return ()
    if available is None or step in available:
        return (step,)
    best: list[int] | None = None
    for value in (step, step - slots):
        parts = [p % slots for p in _naf(value)]
        parts = [p for p in parts if p]
        if all(p in available for p in parts) and (best is None or len(parts) < len(best)):
            best = parts
    if best is None:
        raise MissingGaloisKeys(
            f"no Galois key for a rotation by {step} slots, and it cannot be composed from "
            "the context's keys; generate keys for this expression with "
            "lakeward.he.keygen(expressions=[...]) (or `lakeward he keygen --for EXPR=SHAPES`), or "
            "with the default power-of-two keys",
            steps=[step],
        )
    return tuple(best)
