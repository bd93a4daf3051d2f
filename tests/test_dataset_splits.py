"""Dataset splits: parts are disjoint and cover every event; k-fold by eventNumber % k."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from hepsift.dataset import Dataset
from hepsift.errors import ConfigError, DataError


def _ds(rng: np.random.Generator, n: int = 2000) -> Dataset:
    y = (rng.random(n) < 0.2).astype(int)
    return Dataset(
        X=rng.normal(size=(n, 3)).astype(np.float32),
        y=y,
        weight=rng.normal(1.0, 0.5, n),
        feature_names=("a", "b", "c"),
        event_number=rng.permutation(10 * n)[:n],
    )


def _evno(ds: Dataset) -> NDArray[np.integer[Any]]:
    """The event numbers of ``ds`` (every dataset in this file has them)."""
    assert ds.event_number is not None
    return ds.event_number


@pytest.mark.parametrize("by", ["random", "event_number"])
def test_split_parts_are_disjoint_and_complete(rng: np.random.Generator, by: str) -> None:
    ds = _ds(rng)
    train, val, test = ds.split((0.6, 0.2, 0.2), by=by, seed=3)  # type: ignore[arg-type]
    ids = [set(_evno(p).tolist()) for p in (train, val, test)]
    assert not ids[0] & ids[1] and not ids[0] & ids[2] and not ids[1] & ids[2]
    assert ids[0] | ids[1] | ids[2] == set(_evno(ds).tolist())
    assert len(train) + len(val) + len(test) == len(ds)
    assert abs(len(train) / len(ds) - 0.6) < 0.05
    if by == "random":  # stratified: class fractions preserved
        assert abs(train.y.mean() - ds.y.mean()) < 0.01
    else:  # by eventNumber % 100: stable whatever the order of the events
        order = rng.permutation(len(ds))
        again = ds.subset(order).split((0.6, 0.2, 0.2), by="event_number")
        assert set(_evno(again[0]).tolist()) == ids[0]


def test_kfold_by_event_number(rng: np.random.Generator) -> None:
    ds = _ds(rng)
    seen: list[int] = []
    for i, (train, test) in enumerate(ds.kfold(5)):
        assert np.all(_evno(test) % 5 == i)
        assert not set(_evno(train).tolist()) & set(_evno(test).tolist())
        assert len(train) + len(test) == len(ds)
        seen.extend(_evno(test).tolist())
    assert sorted(seen) == sorted(_evno(ds).tolist())
    with pytest.raises(ConfigError):
        next(ds.kfold(1))


def test_split_needs_event_numbers(rng: np.random.Generator) -> None:
    ds = _ds(rng)
    bare = Dataset(X=ds.X, y=ds.y, weight=ds.weight, feature_names=ds.feature_names)
    with pytest.raises(ConfigError, match="eventNumber"):
        bare.split(by="event_number")
    with pytest.raises(ConfigError, match="sum to 1"):
        ds.split((0.5, 0.2))


def _by_event_number(event_number: np.ndarray) -> Dataset:
    n = event_number.size
    return Dataset(
        X=np.zeros((n, 1), dtype=np.float32),
        y=np.arange(n) % 2,
        weight=np.ones(n),
        feature_names=("a",),
        event_number=event_number,
    )


@pytest.mark.parametrize(
    ("fractions", "shares"),
    [
        ((0.1, 0.2, 0.7), (10, 20, 70)),  # float cumsum gives 0.30000000000000004: 10/21/69
        ((0.6, 0.2, 0.2), (60, 20, 20)),
        ((0.7, 0.1, 0.2), (70, 10, 20)),
        ((0.3, 0.7), (30, 70)),
        ((0.15, 0.15, 0.7), (15, 15, 70)),
        ((1 / 3, 1 / 3, 1 / 3), (33, 34, 33)),
    ],
)
def test_event_number_split_shares_are_exact(
    fractions: tuple[float, ...], shares: tuple[int, ...]
) -> None:
    evno = np.arange(100_000)
    parts = _by_event_number(evno).split(fractions, by="event_number")
    assert [len(p) for p in parts] == [1000 * s for s in shares]
    # part i holds the buckets [edge_i, edge_i+1) of eventNumber % 100
    edges = np.concatenate([[0], np.cumsum(shares)])
    for i, p in enumerate(parts):
        bucket = _evno(p) % 100
        assert bucket.min() == edges[i] and bucket.max() == edges[i + 1] - 1


def test_event_number_split_of_unsigned_numbers_beyond_int64() -> None:
    big = np.uint64(2**63) + np.arange(1000, dtype=np.uint64) * np.uint64(7919)
    big[:3] = [np.iinfo(np.uint64).max, 2**64 - 2, 2**63]
    ds = _by_event_number(big)
    assert ds.event_number is not None and ds.event_number.dtype == np.uint64  # no int64 wrap
    parts = ds.split((0.1, 0.2, 0.7), by="event_number")
    # reference: Python's exact integer arithmetic
    expected = [[], [], []]  # type: list[list[int]]
    for v in big.tolist():
        b = v % 100
        expected[0 if b < 10 else 1 if b < 30 else 2].append(v)
    for p, e in zip(parts, expected, strict=True):
        assert sorted(_evno(p).tolist()) == sorted(e)
    folds = [set(_evno(test).tolist()) for _, test in ds.kfold(3)]
    for i, fold in enumerate(folds):
        assert fold == {v for v in big.tolist() if v % 3 == i}


def test_event_number_split_of_negative_and_large_signed_numbers() -> None:
    evno = np.concatenate(
        [np.arange(-50_000, 50_000), np.iinfo(np.int64).max - np.arange(100)]
    ).astype(np.int64)
    parts = _by_event_number(evno).split((0.1, 0.2, 0.7), by="event_number")
    for p, (lo, hi) in zip(parts, [(0, 10), (10, 30), (30, 100)], strict=True):
        values = _evno(p).tolist()
        assert all(lo <= v % 100 < hi for v in values)  # Python floor modulo: -1 -> 99
    assert [len(p) for p in parts] == [10_010, 20_020, 70_070]
    assert sum(len(p) for p in parts) == evno.size
    # every k-fold test fold holds exactly the events with eventNumber % k == i
    for i, (_, test) in enumerate(_by_event_number(evno).kfold(4)):
        assert sorted(_evno(test).tolist()) == sorted(v for v in evno.tolist() if v % 4 == i)


def test_event_number_checks() -> None:
    ok = _by_event_number(np.arange(10, dtype=np.float64))
    assert ok.event_number is not None and ok.event_number.dtype == np.int64
    with pytest.raises(DataError, match="whole numbers"):
        _by_event_number(np.arange(10) + 0.5)
    with pytest.raises(ConfigError, match="without any"):
        _by_event_number(np.arange(100)).split((0.004, 0.496, 0.5), by="event_number")
