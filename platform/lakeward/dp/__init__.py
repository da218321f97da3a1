"""Continual-release differential privacy.

- ``_counters``: continual counters (square-root factorization, Honaker, binary tree, Laplace
  tree), each with its exact per-step variance and the ρ spent after t releases;
  :func:`make_counter`, :func:`default_counter`.
- ``_noise``: OpenDP's exact samplers for released noise; a seeded source for tests only.
- ``_streams``: :class:`StreamSpec` — sources, periods, declared keys, clipping and
  contribution bounds, and the sensitivity and ledger unit they imply.
- ``_aggregate``: the Spark job: effective periods (late events go forward), contribution
  bounding, per-period per-key increments.
- ``_select``: MaxSum/SumSelect — per-attribute counters vs the sparse vector mechanism,
  :func:`choose_maxsum` by (T, d, ρ).
- ``_plot``: exact error tables per horizon and stream plots.
- ``_service``: streams in the catalog and immutable, idempotent, budget-governed releases;
  :func:`plan_releases` is the dry run of :func:`release_streams`.
"""

from lakeward.dp._counters import (
    COUNTER_KINDS,
    BinaryTreeCounter,
    ContinualCounter,
    HonakerCounter,
    LaplaceTreeCounter,
    SqrtFactorizationCounter,
    default_counter,
    make_counter,
    sqrt_coefficients,
)
from lakeward.dp._noise import (
    NoiseSource,
    OpenDPGaussian,
    OpenDPLaplace,
    SeededGaussian,
    SeededLaplace,
    release_source,
)
from lakeward.dp._select import CounterMaxSum, SparseVectorMaxSum, choose_maxsum
from lakeward.dp._service import (
    PlannedRelease,
    ReleaseIncomplete,
    ReleaseResult,
    Series,
    create_stream,
    get_stream,
    list_streams,
    plan_releases,
    release_streams,
    stream_budget,
    stream_counter,
    stream_info,
    stream_series,
)
from lakeward.dp._streams import StreamSpec, parse_duration, spec_from_mapping

__all__ = [
    "CounterMaxSum",
    "SparseVectorMaxSum",
    "choose_maxsum",
    "PlannedRelease",
    "ReleaseIncomplete",
    "ReleaseResult",
    "Series",
    "StreamSpec",
    "create_stream",
    "get_stream",
    "list_streams",
    "parse_duration",
    "plan_releases",
    "release_streams",
    "spec_from_mapping",
    "stream_budget",
    "stream_counter",
    "stream_info",
    "stream_series",
    "COUNTER_KINDS",
    "BinaryTreeCounter",
    "ContinualCounter",
    "HonakerCounter",
    "LaplaceTreeCounter",
    "NoiseSource",
    "OpenDPGaussian",
    "OpenDPLaplace",
    "SeededGaussian",
    "SeededLaplace",
    "SqrtFactorizationCounter",
    "default_counter",
    "make_counter",
    "release_source",
    "sqrt_coefficients",
]
