"""The injected-signal anomaly study: every method on the same injected events, one result.

:func:`anomaly_study` takes labelled events (``y``: 1 signal, 0 background) with the resonance
variable among the columns, builds the injected sample (:func:`.injection.inject`), drops the
resonance variable and the columns correlated with it in the sidebands
(:func:`.cwola.decorrelated_features`), then scores the events with

- ``cwola``: the k-folded signal-region-vs-sideband classifier (:func:`.cwola.cwola_scores`),
- each anomaly detector of ``detectors`` (:mod:`hepsift.models.anomaly`), fit on all injected
  events without labels,
- ``supervised``: the upper bound (:func:`.injection.supervised_upper_bound`),

and judges each on the signal-region events (:func:`.injection.score_report`: AUC, max SIC,
eff_S at eff_B = 1 %) and by the bump hunt after the best cut of ``keep_fractions``
(:func:`.cwola.scan_cuts`; ``keep_fraction`` 1.0 is the hunt without a cut).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from hepsift.errors import ConfigError, DataError, suggest
from hepsift.unsupervised.cwola import (
    Window,
    cwola_scores,
    decorrelated_features,
    region_masks,
    scan_cuts,
)
from hepsift.unsupervised.injection import inject, score_report, supervised_upper_bound

__all__ = ["anomaly_study"]


def _null_log(message: str) -> None:
    del message


def _judge(
    name: str,
    score: np.ndarray,
    sample: Any,
    in_sr: np.ndarray,
    windows: tuple[Window, Sequence[Window]],
    keep_fractions: Sequence[float],
) -> dict[str, Any]:
    sr, sidebands = windows
    ok = in_sr & np.isfinite(score)
    report = score_report(score[ok], sample.is_signal[ok])
    hunts = scan_cuts(
        score,
        sample.mass,
        sr=sr,
        sidebands=sidebands,
        keep_fractions=keep_fractions,
        truth=sample.is_signal,
    )
    no_cut = next((h for h in hunts if h["keep_fraction"] >= 1.0), None)
    best = max(hunts, key=lambda h: h["z_local"])
    return {
        "method": name,
        **{k: v for k, v in report.items()},
        "bump_hunt": hunts,
        "z_no_cut": None if no_cut is None else no_cut["z_local"],
        "z_best_cut": best["z_local"],
        "best_keep_fraction": best["keep_fraction"],
    }


def anomaly_study(
    X: ArrayLike,
    y: ArrayLike,
    feature_names: Sequence[str],
    *,
    resonance: str = "m_gg",
    signal_region: Window = (120.0, 130.0),
    sidebands: Sequence[Window] = ((105.0, 120.0), (130.0, 160.0)),
    injection: float = 0.01,
    max_correlation: float = 0.1,
    folds: int = 5,
    cwola: Mapping[str, Any] | None = None,
    detectors: Mapping[str, Mapping[str, Any]] | None = None,
    supervised: Mapping[str, Any] | None = None,
    keep_fractions: Sequence[float] = (1.0, 0.5, 0.2, 0.1, 0.05),
    seed: int = 0,
    log: Callable[[str], None] = _null_log,
) -> dict[str, Any]:
    """Run every method on the injected sample; see the module docstring."""
    from hepsift.models.registry import ANOMALY_DETECTORS, create

    names = list(feature_names)
    if resonance not in names:
        raise ConfigError(
            f"unsupervised.resonance '{resonance}' is not a feature{suggest(resonance, names)} "
            "(add it to 'features')"
        )
    arr = np.asarray(X, dtype=np.float64)
    labels = np.asarray(y).reshape(-1)
    if set(np.unique(labels)) - {0, 1}:
        raise DataError("the anomaly study needs binary labels (0 background, 1 signal)")
    j = names.index(resonance)
    rest = [i for i in range(len(names)) if i != j]
    sig, bkg = labels == 1, labels == 0
    sample = inject(
        (arr[bkg][:, rest], arr[bkg, j]),
        (arr[sig][:, rest], arr[sig, j]),
        fraction=injection,
        seed=seed,
    )
    keep, corr = decorrelated_features(
        sample.X,
        sample.mass,
        [names[i] for i in rest],
        sidebands,
        max_correlation=max_correlation,
    )
    if not keep:
        raise DataError(
            f"every feature correlates with {resonance} above {max_correlation} in the "
            "sidebands; raise unsupervised.max_correlation"
        )
    used = [names[rest[i]] for i in keep]
    Xk = sample.X[:, keep]
    in_sr, _ = region_masks(sample.mass, signal_region, sidebands)
    log(
        f"anomaly study: {sample.n_background} background + {sample.n_signal} injected signal "
        f"events ({injection:g}), {int((in_sr & sample.is_signal).sum())} signal in the SR; "
        f"features {used}"
    )
    windows = (signal_region, sidebands)
    results: dict[str, Any] = {}
    seconds: dict[str, float] = {}
    spec = dict(cwola or {"family": "bdt", "params": {}})
    t0 = time.perf_counter()
    score = cwola_scores(
        Xk,
        sample.mass,
        sr=signal_region,
        sidebands=sidebands,
        family=str(spec.get("family", "bdt")),
        params=spec.get("params") or {},
        folds=folds,
        seed=seed,
    )
    seconds["cwola"] = time.perf_counter() - t0
    results["cwola"] = _judge("cwola", score, sample, in_sr, windows, keep_fractions)
    for family, params in (detectors or {}).items():
        if family not in ANOMALY_DETECTORS:
            raise ConfigError(
                f"unsupervised.detectors: unknown family '{family}'"
                f"{suggest(family, ANOMALY_DETECTORS)} (known: {', '.join(ANOMALY_DETECTORS)})"
            )
        log(f"anomaly study: fitting {family}")
        t0 = time.perf_counter()
        model = create(family, **dict(params or {})).fit(Xk)
        score = model.anomaly_score(Xk)
        seconds[family] = time.perf_counter() - t0
        results[family] = _judge(family, score, sample, in_sr, windows, keep_fractions)
    sup = dict(supervised or {"family": "bdt", "params": {}})
    t0 = time.perf_counter()
    score = supervised_upper_bound(
        replace(sample, X=Xk, spare_X=sample.spare_X[:, keep]),
        family=str(sup.get("family", "bdt")),
        params=sup.get("params") or {},
        folds=folds,
        seed=seed,
    )
    seconds["supervised"] = time.perf_counter() - t0
    results["supervised"] = _judge("supervised", score, sample, in_sr, windows, keep_fractions)
    return {
        "injection": float(injection),
        "n_background": sample.n_background,
        "n_signal": sample.n_signal,
        "n_signal_in_sr": int((in_sr & sample.is_signal).sum()),
        "n_background_in_sr": int((in_sr & ~sample.is_signal).sum()),
        "resonance": resonance,
        "signal_region": list(signal_region),
        "sidebands": [list(s) for s in sidebands],
        "features": used,
        "correlation_with_resonance": corr,
        "methods": results,
        "seconds": seconds,
    }
