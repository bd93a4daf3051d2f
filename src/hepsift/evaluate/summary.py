"""Evaluation of trained models on the test split, and the ``metrics.json`` of a run.

For each model: weighted AUC with a bootstrap 68 % interval, accuracy/precision/recall/F1 at the
chosen threshold, background rejection at signal-efficiency working points, the train-vs-test
weighted KS p-value per class (overtraining check), the best cut with its Asimov significance,
weighted confusion matrices and (optionally) permutation importance. Multi-class tasks use
one-vs-rest AUCs (macro average), arg-max predictions and macro-averaged scores.

Weights are the physics event weights. ``yield_scale`` multiplies the test weights to
expected yields at the full luminosity (1 / test fraction when the weights of the full sample
sum to the expected yield), for the significance and the yield-normalised confusion matrix.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hepsift.dataset import Dataset
from hepsift.errors import DataError
from hepsift.evaluate.importance import Importance, permutation_importance
from hepsift.evaluate.stats import KSResult, weighted_auc_batch, weighted_ks

__all__ = ["ModelEvaluation", "evaluate_model", "metrics_document", "ranking"]

ProbaFn = Callable[[NDArray[np.float32]], NDArray[np.float64]]


@dataclass
class ModelEvaluation:
    """Everything measured for one model (arrays kept for the plots; see :meth:`as_dict`)."""

    name: str
    family: str
    class_names: tuple[str, ...]
    auc: float
    auc_ci68: tuple[float, float]
    threshold: float
    scores: dict[str, float]
    background_rejection: dict[str, Any]
    ks: dict[str, KSResult]
    best_cut: dict[str, float] | None
    confusion: dict[str, list[list[float]]]
    per_class_auc: dict[str, float] = field(default_factory=dict)
    importance: Importance | None = None
    roc: Any = None
    scan: Any = None
    proba_train: NDArray[np.float64] | None = None
    proba_test: NDArray[np.float64] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def binary(self) -> bool:
        return len(self.class_names) == 2

    def rejection_at(self, eff: float) -> float:
        value = self.background_rejection.get(f"{eff:g}")
        return float(value) if isinstance(value, int | float) else float("nan")

    def as_dict(self) -> dict[str, Any]:
        """The JSON-able entry of this model in ``metrics.json``."""
        out: dict[str, Any] = {
            "family": self.family,
            "auc": self.auc,
            "auc_ci68": list(self.auc_ci68),
            "threshold": self.threshold,
            **self.scores,
            "background_rejection": self.background_rejection,
            "ks_pvalue": {k: v.pvalue for k, v in self.ks.items()},
            "ks_statistic": {k: v.statistic for k, v in self.ks.items()},
            "overtraining_flag": any(
                v.pvalue < self.extra.get("ks_alpha", 0.05) for v in self.ks.values()
            ),
            "best_cut": self.best_cut,
            "confusion_matrix": self.confusion,
        }
        if self.per_class_auc:
            out["auc_per_class"] = self.per_class_auc
        if self.importance is not None:
            out["permutation_importance"] = self.importance.as_dict()
        for k, v in self.extra.items():
            if k != "ks_alpha":
                out[k] = v
        return _clean(out)


def _clean(value: Any) -> Any:
    """JSON-safe: numpy scalars to Python, NaN to None, +-inf to "inf"/"-inf"."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.ndarray):
        return _clean(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        # JSON has no inf/nan: infinite rejection (no background passes) is the string "inf"
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def _ovr_auc_batch(
    proba: NDArray[np.float64], y: NDArray[np.int64], W: NDArray[np.float64]
) -> tuple[NDArray[np.float64], dict[int, NDArray[np.float64]]]:
    """Per weight row: the AUC (binary) or macro one-vs-rest AUC, and the per-class AUCs."""
    k = proba.shape[1]
    if k == 2:
        a = weighted_auc_batch(proba[:, 1], y == 1, W)
        return a, {1: a}
    per: dict[int, NDArray[np.float64]] = {}
    for c in range(k):
        pos = y == c
        if pos.any() and not pos.all():
            per[c] = weighted_auc_batch(proba[:, c], pos, W)
    stacked = np.vstack(list(per.values())) if per else np.full((1, W.shape[0]), np.nan)
    return np.nanmean(stacked, axis=0), per


def _bootstrap(
    proba: NDArray[np.float64],
    y: NDArray[np.int64],
    w: NDArray[np.float64],
    *,
    n: int,
    rng: np.random.Generator,
    batch: int = 50,
) -> tuple[float, float]:
    if n <= 0:
        a, _ = _ovr_auc_batch(proba, y, w[None, :])
        return float(a[0]), float(a[0])
    values = []
    done = 0
    while done < n:
        b = min(batch, n - done)
        counts = rng.poisson(1.0, size=(b, len(y))).astype(np.float64)
        a, _ = _ovr_auc_batch(proba, y, counts * w[None, :])
        values.append(a)
        done += b
    v = np.concatenate(values)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return float("nan"), float("nan")
    low, high = np.quantile(v, [0.16, 0.84])
    return float(low), float(high)


def evaluate_model(
    name: str,
    predict_proba: ProbaFn,
    train: Dataset,
    test: Dataset,
    *,
    family: str = "",
    threshold: float = 0.5,
    working_points: Sequence[float] = (0.5, 0.8, 0.9),
    bootstrap: int = 200,
    ks_alpha: float = 0.05,
    yield_scale: float = 1.0,
    importance: bool = True,
    importance_repeats: int = 2,
    importance_events: int | None = 5000,
    min_background: float = 1.0,
    min_background_events: int = 10,
    seed: int = 0,
) -> ModelEvaluation:
    """Measure one trained model (``predict_proba`` maps float32 X to class probabilities)."""
    from hepsift import metrics

    if len(test) == 0:
        raise DataError(f"model '{name}': the test split is empty")
    k = test.n_classes
    rng = np.random.default_rng(seed)
    p_test = np.asarray(predict_proba(test.X), dtype=np.float64)
    p_train = np.asarray(predict_proba(train.X), dtype=np.float64)
    if p_test.ndim != 2 or p_test.shape != (len(test), k):
        raise DataError(
            f"model '{name}' returned probabilities of shape {p_test.shape}; expected "
            f"({len(test)}, {k}) for classes {list(test.class_names)}"
        )
    y, w = test.y, test.weight
    auc_rows, per = _ovr_auc_batch(p_test, y, w[None, :])
    auc = float(auc_rows[0])
    ci = _bootstrap(p_test, y, w, n=bootstrap, rng=rng)

    labels = np.arange(k)
    roc = scan = None
    rejection: dict[str, Any] = {}
    best: dict[str, float] | None = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", metrics.UndefinedMetricWarning)
        if k == 2:
            score = p_test[:, 1]
            pred = (score >= threshold).astype(np.int64)
            s = metrics.binary_scores(y, pred, sample_weight=w, pos_label=1)
            scores = {
                "accuracy": s.accuracy,
                "precision": s.precision,
                "recall": s.recall,
                "f1": s.f1,
            }
            roc = metrics.roc_curve(y, score, sample_weight=w, pos_label=1)
            rejection = {f"{e:g}": float(roc.background_rejection_at(e)) for e in working_points}
            scan = metrics.significance_scan(
                y,
                score,
                sample_weight=w * yield_scale,
                min_background=min_background,
                min_background_events=min_background_events,
            )
            best = scan.as_dict()
        else:
            pred = np.argmax(p_test, axis=1)
            per_class = [
                metrics.binary_scores(y, pred, sample_weight=w, pos_label=c) for c in range(k)
            ]
            total = float(np.sum(w))
            scores = {
                "accuracy": float(np.sum(w[pred == y]) / total) if total != 0 else float("nan"),
                "precision": float(np.nanmean([s.precision for s in per_class])),
                "recall": float(np.nanmean([s.recall for s in per_class])),
                "f1": float(np.nanmean([s.f1 for s in per_class])),
            }
            for c in range(k):
                pos = y == c
                if pos.any() and not pos.all():
                    r = metrics.roc_curve(pos.astype(np.int64), p_test[:, c], sample_weight=w)
                    rejection[test.class_names[c]] = {
                        f"{e:g}": float(r.background_rejection_at(e)) for e in working_points
                    }
        cm_counts = metrics.confusion_matrix(y, pred, labels=labels).astype(np.float64)
        cm_w = metrics.confusion_matrix(y, pred, sample_weight=w, labels=labels)
    row = cm_w.sum(axis=1, keepdims=True)
    cm_row = np.divide(cm_w, row, out=np.full_like(cm_w, np.nan), where=row != 0)
    confusion = {
        "counts": cm_counts.tolist(),
        "row_normalised": cm_row.tolist(),
        "expected_yields": (cm_w * yield_scale).tolist(),
    }

    ks: dict[str, KSResult] = {}
    for c, cname in enumerate(test.class_names):
        col = 1 if k == 2 else c
        m_tr, m_te = train.y == c, test.y == c
        if m_tr.any() and m_te.any():
            try:
                ks[cname] = weighted_ks(
                    p_train[m_tr, col], p_test[m_te, col], train.weight[m_tr], test.weight[m_te]
                )
            except DataError:
                continue

    imp = None
    if importance and test.n_features > 0:
        imp = permutation_importance(
            predict_proba,
            test.X,
            y,
            w,
            feature_names=test.feature_names,
            repeats=importance_repeats,
            max_events=importance_events,
            seed=rng,
        )
    return ModelEvaluation(
        name=name,
        family=family,
        class_names=test.class_names,
        auc=auc,
        auc_ci68=ci,
        threshold=threshold,
        scores={k_: float(v) for k_, v in scores.items()},
        background_rejection=rejection,
        ks=ks,
        best_cut=best,
        confusion=confusion,
        per_class_auc=({test.class_names[c]: float(a[0]) for c, a in per.items()} if k > 2 else {}),
        importance=imp,
        roc=roc,
        scan=scan,
        proba_train=p_train,
        proba_test=p_test,
        extra={"ks_alpha": ks_alpha},
    )


def ranking(evaluations: Sequence[ModelEvaluation]) -> list[ModelEvaluation]:
    """Models from best to worst: by AUC, then rejection at 50 % signal efficiency."""

    def key(e: ModelEvaluation) -> tuple[float, float]:
        auc = e.auc if math.isfinite(e.auc) else -1.0
        rej = e.rejection_at(0.5)
        return (-auc, -(rej if math.isfinite(rej) else 0.0))

    return sorted(evaluations, key=key)


def metrics_document(
    evaluations: Sequence[ModelEvaluation],
    *,
    test: Dataset,
    yield_scale: float = 1.0,
    train: Dataset | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The content of ``metrics.json``: per-model metrics, per-class yields, the ranking."""
    ranked = ranking(evaluations)
    yields = {
        name: {
            "events": v["events"],
            "yield": v["yield"] * yield_scale,
            "error": v["error"] * yield_scale,
        }
        for name, v in test.yields().items()
    }
    doc: dict[str, Any] = {
        "task": "binary" if test.n_classes == 2 else "multiclass",
        "classes": list(test.class_names),
        "features": list(test.feature_names),
        "n_test": len(test),
        "n_train": None if train is None else len(train),
        "yield_scale": yield_scale,
        "yields_test": yields,
        "models": {e.name: e.as_dict() for e in evaluations},
        "ranking": [e.name for e in ranked],
        "best_model": ranked[0].name if ranked else None,
    }
    if extra:
        doc.update(extra)
    return _clean(doc)
