"""Stream definitions: what a continual-release stream counts, over which periods, how bounded.

A stream is one or more catalogued datasets with an event-time column, bucketed into periods
of fixed length from ``start``: period ``i`` (1-based) covers ``[start + (i−1)·P, start +
i·P)``. Per period and per declared key (the cross product of ``keys``' declared values —
keys are public and never derived from the data), it releases the running count or clipped
sum. Contribution bounds make the sensitivity finite:

- every event of a privacy unit (``unit_column``) counts at most ``max_per_period`` times in
  one period (the first events by event time, ties broken by a hash of the row);
- ``max_periods`` (user level): a unit contributes to at most that many periods over the
  whole horizon (its first ones). Without it the guarantee is per unit *and period*, and the
  ledger is charged under ``"<unit>/period"`` so it never pretends to protect whole units.
- no ``unit_column`` (event level): each event is its own unit, nothing to bound, no shuffle;
  the ledger is charged under ``"<unit>/event"``.

Sensitivity of one period's vector over keys (L2 ≤ L1): ``max_per_period × (1 | max(|lo|,
|hi|))``, times ``max_periods`` at user level (triangle inequality over the periods a unit
touches, which holds for every counter here). Rows with a NULL time, unit or key, or a key
value that is not declared, are dropped; NULL values of a sum count as 0.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from lakeward.errors import InputError

__all__ = ["StreamSpec", "parse_duration", "spec_from_mapping"]

_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d|w)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
MAX_HORIZON = 1 << 22
MAX_KEYS = 100_000


def parse_duration(text: str) -> int:
    """Seconds in ``"30m"``, ``"1h"``, ``"7d"``, ``"2w"``, ``"0s"``.

    Raises:
        InputError: not a whole number followed by s, m, h, d or w.
    """
    match = _DURATION.match(str(text))
    if not match:
        raise InputError(
            f"Duration {text!r} is not valid; write a whole number and a unit, e.g. 1h, 1d, 7d."
        )
    return int(match.group(1)) * _UNITS[match.group(2)]


class StreamSpec(BaseModel):
    """A continual-release stream (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
    datasets: list[str] = Field(min_length=1)
    time_column: str
    period: str = "1d"
    start: datetime
    keys: dict[str, list[str]] = Field(default_factory=dict)
    measure: Literal["count", "sum"] = "count"
    value_column: str | None = None
    clip: tuple[float, float] | None = None
    unit_column: str | None = None
    unit: str
    max_per_period: int = Field(default=1, ge=1)
    max_periods: int | None = Field(default=None, ge=1)
    counter: str | None = None
    horizon: int = Field(ge=1, le=MAX_HORIZON)
    rho: float
    principal: str
    purpose: str
    grace: str = "0s"

    @field_validator("period", "grace")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    @field_validator("start")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    @field_validator("rho")
    @classmethod
    def _rho(cls, value: float) -> float:
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"rho must be a finite number > 0, got {value}")
        return value

    @field_validator("datasets")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        twice = sorted({d for d in value if value.count(d) > 1})
        if twice:
            raise ValueError(
                f"{', '.join(twice)} listed more than once; list each source dataset once "
                "(each event would otherwise count twice)"
            )
        return value

    @field_validator("keys")
    @classmethod
    def _keys(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for column, values in value.items():
            if not values:
                raise ValueError(f"key column {column!r} declares no values")
            if len(set(values)) != len(values):
                raise ValueError(f"key column {column!r} declares a value twice")
        if math.prod(len(v) for v in value.values()) > MAX_KEYS:
            raise ValueError(f"more than {MAX_KEYS} keys; declare fewer key values")
        return value

    @model_validator(mode="after")
    def _measure(self) -> StreamSpec:
        if parse_duration(self.period) <= 0:
            raise ValueError("period must be longer than 0s")
        if self.measure == "sum":
            if not self.value_column:
                raise ValueError("a sum stream needs value_column")
            if self.clip is None:
                raise ValueError(
                    "a sum stream needs clipping bounds: clip: [lower, upper] (e.g. [0, 500]); "
                    "without them one event could move the sum without limit"
                )
            lo, hi = self.clip
            if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
                raise ValueError(f"clip bounds must be finite with lower < upper, got {self.clip}")
        elif self.value_column or self.clip:
            raise ValueError("value_column and clip apply to sum streams only")
        if self.unit_column is None and (self.max_periods is not None or self.max_per_period != 1):
            raise ValueError(
                "max_per_period and max_periods bound a privacy unit's events: set unit_column "
                "(or leave them out for event-level privacy)"
            )
        if self.counter is not None:
            from lakeward.dp._counters import COUNTER_KINDS

            if self.counter not in COUNTER_KINDS:
                raise ValueError(
                    f"unknown counter {self.counter!r}; choose one of "
                    f"{', '.join(sorted(COUNTER_KINDS))} or leave it out for the best"
                )
        return self

    # -- derived -------------------------------------------------------------------------
    @property
    def period_seconds(self) -> int:
        """Length of one period in seconds."""
        return parse_duration(self.period)

    @property
    def user_level(self) -> bool:
        """Whether whole units are protected (contributions bounded across periods)."""
        return self.max_periods is not None

    @property
    def event_level(self) -> bool:
        """Whether each event is its own privacy unit (no unit column)."""
        return self.unit_column is None

    @property
    def ledger_unit(self) -> str:
        """The ledger's unit: the unit at user level, else ``<unit>/period`` or ``/event``."""
        if self.event_level:
            return f"{self.unit}/event"
        return self.unit if self.user_level else f"{self.unit}/period"

    @property
    def sensitivity(self) -> float:
        """How far one privacy unit can move the released vector (L1 ≥ L2), see module doc."""
        per_event = 1.0 if self.clip is None else max(abs(self.clip[0]), abs(self.clip[1]))
        return self.max_per_period * per_event * (self.max_periods or 1)

    @property
    def key_columns(self) -> list[str]:
        """Key columns in a fixed (sorted) order."""
        return sorted(self.keys)

    def key_labels(self) -> list[str]:
        """One label per released key: ``col=value|col2=value``, or ``all`` without keys."""
        if not self.keys:
            return ["all"]
        columns = self.key_columns
        return [
            "|".join(f"{c}={v}" for c, v in zip(columns, combo, strict=True))
            for combo in itertools.product(*(self.keys[c] for c in columns))
        ]

    def period_bounds(self, period: int) -> tuple[datetime, datetime]:
        """[start, end) of a 1-based period."""
        step = timedelta(seconds=self.period_seconds)
        return self.start + (period - 1) * step, self.start + period * step

    def due_through(self, now: datetime) -> int:
        """The last period whose end (plus grace) has passed at ``now``, capped at the horizon."""
        elapsed = (now.astimezone(UTC) - self.start).total_seconds() - parse_duration(self.grace)
        return max(0, min(self.horizon, int(elapsed // self.period_seconds)))

    def needed_columns(self) -> list[str]:
        """Every source column the stream reads."""
        cols = [
            self.time_column,
            *([self.unit_column] if self.unit_column else []),
            *self.key_columns,
        ]
        if self.value_column:
            cols.append(self.value_column)
        return cols

    def fingerprint(self) -> str:
        """A short hash of the definition."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:16]


def spec_from_mapping(data: dict[str, Any]) -> StreamSpec:
    """Validate a stream definition (from YAML/JSON/CLI) into a :class:`StreamSpec`.

    Raises:
        InputError: every problem, each naming the field and what to write instead.
    """
    try:
        return StreamSpec.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"]) or "stream"
            message = str(error["msg"]).removeprefix("Value error, ")
            problems.append(f"{where}: {message}")
        raise InputError("Invalid stream definition:\n  " + "\n  ".join(problems)) from None
