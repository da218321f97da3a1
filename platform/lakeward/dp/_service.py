"""Streams in the catalog, and releases that are immutable, idempotent and budget-governed.

Releasing period ``p`` of a stream, in this order (each step survives a crash):

1. the policy layer decides ``dp.release`` for the stream's principal and purpose on every
   source dataset (audited; a deny stops here);
2. source files never seen before are recorded with ingest period ``p`` (late events go to
   ``p``, never to a released period); if a file ingested earlier is gone or changed (deleted,
   compacted, rewritten) the stream is **halted** (audited): its events would otherwise count
   again under a new ingest period, and a unit bounded to ``max_periods`` would count in more
   periods. Bounds are kept by never recounting, not by remembering units: the catalog holds
   no per-unit state. Sources of a stream are append-only;
3. the needed columns are checked against the schema the stream was created with (a change
   halts the stream, audited);
4. Spark computes the bounded per-key increments (see :mod:`lakeward.dp._aggregate`);
5. the ledger reserves this period's ρ (the counter's spend through ``p`` minus through
   ``p−1``) for (ledger unit, principal, purpose) — refused over the cap;
6. in one write transaction the period's row is claimed: if it is already ``released`` the
   persisted outputs are returned and the reservation is given back; otherwise fresh noise is
   drawn from OpenDP's exact sampler, exactly once, and stored as ``pending``, sealed with the
   outputs, true totals and counter state (:mod:`lakeward.dp._sealed`: AES-GCM under a key
   outside the catalog; a pending row left by a crashed run is reused as is: its noise is
   never redrawn);
7. the reservation is committed, then the row is marked ``released`` (its outputs written in
   clear) and audited.

A retry, a re-run or a second process therefore returns the persisted outputs and spends
nothing more; a crash between 5 and 7 leaves a pending row whose reservation expires (budget
returned) or was committed (the next run only marks it released). Noise depends on nothing
but the sampler: never on the data, the query text or the run.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lakeward.catalog import (
    AuditLog,
    Catalog,
    Dataset,
    DPRelease,
    DPStream,
    DPStreamFile,
    write_lock,
)
from lakeward.catalog._models import utcnow
from lakeward.dp._counters import ContinualCounter, default_counter, make_counter
from lakeward.dp._noise import release_source
from lakeward.dp._sealed import MechanismState, seal, unseal
from lakeward.dp._streams import StreamSpec, parse_duration, spec_from_mapping
from lakeward.errors import (
    BudgetExhausted,
    InputError,
    LakeError,
    LakewardError,
    LakewardInternalError,
    NotFound,
    StreamSchemaChanged,
)

if TYPE_CHECKING:
    from lakeward.lake import DatasetSpec
    from lakeward.policy import PolicyBundle

__all__ = [
    "PlannedRelease",
    "ReleaseIncomplete",
    "ReleaseResult",
    "Series",
    "create_stream",
    "plan_releases",
    "get_stream",
    "list_streams",
    "release_streams",
    "stream_budget",
    "stream_counter",
    "stream_info",
    "stream_series",
]

WAIT_FOR_OTHER_S = 120.0


@dataclass
class ReleaseResult:
    """One released period (``fresh``: released by this call, not read back)."""

    stream: str
    period: int
    start: datetime
    end: datetime
    keys: list[str]
    values: list[float]
    sd: float
    rho: float
    fresh: bool

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly."""
        return {
            "stream": self.stream,
            "period": self.period,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "values": dict(zip(self.keys, self.values, strict=True)),
            "sd": self.sd,
            "rho": self.rho,
            "fresh": self.fresh,
        }


@dataclass(frozen=True)
class PlannedRelease:
    """What ``release`` would do for one stream now: the due periods and the ρ they cost.

    ``error`` says why the stream would release nothing: ``refused_by`` is ``input``
    (halted, a period not ended), ``policy`` (``dp.release`` would be denied for the
    creator) or ``budget`` (the spend would exceed the cap).
    """

    stream: str
    periods: list[int]
    rho: float
    ledger: tuple[str, str, str]  # (unit, principal, purpose) charged
    error: str | None = None
    refused_by: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly."""
        unit, principal, purpose = self.ledger
        return {
            "stream": self.stream,
            "periods": self.periods,
            "rho": self.rho,
            "ledger": {"unit": unit, "principal": principal, "purpose": purpose},
            "error": self.error,
            "refused_by": self.refused_by,
        }


class ReleaseIncomplete(LakewardError):
    """Several streams were released; some failed. Nothing failed silently.

    ``released`` holds what the other streams released; ``failures`` each failed stream's
    error. The exit code is 2 when every failure is an input error, 1 otherwise.
    """

    def __init__(
        self, released: dict[str, list[ReleaseResult]], failures: dict[str, BaseException]
    ) -> None:
        self.released = released
        self.failures = failures
        self.exit_code = 2 if all(isinstance(e, InputError) for e in failures.values()) else 1
        listed = "\n  ".join(
            f"{name}: {(str(exc) or type(exc).__name__).splitlines()[0]}"
            for name, exc in failures.items()
        )
        super().__init__(
            f"{len(failures)} of {len(released) + len(failures)} streams were not released "
            f"(the others were):\n  {listed}"
        )


@dataclass
class Series:
    """A stream's released series: one row per released period, one column per key."""

    stream: str
    keys: list[str]
    periods: list[int] = field(default_factory=list)
    starts: list[datetime] = field(default_factory=list)
    values: list[list[float]] = field(default_factory=list)
    sd: list[float] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly, with 95% intervals (±1.96 sd)."""
        return {
            "stream": self.stream,
            "keys": self.keys,
            "periods": [
                {
                    "period": p,
                    "start": s.isoformat(),
                    "sd": sd,
                    "ci95": 1.959964 * sd,
                    "values": dict(zip(self.keys, v, strict=True)),
                }
                for p, s, v, sd in zip(self.periods, self.starts, self.values, self.sd, strict=True)
            ],
        }


# -- streams ---------------------------------------------------------------------------------


def _spec(row: DPStream) -> StreamSpec:
    return spec_from_mapping(row.spec)


def get_stream(catalog: Catalog, name: str) -> DPStream:
    """The stream row.

    Raises:
        NotFound: no stream has that name.
    """
    with catalog.session() as session:
        row = session.scalar(select(DPStream).where(DPStream.name == name))
    if row is None:
        raise NotFound(f"No DP stream named {name!r}; `lakeward dp stream list` shows them.")
    return row


def stream_counter(spec: StreamSpec) -> ContinualCounter:
    """The counter a stream runs (its kind, or the best one for its horizon)."""
    width = len(spec.key_labels())
    if spec.counter:
        return make_counter(
            spec.counter, spec.horizon, spec.rho, sensitivity=spec.sensitivity, width=width
        )
    return default_counter(spec.horizon, spec.rho, sensitivity=spec.sensitivity, width=width)


def _datasets(catalog: Catalog, spec: StreamSpec) -> list[Dataset]:
    with catalog.session() as session:
        rows = {
            d.name: d
            for d in session.scalars(select(Dataset).where(Dataset.name.in_(spec.datasets)))
        }
    missing = [n for n in spec.datasets if n not in rows]
    if missing:
        raise NotFound(
            f"Stream {spec.name}: dataset(s) {', '.join(missing)} are not in the catalog; "
            "register the lake first (`lakeward lake profile <root>`)."
        )
    return [rows[n] for n in spec.datasets]


def _source_specs(spec: StreamSpec, datasets: list[Dataset]) -> list[DatasetSpec]:
    """The datasets' current files, after checking no two sources share a file.

    Raises:
        InputError: two source datasets overlap (one file would count twice).
        LakeError: a lake root is gone.
    """
    from lakeward.lake import spec_for

    specs = [spec_for(d) for d in datasets]
    owner: dict[str, str] = {}
    for i, a in enumerate(specs):
        for b in specs[i + 1 :]:
            if (a.uri.rstrip("/") + "/").startswith(b.uri.rstrip("/") + "/") or (
                b.uri.rstrip("/") + "/"
            ).startswith(a.uri.rstrip("/") + "/"):
                raise InputError(
                    f"Stream {spec.name}: source datasets {a.name} and {b.name} overlap ({a.uri} "
                    f"and {b.uri}); every event would count twice. List only one of them."
                )
        for f in a.files:
            other = owner.setdefault(a.root.spark_path(f.relpath), a.name)
            if other != a.name:
                raise InputError(
                    f"Stream {spec.name}: source datasets {other} and {a.name} share the file "
                    f"{f.relpath}; its events would count twice. List only one of them."
                )
    return specs


def _check_unit(bundle: PolicyBundle, spec: StreamSpec) -> None:
    """The stream's unit is declared in ``units.yaml``, for its unit column in every source.

    Two streams over the same people then always charge the same ledger unit: a column
    declared for ``customer`` cannot be spent again under another name.

    Raises:
        InputError: the unit is not declared, or the unit column of a source is undeclared
            or declared for another unit (the message says what to change).
    """
    if spec.unit not in bundle.units:
        declared = ", ".join(sorted(bundle.units)) or "none"
        raise InputError(
            f"Stream {spec.name}: unit {spec.unit!r} is not a privacy unit of the policy bundle "
            f"(declared in units.yaml: {declared}). Name a declared unit, or ask a policy admin "
            f"to declare {spec.unit!r} in units.yaml with the columns that identify it."
        )
    if spec.unit_column is None:  # event level: no column names the unit
        return
    for dataset in spec.datasets:
        units = bundle.units_identified_by(dataset, spec.unit_column)
        if not units:
            raise InputError(
                f"Stream {spec.name}: column {spec.unit_column!r} of {dataset} is not declared "
                f"as identifying a privacy unit, so no ledger is bound to it. Fix: a policy "
                f"admin adds `- {{dataset: {dataset}, column: {spec.unit_column}}}` under "
                f"`{spec.unit}:` in units.yaml (if that column identifies a {spec.unit}), or "
                "use a declared column as unit_column."
            )
        if len(units) > 1:
            raise InputError(
                f"Stream {spec.name}: column {spec.unit_column!r} of {dataset} is declared for "
                f"several privacy units in units.yaml ({', '.join(units)}); a column "
                "identifies one unit. Fix units.yaml so only one entry covers it."
            )
        if units != [spec.unit]:
            raise InputError(
                f"Stream {spec.name}: column {spec.unit_column!r} of {dataset} identifies "
                f"privacy unit {units[0]!r} (units.yaml), not {spec.unit!r}; every stream over "
                f"it is charged to {units[0]!r}'s budget. Fix: set `unit: {units[0]}`."
            )


def _enforce_release(
    catalog: Catalog, spec: StreamSpec, datasets: list[Dataset], *, standing: bool = False
) -> None:
    """Decide ``dp.release`` for the stream's creator (who is charged).

    ``standing``: a release of a registered stream, which any permitted runner (the
    scheduler) carries out for its creator; the creator is still decided each time.
    """
    from lakeward.policy import guard

    for dataset in datasets:
        guard(
            catalog,
            spec.principal,
            "dp.release",
            f"dataset:{dataset.name}",
            {"purpose": spec.purpose, "dp": True},
            standing=standing,
        )


def _ledger(catalog: Catalog) -> Any:
    from lakeward.policy import BudgetLedger, engine_for

    return BudgetLedger(catalog, engine_for(catalog).bundle)


def _promised(catalog: Catalog, spec: StreamSpec) -> float:
    """ρ that active streams on the same ledger triple will still spend up to their horizons."""
    with catalog.session() as session:
        rows = session.scalars(
            select(DPStream).where(
                DPStream.unit == spec.ledger_unit,
                DPStream.principal == spec.principal,
                DPStream.purpose == spec.purpose,
                DPStream.state == "active",
            )
        ).all()
    total = 0.0
    for row in rows:
        counter = stream_counter(_spec(row))
        total += row.rho - counter.rho_through(max(_released_periods(catalog, row.id), default=0))
    return total


def create_stream(
    catalog: Catalog, definition: StreamSpec | dict[str, Any], *, actor: str
) -> DPStream:
    """Register a stream after checking its sources, the policy and the budget cap.

    Raises:
        InputError: the definition is invalid, or a stream of that name exists.
        NotFound: a source dataset is not in the catalog.
        StreamSchemaChanged: a needed column is missing or has an unusable type.
        PolicyDenied: the principal may not release DP aggregates of a source (audited).
        BudgetExhausted: no cap covers the stream, or what remains of it is below its ρ.
    """
    from lakeward.spark import session as spark_session

    named = (
        definition.principal if isinstance(definition, StreamSpec) else definition.get("principal")
    )
    if named not in (None, actor):
        raise InputError(
            f"Stream definitions name no spender: the creator is charged and recorded. Remove "
            f"`principal: {named}` (you are {actor})."
        )
    if not isinstance(definition, StreamSpec):
        definition = {**definition, "principal": actor}
    spec = definition if isinstance(definition, StreamSpec) else spec_from_mapping(definition)
    with catalog.session() as session:
        if session.scalar(select(DPStream.id).where(DPStream.name == spec.name)) is not None:
            raise InputError(f"A DP stream named {spec.name!r} exists; choose another name.")
    datasets = _datasets(catalog, spec)
    sources = _source_specs(spec, datasets)
    ledger = _ledger(catalog)
    _check_unit(ledger.bundle, spec)
    _enforce_release(catalog, spec, datasets)
    cap = ledger.bundle.cap_for(spec.ledger_unit, spec.principal, spec.purpose)
    held = next(
        (
            row["committed"] + row["reserved"]
            for row in ledger.summary()
            if (row["unit"], row["principal"], row["purpose"])
            == (spec.ledger_unit, spec.principal, spec.purpose)
        ),
        0.0,
    )
    promised = _promised(catalog, spec)
    held += promised
    if cap is None or held + spec.rho > cap.rho + 1e-12:
        reason = (
            f"no budget cap for unit {spec.ledger_unit!r}, principal {spec.principal!r}, purpose "
            f"{spec.purpose!r}; add one to budgets.yaml"
            if cap is None
            else f"the stream's rho {spec.rho:g} exceeds what remains of the cap for "
            f"({spec.ledger_unit}, {spec.principal}, {spec.purpose}): {cap.rho - held:g} of "
            f"{cap.rho:g} ({promised:g} is promised to the future releases of active streams); "
            "lower rho"
        )
        AuditLog(catalog)._append(
            principal=actor,
            action="dp.stream.create",
            resource=f"dp_stream:{spec.name}",
            purpose=spec.purpose,
            decision="deny",
            reasons=[reason],
            request=spec.model_dump(mode="json"),
        )
        raise BudgetExhausted(f"Cannot create stream {spec.name}: {reason}.", reasons=[reason])
    from lakeward.dp._aggregate import schema_hash

    digest = schema_hash(spark_session(), spec, sources)
    counter = stream_counter(spec)
    with catalog.session(immediate=True) as session, write_lock(session, "dp_streams"):
        if session.scalar(select(DPStream.id).where(DPStream.name == spec.name)) is not None:
            raise InputError(f"A DP stream named {spec.name!r} exists; choose another name.")
        row = DPStream(
            name=spec.name,
            spec=spec.model_dump(mode="json"),
            schema_hash=digest,
            unit=spec.ledger_unit,
            principal=spec.principal,
            purpose=spec.purpose,
            counter=counter.kind,
            horizon=spec.horizon,
            rho=spec.rho,
            state="active",
            created_by=actor,
            created_at=utcnow(),
        )
        session.add(row)
    AuditLog(catalog)._append(
        principal=actor,
        action="dp.stream.create",
        resource=f"dp_stream:{spec.name}",
        purpose=spec.purpose,
        decision="allow",
        reasons=[
            f"counter {counter.kind}, horizon {spec.horizon}, rho {spec.rho:g} on "
            f"{spec.ledger_unit}; max sd {counter.max_sd():.4g}"
        ],
        request=spec.model_dump(mode="json"),
    )
    return row


def list_streams(catalog: Catalog) -> list[dict[str, Any]]:
    """Every stream with its state and progress."""
    with catalog.session() as session:
        streams = session.scalars(select(DPStream).order_by(DPStream.name)).all()
        counts = dict(
            session.execute(
                select(DPRelease.stream_id, func.count())
                .where(DPRelease.state == "released")
                .group_by(DPRelease.stream_id)
            ).all()
        )
    return [
        {
            "name": s.name,
            "state": s.state,
            "counter": s.counter,
            "unit": s.unit,
            "principal": s.principal,
            "purpose": s.purpose,
            "rho": s.rho,
            "horizon": s.horizon,
            "released": counts.get(s.id, 0),
            "datasets": s.spec["datasets"],
        }
        for s in streams
    ]


def stream_info(catalog: Catalog, name: str) -> dict[str, Any]:
    """A stream's definition, mechanism, error and progress."""
    row = get_stream(catalog, name)
    spec = _spec(row)
    counter = stream_counter(spec)
    released = _released_periods(catalog, row.id)
    last = max(released, default=0)
    return {
        "name": row.name,
        "state": row.state,
        "halt_reason": row.halt_reason,
        "definition": row.spec,
        "counter": counter.kind,
        "distribution": counter.distribution,
        "keys": spec.key_labels(),
        "ledger_unit": spec.ledger_unit,
        "sensitivity": spec.sensitivity,
        "max_sd": counter.max_sd(),
        "released": len(released),
        "last_period": last,
        "next_period": last + 1 if last < spec.horizon else None,
        "rho_spent": counter.rho_through(last),
        "rho": spec.rho,
        "created_by": row.created_by,
        "created_at": row.created_at.isoformat(),
    }


def _released_periods(catalog: Catalog, stream_id: int) -> list[int]:
    with catalog.session() as session:
        return list(
            session.scalars(
                select(DPRelease.period).where(
                    DPRelease.stream_id == stream_id, DPRelease.state == "released"
                )
            )
        )


def stream_series(catalog: Catalog, name: str) -> Series:
    """The released series (only ``released`` rows: pending ones are not outputs yet)."""
    row = get_stream(catalog, name)
    spec = _spec(row)
    series = Series(row.name, spec.key_labels())
    with catalog.session() as session:
        for rel in session.scalars(
            select(DPRelease)
            .where(DPRelease.stream_id == row.id, DPRelease.state == "released")
            .order_by(DPRelease.period)
        ):
            series.periods.append(rel.period)
            series.starts.append(spec.period_bounds(rel.period)[0])
            series.values.append([float(v) for v in rel.outputs["values"]])
            series.sd.append(rel.sd)
    return series


def stream_budget(catalog: Catalog, name: str) -> dict[str, Any]:
    """What the stream has spent and what remains of its ledger cap."""
    row = get_stream(catalog, name)
    spec = _spec(row)
    counter = stream_counter(spec)
    ledger = _ledger(catalog)
    released = _released_periods(catalog, row.id)
    cap = ledger.bundle.cap_for(spec.ledger_unit, spec.principal, spec.purpose)
    committed = ledger.spent(spec.ledger_unit, spec.principal, spec.purpose)
    return {
        "stream": row.name,
        "ledger": {"unit": spec.ledger_unit, "principal": spec.principal, "purpose": spec.purpose},
        "stream_rho": spec.rho,
        "stream_spent": counter.rho_through(max(released, default=0)),
        "cap": cap.rho if cap else None,
        "ledger_committed": committed,
        "ledger_remaining": (cap.rho - committed) if cap else None,
        "over_cap": bool(cap and committed > cap.rho + 1e-12),
    }


# -- releases --------------------------------------------------------------------------------


def _halt(catalog: Catalog, row: DPStream, reason: str, actor: str) -> None:
    with catalog.session(immediate=True) as session, write_lock(session, "dp_streams"):
        stream = session.get(DPStream, row.id)
        if stream is not None:
            stream.state = "halted"
            stream.halt_reason = reason
    AuditLog(catalog)._append(
        principal=actor,
        action="dp.stream.halt",
        resource=f"dp_stream:{row.name}",
        purpose=row.purpose,
        decision="deny",
        reasons=[reason],
    )


def _ingest_files(
    catalog: Catalog, row: DPStream, specs: list[DatasetSpec], period: int
) -> list[Any]:
    """Record unseen files at ``period``; refuse if an ingested file is gone or changed.

    Raises:
        LakeError: a file ingested earlier was deleted or rewritten (nothing is recorded; the
            caller halts the stream).
    """
    from lakeward.dp._aggregate import StreamSource

    sources = []
    with catalog.session(immediate=True) as session, write_lock(session, "dp_stream_files"):
        known = {
            f.path: f
            for f in session.scalars(select(DPStreamFile).where(DPStreamFile.stream_id == row.id))
        }
        present: set[str] = set()
        changed: list[str] = []
        for spec in specs:
            periods: dict[str, int] = {}
            for f in spec.files:
                key = f"{spec.name}:{f.relpath}"
                present.add(key)
                seen = known.get(key)
                if seen is None:
                    seen = DPStreamFile(
                        stream_id=row.id,
                        path=key,
                        size=f.size,
                        mtime_ns=f.mtime_ns,
                        ingest_period=period,
                    )
                    session.add(seen)
                elif (seen.size, seen.mtime_ns) != (f.size, f.mtime_ns):
                    changed.append(
                        f"{f.relpath} of {spec.name} changed after it was ingested at period "
                        f"{seen.ingest_period}"
                    )
                periods[f.relpath.rsplit("/", 1)[-1]] = seen.ingest_period
            sources.append(StreamSource(spec, periods))
        gone = [
            f"{path.split(':', 1)[1]} of {path.split(':', 1)[0]} (ingested at period "
            f"{f.ingest_period}) is gone"
            for path, f in sorted(known.items())
            if path not in present
        ]
        if changed or gone:
            raise LakeError(
                f"Stream {row.name}: {'; '.join(changed + gone)}. A deleted, compacted or "
                "rewritten file would let its events, and its units, count again in a later "
                "period, so the stream is halted. Streams need append-only sources: add new "
                "files, never rewrite or delete ingested ones. Create a new stream to go on."
            )
    return sources


def _restore(
    counter: ContinualCounter, session: Session, row: DPStream, period: int
) -> npt.NDArray[np.float64]:
    """Counter state after ``period − 1`` (unsealed); returns the true totals through it."""
    if period == 1:
        return np.zeros(counter.width)
    prev = _release_row(session, row.id, period - 1)
    if prev is None:
        raise LakewardInternalError(f"period {period - 1} has no row before period {period}")
    state = unseal(prev.sealed, stream_id=row.id, stream=row.name, period=period - 1)
    history = None
    if counter.needs_history:
        rows = session.execute(
            select(DPRelease.period, DPRelease.sealed)
            .where(DPRelease.stream_id == row.id, DPRelease.period < period)
            .order_by(DPRelease.period)
        ).all()
        history = [
            np.asarray(
                unseal(text, stream_id=row.id, stream=row.name, period=p).draws[0],
                dtype=np.float64,
            )
            for p, text in rows
        ]
    counter.restore(state.counter_state, history)
    return np.asarray(state.totals, dtype=np.float64)


def _release_row(session: Session, stream_id: int, period: int) -> DPRelease | None:
    """The stream's row for ``period`` (pending or released), if any."""
    return session.scalar(
        select(DPRelease).where(DPRelease.stream_id == stream_id, DPRelease.period == period)
    )


def _released_row(catalog: Catalog, stream_id: int, period: int) -> DPRelease | None:
    """The stream's row for ``period`` if it is released."""
    with catalog.session() as session:
        rel = _release_row(session, stream_id, period)
    return rel if rel is not None and rel.state == "released" else None


def _result(spec: StreamSpec, rel: DPRelease, fresh: bool) -> ReleaseResult:
    start, end = spec.period_bounds(rel.period)
    return ReleaseResult(
        spec.name,
        rel.period,
        start,
        end,
        spec.key_labels(),
        [float(v) for v in rel.outputs["values"]],
        rel.sd,
        rel.rho,
        fresh,
    )


def _claim(
    catalog: Catalog,
    row: DPStream,
    spec: StreamSpec,
    period: int,
    increments: npt.NDArray[np.float64] | None,
    reservation: Any,
    actor: str,
) -> tuple[str, DPRelease]:
    """Claim the period's row: ``released``, ``pending`` (someone's) or ``new`` (ours)."""
    with catalog.session(immediate=True) as session, write_lock(session, "dp_releases"):
        rel = _release_row(session, row.id, period)
        if rel is not None:
            return rel.state, rel
        if increments is None:
            raise LakewardInternalError("a new release needs its increments")
        counter = stream_counter(spec)
        totals = _restore(counter, session, row, period) + increments
        if counter.step != period - 1:
            raise LakewardInternalError(
                f"stream {row.name}: counter at step {counter.step}, releasing {period}"
            )
        source = release_source(counter.distribution, counter.node_scale)
        n = counter.draws_at(period)
        draws = source.sample(n * counter.width).reshape(n, counter.width)
        noise = counter.advance(draws)
        rel = DPRelease(
            stream_id=row.id,
            period=period,
            state="pending",
            reservation_id=reservation.id if reservation else None,
            rho=reservation.rho if reservation else 0.0,
            outputs={},  # in clear only once released (see _mark_released)
            sd=math.sqrt(counter.variance(period)),
            sealed=seal(
                MechanismState(
                    (totals + noise).tolist(), totals.tolist(), draws.tolist(), counter.snapshot()
                ),
                stream_id=row.id,
                stream=row.name,
                period=period,
            ),
            released_by=actor,
            created_at=utcnow(),
            lease_until=utcnow()
            + (reservation.ledger.ttl if reservation else timedelta(minutes=15)),
        )
        session.add(rel)
        session.flush()
        return "new", rel


def _mark_released(
    catalog: Catalog, row: DPStream, rel_id: int, reservation_id: str | None
) -> DPRelease:
    """Mark a paid-for period released: its sealed outputs are written in clear."""
    with catalog.session(immediate=True) as session, write_lock(session, "dp_releases"):
        rel = session.get(DPRelease, rel_id)
        if rel is None:
            raise LakewardInternalError(f"release row {rel_id} vanished")
        if rel.state != "released":
            state = unseal(rel.sealed, stream_id=row.id, stream=row.name, period=rel.period)
            rel.outputs = {"values": state.outputs}
            rel.state = "released"
            rel.reservation_id = reservation_id
            rel.released_at = utcnow()
            rel.lease_until = None
        return rel


def _adopt(catalog: Catalog, rel_id: int, reservation: Any) -> None:
    with catalog.session(immediate=True) as session, write_lock(session, "dp_releases"):
        rel = session.get(DPRelease, rel_id)
        if rel is not None and rel.state == "pending":
            rel.reservation_id = reservation.id
            rel.lease_until = utcnow() + reservation.ledger.ttl


def _release_period(
    catalog: Catalog,
    ledger: Any,
    row: DPStream,
    spec: StreamSpec,
    period: int,
    increments: npt.NDArray[np.float64] | None,
    actor: str,
) -> ReleaseResult:
    counter = stream_counter(spec)
    charge = counter.rho_through(period) - counter.rho_through(period - 1)
    deadline = time.monotonic() + WAIT_FOR_OTHER_S
    while True:
        existing = _released_row(catalog, row.id, period)
        if existing is not None:
            return _result(spec, existing, fresh=False)
        reservation = None
        if charge > 0:  # a tree releases steps that complete no new level for free
            try:
                reservation = ledger.reserve(
                    spec.ledger_unit,
                    spec.principal,
                    spec.purpose,
                    charge,
                    note=f"dp stream {spec.name} period {period}",
                )
            except BudgetExhausted:
                again = _released_row(catalog, row.id, period)
                if again is not None:  # another run released it while we asked
                    return _result(spec, again, fresh=False)
                raise
        try:
            state, rel = _claim(catalog, row, spec, period, increments, reservation, actor)
            if state == "released":
                if reservation is not None:
                    reservation.release()
                return _result(spec, rel, fresh=False)
            if state == "pending":
                holder = ledger.state_of(rel.reservation_id) if rel.reservation_id else None
                if holder == "committed":  # crashed after paying: only the mark is missing
                    if reservation is not None:
                        reservation.release()
                    done = _mark_released(catalog, row, rel.id, str(rel.reservation_id))
                    return _result(spec, done, fresh=True)
                if holder == "reserved":  # another run is releasing it right now
                    if reservation is not None:
                        reservation.release()
                    if time.monotonic() > deadline:
                        raise BudgetExhausted(
                            f"Stream {spec.name} period {period} is being released by another "
                            "run that has not finished; retry later.",
                        )
                    time.sleep(0.2)
                    continue
                if reservation is not None:
                    _adopt(catalog, rel.id, reservation)  # the holder died: reuse its noise
            if reservation is not None:
                reservation.commit()
            done = _mark_released(catalog, row, rel.id, reservation.id if reservation else None)
        except BaseException:
            if reservation is not None and reservation.state == "reserved":
                reservation.release()
            raise
        AuditLog(catalog)._append(
            principal=actor,
            action="dp.release",
            resource=f"dp_stream:{spec.name}",
            purpose=spec.purpose,
            decision="allow",
            reasons=[f"period {period} released; rho {charge:.6g} charged to {spec.ledger_unit}"],
            request={"stream": spec.name, "period": period, "principal": spec.principal},
        )
        return _result(spec, done, fresh=True)


def _clock_now(now: datetime | None) -> datetime:
    """``now`` as aware UTC (default: the clock); a time later than the clock is refused."""
    clock = datetime.now(UTC)
    if now is None:
        return clock
    now = now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)
    if now > clock:
        raise InputError(
            f"now = {now.isoformat()} is later than the clock ({clock.isoformat()}): periods "
            "that have not ended cannot be released (they would be released empty and still "
            "spend budget). Leave --now out, or give a time in the past."
        )
    return now


def _stream_rows(catalog: Catalog, names: list[str] | None) -> list[DPStream]:
    if names:
        return [get_stream(catalog, n) for n in names]
    with catalog.session() as session:
        return list(
            session.scalars(
                select(DPStream).where(DPStream.state == "active").order_by(DPStream.name)
            )
        )


def _due_periods(
    catalog: Catalog, row: DPStream, spec: StreamSpec, now: datetime, through: int | None
) -> list[int]:
    """The periods a release at ``now`` (capped at ``through``) would release.

    Raises:
        InputError: the stream is halted, or ``through`` is not a period that has ended.
    """
    if row.state == "halted":
        raise InputError(
            f"Stream {row.name} is halted: {row.halt_reason}. Create a new stream to go on."
        )
    if through is not None and not 1 <= through <= spec.horizon:
        raise InputError(f"--period must be within 1..{spec.horizon}, got {through}.")
    due = spec.due_through(now)
    if through is not None:
        if through > due:
            ready = spec.period_bounds(through)[1] + timedelta(seconds=parse_duration(spec.grace))
            raise InputError(
                f"Stream {row.name}: period {through} has not ended (it can be released from "
                f"{ready.isoformat()}; now is {now.isoformat()}). Release ended periods only."
            )
        due = through
    first = max(_released_periods(catalog, row.id), default=0) + 1
    return list(range(first, due + 1))


def plan_releases(
    catalog: Catalog,
    names: list[str] | None = None,
    *,
    now: datetime | None = None,
    through: int | None = None,
) -> list[PlannedRelease]:
    """What :func:`release_streams` would release and charge now: a dry run.

    Spends nothing, audits nothing, runs no Spark. A stream that would fail a check is
    planned with its ``error``: halted or ``through`` not ended; ``dp.release`` denied for its
    creator on a source (asked of the policy engine as a dry question, like ``policy
    explain``); or a spend beyond what remains of the cap.

    Raises:
        NotFound: a named stream does not exist.
        InputError: ``now`` is later than the clock.
    """
    now = _clock_now(now)
    plans = []
    for row in _stream_rows(catalog, names):
        ledger = (row.unit, row.principal, row.purpose)
        try:
            spec = _spec(row)
            periods = _due_periods(catalog, row, spec, now, through)
        except InputError as exc:
            plans.append(PlannedRelease(row.name, [], 0.0, ledger, str(exc), "input"))
            continue
        rho = 0.0
        refusal: tuple[str, str] | None = None
        if periods:
            counter = stream_counter(spec)
            rho = counter.rho_through(periods[-1]) - counter.rho_through(periods[0] - 1)
            refusal = _dry_refusal(catalog, spec, ledger, rho)
        if refusal is None:
            plans.append(PlannedRelease(row.name, periods, rho, ledger))
        else:
            plans.append(PlannedRelease(row.name, periods, rho, ledger, *refusal))
    return plans


def _dry_refusal(
    catalog: Catalog, spec: StreamSpec, ledger: tuple[str, str, str], rho: float
) -> tuple[str, str] | None:
    """Why a release would be refused by the policy or the budget, asked without spending."""
    from lakeward.policy import BudgetLedger, engine_for

    engine = engine_for(catalog)
    for name in spec.datasets:
        decision = engine.decide(
            spec.principal,
            "dp.release",
            f"dataset:{name}",
            {"purpose": spec.purpose, "dp": True},
        )
        if not decision.allowed:
            why = "; ".join(decision.reasons[:2]) or "no policy permits it"
            return (
                f"the policy would deny dp.release on {name} for {spec.principal}: {why}",
                "policy",
            )
    unit, principal, purpose = ledger
    cap = engine.bundle.cap_for(unit, principal, purpose)
    if cap is None:
        return (
            f"no budget cap for ({unit}, {principal}, {purpose}); add one to budgets.yaml",
            "budget",
        )
    with catalog.session() as session:
        held = BudgetLedger._total(session, unit, principal, purpose, "reserved", "committed")
    if held + rho > cap.rho + 1e-12:
        return (
            f"charging rho {rho:.4g} would exceed the cap {cap.rho:g} for ({unit}, {principal}, "
            f"{purpose}): {held:.4g} already spent or reserved",
            "budget",
        )
    return None


def release_streams(
    catalog: Catalog,
    names: list[str] | None = None,
    *,
    actor: str,
    now: datetime | None = None,
    through: int | None = None,
) -> dict[str, list[ReleaseResult]]:
    """Release every due period of the named (default: all active) streams, in order.

    ``through`` caps the last period released; ``now`` (default: the clock, never later)
    decides which periods are due. One stream's failure never stops the others: each is
    tried, then the failures are raised together.

    Raises:
        NotFound: a named stream does not exist (nothing is released).
        InputError: ``now`` is later than the clock (nothing is released).
        ReleaseIncomplete: of several streams, some failed; it carries what was released.
        For a single stream, its own error: InputError (halted, ``through`` not ended),
        PolicyDenied (audited), BudgetExhausted (over the cap), StreamSchemaChanged or
        LakeError (a changed schema or source file; the stream is halted).
    """
    now = _clock_now(now)
    rows = _stream_rows(catalog, names)
    results: dict[str, list[ReleaseResult]] = {}
    failures: dict[str, BaseException] = {}
    for row in rows:
        try:
            results[row.name] = release_stream(catalog, row, actor=actor, now=now, through=through)
        except Exception as exc:  # reported below; the next stream still runs
            if len(rows) == 1:
                raise
            failures[row.name] = exc
    if failures:
        raise ReleaseIncomplete(results, failures)
    return results


def release_stream(
    catalog: Catalog, row: DPStream, *, actor: str, now: datetime, through: int | None = None
) -> list[ReleaseResult]:
    """Release the due periods of one stream; see :func:`release_streams`."""
    from lakeward.dp._aggregate import period_increments, schema_hash
    from lakeward.spark import session as spark_session

    spec = _spec(row)
    periods = _due_periods(catalog, row, spec, now, through)
    if not periods:
        return []
    first, due = periods[0], periods[-1]
    datasets = _datasets(catalog, spec)
    _enforce_release(catalog, spec, datasets, standing=True)
    specs = _source_specs(spec, datasets)
    try:
        sources = _ingest_files(catalog, row, specs, first)
    except LakeError as exc:
        _halt(catalog, row, str(exc), actor)
        raise
    spark = spark_session()
    try:
        digest = schema_hash(spark, spec, [s.dataset for s in sources])
    except StreamSchemaChanged as exc:
        _halt(catalog, row, str(exc), actor)
        raise
    if digest != row.schema_hash:
        message = (
            f"Stream {row.name}: the source columns' types changed since the stream was "
            "created; it is halted so no period mixes two schemas. Create a new stream."
        )
        _halt(catalog, row, message, actor)
        raise StreamSchemaChanged(message)
    increments = period_increments(spark, spec, sources, first, due)
    ledger = _ledger(catalog)
    out = []
    for period in periods:
        out.append(
            _release_period(catalog, ledger, row, spec, period, increments[period - first], actor)
        )
    if due == spec.horizon:
        with catalog.session(immediate=True) as session, write_lock(session, "dp_streams"):
            stream = session.get(DPStream, row.id)
            if stream is not None and stream.state == "active":
                stream.state = "complete"
    return out
