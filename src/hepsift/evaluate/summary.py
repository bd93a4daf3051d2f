"""Evaluation of trained models on the test split, and the ``metrics.json`` of a run.

For each model: weighted AUC with a bootstrap 68 % interval, accuracy/precision/recall/F1 at the
chosen threshold, background rejection at signal-efficiency working points, the train-vs-test
weighted KS p-value per class (overtraining check), the best cut with its Asimov significance,
weighted confusion matrices and (optionally) permutation importance. Multi-class tasks use
one-vs-rest AUCs (macro average), arg-max predictions and macro-averaged scores.

Weights are the physics event weights. ``yield_scale`` multiplies the test weights to
expected yields at the full luminosity, for the significance and the yield-normalised
confusion matrix: a number, or one factor per event from :func:`expected_yield_scale` (each
sample's split yield scaled to its full expected yield).

Significance without bias: with a validation split the best cut is chosen on the validation
events (scaled to full yields the same way) and its Z is quoted on the test events. Without
one, the cut is chosen and quoted on the test events, which biases Z upward; ``best_cut``
says which (``chosen_on``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from hepsift import metrics
from hepsift._files import jsonable
from hepsift.dataset import Dataset
from hepsift.errors import DataError
from hepsift.evaluate.importance import Importance, permutation_importance
from hepsift.evaluate.multiclass import per_class_auc_intervals, yield_fractions
from hepsift.evaluate.stats import KSResult, poisson_bootstrap, weighted_ks

__all__ = [
    "MIN_TEST_EVENTS",
    "ModelEvaluation",
    "evaluate_model",
    "expected_yield_scale",
    "low_statistics_message",
    "metrics_document",
    "ranking",
]

ProbaFn = Callable[[NDArray[np.float32]], NDArray[np.float64]]

#: a class with fewer raw (unweighted) test events than this is flagged ``low_statistics``:
#: its AUC interval, rejections and significance rest on a handful of events
MIN_TEST_EVENTS = 50


@dataclass
class ModelEvaluation:
    """Everything measured for one model (arrays kept for the plots; see :meth:`as_dict`).

    ``best_cut`` (binary tasks): ``cut``, the test-split ``s``, ``b`` (expected yields), ``z``
    (Asimov, with ``b_reg``) and raw ``background_events`` at that cut, ``chosen_on``
    (``validation`` or ``test``) and, when chosen on validation, ``s_validation``,
    ``b_validation``, ``z_validation``. ``scan`` is the significance scan the cut was chosen on.
    """

    name: str
    family: str
    class_names: tuple[str, ...]
    auc: float
    auc_ci68: tuple[float, float]
    threshold: float
    scores: dict[str, float]
    background_rejection: dict[str, Any]
    ks: dict[str, KSResult]
    best_cut: dict[str, Any] | None
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
        return dict(jsonable(out))


def expected_yield_scale(
    part: Dataset, full: Dataset
) -> tuple[NDArray[np.float64], dict[str, float]]:
    """Per-event factors scaling the weights of ``part`` (a split of ``full``) to expected
    yields of the full sample, and the factor of each sample.

    With sample ids (``sample`` and ``sample_names``): sample ``s`` gets
    ``sum_full(w_s) / sum_part(w_s)``, so each sample's weighted yield in ``part`` equals its
    full expected yield, whatever share of its events the split happened to take. A sample
    whose total weight in ``part`` is not positive (negative MC weights) gets its event-count
    ratio ``n_full_s / n_part_s`` instead.

    Fallback without sample ids: one global factor ``sum_full(w) / sum_part(w)`` (event-count
    ratio when that total is not positive), reported under the name ``"all"``.
    """
    n = len(part)
    if n == 0:
        return np.ones(0), {}
    if part.sample is None or full.sample is None or not part.sample_names:
        ids_part, ids_full, names = np.zeros(n, np.int64), np.zeros(len(full), np.int64), ["all"]
    else:
        ids_part, ids_full, names = part.sample, full.sample, list(part.sample_names)
    k = len(names)
    w_part = np.bincount(ids_part, weights=part.weight, minlength=k)
    w_full = np.bincount(ids_full, weights=full.weight, minlength=k)
    n_part = np.bincount(ids_part, minlength=k)
    n_full = np.bincount(ids_full, minlength=k)
    factor = np.ones(k)
    by_weight = w_part > 0
    factor[by_weight] = w_full[by_weight] / w_part[by_weight]
    by_count = ~by_weight & (n_part > 0)
    factor[by_count] = n_full[by_count] / n_part[by_count]
    present = n_part > 0
    return factor[ids_part], {names[i]: float(factor[i]) for i in np.flatnonzero(present)}


def _bootstrap(
    proba: NDArray[np.float64],
    y: NDArray[np.int64],
    w: NDArray[np.float64],
    *,
    n: int,
    rng: np.random.Generator,
) -> tuple[float, float]:
    """68 % interval of the (macro one-vs-rest) AUC from the Poisson bootstrap."""
    scorer = metrics.OvrAucScorer(y, proba)
    if n <= 0:
        a = float(scorer(w[None, :])[0][0])
        return a, a
    v = poisson_bootstrap(lambda W: scorer(W)[0], w, n=n, seed=rng)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return float("nan"), float("nan")
    low, high = np.quantile(v, [0.16, 0.84])
    return float(low), float(high)


def _best_cut(
    test: tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]],
    validation: tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]] | None,
    *,
    min_background: float,
    min_background_events: int,
    b_reg: float,
) -> tuple[dict[str, Any], metrics.SignificanceScan]:
    """The most significant cut, chosen on the validation split (labels, signal score, weights
    scaled to expected yields) and quoted on the test split; chosen and quoted on the test
    split when there is no validation split. Returns the ``best_cut`` entry and the scan on
    which the cut was chosen."""
    chosen_on = test if validation is None else validation
    scan = metrics.significance_scan(
        chosen_on[0],
        chosen_on[1],
        sample_weight=chosen_on[2],
        min_background=min_background,
        min_background_events=min_background_events,
        b_reg=b_reg,
    )
    y, score, w = test
    cut = scan.best_cut
    keep = score >= cut  # all False when no cut is eligible (nan)
    s_test = float(np.sum(w[keep & (y == 1)]))
    b_test = float(np.sum(w[keep & (y != 1)]))
    # negative MC weights can leave s <= 0 (Z = 0) or b <= 0 (Z undefined) on the test split
    b_tot = b_test + b_reg
    z_test = (
        float(metrics.asimov_significance(max(s_test, 0.0), b_tot))
        if keep.any() and b_tot > 0
        else math.nan
    )
    best: dict[str, Any] = {
        "cut": cut,
        "s": s_test if math.isfinite(cut) else math.nan,
        "b": b_test if math.isfinite(cut) else math.nan,
        "z": z_test if math.isfinite(cut) else math.nan,
        "background_events": int(np.sum(keep & (y != 1))),
        "chosen_on": "test" if validation is None else "validation",
        "b_reg": b_reg,
    }
    if validation is not None:
        best.update(s_validation=scan.best_s, b_validation=scan.best_b, z_validation=scan.best_z)
    return best, scan


def _yield_weights(ds: Dataset, scale: float | ArrayLike) -> NDArray[np.float64]:
    factor = np.asarray(scale, dtype=np.float64)
    if factor.ndim not in (0, 1) or (factor.ndim == 1 and factor.shape != (len(ds),)):
        raise DataError(
            f"yield scale must be a number or one factor per event ({len(ds)}); "
            f"got shape {factor.shape}"
        )
    return ds.weight * factor


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
    yield_scale: float | ArrayLike = 1.0,
    validation: Dataset | None = None,
    validation_yield_scale: float | ArrayLike = 1.0,
    importance: bool = True,
    importance_repeats: int = 2,
    importance_events: int | None = 5000,
    min_background: float = 1.0,
    min_background_events: int = 10,
    b_reg: float = 0.0,
    seed: int = 0,
) -> ModelEvaluation:
    """Measure one trained model (``predict_proba`` maps float32 X to class probabilities).

    ``yield_scale`` / ``validation_yield_scale``: a number or one factor per event of the test
    / validation split (:func:`expected_yield_scale`) turning weights into expected yields.
    ``validation``: the split on which the best cut is chosen (binary tasks); its Z is then
    quoted on ``test``. ``min_background``, ``min_background_events`` and ``b_reg`` are passed
    to :func:`hepsift.metrics.significance_scan`.
    """
    if len(test) == 0:
        raise DataError(f"model '{name}': the test split is empty")
    k = test.n_classes
    rng = np.random.default_rng(seed)
    p_test = _probabilities(name, predict_proba, test)
    p_train = _probabilities(name, predict_proba, train)
    y, w = test.y, test.weight
    w_yield = _yield_weights(test, yield_scale)
    auc_rows, per = metrics.OvrAucScorer(y, p_test)(w[None, :])
    ci = _bootstrap(p_test, y, w, n=bootstrap, rng=rng)

    labels = np.arange(k)
    roc = scan = None
    rejection: dict[str, Any] = {}
    best: dict[str, Any] | None = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", metrics.UndefinedMetricWarning)
        if k == 2:
            score = p_test[:, 1]
            pred = (score >= threshold).astype(np.int64)
            scores = _binary_scores(y, pred, w)
            roc = metrics.roc_curve(y, score, sample_weight=w, pos_label=1)
            rejection = {f"{e:g}": float(roc.background_rejection_at(e)) for e in working_points}
            valid = None
            if validation is not None and len(validation) > 0:
                p_valid = _probabilities(name, predict_proba, validation)
                w_valid = _yield_weights(validation, validation_yield_scale)
                valid = (validation.y, p_valid[:, 1], w_valid)
            best, scan = _best_cut(
                (y, score, w_yield),
                valid,
                min_background=min_background,
                min_background_events=min_background_events,
                b_reg=b_reg,
            )
        else:
            pred = np.argmax(p_test, axis=1)
            scores = _multiclass_scores(y, pred, w, k)
            for c in range(k):
                pos = y == c
                if pos.any() and not pos.all():
                    r = metrics.roc_curve(pos.astype(np.int64), p_test[:, c], sample_weight=w)
                    rejection[test.class_names[c]] = {
                        f"{e:g}": float(r.background_rejection_at(e)) for e in working_points
                    }
        cm_counts = metrics.confusion_matrix(y, pred, labels=labels).astype(np.float64)
        cm_w = metrics.confusion_matrix(y, pred, sample_weight=w, labels=labels)
        cm_yield = metrics.confusion_matrix(y, pred, sample_weight=w_yield, labels=labels)
    row = cm_w.sum(axis=1, keepdims=True)
    cm_row = np.divide(cm_w, row, out=np.full_like(cm_w, np.nan), where=row != 0)
    confusion = {
        "counts": cm_counts.tolist(),
        "row_normalised": cm_row.tolist(),
        "expected_yields": cm_yield.tolist(),
        "yield_fractions": yield_fractions(cm_yield),  # rows normalised to expected yields
    }
    per_class_ci = (
        per_class_auc_intervals(y, p_test, w, test.class_names, n=bootstrap, seed=rng)
        if k > 2
        else {}
    )

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
        auc=float(auc_rows[0]),
        auc_ci68=ci,
        threshold=threshold,
        scores={k_: float(v) for k_, v in scores.items()},
        background_rejection=rejection,
        ks=_overtraining(train, test, p_train, p_test),
        best_cut=best,
        confusion=confusion,
        per_class_auc=({test.class_names[c]: float(a[0]) for c, a in per.items()} if k > 2 else {}),
        importance=imp,
        roc=roc,
        scan=scan,
        proba_train=p_train,
        proba_test=p_test,
        extra={"ks_alpha": ks_alpha}
        | ({"auc_per_class_ci68": per_class_ci} if per_class_ci else {}),
    )


def _probabilities(name: str, predict_proba: ProbaFn, ds: Dataset) -> NDArray[np.float64]:
    p = np.asarray(predict_proba(ds.X), dtype=np.float64)
    if p.ndim != 2 or p.shape != (len(ds), ds.n_classes):
        raise DataError(
            f"model '{name}' returned probabilities of shape {p.shape}; expected "
            f"({len(ds)}, {ds.n_classes}) for classes {list(ds.class_names)}"
        )
    return p


def _binary_scores(
    y: NDArray[np.int64], pred: NDArray[np.int64], w: NDArray[np.float64]
) -> dict[str, float]:
    s = metrics.binary_scores(y, pred, sample_weight=w, pos_label=1)
    return {"accuracy": s.accuracy, "precision": s.precision, "recall": s.recall, "f1": s.f1}


def _multiclass_scores(
    y: NDArray[np.int64], pred: NDArray[np.int64], w: NDArray[np.float64], k: int
) -> dict[str, float]:
    per_class = [metrics.binary_scores(y, pred, sample_weight=w, pos_label=c) for c in range(k)]
    total = float(np.sum(w))
    return {
        "accuracy": float(np.sum(w[pred == y]) / total) if total != 0 else float("nan"),
        "precision": float(np.nanmean([s.precision for s in per_class])),
        "recall": float(np.nanmean([s.recall for s in per_class])),
        "f1": float(np.nanmean([s.f1 for s in per_class])),
    }


def _overtraining(
    train: Dataset, test: Dataset, p_train: NDArray[np.float64], p_test: NDArray[np.float64]
) -> dict[str, KSResult]:
    """Weighted KS of train vs test scores per class (the signal column of a binary model)."""
    ks: dict[str, KSResult] = {}
    binary = test.n_classes == 2
    for c, cname in enumerate(test.class_names):
        col = 1 if binary else c
        m_tr, m_te = train.y == c, test.y == c
        if m_tr.any() and m_te.any():
            try:
                ks[cname] = weighted_ks(
                    p_train[m_tr, col], p_test[m_te, col], train.weight[m_tr], test.weight[m_te]
                )
            except DataError:
                continue
    return ks


def ranking(evaluations: Sequence[ModelEvaluation]) -> list[ModelEvaluation]:
    """Models from best to worst: by AUC, then rejection at 50 % signal efficiency."""

    def key(e: ModelEvaluation) -> tuple[float, float]:
        auc = e.auc if math.isfinite(e.auc) else -1.0
        rej = e.rejection_at(0.5)
        return (-auc, -(rej if math.isfinite(rej) else 0.0))

    return sorted(evaluations, key=key)


def low_statistics_message(few: Mapping[str, int]) -> str:
    """One line warning about the classes with fewer than :data:`MIN_TEST_EVENTS` raw test
    events (``""`` when there are none)."""
    if not few:
        return ""
    listed = ", ".join(f"{name} ({n} event{'s' if n != 1 else ''})" for name, n in few.items())
    return (
        f"Low statistics: fewer than {MIN_TEST_EVENTS} test events for {listed}; the AUC, its "
        "interval, the rejections and the significance are not reliable"
    )


def metrics_document(
    evaluations: Sequence[ModelEvaluation],
    *,
    test: Dataset,
    yield_scale: float | ArrayLike = 1.0,
    train: Dataset | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The content of ``metrics.json``: per-model metrics, per-class yields, the ranking.

    ``yield_scale`` is a number or one factor per test event (:func:`expected_yield_scale`);
    the document's ``yield_scale`` is the number, or ``None`` for per-event factors (the caller
    adds the per-sample factors through ``extra``).
    """
    ranked = ranking(evaluations)
    w = _yield_weights(test, yield_scale)
    yields = {
        name: {
            "events": int(np.sum(test.y == c)),
            "yield": float(np.sum(w[test.y == c])),
            "error": float(np.sqrt(np.sum(w[test.y == c] ** 2))),
        }
        for c, name in enumerate(test.class_names)
    }
    scalar = np.ndim(yield_scale) == 0
    few = {n: int(v["events"]) for n, v in yields.items() if v["events"] < MIN_TEST_EVENTS}
    doc: dict[str, Any] = {
        "task": "binary" if test.n_classes == 2 else "multiclass",
        "classes": list(test.class_names),
        "features": list(test.feature_names),
        "n_test": len(test),
        "n_train": None if train is None else len(train),
        "yield_scale": float(np.asarray(yield_scale)) if scalar else None,
        "yields_test": yields,
        "unit_weights": bool(np.all(test.weight == 1.0)),
        "low_statistics": {
            "flag": bool(few),
            "min_test_events": MIN_TEST_EVENTS,
            "classes": few,
            "message": low_statistics_message(few),
        },
        "models": {e.name: e.as_dict() for e in evaluations},
        "ranking": [e.name for e in ranked],
        "best_model": ranked[0].name if ranked else None,
    }
    if extra:
        doc.update(extra)
    return dict(jsonable(doc))
