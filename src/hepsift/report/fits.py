"""The report block of the binned likelihood fits (``fit:``): models ranked by expected upper
limit on the signal strength beside their AUC, and the post-fit score distributions."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any

from hepsift.report.figures import FigureSet
from hepsift.report.html import Block, Table

__all__ = ["fit_block"]


def _draw_postfit(entry: Mapping[str, Any], signal: list[str], ax: Any) -> Any:
    from hepsift.plots.postfit import postfit_scores

    return postfit_scores(
        entry["edges"], entry["postfit"], signal=signal, mu_hat=entry.get("mu_hat"), ax=ax
    )


def fit_block(figs: FigureSet, folder: Path, metrics: Mapping[str, Any]) -> Block | None:
    """The block, or None when the run made no fit (no ``fits/summary.json``)."""
    path = folder / "summary.json"
    if not path.is_file():
        return None
    summary = json.loads(path.read_text(encoding="utf-8"))
    models = metrics.get("models", {})
    ranked = sorted(summary, key=lambda k: summary[k]["sensitivity"]["mu_limit_expected"])
    rows = []
    for i, name in enumerate(ranked, start=1):
        s = summary[name]["sensitivity"]
        m2, m1, p1, p2 = s["mu_limit_band"]
        auc = models.get(name, {}).get("auc", float("nan"))
        rows.append(
            [i, name, s["mu_limit_expected"], f"[{m1:.3g}, {p1:.3g}]", f"[{m2:.3g}, {p2:.3g}]",
             s["z_expected"], auc, len(summary[name]["edges"]) - 1]
        )  # fmt: skip
    blk = Block(heading="Sensitivity: binned likelihood fit (pyhf)", id="comparison-fit")
    blk.tables.append(
        Table(
            "Ranking by expected 95 % CL upper limit on mu (CLs, asymptotic)",
            [
                "rank",
                "model",
                "mu95 expected",
                "+-1 sigma",
                "+-2 sigma",
                "Z expected",
                "AUC",
                "bins",
            ],
            rows,
            note="HistFactory model of the test-split score histograms (signal scaled by mu), "
            "MC statistical and configured systematic uncertainties; workspaces in "
            "fits/<model>.json (pyhf.Workspace). "
            "Redo with 'hepsift fit RUN_DIR --set fit.KEY=V'.",
        )
    )
    for name in ranked:
        entry = summary[name]
        signal = list(entry.get("signal", []))
        blk.figures.append(
            figs.draw(
                f"{name}_postfit",
                partial(_draw_postfit, entry, signal),
                title=f"{name}: post-fit score distribution (Asimov data, mu = 1)",
            )
        )
    return blk
