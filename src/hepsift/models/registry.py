"""Config names -> model classes. ``create(name, **hyperparameters)`` builds one.

Families register themselves lazily: the table maps a name to ``"module:Class"`` so that
importing the registry never imports torch or xgboost.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from hepsift.errors import ConfigError, suggest

__all__ = [
    "ANOMALY_DETECTORS",
    "CLASSIFIERS",
    "ENSEMBLES",
    "MODELS",
    "REGRESSORS",
    "create",
    "hyperparameters",
    "model_class",
]

#: classifier families: name -> "module:Class". Families add their line here.
CLASSIFIERS: dict[str, str] = {
    "logistic": "hepsift.models.logistic:LogisticRegression",
    "tree": "hepsift.models.trees:DecisionTree",
    "forest": "hepsift.models.trees:RandomForest",
    "bdt": "hepsift.models.boosting:BDT",
    "mlp": "hepsift.models.mlp:MLP",
    "pnn": "hepsift.models.pnn:PNN",
    "deepsets": "hepsift.models.sets:DeepSets",
    "set-kernel": "hepsift.models.setkernel:SetKernelSVM",
    "cnn": "hepsift.models.cnn:CNN",
    "easy-ensemble": "hepsift.models.ensemble:EasyEnsemble",
    "undersample": "hepsift.models.ensemble:RandomUndersample",
    "bagging": "hepsift.models.ensemble:Bagging",
    # a classifier trained on scaled features, the scaler saved with it (what a run saves for
    # the families that do not scale their own inputs)
    "scaled": "hepsift.models.scaled:Scaled",
}
#: the ensembles (their ``base`` must be a non-parametric classifier family, not an ensemble)
ENSEMBLES = frozenset({"easy-ensemble", "undersample", "bagging"})
#: regressor families: name -> "module:Class"
REGRESSORS: dict[str, str] = {
    "mlp-regressor": "hepsift.models.regression:MLPRegressor",
    "bdt-regressor": "hepsift.models.regression:BDTRegressor",
}
#: every family :func:`hepsift.models.load` reads (classifiers and regressors)
MODELS: dict[str, str] = {**CLASSIFIERS, **REGRESSORS}
#: anomaly detectors (``fit(X, sample_weight)``, ``anomaly_score``; no labels): name -> class.
#: Kept out of MODELS (a run's ``models:`` trains classifiers); ``unsupervised:`` uses these.
ANOMALY_DETECTORS: dict[str, str] = {
    "isolation-forest": "hepsift.models.anomaly:IsolationForest",
    "autoencoder": "hepsift.models.anomaly:Autoencoder",
    "gmm": "hepsift.models.anomaly:GaussianMixture",
}
_FAMILIES: dict[str, str] = {**MODELS, **ANOMALY_DETECTORS}


def model_class(name: str) -> type[Any]:
    """The class registered under ``name``; ConfigError with the nearest name otherwise."""
    if name not in _FAMILIES:
        raise ConfigError(
            f"unknown model '{name}'{suggest(name, _FAMILIES)} "
            f"(known: {', '.join(sorted(_FAMILIES))})"
        )
    from hepsift import extras

    module, _, cls = _FAMILIES[name].partition(":")
    what = f"model family '{name}'"
    try:
        found: type[Any] = getattr(importlib.import_module(module), cls)
    except ModuleNotFoundError as exc:  # a module-level import of an absent extra (torch)
        error = extras.error_for(exc, what)
        if error is None:
            raise
        raise error from None
    if found.requires_extra is not None:  # families that import their extra lazily
        extras.require_extra(found.requires_extra, what)
    return found


def hyperparameters(name: str) -> dict[str, Any]:
    """The documented hyperparameters of a family with their defaults."""
    cls = model_class(name)
    sig = inspect.signature(cls.__init__)
    return {
        p.name: p.default
        for p in sig.parameters.values()
        if p.name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
    }


def create(name: str, **params: Any) -> Any:
    """Build an unfitted model of family ``name`` with the given hyperparameters.

    Names, types and ranges are checked here (:mod:`hepsift.models.params`): a bad value is a
    one-line ConfigError now rather than an exception deep inside ``fit``."""
    from hepsift.models.params import check_params

    cls = model_class(name)
    allowed = hyperparameters(name)
    for key in params:
        if key not in allowed:
            listed = f"(allowed: {', '.join(allowed)})"
            if len(listed) > 160:  # one bounded line: the full list is one command away
                listed = f"('hepsift models {name}' lists all {len(allowed)})"
            raise ConfigError(
                f"model '{name}' has no hyperparameter '{key}'{suggest(key, allowed)} {listed}"
            )
    check_params(name, params)
    return cls(**params)
