"""Event images against tables: a CNN on images, BDT / MLP on the low- and high-level tables.

After the seed on computer-vision techniques for ATLAS-like data (sphalerons vs microscopic
black holes): a ResNet-18 on 50x50 (ECAL, HCAL, tracks) images, XGBoost on the low-level table
(E, eta, phi of the five most energetic ECAL cells, HCAL cells and tracks: 45 columns) and on
the high-level table (eight jets, two leptons, MET: 39 columns). Its accuracies are
:data:`SEED_TABLE`.

:func:`compare` trains every model of the comparison once per seed on a fresh stratified split
(train / validation for early stopping / test), and measures on the test events: accuracy at
the highest-probability class with its bootstrap spread (``bootstrap`` resamples of the test
events), ROC AUC (binary) and the row-normalised confusion matrix. Over the seeds it reports
the mean accuracy and the spread between seeds. Events count equally (the classes are generated
with equal event counts; the BSM cross sections are nominal), as in the seed's accuracies.

Which model sees what: a family whose ``inputs`` include ``images`` gets the images only (its
``X`` has no columns); a table family is trained once per table, on the columns whose names
start with that table's prefix (:data:`TABLES`: ``ll_`` low level, ``hl_`` high level), named
``<model>-<table>``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hepsift.dataset import Dataset
from hepsift.errors import ConfigError, DataError

__all__ = ["SEED_TABLE", "TABLES", "ModelPlan", "compare", "format_table", "plan_models"]

#: the seed's accuracies (mean, uncertainty) for sphaleron vs black hole
SEED_TABLE: dict[str, tuple[float, float]] = {
    "ResNet18 low level (images)": (0.907, 0.007),
    "XGBoost low level": (0.861, 0.001),
    "XGBoost high level": (0.914, 0.002),
}
#: table name -> column prefix
TABLES: dict[str, str] = {"low": "ll_", "high": "hl_"}
#: the seed's row each of our models answers
_SEED_ROW = {
    ("images", "cnn"): "ResNet18 low level (images)",
    ("low", "bdt"): "XGBoost low level",
    ("high", "bdt"): "XGBoost high level",
}

Log = Callable[[str], None]


def _null_log(message: str) -> None:
    pass


@dataclass(frozen=True)
class ModelPlan:
    """One model of the comparison: its name, family, hyperparameters and input."""

    name: str
    family: str
    params: dict[str, Any]
    table: str  # "images" or a key of TABLES


def plan_models(models: Sequence[tuple[str, str, Mapping[str, Any]]]) -> list[ModelPlan]:
    """The comparison's models from ``(name, family, params)``: image families once on the
    images, table families once per table of :data:`TABLES`."""
    from hepsift.models import model_class

    plans = []
    for name, family, params in models:
        if "images" in model_class(family).inputs:
            plans.append(ModelPlan(name, family, dict(params), "images"))
        else:
            for table in TABLES:
                plans.append(ModelPlan(f"{name}-{table}", family, dict(params), table))
    if not plans:
        raise ConfigError("the images study needs at least one model")
    return plans


def _columns(ds: Dataset, table: str) -> list[int]:
    if table == "images":
        return []
    prefix = TABLES[table]
    cols = [i for i, f in enumerate(ds.feature_names) if f.startswith(prefix)]
    if not cols:
        raise ConfigError(
            f"the images study's {table}-level table needs features starting with '{prefix}'; "
            f"the data have {list(ds.feature_names)[:6]}..."
        )
    return cols


def _fit_predict(
    plan: ModelPlan, parts: tuple[Dataset, Dataset, Dataset], seed: int
) -> tuple[NDArray[np.float64], float]:
    """Test-set probabilities of ``plan`` trained on ``parts[0]`` (early stopping on
    ``parts[1]`` where the family takes an eval_set) and the training seconds."""
    from hepsift.models import Scaled, create, model_class

    train, valid, test = parts
    cls = model_class(plan.family)
    cols = _columns(train, plan.table)
    params = dict(plan.params)
    if cls.seed_param is not None:
        params[cls.seed_param] = seed
    model = create(plan.family, **params)
    if not cls.scales_inputs and plan.table != "images":
        model = Scaled(model, scaling="standard")
    extra: dict[str, Any] = {}
    fit_extra: dict[str, Any] = {}
    if plan.table == "images":
        if train.images is None:
            raise DataError("the images study needs Dataset.images (read with images=True)")
        extra = {"images": test.images}
        fit_extra = {"images": train.images}
    if cls.supports_eval_set and len(valid):
        fit_extra["eval_set"] = (valid.X[:, cols], valid.y)
        if plan.table == "images":
            fit_extra["eval_images"] = valid.images
    t0 = time.perf_counter()
    model.fit(train.X[:, cols], train.y, **fit_extra)
    seconds = time.perf_counter() - t0
    return np.asarray(model.predict_proba(test.X[:, cols], **extra), dtype=np.float64), seconds


def _measure(
    proba: NDArray[np.float64], y: NDArray[np.int64], bootstrap: int, rng: np.random.Generator
) -> dict[str, Any]:
    from hepsift.metrics import auc, confusion_matrix

    k = proba.shape[1]
    pred = np.argmax(proba, axis=1)
    right = (pred == y).astype(np.float64)
    boot = [float(right[rng.integers(0, y.size, y.size)].mean()) for _ in range(bootstrap)]
    cm = confusion_matrix(y, pred, labels=np.arange(k)).astype(np.float64)
    cm /= np.maximum(cm.sum(axis=1, keepdims=True), 1.0)
    return {
        "accuracy": float(right.mean()),
        "accuracy_bootstrap_std": float(np.std(boot)) if boot else float("nan"),
        "auc": float(auc(y, proba[:, 1])) if k == 2 else float("nan"),
        "confusion": cm.tolist(),
    }


def compare(
    ds: Dataset,
    models: Sequence[tuple[str, str, Mapping[str, Any]]],
    *,
    seeds: Sequence[int] = (0, 1, 2),
    fractions: tuple[float, float, float] = (0.6, 0.2, 0.2),
    bootstrap: int = 200,
    log: Log = _null_log,
) -> dict[str, Any]:
    """Train and measure every model of the comparison once per seed (module docstring).

    Returns ``{"models": {name: {"family", "input", "per_seed": [...], "accuracy_mean",
    "accuracy_seed_std", "accuracy_bootstrap_std", "auc_mean", "confusion_mean",
    "seed_row"}}, "seeds", "n_events", "class_names", "seed_table"}``.
    """
    if not seeds:
        raise ConfigError("the images study needs at least one seed")
    plans = plan_models(models)
    for plan in plans:
        _columns(ds, plan.table)
    out: dict[str, Any] = {}
    for seed in seeds:
        parts = ds.split(fractions, seed=int(seed))
        train, valid, test = parts[0], parts[1], parts[2]
        rng = np.random.default_rng([int(seed), 7])
        for plan in plans:
            log(f"seed {seed}: training {plan.name} ({plan.family}, {plan.table}) on {len(train)}")
            proba, seconds = _fit_predict(plan, (train, valid, test), int(seed))
            row = {"seed": int(seed), "train_seconds": seconds}
            row.update(_measure(proba, test.y, bootstrap, rng))
            log(
                f"seed {seed}: {plan.name} accuracy {row['accuracy']:.3f} +- "
                f"{row['accuracy_bootstrap_std']:.3f} AUC {row['auc']:.3f} ({seconds:.0f} s)"
            )
            entry = out.setdefault(
                plan.name,
                {
                    "family": plan.family,
                    "input": plan.table,
                    "seed_row": _SEED_ROW.get((plan.table, plan.family)),
                    "per_seed": [],
                },
            )
            entry["per_seed"].append(row)
    for entry in out.values():
        rows = entry["per_seed"]
        acc = np.array([r["accuracy"] for r in rows])
        entry["accuracy_mean"] = float(acc.mean())
        entry["accuracy_seed_std"] = float(acc.std(ddof=1)) if acc.size > 1 else float("nan")
        entry["accuracy_bootstrap_std"] = float(
            np.mean([r["accuracy_bootstrap_std"] for r in rows])
        )
        entry["auc_mean"] = float(np.mean([r["auc"] for r in rows]))
        entry["confusion_mean"] = np.mean([r["confusion"] for r in rows], axis=0).tolist()
    return {
        "models": out,
        "seeds": [int(s) for s in seeds],
        "n_events": len(ds),
        "class_names": list(ds.class_names),
        "seed_table": {k: list(v) for k, v in SEED_TABLE.items()},
    }


def format_table(result: Mapping[str, Any]) -> str:
    """Our accuracies beside the seed's, one line per model (plain text)."""
    lines = [
        f"{'model':<14} {'input':<7} {'accuracy (ours)':<24} {'AUC':>6}   seed's accuracy",
    ]
    for name, e in result["models"].items():
        seed = e.get("seed_row")
        ref = ""
        if seed is not None:
            m, s = result["seed_table"][seed]
            ref = f"{m:.3f} +- {s:.3f}  ({seed})"
        ours = (
            f"{e['accuracy_mean']:.3f} +- {e['accuracy_seed_std']:.3f} "
            f"(boot {e['accuracy_bootstrap_std']:.3f})"
        )
        lines.append(f"{name:<14} {e['input']:<7} {ours:<24} {e['auc_mean']:>6.3f}   {ref}")
    lines.append(
        f"(+- : spread over seeds {result['seeds']}; boot: bootstrap spread of the test "
        f"accuracy; {result['n_events']} events)"
    )
    return "\n".join(lines)
