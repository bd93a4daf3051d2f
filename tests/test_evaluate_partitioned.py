"""ROC/AUC merged from per-partition score summaries equal the in-memory metric (issue 17)."""

from __future__ import annotations

import numpy as np
import pytest

from hepsift.errors import ConfigError, DataError
from hepsift.evaluate.partitioned import (
    auc_from_summary,
    auc_tie_bound,
    merge,
    roc_from_summary,
    summarise,
)
from hepsift.metrics import auc, roc_curve


def _data(n: int = 6000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(17)
    y = rng.integers(0, 2, n)
    score = 1.0 / (1.0 + np.exp(-(rng.normal(0.0, 1.0, n) + 1.2 * y)))
    score[::7] = np.round(score[::7], 2)  # ties, inside and across partitions
    w = rng.uniform(0.2, 3.0, n)
    return y, score, w


@pytest.mark.parametrize("n_parts", [1, 3, 17])
def test_merged_partitions_give_the_in_memory_roc_and_auc(n_parts: int) -> None:
    y, score, w = _data()
    cuts = np.sort(np.random.default_rng(n_parts).choice(np.arange(1, y.size), n_parts - 1))
    parts = [
        summarise(a, b, sample_weight=c)
        for a, b, c in zip(np.split(y, cuts), np.split(score, cuts), np.split(w, cuts), strict=True)
    ]
    # any merge tree: pairwise here, all at once below
    tree = parts[0]
    for p in parts[1:]:
        tree = merge([p, tree])
    flat = merge(parts)
    ref = roc_curve(y, score, sample_weight=w)
    for summary in (tree, flat):
        roc = roc_from_summary(summary)
        np.testing.assert_array_equal(roc.thresholds, ref.thresholds)
        np.testing.assert_allclose(roc.signal_efficiency, ref.signal_efficiency, rtol=1e-12)
        np.testing.assert_allclose(roc.background_efficiency, ref.background_efficiency, rtol=1e-12)
        assert auc_from_summary(summary) == pytest.approx(auc(y, score, sample_weight=w), rel=1e-12)
    assert len(flat) == np.unique(score).size < y.size


def test_binned_summaries_are_bounded_and_within_their_bound() -> None:
    y, score, w = _data()
    exact = auc(y, score, sample_weight=w)
    for bins in (10, 1000, 1 << 20):
        parts = [summarise(a, b, sample_weight=c, bins=bins) for a, b, c in
                 zip(np.array_split(y, 4), np.array_split(score, 4), np.array_split(w, 4),
                     strict=True)]  # fmt: skip
        merged = merge(parts)
        assert len(merged) <= bins
        err = abs(auc_from_summary(merged) - exact)
        assert err <= auc_tie_bound(merged) + 1e-12
    assert auc_tie_bound(merge(parts)) < 1e-3  # fine binning: the bound itself is small
    coarse = merge([summarise(y, score, sample_weight=w, bins=10)])
    assert auc_tie_bound(coarse) > 1e-3  # and coarse binning honestly says it is not exact


def test_bad_input() -> None:
    y, score, w = _data(50)
    with pytest.raises(DataError, match="NaN or inf"):
        summarise(y, np.where(y > 0, np.nan, score))
    with pytest.raises(DataError, match=r"scores in \[0, 1\]"):
        summarise(y, score * 3.0, bins=100)
    with pytest.raises(ConfigError, match="bins must be"):
        summarise(y, score, bins=0)
    with pytest.raises(ConfigError, match="different bins"):
        merge([summarise(y, score), summarise(y, score, bins=10)])
    with pytest.raises(DataError, match="positive signal and background"):
        auc_from_summary(summarise(np.ones(50), score, sample_weight=w))
