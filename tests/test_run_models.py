"""A run's models work outside the run (issue 10, item 1).

For every classifier family a run trains, the saved folder ``<run>/models/<name>`` read back by
``hepsift.models.load`` gives the run's test scores from the RAW test features (to 1e-6), and
``<run>/models/<name>.onnx`` gives them to 1e-5: the preprocessing is part of the saved model
(no ``scaler.json`` beside it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hepsift.dataset import Dataset
from hepsift.export import check_parity, onnx_probabilities, onnx_session
from hepsift.models import CLASSIFIERS, load, model_class
from hepsift.run import PreparedData, run

#: small, fast hyperparameters (the defaults train for longer than a unit test should)
FAST: dict[str, dict[str, Any]] = {
    "logistic": {},
    "tree": {"max_depth": 4},
    "forest": {"n_estimators": 8, "max_depth": 5},
    "bdt": {"n_estimators": 15, "max_depth": 3, "n_jobs": 1},
    "mlp": {"hidden": [8], "epochs": 2, "num_threads": 1},
    "easy-ensemble": {"base": "logistic", "n_subsets": 3},
    "undersample": {"base": "bdt", "base_params": {"n_estimators": 5, "max_depth": 2}},
    "bagging": {"base": "tree", "base_params": {"max_depth": 3}, "n_subsets": 3},
    "scaled": {"estimator": "logistic", "clip_quantile": 0.01},
}


NAMES = ("pt", "eta", "mass", "noise")


def test_fast_covers_every_run_family() -> None:
    # families taking only the table (set / image models: tests/test_sets.py, ...)
    runnable = {n for n in CLASSIFIERS if model_class(n).inputs == {"table"}}
    assert set(FAST) == runnable


def _dataset(rng: np.random.Generator, n: int = 1500) -> Dataset:
    sample = (rng.random(n) < 0.35).astype(np.int64)  # 0: background, 1: signal
    # features in very different units (GeV and O(1)): a model fed the wrong scale is far off
    pt = rng.exponential(60.0, n) + 25.0 + 40.0 * sample
    eta = rng.normal(0.0, 1.2 - 0.4 * sample, n)
    mass = rng.normal(125.0, 2.0, n) * sample + rng.uniform(100.0, 160.0, n) * (1 - sample)
    X = np.column_stack([pt, eta, mass, rng.normal(size=n)]).astype(np.float32)
    weight = rng.uniform(0.5, 1.5, n) * np.where(sample == 1, 0.02, 1.0)
    weight[rng.random(n) < 0.05] *= -1.0  # negative MC weights: the scaler uses |w|
    return Dataset(
        X=X,
        y=np.zeros(n, dtype=np.int64),
        weight=weight,
        feature_names=NAMES,
        class_names=("all",),
        sample=sample,
        sample_names=("bkg", "sig"),
    )


def _config(scaling: str) -> dict[str, Any]:
    return {
        "name": "roundtrip",
        "seed": 3,
        "scaling": scaling,
        "data": {"inline": {"feature_names": list(NAMES), "X": [[0, 0, 0, 0]], "y": [0]}},
        "features": list(NAMES),
        "task": {"type": "binary", "classes": {"background": ["bkg"], "signal": ["sig"]}},
        "models": [{"name": name, "family": name, "params": p} for name, p in FAST.items()],
        "evaluation": {"bootstrap": 5, "importance": False},
        "output": {"formats": ["png"], "onnx": True},
    }


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Dataset]:
    prepared = PreparedData(dataset=_dataset(np.random.default_rng(7)), source="test")
    result = run(_config("standard"), out=tmp_path_factory.mktemp("runs"), prepared=prepared)
    cfg = result.config
    _train, _valid, test = prepared.dataset.split(
        cfg.split.fractions, by=cfg.split.by, seed=cfg.seed
    )
    return result, test


@pytest.mark.slow
@pytest.mark.parametrize("name", list(FAST))
def test_saved_model_and_onnx_reproduce_the_run_scores(
    tiny_run: tuple[Any, Dataset], name: str
) -> None:
    result, test = tiny_run
    assert result.metrics["n_test"] == len(test)
    (ev,) = [e for e in result.evaluations if e.name == name]
    folder = result.path / "models" / name
    assert not (folder / "scaler.json").exists()  # the scaler is inside the model
    model = load(folder)
    scores = model.predict_proba(test.X)  # raw features, as the run read them
    np.testing.assert_allclose(scores, ev.proba_test, rtol=0, atol=1e-6)
    onnx = onnx_probabilities(onnx_session(folder.parent / f"{name}.onnx"), test.X)
    np.testing.assert_allclose(onnx, ev.proba_test, rtol=0, atol=1e-5)
    assert check_parity(model, folder.parent / f"{name}.onnx", test.X) <= 1e-5


@pytest.mark.slow
def test_families_that_scale_themselves_are_not_wrapped(tiny_run: tuple[Any, Dataset]) -> None:
    result, _test = tiny_run
    for name in FAST:
        model = load(result.path / "models" / name)
        expect = "scaled" if not model_class(name).scales_inputs else name
        assert model.family == expect, name
        if expect == "scaled" and name != "scaled":
            assert model.estimator_.family == name


def test_no_scaling_means_the_bare_family(tmp_path: Path) -> None:
    prepared = PreparedData(dataset=_dataset(np.random.default_rng(8), 600), source="test")
    cfg = _config("none")
    cfg["models"] = [{"name": "logistic", "family": "logistic", "params": {}}]
    result = run(cfg, out=tmp_path, prepared=prepared)
    model = load(result.path / "models" / "logistic")
    assert model.family == "logistic"
    (ev,) = result.evaluations
    _tr, _va, test = prepared.dataset.split(
        result.config.split.fractions, by=result.config.split.by, seed=result.config.seed
    )
    np.testing.assert_allclose(model.predict_proba(test.X), ev.proba_test, rtol=0, atol=1e-6)
