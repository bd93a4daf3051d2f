"""Evaluation: batched weighted AUC, bootstrap interval, weighted KS, permutation importance,
and the metrics.json builder, against scikit-learn / SciPy / slow references."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from hepsift.dataset import Dataset
from hepsift.errors import DataError
from hepsift.evaluate import (
    bootstrap_auc,
    effective_size,
    evaluate_model,
    metrics_document,
    permutation_importance,
    ranking,
    weighted_ks,
)
from hepsift.metrics import auc as metrics_auc
from hepsift.metrics import auc_batch


def weighted_auc(score, sig, w=None):
    return metrics_auc(np.asarray(sig).astype(int), score, sample_weight=w)


def _pairwise_auc(score, sig, w):
    """Slow reference: weighted fraction of (signal, background) pairs ordered correctly."""
    num = den = 0.0
    for i, j in itertools.product(np.flatnonzero(sig), np.flatnonzero(~sig)):
        pair = w[i] * w[j]
        den += pair
        num += pair * (1.0 if score[i] > score[j] else 0.5 if score[i] == score[j] else 0.0)
    return num / den


def test_weighted_auc_matches_sklearn_and_pairwise(rng):
    n = 300
    y = rng.integers(0, 2, n).astype(bool)
    score = np.round(rng.normal(y * 0.8, 1.0), 1)  # rounding makes ties
    w = rng.uniform(0.1, 2.0, n)
    ours = weighted_auc(score, y, w)
    assert ours == pytest.approx(roc_auc_score(y, score, sample_weight=w), abs=1e-12)
    assert ours == pytest.approx(_pairwise_auc(score, y, w), abs=1e-12)
    # negative weights: the pairwise definition still holds
    w_neg = w.copy()
    w_neg[:20] *= -0.3
    assert weighted_auc(score, y, w_neg) == pytest.approx(_pairwise_auc(score, y, w_neg), abs=1e-10)


def test_batch_rows_are_independent(rng):
    n = 200
    y = rng.integers(0, 2, n).astype(bool)
    s = rng.normal(y * 1.0, 1.0)
    W = rng.uniform(0, 2, size=(4, n))
    rows = auc_batch(y, s, W)
    for b in range(4):
        assert rows[b] == pytest.approx(roc_auc_score(y, s, sample_weight=W[b]), abs=1e-12)


def test_bootstrap_interval_covers_truth_and_shrinks(rng):
    def sample(n):
        y = rng.integers(0, 2, n).astype(bool)
        return rng.normal(y * 1.0, 1.0), y

    # true AUC of two unit Gaussians 1 sigma apart: Phi(1/sqrt 2)
    truth = stats.norm.cdf(1.0 / np.sqrt(2.0))
    s, y = sample(4000)
    low, high, reps = bootstrap_auc(s, y, n=200, seed=1)
    assert reps.size == 200
    assert low < weighted_auc(s, y) < high
    assert low - 0.01 < truth < high + 0.01
    # the 68 % half-width is close to the textbook standard error sqrt(A(1-A)/n)-ish scale
    s2, y2 = sample(500)
    low2, high2, _ = bootstrap_auc(s2, y2, n=200, seed=1)
    assert (high2 - low2) > 2.0 * (high - low)
    # reproducible with the same seed
    assert bootstrap_auc(s, y, n=50, seed=3)[:2] == bootstrap_auc(s, y, n=50, seed=3)[:2]


def test_auc_needs_both_classes():
    with pytest.raises(DataError, match="both signal and background"):
        bootstrap_auc([0.1, 0.2], [1, 1])


@pytest.mark.parametrize(("n1", "n2", "shift"), [(400, 300, 0.0), (500, 800, 0.2), (50, 70, 0.5)])
def test_weighted_ks_unit_weights_matches_scipy(rng, n1, n2, shift):
    a = rng.normal(0, 1, n1)
    b = rng.normal(shift, 1, n2)
    ours = weighted_ks(a, b)
    ref = stats.ks_2samp(a, b, method="asymp")
    assert ours.statistic == pytest.approx(ref.statistic, abs=1e-12)
    en = n1 * n2 / (n1 + n2)
    # the asymptotic Kolmogorov law, exactly
    assert ours.pvalue == pytest.approx(stats.kstwobign.sf(np.sqrt(en) * ours.statistic), rel=1e-12)
    # and close to SciPy's asymptotic two-sample p-value
    assert ours.pvalue == pytest.approx(ref.pvalue, abs=0.03)
    assert ours.n1_eff == pytest.approx(n1)


def test_weighted_ks_ties_and_integer_weights_equal_repetition(rng):
    a = rng.integers(0, 10, 200).astype(float)
    b = rng.integers(0, 10, 150).astype(float)
    wa = rng.integers(1, 4, a.size).astype(float)
    wb = rng.integers(1, 4, b.size).astype(float)
    ours = weighted_ks(a, b, wa, wb)
    ref = stats.ks_2samp(np.repeat(a, wa.astype(int)), np.repeat(b, wb.astype(int)))
    assert ours.statistic == pytest.approx(ref.statistic, abs=1e-12)
    assert ours.n1_eff == pytest.approx(effective_size(wa))
    assert ours.n1_eff < wa.sum()


def test_weighted_ks_detects_overtraining_shift(rng):
    same = weighted_ks(rng.normal(0, 1, 2000), rng.normal(0, 1, 2000))
    shifted = weighted_ks(rng.normal(0, 1, 2000), rng.normal(0.2, 1, 2000))
    assert same.pvalue > 0.01
    assert shifted.pvalue < 1e-3


def test_permutation_importance_finds_the_informative_feature(rng):
    n = 2000
    y = rng.integers(0, 2, n)
    X = np.column_stack([rng.normal(y * 1.5, 1.0), rng.normal(0, 1, n), rng.normal(y * 0.3, 1)])

    def proba(Z):
        logit = 1.5 * Z[:, 0] + 0.3 * Z[:, 2]
        p = 1.0 / (1.0 + np.exp(-logit))
        return np.column_stack([1 - p, p])

    imp = permutation_importance(proba, X, y, feature_names=["a", "noise", "c"], repeats=3, seed=0)
    ranked = [name for name, _, _ in imp.ranked()]
    assert ranked[0] == "a"
    assert imp.mean[1] == pytest.approx(0.0, abs=1e-12)  # the model ignores column 1
    assert imp.mean[0] > 0.2 > imp.mean[2] > 0.0
    assert imp.base == pytest.approx(roc_auc_score(y, proba(X)[:, 1]), abs=1e-12)


def _toy_dataset(rng, n=1500, classes=("background", "signal"), shift=1.0):
    k = len(classes)
    y = rng.integers(0, k, n)
    X = np.column_stack([rng.normal(y * shift, 1.0), rng.normal(0, 1, n)]).astype(np.float32)
    w = rng.uniform(0.5, 1.5, n)
    return Dataset(X=X, y=y, weight=w, feature_names=("f0", "f1"), class_names=classes)


def _softmax_model(k, shift=1.0):
    centres = np.arange(k) * shift

    def proba(X):
        logits = -0.5 * (X[:, [0]] - centres[None, :]) ** 2
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    return proba


def test_evaluate_binary_model_end_to_end(rng):
    from hepsift import metrics

    train, test = _toy_dataset(rng), _toy_dataset(rng)
    proba = _softmax_model(2)
    ev = evaluate_model(
        "toy", proba, train, test, bootstrap=100, yield_scale=2.0, importance_repeats=1, seed=1
    )
    ref_auc = roc_auc_score(test.y, proba(test.X)[:, 1], sample_weight=test.weight)
    assert ev.auc == pytest.approx(ref_auc, abs=1e-12)
    assert ev.roc.auc == pytest.approx(ref_auc, abs=1e-9)
    assert ev.auc_ci68[0] < ev.auc < ev.auc_ci68[1]
    pred = (proba(test.X)[:, 1] >= 0.5).astype(int)
    acc = np.sum(test.weight * (pred == test.y)) / test.weight.sum()
    assert ev.scores["accuracy"] == pytest.approx(acc)
    assert set(ev.background_rejection) == {"0.5", "0.8", "0.9"}
    assert ev.rejection_at(0.5) > ev.rejection_at(0.9) > 1.0
    # same physics in train and test: no overtraining flag expected
    assert all(r.pvalue > 1e-3 for r in ev.ks.values())
    scan = metrics.significance_scan(
        test.y, proba(test.X)[:, 1], sample_weight=2.0 * test.weight, min_background=1.0
    )
    assert ev.best_cut is not None and ev.best_cut["z"] == pytest.approx(scan.best_z)
    cm = np.array(ev.confusion["expected_yields"])
    assert cm.sum() == pytest.approx(2.0 * test.weight.sum())
    assert np.allclose(np.nansum(ev.confusion["row_normalised"], axis=1), 1.0)
    doc = metrics_document([ev], test=test, yield_scale=2.0)
    text = json.dumps(doc, allow_nan=False)
    back = json.loads(text)
    model = back["models"]["toy"]
    for key in (
        "auc",
        "auc_ci68",
        "accuracy",
        "precision",
        "recall",
        "f1",
        "ks_pvalue",
        "best_cut",
    ):
        assert key in model
    assert back["yields_test"]["signal"]["yield"] == pytest.approx(
        2.0 * test.weight[test.y == 1].sum()
    )


def test_evaluate_multiclass_and_ranking(rng):
    classes = ("a", "b", "c")
    train, test = (
        _toy_dataset(rng, classes=classes, shift=2.0),
        _toy_dataset(rng, classes=classes, shift=2.0),
    )
    good = evaluate_model(
        "good", _softmax_model(3, 2.0), train, test, bootstrap=30, importance=False
    )
    bad = evaluate_model("bad", _softmax_model(3, 0.3), train, test, bootstrap=30, importance=False)
    assert good.auc > bad.auc
    assert [e.name for e in ranking([bad, good])] == ["good", "bad"]
    assert set(good.per_class_auc) == set(classes)
    assert np.array(good.confusion["counts"]).sum() == len(test)
    assert good.best_cut is None
    ref = np.mean(
        [
            roc_auc_score(
                test.y == c, _softmax_model(3, 2.0)(test.X)[:, c], sample_weight=test.weight
            )
            for c in range(3)
        ]
    )
    assert good.auc == pytest.approx(ref, abs=1e-12)


def test_evaluate_rejects_wrong_probability_shape(rng):
    d = _toy_dataset(rng, n=100)
    with pytest.raises(DataError, match="shape"):
        evaluate_model("x", lambda X: np.ones((len(X), 3)) / 3, d, d, bootstrap=0)


# -- the one Poisson bootstrap: bounded batches, batch-size independent ---------------------
def test_poisson_bootstrap_batches_are_capped_and_do_not_change_the_replicas(rng):
    from hepsift.evaluate import poisson_bootstrap

    n = 1000
    y = rng.integers(0, 2, n).astype(bool)
    s = rng.normal(y * 1.0, 1.0)
    w = rng.uniform(0.5, 1.5, n)
    shapes = []

    def stat(W):
        shapes.append(W.shape)
        return auc_batch(y, s, W)

    batched = poisson_bootstrap(stat, w, n=37, seed=5, max_elements=8 * n + 17)
    assert [r for r, _ in shapes] == [8, 8, 8, 8, 5] and all(c == n for _, c in shapes)
    # unbatched reference: all counts drawn at once from the same seed, AUC per row by sklearn
    counts = np.random.default_rng(5).poisson(1.0, size=(37, n))
    ref = [roc_auc_score(y, s, sample_weight=c * w) for c in counts]
    np.testing.assert_allclose(batched, ref, rtol=1e-12)
    # one replica per batch when an event row alone exceeds the budget
    shapes.clear()
    single = poisson_bootstrap(stat, w, n=3, seed=5, max_elements=10)
    assert shapes == [(1, n)] * 3
    np.testing.assert_allclose(single, ref[:3], rtol=1e-12)


def test_bootstrap_memory_is_bounded_by_the_batch_budget(rng):
    import tracemalloc

    n = 200_000
    y = rng.random(n) < 0.3
    s = rng.normal(y * 1.0, 1.0)
    tracemalloc.start()
    try:
        low, high, reps = bootstrap_auc(s, y, n=40, seed=0, max_elements=2**16)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert reps.size == 40 and low < high
    # a (replicas, events) array of float64 alone would be 40 * 200000 * 8 = 64 MB
    assert peak < 20e6, peak


def test_paired_bootstrap_shares_counts_with_the_single_one(rng):
    from hepsift.evaluate import bootstrap_aucs

    n = 500
    y = rng.integers(0, 2, n).astype(bool)
    s1 = rng.normal(y * 1.0, 1.0)
    s2 = s1 + 0.3 * rng.normal(size=n)
    w = rng.uniform(0.5, 1.5, n)
    a, b, same = bootstrap_aucs([s1, s2, s1], y, w, n=60, seed=2, max_elements=7 * n)
    np.testing.assert_array_equal(a, same)
    np.testing.assert_allclose(a, bootstrap_auc(s1, y, w, n=60, seed=2)[2], rtol=1e-12)
    assert np.std(a - b) < np.std(a)


def test_model_bootstrap_interval_matches_an_unbatched_reference(rng):
    """evaluate_model's 68 % interval: the macro one-vs-rest AUC of Poisson replicas."""
    classes = ("a", "b", "c")
    test = _toy_dataset(rng, n=600, classes=classes, shift=1.0)
    proba = _softmax_model(3, 1.0)
    ev = evaluate_model("m", proba, test, test, bootstrap=64, importance=False, seed=11)
    counts = np.random.default_rng(11).poisson(1.0, size=(64, len(test)))
    p = proba(test.X)
    reps = [
        np.mean(
            [roc_auc_score(test.y == c, p[:, c], sample_weight=row * test.weight) for c in range(3)]
        )
        for row in counts
    ]
    np.testing.assert_allclose(ev.auc_ci68, np.quantile(reps, [0.16, 0.84]), rtol=1e-12)


def test_weighted_ks_pvalue_is_scipy_kolmogorov(rng):
    from scipy.special import kolmogorov

    a, b = rng.normal(0, 1, 300), rng.normal(0.1, 1, 200)
    wa, wb = rng.uniform(0.5, 2.0, 300), rng.uniform(0.5, 2.0, 200)
    r = weighted_ks(a, b, wa, wb)
    en = np.sqrt(r.n1_eff * r.n2_eff / (r.n1_eff + r.n2_eff))
    assert r.pvalue == kolmogorov(en * r.statistic)


@pytest.mark.parametrize("bad", [[0, 0.5, 1, 1], [0, float("nan"), 1, 1], [0, 2, 1, 1]])
def test_bootstrap_auc_refuses_labels_that_are_not_signal_flags(bad) -> None:
    """Issue 12: a label of 0.5 or NaN silently counted as signal."""
    with pytest.raises(DataError, match="is_signal must be booleans or 0/1"):
        bootstrap_auc([0.1, 0.4, 0.35, 0.8], bad, n=5)
