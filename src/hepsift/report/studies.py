"""Files and tables of the method-comparison studies (:mod:`hepsift.studies`).

The studies compute; this module presents: :func:`write_pnn_study` writes a pNN study's
``pnn-study.json`` and its figures (drawn by :mod:`hepsift.plots`, saved by
:class:`~hepsift.report.figures.FigureSet`), :func:`pnn_tables` renders it as rich tables.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any

from hepsift._files import atomic_write_json

__all__ = ["PNN_FIGURES", "pnn_figures", "pnn_tables", "write_pnn_study"]

#: the figure files of a pNN study (PNG, beside pnn-study.json)
PNN_FIGURES = ("auc_vs_mass", "rejection_vs_mass", "mechanisms")
_DEDICATED = "dedicated"


def _key(m: float) -> str:
    return f"{m:g}"


def _curve(
    per_mass: Mapping[str, Mapping[str, float]], what: str
) -> tuple[list[float], list[float]]:
    ms = sorted(float(k) for k in per_mass)
    return ms, [float(per_mass[_key(m)][what]) for m in ms]


def _metric_curves(result: Mapping[str, Any], what: str) -> dict[str, Any]:
    mech, pol = result["settings"]["mechanism"], result["settings"]["policy"]
    curves = {
        f"pNN ({mech}, {pol}), trained on all masses": _curve(
            result["pnn"][f"{mech}/{pol}"]["per_mass"], what
        )
    }
    held = result["interpolation"]["held_out"]
    if held:
        curves["pNN, mass held out of training"] = _curve(held, what)
    if _DEDICATED in result:
        curves["dedicated network per mass"] = _curve(result[_DEDICATED]["per_mass"], what)
    return curves


def _draw_metric(ax: Any, *, curves: Any, ylabel: str, log: bool, title: str) -> None:
    from hepsift.plots import metric_vs_mass

    metric_vs_mass(curves, ylabel=ylabel, log=log, ax=ax)
    ax.set_title(title, fontsize="medium")


def _draw_grid(ax: Any, *, grid: Any, reference: Any, title: str) -> None:
    from hepsift.plots import auc_by_mechanism

    auc_by_mechanism(grid, reference=reference, ax=ax)
    ax.set_title(title, fontsize="medium")


def pnn_figures(result: Mapping[str, Any], figures: Any) -> None:
    """Draw the study's figures into ``figures`` (a :class:`FigureSet`), keys
    :data:`PNN_FIGURES`: AUC and background rejection vs mass (pNN trained on all masses,
    held out, dedicated), and AUC vs mass of every mechanism x policy."""
    toy = " (TOY DATA)" if result["data"]["toy"] else ""
    for key, what, ylabel, log in (
        ("auc_vs_mass", "auc", "AUC", False),
        ("rejection_vs_mass", "rejection50", "Bkg. rejection at 50% sig. eff.", True),
    ):
        draw = partial(
            _draw_metric,
            curves=_metric_curves(result, what),
            ylabel=ylabel,
            log=log,
            title=f"pNN interpolation{toy}",
        )
        figures.draw(key, draw, title=f"{ylabel} vs mass", label=False)
    grid = {
        (v["mechanism"], v["policy"]): _curve(v["per_mass"], "auc") for v in result["pnn"].values()
    }
    ded = result.get(_DEDICATED)
    reference = _curve(ded["per_mass"], "auc") if ded else None
    draw = partial(
        _draw_grid,
        grid=grid,
        reference=reference,
        title=f"conditioning mechanism / background-mass policy{toy}",
    )
    figures.draw("mechanisms", draw, title="AUC vs mass per mechanism", label=False)


def write_pnn_study(result: Mapping[str, Any], out: str | Path) -> dict[str, str]:
    """Write ``pnn-study.json`` and the PNG figures (:data:`PNN_FIGURES`) into ``out``
    (atomically); return the file paths by file name."""
    from hepsift.report.figures import FigureSet

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    figures = FigureSet(folder, formats=("png",), dpi=110)
    pnn_figures(result, figures)
    files = {f.name: str(f) for record in figures.records.values() for f in record.files}
    files["pnn-study.json"] = str(folder / "pnn-study.json")
    atomic_write_json(folder / "pnn-study.json", {**result, "files": files})
    return files


def _fmt(x: Any, digits: int = 4) -> str:
    if x is None:
        return "-"
    x = float(x)
    if math.isnan(x):
        return "-"
    if math.isinf(x):
        return "inf"
    return f"{x:.{digits}f}"


def _pm(value: Any, err: Any) -> str:
    if value is None:
        return "-"
    return f"{float(value):+.4f}" + (f"±{_fmt(err)}" if err is not None else "")


def pnn_tables(result: Mapping[str, Any]) -> list[Any]:
    """rich Tables: per mass (dedicated vs pNN vs held-out), the mechanism x policy grid, and
    the targets."""
    from rich.table import Table

    mech, pol = result["settings"]["mechanism"], result["settings"]["policy"]
    main = result["pnn"][f"{mech}/{pol}"]["per_mass"]
    held = result["interpolation"]["held_out"]
    ded = result.get(_DEDICATED, {}).get("per_mass", {})
    toy = " [red](TOY DATA: not physics)[/red]" if result["data"]["toy"] else ""
    t1 = Table(
        title=f"AUC and background rejection at 50% signal efficiency per mass; pNN "
        f"{mech}/{pol}{toy}"
    )
    for col in ("mass [GeV]", "AUC ded.", "AUC pNN", "AUC held-out"):
        t1.add_column(col, justify="right")
    t1.add_column("Δ held-out − ded.", justify="right", no_wrap=True, min_width=16)
    for col in ("rej. ded.", "rej. pNN", "rej. held-out"):
        t1.add_column(col, justify="right")
    for m in result["masses_gev"]:
        k = _key(m)
        h = held.get(k, {})
        d = ded.get(k, {})
        t1.add_row(
            k,
            _fmt(d.get("auc")),
            _fmt(main[k]["auc"]),
            _fmt(h.get("auc")),
            _pm(h.get("delta_vs_dedicated"), h.get("delta_err")) if h else "",
            _fmt(d.get("rejection50"), 1),
            _fmt(main[k]["rejection50"], 1),
            _fmt(h.get("rejection50"), 1),
        )
    t2 = Table(title=f"conditioning mechanism x background-mass policy (test split){toy}")
    t2.add_column("mechanism")
    t2.add_column("policy")
    t2.add_column("mean AUC", justify="right")
    t2.add_column("mean rej.@50%", justify="right")
    for m in result["masses_gev"]:
        t2.add_column(f"AUC {_key(m)}", justify="right")
    t2.add_column("fit [s]", justify="right")
    rows = list(result["pnn"].values())
    if ded:
        t2.add_row(
            "dedicated",
            "-",
            _fmt(result[_DEDICATED]["mean_auc"]),
            _fmt(result[_DEDICATED]["mean_rejection50"], 1),
            *[_fmt(ded[_key(m)]["auc"]) for m in result["masses_gev"]],
            _fmt(sum(result[_DEDICATED]["seconds"].values()), 1),
        )
    for r in rows:
        t2.add_row(
            r["mechanism"],
            r["policy"],
            _fmt(r["mean_auc"]),
            _fmt(r["mean_rejection50"], 1),
            *[_fmt(r["per_mass"][_key(m)]["auc"]) for m in result["masses_gev"]],
            _fmt(r["seconds"], 1),
        )
    t3 = Table(title="targets")
    t3.add_column("target")
    t3.add_column("measured", justify="right")
    t3.add_column("met", justify="center")
    tg = result.get("targets", {})
    if "interpolation_min_delta_auc" in tg:
        t3.add_row(
            "held-out pNN AUC >= dedicated AUC - 0.01 (worst mass)",
            _fmt(tg["interpolation_min_delta_auc"]),
            "yes" if tg["interpolation_ok"] else "NO",
        )
    for k, v in tg.items():
        if k.startswith("affine_minus_concat"):
            t3.add_row(
                f"affine - concat mean AUC ({k.split('/')[1]})",
                _fmt(v),
                "yes" if v >= 0 else "NO",
            )
    if "timing_ratio" in tg:
        t3.add_row(
            "pNN fit time / dedicated fit time (same events) <= 1.5",
            _fmt(tg["timing_ratio"], 2),
            "yes" if tg["timing_ok"] else "NO",
        )
        t3.add_row(
            "  the same in CPU time (less sensitive to a busy machine)",
            _fmt(tg["timing_cpu_ratio"], 2),
            "yes" if tg["timing_cpu_ratio"] <= 1.5 else "NO",
        )
    return [t1, t2, t3]
