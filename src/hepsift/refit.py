"""``hepsift fit RUN_DIR``: redo the binned likelihood fits of a finished run (its saved
test-split scores) with another binning or other systematics, without retraining."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from hepsift.config import FitConfig
from hepsift.errors import ConfigError, DataError
from hepsift.evaluate.sensitivity import (
    fit_scores,
    load_test,
    needs_model,
    predictor,
    update_metrics,
    write_fits,
)
from hepsift.inference import FitResult

__all__ = ["refit_run"]


def refit_run(
    run_dir: str | os.PathLike[str],
    *,
    overrides: Sequence[str] = (),
    models: Sequence[str] | None = None,
) -> dict[str, FitResult]:
    """Redo the fits of a finished run (``fit.*`` overrides: ``fit.max_bins=5``) from its
    saved test scores; feature-scale systematics rescore with the saved models. Rewrites
    ``fits/`` and the ``sensitivity`` entries of ``metrics.json``."""
    from pydantic import ValidationError

    from hepsift._yaml import load_yaml_file
    from hepsift.config import apply_overrides, config_error

    root = Path(run_dir)
    cfg_path = root / "config.yaml"
    if not cfg_path.is_file():
        raise DataError(f"{root}: not a run folder (no config.yaml)")
    raw = load_yaml_file(cfg_path, "run config")
    bad = [o for o in overrides if not o.startswith("fit.")]
    if bad:
        raise ConfigError(f"hepsift fit: overrides must start with 'fit.'; got '{bad[0]}'")
    raw = apply_overrides(raw, overrides)
    try:
        cfg = FitConfig.model_validate(raw.get("fit") or {})
    except ValidationError as exc:
        raise config_error(exc, f"{cfg_path} fit", root=FitConfig) from None
    test, yw, scores = load_test(root / "fits")
    chosen = list(scores) if models is None else list(models)
    results = {}
    for name in chosen:
        if name not in scores:
            raise ConfigError(f"hepsift fit: no model '{name}' in {root}; have {sorted(scores)}")
        predict = predictor(root, name) if needs_model(cfg) else None
        results[name] = fit_scores(scores[name], test, yw, cfg, predict=predict)
    sens = write_fits(root / "fits", results)
    update_metrics(root / "metrics.json", sens)
    return results
