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

from typing import Any

import typer

__all__ = ["register"]


def models_cmd(
    name: str | None = typer.Argument(None, help="a family: show its hyperparameters"),
) -> None:
    """List the model families, or the hyperparameters of NAME with their defaults."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from hepsift.extras import MissingExtraError
    from hepsift.models.registry import MODELS, hyperparameters, model_class

    console = Console(highlight=False)
    if name is None:
        table = Table(title="model families (every one exports to ONNX)")
        table.add_column("name")
        table.add_column("class")
        table.add_column("inputs")
        table.add_column("eval_set")
        table.add_column("scales inputs")
        for key in MODELS:
            try:
                cls = model_class(key)
            except MissingExtraError as exc:  # listed, with the install line
                install = escape(str(exc).partition(": ")[2])
                table.add_row(key, f"{MODELS[key]} ({install})", "")
                continue
            table.add_row(
                key,
                MODELS[key],
                ", ".join(sorted(cls.inputs)),
                "yes" if cls.supports_eval_set else "",
                "yes" if cls.scales_inputs else "",
            )
        console.print(table)
        return
    table = Table(title=f"hyperparameters of '{name}'")
    table.add_column("name")
    table.add_column("default")
    for key, default in hyperparameters(name).items():
        table.add_row(key, repr(default))
    console.print(table)


def tune_cmd(
    config: str = typer.Argument(..., help="YAML tuning config (model, space, trials, data)"),
    out: str = typer.Option("tune-out", "--out", help="directory for the results"),
    force: bool = typer.Option(
        False, "--force", help="write into --out even if it holds files hepsift did not write"
    ),
) -> None:
    """Tune hyperparameters with Optuna (seeded TPE; median pruning for torch models)."""
    from rich.console import Console
    from rich.table import Table

    from hepsift.tuning.tune import tune

    console = Console(highlight=False)
    result = tune(config, out=out, force=force)
    table = Table(title=f"{result.model}: {len(result.trials)} trials, {result.n_pruned} pruned")
    table.add_column("trial", justify="right")
    table.add_column("state")
    table.add_column("validation AUC", justify="right")
    table.add_column("params")
    for t in sorted(result.trials, key=lambda t: -(t["value"] or 0.0))[:10]:
        table.add_row(
            str(t["number"]),
            t["state"],
            "-" if t["value"] is None else f"{t['value']:.4f}",
            ", ".join(f"{k}={v}" for k, v in t["params"].items()),
        )
    console.print(table)
    console.print(f"best validation AUC {result.best_value:.4f} with {result.best_params}")
    console.print(f"results in {result.out}/ (best_params.json, trials.json)")


#: the metadata entry that marks an ONNX file ``hepsift onnx`` wrote (and may replace)
ONNX_STAMP = ("written_by", "hepsift")
#: the parity check draws at most this many input values (events x features)
PARITY_VALUES = 10_000_000


def _written_by_hepsift(path: Any) -> bool:
    """True when ``path`` is an ONNX file carrying :data:`ONNX_STAMP`."""
    try:
        import onnx

        if path.stat().st_size > 2**31:
            return False
        proto = onnx.load(str(path), load_external_data=False)
    except Exception:  # anything unreadable is not ours
        return False
    return any((p.key, p.value) == ONNX_STAMP for p in proto.metadata_props)


def _parity_inputs(model: Any, model_dir: str, events: int, param: float | None) -> Any:
    """(X float32, extra inputs) for the parity check, in the model's own units."""
    import numpy as np

    n_features = int(model.n_features_in_)
    n = max(1, min(events, PARITY_VALUES // n_features))
    X = np.random.default_rng(0).normal(size=(n, n_features))
    if hasattr(model, "scaler_"):  # draw inputs in the model's own units
        X = model.scaler_.inverse_transform(X)
    inputs: dict[str, float] = {}
    if model.parametric:
        value = param if param is not None else getattr(model, "param_center_", None)
        if value is None:  # the pNN has its training masses' centre
            from hepsift.errors import ConfigError

            raise ConfigError(f"'{model_dir}' is a parametric model: pass --param VALUE")
        inputs["param"] = float(value)
    return X.astype(np.float32), inputs


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

    from rich.console import Console

    from hepsift._files import atomic_write_with
    from hepsift._outputs import check_output_file, unwritable
    from hepsift.export import check_parity, onnx_proto_of, save_onnx
    from hepsift.models import load

    target = check_output_file(output, owned=_written_by_hepsift, force=force, option="OUTPUT")
    model = load(model_dir)
    X, inputs = _parity_inputs(model, model_dir, events, param)
    proto = onnx_proto_of(model)
    if not any(p.key == ONNX_STAMP[0] for p in proto.metadata_props):
        entry = proto.metadata_props.add()
        entry.key, entry.value = ONNX_STAMP
    diffs: list[float] = []

    def write(tmp: Path) -> None:
        save_onnx(proto, tmp)
        diffs.append(check_parity(model, tmp, X, atol=atol, **inputs))

    try:
        path = atomic_write_with(target, write, suffix=".onnx")
    except OSError as exc:
        raise unwritable(exc, target, "OUTPUT") from None
    Console(highlight=False).print(
        f"wrote {path}; parity on {len(X)} events: max |diff| = {diffs[0]:.2e} (<= {atol:g})"
    )


def register(app: typer.Typer) -> None:
    """Add the ``models``, ``tune`` and ``onnx`` commands to ``app``."""
    app.command("models")(models_cmd)
    app.command("tune")(tune_cmd)
    app.command("onnx")(onnx_cmd)
