"""Significance without bias: the cut is chosen on the validation split and its Z quoted on the
test split; test yields are scaled per sample to the full expected yields."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hepsift import metrics
from hepsift.dataset import Dataset
from hepsift.evaluate import evaluate_model, expected_yield_scale, metrics_document


def _events(rng: np.random.Generator, n: int, *, samples: bool = True) -> Dataset:
    sample = rng.integers(0, 3, n)  # 0: signal, 1: ttbar, 2: diboson
    y = (sample == 0).astype(np.int64)
    X = rng.normal(1.5 * y, 1.0)[:, None]
    weight = np.choose(sample, [0.01, 0.8, 0.3]) * rng.uniform(0.5, 1.5, n)
    return Dataset(
        X=X,
        y=y,
        weight=weight,
        feature_names=("x",),
        event_number=np.arange(n),
        sample=sample if samples else None,
        sample_names=("signal", "ttbar", "diboson") if samples else (),
    )


def _proba(X: np.ndarray) -> np.ndarray:
    p = 1.0 / (1.0 + np.exp(-2.0 * X[:, 0]))
    return np.column_stack([1.0 - p, p])


def test_expected_yield_scale_per_sample_by_hand() -> None:
    full = Dataset(
        X=np.zeros((7, 1), dtype=np.float32),
        y=np.array([1, 1, 1, 0, 0, 0, 0]),
        weight=np.array([1.0, 2.0, 3.0, 4.0, 5.0, -1.0, 2.0]),
        feature_names=("x",),
        sample=np.array([0, 0, 0, 1, 1, 2, 2]),
        sample_names=("sig", "bkg", "neg"),
    )
    part = full.subset([0, 3, 5])
    factors, per_sample = expected_yield_scale(part, full)
    # sig: 6 / 1; bkg: 9 / 4; neg: part total -1 <= 0 -> event-count ratio 2 / 1
    assert per_sample == {"sig": 6.0, "bkg": 2.25, "neg": 2.0}
    np.testing.assert_array_equal(factors, [6.0, 2.25, 2.0])
    # each sample's scaled yield in the part equals its full yield (where positive)
    scaled = part.weight * factors
    assert scaled[0] == 6.0 and scaled[1] == 9.0
    # a sample absent from the part is not listed
    _, only = expected_yield_scale(full.subset([0, 1]), full)
    assert only == {"sig": 2.0}
    # fallback without sample ids: one global factor 16 / 4
    bare = Dataset(X=full.X, y=full.y, weight=full.weight, feature_names=("x",))
    f_bare, per_bare = expected_yield_scale(bare.subset([0, 3, 6]), bare)
    assert per_bare == {"all": 16.0 / 7.0}
    np.testing.assert_allclose(f_bare, 16.0 / 7.0)


def test_per_sample_scale_differs_from_one_global_factor(rng: np.random.Generator) -> None:
    full = _events(rng, 3000)
    _, _, test = full.split((0.6, 0.2, 0.2), by="event_number")
    factors, per_sample = expected_yield_scale(test, full)
    for k, name in enumerate(full.sample_names):
        assert full.sample is not None and test.sample is not None
        in_test = test.sample == k
        assert np.sum(test.weight[in_test] * factors[in_test]) == pytest.approx(
            np.sum(full.weight[full.sample == k]), rel=1e-12
        )
        assert per_sample[name] == pytest.approx(
            full.weight[full.sample == k].sum() / test.weight[in_test].sum()
        )
    assert len(set(np.round(list(per_sample.values()), 9))) == 3  # one global factor is wrong


def test_cut_chosen_on_validation_and_z_quoted_on_test(rng: np.random.Generator) -> None:
    full = _events(rng, 6000)
    train, valid, test = full.split((0.5, 0.25, 0.25), by="event_number")
    f_test, _ = expected_yield_scale(test, full)
    f_valid, _ = expected_yield_scale(valid, full)
    ev = evaluate_model(
        "m",
        _proba,
        train,
        test,
        bootstrap=0,
        importance=False,
        yield_scale=f_test,
        validation=valid,
        validation_yield_scale=f_valid,
        b_reg=3.0,
    )
    best = ev.best_cut
    assert best is not None and best["chosen_on"] == "validation"
    # the cut: the best of the validation scan (>= 10 raw background events, AMS b_reg = 3)
    v_score = _proba(valid.X)[:, 1]
    w_v = valid.weight * f_valid
    ref_scan = metrics.significance_scan(valid.y, v_score, sample_weight=w_v, b_reg=3.0)
    assert best["cut"] == ref_scan.best_cut and best["z_validation"] == ref_scan.best_z
    # Z on the test split at that cut, by hand
    t_score = _proba(test.X)[:, 1]
    w_t = test.weight * f_test
    keep = t_score >= best["cut"]
    s = float(w_t[keep & (test.y == 1)].sum())
    b = float(w_t[keep & (test.y == 0)].sum())
    z = math.sqrt(2.0 * ((s + b + 3.0) * math.log(1.0 + s / (b + 3.0)) - s))
    assert best["s"] == pytest.approx(s, rel=1e-12) and best["b"] == pytest.approx(b, rel=1e-12)
    assert best["z"] == pytest.approx(z, rel=1e-12)
    assert best["background_events"] == int(np.sum(keep & (test.y == 0)))
    # the test-optimised Z of the same model is biased upward with respect to the honest one
    biased = metrics.significance_scan(test.y, t_score, sample_weight=w_t, b_reg=3.0)
    assert biased.best_z >= best["z"]
    doc = metrics_document([ev], test=test, yield_scale=f_test)
    assert doc["models"]["m"]["best_cut"]["z_validation"] == pytest.approx(best["z_validation"])
    assert doc["yield_scale"] is None
    assert doc["yields_test"]["signal"]["yield"] == pytest.approx(
        full.weight[full.y == 1].sum(), rel=1e-12
    )


def test_without_validation_the_cut_is_chosen_on_test(rng: np.random.Generator) -> None:
    full = _events(rng, 2000, samples=False)
    train, test = full.split((0.5, 0.5), by="event_number")
    ev = evaluate_model("m", _proba, train, test, bootstrap=0, importance=False, yield_scale=2.0)
    assert ev.best_cut is not None and ev.best_cut["chosen_on"] == "test"
    ref = metrics.significance_scan(test.y, _proba(test.X)[:, 1], sample_weight=2.0 * test.weight)
    assert ev.best_cut["cut"] == ref.best_cut
    assert ev.best_cut["z"] == pytest.approx(ref.best_z, rel=1e-12)
    assert "z_validation" not in ev.best_cut
