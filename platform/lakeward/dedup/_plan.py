"""Deletion planning: which contained datasets to delete, and from which ancestor each is rebuilt.

Model. Dataset ``c`` costs ``storage(c) = bytes × price per GB-month`` while kept. Deleting
``c`` and rebuilding it from a retained ancestor ``p`` on demand costs
``access(c) × rebuild_seconds(p) × compute price`` per month, where ``access(c)`` is its
audited reads per month and ``rebuild_seconds(p) = overhead + bytes(p) / scan rate``. An edge
``c → p`` is usable only if ``c`` is fully contained in ``p`` and ``rebuild_seconds(p)`` is
within the latency bound.

Exact formulation (``scipy.optimize.milp``, HiGHS): binary ``x_c`` (delete ``c``) and ``y_e``
(rebuild ``c`` through edge ``e = c → p``)::

    minimise   Σ_e cost(e)·y_e − Σ_c storage(c)·x_c          (= monthly cost − constant)
    subject to Σ_{e from c} y_e = x_c                         each deleted c has one source
               y_e + x_p ≤ 1                                  … and that source is kept

Identical copies (edges both ways) can therefore never both be deleted. Problems with more
than ``LAKEWARD_DEDUP_MILP_MAX_EDGES`` usable edges, or where the solver stops without a
proven optimum, use the **greedy** planner: children by decreasing net saving, each through
its cheapest parent that is not being deleted, that parent then pinned as kept. The plan
reports its bytes and savings beside the optimum (the MILP's, or the LP relaxation's bound
when greedy ran) and the most bytes any plan could reclaim under the same latency bound.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["CostModel", "DeletionChoice", "Edge", "PlanResult", "solve_plan"]

_GB = 1e9


@dataclass(frozen=True)
class CostModel:
    """Prices and the latency bound."""

    storage_usd_per_gb_month: float = 0.023
    compute_usd_per_hour: float = 2.0
    scan_mb_per_s: float = 50.0
    overhead_s: float = 5.0
    max_reconstruct_s: float = 600.0

    def storage(self, nbytes: int) -> float:
        """Monthly storage cost of ``nbytes``."""
        return nbytes / _GB * self.storage_usd_per_gb_month

    def rebuild_seconds(self, parent_bytes: int) -> float:
        """Estimated seconds to rebuild a child by scanning a parent of ``parent_bytes``."""
        return self.overhead_s + parent_bytes / (self.scan_mb_per_s * 1e6)

    def access_cost(self, accesses_per_month: float, parent_bytes: int) -> float:
        """Monthly cost of rebuilding on every access."""
        return (
            accesses_per_month
            * self.rebuild_seconds(parent_bytes)
            * (self.compute_usd_per_hour / 3600.0)
        )


@dataclass(frozen=True)
class Edge:
    """A contained child → parent edge the planner may use."""

    child: str
    parent: str
    child_bytes: int
    parent_bytes: int
    access_per_month: float


@dataclass(frozen=True)
class DeletionChoice:
    """One dataset to delete and the retained ancestor it is rebuilt from."""

    dataset: str
    parent: str
    bytes: int
    access_per_month: float
    rebuild_s: float
    storage_usd_month: float
    access_usd_month: float


@dataclass
class PlanResult:
    """A deletion plan with its costs beside the optimum."""

    choices: list[DeletionChoice]
    solver: str  # "milp" | "greedy" | "none"
    savings_usd_month: float
    optimum_usd_month: float
    optimum_proven: bool
    bytes_reclaimed: int
    max_reclaimable_bytes: int
    usable_edges: int
    excluded: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {
            "solver": self.solver,
            "datasets": [asdict(c) for c in self.choices],
            "savings_usd_month": float(f"{self.savings_usd_month:.6g}"),
            "optimum_usd_month": float(f"{self.optimum_usd_month:.6g}"),
            "optimum_proven": self.optimum_proven,
            "bytes_reclaimed": self.bytes_reclaimed,
            "max_reclaimable_bytes": self.max_reclaimable_bytes,
            "usable_edges": self.usable_edges,
            "excluded": self.excluded,
            "seconds": round(self.seconds, 3),
        }


def _usable(
    edges: Iterable[Edge], costs: CostModel, protected: set[str], excluded: dict[str, str]
) -> list[Edge]:
    usable = []
    for e in edges:
        if e.child in protected:
            excluded.setdefault(e.child, "another dataset's recipe depends on it, or it is pinned")
            continue
        if costs.rebuild_seconds(e.parent_bytes) > costs.max_reconstruct_s:
            excluded.setdefault(
                e.child,
                f"rebuilding from {e.parent} would take {costs.rebuild_seconds(e.parent_bytes):.0f}"
                f" s > the {costs.max_reconstruct_s:.0f} s bound",
            )
            continue
        usable.append(e)
    for e in usable:
        excluded.pop(e.child, None)
    return usable


def _milp(
    edges: Sequence[Edge],
    child_value: dict[str, float],
    edge_cost: Sequence[float],
    *,
    relax: bool,
    time_limit: float,
) -> tuple[list[int], float, bool] | None:
    """Solve; returns (chosen edge indices, objective savings, proven optimal) or ``None``."""
    import numpy as np
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import lil_matrix

    children = sorted({e.child for e in edges})
    cidx = {c: i for i, c in enumerate(children)}
    n_x, n_y = len(children), len(edges)
    n = n_x + n_y
    c = np.zeros(n)
    for name, i in cidx.items():
        c[i] = -child_value[name]
    c[n_x:] = edge_cost
    scale = float(np.max(np.abs(c))) or 1.0  # dollars per month are tiny: solve in units of it
    c /= scale
    parents_in = [e for e in edges if e.parent in cidx]
    rows = n_x + len(parents_in)
    a = lil_matrix((rows, n))
    lower = np.zeros(rows)
    upper = np.zeros(rows)
    for j, e in enumerate(edges):
        a[cidx[e.child], cidx[e.child]] = 1.0
        a[cidx[e.child], n_x + j] = -1.0
    r = n_x
    for j, e in enumerate(edges):
        if e.parent in cidx:
            a[r, n_x + j] = 1.0
            a[r, cidx[e.parent]] = 1.0
            lower[r], upper[r] = -np.inf, 1.0
            r += 1
    constraints = LinearConstraint(a.tocsr(), lower, upper)
    res = milp(
        c,
        constraints=[constraints],
        integrality=np.zeros(n) if relax else np.ones(n),
        bounds=Bounds(0, 1),
        options={"time_limit": time_limit, "presolve": True, "mip_rel_gap": 1e-9},
    )
    if res.x is None:
        return None
    proven = res.status == 0
    if relax:
        return [], float(-res.fun) * scale, proven
    chosen = [j for j in range(n_y) if res.x[n_x + j] > 0.5]
    return chosen, float(-res.fun) * scale, proven


def _greedy(
    edges: Sequence[Edge], child_value: dict[str, float], edge_cost: Sequence[float]
) -> list[int]:
    options: dict[str, list[int]] = defaultdict(list)
    for j, e in enumerate(edges):
        options[e.child].append(j)
    for child in options:
        options[child].sort(key=lambda j: edge_cost[j])
    order = sorted(options, key=lambda ch: -(child_value[ch] - edge_cost[options[ch][0]]))
    deleted: set[str] = set()
    kept: set[str] = set()
    chosen: list[int] = []
    for child in order:
        if child in kept:
            continue
        for j in options[child]:
            parent = edges[j].parent
            if parent in deleted or child_value[child] - edge_cost[j] <= 0:
                continue
            deleted.add(child)
            kept.add(parent)
            chosen.append(j)
            break
    return chosen


def _cheapest_sources(
    edges: Sequence[Edge], chosen: list[int], edge_cost: Sequence[float]
) -> list[int]:
    """For each deleted child, the cheapest kept parent (then the smallest, then by name).

    Any kept parent is feasible, so this never worsens the plan; it makes ties deterministic.
    """
    deleted = {edges[j].child for j in chosen}
    best: dict[str, int] = {}
    for j, e in enumerate(edges):
        if e.child not in deleted or e.parent in deleted:
            continue
        key = (edge_cost[j], e.parent_bytes, e.parent)
        current = best.get(e.child)
        if current is None or key < (
            edge_cost[current],
            edges[current].parent_bytes,
            edges[current].parent,
        ):
            best[e.child] = j
    return sorted(best.values())


def solve_plan(
    edges: Sequence[Edge],
    costs: CostModel,
    *,
    protected: Iterable[str] = (),
    milp_max_edges: int = 50_000,
    time_limit_s: float = 60.0,
    force: str | None = None,
) -> PlanResult:
    """Choose deletions minimising storage plus expected rebuild cost under the latency bound.

    Args:
        edges: Contained child → parent edges (both directions for identical copies).
        costs: Prices, scan rate and the latency bound.
        protected: Datasets that must not be deleted (recipe parents, pinned datasets).
        milp_max_edges: Above this many usable edges the greedy planner runs.
        time_limit_s: Time limit of each solver call.
        force: ``"milp"`` or ``"greedy"`` to choose the planner (benchmarks, tests).
    """
    started = time.perf_counter()
    excluded: dict[str, str] = {}
    usable = _usable(edges, costs, set(protected), excluded)
    if not usable:
        return PlanResult(
            [], "none", 0.0, 0.0, True, 0, 0, 0, excluded, time.perf_counter() - started
        )
    # An edge whose rebuild cost exceeds what deleting the child saves is never worth taking;
    # dropping it also keeps the solver's coefficients within a sane range.
    worth = [
        e
        for e in usable
        if costs.access_cost(e.access_per_month, e.parent_bytes) < costs.storage(e.child_bytes)
    ]
    for e in usable:
        if not any(w.child == e.child for w in worth):
            excluded.setdefault(e.child, "read too often: rebuilding costs more than storing it")
    reclaimable = usable
    usable = worth
    if not usable:
        most = _milp(
            reclaimable,
            {e.child: e.child_bytes / 1e6 for e in reclaimable},
            [0.0] * len(reclaimable),
            relax=len(reclaimable) > milp_max_edges,
            time_limit=time_limit_s,
        )
        return PlanResult(
            [],
            "none",
            0.0,
            0.0,
            True,
            0,
            int(round(most[1] * 1e6)) if most is not None else 0,
            len(reclaimable),
            excluded,
            time.perf_counter() - started,
        )
    child_value = {e.child: costs.storage(e.child_bytes) for e in usable}
    edge_cost = [costs.access_cost(e.access_per_month, e.parent_bytes) for e in usable]
    use_milp = force == "milp" or (force is None and len(usable) <= milp_max_edges)
    solver, chosen, proven, optimum = "greedy", None, False, 0.0
    if use_milp:
        solved = _milp(usable, child_value, edge_cost, relax=False, time_limit=time_limit_s)
        if solved is not None and (solved[2] or force == "milp"):
            chosen, optimum, proven = solved
            solver = "milp"
    if chosen is None:
        chosen = _greedy(usable, child_value, edge_cost)
        bound = _milp(usable, child_value, edge_cost, relax=True, time_limit=time_limit_s)
        optimum = bound[1] if bound is not None else float("nan")
        proven = False
    chosen = _cheapest_sources(usable, chosen, edge_cost)
    megabytes = {e.child: e.child_bytes / 1e6 for e in reclaimable}
    most = _milp(
        reclaimable,
        megabytes,
        [0.0] * len(reclaimable),
        relax=len(reclaimable) > milp_max_edges,
        time_limit=time_limit_s,
    )
    max_bytes = int(round(most[1] * 1e6)) if most is not None else 0
    choices = []
    for j in chosen:
        e = usable[j]
        choices.append(
            DeletionChoice(
                dataset=e.child,
                parent=e.parent,
                bytes=e.child_bytes,
                access_per_month=e.access_per_month,
                rebuild_s=round(costs.rebuild_seconds(e.parent_bytes), 3),
                storage_usd_month=child_value[e.child],
                access_usd_month=edge_cost[j],
            )
        )
    choices.sort(key=lambda ch: ch.dataset)
    savings = sum(ch.storage_usd_month - ch.access_usd_month for ch in choices)
    return PlanResult(
        choices=choices,
        solver=solver,
        savings_usd_month=savings,
        optimum_usd_month=max(optimum, savings) if proven else optimum,
        optimum_proven=proven,
        bytes_reclaimed=sum(ch.bytes for ch in choices),
        max_reclaimable_bytes=max(max_bytes, sum(ch.bytes for ch in choices)),
        usable_edges=len(reclaimable),
        excluded=excluded,
        seconds=time.perf_counter() - started,
    )
