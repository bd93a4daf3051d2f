"""Decision tree and random forest (scikit-learn) behind the Classifier contract.

Hyperparameters are scikit-learn's (``max_depth``, ``min_samples_leaf``, ...) plus hepsift's
weight policies (``class_weight``, ``negative_weights``, see :mod:`hepsift.train.weights`) and
an explicit ``seed``. Saved models hold each tree's node arrays in ``trees.npz`` (left/right
children, feature, threshold, impurity, sample counts, class values); loading rebuilds the
scikit-learn trees from those arrays (``allow_pickle=False``), so predictions are identical and
the skl2onnx export works on a loaded model too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from hepsift.errors import ModelError
from hepsift.models.base import Classifier, payload_path, read_npz

__all__ = ["DecisionTree", "RandomForest"]

_TREE_FILE = "trees.npz"


def _tree_arrays(est: Any) -> dict[str, NDArray[Any]]:
    state = est.tree_.__getstate__()
    nodes = state["nodes"]
    out = {name: np.ascontiguousarray(nodes[name]) for name in nodes.dtype.names}
    out["values"] = np.ascontiguousarray(state["values"])
    out["max_depth"] = np.asarray(state["max_depth"], dtype=np.int64)
    return out


def _rebuild_tree(arrays: dict[str, NDArray[Any]], n_features: int, n_classes: int) -> Any:
    from sklearn.tree import DecisionTreeClassifier
    from sklearn.tree._tree import NODE_DTYPE, Tree

    node_count = int(arrays["left_child"].shape[0])
    nodes = np.zeros(node_count, dtype=NODE_DTYPE)
    for name in NODE_DTYPE.names:
        if name not in arrays:
            raise ModelError(f"saved tree lacks the node array '{name}'")
        nodes[name] = arrays[name]
    values = np.ascontiguousarray(arrays["values"], dtype=np.float64)
    if values.shape != (node_count, 1, n_classes):
        raise ModelError(
            f"saved tree values have shape {values.shape}; expected ({node_count}, 1, {n_classes})"
        )
    tree = Tree(int(n_features), np.array([n_classes], dtype=np.intp), 1)
    tree.__setstate__(
        {
            "max_depth": int(arrays["max_depth"]),
            "node_count": node_count,
            "nodes": nodes,
            "values": values,
        }
    )
    est = DecisionTreeClassifier()
    est.tree_ = tree
    est.n_features_in_ = int(n_features)
    est.n_outputs_ = 1
    est.n_classes_ = int(n_classes)
    est.classes_ = np.arange(n_classes)
    est.max_features_ = int(n_features)
    return est


class _SklearnTrees(Classifier):
    """Shared fit / predict / save of the scikit-learn tree families."""

    seed_param: ClassVar[str | None] = "seed"
    estimator_: Any

    #: the hyperparameters passed as they are to the scikit-learn estimator (with ``seed`` as
    #: its ``random_state``)
    _passed: ClassVar[tuple[str, ...]] = ()

    def _estimator_class(self) -> Any:
        raise NotImplementedError

    def _make(self) -> Any:
        """The unfitted scikit-learn estimator with this model's hyperparameters."""
        params = {name: getattr(self, name) for name in self._passed}
        return self._estimator_class()(**params, random_state=self.seed)

    def _fit(
        self,
        X: NDArray[np.float64],
        y: NDArray[np.int64],
        w: NDArray[np.float64],
        **fit_params: Any,
    ) -> None:
        wt = self._training_weights(y, w)
        self.estimator_ = self._make().fit(X, y, sample_weight=wt)

    def _predict_proba(self, X: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.asarray(self.estimator_.predict_proba(X), dtype=np.float64)

    @property
    def feature_importances_(self) -> NDArray[np.float64]:
        """Impurity-decrease importances, normalised to sum 1."""
        return np.asarray(self.estimator_.feature_importances_, dtype=np.float64)

    def _trees(self) -> list[Any]:
        raise NotImplementedError

    def _get_state(self, directory: Path) -> dict[str, Any]:
        payload: dict[str, NDArray[Any]] = {}
        trees = self._trees()
        for i, est in enumerate(trees):
            for key, arr in _tree_arrays(est).items():
                payload[f"t{i}_{key}"] = arr
        np.savez(directory / _TREE_FILE, **payload)  # type: ignore[arg-type]
        return {"n_trees": len(trees), "file": _TREE_FILE}

    def _load_trees(self, directory: Path, state: dict[str, Any]) -> list[Any]:
        path = payload_path(directory, state.get("file", _TREE_FILE))
        arrays = read_npz(path, "tree arrays")
        n_classes = len(self.classes_)
        out = []
        for i in range(int(state["n_trees"])):
            prefix = f"t{i}_"
            mine = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
            out.append(_rebuild_tree(mine, self.n_features_in_, n_classes))
        return out

    def _onnx_proto(self) -> Any:
        from skl2onnx import convert_sklearn
        from skl2onnx.common.data_types import FloatTensorType

        return convert_sklearn(
            self.estimator_,
            initial_types=[("X", FloatTensorType([None, int(self.n_features_in_)]))],
            options={id(self.estimator_): {"zipmap": False}},
            target_opset={"": 17, "ai.onnx.ml": 3},
        )


class DecisionTree(_SklearnTrees):
    """One decision tree (scikit-learn ``DecisionTreeClassifier``), weighted."""

    family: ClassVar[str] = "tree"
    _passed: ClassVar[tuple[str, ...]] = ("max_depth", "min_samples_leaf", "criterion")

    def __init__(
        self,
        *,
        max_depth: int | None = 8,
        min_samples_leaf: int = 20,
        criterion: str = "gini",
        class_weight: str | dict[Any, float] | None = None,
        negative_weights: str = "keep",
        seed: int = 0,
    ) -> None:
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.criterion = criterion
        self.class_weight = class_weight
        self.negative_weights = negative_weights
        self.seed = seed

    def _estimator_class(self) -> Any:
        from sklearn.tree import DecisionTreeClassifier

        return DecisionTreeClassifier

    def _trees(self) -> list[Any]:
        return [self.estimator_]

    def _set_state(self, directory: Path, state: dict[str, Any]) -> None:
        self.estimator_ = self._load_trees(directory, state)[0]


class RandomForest(_SklearnTrees):
    """Random forest (scikit-learn ``RandomForestClassifier``), weighted; probabilities averaged."""

    family: ClassVar[str] = "forest"
    _passed: ClassVar[tuple[str, ...]] = (
        "n_estimators",
        "max_depth",
        "min_samples_leaf",
        "max_features",
        "criterion",
        "bootstrap",
        "n_jobs",
    )

    def __init__(
        self,
        *,
        n_estimators: int = 100,
        max_depth: int | None = None,
        min_samples_leaf: int = 5,
        max_features: str | int | float | None = "sqrt",
        criterion: str = "gini",
        bootstrap: bool = True,
        class_weight: str | dict[Any, float] | None = None,
        negative_weights: str = "keep",
        n_jobs: int | None = None,
        seed: int = 0,
    ) -> None:
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.max_features = max_features
        self.criterion = criterion
        self.bootstrap = bootstrap
        self.class_weight = class_weight
        self.negative_weights = negative_weights
        self.n_jobs = n_jobs
        self.seed = seed

    def _estimator_class(self) -> Any:
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier

    def _trees(self) -> list[Any]:
        return list(self.estimator_.estimators_)

    def _set_state(self, directory: Path, state: dict[str, Any]) -> None:
        from sklearn.ensemble import RandomForestClassifier

        trees = self._load_trees(directory, state)
        est = self._make()
        est.estimators_ = trees
        est.estimator_ = trees[0]
        est.n_features_in_ = int(self.n_features_in_)
        est.n_outputs_ = 1
        est.n_classes_ = len(self.classes_)
        est.classes_ = np.arange(len(self.classes_))
        est.n_estimators = len(trees)
        assert isinstance(est, RandomForestClassifier)
        self.estimator_ = est
