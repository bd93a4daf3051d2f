"""A run chooses the best cut on the validation split, quotes Z on the test split and scales
each sample's test yield to its full expected yield (metrics.json)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.typing import NDArray

from hepsift import metrics, models
from hepsift.dataset import Dataset
from hepsift.run import PreparedData, run


@pytest.mark.slow
def test_run_metrics_quote_validation_cut_and_test_z(tmp_path, rng) -> None:
    n = 4000
    sample = rng.integers(0, 3, n)  # ggH (signal), yy, jj
    X = np.column_stack([rng.normal(1.5 * (sample == 0), 1.0), rng.normal(0, 1, n)])
    ds = Dataset(
        X=X.astype(np.float32),
        y=np.zeros(n, dtype=np.int64),
        weight=np.choose(sample, [0.05, 2.0, 0.5]) * rng.uniform(0.5, 1.5, n),
        feature_names=("a", "b"),
        class_names=("all",),
        event_number=np.arange(n),
        sample=sample,
        sample_names=("ggH", "yy", "jj"),
    )
    cfg = {
        "name": "honest",
        "seed": 1,
        "data": {"inline": {"feature_names": ["a", "b"], "X": [[0, 0]], "y": [0]}},
        "features": ["a", "b"],
        "scaling": "none",  # the reloaded model takes the features as they are
        "split": {"fractions": [0.5, 0.25, 0.25], "by": "event_number"},
        "task": {"type": "binary", "classes": {"background": ["yy", "jj"], "signal": ["ggH"]}},
        "models": [{"name": "logistic", "family": "logistic"}],
        "evaluation": {"bootstrap": 0, "importance": False},
        "output": {"formats": ["png"]},
    }
    result = run(cfg, out=tmp_path, prepared=PreparedData(dataset=ds, source="test"))
    doc = result.metrics
    best = doc["models"]["logistic"]["best_cut"]
    assert best["chosen_on"] == "validation"
    # per-sample factors: full yield over test yield of each sample (buckets 75-99 are test)
    test_mask = np.arange(n) % 100 >= 75
    valid_mask = (np.arange(n) % 100 >= 50) & ~test_mask
    for k, name in enumerate(ds.sample_names):
        full = ds.weight[sample == k].sum()
        assert doc["yield_scale"][name] == pytest.approx(
            full / ds.weight[(sample == k) & test_mask].sum(), rel=1e-12
        )
    # recompute cut and Z from the reloaded model
    model = models.load(result.path / "models" / "logistic")

    def weights(mask: NDArray[np.bool_]) -> NDArray[np.float64]:
        f = np.zeros(n)
        for k in range(3):
            sel = (sample == k) & mask
            f[sel] = ds.weight[sample == k].sum() / ds.weight[sel].sum()
        return (ds.weight * f)[mask]

    y = (sample == 0).astype(int)
    score_v = model.predict_proba(X[valid_mask])[:, 1]
    scan = metrics.significance_scan(y[valid_mask], score_v, sample_weight=weights(valid_mask))
    assert best["cut"] == pytest.approx(scan.best_cut, rel=1e-6)
    assert best["z_validation"] == pytest.approx(scan.best_z, rel=1e-6)
    score_t = model.predict_proba(X[test_mask])[:, 1]
    keep = score_t >= best["cut"]
    w_t = weights(test_mask)
    s, b = w_t[keep & (y[test_mask] == 1)].sum(), w_t[keep & (y[test_mask] == 0)].sum()
    np.testing.assert_allclose(score_t, result.evaluations[0].proba_test[:, 1], rtol=1e-6)
    assert best["z"] == pytest.approx(math.sqrt(2 * ((s + b) * math.log1p(s / b) - s)), rel=1e-6)
