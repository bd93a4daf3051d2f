"""Weighted ROC and AUC of a test split that never sits in one process.

Each partition (a Dask task, a file, a chunk) reduces its events to a :class:`ScoreSummary`:
the signal and background weight at each distinct score (exact) or in each of ``bins`` fine
score bins. Summaries merge exactly (a sorted merge of distinct scores, weights summed), in any
order and any tree, so ``merge(summarise(part) for part in parts)`` gives the same ROC and AUC
as :func:`hepsift.metrics.roc_curve` / :func:`hepsift.metrics.auc` on the whole split (up to
the order of floating-point sums). With ``bins`` the size of a summary is bounded; the AUC then
counts every pair within a bin as one half, and :func:`auc_tie_bound` bounds the difference to
the exact AUC (non-negative weights).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from hepsift.errors import ConfigError, DataError
from hepsift.metrics import Roc

__all__ = [
    "ScoreSummary",
    "auc_from_summary",
    "auc_tie_bound",
    "merge",
    "roc_from_summary",
    "summarise",
]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class ScoreSummary:
    """Signal and background weight per distinct score (or bin lower edge), scores ascending."""

    scores: FloatArray
    w_signal: FloatArray
    w_background: FloatArray
    bins: int | None = None

    def __len__(self) -> int:
        return int(self.scores.size)


def _reduce(scores: FloatArray, ws: FloatArray, wb: FloatArray, bins: int | None) -> ScoreSummary:
    uniq, inverse = np.unique(scores, return_inverse=True)
    return ScoreSummary(
        scores=uniq.astype(np.float64),
        w_signal=np.bincount(inverse, weights=ws, minlength=uniq.size).astype(np.float64),
        w_background=np.bincount(inverse, weights=wb, minlength=uniq.size).astype(np.float64),
        bins=bins,
    )


def summarise(
    y_true: ArrayLike,
    score: ArrayLike,
    *,
    sample_weight: ArrayLike | None = None,
    pos_label: Any = 1,
    bins: int | None = None,
) -> ScoreSummary:
    """One partition's summary. ``bins``: None keeps every distinct score (exact); an integer
    puts scores in [0, 1] into that many equal bins (scores outside are refused)."""
    y = np.asarray(y_true).reshape(-1)
    s = np.asarray(score, dtype=np.float64).reshape(-1)
    w = np.ones(s.size) if sample_weight is None else np.asarray(sample_weight, np.float64)
    if not (y.size == s.size == w.reshape(-1).size):
        raise DataError(f"summarise: {y.size} labels, {s.size} scores, {w.size} weights")
    if not np.all(np.isfinite(s)) or not np.all(np.isfinite(w)):
        raise DataError("summarise: score or sample_weight contains NaN or inf")
    if bins is not None:
        if not isinstance(bins, int) or bins < 1:
            raise ConfigError(f"summarise: bins must be an integer >= 1 or None; got {bins!r}")
        if s.size and (s.min() < 0.0 or s.max() > 1.0):
            raise DataError("summarise: binned summaries need scores in [0, 1]")
        s = np.minimum(np.floor(s * bins), bins - 1) / bins
    w = w.reshape(-1)
    sig = y == pos_label
    ws = np.where(sig, w, 0.0)
    return _reduce(s, ws, w - ws, bins)


def merge(summaries: Iterable[ScoreSummary]) -> ScoreSummary:
    """The summary of the union of the partitions (exact; associative and commutative)."""
    parts = list(summaries)
    if not parts:
        raise DataError("merge needs at least one summary")
    kinds = {p.bins for p in parts}
    if len(kinds) > 1:
        raise ConfigError(f"merge: summaries with different bins {sorted(map(str, kinds))}")
    return _reduce(
        np.concatenate([p.scores for p in parts]),
        np.concatenate([p.w_signal for p in parts]),
        np.concatenate([p.w_background for p in parts]),
        parts[0].bins,
    )


def _totals(summary: ScoreSummary) -> tuple[float, float]:
    tot_s, tot_b = float(summary.w_signal.sum()), float(summary.w_background.sum())
    if not tot_s > 0 or not tot_b > 0:
        raise DataError(
            f"ROC needs positive signal and background weight; got {tot_s:g} and {tot_b:g}"
        )
    return tot_s, tot_b


def roc_from_summary(summary: ScoreSummary) -> Roc:
    """The ROC curve, point for point as :func:`hepsift.metrics.roc_curve` (descending cuts)."""
    tot_s, tot_b = _totals(summary)
    tps = np.cumsum(summary.w_signal[::-1])
    fps = np.cumsum(summary.w_background[::-1])
    return Roc(
        signal_efficiency=np.concatenate([[0.0], tps / tot_s]),
        background_efficiency=np.concatenate([[0.0], fps / tot_b]),
        thresholds=np.concatenate([[np.inf], summary.scores[::-1]]),
    )


def auc_from_summary(summary: ScoreSummary) -> float:
    """Weighted AUC, ties counting one half (the formula of :class:`hepsift.metrics.AucScorer`)."""
    tot_s, tot_b = _totals(summary)
    wb = summary.w_background
    below = np.cumsum(wb) - wb
    return float(np.sum(summary.w_signal * (below + 0.5 * wb)) / (tot_s * tot_b))


def auc_tie_bound(summary: ScoreSummary) -> float:
    """Largest possible |binned AUC - exact AUC| (non-negative weights): the pairs that share
    a bin, counted one half, could truly all be ordered either way."""
    tot_s, tot_b = _totals(summary)
    return float(np.sum(summary.w_signal * summary.w_background) / (2.0 * tot_s * tot_b))


def _score_part(
    predict_proba: Callable[[Any], Any],
    part: tuple[Any, Any, Any],
    bins: int | None,
    pos_label: Any,
    column: int,
) -> ScoreSummary:
    X, y, w = part
    score = np.asarray(predict_proba(X))[:, column]
    return summarise(y, score, sample_weight=w, pos_label=pos_label, bins=bins)


def _merge_two(a: ScoreSummary, b: ScoreSummary) -> ScoreSummary:
    return merge([a, b])


def score_summary(
    client: Any,
    predict_proba: Callable[[Any], Any],
    parts: Iterable[Any],
    *,
    bins: int | None = None,
    pos_label: Any = 1,
    column: int = 1,
) -> ScoreSummary:
    """Score each partition ``(X, y, weight)`` on the Dask ``client``'s workers (the model is
    shipped to them) and merge the summaries pairwise on the cluster: only the final summary
    comes back. ``parts`` may be Dask futures of such tuples (``client.scatter``)."""
    level = [
        client.submit(_score_part, predict_proba, part, bins, pos_label, column, pure=False)
        for part in parts
    ]
    if not level:
        raise DataError("score_summary needs at least one partition")
    while len(level) > 1:
        nxt = [
            client.submit(_merge_two, a, b) for a, b in zip(level[::2], level[1::2], strict=False)
        ]
        level = nxt + ([level[-1]] if len(level) % 2 else [])
    result: ScoreSummary = level[0].result()
    return result
