"""hepsift.metrics against scikit-learn, slow reference implementations and known values."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pytest
from scipy.optimize import minimize_scalar
from scipy.special import gammaln
from sklearn import metrics as skm

from hepsift import metrics
from hepsift.errors import ConfigError, DataError
from hepsift.metrics import (
    UndefinedMetricWarning,
    asimov_significance,
    auc,
    binary_scores,
    confusion_matrix,
    roc_curve,
    s_over_sqrt_b,
    significance_scan,
)


def test_public_api_is_locked() -> None:
    assert sorted(metrics.__all__) == [
        "AucScorer",
        "BinaryScores",
        "OvrAucScorer",
        "Roc",
        "SignificanceScan",
        "UndefinedMetricWarning",
        "asimov_significance",
        "auc",
        "auc_batch",
        "auc_ovr",
        "auc_ovr_batch",
        "binary_scores",
        "confusion_matrix",
        "roc_curve",
        "s_over_sqrt_b",
        "sigma68",
        "significance_scan",
    ]
    for name in metrics.__all__:
        assert hasattr(metrics, name)


def _tied_scores(rng: np.random.Generator, y: np.ndarray) -> np.ndarray:
    """Scores rounded to one decimal: many ties, within and across classes."""
    return np.round(rng.normal(0.7 * y, 1.0), 1)


# -- slow references -------------------------------------------------------------------------
def _pairwise_auc(y: np.ndarray, s: np.ndarray, w: np.ndarray) -> float:
    """O(n^2) weighted AUC: P(s_sig > s_bkg) + 1/2 P(s_sig == s_bkg)."""
    sig, bkg = y == 1, y != 1
    ss, sb = s[sig][:, None], s[bkg][None, :]
    pair_w = w[sig][:, None] * w[bkg][None, :]
    wins = (ss > sb) + 0.5 * (ss == sb)
    return float((pair_w * wins).sum() / pair_w.sum())


def _slow_roc(y: np.ndarray, s: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, ...]:
    thresholds = np.concatenate([[np.inf], np.sort(np.unique(s))[::-1]])
    tpr, fpr = [], []
    for t in thresholds:
        keep = s >= t
        tpr.append(w[keep & (y == 1)].sum() / w[y == 1].sum())
        fpr.append(w[keep & (y != 1)].sum() / w[y != 1].sum())
    return np.array(tpr), np.array(fpr), thresholds


def _slow_binary(yt: np.ndarray, yp: np.ndarray, w: np.ndarray) -> dict[str, float]:
    tp = fp = tn = fn = 0.0
    for a, b, wi in zip(yt, yp, w, strict=True):
        if a == 1 and b == 1:
            tp += wi
        elif a != 1 and b == 1:
            fp += wi
        elif a != 1 and b != 1:
            tn += wi
        else:
            fn += wi
    return {
        "accuracy": (tp + tn) / (tp + tn + fp + fn),
        "precision": tp / (tp + fp),
        "recall": tp / (tp + fn),
        "f1": 2 * tp / (2 * tp + fp + fn),
        "specificity": tn / (tn + fp),
    }


# -- confusion matrix and scores -------------------------------------------------------------
@pytest.mark.parametrize("n_classes", [2, 4])
def test_confusion_matrix_matches_sklearn(rng: np.random.Generator, n_classes: int) -> None:
    yt = rng.integers(0, n_classes, 500)
    yp = np.where(rng.random(500) < 0.6, yt, rng.integers(0, n_classes, 500))
    w = rng.uniform(0.1, 3.0, 500)
    ours = confusion_matrix(yt, yp)
    assert ours.dtype == np.int64
    np.testing.assert_array_equal(ours, skm.confusion_matrix(yt, yp))
    np.testing.assert_allclose(
        confusion_matrix(yt, yp, sample_weight=w),
        skm.confusion_matrix(yt, yp, sample_weight=w),
        rtol=1e-12,
    )
    labels = list(range(n_classes))[::-1]  # reordered
    np.testing.assert_allclose(
        confusion_matrix(yt, yp, sample_weight=w, labels=labels),
        skm.confusion_matrix(yt, yp, sample_weight=w, labels=labels),
        rtol=1e-12,
    )
    if n_classes > 2:  # a label outside the declared ones is an error, not silently dropped
        with pytest.raises(DataError, match="not among the declared labels"):
            confusion_matrix(yt, yp, labels=labels[:-1])


def test_labels_must_be_class_labels() -> None:
    """Issue 12: auc took y_true 0.5 as background; a NaN label vanished from the confusion
    matrix. Labels are whole numbers (or names), finite."""
    score = [0.1, 0.4, 0.35, 0.8]
    with pytest.raises(DataError, match="non-integer labels"):
        auc([0, 0.5, 1, 1], score)
    with pytest.raises(DataError, match="NaN/inf labels"):
        auc([0, np.nan, 1, 1], score)
    with pytest.raises(DataError, match="NaN/inf labels"):
        confusion_matrix([0, np.nan, 1, 1], [0, 1, 1, 1])
    with pytest.raises(DataError, match="NaN/inf labels"):
        confusion_matrix([0, 1, 1, 1], [0, np.nan, 1, 1], labels=[0, 1])
    with pytest.raises(DataError, match="non-integer labels"):
        roc_curve([0, 0.5, 1, 1], score)
    with pytest.raises(DataError, match="non-integer labels"):
        binary_scores([0, 0.5, 1, 1], [0, 1, 1, 1])
    with pytest.raises(DataError, match="non-integer labels"):
        significance_scan([0, 0.5, 1, 1], score)
    with pytest.raises(DataError, match="outside the 2 classes"):
        metrics.auc_ovr([0, 2, 1, 1], np.full((4, 2), 0.5))
    # whole numbers stored as floats are still labels
    assert auc(np.array([0.0, 0.0, 1.0, 1.0]), score) == auc([0, 0, 1, 1], score)


def test_confusion_matrix_string_labels_and_negative_weights(rng: np.random.Generator) -> None:
    names = np.array(["gamma", "jet", "pi0"])
    yt, yp = names[rng.integers(0, 3, 300)], names[rng.integers(0, 3, 300)]
    w = rng.normal(1.0, 1.5, 300)  # many negative MC weights
    cm = confusion_matrix(yt, yp, sample_weight=w, labels=["jet", "gamma", "pi0"])
    order = ["jet", "gamma", "pi0"]
    for i, a in enumerate(order):
        for j, b in enumerate(order):
            assert cm[i, j] == pytest.approx(w[(yt == a) & (yp == b)].sum(), abs=1e-12)


def test_confusion_matrix_errors() -> None:
    with pytest.raises(DataError, match="same events"):
        confusion_matrix([0, 1], [0, 1, 1])
    with pytest.raises(ConfigError, match="repeat"):
        confusion_matrix([0, 1], [0, 1], labels=[0, 0])
    with pytest.raises(DataError, match="sample_weight"):
        confusion_matrix([0, 1], [0, 1], sample_weight=[1.0])


def test_binary_scores_match_sklearn(rng: np.random.Generator) -> None:
    yt = rng.integers(0, 2, 400)
    yp = np.where(rng.random(400) < 0.7, yt, 1 - yt)
    w = rng.uniform(0.0, 2.0, 400)
    sc = binary_scores(yt, yp, sample_weight=w)
    p, r, f, _ = skm.precision_recall_fscore_support(yt, yp, sample_weight=w, average="binary")
    assert sc.precision == pytest.approx(p, rel=1e-12)
    assert sc.recall == pytest.approx(r, rel=1e-12)
    assert sc.f1 == pytest.approx(f, rel=1e-12)
    assert sc.accuracy == pytest.approx(skm.accuracy_score(yt, yp, sample_weight=w), rel=1e-12)
    spec = skm.recall_score(yt, yp, pos_label=0, sample_weight=w)
    assert sc.specificity == pytest.approx(spec, rel=1e-12)
    assert sc.as_dict()["f1"] == sc.f1


def test_binary_scores_negative_weights_match_slow_reference(rng: np.random.Generator) -> None:
    yt = rng.integers(0, 2, 300)
    yp = np.where(rng.random(300) < 0.7, yt, 1 - yt)
    w = rng.normal(1.0, 0.8, 300)
    assert (w < 0).sum() > 10
    sc = binary_scores(yt, yp, sample_weight=w).as_dict()
    for key, value in _slow_binary(yt, yp, w).items():
        assert sc[key] == pytest.approx(value, rel=1e-10), key


def test_photon_worked_example() -> None:
    """The seed's example: TP=3, TN=0, FP=3, FN=0."""
    y_true = [1, 1, 1, 0, 0, 0]
    y_pred = [1, 1, 1, 1, 1, 1]
    np.testing.assert_array_equal(confusion_matrix(y_true, y_pred), [[0, 3], [0, 3]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every denominator is non-zero: no warning allowed
        sc = binary_scores(y_true, y_pred)
    assert (sc.tp, sc.tn, sc.fp, sc.fn) == (3, 0, 3, 0)
    assert sc.accuracy == 0.5
    assert sc.precision == 0.5
    assert sc.recall == 1.0
    assert sc.f1 == pytest.approx(2 / 3)
    assert round(100 * sc.f1) == 67
    assert sc.specificity == 0.0


def test_undefined_scores_are_nan_with_warning() -> None:
    with pytest.warns(UndefinedMetricWarning, match="precision"):
        sc = binary_scores([1, 0, 1], [0, 0, 0])  # nothing predicted positive
    assert math.isnan(sc.precision)
    assert sc.recall == 0.0
    with pytest.warns(UndefinedMetricWarning, match="recall"):
        sc = binary_scores([0, 0], [0, 1])  # no true positives
    assert math.isnan(sc.recall)
    assert sc.specificity == 0.5


def test_binary_scores_pos_label() -> None:
    sc = binary_scores(["s", "b", "s", "b"], ["s", "s", "b", "b"], pos_label="s")
    assert (sc.tp, sc.fp, sc.tn, sc.fn) == (1, 1, 1, 1)


# -- ROC and AUC -----------------------------------------------------------------------------
def test_roc_matches_sklearn_with_ties_and_weights(rng: np.random.Generator) -> None:
    y = rng.integers(0, 2, 3000)
    s = _tied_scores(rng, y)
    w = rng.uniform(0.05, 2.0, 3000)
    roc = roc_curve(y, s, sample_weight=w)
    fpr, tpr, thr = skm.roc_curve(y, s, sample_weight=w, drop_intermediate=False)
    np.testing.assert_allclose(roc.background_efficiency, fpr, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(roc.signal_efficiency, tpr, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(roc.thresholds, thr)
    assert roc.thresholds.size == np.unique(s).size + 1  # one point per distinct score
    assert roc.auc == pytest.approx(skm.roc_auc_score(y, s, sample_weight=w), rel=1e-12)
    roc_u = roc_curve(y, s)
    assert roc_u.auc == pytest.approx(skm.roc_auc_score(y, s), rel=1e-12)


@pytest.mark.parametrize("negative", [False, True])
def test_auc_matches_pairwise_reference(rng: np.random.Generator, negative: bool) -> None:
    y = rng.integers(0, 2, 700)
    s = _tied_scores(rng, y)
    w = rng.normal(1.0, 0.7, 700) if negative else rng.uniform(0.1, 3.0, 700)
    assert auc(y, s, sample_weight=w) == pytest.approx(_pairwise_auc(y, s, w), rel=1e-10)


def test_auc_batch_rows_match_sklearn_and_pairwise(rng: np.random.Generator) -> None:
    y = rng.integers(0, 2, 300)
    s = _tied_scores(rng, y)
    W = rng.uniform(0.0, 2.0, size=(4, 300))
    W[3] = rng.normal(1.0, 0.8, 300)  # a row with negative weights
    rows = metrics.auc_batch(y, s, W)
    for b in range(3):
        assert rows[b] == pytest.approx(skm.roc_auc_score(y, s, sample_weight=W[b]), rel=1e-12)
    assert rows[3] == pytest.approx(_pairwise_auc(y, s, W[3]), rel=1e-10)
    assert rows[0] == pytest.approx(auc(y, s, sample_weight=W[0]), rel=1e-14)
    # a row without signal weight is undefined: nan, not an error (bootstrap replicas)
    empty = np.where(y == 1, 0.0, 1.0)
    assert np.isnan(metrics.auc_batch(y, s, empty[None, :])[0])
    with pytest.raises(DataError, match="positive total weight"):
        auc(y, s, sample_weight=empty)


def test_auc_ovr_matches_sklearn(rng: np.random.Generator) -> None:
    n, k = 900, 3
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k)) + 1.5 * np.eye(k)[y]
    proba = np.round(np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True), 2)  # ties
    w = rng.uniform(0.2, 2.0, n)
    per_ref = [skm.roc_auc_score(y == c, proba[:, c], sample_weight=w) for c in range(k)]
    assert metrics.auc_ovr(y, proba, sample_weight=w) == pytest.approx(np.mean(per_ref), rel=1e-12)
    macro, per = metrics.auc_ovr_batch(y, proba, np.vstack([w, np.ones(n)]))
    for c in range(k):
        assert per[c][0] == pytest.approx(per_ref[c], rel=1e-12)
    unit_ref = [skm.roc_auc_score(y == c, proba[:, c]) for c in range(k)]
    assert macro[1] == pytest.approx(np.mean(unit_ref), rel=1e-12)
    exact = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert metrics.auc_ovr(y, exact) == pytest.approx(
        skm.roc_auc_score(y, exact, multi_class="ovr"), rel=1e-12
    )
    # binary: the AUC of column 1; a class never seen is skipped in the mean
    yb = (y == 2).astype(int)
    pb = np.column_stack([1 - proba[:, 2], proba[:, 2]])
    assert metrics.auc_ovr(yb, pb, sample_weight=w) == pytest.approx(per_ref[2], rel=1e-12)
    y01 = np.minimum(y, 1)
    assert metrics.auc_ovr(y01, proba) == pytest.approx(
        np.mean([skm.roc_auc_score(y01 == c, proba[:, c]) for c in (0, 1)]), rel=1e-12
    )


def test_roc_negative_weights_match_slow_reference(rng: np.random.Generator) -> None:
    y = rng.integers(0, 2, 400)
    s = _tied_scores(rng, y)
    w = rng.normal(1.0, 1.0, 400)
    roc = roc_curve(y, s, sample_weight=w)
    tpr, fpr, thr = _slow_roc(y, s, w)
    np.testing.assert_allclose(roc.signal_efficiency, tpr, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(roc.background_efficiency, fpr, rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(roc.thresholds, thr)


def test_roc_pos_label_and_multiclass_one_vs_rest(rng: np.random.Generator) -> None:
    y = rng.integers(0, 3, 500)
    s = rng.normal(y == 2, 1.0)
    ours = roc_curve(y, s, pos_label=2)
    ref = skm.roc_auc_score(y == 2, s)
    assert ours.auc == pytest.approx(ref, rel=1e-12)
    names = np.where(y == 2, "signal", "background")
    assert auc(names, s, pos_label="signal") == pytest.approx(ref, rel=1e-12)


def test_background_rejection_and_working_points(rng: np.random.Generator) -> None:
    y = rng.integers(0, 2, 2000)
    s = rng.normal(1.2 * y, 1.0)
    roc = roc_curve(y, s)
    tpr, fpr = roc.signal_efficiency, roc.background_efficiency
    rej = roc.background_rejection
    assert np.isinf(rej[0])
    np.testing.assert_allclose(rej[fpr > 0], 1 / fpr[fpr > 0])
    # at existing ROC points (first point reaching that TPR) the rejection is exact
    i = np.searchsorted(tpr, 0.5)
    assert roc.background_rejection_at(tpr[i]) == pytest.approx(1 / fpr[i])
    # in between: linear interpolation of FPR in TPR
    mid = 0.5 * (tpr[i] + tpr[i + 1])
    if tpr[i + 1] > tpr[i]:
        expect = 1 / (0.5 * (fpr[i] + fpr[i + 1]))
        assert roc.background_rejection_at(mid) == pytest.approx(expect)
    effs = np.array([0.3, 0.5, 0.7, 0.9])
    arr = roc.background_rejection_at(effs)
    assert arr.shape == (4,)
    assert np.all(np.diff(arr) < 0)  # tighter signal efficiency, more rejection
    # threshold_at: cutting there keeps at least the efficiency; the next tighter cut keeps less
    for eff in effs:
        cut = roc.threshold_at(eff)
        assert (s[y == 1] >= cut).mean() >= eff
        tighter = roc.thresholds[roc.thresholds > cut].min()
        assert (s[y == 1] >= tighter).mean() < eff
    assert np.isinf(roc.background_rejection_at(0.0))
    with pytest.raises(ConfigError, match="signal_efficiency"):
        roc.background_rejection_at(1.2)


def test_roc_errors() -> None:
    with pytest.raises(DataError, match="signal"):
        roc_curve([0, 0, 0], [0.1, 0.2, 0.3])
    with pytest.raises(DataError, match="background"):
        roc_curve([1, 1], [0.1, 0.2])
    with pytest.raises(DataError, match="NaN"):
        roc_curve([0, 1], [0.1, np.nan])
    with pytest.raises(DataError, match="same events"):
        roc_curve([0, 1, 1], [0.1, 0.2])
    with pytest.raises(DataError, match="empty"):
        roc_curve([], [])


# -- significance ----------------------------------------------------------------------------
def _poisson_q0(s: float, b: float) -> float:
    """Asimov q0 = 2 ln L(s+b)/L(b) for n = s + b, from the Poisson log-likelihood."""
    n = s + b

    def logl(mu: float) -> float:
        return float(n * math.log(mu) - mu - gammaln(n + 1))

    return 2.0 * (logl(s + b) - logl(b))


def _profiled_q0(s: float, b: float, sigma: float) -> float:
    """Asimov q0 with a Poisson auxiliary measurement m ~ Pois(tau b), tau = b / sigma^2,
    profiling the background numerically (the construction behind Cowan's formula)."""
    tau = b / sigma**2
    n, m = s + b, tau * b

    def nll(mu_s: float, bb: float) -> float:
        lam1, lam2 = mu_s + bb, tau * bb
        return -(n * math.log(lam1) - lam1 + m * math.log(lam2) - lam2)

    free = nll(s, b)
    res = minimize_scalar(
        lambda bb: nll(0.0, bb),
        bounds=(1e-9, 10 * (n + m)),
        method="bounded",
        options={"xatol": 1e-12},
    )
    return 2.0 * (float(res.fun) - free)


@pytest.mark.parametrize(("s", "b"), [(5.0, 1.0), (10.0, 100.0), (3.0, 0.5), (50.0, 20.0)])
def test_asimov_matches_poisson_likelihood(s: float, b: float) -> None:
    assert asimov_significance(s, b) == pytest.approx(math.sqrt(_poisson_q0(s, b)), rel=1e-10)


@pytest.mark.parametrize(
    ("s", "b", "sigma"), [(10.0, 100.0, 10.0), (5.0, 4.0, 1.0), (20.0, 50.0, 25.0)]
)
def test_asimov_with_uncertainty_matches_profile_likelihood(
    s: float, b: float, sigma: float
) -> None:
    z = asimov_significance(s, b, sigma_b=sigma)
    assert z == pytest.approx(math.sqrt(_profiled_q0(s, b, sigma)), rel=1e-5)
    assert z < asimov_significance(s, b)  # an uncertainty can only reduce the significance


def test_asimov_limits_and_known_values() -> None:
    # s << b: Z -> s / sqrt(b), including far below the cancellation threshold
    for s in (1e-9, 1e-5, 1e-2):
        assert asimov_significance(s, 100.0) == pytest.approx(s / 10.0, rel=1e-3)
    assert asimov_significance(1e-9, 1.0) == pytest.approx(1e-9, rel=1e-8)
    assert s_over_sqrt_b(10.0, 100.0) == 1.0
    # the classic example: 5 events on a background of 1 is not 5 sigma but ~3.39 sigma
    assert asimov_significance(5.0, 1.0) == pytest.approx(math.sqrt(2 * (6 * math.log(6) - 5)))
    assert asimov_significance(5.0, 1.0) == pytest.approx(3.3913, abs=1e-4)
    # with sigma_b: s << b tends to s / sqrt(b + sigma^2); sigma -> 0 tends to the plain formula
    assert asimov_significance(0.01, 100.0, sigma_b=10.0) == pytest.approx(
        0.01 / math.sqrt(200.0), rel=1e-3
    )
    assert asimov_significance(10.0, 100.0, sigma_b=1e-4) == pytest.approx(
        asimov_significance(10.0, 100.0), rel=1e-6
    )
    # vectorised, with broadcasting; s == 0 gives 0, b == 0 gives nan (unbounded)
    z = asimov_significance(np.array([[1.0], [10.0]]), np.array([1.0, 10.0, 100.0]))
    assert z.shape == (2, 3)
    assert np.all(np.diff(z, axis=1) < 0)
    out = asimov_significance(np.array([0.0, 1.0]), np.array([1.0, 0.0]))
    assert out[0] == 0.0
    assert np.isnan(out[1])
    assert np.isnan(s_over_sqrt_b(1.0, 0.0))


@pytest.mark.parametrize(
    ("s", "b", "sigma", "what"),
    [
        (-1.0, 5.0, None, "s is"),
        (1.0, -5.0, None, "b is"),
        (np.nan, 5.0, None, "s is"),
        (1.0, np.inf, None, "b is"),
        ([1.0, -2.0], 5.0, None, "got -2"),
        (1.0, 5.0, -0.5, "sigma_b is"),
    ],
)
def test_asimov_refuses_meaningless_counts(s: Any, b: Any, sigma: Any, what: str) -> None:
    """Issue 12: asimov_significance(-1, 5) returned 0; a negative count is meaningless."""
    with pytest.raises(ConfigError, match=what) as info:
        asimov_significance(s, b, sigma_b=sigma)
    assert "\n" not in str(info.value)
    if sigma is None:
        with pytest.raises(ConfigError, match=what):
            s_over_sqrt_b(s, b)


@pytest.mark.parametrize("b_reg", [0.0, 10.0])
def test_significance_scan_matches_brute_force(rng: np.random.Generator, b_reg: float) -> None:
    n = 600
    y = rng.integers(0, 2, n)
    s = _tied_scores(rng, y)
    w = np.where(y == 1, 0.02, 0.5) * rng.uniform(0.5, 1.5, n)
    w[rng.random(n) < 0.05] *= -1  # some negative weights
    scan = significance_scan(
        y, s, sample_weight=w, sigma_b_rel=0.1, min_background=2.0, b_reg=b_reg
    )
    cuts = np.unique(s)
    np.testing.assert_array_equal(scan.cuts, cuts)
    best = (-np.inf, None)
    n_refused = 0
    for i, c in enumerate(cuts):
        keep = s >= c
        sig, bkg = w[keep & (y == 1)].sum(), w[keep & (y == 0)].sum()
        assert scan.s[i] == pytest.approx(sig, abs=1e-10)
        assert scan.b[i] == pytest.approx(bkg, abs=1e-10)  # b_reg is not part of b
        # defaults refuse cuts keeping fewer than 10 raw background MC events
        if bkg < 2.0 or np.sum(keep & (y == 0)) < 10:
            assert np.isnan(scan.z[i])
            n_refused += 1
            continue
        z = asimov_significance(sig, bkg + b_reg, sigma_b=0.1 * bkg)
        assert scan.z[i] == pytest.approx(z, rel=1e-12)
        if z > best[0]:
            best = (z, c)
    assert n_refused > 0
    assert scan.best_z == pytest.approx(best[0])
    assert scan.best_cut == best[1]
    assert scan.as_dict()["z"] == scan.best_z
    assert scan.b_reg == b_reg


def test_ams_regularisation_by_hand() -> None:
    """HiggsML AMS = sqrt(2 ((s + b + b_reg) ln(1 + s / (b + b_reg)) - s)), b_reg = 10."""
    # 12 background events of weight 1 below 20 signal events of weight 0.5 (all distinct)
    y = np.array([0] * 12 + [1] * 20)
    score = np.arange(32, dtype=float)
    scan = significance_scan(y, score, sample_weight=np.where(y == 1, 0.5, 1.0), b_reg=10.0)
    # eligible cuts keep >= 10 raw background events: the tightest keeps 10 bkg + all signal
    s, b = 10.0, 10.0
    ams = math.sqrt(2.0 * ((s + b + 10.0) * math.log(1.0 + s / (b + 10.0)) - s))
    assert scan.best_cut == 2.0 and scan.best_s == s and scan.best_b == b
    assert scan.best_z == pytest.approx(ams, rel=1e-12)
    assert np.all(np.isnan(scan.z[3:]))  # fewer than 10 raw background events
    plain = significance_scan(y, score, sample_weight=np.where(y == 1, 0.5, 1.0))
    z0 = math.sqrt(2.0 * ((s + b) * math.log(1.0 + s / b) - s))
    assert plain.best_z == pytest.approx(z0, rel=1e-12) and plain.best_z > scan.best_z
    with pytest.raises(ConfigError, match="b_reg"):
        significance_scan(y, score, b_reg=-1.0)


def test_significance_scan_small_background_protection(rng: np.random.Generator) -> None:
    y = np.array([1] * 50 + [0] * 50)
    s = np.concatenate([rng.normal(2, 0.5, 50), rng.normal(0, 0.5, 50)])
    free = significance_scan(y, s, min_background=0.0)
    protected = significance_scan(y, s, min_background=10.0)
    assert protected.best_b >= 10.0
    assert free.best_z >= protected.best_z
    with pytest.warns(UndefinedMetricWarning, match="min_background"):
        none = significance_scan(y, s, min_background=1e6)
    assert math.isnan(none.best_z)
    with pytest.raises(ConfigError, match="sigma_b_rel"):
        significance_scan(y, s, sigma_b_rel=-0.1)


def test_significance_scan_min_background_events_excludes_cuts_with_few_raw_mc_events():
    rng = np.random.default_rng(7)
    n = 400
    y = (rng.random(n) < 0.3).astype(int)
    score = np.where(y == 1, rng.normal(0.7, 0.15, n), rng.normal(0.4, 0.15, n))
    w = np.where(y == 1, 0.05, 2.0)
    loose = significance_scan(y, score, sample_weight=w, min_background=0.0)
    strict = significance_scan(
        y, score, sample_weight=w, min_background=0.0, min_background_events=20
    )
    # brute force: raw background count kept by each cut
    raw_b = np.array([np.sum((score >= c) & (y == 0)) for c in strict.cuts])
    assert np.all(np.isnan(strict.z[raw_b < 20]))
    np.testing.assert_allclose(strict.z[raw_b >= 20], loose.z[raw_b >= 20])
    assert np.sum((score >= strict.best_cut) & (y == 0)) >= 20
    assert strict.best_z <= loose.best_z


@pytest.mark.parametrize(
    "call",
    [
        lambda: auc([0, 1, 0, 1], ["x", "y", "z", "w"]),
        lambda: auc([0, 1, 0, 1], [0.1, 0.9, 0.2, 0.8], sample_weight=["a", "b", "c", "d"]),
        lambda: roc_curve([0, 1, 0, 1], ["x", "y", "z", "w"]),
        lambda: significance_scan([0, 1, 0, 1], ["x", "y", "z", "w"]),
        lambda: binary_scores([0, 1, 0, 1], [0, 1, 1, 1], sample_weight=["a", "b", "c", "d"]),
        lambda: confusion_matrix([0, 1, 0, 1], [0, 1, 1, 1], sample_weight=["a", "b", "c", "d"]),
        lambda: metrics.auc_ovr([0, 1], "x"),
    ],
)
def test_non_numeric_scores_and_weights_are_data_errors(call: Any) -> None:
    """Strings where numbers belong: one DataError line, not NumPy's ValueError."""
    with pytest.raises(DataError, match="must hold numbers"):
        call()


def test_separable_weighted_auc_is_exactly_one_not_above() -> None:
    """Rounding of the weighted sums gave 1.0000000000000002 on separable classes: never
    above 1."""
    from hepsift.metrics import AucScorer

    rng = np.random.default_rng(0)
    for _ in range(200):
        n = int(rng.integers(4, 40))
        y = np.r_[np.zeros(n // 2), np.ones(n - n // 2)]
        s = np.r_[rng.random(n // 2) * 0.5, 0.5 + rng.random(n - n // 2) * 0.5]
        w = rng.random(n) * rng.choice([1e-3, 1.0, 37.7, 1e5])
        value = AucScorer(y, s)(w)[0]
        assert value <= 1.0 and value == pytest.approx(1.0, abs=1e-12)
