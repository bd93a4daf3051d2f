"""Evaluation of trained models: bootstrap AUC intervals, weighted KS (overtraining), permutation
importance, and the ``metrics.json`` of a run. Metric primitives (AUC, ROC, significance) are in
:mod:`hepsift.metrics`."""

from __future__ import annotations

from hepsift.evaluate.importance import Importance, permutation_importance
from hepsift.evaluate.stats import (
    KSResult,
    bootstrap_auc,
    bootstrap_aucs,
    effective_size,
    poisson_bootstrap,
    weighted_ks,
)
from hepsift.evaluate.summary import (
    MIN_TEST_EVENTS,
    ModelEvaluation,
    evaluate_model,
    expected_yield_scale,
    low_statistics_message,
    metrics_document,
    ranking,
)

__all__ = [
    "MIN_TEST_EVENTS",
    "Importance",
    "KSResult",
    "ModelEvaluation",
    "bootstrap_auc",
    "bootstrap_aucs",
    "effective_size",
    "evaluate_model",
    "expected_yield_scale",
    "low_statistics_message",
    "metrics_document",
    "permutation_importance",
    "poisson_bootstrap",
    "ranking",
    "weighted_ks",
]
