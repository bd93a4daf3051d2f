"""Classification without labels (CWoLa) and the bump hunt in a resonance variable.

**CWoLa** (Metodiev, Nachman, Thaler, JHEP 10 (2017) 174; the LHC Olympics 2020 "CWoLa hunting"):
a classifier learns to separate events of a signal region (SR) of the resonance variable from
its sidebands (SB). Without signal the two mixtures are (nearly) identical in the other features
and the classifier learns nothing; a localised signal makes the SR different, and the optimal SR
vs SB classifier is then the optimal signal vs background one. The resonance variable and
anything correlated with it are excluded from the inputs (:func:`decorrelated_features` reads
the linear and rank correlations in the sidebands, where the signal cannot be), else the cut
sculpts a bump. Training is k-folded: every event is scored by a model that never saw it
(:func:`cwola_scores`); SR and SB get equal total weight.

**Bump hunt** (:func:`bump_hunt`): a smooth background ``exp(p0 + p1 x + p2 x^2)`` (x the
resonance variable scaled to [0, 1] over the fit range) fit by a binned Poisson likelihood to
the sideband bins only, extrapolated into the SR; the local significance of the observed SR
count against that prediction is the Poisson ``Z = sqrt(2 (n ln(n/b) - (n - b)))`` (signed),
and, with the fit's uncertainty on ``b`` (Hessian of the likelihood, propagated linearly), the
Asimov formula with ``sigma_b`` (:func:`hepsift.metrics.asimov_significance`).
:func:`scan_cuts` repeats the hunt after keeping the highest-scoring fraction of events (the
quantile threshold is set on SR and SB events together).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from hepsift.errors import ConfigError, DataError

__all__ = [
    "bump_hunt",
    "cwola_scores",
    "decorrelated_features",
    "region_masks",
    "scan_cuts",
]

F64 = NDArray[np.float64]
Window = tuple[float, float]


def region_masks(
    mass: ArrayLike, sr: Window, sidebands: Sequence[Window]
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """(in signal region, in a sideband) per event; half-open windows [lo, hi)."""
    m = np.asarray(mass, dtype=np.float64)
    if not sr[0] < sr[1] or any(not lo < hi for lo, hi in sidebands):
        raise ConfigError(f"windows must have lo < hi; got SR {sr}, sidebands {list(sidebands)}")
    in_sr = (m >= sr[0]) & (m < sr[1])
    in_sb = np.zeros(len(m), bool)
    for lo, hi in sidebands:
        in_sb |= (m >= lo) & (m < hi)
    if np.any(in_sr & in_sb):
        raise ConfigError(f"the sidebands {list(sidebands)} overlap the signal region {sr}")
    return in_sr, in_sb


def decorrelated_features(
    X: ArrayLike,
    mass: ArrayLike,
    names: Sequence[str],
    sidebands: Sequence[Window],
    *,
    max_correlation: float = 0.1,
) -> tuple[list[int], dict[str, float]]:
    """Column indices whose |Pearson| and |Spearman| correlation with the resonance variable
    in the sidebands are both below ``max_correlation``, and every column's larger one."""
    from scipy.stats import spearmanr

    arr = np.asarray(X, dtype=np.float64)
    m = np.asarray(mass, dtype=np.float64)
    in_sb = np.zeros(len(m), bool)
    for lo, hi in sidebands:
        in_sb |= (m >= lo) & (m < hi)
    keep, corr = [], {}
    for j, name in enumerate(names):
        col, mm = arr[in_sb, j], m[in_sb]
        if np.std(col) == 0:
            corr[name] = 0.0
            continue
        pearson = abs(float(np.corrcoef(col, mm)[0, 1]))
        rank = abs(float(spearmanr(col, mm).statistic))
        corr[name] = max(pearson, rank)
        if corr[name] < max_correlation:
            keep.append(j)
    return keep, corr


def cwola_scores(
    X: ArrayLike,
    mass: ArrayLike,
    *,
    sr: Window,
    sidebands: Sequence[Window],
    family: str = "bdt",
    params: Mapping[str, Any] | None = None,
    folds: int = 5,
    seed: int = 0,
) -> F64:
    """k-folded SR-vs-SB classifier score of every event (NaN outside SR and SB)."""
    from hepsift.dataset import kfold_indices
    from hepsift.models.registry import create

    arr = np.asarray(X, dtype=np.float64)
    in_sr, in_sb = region_masks(mass, sr, sidebands)
    used = np.flatnonzero(in_sr | in_sb)
    label = in_sr[used].astype(np.int64)
    if label.sum() < folds or (label == 0).sum() < folds:
        raise DataError(f"CWoLa needs at least {folds} events in the SR and in the sidebands")
    out = np.full(len(arr), np.nan)
    for train, test in kfold_indices(len(used), int(folds), by="random", seed=seed, y=label):
        yt = label[train]
        w = np.where(yt == 1, 0.5 / yt.sum(), 0.5 / (yt == 0).sum()) * len(yt)
        model = create(family, **dict(params or {}))
        model.fit(arr[used[train]], yt, sample_weight=w)
        out[used[test]] = model.decision_score(arr[used[test]])
    return out


def _design(x: F64) -> F64:
    return np.column_stack([np.ones_like(x), x, x * x])


def bump_hunt(
    mass: ArrayLike,
    *,
    sr: Window,
    sidebands: Sequence[Window],
    weight: ArrayLike | None = None,
    bin_width: float = 1.0,
) -> dict[str, Any]:
    """Background fit to the sidebands, prediction and local significance in the SR."""
    from scipy.optimize import minimize

    from hepsift.metrics import asimov_significance

    m = np.asarray(mass, dtype=np.float64)
    w = np.ones(len(m)) if weight is None else np.asarray(weight, dtype=np.float64)
    lo = min(sr[0], *(s[0] for s in sidebands))
    hi = max(sr[1], *(s[1] for s in sidebands))
    edges = np.arange(lo, hi + 0.5 * bin_width, bin_width)
    counts, _ = np.histogram(m, bins=edges, weights=w)
    centres = 0.5 * (edges[1:] + edges[:-1])
    in_sr, in_sb = region_masks(centres, sr, sidebands)
    x = (centres - lo) / (hi - lo)
    A = _design(x)
    n_sb = counts[in_sb]
    if n_sb.sum() <= 0:
        raise DataError("the bump hunt has no sideband events to fit")

    def nll(p: F64) -> float:
        mu = np.exp(np.clip(A[in_sb] @ p, -50, 50))
        return float(np.sum(mu - n_sb * np.log(mu + 1e-300)))

    def grad(p: F64) -> F64:
        mu = np.exp(np.clip(A[in_sb] @ p, -50, 50))
        return np.asarray(A[in_sb].T @ (mu - n_sb))

    start = np.array([np.log(max(n_sb.mean(), 1e-3)), 0.0, 0.0])
    res = minimize(nll, start, jac=grad, method="BFGS")
    p = np.asarray(res.x)
    mu_all = np.exp(A @ p)
    hess = A[in_sb].T @ (mu_all[in_sb, None] * A[in_sb])
    cov = np.linalg.pinv(hess)
    b = float(mu_all[in_sr].sum())
    db = A[in_sr].T @ mu_all[in_sr]  # d b / d p
    sigma_b = float(np.sqrt(max(db @ cov @ db, 0.0)))
    n = float(counts[in_sr].sum())
    z = _poisson_z(n, b)
    z_sys = float(asimov_significance(max(n - b, 0.0), b, sigma_b=sigma_b)) if b > 0 else 0.0
    return {
        "observed": n,
        "expected_background": b,
        "sigma_background": sigma_b,
        "excess": n - b,
        "z_local": z,
        "z_local_with_fit_uncertainty": z_sys if n >= b else -abs(z),
        "fit_converged": bool(res.success),
        "params": p.tolist(),
        "histogram": {
            "edges": edges.tolist(),
            "counts": counts.tolist(),
            "fit": mu_all.tolist(),
        },
    }


def _poisson_z(n: float, b: float) -> float:
    if b <= 0:
        return float("nan")
    if n <= 0:
        return -float(np.sqrt(2 * b))
    q = 2 * (n * np.log(n / b) - (n - b))
    return float(np.sign(n - b) * np.sqrt(max(q, 0.0)))


def scan_cuts(
    score: ArrayLike,
    mass: ArrayLike,
    *,
    sr: Window,
    sidebands: Sequence[Window],
    keep_fractions: Sequence[float] = (1.0, 0.5, 0.2, 0.1, 0.05, 0.02),
    truth: ArrayLike | None = None,
    bin_width: float = 1.0,
) -> list[dict[str, Any]]:
    """The bump hunt after keeping the top ``keep_fraction`` of events by ``score`` (1.0: no
    cut). ``truth`` (is_signal, for reporting only) adds the true signal counted in the SR."""
    s = np.asarray(score, dtype=np.float64)
    m = np.asarray(mass, dtype=np.float64)
    in_sr, in_sb = region_masks(m, sr, sidebands)
    window = (in_sr | in_sb) & np.isfinite(s)
    out = []
    for f in keep_fractions:
        if not 0.0 < float(f) <= 1.0:
            raise ConfigError(f"keep fractions must be in (0, 1]; got {f}")
        cut = -np.inf if f >= 1.0 else float(np.quantile(s[window], 1.0 - float(f)))
        keep = window & (s >= cut)
        row = {"keep_fraction": float(f), "threshold": cut}
        row.update(bump_hunt(m[keep], sr=sr, sidebands=sidebands, bin_width=bin_width))
        if truth is not None:
            t = np.asarray(truth, dtype=bool)
            row["true_signal_in_sr"] = int((keep & in_sr & t).sum())
        out.append(row)
    return out
