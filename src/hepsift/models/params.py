"""The hyperparameters of every model family as data: type and range, checked at ``create()``.

``PARAMS[family][name]`` is a :class:`Param` (what the value may be, in words and as a test).
:func:`check_params` runs it on the hyperparameters a user gave, so that
``create("bdt", max_depth="abc")`` or ``n_estimators=0`` fails at once with one line (a
:class:`~hepsift.errors.ConfigError`) instead of deep inside a fit, or not at all (a constant
model). Defaults are not checked: they are the family's own. This module imports nothing heavy;
the allowed words are spelled here, and a test checks them against the families' own lists.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from hepsift.errors import ConfigError, suggest

__all__ = ["PARAMS", "Param", "check_params"]


@dataclass(frozen=True)
class Param:
    """One hyperparameter: ``ok(value)`` says whether it is allowed, ``allowed`` says what is."""

    allowed: str
    ok: Callable[[Any], bool]
    #: the valid words when the value is one of a few names (for a "did you mean" hint)
    words: tuple[str, ...] = ()


def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _is_real(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and not math.isnan(float(v))


def integer(
    low: int, high: int | None = None, *, none: bool = False, also: int | None = None
) -> Param:
    """An integer in [low, high] (``also``: one more allowed value, e.g. -1 for all cores)."""
    span = f">= {low:,}" if high is None else f"in [{low:,}, {high:,}]"
    text = f"an integer {span}" + (f" or {also}" if also is not None else "")
    text += " or null" if none else ""

    def ok(v: Any) -> bool:
        if v is None:
            return none
        if not _is_int(v):
            return False
        return int(v) == also or (int(v) >= low and (high is None or int(v) <= high))

    return Param(text, ok)


def real(
    low: float,
    high: float = math.inf,
    *,
    low_open: bool = False,
    high_open: bool = False,
    none: bool = False,
) -> Param:
    """A number in the interval given (``high`` inf and closed: inf itself is allowed)."""
    left, right = "(" if low_open else "[", ")" if high_open else "]"
    shown_high = "inf" if math.isinf(high) else f"{high:g}"
    text = f"a number in {left}{low:g}, {shown_high}{right}" + (" or null" if none else "")

    def ok(v: Any) -> bool:
        if v is None:
            return none
        if not _is_real(v):
            return False
        x = float(v)
        above = x > low if low_open else x >= low
        below = x < high if high_open else x <= high
        return above and below

    return Param(text, ok)


def choice(*words: str, none: bool = False) -> Param:
    """One of ``words`` (or null)."""
    text = "one of " + ", ".join(words) + (" or null" if none else "")
    return Param(text, lambda v: (v is None and none) or (isinstance(v, str) and v in words), words)


BOOL = Param("true or false", lambda v: isinstance(v, bool))


def _widths(v: Any) -> bool:
    if isinstance(v, str | bytes) or not isinstance(v, list | tuple):
        return False
    return len(v) <= 64 and all(_is_int(h) and 1 <= int(h) <= 65_536 for h in v)


def _class_weight(v: Any) -> bool:
    if v is None or v == "balanced":
        return True
    if not isinstance(v, Mapping) or not v:
        return False
    return all(_is_real(f) and 0 <= float(f) < math.inf for f in v.values())


def _max_features(v: Any) -> bool:
    if v is None or v in ("sqrt", "log2"):
        return True
    if _is_int(v):
        return int(v) >= 1
    return _is_real(v) and 0.0 < float(v) <= 1.0


def _object_fields(v: Any, low: int, high: int) -> bool:
    """A list of object fields (names, or indices in [0, 1024]) of length in [low, high]."""
    if isinstance(v, str | bytes) or not isinstance(v, list | tuple) or not low <= len(v) <= high:
        return False
    return all((isinstance(f, str) and f) or (_is_int(f) and 0 <= int(f) <= 1024) for f in v)


def _base_params(v: Any) -> bool:
    return v is None or (isinstance(v, Mapping) and all(isinstance(k, str) for k in v))


HIDDEN = Param(
    "a list of 0 to 64 layer widths (none: a linear model), each an integer in [1, 65,536]",
    _widths,
)
CLASS_WEIGHT = Param("null, 'balanced' or a mapping {class: factor >= 0}", _class_weight)
NEGATIVE_WEIGHTS = choice("keep", "abs", "drop")
SEED = integer(0, 2**32 - 1)
N_JOBS = integer(1, none=True, also=-1)
THREADS = integer(1, 1024, none=True)
CLIP_QUANTILE = real(0.0, 0.5, low_open=True, high_open=True, none=True)
SCALING = choice("standard", "robust", "none")
#: the torch training loop's learning-rate schedules
SCHEDULES = ("plateau", "cosine", "none")
#: activations of :mod:`hepsift.models.nets`
ACTIVATIONS = ("relu", "silu", "tanh", "gelu")
#: XGBoost regression objectives the BDT regressor is tested with
REGRESSION_OBJECTIVES = (
    "reg:squarederror",
    "reg:absoluteerror",
    "reg:pseudohubererror",
    "reg:squaredlogerror",
    "reg:gamma",
    "reg:tweedie",
    "count:poisson",
)

_BOOSTING: dict[str, Param] = {
    "n_estimators": integer(1, 1_000_000),
    "max_depth": integer(1, 64),
    "learning_rate": real(0.0, 1.0, low_open=True),
    "subsample": real(0.0, 1.0, low_open=True),
    "colsample_bytree": real(0.0, 1.0, low_open=True),
    "min_child_weight": real(0.0, high_open=True),
    "reg_lambda": real(0.0, high_open=True),
    "reg_alpha": real(0.0, high_open=True),
    "gamma": real(0.0, high_open=True),
    "max_bin": integer(2, 65_536),
    "early_stopping_rounds": integer(1, none=True),
    "n_jobs": N_JOBS,
    "seed": SEED,
}
_TORCH: dict[str, Param] = {
    "hidden": HIDDEN,
    "activation": choice(*ACTIVATIONS),
    "dropout": real(0.0, 1.0, high_open=True),
    "batch_norm": BOOL,
    "lr": real(0.0, low_open=True, high_open=True),
    "weight_decay": real(0.0, high_open=True),
    "batch_size": integer(1, 100_000_000),
    "epochs": integer(1, 1_000_000),
    "patience": integer(1),
    "schedule": choice(*SCHEDULES),
    "scaling": SCALING,
    "clip_quantile": CLIP_QUANTILE,
    "validation_fraction": real(0.0, 1.0, high_open=True),
    "num_threads": THREADS,
    "progress": BOOL,
    "seed": SEED,
}
_TREES: dict[str, Param] = {
    "max_depth": integer(1, none=True),
    "min_samples_leaf": integer(1),
    "criterion": choice("gini", "entropy", "log_loss"),
    "class_weight": CLASS_WEIGHT,
    "negative_weights": NEGATIVE_WEIGHTS,
    "seed": SEED,
}
_ENSEMBLE: dict[str, Param] = {
    "base": Param("a classifier family name", lambda v: isinstance(v, str)),
    "base_params": Param("a mapping of the base family's hyperparameters or null", _base_params),
    "n_subsets": integer(1, 10_000),
    "sampling": choice("undersample", "bootstrap"),
    "balance_weights": BOOL,
    "negative_weights": NEGATIVE_WEIGHTS,
    "seed": SEED,
}

#: family -> hyperparameter -> what it may be
PARAMS: dict[str, dict[str, Param]] = {
    "logistic": {
        "C": real(0.0, low_open=True),
        "solver": choice("newton", "gd"),
        "max_iter": integer(1, 10_000_000),
        "tol": real(0.0, high_open=True),
        "learning_rate": real(0.0, low_open=True, high_open=True),
        "fit_intercept": BOOL,
        "chunk_size": integer(1),
    },
    "tree": _TREES,
    "forest": {
        **_TREES,
        "n_estimators": integer(1, 1_000_000),
        "min_samples_leaf": integer(1),
        "max_features": Param(
            "'sqrt', 'log2', null, an integer >= 1 or a fraction in (0, 1]", _max_features
        ),
        "bootstrap": BOOL,
        "n_jobs": N_JOBS,
    },
    "bdt": {
        **_BOOSTING,
        "scale_pos_weight": real(0.0, low_open=True, high_open=True),
        "class_weight": CLASS_WEIGHT,
        "negative_weights": NEGATIVE_WEIGHTS,
        # a sentinel value read as missing (NaN is always missing for the BDT)
        "missing": Param(
            "a finite number or null",
            lambda v: v is None or (_is_real(v) and math.isfinite(float(v))),
        ),
    },
    "mlp": {**_TORCH, "class_weight": CLASS_WEIGHT, "negative_weights": NEGATIVE_WEIGHTS},
    "pnn": {
        **{k: v for k, v in _TORCH.items() if k != "batch_norm"},
        "mechanism": choice("concat", "bias", "scale", "affine"),
        "background_mass": choice("uniform", "identical", "given"),
        "balance": BOOL,
        "negative_weights": NEGATIVE_WEIGHTS,
    },
    "deepsets": {
        **{k: v for k, v in _TORCH.items() if k not in ("hidden", "batch_norm")},
        "pooling": choice("sum", "mean", "max", "attention"),
        "phi": Param(
            "a list of 1 to 64 layer widths, each an integer in [1, 65,536]",
            lambda v: _widths(v) and len(v) >= 1,
        ),
        "rho": HIDDEN,
        "event_features": BOOL,
        "class_weight": CLASS_WEIGHT,
        "negative_weights": NEGATIVE_WEIGHTS,
    },
    "set-kernel": {
        "fields": Param(
            "a list of 1 to 6 object fields, each a name or an index in [0, 1,024]",
            lambda v: _object_fields(v, 1, 6),
        ),
        "type_fields": Param(
            "a list of 0 to 64 one-hot type fields, each a name or an index in [0, 1,024]",
            lambda v: _object_fields(v, 0, 64),
        ),
        "levels": integer(1, 8),
        "C": real(0.0, low_open=True, high_open=True),
        "max_train_events": integer(2, 1_000_000),
        "calibration_folds": integer(2, 20),
        "class_weight": CLASS_WEIGHT,
        "negative_weights": NEGATIVE_WEIGHTS,
        "seed": SEED,
    },
    "cnn": {
        **{k: v for k, v in _TORCH.items() if k not in ("hidden", "activation", "batch_norm")},
        "width": integer(1, 1024),
        "blocks": Param(
            "a list of 1 to 8 stage depths, each an integer in [1, 64]",
            lambda v: (
                isinstance(v, list | tuple)
                and 1 <= len(v) <= 8
                and all(isinstance(b, int) and not isinstance(b, bool) and 1 <= b <= 64 for b in v)
            ),
        ),
        "stem": choice("downsample", "stride2", "full"),
        "head": integer(1, 65_536),
        "log_scale": BOOL,
        "norm": choice("group", "batch"),
        "channel_sums": BOOL,
        "augment": BOOL,
        "flip_eta": BOOL,
        "roll_phi": BOOL,
        "class_weight": CLASS_WEIGHT,
        "negative_weights": NEGATIVE_WEIGHTS,
    },
    "easy-ensemble": _ENSEMBLE,
    "undersample": _ENSEMBLE,
    "bagging": _ENSEMBLE,
    "scaled": {
        "estimator": Param(
            "a classifier family name, a hepsift classifier or null",
            lambda v: v is None or isinstance(v, str) or hasattr(v, "get_params"),
        ),
        "scaling": SCALING,
        "clip_quantile": CLIP_QUANTILE,
        # fill values for NaN learned on the training events, or one finite number
        "impute": Param(
            "median, mean, a finite number or null",
            lambda v: (
                v is None
                or (isinstance(v, str) and v in ("median", "mean"))
                or (_is_real(v) and math.isfinite(float(v)))
            ),
            ("median", "mean"),
        ),
    },
    "mlp-regressor": {
        **{k: v for k, v in _TORCH.items()},
        "target_scaling": BOOL,
    },
    "bdt-regressor": {**_BOOSTING, "objective": choice(*REGRESSION_OBJECTIVES)},
    # anomaly detectors (hepsift.models.anomaly)
    "isolation-forest": {
        "n_estimators": integer(1, 100_000),
        "max_samples": integer(2, none=True),
        "max_features": real(0.0, 1.0, low_open=True),
        "n_jobs": N_JOBS,
        "seed": SEED,
    },
    "autoencoder": {k: v for k, v in _TORCH.items() if k not in ("batch_norm",)},
    "gmm": {
        "n_components": integer(1, 1000),
        "max_iter": integer(1, 1_000_000),
        "tol": real(0.0, low_open=True, high_open=True),
        "reg_covar": real(0.0, high_open=True),
        "seed": SEED,
    },
}


def _numeric_text(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_params(family: str, params: Mapping[str, Any], *, where: str = "") -> None:
    """Raise ConfigError on the first hyperparameter of ``params`` that ``family`` does not
    allow (type or range). Names are checked by :func:`hepsift.models.registry.create`."""
    specs = PARAMS.get(family, {})
    prefix = where or f"model '{family}'"
    for name, value in params.items():
        spec = specs.get(name)
        if spec is None or spec.ok(value):
            continue
        hint = ""
        if isinstance(value, str) and spec.words:
            hint = suggest(value, spec.words)
        elif isinstance(value, str) and _numeric_text(value):
            hint = "; it is a string (in YAML, write 1.0e-3, not 1e-3, for a number)"
        raise ConfigError(
            f"{prefix}: hyperparameter {name}={_shown(value)} is not allowed{hint} "
            f"(allowed: {spec.allowed})"
        )
    if family in ("easy-ensemble", "undersample", "bagging"):
        base, base_params = params.get("base"), params.get("base_params")
        if isinstance(base, str) and base in PARAMS and isinstance(base_params, Mapping):
            check_params(base, base_params, where=f"{prefix} base_params")
