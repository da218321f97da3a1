"""Stage 3: exact containment ratios from keyed row fingerprints, computed with Spark joins.

1. **Fingerprint pass.** Every dataset involved is read once. As a child it yields the
   fingerprints of its full rows (once for all its parents; again only for parents that
   need its strings parsed); as a parent, one fingerprint per row for each distinct
   *projection* its candidate children need (children mapping onto the same parent columns
   in the same way share one). Rows are aggregated to ``(tag, fingerprint, count)`` and
   written to a scratch area; several datasets go into one Spark job. Per dataset only its
   columns' value hashes are planned; the HMAC is one expression over a hash array and a
   broadcast table of projections, so a job's plan stays small however many datasets and
   projections it holds (planning per-projection expressions grew faster than linearly:
   one job over 96 small datasets took 58 s against 12 s in batches of 16).
2. **Sample check** (cheap early rejection). Each child's sample is the ``k`` smallest
   fingerprints (a uniform sample of its distinct rows, since HMAC values are uniform; with
   multiset semantics, of its rows). One join on the fingerprint gives each edge's sample
   hits. A child no larger than ``k`` is decided exactly here. A missed sample row rules out
   containment; the edge is then dropped unless a ratio at the near threshold could plausibly
   give that few hits (binomial lower tail at most ``alpha``; sampling without replacement is
   more concentrated than that, so the test is conservative).
3. **Exact ratio** for the survivors: one join of the children's and the projections'
   fingerprints. Set semantics: ``|distinct child rows found| / |distinct child rows|``;
   multiset: ``sum(min(child count, parent count)) / child rows``.

Join sizes follow the number of matching rows, not the number of candidate pairs.
"""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lakeward.dedup._fingerprint import (
    LakeKey,
    indexed_fingerprint_sql,
    row_fingerprint_sql,
    value_hash_sql,
)
from lakeward.dedup._schema import Candidate, DatasetInfo, domain_of, schema_ddl
from lakeward.errors import LakeError
from lakeward.lake import DatasetSpec

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

__all__ = ["ContentConfig", "ContentResult", "check_content"]


@dataclass(frozen=True)
class ContentConfig:
    """Knobs of stage 3."""

    near_threshold: float
    multiset: bool
    sample_size: int
    alpha: float
    batch_datasets: int
    work_dir: str
    concurrency: int = 4


@dataclass
class ContentResult:
    """What stage 3 did: seconds per step, how many edges each step kept, read failures."""

    seconds: dict[str, float] = field(default_factory=dict)
    sample_survivors: int = 0
    exact_checked: int = 0
    failed: dict[str, str] = field(default_factory=dict)


def _quoted(name: str) -> Column:
    from pyspark.sql import functions as F

    return F.col("`" + name.replace("`", "``") + "`")


_Spec = tuple[tuple[str, str, str, bool], ...]  # (key, column, domain, parse) in order


_Projection = tuple[int, str, list[int]]  # (tag, names, 1-based positions in the hash array)


def _hash_frame(
    spark: SparkSession,
    spec: DatasetSpec,
    dataset: DatasetInfo,
    as_child: Sequence[tuple[int, _Spec]],
    as_parent: Sequence[tuple[int, _Spec]],
) -> tuple[DataFrame, list[_Projection]]:
    """A dataset's rows as ``(_ds, _h)`` and the projections to fingerprint them by.

    ``_h`` is the array of the value hashes the projections need (each column once per way
    it is compared); a projection is its ``tag`` (``+id`` child projections, ``-id`` parent
    ones), its names and its positions in ``_h``.

    Only the small per-column expressions are per dataset: the fingerprint itself is one
    expression for a whole batch (:func:`_batch_fingerprints`), so planning a batch does
    not grow with datasets × projections × columns.
    """
    from lakeward.lake import read_dataset

    ddl = schema_ddl((c.name, c.type) for c in dataset.columns)
    df = read_dataset(spark, spec, profiled_schema=ddl)  # files unchanged since profiled
    types = {f.name: f.dataType.simpleString() for f in df.schema.fields}
    missing = [c.name for c in dataset.columns if c.name not in types]
    if missing:
        raise LakeError(
            f"Dataset {dataset.name}: columns {missing} are not in its files any more; "
            "re-profile it (`lakeward lake profile`).",
            dataset=dataset.name,
        )
    variants: dict[tuple[str, str, bool], int] = {}
    projections: list[_Projection] = []
    for sign, specs in ((1, as_child), (-1, as_parent)):
        for proj_id, columns in specs:
            positions = [
                variants.setdefault((name, domain, parse), len(variants) + 1)
                for _, name, domain, parse in columns
            ]
            projections.append((sign * proj_id, ",".join(k for k, _, _, _ in columns), positions))
    hashes = ", ".join(value_hash_sql(n, types[n], d, p) for n, d, p in variants)
    frame = df.selectExpr(f"CAST({dataset.id} AS BIGINT) AS _ds", f"array({hashes}) AS _h")
    return frame, projections


def _batch_fingerprints(
    session: SparkSession,
    parts: Sequence[tuple[int, DataFrame, list[_Projection]]],
    key_frame: DataFrame,
) -> DataFrame:
    """``(tag, fp, n)``: each projection's distinct row fingerprints and their counts.

    The datasets' hash arrays are unioned, joined to their projections (a broadcast table),
    exploded to one row per projection, fingerprinted by one HMAC expression and counted.
    """
    from functools import reduce

    from pyspark.sql import functions as F

    union = reduce(lambda a, b: a.unionByName(b), [frame for _, frame, _ in parts])
    width = max(len(positions) for _, _, projections in parts for _, _, positions in projections)
    table = session.createDataFrame(
        [
            (ds, [(tag, names, positions) for tag, names, positions in projections])
            for ds, _, projections in parts
        ],
        "_ds bigint, _p array<struct<tag: bigint, names: string, idx: array<int>>>",
    )
    rows = union.join(F.broadcast(table), "_ds").select(F.explode("_p").alias("p"), "_h")
    fp = indexed_fingerprint_sql("p.names", "_h", "p.idx", width)
    return (
        rows.crossJoin(F.broadcast(key_frame))
        .selectExpr("p.tag AS tag", f"{fp} AS fp")
        .groupBy("tag", "fp")
        .agg(F.count(F.lit(1)).alias("n"))
    )


def _direct_fingerprints(
    parts: Sequence[tuple[int, DataFrame, list[_Projection]]], key_frame: DataFrame
) -> DataFrame:
    """The same ``(tag, fp, n)`` as :func:`_batch_fingerprints`, one expression per projection.

    For batches of big datasets: planning per projection is then negligible, and positions
    known when planning make the per-row work cheaper than a lookup through a joined table.
    """
    from functools import reduce

    from pyspark.sql import functions as F

    frames = []
    for _, frame, projections in parts:
        structs = ", ".join(
            f"named_struct('tag', CAST({tag} AS BIGINT), 'fp', "
            + row_fingerprint_sql(names.split(","), [f"element_at(_h, {i})" for i in positions])
            + ")"
            for tag, names, positions in projections
        )
        frames.append(
            frame.crossJoin(F.broadcast(key_frame))
            .selectExpr(f"explode(array({structs})) AS x")
            .select("x.tag", "x.fp")
        )
    union = reduce(lambda a, b: a.unionByName(b), frames)
    return union.groupBy("tag", "fp").agg(F.count(F.lit(1)).alias("n"))


_SMALL_BATCH_BYTES = 64 << 20
# Datasets below this size are fingerprinted through the shared hash-array expression (their
# rows are few, so planning dominates); bigger ones one expression per projection (cheaper
# per row). Find, warm, on the benchmark lakes: 96 datasets of ~37 KB, 3.7-4.0 s against
# 4.2-5.8 s all per projection; 96 of ~2 MB, 37-52 s all through the array against 33-37 s.
_ARRAY_PATH_BYTES = 512 << 10


def _small_data_session(spark: SparkSession) -> SparkSession | None:
    """A session (sharing ``spark``'s context) that interprets instead of generating code.

    For batches of small files, compiling generated code for every dataset's distinct plan
    costs more than it saves; big batches use ``spark`` itself. ``None`` on Spark Connect,
    whose sessions cannot be cloned this way.
    """
    try:
        session = spark.newSession()
        session.conf.set("spark.sql.codegen.wholeStage", "false")
        session.conf.set("spark.sql.codegen.factoryMode", "NO_CODEGEN")
    except Exception:  # Spark Connect, or a conf the cluster refuses: use spark as it is
        return None
    return session


def _binomial_lower_tail(hits: int, size: int, p: float) -> float:
    from scipy.stats import binom

    return float(binom.cdf(hits, size, p))


def check_content(
    spark: SparkSession,
    candidates: Sequence[Candidate],
    specs: dict[int, DatasetSpec],
    key: LakeKey,
    config: ContentConfig,
    progress: Callable[[str], None] | None = None,
) -> ContentResult:
    """Decide every candidate with stage 3 (in place: stage, status, ratio, sample counts).

    ``specs`` holds the current files of every dataset the candidates name. A dataset that
    cannot be read fails only its own edges (``result.failed`` says why).
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    result = ContentResult()
    if not candidates:
        return result
    started = time.perf_counter()
    # Projections: how each side's rows are fingerprinted. Edges that read their rows the
    # same way share one (a child's own rows are one projection for all its parents, unless
    # an edge must parse the child's strings).
    parent_ids: dict[tuple[int, _Spec], int] = {}
    child_ids: dict[tuple[int, _Spec], int] = {}
    edge_projection: list[int] = []
    edge_child: list[int] = []
    for cand in candidates:
        parent_spec: _Spec = tuple((p.key, p.parent, p.domain, p.parse) for p in cand.pairs)
        types = {c.name: c.type for c in cand.child.columns}
        child_spec: _Spec = tuple(
            (
                p.key,
                p.child,
                p.domain if p.child_parse else domain_of(types[p.child]),
                p.child_parse,
            )
            for p in cand.pairs
        )
        pkey, ckey = (cand.parent.id, parent_spec), (cand.child.id, child_spec)
        edge_projection.append(parent_ids.setdefault(pkey, len(parent_ids) + 1))
        edge_child.append(child_ids.setdefault(ckey, len(child_ids) + 1))
    datasets: dict[int, DatasetInfo] = {}
    for cand in candidates:
        datasets[cand.child.id] = cand.child
        datasets[cand.parent.id] = cand.parent
    by_parent: dict[int, list[tuple[int, _Spec]]] = {}
    for (parent_id, pspec), proj_id in parent_ids.items():
        by_parent.setdefault(parent_id, []).append((proj_id, pspec))
    by_child: dict[int, list[tuple[int, _Spec]]] = {}
    for (child_id, cspec), proj_id in child_ids.items():
        by_child.setdefault(child_id, []).append((proj_id, cspec))

    run_dir = f"{config.work_dir.rstrip('/')}/run-{uuid.uuid4().hex[:12]}"
    path = f"{run_dir}/fingerprints"
    try:
        order = sorted(datasets.values(), key=lambda d: d.name)
        batches = [
            order[i : i + config.batch_datasets]
            for i in range(0, len(order), config.batch_datasets)
        ]
        done = 0

        small = _small_data_session(spark)

        key_frames: dict[int, DataFrame] = {}

        def write(session: SparkSession, batch: list[DatasetInfo], target: str) -> dict[str, str]:
            failed: dict[str, str] = {}
            parts = []
            for d in batch:
                try:
                    frame, projections = _hash_frame(
                        session, specs[d.id], d, by_child.get(d.id, []), by_parent.get(d.id, [])
                    )
                except LakeError as exc:
                    failed[d.name] = str(exc)
                    continue
                parts.append((d.id, frame, projections))
            if parts:
                if id(session) not in key_frames:
                    key_frames[id(session)] = key.frame(session)
                key_frame = key_frames[id(session)]
                size = {d.id: d.bytes for d in batch}
                tiny = [p for p in parts if size[p[0]] < _ARRAY_PATH_BYTES]
                other = [p for p in parts if size[p[0]] >= _ARRAY_PATH_BYTES]
                if tiny:
                    frame = _batch_fingerprints(session, tiny, key_frame)
                    frame.write.mode("append").parquet(target)
                if other:
                    _direct_fingerprints(other, key_frame).write.mode("append").parquet(target)
            return failed

        def one_batch(index: int, batch: list[DatasetInfo]) -> dict[str, str]:
            tiny = sum(d.bytes for d in batch) < _SMALL_BATCH_BYTES
            session = small if tiny and small is not None else spark
            try:
                return write(session, batch, f"{path}/batch-{index:05d}")
            except Exception:
                pass
            # One bad file fails the whole batch: redo it dataset by dataset to find it.
            failed: dict[str, str] = {}
            for j, d in enumerate(batch):
                try:
                    failed.update(write(session, [d], f"{path}/batch-{index:05d}-{j:04d}"))
                except Exception as exc:  # Spark read/parse errors arrive as JVM errors
                    first = next(
                        (ln.strip() for ln in str(exc).splitlines() if ln.strip()),
                        type(exc).__name__,
                    )
                    failed[d.name] = (
                        f"Spark could not read it: {first[:300]}. Fix the file, then "
                        "re-profile it (`lakeward lake profile`)."
                    )
            return failed

        # Several batches at once: one batch's driver-side work overlaps another's job.
        with ThreadPoolExecutor(config.concurrency, thread_name_prefix="lakeward-dedup") as pool:
            futures = [pool.submit(one_batch, i, b) for i, b in enumerate(batches)]
            for future, batch in zip(futures, batches, strict=True):
                result.failed.update(future.result())
                done += len(batch)
                if progress:
                    progress(f"fingerprinted {done}/{len(order)} datasets")
        result.seconds["fingerprint"] = time.perf_counter() - started

        failed_ids = {d.id for d in datasets.values() if d.name in result.failed}
        live: list[int] = []
        for i, cand in enumerate(candidates):
            bad = [d.name for d in (cand.child, cand.parent) if d.id in failed_ids]
            if bad:
                cand.stage, cand.status, cand.ratio = "content", "pruned", None
                cand.reasons.append(f"could not read {bad[0]}: {result.failed[bad[0]]}")
            else:
                live.append(i)
        if not live:
            return result

        step = time.perf_counter()
        fps = spark.read.option("recursiveFileLookup", "true").parquet(path)
        child_fps = fps.where(F.col("tag") > 0).select(
            F.col("tag").alias("child"), "fp", F.col("n").alias("c")
        )
        proj_fps = fps.where(F.col("tag") < 0).select(
            (-F.col("tag")).alias("proj"), "fp", F.col("n").alias("p")
        )
        totals = {
            int(r["child"]): (int(r["distinct"]), int(r["rows"]))
            for r in child_fps.groupBy("child")
            .agg(F.count(F.lit(1)).alias("distinct"), F.sum("c").alias("rows"))
            .collect()
        }
        k = config.sample_size
        if config.multiset:
            items = child_fps.select(
                "child", "fp", F.explode(F.sequence(F.lit(1).cast("long"), F.col("c"))).alias("i")
            ).withColumn("rank", F.xxhash64("fp", "i"))
            window = Window.partitionBy("child").orderBy("rank", "fp", "i")
            sample = items.withColumn("r", F.row_number().over(window)).where(F.col("r") <= k)
            hit_rows = (
                sample.join(proj_fps, "fp")
                .where(F.col("p") >= F.col("i"))
                .groupBy("child", "proj")
                .agg(F.count(F.lit(1)).alias("hits"))
                .collect()
            )
        else:
            window = Window.partitionBy("child").orderBy("fp")
            sample = child_fps.withColumn("r", F.row_number().over(window)).where(F.col("r") <= k)
            hit_rows = (
                sample.join(proj_fps, "fp")
                .groupBy("child", "proj")
                .agg(F.count(F.lit(1)).alias("hits"))
                .collect()
            )
        hits = {(int(r["child"]), int(r["proj"])): int(r["hits"]) for r in hit_rows}
        exact: list[int] = []
        for i in live:
            cand = candidates[i]
            distinct, rows = totals.get(edge_child[i], (0, 0))
            n = rows if config.multiset else distinct
            size = min(k, n)
            h = hits.get((edge_child[i], edge_projection[i]), 0)
            cand.sample_hits, cand.sample_size = h, size
            if n == 0:
                cand.stage, cand.status, cand.ratio = "content", "pruned", None
                cand.reasons.append("child has no rows")
                continue
            if size == n:  # the sample is the whole child: exact already
                _decide(cand, h, n, config.near_threshold)
                continue
            if h == size and cand.exact_possible:
                exact.append(i)
                continue
            near_ok = config.near_threshold < 1.0 and cand.upper_bound >= config.near_threshold
            if near_ok and _binomial_lower_tail(h, size, config.near_threshold) >= config.alpha:
                exact.append(i)
                continue
            cand.stage, cand.status, cand.ratio = "sample", "pruned", None
            cand.reasons.append(f"{size - h} of {size} sampled child rows not in the parent")
        result.sample_survivors = sum(1 for i in live if candidates[i].status != "pruned")
        result.seconds["sample"] = time.perf_counter() - step

        step = time.perf_counter()
        if exact:
            wanted = spark.createDataFrame(
                sorted({(edge_child[i], edge_projection[i]) for i in exact}),
                "child long, proj long",
            )
            cj = child_fps.join(F.broadcast(wanted.select("child").distinct()), "child")
            pj = proj_fps.join(F.broadcast(wanted.select("proj").distinct()), "proj")
            matched = {
                (int(r["child"]), int(r["proj"])): (int(r["md"]), int(r["mm"]))
                for r in cj.join(pj, "fp")
                .join(F.broadcast(wanted), ["child", "proj"])
                .groupBy("child", "proj")
                .agg(
                    F.count(F.lit(1)).alias("md"),
                    F.sum(F.least(F.col("c"), F.col("p"))).alias("mm"),
                )
                .collect()
            }
            for i in exact:
                cand = candidates[i]
                distinct, rows = totals[edge_child[i]]
                md, mm = matched.get((edge_child[i], edge_projection[i]), (0, 0))
                if config.multiset:
                    _decide(cand, mm, rows, config.near_threshold)
                else:
                    _decide(cand, md, distinct, config.near_threshold)
        result.exact_checked = len(exact)
        result.seconds["exact"] = time.perf_counter() - step
        return result
    finally:
        if "://" not in run_dir or run_dir.startswith("file:"):
            shutil.rmtree(run_dir.removeprefix("file://"), ignore_errors=True)


def _decide(cand: Candidate, matched: int, total: int, near_threshold: float) -> None:
    cand.matched, cand.total = matched, total
    cand.ratio = matched / total
    cand.stage = "content"
    if matched == total:
        cand.status = "contained"
    elif near_threshold < 1.0 and cand.ratio >= near_threshold:
        cand.status = "near"
    else:
        cand.status = "pruned"
