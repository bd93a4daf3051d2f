"""Classification metrics and discovery significance, from scratch, weighted.

Every function takes ``sample_weight`` (keyword-only). Weights may be negative, as Monte Carlo
event weights are: all sums are plain weighted sums, nothing is clipped. Only NumPy is used.

Conventions
-----------
- Signal is the positive class: label ``pos_label`` (default 1); every other label is background.
- A ROC point is a cut ``score >= threshold``: signal efficiency (TPR) is the weighted fraction of
  signal kept, background efficiency (FPR) the weighted fraction of background kept, background
  rejection ``1 / FPR`` (``inf`` where no background passes).
- Ratios whose denominator is zero (no predicted positives, ...) are ``nan`` and emit an
  :class:`UndefinedMetricWarning`.

- AUC: one implementation, :class:`AucScorer` (pairwise definition, ties one half, sorted once
  for many weight vectors), behind :func:`auc`, :func:`auc_batch`, the one-vs-rest
  :func:`auc_ovr` / :func:`auc_ovr_batch` (:class:`OvrAucScorer`), the bootstrap of
  :mod:`hepsift.evaluate` and the torch training loop.

Significances are in standard deviations; ``s`` and ``b`` are expected event counts (sums of
weights normalised to a luminosity), not GeV. :func:`significance_scan` refuses cuts keeping
fewer than 10 raw background MC events by default and takes the AMS regularisation ``b_reg``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from hepsift.errors import ConfigError, DataError

__all__ = [
    "AucScorer",
    "BinaryScores",
    "OvrAucScorer",
    "Roc",
    "SignificanceScan",
    "UndefinedMetricWarning",
    "asimov_significance",
    "auc",
    "auc_batch",
    "auc_ovr",
    "auc_ovr_batch",
    "binary_scores",
    "confusion_matrix",
    "roc_curve",
    "s_over_sqrt_b",
    "sigma68",
    "significance_scan",
]

FloatArray = NDArray[np.float64]


class UndefinedMetricWarning(UserWarning):
    """A metric is undefined for the given data (zero denominator); its value is ``nan``."""


# -- input handling --------------------------------------------------------------------------
def _as_1d(values: ArrayLike, name: str) -> NDArray[Any]:
    arr = np.asarray(values)
    if arr.ndim == 2 and 1 in arr.shape:
        arr = arr.ravel()
    if arr.ndim != 1:
        raise DataError(f"{name} must be 1-D (one value per event); got shape {arr.shape}")
    return arr


def _floats(values: ArrayLike, name: str) -> FloatArray:
    """``values`` as float64; a DataError (not NumPy's ValueError) when they are not numbers."""
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        kind = np.asarray(values).dtype
        raise DataError(f"{name} must hold numbers; got values of type {kind}") from None


def _labels(values: ArrayLike, name: str) -> NDArray[Any]:
    """Class labels as a 1-D array: NaN/inf and fractional numbers are refused (a label is a
    class number, a bool or a name, never a probability)."""
    arr = _as_1d(values, name)
    if arr.dtype.kind in "fc":
        finite = np.isfinite(arr)
        if not finite.all():
            raise DataError(
                f"{name} holds {int((~finite).sum())} NaN/inf labels; class labels must be "
                "finite (0 background, 1 signal, or the class numbers)"
            )
        frac = arr != np.round(arr)
        if frac.any():
            bad = np.unique(arr[frac])[:3].tolist()
            raise DataError(
                f"{name} holds non-integer labels {bad}; class labels are whole numbers "
                "(0 background, 1 signal), not probabilities"
            )
    elif arr.dtype.kind == "O":
        bad_obj = [v for v in arr[:100_000].tolist() if isinstance(v, float) and v != v]
        if bad_obj:
            raise DataError(f"{name} holds NaN labels; class labels must be finite")
    return arr


def _weights(sample_weight: ArrayLike | None, n: int) -> FloatArray:
    if sample_weight is None:
        return np.ones(n, dtype=np.float64)
    w = _floats(_as_1d(sample_weight, "sample_weight"), "sample_weight")
    if w.shape != (n,):
        raise DataError(f"sample_weight has {w.shape[0]} entries; expected {n} (one per event)")
    if not np.all(np.isfinite(w)):
        raise DataError("sample_weight contains NaN or inf")
    return w


def _same_length(a: NDArray[Any], b: NDArray[Any], names: tuple[str, str]) -> None:
    if a.shape[0] != b.shape[0]:
        raise DataError(
            f"{names[0]} has {a.shape[0]} entries but {names[1]} has {b.shape[0]}; "
            "they must describe the same events"
        )
    if a.shape[0] == 0:
        raise DataError(f"{names[0]} is empty; a metric needs at least one event")


def _ratio(num: float, den: float, what: str) -> float:
    if den == 0.0:
        warnings.warn(
            f"{what} is undefined (zero denominator); returning nan",
            UndefinedMetricWarning,
            stacklevel=3,
        )
        return float("nan")
    return num / den


# -- confusion matrix and scores -------------------------------------------------------------
def confusion_matrix(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    *,
    sample_weight: ArrayLike | None = None,
    labels: ArrayLike | None = None,
) -> NDArray[Any]:
    """The (weighted) confusion matrix ``C[i, j]``: events of true class ``labels[i]`` predicted
    as ``labels[j]`` (rows true, columns predicted, as in scikit-learn).

    ``labels`` defaults to the sorted union of the labels seen; events whose true or predicted
    label is not in ``labels`` are ignored. Without weights the counts are integers (int64),
    with weights the sums are float64.
    """
    yt = _labels(y_true, "y_true")
    yp = _labels(y_pred, "y_pred")
    _same_length(yt, yp, ("y_true", "y_pred"))
    if labels is None:
        lab = np.unique(np.concatenate([np.unique(yt), np.unique(yp)]))
    else:
        lab = _as_1d(labels, "labels")
        if lab.size == 0:
            raise ConfigError("confusion_matrix: labels is empty; give at least one label")
        if np.unique(lab).size != lab.size:
            raise ConfigError(f"confusion_matrix: labels repeat a value: {lab.tolist()}")
    order = np.argsort(lab, kind="stable")
    sorted_lab = lab[order]
    k = lab.size

    def encode(y: NDArray[Any]) -> tuple[NDArray[np.intp], NDArray[np.bool_]]:
        pos = np.searchsorted(sorted_lab, y)
        pos_c = np.minimum(pos, k - 1)
        found = sorted_lab[pos_c] == y
        return order[pos_c], found

    it, ft = encode(yt)
    ip, fp = encode(yp)
    for name, y, found in (("y_true", yt, ft), ("y_pred", yp, fp)):
        if not found.all():
            bad = np.unique(y[~found])[:5].tolist()
            raise DataError(
                f"confusion_matrix: {name} holds labels {bad} that are not among the declared "
                f"labels {lab.tolist()}"
            )
    keep = ft & fp
    flat = it[keep] * k + ip[keep]
    if sample_weight is None:
        return np.bincount(flat, minlength=k * k).reshape(k, k).astype(np.int64)
    w = _weights(sample_weight, yt.shape[0])
    return np.bincount(flat, weights=w[keep], minlength=k * k).reshape(k, k)


@dataclass(frozen=True)
class BinaryScores:
    """Scores of a binary selection. Counts are weighted sums of events; ratios in [0, 1]."""

    tp: float
    fp: float
    tn: float
    fn: float
    #: (TP + TN) / all events
    accuracy: float
    #: TP / (TP + FP): purity of the selected sample
    precision: float
    #: TP / (TP + FN): signal efficiency
    recall: float
    #: harmonic mean of precision and recall, 2 TP / (2 TP + FP + FN)
    f1: float
    #: TN / (TN + FP): background rejected (1 - background efficiency)
    specificity: float

    def as_dict(self) -> dict[str, float]:
        """All fields as a plain ``dict`` (JSON-able)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def binary_scores(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    *,
    sample_weight: ArrayLike | None = None,
    pos_label: Any = 1,
) -> BinaryScores:
    """Accuracy, precision, recall, F1 and specificity of predicted labels ``y_pred``.

    Events with label ``pos_label`` are positive (signal), all others negative. A ratio with a
    zero denominator (e.g. precision with no predicted positives) is ``nan`` with an
    :class:`UndefinedMetricWarning`.
    """
    yt = _labels(y_true, "y_true")
    yp = _labels(y_pred, "y_pred")
    _same_length(yt, yp, ("y_true", "y_pred"))
    w = _weights(sample_weight, yt.shape[0])
    t = yt == pos_label
    p = yp == pos_label
    tp = float(w[t & p].sum())
    fp = float(w[~t & p].sum())
    tn = float(w[~t & ~p].sum())
    fn = float(w[t & ~p].sum())
    return BinaryScores(
        tp=tp,
        fp=fp,
        tn=tn,
        fn=fn,
        accuracy=_ratio(tp + tn, tp + tn + fp + fn, "accuracy (no events)"),
        precision=_ratio(tp, tp + fp, "precision (no predicted positives)"),
        recall=_ratio(tp, tp + fn, "recall (no true positives)"),
        f1=_ratio(2.0 * tp, 2.0 * tp + fp + fn, "f1 (no true or predicted positives)"),
        specificity=_ratio(tn, tn + fp, "specificity (no true negatives)"),
    )


# -- ROC -------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Roc:
    """A weighted ROC curve, one point per distinct score, loosest cut last.

    Point ``i`` keeps events with ``score >= thresholds[i]``; the first point has threshold
    ``+inf`` (nothing kept), as in scikit-learn's ``roc_curve(drop_intermediate=False)``.
    """

    #: TPR: weighted fraction of signal kept, non-decreasing for non-negative weights
    signal_efficiency: FloatArray
    #: FPR: weighted fraction of background kept
    background_efficiency: FloatArray
    #: the score cut of each point (descending)
    thresholds: FloatArray

    @property
    def background_rejection(self) -> FloatArray:
        """``1 / background_efficiency``; ``inf`` where no background passes."""
        fpr = self.background_efficiency
        out = np.full(fpr.shape, np.inf)
        np.divide(1.0, fpr, out=out, where=fpr != 0)
        return out

    @property
    def auc(self) -> float:
        """Area under the curve by the trapezoid rule (ties count one half)."""
        return float(np.trapezoid(self.signal_efficiency, self.background_efficiency))

    def _locate(self, signal_efficiency: ArrayLike) -> tuple[NDArray[np.intp], FloatArray]:
        eff = np.asarray(signal_efficiency, dtype=np.float64)
        if np.any(~np.isfinite(eff)) or np.any(eff < 0) or np.any(eff > 1):
            raise ConfigError(
                f"signal_efficiency must lie in [0, 1]; got {np.atleast_1d(eff).tolist()[:5]}"
            )
        # Tightest cut reaching the efficiency: the running maximum keeps the search monotone
        # even when negative weights make the raw TPR dip.
        tpr = np.maximum.accumulate(self.signal_efficiency)
        idx = np.searchsorted(tpr, eff, side="left")
        return np.minimum(idx, tpr.size - 1), tpr

    def background_rejection_at(self, signal_efficiency: ArrayLike) -> Any:
        """Background rejection ``1/FPR`` at a signal efficiency (scalar or array) — a working
        point. FPR is interpolated linearly in TPR between the two ROC points around it."""
        idx, tpr = self._locate(signal_efficiency)
        eff = np.asarray(signal_efficiency, dtype=np.float64)
        fpr = self.background_efficiency
        lo = np.maximum(idx - 1, 0)
        x0, x1 = tpr[lo], tpr[idx]
        span = x1 - x0
        frac = np.divide(eff - x0, span, out=np.ones_like(span), where=span > 0)
        fpr_at = fpr[lo] + frac * (fpr[idx] - fpr[lo])
        rej = np.full(fpr_at.shape, np.inf)
        np.divide(1.0, fpr_at, out=rej, where=fpr_at > 0)
        return float(rej) if rej.ndim == 0 else rej

    def threshold_at(self, signal_efficiency: ArrayLike) -> Any:
        """The score cut of the tightest ROC point whose signal efficiency reaches the requested
        one (scalar or array); keeping ``score >= cut`` selects at least that fraction."""
        idx, _ = self._locate(signal_efficiency)
        out = self.thresholds[idx]
        return float(out) if out.ndim == 0 else out


def _cumulative(
    y_true: ArrayLike, score: ArrayLike, sample_weight: ArrayLike | None, pos_label: Any
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Weighted signal and background sums passing ``score >= t`` at each distinct score ``t``
    (descending). Sort once, cumulative sums: O(n log n)."""
    yt = _labels(y_true, "y_true")
    s = _floats(_as_1d(score, "score"), "score")
    _same_length(yt, s, ("y_true", "score"))
    if not np.all(np.isfinite(s)):
        raise DataError("score contains NaN or inf")
    w = _weights(sample_weight, yt.shape[0])
    order = np.argsort(s, kind="stable")[::-1]
    s_sorted = s[order]
    w_sorted = w[order]
    sig = (yt == pos_label)[order]
    ws = np.where(sig, w_sorted, 0.0)
    wb = w_sorted - ws
    last = np.flatnonzero(np.diff(s_sorted)) if s_sorted.size > 1 else np.empty(0, np.intp)
    last = np.concatenate([last, [s_sorted.size - 1]])
    return np.cumsum(ws)[last], np.cumsum(wb)[last], s_sorted[last]


def roc_curve(
    y_true: ArrayLike,
    score: ArrayLike,
    *,
    sample_weight: ArrayLike | None = None,
    pos_label: Any = 1,
) -> Roc:
    """The ROC curve of ``score`` (higher = more signal-like), one point per distinct score.

    Raises DataError when the total signal or background weight is not positive (the
    efficiencies would be undefined).
    """
    tps, fps, thr = _cumulative(y_true, score, sample_weight, pos_label)
    tot_s, tot_b = float(tps[-1]), float(fps[-1])
    if not tot_s > 0:
        raise DataError(
            f"roc_curve needs signal (label {pos_label!r}) with positive total weight; "
            f"got {tot_s:g}"
        )
    if not tot_b > 0:
        raise DataError(
            f"roc_curve needs background (labels other than {pos_label!r}) with positive total "
            f"weight; got {tot_b:g}"
        )
    tpr = np.concatenate([[0.0], tps / tot_s])
    fpr = np.concatenate([[0.0], fps / tot_b])
    thresholds = np.concatenate([[np.inf], thr])
    return Roc(signal_efficiency=tpr, background_efficiency=fpr, thresholds=thresholds)


def auc(
    y_true: ArrayLike,
    score: ArrayLike,
    *,
    sample_weight: ArrayLike | None = None,
    pos_label: Any = 1,
) -> float:
    """Area under the ROC curve: the weighted probability that a signal event scores above a
    background event, ties counting one half (each pair weighted by the product of the two
    event weights; equal to the trapezoid area of :func:`roc_curve`).

    Raises DataError when the total signal or background weight is not positive. The one
    implementation behind every AUC in hepsift is :class:`AucScorer`.
    """
    scorer = AucScorer(y_true, score, pos_label=pos_label)
    w = _weights(sample_weight, scorer.n)
    tot_s = float(w[scorer.is_signal].sum())
    tot_b = float(w.sum()) - tot_s
    if not tot_s > 0:
        raise DataError(
            f"auc needs signal (label {pos_label!r}) with positive total weight; got {tot_s:g}"
        )
    if not tot_b > 0:
        raise DataError(
            f"auc needs background (labels other than {pos_label!r}) with positive total "
            f"weight; got {tot_b:g}"
        )
    return float(scorer(w[None, :])[0])


def auc_batch(
    y_true: ArrayLike, score: ArrayLike, weights: ArrayLike, *, pos_label: Any = 1
) -> FloatArray:
    """The weighted AUC of one score under each row of ``weights`` (shape (B, n)); ``nan`` for
    a row whose signal or background weight sums to zero. See :class:`AucScorer`."""
    return AucScorer(y_true, score, pos_label=pos_label)(weights)


def auc_ovr(
    y_true: ArrayLike, proba: ArrayLike, *, sample_weight: ArrayLike | None = None
) -> float:
    """AUC of class probabilities ``proba`` (n, k) for labels ``y_true`` in 0..k-1: binary
    (k = 2) the AUC of column 1, multi-class the mean one-vs-rest AUC over the classes whose
    AUC is defined (``nan`` when none is). See :class:`OvrAucScorer`."""
    scorer = OvrAucScorer(y_true, proba)
    macro, _ = scorer(_weights(sample_weight, scorer.n)[None, :])
    return float(macro[0])


def auc_ovr_batch(
    y_true: ArrayLike, proba: ArrayLike, weights: ArrayLike
) -> tuple[FloatArray, dict[int, FloatArray]]:
    """:func:`auc_ovr` under each row of ``weights`` (B, n): the (B,) macro AUCs and, per
    class with both its events and others present, its (B,) one-vs-rest AUCs."""
    return OvrAucScorer(y_true, proba)(weights)


def sigma68(x: ArrayLike, fraction: float = 0.6827) -> float:
    """Half-width of the smallest interval holding ``fraction`` (68.27 %: +-1 sigma of a
    Gaussian) of the finite values of ``x``: a resolution that tails do not move, unlike the
    RMS. NaN for fewer than two finite values."""
    v = np.asarray(x, dtype=np.float64).ravel()
    v = np.sort(v[np.isfinite(v)])
    n = len(v)
    if n < 2:
        return float("nan")
    k = min(n, max(2, int(np.ceil(fraction * n))))
    widths = v[k - 1 :] - v[: n - k + 1]
    return float(widths.min() / 2.0)


class AucScorer:
    """Weighted AUC of one score for many weight vectors: the events are sorted once.

    ``AucScorer(y_true, score)(W)`` with ``W`` of shape (B, n) (events in their original order)
    returns the B AUCs ``sum_{i sig, j bkg} w_i w_j [s_i > s_j] + 1/2 [s_i == s_j]`` divided by
    ``(sum_sig w)(sum_bkg w)``: tied scores are grouped, so the cost is one gather and a few
    cumulative sums per row (negative weights allowed; ``nan`` where a row's signal or
    background total is zero). This is the one AUC implementation of hepsift: :func:`auc`,
    :func:`auc_batch`, the one-vs-rest AUCs, the bootstrap and the torch training loop use it.
    """

    def __init__(self, y_true: ArrayLike, score: ArrayLike, *, pos_label: Any = 1) -> None:
        yt = _labels(y_true, "y_true")
        s = _floats(_as_1d(score, "score"), "score")
        _same_length(yt, s, ("y_true", "score"))
        if not np.all(np.isfinite(s)):
            raise DataError("score contains NaN or inf")
        self.n = int(s.size)
        self.is_signal: NDArray[np.bool_] = np.asarray(yt == pos_label, dtype=bool)
        self._order = np.argsort(s, kind="stable")
        s_sorted = s[self._order]
        self._starts = np.flatnonzero(np.r_[True, s_sorted[1:] != s_sorted[:-1]])
        self._sig_sorted = self.is_signal[self._order]

    def __call__(self, weights: ArrayLike) -> FloatArray:
        W = _floats(weights, "weights")
        if W.ndim == 1:
            W = W[None, :]
        if W.ndim != 2 or W.shape[1] != self.n:
            raise DataError(f"weights of shape {W.shape} do not match {self.n} scores")
        if not np.all(np.isfinite(W)):
            raise DataError("sample_weight contains NaN or inf")
        Wo = W[:, self._order]
        ws_bin = np.add.reduceat(np.where(self._sig_sorted, Wo, 0.0), self._starts, axis=1)
        wb_bin = np.add.reduceat(Wo, self._starts, axis=1) - ws_bin
        del Wo
        below = np.cumsum(wb_bin, axis=1) - wb_bin
        num = np.sum(ws_bin * (below + 0.5 * wb_bin), axis=1)
        den = ws_bin.sum(axis=1) * wb_bin.sum(axis=1)
        out = np.full(den.shape, np.nan)
        np.divide(num, den, out=out, where=den != 0)
        # rounding of the weighted sums can land 1e-16 outside [0, 1]: back onto the bound
        # (negative weights can move a weighted AUC truly outside, which is left as it is)
        out = np.where((out > 1.0) & (out < 1.0 + 1e-12), 1.0, out)
        return np.where((out < 0.0) & (out > -1e-12), 0.0, out)


class OvrAucScorer:
    """One-vs-rest AUCs of class probabilities (n, k) for many weight vectors.

    ``OvrAucScorer(y_true, proba)(W)`` returns ``(macro, per_class)``: binary (k = 2) the AUC of
    column 1 for class 1 (``per_class = {1: macro}``); multi-class the AUC of column c for
    class c against the rest, for every class with events in and out of it, and their mean
    over the defined (finite) values (``nan`` where none is).
    """

    def __init__(self, y_true: ArrayLike, proba: ArrayLike) -> None:
        p = _floats(proba, "proba")
        if p.ndim != 2 or p.shape[1] < 2:
            raise DataError(f"proba must be (events, classes >= 2); got shape {p.shape}")
        yt = _labels(y_true, "y_true")
        _same_length(yt, p, ("y_true", "proba"))
        if yt.dtype.kind not in "iubf":
            raise DataError(f"y_true must hold class numbers 0..{p.shape[1] - 1}; got {yt.dtype}")
        out_of_range = (yt < 0) | (yt >= p.shape[1])
        if out_of_range.any():
            bad = np.unique(yt[out_of_range])[:5].tolist()
            raise DataError(
                f"y_true holds labels {bad} outside the {p.shape[1]} classes of proba "
                f"(0..{p.shape[1] - 1})"
            )
        self.n = int(p.shape[0])
        if p.shape[1] == 2:
            self._scorers = {1: AucScorer(yt, p[:, 1], pos_label=1)}
        else:
            self._scorers = {
                c: AucScorer(yt, p[:, c], pos_label=c)
                for c in range(p.shape[1])
                if np.any(yt == c) and not np.all(yt == c)
            }

    def __call__(self, weights: ArrayLike) -> tuple[FloatArray, dict[int, FloatArray]]:
        W = np.atleast_2d(_floats(weights, "weights"))
        per = {c: scorer(W) for c, scorer in self._scorers.items()}
        if not per:
            return np.full(W.shape[0], np.nan), per
        stacked = np.vstack(list(per.values()))
        finite = np.isfinite(stacked)
        count = finite.sum(axis=0)
        total = np.where(finite, stacked, 0.0).sum(axis=0)
        macro = np.full(W.shape[0], np.nan)
        np.divide(total, count, out=macro, where=count > 0)
        return macro, per


# -- significance ----------------------------------------------------------------------------
def _counts(values: ArrayLike, name: str, where: str) -> FloatArray:
    """Expected event counts: finite and >= 0 (a ConfigError names the first bad value)."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: {name} must be a number of events; got {values!r}") from None
    bad = ~(np.isfinite(arr) & (arr >= 0))
    if bad.any():
        first = float(np.atleast_1d(arr)[np.atleast_1d(bad)][0])
        raise ConfigError(
            f"{where}: {name} is an expected number of events, finite and >= 0; got {first:g}"
        )
    return arr


def s_over_sqrt_b(s: ArrayLike, b: ArrayLike) -> Any:
    """The naive significance ``s / sqrt(b)`` (vectorised); ``nan`` where ``b == 0``.

    ``s`` and ``b`` are expected event counts: a negative or non-finite one is a ConfigError.

    Valid only for ``s << b``; prefer :func:`asimov_significance`.
    """
    s_arr = _counts(s, "s", "s_over_sqrt_b")
    b_arr = _counts(b, "b", "s_over_sqrt_b")
    s_arr, b_arr = np.broadcast_arrays(s_arr, b_arr)
    out = np.full(s_arr.shape, np.nan)
    np.divide(s_arr, np.sqrt(np.maximum(b_arr, 0.0)), out=out, where=b_arr > 0)
    return float(out) if out.ndim == 0 else out


def _xlog1px_minus_x(x: FloatArray) -> FloatArray:
    """``(1 + x) ln(1 + x) - x`` without cancellation for small ``|x|``."""
    small = np.abs(x) < 1e-3
    out = np.empty_like(x)
    xs = x[small]
    # series: sum_{k>=2} (-1)^k x^k / (k (k - 1))
    out[small] = xs**2 * (0.5 + xs * (-1.0 / 6.0 + xs * (1.0 / 12.0 + xs * (-1.0 / 20.0))))
    xl = x[~small]
    out[~small] = (1.0 + xl) * np.log1p(xl) - xl
    return out


def asimov_significance(s: ArrayLike, b: ArrayLike, *, sigma_b: ArrayLike | None = None) -> Any:
    """Median discovery significance of a counting experiment (Cowan, Cranmer, Gross, Vitells,
    Eur. Phys. J. C 71 (2011) 1554), vectorised over ``s``, ``b`` (and ``sigma_b``).

    Without background uncertainty ``Z = sqrt(2 ((s + b) ln(1 + s/b) - s))``; with an absolute
    background uncertainty ``sigma_b`` (same units as ``b``)
    ``Z = sqrt(2 ((s+b) ln((s+b)(b+σ²) / (b² + (s+b)σ²)) - (b²/σ²) ln(1 + σ² s / (b (b+σ²)))))``.
    Both tend to ``s / sqrt(b)`` (respectively ``s / sqrt(b + σ²)``) for ``s << b``.

    ``s``, ``b`` and ``sigma_b`` are expected counts: a negative or non-finite one is a
    ConfigError (one line naming it). ``Z = 0`` for ``s == 0``; ``nan`` where ``b == 0`` (the
    significance is unbounded).
    """
    s_arr = _counts(s, "s", "asimov_significance")
    b_arr = _counts(b, "b", "asimov_significance")
    sig = np.zeros(()) if sigma_b is None else _counts(sigma_b, "sigma_b", "asimov_significance")
    return _asimov(s_arr, b_arr, sig)


def _asimov(s_arr: FloatArray, b_arr: FloatArray, sig: FloatArray) -> Any:
    """:func:`asimov_significance` without the argument checks, for the scan: ``Z = 0`` for
    ``s <= 0`` (negative weights can make a cut's ``s`` negative), ``nan`` where ``b <= 0``."""
    s_arr, b_arr, sig = (
        np.array(a, dtype=np.float64) for a in np.broadcast_arrays(s_arr, b_arr, sig)
    )
    out = np.full(s_arr.shape, np.nan)
    valid = (b_arr > 0) & (sig >= 0) & np.isfinite(s_arr) & np.isfinite(b_arr)
    zero = valid & (s_arr <= 0)
    out[zero] = 0.0
    pos = valid & (s_arr > 0)
    plain = pos & (sig == 0)
    if np.any(plain):
        sp, bp = s_arr[plain], b_arr[plain]
        q = 2.0 * bp * _xlog1px_minus_x(sp / bp)
        out[plain] = np.sqrt(np.maximum(q, 0.0))
    unc = pos & (sig > 0)
    if np.any(unc):
        su, bu, v = s_arr[unc], b_arr[unc], sig[unc] ** 2
        n = su + bu
        term1 = n * np.log(n * (bu + v) / (bu * bu + n * v))
        term2 = (bu * bu / v) * np.log1p(v * su / (bu * (bu + v)))
        out[unc] = np.sqrt(np.maximum(2.0 * (term1 - term2), 0.0))
    return float(out) if out.ndim == 0 else out


@dataclass(frozen=True, eq=False)
class SignificanceScan:
    """Asimov significance of the cut ``score >= cut`` at every distinct score (ascending cuts).

    ``s`` and ``b`` are the weighted signal and background passing each cut (``b`` without the
    regularisation term); ``z`` is ``nan`` where the cut is not eligible (too little background,
    see :func:`significance_scan`); ``b_reg`` is the AMS regularisation term used.
    """

    cuts: FloatArray
    s: FloatArray
    b: FloatArray
    z: FloatArray
    #: the cut with the highest Z (nan when no cut is eligible)
    best_cut: float
    best_s: float
    best_b: float
    best_z: float
    b_reg: float = 0.0

    def as_dict(self) -> dict[str, float]:
        """The best working point as a plain ``dict``."""
        return {
            "cut": self.best_cut,
            "s": self.best_s,
            "b": self.best_b,
            "z": self.best_z,
        }


def significance_scan(
    y_true: ArrayLike,
    score: ArrayLike,
    *,
    sample_weight: ArrayLike | None = None,
    sigma_b_rel: float | None = None,
    min_background: float = 1.0,
    min_background_events: int = 10,
    b_reg: float = 0.0,
    pos_label: Any = 1,
) -> SignificanceScan:
    """Scan the cut ``score >= cut`` over every distinct score and find the most significant.

    ``sample_weight`` should normalise events to expected yields (``xsec * lumi / sum_w``), so
    that ``s`` and ``b`` are expected event counts. ``sigma_b_rel`` is a relative background
    uncertainty (``sigma_b = sigma_b_rel * b``).

    ``b_reg`` is the regularisation term of the HiggsML challenge's approximate median
    significance (AMS; the challenge used ``b_reg = 10``): the Z of each cut is
    ``asimov_significance(s, b + b_reg)``, i.e. without ``sigma_b``
    ``Z = sqrt(2 ((s + b + b_reg) ln(1 + s / (b + b_reg)) - s))``. The default 0 is the plain
    Asimov Z of Cowan et al.

    Small-background protection: the Asimov Z grows without bound as ``b -> 0`` (roughly
    ``sqrt(2 s ln(s/b))``), so a scan would otherwise pick the tightest cut, where background MC
    statistics are poorest. Cuts leaving less than ``min_background`` expected background
    (weighted) get ``z = nan`` and cannot be the best cut; so do cuts keeping fewer than
    ``min_background_events`` raw (unweighted) background events (default 10, as a run uses),
    where the MC estimate of ``b`` rests on a handful of events whatever their weights.
    """
    if sigma_b_rel is not None and not (np.isfinite(sigma_b_rel) and sigma_b_rel >= 0):
        raise ConfigError(f"sigma_b_rel must be a finite number >= 0; got {sigma_b_rel!r}")
    if not (np.isfinite(min_background) and min_background >= 0):
        raise ConfigError(f"min_background must be a finite number >= 0; got {min_background!r}")
    if not (np.isfinite(b_reg) and b_reg >= 0):
        raise ConfigError(f"b_reg must be a finite number >= 0 (HiggsML: 10); got {b_reg!r}")
    if int(min_background_events) != min_background_events or min_background_events < 0:
        raise ConfigError(
            f"min_background_events must be an integer >= 0; got {min_background_events!r}"
        )
    tps, fps, thr = _cumulative(y_true, score, sample_weight, pos_label)
    cuts, s, b = thr[::-1].copy(), tps[::-1].copy(), fps[::-1].copy()
    sigma = np.zeros(()) if sigma_b_rel is None else sigma_b_rel * np.abs(b)
    z = np.asarray(_asimov(s, b + b_reg, sigma), dtype=np.float64)
    z = z.reshape(s.shape)
    z[~(b >= min_background)] = np.nan
    if min_background_events > 0:
        _, raw_b, _ = _cumulative(y_true, score, None, pos_label)
        z[raw_b[::-1] < min_background_events] = np.nan
    if np.all(np.isnan(z)):
        warnings.warn(
            f"significance_scan: no cut leaves at least min_background={min_background:g} "
            f"background (and {min_background_events} raw background events); best cut is nan",
            UndefinedMetricWarning,
            stacklevel=2,
        )
        nan = float("nan")
        return SignificanceScan(cuts, s, b, z, nan, nan, nan, nan, float(b_reg))
    i = int(np.nanargmax(z))
    return SignificanceScan(
        cuts, s, b, z, float(cuts[i]), float(s[i]), float(b[i]), float(z[i]), float(b_reg)
    )
