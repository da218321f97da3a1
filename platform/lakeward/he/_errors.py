"""Errors of :mod:`lakeward.he`, all in the :mod:`lakeward.errors` hierarchy.

::

    InputError (ValueError)                     exit code 2
    └── HEInputError                            any bad input to lakeward.he
        ├── EinsumSyntaxError                   malformed subscripts, '...', wrong arity
        ├── ShapeMismatch                       a label has two sizes, a shape is wrong
        ├── MissingGaloisKeys                   the keys lack rotation steps the plan needs
        ├── ContextMismatch                     ciphertexts from different key sets
        ├── DepthExceeded                       the modulus chain is too short for the plan
        ├── SecretKeyRequired                   decrypting with a public context
        └── KeyFileError                        a key, context or ciphertext file is unusable
"""

from __future__ import annotations

from collections.abc import Iterable

from lakeward.errors import InputError

__all__ = [
    "ContextMismatch",
    "DepthExceeded",
    "EinsumSyntaxError",
    "HEInputError",
    "KeyFileError",
    "MissingGaloisKeys",
    "SecretKeyRequired",
    "ShapeMismatch",
]


class HEInputError(InputError):
    """Bad input to :mod:`lakeward.he`; the message says what is wrong and how to fix it."""


class EinsumSyntaxError(HEInputError):
    """The einsum subscripts are malformed or unsupported."""


class ShapeMismatch(HEInputError):
    """Operand shapes do not fit the subscripts (a label with two sizes, wrong rank)."""


class MissingGaloisKeys(HEInputError):
    """The public context has no Galois key for rotation steps the plan needs."""

    def __init__(self, message: str, steps: Iterable[int] = ()) -> None:
        super().__init__(message)
        self.steps = sorted(steps)


class ContextMismatch(HEInputError):
    """A ciphertext belongs to another key set than the context it is used with."""


class DepthExceeded(HEInputError):
    """The plan needs more multiplicative levels than the modulus chain has left."""

    def __init__(self, message: str, needed: int, available: int) -> None:
        super().__init__(message)
        self.needed = needed
        self.available = available


class SecretKeyRequired(HEInputError):
    """Decryption was asked of a public context, which has no secret key."""


class KeyFileError(HEInputError):
    """A key, context or ciphertext file is missing, corrupt or of the wrong kind."""
