"""Dataset splits: parts are disjoint and cover every event; k-fold by eventNumber % k."""

from __future__ import annotations

import numpy as np
import pytest

from hepsift.dataset import Dataset
from hepsift.errors import ConfigError


def _ds(rng: np.random.Generator, n: int = 2000) -> Dataset:
    y = (rng.random(n) < 0.2).astype(int)
    return Dataset(
        X=rng.normal(size=(n, 3)),
        y=y,
        weight=rng.normal(1.0, 0.5, n),
        feature_names=("a", "b", "c"),
        event_number=rng.permutation(10 * n)[:n],
    )


@pytest.mark.parametrize("by", ["random", "event_number"])
def test_split_parts_are_disjoint_and_complete(rng: np.random.Generator, by: str) -> None:
    ds = _ds(rng)
    train, val, test = ds.split((0.6, 0.2, 0.2), by=by, seed=3)  # type: ignore[arg-type]
    ids = [set(p.event_number.tolist()) for p in (train, val, test)]
    assert not ids[0] & ids[1] and not ids[0] & ids[2] and not ids[1] & ids[2]
    assert ids[0] | ids[1] | ids[2] == set(ds.event_number.tolist())
    assert len(train) + len(val) + len(test) == len(ds)
    assert abs(len(train) / len(ds) - 0.6) < 0.05
    if by == "random":  # stratified: class fractions preserved
        assert abs(train.y.mean() - ds.y.mean()) < 0.01
    else:  # by eventNumber % 100: stable whatever the order of the events
        order = rng.permutation(len(ds))
        again = ds.subset(order).split((0.6, 0.2, 0.2), by="event_number")
        assert set(again[0].event_number.tolist()) == ids[0]


def test_kfold_by_event_number(rng: np.random.Generator) -> None:
    ds = _ds(rng)
    seen: list[int] = []
    for i, (train, test) in enumerate(ds.kfold(5)):
        assert np.all(test.event_number % 5 == i)
        assert not set(train.event_number.tolist()) & set(test.event_number.tolist())
        assert len(train) + len(test) == len(ds)
        seen.extend(test.event_number.tolist())
    assert sorted(seen) == sorted(ds.event_number.tolist())
    with pytest.raises(ConfigError):
        next(ds.kfold(1))


def test_split_needs_event_numbers(rng: np.random.Generator) -> None:
    ds = _ds(rng)
    bare = Dataset(X=ds.X, y=ds.y, weight=ds.weight, feature_names=ds.feature_names)
    with pytest.raises(ConfigError, match="eventNumber"):
        bare.split(by="event_number")
    with pytest.raises(ConfigError, match="sum to 1"):
        ds.split((0.5, 0.2))
