"""Cross-validation, learning curves and Optuna tuning of any registered model.

These sit above the models (they create models through the registry), unlike
:mod:`hepsift.train`, which holds the torch loop the models themselves use.
``cross_validate`` (:mod:`hepsift.tuning.cv`), ``learning_curve`` (:mod:`hepsift.tuning.curves`)
and ``tune`` (:mod:`hepsift.tuning.tune`; Optuna and the models load when a study runs).
"""

from __future__ import annotations

from hepsift.tuning.curves import LearningCurve, learning_curve
from hepsift.tuning.cv import CVResult, cross_validate, score_model
from hepsift.tuning.tune import TuneConfig, TuneResult, load_tune_config, tune

__all__ = [
    "CVResult",
    "LearningCurve",
    "TuneConfig",
    "TuneResult",
    "cross_validate",
    "learning_curve",
    "load_tune_config",
    "score_model",
    "tune",
]
