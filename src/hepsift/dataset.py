"""The Dataset value: what every model trains on and every evaluation reads.

A :class:`Dataset` is a frozen value, not a framework: ``X`` float32 (n, d) with
``feature_names``, ``y`` int64 (n,) with ``class_names``, ``weight`` float64 (n,) holding the true
physics weights (may be negative: MC weights), and optional per-event extras: ``param`` (the
physics parameter of parametric models, e.g. a mass in GeV), ``event_number`` (for the HEP
k-fold convention), ``sample`` (index into ``sample_names``), ``objects``
(:class:`~hepsift.features.objects.ObjectInputs`, ``values`` float32 (n, slots, fields) and
``mask`` bool (n, slots), for set models; a ``(values, mask)`` pair is converted) and ``images`` (n, C, H, W). Splitting returns new Datasets; nothing mutates.

Evaluation always uses ``weight``. Training uses :func:`training_weights` (also as
:meth:`Dataset.training_weight`, and re-exported by :mod:`hepsift.train.weights` for the model
families): the one place where the negative-weight policy (``keep`` | ``abs`` | ``drop``) and
class weighting (``"balanced"`` or per-class factors) are applied.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from hepsift.errors import ConfigError, DataError, suggest
from hepsift.features.objects import ObjectInputs, as_object_inputs

__all__ = [
    "NEGATIVE_POLICIES",
    "Dataset",
    "NegativeWeightPolicy",
    "check_negative_policy",
    "kfold_indices",
    "split_indices",
    "training_weights",
]

NegativeWeightPolicy = Literal["keep", "abs", "drop"]
NEGATIVE_POLICIES = ("keep", "abs", "drop")


@dataclass(frozen=True, eq=False)
class Dataset:
    """Features, labels and weights of a set of events (see the module docstring)."""

    X: NDArray[np.float32]
    y: NDArray[np.int64]
    weight: NDArray[np.float64]
    feature_names: tuple[str, ...]
    class_names: tuple[str, ...] = ("background", "signal")
    param: NDArray[np.float64] | None = None
    event_number: NDArray[np.integer[Any]] | None = None
    sample: NDArray[np.int64] | None = None
    sample_names: tuple[str, ...] = ()
    objects: ObjectInputs | None = None
    images: NDArray[np.floating[Any]] | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    train_factor: NDArray[np.float64] | None = None

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
            ("event_number", None),
            ("sample", np.int64),
            ("train_factor", np.float64),
        ):
            value = getattr(self, name)
            if value is not None:
                arr = _event_numbers(value) if dtype is None else np.asarray(value).astype(dtype)
                if arr.shape != (n,):
                    raise DataError(f"Dataset.{name} must have shape ({n},); got {arr.shape}")
                object.__setattr__(self, name, arr)
        if self.images is not None and len(self.images) != n:
            raise DataError(f"Dataset.images has {len(self.images)} entries for {n} events")
        if self.objects is not None:
            objects = as_object_inputs(self.objects, where="Dataset.objects")
            if len(objects) != n:
                raise DataError(f"Dataset.objects has {len(objects)} entries for {n} events")
            object.__setattr__(self, "objects", objects)

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
            train_factor=take(self.train_factor),
        )

    def select_features(self, names: Sequence[str]) -> Dataset:
        """A new Dataset with only the named feature columns, in that order."""
        cols = []
        for name in names:
            if name not in self.feature_names:
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

        ``training_weights(self.y, self.weight * self.train_factor, negative=negative,
        class_weight="balanced" if balance_classes else None, classes=self.class_names)``: see
        :func:`training_weights`; ``train_factor`` (a training-only reweighting, e.g. of the
        background's pT spectrum to the signal's) is 1 when absent.
        """
        w = self.weight if self.train_factor is None else self.weight * self.train_factor
        return training_weights(
            self.y,
            w,
            negative=negative,
            class_weight="balanced" if balance_classes else None,
            classes=self.class_names,
        )

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


#: eventNumber splits assign ``eventNumber % EVENT_NUMBER_BUCKETS`` buckets to the parts
EVENT_NUMBER_BUCKETS = 100


def _event_numbers(value: ArrayLike) -> NDArray[np.integer[Any]]:
    """Event numbers in the file's own integer type (uint64 stays uint64: no wrap through int64).

    Floating event numbers (a CSV column) must hold whole numbers; they become int64.
    """
    arr = np.asarray(value)
    if np.issubdtype(arr.dtype, np.integer):
        return arr
    if np.issubdtype(arr.dtype, np.floating) and np.all(np.isfinite(arr)):
        as_int = arr.astype(np.int64)
        if np.array_equal(as_int, arr):
            return as_int
    raise DataError(
        f"Dataset.event_number must hold whole numbers (an integer eventNumber branch); "
        f"got dtype {arr.dtype}"
    )


def _event_bucket(event_number: ArrayLike, modulus: int) -> NDArray[np.int64]:
    """``eventNumber mod modulus`` in [0, modulus), taken in the array's own integer type.

    Unsigned numbers >= 2^63 are reduced as unsigned; negative numbers follow the floor
    convention of Python and NumPy (-1 -> modulus - 1), so every event gets a bucket.
    """
    evno = _event_numbers(event_number)
    return np.asarray(np.mod(evno, evno.dtype.type(modulus)), dtype=np.int64)


def _bucket_edges(f: NDArray[np.float64], buckets: int) -> NDArray[np.int64]:
    """Integer bucket edges ``0 = e_0 <= ... <= e_k = buckets``: part i takes buckets
    ``e_i <= b < e_{i+1}``, i.e. ``round(buckets * cumsum(fractions))`` computed without the
    float cumulative sum drifting past an integer (0.1 + 0.2 != 0.3)."""
    edges = np.rint(np.cumsum(f) * buckets).astype(np.int64)
    edges = np.concatenate([[0], edges])
    edges[-1] = buckets
    if np.any(np.diff(edges) <= 0):
        raise ConfigError(
            f"split fractions {[float(x) for x in f]} leave a part without any of the "
            f"{buckets} eventNumber buckets; use fractions of at least {1 / buckets:g}"
        )
    return edges


def split_indices(
    n: int,
    fractions: Sequence[float],
    *,
    by: Literal["event_number", "random"] = "random",
    seed: int = 0,
    y: NDArray[np.int64] | None = None,
    event_number: NDArray[np.integer[Any]] | None = None,
) -> list[NDArray[np.int64]]:
    """Disjoint sorted index arrays covering ``range(n)`` in the given fractions.

    ``by="event_number"`` assigns events by ``eventNumber % 100`` (taken in the file's integer
    type; negative numbers map to 100 + remainder) to parts by integer bucket edges
    ``round(100 * cumsum(fractions))``: fractions (0.1, 0.2, 0.7) take buckets 0-9, 10-29,
    30-99, exactly 10/20/70 % of consecutive event numbers. Stable across reruns and file
    orderings: the HEP convention. ``by="random"`` shuffles with ``seed``, stratified by ``y``
    when it is given.
    """
    f = _check_fractions(fractions)
    if by == "event_number":
        if event_number is None:
            raise ConfigError("split by 'event_number' needs the eventNumber of every event")
        edges = _bucket_edges(f, EVENT_NUMBER_BUCKETS)
        bucket = _event_bucket(event_number, EVENT_NUMBER_BUCKETS)
        part = np.searchsorted(edges[1:-1], bucket, side="right")
        return [np.flatnonzero(part == i).astype(np.int64) for i in range(f.size)]
    edges_f = np.concatenate([[0.0], np.cumsum(f)])
    edges_f[-1] = 1.0
    if by != "random":
        raise ConfigError(f"split 'by' must be 'event_number' or 'random'; got '{by}'")
    rng = np.random.default_rng(seed)
    groups = [np.arange(n)] if y is None else [np.flatnonzero(y == c) for c in np.unique(y)]
    parts: list[list[NDArray[np.int64]]] = [[] for _ in range(f.size)]
    for g in groups:
        g = rng.permutation(g)
        cuts = np.round(edges_f * g.size).astype(np.int64)
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
    event_number: NDArray[np.integer[Any]] | None = None,
) -> list[tuple[NDArray[np.int64], NDArray[np.int64]]]:
    """(train, test) index pairs; every event is in exactly one test fold."""
    if not isinstance(k, int | np.integer) or k < 2:
        raise ConfigError(f"k-fold needs an integer k >= 2; got {k!r}")
    if by == "event_number":
        if event_number is None:
            raise ConfigError("k-fold by 'event_number' needs the eventNumber of every event")
        fold = _event_bucket(event_number, int(k))
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


# -- training weights ------------------------------------------------------------------------
def check_negative_policy(policy: str) -> None:
    """ConfigError unless ``policy`` is one of :data:`NEGATIVE_POLICIES`."""
    if policy not in NEGATIVE_POLICIES:
        raise ConfigError(
            f"negative_weights '{policy}' is not one of {list(NEGATIVE_POLICIES)}"
            f"{suggest(str(policy), NEGATIVE_POLICIES)}"
        )


def training_weights(
    y: NDArray[np.int64],
    w: NDArray[np.float64],
    *,
    negative: str = "keep",
    class_weight: str | Mapping[Any, float] | None = None,
    classes: Sequence[Any] | NDArray[Any] | None = None,
) -> NDArray[np.float64]:
    """Training weights of events with labels ``y`` (encoded 0..K-1) and MC weights ``w``.

    1. ``negative``: ``keep`` the signed weights, take their ``abs`` value, or ``drop`` (set to
       zero) the negative ones.
    2. Every class present in ``y`` must then have a positive total weight, else DataError (a
       class with total weight <= 0 cannot be learned: an unpenalised intercept runs away).
    3. ``class_weight``: ``None`` (weights as they are), ``"balanced"`` (class ``c`` is scaled by
       ``n / (n_present_classes * total_c)``: every class carries the same total and the mean
       weight over events is 1) or a dict ``{class index or label: factor}``.

    ``classes`` (the original labels, index = encoded label) lets ``class_weight`` dict keys be
    the user's labels as well as encoded indices, and names the classes in errors.
    """
    check_negative_policy(negative)
    y = np.asarray(y)
    out = np.asarray(w, dtype=np.float64).copy()
    if negative == "abs":
        out = np.abs(out)
    elif negative == "drop":
        out[out < 0] = 0.0
    k = int(y.max()) + 1 if y.size else 0
    if classes is not None:
        k = max(k, len(classes))
    totals = np.array([out[y == c].sum() for c in range(k)])
    names = [str(c) for c in (classes if classes is not None else range(k))]
    for c in range(k):
        if np.any(y == c) and totals[c] <= 0:
            raise DataError(
                f"class '{names[c]}' has total training weight {totals[c]:.3g} <= 0 under "
                f"negative_weights='{negative}'; cannot train or balance it "
                "(try negative_weights='abs')"
            )
    if class_weight is None:
        return out
    if isinstance(class_weight, str):
        if class_weight != "balanced":
            raise ConfigError(
                f"class_weight '{class_weight}' is not allowed (use 'balanced', a dict or None)"
                f"{suggest(class_weight, ['balanced'])}"
            )
        present = [c for c in range(k) if np.any(y == c)]
        target = y.size / max(len(present), 1)
        for c in present:
            out[y == c] *= target / totals[c]
        return out
    if isinstance(class_weight, Mapping):
        lookup: dict[str, float] = {str(key): float(v) for key, v in class_weight.items()}
        for c in range(k):
            factor = lookup.get(names[c], lookup.get(str(c)))
            if factor is not None:
                out[y == c] *= factor
        unknown = [key for key in lookup if key not in names and key not in map(str, range(k))]
        if unknown:
            raise ConfigError(
                f"class_weight names classes {unknown} that are not in the data "
                f"(classes: {names}){suggest(unknown[0], names)}"
            )
        return out
    raise ConfigError(f"class_weight must be None, 'balanced' or a dict; got {class_weight!r}")
