"""The parametric-network study: one pNN against dedicated fixed-mass networks.

:func:`study` takes a :class:`~hepsift.dataset.Dataset` whose ``param`` holds the mass (GeV) of
every signal event (background ``param`` is ignored: background masses are assigned at training
time by the pNN's ``background_mass`` policy), splits it into train / validation / test
(stratified by class and signal mass) and measures, on the test split, per mass hypothesis
``m``: the ROC AUC and the background rejection ``1/eps_B`` at 50 % signal efficiency of
signal of mass ``m`` against all background (the background evaluated at hypothesis ``m``):

- ``dedicated``: one network per mass, the same architecture without ``m`` (the ``mlp``
  family), trained on signal of that mass against all background (classes balanced);
- ``pnn``: one pNN per (conditioning mechanism, background-mass policy), trained on all masses
  with (mass, class)-balanced weights;
- ``interpolation``: for each held-out mass (default: every interior mass) a pNN trained
  without that mass's signal, evaluated at it — the pNN's interpolation;
- ``timing`` (optional): seconds of a pNN fit and of one dedicated-architecture network fit on
  the same (all) training events, same epochs, no early stopping.

The metrics come from :mod:`hepsift.metrics` (weighted ROC) and the AUC errors from
:func:`hepsift.evaluate.stats.bootstrap_auc`. Results are a JSON-able dict (the study writes no files);
:func:`hepsift.report.studies.write_pnn_study` writes ``DIR/pnn-study.json`` and the PNG figures
``auc_vs_mass.png``, ``rejection_vs_mass.png`` and ``mechanisms.png`` (atomically), and
:func:`hepsift.report.studies.pnn_tables` renders the results as rich tables.

Data entry points: :func:`load_dataset` (UCI HEPMASS / HEPMASS-IMB CSV files, or the
generator's ``resonance-ttbar.parquet``), :func:`generate_dataset` (runs the
``resonance-ttbar`` generator into a cache folder and loads it) and :func:`toy_dataset` (a
synthetic HEPMASS-like toy for tests and development only: never physics results).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hepsift.dataset import Dataset, split_indices
from hepsift.errors import ConfigError, DataError, suggest
from hepsift.evaluate.stats import bootstrap_aucs

__all__ = [
    "DEDICATED",
    "MASS_DECIMALS",
    "evaluate_at_masses",
    "generate_dataset",
    "load_dataset",
    "study",
    "time_fits",
    "toy_dataset",
]

#: masses are compared after rounding to this many decimals (HEPMASS stores 499.999969)
MASS_DECIMALS = 2
#: the name of the dedicated-network entries
DEDICATED = "dedicated"
#: the signal efficiency of the background-rejection working point
WORKING_POINT = 0.5
_META_COLUMNS = ("label", "mass", "weight", "event_number", "sample", "mtt_true", "eventNumber")

Log = Callable[[str], None]


def _null_log(message: str) -> None:
    pass


def _key(m: float) -> str:
    return f"{m:g}"


# -- data ------------------------------------------------------------------------------------
def toy_dataset(
    masses: Sequence[float] = (500.0, 750.0, 1000.0, 1250.0, 1500.0),
    *,
    events_per_mass: int = 1000,
    background_events: int | None = None,
    seed: int = 0,
) -> Dataset:
    """A synthetic HEPMASS-like toy (for tests and development only; not physics).

    Features (GeV): ``m_wwbb`` (signal: Gaussian at the mass with 8 % width; background: a
    falling spectrum from 350 GeV), ``m_jjj`` (top peak, narrower for signal), ``lepton_pt`` and
    ``jet1_pt`` (harder for heavier signal), and two noise features. Background ``param`` is its
    "true" mass (like the generator's true m_tt); signal ``param`` is its mass.
    """
    rng = np.random.default_rng(seed)
    ms = np.asarray(masses, dtype=np.float64)
    n_sig = int(events_per_mass) * ms.size
    n_bkg = int(background_events) if background_events is not None else n_sig
    m_sig = np.repeat(ms, int(events_per_mass))
    m_bkg = 350.0 + rng.exponential(300.0, n_bkg)
    true_mass = np.concatenate([m_sig, m_bkg])
    y = np.concatenate([np.ones(n_sig, np.int64), np.zeros(n_bkg, np.int64)])
    n = y.size
    is_sig = y == 1
    m_wwbb = np.where(
        is_sig, rng.normal(true_mass, 0.08 * true_mass), true_mass * rng.normal(1.0, 0.1, n)
    )
    m_jjj = np.where(is_sig, rng.normal(172.5, 18.0, n), rng.normal(172.5, 35.0, n))
    lepton_pt = 25.0 + np.where(is_sig, true_mass / 5.0, 45.0) * rng.gamma(3.0, 1.0 / 3.0, n)
    jet1_pt = 25.0 + np.where(is_sig, true_mass / 3.0, 80.0) * rng.gamma(3.0, 1.0 / 3.0, n)
    X = np.column_stack([m_wwbb, m_jjj, lepton_pt, jet1_pt, rng.normal(size=(n, 2))])
    return Dataset(
        X=X.astype(np.float32),
        y=y,
        weight=np.ones(n),
        feature_names=("m_wwbb", "m_jjj", "lepton_pt", "jet1_pt", "noise1", "noise2"),
        param=true_mass,
        event_number=np.arange(n, dtype=np.int64),
        meta={"source": "toy", "toy": True},
    )


def load_dataset(
    paths: str | Path | Sequence[str | Path],
    *,
    max_events: int | None = None,
    entry_stop: int | None = None,
    seed: int = 0,
) -> Dataset:
    """Events of HEPMASS-layout files: UCI HEPMASS / HEPMASS-IMB CSV (``# label,f0..f26,mass``)
    or the generator's ``resonance-ttbar.parquet`` (which adds ``weight``, ``event_number``).

    Features are every numeric column except label, mass and bookkeeping columns. Masses are
    rounded to :data:`MASS_DECIMALS` decimals (the UCI files store 499.999969 for 500 GeV).
    ``max_events`` keeps a seeded random subset (stratified by label) of that many events;
    ``entry_stop`` reads only the first rows (the UCI files are shuffled; saves memory on the
    7-million-row ``all_train.csv.gz``).
    """
    import awkward as ak

    from hepsift.io import read

    if isinstance(paths, str | Path):
        paths = [paths]
    table = read([str(p) for p in paths], entry_stop=entry_stop)
    fields = list(ak.fields(table))
    for need in ("label", "mass"):
        if need not in fields:
            raise DataError(
                f"'{paths[0]}' has no '{need}' column{suggest(need, fields)}; the pNN study "
                f"needs the HEPMASS layout (label, features..., mass); got {fields[:8]}..."
            )
    features = [
        f for f in fields if f not in _META_COLUMNS and np.asarray(table[f]).dtype.kind in "fiub"
    ]
    if not features:
        raise DataError(f"'{paths[0]}' holds no numeric feature columns besides label and mass")
    X = np.column_stack([np.asarray(table[f], dtype=np.float64) for f in features])
    label = np.asarray(table["label"], dtype=np.float64)
    if not np.all(np.isin(label, (0.0, 1.0))):
        bad = np.unique(label[~np.isin(label, (0.0, 1.0))])[:5].tolist()
        raise DataError(f"'label' must be 0 (background) or 1 (signal); got values {bad}")
    y = label.astype(np.int64)
    mass: NDArray[np.float64] = np.asarray(
        np.round(np.asarray(table["mass"], dtype=np.float64), MASS_DECIMALS), dtype=np.float64
    )
    weight = (
        np.asarray(table["weight"], dtype=np.float64) if "weight" in fields else np.ones(y.size)
    )
    event_number = (
        np.asarray(table["event_number"], dtype=np.int64) if "event_number" in fields else None
    )
    if not np.all(np.isfinite(X)):
        bad_cols = [features[j] for j in np.flatnonzero(~np.all(np.isfinite(X), axis=0))]
        raise DataError(f"feature columns {bad_cols[:5]} contain NaN or inf")
    ds = Dataset(
        X=X.astype(np.float32),
        y=y,
        weight=weight,
        feature_names=tuple(features),
        param=mass,
        event_number=event_number,
        meta={"source": ", ".join(str(p) for p in paths), "toy": False},
    )
    if max_events is not None and max_events < len(ds):
        if max_events < 2:
            raise ConfigError(f"max_events must be >= 2; got {max_events}")
        frac = max_events / len(ds)
        keep, _ = split_indices(len(ds), (frac, 1.0 - frac), seed=seed, y=ds.y)
        ds = ds.subset(keep)
    return ds


def generate_dataset(
    masses: Sequence[float],
    *,
    events: int,
    cache: str | Path = "/tmp/pnn-data",
    seed: int = 0,
    workers: int = 1,
    progress: bool = False,
) -> Dataset:
    """Generate (or reuse from ``cache``) ``resonance-ttbar`` with ``events`` Pythia events per
    sample at the Z' ``masses`` (GeV) and load it (:func:`load_dataset`)."""
    from hepsift.generate import generate

    tag = "-".join(_key(m) for m in masses)
    out = Path(cache) / f"resonance-ttbar-ev{events}-s{seed}-m{tag}"
    parquet = out / "resonance-ttbar.parquet"
    if not parquet.is_file():
        generate(
            "resonance-ttbar",
            events=int(events),
            out=out,
            seed=int(seed),
            masses=list(masses),
            workers=int(workers),
            progress=progress,
        )
    return load_dataset(parquet)


# -- evaluation ------------------------------------------------------------------------------
def _match_masses(
    param: NDArray[np.float64], y: NDArray[np.int64], masses: Sequence[float] | None
) -> list[float]:
    sig = param[y == 1]
    if sig.size == 0:
        raise DataError("the data hold no signal events")
    if not np.all(np.isfinite(sig)):
        raise DataError("signal events need a finite mass (param); got NaN or inf")
    available = np.unique(np.round(sig, MASS_DECIMALS))
    if masses is None or len(masses) == 0:
        if available.size > 32:
            raise ConfigError(
                f"the signal has {available.size} distinct masses (a continuous range); give the "
                "mass hypotheses to study with masses=[...]"
            )
        return [float(m) for m in available]
    out = []
    for m in masses:
        m = round(float(m), MASS_DECIMALS)
        if not np.any(np.isclose(available, m)):
            near = float(available[np.argmin(np.abs(available - m))])
            raise ConfigError(
                f"mass {m:g} GeV has no signal events; available masses: "
                f"{', '.join(_key(a) for a in available[:20])}; nearest {near:g}"
            )
        out.append(m)
    if len(set(out)) != len(out):
        raise ConfigError(f"masses repeat a value: {[_key(m) for m in out]}")
    return sorted(out)


def _signal_of(ds: Dataset, m: float) -> NDArray[np.bool_]:
    assert ds.param is not None
    return np.asarray((ds.y == 1) & np.isclose(ds.param, m), dtype=bool)


def evaluate_at_masses(
    score: Callable[[NDArray[np.float32], float], NDArray[np.float64]],
    test: Dataset,
    masses: Sequence[float],
    *,
    bootstrap: int = 0,
    seed: int = 0,
) -> dict[str, dict[str, float]]:
    """Per mass ``m`` (key ``"1000"``): AUC and background rejection at 50 % signal efficiency
    of ``score(X, m)`` for test signal of mass ``m`` against all test background, with the test
    events' physics weights; plus the event counts. With ``bootstrap=B`` also ``auc_err``: the
    standard deviation of the AUC over B Poisson-bootstrap replicas of the test events."""
    from hepsift.metrics import roc_curve

    out: dict[str, dict[str, float]] = {}
    bkg = test.y == 0
    for m in masses:
        sel = bkg | _signal_of(test, m)
        s = np.asarray(score(test.X[sel], m), dtype=np.float64)
        roc = roc_curve(test.y[sel], s, sample_weight=test.weight[sel])
        out[_key(m)] = {
            "auc": roc.auc,
            "rejection50": float(roc.background_rejection_at(WORKING_POINT)),
            "n_signal": int(np.sum(test.y[sel] == 1)),
            "n_background": int(np.sum(bkg)),
        }
        if bootstrap > 0:
            reps = bootstrap_aucs([s], test.y[sel] == 1, test.weight[sel], n=bootstrap, seed=seed)[
                0
            ]
            out[_key(m)]["auc_err"] = float(np.std(reps, ddof=1))
    return out


def _paired_std(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    if a.size != b.size or a.size < 2:  # a replica without both classes was dropped
        return math.nan
    return float(np.std(a - b, ddof=1))


def _summary(per_mass: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    aucs = [v["auc"] for v in per_mass.values()]
    rej = [v["rejection50"] for v in per_mass.values() if math.isfinite(v["rejection50"])]
    return {
        "mean_auc": float(np.mean(aucs)) if aucs else math.nan,
        "mean_rejection50": float(np.mean(rej)) if rej else math.nan,
    }


# -- the study -------------------------------------------------------------------------------
def _net_params(
    hidden: Sequence[int],
    activation: str,
    dropout: float,
    lr: float,
    weight_decay: float,
    batch_size: int,
    epochs: int,
    patience: int,
    num_threads: int | None,
    seed: int,
) -> dict[str, Any]:
    return {
        "hidden": tuple(int(h) for h in hidden),
        "activation": activation,
        "dropout": float(dropout),
        "lr": float(lr),
        "weight_decay": float(weight_decay),
        "batch_size": int(batch_size),
        "epochs": int(epochs),
        "patience": int(patience),
        "num_threads": num_threads,
        "seed": int(seed),
    }


def _fit_pnn(
    train: Dataset,
    valid: Dataset | None,
    params: Mapping[str, Any],
    mechanism: str,
    policy: str,
) -> tuple[Any, float]:
    from hepsift.models.pnn import PNN

    model = PNN(mechanism=mechanism, background_mass=policy, **params)
    kw: dict[str, Any] = {}
    if valid is not None and np.any(valid.y == 1) and np.any(valid.y == 0):
        kw = {"eval_set": (valid.X, valid.y, valid.weight), "eval_param": valid.param}
    t0 = time.perf_counter()
    model.fit(train.X, train.y, sample_weight=train.weight, param=train.param, **kw)
    return model, time.perf_counter() - t0


def _fit_dedicated(
    train: Dataset, valid: Dataset | None, params: Mapping[str, Any], m: float
) -> tuple[Any, float]:
    from hepsift.models.mlp import MLP

    keep = (train.y == 0) | _signal_of(train, m)
    tr = train.subset(keep)
    model = MLP(class_weight="balanced", **params)
    kw: dict[str, Any] = {}
    if valid is not None:
        vk = (valid.y == 0) | _signal_of(valid, m)
        va = valid.subset(vk)
        if np.any(va.y == 1) and np.any(va.y == 0):
            from hepsift.train.weights import training_weights

            wv = training_weights(va.y, va.weight, class_weight="balanced")
            kw = {"eval_set": (va.X, va.y, wv)}
    t0 = time.perf_counter()
    model.fit(tr.X, tr.y, sample_weight=tr.weight, **kw)
    return model, time.perf_counter() - t0


def _scorer(
    model: Any, *, parametric: bool
) -> Callable[[NDArray[np.float32], float], NDArray[np.float64]]:
    def score(X: NDArray[np.float32], m: float) -> NDArray[np.float64]:
        if parametric:
            return np.asarray(model.decision_score(X, m), dtype=np.float64)
        return np.asarray(model.decision_score(X), dtype=np.float64)

    return score


def _drop_mass(ds: Dataset, m: float) -> Dataset:
    return ds.subset(~_signal_of(ds, m))


def time_fits(
    train: Dataset,
    *,
    mechanism: str = "affine",
    policy: str = "uniform",
    epochs: int = 5,
    repeats: int = 1,
    params: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Seconds of a pNN fit and of one dedicated-architecture network (``mlp``, no mass input)
    fit on the same training events, ``epochs`` epochs each, no early stopping; interleaved
    ``repeats`` times, the median of each is kept. Returns both and their ratio."""
    from hepsift.models.mlp import MLP
    from hepsift.models.pnn import PNN

    base = dict(params or {})
    base.update(epochs=int(epochs), patience=int(epochs) + 1)
    _warm_up()
    # one 1-epoch fit of each on the same events first: the first fits in a process pay
    # one-off costs (thread pools, allocator growth) that are not the model's
    warm = {**base, "epochs": 1}
    for _ in range(2):
        MLP(class_weight="balanced", **warm).fit(train.X, train.y, sample_weight=train.weight)
        PNN(mechanism=mechanism, background_mass=policy, **warm).fit(
            train.X, train.y, sample_weight=train.weight, param=train.param
        )
    pnn_s: list[float] = []
    mlp_s: list[float] = []
    pnn_c: list[float] = []
    mlp_c: list[float] = []
    for _ in range(max(1, int(repeats))):
        t0, c0 = time.perf_counter(), time.process_time()
        MLP(class_weight="balanced", **base).fit(train.X, train.y, sample_weight=train.weight)
        mlp_s.append(time.perf_counter() - t0)
        mlp_c.append(time.process_time() - c0)
        t0, c0 = time.perf_counter(), time.process_time()
        PNN(mechanism=mechanism, background_mass=policy, **base).fit(
            train.X, train.y, sample_weight=train.weight, param=train.param
        )
        pnn_s.append(time.perf_counter() - t0)
        pnn_c.append(time.process_time() - c0)
    p, d = float(np.median(pnn_s)), float(np.median(mlp_s))
    pc, dc = float(np.median(pnn_c)), float(np.median(mlp_c))
    return {
        "events": len(train),
        "epochs": int(epochs),
        "repeats": int(repeats),
        "pnn_seconds": p,
        "dedicated_seconds": d,
        "ratio": p / d if d > 0 else math.nan,
        "pnn_cpu_seconds": pc,
        "dedicated_cpu_seconds": dc,
        "cpu_ratio": pc / dc if dc > 0 else math.nan,
        "target_ratio_max": 1.5,
    }


def _warm_up() -> None:
    """Import what every fit uses, so that the first fit timed does not pay for the imports."""
    import importlib

    for module in (
        "torch",
        "hepsift.models.boosting",
        "hepsift.models.mlp",
        "hepsift.models.pnn",
        "hepsift.train.torch_loop",
        "hepsift.features.scaling",
        "hepsift.metrics",
    ):
        importlib.import_module(module)


def _holdout_masses(holdout: str | Sequence[float] | None, masses: Sequence[float]) -> list[float]:
    if holdout is None or holdout == "none":
        return []
    if isinstance(holdout, str):
        if holdout == "interior":
            return list(masses[1:-1])
        if holdout == "all":
            return list(masses)
        allowed = ("interior", "all", "none")
        raise ConfigError(
            f"holdout '{holdout}' is not one of {list(allowed)} or a list of masses"
            f"{suggest(holdout, allowed)}"
        )
    out = []
    for m in holdout:
        m = round(float(m), MASS_DECIMALS)
        if not any(math.isclose(m, x) for x in masses):
            raise ConfigError(
                f"holdout mass {m:g} GeV is not one of the studied masses "
                f"{[_key(x) for x in masses]}"
            )
        out.append(m)
    return out


@dataclass(frozen=True)
class _Splits:
    """The study's train / validation (optional) / test events and its mass points."""

    train: Dataset
    valid: Dataset | None
    test: Dataset
    masses: list[float]
    held: list[float]


def _check_request(
    dataset: Dataset,
    mechanisms: Sequence[str],
    policies: Sequence[str],
) -> None:
    from hepsift.models.pnn import BACKGROUND_MASS_POLICIES, MECHANISMS

    if dataset.param is None:
        raise DataError(
            "the pNN study needs the mass of every signal event (Dataset.param); load the data "
            "with a mass column (HEPMASS layout 'mass', or param_branch: mass in a config)"
        )
    if dataset.n_features == 0:
        raise DataError(
            "the pNN study got data without feature columns (a run config lists them under "
            "'features:', e.g. [f0, f1, ..., f25])"
        )
    if dataset.n_classes != 2:
        raise DataError(
            f"the pNN study needs 2 classes (background, signal); got {list(dataset.class_names)}"
        )
    for name in mechanisms:
        if name not in MECHANISMS:
            raise ConfigError(
                f"mechanism '{name}' is not one of {list(MECHANISMS)}{suggest(name, MECHANISMS)}"
            )
    for name in policies:
        if name not in BACKGROUND_MASS_POLICIES:
            raise ConfigError(
                f"background-mass policy '{name}' is not one of {list(BACKGROUND_MASS_POLICIES)}"
                f"{suggest(name, BACKGROUND_MASS_POLICIES)}"
            )


def _split_study(
    dataset: Dataset,
    masses: Sequence[float] | None,
    holdout: str | Sequence[float] | None,
    fractions: Sequence[float],
    seed: int,
) -> _Splits:
    """Background and the signal of the studied masses, split stratified by class and mass."""
    assert dataset.param is not None
    param: NDArray[np.float64] = np.asarray(
        np.round(np.asarray(dataset.param, dtype=np.float64), MASS_DECIMALS), dtype=np.float64
    )
    mass_list = _match_masses(param, dataset.y, masses)
    held = _holdout_masses(holdout, mass_list)
    sig_mass = np.isclose(param[:, None], np.asarray(mass_list)[None, :]).any(axis=1)
    keep = (dataset.y == 0) | ((dataset.y == 1) & sig_mass)
    ds = replace(dataset, param=param).subset(keep)
    assert ds.param is not None
    if not np.any(ds.y == 0):
        raise DataError("the data hold no background events")
    cell = np.where(ds.y == 1, 1 + np.searchsorted(mass_list, np.round(ds.param, MASS_DECIMALS)), 0)
    parts = split_indices(len(ds), fractions, seed=seed, y=cell)
    if len(parts) == 3:
        train, valid, test = (ds.subset(p) for p in parts)
        return _Splits(train, valid, test, mass_list, held)
    if len(parts) == 2:
        train, test = (ds.subset(p) for p in parts)
        return _Splits(train, None, test, mass_list, held)
    raise ConfigError(f"fractions must give 2 (train, test) or 3 parts; got {list(fractions)}")


def _describe(
    dataset: Dataset, sp: _Splits, settings: dict[str, Any], params: Mapping[str, Any]
) -> dict[str, Any]:
    """The result's header: masses, settings and the event counts of each split."""
    return {
        "masses_gev": sp.masses,
        "settings": {
            **settings,
            "holdout": [float(m) for m in sp.held],
            "network": {k: (list(v) if isinstance(v, tuple) else v) for k, v in params.items()},
            "working_point_signal_efficiency": WORKING_POINT,
        },
        "data": {
            "source": str(dataset.meta.get("source", "")),
            "toy": bool(dataset.meta.get("toy", False)),
            "features": len(sp.train.feature_names),
            "train": len(sp.train),
            "validation": 0 if sp.valid is None else len(sp.valid),
            "test": len(sp.test),
            "signal_per_mass_train": {
                _key(m): int(_signal_of(sp.train, m).sum()) for m in sp.masses
            },
            "background_train": int(np.sum(sp.train.y == 0)),
        },
    }


def _run_dedicated(
    sp: _Splits, params: Mapping[str, Any], boot: Mapping[str, int], say: Log
) -> tuple[dict[str, Any], dict[str, Any]]:
    """One fixed-mass network per mass: (result entry, models by mass key)."""
    per: dict[str, dict[str, float]] = {}
    secs: dict[str, float] = {}
    fitted: dict[str, Any] = {}
    for m in sp.masses:
        say(f"dedicated network at {m:g} GeV")
        model, s = _fit_dedicated(sp.train, sp.valid, params, m)
        fitted[_key(m)] = model
        per.update(evaluate_at_masses(_scorer(model, parametric=False), sp.test, [m], **boot))
        secs[_key(m)] = s
    return {"per_mass": per, "seconds": secs, **_summary(per)}, fitted


def _run_grid(
    sp: _Splits,
    params: Mapping[str, Any],
    combos: Sequence[tuple[str, str]],
    boot: Mapping[str, int],
    say: Log,
) -> dict[str, Any]:
    """One pNN per (mechanism, policy), trained on all masses and evaluated at each."""
    grid: dict[str, Any] = {}
    for mech, pol in combos:
        say(f"pNN {mech} / {pol}")
        model, s = _fit_pnn(sp.train, sp.valid, params, mech, pol)
        per = evaluate_at_masses(_scorer(model, parametric=True), sp.test, sp.masses, **boot)
        grid[f"{mech}/{pol}"] = {
            "mechanism": mech,
            "policy": pol,
            "per_mass": per,
            "seconds": s,
            "epochs_run": int(model.history_.epochs),
            **_summary(per),
        }
    return grid


def _run_interpolation(
    sp: _Splits,
    params: Mapping[str, Any],
    main: tuple[str, str],
    result: Mapping[str, Any],
    dedicated: Mapping[str, Any],
    boot: Mapping[str, int],
    say: Log,
) -> dict[str, Any]:
    """Per held-out mass, a pNN trained without that mass's signal, evaluated at it, and
    compared with the pNN trained on it and the dedicated network (paired bootstrap error)."""
    mech, pol = main
    trained = result["pnn"][f"{mech}/{pol}"]["per_mass"]
    held_out: dict[str, Any] = {}
    for m in sp.held:
        say(f"pNN without the {m:g} GeV signal")
        va = None if sp.valid is None else _drop_mass(sp.valid, m)
        model, s = _fit_pnn(_drop_mass(sp.train, m), va, params, mech, pol)
        res = evaluate_at_masses(_scorer(model, parametric=True), sp.test, [m], **boot)
        entry = {**res[_key(m)], "seconds": s, "auc_trained": trained[_key(m)]["auc"]}
        if DEDICATED in result:
            entry["auc_dedicated"] = result[DEDICATED]["per_mass"][_key(m)]["auc"]
            entry["delta_vs_dedicated"] = entry["auc"] - entry["auc_dedicated"]
            if boot["bootstrap"] > 0:
                test = sp.test.subset((sp.test.y == 0) | _signal_of(sp.test, m))
                # paired bootstrap: both scores see the same Poisson counts per replica
                a, b = bootstrap_aucs(
                    [model.decision_score(test.X, m), dedicated[_key(m)].decision_score(test.X)],
                    test.y == 1,
                    test.weight,
                    n=boot["bootstrap"],
                    seed=boot["seed"],
                )
                entry["delta_err"] = _paired_std(a, b)
        held_out[_key(m)] = entry
    return {"mechanism": mech, "policy": pol, "held_out": held_out}


def study(
    dataset: Dataset,
    *,
    masses: Sequence[float] | None = None,
    seed: int = 0,
    mechanism: str = "affine",
    policy: str = "uniform",
    mechanisms: Sequence[str] = ("concat", "bias", "scale", "affine"),
    policies: Sequence[str] = ("uniform", "identical"),
    holdout: str | Sequence[float] | None = "interior",
    dedicated: bool = True,
    timing: bool = False,
    timing_epochs: int = 5,
    timing_repeats: int = 3,
    hidden: Sequence[int] = (64, 64),
    activation: str = "relu",
    dropout: float = 0.0,
    lr: float = 1e-3,
    weight_decay: float = 1e-4,
    batch_size: int = 256,
    epochs: int = 40,
    patience: int = 6,
    fractions: Sequence[float] = (0.6, 0.2, 0.2),
    bootstrap: int = 200,
    num_threads: int | None = None,
    log: Log | None = None,
) -> dict[str, Any]:
    """Run the pNN study on ``dataset`` (see the module docstring); return the results dict.

    ``mechanism`` / ``policy`` choose the pNN used for the interpolation and timing; the grid
    ``mechanisms`` x ``policies`` is compared in one table. ``holdout``: ``"interior"`` (every
    mass but the lowest and highest), ``"all"``, ``"none"`` or a list of masses (GeV).
    ``bootstrap``: Poisson-bootstrap replicas of the test events for the AUC errors
    (``auc_err``) and the paired error of each held-out-minus-dedicated AUC difference
    (``delta_err``); 0 skips them.
    """
    say = log or _null_log
    _check_request(dataset, (mechanism, *mechanisms), (policy, *policies))
    sp = _split_study(dataset, masses, holdout, fractions, seed)
    params = _net_params(
        hidden, activation, dropout, lr, weight_decay, batch_size, epochs, patience,
        num_threads, seed,
    )  # fmt: skip
    settings = {
        "seed": int(seed),
        "mechanism": mechanism,
        "policy": policy,
        "mechanisms": list(mechanisms),
        "policies": list(policies),
        "fractions": [float(f) for f in fractions],
    }
    result = _describe(dataset, sp, settings, params)
    _warm_up()
    boot = {"bootstrap": int(bootstrap), "seed": int(seed)}
    ded_models: dict[str, Any] = {}
    if dedicated:
        result[DEDICATED], ded_models = _run_dedicated(sp, params, boot, say)
    combos = [(mech, pol) for mech in mechanisms for pol in policies]
    if (mechanism, policy) not in combos:
        combos.append((mechanism, policy))
    result["pnn"] = _run_grid(sp, params, combos, boot, say)
    result["interpolation"] = _run_interpolation(
        sp, params, (mechanism, policy), result, ded_models, boot, say
    )
    if timing:
        say("timing: pNN vs one dedicated-architecture network on the same events")
        result["timing"] = time_fits(
            sp.train,
            mechanism=mechanism,
            policy=policy,
            epochs=timing_epochs,
            repeats=timing_repeats,
            params={k: v for k, v in params.items() if k not in ("epochs", "patience")},
        )
    result["targets"] = _targets(result)
    return result


def _targets(result: Mapping[str, Any]) -> dict[str, Any]:
    t: dict[str, Any] = {}
    held = result.get("interpolation", {}).get("held_out", {})
    deltas = {k: v["delta_vs_dedicated"] for k, v in held.items() if "delta_vs_dedicated" in v}
    if deltas:
        t["interpolation_min_delta_auc"] = float(min(deltas.values()))
        t["interpolation_ok"] = bool(all(d >= -0.01 for d in deltas.values()))
    grid = result.get("pnn", {})
    for pol in result["settings"]["policies"]:
        a, c = grid.get(f"affine/{pol}"), grid.get(f"concat/{pol}")
        if a and c:
            t[f"affine_minus_concat_mean_auc/{pol}"] = a["mean_auc"] - c["mean_auc"]
    if "timing" in result:
        t["timing_ratio"] = result["timing"]["ratio"]
        t["timing_ok"] = bool(result["timing"]["ratio"] <= 1.5)
        t["timing_cpu_ratio"] = result["timing"]["cpu_ratio"]
    return t
