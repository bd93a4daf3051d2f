"""Anomaly-detector families: fit without labels, score outliers higher, save/load, ONNX."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hepsift import models
from hepsift.errors import ConfigError
from hepsift.metrics import auc
from hepsift.models.registry import ANOMALY_DETECTORS

FAST: dict[str, dict[str, Any]] = {
    "isolation-forest": {"n_estimators": 30},
    "autoencoder": {"hidden": (8, 2, 8), "epochs": 15, "num_threads": 1, "batch_size": 64},
    "gmm": {"n_components": 3},
}


def _events(seed: int = 0, n: int = 600) -> tuple[np.ndarray, np.ndarray]:
    """Correlated bulk in 4 features (GeV-like scale on one) plus 3 % off-manifold outliers."""
    rng = np.random.default_rng(seed)
    t = rng.normal(size=(n, 2))
    X = np.column_stack([t[:, 0], t[:, 0] + 0.1 * t[:, 1], t[:, 1], t[:, 0] - t[:, 1]])
    y = np.zeros(n, dtype=int)
    k = n // 33
    X[:k] = rng.normal(size=(k, 4)) * 2.5
    y[:k] = 1
    X[:, 3] = 60.0 + 20.0 * X[:, 3]
    return X, y


def test_the_families_are_registered_apart_from_classifiers() -> None:
    assert set(ANOMALY_DETECTORS) == set(FAST)
    assert not set(ANOMALY_DETECTORS) & set(models.MODELS)
    with pytest.raises(ConfigError, match="isolation-forest"):
        models.create("isolation-forrest")
    with pytest.raises(ConfigError, match="n_components"):
        models.create("gmm", n_components=0)


def test_hepsift_models_lists_the_detectors(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from hepsift.cli import main

    monkeypatch.setenv("COLUMNS", "200")
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    for name in FAST:
        assert name in out
    assert main(["models", "isolation-forest"]) == 0
    assert "max_features" in capsys.readouterr().out


def test_hepsift_models_shows_the_autoencoder_hyperparameters(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("torch")  # the autoencoder is a torch family (extra 'torch')
    from hepsift.cli import main

    monkeypatch.setenv("COLUMNS", "200")
    assert main(["models", "autoencoder"]) == 0
    assert "validation_fraction" in capsys.readouterr().out


@pytest.mark.parametrize("name", sorted(FAST))
def test_outliers_score_higher_and_round_trip(name: str, tmp_path: Path) -> None:
    X, y = _events()
    model = models.create(name, **FAST[name]).fit(X, sample_weight=np.full(len(X), 0.5))
    score = model.anomaly_score(X)
    assert score.shape == (len(X),) and np.all(np.isfinite(score))
    assert auc(y, score) > 0.8, name
    loaded = models.load(model.save(tmp_path / name))
    assert type(loaded) is type(model)
    np.testing.assert_allclose(loaded.anomaly_score(X), score, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name", sorted(FAST))
def test_onnx_gives_the_same_score(name: str, tmp_path: Path) -> None:
    import onnxruntime as ort

    X, _ = _events(1, n=300)
    model = models.create(name, **FAST[name]).fit(X)
    path = model.to_onnx(tmp_path / f"{name}.onnx")
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (out,) = sess.run(["anomaly_score"], {"X": X.astype(np.float32)})
    ref = model.anomaly_score(X.astype(np.float32))
    assert out.shape == (len(X),)
    np.testing.assert_allclose(out, ref, rtol=2e-4, atol=2e-4 * float(np.abs(ref).max()))


def test_weights_matter_for_the_mixture() -> None:
    X, _ = _events(2)
    w = np.where(X[:, 0] > 0, 10.0, 0.1)
    a = models.create("gmm", n_components=2).fit(X).anomaly_score(X)
    b = models.create("gmm", n_components=2).fit(X, sample_weight=w).anomaly_score(X)
    # the heavily weighted half becomes the dense (low-score) one
    right = X[:, 0] > 0
    assert (b[right].mean() - b[~right].mean()) < (a[right].mean() - a[~right].mean())
