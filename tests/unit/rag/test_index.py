"""The label-class index: non-interference by construction, exact scores, recall.

Non-interference (NI) as a property: for any corpus D, any visible set and any query, a
corpus D′ that differs from D only in rows the asker cannot see (added, removed, edited,
including rows that copy the query or sit ε-close to it) gives the asker bitwise the same
output — ids, order and scores — on the exact path and on the quantizer path.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lakeward.rag._index import (
    CODE_LIMIT,
    LabelIndex,
    Quantizer,
    SearchParams,
    code_scores,
    encode_codes,
)

DIMS = 384


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def _mixture(
    rng: np.random.Generator, n: int, centres: np.ndarray, noise: float = 0.6
) -> np.ndarray:
    return _unit(centres[rng.integers(0, len(centres), n)] + rng.normal(size=(n, DIMS)) * noise)


def _build(
    vectors: np.ndarray, classes: np.ndarray, ids: np.ndarray, n_classes: int, q: Quantizer
) -> LabelIndex:
    return LabelIndex.build(vectors, classes, ids, n_classes, q)


def _out(
    index: LabelIndex, query: np.ndarray, visible: np.ndarray, k: int, params: SearchParams
) -> tuple[list[int], bytes]:
    rows, scores = index.search(query, visible, k, params)
    return index.row_key[rows].tolist(), scores.tobytes()


def test_codes_are_exact_integers_whatever_the_kernel() -> None:
    rng = np.random.default_rng(0)
    vectors = _unit(rng.normal(size=(1000, DIMS)))
    codes = encode_codes(vectors)
    assert codes.dtype == np.int16 and np.abs(codes).max() <= CODE_LIMIT
    q = encode_codes(vectors[:1])[0]
    whole = code_scores(codes, q)
    # the same rows scored in other blocks and positions give the same bits
    parts = np.concatenate([code_scores(codes[i : i + 7], q) for i in range(0, 1000, 7)])
    single = np.array([code_scores(codes[i : i + 1], q)[0] for i in range(1000)])
    reversed_ = code_scores(codes[::-1].copy(), q)[::-1]
    assert whole.tobytes() == parts.tobytes() == single.tobytes() == reversed_.tobytes()
    exact = codes.astype(np.int64) @ q.astype(np.int64)
    assert np.array_equal(whole.astype(np.int64), exact)


def test_ties_are_broken_by_key() -> None:
    rng = np.random.default_rng(1)
    v = _unit(rng.normal(size=(1, DIMS)))
    vectors = np.repeat(v, 6, axis=0)
    ids = np.array([50, 10, 40, 20, 30, 60])
    index = _build(vectors, np.zeros(6, dtype=np.int32), ids, 1, Quantizer.none(DIMS))
    keys, _ = _out(index, v[0], np.array([True]), 4, SearchParams())
    assert keys == [10, 20, 30, 40]


@st.composite
def _case(draw: st.DrawFn) -> dict[str, object]:
    seed = draw(st.integers(0, 2**31 - 1))
    n = draw(st.integers(5, 400))
    n_classes = draw(st.integers(1, 12))
    visible = draw(st.lists(st.booleans(), min_size=n_classes, max_size=n_classes))
    visible[draw(st.integers(0, n_classes - 1))] = True
    change = draw(st.sampled_from(["add", "remove", "edit", "copy-query", "near-query", "all"]))
    extra = draw(st.integers(1, 300))
    k = draw(st.integers(1, 30))
    probe = draw(st.booleans())
    graph_min = draw(st.sampled_from([0, 0, 25]))
    return {
        "graph_min": graph_min,
        "seed": seed,
        "n": n,
        "n_classes": n_classes,
        "visible": np.array(visible),
        "change": change,
        "extra": extra,
        "k": k,
        "probe": probe,
    }


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_case())
def test_outputs_depend_only_on_visible_rows(case: dict[str, object]) -> None:
    rng = np.random.default_rng(case["seed"])  # type: ignore[arg-type]
    n, n_classes = int(case["n"]), int(case["n_classes"])  # type: ignore[call-overload]
    visible: np.ndarray = case["visible"]  # type: ignore[assignment]
    centres = rng.normal(size=(8, DIMS))
    vectors = _mixture(rng, n, centres)
    classes = rng.integers(0, n_classes, n).astype(np.int32)
    ids = rng.permutation(10 * (n + 400))[:n].astype(np.int64)
    query = _mixture(rng, 1, centres)[0]
    if case["probe"]:  # the quantizer path: public centroids, a tiny exact threshold
        quantizer = Quantizer.from_public(
            _mixture(np.random.default_rng(7), 400, centres), 16, source="public"
        )
        params = SearchParams(exact_threshold=3, scan_fraction=0.3, min_scan=5, candidates=8)
    else:
        quantizer = Quantizer.none(DIMS)
        params = SearchParams(candidates=16)

    hidden = np.flatnonzero(~visible)
    v2, c2, i2 = vectors.copy(), classes.copy(), ids.copy()
    change = case["change"]
    invisible_rows = np.flatnonzero(~visible[classes])
    if hidden.size == 0:
        hidden_class = None
    else:
        hidden_class = int(hidden[0])
    if change in ("remove", "all") and invisible_rows.size:
        keep = np.ones(n, dtype=bool)
        keep[invisible_rows[: max(1, invisible_rows.size // 2)]] = False
        v2, c2, i2 = v2[keep], c2[keep], i2[keep]
    if change in ("edit", "all"):
        rows = np.flatnonzero(~visible[c2])
        v2[rows] = _mixture(rng, rows.size, centres)
        if hidden.size > 1:  # metadata edits: move invisible rows between invisible classes
            c2[rows] = hidden[rng.integers(0, hidden.size, rows.size)]
    if hidden_class is not None and change in ("add", "copy-query", "near-query", "all"):
        m = int(case["extra"])  # type: ignore[call-overload]
        if change == "copy-query":
            new = np.repeat(query[None, :], m, axis=0)
        elif change == "near-query":
            new = _unit(query[None, :] + rng.normal(size=(m, DIMS)) * 1e-4)
        else:
            new = _mixture(rng, m, centres)
        free = np.setdiff1d(np.arange(10 * (n + 400)), i2)[:m]
        v2 = np.concatenate([v2, new])
        c2 = np.concatenate([c2, np.full(m, hidden_class, dtype=np.int32)])
        i2 = np.concatenate([i2, free.astype(np.int64)])
    graph_min = int(case["graph_min"])  # type: ignore[call-overload]
    a = LabelIndex.build(vectors, classes, ids, n_classes, quantizer, graph_min=graph_min)
    b = LabelIndex.build(v2, c2, i2, n_classes, quantizer, graph_min=graph_min)
    k = int(case["k"])  # type: ignore[call-overload]
    assert _out(a, query, visible, k, params) == _out(b, query, visible, k, params)


def test_a_fitted_quantizer_would_leak_but_a_fixed_one_does_not() -> None:
    """The quantizer is part of the guarantee: trained on D, it moves visible rows."""
    rng = np.random.default_rng(3)
    centres = rng.normal(size=(20, DIMS))
    vectors = _mixture(rng, 3000, centres)
    classes = (rng.random(3000) < 0.5).astype(np.int32)  # class 1 visible, class 0 not
    visible = np.array([False, True])
    ids = np.arange(3000)
    params = SearchParams(exact_threshold=10, scan_fraction=0.05, min_scan=20, candidates=10)
    public = Quantizer.from_public(
        _mixture(np.random.default_rng(9), 2000, centres), 32, source="public"
    )
    extra = _mixture(rng, 3000, centres[:3], noise=0.2)  # invisible rows crowding 3 clusters
    v2 = np.concatenate([vectors, extra])
    c2 = np.concatenate([classes, np.zeros(3000, dtype=np.int32)])
    i2 = np.arange(6000)
    queries = _mixture(rng, 40, centres)
    a, b = _build(vectors, classes, ids, 2, public), _build(v2, c2, i2, 2, public)
    assert all(_out(a, q, visible, 10, params) == _out(b, q, visible, 10, params) for q in queries)
    fitted_a = Quantizer.from_public(vectors, 32, source="fitted on D")
    fitted_b = Quantizer.from_public(v2, 32, source="fitted on D′")
    fa, fb = _build(vectors, classes, ids, 2, fitted_a), _build(v2, c2, i2, 2, fitted_b)
    differ = sum(
        _out(fa, q, visible, 10, params) != _out(fb, q, visible, 10, params) for q in queries
    )
    assert differ > 0


@pytest.mark.parametrize("selectivity", [0.01, 0.1, 0.5])
def test_recall_on_the_quantizer_path(selectivity: float) -> None:
    """recall@10 ≥ 0.95 against the exact top 10 over the visible rows (fixed seeds)."""
    rng = np.random.default_rng(11)
    centres = rng.normal(size=(64, DIMS))
    n, n_classes = 40_000, 200
    vectors = _mixture(rng, n, centres, noise=0.8)
    classes = rng.integers(0, n_classes, n).astype(np.int32)
    visible = rng.random(n_classes) < selectivity
    visible[0] = True
    quantizer = Quantizer.from_public(
        _mixture(np.random.default_rng(5), 8000, centres, noise=0.8), 128, source="public"
    )
    index = _build(vectors, classes, np.arange(n), n_classes, quantizer)
    params = SearchParams(exact_threshold=200)
    rows = np.flatnonzero(visible[classes])
    hits = 0
    queries = _mixture(np.random.default_rng(6), 50, centres, noise=0.8)
    for q in queries:
        truth = set(rows[np.argsort(-(vectors[rows] @ q), kind="stable")[:10]].tolist())
        got, _ = _out(index, q, visible, 10, params)
        hits += len(truth & set(got))
    assert hits / (10 * len(queries)) >= 0.95


def test_nothing_visible_and_k_zero_return_nothing() -> None:
    rng = np.random.default_rng(2)
    v = _unit(rng.normal(size=(10, DIMS)))
    index = _build(v, np.zeros(10, dtype=np.int32), np.arange(10), 2, Quantizer.none(DIMS))
    assert index.search(v[0], np.array([False, True]), 5)[0].size == 0
    assert index.search(v[0], np.array([True, False]), 0)[0].size == 0
    assert index.search(v[0], np.array([True, False]), 50)[0].size == 10


def test_graphs_are_deterministic_saved_and_loaded(tmp_path) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("faiss")
    rng = np.random.default_rng(21)
    centres = rng.normal(size=(16, DIMS))
    vectors = _mixture(rng, 6000, centres)
    classes = (rng.random(6000) < 0.8).astype(np.int32)  # class 1: ~4,800 rows, class 0: ~1,200
    ids = rng.permutation(6000)
    builds = [
        LabelIndex.build(vectors, classes, ids, 2, Quantizer.none(DIMS), graph_min=2000)
        for _ in range(2)
    ]
    assert set(builds[0].graphs) == {1}
    for i, index in enumerate(builds):
        (tmp_path / str(i)).mkdir()
        index.save(tmp_path / str(i))
    files = sorted(p.name for p in (tmp_path / "0").iterdir())
    assert "graphs.bin" in files
    for name in files:
        assert (tmp_path / "0" / name).read_bytes() == (tmp_path / "1" / name).read_bytes(), name
    loaded = LabelIndex.load(tmp_path / "0")
    both = np.array([True, True])
    for q in _mixture(rng, 20, centres):
        assert _out(builds[0], q, both, 10, SearchParams()) == _out(
            loaded, q, both, 10, SearchParams()
        )


def test_graph_recall_on_large_classes() -> None:
    """Group-shaped access: a few large classes get graphs; recall@10 ≥ 0.95 (fixed seeds)."""
    pytest.importorskip("faiss")
    rng = np.random.default_rng(31)
    centres = rng.normal(size=(64, DIMS))
    n = 30_000
    vectors = _mixture(rng, n, centres, noise=0.8)
    classes = rng.integers(0, 6, n).astype(np.int32)  # six classes of ~5,000 rows
    index = LabelIndex.build(
        vectors, classes, np.arange(n), 6, Quantizer.none(DIMS), graph_min=4000
    )
    assert len(index.graphs) == 6
    visible = np.array([True, False, True, True, False, False])
    rows = np.flatnonzero(visible[classes])
    hits = 0
    queries = _mixture(np.random.default_rng(8), 50, centres, noise=0.8)
    for q in queries:
        truth = set(rows[np.argsort(-(vectors[rows] @ q), kind="stable")[:10]].tolist())
        got, _ = _out(index, q, visible, 10, SearchParams())
        hits += len(truth & set(got))
    assert hits / (10 * len(queries)) >= 0.95


def test_unchanged_classes_reuse_their_graph_and_bytes_equal_a_fresh_build(tmp_path) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("faiss")
    rng = np.random.default_rng(41)
    centres = rng.normal(size=(16, DIMS))
    vectors = _mixture(rng, 5000, centres)
    classes = rng.integers(0, 2, 5000).astype(np.int32)
    ids = np.arange(5000) * 2
    old = LabelIndex.build(vectors, classes, ids, 2, Quantizer.none(DIMS), graph_min=1000)
    # class 1 gains rows (interleaved keys), class 0 is unchanged
    more = _mixture(rng, 300, centres)
    v2 = np.concatenate([vectors, more])
    c2 = np.concatenate([classes, np.ones(300, dtype=np.int32)])
    i2 = np.concatenate([ids, np.arange(300) * 2 + 1])
    reused = LabelIndex.build(v2, c2, i2, 2, Quantizer.none(DIMS), graph_min=1000, previous=old)
    fresh = LabelIndex.build(v2, c2, i2, 2, Quantizer.none(DIMS), graph_min=1000)
    assert reused.graphs[0] is old.graphs[0] and reused.graphs[1] is not old.graphs[1]
    for name, index in (("reused", reused), ("fresh", fresh)):
        (tmp_path / name).mkdir()
        index.save(tmp_path / name)
    for path in (tmp_path / "fresh").iterdir():
        assert path.read_bytes() == (tmp_path / "reused" / path.name).read_bytes(), path.name
