"""Einsum on CKKS: compute on encrypted tensors without the secret key.

The data owner makes keys (:func:`keygen`), encrypts tensors (:func:`encrypt`), hands the compute
side ``keys.public()``; the compute side runs :func:`einsum` over any mix of ciphertexts and
plaintext arrays; only the owner can :func:`decrypt`. :func:`plan_einsum` shows, without
running anything, the layout of every operand and of the result, each operation with its
rotations and levels, and the totals (``plan.rotations``, ``plan.depth``); a simulated
context (``keygen(simulated=True)``) runs the identical plan on cleartext numpy.

Map of the package:

- ``_subscripts``: numpy einsum subscripts, checked against shapes.
- ``_layout``: :class:`Layout` — where each element lives across tiled ciphertexts.
- ``_params``: :class:`CkksParameters`, parameter choice from depth, Galois elements,
  rotation schedules over the available keys.
- ``_plan``: the planner — broadcast layout choice, layout changes with only the needed
  diagonals (baby-step giant-step), replication, multiplication tree, rotate-and-sum,
  masks; :class:`Plan` with its counts and explanation.
- ``_path``: contraction order — one broadcast step, or pairwise steps
  (:class:`PathPlan`) when the all-at-once space is too large; :func:`plan_einsum`.
- ``_backend``: SEAL (``tenseal.sealapi``) and simulated backends, both counting ops.
- ``_keys``: :class:`Keys`, :class:`PublicContext`, :func:`keygen` (default: 4 levels, any
  one-step einsum of up to four encrypted operands), key files.
- ``_tensor``: :class:`CipherTensor`, :func:`encrypt`, :func:`decrypt`, ciphertext files.
- ``_files``: strict manifest parsing, integrity tags (HMAC keyed from the public context)
  and their threat model, secret files 0600 from creation.
- ``_execute``: :func:`einsum`, the executor.
- ``_spark``: governed encrypted jobs on Spark — the owner encrypts columns per partition,
  the compute job runs an einsum per block and sums across partitions homomorphically
  (imported on demand: it needs Spark).
- ``_errors``: the error classes (all :class:`lakeward.errors.InputError`, exit code 2).
"""

from lakeward.he._errors import (
    ContextMismatch,
    DepthExceeded,
    EinsumSyntaxError,
    HEInputError,
    KeyFileError,
    MissingGaloisKeys,
    SecretKeyRequired,
    ShapeMismatch,
)
from lakeward.he._execute import einsum
from lakeward.he._keys import Keys, PublicContext, keygen, load_context, load_keys
from lakeward.he._layout import AxisPlacement, Layout, row_major
from lakeward.he._params import DEFAULT_DEPTH, CkksParameters, choose_parameters
from lakeward.he._path import PathPlan, plan_einsum
from lakeward.he._plan import OpCounts, Plan
from lakeward.he._tensor import CipherTensor, decrypt, encrypt

__all__ = [
    "AxisPlacement",
    "CipherTensor",
    "CkksParameters",
    "DEFAULT_DEPTH",
    "ContextMismatch",
    "DepthExceeded",
    "EinsumSyntaxError",
    "HEInputError",
    "KeyFileError",
    "Keys",
    "Layout",
    "MissingGaloisKeys",
    "OpCounts",
    "PathPlan",
    "Plan",
    "PublicContext",
    "SecretKeyRequired",
    "ShapeMismatch",
    "choose_parameters",
    "decrypt",
    "einsum",
    "encrypt",
    "keygen",
    "load_context",
    "load_keys",
    "plan_einsum",
    "row_major",
]
