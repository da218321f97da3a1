"""Containment deduplication (R2D2-style): find contained datasets, plan, delete reversibly.

A dataset A is *contained* in B when A's columns map onto B's (same normalised name,
compatible type) and every row of A, projected, occurs in B.

- ``_schema``: stage 1, the schema containment graph from an index over normalised column
  names; name normalisation and type compatibility.
- ``_bounds``: stage 2, pruning with catalog statistics only (rows, NULLs, min/max).
- ``_fingerprint``: value normalisation and keyed (HMAC-SHA256) row fingerprints on Spark;
  the lake key.
- ``_content``: stage 3, sample check then exact containment ratios with Spark joins.
- ``_find``: :func:`find_containment` — freshness, policy checks, the three stages, results
  stored as a run with its edges.
- ``_plan``: :func:`solve_plan` — which datasets to delete (``scipy.optimize.milp``, greedy
  beyond), storage plus expected rebuild cost under a latency bound.
- ``_recipe``: reconstruction recipes (predicate or fingerprints), verified by content.
- ``_deletion``: propose → two-person approve → apply (quarantine after a verified recipe) →
  purge / restore / reconstruct, crash-safe and idempotent.
"""

from lakeward.dedup._deletion import (
    ApplyReport,
    Proposal,
    apply_plan,
    approve_plan,
    compute_plan,
    dedup_status,
    propose_plan,
    purge_quarantine,
    reconstruct_dataset,
    restore_dataset,
    set_hold,
)
from lakeward.dedup._find import FindReport, find_containment, run_edges
from lakeward.dedup._plan import CostModel, DeletionChoice, Edge, PlanResult, solve_plan
from lakeward.dedup._schema import normalize_name, schema_candidates

__all__ = [
    "ApplyReport",
    "CostModel",
    "DeletionChoice",
    "Edge",
    "FindReport",
    "PlanResult",
    "Proposal",
    "apply_plan",
    "approve_plan",
    "compute_plan",
    "dedup_status",
    "find_containment",
    "normalize_name",
    "propose_plan",
    "purge_quarantine",
    "reconstruct_dataset",
    "restore_dataset",
    "run_edges",
    "schema_candidates",
    "set_hold",
    "solve_plan",
]
