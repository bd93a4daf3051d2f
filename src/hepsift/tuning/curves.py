"""Learning curves over the training-set size.

``learning_curve(model, train, test, fractions=(0.1, 0.25, 0.5, 1.0))`` fits a clone of the
model on a stratified random fraction of the training set for each fraction and scores it
(:func:`hepsift.tuning.cv.score_model`, physics weights) on the subset it was trained on and on
the test set. A widening gap between the two AUCs as the training set shrinks is the usual
sign of overtraining; a test AUC still rising at fraction 1 says more data would help.
(Per-epoch curves of torch models are in their ``history_``, see
:class:`hepsift.train.torch_loop.History`.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

from hepsift.dataset import Dataset
from hepsift.errors import ConfigError

__all__ = ["LearningCurve", "learning_curve"]


@dataclass
class LearningCurve:
    """Training-set fractions, event counts, and train / test metric per point."""

    fractions: list[float]
    n_train: list[int]
    train_auc: list[float]
    test_auc: list[float]
    train_accuracy: list[float]
    test_accuracy: list[float]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _fraction_indices(y: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    parts = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        take = max(1, round(fraction * idx.size))
        parts.append(rng.choice(idx, take, replace=False))
    return np.sort(np.concatenate(parts))


def learning_curve(
    model: Any,
    train: Dataset,
    test: Dataset,
    fractions: Sequence[float] = (0.1, 0.25, 0.5, 1.0),
    *,
    negative: Literal["keep", "abs", "drop"] = "keep",
    balance_classes: bool = False,
    seed: int = 0,
    **fit_params: Any,
) -> LearningCurve:
    """Fit clones of ``model`` on growing fractions of ``train``; score on it and ``test``."""
    from sklearn.base import clone

    from hepsift.tuning.cv import score_model

    fr = [float(f) for f in fractions]
    if not fr or any(not 0.0 < f <= 1.0 for f in fr):
        raise ConfigError(f"learning-curve fractions must lie in (0, 1]; got {list(fractions)}")
    rng = np.random.default_rng(seed)
    out = LearningCurve([], [], [], [], [], [])
    for f in sorted(fr):
        sub = train if f == 1.0 else train.subset(_fraction_indices(train.y, f, rng))
        m = clone(model)
        w = sub.training_weight(negative=negative, balance_classes=balance_classes)
        m.fit(sub.X, sub.y, sample_weight=w, **fit_params)
        s_train = score_model(m, sub)
        s_test = score_model(m, test)
        out.fractions.append(f)
        out.n_train.append(len(sub))
        out.train_auc.append(s_train["auc"])
        out.test_auc.append(s_test["auc"])
        out.train_accuracy.append(s_train["accuracy"])
        out.test_accuracy.append(s_test["accuracy"])
    return out
