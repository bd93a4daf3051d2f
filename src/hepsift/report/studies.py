"""Files and tables of the method-comparison studies (:mod:`hepsift.studies`).

The studies compute; this module presents: :func:`write_pnn_study` writes a pNN study's
``pnn-study.json`` and its figures (drawn by :mod:`hepsift.plots`, saved by
:class:`~hepsift.report.figures.FigureSet`), :func:`pnn_tables` renders it as rich tables;
:func:`write_sets_study` / :func:`sets_tables` do the same for the set-model study
(``sets-study.json``, :data:`SETS_FIGURES`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any

from hepsift._files import atomic_write_json

__all__ = [
    "PNN_FIGURES",
    "SETS_FIGURES",
    "pnn_figures",
    "pnn_tables",
    "sets_figures",
    "sets_tables",
    "write_pnn_study",
    "write_sets_study",
]

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


# -- the set-model study -----------------------------------------------------------------------
#: the figure files of a sets study (PNG, beside sets-study.json)
SETS_FIGURES = ("sets_auc", "sets_recall")


def _toy_note(result: Mapping[str, Any]) -> str:
    return " (TOY DATA)" if result["data"].get("toy") else ""


def _draw_sets_auc(ax: Any, *, result: Mapping[str, Any]) -> None:
    names = list(result["summary"])
    means = [result["summary"][n]["macro_auc"]["mean"] for n in names]
    errs = [result["summary"][n]["macro_auc"]["std"] or 0.0 for n in names]
    pos = list(range(len(names)))
    ax.errorbar(means, pos, xerr=errs, fmt="o", capsize=3)
    ax.set_yticks(pos, names, fontsize="x-small")
    ax.set_ylim(len(names) - 0.5, -0.5)
    ax.set_xlabel("macro one-vs-rest AUC (mean ± std over seeds)", fontsize="small")
    ax.set_title(f"production-mode classification{_toy_note(result)}", fontsize="medium")


def _draw_sets_recall(ax: Any, *, result: Mapping[str, Any]) -> None:
    names = list(result["summary"])
    rare = list(result["settings"]["rare"])
    width = 0.8 / max(len(rare), 1)
    for i, cls in enumerate(rare):
        vals = [result["summary"][n]["recall"][cls]["mean"] or 0.0 for n in names]
        errs = [result["summary"][n]["recall"][cls]["std"] or 0.0 for n in names]
        ax.barh([p + i * width for p in range(len(names))], vals, width, xerr=errs, label=cls)
    ax.set_yticks(
        [p + width * (len(rare) - 1) / 2 for p in range(len(names))], names, fontsize="x-small"
    )
    ax.set_ylim(len(names) - 0.1, -0.3)
    ax.set_xlabel("recall (weighted, most probable class)", fontsize="small")
    ax.set_xlim(0.0, 1.0)
    ax.legend(fontsize="small")
    ax.set_title(f"rare production modes{_toy_note(result)}", fontsize="medium")


def sets_figures(result: Mapping[str, Any], figures: Any) -> None:
    """Draw the sets study's figures into ``figures`` (keys :data:`SETS_FIGURES`)."""
    height = 1.5 + 0.45 * len(result["summary"])
    margins = {"left": 0.42, "right": 0.97}
    figures.draw(
        "sets_auc",
        partial(_draw_sets_auc, result=result),
        title="macro one-vs-rest AUC per model",
        label=False,
        figsize=(8.0, height),
        margins=margins,
    )
    figures.draw(
        "sets_recall",
        partial(_draw_sets_recall, result=result),
        title="recall of the rare modes per model",
        label=False,
        figsize=(8.0, height + 1.0),
        margins=margins,
    )


def write_sets_study(result: Mapping[str, Any], out: str | Path) -> dict[str, str]:
    """Write ``sets-study.json`` and the PNG figures (:data:`SETS_FIGURES`) into ``out``
    (atomically); return the file paths by file name."""
    from hepsift.report.figures import FigureSet

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    figures = FigureSet(folder, formats=("png",), dpi=110)
    sets_figures(result, figures)
    files = {f.name: str(f) for record in figures.records.values() for f in record.files}
    files["sets-study.json"] = str(folder / "sets-study.json")
    atomic_write_json(folder / "sets-study.json", {**result, "files": files})
    return files


def _ms(stat: Mapping[str, Any], digits: int = 4) -> str:
    if stat.get("mean") is None:
        return "-"
    return f"{_fmt(stat['mean'], digits)}±{_fmt(stat['std'], digits)}"


def _rate(stat: Mapping[str, Any]) -> str:
    return "-" if stat.get("mean") is None else f"{float(stat['mean']):.3g}"


def sets_tables(result: Mapping[str, Any]) -> list[Any]:
    """rich Tables: per model the macro AUC, rare-class recalls, costs; and the targets."""
    from rich.table import Table

    rare = list(result["settings"]["rare"])
    seeds = len(result["settings"]["seeds"])
    toy = " [red](TOY DATA: not physics)[/red]" if result["data"].get("toy") else ""
    t1 = Table(title=f"production modes: test split, mean±std over {seeds} seed(s){toy}")
    t1.add_column("model")
    t1.add_column("train events", justify="right")
    t1.add_column("macro AUC", justify="right")
    for cls in rare:
        t1.add_column(f"recall {cls}", justify="right")
    for col in ("fit [s]", "epoch [s]", "inference [ev/s]"):
        t1.add_column(col, justify="right")
    for name, s in result["summary"].items():
        t1.add_row(
            name,
            str(s["n_train"]),
            _ms(s["macro_auc"]),
            *[_ms(s["recall"][c], 3) for c in rare],
            _ms(s["fit_seconds"], 1),
            _ms(s["seconds_per_epoch"], 3),
            _rate(s["inference_rate"]),
        )
    t2 = Table(title="targets")
    t2.add_column("target")
    t2.add_column("measured", justify="right")
    t2.add_column("met", justify="center")
    tg = result.get("targets", {})
    best = tg.get("best_aggregated")
    for name, d in tg.get("deepsets_minus_best_aggregated", {}).items():
        met = d["mean"] is not None and d["mean"] >= d["target"]
        t2.add_row(
            f"{name} - {best} macro AUC >= -0.01", _pm(d["mean"], d["std"]), "yes" if met else "NO"
        )
    for name, ratio in tg.get("epoch_time_over_mlp", {}).items():
        ok = ratio is not None and math.isfinite(ratio) and ratio <= 3.0
        t2.add_row(f"{name} epoch time / MLP's <= 3", _fmt(ratio, 2), "yes" if ok else "NO")
    return [t1, t2] if tg else [t1]
