"""``hepsift models``, ``hepsift tune`` and ``hepsift onnx``: the model layer from the shell.

- ``models [NAME]``: the registered model families, or one family's hyperparameters.
- ``tune CONFIG [--out DIR]``: an Optuna study over the YAML search space of CONFIG
  (:mod:`hepsift.tuning.tune`); writes ``best_params.json``, ``trials.json`` and the refit model.
- ``onnx MODEL_DIR OUT.onnx``: export a saved model (any family) to ONNX and check parity with
  ONNX Runtime on random inputs drawn around zero in the model's own units (a parametric model
  is checked at ``--param`` or, without it, at the centre of its training parameter values).

Heavy imports happen inside the command functions so the CLI starts at once.
"""

from __future__ import annotations

import math
from typing import Any

import typer

__all__ = ["register"]


def models_cmd(
    name: str | None = typer.Argument(None, help="a family: show its hyperparameters"),
) -> None:
    """List the model families, or the hyperparameters of NAME with their defaults."""
    from rich.markup import escape
    from rich.table import Table

    from hepsift.commands._rich import make_console
    from hepsift.extras import MissingExtraError
    from hepsift.models.registry import ANOMALY_DETECTORS, MODELS, hyperparameters, model_class

    console = make_console()
    if name is None:
        table = Table(title="model families (every one exports to ONNX)")
        table.add_column("name")
        table.add_column("class")
        table.add_column("inputs")
        table.add_column("eval_set")
        table.add_column("scales inputs")
        families = {**MODELS, **ANOMALY_DETECTORS}  # anomaly detectors: unsupervised runs
        for key in families:
            try:
                cls = model_class(key)
            except MissingExtraError as exc:  # listed, with the install line
                install = escape(str(exc).partition(": ")[2])
                table.add_row(key, f"{families[key]} ({install})", "")
                continue
            table.add_row(
                key,
                families[key],
                ", ".join(sorted(cls.inputs)),
                "yes" if cls.supports_eval_set else "",
                "yes" if cls.scales_inputs else "",
            )
        console.print(table)
        return
    from hepsift.models.params import PARAMS

    table = Table(title=f"hyperparameters of '{name}'")
    table.add_column("name")
    table.add_column("default")
    table.add_column("allowed")
    specs = PARAMS.get(name, {})
    for key, default in hyperparameters(name).items():
        spec = specs.get(key)
        table.add_row(key, escape(repr(default)), escape(spec.allowed) if spec else "")
    console.print(table)


def tune_cmd(
    config: str = typer.Argument(..., help="YAML tuning config (model, space, trials, data)"),
    out: str = typer.Option("tune-out", "--out", help="directory for the results"),
    force: bool = typer.Option(
        False, "--force", help="write into --out even if it holds files hepsift did not write"
    ),
) -> None:
    """Tune hyperparameters with Optuna (seeded TPE; median pruning for torch models).

    Objective: the weighted validation AUC. Trials with AUC exactly 0.5 are flagged (FAIL).
    Writes OUT/best_params.json, OUT/trials.json and, with refit, OUT/model.
    Relative paths in CONFIG are relative to CONFIG's folder.

    \b
    CONFIG (YAML):
      model: bdt                   # a classifier family (hepsift models)
      params: {n_jobs: 1}          # fixed hyperparameters (optional)
      space:                       # searched hyperparameters
        max_depth: {type: int, low: 2, high: 8}
        learning_rate: {type: float, low: 0.01, high: 0.3, log: true}
        n_estimators: {type: categorical, choices: [100, 300]}
      trials: 20                   # optional; also timeout_s, seed (default 0)
      data:
        path: train.parquet        # CSV or Parquet
        label: label               # integer class column
        weight: weight             # optional weight column
        features: ["f0", "f1", "f2"]
        validation_fraction: 0.25  # optional
        negative_weights: keep     # keep | abs | drop (training weights)
      refit: true                  # optional

    Every value is checked (types and ranges, per family) before the first trial.
    """
    from rich.table import Table

    from hepsift.commands._checks import check_out
    from hepsift.commands._rich import make_console
    from hepsift.tuning.tune import tune

    check_out(out)
    console = make_console()
    result = tune(config, out=out, force=force)
    table = Table(title=f"{result.model}: {len(result.trials)} trials, {result.n_pruned} pruned")
    table.add_column("trial", justify="right")
    table.add_column("state")
    table.add_column("validation AUC", justify="right")
    table.add_column("params")
    if result.n_flagged:
        table.caption = (
            f"{result.n_flagged} trial(s) flagged: validation AUC exactly 0.5 (no split "
            "possible), recorded as FAIL"
        )
    for t in sorted(result.trials, key=lambda t: -(t["value"] or 0.0))[:10]:
        auc = t.get("validation_auc")
        table.add_row(
            str(t["number"]),
            t["state"] + (" (flagged: AUC 0.5)" if t.get("flag") else ""),
            "-" if auc is None else f"{auc:.4f}",
            ", ".join(f"{k}={v}" for k, v in t["params"].items()),
        )
    console.print(table)
    console.print(f"best validation AUC {result.best_value:.4f} with {result.best_params}")
    console.print(f"results in {result.out}/ (best_params.json, trials.json)")


#: the parity check draws at most this many input values (events x features)
PARITY_VALUES = 10_000_000


def _written_by_hepsift(path: Any) -> bool:
    """True when ``path`` is an ONNX file carrying hepsift's stamp (``export.ONNX_STAMP``)."""
    try:
        import onnx

        from hepsift.export import ONNX_STAMP

        if path.stat().st_size > 2**31:
            return False
        proto = onnx.load(str(path), load_external_data=False)
    except Exception:  # anything unreadable is not ours
        return False
    return any((p.key, p.value) == ONNX_STAMP for p in proto.metadata_props)


def _parity_inputs(
    model: Any, model_dir: str, events: int, param: float | None, proto: Any
) -> tuple[Any, dict[str, Any], str]:
    """(X float32, extra inputs, a note on missing values) for the parity check, in the
    model's own units; a model that accepts NaN gets 10 % of its values missing. Object and
    image inputs are drawn with the shapes the ONNX graph declares (8 slots where free)."""
    import numpy as np

    n_features = int(model.n_features_in_)
    per_event = max(1, n_features) + _extra_values_per_event(proto)
    n = max(1, min(events, PARITY_VALUES // per_event))
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, n_features))
    if hasattr(model, "scaler_") and n_features:  # draw inputs in the model's own units
        X = model.scaler_.inverse_transform(X)
    missing = ""
    if model.accepts_nan():  # the graph must treat missing values as the model does
        X[rng.random(X.shape) < 0.1] = np.nan
        missing = ", 10 % of the values missing (NaN)"
    inputs: dict[str, Any] = {}
    if model.parametric:
        value = param if param is not None else getattr(model, "param_center_", None)
        if value is None:  # the pNN has its training masses' centre
            from hepsift.errors import ConfigError

            raise ConfigError(f"'{model_dir}' is a parametric model: pass --param VALUE")
        inputs["param"] = float(value)
    shapes = _graph_input_shapes(proto, n)
    if "objects" in model.inputs and "values" in shapes and "mask" in shapes:
        values = rng.normal(size=shapes["values"]).astype(np.float32)
        mask = rng.random(shapes["mask"]) < 0.7  # some absent slots, some empty events
        inputs["objects"] = (values, mask)
    if "images" in model.inputs and "images" in shapes:
        inputs["images"] = rng.exponential(size=shapes["images"]).astype(np.float32)
    return X.astype(np.float32), inputs, missing


def _graph_input_shapes(proto: Any, n: int) -> dict[str, tuple[int, ...]]:
    """Shapes of the graph's inputs with ``n`` events (a free axis other than the first: 8)."""
    shapes: dict[str, tuple[int, ...]] = {}
    for inp in proto.graph.input:
        dims = inp.type.tensor_type.shape.dim
        shape = [n] + [d.dim_value if d.dim_value > 0 else 8 for d in list(dims)[1:]]
        shapes[inp.name] = tuple(shape)
    return shapes


def _extra_values_per_event(proto: Any) -> int:
    """Values per event of the graph's inputs beyond the first (object slots, image pixels)."""
    total = 0
    for name, shape in _graph_input_shapes(proto, 1).items():
        if name != proto.graph.input[0].name:
            total += math.prod(shape[1:]) if len(shape) > 1 else 1
    return total


def onnx_cmd(
    model_dir: str = typer.Argument(..., help="a model directory written by save()"),
    output: str = typer.Argument(..., help="the ONNX file to write"),
    events: int = typer.Option(1000, "--events", help="events for the parity check"),
    atol: float = typer.Option(1e-5, "--atol", help="largest allowed |score difference|"),
    param: float | None = typer.Option(
        None, "--param", help="parameter value (e.g. mass in GeV) for a parametric model"
    ),
    force: bool = typer.Option(
        False, "--force", help="replace OUTPUT even if hepsift did not write it"
    ),
) -> None:
    """Export a saved model to ONNX and check ONNX Runtime against the model.

    OUTPUT appears only when the export and the parity check succeed; an existing OUTPUT that
    ``hepsift onnx`` did not write is refused unless --force.
    """
    from pathlib import Path

    from hepsift._files import atomic_write_with
    from hepsift._outputs import check_output_file, unwritable
    from hepsift.commands._checks import check_count, check_out
    from hepsift.commands._rich import make_console
    from hepsift.export import check_parity, onnx_proto_of, save_onnx
    from hepsift.models import load

    check_out(output, "OUTPUT", folder=False)
    check_count(events, "--events")
    if not atol > 0:
        from hepsift.errors import ConfigError

        raise ConfigError(f"--atol must be a number > 0; got {atol}")
    target = check_output_file(output, owned=_written_by_hepsift, force=force, option="OUTPUT")
    model = load(model_dir)
    proto = onnx_proto_of(model)
    X, inputs, missing = _parity_inputs(model, model_dir, events, param, proto)
    diffs: list[float] = []

    def write(tmp: Path) -> None:
        save_onnx(proto, tmp)
        diffs.append(check_parity(model, tmp, X, atol=atol, **inputs))

    try:
        path = atomic_write_with(target, write, suffix=".onnx")
    except OSError as exc:
        raise unwritable(exc, target, "OUTPUT") from None
    make_console().print(
        f"wrote {path}; parity on {len(X)} events{missing}: "
        f"max |diff| = {diffs[0]:.2e} (<= {atol:g})"
    )


def register(app: typer.Typer) -> None:
    """Add the ``models``, ``tune`` and ``onnx`` commands to ``app``."""
    app.command("models")(models_cmd)
    app.command("tune")(tune_cmd)
    app.command("onnx")(onnx_cmd)
