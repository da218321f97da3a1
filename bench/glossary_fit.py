"""Fit the matcher's one configuration (fusion weights and calibration) on the DEV splits.

    .venv/bin/python bench/glossary_fit.py [--sets fhir,fhir-abbrev,fhir-categories,...]

Development data only (``bench/glossary_data.py``, split ``dev``: half of the FHIR resources
and half of the schema.org types, chosen by a fixed seed); the test splits are never read
here. Every set weighs the same, so no glossary dominates, and the result is ONE set of
constants for every glossary (``_WEIGHTS`` and ``_CALIBRATION`` in
``platform/lakeward/glossary/_match.py``), printed for pasting there.

1. Fusion weights: a logistic regression over the signals of each dev column's true term
   (positive) against its 30 strongest wrong terms under the current weights and 20 random
   ones (negatives).
2. Calibration: a logistic regression of "is this the right term" on (fused score, its lead
   over the best other term) over each column's 10 best candidates, so the score reads as a
   probability on every glossary.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from glossary_data import build  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

from lakeward.glossary import SIGNALS, MatchConfig, Matcher  # noqa: E402


def collect(sets, config: MatchConfig, seed: int = 0):
    rng = np.random.default_rng(seed)
    X, y, w = [], [], []
    calib = []  # per set: list of (fused row, truth indices) for calibration
    all_groups = []  # per set: (candidate signals, number of true terms first)
    for ev in sets:
        matcher = Matcher(ev.terms, config)
        index = {t.id: i for i, t in enumerate(matcher.terms)}
        weights = np.asarray(config.weights, dtype=np.float32)
        cols = [c for c in ev.columns if (c.dataset, c.column) in ev.truth]
        feats, labels, rows, groups = [], [], [], []
        for start in range(0, len(cols), 256):
            block = cols[start : start + 256]
            signals = matcher._signals(block)  # (S, n, T)
            fused = np.tensordot(weights, signals, axes=1)
            for i, column in enumerate(block):
                truth = [index[t] for t in ev.truth[(column.dataset, column.column)] if t in index]
                if not truth:
                    continue
                order = np.argsort(-fused[i])
                hard = [j for j in order[:40] if j not in truth][:30]
                easy = rng.choice(len(matcher.terms), size=20, replace=False)
                negatives = list(dict.fromkeys([*hard, *[j for j in easy if j not in truth]]))
                for j in truth:
                    feats.append(signals[:, i, j])
                    labels.append(1)
                for j in negatives:
                    feats.append(signals[:, i, j])
                    labels.append(0)
                members = [*truth, *negatives]
                groups.append((signals[:, i, members].T.copy(), len(truth)))
                rows.append((signals[:, i, :].copy(), truth))
        n = len(labels)
        X += feats
        y += labels
        w += [1.0 / max(1, n)] * n  # every set weighs the same
        calib.append(rows)
        all_groups.append(groups)
        print(f"  {ev.name}: {len(rows)} dev columns, {len(matcher.terms)} terms", flush=True)
    return np.asarray(X), np.asarray(y), np.asarray(w), calib, all_groups


def listwise(all_groups, start: np.ndarray, l2: float = 0.01) -> np.ndarray:
    """Non-negative weights maximising each column's softmax probability of its true term(s).

    Every set weighs the same (its mean loss); a small L2 penalty keeps weights finite.
    """
    from scipy.optimize import minimize

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        total, grad = 0.0, np.zeros_like(w)
        for groups in all_groups:
            part, pgrad = 0.0, np.zeros_like(w)
            for feats, n_true in groups:
                s = feats @ w
                m = s.max()
                e = np.exp(s - m)
                p = e / e.sum()
                pt = p[:n_true].sum()
                part -= np.log(max(pt, 1e-300))
                # d/dw -log(sum_true p) = E_p[x] - E_{p|true}[x]
                expected = p @ feats
                true_part = (p[:n_true] / max(pt, 1e-300)) @ feats[:n_true]
                pgrad += expected - true_part
            total += part / max(1, len(groups))
            grad += pgrad / max(1, len(groups))
        total += l2 * float(w @ w)
        grad += 2 * l2 * w
        return total, grad

    # Non-negative: every signal is a similarity, so more of it never argues against a term
    # (collinear embedding signals would otherwise trade signs on the dev data).
    bounds = [(0.0, None)] * len(start)
    result = minimize(loss, start, jac=True, method="L-BFGS-B", bounds=bounds)
    return np.asarray(result.x)


def hits(calib, weights: np.ndarray) -> list[tuple[float, float]]:
    out = []
    for rows in calib:
        h1 = h5 = 0
        for signals, truth in rows:
            fused = weights @ signals
            top = np.argsort(-fused)[:5]
            h1 += int(top[0] in truth)
            h5 += int(any(j in truth for j in top))
        out.append((h1 / max(1, len(rows)), h5 / max(1, len(rows))))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sets", default="fhir,fhir-abbrev,fhir-categories,schemaorg,schemaorg-abbrev"
    )
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    names = args.sets.split(",")
    sets = build(names, "dev", args.limit)
    config = MatchConfig()
    print("collecting signals on the dev splits ...", flush=True)
    X, y, w, calib, groups = collect(sets, config)
    before = hits(calib, np.asarray(config.weights))
    weights = listwise(groups, np.asarray(config.weights, dtype=np.float64))
    after = hits(calib, weights)
    for name, b, a in zip(names, before, after, strict=True):
        print(f"  {name:18s} dev Hit@1 {b[0]:.3f} -> {a[0]:.3f}   Hit@5 {b[1]:.3f} -> {a[1]:.3f}")
    # calibration on the new fused score
    feats, labels, sw = [], [], []
    for rows in calib:
        part_f, part_l = [], []
        for signals, truth in rows:
            fused = weights @ signals
            top = np.argsort(-fused)[:10]
            best, second = float(fused[top[0]]), float(fused[top[1]])
            for j in top:
                s = float(fused[j])
                lead = s - (second if s >= best else best)
                part_f.append([s, lead])
                part_l.append(int(j in truth))
        feats += part_f
        labels += part_l
        sw += [1.0 / max(1, len(part_l))] * len(part_l)
    cal = LogisticRegression(C=1.0, max_iter=2000)
    sw_arr = np.asarray(sw)
    cal.fit(np.asarray(feats), np.asarray(labels), sample_weight=sw_arr * len(sw_arr))
    a, b = cal.coef_[0]
    rounded = tuple(round(float(v), 3) for v in weights)
    print("\nfitted; paste into platform/lakeward/glossary/_match.py:")
    print(f"_WEIGHTS = {rounded}  # {', '.join(SIGNALS)}")
    print(f"_CALIBRATION = ({a:.3f}, {b:.3f}, {cal.intercept_[0]:.3f})  # (a·s, b·lead, bias)")
    # reliability of the calibrated score on the dev candidates
    probs = cal.predict_proba(np.asarray(feats))[:, 1]
    labels_arr = np.asarray(labels)
    print("\ncalibration on dev (predicted → observed):")
    for lo in np.arange(0, 1, 0.2):
        sel = (probs >= lo) & (probs < lo + 0.2)
        if sel.any():
            print(
                f"  [{lo:.1f}, {lo + 0.2:.1f}): {sel.sum():6d} candidates, "
                f"mean predicted {probs[sel].mean():.2f}, observed {labels_arr[sel].mean():.2f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
