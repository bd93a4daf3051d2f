"""Regressors: learn a known function of reconstructed quantities (true energy in GeV)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import hepsift.models as models
from hepsift.errors import DataError, ModelError


def photon_energy(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Reconstructed E (GeV), eta, leakage fraction -> true E = E_reco / (1 - leak) * f(eta)."""
    e_true = rng.uniform(20.0, 200.0, n)
    eta = rng.uniform(-2.4, 2.4, n)
    leak = rng.uniform(0.0, 0.2, n)
    response = (1.0 - leak) * (1.0 - 0.03 * eta**2)
    e_reco = e_true * response * (1.0 + 0.01 * rng.normal(size=n))
    X = np.column_stack([e_reco, eta, leak, rng.normal(size=n)]).astype(np.float32)
    return X, e_true


@pytest.mark.parametrize(
    ("name", "hp"),
    [
        ("bdt-regressor", {"n_estimators": 400, "max_depth": 5, "n_jobs": 1}),
        pytest.param(
            "mlp-regressor",
            {"hidden": (32, 32), "epochs": 60, "lr": 3e-3, "num_threads": 1},
            marks=pytest.mark.slow,
        ),
    ],
)
def test_regression_learns_the_energy(
    name: str, hp: dict[str, object], rng: np.random.Generator, tmp_path: Path
) -> None:
    X, e = photon_energy(rng, 4000)
    model = models.create(name, **hp)
    model.fit(X[:3000], e[:3000], eval_set=(X[3000:3500], e[3000:3500]))
    pred = model.predict(X[3500:])
    assert pred.shape == (500,)
    rel = (pred - e[3500:]) / e[3500:]
    naive = (X[3500:, 0] - e[3500:]) / e[3500:]  # E_reco as the estimate
    assert np.std(rel) < 0.5 * np.std(naive) and abs(np.median(rel)) < 0.03
    loaded = models.load(model.save(tmp_path / name))
    assert type(loaded) is type(model) and not hasattr(loaded, "classes_")
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_mlp_regressor_multi_output_and_weights(rng: np.random.Generator) -> None:
    X = rng.normal(size=(1500, 3)).astype(np.float32)
    Y = np.column_stack([100.0 * X[:, 0] + 500.0, X[:, 1] * X[:, 2]])
    m = models.create("mlp-regressor", hidden=(32,), epochs=40, lr=3e-3, num_threads=1)
    m.fit(X, Y)
    assert m.predict(X).shape == (1500, 2)
    assert np.corrcoef(m.predict(X)[:, 0], Y[:, 0])[0, 1] > 0.99
    # heavy weights on one region pull a constant-ish fit towards it
    t = np.where(X[:, 0] > 0, 10.0, 0.0)
    w = np.where(X[:, 0] > 0, 20.0, 1.0)
    lin = {"hidden": (), "epochs": 30, "lr": 1e-2, "num_threads": 1}
    a = models.create("mlp-regressor", **lin).fit(X[:, 1:], t)
    b = models.create("mlp-regressor", **lin).fit(X[:, 1:], t, sample_weight=w)
    assert b.predict(X[:, 1:]).mean() > a.predict(X[:, 1:]).mean() + 2.0


def test_regressor_bad_inputs(rng: np.random.Generator) -> None:
    X = rng.normal(size=(100, 2))
    y = X[:, 0].copy()
    y[3] = np.nan
    with pytest.raises(DataError, match="NaN"):
        models.create("bdt-regressor").fit(X, y)
    with pytest.raises(ModelError, match="one target"):
        models.create("bdt-regressor").fit(X, np.column_stack([X[:, 0], X[:, 1]]))
    with pytest.raises(ModelError, match="non-negative"):
        models.create("bdt-regressor").fit(X, X[:, 0], sample_weight=-np.ones(100))
