"""The Dataset value: what every model trains on and every evaluation reads.

A :class:`Dataset` is a frozen value, not a framework: ``X`` float32 (n, d) with
``feature_names``, ``y`` int64 (n,) with ``class_names``, ``weight`` float64 (n,) holding the true
physics weights (may be negative: MC weights), and optional per-event extras: ``param`` (the
physics parameter of parametric models, e.g. a mass in GeV), ``event_number`` (for the HEP
k-fold convention), ``sample`` (index into ``sample_names``), ``objects`` (awkward, for set
models) and ``images`` (n, C, H, W). Splitting returns new Datasets; nothing mutates.

Evaluation always uses ``weight``. Training uses :meth:`Dataset.training_weight`, which applies
the negative-weight policy (``keep`` | ``abs`` | ``drop``) and optional class balancing.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from hepsift.errors import ConfigError, DataError

__all__ = [
    "Dataset",
    "NegativeWeightPolicy",
    "kfold_indices",
    "split_indices",
]

NegativeWeightPolicy = Literal["keep", "abs", "drop"]
_POLICIES = ("keep", "abs", "drop")


@dataclass(frozen=True, eq=False)
class Dataset:
    """Features, labels and weights of a set of events (see the module docstring)."""

    X: NDArray[np.float32]
    y: NDArray[np.int64]
    weight: NDArray[np.float64]
    feature_names: tuple[str, ...]
    class_names: tuple[str, ...] = ("background", "signal")
    param: NDArray[np.float64] | None = None
    event_number: NDArray[np.int64] | None = None
    sample: NDArray[np.int64] | None = None
    sample_names: tuple[str, ...] = ()
    objects: Any = None
    images: NDArray[np.floating[Any]] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        X = np.ascontiguousarray(self.X, dtype=np.float32)
        if X.ndim != 2:
            raise DataError(f"Dataset.X must be 2-D (events, features); got shape {X.shape}")
        n = X.shape[0]
        y = np.asarray(self.y)
        if y.shape != (n,):
            raise DataError(f"Dataset.y must have shape ({n},) to match X; got {y.shape}")
        y = y.astype(np.int64)
        w = np.asarray(self.weight, dtype=np.float64)
        if w.shape != (n,):
            raise DataError(f"Dataset.weight must have shape ({n},) to match X; got {w.shape}")
        if not np.all(np.isfinite(w)):
            raise DataError("Dataset.weight contains NaN or inf")
        names = tuple(str(f) for f in self.feature_names)
        if len(names) != X.shape[1]:
            raise DataError(
                f"Dataset.feature_names has {len(names)} names for {X.shape[1]} feature columns"
            )
        if len(set(names)) != len(names):
            dup = sorted({f for f in names if names.count(f) > 1})
            raise DataError(f"Dataset.feature_names repeats {dup}")
        classes = tuple(str(c) for c in self.class_names)
        if n and (y.min() < 0 or y.max() >= len(classes)):
            raise DataError(
                f"Dataset.y holds labels {sorted(set(np.unique(y).tolist()))} but class_names has "
                f"{len(classes)} classes {list(classes)}"
            )
        object.__setattr__(self, "X", X)
        object.__setattr__(self, "y", y)
        object.__setattr__(self, "weight", w)
        object.__setattr__(self, "feature_names", names)
        object.__setattr__(self, "class_names", classes)
        object.__setattr__(self, "sample_names", tuple(str(s) for s in self.sample_names))
        for name, dtype in (
            ("param", np.float64),
            ("event_number", np.int64),
            ("sample", np.int64),
        ):
            value = getattr(self, name)
            if value is not None:
                arr = np.asarray(value).astype(dtype)
                if arr.shape != (n,):
                    raise DataError(f"Dataset.{name} must have shape ({n},); got {arr.shape}")
                object.__setattr__(self, name, arr)
        if self.images is not None and len(self.images) != n:
            raise DataError(f"Dataset.images has {len(self.images)} entries for {n} events")
        if self.objects is not None and len(self.objects) != n:
            raise DataError(f"Dataset.objects has {len(self.objects)} entries for {n} events")

    # -- shape ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def __repr__(self) -> str:
        counts = np.bincount(self.y, minlength=self.n_classes)
        per_class = ", ".join(f"{c}={k}" for c, k in zip(self.class_names, counts, strict=True))
        return f"Dataset(n={len(self)}, features={self.n_features}, {per_class})"

    # -- derived values ------------------------------------------------------------------
    def subset(self, index: ArrayLike) -> Dataset:
        """A new Dataset holding the events selected by an integer index or boolean mask."""
        idx = np.asarray(index)
        if idx.dtype == bool:
            if idx.shape != (len(self),):
                raise DataError(f"boolean mask of shape {idx.shape} for {len(self)} events")
            idx = np.flatnonzero(idx)

        def take(a: Any) -> Any:
            return None if a is None else a[idx]

        return replace(
            self,
            X=self.X[idx],
            y=self.y[idx],
            weight=self.weight[idx],
            param=take(self.param),
            event_number=take(self.event_number),
            sample=take(self.sample),
            objects=take(self.objects),
            images=take(self.images),
            meta=dict(self.meta),
        )

    def select_features(self, names: Sequence[str]) -> Dataset:
        """A new Dataset with only the named feature columns, in that order."""
        cols = []
        for name in names:
            if name not in self.feature_names:
                from hepsift.errors import suggest

                raise ConfigError(
                    f"unknown feature '{name}'{suggest(name, self.feature_names)} "
                    f"(available: {', '.join(self.feature_names)})"
                )
            cols.append(self.feature_names.index(name))
        return replace(self, X=self.X[:, cols], feature_names=tuple(names), meta=dict(self.meta))

    def yields(self) -> dict[str, dict[str, float]]:
        """Per class: raw event count, weighted yield and its statistical error sqrt(sum w^2)."""
        out: dict[str, dict[str, float]] = {}
        for k, name in enumerate(self.class_names):
            w = self.weight[self.y == k]
            out[name] = {
                "events": int(w.size),
                "yield": float(w.sum()),
                "error": float(np.sqrt(np.sum(w * w))),
            }
        return out

    def training_weight(
        self,
        *,
        negative: NegativeWeightPolicy = "keep",
        balance_classes: bool = False,
    ) -> NDArray[np.float64]:
        """Weights for training (evaluation always uses ``weight`` itself).

        ``negative``: ``keep`` the signed MC weights, take their ``abs`` value, or ``drop``
        (set to zero) the negative ones. ``balance_classes`` rescales each class so that all
        classes carry the same total weight, with a mean weight of 1 over the events.
        """
        if negative not in _POLICIES:
            from hepsift.errors import suggest

            raise ConfigError(
                f"negative-weight policy '{negative}' is not one of {list(_POLICIES)}"
                f"{suggest(str(negative), _POLICIES)}"
            )
        w = self.weight.copy()
        if negative == "abs":
            w = np.abs(w)
        elif negative == "drop":
            w[w < 0] = 0.0
        if balance_classes:
            present = [k for k in range(self.n_classes) if np.any(self.y == k)]
            target = len(self) / max(len(present), 1)
            for k in present:
                mask = self.y == k
                total = w[mask].sum()
                if total <= 0:
                    raise DataError(
                        f"class '{self.class_names[k]}' has total training weight {total:.3g} <= 0; "
                        "cannot balance classes (try negative='abs')"
                    )
                w[mask] *= target / total
        return w

    # -- splits --------------------------------------------------------------------------
    def split(
        self,
        fractions: Sequence[float] = (0.6, 0.2, 0.2),
        *,
        by: Literal["event_number", "random"] = "random",
        seed: int = 0,
        stratify: bool = True,
    ) -> tuple[Dataset, ...]:
        """Disjoint parts (e.g. train, validation, test) in the given fractions."""
        parts = split_indices(
            len(self),
            fractions,
            by=by,
            seed=seed,
            y=self.y if stratify else None,
            event_number=self.event_number,
        )
        return tuple(self.subset(p) for p in parts)

    def kfold(
        self, k: int = 5, *, by: Literal["event_number", "random"] = "event_number", seed: int = 0
    ) -> Iterator[tuple[Dataset, Dataset]]:
        """(train, test) pairs of k-fold cross-validation; fold i tests on eventNumber % k == i."""
        for train, test in kfold_indices(
            len(self), k, by=by, seed=seed, y=self.y, event_number=self.event_number
        ):
            yield self.subset(train), self.subset(test)


def _check_fractions(fractions: Sequence[float]) -> NDArray[np.float64]:
    f = np.asarray(fractions, dtype=np.float64)
    if f.ndim != 1 or f.size < 1 or np.any(f <= 0) or abs(f.sum() - 1.0) > 1e-6:
        raise ConfigError(
            f"split fractions must be positive and sum to 1; got {list(map(float, fractions))}"
        )
    return f


def _hash_event_number(event_number: NDArray[np.int64], modulus: int) -> NDArray[np.int64]:
    return np.mod(event_number.astype(np.int64), modulus)


def split_indices(
    n: int,
    fractions: Sequence[float],
    *,
    by: Literal["event_number", "random"] = "random",
    seed: int = 0,
    y: NDArray[np.int64] | None = None,
    event_number: NDArray[np.int64] | None = None,
) -> list[NDArray[np.int64]]:
    """Disjoint sorted index arrays covering ``range(n)`` in the given fractions.

    ``by="event_number"`` assigns events by ``eventNumber % 100`` to parts in proportion to the
    fractions (stable across reruns and file orderings: the HEP convention). ``by="random"``
    shuffles with ``seed``, stratified by ``y`` when it is given.
    """
    f = _check_fractions(fractions)
    edges = np.concatenate([[0.0], np.cumsum(f)])
    edges[-1] = 1.0
    if by == "event_number":
        if event_number is None:
            raise ConfigError("split by 'event_number' needs the eventNumber of every event")
        bucket = _hash_event_number(np.asarray(event_number), 100) / 100.0
        part = np.searchsorted(edges[1:-1], bucket, side="right")
        return [np.flatnonzero(part == i).astype(np.int64) for i in range(f.size)]
    if by != "random":
        raise ConfigError(f"split 'by' must be 'event_number' or 'random'; got '{by}'")
    rng = np.random.default_rng(seed)
    groups = [np.arange(n)] if y is None else [np.flatnonzero(y == c) for c in np.unique(y)]
    parts: list[list[NDArray[np.int64]]] = [[] for _ in range(f.size)]
    for g in groups:
        g = rng.permutation(g)
        cuts = np.round(edges * g.size).astype(np.int64)
        for i in range(f.size):
            parts[i].append(g[cuts[i] : cuts[i + 1]])
    return [np.sort(np.concatenate(p)).astype(np.int64) for p in parts]


def kfold_indices(
    n: int,
    k: int,
    *,
    by: Literal["event_number", "random"] = "event_number",
    seed: int = 0,
    y: NDArray[np.int64] | None = None,
    event_number: NDArray[np.int64] | None = None,
) -> list[tuple[NDArray[np.int64], NDArray[np.int64]]]:
    """(train, test) index pairs; every event is in exactly one test fold."""
    if not isinstance(k, int | np.integer) or k < 2:
        raise ConfigError(f"k-fold needs an integer k >= 2; got {k!r}")
    if by == "event_number":
        if event_number is None:
            raise ConfigError("k-fold by 'event_number' needs the eventNumber of every event")
        fold = _hash_event_number(np.asarray(event_number), int(k))
    elif by == "random":
        rng = np.random.default_rng(seed)
        fold = np.empty(n, dtype=np.int64)
        groups = [np.arange(n)] if y is None else [np.flatnonzero(y == c) for c in np.unique(y)]
        offset = 0
        for g in groups:
            g = rng.permutation(g)
            fold[g] = (np.arange(g.size) + offset) % k
            offset += g.size
    else:
        raise ConfigError(f"k-fold 'by' must be 'event_number' or 'random'; got '{by}'")
    all_idx = np.arange(n, dtype=np.int64)
    return [(all_idx[fold != i], all_idx[fold == i]) for i in range(int(k))]
