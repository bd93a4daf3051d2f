"""The fit step of a run: each binary model's test-split scores through
:mod:`hepsift.inference` (pyhf), and the pieces :func:`hepsift.refit.refit_run` (``hepsift fit
RUN_DIR``) uses to redo the fits of a finished run without retraining. ``cfg`` is a
:class:`hepsift.config.FitConfig` (not imported here: config sits above evaluate).

A run folder with fits holds::

    fits/test.npz          test-split features, labels, yield weights, sample ids, event
                           numbers, scores
    fits/<model>.json      the pyhf workspace (``pyhf.Workspace(json.load(...))``)
    fits/summary.json      per model: edges, pre-/post-fit yields, sensitivity

``test.npz`` is written with ``allow_pickle=False`` arrays only (names are a string array).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hepsift.dataset import Dataset
from hepsift.errors import ConfigError, DataError
from hepsift.inference import BinningRule, FitResult, Systematic, sensitivity

__all__ = [
    "fit_scores",
    "load_test",
    "needs_model",
    "predictor",
    "rule_of",
    "update_metrics",
    "write_fits",
]

ProbaFn = Callable[[NDArray[np.float32]], Any]
TEST_FILE = "test.npz"


def rule_of(cfg: Any) -> BinningRule:
    """The binning rule of a ``fit:`` section."""
    return BinningRule(
        max_bins=cfg.max_bins,
        fine_bins=cfg.fine_bins,
        min_background_events=cfg.min_background_events,
        min_background=cfg.min_background,
        max_relative_error=cfg.max_relative_error,
    )


def _samples(test: Dataset) -> tuple[NDArray[np.int64], list[str], list[str]]:
    """Per-event template ids, template names and the names of the signal templates: the
    samples, or the classes when a sample holds events of both."""
    by_class = test.y.astype(np.int64), list(test.class_names), [test.class_names[1]]
    if test.sample is None or not test.sample_names:
        return by_class
    names = list(test.sample_names)
    ids = test.sample.astype(np.int64)
    signal = {int(i) for i in np.unique(ids[test.y == 1])}
    if signal & {int(i) for i in np.unique(ids[test.y != 1])}:
        return by_class  # a sample holds both classes (a label branch): templates per class
    return ids, names, sorted(names[i] for i in signal)


def _systematics(
    cfg: Any, predict: ProbaFn | None, X: NDArray[np.float32], features: Sequence[str]
) -> list[Systematic]:
    out = []
    for s in cfg.systematics:
        if s.type != "feature_scale":
            out.append(Systematic(s.name, s.type, s.rel, tuple(s.samples)))
            continue
        if s.feature not in features:
            import difflib

            near = difflib.get_close_matches(str(s.feature), list(features), n=1)
            hint = f" (did you mean '{near[0]}'?)" if near else ""
            raise ConfigError(
                f"fit.systematics '{s.name}': feature '{s.feature}' is not a feature of the "
                f"run{hint}"
            )
        if predict is None:
            raise DataError(f"fit.systematics '{s.name}': the model is needed to rescore")
        j = list(features).index(str(s.feature))
        varied = []
        for factor in (1.0 + s.rel, 1.0 - s.rel):
            Xv = np.array(X, dtype=np.float32, copy=True)
            Xv[:, j] *= np.float32(factor)
            varied.append(np.asarray(predict(Xv), dtype=np.float64)[:, 1])
        out.append(Systematic(s.name, "histosys", s.rel, tuple(s.samples), varied[0], varied[1]))
    return out


def fit_scores(
    score: NDArray[np.float64],
    test: Dataset,
    yield_weight: NDArray[np.float64],
    cfg: Any,
    *,
    predict: ProbaFn | None = None,
) -> FitResult:
    """Fit one model's test-split signal scores (``yield_weight``: expected-yield weights)."""
    import pyhf

    ids, names, signal = _samples(test)
    systs = _systematics(cfg, predict, test.X, test.feature_names)
    try:
        return sensitivity(
            score,
            yield_weight,
            ids,
            sample_names=names,
            signal=signal,
            systematics=systs,
            staterror=cfg.staterror,
            rule=rule_of(cfg),
        )
    except pyhf.exceptions.FailedMinimization as exc:
        raise DataError(f"fit: the likelihood fit did not converge ({exc})") from None


def write_fits(
    folder: str | os.PathLike[str],
    results: Mapping[str, FitResult],
    *,
    test: Dataset | None = None,
    yield_weight: NDArray[np.float64] | None = None,
    scores: Mapping[str, NDArray[np.float64]] | None = None,
) -> dict[str, dict[str, Any]]:
    """Write the workspaces, the summary (and the test arrays); return the sensitivities."""
    import io

    from hepsift._files import atomic_write_bytes, atomic_write_json

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {}
    for name, r in results.items():
        atomic_write_json(out / f"{name}.json", r.workspace)
        summary[name] = {
            "edges": [float(e) for e in r.edges],
            "prefit": r.prefit,
            "postfit": r.postfit,
            "mu_hat": r.mu_hat,
            "signal": [
                s["name"]
                for s in r.workspace["channels"][0]["samples"]
                if any(m["type"] == "normfactor" for m in s["modifiers"])
            ],
            "sensitivity": r.sensitivity.as_dict(),
        }
    atomic_write_json(out / "summary.json", summary)
    if test is not None and yield_weight is not None and scores is not None:
        ids, names, _ = _samples(test)
        buf = io.BytesIO()
        arrays: dict[str, Any] = {f"score__{k}": v for k, v in scores.items()}
        if test.event_number is not None:
            arrays["event_number"] = np.asarray(test.event_number, dtype=np.int64)
        np.savez(
            buf,
            X=test.X,
            y=test.y,
            yield_weight=yield_weight,
            sample=ids,
            sample_names=np.array(names, dtype=str),
            feature_names=np.array(test.feature_names, dtype=str),
            **arrays,
        )
        atomic_write_bytes(out / TEST_FILE, buf.getvalue())
    return {k: v["sensitivity"] for k, v in summary.items()}


def load_test(folder: Path) -> tuple[Dataset, NDArray[np.float64], dict[str, Any]]:
    path = folder / TEST_FILE
    if not path.is_file():
        raise DataError(
            f"{path}: missing; the run was made without a fit: section (fit.enabled: true)"
        )
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    names = tuple(str(s) for s in arrays["sample_names"])
    test = Dataset(
        X=arrays["X"],
        y=arrays["y"],
        weight=arrays["yield_weight"],
        feature_names=tuple(str(s) for s in arrays["feature_names"]),
        sample=arrays["sample"],
        sample_names=names,
    )
    scores = {k.removeprefix("score__"): v for k, v in arrays.items() if k.startswith("score__")}
    return test, arrays["yield_weight"], scores


def needs_model(cfg: Any) -> bool:
    return any(s.type == "feature_scale" for s in cfg.systematics)


def predictor(root: Path, name: str) -> ProbaFn:
    from hepsift.models import load

    model = load(root / "models" / name)
    fn: ProbaFn = model.predict_proba
    return fn


def update_metrics(path: Path, sens: Mapping[str, Any]) -> None:
    import json

    from hepsift._files import atomic_write_json

    if not path.is_file():
        return
    doc = json.loads(path.read_text(encoding="utf-8"))
    for name, s in sens.items():
        entry = doc.get("models", {}).get(name)
        if isinstance(entry, dict):
            entry["sensitivity"] = s
    atomic_write_json(path, doc)
