"""A finished run's recipe and models applied to any files (``hepsift apply``).

:func:`apply` reads ROOT/CSV/Parquet files the readers accept (real ATLAS/CMS Open Data
included), applies the run's selection and feature recipe (from its ``config.yaml``) and every
chosen saved model (the model folder with its preprocessing, or its ONNX file with
``onnx=True``), and writes one row per selected event: sample (the file's stem), run and event
numbers (eventNumber: else the row index), weight, the features and one score column per model
(``score_<model>`` for a binary model, ``score_<model>_<class>`` per class otherwise).

Files are processed one at a time, each read in ``step_size`` chunks (memory: one file's
selected features, not its raw branches). All files of one call must share one layout (file
type, tree and branch names): a mixture is refused with the reason. A file lacking a branch the
recipe needs fails with one line naming it and the nearest branch.

Output: Parquet (``format="parquet"``) or a ROOT file (``format="root"``) with a tree
``hepsift_scores`` holding ``eventNumber`` and the score columns: a friend tree of the input
keyed by event number.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from hepsift.errors import ConfigError, DataError

__all__ = ["ApplyResult", "Recipe", "apply", "load_recipe"]

FRIEND_TREE = "hepsift_scores"


@dataclass(frozen=True)
class Recipe:
    """What a run read and computed: features, selection, luminosity, fill value, models."""

    run_dir: Path
    features: tuple[str, ...]
    selection: Any
    lumi_fb: float
    fill_value: float
    models: tuple[str, ...]
    class_names: tuple[str, ...]


@dataclass
class ApplyResult:
    """The written file, its rows, and the per-file layouts and event counts."""

    path: Path
    rows: int
    columns: list[str]
    files: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def load_recipe(run_dir: str | os.PathLike[str]) -> Recipe:
    """The recipe of a finished run folder (its ``config.yaml`` and ``models/``)."""
    from hepsift._yaml import load_yaml_file
    from hepsift.select import PRESETS

    root = Path(run_dir)
    path = root / "config.yaml"
    if not path.is_file() or not (root / "DONE").is_file():
        raise DataError(f"{root}: not a finished run folder (config.yaml and DONE needed)")
    raw = load_yaml_file(path, "run config")
    sel = raw.get("selection") or {}
    preset, cuts = sel.get("preset"), list(sel.get("cuts") or [])
    selection: Any = preset
    if cuts:
        base = list(PRESETS[preset]["cuts"]) if preset else []
        selection = {"name": preset or "selection", "cuts": base + cuts}
    models = tuple(
        m["name"] for m in raw.get("models", []) if (root / "models" / m["name"]).is_dir()
    )
    task = raw.get("task") or {}
    classes = tuple((task.get("classes") or {"background": [], "signal": []}).keys())
    return Recipe(
        run_dir=root,
        features=tuple(raw.get("features") or ()),
        selection=selection,
        lumi_fb=float((raw.get("weights") or {}).get("lumi_fb", 36.1)),
        fill_value=float("nan") if raw.get("missing") == "keep" else 0.0,
        models=models,
        class_names=classes,
    )


def _layout(path: Path) -> tuple[str, str, tuple[str, ...]]:
    """(file type, tree, branch names) of a file: what must agree between the files of a call."""
    from hepsift import io

    info = io.inspect(path, max_entries=1)
    trees = info.get("trees") or {}
    if not trees:
        kind = io.file_kind([path]) or "table"
        cols = info.get("columns") or info.get("branches") or ()
        return kind, "", tuple(sorted(_names(cols)))
    name = max(trees, key=lambda t: int((trees[t] or {}).get("entries", 0) or 0))
    return "root", str(name), tuple(sorted(_names((trees[name] or {}).get("branches") or ())))


def _names(items: Any) -> list[str]:
    """Branch/column names from an inspect listing (dicts with 'branch'/'name', or names)."""
    out = []
    for item in items:
        if isinstance(item, dict):
            out.append(str(item.get("branch") or item.get("name") or item.get("column")))
        else:
            out.append(str(item))
    return out


def _check_layouts(files: Sequence[Path]) -> None:
    first = _layout(files[0])
    for f in files[1:]:
        other = _layout(f)
        if other != first:
            what = (
                f"file type {other[0]} vs {first[0]}"
                if other[0] != first[0]
                else f"tree '{other[1]}' vs '{first[1]}'"
                if other[1] != first[1]
                else "branches " + ", ".join(sorted(set(other[2]) ^ set(first[2]))[:4])
            )
            raise DataError(
                f"apply: {f.name} and {files[0].name} have different layouts ({what}); "
                "apply one layout per call"
            )


def _scorers(recipe: Recipe, names: Sequence[str], onnx: bool) -> dict[str, Any]:
    """model name -> a function X -> class probabilities (n, k)."""
    out: dict[str, Any] = {}
    for name in names:
        if name not in recipe.models:
            import difflib

            near = difflib.get_close_matches(name, list(recipe.models), n=1)
            hint = f" (did you mean '{near[0]}'?)" if near else ""
            raise ConfigError(
                f"apply: no saved model '{name}' in {recipe.run_dir}; have "
                f"{', '.join(recipe.models)}{hint}"
            )
        if onnx:
            from hepsift.export import onnx_probabilities, onnx_session

            path = recipe.run_dir / "models" / f"{name}.onnx"
            if not path.is_file():
                raise DataError(f"apply: {path} missing (the run exported no ONNX for it)")
            session = onnx_session(path)
            out[name] = lambda X, s=session: onnx_probabilities(s, X)
        else:
            from hepsift.models import load

            out[name] = load(recipe.run_dir / "models" / name).predict_proba
    return out


def _score_columns(
    name: str, proba: NDArray[Any], classes: Sequence[str]
) -> dict[str, NDArray[np.float64]]:
    p = np.asarray(proba, dtype=np.float64)
    if p.ndim == 2 and p.shape[1] == 2:
        return {f"score_{name}": p[:, 1]}
    labels = list(classes) if len(classes) == p.shape[1] else [str(i) for i in range(p.shape[1])]
    return {f"score_{name}_{c}": p[:, i] for i, c in enumerate(labels)}


def _file_columns(
    path: Path, recipe: Recipe, scorers: dict[str, Any], *, selection: bool, step_size: str
) -> dict[str, NDArray[Any]]:
    from hepsift.prepare.pipeline import build_dataset

    spec = {"name": path.stem, "files": [str(path)], "kind": "auto", "label": "applied"}
    ds, _ = build_dataset(
        [spec],
        features=list(recipe.features),
        selection=recipe.selection if selection else None,
        lumi_fb=recipe.lumi_fb,
        fill_value=recipe.fill_value,
        step_size=step_size,
    )
    n = len(ds)
    cols: dict[str, NDArray[Any]] = {
        "sample": np.array([path.stem] * n, dtype=object),
        "eventNumber": np.asarray(ds.event_number, dtype=np.int64),
        "weight": ds.weight,
    }
    for j, f in enumerate(ds.feature_names):
        cols[f] = ds.X[:, j]
    for name, fn in scorers.items():
        cols.update(_score_columns(name, fn(ds.X) if n else np.zeros((0, 2)), recipe.class_names))
    return cols


def apply(
    run_dir: str | os.PathLike[str],
    files: Sequence[str | os.PathLike[str]],
    *,
    out: str | os.PathLike[str],
    models: Sequence[str] | None = None,
    selection: bool = True,
    onnx: bool = False,
    format: Literal["parquet", "root"] = "parquet",
    step_size: str = "100 MB",
) -> ApplyResult:
    """Score ``files`` with the models of the run in ``run_dir`` (module docstring)."""
    import time

    from hepsift.io import expand_paths

    t0 = time.perf_counter()
    if format not in ("parquet", "root"):
        raise ConfigError(f"apply: format must be parquet or root; got {format!r}")
    recipe = load_recipe(run_dir)
    paths = [Path(p) for p in expand_paths(list(map(str, files)))]
    if not paths:
        raise DataError("apply: no input files")
    _check_layouts(paths)
    scorers = _scorers(recipe, list(models) if models else list(recipe.models), onnx)
    parts = [
        _file_columns(p, recipe, scorers, selection=selection, step_size=step_size) for p in paths
    ]
    cols = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    target = Path(out)
    _write(target, cols, format)
    return ApplyResult(
        path=target,
        rows=len(cols["eventNumber"]),
        columns=list(cols),
        files={str(p): len(c["eventNumber"]) for p, c in zip(paths, parts, strict=True)},
        seconds=time.perf_counter() - t0,
    )


def _write(target: Path, cols: dict[str, NDArray[Any]], format: str) -> None:
    import io

    from hepsift._files import atomic_write_bytes

    if format == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.table(
            {k: pa.array(v.tolist() if v.dtype == object else v) for k, v in cols.items()}
        )
        buf = io.BytesIO()
        pq.write_table(table, buf)
        atomic_write_bytes(target, buf.getvalue())
        return
    import tempfile

    import uproot

    branches = {
        k: np.asarray(v) for k, v in cols.items() if k == "eventNumber" or k.startswith("score_")
    }
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        tmp_file = Path(tmp) / target.name
        with uproot.recreate(tmp_file) as f:
            f[FRIEND_TREE] = branches
        atomic_write_bytes(target, tmp_file.read_bytes())


#: the score range hidden by default in data/MC plots of scores (unblinding is explicit)
DEFAULT_SCORE_BLIND = (0.8, 1.0)


def plot_datamc(
    run_dir: str | os.PathLike[str],
    data: str | os.PathLike[str],
    *,
    variables: Sequence[str] = (),
    out: str | os.PathLike[str],
    blind: dict[str, tuple[float, float]] | None = None,
    unblind: bool = False,
    bins: int = 20,
) -> dict[str, Path]:
    """Data/MC figures (``plots.datamc``) of a run: the simulation is the run's test split at
    its expected yields (``fits/test.npz``, written by runs with ``fit.enabled``), data the
    Parquet file of :func:`apply`. ``variables``: features or ``score_<model>`` (default:
    every score). Scores are blinded above ``DEFAULT_SCORE_BLIND`` and ``blind`` names more
    ranges, unless ``unblind``. Returns variable -> written PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pyarrow.parquet as pq

    from hepsift.evaluate.sensitivity import load_test
    from hepsift.plots.datamc import datamc, datamc_numbers, stack_inputs

    root = Path(run_dir)
    test, yw, scores = load_test(root / "fits")
    table = pq.read_table(Path(data)).to_pydict()
    names = list(variables) or [f"score_{m}" for m in scores]
    target = Path(out)
    target.mkdir(parents=True, exist_ok=True)
    written = {}
    for var in names:
        if var.startswith("score_") and var[6:] in scores:
            mc_values = scores[var[6:]]
        elif var in test.feature_names:
            mc_values = test.X[:, test.feature_names.index(var)]
        else:
            have = [f"score_{m}" for m in scores] + list(test.feature_names)
            raise ConfigError(f"plot datamc: unknown variable '{var}'; have {', '.join(have)}")
        if var not in table:
            raise DataError(f"plot datamc: {data} has no column '{var}' (made by hepsift apply?)")
        rng = (blind or {}).get(var)
        if rng is None and var.startswith("score_"):
            rng = DEFAULT_SCORE_BLIND
        ids = test.sample if test.sample is not None else test.y
        mc = stack_inputs(mc_values, yw, ids, test.sample_names or test.class_names)
        numbers = datamc_numbers(mc, table[var], bins=bins, blind=None if unblind else rng)
        fig, (ax, rax) = plt.subplots(
            2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1], "hspace": 0.05}
        )
        datamc(numbers, xlabel=var, ax=ax, rax=rax)
        if rng is not None and not unblind:
            ax.axvspan(rng[0], rng[1], color="grey", alpha=0.15, label="blinded")
        path = target / f"datamc_{var}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written[var] = path
    return written
