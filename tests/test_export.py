"""One ONNX export path for every registered family (issue 10, item 2).

Every family — classifiers (binary and multi-class), the pNN (second input ``param``), the
ensembles, ``Scaled`` and the regressors — is fitted on small seeded data, saved, read back,
exported with :func:`hepsift.export.export_onnx` and checked against the model with ONNX
Runtime to 1e-5; ``hepsift onnx`` does the same from the shell."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import hepsift.models as models
from hepsift.cli import main
from hepsift.errors import ModelError
from hepsift.export import check_parity, export_onnx, onnx_outputs, onnx_session

#: small, fast hyperparameters (the defaults train for longer than a unit test should)
FAST: dict[str, dict[str, Any]] = {
    "logistic": {},
    "tree": {"max_depth": 5},
    "forest": {"n_estimators": 10, "max_depth": 6},
    "bdt": {"n_estimators": 20, "max_depth": 3, "n_jobs": 1},
    "mlp": {"hidden": (8,), "epochs": 2, "num_threads": 1},
    "pnn": {"hidden": (8,), "epochs": 2, "num_threads": 1},
    "deepsets": {"phi": (8,), "rho": (8,), "epochs": 2, "num_threads": 1},
    "set-kernel": {"fields": (0,), "levels": 3},
    "cnn": {"width": 2, "blocks": (1,), "head": 4, "epochs": 1, "num_threads": 1},
    "easy-ensemble": {
        "base": "bdt",
        "base_params": {"n_estimators": 5, "max_depth": 2},
        "n_subsets": 3,
    },
    "undersample": {"base": "tree", "base_params": {"max_depth": 4}},
    "bagging": {"base": "logistic", "n_subsets": 3},
    "scaled": {"estimator": "tree", "clip_quantile": 0.05},
    "bdt-regressor": {"n_estimators": 20, "max_depth": 3},
    "mlp-regressor": {"hidden": (8,), "epochs": 2, "num_threads": 1},
}


def test_fast_covers_every_family() -> None:
    assert set(FAST) == set(models.MODELS)


def _data(rng: np.random.Generator, k: int, n: int = 600) -> tuple[np.ndarray, np.ndarray]:
    X = rng.normal(size=(n, 5)).astype(np.float32)
    X[:, 1] = 60.0 + 40.0 * X[:, 1]  # GeV-like: scalers matter
    y = (X[:, 0] + (X[:, 1] - 60.0) / 40.0 + rng.normal(size=n) > 0).astype(np.int64)
    if k == 3:
        y = y + (X[:, 2] > 0.5)
    return X, y


def _fit(name: str, rng: np.random.Generator, k: int) -> tuple[Any, np.ndarray, dict[str, Any]]:
    X, y = _data(rng, k)
    model = models.create(name, **FAST[name])
    if name.endswith("-regressor"):
        return model.fit(X, 3.0 * X[:, 0] + X[:, 1]), X, {}
    if "objects" in model.inputs:  # one object per feature, the last one absent
        mask = np.ones(X.shape, dtype=bool)
        mask[:, -1] = False
        objects = (X[:, :, None], mask)
        return model.fit(X, y, objects=objects), X, {"objects": objects}
    if model.parametric:
        mass = np.where(y == 1, np.where(X[:, 3] > 0, 500.0, 1000.0), np.nan)
        return model.fit(X, y, param=mass), X, {"param": np.where(X[:, 4] > 0, 500.0, 900.0)}
    if "images" in model.inputs:  # images built from the features: (n, 2, 4, 6)
        images = np.repeat(X[:, :2, None, None], 24, axis=2).reshape(-1, 2, 4, 6)
        return model.fit(X, y, images=images), X, {"images": images}
    return model.fit(X, y), X, {}


CASES = [(name, 2) for name in FAST] + [
    (name, 3) for name in FAST if name != "pnn" and not name.endswith("-regressor")
]


@pytest.mark.parametrize(("name", "k"), CASES)
def test_every_family_round_trips_through_onnx(
    name: str, k: int, rng: np.random.Generator, tmp_path: Path
) -> None:
    model, X, inputs = _fit(name, rng, k)
    loaded = models.load(model.save(tmp_path / name))
    path = export_onnx(loaded, tmp_path / f"{name}.onnx")
    assert check_parity(model, path, X, **inputs) <= 1e-5
    session = onnx_session(path)
    names = [i.name for i in session.get_inputs()]
    assert names == (["X", "values", "mask"] if "objects" in inputs else ["X", *sorted(inputs)])
    outs = onnx_outputs(session, X, **inputs)
    if name.endswith("-regressor"):
        assert outs["predictions"].shape == (len(X),)
    else:
        assert outs["probabilities"].shape == (len(X), k)


def test_multi_output_regressor_keeps_its_columns(rng: np.random.Generator, tmp_path: Path) -> None:
    X, _ = _data(rng, 2)
    model = models.create("mlp-regressor", **FAST["mlp-regressor"]).fit(X, X[:, :2] * 10.0)
    path = model.to_onnx(tmp_path / "r.onnx")
    assert check_parity(model, path, X) <= 1e-5
    assert onnx_outputs(onnx_session(path), X)["predictions"].shape == (len(X), 2)


def test_ensemble_whose_base_missed_a_class(rng: np.random.Generator, tmp_path: Path) -> None:
    # bootstrap subsets of a rare third class: some base models see only two of the classes,
    # and the ONNX graph must put their columns where predict_proba does
    X, y = _data(rng, 2, 400)
    y = y.copy()
    y[:1] = 2  # one event: about a third of the bootstrap samples miss it
    model = models.create("bagging", base="tree", base_params={"max_depth": 3}, n_subsets=8)
    model.fit(X, y)
    assert any(len(m.classes_) < 3 for m in model.models_)
    path = model.to_onnx(tmp_path / "b.onnx")
    assert check_parity(model, path, X) <= 1e-5


def test_parity_needs_the_extra_inputs(rng: np.random.Generator, tmp_path: Path) -> None:
    model, X, _ = _fit("pnn", rng, 2)
    path = model.to_onnx(tmp_path / "p.onnx")
    with pytest.raises(ModelError, match="needs param="):
        check_parity(model, path, X)
    # a number, (n,) and (n, 1) are the same masses
    masses = np.full(len(X), 700.0)
    a = check_parity(model, path, X, param=700.0)
    b = check_parity(model, path, X, param=masses.reshape(-1, 1))
    assert max(a, b) <= 1e-5


@pytest.mark.parametrize(
    "name", ["logistic", "pnn", "bagging", "bdt-regressor", "scaled", "deepsets", "set-kernel"]
)
def test_hepsift_onnx_command(
    name: str, rng: np.random.Generator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model, _, _ = _fit(name, rng, 2)
    folder = model.save(tmp_path / name)
    code = main(["onnx", str(folder), str(tmp_path / f"{name}.onnx"), "--events", "200"])
    assert code == 0, capsys.readouterr()
    assert "parity on 200 events" in capsys.readouterr().out
    assert (tmp_path / f"{name}.onnx").is_file()


def test_hepsift_onnx_command_on_a_set_model_without_event_features(
    rng: np.random.Generator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """X with zero columns (objects only): the parity inputs come from the graph's shapes."""
    values = rng.normal(size=(200, 4, 3)).astype(np.float32)
    mask = rng.random((200, 4)) < 0.7
    y = ((values[:, :, 0] * mask).sum(axis=1) > 0).astype(int)
    model = models.create("deepsets", epochs=2, seed=0)
    model.fit(np.zeros((200, 0), np.float32), y, objects=(values, mask))
    folder = model.save(tmp_path / "ds")
    code = main(["onnx", str(folder), str(tmp_path / "ds.onnx"), "--events", "50"])
    assert code == 0, capsys.readouterr()
    assert "parity on 50 events" in capsys.readouterr().out
