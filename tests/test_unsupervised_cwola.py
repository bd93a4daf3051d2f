"""Injection, CWoLa and the bump hunt on a toy resonance with known truth."""

from __future__ import annotations

import numpy as np
import pytest

from hepsift.errors import ConfigError, DataError
from hepsift.unsupervised.cwola import (
    bump_hunt,
    cwola_scores,
    decorrelated_features,
    region_masks,
    scan_cuts,
)
from hepsift.unsupervised.injection import inject, score_report
from hepsift.unsupervised.study import anomaly_study

SR = (120.0, 130.0)
SB = ((105.0, 120.0), (130.0, 160.0))


def _toy(seed: int, n_b: int = 6000, n_s: int = 600) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Falling m_gg continuum and a 2-GeV-wide peak at 125; two of three features separate;
    one extra feature is m_gg itself in disguise (it must be dropped)."""
    rng = np.random.default_rng(seed)
    mb = 105.0 + rng.exponential(30.0, size=4 * n_b)
    mb = mb[mb < 160.0][:n_b]
    ms = rng.normal(125.0, 2.0, size=n_s)
    fb = rng.normal(size=(n_b, 3))
    fs = rng.normal(size=(n_s, 3)) + np.array([1.5, -1.5, 0.0])
    X = np.vstack([np.column_stack([mb, fb, mb / 10]), np.column_stack([ms, fs, ms / 10])])
    y = np.concatenate([np.zeros(n_b, int), np.ones(n_s, int)])
    return X, y, ["m_gg", "a", "b", "c", "m_over_10"]


def test_inject_hides_the_requested_fraction() -> None:
    X, y, _ = _toy(0)
    s = inject((X[y == 0, 1:], X[y == 0, 0]), (X[y == 1, 1:], X[y == 1, 0]), fraction=0.02)
    assert s.n_signal == round(0.02 * 6000) and s.n_background == 6000
    assert len(s.spare_X) == 600 - s.n_signal
    assert 0 < s.is_signal[: len(s.is_signal) // 2].sum() < s.n_signal  # shuffled
    with pytest.raises(DataError, match="only 600"):
        inject((X[:, 1:], X[:, 0]), (X[:600, 1:], X[:600, 0]), fraction=0.5)


def test_score_report_on_a_perfect_and_a_random_score() -> None:
    rng = np.random.default_rng(1)
    truth = np.r_[np.zeros(5000, bool), np.ones(100, bool)]
    perfect = score_report(truth.astype(float) + 0.01 * rng.random(5100), truth)
    assert perfect["auc"] == pytest.approx(1.0)
    assert perfect["signal_efficiency_at_background_1pc"] == pytest.approx(1.0)
    # SIC capped by the 10-background-event floor: 1 / sqrt(10 / 5000)
    assert perfect["max_sic"] == pytest.approx(1 / np.sqrt(10 / 5000), rel=1e-6)
    flat = score_report(rng.random(5100), truth)
    assert 0.4 < flat["auc"] < 0.6 and flat["max_sic"] < 3.0


def test_bump_hunt_finds_the_peak_and_not_a_fake_one() -> None:
    X, y, _ = _toy(2)
    background_only = bump_hunt(X[y == 0, 0], sr=SR, sidebands=SB)
    assert abs(background_only["z_local"]) < 3
    # the fitted exponential predicts the SR count of the continuum within its uncertainty
    true_b = float(((X[y == 0, 0] >= 120) & (X[y == 0, 0] < 130)).sum())
    assert abs(background_only["expected_background"] - true_b) < 3 * np.sqrt(true_b)
    with_signal = bump_hunt(X[:, 0], sr=SR, sidebands=SB)
    assert with_signal["z_local"] > 8
    assert with_signal["z_local_with_fit_uncertainty"] <= with_signal["z_local"]
    with pytest.raises(ConfigError, match="overlap"):
        region_masks(X[:, 0], SR, ((110.0, 125.0),))


def test_cwola_learns_the_signal_and_raises_the_significance() -> None:
    X, y, names = _toy(3)
    s = inject((X[y == 0, 1:], X[y == 0, 0]), (X[y == 1, 1:], X[y == 1, 0]), fraction=0.05)
    keep, corr = decorrelated_features(s.X, s.mass, names[1:], SB)
    assert [names[1 + i] for i in keep] == ["a", "b", "c"] and corr["m_over_10"] > 0.9
    score = cwola_scores(s.X[:, keep], s.mass, sr=SR, sidebands=SB, family="logistic", folds=3)
    in_sr, _ = region_masks(s.mass, SR, SB)
    assert score_report(score[in_sr], s.is_signal[in_sr])["auc"] > 0.85
    hunts = scan_cuts(score, s.mass, sr=SR, sidebands=SB, truth=s.is_signal)
    assert hunts[0]["keep_fraction"] == 1.0
    assert max(h["z_local"] for h in hunts[1:]) > hunts[0]["z_local"] + 1.0


@pytest.mark.slow
def test_anomaly_study_reports_every_method() -> None:
    X, y, names = _toy(4, n_b=3000, n_s=300)
    res = anomaly_study(
        X,
        y,
        names,
        injection=0.05,
        max_correlation=0.2,
        folds=3,
        cwola={"family": "logistic"},
        detectors={"gmm": {"n_components": 2}},
        supervised={"family": "logistic"},
        keep_fractions=(1.0, 0.2),
    )
    assert res["features"] == ["a", "b", "c"]
    assert set(res["methods"]) == {"cwola", "gmm", "supervised"}
    for r in res["methods"].values():
        assert {"max_sic", "signal_efficiency_at_background_1pc", "z_no_cut", "z_best_cut"} <= set(
            r
        )
    sup = res["methods"]["supervised"]
    assert sup["auc"] >= res["methods"]["gmm"]["auc"] - 0.05
    with pytest.raises(ConfigError, match="m_gg"):
        anomaly_study(X, y, ["mgg", "a", "b", "c", "d"])
