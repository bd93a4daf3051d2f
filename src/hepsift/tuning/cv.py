"""k-fold cross-validation of any hepsift model on a :class:`~hepsift.dataset.Dataset`.

``cross_validate(model, dataset, k=5)`` splits with :meth:`Dataset.kfold` (fold ``i`` tests on
``eventNumber % k == i``, the HEP convention; a random stratified split when the dataset has no
event numbers), fits a ``sklearn.base.clone`` of the model per fold on the training weights
(:meth:`Dataset.training_weight` with the ``negative`` policy), and scores the test fold with
the physics weights (``Dataset.weight``) using :mod:`hepsift.metrics`.

Metrics (:func:`score_model`): ``auc`` (binary: weighted ROC AUC of P(last class); multi-class:
mean one-vs-rest AUC), ``accuracy`` (weighted), and for binary problems ``precision``,
``recall``, ``f1`` at the predicted label. The result holds each fold's metrics and their mean
and standard deviation over folds.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from hepsift.dataset import Dataset
from hepsift.errors import ConfigError, DataError

__all__ = ["CVResult", "cross_validate", "score_model"]


def _auc(y: Any, score: Any, w: Any, pos_label: int = 1) -> float:
    """:func:`hepsift.metrics.auc`, NaN for a fold without both classes or positive weights."""
    from hepsift import metrics

    yy = np.asarray(y)
    if not np.any(yy == pos_label) or np.all(yy == pos_label):
        return math.nan
    try:
        return float(metrics.auc(yy, score, sample_weight=w, pos_label=pos_label))
    except DataError:  # a fold whose signal or background weight is not positive
        return math.nan


def score_model(model: Any, data: Dataset) -> dict[str, float]:
    """Weighted metrics of a fitted model on ``data`` (see the module docstring)."""
    from hepsift import metrics

    proba = np.asarray(model.predict_proba(data.X), dtype=np.float64)
    classes = np.asarray(model.classes_)
    pred = classes[np.argmax(proba, axis=1)]
    w = data.weight
    total = float(w.sum())
    out: dict[str, float] = {
        "accuracy": float(w[pred == data.y].sum() / total) if total != 0 else math.nan
    }
    if proba.shape[1] == 2:
        out["auc"] = _auc(data.y == classes[1], proba[:, 1], w)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", metrics.UndefinedMetricWarning)
            s = metrics.binary_scores(data.y, pred, sample_weight=w, pos_label=classes[1])
        out.update(precision=s.precision, recall=s.recall, f1=s.f1)
    else:
        aucs = [_auc(data.y == c, proba[:, j], w) for j, c in enumerate(classes)]
        finite = [a for a in aucs if math.isfinite(a)]
        out["auc"] = float(np.mean(finite)) if finite else math.nan
    return out


@dataclass
class CVResult:
    """Per-fold metrics and their mean / standard deviation over folds."""

    folds: list[dict[str, float]]
    mean: dict[str, float]
    std: dict[str, float]
    k: int
    by: str
    models: list[Any] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"k": self.k, "by": self.by, "folds": self.folds, "mean": self.mean, "std": self.std}

    def summary(self) -> str:
        return ", ".join(f"{m} = {self.mean[m]:.4f} ± {self.std[m]:.4f}" for m in self.mean)


def cross_validate(
    model: Any,
    dataset: Dataset,
    k: int = 5,
    *,
    by: Literal["event_number", "random", "auto"] = "auto",
    negative: Literal["keep", "abs", "drop"] = "keep",
    balance_classes: bool = False,
    seed: int = 0,
    keep_models: bool = False,
    **fit_params: Any,
) -> CVResult:
    """k-fold cross-validation (see the module docstring); ``fit_params`` go to every ``fit``."""
    from sklearn.base import clone

    if by == "auto":
        by = "event_number" if dataset.event_number is not None else "random"
    if by not in ("event_number", "random"):
        raise ConfigError(f"cross-validation 'by' must be event_number, random or auto; got {by!r}")
    folds: list[dict[str, float]] = []
    models: list[Any] = []
    for i, (train, test) in enumerate(dataset.kfold(k, by=by, seed=seed)):
        if len(test) == 0 or len(train) == 0:
            raise ConfigError(
                f"fold {i} of {k} is empty; use fewer folds for {len(dataset)} events"
            )
        fold_model = clone(model)
        w = train.training_weight(negative=negative, balance_classes=balance_classes)
        fold_model.fit(train.X, train.y, sample_weight=w, **fit_params)
        folds.append(score_model(fold_model, test))
        if keep_models:
            models.append(fold_model)
    names = list(folds[0])
    mean: dict[str, float] = {}
    std: dict[str, float] = {}
    for m in names:
        vals = np.array([f[m] for f in folds], dtype=np.float64)
        vals = vals[np.isfinite(vals)]
        mean[m] = float(vals.mean()) if vals.size else math.nan
        std[m] = float(vals.std(ddof=1)) if vals.size > 1 else math.nan
    return CVResult(folds=folds, mean=mean, std=std, k=int(k), by=by, models=models)
