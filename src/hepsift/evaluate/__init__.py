"""Evaluation of trained models: bootstrap AUC intervals, weighted KS (overtraining), permutation
importance, and the ``metrics.json`` of a run. Metric primitives are in :mod:`hepsift.metrics`."""

from __future__ import annotations

from hepsift.evaluate.importance import Importance, macro_auc, permutation_importance
from hepsift.evaluate.stats import (
    KSResult,
    bootstrap_auc,
    effective_size,
    kolmogorov_sf,
    weighted_auc,
    weighted_auc_batch,
    weighted_ks,
)
from hepsift.evaluate.summary import ModelEvaluation, evaluate_model, metrics_document, ranking

__all__ = [
    "Importance",
    "KSResult",
    "ModelEvaluation",
    "bootstrap_auc",
    "effective_size",
    "evaluate_model",
    "kolmogorov_sf",
    "macro_auc",
    "metrics_document",
    "permutation_importance",
    "ranking",
    "weighted_auc",
    "weighted_auc_batch",
    "weighted_ks",
]
