"""The ``unsupervised:`` section: config checks, the run hook, the report section."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hepsift.config import load_config
from hepsift.dataset import Dataset
from hepsift.errors import ConfigError
from hepsift.unsupervised.reduction import load_transformer
from hepsift.unsupervised.run import run_unsupervised


def _toy(seed: int, n_b: int = 2000, n_s: int = 300) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    mb = 105.0 + rng.exponential(30.0, size=4 * n_b)
    mb = mb[mb < 160.0][:n_b]
    ms = rng.normal(125.0, 2.0, size=n_s)
    fb = rng.normal(size=(n_b, 2))
    fs = rng.normal(size=(n_s, 2)) + 2.0
    X = np.vstack([np.column_stack([mb, fb]), np.column_stack([ms, fs])])
    return X, np.r_[np.zeros(n_b, int), np.ones(n_s, int)]


def test_shipped_unsupervised_configs_load() -> None:
    hgg = load_config("anomaly-hgg")
    assert hgg.unsupervised is not None and hgg.unsupervised.kind == "anomaly"
    assert hgg.unsupervised.injection == 0.01 and "m_gg" in hgg.features
    assert set(hgg.unsupervised.detectors) == {"isolation-forest", "autoencoder", "gmm"}
    explore = load_config("explore-photon-id")
    assert explore.unsupervised is not None and explore.unsupervised.kind == "explore"
    with pytest.raises(ConfigError, match="injection"):
        load_config("anomaly-hgg", overrides=["unsupervised.injection=2.0"])
    with pytest.raises(ConfigError, match="kind"):
        load_config("anomaly-hgg", overrides=["unsupervised.kind=anomalie"])


def test_explore_writes_transformers_and_purity(tmp_path: Path) -> None:
    X, y = _toy(1, n_b=600, n_s=200)
    ds = Dataset(X=X, y=y, weight=np.ones(len(y)), feature_names=("m", "a", "b"))
    section = {"kind": "explore", "components": 2, "clustering": ["kmeans"], "max_events": 400}
    res = run_unsupervised(section, ds, seed=3, out=tmp_path)
    assert res["files"] == ["pca.npz", "lda.npz"]
    pca = load_transformer(tmp_path / "pca.npz")
    np.testing.assert_allclose(
        pca.explained_variance_ratio_, res["pca"]["explained_variance_ratio"]
    )
    assert len(res["lda"]["explained_variance_ratio"]) == 1
    km = res["clustering"]["kmeans"]
    assert km["info"]["criterion"] == "silhouette" and 0.0 <= km["purity"]["ari"] <= 1.0
    json.dumps(res)  # JSON-able for metrics.json


@pytest.mark.slow
def test_anomaly_section_runs_and_reports(tmp_path: Path) -> None:
    from hepsift.run import run

    X, y = _toy(2)
    cfg: dict[str, Any] = {
        "name": "toy-anomaly",
        "seed": 1,
        "data": {"inline": {"feature_names": ["m_gg", "a", "b"], "X": X.tolist(), "y": y.tolist()}},
        "models": [{"name": "logistic", "family": "logistic"}],
        "evaluation": {"bootstrap": 0, "importance": False},
        "output": {"formats": ["png"], "onnx": False},
        "unsupervised": {
            "kind": "anomaly",
            "injection": 0.1,
            "folds": 3,
            "max_correlation": 0.2,
            "cwola": {"family": "logistic"},
            "supervised": {"family": "logistic"},
            "detectors": {"gmm": {"n_components": 2}},
            "keep_fractions": [1.0, 0.2],
        },
    }
    result = run(cfg, out=tmp_path / "runs")
    doc = json.loads((result.path / "metrics.json").read_text())
    unsup = doc["unsupervised"]
    assert unsup["kind"] == "anomaly" and unsup["n_signal"] == 200
    assert set(unsup["methods"]) == {"cwola", "gmm", "supervised"}
    assert unsup["methods"]["cwola"]["z_best_cut"] > unsup["methods"]["cwola"]["z_no_cut"]
    html = result.report.read_text()
    assert "Anomaly detection on injected signal" in html and "max SIC" in html
    assert (result.path / "plots" / "unsupervised_sic.png").is_file()
    assert (result.path / "plots" / "unsupervised_bump_cwola_best.png").is_file()
