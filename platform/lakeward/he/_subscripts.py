"""Parse and check numpy einsum subscripts against operand shapes.

Everything numpy accepts is accepted except ``...``: implicit output (labels seen exactly
once, in ASCII order, as numpy does), repeated labels inside one operand (diagonals and
traces), scalars (empty subscripts), any number of operands. Sizes must agree exactly: numpy
broadcasts a size-1 axis against a longer one, ciphertexts cannot, so that is an error here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from lakeward.he._errors import EinsumSyntaxError, ShapeMismatch

__all__ = ["Subscripts", "parse_subscripts"]

_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


@dataclass(frozen=True)
class Subscripts:
    """A checked einsum expression.

    Attributes:
        inputs: The labels of each operand, one character per axis (repeats allowed).
        output: The output labels (explicit, or numpy's implicit order).
        sizes: The size of every label.
    """

    inputs: tuple[str, ...]
    output: str
    sizes: dict[str, int]

    @property
    def text(self) -> str:
        """The normalised expression, always with ``->``."""
        return ",".join(self.inputs) + "->" + self.output

    @property
    def output_shape(self) -> tuple[int, ...]:
        """The shape of the result."""
        return tuple(self.sizes[label] for label in self.output)


def parse_subscripts(expr: str, shapes: Sequence[tuple[int, ...]]) -> Subscripts:
    """Parse ``expr`` and check it against the operand ``shapes``.

    Args:
        expr: numpy einsum subscripts, e.g. ``"ik,kj->ij"`` or ``"ij,jk"``.
        shapes: The shape of each operand, in order.

    Returns:
        The checked subscripts.

    Raises:
        EinsumSyntaxError: the subscripts are malformed, use ``...``, or name a different
            number of operands than were given.
        ShapeMismatch: an operand's rank differs from its subscripts, a label has two sizes,
            or an axis has size 0.
    """
    if not isinstance(expr, str):
        raise EinsumSyntaxError(f"einsum subscripts must be a string, got {type(expr).__name__}")
    text = "".join(expr.split())
    if "." in text:
        raise EinsumSyntaxError(
            f"{expr!r}: '...' (ellipsis) is not supported; name every axis with a letter, "
            "e.g. 'bij,bjk->bik' instead of '...ij,...jk->...ik'"
        )
    if text.count("->") > 1 or ("-" in text.replace("->", "")) or (">" in text.replace("->", "")):
        raise EinsumSyntaxError(f"{expr!r}: use at most one '->' between inputs and output")
    lhs, arrow, rhs = text.partition("->")
    inputs = tuple(lhs.split(","))
    bad = sorted({c for c in lhs.replace(",", "") + rhs if c not in _LETTERS})
    if bad:
        raise EinsumSyntaxError(
            f"{expr!r}: invalid character(s) {', '.join(repr(c) for c in bad)}; labels are "
            "single letters a-z or A-Z, operands are separated by ','"
        )
    if len(inputs) != len(shapes):
        raise EinsumSyntaxError(
            f"{expr!r} names {len(inputs)} operand(s) but {len(shapes)} were given"
        )
    sizes: dict[str, int] = {}
    where: dict[str, int] = {}
    for position, (labels, shape) in enumerate(zip(inputs, shapes, strict=True)):
        if len(labels) != len(shape):
            raise ShapeMismatch(
                f"{expr!r}: operand {position} has subscripts {labels!r} ({len(labels)} axes) "
                f"but shape {tuple(shape)} ({len(shape)} axes)"
            )
        for label, size in zip(labels, shape, strict=True):
            if size < 1:
                raise ShapeMismatch(
                    f"{expr!r}: operand {position} has an axis of size {size} (label "
                    f"{label!r}); empty tensors cannot be encrypted"
                )
            if label in sizes and sizes[label] != size:
                raise ShapeMismatch(
                    f"{expr!r}: label {label!r} has size {sizes[label]} in operand "
                    f"{where[label]} but {size} in operand {position}; sizes must be equal "
                    "(numpy would broadcast a size-1 axis, ciphertexts cannot: use "
                    "numpy.broadcast_to on the plaintext first)"
                )
            sizes.setdefault(label, int(size))
            where.setdefault(label, position)
    if arrow:
        output = rhs
        repeated = sorted(label for label, n in Counter(output).items() if n > 1)
        if repeated:
            raise EinsumSyntaxError(
                f"{expr!r}: output label(s) {', '.join(map(repr, repeated))} appear more "
                "than once; each output label names one axis"
            )
        unknown = sorted(set(output) - set(sizes))
        if unknown:
            raise EinsumSyntaxError(
                f"{expr!r}: output label(s) {', '.join(map(repr, unknown))} do not appear in "
                "any input"
            )
    else:
        counts = Counter("".join(inputs))
        output = "".join(sorted(label for label, n in counts.items() if n == 1))
    return Subscripts(inputs=inputs, output=output, sizes=sizes)
