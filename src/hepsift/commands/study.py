"""``hepsift study``: method comparisons built on the same layers as ``hepsift run``.

- ``hepsift study sets [CONFIG]`` — aggregation + BDT / MLP vs DeepSets (each pooling, with
  and without event features) vs the set kernel on the Higgs production modes (default config
  ``higgs-modes``; its ``objects:`` section, else photons 2, jets 4, leptons 2, MET), several
  seeds; ``--toy`` runs it on a synthetic five-mode toy (not physics).

Writes ``sets-study.json`` and PNG figures into ``--out`` and prints rich tables. Heavy imports
happen inside the command so that ``hepsift --version`` stays instant.
"""

from __future__ import annotations

from typing import Any

import typer

__all__ = ["register"]

#: the marker kind of a sets study's --out folder (see hepsift._outputs)
_OUT_KIND = "sets-study"


def _out_files() -> dict[str, Any]:
    from hepsift._outputs import json_with
    from hepsift.report.studies import SETS_FIGURES

    return {"sets-study.json": json_with("files"), **{f"{f}.png": None for f in SETS_FIGURES}}


def _ints(text: str, option: str) -> list[int]:
    from hepsift.errors import ConfigError

    out = []
    for item in text.split(","):
        try:
            out.append(int(item.strip()))
        except ValueError:
            raise ConfigError(f"{option}: {item[:40]!r} is not an integer (e.g. 1,2,3)") from None
    if not out or min(out) < 0:
        raise ConfigError(f"{option} needs integers >= 0 (e.g. 1,2,3); got {text[:40]!r}")
    return out


def _load(config: str, toy: bool, toy_events: int, overrides: list[str], log: Any) -> Any:
    """The dataset: the config's (with object inputs) or the toy's."""
    from hepsift.studies import sets

    if toy:
        return sets.toy_dataset(toy_events, seed=0)
    from hepsift.config import ObjectsConfig, load_config
    from hepsift.prepare import prepare_data

    cfg = load_config(config, overrides=overrides)
    if cfg.objects is None:
        cfg = cfg.model_copy(update={"objects": ObjectsConfig(collections=sets.DEFAULT_OBJECTS)})
    return prepare_data(cfg, log=log).dataset


def register(app: typer.Typer) -> None:
    """Add the ``study`` command group (``hepsift study sets``, ``hepsift study images``) to
    ``app``."""
    from hepsift.commands import images_study

    study = typer.Typer(
        name="study",
        help="Method comparisons: set models (aggregation, DeepSets, set kernel); a CNN on "
        "event images vs tables.",
        no_args_is_help=True,
    )
    app.add_typer(study, name="study")
    images_study.register(study)

    @study.command("sets")
    def sets_command(
        config: str = typer.Argument(
            "higgs-modes", help="Multi-class run config (name or YAML) of the five modes."
        ),
        toy: bool = typer.Option(False, "--toy", help="Synthetic five-mode toy (not physics)."),
        toy_events: int = typer.Option(300, "--toy-events", help="--toy: events per class."),
        seeds: str = typer.Option("1,2,3", "--seeds", help="Split/training seeds, e.g. 1,2,3."),
        models: str | None = typer.Option(
            None,
            "--models",
            help="Models compared (default all): bdt, mlp, deepsets-sum, deepsets-mean, "
            "deepsets-max, deepsets-attention, deepsets-attention-events, set-kernel.",
        ),
        kernel_events: int = typer.Option(
            2000, "--kernel-events", help="Set kernel: training events (subsample; N^2 memory)."
        ),
        threads: int = typer.Option(1, "--threads", help="Threads per model."),
        rate_events: int = typer.Option(
            20_000, "--rate-events", help="Events the inference rate is measured on."
        ),
        quick: bool = typer.Option(False, "--quick", help="Few epochs and trees."),
        out: str = typer.Option("sets-study", "--out", "-o", help="Output folder (JSON + PNG)."),
        force: bool = typer.Option(
            False, "--force", help="Write into --out even if it holds files hepsift did not write."
        ),
        overrides: list[str] | None = typer.Option(
            None, "--set", help="Override a config value: key.path=value (repeatable)."
        ),
    ) -> None:
        """Compare aggregation, DeepSets and the set kernel on the five production modes."""
        from hepsift._outputs import check_output_dir, claim_output_dir, unwritable
        from hepsift.commands._checks import check_count, check_out
        from hepsift.commands._rich import make_console
        from hepsift.report.studies import sets_tables, write_sets_study
        from hepsift.studies import sets

        console = make_console()

        def log(message: str) -> None:
            console.print(f"[dim]hepsift study sets:[/dim] {message}")

        for option, value in (
            ("--toy-events", toy_events),
            ("--kernel-events", kernel_events),
            ("--threads", threads),
            ("--rate-events", rate_events),
        ):
            check_count(value, option, minimum=2 if option == "--kernel-events" else 1)
        check_out(out)
        seed_list = _ints(seeds, "--seeds")
        contenders = sets.default_contenders(
            quick=quick, threads=threads, kernel_events=kernel_events
        )
        if models is not None:
            keys = [k.strip() for k in models.split(",") if k.strip()]
            contenders = sets.select_contenders(contenders, keys)
        check_output_dir(out, kind=_OUT_KIND, owned=_out_files(), force=force)
        ds = _load(config, toy, toy_events, overrides or [], log)
        log(f"{ds!r}; writing into {out}")
        result = sets.study(
            ds, contenders=contenders, seeds=seed_list, rate_events=rate_events, log=log
        )
        folder = claim_output_dir(out, kind=_OUT_KIND, owned=_out_files(), force=force)
        try:
            result["files"] = write_sets_study(result, folder)
        except OSError as exc:
            raise unwritable(exc, folder, "--out") from None
        for table in sets_tables(result):
            console.print(table)
        for name, path in result.get("files", {}).items():
            console.print(f"{name}: [bold]{path}[/bold]")
