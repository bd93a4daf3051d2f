"""The Classifier contract every hepsift model follows.

scikit-learn's estimator contract, whatever is inside: ``__init__`` only stores
hyperparameters; ``fit(X, y, sample_weight=None, **fit_params) -> self``; ``predict_proba``;
``predict``; learned state ends in ``_``. On top of that:

- ``save(path)`` writes a *directory* atomically (temporary sibling + rename): ``model.json``
  (format, family, hyperparameters, classes, feature count, the family's own JSON state) plus the
  family's payload files in safe formats only (NPZ loaded with ``allow_pickle=False``, XGBoost
  JSON, torch tensors as safetensors). ``hepsift.models.load(path)`` reads any of them back; no
  file is ever unpickled.
- ``to_onnx(path)`` where the family allows it (see :mod:`hepsift.export`).

Subclasses implement ``_fit``, ``_predict_proba`` and, to be saveable, ``_get_state`` /
``_set_state``. The base class does the input validation, label encoding and file handling.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, ClassifierMixin

from hepsift.errors import DataError, ModelError

__all__ = ["MODEL_FORMAT", "Classifier", "read_model_meta"]

MODEL_FORMAT = "hepsift-model/1"
META_FILE = "model.json"


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, BaseEstimator):
        return {"__estimator__": type(value).__module__ + "." + type(value).__name__}
    return value


class Classifier(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Base class of hepsift classifiers (see the module docstring)."""

    #: registry name of the family (``logistic``, ``bdt``, ``mlp``, ...)
    family: ClassVar[str] = ""
    #: whether :meth:`to_onnx` is available for the family
    onnx_supported: ClassVar[bool] = False

    # -- to be implemented by the families ---------------------------------------------------
    def _fit(
        self,
        X: NDArray[np.float64],
        y: NDArray[np.int64],
        w: NDArray[np.float64],
        **fit_params: Any,
    ) -> None:
        raise NotImplementedError

    def _predict_proba(self, X: NDArray[np.float64]) -> NDArray[np.float64]:
        raise NotImplementedError

    def _get_state(self, directory: Path) -> dict[str, Any]:
        """Write payload files into ``directory``; return JSON-able state for ``model.json``."""
        raise ModelError(f"model family '{self.family or type(self).__name__}' cannot be saved")

    def _set_state(self, directory: Path, state: dict[str, Any]) -> None:
        raise ModelError(f"model family '{self.family or type(self).__name__}' cannot be loaded")

    # -- validation helpers ------------------------------------------------------------------
    def _validate_X(self, X: ArrayLike, *, reset: bool) -> NDArray[np.float64]:
        from sklearn.utils.validation import check_array

        arr = check_array(X, dtype=np.float64, ensure_all_finite=True, ensure_2d=True)
        if reset:
            self.n_features_in_ = arr.shape[1]
        elif arr.shape[1] != getattr(self, "n_features_in_", arr.shape[1]):
            raise ValueError(
                f"X has {arr.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input"
            )
        return np.asarray(arr, dtype=np.float64)

    def _validate_fit_inputs(
        self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None
    ) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.float64]]:
        from sklearn.utils.multiclass import check_classification_targets
        from sklearn.utils.validation import check_consistent_length

        Xv = self._validate_X(X, reset=True)
        y_arr = np.asarray(y)
        if y_arr.ndim == 2 and y_arr.shape[1] == 1:
            import warnings

            from sklearn.exceptions import DataConversionWarning

            # scikit-learn's contract (check_supervised_y_2d): accept, but say so
            warnings.warn(
                "A column-vector y was passed when a 1d array was expected. Please change the "
                "shape of y to (n_samples,), for example using ravel().",
                DataConversionWarning,
                stacklevel=3,
            )
            y_arr = y_arr.ravel()
        if y_arr.ndim != 1:
            raise ValueError(
                f"y should be a 1d array, got an array of shape {y_arr.shape} instead."
            )
        check_consistent_length(Xv, y_arr)
        if y_arr.dtype.kind in "fc" and not np.all(np.isfinite(y_arr)):
            # checked here: sklearn's target-type check would warn on the cast first
            raise DataError("y contains NaN or inf; class labels must be finite")
        check_classification_targets(y_arr)
        classes, y_enc = np.unique(y_arr, return_inverse=True)
        if classes.size < 2:
            raise DataError(
                f"training data holds only one class ({classes.tolist()}); a classifier needs "
                "at least two"
            )
        self.classes_ = classes
        if sample_weight is None:
            w = np.ones(Xv.shape[0], dtype=np.float64)
        else:
            w = np.asarray(sample_weight, dtype=np.float64)
            if w.ndim == 0:
                w = np.full(Xv.shape[0], float(w))
            if w.shape != (Xv.shape[0],):
                raise ValueError(
                    f"sample_weight.shape == {w.shape}, expected ({Xv.shape[0]},) to match X"
                )
            if not np.all(np.isfinite(w)):
                raise DataError("sample_weight contains NaN or inf")
        return Xv, y_enc.astype(np.int64), w

    # -- the contract ------------------------------------------------------------------------
    def fit(
        self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None, **fit_params: Any
    ) -> Classifier:
        Xv, y_enc, w = self._validate_fit_inputs(X, y, sample_weight)
        self._fit(Xv, y_enc, w, **fit_params)
        return self

    def predict_proba(self, X: ArrayLike) -> NDArray[np.float64]:
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "classes_")
        return self._predict_proba(self._validate_X(X, reset=False))

    def predict(self, X: ArrayLike) -> NDArray[Any]:
        proba = self.predict_proba(X)
        return np.asarray(self.classes_)[np.argmax(proba, axis=1)]

    def decision_score(self, X: ArrayLike) -> NDArray[np.float64]:
        """The signal score: P(last class) for binary problems (the ROC input)."""
        proba = self.predict_proba(X)
        return proba[:, -1]

    # -- files -------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the fitted model to the directory ``path`` (atomically; replaces an old one)."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "classes_")

        def make_meta(tmp: Path) -> dict[str, Any]:
            state = self._get_state(tmp)
            return {
                "format": MODEL_FORMAT,
                "family": self.family,
                "class": f"{type(self).__module__}.{type(self).__qualname__}",
                "params": _jsonable(self.get_params(deep=False)),
                "classes": _jsonable(np.asarray(self.classes_)),
                "n_features_in": int(self.n_features_in_),
                "state": _jsonable(state),
            }

        return write_model_dir(path, make_meta)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Classifier:
        """Read a model written by :meth:`save` (any family; see :func:`hepsift.models.load`)."""
        directory = Path(path)
        meta = read_model_meta(directory)
        target_cls: type[Classifier] = cls
        if cls.family != meta["family"] or cls is Classifier:
            from hepsift.models.registry import model_class

            target_cls = model_class(meta["family"])
        params = {k: v for k, v in meta["params"].items() if not isinstance(v, dict)}
        params = {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}
        model = target_cls._from_params(params, meta)
        model.classes_ = np.asarray(meta["classes"])
        model.n_features_in_ = int(meta["n_features_in"])
        model._set_state(directory, meta["state"])
        return model

    @classmethod
    def _from_params(cls, params: dict[str, Any], meta: dict[str, Any]) -> Classifier:
        """Build an unfitted instance from saved hyperparameters (override for nested models).

        A dict ``class_weight`` (dropped by the generic loader) is put back from ``meta``.
        """
        from hepsift.train.weights import restore_class_weight

        valid = cls._get_param_names()
        full = restore_class_weight(params, meta)
        return cls(**{k: v for k, v in full.items() if k in valid})

    def to_onnx(self, path: str | os.PathLike[str]) -> Path:
        """Export to ONNX (input ``X`` float32 (n, d); output probabilities (n, classes)).

        Families with ``onnx_supported`` provide ``_onnx_proto()``; the others raise ModelError.
        """
        from hepsift.export import export_onnx

        return export_onnx(self, path)


def write_model_dir(
    path: str | os.PathLike[str], make_meta: Callable[[Path], dict[str, Any]]
) -> Path:
    """Write a saved-model directory at ``path`` atomically (replacing an old one).

    ``make_meta(tmp)`` writes the payload files into the temporary directory ``tmp`` and
    returns the ``model.json`` content.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        meta = make_meta(tmp)
        (tmp / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True))
        if target.exists():
            old = target.with_name(f".{target.name}.old")
            if old.exists():
                shutil.rmtree(old)
            target.rename(old)
            tmp.rename(target)
            shutil.rmtree(old)
        else:
            tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def read_model_meta(directory: Path) -> dict[str, Any]:
    """The ``model.json`` of a saved model, checked; a ModelError names what is wrong."""
    meta_path = directory / META_FILE
    if not meta_path.is_file():
        raise ModelError(f"'{directory}' is not a saved hepsift model (no {META_FILE} inside)")
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"'{meta_path}' is not valid JSON: {exc}") from None
    if not isinstance(meta, dict) or meta.get("format") != MODEL_FORMAT:
        raise ModelError(
            f"'{meta_path}' has format {meta.get('format') if isinstance(meta, dict) else None!r}; "
            f"expected '{MODEL_FORMAT}'"
        )
    return meta
