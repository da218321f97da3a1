"""Benchmark: the label-class RAG index (``lakeward.rag``) vs exact and faiss peers, on synthetic
multi-tenant corpora.

Data (no real text; 20 Newsgroups and other corpora are reserved for external evaluation):

- **Corpus**: a 384-d Gaussian mixture: ``--clusters`` (256) random unit centres, each with
  its own random 16-d subspace; a point is ``centre + 0.8·U_c z/√16 + 0.3·g/√384`` (z, g
  standard normal), L2-normalised (embedding-like: clustered, low intrinsic dimension plus
  isotropic noise). Sizes ``--sizes`` (200k; 1M opt-in). Row ``i`` has id (sort key) ``i``.
- **Queries**: drawn the same way from the same mixture with another seed.
- **Public sample** for the store's quantizer: ``20 × nlist`` more points of the same
  mixture with a third seed (a public corpus of the same domain). The store's centroids are
  never fitted to the indexed vectors; ``nlist = round(4·√n)``, one rule for every size.
- **Access** (Curator's "randperm"): ``T`` tenants (``--tenants`` 50, 800); tenant ``t`` has
  density ``(0.001, 0.01, 0.1, 0.5)[t % 4]`` and reads each vector independently with that
  probability. A vector's label class is its reader set (``np.unique`` over packed
  bitsets); tenant ``t`` sees the classes whose reader set contains ``t``. With independent
  draws almost every vector has its own reader set, so the class count is close to ``n``
  (the worst case for a per-class layout; printed). The first ``--query-tenants`` tenants
  of each density bucket run ``--queries`` queries per bucket between them.

Methods (all searches single-threaded: ``OMP_NUM_THREADS=1``/``OPENBLAS_NUM_THREADS=1`` set
before numpy loads, ``faiss.omp_set_num_threads(1)``; builds single-threaded too):

- **exact**: brute force over the querying tenant's rows (a per-tenant contiguous float32
  copy; its top-10 by (score desc, id asc) is the ground truth). Memory is extrapolated to
  all tenants (Σ|V_t| × (4d + 8) bytes).
- **pt-hnsw**: one faiss ``IndexHNSWFlat`` (inner product, M=32, efConstruction=40) per
  tenant, built only for the querying tenants; memory extrapolated to all tenants from the
  measured bytes/vector (labelled "extrap").
- **sh-hnsw**: one shared ``IndexHNSWFlat`` over all vectors, searched with
  ``SearchParametersHNSW(sel=IDSelectorBitmap(tenant's rows))``.
- **sh-ivf**: one shared ``IndexIVFFlat`` (nlist as above, k-means trained on the corpus
  itself: ``40 × nlist`` sampled rows), searched with ``SearchParametersIVF(sel=..., nprobe=...)``.
- **store**: ``LabelIndex`` with the public quantizer and ``SearchParams()`` defaults (one
  setting for every size and selectivity); ``--store-params`` adds rows for other
  settings, e.g. ``exact_threshold=5000,scan_fraction=0.1``.

For the faiss peers, efSearch / nprobe is tuned *per selectivity bucket on the measured
queries* (the smallest value of a doubling ladder reaching recall@10 ≥ 0.95, else the
largest tried) — optimistic for the peers; the store is not tuned.

Metrics: recall@10 against the exact top-10 over V_u, p50/p99 single-query latency, index
bytes (faiss: ``serialize_index`` size; store: RAM-resident bytes from ``memory_bytes()``
and, separately, RAM + the float32 vectors that the store keeps memory-mapped on disk for
re-scoring), ingestion docs/s (vectors indexed per second of build; the store's build
excludes the one-off public quantizer training, which is reported on its own; sh-ivf's
includes its k-means training). Ratios: store p99 / pt-hnsw p99 per bucket, store memory /
shared-index memory (RAM-only and RAM+disk).

NI check: for the first ``--ni-queries`` queries of each bucket, ``--ni-copies`` near
copies of the query (``q + 0.01·noise``, normalised) are added in a new class readable only
by a tenant that runs no queries; each method is rebuilt (sh-hnsw: the new vectors are
added to a copy of the built graph, as a live shared index would ingest them; sh-ivf:
retrained and rebuilt; store: rebuilt with the same public quantizer; exact/pt-hnsw: the
querying tenants' inputs are unchanged by construction) and the queries whose visible
output (ids or score bits) changed are counted. Non-interference requires 0.

Usage::

    .venv/bin/python bench/rag.py                       # 200k, 50 and 800 tenants
    .venv/bin/python bench/rag.py --sizes 1000000 --methods exact,store,sh-ivf
    .venv/bin/python bench/rag.py --store-params exact_threshold=5000,scan_fraction=0.1

Results are also written to ``bench/out/rag-<size>.json``.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from lakeward.rag._index import LabelIndex, Quantizer, SearchParams  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"
DIMS = 384
K = 10
DENSITIES = (0.001, 0.01, 0.1, 0.5)
TARGET = 0.95
METHODS = ("exact", "pt-hnsw", "sh-hnsw", "sh-ivf", "store")
HNSW_M, HNSW_EFC = 32, 40
TUNE = 50  # queries per tenant used to tune the shared indexes' efSearch / nprobe
EF_LADDER = (16, 32, 64, 128, 256, 512, 1024, 2048, 4096)


# -- data -------------------------------------------------------------------------------------


class Mixture:
    """Fixed centres and per-cluster subspaces; ``draw`` samples points for a seed."""

    def __init__(self, clusters: int, seed: int = 1, rank: int = 16) -> None:
        rng = np.random.default_rng(seed)
        centres = rng.standard_normal((clusters, DIMS)).astype(np.float32)
        self.centres = centres / np.linalg.norm(centres, axis=1, keepdims=True)
        bases = rng.standard_normal((clusters, DIMS, rank)).astype(np.float32)
        self.bases = np.linalg.qr(bases)[0].astype(np.float32)  # orthonormal columns
        self.rank = rank

    def draw(self, n: int, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        label = rng.integers(len(self.centres), size=n)
        out = np.empty((n, DIMS), dtype=np.float32)
        for start in range(0, n, 65536):
            lab = label[start : start + 65536]
            m = lab.size
            z = rng.standard_normal((m, self.rank)).astype(np.float32) / math.sqrt(self.rank)
            g = rng.standard_normal((m, DIMS)).astype(np.float32) / math.sqrt(DIMS)
            x = self.centres[lab] + 0.8 * np.einsum("mdr,mr->md", self.bases[lab], z) + 0.3 * g
            out[start : start + m] = x / np.linalg.norm(x, axis=1, keepdims=True)
        return out


def access(n: int, tenants: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row bitsets (n, ⌈T/8⌉) uint8, row class, class bitsets): randperm reader sets."""
    rng = np.random.default_rng(seed)
    bits = np.zeros((n, (tenants + 7) // 8), dtype=np.uint8)
    for t in range(tenants):
        mask = rng.random(n, dtype=np.float32) < DENSITIES[t % 4]
        bits[:, t >> 3] |= mask.astype(np.uint8) << np.uint8(t & 7)
    view = np.ascontiguousarray(bits).view(np.dtype((np.void, bits.shape[1]))).ravel()
    uniq, row_class = np.unique(view, return_inverse=True)
    class_bits = uniq.view(np.uint8).reshape(len(uniq), bits.shape[1])
    return bits, row_class.astype(np.int32).ravel(), class_bits


def access_grouped(n: int, tenants: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Group-shaped access: every vector is readable by exactly one group; groups 0–3 hold
    the four selectivities' shares of the rows (50%, 10%, 1%, 0.1%: ``DENSITIES`` reversed)
    and group 4 the rest; tenant ``t`` reads group ``t % 4``'s rows, so its visible set is one
    large label class (the shape of department-wide documents)."""
    rng = np.random.default_rng(seed)
    shares = np.array([*DENSITIES, 1.0 - sum(DENSITIES)])
    group = rng.choice(len(shares), size=n, p=shares / shares.sum()).astype(np.int32)
    bits = np.zeros((n, (tenants + 7) // 8), dtype=np.uint8)
    for t in range(tenants):
        mask = group == (t % 4)
        bits[:, t >> 3] |= mask.astype(np.uint8) << np.uint8(t & 7)
    view = np.ascontiguousarray(bits).view(np.dtype((np.void, bits.shape[1]))).ravel()
    uniq, row_class = np.unique(view, return_inverse=True)
    class_bits = uniq.view(np.uint8).reshape(len(uniq), bits.shape[1])
    return bits, row_class.astype(np.int32).ravel(), class_bits


def reads(bitsets: np.ndarray, t: int) -> np.ndarray:
    return ((bitsets[:, t >> 3] >> np.uint8(t & 7)) & 1).astype(bool)


# -- helpers ----------------------------------------------------------------------------------


def top_exact(x: np.ndarray, ids: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = x @ q
    if s.size > K:
        part = np.argpartition(-s, K - 1)[:K]
        # include ties at the threshold so (score desc, id asc) is exact
        part = np.flatnonzero(s >= s[part].min())
    else:
        part = np.arange(s.size)
    order = np.lexsort((ids[part], -s[part]))[:K]
    return ids[part[order]], s[part[order]]


def recall(found: list[np.ndarray], truth: list[np.ndarray]) -> float:
    hits = sum(len(np.intersect1d(f[f >= 0], t)) for f, t in zip(found, truth, strict=True))
    return hits / max(1, sum(len(t) for t in truth))


def timed(fn, queries: np.ndarray) -> tuple[list[Any], np.ndarray]:
    outs, lat = [], np.empty(len(queries))
    for i, q in enumerate(queries):
        t0 = time.perf_counter()
        outs.append(fn(q))
        lat[i] = time.perf_counter() - t0
    return outs, lat * 1e3


def faiss_bytes(index: Any) -> int:
    import faiss

    return int(faiss.serialize_index(index).nbytes)


def bitmap(mask: np.ndarray) -> np.ndarray:
    return np.packbits(mask, bitorder="little")


def tune(search, queries, truth, ladder) -> tuple[int, float]:
    """Smallest ladder value reaching TARGET recall (batch search), else the largest."""
    best = (ladder[-1], 0.0)
    for value in ladder:
        ids = search(queries, value)  # None for queries left out of tuning
        pairs = [(f, t) for f, t in zip(ids, truth, strict=True) if f is not None]
        r = recall([f for f, _ in pairs], [t for _, t in pairs])
        best = (value, r)
        if r >= TARGET:
            break
    return best


# -- one (size, tenants) configuration --------------------------------------------------------


def run_config(
    x: np.ndarray,
    queries_all: np.ndarray,
    tenants: int,
    args: argparse.Namespace,
    shared: dict[str, Any],
    quantizer: Quantizer,
) -> dict[str, Any]:
    import faiss

    n = len(x)
    ids = np.arange(n, dtype=np.int64)
    t0 = time.perf_counter()
    draw = access_grouped if args.access == "grouped" else access
    bits, row_class, class_bits = draw(n, tenants, seed=11 + tenants)
    n_classes = len(class_bits)
    print(
        f"\n== n={n:,} T={tenants}: {n_classes:,} label classes "
        f"(access drawn in {time.perf_counter() - t0:.1f}s)",
        flush=True,
    )
    qt = [b + 4 * j for b in range(4) for j in range(args.query_tenants)]  # per bucket
    adversary = tenants - 1
    assert adversary not in qt
    sizes_all = np.array([int(reads(bits, t).sum()) for t in range(tenants)])
    result: dict[str, Any] = {"n": n, "tenants": tenants, "classes": n_classes, "rows": []}

    # per-bucket queries and ground truth
    buckets = []
    per_q = args.queries // args.query_tenants
    for b in range(4):
        items = []
        for j in range(args.query_tenants):
            t = b + 4 * j
            rows = np.flatnonzero(reads(bits, t))
            qs = queries_all[(b * args.query_tenants + j) * per_q :][:per_q]
            xt = np.ascontiguousarray(x[rows])
            truth = [top_exact(xt, rows, q) for q in qs]
            items.append({"t": t, "rows": rows, "x": xt, "q": qs, "truth": truth})
        buckets.append(items)

    # store
    t0 = time.perf_counter()
    store = LabelIndex.build(x, row_class, ids, n_classes, quantizer, graph_min=args.graph_min)
    store_build = time.perf_counter() - t0
    store_ram = store.memory_bytes()
    store_total = store_ram + store.vectors.nbytes
    vis = {t: reads(class_bits, t) for b in buckets for t in (it["t"] for it in b)}

    params = {"store": SearchParams()}
    for spec in args.store_params:
        kv = dict(item.split("=") for item in spec.split(","))
        conv = {k: (float(v) if k == "scan_fraction" else int(v)) for k, v in kv.items()}
        params[f"store[{spec}]"] = SearchParams(**conv)

    pt_indexes: dict[int, Any] = {}
    pt_build = [0.0, 0]
    if "pt-hnsw" in args.methods:
        for items in buckets:
            for it in items:
                index = faiss.IndexHNSWFlat(DIMS, HNSW_M, faiss.METRIC_INNER_PRODUCT)
                index.hnsw.efConstruction = HNSW_EFC
                t0 = time.perf_counter()
                index.add(it["x"])
                pt_build[0] += time.perf_counter() - t0
                pt_build[1] += len(it["x"])
                pt_indexes[it["t"]] = index
        pt_bpv = sum(faiss_bytes(i) for i in pt_indexes.values()) / max(1, pt_build[1])

    rows_out = result["rows"]
    outputs: dict[tuple[str, int], list[tuple[np.ndarray, np.ndarray]]] = {}
    knobs: dict[tuple[str, int], int] = {}
    for b, items in enumerate(buckets):
        truth = [tr[0] for it in items for tr in it["truth"]]
        qs = np.concatenate([it["q"] for it in items])
        sel = np.mean([len(it["rows"]) / n for it in items])

        def emit(method, outs, lat, mem, build, knob=None, extrap=False, b=b, sel=sel, truth=truth):
            found = [np.asarray(o[0]) for o in outs]
            row = {
                "method": method,
                "bucket": DENSITIES[b],
                "selectivity": float(sel),
                "recall": recall(found, truth),
                "p50_ms": float(np.percentile(lat, 50)),
                "p99_ms": float(np.percentile(lat, 99)),
                "mem": mem,
                "mem_extrapolated": extrap,
                "build_docs_s": build,
                "knob": knob,
            }
            rows_out.append(row)
            print(_fmt(row), flush=True)

        if "exact" in args.methods:
            outs, lat = [], []
            for it in items:
                o, la = timed(lambda q, it=it: top_exact(it["x"], it["rows"], q), it["q"])
                outs += o
                lat.append(la)
            mem = int(sizes_all.sum() * (4 * DIMS + 8))
            emit("exact", outs, np.concatenate(lat), mem, None, extrap=True)

        if "pt-hnsw" in args.methods:

            def pt_search(qq, ef, items=items):
                res, start = [], 0
                for it in items:
                    m = len(it["q"])
                    index = pt_indexes[it["t"]]
                    _, li = index.search(
                        qq[start : start + m], K, params=faiss.SearchParametersHNSW(efSearch=ef)
                    )
                    res += [it["rows"][r[r >= 0]] for r in li]
                    start += m
                return res

            ef, _ = tune(pt_search, qs, truth, EF_LADDER)  # all queries: cheap
            outs, lat = [], []
            for it in items:
                index, p = pt_indexes[it["t"]], faiss.SearchParametersHNSW(efSearch=ef)

                def one(q, index=index, p=p, rows=it["rows"]):
                    d, li = index.search(q[None, :], K, params=p)
                    return rows[li[0][li[0] >= 0]], d[0]

                o, la = timed(one, it["q"])
                outs += o
                lat.append(la)
            mem = int(sizes_all.sum() * pt_bpv)
            emit("pt-hnsw", outs, np.concatenate(lat), mem, pt_build[1] / pt_build[0], ef, True)

        for name in ("sh-hnsw", "sh-ivf"):
            if name not in args.methods:
                continue
            index = shared[name]
            sels = {}
            for it in items:
                bm = bitmap(reads(bits, it["t"]))
                sels[it["t"]] = (bm, faiss.IDSelectorBitmap(n, faiss.swig_ptr(bm)))

            def mkp(t, v, name=name, sels=sels):
                if name == "sh-hnsw":
                    return faiss.SearchParametersHNSW(sel=sels[t][1], efSearch=v)
                return faiss.SearchParametersIVF(sel=sels[t][1], nprobe=v)

            def sh_search(qq, v, items=items, index=index, mkp=mkp):
                res, start = [], 0
                for it in items:
                    m = len(it["q"])
                    sub = qq[start : start + min(m, TUNE)]
                    _, li = index.search(sub, K, params=mkp(it["t"], v))
                    res += list(li) + [None] * (m - len(sub))
                    start += m
                return res

            ladder = EF_LADDER if name == "sh-hnsw" else shared["nprobe_ladder"]
            v, _ = tune(sh_search, qs, truth, ladder)  # first TUNE queries per tenant
            knobs[(name, b)] = v
            outs, lat = [], []
            for it in items:
                p = mkp(it["t"], v)

                def one(q, p=p, index=index):
                    d, li = index.search(q[None, :], K, params=p)
                    return li[0], d[0]

                o, la = timed(one, it["q"])
                outs += o
                lat.append(la)
            outputs[(name, b)] = outs
            emit(
                name, outs, np.concatenate(lat), shared[name + "_bytes"], shared[name + "_build"], v
            )

        if "store" in args.methods:
            for label, sp in params.items():
                outs, lat = [], []
                for it in items:
                    v = vis[it["t"]]

                    def one(q, v=v, sp=sp):
                        r, s = store.search(q, v, K, sp)
                        return store.row_key[r], s

                    o, la = timed(one, it["q"])
                    outs += o
                    lat.append(la)
                outputs[(label, b)] = outs
                emit(label, outs, np.concatenate(lat), store_ram, n / store_build)
                rows_out[-1]["mem_total"] = store_total

    _ratios(result, store_ram, store_total, shared)
    if args.ni_queries > 0:
        result["ni"] = ni_check(
            x, store, row_class, n_classes, buckets, vis, quantizer, params, shared, knobs, args
        )
    return result


def ni_check(x, store1, row_class, n_classes, buckets, vis, quantizer, params, shared, knobs, args):
    """Add near copies of some queries, invisible to every querier; count changed outputs."""
    import faiss

    n = len(x)
    rng = np.random.default_rng(99)
    probes = []  # (bucket, tenant, query)
    for b, items in enumerate(buckets):
        for it in items:
            for q in it["q"][: max(1, args.ni_queries // len(items))]:
                probes.append((b, it["t"], q))
    adv = []
    for _, _, q in probes:
        noise = rng.standard_normal((args.ni_copies, DIMS)).astype(np.float32) / math.sqrt(DIMS)
        a = q[None, :] + 0.01 * noise
        adv.append(a / np.linalg.norm(a, axis=1, keepdims=True))
    adv = np.concatenate(adv).astype(np.float32)
    m = len(adv)
    x2 = np.concatenate([x, adv])
    ids2 = np.arange(n + m, dtype=np.int64)
    rc2 = np.concatenate([row_class, np.full(m, n_classes, dtype=np.int32)])
    out: dict[str, Any] = {"probes": len(probes), "added": m}
    print(f"-- NI check: {len(probes)} queries, {m} invisible near-copies added", flush=True)

    def rowmask(t):
        # querying tenant's rows among n+m: same as before plus m invisible
        mask = np.zeros(n + m, dtype=bool)
        for items in buckets:
            for it in items:
                if it["t"] == t:
                    mask[it["rows"]] = True
        return mask

    def compare(name, before, after):
        changed = sum(
            not (
                np.array_equal(a[0], b[0])
                and np.asarray(a[1]).tobytes() == np.asarray(b[1]).tobytes()
            )
            for a, b in zip(before, after, strict=True)
        )
        out[name] = changed
        print(f"   {name:<10} changed outputs: {changed}/{len(probes)}", flush=True)

    if "store" in args.methods:
        store2 = LabelIndex.build(x2, rc2, ids2, n_classes + 1, quantizer, graph_min=args.graph_min)
        for label, sp in params.items():
            before, after = [], []
            for _, t, q in probes:
                v = vis[t]
                r, s = store1.search(q, v, K, sp)
                before.append((store1.row_key[r], s))
                r, s = store2.search(q, np.concatenate([v, [False]]), K, sp)
                after.append((store2.row_key[r], s))
            compare(label, before, after)

    for name in ("sh-hnsw", "sh-ivf"):
        if name not in args.methods:
            continue
        index1 = shared[name]
        if name == "sh-hnsw":
            index2 = faiss.clone_index(index1)
            index2.add(adv)
        else:
            index2 = build_ivf(x2, shared["nlist"])[0]
        before, after = [], []
        for b, t, q in probes:
            mask = rowmask(t)
            keep = []
            for idx, mk in ((index1, mask[:n]), (index2, mask)):
                bm = bitmap(mk)
                sel = faiss.IDSelectorBitmap(len(mk), faiss.swig_ptr(bm))
                keep.append(bm)
                if name == "sh-hnsw":
                    p = faiss.SearchParametersHNSW(sel=sel, efSearch=knobs[(name, b)])
                else:
                    p = faiss.SearchParametersIVF(sel=sel, nprobe=knobs[(name, b)])
                d, li = idx.search(q[None, :], K, params=p)
                (before if idx is index1 else after).append((li[0], d[0]))
        compare(name, before, after)
        del index2
    return out


def build_ivf(x: np.ndarray, nlist: int) -> tuple[Any, float]:
    import faiss

    t0 = time.perf_counter()
    coarse = faiss.IndexFlatIP(DIMS)
    index = faiss.IndexIVFFlat(coarse, DIMS, nlist, faiss.METRIC_INNER_PRODUCT)
    index.cp.seed = 1234
    rng = np.random.default_rng(5)
    train = x[np.sort(rng.choice(len(x), size=min(len(x), 40 * nlist), replace=False))]
    index.train(train)
    index.add(x)
    coarse.this.disown()  # the IVF index owns (and frees) its coarse quantizer
    index.own_fields = True
    return index, time.perf_counter() - t0


def _ratios(result: dict[str, Any], store_ram: int, store_total: int, shared) -> None:
    rows = result["rows"]
    by = {(r["method"], r["bucket"]): r for r in rows}
    lines = []
    for b in DENSITIES:
        s, p = by.get(("store", b)), by.get(("pt-hnsw", b))
        if s and p:
            lines.append(f"store p99 / pt-hnsw p99 @ {b:g}: {s['p99_ms'] / p['p99_ms']:.2f}x")
    for name in ("sh-hnsw", "sh-ivf"):
        if name + "_bytes" in shared:
            sb = shared[name + "_bytes"]
            lines.append(
                f"store memory / {name} memory: RAM {store_ram / sb:.2f}x, "
                f"RAM+mmap vectors {store_total / sb:.2f}x"
            )
    result["ratios"] = lines
    print("\n".join(lines), flush=True)


def _fmt(row: dict[str, Any]) -> str:
    mem = f"{row['mem'] / 2**20:9.1f}{'*' if row['mem_extrapolated'] else ' '}"
    build = f"{row['build_docs_s']:10,.0f}" if row["build_docs_s"] else f"{'-':>10}"
    knob = "" if row["knob"] is None else str(row["knob"])
    return (
        f"{row['method']:<24} {row['bucket']:>6g} {100 * row['selectivity']:8.3f}% "
        f"{row['recall']:7.3f} {row['p50_ms']:8.3f} {row['p99_ms']:8.3f} {mem} {build} {knob:>6}"
    )


HEADER = (
    f"{'method':<24} {'bucket':>6} {'select.':>9} {'rec@10':>7} {'p50 ms':>8} {'p99 ms':>8} "
    f"{'index MB':>10} {'docs/s':>10} {'ef/np':>6}\n"
    "(* = extrapolated to all tenants; ef/np = efSearch or nprobe tuned per bucket)"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="200000", help="corpus sizes (1000000 is opt-in)")
    parser.add_argument("--tenants", default="50,800")
    parser.add_argument("--queries", type=int, default=200, help="queries per selectivity bucket")
    parser.add_argument("--query-tenants", type=int, default=1, help="querying tenants per bucket")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--clusters", type=int, default=256)
    parser.add_argument(
        "--access",
        choices=("randperm", "grouped"),
        default="randperm",
        help="reader sets: randperm (a class per vector, almost) or grouped (one class per "
        "selectivity bucket)",
    )
    parser.add_argument(
        "--graph-min",
        type=int,
        default=10_000,
        help="the store's graph threshold (rows per class; LAKEWARD_RAG_GRAPH_MIN's default)",
    )
    parser.add_argument("--store-params", action="append", default=[], metavar="K=V,...")
    parser.add_argument("--ni-queries", type=int, default=10, help="NI-check queries per bucket")
    parser.add_argument("--ni-copies", type=int, default=10)
    parser.add_argument("--no-json", action="store_true")
    args = parser.parse_args()
    args.methods = [m for m in args.methods.split(",") if m]
    unknown = set(args.methods) - set(METHODS)
    if unknown:
        parser.error(f"unknown methods {sorted(unknown)}")
    import faiss

    faiss.omp_set_num_threads(1)
    mixture = Mixture(args.clusters)
    for n in (int(s) for s in args.sizes.split(",")):
        nlist = round(4 * math.sqrt(n))
        t0 = time.perf_counter()
        x = mixture.draw(n, seed=2)
        queries = mixture.draw(4 * args.queries, seed=3)
        public = mixture.draw(20 * nlist, seed=4)
        print(
            f"\n# n={n:,}: data drawn in {time.perf_counter() - t0:.1f}s; nlist={nlist}", flush=True
        )
        t0 = time.perf_counter()
        quantizer = Quantizer.from_public(public, nlist, source="synthetic-public", seed=0)
        qtime = time.perf_counter() - t0
        print(
            f"store quantizer: k-means on {len(public):,} public rows in {qtime:.1f}s", flush=True
        )
        shared: dict[str, Any] = {"nlist": nlist, "nprobe_ladder": _ladder(nlist)}
        if "sh-hnsw" in args.methods:
            index = faiss.IndexHNSWFlat(DIMS, HNSW_M, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = HNSW_EFC
            t0 = time.perf_counter()
            index.add(x)
            shared["sh-hnsw"] = index
            shared["sh-hnsw_build"] = n / (time.perf_counter() - t0)
            shared["sh-hnsw_bytes"] = faiss_bytes(index)
            print(f"sh-hnsw built: {shared['sh-hnsw_build']:,.0f} docs/s", flush=True)
        if "sh-ivf" in args.methods:
            index, secs = build_ivf(x, nlist)
            shared["sh-ivf"] = index
            shared["sh-ivf_build"] = n / secs
            shared["sh-ivf_bytes"] = faiss_bytes(index)
            print(
                f"sh-ivf built: {shared['sh-ivf_build']:,.0f} docs/s (training included)",
                flush=True,
            )
        report: dict[str, Any] = {"n": n, "nlist": nlist, "quantizer_s": qtime, "configs": []}
        for tenants in (int(t) for t in args.tenants.split(",")):
            print(HEADER)
            report["configs"].append(run_config(x, queries, tenants, args, shared, quantizer))
        if not args.no_json:
            OUT.mkdir(parents=True, exist_ok=True)
            path = OUT / f"rag-{n}.json"
            path.write_text(json.dumps(report, indent=1, default=str))
            print(f"wrote {path}")


def _ladder(nlist: int) -> tuple[int, ...]:
    out, v = [], 1
    while v < nlist:
        out.append(v)
        v *= 2
    return (*out, nlist)


if __name__ == "__main__":
    main()
