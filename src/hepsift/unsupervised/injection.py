"""Injected-signal evaluation (the LHC Olympics 2020 way): background plus a small signal whose
labels the method never sees; the labels only score the method afterwards.

:func:`inject` draws ``round(fraction * n_background)`` signal events (without replacement,
seeded) and shuffles them into the background: an :class:`Injected` sample whose ``X`` and
``mass`` go to the method and whose ``is_signal`` stays with the evaluation. The signal events
not injected are returned apart (``spare_X``): a supervised classifier may train on them to
give the upper bound (:func:`supervised_upper_bound`).

:func:`score_report` turns a score (higher = more signal-like / anomalous) into the numbers the
issue asks for: ROC AUC, the significance improvement characteristic
``SIC = eff_S / sqrt(eff_B)`` along the ROC, its maximum over cuts keeping at least
``min_background`` background events (tighter cuts are noise), and the signal efficiency at a
background efficiency of 1 %. Events are counted with unit weights unless weights are given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from hepsift.errors import ConfigError, DataError

__all__ = ["Injected", "inject", "score_report", "supervised_upper_bound"]

F64 = NDArray[np.float64]


@dataclass(frozen=True)
class Injected:
    """Background with injected signal: ``X``, ``mass`` and ``weight`` for the method,
    ``is_signal`` for scoring only; ``spare_X`` / ``spare_mass``: signal events not injected."""

    X: F64
    mass: F64
    weight: F64
    is_signal: NDArray[np.bool_]
    spare_X: F64
    spare_mass: F64
    fraction: float

    @property
    def n_signal(self) -> int:
        return int(self.is_signal.sum())

    @property
    def n_background(self) -> int:
        return int((~self.is_signal).sum())


def inject(
    background: tuple[ArrayLike, ArrayLike],
    signal: tuple[ArrayLike, ArrayLike],
    *,
    fraction: float,
    seed: int = 0,
) -> Injected:
    """``background`` and ``signal`` are ``(X, mass)`` pairs; inject ``fraction`` (signal
    events per background event, e.g. 0.01) of the signal into the background."""
    Xb, mb = (np.asarray(a, dtype=np.float64) for a in background)
    Xs, ms = (np.asarray(a, dtype=np.float64) for a in signal)
    if not 0.0 <= float(fraction) <= 1.0:
        raise ConfigError(f"injection fraction must be in [0, 1]; got {fraction}")
    if Xb.ndim != 2 or Xs.ndim != 2 or Xb.shape[1] != Xs.shape[1]:
        raise DataError(f"background X {Xb.shape} and signal X {Xs.shape} must share columns")
    if mb.shape != (len(Xb),) or ms.shape != (len(Xs),):
        raise DataError("mass must hold one value per event")
    n_sig = round(float(fraction) * len(Xb))
    if n_sig > len(Xs):
        raise DataError(
            f"injecting {fraction:g} of {len(Xb)} background events needs {n_sig} signal "
            f"events; only {len(Xs)} are available"
        )
    rng = np.random.default_rng(seed)
    pick = rng.permutation(len(Xs))
    chosen, spare = pick[:n_sig], pick[n_sig:]
    X = np.concatenate([Xb, Xs[chosen]])
    mass = np.concatenate([mb, ms[chosen]])
    truth = np.concatenate([np.zeros(len(Xb), bool), np.ones(n_sig, bool)])
    order = rng.permutation(len(X))
    return Injected(
        X[order], mass[order], np.ones(len(X)), truth[order], Xs[spare], ms[spare], float(fraction)
    )


def score_report(
    score: ArrayLike,
    is_signal: ArrayLike,
    *,
    weight: ArrayLike | None = None,
    min_background: int = 10,
    background_efficiency: float = 0.01,
) -> dict[str, Any]:
    """AUC, max SIC, eff_S at ``background_efficiency``, and the SIC curve (module docstring)."""
    from hepsift.metrics import roc_curve

    s = np.asarray(score, dtype=np.float64)
    truth = np.asarray(is_signal, dtype=bool)
    w = np.ones(len(s)) if weight is None else np.asarray(weight, dtype=np.float64)
    roc = roc_curve(truth.astype(int), s, sample_weight=w)
    eff_s, eff_b = roc.signal_efficiency, roc.background_efficiency
    n_b = float(w[~truth].sum())
    ok = eff_b * n_b >= float(min_background)
    sic = np.zeros_like(eff_s)
    np.divide(eff_s, np.sqrt(eff_b), out=sic, where=eff_b > 0)
    best = int(np.argmax(np.where(ok, sic, -np.inf)))
    at = float(np.interp(background_efficiency, eff_b, eff_s))
    keep = np.unique(np.linspace(0, len(eff_s) - 1, min(len(eff_s), 200)).astype(int))
    return {
        "auc": roc.auc,
        "max_sic": float(sic[best]),
        "max_sic_signal_efficiency": float(eff_s[best]),
        "max_sic_background_efficiency": float(eff_b[best]),
        "signal_efficiency_at_background_1pc": at,
        "curve": {
            "signal_efficiency": eff_s[keep].tolist(),
            "background_efficiency": eff_b[keep].tolist(),
            "sic": sic[keep].tolist(),
        },
    }


def supervised_upper_bound(
    sample: Injected,
    *,
    family: str = "bdt",
    params: Mapping[str, Any] | None = None,
    folds: int = 5,
    seed: int = 0,
) -> F64:
    """The supervised classifier on the same events: k-folded over ``sample`` with the true
    labels, each fold's training set enlarged by the spare (not injected) signal events, signal
    and background given equal total weight; every event scored by a model that never saw it."""
    from hepsift.dataset import kfold_indices
    from hepsift.models.registry import create

    if len(sample.spare_X) == 0 and sample.n_signal < folds:
        raise DataError("the supervised bound needs labelled signal events to train on")
    y = sample.is_signal.astype(np.int64)
    out = np.full(len(y), np.nan)
    for train, test in kfold_indices(len(y), int(folds), by="random", seed=seed, y=y):
        X = np.concatenate([sample.X[train], sample.spare_X])
        yt = np.concatenate([y[train], np.ones(len(sample.spare_X), np.int64)])
        w = np.where(yt == 1, 1.0 / max(yt.sum(), 1), 1.0 / max((yt == 0).sum(), 1))
        model = create(family, **dict(params or {}))
        model.fit(X, yt, sample_weight=w * len(yt))
        out[test] = model.decision_score(sample.X[test])
    return out
