"""Negative control: a shared faiss index with an ID filter is not non-interfering.

User-level non-interference (NI) asks that a user's output (ids, order, score bits) be a
function of the query and the rows the user may read. The NI test here: tenant A queries;
then vectors readable only by tenant B are added (near copies of A's queries, the strongest
adversary) and everything is rebuilt; A's outputs must not change.

- **Shared HNSW + IDSelector** fails: the filter is applied when results are collected, not
  when the graph is built or walked. B's vectors become graph nodes near the query, the
  reverse-link pruning rewires A's nodes around them, and a low-``efSearch`` traversal
  spends its budget on B's (filtered-out) nodes, so it reaches a different set of A's
  rows. With a single thread faiss builds the graph deterministically, so for these seeds
  the outcome is fixed; several queries are tried and at least one must change.
- **Shared IVF + IDSelector** fails: the coarse centroids are k-means of the whole corpus,
  so B's vectors pull centroids towards themselves; A's rows change lists and the
  ``nprobe`` lists nearest the query hold different visible rows.
- **LabelIndex** passes on the same data: its quantizer comes from a separate public
  sample (fixed), a row's list depends on its own vector only, scan budgets count visible
  rows only and scores are exact, so every output is bitwise identical — on the probing
  path as well as the exact one, and even though B's rows are inserted first.
"""

from __future__ import annotations

import numpy as np
import pytest

from lakeward.rag._index import LabelIndex, Quantizer, SearchParams

faiss = pytest.importorskip("faiss")

DIMS = 32
K = 10
N_BASE = 3000
N_QUERIES = 12
COPIES = 40


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _mixture(n: int, seed: int, centres: np.ndarray) -> np.ndarray:
    rng = np.random.default_rng(seed)
    label = rng.integers(len(centres), size=n)
    return _unit(centres[label] + 0.35 * rng.standard_normal((n, DIMS)))


@pytest.fixture(scope="module")
def case() -> dict[str, np.ndarray]:
    """Base rows (A's class 0, B's class 1), A's queries, and B's near copies of them."""
    rng = np.random.default_rng(20240611)
    centres = _unit(rng.standard_normal((8, DIMS)))
    base = _mixture(N_BASE, 1, centres)
    row_class = (np.arange(N_BASE) % 2).astype(np.int32)  # even rows: A, odd rows: B
    queries = _mixture(N_QUERIES, 2, centres)
    noise = rng.standard_normal((N_QUERIES, COPIES, DIMS)) * 0.02
    adversary = _unit((queries[:, None, :] + noise).reshape(-1, DIMS))
    public = _mixture(2000, 3, centres)  # the store's quantizer: public, not the store's rows
    return {
        "base": base,
        "row_class": row_class,
        "queries": queries,
        "adversary": adversary,
        "public": public,
    }


@pytest.fixture(autouse=True)
def _one_thread():
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)  # deterministic graph construction
    yield
    faiss.omp_set_num_threads(before)


def _visible_a(n: int) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    mask[0:N_BASE:2] = True  # A's rows are the even base rows; added rows are B's
    return mask


def _faiss_outputs(index, queries, n: int, make_params) -> list[tuple[bytes, bytes]]:
    bitmap = np.packbits(_visible_a(n), bitorder="little")
    selector = faiss.IDSelectorBitmap(n, faiss.swig_ptr(bitmap))
    out = []
    for q in queries:
        scores, ids = index.search(q[None, :], K, params=make_params(selector))
        assert np.all(ids[ids >= 0] % 2 == 0) and np.all(ids[ids >= 0] < N_BASE)  # filter held
        out.append((ids.tobytes(), scores.tobytes()))
    return out


def _changed(before, after) -> int:
    return sum(b != a for b, a in zip(before, after, strict=True))


def _hnsw(vectors: np.ndarray):
    index = faiss.IndexHNSWFlat(DIMS, 8, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = 16
    index.add(vectors)
    return index


def test_shared_hnsw_with_id_filter_fails_ni(case) -> None:
    base, adv, queries = case["base"], case["adversary"], case["queries"]
    both = np.concatenate([base, adv])

    def params(selector):
        return faiss.SearchParametersHNSW(sel=selector, efSearch=K)

    before = _faiss_outputs(_hnsw(base), queries, N_BASE, params)
    after = _faiss_outputs(_hnsw(both), queries, len(both), params)
    assert _changed(before, after) >= 1


def _ivf(vectors: np.ndarray):
    coarse = faiss.IndexFlatIP(DIMS)
    index = faiss.IndexIVFFlat(coarse, DIMS, 16, faiss.METRIC_INNER_PRODUCT)
    index.cp.seed = 7
    index.train(vectors)
    index.add(vectors)
    coarse.this.disown()
    index.own_fields = True
    return index


def test_shared_ivf_with_id_filter_fails_ni(case) -> None:
    base, adv, queries = case["base"], case["adversary"], case["queries"]
    both = np.concatenate([base, adv])

    def params(selector):
        return faiss.SearchParametersIVF(sel=selector, nprobe=1)

    before = _faiss_outputs(_ivf(base), queries, N_BASE, params)
    after = _faiss_outputs(_ivf(both), queries, len(both), params)
    assert _changed(before, after) >= 1


@pytest.mark.parametrize(
    "params",
    [
        SearchParams(),  # 1,500 visible rows: the exact path
        SearchParams(exact_threshold=0, min_scan=64, scan_fraction=0.02, candidates=16),  # probe
    ],
    ids=["exact", "probe"],
)
def test_label_index_passes_ni_on_the_same_data(case, params: SearchParams) -> None:
    base, adv, queries = case["base"], case["adversary"], case["queries"]
    quantizer = Quantizer.from_public(case["public"], 16, source="test-public", seed=0)
    keys = np.arange(N_BASE, dtype=np.int64)
    store = LabelIndex.build(base, case["row_class"], keys, 2, quantizer)
    # B's rows first (row positions shift), in a new class only B reads
    adv_keys = np.arange(N_BASE, N_BASE + len(adv), dtype=np.int64)
    grown = LabelIndex.build(
        np.concatenate([adv, base]),
        np.concatenate([np.full(len(adv), 2, dtype=np.int32), case["row_class"]]),
        np.concatenate([adv_keys, keys]),
        3,
        quantizer,
    )
    for q in queries:
        rows, scores = store.search(q, np.array([True, False]), K, params)
        rows2, scores2 = grown.search(q, np.array([True, False, False]), K, params)
        assert len(rows) == K
        assert np.array_equal(store.row_key[rows], grown.row_key[rows2])
        assert scores.tobytes() == scores2.tobytes()
