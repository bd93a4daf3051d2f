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
Saved models nest their base models in subdirectories ``base_000``, ``base_001``, ...
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from hepsift.errors import ConfigError, DataError, ModelError, suggest
from hepsift.models.base import Classifier
from hepsift.train.weights import check_negative_policy, training_weights

__all__ = ["Bagging", "EasyEnsemble", "RandomUndersample"]

_SAMPLINGS = ("undersample", "bootstrap")


class EasyEnsemble(Classifier):
    """Average of base models trained on balanced undersampled subsets (module docstring)."""

    family: ClassVar[str] = "easy-ensemble"
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

    def _check(self) -> None:
        from hepsift.models.registry import MODELS

        if self.sampling not in _SAMPLINGS:
            raise ConfigError(
                f"sampling '{self.sampling}' is not one of {list(_SAMPLINGS)}"
                f"{suggest(str(self.sampling), _SAMPLINGS)}"
            )
        if int(self.n_subsets) < 1:
            raise ConfigError(f"n_subsets must be >= 1; got {self.n_subsets}")
        if self.base in ("easy-ensemble", "undersample", "bagging"):
            raise ConfigError(f"base '{self.base}' cannot itself be an ensemble")
        if self.base not in MODELS:
            raise ConfigError(
                f"unknown base model '{self.base}'{suggest(self.base, MODELS)} "
                f"(known: {', '.join(sorted(MODELS))})"
            )
        check_negative_policy(self.negative_weights)

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
        from hepsift.models.registry import create, hyperparameters

        self._check()
        wt = training_weights(y, w, negative=self.negative_weights, classes=self.classes_)
        rng = np.random.default_rng(int(self.seed))
        if fit_params.get("eval_set") is not None:
            # base models train on encoded labels 0..K-1: encode the validation labels alike
            es = tuple(fit_params["eval_set"])
            classes = np.asarray(self.classes_)
            yv = np.asarray(es[1])
            idx = np.clip(np.searchsorted(classes, yv), 0, len(classes) - 1)
            if not np.all(classes[idx] == yv):
                raise DataError(f"eval_set y holds labels not seen in training ({list(classes)})")
            fit_params = {**fit_params, "eval_set": (es[0], idx.astype(np.int64), *es[2:])}
        models: list[Any] = []
        for idx in self._subsets(y, rng):
            ys = y[idx]
            if np.unique(ys).size < 2:
                continue  # a bootstrap sample that missed a class cannot train a classifier
            ws = wt[idx]
            if self.balance_weights:
                ws = training_weights(ys, ws, class_weight="balanced")
            params = dict(self.base_params or {})
            if "seed" not in params and "seed" in hyperparameters(self.base):
                params["seed"] = int(self.seed) + len(models)  # decorrelate the base models
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
            sub = directory / str(name)
            if sub.resolve().parent != directory.resolve():
                raise ModelError(f"saved ensemble names a base model outside its directory: {name}")
            models.append(Classifier.load(sub))
        if not models:
            raise ModelError(f"saved ensemble in '{directory}' holds no base models")
        self.models_ = models

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
