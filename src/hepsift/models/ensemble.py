"""EasyEnsemble, random undersampling and bagging around any registered classifier family.

EasyEnsemble (Liu, Wu and Zhou, IEEE TSMC-B 39 (2009) 539): draw ``n_subsets`` balanced subsets,
each holding every event of the smallest class and as many events, drawn at random without
replacement, of every other class; fit one base model (``base="logistic"|"bdt"|"mlp"|...``
with ``base_params={...}``) per subset; average their probabilities.

- ``sampling="undersample"`` (default): the balanced subsets above. With ``n_subsets=1`` it is
  plain random undersampling (registered as ``undersample``).
- ``sampling="bootstrap"``: bagging, each subset a bootstrap sample (with replacement) of all
  events, no balancing (registered as ``bagging``).

Event weights are respected: each base model gets its events' (policy-applied) weights; with
``balance_weights=True`` (default for undersampling) the weights in a subset are rescaled so
that each class carries the same total weight (relative weights within a class are kept).
The base must be a non-parametric classifier family that is not itself an ensemble (a
ConfigError otherwise). ``eval_set`` is passed on to base models that take one.
Saved models nest their base models in subdirectories ``base_000``, ``base_001``, ...
ONNX: the base models' graphs side by side on the one input ``X``, their probabilities
averaged (columns mapped to the ensemble's classes).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from hepsift.errors import ConfigError, ModelError, suggest
from hepsift.models.base import Classifier, payload_path
from hepsift.train.weights import check_negative_policy, training_weights

__all__ = ["Bagging", "EasyEnsemble", "RandomUndersample"]

_SAMPLINGS = ("undersample", "bootstrap")


class EasyEnsemble(Classifier):
    """Average of base models trained on balanced undersampled subsets (module docstring)."""

    family: ClassVar[str] = "easy-ensemble"
    supports_eval_set: ClassVar[bool] = True
    seed_param: ClassVar[str | None] = "seed"
    models_: list[Any]

    def __init__(
        self,
        *,
        base: str = "logistic",
        base_params: dict[str, Any] | None = None,
        n_subsets: int = 10,
        sampling: str = "undersample",
        balance_weights: bool = True,
        negative_weights: str = "keep",
        seed: int = 0,
    ) -> None:
        self.base = base
        self.base_params = base_params
        self.n_subsets = n_subsets
        self.sampling = sampling
        self.balance_weights = balance_weights
        self.negative_weights = negative_weights
        self.seed = seed

    def _check(self) -> type[Classifier]:
        """Check the hyperparameters; return the base model's class."""
        from hepsift.models.registry import CLASSIFIERS, ENSEMBLES, model_class

        if self.sampling not in _SAMPLINGS:
            raise ConfigError(
                f"sampling '{self.sampling}' is not one of {list(_SAMPLINGS)}"
                f"{suggest(str(self.sampling), _SAMPLINGS)}"
            )
        if int(self.n_subsets) < 1:
            raise ConfigError(f"n_subsets must be >= 1; got {self.n_subsets}")
        allowed = sorted(
            name for name in CLASSIFIERS if name not in ENSEMBLES and name not in ("pnn",)
        )
        if self.base in ENSEMBLES:
            raise ConfigError(
                f"base '{self.base}' cannot itself be an ensemble (allowed: {', '.join(allowed)})"
            )
        if self.base not in CLASSIFIERS:
            raise ConfigError(
                f"base '{self.base}' is not a classifier family{suggest(str(self.base), allowed)} "
                f"(allowed: {', '.join(allowed)})"
            )
        base_cls: type[Classifier] = model_class(self.base)
        if base_cls.parametric:
            raise ConfigError(
                f"base '{self.base}' is parametric (it needs param=); an ensemble takes a "
                f"non-parametric base (allowed: {', '.join(allowed)})"
            )
        check_negative_policy(self.negative_weights)
        return base_cls

    def _subsets(self, y: NDArray[np.int64], rng: np.random.Generator) -> list[NDArray[np.int64]]:
        n = y.size
        out = []
        groups = [np.flatnonzero(y == c) for c in range(len(self.classes_))]
        groups = [g for g in groups if g.size]
        smallest = min(g.size for g in groups)
        for _ in range(int(self.n_subsets)):
            if self.sampling == "bootstrap":
                idx = rng.integers(0, n, n)
            else:
                idx = np.concatenate(
                    [
                        g if g.size == smallest else rng.choice(g, smallest, replace=False)
                        for g in groups
                    ]
                )
            out.append(np.sort(idx))
        return out

    def _fit(
        self,
        X: NDArray[np.float64],
        y: NDArray[np.int64],
        w: NDArray[np.float64],
        **fit_params: Any,
    ) -> None:
        from hepsift.models.registry import create

        base_cls = self._check()
        wt = self._training_weights(y, w, class_weight=None)
        rng = np.random.default_rng(int(self.seed))
        if fit_params.get("eval_set") is not None:
            if base_cls.supports_eval_set:
                # base models train on encoded labels 0..K-1: encode the validation labels alike
                fit_params = {
                    **fit_params,
                    "eval_set": self._parse_eval_set(fit_params["eval_set"]),
                }
            else:
                fit_params = {k: v for k, v in fit_params.items() if k != "eval_set"}
        models: list[Any] = []
        for idx in self._subsets(y, rng):
            ys = y[idx]
            if np.unique(ys).size < 2:
                continue  # a bootstrap sample that missed a class cannot train a classifier
            ws = wt[idx]
            if self.balance_weights:
                ws = training_weights(ys, ws, class_weight="balanced")
            params = dict(self.base_params or {})
            seed_name = base_cls.seed_param
            if seed_name is not None and seed_name not in params:
                params[seed_name] = int(self.seed) + len(models)  # decorrelate the base models
            model = create(self.base, **params)
            # base models see the encoded labels; mapping back happens in _predict_proba
            model.fit(X[idx], ys, sample_weight=ws, **fit_params)
            models.append(model)
        if not models:
            raise ModelError("no subset held two classes; cannot fit the ensemble")
        self.models_ = models

    def _predict_proba(self, X: NDArray[np.float64]) -> NDArray[np.float64]:
        k = len(self.classes_)
        total = np.zeros((X.shape[0], k))
        for model in self.models_:
            p = np.asarray(model.predict_proba(X), dtype=np.float64)
            cols = np.asarray(model.classes_, dtype=np.int64)
            total[:, cols] += p
        return total / len(self.models_)

    def _get_state(self, directory: Path) -> dict[str, Any]:
        names = []
        for i, model in enumerate(self.models_):
            name = f"base_{i:03d}"
            model.save(directory / name)
            names.append(name)
        return {"models": names}

    def _set_state(self, directory: Path, state: dict[str, Any]) -> None:
        models = []
        for name in state.get("models", []):
            models.append(Classifier.load(payload_path(directory, name)))
        if not models:
            raise ModelError(f"saved ensemble in '{directory}' holds no base models")
        seen = {int(c) for m in models for c in np.asarray(m.classes_).tolist()}
        if seen != set(range(len(self.classes_))):
            raise ModelError(
                f"saved ensemble in '{directory}': its base models know classes {sorted(seen)}, "
                f"but model.json declares {len(self.classes_)}"
            )
        self.models_ = models

    def _onnx_proto(self) -> Any:
        from hepsift.export import average_graphs, onnx_proto_of

        k = len(self.classes_)
        parts = [(onnx_proto_of(m), np.asarray(m.classes_, dtype=np.int64)) for m in self.models_]
        return average_graphs(parts, k, int(self.n_features_in_))

    @classmethod
    def _from_params(cls, params: dict[str, Any], meta: dict[str, Any]) -> Classifier:
        full = dict(params)
        base_params = meta.get("params", {}).get("base_params")
        full["base_params"] = dict(base_params) if isinstance(base_params, dict) else None
        valid = cls._get_param_names()
        return cls(**{k: v for k, v in full.items() if k in valid})


class RandomUndersample(EasyEnsemble):
    """One base model on one balanced random undersample (EasyEnsemble with one subset)."""

    family: ClassVar[str] = "undersample"

    def __init__(
        self,
        *,
        base: str = "logistic",
        base_params: dict[str, Any] | None = None,
        n_subsets: int = 1,
        sampling: str = "undersample",
        balance_weights: bool = True,
        negative_weights: str = "keep",
        seed: int = 0,
    ) -> None:
        super().__init__(
            base=base,
            base_params=base_params,
            n_subsets=n_subsets,
            sampling=sampling,
            balance_weights=balance_weights,
            negative_weights=negative_weights,
            seed=seed,
        )


class Bagging(EasyEnsemble):
    """Bootstrap aggregation: base models on bootstrap samples of all events, averaged."""

    family: ClassVar[str] = "bagging"

    def __init__(
        self,
        *,
        base: str = "logistic",
        base_params: dict[str, Any] | None = None,
        n_subsets: int = 10,
        sampling: str = "bootstrap",
        balance_weights: bool = False,
        negative_weights: str = "keep",
        seed: int = 0,
    ) -> None:
        super().__init__(
            base=base,
            base_params=base_params,
            n_subsets=n_subsets,
            sampling=sampling,
            balance_weights=balance_weights,
            negative_weights=negative_weights,
            seed=seed,
        )
