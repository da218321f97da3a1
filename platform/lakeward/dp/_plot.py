"""Error tables and plots: each counter's exact error vs horizon, and a stream's series.

The factorization lower bound is Henzinger–Kalinin–Upadhyay (2025): for any factorization of
the T×T prefix-sum matrix, max per-step sd ≥ (0.701 + ln T/π)/√(2ρ) (o(1) dropped).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lakeward.dp._counters import make_counter

if TYPE_CHECKING:
    from lakeward.catalog import Catalog

__all__ = ["error_table", "lower_bound_sd", "plot_stream"]

GAUSSIAN_KINDS = ("tree", "honaker", "sqrt", "sqrt_scaled")


def lower_bound_sd(horizon: int, rho: float) -> float:
    """HKU25's lower bound on the max per-step sd of any factorization mechanism."""
    return (0.701 + math.log(horizon) / math.pi) / math.sqrt(2 * rho)


def error_table(rho: float, log2_horizons: Iterable[int]) -> list[dict[str, Any]]:
    """Exact max sd and RMSE (over steps) of each Gaussian counter per horizon 2^n."""
    rows = []
    for n in log2_horizons:
        horizon = 2**n
        tree_max = None
        for kind in GAUSSIAN_KINDS:
            variances = make_counter(kind, horizon, rho).variances()
            max_sd = float(math.sqrt(variances.max()))
            tree_max = tree_max or max_sd
            rows.append(
                {
                    "log2_T": n,
                    "counter": kind,
                    "max_sd": max_sd,
                    "rmse": float(math.sqrt(variances.mean())),
                    "vs_tree": max_sd / tree_max,
                    "vs_lower_bound": max_sd / lower_bound_sd(horizon, rho),
                }
            )
    return rows


def plot_stream(
    catalog: Catalog, name: str, output: Path, *, keys: list[str] | None = None
) -> Path:
    """Released series with 95% bands (left) and each counter's error vs T (right).

    Raises:
        InputError: a requested key is not one of the stream's keys.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lakeward.dp._service import stream_info, stream_series
    from lakeward.errors import InputError

    series = stream_series(catalog, name)
    info = stream_info(catalog, name)
    chosen = keys or series.keys[:6]
    unknown = [k for k in chosen if k not in series.keys]
    if unknown:
        raise InputError(
            f"Stream {name} has no key(s) {', '.join(unknown)}; its keys: "
            f"{', '.join(series.keys[:10])}{' …' if len(series.keys) > 10 else ''}"
        )
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.8))
    values = np.asarray(series.values).reshape(len(series.periods), len(series.keys))
    band = 1.959964 * np.asarray(series.sd)
    for key in chosen:
        col = values[:, series.keys.index(key)]
        left.plot(series.starts, col, label=key, linewidth=1.2)
        left.fill_between(series.starts, col - band, col + band, alpha=0.2)
    left.set_title(f"{name}: released running {info['definition']['measure']} (95% bands)")
    left.set_xlabel("period start")
    if chosen and series.periods:
        left.legend(fontsize=8)
    left.tick_params(axis="x", labelrotation=30)

    rho, sensitivity = info["rho"], info["sensitivity"]
    horizons = 2 ** np.arange(4, 21)
    for kind in GAUSSIAN_KINDS:
        sds = [make_counter(kind, int(t), rho, sensitivity=sensitivity).max_sd() for t in horizons]
        right.plot(horizons, sds, marker="o", markersize=3, label=kind)
    right.plot(
        horizons,
        [sensitivity * lower_bound_sd(int(t), rho) for t in horizons],
        linestyle="--",
        color="grey",
        label="factorization lower bound",
    )
    right.axvline(info["definition"]["horizon"], color="black", linewidth=0.8, linestyle=":")
    right.set_xscale("log", base=2)
    right.set_yscale("log")
    right.set_xlabel("horizon T")
    right.set_ylabel("max per-step sd")
    right.set_title(f"error vs T at rho={rho:g}, sensitivity {sensitivity:g}")
    right.legend(fontsize=8)
    fig.tight_layout()
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output, dpi=110)
    plt.close(fig)
    return output
