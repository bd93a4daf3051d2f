"""The set-model study: aggregation vs DeepSets vs a set kernel on the Higgs production modes.

Which input representation of jagged events separates ggF / VBF / WH / ZH / ttH best, and at
what cost? :func:`study` takes a multi-class :class:`~hepsift.dataset.Dataset` carrying both the
aggregated event features ``X`` and the object inputs ``objects`` (``(values, mask)``, e.g.
``configs/higgs-modes.yaml`` with an ``objects:`` section) and, for every seed, splits it
(stratified, train / validation / test), trains every :class:`Contender` and measures on the
test split:

- ``macro_auc``: the mean one-vs-rest AUC over the classes (:func:`hepsift.metrics.auc_ovr`,
  physics weights);
- ``recall``: per rare class (default WH, ZH, ttH) the weighted fraction of its test events
  whose most probable class is the true one;
- ``fit_seconds``, ``epochs`` and ``seconds_per_epoch`` (median epoch of the torch training
  loop; ``None`` for families without epochs), ``inference_rate`` (test events per second of
  ``predict_proba`` on the test events repeated to 20 000, best of 3 calls; one thread where
  the family has a thread setting).

Training weights: |physics weight| with every class at equal total weight (the higgs-modes
``balance: true``); the validation split drives early stopping where the family supports it.
The set kernel is trained on a class-stratified subsample (``max_train`` events: its kernel
matrix is N^2). The default contenders (:func:`default_contenders`): aggregation + BDT,
aggregation + MLP, DeepSets with each pooling (objects only), DeepSets (attention) + event
features, set kernel. A contender whose family is not installed is refused up front.

Results are a JSON-able dict (the study writes no files): ``per_seed`` rows, ``summary``
(mean and standard deviation over seeds per contender) and ``targets`` (DeepSets' macro AUC
against the best aggregated-feature model, paired over seeds).
:func:`hepsift.report.studies.write_sets_study` writes ``sets-study.json`` and a figure.
:func:`toy_dataset` is a synthetic five-class toy for tests and trying the command only.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hepsift.dataset import Dataset, split_indices
from hepsift.errors import ConfigError, DataError

__all__ = [
    "DEFAULT_OBJECTS",
    "MODES",
    "RARE",
    "Contender",
    "balanced_subsample",
    "default_contenders",
    "select_contenders",
    "study",
    "toy_dataset",
]

#: the five production modes, in the higgs-modes config's order
MODES = ("ggF", "VBF", "WH", "ZH", "ttH")
#: the object inputs the study uses when a config has no ``objects:`` section
DEFAULT_OBJECTS = {"photon": 2, "jet": 4, "lep": 2, "met": 1}
#: the rare classes whose recall is reported
RARE = ("WH", "ZH", "ttH")
#: the fields of the set kernel's histogram coordinates, by name (features.objects layout)
KERNEL_FIELDS = ("log_pt", "eta_rel", "dphi")


@dataclass(frozen=True)
class Contender:
    """One model of the comparison: a family, its hyperparameters and what it is fed."""

    name: str
    family: str
    params: Mapping[str, Any] = field(default_factory=dict)
    #: gets the aggregated event features ``X`` (else X with zero columns)
    table: bool = True
    #: gets the object inputs ``objects=(values, mask)``
    objects: bool = False
    #: trained on a class-stratified subsample of at most this many events (None: all)
    max_train: int | None = None
    #: the short name ``--models`` selects it by (default: the family)
    key: str = ""


def default_contenders(
    *, quick: bool = False, threads: int = 1, kernel_events: int = 2000
) -> list[Contender]:
    """The study's models; ``quick``: fewer epochs / trees for a fast look."""
    epochs = 8 if quick else 40
    net = {
        "epochs": epochs,
        "patience": 3 if quick else 6,
        "batch_size": 512,
        "num_threads": threads,
    }
    sets = {**net, "phi": (64, 64), "rho": (64,)}
    out = [
        Contender(
            "aggregation + BDT",
            "bdt",
            {"n_estimators": 60 if quick else 200, "max_depth": 4, "n_jobs": threads},
            key="bdt",
        ),
        Contender("aggregation + MLP", "mlp", {**net, "hidden": (64, 64)}, key="mlp"),
    ]
    for pooling in ("sum", "mean", "max", "attention"):
        out.append(
            Contender(
                f"DeepSets ({pooling})",
                "deepsets",
                {**sets, "pooling": pooling},
                table=False,
                objects=True,
                key=f"deepsets-{pooling}",
            )
        )
    out.append(
        Contender(
            "DeepSets (attention) + event features",
            "deepsets",
            {**sets, "pooling": "attention"},
            table=True,
            objects=True,
            key="deepsets-attention-events",
        )
    )
    out.append(
        Contender(
            "set kernel",
            "set-kernel",
            {"max_train_events": kernel_events},
            table=False,
            objects=True,
            max_train=kernel_events,
            key="set-kernel",
        )
    )
    return out


def select_contenders(contenders: Sequence[Contender], keys: Sequence[str]) -> list[Contender]:
    """The contenders named by ``keys`` (their ``key``), in the given order."""
    from hepsift.errors import suggest

    by_key = {c.key or c.family: c for c in contenders}
    out = []
    for k in keys:
        if k not in by_key:
            raise ConfigError(
                f"sets study: unknown model '{k}'{suggest(k, list(by_key))} "
                f"(known: {', '.join(by_key)})"
            )
        out.append(by_key[k])
    return out


def _null_log(message: str) -> None:
    pass


# -- toy data ----------------------------------------------------------------------------------
def toy_dataset(events_per_class: int = 200, *, seed: int = 0) -> Dataset:
    """A synthetic five-mode toy (NOT physics): photons, jets, leptons and MET as object sets
    in the :mod:`hepsift.features.objects` layout, and a few aggregated features. The modes
    differ in their numbers of jets and leptons and in the jets' spread, roughly as the real
    ones do (VBF: two forward jets; WH/ZH: one/two leptons; ttH: many central jets)."""
    from hepsift.features.objects import ObjectInputs

    rng = np.random.default_rng(seed)
    jets = {"ggF": 0.6, "VBF": 2.2, "WH": 1.5, "ZH": 1.5, "ttH": 4.5}
    leps = {"ggF": 0.02, "VBF": 0.02, "WH": 0.7, "ZH": 1.2, "ttH": 0.5}
    spread = {"ggF": 1.5, "VBF": 3.0, "WH": 1.5, "ZH": 1.5, "ttH": 1.2}
    xsec = {"ggF": 1.0, "VBF": 0.08, "WH": 0.03, "ZH": 0.02, "ttH": 0.01}
    slots = {"photon": 2, "jet": 4, "lep": 2, "met": 1}
    collections = tuple(c for c, k in slots.items() for _ in range(k))
    fields = ("log_pt", "eta_rel", "dphi", "log_E", "is_photon", "is_jet", "is_lep", "is_met")
    n = events_per_class * len(MODES)
    y = np.repeat(np.arange(len(MODES)), events_per_class)
    values = np.zeros((n, len(collections), len(fields)), dtype=np.float32)
    mask = np.zeros((n, len(collections)), dtype=bool)
    start = 0
    for coll, k in slots.items():
        cols = slice(start, start + k)
        if coll == "photon":
            count = np.full(n, 2)
        elif coll == "met":
            count = np.ones(n, dtype=np.int64)
        else:
            mean = np.array([(jets if coll == "jet" else leps)[MODES[c]] for c in y])
            count = np.minimum(rng.poisson(mean), k)
        mask[:, cols] = np.arange(k)[None, :] < count[:, None]
        sd = np.array([spread[MODES[c]] for c in y])[:, None] if coll == "jet" else 1.0
        values[:, cols, 0] = rng.normal(3.5, 0.5, (n, k))
        values[:, cols, 1] = rng.normal(0.0, 1.0, (n, k)) * sd
        values[:, cols, 2] = rng.uniform(-math.pi, math.pi, (n, k))
        values[:, cols, 3] = values[:, cols, 0] + np.abs(values[:, cols, 1]) * 0.5
        values[:, cols, 4 + list(slots).index(coll)] = 1.0
        start += k
    values[~mask] = 0.0
    jet_cols = [i for i, c in enumerate(collections) if c == "jet"]
    lep_cols = [i for i, c in enumerate(collections) if c == "lep"]
    jet_n = mask[:, jet_cols].sum(axis=1)
    lep_n = mask[:, lep_cols].sum(axis=1)
    lead_eta = np.where(mask[:, jet_cols[0]], np.abs(values[:, jet_cols[0], 1]), 0.0)
    X = np.column_stack([jet_n, lep_n, lead_eta, rng.normal(size=n)]).astype(np.float32)
    weight = np.array([xsec[MODES[c]] for c in y]) * rng.uniform(0.8, 1.2, n)
    return Dataset(
        X=X,
        y=y.astype(np.int64),
        weight=weight,
        feature_names=("jet_n", "lep_n", "jet_abs_eta_0", "noise"),
        class_names=MODES,
        objects=ObjectInputs(values, mask, fields, collections),
        meta={"toy": True},
    )


# -- one fit -----------------------------------------------------------------------------------
def _balanced(y: NDArray[np.int64], w: NDArray[np.float64], k: int) -> NDArray[np.float64]:
    """|w| with every class at equal total weight, mean 1."""
    a = np.abs(w)
    out = np.zeros_like(a)
    for c in range(k):
        sel = y == c
        tot = float(a[sel].sum())
        if tot > 0:
            out[sel] = a[sel] / tot
    return out * (len(out) / max(float(out.sum()), 1e-300))


def balanced_subsample(
    idx: NDArray[np.int64], y: NDArray[np.int64], limit: int, rng: np.random.Generator
) -> NDArray[np.int64]:
    """At most ``limit`` of the events ``idx``, the classes as equal as their counts allow."""
    if len(idx) <= limit:
        return idx
    groups = [rng.permutation(idx[y[idx] == c]) for c in np.unique(y[idx])]
    sizes = [0] * len(groups)
    left = limit
    order = sorted(range(len(groups)), key=lambda i: len(groups[i]))
    for done, i in enumerate(order):  # water-filling: small classes whole, the rest equal
        sizes[i] = min(len(groups[i]), left // (len(groups) - done))
        left -= sizes[i]
    return np.sort(np.concatenate([g[:s] for g, s in zip(groups, sizes, strict=True)]))


def _object_params(c: Contender, objects: Any) -> dict[str, Any]:
    """The set kernel's coordinates and type columns, by field name (when not given)."""
    params = dict(c.params)
    names = tuple(getattr(objects, "fields", ()) or ())
    if c.family == "set-kernel" and names and "fields" not in params:
        if all(f in names for f in KERNEL_FIELDS):
            params["fields"] = KERNEL_FIELDS
        params.setdefault("type_fields", tuple(f for f in names if f.startswith("is_")))
    return params


def _inputs(c: Contender, ds: Dataset, idx: NDArray[np.int64]) -> tuple[Any, dict[str, Any]]:
    X = ds.X[idx] if c.table else np.zeros((len(idx), 0), dtype=np.float32)
    extra: dict[str, Any] = {}
    if c.objects:
        if ds.objects is None:
            raise DataError(f"sets study: contender '{c.name}' needs object inputs")
        extra["objects"] = ds.objects[idx]
    return X, extra


def _recalls(
    y: NDArray[np.int64], proba: NDArray[np.float64], w: NDArray[np.float64], classes: Sequence[str]
) -> dict[str, float]:
    pred = np.argmax(proba, axis=1)
    out = {}
    for name in classes:
        c = list(classes).index(name)
        sel = y == c
        tot = float(w[sel].sum())
        out[name] = float(w[sel & (pred == c)].sum() / tot) if tot > 0 else math.nan
    return out


#: events the inference rate is measured on (the test events repeated), and repeats (best kept)
RATE_EVENTS = 20_000
RATE_REPEATS = 3


def _timed_predict(
    model: Any, X: Any, extra: dict[str, Any], rate_events: int = RATE_EVENTS
) -> tuple[Any, float]:
    """(probabilities of the test events, events per second of ``predict_proba``): the rate
    on the test events repeated up to ``rate_events``, the best of :data:`RATE_REPEATS`
    calls (a busy machine only ever slows a call down)."""
    proba = np.asarray(model.predict_proba(X, **extra), dtype=np.float64)
    idx = np.resize(np.arange(len(X)), max(rate_events, len(X)))
    Xr, er = X[idx], {k: v[idx] for k, v in extra.items()}
    best = math.inf
    for _ in range(RATE_REPEATS):
        t0 = time.perf_counter()
        model.predict_proba(Xr, **er)
        best = min(best, time.perf_counter() - t0)
    return proba, len(idx) / max(best, 1e-9)


def _fit_one(
    c: Contender,
    ds: Dataset,
    parts: tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]],
    seed: int,
    rare: Sequence[str],
    rate_events: int = RATE_EVENTS,
) -> dict[str, Any]:
    from hepsift.metrics import auc_ovr
    from hepsift.models import create, model_class

    train, val, test = parts
    k = ds.n_classes
    rng = np.random.default_rng(seed)
    if c.max_train is not None:
        train = balanced_subsample(train, ds.y, int(c.max_train), rng)
    cls = model_class(c.family)
    params = _object_params(c, ds.objects) if c.objects else dict(c.params)
    if cls.seed_param is not None:
        params.setdefault(cls.seed_param, seed)
    model = create(c.family, **params)
    X, extra = _inputs(c, ds, train)
    w = _balanced(ds.y[train], ds.weight[train], k)
    kwargs: dict[str, Any] = dict(extra)
    if cls.supports_eval_set and len(val):
        Xv, ev = _inputs(c, ds, val)
        kwargs["eval_set"] = (Xv, ds.y[val], _balanced(ds.y[val], ds.weight[val], k))
        kwargs.update({f"eval_{name}": v for name, v in ev.items()})
    t0 = time.perf_counter()
    model.fit(X, ds.y[train], sample_weight=w, **kwargs)
    fit_seconds = time.perf_counter() - t0
    history = getattr(model, "history_", None)
    epochs = int(history.epochs) if history is not None else None
    per_epoch = (
        float(np.median(history.seconds)) if history is not None and history.seconds else None
    )
    Xt, et = _inputs(c, ds, test)
    proba, rate = _timed_predict(model, Xt, et, rate_events)
    yt, wt = ds.y[test], ds.weight[test]
    return {
        "seed": int(seed),
        "n_train": len(train),
        "macro_auc": float(auc_ovr(yt, proba, sample_weight=wt)),
        "recall": _recalls(yt, proba, wt, [r for r in rare if r in ds.class_names]),
        "fit_seconds": fit_seconds,
        "epochs": epochs,
        "seconds_per_epoch": per_epoch,
        "inference_rate": rate,
    }


# -- the study ---------------------------------------------------------------------------------
def _warm_up(ds: Dataset, contenders: Sequence[Contender]) -> None:
    """One tiny fit per family before anything is timed: the first torch fit of a process
    pays a one-time initialisation of seconds that is no cost of the model."""
    from hepsift.models import create

    rng = np.random.default_rng(0)
    idx = np.sort(
        np.concatenate(
            [rng.permutation(np.flatnonzero(ds.y == c))[:20] for c in range(ds.n_classes)]
        )
    )
    done = set()
    for c in contenders:
        if c.family in done:
            continue
        done.add(c.family)
        params = _object_params(c, ds.objects) if c.objects else dict(c.params)
        if "epochs" in params:
            params["epochs"] = 1
        X, extra = _inputs(c, ds, idx)
        model = create(c.family, **params)
        model.fit(X, ds.y[idx], **extra)
        model.predict_proba(X, **extra)


def _check(ds: Dataset, contenders: Sequence[Contender], seeds: Sequence[int]) -> None:
    from hepsift.models import model_class

    if not contenders:
        raise ConfigError("sets study: no contenders given")
    names = [c.name for c in contenders]
    if len(set(names)) != len(names):
        raise ConfigError(f"sets study: contender names repeat: {names}")
    if not seeds:
        raise ConfigError("sets study: give at least one seed")
    if ds.n_classes < 2:
        raise DataError(f"sets study needs at least two classes; got {list(ds.class_names)}")
    for c in contenders:
        model_class(c.family)  # an unknown or not-installed family: one line, up front
        if c.objects and ds.objects is None:
            raise DataError(
                f"sets study: contender '{c.name}' needs object inputs but the data have none "
                "(add an 'objects:' section to the run config)"
            )
        if not c.objects and not c.table:
            raise ConfigError(f"sets study: contender '{c.name}' gets neither table nor objects")


def _stats(values: Sequence[float | None]) -> dict[str, float | None]:
    vals = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not vals:
        return {"mean": None, "std": None}
    std = float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0
    return {"mean": float(np.mean(vals)), "std": std}


def _summary(rows: Sequence[Mapping[str, Any]], rare: Sequence[str]) -> dict[str, Any]:
    return {
        "macro_auc": _stats([r["macro_auc"] for r in rows]),
        "recall": {c: _stats([r["recall"].get(c) for r in rows]) for c in rare},
        "fit_seconds": _stats([r["fit_seconds"] for r in rows]),
        "seconds_per_epoch": _stats([r["seconds_per_epoch"] for r in rows]),
        "inference_rate": _stats([r["inference_rate"] for r in rows]),
        "n_train": int(rows[0]["n_train"]),
    }


def _targets(
    per_seed: Mapping[str, Sequence[Mapping[str, Any]]], contenders: Sequence[Contender]
) -> dict[str, Any]:
    """DeepSets' macro AUC minus the best aggregated-feature model's, paired over seeds
    (target: >= -0.01), and DeepSets' epoch time over the MLP's (target <= 3)."""
    agg = [c.name for c in contenders if c.table and not c.objects]
    deep = [c.name for c in contenders if c.family == "deepsets"]
    out: dict[str, Any] = {}
    if not agg or not deep:
        return out
    mean = {n: float(np.mean([r["macro_auc"] for r in per_seed[n]])) for n in [*agg, *deep]}
    best = max(agg, key=lambda n: mean[n])
    out["best_aggregated"] = best
    out["deepsets_minus_best_aggregated"] = {}
    for n in deep:
        diff = [
            a["macro_auc"] - b["macro_auc"]
            for a, b in zip(per_seed[n], per_seed[best], strict=True)
        ]
        out["deepsets_minus_best_aggregated"][n] = {**_stats(diff), "target": -0.01}
    mlp = [c.name for c in contenders if c.family == "mlp"]
    if mlp:
        ref = _stats([r["seconds_per_epoch"] for r in per_seed[mlp[0]]])["mean"]
        out["epoch_time_over_mlp"] = {
            n: (
                None
                if not ref
                else (_stats([r["seconds_per_epoch"] for r in per_seed[n]])["mean"] or math.nan)
                / ref
            )
            for n in deep
        }
    return out


def study(
    ds: Dataset,
    *,
    contenders: Sequence[Contender] | None = None,
    seeds: Sequence[int] = (1, 2, 3),
    fractions: tuple[float, float, float] = (0.6, 0.2, 0.2),
    rare: Sequence[str] = RARE,
    rate_events: int = RATE_EVENTS,
    log: Callable[[str], None] = _null_log,
) -> dict[str, Any]:
    """Train and measure every contender on every seed's split (module docstring);
    ``rate_events``: the events the inference rate is measured on."""
    chosen = list(default_contenders() if contenders is None else contenders)
    _check(ds, chosen, seeds)
    rare = [r for r in rare if r in ds.class_names]
    _warm_up(ds, chosen)
    per_seed: dict[str, list[dict[str, Any]]] = {c.name: [] for c in chosen}
    for seed in seeds:
        parts = split_indices(len(ds), fractions, by="random", seed=int(seed), y=ds.y)
        train, val, test = (np.asarray(p, dtype=np.int64) for p in parts)
        for c in chosen:
            log(f"seed {seed}: {c.name}")
            row = _fit_one(c, ds, (train, val, test), int(seed), rare, rate_events)
            log(
                f"seed {seed}: {c.name}: macro AUC {row['macro_auc']:.4f}, fit "
                f"{row['fit_seconds']:.1f} s, {row['inference_rate']:.3g} events/s"
            )
            per_seed[c.name].append(row)
    counts = np.bincount(ds.y, minlength=ds.n_classes)
    return {
        "study": "sets",
        "data": {
            "toy": bool(ds.meta.get("toy", False)),
            "events": len(ds),
            "classes": list(ds.class_names),
            "events_per_class": [int(n) for n in counts],
            "features": list(ds.feature_names),
            "object_fields": list(getattr(ds.objects, "fields", ()) or ()),
            "object_slots": None
            if ds.objects is None
            else int(np.shape(next(iter(ds.objects)))[1]),
        },
        "settings": {
            "seeds": [int(s) for s in seeds],
            "fractions": list(fractions),
            "rare": list(rare),
            "rate_events": int(rate_events),
            "contenders": [
                {
                    "name": c.name,
                    "family": c.family,
                    "params": {
                        k: (list(v) if isinstance(v, tuple) else v) for k, v in c.params.items()
                    },
                    "table": c.table,
                    "objects": c.objects,
                    "max_train": c.max_train,
                }
                for c in chosen
            ],
        },
        "per_seed": per_seed,
        "summary": {name: _summary(rows, rare) for name, rows in per_seed.items()},
        "targets": _targets(per_seed, chosen),
    }
