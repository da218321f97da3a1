"""Deletion planning: the MILP is optimal (vs brute force), every plan is feasible."""

from __future__ import annotations

import itertools
import random

import pytest

from lakeward.dedup import CostModel, Edge, solve_plan

COSTS = CostModel(
    storage_usd_per_gb_month=1.0,
    compute_usd_per_hour=3600.0,  # 1 $/s so access costs matter against storage
    scan_mb_per_s=1000.0,
    overhead_s=0.01,
    max_reconstruct_s=1.0,
)


def _random_edges(rng: random.Random, n: int) -> list[Edge]:
    sizes = {f"d{i}": rng.randint(1, 900) * 1_000_000 for i in range(n)}
    access = {name: rng.choice([0.0, 0.0, 1.0, 5.0, 40.0]) for name in sizes}
    edges = []
    for c, p in itertools.permutations(sizes, 2):
        if rng.random() < 0.25:
            edges.append(Edge(c, p, sizes[c], sizes[p], access[c]))
    return edges


def _value(edges: list[Edge], choice: dict[str, str]) -> float:
    by = {(e.child, e.parent): e for e in edges}
    total = 0.0
    for child, parent in choice.items():
        e = by[(child, parent)]
        total += COSTS.storage(e.child_bytes) - COSTS.access_cost(
            e.access_per_month, e.parent_bytes
        )
    return total


def _feasible(edges: list[Edge], choice: dict[str, str], protected: set[str] = frozenset()) -> bool:
    usable = {(e.child, e.parent) for e in edges if COSTS.rebuild_seconds(e.parent_bytes) <= 1.0}
    return all(
        (c, p) in usable and p not in choice and c not in protected for c, p in choice.items()
    )


def _brute_force(edges: list[Edge], protected: set[str]) -> float:
    usable = [
        e
        for e in edges
        if COSTS.rebuild_seconds(e.parent_bytes) <= 1.0 and e.child not in protected
    ]
    options: dict[str, list[Edge | None]] = {}
    for e in usable:
        options.setdefault(e.child, [None]).append(e)
    best = 0.0
    names = sorted(options)
    for combo in itertools.product(*(options[n] for n in names)):
        choice = {e.child: e.parent for e in combo if e is not None}
        if _feasible(edges, choice, protected):
            best = max(best, _value(edges, choice))
    return best


@pytest.mark.parametrize("seed", range(12))
def test_milp_is_optimal_and_greedy_feasible(seed: int) -> None:
    rng = random.Random(seed)
    edges = _random_edges(rng, rng.randint(3, 6))
    protected = {"d0"} if seed % 3 == 0 else set()
    exact = solve_plan(edges, COSTS, protected=protected, force="milp")
    choice = {c.dataset: c.parent for c in exact.choices}
    assert _feasible(edges, choice, protected)
    assert exact.savings_usd_month == pytest.approx(_brute_force(edges, protected), abs=1e-9)
    assert exact.optimum_proven and exact.solver in ("milp", "none")
    greedy = solve_plan(edges, COSTS, protected=protected, force="greedy")
    gchoice = {c.dataset: c.parent for c in greedy.choices}
    assert _feasible(edges, gchoice, protected)
    assert greedy.savings_usd_month <= exact.savings_usd_month + 1e-9
    if greedy.solver == "greedy":  # its bound (LP relaxation) is never below the optimum
        assert greedy.optimum_usd_month >= exact.savings_usd_month - 1e-9
        assert not greedy.optimum_proven
    assert exact.max_reclaimable_bytes >= exact.bytes_reclaimed


def test_identical_copies_keep_one_and_latency_bound_holds() -> None:
    half = 500_000_000
    edges = [
        Edge("a", "b", half, half, 0.0),
        Edge("b", "a", half, half, 0.0),
        Edge("small", "huge", half, 100 * half, 0.0),  # rebuild far over the 1 s bound
    ]
    plan = solve_plan(edges, COSTS)
    assert len(plan.choices) == 1 and plan.choices[0].dataset in ("a", "b")
    assert "small" in plan.excluded and "bound" in plan.excluded["small"]


def test_frequently_read_datasets_are_kept() -> None:
    mb = 1_000_000
    edges = [Edge("hot", "p", 10 * mb, 10 * mb, 1000.0), Edge("cold", "p", 10 * mb, 10 * mb, 0.0)]
    plan = solve_plan(edges, COSTS)
    assert [c.dataset for c in plan.choices] == ["cold"]


def test_greedy_takes_over_beyond_the_milp_size() -> None:
    rng = random.Random(7)
    edges = _random_edges(rng, 30)
    plan = solve_plan(edges, COSTS, milp_max_edges=10)
    assert plan.solver == "greedy" and plan.usable_edges > 10
    assert _feasible(edges, {c.dataset: c.parent for c in plan.choices})
    exact = solve_plan(edges, COSTS)
    assert exact.solver == "milp"
    assert plan.savings_usd_month <= exact.savings_usd_month + 1e-9 <= plan.optimum_usd_month + 2e-9


def test_empty_problem() -> None:
    plan = solve_plan([], COSTS)
    assert plan.choices == [] and plan.solver == "none" and plan.bytes_reclaimed == 0
